/* step_test.c - job steps: placement inside a job's allocation on real
 * machine layouts (tests/topologies), and the controller's step records:
 * requests that wait and start, the end of a step over several nodes, and
 * what a restart rebuilds from the journal and from a snapshot.  Expected
 * places are worked out from the layouts here, not copied from the
 * allocator's output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"
#include "conf.h"
#include "ctld.h"
#include "job.h"
#include "log.h"
#include "node.h"
#include "select.h"
#include "state.h"
#include "step.h"
#include "topo.h"
#include "topocache.h"

#ifndef PACER_TOPOLOGY_DIR
#error "PACER_TOPOLOGY_DIR must name tests/topologies"
#endif

static const struct select_ops *ops(void)
{
	const struct select_ops *o = select_find("topology");
	assert_non_null(o);
	return o;
}

static struct topo *load(const char *file)
{
	char path[1024], err[256];
	struct topo *t;
	snprintf(path, sizeof(path), "%s/%s", PACER_TOPOLOGY_DIR, file);
	if (topo_load(path, 0, &t, err, sizeof(err)) < 0)
		fail_msg("%s: %s", file, err);
	return t;
}

/* The PUs of cores [first, first + n) of L. */
static uint32_t *core_pus(const struct topo_layout *l, uint32_t first, uint32_t n, size_t *np)
{
	uint32_t *v = calloc(l->npus, sizeof(*v));
	assert_non_null(v);
	*np = 0;
	for (uint32_t c = first; c < first + n; c++)
		for (uint32_t k = 0; k < l->cores[c].npus; k++)
			v[(*np)++] = l->cores[c].first_pu + k;
	return v;
}

static uint32_t core_of(const struct topo_layout *l, uint32_t pu)
{
	for (uint32_t c = 0; c < l->ncores; c++)
		if (pu >= l->cores[c].first_pu && pu < l->cores[c].first_pu + l->cores[c].npus)
			return c;
	fail_msg("PU %u is in no core", pu);
	return 0;
}

static bool in(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* Every PU of RES is the job's and whole cores are taken; no PU twice. */
static void check_inside(const struct select_result *res, const struct step_node *nodes)
{
	for (size_t i = 0; i < res->n; i++) {
		const struct select_alloc *a = &res->allocs[i];
		const struct step_node *nd = &nodes[a->node];
		for (uint32_t k = 0; k < a->npus; k++) {
			assert_true(in(nd->job_pus, nd->njob, a->pus[k]));
			for (uint32_t q = 0; q < k; q++)
				assert_int_not_equal(a->pus[q], a->pus[k]);
		}
	}
}

static size_t held_overlap(const struct select_alloc *a, const struct step_node *nd)
{
	size_t n = 0;
	for (uint32_t k = 0; k < a->npus; k++)
		n += in(nd->held_pus, nd->nheld, a->pus[k]);
	return n;
}

/* 4 packages x 2 cores x 2 threads: a job holding cores 2-5 (PUs of other
 * jobs around it) runs steps only on those. */
static void test_place_inside_the_job(void **st)
{
	(void)st;
	struct topo *t = load("16em64t-4s2c2t.xml");
	const struct topo_layout *l = topo_layout(t);
	size_t nj;
	uint32_t *job = core_pus(l, 2, 4, &nj);
	struct step_node node = { .name = "n1", .layout = l, .job_pus = job, .njob = nj };
	struct step_ask ask = { .job_id = 7, .ntasks = 4, .cpus_per_task = 1 };
	struct select_result res;
	char why[512];

	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.allocs[0].ntasks, 4);
	/* a CPU is a core: 4 cores, every thread of each */
	assert_int_equal(res.allocs[0].npus, 4 * l->threads_per_core);
	check_inside(&res, &node);
	for (uint32_t k = 0; k < 4; k++) {
		uint32_t off = res.allocs[0].task_off[k], end = res.allocs[0].task_off[k + 1];
		assert_int_equal(end - off, l->threads_per_core);
		for (uint32_t q = off; q < end; q++)
			assert_int_equal(core_of(l, res.allocs[0].pus[q]),
					 core_of(l, res.allocs[0].pus[off]));
	}
	select_result_free(&res);

	/* One core more than the job has: never, and the message says so. */
	ask.ntasks = 5;
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(why, "job 7 holds 4 CPUs (cores) on 1 node"));
	/* A task wider than any node: the plugin's own check says never. */
	ask.ntasks = 1;
	ask.cpus_per_task = l->ncores + 1;
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(why, "the step can never run in job 7"));
	free(job);
	topo_destroy(t);
}

