/* track.c - find and kill every process of a job: per-job cgroups, or sessions. */
#include "track.h"
#include "cgroup.h"
#include "proc.h"
#include "strfmt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* Rounds of "read the member list, signal the new ones": a process may fork
 * between the read and the kill, so one pass is not enough. */
#define SIGNAL_ROUNDS 8
#define KILL_ROUNDS   32
#define RMDIR_WAIT_MS 1000

enum track_kind { TRACK_SESSION, TRACK_CGROUP1, TRACK_CGROUP2 };

struct track {
	uint32_t job_id;
	pid_t sid;            /* the script's pid = session id, 0 until known */
	char dir[PATH_MAX];   /* the job's cgroup, "" in session mode */
	char procs[PATH_MAX]; /* dir/cgroup.procs, ready for the forked child */
};

static struct {
	enum track_kind kind;
	char base[PATH_MAX]; /* <hierarchy>/<our cgroup>/pacer_<node> */
	char method[PATH_MAX + 16];
} tr = { TRACK_SESSION, "", "session" };

/* A sorted set of pids, so a signal reaches each process once. */
struct pidset {
	pid_t *v;
	size_t n, cap;
};

/* Tests only: pretend no cgroup hierarchy is usable. */
void track_force_session(void);

/* ---- small helpers ------------------------------------------------------ */

/* Add PID; 1 if it was new, 0 if already there, -1 on ENOMEM. */
static int pidset_add(struct pidset *s, pid_t pid)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->v[mid] == pid)
			return 0;
		if (s->v[mid] < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		pid_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof(*s->v));
	s->v[lo] = pid;
	s->n++;
	return 1;
}

/* ---- member lists ---------------------------------------------------------- */

/* Read the pids of cgroup.procs PATH into OUT (sorted).  A missing file is an
 * empty group: the cgroup is gone, so are its processes. */
