/* launch.c - start a batch script as its user; a failure before exec comes
 * back to the daemon as (stage, errno) over a close-on-exec pipe.
 *
 * Everything the child needs (paths, group list, argv, envp, the binding
 * plan) is prepared before fork: between fork and exec the child only makes
 * system calls, so a lock held by another thread of the daemon (malloc,
 * NSS) cannot hang it.  The one exception is hwloc's binding calls, which
 * may allocate: the node daemon has a single thread, so no lock can be held
 * across the fork.
 */
#include "launch.h"
#include "strfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bind.h"
#include "confine.h"
#include "fileio.h"
#include "log.h"
#include "track.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define MAX_GROUPS   65536

/* Where the child stopped; the parent turns it into a message. */
enum stage {
	ST_UNKNOWN = 0,
	ST_SETSID,
	ST_TRACK,
	ST_CONFINE,
	ST_BIND,
	ST_GROUPS,
	ST_SETGID,
	ST_SETUID,
	ST_IDS,
	ST_CHDIR,
	ST_STDIN,
	ST_STDOUT,
	ST_STDERR,
	ST_FDS,
	ST_EXEC,
};

struct report {
	int stage;
	int err;
};

/* A growing NULL-terminated array of strings it owns. */
struct strv {
	char **v;
	size_t n, cap;
};

/* What the child needs, ready before fork. */
struct plan {
	char script[PATH_MAX];
	char out[PATH_MAX];
	char err[PATH_MAX];
	bool same; /* stderr shares the stdout file */
	bool task; /* launch_task: script holds the program, stdio from req */
	gid_t *groups;
	int ngroups;
	struct strv argv;
	struct strv envp;
	int maxfd; /* for the close loop where close_range is missing */
};

/* ---- helpers --------------------------------------------------------------- */

static int strv_add(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int strv_add(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *str;
	int n;

	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&str, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
	return 0;
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Length of the name of "NAME=value", 0 when the entry is not one. */
static size_t env_name_len(const char *entry)
{
	size_t len = strcspn(entry, "=");

	return entry[len] == '=' ? len : 0;
}

static bool env_has(const struct strv *env, const char *name, size_t len)
{
	for (size_t i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], name, len) == 0 && env->v[i][len] == '=')
			return true;
	}
	return false;
}

/* Add the entries of SRC whose names ENV does not hold yet: what is added
 * first wins. */
static int env_merge(struct strv *env, char *const *src)
{
	for (; src && *src; src++) {
		size_t len = env_name_len(*src);

		if (len && !env_has(env, *src, len) && strv_add(env, "%s", *src) < 0)
			return -1;
	}
	return 0;
}

static int env_default(struct strv *env, const char *name, const char *value)
{
	if (!value || env_has(env, name, strlen(name)))
		return 0;
	return strv_add(env, "%s=%s", name, value);
}

/* getpwnam_r (NAME) or getpwuid_r (UID), growing *BUF as needed.
 * 1 found, 0 unknown, -1 with errno. */
static int pw_get(const char *name, uid_t uid, struct passwd *pw, char **buf)
{
	for (size_t len = 1024; len <= (1u << 22); len *= 2) {
		struct passwd *res = NULL;
		char *b = realloc(*buf, len);
		int rc;

		if (!b)
			return -1;
		*buf = b;
		rc = name ? getpwnam_r(name, pw, b, len, &res) : getpwuid_r(uid, pw, b, len, &res);
		if (rc == ERANGE)
			continue;
		/* Some NSS modules say "unknown" with an error code. */
		if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
			return res != NULL;
		errno = rc;
		return -1;
	}
	errno = ERANGE;
	return -1;
}

/* ---- preparing ------------------------------------------------------------- */

