/* rpc.c - the controller's client side: one authenticated connection per
 * `pacer` command, one request and one reply on it.
 *
 * Replies that report a change (submit, cancel, hold) are sent only once the
 * change is durable; the client may be gone by then, so requests hold a
 * reference on their client rather than on the connection.
 */
#include "rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <pwd.h>

#include "blob.h"
#include "conf.h"
#include "conn.h"
#include "ctld.h"
#include "frame.h"
#include "hostlist.h"
#include "job.h"
#include "log.h"
#include "node.h"
#include "sched.h"
#include "state.h"
#include "step.h"
#include "submit.h"
#include "topocache.h"

#define CLIENT_IDLE_MS 60000

struct client {
	struct conn *c; /* NULL once the connection is gone */
	int refs;
	uid_t uid;
	gid_t gid;
	bool admin;
	char user[64];
	struct step_req *step; /* a step request not answered yet (holds a ref) */
	uint32_t step_seq;
};

static struct evconnlistener *listener;
static struct conn_cfg client_cfg;

static struct client *client_ref(struct client *cl)
{
	cl->refs++;
	return cl;
}

static void client_put(struct client *cl)
{
	if (--cl->refs == 0)
		free(cl);
}

static void reply(struct client *cl, uint32_t seq, Pacer__Msg *m)
{
	if (!cl->c)
		return;
	m->seq = seq;
	conn_send(cl->c, m);
}

static void reply_error(struct client *cl, uint32_t seq, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply_error(struct client *cl, uint32_t seq, int code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (cl->c)
		conn_send_error(cl->c, seq, code, "%s", text);
}

static bool may_act_on(const struct client *cl, const struct job *j)
{
	return cl->admin || cl->uid == j->uid;
}

/* submit -----------------------------------------------------------------*/

struct pending_reply {
	struct client *cl;
	uint32_t seq;
	uint32_t job_id;
	uint32_t ntasks; /* submit: jobs recorded (tasks of an array) */
	size_t n;
	uint32_t *signal; /* running jobs to terminate once durable */
	Pacer__JobResult *results;
	Pacer__JobResult **resultp;
	bool hold;
};

static void pending_free(struct pending_reply *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->results[i].message);
	free(p->results);
	free(p->resultp);
	free(p->signal);
	client_put(p->cl);
	free(p);
}

static void submit_durable(void *arg)
{
	struct pending_reply *p = arg;
	for (uint32_t k = 0; k < p->ntasks; k++) {
		struct job *j = job_find(p->job_id + k);
		if (j)
			j->unrecorded = false;
	}
	Pacer__SubmitReply r = PACER__SUBMIT_REPLY__INIT;
	r.job_id = p->job_id;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_SUBMIT_REPLY;
	m.submit_reply = &r;
	reply(p->cl, p->seq, &m);
	pending_free(p);
}

static void do_submit(struct client *cl, uint32_t seq, Pacer__SubmitRequest *req)
{
	char why[1024];
	if (!req->spec) {
		reply_error(cl, seq, EINVAL, "submit without a job description");
		return;
	}
	const struct submitter who = {
		.uid = cl->uid, .gid = cl->gid, .user = cl->user, .admin = cl->admin
	};
	struct submit sub;
	if (submit_check(&who, req->spec, &sub, why, sizeof(why)) < 0) {
		reply_error(cl, seq, errno, "%s", why);
		return;
	}
	Pacer__Job j;
	submit_job(&who, &sub, ctld.next_job_id, ctld_now(), ctld.epoch, &j);
	struct pending_reply *p = calloc(1, sizeof(*p));
	if (!p) {
		reply_error(cl, seq, ENOMEM, "the controller is out of memory (try again later)");
		return;
	}
	uint64_t t = state_submit(&j);
	if (!t) {
		int err = errno;
		free(p);
		if (err == EBADMSG)
			reply_error(
			    cl, seq, EBADMSG,
			    "the controller refused the job: its record would not read back "
			    "from the journal (the controller's log has the details)");
		else
			reply_error(cl, seq, EIO, "the controller cannot record the job: %s",
				    strerror(err));
		return;
	}
	uint32_t ntasks = sub.ntasks;
	for (uint32_t k = 0; k < ntasks; k++) {
		struct job *job = job_find(j.id + k);
		if (job)
			job->unrecorded = true;
	}
	*p = (struct pending_reply){
		.cl = client_ref(cl), .seq = seq, .job_id = j.id, .ntasks = ntasks
	};
	if (state_after(t, submit_durable, p) < 0) {
		/* No reply then (the client sees the connection end), but the job
		 * is recorded all the same: it must not stay hidden. */
		for (uint32_t k = 0; k < ntasks; k++) {
			struct job *job = job_find(j.id + k);
			if (job)
				job->unrecorded = false;
		}
		pending_free(p);
	}
	sched_request();
}

