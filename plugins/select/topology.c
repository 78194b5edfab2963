/* topology.c - "topology": cores, memory and GPUs placed on hwloc layouts.
 *
 * Two steps, so the cost stays with the few nodes chosen: nodes are picked
 * from their counters alone (free cores or PUs, memory, GPUs), best fit;
 * then on each chosen node the tasks are laid on NUMA domains and packages
 * and the GPUs closest to them are chosen.  docs/placement.md tells the
 * rules and why.
 *
 * Words used below: a "unit" is what a CPU of the request is (a whole core,
 * or a PU with `threads`); a "group" is the cores of one package within one
 * NUMA domain (a domain, unless a domain spans packages).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "select.h"
#include "strfmt.h"

#define NONE UINT32_MAX

/* The request, checked and reduced to what the loops need. */
struct ask {
	const struct select_request *req;
	uint32_t ntasks, cpt; /* tasks, units per task */
	bool threads, excl;
	uint32_t tpn, nps, gpn; /* per node, per socket, GPUs per node */
	uint64_t mem_node;      /* per node (--mem), 0 = none */
	uint64_t mem_task;      /* per task (--mem-per-cpu x cpus), 0 = none */
};

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static int ask_init(struct ask *a, const struct select_request *req)
{
	if (req->ntasks == 0 || req->cpus_per_task == 0 ||
	    (req->nodes && req->ntasks < req->nodes)) {
		errno = EINVAL;
		return -1;
	}
	*a = (struct ask){
		.req = req,
		.ntasks = req->ntasks,
		.cpt = req->cpus_per_task,
		.threads = req->threads,
		.excl = req->exclusive,
		.tpn = req->ntasks_per_node,
		.nps = req->ntasks_per_socket,
		.gpn = req->gpus_per_node,
		.mem_node = req->mem_mb,
		.mem_task = req->mem_mb ? 0 : mul_sat(req->mem_per_cpu_mb, req->cpus_per_task),
	};
	return 0;
}

/* Memory a node share of T tasks needs. */
static uint64_t mem_for(const struct ask *a, uint32_t t)
{
	return a->mem_node ? a->mem_node : mul_sat(a->mem_task, t);
}

static uint32_t min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* ------------------------------------------------------ counters only */

static uint32_t units_free(const struct ask *a, const struct select_node *n)
{
	const struct topo_layout *l = n->layout;

	if (a->excl) /* only idle nodes qualify */
		return a->threads ? l->npus : l->ncores;
	return a->threads ? l->npus - n->pus_alloc : l->ncores - n->cores_busy;
}

static uint32_t gpus_free(const struct ask *a, const struct select_node *n)
{
	return a->excl ? n->layout->ngpus : n->layout->ngpus - n->gpus_alloc;
}

/* Tasks that fit in each package of N now, capped by --ntasks-per-socket:
 * the one check that needs the cores, so only requests with nps pay it. */
static uint32_t nps_cap(const struct ask *a, const struct select_node *n)
{
	const struct topo_layout *l = n->layout;
	uint32_t cap = 0, p = NONE, units = 0;

	for (uint32_t c = 0; c <= l->ncores; c++) {
		if (c == l->ncores || l->cores[c].package != p) {
			if (p != NONE)
				cap += min32(a->nps, units / a->cpt);
			if (c == l->ncores)
				break;
			p = l->cores[c].package;
			units = 0;
		}
		uint32_t used = a->excl ? 0 : n->core_used[c];
		units += a->threads ? l->cores[c].npus - used : used == 0;
	}
	return cap;
}

/* How many tasks node N can take now, from its counters; 0 = none. */
static uint32_t node_cap(const struct ask *a, const struct select_node *n)
{
	const struct topo_layout *l = n->layout;
	uint32_t cap;

	if (!l || !n->usable || !n->eligible || n->exclusive || (a->excl && n->njobs))
		return 0;
	cap = units_free(a, n) / a->cpt;
	if (a->tpn && cap > a->tpn)
		cap = a->tpn;
	if (a->gpn && gpus_free(a, n) < a->gpn)
		return 0;
	if (n->mem_mb) { /* 0: memory not tracked on this node */
		uint64_t fr = n->mem_mb > n->mem_alloc_mb ? n->mem_mb - n->mem_alloc_mb : 0;
		if (a->excl)
			fr = n->mem_mb; /* idle: all of it */
		if (a->mem_node && a->mem_node > fr)
			return 0;
		if (a->mem_task && fr / a->mem_task < cap)
			cap = (uint32_t)(fr / a->mem_task);
	}
	if (a->nps && cap > 0)
		cap = min32(cap, nps_cap(a, n));
	return cap;
}

/* ------------------------------------------------------ choosing nodes */

struct pick {
	size_t node;
	uint32_t ntasks, gpus, cap;
};

struct sel {
	const struct ask *a;
	struct select_node *const *nodes;
	size_t n;
	bool *taken;
	struct pick *picks;
	size_t npicks;
	uint32_t gleft; /* GPUs of the job (--gpus) still to find */
};

enum gmode {
	G_ANY,  /* GPUs do not matter */
	G_ALL,  /* the node must hold every GPU still wanted */
	G_MOST, /* prefer nodes that bring more of the GPUs still wanted */
};

/* Best fit: the untaken node that holds SHARE tasks with the least room
 * left (then the fewest free GPUs left, then the lowest index), or -1. */
static long best_fit(struct sel *s, uint32_t share, enum gmode gm, uint32_t *capp)
{
	const struct ask *a = s->a;
	long best = -1;
	uint64_t best_room = UINT64_MAX;
	uint32_t best_g = 0, best_gfree = UINT32_MAX, best_cap = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct select_node *n = s->nodes[i];
		if (s->taken && s->taken[i])
			continue;
		uint32_t cap = node_cap(a, n);
		if (cap < share || cap == 0)
			continue;
		uint32_t gf = gpus_free(a, n), g = min32(gf, s->gleft);
		if (gm == G_ALL && gf < s->gleft)
			continue;
		uint64_t room = units_free(a, n) - (uint64_t)share * a->cpt;
		if (gm == G_MOST && g != best_g) {
			if (g < best_g)
				continue;
		} else if (room > best_room || (room == best_room && gf - g >= best_gfree)) {
			continue;
		}
		best = (long)i;
		best_room = room;
		best_g = g;
		best_gfree = gf - g;
		best_cap = cap;
	}
	if (capp)
		*capp = best_cap;
	return best;
}

