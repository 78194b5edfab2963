/* select.h - the node selection plugin interface.
 *
 * The controller asks a select plugin two things: can a request EVER fit in
 * a partition (checked at submit, so a job that never could is refused with
 * the reason), and where does it fit NOW.  Plugins see nodes only through
 * struct select_node; they keep no state of their own between calls, so the
 * controller's tables stay the one truth.  Chosen by name (`select =` in
 * pacer.conf); a later plugin places by hwloc topology.
 */
#ifndef PACER_SELECT_H
#define PACER_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct select_node {
	const char *name;
	uint32_t cpus; /* total; 0 = not known yet (never registered) */
	uint32_t cpus_alloc;
	uint64_t mem_mb; /* total; 0 = not known yet */
	uint64_t mem_alloc_mb;
	bool usable; /* up and accepting jobs */
};

struct select_request {
	uint32_t nodes;         /* exact node count, 0 = as few as fit */
	uint32_t ntasks;        /* >= 1 */
	uint32_t cpus_per_task; /* >= 1 */
	uint64_t mem_mb;        /* per node, 0 = none */
};

/* One node of an allocation. */
struct select_alloc {
	size_t node; /* index into the nodes array given */
	uint32_t cpus;
	uint32_t tasks;
	uint64_t mem_mb;
};

struct select_ops {
	const char *name;
	/* 0 if REQ could run on NODES when they are all idle; -1 with errno
	 * EINVAL and WHY ("needs 64 cpus on one node, the largest has 32")
	 * when it never could.  Nodes of unknown size are assumed to fit. */
	int (*feasible)(const struct select_request *req, struct select_node *const *nodes,
			size_t n, char *why, size_t whylen);
	/* Choose nodes for REQ now.  0 with OUT[0..*NOUT) filled (OUT has room
	 * for n entries), or -1 with EAGAIN when it does not fit at present. */
	int (*allocate)(const struct select_request *req, struct select_node *const *nodes,
			size_t n, struct select_alloc *out, size_t *nout);
};

/* The plugin called NAME, or NULL. */
const struct select_ops *select_find(const char *name);

/* The names of all plugins, comma-separated, for error messages. */
const char *select_names(void);

#endif
