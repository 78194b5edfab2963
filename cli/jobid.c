/* jobid.c - job ids and array task ids, typed and printed. */
#include "jobid.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int jobid_format(uint32_t id, uint32_t array_job_id, uint32_t array_task_id, char *buf, size_t size)
{
	if (array_job_id)
		return snprintf(buf, size, "%" PRIu32 "_%" PRIu32, array_job_id, array_task_id);
	return snprintf(buf, size, "%" PRIu32, id);
}

void jobid_list_free(struct jobid_list *l)
{
	free(l->ids);
	free(l->tasks);
	free(l->task_ptrs);
	free(l->steps);
	free(l->step_ptrs);
	memset(l, 0, sizeof(*l));
}

/* LEN digits at S, at most UINT32_MAX. */
static int parse_u32(const char *s, size_t len, uint32_t *v)
{
	uint64_t n = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*v = (uint32_t)n;
	return 0;
}

static int add_id(struct jobid_list *l, uint32_t id)
{
	uint32_t *grown = realloc(l->ids, (l->nids + 1) * sizeof(*grown));

	if (!grown)
		return -1;
	l->ids = grown;
	l->ids[l->nids++] = id;
	return 0;
}

/* Room for N more tasks. */
static int reserve_tasks(struct jobid_list *l, size_t n)
{
	Pacer__ArrayTaskRef *grown;

	if (n > JOBID_MAX_TASKS - l->ntasks) {
		errno = E2BIG;
		return -1;
	}
	grown = realloc(l->tasks, (l->ntasks + n) * sizeof(*grown));
	if (!grown)
		return -1;
	l->tasks = grown;
	return 0;
}

static void push_task(struct jobid_list *l, uint32_t array, uint32_t task)
{
	Pacer__ArrayTaskRef *t = &l->tasks[l->ntasks++];

	pacer__array_task_ref__init(t);
	t->array_job_id = array;
	t->task_id = task;
}

/* "1-3,5" (LEN bytes at S): every index, for ARRAY. */
static int add_ranges(struct jobid_list *l, uint32_t array, const char *s, size_t len)
{
	const char *p = s, *end = s + len;

	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t ilen = comma ? (size_t)(comma - p) : (size_t)(end - p);
		const char *dash = memchr(p, '-', ilen);
		uint32_t a, b;

		if (dash) {
			if (parse_u32(p, (size_t)(dash - p), &a) < 0 ||
			    parse_u32(dash + 1, ilen - (size_t)(dash - p) - 1, &b) < 0 || b < a)
				goto invalid;
		} else if (parse_u32(p, ilen, &a) < 0) {
			goto invalid;
		} else {
			b = a;
		}
		if (reserve_tasks(l, (size_t)b - a + 1) < 0)
			return -1;
		for (uint64_t i = a; i <= b; i++)
			push_task(l, array, (uint32_t)i);
		if (!comma)
			return 0;
		p = comma + 1;
	}
invalid:
	errno = EINVAL;
	return -1;
}

