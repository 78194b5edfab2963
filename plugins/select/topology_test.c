/* topology_test.c - the "topology" select plugin on real machine layouts.
 *
 * Nodes get their layouts from tests/topologies (real hwloc XML) or hwloc
 * synthetic strings through topo.c; expected places are worked out from
 * those layouts here, not copied from the allocator's output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"
#include "topo.h"

#ifndef PACER_TOPOLOGY_DIR
#error "PACER_TOPOLOGY_DIR must name tests/topologies"
#endif

#define MAXN 8

struct cluster {
	struct topo *topo[MAXN];
	struct select_node node[MAXN];
	struct select_node *ptr[MAXN];
	char name[MAXN][16];
	size_t n;
};

static const struct select_ops *ops(void)
{
	const struct select_ops *o = select_find("topology");

	assert_non_null(o);
	return o;
}

/* A node named nI whose layout is SPEC (a file of tests/topologies, or a
 * synthetic string). */
static void add_node(struct cluster *c, const char *spec)
{
	char path[1024], err[256];
	size_t i = c->n++;
	struct select_node *nd = &c->node[i];

	assert_true(i < MAXN);
	if (strstr(spec, ".xml"))
		snprintf(path, sizeof(path), "%s/%s", PACER_TOPOLOGY_DIR, spec);
	else
		snprintf(path, sizeof(path), "%s", spec);
	if (topo_load(path, 0, &c->topo[i], err, sizeof(err)) < 0)
		fail_msg("%s: %s", spec, err);
	memset(nd, 0, sizeof(*nd));
	snprintf(c->name[i], sizeof(c->name[i]), "n%zu", i);
	nd->name = c->name[i];
	assert_int_equal(select_node_set_layout(nd, topo_layout(c->topo[i])), 0);
	nd->mem_mb = topo_layout(c->topo[i])->mem_mb;
	nd->usable = nd->eligible = true;
	c->ptr[i] = nd;
}

static void cluster_free(struct cluster *c)
{
	for (size_t i = 0; i < c->n; i++) {
		select_node_release(&c->node[i]);
		topo_destroy(c->topo[i]);
	}
	c->n = 0;
}

static uint32_t core_of(const struct topo_layout *l, uint32_t pu)
{
	for (uint32_t c = 0; c < l->ncores; c++)
		if (pu >= l->cores[c].first_pu && pu < l->cores[c].first_pu + l->cores[c].npus)
			return c;
	fail_msg("PU %u is in no core", pu);
	return 0;
}

/* Every rule an allocation must keep, whatever the request. */
static void check_result(const struct cluster *c, const struct select_request *req,
			 const struct select_result *res)
{
	uint32_t *seen_rank = calloc(req->ntasks, sizeof(*seen_rank));
	uint32_t ranks = 0, job_gpus = 0;

	assert_true(res->n > 0);
	if (req->nodes)
		assert_int_equal(res->n, req->nodes);
	for (size_t j = 0; j < res->n; j++) {
		const struct select_alloc *a = &res->allocs[j];
		const struct select_node *nd = &c->node[a->node];
		const struct topo_layout *l = nd->layout;
		uint8_t *pu_seen = calloc(l->npus, 1);

		if (j > 0)
			assert_true(a->node > res->allocs[j - 1].node); /* node order, once */
		assert_true(a->ntasks > 0);
		if (req->ntasks_per_node)
			assert_true(a->ntasks <= req->ntasks_per_node);
		assert_int_equal(a->task_off[0], 0);
		for (uint32_t t = 0; t < a->ntasks; t++) {
			uint32_t from = a->task_off[t], to = a->task_off[t + 1];
			assert_true(to > from);
			if (req->threads) {
				assert_int_equal(to - from, req->cpus_per_task);
			} else {
				/* whole cores: cpus_per_task of them, every PU of each */
				uint32_t ncores = 0;
				for (uint32_t k = from; k < to; k++) {
					uint32_t co = core_of(l, a->pus[k]);
					if (a->pus[k] == l->cores[co].first_pu)
						ncores++;
					for (uint32_t m = 0; m < l->cores[co].npus; m++) {
						bool in = false;
						for (uint32_t q = from; q < to; q++)
							in |=
							    a->pus[q] == l->cores[co].first_pu + m;
						assert_true(in);
					}
				}
				assert_int_equal(ncores, req->cpus_per_task);
			}
			assert_true(a->task_ids[t] < req->ntasks);
			assert_int_equal(seen_rank[a->task_ids[t]]++, 0);
			ranks++;
		}
		if (!a->exclusive)
			assert_int_equal(a->task_off[a->ntasks], a->npus);
		else
			assert_int_equal(a->npus, l->npus);
		for (uint32_t k = 0; k < a->npus; k++) {
			assert_true(a->pus[k] < l->npus);
			assert_int_equal(pu_seen[a->pus[k]]++, 0);
			assert_int_equal(nd->pu_job[a->pus[k]], 0);
		}
		for (uint32_t g = 0; g < a->ngpus; g++) {
			assert_true(a->gpus[g] < l->ngpus);
			assert_int_equal(nd->gpu_job[a->gpus[g]], 0);
			for (uint32_t h = 0; h < g; h++)
				assert_int_not_equal(a->gpus[g], a->gpus[h]);
		}
		if (a->exclusive)
			assert_int_equal(a->ngpus, l->ngpus);
		else if (req->gpus_per_node)
			assert_int_equal(a->ngpus, req->gpus_per_node);
		else
			job_gpus += a->ngpus;
		free(pu_seen);
	}
	assert_int_equal(ranks, req->ntasks);
	if (!req->exclusive && !req->gpus_per_node)
		assert_int_equal(job_gpus, req->gpus);
	free(seen_rank);
}

/* Allocate REQ on C and charge it as job REQ->job_id; 0 or -1 with errno. */
static int run(struct cluster *c, const struct select_request *req, struct select_result *res)
{
	memset(res, 0, sizeof(*res));
	if (ops()->allocate(req, c->ptr, c->n, res) < 0)
		return -1;
	check_result(c, req, res);
	for (size_t j = 0; j < res->n; j++) {
		const struct select_alloc *a = &res->allocs[j];
		assert_int_equal(select_charge(&c->node[a->node], req->job_id, a->pus, a->npus,
					       a->gpus, a->ngpus, a->mem_mb, a->exclusive, true),
				 0);
	}
	return 0;
}

