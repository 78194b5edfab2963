/* runopt.h - what `pacer run` and `pacer alloc` understand, and the rules
 * of a step's output and exit code that do not need a cluster.
 *
 * Options are srun's and salloc's names.  Those that shape an allocation
 * land in a submit_opts (script.h), so that the JobSpec of `pacer alloc`
 * and of `pacer run` outside a job is built as `pacer submit` builds one;
 * the step's own ones (--label, --mpi, --input, --kill-on-bad-exit,
 * --wait...) are fields of run_opts.  Nothing here prints or exits: errors
 * come back in ERR as one line "what is wrong (how to fix it)".
 */
#ifndef PACER_CLI_RUNOPT_H
#define PACER_CLI_RUNOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "script.h"

enum run_mode {
	RUN_MODE_RUN,   /* pacer run */
	RUN_MODE_ALLOC, /* pacer alloc */
};

/* Where a step's standard input goes (-i). */
enum run_input {
	RUN_INPUT_RANK, /* one rank (input_rank; 0 by default) */
	RUN_INPUT_NONE, /* no rank: every one reads end of file */
	RUN_INPUT_ALL,  /* every rank gets a copy */
	RUN_INPUT_FILE, /* input_file, to every rank (as srun -i FILE) */
};

struct run_opts {
	enum run_mode mode;
	struct submit_opts job; /* the allocation's options; -J -N -n -c -t -w -m
				 * --cpu-bind --exclusive -D --export serve the
				 * step as well */
	char job_only[64];      /* the first option given that only shapes a new
				 * allocation ("--partition"), for the error
				 * inside a job */
	bool overlap;           /* --overlap */
	bool whole;             /* --whole: the job's CPUs on each node, every task */
	bool label;             /* -l */
	bool kill_on_bad_exit;  /* -K */
	bool quiet;             /* -Q: no progress messages */
	bool help;
	bool usage_error; /* the last error was bad syntax, not a bad value */
	char mpi[8];      /* "pmix" (default) or "none" */
	enum run_input input;
	uint32_t input_rank;
	char *input_file;
	uint32_t wait_s; /* -W: 0 = wait for every rank */
	uint32_t jobid;  /* --jobid, 0 = from PACER_JOB_ID or none */
	int first;       /* index in argv of the command (argc when none) */
};

void run_opts_init(struct run_opts *o, enum run_mode mode);
void run_opts_free(struct run_opts *o);

/* Parse ARGV (ARGV[0] is the subcommand's name) up to the first operand,
 * the command (o->first).  0, or -1 with ERR set (o->usage_error for an
 * unknown option or a missing value).  Options Slurm has and this mode
 * refuses say so, and why. */
int run_parse_args(struct run_opts *o, int argc, char **argv, char *err, size_t errlen);

/* The job a `pacer run` goes into: --jobid, else $PACER_JOB_ID (ENV, may be
 * NULL), else 0 (allocate one).  0, or -1 with ERR for a value that is not
 * a job id. */
int run_target_job(const struct run_opts *o, const char *env, uint32_t *job, char *err,
		   size_t errlen);

/* The exit code srun gives a rank: its exit code, or 128 + the signal that
 * killed it. */
int run_rank_status(int32_t exit_code, int32_t term_signal);

/* The exit code of a whole step: the worst rank's, unless a rank aborted
 * (MPI_Abort): then the code it aborted with. */
struct run_tally {
	int worst;
	bool aborted;
	uint32_t abort_rank;
	int abort_code;
	uint32_t exited; /* ranks that reported */
	bool failed;     /* something else went wrong (a node lost): never 0 */
};
void run_tally_init(struct run_tally *t);
void run_tally_rank(struct run_tally *t, uint32_t rank, int32_t exit_code, int32_t term_signal,
		    bool aborted);
int run_tally_code(const struct run_tally *t);

/* Output lines of one rank's stream, with --label's "RANK: " in front of
 * each (srun -l: the rank right-aligned to the width of the largest). */
struct run_lines {
	char *buf; /* the line begun and not yet ended */
	size_t len, cap;
};

/* The width of the labels of a step of NTASKS ranks. */
int run_label_width(uint32_t ntasks);

/* Append to OUT (a growable buffer: *OUT, *OUTLEN, *OUTCAP) every line DATA
 * completes, each after "RANK: "; keep the rest in L.  With EOF, what is
 * left goes out too, without a new line added.  0 or -1 (ENOMEM). */
int run_lines_feed(struct run_lines *l, uint32_t rank, int width, const char *data, size_t len,
		   bool eof, char **out, size_t *outlen, size_t *outcap);
void run_lines_free(struct run_lines *l);

/* What a step's -o/-e/-i pattern may name. */
struct run_pattern_vars {
	uint32_t job_id;
	uint32_t step_id;
	uint32_t rank;        /* %t */
	uint32_t node_index;  /* %n: the node's place in the step */
	const char *node;     /* %N */
	const char *user;     /* %u */
	const char *job_name; /* %x */
};

/* Expand a step's file pattern as srun does: %j job, %J job.step, %s step,
 * %t rank, %n node index, %N node name, %u user, %x job name, %% a percent
 * sign; a number after % zero-pads ("%3t" -> "007"); anything else is
 * copied.  snprintf semantics. */
int run_pattern_expand(const char *pat, const struct run_pattern_vars *v, char *buf, size_t size);

/* The usage texts. */
extern const char run_usage[];
extern const char alloc_usage[];

#endif
