/* pmi.c - a step's PMIx server on this node, and its fences across nodes.
 *
 * Each node's supervisor of an MPI step (--mpi=pmix, the default) is the
 * PMIx server of its local ranks (noded/pmix/pmixsrv.h).  A fence needs
 * every node's blob: they are gathered by node 0's supervisor, a star (a
 * tree of depth one).  Node 0 listens on a port of its own, says so in its
 * StepIoHello, pacer run tells every supervisor (StepIoWireup), and each
 * other supervisor connects to node 0 once, with a munge handshake (service
 * "fence": root on a cluster host) and the step's io_key.  For fence SEQ a
 * node sends its blob; node 0 sends back the concatenation in node order
 * once it has all, and completes its own ranks' fence with it.
 *
 * Why a star: a step's fences are three per run of MPI_Init/Finalize with
 * 50-120 bytes a node, so node 0 handles 2(N-1) small messages per fence;
 * that is nothing below a few hundred nodes, and every node is one hop
 * away, so the latency is one round trip.  A k-ary tree is the change to
 * make when steps of thousands of nodes come (docs/mpi.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conn.h"
#include "frame.h"
#include "log.h"
#include "pmixsrv.h"
#include "supervisor.h"

#define FENCE_HANDSHAKE_MS 10000

/* Node 0: one fence being gathered. */
struct gather {
	struct gather *next;
	uint32_t seq;
	uint32_t have;
	uint8_t **data; /* [nnodes] */
	size_t *len;
	bool *got;
	struct pmixsrv_fence *token; /* our own ranks', once they joined */
};

/* A child: one fence sent, its answer awaited. */
struct waiting {
	struct waiting *next;
	uint32_t seq;
	struct pmixsrv_fence *token;
	uint8_t *data; /* until it could be sent */
	size_t len;
	bool sent;
};

struct pmi {
	struct sup *s;
	const Pacer__LaunchStep *ls;
	struct pmixsrv *ps;
	char tmpdir[128];
	struct auth *auth;
	uint32_t nnodes, me;
	/* node 0 */
	struct evconnlistener *lis;
	uint16_t port;
	struct conn **child; /* [nnodes], by node index once it said hello */
	struct conn **accepted; /* every connection taken, hello or not */
	size_t naccepted, accepted_cap;
	struct gather *gathers;
	/* other nodes */
	struct conn *root;
	bool root_ready;
	struct waiting *waits;
	/* the job map */
	const char **names;
	const uint32_t **ranks;
	uint32_t *nranks;
};

/* Fences ----------------------------------------------------------------------*/

static void send_fence(struct conn *c, uint32_t seq, uint32_t node, const void *data, size_t len,
		       int status)
{
	Pacer__StepFence f = PACER__STEP_FENCE__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	f.seq = seq;
	f.node_index = node;
	f.data.data = (uint8_t *)data;
	f.data.len = len;
	f.status = status;
	m.body_case = PACER__MSG__BODY_FENCE;
	m.fence = &f;
	conn_send(c, &m);
}

static struct gather *gather_get(struct pmi *p, uint32_t seq)
{
	struct gather *g;

	for (g = p->gathers; g; g = g->next)
		if (g->seq == seq)
			return g;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->seq = seq;
	g->data = calloc(p->nnodes, sizeof(*g->data));
	g->len = calloc(p->nnodes, sizeof(*g->len));
	g->got = calloc(p->nnodes, sizeof(*g->got));
	if (!g->data || !g->len || !g->got) {
		free(g->data);
		free(g->len);
		free(g->got);
		free(g);
		return NULL;
	}
	g->next = p->gathers;
	p->gathers = g;
	return g;
}