/* The one domain / package all of a task's PUs are in, or TOPO_NONE. */
static uint32_t task_domain(const struct topo_layout *l, const struct select_alloc *a, uint32_t t)
{
	uint32_t d = l->cores[core_of(l, a->pus[a->task_off[t]])].domain;

	for (uint32_t k = a->task_off[t]; k < a->task_off[t + 1]; k++)
		if (l->cores[core_of(l, a->pus[k])].domain != d)
			return TOPO_NONE;
	return d;
}

static uint32_t task_package(const struct topo_layout *l, const struct select_alloc *a, uint32_t t)
{
	uint32_t p = l->cores[core_of(l, a->pus[a->task_off[t]])].package;

	for (uint32_t k = a->task_off[t]; k < a->task_off[t + 1]; k++)
		if (l->cores[core_of(l, a->pus[k])].package != p)
			return TOPO_NONE;
	return p;
}

/* The one package every PU of the allocation is in, or TOPO_NONE. */
static uint32_t alloc_package(const struct topo_layout *l, const struct select_alloc *a)
{
	uint32_t p = l->cores[core_of(l, a->pus[0])].package;

	for (uint32_t k = 0; k < a->npus; k++)
		if (l->cores[core_of(l, a->pus[k])].package != p)
			return TOPO_NONE;
	return p;
}

static uint32_t alloc_domain(const struct topo_layout *l, const struct select_alloc *a)
{
	uint32_t d = l->cores[core_of(l, a->pus[0])].domain;

	for (uint32_t k = 0; k < a->npus; k++)
		if (l->cores[core_of(l, a->pus[k])].domain != d)
			return TOPO_NONE;
	return d;
}

/* ------------------------------------------------------------- registry */

static void test_registry(void **state)
{
	(void)state;
	assert_null(select_find("nope"));
	assert_null(select_find("cores")); /* replaced */
	assert_non_null(select_find("topology"));
	assert_string_equal(select_names(), "topology");
}

/* ---------------------------------------------------------------- sierra */

static void test_sierra_gpu_local_to_cores(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result res;

	add_node(&c, "sierra.xml");
	const struct topo_layout *l = c.node[0].layout;
	for (uint32_t job = 1; job <= l->ngpus; job++) {
		struct select_request req = {
			.job_id = job, .ntasks = 1, .cpus_per_task = 1, .gpus = 1
		};
		assert_int_equal(run(&c, &req, &res), 0);
		const struct select_alloc *a = &res.allocs[0];
		assert_int_equal(a->ngpus, 1);
		/* the GPU sits in the domain of the job's core */
		assert_int_equal(l->gpus[a->gpus[0]].domain, alloc_domain(l, a));
		select_result_free(&res);
	}
	/* every GPU is taken now: a fifth GPU job waits */
	struct select_request more = { .job_id = 9, .ntasks = 1, .cpus_per_task = 1, .gpus = 1 };
	errno = 0;
	assert_int_equal(ops()->allocate(&more, c.ptr, c.n, &res), -1);
	assert_int_equal(errno, EAGAIN);
	cluster_free(&c);
}

static void test_sierra_socket_jobs_with_their_gpus(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result r1, r2;

	add_node(&c, "sierra.xml");
	const struct topo_layout *l = c.node[0].layout;
	uint32_t socket = l->packages[0].ncores, per_socket = l->ngpus / l->npackages;
	struct select_request req = {
		.job_id = 1, .ntasks = 1, .cpus_per_task = socket, .gpus = per_socket
	};
	assert_int_equal(run(&c, &req, &r1), 0);
	req.job_id = 2;
	assert_int_equal(run(&c, &req, &r2), 0);
	uint32_t p1 = alloc_package(l, &r1.allocs[0]), p2 = alloc_package(l, &r2.allocs[0]);
	assert_int_not_equal(p1, TOPO_NONE);
	assert_int_not_equal(p2, TOPO_NONE);
	assert_int_not_equal(p1, p2);
	for (uint32_t g = 0; g < per_socket; g++) {
		assert_int_equal(l->gpus[r1.allocs[0].gpus[g]].package, p1);
		assert_int_equal(l->gpus[r2.allocs[0].gpus[g]].package, p2);
	}
	assert_int_equal(c.node[0].cores_busy, l->ncores);
	assert_int_equal(c.node[0].gpus_alloc, l->ngpus);
	select_result_free(&r1);
	select_result_free(&r2);
	cluster_free(&c);
}

/* Best fit alone would put a second small job next to the first; asking for
 * a GPU, it goes where free GPUs are local. */
static void test_sierra_gpus_steer_the_domain(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result r1, r2, r3;

	add_node(&c, "sierra.xml");
	const struct topo_layout *l = c.node[0].layout;
	uint32_t per_domain = 0;
	for (uint32_t g = 0; g < l->ngpus; g++)
		per_domain += l->gpus[g].domain == 0;
	assert_true(per_domain >= 1);

	/* job 1 takes every GPU local to its domain */
	struct select_request a = {
		.job_id = 1, .ntasks = 1, .cpus_per_task = 1, .gpus = per_domain
	};
	assert_int_equal(run(&c, &a, &r1), 0);
	uint32_t d1 = alloc_domain(l, &r1.allocs[0]);
	for (uint32_t g = 0; g < r1.allocs[0].ngpus; g++)
		assert_int_equal(l->gpus[r1.allocs[0].gpus[g]].domain, d1);
	/* a CPU-only job fills the same domain (best fit) */
	struct select_request b = { .job_id = 2, .ntasks = 1, .cpus_per_task = 1 };
	assert_int_equal(run(&c, &b, &r2), 0);
	assert_int_equal(alloc_domain(l, &r2.allocs[0]), d1);
	/* a GPU job goes to the other domain, with a GPU of its own there */
	struct select_request g = { .job_id = 3, .ntasks = 1, .cpus_per_task = 1, .gpus = 1 };
	assert_int_equal(run(&c, &g, &r3), 0);
	uint32_t d3 = alloc_domain(l, &r3.allocs[0]);
	assert_int_not_equal(d3, d1);
	assert_int_equal(l->gpus[r3.allocs[0].gpus[0]].domain, d3);
	select_result_free(&r1);
	select_result_free(&r2);
	select_result_free(&r3);
	cluster_free(&c);
}

/* ------------------------------------------------------ 4-package box */

