/* cmd_test.c - the subcommands end to end: options in, request on the wire,
 * reply out, against a fake controller that speaks the real handshake
 * (with a private munged). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "cli.h"
#include "test_munged.h"
#include "frame.h"

static char dir[256], sock[300], confpath[300];
static bool have_munge;
static struct test_munged tm;

#define DECL(name, ...)                       \
	char *name[] = { __VA_ARGS__, NULL }; \
	int name##_c = (int)(sizeof(name) / sizeof(name[0]) - 1)

/* ---------------------------------------------------------------------------
 * Set-up: munged and a working directory */

static int setup(void **state)
{
	(void)state;
	if (test_munged_start(&tm, "cmd") < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s", tm.dir);
	snprintf(sock, sizeof(sock), "%s", tm.sock);
	snprintf(confpath, sizeof(confpath), "%s/pacer.conf", dir);
	have_munge = tm.up;
	return chdir(dir);
}

static int teardown(void **state)
{
	(void)state;
	if (chdir("/") < 0)
		return -1;
	return test_munged_stop(&tm);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A pacer.conf naming one controller on PORT. */
static void write_conf(uint16_t port)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "[cluster]\nname = test\ncontrollers = 127.0.0.1:%u\nstate_dir = %s/state\n"
		 "munge_socket = %s\n\n[nodes:compute]\nnames = n[1-2]\naddress = 127.0.0.1\n"
		 "port = 7001-7002\n",
		 port, dir, sock);
	write_text(confpath, text);
}

/* ---------------------------------------------------------------------------
 * The fake controller: serves one connection, hands the request it read
 * back through a pipe, and answers with the reply it was given. */

struct fake {
	pid_t pid;
	int pipe; /* the packed request comes back here */
};

static int handshake(int fd)
{
	Pacer__Challenge ch = PACER__CHALLENGE__INIT;
	Pacer__Welcome w = PACER__WELCOME__INIT;
	Pacer__Msg m = PACER__MSG__INIT, *in = NULL;
	uint8_t nonce[AUTH_NONCE_LEN];
	struct auth *a = auth_create(sock);
	char err[256];
	uid_t uid;
	gid_t gid;
	int rc = -1;

	auth_nonce(nonce);
	ch.nonce.data = nonce;
	ch.nonce.len = sizeof(nonce);
	ch.cluster = "test";
	ch.service = "ctld";
	m.body_case = PACER__MSG__BODY_CHALLENGE;
	m.challenge = &ch;
	if (!a || frame_write_fd(fd, &m, 5000) < 0 || frame_read_fd(fd, 1 << 16, &in, 5000) < 0)
		goto done;
	if (in->body_case != PACER__MSG__BODY_HELLO ||
	    auth_decode(a, in->hello->cred, "test", "ctld", nonce, in->hello->nonce.data, &uid,
			&gid, err, sizeof(err)) < 0)
		goto done;
	w.uid = uid;
	m.body_case = PACER__MSG__BODY_WELCOME;
	m.welcome = &w;
	rc = frame_write_fd(fd, &m, 5000);
done:
	if (in)
		pacer__msg__free_unpacked(in, NULL);
	auth_destroy(a);
	return rc;
}

static int serve(int fd, int out, Pacer__Msg *reply)
{
	Pacer__Msg *req;
	uint8_t *buf;
	size_t len;

	int rc = 0;

	if (handshake(fd) < 0 || frame_read_fd(fd, FRAME_MAX_REQUEST, &req, 5000) < 0)
		return 1;
	/* Answer first: the pipe may hold less than the request. */
	reply->seq = req->seq;
	if (frame_pack(req, FRAME_MAX_REQUEST, &buf, &len) < 0 ||
	    frame_write_fd(fd, reply, 5000) < 0)
		rc = 2;
	else if (write(out, buf, len) != (ssize_t)len)
		rc = 3;
	pacer__msg__free_unpacked(req, NULL);
	return rc;
}

/* Serve one connection for each of REPLIES[0..N), in turn. */
static void fake_start_many(struct fake *f, Pacer__Msg **replies, int n)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p[2];

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sin, &len), 0);
	write_conf(ntohs(sin.sin_port));
	assert_int_equal(pipe(p), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(p[0]);
		for (int i = 0; i < n; i++) {
			int fd = accept(ls, NULL, NULL), rc;
			if (fd < 0)
				_exit(9);
			rc = serve(fd, p[1], replies[i]);
			close(fd);
			if (rc)
				_exit(rc);
		}
		_exit(0);
	}
	close(p[1]);
	close(ls);
	f->pipe = p[0];
}

static void fake_start(struct fake *f, Pacer__Msg *reply)
{
	fake_start_many(f, &reply, 1);
}

/* The requests the fake received, into OUT[0..MAX), once it has exited;
 * how many. */
