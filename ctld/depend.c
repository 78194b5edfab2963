/* depend.c - job dependencies (see depend.h). */
#include "depend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "depspec.h"
#include "job.h"

/* The first job the reference D covers, or NULL.  Tasks of one array have
 * consecutive ids from the array's id, so they follow each other by id. */
static struct job *first_of(const struct depspec_term *d)
{
	struct job *j = job_find(d->job);
	if (!d->task || !j)
		return j;
	for (; j && j->array_job_id == d->job; j = j->next)
		if (j->array_task_id == d->task_id)
			return j;
	return NULL;
}

int depend_check_exists(const struct depspec_term *deps, size_t n, char *why, size_t whylen)
{
	for (size_t i = 0; i < n; i++) {
		if (first_of(&deps[i]))
			continue;
		if (deps[i].task)
			snprintf(
			    why, whylen,
			    "--dependency names job %u_%u, which does not exist (pacer queue --all lists the jobs known)",
			    deps[i].job, deps[i].task_id);
		else
			snprintf(
			    why, whylen,
			    "--dependency names job %u, which does not exist (pacer queue --all lists the jobs known)",
			    deps[i].job);
		errno = ENOENT;
		return -1;
	}
	return 0;
}

static enum depend_status one(const struct depspec_term *d, const struct job *t)
{
	Pacer__JobState st = (Pacer__JobState)t->state;
	bool final = job_state_final(st);
	switch (d->type) {
	case DEPSPEC_AFTER: return st == PACER__JOB_STATE__JOB_PENDING ? DEPEND_WAIT : DEPEND_OK;
	case DEPSPEC_AFTERANY: return final ? DEPEND_OK : DEPEND_WAIT;
	case DEPSPEC_AFTEROK:
		if (!final)
			return DEPEND_WAIT;
		return st == PACER__JOB_STATE__JOB_COMPLETED && t->exit_code == 0 ? DEPEND_OK
										  : DEPEND_NEVER;
	case DEPSPEC_AFTERNOTOK:
		if (!final)
			return DEPEND_WAIT;
		return st == PACER__JOB_STATE__JOB_COMPLETED && t->exit_code == 0 ? DEPEND_NEVER
										  : DEPEND_OK;
	}
	return DEPEND_NEVER;
}

/* One term: a job, one task, or every task of an array. */
static enum depend_status term(const struct depspec_term *d)
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