static void test_pack_stays_in_package(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result r1, r2, r3;

	add_node(&c, "16em64t-4s2c2t.xml");
	const struct topo_layout *l = c.node[0].layout;
	uint32_t per_pkg = l->packages[0].ncores;
	assert_true(l->npackages >= 3 && per_pkg >= 2);

	/* one core, then a job of a whole package's cores as separate tasks */
	struct select_request one = { .job_id = 1, .ntasks = 1, .cpus_per_task = 1 };
	assert_int_equal(run(&c, &one, &r1), 0);
	uint32_t p1 = alloc_package(l, &r1.allocs[0]);
	struct select_request pkg = { .job_id = 2, .ntasks = per_pkg, .cpus_per_task = 1 };
	assert_int_equal(run(&c, &pkg, &r2), 0);
	uint32_t p2 = alloc_package(l, &r2.allocs[0]);
	assert_int_not_equal(p2, TOPO_NONE); /* in one package */
	assert_int_not_equal(p2, p1);        /* p1 has no room for it whole */
	/* the next core fills the first package's hole (best fit) */
	assert_int_equal(run(&c, (one.job_id = 3, &one), &r3), 0);
	assert_int_equal(alloc_package(l, &r3.allocs[0]), p1);
	select_result_free(&r1);
	select_result_free(&r2);
	select_result_free(&r3);
	cluster_free(&c);
}

static void test_cyclic_spreads_block_packs(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result res;

	add_node(&c, "16em64t-4s2c2t.xml");
	const struct topo_layout *l = c.node[0].layout;
	struct select_request req = { .job_id = 1,
				      .ntasks = l->npackages,
				      .cpus_per_task = 1,
				      .dist_socket = SELECT_DIST_CYCLIC };

	/* cyclic: task t on package t */
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), 0);
	check_result(&c, &req, &res);
	for (uint32_t t = 0; t < req.ntasks; t++)
		assert_int_equal(task_package(l, &res.allocs[0], t), t);
	select_result_free(&res);

	/* block: packages filled in turn */
	req.dist_socket = SELECT_DIST_BLOCK;
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), 0);
	for (uint32_t t = 0; t < req.ntasks; t++)
		assert_int_equal(task_package(l, &res.allocs[0], t), t / l->packages[0].ncores);
	select_result_free(&res);
	cluster_free(&c);
}

static void test_ntasks_per_socket(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result res;
	char why[256] = "";

	add_node(&c, "16em64t-4s2c2t.xml");
	const struct topo_layout *l = c.node[0].layout;
	struct select_request req = {
		.job_id = 1, .ntasks = l->npackages, .cpus_per_task = 1, .ntasks_per_socket = 1
	};
	/* block, but at most one task per package: one on each */
	assert_int_equal(ops()->feasible(&req, c.ptr, c.n, why, sizeof(why)), 0);
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), 0);
	check_result(&c, &req, &res);
	uint32_t *count = calloc(l->npackages, sizeof(*count));
	for (uint32_t t = 0; t < req.ntasks; t++)
		count[task_package(l, &res.allocs[0], t)]++;
	for (uint32_t p = 0; p < l->npackages; p++)
		assert_int_equal(count[p], 1);
	free(count);
	select_result_free(&res);

	/* one task more than packages can never fit */
	req.ntasks = l->npackages + 1;
	errno = 0;
	assert_int_equal(ops()->feasible(&req, c.ptr, c.n, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(why, "--ntasks-per-socket"));
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), -1);
	assert_int_equal(errno, EAGAIN);

	/* a task bigger than a socket can never be kept in one */
	req.ntasks = 1;
	req.cpus_per_task = l->packages[0].ncores + 1;
	assert_int_equal(ops()->feasible(&req, c.ptr, c.n, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "socket"));
	cluster_free(&c);
}

/* ------------------------------------------------------- 192-core box */

static void test_best_fit_keeps_numa_whole(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result res;

	add_node(&c, "192em64t-24n8c2t.xml");
	const struct topo_layout *l = c.node[0].layout;
	uint32_t per = l->domains[0].ncores, job = 1;

	/* a 3-core job, then a 1-core job: the second fills the first's domain */
	struct select_request three = { .job_id = job++, .ntasks = 1, .cpus_per_task = 3 };
	assert_int_equal(run(&c, &three, &res), 0);
	uint32_t d0 = alloc_domain(l, &res.allocs[0]);
	assert_int_not_equal(d0, TOPO_NONE);
	select_result_free(&res);
	struct select_request one = { .job_id = job++, .ntasks = 1, .cpus_per_task = 1 };
	assert_int_equal(run(&c, &one, &res), 0);
	assert_int_equal(alloc_domain(l, &res.allocs[0]), d0);
	select_result_free(&res);

	/* so every other domain stays whole: a whole-domain job fits in each */
	for (uint32_t d = 1; d < l->ndomains; d++) {
		struct select_request big = { .job_id = job++, .ntasks = per, .cpus_per_task = 1 };
		assert_int_equal(run(&c, &big, &res), 0);
		uint32_t got = alloc_domain(l, &res.allocs[0]);
		assert_int_not_equal(got, TOPO_NONE);
		assert_int_not_equal(got, d0);
		select_result_free(&res);
	}
	/* and the hole left in d0 is exactly what remains */
	uint32_t left = per - 4;
	struct select_request rest = { .job_id = job++, .ntasks = left, .cpus_per_task = 1 };
	assert_int_equal(run(&c, &rest, &res), 0);
	assert_int_equal(alloc_domain(l, &res.allocs[0]), d0);
	select_result_free(&res);
	assert_int_equal(c.node[0].cores_busy, l->ncores);
	assert_int_equal(ops()->allocate(&one, c.ptr, c.n, &res), -1);
	assert_int_equal(errno, EAGAIN);
	cluster_free(&c);
}

/* A job bigger than a domain fills one whole and puts the rest in the
 * tightest domain that holds it. */
static void test_spill_fills_a_domain_first(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result res;

	add_node(&c, "192em64t-24n8c2t.xml");
	const struct topo_layout *l = c.node[0].layout;
	uint32_t per = l->domains[0].ncores;

	/* leave domain 5 with 2 free cores */
	struct select_request hole = { .job_id = 1, .ntasks = 1, .cpus_per_task = per - 2 };
	assert_int_equal(run(&c, &hole, &res), 0);
	uint32_t dh = alloc_domain(l, &res.allocs[0]);
	select_result_free(&res);

	struct select_request req = { .job_id = 2, .ntasks = per + 2, .cpus_per_task = 1 };
	assert_int_equal(run(&c, &req, &res), 0);
	const struct select_alloc *a = &res.allocs[0];
	uint32_t *per_dom = calloc(l->ndomains, sizeof(*per_dom));
	for (uint32_t t = 0; t < a->ntasks; t++) {
		uint32_t d = task_domain(l, a, t);
		assert_int_not_equal(d, TOPO_NONE);
		per_dom[d]++;
	}
	uint32_t used = 0;
	for (uint32_t d = 0; d < l->ndomains; d++) {
		if (!per_dom[d])
			continue;
		used++;
		assert_true(per_dom[d] == per || (d == dh && per_dom[d] == 2));
	}
	assert_int_equal(used, 2);
	assert_int_equal(per_dom[dh], 2);
	free(per_dom);
	select_result_free(&res);
	cluster_free(&c);
}

