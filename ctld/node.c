/* node.c - node table, links to node daemons, registration (see node.h). */
#include "node.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob.h"
#include "conf.h"
#include "conn.h"
#include "fileio.h"
#include "ctld.h"
#include "frame.h"
#include "hostlist.h"
#include "job.h"
#include "log.h"
#include "sched.h"
#include "state.h"
#include "step.h"
#include "timefmt.h"
#include "topo.h"
#include "topocache.h"

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

int node_cpuset_pus(const struct node *n, const char *cpuset, uint32_t **pus, size_t *npus)
{
	const struct topo_layout *l = n->res.layout;
	uint32_t *os = NULL;
	size_t nos = 0;
	if (!l || topo_list_parse(cpuset, UINT32_MAX - 1, &os, &nos) < 0) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < nos; i++) {
		uint32_t pu = topo_pu_by_os(n->topo, os[i]);
		if (pu == TOPO_NONE) {
			free(os);
			errno = EINVAL;
			return -1;
		}
		os[i] = pu;
	}
	*pus = os;
	*npus = nos;
	return 0;
}

/* Mark one node of J's allocation on that node, when its layout is known. */
static void charge_one(struct job *j, struct job_alloc *a, bool add)
{
	if (a->node >= nnodes) { /* the table is gone (at exit) */
		a->charged = false;
		return;
	}
	struct node *n = &nodes[a->node];
	if (!add) {
		if (a->charged) {
			uint32_t *pus = NULL, *gpus = NULL;
			size_t npus = 0, ngpus = 0;
			/* Releasing frees only what the job holds: a parse
			 * failure still releases memory and the exclusive hold. */
			node_cpuset_pus(n, a->cpuset->data, &pus, &npus);
			topo_list_parse(a->gpus->data, UINT32_MAX - 1, &gpus, &ngpus);
			select_charge(&n->res, j->id, pus, npus, gpus, ngpus, a->mem_mb,
				      a->exclusive, false);
			free(pus);
			free(gpus);
		}
		a->charged = false;
		return;
	}
	if (a->charged || !n->res.layout)
		return;
	uint32_t *pus = NULL, *gpus = NULL;
	size_t npus = 0, ngpus = 0;
	if (node_cpuset_pus(n, a->cpuset->data, &pus, &npus) < 0 ||
	    topo_list_parse(a->gpus->data, n->res.layout->ngpus ? n->res.layout->ngpus - 1 : 0,
			    &gpus, &ngpus) < 0) {
		/* The node now reports a smaller machine than the job was given:
		 * count what can be counted, and say so. */
		log_err("job %u: its CPUs %s / GPUs %s are not all on node %s as it is now", j->id,
			a->cpuset->data, a->gpus->data, n->res.name);
	}
	if (select_charge(&n->res, j->id, pus, npus, gpus, ngpus, a->mem_mb, a->exclusive, true) <
	    0)
		log_err("job %u: CPUs %s on node %s are held by another job too", j->id,
			a->cpuset->data, n->res.name);
	else
		a->charged = true;
	free(pus);
	free(gpus);
}

void node_charge(struct job *j, bool add)
{
	for (uint32_t i = 0; i < j->nalloc; i++)
		charge_one(j, &j->alloc[i], add);
	j->charged = add;
}

/* N now has topology T (a reference from topocache): usage is rebuilt from
 * the jobs that run there, as the journal gave their CPUs. */
