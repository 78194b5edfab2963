/* select.h - the node selection plugin interface.
 *
 * The controller asks a select plugin two things: can a request EVER fit in
 * a partition (checked at submit, so a job that never could is refused with
 * the reason), and where does it fit NOW.  Plugins see nodes only through
 * struct select_node; they keep no state of their own between calls, so the
 * controller's tables stay the one truth.  What a job holds on a node is
 * marked and released through select_charge(), shared by every plugin.
 * Chosen by name (`select =` in pacer.conf).
 */
#ifndef PACER_SELECT_H
#define PACER_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "topo.h"

/* A node as the allocator sees it: its layout and what is taken of it. */
struct select_node {
	const char *name;
	const struct topo_layout *layout; /* NULL = size not known yet (never registered) */
	uint64_t mem_mb;                  /* allocatable (pacer.conf may lower it) */
	bool usable;                      /* up and accepting jobs */
	bool eligible;                    /* scratch: set by the caller per request */
	uint32_t feature_mask;            /* bit i = conf feature i */
	/* usage, changed only through select_charge() */
	uint32_t *pu_job;    /* [npus] job holding each PU, 0 = free */
	uint16_t *core_used; /* [ncores] PUs taken in each core */
	uint32_t *gpu_job;   /* [ngpus] job holding each GPU, 0 = free */
	uint32_t pus_alloc;
	uint32_t cores_full; /* cores with every PU taken */
	uint32_t cores_busy; /* cores with any PU taken */
	uint32_t gpus_alloc;
	uint64_t mem_alloc_mb;
	uint32_t njobs;     /* jobs holding anything here */
	uint32_t exclusive; /* id of a job holding the whole node, or 0 */
};

enum select_dist { SELECT_DIST_BLOCK = 0, SELECT_DIST_CYCLIC = 1 };

struct select_request {
	uint32_t job_id;
	uint32_t nodes;             /* exact node count, 0 = as few as fit */
	uint32_t ntasks;            /* >= 1 */
	uint32_t cpus_per_task;     /* >= 1 */
	uint32_t ntasks_per_node;   /* 0 = any */
	uint32_t ntasks_per_socket; /* 0 = any */
	uint64_t mem_mb;            /* per node, 0 = none (unless mem_per_cpu_mb) */
	uint64_t mem_per_cpu_mb;    /* per allocated CPU, 0 = none */
	uint32_t gpus;              /* for the whole job */
	uint32_t gpus_per_node;
	bool exclusive;               /* whole nodes */
	bool threads;                 /* a CPU is a PU (--hint=multithread), else a core */
	enum select_dist dist_node;   /* how tasks are ranked over nodes */
	enum select_dist dist_socket; /* how tasks are laid over packages */
	const char *const *required; /* node names that must all be used, NULL-ended; may be NULL */
	size_t nrequired;
};

/* One node of an allocation. */
struct select_alloc {
	size_t node; /* index into the nodes array given */
	uint32_t ntasks;
	uint32_t npus; /* PUs taken (every PU of a taken core when not `threads`) */
	uint64_t mem_mb;
	uint32_t *pus;      /* [npus] PU indexes (into layout->pu_os) */
	uint32_t *task_ids; /* [ntasks] global task ranks */
	uint32_t *task_off; /* [ntasks + 1] task t owns pus[task_off[t] .. task_off[t+1]) */
	uint32_t ngpus;
	uint32_t *gpus; /* [ngpus] indexes into layout->gpus */
	bool exclusive;
};

/* Where a job goes: one entry per node. */
struct select_result {
	size_t n;
	struct select_alloc *allocs;
};

struct select_ops {
	const char *name;
	/* 0 if REQ could run on NODES when they are all idle; -1 with errno
	 * EINVAL and WHY when it never could: a clause that stands alone,
	 * without a capital or a full stop ("each task needs 64 cores (-c) but
	 * the largest eligible node has 32 cores"), for the caller to put after
	 * what it checked.  Only nodes with `eligible` set count; nodes of
	 * unknown size (layout NULL) are assumed to fit. */
	int (*feasible)(const struct select_request *req, struct select_node *const *nodes,
			size_t n, char *why, size_t whylen);
	/* Choose nodes, cores and GPUs for REQ now, among the usable and
	 * eligible NODES.  0 with RES filled (free it with
	 * select_result_free), or -1 with errno EAGAIN when it does not fit at
	 * present (ENOMEM on allocation failure).  Nothing is charged. */
	int (*allocate)(const struct select_request *req, struct select_node *const *nodes,
			size_t n, struct select_result *res);
};

/* The plugin called NAME, or NULL. */
const struct select_ops *select_find(const char *name);

/* The names of all plugins, comma-separated, for error messages. */
const char *select_names(void);

/* Give node N its layout (NULL = unknown) and clear its usage.  0 or -1
 * with ENOMEM. */
int select_node_set_layout(struct select_node *n, const struct topo_layout *layout);

/* Free N's usage arrays. */
void select_node_release(struct select_node *n);

/* Mark (ADD) or release what JOB_ID holds on N: PUS[0..npus), GPUS,
 * MEM_MB, EXCLUSIVE.  Releasing only frees what JOB_ID holds, so a double
 * release is harmless.  Indexes outside the layout are ignored (a topology
 * that shrank); -1 with EBUSY when adding finds a PU or GPU already taken by
 * another job (nothing is changed then), else 0. */
int select_charge(struct select_node *n, uint32_t job_id, const uint32_t *pus, size_t npus,
		  const uint32_t *gpus, size_t ngpus, uint64_t mem_mb, bool exclusive, bool add);

void select_result_free(struct select_result *res);

#endif
