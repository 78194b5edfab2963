/* runopt_test.c - pacer run and pacer alloc options, labels, file patterns
 * and exit codes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "runopt.h"

#define ARGV(...)                             \
	char *argv[] = { __VA_ARGS__, NULL }; \
	int argc = (int)(sizeof(argv) / sizeof(argv[0]) - 1)

static int parse(struct run_opts *o, enum run_mode mode, int argc, char **argv, char *err,
		 size_t errlen)
{
	run_opts_init(o, mode);
	return run_parse_args(o, argc, argv, err, errlen);
}

static void test_step_options(void **state)
{
	(void)state;
	ARGV("run", "-N2", "-n", "8", "-c2", "--label", "--mpi=none", "-K", "-W", "5", "-o",
	     "out-%t", "--overlap", "--whole", "-m", "Cyclic", "--cpu-bind=cores", "-t", "1:00", "hostname",
	     "-n", "3");
	struct run_opts o;
	char err[512];

	assert_int_equal(parse(&o, RUN_MODE_RUN, argc, argv, err, sizeof(err)), 0);
	assert_int_equal(o.job.nodes, 2);
	assert_int_equal(o.job.ntasks, 8);
	assert_int_equal(o.job.cpus_per_task, 2);
	assert_true(o.label);
	assert_string_equal(o.mpi, "none");
	assert_true(o.kill_on_bad_exit);
	assert_int_equal(o.wait_s, 5);
	assert_string_equal(o.job.output, "out-%t");
	assert_true(o.overlap);
	assert_true(o.whole);
	assert_string_equal(o.job.distribution, "cyclic");
	assert_string_equal(o.job.cpu_bind, "cores");
	assert_int_equal(o.job.time_limit, 60);
	assert_string_equal(o.job_only, "");
	/* The command's own options are its own. */
	assert_string_equal(argv[o.first], "hostname");
	assert_int_equal(argc - o.first, 3);
	assert_string_equal(o.mpi, "none");
	run_opts_free(&o);
}

static void test_defaults(void **state)
{
	(void)state;
	ARGV("run", "true");
	struct run_opts o;
	char err[512];

	assert_int_equal(parse(&o, RUN_MODE_RUN, argc, argv, err, sizeof(err)), 0);
	assert_string_equal(o.mpi, "pmix");
	assert_int_equal(o.input, RUN_INPUT_RANK);
	assert_int_equal(o.input_rank, 0);
	assert_false(o.kill_on_bad_exit);
	assert_int_equal(o.wait_s, 0);
	assert_int_equal(o.first, 1);
	run_opts_free(&o);
}

static void test_input(void **state)
{
	(void)state;
	struct run_opts o;
	char err[512];
	{
		ARGV("run", "-i", "none", "cat");
		assert_int_equal(parse(&o, RUN_MODE_RUN, argc, argv, err, sizeof(err)), 0);
		assert_int_equal(o.input, RUN_INPUT_NONE);
		run_opts_free(&o);
	}
	{
		ARGV("run", "--input=3", "cat");
		assert_int_equal(parse(&o, RUN_MODE_RUN, argc, argv, err, sizeof(err)), 0);
		assert_int_equal(o.input, RUN_INPUT_RANK);
		assert_int_equal(o.input_rank, 3);
		run_opts_free(&o);
	}
	{
		ARGV("run", "-iall", "cat");
		assert_int_equal(parse(&o, RUN_MODE_RUN, argc, argv, err, sizeof(err)), 0);
		assert_int_equal(o.input, RUN_INPUT_ALL);
		run_opts_free(&o);
	}
	{
		ARGV("run", "-i", "data.txt", "cat");
		assert_int_equal(parse(&o, RUN_MODE_RUN, argc, argv, err, sizeof(err)), 0);
		assert_int_equal(o.input, RUN_INPUT_FILE);
		assert_string_equal(o.input_file, "data.txt");
		run_opts_free(&o);
	}
	{
		ARGV("run", "-i", "in-%t", "cat");
		assert_int_equal(parse(&o, RUN_MODE_RUN, argc, argv, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "patterns are not supported for input"));
		run_opts_free(&o);
	}
}

