/* link.c - the node daemon's side of the controller link.
 *
 * Controllers connect to us (conn.h does the framing and the munge
 * handshake, both ways).  The newest connection that finished its handshake
 * is THE link: a restarted or standby controller simply connects again and
 * the older link is closed.  On the link we register (NodeRegister), then
 * heartbeat once the controller acknowledged, and take LaunchJob, SignalJob
 * and JobEndedAck.
 *
 * conn.h's ready() runs before the Welcome is sent, and the connection may
 * still fail right after it without a closed() call.  So ready() only notes
 * a candidate, and the promotion to link happens on a deferred event in the
 * same loop pass, once conn_is_ready() says the handshake really finished.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "conn.h"
#include "frame.h"
#include "jobs.h"
#include "log.h"
#include "noded.h"
#include "timefmt.h"
#include "topo.h"

#define HANDSHAKE_MS    10000
#define FLUSH_WAIT_MS   1000 /* shutdown: how long queued messages may take */
#define FLUSH_POLL_MS   20
#define ACCEPT_PAUSE_MS 1000 /* after accept() fails (out of descriptors) */

struct link {
	struct noded *nd;
	struct evconnlistener *lis;
	struct event *accept_ev; /* re-enables the listener after a pause */
	struct conn *cur;        /* THE controller link, or NULL */
	bool registered;         /* RegisterAck received on cur */
	struct conn **cand;      /* passed ready(), not promoted yet */
	size_t ncand, cand_cap;
	struct event *promote_ev;
	struct event *hb_ev;
	uint64_t hb_seq;
	struct event *flush_ev;
	uint64_t flush_deadline_ms;
	void (*flush_done)(struct noded *nd);
	struct conn_cfg cfg;
};

/* Sending -------------------------------------------------------------------*/

static void send_register(struct link *l)
{
	struct noded *nd = l->nd;
	Pacer__NodeRegister r = PACER__NODE_REGISTER__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	r.name = nd->name;
	r.boot_id = nd->boot_id;
	r.daemon_id = nd->daemon_id;
	r.cpus = nd->cpus;
	r.mem_mb = nd->mem_mb;
	/* The whole layout, once per registration; heartbeats carry its hash
	 * only, so the controller notices a change without the bytes. */
	r.topology.data = nd->topo_xml;
	r.topology.len = nd->topo_xml_len;
	r.topology_hash = (char *)topo_hash(nd->topo);
	r.topology_source = (char *)topo_source(nd->topo);
	r.hostname = nd->hostname;
	r.version = (char *)PACER_VERSION;
	if (jobs_fill_register(nd->jobs, &r) < 0) {
		log_err("cannot build the registration: %s; dropping the link", strerror(errno));
		conn_close(l->cur, false);
		l->cur = NULL;
		return;
	}
	m.body_case = PACER__MSG__BODY_NODE_REGISTER;
	m.node_register = &r;
	if (conn_send(l->cur, &m) < 0)
		log_err("cannot send the registration to %s: %s", conn_peer(l->cur),
			strerror(errno));
	else
		log_info("registering with the controller at %s (%zu running, %zu ended jobs)",
			 conn_peer(l->cur), r.n_running, r.n_ended);
	jobs_free_register(&r);
}

