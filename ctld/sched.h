/* sched.h - the scheduler: starts pending jobs where they fit.
 *
 * Event-driven: a submit, an ended job, a node coming up or a release asks
 * for a pass with sched_request(); requests made while one is due coalesce
 * into one pass, and a pass also runs every 30 s as priorities age.  Order
 * is priority (age, size, partition, nice), then submit order; lower jobs
 * start early only when they delay no reserved job (EASY backfill, see
 * backfill.h and docs/scheduling.md).
 */
#ifndef PACER_SCHED_H
#define PACER_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "pacer.pb-c.h"

struct job;

int sched_init(void);
void sched_destroy(void);

/* Ask for a pass soon (at the end of the current loop iteration). */
void sched_request(void);

/* Run a pass now (the loop does it after sched_request; benchmarks call it
 * directly). */
void sched_pass_now(void);

struct sched_stats {
	uint64_t passes;
	uint64_t started;
	uint64_t last_ms, max_ms, total_ms;
	size_t last_jobs; /* pending jobs looked at by the last pass */
	size_t last_reservations;
};

const struct sched_stats *sched_stats(void);

struct conf_partition;

/* Check a submitted job against its partition: 0 with *PARTP set, or -1
 * with WHY when it could never run there.  Fills in the defaults of numeric
 * fields (tasks, CPUs per task, time limit); strings are left alone, as the
 * spec belongs to the request message. */
int sched_check(Pacer__JobSpec *spec, const struct conf_partition **partp, char *why,
		size_t whylen);

#endif