/* Every refusal names the option and says what to do instead. */
static void test_refused(void **state)
{
	(void)state;
	static const struct {
		const char *arg, *want;
	} cases[] = {
		{ "--mpi=pmi2", "--mpi=pmi2 is not supported (use pmix" },
		{ "--multi-prog", "--multi-prog is not supported yet" },
		{ "--pty", "--pty is not supported yet" },
		{ "-K2", "invalid value '2' for -K (give 1 or 0" },
		{ "--wait=soon", "invalid value 'soon' for --wait" },
		{ "-N1-2", "a range of node counts is not supported" },
		{ "-n0", "invalid value '0' for -n" },
		{ "--jobid=x", "invalid value 'x' for --jobid" },
		{ "--array=1-3", "--array is for pacer submit" },
		{ "--cpu-bind=rank", "rank binding is not supported" },
		{ "--frob", "unknown option '--frob'" },
		{ "--distribution=plane", "the plane distribution is not supported" },
		{ "--export=1X", "invalid variable name '1X'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = { "run", (char *)cases[i].arg, "true", NULL };
		struct run_opts o;
		char err[512] = "";

		assert_int_equal(parse(&o, RUN_MODE_RUN, 3, argv, err, sizeof(err)), -1);
		if (!strstr(err, cases[i].want))
			fail_msg("%s: '%s' does not say '%s'", cases[i].arg, err, cases[i].want);
		run_opts_free(&o);
	}
}

static void test_job_only(void **state)
{
	(void)state;
	ARGV("run", "-n2", "--mem=1G", "-p", "debug", "true");
	struct run_opts o;
	char err[512];

	assert_int_equal(parse(&o, RUN_MODE_RUN, argc, argv, err, sizeof(err)), 0);
	assert_string_equal(o.job_only, "--mem");
	assert_int_equal(o.job.mem_mb, 1024);
	assert_string_equal(o.job.partition, "debug");
	run_opts_free(&o);
}

static void test_alloc_mode(void **state)
{
	(void)state;
	struct run_opts o;
	char err[512];
	{
		ARGV("alloc", "-N", "2", "--exclusive", "-t", "10", "--gres=gpu:1", "sleep", "9");
		assert_int_equal(parse(&o, RUN_MODE_ALLOC, argc, argv, err, sizeof(err)), 0);
		assert_int_equal(o.job.nodes, 2);
		assert_true(o.job.exclusive);
		assert_int_equal(o.job.time_limit, 600);
		assert_int_equal(o.job.gpus_per_node, 1);
		assert_string_equal(argv[o.first], "sleep");
		run_opts_free(&o);
	}
	{
		ARGV("alloc", "--label");
		assert_int_equal(parse(&o, RUN_MODE_ALLOC, argc, argv, err, sizeof(err)), -1);
		assert_true(o.usage_error);
		assert_non_null(strstr(err, "unknown option '--label' (it is a pacer run option"));
		run_opts_free(&o);
	}
	{
		ARGV("alloc");
		assert_int_equal(parse(&o, RUN_MODE_ALLOC, argc, argv, err, sizeof(err)), 0);
		assert_int_equal(o.first, 1);
		run_opts_free(&o);
	}
}

static void test_target_job(void **state)
{
	(void)state;
	struct run_opts o;
	char err[512];
	uint32_t job;

	run_opts_init(&o, RUN_MODE_RUN);
	assert_int_equal(run_target_job(&o, NULL, &job, err, sizeof(err)), 0);
	assert_int_equal(job, 0);
	assert_int_equal(run_target_job(&o, "42", &job, err, sizeof(err)), 0);
	assert_int_equal(job, 42);
	assert_int_equal(run_target_job(&o, "42x", &job, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "PACER_JOB_ID='42x' is not a job id"));
	o.jobid = 7;
	assert_int_equal(run_target_job(&o, "42", &job, err, sizeof(err)), 0);
	assert_int_equal(job, 7);
	run_opts_free(&o);
}

static void test_exit_codes(void **state)
{
	(void)state;
	struct run_tally t;

	assert_int_equal(run_rank_status(3, 0), 3);
	assert_int_equal(run_rank_status(0, SIGKILL), 128 + SIGKILL);
	assert_int_equal(run_rank_status(300, 0), 255);

	run_tally_init(&t);
	assert_int_equal(run_tally_code(&t), 0);
	run_tally_rank(&t, 0, 0, 0, false);
	run_tally_rank(&t, 1, 2, 0, false);
	run_tally_rank(&t, 2, 1, 0, false);
	assert_int_equal(run_tally_code(&t), 2);
	run_tally_rank(&t, 3, 0, SIGTERM, false);
	assert_int_equal(run_tally_code(&t), 128 + SIGTERM);

	/* An abort is the cause: its code wins over the ranks killed after it. */
	run_tally_init(&t);
	run_tally_rank(&t, 5, 7, 0, true);
	run_tally_rank(&t, 0, 0, SIGKILL, false);
	run_tally_rank(&t, 2, 9, 0, true);
	assert_true(t.aborted);
	assert_int_equal(t.abort_rank, 5);
	assert_int_equal(run_tally_code(&t), 7);

	/* A lost node never passes for success. */
	run_tally_init(&t);
	run_tally_rank(&t, 0, 0, 0, false);
	t.failed = true;
	assert_int_equal(run_tally_code(&t), 1);
	run_tally_rank(&t, 1, 4, 0, false);
	assert_int_equal(run_tally_code(&t), 4);
}

static void test_labels(void **state)
{
	(void)state;
	struct run_lines l = { 0 };
	char *out = NULL;
	size_t len = 0, cap = 0;

	assert_int_equal(run_label_width(1), 1);
	assert_int_equal(run_label_width(10), 1);
	assert_int_equal(run_label_width(11), 2);
	assert_int_equal(run_label_width(1000), 3);
	assert_int_equal(run_label_width(1001), 4);

	/* Lines split across messages come out whole, each labelled once. */
	assert_int_equal(run_lines_feed(&l, 3, 2, "hel", 3, false, &out, &len, &cap), 0);
	assert_int_equal(len, 0);
	assert_int_equal(run_lines_feed(&l, 3, 2, "lo\nwor", 6, false, &out, &len, &cap), 0);
	assert_int_equal(len, strlen(" 3: hello\n"));
	assert_memory_equal(out, " 3: hello\n", len);
	assert_int_equal(run_lines_feed(&l, 3, 2, "ld\n\nx", 5, false, &out, &len, &cap), 0);
	assert_memory_equal(out, " 3: hello\n 3: world\n 3: \n", len);
	/* The end of the stream flushes what is left, as it is. */
	assert_int_equal(run_lines_feed(&l, 3, 2, NULL, 0, true, &out, &len, &cap), 0);
	assert_memory_equal(out, " 3: hello\n 3: world\n 3: \n 3: x", len);
	assert_int_equal(l.len, 0);
	run_lines_free(&l);
	free(out);
}

static void test_patterns(void **state)
{
	(void)state;
	struct run_pattern_vars v = {
		.job_id = 42,
		.step_id = 3,
		.rank = 7,
		.node_index = 1,
		.node = "node2",
		.user = "alice",
		.job_name = "mpi",
	};
	char buf[128];

	assert_int_equal(run_pattern_expand("out-%j.%s-%t.txt", &v, buf, sizeof(buf)),
			 (int)strlen("out-42.3-7.txt"));
	assert_string_equal(buf, "out-42.3-7.txt");
	run_pattern_expand("%J/%N/%n/%u/%x/100%%", &v, buf, sizeof(buf));
	assert_string_equal(buf, "42.3/node2/1/alice/mpi/100%");
	run_pattern_expand("r%3t-%5j", &v, buf, sizeof(buf));
	assert_string_equal(buf, "r007-00042");
	/* Not a step variable: copied, as srun does. */
	run_pattern_expand("a%qb%", &v, buf, sizeof(buf));
	assert_string_equal(buf, "a%qb%");
	/* snprintf semantics. */
	assert_int_equal(run_pattern_expand("%N-%N", &v, buf, 4), 11);
	assert_string_equal(buf, "nod");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_options), cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_input),        cmocka_unit_test(test_refused),
		cmocka_unit_test(test_job_only),     cmocka_unit_test(test_alloc_mode),
		cmocka_unit_test(test_target_job),   cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_labels),       cmocka_unit_test(test_patterns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
