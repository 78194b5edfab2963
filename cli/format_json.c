/* format_json.c - every field of jobs and nodes as JSON (--json).
 *
 * The wire marks "none" with 0, -1 or UINT32_MAX; JSON says null instead,
 * one rule for every listing (docs/json.md, whose field tables
 * tests/integration/t0017-json.t holds this file to). */
#include "format.h"

#include <stdlib.h>

#include "hostlist.h"
#include "timefmt.h"

/* A layout index that names nothing (the controller's TOPO_NONE). */
#define LAYOUT_NONE UINT32_MAX

static void member_layout_index(struct json *js, const char *key, uint32_t v)
{
	json_member_uint_or_null(js, key, v, v != LAYOUT_NONE);
}

/* A time limit in seconds; null when unlimited or not set. */
static void member_time_limit(struct json *js, const char *key, uint32_t limit)
{
	json_member_uint_or_null(js, key, limit, limit != 0 && limit != TIMEFMT_UNLIMITED);
}

static bool job_final(Pacer__JobState s)
{
	switch (s) {
	case PACER__JOB_STATE__JOB_COMPLETED:
	case PACER__JOB_STATE__JOB_FAILED:
	case PACER__JOB_STATE__JOB_CANCELLED:
	case PACER__JOB_STATE__JOB_TIMEOUT:
	case PACER__JOB_STATE__JOB_NODE_FAIL:
	case PACER__JOB_STATE__JOB_OUT_OF_MEMORY: return true;
	default: return false;
	}
}

/* What `pacer queue` and `pacer show job` both show of a job, whichever
 * message it came in, so the two listings cannot disagree. */
struct job_common {
	uint32_t id;
	const char *name;
	const char *user;
	uint32_t uid;
	const char *partition;
	Pacer__JobState state;
	const char *reason;
	int64_t submit_time, start_time, end_time, expected_start;
	uint32_t time_limit;
	const char *nodelist;
	int32_t exit_code, term_signal;
	uint32_t priority;
	bool held;
	uint32_t array_job_id, array_task_id;
};

static void job_common_json(struct json *js, const struct job_common *c)
{
	/* The script's own exit status: none before it ends, nor when a
	 * signal or a lost node ended it. */
	bool exited = job_final(c->state) && c->start_time > 0 && c->term_signal == 0 &&
		      c->state != PACER__JOB_STATE__JOB_NODE_FAIL;

	json_member_uint(js, "id", c->id);
	json_member_string_or_null(js, "name", c->name);
	json_member_string(js, "user", c->user);
	json_member_uint(js, "uid", c->uid);
	json_member_string_or_null(js, "partition", c->partition);
	json_member_string(js, "state", format_job_state(c->state));
	json_member_string_or_null(js, "reason", c->reason);
	json_member_int(js, "submit_time", c->submit_time);
	json_member_time(js, "start_time", c->start_time);
	json_member_time(js, "end_time", c->end_time);
	json_member_time(js, "expected_start", c->expected_start);
	member_time_limit(js, "time_limit", c->time_limit);
	json_member_string_or_null(js, "nodelist", c->nodelist);
	json_member_int_or_null(js, "exit_code", c->exit_code, exited);
	json_member_int_or_null(js, "term_signal", c->term_signal, c->term_signal != 0);
	json_member_uint(js, "priority", c->priority);
	json_member_bool(js, "held", c->held);
	json_member_uint_or_null(js, "array_job_id", c->array_job_id, c->array_job_id != 0);
	json_member_uint_or_null(js, "array_task_id", c->array_task_id, c->array_job_id != 0);
}