/* ------------------------------------------------------------- refusals */

static void expect_refused(struct cluster *c, const struct select_request *req, const char *what)
{
	char why[256] = "";

	errno = 0;
	assert_int_equal(ops()->feasible(req, c->ptr, c->n, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	if (!strstr(why, what))
		fail_msg("expected \"%s\" in \"%s\"", what, why);
}

static void test_refusals(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	char why[256], num[32];

	add_node(&c, "sierra.xml");
	add_node(&c, "corona.xml");
	const struct topo_layout *ls = c.node[0].layout, *lc = c.node[1].layout;
	uint32_t most_cores = ls->ncores > lc->ncores ? ls->ncores : lc->ncores;
	uint64_t most_mem =
	    c.node[0].mem_mb > c.node[1].mem_mb ? c.node[0].mem_mb : c.node[1].mem_mb;
	uint32_t most_gpus = ls->ngpus > lc->ngpus ? ls->ngpus : lc->ngpus;

	struct select_request ok = { .ntasks = 1, .cpus_per_task = most_cores };
	assert_int_equal(ops()->feasible(&ok, c.ptr, c.n, why, sizeof(why)), 0);

	struct select_request r = ok;
	r.cpus_per_task = most_cores + 1;
	snprintf(num, sizeof(num), "has %u", most_cores);
	expect_refused(&c, &r, num);
	expect_refused(&c, &r, "each task needs");

	r = ok;
	r.cpus_per_task = 1;
	r.mem_mb = most_mem + 1;
	expect_refused(&c, &r, "MiB of memory per node");
	r.mem_mb = 0;
	r.mem_per_cpu_mb = most_mem / 2 + 1;
	r.cpus_per_task = 2;
	expect_refused(&c, &r, "--mem-per-cpu");

	r = ok;
	r.cpus_per_task = 1;
	r.gpus_per_node = most_gpus + 1;
	snprintf(num, sizeof(num), "is %u", most_gpus);
	expect_refused(&c, &r, num);
	r.gpus_per_node = 0;
	r.gpus = ls->ngpus + lc->ngpus + 1;
	r.ntasks = 2;
	expect_refused(&c, &r, "GPUs");
	r.ntasks = 1;
	r.gpus = lc->ngpus; /* one task, so one node: corona has them */
	assert_int_equal(ops()->feasible(&r, c.ptr, c.n, why, sizeof(why)), 0);
	r.gpus = lc->ngpus + 1;
	expect_refused(&c, &r, "GPUs");
	r.gpus_per_node = 1;
	expect_refused(&c, &r, "exclude each other");

	r = ok;
	r.cpus_per_task = 1;
	r.nodes = 3;
	r.ntasks = 3;
	expect_refused(&c, &r, "only 2 nodes are eligible");
	r.nodes = 2;
	r.ntasks = 1;
	expect_refused(&c, &r, "each node needs a task");

	/* 2 nodes with tasks of more cores than the smaller one has */
	r = ok;
	r.nodes = 2;
	r.ntasks = 2;
	r.cpus_per_task = ls->ncores < lc->ncores ? lc->ncores : ls->ncores;
	expect_refused(&c, &r, "only 1 eligible");

	r = ok;
	r.cpus_per_task = 1;
	r.ntasks = ls->ncores + lc->ncores + 1;
	expect_refused(&c, &r, "together can hold");

	const char *req_names[] = { "n7", NULL };
	r = ok;
	r.cpus_per_task = 1;
	r.required = req_names;
	r.nrequired = 1;
	expect_refused(&c, &r, "n7");

	/* an excluded node does not count */
	c.node[1].eligible = false;
	r = ok;
	r.cpus_per_task = 1;
	r.gpus = lc->ngpus;
	expect_refused(&c, &r, "GPUs");
	c.node[0].eligible = false;
	expect_refused(&c, &r, "no node is eligible");

	/* nodes of unknown size could be anything */
	c.node[0].eligible = c.node[1].eligible = true;
	struct select_node unknown = { .name = "u", .usable = true, .eligible = true };
	struct select_node *ptrs[] = { c.ptr[0], c.ptr[1], &unknown };
	r = ok;
	r.cpus_per_task = 100000;
	assert_int_equal(ops()->feasible(&r, ptrs, 3, why, sizeof(why)), 0);
	/* but a node count is still counted */
	r.nodes = 4;
	r.ntasks = 4;
	errno = 0;
	assert_int_equal(ops()->feasible(&r, ptrs, 3, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "4 nodes"));
	cluster_free(&c);
}

/* The exact words of the common refusals: each a clause that reads on
 * its own after "the job can never run in partition P: ", with counts of 1
 * in the singular. */
static void expect_text(struct cluster *c, const struct select_request *req, const char *text)
{
	char why[512] = "";

	assert_int_equal(ops()->feasible(req, c->ptr, c->n, why, sizeof(why)), -1);
	assert_string_equal(why, text);
}

static void test_refusal_text(void **state)
{
	(void)state;
	struct cluster c = { 0 };

	add_node(&c, "pack:1 core:4 pu:1");
	add_node(&c, "pack:1 core:4 pu:1");
	add_node(&c, "pack:1 core:1 pu:1");
	struct select_request ok = { .ntasks = 1, .cpus_per_task = 1 }, r = ok;

	r.cpus_per_task = 5;
	expect_text(&c, &r,
		    "each task needs 5 cores (-c) but the largest eligible node has 4 cores");
	r = ok;
	r.gpus_per_node = 1;
	expect_text(&c, &r, "the job needs 1 GPU per node but the most any eligible node has is 0");
	r.gpus_per_node = 2;
	expect_text(&c, &r,
		    "the job needs 2 GPUs per node but the most any eligible node has is 0");
	r = ok;
	r.gpus = 1;
	expect_text(&c, &r,
		    "the job needs 1 GPU but the eligible nodes that can hold its tasks have at "
		    "most 0");
	r = ok;
	r.nodes = r.ntasks = 4;
	expect_text(&c, &r, "the job asks for 4 nodes but only 3 nodes are eligible");
	r.nodes = 2;
	r.ntasks = 1;
	expect_text(&c, &r,
		    "the job asks for 2 nodes but only 1 task, and each node needs a task (raise "
		    "-n or lower -N)");
	r = ok;
	r.ntasks = 10;
	expect_text(&c, &r,
		    "the job needs 10 tasks of 1 core but all eligible nodes together can hold "
		    "only 9 such tasks");
	r = ok;
	r.ntasks = 2;
	r.cpus_per_task = 4;
	r.nodes = 2;
	c.node[1].eligible = false;
	expect_text(&c, &r,
		    "the job needs 2 nodes that can each hold 1 task of 4 cores but only 1 "
		    "eligible node can");
	c.node[1].eligible = true;

	const char *missing[] = { "n7", NULL }, *small[] = { "n2", NULL };
	r = ok;
	r.required = missing;
	r.nrequired = 1;
	expect_text(&c, &r,
		    "node n7 of --nodelist is not eligible (it is not in the partition, or "
		    "--exclude or --constraint rule it out)");
	r.required = small;
	r.cpus_per_task = 2;
	expect_text(&c, &r, "node n2 of --nodelist can never hold a task of this job");

	for (size_t i = 0; i < c.n; i++)
		c.node[i].eligible = false;
	expect_text(&c, &ok, "no node is eligible (check --nodelist, --exclude and --constraint)");
	cluster_free(&c);
}

/* ------------------------------------------------------------- exclusive */

static void test_exclusive(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result r1, r2, r3;

	add_node(&c, "corona.xml");
	add_node(&c, "corona.xml");
	const struct topo_layout *l = c.node[0].layout;

	/* a small job on n0 first: the exclusive job must take n1 */
	struct select_request small = { .job_id = 1, .ntasks = 1, .cpus_per_task = 1 };
	assert_int_equal(run(&c, &small, &r1), 0);
	assert_int_equal(r1.allocs[0].node, 0);
	struct select_request ex = {
		.job_id = 2, .ntasks = 2, .cpus_per_task = 1, .exclusive = true, .mem_mb = 10
	};
	assert_int_equal(run(&c, &ex, &r2), 0);
	const struct select_alloc *a = &r2.allocs[0];
	assert_int_equal(a->node, 1);
	assert_true(a->exclusive);
	assert_int_equal(a->npus, l->npus);
	assert_int_equal(a->task_off[a->ntasks], 2 * l->threads_per_core);
	assert_int_equal(a->ngpus, l->ngpus);
	assert_int_equal(a->mem_mb, c.node[1].mem_mb);
	/* the two tasks still together, in one domain */
	assert_int_equal(task_domain(l, a, 0), task_domain(l, a, 1));
	assert_int_equal(c.node[1].exclusive, 2);
	assert_int_equal(c.node[1].pus_alloc, l->npus);
	assert_int_equal(c.node[1].gpus_alloc, l->ngpus);

	/* nothing more fits on n1, another exclusive job fits nowhere */
	small.job_id = 3;
	assert_int_equal(run(&c, &small, &r3), 0);
	assert_int_equal(r3.allocs[0].node, 0);
	select_result_free(&r3);
	ex.job_id = 4;
	assert_int_equal(ops()->allocate(&ex, c.ptr, c.n, &r3), -1);
	assert_int_equal(errno, EAGAIN);
	/* an exclusive job asking more memory than a node has never fits */
	ex.mem_mb = c.node[0].mem_mb + 1;
	char why[128];
	assert_int_equal(ops()->feasible(&ex, c.ptr, c.n, why, sizeof(why)), -1);

	/* released, n1 is whole again */
	assert_int_equal(select_charge(&c.node[1], 2, a->pus, a->npus, a->gpus, a->ngpus, a->mem_mb,
				       true, false),
			 0);
	assert_int_equal(c.node[1].exclusive, 0);
	assert_int_equal(c.node[1].njobs, 0);
	assert_int_equal(c.node[1].pus_alloc, 0);
	assert_int_equal(c.node[1].mem_alloc_mb, 0);
	select_result_free(&r1);
	select_result_free(&r2);
	cluster_free(&c);
}

/* ----------------------------------------------------- threads vs cores */

static void test_threads_share_cores(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result res;

	add_node(&c, "16em64t-4s2c2t.xml");
	const struct topo_layout *l = c.node[0].layout;
	uint32_t tpc = l->threads_per_core;
	assert_true(tpc >= 2);

	/* cores: each task a whole core */
	struct select_request req = { .job_id = 1, .ntasks = tpc, .cpus_per_task = 1 };
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), 0);
	check_result(&c, &req, &res);
	assert_int_equal(res.allocs[0].npus, tpc * tpc);
	select_result_free(&res);

	/* threads: the tasks share one core */
	req.threads = true;
	assert_int_equal(run(&c, &req, &res), 0);
	const struct select_alloc *a = &res.allocs[0];
	assert_int_equal(a->npus, tpc);
	for (uint32_t k = 1; k < a->npus; k++)
		assert_int_equal(core_of(l, a->pus[k]), core_of(l, a->pus[0]));
	assert_int_equal(c.node[0].cores_busy, 1);
	assert_int_equal(c.node[0].cores_full, 1);
	select_result_free(&res);

	/* one thread of a core taken: a threads job can use the rest of it,
	 * a cores job cannot */
	uint32_t pu = l->cores[1].first_pu;
	assert_int_equal(select_charge(&c.node[0], 5, &pu, 1, NULL, 0, 0, false, true), 0);
	struct select_request cores = { .job_id = 6, .ntasks = l->ncores - 1, .cpus_per_task = 1 };
	assert_int_equal(ops()->allocate(&cores, c.ptr, c.n, &res), -1);
	cores.ntasks = l->ncores - 2;
	assert_int_equal(ops()->allocate(&cores, c.ptr, c.n, &res), 0);
	check_result(&c, &cores, &res);
	select_result_free(&res);
	struct select_request thr = {
		.job_id = 7, .ntasks = l->npus - tpc - 1, .cpus_per_task = 1, .threads = true
	};
	assert_int_equal(run(&c, &thr, &res), 0);
	assert_int_equal(c.node[0].pus_alloc, l->npus);
	select_result_free(&res);
	cluster_free(&c);
}

