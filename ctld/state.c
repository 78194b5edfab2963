/* state.c - journal records applied to the job and node tables. */
#include "state.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arrayspec.h"
#include "blob.h"
#include "conf.h"
#include "ctld.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "node.h"
#include "step.h"

struct waiter {
	struct waiter *next;
	uint64_t ticket;
	void (*fn)(void *arg);
	void *arg;
};

static struct journal *journal;
static struct event *journal_ev;
static struct event *kick_ev; /* runs waiters already durable */
static struct waiter *whead, *wtail;
static uint64_t durable;        /* highest durable ticket */
static uint64_t last_seq;       /* seq of the last record applied */
static uint64_t since_snapshot; /* records since the last snapshot */

/* Recovery with --skip-bad-records: the records it skipped, and how many
 * of them came after the last job_submit it replayed. */
static bool skip_bad;
static struct state_skipped *skipped;
static size_t nskipped, skipped_since_submit;

/* Applying records -------------------------------------------------------*/

static void apply_start(const Pacer__JobStart *s)
{
	struct job *j = job_find(s->job_id);
	if (!j)
		return;
	if (job_set_alloc(j, s->alloc, s->n_alloc) < 0)
		log_err("job %u: out of memory recording its allocation", j->id);
	j->expected_start = 0;
	j->start_time = s->start_time;
	/* Of a list, the partition it runs in; records from before lists name
	 * none, and the job's one partition is right. */
	const struct conf_partition *part =
	    *s->partition ? conf_partition_find(ctld.conf, s->partition) : NULL;
	if (part)
		j->partition = (uint16_t)(part - ctld.conf->partitions);
	j->end_time = 0;
	blob_put(j->stdout_path);
	blob_put(j->stderr_path);
	j->stdout_path = blob_str(s->stdout_path);
	j->stderr_path = blob_str(s->stderr_path);
	job_set_reason(j, NULL);
	job_set_state(j, PACER__JOB_STATE__JOB_RUNNING);
	node_charge(j, true);
}

static void apply_end(const Pacer__JobEnd *e)
{
	struct job *j = job_find(e->job_id);
	if (!j)
		return;
	if (j->charged)
		node_charge(j, false);
	j->exit_code = e->exit_code;
	j->term_signal = e->term_signal;
	j->end_time = e->end_time;
	job_set_reason(j, e->reason);
	job_set_state(j, e->state);
	step_job_ended(j, e->state, e->end_time);
}

static void apply_requeue(const Pacer__JobRequeue *r)
{
	struct job *j = job_find(r->job_id);
	if (!j)
		return;
	job_clear_alloc(j);
	step_job_requeued(j);
	j->start_time = 0;
	j->requeue_count++;
	job_set_reason(j, r->reason);
	job_set_state(j, PACER__JOB_STATE__JOB_PENDING);
}

/* A job, or an array: one record, expanded here into a task per index
 * with consecutive ids, the same way live and on replay. */
static int apply_submit(Pacer__Job *pj)
{
	const char *spec = pj->spec ? pj->spec->array : NULL;
	if (!spec || !*spec || pj->array_job_id) {
		struct job *j = job_create(pj);
		if (!j)
			return -1;
		if (j->id >= ctld.next_job_id)
			ctld.next_job_id = j->id + 1;
		return 0;
	}
	uint32_t *idx, max_running;
	size_t n;
	char err[256];
	if (arrayspec_parse(spec, &idx, &n, &max_running, err, sizeof(err)) < 0) {
		log_err("job %u: %s", pj->id, err);
		return -1;
	}
	uint32_t first = pj->id;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		pj->id = first + (uint32_t)i;
		pj->array_job_id = first;
		pj->array_task_id = idx[i];
		struct job *j = job_create(pj);
		if (!j)
			rc = -1;
		else if (j->id >= ctld.next_job_id)
			ctld.next_job_id = j->id + 1;
	}
	pj->id = first;
	pj->array_job_id = 0;
	pj->array_task_id = 0;
	free(idx);
	return rc;
}

