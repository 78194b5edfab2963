/* run_test.c - pacer run's step I/O end to end: run_step against a fake
 * controller that answers the StepCreate and then plays the step's two
 * node supervisors, with the real handshake on a private munged.  The
 * supervisors must be root, so the tests skip for other users. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth.h"
#include "frame.h"
#include "run.h"
#include "test_munged.h"

static struct test_munged tm;
static char confpath[300];
static bool can_run;

#define JOB  7
#define STEP 3

static int setup(void **state)
{
	(void)state;
	if (test_munged_start(&tm, "run") < 0)
		return -1;
	snprintf(confpath, sizeof(confpath), "%s/pacer.conf", tm.dir);
	can_run = tm.up && geteuid() == 0;
	return chdir(tm.dir);
}

static int teardown(void **state)
{
	(void)state;
	if (chdir("/") < 0)
		return -1;
	return test_munged_stop(&tm);
}

/* ---------------------------------------------------------------------------
 * The fake: a controller, then the supervisors.  A failed check exits the
 * fake with its line number, which the test reports. */

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "fake: line %d: %s\n", __LINE__, #cond); \
			_exit(1);                                                \
		}                                                                \
	} while (0)

static Pacer__Msg *next(int fd)
{
	Pacer__Msg *m = NULL;

	CHECK(frame_read_fd(fd, FRAME_MAX_REQUEST, &m, 20000) == 0);
	return m;
}

static void send_msg(int fd, Pacer__Msg *m)
{
	CHECK(frame_write_fd(fd, m, 5000) == 0);
}

/* The controller's side of the handshake, then the request. */
static Pacer__Msg *ctl_accept(int ls)
{
	Pacer__Challenge ch = PACER__CHALLENGE__INIT;
	Pacer__Welcome w = PACER__WELCOME__INIT;
	Pacer__Msg m = PACER__MSG__INIT, *in;
	uint8_t nonce[AUTH_NONCE_LEN];
	struct auth *a = auth_create(tm.sock);
	char err[256];
	uid_t uid;
	gid_t gid;
	int fd = accept(ls, NULL, NULL);

	CHECK(fd >= 0 && a);
	auth_nonce(nonce);
	ch.nonce.data = nonce;
	ch.nonce.len = sizeof(nonce);
	ch.cluster = "test";
	ch.service = "ctld";
	m.body_case = PACER__MSG__BODY_CHALLENGE;
	m.challenge = &ch;
	send_msg(fd, &m);
	in = next(fd);
	CHECK(in->body_case == PACER__MSG__BODY_HELLO);
	CHECK(auth_decode(a, in->hello->cred, "test", "ctld", nonce, in->hello->nonce.data, &uid,
			  &gid, err, sizeof(err)) == 0);
	pacer__msg__free_unpacked(in, NULL);
	w.uid = uid;
	m.body_case = PACER__MSG__BODY_WELCOME;
	m.welcome = &w;
	send_msg(fd, &m);
	auth_destroy(a);
	in = next(fd);
	in->seq = (uint32_t)fd; /* where to answer */
	return in;
}

static void ctl_reply(Pacer__Msg *req, Pacer__Msg *reply)
{
	int fd = (int)req->seq;

	reply->seq = 1;
	send_msg(fd, reply);
	close(fd);
}

/* A supervisor: connect to pacer run and prove we are root of the cluster. */
static int sup_connect(const char *host, uint32_t port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	Pacer__Hello h = PACER__HELLO__INIT;
	Pacer__Msg m = PACER__MSG__INIT, *in;
	uint8_t cnonce[AUTH_NONCE_LEN];
	struct auth *a = auth_create(tm.sock);
	char portstr[8], *cred, err[256];
	int fd;

	snprintf(portstr, sizeof(portstr), "%u", port);
	CHECK(getaddrinfo(host, portstr, &hints, &res) == 0);
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	CHECK(fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0);
	freeaddrinfo(res);
	in = next(fd);
	CHECK(in->body_case == PACER__MSG__BODY_CHALLENGE);
	CHECK(strcmp(in->challenge->service, "step") == 0);
	auth_nonce(cnonce);
	CHECK(auth_encode(a, "test", "step", in->challenge->nonce.data, cnonce, &cred, err,
			  sizeof(err)) == 0);
	pacer__msg__free_unpacked(in, NULL);
	h.cred = cred;
	h.nonce.data = cnonce;
	h.nonce.len = sizeof(cnonce);
	m.body_case = PACER__MSG__BODY_HELLO;
	m.hello = &h;
	send_msg(fd, &m);
	in = next(fd);
	CHECK(in->body_case == PACER__MSG__BODY_WELCOME);
	pacer__msg__free_unpacked(in, NULL);
	free(cred);
	auth_destroy(a);
	return fd;
}

