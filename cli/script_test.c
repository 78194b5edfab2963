/* script_test.c - pacer submit's rules: options, directives, --export and
 * the checks a batch script must pass. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "script.h"
#include "timefmt.h"

#define DECL(name, ...)                                 \
	char *name[] = { "submit", __VA_ARGS__, NULL }; \
	int name##_c = (int)(sizeof(name) / sizeof(name[0]) - 1)

static char err[1024];
static char tmpdir[256]; /* made by the group set-up, see below */

/* ---------------------------------------------------------------------------
 * Command line */

static void test_args_values(void **state)
{
	(void)state;
	DECL(argv, "-J", "name", "--nodes=2", "-n4", "--cpus-per-task", "3", "-t", "1:00:00", "-p",
	     "debug", "-o", "out-%j", "--error=err-%j", "-D", "sub", "--mem", "4G", "--export=NONE",
	     "-H", "--parsable", "job.sh", "-N", "7", "arg");
	struct submit_opts o;
	int first;

	submit_opts_init(&o);
	assert_int_equal(script_parse_args(&o, argv_c, argv, &first, err, sizeof(err)), 0);
	assert_int_equal(first, 21);
	assert_string_equal(argv[first], "job.sh");
	assert_string_equal(o.name, "name");
	assert_int_equal(o.nodes, 2);
	assert_int_equal(o.ntasks, 4);
	assert_int_equal(o.cpus_per_task, 3);
	assert_int_equal(o.time_limit, 3600);
	assert_string_equal(o.partition, "debug");
	assert_string_equal(o.output, "out-%j");
	assert_string_equal(o.error, "err-%j");
	assert_string_equal(o.chdir, "sub");
	assert_int_equal(o.mem_mb, 4096);
	assert_string_equal(o.export_spec, "NONE");
	assert_true(o.hold);
	assert_true(o.parsable);
	assert_false(o.help);
	assert_null(o.wrap);
	assert_int_equal(o.nwarnings, 0);
	assert_int_equal(o.set, (1u << SUBMIT_NAME) | (1u << SUBMIT_NODES) | (1u << SUBMIT_NTASKS) |
				    (1u << SUBMIT_CPUS) | (1u << SUBMIT_TIME) |
				    (1u << SUBMIT_PARTITION) | (1u << SUBMIT_OUTPUT) |
				    (1u << SUBMIT_ERROR) | (1u << SUBMIT_CHDIR) |
				    (1u << SUBMIT_MEM) | (1u << SUBMIT_EXPORT) |
				    (1u << SUBMIT_HOLD) | (1u << SUBMIT_PARSABLE));
	submit_opts_free(&o);
}

static void test_args_time(void **state)
{
	(void)state;
	struct submit_opts o;
	int first;
	DECL(zero, "-t", "0");
	DECL(unl, "--time=UNLIMITED");
	DECL(mins, "-t90");

	submit_opts_init(&o);
	assert_int_equal(script_parse_args(&o, zero_c, zero, &first, err, sizeof(err)), 0);
	/* As sbatch: zero asks for no limit, and 0 on the wire means "unset". */
	assert_int_equal(o.time_limit, TIMEFMT_UNLIMITED);
	assert_int_equal(script_parse_args(&o, unl_c, unl, &first, err, sizeof(err)), 0);
	assert_int_equal(o.time_limit, TIMEFMT_UNLIMITED);
	assert_int_equal(script_parse_args(&o, mins_c, mins, &first, err, sizeof(err)), 0);
	assert_int_equal(o.time_limit, 5400);
	assert_int_equal(first, 2);
	submit_opts_free(&o);
}

static void test_args_wrap_and_help(void **state)
{
	(void)state;
	DECL(argv, "--wrap", "echo hi", "-h");
	struct submit_opts o;
	int first;

	submit_opts_init(&o);
	assert_int_equal(script_parse_args(&o, argv_c, argv, &first, err, sizeof(err)), 0);
	assert_string_equal(o.wrap, "echo hi");
	assert_true(o.help);
	assert_int_equal(first, 4);
	submit_opts_free(&o);
}

/* Parsing ARGV fails with MSG; USAGE says whether it is a syntax error. */
static void expect_args_error(char **argv, int argc, bool usage, const char *msg)
{
	struct submit_opts o;
	int first;

	submit_opts_init(&o);
	assert_int_equal(script_parse_args(&o, argc, argv, &first, err, sizeof(err)), -1);
	assert_string_equal(err, msg);
	assert_int_equal(o.usage_error, usage);
	submit_opts_free(&o);
}

#define ARGS_ERROR(usage, msg, ...)                    \
	do {                                           \
		DECL(v, __VA_ARGS__);                  \
		expect_args_error(v, v_c, usage, msg); \
	} while (0)

