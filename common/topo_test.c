/* topo_test.c - unit tests for topo.c on real machine topologies.
 *
 * Expected counts come from hwloc itself, asked directly here, so the test
 * checks topo.c's reading of hwloc rather than numbers copied from it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <hwloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "topo.h"

#ifndef PACER_TOPOLOGY_DIR
#error "PACER_TOPOLOGY_DIR must name tests/topologies"
#endif
#ifndef PACER_REPRODUCER_DIR
#error "PACER_REPRODUCER_DIR must name tests/fuzz/reproducers"
#endif

static const char *const files[] = {
	"16em64t-4s2c2t.xml",
	"192em64t-24n8c2t.xml",
	"24em64t-2n6c2t-pci.xml",
	"32em64t-2n8c2t-pci-normalio.xml",
	"64intel64-fakeKNL-SNC4-hybrid.xml",
	"corona.xml",
	"sierra.xml",
};

static const char *path_of(const char *file)
{
	static char path[1024];

	snprintf(path, sizeof(path), "%s/%s", PACER_TOPOLOGY_DIR, file);
	return path;
}

static struct topo *load(const char *spec, uint32_t gpus)
{
	struct topo *t = NULL;
	char err[256] = "";

	if (topo_load(spec, gpus, &t, err, sizeof(err)) < 0)
		fail_msg("topo_load(%s): %s", spec ? spec : "(discover)", err);
	return t;
}

/* hwloc's own view of the same input, for independent expectations. */
static hwloc_topology_t hw_open(const char *xml_or_synth, bool synthetic)
{
	hwloc_topology_t h;

	assert_int_equal(hwloc_topology_init(&h), 0);
	hwloc_topology_set_io_types_filter(h, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	if (xml_or_synth && synthetic)
		assert_int_equal(hwloc_topology_set_synthetic(h, xml_or_synth), 0);
	else if (xml_or_synth)
		assert_int_equal(hwloc_topology_set_xml(h, xml_or_synth), 0);
	assert_int_equal(hwloc_topology_load(h), 0);
	return h;
}

/* NUMA nodes with CPUs, counted once per distinct cpuset; the memory of
 * each such group in MiB, summed (as the layout sums its domains). */
static unsigned hw_domains(hwloc_topology_t h, uint64_t *mem_mb)
{
	int n = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_NUMANODE);
	unsigned count = 0;

	*mem_mb = 0;
	for (int i = 0; i < n; i++) {
		hwloc_obj_t o = hwloc_get_obj_by_type(h, HWLOC_OBJ_NUMANODE, (unsigned)i);
		uint64_t bytes = 0;
		bool dup = false;

		if (hwloc_bitmap_iszero(o->cpuset))
			continue;
		for (int j = 0; j < i; j++) {
			hwloc_obj_t p = hwloc_get_obj_by_type(h, HWLOC_OBJ_NUMANODE, (unsigned)j);
			if (hwloc_bitmap_isequal(p->cpuset, o->cpuset))
				dup = true;
		}
		if (dup)
			continue;
		for (int j = i; j < n; j++) {
			hwloc_obj_t p = hwloc_get_obj_by_type(h, HWLOC_OBJ_NUMANODE, (unsigned)j);
			if (hwloc_bitmap_isequal(p->cpuset, o->cpuset))
				bytes += p->attr->numanode.local_memory;
		}
		*mem_mb += bytes >> 20;
		count++;
	}
	return count;
}

/* The layout agrees with hwloc and with itself. */
static void check_against_hwloc(const struct topo *t, hwloc_topology_t h)
{
	const struct topo_layout *l = topo_layout(t);
	int npu = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_PU);
	int ncore = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_CORE);
	int npkg = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_PACKAGE);
	uint64_t mem = 0;
	unsigned ndom = hw_domains(h, &mem);
	uint32_t sum_pus = 0, sum_dom = 0, sum_pkg = 0, tpc = 0;

	assert_int_equal(l->npus, npu);
	assert_int_equal(l->ncores, ncore > 0 ? ncore : npu);
	assert_int_equal(l->npackages, npkg > 0 ? npkg : 1);
	assert_int_equal(l->ndomains, ndom);
	if (mem == 0)
		mem = hwloc_get_root_obj(h)->total_memory >> 20;
	assert_int_equal(l->mem_mb, mem);
	for (int i = 0; i < npu; i++) {
		hwloc_obj_t pu = hwloc_get_obj_by_type(h, HWLOC_OBJ_PU, (unsigned)i);
		assert_int_equal(l->pu_os[i], pu->os_index);
		assert_int_equal(topo_pu_by_os(t, pu->os_index), i);
	}
	for (uint32_t c = 0; c < l->ncores; c++) {
		const struct topo_core *co = &l->cores[c];
		assert_int_equal(co->first_pu, sum_pus);
		sum_pus += co->npus;
		if (co->npus > tpc)
			tpc = co->npus;
		assert_true(co->package < l->npackages);
		assert_true(co->domain < l->ndomains);
		/* every PU of the core is in the core's hwloc Core and Package */
		hwloc_obj_t first = hwloc_get_obj_by_type(h, HWLOC_OBJ_PU, co->first_pu);
		hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(h, HWLOC_OBJ_CORE, first);
		hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(h, HWLOC_OBJ_PACKAGE, first);
		if (core)
			assert_int_equal(co->npus, hwloc_bitmap_weight(core->cpuset));
		if (pkg)
			assert_int_equal(l->packages[co->package].os_index, pkg->os_index);
	}
	assert_int_equal(sum_pus, l->npus);
	assert_int_equal(tpc, l->threads_per_core);
	for (uint32_t d = 0; d < l->ndomains; d++)
		sum_dom += l->domains[d].ncores;
	for (uint32_t p = 0; p < l->npackages; p++)
		sum_pkg += l->packages[p].ncores;
	assert_int_equal(sum_dom, l->ncores);
	assert_int_equal(sum_pkg, l->ncores);
	assert_int_equal(topo_pu_by_os(t, 1u << 30), TOPO_NONE);
	assert_int_equal(strlen(topo_hash(t)), 16);
	assert_int_equal(strspn(topo_hash(t), "0123456789abcdef"), 16);
}

