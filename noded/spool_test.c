/* spool_test.c - the spool log: write, read, remove, load, compaction, the
 * old one-file-per-job format. */
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

static struct spool_rec running_rec(uint32_t id)
{
	struct spool_rec r = {
		.job_id = id, .pid = 4242, .pid_start = 123456789012ULL, .start_time = 1764124801
	};

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

static void read_text(const char *path, char *buf, size_t size)
{
	FILE *fp = fopen(path, "r");
	size_t len;

	assert_non_null(fp);
	len = fread(buf, 1, size - 1, fp);
	buf[len] = '\0';
	fclose(fp);
}

static off_t file_size(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	join(path, sizeof(path), dir, name);
	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* Only NAMES (NULL-terminated) are in DIR. */
static void only_files(const char *dir, const char *const *names)
{
	char cmd[PATH_MAX + 64], got[4096] = "", want[4096] = "";
	FILE *fp;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | sort", dir);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	got[fread(got, 1, sizeof(got) - 1, fp)] = '\0';
	pclose(fp);
	for (; *names; names++) {
		strcat(want, *names);
		strcat(want, "\n");
	}
	if (strcmp(got, want) != 0)
		fail_msg("%s holds:\n%s\nexpected:\n%s", dir, got, want);
}

static void capture_log(struct fixture *f)
{
	assert_true(snprintf(f->log, sizeof(f->log), "%s.log", f->dir) < (int)sizeof(f->log));
	log_init("spool_test", LOG_INFO);
	assert_int_equal(log_open(f->log), 0);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void assert_rec_equal(const struct spool_rec *a, const struct spool_rec *b)
{
	assert_int_equal(a->job_id, b->job_id);
	assert_int_equal(a->ended, b->ended);
	assert_int_equal(a->pid, b->pid);
	assert_true(a->pid_start == b->pid_start);
	assert_string_equal(a->boot_id, b->boot_id);
	assert_true(a->start_time == b->start_time);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->exit_code, b->exit_code);
	assert_int_equal(a->term_signal, b->term_signal);
	assert_true(a->end_time == b->end_time);
	assert_string_equal(a->reason, b->reason);
}

static void test_running_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w = running_rec(42), r;
	char err[512];

	assert_int_equal(spool_write(f->dir, &w), 0);
	/* One log, no per-job file, no temporary. */
	only_files(f->dir, (const char *const[]){ "spool.log", NULL });
	assert_int_equal(spool_read(f->dir, 42, &r, err, sizeof(err)), 0);
	assert_int_equal(r.job_id, 42);
	assert_false(r.ended);
	assert_int_equal(r.pid, 4242);
	assert_true(r.pid_start == 123456789012ULL);
	assert_true(r.start_time == 1764124801);
	assert_string_equal(r.boot_id, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
	assert_rec_equal(&r, &w);
}

static void test_ended_roundtrip_every_byte(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w = ended_rec(7), r;
	char err[512], path[PATH_MAX], text[8192];
	size_t i = 0;

	/* Every byte but NUL, newlines, '%' and spaces (also trailing) included;
	 * the boot id with a space and a '%' too. */
	snprintf(w.reason, sizeof(w.reason), "cannot open /x/o\nas alice: 100%% %%0A\r\n ");
	i = strlen(w.reason);
	for (int c = 1; c < 256 && i + 1 < sizeof(w.reason); c++)
		w.reason[i++] = (char)c;
	w.reason[i] = '\0';
	snprintf(w.boot_id, sizeof(w.boot_id), "a b%%c");
	w.exit_code = -7;
	w.term_signal = 15;
	w.pid_start = UINT64_MAX;
	w.start_time = -5;
	assert_int_equal(spool_write(f->dir, &w), 0);
	assert_int_equal(spool_read(f->dir, 7, &r, err, sizeof(err)), 0);
	assert_rec_equal(&r, &w);
	/* One line in the log for one record. */
	join(path, sizeof(path), f->dir, "spool.log");
	read_text(path, text, sizeof(text));
	assert_int_equal(count(text, "\n"), 1);
	assert_int_equal(strncmp(text, "pacer-spool 2 ", 14), 0);
}

static void test_later_replaces_earlier(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w = running_rec(7), r;
	char err[512];

	assert_int_equal(spool_write(f->dir, &w), 0);
	w = ended_rec(7);
	assert_int_equal(spool_write(f->dir, &w), 0);
	assert_int_equal(spool_read(f->dir, 7, &r, err, sizeof(err)), 0);
	assert_rec_equal(&r, &w);
	assert_string_equal(r.reason, "cannot open output file /x/o\nas alice");
	/* And back (a job's record rewritten with other values). */
	w = running_rec(7);
	w.pid = 99;
	assert_int_equal(spool_write(f->dir, &w), 0);
	assert_int_equal(spool_read(f->dir, 7, &r, err, sizeof(err)), 0);
	assert_false(r.ended);
	assert_int_equal(r.pid, 99);
	assert_string_equal(r.reason, "");
}

static void test_every_end_state(void **state)
{
	struct fixture *f = *state;
	static const int states[] = { PACER__JOB_STATE__JOB_COMPLETED, PACER__JOB_STATE__JOB_FAILED,
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
	struct spool_rec w = ended_rec(5), r, *recs = NULL;
	char err[512];
	size_t n = 99;

	/* Removing with no log at all: nothing to do, and no file made. */
	assert_int_equal(spool_remove(f->dir, 5), 0);
	only_files(f->dir, (const char *const[]){ NULL });
	assert_int_equal(spool_write(f->dir, &w), 0);
	w = ended_rec(6);
	assert_int_equal(spool_write(f->dir, &w), 0);
	assert_int_equal(spool_remove(f->dir, 5), 0);
	assert_int_equal(spool_read(f->dir, 5, &r, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "no record of job 5"));
	assert_int_equal(spool_read(f->dir, 6, &r, err, sizeof(err)), 0);
	/* Removing what is not there is not an error. */
	assert_int_equal(spool_remove(f->dir, 5), 0);
	assert_int_equal(spool_remove(f->dir, 12345), 0);
	/* A record after a remove brings the job back. */
	w = running_rec(5);
	assert_int_equal(spool_write(f->dir, &w), 0);
	assert_int_equal(spool_read(f->dir, 5, &r, err, sizeof(err)), 0);
	assert_false(r.ended);
	assert_int_equal(spool_remove(f->dir, 5), 0);
	assert_int_equal(spool_load(f->dir, &recs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(recs[0].job_id, 6);
	free(recs);
}

static void test_load_sorted_and_compacted(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w, *recs = NULL;
	char path[PATH_MAX], text[8192];
	uint32_t ids[] = { 30, 4, 100, 2, 77 };
	size_t n = 99;

	for (size_t i = 0; i < 5; i++) {
		w = running_rec(ids[i]);
		assert_int_equal(spool_write(f->dir, &w), 0);
	}
	w = ended_rec(30);
	assert_int_equal(spool_write(f->dir, &w), 0);
	w = ended_rec(100);
	w.state = PACER__JOB_STATE__JOB_COMPLETED;
	assert_int_equal(spool_write(f->dir, &w), 0);
	assert_int_equal(spool_remove(f->dir, 2), 0);
	assert_int_equal(spool_remove(f->dir, 77), 0);
	put_file(f->dir, "job.30.script", "#!/bin/sh\n");
	put_file(f->dir, "spool.log.tmp", "half a compaction");
	join(path, sizeof(path), f->dir, "spool.log");
	read_text(path, text, sizeof(text));
	assert_int_equal(count(text, "\n"), 9);

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

	/* Exactly the live records are left, one line each, sorted; no
	 * temporary; the script (launch.c's) is not touched. */
	only_files(f->dir, (const char *const[]){ "job.30.script", "spool.log", NULL });
	read_text(path, text, sizeof(text));
	assert_int_equal(count(text, "\n"), 3);
	assert_int_equal(count(text, "pacer-spool 2 job="), 3);
	assert_true(strstr(text, "job=4 ") < strstr(text, "job=30 "));
	assert_true(strstr(text, "job=30 ") < strstr(text, "job=100 "));
	assert_null(strstr(text, "remove"));

	/* Loading again gives the same. */
	assert_int_equal(spool_load(f->dir, &recs, &n), 0);
	assert_int_equal(n, 3);
	free(recs);
}

static void test_load_skips_bad_lines(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w, r, *recs = NULL;
	char path[PATH_MAX], logtext[8192], text[8192], err[512];
	size_t n = 99;
	FILE *fp;

	capture_log(f);
	w = running_rec(1);
	assert_int_equal(spool_write(f->dir, &w), 0); /* line 1 */
	join(path, sizeof(path), f->dir, "spool.log");
	fp = fopen(path, "a");
	assert_non_null(fp);
	fputs("\x01\x02garbage\xff\n", fp);                            /* line 2 */
	fputs("pacer-spool 2 job=3 status=running colour=blue\n", fp); /* line 3 */
	fclose(fp);
	w = ended_rec(2);
	assert_int_equal(spool_write(f->dir, &w), 0); /* line 4 */
	fp = fopen(path, "a");
	assert_non_null(fp);
	/* An append cut short: the last line without its newline. */
	fputs("pacer-spool 2 job=1 status=ended pid=4242 pid_start=1 boot_id=x start_t", fp);
	fclose(fp); /* line 5 */

	/* Read skips them too. */
	assert_int_equal(spool_read(f->dir, 1, &r, err, sizeof(err)), 0);
	assert_false(r.ended);

	assert_int_equal(spool_load(f->dir, &recs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(recs[0].job_id, 1);
	assert_false(recs[0].ended);
	assert_int_equal(recs[1].job_id, 2);
	assert_true(recs[1].ended);
	w = ended_rec(2);
	assert_rec_equal(&recs[1], &w);
	free(recs);

	/* One warning per bad line (the read above and the load each saw them),
	 * naming the file and line. */
	read_text(f->log, logtext, sizeof(logtext));
	snprintf(text, sizeof(text), "%s:2:", path);
	assert_int_equal(count(logtext, text), 2);
	snprintf(text, sizeof(text), "%s:3: unknown key 'colour'", path);
	assert_int_equal(count(logtext, text), 2);
	snprintf(text, sizeof(text), "%s:5:", path);
	if (count(logtext, text) != 2 || count(logtext, "cut short") != 2)
		fail_msg("expected two warnings about the cut line 5; the log holds: %s", logtext);
	snprintf(text, sizeof(text), "%s:1:", path);
	assert_int_equal(count(logtext, text), 0);
	snprintf(text, sizeof(text), "%s:4:", path);
	assert_int_equal(count(logtext, text), 0);

	/* Compacted: the bad lines are gone. */
	read_text(path, text, sizeof(text));
	assert_int_equal(count(text, "\n"), 2);
	assert_null(strstr(text, "garbage"));
}

static void test_bad_lines(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"hello world",
		"pacer-spool 1 job=1 status=running pid=1 pid_start=1 boot_id=x start_time=1",
		"pacer-spool 2 job=1 status=sleeping pid=1 pid_start=1 boot_id=x start_time=1",
		"pacer-spool 2 job=1 status=running pid=1 pid_start=1 boot_id=x",
		"pacer-spool 2 job=1 status=ended pid=1 pid_start=1 boot_id=x start_time=1",
		"pacer-spool 2 job=1 status=ended pid=1 pid_start=1 boot_id=x start_time=1 "
		"state=WEIRD exit_code=0 term_signal=0 end_time=1 reason=",
		"pacer-spool 2 job=1 status=running pid=1 pid_start=1 boot_id=x start_time=1 "
		"exit_code=0",
		"pacer-spool 2 job=1 status=running pid=12x pid_start=1 boot_id=x start_time=1",
		"pacer-spool 2 job=1 job=1 status=running pid=1 pid_start=1 boot_id=x start_time=1",
		"pacer-spool 2 job=1 status=running pid=1 pid_start=1 boot_id=%zz start_time=1",
		"pacer-spool 2 job=1 status=running pid=1 pid_start=1 boot_id=%00 start_time=1",
		"pacer-spool 2 job=1 status=running nokey pid=1 pid_start=1 boot_id=x start_time=1",
		"pacer-spool 2 remove job=x",
		"pacer-spool 2",
	};
	struct spool_rec r;
	char path[PATH_MAX], err[512], logtext[16384], want[PATH_MAX + 32];

	capture_log(f);
	join(path, sizeof(path), f->dir, "spool.log");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[1024];
		snprintf(text, sizeof(text), "%s\n", bad[i]);
		put_file(f->dir, "spool.log", text);
		assert_int_equal(spool_read(f->dir, 1, &r, err, sizeof(err)), -1);
		assert_int_equal(errno, ENOENT);
	}
	read_text(f->log, logtext, sizeof(logtext));
	snprintf(want, sizeof(want), "ignoring %s:1:", path);
	if (count(logtext, want) != (int)(sizeof(bad) / sizeof(bad[0])))
		fail_msg("expected one warning per bad line; the log holds: %s", logtext);
}

static void test_growth_compacts(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w = ended_rec(1), r, *recs = NULL;
	char err[512];
	off_t size, max = 0;
	size_t n;
	int i;

	w = running_rec(1);
	assert_int_equal(spool_write(f->dir, &w), 0);
	/* Job 2 ends and is acknowledged over and over: the log only grows
	 * until it passes 1 MiB, then it holds only the live records. */
	for (i = 0; i < 20000; i++) {
		struct spool_rec e = ended_rec(2);
		e.exit_code = i;
		assert_int_equal(spool_write(f->dir, &e), 0);
		size = file_size(f->dir, "spool.log");
		if (size < max)
			break;
		max = size;
	}
	if (i == 20000)
		fail_msg("the log grew to %lld bytes without being compacted", (long long)max);
	/* The append that took it past 1 MiB compacted it. */
	assert_true(max > 1024 * 1024 - 4096);
	assert_true(max <= 1024 * 1024);
	assert_true(size < 4096);
	only_files(f->dir, (const char *const[]){ "spool.log", NULL });
	assert_int_equal(spool_read(f->dir, 1, &r, err, sizeof(err)), 0);
	assert_rec_equal(&r, &w);
	assert_int_equal(spool_read(f->dir, 2, &r, err, sizeof(err)), 0);
	assert_int_equal(r.exit_code, i);
	assert_int_equal(spool_load(f->dir, &recs, &n), 0);
	assert_int_equal(n, 2);
	free(recs);

	/* Removes count as growth too. */
	max = file_size(f->dir, "spool.log");
	for (i = 0; i < 40000; i++) {
		assert_int_equal(spool_remove(f->dir, 2), 0);
		size = file_size(f->dir, "spool.log");
		if (size < max)
			break;
		max = size;
	}
	assert_true(i < 40000);
	assert_int_equal(spool_load(f->dir, &recs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(recs[0].job_id, 1);
	free(recs);
}

static void test_old_files_folded_in(void **state)
{
	struct fixture *f = *state;
	struct spool_rec w, *recs = NULL;
	char logtext[4096];
	size_t n = 99;

	capture_log(f);
	/* Files written by the previous (one file per job) format. */
	put_file(f->dir, "job-4.state",
		 "pacer-spool 1\njob 4\nstatus running\npid 1234\npid_start 98765\n"
		 "boot_id 0f1e\nstart_time 1764124801\nend\n");
	put_file(f->dir, "job-30.state",
		 "pacer-spool 1\njob 30\nstatus ended\npid 1234\npid_start 98765\n"
		 "boot_id 0f1e\nstart_time 1764124801\nstate FAILED\nexit_code 3\n"
		 "term_signal 0\nend_time 1764124901\nreason no space left\nend\n");
	/* Job 50 also has a newer record in the log: the log wins. */
	put_file(f->dir, "job-50.state",
		 "pacer-spool 1\njob 50\nstatus running\npid 5\npid_start 5\n"
		 "boot_id 0f1e\nstart_time 1\nend\n");
	w = ended_rec(50);
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
	assert_int_equal(recs[0].pid, 1234);
	assert_true(recs[0].pid_start == 98765);
	assert_string_equal(recs[0].boot_id, "0f1e");
	assert_true(recs[0].start_time == 1764124801);
	assert_int_equal(recs[1].job_id, 30);
	assert_true(recs[1].ended);
	assert_int_equal(recs[1].state, PACER__JOB_STATE__JOB_FAILED);
	assert_int_equal(recs[1].exit_code, 3);
	assert_true(recs[1].end_time == 1764124901);
	assert_string_equal(recs[1].reason, "no space left");
	assert_rec_equal(&recs[2], &w);
	free(recs);

	/* Folded into the log and deleted; the corrupt one is left for an
	 * admin; the stale temporary is gone; other files are not touched. */
	only_files(f->dir, (const char *const[]){ "job-007.state", "job-8.state", "job-x.state",
						  "job.30.script", "spool.log", NULL });
	assert_int_equal(spool_load(f->dir, &recs, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(recs[0].job_id, 4);
	assert_int_equal(recs[1].job_id, 30);
	assert_string_equal(recs[1].reason, "no space left");
	assert_int_equal(recs[2].job_id, 50);
	free(recs);

	read_text(f->log, logtext, sizeof(logtext));
	if (!strstr(logtext, "ignoring spool record") || !strstr(logtext, "job-8.state"))
		fail_msg("no log line about job-8.state; the log holds: %s", logtext);
	if (strstr(logtext, "job-x.state") || strstr(logtext, "job-007.state"))
		fail_msg("files not named like records were logged: %s", logtext);
}

static void test_load_empty_and_missing(void **state)
{
	struct fixture *f = *state;
	struct spool_rec *recs = (void *)1, w = running_rec(3);
	char missing[PATH_MAX];
	size_t n = 5;

	assert_int_equal(spool_load(f->dir, &recs, &n), 0);
	assert_int_equal(n, 0);
	free(recs);
	join(missing, sizeof(missing), f->dir, "nope");
	assert_int_equal(spool_load(missing, &recs, &n), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(spool_write(missing, &w), -1);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_running_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ended_roundtrip_every_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_later_replaces_earlier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_end_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_sorted_and_compacted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_skips_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_compacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_files_folded_in, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_empty_and_missing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
