/* timefmt_test.c - unit tests for timefmt.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timefmt.h"

#define FORMATS "(formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)"

static void expect_seconds(const char *s, uint32_t want)
{
	uint32_t got = 12345;
	char err[256] = "";

	assert_int_equal(timefmt_parse_duration(s, &got, err, sizeof(err)), 0);
	assert_int_equal(got, want);
	assert_string_equal(err, "");
}

static void expect_fail(const char *s, int errnum, const char *msg)
{
	uint32_t got = 12345;
	char err[256] = "";

	errno = 0;
	assert_int_equal(timefmt_parse_duration(s, &got, err, sizeof(err)), -1);
	assert_int_equal(errno, errnum);
	assert_int_equal(got, 12345);
	assert_string_equal(err, msg);
}

static void test_parse_formats(void **state)
{
	(void)state;
	expect_seconds("0", 0);
	expect_seconds("5", 300);
	expect_seconds("90", 5400);
	expect_seconds("10:30", 630);
	expect_seconds("90:05", 5405);
	expect_seconds("1:5", 65);
	expect_seconds("01:02:03", 3723);
	expect_seconds("30:00:00", 108000);
	expect_seconds("2-0", 172800);
	expect_seconds("1-12", 129600);
	expect_seconds("1-01:30", 91800);
	expect_seconds("1-01:01:01", 90061);
	expect_seconds("0-00:00:59", 59);
	expect_seconds("400-00:00:00", 34560000);
	expect_seconds("49710-06:28:14", 4294967294u);
}

static void test_parse_unlimited(void **state)
{
	(void)state;
	expect_seconds("UNLIMITED", TIMEFMT_UNLIMITED);
	expect_seconds("unlimited", TIMEFMT_UNLIMITED);
	expect_seconds("Infinite", TIMEFMT_UNLIMITED);
	expect_seconds("INFINITE", TIMEFMT_UNLIMITED);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_fail("1:99", EINVAL, "invalid time \"1:99\": seconds must be below 60 " FORMATS);
	expect_fail("1:60:00", EINVAL,
		    "invalid time \"1:60:00\": minutes must be below 60 " FORMATS);
	expect_fail("1-24", EINVAL, "invalid time \"1-24\": hours must be below 24 " FORMATS);
	expect_fail("1-2:60", EINVAL, "invalid time \"1-2:60\": minutes must be below 60 " FORMATS);
	expect_fail("1-2:3:60", EINVAL,
		    "invalid time \"1-2:3:60\": seconds must be below 60 " FORMATS);
	expect_fail("-5", EINVAL, "invalid time \"-5\": unexpected character '-' " FORMATS);
	expect_fail("", EINVAL, "invalid time \"\": empty " FORMATS);
	expect_fail(NULL, EINVAL, "invalid time \"\": empty " FORMATS);
	expect_fail("abc", EINVAL, "invalid time \"abc\": unexpected character 'a' " FORMATS);
	expect_fail("10m", EINVAL, "invalid time \"10m\": unexpected character 'm' " FORMATS);
	expect_fail(" 5", EINVAL, "invalid time \" 5\": unexpected character ' ' " FORMATS);
	expect_fail("5:", EINVAL, "invalid time \"5:\": a number is missing at the end " FORMATS);
	expect_fail("1-", EINVAL, "invalid time \"1-\": a number is missing at the end " FORMATS);
	expect_fail("1:2:3:4", EINVAL, "invalid time \"1:2:3:4\": too many ':' fields " FORMATS);
	expect_fail("1-2:3:4:5", EINVAL,
		    "invalid time \"1-2:3:4:5\": too many ':' fields " FORMATS);
	expect_fail("1-2-3", EINVAL, "invalid time \"1-2-3\": unexpected character '-' " FORMATS);
	expect_fail("+5", EINVAL, "invalid time \"+5\": unexpected character '+' " FORMATS);
	expect_fail("UNLIMITEDX", EINVAL,
		    "invalid time \"UNLIMITEDX\": unexpected character 'U' " FORMATS);
}

static void test_parse_overflow(void **state)
{
	static const char too_long[] =
	    "too long, the most is 49710-06:28:14 (use UNLIMITED for no limit)";
	char want[256];

	(void)state;
	snprintf(want, sizeof(want), "invalid time \"49710-06:28:15\": %s", too_long);
	expect_fail("49710-06:28:15", ERANGE, want);
	snprintf(want, sizeof(want), "invalid time \"71582789\": %s", too_long);
	expect_fail("71582789", ERANGE, want);
	snprintf(want, sizeof(want), "invalid time \"99999999999999999999999\": %s", too_long);
	expect_fail("99999999999999999999999", ERANGE, want);
	snprintf(want, sizeof(want), "invalid time \"99999999999999999999-0\": %s", too_long);
	expect_fail("99999999999999999999-0", ERANGE, want);
}

static void test_parse_err_optional(void **state)
{
	uint32_t got;
	char err[8];

	(void)state;
	assert_int_equal(timefmt_parse_duration("x", &got, NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
	/* A short buffer gets a truncated, terminated message. */
	assert_int_equal(timefmt_parse_duration("x", &got, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid");
}

static void expect_format(uint32_t seconds, const char *want)
{
	char buf[32];

	assert_int_equal(timefmt_duration(seconds, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_format(void **state)
{
	char small[4];

	(void)state;
	expect_format(0, "0:00");
	expect_format(59, "0:59");
	expect_format(60, "1:00");
	expect_format(3599, "59:59");
	expect_format(3600, "1:00:00");
	expect_format(86399, "23:59:59");
	expect_format(86400, "1-00:00:00");
	expect_format(90061, "1-01:01:01");
	expect_format(4294967294u, "49710-06:28:14");
	expect_format(TIMEFMT_UNLIMITED, "UNLIMITED");
	assert_int_equal(timefmt_duration(3600, small, sizeof(small)), 7);
	assert_string_equal(small, "1:0");
	assert_int_equal(timefmt_duration(3600, NULL, 0), 7);
}

/* What the formatter prints, the parser reads back. */
static void test_roundtrip(void **state)
{
	static const uint32_t values[] = { 0,
					   1,
					   59,
					   61,
					   3599,
					   3600,
					   3661,
					   86399,
					   86400,
					   90061,
					   1000000,
					   4294967294u,
					   TIMEFMT_UNLIMITED };
	char buf[32];
	uint32_t back;

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		timefmt_duration(values[i], buf, sizeof(buf));
		assert_int_equal(timefmt_parse_duration(buf, &back, NULL, 0), 0);
		assert_int_equal(back, values[i]);
	}
}

static void test_timestamp(void **state)
{
	char buf[32];

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	assert_int_equal(timefmt_timestamp(0, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "N/A");
	assert_int_equal(timefmt_timestamp(1795660801, buf, sizeof(buf)), 19);
	assert_string_equal(buf, "2026-11-26T02:40:01");
	setenv("TZ", "EET-2", 1); /* POSIX sign: two hours east */
	tzset();
	timefmt_timestamp(1795660801, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-26T04:40:01");
	assert_int_equal(timefmt_timestamp(1795660801, NULL, 0), 19);
}

static void test_monotonic(void **state)
{
	uint64_t a, b;

	(void)state;
	a = timefmt_monotonic_ms();
	usleep(20000);
	b = timefmt_monotonic_ms();
	assert_true(b >= a + 20);
	assert_true(b < a + 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_formats),      cmocka_unit_test(test_parse_unlimited),
		cmocka_unit_test(test_parse_errors),       cmocka_unit_test(test_parse_overflow),
		cmocka_unit_test(test_parse_err_optional), cmocka_unit_test(test_format),
		cmocka_unit_test(test_roundtrip),          cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_monotonic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