static void gather_free(struct pmi *p, struct gather *g)
{
	for (struct gather **pp = &p->gathers; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	for (uint32_t i = 0; i < p->nnodes; i++)
		free(g->data[i]);
	free(g->data);
	free(g->len);
	free(g->got);
	free(g);
}

/* Node 0: NODE's part of fence SEQ.  With every part, the answer goes out. */
static void gather_add(struct pmi *p, uint32_t seq, uint32_t node, const void *data, size_t len,
		       struct pmixsrv_fence *token)
{
	struct gather *g = gather_get(p, seq);
	size_t total = 0, off = 0;
	uint8_t *all;

	if (!g) {
		log_err("%s: out of memory in fence %" PRIu32, p->s->unit, seq);
		if (token)
			pmixsrv_fence_done(token, -1, NULL, 0);
		return;
	}
	if (token)
		g->token = token;
	if (node >= p->nnodes || g->got[node]) {
		log_warn("%s: fence %" PRIu32 ": a second part from node %" PRIu32 ": ignored",
			 p->s->unit, seq, node);
		return;
	}
	g->data[node] = malloc(len ? len : 1);
	if (!g->data[node])
		return;
	if (len)
		memcpy(g->data[node], data, len);
	g->len[node] = len;
	g->got[node] = true;
	if (++g->have < p->nnodes)
		return;
	for (uint32_t i = 0; i < p->nnodes; i++)
		total += g->len[i];
	all = malloc(total ? total : 1);
	if (!all) {
		log_err("%s: out of memory in fence %" PRIu32, p->s->unit, seq);
		return;
	}
	for (uint32_t i = 0; i < p->nnodes; i++) {
		if (g->len[i])
			memcpy(all + off, g->data[i], g->len[i]);
		off += g->len[i];
	}
	for (uint32_t i = 1; i < p->nnodes; i++)
		if (p->child[i])
			send_fence(p->child[i], seq, 0, all, total, 0);
	if (g->token)
		pmixsrv_fence_done(g->token, 0, all, total);
	free(all);
	gather_free(p, g);
}

static void flush_waits(struct pmi *p)
{
	for (struct waiting *w = p->waits; w; w = w->next) {
		if (w->sent || !p->root_ready)
			continue;
		send_fence(p->root, w->seq, p->me, w->data, w->len, 0);
		w->sent = true;
		free(w->data);
		w->data = NULL;
	}
}

static void fail_waits(struct pmi *p)
{
	while (p->waits) {
		struct waiting *w = p->waits;
		p->waits = w->next;
		pmixsrv_fence_done(w->token, -1, NULL, 0);
		free(w->data);
		free(w);
	}
}

/* ops->fence: this node's ranks all joined fence SEQ. */
static void on_fence(void *arg, uint32_t seq, const void *data, size_t len,
		     struct pmixsrv_fence *token)
{
	struct pmi *p = arg;

	if (p->nnodes == 1) {
		pmixsrv_fence_done(token, 0, data, len);
		return;
	}
	if (p->me == 0) {
		gather_add(p, seq, 0, data, len, token);
		return;
	}
	struct waiting *w = calloc(1, sizeof(*w));
	if (w)
		w->data = malloc(len ? len : 1);
	if (!w || !w->data) {
		free(w);
		pmixsrv_fence_done(token, -1, NULL, 0);
		return;
	}
	if (len)
		memcpy(w->data, data, len);
	w->len = len;
	w->seq = seq;
	w->token = token;
	w->next = p->waits;
	p->waits = w;
	flush_waits(p);
}

static void on_abort(void *arg, uint32_t rank, int status, const char *msg)
{
	struct pmi *p = arg;

	step_abort(p->s, rank, status, msg);
}

static const struct pmixsrv_ops pmix_ops = {
	.fence = on_fence,
	.abort = on_abort,
};

/* Node 0's side: children connecting -------------------------------------------*/

static long child_index(const struct pmi *p, const struct conn *c)
{
	for (uint32_t i = 1; i < p->nnodes; i++)
		if (p->child[i] == c)
			return i;
	return -1;
}

static void forget_accepted(struct pmi *p, const struct conn *c)
{
	for (size_t k = 0; k < p->naccepted; k++) {
		if (p->accepted[k] == c) {
			p->accepted[k] = p->accepted[--p->naccepted];
			return;
		}
	}
}

static void on_child_msg(struct conn *c, Pacer__Msg *m, void *arg)
{
	struct pmi *p = arg;
	const Pacer__LaunchStep *ls = p->ls;
	long i = child_index(p, c);

	if (m->body_case == PACER__MSG__BODY_FENCE_HELLO) {
		const Pacer__StepFenceHello *h = m->fence_hello;
		if (h->job_id != ls->job_id || h->step_id != ls->step_id || !h->node_index ||
		    h->node_index >= p->nnodes || !ls->io_key.len ||
		    h->io_key.len != ls->io_key.len ||
		    memcmp(h->io_key.data, ls->io_key.data, ls->io_key.len) != 0) {
			log_warn("%s: a fence connection from %s is not of this step: closed",
				 p->s->unit, conn_peer(c));
			forget_accepted(p, c);
			conn_close(c, false);
			return;
		}
		if (p->child[h->node_index] && p->child[h->node_index] != c) {
			forget_accepted(p, p->child[h->node_index]);
			conn_close(p->child[h->node_index], false);
		}
		p->child[h->node_index] = c;
		return;
	}
	if (i < 0) {
		log_warn("%s: %s before a fence hello from %s: closed", p->s->unit,
			 frame_type_name(m->body_case), conn_peer(c));
		forget_accepted(p, c);
		conn_close(c, false);
		return;
	}
	if (m->body_case == PACER__MSG__BODY_FENCE)
		gather_add(p, m->fence->seq, (uint32_t)i, m->fence->data.data, m->fence->data.len,
			   NULL);
}

static int on_child_ready(struct conn *c, void *arg, char *err, size_t errlen)
{
	(void)arg;
	if (conn_uid(c) != 0) {
		snprintf(err, errlen, "only root (a node's supervisor) may take part in a fence");
		return -1;
	}
	return 0;
}

static void fail_gathers(struct pmi *p)
{
	while (p->gathers) {
		struct gather *g = p->gathers;
		if (g->token)
			pmixsrv_fence_done(g->token, -1, NULL, 0);
		for (uint32_t i = 1; i < p->nnodes; i++)
			if (p->child[i])
				send_fence(p->child[i], g->seq, 0, NULL, 0, -1);
		gather_free(p, g);
	}
}

static void on_child_closed(struct conn *c, const char *why, void *arg)
{
	struct pmi *p = arg;
	long i = child_index(p, c);

	forget_accepted(p, c);
	if (i < 0)
		return;
	p->child[i] = NULL;
	/* A node gone mid-fence: its ranks are lost, the fence can never end. */
	if (p->gathers)
		log_err("%s: node %ld left during a fence (%s): failing it", p->s->unit, i, why);
	fail_gathers(p);
}

static const struct conn_ops child_ops = {
	.ready = on_child_ready,
	.msg = on_child_msg,
	.closed = on_child_closed,
};

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct pmi *p = arg;
	char host[INET6_ADDRSTRLEN] = "?", peer[INET6_ADDRSTRLEN + 8];
	struct conn_cfg cfg = { .base = p->s->base,
				.auth = p->auth,
				.cluster = p->s->setup->cluster,
				.service = "fence",
				.max_frame = FRAME_MAX_REQUEST,
				.handshake_ms = FENCE_HANDSHAKE_MS };

	(void)l;
	(void)salen;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, host, sizeof(host));
	snprintf(peer, sizeof(peer), "%s", host);
	if (p->naccepted == p->accepted_cap) {
		size_t cap = p->accepted_cap ? 2 * p->accepted_cap : 8;
		struct conn **v = realloc(p->accepted, cap * sizeof(*v));
		if (!v) {
			close(fd);
			return;
		}
		p->accepted = v;
		p->accepted_cap = cap;
	}
	struct conn *c = conn_accept(&cfg, fd, peer, &child_ops, p);
	if (c)
		p->accepted[p->naccepted++] = c;
}

