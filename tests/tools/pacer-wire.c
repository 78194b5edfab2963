/* pacer-wire - a deliberately misbehaving Pacer peer, for integration tests.
 *
 *   pacer-wire [-w SECONDS] COMMAND HOST PORT [CLUSTER SERVICE SOCKET]
 *
 * Each command talks to the daemon listening at HOST:PORT (pacerctld's
 * client port or a pacernoded's port) the wrong way, and checks that the
 * daemon drops the connection:
 *
 *   garbage     bytes that are not a frame (an HTTP request and more)
 *   oversize    a header claiming one byte more than FRAME_MAX_REQUEST
 *   zero        a header claiming an empty body
 *   truncated   a valid header, half the body, then end of input
 *   badproto    a well-sized frame whose body is not a protobuf Msg
 *   version     a well-formed Hello in a Msg of version 99
 *   slowloris   read the Challenge, then send nothing at all
 *   unknown     finish the handshake (CLUSTER SERVICE SOCKET), then send a
 *               Msg whose body is a field number Pacer does not define
 *   replay      finish a handshake, then send that same Hello (credential
 *               and nonce) on a new connection
 *   wrongnonce  a fresh credential bound to a nonce other than the server's
 *
 * They print what happened and exit 0 when the daemon behaved (closed the
 * connection, with or without an Error), 1 when it did not (it answered as
 * if all was well, or kept the connection open for -w seconds, default 30),
 * 2 when the test itself could not run (no connection, munge failed...).
 *
 *   hello       a normal handshake with a credential made for CLUSTER and
 *               SERVICE by the munged at SOCKET; prints "welcome uid=N" and
 *               exits 0, or "refused: MESSAGE" and exits 1 (2: other errors)
 *
 *   send ... FILE  finish the handshake, then send FILE as it is: one whole
 *               frame, 4-byte header included (as tests/fuzz/reproducers
 *               holds them); prints the answer ("server sent submit-reply
 *               job_id=N", "server sent error N: MESSAGE") and exits 0 when
 *               the daemon answered, 1 when it did not (closed, or silent
 *               for -w seconds)
 *
 * A node daemon that sends what a real one never would:
 *
 *   pacer-wire [-w SECONDS] -n NAME -t FILE node HOST PORT CLUSTER noded SOCKET
 *               listen at HOST:PORT (a configured node's address, its daemon
 *               stopped), take the controller's connection, prove itself as
 *               a node daemon does and register as NAME with FILE's bytes as
 *               the topology (FILE is the wire form: see deflate).  Prints
 *               "registered" and exits 0 when the controller acknowledges,
 *               "refused: MESSAGE" and exits 1 when it refuses (2: other
 *               errors, or no controller within -w seconds)
 *   pacer-wire deflate FILE
 *               FILE zlib-compressed on stdout, as a node sends its topology
 *
 * Every connection prints "local ADDR:PORT", the address the daemon logs
 * for it, so a test can find the daemon's log line about that connection.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "auth.h"
#include "frame.h"
#include "timefmt.h"

enum { OK = 0, MISBEHAVED = 1, BROKEN = 2 };

#define IO_MS              10000 /* for steps the daemon must answer at once */
#define HANDSHAKE_READ_MAX (1u << 16)

static int wait_s = 30; /* how long a daemon may take to drop us */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pacer-wire [-w SECONDS] COMMAND HOST PORT [CLUSTER SERVICE SOCKET [FILE]]\n"
		"\n"
		"Commands (HOST PORT only): garbage oversize zero truncated badproto version\n"
		"slowloris.  With CLUSTER SERVICE SOCKET: unknown replay wrongnonce hello,\n"
		"and with -n NAME -t FILE: node (listen at HOST:PORT as node NAME and\n"
		"register with topology FILE).  With CLUSTER SERVICE SOCKET FILE: send (FILE\n"
		"is one whole frame).  pacer-wire deflate FILE: FILE compressed.\n"
		"Exit 0: the daemon dropped the bad connection (hello: welcomed; send:\n"
		"answered); 1: it did not (hello: refused; send: no answer); 2: the test\n"
		"could not run.\n");
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pacer-wire: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(BROKEN);
}

