/* conn.c - authenticated, framed connections on libevent (see conn.h).
 *
 * Lifetime: a callback may close the very connection it runs on, so every
 * entry from libevent counts itself in c->busy and the memory is released
 * only when the outermost entry returns (conn_release).
 */
#include "conn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "auth.h"
#include "authq.h"
#include "frame.h"
#include "log.h"

enum conn_state {
	ST_CONNECTING,      /* client: TCP connect in progress */
	ST_AWAIT_CHALLENGE, /* client */
	ST_AWAIT_HELLO,     /* server */
	ST_AWAIT_WELCOME,   /* client */
	ST_AUTHENTICATING,  /* server: the Hello is being checked off the loop */
	ST_READY,
	ST_CLOSING, /* flushing output, then freed */
	ST_DEAD,
};

struct conn {
	struct conn_cfg cfg;
	const struct conn_ops *ops;
	void *arg;
	struct bufferevent *bev;
	struct event *timer;
	enum conn_state st;
	bool client;
	int busy;
	int idle_ms;
	uint8_t snonce[AUTH_NONCE_LEN];
	uint8_t cnonce[AUTH_NONCE_LEN];
	uid_t uid;
	gid_t gid;
	pid_t pid; /* conn_local only */
	char user[64];
	uint64_t peer_epoch;
	char peer[96];
	struct conn *lprev, *lnext; /* every live connection */
};

static struct conn *live;

static void conn_free(struct conn *c)
{
	if (c->lprev)
		c->lprev->lnext = c->lnext;
	else if (live == c)
		live = c->lnext;
	if (c->lnext)
		c->lnext->lprev = c->lprev;
	if (c->timer)
		event_free(c->timer);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
}

/* Leave a libevent entry point; free C if it died meanwhile. */
static void conn_release(struct conn *c)
{
	if (--c->busy == 0 && c->st == ST_DEAD)
		conn_free(c);
}

/* End C for a reason of the peer's or the network's making.  The accepting
 * side logs a failed handshake, and a protocol violation (VIOLATION) at any
 * time: after the handshake the owner logs only ordinary ends. */
