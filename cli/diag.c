/* diag.c - pacer diag: how the controller is doing, as Slurm's sdiag. */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "json.h"
#include "opt.h"
#include "strfmt.h"
#include "timefmt.h"

enum { K_JSON = OPT_LONG_ONLY, K_HELP };

static const struct opt_def diag_defs[] = {
	{ "json", K_JSON, OPT_NONE },
	{ "help", K_HELP, OPT_NONE },
	{ NULL, 0, OPT_NONE },
};

static const char diag_usage[] =
    "Usage: pacer diag [OPTIONS]\n"
    "\n"
    "How the controller is doing, as sdiag shows it: since when it runs, its\n"
    "epoch, jobs and nodes, and the scheduler's passes (how many, how long the\n"
    "last and the longest took, the mean, jobs looked at and reservations made\n"
    "by the last one, jobs started), and the journal records it skipped at\n"
    "start because they could not be decoded (docs/journal.md).  See\n"
    "docs/scheduling.md.\n"
    "\n"
    "      --json             every figure as JSON\n"
    "      --help             show this help\n";

static void print_json(const Pacer__DiagReply *r)
{
	struct json j;
	json_init(&j, stdout, true);
	json_object_begin(&j);
	json_member_int(&j, "now", r->now);
	json_member_int(&j, "started", r->started);
	json_member_uint(&j, "epoch", r->epoch);
	json_member_uint(&j, "jobs", r->jobs);
	json_member_uint(&j, "pending", r->pending);
	json_member_uint(&j, "running", r->running);
	json_member_uint(&j, "nodes", r->nodes);
	json_member_uint(&j, "nodes_up", r->nodes_up);
	json_member_uint(&j, "topologies", r->topologies);
	json_key(&j, "sched");
	json_object_begin(&j);
	json_member_uint(&j, "passes", r->sched_passes);
	json_member_uint(&j, "started", r->sched_started);
	/* No pass yet: there is no last or longest one. */
	bool ran = r->sched_passes > 0;
	json_member_uint_or_null(&j, "last_ms", r->sched_last_ms, ran);
	json_member_uint_or_null(&j, "max_ms", r->sched_max_ms, ran);
	json_member_uint(&j, "total_ms", r->sched_total_ms);
	json_member_uint_or_null(&j, "last_jobs", r->sched_last_jobs, ran);
	json_member_uint_or_null(&j, "last_reservations", r->sched_last_reservations, ran);
	json_object_end(&j);
	json_key(&j, "journal");
	json_object_begin(&j);
	json_member_uint(&j, "skipped_records", r->n_skipped_records);
	json_key(&j, "skipped");
	json_array_begin(&j);
	for (size_t i = 0; i < r->n_skipped_records; i++) {
		const Pacer__SkippedRecord *s = r->skipped_records[i];
		json_object_begin(&j);
		json_member_string(&j, "file", s->file);
		json_member_uint(&j, "offset", s->offset);
		json_member_uint(&j, "after_seq", s->after_seq);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_object_end(&j);
}

static void print_text(const Pacer__DiagReply *r)
{
	char since[32], up[32];
	int64_t uptime = r->now > r->started ? r->now - r->started : 0;
	timefmt_timestamp(r->started, since, sizeof(since));
	timefmt_duration(uptime > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)uptime, up,
			 sizeof(up));
	printf("Controller: running since %s (%s), epoch %" PRIu64 "\n", since, up, r->epoch);
	printf("Jobs:       %u (%u pending, %u running)\n", r->jobs, r->pending, r->running);
	printf("Nodes:      %u (%u up), %u distinct topolog%s\n", r->nodes, r->nodes_up,
	       r->topologies, r->topologies == 1 ? "y" : "ies");
	printf("Scheduler:  %" PRIu64 " pass%s, %" PRIu64 " job%s started\n", r->sched_passes,
	       r->sched_passes == 1 ? "" : "es", r->sched_started, strfmt_s(r->sched_started));
	printf("   last pass %" PRIu64 " ms over %u pending job%s, %u reservation%s\n",
	       r->sched_last_ms, r->sched_last_jobs, strfmt_s(r->sched_last_jobs),
	       r->sched_last_reservations, strfmt_s(r->sched_last_reservations));
	printf("   longest %" PRIu64 " ms, mean %" PRIu64 " ms\n", r->sched_max_ms,
	       r->sched_passes ? r->sched_total_ms / r->sched_passes : 0);
	if (r->n_skipped_records == 0)
		return;
	printf("Journal:    %zu record%s skipped at start (pacerctld --skip-bad-records)\n",
	       r->n_skipped_records, r->n_skipped_records == 1 ? "" : "s");
	for (size_t i = 0; i < r->n_skipped_records; i++)
		printf("   after seq %" PRIu64 ": offset %" PRIu64 " of %s\n",
		       r->skipped_records[i]->after_seq, r->skipped_records[i]->offset,
		       r->skipped_records[i]->file);
}

int cmd_diag(struct cli *cli, int argc, char **argv)
{
	cli->usage = diag_usage;
	Pacer__DiagRequest dreq = PACER__DIAG_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	bool json = false;
	struct opt_state st;
	int key;

	opt_init(&st, argc, argv, 1, diag_defs, true);
	while ((key = opt_next(&st)) != OPT_END) {
		switch (key) {
		case OPT_ERROR: return cli_usage_error(cli, "%s", st.err);
		case OPT_OPERAND: return cli_usage_error(cli, "unexpected argument '%s'", st.arg);
		case K_JSON: json = true; break;
		case K_HELP: fputs(diag_usage, stdout); return 0;
		}
	}
	req.body_case = PACER__MSG__BODY_DIAG;
	req.diag = &dreq;
	if (cli_call(cli, &req, PACER__MSG__BODY_DIAG_REPLY, &reply) < 0)
		return 1;
	if (json)
		print_json(reply->diag_reply);
	else
		print_text(reply->diag_reply);
	pacer__msg__free_unpacked(reply, NULL);
	return 0;
}
