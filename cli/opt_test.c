/* opt_test.c - the option parser: every syntax getopt_long takes, and its
 * errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "opt.h"

enum { K_MEM = OPT_LONG_ONLY, K_MAIL_TYPE, K_MAIL_USER, K_EXCL };

static const struct opt_def defs[] = {
	{ "job-name", 'J', OPT_REQUIRED },
	{ "hold", 'H', OPT_NONE },
	{ "verbose", 'v', OPT_NONE },
	{ "mem", K_MEM, OPT_REQUIRED },
	{ "mail-type", K_MAIL_TYPE, OPT_REQUIRED },
	{ "mail-user", K_MAIL_USER, OPT_REQUIRED },
	{ "exclusive", K_EXCL, OPT_OPTIONAL },
	{ "state", 't', OPT_REQUIRED },
	{ "states", 't', OPT_REQUIRED },
	{ NULL, 0, OPT_NONE },
};

/* char *NAME[] = { "cmd", ARGS..., NULL } and int NAME_c, its argc. */
#define DECL(name, ...)                              \
	char *name[] = { "cmd", __VA_ARGS__, NULL }; \
	int name##_c = (int)(sizeof(name) / sizeof(name[0]) - 1)

static void test_long_forms(void **state)
{
	(void)state;
	DECL(argv, "--job-name=a", "--job-name", "b", "--hold", "--mem=4G", "script", "--hold");
	struct opt_state st;

	opt_init(&st, argv_c, argv, 1, defs, false);
	assert_int_equal(opt_next(&st), 'J');
	assert_string_equal(st.arg, "a");
	assert_string_equal(st.name, "--job-name");
	assert_int_equal(opt_next(&st), 'J');
	assert_string_equal(st.arg, "b");
	assert_int_equal(opt_next(&st), 'H');
	assert_null(st.arg);
	assert_int_equal(opt_next(&st), K_MEM);
	assert_string_equal(st.arg, "4G");
	/* Stops at the script: its own "--hold" is not ours. */
	assert_int_equal(opt_next(&st), OPT_END);
	assert_int_equal(st.ind, 6);
	assert_string_equal(argv[st.ind], "script");
	assert_int_equal(opt_next(&st), OPT_END);
}

static void test_short_forms(void **state)
{
	(void)state;
	DECL(argv, "-Jname", "-J", "other", "-Hv", "-vJx", "-");
	struct opt_state st;

	opt_init(&st, argv_c, argv, 1, defs, false);
	assert_int_equal(opt_next(&st), 'J');
	assert_string_equal(st.arg, "name");
	assert_int_equal(opt_next(&st), 'J');
	assert_string_equal(st.arg, "other");
	assert_int_equal(opt_next(&st), 'H');
	assert_int_equal(opt_next(&st), 'v');
	assert_int_equal(opt_next(&st), 'v');
	assert_int_equal(opt_next(&st), 'J');
	assert_string_equal(st.arg, "x");
	assert_string_equal(st.name, "-J");
	/* A lone "-" is an operand (standard input). */
	assert_int_equal(opt_next(&st), OPT_END);
	assert_int_equal(st.ind, 6);
	assert_string_equal(argv[st.ind], "-");
}

static void test_dashdash(void **state)
{
	(void)state;
	DECL(argv, "-H", "--", "--hold", "x");
	struct opt_state st;

	opt_init(&st, argv_c, argv, 1, defs, false);
	assert_int_equal(opt_next(&st), 'H');
	assert_int_equal(opt_next(&st), OPT_END);
	assert_int_equal(st.ind, 3);
	assert_string_equal(argv[st.ind], "--hold");

	opt_init(&st, argv_c, argv, 1, defs, true);
	assert_int_equal(opt_next(&st), 'H');
	assert_int_equal(opt_next(&st), OPT_OPERAND);
	assert_string_equal(st.arg, "--hold");
	assert_int_equal(opt_next(&st), OPT_OPERAND);
	assert_string_equal(st.arg, "x");
	assert_int_equal(opt_next(&st), OPT_END);
}