static void job_summary_json(struct json *js, const Pacer__JobSummary *j)
{
	const struct job_common c = {
		.id = j->id,
		.name = j->name,
		.user = j->user,
		.uid = j->uid,
		.partition = j->partition,
		.state = j->state,
		.reason = j->reason,
		.submit_time = j->submit_time,
		.start_time = j->start_time,
		.end_time = j->end_time,
		.expected_start = j->expected_start,
		.time_limit = j->time_limit,
		.nodelist = j->nodelist,
		.exit_code = j->exit_code,
		.term_signal = j->term_signal,
		.priority = j->priority,
		.held = j->held,
		.array_job_id = j->array_job_id,
		.array_task_id = j->array_task_id,
	};

	json_object_begin(js);
	job_common_json(js, &c);
	json_member_uint(js, "nodes", j->nodes);
	json_member_uint(js, "ntasks", j->ntasks);
	json_member_uint(js, "cpus", j->cpus);
	json_member_uint(js, "gpus", j->gpus);
	json_object_end(js);
}

void format_queue_json(const Pacer__QueueReply *r, FILE *out)
{
	struct json js;

	json_init(&js, out, true);
	json_object_begin(&js);
	json_key(&js, "jobs");
	json_array_begin(&js);
	for (size_t i = 0; i < r->n_jobs; i++)
		job_summary_json(&js, r->jobs[i]);
	json_array_end(&js);
	json_object_end(&js);
}

static void member_strings(struct json *js, const char *key, char **v, size_t n)
{
	json_key(js, key);
	json_array_begin(js);
	for (size_t i = 0; i < n; i++)
		json_string(js, v[i]);
	json_array_end(js);
}

static void member_uints(struct json *js, const char *key, const uint32_t *v, size_t n)
{
	json_key(js, key);
	json_array_begin(js);
	for (size_t i = 0; i < n; i++)
		json_uint(js, v[i]);
	json_array_end(js);
}

static void layout_json(struct json *js, const Pacer__NodeLayout *l)
{
	json_object_begin(js);
	json_member_string_or_null(js, "topology_source", l->topology_source);
	json_key(js, "numas");
	json_array_begin(js);
	for (size_t i = 0; i < l->n_numas; i++) {
		const Pacer__NumaInfo *d = l->numas[i];

		json_object_begin(js);
		json_member_uint(js, "index", d->index);
		member_layout_index(js, "package", d->package);
		json_member_string(js, "nodeset", d->nodeset);
		json_member_string_or_null(js, "cpuset", d->cpuset);
		json_member_uint(js, "mem_mb", d->mem_mb);
		json_object_end(js);
	}
	json_array_end(js);
	json_key(js, "cores");
	json_array_begin(js);
	for (size_t i = 0; i < l->n_cores; i++) {
		const Pacer__CoreInfo *c = l->cores[i];

		json_object_begin(js);
		json_member_uint(js, "index", c->index);
		member_layout_index(js, "package", c->package);
		member_layout_index(js, "numa", c->numa);
		json_member_string(js, "pus", c->pus);
		member_uints(js, "jobs", c->jobs, c->n_jobs);
		json_object_end(js);
	}
	json_array_end(js);
	json_key(js, "gpus");
	json_array_begin(js);
	for (size_t i = 0; i < l->n_gpus; i++) {
		const Pacer__GpuInfo *g = l->gpus[i];

		json_object_begin(js);
		json_member_uint(js, "index", g->index);
		json_member_string(js, "name", g->name);
		json_member_string(js, "kind", g->kind);
		json_member_int_or_null(js, "numa", g->numa, g->numa >= 0);
		json_member_int_or_null(js, "package", g->package, g->package >= 0);
		json_member_string_or_null(js, "busid", g->busid);
		json_member_uint_or_null(js, "job", g->job, g->job != 0);
		json_object_end(js);
	}
	json_array_end(js);
	json_object_end(js);
}

