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

#define SCHED_PARTS_MAX 32

/* The partitions a submit names ("batch,debug": the job may run in any). */
struct sched_parts {
	size_t n;
	const struct conf_partition *part[SCHED_PARTS_MAX];
	char names[1024]; /* set by sched_check: "batch,debug", to journal */
};

/* Resolve LIST ("" = the default partition) into PARTS, in its order and
 * without repeats.  0, or -1 with WHY naming an unknown partition. */
int sched_parts_parse(const char *list, struct sched_parts *parts, char *why, size_t whylen);

/* Check a submitted job against its partitions: 0 with PARTS cut to those
 * that could ever run it (and PARTS->names set), or -1 with WHY naming each
 * partition and why not.  Fills in the defaults of numeric fields (tasks,
 * CPUs per task, time limit: with several partitions and no -t, the
 * smallest of their defaults); strings are left alone, as the spec belongs
 * to the request message. */
int sched_check(Pacer__JobSpec *spec, struct sched_parts *parts, char *why, size_t whylen);

#endif
