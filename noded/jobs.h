/* jobs.h - the jobs of this node, each run by its own supervisor process
 * (noded/supervisor/): start them, pass them the controller's orders, report
 * their ends, and find them again after a restart.
 *
 * A job is in the table from its launch until the controller has its end;
 * its end is also in the ended list from the moment it is known until the
 * controller acknowledges it (JobEndedAck), which is passed on to the
 * supervisor so it can exit.  The daemon never forks a job itself: the
 * supervisor does, and keeps running when the daemon stops or dies.  The
 * spool (spool.h) records which supervisor runs which job, and
 * SPOOL/supervisors/ holds their sockets and held ends, so a restarted
 * daemon attaches to every job still running and reports every end it
 * missed.
 */
#ifndef PACER_NODED_JOBS_H
#define PACER_NODED_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "jobend.h"
#include "pacer.pb-c.h"
#include "spool.h"

struct noded;
struct jobs;

/* An empty table for ND.  NULL with errno. */
struct jobs *jobs_create(struct noded *nd);

/* Free the table.  Jobs still in it are left to their supervisors. */
void jobs_destroy(struct jobs *js);

/* Startup: read the spool.  Ended jobs wait for the next registration;
 * the supervisors of jobs an earlier daemon started are attached to again
 * (their jobs are reported as running, their ends when they come); a job
 * whose supervisor is gone ends as NODE_FAIL after what is left of it is
 * killed.  Runs before the event loop and may wait a few seconds for
 * killed processes to go.  0, or -1 with errno when the spool cannot be
 * read. */
int jobs_recover(struct jobs *js);

/* A LaunchJob from the controller.  Failures end the job as FAILED. */
void jobs_launch(struct jobs *js, const Pacer__LaunchJob *lj);

/* A SignalJob from the controller. */
void jobs_signal(struct jobs *js, const Pacer__SignalJob *sj);

/* A LaunchStep: start a supervisor for the step.  Failures end the step
 * on this node as FAILED. */
void jobs_launch_step(struct jobs *js, const Pacer__LaunchStep *ls);

/* A SignalStep from the controller. */
void jobs_signal_step(struct jobs *js, const Pacer__SignalStep *ss);

/* The controller recorded the end of step JOB_ID.STEP_ID here: forget it. */
void jobs_ack_step(struct jobs *js, uint32_t job_id, uint32_t step_id);

/* After a registration: send again every step end not acknowledged. */
void jobs_resend_steps(struct jobs *js);

/* The controller recorded the end of JOB_ID: forget it. */
void jobs_ack(struct jobs *js, uint32_t job_id);

/* SIGCHLD arrived: reap every exited supervisor we started. */
void jobs_reap(struct jobs *js);

/* Jobs in the table (running, or ended and not acknowledged yet). */
size_t jobs_count(const struct jobs *js);

/* Shutdown: leave every job to its supervisor (the next daemon attaches
 * again) and close their connections. */
void jobs_detach_all(struct jobs *js);

/* Fill REG's running and ended lists (arrays owned by REG until
 * jobs_free_register).  0 or -1 with errno. */
int jobs_fill_register(const struct jobs *js, Pacer__NodeRegister *reg);
void jobs_free_register(Pacer__NodeRegister *reg);

#endif
