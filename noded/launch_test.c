/* launch_test.c - launch_job, track.c, confine.c, bind.c and jobenv.c with
 * real users, sessions, cgroups and hwloc binding.
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
#include <hwloc.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
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

#include "bind.h"
#include "confine.h"
#include "jobenv.h"
#include "launch.h"
#include "log.h"
#include "topo.h"
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
	struct confine *confines[MAX_TRACKS];
	int nconfines;
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
	for (int i = 0; i < T.nconfines; i++)
		confine_destroy(T.confines[i]);
	T.nconfines = 0;
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

/* ---- binding --------------------------------------------------------------- */

#define TEST_NODE "testnode"

/* The CPUs this test may run on, as the kernel says (sched_getaffinity). */
static size_t allowed_cpus(uint32_t *v, size_t max)
{
	cpu_set_t set;
	size_t n = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++)
		if (CPU_ISSET(cpu, &set))
			v[n++] = (uint32_t)cpu;
	assert_true(n > 0);
	return n;
}

/* A CPU list as the kernel writes Cpus_allowed_list ("0-2,5"). */
static void list_str(const uint32_t *v, size_t n, char *buf, size_t len)
{
	assert_true((size_t)topo_list_format(v, n, buf, len) < len);
}

/* A CPU set as taskset prints a mask: hex, no leading zeros. */
static void mask_str(const uint32_t *v, size_t n, char *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	uint32_t top = 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		top = v[i] > top ? v[i] : top;
	for (long nib = top / 4; nib >= 0; nib--) {
		int d = 0;

		for (size_t i = 0; i < n; i++)
			if (v[i] / 4 == (uint32_t)nib)
				d |= 1 << (v[i] % 4);
		assert_true(k + 1 < len);
		buf[k++] = digits[d];
	}
	buf[k] = '\0';
}

/* This machine's topology, read by the test itself (bind.c has its own). */
static hwloc_topology_t real_topology(void)
{
	hwloc_topology_t t;

	assert_int_equal(hwloc_topology_init(&t), 0);
	assert_int_equal(hwloc_topology_load(t), 0);
	return t;
}

/* The os index of the NUMA node holding PU os index CPU. */
static uint32_t numa_of(hwloc_topology_t t, uint32_t cpu)
{
	hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(t, cpu);

	assert_non_null(pu);
	assert_false(hwloc_bitmap_iszero(pu->nodeset));
	return (uint32_t)hwloc_bitmap_first(pu->nodeset);
}

static struct bind *bind_new(bool emulated)
{
	struct bind *b = NULL;
	char err[256] = "";

	if (bind_init(emulated, &b, err, sizeof(err)) < 0)
		fail_msg("bind_init: %s", err);
	return b;
}

static struct bind_plan *plan_ok(const struct bind *b, const char *cpuset, const char *mems,
				 const char *cpu_bind)
{
	struct bind_req br = { .job_id = T.next_job,
			       .node = TEST_NODE,
			       .cpuset = cpuset,
			       .mems = mems,
			       .cpu_bind = cpu_bind };
	struct bind_plan *p = NULL;
	char err[512] = "";

	if (bind_plan_make(b, &br, &p, err, sizeof(err)) < 0)
		fail_msg("bind_plan_make(%s, %s, %s): %s", cpuset, mems, cpu_bind, err);
	return p;
}

