/* backfill.c - the timeline of one scheduling pass (see backfill.h).
 *
 * Everything is counted per node: free PUs, memory, GPUs and how many jobs
 * hold the node.  A running job gives its share back at its end (start +
 * time limit); a reservation takes its share from its start to its end.
 * bf_when walks the end times in order, keeping for every candidate node
 * how many tasks of the job it could take then, and a running total, so
 * each step costs only the nodes whose counters changed.
 */
#include "backfill.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Free PUs, memory and GPUs, and the jobs holding a share (for exclusive). */
struct counters {
	int64_t pus;
	int64_t mem_mb;
	int64_t gpus;
	int64_t njobs;
};

struct event {
	int64_t end;
	size_t first, n; /* into bf->uses */
};

struct resv {
	int64_t start, end;
	size_t n;
	struct bf_use *use;
	struct counters *slack; /* what is left on each of its nodes at start */
	int32_t *at;            /* node table index -> entry, or -1 */
	bool overlaps;          /* scratch of bf_when */
};

struct bf {
	int64_t now;
	struct select_node *const *nodes;
	size_t nnodes;
	struct counters *cur; /* free now, per node */
	struct bf_use *uses;
	size_t nuses, capuses;
	struct event *evs;
	size_t nevs, capevs;
	bool sorted;
	struct resv *resv;
	size_t nresv;
	/* scratch of bf_when, per node of the table */
	int32_t *pos;
	struct counters *eff;
	uint32_t *cap;
};

struct bf *bf_new(int64_t now, struct select_node *const *nodes, size_t n)
{
	struct bf *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->now = now;
	b->nodes = nodes;
	b->nnodes = n;
	b->sorted = true;
	size_t m = n ? n : 1;
	b->cur = calloc(m, sizeof(*b->cur));
	b->pos = malloc(m * sizeof(*b->pos));
	b->eff = calloc(m, sizeof(*b->eff));
	b->cap = calloc(m, sizeof(*b->cap));
	if (!b->cur || !b->pos || !b->eff || !b->cap) {
		bf_free(b);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct select_node *sn = nodes[i];
		b->pos[i] = -1;
		if (!sn->layout)
			continue;
		b->cur[i] = (struct counters){
			.pus = (int64_t)sn->layout->npus - sn->pus_alloc,
			.mem_mb = (int64_t)sn->mem_mb - (int64_t)sn->mem_alloc_mb,
			.gpus = (int64_t)sn->layout->ngpus - sn->gpus_alloc,
			.njobs = sn->njobs,
		};
	}
	return b;
}

void bf_free(struct bf *b)
{
	if (!b)
		return;
	for (size_t r = 0; r < b->nresv; r++) {
		free(b->resv[r].use);
		free(b->resv[r].slack);
		free(b->resv[r].at);
	}
	free(b->resv);
	free(b->cur);
	free(b->uses);
	free(b->evs);
	free(b->pos);
	free(b->eff);
	free(b->cap);
	free(b);
}

size_t bf_reservations(const struct bf *b)
{
	return b->nresv;
}

int bf_add_running(struct bf *b, int64_t end, const struct bf_use *use, size_t n)
{
	if (b->nuses + n > b->capuses) {
		size_t cap = (b->capuses + n) * 2;
		struct bf_use *u = realloc(b->uses, cap * sizeof(*u));
		if (!u)
			return -1;
		b->uses = u;
		b->capuses = cap;
	}
	if (b->nevs == b->capevs) {
		size_t cap = b->capevs ? b->capevs * 2 : 256;
		struct event *e = realloc(b->evs, cap * sizeof(*e));
		if (!e)
			return -1;
		b->evs = e;
		b->capevs = cap;
	}
	/* A job past its limit is being killed: it ends any moment now. */
	if (end <= b->now)
		end = b->now + 1;
	memcpy(b->uses + b->nuses, use, n * sizeof(*use));
	b->evs[b->nevs++] = (struct event){ .end = end, .first = b->nuses, .n = n };
	b->nuses += n;
	if (b->nevs > 1 && b->evs[b->nevs - 2].end > end)
		b->sorted = false;
	return 0;
}

