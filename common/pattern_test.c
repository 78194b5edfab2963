/* pattern_test.c - unit tests for pattern.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pattern.h"

static const struct pattern_vars vars = {
	.job_id = 42,
	.job_name = "sim",
	.user = "alice",
	.node = "node01",
};

static void expect_with(const struct pattern_vars *v, const char *pat, const char *want)
{
	char buf[128];

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(pattern_expand(pat, v, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
}

static void expect(const char *pat, const char *want)
{
	expect_with(&vars, pat, want);
}

static void test_fields(void **state)
{
	(void)state;
	expect(PATTERN_DEFAULT_OUTPUT, "pacer-42.out");
	expect("%x-%j.%u.%N", "sim-42.alice.node01");
	expect("%A_%a", "42_4294967294");
	expect("/scratch/%u/%x/%j.log", "/scratch/alice/sim/42.log");
	expect("plain.txt", "plain.txt");
	expect("", "");
	expect("%j%j", "4242");
}

/* A task of an array: %A is the array's id, %a the task's index, %j the
 * task's own id. */
static void test_array(void **state)
{
	struct pattern_vars task = vars;

	(void)state;
	task.job_id = 47;
	task.array_job_id = 42;
	task.array_task_id = 5;
	expect_with(&task, "%x-%A_%a.%j", "sim-42_5.47");
	expect_with(&task, "%3a|%4A", "005|0042");
	/* Index 0 is a real index, not "no array". */
	task.array_task_id = 0;
	expect_with(&task, "%A_%a", "42_0");
	/* Not an array task: Slurm's values. */
	task.array_job_id = 0;
	task.array_task_id = 9;
	expect_with(&task, "%A_%a", "47_4294967294");
}

static void test_padding(void **state)
{
	(void)state;
	expect("%5j", "00042");
	expect("%1j", "42");
	expect("%05j", "00042");
	expect("%10A", "0000000042");
	expect("%99j", "0000000042");
	expect("%999999999999j", "0000000042");
	expect("%5x", "sim");
	expect("%3a", "4294967294");
}

static void test_literal_and_unknown(void **state)
{
	(void)state;
	expect("100%%", "100%");
	expect("%%j", "%j");
	expect("%q", "%q");
	expect("%5q", "%5q");
	expect("%t-%s", "%t-%s");
	expect("end%", "end%");
	expect("end%5", "end%5");
	expect("%", "%");
	expect("%%%j%", "%42%");
}

static void test_missing_values(void **state)
{
	struct pattern_vars empty = { .job_id = 7 };
	char buf[64];

	(void)state;
	assert_int_equal(pattern_expand("%x|%u|%N|%j", &empty, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "|||7");
	assert_int_equal(pattern_expand("%j-%x", NULL, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "0-");
	assert_int_equal(pattern_expand(NULL, &vars, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

static void test_truncation(void **state)
{
	char buf[16];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(pattern_expand("pacer-%j.out", &vars, buf, 6), 12);
	assert_string_equal(buf, "pacer");
	assert_int_equal(pattern_expand("%x-%5j", &vars, buf, 4), 9);
	assert_string_equal(buf, "sim");
	assert_int_equal(pattern_expand("%x-%5j", &vars, buf, 8), 9);
	assert_string_equal(buf, "sim-000");
	assert_int_equal(pattern_expand("pacer-%j.out", &vars, NULL, 0), 12);
	buf[0] = 'x';
	assert_int_equal(pattern_expand("abc", &vars, buf, 1), 3);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),         cmocka_unit_test(test_array),
		cmocka_unit_test(test_padding),        cmocka_unit_test(test_literal_and_unknown),
		cmocka_unit_test(test_missing_values), cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
