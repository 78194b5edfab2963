/* format_step.c - job steps in listings: `pacer queue --steps` (text and
 * --json) and the steps of `pacer show job`.  The batch script is shown as
 * the step JOB.batch, from its job. */
#include "format.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"
#include "jobid.h"
#include "timefmt.h"

static bool final(Pacer__JobState s)
{
	return s != PACER__JOB_STATE__JOB_PENDING && s != PACER__JOB_STATE__JOB_RUNNING &&
	       s != PACER__JOB_STATE__JOB_REQUEUED && s != PACER__JOB_STATE__JOB_STATE_NONE;
}

/* The first host of the host list LIST, into BUF ("" when none). */
static const char *first_host(const char *list, char *buf, size_t size)
{
	struct hostlist *hl = list && *list ? hostlist_decode(list) : NULL;
	const char *h = hl ? hostlist_nth(hl, 0) : NULL;

	snprintf(buf, size, "%s", h ? h : "");
	hostlist_destroy(hl);
	return buf;
}

/* The nodes of S as one host list, malloc'd ("" when it has none). */
static char *step_nodes(const Pacer__Step *s)
{
	struct hostlist *hl;
	char *out = NULL;

	if (s->nodelist && *s->nodelist)
		return strdup(s->nodelist);
	if (!(hl = hostlist_create()))
		return NULL;
	for (size_t i = 0; i < s->n_alloc; i++)
		if (hostlist_append(hl, s->alloc[i]->node) < 0)
			goto out;
	out = hostlist_encode_alloc(hl);
out:
	hostlist_destroy(hl);
	return out;
}

/* "0:0" once ended (sacct's code:signal), else "-". */
static const char *exit_of(Pacer__JobState st, int32_t code, int32_t sig, char *buf, size_t size)
{
	if (!final(st))
		return "-";
	snprintf(buf, size, "%" PRId32 ":%" PRId32, code, sig);
	return buf;
}

/* Has job J a batch step to show: it started. */
static bool has_batch(const Pacer__JobSummary *j)
{
	return j->start_time > 0 && j->state != PACER__JOB_STATE__JOB_PENDING;
}

struct row {
	const char *id, *name, *partition, *user, *nodelist;
	Pacer__JobState state;
	int64_t start, end;
	uint32_t nodes, tasks;
	int32_t exit_code, term_signal;
};

static void put_row(const struct row *r, int64_t now, FILE *out)
{
	char t[64], e[32];

	timefmt_duration(format_elapsed(r->state, r->start, r->end, now), t, sizeof(t));
	fprintf(out, "%15s %8.8s %9.9s %8.8s %10s %5" PRIu32 " %5" PRIu32 " %10.10s %6s %s\n",
		r->id, r->name && *r->name ? r->name : "(null)", r->partition ? r->partition : "",
		r->user ? r->user : "", t, r->nodes, r->tasks, format_job_state(r->state),
		exit_of(r->state, r->exit_code, r->term_signal, e, sizeof(e)),
		r->nodelist ? r->nodelist : "");
}

void format_steps_table(const Pacer__QueueReply *r, bool header, FILE *out)
{
	if (header)
		fprintf(out, "%15s %8s %9s %8s %10s %5s %5s %10s %6s %s\n", "STEPID", "NAME",
			"PARTITION", "USER", "TIME", "NODES", "TASKS", "STATE", "EXIT", "NODELIST");
	for (size_t i = 0; i < r->n_jobs; i++) {
		const Pacer__JobSummary *j = r->jobs[i];
		char jid[32], id[48], host[256];

		jobid_format(j->id, j->array_job_id, j->array_task_id, jid, sizeof(jid));
		if (has_batch(j)) {
			snprintf(id, sizeof(id), "%s.batch", jid);
			const struct row b = {
				.id = id,
				.name = "batch",
				.partition = j->partition,
				.user = j->user,
				.nodelist = first_host(j->nodelist, host, sizeof(host)),
				.state = j->state,
				.start = j->start_time,
				.end = j->end_time,
				.nodes = 1,
				.tasks = 1,
				.exit_code = j->exit_code,
				.term_signal = j->term_signal,
			};
			put_row(&b, r->now, out);
		}
		for (size_t k = 0; k < r->n_steps; k++) {
			const Pacer__Step *s = r->steps[k];
			if (s->job_id != j->id)
				continue;
			char *nodes = step_nodes(s);
			snprintf(id, sizeof(id), "%s.%" PRIu32, jid, s->step_id);
			const struct row w = {
				.id = id,
				.name = s->name,
				.partition = j->partition,
				.user = j->user,
				.nodelist = nodes,
				.state = s->state,
				.start = s->start_time,
				.end = s->end_time,
				.nodes = s->nnodes ? s->nnodes : (uint32_t)s->n_alloc,
				.tasks = s->ntasks,
				.exit_code = s->exit_code,
				.term_signal = s->term_signal,
			};
			put_row(&w, r->now, out);
			free(nodes);
		}
	}
}

static void member_uints(struct json *js, const char *key, const uint32_t *v, size_t n)
{
	json_key(js, key);
	json_array_begin(js);
	for (size_t i = 0; i < n; i++)
		json_uint(js, v[i]);
	json_array_end(js);
}

static void step_alloc_json(struct json *js, const Pacer__NodeAlloc *a)
{
	json_object_begin(js);
	json_member_string(js, "node", a->node);
	json_member_uint(js, "cpus", a->cpus);
	json_member_string_or_null(js, "cpuset", a->cpuset);
	json_key(js, "task_cpus");
	json_array_begin(js);
	for (size_t i = 0; i < a->n_task_cpus; i++)
		json_string(js, a->task_cpus[i]);
	json_array_end(js);
	member_uints(js, "task_ids", a->task_ids, a->n_task_ids);
	json_object_end(js);
}

