/* job.c - the job table (see job.h). */
#include "job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "conf.h"
#include "ctld.h"
#include "node.h"

static struct job **table;
static size_t nbuckets, njobs;
static struct job *head, *tail;   /* by id */
static struct job *phead, *ptail; /* pending, by priority then id */

struct job *job_find(uint32_t id)
{
	if (!nbuckets)
		return NULL;
	for (struct job *j = table[id & (nbuckets - 1)]; j; j = j->hnext)
		if (j->id == id)
			return j;
	return NULL;
}

struct job *job_first(void)
{
	return head;
}
struct job *job_pending_first(void)
{
	return phead;
}
size_t job_count(void)
{
	return njobs;
}

static int grow(void)
{
	size_t n = nbuckets ? nbuckets * 2 : 4096;
	struct job **t = calloc(n, sizeof(*t));
	if (!t)
		return -1;
	for (struct job *j = head; j; j = j->next) {
		j->hnext = t[j->id & (n - 1)];
		t[j->id & (n - 1)] = j;
	}
	free(table);
	table = t;
	nbuckets = n;
	return 0;
}

/* Keep the id list sorted: ids almost always arrive in order. */
static void list_insert(struct job *j)
{
	struct job *after = tail;
	while (after && after->id > j->id)
		after = after->prev;
	j->prev = after;
	j->next = after ? after->next : head;
	if (j->next)
		j->next->prev = j;
	else
		tail = j;
	if (after)
		after->next = j;
	else
		head = j;
}

static bool runs_before(const struct job *a, const struct job *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	return a->id < b->id;
}

static void pending_insert(struct job *j)
{
	struct job *after = ptail;
	while (after && runs_before(j, after))
		after = after->pprev;
	j->pprev = after;
	j->pnext = after ? after->pnext : phead;
	if (j->pnext)
		j->pnext->pprev = j;
	else
		ptail = j;
	if (after)
		after->pnext = j;
	else
		phead = j;
}

/* On the queue the scheduler walks: pending and not held.  Held jobs stay
 * off it, so a pass over a queue with many held jobs costs nothing for them. */
static bool queued(const struct job *j)
{
	return j->state == PACER__JOB_STATE__JOB_PENDING && !j->held;
}

static void pending_remove(struct job *j)
{
	if (j->pprev)
		j->pprev->pnext = j->pnext;
	else
		phead = j->pnext;
	if (j->pnext)
		j->pnext->pprev = j->pprev;
	else
		ptail = j->pprev;
	j->pprev = j->pnext = NULL;
}

static char **strv_of(const Pacer__JobSpec *s, bool env, size_t *n)
{
	*n = env ? s->n_env : s->n_argv;
	return env ? s->env : s->argv;
}

struct job *job_create(const Pacer__Job *pj)
{
	if (job_find(pj->id)) {
		errno = EEXIST;
		return NULL;
	}
	if (njobs >= nbuckets && grow() < 0)
		return NULL;
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	const Pacer__JobSpec *s = pj->spec;
	static const Pacer__JobSpec empty = PACER__JOB_SPEC__INIT;
	if (!s)
		s = &empty;
	size_t nenv, nargv;
	char **env = strv_of(s, true, &nenv), **argv = strv_of(s, false, &nargv);