/* The address node 0 listens on: its own in the layout (its node daemon's
 * address), so the others can reach it wherever it runs. */
static int listen_fences(struct pmi *p, char *err, size_t errlen)
{
	const char *addr = p->ls->layout[p->me]->address;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	if (!addr || inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		sin.sin_addr.s_addr = htonl(INADDR_ANY);
	p->lis = evconnlistener_new_bind(p->s->base, on_accept, p,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
					     LEV_OPT_REUSEABLE,
					 64, (struct sockaddr *)&sin, sizeof(sin));
	if (!p->lis)
		return snprintf(err, errlen, "cannot listen for the step's fences on %s: %s",
				addr ? addr : "*", strerror(errno)),
		       -1;
	if (getsockname(evconnlistener_get_fd(p->lis), (struct sockaddr *)&sin, &len) < 0)
		return snprintf(err, errlen, "cannot learn the fence port: %s", strerror(errno)),
		       -1;
	p->port = ntohs(sin.sin_port);
	return 0;
}

/* The other nodes' side: node 0's connection ------------------------------------*/

static void on_root_msg(struct conn *c, Pacer__Msg *m, void *arg)
{
	struct pmi *p = arg;

	(void)c;
	if (m->body_case != PACER__MSG__BODY_FENCE)
		return;
	for (struct waiting **pp = &p->waits; *pp; pp = &(*pp)->next) {
		struct waiting *w = *pp;
		if (w->seq != m->fence->seq)
			continue;
		*pp = w->next;
		pmixsrv_fence_done(w->token, m->fence->status, m->fence->data.data,
				   m->fence->data.len);
		free(w->data);
		free(w);
		return;
	}
}

static int on_root_ready(struct conn *c, void *arg, char *err, size_t errlen)
{
	struct pmi *p = arg;
	Pacer__StepFenceHello h = PACER__STEP_FENCE_HELLO__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	(void)err;
	(void)errlen;
	h.job_id = p->ls->job_id;
	h.step_id = p->ls->step_id;
	h.node_index = p->me;
	h.io_key = p->ls->io_key;
	m.body_case = PACER__MSG__BODY_FENCE_HELLO;
	m.fence_hello = &h;
	conn_send(c, &m);
	p->root_ready = true;
	flush_waits(p);
	return 0;
}

static void on_root_closed(struct conn *c, const char *why, void *arg)
{
	struct pmi *p = arg;

	(void)c;
	p->root = NULL;
	p->root_ready = false;
	if (p->waits)
		log_err("%s: lost node 0 during a fence (%s): failing it", p->s->unit, why);
	fail_waits(p);
}

static const struct conn_ops root_ops = {
	.ready = on_root_ready,
	.msg = on_root_msg,
	.closed = on_root_closed,
};

void pmi_wireup(struct pmi *p, const char *host, uint32_t port)
{
	struct conn_cfg cfg = { .base = p->s->base,
				.auth = p->auth,
				.cluster = p->s->setup->cluster,
				.service = "fence",
				.max_frame = FRAME_MAX_REQUEST,
				.handshake_ms = FENCE_HANDSHAKE_MS };

	if (!p || p->me == 0 || p->nnodes == 1 || p->root || !port || port > 65535)
		return;
	p->root = conn_connect(&cfg, host, (uint16_t)port, &root_ops, p);
	if (!p->root) {
		log_err("%s: cannot connect to node 0 at %s:%u for fences: %s", p->s->unit, host,
			(unsigned)port, strerror(errno));
		fail_waits(p);
	}
}

/* Start and end ------------------------------------------------------------------*/

uint32_t pmi_fence_port(const struct pmi *p)
{
	return p && p->me == 0 && p->nnodes > 1 ? p->port : 0;
}

int pmi_task_env(struct pmi *p, uint32_t rank, char ***env, char *err, size_t errlen)
{
	return pmixsrv_client_env(p->ps, rank, env, err, errlen);
}

/* A folder of this step's own for PMIx, on a memory file system when there
 * is one (the ranks' shared-memory segments go below it), searchable by the
 * ranks' user. */
static int make_tmpdir(struct pmi *p, char *err, size_t errlen)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(p->tmpdir, sizeof(p->tmpdir), "%s/pacer-%" PRIu32 ".%" PRIu32 "-XXXXXX", base,
		 p->ls->job_id, p->ls->step_id);
	if (!mkdtemp(p->tmpdir))
		return snprintf(err, errlen, "cannot make a PMIx folder in %s: %s", base,
				strerror(errno)),
		       -1;
	chmod(p->tmpdir, 0711);
	return 0;
}

