/* fuzz_topo.c - a node's topology as the controller imports it at
 * registration (topo_import), and the layout promises of topo.h.
 *
 * Input: 'Z' then the wire form (zlib-compressed hwloc XML, as a node
 * sends it), or anything else: hwloc XML, compressed here first, so the
 * fuzzer mutates the XML itself.
 *
 * hwloc's own XML import crashes on some inputs (third party), so every
 * input goes through topo_check_isolated first (the import tried in a
 * helper process, common/topocheck.h), as the controller's do.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "topo.h"
#include "topocheck.h"

#define NONE_OR_BELOW(v, n) ((v) == TOPO_NONE || (v) < (n))

static void check_layout(const struct topo *t, const char *what)
{
	const struct topo_layout *l = topo_layout(t);
	uint32_t next_pu = 0, tpc = 0;

	FUZZ_CHECK(l->npus >= 1 && l->ncores >= 1 && l->npackages >= 1,
		   "%s: %u PUs, %u cores, %u packages", what, l->npus, l->ncores, l->npackages);
	for (uint32_t c = 0; c < l->ncores; c++) {
		const struct topo_core *co = &l->cores[c];
		FUZZ_CHECK(co->first_pu == next_pu && co->npus >= 1,
			   "%s: core %u owns PUs from %u (%u), not from %u", what, c, co->first_pu,
			   co->npus, next_pu);
		FUZZ_CHECK(co->package < l->npackages && NONE_OR_BELOW(co->domain, l->ndomains),
			   "%s: core %u in package %u, domain %u", what, c, co->package,
			   co->domain);
		next_pu += co->npus;
		if (co->npus > tpc)
			tpc = co->npus;
	}
	FUZZ_CHECK(next_pu == l->npus && tpc == l->threads_per_core,
		   "%s: cores own %u PUs of %u, %u threads per core, not %u", what, next_pu,
		   l->npus, tpc, l->threads_per_core);
	for (uint32_t d = 0; d < l->ndomains; d++) {
		const struct topo_domain *dom = &l->domains[d];
		uint32_t *v;
		size_t n;
		FUZZ_CHECK(NONE_OR_BELOW(dom->package, l->npackages) &&
			       memchr(dom->nodeset, '\0', sizeof(dom->nodeset)),
			   "%s: domain %u", what, d);
		FUZZ_CHECK(topo_list_parse(dom->nodeset, UINT32_MAX - 1, &v, &n) == 0,
			   "%s: domain %u's nodeset \"%s\" does not parse", what, d, dom->nodeset);
		free(v);
	}
	for (uint32_t g = 0; g < l->ngpus; g++) {
		const struct topo_gpu *gpu = &l->gpus[g];
		FUZZ_CHECK(memchr(gpu->name, '\0', sizeof(gpu->name)) &&
			       memchr(gpu->kind, '\0', sizeof(gpu->kind)) &&
			       memchr(gpu->busid, '\0', sizeof(gpu->busid)) && gpu->index >= 0 &&
			       NONE_OR_BELOW(gpu->domain, l->ndomains) &&
			       NONE_OR_BELOW(gpu->package, l->npackages),
			   "%s: GPU %u", what, g);
	}

	/* The controller writes CPU lists with topo_pus_format and reads
	 * them back (the journal, node_cpuset_pus): every PU must survive. */
	uint32_t *all = malloc(l->npus * sizeof(*all)), *os;
	size_t nos;
	FUZZ_CHECK(all != NULL, "out of memory");
	for (uint32_t i = 0; i < l->npus; i++)
		all[i] = i;
	int len = topo_pus_format(l, all, l->npus, NULL, 0);
	char *list = malloc((size_t)len + 1);
	FUZZ_CHECK(len >= 0 && list, "%s: formatting the PUs", what);
	FUZZ_CHECK(topo_pus_format(l, all, l->npus, list, (size_t)len + 1) == len, "%s", what);
	FUZZ_CHECK(topo_list_parse(list, UINT32_MAX - 1, &os, &nos) == 0 && nos == l->npus,
		   "%s: the %u PUs format as \"%.200s\", which reads back as %zu PUs", what,
		   l->npus, list, nos);
	for (size_t i = 0; i < nos; i++) {
		uint32_t pu = topo_pu_by_os(t, os[i]);
		FUZZ_CHECK(pu < l->npus && l->pu_os[pu] == os[i], "%s: os index %u gives PU %u",
			   what, os[i], pu);
	}
	free(os);
	free(list);

	uint32_t *gpus = malloc((l->ngpus + 1) * sizeof(*gpus));
	FUZZ_CHECK(gpus != NULL, "out of memory");
	for (uint32_t g = 0; g < l->ngpus; g++)
		gpus[g] = g;
	len = topo_gpu_env(l, gpus, l->ngpus, NULL, 0);
	char *env = malloc((size_t)len + 1);
	FUZZ_CHECK(len >= 0 && env &&
		       topo_gpu_env(l, gpus, l->ngpus, env, (size_t)len + 1) == len &&
		       strlen(env) == (size_t)len,
		   "%s: GPU environment", what);
	free(env);
	free(gpus);
	free(all);
}

/* Import WIRE; when accepted, check it, and that exporting gives the same
 * bytes, which import to the same topology. */
static void import(const void *wire, size_t len)
{
	char err[512] = "";
	struct topo *t;

	if (topo_check_isolated(wire, len, 0, err, sizeof(err)) < 0) {
		FUZZ_CHECK(err[0], "refused without a message");
		return;
	}
	if (topo_import(wire, len, 0, &t, err, sizeof(err)) < 0) {
		FUZZ_CHECK(err[0], "refused (errno %d) without a message", errno);
		return;
	}
	check_layout(t, "imported");

	void *out;
	size_t outlen;
	struct topo *again;
	FUZZ_CHECK(topo_export(t, &out, &outlen) == 0, "export: %s", strerror(errno));
	FUZZ_CHECK(outlen == len && memcmp(out, wire, len) == 0, "export differs from the import");
	FUZZ_CHECK(topo_import(out, outlen, 2, &again, err, sizeof(err)) == 0,
		   "its own export is refused: %s", err);
	FUZZ_CHECK(strcmp(topo_hash(t), topo_hash(again)) == 0, "hash changed");
	FUZZ_CHECK(topo_layout(again)->npus == topo_layout(t)->npus &&
		       topo_layout(again)->ncores == topo_layout(t)->ncores,
		   "a second import differs");
	/* With GPUs from pacer.conf when hwloc sees none. */
	FUZZ_CHECK(topo_layout(again)->ngpus == (topo_layout(t)->ngpus ? topo_layout(t)->ngpus : 2),
		   "%u GPUs with 2 configured", topo_layout(again)->ngpus);
	check_layout(again, "imported with 2 GPUs configured");
	topo_destroy(again);
	free(out);
	topo_destroy(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 1 && data[0] == 'Z') {
		import(data + 1, size - 1);
		return 0;
	}
	uLongf zlen = compressBound((uLong)size);
	uint8_t *z = malloc(zlen);
	FUZZ_CHECK(z != NULL, "out of memory");
	FUZZ_CHECK(compress2(z, &zlen, data, (uLong)size, 1) == Z_OK, "compress");
	import(z, zlen);
	free(z);
	return 0;
}