/* steps ------------------------------------------------------------------*/

/* The step request of CL is answered (step.h): the step started, or cannot. */
static void step_answered(void *arg, Pacer__Msg *m)
{
	struct client *cl = arg;
	cl->step = NULL;
	reply(cl, cl->step_seq, m);
	client_put(cl);
}

/* CL went away or misbehaved: its step request goes too. */
static void step_forget(struct client *cl)
{
	if (!cl->step)
		return;
	step_request_drop(cl->step);
	cl->step = NULL;
	/* The request's reference: the caller still holds the connection's,
	 * so this never frees CL (and says so to the compiler). */
	cl->refs--;
}

static void do_step_create(struct client *cl, uint32_t seq, Pacer__StepCreateRequest *req)
{
	char why[1024];
	int code;
	if (cl->step) {
		reply_error(cl, seq, EBUSY,
			    "this connection already waits for a step: one step request per "
			    "connection");
		return;
	}
	cl->step_seq = seq;
	struct step_req *r = step_request(req, cl->uid, cl->admin, step_answered, client_ref(cl),
					  &code, why, sizeof(why));
	if (!r) {
		client_put(cl);
		reply_error(cl, seq, code, "%s", why);
		return;
	}
	cl->step = r;
	/* A step may wait long for cores: the connection stays as long. */
	if (cl->c)
		conn_set_idle_timeout(cl->c, 0);
}

/* queue ------------------------------------------------------------------*/

/* Does J match a list of ids (an array's id matching all its tasks) and
 * task references? */
static bool id_matches(const struct job *j, const uint32_t *ids, size_t nids,
		       Pacer__ArrayTaskRef *const *tasks, size_t ntasks)
{
	for (size_t i = 0; i < nids; i++)
		if (ids[i] == j->id || (j->array_job_id && ids[i] == j->array_job_id))
			return true;
	for (size_t i = 0; i < ntasks; i++)
		if (j->array_job_id && tasks[i]->array_job_id == j->array_job_id &&
		    tasks[i]->task_id == j->array_task_id)
			return true;
	return false;
}

static bool wanted(const Pacer__QueueRequest *q, const struct job *j)
{
	if (j->unrecorded)
		return false;
	if ((q->n_job_ids || q->n_tasks) &&
	    !id_matches(j, q->job_ids, q->n_job_ids, q->tasks, q->n_tasks))
		return false;
	if (q->n_uids) {
		bool found = false;
		for (size_t i = 0; i < q->n_uids && !found; i++)
			found = q->uids[i] == j->uid;
		if (!found)
			return false;
	}
	if (q->n_states) {
		for (size_t i = 0; i < q->n_states; i++)
			if (q->states[i] == (Pacer__JobState)j->state)
				return true;
		return false;
	}
	/* Asking for jobs by id shows them whatever their state, as squeue -j. */
	return q->all || q->n_job_ids || q->n_tasks || !job_state_final(j->state);
}

static char *nodelist_of(const struct job *j)
{
	if (!j->nalloc)
		return NULL;
	struct hostlist *hl = hostlist_create();
	for (uint32_t i = 0; hl && i < j->nalloc; i++)
		hostlist_append(hl, node_name_at(j->alloc[i].node));
	char *s = hl ? hostlist_encode_alloc(hl) : NULL;
	hostlist_destroy(hl);
	return s;
}