static int check_req(const struct launch_req *req, bool task, const pid_t *pid, char *err,
		     size_t errlen)
{
	if (!req || !pid)
		return strfmt_fail(err, errlen, EINVAL, "launch request without %s",
				   req ? "pid" : "job");
	if (!req->user || !*req->user)
		return strfmt_fail(err, errlen, EINVAL, "job %u has no user name", req->job_id);
	if (!req->workdir || req->workdir[0] != '/')
		return strfmt_fail(err, errlen, EINVAL,
				   "job %u: working directory \"%s\" is not an absolute path",
				   req->job_id, req->workdir ? req->workdir : "");
	if (task) {
		if (!req->argv || !req->argv[0] || !req->argv[0][0])
			return strfmt_fail(err, errlen, EINVAL, "job %u: a task without a program",
					   req->job_id);
		return 0;
	}
	if (!req->script || !req->script_len)
		return strfmt_fail(err, errlen, EINVAL, "job %u has an empty script", req->job_id);
	if (!req->spool_dir || req->spool_dir[0] != '/')
		return strfmt_fail(err, errlen, EINVAL,
				   "job %u: the spool directory must be absolute", req->job_id);
	if (!req->stdout_path || !*req->stdout_path)
		return strfmt_fail(err, errlen, EINVAL, "job %u has no output file", req->job_id);
	return 0;
}

/* PATH as is when absolute, else below WORKDIR. */
static int out_path(const char *workdir, const char *path, char *buf, size_t len)
{
	if (path[0] == '/')
		return strfmt_path(buf, len, "%s", path);
	return strfmt_path(buf, len, "%s/%s", workdir, path);
}

static int plan_paths(const struct launch_req *req, struct plan *p, char *err, size_t errlen)
{
	const char *e = req->stderr_path && *req->stderr_path ? req->stderr_path : req->stdout_path;

	if (strfmt_path(p->script, sizeof(p->script), "%s/job.%u.script", req->spool_dir,
			req->job_id) < 0)
		return strfmt_fail(err, errlen, ENAMETOOLONG, "spool directory path too long: %s",
				   req->spool_dir);
	if (out_path(req->workdir, req->stdout_path, p->out, sizeof(p->out)) < 0)
		return strfmt_fail(err, errlen, ENAMETOOLONG, "output file path too long: %s",
				   req->stdout_path);
	if (out_path(req->workdir, e, p->err, sizeof(p->err)) < 0)
		return strfmt_fail(err, errlen, ENAMETOOLONG, "error file path too long: %s", e);
	p->same = strcmp(p->out, p->err) == 0;
	return 0;
}

/* The user's groups from NSS; just the job's gid when NSS does not know
 * the user (KNOWN false). */
static int plan_groups(const struct launch_req *req, bool known, struct plan *p)
{
	int n = known ? 32 : 1;

	for (;;) {
		gid_t *g = realloc(p->groups, (size_t)n * sizeof(*g));
		int got = n;

		if (!g)
			return -1;
		p->groups = g;
		if (!known) {
			g[0] = req->gid;
			p->ngroups = 1;
			return 0;
		}
		if (getgrouplist(req->user, req->gid, g, &got) >= 0) {
			p->ngroups = got;
			return 0;
		}
		if (n >= MAX_GROUPS) {
			errno = E2BIG;
			return -1;
		}
		n = got > n ? got : n * 2;
	}
}

/* The user's environment, PACER_* winning, plus what a login would set. */
static int plan_env(const struct launch_req *req, const struct passwd *pw, struct plan *p)
{
	struct strv *env = &p->envp;

	if (env_merge(env, req->pacer_env) < 0 || env_merge(env, req->env) < 0 ||
	    env_default(env, "PATH", DEFAULT_PATH) < 0 || env_default(env, "USER", req->user) < 0 ||
	    env_default(env, "LOGNAME", req->user) < 0)
		return -1;
	if (pw && (env_default(env, "HOME", pw->pw_dir) < 0 ||
		   env_default(env, "SHELL",
			       pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh") < 0))
		return -1;
	return 0;
}

/* The value of NAME in the task's environment ENV, or NULL. */
static const char *env_get(const struct strv *env, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], name, len) == 0 && env->v[i][len] == '=')
			return env->v[i] + len + 1;
	return NULL;
}

