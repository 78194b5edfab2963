/* client_test.c - the CLI's controller connection against a fake controller
 * that speaks the real handshake, with a private munged. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "client.h"
#include "test_munged.h"
#include "frame.h"
#include "timefmt.h"

static char dir[256], sock[300];
static bool have_munge;
static struct test_munged tm;

enum scenario {
	SC_OK, /* the whole exchange, answering job 42 */
	SC_WRONG_CLUSTER,
	SC_WRONG_SERVICE,
	SC_REFUSE_CHALLENGE, /* Error instead of a Challenge */
	SC_REFUSE_WELCOME,   /* Error instead of a Welcome (a standby, say) */
	SC_ERROR_REPLY,      /* Error in answer to the request */
	SC_SILENT,           /* never answers the request */
	SC_CLOSE,            /* hangs up after reading the request */
};

struct fake {
	uint16_t port;
	pid_t pid;
};

/* ---------------------------------------------------------------------------
 * munged */

static int setup(void **state)
{
	(void)state;
	if (test_munged_start(&tm, "client") < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s", tm.dir);
	snprintf(sock, sizeof(sock), "%s", tm.sock);
	have_munge = tm.up;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return test_munged_stop(&tm);
}

/* ---------------------------------------------------------------------------
 * The fake controller: a child process serving one connection */

static int send_error(int fd, uint32_t seq, int code, const char *message)
{
	Pacer__Error e = PACER__ERROR__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	e.code = code;
	e.message = (char *)message;
	m.seq = seq;
	m.body_case = PACER__MSG__BODY_ERROR;
	m.error = &e;
	return frame_write_fd(fd, &m, 5000);
}

/* Wait for the client to hang up: 0 when it did. */
static int wait_close(int fd)
{
	Pacer__Msg *m;

	if (frame_read_fd(fd, 1 << 20, &m, 10000) == 0) {
		pacer__msg__free_unpacked(m, NULL);
		return 1;
	}
	return errno == ECONNRESET ? 0 : 2;
}

static int send_challenge(int fd, enum scenario sc, uint8_t nonce[AUTH_NONCE_LEN])
{
	Pacer__Challenge ch = PACER__CHALLENGE__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	if (sc == SC_REFUSE_CHALLENGE)
		return send_error(fd, 0, EAGAIN, "controller is starting, try again");
	auth_nonce(nonce);
	ch.nonce.data = nonce;
	ch.nonce.len = AUTH_NONCE_LEN;
	ch.cluster = sc == SC_WRONG_CLUSTER ? "other" : "test";
	ch.service = sc == SC_WRONG_SERVICE ? "noded" : "ctld";
	ch.epoch = 7;
	m.body_case = PACER__MSG__BODY_CHALLENGE;
	m.challenge = &ch;
	return frame_write_fd(fd, &m, 5000);
}

/* Check the Hello's credential exactly as a controller must. */
static int check_hello(int fd, const uint8_t snonce[AUTH_NONCE_LEN])
{
	Pacer__Msg *m = NULL;
	struct auth *a = auth_create(sock);
	char err[256];
	uid_t uid;
	gid_t gid;
	int rc = 0;

	if (!a || frame_read_fd(fd, 1 << 16, &m, 5000) < 0)
		rc = 10;
	else if (m->body_case != PACER__MSG__BODY_HELLO || m->hello->nonce.len != AUTH_NONCE_LEN)
		rc = 11;
	else if (auth_decode(a, m->hello->cred, "test", "ctld", snonce, m->hello->nonce.data, &uid,
			     &gid, err, sizeof(err)) < 0 ||
		 uid != getuid())
		rc = 12;
	if (m)
		pacer__msg__free_unpacked(m, NULL);
	auth_destroy(a);
	return rc;
}

static int answer(int fd, enum scenario sc)
{
	Pacer__SubmitReply sr = PACER__SUBMIT_REPLY__INIT;
	Pacer__Msg out = PACER__MSG__INIT, *m;
	int rc = 0;

	if (frame_read_fd(fd, FRAME_MAX_REQUEST, &m, 5000) < 0)
		return 20;
	if (m->seq != 1 || m->body_case != PACER__MSG__BODY_SUBMIT ||
	    strcmp(m->submit->spec->name, "x") != 0)
		rc = 21;
	pacer__msg__free_unpacked(m, NULL);
	if (rc)
		return rc;
	switch (sc) {
	case SC_ERROR_REPLY: return send_error(fd, 1, EPERM, "not allowed") < 0 ? 22 : 0;
	case SC_SILENT: return wait_close(fd);
	case SC_CLOSE: return 0;
	default:
		sr.job_id = 42;
		out.seq = 1;
		out.body_case = PACER__MSG__BODY_SUBMIT_REPLY;
		out.submit_reply = &sr;
		return frame_write_fd(fd, &out, 5000) < 0 ? 23 : 0;
	}
}

static int serve(int fd, enum scenario sc)
{
	Pacer__Welcome w = PACER__WELCOME__INIT;
	Pacer__Msg m = PACER__MSG__INIT;
	uint8_t snonce[AUTH_NONCE_LEN];
	int rc;

	if (send_challenge(fd, sc, snonce) < 0)
		return 1;
	if (sc == SC_WRONG_CLUSTER || sc == SC_WRONG_SERVICE || sc == SC_REFUSE_CHALLENGE)
		return wait_close(fd);
	rc = check_hello(fd, snonce);
	if (rc)
		return rc;
	if (sc == SC_REFUSE_WELCOME)
		return send_error(fd, 0, EAGAIN, "this controller is the standby") < 0 ? 3 : 0;
	w.epoch = 7;
	w.uid = getuid();
	m.body_case = PACER__MSG__BODY_WELCOME;
	m.welcome = &w;
	if (frame_write_fd(fd, &m, 5000) < 0)
		return 4;
	return answer(fd, sc);
}

static int listen_any(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void fake_start(struct fake *f, enum scenario sc)
{
	int ls = listen_any(&f->port);

	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		int fd = accept(ls, NULL, NULL);
		_exit(fd < 0 ? 99 : serve(fd, sc));
	}
	close(ls);
}

static int fake_wait(struct fake *f)
{
	int status;

	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

/* A port nothing listens on. */
static uint16_t closed_port(void)
{
	uint16_t port;

	close(listen_any(&port));
	return port;
}

/* ---------------------------------------------------------------------------
 * The client */

struct setup {
	struct conf conf;
	struct conf_addr addrs[2];
	char err[1024];
	Pacer__JobSpec spec;
	Pacer__SubmitRequest sreq;
	Pacer__Msg req;
	Pacer__Msg *reply;
};

static void prepare(struct setup *s, uint16_t port0, uint16_t port1)
{
	Pacer__JobSpec spec = PACER__JOB_SPEC__INIT;
	Pacer__SubmitRequest sreq = PACER__SUBMIT_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT;

	memset(s, 0, sizeof(*s));
	s->addrs[0].host = "127.0.0.1";
	s->addrs[0].port = port0;
	s->addrs[1].host = "127.0.0.1";
	s->addrs[1].port = port1;
	s->conf.path = "/etc/pacer/test.conf";
	s->conf.cluster = "test";
	s->conf.controllers = s->addrs;
	s->conf.ncontrollers = port1 ? 2 : 1;
	s->conf.munge_socket = sock;
	s->spec = spec;
	s->spec.name = "x";
	s->sreq = sreq;
	s->sreq.spec = &s->spec;
	s->req = req;
	s->req.body_case = PACER__MSG__BODY_SUBMIT;
	s->req.submit = &s->sreq;
}

static int call(struct setup *s, int timeout_ms)
{
	return client_call(&s->conf, &s->req, timeout_ms, &s->reply, s->err, sizeof(s->err));
}

static void test_ok(void **state)
{
	(void)state;
	struct setup s;
	struct fake f;

	if (!have_munge)
		skip();
	fake_start(&f, SC_OK);
	prepare(&s, f.port, 0);
	assert_int_equal(call(&s, 5000), 0);
	assert_int_equal(s.reply->body_case, PACER__MSG__BODY_SUBMIT_REPLY);
	assert_int_equal(s.reply->seq, 1);
	assert_int_equal(s.reply->submit_reply->job_id, 42);
	pacer__msg__free_unpacked(s.reply, NULL);
	assert_int_equal(fake_wait(&f), 0);
}

static void test_failover(void **state)
{
	(void)state;
	struct setup s;
	struct fake standby, primary;

	if (!have_munge)
		skip();
	/* Down first, then a refusing standby... */
	fake_start(&standby, SC_REFUSE_WELCOME);
	uint16_t down = closed_port();
	char want[256];
	prepare(&s, down, standby.port);
	assert_int_equal(call(&s, 5000), -1);
	snprintf(want, sizeof(want),
		 "this controller is the standby; and cannot reach "
		 "controller at 127.0.0.1:%u: Connection refused",
		 down);
	assert_string_equal(s.err, want);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fake_wait(&standby), 0);

	/* ...and a standby, then the primary. */
	fake_start(&standby, SC_REFUSE_WELCOME);
	fake_start(&primary, SC_OK);
	prepare(&s, standby.port, primary.port);
	assert_int_equal(call(&s, 5000), 0);
	assert_int_equal(s.reply->submit_reply->job_id, 42);
	pacer__msg__free_unpacked(s.reply, NULL);
	assert_int_equal(fake_wait(&standby), 0);
	assert_int_equal(fake_wait(&primary), 0);
}

static void test_unreachable(void **state)
{
	(void)state;
	struct setup s;
	uint16_t p0 = closed_port(), p1 = closed_port();
	char want[512];
	uint64_t t0 = timefmt_monotonic_ms();

	prepare(&s, p0, p1);
	assert_int_equal(call(&s, 5000), -1);
	assert_int_equal(errno, ECONNREFUSED);
	snprintf(want, sizeof(want),
		 "cannot reach controller at 127.0.0.1:%u: Connection refused; "
		 "127.0.0.1:%u: Connection refused (is pacerctld running? check controllers in "
		 "/etc/pacer/test.conf)",
		 p0, p1);
	assert_string_equal(s.err, want);
	assert_true(timefmt_monotonic_ms() - t0 < 1000);

	prepare(&s, p0, 0);
	s.addrs[0].host = "no-such-host.invalid";
	assert_int_equal(call(&s, 5000), -1);
	assert_non_null(strstr(s.err, "cannot reach controller at no-such-host.invalid:"));
	assert_non_null(strstr(s.err, ": cannot resolve host name: "));
}

static void expect_refusal(enum scenario sc, const char *fmt)
{
	struct setup s;
	struct fake f;
	char want[512];

	fake_start(&f, sc);
	prepare(&s, f.port, 0);
	assert_int_equal(call(&s, 5000), -1);
	if (strstr(fmt, "%u"))
		snprintf(want, sizeof(want), fmt, f.port);
	else
		snprintf(want, sizeof(want), "%s", fmt);
	assert_string_equal(s.err, want);
	assert_int_equal(fake_wait(&f), 0);
}

static void test_wrong_peer(void **state)
{
	(void)state;
	expect_refusal(SC_WRONG_CLUSTER,
		       "controller at 127.0.0.1:%u serves cluster 'other', not "
		       "'test' (check name and controllers in /etc/pacer/test.conf)");
	expect_refusal(SC_WRONG_SERVICE, "127.0.0.1:%u is a 'noded' service, not a controller "
					 "(check controllers in /etc/pacer/test.conf)");
	expect_refusal(SC_REFUSE_CHALLENGE, "controller is starting, try again");
}

static void test_error_reply(void **state)
{
	(void)state;
	struct setup s;
	struct fake f;

	if (!have_munge)
		skip();
	fake_start(&f, SC_ERROR_REPLY);
	prepare(&s, f.port, 0);
	assert_int_equal(call(&s, 5000), -1);
	assert_int_equal(errno, EPERM);
	assert_string_equal(s.err, "not allowed");
	assert_int_equal(fake_wait(&f), 0);
}

static void test_no_reply(void **state)
{
	(void)state;
	struct setup s;
	struct fake f;
	char want[512];
	uint64_t t0;

	if (!have_munge)
		skip();
	fake_start(&f, SC_SILENT);
	prepare(&s, f.port, 0);
	t0 = timefmt_monotonic_ms();
	assert_int_equal(call(&s, 1000), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(timefmt_monotonic_ms() - t0 < 3000);
	snprintf(want, sizeof(want),
		 "no reply from controller at 127.0.0.1:%u within 1 s (it "
		 "may be busy: set PACER_TIMEOUT=SECONDS to wait longer)",
		 f.port);
	assert_string_equal(s.err, want);
	assert_int_equal(fake_wait(&f), 0);

	fake_start(&f, SC_CLOSE);
	prepare(&s, f.port, 0);
	assert_int_equal(call(&s, 5000), -1);
	snprintf(want, sizeof(want),
		 "controller at 127.0.0.1:%u: closed the connection while "
		 "working on the request (it may or may not have been done: check with pacer "
		 "queue)",
		 f.port);
	assert_string_equal(s.err, want);
	assert_int_equal(fake_wait(&f), 0);
}

static void test_munge_down(void **state)
{
	(void)state;
	struct setup s;
	struct fake f;
	char bad[400], want[512];

	fake_start(&f, SC_OK);
	prepare(&s, f.port, 0);
	snprintf(bad, sizeof(bad), "%s/absent.sock", dir);
	s.conf.munge_socket = bad;
	assert_int_equal(call(&s, 5000), -1);
	snprintf(want, sizeof(want), "cannot get a munge credential from munged at %s", bad);
	assert_memory_equal(s.err, want, strlen(want));
	assert_non_null(strstr(s.err, " (start munged, or set munge_socket in "
				      "/etc/pacer/test.conf to where it listens)"));
	/* The fake saw no Hello: it fails its check, which is the point. */
	assert_int_not_equal(fake_wait(&f), 0);
}

static void test_no_controllers(void **state)
{
	(void)state;
	struct setup s;

	prepare(&s, 1, 0);
	s.conf.ncontrollers = 0;
	assert_int_equal(call(&s, 5000), -1);
	assert_string_equal(s.err, "no controllers in /etc/pacer/test.conf (add controllers = "
				   "HOST[:PORT] to its [cluster] section)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),          cmocka_unit_test(test_failover),
		cmocka_unit_test(test_unreachable), cmocka_unit_test(test_wrong_peer),
		cmocka_unit_test(test_error_reply), cmocka_unit_test(test_no_reply),
		cmocka_unit_test(test_munge_down),  cmocka_unit_test(test_no_controllers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