void format_node_json(struct json *js, const Pacer__NodeInfo *n)
{
	/* Until a node registers its topology, its sizes are not known. */
	bool sized = n->sockets > 0;

	json_object_begin(js);
	json_member_string(js, "name", n->name);
	json_member_string(js, "state", format_node_state(n));
	json_member_string(js, "node_state", format_node_state_name(n->state));
	json_member_string_or_null(js, "reason", n->reason);
	json_member_string_or_null(js, "address", n->address);
	json_member_uint_or_null(js, "port", n->port, n->port != 0);
	json_member_uint_or_null(js, "cpus", n->cpus, n->cpus != 0);
	json_member_uint(js, "cpus_alloc", n->cpus_alloc);
	json_member_uint_or_null(js, "mem_mb", n->mem_mb, n->mem_mb != 0);
	json_member_uint(js, "mem_alloc_mb", n->mem_alloc_mb);
	member_strings(js, "partitions", n->partitions, n->n_partitions);
	json_member_string_or_null(js, "boot_id", n->boot_id);
	json_member_time(js, "last_heard", n->last_heard);
	member_uints(js, "jobs", n->jobs, n->n_jobs);
	json_member_string_or_null(js, "version", n->version);
	json_member_uint_or_null(js, "sockets", n->sockets, sized);
	json_member_uint_or_null(js, "cores", n->cores, sized);
	json_member_uint_or_null(js, "threads", n->threads, sized);
	json_member_uint_or_null(js, "numas", n->numas, sized);
	json_member_uint(js, "cores_alloc", n->cores_alloc);
	json_member_string_or_null(js, "cpuset_alloc", n->cpuset_alloc);
	json_member_uint_or_null(js, "gpus", n->gpus, sized);
	json_member_uint(js, "gpus_alloc", n->gpus_alloc);
	member_strings(js, "features", n->features, n->n_features);
	json_member_string_or_null(js, "topology_hash", n->topology_hash);
	json_key(js, "layout");
	if (n->layout)
		layout_json(js, n->layout);
	else
		json_null(js);
	json_object_end(js);
}

void format_nodes_json(const Pacer__NodesReply *r, FILE *out)
{
	struct json js;

	json_init(&js, out, true);
	json_object_begin(&js);
	json_key(&js, "nodes");
	json_array_begin(&js);
	for (size_t i = 0; i < r->n_nodes; i++)
		format_node_json(&js, r->nodes[i]);
	json_array_end(&js);
	json_object_end(&js);
}

static void spec_json(struct json *js, const Pacer__JobSpec *s)
{
	json_object_begin(js);
	json_member_string_or_null(js, "name", s->name);
	json_member_uint_or_null(js, "nodes", s->nodes, s->nodes != 0);
	json_member_uint(js, "ntasks", s->ntasks);
	json_member_uint(js, "cpus_per_task", s->cpus_per_task);
	json_member_uint_or_null(js, "mem_mb", s->mem_mb, s->mem_mb != 0);
	member_time_limit(js, "time_limit", s->time_limit);
	json_member_string_or_null(js, "partition", s->partition);
	json_member_string_or_null(js, "workdir", s->workdir);
	json_member_string_or_null(js, "stdout_pattern", s->stdout_pattern);
	json_member_string_or_null(js, "stderr_pattern", s->stderr_pattern);
	json_key(js, "script");
	if (s->script.len > 0)
		json_string_len(js, (const char *)s->script.data, s->script.len);
	else
		json_null(js);
	member_strings(js, "argv", s->argv, s->n_argv);
	member_strings(js, "env", s->env, s->n_env);
	json_member_bool(js, "hold", s->hold);
	json_member_bool(js, "alloc_only", s->alloc_only);
	json_member_string_or_null(js, "submit_dir", s->submit_dir);
	json_member_string_or_null(js, "submit_host", s->submit_host);
	json_member_uint_or_null(js, "ntasks_per_node", s->ntasks_per_node,
				 s->ntasks_per_node != 0);
	json_member_uint_or_null(js, "ntasks_per_socket", s->ntasks_per_socket,
				 s->ntasks_per_socket != 0);
	json_member_bool(js, "exclusive", s->exclusive);
	json_member_uint_or_null(js, "mem_per_cpu_mb", s->mem_per_cpu_mb, s->mem_per_cpu_mb != 0);
	json_member_uint(js, "gpus", s->gpus);
	json_member_uint(js, "gpus_per_node", s->gpus_per_node);
	json_member_string_or_null(js, "nodelist", s->nodelist);
	json_member_string_or_null(js, "exclude", s->exclude);
	json_member_string_or_null(js, "constraint", s->constraint);
	json_member_string_or_null(js, "distribution", s->distribution);
	json_member_string_or_null(js, "cpu_bind", s->cpu_bind);
	json_member_bool(js, "multithread", s->multithread);
	json_member_int(js, "nice", s->nice);
	json_member_string_or_null(js, "array", s->array);
	json_member_uint_or_null(js, "array_max_running", s->array_max_running,
				 s->array_max_running != 0);
	json_member_string_or_null(js, "dependency", s->dependency);
	json_object_end(js);
}

