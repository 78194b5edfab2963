/* show.c - pacer show job|node: every detail of one thing, as scontrol
 * show does. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "format.h"
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
    "\n"
    "      --json             as JSON\n"
    "  -h, --help             show this help\n";

static int show_jobs(struct cli *cli, const char *id_arg, bool json)
{
	Pacer__QueueRequest qreq = PACER__QUEUE_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	const Pacer__QueueReply *r;
	uint32_t id;
	struct json js;

	if (id_arg) {
		if (cli_parse_job_id(id_arg, &id) < 0) {
			cli_error(cli, "invalid job id '%s' (a job id is a whole number like 42)",
				  id_arg);
			return 1;
		}
		qreq.job_ids = &id;
		qreq.n_job_ids = 1;
	}
	qreq.all = true;
	qreq.full = true;
	req.body_case = PACER__MSG__BODY_QUEUE;
	req.queue = &qreq;
	if (cli_call(cli, &req, PACER__MSG__BODY_QUEUE_REPLY, &reply) < 0)
		return 1;
	r = reply->queue_reply;
	if (id_arg && r->n_full == 0) {
		cli_error(cli,
			  "job %u not found (it may have ended long enough ago to be "
			  "forgotten)",
			  id);
		pacer__msg__free_unpacked(reply, NULL);
		return 1;
	}
	json_init(&js, stdout, true);
	if (json && !id_arg) {
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
	if (json && !id_arg) {
		json_array_end(&js);
		json_object_end(&js);
	}
	pacer__msg__free_unpacked(reply, NULL);
	return 0;
}

static int show_nodes(struct cli *cli, const char *name, bool json)
{
	Pacer__NodesRequest nreq = PACER__NODES_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	const Pacer__NodesReply *r;
	size_t shown = 0;
	struct json js;

	req.body_case = PACER__MSG__BODY_NODES;
	req.nodes = &nreq;
	if (cli_call(cli, &req, PACER__MSG__BODY_NODES_REPLY, &reply) < 0)
		return 1;
	r = reply->nodes_reply;
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
			format_node_show(r->nodes[i], stdout);
		}
		shown++;
	}
	if (json && !name) {
		json_array_end(&js);
		json_object_end(&js);
	}
	pacer__msg__free_unpacked(reply, NULL);
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
