/* topo.c - a machine's layout from hwloc, and its wire form (see topo.h).
 *
 * The hwloc topology lives only while the layout is built: what stays is
 * plain arrays, the compressed XML and its hash, so a model is cheap to keep
 * and safe to share between nodes.
 */
#include "topo.h"

#include <errno.h>
#include <hwloc.h>
#include <hwloc/export.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#include "strfmt.h"

/* The wire carries what a node says: refuse to inflate more than this.  The
 * biggest real topology we know (768 PUs with I/O) is about 431 KB. */
#define TOPO_XML_MAX ((size_t)64 << 20)

struct topo {
	struct topo_layout layout;
	struct topo_package *packages;
	struct topo_domain *domains;
	struct topo_core *cores;
	uint32_t *pu_os;
	struct topo_gpu *gpus;
	uint32_t *by_os; /* PU indexes sorted by os index, for topo_pu_by_os */
	void *zxml;      /* what topo_export hands out */
	size_t zlen;
	char hash[17];
	char *source;
};

/* GPU kinds, best first: one PCI device seen by several backends keeps the
 * name of the best. */
enum gpu_kind { GPU_CUDA, GPU_NVML, GPU_RSMI, GPU_OPENCL, GPU_CONF, GPU_NONE };
static const char *const kind_names[] = { "cuda", "nvml", "rsmi", "opencl", "conf" };

/* ---------------------------------------------------------------- lists */

static void put_str(struct strfmt *o, const char *s)
{
	strfmt_put(o, s, strlen(s));
}

static void put_u32(struct strfmt *o, uint32_t v)
{
	char tmp[16];
	int n = snprintf(tmp, sizeof(tmp), "%u", v);

	strfmt_put(o, tmp, (size_t)n);
}

/* End O's string and return its length snprintf-style. */
static int put_end(struct strfmt *o)
{
	if (o->size > 0)
		o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
	if (o->len > INT_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	return (int)o->len;
}

/* V[0..n) sorted, duplicates skipped, as "0-3,8" into O. */
static void put_sorted_list(struct strfmt *o, const uint32_t *v, size_t n)
{
	bool first = true;

	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && (v[j + 1] == v[j] || v[j + 1] == v[j] + 1))
			j++;
		if (!first)
			put_str(o, ",");
		first = false;
		put_u32(o, v[i]);
		if (v[j] != v[i]) {
			put_str(o, "-");
			put_u32(o, v[j]);
		}
		i = j + 1;
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool is_sorted(const uint32_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (v[i] < v[i - 1])
			return false;
	return true;
}

int topo_list_format(const uint32_t *v, size_t n, char *buf, size_t len)
{
	struct strfmt o = { .buf = buf, .size = buf ? len : 0 };
	uint32_t *copy = NULL;

	if (n && !is_sorted(v, n)) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -1;
		memcpy(copy, v, n * sizeof(*copy));
		qsort(copy, n, sizeof(*copy), cmp_u32);
		v = copy;
	}
	put_sorted_list(&o, v, n);
	free(copy);
	return put_end(&o);
}

int topo_pus_format(const struct topo_layout *l, const uint32_t *pus, size_t n, char *buf,
		    size_t len)
{
	uint32_t small[256], *os = small;
	int rc;

	if (n == 0)
		return topo_list_format(NULL, 0, buf, len);
	if (n > sizeof(small) / sizeof(small[0])) {
		os = malloc(n * sizeof(*os));
		if (!os)
			return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (pus[i] >= l->npus) {
			if (os != small)
				free(os);
			errno = EINVAL;
			return -1;
		}
		os[i] = l->pu_os[pus[i]];
	}
	rc = topo_list_format(os, n, buf, len);
	if (os != small)
		free(os);
	return rc;
}

/* A decimal number at *S, at most MAX; *S moves past it. */
static int parse_num(const char **s, uint32_t max, uint32_t *v)
{
	const char *p = *s;
	uint64_t x = 0;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		x = x * 10 + (uint64_t)(*p - '0');
		if (x > max)
			return -1;
		p++;
	}
	*v = (uint32_t)x;
	*s = p;
	return 0;
}