static int apply(const Pacer__JournalRecord *rec)
{
	last_seq = rec->seq;
	if (rec->epoch > ctld.epoch)
		ctld.epoch = rec->epoch;
	switch (rec->op_case) {
	case PACER__JOURNAL_RECORD__OP_JOB_SUBMIT:
		if (apply_submit(rec->job_submit) < 0)
			return -1;
		break;
	case PACER__JOURNAL_RECORD__OP_JOB_START: apply_start(rec->job_start); break;
	case PACER__JOURNAL_RECORD__OP_JOB_END: apply_end(rec->job_end); break;
	case PACER__JOURNAL_RECORD__OP_JOB_HOLD: {
		struct job *j = job_find(rec->job_hold->job_id);
		/* A job whose dependency cannot be read stays held: the
		 * controller refuses its release, and a release journaled by an
		 * older Pacer is ignored, so every replay gives the same job. */
		if (j && j->deps_unreadable && j->state == PACER__JOB_STATE__JOB_PENDING) {
			job_set_held(j, true);
			job_set_reason(j, "BadDependency");
		} else if (j) {
			job_set_held(j, rec->job_hold->held);
			job_set_reason(j, j->held ? "JobHeldUser" : NULL);
		}
		break;
	}
	case PACER__JOURNAL_RECORD__OP_JOB_CANCEL: {
		struct job *j = job_find(rec->job_cancel->job_id);
		if (j)
			j->cancel_requested = true;
		break;
	}
	case PACER__JOURNAL_RECORD__OP_JOB_REQUEUE: apply_requeue(rec->job_requeue); break;
	case PACER__JOURNAL_RECORD__OP_EPOCH_START: break;
	case PACER__JOURNAL_RECORD__OP_STEP_START: step_apply_start(rec->step_start); break;
	case PACER__JOURNAL_RECORD__OP_STEP_END: step_apply_end(rec->step_end); break;
	default:
		/* A record from a newer Pacer: refusing to go on is the only safe
		 * answer, guessing would corrupt the tables. */
		log_err("journal record %llu has an unknown type %d", (unsigned long long)rec->seq,
			(int)rec->op_case);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Recovery ---------------------------------------------------------------*/

static int load_snapshot(const uint8_t *buf, size_t len, const struct journal_pos *pos, void *arg)
{
	(void)pos;
	(void)arg;
	Pacer__Snapshot *s = pacer__snapshot__unpack(NULL, len, buf);
	if (!s) {
		log_err("snapshot cannot be decoded");
		errno = EBADMSG;
		return -1;
	}
	ctld.epoch = s->epoch;
	last_seq = s->last_seq;
	ctld.next_job_id = s->next_job_id;
	for (size_t i = 0; i < s->n_jobs; i++) {
		struct job *j = job_create(s->jobs[i]);
		if (!j) {
			log_err("snapshot job %u cannot be loaded: %s", s->jobs[i]->id,
				strerror(errno));
			pacer__snapshot__free_unpacked(s, NULL);
			return -1;
		}
		if (j->state == PACER__JOB_STATE__JOB_RUNNING)
			node_charge(j, true);
		if (j->id >= ctld.next_job_id)
			ctld.next_job_id = j->id + 1;
	}
	log_info("snapshot: %zu jobs, epoch %llu, seq %llu", s->n_jobs,
		 (unsigned long long)s->epoch, (unsigned long long)s->last_seq);
	pacer__snapshot__free_unpacked(s, NULL);
	return 0;
}

/* A record that cannot be decoded (written by a Pacer that journaled bytes
 * it could not read back), skipped: noted for pacer diag.  0 or -1. */
static int note_skipped(const struct journal_pos *pos)
{
	struct state_skipped *v = realloc(skipped, (nskipped + 1) * sizeof(*v));
	if (!v)
		return -1;
	skipped = v;
	v += nskipped;
	if (asprintf(&v->file, "%s.damaged", pos->file) < 0)
		return -1;
	v->offset = pos->offset;
	v->after_seq = last_seq;
	nskipped++;
	skipped_since_submit++;
	return 0;
}

static int load_record(const uint8_t *buf, size_t len, const struct journal_pos *pos, void *arg)
{
	size_t *count = arg;
	Pacer__JournalRecord *rec = pacer__journal_record__unpack(NULL, len, buf);
	if (!rec && !skip_bad) {
		log_err("the journal record after seq %llu in %s (at offset %llu) cannot be "
			"decoded, so the state cannot be recovered; to start without it, run "
			"pacerctld once with --skip-bad-records: it keeps a copy of the file as "
			"%s.damaged, logs the record and never reuses the job ids it may hold",
			(unsigned long long)last_seq, pos->file, (unsigned long long)pos->offset,
			pos->file);
		errno = EBADMSG;
		return -1;
	}
	if (!rec) {
		log_warn("skipped the journal record after seq %llu in %s (at offset %llu): it "
			 "cannot be decoded (--skip-bad-records); a copy of the file is kept as "
			 "%s.damaged",
			 (unsigned long long)last_seq, pos->file, (unsigned long long)pos->offset,
			 pos->file);
		return note_skipped(pos) < 0 ? -1 : JOURNAL_SET_ASIDE;
	}
	int rc = 0;
	if (rec->seq > last_seq) {
		if (rec->op_case == PACER__JOURNAL_RECORD__OP_JOB_SUBMIT)
			skipped_since_submit = 0;
		rc = apply(rec);
		(*count)++;
	}
	pacer__journal_record__free_unpacked(rec, NULL);
	return rc;
}

const struct state_skipped *state_skipped(size_t *n)
{
	*n = nskipped;
	return skipped;
}

static void skipped_free(void)
{
	for (size_t i = 0; i < nskipped; i++)
		free(skipped[i].file);
	free(skipped);
	skipped = NULL;
	nskipped = skipped_since_submit = 0;
}

/* Do packed bytes decode again as a DESC?  protobuf-c can pack what it
 * then refuses to unpack; nothing may reach the disk that recovery could
 * not read. */
static bool decodes(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len)
{
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, len, buf);
	if (!m)
		return false;
	protobuf_c_message_free_unpacked(m, NULL);
	return true;
}

static int put_varint(uint8_t *p, uint64_t v)
{
	int n = 0;
	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

/* Pack the whole state as a Snapshot.  Jobs are packed one by one straight
 * into the buffer (as repeated field 4) rather than built into one message
 * tree, so a snapshot of 100,000 jobs needs no second copy of them. */
static int snapshot_build(uint8_t **bufp, size_t *lenp)
{
	Pacer__Snapshot s = PACER__SNAPSHOT__INIT;
	s.epoch = ctld.epoch;
	s.last_seq = last_seq;
	s.next_job_id = ctld.next_job_id;
	s.time = ctld_now();
	size_t cap = 4096 + job_count() * 512, len = pacer__snapshot__get_packed_size(&s);
	uint8_t *buf = malloc(cap);
	if (!buf)
		return -1;
	pacer__snapshot__pack(&s, buf);
	/* Every part is checked as it is packed, rather than the whole at the
	 * end, which would need the second copy this way of packing avoids: a
	 * message whose fields each decode decodes whole. */
	if (!decodes(&pacer__snapshot__descriptor, buf, len)) {
		log_err("the snapshot header does not decode again once packed: no snapshot is "
			"written");
		errno = EBADMSG;
		goto failed;
	}
	for (struct job *j = job_first(); j; j = j->next) {
		struct job_proto p;
		if (job_to_proto(j, &p, true) < 0)
			goto failed;
		size_t sz = pacer__job__get_packed_size(&p.job);
		if (len + sz + 16 > cap) {
			size_t ncap = (len + sz + 16) * 2;
			uint8_t *nb = realloc(buf, ncap);
			if (!nb) {
				job_proto_release(&p);
				goto failed;
			}
			buf = nb;
			cap = ncap;
		}
		buf[len++] = (4 << 3) | 2; /* field 4 (jobs), length-delimited */
		len += (size_t)put_varint(buf + len, sz);
		size_t at = len;
		len += pacer__job__pack(&p.job, buf + len);
		job_proto_release(&p);
		if (!decodes(&pacer__job__descriptor, buf + at, len - at)) {
			log_err("job %u does not decode again once packed: no snapshot is written",
				j->id);
			errno = EBADMSG;
			goto failed;
		}
	}
	*bufp = buf;
	*lenp = len;
	return 0;
failed:
	if (errno != EBADMSG)
		errno = ENOMEM;
	free(buf);
	return -1;
}

/* Durability -------------------------------------------------------------*/

static void run_waiters(void)
{
	while (whead && whead->ticket <= durable) {
		struct waiter *w = whead;
		whead = w->next;
		if (!whead)
			wtail = NULL;
		w->fn(w->arg);
		free(w);
	}
}

static void on_journal(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	uint64_t d = journal_durable(journal);
	if (d == (uint64_t)-1) {
		/* Memory now holds changes the disk may not: acknowledging anything
		 * more could lose it.  Stop; a restart recovers what is on disk. */
		log_err("journal failed (%s): stopping so nothing unrecorded is acknowledged",
			strerror(errno));
		_exit(1);
	}
	durable = d;
	run_waiters();
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	run_waiters();
}

int state_after(uint64_t ticket, void (*fn)(void *arg), void *arg)
{
	struct waiter *w = malloc(sizeof(*w));
	if (!w)
		return -1;
	/* Waiters stay in ticket order so the queue is a plain FIFO. */
	if (wtail && wtail->ticket > ticket)
		ticket = wtail->ticket;
	*w = (struct waiter){ .ticket = ticket, .fn = fn, .arg = arg };
	if (wtail)
		wtail->next = w;
	else
		whead = w;
	wtail = w;
	if (ticket <= durable)
		event_active(kick_ev, EV_TIMEOUT, 0);
	return 0;
}

static void maybe_snapshot(void)
{
	if (++since_snapshot < ctld.conf->snapshot_interval)
		return;
	uint8_t *buf;
	size_t len;
	if (snapshot_build(&buf, &len) < 0) {
		log_err("cannot build a snapshot: %s (will retry)", strerror(errno));
		/* Building again at once would only fail again, at the cost of
		 * packing every job at every change. */
		if (errno == EBADMSG)
			since_snapshot = 0;
		return;
	}
	if (journal_rotate(journal, buf, len) < 0)
		log_err("cannot queue a snapshot: %s (will retry)", strerror(errno));
	else
		since_snapshot = 0;
	free(buf);
}

/* The job a record is about, 0 for none. */
static uint32_t record_job(const Pacer__JournalRecord *rec)
{
	switch (rec->op_case) {
	case PACER__JOURNAL_RECORD__OP_JOB_SUBMIT: return rec->job_submit->id;
	case PACER__JOURNAL_RECORD__OP_JOB_START: return rec->job_start->job_id;
	case PACER__JOURNAL_RECORD__OP_JOB_END: return rec->job_end->job_id;
	case PACER__JOURNAL_RECORD__OP_JOB_HOLD: return rec->job_hold->job_id;
	case PACER__JOURNAL_RECORD__OP_JOB_CANCEL: return rec->job_cancel->job_id;
	case PACER__JOURNAL_RECORD__OP_JOB_REQUEUE: return rec->job_requeue->job_id;
	case PACER__JOURNAL_RECORD__OP_STEP_START: return rec->step_start->job_id;
	case PACER__JOURNAL_RECORD__OP_STEP_END: return rec->step_end->job_id;
	default: return 0;
	}
}

uint64_t state_commit(Pacer__JournalRecord *rec)
{
	rec->epoch = ctld.epoch;
	rec->seq = last_seq + 1;
	rec->time = ctld_now();
	size_t len = pacer__journal_record__get_packed_size(rec);
	uint8_t stackbuf[4096], *buf = len <= sizeof(stackbuf) ? stackbuf : malloc(len);
	if (!buf)
		return 0;
	pacer__journal_record__pack(rec, buf);
	uint64_t ticket = 0;
	if (decodes(&pacer__journal_record__descriptor, buf, len)) {
		ticket = journal_append(journal, buf, len);
	} else {
		const ProtobufCFieldDescriptor *op = protobuf_c_message_descriptor_get_field(
		    &pacer__journal_record__descriptor, (unsigned)rec->op_case);
		char what[96];
		uint32_t id = record_job(rec);
		if (id)
			snprintf(what, sizeof(what), "the %s record of job %u", op ? op->name : "?",
				 id);
		else
			snprintf(what, sizeof(what), "a %s record", op ? op->name : "journal");
		log_err("refused %s: once packed it does not decode again, so the change is "
			"neither journaled nor applied",
			what);
		errno = EBADMSG;
	}
	int saved = errno;
	if (buf != stackbuf)
		free(buf);
	errno = saved;
	if (ticket == 0)
		return 0;
	if (apply(rec) < 0) {
		/* The record is already queued: memory and disk would disagree. */
		log_err("cannot apply journal record %llu: %s", (unsigned long long)rec->seq,
			strerror(errno));
		_exit(1);
	}
	maybe_snapshot();
	return ticket;
}

void state_purge(void)
{
	int64_t cutoff = ctld_now() - (int64_t)ctld.conf->min_job_age;
	struct job *next;
	size_t n = 0;
	for (struct job *j = job_first(); j; j = next) {
		next = j->next;
		if (job_state_final(j->state) && j->end_time <= cutoff) {
			job_destroy(j);
			n++;
		}
	}
	if (n)
		log_debug("forgot %zu finished jobs", n);
}

/* Records the journal had to drop may have given out job ids, acknowledged
 * ones even when the loss is damage in the middle of a file.  Each record
 * gives at most one id and takes JOURNAL_RECORD_MIN bytes or more, so
 * skipping that many ids guarantees none is ever handed out twice. */
static void skip_lost_ids(void)
{
	uint64_t lost = journal_dropped(journal) / JOURNAL_RECORD_MIN;
	if (lost == 0)
		return;
	uint64_t next = (uint64_t)ctld.next_job_id + lost + 1;
	if (next > UINT32_MAX - 1)
		next = UINT32_MAX - 1;
	log_warn("the journal lost up to %llu records: job ids continue at %llu instead of %u, "
		 "so no id is ever given twice",
		 (unsigned long long)lost, (unsigned long long)next, ctld.next_job_id);
	ctld.next_job_id = (uint32_t)next;
}

/* A record skipped as undecodable may have been a submit, of up to an
 * array's largest number of tasks.  Ids only grow in journal order, so only
 * those skipped after the last submit replayed can hold ids above it. */
static void skip_skipped_ids(void)
{
	if (nskipped)
		log_warn(
		    "skipped %zu journal record%s that cannot be decoded (pacer diag lists %s)",
		    nskipped, nskipped == 1 ? "" : "s", nskipped == 1 ? "it" : "them");
	if (skipped_since_submit == 0)
		return;
	uint64_t next =
	    (uint64_t)ctld.next_job_id + (uint64_t)skipped_since_submit * ARRAYSPEC_MAX_TASKS;
	if (next > UINT32_MAX - 1)
		next = UINT32_MAX - 1;
	log_warn("job ids continue at %llu instead of %u, so no id a skipped record may hold "
		 "is ever given again",
		 (unsigned long long)next, ctld.next_job_id);
	ctld.next_job_id = (uint32_t)next;
}

int state_recover(bool skip_bad_records)
{
	size_t nrec = 0;
	skipped_free();
	skip_bad = skip_bad_records;
	last_seq = durable = since_snapshot = 0; /* a state shut down may start again */
	if (journal_open(ctld.conf->state_dir, load_snapshot, load_record, &nrec, &journal) < 0) {
		log_err("cannot recover the state in %s: %s", ctld.conf->state_dir,
			strerror(errno));
		return -1;
	}
	state_purge();
	if (ctld.next_job_id == 0)
		ctld.next_job_id = 1;
	skip_lost_ids();
	skip_skipped_ids();
	ctld.epoch++;
	uint8_t *buf;
	size_t len;
	if (snapshot_build(&buf, &len) < 0 || journal_start(journal, buf, len) < 0) {
		log_err("cannot write a new snapshot in %s: %s", ctld.conf->state_dir,
			strerror(errno));
		return -1;
	}
	free(buf);
	journal_ev =
	    event_new(ctld.base, journal_fd(journal), EV_READ | EV_PERSIST, on_journal, NULL);
	kick_ev = event_new(ctld.base, -1, 0, on_kick, NULL);
	if (!journal_ev || !kick_ev || event_add(journal_ev, NULL) < 0)
		return -1;
	log_info("recovered %zu jobs (%zu journal records replayed); epoch %llu, next job id %u",
		 job_count(), nrec, (unsigned long long)ctld.epoch, ctld.next_job_id);

	Pacer__EpochStart es = PACER__EPOCH_START__INIT;
	es.epoch = ctld.epoch;
	es.controller = ctld.listen_host;
	Pacer__JournalRecord rec = PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_EPOCH_START;
	rec.epoch_start = &es;
	return state_commit(&rec) ? 0 : -1;
}

void state_shutdown(void)
{
	if (!journal)
		return;
	if (journal_close(journal) < 0)
		log_err("final journal writes failed: %s", strerror(errno));
	journal = NULL;
	skipped_free();
	durable = UINT64_MAX - 1;
	if (journal_ev)
		event_free(journal_ev);
	if (kick_ev)
		event_free(kick_ev);
	journal_ev = kick_ev = NULL;
	/* Waiters left now are requests whose records just became durable. */
	run_waiters();
}

/* Shorthands -------------------------------------------------------------*/

#define RECORD(field, CASE, value)                              \
	Pacer__JournalRecord rec = PACER__JOURNAL_RECORD__INIT; \
	rec.op_case = PACER__JOURNAL_RECORD__OP_##CASE;         \
	rec.field = (value)

uint64_t state_submit(Pacer__Job *job)
{
	RECORD(job_submit, JOB_SUBMIT, job);
	return state_commit(&rec);
}

uint64_t state_start(struct job *j, const char *partition, const Pacer__NodeAlloc *const *alloc,
		     size_t nalloc, const char *stdout_path, const char *stderr_path)
{
	Pacer__JobStart s = PACER__JOB_START__INIT;
	s.job_id = j->id;
	s.start_time = ctld_now();
	s.alloc = (Pacer__NodeAlloc **)alloc;
	s.n_alloc = nalloc;
	s.stdout_path = (char *)stdout_path;
	s.stderr_path = (char *)stderr_path;
	s.partition = (char *)partition;
	RECORD(job_start, JOB_START, &s);
	return state_commit(&rec);
}

uint64_t state_end(struct job *j, Pacer__JobState st, int exit_code, int term_signal,
		   int64_t end_time, const char *reason)
{
	Pacer__JobEnd e = PACER__JOB_END__INIT;
	e.job_id = j->id;
	e.state = st;
	e.exit_code = exit_code;
	e.term_signal = term_signal;
	e.end_time = end_time;
	e.reason = (char *)(reason ? reason : "");
	RECORD(job_end, JOB_END, &e);
	return state_commit(&rec);
}

uint64_t state_hold(struct job *j, bool held)
{
	Pacer__JobHold h = PACER__JOB_HOLD__INIT;
	h.job_id = j->id;
	h.held = held;
	RECORD(job_hold, JOB_HOLD, &h);
	return state_commit(&rec);
}

uint64_t state_cancel_request(struct job *j)
{
	Pacer__JobCancelRequest c = PACER__JOB_CANCEL_REQUEST__INIT;
	c.job_id = j->id;
	RECORD(job_cancel, JOB_CANCEL, &c);
	return state_commit(&rec);
}

uint64_t state_requeue(struct job *j, const char *reason)
{
	Pacer__JobRequeue r = PACER__JOB_REQUEUE__INIT;
	r.job_id = j->id;
	r.reason = (char *)(reason ? reason : "");
	RECORD(job_requeue, JOB_REQUEUE, &r);
	return state_commit(&rec);
}