/* A connected blocking socket; prints "local ADDR:PORT". */
static int dial(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res, *ai;
	int fd = -1, rc, one = 1, saved = 0;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		die("cannot resolve %s: %s", host, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		die("cannot connect to %s:%s: %s", host, port, strerror(saved));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char h[NI_MAXHOST], s[NI_MAXSERV];
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), s, sizeof(s),
			NI_NUMERICHOST | NI_NUMERICSERV) == 0)
		printf("local %s:%s\n", h, s);
	fflush(stdout);
	return fd;
}

/* Write everything; a daemon that hangs up midway is not an error here
 * (it may well drop us before we finish): say so and return -1. */
static int send_raw(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			printf("write stopped: %s\n", strerror(errno));
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void put_header(uint8_t *b, uint32_t n)
{
	b[0] = (uint8_t)(n >> 24);
	b[1] = (uint8_t)(n >> 16);
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
}

/* Pack MSG as is (its version untouched, unlike frame_pack), with EXTRA
 * raw bytes appended to the body; malloc'd frame in *BUF. */
static size_t pack_raw(Pacer__Msg *msg, const uint8_t *extra, size_t nextra, uint8_t **buf)
{
	size_t body = pacer__msg__get_packed_size(msg) + nextra;
	uint8_t *b = malloc(FRAME_HEADER + body);
	if (!b)
		die("out of memory");
	put_header(b, (uint32_t)body);
	size_t n = pacer__msg__pack(msg, b + FRAME_HEADER);
	if (nextra)
		memcpy(b + FRAME_HEADER + n, extra, nextra);
	*buf = b;
	return FRAME_HEADER + body;
}

/* Print M; before the handshake anything but a Challenge or an Error means
 * the daemon took bad input as valid (*BAD set).  After it (AUTHED) the
 * daemon may well have talked first (a node daemon registers with a new
 * root peer at once), so only the close counts. */
static void describe(const Pacer__Msg *m, bool authed, int *bad)
{
	switch (m->body_case) {
	case PACER__MSG__BODY_CHALLENGE:
		printf("server sent challenge (cluster=%s service=%s)\n", m->challenge->cluster,
		       m->challenge->service);
		break;
	case PACER__MSG__BODY_ERROR:
		printf("server sent error %d: %s\n", m->error->code, m->error->message);
		break;
	default:
		if (authed) {
			printf("server sent %s\n", frame_type_name(m->body_case));
		} else {
			printf("server sent %s: it took the bad input as valid\n",
			       frame_type_name(m->body_case));
			*bad = 1;
		}
		break;
	}
}

/* Read until the daemon closes the connection (OK) or WAIT_S passes
 * (MISBEHAVED); print every frame it sent meanwhile (see describe). */
static int expect_close(int fd, bool authed)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	uint64_t deadline = timefmt_monotonic_ms() + (uint64_t)wait_s * 1000;
	int closed = 0, bad = 0;

	for (;;) {
		uint64_t now = timefmt_monotonic_ms();
		if (now >= deadline)
			break;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int rc = poll(&p, 1, (int)(deadline - now));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			break;
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if (cap > (64u << 20))
				die("the daemon sent more than 64 MiB without closing");
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			closed = 1;
			break;
		}
		if (n < 0)
			die("read: %s", strerror(errno));
		len += (size_t)n;
	}
	/* What the daemon said before it hung up. */
	size_t off = 0;
	while (len - off >= FRAME_HEADER) {
		uint32_t n;
		if (frame_length(buf + off, FRAME_MAX_REPLY, &n) < 0 ||
		    len - off - FRAME_HEADER < n) {
			printf("server sent %zu bytes that are not a whole frame\n", len - off);
			bad = 1;
			break;
		}
		Pacer__Msg *m = pacer__msg__unpack(NULL, n, buf + off + FRAME_HEADER);
		if (!m) {
			printf("server sent a frame that is not a Msg\n");
			bad = 1;
		} else {
			describe(m, authed, &bad);
			pacer__msg__free_unpacked(m, NULL);
		}
		off += FRAME_HEADER + n;
	}
	free(buf);
	if (closed)
		printf("server closed the connection\n");
	else
		printf("server kept the connection open for %d s\n", wait_s);
	fflush(stdout);
	return closed && !bad ? OK : MISBEHAVED;
}