/* Candidates for spreading, best first: more of the GPUs still wanted,
 * then more tasks, then the lowest index. */
static int cmp_spread(const void *x, const void *y)
{
	const struct pick *a = x, *b = y;

	if (a->gpus != b->gpus)
		return a->gpus > b->gpus ? -1 : 1;
	if (a->cap != b->cap)
		return a->cap > b->cap ? -1 : 1;
	return a->node < b->node ? -1 : a->node > b->node;
}

static void add_pick(struct sel *s, size_t i, uint32_t ntasks, uint32_t cap)
{
	uint32_t g = min32(gpus_free(s->a, s->nodes[i]), s->gleft);

	s->taken[i] = true;
	s->gleft -= g;
	s->picks[s->npicks++] = (struct pick){ .node = i, .ntasks = ntasks, .gpus = g, .cap = cap };
}

/* Required nodes by name, each once, into IDX: every one must be able to
 * take a task now.  Their count, or -1. */
static long find_required(struct sel *s, size_t *idx)
{
	const struct select_request *req = s->a->req;
	size_t k = 0;

	for (size_t r = 0; r < req->nrequired; r++) {
		size_t i;

		for (i = 0; i < s->n; i++)
			if (s->nodes[i]->name && strcmp(s->nodes[i]->name, req->required[r]) == 0)
				break;
		if (i == s->n || node_cap(s->a, s->nodes[i]) == 0)
			return -1;
		if (s->taken[i])
			continue; /* named twice */
		idx[k++] = i;
		s->taken[i] = true;
	}
	for (size_t r = 0; r < k; r++)
		s->taken[idx[r]] = false;
	return (long)k;
}

/* As few nodes as hold the job: one node if any can, else the roomiest
 * first (sorted once) and the last one by best fit.  CAND has room for
 * every node. */
static int choose_fewest(struct sel *s, const size_t *req_idx, size_t nreq, struct pick *cand)
{
	const struct ask *a = s->a;
	uint32_t left = a->ntasks, cap, reserve = 0, gl = s->gleft;
	size_t nc = 0;

	for (size_t r = 0; r < nreq; r++)
		s->taken[req_idx[r]] = true;
	for (size_t i = 0; i < s->n; i++) {
		uint32_t c = s->taken[i] ? 0 : node_cap(a, s->nodes[i]);
		if (c > 0)
			cand[nc++] =
			    (struct pick){ .node = i,
					   .cap = c,
					   .gpus = min32(gpus_free(a, s->nodes[i]), s->gleft) };
	}
	qsort(cand, nc, sizeof(*cand), cmp_spread);
	/* GPUs the required nodes cannot bring need nodes of their own, and
	 * each of those a task */
	for (size_t r = 0; r < nreq; r++)
		gl -= min32(gpus_free(a, s->nodes[req_idx[r]]), gl);
	for (size_t j = 0; j < nc && gl > 0 && cand[j].gpus > 0; j++, reserve++)
		gl -= min32(cand[j].gpus, gl);
	for (size_t r = 0; r < nreq; r++) {
		uint32_t c = node_cap(a, s->nodes[req_idx[r]]);
		/* leave a task for each required or GPU node still to come */
		uint64_t keep = (uint64_t)(nreq - r - 1) + reserve;
		uint32_t t = keep >= left ? 0 : min32(c, left - (uint32_t)keep);
		if (t == 0)
			return -1;
		add_pick(s, req_idx[r], t, c);
		left -= t;
	}
	for (size_t j = 0; left > 0; j++) {
		while (j < nc && s->taken[cand[j].node])
			j++;
		if (j == nc)
			return -1;
		/* once a node can hold the rest, the best fit for it ends the job */
		if (s->gleft || cand[j].cap >= left) {
			long i = best_fit(s, left, s->gleft ? G_ALL : G_ANY, &cap);
			if (i >= 0) {
				add_pick(s, (size_t)i, left, cap);
				break;
			}
		}
		uint32_t t = min32(cand[j].cap, left);
		if (s->gleft) {
			/* leave a task for each further node the GPUs still need */
			uint32_t rest = s->gleft - min32(cand[j].gpus, s->gleft), more = 0;
			for (size_t m = j + 1; m < nc && rest > 0 && cand[m].gpus > 0; m++) {
				if (s->taken[cand[m].node])
					continue;
				rest -= min32(cand[m].gpus, rest);
				more++;
			}
			if (rest > 0 || more >= left)
				return -1;
			t = min32(t, left - more);
		}
		add_pick(s, cand[j].node, t, cand[j].cap);
		left -= t;
	}
	return s->gleft ? -1 : 0;
}

static int cmp_u32_desc(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a > b ? -1 : a < b;
}

/* Exactly K nodes for SHARES[0..k) (largest first): required nodes take
 * the largest share they hold, the others each by best fit. */
static int choose_exact(struct sel *s, uint32_t *shares, uint32_t k, const size_t *req_idx,
			size_t nreq)
{
	bool *used = calloc(k, sizeof(*used));
	uint32_t cap;
	int rc = -1;

	if (!used)
		return -1;
	for (size_t r = 0; r < nreq; r++) {
		uint32_t c = node_cap(s->a, s->nodes[req_idx[r]]), j;
		for (j = 0; j < k; j++)
			if (!used[j] && shares[j] <= c)
				break;
		if (j == k)
			goto out;
		used[j] = true;
		add_pick(s, req_idx[r], shares[j], c);
	}
	for (uint32_t j = 0; j < k; j++) {
		if (used[j])
			continue;
		long i = best_fit(s, shares[j], s->gleft ? G_MOST : G_ANY, &cap);
		if (i < 0)
			goto out;
		add_pick(s, (size_t)i, shares[j], cap);
	}
	rc = s->gleft ? -1 : 0;
out:
	free(used);
	return rc;
}

