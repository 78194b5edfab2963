/* backfill_test.c - the timeline of a scheduling pass, on synthetic nodes.
 *
 * Nodes are real topo models ("core:4 pu:1" and the like) with usage
 * charged through select_charge, as the controller does; the expected
 * times are worked out from the jobs' ends in each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backfill.h"
#include "select.h"
#include "topo.h"

#define NOW    1000000
#define WINDOW 86400
#define MAXN   4

struct cluster {
	struct topo *topo;
	struct select_node node[MAXN];
	struct select_node *ptr[MAXN];
	uint32_t cand[MAXN];
	size_t n;
};

/* N nodes of the synthetic topology SPEC with MEM MiB each. */
static void cluster_init(struct cluster *c, size_t n, const char *spec, uint64_t mem)
{
	char err[256];
	memset(c, 0, sizeof(*c));
	if (topo_load(spec, 0, &c->topo, err, sizeof(err)) < 0)
		fail_msg("%s: %s", spec, err);
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(select_node_set_layout(&c->node[i], topo_layout(c->topo)), 0);
		c->node[i].name = "n";
		c->node[i].mem_mb = mem;
		c->node[i].usable = c->node[i].eligible = true;
		c->ptr[i] = &c->node[i];
		c->cand[i] = (uint32_t)i;
	}
}

static void cluster_free(struct cluster *c)
{
	for (size_t i = 0; i < c->n; i++)
		select_node_release(&c->node[i]);
	topo_destroy(c->topo);
}

/* Job JOB holds PUs FIRST..FIRST+N-1 and MEM of node I (charged). */
static struct bf_use hold(struct cluster *c, size_t i, uint32_t job, uint32_t first, uint32_t n,
			  uint64_t mem, bool exclusive)
{
	uint32_t pus[64];
	for (uint32_t k = 0; k < n; k++)
		pus[k] = first + k;
	assert_int_equal(select_charge(&c->node[i], job, pus, n, NULL, 0, mem, exclusive, true), 0);
	return (
	    struct bf_use){ .node = (uint32_t)i, .pus = n, .mem_mb = mem, .exclusive = exclusive };
}

static struct select_request tasks(uint32_t ntasks, uint32_t cpt)
{
	return (struct select_request){ .ntasks = ntasks, .cpus_per_task = cpt };
}

/* node0 is full until NOW+600; a job needing both nodes is reserved then,
 * and only what ends before it, or stays off what it needs, may start. */
static void test_easy(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 2, "core:4 pu:1", 1000);
	struct bf_use a = hold(&c, 0, 1, 0, 4, 0, false);
	struct bf *b = bf_new(NOW, c.ptr, c.n);
	assert_non_null(b);
	assert_int_equal(bf_add_running(b, NOW + 600, &a, 1), 0);

	struct select_request big = tasks(8, 1);
	assert_int_equal(bf_when(b, &big, c.cand, c.n, 300, WINDOW, true), NOW + 600);
	assert_int_equal(bf_reservations(b), 1);

	/* 2 PUs of node1: until NOW+1200 it would still hold them at NOW+600. */
	struct bf_use late = { .node = 1, .pus = 2 }, early = late;
	assert_true(bf_delays(b, NOW + 1200, &late, 1));
	assert_false(bf_delays(b, NOW + 300, &early, 1));
	assert_false(bf_delays(b, NOW + 600, &early, 1)); /* ends as it starts */

	/* Started: the reservation still holds, node1 has 2 PUs in use till +300. */
	hold(&c, 1, 2, 0, 2, 0, false);
	assert_int_equal(bf_started(b, NOW + 300, &early, 1), 0);
	/* A second big job now fits only after the first one's reservation. */
	assert_int_equal(bf_when(b, &big, c.cand, c.n, 300, WINDOW, false), NOW + 900);
	bf_free(b);
	cluster_free(&c);
}

/* The reservation's leftover on a shared node is used up one job at a time. */
static void test_slack(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 2, "core:4 pu:1", 1000);
	struct bf_use a[2] = { hold(&c, 0, 1, 0, 4, 0, false), hold(&c, 1, 1, 0, 4, 0, false) };
	struct bf *b = bf_new(NOW, c.ptr, c.n);
	assert_int_equal(bf_add_running(b, NOW + 100, a, 2), 0);
	/* 7 tasks: 4 on node0 and 3 on node1 at NOW+100, leaving 1 PU of node1. */
	struct select_request r = tasks(7, 1);
	assert_int_equal(bf_when(b, &r, c.cand, c.n, 1000, WINDOW, true), NOW + 100);
	/* Long jobs on node1 after NOW+100 (it is full now, but the timeline
	 * only judges delays): the first PU is free to take, the second not. */
	struct bf_use one = { .node = 1, .pus = 1 };
	assert_false(bf_delays(b, NOW + 5000, &one, 1));
	assert_int_equal(bf_started(b, NOW + 5000, &one, 1), 0);
	assert_true(bf_delays(b, NOW + 5000, &one, 1));
	/* Node0 has no room at all for a long job. */
	struct bf_use zero = { .node = 0, .pus = 1 };
	assert_true(bf_delays(b, NOW + 5000, &zero, 1));
	bf_free(b);
	cluster_free(&c);
}

