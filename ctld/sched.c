/* sched.c - priorities, placement and backfill (see sched.h).
 *
 * A pass sorts the pending jobs by priority, then walks them once:
 *   - a job whose dependencies, partition limits or array limit hold it
 *     back gets that reason and is passed over;
 *   - a job that fits now (the select plugin chooses its cores) starts,
 *     unless it would delay a job holding a reservation;
 *   - the first `backfill_reservations` jobs that do not fit get a
 *     reservation at the earliest time they could start (backfill.h), and
 *     the next SCHED_ESTIMATES an expected start without one.
 * With `backfill = no`, the first job of a partition that does not fit
 * blocks every lower one there (strict priority order).
 *
 * A job that lists several partitions is looked at once per partition, each
 * time with its priority there, as Slurm does; the first look that can start
 * it starts it there.  Its one reservation goes to whichever of its
 * partitions could start it earliest.
 */
#include "sched.h"
#include "step.h"

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "blob.h"
#include "conf.h"
#include "ctld.h"
#include "depend.h"
#include "hostlist.h"
#include "job.h"
#include "log.h"
#include "node.h"
#include "pattern.h"
#include "select.h"
#include "state.h"
#include "strfmt.h"
#include "timefmt.h"
#include "topo.h"

/* Expected starts worked out per pass for blocked jobs beyond the reserved
 * ones: each costs a walk of the running jobs' end times. */
#define SCHED_ESTIMATES 100

/* A pass also runs this often without any event, as job ages and the
 * clock move priorities and expected starts. */
#define SCHED_PERIOD_S 30

/* Long passes take at most about 1/(1 + SCHED_REST) of the controller's
 * time: after a pass of T ms (T >= SCHED_REST_FROM_MS) the next waits until
 * SCHED_REST * T ms have gone by.  A pass over a long queue costs tens of
 * ms; without this, a stream of submits would run one after each and the
 * submits would queue behind them.  Passes over short queues take well
 * under SCHED_REST_FROM_MS and run at once, so a job starts as soon as it
 * can. */
#define SCHED_REST         9
#define SCHED_REST_FROM_MS 5

static struct event *pass_ev, *tick_ev;
static bool pass_due;
static uint64_t last_end_ms; /* monotonic end of the last pass */
static struct sched_stats stats;

void sched_request(void)
{
	if (pass_due || !pass_ev)
		return;
	pass_due = true;
	uint64_t rest = stats.last_ms >= SCHED_REST_FROM_MS ? stats.last_ms * SCHED_REST : 0;
	uint64_t since = timefmt_monotonic_ms() - last_end_ms;
	if (since >= rest) {
		event_active(pass_ev, EV_TIMEOUT, 0);
		return;
	}
	uint64_t wait = rest - since;
	struct timeval tv = { .tv_sec = (time_t)(wait / 1000),
			      .tv_usec = (suseconds_t)(wait % 1000) * 1000 };
	event_add(pass_ev, &tv);
}

const struct sched_stats *sched_stats(void)
{
	return &stats;
}

/* The start record is on disk: now the node may run it. */
static void launch_when_durable(void *arg)
{
	struct job *j = job_find((uint32_t)(uintptr_t)arg);
	if (!j || !j->launch_pending || j->state != PACER__JOB_STATE__JOB_RUNNING)
		return;
	j->launch_pending = false;
	if (j->cancel_requested) {
		state_end(j, PACER__JOB_STATE__JOB_CANCELLED, 0, 0, ctld_now(),
			  "cancelled before it started");
		sched_request();
		return;
	}
	if (node_launch(j) < 0)
		log_warn("job %u: node %s cannot be reached now (%s); it is reconciled when the "
			 "node registers again",
			 j->id, node_name_at(j->alloc[0].node), strerror(errno));
	else
		log_debug("job %u started on %s", j->id, node_name_at(j->alloc[0].node));
	/* Steps asked for while its start was being recorded can go now. */
	step_retry(j);
}

/* An output pattern made into the path the node will open. */
static struct blob *resolve_path(const struct job *j, const char *pattern, const char *node)
{
	struct pattern_vars v = { .job_id = j->id,
				  .job_name = j->name,
				  .user = j->user->data,
				  .node = node,
				  .array_job_id = j->array_job_id,
				  .array_task_id = j->array_task_id };
	char name[4096], path[8192];
	int n = pattern_expand(pattern, &v, name, sizeof(name));
	if (n < 0 || (size_t)n >= sizeof(name))
		return NULL;
	if (name[0] == '/')
		return blob_str(name);
	n = snprintf(path, sizeof(path), "%s/%s", j->workdir->data, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	return blob_str(path);
}

/* Per pass, per partition: its nodes as the select plugin sees them. */
struct part_view {
	struct select_node **nodes;
	uint32_t *idx; /* node table index of each */
	size_t n;
	uint64_t cpus; /* PUs of its registered nodes, for the size factor */
	bool blocked;  /* strict order (no backfill): a job did not fit */
	bool waiting;  /* a higher-priority job waits for some of these nodes */
	bool marked;   /* its nodes are in pass->node_waited */
};

/* Running tasks per array, counted once per pass. */
struct array_count {
	uint32_t id;
	uint32_t running;
};

struct pass {
	int64_t now;
	struct part_view *views;
	size_t nviews;
	struct select_node **all;
	struct bf *bf;
	struct array_count *arrays;
	size_t narrays, caparrays;
	uint32_t max_part_prio;
	bool *node_waited; /* a job that did not fit could use this node */
	char *list;        /* scratch for cpusets */
	size_t listcap;
};

/* The os-index list of PUS[0..n) in the pass's scratch buffer (valid until
 * the next call). */
static const char *fmt_pus(struct pass *p, const struct topo_layout *l, const uint32_t *pus,
			   size_t n)
{
	for (;;) {
		int len = topo_pus_format(l, pus, n, p->list, p->listcap);
		if (len < 0)
			return NULL;
		if ((size_t)len < p->listcap)
			return p->list;
		size_t cap = (size_t)len + 64;
		char *nl = realloc(p->list, cap);
		if (!nl)
			return NULL;
		p->list = nl;
		p->listcap = cap;
	}
}

/* The core owning PU (cores own consecutive PUs in order: topo.h). */
static uint32_t core_of_pu(const struct topo_layout *l, uint32_t pu)
{
	uint32_t lo = 0, hi = l->ncores;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (pu < l->cores[mid].first_pu)
			hi = mid;
		else if (pu >= l->cores[mid].first_pu + l->cores[mid].npus)
			lo = mid + 1;
		else
			return mid;
	}
	return TOPO_NONE;
}

