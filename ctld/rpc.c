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

#define SCRIPT_MAX     (4u << 20)
#define CLIENT_IDLE_MS 60000

struct client {
	struct conn *c; /* NULL once the connection is gone */
	int refs;
	uid_t uid;
	gid_t gid;
	bool admin;
	char user[64];
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
	char text[512];
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
	struct job *j = job_find(p->job_id);
	if (j)
		j->unrecorded = false;
	Pacer__SubmitReply r = PACER__SUBMIT_REPLY__INIT;
	r.job_id = p->job_id;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_SUBMIT_REPLY;
	m.submit_reply = &r;
	reply(p->cl, p->seq, &m);
	pending_free(p);
}

static int check_spec(const Pacer__JobSpec *s, char *why, size_t whylen)
{
	if (s->script.len == 0 || s->script.len < 2 || memcmp(s->script.data, "#!", 2) != 0) {
		snprintf(why, whylen, "the batch script must start with #! and an interpreter");
		return -1;
	}
	if (s->script.len > SCRIPT_MAX) {
		snprintf(why, whylen, "the batch script is %zu bytes, the limit is %u",
			 s->script.len, SCRIPT_MAX);
		return -1;
	}
	if (memchr(s->script.data, '\0', s->script.len)) {
		snprintf(why, whylen, "the batch script contains NUL bytes: it is not a script");
		return -1;
	}
	if (!s->workdir || s->workdir[0] != '/') {
		snprintf(why, whylen, "the working directory must be an absolute path");
		return -1;
	}
	if (strlen(s->name) > 1024) {
		snprintf(why, whylen, "the job name is longer than 1024 characters");
		return -1;
	}
	return 0;
}

static void do_submit(struct client *cl, uint32_t seq, Pacer__SubmitRequest *req)
{
	char why[512];
	Pacer__JobSpec *s = req->spec;
	if (!s) {
		reply_error(cl, seq, EINVAL, "submit without a job description");
		return;
	}
	const struct conf_partition *part = NULL;
	if (check_spec(s, why, sizeof(why)) < 0 || sched_check(s, &part, why, sizeof(why)) < 0) {
		reply_error(cl, seq, EINVAL, "%s", why);
		return;
	}
	/* The record names the partition the job really went to; the request's
	 * own string is put back before the request is freed. */
	char *asked = s->partition;
	s->partition = part->name;
	Pacer__Job j = PACER__JOB__INIT;
	j.id = ctld.next_job_id;
	j.uid = cl->uid;
	j.gid = cl->gid;
	j.user = cl->user;
	j.spec = s;
	j.state = PACER__JOB_STATE__JOB_PENDING;
	j.reason = s->hold ? "JobHeldUser" : "Priority";
	j.submit_time = ctld_now();
	j.held = s->hold;
	j.priority = part->priority;
	j.epoch = ctld.epoch;
	struct pending_reply *p = calloc(1, sizeof(*p));
	if (!p) {
		reply_error(cl, seq, ENOMEM, "controller out of memory");
		return;
	}
	uint64_t t = state_submit(&j);
	s->partition = asked;
	if (!t) {
		free(p);
		reply_error(cl, seq, EIO, "the controller cannot record the job: %s",
			    strerror(errno));
		return;
	}
	struct job *job = job_find(j.id);
	job->unrecorded = true;
	*p = (struct pending_reply){ .cl = client_ref(cl), .seq = seq, .job_id = j.id };
	if (state_after(t, submit_durable, p) < 0) {
		/* No reply then (the client sees the connection end), but the job
		 * is recorded all the same: it must not stay hidden. */
		job->unrecorded = false;
		pending_free(p);
	}
	sched_request();
}

/* queue ------------------------------------------------------------------*/

static bool wanted(const Pacer__QueueRequest *q, const struct job *j)
{
	if (j->unrecorded)
		return false;
	if (q->n_job_ids) {
		bool found = false;
		for (size_t i = 0; i < q->n_job_ids && !found; i++)
			found = q->job_ids[i] == j->id;
		if (!found)
			return false;
	}
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
	return q->all || q->n_job_ids || !job_state_final(j->state);
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
		reply_error(cl, seq, ENOMEM, "controller out of memory");
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
		n++;
	}
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

