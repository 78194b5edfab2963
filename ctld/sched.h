/* sched.h - the scheduler: starts pending jobs where they fit.
 *
 * Event-driven: a submit, an ended job, a node coming up or a release asks
 * for a pass with sched_request(); requests made while one is due coalesce
 * into one pass.  Order is priority, then submit order; within a partition a
 * job that does not fit blocks the lower ones (no backfill yet), so nothing
 * jumps the queue.
 */
#ifndef PACER_SCHED_H
#define PACER_SCHED_H

#include "pacer.pb-c.h"

struct job;

int sched_init(void);
void sched_destroy(void);

/* Ask for a pass soon (at the end of the current loop iteration). */
void sched_request(void);

struct conf_partition;

/* Check a submitted job against its partition: 0 with *PARTP set, or -1
 * with WHY when it could never run there.  Fills in the defaults of numeric
 * fields (tasks, CPUs per task, time limit); strings are left alone, as the
 * spec belongs to the request message. */
int sched_check(Pacer__JobSpec *spec, const struct conf_partition **partp, char *why,
		size_t whylen);

#endif