static int by_end(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* PUs a task of REQ needs on node SN. */
static uint32_t pus_per_task(const struct select_request *r, const struct select_node *sn)
{
	uint32_t tpc = sn->layout->threads_per_core ? sn->layout->threads_per_core : 1;
	return r->cpus_per_task * (r->threads ? 1 : tpc);
}

/* Tasks of REQ that node SN could take with C free. */
static uint32_t capacity(const struct select_request *r, const struct select_node *sn,
			 const struct counters *c)
{
	const struct topo_layout *l = sn->layout;
	if (!l)
		return 0;
	uint64_t ppt = pus_per_task(r, sn);
	uint64_t tasks;
	if (r->exclusive) {
		if (c->njobs > 0 || c->pus < (int64_t)l->npus)
			return 0;
		tasks = l->npus / ppt;
	} else {
		tasks = c->pus > 0 ? (uint64_t)c->pus / ppt : 0;
	}
	if (r->mem_mb && c->mem_mb < (int64_t)r->mem_mb)
		return 0;
	if (r->mem_per_cpu_mb) {
		uint64_t per_task = (uint64_t)r->cpus_per_task * r->mem_per_cpu_mb;
		uint64_t by_mem = c->mem_mb > 0 ? (uint64_t)c->mem_mb / per_task : 0;
		if (by_mem < tasks)
			tasks = by_mem;
	}
	if (r->gpus_per_node && c->gpus < (int64_t)r->gpus_per_node)
		return 0;
	if (r->gpus && r->nodes <= 1 && c->gpus < (int64_t)r->gpus)
		return 0;
	if (r->ntasks_per_node)
		tasks = tasks >= r->ntasks_per_node ? r->ntasks_per_node : 0;
	return tasks > UINT32_MAX ? UINT32_MAX : (uint32_t)tasks;
}

/* The fit test of bf_when, kept up to date node by node. */
struct fit {
	const struct select_request *req;
	uint32_t nodes;    /* exact node count, 0 = any */
	uint32_t per_node; /* tasks each of those nodes must take */
	uint64_t sum;      /* sum over candidates of min(cap, ntasks) */
	uint32_t ok;       /* candidates with cap >= per_node */
};

static void fit_account(struct fit *f, uint32_t cap, int sign)
{
	uint64_t c = cap < f->req->ntasks ? cap : f->req->ntasks;
	if (sign > 0) {
		f->sum += c;
		f->ok += f->nodes && cap >= f->per_node;
	} else {
		f->sum -= c;
		f->ok -= f->nodes && cap >= f->per_node;
	}
}

static bool fit_ok(const struct fit *f)
{
	return f->nodes ? f->ok >= f->nodes : f->sum >= f->req->ntasks;
}

/* Node I's counters changed: refresh its capacity in F. */
static void refresh(struct bf *b, struct fit *f, uint32_t i)
{
	fit_account(f, b->cap[i], -1);
	b->cap[i] = capacity(f->req, b->nodes[i], &b->eff[i]);
	fit_account(f, b->cap[i], +1);
}

/* SIGN +1 gives U's share back (more free, one job fewer), -1 takes it. */
static void add_use(struct counters *c, const struct bf_use *u, int sign)
{
	c->pus += sign * (int64_t)u->pus;
	c->mem_mb += sign * (int64_t)u->mem_mb;
	c->gpus += sign * (int64_t)u->gpus;
	c->njobs -= sign;
}

/* Apply reservation R's hold on the candidates (SIGN -1 takes, +1 gives back). */
static void resv_apply(struct bf *b, struct fit *f, struct resv *r, int sign)
{
	for (size_t k = 0; k < r->n; k++) {
		uint32_t i = r->use[k].node;
		if (b->pos[i] < 0)
			continue;
		add_use(&b->eff[i], &r->use[k], sign);
		refresh(b, f, i);
	}
}

static int reserve(struct bf *b, const struct fit *f, const uint32_t *cand, size_t ncand,
		   int64_t start, uint32_t limit)
{
	const struct select_request *req = f->req;
	struct resv *nr = realloc(b->resv, (b->nresv + 1) * sizeof(*nr));
	if (!nr)
		return -1;
	b->resv = nr;
	struct resv *r = &b->resv[b->nresv];
	memset(r, 0, sizeof(*r));
	r->start = start;
	r->end = limit == UINT32_MAX ? BF_NEVER : start + (int64_t)limit;
	r->use = calloc(ncand ? ncand : 1, sizeof(*r->use));
	r->slack = calloc(ncand ? ncand : 1, sizeof(*r->slack));
	r->at = malloc((b->nnodes ? b->nnodes : 1) * sizeof(*r->at));
	if (!r->use || !r->slack || !r->at) {
		free(r->use);
		free(r->slack);
		free(r->at);
		return -1;
	}
	for (size_t i = 0; i < b->nnodes; i++)
		r->at[i] = -1;
	uint32_t left = req->ntasks, nodes_left = f->nodes ? f->nodes : UINT32_MAX;
	for (size_t k = 0; k < ncand && left && nodes_left; k++) {
		uint32_t i = cand[k];
		uint32_t cap = b->cap[i];
		if (!cap || (f->nodes && cap < f->per_node))
			continue;
		uint32_t take = f->nodes ? (f->per_node < left ? f->per_node : left)
					 : (cap < left ? cap : left);
		const struct select_node *sn = b->nodes[i];
		struct bf_use u = { .node = i, .exclusive = req->exclusive };
		u.pus = req->exclusive ? sn->layout->npus : take * pus_per_task(req, sn);
		u.mem_mb = req->exclusive ? sn->mem_mb
			   : req->mem_per_cpu_mb
			       ? (uint64_t)take * req->cpus_per_task * req->mem_per_cpu_mb
			       : req->mem_mb;
		u.gpus = req->exclusive ? sn->layout->ngpus
					: (req->gpus_per_node ? req->gpus_per_node
							      : (req->nodes <= 1 ? req->gpus : 0));
		r->at[i] = (int32_t)r->n;
		r->use[r->n] = u;
		r->slack[r->n] = b->eff[i];
		add_use(&r->slack[r->n], &u, -1);
		r->n++;
		left -= take;
		nodes_left--;
	}
	b->nresv++;
	return 0;
}

int64_t bf_when(struct bf *b, const struct select_request *req, const uint32_t *cand, size_t ncand,
		uint32_t limit, uint32_t window, bool reserve_it)
{
	if (!b->sorted) {
		qsort(b->evs, b->nevs, sizeof(*b->evs), by_end);
		b->sorted = true;
	}
	struct fit f = { .req = req };
	if (req->nodes || req->ntasks_per_node) {
		f.nodes = req->nodes
			      ? req->nodes
			      : (req->ntasks + req->ntasks_per_node - 1) / req->ntasks_per_node;
		f.per_node = req->ntasks_per_node ? req->ntasks_per_node
						  : (req->ntasks + f.nodes - 1) / f.nodes;
	}
	for (size_t k = 0; k < ncand; k++) {
		uint32_t i = cand[k];
		b->pos[i] = (int32_t)k;
		b->eff[i] = b->cur[i];
		b->cap[i] = 0;
	}
	for (size_t k = 0; k < ncand; k++)
		refresh(b, &f, cand[k]);
	int64_t t = b->now, horizon = b->now + (int64_t)window, found = 0;
	int64_t span = limit == UINT32_MAX ? BF_NEVER / 2 : (int64_t)limit;
	for (size_t r = 0; r < b->nresv; r++)
		b->resv[r].overlaps = false;
	size_t e = 0;
	for (;;) {
		/* Reservations that overlap [t, t + limit) hold their share. */
		for (size_t r = 0; r < b->nresv; r++) {
			struct resv *rv = &b->resv[r];
			bool ov = rv->start < t + span && rv->end > t;
			if (ov != rv->overlaps) {
				resv_apply(b, &f, rv, ov ? -1 : +1);
				rv->overlaps = ov;
			}
		}
		if (fit_ok(&f)) {
			found = t;
			break;
		}
		/* The next time anything frees up: a job's end or a reservation's. */
		int64_t next = BF_NEVER;
		while (e < b->nevs && b->evs[e].end <= t)
			e++;
		if (e < b->nevs)
			next = b->evs[e].end;
		for (size_t r = 0; r < b->nresv; r++)
			if (b->resv[r].end > t && b->resv[r].end < next)
				next = b->resv[r].end;
		if (next == BF_NEVER || next > horizon)
			break;
		t = next;
		for (; e < b->nevs && b->evs[e].end <= t; e++) {
			const struct event *ev = &b->evs[e];
			for (size_t u = 0; u < ev->n; u++) {
				const struct bf_use *use = &b->uses[ev->first + u];
				if (b->pos[use->node] < 0)
					continue;
				add_use(&b->eff[use->node], use, +1);
				refresh(b, &f, use->node);
			}
		}
	}
	if (found && reserve_it && reserve(b, &f, cand, ncand, found, limit) < 0)
		found = 0;
	for (size_t k = 0; k < ncand; k++)
		b->pos[cand[k]] = -1;
	return found;
}

bool bf_delays(const struct bf *b, int64_t end, const struct bf_use *use, size_t n)
{
	for (size_t r = 0; r < b->nresv; r++) {
		const struct resv *rv = &b->resv[r];
		if (end <= rv->start)
			continue;
		for (size_t k = 0; k < n; k++) {
			int32_t at = rv->at[use[k].node];
			if (at < 0)
				continue;
			const struct counters *s = &rv->slack[at];
			if (use[k].exclusive || rv->use[at].exclusive ||
			    (int64_t)use[k].pus > s->pus || (int64_t)use[k].mem_mb > s->mem_mb ||
			    (int64_t)use[k].gpus > s->gpus)
				return true;
		}
	}
	return false;
}

int bf_started(struct bf *b, int64_t end, const struct bf_use *use, size_t n)
{
	for (size_t k = 0; k < n; k++)
		add_use(&b->cur[use[k].node], &use[k], -1);
	for (size_t r = 0; r < b->nresv; r++) {
		struct resv *rv = &b->resv[r];
		if (end <= rv->start)
			continue;
		for (size_t k = 0; k < n; k++) {
			int32_t at = rv->at[use[k].node];
			if (at >= 0)
				add_use(&rv->slack[at], &use[k], -1);
		}
	}
	return bf_add_running(b, end, use, n);
}
