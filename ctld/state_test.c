/* state_test.c - what state_commit lets into the journal, and recovery from
 * a journal record that cannot be decoded, on a real journal in a temporary
 * state directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arrayspec.h"
#include "conf.h"
#include "ctld.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "node.h"
#include "state.h"

static char *dir, *state_dir, *log_path;

static char *path_in(const char *d, const char *name)
{
	char *p;
	assert_true(asprintf(&p, "%s/%s", d, name) > 0);
	return p;
}

static int setup(void **st)
{
	(void)st;
	const char *tmp = getenv("TMPDIR");
	assert_true(asprintf(&dir, "%s/state_test.XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
	assert_non_null(mkdtemp(dir));
	state_dir = path_in(dir, "state");
	log_path = path_in(dir, "log");
	char *conf = path_in(dir, "pacer.conf");
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f,
		"[cluster]\nname = test\ncontrollers = 127.0.0.1:1\nstate_dir = %s\n"
		"[nodes:all]\nnames = n1\ntopology = core:2 pu:1\n",
		state_dir);
	assert_int_equal(fclose(f), 0);
	char err[1024];
	if (conf_load(conf, &ctld.conf, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	free(conf);
	log_init("state_test", LOG_INFO);
	assert_int_equal(log_open(log_path), 0);
	ctld.base = event_base_new();
	ctld.listen_host = "127.0.0.1";
	assert_non_null(ctld.base);
	assert_int_equal(node_table_init(), 0);
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	node_table_destroy();
	event_base_free(ctld.base);
	conf_destroy(ctld.conf);
	DIR *d = opendir(state_dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(state_dir);
	unlink(log_path);
	rmdir(dir);
	free(state_dir);
	free(log_path);
	free(dir);
	return 0;
}

/* Forget everything in memory, as a controller that stopped. */
static void forget(void)
{
	state_shutdown();
	job_table_destroy();
	ctld.next_job_id = 0;
	ctld.epoch = 0;
}

static uint8_t one[] = { 0x01 };

/* A field number 0 with the value 1: protobuf-c packs it as 00 01, which
 * its own unpack refuses (what an overlong tag 0 from a client became). */
static ProtobufCMessageUnknownField tag0 = { 0, PROTOBUF_C_WIRE_TYPE_VARINT, 1, one };

static void spec_init(Pacer__JobSpec *s, const char *name)
{
	static char script[] = "#!/bin/sh\ntrue\n";
	pacer__job_spec__init(s);
	s->name = (char *)name;
	s->workdir = "/tmp";
	s->script.data = (uint8_t *)script;
	s->script.len = sizeof(script) - 1;
}

static void job_init(Pacer__Job *j, Pacer__JobSpec *s)
{
	pacer__job__init(j);
	j->id = ctld.next_job_id;
	j->uid = 1000;
	j->gid = 1000;
	j->user = "alice";
	j->spec = s;
	j->state = PACER__JOB_STATE__JOB_PENDING;
	j->epoch = ctld.epoch;
}

static bool logged(const char *text)
{
	FILE *f = fopen(log_path, "r");
	char line[4096];
	bool found = false;
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	fclose(f);
	return found;
}

/* The newest journal file of the state directory. */
static char *newest_journal(void)
{
	DIR *d = opendir(state_dir);
	struct dirent *de;
	char best[256] = "";
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "journal.", 8) == 0 && !strchr(de->d_name + 8, '.') &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	closedir(d);
	assert_true(best[0]);
	return path_in(state_dir, best);
}

/* Append PAYLOAD to journal PATH as one framed record (u32 length, u32
 * CRC-32C, both little-endian): what the journal's writer would write. */
