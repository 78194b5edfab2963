/* seeds.c - write the seed corpora that come from Pacer's own
 * writers: frames packed from real messages (corpus/frame/), state
 * directories written by the real journal (corpus/journal/) and a
 * topology in its wire form (corpus/topo/).
 *
 *   fuzz_seeds CORPUS_DIR
 *
 * Run it again when a message or file format changes (docs/fuzzing.md).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frame.h"
#include "fuzz.h"
#include "journal.h"
#include "topo.h"

static const char *corpus;

static void put(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", corpus, dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", corpus, dir, name);
	fuzz_write_file(path, buf, len);
}

/* One frame, or two in one file (a client's Hello and request). */
static void put_frames(const char *name, Pacer__Msg *a, Pacer__Msg *b)
{
	uint8_t *x, *y = NULL;
	size_t xl, yl = 0;

	FUZZ_CHECK(frame_pack(a, FRAME_MAX_REPLY, &x, &xl) == 0, "pack %s", name);
	if (b)
		FUZZ_CHECK(frame_pack(b, FRAME_MAX_REPLY, &y, &yl) == 0, "pack %s", name);
	uint8_t *both = malloc(xl + yl);
	FUZZ_CHECK(both != NULL, "out of memory");
	memcpy(both, x, xl);
	if (y)
		memcpy(both + xl, y, yl);
	put("frame", name, both, xl + yl);
	free(both);
	free(x);
	free(y);
}

static Pacer__JobSpec spec_batch(void)
{
	static char *env[] = { "PATH=/usr/bin:/bin", "HOME=/home/alice", "OMP_NUM_THREADS=2" };
	static char *argv[] = { "input.dat" };
	static const char script[] = "#!/bin/sh\n#SBATCH -N 2\nsrun hostname\n";
	Pacer__JobSpec s = PACER__JOB_SPEC__INIT;
	s.name = "hello";
	s.nodes = 2;
	s.ntasks = 4;
	s.cpus_per_task = 1;
	s.mem_mb = 512;
	s.time_limit = 600;
	s.workdir = "/home/alice";
	s.stdout_pattern = "slurm-%j.out";
	s.script.data = (uint8_t *)script;
	s.script.len = sizeof(script) - 1;
	s.argv = argv;
	s.n_argv = 1;
	s.env = env;
	s.n_env = 3;
	s.submit_dir = "/home/alice";
	s.submit_host = "login1";
	return s;
}