/* Where PROG is, as execvp would look for it in the task's PATH (a name
 * with a '/' is taken relative to WORKDIR).  0 with P->script set, or -1
 * with errno ENOENT (EACCES when only non-executable files were found). */
static int find_program(const struct launch_req *req, const char *prog, struct plan *p)
{
	const char *path = env_get(&p->envp, "PATH");
	bool denied = false;

	if (strchr(prog, '/'))
		return out_path(req->workdir, prog, p->script, sizeof(p->script));
	for (const char *d = path ? path : DEFAULT_PATH;; d++) {
		size_t n = strcspn(d, ":");
		char cand[PATH_MAX];
		struct stat st;
		/* An empty entry is the working directory, as for execvp. */
		int w = n ? snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, d, prog)
			  : snprintf(cand, sizeof(cand), "%s/%s", req->workdir, prog);
		if (w > 0 && (size_t)w < sizeof(cand) && stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			if (st.st_mode & 0111) {
				memcpy(p->script, cand, (size_t)w + 1);
				if (cand[0] != '/')
					return out_path(req->workdir, cand, p->script,
							sizeof(p->script));
				return 0;
			}
			denied = true;
		}
		d += n;
		if (!*d)
			break;
	}
	errno = denied ? EACCES : ENOENT;
	return -1;
}

static int plan_argv(const struct launch_req *req, struct plan *p)
{
	if (p->task) {
		for (char *const *a = req->argv; a && *a; a++)
			if (strv_add(&p->argv, "%s", *a) < 0)
				return -1;
		return 0;
	}
	if (strv_add(&p->argv, "%s", p->script) < 0)
		return -1;
	for (char *const *a = req->argv; a && *a; a++) {
		if (strv_add(&p->argv, "%s", *a) < 0)
			return -1;
	}
	return 0;
}

static int plan_user(const struct launch_req *req, struct plan *p, char *err, size_t errlen)
{
	struct passwd pw;
	char *buf = NULL;
	int by_name, found, rc = -1;

	by_name = found = pw_get(req->user, 0, &pw, &buf);
	if (found > 0 && pw.pw_uid != req->uid) {
		/* Another user's groups must never reach this job. */
		strfmt_fail(err, errlen, EPERM,
			    "user %s is uid %u on this node, but job %u runs as uid %u: "
			    "make the user databases agree",
			    req->user, (unsigned)pw.pw_uid, req->job_id, (unsigned)req->uid);
		goto out;
	}
	if (found == 0)
		found = pw_get(NULL, req->uid, &pw, &buf);
	if (found < 0) {
		strfmt_fail(err, errlen, errno, "cannot look up user %s: %s", req->user,
			    strerror(errno));
		goto out;
	}
	if (plan_groups(req, by_name > 0, p) < 0) {
		strfmt_fail(err, errlen, errno, "cannot list the groups of %s: %s", req->user,
			    strerror(errno));
		goto out;
	}
	if (plan_env(req, found ? &pw : NULL, p) < 0 || plan_argv(req, p) < 0) {
		strfmt_fail(err, errlen, ENOMEM, "out of memory preparing job %u", req->job_id);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static int plan_make(const struct launch_req *req, struct plan *p, char *err, size_t errlen)
{
	struct rlimit rl;

	if (!p->task && plan_paths(req, p, err, errlen) < 0)
		return -1;
	if (plan_user(req, p, err, errlen) < 0)
		return -1;
	if (p->task && find_program(req, req->argv[0], p) < 0)
		return strfmt_fail(err, errlen, errno, "cannot execute %s as %s: %s%s",
				   req->argv[0], req->user, strerror(errno),
				   errno == ENOENT && !strchr(req->argv[0], '/')
				       ? " (not in the PATH of the task's environment)"
				       : "");
	p->maxfd = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < INT_MAX)
		p->maxfd = (int)rl.rlim_cur;
	return 0;
}

static void plan_free(struct plan *p)
{
	free(p->groups);
	strv_free(&p->argv);
	strv_free(&p->envp);
}

/* ---- the spool ------------------------------------------------------------- */

/* Make DIR and its missing parents, root-owned 0755 whatever the umask. */
static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];

	if (strfmt_path(path, sizeof(path), "%s", dir) < 0)
		return -1;
	for (char *p = path + 1;; p++) {
		char c = *p;

		if (c && c != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == 0)
			chmod(path, 0755);
		else if (errno != EEXIST)
			return -1;
		if (!c)
			return 0;
		*p = c;
	}
}