/* Cancel or signal one job; returns the ticket of what it recorded, or 0. */
static uint64_t cancel_one(struct client *cl, struct pending_reply *p, struct job *j, int sig)
{
	size_t slot = p->n;
	if (!may_act_on(cl, j)) {
		result(p, j->id, EPERM, "job %u belongs to %s, not to you", j->id, j->user->data);
		return 0;
	}
	if (job_state_final(j->state)) {
		result(p, j->id, EALREADY, "job %u has already finished (%s)", j->id,
		       job_state_name(j->state));
		return 0;
	}
	if (sig) {
		if (j->state != PACER__JOB_STATE__JOB_RUNNING || j->launch_pending) {
			result(p, j->id, ESRCH, "job %u is not running: nothing to signal", j->id);
			return 0;
		}
		if (node_signal(j, sig, false) < 0) {
			result(p, j->id, EHOSTUNREACH, "job %u: node %s cannot be reached", j->id,
			       node_name_at(j->alloc[0].node));
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

static void finish_results(struct pending_reply *p, uint64_t last)
{
	if (state_after(last, results_durable, p) < 0)
		pending_free(p);
}

static void do_cancel(struct client *cl, uint32_t seq, Pacer__CancelRequest *req)
{
	if (req->signal < 0 || req->signal >= NSIG) {
		reply_error(cl, seq, EINVAL, "invalid signal %d", req->signal);
		return;
	}
	if (req->by_user && req->uid != cl->uid && !cl->admin) {
		reply_error(cl, seq, EPERM, "only an administrator may cancel another user's jobs");
		return;
	}
	size_t n = req->n_job_ids;
	if (req->by_user)
		for (struct job *j = job_first(); j; j = j->next)
			n += j->uid == req->uid && !job_state_final(j->state);
	struct pending_reply *p = results_new(cl, seq, n, false);
	if (!p) {
		reply_error(cl, seq, ENOMEM, "controller out of memory");
		return;
	}
	uint64_t last = 0, t;
	for (size_t i = 0; i < req->n_job_ids; i++) {
		struct job *j = job_find(req->job_ids[i]);
		if (!j)
			result(p, req->job_ids[i], ENOENT, "job %u does not exist",
			       req->job_ids[i]);
		else if ((t = cancel_one(cl, p, j, req->signal)) > last)
			last = t;
	}
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
	struct pending_reply *p = results_new(cl, seq, req->n_job_ids, true);
	if (!p) {
		reply_error(cl, seq, ENOMEM, "controller out of memory");
		return;
	}
	uint64_t last = 0;
	for (size_t i = 0; i < req->n_job_ids; i++) {
		uint32_t id = req->job_ids[i];
		struct job *j = job_find(id);
		if (!j)
			result(p, id, ENOENT, "job %u does not exist", id);
		else if (!may_act_on(cl, j))
			result(p, id, EPERM, "job %u belongs to %s, not to you", id, j->user->data);
		else if (j->state != PACER__JOB_STATE__JOB_PENDING)
			result(p, id, EBUSY, "job %u is %s: only pending jobs can be %s", id,
			       job_state_name(j->state), req->release ? "released" : "held");
		else {
			if (j->held == req->release) {
				uint64_t t = state_hold(j, !req->release);
				if (t > last)
					last = t;
			}
			result(p, id, 0, NULL);
		}
	}
	finish_results(p, last);
	if (req->release)
		sched_request();
}

/* nodes ------------------------------------------------------------------*/

static void do_nodes(struct client *cl, uint32_t seq)
{
	size_t n = node_count();
	Pacer__NodeInfo *infos = calloc(n ? n : 1, sizeof(*infos));
	Pacer__NodeInfo **infop = calloc(n ? n : 1, sizeof(*infop));
	char ***parts = calloc(n ? n : 1, sizeof(*parts));
	uint32_t **jobs = calloc(n ? n : 1, sizeof(*jobs));
	size_t *njobs = calloc(n ? n : 1, sizeof(*njobs));
	if (!infos || !infop || !parts || !jobs || !njobs) {
		reply_error(cl, seq, ENOMEM, "controller out of memory");
		goto done;
	}
	for (struct job *j = job_first(); j; j = j->next)
		if (j->state == PACER__JOB_STATE__JOB_RUNNING && !j->unrecorded)
			for (uint32_t a = 0; a < j->nalloc; a++)
				njobs[j->alloc[a].node]++;
	for (size_t i = 0; i < n; i++) {
		node_to_info(node_at(i), &infos[i]);
		infop[i] = &infos[i];
		jobs[i] = calloc(njobs[i] ? njobs[i] : 1, sizeof(**jobs));
		parts[i] = calloc(ctld.conf->npartitions + 1, sizeof(**parts));
		if (!jobs[i] || !parts[i]) {
			reply_error(cl, seq, ENOMEM, "controller out of memory");
			goto done;
		}
		for (size_t p = 0; p < ctld.conf->npartitions; p++) {
			const struct conf_partition *part = &ctld.conf->partitions[p];
			for (size_t k = 0; k < part->nnodes; k++)
				if (part->nodes[k] == i)
					parts[i][infos[i].n_partitions++] = part->name;
		}
		infos[i].partitions = parts[i];
		infos[i].jobs = jobs[i];
	}
	for (struct job *j = job_first(); j; j = j->next)
		if (j->state == PACER__JOB_STATE__JOB_RUNNING && !j->unrecorded)
			for (uint32_t a = 0; a < j->nalloc; a++) {
				Pacer__NodeInfo *ni = &infos[j->alloc[a].node];
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
	for (size_t i = 0; i < n && parts && jobs; i++) {
		free(parts[i]);
		free(jobs[i]);
	}
	free(parts);
	free(jobs);
	free(njobs);
	free(infos);
	free(infop);
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
	case PACER__MSG__BODY_NODES: do_nodes(cl, m->seq); break;
	default:
		log_warn("client %s (uid %u) sent %s, which is not a request: closing",
			 conn_peer(c), (unsigned)cl->uid, frame_type_name(m->body_case));
		conn_send_error(c, m->seq, EPROTO, "%s is not a request the controller takes",
				frame_type_name(m->body_case));
		cl->c = NULL;
		conn_close(c, true);
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
