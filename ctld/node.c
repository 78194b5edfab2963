/* node.c - node table, links to node daemons, registration (see node.h). */
#include "node.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conn.h"
#include "ctld.h"
#include "frame.h"
#include "hostlist.h"
#include "job.h"
#include "log.h"
#include "sched.h"
#include "state.h"
#include "timefmt.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000

static struct node *nodes;
static size_t nnodes;
static struct event *watch_ev;
static struct conn_cfg link_cfg;

size_t node_count(void)
{
	return nnodes;
}
struct node *node_at(size_t i)
{
	return i < nnodes ? &nodes[i] : NULL;
}
const char *node_name_at(uint32_t i)
{
	return i < nnodes ? nodes[i].res.name : "?";
}

long node_index(const char *name)
{
	return conf_node_index(ctld.conf, name);
}

const char *node_state_name(Pacer__NodeState s)
{
	switch (s) {
	case PACER__NODE_STATE__NODE_UNKNOWN: return "unknown";
	case PACER__NODE_STATE__NODE_UP: return "up";
	case PACER__NODE_STATE__NODE_SUSPECT: return "suspect";
	case PACER__NODE_STATE__NODE_UNCLEAN: return "unclean";
	case PACER__NODE_STATE__NODE_DOWN: return "down";
	default: return "unknown";
	}
}

static void set_state(struct node *n, Pacer__NodeState s, const char *reason)
{
	if (n->state != s)
		log_info("node %s: %s -> %s%s%s", n->res.name, node_state_name(n->state),
			 node_state_name(s), reason ? ": " : "", reason ? reason : "");
	n->state = s;
	snprintf(n->reason, sizeof(n->reason), "%s", reason ? reason : "");
	n->res.usable = s == PACER__NODE_STATE__NODE_UP;
}

void node_charge(struct job *j, bool add)
{
	for (uint32_t i = 0; i < j->nalloc; i++) {
		struct select_node *r = &nodes[j->alloc[i].node].res;
		if (add) {
			r->cpus_alloc += j->alloc[i].cpus;
			r->mem_alloc_mb += j->alloc[i].mem_mb;
		} else {
			r->cpus_alloc -=
			    j->alloc[i].cpus < r->cpus_alloc ? j->alloc[i].cpus : r->cpus_alloc;
			r->mem_alloc_mb -= j->alloc[i].mem_mb < r->mem_alloc_mb ? j->alloc[i].mem_mb
										: r->mem_alloc_mb;
		}
	}
	j->charged = add;
}

static int send_msg(struct node *n, Pacer__Msg *m)
{
	if (!n->registered) {
		errno = ENOTCONN;
		return -1;
	}
	return conn_send(n->link, m);
}

/* Messages to nodes ------------------------------------------------------*/

int node_launch(struct job *j)
{
	struct node *n = &nodes[j->alloc[0].node];
	if (!n->registered) {
		errno = ENOTCONN;
		return -1;
	}
	struct hostlist *hl = hostlist_create();
	for (uint32_t i = 0; hl && i < j->nalloc; i++)
		hostlist_append(hl, nodes[j->alloc[i].node].res.name);
	char *nodelist = hl ? hostlist_encode_alloc(hl) : NULL;
	hostlist_destroy(hl);
	struct job_proto p;
	if (!nodelist || job_to_proto(j, &p, true) < 0) {
		free(nodelist);
		return -1;
	}
	Pacer__LaunchJob l = PACER__LAUNCH_JOB__INIT;
	l.job = &p.job;
	l.nodelist = nodelist;
	l.cpus_on_node = j->alloc[0].cpus;
	l.kill_wait = ctld.conf->kill_wait;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_LAUNCH;
	m.launch = &l;
	int rc = send_msg(n, &m);
	job_proto_release(&p);
	free(nodelist);
	return rc;
}

static int signal_on(struct node *n, uint32_t job_id, int sig, bool terminate)
{
	Pacer__SignalJob s = PACER__SIGNAL_JOB__INIT;
	s.job_id = job_id;
	s.signal = sig;
	s.terminate = terminate;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_SIGNAL;
	m.signal = &s;
	return send_msg(n, &m);
}