static int cmp_pick(const void *x, const void *y)
{
	const struct pick *a = x, *b = y;

	return a->node < b->node ? -1 : a->node > b->node;
}

/* Picks in node order; the larger shares go to the first nodes that hold
 * them (shares take at most two values, so this always works out), and the
 * job's GPUs all go to the first node that has them, else fill in order. */
static void settle(struct sel *s)
{
	const struct ask *a = s->a;
	uint32_t big = 0, nbig = 0, small = UINT32_MAX, g = a->req->gpus;

	qsort(s->picks, s->npicks, sizeof(*s->picks), cmp_pick);
	if (a->req->nodes || a->tpn) {
		for (size_t i = 0; i < s->npicks; i++) {
			if (s->picks[i].ntasks > big)
				big = s->picks[i].ntasks;
			if (s->picks[i].ntasks < small)
				small = s->picks[i].ntasks;
		}
		for (size_t i = 0; i < s->npicks; i++)
			nbig += s->picks[i].ntasks == big;
		for (size_t i = 0; i < s->npicks; i++) {
			bool give = nbig > 0 && s->picks[i].cap >= big;
			s->picks[i].ntasks = give ? big : small;
			nbig -= give;
		}
	}
	if (g == 0 || a->excl)
		return;
	for (size_t i = 0; i < s->npicks; i++)
		s->picks[i].gpus = 0;
	for (size_t i = 0; i < s->npicks; i++) {
		if (gpus_free(a, s->nodes[s->picks[i].node]) >= g) {
			s->picks[i].gpus = g;
			return;
		}
	}
	for (size_t i = 0; i < s->npicks && g > 0; i++) {
		uint32_t t = min32(gpus_free(a, s->nodes[s->picks[i].node]), g);
		s->picks[i].gpus = t;
		g -= t;
	}
}

/* ------------------------------------------------- placing on one node */

#define HOME_PKG 0x80000000u /* | package: spans groups within it */
#define HOME_ANY 0xffffffffu /* spans packages */

struct place {
	const struct ask *a;
	const struct select_node *n;
	const struct topo_layout *l;
	uint32_t t;    /* tasks here */
	uint32_t ng;   /* groups */
	uint32_t gpus; /* GPUs wanted here */
	/* [ncores] */
	uint32_t *order; /* cores, group by group */
	/* [ng] */
	uint32_t *gstart, *gend, *gcur, *gpkg, *gdom, *gfree, *gtasks;
	/* [npackages] */
	uint32_t *pfree, *ptasks, *pused, *pgpu, *pcnt, *pcur;
	/* [ndomains] */
	uint32_t *dgpu, *dcnt;
	/* [t] */
	uint32_t *tpkg, *home, *tstart, *tcount;
	uint32_t *tmp; /* [npus] PUs as taken */
	uint32_t ntmp;
	uint8_t *mark; /* [npus] taken here */
	uint32_t any;
};

static bool unit_free_core(const struct place *p, uint32_t c)
{
	return p->a->excl || p->n->core_used[c] == 0;
}

static bool pu_free(const struct place *p, uint32_t pu)
{
	return !p->mark[pu] && (p->a->excl || p->n->pu_job[pu] == 0);
}

/* Group index of each core, groups in order of first appearance. */
static void make_groups(struct place *p, uint32_t *gid)
{
	const struct topo_layout *l = p->l;
	const struct ask *a = p->a;

	p->ng = 0;
	for (uint32_t c = 0; c < l->ncores; c++) {
		const struct topo_core *co = &l->cores[c];
		uint32_t g = p->ng;

		if (g > 0 && p->gpkg[g - 1] == co->package && p->gdom[g - 1] == co->domain) {
			g--;
		} else {
			for (g = 0; g < p->ng; g++)
				if (p->gpkg[g] == co->package && p->gdom[g] == co->domain)
					break;
		}
		if (g == p->ng) {
			p->gpkg[g] = co->package;
			p->gdom[g] = co->domain;
			p->gstart[g] = 0;
			p->gfree[g] = 0;
			p->ng++;
		}
		gid[c] = g;
		p->gstart[g]++; /* count, made into offsets below */
		uint32_t used = a->excl ? 0 : p->n->core_used[c];
		p->gfree[g] += a->threads ? co->npus - used : used == 0;
	}
	uint32_t off = 0;
	for (uint32_t g = 0; g < p->ng; g++) {
		uint32_t cnt = p->gstart[g];
		p->gstart[g] = p->gcur[g] = p->gend[g] = off;
		off += cnt;
	}
	for (uint32_t c = 0; c < l->ncores; c++)
		p->order[p->gend[gid[c]]++] = c;
	for (uint32_t g = 0; g < p->ng; g++) {
		p->pfree[p->gpkg[g]] += p->gfree[g];
		p->gtasks[g] = 0;
	}
	for (uint32_t i = 0; i < l->ngpus; i++) {
		const struct topo_gpu *gp = &l->gpus[i];
		if (!a->excl && p->n->gpu_job[i])
			continue;
		if (gp->domain < l->ndomains)
			p->dgpu[gp->domain]++;
		if (gp->package < l->npackages)
			p->pgpu[gp->package]++;
	}
}

/* Whole tasks group G still holds. */
static uint32_t gcap(const struct place *p, uint32_t g)
{
	return p->gfree[g] / p->a->cpt - p->gtasks[g];
}

/* Tasks package Q holds (tasks may span its groups), within --ntasks-per-socket. */
static uint32_t pcap(const struct place *p, uint32_t q)
{
	uint32_t c = p->pfree[q] / p->a->cpt;

	if (p->a->nps)
		c = min32(c, p->a->nps);
	return c > p->ptasks[q] ? c - p->ptasks[q] : 0;
}

/* How well group G's local GPUs serve: 0 its domain has enough, 1 its
 * package has, 2 neither (or no GPU wanted: all equal). */