/* NUMA nodes (os indexes) local to the PUs of A, as a list. */
static char *mems_of(const struct topo_layout *l, const struct select_alloc *a)
{
	bool *dom = calloc(l->ndomains ? l->ndomains : 1, sizeof(*dom));
	uint32_t *all = NULL;
	size_t nall = 0;
	char *out = NULL;
	if (!dom)
		return NULL;
	for (uint32_t k = 0; k < a->npus; k++) {
		uint32_t c = core_of_pu(l, a->pus[k]);
		if (c < l->ncores && l->cores[c].domain < l->ndomains)
			dom[l->cores[c].domain] = true;
	}
	for (uint32_t d = 0; d < l->ndomains; d++) {
		uint32_t *v;
		size_t nv;
		if (!dom[d] || topo_list_parse(l->domains[d].nodeset, UINT32_MAX - 1, &v, &nv) < 0)
			continue;
		uint32_t *na = realloc(all, (nall + nv + 1) * sizeof(*all));
		if (na) {
			all = na;
			memcpy(all + nall, v, nv * sizeof(*v));
			nall += nv;
		}
		free(v);
	}
	int len = topo_list_format(all, nall, NULL, 0);
	if (len >= 0 && (out = malloc((size_t)len + 1)))
		topo_list_format(all, nall, out, (size_t)len + 1);
	free(all);
	free(dom);
	return out;
}

/* What a chosen allocation holds, per node, for the timeline. */
static struct bf_use *uses_of(const struct part_view *v, const struct select_result *res)
{
	struct bf_use *u = calloc(res->n ? res->n : 1, sizeof(*u));
	if (!u)
		return NULL;
	for (size_t i = 0; i < res->n; i++) {
		const struct select_alloc *a = &res->allocs[i];
		u[i] = (struct bf_use){ .node = v->idx[a->node],
					.pus = a->npus,
					.mem_mb = a->mem_mb,
					.gpus = a->ngpus,
					.exclusive = a->exclusive };
	}
	return u;
}

static int64_t end_of(int64_t start, uint32_t limit)
{
	return limit == TIMEFMT_UNLIMITED ? BF_NEVER : start + (int64_t)limit;
}

/* Record J's start on RES (the journal applies it, which charges the
 * nodes) and launch it once that is durable. */
static int start_job(struct pass *p, struct job *j, size_t part, const struct select_result *res)
{
	const struct part_view *v = &p->views[part];
	size_t na = res->n;
	Pacer__NodeAlloc *allocs = calloc(na, sizeof(*allocs));
	Pacer__NodeAlloc **allocp = calloc(na, sizeof(*allocp));
	char **strs = calloc(na * 3 + 1, sizeof(*strs)); /* cpuset, gpu_env, mems per node */
	char **tcs = NULL;
	size_t ntcs = 0;
	uint64_t t = 0;
	int rc = -1;
	for (size_t i = 0; i < na; i++)
		ntcs += res->allocs[i].ntasks;
	tcs = calloc(ntcs ? ntcs : 1, sizeof(*tcs));
	if (!allocs || !allocp || !strs || !tcs)
		goto done;
	size_t tc = 0;
	for (size_t i = 0; i < na; i++) {
		const struct select_alloc *a = &res->allocs[i];
		const struct node *n = node_at(v->idx[a->node]);
		const struct topo_layout *l = n->res.layout;
		Pacer__NodeAlloc *na_ = &allocs[i];
		pacer__node_alloc__init(na_);
		na_->node = (char *)n->res.name;
		na_->cpus = a->npus;
		na_->mem_mb = a->mem_mb;
		na_->exclusive = a->exclusive;
		const char *s = fmt_pus(p, l, a->pus, a->npus);
		if (!s || !(strs[3 * i] = strdup(s)))
			goto done;
		na_->cpuset = strs[3 * i];
		na_->task_cpus = tcs + tc;
		for (uint32_t k = 0; k < a->ntasks; k++) {
			s = fmt_pus(p, l, a->pus + a->task_off[k],
				    a->task_off[k + 1] - a->task_off[k]);
			if (!s || !(tcs[tc++] = strdup(s)))
				goto done;
			na_->n_task_cpus++;
		}
		na_->task_ids = a->task_ids;
		na_->n_task_ids = a->ntasks;
		na_->gpus = a->gpus;
		na_->n_gpus = a->ngpus;
		int len = topo_gpu_env(l, a->gpus, a->ngpus, NULL, 0);
		if (len < 0 || !(strs[3 * i + 1] = malloc((size_t)len + 1)))
			goto done;
		topo_gpu_env(l, a->gpus, a->ngpus, strs[3 * i + 1], (size_t)len + 1);
		na_->gpu_env = strs[3 * i + 1];
		if (!(strs[3 * i + 2] = mems_of(l, a)))
			goto done;
		na_->mems = strs[3 * i + 2];
		allocp[i] = na_;
	}
	const char *first = allocs[0].node;
	const char *out_pat =
	    j->stdout_pattern->len ? j->stdout_pattern->data : PATTERN_DEFAULT_OUTPUT;
	/* An allocation writes no output of its own: its steps' goes to pacer run. */
	struct blob *out = j->alloc_only ? blob_str("") : resolve_path(j, out_pat, first);
	struct blob *err = j->alloc_only ? blob_str("")
			   : j->stderr_pattern->len
			       ? resolve_path(j, j->stderr_pattern->data, first)
			       : blob_ref(out ? out : j->workdir);
	if (out && err)
		t = state_start(j, ctld.conf->partitions[part].name,
				(const Pacer__NodeAlloc *const *)allocp, na, out->data, err->data);
	blob_put(out);
	blob_put(err);
	if (!t) {
		log_err("job %u cannot be started: %s", j->id, strerror(errno));
		goto done;
	}
	j->launch_pending = true;
	rc = state_after(t, launch_when_durable, (void *)(uintptr_t)j->id);
done:
	for (size_t i = 0; strs && i < na * 3; i++)
		free(strs[i]);
	for (size_t i = 0; tcs && i < ntcs; i++)
		free(tcs[i]);
	free(strs);
	free(tcs);
	free(allocs);
	free(allocp);
	return rc;
}

