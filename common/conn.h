/* conn.h - an authenticated, framed connection on a libevent loop.
 *
 * Both daemons talk through this: frames (frame.h) over a bufferevent, with
 * the munge handshake of auth.h done before the first message is handed up:
 *
 *   accepting side               connecting side
 *   Challenge{nonce S} ------->
 *                      <------- Hello{cred(S, C), nonce C}
 *   Welcome{cred'(S, C)} ----->  (cred' only when mutual)
 *
 * Garbage, oversized frames, unknown message types, a refused credential or
 * a handshake that does not finish in time close the connection with a log
 * line naming the peer; the daemon carries on.
 */
#ifndef PACER_CONN_H
#define PACER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pacer.pb-c.h"

struct event_base;
struct auth;
struct authq;
struct conn;

struct conn_cfg {
	struct event_base *base;
	struct auth *auth;
	const char *cluster;
	const char *service; /* the accepting side's service: "ctld" or "noded" */
	uint64_t epoch;      /* accepting side: our epoch, sent to the peer */
	size_t max_frame;    /* largest frame taken from the peer */
	int handshake_ms;    /* the handshake must finish within this */
	bool mutual;         /* the accepting side proves itself too */
	struct authq *authq; /* accepting side: check Hellos off the loop
			      * (NULL: on the loop, for tools and tests) */
};

struct conn_ops {
	/* The peer proved who it is (conn_uid).  Return 0 to go on, or -1 to
	 * refuse: the connection is closed after an Error with ERR is sent. */
	int (*ready)(struct conn *c, void *arg, char *err, size_t errlen);
	/* One message after the handshake; it is freed when this returns. */
	void (*msg)(struct conn *c, Pacer__Msg *msg, void *arg);
	/* The connection ended (WHY says how), a refused handshake included;
	 * C is freed after this returns.  Not called for conn_close(). */
	void (*closed)(struct conn *c, const char *why, void *arg);
};

/* Take over the accepted socket FD (from PEER, "host:port" for logs) and
 * send the Challenge.  NULL with errno on failure (FD is closed). */
struct conn *conn_accept(const struct conn_cfg *cfg, int fd, const char *peer,
			 const struct conn_ops *ops, void *arg);

/* Connect to HOST:PORT and run the handshake.  Failure to connect is
 * reported through ops->closed.  NULL with errno when nothing could start. */
struct conn *conn_connect(const struct conn_cfg *cfg, const char *host, uint16_t port,
			  const struct conn_ops *ops, void *arg);

/* Take over FD, a connected unix socket (or one end of a socket pair), to a
 * peer on this machine: no munge handshake, the kernel says who the peer is
 * (SO_PEERCRED: conn_uid, conn_gid), and the connection is ready at once
 * (ops->ready is not called: the caller checks conn_uid itself).  Only
 * cfg->base, max_frame and idle time matter.  PEER names it in logs.  NULL
 * with errno (FD is closed). */
struct conn *conn_local(const struct conn_cfg *cfg, int fd, const char *peer,
			const struct conn_ops *ops, void *arg);

/* The peer's pid, on a connection made by conn_local; -1 otherwise. */
pid_t conn_pid(const struct conn *c);

/* Queue MSG (version set here).  0 or -1 with errno.  Safe on a connection
 * that is closing: the message is then dropped. */
int conn_send(struct conn *c, Pacer__Msg *msg);

/* Queue an Error{code, message} reply to request SEQ. */
int conn_send_error(struct conn *c, uint32_t seq, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Close and free C now (or as soon as the callback running on it returns).
 * Queued output is flushed first when FLUSH is true. */
void conn_close(struct conn *c, bool flush);

/* Free every connection still open, at daemon exit once the loop stopped;
 * ops->closed is called for each ("shutting down") so owners free theirs. */
void conn_close_all(void);

uid_t conn_uid(const struct conn *c);
/* The peer's user name (accepting side, once ready; the uid as a number when
 * the name service has none). */
const char *conn_user(const struct conn *c);
gid_t conn_gid(const struct conn *c);
const char *conn_peer(const struct conn *c);
/* The epoch the accepting side announced (connecting side only). */
uint64_t conn_peer_epoch(const struct conn *c);
bool conn_is_ready(const struct conn *c);

/* Change the argument handed to the callbacks. */
void conn_set_arg(struct conn *c, void *arg);

/* Close the connection when nothing arrives for MS milliseconds (0 = never). */
void conn_set_idle_timeout(struct conn *c, int ms);

/* Bytes queued but not yet written to the socket. */
size_t conn_pending_output(const struct conn *c);

#endif
