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
				   "%l %D %C %R %N %r %V %S %e %Q)");
	expect_qfmt_error("%.10y", "unknown field '%.10y' in format (fields: %i %j %u %P %t %T "
				   "%M %l %D %C %R %N %r %V %S %e %Q)");
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
			  "      \"partition\": \"debug\",\n"
			  "      \"state\": \"RUNNING\",\n"
			  "      \"reason\": \"\",\n"
			  "      \"submit_time\": 1699996000,\n"
			  "      \"start_time\": 1699996275,\n"
			  "      \"end_time\": 0,\n"
			  "      \"time_limit\": 7200,\n"
			  "      \"nodes\": 2,\n"
			  "      \"ntasks\": 4,\n"
			  "      \"cpus\": 8,\n"
			  "      \"nodelist\": \"n[1-2]\",\n"
			  "      \"exit_code\": 0,\n"
			  "      \"term_signal\": 0,\n"
			  "      \"priority\": 100,\n"
			  "      \"uid\": 1000,\n"
			  "      \"held\": false\n"
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
	char *parts[] = { "debug", "batch" };
	struct capture c;

	a.name = "n1";
	a.state = PACER__NODE_STATE__NODE_UP;
	a.cpus = 8;
	a.cpus_alloc = 2;
	a.mem_mb = 16000;
	a.mem_alloc_mb = 1024;
	a.partitions = parts;
	a.n_partitions = 2;
	b.name = "node-with-long-name";
	b.state = PACER__NODE_STATE__NODE_DOWN;
	b.reason = "fenced after timeout";
	reply.nodes = nodes;
	reply.n_nodes = 2;

	capture_start(&c);
	format_nodes_table(&reply, true, c.f);
	capture_check(&c, "NODELIST            STATE CPUS(A/T) MEMORY(A/T) PARTITIONS  REASON\n"
			  "n1                  mixed 2/8       1024/16000  debug,batch none\n"
			  "node-with-long-name down  0/0       0/0         (none)      "
			  "fenced after timeout\n");
	capture_start(&c);
	reply.n_nodes = 1;
	format_nodes_table(&reply, false, c.f);
	capture_check(&c, "n1 mixed 2/8 1024/16000 debug,batch none\n");
}

static void test_nodes_json(void **state)
{
	(void)state;
	Pacer__NodeInfo a = PACER__NODE_INFO__INIT, *nodes[] = { &a };
	Pacer__NodesReply reply = PACER__NODES_REPLY__INIT;
	char *parts[] = { "debug" };
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
	reply.nodes = nodes;
	reply.n_nodes = 1;
	capture_start(&c);
	format_nodes_json(&reply, c.f);
	capture_check(&c, "{\n"
			  "  \"nodes\": [\n"
			  "    {\n"
			  "      \"name\": \"n1\",\n"
			  "      \"state\": \"UP\",\n"
			  "      \"reason\": \"\",\n"
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
			  "      \"version\": \"0.1.0\"\n"
			  "    }\n"
			  "  ]\n"
			  "}\n");

	capture_start(&c);
	format_node_show(&a, c.f);
	capture_check(&c, "NodeName=n1 State=MIXED\n"
			  "   Address=10.0.0.1 Port=6818\n"
			  "   CPUTot=8 CPUAlloc=2 RealMemory=16000 AllocMem=1024\n"
			  "   Partitions=debug\n"
			  "   Jobs=42,43\n"
			  "   BootId=b1 Version=0.1.0 LastHeard=2023-11-14T22:13:20\n"
			  "   Reason=None\n");
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
			  "   Alloc=n1(cpus=2,mem=512M),n2(cpus=2,mem=512M)\n"
			  "   WorkDir=/home/alice\n"
			  "   Args=a b\n"
			  "   StdOut=/home/alice/sim-42.out\n"
			  "   StdErr=/home/alice/sim-42.out\n"
			  "   SubmitDir=/home/alice SubmitHost=login1\n");

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
			  "   Alloc=(null)\n"
			  "   WorkDir=/home/alice\n"
			  "   Args=(null)\n"
			  "   StdOut=/data/out.txt\n"
			  "   StdErr=/logs/sim.err\n"
			  "   SubmitDir=/home/alice SubmitHost=login1\n");

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
	capture_check(&c,
		      "{\"id\":42,\"uid\":1000,\"gid\":0,\"user\":\"alice\","
		      "\"spec\":{\"name\":\"sim\",\"nodes\":2,\"ntasks\":4,\"cpus_per_task\":1,"
		      "\"mem_mb\":1024,\"time_limit\":3600,\"partition\":\"debug\","
		      "\"workdir\":\"/home/alice\",\"stdout_pattern\":\"sim-%j.out\","
		      "\"stderr_pattern\":\"\",\"script\":\"#!/bin/sh\\n\",\"argv\":[\"a\",\"b\"],"
		      "\"env\":[\"A=1\"],\"hold\":false,\"submit_dir\":\"/home/alice\","
		      "\"submit_host\":\"login1\"},"
		      "\"state\":\"RUNNING\",\"reason\":\"\",\"submit_time\":1700000000,"
		      "\"start_time\":1700000010,\"end_time\":0,"
		      "\"alloc\":[{\"node\":\"n1\",\"cpus\":2,\"mem_mb\":512},"
		      "{\"node\":\"n2\",\"cpus\":2,\"mem_mb\":512}],"
		      "\"exit_code\":0,\"term_signal\":0,\"requeue_count\":1,\"held\":false,"
		      "\"cancel_requested\":false,\"priority\":10,\"stdout_path\":\"\","
		      "\"stderr_path\":\"\",\"epoch\":3}");

	f.job.spec = NULL;
	capture_start(&c);
	json_init(&js, c.f, false);
	format_job_json(&js, &f.job);
	fclose(c.f);
	assert_non_null(strstr(c.buf, "\"user\":\"alice\",\"spec\":null,\"state\":"));
	free(c.buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job_states),    cmocka_unit_test(test_node_states),
		cmocka_unit_test(test_elapsed),       cmocka_unit_test(test_default_format),
		cmocka_unit_test(test_custom_format), cmocka_unit_test(test_format_errors),
		cmocka_unit_test(test_queue_json),    cmocka_unit_test(test_nodes_table),
		cmocka_unit_test(test_nodes_json),    cmocka_unit_test(test_job_show),
		cmocka_unit_test(test_job_json),
	};
	return cmocka_run_group_tests(tests, utc, NULL);
}