static int fake_requests(struct fake *f, Pacer__Msg **out, int max)
{
	static uint8_t buf[FRAME_MAX_REQUEST / 64];
	size_t len = 0, off = 0;
	ssize_t n;
	int status, count = 0;

	while ((n = read(f->pipe, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(f->pipe);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	while (count < max && len - off >= FRAME_HEADER) {
		uint32_t flen;
		assert_int_equal(frame_length(buf + off, FRAME_MAX_REQUEST, &flen), 0);
		assert_true(flen <= len - off - FRAME_HEADER);
		out[count++] = frame_unpack(buf + off + FRAME_HEADER, flen);
		off += FRAME_HEADER + flen;
	}
	if (count > 0)
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return count;
}

/* The request the fake received (NULL when none), once it has exited. */
static Pacer__Msg *fake_request(struct fake *f)
{
	Pacer__Msg *req = NULL;

	return fake_requests(f, &req, 1) ? req : NULL;
}

/* ---------------------------------------------------------------------------
 * Running a subcommand with its output captured */

struct result {
	int rc;
	char *out;
	char *err;
};

static char *slurp(FILE *f)
{
	long size;
	char *buf;

	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	buf = calloc(1, (size_t)size + 1);
	assert_non_null(buf);
	rewind(f);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	return buf;
}

static void run_cmd(struct result *r, int (*cmd)(struct cli *, int, char **), const char *name,
		    int argc, char **argv)
{
	struct cli cli = { .cmd = name, .conf_opt = confpath };
	FILE *out = tmpfile(), *err = tmpfile();
	int o = dup(STDOUT_FILENO), e = dup(STDERR_FILENO);

	fflush(stdout);
	fflush(stderr);
	dup2(fileno(out), STDOUT_FILENO);
	dup2(fileno(err), STDERR_FILENO);
	r->rc = cmd(&cli, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(o, STDOUT_FILENO);
	dup2(e, STDERR_FILENO);
	close(o);
	close(e);
	cli_free(&cli);
	r->out = slurp(out);
	r->err = slurp(err);
}

static void result_free(struct result *r)
{
	free(r->out);
	free(r->err);
}

static bool env_has(const Pacer__JobSpec *s, const char *entry)
{
	for (size_t i = 0; i < s->n_env; i++)
		if (strcmp(s->env[i], entry) == 0)
			return true;
	return false;
}

/* ---------------------------------------------------------------------------
 * submit */

static void test_submit(void **state)
{
	(void)state;
	Pacer__SubmitReply sr = PACER__SUBMIT_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	static const char script[] = "#!/bin/bash\n#SBATCH -J fromscript -N 1 --requeue\n"
				     "#SBATCH --array=0-3%2 --exclusive --gres=gpu:2\n"
				     "#PACER --export=CMD_TEST_A,CMD_TEST_B=b\necho hi\n";
	struct result r;
	struct fake f;
	char cwd[512], want[600];
	DECL(argv, "submit", "-N", "2", "-D", "sub", "--hold", "-d", "afterok:40_1",
	     "--cpu-bind=v,cores", "job.sh", "one", "-N", "3");

	if (!have_munge)
		skip();
	write_text("job.sh", script);
	setenv("CMD_TEST_A", "a", 1);
	setenv("CMD_TEST_C", "c", 1);
	sr.job_id = 42;
	reply.body_case = PACER__MSG__BODY_SUBMIT_REPLY;
	reply.submit_reply = &sr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_submit, "submit", argv_c, argv);
	req = fake_request(&f);

	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "Submitted job 42\n");
	assert_string_equal(r.err, "pacer submit: warning: job.sh:2: --requeue is not "
				   "supported yet and was ignored\n");
	assert_non_null(req);
	assert_int_equal(req->body_case, PACER__MSG__BODY_SUBMIT);
	assert_int_equal(req->seq, 1);
	const Pacer__JobSpec *s = req->submit->spec;
	assert_string_equal(s->name, "fromscript");
	assert_int_equal(s->nodes, 2);
	assert_int_equal(s->ntasks, 0);
	assert_true(s->hold);
	assert_int_equal(s->script.len, sizeof(script) - 1);
	assert_memory_equal(s->script.data, script, sizeof(script) - 1);
	assert_int_equal(s->n_argv, 3);
	assert_string_equal(s->argv[0], "one");
	assert_string_equal(s->argv[1], "-N");
	assert_string_equal(s->argv[2], "3");
	assert_int_equal(s->n_env, 2);
	assert_true(env_has(s, "CMD_TEST_A=a"));
	assert_true(env_has(s, "CMD_TEST_B=b"));
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_string_equal(s->submit_dir, cwd);
	snprintf(want, sizeof(want), "%s/sub", cwd);
	assert_string_equal(s->workdir, want);
	assert_string_equal(s->stdout_pattern, "");
	assert_true(s->submit_host[0] != '\0');
	/* Directives and the command line meet in the spec. */
	assert_string_equal(s->array, "0-3%2");
	assert_int_equal(s->array_max_running, 2);
	assert_true(s->exclusive);
	assert_int_equal(s->gpus_per_node, 2);
	assert_string_equal(s->dependency, "afterok:40_1");
	assert_string_equal(s->cpu_bind, "cores,verbose");
	assert_string_equal(s->distribution, "");
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
}

static void test_submit_wrap(void **state)
{
	(void)state;
	Pacer__SubmitReply sr = PACER__SUBMIT_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "submit", "--parsable", "--wrap=echo $HOME", "-t", "0", "--mem=2G");

	if (!have_munge)
		skip();
	setenv("CMD_TEST_C", "c", 1);
	sr.job_id = 7;
	reply.body_case = PACER__MSG__BODY_SUBMIT_REPLY;
	reply.submit_reply = &sr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_submit, "submit", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "7\n");
	assert_string_equal(r.err, "");
	const Pacer__JobSpec *s = req->submit->spec;
	assert_string_equal(s->name, "wrap");
	static const char wrapped[] = "#!/bin/sh\necho $HOME\n";
	assert_int_equal(s->script.len, sizeof(wrapped) - 1);
	assert_memory_equal(s->script.data, wrapped, sizeof(wrapped) - 1);
	assert_int_equal(s->time_limit, UINT32_MAX);
	assert_int_equal(s->mem_mb, 2048);
	assert_int_equal(s->n_argv, 0);
	/* --export defaults to ALL. */
	assert_true(env_has(s, "CMD_TEST_C=c"));
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
}