	j->id = pj->id;
	j->uid = pj->uid;
	j->gid = pj->gid;
	j->held = pj->held;
	j->cancel_requested = pj->cancel_requested;
	const struct conf_partition *part = conf_partition_find(ctld.conf, s->partition);
	j->partition = part ? (uint16_t)(part - ctld.conf->partitions) : 0;
	j->nodes_req = s->nodes;
	j->ntasks = s->ntasks;
	j->cpus_per_task = s->cpus_per_task;
	j->time_limit = s->time_limit;
	j->priority = pj->priority;
	j->requeue_count = pj->requeue_count;
	j->exit_code = pj->exit_code;
	j->term_signal = pj->term_signal;
	j->mem_mb = s->mem_mb;
	j->epoch = pj->epoch;
	j->submit_time = pj->submit_time;
	j->start_time = pj->start_time;
	j->end_time = pj->end_time;
	j->name = strdup(s->name ? s->name : "");
	j->user = blob_str(pj->user);
	j->reason = pj->reason && *pj->reason ? blob_str(pj->reason) : NULL;
	j->workdir = blob_str(s->workdir);
	j->stdout_pattern = blob_str(s->stdout_pattern);
	j->stderr_pattern = blob_str(s->stderr_pattern);
	j->script = blob_get(s->script.data ? (const void *)s->script.data : "", s->script.len);
	j->env = blob_strv(env, nenv);
	j->argv = blob_strv(argv, nargv);
	j->submit_dir = blob_str(s->submit_dir);
	j->submit_host = blob_str(s->submit_host);
	j->stdout_path = blob_str(pj->stdout_path);
	j->stderr_path = blob_str(pj->stderr_path);
	if (pj->n_alloc) {
		j->alloc = calloc(pj->n_alloc, sizeof(*j->alloc));
		if (j->alloc) {
			for (size_t i = 0; i < pj->n_alloc; i++) {
				long idx = node_index(pj->alloc[i]->node);
				if (idx < 0)
					continue; /* a node removed from the config */
				j->alloc[j->nalloc++] =
				    (struct job_alloc){ .node = (uint32_t)idx,
							.cpus = pj->alloc[i]->cpus,
							.mem_mb = pj->alloc[i]->mem_mb };
			}
		}
	}
	if (!j->name || !j->user || !j->workdir || !j->stdout_pattern || !j->stderr_pattern ||
	    !j->script || !j->env || !j->argv || !j->submit_dir || !j->submit_host ||
	    !j->stdout_path || !j->stderr_path || (pj->n_alloc && !j->alloc)) {
		job_destroy(j);
		errno = ENOMEM;
		return NULL;
	}
	j->state = (uint8_t)pj->state;
	j->hnext = table[j->id & (nbuckets - 1)];
	table[j->id & (nbuckets - 1)] = j;
	list_insert(j);
	njobs++;
	if (queued(j))
		pending_insert(j);
	return j;
}

/* Put J on or take it off the pending queue after a change, WAS being
 * whether it was queued before. */
static void requeue(struct job *j, bool was)
{
	bool is = queued(j);
	if (was && !is)
		pending_remove(j);
	else if (!was && is)
		pending_insert(j);
}

void job_set_state(struct job *j, Pacer__JobState state)
{
	bool was = queued(j);
	j->state = (uint8_t)state;
	requeue(j, was);
}

void job_set_held(struct job *j, bool held)
{
	bool was = queued(j);
	j->held = held;
	requeue(j, was);
}

void job_set_reason(struct job *j, const char *reason)
{
	if (j->reason && reason && strcmp(j->reason->data, reason) == 0)
		return;
	blob_put(j->reason);
	j->reason = reason && *reason ? blob_str(reason) : NULL;
}

void job_destroy(struct job *j)
{
	/* A job that failed creation half-way is on no list yet. */
	if (job_find(j->id) == j) {
		struct job **pp = &table[j->id & (nbuckets - 1)];
		while (*pp != j)
			pp = &(*pp)->hnext;
		*pp = j->hnext;
		if (queued(j))
			pending_remove(j);
		if (j->prev)
			j->prev->next = j->next;
		else
			head = j->next;
		if (j->next)
			j->next->prev = j->prev;
		else
			tail = j->prev;
		njobs--;
	}
	free(j->name);
	blob_put(j->user);
	blob_put(j->reason);
	blob_put(j->workdir);
	blob_put(j->stdout_pattern);
	blob_put(j->stderr_pattern);
	blob_put(j->script);
	blob_put(j->env);
	blob_put(j->argv);
	blob_put(j->submit_dir);
	blob_put(j->submit_host);
	blob_put(j->stdout_path);
	blob_put(j->stderr_path);
	free(j->alloc);
	free(j);
}

void job_table_destroy(void)
{
	while (head)
		job_destroy(head);
	free(table);
	table = NULL;
	nbuckets = 0;
}

bool job_state_final(Pacer__JobState s)
{
	return s == PACER__JOB_STATE__JOB_COMPLETED || s == PACER__JOB_STATE__JOB_FAILED ||
	       s == PACER__JOB_STATE__JOB_CANCELLED || s == PACER__JOB_STATE__JOB_TIMEOUT ||
	       s == PACER__JOB_STATE__JOB_NODE_FAIL;
}

const char *job_state_name(Pacer__JobState s)
{
	switch (s) {
	case PACER__JOB_STATE__JOB_PENDING: return "PENDING";
	case PACER__JOB_STATE__JOB_RUNNING: return "RUNNING";
	case PACER__JOB_STATE__JOB_COMPLETED: return "COMPLETED";
	case PACER__JOB_STATE__JOB_FAILED: return "FAILED";
	case PACER__JOB_STATE__JOB_CANCELLED: return "CANCELLED";
	case PACER__JOB_STATE__JOB_TIMEOUT: return "TIMEOUT";
	case PACER__JOB_STATE__JOB_NODE_FAIL: return "NODE_FAIL";
	case PACER__JOB_STATE__JOB_REQUEUED: return "REQUEUED";
	default: return "UNKNOWN";
	}
}