static int gclass(const struct place *p, uint32_t g)
{
	if (p->gpus == 0)
		return 0;
	if (p->dgpu[p->gdom[g]] >= p->gpus)
		return 0;
	if (p->pgpu[p->gpkg[g]] >= p->gpus)
		return 1;
	return 2;
}

/* Best-fit group (in package Q, or anywhere when Q is NONE) holding K more
 * tasks, preferring groups with enough local GPUs; NONE if none holds K. */
static uint32_t best_group(const struct place *p, uint32_t q, uint32_t k)
{
	uint32_t best = NONE;
	int best_cl = 3;

	for (uint32_t g = 0; g < p->ng; g++) {
		if ((q != NONE && p->gpkg[g] != q) || gcap(p, g) < k)
			continue;
		int cl = gclass(p, g);
		if (cl > best_cl || (cl == best_cl && p->gfree[g] >= p->gfree[best]))
			continue;
		best = g;
		best_cl = cl;
	}
	return best;
}

/* K tasks inside package Q: one group if one holds them, else the roomiest
 * groups first and the last by best fit; what no group holds whole spans
 * groups of Q (ptasks counts those too). */
static void fill_package(struct place *p, uint32_t q, uint32_t k)
{
	p->ptasks[q] += k;
	while (k > 0) {
		uint32_t g = best_group(p, q, k);
		if (g != NONE) {
			p->gtasks[g] += k;
			return;
		}
		uint32_t most = NONE, most_cap = 0;
		for (uint32_t h = 0; h < p->ng; h++) {
			if (p->gpkg[h] == q && gcap(p, h) > most_cap) {
				most = h;
				most_cap = gcap(p, h);
			}
		}
		if (most == NONE)
			break;
		p->gtasks[most] += most_cap;
		k -= most_cap;
	}
}

/* Best-fit unused package for K tasks, preferring those with enough local
 * GPUs; NONE if none holds K. */
static uint32_t best_package(const struct place *p, uint32_t k)
{
	uint32_t best = NONE;
	int best_cl = 2;

	for (uint32_t q = 0; q < p->l->npackages; q++) {
		if (p->pused[q] || pcap(p, q) < k)
			continue;
		int cl = p->gpus && p->pgpu[q] < p->gpus;
		if (cl > best_cl || (cl == best_cl && p->pfree[q] >= p->pfree[best]))
			continue;
		best = q;
		best_cl = cl;
	}
	return best;
}

/* LEFT tasks over packages: one if one holds them, else the roomiest first
 * and the last by best fit.  What is left spans packages (none may with
 * --ntasks-per-socket). */
static int spread_packages(struct place *p, uint32_t left)
{
	while (left > 0) {
		uint32_t q = best_package(p, left), most_cap = 0;
		if (q != NONE) {
			p->pused[q] = 1;
			fill_package(p, q, left);
			return 0;
		}
		for (uint32_t r = 0; r < p->l->npackages; r++) {
			if (!p->pused[r] && pcap(p, r) > most_cap) {
				q = r;
				most_cap = pcap(p, r);
			}
		}
		if (q == NONE)
			break;
		p->pused[q] = 1;
		fill_package(p, q, most_cap);
		left -= most_cap;
	}
	if (left > 0 && p->a->nps)
		return -1;
	p->any = left;
	return 0;
}

/* BLOCK: the job in one group if one holds it, else in one package, else
 * over packages; ranks follow package order. */
static int lay_block(struct place *p)
{
	const struct ask *a = p->a;
	uint32_t g = NONE, i = 0;

	if (!a->nps || p->t <= a->nps)
		g = best_group(p, NONE, p->t);
	if (g != NONE) {
		p->gtasks[g] = p->t;
		p->ptasks[p->gpkg[g]] = p->t;
	} else if (spread_packages(p, p->t) < 0) {
		return -1;
	}
	for (uint32_t q = 0; q < p->l->npackages; q++)
		for (uint32_t k = 0; k < p->ptasks[q]; k++)
			p->tpkg[i++] = q;
	while (i < p->t)
		p->tpkg[i++] = NONE;
	return 0;
}

/* CYCLIC: task i to the next package (round robin) with room. */
static int lay_cyclic(struct place *p)
{
	uint32_t np = p->l->npackages, q = 0, *count = p->pcur;

	for (uint32_t i = 0; i < p->t; i++) {
		uint32_t k, r = 0;
		for (k = 0; k < np; k++) {
			r = (q + k) % np;
			if (pcap(p, r) > count[r])
				break;
		}
		if (k == np) {
			if (p->a->nps)
				return -1;
			p->tpkg[i] = NONE;
			p->any++;
			continue;
		}
		p->tpkg[i] = r;
		count[r]++;
		q = (r + 1) % np;
	}
	for (uint32_t r = 0; r < np; r++)
		if (count[r])
			fill_package(p, r, count[r]);
	return 0;
}

/* Take one unit from group G for the task whose PUs go to p->tmp. */
static bool take_unit(struct place *p, uint32_t g)
{
	const struct topo_layout *l = p->l;

	for (; p->gcur[g] < p->gend[g]; p->gcur[g]++) {
		uint32_t c = p->order[p->gcur[g]];
		const struct topo_core *co = &l->cores[c];

		if (!p->a->threads) {
			if (!unit_free_core(p, c) || p->mark[co->first_pu])
				continue;
			for (uint32_t k = 0; k < co->npus; k++) {
				p->mark[co->first_pu + k] = 1;
				p->tmp[p->ntmp++] = co->first_pu + k;
			}
		} else {
			uint32_t k;
			for (k = 0; k < co->npus; k++)
				if (pu_free(p, co->first_pu + k))
					break;
			if (k == co->npus)
				continue;
			/* stay on this core: the next thread shares it */
			p->mark[co->first_pu + k] = 1;
			p->tmp[p->ntmp++] = co->first_pu + k;
		}
		p->dcnt[co->domain]++;
		p->pcnt[co->package]++;
		return true;
	}
	return false;
}

