/* jobend.h - how a job ended on a node, as the node daemon and the job's
 * supervisor both hold it until the controller has it.
 */
#ifndef PACER_NODED_JOBEND_H
#define PACER_NODED_JOBEND_H

#include <stdbool.h>
#include <stdint.h>

#include "pacer.pb-c.h"
#include "spool.h"

struct job_end {
	uint32_t job_id;
	int state; /* a PACER__JOB_STATE__* value */
	int32_t exit_code;
	int32_t term_signal;
	int64_t end_time; /* unix seconds */
	char reason[SPOOL_REASON_MAX];
	/* A step's end on this node (StepEnded) rather than a job's. */
	bool is_step;
	uint32_t step_id;
	bool aborted; /* a task called MPI_Abort / PMIx_Abort */
	uint32_t aborted_rank;
};

/* MSG (pointing into E: E must outlive it) from E. */
void jobend_to_msg(const struct job_end *e, Pacer__JobEnded *msg);

/* MSG (pointing into E and NODE) from a step's end E on node NODE. */
void jobend_to_step_msg(const struct job_end *e, const char *node, Pacer__StepEnded *msg);

/* E from a step's end MSG. */
void jobend_from_step_msg(struct job_end *e, const Pacer__StepEnded *msg);

/* E from MSG; a reason too long is cut. */
void jobend_from_msg(struct job_end *e, const Pacer__JobEnded *msg);

/* "COMPLETED" for JOB_COMPLETED, as users read states ("?" if unknown). */
const char *jobend_state_name(int state);

/* Copy SRC into DST of SIZE bytes, cut short if need be: reasons are for
 * people, a long one may lose its tail. */
void jobend_copy_str(char *dst, size_t size, const char *src);

#endif