/* ------------------------------------------------------------- memory */

static void test_memory_per_cpu(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result res;

	add_node(&c, "pack:2 numa:2 core:4 pu:2");
	add_node(&c, "pack:2 numa:2 core:4 pu:2");
	c.node[0].mem_mb = 5000;
	c.node[1].mem_mb = 8000;
	/* 3 tasks x 2 CPUs x 1000 MiB: only n1 has the memory, though n0 fits
	 * the cores more tightly after this */
	struct select_request one = { .job_id = 1, .ntasks = 1, .cpus_per_task = 1 };
	assert_int_equal(run(&c, &one, &res), 0);
	assert_int_equal(res.allocs[0].node, 0);
	select_result_free(&res);
	struct select_request req = {
		.job_id = 2, .ntasks = 3, .cpus_per_task = 2, .mem_per_cpu_mb = 1000
	};
	assert_int_equal(run(&c, &req, &res), 0);
	assert_int_equal(res.allocs[0].node, 1);
	assert_int_equal(res.allocs[0].mem_mb, 6000);
	assert_int_equal(c.node[1].mem_alloc_mb, 6000);
	select_result_free(&res);
	/* 2000 MiB left on n1, 5000 on n0: 4 such tasks need 2 nodes */
	req.job_id = 3;
	req.ntasks = 3;
	assert_int_equal(run(&c, &req, &res), 0);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.allocs[0].ntasks, 2); /* n0: 4000 of 5000 */
	assert_int_equal(res.allocs[0].mem_mb, 4000);
	assert_int_equal(res.allocs[1].ntasks, 1); /* n1: 2000 of 2000 */
	assert_int_equal(res.allocs[1].mem_mb, 2000);
	select_result_free(&res);
	/* --mem per node */
	struct select_request per_node = {
		.job_id = 4, .ntasks = 1, .cpus_per_task = 1, .mem_mb = 1001
	};
	assert_int_equal(ops()->allocate(&per_node, c.ptr, c.n, &res), -1);
	per_node.mem_mb = 1000;
	assert_int_equal(run(&c, &per_node, &res), 0);
	assert_int_equal(res.allocs[0].node, 0);
	select_result_free(&res);
	cluster_free(&c);
}

