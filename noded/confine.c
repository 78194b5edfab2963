/* confine.c - memory limits and cpusets per job, cgroup v2 or v1 (see confine.h). */
#include "confine.h"
#include "cgroup.h"
#include "strfmt.h"
#include "track.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define RMDIR_WAIT_MS   1000
#define CLEANUP_WAIT_MS 3000

enum kind { CG_NONE, CG_V1, CG_V2 };

/* One controller: where its job cgroups go. */
struct ctl {
	const char *name; /* "memory", "cpuset" */
	enum kind kind;
	char base[PATH_MAX]; /* v1: <own cgroup>/pacer_<key>; v2: track's subtree */
	char why[160];       /* when unusable: the reason, for the log */
};

static struct {
	struct ctl mem, cpu;
	char method[96];
} cf = { { "memory", CG_NONE, "", "" }, { "cpuset", CG_NONE, "", "" }, "none" };

struct confine {
	uint32_t job_id;
	char unit[40]; /* its cgroups' name: job_ID, or job_ID.STEP for a step */
	uint64_t mem_mb;
	enum kind mem_kind, cpu_kind;
	char mem_dir[PATH_MAX];   /* where its memory.* files are, "" = no limit */
	char cpu_dir[PATH_MAX];   /* where its cpuset.* files are, "" = no cpuset */
	char mem_procs[PATH_MAX]; /* v1: cgroup.procs to join, "" = none */
	char cpu_procs[PATH_MAX];
};