/* Priority: Slurm's multifactor idea, each factor in [0, 1] times its
 * weight, less the job's nice value. */
static uint32_t job_priority(const struct pass *p, const struct job *j, size_t k)
{
	const struct conf *c = ctld.conf;
	const struct part_view *v = &p->views[k];
	double age = p->now > j->submit_time ? (double)(p->now - j->submit_time) : 0;
	double age_f = c->priority_max_age ? age / c->priority_max_age : 1;
	if (age_f > 1)
		age_f = 1;
	double want = (double)j->ntasks * j->cpus_per_task;
	double size_f = v->cpus ? want / (double)v->cpus : 0;
	if (size_f > 1 || j->exclusive)
		size_f = 1;
	double part_f =
	    p->max_part_prio ? (double)ctld.conf->partitions[k].priority / p->max_part_prio : 0;
	double prio = c->priority_weight_age * age_f + c->priority_weight_size * size_f +
		      c->priority_weight_partition * part_f - (double)j->nice;
	if (prio < 0)
		prio = 0;
	if (prio > UINT32_MAX)
		prio = UINT32_MAX;
	return (uint32_t)prio;
}

/* A pending job as one pass sees it. */
struct pjob {
	struct job *j;
	bool seen;     /* one of its entries was looked at */
	bool done;     /* started, or held back whatever the partition */
	bool reserved; /* its reservation was given (or tried) */
};

/* One look at a job in one of its partitions. */
struct entry {
	struct pjob *pj;
	uint32_t prio;
	uint16_t part; /* index in conf->partitions */
	uint16_t slot; /* its place in the job's list */
};

