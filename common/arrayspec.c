/* arrayspec.c - job array specifications (see arrayspec.h). */
#include "arrayspec.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number at *P, at most MAX; advances *P. */
static int number(const char **p, uint32_t max, uint32_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9') {
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > max)
			return -1;
		s++;
	}
	*v = (uint32_t)x;
	*p = s;
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
	uint32_t *v = NULL;
	size_t nv = 0;
	const char *p = s;
	*max_running = 0;
	if (!*s) {
		snprintf(err, errlen, "empty --array: give indexes like 0-99 or 1,3,5");
		goto invalid;
	}
	/* Count first, so a huge range is refused before any memory is used. */
	for (int pass = 0; pass < 2; pass++) {
		size_t count = 0;
		p = s;
		for (;;) {
			uint32_t a, b, step = 1;
			const char *at = p;
			if (number(&p, ARRAYSPEC_MAX_INDEX, &a) < 0) {
				snprintf(err, errlen,
					 "--array '%s': expected an index (0 to %u) at '%s'", s,
					 ARRAYSPEC_MAX_INDEX, at);
				goto invalid;
			}
			b = a;
			if (*p == '-') {
				p++;
				at = p;
				if (number(&p, ARRAYSPEC_MAX_INDEX, &b) < 0 || b < a) {
					snprintf(err, errlen,
						 "--array '%s': range end at '%s' must be an index "
						 "not below %u",
						 s, at, a);
					goto invalid;
				}
				if (*p == ':') {
					p++;
					at = p;
					if (number(&p, ARRAYSPEC_MAX_INDEX, &step) < 0 ||
					    step == 0) {
						snprintf(err, errlen,
							 "--array '%s': step at '%s' must be a "
							 "positive number",
							 s, at);
						goto invalid;
					}
				}
			}
			uint64_t k = ((uint64_t)b - a) / step + 1;
			if (count + k > ARRAYSPEC_MAX_TASKS) {
				snprintf(err, errlen,
					 "--array '%s' has more than %u tasks: split it into "
					 "several arrays",
					 s, ARRAYSPEC_MAX_TASKS);
				goto invalid;
			}
			if (pass == 1)
				for (uint64_t x = a; x <= b; x += step)
					v[nv++] = (uint32_t)x;
			count += (size_t)k;
			if (*p == ',') {
				p++;
				continue;
			}
			break;
		}
		if (*p == '%') {
			p++;
			const char *at = p;
			if (number(&p, UINT32_MAX - 1, max_running) < 0 || *max_running == 0) {
				snprintf(err, errlen,
					 "--array '%s': after %% give the most tasks to run at "
					 "once (at least 1), not '%s'",
					 s, at);
				goto invalid;
			}
		}
		if (*p) {
			snprintf(err, errlen, "--array '%s': unexpected '%s'", s, p);
			goto invalid;
		}
		if (pass == 0) {
			v = malloc(count * sizeof(*v));
			if (!v) {
				snprintf(err, errlen, "out of memory");
				return -1;
			}
		}
	}
	qsort(v, nv, sizeof(*v), cmp_u32);
	size_t w = 0;
	for (size_t i = 0; i < nv; i++)
		if (w == 0 || v[w - 1] != v[i])
			v[w++] = v[i];
	*idx = v;
	*n = w;
	return 0;
invalid:
	free(v);
	errno = EINVAL;
	return -1;
}