static void test_args_errors(void **state)
{
	(void)state;
	ARGS_ERROR(true, "unknown option '--foo'", "--foo", "job.sh");
	ARGS_ERROR(true, "option '--time' needs a value", "--time");
	ARGS_ERROR(false, "invalid value '0' for -N (give a whole number of at least 1)", "-N",
		   "0");
	ARGS_ERROR(false, "invalid value '0' for --ntasks (give a whole number of at least 1)",
		   "--ntasks=0");
	ARGS_ERROR(false, "invalid value '0' for -c (give a whole number of at least 1)", "-c0");
	ARGS_ERROR(false, "invalid value '-1' for -n (give a whole number of at least 1)", "-n",
		   "-1");
	ARGS_ERROR(false, "invalid value 'two' for --nodes (give a whole number of at least 1)",
		   "--nodes", "two");
	ARGS_ERROR(false,
		   "invalid value '2-4' for -N (a range of node counts is not supported: give an "
		   "exact count, like -N 2)",
		   "-N", "2-4");
	ARGS_ERROR(false,
		   "invalid value '1-10' for --nodes (a range of node counts is not supported: "
		   "give an exact count, like --nodes 1)",
		   "--nodes=1-10");
	ARGS_ERROR(false,
		   "invalid value '4294967296' for -n (give a whole number of at least "
		   "1)",
		   "-n", "4294967296");
	ARGS_ERROR(false, "invalid value ' 1' for -n (give a whole number of at least 1)", "-n",
		   " 1");
	ARGS_ERROR(false,
		   "bad value for -t: invalid time \"1:99\": seconds must be below 60 "
		   "(formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)",
		   "-t", "1:99");
	ARGS_ERROR(false,
		   "invalid value '4X' for --mem (give a size like 512M, 4G or 1T; a "
		   "plain number is MiB)",
		   "--mem=4X");
	ARGS_ERROR(false, "empty value for -J (give a value or leave the option out)", "-J", "");
	ARGS_ERROR(false,
		   "invalid variable name '1X' in --export (names are letters, digits "
		   "and _, not starting with a digit)",
		   "--export=ALL,1X=2");
}

static void test_args_unsupported(void **state)
{
	(void)state;
	DECL(argv, "--requeue", "-A", "acct", "--begin=now", "--mail-type", "END", "-q", "high",
	     "--gpus-per-task=1", "job.sh");
	struct submit_opts o;
	int first;

	submit_opts_init(&o);
	assert_int_equal(script_parse_args(&o, argv_c, argv, &first, err, sizeof(err)), 0);
	assert_string_equal(argv[first], "job.sh");
	assert_int_equal(o.nwarnings, 6);
	assert_string_equal(o.warnings[0], "--requeue is not supported yet and was ignored");
	assert_string_equal(o.warnings[1], "--account is not supported yet and was ignored");
	assert_string_equal(o.warnings[2], "--begin is not supported yet and was ignored");
	assert_string_equal(o.warnings[3], "--mail-type is not supported yet and was ignored");
	assert_string_equal(o.warnings[4], "--qos is not supported yet and was ignored");
	assert_string_equal(o.warnings[5], "--gpus-per-task is not supported yet and was ignored");
	assert_int_equal(o.set, 0);
	submit_opts_free(&o);
}

/* Every placement and scheduling option, in its Slurm spellings. */
static void test_args_placement(void **state)
{
	(void)state;
	DECL(argv, "--ntasks-per-node=4", "--ntasks-per-socket", "2", "--exclusive",
	     "--mem-per-cpu=2G", "-G", "3", "--gpus-per-node=2", "-w", "n[1-2]", "-xn3", "-C",
	     "ib&fast", "-m", "Cyclic:block", "--cpu-bind=verbose,map_cpu:0x1,2",
	     "--hint=multithread", "--nice", "-a", "0-9:3%2", "-d", "afterok:5:6_1", "job.sh");
	struct submit_opts o;
	int first;

	submit_opts_init(&o);
	assert_int_equal(script_parse_args(&o, argv_c, argv, &first, err, sizeof(err)), 0);
	assert_string_equal(argv[first], "job.sh");
	assert_int_equal(o.nwarnings, 0);
	assert_int_equal(o.ntasks_per_node, 4);
	assert_int_equal(o.ntasks_per_socket, 2);
	assert_true(o.exclusive);
	assert_int_equal(o.mem_per_cpu_mb, 2048);
	assert_int_equal(o.gpus, 3);
	assert_int_equal(o.gpus_per_node, 2);
	assert_string_equal(o.nodelist, "n[1-2]");
	assert_string_equal(o.exclude, "n3");
	assert_string_equal(o.constraint, "ib&fast");
	assert_string_equal(o.distribution, "cyclic:block");
	assert_string_equal(o.cpu_bind, "map_cpu:1,2,verbose");
	assert_true(o.multithread);
	assert_int_equal(o.nice, 100);
	assert_string_equal(o.array, "0-9:3%2");
	assert_int_equal(o.array_max_running, 2);
	assert_string_equal(o.dependency, "afterok:5:6_1");
	static const enum submit_opt set[] = {
		SUBMIT_NTASKS_PER_NODE,
		SUBMIT_NTASKS_PER_SOCKET,
		SUBMIT_EXCLUSIVE,
		SUBMIT_MEM_PER_CPU,
		SUBMIT_GPUS,
		SUBMIT_GPUS_PER_NODE,
		SUBMIT_NODELIST,
		SUBMIT_EXCLUDE,
		SUBMIT_CONSTRAINT,
		SUBMIT_DISTRIBUTION,
		SUBMIT_CPU_BIND,
		SUBMIT_HINT,
		SUBMIT_NICE,
		SUBMIT_ARRAY,
		SUBMIT_DEPENDENCY,
	};
	uint64_t want = 0;
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		want |= SUBMIT_BIT(set[i]);
	assert_true(o.set == want);
	submit_opts_free(&o);

	/* --gres=gpu:N is --gpus-per-node=N; the later one wins. */
	DECL(gres, "--gpus-per-node=2", "--gres=gpu:5", "--nice=-5", "--hint=nomultithread");
	submit_opts_init(&o);
	assert_int_equal(script_parse_args(&o, gres_c, gres, &first, err, sizeof(err)), 0);
	assert_int_equal(o.gpus_per_node, 5);
	assert_int_equal(o.nice, -5);
	assert_false(o.multithread);
	assert_true(o.set & SUBMIT_BIT(SUBMIT_HINT));
	submit_opts_free(&o);
}

