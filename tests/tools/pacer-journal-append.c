/* pacer-journal-append - write into a stopped controller's journal the
 * record an older Pacer wrote for a hostile submit, for integration tests.
 *
 *   pacer-journal-append STATE_DIR FRAME JOB_ID
 *
 * FRAME is a framed Msg holding a submit (4-byte header included, as
 * tests/fuzz/reproducers holds them).  The record is the job_submit that
 * Pacer journaled for it before issue 7 was fixed: the client's JobSpec as
 * protobuf-c unpacked it, unknown fields and all, as job JOB_ID of the user
 * running this.
 *
 * It goes in through common/journal, as the controller's writer puts
 * records: the newest generation's snapshot and records are carried into a
 * new generation, then the record is appended.  The state directory's lock
 * keeps this from running beside a controller.
 *
 * Prints "appended at offset N of FILE" and "decodes: yes|no" (whether
 * protobuf-c can read the record back); exits 0, or 2 when it could not.
 */
#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "journal.h"
#include "log.h"

struct carried {
	uint8_t *snap;
	size_t snap_len;
	uint8_t **recs;
	size_t *lens;
	size_t n;
	uint64_t epoch, seq; /* the highest seen, for the new record */
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("pacer-journal-append: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static uint8_t *copy(const uint8_t *buf, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);
	if (!c)
		die("out of memory");
	memcpy(c, buf, len);
	return c;
}

static int on_snapshot(const uint8_t *buf, size_t len, const struct journal_pos *pos, void *arg)
{
	(void)pos;
	struct carried *c = arg;
	c->snap = copy(buf, len);
	c->snap_len = len;
	Pacer__Snapshot *s = pacer__snapshot__unpack(NULL, len, buf);
	if (s) {
		c->epoch = s->epoch;
		c->seq = s->last_seq;
		pacer__snapshot__free_unpacked(s, NULL);
	}
	return 0;
}

static int on_record(const uint8_t *buf, size_t len, const struct journal_pos *pos, void *arg)
{
	(void)pos;
	struct carried *c = arg;
	c->recs = realloc(c->recs, (c->n + 1) * sizeof(*c->recs));
	c->lens = realloc(c->lens, (c->n + 1) * sizeof(*c->lens));
	if (!c->recs || !c->lens)
		die("out of memory");
	c->recs[c->n] = copy(buf, len);
	c->lens[c->n++] = len;
	Pacer__JournalRecord *r = pacer__journal_record__unpack(NULL, len, buf);
	if (r) {
		if (r->epoch > c->epoch)
			c->epoch = r->epoch;
		if (r->seq > c->seq)
			c->seq = r->seq;
		pacer__journal_record__free_unpacked(r, NULL);
	}
	return 0;
}

/* The submit in FRAME, unpacked as Pacer did before issue 7: by protobuf-c
 * alone. */
static Pacer__Msg *read_submit(const char *file)
{
	FILE *f = fopen(file, "rb");
	if (!f)
		die("cannot open %s: %s", file, strerror(errno));
	uint8_t buf[1 << 16];
	size_t len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	uint32_t body;
	if (len < FRAME_HEADER || frame_length(buf, sizeof(buf), &body) < 0 ||
	    body != len - FRAME_HEADER)
		die("%s is not one whole frame of at most 64 KiB", file);
	Pacer__Msg *m = pacer__msg__unpack(NULL, body, buf + FRAME_HEADER);
	if (!m || m->body_case != PACER__MSG__BODY_SUBMIT || !m->submit->spec)
		die("%s does not hold a submit", file);
	return m;
}

/* Wait until the journal has made every record durable. */
static void wait_durable(struct journal *j, uint64_t want)
{
	uint64_t d;
	while ((d = journal_durable(j)) < want) {
		if (d == (uint64_t)-1)
			die("the journal failed: %s", strerror(errno));
		struct pollfd p = { .fd = journal_fd(j), .events = POLLIN };
		poll(&p, 1, 1000);
	}
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "Usage: pacer-journal-append STATE_DIR FRAME JOB_ID\n");
		return 2;
	}
	const char *dir = argv[1];
	char *end;
	unsigned long id = strtoul(argv[3], &end, 10);
	if (*end || id == 0 || id > UINT32_MAX)
		die("JOB_ID must be a job id, not '%s'", argv[3]);
	Pacer__Msg *m = read_submit(argv[2]);
	struct passwd *pw = getpwuid(getuid());

	log_init("pacer-journal-append", LOG_WARN);
	struct carried c = { 0 };
	struct journal *j;
	if (journal_open(dir, on_snapshot, on_record, &c, &j) < 0)
		die("cannot open the journal in %s: %s", dir, strerror(errno));
	if (!c.snap)
		die("%s has no snapshot: start a controller on it first", dir);
	if (journal_start(j, c.snap, c.snap_len) < 0)
		die("cannot start a generation in %s: %s", dir, strerror(errno));
	uint64_t offset = 8; /* the journal's magic */
	for (size_t i = 0; i < c.n; i++) {
		if (journal_append(j, c.recs[i], c.lens[i]) == 0)
			die("cannot append: %s", strerror(errno));
		offset += 8 + c.lens[i];
	}

	Pacer__Job job = PACER__JOB__INIT;
	job.id = (uint32_t)id;
	job.uid = getuid();
	job.gid = getgid();
	job.user = pw ? pw->pw_name : "nobody";
	job.spec = m->submit->spec; /* as received: what Pacer did before issue 7 */
	job.state = PACER__JOB_STATE__JOB_PENDING;
	job.reason = "Priority";
	job.submit_time = time(NULL);
	job.epoch = c.epoch;
	Pacer__JournalRecord rec = PACER__JOURNAL_RECORD__INIT;
	rec.epoch = c.epoch;
	rec.seq = c.seq + 1;
	rec.time = time(NULL);
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_SUBMIT;
	rec.job_submit = &job;
	size_t len = pacer__journal_record__get_packed_size(&rec);
	uint8_t *buf = malloc(len);
	if (!buf)
		die("out of memory");
	pacer__journal_record__pack(&rec, buf);
	Pacer__JournalRecord *back = pacer__journal_record__unpack(NULL, len, buf);
	uint64_t t = journal_append(j, buf, len);
	if (t == 0)
		die("cannot append: %s", strerror(errno));
	wait_durable(j, t);
	printf("appended at offset %llu of %s/journal.%016llu\n", (unsigned long long)offset, dir,
	       (unsigned long long)journal_generation(j));
	printf("decodes: %s\n", back ? "yes" : "no");
	pacer__journal_record__free_unpacked(back, NULL);
	if (journal_close(j) < 0)
		die("cannot close the journal: %s", strerror(errno));
	free(buf);
	for (size_t i = 0; i < c.n; i++)
		free(c.recs[i]);
	free(c.recs);
	free(c.lens);
	free(c.snap);
	pacer__msg__free_unpacked(m, NULL);
	return 0;
}
