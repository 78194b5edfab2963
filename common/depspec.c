/* depspec.c - job dependency specifications (see depspec.h). */
#include "depspec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strfmt.h"

#define TYPES "after, afterany, afterok, afternotok or singleton"

_Static_assert(DEPSPEC_MAX_JOBS <= UINT16_MAX, "a job counts its terms in 16 bits");

static const struct {
	const char *word;
	enum depspec_type type;
} types[] = {
	{ "after", DEPSPEC_AFTER },
	{ "afterany", DEPSPEC_AFTERANY },
	{ "afterok", DEPSPEC_AFTEROK },
	{ "afternotok", DEPSPEC_AFTERNOTOK },
};

/* Slurm's types that Pacer does not do: named as such, not as unknown. */
static const char *const unsupported[] = { "aftercorr", "afterburstbuffer", "expand" };

/* The terms parsed so far. */
struct terms {
	struct depspec_term *v;
	size_t n, cap;
};

/* LEN digits at S, at most UINT32_MAX. */
static int parse_u32(const char *s, size_t len, uint32_t *v)
{
	uint64_t x = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
		if (x > UINT32_MAX)
			return -1;
	}
	*v = (uint32_t)x;
	return 0;
}

/* A job id of LEN bytes at S, "123" or "123_4", into T. */
static int parse_id(const char *s, size_t len, struct depspec_term *t)
{
	const char *us = memchr(s, '_', len);

	t->task = us != NULL;
	if (!us)
		return parse_u32(s, len, &t->job) < 0 || t->job == 0 ? -1 : 0;
	if (parse_u32(s, (size_t)(us - s), &t->job) < 0 || t->job == 0)
		return -1;
	return parse_u32(us + 1, len - (size_t)(us - s) - 1, &t->task_id);
}

static int add(struct terms *ts, const struct depspec_term *t, char *why, size_t whylen)
{
	if (ts->n == DEPSPEC_MAX_JOBS)
		return strfmt_fail(why, whylen, EINVAL,
				   "more than %d job ids (name an array by its id to wait for all "
				   "its tasks)",
				   DEPSPEC_MAX_JOBS);
	if (ts->n == ts->cap) {
		size_t cap = ts->cap ? ts->cap * 2 : 4;
		struct depspec_term *v = realloc(ts->v, cap * sizeof(*v));

		if (!v)
			return strfmt_fail(why, whylen, ENOMEM, "out of memory");
		ts->v = v;
		ts->cap = cap;
	}
	ts->v[ts->n++] = *t;
	return 0;
}

/* The job ids of a term of TYPE, ID[:ID...] from P to the end of the term
 * (T, LEN bytes: the whole of it, for messages). */
static int parse_ids(const char *t, size_t len, const char *p, uint8_t type, struct terms *ts,
		     char *why, size_t whylen)
{
	const char *end = t + len;

	for (;;) {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		size_t ilen = colon ? (size_t)(colon - p) : (size_t)(end - p);
		const char *plus = memchr(p, '+', ilen);
		struct depspec_term d = { .type = type };

		if (plus)
			return strfmt_fail(why, whylen, EINVAL,
					   "'%.*s': a delay after the job (+MINUTES) is not "
					   "supported (drop the +%.*s)",
					   (int)len, t, (int)(ilen - (size_t)(plus - p) - 1),
					   plus + 1);
		if (ilen == 0)
			return strfmt_fail(
			    why, whylen, EINVAL,
			    "empty job id in '%.*s' (separate ids with single colons)", (int)len,
			    t);
		if (parse_id(p, ilen, &d) < 0)
			return strfmt_fail(
			    why, whylen, EINVAL,
			    "'%.*s' is not a job id (give one like 123, or 123_4 for a "
			    "task of an array)",
			    (int)ilen, p);
		if (add(ts, &d, why, whylen) < 0)
			return -1;
		if (!colon)
			return 0;
		p = colon + 1;
	}
}

/* One term of LEN bytes at T (it holds no ',' or '?'). */
static int parse_term(const char *t, size_t len, struct terms *ts, bool *singleton, char *why,
		      size_t whylen)
{
	const char *colon = memchr(t, ':', len);
	size_t wlen = colon ? (size_t)(colon - t) : len;

	if (wlen == 9 && strncmp(t, "singleton", 9) == 0) {
		if (colon)
			return strfmt_fail(why, whylen, EINVAL,
					   "singleton takes no job ids (give it alone)");
		*singleton = true;
		return 0;
	}
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (wlen != strlen(types[i].word) || strncmp(t, types[i].word, wlen) != 0)
			continue;
		if (!colon)
			return strfmt_fail(why, whylen, EINVAL,
					   "%.*s needs job ids (like %.*s:123)", (int)wlen, t,
					   (int)wlen, t);
		return parse_ids(t, len, colon + 1, (uint8_t)types[i].type, ts, why, whylen);
	}
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (wlen == strlen(unsupported[i]) && strncmp(t, unsupported[i], wlen) == 0)
			return strfmt_fail(why, whylen, EINVAL,
					   "%s dependencies are not supported (use " TYPES ")",
					   unsupported[i]);
	return strfmt_fail(why, whylen, EINVAL, "unknown dependency type '%.*s' (use " TYPES ")",
			   (int)wlen, t);
}

int depspec_parse(const char *s, struct depspec_term **terms, uint16_t *n, bool *any,
		  bool *singleton, char *why, size_t whylen)
{
	struct terms ts = { 0 };
	bool single = false;
	const char *p = s;
	int e;

	if (!*s)
		return strfmt_fail(why, whylen, EINVAL,
				   "empty value (give a dependency like afterok:123 or singleton)");
	if (strchr(s, ',') && strchr(s, '?'))
		return strfmt_fail(
		    why, whylen, EINVAL,
		    "'%s' mixes ',' (all must hold) and '?' (one is enough): use one "
		    "of them",
		    s);
	for (;;) {
		size_t len = strcspn(p, ",?");

		if (len == 0) {
			strfmt_fail(why, whylen, EINVAL,
				    "empty term in '%s' (separate terms with a single ',' or '?')",
				    s);
			goto failed;
		}
		if (parse_term(p, len, &ts, &single, why, whylen) < 0)
			goto failed;
		if (!p[len])
			break;
		p += len + 1;
	}
	*terms = ts.v;
	*n = (uint16_t)ts.n;
	*any = strchr(s, '?') != NULL;
	*singleton = single;
	return 0;
failed:
	e = errno;
	free(ts.v);
	errno = e;
	return -1;
}