int node_signal(struct job *j, int sig, bool terminate)
{
	if (!j->nalloc) {
		errno = ESRCH;
		return -1;
	}
	return signal_on(&nodes[j->alloc[0].node], j->id, sig, terminate);
}

struct ack {
	uint32_t node;
	uint32_t job_id;
};

static void send_ack(struct node *n, uint32_t job_id)
{
	Pacer__JobEndedAck a = PACER__JOB_ENDED_ACK__INIT;
	a.job_id = job_id;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_JOB_ENDED_ACK;
	m.job_ended_ack = &a;
	send_msg(n, &m);
}

/* The end is on disk: the node may forget the job now.  If the link went
 * meanwhile, the node reports the job again at registration and is
 * acknowledged then. */
static void ack_when_durable(void *arg)
{
	struct ack *a = arg;
	send_ack(&nodes[a->node], a->job_id);
	free(a);
}

/* Node messages ----------------------------------------------------------*/

static bool runs_on(const struct job *j, const struct node *n)
{
	return j->state == PACER__JOB_STATE__JOB_RUNNING && j->nalloc &&
	       j->alloc[0].node == n->index;
}

static void on_job_ended(struct node *n, const Pacer__JobEnded *e)
{
	struct job *j = job_find(e->job_id);
	if (!j || !runs_on(j, n)) {
		/* Already recorded (a repeat after a lost ack) or long forgotten. */
		send_ack(n, e->job_id);
		return;
	}
	Pacer__JobState st = e->state;
	if (!job_state_final(st))
		st = PACER__JOB_STATE__JOB_FAILED;
	log_info("job %u %s on %s (exit %d%s%s)", j->id, job_state_name(st), n->res.name,
		 e->exit_code, e->term_signal ? ", signal " : "",
		 e->term_signal ? strsignal(e->term_signal) : "");
	uint64_t t = state_end(j, st, e->exit_code, e->term_signal, e->end_time, e->reason);
	struct ack *a = malloc(sizeof(*a));
	if (t && a) {
		*a = (struct ack){ .node = n->index, .job_id = e->job_id };
		if (state_after(t, ack_when_durable, a) == 0)
			a = NULL;
	}
	free(a);
	sched_request();
}

/* Registration: agree with the node on what runs there. */
static void reconcile(struct node *n, const Pacer__NodeRegister *r)
{
	for (size_t i = 0; i < r->n_ended; i++)
		on_job_ended(n, r->ended[i]);
	for (size_t i = 0; i < r->n_running; i++) {
		struct job *j = job_find(r->running[i]->job_id);
		if (!j || !runs_on(j, n)) {
			log_err("node %s runs job %u, which is not running there as far as the "
				"controller knows: killing it",
				n->res.name, r->running[i]->job_id);
			signal_on(n, r->running[i]->job_id, SIGKILL, true);
		} else if (j->cancel_requested) {
			node_signal(j, SIGTERM, true);
		}
	}
	for (struct job *j = job_first(); j; j = j->next) {
		if (!runs_on(j, n) || j->launch_pending)
			continue;
		bool known = false;
		for (size_t i = 0; i < r->n_running && !known; i++)
			known = r->running[i]->job_id == j->id;
		for (size_t i = 0; i < r->n_ended && !known; i++)
			known = r->ended[i]->job_id == j->id;
		if (known)
			continue;
		/* The node never got it (the controller stopped between recording
		 * the start and sending it), so it never ran: safe to queue again. */
		log_warn("job %u was never received by node %s: requeued", j->id, n->res.name);
		if (j->cancel_requested)
			state_end(j, PACER__JOB_STATE__JOB_CANCELLED, 0, 0, ctld_now(),
				  "cancelled before it started");
		else
			state_requeue(j, "launch lost: requeued");
	}
}

static void schedule_retry(struct node *n);