struct range {
	uint32_t lo, hi;
};

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int topo_list_parse(const char *s, uint32_t max, uint32_t **out, size_t *n)
{
	struct range *r = NULL;
	size_t nr = 0, cap = 0, total = 0, k = 0;
	uint32_t *v = NULL;
	const char *p = s;

	*out = NULL;
	*n = 0;
	if (!s) {
		errno = EINVAL;
		return -1;
	}
	while (*p) {
		struct range x;

		if (parse_num(&p, max, &x.lo) < 0)
			goto invalid;
		x.hi = x.lo;
		if (*p == '-') {
			p++;
			if (parse_num(&p, max, &x.hi) < 0 || x.hi < x.lo)
				goto invalid;
		}
		if (*p == ',') {
			p++;
			if (!*p)
				goto invalid; /* "1," */
		} else if (*p) {
			goto invalid;
		}
		if (nr == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct range *nrg = realloc(r, ncap * sizeof(*r));
			if (!nrg)
				goto nomem;
			r = nrg;
			cap = ncap;
		}
		r[nr++] = x;
	}
	if (nr > 1)
		qsort(r, nr, sizeof(*r), cmp_range);
	/* Merge overlaps so the count is exact before allocating. */
	for (size_t i = 0; i < nr; i++) {
		if (k > 0 && r[i].lo <= r[k - 1].hi) {
			if (r[i].hi > r[k - 1].hi)
				r[k - 1].hi = r[i].hi;
			continue;
		}
		r[k++] = r[i];
	}
	for (size_t i = 0; i < k; i++)
		total += (size_t)(r[i].hi - r[i].lo) + 1;
	if (total) {
		if (total > SIZE_MAX / sizeof(*v))
			goto nomem;
		v = malloc(total * sizeof(*v));
		if (!v)
			goto nomem;
		size_t j = 0;
		for (size_t i = 0; i < k; i++)
			for (uint64_t x = r[i].lo; x <= r[i].hi; x++)
				v[j++] = (uint32_t)x;
	}
	free(r);
	*out = v;
	*n = total;
	return 0;
invalid:
	free(r);
	errno = EINVAL;
	return -1;
nomem:
	free(r);
	errno = ENOMEM;
	return -1;
}

/* --------------------------------------------------------------- GPU env */

int topo_gpu_env(const struct topo_layout *l, const uint32_t *gpus, size_t n, char *buf, size_t len)
{
	/* CUDA and configured GPUs share CUDA_VISIBLE_DEVICES: a configured
	 * count has no vendor, and NVIDIA's runtime and AMD's HIP both read it. */
	static const struct {
		const char *var;
		const char *kinds[3];
	} vars[] = {
		{ "CUDA_VISIBLE_DEVICES", { "cuda", "nvml", "conf" } },
		{ "ROCR_VISIBLE_DEVICES", { "rsmi", NULL, NULL } },
		{ "GPU_DEVICE_ORDINAL", { "opencl", NULL, NULL } },
	};
	struct strfmt o = { .buf = buf, .size = buf ? len : 0 };
	uint32_t small[64], *idx = small;
	bool first = true, nvml = false;

	for (size_t i = 0; i < n; i++) {
		if (gpus[i] >= l->ngpus) {
			errno = EINVAL;
			return -1;
		}
	}
	if (n > sizeof(small) / sizeof(small[0])) {
		idx = malloc(n * sizeof(*idx));
		if (!idx)
			return -1;
	}
	for (size_t v = 0; v < sizeof(vars) / sizeof(vars[0]); v++) {
		size_t m = 0;

		for (size_t i = 0; i < n; i++) {
			const struct topo_gpu *g = &l->gpus[gpus[i]];
			for (size_t k = 0; k < 3 && vars[v].kinds[k]; k++) {
				if (strcmp(g->kind, vars[v].kinds[k]) == 0 && g->index >= 0) {
					idx[m++] = (uint32_t)g->index;
					nvml |= strcmp(g->kind, "nvml") == 0;
				}
			}
		}
		if (!m)
			continue;
		qsort(idx, m, sizeof(*idx), cmp_u32);
		if (!first)
			put_str(&o, ";");
		first = false;
		put_str(&o, vars[v].var);
		put_str(&o, "=");
		/* Not a range list: the runtimes want every index spelled out. */
		for (size_t i = 0; i < m; i++) {
			if (i > 0 && idx[i] == idx[i - 1])
				continue;
			if (i > 0)
				put_str(&o, ",");
			put_u32(&o, idx[i]);
		}
	}
	/* NVML numbers GPUs in PCI bus order; CUDA does too only when told. */
	if (nvml)
		put_str(&o, ";CUDA_DEVICE_ORDER=PCI_BUS_ID");
	if (idx != small)
		free(idx);
	return put_end(&o);
}

/* ------------------------------------------------------------- building */

/* What the build needs beside the layout arrays. */
struct build {
	hwloc_topology_t h;
	hwloc_bitmap_t *pkg_cpus; /* [npackages] PUs of each package's cores */
	hwloc_bitmap_t *dom_cpus; /* [ndomains] */
	char *err;
	size_t errlen;
};

static void free_bitmaps(hwloc_bitmap_t *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		hwloc_bitmap_free(v[i]);
	free(v);
}

static void *xcalloc(size_t n, size_t size)
{
	return calloc(n ? n : 1, size);
}

/* Packages, cores and PUs each at one depth of the tree: hwloc takes XML
 * that puts them at several, and then counts them as -1 and numbers them
 * per depth, which would index past every table built from the counts. */
