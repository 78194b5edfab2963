/* client.c - connect, authenticate, ask, and wait for the answer. */
#include "client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "frame.h"
#include "timefmt.h"

/* A Challenge or a Welcome is tiny; refuse anything big before auth. */
#define HANDSHAKE_MAX (64u << 10)
/* PACER_TIMEOUT above a day is surely a typo. */
#define TIMEOUT_MAX_S 86400

/* How a failed attempt on one controller counts. */
enum failure {
	FAIL_UNREACHABLE, /* nothing answered there: try the next one */
	FAIL_REFUSED,     /* something answered but no welcome: try the next one */
	FAIL_FATAL,       /* no other controller can help (munge is not working) */
};

int client_timeout_ms(const char *env, int *ms, char *err, size_t errlen)
{
	long v = 0;

	if (!env || !*env) {
		*ms = CLIENT_TIMEOUT_S * 1000;
		return 0;
	}
	for (const char *p = env; *p; p++) {
		if (*p < '0' || *p > '9' || v > TIMEOUT_MAX_S) {
			v = -1;
			break;
		}
		v = v * 10 + (*p - '0');
	}
	if (v <= 0 || v > TIMEOUT_MAX_S) {
		snprintf(err, errlen,
			 "PACER_TIMEOUT='%s' is not a number of seconds from 1 to %d "
			 "(unset it for the default of %d)",
			 env, TIMEOUT_MAX_S, CLIENT_TIMEOUT_S);
		errno = EINVAL;
		return -1;
	}
	*ms = (int)v * 1000;
	return 0;
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = timefmt_monotonic_ms();

	return now >= deadline ? 0 : (int)(deadline - now);
}

static int wait_connected(int fd, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int rc, soerr = 0;
	socklen_t len = sizeof(soerr);

	do {
		rc = poll(&p, 1, remaining_ms(deadline));
	} while (rc < 0 && errno == EINTR);
	if (rc == 0)
		errno = ETIMEDOUT;
	if (rc <= 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -1;
	if (soerr) {
		errno = soerr;
		return -1;
	}
	return 0;
}

/* A connected, non-blocking socket to A within TIMEOUT_MS, or -1 with
 * errno and ERR saying why. */
static int connect_addr(const struct conf_addr *a, int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	uint64_t deadline = timefmt_monotonic_ms() + (uint64_t)timeout_ms;
	char port[8];
	int fd = -1, saved = ECONNREFUSED, rc, one = 1;

	snprintf(port, sizeof(port), "%u", a->port);
	rc = getaddrinfo(a->host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve host name: %s",
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		errno = EHOSTUNREACH;
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_connected(fd, deadline) == 0))
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (saved == ETIMEDOUT)
			snprintf(err, errlen, "no answer within %d s", timeout_ms / 1000);
		else
			snprintf(err, errlen, "%s", strerror(saved));
		errno = saved;
		return -1;
	}
	/* One small request, one reply: Nagle would only add latency. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* "host:port", IPv6 literals in brackets. */
static void addr_name(const struct conf_addr *a, char *buf, size_t size)
{
	if (strchr(a->host, ':'))
		snprintf(buf, size, "[%s]:%u", a->host, a->port);
	else
		snprintf(buf, size, "%s:%u", a->host, a->port);
}

/* Describe a failed frame read or write on a controller connection; HINT
 * (or a default) says what to do about it. */
static void io_error(int errnum, const char *addr, const char *doing, const char *hint, char *err,
		     size_t errlen)
{
	const char *what;

	switch (errnum) {
	case ETIMEDOUT:
		what = "did not answer";
		hint = hint ? hint : "it may be overloaded; see its log";
		break;
	case ECONNRESET:
	case EPIPE:
		what = "closed the connection";
		hint = hint ? hint : "see its log";
		break;
	case EPROTO:
		what = "speaks another protocol version";
		hint = "use a pacer command of the same release as pacerctld";
		break;
	case EBADMSG:
	case EMSGSIZE:
		what = "sent a garbled message";
		hint = "is that address really pacerctld?";
		break;
	default: what = strerror(errnum); hint = hint ? hint : "see its log";
	}
	snprintf(err, errlen, "controller at %s: %s while %s (%s)", addr, what, doing, hint);
	errno = errnum;
}

/* The message of an Error reply, never empty. */
static void error_reply(const Pacer__Msg *m, const char *addr, char *err, size_t errlen)
{
	const Pacer__Error *e = m->error;

	if (e && e->message && *e->message)
		snprintf(err, errlen, "%s", e->message);
	else
		snprintf(err, errlen, "controller at %s refused the request: %s", addr,
			 strerror(e && e->code > 0 ? e->code : EIO));
	errno = e && e->code > 0 ? e->code : EIO;
}