/* "42.3" (LEN bytes at S, DOT at its '.'). */
static int add_step(struct jobid_list *l, const char *s, size_t len, const char *dot)
{
	uint32_t id, step;
	if (parse_u32(s, (size_t)(dot - s), &id) < 0 || id == 0 ||
	    parse_u32(dot + 1, len - (size_t)(dot - s) - 1, &step) < 0) {
		errno = EINVAL;
		return -1;
	}
	Pacer__StepRef *grown = realloc(l->steps, (l->nsteps + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	l->steps = grown;
	pacer__step_ref__init(&grown[l->nsteps]);
	grown[l->nsteps].job_id = id;
	grown[l->nsteps].step_id = step;
	l->nsteps++;
	return 0;
}

/* One item of LEN bytes at S: "42", "42_7" or "42_[1-3,5]"; with STEPS,
 * "42.3" too. */
static int add_item(struct jobid_list *l, const char *s, size_t len, bool steps)
{
	const char *us = memchr(s, '_', len);
	const char *dot = memchr(s, '.', len);
	size_t rest;
	uint32_t id, task;

	if (dot) {
		if (!steps || us) {
			errno = EINVAL;
			return -1;
		}
		return add_step(l, s, len, dot);
	}
	if (!us) {
		if (parse_u32(s, len, &id) < 0 || id == 0) {
			errno = EINVAL;
			return -1;
		}
		return add_id(l, id);
	}
	if (parse_u32(s, (size_t)(us - s), &id) < 0 || id == 0) {
		errno = EINVAL;
		return -1;
	}
	us++;
	rest = len - (size_t)(us - s);
	if (rest >= 2 && us[0] == '[' && us[rest - 1] == ']')
		return add_ranges(l, id, us + 1, rest - 2);
	if (parse_u32(us, rest, &task) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (reserve_tasks(l, 1) < 0)
		return -1;
	push_task(l, id, task);
	return 0;
}

/* Point task_ptrs at tasks again (tasks may have moved), step_ptrs at steps. */
static int refresh_ptrs(struct jobid_list *l)
{
	Pacer__ArrayTaskRef **p;

	if (l->nsteps) {
		Pacer__StepRef **sp = realloc(l->step_ptrs, l->nsteps * sizeof(*sp));
		if (!sp)
			return -1;
		l->step_ptrs = sp;
		for (size_t i = 0; i < l->nsteps; i++)
			sp[i] = &l->steps[i];
	}
	if (l->ntasks == 0)
		return 0;
	p = realloc(l->task_ptrs, l->ntasks * sizeof(*p));
	if (!p)
		return -1;
	l->task_ptrs = p;
	for (size_t i = 0; i < l->ntasks; i++)
		p[i] = &l->tasks[i];
	return 0;
}

static int parse_list(const char *list, struct jobid_list *l, bool steps, char *err, size_t errlen)
{
	const char *p = list;

	for (;;) {
		/* Commas inside brackets belong to the item ("42_[1,3]"). */
		size_t len = 0;
		int depth = 0;

		for (; p[len] && (p[len] != ',' || depth > 0); len++)
			depth += p[len] == '[' ? 1 : p[len] == ']' ? -1 : 0;
		if (add_item(l, p, len, steps) < 0) {
			int saved = errno;
			if (saved == ENOMEM)
				snprintf(err, errlen, "out of memory");
			else if (saved == E2BIG)
				snprintf(err, errlen,
					 "'%.*s' names more than %d array tasks (name a whole "
					 "array by its id, like 42)",
					 (int)len, p, JOBID_MAX_TASKS);
			else if (memchr(p, '.', len) && steps)
				snprintf(err, errlen,
					 "invalid step '%.*s' (a step is JOB.STEP, like 42.0, "
					 "with the job's own id)",
					 (int)len, p);
			else if (memchr(p, '.', len))
				snprintf(err, errlen,
					 "invalid job id '%.*s' (steps like 42.0 are taken by "
					 "pacer cancel only)",
					 (int)len, p);
			else if (memchr(p, '_', len))
				snprintf(err, errlen,
					 "invalid array task '%.*s' (write one task as 42_7, "
					 "several as 42_[1-3,5])",
					 (int)len, p);
			else
				snprintf(err, errlen,
					 "invalid job id '%.*s' (a job id is a whole number like "
					 "42)",
					 (int)len, p);
			refresh_ptrs(l);
			errno = saved;
			return -1;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	if (refresh_ptrs(l) < 0) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int jobid_parse_list(const char *list, struct jobid_list *l, char *err, size_t errlen)
{
	return parse_list(list, l, false, err, errlen);
}

int jobid_parse_steps(const char *list, struct jobid_list *l, char *err, size_t errlen)
{
	return parse_list(list, l, true, err, errlen);
}
