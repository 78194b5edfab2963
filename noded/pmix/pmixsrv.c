/* pmixsrv.c - the PMIx server module of a node's job supervisor (pmixsrv.h). */
#include "pmixsrv.h"

#include <errno.h>
#include <event2/event.h>
#include <ftw.h>
#include <limits.h>
#include <pmix.h>
#include <pmix_server.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a registration may wait for PMIx's progress thread before we call
 * PMIx broken; it is local work that takes milliseconds. */
#define PMIX_WAIT_SECONDS 30

/* Longest TMPDIR: PMIx puts socket and rendezvous paths below it. */
#define TMPDIR_MAX 200

struct pmixsrv_fence {
	struct pmixsrv *ps;
	pmix_modex_cbfunc_t cbfunc;
	void *cbdata;
	char nspace[PMIX_MAX_NSLEN + 1];
	char *data;
	size_t len;
	uint32_t seq;
	struct pmixsrv_fence *next; /* on ps->open, loop thread only */
};

/* A direct modex request of a local rank, until pmixsrv_dmodex_done. */
struct pmixsrv_dmodex {
	struct pmixsrv *ps;
	pmix_modex_cbfunc_t cbfunc;
	void *cbdata;
	char nspace[PMIX_MAX_NSLEN + 1];
	uint32_t rank;
	struct pmixsrv_dmodex *next; /* on ps->open_dmodex, loop thread only */
};

/* A request served for another node, until PMIx answers it. */
struct serve {
	struct serve *prev, *next; /* on ps->serves, under mu */
	struct pmixsrv *ps;
	pmixsrv_serve_fn *done;
	void *arg;
};

enum upcall_kind { UP_FENCE, UP_ABORT, UP_DMODEX, UP_SERVED };

struct upcall {
	struct upcall *next;
	enum upcall_kind kind;
	struct pmixsrv_fence *fence;
	struct pmixsrv_dmodex *dmodex;
	/* UP_SERVED: the answer (status, msg and len) for serve */
	struct serve *serve;
	size_t len;
	/* UP_ABORT */
	char nspace[PMIX_MAX_NSLEN + 1];
	uint32_t rank;
	int status;
	char *msg;
	pmix_op_cbfunc_t opcb;
	void *opcbdata;
};

/* A concatenation handed to PMIx, freed when PMIx releases it (its release
 * callback), or at destroy if PMIx stopped before releasing it. */
struct gift {
	struct gift *prev, *next;
	size_t len;
	char bytes[];
};

struct pmixsrv {
	struct event_base *base;
	struct event *ev;
	int efd;
	struct pmixsrv_ops ops;
	void *arg;
	char tmpdir[TMPDIR_MAX + 1];

	/* Shared with PMIx's thread, under mu. */
	pthread_mutex_t mu;
	struct upcall *qhead, *qtail;
	struct gift gifts;                 /* list head */
	struct serve serves;               /* list head */
	char q_nspace[PMIX_MAX_NSLEN + 1]; /* the registered step, "" if none */
	uint32_t q_ntasks;

	/* Loop thread only. */
	bool registered;
	char nspace[PMIX_MAX_NSLEN + 1];
	char stepdir[PATH_MAX];
	uint32_t ntasks;
	uid_t uid;
	gid_t gid;
	uint32_t nlocal;
	uint32_t *local;   /* [nlocal] this node's ranks */
	bool *client_done; /* [nlocal] registered with PMIx */
	uint32_t fence_seq;
	uint32_t *node_of;                  /* [ntasks] the node of each rank */
	struct pmixsrv_fence *open;         /* given to ops->fence, not done yet */
	struct pmixsrv_dmodex *open_dmodex; /* given to ops->dmodex, not done yet */
};

/* PMIx's server module has no user pointer: one server per process. */
static struct pmixsrv *the_ps;

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- waiting for PMIx's thread ------------------------------------------ */

/* A completion PMIx calls on its thread.  Shared by the waiter and the
 * callback, freed by whichever lets go last, so a waiter that timed out
 * leaves nothing the late callback could touch after it is freed. */
struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done;
	pmix_status_t status;
	pmix_info_t *info; /* owned: PMIx reads it until the callback */
	size_t ninfo;
};

static struct waiter *waiter_new(void)
{
	struct waiter *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;

