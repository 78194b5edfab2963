/* topo.h - what hardware this node has, as hwloc sees it.
 *
 * Only the totals the node reports at registration for now; full topology
 * reporting (packages, NUMA nodes, cores, GPUs) comes later.
 */
#ifndef PACER_NODED_TOPO_H
#define PACER_NODED_TOPO_H

#include <stddef.h>
#include <stdint.h>

struct topo_info {
	uint32_t cpus;   /* processing units (hardware threads) */
	uint64_t mem_mb; /* total memory in MiB */
};

/* Discover this machine with hwloc and fill INFO.  0, or -1 with errno and
 * ERR saying what failed. */
int topo_probe(struct topo_info *info, char *err, size_t errlen);

#endif