static int check_challenge(const Pacer__Msg *m, const struct conf *conf, const char *addr,
			   char *err, size_t errlen)
{
	const Pacer__Challenge *c = m->challenge;

	if (m->body_case == PACER__MSG__BODY_ERROR) {
		error_reply(m, addr, err, errlen);
		return -1;
	}
	errno = EPROTO;
	if (m->body_case != PACER__MSG__BODY_CHALLENGE || !c) {
		snprintf(err, errlen,
			 "controller at %s opened with a %s message instead of a "
			 "challenge (is that address really pacerctld?)",
			 addr, frame_type_name(m->body_case));
		return -1;
	}
	if (!c->service || strcmp(c->service, "ctld") != 0) {
		snprintf(err, errlen,
			 "%s is a '%s' service, not a controller (check controllers "
			 "in %s)",
			 addr, c->service ? c->service : "", conf->path);
		return -1;
	}
	if (!c->cluster || strcmp(c->cluster, conf->cluster) != 0) {
		snprintf(err, errlen,
			 "controller at %s serves cluster '%s', not '%s' (check name "
			 "and controllers in %s)",
			 addr, c->cluster ? c->cluster : "", conf->cluster, conf->path);
		return -1;
	}
	if (c->nonce.len != AUTH_NONCE_LEN) {
		snprintf(err, errlen,
			 "controller at %s sent a %zu-byte challenge, not %d (is it "
			 "the same release?)",
			 addr, c->nonce.len, AUTH_NONCE_LEN);
		return -1;
	}
	return 0;
}

/* Read the Challenge, answer with a Hello and REQ in one write, read the
 * Welcome.  A controller that refuses the Hello never reads REQ, so only
 * then (FAIL_REFUSED) may the caller try another controller; once REQ may
 * have been taken (FAIL_FATAL after the write) it must not. */
static int handshake(int fd, const struct conf *conf, struct auth *auth, const char *addr,
		     Pacer__Msg *req, enum failure *kind, char *err, size_t errlen)
{
	Pacer__Msg *m = NULL, out = PACER__MSG__INIT;
	Pacer__Hello hello = PACER__HELLO__INIT;
	uint8_t cnonce[AUTH_NONCE_LEN];
	char *cred = NULL;
	int rc = -1;

	*kind = FAIL_REFUSED;
	if (frame_read_fd(fd, HANDSHAKE_MAX, &m, CLIENT_HANDSHAKE_MS) < 0) {
		io_error(errno, addr, "sending its challenge", NULL, err, errlen);
		return -1;
	}
	if (check_challenge(m, conf, addr, err, errlen) < 0)
		goto done;
	*kind = FAIL_FATAL;
	if (auth_nonce(cnonce) < 0) {
		snprintf(err, errlen, "cannot get random bytes: %s", strerror(errno));
		goto done;
	}
	if (auth_encode(auth, conf->cluster, "ctld", m->challenge->nonce.data, cnonce, &cred, err,
			errlen) < 0) {
		if (errno == ECONNREFUSED) {
			size_t n = strlen(err);
			snprintf(err + n, errlen - n,
				 " (start munged, or set munge_socket in %s "
				 "to where it listens)",
				 conf->path);
		}
		goto done;
	}
	hello.cred = cred;
	hello.nonce.data = cnonce;
	hello.nonce.len = sizeof(cnonce);
	out.body_case = PACER__MSG__BODY_HELLO;
	out.hello = &hello;
	pacer__msg__free_unpacked(m, NULL);
	m = NULL;
	req->seq = 1;
	*kind = FAIL_FATAL;
	if (frame_write2_fd(fd, &out, req, CLIENT_HANDSHAKE_MS) < 0 ||
	    frame_read_fd(fd, HANDSHAKE_MAX, &m, CLIENT_HANDSHAKE_MS) < 0) {
		io_error(errno, addr, "checking our credential",
			 "the request may or may not "
			 "have been done: check with pacer queue",
			 err, errlen);
		goto done;
	}
	if (m->body_case == PACER__MSG__BODY_ERROR) {
		*kind = FAIL_REFUSED;
		error_reply(m, addr, err, errlen);
		goto done;
	}
	if (m->body_case != PACER__MSG__BODY_WELCOME) {
		snprintf(err, errlen,
			 "controller at %s answered our credential with a %s message "
			 "instead of a welcome",
			 addr, frame_type_name(m->body_case));
		errno = EPROTO;
		goto done;
	}
	rc = 0;
done:
	if (m)
		pacer__msg__free_unpacked(m, NULL);
	free(cred);
	return rc;
}

/* Read the reply to the request sent with the Hello. */
static int request(int fd, int timeout_ms, const char *addr, Pacer__Msg **reply, char *err,
		   size_t errlen)
{
	uint64_t deadline = timefmt_monotonic_ms() + (uint64_t)timeout_ms;
	Pacer__Msg *m = NULL;

	if (frame_read_fd(fd, FRAME_MAX_REPLY, &m, remaining_ms(deadline)) < 0) {
		int saved = errno;
		if (saved != ETIMEDOUT)
			io_error(saved, addr, "working on the request",
				 "it may or may not have "
				 "been done: check with pacer queue",
				 err, errlen);
		else
			snprintf(err, errlen,
				 "no reply from controller at %s within %d s (it may "
				 "be busy: set PACER_TIMEOUT=SECONDS to wait longer)",
				 addr, timeout_ms / 1000);
		errno = saved;
		return -1;
	}
	if (m->body_case == PACER__MSG__BODY_ERROR) {
		error_reply(m, addr, err, errlen);
		goto failed;
	}
	if (m->seq != 1) {
		snprintf(err, errlen, "controller at %s answered request %u, not ours", addr,
			 m->seq);
		errno = EPROTO;
		goto failed;
	}
	*reply = m;
	return 0;

failed:;
	int saved = errno;
	pacer__msg__free_unpacked(m, NULL);
	errno = saved;
	return -1;
}