static void alloc_json(struct json *js, const Pacer__NodeAlloc *a)
{
	json_object_begin(js);
	json_member_string(js, "node", a->node);
	json_member_uint(js, "cpus", a->cpus);
	json_member_uint_or_null(js, "mem_mb", a->mem_mb, a->mem_mb != 0);
	json_member_string_or_null(js, "cpuset", a->cpuset);
	member_strings(js, "task_cpus", a->task_cpus, a->n_task_cpus);
	member_uints(js, "task_ids", a->task_ids, a->n_task_ids);
	member_uints(js, "gpus", a->gpus, a->n_gpus);
	json_member_string_or_null(js, "gpu_env", a->gpu_env);
	json_member_string_or_null(js, "mems", a->mems);
	json_member_bool(js, "exclusive", a->exclusive);
	json_object_end(js);
}

/* The allocation's nodes as one host list ("n[1-2]"), the way the
 * controller writes a JobSummary's: NULL when there are none. */
static char *alloc_nodelist(const Pacer__Job *j)
{
	struct hostlist *hl;
	char *s = NULL;

	if (j->n_alloc == 0 || !(hl = hostlist_create()))
		return NULL;
	for (size_t i = 0; i < j->n_alloc; i++)
		if (hostlist_append(hl, j->alloc[i]->node) < 0)
			goto failed;
	s = hostlist_encode_alloc(hl);
failed:
	hostlist_destroy(hl);
	return s;
}

void format_job_json(struct json *js, const Pacer__Job *j)
{
	const Pacer__JobSpec *s = j->spec;
	char *nodelist = alloc_nodelist(j);
	const struct job_common c = {
		.id = j->id,
		.name = s ? s->name : NULL,
		.user = j->user,
		.uid = j->uid,
		/* The one it runs or ran in, else the list it may run in. */
		.partition = j->partition && *j->partition ? j->partition
			     : s                           ? s->partition
							   : NULL,
		.state = j->state,
		.reason = j->reason,
		.submit_time = j->submit_time,
		.start_time = j->start_time,
		.end_time = j->end_time,
		.expected_start = j->expected_start,
		.time_limit = s ? s->time_limit : 0,
		.nodelist = nodelist,
		.exit_code = j->exit_code,
		.term_signal = j->term_signal,
		.priority = j->priority,
		.held = j->held,
		.array_job_id = j->array_job_id,
		.array_task_id = j->array_task_id,
	};

	json_object_begin(js);
	job_common_json(js, &c);
	free(nodelist);
	json_member_uint(js, "gid", j->gid);
	json_member_uint(js, "requeue_count", j->requeue_count);
	json_member_bool(js, "cancel_requested", j->cancel_requested);
	json_member_string_or_null(js, "stdout_path", j->stdout_path);
	json_member_string_or_null(js, "stderr_path", j->stderr_path);
	json_member_uint(js, "epoch", j->epoch);
	json_key(js, "spec");
	if (s)
		spec_json(js, s);
	else
		json_null(js);
	json_key(js, "alloc");
	json_array_begin(js);
	for (size_t i = 0; i < j->n_alloc; i++)
		alloc_json(js, j->alloc[i]);
	json_array_end(js);
	format_job_steps_json(js, j);
	json_object_end(js);
}
