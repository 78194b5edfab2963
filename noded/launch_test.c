/* launch_test.c - launch_job and track.c with real users, sessions and cgroups.
 *
 * Needs root: it creates the user "pacertest" (and group "pacertestg") when
 * missing and leaves them.  Every process a test starts is registered and
 * killed and reaped by the teardown, even when the test fails; the test
 * makes itself a child subreaper so daemons that escape their job come back
 * to it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"
#include "log.h"
#include "track.h"

/* track.c: pretend no cgroup hierarchy is usable (tests only). */
void track_force_session(void);

#define TEST_USER  "pacertest"
#define TEST_GROUP "pacertestg"
#define WAIT_MS    10000
#define MAX_PIDS   64
#define MAX_TRACKS 16
#define MAX_GIDS   256

static struct {
	bool ready;  /* root, user made, temp dirs made */
	bool forced; /* track_force_session() is in effect */
	char node[64];
	char tmp[256];   /* mkdtemp, 0755 so the user can traverse it */
	char spool[512]; /* made by launch_job */
	uid_t uid;
	gid_t gid;
	char home[PATH_MAX];
	uint32_t next_job;
	pid_t pids[MAX_PIDS];
	int npids;
	struct track *tracks[MAX_TRACKS];
	int ntracks;
} T;

/* ---- helpers --------------------------------------------------------------- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void need_root(void)
{
	if (!T.ready) {
		print_message("launch_test: needs root to switch users and make cgroups; "
			      "skipped (run the suite as root)\n");
		skip();
	}
}

static void add_pid(pid_t pid)
{
	assert_true(T.npids < MAX_PIDS);
	T.pids[T.npids++] = pid;
}

/* Forget PID once reaped: its number may be reused, never kill it later. */
static void drop_pid(pid_t pid)
{
	for (int i = 0; i < T.npids; i++) {
		if (T.pids[i] == pid) {
			T.pids[i] = T.pids[--T.npids];
			return;
		}
	}
}

static struct track *add_track(struct track *t)
{
	assert_non_null(t);
	assert_true(T.ntracks < MAX_TRACKS);
	T.tracks[T.ntracks++] = t;
	return t;
}

static void drop_track(struct track *t)
{
	for (int i = 0; i < T.ntracks; i++) {
		if (T.tracks[i] == t) {
			T.tracks[i] = T.tracks[--T.ntracks];
			return;
		}
	}
}

/* Kill what the test started, then reap every child (escaped daemons
 * included, we are their subreaper) for up to two seconds. */
static int cleanup(void **state)
{
	long deadline = now_ms() + 2000;

	(void)state;
	for (int i = 0; i < T.ntracks; i++)
		track_kill(T.tracks[i]);
	for (int i = 0; i < T.npids; i++)
		kill(T.pids[i], SIGKILL);
	T.npids = 0;
	for (;;) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);

		if (pid < 0 && errno != EINTR)
			break;
		if (pid == 0) {
			if (now_ms() > deadline)
				break;
			sleep_ms(5);
		}
	}
	for (int i = 0; i < T.ntracks; i++)
		track_destroy(T.tracks[i]);
	T.ntracks = 0;
	if (T.forced) {
		track_init(T.node);
		T.forced = false;
	}
	return 0;
}

/* Wait (bounded) for PID to end; returns its wait status. */
static int wait_exit(pid_t pid)
{
	long deadline = now_ms() + WAIT_MS;
	int st = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		assert_true(r == 0 || errno == EINTR);
		if (now_ms() > deadline)
			fail_msg("process %d still running after %d ms", (int)pid, WAIT_MS);
		sleep_ms(5);
	}
	drop_pid(pid);
	return st;
}

static bool wait_empty(struct track *t, long ms)
{
	long deadline = now_ms() + ms;

	while (!track_empty(t)) {
		if (now_ms() > deadline)
			return false;
		sleep_ms(5);
	}
	return true;
}

static bool wait_file(const char *path, long ms)
{
	long deadline = now_ms() + ms;

	while (access(path, F_OK) < 0) {
		if (now_ms() > deadline)
			return false;
		sleep_ms(5);
	}
	return true;
}

/* A fresh directory in the temp dir, writable by the test user. */
static void make_dir(char *buf, size_t len, const char *name, mode_t mode)
{
	assert_true((size_t)snprintf(buf, len, "%s/%s", T.tmp, name) < len);
	assert_int_equal(mkdir(buf, mode), 0);
	assert_int_equal(chmod(buf, mode), 0);
}