static void frames(const void *topo, size_t topolen)
{
	Pacer__Msg hello = PACER__MSG__INIT, m = PACER__MSG__INIT;
	Pacer__Hello h = PACER__HELLO__INIT;
	h.cred = "MUNGE:AwQDAACfake";
	hello.body_case = PACER__MSG__BODY_HELLO;
	hello.hello = &h;
	put_frames("hello.frame", &hello, NULL);

	Pacer__JobSpec s = spec_batch();
	Pacer__SubmitRequest sr = PACER__SUBMIT_REQUEST__INIT;
	sr.spec = &s;
	m.seq = 1;
	m.body_case = PACER__MSG__BODY_SUBMIT;
	m.submit = &sr;
	put_frames("hello-submit.frame", &hello, &m);
	put_frames("submit.frame", &m, NULL);
	s.array = "0-15:3%2";
	s.dependency = "afterok:1:2_3,singleton";
	s.nodes = 1;
	s.ntasks = 0;
	s.partition = "gpu";
	s.gpus_per_node = 1;
	s.constraint = "ib&gpu";
	s.distribution = "cyclic:block";
	s.cpu_bind = "cores";
	s.nice = 10;
	put_frames("submit-array-gpu.frame", &m, NULL);
	s = spec_batch();
	s.nodelist = "node[1-2]";
	s.exclude = "gpu1";
	s.exclusive = true;
	s.hold = true;
	s.multithread = true;
	put_frames("submit-nodelist.frame", &m, NULL);

	uint32_t ids[] = { 3, 4 };
	Pacer__ArrayTaskRef tref = PACER__ARRAY_TASK_REF__INIT, *trefs[] = { &tref };
	tref.array_job_id = 5;
	tref.task_id = 2;
	Pacer__QueueRequest q = PACER__QUEUE_REQUEST__INIT;
	q.all = true;
	q.job_ids = ids;
	q.n_job_ids = 2;
	q.tasks = trefs;
	q.n_tasks = 1;
	m.body_case = PACER__MSG__BODY_QUEUE;
	m.queue = &q;
	put_frames("queue.frame", &m, NULL);

	Pacer__CancelRequest c = PACER__CANCEL_REQUEST__INIT;
	c.job_ids = ids;
	c.n_job_ids = 2;
	c.signal = 10;
	c.tasks = trefs;
	c.n_tasks = 1;
	m.body_case = PACER__MSG__BODY_CANCEL;
	m.cancel = &c;
	put_frames("cancel.frame", &m, NULL);

	Pacer__HoldRequest ho = PACER__HOLD_REQUEST__INIT;
	ho.job_ids = ids;
	ho.n_job_ids = 2;
	ho.release = true;
	m.body_case = PACER__MSG__BODY_HOLD;
	m.hold = &ho;
	put_frames("hold.frame", &m, NULL);

	char *names[] = { "node1", "gpu1" };
	Pacer__NodesRequest nr = PACER__NODES_REQUEST__INIT;
	nr.names = names;
	nr.n_names = 2;
	nr.layout = true;
	m.body_case = PACER__MSG__BODY_NODES;
	m.nodes = &nr;
	put_frames("nodes.frame", &m, NULL);

	Pacer__DiagRequest dr = PACER__DIAG_REQUEST__INIT;
	m.body_case = PACER__MSG__BODY_DIAG;
	m.diag = &dr;
	put_frames("diag.frame", &m, NULL);

	Pacer__RunningJob rj = PACER__RUNNING_JOB__INIT, *rjs[] = { &rj };
	rj.job_id = 7;
	rj.start_time = 1764800000;
	Pacer__JobEnded je = PACER__JOB_ENDED__INIT, *jes[] = { &je };
	je.job_id = 6;
	je.state = PACER__JOB_STATE__JOB_COMPLETED;
	je.end_time = 1764800100;
	je.reason = "";
	Pacer__NodeRegister reg = PACER__NODE_REGISTER__INIT;
	reg.name = "node1";
	reg.boot_id = "3f1c2a9e-boot";
	reg.daemon_id = "d-42";
	reg.cpus = 8;
	reg.mem_mb = 16384;
	reg.hostname = "node1";
	reg.version = PACER_VERSION;
	reg.running = rjs;
	reg.n_running = 1;
	reg.ended = jes;
	reg.n_ended = 1;
	reg.topology.data = (uint8_t *)topo;
	reg.topology.len = topolen;
	reg.topology_hash = "0123456789abcdef";
	reg.topology_source = "pack:2 numa:2 core:2 pu:2";
	m.body_case = PACER__MSG__BODY_NODE_REGISTER;
	m.node_register = &reg;
	put_frames("node-register.frame", &m, NULL);

	Pacer__Heartbeat hb = PACER__HEARTBEAT__INIT;
	hb.seq = 12;
	hb.running = 1;
	hb.topology_hash = "0123456789abcdef";
	m.body_case = PACER__MSG__BODY_HEARTBEAT;
	m.heartbeat = &hb;
	put_frames("heartbeat.frame", &m, NULL);

	m.body_case = PACER__MSG__BODY_JOB_ENDED;
	m.job_ended = &je;
	put_frames("job-ended.frame", &m, NULL);
}

/* ---- journal ------------------------------------------------------------ */