static void test_every_file_matches_hwloc(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *p = path_of(files[i]);
		struct topo *t = load(p, 0);
		hwloc_topology_t h = hw_open(p, false);

		check_against_hwloc(t, h);
		assert_string_equal(topo_source(t), p);
		hwloc_topology_destroy(h);
		topo_destroy(t);
	}
}

static void test_this_machine(void **state)
{
	(void)state;
	struct topo *t = load(NULL, 0);
	hwloc_topology_t h = hw_open(NULL, false);

	check_against_hwloc(t, h);
	assert_string_equal(topo_source(t), "hwloc");
	hwloc_topology_destroy(h);
	topo_destroy(t);
}

/* The package and domain hwloc puts OS device NAME closest to, as indexes
 * into L, from the cpuset of its first non-I/O ancestor. */
static void hw_gpu_locality(hwloc_topology_t h, const struct topo_layout *l, const char *name,
			    uint32_t *pkg, uint32_t *dom)
{
	hwloc_obj_t o = NULL;

	while ((o = hwloc_get_next_osdev(h, o)))
		if (o->name && strcmp(o->name, name) == 0)
			break;
	assert_non_null(o);
	hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(h, o);
	*pkg = *dom = TOPO_NONE;
	/* the one package whose PUs it touches */
	int npkg = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_PACKAGE), hits = 0;
	for (int p = 0; p < npkg; p++) {
		hwloc_obj_t po = hwloc_get_obj_by_type(h, HWLOC_OBJ_PACKAGE, (unsigned)p);
		if (hwloc_bitmap_intersects(po->cpuset, anc->cpuset)) {
			hits++;
			for (uint32_t k = 0; k < l->npackages; k++)
				if (l->packages[k].os_index == po->os_index)
					*pkg = k;
		}
	}
	if (hits != 1)
		*pkg = TOPO_NONE;
	/* the domain of the cores inside that cpuset, when they share one */
	for (uint32_t c = 0; c < l->ncores; c++) {
		if (!hwloc_bitmap_isset(anc->cpuset, l->pu_os[l->cores[c].first_pu]))
			continue;
		if (*dom == TOPO_NONE)
			*dom = l->cores[c].domain;
		else if (*dom != l->cores[c].domain)
			*dom = UINT32_MAX - 1; /* several */
	}
	if (*dom == UINT32_MAX - 1)
		*dom = TOPO_NONE;
}

static void test_sierra_gpus(void **state)
{
	(void)state;
	const char *p = path_of("sierra.xml");
	struct topo *t = load(p, 2); /* hwloc finds GPUs: the count is ignored */
	hwloc_topology_t h = hw_open(p, false);
	const struct topo_layout *l = topo_layout(t);
	char env[128];

	/* 6 NUMA nodes, 4 of them GPU memory without CPUs */
	assert_int_equal(hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_NUMANODE), 6);
	assert_int_equal(l->ndomains, 2);
	assert_int_equal(l->ngpus, 4);
	for (uint32_t i = 0; i < l->ngpus; i++) {
		char name[16];
		uint32_t pkg, dom;

		snprintf(name, sizeof(name), "cuda%u", i);
		assert_string_equal(l->gpus[i].name, name);
		assert_string_equal(l->gpus[i].kind, "cuda");
		assert_int_equal(l->gpus[i].index, i);
		assert_true(l->gpus[i].busid[0] != '\0');
		hw_gpu_locality(h, l, name, &pkg, &dom);
		assert_int_not_equal(pkg, TOPO_NONE);
		assert_int_not_equal(dom, TOPO_NONE);
		assert_int_equal(l->gpus[i].package, pkg);
		assert_int_equal(l->gpus[i].domain, dom);
		assert_int_equal(l->domains[dom].package, pkg);
	}
	/* two GPUs per socket */
	assert_int_equal(l->gpus[0].package, l->gpus[1].package);
	assert_int_equal(l->gpus[2].package, l->gpus[3].package);
	assert_int_not_equal(l->gpus[0].package, l->gpus[2].package);
	uint32_t two[] = { 3, 1 };
	assert_int_equal(topo_gpu_env(l, two, 2, env, sizeof(env)),
			 strlen("CUDA_VISIBLE_DEVICES=1,3"));
	assert_string_equal(env, "CUDA_VISIBLE_DEVICES=1,3");
	hwloc_topology_destroy(h);
	topo_destroy(t);
}

