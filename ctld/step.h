/* step.h - job steps: `pacer run` inside a job (JOB.STEP).
 *
 * A step takes part of its job's allocation.  Where its tasks go is the
 * select plugin's choice, on scratch copies of the job's nodes on which every
 * PU outside the job is taken, and for a step that does not --overlap, every
 * PU of running non-overlapping steps too: the plugin tells "never" (the job
 * alone cannot hold it: refused at once) from "not now" (it waits, in memory
 * only, until a step ends).  Starts and ends are journaled (StepStart,
 * StepEnd) and applied by state.c; steps still running when their job ends
 * end with it, by the job's own record.  The batch script is the step
 * `batch`, shown from the job itself, with no record.
 */
#ifndef PACER_STEP_H
#define PACER_STEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pacer.pb-c.h"
#include "select.h"

struct job;
struct job_alloc;

/* Pseudo job ids that mark, on scratch nodes, the PUs a step may not use. */
#define STEP_OUTSIDE UINT32_MAX       /* not the job's */
#define STEP_HELD    (UINT32_MAX - 1) /* held by a running non-overlapping step */

/* Placement -------------------------------------------------------------*/

/* One node of the job, as a step's placement sees it. */
struct step_node {
	const char *name;
	const struct topo_layout *layout; /* NULL: size unknown (never fits now) */
	const uint32_t *job_pus;          /* PU indexes the job holds here */
	size_t njob;
	const uint32_t *held_pus; /* of running non-overlapping steps, repeats allowed */
	size_t nheld;
};

/* A step's request, defaults resolved. */
struct step_ask {
	uint32_t job_id;
	uint32_t nodes; /* exact, 0 = as few as hold it */
	uint32_t ntasks;
	uint32_t cpus_per_task;
	const char *const *required; /* --nodelist names, may be NULL */
	size_t nrequired;
	uint8_t dist_node, dist_socket; /* enum select_dist */
	bool threads;                   /* a CPU is a PU, as for the job */
	bool overlap;
	/* --whole: the step's tasks get every PU of the job on their nodes, so
	 * without overlap a node where other steps hold PUs cannot take it. */
	bool whole;
};

/* Place ASK on the job's NODES[0..n) with OPS.  0 with RES filled (node
 * indexes into NODES; free with select_result_free); -1 with errno EINVAL
 * and WHY when the job's allocation can never hold it, EAGAIN when cores
 * other steps hold are in the way now (never for an overlapping step, which
 * prefers free cores but takes held ones), ENOMEM.  RES has the tasks'
 * own PUs even for a whole step: the caller widens them to the job's. */
int step_place(const struct select_ops *ops, const struct step_ask *ask,
	       const struct step_node *nodes, size_t n, struct select_result *res, char *why,
	       size_t whylen);

/* Records ---------------------------------------------------------------*/

struct step {
	struct step *next; /* the job's steps, by id */
	uint32_t id;
	uint8_t state; /* Pacer__JobState: RUNNING, then a final one */
	bool overlap;
	uint32_t ntasks;
	uint32_t time_limit;
	uint32_t nalloc;
	struct job_alloc *alloc; /* cpuset, task_cpus, task_ids per node */
	int32_t exit_code;
	int32_t term_signal;
	int64_t start_time;
	int64_t end_time;
	char *name;
	char *reason;
	/* Not journaled: what the nodes reported so far, and a cancel. */
	bool cancel_requested;
	bool launch_pending; /* started here, LaunchStep not sent yet (waits for disk) */
	bool *reported;      /* [nalloc] */
	uint32_t nreported;
	uint8_t worst_state;
	bool aborted; /* a rank called MPI_Abort: the step FAILED, whatever else ended it */
	int32_t worst_exit, worst_signal;
	int64_t last_end;
	char *worst_reason;
};

/* J's step ID, or NULL. */
struct step *step_find(const struct job *j, uint32_t id);

/* Apply journal records (state.c calls these, live and on replay). */
void step_apply_start(const Pacer__StepStart *s);
void step_apply_end(const Pacer__StepEnd *e);
/* J ended as STATE at END_TIME: its running steps end with it, and waiting
 * requests for it are refused. */
void step_job_ended(struct job *j, Pacer__JobState state, int64_t end_time);
/* J goes back to the queue: its steps are forgotten, ids start again at 0. */
void step_job_requeued(struct job *j);

/* Load J's steps from its snapshot form.  0 or -1 (ENOMEM). */
int step_load(struct job *j, Pacer__Step *const *steps, size_t n);

/* Free every step of J. */
void step_free_all(struct job *j);

/* Proto views of steps (strings point into the steps; release with
 * step_protos_release). */
struct step_protos {
	Pacer__Step *v;
	Pacer__Step **p;
	size_t n, cap;
	struct step_proto_extra *extra; /* [cap] allocation views and lists */
};
/* Append J's steps (every one with ALL, else the running ones) to OUT; with
 * LISTING, the fields a listing needs (nodelist, user, partition) too.
 * 0 or -1 (ENOMEM). */
int step_protos_add(const struct job *j, bool all, bool listing, struct step_protos *out);
void step_protos_release(struct step_protos *out);

/* Requests --------------------------------------------------------------*/

struct step_req;

/* How a request is answered, once: M is a StepCreateReply or an Error. */
typedef void (*step_answer_fn)(void *arg, Pacer__Msg *m);

/* `pacer run` from UID (ADMIN: may act on any job) asks for REQ.  NULL with
 * *CODE and WHY when it is refused at once; else the request, answered
 * later through FN(ARG) (never from inside this call), when the step's
 * start is on disk and launched or when it can no longer start. */
struct step_req *step_request(const Pacer__StepCreateRequest *req, uid_t uid, bool admin,
			      step_answer_fn fn, void *arg, int *code, char *why, size_t whylen);

/* The client of R went away: a waiting request is dropped (FN is never
 * called); a step whose start is being recorded is ended once it is. */
void step_request_drop(struct step_req *r);

/* Requests waiting for cores (pacer diag, tests). */
size_t step_waiting(void);

/* Try J's waiting requests again (after a step of J ended). */
void step_retry(struct job *j);

/* Cancel (SIG 0: TERM then KILL, CANCELLED) or signal step ID of J on its
 * nodes.  0, or -1 with errno and WHY. */
int step_cancel(struct job *j, uint32_t id, int sig, char *why, size_t whylen);

/* Node NODE (table index) reports the end of its part of a step.  The step
 * ends (journaled) once every node of it reported; the exit code is the
 * worst.  The node is acknowledged once that is durable. */
void step_node_ended(uint32_t node, const Pacer__StepEnded *e);

/* The worse of two final states, for a step whose nodes disagree. */
Pacer__JobState step_worse_state(Pacer__JobState a, Pacer__JobState b);

/* Before serving requests (again, after step_shutdown). */
void step_init(void);

/* Free the waiting requests; starts that become durable from now on launch
 * nothing (at exit, before state_shutdown). */
void step_shutdown(void);

#endif