/* One step as JSON: the batch step of a job when S is NULL (from J). */
static void step_json(struct json *js, const char *jid, uint32_t job_id, const Pacer__Step *s,
		      const Pacer__JobSummary *j)
{
	char id[48], host[256];
	Pacer__JobState st = s ? s->state : j->state;
	int32_t sig = s ? s->term_signal : j->term_signal;
	bool exited = final(st) && sig == 0 && st != PACER__JOB_STATE__JOB_NODE_FAIL;
	char *nodes = s ? step_nodes(s) : NULL;

	if (s)
		snprintf(id, sizeof(id), "%s.%" PRIu32, jid, s->step_id);
	else
		snprintf(id, sizeof(id), "%s.batch", jid);
	json_object_begin(js);
	json_member_string(js, "step_id", id);
	json_member_uint(js, "job_id", job_id);
	json_member_uint_or_null(js, "step", s ? s->step_id : 0, s != NULL);
	json_member_string_or_null(js, "name", s ? s->name : "batch");
	json_member_string(js, "state", format_job_state(st));
	json_member_string_or_null(js, "reason", s ? s->reason : NULL);
	json_member_time(js, "start_time", s ? s->start_time : j->start_time);
	json_member_time(js, "end_time", s ? s->end_time : j->end_time);
	json_member_uint(js, "nodes", s ? (s->nnodes ? s->nnodes : (uint32_t)s->n_alloc) : 1);
	json_member_uint(js, "ntasks", s ? s->ntasks : 1);
	json_member_string_or_null(
	    js, "nodelist", s ? nodes : (j ? first_host(j->nodelist, host, sizeof(host)) : NULL));
	json_member_int_or_null(js, "exit_code", s ? s->exit_code : j->exit_code, exited);
	json_member_int_or_null(js, "term_signal", sig, sig != 0);
	json_member_bool(js, "overlap", s ? s->overlap : false);
	json_key(js, "alloc");
	json_array_begin(js);
	for (size_t i = 0; s && i < s->n_alloc; i++)
		step_alloc_json(js, s->alloc[i]);
	json_array_end(js);
	json_object_end(js);
	free(nodes);
}

void format_steps_json(const Pacer__QueueReply *r, FILE *out)
{
	struct json js;

	json_init(&js, out, true);
	json_object_begin(&js);
	json_key(&js, "steps");
	json_array_begin(&js);
	for (size_t i = 0; i < r->n_jobs; i++) {
		const Pacer__JobSummary *j = r->jobs[i];
		char jid[32];

		jobid_format(j->id, j->array_job_id, j->array_task_id, jid, sizeof(jid));
		if (has_batch(j))
			step_json(&js, jid, j->id, NULL, j);
		for (size_t k = 0; k < r->n_steps; k++)
			if (r->steps[k]->job_id == j->id)
				step_json(&js, jid, j->id, r->steps[k], j);
	}
	json_array_end(&js);
	json_object_end(&js);
}

void format_job_steps_json(struct json *js, const Pacer__Job *j)
{
	char jid[32];

	jobid_format(j->id, j->array_job_id, j->array_task_id, jid, sizeof(jid));
	json_key(js, "steps");
	json_array_begin(js);
	for (size_t k = 0; k < j->n_steps; k++)
		step_json(js, jid, j->id, j->steps[k], NULL);
	json_array_end(js);
}

void format_job_steps_show(const Pacer__Job *j, int64_t now, FILE *out)
{
	char jid[32], t[64], e[32], st[64], en[64];

	if (j->start_time <= 0 || j->state == PACER__JOB_STATE__JOB_PENDING)
		return;
	jobid_format(j->id, j->array_job_id, j->array_task_id, jid, sizeof(jid));
	fprintf(out, "   Steps=%zu\n", j->n_steps + 1);
	fprintf(out, "     StepId=%s.batch Name=batch State=%s Nodes=%s NumTasks=1\n", jid,
		format_job_state(j->state), j->n_alloc ? j->alloc[0]->node : "(null)");
	for (size_t k = 0; k < j->n_steps; k++) {
		const Pacer__Step *s = j->steps[k];
		char *nodes = step_nodes(s);

		timefmt_duration(format_elapsed(s->state, s->start_time, s->end_time, now), t,
				 sizeof(t));
		timefmt_timestamp(s->start_time, st, sizeof(st));
		timefmt_timestamp(s->end_time, en, sizeof(en));
		fprintf(out,
			"     StepId=%s.%" PRIu32 " Name=%s State=%s Nodes=%s NumNodes=%zu "
			"NumTasks=%" PRIu32 " ExitCode=%s\n"
			"       RunTime=%s StartTime=%s EndTime=%s Overlap=%s%s%s\n",
			jid, s->step_id, s->name && *s->name ? s->name : "(null)",
			format_job_state(s->state), nodes ? nodes : "(null)",
			s->nnodes ? (size_t)s->nnodes : s->n_alloc, s->ntasks,
			exit_of(s->state, s->exit_code, s->term_signal, e, sizeof(e)), t, st, en,
			s->overlap ? "Yes" : "No", s->reason && *s->reason ? " Reason=" : "",
			s->reason && *s->reason ? s->reason : "");
		for (size_t i = 0; i < s->n_alloc; i++) {
			const Pacer__NodeAlloc *a = s->alloc[i];
			fprintf(out, "       Node=%s CPU_IDs=%s Tasks=", a->node,
				a->cpuset && *a->cpuset ? a->cpuset : "(null)");
			for (size_t q = 0; q < a->n_task_ids; q++)
				fprintf(out, "%s%" PRIu32, q ? "," : "", a->task_ids[q]);
			fputc('\n', out);
		}
		free(nodes);
	}
}