	if (w == NULL) {
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	w->refs = 2;
	return w;
}

static void waiter_put(struct waiter *w)
{
	bool last;

	pthread_mutex_lock(&w->mu);
	last = --w->refs == 0;
	pthread_mutex_unlock(&w->mu);
	if (!last) {
		return;
	}
	if (w->info != NULL) {
		PMIX_INFO_FREE(w->info, w->ninfo);
	}
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

static void waiter_cb(pmix_status_t status, void *cbdata)
{
	struct waiter *w = cbdata;

	pthread_mutex_lock(&w->mu);
	w->status = status;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	waiter_put(w);
}

/* Wait for W's callback; the PMIx status, or PMIX_ERR_TIMEOUT.  Drops the
 * waiter's reference. */
static pmix_status_t waiter_wait(struct waiter *w)
{
	struct timespec until;
	pmix_status_t st;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += PMIX_WAIT_SECONDS;
	pthread_mutex_lock(&w->mu);
	while (!w->done && rc != ETIMEDOUT) {
		rc = pthread_cond_timedwait(&w->cv, &w->mu, &until);
	}
	st = w->done ? w->status : PMIX_ERR_TIMEOUT;
	pthread_mutex_unlock(&w->mu);
	waiter_put(w);
	return st;
}

/* ---- upcalls, on PMIx's thread ------------------------------------------ */

static void enqueue(struct pmixsrv *ps, struct upcall *u)
{
	uint64_t one = 1;
	ssize_t n;

	pthread_mutex_lock(&ps->mu);
	if (ps->qtail != NULL) {
		ps->qtail->next = u;
	} else {
		ps->qhead = u;
	}
	ps->qtail = u;
	pthread_mutex_unlock(&ps->mu);
	/* The counter cannot overflow in practice; a failed write would only
	 * mean the loop is woken by the next upcall. */
	n = write(ps->efd, &one, sizeof(one));
	(void)n;
}

/* Does PROCS name every rank of the registered step?  A fence over part of
 * a step (MPI_Comm_connect and friends) would need every node to know who
 * takes part; the host's fence gathers from all nodes, so only whole-step
 * fences are accepted. */
static bool whole_step(struct pmixsrv *ps, const pmix_proc_t procs[], size_t nprocs, char *nspace)
{
	bool ok = false;

	pthread_mutex_lock(&ps->mu);
	if (ps->q_nspace[0] != '\0' && nprocs > 0) {
		if (nprocs == 1 && procs[0].rank == PMIX_RANK_WILDCARD &&
		    PMIX_CHECK_NSPACE(procs[0].nspace, ps->q_nspace)) {
			ok = true;
		} else if (nprocs == ps->q_ntasks) {
			/* every rank once: the ranks are < ntasks and distinct */
			bool *seen = calloc(nprocs, sizeof(*seen));

			ok = seen != NULL;
			for (size_t i = 0; ok && i < nprocs; i++) {
				ok = PMIX_CHECK_NSPACE(procs[i].nspace, ps->q_nspace) &&
				     procs[i].rank < nprocs && !seen[procs[i].rank];
				if (ok) {
					seen[procs[i].rank] = true;
				}
			}
			free(seen);
		}
	}
	if (ok) {
		memcpy(nspace, ps->q_nspace, sizeof(ps->q_nspace));
	}
	pthread_mutex_unlock(&ps->mu);
	return ok;
}

static pmix_status_t up_fence(const pmix_proc_t procs[], size_t nprocs, const pmix_info_t info[],
			      size_t ninfo, char *data, size_t ndata, pmix_modex_cbfunc_t cbfunc,
			      void *cbdata)
{
	struct pmixsrv *ps = the_ps;
	struct pmixsrv_fence *f;
	struct upcall *u;

	(void)info;
	(void)ninfo;
	if (ps == NULL) {
		return PMIX_ERR_INIT;
	}
	f = calloc(1, sizeof(*f));
	u = calloc(1, sizeof(*u));
	if (f == NULL || u == NULL) {
		free(f);
		free(u);
		return PMIX_ERR_NOMEM;
	}
	if (!whole_step(ps, procs, nprocs, f->nspace)) {
		free(f);
		free(u);
		return PMIX_ERR_NOT_SUPPORTED;
	}
	/* PMIx owns DATA only until we return. */
	if (ndata > 0) {
		f->data = malloc(ndata);
		if (f->data == NULL) {
			free(f);
			free(u);
			return PMIX_ERR_NOMEM;
		}
		memcpy(f->data, data, ndata);
	}
	f->len = ndata;
	f->ps = ps;
	f->cbfunc = cbfunc;
	f->cbdata = cbdata;
	u->kind = UP_FENCE;
	u->fence = f;
	enqueue(ps, u);
	return PMIX_SUCCESS;
}

static pmix_status_t up_abort(const pmix_proc_t *proc, void *server_object, int status,
			      const char msg[], pmix_proc_t procs[], size_t nprocs,
			      pmix_op_cbfunc_t cbfunc, void *cbdata)
{
	struct pmixsrv *ps = the_ps;
	struct upcall *u;

	(void)server_object;
	(void)procs;
	(void)nprocs;
	if (ps == NULL) {
		return PMIX_ERR_INIT;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		return PMIX_ERR_NOMEM;
	}
	u->msg = strdup(msg != NULL ? msg : "");
	if (u->msg == NULL) {
		free(u);
		return PMIX_ERR_NOMEM;
	}
	u->kind = UP_ABORT;
	PMIX_LOAD_NSPACE(u->nspace, proc->nspace);
	u->rank = proc->rank;
	u->status = status;
	u->opcb = cbfunc;
	u->opcbdata = cbdata;
	enqueue(ps, u);
	return PMIX_SUCCESS;
}

static pmix_status_t up_dmodex(const pmix_proc_t *proc, const pmix_info_t info[], size_t ninfo,
			       pmix_modex_cbfunc_t cbfunc, void *cbdata)
{
	struct pmixsrv *ps = the_ps;
	struct pmixsrv_dmodex *d;
	struct upcall *u;

	(void)info;
	(void)ninfo;
	if (ps == NULL) {
		return PMIX_ERR_INIT;
	}
	if (ps->ops.dmodex == NULL) {
		return PMIX_ERR_NOT_SUPPORTED;
	}
	d = calloc(1, sizeof(*d));
	u = calloc(1, sizeof(*u));
	if (d == NULL || u == NULL) {
		free(d);
		free(u);
		return PMIX_ERR_NOMEM;
	}
	PMIX_LOAD_NSPACE(d->nspace, proc->nspace);
	d->rank = proc->rank;
	d->ps = ps;
	d->cbfunc = cbfunc;
	d->cbdata = cbdata;
	u->kind = UP_DMODEX;
	u->dmodex = d;
	enqueue(ps, u);
	return PMIX_SUCCESS;
}

/* PMIx's answer to pmixsrv_dmodex_serve; DATA is PMIx's until we return. */
static void served(pmix_status_t status, char *data, size_t len, void *cbdata)
{
	struct serve *sv = cbdata;
	struct pmixsrv *ps = sv->ps;
	struct upcall *u;

	pthread_mutex_lock(&ps->mu);
	sv->prev->next = sv->next;
	sv->next->prev = sv->prev;
	pthread_mutex_unlock(&ps->mu);
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		free(sv); /* out of memory: nothing to tell the host with */
		return;
	}
	if (status != PMIX_SUCCESS) {
		len = 0;
	} else if (len > 0) {
		u->msg = malloc(len);
		if (u->msg == NULL) {
			status = PMIX_ERR_NOMEM;
			len = 0;
		} else {
			memcpy(u->msg, data, len);
		}
	}
	u->kind = UP_SERVED;
	u->serve = sv;
	u->status = status;
	u->len = len;
	enqueue(ps, u);
}

static void gift_release(void *cbdata)
{
	struct gift *g = cbdata;
	struct pmixsrv *ps = the_ps;

	if (ps != NULL) {
		pthread_mutex_lock(&ps->mu);
	}
	g->prev->next = g->next;
	g->next->prev = g->prev;
	if (ps != NULL) {
		pthread_mutex_unlock(&ps->mu);
	}
	free(g);
}

/* ---- delivery, on the host's loop --------------------------------------- */

static void fence_free(struct pmixsrv_fence *f)
{
	free(f->data);
	free(f);
}

static void fence_unlink(struct pmixsrv_fence *f)
{
	for (struct pmixsrv_fence **pp = &f->ps->open; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			return;
		}
	}
}

