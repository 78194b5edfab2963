/* cores.c - "cores": consumable CPUs and memory, best fit.
 *
 * A task's CPUs never span nodes.  A job spread over an exact node count gets
 * its tasks as evenly as they go; otherwise it takes as few nodes as it can.
 * Among nodes that fit, the one with the least room left is chosen, so large
 * holes stay free for large jobs (best fit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "select.h"

/* Whole tasks of REQ that fit in the free part of node N. */
static uint32_t free_slots(const struct select_request *req, const struct select_node *n)
{
	if (!n->usable || n->cpus_alloc >= n->cpus)
		return 0;
	if (req->mem_mb &&
	    (n->mem_alloc_mb > n->mem_mb || n->mem_mb - n->mem_alloc_mb < req->mem_mb))
		return 0;
	return (n->cpus - n->cpus_alloc) / req->cpus_per_task;
}

static int feasible(const struct select_request *req, struct select_node *const *nodes, size_t n,
		    char *why, size_t whylen)
{
	uint32_t max_cpus = 0;
	uint64_t max_mem = 0, total_slots = 0;
	size_t known = 0, fitting = 0;
	bool unknown = false;

	if (req->nodes > n) {
		snprintf(why, whylen, "asks for %u nodes, the partition has %zu", req->nodes, n);
		goto refuse;
	}
	for (size_t i = 0; i < n; i++) {
		const struct select_node *nd = nodes[i];
		if (nd->cpus == 0) {
			unknown = true;
			continue;
		}
		known++;
		if (nd->cpus > max_cpus)
			max_cpus = nd->cpus;
		if (nd->mem_mb > max_mem)
			max_mem = nd->mem_mb;
		if (req->mem_mb && nd->mem_mb && nd->mem_mb < req->mem_mb)
			continue;
		uint32_t slots = nd->cpus / req->cpus_per_task;
		if (slots > 0)
			fitting++;
		total_slots += slots;
	}
	if (unknown || known == 0)
		return 0; /* cannot judge nodes that never reported their size */
	if (req->cpus_per_task > max_cpus) {
		snprintf(why, whylen, "needs %u CPUs per task, the largest node has %u",
			 req->cpus_per_task, max_cpus);
		goto refuse;
	}
	if (req->mem_mb && max_mem && req->mem_mb > max_mem) {
		snprintf(why, whylen,
			 "needs %llu MiB of memory per node, the largest node has %llu",
			 (unsigned long long)req->mem_mb, (unsigned long long)max_mem);
		goto refuse;
	}
	if (req->nodes && fitting < req->nodes) {
		snprintf(why, whylen, "needs %u nodes with room for a task, the partition has %zu",
			 req->nodes, fitting);
		goto refuse;
	}
	if (total_slots < req->ntasks) {
		snprintf(why, whylen,
			 "needs %u tasks of %u CPUs, the whole partition holds %llu such tasks",
			 req->ntasks, req->cpus_per_task, (unsigned long long)total_slots);
		goto refuse;
	}
	return 0;
refuse:
	errno = EINVAL;
	return -1;
}

/* Index of the usable, unchosen node with the fewest slots >= NEED, or -1. */
static long best_fit(const struct select_request *req, struct select_node *const *nodes, size_t n,
		     const bool *taken, uint32_t need)
{
	long best = -1;
	uint32_t best_slots = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		if (taken[i])
			continue;
		uint32_t s = free_slots(req, nodes[i]);
		if (s >= need && s < best_slots) {
			best = (long)i;
			best_slots = s;
		}
	}
	return best;
}

static void take(const struct select_request *req, size_t node, uint32_t tasks,
		 struct select_alloc *out, size_t *nout, bool *taken)
{
	taken[node] = true;
	out[*nout] = (struct select_alloc){ .node = node,
					    .tasks = tasks,
					    .cpus = tasks * req->cpus_per_task,
					    .mem_mb = req->mem_mb };
	(*nout)++;
}

/* Exactly req->nodes nodes, tasks spread as evenly as they go. */
static int alloc_exact(const struct select_request *req, struct select_node *const *nodes, size_t n,
		       bool *taken, struct select_alloc *out, size_t *nout)
{
	uint32_t base = req->ntasks / req->nodes, extra = req->ntasks % req->nodes;
	for (uint32_t k = 0; k < req->nodes; k++) {
		uint32_t need = base + (k < extra ? 1 : 0);
		long i = best_fit(req, nodes, n, taken, need ? need : 1);
		if (i < 0)
			return -1;
		take(req, (size_t)i, need, out, nout, taken);
	}
	return 0;
}

/* As few nodes as possible: one if any node holds the whole job, else the
 * roomiest nodes first. */
static int alloc_fewest(const struct select_request *req, struct select_node *const *nodes,
			size_t n, bool *taken, struct select_alloc *out, size_t *nout)
{
	long i = best_fit(req, nodes, n, taken, req->ntasks);
	if (i >= 0) {
		take(req, (size_t)i, req->ntasks, out, nout, taken);
		return 0;
	}
	uint32_t left = req->ntasks;
	while (left > 0) {
		long most = -1;
		uint32_t most_slots = 0;
		for (size_t j = 0; j < n; j++) {
			uint32_t s = taken[j] ? 0 : free_slots(req, nodes[j]);
			if (s > most_slots) {
				most = (long)j;
				most_slots = s;
			}
		}
		if (most < 0)
			return -1;
		uint32_t t = most_slots < left ? most_slots : left;
		take(req, (size_t)most, t, out, nout, taken);
		left -= t;
	}
	return 0;
}

static int allocate(const struct select_request *req, struct select_node *const *nodes, size_t n,
		    struct select_alloc *out, size_t *nout)
{
	bool *taken = calloc(n ? n : 1, sizeof(*taken));
	if (!taken)
		return -1;
	*nout = 0;
	int rc = req->nodes ? alloc_exact(req, nodes, n, taken, out, nout)
			    : alloc_fewest(req, nodes, n, taken, out, nout);
	free(taken);
	if (rc < 0) {
		*nout = 0;
		errno = EAGAIN;
	}
	return rc;
}

const struct select_ops select_cores = {
	.name = "cores",
	.feasible = feasible,
	.allocate = allocate,
};
