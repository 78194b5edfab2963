/* nodes.c - pacer nodes: list nodes, as sinfo -N -l does. */
#include <stdio.h>

#include "cli.h"
#include "format.h"
#include "opt.h"

enum { K_JSON = OPT_LONG_ONLY, K_HELP };

static const struct opt_def nodes_defs[] = {
	{ "noheader", 'h', OPT_NONE },
	{ "json", K_JSON, OPT_NONE },
	{ "help", K_HELP, OPT_NONE },
	{ NULL, 0, OPT_NONE },
};

static const char nodes_usage[] =
    "Usage: pacer nodes [OPTIONS]\n"
    "\n"
    "List the cluster's nodes, as sinfo -N -l does: state (idle, mixed,\n"
    "allocated, unknown, suspect, unclean, down), allocated/total CPUs (hardware\n"
    "threads), sockets:cores per socket:threads per core, allocated/total memory\n"
    "(MiB) and GPUs, features, partitions, reason.  pacer show node NAME shows\n"
    "one node's layout.\n"
    "\n"
    "  -h, --noheader         no header line\n"
    "      --json             every field of every node as JSON\n"
    "      --help             show this help\n";

int cmd_nodes(struct cli *cli, int argc, char **argv)
{
	cli->usage = nodes_usage;
	Pacer__NodesRequest nreq = PACER__NODES_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	bool header = true, json = false;
	struct opt_state st;
	int key;

	opt_init(&st, argc, argv, 1, nodes_defs, true);
	while ((key = opt_next(&st)) != OPT_END) {
		switch (key) {
		case OPT_ERROR: return cli_usage_error(cli, "%s", st.err);
		case OPT_OPERAND:
			return cli_usage_error(cli,
					       "unexpected argument '%s' (for one node use: "
					       "pacer show node NAME)",
					       st.arg);
		case 'h': header = false; break;
		case K_JSON: json = true; break;
		case K_HELP: fputs(nodes_usage, stdout); return 0;
		}
	}
	req.body_case = PACER__MSG__BODY_NODES;
	req.nodes = &nreq;
	if (cli_call(cli, &req, PACER__MSG__BODY_NODES_REPLY, &reply) < 0)
		return 1;
	if (json)
		format_nodes_json(reply->nodes_reply, stdout);
	else
		format_nodes_table(reply->nodes_reply, header, stdout);
	pacer__msg__free_unpacked(reply, NULL);
	return 0;
}
