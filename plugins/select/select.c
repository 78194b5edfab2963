/* select.c - the registry of select plugins, and the bookkeeping of what
 * jobs hold on a node, which every plugin shares (see select.h). */
#include "select.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

extern const struct select_ops select_topology;

static const struct select_ops *const plugins[] = { &select_topology };

const struct select_ops *select_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++)
		if (strcmp(plugins[i]->name, name) == 0)
			return plugins[i];
	return NULL;
}

const char *select_names(void)
{
	return "topology";
}

static void clear_usage(struct select_node *n)
{
	n->pu_job = NULL;
	n->core_used = NULL;
	n->gpu_job = NULL;
	n->pus_alloc = n->cores_full = n->cores_busy = n->gpus_alloc = 0;
	n->mem_alloc_mb = 0;
	n->njobs = 0;
	n->exclusive = 0;
}

void select_node_release(struct select_node *n)
{
	free(n->pu_job);
	free(n->core_used);
	free(n->gpu_job);
	clear_usage(n);
	n->layout = NULL;
}

int select_node_set_layout(struct select_node *n, const struct topo_layout *layout)
{
	select_node_release(n);
	if (!layout)
		return 0;
	n->pu_job = calloc(layout->npus ? layout->npus : 1, sizeof(*n->pu_job));
	n->core_used = calloc(layout->ncores ? layout->ncores : 1, sizeof(*n->core_used));
	n->gpu_job = calloc(layout->ngpus ? layout->ngpus : 1, sizeof(*n->gpu_job));
	if (!n->pu_job || !n->core_used || !n->gpu_job) {
		select_node_release(n);
		errno = ENOMEM;
		return -1;
	}
	n->layout = layout;
	return 0;
}

/* The core owning PU index P: cores own consecutive PUs in order. */
static uint32_t core_of(const struct topo_layout *l, uint32_t p)
{
	uint32_t lo = 0, hi = l->ncores;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (l->cores[mid].first_pu <= p)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Whether JOB holds anything on N.  A scan of a node's PUs and GPUs costs
 * less than a microsecond and keeps njobs exact whatever the callers do. */
static bool holds(const struct select_node *n, uint32_t job)
{
	const struct topo_layout *l = n->layout;

	if (n->exclusive == job)
		return true;
	for (uint32_t p = 0; p < l->npus; p++)
		if (n->pu_job[p] == job)
			return true;
	for (uint32_t g = 0; g < l->ngpus; g++)
		if (n->gpu_job[g] == job)
			return true;
	return false;
}

static void take_pu(struct select_node *n, uint32_t p, uint32_t job)
{
	const struct topo_layout *l = n->layout;
	uint32_t c = core_of(l, p);

	n->pu_job[p] = job;
	n->pus_alloc++;
	if (n->core_used[c]++ == 0)
		n->cores_busy++;
	if (n->core_used[c] == l->cores[c].npus)
		n->cores_full++;
}

static void free_pu(struct select_node *n, uint32_t p)
{
	const struct topo_layout *l = n->layout;
	uint32_t c = core_of(l, p);

	n->pu_job[p] = 0;
	n->pus_alloc--;
	if (n->core_used[c] == l->cores[c].npus)
		n->cores_full--;
	if (--n->core_used[c] == 0)
		n->cores_busy--;
}

/* Adding: first check everything, so a refusal changes nothing. */
static int charge_add(struct select_node *n, uint32_t job, const uint32_t *pus, size_t npus,
		      const uint32_t *gpus, size_t ngpus, uint64_t mem_mb, bool exclusive)
{
	const struct topo_layout *l = n->layout;
	bool before = holds(n, job), took = false;

	if (n->exclusive && n->exclusive != job)
		goto busy;
	if (exclusive && n->njobs > (before ? 1u : 0u))
		goto busy; /* someone else holds something here */
	for (size_t i = 0; i < npus; i++)
		if (pus[i] < l->npus && n->pu_job[pus[i]] && n->pu_job[pus[i]] != job)
			goto busy;
	for (size_t i = 0; i < ngpus; i++)
		if (gpus[i] < l->ngpus && n->gpu_job[gpus[i]] && n->gpu_job[gpus[i]] != job)
			goto busy;
	for (size_t i = 0; i < npus; i++) {
		if (pus[i] < l->npus && n->pu_job[pus[i]] == 0) {
			take_pu(n, pus[i], job);
			took = true;
		}
	}
	for (size_t i = 0; i < ngpus; i++) {
		if (gpus[i] < l->ngpus && n->gpu_job[gpus[i]] == 0) {
			n->gpu_job[gpus[i]] = job;
			n->gpus_alloc++;
			took = true;
		}
	}
	if (exclusive && n->exclusive != job) {
		n->exclusive = job;
		took = true;
	}
	/* Nothing new: the same charge again (a re-adopted job) is a no-op,
	 * and PUs all outside the layout (a topology that shrank) hold
	 * nothing, so their release has nothing to give back either. */
	if (!took)
		return 0;
	n->mem_alloc_mb =
	    mem_mb > UINT64_MAX - n->mem_alloc_mb ? UINT64_MAX : n->mem_alloc_mb + mem_mb;
	if (!before)
		n->njobs++;
	return 0;
busy:
	errno = EBUSY;
	return -1;
}

static void charge_release(struct select_node *n, uint32_t job, const uint32_t *pus, size_t npus,
			   const uint32_t *gpus, size_t ngpus, uint64_t mem_mb)
{
	const struct topo_layout *l = n->layout;
	bool freed = false;

	for (size_t i = 0; i < npus; i++) {
		if (pus[i] < l->npus && n->pu_job[pus[i]] == job) {
			free_pu(n, pus[i]);
			freed = true;
		}
	}
	for (size_t i = 0; i < ngpus; i++) {
		if (gpus[i] < l->ngpus && n->gpu_job[gpus[i]] == job) {
			n->gpu_job[gpus[i]] = 0;
			n->gpus_alloc--;
			freed = true;
		}
	}
	if (n->exclusive == job) {
		n->exclusive = 0;
		freed = true;
	}
	/* Memory has no owner mark: give it back only with something that was
	 * really held, so a second release of the same thing is a no-op. */
	if (!freed)
		return;
	n->mem_alloc_mb -= mem_mb < n->mem_alloc_mb ? mem_mb : n->mem_alloc_mb;
	if (!holds(n, job) && n->njobs > 0)
		n->njobs--;
}

int select_charge(struct select_node *n, uint32_t job_id, const uint32_t *pus, size_t npus,
		  const uint32_t *gpus, size_t ngpus, uint64_t mem_mb, bool exclusive, bool add)
{
	if (job_id == 0) {
		errno = EINVAL; /* 0 marks a free PU */
		return -1;
	}
	if (!n->layout)
		return 0; /* nothing of a node of unknown size can be held */
	if (!pus)
		npus = 0;
	if (!gpus)
		ngpus = 0;
	if (add)
		return charge_add(n, job_id, pus, npus, gpus, ngpus, mem_mb, exclusive);
	charge_release(n, job_id, pus, npus, gpus, ngpus, mem_mb);
	return 0;
}

void select_result_free(struct select_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n; i++) {
		free(res->allocs[i].pus);
		free(res->allocs[i].task_ids);
		free(res->allocs[i].task_off);
		free(res->allocs[i].gpus);
	}
	free(res->allocs);
	res->allocs = NULL;
	res->n = 0;
}