static int set_topology(struct node *n, struct topo *t)
{
	for (struct job *j = job_first(); j; j = j->next)
		for (uint32_t i = 0; i < j->nalloc; i++)
			if (j->alloc[i].node == n->index)
				j->alloc[i].charged = false;
	if (select_node_set_layout(&n->res, t ? topo_layout(t) : NULL) < 0)
		return -1;
	topocache_put(n->topo);
	n->topo = t;
	snprintf(n->topo_hash, sizeof(n->topo_hash), "%s", t ? topo_hash(t) : "");
	for (struct job *j = job_first(); j; j = j->next) {
		if (!j->charged)
			continue;
		for (uint32_t i = 0; i < j->nalloc; i++)
			if (j->alloc[i].node == n->index)
				charge_one(j, &j->alloc[i], true);
	}
	return 0;
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

int node_send(uint32_t index, Pacer__Msg *m)
{
	if (index >= nnodes) {
		errno = ENOENT;
		return -1;
	}
	return send_msg(&nodes[index], m);
}

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
	l.alloc = p.job.alloc[0];
	l.ntasks = j->ntasks;
	l.nnodes = j->nalloc;
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

int node_release(struct job *j, int32_t exit_code)
{
	if (!j->nalloc) {
		errno = ESRCH;
		return -1;
	}
	Pacer__SignalJob s = PACER__SIGNAL_JOB__INIT;
	s.job_id = j->id;
	s.signal = SIGTERM;
	s.terminate = true;
	s.release = true;
	s.exit_code = exit_code;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_SIGNAL;
	m.signal = &s;
	return send_msg(&nodes[j->alloc[0].node], &m);
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

/* What N may allocate: its layout's memory (or what it reported), lowered
 * by pacer.conf `memory`, which keeps some back for the system like
 * Slurm's RealMemory but never raises what the node has. */
static void set_memory(struct node *n, uint64_t reported_mem_mb)
{
	const struct conf_node *cn = &ctld.conf->nodes[n->index];
	const struct topo_layout *l = n->res.layout;
	uint64_t mem = l->mem_mb ? l->mem_mb : reported_mem_mb;
	n->res.mem_mb = cn->mem_mb && (cn->mem_mb < mem || !mem) ? cn->mem_mb : mem;
}

int node_bring_up(struct node *n, struct topo *t, uint64_t reported_mem_mb)
{
	const struct conf_node *cn = &ctld.conf->nodes[n->index];
	if (t == n->topo) {
		topocache_put(t);
	} else if (set_topology(n, t) < 0) {
		topocache_put(t);
		return -1;
	}
	set_memory(n, reported_mem_mb);
	if (cn->cpus && cn->cpus != n->res.layout->npus)
		log_warn("node %s: pacer.conf says %u CPUs, its topology has %u: using the "
			 "topology",
			 n->res.name, cn->cpus, n->res.layout->npus);
	set_state(n, PACER__NODE_STATE__NODE_UP, NULL);
	return 0;
}

/* Remembered topologies --------------------------------------------------
 *
 * Each node's last topology is kept in STATE_DIR/topology/NODE (the
 * compressed XML it sent), so that a restarted controller checks submits
 * against node sizes at once and charges the journal's allocations before
 * the nodes register.  Only a cache: lost or stale, the node's next
 * registration puts it right, so it is written without fsync.
 */
#define TOPO_FILE_MAX (64u << 20)

static int topo_file(const struct node *n, char *buf, size_t len)
{
	if (strchr(n->res.name, '/'))
		return -1;
	int w = snprintf(buf, len, "%s/topology/%s", ctld.conf->state_dir, n->res.name);
	return w < 0 || (size_t)w >= len ? -1 : 0;
}

static void remember_topology(const struct node *n, const void *xml, size_t len)
{
	char path[4096], tmp[4200], dir[4096];
	snprintf(dir, sizeof(dir), "%s/topology", ctld.conf->state_dir);
	if (topo_file(n, path, sizeof(path)) < 0 || (mkdir(dir, 0700) < 0 && errno != EEXIST))
		goto failed;
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (file_replace(path, tmp, xml, len, 0600, NULL) < 0)
		goto failed;
	return;
failed:
	log_warn("node %s: cannot keep its topology in %s/topology (%s): after a restart, "
		 "submits are checked against its size only once it registers",
		 n->res.name, ctld.conf->state_dir, strerror(errno));
}

/* At start: N's remembered topology, if any (N stays UNKNOWN). */
static void recall_topology(struct node *n)
{
	char path[4096], err[256];
	struct stat st;
	if (topo_file(n, path, sizeof(path)) < 0)
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	void *buf = NULL;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || (uint64_t)st.st_size > TOPO_FILE_MAX ||
	    !(buf = malloc((size_t)st.st_size)) ||
	    read(fd, buf, (size_t)st.st_size) != st.st_size) {
		log_warn("node %s: cannot read %s: ignored", n->res.name, path);
		goto done;
	}
	struct topo *t = topocache_get(buf, (size_t)st.st_size, ctld.conf->nodes[n->index].gpus,
				       err, sizeof(err));
	if (!t) {
		log_warn("node %s: %s: %s: ignored", n->res.name, path, err);
		goto done;
	}
	if (set_topology(n, t) < 0) {
		topocache_put(t);
		goto done;
	}
	set_memory(n, 0);
	snprintf(n->topo_source, sizeof(n->topo_source), "remembered from its last registration");
done:
	free(buf);
	close(fd);
}

/* Registration ------------------------------------------------------------
 *
 * A registration carries the node's topology, which is checked off the loop
 * the first time those bytes are seen (topocache.h): the registration waits
 * for the verdict in N->pending_reg, and is finished, or refused, then.
 */

static void drop_pending(struct node *n)
{
	topocache_cancel(n->topo_wait);
	n->topo_wait = NULL;
	if (n->pending_reg)
		pacer__node_register__free_unpacked(n->pending_reg, NULL);
	n->pending_reg = NULL;
}

/* R, copied out of the message that is freed when link_msg returns.  NULL
 * when it cannot be (no memory, or fields protobuf-c packs but cannot read
 * back). */
static Pacer__NodeRegister *copy_register(const Pacer__NodeRegister *r)
{
	size_t len = pacer__node_register__get_packed_size(r);
	uint8_t *buf = malloc(len ? len : 1);
	Pacer__NodeRegister *copy = NULL;

	if (buf) {
		pacer__node_register__pack(r, buf);
		copy = pacer__node_register__unpack(NULL, len, buf);
	}
	free(buf);
	return copy;
}

/* Refuse N's registration for WHY: the node daemon is told, the log says
 * it once (not at every retry), and N is DOWN with WHY as its reason. */
static void refuse_registration(struct node *n, const char *why)
{
	/* n->reason may hold only the start of WHY */
	bool again = n->state == PACER__NODE_STATE__NODE_DOWN &&
		     strncmp(n->reason, why, sizeof(n->reason) - 1) == 0;

	if (again)
		log_debug("%s: %s; the node stays down", n->res.name, why);
	else
		log_err("%s: %s; the node stays down", n->res.name, why);
	drop_pending(n);
	conn_send_error(n->link, 0, EINVAL, "the controller refused the registration of %s: %s",
			n->res.name, why);
	conn_close(n->link, true);
	n->link = NULL;
	set_state(n, PACER__NODE_STATE__NODE_DOWN, why);
	schedule_retry(n);
}

/* N's topology T passed (a topocache reference): N is up. */
static void finish_register(struct node *n, struct topo *t, const Pacer__NodeRegister *r)
{
	if (n->boot_id[0] && strcmp(n->boot_id, r->boot_id) != 0)
		log_warn("node %s rebooted (boot id changed)", n->res.name);
	struct topo *before = n->topo;
	if (node_bring_up(n, t, r->mem_mb) < 0) {
		log_err("node %s: out of memory", n->res.name);
		return;
	}
	if (n->topo != before)
		remember_topology(n, r->topology.data, r->topology.len);
	snprintf(n->topo_source, sizeof(n->topo_source), "%s", r->topology_source);
	snprintf(n->boot_id, sizeof(n->boot_id), "%s", r->boot_id);
	snprintf(n->version, sizeof(n->version), "%s", r->version);
	n->registered = true;
	n->backoff_ms = 0;
	n->last_heard = ctld_now();
	n->last_heard_ms = timefmt_monotonic_ms();

	Pacer__RegisterAck ack = PACER__REGISTER_ACK__INIT;
	ack.heartbeat_interval = ctld.conf->heartbeat_interval;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_REGISTER_ACK;
	m.register_ack = &ack;
	conn_send(n->link, &m);

	reconcile(n, r);
	sched_request();
}

/* The verdict on the pending registration's topology (topocache_done_fn). */
static void on_topology(void *arg, struct topo *t, const char *err)
{
	struct node *n = arg;
	char why[512];

	n->topo_wait = NULL;
	if (!t) {
		snprintf(why, sizeof(why), "topology refused: %s", err);
		refuse_registration(n, why);
		return;
	}
	Pacer__NodeRegister *r = n->pending_reg;
	n->pending_reg = NULL;
	finish_register(n, t, r);
	pacer__node_register__free_unpacked(r, NULL);
}

static void on_register(struct node *n, const Pacer__NodeRegister *r)
{
	if (strcmp(r->name, n->res.name) != 0) {
		log_err("the daemon at %s:%u says it is node %s, but pacer.conf has %s there",
			ctld.conf->nodes[n->index].address, ctld.conf->nodes[n->index].port,
			r->name, n->res.name);
		drop_pending(n);
		conn_close(n->link, false);
		n->link = NULL;
		schedule_retry(n);
		return;
	}
	if (!r->topology.len) {
		refuse_registration(n, "topology refused: the node daemon sent none (it is older "
				       "than this controller: upgrade it)");
		return;
	}
	drop_pending(n); /* a registration again on the same link replaces the first */
	n->pending_reg = copy_register(r);
	if (!n->pending_reg) {
		refuse_registration(n, "registration refused: the controller cannot keep it while "
				       "its topology is checked (out of memory, or a malformed "
				       "message)");
		return;
	}
	n->topo_wait = topocache_request(ctld.base, n->pending_reg->topology.data,
					 n->pending_reg->topology.len,
					 ctld.conf->nodes[n->index].gpus, on_topology, n);
	if (!n->topo_wait)
		refuse_registration(n, "registration refused: the controller is out of memory");
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
		if (m->heartbeat->topology_hash && *m->heartbeat->topology_hash &&
		    strcmp(m->heartbeat->topology_hash, n->topo_hash) != 0) {
			/* Its hardware changed under it: registering again brings
			 * the new layout. */
			log_warn("node %s: topology changed: reconnecting", n->res.name);
			conn_close(c, false);
			n->link = NULL;
			n->registered = false;
			set_state(n, PACER__NODE_STATE__NODE_SUSPECT, "topology changed");
			schedule_retry(n);
			break;
		}
		if (n->state != PACER__NODE_STATE__NODE_UP)
			set_state(n, PACER__NODE_STATE__NODE_UP, NULL);
		break;
	case PACER__MSG__BODY_JOB_ENDED: on_job_ended(n, m->job_ended); break;
	case PACER__MSG__BODY_STEP_ENDED: step_node_ended(n->index, m->step_ended); break;
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
	drop_pending(n); /* gone before its topology was checked */
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
		n->res.mem_mb = ctld.conf->nodes[i].mem_mb;
		n->res.feature_mask = ctld.conf->nodes[i].feature_mask;
		n->state = PACER__NODE_STATE__NODE_UNKNOWN;
		snprintf(n->reason, sizeof(n->reason), "not registered yet");
		recall_topology(n);
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
		drop_pending(&nodes[i]);
		if (nodes[i].link)
			conn_close(nodes[i].link, false);
		if (nodes[i].retry)
			event_free(nodes[i].retry);
		select_node_release(&nodes[i].res);
		topocache_put(nodes[i].topo);
	}
	topocache_destroy();
	if (watch_ev)
		event_free(watch_ev);
	free(nodes);
	nodes = NULL;
	nnodes = 0;
}

