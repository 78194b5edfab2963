/* step.c - job steps: placement inside a job, records, requests (see step.h). */
#include "step.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "conf.h"
#include "ctld.h"
#include "hostlist.h"
#include "job.h"
#include "log.h"
#include "node.h"
#include "state.h"
#include "strfmt.h"
#include "topo.h"

#define STEP_ARGV_MAX   4096
#define STEP_STRING_MAX 4096

/* Placement ---------------------------------------------------------------*/

/* Scratch copies of the job's nodes: the same layouts, with every PU that is
 * not the job's taken by STEP_OUTSIDE and, with HELD, every PU of running
 * non-overlapping steps by STEP_HELD (with WHOLE, every PU of the job on a
 * node where any is held: a whole step takes them all).  0 or -1 (ENOMEM). */
static int scratch_build(const struct step_node *in, size_t n, bool held, bool whole,
			 struct select_node *sn, struct select_node **ptr)
{
	for (size_t i = 0; i < n; i++) {
		struct select_node *s = &sn[i];
		memset(s, 0, sizeof(*s));
		ptr[i] = s;
		s->name = in[i].name;
		s->usable = s->eligible = true;
		if (!in[i].layout)
			continue; /* of unknown size: the plugin never places on it */
		if (select_node_set_layout(s, in[i].layout) < 0)
			return -1;
		uint32_t np = in[i].layout->npus;
		uint8_t *mark = calloc(np ? np : 1, 1); /* 1 the job's, 2 held */
		uint32_t *list = calloc(np ? np : 1, sizeof(*list));
		if (!mark || !list) {
			free(mark);
			free(list);
			return -1;
		}
		for (size_t k = 0; k < in[i].njob; k++)
			if (in[i].job_pus[k] < np)
				mark[in[i].job_pus[k]] = 1;
		bool any = false;
		for (size_t k = 0; held && k < in[i].nheld; k++)
			if (in[i].held_pus[k] < np && mark[in[i].held_pus[k]] != 0) {
				mark[in[i].held_pus[k]] = 2;
				any = true;
			}
		for (uint32_t p = 0; any && whole && p < np; p++)
			if (mark[p] == 1)
				mark[p] = 2;
		size_t nl = 0;
		for (uint32_t p = 0; p < np; p++)
			if (mark[p] == 0)
				list[nl++] = p;
		select_charge(s, STEP_OUTSIDE, list, nl, NULL, 0, 0, false, true);
		nl = 0;
		for (uint32_t p = 0; p < np; p++)
			if (mark[p] == 2)
				list[nl++] = p;
		select_charge(s, STEP_HELD, list, nl, NULL, 0, 0, false, true);
		free(mark);
		free(list);
	}
	return 0;
}

static void scratch_free(struct select_node *sn, size_t n)
{
	for (size_t i = 0; i < n; i++)
		select_node_release(&sn[i]);
}

static void ask_to_request(const struct step_ask *a, struct select_request *r)
{
	*r = (struct select_request){ .job_id = a->job_id ? a->job_id : 1,
				      .nodes = a->nodes,
				      .ntasks = a->ntasks,
				      .cpus_per_task = a->cpus_per_task,
				      .threads = a->threads,
				      .dist_node = a->dist_node,
				      .dist_socket = a->dist_socket,
				      .required = a->required,
				      .nrequired = a->nrequired };
}

/* Why the job alone cannot hold A, for the user: what the step asks and
 * what the job has. */
static void never_why(const struct step_ask *a, struct select_node *const *sn, size_t n, char *why,
		      size_t whylen)
{
	uint64_t units = 0, most = 0;
	for (size_t i = 0; i < n; i++) {
		const struct topo_layout *l = sn[i]->layout;
		if (!l)
			continue;
		uint64_t u =
		    a->threads ? l->npus - sn[i]->pus_alloc : l->ncores - sn[i]->cores_busy;
		units += u;
		if (u > most)
			most = u;
	}
	const char *unit = a->threads ? "CPUs (threads)" : "CPUs (cores)";
	snprintf(why, whylen,
		 "the step needs %u task%s of %u CPU%s (-n, -c)%s but job %u holds %llu %s on "
		 "%zu node%s, at most %llu on one: lower -n, -c or -N",
		 a->ntasks, strfmt_s(a->ntasks), a->cpus_per_task, strfmt_s(a->cpus_per_task),
		 a->nodes ? " on exactly -N nodes" : "", a->job_id, (unsigned long long)units, unit,
		 n, strfmt_s(n), (unsigned long long)most);
}

int step_place(const struct select_ops *ops, const struct step_ask *ask,
	       const struct step_node *nodes, size_t n, struct select_result *res, char *why,
	       size_t whylen)
{
	struct select_node *sn = calloc(n ? n : 1, sizeof(*sn));
	struct select_node **ptr = calloc(n ? n : 1, sizeof(*ptr));
	struct select_request req;
	size_t nheld = 0;
	int rc = -1, err = ENOMEM;

	res->n = 0;
	res->allocs = NULL;
	ask_to_request(ask, &req);
	for (size_t i = 0; i < n; i++)
		nheld += nodes[i].nheld;
	if (!sn || !ptr || scratch_build(nodes, n, false, false, sn, ptr) < 0)
		goto out;
	/* The job's allocation alone: "never" or "maybe". */
	char fwhy[512];
	if (ops->feasible(&req, ptr, n, fwhy, sizeof(fwhy)) < 0) {
		snprintf(why, whylen, "the step can never run in job %u: %s", ask->job_id, fwhy);
		err = EINVAL;
		goto out;
	}
	bool unknown = false;
	for (size_t i = 0; i < n; i++)
		unknown |= !nodes[i].layout;
	struct select_result alone;
	if (ops->allocate(&req, ptr, n, &alone) < 0) {
		err = errno;
		if (err == EAGAIN && !unknown) {
			never_why(ask, ptr, n, why, whylen);
			err = EINVAL;
		}
		goto out;
	}
	if (nheld == 0) { /* nothing held by other steps: this is the place */
		*res = alone;
		rc = 0;
		goto out;
	}
	scratch_free(sn, n);
	if (scratch_build(nodes, n, true, ask->whole, sn, ptr) < 0) {
		select_result_free(&alone);
		goto out;
	}
	if (ops->allocate(&req, ptr, n, res) == 0) {
		select_result_free(&alone);
		rc = 0;
	} else if (errno == EAGAIN && ask->overlap) {
		*res = alone; /* free cores are too few: it shares held ones */
		rc = 0;
	} else {
		err = errno;
		select_result_free(&alone);
	}
out:
	if (sn)
		scratch_free(sn, n);
	free(sn);
	free(ptr);
	if (rc < 0)
		errno = err;
	return rc;
}