static void conn_end(struct conn *c, bool violation, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void conn_end(struct conn *c, bool violation, const char *fmt, va_list ap)
{
	if (c->st == ST_DEAD)
		return;
	char why[256];
	vsnprintf(why, sizeof(why), fmt, ap);
	bool was_ready = c->st == ST_READY || c->st == ST_CLOSING;
	c->st = ST_DEAD;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	if (!c->client && !was_ready)
		log_warn("dropped connection from %s: %s", c->peer, why);
	else if (!c->client && violation)
		log_warn("dropped connection from %s (uid %u): %s", c->peer, (unsigned)c->uid, why);
	if (c->ops->closed)
		c->ops->closed(c, why, c->arg);
}

static void conn_fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_fail(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_end(c, false, fmt, ap);
	va_end(ap);
}

/* The peer sent what no Pacer peer sends. */
static void conn_violation(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void conn_violation(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	conn_end(c, true, fmt, ap);
	va_end(ap);
}

static void arm_timer(struct conn *c, int ms)
{
	if (ms <= 0) {
		evtimer_del(c->timer);
		return;
	}
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	c->busy++;
	if (c->st == ST_READY)
		conn_fail(c, "idle for %d ms", c->idle_ms);
	else if (c->st == ST_CLOSING)
		c->st = ST_DEAD; /* the peer does not read what we flush */
	else
		conn_fail(c, "handshake not finished within %d ms", c->cfg.handshake_ms);
	conn_release(c);
}

static void free_frame(const void *data, size_t len, void *extra)
{
	(void)len;
	(void)extra;
	free((void *)data);
}

int conn_send(struct conn *c, Pacer__Msg *msg)
{
	if (c->st == ST_DEAD || c->st == ST_CLOSING) {
		errno = EPIPE;
		return -1;
	}
	uint8_t *buf;
	size_t len;
	if (frame_pack(msg, FRAME_MAX_REPLY, &buf, &len) < 0) {
		log_err("cannot send %s to %s: %s", frame_type_name(msg->body_case), c->peer,
			strerror(errno));
		return -1;
	}
	/* Hand the buffer to libevent instead of copying: queue listings can be
	 * megabytes. */
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (evbuffer_add_reference(out, buf, len, free_frame, NULL) < 0) {
		free(buf);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int conn_send_error(struct conn *c, uint32_t seq, int code, const char *fmt, ...)
{
	char text[1024]; /* a refused submit names each of its partitions */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	Pacer__Error e = PACER__ERROR__INIT;
	e.code = code;
	e.message = text;
	Pacer__Msg m = PACER__MSG__INIT;
	m.seq = seq;
	m.body_case = PACER__MSG__BODY_ERROR;
	m.error = &e;
	return conn_send(c, &m);
}

/* Handshake steps ---------------------------------------------------------*/

static void send_challenge(struct conn *c)
{
	Pacer__Challenge ch = PACER__CHALLENGE__INIT;
	ch.nonce.data = c->snonce;
	ch.nonce.len = AUTH_NONCE_LEN;
	ch.cluster = (char *)c->cfg.cluster;
	ch.service = (char *)c->cfg.service;
	ch.epoch = c->cfg.epoch;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_CHALLENGE;
	m.challenge = &ch;
	conn_send(c, &m);
}

/* The service name a mutual Welcome credential is bound to: distinct from
 * the Hello's, so a Hello credential can never be reflected back as one. */
static void welcome_service(const struct conn *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s.welcome", c->cfg.service);
}

static void become_ready(struct conn *c)
{
	c->st = ST_READY;
	arm_timer(c, c->idle_ms);
}

/* End a connection whose Hello the accepting side refused, once the Error
 * queued for the peer is flushed.  The owner hears of it through closed(), as
 * of any end it did not ask for: it may hold memory for the connection. */
static void refuse_close(struct conn *c, const char *why)
{
	conn_close(c, true);
	if (c->ops->closed)
		c->ops->closed(c, why, c->arg);
}

static void on_read(struct bufferevent *bev, void *arg);

/* The Hello was checked: refuse the peer, or let the owner judge it and
 * welcome it.  Frames that came in meanwhile are handled after. */
static void hello_checked(struct conn *c, struct authq_job *job)
{
	char err[256];
	if (job->rc < 0) {
		if (job->reply_failed) {
			log_err("cannot prove ourselves to %s: %s", c->peer, job->err);
			conn_send_error(c, 0, EIO, "server cannot authenticate: %s", job->err);
		} else {
			conn_send_error(c, 0, EACCES, "authentication failed: %s", job->err);
			log_warn("refused connection from %s: %s", c->peer, job->err);
		}
		refuse_close(c, job->err);
		return;
	}
	c->uid = job->uid;
	c->gid = job->gid;
	snprintf(c->user, sizeof(c->user), "%s", job->user);
	/* Everything that can fail was done before ready(), so a connection the
	 * owner accepts always reaches READY. */
	if (c->ops->ready && c->ops->ready(c, c->arg, err, sizeof(err)) < 0) {
		conn_send_error(c, 0, EACCES, "%s", err);
		log_warn("refused connection from %s (uid %u): %s", c->peer, (unsigned)c->uid, err);
		refuse_close(c, err);
		return;
	}
	Pacer__Welcome w = PACER__WELCOME__INIT;
	w.epoch = c->cfg.epoch;
	w.uid = c->uid;
	w.cred = job->reply_cred;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_WELCOME;
	m.welcome = &w;
	conn_send(c, &m);
	become_ready(c);
}

/* Back on the loop from the authq. */
static void hello_done(struct authq_job *job, void *arg)
{
	struct conn *c = arg;
	if (c->st == ST_AUTHENTICATING) {
		hello_checked(c, job);
		/* A client may send its request right behind its Hello. */
		if (c->st == ST_READY)
			on_read(c->bev, c);
	}
	authq_job_free(job);
	conn_release(c);
}

static void on_hello(struct conn *c, const Pacer__Hello *h)
{
	if (h->nonce.len != AUTH_NONCE_LEN || !h->cred) {
		conn_fail(c, "malformed hello");
		return;
	}
	memcpy(c->cnonce, h->nonce.data, AUTH_NONCE_LEN);
	struct authq_job *job = calloc(1, sizeof(*job));
	if (!job || !(job->cred = strdup(h->cred))) {
		free(job);
		conn_fail(c, "out of memory");
		return;
	}
	snprintf(job->cluster, sizeof(job->cluster), "%s", c->cfg.cluster);
	snprintf(job->service, sizeof(job->service), "%s", c->cfg.service);
	if (c->cfg.mutual)
		welcome_service(c, job->reply_service, sizeof(job->reply_service));
	memcpy(job->snonce, c->snonce, AUTH_NONCE_LEN);
	memcpy(job->cnonce, c->cnonce, AUTH_NONCE_LEN);
	job->done = hello_done;
	job->arg = c;
	c->st = ST_AUTHENTICATING;
	c->busy++; /* held until hello_done, whatever happens meanwhile */
	if (c->cfg.authq) {
		authq_submit(c->cfg.authq, job);
	} else {
		authq_run(c->cfg.auth, job);
		hello_done(job, c);
	}
}

static void on_challenge(struct conn *c, const Pacer__Challenge *ch)
{
	char err[256];
	if (ch->nonce.len != AUTH_NONCE_LEN || strcmp(ch->cluster, c->cfg.cluster) != 0 ||
	    strcmp(ch->service, c->cfg.service) != 0) {
		conn_fail(c, "peer is not %s of cluster %s (it says %s of %s)", c->cfg.service,
			  c->cfg.cluster, ch->service, ch->cluster);
		return;
	}
	memcpy(c->snonce, ch->nonce.data, AUTH_NONCE_LEN);
	c->peer_epoch = ch->epoch;
	char *cred = NULL;
	if (auth_nonce(c->cnonce) < 0 ||
	    auth_encode(c->cfg.auth, c->cfg.cluster, c->cfg.service, c->snonce, c->cnonce, &cred,
			err, sizeof(err)) < 0) {
		conn_fail(c, "%s", err);
		return;
	}
	Pacer__Hello h = PACER__HELLO__INIT;
	h.cred = cred;
	h.nonce.data = c->cnonce;
	h.nonce.len = AUTH_NONCE_LEN;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_HELLO;
	m.hello = &h;
	conn_send(c, &m);
	free(cred);
	c->st = ST_AWAIT_WELCOME;
}

static void on_welcome(struct conn *c, const Pacer__Welcome *w)
{
	char err[256];
	c->peer_epoch = w->epoch;
	if (c->cfg.mutual) {
		char svc[128];
		welcome_service(c, svc, sizeof(svc));
		if (!w->cred || !*w->cred) {
			conn_fail(c, "peer did not prove who it is");
			return;
		}
		if (auth_decode(c->cfg.auth, w->cred, c->cfg.cluster, svc, c->snonce, c->cnonce,
				&c->uid, &c->gid, err, sizeof(err)) < 0) {
			conn_fail(c, "peer's credential refused: %s", err);
			return;
		}
	}
	if (c->ops->ready && c->ops->ready(c, c->arg, err, sizeof(err)) < 0) {
		conn_fail(c, "%s", err);
		return;
	}
	become_ready(c);
}

static void dispatch(struct conn *c, Pacer__Msg *m)
{
	switch (c->st) {
	case ST_AWAIT_HELLO:
		if (m->body_case == PACER__MSG__BODY_HELLO)
			on_hello(c, m->hello);
		else
			conn_fail(c, "expected hello, got %s", frame_type_name(m->body_case));
		break;
	case ST_AWAIT_CHALLENGE:
		if (m->body_case == PACER__MSG__BODY_CHALLENGE)
			on_challenge(c, m->challenge);
		else
			conn_fail(c, "expected challenge, got %s", frame_type_name(m->body_case));
		break;
	case ST_AWAIT_WELCOME:
		if (m->body_case == PACER__MSG__BODY_WELCOME)
			on_welcome(c, m->welcome);
		else if (m->body_case == PACER__MSG__BODY_ERROR)
			conn_fail(c, "refused: %s", m->error->message);
		else
			conn_fail(c, "expected welcome, got %s", frame_type_name(m->body_case));
		break;
	case ST_READY:
		arm_timer(c, c->idle_ms);
		c->ops->msg(c, m, c->arg);
		break;
	default: break;
	}
}

/* libevent callbacks ------------------------------------------------------*/

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	c->busy++;
	/* libevent may deliver the peer's first bytes before it reports the
	 * connection as made. */
	if (c->st == ST_CONNECTING)
		c->st = ST_AWAIT_CHALLENGE;
	/* While a Hello is checked, later frames wait in the buffer. */
	while (c->st != ST_DEAD && c->st != ST_CLOSING && c->st != ST_AUTHENTICATING) {
		size_t avail = evbuffer_get_length(in);
		uint8_t hdr[FRAME_HEADER];
		uint32_t len;
		if (avail < FRAME_HEADER)
			break;
		evbuffer_copyout(in, hdr, FRAME_HEADER);
		if (frame_length(hdr, c->cfg.max_frame, &len) < 0) {
			conn_violation(c,
				       "frame of %u bytes refused (limit %zu): not a pacer peer?",
				       (unsigned)hdr[0] << 24 | (unsigned)hdr[1] << 16 |
					   (unsigned)hdr[2] << 8 | hdr[3],
				       c->cfg.max_frame);
			break;
		}
		if (avail < FRAME_HEADER + (size_t)len)
			break;
		uint8_t *p = evbuffer_pullup(in, FRAME_HEADER + (ssize_t)len);
		Pacer__Msg *m = p ? frame_unpack(p + FRAME_HEADER, len) : NULL;
		int saved = errno;
		evbuffer_drain(in, FRAME_HEADER + (size_t)len);
		if (!m) {
			conn_violation(c, "%s",
				       saved == EPROTO ? "unknown message type or version"
						       : "malformed message");
			break;
		}
		dispatch(c, m);
		pacer__msg__free_unpacked(m, NULL);
	}
	conn_release(c);
}

static void on_write_drained(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (c->st != ST_CLOSING)
		return;
	c->busy++;
	c->st = ST_DEAD;
	conn_release(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	c->busy++;
	if (what & BEV_EVENT_CONNECTED) {
		int one = 1;
		setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (c->st == ST_CONNECTING)
			c->st = ST_AWAIT_CHALLENGE;
	} else if (c->st == ST_CLOSING) {
		c->st = ST_DEAD; /* the peer left while we flushed: nothing to tell */
	} else if (what & BEV_EVENT_EOF) {
		conn_fail(c, "closed by peer");
	} else if (what & BEV_EVENT_ERROR) {
		int e = EVUTIL_SOCKET_ERROR();
		conn_fail(c, "%s", e ? strerror(e) : "connection error");
	}
	conn_release(c);
}

/* Set-up -------------------------------------------------------------------*/

static struct conn *conn_new(const struct conn_cfg *cfg, int fd, const struct conn_ops *ops,
			     void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->ops = ops;
	c->arg = arg;
	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	c->pid = -1;
	c->bev = bufferevent_socket_new(cfg->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(cfg->base, on_timer, c);
	if (!c->bev || !c->timer) {
		conn_free(c);
		errno = ENOMEM;
		return NULL;
	}
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	c->lnext = live;
	if (live)
		live->lprev = c;
	live = c;
	return c;
}

struct conn *conn_accept(const struct conn_cfg *cfg, int fd, const char *peer,
			 const struct conn_ops *ops, void *arg)
{
	evutil_make_socket_nonblocking(fd);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct conn *c = conn_new(cfg, fd, ops, arg);
	if (!c) {
		close(fd);
		return NULL;
	}
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->st = ST_AWAIT_HELLO;
	if (auth_nonce(c->snonce) < 0) {
		conn_free(c);
		return NULL;
	}
	send_challenge(c);
	arm_timer(c, cfg->handshake_ms);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

struct conn *conn_connect(const struct conn_cfg *cfg, const char *host, uint16_t port,
			  const struct conn_ops *ops, void *arg)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	/* Addresses come from pacer.conf and are numeric or in /etc/hosts in
	 * practice, so this lookup does not stall the loop in a real way. */
	int rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc != 0) {
		log_err("cannot resolve %s: %s", host, gai_strerror(rc));
		errno = EHOSTUNREACH;
		return NULL;
	}
	struct conn *c = conn_new(cfg, -1, ops, arg);
	if (!c) {
		freeaddrinfo(ai);
		return NULL;
	}
	c->client = true;
	c->st = ST_CONNECTING;
	snprintf(c->peer, sizeof(c->peer), "%s:%u", host, (unsigned)port);
	int crc = bufferevent_socket_connect(c->bev, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (crc < 0) {
		conn_free(c);
		errno = ECONNREFUSED;
		return NULL;
	}
	arm_timer(c, cfg->handshake_ms);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

struct conn *conn_local(const struct conn_cfg *cfg, int fd, const char *peer,
			const struct conn_ops *ops, void *arg)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	evutil_make_socket_nonblocking(fd);
	struct conn *c = conn_new(cfg, fd, ops, arg);
	if (!c) {
		close(fd);
		return NULL;
	}
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	become_ready(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

pid_t conn_pid(const struct conn *c)
{
	return c->pid;
}

void conn_close(struct conn *c, bool flush)
{
	if (c->st == ST_DEAD || c->st == ST_CLOSING)
		return;
	bufferevent_disable(c->bev, EV_READ);
	if (flush && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
		/* Free once the output drained; a peer that never reads is cut off
		 * by the timer. */
		c->st = ST_CLOSING;
		bufferevent_setcb(c->bev, NULL, on_write_drained, on_event, c);
		arm_timer(c, 10000);
		return;
	}
	c->st = ST_DEAD;
	if (c->busy == 0)
		conn_free(c);
}

uid_t conn_uid(const struct conn *c)
{
	return c->uid;
}
const char *conn_user(const struct conn *c)
{
	return c->user;
}
gid_t conn_gid(const struct conn *c)
{
	return c->gid;
}
const char *conn_peer(const struct conn *c)
{
	return c->peer;
}
uint64_t conn_peer_epoch(const struct conn *c)
{
	return c->peer_epoch;
}
bool conn_is_ready(const struct conn *c)
{
	return c->st == ST_READY;
}
void conn_set_arg(struct conn *c, void *arg)
{
	c->arg = arg;
}
size_t conn_pending_output(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void conn_set_idle_timeout(struct conn *c, int ms)
{
	c->idle_ms = ms;
	if (c->st == ST_READY)
		arm_timer(c, ms);
}

void conn_close_all(void)
{
	while (live) {
		struct conn *c = live;
		bool tell = c->st != ST_DEAD && c->st != ST_CLOSING;
		c->st = ST_DEAD;
		c->busy = 0;
		if (tell && c->ops->closed)
			c->ops->closed(c, "shutting down", c->arg);
		conn_free(c);
	}
}
