/* fuzz_conf.c - pacer.conf as conf_load reads it from a file: a refused
 * file gets a message naming it; an accepted one is consistent (unique
 * node names, partitions of existing nodes, one default partition,
 * features within the mask). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"

static void check_conf(const struct conf *c)
{
	FUZZ_CHECK(c->cluster && *c->cluster && c->ncontrollers >= 1 && c->state_dir,
		   "cluster, controllers or state_dir missing");
	for (size_t i = 0; i < c->ncontrollers; i++)
		FUZZ_CHECK(c->controllers[i].host && *c->controllers[i].host &&
			       c->controllers[i].port != 0,
			   "controller %zu", i);
	FUZZ_CHECK(c->nfeatures <= CONF_FEATURES_MAX, "%zu features", c->nfeatures);
	for (size_t i = 0; i < c->nfeatures; i++)
		FUZZ_CHECK(conf_feature_index(c, c->features[i]) == (long)i,
			   "feature %s is not at %zu", c->features[i], i);
	uint64_t all = c->nfeatures >= 32 ? UINT32_MAX : ((uint64_t)1 << c->nfeatures) - 1;
	for (size_t i = 0; i < c->nnodes; i++) {
		const struct conf_node *n = &c->nodes[i];
		FUZZ_CHECK(n->name && *n->name && n->address && *n->address && n->port != 0,
			   "node %zu", i);
		FUZZ_CHECK(conf_node_index(c, n->name) == (long)i,
			   "node %s is also at %ld, not only %zu", n->name,
			   conf_node_index(c, n->name), i);
		FUZZ_CHECK((n->feature_mask & ~all) == 0, "node %s has features 0x%" PRIx32,
			   n->name, n->feature_mask);
	}
	size_t ndefault = 0;
	for (size_t i = 0; i < c->npartitions; i++) {
		const struct conf_partition *p = &c->partitions[i];
		FUZZ_CHECK(p->name && *p->name && conf_partition_find(c, p->name) == p,
			   "partition %zu", i);
		ndefault += p->is_default;
		for (size_t k = 0; k < p->nnodes; k++)
			FUZZ_CHECK(p->nodes[k] < c->nnodes, "partition %s node %zu", p->name, k);
	}
	FUZZ_CHECK(c->npartitions == 0 || (ndefault == 1 && conf_partition_find(c, NULL)),
		   "%zu default partitions of %zu", ndefault, c->npartitions);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[4096];
	char err[1024] = "";
	struct conf *c;

	fuzz_quiet_logs();
	if (!path[0])
		snprintf(path, sizeof(path), "%s/pacer.conf", fuzz_tmpdir());
	fuzz_write_file(path, data, size);
	if (conf_load(path, &c, err, sizeof(err)) < 0) {
		FUZZ_CHECK(errno != 0 && strncmp(err, path, strlen(path)) == 0,
			   "refused (errno %d) with a message that does not name the file: \"%s\"",
			   errno, err);
		return 0;
	}
	check_conf(c);
	conf_destroy(c);
	return 0;
}