static void do_queue(struct client *cl, uint32_t seq, Pacer__QueueRequest *q)
{
	size_t n = 0, cap = 0;
	for (struct job *j = job_first(); j; j = j->next)
		if (wanted(q, j))
			cap++;
	Pacer__QueueReply r = PACER__QUEUE_REPLY__INIT;
	r.now = ctld_now();
	Pacer__JobSummary *sums = NULL, **sump = NULL;
	struct step_protos steps = { 0 };
	struct job_proto *full = NULL;
	Pacer__Job **fullp = NULL;
	char **lists = calloc(cap ? cap : 1, sizeof(*lists));
	if (q->full) {
		full = calloc(cap ? cap : 1, sizeof(*full));
		fullp = calloc(cap ? cap : 1, sizeof(*fullp));
	} else {
		sums = calloc(cap ? cap : 1, sizeof(*sums));
		sump = calloc(cap ? cap : 1, sizeof(*sump));
	}
	if (!lists || (q->full ? !full || !fullp : !sums || !sump)) {
		reply_error(cl, seq, ENOMEM, "the controller is out of memory (try again later)");
		goto done;
	}
	for (struct job *j = job_first(); j && n < cap; j = j->next) {
		if (!wanted(q, j))
			continue;
		if (q->full) {
			if (job_to_proto(j, &full[n], false) < 0)
				continue;
			/* The arguments, for show job's Args= (not the script nor the
			 * environment: they can be megabytes). */
			if (blob_strv_split(j->argv, &full[n].argv, &full[n].spec.n_argv) == 0)
				full[n].spec.argv = full[n].argv;
			fullp[n] = &full[n].job;
		} else {
			lists[n] = nodelist_of(j);
			job_to_summary(j, &sums[n], lists[n]);
			sump[n] = &sums[n];
		}
		if (q->steps && step_protos_add(j, q->all, true, &steps) < 0) {
			n++;
			reply_error(cl, seq, ENOMEM,
				    "the controller is out of memory (try again later)");
			goto done;
		}
		n++;
	}
	r.steps = steps.p;
	r.n_steps = steps.n;
	if (q->full) {
		r.full = fullp;
		r.n_full = n;
	} else {
		r.jobs = sump;
		r.n_jobs = n;
	}
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_QUEUE_REPLY;
	m.queue_reply = &r;
	reply(cl, seq, &m);
done:
	for (size_t i = 0; i < n; i++) {
		free(lists[i]);
		if (full)
			job_proto_release(&full[i]);
	}
	free(lists);
	free(full);
	free(fullp);
	free(sums);
	free(sump);
	step_protos_release(&steps);
}

/* cancel and hold ------------------------------------------------------------*/

static void results_durable(void *arg)
{
	struct pending_reply *p = arg;
	/* Terminate only once the cancel is recorded, so a controller restart
	 * can never find a killed job it believes should still run. */
	for (size_t i = 0; p->signal && i < p->n; i++) {
		struct job *j = p->signal[i] ? job_find(p->signal[i]) : NULL;
		if (j && j->state == PACER__JOB_STATE__JOB_RUNNING && !j->launch_pending)
			node_signal(j, SIGTERM, true);
	}
	Pacer__Msg m = PACER__MSG__INIT;
	Pacer__CancelReply cr = PACER__CANCEL_REPLY__INIT;
	Pacer__HoldReply hr = PACER__HOLD_REPLY__INIT;
	if (p->hold) {
		hr.results = p->resultp;
		hr.n_results = p->n;
		m.body_case = PACER__MSG__BODY_HOLD_REPLY;
		m.hold_reply = &hr;
	} else {
		cr.results = p->resultp;
		cr.n_results = p->n;
		m.body_case = PACER__MSG__BODY_CANCEL_REPLY;
		m.cancel_reply = &cr;
	}
	reply(p->cl, p->seq, &m);
	pending_free(p);
}

static struct pending_reply *results_new(struct client *cl, uint32_t seq, size_t n, bool hold)
{
	struct pending_reply *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->cl = client_ref(cl);
	p->seq = seq;
	p->hold = hold;
	p->results = calloc(n ? n : 1, sizeof(*p->results));
	p->resultp = calloc(n ? n : 1, sizeof(*p->resultp));
	p->signal = calloc(n ? n : 1, sizeof(*p->signal));
	if (!p->results || !p->resultp || !p->signal) {
		pending_free(p);
		return NULL;
	}
	return p;
}

static void result(struct pending_reply *p, uint32_t id, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void result(struct pending_reply *p, uint32_t id, int code, const char *fmt, ...)
{
	Pacer__JobResult *r = &p->results[p->n];
	pacer__job_result__init(r);
	r->job_id = id;
	r->code = code;
	char text[256] = "";
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
	}
	r->message = strdup(text);
	p->resultp[p->n] = r;
	p->n++;
}

/* The jobs a request names: plain ids (an array's id standing for all its
 * tasks) and array task references, each with the label users gave. */
struct target {
	uint32_t id; /* job id; for a missing task, 0 */
	char label[24];
};
struct targets {
	struct target *v;
	size_t n, cap;
};