/* Steps side by side: a second step waits for the cores a first holds, an
 * overlapping one does not, and prefers the free cores. */
static void test_held_cores(void **st)
{
	(void)st;
	struct topo *t = load("24em64t-2n6c2t-pci.xml");
	const struct topo_layout *l = topo_layout(t);
	size_t nj, nh;
	uint32_t *job = core_pus(l, 0, 4, &nj);
	uint32_t *held = core_pus(l, 0, 3, &nh); /* a running step holds 3 of 4 cores */
	struct step_node node = {
		.name = "n1", .layout = l, .job_pus = job, .njob = nj, .held_pus = held, .nheld = nh
	};
	struct step_ask ask = { .job_id = 3, .ntasks = 2, .cpus_per_task = 1 };
	struct select_result res;
	char why[512];

	/* 2 cores, 1 free: not now (not never) */
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), -1);
	assert_int_equal(errno, EAGAIN);
	/* 1 core: the free one */
	ask.ntasks = 1;
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), 0);
	check_inside(&res, &node);
	assert_int_equal(held_overlap(&res.allocs[0], &node), 0);
	assert_int_equal(core_of(l, res.allocs[0].pus[0]), 3);
	select_result_free(&res);
	/* --overlap with 1 task: still the free core */
	ask.overlap = true;
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), 0);
	assert_int_equal(held_overlap(&res.allocs[0], &node), 0);
	select_result_free(&res);
	/* --overlap with 4 tasks: shares the held cores, never waits */
	ask.ntasks = 4;
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), 0);
	check_inside(&res, &node);
	assert_int_equal(res.allocs[0].ntasks, 4);
	assert_true(held_overlap(&res.allocs[0], &node) > 0);
	select_result_free(&res);
	/* but never more than the job has, overlap or not */
	ask.ntasks = 5;
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	free(job);
	free(held);
	topo_destroy(t);
}

/* --whole: a step that would take every PU of the job on its node waits
 * while another step holds any of them, unless it overlaps. */
static void test_whole_placement(void **st)
{
	(void)st;
	struct topo *t = load("24em64t-2n6c2t-pci.xml");
	const struct topo_layout *l = topo_layout(t);
	size_t nj, nh;
	uint32_t *job = core_pus(l, 0, 4, &nj);
	uint32_t *held = core_pus(l, 0, 1, &nh); /* a running step holds 1 of 4 cores */
	struct step_node node = {
		.name = "n1", .layout = l, .job_pus = job, .njob = nj, .held_pus = held, .nheld = nh
	};
	struct step_ask ask = { .job_id = 3, .ntasks = 1, .cpus_per_task = 1, .whole = true };
	struct select_result res;
	char why[512];

	/* 3 cores are free, but a whole step needs all 4 */
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), -1);
	assert_int_equal(errno, EAGAIN);
	/* without --whole one free core does */
	ask.whole = false;
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), 0);
	select_result_free(&res);
	/* --whole --overlap shares them and never waits */
	ask.whole = ask.overlap = true;
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), 0);
	check_inside(&res, &node);
	select_result_free(&res);
	/* nothing held: a whole step goes at once */
	node.nheld = 0;
	ask.overlap = false;
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), 0);
	select_result_free(&res);
	free(job);
	free(held);
	topo_destroy(t);
}

/* Two nodes of different machines: -N, --nodelist and cyclic ranks, and a
 * node whose size is not known yet. */