int pmi_start(struct sup *s, const Pacer__LaunchStep *ls, struct auth *auth, struct pmi **out,
	      char *err, size_t errlen)
{
	struct pmi *p = calloc(1, sizeof(*p));
	char nspace[64];

	*out = p;
	if (!p)
		return snprintf(err, errlen, "out of memory"), -1;
	p->s = s;
	p->ls = ls;
	p->auth = auth;
	p->nnodes = (uint32_t)ls->n_layout;
	p->me = ls->node_index;
	if (!p->nnodes || p->me >= p->nnodes)
		return snprintf(err, errlen, "the step's layout does not hold this node"), -1;
	p->names = calloc(p->nnodes, sizeof(*p->names));
	p->ranks = calloc(p->nnodes, sizeof(*p->ranks));
	p->nranks = calloc(p->nnodes, sizeof(*p->nranks));
	p->child = calloc(p->nnodes, sizeof(*p->child));
	if (!p->names || !p->ranks || !p->nranks || !p->child)
		return snprintf(err, errlen, "out of memory"), -1;
	for (uint32_t i = 0; i < p->nnodes; i++) {
		p->names[i] = ls->layout[i]->node;
		p->ranks[i] = ls->layout[i]->task_ids;
		p->nranks[i] = (uint32_t)ls->layout[i]->n_task_ids;
	}
	if (make_tmpdir(p, err, errlen) < 0)
		return -1;
	if (pmixsrv_init(s->base, p->tmpdir, &pmix_ops, p, &p->ps, err, errlen) < 0)
		return -1;
	snprintf(nspace, sizeof(nspace), "pacer.%" PRIu32 ".%" PRIu32, ls->job_id, ls->step_id);
	struct pmixsrv_map map = { .nspace = nspace,
				   .job_id = ls->job_id,
				   .step_id = ls->step_id,
				   .nnodes = p->nnodes,
				   .nodes = p->names,
				   .node_ranks = p->ranks,
				   .node_nranks = p->nranks,
				   .this_node = p->me,
				   .ntasks = ls->ntasks,
				   .uid = (uid_t)ls->uid,
				   .gid = (gid_t)ls->gid };
	if (pmixsrv_register(p->ps, &map, err, errlen) < 0)
		return -1;
	if (p->me == 0 && p->nnodes > 1 && listen_fences(p, err, errlen) < 0)
		return -1;
	return 0;
}

void pmi_free(struct pmi *p)
{
	if (!p)
		return;
	fail_gathers(p);
	fail_waits(p);
	/* Children are among the accepted; closing calls nothing back. */
	for (size_t k = 0; k < p->naccepted; k++)
		conn_close(p->accepted[k], false);
	free(p->accepted);
	if (p->root)
		conn_close(p->root, false);
	if (p->lis)
		evconnlistener_free(p->lis);
	pmixsrv_destroy(p->ps);
	if (p->tmpdir[0] && rmdir(p->tmpdir) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", p->tmpdir, strerror(errno));
	free(p->names);
	free(p->ranks);
	free(p->nranks);
	free(p->child);
	free(p);
}
