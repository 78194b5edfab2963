/* format.h - how the CLI shows jobs and nodes: state names, squeue-style
 * format strings, tables, scontrol-style records and --json objects.
 *
 * Everything here writes to a FILE and decides nothing else, so listings
 * can be unit-tested byte for byte.
 */
#ifndef PACER_CLI_FORMAT_H
#define PACER_CLI_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "pacer.pb-c.h"

/* squeue's default columns:
 * JOBID PARTITION NAME USER ST TIME NODES NODELIST(REASON). */
#define QFMT_DEFAULT "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"

/* squeue --start's, without its SCHEDNODES column:
 * JOBID PARTITION NAME USER ST START_TIME NODES NODELIST(REASON). */
#define QFMT_START "%.18i %.9P %.8j %.8u %.2t %.19S %.6D %R"

/* "PENDING", "RUNNING"...; "UNKNOWN" for a value this CLI does not know. */
const char *format_job_state(Pacer__JobState s);

/* squeue's short codes: PD R CD F CA TO NF RQ OOM ("??" when unknown). */
const char *format_job_state_short(Pacer__JobState s);

/* A state by long name or short code, any case ("running", "R", "pd",
 * "CANCELED" too).  0, or -1 with EINVAL. */
int format_job_state_parse(const char *s, Pacer__JobState *state);

/* "UP", "DOWN"... the NodeState name without its prefix. */
const char *format_node_state_name(Pacer__NodeState s);

/* How sinfo shows a node: "idle", "mixed" or "allocated" for an UP node by
 * its allocated CPUs, otherwise the state name in lower case. */
const char *format_node_state(const Pacer__NodeInfo *n);

/* Seconds a job has run: now - start while running, end - start once
 * finished, 0 before it starts. */
uint32_t format_elapsed(Pacer__JobState s, int64_t start, int64_t end, int64_t now);

/* A time limit as squeue shows it: "1:00:00", "UNLIMITED", "NOT_SET" (0). */
int format_time_limit(uint32_t limit, char *buf, size_t size);

/* squeue-style format: literal text and fields "%[.|-][width]letter".
 * '.' right-aligns, '-' (or nothing) left-aligns; a width pads and
 * truncates.  Letters: i j u P t T M l L D C R N r V S e Q U A F K, and %%
 * for '%'.  %i shows an array task as ARRAYID_INDEX; %S a pending job's
 * expected start. */
struct qfmt;

/* Parse FMT.  The format, or NULL with errno EINVAL and ERR saying which
 * part is wrong. */
struct qfmt *qfmt_parse(const char *fmt, char *err, size_t errlen);
void qfmt_free(struct qfmt *f);

/* One header line / one job line, each ending in '\n'. */
void qfmt_header(const struct qfmt *f, FILE *out);
void qfmt_job(const struct qfmt *f, const Pacer__JobSummary *j, int64_t now, FILE *out);

/* {"jobs":[...]} with every JobSummary field, as docs/json.md has them:
 * states as names, null for what is not there. */
void format_queue_json(const Pacer__QueueReply *r, FILE *out);

/* `pacer queue --steps`: for each job of R, its batch step (once it
 * started) and its steps in R->steps, as squeue -s: STEPID NAME PARTITION
 * USER TIME NODES TASKS STATE EXIT NODELIST. */
void format_steps_table(const Pacer__QueueReply *r, bool header, FILE *out);

/* {"steps":[...]}: the same steps, every field (docs/json.md). */
void format_steps_json(const Pacer__QueueReply *r, FILE *out);

/* The "steps" member of a job's JSON object: J's steps (no batch step). */
void format_job_steps_json(struct json *js, const Pacer__Job *j);

/* The steps part of `pacer show job`: the batch step, then each step with
 * its nodes, tasks, state and exit code; nothing before the job starts. */
void format_job_steps_show(const Pacer__Job *j, int64_t now, FILE *out);

/* The `pacer nodes` table, as sinfo -N -l's: NODELIST STATE CPUS(A/T)
 * S:C:T MEMORY(A/T) GPUS(A/T) FEATURES PARTITIONS REASON. */
void format_nodes_table(const Pacer__NodesReply *r, bool header, FILE *out);

/* Sockets:cores per socket:threads per core of N ("2:8:2"), "2:-:2" when
 * its sockets differ in size, "-" when its size is not known yet. */
void format_node_sct(const Pacer__NodeInfo *n, char *buf, size_t size);

/* {"nodes":[...]} with every NodeInfo field (docs/json.md). */
void format_nodes_json(const Pacer__NodesReply *r, FILE *out);

/* scontrol-style record of one job ("JobId=42 JobName=x\n   UserId=..."),
 * each node of its allocation in detail.  NOW (unix seconds) is used for
 * the run time of a running job. */
void format_job_show(const Pacer__Job *j, int64_t now, FILE *out);

/* Every field of a job (its spec nested) as one JSON object; the fields it
 * shares with format_queue_json's are written by the same code. */
void format_job_json(struct json *js, const Pacer__Job *j);

/* How a listing that has only job ids names the jobs: "42", or "40_2" for
 * a task of an array. */
struct format_jobnames {
	size_t n;
	struct format_jobname *v; /* sorted by id */
};

struct format_jobname {
	uint32_t id;
	uint32_t array_job_id; /* 0 = not in an array */
	uint32_t array_task_id;
};

/* The names of the jobs of R.  0, or -1 with ENOMEM. */
int format_jobnames_build(struct format_jobnames *names, const Pacer__QueueReply *r);
void format_jobnames_free(struct format_jobnames *names);

/* Job ID as NAMES (may be NULL) knows it, into BUF; its id alone when it
 * does not.  Returns BUF. */
const char *format_jobname(const struct format_jobnames *names, uint32_t id, char *buf,
			   size_t size);

/* scontrol-style record of one node; with its layout (when the reply has
 * it) packages, NUMA domains, runs of cores with the jobs holding them,
 * and GPUs.  Jobs are named through NAMES (may be NULL: bare ids). */
void format_node_show(const Pacer__NodeInfo *n, const struct format_jobnames *names, FILE *out);

/* Every field of a node as one JSON object: `state` the word of the
 * `pacer nodes` table, `node_state` the controller's. */
void format_node_json(struct json *js, const Pacer__NodeInfo *n);

#endif
