/* backfill.h - the timeline of one scheduling pass: when could a job start,
 * and would starting one now delay a job that holds a reservation.
 *
 * EASY backfill (and its deeper form with more reservations): the highest-
 * priority jobs that cannot start now get a reservation at the earliest
 * time their resources free up, judged from the running jobs' time limits;
 * a lower-priority job may start now only if it delays none of them.
 *
 * The timeline works on counters (free PUs, memory, GPUs per node), not on
 * exact cores: it answers "when" and "would it delay", while the select
 * plugin still chooses the real cores when a job starts.  The price is
 * that a reservation may be a little optimistic where free PUs are
 * scattered over cores; see docs/scheduling.md.
 */
#ifndef PACER_BACKFILL_H
#define PACER_BACKFILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "select.h"

#define BF_NEVER INT64_MAX /* an end that is not known (no time limit) */

/* What a job holds on one node. */
struct bf_use {
	uint32_t node; /* index into the node table given to bf_new */
	uint32_t pus;
	uint64_t mem_mb;
	uint32_t gpus;
	bool exclusive;
};

struct bf;

/* A timeline at NOW over NODES (the whole table; only read here).  NULL
 * with ENOMEM. */
struct bf *bf_new(int64_t now, struct select_node *const *nodes, size_t n);

void bf_free(struct bf *b);

/* A running job holds USE[0..n) until END (BF_NEVER when unlimited).  Its
 * resources are already counted as taken on the nodes.  0 or -1 (ENOMEM). */
int bf_add_running(struct bf *b, int64_t end, const struct bf_use *use, size_t n);

/* The earliest time, at most WINDOW seconds ahead, at which REQ fits on the
 * candidate nodes CAND[0..ncand) (indexes into the node table, usable and
 * eligible for the job) for LIMIT seconds without touching any
 * reservation; 0 when not within the window.  With RESERVE, that start is
 * reserved for it (at most one reservation per call). */
int64_t bf_when(struct bf *b, const struct select_request *req, const uint32_t *cand, size_t ncand,
		uint32_t limit, uint32_t window, bool reserve);

/* True when a job holding USE[0..n) until END would delay a reservation. */
bool bf_delays(const struct bf *b, int64_t end, const struct bf_use *use, size_t n);

/* A job started now and holds USE[0..n) until END (the caller has charged
 * the nodes already).  0 or -1 (ENOMEM). */
int bf_started(struct bf *b, int64_t end, const struct bf_use *use, size_t n);

/* Reservations made so far. */
size_t bf_reservations(const struct bf *b);

#endif