static void test_args_placement_errors(void **state)
{
	(void)state;
	ARGS_ERROR(false,
		   "bad value for --gpus: 'v100:2' names a GPU type, and GPU types are not "
		   "supported yet (give a count only, like 2)",
		   "--gpus=v100:2");
	ARGS_ERROR(false,
		   "bad value for -G: 'a100:1' names a GPU type, and GPU types are not "
		   "supported yet (give a count only, like 2)",
		   "-G", "a100:1");
	ARGS_ERROR(false,
		   "bad value for --gres: 'mps' is not a resource Pacer schedules: --gres takes "
		   "GPUs only (gpu or gpu:N)",
		   "--gres=mps:50");
	ARGS_ERROR(false,
		   "bad value for -m: the plane distribution is not supported (use block or "
		   "cyclic, and :block or :cyclic for the sockets)",
		   "-m", "plane=2");
	ARGS_ERROR(false,
		   "bad value for --cpu-bind: unknown binding 'bogus' (use none, cores, threads, "
		   "sockets or map_cpu:LIST, with ,verbose if you like)",
		   "--cpu-bind=bogus");
	ARGS_ERROR(false,
		   "bad value for --array: range '9-1' ends below its start (write it LOW-HIGH, "
		   "like 0-99)",
		   "--array=9-1");
	ARGS_ERROR(false,
		   "bad value for -d: unknown dependency type 'before' (use after, afterany, "
		   "afterok, afternotok or singleton)",
		   "-d", "before:3");
	ARGS_ERROR(false,
		   "bad value for --exclusive: --exclusive=user is not supported (give "
		   "--exclusive alone: the job gets whole nodes)",
		   "--exclusive=user");
	ARGS_ERROR(false,
		   "bad value for -w: 'n[1-' is not a host list (write names like "
		   "node[1-4,7],login1)",
		   "-w", "n[1-");
	ARGS_ERROR(false,
		   "invalid value '0' for --ntasks-per-node (give a whole number of at least 1)",
		   "--ntasks-per-node=0");
	ARGS_ERROR(false,
		   "invalid value 'lots' for --mem-per-cpu (give a size like 512M, 4G or 1T; a "
		   "plain number is MiB)",
		   "--mem-per-cpu=lots");
	/* --nice takes its value only after '=', as sbatch: "5" is the script. */
	ARGS_ERROR(false,
		   "bad value for --nice: 'x' is not a nice value (give a whole number from "
		   "-2147483645 to 2147483645; --nice alone is 100)",
		   "--nice=x");
	/* Per node or per CPU, not both (as sbatch). */
	ARGS_ERROR(false,
		   "--mem-per-cpu cannot be combined with --mem (give memory per node with --mem, "
		   "or per CPU with --mem-per-cpu, not both)",
		   "--mem=1G", "--mem-per-cpu=1G");
	ARGS_ERROR(false,
		   "--mem cannot be combined with --mem-per-cpu (give memory per node with "
		   "--mem, or per CPU with --mem-per-cpu, not both)",
		   "--mem-per-cpu=1G", "--mem", "4G");
}

/* ---------------------------------------------------------------------------
 * Splitting directive text */

static void expect_split(const char *text, int n, const char *const *want)
{
	char **argv;
	int argc;

	assert_int_equal(script_split(text, &argv, &argc, err, sizeof(err)), 0);
	assert_int_equal(argc, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[n]);
	script_argv_free(argv);
}

