/* cpulist_test.c - index sets and their "0-3,8" form. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cpulist.h"

/* S parsed and written back. */
static void expect_round_trip(const char *s, const char *want, size_t count)
{
	struct cpulist l = { 0 };
	char buf[256];

	assert_int_equal(cpulist_add_string(&l, s), 0);
	assert_int_equal(cpulist_format(&l, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(cpulist_count(&l), count);
	cpulist_free(&l);
}

static void test_parse_format(void **state)
{
	(void)state;
	expect_round_trip("", "", 0);
	expect_round_trip("0", "0", 1);
	expect_round_trip("0-3,8", "0-3,8", 5);
	/* Sorted, merged, duplicates folded. */
	expect_round_trip("8,0,1,2,3,2", "0-3,8", 5);
	expect_round_trip("63,64", "63-64", 2);
	expect_round_trip("0-1,96-97,2-3", "0-3,96-97", 6);
	expect_round_trip("5-5", "5", 1);
	expect_round_trip("1048575", "1048575", 1);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = { "-",  "3-1", "1,,2", "1,",    ",1",      "a",
					   "1-", "1 2", "0x1",  "1-2-3", "1048576", "99999999999" };
	struct cpulist l = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(cpulist_add_string(&l, bad[i]), -1);
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(cpulist_add(&l, CPULIST_MAX_INDEX + 1), -1);
	assert_int_equal(errno, EINVAL);
	cpulist_free(&l);
}

static void test_set_ops(void **state)
{
	struct cpulist a = { 0 }, b = { 0 };
	char buf[64];

	(void)state;
	assert_int_equal(cpulist_add_string(&a, "0-7"), 0);
	assert_int_equal(cpulist_add_string(&b, "2-3,100"), 0);
	assert_true(cpulist_has(&a, 7));
	assert_false(cpulist_has(&a, 8));
	assert_false(cpulist_has(&a, 5000));
	cpulist_remove_all(&a, &b);
	cpulist_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "0-1,4-7");
	assert_int_equal(cpulist_add_all(&a, &b), 0);
	cpulist_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "0-7,100");
	assert_int_equal(cpulist_add(&a, 99), 0);
	cpulist_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "0-7,99-100");
	cpulist_clear(&a);
	assert_int_equal(cpulist_count(&a), 0);
	assert_int_equal(cpulist_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	cpulist_free(&a);
	cpulist_free(&b);
}

static void test_truncation(void **state)
{
	struct cpulist l = { 0 };
	char buf[6];

	(void)state;
	assert_int_equal(cpulist_add_string(&l, "0-3,10,20"), 0);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(cpulist_format(&l, buf, sizeof(buf)), 9);
	assert_string_equal(buf, "0-3,1");
	assert_int_equal(cpulist_format(&l, NULL, 0), 9);
	cpulist_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_format),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_set_ops),
		cmocka_unit_test(test_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
