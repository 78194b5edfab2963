/* cores_test.c - the "cores" select plugin. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "select.h"

#define NODE(c, ca, m, ma)                                                                 \
	{                                                                                  \
		.name = "n", .cpus = c, .cpus_alloc = ca, .mem_mb = m, .mem_alloc_mb = ma, \
		.usable = true                                                             \
	}

static const struct select_ops *ops(void)
{
	const struct select_ops *o = select_find("cores");
	assert_non_null(o);
	return o;
}

static void test_unknown_plugin(void **state)
{
	(void)state;
	assert_null(select_find("nope"));
}

static void test_best_fit_single(void **state)
{
	(void)state;
	struct select_node a = NODE(8, 0, 0, 0), b = NODE(8, 5, 0, 0), c = NODE(8, 4, 0, 0);
	struct select_node *nodes[] = { &a, &b, &c };
	struct select_request req = { .ntasks = 3, .cpus_per_task = 1 };
	struct select_alloc out[3];
	size_t nout;
	assert_int_equal(ops()->allocate(&req, nodes, 3, out, &nout), 0);
	assert_int_equal(nout, 1);
	assert_int_equal(out[0].node, 1); /* exactly 3 free: the tightest fit */
	assert_int_equal(out[0].cpus, 3);
	assert_int_equal(out[0].tasks, 3);
}

static void test_spread_fewest(void **state)
{
	(void)state;
	struct select_node a = NODE(4, 2, 0, 0), b = NODE(4, 0, 0, 0), c = NODE(4, 1, 0, 0);
	struct select_node *nodes[] = { &a, &b, &c };
	struct select_request req = { .ntasks = 7, .cpus_per_task = 1 };
	struct select_alloc out[3];
	size_t nout;
	assert_int_equal(ops()->allocate(&req, nodes, 3, out, &nout), 0);
	assert_int_equal(nout, 2);
	assert_int_equal(out[0].node, 1);
	assert_int_equal(out[0].cpus, 4);
	assert_int_equal(out[1].node, 2);
	assert_int_equal(out[1].cpus, 3);
}

static void test_exact_nodes_even(void **state)
{
	(void)state;
	struct select_node a = NODE(4, 0, 0, 0), b = NODE(4, 0, 0, 0), c = NODE(2, 0, 0, 0);
	struct select_node *nodes[] = { &a, &b, &c };
	struct select_request req = { .nodes = 2, .ntasks = 5, .cpus_per_task = 1 };
	struct select_alloc out[3];
	size_t nout;
	assert_int_equal(ops()->allocate(&req, nodes, 3, out, &nout), 0);
	assert_int_equal(nout, 2);
	assert_int_equal(out[0].tasks + out[1].tasks, 5);
	assert_int_equal(out[0].tasks, 3);
	assert_int_equal(out[1].tasks, 2);
	/* the 2-CPU node is the best fit for the 2-task share */
	assert_int_equal(out[1].node, 2);
}

static void test_cpus_per_task_and_memory(void **state)
{
	(void)state;
	struct select_node a = NODE(8, 6, 1000, 0), b = NODE(8, 0, 1000, 900),
			   c = NODE(8, 4, 1000, 0);
	struct select_node *nodes[] = { &a, &b, &c };
	struct select_request req = { .ntasks = 1, .cpus_per_task = 4, .mem_mb = 500 };
	struct select_alloc out[3];
	size_t nout;
	assert_int_equal(ops()->allocate(&req, nodes, 3, out, &nout), 0);
	assert_int_equal(nout, 1);
	assert_int_equal(out[0].node, 2);
	assert_int_equal(out[0].cpus, 4);
	assert_int_equal(out[0].mem_mb, 500);
}

static void test_busy_is_eagain(void **state)
{
	(void)state;
	struct select_node a = NODE(2, 2, 0, 0), b = NODE(2, 1, 0, 0);
	b.usable = false;
	struct select_node *nodes[] = { &a, &b };
	struct select_request req = { .ntasks = 1, .cpus_per_task = 1 };
	struct select_alloc out[2];
	size_t nout = 7;
	assert_int_equal(ops()->allocate(&req, nodes, 2, out, &nout), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(nout, 0);
}

static void test_feasible(void **state)
{
	(void)state;
	struct select_node a = NODE(4, 4, 2048, 0), b = NODE(8, 0, 1024, 0);
	struct select_node *nodes[] = { &a, &b };
	char why[200];
	struct select_request ok = { .ntasks = 12, .cpus_per_task = 1 };
	assert_int_equal(ops()->feasible(&ok, nodes, 2, why, sizeof(why)), 0);

	struct select_request wide = { .ntasks = 1, .cpus_per_task = 9 };
	assert_int_equal(ops()->feasible(&wide, nodes, 2, why, sizeof(why)), -1);
	assert_string_equal(why, "needs 9 CPUs per task, the largest node has 8");

	struct select_request many = { .ntasks = 13, .cpus_per_task = 1 };
	assert_int_equal(ops()->feasible(&many, nodes, 2, why, sizeof(why)), -1);
	assert_string_equal(why,
			    "needs 13 tasks of 1 CPUs, the whole partition holds 12 such tasks");

	struct select_request nodes3 = { .nodes = 3, .ntasks = 3, .cpus_per_task = 1 };
	assert_int_equal(ops()->feasible(&nodes3, nodes, 2, why, sizeof(why)), -1);
	assert_string_equal(why, "asks for 3 nodes, the partition has 2");

	struct select_request mem = { .ntasks = 1, .cpus_per_task = 1, .mem_mb = 4096 };
	assert_int_equal(ops()->feasible(&mem, nodes, 2, why, sizeof(why)), -1);
	assert_string_equal(why, "needs 4096 MiB of memory per node, the largest node has 2048");

	/* memory limits which nodes count: only node a has 2 GiB */
	struct select_request memtasks = { .ntasks = 5, .cpus_per_task = 1, .mem_mb = 2000 };
	assert_int_equal(ops()->feasible(&memtasks, nodes, 2, why, sizeof(why)), -1);
}

static void test_unknown_size_accepted(void **state)
{
	(void)state;
	struct select_node a = NODE(2, 0, 0, 0), b = NODE(0, 0, 0, 0);
	struct select_node *nodes[] = { &a, &b };
	char why[200];
	struct select_request wide = { .ntasks = 1, .cpus_per_task = 64 };
	assert_int_equal(ops()->feasible(&wide, nodes, 2, why, sizeof(why)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_plugin),
		cmocka_unit_test(test_best_fit_single),
		cmocka_unit_test(test_spread_fewest),
		cmocka_unit_test(test_exact_nodes_even),
		cmocka_unit_test(test_cpus_per_task_and_memory),
		cmocka_unit_test(test_busy_is_eagain),
		cmocka_unit_test(test_feasible),
		cmocka_unit_test(test_unknown_size_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