static void test_submit_errors(void **state)
{
	(void)state;
	struct result r;
	DECL(bin, "submit", "bin.sh");
	DECL(bad, "submit", "--frob", "job.sh");
	DECL(both, "submit", "--wrap", "ls", "job.sh");
	DECL(zero, "submit", "-n", "0", "--wrap", "ls");

	/* Nothing is listening: an error before connecting proves nothing was sent. */
	write_conf(1);
	write_text("bin.sh", "#!/bin/sh\n");
	int fd = open("bin.sh", O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "\0\1\2", 3), 3);
	close(fd);
	run_cmd(&r, cmd_submit, "submit", bin_c, bin);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "pacer submit: bin.sh looks like a binary file, not a batch "
				   "script (pass a shell script, or use --wrap \"CMD\")\n");
	result_free(&r);

	run_cmd(&r, cmd_submit, "submit", bad_c, bad);
	assert_int_equal(r.rc, 2);
	assert_string_equal(
	    r.err,
	    "pacer submit: unknown option '--frob'\n"
	    "Usage: pacer submit [OPTIONS] SCRIPT [ARGS...]\nTry 'pacer submit --help' for more information.\n");
	result_free(&r);

	run_cmd(&r, cmd_submit, "submit", both_c, both);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err,
			    "pacer submit: --wrap cannot be combined with a script "
			    "('job.sh') (put the command in --wrap or in the script, not both)\n");
	result_free(&r);

	run_cmd(&r, cmd_submit, "submit", zero_c, zero);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "pacer submit: invalid value '0' for -n (give a whole number "
				   "of at least 1)\n");
	assert_string_equal(r.out, "");
	result_free(&r);

	/* A bad directive names its line; nothing is sent. */
	DECL(gpu, "submit", "gpu.sh");
	write_text("gpu.sh", "#!/bin/sh\n#SBATCH -N 1\n#SBATCH --gpus=v100:1\nhostname\n");
	run_cmd(&r, cmd_submit, "submit", gpu_c, gpu);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "pacer submit: gpu.sh:3: bad value for --gpus in #SBATCH line: "
				   "'v100:1' names a GPU type, and GPU types are not supported yet "
				   "(give a count only, like 2)\n");
	result_free(&r);
}

static void test_unreachable(void **state)
{
	(void)state;
	struct result r;
	char want[1024];
	DECL(argv, "queue");

	write_conf(1);
	run_cmd(&r, cmd_queue, "queue", argv_c, argv);
	assert_int_equal(r.rc, 1);
	snprintf(want, sizeof(want),
		 "pacer queue: cannot reach controller at 127.0.0.1:1: "
		 "Connection refused (is pacerctld running? check controllers in %s)\n",
		 confpath);
	assert_string_equal(r.err, want);
	result_free(&r);
}

/* ---------------------------------------------------------------------------
 * queue */

static void test_queue(void **state)
{
	(void)state;
	Pacer__JobSummary j = PACER__JOB_SUMMARY__INIT, *jobs[] = { &j };
	Pacer__QueueReply qr = PACER__QUEUE_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "queue", "-u", "root", "--state=PD,r", "-h", "-o", "%i %t %j");

	if (!have_munge)
		skip();
	j.id = 5;
	j.name = "job";
	j.state = PACER__JOB_STATE__JOB_PENDING;
	qr.jobs = jobs;
	qr.n_jobs = 1;
	qr.now = time(NULL);
	reply.body_case = PACER__MSG__BODY_QUEUE_REPLY;
	reply.queue_reply = &qr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_queue, "queue", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "5 PD job\n");
	assert_string_equal(r.err, "");
	const Pacer__QueueRequest *q = req->queue;
	assert_int_equal(q->n_uids, 1);
	assert_int_equal(q->uids[0], 0);
	assert_int_equal(q->n_states, 2);
	assert_int_equal(q->states[0], PACER__JOB_STATE__JOB_PENDING);
	assert_int_equal(q->states[1], PACER__JOB_STATE__JOB_RUNNING);
	assert_true(q->all);
	assert_false(q->full);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
}