void link_send_ended(struct noded *nd, const struct job_end *e)
{
	struct link *l = nd->link;
	Pacer__JobEnded je = PACER__JOB_ENDED__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	if (!l || !l->cur)
		return; /* reported at the next registration */
	if (e->is_step) {
		Pacer__StepEnded se;
		jobend_to_step_msg(e, nd->name, &se);
		m.body_case = PACER__MSG__BODY_STEP_ENDED;
		m.step_ended = &se;
		if (conn_send(l->cur, &m) < 0)
			log_err("cannot send the end of step %u.%u to %s: %s", e->job_id,
				e->step_id, conn_peer(l->cur), strerror(errno));
		return;
	}
	je.job_id = e->job_id;
	je.state = (Pacer__JobState)e->state;
	je.exit_code = e->exit_code;
	je.term_signal = e->term_signal;
	je.end_time = e->end_time;
	je.reason = (char *)e->reason;
	m.body_case = PACER__MSG__BODY_JOB_ENDED;
	m.job_ended = &je;
	if (conn_send(l->cur, &m) < 0)
		log_err("cannot send the end of job %u to %s: %s", e->job_id, conn_peer(l->cur),
			strerror(errno));
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	Pacer__Heartbeat hb = PACER__HEARTBEAT__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	(void)fd;
	(void)what;
	if (!l->cur || !l->registered)
		return;
	hb.seq = ++l->hb_seq;
	hb.running = (uint32_t)jobs_count(l->nd->jobs);
	hb.topology_hash = (char *)topo_hash(l->nd->topo);
	m.body_case = PACER__MSG__BODY_HEARTBEAT;
	m.heartbeat = &hb;
	if (conn_send(l->cur, &m) < 0)
		log_err("cannot send a heartbeat to %s: %s", conn_peer(l->cur), strerror(errno));
}

/* Link changes --------------------------------------------------------------*/

static void link_down(struct link *l)
{
	l->cur = NULL;
	l->registered = false;
	evtimer_del(l->hb_ev);
}

static void cand_remove(struct link *l, size_t i)
{
	memmove(&l->cand[i], &l->cand[i + 1], (l->ncand - i - 1) * sizeof(*l->cand));
	l->ncand--;
}

static long cand_index(const struct link *l, const struct conn *c)
{
	for (size_t i = 0; i < l->ncand; i++)
		if (l->cand[i] == c)
			return (long)i;
	return -1;
}

/* C finished its handshake: it becomes the link, replacing any older one. */
static void promote(struct link *l, struct conn *c)
{
	if (l->cur) {
		log_info("link up: the controller at %s (uid %u) replaces the one at %s",
			 conn_peer(c), (unsigned)conn_uid(c), conn_peer(l->cur));
		conn_close(l->cur, false);
	} else {
		log_info("link up: controller at %s (uid %u)", conn_peer(c), (unsigned)conn_uid(c));
	}
	link_down(l);
	l->cur = c;
	send_register(l);
}

/* Deferred from ready(): promote the newest candidate that is really ready;
 * older ones lose to it.  One that is not ready was closed by conn.c. */
static void on_promote(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	struct conn *newest = NULL;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < l->ncand; i++) {
		struct conn *c = l->cand[i];
		if (!conn_is_ready(c))
			continue;
		if (newest)
			conn_close(newest, false);
		newest = c;
	}
	l->ncand = 0;
	if (newest)
		promote(l, newest);
}

/* Connection callbacks ------------------------------------------------------*/

static int on_ready(struct conn *c, void *arg, char *err, size_t errlen)
{
	struct link *l = arg;
	struct noded *nd = l->nd;
	uid_t uid = conn_uid(c);

	if (uid != 0 && !(nd->have_daemon_uid && uid == nd->daemon_uid)) {
		snprintf(err, errlen,
			 "uid %u may not control node %s: only root and daemon_user (%s) may",
			 (unsigned)uid, nd->name,
			 nd->conf->daemon_user ? nd->conf->daemon_user : "not set");
		return -1;
	}
	if (l->ncand == l->cand_cap) {
		size_t cap = l->cand_cap ? l->cand_cap * 2 : 4;
		struct conn **v = realloc(l->cand, cap * sizeof(*v));
		if (!v) {
			snprintf(err, errlen, "node %s is out of memory", nd->name);
			return -1;
		}
		l->cand = v;
		l->cand_cap = cap;
	}
	l->cand[l->ncand++] = c;
	event_active(l->promote_ev, EV_TIMEOUT, 0);
	return 0;
}

static void on_register_ack(struct link *l, const Pacer__RegisterAck *ack)
{
	uint32_t secs =
	    ack->heartbeat_interval ? ack->heartbeat_interval : l->nd->conf->heartbeat_interval;
	struct timeval tv = { .tv_sec = secs ? (time_t)secs : 30 };

	l->registered = true;
	evtimer_del(l->hb_ev);
	event_add(l->hb_ev, &tv);
	log_info("registered with the controller at %s: heartbeat every %ld s", conn_peer(l->cur),
		 (long)tv.tv_sec);
	/* NodeRegister carries no steps: their ends follow it. */
	jobs_resend_steps(l->nd->jobs);
}