static int target_add(struct targets *tg, uint32_t id, const char *label)
{
	if (tg->n == tg->cap) {
		size_t cap = tg->cap ? tg->cap * 2 : 16;
		struct target *nv = realloc(tg->v, cap * sizeof(*nv));
		if (!nv)
			return -1;
		tg->v = nv;
		tg->cap = cap;
	}
	tg->v[tg->n].id = id;
	snprintf(tg->v[tg->n].label, sizeof(tg->v[tg->n].label), "%s", label);
	tg->n++;
	return 0;
}

/* WANT says which tasks an array's id stands for (unfinished ones for a
 * cancel, pending ones for a hold), as scancel does; when none is left the
 * array's id itself is the target, so the user hears why nothing happened. */
static int targets_resolve(struct targets *tg, const uint32_t *ids, size_t nids,
			   Pacer__ArrayTaskRef *const *tasks, size_t ntasks,
			   bool (*want)(const struct job *j))
{
	memset(tg, 0, sizeof(*tg));
	char label[24];
	for (size_t i = 0; i < nids; i++) {
		struct job *j = job_find(ids[i]);
		size_t before = tg->n;
		if (j && j->array_job_id == j->id) {
			for (; j && j->array_job_id == ids[i]; j = j->next) {
				if (!want(j))
					continue;
				job_format_id(j, label, sizeof(label));
				if (target_add(tg, j->id, label) < 0)
					return -1;
			}
		}
		if (tg->n == before) {
			j = job_find(ids[i]);
			if (j)
				job_format_id(j, label, sizeof(label));
			else
				snprintf(label, sizeof(label), "%u", ids[i]);
			if (target_add(tg, ids[i], label) < 0)
				return -1;
		}
	}
	for (size_t i = 0; i < ntasks; i++) {
		uint32_t a = tasks[i]->array_job_id, t = tasks[i]->task_id, id = 0;
		for (struct job *j = job_find(a); j && j->array_job_id == a; j = j->next)
			if (j->array_task_id == t) {
				id = j->id;
				break;
			}
		snprintf(label, sizeof(label), "%u_%u", a, t);
		if (target_add(tg, id, label) < 0)
			return -1;
	}
	return 0;
}

static bool unfinished(const struct job *j)
{
	return !job_state_final(j->state);
}

static bool pending(const struct job *j)
{
	return j->state == PACER__JOB_STATE__JOB_PENDING;
}

static void targets_free(struct targets *tg)
{
	free(tg->v);
	memset(tg, 0, sizeof(*tg));
}

/* Cancel or signal one job; returns the ticket of what it recorded, or 0. */
static uint64_t cancel_one(struct client *cl, struct pending_reply *p, struct job *j, int sig)
{
	size_t slot = p->n;
	char id[24];
	job_format_id(j, id, sizeof(id));
	if (!may_act_on(cl, j)) {
		result(p, j->id, EPERM, "job %s belongs to %s, not to you", id, j->user->data);
		return 0;
	}
	if (job_state_final(j->state)) {
		result(p, j->id, EALREADY, "job %s has already finished (%s)", id,
		       job_state_name(j->state));
		return 0;
	}
	if (sig) {
		if (j->state != PACER__JOB_STATE__JOB_RUNNING || j->launch_pending) {
			result(p, j->id, ESRCH, "job %s is not running: nothing to signal", id);
			return 0;
		}
		if (node_signal(j, sig, false) < 0) {
			result(p, j->id, EHOSTUNREACH,
			       "job %s runs on node %s, which cannot be reached now (try again "
			       "later)",
			       id, node_name_at(j->alloc[0].node));
			return 0;
		}
		result(p, j->id, 0, NULL);
		return 0;
	}
	uint64_t t = 0;
	char why[128];
	snprintf(why, sizeof(why), "cancelled by %s", cl->user);
	if (j->state == PACER__JOB_STATE__JOB_PENDING) {
		t = state_end(j, PACER__JOB_STATE__JOB_CANCELLED, 0, 0, ctld_now(), why);
	} else if (!j->cancel_requested) {
		t = state_cancel_request(j);
		p->signal[slot] = j->id;
	} else {
		p->signal[slot] = j->id; /* asked again: send the signal again */
	}
	log_info("job %u %s by %s", j->id, t ? "cancel recorded" : "cancel repeated", cl->user);
	result(p, j->id, 0, NULL);
	return t;
}

/* Cancel or signal one step: nothing is journaled (its nodes report it
 * CANCELLED), so the result is known at once. */