/* -j with array tasks, --start: pending jobs, soonest first. */
static void test_queue_start(void **state)
{
	(void)state;
	Pacer__JobSummary a = PACER__JOB_SUMMARY__INIT, b = PACER__JOB_SUMMARY__INIT;
	Pacer__JobSummary c = PACER__JOB_SUMMARY__INIT, *jobs[] = { &a, &b, &c };
	Pacer__QueueReply qr = PACER__QUEUE_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "queue", "--start", "-j", "5,7_2,8_[0-1]", "-o", "%i %S %r");

	if (!have_munge)
		skip();
	setenv("TZ", "UTC", 1);
	tzset();
	a.id = 5;
	a.state = PACER__JOB_STATE__JOB_PENDING;
	a.reason = "Resources";
	a.expected_start = 1700003600;
	b.id = 9;
	b.array_job_id = 7;
	b.array_task_id = 2;
	b.state = PACER__JOB_STATE__JOB_PENDING;
	b.reason = "Dependency";
	c.id = 10;
	c.array_job_id = 8;
	c.array_task_id = 0;
	c.state = PACER__JOB_STATE__JOB_PENDING;
	c.reason = "Priority";
	c.expected_start = 1700000000;
	qr.jobs = jobs;
	qr.n_jobs = 3;
	reply.body_case = PACER__MSG__BODY_QUEUE_REPLY;
	reply.queue_reply = &qr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_queue, "queue", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
	assert_string_equal(r.out, "JOBID START_TIME REASON\n"
				   "8_0 2023-11-14T22:13:20 Priority\n"
				   "5 2023-11-14T23:13:20 Resources\n"
				   "7_2 N/A Dependency\n");
	const Pacer__QueueRequest *q = req->queue;
	assert_int_equal(q->n_job_ids, 1);
	assert_int_equal(q->job_ids[0], 5);
	assert_int_equal(q->n_tasks, 3);
	assert_int_equal(q->tasks[0]->array_job_id, 7);
	assert_int_equal(q->tasks[0]->task_id, 2);
	assert_int_equal(q->tasks[2]->array_job_id, 8);
	assert_int_equal(q->tasks[2]->task_id, 1);
	assert_int_equal(q->n_states, 1);
	assert_int_equal(q->states[0], PACER__JOB_STATE__JOB_PENDING);
	assert_true(q->all);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
}

/* A listing of 20,000 jobs: every line there, quickly. */
static void test_queue_many(void **state)
{
	(void)state;
	enum { N = 20000 };
	Pacer__JobSummary *jobs = calloc(N, sizeof(*jobs)), **ptrs = calloc(N, sizeof(*ptrs));
	Pacer__QueueReply qr = PACER__QUEUE_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct timespec t0, t1;
	struct result r;
	struct fake f;
	size_t lines = 0;
	DECL(argv, "queue");

	if (!have_munge)
		skip();
	for (int i = 0; i < N; i++) {
		Pacer__JobSummary j = PACER__JOB_SUMMARY__INIT;

		j.id = (uint32_t)i + 1;
		j.name = "job";
		j.user = "alice";
		j.partition = "batch";
		j.state = i % 2 ? PACER__JOB_STATE__JOB_RUNNING : PACER__JOB_STATE__JOB_PENDING;
		j.reason = "Priority";
		j.start_time = 1;
		j.nodes = 1;
		j.nodelist = "n1";
		jobs[i] = j;
		ptrs[i] = &jobs[i];
	}
	qr.jobs = ptrs;
	qr.n_jobs = N;
	qr.now = 61;
	reply.body_case = PACER__MSG__BODY_QUEUE_REPLY;
	reply.queue_reply = &qr;
	fake_start(&f, &reply);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_cmd(&r, cmd_queue, "queue", argv_c, argv);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	req = fake_request(&f);
	assert_int_equal(r.rc, 0);
	for (const char *p = r.out; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, N + 1);
	assert_non_null(strstr(r.out, "\n             20000     batch      job    alice  R"
				      "       1:00      1 n1\n"));
	assert_non_null(strstr(r.out, "\n             19999     batch      job    alice PD"
				      "       0:00      1 (Priority)\n"));
	/* Generous for sanitizer builds; a plain build takes a few ms. */
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
	free(jobs);
	free(ptrs);
}