/* Add "SEP ADDR: WHY" to the list of controllers that could not be reached. */
static void append(char *buf, size_t size, const char *sep, const char *addr, const char *why)
{
	size_t n = strlen(buf);

	if (n < size)
		snprintf(buf + n, size - n, "%s%s: %s", sep, addr, why);
}

/* Try each controller in turn until one accepts the connection.  With
 * KEEP, the connection is handed back in *KEEP with the reply unread. */
static int call(const struct conf *conf, struct auth *auth, Pacer__Msg *req, int timeout_ms,
		Pacer__Msg **reply, int *keep, char *err, size_t errlen)
{
	char unreachable[1024] = "", refused[512] = "", why[512], addr[300];
	int unreachable_errno = ECONNREFUSED, refused_errno = 0;

	for (size_t i = 0; i < conf->ncontrollers; i++) {
		enum failure kind = FAIL_UNREACHABLE;
		int fd;

		addr_name(&conf->controllers[i], addr, sizeof(addr));
		fd = connect_addr(&conf->controllers[i], CLIENT_CONNECT_MS, why, sizeof(why));
		if (fd >= 0 && handshake(fd, conf, auth, addr, req, &kind, why, sizeof(why)) == 0) {
			/* Past this point the request may have been applied: never
			 * send it to a second controller. */
			if (keep) {
				*keep = fd;
				return 0;
			}
			int rc = request(fd, timeout_ms, addr, reply, err, errlen);
			int saved = errno;
			close(fd);
			errno = saved;
			return rc;
		}
		int saved = errno;
		if (fd >= 0)
			close(fd);
		if (kind == FAIL_FATAL) {
			snprintf(err, errlen, "%s", why);
			errno = saved;
			return -1;
		}
		if (kind == FAIL_REFUSED && !refused[0]) {
			snprintf(refused, sizeof(refused), "%s", why);
			refused_errno = saved;
		} else if (kind == FAIL_UNREACHABLE) {
			append(unreachable, sizeof(unreachable), unreachable[0] ? "; " : "", addr,
			       why);
			unreachable_errno = saved;
		}
	}
	/* What a controller said matters most; the dead ones are context. */
	if (refused[0] && unreachable[0])
		snprintf(err, errlen, "%s; and cannot reach controller at %s", refused,
			 unreachable);
	else if (refused[0])
		snprintf(err, errlen, "%s", refused);
	else
		snprintf(err, errlen,
			 "cannot reach controller at %s (is pacerctld running? check "
			 "controllers in %s)",
			 unreachable, conf->path);
	errno = refused[0] ? refused_errno : unreachable_errno;
	return -1;
}

static int call_with(const struct conf *conf, Pacer__Msg *req, int timeout_ms, Pacer__Msg **reply,
		     int *keep, char *err, size_t errlen)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	struct auth *auth;
	int rc, saved;

	if (conf->ncontrollers == 0) {
		snprintf(err, errlen,
			 "no controllers in %s (add controllers = HOST[:PORT] to its "
			 "[cluster] section)",
			 conf->path);
		errno = EINVAL;
		return -1;
	}
	if (pacer__msg__get_packed_size(req) > FRAME_MAX_REQUEST) {
		snprintf(err, errlen, "the request is larger than the %u MiB a controller accepts",
			 FRAME_MAX_REQUEST >> 20);
		errno = E2BIG;
		return -1;
	}
	auth = auth_create(conf->munge_socket);
	if (!auth) {
		snprintf(err, errlen, "cannot set up munge: %s", strerror(errno));
		return -1;
	}
	/* A controller closing on us must be an error message, not SIGPIPE. */
	sigaction(SIGPIPE, &ign, &old);
	rc = call(conf, auth, req, timeout_ms, reply, keep, err, errlen);
	saved = errno;
	sigaction(SIGPIPE, &old, NULL);
	auth_destroy(auth);
	errno = saved;
	return rc;
}

int client_call(const struct conf *conf, Pacer__Msg *req, int timeout_ms, Pacer__Msg **reply,
		char *err, size_t errlen)
{
	return call_with(conf, req, timeout_ms, reply, NULL, err, errlen);
}

int client_start(const struct conf *conf, Pacer__Msg *req, int *fd, char *err, size_t errlen)
{
	return call_with(conf, req, 0, NULL, fd, err, errlen);
}

int client_read_reply(int fd, int timeout_ms, Pacer__Msg **reply, char *err, size_t errlen)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int rc, saved;

	sigaction(SIGPIPE, &ign, &old);
	rc = request(fd, timeout_ms, "the controller", reply, err, errlen);
	saved = errno;
	sigaction(SIGPIPE, &old, NULL);
	errno = saved;
	return rc;
}
