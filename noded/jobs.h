/* jobs.h - the jobs of this node: launch, signal, end, and what is left to
 * report.
 *
 * A job is in the table from its launch until its script has exited and
 * every process it left has been killed; then it moves to the ended list,
 * which lasts until the controller acknowledges the end (JobEndedAck).  Both
 * are mirrored in the spool (spool.h), so a restarted daemon knows what it
 * left behind.
 */
#ifndef PACER_NODED_JOBS_H
#define PACER_NODED_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "pacer.pb-c.h"
#include "spool.h"

struct noded;
struct jobs;

/* How a job ended, as JobEnded tells it. */
struct job_end {
	uint32_t job_id;
	int state; /* a PACER__JOB_STATE__* value */
	int32_t exit_code;
	int32_t term_signal;
	int64_t end_time; /* unix seconds */
	char reason[SPOOL_REASON_MAX];
};

/* An empty table for ND.  NULL with errno. */
struct jobs *jobs_create(struct noded *nd);

/* Free the table.  Jobs still in it are forgotten, not killed: call
 * jobs_stop_all first. */
void jobs_destroy(struct jobs *js);

/* Startup: read the spool.  Ended jobs wait for the next registration;
 * jobs an earlier daemon left running are killed (it can no longer wait for
 * them) and end as NODE_FAIL.  Runs before the event loop and may wait a
 * few seconds for killed processes to go.  0, or -1 with errno when the
 * spool cannot be read. */
int jobs_recover(struct jobs *js);

/* A LaunchJob from the controller.  Failures end the job as FAILED. */
void jobs_launch(struct jobs *js, const Pacer__LaunchJob *lj);

/* A SignalJob from the controller. */
void jobs_signal(struct jobs *js, const Pacer__SignalJob *sj);

/* The controller recorded the end of JOB_ID: forget it. */
void jobs_ack(struct jobs *js, uint32_t job_id);

/* SIGCHLD arrived: reap every exited child. */
void jobs_reap(struct jobs *js);

/* Jobs in the table (running, or being cleaned up). */
size_t jobs_count(const struct jobs *js);

/* Shutdown: terminate every job (TERM, then KILL after at most 5 s), end
 * them as NODE_FAIL "node daemon stopped", and call DONE(ND) once the table
 * is empty.  DONE may run before this returns. */
void jobs_stop_all(struct jobs *js, void (*done)(struct noded *nd));

/* Shutdown took too long: end what is still in the table as NODE_FAIL
 * without waiting for its processes any more. */
void jobs_abandon(struct jobs *js);

/* Fill REG's running and ended lists (arrays owned by REG until
 * jobs_free_register).  0 or -1 with errno. */
int jobs_fill_register(const struct jobs *js, Pacer__NodeRegister *reg);
void jobs_free_register(Pacer__NodeRegister *reg);

#endif