static void unusable(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void unusable(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	c->kind = CG_NONE;
	c->base[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/* ---- detection: cgroup v2 ------------------------------------------------ */

/* Is CTL a word of the space-separated list in DIR/FILE? */
static bool listed(const char *dir, const char *file, const char *ctl)
{
	char buf[512];
	size_t len = strlen(ctl);

	if (cg_read(dir, file, buf, sizeof(buf)) < 0)
		return false;
	for (char *p = buf; (p = strstr(p, ctl)); p += len)
		if ((p == buf || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\0'))
			return true;
	return false;
}

/* Enable CTL ("+memory") in OWN's subtree_control.  A cgroup with processes
 * cannot pass domain controllers down (cgroup v2's no-internal-process
 * rule), so when the daemon sits in OWN it moves itself to a leaf of its
 * own first, as systemd's Delegate=yes expects a service to do. */
static int enable_below(const char *own, const char *sub, const char *ctl)
{
	char leaf[PATH_MAX], pid[24];

	if (cg_write(own, "cgroup.subtree_control", ctl) == 0)
		return 0;
	if (errno != EBUSY)
		return -1;
	if (strfmt_path(leaf, sizeof(leaf), "%s/%s.daemon", own, sub) < 0)
		return -1;
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (cg_write(leaf, "cgroup.procs", pid) < 0)
		return -1;
	log_info("moved the node daemon into %s so that its jobs' cgroups can have %s", leaf,
		 ctl + 1);
	return cg_write(own, "cgroup.subtree_control", ctl);
}

static void try_v2(struct ctl *c)
{
	const char *base = track_v2_base();
	char own[PATH_MAX], ctl[16];
	const char *slash = strrchr(base, '/');

	if (!*base || !slash)
		return;
	snprintf(own, sizeof(own), "%.*s", (int)(slash - base), base);
	if (listed(base, "cgroup.controllers", c->name))
		goto enable;
	if (!listed(own, "cgroup.controllers", c->name))
		return; /* not in this v2 tree (bound to v1, or not delegated) */
	snprintf(ctl, sizeof(ctl), "+%s", c->name);
	if (enable_below(own, slash + 1, ctl) < 0) {
		unusable(c, "cgroup v2 %s cannot be enabled below %s: %s", c->name, own,
			 strerror(errno));
		return;
	}
enable:
	snprintf(ctl, sizeof(ctl), "+%s", c->name);
	if (!listed(base, "cgroup.subtree_control", c->name) &&
	    cg_write(base, "cgroup.subtree_control", ctl) < 0) {
		unusable(c, "cgroup v2 %s cannot be enabled in %s: %s", c->name, base,
			 strerror(errno));
		return;
	}
	c->kind = CG_V2;
	snprintf(c->base, sizeof(c->base), "%s", base);
}

/* ---- detection: cgroup v1 ------------------------------------------------ */

/* A v1 cpuset cgroup holds no task until it has CPUs and memory nodes: the
 * subtree starts with all of its parent's. */
static int cpuset_inherit(const char *parent, const char *dir)
{
	char buf[4096];

	if (cg_read(parent, "cpuset.cpus", buf, sizeof(buf)) < 0 ||
	    cg_write(dir, "cpuset.cpus", buf) < 0 ||
	    cg_read(parent, "cpuset.mems", buf, sizeof(buf)) < 0 ||
	    cg_write(dir, "cpuset.mems", buf) < 0)
		return -1;
	return 0;
}

/* Remove the empty job cgroups left in BASE but those KEEP says are live;
 * busy ones stay for confine_cleanup, which kills them first. */
static void sweep(const char *base, bool (*keep)(uint32_t job_id, void *arg), void *arg)
{
	DIR *d = opendir(base);
	struct dirent *de;
	char dir[PATH_MAX], *end;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "job_", 4) != 0 ||
		    strfmt_path(dir, sizeof(dir), "%s/%s", base, de->d_name) < 0)
			continue;
		/* job_ID, or job_ID.STEP: a step's, kept with its job. */
		unsigned long id = strtoul(de->d_name + 4, &end, 10);
		if ((*end == '\0' || *end == '.') && id <= UINT32_MAX && keep &&
		    keep((uint32_t)id, arg))
			continue;
		if (rmdir(dir) == 0)
			log_info("removed the leftover cgroup %s", dir);
	}
	closedir(d);
}

void confine_sweep(bool (*keep)(uint32_t job_id, void *arg), void *arg)
{
	struct ctl *both[] = { &cf.mem, &cf.cpu };

	for (size_t i = 0; i < 2; i++)
		if (both[i]->kind == CG_V1)
			sweep(both[i]->base, keep, arg);
}

static void try_v1(struct ctl *c, const char *sub)
{
	char own[PATH_MAX], base[PATH_MAX];

	if (cg_find(c->name, own, sizeof(own)) < 0) {
		if (!c->why[0])
			unusable(c, "no cgroup %s controller is mounted read-write", c->name);
		return;
	}
	if (strfmt_path(base, sizeof(base), "%s/%s", own, sub) < 0) {
		unusable(c, "the path of the cgroup v1 %s subtree is too long", c->name);
		return;
	}
	if (mkdir(base, 0755) < 0 && errno != EEXIST) {
		unusable(c, "cannot create %s: %s", base, strerror(errno));
		return;
	}
	if (strcmp(c->name, "cpuset") == 0 && cpuset_inherit(own, base) < 0) {
		unusable(c, "cannot set up %s: %s", base, strerror(errno));
		rmdir(base);
		return;
	}
	if (access(base, W_OK) < 0) {
		unusable(c, "%s is not writable: %s", base, strerror(errno));
		return;
	}
	c->kind = CG_V1;
	c->why[0] = '\0';
	snprintf(c->base, sizeof(c->base), "%s", base);
}

/* "pacer_<key>", with anything but [A-Za-z0-9._-] turned into '_' (as
 * track.c names its subtree). */
static void subtree_name(const char *key, char *out, size_t len)
{
	snprintf(out, len, "pacer_%s", key && *key ? key : "node");
	for (char *p = out + strlen("pacer_"); *p; p++)
		if (!(*p == '.' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			*p = '_';
}

static const char *kind_name(enum kind k)
{
	return k == CG_V2 ? "cgroup v2" : "cgroup v1";
}

static void make_method(void)
{
	const struct ctl *m = &cf.mem, *c = &cf.cpu;

	if (m->kind == CG_NONE && c->kind == CG_NONE)
		snprintf(cf.method, sizeof(cf.method), "none");
	else if (m->kind == c->kind)
		snprintf(cf.method, sizeof(cf.method), "%s memory+cpuset", kind_name(m->kind));
	else if (m->kind != CG_NONE && c->kind != CG_NONE)
		snprintf(cf.method, sizeof(cf.method), "%s memory, %s cpuset", kind_name(m->kind),
			 kind_name(c->kind));
	else
		snprintf(cf.method, sizeof(cf.method), "%s %s",
			 kind_name(m->kind != CG_NONE ? m->kind : c->kind),
			 m->kind != CG_NONE ? "memory" : "cpuset");
}

int confine_init(const char *mode, const char *key, char *err, size_t errlen)
{
	char sub[NAME_MAX + 1];
	struct ctl *both[] = { &cf.mem, &cf.cpu };

	for (size_t i = 0; i < 2; i++)
		unusable(both[i], "not looked for");
	snprintf(cf.method, sizeof(cf.method), "none");
	if (mode && strcmp(mode, "none") == 0) {
		log_info("job confinement off (confine = none): binding only");
		return 0;
	}
	subtree_name(key, sub, sizeof(sub));
	for (size_t i = 0; i < 2; i++) {
		both[i]->why[0] = '\0';
		try_v2(both[i]);
		if (both[i]->kind == CG_NONE)
			try_v1(both[i], sub);
	}
	make_method();
	if (cf.mem.kind != CG_NONE && cf.cpu.kind != CG_NONE) {
		log_info("confining jobs with %s (memory: %s, cpuset: %s)", cf.method, cf.mem.base,
			 cf.cpu.base);
		return 0;
	}
	if (mode && strcmp(mode, "cgroup") == 0) {
		const struct ctl *bad = cf.mem.kind == CG_NONE ? &cf.mem : &cf.cpu;

		return strfmt_fail(
		    err, errlen, ENOTSUP,
		    "confine = cgroup, but jobs cannot be confined here: %s (run "
		    "pacernoded as root with its cgroups delegated, or set confine = auto "
		    "or none in pacer.conf)",
		    bad->why);
	}
	if (cf.mem.kind == CG_NONE && cf.cpu.kind == CG_NONE)
		log_warn("no usable memory/cpuset cgroup controller: binding only (memory: %s; "
			 "cpuset: %s)",
			 cf.mem.why, cf.cpu.why);
	else
		log_warn("confining jobs with %s only (in %s); %s: %s", cf.method,
			 cf.mem.kind == CG_NONE ? cf.cpu.base : cf.mem.base,
			 cf.mem.kind == CG_NONE ? "memory" : "cpuset",
			 cf.mem.kind == CG_NONE ? cf.mem.why : cf.cpu.why);
	return 0;
}

const char *confine_method(void)
{
	return cf.method;
}

void confine_fini(void)
{
	struct ctl *both[] = { &cf.mem, &cf.cpu };

	for (size_t i = 0; i < 2; i++)
		if (both[i]->kind == CG_V1 && rmdir(both[i]->base) < 0 && errno != ENOENT &&
		    errno != EBUSY && errno != ENOTEMPTY)
			log_warn("cannot remove %s: %s", both[i]->base, strerror(errno));
}

/* ---- per job --------------------------------------------------------------- */

static int job_dir(const struct ctl *c, uint32_t job_id, char *out, size_t len)
{
	return strfmt_path(out, len, "%s/job_%" PRIu32, c->base, job_id);
}

/* A v1 job cgroup: made (a leftover of the same job is reused), its
 * cgroup.procs noted for the child. */
static int v1_make(const struct ctl *c, const char *unit, char *dir, char *procs, size_t len)
{
	if (strfmt_path(dir, len, "%s/%s", c->base, unit) < 0 ||
	    strfmt_path(procs, len, "%s/cgroup.procs", dir) < 0)
		return -1;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int set_memory(struct confine *c, struct track *t, uint64_t mem_mb, char *err, size_t errlen)
{
	char bytes[32];
	const char *file;

	if (mem_mb > (UINT64_MAX >> 20))
		return strfmt_fail(err, errlen, EINVAL,
				   "job %" PRIu32 ": memory limit %" PRIu64 " MiB is out of range",
				   c->job_id, mem_mb);
	snprintf(bytes, sizeof(bytes), "%" PRIu64, mem_mb << 20);
	c->mem_kind = cf.mem.kind;
	if (cf.mem.kind == CG_V2) {
		if (strfmt_path(c->mem_dir, sizeof(c->mem_dir), "%s", track_dir(t)) < 0 ||
		    !c->mem_dir[0])
			return strfmt_fail(
			    err, errlen, ENOENT,
			    "job %" PRIu32 " has no cgroup v2 to limit its memory in", c->job_id);
		file = "memory.max";
	} else {
		if (v1_make(&cf.mem, c->unit, c->mem_dir, c->mem_procs, sizeof(c->mem_dir)) < 0)
			return strfmt_fail(err, errlen, errno,
					   "cannot create the memory cgroup of job %" PRIu32
					   " in %s: %s",
					   c->job_id, cf.mem.base, strerror(errno));
		file = "memory.limit_in_bytes";
	}
	if (cg_write(c->mem_dir, file, bytes) < 0)
		return strfmt_fail(err, errlen, errno, "cannot write %s to %s/%s: %s", bytes,
				   c->mem_dir, file, strerror(errno));
	/* The limit is on memory, not memory plus swap: without this a job
	 * would page out instead of being stopped.  Missing where the kernel
	 * does not account swap, which is then fine. */
	if (cf.mem.kind == CG_V2)
		cg_write(c->mem_dir, "memory.swap.max", "0");
	else
		cg_write(c->mem_dir, "memory.memsw.limit_in_bytes", bytes);
	c->mem_mb = mem_mb;
	return 0;
}

static int set_cpuset(struct confine *c, struct track *t, const char *cpus, const char *mems,
		      char *err, size_t errlen)
{
	char inherited[4096];

	c->cpu_kind = cf.cpu.kind;
	if (cf.cpu.kind == CG_V2) {
		if (strfmt_path(c->cpu_dir, sizeof(c->cpu_dir), "%s", track_dir(t)) < 0 ||
		    !c->cpu_dir[0])
			return strfmt_fail(err, errlen, ENOENT,
					   "job %" PRIu32 " has no cgroup v2 to hold its cpuset",
					   c->job_id);
	} else if (v1_make(&cf.cpu, c->unit, c->cpu_dir, c->cpu_procs, sizeof(c->cpu_dir)) < 0) {
		return strfmt_fail(err, errlen, errno,
				   "cannot create the cpuset cgroup of job %" PRIu32 " in %s: %s",
				   c->job_id, cf.cpu.base, strerror(errno));
	}
	if (!mems || !*mems) {
		/* v2 inherits by itself; v1 needs the nodes written. */
		if (cf.cpu.kind == CG_V1 &&
		    cg_read(cf.cpu.base, "cpuset.mems", inherited, sizeof(inherited)) < 0)
			return strfmt_fail(err, errlen, errno, "cannot read %s/cpuset.mems: %s",
					   cf.cpu.base, strerror(errno));
		mems = cf.cpu.kind == CG_V1 ? inherited : NULL;
	}
	if (cg_write(c->cpu_dir, "cpuset.cpus", cpus) < 0)
		return strfmt_fail(err, errlen, errno, "cannot write CPUs %s to %s/cpuset.cpus: %s",
				   cpus, c->cpu_dir, strerror(errno));
	if (mems && cg_write(c->cpu_dir, "cpuset.mems", mems) < 0)
		return strfmt_fail(err, errlen, errno,
				   "cannot write NUMA nodes %s to %s/cpuset.mems: %s", mems,
				   c->cpu_dir, strerror(errno));
	return 0;
}

static struct confine *make(uint32_t job_id, const uint32_t *step, struct track *track,
			    uint64_t mem_mb, const char *cpus, const char *mems, char *err,
			    size_t errlen)
{
	struct confine *c = calloc(1, sizeof(*c));
	char why[PATH_MAX + 256];
	int e;

	if (!c) {
		strfmt_fail(err, errlen, ENOMEM, "out of memory");
		return NULL;
	}
	c->job_id = job_id;
	if (step)
		snprintf(c->unit, sizeof(c->unit), "job_%" PRIu32 ".%" PRIu32, job_id, *step);
	else
		snprintf(c->unit, sizeof(c->unit), "job_%" PRIu32, job_id);
	if (mem_mb > 0 && cf.mem.kind != CG_NONE &&
	    set_memory(c, track, mem_mb, why, sizeof(why)) < 0)
		goto failed;
	if (cpus && *cpus && cf.cpu.kind != CG_NONE &&
	    set_cpuset(c, track, cpus, mems, why, sizeof(why)) < 0)
		goto failed;
	return c;
failed:
	e = errno;
	strfmt_fail(err, errlen, e, "cannot confine job %" PRIu32 ": %s", job_id, why);
	confine_destroy(c);
	errno = e;
	return NULL;
}

struct confine *confine_create(uint32_t job_id, struct track *track, uint64_t mem_mb,
			       const char *cpus, const char *mems, char *err, size_t errlen)
{
	return make(job_id, NULL, track, mem_mb, cpus, mems, err, errlen);
}

struct confine *confine_create_step(uint32_t job_id, uint32_t step_id, struct track *track,
				    const char *cpus, const char *mems, char *err, size_t errlen)
{
	return make(job_id, &step_id, track, 0, cpus, mems, err, errlen);
}

int confine_join_self(const struct confine *c)
{
	if (!c)
		return 0;
	return cg_join(c->cpu_procs) < 0 || cg_join(c->mem_procs) < 0 ? -1 : 0;
}

uint64_t confine_mem_mb(const struct confine *c)
{
	return c ? c->mem_mb : 0;
}

uint64_t confine_oom_kills(const struct confine *c, bool sigkilled)
{
	unsigned long long v = 0;
	char buf[64];

	if (!c || !c->mem_dir[0])
		return 0;
	if (c->mem_kind == CG_V2)
		return cg_read_key(c->mem_dir, "memory.events", "oom_kill", &v) == 0 ? v : 0;
	if (cg_read_key(c->mem_dir, "memory.oom_control", "oom_kill", &v) == 0)
		return v;
	/* Kernels before 4.13 count no kills: a hit limit and a SIGKILLed
	 * script are the best sign there is. */
	if (sigkilled && cg_read(c->mem_dir, "memory.failcnt", buf, sizeof(buf)) == 0 &&
	    strtoull(buf, NULL, 10) > 0)
		return 1;
	return 0;
}

static void remove_dir(const char *dir, uint32_t job_id)
{
	if (dir[0] && cg_rmdir(dir, RMDIR_WAIT_MS) < 0)
		log_warn("cannot remove cgroup %s of job %" PRIu32 ": %s", dir, job_id,
			 strerror(errno));
}

void confine_destroy(struct confine *c)
{
	if (!c)
		return;
	/* v2 limits live in the tracker's cgroup, which track_destroy removes. */
	if (c->mem_kind == CG_V1)
		remove_dir(c->mem_dir, c->job_id);
	if (c->cpu_kind == CG_V1)
		remove_dir(c->cpu_dir, c->job_id);
	free(c);
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* SIGKILL every process listed in DIR until none is left (or time is up). */
static void kill_all(const char *dir)
{
	struct timespec step = { 0, 20 * 1000000L };
	long deadline = mono_ms() + CLEANUP_WAIT_MS;
	char path[PATH_MAX];

	if (strfmt_path(path, sizeof(path), "%s/cgroup.procs", dir) < 0)
		return;
	for (;;) {
		FILE *f = fopen(path, "re");
		long pid;
		int n = 0;

		if (!f)
			return;
		while (fscanf(f, "%ld", &pid) == 1) {
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
				n++;
		}
		fclose(f);
		if (n == 0 || mono_ms() >= deadline)
			return;
		nanosleep(&step, NULL);
	}
}

void confine_cleanup(uint32_t job_id)
{
	struct ctl *both[] = { &cf.mem, &cf.cpu };
	char dir[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < 2; i++) {
		if (both[i]->kind != CG_V1 || job_dir(both[i], job_id, dir, sizeof(dir)) < 0 ||
		    stat(dir, &st) < 0)
			continue;
		kill_all(dir);
		remove_dir(dir, job_id);
	}
}