static void test_corona_rsmi(void **state)
{
	(void)state;
	const char *p = path_of("corona.xml");
	struct topo *t = load(p, 0);
	hwloc_topology_t h = hw_open(p, false);
	const struct topo_layout *l = topo_layout(t);
	uint32_t per_pkg[2] = { 0, 0 }, all[8];
	char env[128];

	assert_int_equal(l->ngpus, 8);
	for (uint32_t i = 0; i < l->ngpus; i++) {
		char name[16];
		uint32_t pkg, dom;

		snprintf(name, sizeof(name), "rsmi%u", i);
		assert_string_equal(l->gpus[i].name, name);
		assert_string_equal(l->gpus[i].kind, "rsmi");
		assert_int_equal(l->gpus[i].index, i);
		hw_gpu_locality(h, l, name, &pkg, &dom);
		assert_int_equal(l->gpus[i].package, pkg);
		assert_int_equal(l->gpus[i].domain, dom);
		assert_true(pkg < 2);
		per_pkg[pkg]++;
		all[i] = i;
	}
	assert_int_equal(per_pkg[0], 4);
	assert_int_equal(per_pkg[1], 4);
	topo_gpu_env(l, all, 8, env, sizeof(env));
	assert_string_equal(env, "ROCR_VISIBLE_DEVICES=0,1,2,3,4,5,6,7");
	hwloc_topology_destroy(h);
	topo_destroy(t);
}

/* One CUDA GPU and one OpenCL GPU on another PCI device; DRM "card0" is the
 * CUDA GPU again and does not count. */
static void test_cuda_and_opencl(void **state)
{
	(void)state;
	struct topo *t = load(path_of("32em64t-2n8c2t-pci-normalio.xml"), 0);
	const struct topo_layout *l = topo_layout(t);
	uint32_t both[] = { 0, 1 };
	char env[128];

	assert_int_equal(l->ngpus, 2);
	assert_string_equal(l->gpus[0].name, "cuda0");
	assert_string_equal(l->gpus[1].name, "opencl0d1");
	assert_int_equal(l->gpus[1].index, 1);
	assert_string_equal(l->gpus[0].busid, "0000:84:00.0");
	assert_string_equal(l->gpus[1].busid, "0000:84:00.1");
	assert_int_equal(topo_gpu_env(l, both, 2, env, sizeof(env)),
			 strlen("CUDA_VISIBLE_DEVICES=0;GPU_DEVICE_ORDINAL=1"));
	assert_string_equal(env, "CUDA_VISIBLE_DEVICES=0;GPU_DEVICE_ORDINAL=1");
	topo_destroy(t);
}

/* KNL SNC-4: each quadrant's DDR and MCDRAM share CPUs and become one domain
 * with both memories. */
static void test_knl_merged_domains(void **state)
{
	(void)state;
	const char *p = path_of("64intel64-fakeKNL-SNC4-hybrid.xml");
	struct topo *t = load(p, 0);
	hwloc_topology_t h = hw_open(p, false);
	const struct topo_layout *l = topo_layout(t);
	int nn = hwloc_get_nbobjs_by_type(h, HWLOC_OBJ_NUMANODE);

	assert_int_equal(nn, 8);
	assert_int_equal(l->ndomains, 4);
	for (uint32_t d = 0; d < l->ndomains; d++) {
		uint32_t *os;
		size_t nos;
		uint64_t bytes = 0;

		assert_int_equal(topo_list_parse(l->domains[d].nodeset, 1024, &os, &nos), 0);
		assert_int_equal(nos, 2);
		for (size_t k = 0; k < nos; k++) {
			hwloc_obj_t o = hwloc_get_numanode_obj_by_os_index(h, (unsigned)os[k]);
			assert_non_null(o);
			bytes += o->attr->numanode.local_memory;
			/* the domain's cores are the NUMA node's CPUs */
			for (uint32_t c = 0; c < l->ncores; c++)
				assert_int_equal(
				    hwloc_bitmap_isset(o->cpuset, l->pu_os[l->cores[c].first_pu]),
				    l->cores[c].domain == d);
		}
		free(os);
		assert_int_equal(l->domains[d].mem_mb, bytes >> 20);
		assert_int_equal(l->domains[d].package, 0);
		assert_int_equal(l->domains[d].ncores, l->ncores / 4);
	}
	assert_int_equal(l->packages[0].ndomains, 4);
	hwloc_topology_destroy(h);
	topo_destroy(t);
}

