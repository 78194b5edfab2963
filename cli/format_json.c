/* format_json.c - every field of jobs and nodes as JSON (--json). */
#include "format.h"

static void job_summary_json(struct json *js, const Pacer__JobSummary *j)
{
	json_object_begin(js);
	json_member_uint(js, "id", j->id);
	json_member_string(js, "name", j->name);
	json_member_string(js, "user", j->user);
	json_member_string(js, "partition", j->partition);
	json_member_string(js, "state", format_job_state(j->state));
	json_member_string(js, "reason", j->reason);
	json_member_int(js, "submit_time", j->submit_time);
	json_member_int(js, "start_time", j->start_time);
	json_member_int(js, "end_time", j->end_time);
	json_member_uint(js, "time_limit", j->time_limit);
	json_member_uint(js, "nodes", j->nodes);
	json_member_uint(js, "ntasks", j->ntasks);
	json_member_uint(js, "cpus", j->cpus);
	json_member_string(js, "nodelist", j->nodelist);
	json_member_int(js, "exit_code", j->exit_code);
	json_member_int(js, "term_signal", j->term_signal);
	json_member_uint(js, "priority", j->priority);
	json_member_uint(js, "uid", j->uid);
	json_member_bool(js, "held", j->held);
	json_member_int(js, "expected_start", j->expected_start);
	json_member_uint(js, "array_job_id", j->array_job_id);
	json_member_uint(js, "array_task_id", j->array_task_id);
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
	json_member_string(js, "topology_source", l->topology_source);
	json_key(js, "numas");
	json_array_begin(js);
	for (size_t i = 0; i < l->n_numas; i++) {
		const Pacer__NumaInfo *d = l->numas[i];

		json_object_begin(js);
		json_member_uint(js, "index", d->index);
		json_member_uint(js, "package", d->package);
		json_member_string(js, "nodeset", d->nodeset);
		json_member_string(js, "cpuset", d->cpuset);
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
		json_member_uint(js, "package", c->package);
		json_member_uint(js, "numa", c->numa);
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
		json_member_int(js, "numa", g->numa);
		json_member_int(js, "package", g->package);
		json_member_string(js, "busid", g->busid);
		json_member_uint(js, "job", g->job);
		json_object_end(js);
	}
	json_array_end(js);
	json_object_end(js);
}

void format_node_json(struct json *js, const Pacer__NodeInfo *n)
{
	json_object_begin(js);
	json_member_string(js, "name", n->name);
	json_member_string(js, "state", format_node_state_name(n->state));
	json_member_string(js, "reason", n->reason);
	json_member_string(js, "address", n->address);
	json_member_uint(js, "port", n->port);
	json_member_uint(js, "cpus", n->cpus);
	json_member_uint(js, "cpus_alloc", n->cpus_alloc);
	json_member_uint(js, "mem_mb", n->mem_mb);
	json_member_uint(js, "mem_alloc_mb", n->mem_alloc_mb);
	member_strings(js, "partitions", n->partitions, n->n_partitions);
	json_member_string(js, "boot_id", n->boot_id);
	json_member_int(js, "last_heard", n->last_heard);
	json_key(js, "jobs");
	json_array_begin(js);
	for (size_t i = 0; i < n->n_jobs; i++)
		json_uint(js, n->jobs[i]);
	json_array_end(js);
	json_member_string(js, "version", n->version);
	json_member_uint(js, "sockets", n->sockets);
	json_member_uint(js, "cores", n->cores);
	json_member_uint(js, "threads", n->threads);
	json_member_uint(js, "numas", n->numas);
	json_member_uint(js, "cores_alloc", n->cores_alloc);
	json_member_string(js, "cpuset_alloc", n->cpuset_alloc);
	json_member_uint(js, "gpus", n->gpus);
	json_member_uint(js, "gpus_alloc", n->gpus_alloc);
	member_strings(js, "features", n->features, n->n_features);
	json_member_string(js, "topology_hash", n->topology_hash);
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
	json_member_string(js, "name", s->name);
	json_member_uint(js, "nodes", s->nodes);
	json_member_uint(js, "ntasks", s->ntasks);
	json_member_uint(js, "cpus_per_task", s->cpus_per_task);
	json_member_uint(js, "mem_mb", s->mem_mb);
	json_member_uint(js, "time_limit", s->time_limit);
	json_member_string(js, "partition", s->partition);
	json_member_string(js, "workdir", s->workdir);
	json_member_string(js, "stdout_pattern", s->stdout_pattern);
	json_member_string(js, "stderr_pattern", s->stderr_pattern);
	json_key(js, "script");
	json_string_len(js, (const char *)s->script.data, s->script.len);
	member_strings(js, "argv", s->argv, s->n_argv);
	member_strings(js, "env", s->env, s->n_env);
	json_member_bool(js, "hold", s->hold);
	json_member_string(js, "submit_dir", s->submit_dir);
	json_member_string(js, "submit_host", s->submit_host);
	json_member_uint(js, "ntasks_per_node", s->ntasks_per_node);
	json_member_uint(js, "ntasks_per_socket", s->ntasks_per_socket);
	json_member_bool(js, "exclusive", s->exclusive);
	json_member_uint(js, "mem_per_cpu_mb", s->mem_per_cpu_mb);
	json_member_uint(js, "gpus", s->gpus);
	json_member_uint(js, "gpus_per_node", s->gpus_per_node);
	json_member_string(js, "nodelist", s->nodelist);
	json_member_string(js, "exclude", s->exclude);
	json_member_string(js, "constraint", s->constraint);
	json_member_string(js, "distribution", s->distribution);
	json_member_string(js, "cpu_bind", s->cpu_bind);
	json_member_bool(js, "multithread", s->multithread);
	json_member_int(js, "nice", s->nice);
	json_member_string(js, "array", s->array);
	json_member_uint(js, "array_max_running", s->array_max_running);
	json_member_string(js, "dependency", s->dependency);
	json_object_end(js);
}