static void on_register(struct node *n, const Pacer__NodeRegister *r)
{
	if (strcmp(r->name, n->res.name) != 0) {
		log_err("the daemon at %s:%u says it is node %s, but pacer.conf has %s there",
			ctld.conf->nodes[n->index].address, ctld.conf->nodes[n->index].port,
			r->name, n->res.name);
		conn_close(n->link, false);
		n->link = NULL;
		schedule_retry(n);
		return;
	}
	if (n->boot_id[0] && strcmp(n->boot_id, r->boot_id) != 0)
		log_warn("node %s rebooted (boot id changed)", n->res.name);
	snprintf(n->boot_id, sizeof(n->boot_id), "%s", r->boot_id);
	snprintf(n->version, sizeof(n->version), "%s", r->version);
	const struct conf_node *cn = &ctld.conf->nodes[n->index];
	n->res.cpus = cn->cpus ? cn->cpus : r->cpus;
	n->res.mem_mb = cn->mem_mb ? cn->mem_mb : r->mem_mb;
	n->registered = true;
	n->backoff_ms = 0;
	n->last_heard = ctld_now();
	n->last_heard_ms = timefmt_monotonic_ms();
	set_state(n, PACER__NODE_STATE__NODE_UP, NULL);

	Pacer__RegisterAck ack = PACER__REGISTER_ACK__INIT;
	ack.heartbeat_interval = ctld.conf->heartbeat_interval;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_REGISTER_ACK;
	m.register_ack = &ack;
	conn_send(n->link, &m);

	reconcile(n, r);
	sched_request();
}

static void link_msg(struct conn *c, Pacer__Msg *m, void *arg)
{
	struct node *n = arg;
	if (!n->registered && m->body_case != PACER__MSG__BODY_NODE_REGISTER) {
		log_warn("node %s sent %s before registering", n->res.name,
			 frame_type_name(m->body_case));
		return;
	}
	n->last_heard = ctld_now();
	n->last_heard_ms = timefmt_monotonic_ms();
	switch (m->body_case) {
	case PACER__MSG__BODY_NODE_REGISTER: on_register(n, m->node_register); break;
	case PACER__MSG__BODY_HEARTBEAT:
		if (n->state != PACER__NODE_STATE__NODE_UP)
			set_state(n, PACER__NODE_STATE__NODE_UP, NULL);
		break;
	case PACER__MSG__BODY_JOB_ENDED: on_job_ended(n, m->job_ended); break;
	case PACER__MSG__BODY_ERROR: log_warn("node %s: %s", n->res.name, m->error->message); break;
	default:
		log_warn("node %s sent an unexpected %s: closing the link", n->res.name,
			 frame_type_name(m->body_case));
		conn_close(c, false);
		n->link = NULL;
		n->registered = false;
		set_state(n, PACER__NODE_STATE__NODE_SUSPECT, "protocol error");
		schedule_retry(n);
		break;
	}
}

static int link_ready(struct conn *c, void *arg, char *err, size_t errlen)
{
	struct node *n = arg;
	uid_t uid = conn_uid(c);
	if (uid != 0 && uid != ctld.daemon_uid) {
		snprintf(err, errlen, "node daemon of %s runs as uid %u, not as root or %s",
			 n->res.name, (unsigned)uid, ctld.conf->daemon_user);
		return -1;
	}
	return 0;
}

static void link_closed(struct conn *c, const char *why, void *arg)
{
	(void)c;
	struct node *n = arg;
	bool was = n->registered;
	n->link = NULL;
	n->registered = false;
	if (was || n->state == PACER__NODE_STATE__NODE_UP) {
		char reason[160];
		snprintf(reason, sizeof(reason), "lost contact: %s", why);
		set_state(n, PACER__NODE_STATE__NODE_SUSPECT, reason);
	} else if (n->backoff_ms >= BACKOFF_MAX_MS) {
		log_debug("node %s: cannot connect: %s", n->res.name, why);
	}
	if (n->state == PACER__NODE_STATE__NODE_UNKNOWN)
		snprintf(n->reason, sizeof(n->reason), "not registered: %s", why);
	schedule_retry(n);
}

static const struct conn_ops link_ops = {
	.ready = link_ready,
	.msg = link_msg,
	.closed = link_closed,
};

