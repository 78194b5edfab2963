/* depend.c - job dependencies (see depend.h). */
#include "depend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "job.h"

#define DEPEND_MAX_TERMS 1024

static const struct {
	const char *word;
	enum dep_type type;
} types[] = {
	{ "after", DEP_AFTER },
	{ "afterany", DEP_AFTERANY },
	{ "afterok", DEP_AFTEROK },
	{ "afternotok", DEP_AFTERNOTOK },
};

static int parse_u32(const char *s, size_t len, uint32_t *v)
{
	if (len == 0 || len > 10)
		return -1;
	uint64_t x = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* "123" or "123_4" of length LEN. */
static int parse_ref(const char *s, size_t len, struct dep *d)
{
	const char *us = memchr(s, '_', len);
	if (!us)
		return parse_u32(s, len, &d->job) < 0 || d->job == 0 ? -1 : 0;
	d->task = true;
	if (parse_u32(s, (size_t)(us - s), &d->job) < 0 || d->job == 0)
		return -1;
	return parse_u32(us + 1, len - (size_t)(us - s) - 1, &d->task_id);
}

int depend_parse(const char *s, struct dep **deps, uint16_t *n, bool *any, bool *singleton,
		 char *why, size_t whylen)
{
	struct dep *v = NULL;
	size_t nv = 0, cap = 0;
	bool saw_comma = false, saw_q = false;
	*any = *singleton = false;
	const char *p = s;
	while (*p) {
		size_t tlen = strcspn(p, ",?");
		const char *colon = memchr(p, ':', tlen);
		size_t wlen = colon ? (size_t)(colon - p) : tlen;
		if (wlen == 9 && strncmp(p, "singleton", 9) == 0 && !colon) {
			*singleton = true;
		} else {
			int type = -1;
			for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
				if (strlen(types[i].word) == wlen &&
				    strncmp(p, types[i].word, wlen) == 0)
					type = (int)types[i].type;
			if (type < 0) {
				snprintf(
				    why, whylen,
				    "dependency '%.*s' is not one of after, afterany, afterok, "
				    "afternotok, singleton",
				    (int)wlen, p);
				goto invalid;
			}
			if (!colon) {
				snprintf(why, whylen, "dependency '%.*s' needs :JOBID", (int)wlen,
					 p);
				goto invalid;
			}
			const char *q = colon + 1, *end = p + tlen;
			do {
				size_t ilen = strcspn(q, ":,?");
				if (q + ilen > end)
					ilen = (size_t)(end - q);
				struct dep d = { .type = (uint8_t)type };
				if (parse_ref(q, ilen, &d) < 0) {
					snprintf(why, whylen,
						 "dependency job '%.*s' is not a job id (like 123 "
						 "or 123_4)",
						 (int)ilen, q);
					goto invalid;
				}
				if (nv == cap) {
					if (cap >= DEPEND_MAX_TERMS) {
						snprintf(why, whylen,
							 "more than %d jobs in --dependency",
							 DEPEND_MAX_TERMS);
						goto invalid;
					}
					cap = cap ? cap * 2 : 4;
					struct dep *nvp = realloc(v, cap * sizeof(*v));
					if (!nvp) {
						free(v);
						return -1;
					}
					v = nvp;
				}
				v[nv++] = d;
				q += ilen;
				if (q < end)
					q++; /* ':' */
				else
					break;
				if (q == end) {
					snprintf(why, whylen, "dependency '%.*s' ends with ':'",
						 (int)tlen, p);
					goto invalid;
				}
			} while (q < end);
		}
		p += tlen;
		if (*p == ',')
			saw_comma = true;
		else if (*p == '?')
			saw_q = true;
		if (*p) {
			p++;
			if (!*p) {
				snprintf(why, whylen, "dependency '%s' ends with a separator", s);
				goto invalid;
			}
		}
	}
	if (saw_comma && saw_q) {
		snprintf(why, whylen,
			 "dependency '%s' mixes ',' (all) and '?' (any): use one of them", s);
		goto invalid;
	}
	if (!nv && !*singleton) {
		snprintf(why, whylen, "empty dependency");
		goto invalid;
	}
	*any = saw_q;
	*deps = v;
	*n = (uint16_t)nv;
	return 0;
invalid:
	free(v);
	errno = EINVAL;
	return -1;
}

/* The first job the reference D covers, or NULL.  Tasks of one array have
 * consecutive ids from the array's id, so they follow each other by id. */
static struct job *first_of(const struct dep *d)
{
	struct job *j = job_find(d->job);
	if (!d->task || !j)
		return j;
	for (; j && j->array_job_id == d->job; j = j->next)
		if (j->array_task_id == d->task_id)
			return j;
	return NULL;
}

int depend_check_exists(const struct dep *deps, size_t n, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		if (first_of(&deps[i]))
			continue;
		if (deps[i].task)
			snprintf(why, whylen, "dependency on job %u_%u, which does not exist",
				 deps[i].job, deps[i].task_id);
		else
			snprintf(why, whylen, "dependency on job %u, which does not exist",
				 deps[i].job);
		errno = ENOENT;
		return -1;
	}
	return 0;
}

