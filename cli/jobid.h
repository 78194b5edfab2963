/* jobid.h - job ids as users type and read them.
 *
 * A job is "42"; a task of a job array is "ARRAYID_INDEX" ("42_7"), where
 * ARRAYID is the id of the array's first task; "42_[1-3,5]" names several
 * tasks.  A plain id that is an array's id stands for every task of it:
 * the controller decides that, the CLI only sends what was typed.  A step
 * of a job is "JOB.STEP" ("42.0"); the batch script is "42.batch", which
 * only listings show.
 */
#ifndef PACER_CLI_JOBID_H
#define PACER_CLI_JOBID_H

#include <stddef.h>
#include <stdint.h>

#include "pacer.pb-c.h"

/* Most array tasks one command may name with brackets: a request of that
 * many is about a megabyte. */
#define JOBID_MAX_TASKS 100000

/* "42", or "7_3" for task 3 of array 7 (ARRAY_JOB_ID 0 = not in an
 * array).  snprintf semantics. */
int jobid_format(uint32_t id, uint32_t array_job_id, uint32_t array_task_id, char *buf,
		 size_t size);

/* The jobs a command names: plain ids, and array tasks in the form a
 * request's repeated ArrayTaskRef field takes. */
struct jobid_list {
	uint32_t *ids;
	size_t nids;
	Pacer__ArrayTaskRef *tasks;      /* [ntasks] */
	Pacer__ArrayTaskRef **task_ptrs; /* [ntasks] pointers into tasks */
	size_t ntasks;
	Pacer__StepRef *steps;      /* [nsteps], only with jobid_parse_steps */
	Pacer__StepRef **step_ptrs; /* [nsteps] pointers into steps */
	size_t nsteps;
};

/* Append what LIST names ("42", "42,43", "42_7", "42_[1-3,5],44") to L.
 * 0, or -1 with errno (EINVAL, E2BIG past JOBID_MAX_TASKS tasks, ENOMEM)
 * and ERR "invalid job id 'abc' (a job id is a whole number like 42)". */
int jobid_parse_list(const char *list, struct jobid_list *l, char *err, size_t errlen);

/* jobid_parse_list that also takes steps ("42.0", as pacer cancel does). */
int jobid_parse_steps(const char *list, struct jobid_list *l, char *err, size_t errlen);

/* Free what L holds and empty it. */
void jobid_list_free(struct jobid_list *l);

#endif