static void deliver(struct pmixsrv *ps, struct upcall *u)
{
	if (u->kind == UP_FENCE) {
		struct pmixsrv_fence *f = u->fence;

		if (!ps->registered || strcmp(f->nspace, ps->nspace) != 0) {
			/* its step was unregistered while it sat in the queue */
			f->cbfunc(PMIX_ERR_INVALID_NAMESPACE, NULL, 0, f->cbdata, NULL, NULL);
			fence_free(f);
			return;
		}
		f->seq = ps->fence_seq++;
		f->next = ps->open;
		ps->open = f;
		ps->ops.fence(ps->arg, f->seq, f->data, f->len, f);
		return;
	}
	if (u->kind == UP_DMODEX) {
		struct pmixsrv_dmodex *d = u->dmodex;

		if (!ps->registered || strcmp(d->nspace, ps->nspace) != 0 ||
		    d->rank >= ps->ntasks) {
			d->cbfunc(PMIX_ERR_NOT_FOUND, NULL, 0, d->cbdata, NULL, NULL);
			free(d);
			return;
		}
		d->next = ps->open_dmodex;
		ps->open_dmodex = d;
		ps->ops.dmodex(ps->arg, d->rank, ps->node_of[d->rank], d);
		return;
	}
	if (u->kind == UP_SERVED) {
		struct serve *sv = u->serve;

		sv->done(sv->arg, u->status == PMIX_SUCCESS ? 0 : -1, u->msg, u->len);
		free(sv);
		return;
	}
	if (ps->ops.abort != NULL && ps->registered && strcmp(u->nspace, ps->nspace) == 0) {
		ps->ops.abort(ps->arg, u->rank, u->status, u->msg);
	}
	if (u->opcb != NULL) {
		u->opcb(PMIX_SUCCESS, u->opcbdata);
	}
}

static void on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	struct pmixsrv *ps = arg;
	struct upcall *u;
	uint64_t cnt;
	ssize_t n;

	(void)what;
	n = read(fd, &cnt, sizeof(cnt));
	(void)n;
	for (;;) {
		pthread_mutex_lock(&ps->mu);
		u = ps->qhead;
		if (u != NULL) {
			ps->qhead = u->next;
			if (ps->qhead == NULL) {
				ps->qtail = NULL;
			}
		}
		pthread_mutex_unlock(&ps->mu);
		if (u == NULL) {
			break;
		}
		deliver(ps, u);
		free(u->msg);
		free(u);
	}
}

