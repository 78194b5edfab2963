/* spool_test.c - per-job spool records: write, read, delete, load. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pacer.pb-c.h"
#include "spool.h"

struct fixture {
	char dir[PATH_MAX];
	char log[PATH_MAX];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/spool_test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_rf(f->dir);
	if (f->log[0])
		unlink(f->log);
	free(f);
	return 0;
}

static void join(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < size);
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	join(path, sizeof(path), dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static bool exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	join(path, sizeof(path), dir, name);
	return access(path, F_OK) == 0;
}

static struct spool_rec running_rec(uint32_t id)
{
	struct spool_rec r = { .job_id = id, .pid = 4242, .pid_start = 123456789012ULL,
			       .start_time = 1764124801 };

	snprintf(r.boot_id, sizeof(r.boot_id), "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
	return r;
}

static struct spool_rec ended_rec(uint32_t id)
{
	struct spool_rec r = running_rec(id);

	r.ended = true;
	r.state = PACER__JOB_STATE__JOB_FAILED;
	r.exit_code = 3;
	r.term_signal = 0;
	r.end_time = 1764124901;
	snprintf(r.reason, sizeof(r.reason), "cannot open output file /x/o\nas alice");
	return r;
}

static void test_running_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w = running_rec(42), r;
	char err[512];

	assert_int_equal(spool_write(f->dir, &w), 0);
	assert_true(exists(f->dir, "job-42.state"));
	assert_false(exists(f->dir, "job-42.state.tmp"));
	assert_int_equal(spool_read(f->dir, 42, &r, err, sizeof(err)), 0);
	assert_int_equal(r.job_id, 42);
	assert_false(r.ended);
	assert_int_equal(r.pid, 4242);
	assert_true(r.pid_start == 123456789012ULL);
	assert_true(r.start_time == 1764124801);
	assert_string_equal(r.boot_id, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
}

static void test_ended_replaces_running(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w = running_rec(7), r;
	char err[512];

	assert_int_equal(spool_write(f->dir, &w), 0);
	w = ended_rec(7);
	assert_int_equal(spool_write(f->dir, &w), 0);
	assert_int_equal(spool_read(f->dir, 7, &r, err, sizeof(err)), 0);
	assert_true(r.ended);
	assert_int_equal(r.state, PACER__JOB_STATE__JOB_FAILED);
	assert_int_equal(r.exit_code, 3);
	assert_int_equal(r.term_signal, 0);
	assert_true(r.end_time == 1764124901);
	/* A newline in the reason must not end the record early. */
	assert_string_equal(r.reason, "cannot open output file /x/o as alice");
}

static void test_every_end_state(void **state)
{
	struct fixture *f = *state;
	static const int states[] = { PACER__JOB_STATE__JOB_COMPLETED,
				      PACER__JOB_STATE__JOB_FAILED,
				      PACER__JOB_STATE__JOB_CANCELLED,
				      PACER__JOB_STATE__JOB_TIMEOUT,
				      PACER__JOB_STATE__JOB_NODE_FAIL };
	struct spool_rec w = ended_rec(9), r;
	char err[512];

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		w.state = states[i];
		w.exit_code = -1;
		w.term_signal = 9;
		w.reason[0] = '\0';
		assert_int_equal(spool_write(f->dir, &w), 0);
		assert_int_equal(spool_read(f->dir, 9, &r, err, sizeof(err)), 0);
		assert_int_equal(r.state, states[i]);
		assert_int_equal(r.exit_code, -1);
		assert_int_equal(r.term_signal, 9);
		assert_string_equal(r.reason, "");
	}
	/* Not a state a record can hold. */
	w.state = 99;
	assert_int_equal(spool_write(f->dir, &w), -1);
	assert_int_equal(errno, EINVAL);
}

