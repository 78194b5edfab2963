/* arrayspec_test.c - job array specifications. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arrayspec.h"

/* Parse S and compare with the indexes written out in WANT ("0 2 4"). */
static void expect(const char *s, const char *want, uint32_t want_max)
{
	uint32_t *v, max;
	size_t n;
	char err[256];
	assert_int_equal(arrayspec_parse(s, &v, &n, &max, err, sizeof(err)), 0);
	char got[4096] = "";
	size_t off = 0;
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%u", i ? " " : "", v[i]);
	assert_string_equal(got, want);
	assert_int_equal(max, want_max);
	free(v);
}

#define HOW "write indexes like 0-99, 1,3,5-7 or 0-99:2%10"

/* S is refused with EINVAL and exactly MSG, and nothing is handed out. */
static void refuse(const char *s, const char *msg)
{
	uint32_t *v = NULL, max;
	size_t n;
	char err[512] = "";

	errno = 0;
	assert_int_equal(arrayspec_parse(s, &v, &n, &max, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err, msg);
	assert_null(v);
}

static void test_forms(void **state)
{
	(void)state;
	expect("0", "0", 0);
	expect("0-4", "0 1 2 3 4", 0);
	expect("0-9:3", "0 3 6 9", 0);
	expect("1,3,5-7", "1 3 5 6 7", 0);
	expect("5-7,1,6", "1 5 6 7", 0);
	expect("2-8:3%1", "2 5 8", 1);
}

static void test_step_and_limit(void **state)
{
	(void)state;
	uint32_t *v, max;
	size_t n;
	char err[256];
	assert_int_equal(arrayspec_parse("0-99:2%10", &v, &n, &max, err, sizeof(err)), 0);
	assert_int_equal(n, 50);
	assert_int_equal(max, 10);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i], 2 * i);
	free(v);
	expect("3-3", "3", 0);
	expect("4000000", "4000000", 0);
}

static void test_refusals(void **state)
{
	(void)state;
	refuse("", "empty value (" HOW ")");
	refuse("9-1", "range '9-1' ends below its start (write it LOW-HIGH, like 0-99)");
	refuse("1,5-2", "range '5-2' ends below its start (write it LOW-HIGH, like 0-99)");
	refuse("0-9:0", "the step after ':' in '0-9:0' must be a whole number of at least 1 (like "
			"0-99:2)");
	refuse("1-5:", "the step after ':' in '1-5:' must be a whole number of at least 1 (like "
		       "0-99:2)");
	refuse("0-9:4294967296", "the step after ':' in '0-9:4294967296' must be a whole number of "
				 "at least 1 (like 0-99:2)");
	refuse("0-9%0", "after % in '0-9%0' give how many tasks may run at once, a whole number of "
			"at least 1 (like 0-99%10)");
	refuse("0-9%",
	       "after % in '0-9%' give how many tasks may run at once, a whole number of at "
	       "least 1 (like 0-99%10)");
	refuse("0-9%2x", "after % in '0-9%2x' give how many tasks may run at once, a whole number "
			 "of at least 1 (like 0-99%10)");
	refuse("1,", "'1,' ends where an index should be (" HOW ")");
	refuse("1-", "'1-' ends where the end of a range should be (" HOW ")");
	refuse("a-b", "expected an index at 'a-b' in 'a-b' (" HOW ")");
	refuse(",1", "expected an index at ',1' in ',1' (" HOW ")");
	refuse("-1", "expected an index at '-1' in '-1' (" HOW ")");
	refuse("1-x", "expected the end of a range at 'x' in '1-x' (" HOW ")");
	refuse("5:2", "unexpected ':2' in '5:2' (" HOW ")");
	refuse("1 2", "unexpected ' 2' in '1 2' (" HOW ")");
	refuse("1-5x", "unexpected 'x' in '1-5x' (" HOW ")");
}

/* The limits: the highest index, and the most tasks (counted before
 * duplicates are dropped, so that the work is bounded by the text). */
static void test_limits(void **state)
{
	char s[64], msg[256];

	(void)state;
	snprintf(s, sizeof(s), "%u", ARRAYSPEC_MAX_INDEX);
	expect(s, s, 0);
	snprintf(s, sizeof(s), "%u", ARRAYSPEC_MAX_INDEX + 1);
	snprintf(msg, sizeof(msg), "index %s in '%s' is too high (indexes go from 0 to %u)", s, s,
		 ARRAYSPEC_MAX_INDEX);
	refuse(s, msg);
	refuse("0-4294967296",
	       "index 4294967296 in '0-4294967296' is too high (indexes go from 0 to 4000000)");
	refuse("99999999999999999999", "index 99999999999999999999 in '99999999999999999999' is "
				       "too high (indexes go from 0 to 4000000)");

	uint32_t *v, max;
	size_t n;
	char err[256];

	snprintf(s, sizeof(s), "1-%u", ARRAYSPEC_MAX_TASKS);
	assert_int_equal(arrayspec_parse(s, &v, &n, &max, err, sizeof(err)), 0);
	assert_int_equal(n, ARRAYSPEC_MAX_TASKS);
	assert_int_equal(v[0], 1);
	assert_int_equal(v[n - 1], ARRAYSPEC_MAX_TASKS);
	free(v);
	snprintf(s, sizeof(s), "0-%u", ARRAYSPEC_MAX_TASKS);
	snprintf(msg, sizeof(msg),
		 "'%s' has more than %u tasks, the most an array may have (split it into several "
		 "arrays)",
		 s, ARRAYSPEC_MAX_TASKS);
	refuse(s, msg);
	refuse("0-60000,0-60000", "'0-60000,0-60000' has more than 100000 tasks, the most an array "
				  "may have (split it into several arrays)");
	/* A step makes a long range short. */
	expect("0-4000000:1000000", "0 1000000 2000000 3000000 4000000", 0);
	expect("0-9:4294967295%4294967295", "0", UINT32_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_step_and_limit),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