static int procs_read(const char *path, struct pidset *out)
{
	FILE *f = fopen(path, "re");
	long pid;

	out->n = 0;
	if (!f)
		return errno == ENOENT ? 0 : -1;
	while (fscanf(f, "%ld", &pid) == 1) {
		if (pid > 0 && pidset_add(out, (pid_t)pid) < 0) {
			fclose(f);
			errno = ENOMEM;
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* Live (not zombie) members of session SID.  -1 when /proc cannot be read. */
static int session_read(pid_t sid, struct pidset *pids)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	pids->n = 0;
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		struct proc_stat st;

		if (*end || pid <= 0 || proc_stat_read((pid_t)pid, &st) < 0)
			continue;
		if (st.session != sid || st.state == 'Z' || st.state == 'X')
			continue;
		if (pidset_add(pids, (pid_t)pid) < 0) {
			closedir(d);
			errno = ENOMEM;
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static bool proc_usable(void)
{
	return access("/proc/self/stat", R_OK) == 0;
}

/* The current members of T. */
static int members(const struct track *t, struct pidset *out)
{
	out->n = 0;
	if (t->dir[0])
		return procs_read(t->procs, out);
	if (t->sid <= 0)
		return 0;
	if (proc_usable())
		return session_read(t->sid, out);
	/* No /proc: the leader's process group is all we can see. */
	if (kill(-t->sid, 0) == 0 && pidset_add(out, t->sid) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* ---- signalling ---------------------------------------------------------- */

/* Signal members not signalled yet, re-reading the list until it holds
 * nobody new.  Returns how many were signalled, or -1. */
static int signal_rounds(const struct track *t, int sig)
{
	struct pidset cur = { 0 }, done = { 0 };
	int count = 0;

	for (int r = 0; r < SIGNAL_ROUNDS; r++) {
		int fresh = 0;

		if (members(t, &cur) < 0) {
			count = -1;
			break;
		}
		for (size_t i = 0; i < cur.n; i++) {
			int added = pidset_add(&done, cur.v[i]);

			if (added < 0) {
				errno = ENOMEM;
				count = -1;
				break;
			}
			if (added && kill(cur.v[i], sig) == 0)
				fresh++;
		}
		if (count < 0 || !fresh)
			break;
		count += fresh;
	}
	free(cur.v);
	free(done.v);
	return count;
}

int track_signal(struct track *t, int sig)
{
	int n;

	if (!t) {
		errno = EINVAL;
		return -1;
	}
	if (!t->dir[0] && !proc_usable()) {
		if (t->sid > 0)
			return kill(-t->sid, sig);
		errno = ESRCH;
		return -1;
	}
	n = signal_rounds(t, sig);
	if (n < 0)
		return -1;
	if (n == 0) {
		errno = ESRCH;
		return -1;
	}
	return 0;
}

/* cgroup.kill (Linux 5.14) kills the whole group at once, forks included. */
static int cgroup_kill(const struct track *t)
{
	return cg_write(t->dir, "cgroup.kill", "1");
}

int track_kill(struct track *t)
{
	struct pidset cur = { 0 };
	int rc = 0;

	if (!t) {
		errno = EINVAL;
		return -1;
	}
	if (t->dir[0] && cgroup_kill(t) == 0)
		return 0;
	if (!t->dir[0] && t->sid > 0)
		kill(-t->sid, SIGKILL);
	/* SIGKILL twice is harmless: every round kills all it sees, until a
	 * round sees nobody (or a fork bomb outruns us; the caller retries). */
	for (int r = 0; r < KILL_ROUNDS; r++) {
		if (members(t, &cur) < 0) {
			rc = -1;
			break;
		}
		if (cur.n == 0)
			break;
		for (size_t i = 0; i < cur.n; i++)
			kill(cur.v[i], SIGKILL);
	}
	free(cur.v);
	return rc;
}

bool track_empty(struct track *t)
{
	struct pidset cur = { 0 };
	bool empty;

	if (!t)
		return true;
	if (members(t, &cur) < 0) {
		/* Unknown is not empty: better wait than lose a process. */
		free(cur.v);
		return false;
	}
	empty = cur.n == 0;
	free(cur.v);
	return empty;
}

/* ---- per-job cgroups ----------------------------------------------------- */

/* STEP NULL: the job's; else that step's (job_ID.STEP beside the job's). */
static struct track *track_alloc(uint32_t job_id, const uint32_t *step)
{
	struct track *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return NULL;
	t->job_id = job_id;
	if (tr.kind == TRACK_SESSION)
		return t;
	rc = step ? strfmt_path(t->dir, sizeof(t->dir), "%s/job_%u.%u", tr.base, job_id, *step)
		  : strfmt_path(t->dir, sizeof(t->dir), "%s/job_%u", tr.base, job_id);
	if (rc < 0 ||
	    strfmt_path(t->procs, sizeof(t->procs), "%s/cgroup.procs", t->dir) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

/* A leftover directory of the same job is reused: it is the same job. */
static int cgroup_mkdir(const char *dir)
{
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	/* Someone removed our subtree since track_init: make it again. */
	if (errno == ENOENT && (mkdir(tr.base, 0755) == 0 || errno == EEXIST) &&
	    (mkdir(dir, 0755) == 0 || errno == EEXIST))
		return 0;
	return -1;
}

static struct track *create(uint32_t job_id, const uint32_t *step)
{
	struct track *t = track_alloc(job_id, step);
	int e;

	if (!t || !t->dir[0])
		return t;
	if (cgroup_mkdir(t->dir) == 0)
		return t;
	e = errno;
	free(t);
	errno = e;
	return NULL;
}

struct track *track_create(uint32_t job_id)
{
	return create(job_id, NULL);
}

struct track *track_create_step(uint32_t job_id, uint32_t step_id)
{
	return create(job_id, &step_id);
}

static struct track *find(uint32_t job_id, const uint32_t *step)
{
	struct track *t;
	struct stat st;

	if (tr.kind == TRACK_SESSION) {
		errno = ENOENT;
		return NULL;
	}
	t = track_alloc(job_id, step);
	if (!t)
		return NULL;
	if (stat(t->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(t);
		errno = ENOENT;
		return NULL;
	}
	return t;
}

struct track *track_find(uint32_t job_id)
{
	return find(job_id, NULL);
}

struct track *track_find_step(uint32_t job_id, uint32_t step_id)
{
	return find(job_id, &step_id);
}

int track_join_self(struct track *t)
{
	return t && t->dir[0] ? cg_join(t->procs) : 0;
}

void track_set_session(struct track *t, pid_t sid)
{
	if (t)
		t->sid = sid;
}

void track_destroy(struct track *t)
{
	if (!t)
		return;
	/* A killed group may stay busy for a moment while its tasks exit. */
	if (t->dir[0] && cg_rmdir(t->dir, RMDIR_WAIT_MS) < 0)
		log_warn("cannot remove cgroup %s of job %u: %s", t->dir, t->job_id,
			 strerror(errno));
	free(t);
}

const char *track_dir(const struct track *t)
{
	return t ? t->dir : "";
}

const char *track_v2_base(void)
{
	return tr.kind == TRACK_CGROUP2 ? tr.base : "";
}

void track_fini(void)
{
	/* Jobs are gone: an empty subtree is removed, a busy one (processes
	 * that would not die) stays for the next daemon to find. */
	if (tr.kind != TRACK_SESSION && rmdir(tr.base) < 0 && errno != ENOENT && errno != EBUSY &&
	    errno != ENOTEMPTY)
		log_warn("cannot remove %s: %s", tr.base, strerror(errno));
}

/* ---- detection ----------------------------------------------------------- */

/* How much we like a hierarchy for tracking: lower is better, -1 unusable.
 * Any v1 hierarchy lists its members in cgroup.procs; freezer and pids are
 * ours alone, name=systemd is shared with the init system. */
static int mount_rank(const struct cg_mount *m)
{
	if (!cg_has_opt(m->opts, "rw", 2))
		return -1;
	if (strcmp(m->fstype, "cgroup2") == 0)
		return 0;
	if (strcmp(m->fstype, "cgroup") != 0)
		return -1;
	if (cg_has_opt(m->super, "freezer", 7))
		return 1;
	if (cg_has_opt(m->super, "pids", 4))
		return 2;
	if (cg_has_opt(m->super, "name=systemd", 12))
		return 3;
	return 4;
}

/* Try to make our subtree in hierarchy M; 0 and tr filled in on success. */
static int try_mount(const struct cg_mount *m, const char *sub)
{
	bool v2 = strcmp(m->fstype, "cgroup2") == 0;
	char dir[PATH_MAX], base[PATH_MAX];

	if (cg_own_dir(m, v2, dir, sizeof(dir)) < 0 ||
	    strfmt_path(base, sizeof(base), "%s/%s", dir, sub) < 0)
		return -1;
	if (mkdir(base, 0755) < 0 && errno != EEXIST)
		return -1;
	if (access(base, W_OK) < 0)
		return -1;
	memcpy(tr.base, base, sizeof(base));
	tr.kind = v2 ? TRACK_CGROUP2 : TRACK_CGROUP1;
	snprintf(tr.method, sizeof(tr.method), "%s %s", v2 ? "cgroup2" : "cgroup1", tr.base);
	return 0;
}

/* Walk mountinfo once per rank, best rank first, until a hierarchy takes
 * our subtree. */
static void detect(const char *sub)
{
	char *line = NULL;
	size_t cap = 0;

	for (int want = 0; want <= 4; want++) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		bool done = false;

		if (!f)
			break;
		while (!done && getline(&line, &cap, f) > 0) {
			struct cg_mount m;

			if (cg_mount_parse(line, &m) == 0 && mount_rank(&m) == want)
				done = try_mount(&m, sub) == 0;
		}
		fclose(f);
		if (done)
			break;
	}
	free(line);
}

static void subtree_name(const char *node, char *out, size_t len)
{
	size_t i = 0;

	snprintf(out, len, "pacer_%s", node && *node ? node : "node");
	for (i = strlen("pacer_"); out[i]; i++) {
		char c = out[i];

		if (!(c == '.' || c == '-' || c == '_' || (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			out[i] = '_';
	}
}

int track_init(const char *node)
{
	char sub[NAME_MAX + 1];

	tr.kind = TRACK_SESSION;
	tr.base[0] = '\0';
	snprintf(tr.method, sizeof(tr.method), "session");
	subtree_name(node, sub, sizeof(sub));
	detect(sub);
	if (tr.kind == TRACK_SESSION)
		log_warn("job tracking: no writable cgroup hierarchy, tracking by session "
			 "(processes that call setsid() escape and are not killed with the job)");
	else
		log_info("job tracking: %s", tr.method);
	return 0;
}

const char *track_method(void)
{
	return tr.method;
}

bool track_by_session(void)
{
	return tr.kind == TRACK_SESSION;
}

void track_force_session(void)
{
	tr.kind = TRACK_SESSION;
	tr.base[0] = '\0';
	snprintf(tr.method, sizeof(tr.method), "session");
}