static void on_msg(struct conn *c, Pacer__Msg *m, void *arg)
{
	struct link *l = arg;
	struct noded *nd = l->nd;
	long ci;

	/* A peer may pipeline its first message behind its Hello, before the
	 * deferred promotion ran: it is ready, so promote it now. */
	if (c != l->cur && (ci = cand_index(l, c)) >= 0) {
		cand_remove(l, (size_t)ci);
		promote(l, c);
	}
	if (c != l->cur) {
		log_warn("%s from %s, which is no longer the controller link: ignored",
			 frame_type_name(m->body_case), conn_peer(c));
		return;
	}
	switch (m->body_case) {
	case PACER__MSG__BODY_REGISTER_ACK: on_register_ack(l, m->register_ack); break;
	case PACER__MSG__BODY_LAUNCH: jobs_launch(nd->jobs, m->launch); break;
	case PACER__MSG__BODY_SIGNAL: jobs_signal(nd->jobs, m->signal); break;
	case PACER__MSG__BODY_LAUNCH_STEP: jobs_launch_step(nd->jobs, m->launch_step); break;
	case PACER__MSG__BODY_SIGNAL_STEP: jobs_signal_step(nd->jobs, m->signal_step); break;
	case PACER__MSG__BODY_JOB_ENDED_ACK:
		if (m->job_ended_ack->has_step)
			jobs_ack_step(nd->jobs, m->job_ended_ack->job_id, m->job_ended_ack->step_id);
		else
			jobs_ack(nd->jobs, m->job_ended_ack->job_id);
		break;
	case PACER__MSG__BODY_ERROR:
		log_err("the controller at %s says: %s", conn_peer(c), m->error->message);
		break;
	case PACER__MSG__BODY_OK: break;
	default:
		log_warn("unexpected %s from the controller at %s: ignored",
			 frame_type_name(m->body_case), conn_peer(c));
		break;
	}
}

static void on_closed(struct conn *c, const char *why, void *arg)
{
	struct link *l = arg;
	long ci = cand_index(l, c);

	if (ci >= 0)
		cand_remove(l, (size_t)ci);
	if (c != l->cur)
		return;
	log_info("link down: controller at %s: %s; waiting for a controller to connect",
		 conn_peer(c), why);
	link_down(l);
}

static const struct conn_ops link_ops = {
	.ready = on_ready,
	.msg = on_msg,
	.closed = on_closed,
};

