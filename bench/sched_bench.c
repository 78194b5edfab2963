/* sched_bench.c - the controller's real scheduler, driven in process.
 *
 *   sched_bench DIR [NODES [PENDING]]
 *
 * Builds a controller in DIR (pacer.conf, journal) with NODES emulated
 * 64-core nodes (hwloc synthetic "pack:2 numa:2(memory=32GB) core:16 pu:1"),
 * brought up through the same path a registration takes.  Starts one
 * 32-core job per node, with time limits from 10 minutes to 4 hours (best
 * fit packs them two to a node, so half the nodes are full and half idle),
 * submits PENDING jobs of mixed shapes through the submit checks, then
 * times scheduling passes:
 *
 *   sched_nodes, sched_pending       the set-up
 *   sched_first_pass_ms              the pass that meets the 10,000 jobs
 *   sched_first_started              jobs it started
 *   sched_steady_pass_ms             the next pass (nothing changed: every
 *                                    job is looked at, reservations redone)
 *   sched_reservations               reservations that pass made
 *   sched_passes_per_s               1000 / sched_steady_pass_ms
 *
 * One figure a line; bench/sched runs it several times and takes medians.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "ctld.h"
#include "job.h"
#include "log.h"
#include "node.h"
#include "sched.h"
#include "select.h"
#include "state.h"
#include "topo.h"
#include "topocache.h"

static uint64_t rng = 88172645463325252ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int submit(Pacer__JobSpec *spec, int64_t age)
{
	char why[512];
	struct sched_parts parts;
	if (sched_parts_parse(spec->partition, &parts, why, sizeof(why)) < 0 ||
	    sched_check(spec, &parts, why, sizeof(why)) < 0) {
		fprintf(stderr, "sched_bench: refused: %s\n", why);
		return -1;
	}
	Pacer__Job j = PACER__JOB__INIT;
	j.id = ctld.next_job_id;
	j.uid = 1000;
	j.gid = 1000;
	j.user = "bench";
	j.spec = spec;
	j.state = PACER__JOB_STATE__JOB_PENDING;
	j.submit_time = ctld_now() - age;
	j.epoch = ctld.epoch;
	return state_submit(&j) ? 0 : -1;
}

static void spec_init(Pacer__JobSpec *s)
{
	static char script[] = "#!/bin/sh\ntrue\n";
	pacer__job_spec__init(s);
	s->name = "bench";
	s->workdir = "/tmp";
	s->script.data = (uint8_t *)script;
	s->script.len = sizeof(script) - 1;
}

/* A pending job of a mixed shape, as a busy cluster sees them. */
static void mixed(Pacer__JobSpec *s)
{
	spec_init(s);
	uint32_t kind = rnd(100);
	static const uint32_t limits[] = { 600, 1800, 3600, 7200, 14400 };
	s->time_limit = limits[rnd(5)];
	if (kind < 60) { /* one task, a few cores */
		s->ntasks = 1;
		s->cpus_per_task = 1u << rnd(5);
		if (rnd(3) == 0)
			s->mem_mb = 1024u << rnd(4);
	} else if (kind < 85) { /* many small tasks */
		s->ntasks = 8 + rnd(57);
	} else if (kind < 95) { /* a few whole-ish nodes */
		s->nodes = 2 + rnd(7);
		s->ntasks = s->nodes * 16;
	} else { /* exclusive nodes */
		s->nodes = 1 + rnd(4);
		s->ntasks = s->nodes;
		s->exclusive = true;
	}
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "Usage: sched_bench DIR [NODES [PENDING]]\n");
		return 2;
	}
	const char *dir = argv[1];
	unsigned nodes = argc > 2 ? (unsigned)atoi(argv[2]) : 1000;
	unsigned pending = argc > 3 ? (unsigned)atoi(argv[3]) : 10000;
	if (nodes < 1 || nodes > 9999 || pending < 1) {
		fprintf(stderr, "sched_bench: NODES is 1 to 9999, PENDING at least 1\n");
		return 2;
	}
	char path[4096], err[1024];
	snprintf(path, sizeof(path), "%s/pacer.conf", dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "sched_bench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	fprintf(f,
		"[cluster]\nname = bench\ncontrollers = 127.0.0.1:1\nstate_dir = %s/state\n"
		"log_level = error\nsched_max_jobs = %u\nsnapshot_interval = 1000000\n"
		"[nodes:all]\nnames = n[0001-%04u]\n"
		"topology = pack:2 numa:2(memory=32GB) core:16 pu:1\n",
		dir, pending + nodes, nodes);
	fclose(f);
	if (conf_load(path, &ctld.conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "sched_bench: %s\n", err);
		return 1;
	}
	log_init("sched_bench", LOG_ERR);
	ctld.select = select_find(ctld.conf->select);
	ctld.base = event_base_new();
	if (!ctld.select || !ctld.base || node_table_init() < 0 || state_recover(false) < 0 ||
	    sched_init() < 0) {
		fprintf(stderr, "sched_bench: cannot set up the controller: %s\n", strerror(errno));
		return 1;
	}
	/* Every node registers with the same topology, as a real cluster's
	 * identical nodes do: one model, shared through the cache. */
	struct topo *t;
	void *xml;
	size_t len;
	if (topo_load(ctld.conf->nodes[0].topology, 0, &t, err, sizeof(err)) < 0 ||
	    topo_export(t, &xml, &len) < 0) {
		fprintf(stderr, "sched_bench: topology: %s\n", err);
		return 1;
	}
	for (size_t i = 0; i < node_count(); i++) {
		struct topo *nt = topocache_get(xml, len, 0, err, sizeof(err));
		if (!nt || node_bring_up(node_at(i), nt, 65536) < 0) {
			fprintf(stderr, "sched_bench: node %zu: %s\n", i, err);
			return 1;
		}
	}
	free(xml);
	topo_destroy(t);

	/* Half full: 32-core jobs ending over the next hours, two to a node. */
	for (unsigned i = 0; i < nodes; i++) {
		Pacer__JobSpec s;
		spec_init(&s);
		s.ntasks = 1;
		s.cpus_per_task = 32;
		s.time_limit = 600 + rnd(4 * 3600);
		if (submit(&s, 0) < 0)
			return 1;
	}
	sched_pass_now();
	unsigned filled = (unsigned)sched_stats()->started;

	for (unsigned i = 0; i < pending; i++) {
		Pacer__JobSpec s;
		mixed(&s);
		if (submit(&s, rnd(86400)) < 0)
			return 1;
	}
	double a = now_ms();
	sched_pass_now();
	double b = now_ms();
	uint64_t first_started = sched_stats()->started - filled;
	sched_pass_now();
	double c = now_ms();
	printf("sched_nodes %u\n", nodes);
	printf("sched_pending %u\n", pending);
	printf("sched_filler_started %u\n", filled);
	printf("sched_first_pass_ms %.1f\n", b - a);
	printf("sched_first_started %llu\n", (unsigned long long)first_started);
	printf("sched_steady_pass_ms %.1f\n", c - b);
	printf("sched_reservations %zu\n", sched_stats()->last_reservations);
	printf("sched_passes_per_s %.1f\n", 1000.0 / (c - b));

	sched_destroy();
	state_shutdown();
	node_table_destroy();
	job_table_destroy();
	event_base_free(ctld.base);
	conf_destroy(ctld.conf);
	return 0;
}
