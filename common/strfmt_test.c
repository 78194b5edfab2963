/* strfmt_test.c - bounded string building and error messages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "strfmt.h"

static void test_fail_fills_and_sets_errno(void **state)
{
	char err[64];

	(void)state;
	errno = 0;
	assert_int_equal(strfmt_fail(err, sizeof(err), EINVAL, "bad '%s' at %d", "x", 3), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err, "bad 'x' at 3");

	assert_int_equal(strfmt_fail(err, sizeof(err), ENOMEM, "out of memory"), -1);
	assert_int_equal(errno, ENOMEM);
	assert_string_equal(err, "out of memory");
}

static void test_fail_cuts_to_fit(void **state)
{
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(strfmt_fail(err, 5, ERANGE, "%s", "abcdefgh"), -1);
	assert_int_equal(errno, ERANGE);
	assert_string_equal(err, "abcd");
	/* Nothing past the length given is touched. */
	assert_int_equal(err[5], 'x');
}

static void test_fail_without_buffer(void **state)
{
	char err[4] = "old";

	(void)state;
	errno = 0;
	assert_int_equal(strfmt_fail(NULL, 64, ENOENT, "no %s", "file"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(strfmt_fail(err, 0, EIO, "no %s", "file"), -1);
	assert_int_equal(errno, EIO);
	assert_string_equal(err, "old");
}

static void test_path(void **state)
{
	char buf[8];

	(void)state;
	assert_int_equal(strfmt_path(buf, sizeof(buf), "%s/%s", "ab", "cdef"), 0);
	assert_string_equal(buf, "ab/cdef");
	errno = 0;
	assert_int_equal(strfmt_path(buf, sizeof(buf), "%s/%s", "ab", "cdefg"), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

static void test_put(void **state)
{
	char buf[6];
	struct strfmt o = { buf, sizeof(buf), 0 };

	(void)state;
	strfmt_put(&o, "abc", 3);
	strfmt_put(&o, "defg", 4);
	buf[o.len < o.size ? o.len : o.size - 1] = '\0';
	assert_int_equal(o.len, 7);
	assert_string_equal(buf, "abcde");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_fills_and_sets_errno),
		cmocka_unit_test(test_fail_cuts_to_fit),
		cmocka_unit_test(test_fail_without_buffer),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_put),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