static void test_queue_errors(void **state)
{
	(void)state;
	struct result r;
	DECL(fmt, "queue", "--format=%i %z");
	DECL(st, "queue", "-t", "DONE");
	DECL(user, "queue", "--user", "no-such-user-xq");
	DECL(extra, "queue", "42");

	write_conf(1);
	run_cmd(&r, cmd_queue, "queue", fmt_c, fmt);
	assert_int_equal(r.rc, 1);
	assert_string_equal(
	    r.err, "pacer queue: bad --format: unknown field '%z' in format "
		   "(fields: %i %j %u %P %t %T %M %l %L %D %C %R %N %r %V %S %e %Q %U %A %F "
		   "%K)\n");
	result_free(&r);
	run_cmd(&r, cmd_queue, "queue", st_c, st);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "pacer queue: unknown job state 'DONE' (states: PENDING "
				   "RUNNING COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL REQUEUED "
				   "OUT_OF_MEMORY, or PD R CD F CA TO NF RQ OOM)\n");
	result_free(&r);
	run_cmd(&r, cmd_queue, "queue", user_c, user);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "pacer queue: unknown user 'no-such-user-xq' (check the name "
				   "with: id no-such-user-xq)\n");
	result_free(&r);
	run_cmd(&r, cmd_queue, "queue", extra_c, extra);
	assert_int_equal(r.rc, 2);
	assert_string_equal(
	    r.err,
	    "pacer queue: unexpected argument '42' (give job ids with "
	    "--job ID)\nUsage: pacer queue [OPTIONS]\nTry 'pacer queue --help' for more information.\n");
	result_free(&r);
}

/* ---------------------------------------------------------------------------
 * cancel, hold, release */

static void test_cancel(void **state)
{
	(void)state;
	Pacer__JobResult ok = PACER__JOB_RESULT__INIT, bad = PACER__JOB_RESULT__INIT;
	Pacer__JobResult *results[] = { &ok, &bad };
	Pacer__CancelReply cr = PACER__CANCEL_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "cancel", "12", "--signal", "USR1", "13,14", "20_[3-4],21_0");

	if (!have_munge)
		skip();
	ok.job_id = 12;
	bad.job_id = 13;
	bad.code = ENOENT;
	bad.message = "job 13 does not exist"; /* the controller's words */
	cr.results = results;
	cr.n_results = 2;
	reply.body_case = PACER__MSG__BODY_CANCEL_REPLY;
	reply.cancel_reply = &cr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_cancel, "cancel", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "pacer cancel: job 13 does not exist\n");
	assert_int_equal(req->cancel->n_job_ids, 3);
	assert_int_equal(req->cancel->job_ids[0], 12);
	assert_int_equal(req->cancel->job_ids[2], 14);
	assert_int_equal(req->cancel->signal, 10);
	assert_false(req->cancel->by_user);
	assert_int_equal(req->cancel->n_tasks, 3);
	assert_int_equal(req->cancel->tasks[0]->array_job_id, 20);
	assert_int_equal(req->cancel->tasks[1]->task_id, 4);
	assert_int_equal(req->cancel->tasks[2]->array_job_id, 21);
	assert_int_equal(req->cancel->tasks[2]->task_id, 0);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
}

static void test_cancel_user(void **state)
{
	(void)state;
	Pacer__CancelReply cr = PACER__CANCEL_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "cancel", "--user=root");

	if (!have_munge)
		skip();
	reply.body_case = PACER__MSG__BODY_CANCEL_REPLY;
	reply.cancel_reply = &cr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_cancel, "cancel", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
	assert_true(req->cancel->by_user);
	assert_int_equal(req->cancel->uid, 0);
	assert_int_equal(req->cancel->n_job_ids, 0);
	assert_int_equal(req->cancel->signal, 0);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
}

static void test_cancel_errors(void **state)
{
	(void)state;
	struct result r;
	DECL(none, "cancel");
	DECL(abc, "cancel", "abc");
	DECL(both, "cancel", "-u", "root", "5");
	DECL(both_task, "cancel", "-u", "root", "5_1");
	DECL(sig, "cancel", "-s", "NOPE", "5");
	DECL(task, "cancel", "5_[2-1]");

	write_conf(1);
	run_cmd(&r, cmd_cancel, "cancel", none_c, none);
	assert_int_equal(r.rc, 2);
	assert_string_equal(
	    r.err,
	    "pacer cancel: no job to cancel (give job ids, or --user "
	    "USER)\nUsage: pacer cancel [OPTIONS] ID...\nTry 'pacer cancel --help' for more information.\n");
	result_free(&r);
	run_cmd(&r, cmd_cancel, "cancel", abc_c, abc);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "pacer cancel: invalid job id 'abc' (a job id is a whole "
				   "number like 42)\n");
	result_free(&r);
	run_cmd(&r, cmd_cancel, "cancel", both_c, both);
	assert_int_equal(r.rc, 2);
	result_free(&r);
	run_cmd(&r, cmd_cancel, "cancel", both_task_c, both_task);
	assert_int_equal(r.rc, 2);
	result_free(&r);
	run_cmd(&r, cmd_cancel, "cancel", task_c, task);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "pacer cancel: invalid array task '5_[2-1]' (write one task as "
				   "42_7, several as 42_[1-3,5])\n");
	result_free(&r);
	run_cmd(&r, cmd_cancel, "cancel", sig_c, sig);
	assert_int_equal(r.rc, 1);
	result_free(&r);
}