/* Exclusive: a reservation for a whole node admits nothing long there. */
static void test_exclusive(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 2, "core:4 pu:1", 1000);
	struct bf_use a = hold(&c, 0, 1, 0, 1, 0, false);
	struct bf_use d = hold(&c, 1, 2, 0, 1, 0, false);
	struct bf *b = bf_new(NOW, c.ptr, c.n);
	assert_int_equal(bf_add_running(b, NOW + 50, &a, 1), 0);
	assert_int_equal(bf_add_running(b, NOW + 80, &d, 1), 0);
	struct select_request r = tasks(1, 1);
	r.exclusive = true;
	r.nodes = 1;
	/* The earliest node that empties: node0 at +50. */
	assert_int_equal(bf_when(b, &r, c.cand, c.n, 100, WINDOW, true), NOW + 50);
	struct bf_use small = { .node = 0, .pus = 1 };
	assert_true(bf_delays(b, NOW + 60, &small, 1));
	assert_false(bf_delays(b, NOW + 50, &small, 1));
	struct bf_use other = { .node = 1, .pus = 1 };
	assert_false(bf_delays(b, NOW + 1000, &other, 1));
	bf_free(b);
	cluster_free(&c);
}

/* No end in sight: unlimited jobs, or ends beyond the window. */
static void test_never(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 1, "core:4 pu:1", 1000);
	struct bf_use a = hold(&c, 0, 1, 0, 4, 0, false);
	struct bf *b = bf_new(NOW, c.ptr, c.n);
	assert_int_equal(bf_add_running(b, BF_NEVER, &a, 1), 0);
	struct select_request r = tasks(1, 1);
	assert_int_equal(bf_when(b, &r, c.cand, c.n, 10, WINDOW, true), 0);
	assert_int_equal(bf_reservations(b), 0);
	bf_free(b);

	b = bf_new(NOW, c.ptr, c.n);
	assert_int_equal(bf_add_running(b, NOW + 7200, &a, 1), 0);
	assert_int_equal(bf_when(b, &r, c.cand, c.n, 10, 3600, false), 0);
	assert_int_equal(bf_when(b, &r, c.cand, c.n, 10, 7200, false), NOW + 7200);
	bf_free(b);
	cluster_free(&c);
}

/* Jobs past their limit end "now"; ends come in any order. */
static void test_order_and_overdue(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 1, "core:4 pu:1", 1000);
	struct bf_use u[4];
	for (uint32_t k = 0; k < 4; k++)
		u[k] = hold(&c, 0, 10 + k, k, 1, 0, false);
	struct bf *b = bf_new(NOW, c.ptr, c.n);
	assert_int_equal(bf_add_running(b, NOW + 400, &u[0], 1), 0);
	assert_int_equal(bf_add_running(b, NOW + 100, &u[1], 1), 0);
	assert_int_equal(bf_add_running(b, NOW - 50, &u[2], 1), 0); /* overdue */
	assert_int_equal(bf_add_running(b, NOW + 200, &u[3], 1), 0);
	/* 1, 2, 3, 4 PUs free at NOW+1, +100, +200, +400. */
	for (uint32_t k = 1; k <= 4; k++) {
		struct select_request r = tasks(k, 1);
		static const int64_t at[] = { 0, NOW + 1, NOW + 100, NOW + 200, NOW + 400 };
		assert_int_equal(bf_when(b, &r, c.cand, c.n, 10, WINDOW, false), at[k]);
	}
	bf_free(b);
	cluster_free(&c);
}

/* Memory counts as much as cores; so does an exact node count. */
static void test_memory_and_nodes(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 2, "core:8 pu:1", 1000);
	struct bf_use a = hold(&c, 0, 1, 0, 1, 900, false);
	struct bf *b = bf_new(NOW, c.ptr, c.n);
	assert_int_equal(bf_add_running(b, NOW + 300, &a, 1), 0);
	/* 2 tasks of 1 CPU and 300 MiB per CPU on 2 nodes: node0 has 7 PUs but
	 * only 100 MiB until +300. */
	struct select_request r = tasks(2, 1);
	r.nodes = 2;
	r.mem_per_cpu_mb = 300;
	assert_int_equal(bf_when(b, &r, c.cand, c.n, 10, WINDOW, false), NOW + 300);
	/* On one node it fits now, on node1. */
	r.nodes = 0;
	assert_int_equal(bf_when(b, &r, c.cand, c.n, 10, WINDOW, false), NOW);
	/* --mem per node above what any node has: never. */
	r.mem_per_cpu_mb = 0;
	r.mem_mb = 2000;
	assert_int_equal(bf_when(b, &r, c.cand, c.n, 10, WINDOW, false), 0);
	bf_free(b);
	cluster_free(&c);
}

/* With two reservations, the second is placed after the first's hold. */
static void test_two_reservations(void **state)
{
	(void)state;
	struct cluster c;
	cluster_init(&c, 1, "core:4 pu:1", 1000);
	struct bf_use a = hold(&c, 0, 1, 0, 4, 0, false);
	struct bf *b = bf_new(NOW, c.ptr, c.n);
	assert_int_equal(bf_add_running(b, NOW + 100, &a, 1), 0);
	struct select_request r = tasks(4, 1);
	assert_int_equal(bf_when(b, &r, c.cand, c.n, 500, WINDOW, true), NOW + 100);
	assert_int_equal(bf_when(b, &r, c.cand, c.n, 500, WINDOW, true), NOW + 600);
	assert_int_equal(bf_reservations(b), 2);
	/* A short 4-PU job fits in no gap: it would overlap one or the other. */
	struct bf_use all = { .node = 0, .pus = 4 };
	assert_true(bf_delays(b, NOW + 150, &all, 1));
	bf_free(b);
	cluster_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_easy),
		cmocka_unit_test(test_slack),
		cmocka_unit_test(test_exclusive),
		cmocka_unit_test(test_never),
		cmocka_unit_test(test_order_and_overdue),
		cmocka_unit_test(test_memory_and_nodes),
		cmocka_unit_test(test_two_reservations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
