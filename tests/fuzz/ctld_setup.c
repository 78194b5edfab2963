/* ctld_setup.c - a small controller for the fuzz targets (see ctld_setup.h). */
#include "ctld_setup.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctld.h"
#include "fuzz.h"
#include "node.h"
#include "select.h"
#include "topo.h"
#include "topocache.h"

#define TOPOLOGY "pack:2 numa:2 core:2 pu:2"

static char state_dir[4096];
static void *wire; /* the nodes' topology as they send it */
static size_t wirelen;

void fuzz_ctld_init(void)
{
	char path[4096], err[1024];
	struct topo *t;

	if (ctld.conf)
		return;
	fuzz_quiet_logs();
	snprintf(state_dir, sizeof(state_dir), "%s/state", fuzz_tmpdir());
	snprintf(path, sizeof(path), "%s/pacer.conf", fuzz_tmpdir());
	FILE *f = fopen(path, "w");
	FUZZ_CHECK(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fprintf(f,
		"[cluster]\n"
		"name = fuzz\n"
		"controllers = localhost:6817\n"
		"state_dir = %s\n"
		"daemon_user = root\n"
		"admins = alice\n"
		"min_job_age = 1000000h\n"
		"snapshot_interval = 1\n"
		"\n"
		"[nodes:cpu]\n"
		"names = node[1-3]\n"
		"port = 6818\n"
		"features = ib\n"
		"\n"
		"[nodes:gpu]\n"
		"names = gpu1\n"
		"port = 6819\n"
		"gpus = 2\n"
		"features = ib,gpu\n"
		"\n"
		"[partition:batch]\n"
		"default = yes\n"
		"\n"
		"[partition:gpu]\n"
		"nodes = gpu1\n"
		"max_time = 1-00:00:00\n"
		"allow_users = root\n",
		state_dir);
	FUZZ_CHECK(fclose(f) == 0, "cannot write %s", path);
	FUZZ_CHECK(conf_load(path, &ctld.conf, err, sizeof(err)) == 0, "%s", err);
	ctld.select = select_find(ctld.conf->select);
	ctld.base = event_base_new();
	ctld.listen_host = strdup("localhost");
	ctld.listen_port = 6817;
	FUZZ_CHECK(ctld.select && ctld.base && ctld.listen_host, "controller set-up");
	FUZZ_CHECK(topo_load(TOPOLOGY, 0, &t, err, sizeof(err)) == 0, "%s", err);
	FUZZ_CHECK(topo_export(t, &wire, &wirelen) == 0, "export");
	topo_destroy(t);
}

const char *fuzz_ctld_state_dir(void)
{
	return state_dir;
}

void fuzz_ctld_nodes_up(void)
{
	char err[512];

	FUZZ_CHECK(node_table_init() == 0, "node table");
	for (size_t i = 0; i < node_count(); i++) {
		struct topo *t =
		    topocache_get(wire, wirelen, ctld.conf->nodes[i].gpus, err, sizeof(err));
		FUZZ_CHECK(t != NULL, "%s", err);
		FUZZ_CHECK(node_bring_up(node_at(i), t, 0) == 0, "node %zu up", i);
	}
}

void fuzz_ctld_nodes_down(void)
{
	node_table_destroy();
}