static char *str(const struct blob *b)
{
	return b ? (char *)b->data : (char *)"";
}

int job_to_proto(const struct job *j, struct job_proto *p, bool full)
{
	memset(p, 0, sizeof(*p));
	pacer__job__init(&p->job);
	pacer__job_spec__init(&p->spec);
	Pacer__JobSpec *s = &p->spec;
	s->name = j->name;
	s->nodes = j->nodes_req;
	s->ntasks = j->ntasks;
	s->cpus_per_task = j->cpus_per_task;
	s->mem_mb = j->mem_mb;
	s->time_limit = j->time_limit;
	s->partition = ctld.conf->partitions[j->partition].name;
	s->workdir = str(j->workdir);
	s->stdout_pattern = str(j->stdout_pattern);
	s->stderr_pattern = str(j->stderr_pattern);
	s->hold = j->held;
	s->submit_dir = str(j->submit_dir);
	s->submit_host = str(j->submit_host);
	if (full) {
		s->script.data = (uint8_t *)j->script->data;
		s->script.len = j->script->len;
		if (blob_strv_split(j->env, &p->env, &s->n_env) < 0 ||
		    blob_strv_split(j->argv, &p->argv, &s->n_argv) < 0)
			goto failed;
		s->env = p->env;
		s->argv = p->argv;
	}
	Pacer__Job *pj = &p->job;
	pj->id = j->id;
	pj->uid = j->uid;
	pj->gid = j->gid;
	pj->user = str(j->user);
	pj->spec = s;
	pj->state = (Pacer__JobState)j->state;
	pj->reason = str(j->reason);
	pj->submit_time = j->submit_time;
	pj->start_time = j->start_time;
	pj->end_time = j->end_time;
	pj->exit_code = j->exit_code;
	pj->term_signal = j->term_signal;
	pj->requeue_count = j->requeue_count;
	pj->held = j->held;
	pj->cancel_requested = j->cancel_requested;
	pj->priority = j->priority;
	pj->stdout_path = str(j->stdout_path);
	pj->stderr_path = str(j->stderr_path);
	pj->epoch = j->epoch;
	if (j->nalloc) {
		p->allocs = calloc(j->nalloc, sizeof(*p->allocs));
		p->allocp = calloc(j->nalloc, sizeof(*p->allocp));
		if (!p->allocs || !p->allocp)
			goto failed;
		for (uint32_t i = 0; i < j->nalloc; i++) {
			pacer__node_alloc__init(&p->allocs[i]);
			p->allocs[i].node = (char *)node_name_at(j->alloc[i].node);
			p->allocs[i].cpus = j->alloc[i].cpus;
			p->allocs[i].mem_mb = j->alloc[i].mem_mb;
			p->allocp[i] = &p->allocs[i];
		}
		pj->alloc = p->allocp;
		pj->n_alloc = j->nalloc;
	}
	return 0;
failed:
	job_proto_release(p);
	errno = ENOMEM;
	return -1;
}

void job_proto_release(struct job_proto *p)
{
	free(p->allocs);
	free(p->allocp);
	free(p->env);
	free(p->argv);
	p->allocs = NULL;
	p->allocp = NULL;
	p->env = p->argv = NULL;
}

void job_to_summary(const struct job *j, Pacer__JobSummary *s, char *nodelist)
{
	pacer__job_summary__init(s);
	s->id = j->id;
	s->name = j->name;
	s->user = str(j->user);
	s->partition = ctld.conf->partitions[j->partition].name;
	s->state = (Pacer__JobState)j->state;
	s->reason = str(j->reason);
	s->submit_time = j->submit_time;
	s->start_time = j->start_time;
	s->end_time = j->end_time;
	s->time_limit = j->time_limit;
	s->nodes = j->nalloc ? j->nalloc : (j->nodes_req ? j->nodes_req : 1);
	s->ntasks = j->ntasks;
	uint32_t cpus = 0;
	for (uint32_t i = 0; i < j->nalloc; i++)
		cpus += j->alloc[i].cpus;
	s->cpus = cpus ? cpus : j->ntasks * j->cpus_per_task;
	s->nodelist = nodelist ? nodelist : (char *)"";
	s->exit_code = j->exit_code;
	s->term_signal = j->term_signal;
	s->priority = j->priority;
	s->uid = j->uid;
	s->held = j->held;
}