static void alloc_json(struct json *js, const Pacer__NodeAlloc *a)
{
	json_object_begin(js);
	json_member_string(js, "node", a->node);
	json_member_uint(js, "cpus", a->cpus);
	json_member_uint(js, "mem_mb", a->mem_mb);
	json_member_string(js, "cpuset", a->cpuset);
	member_strings(js, "task_cpus", a->task_cpus, a->n_task_cpus);
	member_uints(js, "task_ids", a->task_ids, a->n_task_ids);
	member_uints(js, "gpus", a->gpus, a->n_gpus);
	json_member_string(js, "gpu_env", a->gpu_env);
	json_member_string(js, "mems", a->mems);
	json_member_bool(js, "exclusive", a->exclusive);
	json_object_end(js);
}

void format_job_json(struct json *js, const Pacer__Job *j)
{
	json_object_begin(js);
	json_member_uint(js, "id", j->id);
	json_member_uint(js, "uid", j->uid);
	json_member_uint(js, "gid", j->gid);
	json_member_string(js, "user", j->user);
	json_key(js, "spec");
	if (j->spec)
		spec_json(js, j->spec);
	else
		json_null(js);
	json_member_string(js, "state", format_job_state(j->state));
	json_member_string(js, "reason", j->reason);
	json_member_int(js, "submit_time", j->submit_time);
	json_member_int(js, "start_time", j->start_time);
	json_member_int(js, "end_time", j->end_time);
	json_key(js, "alloc");
	json_array_begin(js);
	for (size_t i = 0; i < j->n_alloc; i++)
		alloc_json(js, j->alloc[i]);
	json_array_end(js);
	json_member_int(js, "exit_code", j->exit_code);
	json_member_int(js, "term_signal", j->term_signal);
	json_member_uint(js, "requeue_count", j->requeue_count);
	json_member_bool(js, "held", j->held);
	json_member_bool(js, "cancel_requested", j->cancel_requested);
	json_member_uint(js, "priority", j->priority);
	json_member_string(js, "stdout_path", j->stdout_path);
	json_member_string(js, "stderr_path", j->stderr_path);
	json_member_uint(js, "epoch", j->epoch);
	json_member_uint(js, "array_job_id", j->array_job_id);
	json_member_uint(js, "array_task_id", j->array_task_id);
	json_member_int(js, "expected_start", j->expected_start);
	json_object_end(js);
}
