/* fuzz_journal.c - the controller's recovery: a state directory read by
 * the real journal reader and replayed by ctld/state.c (state_recover),
 * as pacerctld does at start.
 *
 * A directory that recovers must recover again, after the snapshot and
 * epoch record that recovery wrote, to the same jobs, a later epoch and
 * no lower next job id: what the controller writes it must be able to
 * read, or the restart after next fails.  A directory that is refused is
 * fine (the controller says why and stays down); crashing is not.
 *
 * Input: one flags byte, then the state directory's files as they are on
 * disk, concatenated: a snapshot file ("PACERS1\n", its framed body), if
 * any, then a journal file ("PACERJ1\n", framed records).  Flag bit 0
 * recomputes every CRC-32C before writing the files, so that mutated
 * records reach the decoder instead of stopping at their checksum.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "ctld.h"
#include "fuzz.h"
#include "ctld_setup.h"
#include "job.h"
#include "journal.h"
#include "blob.h"
#include "state.h"

#define MAGIC_LEN 8
#define HDR_LEN   8 /* u32 length, u32 CRC-32C */
#define GEN1      "0000000000000001"

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Make every complete record's CRC right, from OFF on. */
static void fix_crcs(uint8_t *p, size_t size, size_t off)
{
	while (size - off >= HDR_LEN) {
		uint32_t len = get_le32(p + off);
		if (len == 0 || len > size - off - HDR_LEN)
			return;
		put_le32(p + off + 4, crc32c(0, p + off + HDR_LEN, len));
		off += HDR_LEN + len;
	}
}

/* A fresh state directory holding FILE (NAME.GEN1) = BUF, if BUF. */
static void write_state(const char *name, const uint8_t *buf, size_t len)
{
	char path[4096];

	if (!buf)
		return;
	snprintf(path, sizeof(path), "%s/%s.%s", fuzz_ctld_state_dir(), name, GEN1);
	fuzz_write_file(path, buf, len);
}

static void fresh_state_dir(void)
{
	fuzz_rmtree(fuzz_ctld_state_dir());
	FUZZ_CHECK(mkdir(fuzz_ctld_state_dir(), 0700) == 0, "mkdir: %s", strerror(errno));
}

/* What a recovery left, to compare with the next. */
struct table {
	uint64_t epoch;
	uint32_t next_job_id;
	size_t n;
	struct row {
		uint32_t id, array_job_id, array_task_id;
		uint8_t state;
		bool held, final_and_old;
		char reason[64];
	} * v;
};

static void table_take(struct table *t)
{
	int64_t cutoff = ctld_now() - (int64_t)ctld.conf->min_job_age;

	t->epoch = ctld.epoch;
	t->next_job_id = ctld.next_job_id;
	t->n = job_count();
	t->v = calloc(t->n ? t->n : 1, sizeof(*t->v));
	FUZZ_CHECK(t->v != NULL, "out of memory");
	size_t i = 0;
	for (struct job *j = job_first(); j; j = j->next, i++) {
		t->v[i] = (struct row){ .id = j->id,
					.array_job_id = j->array_job_id,
					.array_task_id = j->array_task_id,
					.state = j->state,
					.held = j->held,
					.final_and_old = job_state_final(j->state) &&
							 j->end_time <= cutoff + 5 };
		snprintf(t->v[i].reason, sizeof(t->v[i].reason), "%s",
			 j->reason ? (const char *)j->reason->data : "");
	}
	FUZZ_CHECK(i == t->n, "job_count says %zu, the list holds %zu", t->n, i);
}

/* A recovery as pacerctld starts: nodes, then state; 0 or -1. */
static int recover(void)
{
	ctld.epoch = 0;
	ctld.next_job_id = 0;
	fuzz_ctld_nodes_up();
	return state_recover(false);
}

static void stop(void)
{
	state_shutdown();
	fuzz_ctld_nodes_down();
	job_table_destroy();
}

/* state.c keeps the last sequence number it applied between recoveries
 * (a daemon recovers once); a snapshot resets it, so a journal-only input
 * is replayed after recovering a directory holding just an empty one. */
