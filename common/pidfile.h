/* pidfile.h - a daemon's pid file, written so no reader sees it half done.
 *
 * Scripts (contrib/local-cluster, systemd's PIDFile=, the tests) read the
 * file at any moment to learn whether the daemon lives.  Truncating and
 * writing in place leaves an instant in which the file is empty, and a
 * reader then takes a running daemon for dead; the pid is written to a
 * temporary file beside it and renamed over it instead.
 */
#ifndef PACER_PIDFILE_H
#define PACER_PIDFILE_H

/* Write this process's pid to PATH, replacing it in one step.  0 or -1
 * with errno (PATH is then left as it was). */
int pidfile_write(const char *path);

#endif
