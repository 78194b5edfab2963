/* cpulist.c - sets of os indexes as a bitmap, and their "0-3,8" form. */
#include "cpulist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strfmt.h"

static int grow(struct cpulist *l, uint32_t i)
{
	size_t need = (size_t)i / 64 + 1;
	uint64_t *bits;

	if (need <= l->nwords)
		return 0;
	bits = realloc(l->bits, need * sizeof(*bits));
	if (!bits)
		return -1;
	memset(bits + l->nwords, 0, (need - l->nwords) * sizeof(*bits));
	l->bits = bits;
	l->nwords = need;
	return 0;
}

int cpulist_add(struct cpulist *l, uint32_t i)
{
	if (i > CPULIST_MAX_INDEX) {
		errno = EINVAL;
		return -1;
	}
	if (grow(l, i) < 0)
		return -1;
	l->bits[i / 64] |= UINT64_C(1) << (i % 64);
	return 0;
}

/* The digits at *P, at most CPULIST_MAX_INDEX, advancing *P. */
static int number(const char **p, uint32_t *v)
{
	const char *s = *p;
	uint32_t n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint32_t)(*s - '0');
		if (n > CPULIST_MAX_INDEX)
			return -1;
	}
	*p = s;
	*v = n;
	return 0;
}

int cpulist_add_string(struct cpulist *l, const char *s)
{
	const char *p = s;

	if (!*s)
		return 0;
	for (;;) {
		uint32_t a, b;

		if (number(&p, &a) < 0)
			goto invalid;
		b = a;
		if (*p == '-') {
			p++;
			if (number(&p, &b) < 0 || b < a)
				goto invalid;
		}
		if (*p != ',' && *p != '\0')
			goto invalid;
		if (grow(l, b) < 0)
			return -1;
		for (uint32_t i = a; i <= b; i++)
			l->bits[i / 64] |= UINT64_C(1) << (i % 64);
		if (!*p)
			return 0;
		p++;
	}
invalid:
	errno = EINVAL;
	return -1;
}

int cpulist_add_all(struct cpulist *l, const struct cpulist *other)
{
	if (other->nwords == 0)
		return 0;
	if (grow(l, (uint32_t)(other->nwords * 64 - 1)) < 0)
		return -1;
	for (size_t w = 0; w < other->nwords; w++)
		l->bits[w] |= other->bits[w];
	return 0;
}

void cpulist_remove_all(struct cpulist *l, const struct cpulist *other)
{
	for (size_t w = 0; w < l->nwords && w < other->nwords; w++)
		l->bits[w] &= ~other->bits[w];
}

bool cpulist_has(const struct cpulist *l, uint32_t i)
{
	return (size_t)i / 64 < l->nwords && (l->bits[i / 64] >> (i % 64)) & 1;
}

size_t cpulist_count(const struct cpulist *l)
{
	size_t n = 0;

	for (size_t w = 0; w < l->nwords; w++)
		n += (size_t)__builtin_popcountll(l->bits[w]);
	return n;
}

int cpulist_format(const struct cpulist *l, char *buf, size_t size)
{
	struct strfmt o = { buf, size, 0 };
	uint32_t max = (uint32_t)(l->nwords * 64);
	char tmp[32];

	for (uint32_t i = 0; i < max; i++) {
		uint32_t j = i;

		if (!cpulist_has(l, i))
			continue;
		while (j + 1 < max && cpulist_has(l, j + 1))
			j++;
		int n = j == i ? snprintf(tmp, sizeof(tmp), "%s%u", o.len ? "," : "", i)
			       : snprintf(tmp, sizeof(tmp), "%s%u-%u", o.len ? "," : "", i, j);
		strfmt_put(&o, tmp, (size_t)n);
		i = j;
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

void cpulist_clear(struct cpulist *l)
{
	if (l->nwords)
		memset(l->bits, 0, l->nwords * sizeof(*l->bits));
}

void cpulist_free(struct cpulist *l)
{
	free(l->bits);
	l->bits = NULL;
	l->nwords = 0;
}
