/* topocache.c - shared topology models, checked first (see topocache.h).
 *
 * An entry is CHECKING (its helper runs; waits queue on it), READY (a
 * model, counted references) or REFUSED (the reason, kept for the next
 * registration of the same bytes).  Waits are answered through an event of
 * their own, so a done callback never runs inside topocache_request nor in
 * the middle of another entry's bookkeeping.
 */
#include "topocache.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo.h"
#include "topocheck.h"

enum entry_state { CHECKING, READY, REFUSED };

struct entry {
	struct entry *next;
	enum entry_state state;
	struct topo *topo;        /* READY */
	char *why;                /* REFUSED */
	int refs;                 /* READY */
	struct topo_check *check; /* CHECKING: the helper, its exit and time limit */
	struct event *exit_ev, *limit_ev;
	struct topocache_wait *waits; /* CHECKING */
	uint32_t gpus;
	size_t len;
	unsigned char buf[]; /* the compressed XML it was loaded from */
};

struct topocache_wait {
	struct topocache_wait *next;                /* in its entry's queue */
	struct topocache_wait *all_prev, *all_next; /* every wait, for destroy */
	struct entry *e;                            /* still checking */
	struct event *ev;                           /* delivers the answer */
	topocache_done_fn *done;
	void *arg;
	struct topo *t; /* the answer: a reference, or NULL and ERR */
	char err[256];
};

static struct entry *entries;
static struct topocache_wait *all_waits;

static struct entry *find(const void *buf, size_t len, uint32_t gpus)
{
	for (struct entry *e = entries; e; e = e->next)
		if (e->gpus == gpus && e->len == len && memcmp(e->buf, buf, len) == 0)
			return e;
	return NULL;
}

static struct entry *entry_new(const void *buf, size_t len, uint32_t gpus)
{
	struct entry *e = calloc(1, sizeof(*e) + len);

	if (!e)
		return NULL;
	e->gpus = gpus;
	e->len = len;
	memcpy(e->buf, buf, len);
	return e;
}

static void entry_unlink(struct entry *e)
{
	for (struct entry **pp = &entries; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			return;
		}
	}
}

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	if (e->exit_ev)
		event_free(e->exit_ev);
	if (e->limit_ev)
		event_free(e->limit_ev);
	topo_destroy(e->topo);
	free(e->why);
	free(e);
}

/* E is refused for WHY: keep it, and only the newest few such. */
static void keep_refused(struct entry *e, const char *why)
{
	size_t n = 0, bytes = 0;

	e->state = REFUSED;
	e->why = strdup(why);
	if (!e->why) {
		entry_free(e);
		return;
	}
	e->next = entries;
	entries = e;
	for (struct entry **pp = &entries; *pp;) {
		struct entry *x = *pp;
		if (x->state == REFUSED && x != e &&
		    (++n >= TOPOCACHE_REFUSED_MAX || (bytes += x->len) > TOPOCACHE_REFUSED_BYTES)) {
			*pp = x->next;
			entry_free(x);
			continue;
		}
		pp = &x->next;
	}
}

/* Waits ------------------------------------------------------------------*/

static void wait_unlink(struct topocache_wait *w)
{
	if (w->all_prev)
		w->all_prev->all_next = w->all_next;
	else
		all_waits = w->all_next;
	if (w->all_next)
		w->all_next->all_prev = w->all_prev;
}

static void deliver(evutil_socket_t fd, short what, void *arg)
{
	struct topocache_wait *w = arg;

	(void)fd;
	(void)what;
	wait_unlink(w);
	event_free(w->ev);
	w->done(w->arg, w->t, w->t ? NULL : w->err);
	free(w);
}

/* Answer W (a reference T, or ERR) on its next loop pass. */
static void answer(struct topocache_wait *w, struct topo *t, const char *err)
{
	static const struct timeval now = { 0, 0 };

	w->e = NULL;
	w->t = t;
	snprintf(w->err, sizeof(w->err), "%s", err ? err : "");
	evtimer_add(w->ev, &now);
}

/* Checks -----------------------------------------------------------------*/

/* E's helper exited, or its time is up (topo_check_finish kills it then). */
static void on_checked(evutil_socket_t fd, short what, void *arg)
{
	struct entry *e = arg;
	struct topocache_wait *waits = e->waits;
	char err[256] = "";
	struct topo *t = NULL;
	int rc;

	(void)fd;
	(void)what;
	rc = topo_check_finish(e->check, err, sizeof(err));
	e->check = NULL;
	e->waits = NULL;
	event_free(e->exit_ev);
	event_free(e->limit_ev);
	e->exit_ev = e->limit_ev = NULL;
	entry_unlink(e);
	/* It passed: now it is safe to import here. */
	if (rc == 0 && topo_import(e->buf, e->len, e->gpus, &t, err, sizeof(err)) < 0)
		rc = -1;
	if (rc == 0) {
		e->state = READY;
		e->topo = t;
		for (struct topocache_wait *w = waits; w; w = w->next)
			e->refs++;
		if (e->refs) {
			e->next = entries;
			entries = e;
		} else {
			entry_free(e); /* nobody waits any more */
		}
		for (struct topocache_wait *w = waits, *next; w; w = next) {
			next = w->next;
			answer(w, t, NULL);
		}
		return;
	}
	if (errno == EINVAL)
		keep_refused(e, err);
	else
		entry_free(e); /* the check could not run: not the topology's fault */
	for (struct topocache_wait *w = waits, *next; w; w = next) {
		next = w->next;
		answer(w, NULL, err);
	}
}

