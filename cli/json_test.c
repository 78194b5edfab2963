/* json_test.c - the JSON writer: layout, string escaping, null convention. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct capture {
	char *buf;
	size_t len;
	FILE *f;
};

static void capture_start(struct capture *c)
{
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
}

/* The text written since capture_start; the caller frees it. */
static char *capture_end(struct capture *c)
{
	fclose(c->f);
	return c->buf;
}

static void check_string(const char *in, size_t len, const char *want)
{
	struct capture c;

	capture_start(&c);
	json_write_string(c.f, in, len);
	char *got = capture_end(&c);
	assert_string_equal(got, want);
	free(got);
}

/* IN is a string literal: its length counts embedded NULs. */
#define CHECK(in, want) check_string(in, sizeof(in) - 1, want)

static void test_escaping(void **state)
{
	(void)state;
	CHECK("plain", "\"plain\"");
	CHECK("", "\"\"");
	CHECK("a\"b\\c", "\"a\\\"b\\\\c\"");
	CHECK("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
	CHECK("\x01\x1f", "\"\\u0001\\u001f\"");
	/* A NUL inside a byte string is escaped, not a terminator. */
	CHECK("a\0b", "\"a\\u0000b\"");
	/* DEL and '/' need no escape. */
	CHECK("\x7f/", "\"\x7f/\"");
}

static void test_utf8(void **state)
{
	(void)state;
	/* Valid sequences of 2, 3 and 4 bytes pass through. */
	CHECK("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	      "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* Stray continuation byte, truncated sequence, overlong '/', a
	 * surrogate and a byte that never starts UTF-8: each becomes U+FFFD. */
	CHECK("a\x80z", "\"a\xef\xbf\xbdz\"");
	CHECK("a\xe2\x82", "\"a\xef\xbf\xbd\xef\xbf\xbd\"");
	CHECK("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"");
	CHECK("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
	CHECK("\xff", "\"\xef\xbf\xbd\"");
	CHECK("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

static void write_sample(struct json *j)
{
	json_object_begin(j);
	json_key(j, "id");
	json_uint(j, 42);
	json_key(j, "name");
	json_string(j, "x\"y");
	json_key(j, "neg");
	json_int(j, -7);
	json_key(j, "list");
	json_array_begin(j);
	json_bool(j, true);
	json_bool(j, false);
	json_null(j);
	json_string(j, NULL);
	json_array_end(j);
	json_key(j, "empty");
	json_array_begin(j);
	json_array_end(j);
	json_key(j, "obj");
	json_object_begin(j);
	json_object_end(j);
	json_object_end(j);
}

static void test_compact(void **state)
{
	(void)state;
	struct capture c;
	struct json j;

	capture_start(&c);
	json_init(&j, c.f, false);
	write_sample(&j);
	char *got = capture_end(&c);
	assert_string_equal(got, "{\"id\":42,\"name\":\"x\\\"y\",\"neg\":-7,"
				 "\"list\":[true,false,null,\"\"],\"empty\":[],\"obj\":{}}");
	free(got);
}

static void test_pretty(void **state)
{
	(void)state;
	struct capture c;
	struct json j;

	capture_start(&c);
	json_init(&j, c.f, true);
	write_sample(&j);
	char *got = capture_end(&c);
	assert_string_equal(got, "{\n"
				 "  \"id\": 42,\n"
				 "  \"name\": \"x\\\"y\",\n"
				 "  \"neg\": -7,\n"
				 "  \"list\": [\n"
				 "    true,\n"
				 "    false,\n"
				 "    null,\n"
				 "    \"\"\n"
				 "  ],\n"
				 "  \"empty\": [],\n"
				 "  \"obj\": {}\n"
				 "}\n");
	free(got);
}

static void test_array_of_objects(void **state)
{
	(void)state;
	struct capture c;
	struct json j;

	capture_start(&c);
	json_init(&j, c.f, false);
	json_array_begin(&j);
	for (int i = 0; i < 2; i++) {
		json_object_begin(&j);
		json_key(&j, "n");
		json_int(&j, i);
		json_object_end(&j);
	}
	json_array_end(&j);
	char *got = capture_end(&c);
	assert_string_equal(got, "[{\"n\":0},{\"n\":1}]");
	free(got);
}

/* Pacer's null convention: a value that is not there is null, a value
 * that is there is written whatever it is (0 included). */
static void test_null_convention(void **state)
{
	(void)state;
	struct capture c;
	struct json j;

	capture_start(&c);
	json_init(&j, c.f, false);
	json_object_begin(&j);
	json_member_string_or_null(&j, "s", "x");
	json_member_string_or_null(&j, "empty", "");
	json_member_string_or_null(&j, "none", NULL);
	json_member_int_or_null(&j, "i", -1, true);
	json_member_int_or_null(&j, "i0", 0, false);
	json_member_uint_or_null(&j, "u", 0, true);
	json_member_uint_or_null(&j, "max", UINT32_MAX, false);
	json_member_time(&j, "t", 1700000000);
	json_member_time(&j, "t0", 0);
	json_object_end(&j);
	char *got = capture_end(&c);
	assert_string_equal(got, "{\"s\":\"x\",\"empty\":null,\"none\":null,\"i\":-1,"
				 "\"i0\":null,\"u\":0,\"max\":null,\"t\":1700000000,"
				 "\"t0\":null}");
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escaping),         cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_compact),          cmocka_unit_test(test_pretty),
		cmocka_unit_test(test_array_of_objects), cmocka_unit_test(test_null_convention),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