static void test_split(void **state)
{
	(void)state;
	expect_split("", 0, NULL);
	expect_split("   \t ", 0, NULL);
	expect_split(" -N 2  --time=1:00 ", 3, (const char *[]){ "-N", "2", "--time=1:00" });
	expect_split("--job-name=\"my job\" -o 'out file'", 3,
		     (const char *[]){ "--job-name=my job", "-o", "out file" });
	expect_split("a\\ b \"q\\\"x\\\\y\\n\" 'no\\escape'", 3,
		     (const char *[]){ "a b", "q\"x\\y\\n", "no\\escape" });
	expect_split("-J x # a comment -N 5", 2, (const char *[]){ "-J", "x" });
	expect_split("-J a#b", 2, (const char *[]){ "-J", "a#b" });
	expect_split("-J ''", 2, (const char *[]){ "-J", "" });
}

static void test_split_errors(void **state)
{
	(void)state;
	char **argv = NULL;
	int argc;

	assert_int_equal(script_split("-J 'abc", &argv, &argc, err, sizeof(err)), -1);
	assert_string_equal(err, "unterminated ' quote (close it on the same line)");
	assert_int_equal(script_split("-J \"abc", &argv, &argc, err, sizeof(err)), -1);
	assert_string_equal(err, "unterminated \" quote (close it on the same line)");
	assert_null(argv);
}

/* ---------------------------------------------------------------------------
 * Checks on the script */

#define CHECK_SCRIPT(lit) script_check(lit, sizeof(lit) - 1, "job.sh", err, sizeof(err))

static void test_check(void **state)
{
	(void)state;
	assert_int_equal(CHECK_SCRIPT("#!/bin/sh\necho hi\n"), 0);
	assert_int_equal(CHECK_SCRIPT("#!/usr/bin/env python3\nprint(1)"), 0);

	assert_int_equal(CHECK_SCRIPT("#!/bin/sh\n\x7f"
				      "ELF\0\0\0"),
			 -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err, "job.sh looks like a binary file, not a batch script (pass a "
				 "shell script, or use --wrap \"CMD\")");

	static const char shebang[] =
	    "job.sh does not look like a batch script: its first line must start with #! and "
	    "the path to an interpreter, like #!/bin/sh";
	assert_int_equal(CHECK_SCRIPT("echo hi\n"), -1);
	assert_string_equal(err, shebang);
	assert_int_equal(CHECK_SCRIPT(""), -1);
	assert_string_equal(err, shebang);
	assert_int_equal(CHECK_SCRIPT("\n#!/bin/sh\n"), -1);
	assert_string_equal(err, shebang);

	assert_int_equal(CHECK_SCRIPT("#!/bin/sh\r\necho hi\r\n"), -1);
	assert_string_equal(err, "job.sh has DOS line breaks (\\r\\n) instead of UNIX ones (\\n) "
				 "(convert it with dos2unix)");
}

/* ---------------------------------------------------------------------------
 * Directives */

static int directives(struct submit_opts *o, const char *text)
{
	submit_opts_init(o);
	return script_parse_directives(o, text, strlen(text), "job.sh", err, sizeof(err));
}

static void test_directives(void **state)
{
	(void)state;
	struct submit_opts o;

	assert_int_equal(directives(&o, "#!/bin/bash\n"
					"#SBATCH -J first --nodes=2\n"
					"\n"
					"   \n"
					"# a comment\n"
					"#PACER --time 10 -o \"out %j.txt\"\n"
					"#SBATCH\n"
					"## SBATCH -N 9\n"
					"# SBATCH -N 9\n"
					"#SBATCHX -N 9\n"
					"#SBATCH -J second # the later one wins\n"
					"module load x\n"
					"#SBATCH -N 5\n"
					"echo done\n"),
			 0);
	assert_string_equal(o.name, "second");
	assert_int_equal(o.nodes, 2);
	assert_int_equal(o.time_limit, 600);
	assert_string_equal(o.output, "out %j.txt");
	assert_int_equal(o.nwarnings, 0);
	submit_opts_free(&o);
}

static void test_directives_no_trailing_newline(void **state)
{
	(void)state;
	struct submit_opts o;

	assert_int_equal(directives(&o, "#!/bin/sh\n#SBATCH -n 3"), 0);
	assert_int_equal(o.ntasks, 3);
	submit_opts_free(&o);
	/* The shebang line itself is never a directive. */
	assert_int_equal(directives(&o, "#!/bin/sh #SBATCH -n 3\n"), 0);
	assert_int_equal(o.ntasks, 0);
	submit_opts_free(&o);
}

