/* supervisor.h - pacer-supervisor, the process that runs one job on one
 * node (private to noded/supervisor/).
 *
 * pacernoded starts one per job it is given, as root, with a socket pair on
 * which the first message is the job (SupervisorSetup).  From then on the
 * supervisor owns the job on this node: it runs the batch script as the
 * user, bound and confined (noded/launch.h, bind.h, confine.h, track.h),
 * enforces the time limit, and holds the job's end until the controller has
 * acknowledged it.  It outlives the node daemon: it listens on
 * SPOOL/supervisors/job-ID.sock, where a restarted daemon attaches.
 *
 * main.c owns the loop and the process; daemon.c the connections from node
 * daemons; batch.c the job's script, from launch to end.  One thread.
 */
#ifndef PACER_SUPERVISOR_H
#define PACER_SUPERVISOR_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "jobend.h"
#include "pacer.pb-c.h"

struct batch;
struct bind;
struct step;
struct conn;
struct event_base;

struct sup {
	struct event_base *base;
	uint32_t job_id;
	bool is_step; /* a step's supervisor (--step) */
	uint32_t step_id;
	char unit[40]; /* "job-ID" or "job-ID.STEP": its files' names, its logs */
	char spool_dir[PATH_MAX];
	char dir[PATH_MAX];            /* SPOOL/supervisors */
	char sock_path[PATH_MAX];      /* DIR/job-ID.sock */
	char end_path[PATH_MAX];       /* DIR/job-ID.end: the end, until acknowledged */
	char pid_path[PATH_MAX];       /* DIR/job-ID.pid: for admins and local-cluster down */
	Pacer__SupervisorSetup *setup; /* the job; NULL until it arrived */
	struct bind *bind;
	struct batch *batch;
	struct step *step;
	int64_t start_time; /* unix seconds */
	bool ended;         /* every process of the job is gone */
	struct job_end end;
	bool stopping; /* SIGTERM: end the job, keep its end on disk, exit */
};

/* daemon.c --------------------------------------------------------------*/

/* Serve the node daemon: FD is the socket pair the first one gave (its
 * first message is the setup), LIS_FD the listening socket where later
 * ones attach.  0 or -1 with errno. */
int daemon_start(struct sup *s, int fd, int lis_fd);

/* Tell the attached node daemon (if any) what the job is doing now. */
void daemon_send_state(struct sup *s);

/* Close every connection (at exit). */
void daemon_stop(struct sup *s);

/* main.c ----------------------------------------------------------------*/

/* The setup arrived (daemon.c): start the job.  Never fails: a job that
 * cannot start ends at once, FAILED with the reason. */
void sup_setup(struct sup *s, Pacer__SupervisorSetup *setup);

/* The job is over (batch.c): record its end E and tell the daemon. */
void sup_ended(struct sup *s, const struct job_end *e);

/* The controller has the end: clean up and leave the loop. */
void sup_acknowledged(struct sup *s);

/* batch.c ---------------------------------------------------------------*/

/* Start the job's batch script as LJ says.  0 with S->batch set, or -1
 * with ERR saying why it cannot run. */
int batch_start(struct sup *s, const Pacer__LaunchJob *lj, char *err, size_t errlen);

/* A SignalJob from the controller (through the daemon). */
void batch_signal(struct sup *s, const Pacer__SignalJob *sj);

/* SIGCHLD: reap children; the script's exit starts the cleanup. */
void batch_reap(struct sup *s);

/* The supervisor was told to stop: end the job (TERM, KILL after at most
 * its kill_wait). */
void batch_stop(struct sup *s);

/* The script's pid, 0 when none runs. */
pid_t batch_pid(const struct sup *s);

void batch_free(struct batch *b);

/* step.c ----------------------------------------------------------------*/

/* Start step LS: connect to its pacer run, then fork its tasks on this
 * node.  0 with S->step set (the end comes through sup_ended), or -1 with
 * ERR. */
int step_start(struct sup *s, const Pacer__LaunchStep *ls, char *err, size_t errlen);

/* A SignalStep from the controller (through the daemon). */
void step_signal(struct sup *s, int sig, bool terminate);

/* SIGCHLD: reap the tasks. */
void step_reap(struct sup *s);

/* Stop: end the step's tasks. */
void step_stop(struct sup *s);

void step_free(struct step *st);

/* A local rank called MPI_Abort / PMIx_Abort with STATUS (pmi.c): tell
 * pacer run, which ends the step everywhere, and end it here. */
void step_abort(struct sup *s, uint32_t rank, int status, const char *msg);

/* pmi.c -----------------------------------------------------------------*/

struct auth;
struct pmi;

/* Be the PMIx server of step LS's local ranks, and (node 0 of several)
 * listen for the others' fences.  0 with *OUT set, or -1 with ERR (*OUT is
 * then still to be freed with pmi_free). */
int pmi_start(struct sup *s, const Pacer__LaunchStep *ls, struct auth *auth, struct pmi **out,
	      char *err, size_t errlen);

/* Node 0's fence port for its StepIoHello; 0 on other nodes or alone. */
uint32_t pmi_fence_port(const struct pmi *p);

/* Where node 0 gathers fences (StepIoWireup): connect there. */
void pmi_wireup(struct pmi *p, const char *host, uint32_t port);

/* The PMIx variables of local rank RANK (register it first). */
int pmi_task_env(struct pmi *p, uint32_t rank, char ***env, char *err, size_t errlen);

/* Fail what is open, stop the PMIx server, remove its folder. */
void pmi_free(struct pmi *p);

#endif
