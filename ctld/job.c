/* job.c - the job table (see job.h). */
#include "job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "conf.h"
#include "ctld.h"
#include "depspec.h"
#include "log.h"
#include "node.h"
#include "select.h"

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

/* J's partitions from the journaled LIST ("batch,debug"; one name in
 * records from before lists) and RUNS_IN, the one it runs or ran in.
 * Partitions dropped from pacer.conf since are left out; with none left,
 * the first partition stands in, as for a single partition before.
 * 0 or -1 (ENOMEM). */
static int parts_of(struct job *j, const char *list, const char *runs_in)
{
	const struct conf *c = ctld.conf;
	size_t cap = 1;
	for (const char *p = list; p && *p; p++)
		cap += *p == ',';
	j->parts = calloc(cap, sizeof(*j->parts));
	j->partlist = blob_str(list ? list : "");
	if (!j->parts || !j->partlist) {
		errno = ENOMEM;
		return -1;
	}
	const char *p = list ? list : "";
	do {
		size_t len = strcspn(p, ",");
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		const struct conf_partition *part =
		    len < sizeof(name) ? conf_partition_find(c, name) : NULL;
		if (part && j->nparts < cap)
			j->parts[j->nparts++] = (uint16_t)(part - c->partitions);
		p += len + (p[len] == ',');
	} while (*p);
	if (!j->nparts)
		j->nparts = 1; /* parts[0] is 0 */
	j->partition = j->parts[0];
	const struct conf_partition *run =
	    runs_in && *runs_in ? conf_partition_find(c, runs_in) : NULL;
	if (run)
		j->partition = (uint16_t)(run - c->partitions);
	return 0;
}

const char *job_partition_shown(const struct job *j)
{
	if (!j->start_time && j->partlist && j->partlist->len)
		return j->partlist->data;
	return ctld.conf->partitions[j->partition].name;
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
	if (parts_of(j, s->partition, pj->partition) < 0) {
		job_destroy(j);
		return NULL;
	}
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
	j->ntasks_per_node = s->ntasks_per_node;
	j->ntasks_per_socket = s->ntasks_per_socket;
	j->gpus = s->gpus;
	j->gpus_per_node = s->gpus_per_node;
	j->mem_per_cpu_mb = s->mem_per_cpu_mb;
	j->exclusive = s->exclusive;
	j->threads = s->multithread;
	j->alloc_only = s->alloc_only;
	j->nice = s->nice;
	/* Checked at submit; a record from the journal is trusted as it is. */
	if (job_parse_distribution(s->distribution, &j->dist_node, &j->dist_socket) < 0)
		j->dist_node = j->dist_socket = 0;
	j->nodelist = blob_str(s->nodelist);
	j->exclude = blob_str(s->exclude);
	j->constraint = blob_str(s->constraint);
	j->cpu_bind = blob_str(s->cpu_bind);
	j->distribution = blob_str(s->distribution);
	j->array = blob_str(s->array);
	j->dependency = blob_str(s->dependency);
	j->array_job_id = pj->array_job_id;
	j->array_task_id = pj->array_task_id;
	j->array_max_running = s->array_max_running;
	bool deps_ok = true, dep_bad = false;
	if (s->dependency && *s->dependency) {
		char why[256];
		if (depspec_parse(s->dependency, &j->deps, &j->ndeps, &j->deps_any, &j->singleton,
				  why, sizeof(why)) < 0) {
			/* Checked at submit with the same parser: only running out
			 * of memory, or a record from a Pacer that parsed more, gets
			 * here.  The job must not be lost over it: it waits, held,
			 * for someone to look. */
			deps_ok = errno != ENOMEM;
			dep_bad = deps_ok;
		}
	}
	bool alloc_ok = pj->n_alloc == 0 || job_set_alloc(j, pj->alloc, pj->n_alloc) == 0;
	alloc_ok = alloc_ok && step_load(j, pj->steps, pj->n_steps) == 0;
	if (pj->next_step_id > j->next_step_id)
		j->next_step_id = pj->next_step_id;
	if (!j->name || !j->user || !j->workdir || !j->stdout_pattern || !j->stderr_pattern ||
	    !j->script || !j->env || !j->argv || !j->submit_dir || !j->submit_host ||
	    !j->stdout_path || !j->stderr_path || !j->nodelist || !j->exclude || !j->constraint ||
	    !j->cpu_bind || !j->distribution || !j->array || !j->dependency || !deps_ok ||
	    !alloc_ok) {
		job_destroy(j);
		errno = ENOMEM;
		return NULL;
	}
	j->state = (uint8_t)pj->state;
	if (dep_bad && j->state == PACER__JOB_STATE__JOB_PENDING) {
		log_err("job %u: its dependency '%s' cannot be read: held (fix it by cancelling "
			"and submitting it again)",
			j->id, j->dependency->data);
		j->held = true;
		job_set_reason(j, "BadDependency");
	}
	/* Kept for every state: a release must stay refused, and replay must
	 * come to the same held job however many restarts there are. */
	j->deps_unreadable = dep_bad;
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
	blob_put(j->nodelist);
	blob_put(j->exclude);
	blob_put(j->constraint);
	blob_put(j->cpu_bind);
	blob_put(j->distribution);
	blob_put(j->array);
	blob_put(j->dependency);
	blob_put(j->partlist);
	free(j->parts);
	free(j->deps);
	step_free_all(j);
	job_clear_alloc(j);
	free(j);
}

