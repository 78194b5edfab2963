/* unixsock.h - unix stream sockets named by paths of any length.
 *
 * sun_path holds 108 bytes, and a node's spool directory may lie deeper than
 * that (test trees do).  A path that does not fit is reached through a
 * descriptor of its directory, as /proc/self/fd/N/NAME, so only the last
 * component has to be short.  Every descriptor returned is close-on-exec.
 */
#ifndef PACER_UNIXSOCK_H
#define PACER_UNIXSOCK_H

/* Bind a listening socket at PATH, reachable by its owner only (0700; the
 * directory's mode may narrow that further).  A file already there is replaced only when it is a
 * socket nobody answers on (left by a process that died); a live one is EADDRINUSE. The fd, or -1
 * with errno. */
int unixsock_listen(const char *path, int backlog);

/* Connect to the socket at PATH.  Unix sockets connect at once: this never
 * waits for a peer.  The fd (blocking), or -1 with errno (ENOENT: no
 * socket, ECONNREFUSED: nobody listens). */
int unixsock_connect(const char *path);

#endif
