/* run.h - what pacer run and pacer alloc share: a job allocated for the
 * command line (alloc.c) and a step run in a job with its stdio served here
 * (run.c).
 *
 * A step's I/O (proto "A step's supervisors <-> its pacer run"): pacer run
 * listens on a TCP port of the address this host reaches the controller
 * from, and asks for the step with that address and a random 32-byte key.
 * The supervisor of the step on each node connects (munge handshake,
 * service "step", root only), says StepIoHello with the key, and from then
 * on its ranks' output comes as StepIoData, each rank's end as StepIoExit,
 * and the node's end as StepIoDone; pacer run sends standard input and
 * signals the other way.  The step is over when every node of it is done,
 * or was lost (never connected, or its connection dropped: the step is then
 * cancelled through the controller).
 */
#ifndef PACER_CLI_RUN_H
#define PACER_CLI_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "runopt.h"

/* How long the supervisors of a started step may take to connect, unless
 * $PACER_RUN_CONNECT_TIMEOUT (seconds) says otherwise. */
#define RUN_CONNECT_TIMEOUT_S 30

/* Run ARGV[0..ARGC) as a step of job JOB_ID with O's options; the step's
 * exit code (runopt.h's rules) in *CODE.  0, or -1 once the problem is
 * printed (no step ran: *CODE is 1). */
int run_step(struct cli *cli, const struct run_opts *o, uint32_t job_id, int argc, char **argv,
	     int *code);

/* A job allocated for a command. */
struct alloc_job {
	uint32_t id;
	char *name;
	char *nodelist;
	char *partition;
	uint32_t nnodes, ntasks, cpus_per_task;
};
void alloc_job_free(struct alloc_job *a);

/* Submit an alloc_only job with O's options, named DEFAULT_NAME unless -J.
 * 0 with *ID, or -1 once printed. */
int alloc_submit(struct cli *cli, const struct run_opts *o, const char *default_name, uint32_t *id);

/* Wait until job ID runs ("job N queued and waiting for resources" once,
 * unless QUIET).  A signal that sets *STOP cancels the job.  0 with A
 * filled, or -1 once printed (the job was revoked, or could not be
 * followed, or *STOP). */
int alloc_wait(struct cli *cli, uint32_t id, bool quiet, volatile sig_atomic_t *stop,
	       struct alloc_job *a);

/* Whether job ID still runs: 1 yes, 0 no (*STATE says how it ended), -1
 * unknown (the controller could not be asked). */
int alloc_running(struct cli *cli, uint32_t id, Pacer__JobState *state);

/* End job ID as its command ended with CODE (COMPLETED for 0, else FAILED).
 * 0, or -1 once printed; an allocation that already ended is 1. */
int alloc_release(struct cli *cli, uint32_t id, int code);

/* Cancel job ID.  0 or -1 once printed. */
int alloc_cancel(struct cli *cli, uint32_t id);

#endif