/* Listening -----------------------------------------------------------------*/

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct link *l = arg;
	char host[NI_MAXHOST], serv[NI_MAXSERV], peer[NI_MAXHOST + NI_MAXSERV + 4];

	(void)lis;
	if (getnameinfo(sa, (socklen_t)salen, host, sizeof(host), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(peer, sizeof(peer), "?");
	else
		snprintf(peer, sizeof(peer), sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
			 serv);
	if (l->nd->stopping) {
		close(fd);
		return;
	}
	log_debug("connection from %s", peer);
	if (!conn_accept(&l->cfg, fd, peer, &link_ops, l))
		log_err("cannot take the connection from %s: %s", peer, strerror(errno));
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;

	(void)fd;
	(void)what;
	if (l->lis && !l->nd->stopping)
		evconnlistener_enable(l->lis);
}

/* accept() failing (EMFILE) would fire again at once: pause instead of
 * spinning. */
static void on_accept_error(struct evconnlistener *lis, void *arg)
{
	struct link *l = arg;
	struct timeval tv = { .tv_sec = ACCEPT_PAUSE_MS / 1000 };
	int e = EVUTIL_SOCKET_ERROR();

	log_err("cannot accept connections: %s; trying again in %d s", strerror(e),
		ACCEPT_PAUSE_MS / 1000);
	evconnlistener_disable(lis);
	evtimer_add(l->accept_ev, &tv);
}

static int listen_on(struct link *l, const char *host, uint16_t port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char portstr[8];
	int rc;

	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	rc = getaddrinfo(host, portstr, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen,
			 "cannot resolve the node address %s: %s (fix address= in "
			 "pacer.conf)",
			 host, gai_strerror(rc));
		errno = EADDRNOTAVAIL;
		return -1;
	}
	l->lis = evconnlistener_new_bind(l->nd->base, on_accept, l,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
					     LEV_OPT_CLOSE_ON_EXEC,
					 128, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (!l->lis) {
		int e = errno;
		snprintf(err, errlen,
			 "cannot listen on %s:%u: %s (is another pacernoded running "
			 "there?)",
			 host, (unsigned)port, strerror(e));
		errno = e;
		return -1;
	}
	evconnlistener_set_error_cb(l->lis, on_accept_error);
	log_info("node %s listening on %s:%u", l->nd->name, host, (unsigned)port);
	return 0;
}

int link_start(struct noded *nd, char *err, size_t errlen)
{
	const struct conf_node *cn = nd->node;
	struct link *l = calloc(1, sizeof(*l));

	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	nd->link = l;
	l->nd = nd;
	l->cfg = (struct conn_cfg){ .base = nd->base,
				    .auth = nd->auth,
				    .cluster = nd->conf->cluster,
				    .service = "noded",
				    .epoch = 0,
				    .max_frame = FRAME_MAX_REQUEST,
				    .handshake_ms = HANDSHAKE_MS,
				    .mutual = true };
	l->promote_ev = event_new(nd->base, -1, 0, on_promote, l);
	l->hb_ev = event_new(nd->base, -1, EV_PERSIST, on_heartbeat, l);
	l->accept_ev = evtimer_new(nd->base, on_accept_resume, l);
	if (!l->promote_ev || !l->hb_ev || !l->accept_ev) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	return listen_on(l, cn->address, cn->port, err, errlen);
}

void link_stop_listening(struct noded *nd)
{
	struct link *l = nd->link;

	if (l && l->lis) {
		evconnlistener_free(l->lis);
		l->lis = NULL;
		log_info("no longer accepting connections");
	}
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	struct link *l = arg;
	struct timeval tv = { .tv_usec = FLUSH_POLL_MS * 1000 };
	void (*done)(struct noded * nd) = l->flush_done;

	(void)fd;
	(void)what;
	if (l->cur && conn_pending_output(l->cur) > 0 &&
	    timefmt_monotonic_ms() < l->flush_deadline_ms) {
		evtimer_add(l->flush_ev, &tv);
		return;
	}
	if (l->cur) {
		conn_close(l->cur, false);
		link_down(l);
	}
	l->flush_done = NULL;
	if (done)
		done(l->nd);
}

void link_finish(struct noded *nd, void (*done)(struct noded *nd))
{
	struct link *l = nd->link;

	if (!l) {
		done(nd);
		return;
	}
	evtimer_del(l->hb_ev);
	l->flush_done = done;
	l->flush_deadline_ms = timefmt_monotonic_ms() + FLUSH_WAIT_MS;
	if (!l->flush_ev)
		l->flush_ev = evtimer_new(nd->base, on_flush, l);
	if (!l->flush_ev) {
		on_flush(-1, 0, l);
		return;
	}
	event_active(l->flush_ev, EV_TIMEOUT, 0);
}

void link_destroy(struct noded *nd)
{
	struct link *l = nd->link;

	if (!l)
		return;
	if (l->lis)
		evconnlistener_free(l->lis);
	if (l->cur)
		conn_close(l->cur, false);
	for (size_t i = 0; i < l->ncand; i++)
		conn_close(l->cand[i], false);
	free(l->cand);
	if (l->promote_ev)
		event_free(l->promote_ev);
	if (l->hb_ev)
		event_free(l->hb_ev);
	if (l->accept_ev)
		event_free(l->accept_ev);
	if (l->flush_ev)
		event_free(l->flush_ev);
	free(l);
	nd->link = NULL;
}
