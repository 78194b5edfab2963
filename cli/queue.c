/* queue.c - pacer queue: list jobs, as squeue does. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "jobid.h"
#include "opt.h"

enum { K_JSON = OPT_LONG_ONLY, K_ME, K_HELP, K_START };

static const struct opt_def queue_defs[] = {
	{ "all", 'a', OPT_NONE },        { "user", 'u', OPT_REQUIRED },
	{ "me", K_ME, OPT_NONE },        { "state", 't', OPT_REQUIRED },
	{ "states", 't', OPT_REQUIRED }, { "job", 'j', OPT_REQUIRED },
	{ "jobs", 'j', OPT_REQUIRED },   { "format", 'o', OPT_REQUIRED },
	{ "noheader", 'h', OPT_NONE },   { "json", K_JSON, OPT_NONE },
	{ "start", K_START, OPT_NONE },  { "array", 'r', OPT_NONE },
	{ "steps", 's', OPT_NONE },      { "help", K_HELP, OPT_NONE },
	{ NULL, 0, OPT_NONE },
};

static const char queue_usage[] =
    "Usage: pacer queue [OPTIONS]\n"
    "\n"
    "List pending and running jobs (every job with --all), as squeue does.  A\n"
    "task of a job array shows as ARRAYID_INDEX (42_7).\n"
    "\n"
    "  -a, --all              include finished jobs still remembered\n"
    "  -u, --user=USER[,...]  only these users' jobs\n"
    "      --me               only my jobs\n"
    "  -t, --state=STATE[,...] only jobs in these states: PENDING (PD), RUNNING (R),\n"
    "                         COMPLETED (CD), FAILED (F), CANCELLED (CA), TIMEOUT (TO),\n"
    "                         NODE_FAIL (NF), REQUEUED (RQ), OUT_OF_MEMORY (OOM)\n"
    "  -j, --job=ID[,...]     only these jobs: 42 (an array's id: all its tasks),\n"
    "                         42_7 (one task), 42_[1-3,5] (several)\n"
    "      --start            pending jobs with their expected start time, soonest\n"
    "                         first (N/A: not known yet)\n"
    "  -r, --array            one array task per line (always so; for squeue users)\n"
    "  -s, --steps            the steps of running jobs instead, as squeue -s: each\n"
    "                         job's batch script (JOB.batch) and its pacer run steps\n"
    "                         (JOB.0, JOB.1...) with nodes, tasks, state and exit\n"
    "                         code; with --all, ended steps and jobs too\n"
    "  -o, --format=FORMAT    squeue-style columns, e.g. \"%.10i %-20j %T\":\n"
    "                         %i id  %j name  %u user  %P partition  %t state code\n"
    "                         %T state  %M time used  %l time limit  %L time left\n"
    "                         %D nodes  %C cpus  %R nodes or (reason)  %N nodes\n"
    "                         %r reason  %V submit time  %S start (or expected\n"
    "                         start) time  %e end time  %Q priority  %U uid\n"
    "                         %A job id  %F array id  %K array index\n"
    "                         (%.N right-aligns in N columns, %-N or %N left-aligns)\n"
    "  -h, --noheader         no header line\n"
    "      --json             every field of every job as JSON\n"
    "      --help             show this help\n";

struct queue_args {
	Pacer__QueueRequest req;
	struct jobid_list jobs;
	const char *format;
	bool header;
	bool json;
	bool help;
	bool start;
	bool steps;
};

static int add_me(Pacer__QueueRequest *req, char *err, size_t errlen)
{
	uint32_t *grown = realloc(req->uids, (req->n_uids + 1) * sizeof(*grown));

	if (!grown) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	req->uids = grown;
	req->uids[req->n_uids++] = (uint32_t)getuid();
	return 0;
}

static int parse(struct cli *cli, int argc, char **argv, struct queue_args *a)
{
	struct opt_state st;
	char err[512];
	int key, rc = 0;

	opt_init(&st, argc, argv, 1, queue_defs, true);
	while (rc == 0 && (key = opt_next(&st)) != OPT_END) {
		switch (key) {
		case OPT_ERROR: return cli_usage_error(cli, "%s", st.err);
		case OPT_OPERAND:
			return cli_usage_error(cli,
					       "unexpected argument '%s' (give job ids with "
					       "--job ID)",
					       st.arg);
		case 'a': a->req.all = true; break;
		case 'u':
			rc =
			    cli_parse_users(st.arg, &a->req.uids, &a->req.n_uids, err, sizeof(err));
			break;
		case K_ME: rc = add_me(&a->req, err, sizeof(err)); break;
		case 't':
			rc = cli_parse_states(st.arg, &a->req.states, &a->req.n_states, err,
					      sizeof(err));
			break;
		case 'j': rc = jobid_parse_list(st.arg, &a->jobs, err, sizeof(err)); break;
		case 'o': a->format = st.arg; break;
		case 'h': a->header = false; break;
		case K_JSON: a->json = true; break;
		case K_HELP: a->help = true; break;
		case K_START: a->start = true; break;
		case 'r': break;
		case 's':
			a->steps = true;
			a->req.steps = true;
			break;
		}
	}
	if (rc < 0) {
		cli_error(cli, "%s", err);
		return 1;
	}
	return 0;
}

/* Soonest expected start first, unknown (0) last; then by id. */
static int by_expected_start(const void *pa, const void *pb)
{
	const Pacer__JobSummary *a = *(Pacer__JobSummary *const *)pa;
	const Pacer__JobSummary *b = *(Pacer__JobSummary *const *)pb;

	if ((a->expected_start == 0) != (b->expected_start == 0))
		return a->expected_start == 0 ? 1 : -1;
	if (a->expected_start != b->expected_start)
		return a->expected_start < b->expected_start ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

static void print_jobs(const struct queue_args *a, const struct qfmt *f, Pacer__QueueReply *r)
{
	if (a->start && r->n_jobs > 1)
		qsort(r->jobs, r->n_jobs, sizeof(*r->jobs), by_expected_start);
	if (a->steps) {
		if (a->json)
			format_steps_json(r, stdout);
		else
			format_steps_table(r, a->header, stdout);
		return;
	}
	if (a->json) {
		format_queue_json(r, stdout);
		return;
	}
	if (a->header)
		qfmt_header(f, stdout);
	for (size_t i = 0; i < r->n_jobs; i++)
		qfmt_job(f, r->jobs[i], r->now, stdout);
}

int cmd_queue(struct cli *cli, int argc, char **argv)
{
	cli->usage = queue_usage;
	struct queue_args a = { .req = PACER__QUEUE_REQUEST__INIT, .header = true };
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	struct qfmt *f = NULL;
	char err[512];
	int rc;

	rc = parse(cli, argc, argv, &a);
	if (rc != 0 || a.help) {
		if (a.help)
			fputs(queue_usage, stdout);
		goto done;
	}
	if (a.steps && (a.format || a.start)) {
		rc = cli_usage_error(cli, "--steps has its own columns: it takes neither "
					  "--format nor --start");
		goto done;
	}
	/* A bad --format fails before anything is asked of the controller. */
	if (!a.json && !a.steps) {
		const char *fmt = a.format ? a.format : a.start ? QFMT_START : QFMT_DEFAULT;
		f = qfmt_parse(fmt, err, sizeof(err));
		if (!f) {
			cli_error(cli, "bad --format: %s", err);
			rc = 1;
			goto done;
		}
	}
	a.req.job_ids = a.jobs.ids;
	a.req.n_job_ids = a.jobs.nids;
	a.req.tasks = a.jobs.task_ptrs;
	a.req.n_tasks = a.jobs.ntasks;
	/* As squeue --start: the pending jobs, unless states were chosen. */
	if (a.start && a.req.n_states == 0) {
		a.req.states = malloc(sizeof(*a.req.states));
		if (!a.req.states) {
			cli_error(cli, "out of memory");
			rc = 1;
			goto done;
		}
		a.req.states[0] = PACER__JOB_STATE__JOB_PENDING;
		a.req.n_states = 1;
	}
	/* Asking for ids or states means wanting them even once finished. */
	if (a.req.n_job_ids || a.req.n_tasks || a.req.n_states)
		a.req.all = true;
	req.body_case = PACER__MSG__BODY_QUEUE;
	req.queue = &a.req;
	if (cli_call(cli, &req, PACER__MSG__BODY_QUEUE_REPLY, &reply) < 0) {
		rc = 1;
		goto done;
	}
	print_jobs(&a, f, reply->queue_reply);
	pacer__msg__free_unpacked(reply, NULL);
done:
	qfmt_free(f);
	free(a.req.uids);
	free(a.req.states);
	jobid_list_free(&a.jobs);
	return rc;
}