static long append_framed(const char *path, const uint8_t *payload, size_t len)
{
	uint32_t crc = crc32c(0, payload, len);
	uint8_t hdr[8] = { (uint8_t)len,         (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			   (uint8_t)(len >> 24), (uint8_t)crc,        (uint8_t)(crc >> 8),
			   (uint8_t)(crc >> 16), (uint8_t)(crc >> 24) };
	FILE *f = fopen(path, "ab");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long at = ftell(f);
	assert_int_equal(fwrite(hdr, 1, sizeof(hdr), f), sizeof(hdr));
	assert_int_equal(fwrite(payload, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return at;
}

static uint8_t *pack_record(const Pacer__JournalRecord *rec, size_t *len)
{
	*len = pacer__journal_record__get_packed_size(rec);
	uint8_t *b = malloc(*len);
	assert_non_null(b);
	pacer__journal_record__pack(rec, b);
	return b;
}

static void test_commit_refuses_what_does_not_decode(void **st)
{
	(void)st;
	assert_int_equal(state_recover(false), 0);
	uint32_t next = ctld.next_job_id;

	Pacer__JobSpec s;
	Pacer__Job j;
	spec_init(&s, "hostile");
	s.base.n_unknown_fields = 1;
	s.base.unknown_fields = &tag0;
	job_init(&j, &s);
	errno = 0;
	assert_int_equal(state_submit(&j), 0);
	assert_int_equal(errno, EBADMSG);
	assert_null(job_find(next));
	assert_int_equal(ctld.next_job_id, next);
	assert_true(logged("refused the job_submit record of job "));

	/* Nothing of it went anywhere: the next submit takes the same id, and
	 * both are what a restart finds. */
	spec_init(&s, "good");
	job_init(&j, &s);
	assert_int_not_equal(state_submit(&j), 0);
	assert_non_null(job_find(next));
	forget();
	assert_int_equal(state_recover(false), 0);
	struct job *found = job_find(next);
	assert_non_null(found);
	assert_string_equal(found->name, "good");
	assert_int_equal(job_count(), 1);
	forget();
}

static void test_recover_past_a_record_that_does_not_decode(void **st)
{
	(void)st;
	assert_int_equal(state_recover(false), 0);
	Pacer__JobSpec s;
	Pacer__Job j;
	spec_init(&s, "before");
	job_init(&j, &s);
	uint32_t good = j.id;
	assert_int_not_equal(state_submit(&j), 0);
	forget();

	/* What Pacer journaled before issue 7 for a submit carrying an overlong
	 * tag 0: the client's JobSpec as received.  Then a record it could still
	 * decode. */
	char *journal = newest_journal();
	spec_init(&s, "hostile");
	s.base.n_unknown_fields = 1;
	s.base.unknown_fields = &tag0;
	pacer__job__init(&j);
	job_init(&j, &s);
	j.id = good + 1;
	Pacer__JournalRecord rec = PACER__JOURNAL_RECORD__INIT;
	rec.epoch = 9;
	rec.seq = 1000;
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_SUBMIT;
	rec.job_submit = &j;
	size_t len;
	uint8_t *bad = pack_record(&rec, &len);
	assert_null(pacer__journal_record__unpack(NULL, len, bad));
	long at = append_framed(journal, bad, len);
	free(bad);
	Pacer__JobHold h = PACER__JOB_HOLD__INIT;
	h.job_id = good;
	h.held = true;
	Pacer__JournalRecord hold = PACER__JOURNAL_RECORD__INIT;
	hold.epoch = 9;
	hold.seq = 1001;
	hold.op_case = PACER__JOURNAL_RECORD__OP_JOB_HOLD;
	hold.job_hold = &h;
	uint8_t *ok = pack_record(&hold, &len);
	append_framed(journal, ok, len);
	free(ok);

	/* By default the controller does not start, and says what to do. */
	errno = 0;
	assert_int_equal(state_recover(false), -1);
	assert_int_equal(errno, EBADMSG);
	char want[4096];
	snprintf(want, sizeof(want), "in %s (at offset %ld) cannot be decoded", journal, at);
	assert_true(logged(want));
	assert_true(logged("run pacerctld once with --skip-bad-records"));
	forget();

	/* With skip_bad_records it starts, past the record. */
	assert_int_equal(state_recover(true), 0);
	size_t n;
	const struct state_skipped *sk = state_skipped(&n);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "%s.damaged", journal);
	assert_string_equal(sk[0].file, want);
	assert_int_equal(sk[0].offset, at);
	assert_true(sk[0].after_seq > 0 && sk[0].after_seq < 1000);
	assert_int_equal(access(want, R_OK), 0);
	assert_non_null(job_find(good));
	assert_true(job_find(good)->held); /* the record after it was replayed */
	/* The skipped record may have been an array of the most tasks there are. */
	uint32_t next = ctld.next_job_id;
	assert_true(next >= good + 1 + ARRAYSPEC_MAX_TASKS);
	assert_true(logged("skipped the journal record after seq"));
	forget();

	/* The new generation holds no such record: the next start is a plain
	 * one, and the ids skipped stay skipped. */
	assert_int_equal(state_recover(false), 0);
	state_skipped(&n);
	assert_int_equal(n, 0);
	assert_true(ctld.next_job_id >= next);
	forget();
	free(journal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_refuses_what_does_not_decode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_recover_past_a_record_that_does_not_decode,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