/* The Challenge every daemon sends first; its nonce in NONCE. */
static void read_challenge(int fd, uint8_t nonce[AUTH_NONCE_LEN])
{
	Pacer__Msg *m = NULL;
	if (frame_read_fd(fd, HANDSHAKE_READ_MAX, &m, IO_MS) < 0)
		die("no challenge from the daemon: %s", strerror(errno));
	if (m->body_case != PACER__MSG__BODY_CHALLENGE || m->challenge->nonce.len != AUTH_NONCE_LEN)
		die("the daemon's first message is %s, not a challenge",
		    frame_type_name(m->body_case));
	printf("challenge cluster=%s service=%s\n", m->challenge->cluster, m->challenge->service);
	memcpy(nonce, m->challenge->nonce.data, AUTH_NONCE_LEN);
	pacer__msg__free_unpacked(m, NULL);
}

static void send_hello(int fd, const char *cred, const uint8_t cnonce[AUTH_NONCE_LEN])
{
	Pacer__Hello h = PACER__HELLO__INIT;
	Pacer__Msg m = PACER__MSG__INIT;
	h.cred = (char *)cred;
	h.nonce.data = (uint8_t *)cnonce;
	h.nonce.len = AUTH_NONCE_LEN;
	m.body_case = PACER__MSG__BODY_HELLO;
	m.hello = &h;
	if (frame_write_fd(fd, &m, IO_MS) < 0)
		die("cannot send hello: %s", strerror(errno));
}

/* The daemon's answer to a Hello: 0 welcome (uid in *UID), 1 refused (the
 * message printed), 2 anything else. */
static int read_verdict(int fd, uint32_t *uid)
{
	Pacer__Msg *m = NULL;
	if (frame_read_fd(fd, HANDSHAKE_READ_MAX, &m, IO_MS) < 0) {
		if (errno == ECONNRESET) {
			printf("refused: connection closed without a word\n");
			return 1;
		}
		printf("no answer to hello: %s\n", strerror(errno));
		return BROKEN;
	}
	int rc = BROKEN;
	if (m->body_case == PACER__MSG__BODY_WELCOME) {
		*uid = m->welcome->uid;
		printf("welcome uid=%u\n", (unsigned)*uid);
		rc = 0;
	} else if (m->body_case == PACER__MSG__BODY_ERROR) {
		printf("refused: %s\n", m->error->message);
		rc = 1;
	} else {
		printf("unexpected %s after hello\n", frame_type_name(m->body_case));
	}
	pacer__msg__free_unpacked(m, NULL);
	fflush(stdout);
	return rc;
}

struct who {
	const char *cluster, *service, *socket;
	struct auth *auth;
};

static char *make_cred(struct who *w, const uint8_t snonce[AUTH_NONCE_LEN],
		       const uint8_t cnonce[AUTH_NONCE_LEN])
{
	char err[512], *cred = NULL;
	if (auth_encode(w->auth, w->cluster, w->service, snonce, cnonce, &cred, err, sizeof(err)) <
	    0)
		die("%s", err);
	return cred;
}

/* A whole handshake on FD; the verdict as read_verdict, the Hello's
 * credential and nonce kept in *CRED and CNONCE. */
static int handshake(int fd, struct who *w, char **cred, uint8_t cnonce[AUTH_NONCE_LEN],
		     uint32_t *uid)
{
	uint8_t snonce[AUTH_NONCE_LEN];
	read_challenge(fd, snonce);
	if (auth_nonce(cnonce) < 0)
		die("no random bytes: %s", strerror(errno));
	*cred = make_cred(w, snonce, cnonce);
	send_hello(fd, *cred, cnonce);
	return read_verdict(fd, uid);
}

/* Commands without a credential -------------------------------------------*/

