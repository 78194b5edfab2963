/* arrayspec.c - job array specifications (see arrayspec.h). */
#include "arrayspec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strfmt.h"

#define DIGITS "0123456789"
#define HOW    "write indexes like 0-99, 1,3,5-7 or 0-99:2%%10"

/* A walk over a spec.  The first checks and counts (V NULL), so that no
 * memory is used for a spec that is refused; the second, over a spec the
 * first accepted, stores the indexes into V. */
struct walk {
	const char *s; /* the whole spec, for messages */
	const char *p; /* where the walk is */
	uint32_t *v;
	size_t n; /* indexes counted or stored so far, duplicates included */
	char *err;
	size_t errlen;
};

enum { NUM_OK, NUM_NONE, NUM_BIG };

/* The decimal number at *P, if at most MAX; advances *P past it. */
static int number(const char **p, uint32_t max, uint32_t *v)
{
	size_t len = strspn(*p, DIGITS);
	uint64_t x = 0;

	if (len == 0)
		return NUM_NONE;
	for (size_t i = 0; i < len; i++) {
		x = x * 10 + (uint64_t)((*p)[i] - '0');
		if (x > max)
			return NUM_BIG;
	}
	*v = (uint32_t)x;
	*p += len;
	return NUM_OK;
}

/* An index at W->p; WHAT names it in messages ("an index"). */
static int take_index(struct walk *w, const char *what, uint32_t *v)
{
	const char *at = w->p;

	switch (number(&w->p, ARRAYSPEC_MAX_INDEX, v)) {
	case NUM_OK: return 0;
	case NUM_BIG:
		return strfmt_fail(w->err, w->errlen, EINVAL,
				   "index %.*s in '%s' is too high (indexes go from 0 to %u)",
				   (int)strspn(at, DIGITS), at, w->s, ARRAYSPEC_MAX_INDEX);
	}
	if (!*at)
		return strfmt_fail(w->err, w->errlen, EINVAL,
				   "'%s' ends where %s should be (" HOW ")", w->s, what);
	return strfmt_fail(w->err, w->errlen, EINVAL, "expected %s at '%s' in '%s' (" HOW ")", what,
			   at, w->s);
}

/* One item at W->p: N, N-M or N-M:STEP. */
static int take_item(struct walk *w)
{
	const char *item = w->p;
	uint32_t a, b, step = 1;

	if (take_index(w, "an index", &a) < 0)
		return -1;
	b = a;
	if (*w->p == '-') {
		w->p++;
		if (take_index(w, "the end of a range", &b) < 0)
			return -1;
		if (b < a)
			return strfmt_fail(w->err, w->errlen, EINVAL,
					   "range '%.*s' ends below its start (write it LOW-HIGH, "
					   "like 0-99)",
					   (int)(w->p - item), item);
		if (*w->p == ':') {
			w->p++;
			if (number(&w->p, UINT32_MAX, &step) != NUM_OK || step == 0)
				return strfmt_fail(w->err, w->errlen, EINVAL,
						   "the step after ':' in '%s' must be a whole "
						   "number of at least 1 (like 0-99:2)",
						   w->s);
		}
	}
	uint64_t k = ((uint64_t)b - a) / step + 1;
	if (w->n + k > ARRAYSPEC_MAX_TASKS)
		return strfmt_fail(w->err, w->errlen, EINVAL,
				   "'%s' has more than %u tasks, the most an array may have (split "
				   "it into several arrays)",
				   w->s, ARRAYSPEC_MAX_TASKS);
	if (!w->v)
		w->n += (size_t)k;
	else
		for (uint64_t x = a; x <= b; x += step)
			w->v[w->n++] = (uint32_t)x;
	return 0;
}

/* The whole spec from W->p: items joined by ',', then %MAX. */
static int walk(struct walk *w, uint32_t *max_running)
{
	for (;;) {
		if (take_item(w) < 0)
			return -1;
		if (*w->p != ',')
			break;
		w->p++;
	}
	if (*w->p == '%') {
		w->p++;
		if (number(&w->p, UINT32_MAX, max_running) != NUM_OK || *max_running == 0 || *w->p)
			return strfmt_fail(
			    w->err, w->errlen, EINVAL,
			    "after %% in '%s' give how many tasks may run at once, a "
			    "whole number of at least 1 (like 0-99%%10)",
			    w->s);
	}
	if (*w->p)
		return strfmt_fail(w->err, w->errlen, EINVAL, "unexpected '%s' in '%s' (" HOW ")",
				   w->p, w->s);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int arrayspec_parse(const char *s, uint32_t **idx, size_t *n, uint32_t *max_running, char *err,
		    size_t errlen)
{
	struct walk w = { .s = s, .p = s, .err = err, .errlen = errlen };
	size_t kept = 0;

	*max_running = 0;
	if (!*s)
		return strfmt_fail(err, errlen, EINVAL, "empty value (" HOW ")");
	if (walk(&w, max_running) < 0)
		return -1;
	w.v = malloc(w.n * sizeof(*w.v));
	if (!w.v)
		return strfmt_fail(err, errlen, ENOMEM, "out of memory");
	/* The spec is known good now: this walk only stores. */
	w.p = s;
	w.n = 0;
	(void)walk(&w, max_running);
	qsort(w.v, w.n, sizeof(*w.v), cmp_u32);
	for (size_t i = 0; i < w.n; i++)
		if (kept == 0 || w.v[kept - 1] != w.v[i])
			w.v[kept++] = w.v[i];
	*idx = w.v;
	*n = kept;
	return 0;
}