static void reset_sequence(void)
{
	Pacer__Snapshot s = PACER__SNAPSHOT__INIT;
	size_t len = pacer__snapshot__get_packed_size(&s);
	uint8_t *file = malloc(MAGIC_LEN + HDR_LEN + len + 1);

	FUZZ_CHECK(file != NULL, "out of memory");
	memcpy(file, "PACERS1\n", MAGIC_LEN);
	pacer__snapshot__pack(&s, file + MAGIC_LEN + HDR_LEN);
	put_le32(file + MAGIC_LEN, (uint32_t)len);
	put_le32(file + MAGIC_LEN + 4, crc32c(0, file + MAGIC_LEN + HDR_LEN, len));
	fresh_state_dir();
	write_state("snapshot", file, MAGIC_LEN + HDR_LEN + len);
	FUZZ_CHECK(recover() == 0, "an empty snapshot does not recover");
	stop();
	free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_ctld_init();
	bool fix = data[0] & 1;
	size_t rest = size - 1;
	uint8_t *files = malloc(rest ? rest : 1);
	FUZZ_CHECK(files != NULL, "out of memory");
	memcpy(files, data + 1, rest);

	/* Split into the snapshot file (as long as its header says) and the
	 * journal file. */
	size_t snaplen = 0;
	if (rest >= MAGIC_LEN + HDR_LEN && memcmp(files, "PACERS1\n", MAGIC_LEN) == 0) {
		uint64_t want = (uint64_t)MAGIC_LEN + HDR_LEN + get_le32(files + MAGIC_LEN);
		snaplen = want < rest ? (size_t)want : rest;
		if (fix && want <= rest)
			put_le32(files + MAGIC_LEN + 4, crc32c(0, files + MAGIC_LEN + HDR_LEN,
							       snaplen - MAGIC_LEN - HDR_LEN));
	}
	uint8_t *journal = files + snaplen;
	size_t jlen = rest - snaplen;
	if (fix && jlen >= MAGIC_LEN && memcmp(journal, "PACERJ1\n", MAGIC_LEN) == 0)
		fix_crcs(journal, jlen, MAGIC_LEN);

	if (!snaplen)
		reset_sequence();
	fresh_state_dir();
	write_state("snapshot", snaplen ? files : NULL, snaplen);
	write_state("journal", jlen || !snaplen ? journal : NULL, jlen);

	struct table first = { 0 }, second = { 0 };
	if (recover() < 0) {
		FUZZ_CHECK(errno != 0, "recovery refused without an errno");
		stop();
		free(files);
		return 0;
	}
	table_take(&first);
	stop();

	FUZZ_CHECK(recover() == 0,
		   "the state the controller wrote after recovering does not recover: %s",
		   strerror(errno));
	table_take(&second);
	stop();
	FUZZ_CHECK(second.epoch > first.epoch, "epoch %llu after %llu",
		   (unsigned long long)second.epoch, (unsigned long long)first.epoch);
	FUZZ_CHECK(second.next_job_id >= first.next_job_id, "next job id %u after %u",
		   second.next_job_id, first.next_job_id);
	size_t k = 0;
	for (size_t i = 0; i < first.n; i++) {
		const struct row *a = &first.v[i];
		if (k < second.n && second.v[k].id == a->id) {
			const struct row *b = &second.v[k++];
			FUZZ_CHECK(a->state == b->state && a->held == b->held &&
				       a->array_job_id == b->array_job_id &&
				       a->array_task_id == b->array_task_id,
				   "job %u changed across a restart: state %u held %d (%s), then "
				   "state %u held %d (%s)",
				   a->id, a->state, a->held, a->reason, b->state, b->held,
				   b->reason);
		} else {
			FUZZ_CHECK(a->final_and_old, "job %u lost across a restart", a->id);
		}
	}
	FUZZ_CHECK(k == second.n, "%zu jobs appeared across a restart", second.n - k);
	free(first.v);
	free(second.v);
	free(files);
	return 0;
}