static void append(struct journal *j, Pacer__JournalRecord *rec, uint64_t seq)
{
	rec->epoch = 1;
	rec->seq = seq;
	rec->time = 1764800000 + (int64_t)seq;
	size_t len = pacer__journal_record__get_packed_size(rec);
	uint8_t *buf = malloc(len);
	FUZZ_CHECK(buf != NULL, "out of memory");
	pacer__journal_record__pack(rec, buf);
	FUZZ_CHECK(journal_append(j, buf, len) != 0, "append: %s", strerror(errno));
	free(buf);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	FUZZ_CHECK(f != NULL, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t)n + 1);
	FUZZ_CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n, "%s", path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* The files of generation GEN in DIR as a journal seed: FLAGS, then the
 * snapshot (when WITH_SNAPSHOT), then the journal. */
static void put_state(const char *name, const char *dir, uint64_t gen, uint8_t flags,
		      bool with_snapshot)
{
	char path[4096];
	size_t sl = 0, jl;
	uint8_t *snap = NULL, *jr;

	if (with_snapshot) {
		snprintf(path, sizeof(path), "%s/snapshot.%016llu", dir, (unsigned long long)gen);
		snap = slurp(path, &sl);
	}
	snprintf(path, sizeof(path), "%s/journal.%016llu", dir, (unsigned long long)gen);
	jr = slurp(path, &jl);
	uint8_t *all = malloc(1 + sl + jl);
	FUZZ_CHECK(all != NULL, "out of memory");
	all[0] = flags;
	if (sl)
		memcpy(all + 1, snap, sl);
	memcpy(all + 1 + sl, jr, jl);
	put("journal", name, all, 1 + sl + jl);
	free(all);
	free(snap);
	free(jr);
}