static int check_depths(struct build *b)
{
	static const struct {
		hwloc_obj_type_t type;
		const char *name;
	} kinds[] = { { HWLOC_OBJ_PACKAGE, "Package" },
		      { HWLOC_OBJ_CORE, "Core" },
		      { HWLOC_OBJ_PU, "PU" } };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (hwloc_get_type_depth(b->h, kinds[i].type) == HWLOC_TYPE_DEPTH_MULTIPLE) {
			snprintf(b->err, b->errlen,
				 "the topology has %s objects at several depths of its tree: it is "
				 "inconsistent (export it again with lstopo)",
				 kinds[i].name);
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
}

/* Cores and PUs, in hwloc logical order.  Core objects own their PUs; a PU
 * with no Core above it is a core of its own. */
static int build_cores(struct topo *t, struct build *b)
{
	int npu = hwloc_get_nbobjs_by_type(b->h, HWLOC_OBJ_PU);
	hwloc_obj_t prev = NULL;
	uint32_t nc = 0;

	if (npu <= 0) {
		snprintf(b->err, b->errlen, "the topology has no processing unit (PU)");
		errno = EINVAL;
		return -1;
	}
	if ((unsigned)npu > TOPO_PUS_MAX) {
		snprintf(b->err, b->errlen,
			 "the topology has %d processing units (PUs), more than the %u Pacer "
			 "takes",
			 npu, TOPO_PUS_MAX);
		errno = EINVAL;
		return -1;
	}
	t->pu_os = xcalloc((size_t)npu, sizeof(*t->pu_os));
	t->cores = xcalloc((size_t)npu, sizeof(*t->cores));
	if (!t->pu_os || !t->cores)
		goto nomem;
	for (int i = 0; i < npu; i++) {
		hwloc_obj_t pu = hwloc_get_obj_by_type(b->h, HWLOC_OBJ_PU, (unsigned)i);
		hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(b->h, HWLOC_OBJ_CORE, pu);

		/* Binding and every CPU list speak os indexes: a PU without one
		 * (hwloc keeps HWLOC_UNKNOWN_INDEX) or with one above what the
		 * lists take would give lists no daemon accepts. */
		if (pu->os_index == HWLOC_UNKNOWN_INDEX) {
			snprintf(b->err, b->errlen,
				 "PU L#%d has no os_index: the topology is inconsistent (export "
				 "it again with lstopo)",
				 i);
			errno = EINVAL;
			return -1;
		}
		if (pu->os_index > TOPO_OS_INDEX_MAX) {
			snprintf(b->err, b->errlen,
				 "PU L#%d has os_index %u, above the %u Pacer takes", i,
				 pu->os_index, TOPO_OS_INDEX_MAX);
			errno = EINVAL;
			return -1;
		}
		t->pu_os[i] = pu->os_index;
		if (!core || core != prev || nc == 0) {
			t->cores[nc].first_pu = (uint32_t)i;
			t->cores[nc].npus = 0;
			nc++;
		}
		t->cores[nc - 1].npus++;
		prev = core;
	}
	t->layout.npus = (uint32_t)npu;
	t->layout.ncores = nc;
	for (uint32_t c = 0; c < nc; c++)
		if (t->cores[c].npus > t->layout.threads_per_core)
			t->layout.threads_per_core = t->cores[c].npus;
	return 0;
nomem:
	snprintf(b->err, b->errlen, "out of memory building the topology's layout");
	errno = ENOMEM;
	return -1;
}

/* Packages; cores outside any Package object (synthetic "core:4 pu:2")
 * share one package of their own, so every core has a package. */
static int build_packages(struct topo *t, struct build *b)
{
	int np = hwloc_get_nbobjs_by_type(b->h, HWLOC_OBJ_PACKAGE);
	uint32_t n = np > 0 ? (uint32_t)np : 0, orphan = TOPO_NONE;

	t->packages = xcalloc(n + 1, sizeof(*t->packages));
	b->pkg_cpus = xcalloc(n + 1, sizeof(*b->pkg_cpus));
	if (!t->packages || !b->pkg_cpus)
		goto nomem;
	for (uint32_t p = 0; p < n; p++)
		t->packages[p].os_index =
		    hwloc_get_obj_by_type(b->h, HWLOC_OBJ_PACKAGE, p)->os_index;
	for (uint32_t c = 0; c < t->layout.ncores; c++) {
		hwloc_obj_t pu = hwloc_get_obj_by_type(b->h, HWLOC_OBJ_PU, t->cores[c].first_pu);
		hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(b->h, HWLOC_OBJ_PACKAGE, pu);

		if (pkg) {
			t->cores[c].package = pkg->logical_index;
		} else {
			if (orphan == TOPO_NONE) {
				orphan = n++;
				t->packages[orphan].os_index = orphan;
			}
			t->cores[c].package = orphan;
		}
	}
	t->layout.npackages = n;
	for (uint32_t p = 0; p < n; p++) {
		b->pkg_cpus[p] = hwloc_bitmap_alloc();
		if (!b->pkg_cpus[p])
			goto nomem;
	}
	for (uint32_t c = 0; c < t->layout.ncores; c++) {
		const struct topo_core *co = &t->cores[c];
		t->packages[co->package].ncores++;
		for (uint32_t k = 0; k < co->npus; k++)
			hwloc_bitmap_set(b->pkg_cpus[co->package], t->pu_os[co->first_pu + k]);
	}
	return 0;
nomem:
	snprintf(b->err, b->errlen, "out of memory building the topology's layout");
	errno = ENOMEM;
	return -1;
}

/* NUMA domains: NUMA nodes with CPUs, merged when their CPUs are the same.
 * A core belongs to the smallest domain holding its first PU; a domain
 * left with no core (one covering others) is dropped. */
static int build_domains(struct topo *t, struct build *b)
{
	int nn = hwloc_get_nbobjs_by_type(b->h, HWLOC_OBJ_NUMANODE);
	uint32_t nd = 0, *nodes_os = NULL, *nodes_dom = NULL, *remap = NULL, *seen = NULL;
	uint64_t *mem = NULL;
	hwloc_bitmap_t *cpus = NULL;
	int rc = -1;

	if (nn <= 0)
		nn = 0;
	if ((unsigned)nn > TOPO_NUMA_MAX) {
		snprintf(b->err, b->errlen,
			 "the topology has %d NUMA nodes, more than the %u Pacer takes", nn,
			 TOPO_NUMA_MAX);
		errno = EINVAL;
		return -1;
	}
	cpus = xcalloc((size_t)nn, sizeof(*cpus));
	mem = xcalloc((size_t)nn, sizeof(*mem));
	nodes_os = xcalloc((size_t)nn, sizeof(*nodes_os));
	nodes_dom = xcalloc((size_t)nn, sizeof(*nodes_dom));
	remap = xcalloc((size_t)nn, sizeof(*remap));
	if (!cpus || !mem || !nodes_os || !nodes_dom || !remap)
		goto nomem;
	for (int i = 0; i < nn; i++) {
		hwloc_obj_t o = hwloc_get_obj_by_type(b->h, HWLOC_OBJ_NUMANODE, (unsigned)i);
		uint32_t d;

		nodes_dom[i] = TOPO_NONE;
		nodes_os[i] = o->os_index;
		/* Domains' nodesets are lists of these, parsed again for --mem
		 * binding: the same rules as PUs. */
		if (o->os_index == HWLOC_UNKNOWN_INDEX || o->os_index > TOPO_OS_INDEX_MAX) {
			if (o->os_index == HWLOC_UNKNOWN_INDEX)
				snprintf(b->err, b->errlen,
					 "NUMA node L#%d has no os_index: the topology is "
					 "inconsistent (export it again with lstopo)",
					 i);
			else
				snprintf(b->err, b->errlen,
					 "NUMA node L#%d has os_index %u, above the %u Pacer takes",
					 i, o->os_index, TOPO_OS_INDEX_MAX);
			errno = EINVAL;
			goto out;
		}
		for (int k = 0; k < i; k++) {
			if (nodes_os[k] == o->os_index) {
				snprintf(b->err, b->errlen,
					 "NUMA nodes L#%d and L#%d both have os_index %u: the "
					 "topology is inconsistent",
					 k, i, o->os_index);
				errno = EINVAL;
				goto out;
			}
		}
		if (o->attr->numanode.local_memory > TOPO_NUMA_MEM_MAX) {
			snprintf(b->err, b->errlen,
				 "NUMA node L#%d claims %llu bytes of memory, more than the 1 PiB "
				 "Pacer takes",
				 i, (unsigned long long)o->attr->numanode.local_memory);
			errno = EINVAL;
			goto out;
		}
		if (!o->cpuset || hwloc_bitmap_iszero(o->cpuset))
			continue; /* memory without CPUs: GPU memory, CXL */
		for (d = 0; d < nd; d++)
			if (hwloc_bitmap_isequal(cpus[d], o->cpuset))
				break;
		if (d == nd) {
			cpus[d] = hwloc_bitmap_dup(o->cpuset);
			if (!cpus[d])
				goto nomem;
			nd++;
		}
		mem[d] += o->attr->numanode.local_memory;
		nodes_dom[i] = d;
	}
	for (uint32_t c = 0; c < t->layout.ncores; c++) {
		uint32_t os = t->pu_os[t->cores[c].first_pu], best = TOPO_NONE;
		int best_w = INT_MAX;

		for (uint32_t d = 0; d < nd; d++) {
			int w = hwloc_bitmap_weight(cpus[d]);
			if (hwloc_bitmap_isset(cpus[d], os) && w < best_w) {
				best = d;
				best_w = w;
			}
		}
		if (best == TOPO_NONE) {
			snprintf(b->err, b->errlen,
				 "PU %u is in no NUMA node: the topology is inconsistent (check it "
				 "with lstopo)",
				 os);
			errno = EINVAL;
			goto out;
		}
		t->cores[c].domain = best;
	}
	/* Keep the domains that got cores, in order, and renumber. */
	seen = xcalloc(nd, sizeof(*seen));
	if (!seen)
		goto nomem;
	for (uint32_t c = 0; c < t->layout.ncores; c++)
		seen[t->cores[c].domain]++;
	uint32_t kept = 0;
	for (uint32_t d = 0; d < nd; d++)
		remap[d] = seen[d] ? kept++ : TOPO_NONE;
	t->domains = xcalloc(kept, sizeof(*t->domains));
	b->dom_cpus = xcalloc(kept, sizeof(*b->dom_cpus));
	if (!t->domains || !b->dom_cpus)
		goto nomem;
	t->layout.ndomains = kept; /* from here b->dom_cpus owns the bitmaps */
	for (uint32_t d = 0; d < nd; d++) {
		if (remap[d] == TOPO_NONE)
			continue;
		struct topo_domain *dom = &t->domains[remap[d]];
		uint32_t os[sizeof(dom->nodeset)], nos = 0;
		dom->mem_mb = mem[d] >> 20;
		dom->package = TOPO_NONE;
		b->dom_cpus[remap[d]] = cpus[d];
		cpus[d] = NULL;
		for (int i = 0; i < nn; i++)
			if (nodes_dom[i] == d && nos < sizeof(os) / sizeof(os[0]))
				os[nos++] = nodes_os[i];
		int len = topo_list_format(os, nos, dom->nodeset, sizeof(dom->nodeset));
		if (len < 0 || (size_t)len >= sizeof(dom->nodeset) ||
		    nos == sizeof(os) / sizeof(os[0])) {
			snprintf(b->err, b->errlen,
				 "NUMA domain %u merges too many NUMA nodes to list (%s...)",
				 remap[d], dom->nodeset);
			errno = EINVAL;
			goto out;
		}
		t->layout.mem_mb += dom->mem_mb;
	}
	for (uint32_t c = 0; c < t->layout.ncores; c++) {
		struct topo_core *co = &t->cores[c];
		struct topo_domain *dom;

		co->domain = remap[co->domain];
		dom = &t->domains[co->domain];
		if (dom->ncores == 0)
			dom->package = co->package;
		else if (dom->package != co->package)
			dom->package = TOPO_NONE; /* spans packages */
		dom->ncores++;
	}
	/* Domains per package: a package's cores are contiguous (hwloc's tree
	 * order), so remembering the last package that counted a domain is
	 * enough. */
	for (uint32_t d = 0; d < kept; d++)
		seen[d] = TOPO_NONE;
	for (uint32_t c = 0; c < t->layout.ncores; c++) {
		const struct topo_core *co = &t->cores[c];
		if (seen[co->domain] != co->package) {
			seen[co->domain] = co->package;
			t->packages[co->package].ndomains++;
		}
	}
	rc = 0;
	goto out;
nomem:
	snprintf(b->err, b->errlen, "out of memory building the topology's layout");
	errno = ENOMEM;
out:
	if (cpus)
		for (uint32_t d = 0; d < nd; d++)
			hwloc_bitmap_free(cpus[d]);
	free(cpus);
	free(mem);
	free(nodes_os);
	free(nodes_dom);
	free(remap);
	free(seen);
	return rc;
}

/* The kind of OS device O, GPU_NONE when it is not a GPU we schedule. */
static enum gpu_kind gpu_kind_of(hwloc_obj_t o)
{
	static const struct {
		const char *subtype, *prefix;
		enum gpu_kind kind;
	} kinds[] = {
		{ "CUDA", "cuda", GPU_CUDA },
		{ "NVML", "nvml", GPU_NVML },
		{ "RSMI", "rsmi", GPU_RSMI },
		{ "OpenCL", "opencl", GPU_OPENCL },
	};
	const char *name = o->name ? o->name : "";

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		/* The name must carry the prefix whatever the subtype says:
		 * gpu_index_of reads the index after it, and a node may send a
		 * subtype="CUDA" device called "cu". */
		if (strncmp(name, kinds[i].prefix, strlen(kinds[i].prefix)) != 0)
			continue;
		if (o->subtype && strcasecmp(o->subtype, kinds[i].subtype) != 0)
			continue;
		if (kinds[i].kind == GPU_OPENCL) {
			const char *type = hwloc_obj_get_info_by_name(o, "OpenCLDeviceType");
			if (type && strcasecmp(type, "CPU") == 0)
				return GPU_NONE; /* an OpenCL view of the CPUs */
		}
		return kinds[i].kind;
	}
	return GPU_NONE;
}

