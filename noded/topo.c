/* topo.c - hwloc discovery of the node's size (see topo.h). */
#include "topo.h"

#include <errno.h>
#include <hwloc.h>
#include <stdio.h>
#include <string.h>

int topo_probe(struct topo_info *info, char *err, size_t errlen)
{
	hwloc_topology_t topo;
	int npu, saved;

	if (hwloc_topology_init(&topo) < 0) {
		snprintf(err, errlen, "hwloc_topology_init: %s", strerror(errno));
		return -1;
	}
	if (hwloc_topology_load(topo) < 0) {
		snprintf(err, errlen, "hwloc cannot discover this machine: %s", strerror(errno));
		goto failed;
	}
	npu = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
	if (npu <= 0) {
		snprintf(err, errlen, "hwloc found no processing unit on this machine");
		errno = ENODEV;
		goto failed;
	}
	info->cpus = (uint32_t)npu;
	info->mem_mb = hwloc_get_root_obj(topo)->total_memory >> 20;
	hwloc_topology_destroy(topo);
	return 0;
failed:
	saved = errno;
	hwloc_topology_destroy(topo);
	errno = saved;
	return -1;
}
