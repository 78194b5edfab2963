/* job.h - the controller's job table.
 *
 * Every job lives in one hash table by id and on one list in id order (ids
 * only grow, so appending keeps it sorted); pending jobs that are not held
 * are also on the pending queue, in scheduling order: priority, then id.  Strings that jobs
 * share are interned (blob.h).  Only state.c changes jobs, by applying
 * journal records, so the journal is the one record of every change.
 */
#ifndef PACER_JOB_H
#define PACER_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pacer.pb-c.h"
#include "step.h"

struct blob;
struct depspec_term;

/* One node of a running job's allocation, as journaled: CPU sets are lists
 * of the node's PU os indexes, turned into PU indexes only when the node's
 * topology is known (node_charge), so a controller that restarts before its
 * nodes register keeps them exactly. */
struct job_alloc {
	uint32_t node; /* index in the node table */
	uint32_t cpus; /* PUs */
	uint64_t mem_mb;
	bool exclusive;
	bool charged; /* counted on the node's select_node */
	uint32_t ngpus;
	struct blob *cpuset;    /* every PU of the job there */
	struct blob *task_cpus; /* blob_strv: one cpuset per task */
	struct blob *task_ids;  /* list ("0-3") of the tasks' global ranks */
	struct blob *gpus;      /* list of GPU indexes */
	struct blob *gpu_env;
	struct blob *mems;
};

struct job {
	uint32_t id;
	uint32_t uid;
	uint32_t gid;
	uint8_t state; /* Pacer__JobState */
	bool held;
	bool cancel_requested;
	bool charged;       /* its allocation is counted on its nodes */
	uint16_t partition; /* index in conf->partitions: where it runs or ran,
			     * else the first of parts */
	uint16_t nparts;
	uint16_t *parts;       /* the partitions it may run in, in the order given */
	struct blob *partlist; /* their names as journaled: "batch,debug" */
	uint32_t nodes_req;
	uint32_t ntasks;
	uint32_t cpus_per_task;
	uint32_t time_limit; /* seconds, resolved at submit */
	uint32_t priority;
	uint32_t requeue_count;
	uint32_t nalloc;
	/* placement (see select.h) */
	uint32_t ntasks_per_node;
	uint32_t ntasks_per_socket;
	uint32_t gpus;
	uint32_t gpus_per_node;
	uint64_t mem_per_cpu_mb;
	bool exclusive;
	bool threads;
	bool alloc_only; /* no script: an allocation for `pacer alloc` or `pacer run` */
	uint8_t dist_node; /* enum select_dist */
	uint8_t dist_socket;
	int32_t nice;
	struct blob *nodelist; /* --nodelist as given, "" = none */
	struct blob *exclude;
	struct blob *constraint;
	struct blob *cpu_bind;
	struct blob *distribution;
	/* arrays and dependencies */
	uint32_t array_job_id; /* 0 = not an array task */
	uint32_t array_task_id;
	uint32_t array_max_running;
	struct blob *array;      /* the --array spec, on every task */
	struct blob *dependency; /* as given */
	struct depspec_term *deps;
	uint16_t ndeps;
	bool deps_any; /* '?' separated: one term suffices */
	bool singleton;
	bool deps_unreadable;   /* its journaled --dependency cannot be read: held for good */
	int64_t expected_start; /* pending: the scheduler's estimate, 0 = unknown */
	int32_t exit_code;
	int32_t term_signal;
	uint64_t mem_mb;
	uint64_t epoch;
	int64_t submit_time;
	int64_t start_time;
	int64_t end_time;
	char *name;
	struct blob *user;
	struct blob *reason;
	struct blob *workdir;
	struct blob *stdout_pattern;
	struct blob *stderr_pattern;
	struct blob *script;
	struct blob *env;  /* blob_strv */
	struct blob *argv; /* blob_strv */
	struct blob *submit_dir;
	struct blob *submit_host;
	struct blob *stdout_path; /* resolved when it started */
	struct blob *stderr_path;
	struct job_alloc *alloc;
	struct step *steps;    /* by id (step.h) */
	uint32_t next_step_id; /* journaled through its steps' records */
	struct job *hnext;
	struct job *prev, *next;   /* all jobs, by id */
	struct job *pprev, *pnext; /* pending queue */
	bool launch_pending;       /* started, launch not sent yet (waits for disk) */
	bool unrecorded;           /* submitted, its record not yet on disk: hidden
				    * from listings, so no id is ever seen that a
				    * crash could give to another job */
};