static void sup_hello(int fd, const char *node, uint32_t index, const Pacer__StepSpec *sp,
		      uint32_t *ranks, size_t n)
{
	Pacer__StepIoHello h = PACER__STEP_IO_HELLO__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	h.job_id = JOB;
	h.step_id = STEP;
	h.node = (char *)node;
	h.node_index = index;
	h.io_key = sp->io_key;
	h.ranks = ranks;
	h.n_ranks = n;
	m.body_case = PACER__MSG__BODY_IO_HELLO;
	m.io_hello = &h;
	send_msg(fd, &m);
}

static void sup_data(int fd, uint32_t rank, uint32_t stream, const char *text)
{
	Pacer__StepIoData d = PACER__STEP_IO_DATA__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	d.rank = rank;
	d.stream = stream;
	d.data.data = (uint8_t *)text;
	d.data.len = strlen(text);
	m.body_case = PACER__MSG__BODY_IO_DATA;
	m.io_data = &d;
	send_msg(fd, &m);
}

static void sup_exit(int fd, uint32_t rank, int code, int sig, bool aborted, const char *msg)
{
	Pacer__StepIoExit e = PACER__STEP_IO_EXIT__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	e.rank = rank;
	e.exit_code = code;
	e.term_signal = sig;
	e.aborted = aborted;
	e.message = (char *)(msg ? msg : "");
	m.body_case = PACER__MSG__BODY_IO_EXIT;
	m.io_exit = &e;
	send_msg(fd, &m);
}

static void sup_done(int fd, Pacer__JobState st)
{
	Pacer__StepIoDone d = PACER__STEP_IO_DONE__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	d.state = st;
	d.reason = "";
	m.body_case = PACER__MSG__BODY_IO_DONE;
	m.io_done = &d;
	send_msg(fd, &m);
}

/* The next message must be standard input for RANK: TEXT, or its end. */
static void expect_stdin(int fd, uint32_t rank, const char *text)
{
	Pacer__Msg *m = next(fd);

	CHECK(m->body_case == PACER__MSG__BODY_IO_DATA);
	CHECK(m->io_data->rank == rank && m->io_data->stream == 0);
	if (text) {
		CHECK(m->io_data->data.len == strlen(text));
		CHECK(memcmp(m->io_data->data.data, text, strlen(text)) == 0);
	} else {
		CHECK(m->io_data->eof && m->io_data->data.len == 0);
	}
	pacer__msg__free_unpacked(m, NULL);
}

/* The next message that is not standard input must be a signal. */
static void expect_signal(int fd, int sig, bool terminate)
{
	Pacer__Msg *m;

	while ((m = next(fd))->body_case == PACER__MSG__BODY_IO_DATA)
		pacer__msg__free_unpacked(m, NULL);
	CHECK(m->body_case == PACER__MSG__BODY_IO_SIGNAL);
	CHECK(m->io_signal->terminate == terminate);
	if (!terminate)
		CHECK(m->io_signal->signal == sig);
	pacer__msg__free_unpacked(m, NULL);
}

enum scenario { BASIC, ABORT, LOST, INTERRUPT };