/* ------------------------------------------------------- several nodes */

static void test_required_nodes(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result res;
	const char *names[] = { "n2", NULL };

	for (int i = 0; i < 3; i++)
		add_node(&c, "pack:1 core:4 pu:1");
	/* alone it would go to n0; n2 is required */
	struct select_request req = {
		.job_id = 1, .ntasks = 2, .cpus_per_task = 1, .required = names, .nrequired = 1
	};
	assert_int_equal(run(&c, &req, &res), 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.allocs[0].node, 2);
	select_result_free(&res);
	/* more tasks than n2 still has: n2 plus the fewest others */
	req.job_id = 2;
	req.ntasks = 6;
	assert_int_equal(run(&c, &req, &res), 0);
	assert_int_equal(res.n, 2);
	bool has2 = false;
	for (size_t j = 0; j < res.n; j++)
		has2 |= res.allocs[j].node == 2;
	assert_true(has2);
	select_result_free(&res);
	/* a required node that is down: wait */
	c.node[2].usable = false;
	req.job_id = 3;
	req.ntasks = 1;
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), -1);
	assert_int_equal(errno, EAGAIN);
	cluster_free(&c);
}

static void test_multi_node_ranks(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result res;

	for (int i = 0; i < 3; i++)
		add_node(&c, "pack:2 numa:1 core:4 pu:2");
	const struct topo_layout *l = c.node[0].layout;
	struct select_request req = { .job_id = 1, .nodes = 2, .ntasks = 5, .cpus_per_task = 1 };

	/* block: the first node gets the extra task and the first ranks */
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), 0);
	check_result(&c, &req, &res);
	assert_int_equal(res.allocs[0].ntasks, 3);
	assert_int_equal(res.allocs[1].ntasks, 2);
	for (uint32_t t = 0; t < 3; t++)
		assert_int_equal(res.allocs[0].task_ids[t], t);
	for (uint32_t t = 0; t < 2; t++)
		assert_int_equal(res.allocs[1].task_ids[t], 3 + t);
	select_result_free(&res);

	/* cyclic: ranks dealt in turn */
	req.dist_node = SELECT_DIST_CYCLIC;
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), 0);
	check_result(&c, &req, &res);
	const uint32_t want0[] = { 0, 2, 4 }, want1[] = { 1, 3 };
	assert_memory_equal(res.allocs[0].task_ids, want0, sizeof(want0));
	assert_memory_equal(res.allocs[1].task_ids, want1, sizeof(want1));
	select_result_free(&res);

	/* --ntasks-per-node: that many per node, as many nodes as it takes */
	struct select_request tpn = {
		.job_id = 2, .ntasks = 5, .cpus_per_task = 1, .ntasks_per_node = 2
	};
	assert_int_equal(ops()->allocate(&tpn, c.ptr, c.n, &res), 0);
	check_result(&c, &tpn, &res);
	assert_int_equal(res.n, 3);
	assert_int_equal(res.allocs[0].ntasks, 2);
	assert_int_equal(res.allocs[1].ntasks, 2);
	assert_int_equal(res.allocs[2].ntasks, 1);
	select_result_free(&res);

	/* no node count: one node when it holds the job, else the fewest */
	struct select_request fit = { .job_id = 3, .ntasks = l->ncores, .cpus_per_task = 1 };
	assert_int_equal(ops()->allocate(&fit, c.ptr, c.n, &res), 0);
	assert_int_equal(res.n, 1);
	select_result_free(&res);
	fit.ntasks = l->ncores + 1;
	assert_int_equal(ops()->allocate(&fit, c.ptr, c.n, &res), 0);
	check_result(&c, &fit, &res);
	assert_int_equal(res.n, 2);
	select_result_free(&res);
	cluster_free(&c);
}

/* Best fit over nodes: the node with the least room that holds the job. */
static void test_node_best_fit(void **state)
{
	(void)state;
	struct cluster c = { 0 };
	struct select_result res;

	for (int i = 0; i < 3; i++)
		add_node(&c, "pack:1 core:8 pu:1");
	/* n0: 2 free, n1: 5 free, n2: 8 free */
	uint32_t take0[6] = { 0, 1, 2, 3, 4, 5 }, take1[3] = { 0, 1, 2 };
	assert_int_equal(select_charge(&c.node[0], 100, take0, 6, NULL, 0, 0, false, true), 0);
	assert_int_equal(select_charge(&c.node[1], 101, take1, 3, NULL, 0, 0, false, true), 0);
	struct select_request req = { .job_id = 1, .ntasks = 3, .cpus_per_task = 1 };
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), 0);
	assert_int_equal(res.allocs[0].node, 1);
	select_result_free(&res);
	req.ntasks = 2;
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), 0);
	assert_int_equal(res.allocs[0].node, 0);
	select_result_free(&res);
	/* an unusable or ineligible node is skipped */
	c.node[0].usable = false;
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), 0);
	assert_int_equal(res.allocs[0].node, 1);
	select_result_free(&res);
	c.node[1].eligible = false;
	assert_int_equal(ops()->allocate(&req, c.ptr, c.n, &res), 0);
	assert_int_equal(res.allocs[0].node, 2);
	select_result_free(&res);
	cluster_free(&c);
}

