/* hostlist_test.c - unit tests for hostlist.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostlist.h"

#ifndef PACER_REPRODUCER_DIR
#error "PACER_REPRODUCER_DIR must name tests/fuzz/reproducers"
#endif

/* Decode EXPR and check it holds exactly the NAMES, in order. */
static void expect_names(const char *expr, const char *const *names, size_t n)
{
	struct hostlist *hl = hostlist_decode(expr);

	assert_non_null(hl);
	assert_int_equal(hostlist_count(hl), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(hostlist_nth(hl, i), names[i]);
	assert_null(hostlist_nth(hl, n));
	hostlist_destroy(hl);
}

#define EXPECT_NAMES(expr, ...)                                                 \
	do {                                                                    \
		static const char *const names_[] = { __VA_ARGS__ };            \
		expect_names(expr, names_, sizeof(names_) / sizeof(names_[0])); \
	} while (0)

/* Decode EXPR, encode it again and compare with WANT. */
static void expect_encode(const char *expr, const char *want)
{
	struct hostlist *hl = hostlist_decode(expr);
	char buf[256];

	assert_non_null(hl);
	assert_int_equal(hostlist_encode(hl, buf, sizeof(buf)), (int)strlen(want));
	assert_string_equal(buf, want);
	hostlist_destroy(hl);
}

static void expect_error(const char *expr, int err)
{
	errno = 0;
	assert_null(hostlist_decode(expr));
	assert_int_equal(errno, err);
}

static void test_decode_ranges(void **state)
{
	(void)state;
	EXPECT_NAMES("node[01-04,10],login1", "node01", "node02", "node03", "node04", "node10",
		     "login1");
	EXPECT_NAMES("n[8-11]", "n8", "n9", "n10", "n11");
	EXPECT_NAMES("n[08-10]", "n08", "n09", "n10");
	EXPECT_NAMES("n[098-101]", "n098", "n099", "n100", "n101");
	EXPECT_NAMES("n[5]", "n5");
	EXPECT_NAMES("n[1-2]-ib", "n1-ib", "n2-ib");
	EXPECT_NAMES("[1-3]", "1", "2", "3");
	EXPECT_NAMES("login", "login");
	EXPECT_NAMES(" a , b[1-2] ", "a", "b1", "b2");
	EXPECT_NAMES("n[3,1-2]", "n3", "n1", "n2");
}

static void test_decode_ip(void **state)
{
	(void)state;
	EXPECT_NAMES("127.0.0.[2-5]", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5");
	EXPECT_NAMES("10.1.[9-10].1", "10.1.9.1", "10.1.10.1");
	expect_encode("127.0.0.[2-5]", "127.0.0.[2-5]");
}

static void test_decode_empty(void **state)
{
	struct hostlist *hl = hostlist_decode("");
	char buf[8] = "x";

	(void)state;
	assert_non_null(hl);
	assert_int_equal(hostlist_count(hl), 0);
	assert_null(hostlist_nth(hl, 0));
	assert_int_equal(hostlist_encode(hl, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	hostlist_destroy(hl);
	hl = hostlist_decode("  ");
	assert_non_null(hl);
	assert_int_equal(hostlist_count(hl), 0);
	hostlist_destroy(hl);
}

static void test_decode_errors(void **state)
{
	(void)state;
	expect_error("n[3-1]", EINVAL);
	expect_error("n[", EINVAL);
	expect_error("n[1-2", EINVAL);
	expect_error("n[a-b]", EINVAL);
	expect_error("n[[1-2]]", EINVAL);
	expect_error("n[1-[2]]", EINVAL);
	expect_error("rack[1-2]n[1-2]", EINVAL);
	expect_error("n]", EINVAL);
	expect_error("n1]", EINVAL);
	expect_error("n[]", EINVAL);
	expect_error("n[1-]", EINVAL);
	expect_error("n[-1]", EINVAL);
	expect_error("n[1,]", EINVAL);
	expect_error("n[,1]", EINVAL);
	expect_error("n[1--2]", EINVAL);
	expect_error("n[ 1]", EINVAL);
	expect_error("n[1-2-3]", EINVAL);
	expect_error("n[+1]", EINVAL);
	expect_error("a,,b", EINVAL);
	expect_error("a,", EINVAL);
	expect_error(",a", EINVAL);
	expect_error("bad name", EINVAL);
	expect_error("tab\tname", EINVAL);
	expect_error("n[1234567890123456789]", EINVAL);
	expect_error(NULL, EINVAL);
}

static void test_decode_too_big(void **state)
{
	(void)state;
	expect_error("n[0-999999999]", E2BIG);
	expect_error("n[0-1000000]", E2BIG);
	expect_error("n[1-999999],a,b", E2BIG);
	expect_error("n[1-999998],m[1-3]", E2BIG);
	expect_error("n[0-999999999999999999]", E2BIG);
}

/* PREFIX_LEN 'p's then SUFFIX (a bracket range): decoded, or E2BIG. */
static void expect_prefixed(size_t prefix_len, const char *suffix, size_t names)
{
	char expr[128];
	struct hostlist *hl;

	assert_true(prefix_len + strlen(suffix) < sizeof(expr));
	memset(expr, 'p', prefix_len);
	strcpy(expr + prefix_len, suffix);
	errno = 0;
	hl = hostlist_decode(expr);
	if (names == 0) {
		assert_null(hl);
		assert_int_equal(errno, E2BIG);
		return;
	}
	assert_non_null(hl);
	assert_int_equal(hostlist_count(hl), names);
	hostlist_destroy(hl);
}

/* The size of the names is capped, not only their count: the fuzz
 * reproducer is 4 KB that expanded to 4 GB. */
static void test_decode_too_many_bytes(void **state)
{
	(void)state;
	char path[1024];
	FILE *f;
	char buf[8192];
	size_t n;

	snprintf(path, sizeof(path), "%s/hostlist-long-prefix-4000x1M", PACER_REPRODUCER_DIR);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	assert_true(n > 4000 && n < sizeof(buf) - 1);
	buf[n] = '\0';
	expect_error(buf, E2BIG);

	/* A million realistic names fit (12 bytes each, NUL included). */
	struct hostlist *hl = hostlist_decode("node[0000001-1000000]");
	assert_non_null(hl);
	assert_int_equal(hostlist_count(hl), HOSTLIST_MAX);
	assert_string_equal(hostlist_nth(hl, 999999), "node1000000");
	hostlist_destroy(hl);

	/* The edge of 32 MiB (33,554,432 bytes): a million names of 33 bytes
	 * fit, of 34 do not; counted with each number's real width. */
	expect_prefixed(26, "[000000-999999]", HOSTLIST_MAX); /* 26 + 6 + NUL */
	expect_prefixed(27, "[000000-999999]", 0);
	expect_prefixed(26, "[0000001-1000000]", 0); /* 26 + 7 + NUL */
	/* 1-9, 10-99... are shorter: 27e6 + 5,888,896 digits fit */
	expect_prefixed(26, "[1-1000000]", HOSTLIST_MAX);
	expect_prefixed(27, "[1-1000000]", 0);

	/* Plain names count too, across the items of one expression. */
	size_t cap = (size_t)HOSTLIST_MAX_BYTES;
	char *big = malloc(cap + 1);
	assert_non_null(big);
	memset(big, 'a', cap);
	big[cap - 1] = '\0'; /* one name, NUL included: exactly the cap */
	hl = hostlist_decode(big);
	assert_non_null(hl);
	assert_int_equal(hostlist_count(hl), 1);
	hostlist_destroy(hl);
	big[cap - 1] = 'a';
	big[cap] = '\0';
	expect_error(big, E2BIG);
	big[cap / 2] = ','; /* two names, cap - 1 bytes and their two NULs */
	expect_error(big, E2BIG);
	free(big);
}

static void test_decode_max(void **state)
{
	struct hostlist *hl = hostlist_decode("n[1-999999],a");

	(void)state;
	assert_non_null(hl);
	assert_int_equal(hostlist_count(hl), HOSTLIST_MAX);
	assert_string_equal(hostlist_nth(hl, 999998), "n999999");
	assert_string_equal(hostlist_nth(hl, 999999), "a");
	hostlist_destroy(hl);
}

static void test_encode(void **state)
{
	(void)state;
	expect_encode("node01,node02,node03,node04,node10,login1", "node[01-04,10],login1");
	expect_encode("n9,n10,n11", "n[9-11]");
	expect_encode("n99,n100", "n[99-100]");
	expect_encode("n08,n09,n10,n11", "n[08-11]");
	expect_encode("n[08-100]", "n[08-99,100]");
	expect_encode("n098,n099,n100", "n[098-100]");
	expect_encode("n08,n9", "n[08,9]");
	expect_encode("n01,n2,n03", "n[01,2,03]");
	expect_encode("n1,n1", "n[1,1]");
	expect_encode("n3,n2,n1", "n[3,2,1]");
	expect_encode("n1", "n1");
	expect_encode("login,gateway", "login,gateway");
	expect_encode("n1,login,n2", "n1,login,n2");
	expect_encode("n1-ib,n2-ib,n3-eth", "n[1-2]-ib,n3-eth");
	expect_encode("a1b2,a1b3", "a1b[2-3]");
	expect_encode("0,1,2", "[0-2]");
	expect_encode("n00,n01", "n[00-01]");
	expect_encode("n0,n1", "n[0-1]");
	expect_encode("x1234567890123456789,x1234567890123456790",
		      "x1234567890123456789,x1234567890123456790");
}

static void test_encode_truncates(void **state)
{
	struct hostlist *hl = hostlist_decode("node[01-04,10],login1");
	char buf[5];

	(void)state;
	assert_non_null(hl);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(hostlist_encode(hl, buf, sizeof(buf)), 21);
	assert_string_equal(buf, "node");
	assert_int_equal(hostlist_encode(hl, NULL, 0), 21);
	hostlist_destroy(hl);
}

static void test_encode_alloc(void **state)
{
	struct hostlist *hl = hostlist_decode("b,a[3-5]");
	char *s;

	(void)state;
	assert_non_null(hl);
	s = hostlist_encode_alloc(hl);
	assert_non_null(s);
	assert_string_equal(s, "b,a[3-5]");
	free(s);
	hostlist_destroy(hl);
}

static void test_append(void **state)
{
	struct hostlist *hl = hostlist_create();
	char *s;

	(void)state;
	assert_non_null(hl);
	assert_int_equal(hostlist_append(hl, "n1"), 0);
	assert_int_equal(hostlist_append_expr(hl, "n[2-3]"), 0);
	errno = 0;
	assert_int_equal(hostlist_append(hl, "n[4]"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(hostlist_append(hl, ""), -1);
	assert_int_equal(hostlist_append(hl, "a,b"), -1);
	errno = 0;
	assert_int_equal(hostlist_append_expr(hl, "n4,n[5-"), -1);
	assert_int_equal(errno, EINVAL);
	/* A failed expression adds nothing. */
	assert_int_equal(hostlist_count(hl), 3);
	assert_int_equal(hostlist_append_expr(hl, ""), 0);
	assert_int_equal(hostlist_count(hl), 3);
	s = hostlist_encode_alloc(hl);
	assert_string_equal(s, "n[1-3]");
	free(s);
	hostlist_destroy(hl);
}

static void test_find(void **state)
{
	struct hostlist *hl = hostlist_decode("node[01-04,10],login1");

	(void)state;
	assert_int_equal(hostlist_find(hl, "node01"), 0);
	assert_int_equal(hostlist_find(hl, "node10"), 4);
	assert_int_equal(hostlist_find(hl, "login1"), 5);
	assert_int_equal(hostlist_find(hl, "node1"), -1);
	assert_int_equal(hostlist_find(hl, "node05"), -1);
	assert_int_equal(hostlist_find(hl, NULL), -1);
	hostlist_destroy(hl);
}

static void test_uniq(void **state)
{
	struct hostlist *hl;
	char *s;

	(void)state;
	hl = hostlist_decode("n10,n9,n1,n9,login10,login2,n01,n10,10.0.0.10,10.0.0.9");
	assert_non_null(hl);
	hostlist_uniq(hl);
	assert_int_equal(hostlist_count(hl), 8);
	assert_string_equal(hostlist_nth(hl, 0), "10.0.0.9");
	assert_string_equal(hostlist_nth(hl, 1), "10.0.0.10");
	assert_string_equal(hostlist_nth(hl, 2), "login2");
	assert_string_equal(hostlist_nth(hl, 3), "login10");
	assert_string_equal(hostlist_nth(hl, 4), "n01");
	assert_string_equal(hostlist_nth(hl, 5), "n1");
	assert_string_equal(hostlist_nth(hl, 6), "n9");
	assert_string_equal(hostlist_nth(hl, 7), "n10");
	s = hostlist_encode_alloc(hl);
	assert_string_equal(s, "10.0.0.[9-10],login[2,10],n[01,1,9-10]");
	free(s);
	hostlist_destroy(hl);

	hl = hostlist_decode("b,a,b,a");
	hostlist_uniq(hl);
	assert_int_equal(hostlist_count(hl), 2);
	assert_string_equal(hostlist_nth(hl, 0), "a");
	assert_string_equal(hostlist_nth(hl, 1), "b");
	hostlist_destroy(hl);
	hostlist_uniq(NULL);
}

/* Any list survives encode then decode unchanged. */
static void test_roundtrip_random(void **state)
{
	static const char *const prefixes[] = { "n", "node", "rack1n", "10.0.0.", "" };
	static const char *const suffixes[] = { "", "", "-ib" };
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 300; round++) {
		struct hostlist *hl = hostlist_create(), *back;
		int n = (int)(rand_r(&seed) % 40) + 1;
		char *s;

		for (int i = 0; i < n; i++) {
			char name[64];
			int width = (int)(rand_r(&seed) % 4);
			int num = (int)(rand_r(&seed) % 120);

			snprintf(name, sizeof(name), "%s%0*d%s", prefixes[rand_r(&seed) % 5], width,
				 num, suffixes[rand_r(&seed) % 3]);
			if (!name[0])
				snprintf(name, sizeof(name), "x");
			assert_int_equal(hostlist_append(hl, name), 0);
		}
		s = hostlist_encode_alloc(hl);
		assert_non_null(s);
		back = hostlist_decode(s);
		assert_non_null(back);
		assert_int_equal(hostlist_count(back), hostlist_count(hl));
		for (size_t i = 0; i < hostlist_count(hl); i++)
			assert_string_equal(hostlist_nth(back, i), hostlist_nth(hl, i));
		free(s);
		hostlist_destroy(back);
		hostlist_destroy(hl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_ranges),
		cmocka_unit_test(test_decode_ip),
		cmocka_unit_test(test_decode_empty),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_decode_too_big),
		cmocka_unit_test(test_decode_max),
		cmocka_unit_test(test_decode_too_many_bytes),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_truncates),
		cmocka_unit_test(test_encode_alloc),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_uniq),
		cmocka_unit_test(test_roundtrip_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
