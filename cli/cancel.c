/* cancel.c - pacer cancel: cancel or signal jobs, as scancel does. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "jobid.h"
#include "opt.h"

static const struct opt_def cancel_defs[] = {
	{ "signal", 's', OPT_REQUIRED },
	{ "user", 'u', OPT_REQUIRED },
	{ "help", 'h', OPT_NONE },
	{ NULL, 0, OPT_NONE },
};

static const char cancel_usage[] =
    "Usage: pacer cancel [OPTIONS] ID...\n"
    "       pacer cancel [OPTIONS] --user USER\n"
    "\n"
    "Cancel jobs: a running job gets SIGTERM, then SIGKILL after the cluster's\n"
    "kill_wait.  Errors are printed per job; successes are silent.  An ID is a\n"
    "job (42; an array's id cancels every task of it), an array task (42_7),\n"
    "several (42_[1-3,5]) or one step of a job (42.0: only that step ends, and\n"
    "--signal goes to its tasks only); IDs may be joined by commas.\n"
    "\n"
    "  -s, --signal=SIGNAL    only send SIGNAL (a name like USR1 or a number) to the\n"
    "                         running jobs, without cancelling them\n"
    "  -u, --user=USER        cancel every job of USER\n"
    "  -h, --help             show this help\n";

struct cancel_args {
	Pacer__CancelRequest req;
	struct jobid_list jobs;
	const char *user;
	bool help;
};

static int parse(struct cli *cli, int argc, char **argv, struct cancel_args *a)
{
	struct opt_state st;
	char err[512];
	int key;

	opt_init(&st, argc, argv, 1, cancel_defs, true);
	while ((key = opt_next(&st)) != OPT_END) {
		int rc = 0;

		switch (key) {
		case OPT_ERROR: return cli_usage_error(cli, "%s", st.err);
		case OPT_OPERAND: rc = jobid_parse_steps(st.arg, &a->jobs, err, sizeof(err)); break;
		case 's': rc = cli_parse_signal(st.arg, &a->req.signal, err, sizeof(err)); break;
		case 'u': a->user = st.arg; break;
		case 'h': a->help = true; break;
		}
		if (rc < 0) {
			cli_error(cli, "%s", err);
			return 1;
		}
	}
	if (a->help)
		return 0;
	a->req.job_ids = a->jobs.ids;
	a->req.n_job_ids = a->jobs.nids;
	a->req.tasks = a->jobs.task_ptrs;
	a->req.n_tasks = a->jobs.ntasks;
	a->req.steps = a->jobs.step_ptrs;
	a->req.n_steps = a->jobs.nsteps;
	if (a->user) {
		uid_t uid;

		if (a->req.n_job_ids || a->req.n_tasks || a->req.n_steps)
			return cli_usage_error(cli, "give job ids or --user, not both");
		if (cli_parse_user(a->user, &uid, err, sizeof(err)) < 0) {
			cli_error(cli, "%s", err);
			return 1;
		}
		a->req.by_user = true;
		a->req.uid = (uint32_t)uid;
	} else if (a->req.n_job_ids == 0 && a->req.n_tasks == 0 && a->req.n_steps == 0) {
		return cli_usage_error(cli, "no job to cancel (give job ids, or --user USER)");
	}
	return 0;
}

int cmd_cancel(struct cli *cli, int argc, char **argv)
{
	cli->usage = cancel_usage;
	struct cancel_args a = { .req = PACER__CANCEL_REQUEST__INIT };
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	int rc;

	rc = parse(cli, argc, argv, &a);
	if (rc != 0 || a.help) {
		if (a.help)
			fputs(cancel_usage, stdout);
		goto done;
	}
	req.body_case = PACER__MSG__BODY_CANCEL;
	req.cancel = &a.req;
	if (cli_call(cli, &req, PACER__MSG__BODY_CANCEL_REPLY, &reply) < 0) {
		rc = 1;
		goto done;
	}
	rc = cli_job_results(cli, reply->cancel_reply->results, reply->cancel_reply->n_results);
	pacer__msg__free_unpacked(reply, NULL);
done:
	jobid_list_free(&a.jobs);
	return rc;
}