static void test_remove(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w = ended_rec(5), r;
	char err[512];

	assert_int_equal(spool_write(f->dir, &w), 0);
	assert_int_equal(spool_remove(f->dir, 5), 0);
	assert_false(exists(f->dir, "job-5.state"));
	assert_int_equal(spool_read(f->dir, 5, &r, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	/* Removing what is not there is not an error. */
	assert_int_equal(spool_remove(f->dir, 5), 0);
}

static void expect_bad(const char *dir, uint32_t id, const char *text, const char *what)
{
	char name[64], err[512];
	struct spool_rec r;

	snprintf(name, sizeof(name), "job-%u.state", id);
	put_file(dir, name, text);
	assert_int_equal(spool_read(dir, id, &r, err, sizeof(err)), -1);
	assert_int_equal(errno, EBADMSG);
	if (!strstr(err, what) || !strstr(err, name))
		fail_msg("error for %s was '%s', expected it to name the file and say '%s'",
			 name, err, what);
}

static void test_bad_records(void **state)
{
	struct fixture *f = *state;

	expect_bad(f->dir, 1, "hello world\n", "not a pacer spool record");
	expect_bad(f->dir, 2, "pacer-spool 1\njob 2\nstatus running\npid 12\n",
		   "record cut short");
	expect_bad(f->dir, 3, "pacer-spool 1\njob 3\nstatus sleeping\nend\n",
		   "status 'sleeping' is neither running nor ended");
	expect_bad(f->dir, 4, "pacer-spool 1\njob 4\nstatus ended\nend\n",
		   "an ended job without its state");
	expect_bad(f->dir, 5, "pacer-spool 1\njob 5\nstatus ended\nstate WEIRD\nend\n",
		   "unknown job state 'WEIRD'");
	expect_bad(f->dir, 6, "pacer-spool 1\njob 6\npid 12x\nend\n", "pid '12x' is not a number");
	expect_bad(f->dir, 7, "pacer-spool 1\njob 8\nstatus running\nend\n",
		   "holds job 8, not job 7");
	expect_bad(f->dir, 10, "pacer-spool 1\njob 10\ncolour blue\nend\n", "unknown key 'colour'");
	expect_bad(f->dir, 11, "pacer-spool 1\njob 11\nend\nmore\n", "after the closing 'end'");
	expect_bad(f->dir, 12, "pacer-spool 1\nstatus running\nend\n", "no job id");
	expect_bad(f->dir, 13, "pacer-spool 1\njob 13\nnokey\nend\n", "is not 'key value'");
	expect_bad(f->dir, 14, "pacer-spool 1\njob 14\nexit_code 99999999999\nend\n",
		   "exit_code '99999999999' is not a number");
}

static void test_load(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w, *recs = NULL;
	char logtext[4096] = "";
	size_t n = 99;
	FILE *fp;

	/* Capture the log to see the line about the corrupt file. */
	assert_true(snprintf(f->log, sizeof(f->log), "%s.log", f->dir) < (int)sizeof(f->log));
	log_init("spool_test", LOG_INFO);
	assert_int_equal(log_open(f->log), 0);

	w = ended_rec(30);
	assert_int_equal(spool_write(f->dir, &w), 0);
	w = running_rec(4);
	assert_int_equal(spool_write(f->dir, &w), 0);
	w = ended_rec(100);
	w.state = PACER__JOB_STATE__JOB_COMPLETED;
	assert_int_equal(spool_write(f->dir, &w), 0);
	put_file(f->dir, "job-8.state", "\x01\x02garbage\xff");
	put_file(f->dir, "job-9.state.tmp", "half a rec");
	put_file(f->dir, "job.30.script", "#!/bin/sh\n");
	put_file(f->dir, "job-x.state", "not ours by name");
	put_file(f->dir, "job-007.state", "not ours by name");

	assert_int_equal(spool_load(f->dir, &recs, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(recs[0].job_id, 4);
	assert_false(recs[0].ended);
	assert_int_equal(recs[1].job_id, 30);
	assert_true(recs[1].ended);
	assert_int_equal(recs[1].state, PACER__JOB_STATE__JOB_FAILED);
	assert_int_equal(recs[2].job_id, 100);
	assert_int_equal(recs[2].state, PACER__JOB_STATE__JOB_COMPLETED);
	free(recs);

	/* The corrupt record is left for an admin; the stale temporary is gone;
	 * other files are not touched. */
	assert_true(exists(f->dir, "job-8.state"));
	assert_false(exists(f->dir, "job-9.state.tmp"));
	assert_true(exists(f->dir, "job.30.script"));
	assert_true(exists(f->dir, "job-x.state"));

	fp = fopen(f->log, "r");
	assert_non_null(fp);
	size_t len = fread(logtext, 1, sizeof(logtext) - 1, fp);
	logtext[len] = '\0';
	fclose(fp);
	if (!strstr(logtext, "ignoring spool record") || !strstr(logtext, "job-8.state"))
		fail_msg("no log line about job-8.state; the log holds: %s", logtext);
	if (strstr(logtext, "job-x.state") || strstr(logtext, "job-007.state"))
		fail_msg("files not named like records were logged: %s", logtext);
}

static void test_load_empty_and_missing(void **state)
{
	struct fixture *f = *state;
	struct spool_rec *recs = (void *)1;
	char missing[PATH_MAX];
	size_t n = 5;

	assert_int_equal(spool_load(f->dir, &recs, &n), 0);
	assert_int_equal(n, 0);
	free(recs);
	join(missing, sizeof(missing), f->dir, "nope");
	assert_int_equal(spool_load(missing, &recs, &n), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_oversized_file(void **state)
{
	struct fixture *f = *state;
	char *big = malloc(20000), err[512];
	struct spool_rec r;

	assert_non_null(big);
	memset(big, 'a', 19999);
	big[19999] = '\0';
	put_file(f->dir, "job-77.state", big);
	free(big);
	assert_int_equal(spool_read(f->dir, 77, &r, err, sizeof(err)), -1);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(strstr(err, "not a spool record"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_running_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ended_replaces_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_end_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_empty_and_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