static void test_directive_warnings(void **state)
{
	(void)state;
	struct submit_opts o;

	assert_int_equal(directives(&o, "#!/bin/sh\n"
					"#SBATCH --requeue\n"
					"#SBATCH --mail-user=me@example.org --mail-type=ALL\n"
					"#SBATCH --qos normal -N 1\n"),
			 0);
	assert_int_equal(o.nwarnings, 4);
	assert_string_equal(o.warnings[0],
			    "job.sh:2: --requeue is not supported yet and was ignored");
	assert_string_equal(o.warnings[1],
			    "job.sh:3: --mail-user is not supported yet and was ignored");
	assert_string_equal(o.warnings[2],
			    "job.sh:3: --mail-type is not supported yet and was ignored");
	assert_string_equal(o.warnings[3], "job.sh:4: --qos is not supported yet and was ignored");
	assert_int_equal(o.nodes, 1);
	submit_opts_free(&o);
}

static void expect_directive_error(const char *text, const char *msg)
{
	struct submit_opts o;

	assert_int_equal(directives(&o, text), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err, msg);
	submit_opts_free(&o);
}

static void test_directive_errors(void **state)
{
	(void)state;
	expect_directive_error("#!/bin/sh\n#SBATCH -N 1\n#SBATCH --frob\n",
			       "job.sh:3: unknown option '--frob' in #SBATCH line");
	expect_directive_error("#!/bin/sh\n\n#PACER -z\n",
			       "job.sh:3: unknown option '-z' in #PACER line");
	expect_directive_error("#!/bin/sh\n#SBATCH -N 0\n",
			       "job.sh:2: invalid value '0' for -N in #SBATCH line (give a whole "
			       "number of at least 1)");
	expect_directive_error("#!/bin/sh\n#SBATCH --time=soon\n",
			       "job.sh:2: bad value for --time in #SBATCH line: invalid time "
			       "\"soon\": unexpected character 's' (formats: MM, MM:SS, HH:MM:SS, "
			       "D-HH, D-HH:MM, D-HH:MM:SS)");
	expect_directive_error("#!/bin/sh\n#SBATCH --mem=lots\n",
			       "job.sh:2: invalid value 'lots' for --mem in #SBATCH line (give a "
			       "size like 512M, 4G or 1T; a plain number is MiB)");
	expect_directive_error("#!/bin/sh\n#SBATCH -J x extra\n",
			       "job.sh:2: unexpected argument 'extra' in #SBATCH line (only "
			       "options belong there; pass script arguments after the script "
			       "name)");
	expect_directive_error("#!/bin/sh\n#SBATCH -J 'x\n",
			       "job.sh:2: unterminated ' quote (close it on the same line) in "
			       "#SBATCH line");
	expect_directive_error("#!/bin/sh\n#SBATCH --wrap=ls\n",
			       "job.sh:2: --wrap cannot be used in #SBATCH line (give it on the "
			       "command line)");
	expect_directive_error("#!/bin/sh\n#SBATCH --time\n",
			       "job.sh:2: option '--time' needs a value in #SBATCH line");
	expect_directive_error("#!/bin/sh\n#SBATCH -N 2\n#PACER --gres=gpu:k80:2\n",
			       "job.sh:3: bad value for --gres in #PACER line: 'gpu:k80:2': GPU "
			       "types are not supported yet and the count must be a whole number "
			       "(give gpu:N, like gpu:2)");
	expect_directive_error("#!/bin/sh\n#SBATCH --nodes=1-4\n",
			       "job.sh:2: invalid value '1-4' for --nodes in #SBATCH line (a range "
			       "of node counts is not supported: give an exact count, like --nodes "
			       "1)");
	expect_directive_error("#!/bin/sh\n#SBATCH --dependency=afterok:1?afterok:2,singleton\n",
			       "job.sh:2: bad value for --dependency in #SBATCH line: "
			       "'afterok:1?afterok:2,singleton' mixes ',' (all must hold) and '?' "
			       "(one is enough): use one of them");
	/* Both memory options in the script: the line of the second is named. */
	expect_directive_error("#!/bin/sh\n#SBATCH --mem=4G\n# note\n#SBATCH --mem-per-cpu=1G\n",
			       "job.sh:4: --mem-per-cpu in #SBATCH line cannot be combined with "
			       "--mem (give memory per node with --mem, or per CPU with "
			       "--mem-per-cpu, not both)");
}

static void test_directives_placement(void **state)
{
	(void)state;
	struct submit_opts o;

	assert_int_equal(directives(&o, "#!/bin/sh\n"
					"#SBATCH --array=1-8%2 --dependency=singleton\n"
					"#SBATCH --exclusive --gres=gpu -C 'a|b'\n"
					"#PACER --cpu-bind=cores -m block:cyclic --nice=7\n"),
			 0);
	assert_int_equal(o.nwarnings, 0);
	assert_string_equal(o.array, "1-8%2");
	assert_int_equal(o.array_max_running, 2);
	assert_string_equal(o.dependency, "singleton");
	assert_true(o.exclusive);
	assert_int_equal(o.gpus_per_node, 1);
	assert_string_equal(o.constraint, "a|b");
	assert_string_equal(o.cpu_bind, "cores");
	assert_string_equal(o.distribution, "block:cyclic");
	assert_int_equal(o.nice, 7);
	submit_opts_free(&o);
}