/* The script, owned by the user (who must read it to run it), 0700. A stale
 * file is replaced, never written through. */
static int spool_write(const struct launch_req *req, const struct plan *p, char *err, size_t errlen)
{
	int fd, e;

	if (mkdir_p(req->spool_dir) < 0)
		return strfmt_fail(err, errlen, errno, "cannot create spool directory %s: %s",
				   req->spool_dir, strerror(errno));
	if (unlink(p->script) < 0 && errno != ENOENT)
		return strfmt_fail(err, errlen, errno, "cannot replace %s: %s", p->script,
				   strerror(errno));
	fd = open(p->script, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
	if (fd < 0)
		return strfmt_fail(err, errlen, errno, "cannot create %s: %s", p->script,
				   strerror(errno));
	if (fd_write_all(fd, req->script, req->script_len) < 0 ||
	    fchown(fd, req->uid, req->gid) < 0 || fchmod(fd, 0700) < 0) {
		e = errno;
		close(fd);
		unlink(p->script);
		return strfmt_fail(err, errlen, e, "cannot write %s: %s", p->script, strerror(e));
	}
	if (close(fd) < 0) {
		e = errno;
		unlink(p->script);
		return strfmt_fail(err, errlen, e, "cannot write %s: %s", p->script, strerror(e));
	}
	return 0;
}

void launch_cleanup(const char *spool_dir, uint32_t job_id)
{
	char path[PATH_MAX];

	if (!spool_dir ||
	    strfmt_path(path, sizeof(path), "%s/job.%u.script", spool_dir, job_id) < 0)
		return;
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", path, strerror(errno));
}

/* ---- the child: system calls only ----------------------------------------- */

static void __attribute__((noreturn)) child_fail(int fd, int stage)
{
	struct report r = { stage, errno };
	ssize_t n = write(fd, &r, sizeof(r));

	(void)n;
	_exit(127);
}

static void child_reset_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* SIGKILL, SIGSTOP and the C library's internal signals refuse: fine. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
}

/* Keep the report pipe clear of 0-2, which are about to be replaced. */
static int child_high_fd(int fd)
{
	int nfd;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		child_fail(fd, ST_FDS);
	close(fd);
	return nfd;
}

/* Open PATH onto descriptor TARGET.  open() takes the lowest free number,
 * so once 0..TARGET-1 are in place the file can only land on TARGET or above. */