static void play(enum scenario sc, const Pacer__StepSpec *sp, int ls)
{
	uint32_t r01[] = { 0, 1 }, r2[] = { 2 };
	int n1 = sup_connect(sp->io_host, sp->io_port), n2 = -1;

	sup_hello(n1, "n1", 0, sp, r01, 2);
	if (sc != LOST) {
		n2 = sup_connect(sp->io_host, sp->io_port);
		sup_hello(n2, "n2", 1, sp, r2, 1);
		/* Rank 2 reads no input: its end comes at once. */
		expect_stdin(n2, 2, NULL);
	}
	expect_stdin(n1, 1, NULL);
	switch (sc) {
	case BASIC:
		expect_stdin(n1, 0, "input line\n");
		expect_stdin(n1, 0, NULL);
		sup_data(n1, 0, 1, "hel");
		sup_data(n2, 2, 1, "two\n");
		sup_data(n1, 0, 1, "lo\nbye");
		sup_data(n1, 1, 2, "err1\n");
		sup_exit(n1, 0, 0, 0, false, NULL);
		sup_exit(n1, 1, 3, 0, false, NULL);
		sup_done(n1, PACER__JOB_STATE__JOB_FAILED);
		sup_exit(n2, 2, 0, 0, false, NULL);
		sup_done(n2, PACER__JOB_STATE__JOB_COMPLETED);
		break;
	case ABORT:
		sup_exit(n1, 1, 5, 0, true, "MPI_ABORT was invoked");
		expect_signal(n1, SIGTERM, true);
		expect_signal(n2, SIGTERM, true);
		sup_exit(n1, 0, 0, SIGTERM, false, NULL);
		sup_done(n1, PACER__JOB_STATE__JOB_CANCELLED);
		sup_exit(n2, 2, 0, SIGTERM, false, NULL);
		sup_done(n2, PACER__JOB_STATE__JOB_CANCELLED);
		break;
	case LOST: {
		/* n2 never comes: pacer run cancels the step through us. */
		Pacer__Msg *req = ctl_accept(ls);
		CHECK(req->body_case == PACER__MSG__BODY_CANCEL);
		CHECK(req->cancel->n_steps == 1 && req->cancel->steps[0]->job_id == JOB &&
		      req->cancel->steps[0]->step_id == STEP);
		Pacer__CancelReply cr = PACER__CANCEL_REPLY__INIT;
		Pacer__Msg reply = PACER__MSG__INIT;
		reply.body_case = PACER__MSG__BODY_CANCEL_REPLY;
		reply.cancel_reply = &cr;
		ctl_reply(req, &reply);
		pacer__msg__free_unpacked(req, NULL);
		expect_signal(n1, SIGTERM, true);
		sup_exit(n1, 0, 0, SIGTERM, false, NULL);
		sup_exit(n1, 1, 0, SIGTERM, false, NULL);
		sup_done(n1, PACER__JOB_STATE__JOB_CANCELLED);
		break;
	}
	case INTERRUPT:
		kill(getppid(), SIGINT);
		expect_signal(n1, SIGINT, false);
		expect_signal(n2, SIGINT, false);
		sup_exit(n1, 0, 0, 0, false, NULL);
		sup_exit(n1, 1, 0, 0, false, NULL);
		sup_done(n1, PACER__JOB_STATE__JOB_COMPLETED);
		sup_exit(n2, 2, 0, 0, false, NULL);
		sup_done(n2, PACER__JOB_STATE__JOB_COMPLETED);
		break;
	}
	/* pacer run closes each connection once its node is done. */
	Pacer__Msg *m = NULL;
	CHECK(frame_read_fd(n1, FRAME_MAX_REQUEST, &m, 20000) < 0);
	close(n1);
	if (n2 >= 0)
		close(n2);
}

static pid_t fake_start(enum scenario sc)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char text[1024];
	FILE *f;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sin, &len), 0);
	snprintf(text, sizeof(text),
		 "[cluster]\nname = test\ncontrollers = 127.0.0.1:%u\nstate_dir = %s/state\n"
		 "munge_socket = %s\n\n[nodes:compute]\nnames = n[1-2]\naddress = 127.0.0.1\n"
		 "port = 7001-7002\n",
		 ntohs(sin.sin_port), tm.dir, tm.sock);
	f = fopen(confpath, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		close(ls);
		return pid;
	}
	Pacer__Msg *req = ctl_accept(ls);
	CHECK(req->body_case == PACER__MSG__BODY_STEP_CREATE);
	const Pacer__StepSpec *sp = req->step_create->spec;
	CHECK(req->step_create->job_id == JOB);
	CHECK(sp->io_key.len == 32 && sp->io_port > 0 && *sp->io_host);
	CHECK(sp->n_argv == 2 && strcmp(sp->argv[0], "hostname") == 0);
	CHECK(strcmp(sp->mpi, "none") == 0 && sp->label);

	Pacer__NodeAlloc a1 = PACER__NODE_ALLOC__INIT, a2 = PACER__NODE_ALLOC__INIT;
	Pacer__NodeAlloc *allocs[] = { &a1, &a2 };
	uint32_t r01[] = { 0, 1 }, r2[] = { 2 };
	a1.node = "n1";
	a1.task_ids = r01;
	a1.n_task_ids = 2;
	a2.node = "n2";
	a2.task_ids = r2;
	a2.n_task_ids = 1;
	Pacer__StepCreateReply sr = PACER__STEP_CREATE_REPLY__INIT;
	sr.job_id = JOB;
	sr.step_id = STEP;
	sr.alloc = allocs;
	sr.n_alloc = 2;
	sr.ntasks = 3;
	sr.nnodes = 2;
	Pacer__Msg reply = PACER__MSG__INIT;
	reply.body_case = PACER__MSG__BODY_STEP_CREATE_REPLY;
	reply.step_create_reply = &sr;
	Pacer__Msg *keep = req;
	ctl_reply(req, &reply);
	play(sc, keep->step_create->spec, ls);
	_exit(0);
}