/* Records ----------------------------------------------------------------*/

struct step *step_find(const struct job *j, uint32_t id)
{
	for (struct step *s = j->steps; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

static void step_free(struct step *s)
{
	for (uint32_t i = 0; i < s->nalloc; i++)
		job_alloc_release(&s->alloc[i]);
	free(s->alloc);
	free(s->name);
	free(s->reason);
	free(s->reported);
	free(s->worst_reason);
	free(s);
}

void step_free_all(struct job *j)
{
	struct step *next;
	for (struct step *s = j->steps; s; s = next) {
		next = s->next;
		step_free(s);
	}
	j->steps = NULL;
}

/* Insert S into J's list by id, replacing a step of the same id. */
static void step_insert(struct job *j, struct step *s)
{
	struct step **pp = &j->steps;
	while (*pp && (*pp)->id < s->id)
		pp = &(*pp)->next;
	if (*pp && (*pp)->id == s->id) {
		struct step *old = *pp;
		s->next = old->next;
		step_free(old);
	} else {
		s->next = *pp;
	}
	*pp = s;
	if (s->id >= j->next_step_id)
		j->next_step_id = s->id + 1;
}

/* A step from its journal or snapshot fields.  NULL (ENOMEM). */
static struct step *step_new(uint32_t id, const char *name, Pacer__NodeAlloc *const *alloc,
			     size_t nalloc, uint32_t ntasks, int64_t start, bool overlap,
			     uint32_t time_limit)
{
	struct step *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = id;
	s->state = PACER__JOB_STATE__JOB_RUNNING;
	s->name = strdup(name ? name : "");
	s->ntasks = ntasks;
	s->start_time = start;
	s->overlap = overlap;
	s->time_limit = time_limit;
	s->alloc = calloc(nalloc ? nalloc : 1, sizeof(*s->alloc));
	s->reported = calloc(nalloc ? nalloc : 1, sizeof(*s->reported));
	if (!s->name || !s->alloc || !s->reported)
		goto failed;
	for (size_t i = 0; i < nalloc; i++) {
		long idx = node_index(alloc[i]->node);
		if (idx < 0)
			continue; /* a node removed from the config */
		if (job_alloc_from_proto(&s->alloc[s->nalloc], (uint32_t)idx, alloc[i]) < 0)
			goto failed;
		s->nalloc++;
	}
	return s;
failed:
	step_free(s);
	errno = ENOMEM;
	return NULL;
}

static void set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src && *src ? strdup(src) : NULL;
}

void step_apply_start(const Pacer__StepStart *r)
{
	struct job *j = job_find(r->job_id);
	if (!j || j->state != PACER__JOB_STATE__JOB_RUNNING)
		return;
	struct step *s = step_new(r->step_id, r->name, r->alloc, r->n_alloc, r->ntasks,
				  r->start_time, r->overlap, r->time_limit);
	if (!s) {
		log_err("job %u: out of memory recording step %u", j->id, r->step_id);
		return;
	}
	step_insert(j, s);
}

static void step_end(struct step *s, Pacer__JobState st, int exit_code, int sig, int64_t end,
		     const char *reason)
{
	s->state = (uint8_t)st;
	s->exit_code = exit_code;
	s->term_signal = sig;
	s->end_time = end;
	set_str(&s->reason, reason);
}

void step_apply_end(const Pacer__StepEnd *e)
{
	struct job *j = job_find(e->job_id);
	struct step *s = j ? step_find(j, e->step_id) : NULL;
	if (!s || job_state_final(s->state))
		return;
	Pacer__JobState st = job_state_final(e->state) ? e->state : PACER__JOB_STATE__JOB_FAILED;
	step_end(s, st, e->exit_code, e->term_signal, e->end_time, e->reason);
}

static void waiting_fail_job(uint32_t job_id, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int send_signal(const struct step *s, uint32_t job_id, uint32_t k, int sig, bool term);

void step_job_ended(struct job *j, Pacer__JobState state, int64_t end_time)
{
	/* A script that ends while its steps run takes them with it, as a
	 * cancel would; a timeout, a node failure or a memory kill is theirs
	 * too. */
	Pacer__JobState st = state;
	if (st == PACER__JOB_STATE__JOB_COMPLETED || st == PACER__JOB_STATE__JOB_FAILED ||
	    !job_state_final(st))
		st = PACER__JOB_STATE__JOB_CANCELLED;
	for (struct step *s = j->steps; s; s = s->next) {
		if (job_state_final(s->state))
			continue;
		/* Its tasks go too, on every node of it: the job's end was
		 * heard from its first node only.  (On replay no node is linked:
		 * nothing is sent.) */
		for (uint32_t k = 0; k < s->nalloc; k++)
			send_signal(s, j->id, k, SIGTERM, true);
		step_end(s, st, 0, 0, end_time, "the job ended");
	}
	waiting_fail_job(j->id, "job %u ended (%s) before the step could start", j->id,
			 job_state_name(state));
}

void step_job_requeued(struct job *j)
{
	step_free_all(j);
	j->next_step_id = 0;
	waiting_fail_job(j->id, "job %u was requeued before the step could start", j->id);
}

int step_load(struct job *j, Pacer__Step *const *steps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const Pacer__Step *p = steps[i];
		struct step *s = step_new(p->step_id, p->name, p->alloc, p->n_alloc, p->ntasks,
					  p->start_time, p->overlap, p->time_limit);
		if (!s)
			return -1;
		if (job_state_final(p->state))
			step_end(s, p->state, p->exit_code, p->term_signal, p->end_time, p->reason);
		step_insert(j, s);
	}
	return 0;
}

struct step_proto_extra {
	Pacer__NodeAlloc *allocs;
	Pacer__NodeAlloc **allocp;
	struct job_alloc_lists *lists;
	uint32_t n;
	char *nodelist;
};

static void extra_release(struct step_proto_extra *x)
{
	for (uint32_t i = 0; x->lists && i < x->n; i++)
		job_alloc_lists_release(&x->lists[i]);
	free(x->lists);
	free(x->allocs);
	free(x->allocp);
	free(x->nodelist);
	memset(x, 0, sizeof(*x));
}

static char *step_nodelist(const struct step *s)
{
	struct hostlist *hl = hostlist_create();
	for (uint32_t i = 0; hl && i < s->nalloc; i++)
		hostlist_append(hl, node_name_at(s->alloc[i].node));
	char *out = hl ? hostlist_encode_alloc(hl) : NULL;
	hostlist_destroy(hl);
	return out;
}

static int one_proto(const struct job *j, const struct step *s, bool listing, Pacer__Step *p,
		     struct step_proto_extra *x)
{
	pacer__step__init(p);
	memset(x, 0, sizeof(*x));
	p->job_id = j->id;
	p->step_id = s->id;
	p->name = s->name;
	p->state = (Pacer__JobState)s->state;
	p->ntasks = s->ntasks;
	p->start_time = s->start_time;
	p->end_time = s->end_time;
	p->exit_code = s->exit_code;
	p->term_signal = s->term_signal;
	p->reason = s->reason ? s->reason : (char *)"";
	p->overlap = s->overlap;
	p->time_limit = s->time_limit;
	x->allocs = calloc(s->nalloc ? s->nalloc : 1, sizeof(*x->allocs));
	x->allocp = calloc(s->nalloc ? s->nalloc : 1, sizeof(*x->allocp));
	x->lists = calloc(s->nalloc ? s->nalloc : 1, sizeof(*x->lists));
	if (!x->allocs || !x->allocp || !x->lists)
		goto failed;
	for (uint32_t i = 0; i < s->nalloc; i++) {
		if (job_alloc_to_proto(&s->alloc[i], &x->allocs[i], &x->lists[i]) < 0)
			goto failed;
		x->allocp[i] = &x->allocs[i];
		x->n++;
	}
	p->alloc = x->allocp;
	p->n_alloc = s->nalloc;
	if (listing) {
		if (!(x->nodelist = step_nodelist(s)))
			goto failed;
		p->nodelist = x->nodelist;
		p->nnodes = s->nalloc;
		p->uid = j->uid;
		p->user = (char *)j->user->data;
		p->partition = (char *)job_partition_shown(j);
	}
	return 0;
failed:
	extra_release(x);
	errno = ENOMEM;
	return -1;
}

int step_protos_add(const struct job *j, bool all, bool listing, struct step_protos *out)
{
	for (const struct step *s = j->steps; s; s = s->next) {
		if (!all && job_state_final(s->state))
			continue;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 4;
			Pacer__Step *v = realloc(out->v, cap * sizeof(*v));
			if (!v)
				return -1;
			out->v = v;
			Pacer__Step **p = realloc(out->p, cap * sizeof(*p));
			if (!p)
				return -1;
			out->p = p;
			struct step_proto_extra *x = realloc(out->extra, cap * sizeof(*x));
			if (!x)
				return -1;
			out->extra = x;
			out->cap = cap;
			for (size_t i = 0; i < out->n; i++)
				out->p[i] = &out->v[i];
		}
		if (one_proto(j, s, listing, &out->v[out->n], &out->extra[out->n]) < 0)
			return -1;
		out->p[out->n] = &out->v[out->n];
		out->n++;
	}
	return 0;
}