static void cancel_step(struct client *cl, struct pending_reply *p, const Pacer__StepRef *ref,
			int sig)
{
	struct job *j = job_find(ref->job_id);
	char why[256];
	size_t slot = p->n;
	if (!j || j->unrecorded)
		result(p, ref->job_id, ENOENT, "job %u does not exist", ref->job_id);
	else if (!may_act_on(cl, j))
		result(p, j->id, EPERM, "job %u belongs to %s, not to you", j->id, j->user->data);
	else if (step_cancel(j, ref->step_id, sig, why, sizeof(why)) < 0)
		result(p, j->id, errno, "%s", why);
	else {
		log_info("step %u.%u %s by %s", j->id, ref->step_id,
			 sig ? "signalled" : "cancelled", cl->user);
		result(p, j->id, 0, NULL);
	}
	p->results[slot].step_id = ref->step_id;
	p->results[slot].has_step = true;
}

static void finish_results(struct pending_reply *p, uint64_t last)
{
	if (state_after(last, results_durable, p) < 0)
		pending_free(p);
}

/* End one alloc_only job as its command ended (CancelRequest.release):
 * nothing is journaled here, the node's JobEnded is. */
static void release_one(struct client *cl, struct pending_reply *p, struct job *j,
			int32_t exit_code)
{
	char id[24];
	job_format_id(j, id, sizeof(id));
	if (!may_act_on(cl, j))
		result(p, j->id, EPERM, "job %s belongs to %s, not to you", id, j->user->data);
	else if (!j->alloc_only)
		result(p, j->id, EINVAL,
		       "job %s is a batch job, not an allocation: it ends with its script (cancel "
		       "it with pacer cancel %s)",
		       id, id);
	else if (job_state_final(j->state))
		result(p, j->id, EALREADY, "job %s has already finished (%s)", id,
		       job_state_name(j->state));
	else if (j->state != PACER__JOB_STATE__JOB_RUNNING)
		result(p, j->id, EBUSY, "job %s has not started: cancel it with pacer cancel %s",
		       id, id);
	else if (j->launch_pending)
		result(p, j->id, EAGAIN, "job %s is starting: release it again in a moment", id);
	else if (node_release(j, exit_code) < 0)
		result(p, j->id, EHOSTUNREACH,
		       "job %s runs on node %s, which cannot be reached now (try again later)", id,
		       node_name_at(j->alloc[0].node));
	else {
		log_info("job %u released by %s (exit %d)", j->id, cl->user, exit_code);
		result(p, j->id, 0, NULL);
	}
}

static void do_release(struct client *cl, uint32_t seq, Pacer__CancelRequest *req)
{
	if (req->by_user || req->signal || req->n_steps || req->n_tasks) {
		reply_error(cl, seq, EINVAL,
			    "a release names jobs by id only (no --user, signal, step or array "
			    "task)");
		return;
	}
	struct pending_reply *p = results_new(cl, seq, req->n_job_ids, false);
	if (!p) {
		reply_error(cl, seq, ENOMEM, "the controller is out of memory (try again later)");
		return;
	}
	for (size_t i = 0; i < req->n_job_ids; i++) {
		struct job *j = job_find(req->job_ids[i]);
		if (!j || j->unrecorded)
			result(p, req->job_ids[i], ENOENT, "job %u does not exist",
			       req->job_ids[i]);
		else
			release_one(cl, p, j, req->exit_code);
	}
	finish_results(p, 0);
}

