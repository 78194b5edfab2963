/* hold.c - pacer hold and pacer release: keep pending jobs from starting,
 * and let them go again. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "jobid.h"
#include "opt.h"

static const struct opt_def hold_defs[] = {
	{ "help", 'h', OPT_NONE },
	{ NULL, 0, OPT_NONE },
};

static const char hold_usage[] =
    "Usage: pacer hold ID...\n"
    "\n"
    "Keep pending jobs from starting until pacer release.  An ID is a job (42;\n"
    "an array's id holds every task of it), an array task (42_7) or several\n"
    "(42_[1-3,5]).\n"
    "\n"
    "  -h, --help             show this help\n";

static const char release_usage[] =
    "Usage: pacer release ID...\n"
    "\n"
    "Let held jobs start again.  An ID is a job (42; an array's id releases\n"
    "every task of it), an array task (42_7) or several (42_[1-3,5]).\n"
    "\n"
    "  -h, --help             show this help\n";

static int hold_or_release(struct cli *cli, int argc, char **argv, bool release)
{
	Pacer__HoldRequest hreq = PACER__HOLD_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	struct jobid_list jobs = { 0 };
	struct opt_state st;
	char err[512];
	int key, rc = 1;

	opt_init(&st, argc, argv, 1, hold_defs, true);
	while ((key = opt_next(&st)) != OPT_END) {
		if (key == OPT_ERROR) {
			rc = cli_usage_error(cli, "%s", st.err);
			goto done;
		}
		if (key == 'h') {
			fputs(release ? release_usage : hold_usage, stdout);
			rc = 0;
			goto done;
		}
		if (jobid_parse_list(st.arg, &jobs, err, sizeof(err)) < 0) {
			cli_error(cli, "%s", err);
			goto done;
		}
	}
	hreq.job_ids = jobs.ids;
	hreq.n_job_ids = jobs.nids;
	hreq.tasks = jobs.task_ptrs;
	hreq.n_tasks = jobs.ntasks;
	if (hreq.n_job_ids == 0 && hreq.n_tasks == 0) {
		rc = cli_usage_error(cli, "no job to %s (give job ids)",
				     release ? "release" : "hold");
		goto done;
	}
	hreq.release = release;
	req.body_case = PACER__MSG__BODY_HOLD;
	req.hold = &hreq;
	if (cli_call(cli, &req, PACER__MSG__BODY_HOLD_REPLY, &reply) < 0)
		goto done;
	rc = cli_job_results(cli, reply->hold_reply->results, reply->hold_reply->n_results);
	pacer__msg__free_unpacked(reply, NULL);
done:
	jobid_list_free(&jobs);
	return rc;
}

int cmd_hold(struct cli *cli, int argc, char **argv)
{
	cli->usage = hold_usage;
	return hold_or_release(cli, argc, argv, false);
}

int cmd_release(struct cli *cli, int argc, char **argv)
{
	cli->usage = release_usage;
	return hold_or_release(cli, argc, argv, true);
}