void step_protos_release(struct step_protos *out)
{
	for (size_t i = 0; i < out->n; i++)
		extra_release(&out->extra[i]);
	free(out->v);
	free(out->p);
	free(out->extra);
	memset(out, 0, sizeof(*out));
}

Pacer__JobState step_worse_state(Pacer__JobState a, Pacer__JobState b)
{
	static const Pacer__JobState order[] = {
		PACER__JOB_STATE__JOB_COMPLETED,     PACER__JOB_STATE__JOB_FAILED,
		PACER__JOB_STATE__JOB_CANCELLED,     PACER__JOB_STATE__JOB_TIMEOUT,
		PACER__JOB_STATE__JOB_OUT_OF_MEMORY, PACER__JOB_STATE__JOB_NODE_FAIL,
	};
	int ra = -1, rb = -1;
	for (int i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++) {
		if (order[i] == a)
			ra = i;
		if (order[i] == b)
			rb = i;
	}
	return rb > ra ? b : a;
}

/* Requests ---------------------------------------------------------------*/

enum req_phase { REQ_WAITING, REQ_RECORDING };

struct step_req {
	struct step_req *prev, *next; /* waiting requests, oldest first */
	enum req_phase phase;
	bool dropped;
	uint32_t job_id;
	uint32_t step_id;
	Pacer__StepCreateRequest *req; /* a copy: the message is gone */
	struct step_ask ask;
	struct hostlist *required;
	const char **names;
	step_answer_fn fn;
	void *arg;
};

static struct step_req *whead, *wtail;
static size_t nwaiting;
static bool stopping; /* the controller stops: durable starts launch nothing */

void step_init(void)
{
	stopping = false;
}

size_t step_waiting(void)
{
	return nwaiting;
}

static void wait_add(struct step_req *r)
{
	r->prev = wtail;
	r->next = NULL;
	if (wtail)
		wtail->next = r;
	else
		whead = r;
	wtail = r;
	nwaiting++;
}