static int cmd_garbage(int fd)
{
	/* What a stray HTTP client or port scanner sends, then bytes from a
	 * fixed-seed generator: the first four bytes read as a length far above
	 * any limit, so the daemon must refuse at once. */
	static const char http[] = "GET / HTTP/1.1\r\nHost: pacer\r\n\r\n";
	uint8_t buf[4096];
	uint32_t x = 2463534242u;
	memcpy(buf, http, sizeof(http) - 1);
	for (size_t i = sizeof(http) - 1; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	printf("sending %zu bytes of garbage\n", sizeof(buf));
	send_raw(fd, buf, sizeof(buf));
	return expect_close(fd, false);
}

static int cmd_header(int fd, uint32_t n)
{
	uint8_t hdr[FRAME_HEADER + 16];
	put_header(hdr, n);
	memset(hdr + FRAME_HEADER, 0, 16);
	printf("sending a header claiming %u bytes\n", (unsigned)n);
	send_raw(fd, hdr, sizeof(hdr));
	return expect_close(fd, false);
}

static int cmd_truncated(int fd)
{
	uint8_t snonce[AUTH_NONCE_LEN];
	read_challenge(fd, snonce);
	/* A Hello with a long credential, cut in the middle. */
	char cred[200];
	memset(cred, 'M', sizeof(cred) - 1);
	cred[sizeof(cred) - 1] = '\0';
	Pacer__Hello h = PACER__HELLO__INIT;
	Pacer__Msg m = PACER__MSG__INIT;
	h.cred = cred;
	h.nonce.data = snonce;
	h.nonce.len = AUTH_NONCE_LEN;
	m.version = PACER_PROTO_VERSION;
	m.body_case = PACER__MSG__BODY_HELLO;
	m.hello = &h;
	uint8_t *buf;
	size_t len = pack_raw(&m, NULL, 0, &buf);
	size_t half = FRAME_HEADER + (len - FRAME_HEADER) / 2;
	printf("sending %zu of the %zu bytes of a frame, then end of input\n", half, len);
	send_raw(fd, buf, half);
	free(buf);
	shutdown(fd, SHUT_WR);
	return expect_close(fd, false);
}

static int cmd_badproto(int fd)
{
	uint8_t snonce[AUTH_NONCE_LEN];
	read_challenge(fd, snonce);
	/* Field 1 with wire type 7 (there is none), then an endless varint. */
	uint8_t buf[FRAME_HEADER + 64];
	buf[FRAME_HEADER] = 0x0f;
	memset(buf + FRAME_HEADER + 1, 0xff, sizeof(buf) - FRAME_HEADER - 1);
	put_header(buf, sizeof(buf) - FRAME_HEADER);
	printf("sending a frame of %zu bytes that is not a protobuf message\n",
	       sizeof(buf) - FRAME_HEADER);
	send_raw(fd, buf, sizeof(buf));
	return expect_close(fd, false);
}

static int cmd_version(int fd)
{
	uint8_t snonce[AUTH_NONCE_LEN];
	read_challenge(fd, snonce);
	Pacer__Hello h = PACER__HELLO__INIT;
	Pacer__Msg m = PACER__MSG__INIT;
	h.cred = (char *)"not-a-credential";
	h.nonce.data = snonce;
	h.nonce.len = AUTH_NONCE_LEN;
	m.version = 99;
	m.body_case = PACER__MSG__BODY_HELLO;
	m.hello = &h;
	uint8_t *buf;
	size_t len = pack_raw(&m, NULL, 0, &buf);
	printf("sending a hello of protocol version 99\n");
	send_raw(fd, buf, len);
	free(buf);
	return expect_close(fd, false);
}

static int cmd_slowloris(int fd)
{
	uint8_t snonce[AUTH_NONCE_LEN];
	read_challenge(fd, snonce);
	printf("sending nothing\n");
	return expect_close(fd, false);
}

/* Commands with a credential ----------------------------------------------*/

static int cmd_unknown(int fd, struct who *w)
{
	char *cred;
	uint8_t cnonce[AUTH_NONCE_LEN];
	uint32_t uid;
	int v = handshake(fd, w, &cred, cnonce, &uid);
	free(cred);
	if (v != 0)
		die("the handshake must succeed before the unknown message is sent");
	/* Msg{version 1, seq 7} and field 99, length-delimited, 3 bytes: a body
	 * type from a future protocol. */
	static const uint8_t field99[] = { 0x9a, 0x06, 0x03, 'x', 'y', 'z' };
	Pacer__Msg m = PACER__MSG__INIT;
	m.version = PACER_PROTO_VERSION;
	m.seq = 7;
	uint8_t *buf;
	size_t len = pack_raw(&m, field99, sizeof(field99), &buf);
	printf("sending a message of unknown type (field 99)\n");
	send_raw(fd, buf, len);
	free(buf);
	return expect_close(fd, true);
}

static int cmd_replay(const char *host, const char *port, struct who *w)
{
	char *cred;
	uint8_t cnonce[AUTH_NONCE_LEN], snonce[AUTH_NONCE_LEN];
	uint32_t uid;
	int fd = dial(host, port);
	if (handshake(fd, w, &cred, cnonce, &uid) != 0)
		die("the first handshake must succeed: its credential is the one replayed");
	close(fd);

	fd = dial(host, port);
	read_challenge(fd, snonce);
	printf("sending the first connection's hello again\n");
	send_hello(fd, cred, cnonce);
	free(cred);
	int rc = expect_close(fd, false);
	close(fd);
	return rc;
}

static int cmd_wrongnonce(int fd, struct who *w)
{
	uint8_t snonce[AUTH_NONCE_LEN], other[AUTH_NONCE_LEN], cnonce[AUTH_NONCE_LEN];
	read_challenge(fd, snonce);
	if (auth_nonce(other) < 0 || auth_nonce(cnonce) < 0)
		die("no random bytes: %s", strerror(errno));
	char *cred = make_cred(w, other, cnonce);
	printf("sending a fresh credential bound to another server nonce\n");
	send_hello(fd, cred, cnonce);
	free(cred);
	return expect_close(fd, false);
}

static int cmd_hello(int fd, struct who *w)
{
	char *cred;
	uint8_t cnonce[AUTH_NONCE_LEN];
	uint32_t uid;
	int rc = handshake(fd, w, &cred, cnonce, &uid);
	free(cred);
	return rc;
}

/* A fake node daemon ------------------------------------------------------*/

/* FILE's bytes, malloc'd; the length in *LEN. */
static uint8_t *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0;

	if (!f)
		die("cannot open %s: %s", path, strerror(errno));
	*len = 0;
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > (64u << 20))
				die("%s is larger than 64 MiB", path);
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		size_t n = fread(buf + *len, 1, cap - *len, f);
		if (n == 0)
			break;
		*len += n;
	}
	fclose(f);
	return buf;
}