static enum depend_status one(const struct dep *d, const struct job *t)
{
	Pacer__JobState st = (Pacer__JobState)t->state;
	bool final = job_state_final(st);
	switch (d->type) {
	case DEP_AFTER: return st == PACER__JOB_STATE__JOB_PENDING ? DEPEND_WAIT : DEPEND_OK;
	case DEP_AFTERANY: return final ? DEPEND_OK : DEPEND_WAIT;
	case DEP_AFTEROK:
		if (!final)
			return DEPEND_WAIT;
		return st == PACER__JOB_STATE__JOB_COMPLETED && t->exit_code == 0 ? DEPEND_OK
										  : DEPEND_NEVER;
	case DEP_AFTERNOTOK:
		if (!final)
			return DEPEND_WAIT;
		return st == PACER__JOB_STATE__JOB_COMPLETED && t->exit_code == 0 ? DEPEND_NEVER
										  : DEPEND_OK;
	}
	return DEPEND_NEVER;
}

/* One term: a job, one task, or every task of an array. */
static enum depend_status term(const struct dep *d)
{
	struct job *t = first_of(d);
	if (!t)
		return DEPEND_OK;
	if (d->task || t->array_job_id != t->id)
		return one(d, t);
	enum depend_status all = DEPEND_OK;
	for (; t && t->array_job_id == d->job; t = t->next) {
		enum depend_status s = one(d, t);
		if (s == DEPEND_NEVER)
			return DEPEND_NEVER;
		if (s == DEPEND_WAIT)
			all = DEPEND_WAIT;
	}
	return all;
}

static bool singleton_clear(const struct job *j)
{
	for (const struct job *o = job_first(); o && o->id < j->id; o = o->next)
		if (o->uid == j->uid && !job_state_final(o->state) && strcmp(o->name, j->name) == 0)
			return false;
	return true;
}

enum depend_status depend_eval(const struct job *j)
{
	if (!j->ndeps && !j->singleton)
		return DEPEND_OK;
	bool any_ok = false, all_never = j->ndeps > 0, waiting = false;
	for (uint16_t i = 0; i < j->ndeps; i++) {
		enum depend_status s = term(&j->deps[i]);
		if (s == DEPEND_OK)
			any_ok = true;
		if (s != DEPEND_NEVER)
			all_never = false;
		if (j->deps_any)
			continue;
		if (s == DEPEND_NEVER)
			return DEPEND_NEVER;
		if (s == DEPEND_WAIT)
			waiting = true;
	}
	if (j->deps_any && j->ndeps) {
		if (all_never)
			return DEPEND_NEVER;
		if (!any_ok)
			return DEPEND_WAIT;
	} else if (waiting) {
		return DEPEND_WAIT;
	}
	return !j->singleton || singleton_clear(j) ? DEPEND_OK : DEPEND_WAIT;
}