static int open_onto(const char *path, int flags, int target)
{
	int fd = open(path, flags | O_NOCTTY, 0644);

	if (fd < 0 || fd == target)
		return fd < 0 ? -1 : 0;
	if (dup2(fd, target) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

static bool ids_took(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return false;
	return ru == uid && eu == uid && su == uid && rg == gid && eg == gid && sg == gid;
}

/* Everything above 2 closes at exec; the report pipe already does. */
static int close_others(int keep, int maxfd)
{
#ifdef CLOSE_RANGE_CLOEXEC
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
#endif
	for (int fd = 3; fd < maxfd; fd++) {
		if (fd != keep)
			close(fd);
	}
	return 0;
}

static void __attribute__((noreturn))
child_run(const struct launch_req *req, const struct plan *p, struct track *track, int fd)
{
	const int out = O_WRONLY | O_CREAT | O_TRUNC;
	sigset_t none;

	child_reset_signals();
	fd = child_high_fd(fd);
	if (setsid() < 0)
		child_fail(fd, ST_SETSID);
	if (track && track_join_self(track) < 0)
		child_fail(fd, ST_TRACK);
	/* Joining a v1 cpuset resets the affinity to the cpuset's CPUs:
	 * binding comes after. */
	if (confine_join_self(req->confine) < 0)
		child_fail(fd, ST_CONFINE);
	if (bind_apply(req->bind) < 0)
		child_fail(fd, ST_BIND);
	if (setgroups((size_t)p->ngroups, p->groups) < 0)
		child_fail(fd, ST_GROUPS);
	if (setgid(req->gid) < 0)
		child_fail(fd, ST_SETGID);
	if (setuid(req->uid) < 0)
		child_fail(fd, ST_SETUID);
	if (!ids_took(req->uid, req->gid)) {
		errno = EPERM;
		child_fail(fd, ST_IDS);
	}
	if (chdir(req->workdir) < 0)
		child_fail(fd, ST_CHDIR);
	if (p->task) {
		/* The pipes sit above 2 (the supervisor's own 0-2 are taken). */
		static const int stages[3] = { ST_STDIN, ST_STDOUT, ST_STDERR };
		for (int i = 0; i < 3; i++) {
			int rc = req->stdio[i] >= 0 ? dup2(req->stdio[i], i)
						    : open_onto("/dev/null", i ? O_WRONLY : O_RDONLY, i);
			if (rc < 0)
				child_fail(fd, stages[i]);
		}
	} else {
		if (open_onto("/dev/null", O_RDONLY, 0) < 0)
			child_fail(fd, ST_STDIN);
		if (open_onto(p->out, out, 1) < 0)
			child_fail(fd, ST_STDOUT);
		if (p->same ? dup2(1, 2) < 0 : open_onto(p->err, out, 2) < 0)
			child_fail(fd, ST_STDERR);
	}
	if (close_others(fd, p->maxfd) < 0)
		child_fail(fd, ST_FDS);
	bind_report(req->bind, 2);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(p->script, p->argv.v, p->envp.v);
	child_fail(fd, ST_EXEC);
}

/* ---- the parent ------------------------------------------------------------ */

static pid_t fork_child(const struct launch_req *req, const struct plan *p, struct track *track,
			const int pfd[2])
{
	sigset_t all, old;
	pid_t child;
	int e;

	/* No handler of the daemon may run in the child before they are reset. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	child = fork();
	if (child == 0) {
		close(pfd[0]);
		child_run(req, p, track, pfd[1]);
	}
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return child;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* 0 once the child exec'd (the pipe closed empty), -1 with R filled in. */
static int wait_report(int fd, pid_t child, struct report *r)
{
	ssize_t n;

	do
		n = read(fd, r, sizeof(*r));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(*r)) {
		/* Whether it exec'd is unknown: it must not run untracked. */
		r->stage = ST_UNKNOWN;
		r->err = n < 0 ? errno : EIO;
		kill(child, SIGKILL);
	}
	reap(child);
	return -1;
}

static void report_message(const struct launch_req *req, const struct plan *p,
			   const struct report *r, char *err, size_t errlen)
{
	const char *u = req->user, *s = strerror(r->err);
	unsigned id = req->job_id;

	switch (r->stage) {
	case ST_SETSID:
		strfmt_fail(err, errlen, r->err, "cannot start a session for job %u: %s", id, s);
		break;
	case ST_TRACK:
		strfmt_fail(err, errlen, r->err, "cannot move job %u into its cgroup: %s", id, s);
		break;
	case ST_CONFINE:
		strfmt_fail(err, errlen, r->err,
			    "cannot move job %u into its memory and cpuset cgroups: %s", id, s);
		break;
	case ST_BIND:
		strfmt_fail(err, errlen, r->err, "cannot bind job %u to %s: %s", id,
			    bind_plan_describe(req->bind), s);
		break;
	case ST_GROUPS:
		strfmt_fail(err, errlen, r->err, "cannot set the groups of %s: %s", u, s);
		break;
	case ST_SETGID:
		strfmt_fail(err, errlen, r->err, "cannot set gid %u for %s: %s", (unsigned)req->gid,
			    u, s);
		break;
	case ST_SETUID:
		strfmt_fail(err, errlen, r->err, "cannot set uid %u for %s: %s", (unsigned)req->uid,
			    u, s);
		break;
	case ST_IDS:
		strfmt_fail(err, errlen, r->err, "uid/gid change to %u/%u for %s did not take",
			    (unsigned)req->uid, (unsigned)req->gid, u);
		break;
	case ST_CHDIR:
		strfmt_fail(err, errlen, r->err, "cannot chdir to %s as %s: %s", req->workdir, u,
			    s);
		break;
	case ST_STDIN:
		strfmt_fail(err, errlen, r->err, "cannot open /dev/null for job %u: %s", id, s);
		break;
	case ST_STDOUT:
		strfmt_fail(err, errlen, r->err, "cannot open output file %s as %s: %s", p->out, u,
			    s);
		break;
	case ST_STDERR:
		strfmt_fail(err, errlen, r->err, "cannot open error file %s as %s: %s", p->err, u,
			    s);
		break;
	case ST_FDS:
		strfmt_fail(err, errlen, r->err, "cannot close inherited files for job %u: %s", id,
			    s);
		break;
	case ST_EXEC:
		strfmt_fail(err, errlen, r->err, "cannot execute %s as %s: %s%s", p->script, u, s,
			    r->err == ENOEXEC ? " (a batch script must start with #!)" : "");
		break;
	default:
		strfmt_fail(err, errlen, r->err, "lost track of job %u while starting it: %s", id,
			    s);
		break;
	}
}

int launch_job(const struct launch_req *req, struct track *track, pid_t *pid, char *err,
	       size_t errlen)
{
	struct plan p;
	struct report r;
	int pfd[2] = { -1, -1 };
	bool spooled = false;
	pid_t child;
	int rc = -1, e;

	memset(&p, 0, sizeof(p));
	if (err && errlen)
		err[0] = '\0';
	if (check_req(req, false, pid, err, errlen) < 0 || plan_make(req, &p, err, errlen) < 0)
		goto out;
	if (spool_write(req, &p, err, errlen) < 0)
		goto out;
	spooled = true;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		strfmt_fail(err, errlen, errno, "cannot create a pipe for job %u: %s", req->job_id,
			    strerror(errno));
		goto out;
	}
	child = fork_child(req, &p, track, pfd);
	if (child < 0) {
		strfmt_fail(err, errlen, errno, "cannot fork for job %u: %s", req->job_id,
			    strerror(errno));
		goto out;
	}
	close(pfd[1]);
	pfd[1] = -1;
	track_set_session(track, child);
	if (wait_report(pfd[0], child, &r) < 0) {
		report_message(req, &p, &r, err, errlen);
		goto out;
	}
	*pid = child;
	rc = 0;
out:
	e = errno;
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (rc < 0 && spooled)
		unlink(p.script);
	plan_free(&p);
	errno = e;
	return rc;
}

int launch_task(const struct launch_req *req, struct track *track, pid_t *pid, char *err,
		size_t errlen)
{
	struct plan p;
	struct report r;
	int pfd[2] = { -1, -1 };
	pid_t child;
	int rc = -1, e;

	memset(&p, 0, sizeof(p));
	p.task = true;
	if (err && errlen)
		err[0] = '\0';
	if (check_req(req, true, pid, err, errlen) < 0 || plan_make(req, &p, err, errlen) < 0)
		goto out;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		strfmt_fail(err, errlen, errno, "cannot create a pipe for job %u: %s", req->job_id,
			    strerror(errno));
		goto out;
	}
	child = fork_child(req, &p, track, pfd);
	if (child < 0) {
		strfmt_fail(err, errlen, errno, "cannot fork for job %u: %s", req->job_id,
			    strerror(errno));
		goto out;
	}
	close(pfd[1]);
	pfd[1] = -1;
	if (wait_report(pfd[0], child, &r) < 0) {
		report_message(req, &p, &r, err, errlen);
		goto out;
	}
	*pid = child;
	rc = 0;
out:
	e = errno;
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	plan_free(&p);
	errno = e;
	return rc;
}