static int check_start(struct event_base *base, struct entry *e, char *err, size_t errlen)
{
	struct timeval limit = { TOPO_CHECK_TIMEOUT_MS / 1000,
				 TOPO_CHECK_TIMEOUT_MS % 1000 * 1000 };

	e->check = topo_check_start(e->buf, e->len, e->gpus, err, errlen);
	if (!e->check)
		return -1;
	e->exit_ev = event_new(base, topo_check_fd(e->check), EV_READ, on_checked, e);
	e->limit_ev = evtimer_new(base, on_checked, e);
	if (!e->exit_ev || !e->limit_ev || event_add(e->exit_ev, NULL) < 0 ||
	    evtimer_add(e->limit_ev, &limit) < 0) {
		topo_check_finish(e->check, err, errlen);
		e->check = NULL;
		snprintf(err, errlen, "out of memory watching a topology check");
		errno = ENOMEM;
		return -1;
	}
	e->state = CHECKING;
	return 0;
}

struct topocache_wait *topocache_request(struct event_base *base, const void *buf, size_t len,
					 uint32_t gpus, topocache_done_fn *done, void *arg)
{
	struct topocache_wait *w = calloc(1, sizeof(*w));
	struct entry *e;
	char err[256];

	if (!w || !(w->ev = evtimer_new(base, deliver, w))) {
		free(w);
		errno = ENOMEM;
		return NULL;
	}
	w->done = done;
	w->arg = arg;
	w->all_next = all_waits;
	if (all_waits)
		all_waits->all_prev = w;
	all_waits = w;
	e = find(buf, len, gpus);
	if (!e) {
		e = entry_new(buf, len, gpus);
		if (!e) {
			answer(w, NULL, "out of memory checking its topology");
			return w;
		}
		if (check_start(base, e, err, sizeof(err)) < 0) {
			entry_free(e);
			answer(w, NULL, err);
			return w;
		}
		e->next = entries;
		entries = e;
	}
	switch (e->state) {
	case CHECKING:
		w->e = e;
		w->next = e->waits;
		e->waits = w;
		break;
	case READY:
		e->refs++;
		answer(w, e->topo, NULL);
		break;
	case REFUSED: answer(w, NULL, e->why); break;
	}
	return w;
}

void topocache_cancel(struct topocache_wait *w)
{
	if (!w)
		return;
	if (w->e) {
		struct entry *e = w->e;
		for (struct topocache_wait **pp = &e->waits; *pp; pp = &(*pp)->next) {
			if (*pp == w) {
				*pp = w->next;
				break;
			}
		}
		/* Nobody waits for it any more: stop it, so that a node
		 * registering again and again never runs more than one check. */
		if (!e->waits) {
			char err[256];
			topo_check_finish(e->check, err, sizeof(err));
			entry_unlink(e);
			entry_free(e);
		}
	}
	topocache_put(w->t);
	wait_unlink(w);
	event_free(w->ev);
	free(w);
}

struct topo *topocache_get(const void *buf, size_t len, uint32_t gpus, char *err, size_t errlen)
{
	struct entry *e = find(buf, len, gpus);

	if (e && e->state == READY) {
		e->refs++;
		return e->topo;
	}
	if (e) {
		snprintf(err, errlen, "%s",
			 e->state == REFUSED ? e->why : "the topology is being checked");
		errno = e->state == REFUSED ? EINVAL : EAGAIN;
		return NULL;
	}
	e = entry_new(buf, len, gpus);
	if (!e) {
		snprintf(err, errlen, "out of memory loading a topology");
		errno = ENOMEM;
		return NULL;
	}
	if (topo_check_isolated(buf, len, gpus, err, errlen) < 0 ||
	    topo_import(buf, len, gpus, &e->topo, err, errlen) < 0) {
		int saved = errno;
		if (saved == EINVAL)
			keep_refused(e, err);
		else
			entry_free(e);
		errno = saved;
		return NULL;
	}
	e->state = READY;
	e->refs = 1;
	e->next = entries;
	entries = e;
	return e->topo;
}

void topocache_put(struct topo *t)
{
	if (!t)
		return;
	for (struct entry **pp = &entries; *pp; pp = &(*pp)->next) {
		struct entry *e = *pp;
		if (e->state != READY || e->topo != t)
			continue;
		if (--e->refs == 0) {
			*pp = e->next;
			entry_free(e);
		}
		return;
	}
}

size_t topocache_count(void)
{
	size_t n = 0;
	for (const struct entry *e = entries; e; e = e->next)
		n += e->state == READY;
	return n;
}

void topocache_destroy(void)
{
	char err[256];

	while (all_waits) {
		struct topocache_wait *w = all_waits;
		all_waits = w->all_next;
		event_free(w->ev);
		free(w);
	}
	while (entries) {
		struct entry *e = entries;
		entries = e->next;
		if (e->check)
			topo_check_finish(e->check, err, sizeof(err));
		entry_free(e);
	}
}