static void test_release(void **state)
{
	(void)state;
	Pacer__HoldReply hr = PACER__HOLD_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "release", "8", "9_1");
	DECL(none, "hold");

	if (!have_munge)
		skip();
	reply.body_case = PACER__MSG__BODY_HOLD_REPLY;
	reply.hold_reply = &hr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_release, "release", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 0);
	assert_true(req->hold->release);
	assert_int_equal(req->hold->n_job_ids, 1);
	assert_int_equal(req->hold->job_ids[0], 8);
	assert_int_equal(req->hold->n_tasks, 1);
	assert_int_equal(req->hold->tasks[0]->array_job_id, 9);
	assert_int_equal(req->hold->tasks[0]->task_id, 1);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);

	run_cmd(&r, cmd_hold, "hold", none_c, none);
	assert_int_equal(r.rc, 2);
	assert_string_equal(
	    r.err, "pacer hold: no job to hold (give job ids)\n"
		   "Usage: pacer hold ID...\nTry 'pacer hold --help' for more information.\n");
	result_free(&r);
}

/* ---------------------------------------------------------------------------
 * nodes and show */

static void test_nodes(void **state)
{
	(void)state;
	Pacer__NodeInfo n = PACER__NODE_INFO__INIT, *nodes[] = { &n };
	Pacer__NodesReply nr = PACER__NODES_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "nodes");

	if (!have_munge)
		skip();
	n.name = "n1";
	n.state = PACER__NODE_STATE__NODE_UP;
	n.cpus = 4;
	nr.nodes = nodes;
	nr.n_nodes = 1;
	reply.body_case = PACER__MSG__BODY_NODES_REPLY;
	reply.nodes_reply = &nr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_nodes, "nodes", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "NODELIST STATE CPUS(A/T) S:C:T MEMORY(A/T) GPUS(A/T) FEATURES "
				   "PARTITIONS REASON\n"
				   "n1       idle  0/4       -     0/0         0/0       (none)   "
				   "(none)     none\n");
	assert_int_equal(req->body_case, PACER__MSG__BODY_NODES);
	/* The list needs no layouts. */
	assert_int_equal(req->nodes->n_names, 0);
	assert_false(req->nodes->layout);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
}

static void test_show_job(void **state)
{
	(void)state;
	Pacer__QueueReply qr = PACER__QUEUE_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "show", "job", "42_4");
	DECL(bad, "show", "jobs");
	DECL(badid, "show", "job", "42_x");

	if (!have_munge)
		skip();
	reply.body_case = PACER__MSG__BODY_QUEUE_REPLY;
	reply.queue_reply = &qr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_show, "show", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, "pacer show job: job 42_4 not found (it may have ended long "
				   "enough ago to be forgotten)\n");
	assert_true(req->queue->full);
	assert_true(req->queue->all);
	assert_int_equal(req->queue->n_job_ids, 0);
	assert_int_equal(req->queue->n_tasks, 1);
	assert_int_equal(req->queue->tasks[0]->array_job_id, 42);
	assert_int_equal(req->queue->tasks[0]->task_id, 4);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);

	run_cmd(&r, cmd_show, "show", badid_c, badid);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.err, "pacer show job: invalid array task '42_x' (write one task as "
				   "42_7, several as 42_[1-3,5])\n");
	result_free(&r);

	run_cmd(&r, cmd_show, "show", bad_c, bad);
	assert_int_equal(r.rc, 2);
	assert_string_equal(
	    r.err,
	    "pacer show: cannot show 'jobs' (pacer show job ID, or pacer "
	    "show node NAME)\nUsage: pacer show job [ID] [--json]\nTry 'pacer show --help' for more information.\n");
	result_free(&r);
}

static void test_show_job_json(void **state)
{
	(void)state;
	Pacer__Job j = PACER__JOB__INIT, *full[] = { &j };
	Pacer__QueueReply qr = PACER__QUEUE_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "show", "--json", "job", "42");

	if (!have_munge)
		skip();
	j.id = 42;
	j.state = PACER__JOB_STATE__JOB_COMPLETED;
	qr.full = full;
	qr.n_full = 1;
	reply.body_case = PACER__MSG__BODY_QUEUE_REPLY;
	reply.queue_reply = &qr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_show, "show", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 0);
	static const char head[] = "{\n  \"id\": 42,\n  \"name\": null,\n";
	static const char tail[] = "  \"spec\": null,\n  \"alloc\": [],\n  \"steps\": []\n}\n";
	assert_memory_equal(r.out, head, sizeof(head) - 1);
	assert_non_null(strstr(r.out, "  \"state\": \"COMPLETED\",\n"));
	assert_true(strlen(r.out) > sizeof(tail));
	assert_string_equal(r.out + strlen(r.out) - (sizeof(tail) - 1), tail);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
}

/* pacer diag --json: before the first scheduling pass there is no last
 * or longest one, so those figures are null rather than 0. */