/* Strings of the layout, back to back in one buffer. */
struct strbuf {
	char *buf;
	size_t len, cap;
};

static long sb_list(struct strbuf *sb, const uint32_t *v, size_t n, bool pus,
		    const struct topo_layout *l)
{
	for (;;) {
		size_t room = sb->cap - sb->len;
		int w = pus ? topo_pus_format(l, v, n, sb->buf + sb->len, room)
			    : topo_list_format(v, n, sb->buf + sb->len, room);
		if (w < 0)
			return -1;
		if ((size_t)w < room) {
			long at = (long)sb->len;
			sb->len += (size_t)w + 1;
			return at;
		}
		size_t ncap = (sb->cap + (size_t)w + 1) * 2;
		char *nb = realloc(sb->buf, ncap);
		if (!nb)
			return -1;
		sb->buf = nb;
		sb->cap = ncap;
	}
}

static int fill_layout(const struct node *n, struct node_info_scratch *x)
{
	const struct topo_layout *l = n->res.layout;
	const struct select_node *r = &n->res;
	Pacer__NodeLayout *lay = &x->layout;
	pacer__node_layout__init(lay);
	lay->topology_source = (char *)n->topo_source;
	x->cores = calloc(l->ncores ? l->ncores : 1, sizeof(*x->cores));
	x->corep = calloc(l->ncores ? l->ncores : 1, sizeof(*x->corep));
	x->gpus = calloc(l->ngpus ? l->ngpus : 1, sizeof(*x->gpus));
	x->gpup = calloc(l->ngpus ? l->ngpus : 1, sizeof(*x->gpup));
	x->numas = calloc(l->ndomains ? l->ndomains : 1, sizeof(*x->numas));
	x->numap = calloc(l->ndomains ? l->ndomains : 1, sizeof(*x->numap));
	x->jobs = calloc(l->npus ? l->npus : 1, sizeof(*x->jobs));
	uint32_t *tmp = calloc(l->npus ? l->npus : 1, sizeof(*tmp));
	struct strbuf sb = { 0 };
	long *core_at = calloc(l->ncores ? l->ncores : 1, sizeof(*core_at));
	long *numa_at = calloc(l->ndomains ? l->ndomains : 1, sizeof(*numa_at));
	if (!x->cores || !x->corep || !x->gpus || !x->gpup || !x->numas || !x->numap || !x->jobs ||
	    !tmp || !core_at || !numa_at)
		goto failed;
	size_t njobs = 0;
	for (uint32_t c = 0; c < l->ncores; c++) {
		const struct topo_core *tc = &l->cores[c];
		Pacer__CoreInfo *ci = &x->cores[c];
		pacer__core_info__init(ci);
		ci->index = c;
		ci->package = tc->package;
		ci->numa = tc->domain;
		for (uint32_t k = 0; k < tc->npus; k++)
			tmp[k] = tc->first_pu + k;
		if ((core_at[c] = sb_list(&sb, tmp, tc->npus, true, l)) < 0)
			goto failed;
		/* The jobs holding this core's PUs, without repeats. */
		ci->jobs = x->jobs + njobs;
		for (uint32_t k = 0; k < tc->npus; k++) {
			uint32_t job = r->pu_job ? r->pu_job[tc->first_pu + k] : 0;
			bool seen = job == 0;
			for (size_t q = 0; q < ci->n_jobs && !seen; q++)
				seen = ci->jobs[q] == job;
			if (!seen)
				ci->jobs[ci->n_jobs++] = job;
		}
		njobs += ci->n_jobs;
		x->corep[c] = ci;
	}
	for (uint32_t d = 0; d < l->ndomains; d++) {
		Pacer__NumaInfo *ni = &x->numas[d];
		pacer__numa_info__init(ni);
		ni->index = d;
		ni->package = l->domains[d].package;
		ni->nodeset = (char *)l->domains[d].nodeset;
		ni->mem_mb = l->domains[d].mem_mb;
		size_t k = 0;
		for (uint32_t c = 0; c < l->ncores; c++)
			for (uint32_t q = 0; l->cores[c].domain == d && q < l->cores[c].npus; q++)
				tmp[k++] = l->cores[c].first_pu + q;
		if ((numa_at[d] = sb_list(&sb, tmp, k, true, l)) < 0)
			goto failed;
		x->numap[d] = ni;
	}
	for (uint32_t g = 0; g < l->ngpus; g++) {
		const struct topo_gpu *tg = &l->gpus[g];
		Pacer__GpuInfo *gi = &x->gpus[g];
		pacer__gpu_info__init(gi);
		gi->index = g;
		gi->name = (char *)tg->name;
		gi->kind = (char *)tg->kind;
		gi->numa = tg->domain == TOPO_NONE ? -1 : (int32_t)tg->domain;
		gi->package = tg->package == TOPO_NONE ? -1 : (int32_t)tg->package;
		gi->busid = (char *)tg->busid;
		gi->job = r->gpu_job ? r->gpu_job[g] : 0;
		x->gpup[g] = gi;
	}
	/* Only now, when the buffer no longer moves, point into it. */
	for (uint32_t c = 0; c < l->ncores; c++)
		x->cores[c].pus = sb.buf + core_at[c];
	for (uint32_t d = 0; d < l->ndomains; d++)
		x->numas[d].cpuset = sb.buf + numa_at[d];
	x->strings = sb.buf;
	lay->cores = x->corep;
	lay->n_cores = l->ncores;
	lay->numas = x->numap;
	lay->n_numas = l->ndomains;
	lay->gpus = x->gpup;
	lay->n_gpus = l->ngpus;
	free(tmp);
	free(core_at);
	free(numa_at);
	return 0;
failed:
	free(sb.buf);
	free(tmp);
	free(core_at);
	free(numa_at);
	errno = ENOMEM;
	return -1;
}