static void test_permute(void **state)
{
	(void)state;
	DECL(argv, "42", "-v", "43", "--state", "R");
	struct opt_state st;

	opt_init(&st, argv_c, argv, 1, defs, true);
	assert_int_equal(opt_next(&st), OPT_OPERAND);
	assert_string_equal(st.arg, "42");
	assert_int_equal(opt_next(&st), 'v');
	assert_int_equal(opt_next(&st), OPT_OPERAND);
	assert_string_equal(st.arg, "43");
	assert_int_equal(opt_next(&st), 't');
	assert_string_equal(st.arg, "R");
	assert_int_equal(opt_next(&st), OPT_END);
}

static void test_prefixes(void **state)
{
	(void)state;
	DECL(argv, "--job=x", "--mail-t", "all", "--sta=PD", "--ma", "y");
	struct opt_state st;

	opt_init(&st, argv_c, argv, 1, defs, false);
	assert_int_equal(opt_next(&st), 'J');
	assert_string_equal(st.arg, "x");
	assert_int_equal(opt_next(&st), K_MAIL_TYPE);
	assert_string_equal(st.arg, "all");
	/* --state and --states are one option: not ambiguous. */
	assert_int_equal(opt_next(&st), 't');
	assert_string_equal(st.arg, "PD");
	assert_int_equal(opt_next(&st), OPT_ERROR);
	assert_string_equal(st.err, "option '--ma' is ambiguous (--mail-type, --mail-user)");
}

static void test_optional(void **state)
{
	(void)state;
	DECL(argv, "--exclusive", "user", "--exclusive=mcs");
	struct opt_state st;

	opt_init(&st, argv_c, argv, 1, defs, true);
	assert_int_equal(opt_next(&st), K_EXCL);
	assert_null(st.arg);
	assert_int_equal(opt_next(&st), OPT_OPERAND);
	assert_string_equal(st.arg, "user");
	assert_int_equal(opt_next(&st), K_EXCL);
	assert_string_equal(st.arg, "mcs");
}

static void expect_error(char **argv, int argc, const char *msg)
{
	struct opt_state st;
	int key;

	opt_init(&st, argc, argv, 1, defs, false);
	while ((key = opt_next(&st)) > 0)
		;
	assert_int_equal(key, OPT_ERROR);
	assert_string_equal(st.err, msg);
}

#define EXPECT_ERROR(msg, ...)             \
	do {                               \
		DECL(v, __VA_ARGS__);      \
		expect_error(v, v_c, msg); \
	} while (0)

static void test_errors(void **state)
{
	(void)state;
	EXPECT_ERROR("unknown option '--foo'", "--foo");
	EXPECT_ERROR("unknown option '--foo'", "--foo=bar");
	EXPECT_ERROR("unknown option '-z'", "-z");
	EXPECT_ERROR("unknown option '-z'", "-Hz");
	EXPECT_ERROR("option '--job-name' needs a value", "--job-name");
	EXPECT_ERROR("option '-J' needs a value", "-J");
	EXPECT_ERROR("option '--hold' takes no value", "--hold=yes");
	EXPECT_ERROR("unknown option '---'", "---");
	EXPECT_ERROR("unknown option '--'", "--=x");
}

static void test_display(void **state)
{
	(void)state;
	char buf[64];

	assert_string_equal(opt_display(&defs[0], buf, sizeof(buf)), "--job-name");
	struct opt_def short_only = { NULL, 'x', OPT_NONE };
	assert_string_equal(opt_display(&short_only, buf, sizeof(buf)), "-x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_forms), cmocka_unit_test(test_short_forms),
		cmocka_unit_test(test_dashdash),   cmocka_unit_test(test_permute),
		cmocka_unit_test(test_prefixes),   cmocka_unit_test(test_optional),
		cmocka_unit_test(test_errors),     cmocka_unit_test(test_display),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