static void test_diag_json(void **state)
{
	(void)state;
	Pacer__DiagReply dr = PACER__DIAG_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT;
	struct result r;
	struct fake f;
	DECL(argv, "diag", "--json");

	if (!have_munge)
		skip();
	dr.now = 1700000100;
	dr.started = 1700000000;
	dr.nodes = 2;
	reply.body_case = PACER__MSG__BODY_DIAG_REPLY;
	reply.diag_reply = &dr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_diag, "diag", argv_c, argv);
	pacer__msg__free_unpacked(fake_request(&f), NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "{\n"
				   "  \"now\": 1700000100,\n"
				   "  \"started\": 1700000000,\n"
				   "  \"epoch\": 0,\n"
				   "  \"jobs\": 0,\n"
				   "  \"pending\": 0,\n"
				   "  \"running\": 0,\n"
				   "  \"nodes\": 2,\n"
				   "  \"nodes_up\": 0,\n"
				   "  \"topologies\": 0,\n"
				   "  \"sched\": {\n"
				   "    \"passes\": 0,\n"
				   "    \"started\": 0,\n"
				   "    \"last_ms\": null,\n"
				   "    \"max_ms\": null,\n"
				   "    \"total_ms\": 0,\n"
				   "    \"last_jobs\": null,\n"
				   "    \"last_reservations\": null\n"
				   "  },\n"
				   "  \"journal\": {\n"
				   "    \"skipped_records\": 0,\n"
				   "    \"skipped\": []\n"
				   "  }\n"
				   "}\n");
	result_free(&r);

	dr.sched_passes = 3;
	dr.sched_last_ms = 0;
	dr.sched_max_ms = 7;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_diag, "diag", argv_c, argv);
	pacer__msg__free_unpacked(fake_request(&f), NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "    \"last_ms\": 0,\n    \"max_ms\": 7,\n"));
	assert_non_null(strstr(r.out, "    \"last_reservations\": 0\n"));
	result_free(&r);
}

/* Node records hold bare ids: a second request names the jobs, so that
 * an array task shows as ARRAYID_INDEX. */
static void test_show_node_names(void **state)
{
	(void)state;
	Pacer__NodeInfo n = PACER__NODE_INFO__INIT, *nodes[] = { &n };
	Pacer__NodesReply nr = PACER__NODES_REPLY__INIT;
	Pacer__JobSummary t = PACER__JOB_SUMMARY__INIT, *jobs[] = { &t };
	Pacer__QueueReply qr = PACER__QUEUE_REPLY__INIT;
	Pacer__Msg nodes_reply = PACER__MSG__INIT, queue_reply = PACER__MSG__INIT;
	Pacer__Msg *replies[] = { &nodes_reply, &queue_reply }, *reqs[2];
	uint32_t held[] = { 7, 43 };
	struct result r;
	struct fake f;
	DECL(argv, "show", "node");

	if (!have_munge)
		skip();
	n.name = "n1";
	n.state = PACER__NODE_STATE__NODE_UP;
	n.jobs = held;
	n.n_jobs = 2;
	nr.nodes = nodes;
	nr.n_nodes = 1;
	nodes_reply.body_case = PACER__MSG__BODY_NODES_REPLY;
	nodes_reply.nodes_reply = &nr;
	t.id = 43;
	t.array_job_id = 40;
	t.array_task_id = 3;
	qr.jobs = jobs;
	qr.n_jobs = 1;
	queue_reply.body_case = PACER__MSG__BODY_QUEUE_REPLY;
	queue_reply.queue_reply = &qr;
	fake_start_many(&f, replies, 2);
	run_cmd(&r, cmd_show, "show", argv_c, argv);
	assert_int_equal(fake_requests(&f, reqs, 2), 2);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
	assert_non_null(strstr(r.out, "\n   Jobs=7,40_3\n"));
	/* All nodes: no layout asked; then the ids the records hold. */
	assert_int_equal(reqs[0]->nodes->n_names, 0);
	assert_false(reqs[0]->nodes->layout);
	assert_int_equal(reqs[1]->body_case, PACER__MSG__BODY_QUEUE);
	assert_int_equal(reqs[1]->queue->n_job_ids, 2);
	assert_int_equal(reqs[1]->queue->job_ids[0], 7);
	assert_int_equal(reqs[1]->queue->job_ids[1], 43);
	assert_true(reqs[1]->queue->all);
	pacer__msg__free_unpacked(reqs[0], NULL);
	pacer__msg__free_unpacked(reqs[1], NULL);
	result_free(&r);

	/* No answer to the second request: the ids as they are, no error. */
	fake_start(&f, &nodes_reply);
	run_cmd(&r, cmd_show, "show", argv_c, argv);
	pacer__msg__free_unpacked(fake_request(&f), NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.err, "");
	assert_non_null(strstr(r.out, "\n   Jobs=7,43\n"));
	result_free(&r);
}