static void wait_remove(struct step_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		whead = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		wtail = r->prev;
	r->prev = r->next = NULL;
	nwaiting--;
}

static void req_free(struct step_req *r)
{
	if (r->req)
		pacer__step_create_request__free_unpacked(r->req, NULL);
	hostlist_destroy(r->required);
	free(r->names);
	free(r);
}

static void answer_error(struct step_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void answer_error(struct step_req *r, int code, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	Pacer__Error e = PACER__ERROR__INIT;
	e.code = code;
	e.message = text;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_ERROR;
	m.error = &e;
	if (!r->dropped)
		r->fn(r->arg, &m);
}

static void waiting_fail_job(uint32_t job_id, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	struct step_req *next;
	for (struct step_req *r = whead; r; r = next) {
		next = r->next;
		if (r->job_id != job_id)
			continue;
		wait_remove(r);
		answer_error(r, ESRCH, "%s", text);
		req_free(r);
	}
}

/* A deep copy of a message (what the client sent is freed when its
 * handler returns).  NULL when it cannot be. */
static Pacer__StepCreateRequest *req_copy(const Pacer__StepCreateRequest *q)
{
	size_t len = pacer__step_create_request__get_packed_size(q);
	uint8_t *buf = malloc(len ? len : 1);
	Pacer__StepCreateRequest *c = NULL;
	if (buf) {
		pacer__step_create_request__pack(q, buf);
		c = pacer__step_create_request__unpack(NULL, len, buf);
	}
	free(buf);
	return c;
}

/* The step's request checked against its job, defaults resolved into ASK
 * (and back into the copy's spec, as the nodes get it).  0 or -1 with WHY. */
static int resolve(struct step_req *r, const struct job *j, char *why, size_t whylen)
{
	Pacer__StepSpec *sp = r->req->spec;
	struct step_ask *a = &r->ask;
	if (sp->n_argv == 0 || !sp->argv[0] || !*sp->argv[0]) {
		snprintf(why, whylen,
			 "the step has no command to run (give one after the options)");
		return -1;
	}
	if (sp->n_argv > STEP_ARGV_MAX || sp->n_env > 65536) {
		snprintf(why, whylen,
			 "the step has %zu arguments and %zu environment variables: at most %d "
			 "and 65536",
			 sp->n_argv, sp->n_env, STEP_ARGV_MAX);
		return -1;
	}
	if (sp->io_key.len != 32 || !sp->io_host || !*sp->io_host || sp->io_port == 0 ||
	    sp->io_port > 65535) {
		snprintf(why, whylen,
			 "the step request lacks where its output goes (io_host, io_port and a "
			 "32-byte io_key): use pacer run");
		return -1;
	}
	if (*sp->mpi && strcmp(sp->mpi, "pmix") != 0 && strcmp(sp->mpi, "none") != 0) {
		snprintf(why, whylen, "--mpi=%.32s is not supported (use pmix or none)", sp->mpi);
		return -1;
	}
	if (strlen(sp->nodelist) > STEP_STRING_MAX || strlen(sp->distribution) > 64 ||
	    strlen(sp->cpu_bind) > STEP_STRING_MAX || strlen(sp->name) > 1024) {
		snprintf(why, whylen,
			 "the step's --nodelist, --distribution, --cpu-bind or name "
			 "is too long");
		return -1;
	}
	if (sp->exclusive && sp->overlap) {
		snprintf(why, whylen, "--exclusive and --overlap exclude each other (give one)");
		return -1;
	}
	if (job_parse_distribution(sp->distribution, &a->dist_node, &a->dist_socket) < 0) {
		snprintf(why, whylen,
			 "--distribution=%s is not block or cyclic, or block:cyclic and the like",
			 sp->distribution);
		return -1;
	}
	a->job_id = j->id;
	a->threads = j->threads;
	a->overlap = sp->overlap;
	a->whole = sp->whole;
	a->cpus_per_task = sp->cpus_per_task ? sp->cpus_per_task : j->cpus_per_task;
	if (a->cpus_per_task == 0)
		a->cpus_per_task = 1;
	if (*sp->nodelist) {
		r->required = hostlist_decode(sp->nodelist);
		if (!r->required) {
			snprintf(why, whylen, "--nodelist=%s is not a host list (n[1-4],gpu1)",
				 sp->nodelist);
			return -1;
		}
		size_t c = hostlist_count(r->required);
		if (c > j->nalloc) {
			snprintf(why, whylen, "--nodelist names %zu nodes but job %u has %u", c,
				 j->id, j->nalloc);
			return -1;
		}
		r->names = calloc(c + 1, sizeof(*r->names));
		if (!r->names) {
			snprintf(why, whylen, "the controller is out of memory");
			return -1;
		}
		for (size_t i = 0; i < c; i++) {
			const char *nm = hostlist_nth(r->required, i);
			bool in = false;
			for (uint32_t k = 0; k < j->nalloc && !in; k++)
				in = strcmp(node_name_at(j->alloc[k].node), nm) == 0;
			if (!in) {
				char *jl = NULL;
				struct hostlist *hl = hostlist_create();
				for (uint32_t k = 0; hl && k < j->nalloc; k++)
					hostlist_append(hl, node_name_at(j->alloc[k].node));
				jl = hl ? hostlist_encode_alloc(hl) : NULL;
				hostlist_destroy(hl);
				snprintf(why, whylen,
					 "node %s of --nodelist is not one of job %u's nodes (%s)",
					 nm, j->id, jl ? jl : "?");
				free(jl);
				return -1;
			}
			r->names[i] = nm;
		}
		a->required = r->names;
		a->nrequired = c;
	}
	a->nodes = sp->nodes;
	if (sp->ntasks)
		a->ntasks = sp->ntasks;
	else if (sp->nodes)
		a->ntasks = sp->nodes; /* -N alone: one task a node */
	else
		a->ntasks = j->ntasks ? j->ntasks : 1;
	if (!sp->nodes && !sp->ntasks && !*sp->nodelist)
		a->nodes = j->nalloc; /* nothing said: the whole job, as srun */
	if (a->nodes > j->nalloc) {
		snprintf(why, whylen, "the step asks for %u nodes (-N) but job %u has %u", a->nodes,
			 j->id, j->nalloc);
		return -1;
	}
	if (a->nodes > a->ntasks) {
		snprintf(why, whylen,
			 "the step asks for %u nodes but only %u task%s, and each node needs a "
			 "task (raise -n or lower -N)",
			 a->nodes, a->ntasks, strfmt_s(a->ntasks));
		return -1;
	}
	if (a->nrequired > a->ntasks || (a->nodes && a->nrequired > a->nodes)) {
		snprintf(why, whylen,
			 "--nodelist names %zu nodes but the step has %u task%s on %u node%s",
			 a->nrequired, a->ntasks, strfmt_s(a->ntasks),
			 a->nodes ? a->nodes : a->ntasks,
			 strfmt_s(a->nodes ? a->nodes : a->ntasks));
		return -1;
	}
	sp->ntasks = a->ntasks;
	sp->cpus_per_task = a->cpus_per_task;
	sp->nodes = a->nodes;
	if (!*sp->name) {
		const char *base = strrchr(sp->argv[0], '/');
		char *nm = strdup(base && base[1] ? base + 1 : sp->argv[0]);
		if (!nm) {
			snprintf(why, whylen, "the controller is out of memory");
			return -1;
		}
		/* An empty string unpacks as protobuf-c's shared constant. */
		if (sp->name != protobuf_c_empty_string)
			free(sp->name);
		sp->name = nm;
	}
	return 0;
}

/* J's nodes as step_place sees them: the job's PUs and the held ones.  The
 * arrays are the caller's to free with nodes_free. */
static struct step_node *nodes_of(const struct job *j)
{
	struct step_node *v = calloc(j->nalloc ? j->nalloc : 1, sizeof(*v));
	if (!v)
		return NULL;
	for (uint32_t i = 0; i < j->nalloc; i++) {
		const struct job_alloc *a = &j->alloc[i];
		const struct node *n = node_at(a->node);
		v[i].name = node_name_at(a->node);
		if (!n || !n->res.layout)
			continue;
		uint32_t *pus = NULL, *held = NULL;
		size_t np = 0, nh = 0;
		if (node_cpuset_pus(n, a->cpuset->data, &pus, &np) < 0)
			continue; /* the node shrank under the job: nothing fits there now */
		for (const struct step *s = j->steps; s; s = s->next) {
			if (s->overlap || job_state_final(s->state))
				continue;
			for (uint32_t k = 0; k < s->nalloc; k++) {
				uint32_t *sp;
				size_t ns;
				if (s->alloc[k].node != a->node ||
				    node_cpuset_pus(n, s->alloc[k].cpuset->data, &sp, &ns) < 0)
					continue;
				uint32_t *nv = realloc(held, (nh + ns + 1) * sizeof(*nv));
				if (nv) {
					held = nv;
					memcpy(held + nh, sp, ns * sizeof(*sp));
					nh += ns;
				}
				free(sp);
			}
		}
		v[i].layout = n->res.layout;
		v[i].job_pus = pus;
		v[i].njob = np;
		v[i].held_pus = held;
		v[i].nheld = nh;
	}
	return v;
}

static void nodes_free(struct step_node *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free((void *)v[i].job_pus);
		free((void *)v[i].held_pus);
	}
	free(v);
}

