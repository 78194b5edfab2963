/* state.h - the controller's durable state: journal records in, tables out.
 *
 * Every change to a job goes through state_commit(): the record is queued
 * to the journal and applied to the tables by the same code that replays it
 * after a restart, so what is on disk and what is in memory cannot drift.
 * Anything that must not happen before the change is on disk (answering a
 * submit, launching a job) waits for it with state_after().
 */
#ifndef PACER_STATE_H
#define PACER_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "pacer.pb-c.h"

struct job;

/* Load the snapshot and journal from conf->state_dir, start a new epoch and
 * a fresh generation.  0 or -1 with errno (logged).  A journal record that
 * cannot be decoded stops the recovery (EBADMSG, with a log line saying
 * where it is and what to do) unless SKIP_BAD_RECORDS (pacerctld
 * --skip-bad-records): then it is logged, its file kept as .damaged, the
 * job ids it may hold never given, and it is listed by state_skipped. */
int state_recover(bool skip_bad_records);

/* A journal record the last recovery skipped. */
struct state_skipped {
	char *file;         /* the copy of its journal: DIR/journal.N.damaged */
	uint64_t offset;    /* of its frame in that file */
	uint64_t after_seq; /* the seq of the last record before it */
};

/* The records the last recovery skipped (*N of them), until state_shutdown. */
const struct state_skipped *state_skipped(size_t *n);

/* Write everything queued and close the journal. */
void state_shutdown(void);

/* Stamp REC (epoch, seq, time), check that it decodes again once packed,
 * queue it, apply it.  Its ticket, or 0 with errno (nothing was journaled
 * or applied then): EBADMSG when the packed record would not decode (logged,
 * naming the record and its job), else the journal's. */
uint64_t state_commit(Pacer__JournalRecord *rec);

/* Call FN(ARG) once every record up to TICKET is durable.  FN is never
 * called from inside state_after itself.  0 or -1 (ENOMEM). */
int state_after(uint64_t ticket, void (*fn)(void *arg), void *arg);

/* Shorthands that build and commit one record; each returns its ticket or 0. */
uint64_t state_submit(Pacer__Job *job);
/* PARTITION: the one of J's partitions it starts in. */
uint64_t state_start(struct job *j, const char *partition, const Pacer__NodeAlloc *const *alloc,
		     size_t nalloc, const char *stdout_path, const char *stderr_path);
uint64_t state_end(struct job *j, Pacer__JobState st, int exit_code, int term_signal,
		   int64_t end_time, const char *reason);
uint64_t state_hold(struct job *j, bool held);
uint64_t state_cancel_request(struct job *j);
uint64_t state_requeue(struct job *j, const char *reason);

/* Forget finished jobs older than min_job_age (not journaled: a replay
 * drops them by the same rule). */
void state_purge(void);

#endif
