/* jobid_test.c - job ids and array tasks, typed and printed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jobid.h"

static char err[512];

static void test_format(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(jobid_format(42, 0, 0, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "42");
	/* A task shows its array's id and its index, not its own id. */
	assert_int_equal(jobid_format(47, 42, 5, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "42_5");
	assert_int_equal(jobid_format(42, 42, 0, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "42_0");
	assert_int_equal(jobid_format(1, UINT32_MAX, UINT32_MAX, buf, 8), 21);
	assert_string_equal(buf, "4294967");
}

/* The tasks of L, each "ARRAY_TASK", joined by blanks. */
static const char *tasks_of(const struct jobid_list *l)
{
	static char buf[4096];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->ntasks; i++) {
		/* task_ptrs must point at tasks, in order. */
		assert_ptr_equal(l->task_ptrs[i], &l->tasks[i]);
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%u_%u", i ? " " : "",
					l->tasks[i].array_job_id, l->tasks[i].task_id);
	}
	return buf;
}

static void test_parse(void **state)
{
	struct jobid_list l = { 0 };

	(void)state;
	assert_int_equal(jobid_parse_list("42", &l, err, sizeof(err)), 0);
	assert_int_equal(jobid_parse_list("7,8,9", &l, err, sizeof(err)), 0);
	assert_int_equal(l.nids, 4);
	assert_int_equal(l.ids[0], 42);
	assert_int_equal(l.ids[1], 7);
	assert_int_equal(l.ids[3], 9);
	assert_int_equal(l.ntasks, 0);
	assert_int_equal(jobid_parse_list("4294967295", &l, err, sizeof(err)), 0);
	assert_int_equal(l.ids[4], UINT32_MAX);

	assert_int_equal(jobid_parse_list("12_3,13", &l, err, sizeof(err)), 0);
	assert_int_equal(jobid_parse_list("20_[1-3,7],21_0", &l, err, sizeof(err)), 0);
	assert_int_equal(jobid_parse_list("30_[5]", &l, err, sizeof(err)), 0);
	assert_int_equal(l.nids, 6);
	assert_int_equal(l.ids[5], 13);
	assert_string_equal(tasks_of(&l), "12_3 20_1 20_2 20_3 20_7 21_0 30_5");
	jobid_list_free(&l);
	assert_null(l.ids);
	assert_int_equal(l.ntasks, 0);
}

static void expect_error(const char *list, int code, const char *msg)
{
	struct jobid_list l = { 0 };

	assert_int_equal(jobid_parse_list(list, &l, err, sizeof(err)), -1);
	assert_int_equal(errno, code);
	assert_string_equal(err, msg);
	jobid_list_free(&l);
}

static void test_parse_errors(void **state)
{
	char msg[256];

	(void)state;
	expect_error("abc", EINVAL, "invalid job id 'abc' (a job id is a whole number like 42)");
	expect_error("5,,6", EINVAL, "invalid job id '' (a job id is a whole number like 42)");
	expect_error("5,0", EINVAL, "invalid job id '0' (a job id is a whole number like 42)");
	expect_error("42.1", EINVAL,
		     "invalid job id '42.1' (steps like 42.0 are taken by pacer cancel only)");
	expect_error("4294967296", EINVAL,
		     "invalid job id '4294967296' (a job id is a whole number like 42)");
	expect_error("", EINVAL, "invalid job id '' (a job id is a whole number like 42)");
	static const char *const bad_tasks[] = {
		"42_",   "_3",    "0_3",     "42_x",     "42_[3-1]",      "42_[]", "42_[1,]",
		"42_[1", "42_1]", "42_[1-]", "42_[[1]]", "42_4294967296", "42_-1",
	};
	for (size_t i = 0; i < sizeof(bad_tasks) / sizeof(bad_tasks[0]); i++) {
		snprintf(msg, sizeof(msg),
			 "invalid array task '%s' (write one task as 42_7, several as "
			 "42_[1-3,5])",
			 bad_tasks[i]);
		expect_error(bad_tasks[i], EINVAL, msg);
	}
	/* The bad item is named, not the whole list. */
	expect_error("1,42_[2,x],3", EINVAL,
		     "invalid array task '42_[2,x]' (write one task as 42_7, several as "
		     "42_[1-3,5])");
}

static void test_too_many(void **state)
{
	struct jobid_list l = { 0 };
	char list[64], msg[256];

	(void)state;
	snprintf(list, sizeof(list), "42_[0-%d]", JOBID_MAX_TASKS - 1);
	assert_int_equal(jobid_parse_list(list, &l, err, sizeof(err)), 0);
	assert_int_equal(l.ntasks, JOBID_MAX_TASKS);
	assert_int_equal(l.tasks[JOBID_MAX_TASKS - 1].task_id, JOBID_MAX_TASKS - 1);
	/* One more, in the same list or the next, is too many. */
	assert_int_equal(jobid_parse_list("43_0", &l, err, sizeof(err)), -1);
	assert_int_equal(errno, E2BIG);
	jobid_list_free(&l);

	snprintf(list, sizeof(list), "42_[0-%d]", JOBID_MAX_TASKS);
	snprintf(msg, sizeof(msg),
		 "'%s' names more than %d array tasks (name a whole array by its id, like 42)",
		 list, JOBID_MAX_TASKS);
	expect_error(list, E2BIG, msg);
	/* A range that would overflow a count is refused the same way, at once. */
	expect_error("1_[0-4294967295]", E2BIG,
		     "'1_[0-4294967295]' names more than 100000 array tasks (name a whole "
		     "array by its id, like 42)");
}

/* pacer cancel's ids: steps as JOB.STEP beside jobs and array tasks. */
static void test_parse_steps(void **state)
{
	struct jobid_list l = { 0 };

	(void)state;
	assert_int_equal(jobid_parse_steps("42.0,43,7_2,42.12", &l, err, sizeof(err)), 0);
	assert_int_equal(l.nsteps, 2);
	assert_int_equal(l.step_ptrs[0]->job_id, 42);
	assert_int_equal(l.step_ptrs[0]->step_id, 0);
	assert_int_equal(l.step_ptrs[1]->job_id, 42);
	assert_int_equal(l.step_ptrs[1]->step_id, 12);
	assert_int_equal(l.nids, 1);
	assert_int_equal(l.ids[0], 43);
	assert_int_equal(l.ntasks, 1);
	jobid_list_free(&l);
	const char *bad[] = { "42.", ".1", "42.x", "42.batch", "7_2.0", "0.1", "42.1.2" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[256];
		assert_int_equal(jobid_parse_steps(bad[i], &l, err, sizeof(err)), -1);
		assert_int_equal(errno, EINVAL);
		snprintf(want, sizeof(want),
			 "invalid step '%s' (a step is JOB.STEP, like 42.0, with the job's own id)",
			 bad[i]);
		assert_string_equal(err, want);
		jobid_list_free(&l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),       cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_parse_steps),
		cmocka_unit_test(test_too_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
