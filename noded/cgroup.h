/* cgroup.h - the cgroup file system as the node daemon uses it: which
 * hierarchies are mounted where, which cgroup this process is in, and small
 * reads and writes of their files.  Shared by track.c (a cgroup per job to
 * find its processes) and confine.c (limits on those cgroups).
 */
#ifndef PACER_NODED_CGROUP_H
#define PACER_NODED_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

/* The fields of a /proc/self/mountinfo line that matter here (pointers
 * into the line). */
struct cg_mount {
	char *root;   /* the part of the hierarchy the mount shows */
	char *point;  /* where it is mounted */
	char *opts;   /* mount options: rw, ro... */
	char *fstype; /* "cgroup" (v1) or "cgroup2" */
	char *super;  /* super options: the v1 controllers ("rw,memory") */
};

/* Split a mountinfo LINE (modified).  0, or -1 when it does not parse. */
int cg_mount_parse(char *line, struct cg_mount *m);

/* Is OPT (LEN bytes) one of the comma-separated options in LIST? */
bool cg_has_opt(const char *list, const char *opt, size_t len);

/* The directory of this process's own cgroup in the hierarchy mounted at M
 * (V2: the unified one), into OUT.  0, or -1 when it does not fit. */
int cg_own_dir(const struct cg_mount *m, bool v2, char *out, size_t len);

/* This process's own cgroup directory in the rw v1 hierarchy that holds
 * controller CTL ("memory", "cpuset"), or (CTL NULL) in the rw v2
 * hierarchy.  0, or -1 with ENOENT when there is none. */
int cg_find(const char *ctl, char *out, size_t len);

/* Write VALUE into DIR/FILE.  0 or -1 with errno. */
int cg_write(const char *dir, const char *file, const char *value);

/* Read DIR/FILE into BUF (NUL-terminated, trailing newline cut).  0 or -1
 * with errno. */
int cg_read(const char *dir, const char *file, char *buf, size_t len);

/* The number after KEY on a "KEY N" line of DIR/FILE (memory.events,
 * memory.oom_control).  0 with *V set, or -1 (ENOENT: no such file or
 * line). */
int cg_read_key(const char *dir, const char *file, const char *key, unsigned long long *v);

/* Move this process into the cgroup whose cgroup.procs file is PROCS ("":
 * none, nothing to do).  Async-signal-safe, no stdio or malloc, for a
 * forked child before exec.  0 or -1 with errno. */
int cg_join(const char *procs);

/* Remove DIR, waiting up to MS milliseconds while it is busy (a killed
 * group empties a moment after its last process died).  0 or -1 with
 * errno (ENOENT counts as done). */
int cg_rmdir(const char *dir, long ms);

#endif