static int cmd_deflate(const char *path)
{
	size_t len;
	uint8_t *xml = read_whole(path, &len);
	uLongf zl = compressBound((uLong)len);
	Bytef *z = malloc(zl);
	if (!z || compress2(z, &zl, xml, (uLong)len, Z_BEST_COMPRESSION) != Z_OK)
		die("cannot compress %s", path);
	if (fwrite(z, 1, zl, stdout) != zl || fflush(stdout) != 0)
		die("cannot write: %s", strerror(errno));
	free(z);
	free(xml);
	return OK;
}

/* The controller's connection to HOST:PORT, within wait_s. */
static int accept_one(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	int one = 1, rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		die("cannot resolve %s: %s", host, gai_strerror(rc));
	int lfd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (lfd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, res->ai_addr, res->ai_addrlen) < 0 || listen(lfd, 4) < 0)
		die("cannot listen at %s:%s: %s", host, port, strerror(errno));
	freeaddrinfo(res);
	printf("listening at %s:%s\n", host, port);
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, wait_s * 1000) <= 0)
		die("no controller connected within %d s", wait_s);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept: %s", strerror(errno));
	close(lfd);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void send_msg(int fd, Pacer__Msg *m)
{
	if (frame_write_fd(fd, m, IO_MS) < 0)
		die("cannot send %s: %s", frame_type_name(m->body_case), strerror(errno));
}

