/* select_bench.c - how long the "topology" plugin's allocate() takes.
 *
 * 1,000 nodes of 64 cores (2 packages x 2 NUMA domains x 16 cores x 2
 * threads, an hwloc synthetic topology), each half full with jobs on
 * scattered cores.  Prints one figure a line (`name value`):
 *
 *   select_1core_us    microseconds per allocate() of a 1-core job
 *   select_16task_us   of a 16-task job (1 core each)
 *   select_4node_us    of a 4-node job (16 tasks a node)
 *   select_pass_ms     10,000 mixed jobs allocated and charged in a row
 *                      until the cluster is full (most fail near the end),
 *                      as one scheduling pass would
 *
 * Each figure is the median of 7 runs.  Usage: select_bench [NODES]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "select.h"
#include "topo.h"

#define RUNS 7
#define SPEC "pack:2 numa:2 core:16 pu:2"

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

struct cluster {
	size_t n;
	struct select_node *nodes;
	struct select_node **ptr;
	char (*names)[32];
};

/* Every node half full: 4 jobs of 8 cores and 8 GiB each, on cores drawn
 * at random. */
static int fill_half(struct cluster *c, const struct topo_layout *l)
{
	uint32_t job = 1000000;

	for (size_t i = 0; i < c->n; i++) {
		struct select_node *nd = &c->nodes[i];
		bool taken[256] = { false };

		if (l->ncores > 256 || select_node_set_layout(nd, l) < 0)
			return -1;
		for (int j = 0; j < 4; j++, job++) {
			uint32_t pus[256], np = 0;
			for (int k = 0; k < 8;) {
				uint32_t core = rnd(l->ncores);
				if (taken[core])
					continue;
				taken[core] = true;
				for (uint32_t m = 0; m < l->cores[core].npus; m++)
					pus[np++] = l->cores[core].first_pu + m;
				k++;
			}
			if (select_charge(nd, job, pus, np, NULL, 0, 8 * 1024, false, true) < 0)
				return -1;
		}
	}
	return 0;
}

static int setup(struct cluster *c, size_t n, const struct topo_layout *l)
{
	c->n = n;
	c->nodes = calloc(n, sizeof(*c->nodes));
	c->ptr = calloc(n, sizeof(*c->ptr));
	c->names = calloc(n, sizeof(*c->names));
	if (!c->nodes || !c->ptr || !c->names)
		return -1;
	for (size_t i = 0; i < n; i++) {
		snprintf(c->names[i], sizeof(c->names[i]), "node%04zu", i);
		c->nodes[i].name = c->names[i];
		c->nodes[i].mem_mb = 256 * 1024;
		c->nodes[i].usable = c->nodes[i].eligible = true;
		c->ptr[i] = &c->nodes[i];
	}
	return fill_half(c, l);
}

static void teardown(struct cluster *c)
{
	for (size_t i = 0; i < c->n; i++)
		select_node_release(&c->nodes[i]);
	free(c->nodes);
	free(c->ptr);
	free(c->names);
}

/* Microseconds per allocate() of REQ, nothing charged. */
static double time_allocate(const struct select_ops *ops, const struct select_request *req,
			    struct cluster *c, int calls)
{
	double t0 = now_us();

	for (int i = 0; i < calls; i++) {
		struct select_result res;
		if (ops->allocate(req, c->ptr, c->n, &res) < 0) {
			fprintf(stderr, "select_bench: allocate failed: %s\n", strerror(errno));
			exit(1);
		}
		select_result_free(&res);
	}
	return (now_us() - t0) / calls;
}

/* 10,000 jobs as one pass: allocate, and charge what fits. */
static double time_pass(const struct select_ops *ops, const struct topo_layout *l, size_t n)
{
	struct cluster c;
	double t0, ms;

	if (setup(&c, n, l) < 0) {
		fprintf(stderr, "select_bench: out of memory\n");
		exit(1);
	}
	t0 = now_us();
	for (uint32_t job = 1; job <= 10000; job++) {
		uint32_t kind = rnd(10);
		struct select_request req = { .job_id = job, .ntasks = 1, .cpus_per_task = 1 };
		struct select_result res;

		if (kind >= 7 && kind < 9) {
			req.ntasks = 16;
		} else if (kind == 9) {
			req.nodes = 4;
			req.ntasks = 64;
		}
		if (ops->allocate(&req, c.ptr, c.n, &res) < 0)
			continue;
		for (size_t j = 0; j < res.n; j++) {
			const struct select_alloc *a = &res.allocs[j];
			select_charge(&c.nodes[a->node], job, a->pus, a->npus, a->gpus, a->ngpus,
				      a->mem_mb, a->exclusive, true);
		}
		select_result_free(&res);
	}
	ms = (now_us() - t0) / 1000;
	teardown(&c);
	return ms;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	const struct select_ops *ops = select_find("topology");
	struct topo *t;
	struct cluster c;
	char err[256];
	double one[RUNS], sixteen[RUNS], four[RUNS], pass[RUNS];

	if (n == 0 || !ops) {
		fprintf(stderr, "usage: select_bench [NODES]\n");
		return 2;
	}
	if (topo_load(SPEC, 0, &t, err, sizeof(err)) < 0) {
		fprintf(stderr, "select_bench: %s\n", err);
		return 1;
	}
	if (setup(&c, n, topo_layout(t)) < 0) {
		fprintf(stderr, "select_bench: cannot set up the nodes\n");
		return 1;
	}
	struct select_request r1 = { .job_id = 1, .ntasks = 1, .cpus_per_task = 1 };
	struct select_request r16 = { .job_id = 2, .ntasks = 16, .cpus_per_task = 1 };
	struct select_request r4 = { .job_id = 3, .nodes = 4, .ntasks = 64, .cpus_per_task = 1 };
	for (int r = 0; r < RUNS; r++) {
		one[r] = time_allocate(ops, &r1, &c, 2000);
		sixteen[r] = time_allocate(ops, &r16, &c, 1000);
		four[r] = time_allocate(ops, &r4, &c, 500);
	}
	teardown(&c);
	for (int r = 0; r < RUNS; r++)
		pass[r] = time_pass(ops, topo_layout(t), n);
	printf("select_1core_us %.2f\n", median(one, RUNS));
	printf("select_16task_us %.2f\n", median(sixteen, RUNS));
	printf("select_4node_us %.2f\n", median(four, RUNS));
	printf("select_pass_ms %.1f\n", median(pass, RUNS));
	topo_destroy(t);
	return 0;
}