void job_alloc_release(struct job_alloc *a)
{
	blob_put(a->cpuset);
	blob_put(a->task_cpus);
	blob_put(a->task_ids);
	blob_put(a->gpus);
	blob_put(a->gpu_env);
	blob_put(a->mems);
}

void job_clear_alloc(struct job *j)
{
	if (j->charged)
		node_charge(j, false);
	for (uint32_t i = 0; i < j->nalloc; i++)
		job_alloc_release(&j->alloc[i]);
	free(j->alloc);
	j->alloc = NULL;
	j->nalloc = 0;
}

static struct blob *list_blob(const uint32_t *v, size_t n)
{
	char small[256];
	int len = topo_list_format(v, n, small, sizeof(small));
	if (len < 0)
		return NULL;
	if ((size_t)len < sizeof(small))
		return blob_str(small);
	char *big = malloc((size_t)len + 1);
	if (!big)
		return NULL;
	topo_list_format(v, n, big, (size_t)len + 1);
	struct blob *b = blob_str(big);
	free(big);
	return b;
}

int job_alloc_from_proto(struct job_alloc *a, uint32_t node, const Pacer__NodeAlloc *na)
{
	*a = (struct job_alloc){ .node = node,
				 .cpus = na->cpus,
				 .mem_mb = na->mem_mb,
				 .exclusive = na->exclusive,
				 .ngpus = (uint32_t)na->n_gpus };
	a->cpuset = blob_str(na->cpuset);
	a->task_cpus = blob_strv(na->task_cpus, na->n_task_cpus);
	a->task_ids = list_blob(na->task_ids, na->n_task_ids);
	a->gpus = list_blob(na->gpus, na->n_gpus);
	a->gpu_env = blob_str(na->gpu_env);
	a->mems = blob_str(na->mems);
	if (!a->cpuset || !a->task_cpus || !a->task_ids || !a->gpus || !a->gpu_env || !a->mems) {
		job_alloc_release(a);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int job_set_alloc(struct job *j, Pacer__NodeAlloc *const *alloc, size_t n)
{
	job_clear_alloc(j);
	if (!n)
		return 0;
	j->alloc = calloc(n, sizeof(*j->alloc));
	if (!j->alloc)
		return -1;
	for (size_t i = 0; i < n; i++) {
		long idx = node_index(alloc[i]->node);
		if (idx < 0)
			continue; /* a node removed from the config */
		if (job_alloc_from_proto(&j->alloc[j->nalloc], (uint32_t)idx, alloc[i]) < 0) {
			job_clear_alloc(j);
			return -1;
		}
		j->nalloc++;
	}
	return 0;
}

int job_parse_distribution(const char *s, uint8_t *node, uint8_t *socket)
{
	*node = *socket = SELECT_DIST_BLOCK;
	if (!s || !*s)
		return 0;
	const char *colon = strchr(s, ':');
	size_t n1 = colon ? (size_t)(colon - s) : strlen(s);
	struct {
		const char *word;
		uint8_t v;
	} words[] = { { "block", SELECT_DIST_BLOCK }, { "cyclic", SELECT_DIST_CYCLIC } };
	bool ok1 = false, ok2 = !colon;
	for (size_t i = 0; i < 2; i++) {
		if (strlen(words[i].word) == n1 && strncmp(s, words[i].word, n1) == 0) {
			*node = words[i].v;
			ok1 = true;
		}
		if (colon && strcmp(colon + 1, words[i].word) == 0) {
			*socket = words[i].v;
			ok2 = true;
		}
	}
	if (!ok1 || !ok2) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int job_format_id(const struct job *j, char *buf, size_t len)
{
	if (j->array_job_id)
		return snprintf(buf, len, "%u_%u", j->array_job_id, j->array_task_id);
	return snprintf(buf, len, "%u", j->id);
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
	       s == PACER__JOB_STATE__JOB_NODE_FAIL || s == PACER__JOB_STATE__JOB_OUT_OF_MEMORY;
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
	case PACER__JOB_STATE__JOB_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
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
	s->partition =
	    j->partlist->len ? (char *)j->partlist->data : ctld.conf->partitions[j->partition].name;
	s->workdir = str(j->workdir);
	s->stdout_pattern = str(j->stdout_pattern);
	s->stderr_pattern = str(j->stderr_pattern);
	s->hold = j->held;
	s->submit_dir = str(j->submit_dir);
	s->submit_host = str(j->submit_host);
	s->ntasks_per_node = j->ntasks_per_node;
	s->ntasks_per_socket = j->ntasks_per_socket;
	s->exclusive = j->exclusive;
	s->alloc_only = j->alloc_only;
	s->mem_per_cpu_mb = j->mem_per_cpu_mb;
	s->gpus = j->gpus;
	s->gpus_per_node = j->gpus_per_node;
	s->nodelist = str(j->nodelist);
	s->exclude = str(j->exclude);
	s->constraint = str(j->constraint);
	s->distribution = str(j->distribution);
	s->cpu_bind = str(j->cpu_bind);
	s->multithread = j->threads;
	s->nice = j->nice;
	s->array = str(j->array);
	s->dependency = str(j->dependency);
	s->array_max_running = j->array_max_running;
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
	pj->array_job_id = j->array_job_id;
	pj->array_task_id = j->array_task_id;
	pj->expected_start = j->expected_start;
	pj->partition = j->start_time ? ctld.conf->partitions[j->partition].name : (char *)"";
	if (j->nalloc) {
		p->allocs = calloc(j->nalloc, sizeof(*p->allocs));
		p->allocp = calloc(j->nalloc, sizeof(*p->allocp));
		p->lists = calloc(j->nalloc, sizeof(*p->lists));
		if (!p->allocs || !p->allocp || !p->lists)
			goto failed;
		for (uint32_t i = 0; i < j->nalloc; i++) {
			if (job_alloc_to_proto(&j->alloc[i], &p->allocs[i], &p->lists[i]) < 0)
				goto failed;
			p->allocp[i] = &p->allocs[i];
		}
		pj->alloc = p->allocp;
		pj->n_alloc = j->nalloc;
	}
	if (step_protos_add(j, true, false, &p->steps) < 0)
		goto failed;
	pj->steps = p->steps.p;
	pj->n_steps = p->steps.n;
	pj->next_step_id = j->next_step_id;
	return 0;
failed:
	job_proto_release(p);
	errno = ENOMEM;
	return -1;
}

int job_alloc_to_proto(const struct job_alloc *a, Pacer__NodeAlloc *na, struct job_alloc_lists *l)
{
	pacer__node_alloc__init(na);
	memset(l, 0, sizeof(*l));
	na->node = (char *)node_name_at(a->node);
	na->cpus = a->cpus;
	na->mem_mb = a->mem_mb;
	na->exclusive = a->exclusive;
	na->cpuset = str(a->cpuset);
	na->gpu_env = str(a->gpu_env);
	na->mems = str(a->mems);
	size_t n;
	if (blob_strv_split(a->task_cpus, &l->task_cpus, &na->n_task_cpus) < 0 ||
	    topo_list_parse(str(a->task_ids), UINT32_MAX - 1, &l->task_ids, &n) < 0)
		goto failed;
	na->task_cpus = l->task_cpus;
	na->task_ids = l->task_ids;
	na->n_task_ids = n;
	if (topo_list_parse(str(a->gpus), UINT32_MAX - 1, &l->gpus, &n) < 0)
		goto failed;
	na->gpus = l->gpus;
	na->n_gpus = n;
	return 0;
failed:
	job_alloc_lists_release(l);
	return -1;
}

void job_alloc_lists_release(struct job_alloc_lists *l)
{
	free(l->task_cpus);
	free(l->task_ids);
	free(l->gpus);
	memset(l, 0, sizeof(*l));
}

void job_proto_release(struct job_proto *p)
{
	for (uint32_t i = 0; p->lists && i < p->job.n_alloc; i++)
		job_alloc_lists_release(&p->lists[i]);
	free(p->lists);
	p->lists = NULL;
	free(p->allocs);
	free(p->allocp);
	free(p->env);
	free(p->argv);
	step_protos_release(&p->steps);
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
	s->partition = (char *)job_partition_shown(j);
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
	s->expected_start = j->expected_start;
	s->array_job_id = j->array_job_id;
	s->array_task_id = j->array_task_id;
	s->gpus = j->gpus;
	if (!s->gpus && j->gpus_per_node)
		s->gpus =
		    j->gpus_per_node * (j->nalloc ? j->nalloc : (j->nodes_req ? j->nodes_req : 1));
}