/* ---------------------------------------------------------------------------
 * pacer run's side */

struct outcome {
	int rc, code;
	char out[4096], err[4096];
};

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* run_step of "hostname -s" with ARGS, stdin from a file, stdout and stderr
 * into files. */
static void run(enum scenario sc, const char *const *args, struct outcome *res)
{
	char *argv[16] = { "run" }, *cmd[] = { "hostname", "-s", NULL };
	int argc = 1, saved[3], status;
	struct cli cli = { .cmd = "run", .conf_opt = confpath };
	struct run_opts o;
	char err[512];
	FILE *in = fopen("stdin.txt", "w");

	assert_non_null(in);
	fputs("input line\n", in);
	fclose(in);
	for (; args && *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc++] = "hostname";
	run_opts_init(&o, RUN_MODE_RUN);
	assert_int_equal(run_parse_args(&o, argc, argv, err, sizeof(err)), 0);
	pid_t pid = fake_start(sc);
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < 3; i++)
		saved[i] = dup(i);
	int fi = open("stdin.txt", O_RDONLY),
	    fo = open("out.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644),
	    fe = open("err.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fi, 0);
	dup2(fo, 1);
	dup2(fe, 2);
	close(fi);
	close(fo);
	close(fe);
	res->rc = run_step(&cli, &o, JOB, 2, cmd, &res->code);
	fflush(stderr);
	for (int i = 0; i < 3; i++) {
		dup2(saved[i], i);
		close(saved[i]);
	}
	cli_free(&cli);
	run_opts_free(&o);
	slurp("out.txt", res->out, sizeof(res->out));
	slurp("err.txt", res->err, sizeof(res->err));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the fake failed; pacer run said:\n%s", res->err);
	assert_int_equal(res->rc, 0);
}

static void test_output_and_exit(void **state)
{
	(void)state;
	static const char *const args[] = { "--label", "--mpi=none", NULL };
	struct outcome r;

	if (!can_run)
		skip();
	run(BASIC, args, &r);
	/* Every rank's lines, whole and labelled, in the order each rank wrote
	 * them; the rest of a line left open when the rank ended comes out too. */
	assert_non_null(strstr(r.out, "0: hello\n"));
	assert_non_null(strstr(r.out, "0: bye"));
	assert_true(strstr(r.out, "0: hello\n") < strstr(r.out, "0: bye"));
	assert_non_null(strstr(r.out, "2: two\n"));
	assert_non_null(strstr(r.err, "1: err1\n"));
	assert_non_null(strstr(r.err, "n1: task 1: exited with exit code 3"));
	assert_int_equal(r.code, 3);
}

static void test_abort(void **state)
{
	(void)state;
	static const char *const args[] = { "-l", "--mpi=none", NULL };
	struct outcome r;

	if (!can_run)
		skip();
	run(ABORT, args, &r);
	assert_non_null(strstr(r.err, "task 1 aborted with code 5: MPI_ABORT was invoked"));
	assert_int_equal(r.code, 5);
}

static void test_lost_node(void **state)
{
	(void)state;
	static const char *const args[] = { "-l", "--mpi=none", NULL };
	struct outcome r;

	if (!can_run)
		skip();
	setenv("PACER_RUN_CONNECT_TIMEOUT", "1", 1);
	run(LOST, args, &r);
	unsetenv("PACER_RUN_CONNECT_TIMEOUT");
	assert_non_null(strstr(r.err, "n2: the step's supervisor did not connect"));
	/* Every rank that reported was killed by the cancel: the code says so;
	 * never 0 while a node was lost. */
	assert_int_not_equal(r.code, 0);
}

static void test_interrupt(void **state)
{
	(void)state;
	static const char *const args[] = { "-l", "--mpi=none", NULL };
	struct outcome r;

	if (!can_run)
		skip();
	run(INTERRUPT, args, &r);
	assert_non_null(strstr(r.err, "interrupt (one more within 1 sec to abort)"));
	assert_int_equal(r.code, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_and_exit),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_lost_node),
		cmocka_unit_test(test_interrupt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
