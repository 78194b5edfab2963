/* journal_test.c - recovery, rotation, group commit and failure of journal.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"

#define JOURNAL1 "journal.0000000000000001"

/* Everything journal_open handed back. */
struct loaded {
	int snapshots;
	char snap[256];
	size_t snap_len;
	uint8_t **recs;
	size_t *lens;
	size_t n, cap;
	size_t abort_at; /* on_record fails at this record (1-based), 0 never */
	size_t aside_at; /* on_record sets this record aside (1-based), 0 never */
	size_t seen;     /* records on_record was called with */
	char aside[512]; /* where the record set aside was: FILE@OFFSET */
};

static int on_snapshot(const uint8_t *buf, size_t len, const struct journal_pos *pos, void *arg)
{
	struct loaded *l = arg;

	/* A snapshot's payload follows its 8-byte magic and its frame. */
	assert_int_equal(pos->offset, 8);
	assert_non_null(strstr(pos->file, "/snapshot."));
	l->snapshots++;
	assert_true(len < sizeof(l->snap));
	memcpy(l->snap, buf, len);
	l->snap[len] = '\0';
	l->snap_len = len;
	return 0;
}

static int on_record(const uint8_t *buf, size_t len, const struct journal_pos *pos, void *arg)
{
	struct loaded *l = arg;

	l->seen++;
	if (l->abort_at && l->n + 1 == l->abort_at) {
		errno = ENOTSUP;
		return -1;
	}
	if (l->aside_at && l->seen == l->aside_at) {
		snprintf(l->aside, sizeof(l->aside), "%s@%" PRIu64, pos->file, pos->offset);
		return JOURNAL_SET_ASIDE;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->recs = realloc(l->recs, l->cap * sizeof(*l->recs));
		l->lens = realloc(l->lens, l->cap * sizeof(*l->lens));
		assert_non_null(l->recs);
		assert_non_null(l->lens);
	}
	l->recs[l->n] = malloc(len);
	assert_non_null(l->recs[l->n]);
	memcpy(l->recs[l->n], buf, len);
	l->lens[l->n++] = len;
	return 0;
}

static void loaded_free(struct loaded *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->recs[i]);
	free(l->recs);
	free(l->lens);
	memset(l, 0, sizeof(*l));
}

/* Record I: its number then a pattern, LEN bytes long (at least 8). */
static void make_rec(uint8_t *buf, size_t len, uint64_t i)
{
	memcpy(buf, &i, sizeof(i));
	for (size_t k = sizeof(i); k < len; k++)
		buf[k] = (uint8_t)(i * 31 + k);
}

static size_t rec_len(uint64_t i)
{
	return 8 + (size_t)(i * 7 % 300);
}

static void assert_rec(const struct loaded *l, size_t idx, uint64_t i, size_t len)
{
	uint8_t want[4096];

	assert_true(idx < l->n);
	assert_int_equal(l->lens[idx], len);
	make_rec(want, len, i);
	assert_memory_equal(l->recs[idx], want, len);
}

static uint64_t append_rec(struct journal *j, uint64_t i, size_t len)
{
	uint8_t buf[4096];

	make_rec(buf, len, i);
	return journal_append(j, buf, len);
}