static void do_cancel(struct client *cl, uint32_t seq, Pacer__CancelRequest *req)
{
	if (req->release) {
		do_release(cl, seq, req);
		return;
	}
	if (req->signal < 0 || req->signal >= NSIG) {
		reply_error(cl, seq, EINVAL, "%d is not a signal number (give 1 to %d)",
			    req->signal, NSIG - 1);
		return;
	}
	if (req->by_user && req->uid != cl->uid && !cl->admin) {
		reply_error(cl, seq, EPERM, "only an administrator may cancel another user's jobs");
		return;
	}
	struct targets tg;
	if (targets_resolve(&tg, req->job_ids, req->n_job_ids, req->tasks, req->n_tasks,
			    unfinished) < 0) {
		targets_free(&tg);
		reply_error(cl, seq, ENOMEM, "the controller is out of memory (try again later)");
		return;
	}
	size_t n = tg.n + req->n_steps;
	if (req->by_user)
		for (struct job *j = job_first(); j; j = j->next)
			n += j->uid == req->uid && !job_state_final(j->state);
	struct pending_reply *p = results_new(cl, seq, n, false);
	if (!p) {
		targets_free(&tg);
		reply_error(cl, seq, ENOMEM, "the controller is out of memory (try again later)");
		return;
	}
	uint64_t last = 0, t;
	for (size_t i = 0; i < tg.n; i++) {
		struct job *j = job_find(tg.v[i].id);
		if (!j)
			result(p, tg.v[i].id, ENOENT, "job %s does not exist", tg.v[i].label);
		else if ((t = cancel_one(cl, p, j, req->signal)) > last)
			last = t;
	}
	targets_free(&tg);
	for (size_t i = 0; i < req->n_steps; i++)
		cancel_step(cl, p, req->steps[i], req->signal);
	if (req->by_user) {
		struct job *next;
		for (struct job *j = job_first(); j && p->n < n; j = next) {
			next = j->next;
			if (j->uid == req->uid && !job_state_final(j->state) &&
			    (t = cancel_one(cl, p, j, req->signal)) > last)
				last = t;
		}
	}
	finish_results(p, last);
	sched_request();
}

static void do_hold(struct client *cl, uint32_t seq, Pacer__HoldRequest *req)
{
	struct targets tg;
	if (targets_resolve(&tg, req->job_ids, req->n_job_ids, req->tasks, req->n_tasks, pending) <
	    0) {
		targets_free(&tg);
		reply_error(cl, seq, ENOMEM, "the controller is out of memory (try again later)");
		return;
	}
	struct pending_reply *p = results_new(cl, seq, tg.n, true);
	if (!p) {
		targets_free(&tg);
		reply_error(cl, seq, ENOMEM, "the controller is out of memory (try again later)");
		return;
	}
	uint64_t last = 0;
	for (size_t i = 0; i < tg.n; i++) {
		uint32_t id = tg.v[i].id;
		struct job *j = job_find(id);
		if (!j)
			result(p, id, ENOENT, "job %s does not exist", tg.v[i].label);
		else if (!may_act_on(cl, j))
			result(p, id, EPERM, "job %s belongs to %s, not to you", tg.v[i].label,
			       j->user->data);
		else if (j->state != PACER__JOB_STATE__JOB_PENDING)
			result(p, id, EBUSY, "job %s is %s: only pending jobs can be %s",
			       tg.v[i].label, job_state_name(j->state),
			       req->release ? "released" : "held");
		else if (req->release && j->deps_unreadable)
			result(
			    p, id, EINVAL,
			    "job %s cannot be released: its dependency '%s' cannot be read (cancel "
			    "it and submit it again)",
			    tg.v[i].label, (const char *)j->dependency->data);
		else {
			if (j->held == req->release) {
				uint64_t t = state_hold(j, !req->release);
				if (t > last)
					last = t;
			}
			result(p, id, 0, NULL);
		}
	}
	targets_free(&tg);
	finish_results(p, last);
	if (req->release)
		sched_request();
}

/* nodes ------------------------------------------------------------------*/