/* The job with ID, or NULL. */
struct job *job_find(uint32_t id);

/* First job by id; follow ->next. */
struct job *job_first(void);

/* First pending job that is not held, in scheduling order; follow ->pnext. */
struct job *job_pending_first(void);

size_t job_count(void);

/* A new job from its journal form, inserted.  NULL with errno (EEXIST when
 * the id is taken). */
struct job *job_create(const Pacer__Job *pj);

/* Move J to STATE, keeping the pending queue right. */
void job_set_state(struct job *j, Pacer__JobState state);

/* Hold or release J, keeping the pending queue right. */
void job_set_held(struct job *j, bool held);

/* Set the reason (NULL clears it). */
void job_set_reason(struct job *j, const char *reason);

/* Replace J's allocation with ALLOC[0..n) (nodes missing from the config
 * are dropped).  Releases the old one's charge first.  0 or -1 (ENOMEM). */
int job_set_alloc(struct job *j, Pacer__NodeAlloc *const *alloc, size_t n);

/* One node of an allocation from its journal form (NODE: table index),
 * and its release.  0 or -1 (ENOMEM). */
int job_alloc_from_proto(struct job_alloc *a, uint32_t node, const Pacer__NodeAlloc *na);
void job_alloc_release(struct job_alloc *a);

/* Release and forget J's allocation. */
void job_clear_alloc(struct job *j);

/* Parse a --distribution value ("", block, cyclic, block:cyclic...) into
 * NODE and SOCKET (enum select_dist).  0 or -1 with EINVAL. */
int job_parse_distribution(const char *s, uint8_t *node, uint8_t *socket);

/* The partition a listing shows: the list while J has not started (it may
 * run in any of them, as squeue shows it), else the one it runs or ran in. */
const char *job_partition_shown(const struct job *j);

/* "123" or "123_4" into BUF (snprintf-style). */
int job_format_id(const struct job *j, char *buf, size_t len);

/* Remove and free J. */
void job_destroy(struct job *j);

/* True when STATE is a final one. */
bool job_state_final(Pacer__JobState state);

/* Upper-case name of a state ("PENDING"). */
const char *job_state_name(Pacer__JobState state);

/* A proto view of J.  Strings and arrays point into J or into SCRATCH, which
 * must be released with job_proto_release; FULL includes script and env.
 * 0 or -1 with ENOMEM. */
/* Arrays a NodeAlloc view points into. */
struct job_alloc_lists {
	char **task_cpus;
	uint32_t *task_ids;
	uint32_t *gpus;
};
struct job_proto {
	Pacer__Job job;
	Pacer__JobSpec spec;
	Pacer__NodeAlloc *allocs;
	Pacer__NodeAlloc **allocp;
	struct job_alloc_lists *lists;
	char **env;
	char **argv;
	struct step_protos steps;
};
int job_to_proto(const struct job *j, struct job_proto *p, bool full);
void job_proto_release(struct job_proto *p);

/* A proto view of one node of an allocation (strings point into A, arrays
 * into L, released with job_alloc_lists_release).  0 or -1 (ENOMEM). */
int job_alloc_to_proto(const struct job_alloc *a, Pacer__NodeAlloc *na, struct job_alloc_lists *l);
void job_alloc_lists_release(struct job_alloc_lists *l);

/* Fill a summary line of J (pointers into J; NODELIST is the caller's). */
void job_to_summary(const struct job *j, Pacer__JobSummary *s, char *nodelist);

/* Free every job (at exit, so leak checkers stay quiet). */
void job_table_destroy(void);

#endif