static void test_nodes_and_ranks(void **st)
{
	(void)st;
	struct topo *t1 = load("16em64t-4s2c2t.xml"), *t2 = load("32em64t-2n8c2t-pci-normalio.xml");
	const struct topo_layout *l1 = topo_layout(t1), *l2 = topo_layout(t2);
	size_t n1, n2;
	uint32_t *j1 = core_pus(l1, 0, 2, &n1), *j2 = core_pus(l2, 4, 6, &n2);
	struct step_node nodes[2] = {
		{ .name = "a", .layout = l1, .job_pus = j1, .njob = n1 },
		{ .name = "b", .layout = l2, .job_pus = j2, .njob = n2 },
	};
	struct step_ask ask = { .job_id = 9, .ntasks = 4, .cpus_per_task = 1, .nodes = 2 };
	struct select_result res;
	char why[512];

	ask.dist_node = SELECT_DIST_CYCLIC;
	assert_int_equal(step_place(ops(), &ask, nodes, 2, &res, why, sizeof(why)), 0);
	assert_int_equal(res.n, 2);
	check_inside(&res, nodes);
	uint32_t seen = 0;
	for (size_t i = 0; i < res.n; i++) {
		const struct select_alloc *a = &res.allocs[i];
		assert_int_equal(a->ntasks, 2);
		/* cyclic: node i has ranks i, i + 2 */
		for (uint32_t k = 0; k < a->ntasks; k++) {
			assert_int_equal(a->task_ids[k] % 2, a->node);
			seen |= 1u << a->task_ids[k];
		}
	}
	assert_int_equal(seen, 0xf);
	select_result_free(&res);

	/* --nodelist=b, 6 tasks: b alone holds them */
	const char *req[] = { "b", NULL };
	ask = (struct step_ask){
		.job_id = 9, .ntasks = 6, .cpus_per_task = 1, .required = req, .nrequired = 1
	};
	assert_int_equal(step_place(ops(), &ask, nodes, 2, &res, why, sizeof(why)), 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.allocs[0].node, 1);
	select_result_free(&res);
	/* 9 tasks: more than b has, so a helps */
	ask.ntasks = 8;
	assert_int_equal(step_place(ops(), &ask, nodes, 2, &res, why, sizeof(why)), 0);
	assert_int_equal(res.n, 2);
	select_result_free(&res);
	/* more than both: never */
	ask.ntasks = 9;
	assert_int_equal(step_place(ops(), &ask, nodes, 2, &res, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(why, "holds 8 CPUs (cores) on 2 nodes, at most 6 on one"));

	/* b's size unknown (its node never registered since a restart): a step
	 * that needs it waits rather than being refused */
	nodes[1].layout = NULL;
	ask = (struct step_ask){ .job_id = 9, .ntasks = 4, .cpus_per_task = 1 };
	assert_int_equal(step_place(ops(), &ask, nodes, 2, &res, why, sizeof(why)), -1);
	assert_int_equal(errno, EAGAIN);
	free(j1);
	free(j2);
	topo_destroy(t1);
	topo_destroy(t2);
}

/* A job allocated threads (--hint=multithread) holding single PUs of cores
 * whose other thread is another job's: steps count threads too. */
static void test_threads(void **st)
{
	(void)st;
	struct topo *t = load("16em64t-4s2c2t.xml");
	const struct topo_layout *l = topo_layout(t);
	uint32_t job[4];
	for (uint32_t c = 0; c < 4; c++)
		job[c] = l->cores[c].first_pu; /* the first thread of cores 0-3 */
	struct step_node node = { .name = "n1", .layout = l, .job_pus = job, .njob = 4 };
	struct step_ask ask = { .job_id = 5, .ntasks = 2, .cpus_per_task = 2, .threads = true };
	struct select_result res;
	char why[512];
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), 0);
	check_inside(&res, &node);
	assert_int_equal(res.allocs[0].npus, 4);
	select_result_free(&res);
	/* as cores, the job has none whole: never */
	ask.threads = false;
	ask.ntasks = 1;
	ask.cpus_per_task = 1;
	assert_int_equal(step_place(ops(), &ask, &node, 1, &res, why, sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	topo_destroy(t);
}

/* The controller: records, requests, ends, restarts -----------------------*/

static char *dir, *state_dir, *log_path;
static struct topo *loaded[2];

static char *path_in(const char *d, const char *name)
{
	char *p;
	assert_true(asprintf(&p, "%s/%s", d, name) > 0);
	return p;
}

/* Node I up with the machine FILE, as if it registered. */
static void bring_up(size_t i, const char *file)
{
	char err[256];
	void *buf;
	size_t len;
	loaded[i] = load(file);
	assert_int_equal(topo_export(loaded[i], &buf, &len), 0);
	struct topo *t = topocache_get(buf, len, 0, err, sizeof(err));
	free(buf);
	if (!t)
		fail_msg("%s: %s", file, err);
	assert_int_equal(node_bring_up(node_at(i), t, 0), 0);
}

static int setup(void **st)
{
	(void)st;
	const char *tmp = getenv("TMPDIR");
	assert_true(asprintf(&dir, "%s/step_test.XXXXXX", tmp && *tmp ? tmp : "/tmp") > 0);
	assert_non_null(mkdtemp(dir));
	state_dir = path_in(dir, "state");
	log_path = path_in(dir, "log");
	char *conf = path_in(dir, "pacer.conf");
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f,
		"[cluster]\nname = test\ncontrollers = 127.0.0.1:1\nstate_dir = %s\n"
		"[nodes:all]\nnames = n[1-2]\n",
		state_dir);
	assert_int_equal(fclose(f), 0);
	char err[1024];
	if (conf_load(conf, &ctld.conf, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	free(conf);
	log_init("step_test", LOG_INFO);
	assert_int_equal(log_open(log_path), 0);
	ctld.base = event_base_new();
	ctld.listen_host = "127.0.0.1";
	ctld.select = ops();
	assert_non_null(ctld.base);
	assert_int_equal(node_table_init(), 0);
	bring_up(0, "16em64t-4s2c2t.xml");
	bring_up(1, "24em64t-2n6c2t-pci.xml");
	return 0;
}

static void rm_tree(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *de;
	while (dd && (de = readdir(dd))) {
		if (de->d_name[0] == '.')
			continue;
		char *p = path_in(d, de->d_name);
		if (unlink(p) < 0)
			rm_tree(p);
		free(p);
	}
	if (dd)
		closedir(dd);
	rmdir(d);
}

static int teardown(void **st)
{
	(void)st;
	step_shutdown();
	node_table_destroy();
	for (size_t i = 0; i < 2; i++)
		topo_destroy(loaded[i]);
	event_base_free(ctld.base);
	conf_destroy(ctld.conf);
	rm_tree(state_dir);
	unlink(log_path);
	rmdir(dir);
	free(state_dir);
	free(log_path);
	free(dir);
	return 0;
}

static void forget(void)
{
	step_shutdown();
	state_shutdown();
	job_table_destroy();
	ctld.next_job_id = 0;
	ctld.epoch = 0;
	step_init();
}

static void mark_done(void *arg)
{
	*(bool *)arg = true;
}

/* Run the loop until every record committed so far is durable and its
 * callbacks ran, again for what those callbacks committed. */
static void settle(void)
{
	for (int round = 0; round < 8; round++) {
		bool done = false;
		assert_int_equal(state_after(0, mark_done, &done), 0);
		while (!done)
			assert_true(event_base_loop(ctld.base, EVLOOP_ONCE) >= 0);
	}
}

/* A running job of uid 1000 on both nodes: cores C1 of n1 and C2 of n2
 * (first cores), one task per core. */
static struct job *running_job(uint32_t c1, uint32_t c2)
{
	static char script[] = "#!/bin/sh\ntrue\n";
	Pacer__JobSpec s = PACER__JOB_SPEC__INIT;
	s.name = "job";
	s.workdir = "/tmp";
	s.script.data = (uint8_t *)script;
	s.script.len = sizeof(script) - 1;
	s.ntasks = c1 + c2;
	s.cpus_per_task = 1;
	s.nodes = 2;
	Pacer__Job pj = PACER__JOB__INIT;
	pj.id = ctld.next_job_id;
	pj.uid = 1000;
	pj.gid = 1000;
	pj.user = "alice";
	pj.spec = &s;
	pj.state = PACER__JOB_STATE__JOB_PENDING;
	assert_int_not_equal(state_submit(&pj), 0);
	struct job *j = job_find(pj.id);
	assert_non_null(j);

	Pacer__NodeAlloc na[2], *nap[2];
	char sets[2][256];
	for (size_t i = 0; i < 2; i++) {
		const struct topo_layout *l = topo_layout(loaded[i]);
		size_t np;
		uint32_t *pus = core_pus(l, 0, i ? c2 : c1, &np);
		assert_true(topo_pus_format(l, pus, np, sets[i], sizeof(sets[i])) > 0);
		free(pus);
		pacer__node_alloc__init(&na[i]);
		na[i].node = (char *)node_name_at((uint32_t)i);
		na[i].cpus = (uint32_t)np;
		na[i].cpuset = sets[i];
		nap[i] = &na[i];
	}
	assert_int_not_equal(state_start(j, ctld.conf->partitions[0].name,
					 (const Pacer__NodeAlloc *const *)nap, 2, "/tmp/out",
					 "/tmp/out"),
			     0);
	j->launch_pending = false;
	return j;
}

struct answer {
	int count;
	Pacer__Msg__BodyCase body;
	int code;
	char message[1024];
	uint32_t step_id;
};

static void on_answer(void *arg, Pacer__Msg *m)
{
	struct answer *a = arg;
	a->count++;
	a->body = m->body_case;
	if (m->body_case == PACER__MSG__BODY_ERROR) {
		a->code = m->error->code;
		snprintf(a->message, sizeof(a->message), "%s", m->error->message);
	} else if (m->body_case == PACER__MSG__BODY_STEP_CREATE_REPLY) {
		a->step_id = m->step_create_reply->step_id;
	}
}

static uint8_t key[32];

static void step_spec(Pacer__StepSpec *sp, char **argv, uint32_t ntasks, uint32_t nodes)
{
	pacer__step_spec__init(sp);
	sp->argv = argv;
	sp->n_argv = 1;
	sp->ntasks = ntasks;
	sp->nodes = nodes;
	sp->io_host = "127.0.0.1";
	sp->io_port = 4000;
	sp->io_key.data = key;
	sp->io_key.len = sizeof(key);
}

static struct step_req *ask_step(struct job *j, Pacer__StepSpec *sp, uid_t uid, struct answer *a,
				 int *code, char *why, size_t len)
{
	Pacer__StepCreateRequest q = PACER__STEP_CREATE_REQUEST__INIT;
	q.job_id = j->id;
	q.spec = sp;
	return step_request(&q, uid, false, on_answer, a, code, why, len);
}

static void node_reports(struct job *j, uint32_t step, uint32_t node, Pacer__JobState st,
			 int exit_code)
{
	Pacer__StepEnded e = PACER__STEP_ENDED__INIT;
	e.job_id = j->id;
	e.step_id = step;
	e.node = (char *)node_name_at(node);
	e.state = st;
	e.exit_code = exit_code;
	e.end_time = 1000 + node;
	step_node_ended(node, &e);
}

/* Refusals at once, a step that waits for another's cores and starts when
 * it ends, and a step's end over two nodes (the worst exit code). */
static void test_requests(void **st)
{
	(void)st;
	assert_int_equal(state_recover(false), 0);
	struct job *j = running_job(2, 2);
	char *argv[] = { "/bin/hostname", NULL };
	Pacer__StepSpec sp;
	struct answer a0 = { 0 }, a1 = { 0 };
	char why[1024];
	int code;

	/* not the owner */
	step_spec(&sp, argv, 1, 0);
	assert_null(ask_step(j, &sp, 1001, &a0, &code, why, sizeof(why)));
	assert_int_equal(code, EPERM);
	/* more nodes than the job has */
	step_spec(&sp, argv, 3, 3);
	assert_null(ask_step(j, &sp, 1000, &a0, &code, why, sizeof(why)));
	assert_int_equal(code, EINVAL);
	assert_non_null(strstr(why, "asks for 3 nodes (-N) but job"));
	/* a node outside the job */
	step_spec(&sp, argv, 1, 0);
	sp.nodelist = "n3";
	assert_null(ask_step(j, &sp, 1000, &a0, &code, why, sizeof(why)));
	assert_non_null(strstr(why, "node n3 of --nodelist is not one of job"));
	/* more CPUs than the job: never */
	step_spec(&sp, argv, 5, 0);
	assert_null(ask_step(j, &sp, 1000, &a0, &code, why, sizeof(why)));
	assert_int_equal(code, EINVAL);
	assert_non_null(strstr(why, "holds 4 CPUs"));
	assert_int_equal(a0.count, 0);

	/* without -n: the job's 4 tasks over its 2 nodes */
	step_spec(&sp, argv, 0, 0);
	struct step_req *r0 = ask_step(j, &sp, 1000, &a0, &code, why, sizeof(why));
	assert_non_null(r0);
	struct step *s0 = step_find(j, 0);
	assert_non_null(s0);
	assert_int_equal(s0->state, PACER__JOB_STATE__JOB_RUNNING);
	assert_int_equal(s0->ntasks, 4);
	assert_int_equal(s0->nalloc, 2);
	assert_string_equal(s0->name, "hostname");
	/* a second step: every core is held, it waits */
	step_spec(&sp, argv, 1, 0);
	struct step_req *r1 = ask_step(j, &sp, 1000, &a1, &code, why, sizeof(why));
	assert_non_null(r1);
	assert_int_equal(step_waiting(), 1);
	assert_null(step_find(j, 1));
	/* an overlapping one does not wait */
	struct answer a2 = { 0 };
	sp.overlap = true;
	assert_non_null(ask_step(j, &sp, 1000, &a2, &code, why, sizeof(why)));
	struct step *s1 = step_find(j, 1);
	assert_non_null(s1);
	assert_true(s1->overlap);
	assert_int_equal(step_waiting(), 1);

	/* The nodes cannot be reached (no node daemon here): once the starts
	 * are on disk, launching fails, which ends those steps and says why. */
	settle();
	assert_int_equal(a0.count, 1);
	assert_int_equal(a0.body, PACER__MSG__BODY_ERROR);
	assert_non_null(strstr(a0.message, "step 1.0 could not start: node n1 could not be "
					   "reached"));
	assert_int_equal(s0->state, PACER__JOB_STATE__JOB_FAILED);
	/* ... and its cores went to the one that waited */
	assert_int_equal(step_waiting(), 0);
	struct step *s2 = step_find(j, 2);
	assert_non_null(s2);
	assert_false(s2->overlap);
	settle();
	assert_int_equal(a1.count, 1);
	assert_int_equal(a2.count, 1);

	/* A step's end over two nodes, as the nodes report it. */
	step_spec(&sp, argv, 2, 2);
	struct answer a3 = { 0 };
	assert_non_null(ask_step(j, &sp, 1000, &a3, &code, why, sizeof(why)));
	struct step *s3 = step_find(j, 3);
	assert_non_null(s3);
	node_reports(j, 3, 0, PACER__JOB_STATE__JOB_COMPLETED, 0);
	assert_int_equal(s3->state, PACER__JOB_STATE__JOB_RUNNING); /* n2 has not said */
	node_reports(j, 3, 0, PACER__JOB_STATE__JOB_COMPLETED, 0);  /* a repeat changes nothing */
	assert_int_equal(s3->state, PACER__JOB_STATE__JOB_RUNNING);
	node_reports(j, 3, 1, PACER__JOB_STATE__JOB_FAILED, 3);
	assert_int_equal(s3->state, PACER__JOB_STATE__JOB_FAILED);
	assert_int_equal(s3->exit_code, 3);
	assert_int_equal(s3->end_time, 1001);

	/* A step cancelled before its start is on disk is never launched. */
	step_spec(&sp, argv, 1, 0);
	struct answer ac = { 0 };
	assert_non_null(ask_step(j, &sp, 1000, &ac, &code, why, sizeof(why)));
	struct step *sc = step_find(j, 4);
	assert_non_null(sc);
	assert_int_equal(step_cancel(j, 4, SIGUSR1, why, sizeof(why)), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(step_cancel(j, 4, 0, why, sizeof(why)), 0);
	settle();
	assert_int_equal(sc->state, PACER__JOB_STATE__JOB_CANCELLED);
	assert_string_equal(sc->reason, "cancelled before it started");
	assert_int_equal(ac.count, 1);
	assert_int_equal(ac.code, ECANCELED);
	assert_int_equal(step_cancel(j, 4, 0, why, sizeof(why)), -1);
	assert_int_equal(errno, EALREADY);
	assert_int_equal(step_cancel(j, 99, 0, why, sizeof(why)), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(why, "step 1.99 does not exist");

	/* A waiting request whose client goes away is dropped. */
	step_spec(&sp, argv, 4, 0);
	struct step *s4;
	struct answer a4 = { 0 }, a5 = { 0 };
	assert_non_null(ask_step(j, &sp, 1000, &a4, &code, why, sizeof(why)));
	s4 = step_find(j, 5);
	assert_non_null(s4);
	struct step_req *r5 = ask_step(j, &sp, 1000, &a5, &code, why, sizeof(why));
	assert_non_null(r5);
	assert_int_equal(step_waiting(), 1);
	step_request_drop(r5);
	assert_int_equal(step_waiting(), 0);
	/* one that stays starts when s4 ends (its launch fails too) */
	struct answer a6 = { 0 };
	assert_non_null(ask_step(j, &sp, 1000, &a6, &code, why, sizeof(why)));
	assert_int_equal(step_waiting(), 1);
	settle();
	assert_non_null(step_find(j, 6));
	assert_int_equal(a6.count, 1);
	assert_int_equal(a5.count, 0); /* the dropped one is never answered */

	/* When the job ends, its running step ends with it and a waiting
	 * request is refused. */
	struct answer a7 = { 0 }, a8 = { 0 };
	assert_non_null(ask_step(j, &sp, 1000, &a7, &code, why, sizeof(why)));
	struct step *s6 = step_find(j, 7);
	assert_non_null(s6);
	assert_int_equal(s6->state, PACER__JOB_STATE__JOB_RUNNING);
	assert_non_null(ask_step(j, &sp, 1000, &a8, &code, why, sizeof(why)));
	assert_int_equal(step_waiting(), 1);
	assert_int_not_equal(
	    state_end(j, PACER__JOB_STATE__JOB_TIMEOUT, 0, SIGKILL, 2000, "time limit"), 0);
	assert_int_equal(s6->state, PACER__JOB_STATE__JOB_TIMEOUT);
	assert_int_equal(s6->end_time, 2000);
	assert_int_equal(step_waiting(), 0);
	assert_int_equal(a8.count, 1);
	assert_int_equal(a8.code, ESRCH);
	assert_non_null(strstr(a8.message, "ended (TIMEOUT) before the step could start"));
	/* a job that is not running takes no step */
	assert_null(ask_step(j, &sp, 1000, &a0, &code, why, sizeof(why)));
	assert_int_equal(code, ESRCH);
	settle();
	assert_int_equal(a7.count, 1);
	forget();
}

/* A --whole step's cpuset and each of its tasks' are the job's on their
 * node, whatever the tasks alone would take. */
static void test_whole_cpus(void **st)
{
	(void)st;
	assert_int_equal(state_recover(false), 0);
	struct job *j = running_job(3, 4);
	char *argv[] = { "orted", NULL };
	Pacer__StepSpec sp;
	struct answer a = { 0 };
	char why[1024];
	int code;

	step_spec(&sp, argv, 2, 1);
	sp.nodelist = "n2";
	sp.whole = true;
	sp.overlap = true;
	assert_non_null(ask_step(j, &sp, 1000, &a, &code, why, sizeof(why)));
	struct step *s = step_find(j, 0);
	assert_non_null(s);
	assert_int_equal(s->nalloc, 1);
	assert_int_equal(s->alloc[0].node, 1);
	assert_string_equal(s->alloc[0].cpuset->data, j->alloc[1].cpuset->data);
	assert_int_equal(s->alloc[0].cpus, j->alloc[1].cpus);
	char **tc;
	size_t ntc;
	assert_int_equal(blob_strv_split(s->alloc[0].task_cpus, &tc, &ntc), 0);
	assert_int_equal(ntc, 2);
	for (size_t i = 0; i < ntc; i++)
		assert_string_equal(tc[i], j->alloc[1].cpuset->data);
	free(tc);
	/* not overlapping, it holds them all: a plain step on n2 now waits */
	step_spec(&sp, argv, 1, 1);
	sp.nodelist = "n2";
	sp.whole = true;
	struct answer b = { 0 }, c = { 0 };
	assert_non_null(ask_step(j, &sp, 1000, &b, &code, why, sizeof(why)));
	assert_non_null(step_find(j, 1));
	sp.whole = false;
	assert_non_null(ask_step(j, &sp, 1000, &c, &code, why, sizeof(why)));
	assert_int_equal(step_waiting(), 1);
	assert_null(step_find(j, 2));
	assert_int_not_equal(state_end(j, PACER__JOB_STATE__JOB_CANCELLED, 0, 0, 2000, "x"), 0);
	settle();
	forget();
}

/* What a restart rebuilds: from the journal records, then from the snapshot
 * the restart wrote. */
static void test_replay(void **st)
{
	(void)st;
	assert_int_equal(state_recover(false), 0);
	struct job *j = running_job(4, 3);
	uint32_t id = j->id;
	char *argv[] = { "/usr/bin/env", NULL };
	Pacer__StepSpec sp;
	struct answer a = { 0 };
	char why[1024];
	int code;
	step_spec(&sp, argv, 3, 0);
	sp.name = "first";
	assert_non_null(ask_step(j, &sp, 1000, &a, &code, why, sizeof(why)));
	step_spec(&sp, argv, 2, 2);
	sp.overlap = true;
	assert_non_null(ask_step(j, &sp, 1000, &a, &code, why, sizeof(why)));
	node_reports(j, 1, 0, PACER__JOB_STATE__JOB_COMPLETED, 0);
	node_reports(j, 1, 1, PACER__JOB_STATE__JOB_COMPLETED, 0);

	/* what memory holds now, as protos */
	struct step_protos before = { 0 };
	assert_int_equal(step_protos_add(j, true, false, &before), 0);
	assert_int_equal(before.n, 2);
	size_t len = 0;
	uint8_t packed[2][4096];
	size_t plen[2];
	for (size_t i = 0; i < 2; i++) {
		plen[i] = pacer__step__get_packed_size(before.p[i]);
		assert_true(plen[i] < sizeof(packed[i]));
		pacer__step__pack(before.p[i], packed[i]);
		len += plen[i];
	}
	step_protos_release(&before);
	assert_true(len > 0);

	for (int round = 0; round < 2; round++) {
		/* round 0 replays the journal, round 1 loads the snapshot round 0
		 * wrote */
		forget();
		assert_int_equal(state_recover(false), 0);
		j = job_find(id);
		assert_non_null(j);
		struct step_protos after = { 0 };
		assert_int_equal(step_protos_add(j, true, false, &after), 0);
		assert_int_equal(after.n, 2);
		for (size_t i = 0; i < 2; i++) {
			uint8_t buf[4096];
			size_t l = pacer__step__get_packed_size(after.p[i]);
			assert_int_equal(l, plen[i]);
			pacer__step__pack(after.p[i], buf);
			assert_memory_equal(buf, packed[i], l);
		}
		step_protos_release(&after);
		assert_int_equal(j->next_step_id, 2);
		assert_string_equal(step_find(j, 0)->name, "first");
		assert_int_equal(step_find(j, 0)->state, PACER__JOB_STATE__JOB_RUNNING);
		assert_int_equal(step_find(j, 1)->state, PACER__JOB_STATE__JOB_COMPLETED);
	}

	/* The job's end ends the running step, live and on replay alike. */
	int64_t end = ctld_now(); /* recent: a restart keeps the job */
	assert_int_not_equal(
	    state_end(j, PACER__JOB_STATE__JOB_CANCELLED, 0, 15, end, "cancelled by alice"), 0);
	assert_int_equal(step_find(j, 0)->state, PACER__JOB_STATE__JOB_CANCELLED);
	forget();
	assert_int_equal(state_recover(false), 0);
	j = job_find(id);
	assert_non_null(j);
	assert_int_equal(step_find(j, 0)->state, PACER__JOB_STATE__JOB_CANCELLED);
	assert_int_equal(step_find(j, 0)->end_time, end);
	assert_int_equal(step_find(j, 1)->state, PACER__JOB_STATE__JOB_COMPLETED);
	settle();
	forget();
}

static void test_worse_state(void **st)
{
	(void)st;
	assert_int_equal(
	    step_worse_state(PACER__JOB_STATE__JOB_COMPLETED, PACER__JOB_STATE__JOB_FAILED),
	    PACER__JOB_STATE__JOB_FAILED);
	assert_int_equal(
	    step_worse_state(PACER__JOB_STATE__JOB_NODE_FAIL, PACER__JOB_STATE__JOB_CANCELLED),
	    PACER__JOB_STATE__JOB_NODE_FAIL);
	assert_int_equal(
	    step_worse_state(PACER__JOB_STATE__JOB_CANCELLED, PACER__JOB_STATE__JOB_TIMEOUT),
	    PACER__JOB_STATE__JOB_TIMEOUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_place_inside_the_job),
		cmocka_unit_test(test_held_cores),
		cmocka_unit_test(test_whole_placement),
		cmocka_unit_test(test_nodes_and_ranks),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_worse_state),
		cmocka_unit_test_setup_teardown(test_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
