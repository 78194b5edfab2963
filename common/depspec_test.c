/* depspec_test.c - job dependency specifications: the terms built, and
 * what is refused with which words. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "depspec.h"

#define TYPES "after, afterany, afterok, afternotok or singleton"

static const char *const type_names[] = { "after", "afterany", "afterok", "afternotok" };

/* Parse S and write what it built the way a user writes it ("afterok:12
 * afterany:3_4", then " ?" when any, " singleton"), to compare with WANT. */
static void expect(const char *s, const char *want)
{
	struct depspec_term *t = NULL;
	uint16_t n = 99;
	bool any = true, single = true;
	char why[256] = "", got[1024] = "";
	size_t off = 0;

	if (depspec_parse(s, &t, &n, &any, &single, why, sizeof(why)) < 0)
		fail_msg("'%s' refused: %s", s, why);
	for (uint16_t i = 0; i < n; i++) {
		assert_true(t[i].type < sizeof(type_names) / sizeof(type_names[0]));
		off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%s:%u", off ? " " : "",
					type_names[t[i].type], t[i].job);
		if (t[i].task)
			off += (size_t)snprintf(got + off, sizeof(got) - off, "_%u", t[i].task_id);
	}
	if (any)
		off += (size_t)snprintf(got + off, sizeof(got) - off, "%s?", off ? " " : "");
	if (single)
		snprintf(got + off, sizeof(got) - off, "%ssingleton", off ? " " : "");
	assert_string_equal(got, want);
	if (n == 0)
		assert_null(t);
	free(t);
}

static char why[1024];

/* S is refused with EINVAL and exactly MSG; the outputs are left alone. */
static void refused(const char *s, const char *msg)
{
	static struct depspec_term untouched;
	struct depspec_term *t = &untouched;
	uint16_t n = 99;
	bool any = true, single = true;

	why[0] = '\0';
	errno = 0;
	assert_int_equal(depspec_parse(s, &t, &n, &any, &single, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(why, msg);
	assert_ptr_equal(t, &untouched);
	assert_int_equal(n, 99);
}

static void test_terms(void **state)
{
	(void)state;
	expect("afterok:123", "afterok:123");
	expect("afterok:123:124_5", "afterok:123 afterok:124_5");
	expect("after:1,afterany:2,afternotok:3_0,singleton",
	       "after:1 afterany:2 afternotok:3_0 singleton");
	expect("afterok:1?afternotok:1", "afterok:1 afternotok:1 ?");
	expect("singleton", "singleton");
	expect("singleton?afterany:7", "afterany:7 ? singleton");
	expect("afterany:4294967295_4294967295", "afterany:4294967295_4294967295");
	/* A task id of 0 is a task; a job id of 0 is refused below. */
	expect("after:9_0", "after:9_0");
}

/* DEPSPEC_MAX_JOBS ids are taken, one more is refused. */
static void test_most_jobs(void **state)
{
	size_t cap = 16 + DEPSPEC_MAX_JOBS * 12, off;
	char *s = malloc(cap);
	struct depspec_term *t;
	uint16_t n;
	bool any, single;
	char msg[256];

	(void)state;
	assert_non_null(s);
	off = (size_t)snprintf(s, cap, "afterok");
	for (unsigned i = 1; i <= DEPSPEC_MAX_JOBS; i++)
		off += (size_t)snprintf(s + off, cap - off, ":%u", i);
	assert_int_equal(depspec_parse(s, &t, &n, &any, &single, why, sizeof(why)), 0);
	assert_int_equal(n, DEPSPEC_MAX_JOBS);
	for (unsigned i = 0; i < DEPSPEC_MAX_JOBS; i++)
		assert_int_equal(t[i].job, i + 1);
	free(t);

	snprintf(s + off, cap - off, ",after:%u", DEPSPEC_MAX_JOBS + 1);
	snprintf(msg, sizeof(msg),
		 "more than %d job ids (name an array by its id to wait for all its tasks)",
		 DEPSPEC_MAX_JOBS);
	refused(s, msg);
	free(s);
}

static void test_refusals(void **state)
{
	(void)state;
	refused("", "empty value (give a dependency like afterok:123 or singleton)");
	refused("afterok:1,afterany:2?singleton",
		"'afterok:1,afterany:2?singleton' mixes ',' (all must hold) and '?' (one is "
		"enough): use one of them");
	refused("afterok:1,,singleton",
		"empty term in 'afterok:1,,singleton' (separate terms with a single ',' or '?')");
	refused("afterok:1,",
		"empty term in 'afterok:1,' (separate terms with a single ',' or '?')");
	refused("?afterok:1",
		"empty term in '?afterok:1' (separate terms with a single ',' or '?')");
	refused("afterok", "afterok needs job ids (like afterok:123)");
	refused("afterok,afterany:2", "afterok needs job ids (like afterok:123)");
	refused("afterok:", "empty job id in 'afterok:' (separate ids with single colons)");
	refused("afterok:1::2", "empty job id in 'afterok:1::2' (separate ids with single colons)");
	refused("afterok:abc",
		"'abc' is not a job id (give one like 123, or 123_4 for a task of an array)");
	refused("afterok:0",
		"'0' is not a job id (give one like 123, or 123_4 for a task of an array)");
	refused("afterok:0_1",
		"'0_1' is not a job id (give one like 123, or 123_4 for a task of an array)");
	refused("afterok:12_",
		"'12_' is not a job id (give one like 123, or 123_4 for a task of an array)");
	refused("afterok:12_[1-3]",
		"'12_[1-3]' is not a job id (give one like 123, or 123_4 for a task of an array)");
	refused(
	    "afterok:4294967296",
	    "'4294967296' is not a job id (give one like 123, or 123_4 for a task of an array)");
	refused("after:12+30",
		"'after:12+30': a delay after the job (+MINUTES) is not supported (drop the +30)");
	refused("aftercorr:12", "aftercorr dependencies are not supported (use " TYPES ")");
	refused("expand:12", "expand dependencies are not supported (use " TYPES ")");
	refused("before:12", "unknown dependency type 'before' (use " TYPES ")");
	refused("AFTEROK:12", "unknown dependency type 'AFTEROK' (use " TYPES ")");
	refused("singleton:3", "singleton takes no job ids (give it alone)");
	/* A bad term after good ones: what was built is let go. */
	refused("afterok:1:2:3,afterany:x",
		"'x' is not a job id (give one like 123, or 123_4 for a task of an array)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terms),
		cmocka_unit_test(test_most_jobs),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