/* The PUs of task I from its home: a group, a package, or anywhere. */
static int take_task(struct place *p, uint32_t i)
{
	uint32_t h = p->home[i], need = p->a->cpt;

	p->tstart[i] = p->ntmp;
	for (uint32_t g = 0; g < p->ng && need > 0; g++) {
		if (h < HOME_PKG && g != h)
			continue;
		if (h != HOME_ANY && h >= HOME_PKG && p->gpkg[g] != (h & ~HOME_PKG))
			continue;
		while (need > 0 && take_unit(p, g))
			need--;
	}
	p->tcount[i] = p->ntmp - p->tstart[i];
	return need ? -1 : 0;
}

/* Each task's home from its package and the package's group shares. */
static void homes(struct place *p)
{
	const struct topo_layout *l = p->l;

	for (uint32_t q = 0; q < l->npackages; q++)
		p->pcur[q] = 0;
	/* pcur[q] counts the package's tasks homed so far; groups of q take
	 * theirs in group order, the rest span q. */
	for (uint32_t i = 0; i < p->t; i++) {
		uint32_t q = p->tpkg[i];
		if (q == NONE) {
			p->home[i] = HOME_ANY;
			continue;
		}
		uint32_t j = p->pcur[q]++, g;
		for (g = 0; g < p->ng; g++) {
			if (p->gpkg[g] != q)
				continue;
			if (j < p->gtasks[g])
				break;
			j -= p->gtasks[g];
		}
		p->home[i] = g < p->ng ? g : (HOME_PKG | q);
	}
}

/* The GPUs for the job here: free ones local to most of its cores first. */
static void choose_gpus(struct place *p, struct select_alloc *out)
{
	const struct topo_layout *l = p->l;
	uint32_t want = p->a->excl ? l->ngpus : p->gpus;

	for (uint32_t k = 0; k < want; k++) {
		uint32_t best = NONE, best_cl = 3, best_score = 0;
		for (uint32_t i = 0; i < l->ngpus; i++) {
			const struct topo_gpu *gp = &l->gpus[i];
			uint32_t cl = 2, score = 0;
			bool chosen = false;

			if (!p->a->excl && p->n->gpu_job[i])
				continue;
			for (uint32_t m = 0; m < out->ngpus; m++)
				chosen |= out->gpus[m] == i;
			if (chosen)
				continue;
			if (gp->domain < l->ndomains && p->dcnt[gp->domain]) {
				cl = 0;
				score = p->dcnt[gp->domain];
			} else if (gp->package < l->npackages && p->pcnt[gp->package]) {
				cl = 1;
				score = p->pcnt[gp->package];
			}
			if (cl < best_cl || (cl == best_cl && score > best_score)) {
				best = i;
				best_cl = cl;
				best_score = score;
			}
		}
		if (best == NONE)
			break;
		out->gpus[out->ngpus++] = best;
	}
}

/* Lay T tasks and GPUS GPUs of the request on node N into OUT. */
static int place_node(const struct ask *a, const struct select_node *n, uint32_t t, uint32_t gpus,
		      struct select_alloc *out)
{
	const struct topo_layout *l = n->layout;
	uint64_t nc = l->ncores, np = l->npackages, nd = l->ndomains, npu = l->npus;
	uint64_t words = nc /* order */ + nc /* gid */ + 7 * nc /* groups */ + 6 * np + 2 * nd +
			 4 * (uint64_t)t + npu /* tmp */;
	struct place p = { .a = a, .n = n, .l = l, .t = t, .gpus = gpus };
	uint32_t *w, *gid;
	int rc = -1;

	if (words > SIZE_MAX / 4 - npu) {
		errno = ENOMEM;
		return -1;
	}
	w = calloc((size_t)words * 4 + (size_t)npu, 1);
	if (!w)
		return -1;
	p.order = w;
	gid = p.order + nc;
	p.gstart = gid + nc;
	p.gend = p.gstart + nc;
	p.gcur = p.gend + nc;
	p.gpkg = p.gcur + nc;
	p.gdom = p.gpkg + nc;
	p.gfree = p.gdom + nc;
	p.gtasks = p.gfree + nc;
	p.pfree = p.gtasks + nc;
	p.ptasks = p.pfree + np;
	p.pused = p.ptasks + np;
	p.pgpu = p.pused + np;
	p.pcnt = p.pgpu + np;
	p.pcur = p.pcnt + np;
	p.dgpu = p.pcur + np;
	p.dcnt = p.dgpu + nd;
	p.tpkg = p.dcnt + nd;
	p.home = p.tpkg + t;
	p.tstart = p.home + t;
	p.tcount = p.tstart + t;
	p.tmp = p.tcount + t;
	p.mark = (uint8_t *)(p.tmp + npu);

	make_groups(&p, gid);
	if ((a->req->dist_socket == SELECT_DIST_CYCLIC ? lay_cyclic(&p) : lay_block(&p)) < 0)
		goto busy;
	homes(&p);
	/* Tasks with a group first, then those spanning a package, then the
	 * rest: each kind only takes what the ones before left. */
	for (int pass = 0; pass < 3; pass++) {
		for (uint32_t i = 0; i < t; i++) {
			uint32_t h = p.home[i];
			int kind = h < HOME_PKG ? 0 : h == HOME_ANY ? 2 : 1;
			if (kind == pass && take_task(&p, i) < 0)
				goto busy;
		}
	}

	uint32_t total = a->excl ? l->npus : p.ntmp;
	out->pus = malloc(((size_t)total ? total : 1) * sizeof(*out->pus));
	out->task_ids = malloc(((size_t)t ? t : 1) * sizeof(*out->task_ids));
	out->task_off = malloc(((size_t)t + 1) * sizeof(*out->task_off));
	size_t gcount = a->excl ? l->ngpus : gpus;
	out->gpus = malloc((gcount ? gcount : 1) * sizeof(*out->gpus));
	if (!out->pus || !out->task_ids || !out->task_off || !out->gpus)
		goto out;
	out->npus = 0;
	for (uint32_t i = 0; i < t; i++) {
		out->task_off[i] = out->npus;
		memcpy(out->pus + out->npus, p.tmp + p.tstart[i], p.tcount[i] * sizeof(*out->pus));
		out->npus += p.tcount[i];
	}
	out->task_off[t] = out->npus;
	if (a->excl)
		for (uint32_t u = 0; u < l->npus; u++)
			if (!p.mark[u])
				out->pus[out->npus++] = u;
	out->ntasks = t;
	out->ngpus = 0;
	choose_gpus(&p, out);
	if (!a->excl && out->ngpus < gpus)
		goto busy;
	out->exclusive = a->excl;
	if (a->excl)
		out->mem_mb = n->mem_mb ? n->mem_mb : mem_for(a, t);
	else
		out->mem_mb = mem_for(a, t);
	rc = 0;
	goto out;
busy:
	errno = EAGAIN; /* not here, not now */
out:
	free(w);
	return rc;
}