/* An array's id names all its tasks: --json gives them as a list. */
static void test_show_array_json(void **state)
{
	(void)state;
	Pacer__Job a = PACER__JOB__INIT, b = PACER__JOB__INIT, *full[] = { &a, &b };
	Pacer__QueueReply qr = PACER__QUEUE_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "show", "job", "42", "--json");

	if (!have_munge)
		skip();
	a.id = 42;
	a.array_job_id = 42;
	a.array_task_id = 0;
	b.id = 43;
	b.array_job_id = 42;
	b.array_task_id = 1;
	qr.full = full;
	qr.n_full = 2;
	reply.body_case = PACER__MSG__BODY_QUEUE_REPLY;
	reply.queue_reply = &qr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_show, "show", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 0);
	static const char head[] = "{\n  \"jobs\": [\n    {\n      \"id\": 42,\n";
	assert_memory_equal(r.out, head, sizeof(head) - 1);
	assert_non_null(strstr(r.out, "      \"id\": 43,\n"));
	assert_non_null(
	    strstr(r.out, "      \"array_job_id\": 42,\n      \"array_task_id\": 1,\n"));
	assert_int_equal(req->queue->n_job_ids, 1);
	assert_int_equal(req->queue->job_ids[0], 42);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
}

static void test_show_node(void **state)
{
	(void)state;
	Pacer__NodeInfo a = PACER__NODE_INFO__INIT, b = PACER__NODE_INFO__INIT;
	Pacer__NodeInfo *nodes[] = { &a, &b };
	Pacer__NodesReply nr = PACER__NODES_REPLY__INIT;
	Pacer__Msg reply = PACER__MSG__INIT, *req;
	struct result r;
	struct fake f;
	DECL(argv, "show", "node", "n2");

	if (!have_munge)
		skip();
	a.name = "n1";
	b.name = "n2";
	b.state = PACER__NODE_STATE__NODE_DOWN;
	b.reason = "fenced";
	nr.nodes = nodes;
	nr.n_nodes = 2;
	reply.body_case = PACER__MSG__BODY_NODES_REPLY;
	reply.nodes_reply = &nr;
	fake_start(&f, &reply);
	run_cmd(&r, cmd_show, "show", argv_c, argv);
	req = fake_request(&f);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out,
			    "NodeName=n2 State=DOWN\n"
			    "   Address=(null) Port=0\n"
			    "   CPUTot=0 CPUAlloc=0 RealMemory=0 AllocMem=0\n"
			    "   Sockets=0 CoresPerSocket=- ThreadsPerCore=0 Cores=0 CoresAlloc=0 "
			    "NUMAs=0\n"
			    "   Gpus=0 GpusAlloc=0 AllocPUs=(null)\n"
			    "   Features=(null)\n"
			    "   Partitions=(null)\n"
			    "   Jobs=(null)\n"
			    "   BootId=(null) Version=(null) LastHeard=N/A\n"
			    "   TopologyHash=(null)\n"
			    "   Reason=fenced\n");
	/* One node is asked for by name, with its layout. */
	assert_int_equal(req->nodes->n_names, 1);
	assert_string_equal(req->nodes->names[0], "n2");
	assert_true(req->nodes->layout);
	pacer__msg__free_unpacked(req, NULL);
	result_free(&r);
}

static void test_help(void **state)
{
	(void)state;
	struct result r;
	static const struct {
		const char *name;
		int (*fn)(struct cli *, int, char **);
		const char *first_line;
	} cmds[] = {
		{ "submit", cmd_submit, "Usage: pacer submit [OPTIONS] SCRIPT [ARGS...]\n" },
		{ "queue", cmd_queue, "Usage: pacer queue [OPTIONS]\n" },
		{ "cancel", cmd_cancel, "Usage: pacer cancel [OPTIONS] ID...\n" },
		{ "hold", cmd_hold, "Usage: pacer hold ID...\n" },
		{ "release", cmd_release, "Usage: pacer release ID...\n" },
		{ "nodes", cmd_nodes, "Usage: pacer nodes [OPTIONS]\n" },
		{ "show", cmd_show, "Usage: pacer show job [ID] [--json]\n" },
		{ "diag", cmd_diag, "Usage: pacer diag [OPTIONS]\n" },
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *argv[] = { (char *)cmds[i].name, "--help", NULL };

		run_cmd(&r, cmds[i].fn, cmds[i].name, 2, argv);
		assert_int_equal(r.rc, 0);
		assert_string_equal(r.err, "");
		assert_memory_equal(r.out, cmds[i].first_line, strlen(cmds[i].first_line));
		result_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_submit),          cmocka_unit_test(test_submit_wrap),
		cmocka_unit_test(test_submit_errors),   cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_queue),           cmocka_unit_test(test_queue_start),
		cmocka_unit_test(test_queue_many),      cmocka_unit_test(test_queue_errors),
		cmocka_unit_test(test_cancel),          cmocka_unit_test(test_cancel_user),
		cmocka_unit_test(test_cancel_errors),   cmocka_unit_test(test_release),
		cmocka_unit_test(test_nodes),           cmocka_unit_test(test_show_job),
		cmocka_unit_test(test_show_job_json),   cmocka_unit_test(test_show_array_json),
		cmocka_unit_test(test_diag_json),       cmocka_unit_test(test_show_node),
		cmocka_unit_test(test_show_node_names), cmocka_unit_test(test_help),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