/* The accepting side of the handshake, mutual, as a node daemon does it. */
static void handshake_as_node(int fd, struct who *w)
{
	uint8_t snonce[AUTH_NONCE_LEN], cnonce[AUTH_NONCE_LEN];
	char err[512], svc[128], *cred = NULL;
	uid_t uid;
	gid_t gid;

	if (auth_nonce(snonce) < 0)
		die("no random bytes: %s", strerror(errno));
	Pacer__Challenge ch = PACER__CHALLENGE__INIT;
	ch.nonce.data = snonce;
	ch.nonce.len = AUTH_NONCE_LEN;
	ch.cluster = (char *)w->cluster;
	ch.service = (char *)w->service;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_CHALLENGE;
	m.challenge = &ch;
	send_msg(fd, &m);

	Pacer__Msg *in = NULL;
	if (frame_read_fd(fd, HANDSHAKE_READ_MAX, &in, IO_MS) < 0)
		die("no hello from the controller: %s", strerror(errno));
	if (in->body_case != PACER__MSG__BODY_HELLO || !in->hello->cred ||
	    in->hello->nonce.len != AUTH_NONCE_LEN)
		die("the controller sent %s, not a hello", frame_type_name(in->body_case));
	memcpy(cnonce, in->hello->nonce.data, AUTH_NONCE_LEN);
	if (auth_decode(w->auth, in->hello->cred, w->cluster, w->service, snonce, cnonce, &uid,
			&gid, err, sizeof(err)) < 0)
		die("the controller's credential: %s", err);
	pacer__msg__free_unpacked(in, NULL);
	snprintf(svc, sizeof(svc), "%s.welcome", w->service);
	if (auth_encode(w->auth, w->cluster, svc, snonce, cnonce, &cred, err, sizeof(err)) < 0)
		die("%s", err);
	Pacer__Welcome wel = PACER__WELCOME__INIT;
	wel.uid = (uint32_t)uid;
	wel.cred = cred;
	m = (Pacer__Msg)PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_WELCOME;
	m.welcome = &wel;
	send_msg(fd, &m);
	free(cred);
	printf("controller connected (uid %u)\n", (unsigned)uid);
}

static int cmd_node(const char *host, const char *port, struct who *w, const char *name,
		    const char *topo_file)
{
	size_t len;
	uint8_t *topo = read_whole(topo_file, &len);
	int fd = accept_one(host, port);
	handshake_as_node(fd, w);

	Pacer__NodeRegister r = PACER__NODE_REGISTER__INIT;
	r.name = (char *)name;
	r.boot_id = "pacer-wire";
	r.daemon_id = "pacer-wire";
	r.hostname = "pacer-wire";
	r.version = PACER_VERSION;
	r.topology.data = topo;
	r.topology.len = len;
	r.topology_hash = "";
	r.topology_source = (char *)topo_file;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_NODE_REGISTER;
	m.node_register = &r;
	send_msg(fd, &m);
	printf("registered as %s with %zu bytes of topology\n", name, len);
	free(topo);

	/* The verdict may take the controller a while: it checks the topology. */
	uint64_t deadline = timefmt_monotonic_ms() + (uint64_t)wait_s * 1000;
	int rc = BROKEN;
	for (;;) {
		uint64_t now = timefmt_monotonic_ms();
		Pacer__Msg *in = NULL;
		if (now >= deadline) {
			printf("no answer to the registration within %d s\n", wait_s);
			break;
		}
		if (frame_read_fd(fd, FRAME_MAX_REQUEST, &in, (int)(deadline - now)) < 0) {
			if (errno == ETIMEDOUT)
				printf("no answer to the registration within %d s\n", wait_s);
			else
				printf("the controller closed the link without a word\n");
			break;
		}
		if (in->body_case == PACER__MSG__BODY_REGISTER_ACK) {
			printf("registered\n");
			rc = OK;
		} else if (in->body_case == PACER__MSG__BODY_ERROR) {
			printf("refused: %s\n", in->error->message);
			rc = MISBEHAVED;
		} else {
			printf("controller sent %s\n", frame_type_name(in->body_case));
		}
		pacer__msg__free_unpacked(in, NULL);
		if (rc != BROKEN)
			break;
	}
	close(fd);
	return rc;
}

/* FILE, which must hold exactly one frame; malloc'd, its size in *LEN. */
static uint8_t *read_frame_file(const char *file, size_t *len)
{
	uint8_t *buf = read_whole(file, len);
	uint32_t body;
	if (*len < FRAME_HEADER || frame_length(buf, FRAME_MAX_REQUEST, &body) < 0 ||
	    body != *len - FRAME_HEADER)
		die("%s is not one whole frame (a 4-byte big-endian length, then that many "
		    "bytes)",
		    file);
	return buf;
}