/* The os-index list of PUS on L, malloc'd. */
static char *pus_str(const struct topo_layout *l, const uint32_t *pus, size_t n)
{
	int len = topo_pus_format(l, pus, n, NULL, 0);
	char *s = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (s)
		topo_pus_format(l, pus, n, s, (size_t)len + 1);
	return s;
}

static void started_durable(void *arg);

/* Record the start of R's step on RES over NODES; launch once durable.
 * 0, or -1 with WHY. */
static int start(struct step_req *r, struct job *j, const struct step_node *nodes,
		 const struct select_result *res, char *why, size_t whylen)
{
	size_t na = res->n, ntc = 0;
	for (size_t i = 0; i < na; i++)
		ntc += res->allocs[i].ntasks;
	Pacer__NodeAlloc *allocs = calloc(na ? na : 1, sizeof(*allocs));
	Pacer__NodeAlloc **allocp = calloc(na ? na : 1, sizeof(*allocp));
	char **sets = calloc(na ? na : 1, sizeof(*sets));
	char **tcs = calloc(ntc ? ntc : 1, sizeof(*tcs));
	size_t tc = 0;
	int rc = -1;
	if (!allocs || !allocp || !sets || !tcs)
		goto nomem;
	for (size_t i = 0; i < na; i++) {
		const struct select_alloc *a = &res->allocs[i];
		const struct topo_layout *l = nodes[a->node].layout;
		Pacer__NodeAlloc *p = &allocs[i];
		pacer__node_alloc__init(p);
		const struct step_node *sn = &nodes[a->node];
		p->node = (char *)sn->name;
		p->cpus = r->ask.whole ? (uint32_t)sn->njob : a->npus;
		sets[i] =
		    r->ask.whole ? pus_str(l, sn->job_pus, sn->njob) : pus_str(l, a->pus, a->npus);
		if (!sets[i])
			goto nomem;
		p->cpuset = sets[i];
		p->task_cpus = tcs + tc;
		for (uint32_t k = 0; k < a->ntasks; k++) {
			/* --whole: each task gets the job's PUs here, as the
			 * step's cgroup does (an orted binds its ranks inside). */
			tcs[tc++] = r->ask.whole ? strdup(sets[i])
						 : pus_str(l, a->pus + a->task_off[k],
							   a->task_off[k + 1] - a->task_off[k]);
			if (!tcs[tc - 1])
				goto nomem;
			p->n_task_cpus++;
		}
		p->task_ids = a->task_ids;
		p->n_task_ids = a->ntasks;
		allocp[i] = p;
	}
	Pacer__StepStart s = PACER__STEP_START__INIT;
	s.job_id = j->id;
	s.step_id = j->next_step_id;
	s.name = r->req->spec->name;
	s.alloc = allocp;
	s.n_alloc = na;
	s.ntasks = r->ask.ntasks;
	s.start_time = ctld_now();
	s.overlap = r->ask.overlap;
	s.time_limit = r->req->spec->time_limit;
	Pacer__JournalRecord rec = PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_STEP_START;
	rec.step_start = &s;
	uint64_t t = state_commit(&rec);
	if (!t) {
		snprintf(why, whylen, "the controller cannot record the step: %s", strerror(errno));
		goto out;
	}
	r->step_id = s.step_id;
	r->phase = REQ_RECORDING;
	struct step *started = step_find(j, s.step_id);
	if (started)
		started->launch_pending = true;
	log_info("step %u.%u (%s) started: %u task%s on %zu node%s%s", j->id, s.step_id, s.name,
		 s.ntasks, strfmt_s(s.ntasks), na, strfmt_s(na), s.overlap ? ", overlapping" : "");
	if (state_after(t, started_durable, r) < 0) {
		snprintf(why, whylen, "the controller is out of memory");
		goto out;
	}
	rc = 0;
	goto out;
nomem:
	snprintf(why, whylen, "the controller is out of memory");
out:
	for (size_t i = 0; sets && i < na; i++)
		free(sets[i]);
	for (size_t i = 0; tcs && i < tc; i++)
		free(tcs[i]);
	free(sets);
	free(tcs);
	free(allocs);
	free(allocp);
	return rc;
}