static void journals(void)
{
	char dir[4096];
	struct journal *j;

	snprintf(dir, sizeof(dir), "%s/state", fuzz_tmpdir());
	FUZZ_CHECK(journal_open(dir, NULL, NULL, NULL, &j) == 0, "open: %s", strerror(errno));

	/* A snapshot holding one finished job. */
	Pacer__JobSpec s = spec_batch();
	Pacer__Job done = PACER__JOB__INIT, *jobs[] = { &done };
	done.id = 1;
	done.uid = 1000;
	done.gid = 1000;
	done.user = "alice";
	done.spec = &s;
	done.state = PACER__JOB_STATE__JOB_COMPLETED;
	done.submit_time = 1764700000;
	done.start_time = 1764700010;
	done.end_time = 1764700100;
	done.epoch = 1;
	Pacer__Snapshot snap = PACER__SNAPSHOT__INIT;
	snap.epoch = 1;
	snap.last_seq = 1;
	snap.next_job_id = 2;
	snap.time = 1764800000;
	snap.jobs = jobs;
	snap.n_jobs = 1;
	size_t len = pacer__snapshot__get_packed_size(&snap);
	uint8_t *buf = malloc(len);
	FUZZ_CHECK(buf != NULL, "out of memory");
	pacer__snapshot__pack(&snap, buf);
	FUZZ_CHECK(journal_start(j, buf, len) == 0, "start: %s", strerror(errno));
	free(buf);

	uint64_t seq = 2;
	Pacer__JournalRecord rec = PACER__JOURNAL_RECORD__INIT;
	Pacer__EpochStart es = PACER__EPOCH_START__INIT;
	es.epoch = 1;
	es.controller = "localhost";
	rec.op_case = PACER__JOURNAL_RECORD__OP_EPOCH_START;
	rec.epoch_start = &es;
	append(j, &rec, seq++);

	Pacer__Job pj = PACER__JOB__INIT;
	pj.id = 2;
	pj.uid = 1000;
	pj.gid = 1000;
	pj.user = "alice";
	pj.spec = &s;
	pj.state = PACER__JOB_STATE__JOB_PENDING;
	pj.reason = "Priority";
	pj.submit_time = 1764800001;
	pj.epoch = 1;
	rec = (Pacer__JournalRecord)PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_SUBMIT;
	rec.job_submit = &pj;
	append(j, &rec, seq++);

	Pacer__JobSpec as = spec_batch();
	as.array = "0-3%2";
	as.dependency = "afterany:2";
	as.nodes = 1;
	as.ntasks = 1;
	Pacer__Job aj = pj;
	aj.id = 3;
	aj.spec = &as;
	rec.job_submit = &aj;
	append(j, &rec, seq++);

	char *task_cpus[] = { "0-1", "2-3" };
	uint32_t task_ids[] = { 0, 1 }, gpus[] = { 0 };
	Pacer__NodeAlloc a1 = PACER__NODE_ALLOC__INIT, a2 = PACER__NODE_ALLOC__INIT;
	Pacer__NodeAlloc *allocs[] = { &a1, &a2 };
	a1.node = "node1";
	a1.cpus = 4;
	a1.mem_mb = 256;
	a1.cpuset = "0-3";
	a1.task_cpus = task_cpus;
	a1.n_task_cpus = 2;
	a1.task_ids = task_ids;
	a1.n_task_ids = 2;
	a1.mems = "0";
	a2 = a1;
	a2.node = "gpu1";
	a2.cpuset = "4-7";
	a2.gpus = gpus;
	a2.n_gpus = 1;
	a2.gpu_env = "CUDA_VISIBLE_DEVICES=0";
	a2.mems = "1";
	Pacer__JobStart st = PACER__JOB_START__INIT;
	st.job_id = 2;
	st.start_time = 1764800010;
	st.alloc = allocs;
	st.n_alloc = 2;
	st.stdout_path = "/home/alice/slurm-2.out";
	st.stderr_path = "/home/alice/slurm-2.out";
	rec = (Pacer__JournalRecord)PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_START;
	rec.job_start = &st;
	append(j, &rec, seq++);

	Pacer__JobHold hd = PACER__JOB_HOLD__INIT;
	hd.job_id = 4;
	hd.held = true;
	rec = (Pacer__JournalRecord)PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_HOLD;
	rec.job_hold = &hd;
	append(j, &rec, seq++);

	Pacer__JobCancelRequest cr = PACER__JOB_CANCEL_REQUEST__INIT;
	cr.job_id = 5;
	rec = (Pacer__JournalRecord)PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_CANCEL;
	rec.job_cancel = &cr;
	append(j, &rec, seq++);

	Pacer__JobRequeue rq = PACER__JOB_REQUEUE__INIT;
	rq.job_id = 2;
	rq.reason = "node1 failed";
	rec = (Pacer__JournalRecord)PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_REQUEUE;
	rec.job_requeue = &rq;
	append(j, &rec, seq++);

	st.job_id = 3;
	st.n_alloc = 1;
	rec = (Pacer__JournalRecord)PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_START;
	rec.job_start = &st;
	append(j, &rec, seq++);

	Pacer__JobEnd en = PACER__JOB_END__INIT;
	en.job_id = 3;
	en.state = PACER__JOB_STATE__JOB_FAILED;
	en.exit_code = 1;
	en.end_time = 1764800200;
	en.reason = "NonZeroExitCode";
	rec = (Pacer__JournalRecord)PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_JOB_END;
	rec.job_end = &en;
	append(j, &rec, seq++);

	uint64_t gen = journal_generation(j);
	FUZZ_CHECK(journal_close(j) == 0, "close: %s", strerror(errno));
	put_state("snapshot-and-journal", dir, gen, 0, true);
	put_state("snapshot-and-journal-fix-crc", dir, gen, 1, true);
	put_state("journal-only", dir, gen, 0, false);
}

int main(int argc, char **argv)
{
	char err[512];
	struct topo *t;
	void *wire;
	size_t wlen;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	corpus = argv[1];
	fuzz_quiet_logs();
	FUZZ_CHECK(topo_load("pack:2 numa:2 core:2 pu:2", 0, &t, err, sizeof(err)) == 0, "%s", err);
	FUZZ_CHECK(topo_export(t, &wire, &wlen) == 0, "export");
	topo_destroy(t);
	uint8_t *z = malloc(wlen + 1);
	FUZZ_CHECK(z != NULL, "out of memory");
	z[0] = 'Z';
	memcpy(z + 1, wire, wlen);
	put("topo", "synthetic-2pack-wire.bin", z, wlen + 1);
	free(z);

	frames(wire, wlen);
	journals();
	free(wire);
	return 0;
}
