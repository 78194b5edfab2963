/* arrayspec_test.c - job array specifications. */
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

static void refuse(const char *s, const char *needle)
{
	uint32_t *v = NULL, max;
	size_t n;
	char err[256] = "";
	assert_int_equal(arrayspec_parse(s, &v, &n, &max, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("'%s': error '%s' lacks '%s'", s, err, needle);
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
	refuse("", "empty");
	refuse("a", "expected an index");
	refuse("5-1", "range end");
	refuse("1-5:0", "step");
	refuse("1-5:", "step");
	refuse("1,", "expected an index");
	refuse(",1", "expected an index");
	refuse("1%0", "at least 1");
	refuse("1%", "at least 1");
	refuse("1-5x", "unexpected");
	refuse("4000001", "expected an index");
	refuse("99999999999999999999", "expected an index");
	refuse("0-200000", "more than");
	refuse("0-60000,0-60000", "more than");
	refuse("-1", "expected an index");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_step_and_limit),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