static char *slurp(const char *dir, const char *name)
{
	char path[PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	FILE *f, *m;
	int c;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	m = open_memstream(&buf, &len);
	assert_non_null(m);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(f);
	fclose(m);
	return buf;
}

/* The session of PID, from /proc/PID/stat ("pid (comm) state ppid pgrp sid"). */
static int proc_session(pid_t pid)
{
	char dir[64], *text, *p;
	int sid = -1;

	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	text = slurp(dir, "stat");
	p = strrchr(text, ')');
	assert_non_null(p);
	assert_int_equal(sscanf(p + 1, " %*c %*d %*d %d", &sid), 1);
	free(text);
	return sid;
}

static int read_pid(const char *dir, const char *name)
{
	char *s = slurp(dir, name);
	int pid = atoi(s);

	free(s);
	assert_true(pid > 0);
	return pid;
}

static void req_init(struct launch_req *r, const char *workdir, const char *script)
{
	memset(r, 0, sizeof(*r));
	r->job_id = T.next_job++;
	r->uid = T.uid;
	r->gid = T.gid;
	r->user = TEST_USER;
	r->workdir = workdir;
	r->script = (const uint8_t *)script;
	r->script_len = strlen(script);
	r->stdout_path = "out.txt";
	r->spool_dir = T.spool;
}

static pid_t start(const struct launch_req *r, struct track *t)
{
	char err[512] = "";
	pid_t pid = -1;
	int rc = launch_job(r, t, &pid, err, sizeof(err));

	if (rc != 0)
		fail_msg("launch_job: %s (errno %d)", err, errno);
	assert_true(pid > 0);
	add_pid(pid);
	return pid;
}

/* launch_job must fail with errno E and exactly the message WANT. */
static void start_fails(const struct launch_req *r, int e, const char *want)
{
	char err[512] = "", script[PATH_MAX];
	pid_t pid = -1;

	errno = 0;
	assert_int_equal(launch_job(r, NULL, &pid, err, sizeof(err)), -1);
	assert_int_equal(errno, e);
	assert_string_equal(err, want);
	assert_int_equal(pid, -1);
	/* No spooled script is left behind by a failed launch. */
	snprintf(script, sizeof(script), "%s/job.%u.script", T.spool, r->job_id);
	assert_int_equal(access(script, F_OK), -1);
}

static int gid_cmp(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return (x > y) - (x < y);
}

static size_t sort_unique(gid_t *v, size_t n)
{
	size_t w = 0;

	qsort(v, n, sizeof(*v), gid_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!w || v[w - 1] != v[i])
			v[w++] = v[i];
	}
	return w;
}

static size_t parse_gids(const char *line, gid_t *v, size_t max)
{
	size_t n = 0;
	char *end;

	while (*line && n < max) {
		v[n++] = (gid_t)strtoul(line, &end, 10);
		assert_true(end != line);
		line = end + strspn(end, " ");
	}
	return sort_unique(v, n);
}