/* One NUMA node over four packages: the domain spans them. */
static void test_domain_spanning_packages(void **state)
{
	(void)state;
	struct topo *t = load(path_of("16em64t-4s2c2t.xml"), 0);
	const struct topo_layout *l = topo_layout(t);

	assert_int_equal(l->ndomains, 1);
	assert_int_equal(l->domains[0].package, TOPO_NONE);
	assert_string_equal(l->domains[0].nodeset, "0");
	for (uint32_t p = 0; p < l->npackages; p++)
		assert_int_equal(l->packages[p].ndomains, 1);
	assert_int_equal(l->mem_mb, 0); /* the file gives no memory size */
	assert_int_equal(l->ngpus, 0);
	topo_destroy(t);
}

static void test_synthetic(void **state)
{
	(void)state;
	static const char *const specs[] = { "pack:2 numa:2 core:8 pu:2", "core:4 pu:2",
					     "pack:2 numa:1(memory=4294967296) core:4 pu:2" };

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct topo *t = load(specs[i], 0);
		hwloc_topology_t h = hw_open(specs[i], true);

		check_against_hwloc(t, h);
		assert_string_equal(topo_source(t), specs[i]);
		assert_int_equal(topo_layout(t)->ngpus, 0);
		hwloc_topology_destroy(h);
		topo_destroy(t);
	}
}

static void test_conf_gpus(void **state)
{
	(void)state;
	struct topo *t = load("pack:2 core:4 pu:2", 3);
	const struct topo_layout *l = topo_layout(t);
	uint32_t two[] = { 2, 0 };
	char env[64];

	assert_int_equal(l->ngpus, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_string_equal(l->gpus[i].kind, "conf");
		assert_int_equal(l->gpus[i].index, i);
		assert_int_equal(l->gpus[i].domain, TOPO_NONE);
		assert_int_equal(l->gpus[i].package, TOPO_NONE);
		assert_string_equal(l->gpus[i].busid, "");
	}
	topo_gpu_env(l, two, 2, env, sizeof(env));
	assert_string_equal(env, "CUDA_VISIBLE_DEVICES=0,2");
	/* snprintf-style: the length needed, whatever fits */
	assert_int_equal(topo_gpu_env(l, two, 2, NULL, 0), strlen(env));
	char small[8];
	assert_int_equal(topo_gpu_env(l, two, 2, small, sizeof(small)), strlen(env));
	assert_string_equal(small, "CUDA_VI");
	assert_int_equal(topo_gpu_env(l, NULL, 0, env, sizeof(env)), 0);
	assert_string_equal(env, "");
	uint32_t bad[] = { 3 };
	errno = 0;
	assert_int_equal(topo_gpu_env(l, bad, 1, env, sizeof(env)), -1);
	assert_int_equal(errno, EINVAL);
	topo_destroy(t);
}

static void test_load_errors(void **state)
{
	(void)state;
	struct topo *t = (struct topo *)1;
	char err[256] = "";

	assert_int_equal(topo_load("no-such-file.xml", 0, &t, err, sizeof(err)), -1);
	assert_null(t);
	assert_non_null(strstr(err, "no-such-file.xml"));
	err[0] = '\0';
	errno = 0;
	assert_int_equal(topo_load("pack:two", 0, &t, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "pack:two"));
	assert_non_null(strstr(err, "synthetic"));
	/* a file that is not XML */
	err[0] = '\0';
	assert_int_equal(topo_load(path_of("NOTICE.md"), 0, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NOTICE.md"));
}

static void expect_same_layout(const struct topo_layout *a, const struct topo_layout *b)
{
	assert_int_equal(a->npackages, b->npackages);
	assert_int_equal(a->ndomains, b->ndomains);
	assert_int_equal(a->ncores, b->ncores);
	assert_int_equal(a->npus, b->npus);
	assert_int_equal(a->ngpus, b->ngpus);
	assert_int_equal(a->threads_per_core, b->threads_per_core);
	assert_int_equal(a->mem_mb, b->mem_mb);
	assert_memory_equal(a->packages, b->packages, a->npackages * sizeof(*a->packages));
	assert_memory_equal(a->domains, b->domains, a->ndomains * sizeof(*a->domains));
	assert_memory_equal(a->cores, b->cores, a->ncores * sizeof(*a->cores));
	assert_memory_equal(a->pu_os, b->pu_os, a->npus * sizeof(*a->pu_os));
	if (a->ngpus)
		assert_memory_equal(a->gpus, b->gpus, a->ngpus * sizeof(*a->gpus));
}

static void test_export_import_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i <= sizeof(files) / sizeof(files[0]); i++) {
		/* every file, then this machine */
		struct topo *t =
		    load(i < sizeof(files) / sizeof(files[0]) ? path_of(files[i]) : NULL, 0);
		struct topo *u = NULL;
		void *buf, *buf2;
		size_t len, len2;
		char err[256];

		assert_int_equal(topo_export(t, &buf, &len), 0);
		assert_true(len > 0);
		if (topo_import(buf, len, 0, &u, err, sizeof(err)) < 0)
			fail_msg("import: %s", err);
		expect_same_layout(topo_layout(t), topo_layout(u));
		assert_string_equal(topo_hash(t), topo_hash(u));
		/* what an imported model exports is what it was given */
		assert_int_equal(topo_export(u, &buf2, &len2), 0);
		assert_int_equal(len2, len);
		assert_memory_equal(buf, buf2, len);
		/* the hash is of the XML inside */
		uLongf xl = 64 << 20;
		Bytef *xml = malloc(xl);
		assert_non_null(xml);
		assert_int_equal(uncompress(xml, &xl, buf, len), Z_OK);
		char hash[17];
		uint64_t hv = 0xcbf29ce484222325ULL;
		for (uLongf k = 0; k < xl; k++)
			hv = (hv ^ xml[k]) * 0x100000001b3ULL;
		snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)hv);
		assert_string_equal(topo_hash(t), hash);
		assert_non_null(strstr((char *)xml, "<topology"));
		free(xml);
		free(buf);
		free(buf2);
		topo_destroy(u);
		topo_destroy(t);
	}
}