/* -------------------------------------------------- charge and release */

static void test_charge_bookkeeping(void **state)
{
	(void)state;
	struct cluster c = { 0 };

	add_node(&c, "sierra.xml");
	struct select_node *n = &c.node[0];
	const struct topo_layout *l = n->layout;
	uint32_t tpc = l->cores[0].npus;
	uint32_t pus[8], gpu = 0;
	assert_true(tpc + 2 <= 8);
	for (uint32_t k = 0; k < tpc + 2; k++)
		pus[k] = k; /* core 0 whole, then PUs of core 1 */

	assert_int_equal(select_charge(n, 7, pus, tpc + 1, &gpu, 1, 100, false, true), 0);
	assert_int_equal(n->pus_alloc, tpc + 1);
	assert_int_equal(n->cores_busy, 2);
	assert_int_equal(n->cores_full, 1);
	assert_int_equal(n->gpus_alloc, 1);
	assert_int_equal(n->mem_alloc_mb, 100);
	assert_int_equal(n->njobs, 1);
	assert_int_equal(n->core_used[1], 1);

	/* the same charge again changes nothing (a re-adopted job) */
	assert_int_equal(select_charge(n, 7, pus, tpc + 1, &gpu, 1, 100, false, true), 0);
	assert_int_equal(n->pus_alloc, tpc + 1);
	assert_int_equal(n->mem_alloc_mb, 100);
	assert_int_equal(n->njobs, 1);
	/* more for the same job: still one job */
	assert_int_equal(select_charge(n, 7, &pus[tpc + 1], 1, NULL, 0, 50, false, true), 0);
	assert_int_equal(n->njobs, 1);
	assert_int_equal(n->mem_alloc_mb, 150);

	/* overlap with another job: EBUSY and nothing changed */
	uint32_t clash[2] = { 40, 1 }, gclash = 0;
	errno = 0;
	assert_int_equal(select_charge(n, 8, clash, 2, NULL, 0, 10, false, true), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(n->pu_job[40], 0);
	assert_int_equal(n->pus_alloc, tpc + 2);
	assert_int_equal(select_charge(n, 8, &clash[0], 1, &gclash, 1, 10, false, true), -1);
	assert_int_equal(n->pu_job[40], 0);
	/* exclusive over another job: EBUSY */
	assert_int_equal(select_charge(n, 8, &clash[0], 1, NULL, 0, 10, true, true), -1);
	assert_int_equal(n->exclusive, 0);
	/* a second job, then indexes outside the layout are ignored */
	uint32_t other[2] = { 40, l->npus + 5 }, g2[2] = { 1, l->ngpus + 1 };
	assert_int_equal(select_charge(n, 8, other, 2, g2, 2, 10, false, true), 0);
	assert_int_equal(n->njobs, 2);
	assert_int_equal(n->pus_alloc, tpc + 3);
	assert_int_equal(n->gpus_alloc, 2);

	/* release job 7, twice: the second is a no-op */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(select_charge(n, 7, pus, tpc + 2, &gpu, 1, 150, false, false), 0);
		assert_int_equal(n->pus_alloc, 1);
		assert_int_equal(n->cores_busy, 1);
		assert_int_equal(n->cores_full, 0);
		assert_int_equal(n->gpus_alloc, 1);
		assert_int_equal(n->mem_alloc_mb, 10);
		assert_int_equal(n->njobs, 1);
	}
	/* releasing job 7's PUs in job 8's name frees nothing */
	assert_int_equal(select_charge(n, 8, pus, tpc, NULL, 0, 10, false, false), 0);
	assert_int_equal(n->mem_alloc_mb, 10);
	assert_int_equal(select_charge(n, 8, other, 2, g2, 2, 10, false, false), 0);
	assert_int_equal(n->pus_alloc, 0);
	assert_int_equal(n->cores_busy, 0);
	assert_int_equal(n->gpus_alloc, 0);
	assert_int_equal(n->mem_alloc_mb, 0);
	assert_int_equal(n->njobs, 0);
	for (uint32_t p = 0; p < l->npus; p++)
		assert_int_equal(n->pu_job[p], 0);

	/* job id 0 means free */
	assert_int_equal(select_charge(n, 0, pus, 1, NULL, 0, 0, false, true), -1);
	assert_int_equal(errno, EINVAL);
	/* a node of unknown size holds nothing */
	struct select_node unknown = { .name = "u" };
	assert_int_equal(select_charge(&unknown, 3, pus, 1, NULL, 0, 10, false, true), 0);
	assert_int_equal(unknown.njobs, 0);
	/* a new layout clears the usage */
	assert_int_equal(select_charge(n, 9, pus, 1, NULL, 0, 1, false, true), 0);
	assert_int_equal(select_node_set_layout(n, l), 0);
	assert_int_equal(n->pus_alloc, 0);
	assert_int_equal(n->njobs, 0);
	assert_int_equal(n->pu_job[0], 0);
	cluster_free(&c);
}

/* ------------------------------------------------- random requests */

static uint64_t seed = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (uint32_t)(seed % n);
}

/* The counters agree with the per-PU and per-GPU marks. */
static void check_counters(const struct select_node *n)
{
	const struct topo_layout *l = n->layout;
	uint32_t pus = 0, busy = 0, full = 0, gpus = 0, njobs = 0;
	uint32_t *jobs = calloc(l->npus + l->ngpus + 1, sizeof(*jobs));

	for (uint32_t c = 0; c < l->ncores; c++) {
		uint32_t used = 0;
		for (uint32_t k = 0; k < l->cores[c].npus; k++)
			used += n->pu_job[l->cores[c].first_pu + k] != 0;
		assert_int_equal(n->core_used[c], used);
		pus += used;
		busy += used > 0;
		full += used == l->cores[c].npus;
	}
	for (uint32_t g = 0; g < l->ngpus; g++)
		gpus += n->gpu_job[g] != 0;
	/* distinct holders */
	for (uint32_t p = 0; p < l->npus + l->ngpus; p++) {
		uint32_t j = p < l->npus ? n->pu_job[p] : n->gpu_job[p - l->npus];
		bool dup = j == 0;
		for (uint32_t q = 0; q < njobs && !dup; q++)
			dup = jobs[q] == j;
		if (!dup)
			jobs[njobs++] = j;
	}
	assert_int_equal(n->pus_alloc, pus);
	assert_int_equal(n->cores_busy, busy);
	assert_int_equal(n->cores_full, full);
	assert_int_equal(n->gpus_alloc, gpus);
	assert_int_equal(n->njobs, njobs);
	free(jobs);
}