static char *make_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	assert_true(asprintf(&dir, "%s/journal_test.XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		assert_int_equal(unlinkat(dirfd(d), de->d_name, 0), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(dir), 0);
	free(dir);
}

static char *path_of(const char *dir, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static char *gen_path(const char *dir, const char *kind, uint64_t gen)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s.%016" PRIu64, dir, kind, gen) > 0);
	return p;
}

static int exists(const char *dir, const char *name)
{
	char *p = path_of(dir, name);
	int rc = access(p, F_OK) == 0;

	free(p);
	return rc;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static void write_all(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Parse a journal file independently of journal.c: the count of records,
 * and every record checked against make_rec numbered from FIRST. */
static size_t parse_journal_file(const char *path, uint64_t first)
{
	size_t len, off = 8, n = 0;
	uint8_t *buf = read_all(path, &len);

	assert_true(len >= 8);
	assert_memory_equal(buf, "PACERJ1\n", 8);
	while (off < len) {
		uint8_t want[4096];

		assert_true(len - off >= 8);
		uint32_t rl = le32(buf + off);
		assert_true(rl <= len - off - 8);
		assert_int_equal(le32(buf + off + 4), crc32c(0, buf + off + 8, rl));
		make_rec(want, rl, first + n);
		assert_memory_equal(buf + off + 8, want, rl);
		off += 8 + rl;
		n++;
	}
	free(buf);
	return n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait on journal_fd until durability reaches WANT or the journal fails. */
static uint64_t wait_durable(struct journal *j, uint64_t want)
{
	double deadline = now() + 60;
	uint64_t d;

	while ((d = journal_durable(j)) < want) {
		struct pollfd pfd = { .fd = journal_fd(j), .events = POLLIN };
		int left = (int)((deadline - now()) * 1000);

		assert_true(left > 0);
		assert_true(poll(&pfd, 1, left) >= 0);
	}
	return d;
}

static struct journal *open_loaded(const char *dir, struct loaded *l)
{
	struct journal *j = NULL;

	memset(l, 0, sizeof(*l));
	assert_int_equal(journal_open(dir, on_snapshot, on_record, l, &j), 0);
	assert_non_null(j);
	return j;
}

/* A generation with snapshot SNAP and records FIRST..FIRST+N-1, closed. */
static void write_generation(const char *dir, const char *snap, uint64_t first, uint64_t n)
{
	struct loaded l;
	struct journal *j = open_loaded(dir, &l);

	loaded_free(&l);
	assert_int_equal(journal_start(j, snap, strlen(snap)), 0);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(append_rec(j, first + i, rec_len(first + i)), i + 1);
	assert_int_equal(journal_close(j), 0);
}

static void test_crc32c(void **state)
{
	uint8_t buf[32];

	(void)state;
	assert_int_equal(crc32c(0, "", 0), 0);
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x8a9136aau);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc32c(0, buf, sizeof(buf)), 0x46dd794eu);
	/* Continuing from a partial CRC equals one pass, at every split. */
	for (size_t cut = 0; cut <= sizeof(buf); cut++)
		assert_int_equal(crc32c(crc32c(0, buf, cut), buf + cut, sizeof(buf) - cut),
				 0x46dd794eu);
}

static void test_empty_dir(void **state)
{
	char *top = make_dir();
	char *dir = path_of(top, "state");
	struct loaded l;
	struct journal *j;
	struct stat st;

	(void)state;
	j = open_loaded(dir, &l);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(l.snapshots, 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(journal_generation(j), 0);
	assert_int_equal(journal_appended(j), 0);
	assert_int_equal(journal_start(j, "", 0), 0);
	assert_int_equal(journal_generation(j), 1);
	assert_int_equal(journal_close(j), 0);
	assert_true(exists(dir, "snapshot.0000000000000001"));
	assert_true(exists(dir, JOURNAL1));

	j = open_loaded(dir, &l);
	assert_int_equal(l.snapshots, 1);
	assert_int_equal(l.snap_len, 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(journal_generation(j), 1);
	/* Never started: close leaves the directory as it was. */
	assert_int_equal(journal_close(j), 0);
	assert_true(exists(dir, JOURNAL1));
	remove_dir(dir);
	assert_int_equal(rmdir(top), 0);
	free(top);
}

static void test_append_reopen(void **state)
{
	char *dir = make_dir();
	struct loaded l;
	struct journal *j;

	(void)state;
	write_generation(dir, "state-A", 0, 50);
	j = open_loaded(dir, &l);
	assert_int_equal(l.snapshots, 1);
	assert_string_equal(l.snap, "state-A");
	assert_int_equal(l.n, 50);
	for (uint64_t i = 0; i < 50; i++)
		assert_rec(&l, i, i, rec_len(i));
	loaded_free(&l);

	/* A restart: the next generation replaces the first. */
	assert_int_equal(journal_start(j, "state-B", 7), 0);
	assert_int_equal(journal_generation(j), 2);
	assert_false(exists(dir, JOURNAL1));
	assert_false(exists(dir, "snapshot.0000000000000001"));
	assert_int_equal(append_rec(j, 100, 20), 1);
	assert_int_equal(append_rec(j, 101, 30), 2);
	assert_int_equal(journal_appended(j), 2);
	assert_int_equal(journal_close(j), 0);

	j = open_loaded(dir, &l);
	assert_string_equal(l.snap, "state-B");
	assert_int_equal(l.n, 2);
	assert_rec(&l, 0, 100, 20);
	assert_rec(&l, 1, 101, 30);
	loaded_free(&l);
	assert_int_equal(journal_close(j), 0);
	remove_dir(dir);
}

static void test_durable_poll(void **state)
{
	char *dir = make_dir();
	struct loaded l;
	struct journal *j = open_loaded(dir, &l);

	(void)state;
	assert_int_equal(journal_start(j, "s", 1), 0);
	assert_int_equal(journal_durable(j), 0);
	for (uint64_t i = 1; i <= 1000; i++)
		assert_int_equal(append_rec(j, i, 64), i);
	assert_int_equal(wait_durable(j, 1000), 1000);
	assert_int_equal(journal_appended(j), 1000);
	/* Nothing more to sync: the fd goes quiet once drained (after at most
	 * one poke that raced with the last read). */
	struct pollfd pfd = { .fd = journal_fd(j), .events = POLLIN };
	assert_int_equal(journal_durable(j), 1000);
	if (poll(&pfd, 1, 100) == 1)
		assert_int_equal(journal_durable(j), 1000);
	assert_int_equal(poll(&pfd, 1, 100), 0);
	assert_int_equal(journal_close(j), 0);
	remove_dir(dir);
}

static void test_rotate(void **state)
{
	char *dir = make_dir();
	struct loaded l;
	struct journal *j = open_loaded(dir, &l);
	char *old = gen_path(dir, "journal", 1), *new = gen_path(dir, "journal", 2);

	(void)state;
	assert_int_equal(journal_start(j, "snap-1", 6), 0);
	for (uint64_t i = 0; i < 3; i++)
		append_rec(j, i, rec_len(i));
	assert_int_equal(wait_durable(j, 3), 3);
	assert_int_equal(parse_journal_file(old, 0), 3);

	assert_int_equal(journal_rotate(j, "snap-2", 6), 0);
	assert_int_equal(journal_generation(j), 2);
	assert_int_equal(append_rec(j, 3, rec_len(3)), 4);
	assert_int_equal(append_rec(j, 4, rec_len(4)), 5);
	assert_int_equal(journal_close(j), 0);
	assert_false(exists(dir, "journal.0000000000000001"));
	assert_false(exists(dir, "snapshot.0000000000000001"));
	assert_true(exists(dir, "snapshot.0000000000000002"));
	assert_int_equal(parse_journal_file(new, 3), 2);

	j = open_loaded(dir, &l);
	assert_string_equal(l.snap, "snap-2");
	assert_int_equal(l.n, 2);
	assert_rec(&l, 0, 3, rec_len(3));
	assert_rec(&l, 1, 4, rec_len(4));
	loaded_free(&l);
	assert_int_equal(journal_close(j), 0);
	free(old);
	free(new);
	remove_dir(dir);
}

/* Rotations interleaved with a stream of appends, none waited for: each
 * record lands in exactly the generation it was appended to. */
static void test_rotate_stream(void **state)
{
	char *dir = make_dir();
	struct loaded l;
	struct journal *j = open_loaded(dir, &l);
	char snap[32];

	(void)state;
	assert_int_equal(journal_start(j, "0", 1), 0);
	for (uint64_t i = 0; i < 20000; i++) {
		if (i % 5000 == 0 && i > 0) {
			int n = snprintf(snap, sizeof(snap), "%" PRIu64, i);
			assert_int_equal(journal_rotate(j, snap, (size_t)n), 0);
		}
		assert_int_equal(append_rec(j, i, rec_len(i)), i + 1);
	}
	/* Two rotations with nothing between them. */
	assert_int_equal(journal_rotate(j, "20000", 5), 0);
	assert_int_equal(journal_rotate(j, "20000", 5), 0);
	assert_int_equal(append_rec(j, 20000, 16), 20001);
	assert_int_equal(journal_generation(j), 6);
	assert_int_equal(wait_durable(j, 20001), 20001);
	assert_int_equal(journal_close(j), 0);
	for (uint64_t g = 1; g < 6; g++) {
		char *p = gen_path(dir, "journal", g);
		assert_int_equal(access(p, F_OK), -1);
		free(p);
	}

	j = open_loaded(dir, &l);
	assert_string_equal(l.snap, "20000");
	assert_int_equal(l.n, 1);
	assert_rec(&l, 0, 20000, 16);
	loaded_free(&l);
	assert_int_equal(journal_close(j), 0);
	remove_dir(dir);
}

static void test_torn_tail(void **state)
{
	/* Cut 3 bytes off the last record's payload, then leave only 4 bytes
	 * of its header. */
	const size_t keep_hdr = 4;

	(void)state;
	for (int round = 0; round < 2; round++) {
		char *dir = make_dir();
		char *path = gen_path(dir, "journal", 1);
		struct loaded l;
		struct journal *j;
		struct stat st;

		write_generation(dir, "s", 0, 10);
		assert_int_equal(stat(path, &st), 0);
		off_t cut = round == 0 ? 3 : (off_t)(8 + rec_len(9) - keep_hdr);
		assert_int_equal(truncate(path, st.st_size - cut), 0);

		j = open_loaded(dir, &l);
		assert_int_equal(l.n, 9);
		for (uint64_t i = 0; i < 9; i++)
			assert_rec(&l, i, i, rec_len(i));
		loaded_free(&l);
		assert_false(exists(dir, JOURNAL1 ".damaged"));
		assert_true(exists(dir, JOURNAL1));
		assert_int_equal(journal_close(j), 0);
		free(path);
		remove_dir(dir);
	}
}

static void test_crc_middle(void **state)
{
	char *dir = make_dir();
	char *path = gen_path(dir, "journal", 1);
	char *damaged = path_of(dir, JOURNAL1 ".damaged");
	struct loaded l;
	struct journal *j;
	size_t len, dlen, off = 8;
	uint8_t *buf, *dbuf;

	(void)state;
	write_generation(dir, "s", 0, 10);
	buf = read_all(path, &len);
	for (uint64_t i = 0; i < 4; i++)
		off += 8 + rec_len(i);
	buf[off + 8 + 5] ^= 0x40; /* a payload byte of record 4 */
	write_all(path, buf, len);

	j = open_loaded(dir, &l);
	assert_int_equal(l.n, 4);
	for (uint64_t i = 0; i < 4; i++)
		assert_rec(&l, i, i, rec_len(i));
	loaded_free(&l);
	dbuf = read_all(damaged, &dlen);
	assert_int_equal(dlen, len);
	assert_memory_equal(dbuf, buf, len);
	free(dbuf);

	/* The next generation removes the original but keeps the copy. */
	assert_int_equal(journal_start(j, "t", 1), 0);
	assert_int_equal(journal_close(j), 0);
	assert_false(exists(dir, JOURNAL1));
	assert_true(exists(dir, JOURNAL1 ".damaged"));
	j = open_loaded(dir, &l);
	assert_string_equal(l.snap, "t");
	assert_int_equal(l.n, 0);
	assert_int_equal(journal_close(j), 0);
	free(buf);
	free(path);
	free(damaged);
	remove_dir(dir);
}

static void test_garbage_files(void **state)
{
	char *dir = make_dir();
	struct loaded l;
	struct journal *j;
	char *p;

	(void)state;
	write_generation(dir, "s", 0, 2);
	/* Names that are not generations are ignored whatever they hold. */
	const char *strays[] = { "README",
				 "journal.7",
				 "snapshot.x",
				 "journal.00000000000000003",
				 "snapshot.0000000000000009.bak",
				 "journal.-000000000000005" };
	for (size_t i = 0; i < sizeof(strays) / sizeof(strays[0]); i++) {
		p = path_of(dir, strays[i]);
		write_all(p, "garbage", 7);
		free(p);
	}
	/* Journal 2 is garbage, 3 empty, 4 only a header, 5 a cut header. */
	p = gen_path(dir, "journal", 2);
	write_all(p, "this is not a journal at all", 28);
	free(p);
	p = gen_path(dir, "journal", 3);
	write_all(p, "", 0);
	free(p);
	p = gen_path(dir, "journal", 4);
	write_all(p, "PACERJ1\n", 8);
	free(p);
	p = gen_path(dir, "journal", 5);
	write_all(p, "PACE", 4);
	free(p);

	j = open_loaded(dir, &l);
	assert_string_equal(l.snap, "s");
	assert_int_equal(l.n, 2);
	assert_rec(&l, 0, 0, rec_len(0));
	assert_rec(&l, 1, 1, rec_len(1));
	loaded_free(&l);
	assert_int_equal(journal_generation(j), 5);
	assert_true(exists(dir, "journal.0000000000000002.damaged"));
	assert_false(exists(dir, "journal.0000000000000003.damaged"));
	assert_false(exists(dir, "journal.0000000000000004.damaged"));
	assert_false(exists(dir, "journal.0000000000000005.damaged"));
	assert_int_equal(journal_start(j, "u", 1), 0);
	assert_int_equal(journal_generation(j), 6);
	assert_int_equal(journal_close(j), 0);
	assert_true(exists(dir, "README"));
	assert_true(exists(dir, "journal.7"));
	assert_false(exists(dir, "journal.0000000000000002"));
	remove_dir(dir);
}

static void append_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "ab");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* A tail the file system extended but never wrote reads as zeros: a torn
 * write, not damage.  A bad length with data after it is damage. */
static void test_bad_length(void **state)
{
	static const uint8_t zeros[4096];
	static const uint8_t huge[12] = { 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8 };

	(void)state;
	for (int round = 0; round < 2; round++) {
		char *dir = make_dir();
		char *path = gen_path(dir, "journal", 1);
		struct loaded l;
		struct journal *j;

		write_generation(dir, "s", 0, 3);
		if (round == 0)
			append_file(path, zeros, sizeof(zeros));
		else
			append_file(path, huge, sizeof(huge));
		j = open_loaded(dir, &l);
		assert_int_equal(l.n, 3);
		for (uint64_t i = 0; i < 3; i++)
			assert_rec(&l, i, i, rec_len(i));
		loaded_free(&l);
		assert_int_equal(exists(dir, JOURNAL1 ".damaged"), round == 1);
		assert_int_equal(journal_close(j), 0);
		free(path);
		remove_dir(dir);
	}
}

/* A snapshot left half-written as .tmp is never loaded, and goes with
 * the next generation. */
static void test_stale_tmp(void **state)
{
	char *dir = make_dir();
	char *tmp = path_of(dir, "snapshot.0000000000000004.tmp");
	struct loaded l;
	struct journal *j;

	(void)state;
	write_generation(dir, "s", 0, 1);
	write_all(tmp, "PACERS1\n\x05", 9);
	j = open_loaded(dir, &l);
	assert_string_equal(l.snap, "s");
	assert_int_equal(l.n, 1);
	loaded_free(&l);
	assert_int_equal(journal_generation(j), 4);
	assert_int_equal(journal_start(j, "t", 1), 0);
	assert_int_equal(journal_generation(j), 5);
	assert_int_equal(journal_close(j), 0);
	assert_false(exists(dir, "snapshot.0000000000000004.tmp"));
	assert_true(exists(dir, "snapshot.0000000000000005"));

	/* Something that is not a file under a generation's name stops open. */
	char *sub = gen_path(dir, "journal", 6);
	assert_int_equal(mkdir(sub, 0700), 0);
	memset(&l, 0, sizeof(l));
	j = NULL;
	assert_int_equal(journal_open(dir, on_snapshot, on_record, &l, &j), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(j);
	assert_int_equal(rmdir(sub), 0);
	free(sub);
	free(tmp);
	remove_dir(dir);
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	uint8_t *buf = read_all(from, &len);

	write_all(to, buf, len);
	free(buf);
}

static void test_bad_snapshot_fallback(void **state)
{
	char *dir = make_dir();
	char *s1 = gen_path(dir, "snapshot", 1), *j1 = gen_path(dir, "journal", 1);
	char *s2 = gen_path(dir, "snapshot", 2);
	char *s1c = path_of(dir, "s1.copy"), *j1c = path_of(dir, "j1.copy");
	struct loaded l;
	struct journal *j;
	size_t len;
	uint8_t *buf;

	(void)state;
	write_generation(dir, "snap-A", 0, 2);
	copy_file(s1, s1c);
	copy_file(j1, j1c);
	/* Generation 2 starts from the state after records 0 and 1. */
	j = open_loaded(dir, &l);
	loaded_free(&l);
	assert_int_equal(journal_start(j, "snap-B", 6), 0);
	assert_int_equal(append_rec(j, 2, rec_len(2)), 1);
	assert_int_equal(journal_close(j), 0);
	/* Put generation 1 back, then break snapshot 2's CRC. */
	assert_int_equal(rename(s1c, s1), 0);
	assert_int_equal(rename(j1c, j1), 0);
	buf = read_all(s2, &len);
	buf[len - 1] ^= 1;
	write_all(s2, buf, len);
	free(buf);

	j = open_loaded(dir, &l);
	assert_int_equal(l.snapshots, 1);
	assert_string_equal(l.snap, "snap-A");
	assert_int_equal(l.n, 3);
	for (uint64_t i = 0; i < 3; i++)
		assert_rec(&l, i, i, rec_len(i));
	loaded_free(&l);
	assert_true(exists(dir, "snapshot.0000000000000002.damaged"));
	assert_int_equal(journal_close(j), 0);

	/* With no readable snapshot at all, open refuses. */
	assert_int_equal(unlink(s1), 0);
	memset(&l, 0, sizeof(l));
	j = NULL;
	errno = 0;
	assert_int_equal(journal_open(dir, on_snapshot, on_record, &l, &j), -1);
	assert_int_equal(errno, EBADMSG);
	assert_null(j);
	assert_int_equal(l.snapshots, 0);
	assert_int_equal(l.n, 0);

	/* With no snapshot file at all, every journal is replayed. */
	assert_int_equal(unlink(s2), 0);
	j = open_loaded(dir, &l);
	assert_int_equal(l.snapshots, 0);
	assert_int_equal(l.n, 3);
	loaded_free(&l);
	assert_int_equal(journal_close(j), 0);
	free(s1);
	free(j1);
	free(s2);
	free(s1c);
	free(j1c);
	remove_dir(dir);
}

static void test_snapshot_truncated(void **state)
{
	char *dir = make_dir();
	char *s1 = gen_path(dir, "snapshot", 1);
	struct loaded l;
	struct journal *j = NULL;

	(void)state;
	write_generation(dir, "snapshot-body", 0, 1);
	assert_int_equal(truncate(s1, 20), 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(journal_open(dir, on_snapshot, on_record, &l, &j), -1);
	assert_int_equal(errno, EBADMSG);
	assert_true(exists(dir, "snapshot.0000000000000001.damaged"));
	free(s1);
	remove_dir(dir);
}

static void test_callback_abort(void **state)
{
	char *dir = make_dir();
	struct loaded l;
	struct journal *j = NULL;

	(void)state;
	write_generation(dir, "s", 0, 5);
	memset(&l, 0, sizeof(l));
	l.abort_at = 3;
	errno = 0;
	assert_int_equal(journal_open(dir, on_snapshot, on_record, &l, &j), -1);
	assert_int_equal(errno, ENOTSUP);
	assert_null(j);
	assert_int_equal(l.n, 2);
	loaded_free(&l);
	/* Nothing was damaged by the abort. */
	j = open_loaded(dir, &l);
	assert_int_equal(l.n, 5);
	loaded_free(&l);
	assert_int_equal(journal_close(j), 0);
	remove_dir(dir);
}

/* A record the caller sets aside: replay goes on past it, the file is kept
 * as .damaged, the record counted, nothing dropped. */
static void test_set_aside(void **state)
{
	char *dir = make_dir();
	char *path = gen_path(dir, "journal", 1);
	char *damaged = path_of(dir, JOURNAL1 ".damaged");
	char want[600];
	struct loaded l;
	struct journal *j = NULL;
	size_t len, dlen;
	uint64_t off = 8;

	(void)state;
	write_generation(dir, "s", 0, 6);
	for (uint64_t i = 0; i < 2; i++)
		off += 8 + rec_len(i);
	memset(&l, 0, sizeof(l));
	l.aside_at = 3;
	assert_int_equal(journal_open(dir, on_snapshot, on_record, &l, &j), 0);
	assert_int_equal(l.seen, 6);
	assert_int_equal(l.n, 5);
	assert_rec(&l, 0, 0, rec_len(0));
	assert_rec(&l, 1, 1, rec_len(1));
	for (uint64_t i = 3; i < 6; i++)
		assert_rec(&l, i - 1, i, rec_len(i));
	assert_int_equal(journal_set_aside(j), 1);
	assert_int_equal(journal_dropped(j), 0);
	/* The third record: at the offset after two. */
	snprintf(want, sizeof(want), "%s@%" PRIu64, path, off);
	assert_string_equal(l.aside, want);
	uint8_t *buf = read_all(path, &len);
	uint8_t *dbuf = read_all(damaged, &dlen);
	assert_int_equal(dlen, len);
	assert_memory_equal(dbuf, buf, len);
	free(buf);
	free(dbuf);
	loaded_free(&l);

	/* A new generation holds what was replayed; the copy stays. */
	assert_int_equal(journal_start(j, "t", 1), 0);
	assert_int_equal(journal_close(j), 0);
	assert_false(exists(dir, JOURNAL1));
	assert_true(exists(dir, JOURNAL1 ".damaged"));
	j = open_loaded(dir, &l);
	assert_int_equal(journal_set_aside(j), 0);
	loaded_free(&l);
	assert_int_equal(journal_close(j), 0);
	free(path);
	free(damaged);
	remove_dir(dir);
}

static void test_bad_calls(void **state)
{
	char *dir = make_dir();
	char *file = path_of(dir, "plain-file");
	struct loaded l;
	struct journal *j = NULL;
	uint8_t byte = 0;

	(void)state;
	write_all(file, "x", 1);
	errno = 0;
	assert_int_equal(journal_open(file, NULL, NULL, NULL, &j), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_null(j);

	j = open_loaded(dir, &l);
	errno = 0;
	assert_int_equal(journal_append(j, &byte, 1), 0);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(journal_rotate(j, "s", 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(journal_start(j, &byte, (size_t)JOURNAL_RECORD_MAX + 1), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(journal_start(j, "s", 1), 0);
	assert_int_equal(journal_start(j, "s", 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(journal_append(j, &byte, 0), 0);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(journal_append(j, &byte, (size_t)JOURNAL_RECORD_MAX + 1), 0);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(journal_rotate(j, &byte, (size_t)JOURNAL_RECORD_MAX + 1), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(journal_appended(j), 0);
	assert_int_equal(journal_append(j, &byte, 1), 1);
	assert_int_equal(journal_close(j), 0);
	assert_int_equal(journal_close(NULL), 0);
	free(file);
	remove_dir(dir);
}

static void test_group_commit(void **state)
{
	const uint64_t n = 100000;
	const size_t len = 200;
	char *dir = make_dir();
	struct loaded l;
	struct journal *j = open_loaded(dir, &l);
	uint8_t buf[200];

	(void)state;
	assert_int_equal(journal_start(j, "s", 1), 0);
	double t0 = now();
	for (uint64_t i = 0; i < n; i++) {
		make_rec(buf, len, i);
		assert_int_equal(journal_append(j, buf, len), i + 1);
	}
	double t1 = now();
	assert_int_equal(wait_durable(j, n), n);
	double t2 = now();
	print_message("journal: %" PRIu64 " records of %zu bytes appended in %.3f s, durable in "
		      "%.3f s: %.0f records/s\n",
		      n, len, t1 - t0, t2 - t0, (double)n / (t2 - t0));
	assert_int_equal(journal_close(j), 0);

	j = open_loaded(dir, &l);
	assert_int_equal(l.n, n);
	for (uint64_t i = 0; i < n; i++)
		assert_rec(&l, i, i, len);
	loaded_free(&l);
	assert_int_equal(journal_close(j), 0);
	remove_dir(dir);
}

/* A file size limit makes the journal's write fail for real. */
static void test_write_failure(void **state)
{
	const rlim_t limit = 1 << 20;
	const size_t len = 4096;
	char *dir = make_dir();
	struct loaded l;
	struct journal *j = open_loaded(dir, &l);
	struct rlimit old, lim;
	void (*old_handler)(int);
	uint64_t d, last_ok = 0;

	(void)state;
	assert_int_equal(journal_start(j, "s", 1), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	old_handler = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = limit;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

	/* The writer may fail before the last appends: those are refused. */
	for (uint64_t i = 0; i < 512; i++) {
		uint64_t t = append_rec(j, i, len);
		if (t == 0) {
			assert_int_equal(errno, EIO);
			assert_true(i > (limit - 8) / (8 + len));
			break;
		}
		assert_int_equal(t, i + 1);
	}
	double deadline = now() + 60;
	while ((d = journal_durable(j)) != UINT64_MAX) {
		struct pollfd pfd = { .fd = journal_fd(j), .events = POLLIN };

		assert_true(d <= 512);
		assert_true(d >= last_ok);
		last_ok = d;
		assert_true(now() < deadline);
		poll(&pfd, 1, 1000);
	}
	assert_int_equal(errno, EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);
	assert_true(last_ok < 512);

	errno = 0;
	assert_int_equal(journal_append(j, "x", 1), 0);
	assert_int_equal(errno, EIO);
	assert_int_equal(journal_rotate(j, "x", 1), -1);
	assert_int_equal(errno, EIO);
	errno = 0;
	assert_int_equal(journal_close(j), -1);
	assert_int_equal(errno, EFBIG);

	/* The file stops at the limit: every whole record before it replays
	 * and the cut one is dropped as a torn tail. */
	j = open_loaded(dir, &l);
	assert_int_equal(l.n, (limit - 8) / (8 + len));
	assert_true(l.n >= last_ok);
	for (uint64_t i = 0; i < l.n; i++)
		assert_rec(&l, i, i, len);
	loaded_free(&l);
	assert_false(exists(dir, JOURNAL1 ".damaged"));
	assert_int_equal(journal_close(j), 0);
	remove_dir(dir);
}

/* A rotation whose snapshot cannot be written fails the journal and leaves
 * the old generation whole; nothing after the rotation is written. */
static void test_rotate_failure(void **state)
{
	const size_t big = 256 * 1024;
	char *dir = make_dir();
	struct loaded l;
	struct journal *j = open_loaded(dir, &l);
	struct rlimit old, lim;
	void (*old_handler)(int);
	uint8_t *snap = calloc(1, big);
	uint64_t d;

	(void)state;
	assert_non_null(snap);
	assert_int_equal(journal_start(j, "s", 1), 0);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	old_handler = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = big / 2;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (uint64_t i = 0; i < 3; i++)
		assert_int_equal(append_rec(j, i, rec_len(i)), i + 1);
	assert_int_equal(journal_rotate(j, snap, big), 0);
	assert_int_equal(append_rec(j, 3, rec_len(3)), 4);
	double deadline = now() + 60;
	while ((d = journal_durable(j)) != UINT64_MAX) {
		struct pollfd pfd = { .fd = journal_fd(j), .events = POLLIN };

		assert_true(d <= 3);
		assert_true(now() < deadline);
		poll(&pfd, 1, 1000);
	}
	assert_int_equal(errno, EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);
	assert_int_equal(journal_close(j), -1);
	assert_int_equal(errno, EFBIG);
	assert_false(exists(dir, "journal.0000000000000002"));
	assert_false(exists(dir, "snapshot.0000000000000002"));

	j = open_loaded(dir, &l);
	assert_string_equal(l.snap, "s");
	assert_int_equal(l.n, 3);
	for (uint64_t i = 0; i < 3; i++)
		assert_rec(&l, i, i, rec_len(i));
	loaded_free(&l);
	assert_int_equal(journal_close(j), 0);
	free(snap);
	remove_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_empty_dir),
		cmocka_unit_test(test_append_reopen),
		cmocka_unit_test(test_durable_poll),
		cmocka_unit_test(test_rotate),
		cmocka_unit_test(test_rotate_stream),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_crc_middle),
		cmocka_unit_test(test_garbage_files),
		cmocka_unit_test(test_bad_length),
		cmocka_unit_test(test_stale_tmp),
		cmocka_unit_test(test_bad_snapshot_fallback),
		cmocka_unit_test(test_snapshot_truncated),
		cmocka_unit_test(test_callback_abort),
		cmocka_unit_test(test_set_aside),
		cmocka_unit_test(test_bad_calls),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_write_failure),
		cmocka_unit_test(test_rotate_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