static void test_hash_tells_apart(void **state)
{
	(void)state;
	struct topo *a = load(path_of("sierra.xml"), 0), *b = load(path_of("sierra.xml"), 0);
	struct topo *c = load(path_of("corona.xml"), 0);

	assert_string_equal(topo_hash(a), topo_hash(b));
	assert_string_not_equal(topo_hash(a), topo_hash(c));
	topo_destroy(a);
	topo_destroy(b);
	topo_destroy(c);
}

static void expect_import_refused(const void *buf, size_t len, const char *what)
{
	struct topo *t = (struct topo *)1;
	char err[256] = "";

	errno = 0;
	assert_int_equal(topo_import(buf, len, 0, &t, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(t);
	if (!strstr(err, what))
		fail_msg("expected \"%s\" in \"%s\"", what, err);
}

static void test_import_refuses_bad_input(void **state)
{
	(void)state;
	struct topo *t = load(path_of("24em64t-2n6c2t-pci.xml"), 0);
	unsigned char *buf, *junk;
	size_t len;

	assert_int_equal(topo_export(t, (void **)&buf, &len), 0);
	expect_import_refused(buf, 0, "refused");
	expect_import_refused(buf, len - 7, "truncated");
	expect_import_refused(buf, 1, "truncated");
	junk = malloc(len + 3);
	memcpy(junk, buf, len);
	memcpy(junk + len, "abc", 3);
	expect_import_refused(junk, len + 3, "junk");
	memcpy(junk, buf, len);
	for (size_t k = len / 3; k < len / 3 + 16; k++)
		junk[k] ^= 0x5a;
	expect_import_refused(junk, len, "corrupt");
	free(junk);
	expect_import_refused("not zlib at all", 15, "corrupt");

	/* valid zlib, but not a topology */
	static const char text[] = "<html>hello</html>";
	uLongf zl = compressBound(sizeof(text));
	Bytef *z = malloc(zl);
	assert_int_equal(compress(z, &zl, (const Bytef *)text, sizeof(text) - 1), Z_OK);
	expect_import_refused(z, zl, "hwloc");
	free(z);

	/* a zlib bomb: 65 MiB of spaces squeezed into a few KB */
	size_t big = (size_t)65 << 20;
	char *spaces = malloc(big);
	assert_non_null(spaces);
	memset(spaces, ' ', big);
	zl = compressBound(big);
	z = malloc(zl);
	assert_int_equal(compress2(z, &zl, (const Bytef *)spaces, big, 9), Z_OK);
	free(spaces);
	assert_true(zl < 1 << 20);
	expect_import_refused(z, zl, "MiB");
	free(z);
	free(buf);
	topo_destroy(t);
}

static void expect_parse(const char *s, uint32_t max, const uint32_t *want, size_t nwant)
{
	uint32_t *v = NULL;
	size_t n = 99;

	if (topo_list_parse(s, max, &v, &n) < 0)
		fail_msg("topo_list_parse(\"%s\") failed", s);
	assert_int_equal(n, nwant);
	if (n)
		assert_memory_equal(v, want, n * sizeof(*v));
	free(v);
}

static void expect_parse_error(const char *s, uint32_t max)
{
	uint32_t *v = (uint32_t *)1;
	size_t n = 99;

	errno = 0;
	if (topo_list_parse(s, max, &v, &n) == 0)
		fail_msg("topo_list_parse(\"%s\") accepted", s);
	assert_int_equal(errno, EINVAL);
	assert_null(v);
	assert_int_equal(n, 0);
}

static void test_list_parse(void **state)
{
	(void)state;
	expect_parse("0-3,8", 100, (const uint32_t[]){ 0, 1, 2, 3, 8 }, 5);
	expect_parse("8,0-2,1-3,8", 100, (const uint32_t[]){ 0, 1, 2, 3, 8 }, 5);
	expect_parse("5", 5, (const uint32_t[]){ 5 }, 1);
	expect_parse("007", 10, (const uint32_t[]){ 7 }, 1);
	expect_parse("2-2", 10, (const uint32_t[]){ 2 }, 1);
	expect_parse("4294967295", UINT32_MAX, (const uint32_t[]){ UINT32_MAX }, 1);
	expect_parse("", 10, NULL, 0);
	expect_parse_error("3-1", 100);
	expect_parse_error("1,,2", 100);
	expect_parse_error("-", 100);
	expect_parse_error("1-", 100);
	expect_parse_error("-1", 100);
	expect_parse_error(",1", 100);
	expect_parse_error("1,", 100);
	expect_parse_error("1x", 100);
	expect_parse_error("1 ", 100);
	expect_parse_error(" 1", 100);
	expect_parse_error("+1", 100);
	expect_parse_error("1-2-3", 100);
	expect_parse_error("6", 5);
	expect_parse_error("0-6", 5);
	expect_parse_error("4294967296", UINT32_MAX);
	expect_parse_error("99999999999999999999999", UINT32_MAX);
	expect_parse_error(NULL, 5);
}

static void test_list_format(void **state)
{
	(void)state;
	char buf[64];

	assert_int_equal(
	    topo_list_format((const uint32_t[]){ 8, 0, 3, 1, 2, 2, 10, 11 }, 8, buf, sizeof(buf)),
	    strlen("0-3,8,10-11"));
	assert_string_equal(buf, "0-3,8,10-11");
	assert_int_equal(topo_list_format(NULL, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(topo_list_format((const uint32_t[]){ UINT32_MAX, 0 }, 2, buf, 5),
			 strlen("0,4294967295"));
	assert_string_equal(buf, "0,42");
	assert_int_equal(topo_list_format((const uint32_t[]){ 5 }, 1, NULL, 0), 1);

	/* parse(format(x)) == sorted unique x */
	uint32_t v[] = { 9, 3, 4, 5, 100, 7, 3 }, *back;
	size_t n;
	topo_list_format(v, 7, buf, sizeof(buf));
	assert_int_equal(topo_list_parse(buf, 1000, &back, &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(back, ((const uint32_t[]){ 3, 4, 5, 7, 9, 100 }), 6 * sizeof(*back));
	free(back);
}

/* PU lists as hwloc itself prints cpusets, on a machine whose NUMA nodes
 * interleave PU numbers. */
static void test_pus_format_like_hwloc(void **state)
{
	(void)state;
	const char *p = path_of("24em64t-2n6c2t-pci.xml");
	struct topo *t = load(p, 0);
	hwloc_topology_t h = hw_open(p, false);
	const struct topo_layout *l = topo_layout(t);

	for (uint32_t d = 0; d < l->ndomains; d++) {
		uint32_t pus[64];
		size_t n = 0;
		char mine[256], theirs[256];
		hwloc_bitmap_t set = hwloc_bitmap_alloc();

		/* backwards, to check the sort */
		for (uint32_t c = l->ncores; c-- > 0;) {
			if (l->cores[c].domain != d)
				continue;
			for (uint32_t k = 0; k < l->cores[c].npus; k++) {
				pus[n++] = l->cores[c].first_pu + k;
				hwloc_bitmap_set(set, l->pu_os[l->cores[c].first_pu + k]);
			}
		}
		assert_true(n > 0);
		topo_pus_format(l, pus, n, mine, sizeof(mine));
		hwloc_bitmap_list_snprintf(theirs, sizeof(theirs), set);
		assert_string_equal(mine, theirs);
		/* and it is the NUMA node's cpuset */
		uint32_t *os;
		size_t nos;
		assert_int_equal(topo_list_parse(l->domains[d].nodeset, 1024, &os, &nos), 0);
		assert_int_equal(nos, 1);
		hwloc_obj_t numa = hwloc_get_numanode_obj_by_os_index(h, (unsigned)os[0]);
		free(os);
		assert_true(hwloc_bitmap_isequal(numa->cpuset, set));
		hwloc_bitmap_free(set);
	}
	uint32_t bad[] = { l->npus };
	char buf[16];
	errno = 0;
	assert_int_equal(topo_pus_format(l, bad, 1, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EINVAL);
	hwloc_topology_destroy(h);
	topo_destroy(t);
}

/* Hostile input ----------------------------------------------------------
 * The reproducers fuzzing found (tests/fuzz/reproducers), and variants of
 * them made here by editing real topologies' XML. */

/* DIR/FILE's bytes (NUL-ended, length in *LEN). */
static char *slurp(const char *dir, const char *file, size_t *len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* XML as topo_import takes it (compressed); -1 with ERR as topo_import. */
static int import_xml(const char *xml, struct topo **t, char *err, size_t errlen)
{
	uLongf zl = compressBound(strlen(xml));
	Bytef *z = malloc(zl);
	int rc;

	assert_non_null(z);
	assert_int_equal(compress(z, &zl, (const Bytef *)xml, strlen(xml)), Z_OK);
	rc = topo_import(z, zl, 0, t, err, errlen);
	free(z);
	return rc;
}

/* XML with the first FROM replaced by TO (malloc'd). */
static char *edit(const char *xml, const char *from, const char *to)
{
	const char *at = strstr(xml, from);
	size_t head, n;
	char *out;

	if (!at)
		fail_msg("\"%s\" is not in the XML", from);
	head = (size_t)(at - xml);
	n = strlen(xml) - strlen(from) + strlen(to);
	out = malloc(n + 1);
	assert_non_null(out);
	memcpy(out, xml, head);
	strcpy(out + head, to);
	strcat(out + head, at + strlen(from));
	return out;
}

/* Every GPU is named by its kind and an index. */
static void expect_gpus_well_named(const struct topo_layout *l)
{
	for (uint32_t g = 0; g < l->ngpus; g++) {
		const struct topo_gpu *gpu = &l->gpus[g];
		assert_int_equal(strncmp(gpu->name, gpu->kind, strlen(gpu->kind)), 0);
		assert_true(gpu->index >= 0);
	}
}

static void test_gpu_name_shorter_than_kind(void **state)
{
	(void)state;
	size_t len;
	char *xml = slurp(PACER_REPRODUCER_DIR,
			  "heap-overflow-gpu_index_of-subtype-CUDA-name-cu.xml", &len);
	char path[1024], err[256] = "";
	struct topo *t = NULL;

	/* A subtype="CUDA" device called "cu" is not a CUDA GPU; the
	 * well-named OpenCL device beside it still is. */
	snprintf(path, sizeof(path), "%s/%s", PACER_REPRODUCER_DIR,
		 "heap-overflow-gpu_index_of-subtype-CUDA-name-cu.xml");
	if (topo_load(path, 0, &t, err, sizeof(err)) < 0)
		fail_msg("topo_load: %s", err);
	const struct topo_layout *l = topo_layout(t);
	assert_int_equal(l->ngpus, 1);
	assert_string_equal(l->gpus[0].name, "opencl0d1");
	expect_gpus_well_named(l);
	topo_destroy(t);

	/* Every kind, with names shorter than its prefix, or the bare prefix. */
	static const char *const names[] = {
		"name=\"\" subtype=\"CUDA\"",          "name=\"c\" subtype=\"CUDA\"",
		"name=\"cuda\" subtype=\"CUDA\"",      "name=\"nvm\" subtype=\"NVML\"",
		"name=\"r\" subtype=\"RSMI\"",         "name=\"openc\" subtype=\"OpenCL\"",
		"name=\"opencl0\" subtype=\"OpenCL\"", "name=\"opencl0d\" subtype=\"OpenCL\"",
		"name=\"cuda0\" subtype=\"NVML\"",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *x = edit(xml, "name=\"cu\" subtype=\"CUDA\"", names[i]);
		if (import_xml(x, &t, err, sizeof(err)) < 0)
			fail_msg("%s: %s", names[i], err);
		l = topo_layout(t);
		assert_int_equal(l->ngpus, 1);
		assert_string_equal(l->gpus[0].name, "opencl0d1");
		topo_destroy(t);
		free(x);
	}
	/* Well named, the device counts, first (CUDA sorts before OpenCL). */
	char *x = edit(xml, "name=\"cu\" subtype=\"CUDA\"", "name=\"cuda7\" subtype=\"CUDA\"");
	if (import_xml(x, &t, err, sizeof(err)) < 0)
		fail_msg("cuda7: %s", err);
	l = topo_layout(t);
	assert_int_equal(l->ngpus, 2);
	assert_string_equal(l->gpus[0].name, "cuda7");
	assert_int_equal(l->gpus[0].index, 7);
	assert_string_equal(l->gpus[1].name, "opencl0d1");
	topo_destroy(t);
	free(x);
	free(xml);
}

/* The same topology as a node sends it: "Z" (the fuzz harness's tag for
 * the wire form), then the compressed XML topo_import takes. */
static void test_gpu_name_wire_form(void **state)
{
	(void)state;
	size_t len;
	char *buf = slurp(PACER_REPRODUCER_DIR, "heap-overflow-gpu_index_of-wire-Z.bin", &len);
	struct topo *t = NULL;
	char err[256] = "";

	assert_true(len > 1 && buf[0] == 'Z');
	if (topo_import(buf + 1, len - 1, 0, &t, err, sizeof(err)) < 0)
		fail_msg("topo_import: %s", err);
	expect_gpus_well_named(topo_layout(t));
	topo_destroy(t);
	free(buf);
}

/* Refused by topo_load (a file) and by topo_import (the wire) alike. */
static void expect_refused_both_ways(const char *xml, const char *path, const char *what)
{
	struct topo *t = (struct topo *)1;
	char err[256] = "";

	errno = 0;
	if (path) {
		assert_int_equal(topo_load(path, 0, &t, err, sizeof(err)), -1);
		assert_int_equal(errno, EINVAL);
		assert_null(t);
		if (!strstr(err, what))
			fail_msg("load: expected \"%s\" in \"%s\"", what, err);
	}
	t = (struct topo *)1;
	err[0] = '\0';
	errno = 0;
	assert_int_equal(import_xml(xml, &t, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(t);
	if (!strstr(err, what))
		fail_msg("import: expected \"%s\" in \"%s\"", what, err);
}

static void test_pu_os_index_refused(void **state)
{
	(void)state;
	static const struct {
		const char *file, *what;
	} cases[] = {
		{ "topo-pu-without-os-index", "PU L#2 has no os_index" },
		/* this one has a misspelt os_index too, found first */
		{ "topo-duplicate-pu-os-index", "PU L#21 has no os_index" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[1024];
		size_t len;
		char *xml = slurp(PACER_REPRODUCER_DIR, cases[i].file, &len);

		snprintf(path, sizeof(path), "%s/%s", PACER_REPRODUCER_DIR, cases[i].file);
		expect_refused_both_ways(xml, path, cases[i].what);
		free(xml);
	}

	/* The duplicates alone, once that os index is spelt right. */
	size_t len;
	char *xml = slurp(PACER_REPRODUCER_DIR, "topo-duplicate-pu-os-index", &len);
	char *x = edit(xml, "os_inddx=\"21\"", "os_index=\"21\"");
	expect_refused_both_ways(x, NULL, "both have os_index");
	free(x);
	free(xml);

	/* An os index beyond what binding takes would size bitmaps by it. */
	xml = slurp(PACER_TOPOLOGY_DIR, "16em64t-4s2c2t.xml", &len);
	x = edit(xml, "type=\"PU\" os_index=\"15\"", "type=\"PU\" os_index=\"4194305\"");
	expect_refused_both_ways(x, NULL, "os_index 4194305, above the 4194304 Pacer takes");
	free(x);
	free(xml);
}

/* Packages at two depths (found by fuzz_topo): hwloc counts them as -1
 * and numbers them per depth, which indexed past the package table. */
static void test_objects_at_several_depths_refused(void **state)
{
	(void)state;
	char path[1024];
	size_t len;
	char *xml = slurp(PACER_REPRODUCER_DIR, "topo-packages-at-two-depths", &len);

	snprintf(path, sizeof(path), "%s/%s", PACER_REPRODUCER_DIR, "topo-packages-at-two-depths");
	expect_refused_both_ways(xml, path, "Package objects at several depths");
	free(xml);
}

static void test_numa_os_index_refused(void **state)
{
	(void)state;
	size_t len;
	char *xml = slurp(PACER_TOPOLOGY_DIR, "192em64t-24n8c2t.xml", &len);
	char *x = edit(xml, "type=\"NUMANode\" os_index=\"1\"", "type=\"NUMANode\" os_index=\"0\"");

	expect_refused_both_ways(x, NULL, "NUMA nodes L#0 and L#1 both have os_index 0");
	free(x);
	x = edit(xml, "type=\"NUMANode\" os_index=\"1\"", "type=\"NUMANode\"");
	expect_refused_both_ways(x, NULL, "NUMA node L#1 has no os_index");
	free(x);
	free(xml);
}

/* Sizes no machine has are refused before they are summed or sized into
 * arrays.  (Too many PUs or NUMA nodes cannot be tested here: hwloc takes
 * minutes to build such topologies, which the check's time limit stops.) */
static void test_absurd_memory_refused(void **state)
{
	(void)state;
	size_t len;
	char *xml = slurp(PACER_TOPOLOGY_DIR, "192em64t-24n8c2t.xml", &len);
	char *x = edit(xml, "local_memory=\"33255329792\"", "local_memory=\"1125899906842625\"");
	expect_refused_both_ways(x, NULL, "claims 1125899906842625 bytes of memory");
	free(x);
	free(xml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_file_matches_hwloc),
		cmocka_unit_test(test_this_machine),
		cmocka_unit_test(test_sierra_gpus),
		cmocka_unit_test(test_corona_rsmi),
		cmocka_unit_test(test_cuda_and_opencl),
		cmocka_unit_test(test_knl_merged_domains),
		cmocka_unit_test(test_domain_spanning_packages),
		cmocka_unit_test(test_synthetic),
		cmocka_unit_test(test_conf_gpus),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_export_import_round_trip),
		cmocka_unit_test(test_hash_tells_apart),
		cmocka_unit_test(test_import_refuses_bad_input),
		cmocka_unit_test(test_list_parse),
		cmocka_unit_test(test_list_format),
		cmocka_unit_test(test_pus_format_like_hwloc),
		cmocka_unit_test(test_gpu_name_shorter_than_kind),
		cmocka_unit_test(test_gpu_name_wire_form),
		cmocka_unit_test(test_pu_os_index_refused),
		cmocka_unit_test(test_numa_os_index_refused),
		cmocka_unit_test(test_objects_at_several_depths_refused),
		cmocka_unit_test(test_absurd_memory_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