static struct select_request random_request(uint32_t job, size_t nnodes)
{
	struct select_request r = { .job_id = job, .ntasks = 1 + rnd(24), .cpus_per_task = 1 };

	if (rnd(3) == 0)
		r.cpus_per_task = 1 + rnd(12);
	if (rnd(4) == 0)
		r.threads = true;
	if (rnd(4) == 0)
		r.nodes = 1 + rnd((uint32_t)nnodes);
	if (r.nodes && r.ntasks < r.nodes)
		r.ntasks = r.nodes;
	if (rnd(6) == 0)
		r.ntasks_per_node = 1 + rnd(8);
	if (r.ntasks_per_node && r.nodes && r.ntasks > r.nodes * r.ntasks_per_node)
		r.ntasks = r.nodes * r.ntasks_per_node;
	if (rnd(6) == 0)
		r.ntasks_per_socket = 1 + rnd(4);
	if (rnd(4) == 0)
		r.mem_mb = 1 + rnd(200000);
	else if (rnd(4) == 0)
		r.mem_per_cpu_mb = 1 + rnd(20000);
	if (rnd(5) == 0)
		r.gpus = 1 + rnd(4);
	else if (rnd(6) == 0)
		r.gpus_per_node = 1 + rnd(3);
	if (rnd(10) == 0)
		r.exclusive = true;
	if (rnd(8) == 0) {
		static const char *const names[][2] = { { "n0", NULL }, { "n1", NULL },
							{ "n2", NULL }, { "n3", NULL },
							{ "n4", NULL }, { "n5", NULL } };
		r.required = names[rnd(6)];
		r.nrequired = 1;
	} else if (rnd(10) == 0) {
		/* two names, maybe the same twice */
		static const char *pair[3];
		pair[0] = rnd(2) ? "n1" : "n4";
		pair[1] = rnd(2) ? "n1" : "n5";
		r.required = pair;
		r.nrequired = 2;
	}
	r.dist_node = rnd(2) ? SELECT_DIST_CYCLIC : SELECT_DIST_BLOCK;
	r.dist_socket = rnd(2) ? SELECT_DIST_CYCLIC : SELECT_DIST_BLOCK;
	return r;
}

static void test_random_requests(void **state)
{
	(void)state;
	static const char *const specs[] = { "sierra.xml",
					     "corona.xml",
					     "64intel64-fakeKNL-SNC4-hybrid.xml",
					     "16em64t-4s2c2t.xml",
					     "24em64t-2n6c2t-pci.xml",
					     "pack:2 numa:2 core:4 pu:2" };
	const size_t ns = sizeof(specs) / sizeof(specs[0]);
	struct cluster c = { 0 }, idle = { 0 };
	struct select_result held[64];
	uint32_t held_job[64] = { 0 }, ok = 0, refused = 0;

	for (size_t i = 0; i < ns; i++) {
		add_node(&c, specs[i]);
		add_node(&idle, specs[i]);
	}
	memset(held, 0, sizeof(held));
	for (uint32_t job = 1; job <= 10000; job++) {
		struct select_request r = random_request(job, ns);
		struct select_result res;
		char why[256];
		int f = ops()->feasible(&r, c.ptr, c.n, why, sizeof(why));

		/* never possible means not possible on idle nodes either, and
		 * possible means an idle cluster takes it */
		memset(&res, 0, sizeof(res));
		int on_idle = ops()->allocate(&r, idle.ptr, idle.n, &res);
		if (f < 0) {
			refused++;
			if (on_idle == 0)
				fail_msg("job %u refused (%s) but fits idle nodes", job, why);
			continue;
		}
		if (on_idle < 0)
			fail_msg("job %u feasible but does not fit idle nodes (%s)", job,
				 strerror(errno));
		check_result(&idle, &r, &res);
		select_result_free(&res);

		uint32_t slot = rnd(64);
		if (held_job[slot]) { /* release an older job first */
			for (size_t j = 0; j < held[slot].n; j++) {
				const struct select_alloc *a = &held[slot].allocs[j];
				select_charge(&c.node[a->node], held_job[slot], a->pus, a->npus,
					      a->gpus, a->ngpus, a->mem_mb, a->exclusive, false);
			}
			select_result_free(&held[slot]);
			held_job[slot] = 0;
		}
		if (run(&c, &r, &held[slot]) == 0) {
			held_job[slot] = job;
			ok++;
		} else {
			assert_int_equal(errno, EAGAIN);
		}
		for (size_t i = 0; i < c.n; i++)
			check_counters(&c.node[i]);
	}
	/* the test is only worth something if both outcomes happened often */
	assert_true(ok > 300);
	assert_true(refused > 100);
	for (uint32_t slot = 0; slot < 64; slot++)
		select_result_free(&held[slot]);
	cluster_free(&c);
	cluster_free(&idle);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test(test_sierra_gpu_local_to_cores),
		cmocka_unit_test(test_sierra_socket_jobs_with_their_gpus),
		cmocka_unit_test(test_sierra_gpus_steer_the_domain),
		cmocka_unit_test(test_pack_stays_in_package),
		cmocka_unit_test(test_cyclic_spreads_block_packs),
		cmocka_unit_test(test_ntasks_per_socket),
		cmocka_unit_test(test_best_fit_keeps_numa_whole),
		cmocka_unit_test(test_spill_fills_a_domain_first),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refusal_text),
		cmocka_unit_test(test_exclusive),
		cmocka_unit_test(test_threads_share_cores),
		cmocka_unit_test(test_memory_per_cpu),
		cmocka_unit_test(test_required_nodes),
		cmocka_unit_test(test_multi_node_ranks),
		cmocka_unit_test(test_node_best_fit),
		cmocka_unit_test(test_charge_bookkeeping),
		cmocka_unit_test(test_random_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
