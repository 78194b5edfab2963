/* format_test.c - how jobs and nodes are shown, byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "timefmt.h"

#define T0 1700000000 /* 2023-11-14T22:13:20 UTC */

static char err[512];

struct capture {
	char *buf;
	size_t len;
	FILE *f;
};

static FILE *capture_start(struct capture *c)
{
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
	return c->f;
}

static void capture_check(struct capture *c, const char *want)
{
	fclose(c->f);
	assert_string_equal(c->buf, want);
	free(c->buf);
}

static int utc(void **state)
{
	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

/* ---------------------------------------------------------------------------
 * States and times */

static void test_job_states(void **state)
{
	(void)state;
	Pacer__JobState s;

	assert_string_equal(format_job_state(PACER__JOB_STATE__JOB_PENDING), "PENDING");
	assert_string_equal(format_job_state(PACER__JOB_STATE__JOB_NODE_FAIL), "NODE_FAIL");
	assert_string_equal(format_job_state(PACER__JOB_STATE__JOB_STATE_NONE), "UNKNOWN");
	assert_string_equal(format_job_state_short(PACER__JOB_STATE__JOB_PENDING), "PD");
	assert_string_equal(format_job_state_short(PACER__JOB_STATE__JOB_RUNNING), "R");
	assert_string_equal(format_job_state_short(PACER__JOB_STATE__JOB_COMPLETED), "CD");
	assert_string_equal(format_job_state_short(PACER__JOB_STATE__JOB_FAILED), "F");
	assert_string_equal(format_job_state_short(PACER__JOB_STATE__JOB_CANCELLED), "CA");
	assert_string_equal(format_job_state_short(PACER__JOB_STATE__JOB_TIMEOUT), "TO");
	assert_string_equal(format_job_state_short(PACER__JOB_STATE__JOB_NODE_FAIL), "NF");
	assert_string_equal(format_job_state_short(PACER__JOB_STATE__JOB_REQUEUED), "RQ");
	assert_string_equal(format_job_state_short((Pacer__JobState)99), "??");

	assert_int_equal(format_job_state_parse("running", &s), 0);
	assert_int_equal(s, PACER__JOB_STATE__JOB_RUNNING);
	assert_int_equal(format_job_state_parse("pd", &s), 0);
	assert_int_equal(s, PACER__JOB_STATE__JOB_PENDING);
	assert_int_equal(format_job_state_parse("Canceled", &s), 0);
	assert_int_equal(s, PACER__JOB_STATE__JOB_CANCELLED);
	assert_int_equal(format_job_state_parse("NF", &s), 0);
	assert_int_equal(s, PACER__JOB_STATE__JOB_NODE_FAIL);
	assert_int_equal(format_job_state_parse("DONE", &s), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(format_job_state_parse("", &s), -1);
}

static void test_node_states(void **state)
{
	(void)state;
	Pacer__NodeInfo n = PACER__NODE_INFO__INIT;

	n.state = PACER__NODE_STATE__NODE_UP;
	n.cpus = 8;
	assert_string_equal(format_node_state(&n), "idle");
	n.cpus_alloc = 3;
	assert_string_equal(format_node_state(&n), "mixed");
	n.cpus_alloc = 8;
	assert_string_equal(format_node_state(&n), "allocated");
	n.state = PACER__NODE_STATE__NODE_SUSPECT;
	assert_string_equal(format_node_state(&n), "suspect");
	n.state = PACER__NODE_STATE__NODE_UNCLEAN;
	assert_string_equal(format_node_state(&n), "unclean");
	n.state = PACER__NODE_STATE__NODE_DOWN;
	assert_string_equal(format_node_state(&n), "down");
	n.state = PACER__NODE_STATE__NODE_UNKNOWN;
	assert_string_equal(format_node_state(&n), "unknown");
	assert_string_equal(format_node_state_name(PACER__NODE_STATE__NODE_UP), "UP");
	assert_string_equal(format_node_state_name(PACER__NODE_STATE__NODE_UNCLEAN), "UNCLEAN");
}

static void test_elapsed(void **state)
{
	(void)state;
	assert_int_equal(format_elapsed(PACER__JOB_STATE__JOB_PENDING, 0, 0, T0), 0);
	/* A requeued job waiting again shows no time, whatever it ran before. */
	assert_int_equal(format_elapsed(PACER__JOB_STATE__JOB_PENDING, T0 - 50, T0 - 10, T0), 0);
	assert_int_equal(format_elapsed(PACER__JOB_STATE__JOB_RUNNING, T0 - 75, 0, T0), 75);
	assert_int_equal(format_elapsed(PACER__JOB_STATE__JOB_COMPLETED, T0 - 75, T0 - 5, T0), 70);
	assert_int_equal(format_elapsed(PACER__JOB_STATE__JOB_CANCELLED, 0, T0, T0), 0);
	/* A clock that went backwards never gives a huge number. */
	assert_int_equal(format_elapsed(PACER__JOB_STATE__JOB_RUNNING, T0 + 5, 0, T0), 0);

	char buf[32];
	format_time_limit(0, buf, sizeof(buf));
	assert_string_equal(buf, "NOT_SET");
	format_time_limit(TIMEFMT_UNLIMITED, buf, sizeof(buf));
	assert_string_equal(buf, "UNLIMITED");
	format_time_limit(3600, buf, sizeof(buf));
	assert_string_equal(buf, "1:00:00");
}

/* ---------------------------------------------------------------------------
 * squeue-style formats */

static Pacer__JobSummary running_job(void)
{
	Pacer__JobSummary j = PACER__JOB_SUMMARY__INIT;

	j.id = 42;
	j.name = "averyverylongname";
	j.user = "alice";
	j.partition = "debug";
	j.state = PACER__JOB_STATE__JOB_RUNNING;
	j.submit_time = T0 - 4000;
	j.start_time = T0 - 3725;
	j.time_limit = 7200;
	j.nodes = 2;
	j.ntasks = 4;
	j.cpus = 8;
	j.nodelist = "n[1-2]";
	j.priority = 100;
	j.uid = 1000;
	return j;
}

static Pacer__JobSummary pending_job(void)
{
	Pacer__JobSummary j = PACER__JOB_SUMMARY__INIT;

	j.id = 43;
	j.name = "p";
	j.user = "bob";
	j.partition = "batch";
	j.state = PACER__JOB_STATE__JOB_PENDING;
	j.reason = "Priority";
	j.submit_time = T0 - 10;
	j.nodes = 1;
	return j;
}

static void test_default_format(void **state)
{
	(void)state;
	Pacer__JobSummary r = running_job(), p = pending_job(), h = pending_job();
	struct qfmt *f = qfmt_parse(QFMT_DEFAULT, err, sizeof(err));
	struct capture c;

	assert_non_null(f);
	h.reason = "";
	h.held = true;
	capture_start(&c);
	qfmt_header(f, c.f);
	qfmt_job(f, &r, T0, c.f);
	qfmt_job(f, &p, T0, c.f);
	qfmt_job(f, &h, T0, c.f);
	capture_check(&c,
		      "             JOBID PARTITION     NAME     USER ST       TIME  NODES "
		      "NODELIST(REASON)\n"
		      "                42     debug averyver    alice  R    1:02:05      2 n[1-2]\n"
		      "                43     batch        p      bob PD       0:00      1 "
		      "(Priority)\n"
		      "                43     batch        p      bob PD       0:00      1 "
		      "(JobHeldUser)\n");
	qfmt_free(f);
}

static void test_custom_format(void **state)
{
	(void)state;
	Pacer__JobSummary r = running_job(), p = pending_job();
	struct qfmt *f;
	struct capture c;

	r.state = PACER__JOB_STATE__JOB_COMPLETED;
	r.end_time = T0 - 3665;
	f = qfmt_parse("%i|%-6j|%.4T|%5l|%C|%Q|%N|%r|%%|%u", err, sizeof(err));
	assert_non_null(f);
	capture_start(&c);
	qfmt_header(f, c.f);
	qfmt_job(f, &r, T0, c.f);
	qfmt_job(f, &p, T0, c.f);
	capture_check(&c, "JOBID|NAME  |STAT|TIME_|CPUS|PRIORITY|NODELIST|REASON|%|USER\n"
			  "42|averyv|COMP|2:00:|8|100|n[1-2]|None|%|alice\n"
			  "43|p     |PEND|NOT_S|0|0||Priority|%|bob\n");
	qfmt_free(f);

	f = qfmt_parse("%M %V %S %e %t %D", err, sizeof(err));
	assert_non_null(f);
	capture_start(&c);
	qfmt_job(f, &r, T0, c.f);
	capture_check(&c, "1:00 2023-11-14T21:06:40 2023-11-14T21:11:15 2023-11-14T21:12:15 "
			  "CD 2\n");
	qfmt_free(f);

	/* Literal text only, and an empty format. */
	f = qfmt_parse("x", err, sizeof(err));
	capture_start(&c);
	qfmt_job(f, &r, T0, c.f);
	capture_check(&c, "x\n");
	qfmt_free(f);
	f = qfmt_parse("", err, sizeof(err));
	capture_start(&c);
	qfmt_header(f, c.f);
	capture_check(&c, "\n");
	qfmt_free(f);
}

/* Array tasks, expected starts, time left. */
static void test_array_format(void **state)
{
	(void)state;
	Pacer__JobSummary t = pending_job(), r = running_job(), p = pending_job();
	struct qfmt *f = qfmt_parse("%i|%A|%F|%K|%S|%L|%U", err, sizeof(err));
	struct capture c;

	assert_non_null(f);
	t.id = 47;
	t.array_job_id = 42;
	t.array_task_id = 5;
	t.expected_start = T0 + 3600;
	t.time_limit = 600;
	r.time_limit = 3725 + 60;
	p.time_limit = TIMEFMT_UNLIMITED;
	capture_start(&c);
	qfmt_header(f, c.f);
	qfmt_job(f, &t, T0, c.f);
	qfmt_job(f, &r, T0, c.f);
	qfmt_job(f, &p, T0, c.f);
	capture_check(&c, "JOBID|JOBID|ARRAY_JOB_ID|ARRAY_TASK_ID|START_TIME|TIME_LEFT|UID\n"
			  "42_5|47|42|5|2023-11-14T23:13:20|10:00|0\n"
			  "42|42|42|N/A|2023-11-14T21:11:15|1:00|1000\n"
			  "43|43|43|N/A|N/A|UNLIMITED|0\n");
	qfmt_free(f);

	/* squeue --start's columns; an array task's id in the default ones. */
	f = qfmt_parse(QFMT_START, err, sizeof(err));
	assert_non_null(f);
	capture_start(&c);
	qfmt_header(f, c.f);
	qfmt_job(f, &t, T0, c.f);
	capture_check(&c, "             JOBID PARTITION     NAME     USER ST          START_TIME "
			  " NODES NODELIST(REASON)\n"
			  "              42_5     batch        p      bob PD 2023-11-14T23:13:20 "
			  "     1 (Priority)\n");
	qfmt_free(f);

	/* A job over its limit has none left; a finished one what it had. */
	r.time_limit = 60;
	f = qfmt_parse("%L", err, sizeof(err));
	capture_start(&c);
	qfmt_job(f, &r, T0, c.f);
	r.state = PACER__JOB_STATE__JOB_COMPLETED;
	r.end_time = T0 - 3725 + 20;
	qfmt_job(f, &r, T0, c.f);
	capture_check(&c, "0:00\n0:40\n");
	qfmt_free(f);
}

static void expect_qfmt_error(const char *fmt, const char *msg)
{
	assert_null(qfmt_parse(fmt, err, sizeof(err)));
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err, msg);
}

static void test_format_errors(void **state)
{
	(void)state;
	expect_qfmt_error("%i %z", "unknown field '%z' in format (fields: %i %j %u %P %t %T %M "
				   "%l %L %D %C %R %N %r %V %S %e %Q %U %A %F %K)");
	expect_qfmt_error("%.10y", "unknown field '%.10y' in format (fields: %i %j %u %P %t %T "
				   "%M %l %L %D %C %R %N %r %V %S %e %Q %U %A %F %K)");
	expect_qfmt_error("%i %", "format ends inside '%' (a field is %[.]WIDTH LETTER, like "
				  "%.10i; write %% for a percent sign)");
	expect_qfmt_error("%.12", "format ends inside '%.12' (a field is %[.]WIDTH LETTER, like "
				  "%.10i; write %% for a percent sign)");
	expect_qfmt_error("%.j", "'%.j' right-aligns but gives no width (write it like %.10j)");
	expect_qfmt_error("%99999i", "field width in '%99999' is too large (at most 1024)");
}

static void test_queue_json(void **state)
{
	(void)state;
	Pacer__JobSummary r = running_job(), *jobs[] = { &r };
	Pacer__QueueReply reply = PACER__QUEUE_REPLY__INIT;
	struct capture c;

	r.name = "a\"b";
	reply.jobs = jobs;
	reply.n_jobs = 1;
	capture_start(&c);
	format_queue_json(&reply, c.f);
	capture_check(&c, "{\n"
			  "  \"jobs\": [\n"
			  "    {\n"
			  "      \"id\": 42,\n"
			  "      \"name\": \"a\\\"b\",\n"
			  "      \"user\": \"alice\",\n"
			  "      \"uid\": 1000,\n"
			  "      \"partition\": \"debug\",\n"
			  "      \"state\": \"RUNNING\",\n"
			  "      \"reason\": null,\n"
			  "      \"submit_time\": 1699996000,\n"
			  "      \"start_time\": 1699996275,\n"
			  "      \"end_time\": null,\n"
			  "      \"expected_start\": null,\n"
			  "      \"time_limit\": 7200,\n"
			  "      \"nodelist\": \"n[1-2]\",\n"
			  "      \"exit_code\": null,\n"
			  "      \"term_signal\": null,\n"
			  "      \"priority\": 100,\n"
			  "      \"held\": false,\n"
			  "      \"array_job_id\": null,\n"
			  "      \"array_task_id\": null,\n"
			  "      \"nodes\": 2,\n"
			  "      \"ntasks\": 4,\n"
			  "      \"cpus\": 8,\n"
			  "      \"gpus\": 0\n"
			  "    }\n"
			  "  ]\n"
			  "}\n");

	reply.n_jobs = 0;
	capture_start(&c);
	format_queue_json(&reply, c.f);
	capture_check(&c, "{\n  \"jobs\": []\n}\n");
}

/* ---------------------------------------------------------------------------
 * Nodes */

static void test_nodes_table(void **state)
{
	(void)state;
	Pacer__NodeInfo a = PACER__NODE_INFO__INIT, b = PACER__NODE_INFO__INIT;
	Pacer__NodeInfo *nodes[] = { &a, &b };
	Pacer__NodesReply reply = PACER__NODES_REPLY__INIT;
	char *parts[] = { "debug", "batch" }, *features[] = { "ib", "big" };
	struct capture c;

	a.name = "n1";
	a.state = PACER__NODE_STATE__NODE_UP;
	a.sockets = 2;
	a.cores = 8;
	a.threads = 2;
	a.cpus = 16;
	a.cpus_alloc = 4;
	a.mem_mb = 16000;
	a.mem_alloc_mb = 1024;
	a.gpus = 2;
	a.gpus_alloc = 1;
	a.features = features;
	a.n_features = 2;
	a.partitions = parts;
	a.n_partitions = 2;
	b.name = "node-with-long-name";
	b.state = PACER__NODE_STATE__NODE_DOWN;
	b.reason = "fenced after timeout";
	reply.nodes = nodes;
	reply.n_nodes = 2;

	capture_start(&c);
	format_nodes_table(&reply, true, c.f);
	capture_check(&c,
		      "NODELIST            STATE CPUS(A/T) S:C:T MEMORY(A/T) GPUS(A/T) FEATURES "
		      "PARTITIONS  REASON\n"
		      "n1                  mixed 4/16      2:4:2 1024/16000  1/2       ib,big   "
		      "debug,batch none\n"
		      "node-with-long-name down  0/0       -     0/0         0/0       (none)   "
		      "(none)      fenced after timeout\n");
	capture_start(&c);
	reply.n_nodes = 1;
	format_nodes_table(&reply, false, c.f);
	capture_check(&c, "n1 mixed 4/16 2:4:2 1024/16000 1/2 ib,big debug,batch none\n");
}

static void test_node_sct(void **state)
{
	(void)state;
	Pacer__NodeInfo n = PACER__NODE_INFO__INIT;
	char buf[48];

	format_node_sct(&n, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	n.sockets = 4;
	n.cores = 64;
	n.threads = 1;
	format_node_sct(&n, buf, sizeof(buf));
	assert_string_equal(buf, "4:16:1");
	/* Sockets of different sizes have no one count of cores each. */
	n.sockets = 2;
	n.cores = 13;
	n.threads = 2;
	format_node_sct(&n, buf, sizeof(buf));
	assert_string_equal(buf, "2:-:2");
}

static void test_nodes_json(void **state)
{
	(void)state;
	Pacer__NodeInfo a = PACER__NODE_INFO__INIT, *nodes[] = { &a };
	Pacer__NodesReply reply = PACER__NODES_REPLY__INIT;
	char *parts[] = { "debug" }, *features[] = { "ib" };
	uint32_t jobs[] = { 42, 43 };
	struct capture c;

	a.name = "n1";
	a.state = PACER__NODE_STATE__NODE_UP;
	a.address = "10.0.0.1";
	a.port = 6818;
	a.cpus = 8;
	a.cpus_alloc = 2;
	a.mem_mb = 16000;
	a.mem_alloc_mb = 1024;
	a.partitions = parts;
	a.n_partitions = 1;
	a.boot_id = "b1";
	a.last_heard = T0;
	a.jobs = jobs;
	a.n_jobs = 2;
	a.version = "0.1.0";
	a.sockets = 1;
	a.cores = 4;
	a.threads = 2;
	a.numas = 1;
	a.cores_alloc = 1;
	a.cpuset_alloc = "0,4";
	a.gpus = 1;
	a.features = features;
	a.n_features = 1;
	a.topology_hash = "0123456789abcdef";
	reply.nodes = nodes;
	reply.n_nodes = 1;
	capture_start(&c);
	format_nodes_json(&reply, c.f);
	capture_check(&c, "{\n"
			  "  \"nodes\": [\n"
			  "    {\n"
			  "      \"name\": \"n1\",\n"
			  "      \"state\": \"mixed\",\n"
			  "      \"node_state\": \"UP\",\n"
			  "      \"reason\": null,\n"
			  "      \"address\": \"10.0.0.1\",\n"
			  "      \"port\": 6818,\n"
			  "      \"cpus\": 8,\n"
			  "      \"cpus_alloc\": 2,\n"
			  "      \"mem_mb\": 16000,\n"
			  "      \"mem_alloc_mb\": 1024,\n"
			  "      \"partitions\": [\n"
			  "        \"debug\"\n"
			  "      ],\n"
			  "      \"boot_id\": \"b1\",\n"
			  "      \"last_heard\": 1700000000,\n"
			  "      \"jobs\": [\n"
			  "        42,\n"
			  "        43\n"
			  "      ],\n"
			  "      \"version\": \"0.1.0\",\n"
			  "      \"sockets\": 1,\n"
			  "      \"cores\": 4,\n"
			  "      \"threads\": 2,\n"
			  "      \"numas\": 1,\n"
			  "      \"cores_alloc\": 1,\n"
			  "      \"cpuset_alloc\": \"0,4\",\n"
			  "      \"gpus\": 1,\n"
			  "      \"gpus_alloc\": 0,\n"
			  "      \"features\": [\n"
			  "        \"ib\"\n"
			  "      ],\n"
			  "      \"topology_hash\": \"0123456789abcdef\",\n"
			  "      \"layout\": null\n"
			  "    }\n"
			  "  ]\n"
			  "}\n");

	/* A node never heard from: what is not known yet is null, the
	 * state the word the table shows. */
	Pacer__NodeInfo u = PACER__NODE_INFO__INIT;
	struct json js;
	u.name = "n2";
	u.state = PACER__NODE_STATE__NODE_UNKNOWN;
	u.cpus = 4;
	capture_start(&c);
	json_init(&js, c.f, false);
	format_node_json(&js, &u);
	capture_check(&c, "{\"name\":\"n2\",\"state\":\"unknown\",\"node_state\":\"UNKNOWN\","
			  "\"reason\":null,\"address\":null,\"port\":null,\"cpus\":4,"
			  "\"cpus_alloc\":0,\"mem_mb\":null,\"mem_alloc_mb\":0,\"partitions\":[],"
			  "\"boot_id\":null,\"last_heard\":null,\"jobs\":[],\"version\":null,"
			  "\"sockets\":null,\"cores\":null,\"threads\":null,\"numas\":null,"
			  "\"cores_alloc\":0,\"cpuset_alloc\":null,\"gpus\":null,\"gpus_alloc\":0,"
			  "\"features\":[],\"topology_hash\":null,\"layout\":null}");
	u.state = PACER__NODE_STATE__NODE_DOWN;
	capture_start(&c);
	json_init(&js, c.f, false);
	format_node_json(&js, &u);
	fclose(c.f);
	assert_non_null(strstr(c.buf, "\"state\":\"down\",\"node_state\":\"DOWN\","));
	free(c.buf);

	capture_start(&c);
	format_node_show(&a, NULL, c.f);
	capture_check(&c, "NodeName=n1 State=MIXED\n"
			  "   Address=10.0.0.1 Port=6818\n"
			  "   CPUTot=8 CPUAlloc=2 RealMemory=16000 AllocMem=1024\n"
			  "   Sockets=1 CoresPerSocket=4 ThreadsPerCore=2 Cores=4 CoresAlloc=1 "
			  "NUMAs=1\n"
			  "   Gpus=1 GpusAlloc=0 AllocPUs=0,4\n"
			  "   Features=ib\n"
			  "   Partitions=debug\n"
			  "   Jobs=42,43\n"
			  "   BootId=b1 Version=0.1.0 LastHeard=2023-11-14T22:13:20\n"
			  "   TopologyHash=0123456789abcdef\n"
			  "   Reason=None\n");
}

/* ---------------------------------------------------------------------------
 * A node's layout */

/* A node built the way the controller describes one: NPKG packages of
 * NDOM NUMA domains of NCORE cores of NTHR threads, PU os indexes numbered
 * as Linux numbers them on such machines (first threads of every core, then
 * second threads), and NGPU GPUs, one per domain from the first. */
struct fake_node {
	Pacer__NodeInfo info;
	Pacer__NodeLayout layout;
	Pacer__CoreInfo *cores;
	Pacer__CoreInfo **core_ptrs;
	Pacer__NumaInfo *numas;
	Pacer__NumaInfo **numa_ptrs;
	Pacer__GpuInfo *gpus;
	Pacer__GpuInfo **gpu_ptrs;
	uint32_t *jobs; /* one holder per core, 0 = free */
	char **strings;
	size_t nstrings;
};

static char *keep(struct fake_node *n, char *s)
{
	n->strings = realloc(n->strings, (n->nstrings + 1) * sizeof(*n->strings));
	assert_non_null(n->strings);
	assert_non_null(s);
	n->strings[n->nstrings++] = s;
	return s;
}

static void fake_node(struct fake_node *n, uint32_t npkg, uint32_t ndom, uint32_t ncore,
		      uint32_t nthr, uint32_t ngpu)
{
	uint32_t ncores = npkg * ndom * ncore, k = 0;

	memset(n, 0, sizeof(*n));
	pacer__node_info__init(&n->info);
	pacer__node_layout__init(&n->layout);
	n->cores = calloc(ncores, sizeof(*n->cores));
	n->core_ptrs = calloc(ncores, sizeof(*n->core_ptrs));
	n->numas = calloc(npkg * ndom, sizeof(*n->numas));
	n->numa_ptrs = calloc(npkg * ndom, sizeof(*n->numa_ptrs));
	n->gpus = calloc(ngpu + 1, sizeof(*n->gpus));
	n->gpu_ptrs = calloc(ngpu + 1, sizeof(*n->gpu_ptrs));
	n->jobs = calloc(ncores, sizeof(*n->jobs));
	assert_true(n->cores && n->core_ptrs && n->numas && n->numa_ptrs && n->gpus &&
		    n->gpu_ptrs && n->jobs);
	for (uint32_t p = 0; p < npkg; p++) {
		for (uint32_t d = 0; d < ndom; d++) {
			uint32_t dom = p * ndom + d, first = k;
			char *pus;

			for (uint32_t c = 0; c < ncore; c++, k++) {
				Pacer__CoreInfo *ci = &n->cores[k];
				char *s = NULL;
				pacer__core_info__init(ci);
				ci->index = k;
				ci->package = p;
				ci->numa = dom;
				for (uint32_t t = 0; t < nthr; t++) {
					char *prev = s;
					assert_true(asprintf(&s, "%s%s%u", prev ? prev : "",
							     prev ? "," : "", k + t * ncores) > 0);
					free(prev);
				}
				ci->pus = keep(n, s);
				n->core_ptrs[k] = ci;
			}
			pacer__numa_info__init(&n->numas[dom]);
			n->numas[dom].index = dom;
			n->numas[dom].package = p;
			assert_true(asprintf(&pus, "%u", dom) > 0);
			n->numas[dom].nodeset = keep(n, pus);
			if (nthr == 1)
				assert_true(asprintf(&pus, "%u-%u", first, k - 1) > 0);
			else
				assert_true(asprintf(&pus, "%u-%u,%u-%u", first, k - 1,
						     first + ncores, k - 1 + ncores) > 0);
			n->numas[dom].cpuset = keep(n, pus);
			n->numas[dom].mem_mb = 64000;
			n->numa_ptrs[dom] = &n->numas[dom];
		}
	}
	for (uint32_t g = 0; g < ngpu; g++) {
		Pacer__GpuInfo *gi = &n->gpus[g];
		char *name;
		pacer__gpu_info__init(gi);
		gi->index = g;
		assert_true(asprintf(&name, "cuda%u", g) > 0);
		gi->name = keep(n, name);
		gi->kind = "cuda";
		gi->numa = (int32_t)(g % (npkg * ndom));
		gi->package = (int32_t)(g % (npkg * ndom) / ndom);
		n->gpu_ptrs[g] = gi;
	}
	n->layout.cores = n->core_ptrs;
	n->layout.n_cores = ncores;
	n->layout.numas = n->numa_ptrs;
	n->layout.n_numas = npkg * ndom;
	n->layout.gpus = n->gpu_ptrs;
	n->layout.n_gpus = ngpu;
	n->layout.topology_source = "hwloc";
	n->info.name = "big1";
	n->info.state = PACER__NODE_STATE__NODE_UP;
	n->info.sockets = npkg;
	n->info.cores = ncores;
	n->info.threads = nthr;
	n->info.numas = npkg * ndom;
	n->info.cpus = ncores * nthr;
	n->info.gpus = ngpu;
	n->info.layout = &n->layout;
}

/* Core K held by JOB (cpuset_alloc is the caller's to set). */
static void fake_hold(struct fake_node *n, uint32_t k, uint32_t job)
{
	n->jobs[k] = job;
	n->cores[k].jobs = &n->jobs[k];
	n->cores[k].n_jobs = 1;
	n->info.cores_alloc++;
}

static void fake_free(struct fake_node *n)
{
	for (size_t i = 0; i < n->nstrings; i++)
		free(n->strings[i]);
	free(n->strings);
	free(n->cores);
	free(n->core_ptrs);
	free(n->numas);
	free(n->numa_ptrs);
	free(n->gpus);
	free(n->gpu_ptrs);
	free(n->jobs);
}

/* The lines of TEXT from the one starting with "   Layout:". */
static const char *layout_part(const char *text)
{
	const char *p = strstr(text, "   Layout:");

	assert_non_null(p);
	return p;
}

static void test_node_layout(void **state)
{
	(void)state;
	struct fake_node n;
	struct capture c;

	/* 2 packages x 1 domain x 4 cores x 2 threads, 2 GPUs. */
	fake_node(&n, 2, 1, 4, 2, 2);
	fake_hold(&n, 0, 42);
	fake_hold(&n, 1, 42);
	fake_hold(&n, 5, 43);
	/* Job 43 holds one thread of core 5 only (--hint=multithread). */
	n.info.cpuset_alloc = "0-1,5,8-9";
	n.gpus[1].job = 43;
	n.gpus[1].busid = "0000:81:00.0";
	capture_start(&c);
	format_node_show(&n.info, NULL, c.f);
	fclose(c.f);
	assert_string_equal(
	    layout_part(c.buf),
	    "   Layout: hwloc\n"
	    "    Package 0:\n"
	    "      NUMA 0 (nodeset 0): memory 64000M, PUs 0-3,8-11\n"
	    "        cores 0-1 (PUs 0-1,8-9): job 42\n"
	    "        cores 2-3 (PUs 2-3,10-11): free\n"
	    "    Package 1:\n"
	    "      NUMA 1 (nodeset 1): memory 64000M, PUs 4-7,12-15\n"
	    "        core 4 (PUs 4,12): free\n"
	    "        core 5 (PUs 5,13): job 43, PUs 13 free\n"
	    "        cores 6-7 (PUs 6-7,14-15): free\n"
	    "    GPUs:\n"
	    "      GPU 0 cuda0 (cuda) near package 0, NUMA 0: free\n"
	    "      GPU 1 cuda1 (cuda, 0000:81:00.0) near package 1, NUMA 1: job 43\n");
	free(c.buf);

	/* Named through a queue reply, job 43 is task 3 of array 40, in the
	 * layout as in the list of jobs; 42 is unknown there and stays 42. */
	Pacer__JobSummary task = PACER__JOB_SUMMARY__INIT, other = PACER__JOB_SUMMARY__INIT;
	Pacer__JobSummary *jobs[] = { &task, &other };
	Pacer__QueueReply qr = PACER__QUEUE_REPLY__INIT;
	struct format_jobnames names;
	uint32_t node_jobs[] = { 42, 43 };
	char buf[32];

	task.id = 43;
	task.array_job_id = 40;
	task.array_task_id = 3;
	other.id = 7;
	qr.jobs = jobs;
	qr.n_jobs = 2;
	assert_int_equal(format_jobnames_build(&names, &qr), 0);
	assert_string_equal(format_jobname(&names, 43, buf, sizeof(buf)), "40_3");
	assert_string_equal(format_jobname(&names, 7, buf, sizeof(buf)), "7");
	assert_string_equal(format_jobname(&names, 42, buf, sizeof(buf)), "42");
	assert_string_equal(format_jobname(NULL, 43, buf, sizeof(buf)), "43");
	n.info.jobs = node_jobs;
	n.info.n_jobs = 2;
	capture_start(&c);
	format_node_show(&n.info, &names, c.f);
	fclose(c.f);
	assert_non_null(strstr(c.buf, "\n   Jobs=42,40_3\n"));
	assert_non_null(strstr(c.buf, "\n        core 5 (PUs 5,13): job 40_3, PUs 13 free\n"));
	assert_non_null(strstr(c.buf, "near package 1, NUMA 1: job 40_3\n"));
	free(c.buf);
	format_jobnames_free(&names);
	n.info.n_jobs = 0;

	/* A GPU of unknown place; a core whose domain the reply does not
	 * describe (an older or odd controller) still prints. */
	n.gpus[0].numa = -1;
	n.gpus[0].package = -1;
	n.layout.n_numas = 1;
	capture_start(&c);
	format_node_show(&n.info, NULL, c.f);
	fclose(c.f);
	assert_non_null(strstr(c.buf, "      GPU 0 cuda0 (cuda) locality unknown: free\n"));
	assert_non_null(strstr(c.buf, "    Package 1:\n      NUMA 1:\n        core 4 (PUs 4,12): "
				      "free\n"));
	free(c.buf);
	fake_free(&n);
}

/* A 192-core node stays readable: a line per package, per NUMA domain and
 * per run of cores that one job (or nobody) holds. */
static void test_node_layout_big(void **state)
{
	(void)state;
	struct fake_node n;
	struct capture c;
	size_t lines = 0;

	/* 2 packages x 4 domains x 24 cores x 2 threads = 192 cores, 384 PUs. */
	fake_node(&n, 2, 4, 24, 2, 0);
	/* Job 7 holds cores 0-9, job 8 cores 30-31 and 40. */
	for (uint32_t k = 0; k < 10; k++)
		fake_hold(&n, k, 7);
	fake_hold(&n, 30, 8);
	fake_hold(&n, 31, 8);
	fake_hold(&n, 40, 8);
	n.info.cpuset_alloc = "0-9,30-31,40,192-201,222-223,232";
	capture_start(&c);
	format_node_show(&n.info, NULL, c.f);
	fclose(c.f);
	const char *l = layout_part(c.buf);
	for (const char *p = l; (p = strchr(p, '\n')); p++)
		lines++;
	/* Layout + 2 packages + 8 domains + runs: domain 0 has 2 (0-9 held,
	 * 10-23 free), domain 1 has 5 (24-29, 30-31, 32-39, 40, 41-47), the
	 * other 6 domains 1 each. */
	assert_int_equal(lines, 1 + 2 + 8 + 2 + 5 + 6);
	assert_non_null(strstr(l, "      NUMA 0 (nodeset 0): memory 64000M, PUs 0-23,192-215\n"
				  "        cores 0-9 (PUs 0-9,192-201): job 7\n"
				  "        cores 10-23 (PUs 10-23,202-215): free\n"));
	assert_non_null(strstr(l, "        cores 30-31 (PUs 30-31,222-223): job 8\n"
				  "        cores 32-39 (PUs 32-39,224-231): free\n"
				  "        core 40 (PUs 40,232): job 8\n"));
	assert_non_null(strstr(l, "    Package 1:\n"
				  "      NUMA 4 (nodeset 4): memory 64000M, PUs 96-119,288-311\n"
				  "        cores 96-119 (PUs 96-119,288-311): free\n"));
	free(c.buf);

	capture_start(&c);
	struct json js;
	json_init(&js, c.f, false);
	format_node_json(&js, &n.info);
	fclose(c.f);
	assert_non_null(strstr(c.buf,
			       "\"layout\":{\"topology_source\":\"hwloc\",\"numas\":[{\"index\":0,"
			       "\"package\":0,\"nodeset\":\"0\",\"cpuset\":\"0-23,192-215\","
			       "\"mem_mb\":64000},"));
	assert_non_null(strstr(c.buf, "{\"index\":40,\"package\":0,\"numa\":1,\"pus\":\"40,232\","
				      "\"jobs\":[8]},{\"index\":41,\"package\":0,\"numa\":1,"
				      "\"pus\":\"41,233\",\"jobs\":[]}"));
	assert_non_null(strstr(c.buf, "\"gpus\":[]}}"));
	free(c.buf);
	fake_free(&n);
}

/* What a layout does not know is null, whether the wire says UINT32_MAX
 * (a NUMA domain spanning packages) or -1 (a GPU of unknown locality). */
static void test_node_layout_json_nulls(void **state)
{
	(void)state;
	struct fake_node n;
	struct capture c;
	struct json js;

	fake_node(&n, 1, 1, 1, 1, 2);
	n.numas[0].package = UINT32_MAX;
	n.cores[0].numa = UINT32_MAX;
	n.gpus[0].numa = -1;
	n.gpus[0].package = -1;
	n.gpus[1].busid = "0000:3b:00.0";
	n.gpus[1].job = 42;
	capture_start(&c);
	json_init(&js, c.f, false);
	format_node_json(&js, &n.info);
	fclose(c.f);
	assert_non_null(strstr(c.buf, "\"numas\":[{\"index\":0,\"package\":null,"));
	assert_non_null(strstr(c.buf, "\"cores\":[{\"index\":0,\"package\":0,\"numa\":null,"));
	assert_non_null(strstr(c.buf,
			       "{\"index\":0,\"name\":\"cuda0\",\"kind\":\"cuda\","
			       "\"numa\":null,\"package\":null,\"busid\":null,\"job\":null}"));
	assert_non_null(strstr(c.buf, "{\"index\":1,\"name\":\"cuda1\",\"kind\":\"cuda\","
				      "\"numa\":0,\"package\":0,\"busid\":\"0000:3b:00.0\","
				      "\"job\":42}"));
	assert_null(strstr(c.buf, "4294967295"));
	assert_null(strstr(c.buf, "-1"));
	free(c.buf);
	fake_free(&n);
}

/* ---------------------------------------------------------------------------
 * One job in full */

struct full_job {
	Pacer__Job job;
	Pacer__JobSpec spec;
	Pacer__NodeAlloc a1, a2;
	Pacer__NodeAlloc *alloc[2];
	char *argv[2];
	char *env[1];
	char *task_cpus[2];
	uint32_t task_ids[2];
	uint32_t gpus[2];
};

static void full_job(struct full_job *f)
{
	Pacer__Job j = PACER__JOB__INIT;
	Pacer__JobSpec s = PACER__JOB_SPEC__INIT;
	Pacer__NodeAlloc a = PACER__NODE_ALLOC__INIT;

	f->job = j;
	f->spec = s;
	f->a1 = a;
	f->a2 = a;
	f->a1.node = "n1";
	f->a1.cpus = 2;
	f->a1.mem_mb = 512;
	f->a2.node = "n2";
	f->a2.cpus = 2;
	f->a2.mem_mb = 512;
	f->alloc[0] = &f->a1;
	f->alloc[1] = &f->a2;
	f->argv[0] = "a";
	f->argv[1] = "b";
	f->env[0] = "A=1";
	f->spec.name = "sim";
	f->spec.nodes = 2;
	f->spec.ntasks = 4;
	f->spec.cpus_per_task = 1;
	f->spec.mem_mb = 1024;
	f->spec.time_limit = 3600;
	f->spec.partition = "debug";
	f->spec.workdir = "/home/alice";
	f->spec.stdout_pattern = "sim-%j.out";
	f->spec.script.data = (uint8_t *)"#!/bin/sh\n";
	f->spec.script.len = 10;
	f->spec.argv = f->argv;
	f->spec.n_argv = 2;
	f->spec.env = f->env;
	f->spec.n_env = 1;
	f->spec.submit_dir = "/home/alice";
	f->spec.submit_host = "login1";
	f->job.id = 42;
	f->job.uid = 1000;
	f->job.gid = 0;
	f->job.user = "alice";
	f->job.spec = &f->spec;
	f->job.state = PACER__JOB_STATE__JOB_RUNNING;
	f->job.submit_time = T0;
	f->job.start_time = T0 + 10;
	f->job.alloc = f->alloc;
	f->job.n_alloc = 2;
	f->job.requeue_count = 1;
	f->job.priority = 10;
	f->job.epoch = 3;
	/* Node 1 in detail; node 2 as an older controller sends it. */
	f->task_cpus[0] = "0";
	f->task_cpus[1] = "1";
	f->task_ids[0] = 0;
	f->task_ids[1] = 2;
	f->gpus[0] = 1;
	f->gpus[1] = 0;
	f->a1.cpuset = "0-1";
	f->a1.task_cpus = f->task_cpus;
	f->a1.n_task_cpus = 2;
	f->a1.task_ids = f->task_ids;
	f->a1.n_task_ids = 2;
	f->a1.gpus = f->gpus;
	f->a1.n_gpus = 2;
	f->a1.gpu_env = "CUDA_VISIBLE_DEVICES=0,1";
	f->a1.mems = "0";
}

/* An array task waiting for its dependency, with every request set. */
static void test_job_show_requests(void **state)
{
	(void)state;
	struct full_job f;
	struct capture c;

	full_job(&f);
	f.job.id = 47;
	f.job.array_job_id = 42;
	f.job.array_task_id = 5;
	f.job.state = PACER__JOB_STATE__JOB_PENDING;
	f.job.reason = "Dependency";
	f.job.start_time = 0;
	f.job.expected_start = T0 + 3600;
	f.job.n_alloc = 0;
	f.spec.stdout_pattern = "%x-%A_%a.out";
	f.spec.mem_per_cpu_mb = 2048;
	f.spec.ntasks_per_node = 2;
	f.spec.ntasks_per_socket = 1;
	f.spec.exclusive = true;
	f.spec.multithread = true;
	f.spec.gpus = 4;
	f.spec.gpus_per_node = 2;
	f.spec.constraint = "ib&fast";
	f.spec.nodelist = "n[1-2]";
	f.spec.exclude = "n3";
	f.spec.distribution = "cyclic:block";
	f.spec.cpu_bind = "cores,verbose";
	f.spec.nice = 100;
	f.spec.array = "0-9%2";
	f.spec.array_max_running = 2;
	f.spec.dependency = "afterok:40";
	capture_start(&c);
	format_job_show(&f.job, T0 + 70, c.f);
	fclose(c.f);
	assert_memory_equal(c.buf, "JobId=47 ArrayJobId=42 ArrayTaskId=5 JobName=sim\n", 49);
	assert_non_null(strstr(c.buf, "\n   JobState=PENDING Reason=Dependency\n"));
	/* A pending job's StartTime is when it is expected to start. */
	assert_non_null(strstr(c.buf, " StartTime=2023-11-14T23:13:20 EndTime=N/A\n"));
	assert_non_null(strstr(c.buf,
			       "\n   MemPerCPU=2048M NtasksPerNode=2 NtasksPerSocket=1 "
			       "Exclusive=Yes Hint=multithread\n"
			       "   Gpus=4 GpusPerNode=2 Features=ib&fast\n"
			       "   ReqNodeList=n[1-2] ExcNodeList=n3\n"
			       "   Distribution=cyclic:block CpuBind=cores,verbose Nice=100\n"
			       "   Array=0-9%2 ArrayTaskThrottle=2 Dependency=afterok:40\n"
			       "   Alloc=(null)\n   WorkDir="));
	/* Output patterns know the array. */
	assert_non_null(strstr(c.buf, "\n   StdOut=/home/alice/sim-42_5.out\n"));
	free(c.buf);

	/* Not known yet: N/A. */
	f.job.expected_start = 0;
	capture_start(&c);
	format_job_show(&f.job, T0 + 70, c.f);
	fclose(c.f);
	assert_non_null(strstr(c.buf, " StartTime=N/A EndTime=N/A\n"));
	free(c.buf);
}

static void test_job_show(void **state)
{
	(void)state;
	struct full_job f;
	struct capture c;

	full_job(&f);
	capture_start(&c);
	format_job_show(&f.job, T0 + 70, c.f);
	capture_check(&c, "JobId=42 JobName=sim\n"
			  "   UserId=alice(1000) GroupId=root(0)\n"
			  "   Priority=10 Held=No CancelRequested=No Epoch=3\n"
			  "   JobState=RUNNING Reason=None\n"
			  "   ExitCode=0:0 RequeueCount=1\n"
			  "   RunTime=1:00 TimeLimit=1:00:00\n"
			  "   SubmitTime=2023-11-14T22:13:20 StartTime=2023-11-14T22:13:30 "
			  "EndTime=N/A\n"
			  "   Partition=debug NodeList=n[1-2]\n"
			  "   NumNodes=2 NumTasks=4 CPUs/Task=1 Mem=1024M\n"
			  "   MemPerCPU=0 NtasksPerNode=0 NtasksPerSocket=0 Exclusive=No "
			  "Hint=nomultithread\n"
			  "   Gpus=0 GpusPerNode=0 Features=(null)\n"
			  "   ReqNodeList=(null) ExcNodeList=(null)\n"
			  "   Distribution=(null) CpuBind=(null) Nice=0\n"
			  "   Array=(null) ArrayTaskThrottle=0 Dependency=(null)\n"
			  "   Alloc=n1(cpus=2,mem=512M),n2(cpus=2,mem=512M)\n"
			  "     Nodes=n1 CPU_IDs=0-1 Mem=512M Mems=0 Exclusive=No GPU_IDs=0-1 "
			  "GpuEnv=CUDA_VISIBLE_DEVICES=0,1\n"
			  "       Task=0 CPU_IDs=0\n"
			  "       Task=2 CPU_IDs=1\n"
			  "     Nodes=n2 CPU_IDs=(null) Mem=512M Mems=(null) Exclusive=No "
			  "GPU_IDs=(null) GpuEnv=(null)\n"
			  "   WorkDir=/home/alice\n"
			  "   Args=a b\n"
			  "   StdOut=/home/alice/sim-42.out\n"
			  "   StdErr=/home/alice/sim-42.out\n"
			  "   SubmitDir=/home/alice SubmitHost=login1\n"
			  "   Steps=1\n"
			  "     StepId=42.batch Name=batch State=RUNNING Nodes=n1 NumTasks=1\n");

	/* Resolved paths win; an error pattern of its own is expanded. */
	f.job.state = PACER__JOB_STATE__JOB_FAILED;
	f.job.end_time = T0 + 20;
	f.job.exit_code = 3;
	f.job.reason = "NonZeroExitCode";
	f.job.stdout_path = "/data/out.txt";
	f.spec.stderr_pattern = "/logs/%x.err";
	f.job.n_alloc = 0;
	f.job.held = true;
	f.spec.n_argv = 0;
	f.spec.mem_mb = 0;
	f.spec.partition = "";
	capture_start(&c);
	format_job_show(&f.job, T0 + 70, c.f);
	capture_check(&c, "JobId=42 JobName=sim\n"
			  "   UserId=alice(1000) GroupId=root(0)\n"
			  "   Priority=10 Held=Yes CancelRequested=No Epoch=3\n"
			  "   JobState=FAILED Reason=NonZeroExitCode\n"
			  "   ExitCode=3:0 RequeueCount=1\n"
			  "   RunTime=0:10 TimeLimit=1:00:00\n"
			  "   SubmitTime=2023-11-14T22:13:20 StartTime=2023-11-14T22:13:30 "
			  "EndTime=2023-11-14T22:13:40\n"
			  "   Partition=(null) NodeList=(null)\n"
			  "   NumNodes=2 NumTasks=4 CPUs/Task=1 Mem=0\n"
			  "   MemPerCPU=0 NtasksPerNode=0 NtasksPerSocket=0 Exclusive=No "
			  "Hint=nomultithread\n"
			  "   Gpus=0 GpusPerNode=0 Features=(null)\n"
			  "   ReqNodeList=(null) ExcNodeList=(null)\n"
			  "   Distribution=(null) CpuBind=(null) Nice=0\n"
			  "   Array=(null) ArrayTaskThrottle=0 Dependency=(null)\n"
			  "   Alloc=(null)\n"
			  "   WorkDir=/home/alice\n"
			  "   Args=(null)\n"
			  "   StdOut=/data/out.txt\n"
			  "   StdErr=/logs/sim.err\n"
			  "   SubmitDir=/home/alice SubmitHost=login1\n"
			  "   Steps=1\n"
			  "     StepId=42.batch Name=batch State=FAILED Nodes=(null) NumTasks=1\n");

	/* A job without its spec still prints. */
	f.job.spec = NULL;
	capture_start(&c);
	format_job_show(&f.job, T0, c.f);
	fclose(c.f);
	assert_non_null(strstr(c.buf, "JobId=42 JobName=(null)\n"));
	assert_non_null(strstr(c.buf, "   StdOut=/data/out.txt\n   StdErr=/data/out.txt\n"));
	free(c.buf);
}

static void test_job_json(void **state)
{
	(void)state;
	struct full_job f;
	struct capture c;
	struct json js;

	full_job(&f);
	capture_start(&c);
	json_init(&js, c.f, false);
	format_job_json(&js, &f.job);
	capture_check(
	    &c, "{\"id\":42,\"name\":\"sim\",\"user\":\"alice\",\"uid\":1000,"
		"\"partition\":\"debug\",\"state\":\"RUNNING\",\"reason\":null,"
		"\"submit_time\":1700000000,\"start_time\":1700000010,\"end_time\":null,"
		"\"expected_start\":null,\"time_limit\":3600,\"nodelist\":\"n[1-2]\","
		"\"exit_code\":null,\"term_signal\":null,\"priority\":10,\"held\":false,"
		"\"array_job_id\":null,\"array_task_id\":null,\"gid\":0,\"requeue_count\":1,"
		"\"cancel_requested\":false,\"stdout_path\":null,\"stderr_path\":null,\"epoch\":3,"
		"\"spec\":{\"name\":\"sim\",\"nodes\":2,\"ntasks\":4,\"cpus_per_task\":1,"
		"\"mem_mb\":1024,\"time_limit\":3600,\"partition\":\"debug\","
		"\"workdir\":\"/home/alice\",\"stdout_pattern\":\"sim-%j.out\","
		"\"stderr_pattern\":null,\"script\":\"#!/bin/sh\\n\",\"argv\":[\"a\",\"b\"],"
		"\"env\":[\"A=1\"],\"hold\":false,\"alloc_only\":false,\"submit_dir\":\"/home/alice\","
		"\"submit_host\":\"login1\",\"ntasks_per_node\":null,\"ntasks_per_socket\":null,"
		"\"exclusive\":false,\"mem_per_cpu_mb\":null,\"gpus\":0,\"gpus_per_node\":0,"
		"\"nodelist\":null,\"exclude\":null,\"constraint\":null,\"distribution\":null,"
		"\"cpu_bind\":null,\"multithread\":false,\"nice\":0,\"array\":null,"
		"\"array_max_running\":null,\"dependency\":null},"
		"\"alloc\":[{\"node\":\"n1\",\"cpus\":2,\"mem_mb\":512,\"cpuset\":\"0-1\","
		"\"task_cpus\":[\"0\",\"1\"],\"task_ids\":[0,2],\"gpus\":[1,0],"
		"\"gpu_env\":\"CUDA_VISIBLE_DEVICES=0,1\",\"mems\":\"0\",\"exclusive\":false},"
		"{\"node\":\"n2\",\"cpus\":2,\"mem_mb\":512,\"cpuset\":null,\"task_cpus\":[],"
		"\"task_ids\":[],\"gpus\":[],\"gpu_env\":null,\"mems\":null,\"exclusive\":false}],"
		"\"steps\":[]}");

	/* Without its spec the fields that come from it are null. */
	f.job.spec = NULL;
	capture_start(&c);
	json_init(&js, c.f, false);
	format_job_json(&js, &f.job);
	fclose(c.f);
	assert_non_null(strstr(c.buf, "{\"id\":42,\"name\":null,\"user\":\"alice\",\"uid\":1000,"
				      "\"partition\":null,"));
	assert_non_null(strstr(c.buf, ",\"time_limit\":null,\"nodelist\":\"n[1-2]\","));
	assert_non_null(strstr(c.buf, ",\"spec\":null,\"alloc\":["));
	free(c.buf);
}

/* The value of member KEY in JSON, as written; the caller frees it. */
static char *field_of(const char *json, const char *key)
{
	char *pat, *p, *end;

	assert_true(asprintf(&pat, "\"%s\":", key) > 0);
	p = strstr(json, pat);
	assert_non_null(p);
	p += strlen(pat);
	p += strspn(p, " "); /* pretty output puts one after the colon */
	end = p + strcspn(p, ",}\n");
	free(pat);
	return strndup(p, (size_t)(end - p));
}

/* The null convention on jobs: never a sentinel number, and `pacer queue`
 * and `pacer show job` write the fields they share the same way. */
static void test_job_json_nulls(void **state)
{
	(void)state;
	static const char *shared[] = { "id",          "name",       "partition",   "time_limit",
					"nodelist",    "start_time", "end_time",    "exit_code",
					"term_signal", "reason",     "array_job_id" };
	struct full_job f;
	Pacer__JobSummary sum = PACER__JOB_SUMMARY__INIT, *jobs[] = { &sum };
	Pacer__QueueReply reply = PACER__QUEUE_REPLY__INIT;
	struct capture c;
	struct json js;
	char *full;

	reply.jobs = jobs;
	reply.n_jobs = 1;
	for (int round = 0; round < 4; round++) {
		full_job(&f);
		f.job.start_time = 0;
		f.job.n_alloc = 0;
		f.job.state = PACER__JOB_STATE__JOB_PENDING;
		f.spec.time_limit = TIMEFMT_UNLIMITED;
		f.job.expected_start = T0 + 60;
		if (round == 1) { /* ran to its end and exited 3 */
			f.spec.time_limit = 3600;
			f.job.state = PACER__JOB_STATE__JOB_FAILED;
			f.job.start_time = T0 + 10;
			f.job.end_time = T0 + 20;
			f.job.exit_code = 3;
			f.job.n_alloc = 2;
		} else if (round == 2) { /* a signal ended it */
			f.job.state = PACER__JOB_STATE__JOB_CANCELLED;
			f.job.start_time = T0 + 10;
			f.job.end_time = T0 + 20;
			f.job.term_signal = 15;
			f.job.n_alloc = 1;
		} else if (round == 3) { /* a task of an array, its limit unset */
			f.spec.time_limit = 0;
			f.job.array_job_id = 40;
			f.job.array_task_id = 2;
			f.job.reason = "Priority";
		}
		sum.id = f.job.id;
		sum.name = f.spec.name;
		sum.user = f.job.user;
		sum.partition = f.spec.partition;
		sum.state = f.job.state;
		sum.reason = f.job.reason;
		sum.start_time = f.job.start_time;
		sum.end_time = f.job.end_time;
		sum.time_limit = f.spec.time_limit;
		sum.nodelist = round == 1 ? "n[1-2]" : round == 2 ? "n1" : "";
		sum.exit_code = f.job.exit_code;
		sum.term_signal = f.job.term_signal;
		sum.array_job_id = f.job.array_job_id;
		sum.array_task_id = f.job.array_task_id;

		capture_start(&c);
		json_init(&js, c.f, false);
		format_job_json(&js, &f.job);
		fclose(c.f);
		full = c.buf;
		assert_null(strstr(full, "4294967295"));
		capture_start(&c);
		format_queue_json(&reply, c.f);
		fclose(c.f);
		char *q = c.buf;
		assert_null(strstr(q, "4294967295"));
		for (size_t k = 0; k < sizeof(shared) / sizeof(shared[0]); k++) {
			char *a = field_of(full, shared[k]), *b = field_of(q, shared[k]);
			assert_string_equal(a, b);
			free(a);
			free(b);
		}
		char *tl = field_of(q, "time_limit"), *st = field_of(q, "start_time"),
		     *ec = field_of(q, "exit_code"), *ts = field_of(q, "term_signal"),
		     *nl = field_of(q, "nodelist"), *ai = field_of(q, "array_task_id"),
		     *es = field_of(full, "expected_start");
		assert_string_equal(tl, round == 1 ? "3600" : "null");
		assert_string_equal(st, round == 1 || round == 2 ? "1700000010" : "null");
		assert_string_equal(ec, round == 1 ? "3" : "null");
		assert_string_equal(ts, round == 2 ? "15" : "null");
		assert_string_equal(nl, round == 1 ? "\"n[1-2]\"" : round == 2 ? "\"n1\"" : "null");
		assert_string_equal(ai, round == 3 ? "2" : "null");
		assert_string_equal(es, "1700000060");
		free(tl);
		free(st);
		free(ec);
		free(ts);
		free(nl);
		free(ai);
		free(es);
		free(full);
		free(q);
	}
}

/* Steps: the batch step from its job, then each step, in the table of
 * `pacer queue --steps`, its JSON and `pacer show job`. */
static void test_steps(void **state)
{
	(void)state;
	Pacer__JobSummary j = PACER__JOB_SUMMARY__INIT, *jobs[] = { &j };
	Pacer__Step s0 = PACER__STEP__INIT, s1 = PACER__STEP__INIT, *steps[] = { &s0, &s1 };
	Pacer__NodeAlloc a = PACER__NODE_ALLOC__INIT, *allocs[] = { &a };
	Pacer__QueueReply r = PACER__QUEUE_REPLY__INIT;
	struct capture c;
	char *tcs[] = { "0", "2" };
	uint32_t ids[] = { 0, 1 };

	j.id = 42;
	j.name = "sim";
	j.user = "alice";
	j.partition = "debug";
	j.state = PACER__JOB_STATE__JOB_RUNNING;
	j.start_time = T0;
	j.nodelist = "n[1-2]";
	a.node = "n2";
	a.cpus = 2;
	a.cpuset = "0,2";
	a.task_cpus = tcs;
	a.n_task_cpus = 2;
	a.task_ids = ids;
	a.n_task_ids = 2;
	s0.job_id = 42;
	s0.step_id = 0;
	s0.name = "hostname";
	s0.state = PACER__JOB_STATE__JOB_FAILED;
	s0.start_time = T0 + 5;
	s0.end_time = T0 + 9;
	s0.exit_code = 3;
	s0.ntasks = 4;
	s0.nnodes = 2;
	s0.nodelist = "n[1-2]";
	s1.job_id = 42;
	s1.step_id = 1;
	s1.name = "mpi_hello";
	s1.state = PACER__JOB_STATE__JOB_RUNNING;
	s1.start_time = T0 + 10;
	s1.ntasks = 2;
	s1.alloc = allocs;
	s1.n_alloc = 1;
	s1.overlap = true;
	r.jobs = jobs;
	r.n_jobs = 1;
	r.steps = steps;
	r.n_steps = 2;
	r.now = T0 + 70;
	capture_start(&c);
	format_steps_table(&r, true, c.f);
	capture_check(&c, "         STEPID     NAME PARTITION     USER       TIME NODES TASKS      "
			  "STATE   EXIT NODELIST\n"
			  "       42.batch    batch     debug    alice       1:10     1     1    "
			  "RUNNING      - n1\n"
			  "           42.0 hostname     debug    alice       0:04     2     4     "
			  "FAILED    3:0 n[1-2]\n"
			  "           42.1 mpi_hell     debug    alice       1:00     1     2    "
			  "RUNNING      - n2\n");

	struct json js;
	capture_start(&c);
	json_init(&js, c.f, false);
	Pacer__Job full = PACER__JOB__INIT;
	full.id = 42;
	full.steps = steps + 1;
	full.n_steps = 1;
	format_job_steps_json(&js, &full);
	capture_check(&c, "\"steps\":[{\"step_id\":\"42.1\",\"job_id\":42,\"step\":1,"
			  "\"name\":\"mpi_hello\",\"state\":\"RUNNING\",\"reason\":null,"
			  "\"start_time\":1700000010,\"end_time\":null,\"nodes\":1,\"ntasks\":2,"
			  "\"nodelist\":\"n2\",\"exit_code\":null,\"term_signal\":null,"
			  "\"overlap\":true,\"alloc\":[{\"node\":\"n2\",\"cpus\":2,"
			  "\"cpuset\":\"0,2\",\"task_cpus\":[\"0\",\"2\"],\"task_ids\":[0,1]}]}]");

	full.state = PACER__JOB_STATE__JOB_RUNNING;
	full.start_time = T0;
	full.steps = steps;
	full.n_steps = 2;
	full.alloc = allocs;
	full.n_alloc = 1;
	capture_start(&c);
	format_job_steps_show(&full, T0 + 70, c.f);
	capture_check(&c, "   Steps=3\n"
			  "     StepId=42.batch Name=batch State=RUNNING Nodes=n2 NumTasks=1\n"
			  "     StepId=42.0 Name=hostname State=FAILED Nodes=n[1-2] NumNodes=2 "
			  "NumTasks=4 ExitCode=3:0\n"
			  "       RunTime=0:04 StartTime=2023-11-14T22:13:25 "
			  "EndTime=2023-11-14T22:13:29 Overlap=No\n"
			  "     StepId=42.1 Name=mpi_hello State=RUNNING Nodes=n2 NumNodes=1 "
			  "NumTasks=2 ExitCode=-\n"
			  "       RunTime=1:00 StartTime=2023-11-14T22:13:30 EndTime=N/A "
			  "Overlap=Yes\n"
			  "       Node=n2 CPU_IDs=0,2 Tasks=0,1\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job_states),
		cmocka_unit_test(test_node_states),
		cmocka_unit_test(test_elapsed),
		cmocka_unit_test(test_default_format),
		cmocka_unit_test(test_custom_format),
		cmocka_unit_test(test_array_format),
		cmocka_unit_test(test_format_errors),
		cmocka_unit_test(test_queue_json),
		cmocka_unit_test(test_nodes_table),
		cmocka_unit_test(test_nodes_json),
		cmocka_unit_test(test_node_sct),
		cmocka_unit_test(test_node_layout),
		cmocka_unit_test(test_node_layout_big),
		cmocka_unit_test(test_job_show),
		cmocka_unit_test(test_job_show_requests),
		cmocka_unit_test(test_job_json),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_node_layout_json_nulls),
		cmocka_unit_test(test_job_json_nulls),
	};
	return cmocka_run_group_tests(tests, utc, NULL);
}
