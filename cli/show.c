/* show.c - pacer show job|node: every detail of one thing, as scontrol
 * show does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "format.h"
#include "jobid.h"
#include "opt.h"

enum { K_JSON = OPT_LONG_ONLY };

static const struct opt_def show_defs[] = {
	{ "json", K_JSON, OPT_NONE },
	{ "help", 'h', OPT_NONE },
	{ NULL, 0, OPT_NONE },
};

static const char show_usage[] =
    "Usage: pacer show job [ID] [--json]\n"
    "       pacer show node [NAME] [--json]\n"
    "\n"
    "Show every field of a job or a node (of all of them without ID or NAME).\n"
    "A job's record has each node of its allocation: CPUs, tasks, memory, GPUs.\n"
    "ID may be an array task (42_7), tasks (42_[1-3]) or an array's id (all its\n"
    "tasks).  One node's record has its layout: packages, NUMA domains, cores\n"
    "and GPUs, and which job holds which.\n"
    "\n"
    "      --json             as JSON\n"
    "  -h, --help             show this help\n";

static int show_jobs(struct cli *cli, const char *id_arg, bool json)
{
	Pacer__QueueRequest qreq = PACER__QUEUE_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	const Pacer__QueueReply *r;
	struct jobid_list jobs = { 0 };
	struct json js;
	char err[512];

	if (id_arg) {
		if (jobid_parse_list(id_arg, &jobs, err, sizeof(err)) < 0) {
			cli_error(cli, "%s", err);
			jobid_list_free(&jobs);
			return 1;
		}
		qreq.job_ids = jobs.ids;
		qreq.n_job_ids = jobs.nids;
		qreq.tasks = jobs.task_ptrs;
		qreq.n_tasks = jobs.ntasks;
	}
	qreq.all = true;
	qreq.full = true;
	req.body_case = PACER__MSG__BODY_QUEUE;
	req.queue = &qreq;
	if (cli_call(cli, &req, PACER__MSG__BODY_QUEUE_REPLY, &reply) < 0) {
		jobid_list_free(&jobs);
		return 1;
	}
	jobid_list_free(&jobs);
	r = reply->queue_reply;
	if (id_arg && r->n_full == 0) {
		cli_error(cli,
			  "job %s not found (it may have ended long enough ago to be "
			  "forgotten)",
			  id_arg);
		pacer__msg__free_unpacked(reply, NULL);
		return 1;
	}
	/* One job is one object, as it always was; the tasks of an array, or
	 * every job, come as a list. */
	bool list = json && !(id_arg && r->n_full == 1);
	json_init(&js, stdout, true);
	if (list) {
		json_object_begin(&js);
		json_key(&js, "jobs");
		json_array_begin(&js);
	}
	for (size_t i = 0; i < r->n_full; i++) {
		if (json) {
			format_job_json(&js, r->full[i]);
			continue;
		}
		if (i > 0)
			fputc('\n', stdout);
		format_job_show(r->full[i], r->now ? r->now : time(NULL), stdout);
	}
	if (list) {
		json_array_end(&js);
		json_object_end(&js);
	}
	pacer__msg__free_unpacked(reply, NULL);
	return 0;
}