static void plan_fails(const struct bind *b, const char *cpuset, const char *cpu_bind,
		       const char *want)
{
	struct bind_req br = {
		.job_id = 77, .node = TEST_NODE, .cpuset = cpuset, .mems = "", .cpu_bind = cpu_bind
	};
	struct bind_plan *p = NULL;
	char err[512] = "";

	errno = 0;
	assert_int_equal(bind_plan_make(b, &br, &p, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(p);
	assert_string_equal(err, want);
}

/* What a bound script sees of itself: its affinity through sched_getaffinity
 * (taskset), the kernel's list, and the memory policy of its first mapping. */
static const char affinity_script[] = "#!/bin/sh\n"
				      "taskset -p $$\n"
				      "grep Cpus_allowed_list: /proc/$$/status | cut -f2\n"
				      "head -n 1 /proc/$$/numa_maps | sed 's/^[0-9a-f]* //; "
				      "s/ [a-z]*=.*//'\n";

/* Launch the affinity script bound by PLAN; its output lines into OUT. */
static pid_t run_affinity(const struct bind_plan *plan, const char *name, char *out, size_t len)
{
	char work[PATH_MAX], *text;
	struct launch_req r;
	pid_t pid;
	int st;

	if (access("/usr/bin/taskset", X_OK) < 0 && access("/bin/taskset", X_OK) < 0)
		skip();
	make_dir(work, sizeof(work), name, 0777);
	req_init(&r, work, affinity_script);
	r.stderr_path = "err.txt";
	r.bind = plan;
	pid = start(&r, NULL);
	st = wait_exit(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	text = slurp(work, "out.txt");
	snprintf(out, len, "%s", text);
	free(text);
	launch_cleanup(T.spool, r.job_id);
	return pid;
}

/* OUT is the affinity script's: process PID has the mask MASK, the list
 * LIST, and memory bound to MEMS (NULL: the default policy).  hwloc's
 * MEMBIND_BIND is a preference on Linux ("prefer:0", or "prefer (many):0"
 * on kernels with MPOL_PREFERRED_MANY); with STRICT it would be "bind:0". */
static void check_affinity(const char *out, pid_t pid, const char *mask, const char *list,
			   const char *mems)
{
	char want[512], *copy = strdup(out), *lines[8], *colon;

	assert_non_null(copy);
	assert_int_equal(split_lines(copy, lines, 8), 3);
	snprintf(want, sizeof(want), "pid %d's current affinity mask: %s", (int)pid, mask);
	assert_string_equal(lines[0], want);
	assert_string_equal(lines[1], list);
	if (!mems) {
		assert_string_equal(lines[2], "default");
	} else {
		colon = strrchr(lines[2], ':');
		assert_non_null(colon);
		assert_true(strncmp(lines[2], "prefer", 6) == 0 ||
			    strncmp(lines[2], "bind:", 5) == 0);
		assert_string_equal(colon + 1, mems);
	}
	free(copy);
}

/* The batch script is bound to the job's whole cpuset and its memory to the
 * job's NUMA nodes; both survive exec. */
static void test_bind_cpuset_and_memory(void **state)
{
	uint32_t cpus[CPU_SETSIZE], numa;
	char cpuset[32], mems[32], mask[64], out[512];
	hwloc_topology_t t;
	struct bind *b;
	struct bind_plan *p;
	size_t n;
	pid_t pid;

	(void)state;
	need_root();
	n = allowed_cpus(cpus, CPU_SETSIZE);
	t = real_topology();
	numa = numa_of(t, cpus[n - 1]);
	hwloc_topology_destroy(t);
	/* The last CPU we may use: not where an unbound process lands first. */
	list_str(&cpus[n - 1], 1, cpuset, sizeof(cpuset));
	list_str(&numa, 1, mems, sizeof(mems));
	b = bind_new(false);
	p = plan_ok(b, cpuset, mems, "");
	assert_string_equal(bind_plan_cpus(p), cpuset);
	assert_string_equal(bind_plan_mems(p), mems);
	pid = run_affinity(p, "bind-cpuset", out, sizeof(out));
	mask_str(&cpus[n - 1], 1, mask, sizeof(mask));
	check_affinity(out, pid, mask, cpuset, mems);
	bind_plan_free(p);

	/* Without a cpuset (no placement): nothing is bound. */
	p = plan_ok(b, "", "", "");
	assert_string_equal(bind_plan_cpus(p), "");
	pid = run_affinity(p, "bind-nothing", out, sizeof(out));
	mask_str(cpus, n, mask, sizeof(mask));
	list_str(cpus, n, cpuset, sizeof(cpuset));
	check_affinity(out, pid, mask, cpuset, NULL);
	bind_plan_free(p);
	bind_destroy(b);
}

/* --cpu-bind=none leaves CPUs and memory alone; map_cpu takes the first CPU
 * of its list, which must be the job's. */
static void test_bind_none_and_map_cpu(void **state)
{
	uint32_t cpus[CPU_SETSIZE];
	char all[256], one[32], mask[64], want[512], out[512], spec[64];
	struct bind *b;
	struct bind_plan *p;
	size_t n;
	pid_t pid;

	(void)state;
	need_root();
	n = allowed_cpus(cpus, CPU_SETSIZE);
	list_str(cpus, n, all, sizeof(all));
	b = bind_new(false);

	p = plan_ok(b, all, "", "none");
	assert_string_equal(bind_plan_cpus(p), all);
	pid = run_affinity(p, "bind-none", out, sizeof(out));
	mask_str(cpus, n, mask, sizeof(mask));
	check_affinity(out, pid, mask, all, NULL);
	bind_plan_free(p);

	/* map_cpu:LAST,FIRST: the script gets LAST (the job's whole cpuset
	 * still goes to its cgroup). */
	snprintf(spec, sizeof(spec), "map_cpu:%u,%u", cpus[n - 1], cpus[0]);
	p = plan_ok(b, all, "", spec);
	assert_string_equal(bind_plan_cpus(p), all);
	pid = run_affinity(p, "bind-map", out, sizeof(out));
	mask_str(&cpus[n - 1], 1, mask, sizeof(mask));
	list_str(&cpus[n - 1], 1, one, sizeof(one));
	check_affinity(out, pid, mask, one, NULL);
	bind_plan_free(p);

	/* A CPU the job does not hold. */
	snprintf(spec, sizeof(spec), "verbose,map_cpu:%u", cpus[n - 1] + 1);
	list_str(cpus, n, all, sizeof(all));
	snprintf(want, sizeof(want),
		 "job 77: --cpu-bind=%s names CPU %u, which the job does not hold on " TEST_NODE
		 " (it holds %s): give CPUs of the job's allocation",
		 spec, cpus[n - 1] + 1, all);
	plan_fails(b, all, spec, want);
	bind_destroy(b);
}

/* Slurm's line on the job's stderr, with the mask the kernel holds. */
static void verbose_case(const struct bind *b, const char *cpuset, const char *cpu_bind,
			 const char *head, const uint32_t *mask_cpus, size_t nmask,
			 const char *action)
{
	char work[PATH_MAX], mask[64], want[512], *err;
	struct bind_plan *p = plan_ok(b, cpuset, "", cpu_bind);
	struct launch_req r;
	pid_t pid;
	int st;

	make_dir(work, sizeof(work), cpu_bind, 0777);
	req_init(&r, work, "#!/bin/sh\necho out\n");
	r.stderr_path = "err.txt";
	r.bind = p;
	pid = start(&r, NULL);
	st = wait_exit(pid);
	assert_true(WIFEXITED(st));
	mask_str(mask_cpus, nmask, mask, sizeof(mask));
	snprintf(want, sizeof(want), "%s - " TEST_NODE ", task  0  0 [%d]: mask 0x%s%s\n", head,
		 (int)pid, mask, action);
	err = slurp(work, "err.txt");
	assert_string_equal(err, want);
	free(err);
	bind_plan_free(p);
	launch_cleanup(T.spool, r.job_id);
}

static void test_bind_verbose(void **state)
{
	uint32_t cpus[CPU_SETSIZE];
	char all[256], last[32], spec[64];
	struct bind *b;
	size_t n;

	(void)state;
	need_root();
	n = allowed_cpus(cpus, CPU_SETSIZE);
	list_str(cpus, n, all, sizeof(all));
	list_str(&cpus[n - 1], 1, last, sizeof(last));
	b = bind_new(false);
	verbose_case(b, last, "verbose", "cpu-bind=MASK", &cpus[n - 1], 1, " set");
	verbose_case(b, last, "cores,verbose", "cpu-bind_cores=MASK", &cpus[n - 1], 1, " set");
	verbose_case(b, all, "v,threads", "cpu-bind_threads=MASK", cpus, n, " set");
	verbose_case(b, all, "sockets,verbose", "cpu-bind_sockets=MASK", cpus, n, " set");
	snprintf(spec, sizeof(spec), "map_cpu:%u,verbose", cpus[n - 1]);
	verbose_case(b, all, spec, "cpu-bind=MAP", &cpus[n - 1], 1, " set");
	/* none: what the process inherited, and nothing "set". */
	verbose_case(b, last, "verbose,none", "cpu-bind=NONE", cpus, n, "");
	bind_destroy(b);
}

/* An emulated node's os indexes land on real PU (i mod count) and real
 * NUMA node (j mod count), by logical index. */
static void test_bind_emulated(void **state)
{
	static const uint32_t emu_cpus[] = { 0, 1, 2, 3, 9, 63 };
	static const uint32_t emu_mems[] = { 1, 3 };
	uint32_t real[16], mems[16];
	size_t nreal = 0, nmems = 0;
	char cpulist[256], memlist[64], mask[64], out[512];
	hwloc_topology_t t;
	struct bind *b;
	struct bind_plan *p;
	int npu, nnuma;
	pid_t pid;

	(void)state;
	need_root();
	t = real_topology();
	npu = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
	nnuma = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
	assert_true(npu > 0 && nnuma > 0);
	for (size_t i = 0; i < sizeof(emu_cpus) / sizeof(emu_cpus[0]); i++)
		real[nreal++] =
		    hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, emu_cpus[i] % (unsigned)npu)->os_index;
	for (size_t i = 0; i < sizeof(emu_mems) / sizeof(emu_mems[0]); i++)
		mems[nmems++] =
		    hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, emu_mems[i] % (unsigned)nnuma)
			->os_index;
	hwloc_topology_destroy(t);
	list_str(real, nreal, cpulist, sizeof(cpulist));
	list_str(mems, nmems, memlist, sizeof(memlist));

	b = bind_new(true);
	assert_int_equal(bind_npus(b), npu);
	assert_int_equal(bind_nnumas(b), nnuma);
	/* These indexes do not exist here, and need not. */
	p = plan_ok(b, "0-3,9,63", "1,3", "");
	assert_string_equal(bind_plan_cpus(p), cpulist);
	assert_string_equal(bind_plan_mems(p), memlist);
	pid = run_affinity(p, "bind-emulated", out, sizeof(out));
	mask_str(real, nreal, mask, sizeof(mask));
	check_affinity(out, pid, mask, cpulist, memlist);
	bind_plan_free(p);

	/* map_cpu names an emulated CPU too, and is mapped the same way. */
	p = plan_ok(b, "0-3,9,63", "", "map_cpu:63");
	pid = run_affinity(p, "bind-emulated-map", out, sizeof(out));
	mask_str(&real[5], 1, mask, sizeof(mask));
	list_str(&real[5], 1, cpulist, sizeof(cpulist));
	check_affinity(out, pid, mask, cpulist, NULL);
	bind_plan_free(p);
	bind_destroy(b);
}

static void test_bind_errors(void **state)
{
	static const char help[] =
	    "(use none, cores, threads, sockets or map_cpu:LIST, with verbose if wanted)";
	char want[512];
	struct bind *b;

	(void)state;
	b = bind_new(false);
	snprintf(want, sizeof(want), "job 77: --cpu-bind=rank: 'rank' is not known here %s", help);
	plan_fails(b, "0", "rank", want);
	snprintf(want, sizeof(want),
		 "job 77: --cpu-bind=verbose,mask_cpu:0x3: 'mask_cpu:0x3' is "
		 "not known here %s",
		 help);
	plan_fails(b, "0", "verbose,mask_cpu:0x3", want);
	snprintf(want, sizeof(want),
		 "job 77: --cpu-bind=cores,threads gives two kinds of binding %s", help);
	plan_fails(b, "0", "cores,threads", want);
	plan_fails(b, "0", "map_cpu:",
		   "job 77: bad --cpu-bind map_cpu list in 'map_cpu:' (write CPU numbers "
		   "separated by commas, e.g. map_cpu:0,4)");
	plan_fails(b, "0", "map_cpu:1,2x",
		   "job 77: bad --cpu-bind map_cpu list in 'map_cpu:1,2x' (write CPU numbers "
		   "separated by commas, e.g. map_cpu:0,4)");
	/* A comma before a non-digit ends the list (Slurm's rule). */
	snprintf(want, sizeof(want), "job 77: --cpu-bind=map_cpu:1,x: 'x' is not known here %s",
		 help);
	plan_fails(b, "0", "map_cpu:1,x", want);
	plan_fails(b, "0", "map_cpu:0x",
		   "job 77: bad --cpu-bind map_cpu list in 'map_cpu:0x' (write CPU numbers "
		   "separated by commas, e.g. map_cpu:0,4)");
	plan_fails(b, "3-1", "", "job 77: bad CPU list '3-1' from the controller");
	plan_fails(b, "0,", "", "job 77: bad CPU list '0,' from the controller");
	/* A real node refuses CPUs it does not have (os index 1000000 is
	 * below the list limit, above any machine here). */
	plan_fails(b, "1000000", "",
		   "job 77: CPU 1000000 of its allocation does not exist on this machine (did "
		   "the node's hardware change since it registered? restart pacernoded)");
	bind_destroy(b);
}

/* ---- the job's environment ------------------------------------------------- */

/* The variable NAME in the NULL-terminated ENV, or NULL. */
static const char *env_get(char **env, const char *name)
{
	size_t len = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

static void test_jobenv(void **state)
{
	static const char script[] = "#!/bin/sh\n"
				     "env | grep -E '^(PACER_|CUDA_|ROCR_)' | LC_ALL=C sort\n";
	Pacer__LaunchJob lj = PACER__LAUNCH_JOB__INIT;
	Pacer__Job job = PACER__JOB__INIT;
	Pacer__JobSpec spec = PACER__JOB_SPEC__INIT;
	Pacer__NodeAlloc alloc = PACER__NODE_ALLOC__INIT;
	Pacer__NodeAlloc *allocs[2] = { &alloc, &alloc };
	uint32_t gpus[] = { 1, 3 };
	char work[PATH_MAX], want[2048], *out, **env;
	struct launch_req r;
	pid_t pid;
	int st;

	(void)state;
	need_root();
	spec.name = "envjob";
	spec.ntasks = 8;
	spec.cpus_per_task = 2;
	spec.mem_mb = 999; /* the allocation's memory wins */
	spec.partition = "batch";
	spec.submit_dir = "/home/u";
	spec.submit_host = "login1";
	job.id = T.next_job;
	job.user = TEST_USER;
	job.spec = &spec;
	job.array_job_id = 40;
	job.array_task_id = 7;
	alloc.node = TEST_NODE;
	alloc.cpus = 4;
	alloc.mem_mb = 2048;
	alloc.cpuset = "4-7";
	alloc.mems = "1";
	alloc.gpus = gpus;
	alloc.n_gpus = 2;
	/* A lower-case name and an empty entry are dropped. */
	alloc.gpu_env = "CUDA_VISIBLE_DEVICES=1,3;;bad_name=1;ROCR_VISIBLE_DEVICES=1,3";
	lj.job = &job;
	lj.alloc = &alloc;
	lj.nodelist = "node[1-2]";
	lj.cpus_on_node = 99; /* older field: alloc wins */
	lj.ntasks = 8;
	lj.nnodes = 2;

	env = jobenv_make(&lj, TEST_NODE, "clu");
	assert_non_null(env);
	make_dir(work, sizeof(work), "jobenv", 0777);
	req_init(&r, work, script);
	assert_int_equal(r.job_id, job.id);
	r.pacer_env = env;
	pid = start(&r, NULL);
	st = wait_exit(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	out = slurp(work, "out.txt");
	snprintf(want, sizeof(want),
		 "CUDA_VISIBLE_DEVICES=1,3\n"
		 "PACER_ARRAY_JOB_ID=40\n"
		 "PACER_ARRAY_TASK_ID=7\n"
		 "PACER_CLUSTER_NAME=clu\n"
		 "PACER_CPUS_ON_NODE=4\n"
		 "PACER_CPUS_PER_TASK=2\n"
		 "PACER_GPUS=2\n"
		 "PACER_JOB_CPUS=4-7\n"
		 "PACER_JOB_ID=%u\n"
		 "PACER_JOB_NAME=envjob\n"
		 "PACER_JOB_PARTITION=batch\n"
		 "PACER_JOB_USER=" TEST_USER "\n"
		 "PACER_MEM_PER_NODE=2048\n"
		 "PACER_NNODES=2\n"
		 "PACER_NODELIST=node[1-2]\n"
		 "PACER_NODENAME=" TEST_NODE "\n"
		 "PACER_NTASKS=8\n"
		 "PACER_SUBMIT_DIR=/home/u\n"
		 "PACER_SUBMIT_HOST=login1\n"
		 "ROCR_VISIBLE_DEVICES=1,3\n",
		 job.id);
	assert_string_equal(out, want);
	free(out);
	jobenv_free(env);
	launch_cleanup(T.spool, r.job_id);

	/* A job outside an array, from a controller without placement: the
	 * older fields stand in, nothing about CPUs or GPUs is made up. */
	job.array_job_id = 0;
	job.n_alloc = 2;
	job.alloc = allocs;
	lj.alloc = NULL;
	lj.ntasks = 0;
	lj.nnodes = 0;
	spec.cpus_per_task = 0;
	env = jobenv_make(&lj, TEST_NODE, "clu");
	assert_non_null(env);
	assert_string_equal(env_get(env, "PACER_CPUS_ON_NODE"), "99");
	assert_string_equal(env_get(env, "PACER_MEM_PER_NODE"), "999");
	assert_string_equal(env_get(env, "PACER_NNODES"), "2");
	assert_string_equal(env_get(env, "PACER_NTASKS"), "8");
	assert_string_equal(env_get(env, "PACER_CPUS_PER_TASK"), "1");
	assert_null(env_get(env, "PACER_JOB_CPUS"));
	assert_null(env_get(env, "PACER_GPUS"));
	assert_null(env_get(env, "PACER_ARRAY_JOB_ID"));
	assert_null(env_get(env, "PACER_ARRAY_TASK_ID"));
	assert_null(env_get(env, "CUDA_VISIBLE_DEVICES"));
	jobenv_free(env);
	spec.mem_mb = 0;
	env = jobenv_make(&lj, TEST_NODE, "clu");
	assert_null(env_get(env, "PACER_MEM_PER_NODE"));
	jobenv_free(env);
	errno = 0;
	assert_null(jobenv_make(NULL, TEST_NODE, "clu"));
	assert_int_equal(errno, EINVAL);
}

/* ---- confinement ----------------------------------------------------------- */

static bool confines(const char *what)
{
	return strstr(confine_method(), what) != NULL;
}

static struct confine *add_confine(struct confine *c)
{
	assert_non_null(c);
	assert_true(T.nconfines < MAX_TRACKS);
	T.confines[T.nconfines++] = c;
	return c;
}

static struct confine *confine_ok(uint32_t job_id, struct track *t, uint64_t mem_mb,
				  const char *cpus, const char *mems)
{
	char err[PATH_MAX + 256] = "";
	struct confine *c = confine_create(job_id, t, mem_mb, cpus, mems, err, sizeof(err));

	if (!c)
		fail_msg("confine_create: %s", err);
	return add_confine(c);
}

/* A job over its memory limit is killed by the kernel, and the cgroup says
 * so; a job within it is not. */
static void test_confine_oom(void **state)
{
	static const char hog[] =
	    "#!/bin/sh\n"
	    "(grep :memory: /proc/$$/cgroup || grep '^0::' /proc/$$/cgroup) | "
	    "sed 's,.*/,,'\n"
	    "exec dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null\n";
	char work[PATH_MAX], want[64], *out;
	struct launch_req r;
	struct confine *c;
	struct track *t;
	pid_t pid;
	int st;

	(void)state;
	need_root();
	if (!confines("memory")) {
		print_message("no usable memory cgroup controller here (confinement: %s): the OOM "
			      "kill cannot be tested; skipped\n",
			      confine_method());
		skip();
	}
	make_dir(work, sizeof(work), "oom", 0777);
	req_init(&r, work, hog);
	t = add_track(track_create(r.job_id));
	c = confine_ok(r.job_id, t, 16, "", "");
	assert_int_equal(confine_mem_mb(c), 16);
	assert_int_equal(confine_oom_kills(c, false), 0);
	r.confine = c;
	pid = start(&r, t);
	st = wait_exit(pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	assert_true(confine_oom_kills(c, true) >= 1);
	out = slurp(work, "out.txt");
	snprintf(want, sizeof(want), "job_%u\n", r.job_id);
	assert_string_equal(out, want);
	free(out);
	launch_cleanup(T.spool, r.job_id);

	/* 4 MiB under a 64 MiB limit. */
	make_dir(work, sizeof(work), "no-oom", 0777);
	req_init(&r, work, "#!/bin/sh\ndd if=/dev/zero of=/dev/null bs=4M count=4 2>/dev/null\n");
	t = add_track(track_create(r.job_id));
	c = confine_ok(r.job_id, t, 64, "", "");
	r.confine = c;
	st = wait_exit(start(&r, t));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(confine_oom_kills(c, false), 0);
	launch_cleanup(T.spool, r.job_id);
}

/* The cpuset cgroup holds the job to its CPUs and NUMA nodes, bound or not. */
static void test_confine_cpuset(void **state)
{
	static const char script[] =
	    "#!/bin/sh\n"
	    "grep -E '^(Cpus|Mems)_allowed_list:' /proc/$$/status | cut -f2\n"
	    "sed 's,.*/,,' /proc/$$/cpuset\n";
	uint32_t cpus[CPU_SETSIZE], numa;
	char work[PATH_MAX], one[32], mems[32], want[128], *out;
	hwloc_topology_t topo;
	struct launch_req r;
	struct track *t;
	size_t n;
	int st;

	(void)state;
	need_root();
	if (!confines("cpuset")) {
		print_message(
		    "no usable cpuset cgroup controller here (confinement: %s); skipped\n",
		    confine_method());
		skip();
	}
	n = allowed_cpus(cpus, CPU_SETSIZE);
	topo = real_topology();
	numa = numa_of(topo, cpus[n - 1]);
	hwloc_topology_destroy(topo);
	list_str(&cpus[n - 1], 1, one, sizeof(one));
	list_str(&numa, 1, mems, sizeof(mems));
	make_dir(work, sizeof(work), "cpuset", 0777);
	req_init(&r, work, script);
	t = add_track(track_create(r.job_id));
	r.confine = confine_ok(r.job_id, t, 0, one, mems);
	assert_int_equal(confine_mem_mb(r.confine), 0);
	st = wait_exit(start(&r, t));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	out = slurp(work, "out.txt");
	snprintf(want, sizeof(want), "%s\n%s\njob_%u\n", one, mems, r.job_id);
	assert_string_equal(out, want);
	free(out);
	launch_cleanup(T.spool, r.job_id);
}

/* The directory of PID's cgroup in the v1 hierarchy of controller CTL,
 * found from /proc/PID/cgroup and mountinfo; "" when there is none. */
static void v1_dir_of(pid_t pid, const char *ctl, char *out, size_t len)
{
	char dir[64], *text, *lines[64], *path = NULL, want[32];
	size_t n;
	FILE *f;
	char line[4096];

	out[0] = '\0';
	snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
	snprintf(want, sizeof(want), ":%s:", ctl);
	text = slurp(dir, "cgroup");
	n = split_lines(text, lines, 64);
	for (size_t i = 0; i < n && !path; i++)
		if (strstr(lines[i], want))
			path = strstr(lines[i], want) + strlen(want);
	f = fopen("/proc/self/mountinfo", "r");
	assert_non_null(f);
	while (path && fgets(line, sizeof(line), f)) {
		char root[1024], point[1024], fstype[64], super[1024];

		if (sscanf(line, "%*s %*s %*s %1023s %1023s %*s", root, point) != 2 ||
		    !strstr(line, " - ") ||
		    sscanf(strstr(line, " - ") + 3, "%63s %*s %1023s", fstype, super) != 2 ||
		    strcmp(fstype, "cgroup") != 0 || !strstr(super, ctl))
			continue;
		snprintf(out, len, "%s%s", point, path + (strcmp(root, "/") ? strlen(root) : 0));
		break;
	}
	fclose(f);
	free(text);
}

/* A daemon that restarts finds a job's v1 cgroups, kills what is in them
 * and removes them. */
static void test_confine_cleanup(void **state)
{
	uint32_t cpus[CPU_SETSIZE];
	char work[PATH_MAX], one[32], memdir[PATH_MAX], cpudir[PATH_MAX];
	struct launch_req r;
	struct track *t;
	size_t n;
	pid_t pid;
	int st;

	(void)state;
	need_root();
	if (!confines("v1")) {
		print_message("no cgroup v1 confinement here (%s): nothing for a restarted daemon "
			      "to clean; skipped\n",
			      confine_method());
		skip();
	}
	n = allowed_cpus(cpus, CPU_SETSIZE);
	list_str(&cpus[n - 1], 1, one, sizeof(one));
	make_dir(work, sizeof(work), "confine-cleanup", 0777);
	req_init(&r, work, "#!/bin/sh\nexec sleep 300\n");
	t = add_track(track_create(r.job_id));
	r.confine = confine_ok(r.job_id, t, 64, one, "");
	pid = start(&r, t);
	v1_dir_of(pid, "memory", memdir, sizeof(memdir));
	v1_dir_of(pid, "cpuset", cpudir, sizeof(cpudir));
	assert_true(memdir[0] || cpudir[0]);
	if (memdir[0])
		assert_int_equal(access(memdir, F_OK), 0);
	if (cpudir[0])
		assert_int_equal(access(cpudir, F_OK), 0);

	confine_cleanup(r.job_id);
	st = wait_exit(pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGKILL);
	if (memdir[0])
		assert_int_equal(access(memdir, F_OK), -1);
	if (cpudir[0])
		assert_int_equal(access(cpudir, F_OK), -1);
	launch_cleanup(T.spool, r.job_id);
}

/* Binding and confinement together, as the daemon launches a job: the
 * verbose line shows the binding inside the cgroup. */
static void test_confine_and_bind(void **state)
{
	uint32_t cpus[CPU_SETSIZE];
	char work[PATH_MAX], all[256], mask[64], want[256], *err;
	struct launch_req r;
	struct bind *b;
	struct bind_plan *p;
	struct track *t;
	size_t n;
	pid_t pid;
	int st;

	(void)state;
	need_root();
	n = allowed_cpus(cpus, CPU_SETSIZE);
	list_str(cpus, n, all, sizeof(all));
	b = bind_new(false);
	snprintf(want, sizeof(want), "map_cpu:%u,verbose", cpus[n - 1]);
	p = plan_ok(b, all, "", want);
	make_dir(work, sizeof(work), "confine-bind", 0777);
	req_init(&r, work, "#!/bin/sh\n:\n");
	r.stderr_path = "err.txt";
	t = add_track(track_create(r.job_id));
	r.confine = confine_ok(r.job_id, t, 64, bind_plan_cpus(p), bind_plan_mems(p));
	r.bind = p;
	pid = start(&r, t);
	st = wait_exit(pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	mask_str(&cpus[n - 1], 1, mask, sizeof(mask));
	snprintf(want, sizeof(want),
		 "cpu-bind=MAP - " TEST_NODE ", task  0  0 [%d]: mask 0x%s set\n", (int)pid, mask);
	err = slurp(work, "err.txt");
	assert_string_equal(err, want);
	free(err);
	bind_plan_free(p);
	bind_destroy(b);
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
	char err[512];

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
	if (confine_init("auto", T.node, err, sizeof(err)) < 0)
		print_message("launch_test: %s\n", err);
	T.next_job = 1000;
	T.ready = true;
	return 0;
}

static int group_teardown(void **state)
{
	const char *method = track_method();

	cleanup(state);
	confine_fini();
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
		cmocka_unit_test_teardown(test_bind_cpuset_and_memory, cleanup),
		cmocka_unit_test_teardown(test_bind_none_and_map_cpu, cleanup),
		cmocka_unit_test_teardown(test_bind_verbose, cleanup),
		cmocka_unit_test_teardown(test_bind_emulated, cleanup),
		cmocka_unit_test_teardown(test_bind_errors, cleanup),
		cmocka_unit_test_teardown(test_jobenv, cleanup),
		cmocka_unit_test_teardown(test_confine_oom, cleanup),
		cmocka_unit_test_teardown(test_confine_cpuset, cleanup),
		cmocka_unit_test_teardown(test_confine_cleanup, cleanup),
		cmocka_unit_test_teardown(test_confine_and_bind, cleanup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
