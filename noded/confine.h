/* confine.h - keep each job inside its CPUs and its memory with cgroups.
 *
 * Where the memory and cpuset controllers are usable, every job gets a
 * memory limit (its allocation's memory) and a cpuset (its CPUs and NUMA
 * nodes on this machine), so it cannot take more than it was given even if
 * it rebinds itself; a job the kernel's OOM killer stops for exceeding its
 * limit is reported as such.
 *
 *   - cgroup v2: the controllers are enabled below the daemon's own cgroup
 *     and the limits are written into the job's tracking cgroup (track.h),
 *     since a process has one v2 cgroup only;
 *   - cgroup v1: the job gets a cgroup in the memory and in the cpuset
 *     hierarchy, below the daemon's own cgroup of each, in a subtree named
 *     per node daemon (as track.h does) so daemons sharing a machine never
 *     meet.
 *
 * Each controller is taken from v2 when v2 offers it, else from v1.
 */
#ifndef PACER_NODED_CONFINE_H
#define PACER_NODED_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct confine;
struct track;

/* Decide, once per daemon, after track_init: MODE is pacer.conf's
 * `confine` ("auto", "cgroup" or "none"), KEY names this daemon's subtree
 * (as for track_init).  Logs once what is used.  0, or -1 with ERR when
 * MODE is "cgroup" and the memory and cpuset controllers are not both
 * usable. */
int confine_init(const char *mode, const char *key, char *err, size_t errlen);

/* "cgroup v1 memory+cpuset", "cgroup v2 memory", "none"...: for logs. */
const char *confine_method(void);

/* The node daemon, once it knows which jobs still run: remove the empty v1
 * job cgroups of the others (left by supervisors that died).  KEEP (may be
 * NULL) says which job ids to leave alone; a supervisor of a live job may
 * have made its cgroup and not moved into it yet. */
void confine_sweep(bool (*keep)(uint32_t job_id, void *arg), void *arg);

/* Remove this daemon's (empty) subtrees: at exit. */
void confine_fini(void);

/* The cgroups of job JOB_ID: a memory limit of MEM_MB MiB (0 = none),
 * cpuset CPUS and MEMS (os-index lists of this machine; "" = no cpuset).
 * TRACK is the job's tracker (its cgroup is the job's v2 cgroup).  Never
 * NULL on success, even when nothing is confined.  NULL with errno and ERR
 * saying what failed. */
struct confine *confine_create(uint32_t job_id, struct track *track, uint64_t mem_mb,
			       const char *cpus, const char *mems, char *err, size_t errlen);

/* The cgroups of step STEP_ID of job JOB_ID: a cpuset only (a step shares
 * its job's memory), named job_ID.STEP beside the job's.  As
 * confine_create otherwise. */
struct confine *confine_create_step(uint32_t job_id, uint32_t step_id, struct track *track,
				    const char *cpus, const char *mems, char *err, size_t errlen);

/* In the forked child, before dropping privileges: join the job's v1
 * cgroups.  Async-signal-safe.  0 or -1 with errno. */
int confine_join_self(const struct confine *c);

/* The memory limit applied, in MiB (0 = none). */
uint64_t confine_mem_mb(const struct confine *c);

/* How many of the job's processes the kernel's OOM killer killed for
 * exceeding the limit (0 when no limit).  Read before confine_destroy and,
 * in v2, before the tracker is destroyed.  SIGKILLED says the script died
 * of SIGKILL: on kernels without an oom_kill counter, a limit that was hit
 * (memory.failcnt) then counts as one kill. */
uint64_t confine_oom_kills(const struct confine *c, bool sigkilled);

/* Remove the job's v1 cgroups (its processes must be gone) and free C. */
void confine_destroy(struct confine *c);

/* A restarted daemon: kill what is left in the v1 cgroups of JOB_ID (left
 * by an earlier run) and remove them. */
void confine_cleanup(uint32_t job_id);

#endif