/* Try to place R now: 0 started (its start being recorded), 1 must wait,
 * -1 refused (WHY, *CODE). */
static int try_start(struct step_req *r, struct job *j, int *code, char *why, size_t whylen)
{
	struct step_node *nodes = nodes_of(j);
	struct select_result res = { 0 };
	int rc;
	if (!nodes) {
		*code = ENOMEM;
		snprintf(why, whylen, "the controller is out of memory");
		return -1;
	}
	if (step_place(ctld.select, &r->ask, nodes, j->nalloc, &res, why, whylen) < 0) {
		*code = errno;
		if (errno == EAGAIN) {
			rc = 1;
		} else {
			if (errno != EINVAL)
				snprintf(why, whylen, "the controller is out of memory");
			rc = -1;
		}
	} else if (start(r, j, nodes, &res, why, whylen) < 0) {
		*code = EIO;
		rc = -1;
	} else {
		rc = 0;
	}
	select_result_free(&res);
	nodes_free(nodes, j->nalloc);
	return rc;
}

struct step_req *step_request(const Pacer__StepCreateRequest *q, uid_t uid, bool admin,
			      step_answer_fn fn, void *arg, int *code, char *why, size_t whylen)
{
	struct job *j = job_find(q->job_id);
	*code = EINVAL;
	if (!q->spec) {
		snprintf(why, whylen, "step request without a step description");
		return NULL;
	}
	if (!j || j->unrecorded) {
		*code = ENOENT;
		snprintf(why, whylen, "job %u does not exist", q->job_id);
		return NULL;
	}
	if (!admin && j->uid != uid) {
		*code = EPERM;
		snprintf(why, whylen, "job %u belongs to %s, not to you", j->id, j->user->data);
		return NULL;
	}
	if (j->state != PACER__JOB_STATE__JOB_RUNNING || j->cancel_requested) {
		*code = ESRCH;
		snprintf(why, whylen, "job %u is %s: steps run only inside a running job", j->id,
			 j->cancel_requested && j->state == PACER__JOB_STATE__JOB_RUNNING
			     ? "being cancelled"
			     : job_state_name(j->state));
		return NULL;
	}
	struct step_req *r = calloc(1, sizeof(*r));
	if (!r || !(r->req = req_copy(q)) || !r->req->spec) {
		if (r)
			req_free(r);
		*code = ENOMEM;
		snprintf(why, whylen,
			 "the controller is out of memory (or the request is "
			 "malformed)");
		return NULL;
	}
	r->job_id = j->id;
	r->fn = fn;
	r->arg = arg;
	if (resolve(r, j, why, whylen) < 0) {
		req_free(r);
		return NULL;
	}
	/* A job whose start is still being recorded is RUNNING to its user
	 * already: its steps wait for the launch (sched.c retries them). */
	int rc = j->launch_pending ? 1 : try_start(r, j, code, why, whylen);
	if (rc < 0) {
		req_free(r);
		return NULL;
	}
	if (rc == 1) {
		r->phase = REQ_WAITING;
		wait_add(r);
		if (!j->launch_pending)
			log_info("job %u: a step of %u task%s waits for cores other steps hold",
				 j->id, r->ask.ntasks, strfmt_s(r->ask.ntasks));
	}
	return r;
}

void step_request_drop(struct step_req *r)
{
	if (r->phase == REQ_WAITING) {
		log_info("job %u: a waiting step was dropped: its pacer run went away", r->job_id);
		wait_remove(r);
		req_free(r);
		return;
	}
	r->dropped = true; /* started_durable ends it */
}

void step_retry(struct job *j)
{
	struct step_req *next;
	for (struct step_req *r = whead; r; r = next) {
		next = r->next;
		if (r->job_id != j->id)
			continue;
		char why[1024];
		int code;
		/* Starting one changes only its own place on the list. */
		int rc = try_start(r, j, &code, why, sizeof(why));
		if (rc == 1)
			continue;
		wait_remove(r);
		if (rc < 0) {
			answer_error(r, code, "%s", why);
			req_free(r);
		}
	}
}