static int cmd_send(int fd, struct who *w, const char *file)
{
	size_t len;
	uint8_t *frame = read_frame_file(file, &len);
	char *cred;
	uint8_t cnonce[AUTH_NONCE_LEN];
	uint32_t uid;
	int v = handshake(fd, w, &cred, cnonce, &uid);
	free(cred);
	if (v != 0)
		die("the handshake must succeed before the frame is sent");
	printf("sending the %zu bytes of %s\n", len, file);
	int rc = send_raw(fd, frame, len);
	free(frame);
	if (rc < 0)
		return MISBEHAVED;
	Pacer__Msg *m = NULL;
	if (frame_read_fd(fd, FRAME_MAX_REPLY, &m, wait_s * 1000) < 0) {
		printf("no answer: %s\n", strerror(errno));
		return MISBEHAVED;
	}
	if (m->body_case == PACER__MSG__BODY_SUBMIT_REPLY)
		printf("server sent submit-reply job_id=%u\n", (unsigned)m->submit_reply->job_id);
	else if (m->body_case == PACER__MSG__BODY_ERROR)
		printf("server sent error %d: %s\n", m->error->code, m->error->message);
	else
		printf("server sent %s\n", frame_type_name(m->body_case));
	pacer__msg__free_unpacked(m, NULL);
	return OK;
}

int main(int argc, char **argv)
{
	const char *node_name = NULL, *topo_file = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "+w:n:t:h")) != -1) {
		switch (opt) {
		case 'n': node_name = optarg; break;
		case 't': topo_file = optarg; break;
		case 'w':
			wait_s = atoi(optarg);
			if (wait_s <= 0)
				die("-w needs a positive number of seconds");
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return BROKEN;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 2 && strcmp(argv[0], "deflate") == 0)
		return cmd_deflate(argv[1]);
	if (argc != 3 && argc != 6 && argc != 7) {
		usage(stderr);
		return BROKEN;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	const char *cmd = argv[0], *host = argv[1], *port = argv[2];
	struct who w = { 0 };
	if (argc >= 6) {
		w.cluster = argv[3];
		w.service = argv[4];
		w.socket = argv[5];
		w.auth = auth_create(w.socket);
		if (!w.auth)
			die("cannot use munge: %s", strerror(errno));
	}
	static const char *const needs_auth[] = { "unknown", "replay", "wrongnonce",
						  "hello",   "send",   "node" };
	bool want_auth = false, want_file = strcmp(cmd, "send") == 0;
	for (size_t i = 0; i < sizeof(needs_auth) / sizeof(needs_auth[0]); i++)
		want_auth |= strcmp(cmd, needs_auth[i]) == 0;
	if (want_auth != (w.auth != NULL) || want_file != (argc == 7)) {
		usage(stderr);
		return BROKEN;
	}

	if (strcmp(cmd, "node") == 0 && (!node_name || !topo_file)) {
		usage(stderr);
		return BROKEN;
	}
	int rc;
	if (strcmp(cmd, "replay") == 0) {
		rc = cmd_replay(host, port, &w);
	} else if (strcmp(cmd, "node") == 0) {
		rc = cmd_node(host, port, &w, node_name, topo_file);
	} else {
		int fd = dial(host, port);
		if (strcmp(cmd, "garbage") == 0)
			rc = cmd_garbage(fd);
		else if (strcmp(cmd, "oversize") == 0)
			rc = cmd_header(fd, FRAME_MAX_REQUEST + 1);
		else if (strcmp(cmd, "zero") == 0)
			rc = cmd_header(fd, 0);
		else if (strcmp(cmd, "truncated") == 0)
			rc = cmd_truncated(fd);
		else if (strcmp(cmd, "badproto") == 0)
			rc = cmd_badproto(fd);
		else if (strcmp(cmd, "version") == 0)
			rc = cmd_version(fd);
		else if (strcmp(cmd, "slowloris") == 0)
			rc = cmd_slowloris(fd);
		else if (strcmp(cmd, "unknown") == 0)
			rc = cmd_unknown(fd, &w);
		else if (strcmp(cmd, "wrongnonce") == 0)
			rc = cmd_wrongnonce(fd, &w);
		else if (strcmp(cmd, "hello") == 0)
			rc = cmd_hello(fd, &w);
		else if (strcmp(cmd, "send") == 0)
			rc = cmd_send(fd, &w, argv[6]);
		else
			die("unknown command '%s' (see pacer-wire -h)", cmd);
		close(fd);
	}
	auth_destroy(w.auth);
	return rc;
}
