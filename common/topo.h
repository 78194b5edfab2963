/* topo.h - a machine's hardware layout as the scheduler sees it, from hwloc.
 *
 * A node daemon loads its topology (discovered, or given as an XML file or
 * a synthetic description so one small machine can emulate a big node),
 * sends it to the controller as zlib-compressed hwloc XML, and the
 * controller loads that into the same model.  The model is immutable once
 * loaded, so nodes with the same hash share one.
 *
 * The layout is plain arrays in hwloc logical order:
 *   - packages (sockets);
 *   - NUMA domains: the NUMA nodes that have CPUs, merged when they cover
 *     the same CPUs (KNL's DDR + MCDRAM, say); NUMA nodes without CPUs
 *     (GPU memory) are not counted;
 *   - cores, each in one package and one domain (a PU without a Core
 *     object above it counts as its own core); cores own consecutive PUs,
 *     in order (first_pu only grows), which select_charge relies on;
 *   - PUs (hardware threads), by hwloc os index, which is what binding and
 *     users see;
 *   - GPUs: hwloc OS devices of CUDA, NVML, RSMI or OpenCL kind, one per
 *     PCI device (CUDA preferred over NVML over OpenCL; RSMI for AMD), with
 *     their locality, sorted by kind then device index (so GPU 0 is cuda0
 *     or rsmi0, whatever order hwloc found them in); or a count from
 *     pacer.conf when hwloc sees none.
 */
#ifndef PACER_TOPO_H
#define PACER_TOPO_H

#include <stddef.h>
#include <stdint.h>

#define TOPO_NONE UINT32_MAX /* "no such object" in a layout index */

/* What a topology may hold: a node sends it, so anything beyond these is
 * refused at load and import rather than sized into the controller.  Real
 * machines stay far below (the biggest we know has 768 PUs). */
#define TOPO_PUS_MAX      (1u << 16)          /* PUs of one node */
#define TOPO_OS_INDEX_MAX (1u << 22)          /* PU and NUMA os indexes (as binding takes) */
#define TOPO_NUMA_MAX     4096u               /* NUMA nodes */
#define TOPO_NUMA_MEM_MAX ((uint64_t)1 << 50) /* bytes of one NUMA node (1 PiB) */
#define TOPO_GPUS_MAX     1024u               /* GPUs found in the topology */

struct topo_package {
	uint32_t os_index;
	uint32_t ncores;
	uint32_t ndomains;
};

struct topo_domain {
	uint32_t package; /* TOPO_NONE when it spans packages */
	uint32_t ncores;
	uint64_t mem_mb;  /* all its NUMA nodes together */
	char nodeset[32]; /* os indexes of its NUMA nodes, as a list ("0,4") */
};

struct topo_core {
	uint32_t package;
	uint32_t domain;
	uint32_t first_pu; /* index into pu_os */
	uint32_t npus;
};

struct topo_gpu {
	char name[32];    /* hwloc OS device name: cuda0, nvml1, rsmi2, opencl0d1, gpu0 */
	char kind[8];     /* cuda, nvml, rsmi, opencl, conf */
	int32_t index;    /* device index the runtime uses (CUDA_VISIBLE_DEVICES...) */
	uint32_t domain;  /* closest domain, TOPO_NONE when unknown */
	uint32_t package; /* closest package, TOPO_NONE when unknown */
	char busid[16];   /* PCI bus id, "" when unknown */
};

struct topo_layout {
	uint32_t npackages, ndomains, ncores, npus, ngpus;
	uint32_t threads_per_core; /* the most PUs any core has */
	uint64_t mem_mb;           /* sum of the domains' memory */
	const struct topo_package *packages;
	const struct topo_domain *domains;
	const struct topo_core *cores;
	const uint32_t *pu_os; /* [npus] os index of each PU; core c owns
				* pu_os[cores[c].first_pu .. + npus) */
	const struct topo_gpu *gpus;
};

struct topo;

/* Load a topology.  SPEC NULL or "" discovers this machine; a SPEC that
 * names an existing file (or ends in ".xml") is an hwloc XML file; anything
 * else is an hwloc synthetic description ("pack:2 numa:2 core:8 pu:2").
 * GPUS > 0 adds that many GPUs of kind "conf" (no locality) when hwloc
 * finds none.  0 with *TP set, or -1 with errno and ERR saying what is
 * wrong and how to fix it. */
int topo_load(const char *spec, uint32_t gpus, struct topo **tp, char *err, size_t errlen);

/* Load from what topo_export gave (compressed XML).  Same returns. */
int topo_import(const void *buf, size_t len, uint32_t gpus, struct topo **tp, char *err,
		size_t errlen);

/* The topology as zlib-compressed hwloc XML, for the wire.  0 with *BUF
 * (malloc'd, the caller frees) and *LEN, or -1 with errno. */
int topo_export(const struct topo *t, void **buf, size_t *len);

/* A hash of the uncompressed XML, as 16 hex digits: equal topologies have
 * equal hashes (the controller keeps one model per hash). */
const char *topo_hash(const struct topo *t);

/* Where it came from: "hwloc" (discovered), or the SPEC given. */
const char *topo_source(const struct topo *t);

const struct topo_layout *topo_layout(const struct topo *t);

/* The PU index (into pu_os) of os index OS, or TOPO_NONE. */
uint32_t topo_pu_by_os(const struct topo *t, uint32_t os);

void topo_destroy(struct topo *t);

/* A list ("0-3,8,10-11") of the os indexes of PUS[0..n) (PU indexes into
 * pu_os, any order) into BUF, snprintf-style: returns the length it needed
 * (BUF may be NULL when LEN is 0).  No PU gives "". */
int topo_pus_format(const struct topo_layout *l, const uint32_t *pus, size_t n, char *buf,
		    size_t len);

/* Parse a list of non-negative numbers ("0-3,8") into a sorted array
 * without duplicates (malloc'd into *OUT, count in *N).  The empty string
 * is the empty list (*OUT may then be NULL).  0, or -1 with EINVAL (bad
 * syntax, or a number above MAX) or ENOMEM. */
int topo_list_parse(const char *s, uint32_t max, uint32_t **out, size_t *n);

/* snprintf-style list of numbers (sorted or not; duplicates kept out). */
int topo_list_format(const uint32_t *v, size_t n, char *buf, size_t len);

/* "CUDA_VISIBLE_DEVICES=0,1" (and/or ROCR_VISIBLE_DEVICES, GPU_DEVICE_ORDINAL)
 * for GPUS[0..n) (indexes into gpus), ';'-separated, into BUF; snprintf-style. */
int topo_gpu_env(const struct topo_layout *l, const uint32_t *gpus, size_t n, char *buf,
		 size_t len);

#endif