static void test_merge(void **state)
{
	(void)state;
	struct submit_opts dir, cl;
	int first;
	DECL(argv, "-N", "3", "-J", "cmdline", "--requeue", "--array=1-2", "--cpu-bind=none",
	     "job.sh");

	assert_int_equal(directives(&dir, "#!/bin/sh\n"
					  "#SBATCH -N 1 -n 8 -J script --hold --comment=x\n"
					  "#SBATCH --array=0-99%5 --gpus=2 --cpu-bind=cores\n"),
			 0);
	submit_opts_init(&cl);
	assert_int_equal(script_parse_args(&cl, argv_c, argv, &first, err, sizeof(err)), 0);
	submit_opts_merge(&dir, &cl);
	assert_int_equal(dir.nodes, 3);
	assert_int_equal(dir.ntasks, 8);
	assert_string_equal(dir.name, "cmdline");
	assert_true(dir.hold);
	assert_string_equal(dir.array, "1-2");
	/* The %N goes with the --array it came with. */
	assert_int_equal(dir.array_max_running, 0);
	assert_int_equal(dir.gpus, 2);
	assert_string_equal(dir.cpu_bind, "none");
	assert_int_equal(dir.nwarnings, 2);
	assert_string_equal(dir.warnings[0], "job.sh:2: --comment is not supported yet and was "
					     "ignored");
	assert_string_equal(dir.warnings[1], "--requeue is not supported yet and was ignored");
	assert_null(cl.name);
	assert_int_equal(cl.nwarnings, 0);
	submit_opts_free(&dir);
	submit_opts_free(&cl);
}

/* The command line's memory option replaces the script's other one. */
static void test_merge_memory(void **state)
{
	(void)state;
	struct submit_opts dir, cl;
	int first;
	DECL(per_cpu, "--mem-per-cpu=1G");
	DECL(per_node, "--mem=8G");

	assert_int_equal(directives(&dir, "#!/bin/sh\n#SBATCH --mem=4G\n"), 0);
	submit_opts_init(&cl);
	assert_int_equal(script_parse_args(&cl, per_cpu_c, per_cpu, &first, err, sizeof(err)), 0);
	submit_opts_merge(&dir, &cl);
	assert_int_equal(dir.mem_mb, 0);
	assert_int_equal(dir.mem_per_cpu_mb, 1024);
	assert_false(dir.set & SUBMIT_BIT(SUBMIT_MEM));
	assert_true(dir.set & SUBMIT_BIT(SUBMIT_MEM_PER_CPU));
	submit_opts_free(&dir);

	assert_int_equal(directives(&dir, "#!/bin/sh\n#SBATCH --mem-per-cpu=2G\n"), 0);
	submit_opts_init(&cl);
	assert_int_equal(script_parse_args(&cl, per_node_c, per_node, &first, err, sizeof(err)), 0);
	submit_opts_merge(&dir, &cl);
	assert_int_equal(dir.mem_mb, 8192);
	assert_int_equal(dir.mem_per_cpu_mb, 0);
	assert_true(dir.set & SUBMIT_BIT(SUBMIT_MEM));
	assert_false(dir.set & SUBMIT_BIT(SUBMIT_MEM_PER_CPU));
	submit_opts_free(&dir);
	submit_opts_free(&cl);
}

/* ---------------------------------------------------------------------------
 * --export */

static char *test_env[] = { "HOME=/home/a", "PATH=/bin", "EMPTY=", "X=1=2", NULL };

static void expect_env(const char *spec, size_t n, const char *const *want)
{
	char **env;
	size_t got;

	assert_int_equal(script_export_env(spec, test_env, &env, &got, err, sizeof(err)), 0);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(env[i], want[i]);
	assert_null(env[n]);
	script_argv_free(env);
}

static void test_export(void **state)
{
	(void)state;
	const char *const all[] = { "HOME=/home/a", "PATH=/bin", "EMPTY=", "X=1=2" };

	expect_env(NULL, 4, all);
	expect_env("ALL", 4, all);
	expect_env("all", 4, all);
	expect_env("NONE", 0, NULL);
	expect_env("PATH", 1, (const char *[]){ "PATH=/bin" });
	expect_env("PATH,UNSET,X", 2, (const char *[]){ "PATH=/bin", "X=1=2" });
	expect_env("A=b,PATH=/usr/bin:/bin", 2, (const char *[]){ "A=b", "PATH=/usr/bin:/bin" });
	expect_env("ALL,PATH=/opt/bin,NEW=v", 5,
		   (const char *[]){ "HOME=/home/a", "PATH=/opt/bin", "EMPTY=", "X=1=2", "NEW=v" });
	expect_env("EMPTY=x,ALL", 4,
		   (const char *[]){ "HOME=/home/a", "PATH=/bin", "EMPTY=x", "X=1=2" });
	expect_env("V=,V=2", 1, (const char *[]){ "V=2" });
	expect_env("NONE,HOME", 1, (const char *[]){ "HOME=/home/a" });
}