static void do_nodes(struct client *cl, uint32_t seq, const Pacer__NodesRequest *req)
{
	size_t total = node_count(), n = 0;
	size_t *which = calloc(total ? total : 1, sizeof(*which));
	Pacer__NodeInfo *infos = calloc(total ? total : 1, sizeof(*infos));
	Pacer__NodeInfo **infop = calloc(total ? total : 1, sizeof(*infop));
	struct node_info_scratch *scratch = calloc(total ? total : 1, sizeof(*scratch));
	char ***parts = calloc(total ? total : 1, sizeof(*parts));
	uint32_t **jobs = calloc(total ? total : 1, sizeof(*jobs));
	size_t *njobs = calloc(total ? total : 1, sizeof(*njobs));
	size_t filled = 0;
	if (!which || !infos || !infop || !scratch || !parts || !jobs || !njobs) {
		reply_error(cl, seq, ENOMEM, "the controller is out of memory (try again later)");
		goto done;
	}
	if (req->n_names) {
		for (size_t k = 0; k < req->n_names; k++) {
			long idx = node_index(req->names[k]);
			if (idx < 0) {
				reply_error(
				    cl, seq, ENOENT,
				    "node %s is not in this cluster (pacer nodes lists them)",
				    req->names[k]);
				goto done;
			}
			which[n++] = (size_t)idx;
		}
	} else {
		for (size_t i = 0; i < total; i++)
			which[n++] = i;
	}
	for (struct job *j = job_first(); j; j = j->next)
		if (j->state == PACER__JOB_STATE__JOB_RUNNING && !j->unrecorded)
			for (uint32_t a = 0; a < j->nalloc; a++)
				njobs[j->alloc[a].node]++;
	for (size_t k = 0; k < n; k++) {
		size_t i = which[k];
		if (node_to_info(node_at(i), &infos[k], req->layout, &scratch[k]) < 0) {
			reply_error(cl, seq, ENOMEM,
				    "the controller is out of memory (try again later)");
			goto done;
		}
		filled = k + 1;
		infop[k] = &infos[k];
		jobs[k] = calloc(njobs[i] ? njobs[i] : 1, sizeof(**jobs));
		parts[k] = calloc(ctld.conf->npartitions + 1, sizeof(**parts));
		if (!jobs[k] || !parts[k]) {
			reply_error(cl, seq, ENOMEM,
				    "the controller is out of memory (try again later)");
			goto done;
		}
		for (size_t p = 0; p < ctld.conf->npartitions; p++) {
			const struct conf_partition *part = &ctld.conf->partitions[p];
			for (size_t q = 0; q < part->nnodes; q++)
				if (part->nodes[q] == i)
					parts[k][infos[k].n_partitions++] = part->name;
		}
		infos[k].partitions = parts[k];
		infos[k].jobs = jobs[k];
	}
	/* Node index -> position in the reply, for the job lists. */
	for (size_t i = 0; i < total; i++)
		njobs[i] = SIZE_MAX;
	for (size_t k = 0; k < n; k++)
		njobs[which[k]] = k;
	for (struct job *j = job_first(); j; j = j->next)
		if (j->state == PACER__JOB_STATE__JOB_RUNNING && !j->unrecorded)
			for (uint32_t a = 0; a < j->nalloc; a++) {
				size_t k = njobs[j->alloc[a].node];
				if (k == SIZE_MAX)
					continue;
				Pacer__NodeInfo *ni = &infos[k];
				ni->jobs[ni->n_jobs++] = j->id;
			}
	Pacer__NodesReply r = PACER__NODES_REPLY__INIT;
	r.nodes = infop;
	r.n_nodes = n;
	r.now = ctld_now();
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_NODES_REPLY;
	m.nodes_reply = &r;
	reply(cl, seq, &m);
done:
	for (size_t k = 0; k < n && parts && jobs; k++) {
		free(parts[k]);
		free(jobs[k]);
	}
	for (size_t k = 0; scratch && k < filled; k++)
		node_info_release(&scratch[k]);
	free(scratch);
	free(which);
	free(parts);
	free(jobs);
	free(njobs);
	free(infos);
	free(infop);
}

/* diag -------------------------------------------------------------------*/

static void do_diag(struct client *cl, uint32_t seq)
{
	Pacer__DiagReply r = PACER__DIAG_REPLY__INIT;
	const struct sched_stats *st = sched_stats();
	r.now = ctld_now();
	r.started = ctld.started;
	r.epoch = ctld.epoch;
	for (struct job *j = job_first(); j; j = j->next) {
		if (j->unrecorded)
			continue;
		r.jobs++;
		r.pending += j->state == PACER__JOB_STATE__JOB_PENDING;
		r.running += j->state == PACER__JOB_STATE__JOB_RUNNING;
	}
	r.nodes = (uint32_t)node_count();
	for (size_t i = 0; i < node_count(); i++)
		r.nodes_up += node_at(i)->state == PACER__NODE_STATE__NODE_UP;
	r.sched_passes = st->passes;
	r.sched_started = st->started;
	r.sched_last_ms = st->last_ms;
	r.sched_max_ms = st->max_ms;
	r.sched_total_ms = st->total_ms;
	r.sched_last_jobs = (uint32_t)st->last_jobs;
	r.sched_last_reservations = (uint32_t)st->last_reservations;
	r.topologies = (uint32_t)topocache_count();
	size_t nskip;
	const struct state_skipped *skip = state_skipped(&nskip);
	Pacer__SkippedRecord *recs = calloc(nskip ? nskip : 1, sizeof(*recs));
	Pacer__SkippedRecord **recp = calloc(nskip ? nskip : 1, sizeof(*recp));
	if (!recs || !recp) {
		reply_error(cl, seq, ENOMEM, "the controller is out of memory (try again later)");
		goto done;
	}
	for (size_t i = 0; i < nskip; i++) {
		pacer__skipped_record__init(&recs[i]);
		recs[i].file = skip[i].file;
		recs[i].offset = skip[i].offset;
		recs[i].after_seq = skip[i].after_seq;
		recp[i] = &recs[i];
	}
	r.n_skipped_records = nskip;
	r.skipped_records = recp;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_DIAG_REPLY;
	m.diag_reply = &r;
	reply(cl, seq, &m);
done:
	free(recs);
	free(recp);
}

