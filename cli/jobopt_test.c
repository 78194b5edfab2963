/* jobopt_test.c - the values of submit's placement and scheduling
 * options: what is taken, how it is written for the controller, and what
 * is refused with which words. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostlist.h"
#include "jobopt.h"

static char why[1024];

#define REFUSED(call, msg)                       \
	do {                                     \
		why[0] = '\0';                   \
		errno = 0;                       \
		assert_int_equal((call), -1);    \
		assert_int_equal(errno, EINVAL); \
		assert_string_equal(why, (msg)); \
	} while (0)

/* ---------------------------------------------------------------------------
 * GPUs */

static void test_gpus(void **state)
{
	uint32_t n = 99;

	(void)state;
	assert_int_equal(jobopt_gpu_count("2", &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(jobopt_gpu_count("0", &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(jobopt_gpu_count("4294967295", &n, why, sizeof(why)), 0);
	assert_int_equal(n, UINT32_MAX);
	REFUSED(jobopt_gpu_count("v100:2", &n, why, sizeof(why)),
		"'v100:2' names a GPU type, and GPU types are not supported yet (give a count "
		"only, like 2)");
	REFUSED(jobopt_gpu_count("two", &n, why, sizeof(why)),
		"'two' is not a GPU count (give a whole number like 2)");
	REFUSED(jobopt_gpu_count("", &n, why, sizeof(why)),
		"'' is not a GPU count (give a whole number like 2)");
	REFUSED(jobopt_gpu_count("4294967296", &n, why, sizeof(why)),
		"'4294967296' is not a GPU count (give a whole number like 2)");
	REFUSED(jobopt_gpu_count("-1", &n, why, sizeof(why)),
		"'-1' is not a GPU count (give a whole number like 2)");
	/* A refused value leaves the count as it was. */
	assert_int_equal(n, UINT32_MAX);
}

static void test_gres(void **state)
{
	uint32_t n = 99;

	(void)state;
	assert_int_equal(jobopt_gres("gpu:4", &n, why, sizeof(why)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(jobopt_gres("gpu", &n, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(jobopt_gres("none", &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(jobopt_gres("gpu:0", &n, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	REFUSED(jobopt_gres("mps:100", &n, why, sizeof(why)),
		"'mps' is not a resource Pacer schedules: --gres takes GPUs only (gpu or "
		"gpu:N)");
	REFUSED(jobopt_gres("gpu:2,mps:100", &n, why, sizeof(why)),
		"'mps' is not a resource Pacer schedules: --gres takes GPUs only (gpu or "
		"gpu:N)");
	REFUSED(jobopt_gres("gpu:v100:2", &n, why, sizeof(why)),
		"'gpu:v100:2': GPU types are not supported yet and the count must be a whole "
		"number (give gpu:N, like gpu:2)");
	REFUSED(jobopt_gres("gpu:v100", &n, why, sizeof(why)),
		"'gpu:v100': GPU types are not supported yet and the count must be a whole "
		"number (give gpu:N, like gpu:2)");
	REFUSED(jobopt_gres("gpu:1,gpu:2", &n, why, sizeof(why)),
		"gpu is given twice in 'gpu:1,gpu:2' (give it once: gpu:N)");
	REFUSED(jobopt_gres("gpu:1,", &n, why, sizeof(why)),
		"empty entry in 'gpu:1,' (separate resources with single commas)");
	REFUSED(jobopt_gres("", &n, why, sizeof(why)),
		"empty entry in '' (separate resources with single commas)");
	REFUSED(jobopt_gres("gpus:2", &n, why, sizeof(why)),
		"'gpus' is not a resource Pacer schedules: --gres takes GPUs only (gpu or "
		"gpu:N)");
	assert_int_equal(n, 0);
}

/* ---------------------------------------------------------------------------
 * --distribution */

static void expect_dist(const char *s, const char *want)
{
	char out[JOBOPT_DIST_MAX];

	assert_int_equal(jobopt_distribution(s, out, why, sizeof(why)), 0);
	assert_string_equal(out, want);
}

static void test_distribution(void **state)
{
	char out[JOBOPT_DIST_MAX];

	(void)state;
	expect_dist("block", "block");
	expect_dist("cyclic", "cyclic");
	expect_dist("block:cyclic", "block:cyclic");
	expect_dist("Cyclic:Block", "cyclic:block");
	expect_dist("cyclic:cyclic", "cyclic:cyclic");
	expect_dist("*:cyclic", "block:cyclic");
	expect_dist("*", "block");
	REFUSED(jobopt_distribution("plane=4", out, why, sizeof(why)),
		"the plane distribution is not supported (use block or cyclic, and :block or "
		":cyclic for the sockets)");
	REFUSED(jobopt_distribution("arbitrary", out, why, sizeof(why)),
		"the arbitrary distribution is not supported (use block or cyclic, and :block "
		"or :cyclic for the sockets)");
	REFUSED(jobopt_distribution("block:fcyclic", out, why, sizeof(why)),
		"the fcyclic distribution is not supported (use block or cyclic, and :block "
		"or :cyclic for the sockets)");
	REFUSED(jobopt_distribution("block:cyclic:cyclic", out, why, sizeof(why)),
		"'block:cyclic:cyclic': a third level ('cyclic') is not supported (give "
		"block|cyclic[:block|cyclic]: nodes, then sockets)");
	REFUSED(jobopt_distribution("block,Pack", out, why, sizeof(why)),
		"'block,Pack': Pack and NoPack are not supported (give "
		"block|cyclic[:block|cyclic])");
	REFUSED(jobopt_distribution("round", out, why, sizeof(why)),
		"unknown distribution 'round' (use block or cyclic, and :block or :cyclic for "
		"the sockets, like cyclic:block)");
	REFUSED(jobopt_distribution("", out, why, sizeof(why)),
		"unknown distribution '' (use block or cyclic, and :block or :cyclic for the "
		"sockets, like cyclic:block)");
	REFUSED(jobopt_distribution("block:", out, why, sizeof(why)),
		"unknown distribution '' (use block or cyclic, and :block or :cyclic for the "
		"sockets, like cyclic:block)");
}

/* ---------------------------------------------------------------------------
 * --cpu-bind */

static void expect_bind(const char *s, const char *want)
{
	char *out = NULL;

	assert_int_equal(jobopt_cpu_bind(s, &out, why, sizeof(why)), 0);
	assert_string_equal(out, want);
	free(out);
}

#define BIND_HOW "use none, cores, threads, sockets or map_cpu:LIST, with ,verbose if you like"

static void test_cpu_bind(void **state)
{
	char *out = NULL;

	(void)state;
	expect_bind("none", "none");
	expect_bind("no", "none");
	expect_bind("cores", "cores");
	expect_bind("core", "cores");
	expect_bind("threads", "threads");
	expect_bind("socket", "sockets");
	expect_bind("verbose", "verbose");
	expect_bind("v", "verbose");
	expect_bind("quiet", "");
	expect_bind("cores,verbose", "cores,verbose");
	expect_bind("verbose,cores", "cores,verbose");
	expect_bind("verbose,quiet,sockets", "sockets");
	expect_bind("map_cpu:0,2,4", "map_cpu:0,2,4");
	expect_bind("map_cpu:0,2,verbose", "map_cpu:0,2,verbose");
	expect_bind("v,map_cpu:3", "map_cpu:3,verbose");
	/* Hexadecimal ids and repetitions, written out for the node daemon. */
	expect_bind("map_cpu:0x10,1*3,0x2*2", "map_cpu:16,1,1,1,2,2");

	REFUSED(jobopt_cpu_bind("cores,sockets", &out, why, sizeof(why)),
		"give one binding type, not both 'cores' and 'sockets'");
	REFUSED(jobopt_cpu_bind("map_cpu:", &out, why, sizeof(why)),
		"map_cpu needs CPU ids after the colon, not '' (like map_cpu:0,2)");
	REFUSED(jobopt_cpu_bind("map_cpu:x", &out, why, sizeof(why)),
		"map_cpu needs CPU ids after the colon, not 'x' (like map_cpu:0,2)");
	REFUSED(jobopt_cpu_bind("map_cpu:0,0x", &out, why, sizeof(why)),
		"bad CPU id '0x' in map_cpu (give decimal or 0x ids, ID*N to repeat one, like "
		"map_cpu:0,2*3)");
	REFUSED(jobopt_cpu_bind("map_cpu:1*0", &out, why, sizeof(why)),
		"bad CPU id '1*0' in map_cpu (give decimal or 0x ids, ID*N to repeat one, like "
		"map_cpu:0,2*3)");
	REFUSED(jobopt_cpu_bind("map_cpu:0,2a", &out, why, sizeof(why)),
		"bad CPU id '2a' in map_cpu (give decimal or 0x ids, ID*N to repeat one, like "
		"map_cpu:0,2*3)");
	REFUSED(jobopt_cpu_bind("map_cpu:0*4097", &out, why, sizeof(why)),
		"bad CPU id '0*4097' in map_cpu (give decimal or 0x ids, ID*N to repeat one, "
		"like map_cpu:0,2*3)");
	REFUSED(jobopt_cpu_bind("map_cpu:0*4096,1", &out, why, sizeof(why)),
		"map_cpu lists more than 4096 CPU ids");
	REFUSED(jobopt_cpu_bind("mask_cpu:0x3", &out, why, sizeof(why)),
		"mask_cpu binding is not supported (" BIND_HOW ")");
	REFUSED(jobopt_cpu_bind("ldoms", &out, why, sizeof(why)),
		"ldoms binding is not supported (" BIND_HOW ")");
	REFUSED(jobopt_cpu_bind("rank", &out, why, sizeof(why)),
		"rank binding is not supported (" BIND_HOW ")");
	REFUSED(jobopt_cpu_bind("bogus", &out, why, sizeof(why)),
		"unknown binding 'bogus' (" BIND_HOW ")");
	REFUSED(jobopt_cpu_bind("cores,,verbose", &out, why, sizeof(why)),
		"empty entry in 'cores,,verbose' (separate words with single commas)");
	REFUSED(jobopt_cpu_bind("", &out, why, sizeof(why)), "empty value (" BIND_HOW ")");
	assert_null(out);
}

static void test_cpu_bind_longest(void **state)
{
	char *out = NULL;

	(void)state;
	/* The most ids taken: each is in the list the node daemon gets. */
	assert_int_equal(jobopt_cpu_bind("map_cpu:7*4096,verbose", &out, why, sizeof(why)), 0);
	assert_int_equal(strncmp(out, "map_cpu:7,7,", 12), 0);
	assert_int_equal(strlen(out), strlen("map_cpu:") + 4096 * 2 - 1 + strlen(",verbose"));
	free(out);
}

/* ---------------------------------------------------------------------------
 * --hint, --nice, --exclusive */

static void test_hint_nice_exclusive(void **state)
{
	bool mt = false;
	int32_t nice = 0;

	(void)state;
	assert_int_equal(jobopt_hint("multithread", &mt, why, sizeof(why)), 0);
	assert_true(mt);
	assert_int_equal(jobopt_hint("nomultithread", &mt, why, sizeof(why)), 0);
	assert_false(mt);
	REFUSED(jobopt_hint("compute_bound", &mt, why, sizeof(why)),
		"--hint=compute_bound is not supported (use multithread or nomultithread)");
	REFUSED(jobopt_hint("fast", &mt, why, sizeof(why)),
		"unknown hint 'fast' (use multithread or nomultithread)");

	assert_int_equal(jobopt_nice(NULL, &nice, why, sizeof(why)), 0);
	assert_int_equal(nice, 100);
	assert_int_equal(jobopt_nice("5", &nice, why, sizeof(why)), 0);
	assert_int_equal(nice, 5);
	assert_int_equal(jobopt_nice("-10", &nice, why, sizeof(why)), 0);
	assert_int_equal(nice, -10);
	assert_int_equal(jobopt_nice("+2147483645", &nice, why, sizeof(why)), 0);
	assert_int_equal(nice, 2147483645);
	assert_int_equal(jobopt_nice("-2147483645", &nice, why, sizeof(why)), 0);
	assert_int_equal(nice, -2147483645);
	static const char *const bad[] = { "2147483646", "-2147483646", "", "-", "1.5", "x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "'%s' is not a nice value (give a whole number from -2147483645 to "
			 "2147483645; --nice alone is 100)",
			 bad[i]);
		REFUSED(jobopt_nice(bad[i], &nice, why, sizeof(why)), msg);
	}

	assert_int_equal(jobopt_exclusive(NULL, why, sizeof(why)), 0);
	REFUSED(jobopt_exclusive("user", why, sizeof(why)),
		"--exclusive=user is not supported (give --exclusive alone: the job gets whole "
		"nodes)");
}

/* ---------------------------------------------------------------------------
 * --array and --dependency: their grammars are tested with their parsers
 * (common/arrayspec_test.c, common/depspec_test.c); here, that the CLI
 * hands back their results and words. */

static void test_array(void **state)
{
	uint32_t max = 99;

	(void)state;
	assert_int_equal(jobopt_array("0-99:2%10", &max, why, sizeof(why)), 0);
	assert_int_equal(max, 10);
	assert_int_equal(jobopt_array("1,3,5-7", &max, why, sizeof(why)), 0);
	assert_int_equal(max, 0);
	REFUSED(jobopt_array("9-1", &max, why, sizeof(why)),
		"range '9-1' ends below its start (write it LOW-HIGH, like 0-99)");
	/* The controller's limit is known here too, so such a submit fails
	 * before anything is sent. */
	REFUSED(jobopt_array("0-200000", &max, why, sizeof(why)),
		"'0-200000' has more than 100000 tasks, the most an array may have (split it into "
		"several arrays)");
}

static void test_dependency(void **state)
{
	(void)state;
	assert_int_equal(jobopt_dependency("afterok:123:124_5", why, sizeof(why)), 0);
	assert_int_equal(jobopt_dependency("singleton", why, sizeof(why)), 0);
	REFUSED(jobopt_dependency("afterok:1,afterany:2?singleton", why, sizeof(why)),
		"'afterok:1,afterany:2?singleton' mixes ',' (all must hold) and '?' (one is "
		"enough): use one of them");
	REFUSED(jobopt_dependency("after:12+30", why, sizeof(why)),
		"'after:12+30': a delay after the job (+MINUTES) is not supported (drop the "
		"+30)");
}

/* ---------------------------------------------------------------------------
 * --constraint */

static void test_constraint(void **state)
{
	(void)state;
	assert_int_equal(jobopt_constraint("gpu", why, sizeof(why)), 0);
	assert_int_equal(jobopt_constraint("intel&ib&big-mem", why, sizeof(why)), 0);
	assert_int_equal(jobopt_constraint("skylake|icelake|v2.1_x", why, sizeof(why)), 0);
	REFUSED(jobopt_constraint("", why, sizeof(why)),
		"empty value (give feature names joined by & or |)");
	REFUSED(jobopt_constraint("a&b|c", why, sizeof(why)),
		"'a&b|c' mixes & and |, which is ambiguous without brackets (use one of them)");
	REFUSED(jobopt_constraint("[a|b]", why, sizeof(why)),
		"'[a|b]': brackets, counts and commas are not supported yet (join feature "
		"names with & for all, | for any)");
	REFUSED(jobopt_constraint("a*2", why, sizeof(why)),
		"'a*2': brackets, counts and commas are not supported yet (join feature names "
		"with & for all, | for any)");
	REFUSED(jobopt_constraint("a,b", why, sizeof(why)),
		"'a,b': brackets, counts and commas are not supported yet (join feature names "
		"with & for all, | for any)");
	REFUSED(jobopt_constraint("a&&b", why, sizeof(why)),
		"'a&&b' has an empty feature name (join names with a single & or |)");
	REFUSED(jobopt_constraint("a|", why, sizeof(why)),
		"'a|' has an empty feature name (join names with a single & or |)");
	REFUSED(jobopt_constraint("&a", why, sizeof(why)),
		"'&a' has an empty feature name (join names with a single & or |)");
	REFUSED(jobopt_constraint("a b", why, sizeof(why)),
		"bad character ' ' in 'a b' (feature names are letters, digits, '-', '_' and "
		"'.')");
}

/* ---------------------------------------------------------------------------
 * Host lists */

static char tmpdir[256];

static int make_tmpdir(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/pacer-jobopt-XXXXXX", base && *base ? base : "/tmp");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The list -w FILE gives is the hosts of the file: decoded again, they are
 * the names written, in order. */
static void test_hostlist(void **state)
{
	char path[512], msg[1024], *out = NULL;
	struct hostlist *hl;

	(void)state;
	assert_int_equal(jobopt_hostlist("node[1-4,7],login1", true, &out, why, sizeof(why)), 0);
	assert_string_equal(out, "node[1-4,7],login1");
	free(out);
	out = NULL;
	REFUSED(jobopt_hostlist("node[1-", false, &out, why, sizeof(why)),
		"'node[1-' is not a host list (write names like node[1-4,7],login1)");
	REFUSED(jobopt_hostlist("", false, &out, why, sizeof(why)),
		"empty host list (give names like node[1-4,7])");
	REFUSED(jobopt_hostlist("  ", true, &out, why, sizeof(why)),
		"empty host list (give names like node[1-4,7])");
	REFUSED(jobopt_hostlist("n[0-9999999]", false, &out, why, sizeof(why)),
		"'n[0-9999999]' names more than 1000000 hosts or 32 MiB of host names");
	/* 4 KB that would expand to 4 GB: the size is capped, not only the count */
	char longlist[4100];
	memset(longlist, 'A', 4000);
	strcpy(longlist + 4000, "[0-999999]");
	assert_int_equal(jobopt_hostlist(longlist, false, &out, why, sizeof(why)), -1);
	assert_string_equal(why,
			    "'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...' "
			    "names more than 1000000 hosts or 32 MiB of host names");
	/* -x never reads a file: a '/' is just a bad host name there. */
	REFUSED(jobopt_hostlist("a[1-2]/b[", false, &out, why, sizeof(why)),
		"'a[1-2]/b[' is not a host list (write names like node[1-4,7],login1)");

	snprintf(path, sizeof(path), "%s/hosts", tmpdir);
	write_file(path, "node3\n  node1\tnode[5-6],node9\n\nlogin1\n");
	assert_int_equal(jobopt_hostlist(path, true, &out, why, sizeof(why)), 0);
	hl = hostlist_decode(out);
	assert_non_null(hl);
	assert_int_equal(hostlist_count(hl), 6);
	static const char *const want[] = { "node3", "node1", "node5", "node6", "node9", "login1" };
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(hostlist_nth(hl, i), want[i]);
	hostlist_destroy(hl);
	free(out);
	out = NULL;

	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	write_file(path, "\n \n");
	snprintf(msg, sizeof(msg), "node list file '%s' names no host", path);
	REFUSED(jobopt_hostlist(path, true, &out, why, sizeof(why)), msg);

	snprintf(path, sizeof(path), "%s/bad", tmpdir);
	write_file(path, "node1\nnode[2-\n");
	snprintf(msg, sizeof(msg),
		 "'node[2-' in node list file '%s' is not a host list (write names like "
		 "node[1-4,7] or one name a line)",
		 path);
	REFUSED(jobopt_hostlist(path, true, &out, why, sizeof(why)), msg);

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	snprintf(msg, sizeof(msg),
		 "cannot open node list file '%s': No such file or directory (a value holding "
		 "'/' names a file of host names)",
		 path);
	REFUSED(jobopt_hostlist(path, true, &out, why, sizeof(why)), msg);

	snprintf(msg, sizeof(msg), "node list file '%s' is not a regular file of at most 1024 KiB",
		 tmpdir);
	REFUSED(jobopt_hostlist(tmpdir, true, &out, why, sizeof(why)), msg);

	snprintf(path, sizeof(path), "%s/big", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (unsigned i = 0; i <= JOBOPT_NODEFILE_MAX / 8; i++)
		fputs("node001\n", f);
	fclose(f);
	snprintf(msg, sizeof(msg), "node list file '%s' is not a regular file of at most 1024 KiB",
		 path);
	REFUSED(jobopt_hostlist(path, true, &out, why, sizeof(why)), msg);
	assert_null(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpus),
		cmocka_unit_test(test_gres),
		cmocka_unit_test(test_distribution),
		cmocka_unit_test(test_cpu_bind),
		cmocka_unit_test(test_cpu_bind_longest),
		cmocka_unit_test(test_hint_nice_exclusive),
		cmocka_unit_test(test_array),
		cmocka_unit_test(test_dependency),
		cmocka_unit_test(test_constraint),
		cmocka_unit_test(test_hostlist),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