static void expect_export_error(const char *spec, const char *msg)
{
	char **env = NULL;
	size_t n;

	assert_int_equal(script_export_check(spec, err, sizeof(err)), -1);
	assert_string_equal(err, msg);
	err[0] = '\0';
	assert_int_equal(script_export_env(spec, test_env, &env, &n, err, sizeof(err)), -1);
	assert_string_equal(err, msg);
	assert_null(env);
}

static void test_export_errors(void **state)
{
	(void)state;
	expect_export_error("", "empty --export (give ALL, NONE or a list of variables)");
	expect_export_error("A,,B", "empty entry in --export 'A,,B' (separate variables with "
				    "single commas)");
	expect_export_error("ALL,", "empty entry in --export 'ALL,' (separate variables with "
				    "single commas)");
	expect_export_error("ALL,NONE", "--export 'ALL,NONE' holds both ALL and NONE (choose "
					"one)");
	expect_export_error("MY-VAR", "invalid variable name 'MY-VAR' in --export (names are "
				      "letters, digits and _, not starting with a digit)");
	expect_export_error("=x", "invalid variable name '' in --export (names are letters, "
				  "digits and _, not starting with a digit)");
	assert_int_equal(script_export_check("ALL,_A1=x,B", err, sizeof(err)), 0);
}

/* ---------------------------------------------------------------------------
 * The JobSpec */

static void test_workdir(void **state)
{
	(void)state;
	char *s;

	s = script_workdir(NULL, "/home/a");
	assert_string_equal(s, "/home/a");
	free(s);
	s = script_workdir("run/1", "/home/a");
	assert_string_equal(s, "/home/a/run/1");
	free(s);
	s = script_workdir("x", "/");
	assert_string_equal(s, "/x");
	free(s);
	s = script_workdir("/scratch", "/home/a");
	assert_string_equal(s, "/scratch");
	free(s);
}

static void test_build_spec(void **state)
{
	(void)state;
	struct submit_opts o;
	Pacer__JobSpec spec = PACER__JOB_SPEC__INIT;
	char *args[] = { "a", "b" }, *env[] = { "A=1" };
	static const char script[] = "#!/bin/sh\necho\n";
	struct submit_input in = {
		.script = script,
		.script_len = sizeof(script) - 1,
		.argv = args,
		.argc = 2,
		.env = env,
		.nenv = 1,
		.default_name = "job.sh",
		.workdir = "/w",
		.cwd = "/c",
		.host = "login1",
	};
	int first;
	DECL(argv, "-N2", "--mem=1G", "-t", "5", "--hold", "job.sh");

	submit_opts_init(&o);
	script_build_spec(&o, &in, &spec);
	assert_string_equal(spec.name, "job.sh");
	assert_int_equal(spec.nodes, 0);
	assert_int_equal(spec.time_limit, 0);
	assert_string_equal(spec.partition, "");
	assert_string_equal(spec.stdout_pattern, "");
	assert_false(spec.hold);

	assert_int_equal(script_parse_args(&o, argv_c, argv, &first, err, sizeof(err)), 0);
	script_build_spec(&o, &in, &spec);
	assert_int_equal(spec.nodes, 2);
	assert_int_equal(spec.ntasks, 0);
	assert_int_equal(spec.cpus_per_task, 0);
	assert_int_equal(spec.mem_mb, 1024);
	assert_int_equal(spec.time_limit, 300);
	assert_string_equal(spec.workdir, "/w");
	assert_memory_equal(spec.script.data, script, sizeof(script) - 1);
	assert_int_equal(spec.script.len, sizeof(script) - 1);
	assert_int_equal(spec.n_argv, 2);
	assert_string_equal(spec.argv[1], "b");
	assert_int_equal(spec.n_env, 1);
	assert_true(spec.hold);
	assert_string_equal(spec.submit_dir, "/c");
	assert_string_equal(spec.submit_host, "login1");
	/* Options not given go out empty: the controller applies defaults. */
	assert_int_equal(spec.ntasks_per_node, 0);
	assert_false(spec.exclusive);
	assert_string_equal(spec.nodelist, "");
	assert_string_equal(spec.distribution, "");
	assert_string_equal(spec.cpu_bind, "");
	assert_string_equal(spec.array, "");
	assert_string_equal(spec.dependency, "");
	assert_int_equal(spec.nice, 0);
	submit_opts_free(&o);

	DECL(more, "--ntasks-per-node=2", "--ntasks-per-socket=1", "--exclusive",
	     "--mem-per-cpu=512", "-G2", "--gres=gpu:1", "-w", "a[1-2]", "-x", "b", "-C", "x|y",
	     "-m", "cyclic", "--cpu-bind=sockets,v", "--hint=multithread", "--nice=-3", "-a",
	     "1-4%1", "-d", "afterany:9", "job.sh");
	submit_opts_init(&o);
	assert_int_equal(script_parse_args(&o, more_c, more, &first, err, sizeof(err)), 0);
	script_build_spec(&o, &in, &spec);
	assert_int_equal(spec.ntasks_per_node, 2);
	assert_int_equal(spec.ntasks_per_socket, 1);
	assert_true(spec.exclusive);
	assert_int_equal(spec.mem_per_cpu_mb, 512);
	assert_int_equal(spec.gpus, 2);
	assert_int_equal(spec.gpus_per_node, 1);
	assert_string_equal(spec.nodelist, "a[1-2]");
	assert_string_equal(spec.exclude, "b");
	assert_string_equal(spec.constraint, "x|y");
	assert_string_equal(spec.distribution, "cyclic");
	assert_string_equal(spec.cpu_bind, "sockets,verbose");
	assert_true(spec.multithread);
	assert_int_equal(spec.nice, -3);
	assert_string_equal(spec.array, "1-4%1");
	assert_int_equal(spec.array_max_running, 1);
	assert_string_equal(spec.dependency, "afterany:9");
	submit_opts_free(&o);
}

