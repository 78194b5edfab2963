/* track.h - know every process of a job, and kill them all.
 *
 * Where a cgroup hierarchy is writable (v2 with cgroup.kill or cgroup.procs,
 * or a v1 named/pids/freezer hierarchy), each job gets its own cgroup, so
 * double-forked daemons and setsid()'d children are still found.  Otherwise
 * the job's session (the script is a session leader) is used, which misses
 * processes that leave the session; the fallback is logged once at start.
 */
#ifndef PACER_TRACK_H
#define PACER_TRACK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct track;

/* Detect what this machine offers, once per daemon.  NODE names this node
 * daemon's subtree ("pacer_<node>") so several daemons on one machine keep
 * their jobs apart.  Always succeeds: without cgroups, tracking is by
 * session.  Returns 0. */
int track_init(const char *node);

/* "cgroup2 /sys/fs/cgroup/...", "cgroup1 ..." or "session": for the log. */
const char *track_method(void);

/* True when jobs are tracked by session (no usable cgroup): only then does
 * finding a job's processes again need the script's pid. */
bool track_by_session(void);

/* A tracker for JOB_ID (creates its cgroup).  NULL with errno. */
struct track *track_create(uint32_t job_id);

/* A tracker for step STEP_ID of job JOB_ID (its own cgroup, so the step
 * can be signalled and ended alone).  NULL with errno. */
struct track *track_create_step(uint32_t job_id, uint32_t step_id);

/* Re-open the tracker of a job left by an earlier run of the daemon (its
 * cgroup, if it still exists).  NULL with ENOENT when nothing is left. */
struct track *track_find(uint32_t job_id);

/* The same for step STEP_ID of job JOB_ID (its job_ID.STEP cgroup). */
struct track *track_find_step(uint32_t job_id, uint32_t step_id);

/* In the forked child, before dropping privileges: move the calling process
 * into the job's cgroup.  Async-signal-safe.  0 or -1 with errno. */
int track_join_self(struct track *t);

/* Tell the tracker the session id (= pid of the script) for the fallback. */
void track_set_session(struct track *t, pid_t sid);

/* Send SIG to every process of the job.  0, or -1 with errno (ESRCH when
 * none was left). */
int track_signal(struct track *t, int sig);

/* SIGKILL every process of the job (cgroup.kill where the kernel has it). */
int track_kill(struct track *t);

/* True when no process of the job is left. */
bool track_empty(struct track *t);

/* Remove the cgroup (it must be empty) and free T. */
void track_destroy(struct track *t);

/* The job's cgroup directory; "" when tracking by session. */
const char *track_dir(const struct track *t);

/* This daemon's subtree of job cgroups when tracking with cgroup v2, else
 * "" (confine.h puts v2 limits on the same cgroups). */
const char *track_v2_base(void);

/* At exit, once every job is gone: remove this daemon's subtree. */
void track_fini(void);

#endif