/* Commit the end of S of J. */
static uint64_t commit_end(struct job *j, struct step *s, Pacer__JobState st, int exit_code,
			   int sig, int64_t end, const char *reason)
{
	Pacer__StepEnd e = PACER__STEP_END__INIT;
	e.job_id = j->id;
	e.step_id = s->id;
	e.state = st;
	e.exit_code = exit_code;
	e.term_signal = sig;
	e.end_time = end;
	e.reason = (char *)(reason ? reason : "");
	Pacer__JournalRecord rec = PACER__JOURNAL_RECORD__INIT;
	rec.op_case = PACER__JOURNAL_RECORD__OP_STEP_END;
	rec.step_end = &e;
	uint64_t t = state_commit(&rec);
	if (t)
		log_info("step %u.%u %s (exit %d%s%s)", j->id, s->id, job_state_name(st), exit_code,
			 sig ? ", signal " : "", sig ? strsignal(sig) : "");
	else
		log_err("step %u.%u: its end cannot be recorded: %s", j->id, s->id,
			strerror(errno));
	return t;
}

static int send_signal(const struct step *s, uint32_t job_id, uint32_t k, int sig, bool term)
{
	Pacer__SignalStep g = PACER__SIGNAL_STEP__INIT;
	g.job_id = job_id;
	g.step_id = s->id;
	g.signal = sig;
	g.terminate = term;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_SIGNAL_STEP;
	m.signal_step = &g;
	return node_send(s->alloc[k].node, &m);
}

/* LaunchStep for node K of S. */
static int launch_on(const struct job *j, const struct step *s, const Pacer__StepCreateRequest *q,
		     uint32_t k, Pacer__NodeAlloc *const *allocp, Pacer__StepNode *const *layp)
{
	Pacer__LaunchStep l = PACER__LAUNCH_STEP__INIT;
	Pacer__StepSpec *sp = q->spec;
	l.job_id = j->id;
	l.step_id = s->id;
	l.spec = sp;
	l.alloc = allocp[k];
	l.layout = (Pacer__StepNode **)layp;
	l.n_layout = s->nalloc;
	l.nnodes = s->nalloc;
	l.ntasks = s->ntasks;
	l.uid = j->uid;
	l.gid = j->gid;
	l.user = (char *)j->user->data;
	l.kill_wait = ctld.conf->kill_wait;
	l.io_host = sp->io_host;
	l.io_port = sp->io_port;
	l.io_key = sp->io_key;
	l.node_index = k;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_LAUNCH_STEP;
	m.launch_step = &l;
	return node_send(s->alloc[k].node, &m);
}

/* The step's start is on disk: launch it on its nodes and answer. */
static void started_durable(void *arg)
{
	struct step_req *r = arg;
	if (stopping) {
		/* Its start is on disk and its nodes never heard of it: the next
		 * controller's job end, or the step's cancel, ends it. */
		req_free(r);
		return;
	}
	struct job *j = job_find(r->job_id);
	struct step *s = j ? step_find(j, r->step_id) : NULL;
	if (!s || s->state != PACER__JOB_STATE__JOB_RUNNING) {
		answer_error(r, ESRCH,
			     "step %u.%u ended (its job ended, or it was cancelled) "
			     "before it could be launched",
			     r->job_id, r->step_id);
		req_free(r);
		return;
	}
	s->launch_pending = false;
	if (r->dropped || s->cancel_requested) {
		commit_end(j, s, PACER__JOB_STATE__JOB_CANCELLED, 0, 0, ctld_now(),
			   r->dropped ? "pacer run went away before the step started"
				      : "cancelled before it started");
		answer_error(r, ECANCELED, "step %u.%u was cancelled before it started", j->id,
			     s->id);
		req_free(r);
		step_retry(j);
		return;
	}
	struct step_proto_extra x;
	Pacer__Step ps;
	Pacer__StepNode *lay = calloc(s->nalloc ? s->nalloc : 1, sizeof(*lay));
	Pacer__StepNode **layp = calloc(s->nalloc ? s->nalloc : 1, sizeof(*layp));
	if (!lay || !layp || one_proto(j, s, false, &ps, &x) < 0) {
		free(lay);
		free(layp);
		commit_end(j, s, PACER__JOB_STATE__JOB_FAILED, 0, 0, ctld_now(),
			   "the controller ran out of memory launching it");
		answer_error(r, ENOMEM, "the controller ran out of memory launching step %u.%u",
			     j->id, s->id);
		req_free(r);
		step_retry(j);
		return;
	}
	for (uint32_t k = 0; k < s->nalloc; k++) {
		pacer__step_node__init(&lay[k]);
		lay[k].node = (char *)node_name_at(s->alloc[k].node);
		lay[k].address = ctld.conf->nodes[s->alloc[k].node].address;
		lay[k].task_ids = x.allocs[k].task_ids;
		lay[k].n_task_ids = x.allocs[k].n_task_ids;
		layp[k] = &lay[k];
	}
	uint32_t failed = UINT32_MAX;
	for (uint32_t k = 0; k < s->nalloc && failed == UINT32_MAX; k++)
		if (launch_on(j, s, r->req, k, x.allocp, layp) < 0)
			failed = k;
	if (failed != UINT32_MAX) {
		const char *nm = node_name_at(s->alloc[failed].node);
		char reason[256];
		snprintf(reason, sizeof(reason), "node %s could not be reached to launch it", nm);
		for (uint32_t k = 0; k < failed; k++)
			send_signal(s, j->id, k, SIGKILL, true);
		commit_end(j, s, PACER__JOB_STATE__JOB_FAILED, 0, 0, ctld_now(), reason);
		answer_error(r, EHOSTUNREACH, "step %u.%u could not start: %s (try again later)",
			     j->id, s->id, reason);
	} else {
		Pacer__StepCreateReply rep = PACER__STEP_CREATE_REPLY__INIT;
		rep.job_id = j->id;
		rep.step_id = s->id;
		rep.alloc = x.allocp;
		rep.n_alloc = s->nalloc;
		rep.ntasks = s->ntasks;
		rep.nnodes = s->nalloc;
		Pacer__Msg m = PACER__MSG__INIT;
		m.body_case = PACER__MSG__BODY_STEP_CREATE_REPLY;
		m.step_create_reply = &rep;
		r->fn(r->arg, &m);
	}
	extra_release(&x);
	free(lay);
	free(layp);
	req_free(r);
	if (failed != UINT32_MAX)
		step_retry(j);
}