/* ------------------------------------------------------------- allocate */

/* One pass for a quick no: could the nodes hold the job now at all? */
static bool may_fit(struct sel *s, uint32_t k, const uint32_t *shares)
{
	const struct ask *a = s->a;
	uint64_t total = 0, gpus = 0;
	uint32_t big = k ? shares[0] : 0, small = k ? shares[k - 1] : 0, nbig = 0, nsmall = 0;

	for (size_t i = 0; i < s->n; i++) {
		uint32_t c = node_cap(a, s->nodes[i]);
		if (c == 0)
			continue;
		total += c;
		gpus += gpus_free(a, s->nodes[i]);
		nbig += c >= big;
		nsmall += c >= small;
	}
	if (total < a->ntasks || gpus < s->gleft)
		return false;
	if (k) {
		uint32_t want_big = 0;
		for (uint32_t j = 0; j < k; j++)
			want_big += shares[j] == big;
		return nbig >= want_big && nsmall >= k;
	}
	return true;
}

static int allocate(const struct select_request *req, struct select_node *const *nodes, size_t n,
		    struct select_result *res)
{
	struct ask a;
	struct sel s = { .a = &a, .nodes = nodes, .n = n, .gleft = req->gpus };
	struct pick one, *cand = NULL;
	size_t *req_idx = NULL;
	uint32_t *shares = NULL, k;
	int rc = -1;

	res->n = 0;
	res->allocs = NULL;
	if (ask_init(&a, req) < 0 || (req->gpus && req->gpus_per_node))
		goto einval;
	k = req->nodes;
	if (!k && a.tpn) /* --ntasks-per-node: that many per node, the rest on the last */
		k = (a.ntasks + a.tpn - 1) / a.tpn;

	if (k <= 1 && req->nrequired == 0) {
		/* The common case: one node, one pass over the counters. */
		uint32_t cap;
		long i = best_fit(&s, a.ntasks, req->gpus ? G_ALL : G_ANY, &cap);
		if (i >= 0) {
			one = (struct pick){ .node = (size_t)i,
					     .ntasks = a.ntasks,
					     .gpus = req->gpus };
			s.picks = &one;
			s.npicks = 1;
			goto place;
		}
		if (k == 1)
			goto eagain;
	}
	if (k > n)
		goto eagain;
	if (k) {
		shares = calloc(k, sizeof(*shares));
		if (!shares)
			goto out;
		for (uint32_t j = 0; j < k; j++) {
			if (req->nodes) /* as even as they go */
				shares[j] = a.ntasks / k + (j < a.ntasks % k);
			else /* --ntasks-per-node, the rest on the last */
				shares[j] = j + 1 < k ? a.tpn : a.ntasks - a.tpn * (k - 1);
		}
		qsort(shares, k, sizeof(*shares), cmp_u32_desc);
	}
	if (!may_fit(&s, k, shares))
		goto eagain;
	s.taken = calloc(n, sizeof(*s.taken));
	s.picks = calloc(n, sizeof(*s.picks));
	cand = calloc(n, sizeof(*cand));
	req_idx = calloc(req->nrequired ? req->nrequired : 1, sizeof(*req_idx));
	if (!s.taken || !s.picks || !cand || !req_idx)
		goto out;
	long nreq = find_required(&s, req_idx);
	if (nreq < 0 || (k && (size_t)nreq > k) || (size_t)nreq > a.ntasks)
		goto eagain;
	if (k ? choose_exact(&s, shares, k, req_idx, (size_t)nreq) < 0
	      : choose_fewest(&s, req_idx, (size_t)nreq, cand) < 0)
		goto eagain;
	settle(&s);
place:
	res->allocs = calloc(s.npicks, sizeof(*res->allocs));
	if (!res->allocs)
		goto out;
	res->n = s.npicks;
	for (size_t j = 0; j < s.npicks; j++) {
		const struct pick *pk = &s.picks[j];
		res->allocs[j].node = pk->node;
		if (place_node(&a, nodes[pk->node], pk->ntasks, a.gpn ? a.gpn : pk->gpus,
			       &res->allocs[j]) < 0)
			goto out;
	}
	/* Ranks: BLOCK gives each node a run, CYCLIC deals them in turn. */
	if (req->dist_node == SELECT_DIST_CYCLIC) {
		uint32_t rank = 0, *filled = calloc(s.npicks, sizeof(*filled));
		if (!filled)
			goto out;
		while (rank < a.ntasks)
			for (size_t j = 0; j < s.npicks && rank < a.ntasks; j++)
				if (filled[j] < res->allocs[j].ntasks)
					res->allocs[j].task_ids[filled[j]++] = rank++;
		free(filled);
	} else {
		uint32_t rank = 0;
		for (size_t j = 0; j < s.npicks; j++)
			for (uint32_t i = 0; i < res->allocs[j].ntasks; i++)
				res->allocs[j].task_ids[i] = rank++;
	}
	rc = 0;
	goto out;
einval:
	errno = EINVAL;
	goto out;
eagain:
	errno = EAGAIN;
out:
	if (rc < 0) {
		int saved = errno;
		select_result_free(res);
		errno = saved;
	}
	if (s.picks != &one)
		free(s.picks);
	free(s.taken);
	free(cand);
	free(req_idx);
	free(shares);
	return rc;
}

/* --------------------------------------------------------------- feasible */

static const char *unit_name(const struct ask *a, uint32_t v)
{
	if (a->threads)
		return v == 1 ? "thread" : "threads";
	return v == 1 ? "core" : "cores";
}