/* connections ----------------------------------------------------------------*/

static void client_msg(struct conn *c, Pacer__Msg *m, void *arg)
{
	struct client *cl = arg;
	switch (m->body_case) {
	case PACER__MSG__BODY_SUBMIT: do_submit(cl, m->seq, m->submit); break;
	case PACER__MSG__BODY_QUEUE: do_queue(cl, m->seq, m->queue); break;
	case PACER__MSG__BODY_CANCEL: do_cancel(cl, m->seq, m->cancel); break;
	case PACER__MSG__BODY_HOLD: do_hold(cl, m->seq, m->hold); break;
	case PACER__MSG__BODY_NODES: do_nodes(cl, m->seq, m->nodes); break;
	case PACER__MSG__BODY_DIAG: do_diag(cl, m->seq); break;
	case PACER__MSG__BODY_STEP_CREATE: do_step_create(cl, m->seq, m->step_create); break;
	default:
		log_warn("client %s (uid %u) sent %s, which is not a request: closing",
			 conn_peer(c), (unsigned)cl->uid, frame_type_name(m->body_case));
		conn_send_error(c, m->seq, EPROTO, "%s is not a request the controller takes",
				frame_type_name(m->body_case));
		cl->c = NULL;
		conn_close(c, true);
		step_forget(cl);
		client_put(cl);
		break;
	}
}

static int client_ready(struct conn *c, void *arg, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct client *cl = arg;
	cl->uid = conn_uid(c);
	cl->gid = conn_gid(c);
	/* Named off the loop, with the credential check. */
	snprintf(cl->user, sizeof(cl->user), "%s", conn_user(c));
	cl->admin = cl->uid == 0 || conf_is_admin(ctld.conf, cl->user);
	conn_set_idle_timeout(c, CLIENT_IDLE_MS);
	return 0;
}

static void client_closed(struct conn *c, const char *why, void *arg)
{
	(void)c;
	(void)why;
	struct client *cl = arg;
	cl->c = NULL;
	step_forget(cl);
	client_put(cl);
}

static const struct conn_ops client_ops = {
	.ready = client_ready,
	.msg = client_msg,
	.closed = client_closed,
};

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	(void)l;
	(void)arg;
	char host[NI_MAXHOST], serv[NI_MAXSERV], peer[NI_MAXHOST + NI_MAXSERV + 4];
	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(peer, sizeof(peer), "?");
	else
		snprintf(peer, sizeof(peer), "%s:%s", host, serv);
	struct client *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		evutil_closesocket(fd);
		return;
	}
	cl->refs = 1;
	cl->c = conn_accept(&client_cfg, fd, peer, &client_ops, cl);
	if (!cl->c)
		free(cl);
}

static void on_listen_error(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	/* EMFILE and friends: keep serving those already connected. */
	log_err("accept failed: %s", strerror(EVUTIL_SOCKET_ERROR()));
}

int rpc_listen(const char *host, uint16_t port)
{
	client_cfg = (struct conn_cfg){ .base = ctld.base,
					.auth = ctld.auth,
					.authq = ctld.authq,
					.cluster = ctld.conf->cluster,
					.service = "ctld",
					.epoch = ctld.epoch,
					.max_frame = FRAME_MAX_REQUEST,
					.handshake_ms = 10000 };
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	int rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc != 0) {
		log_err("cannot resolve listen address %s: %s", host, gai_strerror(rc));
		errno = EINVAL;
		return -1;
	}
	listener = evconnlistener_new_bind(ctld.base, on_accept, NULL,
					   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					       LEV_OPT_CLOSE_ON_EXEC,
					   1024, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (!listener) {
		log_err("cannot listen on %s:%u: %s", host, (unsigned)port, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(listener, on_listen_error);
	log_info("listening on %s:%u", host, (unsigned)port);
	return 0;
}

void rpc_shutdown(void)
{
	if (listener)
		evconnlistener_free(listener);
	listener = NULL;
}