/* Hand DATA to PMIx through a modex callback, as a copy PMIx releases. */
static void give(struct pmixsrv *ps, pmix_modex_cbfunc_t cbfunc, void *cbdata, int status,
		 const void *data, size_t len)
{
	struct gift *g = NULL;

	if (status == 0) {
		g = malloc(sizeof(*g) + len);
	}
	if (g == NULL) {
		cbfunc(PMIX_ERROR, NULL, 0, cbdata, NULL, NULL);
		return;
	}
	g->len = len;
	if (len > 0) {
		memcpy(g->bytes, data, len);
	}
	pthread_mutex_lock(&ps->mu);
	g->next = ps->gifts.next;
	g->prev = &ps->gifts;
	g->next->prev = g;
	ps->gifts.next = g;
	pthread_mutex_unlock(&ps->mu);
	cbfunc(PMIX_SUCCESS, g->bytes, len, cbdata, gift_release, g);
}

void pmixsrv_fence_done(struct pmixsrv_fence *f, int status, const void *all, size_t len)
{
	fence_unlink(f);
	give(f->ps, f->cbfunc, f->cbdata, status, all, len);
	fence_free(f);
}

void pmixsrv_dmodex_done(struct pmixsrv_dmodex *d, int status, const void *data, size_t len)
{
	struct pmixsrv *ps = d->ps;

	for (struct pmixsrv_dmodex **pp = &ps->open_dmodex; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	give(ps, d->cbfunc, d->cbdata, status, data, len);
	free(d);
}

int pmixsrv_dmodex_serve(struct pmixsrv *ps, uint32_t rank, pmixsrv_serve_fn *done, void *arg,
			 char *err, size_t errlen)
{
	struct serve *sv;
	pmix_proc_t proc;
	pmix_status_t st;
	uint32_t i;

	if (!ps->registered) {
		seterr(err, errlen, "direct modex for rank %u: no step registered", rank);
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < ps->nlocal && ps->local[i] != rank; i++) {
	}
	if (i == ps->nlocal) {
		seterr(err, errlen, "step %s: direct modex for rank %u, which is not on this node",
		       ps->nspace, rank);
		errno = EINVAL;
		return -1;
	}
	sv = calloc(1, sizeof(*sv));
	if (sv == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	sv->ps = ps;
	sv->done = done;
	sv->arg = arg;
	pthread_mutex_lock(&ps->mu);
	sv->next = ps->serves.next;
	sv->prev = &ps->serves;
	sv->next->prev = sv;
	ps->serves.next = sv;
	pthread_mutex_unlock(&ps->mu);
	PMIX_LOAD_NSPACE(proc.nspace, ps->nspace);
	proc.rank = rank;
	/* PMIx answers once the rank has committed its data, maybe later */
	st = PMIx_server_dmodex_request(&proc, served, sv);
	if (st != PMIX_SUCCESS) {
		pthread_mutex_lock(&ps->mu);
		sv->prev->next = sv->next;
		sv->next->prev = sv->prev;
		pthread_mutex_unlock(&ps->mu);
		free(sv);
		seterr(err, errlen, "step %s rank %u: PMIx_server_dmodex_request: %s", ps->nspace,
		       rank, PMIx_Error_string(st));
		errno = EIO;
		return -1;
	}
	return 0;
}

/* ---- init and registration ---------------------------------------------- */

int pmixsrv_init(struct event_base *base, const char *tmpdir, const struct pmixsrv_ops *ops,
		 void *arg, struct pmixsrv **out, char *err, size_t errlen)
{
	static pmix_server_module_t module = {
		.abort = up_abort,
		.fence_nb = up_fence,
		.direct_modex = up_dmodex,
	};
	struct pmixsrv *ps;
	pmix_info_t *info;
	pmix_status_t st;
	bool no = false;
	struct stat sb;

	if (the_ps != NULL) {
		seterr(err, errlen, "a PMIx server runs in this process already (one per process)");
		errno = EBUSY;
		return -1;
	}
	if (ops == NULL || ops->fence == NULL) {
		seterr(err, errlen, "pmixsrv_init: ops->fence is required");
		errno = EINVAL;
		return -1;
	}
	if (tmpdir == NULL || tmpdir[0] != '/' || strlen(tmpdir) > TMPDIR_MAX) {
		seterr(err, errlen, "PMIx tmpdir '%s' must be an absolute path of at most %d bytes",
		       tmpdir != NULL ? tmpdir : "", TMPDIR_MAX);
		errno = EINVAL;
		return -1;
	}
	if (stat(tmpdir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		int e = errno == 0 || S_ISDIR(sb.st_mode) ? errno : ENOTDIR;

		seterr(err, errlen, "PMIx tmpdir %s: %s", tmpdir, strerror(e));
		errno = e;
		return -1;
	}
	ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	ps->base = base;
	ps->ops = *ops;
	ps->arg = arg;
	strcpy(ps->tmpdir, tmpdir);
	pthread_mutex_init(&ps->mu, NULL);
	ps->gifts.next = ps->gifts.prev = &ps->gifts;
	ps->serves.next = ps->serves.prev = &ps->serves;
	ps->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ps->efd < 0) {
		int e = errno;

		seterr(err, errlen, "eventfd for PMIx upcalls: %s", strerror(e));
		pthread_mutex_destroy(&ps->mu);
		free(ps);
		errno = e;
		return -1;
	}
	ps->ev = event_new(base, ps->efd, EV_READ | EV_PERSIST, on_wakeup, ps);
	if (ps->ev == NULL || event_add(ps->ev, NULL) != 0) {
		seterr(err, errlen, "cannot watch the PMIx upcall eventfd");
		goto fail;
	}

	/* Several servers may share a machine (emulated nodes, several
	 * supervisors): each keeps its files in its own tmpdir, and none claims
	 * to be the machine's system server. */
	PMIX_INFO_CREATE(info, 3);
	PMIx_Info_load(&info[0], PMIX_SERVER_TMPDIR, tmpdir, PMIX_STRING);
	PMIx_Info_load(&info[1], PMIX_SYSTEM_TMPDIR, tmpdir, PMIX_STRING);
	PMIx_Info_load(&info[2], PMIX_SERVER_SYSTEM_SUPPORT, &no, PMIX_BOOL);
	the_ps = ps;
	st = PMIx_server_init(&module, info, 3);
	PMIX_INFO_FREE(info, 3);
	if (st != PMIX_SUCCESS) {
		the_ps = NULL;
		seterr(err, errlen, "PMIx_server_init (tmpdir %s): %s", tmpdir,
		       PMIx_Error_string(st));
		errno = EIO;
		goto fail;
	}
	*out = ps;
	return 0;
fail:
	if (ps->ev != NULL) {
		event_free(ps->ev);
	}
	close(ps->efd);
	pthread_mutex_destroy(&ps->mu);
	free(ps);
	if (errno == 0) {
		errno = EIO;
	}
	return -1;
}

static int check_map(const struct pmixsrv_map *m, char *err, size_t errlen)
{
	uint8_t *seen;
	uint64_t total = 0;

	if (m->nspace == NULL || m->nspace[0] == '\0' || strlen(m->nspace) > PMIX_MAX_NSLEN ||
	    strchr(m->nspace, '/') != NULL || strcmp(m->nspace, ".") == 0 ||
	    strcmp(m->nspace, "..") == 0) {
		seterr(err, errlen, "step map: nspace '%s' must be 1 to %d bytes, no '/'",
		       m->nspace != NULL ? m->nspace : "", PMIX_MAX_NSLEN);
		return -1;
	}
	if (m->nnodes == 0 || m->nodes == NULL || m->node_ranks == NULL || m->node_nranks == NULL) {
		seterr(err, errlen, "step map %s: no nodes", m->nspace);
		return -1;
	}
	if (m->this_node >= m->nnodes) {
		seterr(err, errlen, "step map %s: this_node %u is not below nnodes %u", m->nspace,
		       m->this_node, m->nnodes);
		return -1;
	}
	if (m->ntasks == 0) {
		seterr(err, errlen, "step map %s: ntasks is 0", m->nspace);
		return -1;
	}
	for (uint32_t i = 0; i < m->nnodes; i++) {
		const char *n = m->nodes[i];

		/* PMIx_generate_regex takes a comma-separated list of names */
		if (n == NULL || n[0] == '\0' || strpbrk(n, ",; \t\n") != NULL) {
			seterr(err, errlen,
			       "step map %s: node %u has name '%s'; names must be non-empty, "
			       "without ',', ';' or blanks",
			       m->nspace, i, n != NULL ? n : "");
			return -1;
		}
		if (m->node_nranks[i] == 0 || m->node_ranks[i] == NULL) {
			seterr(err, errlen, "step map %s: node %u (%s) has no ranks", m->nspace, i,
			       n);
			return -1;
		}
		total += m->node_nranks[i];
	}
	if (total != m->ntasks) {
		seterr(err, errlen, "step map %s: the nodes hold %llu ranks, ntasks is %u",
		       m->nspace, (unsigned long long)total, m->ntasks);
		return -1;
	}
	seen = calloc(m->ntasks, 1);
	if (seen == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < m->nnodes; i++) {
		for (uint32_t j = 0; j < m->node_nranks[i]; j++) {
			uint32_t r = m->node_ranks[i][j];

			if (r >= m->ntasks || seen[r]) {
				seterr(err, errlen,
				       "step map %s: node %u (%s) lists rank %u, which is %s",
				       m->nspace, i, m->nodes[i], r,
				       r >= m->ntasks ? "not below ntasks" : "on a node already");
				free(seen);
				return -1;
			}
			seen[r] = 1;
		}
	}
	free(seen);
	return 0;
}

/* A growable string for the maps handed to PMIx. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom) {
		return;
	}
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->s != NULL ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *s = realloc(b->s, cap);

		if (s == NULL) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

/* The rank's position on its node, and its node. */
struct where {
	uint32_t node;
	uint16_t local_rank;
};

static int add_info(void *list, const char *key, const void *val, pmix_data_type_t type)
{
	return PMIx_Info_list_add(list, key, val, type) == PMIX_SUCCESS ? 0 : -1;
}

/* The job info of the step, as a data array of pmix_info_t. */
static int build_info(const struct pmixsrv *ps, const struct pmixsrv_map *m, pmix_data_array_t *out,
		      char *err, size_t errlen)
{
	struct sbuf names = { 0 }, ppn = { 0 }, peers = { 0 }, jobid = { 0 };
	char *regex = NULL, *pmap = NULL;
	struct where *where = NULL;
	void *list = NULL;
	uint32_t napps = 1, appnum = 0, lldr = UINT32_MAX;
	uint32_t nlocal = m->node_nranks[m->this_node];
	pmix_status_t st;
	int rc = -1, bad = 0;

	where = calloc(m->ntasks, sizeof(*where));
	if (where == NULL) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < m->nnodes; i++) {
		sb_add(&names, "%s%s", i > 0 ? "," : "", m->nodes[i]);
		if (i > 0) {
			sb_add(&ppn, ";");
		}
		for (uint32_t j = 0; j < m->node_nranks[i]; j++) {
			uint32_t r = m->node_ranks[i][j];

			sb_add(&ppn, "%s%u", j > 0 ? "," : "", r);
			where[r].node = i;
			where[r].local_rank = (uint16_t)j;
			if (i == m->this_node) {
				sb_add(&peers, "%s%u", j > 0 ? "," : "", r);
				if (r < lldr) {
					lldr = r;
				}
			}
		}
	}
	sb_add(&jobid, "%u.%u", m->job_id, m->step_id);
	if (names.oom || ppn.oom || peers.oom || jobid.oom) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	st = PMIx_generate_regex(names.s, &regex);
	if (st == PMIX_SUCCESS) {
		st = PMIx_generate_ppn(ppn.s, &pmap);
	}
	if (st != PMIX_SUCCESS) {
		seterr(err, errlen, "step %s: PMIx cannot encode the node map: %s", m->nspace,
		       PMIx_Error_string(st));
		goto out;
	}

	list = PMIx_Info_list_start();
	if (list == NULL) {
		seterr(err, errlen, "out of memory");
		goto out;
	}
	bad |= add_info(list, PMIX_UNIV_SIZE, &m->ntasks, PMIX_UINT32);
	bad |= add_info(list, PMIX_JOB_SIZE, &m->ntasks, PMIX_UINT32);
	bad |= add_info(list, PMIX_MAX_PROCS, &m->ntasks, PMIX_UINT32);
	bad |= add_info(list, PMIX_NUM_NODES, &m->nnodes, PMIX_UINT32);
	bad |= add_info(list, PMIX_JOB_NUM_APPS, &napps, PMIX_UINT32);
	bad |= add_info(list, PMIX_APPNUM, &appnum, PMIX_UINT32);
	bad |= add_info(list, PMIX_JOBID, jobid.s, PMIX_STRING);
	bad |= add_info(list, PMIX_NODE_MAP, regex, PMIX_REGEX);
	bad |= add_info(list, PMIX_PROC_MAP, pmap, PMIX_REGEX);
	bad |= add_info(list, PMIX_LOCAL_SIZE, &nlocal, PMIX_UINT32);
	bad |= add_info(list, PMIX_NODE_SIZE, &nlocal, PMIX_UINT32);
	bad |= add_info(list, PMIX_LOCAL_PEERS, peers.s, PMIX_STRING);
	bad |= add_info(list, PMIX_LOCALLDR, &lldr, PMIX_PROC_RANK);
	bad |= add_info(list, PMIX_NODEID, &m->this_node, PMIX_UINT32);
	bad |= add_info(list, PMIX_HOSTNAME, m->nodes[m->this_node], PMIX_STRING);
	/* Open MPI keeps its session files under these: one directory per step
	 * and node, so emulated nodes on one machine do not share them. */
	bad |= add_info(list, PMIX_TMPDIR, ps->stepdir, PMIX_STRING);
	bad |= add_info(list, PMIX_NSDIR, ps->stepdir, PMIX_STRING);
	for (uint32_t r = 0; !bad && r < m->ntasks; r++) {
		void *pl = PMIx_Info_list_start();
		pmix_data_array_t da = { 0 };
		uint32_t node = where[r].node;
		uint16_t lr = where[r].local_rank;

		if (pl == NULL) {
			bad = 1;
			break;
		}
		/* PMIx wants the rank first in each proc's array */
		bad |= add_info(pl, PMIX_RANK, &r, PMIX_PROC_RANK);
		bad |= add_info(pl, PMIX_GLOBAL_RANK, &r, PMIX_PROC_RANK);
		bad |= add_info(pl, PMIX_APP_RANK, &r, PMIX_PROC_RANK);
		bad |= add_info(pl, PMIX_APPNUM, &appnum, PMIX_UINT32);
		bad |= add_info(pl, PMIX_LOCAL_RANK, &lr, PMIX_UINT16);
		bad |= add_info(pl, PMIX_NODE_RANK, &lr, PMIX_UINT16);
		bad |= add_info(pl, PMIX_NODEID, &node, PMIX_UINT32);
		bad |= add_info(pl, PMIX_HOSTNAME, m->nodes[node], PMIX_STRING);
		if (!bad && PMIx_Info_list_convert(pl, &da) != PMIX_SUCCESS) {
			bad = 1;
		}
		PMIx_Info_list_release(pl);
		if (!bad) {
			bad |= add_info(list, PMIX_PROC_DATA, &da, PMIX_DATA_ARRAY);
		}
		PMIX_DATA_ARRAY_DESTRUCT(&da);
	}
	if (bad || PMIx_Info_list_convert(list, out) != PMIX_SUCCESS) {
		seterr(err, errlen, "step %s: cannot build the PMIx job info (out of memory?)",
		       m->nspace);
		goto out;
	}
	rc = 0;
out:
	if (list != NULL) {
		PMIx_Info_list_release(list);
	}
	free(regex);
	free(pmap);
	free(where);
	free(names.s);
	free(ppn.s);
	free(peers.s);
	free(jobid.s);
	return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Remove DIR and what the ranks left in it, never following a link. */
static void rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void forget_step(struct pmixsrv *ps)
{
	pthread_mutex_lock(&ps->mu);
	ps->q_nspace[0] = '\0';
	ps->q_ntasks = 0;
	pthread_mutex_unlock(&ps->mu);
	free(ps->local);
	free(ps->client_done);
	free(ps->node_of);
	ps->local = NULL;
	ps->client_done = NULL;
	ps->node_of = NULL;
	ps->nlocal = 0;
	ps->registered = false;
	ps->nspace[0] = '\0';
}

int pmixsrv_register(struct pmixsrv *ps, const struct pmixsrv_map *m, char *err, size_t errlen)
{
	pmix_data_array_t da = { 0 };
	struct waiter *w;
	pmix_status_t st;
	uint32_t nlocal;

	if (ps->registered) {
		seterr(err, errlen, "step %s is registered already; unregister it first",
		       ps->nspace);
		errno = EBUSY;
		return -1;
	}
	if (check_map(m, err, errlen) != 0) {
		errno = EINVAL;
		return -1;
	}
	if ((size_t)snprintf(ps->stepdir, sizeof(ps->stepdir), "%s/%s", ps->tmpdir, m->nspace) >=
	    sizeof(ps->stepdir)) {
		seterr(err, errlen, "step %s: directory name too long", m->nspace);
		errno = ENAMETOOLONG;
		return -1;
	}
	/* A leftover of an earlier step of that name would hold another
	 * run's files; start clean. */
	rmtree(ps->stepdir);
	if (mkdir(ps->stepdir, 0700) != 0 || chown(ps->stepdir, m->uid, m->gid) != 0) {
		int e = errno;

		seterr(err, errlen, "step %s: cannot make %s for uid %u: %s", m->nspace,
		       ps->stepdir, (unsigned)m->uid, strerror(e));
		rmdir(ps->stepdir);
		errno = e;
		return -1;
	}

	nlocal = m->node_nranks[m->this_node];
	ps->local = malloc(nlocal * sizeof(*ps->local));
	ps->client_done = calloc(nlocal, sizeof(*ps->client_done));
	ps->node_of = malloc(m->ntasks * sizeof(*ps->node_of));
	if (ps->local == NULL || ps->client_done == NULL || ps->node_of == NULL) {
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	memcpy(ps->local, m->node_ranks[m->this_node], nlocal * sizeof(*ps->local));
	for (uint32_t n = 0; n < m->nnodes; n++) {
		for (uint32_t j = 0; j < m->node_nranks[n]; j++) {
			ps->node_of[m->node_ranks[n][j]] = n;
		}
	}
	ps->nlocal = nlocal;
	strcpy(ps->nspace, m->nspace);
	ps->ntasks = m->ntasks;
	ps->uid = m->uid;
	ps->gid = m->gid;
	ps->fence_seq = 0;
	if (build_info(ps, m, &da, err, errlen) != 0) {
		errno = ENOMEM;
		goto fail;
	}
	w = waiter_new();
	if (w == NULL) {
		PMIX_DATA_ARRAY_DESTRUCT(&da);
		seterr(err, errlen, "out of memory");
		errno = ENOMEM;
		goto fail;
	}
	/* PMIx reads the info until its callback: the waiter owns it. */
	w->info = da.array;
	w->ninfo = da.size;
	pthread_mutex_lock(&ps->mu);
	strcpy(ps->q_nspace, m->nspace);
	ps->q_ntasks = m->ntasks;
	pthread_mutex_unlock(&ps->mu);
	st = PMIx_server_register_nspace(m->nspace, (int)nlocal, w->info, w->ninfo, waiter_cb, w);
	if (st != PMIX_SUCCESS) {
		waiter_put(w); /* the callback will not come */
		waiter_put(w);
	} else {
		st = waiter_wait(w);
	}
	if (st != PMIX_SUCCESS) {
		seterr(err, errlen, "step %s: PMIx_server_register_nspace: %s", m->nspace,
		       PMIx_Error_string(st));
		errno = EIO;
		goto fail;
	}
	ps->registered = true;
	return 0;
fail:;
	int e = errno;

	forget_step(ps);
	rmtree(ps->stepdir);
	errno = e;
	return -1;
}

/* Set NAME=VALUE in *ENV, replacing an earlier NAME. */
static int env_set(char ***env, const char *name, const char *value)
{
	size_t nlen = strlen(name), n = 0;
	char *kv, **e;

	if (asprintf(&kv, "%s=%s", name, value) < 0) {
		return -1;
	}
	for (e = *env; e != NULL && e[n] != NULL; n++) {
		if (strncmp(e[n], name, nlen) == 0 && e[n][nlen] == '=') {
			free(e[n]);
			e[n] = kv;
			return 0;
		}
	}
	e = realloc(*env, (n + 2) * sizeof(*e));
	if (e == NULL) {
		free(kv);
		return -1;
	}
	e[n] = kv;
	e[n + 1] = NULL;
	*env = e;
	return 0;
}

int pmixsrv_client_env(struct pmixsrv *ps, uint32_t rank, char ***envp, char *err, size_t errlen)
{
	char **env = NULL;
	pmix_proc_t proc;
	pmix_status_t st;
	uint32_t i;
	int bad = 0;

	if (!ps->registered) {
		seterr(err, errlen, "rank %u: no step registered", rank);
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < ps->nlocal && ps->local[i] != rank; i++) {
	}
	if (i == ps->nlocal) {
		seterr(err, errlen, "step %s: rank %u does not run on this node", ps->nspace, rank);
		errno = EINVAL;
		return -1;
	}
	PMIX_LOAD_NSPACE(proc.nspace, ps->nspace);
	proc.rank = rank;
	if (!ps->client_done[i]) {
		struct waiter *w = waiter_new();

		if (w == NULL) {
			seterr(err, errlen, "out of memory");
			errno = ENOMEM;
			return -1;
		}
		st = PMIx_server_register_client(&proc, ps->uid, ps->gid, NULL, waiter_cb, w);
		if (st != PMIX_SUCCESS) {
			waiter_put(w);
			waiter_put(w);
		} else {
			st = waiter_wait(w);
		}
		if (st != PMIX_SUCCESS) {
			seterr(err, errlen, "step %s rank %u: PMIx_server_register_client: %s",
			       ps->nspace, rank, PMIx_Error_string(st));
			errno = EIO;
			return -1;
		}
		ps->client_done[i] = true;
	}
	st = PMIx_server_setup_fork(&proc, &env);
	if (st != PMIX_SUCCESS) {
		seterr(err, errlen, "step %s rank %u: PMIx_server_setup_fork: %s", ps->nspace, rank,
		       PMIx_Error_string(st));
		pmixsrv_env_free(env);
		errno = EIO;
		return -1;
	}
	/* Open MPI 4.1 picks its runtime by the "schizo" component: without
	 * this its orte component takes the rank for a singleton (size 1). */
	bad |= env_set(&env, "OMPI_MCA_schizo", "^orte");
	/* Shared-memory segments of the step's ranks on this node; the default
	 * (/dev/shm, named by job and local rank) collides between emulated
	 * nodes of one machine. */
	bad |= env_set(&env, "OMPI_MCA_btl_vader_backing_directory", ps->stepdir);
	if (ps->uid == 0) {
		/* Open MPI refuses root unless told twice. */
		bad |= env_set(&env, "OMPI_ALLOW_RUN_AS_ROOT", "1");
		bad |= env_set(&env, "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
	}
	if (bad) {
		pmixsrv_env_free(env);
		seterr(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	*envp = env;
	return 0;
}

void pmixsrv_env_free(char **env)
{
	if (env == NULL) {
		return;
	}
	for (char **e = env; *e != NULL; e++) {
		free(*e);
	}
	free(env);
}

void pmixsrv_unregister(struct pmixsrv *ps)
{
	struct waiter *w;

	if (ps == NULL || !ps->registered) {
		return;
	}
	while (ps->open != NULL) {
		struct pmixsrv_fence *f = ps->open;

		ps->open = f->next;
		f->cbfunc(PMIX_ERR_INVALID_NAMESPACE, NULL, 0, f->cbdata, NULL, NULL);
		fence_free(f);
	}
	while (ps->open_dmodex != NULL) {
		struct pmixsrv_dmodex *d = ps->open_dmodex;

		ps->open_dmodex = d->next;
		d->cbfunc(PMIX_ERR_INVALID_NAMESPACE, NULL, 0, d->cbdata, NULL, NULL);
		free(d);
	}
	w = waiter_new();
	if (w != NULL) {
		PMIx_server_deregister_nspace(ps->nspace, waiter_cb, w);
		waiter_wait(w);
	}
	rmtree(ps->stepdir);
	forget_step(ps);
}

void pmixsrv_destroy(struct pmixsrv *ps)
{
	struct upcall *u;

	if (ps == NULL) {
		return;
	}
	pmixsrv_unregister(ps);
	PMIx_server_finalize();
	/* PMIx's thread is gone: what it queued or still held is ours. */
	the_ps = NULL;
	while ((u = ps->qhead) != NULL) {
		ps->qhead = u->next;
		if (u->fence != NULL) {
			fence_free(u->fence);
		}
		free(u->dmodex);
		free(u->serve);
		free(u->msg);
		free(u);
	}
	while (ps->gifts.next != &ps->gifts) {
		struct gift *g = ps->gifts.next;

		ps->gifts.next = g->next;
		free(g);
	}
	while (ps->serves.next != &ps->serves) {
		struct serve *sv = ps->serves.next;

		ps->serves.next = sv->next;
		free(sv);
	}
	event_free(ps->ev);
	close(ps->efd);
	pthread_mutex_destroy(&ps->mu);
	free(ps);
}