/* -w with a '/' reads the file, relative to where pacer submit runs. */
static void test_nodelist_file(void **state)
{
	(void)state;
	struct submit_opts o;
	char path[512];
	int first;
	FILE *f;

	snprintf(path, sizeof(path), "%s/hosts", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("n1\nn2\nn3\nn7\n", f);
	fclose(f);
	char *argv[] = { "submit", "--nodelist", path, "job.sh", NULL };
	submit_opts_init(&o);
	assert_int_equal(script_parse_args(&o, 4, argv, &first, err, sizeof(err)), 0);
	assert_string_equal(o.nodelist, "n[1-3,7]");
	submit_opts_free(&o);
}

/* ---------------------------------------------------------------------------
 * Reading a script */

static int make_tmpdir(void **state)
{
	(void)state;
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/pacer-cli-XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, size_t size)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("#!/bin/sh\n", f);
	for (size_t i = 10; i < size; i++)
		fputc(i % 64 == 63 ? '\n' : '#', f);
	fclose(f);
}

static void test_read(void **state)
{
	(void)state;
	char path[512], *buf;
	size_t len;

	snprintf(path, sizeof(path), "%s/ok.sh", tmpdir);
	write_file(path, SCRIPT_MAX_SIZE);
	assert_int_equal(script_read(path, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, SCRIPT_MAX_SIZE);
	assert_memory_equal(buf, "#!/bin/sh\n#", 11);
	assert_int_equal(buf[len], '\0');
	free(buf);

	snprintf(path, sizeof(path), "%s/big.sh", tmpdir);
	write_file(path, SCRIPT_MAX_SIZE + 1);
	assert_int_equal(script_read(path, &buf, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, EFBIG);
	char want[600];
	snprintf(want, sizeof(want),
		 "%s is larger than 4 MiB (a batch script should be small: "
		 "keep data in separate files)",
		 path);
	assert_string_equal(err, want);

	snprintf(path, sizeof(path), "%s/missing.sh", tmpdir);
	assert_int_equal(script_read(path, &buf, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	snprintf(want, sizeof(want),
		 "cannot open script '%s': No such file or directory "
		 "(check the path)",
		 path);
	assert_string_equal(err, want);

	assert_int_equal(script_read(tmpdir, &buf, &len, err, sizeof(err)), -1);
	assert_int_equal(errno, EISDIR);
	snprintf(want, sizeof(want),
		 "'%s' is a directory, not a batch script (pass a script "
		 "file)",
		 tmpdir);
	assert_string_equal(err, want);
}

static void test_read_stdin(void **state)
{
	(void)state;
	char path[512], *buf;
	size_t len;
	int saved = dup(STDIN_FILENO), fd;

	snprintf(path, sizeof(path), "%s/in.sh", tmpdir);
	write_file(path, 100);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	dup2(fd, STDIN_FILENO);
	close(fd);
	assert_int_equal(script_read("-", &buf, &len, err, sizeof(err)), 0);
	dup2(saved, STDIN_FILENO);
	close(saved);
	assert_int_equal(len, 100);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_values),
		cmocka_unit_test(test_args_time),
		cmocka_unit_test(test_args_wrap_and_help),
		cmocka_unit_test(test_args_errors),
		cmocka_unit_test(test_args_unsupported),
		cmocka_unit_test(test_args_placement),
		cmocka_unit_test(test_args_placement_errors),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_directives),
		cmocka_unit_test(test_directives_no_trailing_newline),
		cmocka_unit_test(test_directive_warnings),
		cmocka_unit_test(test_directive_errors),
		cmocka_unit_test(test_directives_placement),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_memory),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_export_errors),
		cmocka_unit_test(test_workdir),
		cmocka_unit_test(test_build_spec),
		cmocka_unit_test(test_nodelist_file),
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_read_stdin),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