/* Whether V[0..N) holds X. */
static bool has(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static int add_id(uint32_t **v, size_t *n, uint32_t id)
{
	uint32_t *grown;

	if (id == 0 || has(*v, *n, id))
		return 0;
	grown = realloc(*v, (*n + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	*v = grown;
	(*v)[(*n)++] = id;
	return 0;
}

/* Node records hold bare job ids; ask what they are, so a task of an array
 * shows as 40_3.  Without an answer the ids are shown as they are. */
static void name_jobs(struct cli *cli, const Pacer__NodesReply *r, const char *name,
		      struct format_jobnames *names)
{
	Pacer__QueueRequest qreq = PACER__QUEUE_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	uint32_t *ids = NULL;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < r->n_nodes; i++) {
		const Pacer__NodeInfo *node = r->nodes[i];

		if (name && strcmp(node->name, name) != 0)
			continue;
		for (size_t k = 0; rc == 0 && k < node->n_jobs; k++)
			rc = add_id(&ids, &n, node->jobs[k]);
		for (size_t k = 0; rc == 0 && node->layout && k < node->layout->n_gpus; k++)
			rc = add_id(&ids, &n, node->layout->gpus[k]->job);
		for (size_t k = 0; node->layout && k < node->layout->n_cores; k++)
			for (size_t m = 0; rc == 0 && m < node->layout->cores[k]->n_jobs; m++)
				rc = add_id(&ids, &n, node->layout->cores[k]->jobs[m]);
	}
	if (rc == 0 && n > 0) {
		qreq.job_ids = ids;
		qreq.n_job_ids = n;
		qreq.all = true;
		req.body_case = PACER__MSG__BODY_QUEUE;
		req.queue = &qreq;
		if (cli_call_quiet(cli, &req, PACER__MSG__BODY_QUEUE_REPLY, &reply) == 0) {
			format_jobnames_build(names, reply->queue_reply);
			pacer__msg__free_unpacked(reply, NULL);
		}
	}
	free(ids);
}

static int show_nodes(struct cli *cli, const char *name, bool json)
{
	Pacer__NodesRequest nreq = PACER__NODES_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	const Pacer__NodesReply *r;
	char *names[1] = { (char *)name };
	struct format_jobnames jobnames = { 0 };
	size_t shown = 0;
	struct json js;

	/* One node comes with its layout; all of them without (it is big). */
	if (name) {
		nreq.names = names;
		nreq.n_names = 1;
		nreq.layout = true;
	}
	req.body_case = PACER__MSG__BODY_NODES;
	req.nodes = &nreq;
	if (cli_call(cli, &req, PACER__MSG__BODY_NODES_REPLY, &reply) < 0)
		return 1;
	r = reply->nodes_reply;
	if (!json)
		name_jobs(cli, r, name, &jobnames);
	json_init(&js, stdout, true);
	if (json && !name) {
		json_object_begin(&js);
		json_key(&js, "nodes");
		json_array_begin(&js);
	}
	for (size_t i = 0; i < r->n_nodes; i++) {
		if (name && strcmp(r->nodes[i]->name, name) != 0)
			continue;
		if (json) {
			format_node_json(&js, r->nodes[i]);
		} else {
			if (shown > 0)
				fputc('\n', stdout);
			format_node_show(r->nodes[i], &jobnames, stdout);
		}
		shown++;
	}
	if (json && !name) {
		json_array_end(&js);
		json_object_end(&js);
	}
	pacer__msg__free_unpacked(reply, NULL);
	format_jobnames_free(&jobnames);
	if (name && shown == 0) {
		cli_error(cli, "node %s not found (pacer nodes lists them)", name);
		return 1;
	}
	return 0;
}

int cmd_show(struct cli *cli, int argc, char **argv)
{
	cli->usage = show_usage;
	const char *what = NULL, *which = NULL;
	bool json = false;
	struct opt_state st;
	int key;

	opt_init(&st, argc, argv, 1, show_defs, true);
	while ((key = opt_next(&st)) != OPT_END) {
		switch (key) {
		case OPT_ERROR: return cli_usage_error(cli, "%s", st.err);
		case K_JSON: json = true; break;
		case 'h': fputs(show_usage, stdout); return 0;
		case OPT_OPERAND:
			if (!what)
				what = st.arg;
			else if (!which)
				which = st.arg;
			else
				return cli_usage_error(cli,
						       "unexpected argument '%s' (show one "
						       "thing at a time)",
						       st.arg);
			break;
		}
	}
	if (!what)
		return cli_usage_error(cli, "what to show? (pacer show job ID, or pacer show "
					    "node NAME)");
	if (strcmp(what, "job") == 0) {
		cli->cmd = "show job";
		return show_jobs(cli, which, json);
	}
	if (strcmp(what, "node") == 0) {
		cli->cmd = "show node";
		return show_nodes(cli, which, json);
	}
	return cli_usage_error(cli,
			       "cannot show '%s' (pacer show job ID, or pacer show node "
			       "NAME)",
			       what);
}