/* Tasks node N could take when idle, or 0. */
static uint32_t idle_cap(const struct ask *a, const struct select_node *n)
{
	const struct topo_layout *l = n->layout;
	uint32_t cap = (a->threads ? l->npus : l->ncores) / a->cpt;

	if (a->tpn && cap > a->tpn)
		cap = a->tpn;
	if (a->gpn > l->ngpus)
		return 0;
	if (n->mem_mb) {
		if (a->mem_node > n->mem_mb)
			return 0;
		if (a->mem_task && n->mem_mb / a->mem_task < cap)
			cap = (uint32_t)(n->mem_mb / a->mem_task);
	}
	if (a->nps) {
		struct ask idle = *a;
		idle.excl = true; /* counts every core as free */
		cap = min32(cap, nps_cap(&idle, n));
	}
	return cap;
}

static int feasible(const struct select_request *req, struct select_node *const *nodes, size_t n,
		    char *why, size_t whylen)
{
	struct ask a;
	size_t eligible = 0, fit = 0;
	bool unknown = false;
	uint32_t max_units = 0, max_pkg_units = 0, max_gpus = 0;
	uint64_t max_mem = 0, total = 0;
	struct pick *pairs = NULL;
	size_t nreq = 0, nnames = 0;
	int rc = -1;

	if (ask_init(&a, req) < 0) {
		if (req->ntasks == 0 || req->cpus_per_task == 0)
			snprintf(why, whylen, "the job asks for no task or no CPU per task");
		else
			snprintf(
			    why, whylen,
			    "the job asks for %u node%s but only %u task%s, and each node needs "
			    "a task (raise -n or lower -N)",
			    req->nodes, strfmt_s(req->nodes), req->ntasks, strfmt_s(req->ntasks));
		goto refuse;
	}
	if (req->gpus && req->gpus_per_node) {
		snprintf(why, whylen,
			 "--gpus and --gpus-per-node exclude each other (give only one)");
		goto refuse;
	}
	for (size_t r = 0; r < req->nrequired; r++) {
		size_t i;
		bool again = false;
		for (size_t q = 0; q < r; q++)
			again |= strcmp(req->required[q], req->required[r]) == 0;
		nnames += !again;
		for (i = 0; i < n; i++)
			if (nodes[i]->eligible && nodes[i]->name &&
			    strcmp(nodes[i]->name, req->required[r]) == 0)
				break;
		if (i == n) {
			snprintf(why, whylen,
				 "node %s of --nodelist is not eligible (it is not in the "
				 "partition, or --exclude or --constraint rule it out)",
				 req->required[r]);
			goto refuse;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!nodes[i]->eligible)
			continue;
		eligible++;
		unknown |= !nodes[i]->layout;
	}
	if (eligible == 0) {
		snprintf(why, whylen,
			 "no node is eligible (check --nodelist, --exclude and --constraint)");
		goto refuse;
	}
	if (req->nodes > eligible) {
		snprintf(why, whylen, "the job asks for %u nodes but only %zu node%s %s eligible",
			 req->nodes, eligible, strfmt_s(eligible), eligible == 1 ? "is" : "are");
		goto refuse;
	}
	if (req->nodes && nnames > req->nodes) {
		snprintf(why, whylen, "--nodelist names %zu nodes but -N asks for only %u node%s",
			 nnames, req->nodes, strfmt_s(req->nodes));
		goto refuse;
	}
	if (nnames > req->ntasks) {
		snprintf(why, whylen,
			 "--nodelist names %zu nodes but the job has only %u task%s, and each node "
			 "needs a task",
			 nnames, req->ntasks, strfmt_s(req->ntasks));
		goto refuse;
	}
	if (unknown)
		return 0; /* nodes that never reported their size may be big enough */

	for (size_t i = 0; i < n; i++) {
		const struct select_node *nd = nodes[i];
		const struct topo_layout *l = nd->layout;
		if (!nd->eligible)
			continue;
		uint32_t units = a.threads ? l->npus : l->ncores;
		if (units > max_units)
			max_units = units;
		if (nd->mem_mb > max_mem)
			max_mem = nd->mem_mb;
		if (l->ngpus > max_gpus)
			max_gpus = l->ngpus;
		for (uint32_t q = 0; q < l->npackages; q++) {
			uint32_t u = a.threads ? 0 : l->packages[q].ncores;
			if (a.threads)
				for (uint32_t c = 0; c < l->ncores; c++)
					u += l->cores[c].package == q ? l->cores[c].npus : 0;
			if (u > max_pkg_units)
				max_pkg_units = u;
		}
	}
	if (a.cpt > max_units) {
		snprintf(why, whylen,
			 "each task needs %u %s (-c) but the largest eligible node has %u %s",
			 a.cpt, unit_name(&a, a.cpt), max_units, unit_name(&a, max_units));
		goto refuse;
	}
	if (a.nps && a.cpt > max_pkg_units) {
		snprintf(why, whylen,
			 "--ntasks-per-socket keeps each task in one socket but a task needs %u %s "
			 "and the largest socket has %u",
			 a.cpt, unit_name(&a, a.cpt), max_pkg_units);
		goto refuse;
	}
	/* --ntasks-per-node puts that many tasks on the first nodes */
	uint32_t first = min32(a.tpn, a.ntasks);
	if (a.tpn && !req->nodes && mul_sat(first, a.cpt) > max_units) {
		snprintf(why, whylen,
			 "--ntasks-per-node=%u needs %llu %s on one node but the largest eligible "
			 "node has %u",
			 a.tpn, (unsigned long long)mul_sat(first, a.cpt), unit_name(&a, 2),
			 max_units);
		goto refuse;
	}
	if (max_mem && a.mem_node > max_mem) {
		snprintf(why, whylen,
			 "the job needs %llu MiB of memory per node (--mem) but the largest "
			 "eligible node has %llu MiB",
			 (unsigned long long)a.mem_node, (unsigned long long)max_mem);
		goto refuse;
	}
	if (max_mem && a.mem_task > max_mem) {
		snprintf(why, whylen,
			 "each task needs %llu MiB (--mem-per-cpu times %u CPU%s) but the largest "
			 "eligible node has %llu MiB",
			 (unsigned long long)a.mem_task, a.cpt, strfmt_s(a.cpt),
			 (unsigned long long)max_mem);
		goto refuse;
	}
	if (a.gpn > max_gpus) {
		snprintf(why, whylen,
			 "the job needs %u GPU%s per node but the most any eligible node has is %u",
			 a.gpn, strfmt_s(a.gpn), max_gpus);
		goto refuse;
	}

	/* Whole-job capacity on idle nodes; required nodes are taken first. */
	pairs = calloc(n ? n : 1, sizeof(*pairs));
	if (!pairs) {
		snprintf(why, whylen, "the controller ran out of memory checking the job");
		errno = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!nodes[i]->eligible)
			continue;
		uint32_t c = idle_cap(&a, nodes[i]);
		bool required = false;
		for (size_t r = 0; r < req->nrequired && nodes[i]->name; r++)
			required |= strcmp(nodes[i]->name, req->required[r]) == 0;
		if (required && c == 0) {
			snprintf(why, whylen,
				 "node %s of --nodelist can never hold a task of this job",
				 nodes[i]->name);
			goto refuse;
		}
		if (c == 0)
			continue;
		/* ntasks marks required nodes (1) and, below, nodes counted (2) */
		pairs[fit] = (struct pick){
			.node = i, .cap = c, .gpus = nodes[i]->layout->ngpus, .ntasks = required
		};
		fit++;
		nreq += required;
		total += c;
	}
	if (fit == 0) {
		snprintf(why, whylen, "no eligible node can ever hold a task (%u %s%s%s)", a.cpt,
			 unit_name(&a, a.cpt), a.mem_node || a.mem_task ? " and its memory" : "",
			 a.gpn ? " and its GPUs" : "");
		goto refuse;
	}
	uint32_t k = req->nodes, big = 1, small = 1, nbig = 0, rbig = 0;
	size_t obig = 0, osmall = 0;
	if (!k && a.tpn) /* --ntasks-per-node: that many per node, the rest on the last */
		k = (a.ntasks + a.tpn - 1) / a.tpn;
	if (k) {
		/* k nodes, shares of two sizes: nbig of BIG tasks, the others SMALL */
		big = req->nodes ? (a.ntasks + k - 1) / k : a.tpn;
		small = req->nodes ? a.ntasks / k : a.ntasks - a.tpn * (k - 1);
		nbig = req->nodes ? (big == small ? k : a.ntasks % k) : k - 1;
		if (nreq > k) {
			snprintf(why, whylen,
				 "--nodelist names %zu nodes but the job can use only %u node%s",
				 nreq, k, strfmt_s(k));
			goto refuse;
		}
		for (size_t i = 0; i < fit; i++) {
			const struct pick *pk = &pairs[i];
			if (pk->ntasks && pk->cap < small) {
				snprintf(why, whylen,
					 "node %s of --nodelist can never hold %u task%s of %u %s",
					 nodes[pk->node]->name, small, strfmt_s(small), a.cpt,
					 unit_name(&a, a.cpt));
				goto refuse;
			}
			rbig += pk->ntasks && pk->cap >= big;
			obig += !pk->ntasks && pk->cap >= big;
			osmall += !pk->ntasks && pk->cap >= small;
		}
		size_t slots = k - nreq, got_big = rbig + (obig < slots ? obig : slots);
		if (osmall < slots || got_big < nbig) {
			uint32_t share = osmall < slots ? small : big;
			size_t want = osmall < slots ? k : nbig;
			size_t have = osmall < slots ? nreq + osmall : got_big;
			snprintf(
			    why, whylen,
			    "the job needs %zu node%s that can each hold %u task%s of %u %s but "
			    "only %zu eligible node%s can",
			    want, strfmt_s(want), share, strfmt_s(share), a.cpt,
			    unit_name(&a, a.cpt), have, strfmt_s(have));
			goto refuse;
		}
	} else if (total < a.ntasks) {
		snprintf(why, whylen,
			 "the job needs %u task%s of %u %s but all eligible nodes together can "
			 "hold only %llu such task%s%s",
			 a.ntasks, strfmt_s(a.ntasks), a.cpt, unit_name(&a, a.cpt),
			 (unsigned long long)total, strfmt_s(total),
			 a.nps ? " with --ntasks-per-socket" : "");
		goto refuse;
	}
	if (req->gpus) {
		/* The most GPUs nodes that can hold the tasks bring: the required
		 * ones, then the richest others (for the big shares first); with
		 * no node count, one task a node at most. */
		uint64_t sum = 0;
		size_t slots = k ? k - nreq : a.ntasks - nreq, chosen = 0;
		size_t want_big = k && nbig > rbig ? nbig - rbig : 0;
		qsort(pairs, fit, sizeof(*pairs), cmp_spread);
		for (size_t i = 0; i < fit; i++)
			sum += pairs[i].ntasks == 1 ? pairs[i].gpus : 0;
		for (size_t i = 0; i < fit && chosen < want_big && chosen < slots; i++) {
			if (!pairs[i].ntasks && pairs[i].cap >= big) {
				sum += pairs[i].gpus;
				pairs[i].ntasks = 2;
				chosen++;
			}
		}
		for (size_t i = 0; i < fit && chosen < slots; i++) {
			if (!pairs[i].ntasks && pairs[i].cap >= small) {
				sum += pairs[i].gpus;
				chosen++;
			}
		}
		if (sum < req->gpus) {
			snprintf(
			    why, whylen,
			    "the job needs %u GPU%s but the eligible nodes that can hold its tasks "
			    "have at most %llu",
			    req->gpus, strfmt_s(req->gpus), (unsigned long long)sum);
			goto refuse;
		}
	}
	rc = 0;
	goto out;
refuse:
	errno = EINVAL;
out:
	free(pairs);
	return rc;
}

const struct select_ops select_topology = {
	.name = "topology",
	.feasible = feasible,
	.allocate = allocate,
};