int step_cancel(struct job *j, uint32_t id, int sig, char *why, size_t whylen)
{
	struct step *s = step_find(j, id);
	if (!s) {
		snprintf(why, whylen, "step %u.%u does not exist", j->id, id);
		errno = ENOENT;
		return -1;
	}
	if (job_state_final(s->state)) {
		snprintf(why, whylen, "step %u.%u has already finished (%s)", j->id, id,
			 job_state_name(s->state));
		errno = EALREADY;
		return -1;
	}
	if (s->launch_pending) {
		/* Its nodes have not heard of it yet: it ends once its start is
		 * on disk, without being launched. */
		if (sig) {
			snprintf(why, whylen, "step %u.%u is starting: nothing to signal yet",
				 j->id, id);
			errno = ESRCH;
			return -1;
		}
		s->cancel_requested = true;
		return 0;
	}
	if (!sig)
		s->cancel_requested = true;
	uint32_t sent = 0;
	for (uint32_t k = 0; k < s->nalloc; k++)
		sent += send_signal(s, j->id, k, sig ? sig : SIGTERM, sig == 0) == 0;
	if (sent == 0 && s->nalloc) {
		snprintf(why, whylen,
			 "step %u.%u runs on %s, which cannot be reached now (try again later)",
			 j->id, id, node_name_at(s->alloc[0].node));
		errno = EHOSTUNREACH;
		return -1;
	}
	return 0;
}

/* Acknowledging nodes ------------------------------------------------------*/

static void send_ack(uint32_t node, uint32_t job_id, uint32_t step_id)
{
	Pacer__JobEndedAck a = PACER__JOB_ENDED_ACK__INIT;
	a.job_id = job_id;
	a.step_id = step_id;
	a.has_step = true;
	Pacer__Msg m = PACER__MSG__INIT;
	m.body_case = PACER__MSG__BODY_JOB_ENDED_ACK;
	m.job_ended_ack = &a;
	node_send(node, &m);
}

struct acks {
	uint32_t job_id, step_id;
	size_t n;
	uint32_t nodes[];
};

/* The step's end is on disk: its nodes may forget it.  A node whose link
 * went meanwhile reports it again and is acknowledged then. */
static void ack_durable(void *arg)
{
	struct acks *a = arg;
	for (size_t i = 0; i < a->n; i++)
		send_ack(a->nodes[i], a->job_id, a->step_id);
	free(a);
}

void step_node_ended(uint32_t node, const Pacer__StepEnded *e)
{
	struct job *j = job_find(e->job_id);
	struct step *s = j ? step_find(j, e->step_id) : NULL;
	if (!s || job_state_final(s->state)) {
		/* Already recorded (a repeat after a lost ack), or long forgotten. */
		send_ack(node, e->job_id, e->step_id);
		return;
	}
	uint32_t k;
	for (k = 0; k < s->nalloc; k++)
		if (s->alloc[k].node == node)
			break;
	if (k == s->nalloc) {
		log_warn("node %s reports the end of step %u.%u, which does not run there",
			 node_name_at(node), e->job_id, e->step_id);
		send_ack(node, e->job_id, e->step_id);
		return;
	}
	Pacer__JobState st = job_state_final(e->state) ? e->state : PACER__JOB_STATE__JOB_FAILED;
	if (!s->reported[k]) {
		s->reported[k] = true;
		s->nreported++;
		Pacer__JobState before = s->nreported == 1 ? PACER__JOB_STATE__JOB_COMPLETED
							   : (Pacer__JobState)s->worst_state;
		Pacer__JobState w = step_worse_state(before, st);
		if (s->aborted) {
			w = PACER__JOB_STATE__JOB_FAILED; /* the abort is the cause */
		} else if (e->aborted) {
			/* The other nodes were ended because of it: their CANCELLED
			 * is a consequence. */
			s->aborted = true;
			w = PACER__JOB_STATE__JOB_FAILED;
			set_str(&s->worst_reason, *e->reason ? e->reason : NULL);
		} else if (s->nreported == 1 || (w != before && *e->reason) || !s->worst_reason) {
			set_str(&s->worst_reason, *e->reason ? e->reason : NULL);
		}
		s->worst_state = (uint8_t)w;
		if (s->nreported == 1 || e->exit_code > s->worst_exit)
			s->worst_exit = e->exit_code;
		if (!s->worst_signal)
			s->worst_signal = e->term_signal;
		if (e->end_time > s->last_end)
			s->last_end = e->end_time;
		if (e->aborted)
			log_info("step %u.%u: rank %u aborted on %s", j->id, s->id, e->aborted_rank,
				 node_name_at(node));
	}
	if (s->nreported < s->nalloc)
		return; /* acknowledged once the whole step's end is on disk */
	Pacer__JobState fin = (Pacer__JobState)s->worst_state;
	if (s->cancel_requested &&
	    (fin == PACER__JOB_STATE__JOB_COMPLETED || fin == PACER__JOB_STATE__JOB_FAILED))
		fin = PACER__JOB_STATE__JOB_CANCELLED;
	struct acks *a = malloc(sizeof(*a) + s->nalloc * sizeof(a->nodes[0]));
	if (a) {
		a->job_id = j->id;
		a->step_id = s->id;
		a->n = s->nalloc;
		for (uint32_t i = 0; i < s->nalloc; i++)
			a->nodes[i] = s->alloc[i].node;
	}
	char reason[256];
	snprintf(reason, sizeof(reason), "%s", s->worst_reason ? s->worst_reason : "");
	uint64_t t = commit_end(j, s, fin, s->worst_exit, s->worst_signal,
				s->last_end ? s->last_end : ctld_now(), reason);
	if (t && a && state_after(t, ack_durable, a) == 0)
		a = NULL;
	free(a);
	step_retry(j);
}

void step_shutdown(void)
{
	stopping = true;
	while (whead) {
		struct step_req *r = whead;
		wait_remove(r);
		req_free(r);
	}
}