/* The index a runtime knows the device by: cuda3 -> 3, opencl0d2 -> 2;
 * -1 for a name that is not the kind's prefix and an index. */
static int gpu_index_of(const char *name, enum gpu_kind kind)
{
	size_t plen = strlen(kind_names[kind]);
	const char *p = name + plen;
	char *end;
	unsigned long v;

	if (strncmp(name, kind_names[kind], plen) != 0)
		return -1; /* never step past the end of a shorter name */

	if (kind == GPU_OPENCL) {
		/* opencl<platform>d<device> */
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p != 'd')
			return -1;
		p++;
	}
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtoul(p, &end, 10);
	if (errno || *end || v > INT32_MAX)
		return -1;
	return (int)v;
}

/* The one index of V[0..n) that CS touches, or TOPO_NONE (none or several). */
static uint32_t only_match(hwloc_bitmap_t *v, uint32_t n, hwloc_const_bitmap_t cs)
{
	uint32_t found = TOPO_NONE;

	for (uint32_t i = 0; i < n; i++) {
		if (!hwloc_bitmap_intersects(v[i], cs))
			continue;
		if (found != TOPO_NONE)
			return TOPO_NONE;
		found = i;
	}
	return found;
}

static int cmp_gpu(const void *a, const void *b)
{
	const struct topo_gpu *x = a, *y = b;
	size_t kx = 0, ky = 0;

	while (kx < GPU_CONF && strcmp(kind_names[kx], x->kind) != 0)
		kx++;
	while (ky < GPU_CONF && strcmp(kind_names[ky], y->kind) != 0)
		ky++;
	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* GPUs: one per PCI device, the best backend's name; sorted by kind and
 * device index so that GPU i is usually device i. */
static int build_gpus(struct topo *t, struct build *b, uint32_t conf_gpus)
{
	hwloc_obj_t o = NULL, *pci = NULL;
	enum gpu_kind *kinds = NULL;
	uint32_t n = 0, cap = 0;

	while ((o = hwloc_get_next_osdev(b->h, o))) {
		enum gpu_kind kind = gpu_kind_of(o);
		hwloc_obj_t dev =
		    o->parent && o->parent->type == HWLOC_OBJ_PCI_DEVICE ? o->parent : NULL;
		int index;
		uint32_t i;

		if (kind == GPU_NONE || !o->name)
			continue;
		index = gpu_index_of(o->name, kind);
		if (index < 0)
			continue;
		for (i = 0; dev && i < n; i++)
			if (pci[i] == dev)
				break;
		if (!dev || i == n) {
			if (n == TOPO_GPUS_MAX) {
				free(pci);
				free(kinds);
				snprintf(b->err, b->errlen,
					 "the topology has more than the %u GPUs Pacer takes",
					 TOPO_GPUS_MAX);
				errno = EINVAL;
				return -1;
			}
			if (n == cap) {
				uint32_t ncap = cap ? cap * 2 : 8;
				struct topo_gpu *g = realloc(t->gpus, ncap * sizeof(*g));
				hwloc_obj_t *p;
				enum gpu_kind *k;
				if (!g)
					goto nomem;
				t->gpus = g;
				p = realloc(pci, ncap * sizeof(*p));
				if (!p)
					goto nomem;
				pci = p;
				k = realloc(kinds, ncap * sizeof(*k));
				if (!k)
					goto nomem;
				kinds = k;
				cap = ncap;
			}
			i = n++;
		} else if (kinds[i] <= kind) {
			continue; /* this PCI device already has a better name */
		}
		struct topo_gpu *g = &t->gpus[i];
		hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(b->h, o);
		memset(g, 0, sizeof(*g));
		pci[i] = dev;
		kinds[i] = kind;
		snprintf(g->name, sizeof(g->name), "%s", o->name);
		snprintf(g->kind, sizeof(g->kind), "%s", kind_names[kind]);
		g->index = index;
		g->domain = g->package = TOPO_NONE;
		if (anc && anc->cpuset) {
			g->domain = only_match(b->dom_cpus, t->layout.ndomains, anc->cpuset);
			g->package = only_match(b->pkg_cpus, t->layout.npackages, anc->cpuset);
		}
		if (dev) {
			int len = snprintf(g->busid, sizeof(g->busid), "%04x:%02x:%02x.%01x",
					   dev->attr->pcidev.domain, dev->attr->pcidev.bus,
					   dev->attr->pcidev.dev, dev->attr->pcidev.func);
			if (len < 0 || (size_t)len >= sizeof(g->busid))
				g->busid[0] = '\0';
		}
	}
	if (n == 0 && conf_gpus > 0) {
		free(t->gpus);
		t->gpus = xcalloc(conf_gpus, sizeof(*t->gpus));
		if (!t->gpus)
			goto nomem;
		for (uint32_t i = 0; i < conf_gpus; i++) {
			struct topo_gpu *g = &t->gpus[i];
			snprintf(g->name, sizeof(g->name), "gpu%u", i);
			snprintf(g->kind, sizeof(g->kind), "conf");
			g->index = (int32_t)i;
			g->domain = g->package = TOPO_NONE;
		}
		n = conf_gpus;
	}
	if (n > 1)
		qsort(t->gpus, n, sizeof(*t->gpus), cmp_gpu);
	t->layout.ngpus = n;
	free(pci);
	free(kinds);
	return 0;
nomem:
	free(pci);
	free(kinds);
	snprintf(b->err, b->errlen, "out of memory building the topology's layout");
	errno = ENOMEM;
	return -1;
}

static int cmp_by_os(const void *a, const void *b, void *arg)
{
	const uint32_t *os = arg;

	return cmp_u32(&os[*(const uint32_t *)a], &os[*(const uint32_t *)b]);
}

static uint64_t fnv1a(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The layout of B's loaded topology into a new T. */
static int build_layout(struct topo *t, struct build *b, uint32_t conf_gpus)
{
	if (check_depths(b) < 0 || build_cores(t, b) < 0 || build_packages(t, b) < 0 ||
	    build_domains(t, b) < 0 || build_gpus(t, b, conf_gpus) < 0)
		return -1;
	/* A synthetic topology without memory sizes: take what the machine
	 * object says, which may be 0 too (the controller then uses pacer.conf). */
	if (t->layout.mem_mb == 0)
		t->layout.mem_mb = hwloc_get_root_obj(b->h)->total_memory >> 20;
	t->by_os = xcalloc(t->layout.npus, sizeof(*t->by_os));
	if (!t->by_os) {
		snprintf(b->err, b->errlen, "out of memory building the topology's layout");
		errno = ENOMEM;
		return -1;
	}
	for (uint32_t i = 0; i < t->layout.npus; i++)
		t->by_os[i] = i;
	qsort_r(t->by_os, t->layout.npus, sizeof(*t->by_os), cmp_by_os, t->pu_os);
	/* topo_pu_by_os and the CPU lists need one PU per os index. */
	for (uint32_t i = 1; i < t->layout.npus; i++) {
		uint32_t a = t->by_os[i - 1], c = t->by_os[i];
		if (t->pu_os[a] == t->pu_os[c]) {
			snprintf(b->err, b->errlen,
				 "PUs L#%u and L#%u both have os_index %u: the topology is "
				 "inconsistent",
				 a < c ? a : c, a < c ? c : a, t->pu_os[a]);
			errno = EINVAL;
			return -1;
		}
	}
	t->layout.packages = t->packages;
	t->layout.domains = t->domains;
	t->layout.cores = t->cores;
	t->layout.pu_os = t->pu_os;
	t->layout.gpus = t->gpus;
	return 0;
}

static void set_hash(struct topo *t, const void *xml, size_t len)
{
	snprintf(t->hash, sizeof(t->hash), "%016llx", (unsigned long long)fnv1a(xml, len));
}

/* Export H as XML, hash it and keep it compressed. */
static int keep_xml(struct topo *t, hwloc_topology_t h, char *err, size_t errlen)
{
	char *xml = NULL;
	int xlen = 0;
	uLongf zlen;

	if (hwloc_topology_export_xmlbuffer(h, &xml, &xlen, 0) < 0 || xlen < 1) {
		snprintf(err, errlen, "hwloc cannot export the topology as XML: %s",
			 strerror(errno));
		return -1;
	}
	xlen--; /* the NUL hwloc counts */
	set_hash(t, xml, (size_t)xlen);
	zlen = compressBound((uLong)xlen);
	t->zxml = malloc(zlen);
	if (!t->zxml || compress2(t->zxml, &zlen, (const Bytef *)xml, (uLong)xlen,
				  Z_BEST_COMPRESSION) != Z_OK) {
		hwloc_free_xmlbuffer(h, xml);
		snprintf(err, errlen, "out of memory compressing the topology");
		errno = ENOMEM;
		return -1;
	}
	t->zlen = zlen;
	hwloc_free_xmlbuffer(h, xml);
	return 0;
}

static struct topo *topo_new(const char *source, char *err, size_t errlen)
{
	struct topo *t = calloc(1, sizeof(*t));

	if (t)
		t->source = strdup(source);
	if (!t || !t->source) {
		free(t);
		snprintf(err, errlen, "out of memory loading a topology");
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

static int init_hwloc(hwloc_topology_t *h, char *err, size_t errlen)
{
	if (hwloc_topology_init(h) < 0) {
		snprintf(err, errlen, "hwloc_topology_init: %s", strerror(errno));
		return -1;
	}
	/* GPUs are OS devices under PCI: keep the I/O objects that matter. */
	hwloc_topology_set_io_types_filter(*h, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int topo_load(const char *spec, uint32_t gpus, struct topo **tp, char *err, size_t errlen)
{
	struct build b = { .err = err, .errlen = errlen };
	struct topo *t = NULL;
	struct stat st;
	bool discover = !spec || !*spec;
	int saved;

	*tp = NULL;
	if (init_hwloc(&b.h, err, errlen) < 0)
		return -1;
	if (discover) {
		if (hwloc_topology_load(b.h) < 0) {
			snprintf(err, errlen, "hwloc cannot discover this machine: %s",
				 strerror(errno));
			goto failed;
		}
	} else if (stat(spec, &st) == 0 || ends_with(spec, ".xml")) {
		if (hwloc_topology_set_xml(b.h, spec) < 0 || hwloc_topology_load(b.h) < 0) {
			snprintf(err, errlen,
				 "topology %s: not a readable hwloc XML file (%s); make one with "
				 "`lstopo FILE.xml`",
				 spec, strerror(errno));
			goto failed;
		}
	} else {
		if (hwloc_topology_set_synthetic(b.h, spec) < 0 || hwloc_topology_load(b.h) < 0) {
			snprintf(
			    err, errlen,
			    "topology \"%s\": neither a file nor an hwloc synthetic description "
			    "(like \"pack:2 numa:2 core:8 pu:2\")",
			    spec);
			errno = EINVAL;
			goto failed;
		}
	}
	t = topo_new(discover ? "hwloc" : spec, err, errlen);
	if (!t || build_layout(t, &b, gpus) < 0 || keep_xml(t, b.h, err, errlen) < 0)
		goto failed;
	free_bitmaps(b.pkg_cpus, t->layout.npackages);
	free_bitmaps(b.dom_cpus, t->layout.ndomains);
	hwloc_topology_destroy(b.h);
	*tp = t;
	return 0;
failed:
	saved = errno;
	if (t) {
		free_bitmaps(b.pkg_cpus, t->layout.npackages);
		free_bitmaps(b.dom_cpus, t->layout.ndomains);
	}
	topo_destroy(t);
	hwloc_topology_destroy(b.h);
	errno = saved;
	return -1;
}

/* Inflate BUF[0..len) into a new NUL-ended string of at most TOPO_XML_MAX
 * bytes: the stream must end exactly at the end of BUF. */
static int inflate_xml(const void *buf, size_t len, char **out, size_t *outlen, char *err,
		       size_t errlen)
{
	z_stream z = { 0 };
	size_t cap = len < TOPO_XML_MAX / 8 ? len * 8 + 1024 : TOPO_XML_MAX;
	char *xml = NULL;
	int zr;

	if (len == 0 || len > TOPO_XML_MAX) {
		snprintf(err, errlen,
			 "compressed topology of %zu bytes refused (1 byte to %zu MiB)", len,
			 TOPO_XML_MAX >> 20);
		errno = EINVAL;
		return -1;
	}
	if (inflateInit(&z) != Z_OK) {
		snprintf(err, errlen, "zlib inflateInit failed");
		errno = ENOMEM;
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)buf;
	z.avail_in = (uInt)len;
	for (;;) {
		if (!xml || z.total_out == cap) {
			if (xml) {
				if (cap >= TOPO_XML_MAX) {
					snprintf(err, errlen,
						 "topology XML larger than %zu MiB refused",
						 TOPO_XML_MAX >> 20);
					goto invalid;
				}
				cap = cap * 2 < TOPO_XML_MAX ? cap * 2 : TOPO_XML_MAX;
			}
			char *nx = realloc(xml, cap + 1);
			if (!nx) {
				snprintf(err, errlen, "out of memory inflating a topology");
				errno = ENOMEM;
				goto failed;
			}
			xml = nx;
		}
		z.next_out = (Bytef *)xml + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR && z.avail_in == 0) {
			snprintf(err, errlen, "compressed topology is truncated");
			goto invalid;
		}
		if (zr == Z_BUF_ERROR)
			continue; /* output full: grow */
		snprintf(err, errlen, "compressed topology is corrupt (zlib: %s)",
			 z.msg ? z.msg : "error");
		goto invalid;
	}
	if (z.avail_in != 0) {
		snprintf(err, errlen, "compressed topology has %u bytes of junk after its end",
			 z.avail_in);
		goto invalid;
	}
	xml[z.total_out] = '\0';
	if (strlen(xml) != z.total_out) {
		snprintf(err, errlen, "topology XML holds a NUL byte");
		goto invalid;
	}
	*out = xml;
	*outlen = z.total_out;
	inflateEnd(&z);
	return 0;
invalid:
	errno = EINVAL;
failed:
	inflateEnd(&z);
	free(xml);
	return -1;
}

int topo_import(const void *buf, size_t len, uint32_t gpus, struct topo **tp, char *err,
		size_t errlen)
{
	struct build b = { .err = err, .errlen = errlen };
	struct topo *t = NULL;
	char *xml = NULL;
	size_t xlen = 0;
	int saved;

	*tp = NULL;
	if (inflate_xml(buf, len, &xml, &xlen, err, errlen) < 0)
		return -1;
	if (init_hwloc(&b.h, err, errlen) < 0) {
		free(xml);
		return -1;
	}
	if (hwloc_topology_set_xmlbuffer(b.h, xml, (int)xlen + 1) < 0 ||
	    hwloc_topology_load(b.h) < 0) {
		snprintf(err, errlen, "the topology sent is not an hwloc XML topology hwloc loads");
		errno = EINVAL;
		goto failed;
	}
	t = topo_new("import", err, errlen);
	if (!t || build_layout(t, &b, gpus) < 0)
		goto failed;
	/* Keep the bytes received: exporting again gives what came in, with
	 * the same hash, whatever hwloc would add on a new export. */
	set_hash(t, xml, xlen);
	t->zxml = malloc(len);
	if (!t->zxml) {
		snprintf(err, errlen, "out of memory keeping a topology");
		errno = ENOMEM;
		goto failed;
	}
	memcpy(t->zxml, buf, len);
	t->zlen = len;
	free_bitmaps(b.pkg_cpus, t->layout.npackages);
	free_bitmaps(b.dom_cpus, t->layout.ndomains);
	hwloc_topology_destroy(b.h);
	free(xml);
	*tp = t;
	return 0;
failed:
	saved = errno;
	if (t) {
		free_bitmaps(b.pkg_cpus, t->layout.npackages);
		free_bitmaps(b.dom_cpus, t->layout.ndomains);
	}
	topo_destroy(t);
	hwloc_topology_destroy(b.h);
	free(xml);
	errno = saved;
	return -1;
}

int topo_export(const struct topo *t, void **buf, size_t *len)
{
	*buf = malloc(t->zlen);
	if (!*buf) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(*buf, t->zxml, t->zlen);
	*len = t->zlen;
	return 0;
}

const char *topo_hash(const struct topo *t)
{
	return t->hash;
}

const char *topo_source(const struct topo *t)
{
	return t->source;
}

const struct topo_layout *topo_layout(const struct topo *t)
{
	return &t->layout;
}

uint32_t topo_pu_by_os(const struct topo *t, uint32_t os)
{
	size_t lo = 0, hi = t->layout.npus;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t v = t->pu_os[t->by_os[mid]];

		if (v == os)
			return t->by_os[mid];
		if (v < os)
			lo = mid + 1;
		else
			hi = mid;
	}
	return TOPO_NONE;
}

void topo_destroy(struct topo *t)
{
	if (!t)
		return;
	free(t->packages);
	free(t->domains);
	free(t->cores);
	free(t->pu_os);
	free(t->gpus);
	free(t->by_os);
	free(t->zxml);
	free(t->source);
	free(t);
}