static void try_connect(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct node *n = arg;
	const struct conf_node *cn = &ctld.conf->nodes[n->index];
	if (n->link)
		return;
	n->link = conn_connect(&link_cfg, cn->address, cn->port, &link_ops, n);
	if (!n->link)
		schedule_retry(n);
}

static void schedule_retry(struct node *n)
{
	n->backoff_ms = n->backoff_ms ? n->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (n->backoff_ms > BACKOFF_MAX_MS)
		n->backoff_ms = BACKOFF_MAX_MS;
	struct timeval tv = { .tv_sec = n->backoff_ms / 1000,
			      .tv_usec = (n->backoff_ms % 1000) * 1000 };
	evtimer_add(n->retry, &tv);
}

/* Once a second: a node that stopped heartbeating is SUSPECT, and its link
 * is dropped so a fresh connection (and registration) finds out the truth. */
static void watch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	uint64_t now = timefmt_monotonic_ms();
	uint64_t limit = (uint64_t)ctld.conf->node_timeout * 1000;
	for (size_t i = 0; i < nnodes; i++) {
		struct node *n = &nodes[i];
		if (n->registered && now - n->last_heard_ms > limit) {
			set_state(n, PACER__NODE_STATE__NODE_SUSPECT, "not responding");
			conn_close(n->link, false);
			n->link = NULL;
			n->registered = false;
			schedule_retry(n);
		}
	}
}

int node_table_init(void)
{
	nnodes = ctld.conf->nnodes;
	nodes = calloc(nnodes ? nnodes : 1, sizeof(*nodes));
	if (!nodes)
		return -1;
	for (size_t i = 0; i < nnodes; i++) {
		struct node *n = &nodes[i];
		n->index = (uint32_t)i;
		n->res.name = ctld.conf->nodes[i].name;
		n->res.cpus = ctld.conf->nodes[i].cpus;
		n->res.mem_mb = ctld.conf->nodes[i].mem_mb;
		n->state = PACER__NODE_STATE__NODE_UNKNOWN;
		snprintf(n->reason, sizeof(n->reason), "not registered yet");
	}
	return 0;
}

int node_links_start(void)
{
	link_cfg = (struct conn_cfg){ .base = ctld.base,
				      .auth = ctld.auth,
				      .cluster = ctld.conf->cluster,
				      .service = "noded",
				      .max_frame = FRAME_MAX_REQUEST,
				      .handshake_ms = 10000,
				      .mutual = true };
	for (size_t i = 0; i < nnodes; i++) {
		nodes[i].retry = evtimer_new(ctld.base, try_connect, &nodes[i]);
		if (!nodes[i].retry)
			return -1;
		try_connect(-1, 0, &nodes[i]);
	}
	watch_ev = event_new(ctld.base, -1, EV_PERSIST, watch, NULL);
	struct timeval tv = { 1, 0 };
	return watch_ev && event_add(watch_ev, &tv) == 0 ? 0 : -1;
}

void node_table_destroy(void)
{
	for (size_t i = 0; i < nnodes; i++) {
		if (nodes[i].link)
			conn_close(nodes[i].link, false);
		if (nodes[i].retry)
			event_free(nodes[i].retry);
	}
	if (watch_ev)
		event_free(watch_ev);
	free(nodes);
	nodes = NULL;
	nnodes = 0;
}

void node_to_info(const struct node *n, Pacer__NodeInfo *info)
{
	const struct conf_node *cn = &ctld.conf->nodes[n->index];
	pacer__node_info__init(info);
	info->name = (char *)n->res.name;
	info->state = n->state;
	info->reason = (char *)n->reason;
	info->address = cn->address;
	info->port = cn->port;
	info->cpus = n->res.cpus;
	info->cpus_alloc = n->res.cpus_alloc;
	info->mem_mb = n->res.mem_mb;
	info->mem_alloc_mb = n->res.mem_alloc_mb;
	info->boot_id = (char *)n->boot_id;
	info->last_heard = n->last_heard;
	info->version = (char *)n->version;
}