static int by_priority(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	if (x->pj->j->id != y->pj->j->id)
		return x->pj->j->id < y->pj->j->id ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

static struct array_count *array_count(struct pass *p, uint32_t id)
{
	for (size_t i = 0; i < p->narrays; i++)
		if (p->arrays[i].id == id)
			return &p->arrays[i];
	if (p->narrays == p->caparrays) {
		size_t cap = p->caparrays ? p->caparrays * 2 : 16;
		struct array_count *na = realloc(p->arrays, cap * sizeof(*na));
		if (!na)
			return NULL;
		p->arrays = na;
		p->caparrays = cap;
	}
	struct array_count *ac = &p->arrays[p->narrays++];
	*ac = (struct array_count){ .id = id };
	for (struct job *t = job_find(id); t && t->array_job_id == id; t = t->next)
		ac->running += t->state == PACER__JOB_STATE__JOB_RUNNING;
	return ac;
}

/* Node features of a constraint ("a&b|c": | of & terms) as masks. */
static int constraint_masks(const char *expr, uint32_t *masks, size_t max, size_t *n)
{
	*n = 0;
	uint32_t m = 0;
	const char *p = expr;
	while (*p) {
		size_t len = strcspn(p, "&|");
		char word[64];
		if (len == 0 || len >= sizeof(word))
			return -1;
		memcpy(word, p, len);
		word[len] = '\0';
		int f = conf_feature_index(ctld.conf, word);
		if (f < 0)
			return -1;
		m |= 1u << f;
		p += len;
		if (*p == '|' || !*p) {
			if (*n == max)
				return -1;
			masks[(*n)++] = m;
			m = 0;
		}
		if (*p)
			p++;
	}
	return *n ? 0 : -1;
}

/* Mark which of NODES a job with EXCLUDE and CONSTRAINT (as given, "" for
 * none) may use; with NOW, only nodes that are up and registered count
 * (a pass), else every node of known or unknown size (the submit check).
 * -1 when the options no longer make sense (a feature dropped from
 * pacer.conf). */
static int mark_eligible(struct select_node *const *nodes, size_t n, const char *exclude,
			 const char *constraint, bool now)
{
	uint32_t masks[16];
	size_t nmasks = 0;
	struct hostlist *ex = NULL;
	if (*constraint && constraint_masks(constraint, masks, 16, &nmasks) < 0)
		return -1;
	if (*exclude && !(ex = hostlist_decode(exclude)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct select_node *sn = nodes[i];
		bool ok = !now || (sn->usable && sn->layout);
		if (ok && ex)
			ok = hostlist_find(ex, sn->name) < 0;
		if (ok && nmasks) {
			bool any = false;
			for (size_t k = 0; k < nmasks && !any; k++)
				any = (sn->feature_mask & masks[k]) == masks[k];
			ok = any;
		}
		sn->eligible = ok;
	}
	hostlist_destroy(ex);
	return 0;
}

static void fill_request(const struct job *j, struct select_request *r)
{
	*r = (struct select_request){ .job_id = j->id,
				      .nodes = j->nodes_req,
				      .ntasks = j->ntasks,
				      .cpus_per_task = j->cpus_per_task,
				      .ntasks_per_node = j->ntasks_per_node,
				      .ntasks_per_socket = j->ntasks_per_socket,
				      .mem_mb = j->mem_mb,
				      .mem_per_cpu_mb = j->mem_per_cpu_mb,
				      .gpus = j->gpus,
				      .gpus_per_node = j->gpus_per_node,
				      .exclusive = j->exclusive,
				      .threads = j->threads,
				      .dist_node = j->dist_node,
				      .dist_socket = j->dist_socket };
}

/* Nodes a --nodelist names, as a NULL-ended array of strings of *HLP
 * (freed by the caller with the array), or NULL for none. */
static const char **required_of(const char *nodelist, struct hostlist **hlp, size_t *n)
{
	*hlp = NULL;
	*n = 0;
	if (!*nodelist)
		return NULL;
	struct hostlist *hl = hostlist_decode(nodelist);
	if (!hl)
		return NULL;
	size_t c = hostlist_count(hl);
	const char **v = calloc(c + 1, sizeof(*v));
	if (!v) {
		hostlist_destroy(hl);
		return NULL;
	}
	for (size_t i = 0; i < c; i++)
		v[i] = hostlist_nth(hl, i);
	*hlp = hl;
	*n = c;
	return v;
}

static int views_build(struct pass *p)
{
	const struct conf *c = ctld.conf;
	size_t nn = node_count();
	p->all = calloc(nn ? nn : 1, sizeof(*p->all));
	p->node_waited = calloc(nn ? nn : 1, sizeof(*p->node_waited));
	p->nviews = c->npartitions;
	p->views = calloc(p->nviews ? p->nviews : 1, sizeof(*p->views));
	if (!p->all || !p->views || !p->node_waited)
		return -1;
	for (size_t i = 0; i < nn; i++)
		p->all[i] = &node_at(i)->res;
	for (size_t k = 0; k < p->nviews; k++) {
		const struct conf_partition *part = &c->partitions[k];
		struct part_view *v = &p->views[k];
		if (part->priority > p->max_part_prio)
			p->max_part_prio = part->priority;
		v->n = part->nnodes;
		v->nodes = calloc(v->n ? v->n : 1, sizeof(*v->nodes));
		v->idx = calloc(v->n ? v->n : 1, sizeof(*v->idx));
		if (!v->nodes || !v->idx)
			return -1;
		for (size_t i = 0; i < v->n; i++) {
			v->idx[i] = (uint32_t)part->nodes[i];
			v->nodes[i] = p->all[part->nodes[i]];
			if (v->nodes[i]->layout)
				v->cpus += v->nodes[i]->layout->npus;
		}
	}
	return 0;
}

static void pass_free(struct pass *p)
{
	for (size_t k = 0; p->views && k < p->nviews; k++) {
		free(p->views[k].nodes);
		free(p->views[k].idx);
	}
	free(p->views);
	free(p->all);
	free(p->arrays);
	free(p->node_waited);
	free(p->list);
	bf_free(p->bf);
}

/* The timeline, made when the first job does not fit: every running
 * job's allocation until the end of its time limit. */
static int timeline(struct pass *p)
{
	if (p->bf)
		return 0;
	p->bf = bf_new(p->now, p->all, node_count());
	if (!p->bf)
		return -1;
	struct bf_use use[64];
	for (struct job *j = job_first(); j; j = j->next) {
		if (j->state != PACER__JOB_STATE__JOB_RUNNING || !j->charged)
			continue;
		int64_t end = end_of(j->start_time, j->time_limit);
		size_t n = 0;
		for (uint32_t i = 0; i < j->nalloc; i++) {
			const struct job_alloc *a = &j->alloc[i];
			if (!a->charged)
				continue;
			use[n++] = (struct bf_use){ .node = a->node,
						    .pus = a->cpus,
						    .mem_mb = a->mem_mb,
						    .gpus = a->ngpus,
						    .exclusive = a->exclusive };
			if (n == sizeof(use) / sizeof(use[0])) {
				if (bf_add_running(p->bf, end, use, n) < 0)
					return -1;
				n = 0;
			}
		}
		if (n && bf_add_running(p->bf, end, use, n) < 0)
			return -1;
	}
	return 0;
}

/* Candidate nodes of a job for the timeline: usable and eligible. */
static uint32_t *candidates(const struct part_view *v, size_t *n)
{
	uint32_t *c = malloc((v->n ? v->n : 1) * sizeof(*c));
	*n = 0;
	for (size_t i = 0; c && i < v->n; i++)
		if (v->nodes[i]->eligible)
			c[(*n)++] = v->idx[i];
	return c;
}

/* A job of V waits for resources: every partition sharing a node with V
 * now has a higher-priority job waiting.  Once per partition and pass. */
static void mark_waited(struct pass *p, struct part_view *v)
{
	if (v->marked)
		return;
	v->marked = true;
	for (size_t i = 0; i < v->n; i++)
		p->node_waited[v->idx[i]] = true;
	for (size_t k = 0; k < p->nviews; k++) {
		struct part_view *w = &p->views[k];
		for (size_t i = 0; i < w->n && !w->waiting; i++)
			w->waiting = p->node_waited[w->idx[i]];
	}
}

/* Why J may not run in partition K now, or NULL: pacer.conf may have
 * changed since the job was accepted. */
static const char *part_limit(const struct job *j, size_t k)
{
	const struct conf_partition *part = &ctld.conf->partitions[k];
	if (part->max_time != TIMEFMT_UNLIMITED && j->time_limit > part->max_time)
		return "PartitionTimeLimit";
	if (part->max_nodes && j->nodes_req > part->max_nodes)
		return "PartitionNodeLimit";
	return NULL;
}

/* Why J may not be considered now in any partition, or NULL. */
static const char *held_back(struct pass *p, const struct job *j)
{
	switch (depend_eval(j)) {
	case DEPEND_WAIT: return "Dependency";
	case DEPEND_NEVER: return "DependencyNeverSatisfied";
	case DEPEND_OK: break;
	}
	if (j->array_job_id && j->array_max_running) {
		struct array_count *ac = array_count(p, j->array_job_id);
		if (ac && ac->running >= j->array_max_running)
			return "JobArrayTaskLimit";
	}
	return NULL;
}

/* Partition outcomes, from the least telling: a job looked at in several
 * partitions shows the most telling one (or the one with the earliest
 * expected start). */
static int reason_rank(const char *r)
{
	if (!r)
		return 0;
	if (strcmp(r, "Resources") == 0)
		return 3;
	if (strcmp(r, "Priority") == 0)
		return 2;
	return 1;
}

/* What a look at J in one partition found: REASON, and WHEN it could
 * start there (0 = not known); KEEP leaves the expected start as it is. */
static void note(struct job *j, bool first, const char *reason, int64_t when, bool keep)
{
	if (first) {
		job_set_reason(j, reason);
		if (!keep)
			j->expected_start = when;
		return;
	}
	bool earlier = when && (!j->expected_start || when < j->expected_start);
	if (earlier || (!when && !j->expected_start &&
			reason_rank(reason) > reason_rank(j->reason ? j->reason->data : NULL))) {
		job_set_reason(j, reason);
		if (earlier)
			j->expected_start = when;
	}
}

/* When REQ could start on partition K's eligible nodes (marked already);
 * with RESERVE that start is promised to it.  0 = not within the window. */
static int64_t when_in(struct pass *p, size_t k, const struct select_request *req, uint32_t limit,
		       bool reserve)
{
	size_t ncand;
	uint32_t *cand = candidates(&p->views[k], &ncand);
	int64_t when = 0;
	if (cand)
		when = bf_when(p->bf, req, cand, ncand, limit, ctld.conf->backfill_window, reserve);
	free(cand);
	return when;
}

/* The expected start of PJ, which does not fit now in partition K (its
 * nodes marked).  While reservations are left, its first such look gives
 * it one: in K, or in whichever of its partitions could start it earliest
 * (none now when that one could start it at once: its own look comes
 * later in the pass). */
static int64_t estimate(struct pass *p, struct pjob *pj, size_t k, const struct select_request *req,
			size_t *nresv, size_t *nest)
{
	const struct conf *c = ctld.conf;
	struct job *j = pj->j;
	bool reserve = *nresv < c->backfill_reservations && !pj->reserved;
	if (!reserve && *nest >= SCHED_ESTIMATES)
		return 0;
	size_t best = k;
	if (reserve)
		pj->reserved = true;
	if (reserve && j->nparts > 1) {
		int64_t best_when = 0;
		for (size_t i = 0; i < j->nparts; i++) {
			size_t m = j->parts[i];
			struct part_view *w = &p->views[m];
			if (m != k && (w->blocked || part_limit(j, m)))
				continue;
			if (mark_eligible(w->nodes, w->n, j->exclude->data, j->constraint->data,
					  true) < 0)
				continue;
			int64_t t = when_in(p, m, req, j->time_limit, false);
			if (t && (!best_when || t < best_when)) {
				best_when = t;
				best = m;
			}
		}
		if (best != k && best_when <= p->now) {
			(*nest)++;
			return best_when;
		}
		struct part_view *w = &p->views[best];
		mark_eligible(w->nodes, w->n, j->exclude->data, j->constraint->data, true);
	}
	int64_t when = when_in(p, best, req, j->time_limit, reserve);
	if (reserve && when)
		(*nresv)++;
	else
		(*nest)++;
	return when;
}

/* Look at PJ in partition K: 1 started, 0 not (reason set), -1 error. */
static int try_entry(struct pass *p, struct pjob *pj, size_t k, size_t *nresv, size_t *nest)
{
	const struct conf *c = ctld.conf;
	struct job *j = pj->j;
	struct part_view *v = &p->views[k];
	if (pj->done)
		return 0;
	bool first = !pj->seen;
	pj->seen = true;
	const char *why = first ? held_back(p, j) : NULL;
	if (why) {
		job_set_reason(j, why);
		j->expected_start = 0;
		pj->done = true;
		return 0;
	}
	if (v->blocked) {
		note(j, first, "Priority", 0, true);
		return 0;
	}
	if ((why = part_limit(j, k))) {
		note(j, first, why, 0, false);
		return 0;
	}
	if (mark_eligible(v->nodes, v->n, j->exclude->data, j->constraint->data, true) < 0) {
		job_set_reason(j, "BadConstraints");
		j->expected_start = 0;
		pj->done = true;
		return 0;
	}
	struct select_request req;
	fill_request(j, &req);
	struct hostlist *rhl;
	req.required = required_of(j->nodelist->data, &rhl, &req.nrequired);
	struct select_result res = { 0 };
	int rc = ctld.select->allocate(&req, v->nodes, v->n, &res);
	int started = 0;
	if (rc == 0) {
		int64_t end = end_of(p->now, j->time_limit);
		struct bf_use *use = p->bf ? uses_of(v, &res) : NULL;
		if (p->bf && (!use || bf_delays(p->bf, end, use, res.n))) {
			note(j, first, "Priority", 0, true);
		} else if (start_job(p, j, k, &res) == 0) {
			started = 1;
			pj->done = true;
			stats.started++;
			if (p->bf && bf_started(p->bf, end, use, res.n) < 0)
				log_err("scheduler: out of memory");
			if (j->array_job_id) {
				struct array_count *ac = array_count(p, j->array_job_id);
				if (ac)
					ac->running++;
			}
		}
		free(use);
		select_result_free(&res);
	} else if (!c->backfill) {
		note(j, first, "Resources", 0, true);
		v->blocked = true;
	} else if (timeline(p) == 0) {
		int64_t when = estimate(p, pj, k, &req, nresv, nest);
		/* As Slurm says it: the first job that waits for resources
		 * waits on Resources, the ones behind it (on any of its nodes,
		 * whatever the partition) on Priority. */
		note(j, first, v->waiting ? "Priority" : "Resources", when, false);
		mark_waited(p, v);
	}
	free((void *)req.required);
	hostlist_destroy(rhl);
	return started;
}

void sched_pass_now(void)
{
	uint64_t t0 = timefmt_monotonic_ms();
	const struct conf *c = ctld.conf;
	struct pass p = { .now = ctld_now() };
	struct pjob *jobs = NULL;
	struct entry *q = NULL;
	size_t nj = 0, capj = 0, n = 0, cap = 0;
	pass_due = false;
	if (views_build(&p) < 0)
		goto oom;
	for (struct job *j = job_pending_first(); j; j = j->pnext) {
		if (j->cancel_requested)
			continue;
		if (nj == capj) {
			capj = capj ? capj * 2 : 1024;
			struct pjob *nv = realloc(jobs, capj * sizeof(*jobs));
			if (!nv)
				goto oom;
			jobs = nv;
		}
		jobs[nj++] = (struct pjob){ .j = j };
		n += j->nparts;
	}
	cap = n;
	q = calloc(cap ? cap : 1, sizeof(*q));
	if (!q)
		goto oom;
	n = 0;
	for (size_t i = 0; i < nj; i++) {
		struct job *j = jobs[i].j;
		j->priority = 0;
		for (uint16_t s = 0; s < j->nparts; s++) {
			uint32_t prio = job_priority(&p, j, j->parts[s]);
			q[n++] = (struct entry){
				.pj = &jobs[i], .prio = prio, .part = j->parts[s], .slot = s
			};
			if (prio > j->priority)
				j->priority = prio;
		}
	}
	if (n)
		qsort(q, n, sizeof(*q), by_priority);
	size_t nresv = 0, nest = 0, looked = 0;
	for (size_t i = 0; i < n && looked < c->sched_max_jobs; i++, looked++)
		if (try_entry(&p, q[i].pj, q[i].part, &nresv, &nest) < 0)
			break;
	stats.passes++;
	stats.last_jobs = looked;
	stats.last_reservations = nresv;
	goto done;
oom:
	log_err("scheduler: out of memory");
done:
	pass_free(&p);
	free(q);
	free(jobs);
	last_end_ms = timefmt_monotonic_ms();
	stats.last_ms = last_end_ms - t0;
	if (stats.last_ms > stats.max_ms)
		stats.max_ms = stats.last_ms;
	stats.total_ms += stats.last_ms;
}

static void pass_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sched_pass_now();
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sched_request();
}

/* Parse and check everything about placement a submit can get wrong,
 * whatever the partition, so the scheduler never meets a job it cannot
 * understand. */
static int check_placement(const Pacer__JobSpec *s, char *why, size_t whylen)
{
	uint8_t dn, ds;
	if (job_parse_distribution(s->distribution, &dn, &ds) < 0) {
		snprintf(why, whylen,
			 "--distribution '%s' is not block or cyclic, optionally followed by "
			 ":block or :cyclic",
			 s->distribution);
		return -1;
	}
	if (s->mem_mb && s->mem_per_cpu_mb) {
		snprintf(why, whylen, "--mem and --mem-per-cpu exclude each other (give only one)");
		return -1;
	}
	if (s->gpus && s->gpus_per_node) {
		snprintf(why, whylen,
			 "--gpus and --gpus-per-node exclude each other (give only one)");
		return -1;
	}
	if (s->ntasks_per_node && s->nodes && (uint64_t)s->ntasks_per_node * s->nodes < s->ntasks) {
		snprintf(why, whylen,
			 "%u tasks do not fit in %u node%s at %u task%s per node (raise -N or "
			 "--ntasks-per-node)",
			 s->ntasks, s->nodes, strfmt_s(s->nodes), s->ntasks_per_node,
			 strfmt_s(s->ntasks_per_node));
		return -1;
	}
	uint32_t masks[16];
	size_t nm;
	if (*s->constraint && constraint_masks(s->constraint, masks, 16, &nm) < 0) {
		size_t off =
		    (size_t)snprintf(why, whylen,
				     "--constraint '%s' names a feature no node has, or is "
				     "not words joined by & or | (features:",
				     s->constraint);
		for (size_t i = 0; i < ctld.conf->nfeatures && off < whylen; i++)
			off += (size_t)snprintf(why + off, whylen - off, " %s",
						ctld.conf->features[i]);
		if (off < whylen)
			snprintf(why + off, whylen - off, "%s)",
				 ctld.conf->nfeatures ? "" : " none");
		return -1;
	}
	const char *lists[2] = { s->nodelist, s->exclude };
	const char *opts[2] = { "--nodelist", "--exclude" };
	for (int k = 0; k < 2; k++) {
		if (!*lists[k])
			continue;
		struct hostlist *hl = hostlist_decode(lists[k]);
		if (!hl && errno == E2BIG) {
			snprintf(why, whylen,
				 "%s names more than %d hosts or %u MiB of host names: give a "
				 "shorter list",
				 opts[k], HOSTLIST_MAX, (unsigned)(HOSTLIST_MAX_BYTES >> 20));
			return -1;
		}
		if (!hl) {
			snprintf(why, whylen, "%s '%s' is not a host list like node[1-4,7]",
				 opts[k], lists[k]);
			return -1;
		}
		for (size_t i = 0; i < hostlist_count(hl); i++) {
			const char *name = hostlist_nth(hl, i);
			if (node_index(name) < 0) {
				snprintf(why, whylen,
					 "%s names %s, which is not a node of this cluster (pacer "
					 "nodes lists them)",
					 opts[k], name);
				hostlist_destroy(hl);
				return -1;
			}
		}
		if (k == 0 && hostlist_count(hl) > s->ntasks) {
			size_t nn = hostlist_count(hl);
			snprintf(
			    why, whylen,
			    "--nodelist names %zu nodes but the job has only %u task%s, and each "
			    "node needs a task",
			    nn, s->ntasks, strfmt_s(s->ntasks));
			hostlist_destroy(hl);
			return -1;
		}
		hostlist_destroy(hl);
	}
	return 0;
}

/* A --nodelist node outside PART, into WHY; 0 when there is none. */
static int check_nodelist_in(const Pacer__JobSpec *s, const struct conf_partition *part, char *why,
			     size_t whylen)
{
	if (!*s->nodelist)
		return 0;
	struct hostlist *hl = hostlist_decode(s->nodelist); /* checked already */
	int rc = 0;
	for (size_t i = 0; hl && i < hostlist_count(hl) && rc == 0; i++) {
		const char *name = hostlist_nth(hl, i);
		long idx = node_index(name);
		bool in = false;
		for (size_t q = 0; idx >= 0 && q < part->nnodes && !in; q++)
			in = part->nodes[q] == (size_t)idx;
		if (!in) {
			snprintf(why, whylen, "node %s of --nodelist is not in the partition",
				 name);
			rc = -1;
		}
	}
	hostlist_destroy(hl);
	return rc;
}

/* Could SPEC, with time limit LIMIT, ever run in PART?  0, or -1 with WHY:
 * a clause that reads after "the job can never run in partition P: ". */
static int check_in(const Pacer__JobSpec *spec, const struct conf_partition *part, uint32_t limit,
		    char *why, size_t whylen)
{
	if (part->max_nodes && spec->nodes > part->max_nodes) {
		snprintf(why, whylen,
			 "the job asks for %u nodes but the partition allows at most %u",
			 spec->nodes, part->max_nodes);
		return -1;
	}
	if (part->max_time != TIMEFMT_UNLIMITED && limit > part->max_time) {
		char want[32], max[32];
		timefmt_duration(limit, want, sizeof(want));
		timefmt_duration(part->max_time, max, sizeof(max));
		snprintf(why, whylen,
			 "the time limit %s is above the partition's maximum of %s (lower -t)",
			 want, max);
		return -1;
	}
	if (check_nodelist_in(spec, part, why, whylen) < 0)
		return -1;
	struct select_node *nodes[part->nnodes ? part->nnodes : 1];
	for (size_t i = 0; i < part->nnodes; i++)
		nodes[i] = &node_at(part->nodes[i])->res;
	/* check_placement has checked both options already. */
	mark_eligible(nodes, part->nnodes, spec->exclude, spec->constraint, false);
	struct select_request req;
	struct job tmp = { .nodes_req = spec->nodes,
			   .ntasks = spec->ntasks,
			   .cpus_per_task = spec->cpus_per_task,
			   .ntasks_per_node = spec->ntasks_per_node,
			   .ntasks_per_socket = spec->ntasks_per_socket,
			   .mem_mb = spec->mem_mb,
			   .mem_per_cpu_mb = spec->mem_per_cpu_mb,
			   .gpus = spec->gpus,
			   .gpus_per_node = spec->gpus_per_node,
			   .exclusive = spec->exclusive,
			   .threads = spec->multithread };
	job_parse_distribution(spec->distribution, &tmp.dist_node, &tmp.dist_socket);
	fill_request(&tmp, &req);
	struct hostlist *rhl;
	req.required = required_of(spec->nodelist, &rhl, &req.nrequired);
	int rc = ctld.select->feasible(&req, nodes, part->nnodes, why, whylen);
	free((void *)req.required);
	hostlist_destroy(rhl);
	return rc < 0 ? -1 : 0;
}

int sched_parts_parse(const char *list, struct sched_parts *parts, char *why, size_t whylen)
{
	const struct conf *c = ctld.conf;
	const char *p = list ? list : "";
	parts->n = 0;
	parts->names[0] = '\0';
	if (*p && (p[0] == ',' || p[strlen(p) - 1] == ',' || strstr(p, ",,"))) {
		snprintf(why, whylen,
			 "the partition list '%s' has an empty name (separate names with single "
			 "commas)",
			 p);
		goto refuse;
	}
	do {
		size_t len = strcspn(p, ",");
		char name[256];
		const struct conf_partition *part = NULL;
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		if (len < sizeof(name))
			part = conf_partition_find(c, name);
		if (!part && !*name) {
			snprintf(why, whylen,
				 "no partition is the default, so -p must name one (partitions:");
			goto list;
		}
		if (!part) {
			snprintf(why, whylen, "unknown partition '%.*s' (partitions:", (int)len, p);
			goto list;
		}
		bool again = false;
		for (size_t i = 0; i < parts->n; i++)
			again |= parts->part[i] == part;
		if (!again) {
			if (parts->n == SCHED_PARTS_MAX) {
				snprintf(why, whylen,
					 "the partition list '%s' names more than %d partitions",
					 list, SCHED_PARTS_MAX);
				goto refuse;
			}
			parts->part[parts->n++] = part;
		}
		p += len + (p[len] == ',');
	} while (*p);
	return 0;
list : {
	size_t off = strlen(why);
	for (size_t i = 0; i < c->npartitions && off < whylen; i++)
		off += (size_t)snprintf(why + off, whylen - off, "%s %s", i ? "," : "",
					c->partitions[i].name);
	if (off < whylen)
		snprintf(why + off, whylen - off, ")");
}
refuse:
	errno = EINVAL;
	return -1;
}

int sched_check(Pacer__JobSpec *spec, struct sched_parts *parts, char *why, size_t whylen)
{
	if (spec->cpus_per_task == 0)
		spec->cpus_per_task = 1;
	if (spec->ntasks == 0) {
		uint32_t nodes = spec->nodes ? spec->nodes : 1;
		spec->ntasks = spec->ntasks_per_node ? nodes * spec->ntasks_per_node : nodes;
	}
	if (spec->nodes > spec->ntasks) {
		snprintf(why, whylen,
			 "the job asks for %u nodes but only %u task%s, and each node needs a task "
			 "(raise -n or lower -N)",
			 spec->nodes, spec->ntasks, strfmt_s(spec->ntasks));
		goto refuse;
	}
	if (check_placement(spec, why, whylen) < 0)
		goto refuse;
	/* Each partition, with its own default time limit when -t is not
	 * given; those that can never run the job are dropped from its list. */
	char reasons[SCHED_PARTS_MAX][256];
	size_t kept = 0;
	uint32_t limit = TIMEFMT_UNLIMITED;
	for (size_t i = 0; i < parts->n; i++) {
		const struct conf_partition *part = parts->part[i];
		uint32_t t = spec->time_limit ? spec->time_limit : part->default_time;
		if (check_in(spec, part, t, reasons[i], sizeof(reasons[i])) < 0)
			continue;
		if (t < limit)
			limit = t;
		parts->part[kept++] = part;
	}
	if (kept == 0) {
		if (parts->n == 1) {
			snprintf(why, whylen, "the job can never run in partition %s: %s",
				 parts->part[0]->name, reasons[0]);
			goto refuse;
		}
		size_t off = (size_t)snprintf(why, whylen,
					      "the job can never run in any of its partitions:");
		for (size_t i = 0; i < parts->n && off < whylen; i++)
			off += (size_t)snprintf(why + off, whylen - off, "%s in %s, %s",
						i ? ";" : "", parts->part[i]->name, reasons[i]);
		goto refuse;
	}
	parts->n = kept;
	/* With a list and no -t, the smallest default: it is within every
	 * partition's maximum, so the job may start in any of them. */
	if (spec->time_limit == 0)
		spec->time_limit = limit;
	size_t off = 0;
	for (size_t i = 0; i < parts->n; i++) {
		off += (size_t)snprintf(parts->names + off, sizeof(parts->names) - off, "%s%s",
					i ? "," : "", parts->part[i]->name);
		if (off >= sizeof(parts->names)) {
			snprintf(why, whylen, "the partition list '%s' is too long",
				 spec->partition);
			goto refuse;
		}
	}
	return 0;
refuse:
	errno = EINVAL;
	return -1;
}

int sched_init(void)
{
	pass_ev = event_new(ctld.base, -1, 0, pass_cb, NULL);
	tick_ev = event_new(ctld.base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = { SCHED_PERIOD_S, 0 };
	return pass_ev && tick_ev && event_add(tick_ev, &tv) == 0 ? 0 : -1;
}

void sched_destroy(void)
{
	if (pass_ev)
		event_free(pass_ev);
	if (tick_ev)
		event_free(tick_ev);
	pass_ev = tick_ev = NULL;
}