int node_to_info(const struct node *n, Pacer__NodeInfo *info, bool layout,
		 struct node_info_scratch *x)
{
	const struct conf_node *cn = &ctld.conf->nodes[n->index];
	const struct conf *conf = ctld.conf;
	const struct select_node *r = &n->res;
	const struct topo_layout *l = r->layout;
	memset(x, 0, sizeof(*x));
	pacer__node_info__init(info);
	info->name = (char *)r->name;
	info->state = n->state;
	info->reason = (char *)n->reason;
	info->address = cn->address;
	info->port = cn->port;
	info->mem_mb = r->mem_mb;
	info->mem_alloc_mb = r->mem_alloc_mb;
	info->boot_id = (char *)n->boot_id;
	info->last_heard = n->last_heard;
	info->version = (char *)n->version;
	info->topology_hash = (char *)n->topo_hash;
	x->features = calloc(conf->nfeatures + 1, sizeof(*x->features));
	if (!x->features)
		goto failed;
	for (size_t f = 0; f < conf->nfeatures; f++)
		if (r->feature_mask & (1u << f))
			x->features[info->n_features++] = conf->features[f];
	info->features = x->features;
	if (!l) {
		info->cpus = cn->cpus;
		return 0;
	}
	info->cpus = l->npus;
	info->cpus_alloc = r->pus_alloc;
	info->sockets = l->npackages;
	info->cores = l->ncores;
	info->threads = l->threads_per_core;
	info->numas = l->ndomains;
	info->gpus = l->ngpus;
	info->gpus_alloc = r->gpus_alloc;
	info->cores_alloc = r->cores_busy;
	uint32_t *held = calloc(l->npus ? l->npus : 1, sizeof(*held));
	if (!held)
		goto failed;
	size_t nheld = 0;
	for (uint32_t p = 0; r->pu_job && p < l->npus; p++)
		if (r->pu_job[p])
			held[nheld++] = p;
	int len = topo_pus_format(l, held, nheld, NULL, 0);
	x->cpuset_alloc = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (x->cpuset_alloc)
		topo_pus_format(l, held, nheld, x->cpuset_alloc, (size_t)len + 1);
	free(held);
	if (!x->cpuset_alloc)
		goto failed;
	info->cpuset_alloc = x->cpuset_alloc;
	if (layout) {
		if (fill_layout(n, x) < 0)
			goto failed;
		info->layout = &x->layout;
	}
	return 0;
failed:
	node_info_release(x);
	errno = ENOMEM;
	return -1;
}

void node_info_release(struct node_info_scratch *x)
{
	free(x->features);
	free(x->cpuset_alloc);
	free(x->cores);
	free(x->corep);
	free(x->gpus);
	free(x->gpup);
	free(x->numas);
	free(x->numap);
	free(x->strings);
	free(x->jobs);
	memset(x, 0, sizeof(*x));
}