/* The lines of S, split in place. */
static size_t split_lines(char *s, char **lines, size_t max)
{
	size_t n = 0;

	for (char *save = NULL, *l = strtok_r(s, "\n", &save); l && n < max;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	return n;
}

/* ---- launch ---------------------------------------------------------------- */

static const char id_script[] = "#!/bin/sh\n"
				"id -u\n"
				"id -G\n"
				"pwd\n"
				"echo \"$PACER_JOB_ID\"\n"
				"echo \"$MYVAR\"\n"
				"echo \"$PATH\"\n"
				"echo \"$USER $LOGNAME $HOME\"\n"
				"echo \"$#:$1:$2\"\n"
				"echo to-stderr >&2\n"
				"exit 3\n";

static void test_identity_and_env(void **state)
{
	char work[PATH_MAX], real[PATH_MAX], errpath[PATH_MAX + 8], jobvar[64], script[PATH_MAX];
	char expect_id[32], expect_user[PATH_MAX + 64], *out, *lines[16];
	char *env[] = { "MYVAR=hello world", "PACER_JOB_ID=999", "NO_EQUALS_SIGN", NULL };
	char *argv[] = { "a b", "c", NULL };
	char *pacer_env[] = { jobvar, NULL };
	gid_t got[MAX_GIDS], want[MAX_GIDS];
	int nwant = MAX_GIDS, st;
	size_t ngot;
	struct launch_req r;
	struct stat sb;
	pid_t pid;

	(void)state;
	need_root();
	make_dir(work, sizeof(work), "identity", 0777);
	assert_non_null(realpath(work, real));
	req_init(&r, work, id_script);
	snprintf(jobvar, sizeof(jobvar), "PACER_JOB_ID=%u", r.job_id);
	snprintf(errpath, sizeof(errpath), "%s/err.txt", work);
	r.env = env;
	r.pacer_env = pacer_env;
	r.argv = argv;
	r.stderr_path = errpath;

	pid = start(&r, NULL);
	/* The spooled script: the user's, 0700, in a root-owned 0755 spool. */
	snprintf(script, sizeof(script), "%s/job.%u.script", T.spool, r.job_id);
	assert_int_equal(stat(script, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(sb.st_uid, T.uid);
	assert_int_equal(stat(T.spool, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	assert_int_equal(sb.st_uid, 0);

	st = wait_exit(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 3);

	out = slurp(work, "out.txt");
	assert_int_equal(split_lines(out, lines, 16), 8);
	snprintf(expect_id, sizeof(expect_id), "%u", (unsigned)T.uid);
	assert_string_equal(lines[0], expect_id);
	assert_int_not_equal(T.uid, 0);
	/* Groups: exactly what NSS lists for the user, our extra group included. */
	assert_true(getgrouplist(TEST_USER, T.gid, want, &nwant) >= 0);
	nwant = (int)sort_unique(want, (size_t)nwant);
	ngot = parse_gids(lines[1], got, MAX_GIDS);
	assert_int_equal(ngot, nwant);
	assert_memory_equal(got, want, ngot * sizeof(gid_t));
	assert_true(nwant >= 2);
	assert_string_equal(lines[2], real);
	assert_string_equal(lines[3], jobvar + strlen("PACER_JOB_ID="));
	assert_string_equal(lines[4], "hello world");
	assert_string_equal(lines[5], "/usr/local/bin:/usr/bin:/bin");
	snprintf(expect_user, sizeof(expect_user), "%s %s %s", TEST_USER, TEST_USER, T.home);
	assert_string_equal(lines[6], expect_user);
	assert_string_equal(lines[7], "2:a b:c");
	free(out);

	out = slurp(work, "err.txt");
	assert_string_equal(out, "to-stderr\n");
	free(out);

	launch_cleanup(T.spool, r.job_id);
	assert_int_equal(stat(script, &sb), -1);
	assert_int_equal(errno, ENOENT);
}

/* One file for both streams (named two ways), stdin from /dev/null, no
 * inherited descriptors. */
static void test_shared_output_and_clean_fds(void **state)
{
	static const char script[] =
	    "#!/bin/sh\n"
	    "echo one\n"
	    "echo two >&2\n"
	    "echo three\n"
	    "readlink /proc/$$/fd/0\n"
	    "if [ -e /proc/$$/fd/50 ]; then echo leaked; else echo closed; fi\n";
	char work[PATH_MAX], errpath[PATH_MAX + 16], *out;
	int pipefd[2], saved_stdin, st;
	struct launch_req r;
	pid_t pid;

	(void)state;
	need_root();
	make_dir(work, sizeof(work), "shared", 0777);
	req_init(&r, work, script);
	r.stdout_path = "both.txt";
	snprintf(errpath, sizeof(errpath), "%s/both.txt", work);
	r.stderr_path = errpath;

	/* A daemon's stdin and a stray descriptor must not reach the job. */
	assert_int_equal(pipe(pipefd), 0);
	saved_stdin = dup(0);
	assert_true(saved_stdin >= 0);
	assert_int_equal(dup2(pipefd[0], 0), 0);
	assert_int_equal(dup2(pipefd[1], 50), 50);
	pid = start(&r, NULL);
	dup2(saved_stdin, 0);
	close(saved_stdin);
	close(50);
	close(pipefd[0]);
	close(pipefd[1]);

	st = wait_exit(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	out = slurp(work, "both.txt");
	assert_string_equal(out, "one\ntwo\nthree\n/dev/null\nclosed\n");
	free(out);
	launch_cleanup(T.spool, r.job_id);
}

/* PROG's full path from $PATH, into BUF. */
static bool find_program(const char *prog, char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char *dirs, *save = NULL;
	bool found = false;

	dirs = strdup(path && *path ? path : "/usr/bin:/bin");
	assert_non_null(dirs);
	for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/%s", d, prog);
		found = access(buf, X_OK) == 0;
	}
	free(dirs);
	return found;
}

/* "SigBlk:" and "SigIgn:" of PID, one per line. */
static char *signal_state(pid_t pid)
{
	char dir[64], *text, *lines[128], *res = NULL;
	size_t n, len = 0;
	FILE *m = open_memstream(&res, &len);

	assert_non_null(m);
	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	text = slurp(dir, "status");
	n = split_lines(text, lines, 128);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(lines[i], "SigBlk:", 7) == 0 || strncmp(lines[i], "SigIgn:", 7) == 0)
			fprintf(m, "%s\n", lines[i]);
	}
	free(text);
	fclose(m);
	return res;
}

/* Ignored signals and the mask of the daemon do not reach the job.  The
 * interpreter is "tail -f": unlike a shell, it keeps what it inherited. */
static void test_signal_state(void **state)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_usr1;
	char work[PATH_MAX], tail[PATH_MAX], script[PATH_MAX + 16], *sigs;
	sigset_t usr2, old_mask;
	struct launch_req r;
	struct track *t;
	pid_t pid;
	int st;

	(void)state;
	need_root();
	if (!find_program("tail", tail, sizeof(tail)))
		skip();
	snprintf(script, sizeof(script), "#!%s -f\n", tail);
	make_dir(work, sizeof(work), "signals", 0777);
	req_init(&r, work, script);
	t = add_track(track_create(r.job_id));

	sigaction(SIGUSR1, &ign, &old_usr1);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigprocmask(SIG_BLOCK, &usr2, &old_mask);
	pid = start(&r, t);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGUSR1, &old_usr1, NULL);

	sigs = signal_state(pid);
	assert_string_equal(sigs, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
	free(sigs);
	assert_int_equal(track_kill(t), 0);
	st = wait_exit(pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	launch_cleanup(T.spool, r.job_id);
}

static void test_bad_workdir(void **state)
{
	static const char dir[] = "/nonexistent-pacer-test/dir";
	struct launch_req r;

	(void)state;
	need_root();
	req_init(&r, dir, id_script);
	start_fails(&r, ENOENT,
		    "cannot chdir to /nonexistent-pacer-test/dir as pacertest: "
		    "No such file or directory");
}

/* The chdir happens as the user: root could enter this directory. */
static void test_workdir_forbidden(void **state)
{
	char dir[PATH_MAX], want[PATH_MAX + 64];
	struct launch_req r;

	(void)state;
	need_root();
	make_dir(dir, sizeof(dir), "private", 0700);
	req_init(&r, dir, id_script);
	snprintf(want, sizeof(want), "cannot chdir to %s as pacertest: Permission denied", dir);
	start_fails(&r, EACCES, want);
}

static void test_output_forbidden(void **state)
{
	char work[PATH_MAX], ro[PATH_MAX], path[PATH_MAX + 8], want[PATH_MAX + 64];
	struct launch_req r;

	(void)state;
	need_root();
	make_dir(work, sizeof(work), "outforbidden", 0777);
	make_dir(ro, sizeof(ro), "readonly", 0755);
	snprintf(path, sizeof(path), "%s/out", ro);

	req_init(&r, work, id_script);
	r.stdout_path = path;
	snprintf(want, sizeof(want), "cannot open output file %s as pacertest: Permission denied",
		 path);
	start_fails(&r, EACCES, want);

	req_init(&r, work, id_script);
	r.stderr_path = path;
	snprintf(want, sizeof(want), "cannot open error file %s as pacertest: Permission denied",
		 path);
	start_fails(&r, EACCES, want);
}

static void test_not_a_script(void **state)
{
	char work[PATH_MAX], want[2 * PATH_MAX];
	struct launch_req r;

	(void)state;
	need_root();
	make_dir(work, sizeof(work), "noshebang", 0777);
	req_init(&r, work, "echo no interpreter line\n");
	snprintf(want, sizeof(want),
		 "cannot execute %s/job.%u.script as pacertest: Exec format error "
		 "(a batch script must start with #!)",
		 T.spool, r.job_id);
	start_fails(&r, ENOEXEC, want);
}

static void test_bad_request(void **state)
{
	char want[128];
	struct launch_req r;

	(void)state;
	need_root();
	req_init(&r, "relative/dir", id_script);
	snprintf(want, sizeof(want),
		 "job %u: working directory \"relative/dir\" is not an absolute path", r.job_id);
	start_fails(&r, EINVAL, want);

	req_init(&r, "/", id_script);
	r.stdout_path = NULL;
	snprintf(want, sizeof(want), "job %u has no output file", r.job_id);
	start_fails(&r, EINVAL, want);

	req_init(&r, "/", id_script);
	r.script_len = 0;
	snprintf(want, sizeof(want), "job %u has an empty script", r.job_id);
	start_fails(&r, EINVAL, want);
}

/* A name that NSS maps to another uid must not lend that user's groups. */
static void test_uid_mismatch(void **state)
{
	char want[256];
	struct launch_req r;

	(void)state;
	need_root();
	req_init(&r, "/", id_script);
	r.uid = T.uid + 1;
	snprintf(want, sizeof(want),
		 "user pacertest is uid %u on this node, but job %u runs as uid %u: "
		 "make the user databases agree",
		 (unsigned)T.uid, r.job_id, (unsigned)r.uid);
	start_fails(&r, EPERM, want);
}

/* A user NSS does not know runs with its uid and gid only. */
static void test_unknown_user(void **state)
{
	static const char script[] = "#!/bin/sh\nid -u\nid -G\necho \"$USER ${HOME-nohome}\"\n";
	char work[PATH_MAX], *out;
	struct launch_req r;
	int st;

	(void)state;
	need_root();
	assert_null(getpwnam("pacer-nosuch-user"));
	assert_null(getpwuid(54321));
	make_dir(work, sizeof(work), "unknown", 0777);
	req_init(&r, work, script);
	r.user = "pacer-nosuch-user";
	r.uid = 54321;
	r.gid = 54322;
	st = wait_exit(start(&r, NULL));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	out = slurp(work, "out.txt");
	assert_string_equal(out, "54321\n54322\npacer-nosuch-user nohome\n");
	free(out);
	launch_cleanup(T.spool, r.job_id);
}

/* ---- tracking -------------------------------------------------------------- */

static bool cgroup_mode(void)
{
	return strncmp(track_method(), "cgroup", 6) == 0;
}

/* A daemon that leaves the job's session is still the job's in a cgroup. */
static void test_track_escaped_daemon(void **state)
{
	static const char script[] =
	    "#!/bin/sh\n"
	    "(setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > daemon.pid)\n"
	    "exit 0\n";
	char work[PATH_MAX];
	struct launch_req r;
	struct track *t, *found;
	pid_t pid, daemon;
	int st;

	(void)state;
	need_root();
	if (!cgroup_mode()) {
		print_message("no writable cgroup hierarchy here: escaped daemons cannot be "
			      "tracked; skipped\n");
		skip();
	}
	make_dir(work, sizeof(work), "daemon", 0777);
	req_init(&r, work, script);
	t = add_track(track_create(r.job_id));
	pid = start(&r, t);
	st = wait_exit(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);

	daemon = read_pid(work, "daemon.pid");
	add_pid(daemon);
	assert_int_equal(kill(daemon, 0), 0);
	/* It really leaves the script's session (setsid may still be starting). */
	for (long deadline = now_ms() + WAIT_MS; proc_session(daemon) != daemon;) {
		assert_true(now_ms() < deadline);
		sleep_ms(5);
	}
	assert_false(track_empty(t));

	/* A later daemon run finds the job again. */
	found = add_track(track_find(r.job_id));
	assert_false(track_empty(found));

	assert_int_equal(track_kill(found), 0);
	assert_true(wait_empty(t, 1000));
	st = wait_exit(daemon);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);

	drop_track(found);
	track_destroy(found);
	drop_track(t);
	track_destroy(t);
	assert_null(track_find(r.job_id));
	assert_int_equal(errno, ENOENT);
	launch_cleanup(T.spool, r.job_id);
}

/* SIGTERM reaches the script and its child; then nobody is left. */
static void signal_job(const char *name)
{
	static const char script[] = "#!/bin/sh\n"
				     "sleep 300 &\n"
				     "echo $! > child.pid\n"
				     "echo ready > ready\n"
				     "wait\n";
	char work[PATH_MAX], ready[PATH_MAX + 8];
	struct launch_req r;
	struct track *t;
	pid_t pid, child;
	int st;

	make_dir(work, sizeof(work), name, 0777);
	snprintf(ready, sizeof(ready), "%s/ready", work);
	req_init(&r, work, script);
	t = add_track(track_create(r.job_id));
	pid = start(&r, t);
	assert_true(wait_file(ready, WAIT_MS));
	child = read_pid(work, "child.pid");
	add_pid(child);
	assert_false(track_empty(t));

	assert_int_equal(track_signal(t, SIGTERM), 0);
	st = wait_exit(pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	st = wait_exit(child);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	assert_true(wait_empty(t, 1000));
	errno = 0;
	assert_int_equal(track_signal(t, SIGTERM), -1);
	assert_int_equal(errno, ESRCH);

	drop_track(t);
	track_destroy(t);
	launch_cleanup(T.spool, r.job_id);
}

static void test_track_signal(void **state)
{
	(void)state;
	need_root();
	signal_job("signal");
}

/* The same without cgroups: the job's session is what is tracked. */
static void test_track_session(void **state)
{
	char work[PATH_MAX];
	struct launch_req r;
	struct track *t;
	pid_t pid;
	int st;

	(void)state;
	need_root();
	track_force_session();
	T.forced = true;
	assert_string_equal(track_method(), "session");
	errno = 0;
	assert_null(track_find(1));
	assert_int_equal(errno, ENOENT);
	signal_job("session-signal");

	/* track_kill takes the script and its background child. */
	make_dir(work, sizeof(work), "session-kill", 0777);
	req_init(&r, work, "#!/bin/sh\nsleep 300 &\nsleep 300\n");
	t = add_track(track_create(r.job_id));
	pid = start(&r, t);
	assert_int_equal(track_kill(t), 0);
	st = wait_exit(pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_true(wait_empty(t, 1000));
	launch_cleanup(T.spool, r.job_id);
}

/* ---- setup ----------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static bool make_user(void)
{
	struct passwd *pw;

	if (!getpwnam(TEST_USER) &&
	    system("useradd -M -N -s /bin/sh " TEST_USER " >/dev/null 2>&1") != 0)
		return false;
	/* A supplementary group, so the group test has something to find. */
	if (!getgrnam(TEST_GROUP) && system("groupadd " TEST_GROUP " >/dev/null 2>&1") != 0)
		return false;
	if (system("id -Gn " TEST_USER " | grep -qw " TEST_GROUP " || "
		   "usermod -a -G " TEST_GROUP " " TEST_USER " >/dev/null 2>&1") != 0)
		return false;
	pw = getpwnam(TEST_USER);
	if (!pw)
		return false;
	T.uid = pw->pw_uid;
	T.gid = pw->pw_gid;
	snprintf(T.home, sizeof(T.home), "%s", pw->pw_dir);
	return true;
}

static int group_setup(void **state)
{
	const char *tmpdir = getenv("TMPDIR");

	(void)state;
	log_init("launch_test", LOG_INFO);
	if (geteuid() != 0)
		return 0;
	if (!make_user()) {
		print_message("launch_test: cannot create user %s\n", TEST_USER);
		return 0;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (!tmpdir || !*tmpdir)
		tmpdir = "/tmp";
	snprintf(T.tmp, sizeof(T.tmp), "%s/pacer-launch-XXXXXX", tmpdir);
	if (!mkdtemp(T.tmp) || chmod(T.tmp, 0755) < 0)
		return -1;
	/* launch_job makes the spool itself. */
	snprintf(T.spool, sizeof(T.spool), "%s/spool/noded", T.tmp);
	snprintf(T.node, sizeof(T.node), "launchtest%d", (int)getpid());
	track_init(T.node);
	T.next_job = 1000;
	T.ready = true;
	return 0;
}

static int group_teardown(void **state)
{
	const char *method = track_method();

	cleanup(state);
	/* Our per-node cgroup subtree ("cgroup2 /sys/fs/cgroup/.../pacer_<node>"). */
	if (strncmp(method, "cgroup", 6) == 0 && strchr(method, ' '))
		rmdir(strchr(method, ' ') + 1);
	if (T.tmp[0])
		nftw(T.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_identity_and_env, cleanup),
		cmocka_unit_test_teardown(test_shared_output_and_clean_fds, cleanup),
		cmocka_unit_test_teardown(test_signal_state, cleanup),
		cmocka_unit_test_teardown(test_bad_workdir, cleanup),
		cmocka_unit_test_teardown(test_workdir_forbidden, cleanup),
		cmocka_unit_test_teardown(test_output_forbidden, cleanup),
		cmocka_unit_test_teardown(test_not_a_script, cleanup),
		cmocka_unit_test_teardown(test_bad_request, cleanup),
		cmocka_unit_test_teardown(test_uid_mismatch, cleanup),
		cmocka_unit_test_teardown(test_unknown_user, cleanup),
		cmocka_unit_test_teardown(test_track_escaped_daemon, cleanup),
		cmocka_unit_test_teardown(test_track_signal, cleanup),
		cmocka_unit_test_teardown(test_track_session, cleanup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
