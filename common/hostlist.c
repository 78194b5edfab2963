/* hostlist.c - Slurm-style host lists. */
#include "hostlist.h"
#include "strfmt.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Numbers longer than this are not ranges: 18 digits always fit a uint64_t,
 * so "value + 1" and range sizes never overflow. */
#define NUM_DIGITS_MAX 18

struct hostlist {
	char **names;
	size_t count;
	size_t cap;
};

struct hostlist *hostlist_create(void)
{
	return calloc(1, sizeof(struct hostlist));
}

void hostlist_destroy(struct hostlist *hl)
{
	if (!hl)
		return;
	for (size_t i = 0; i < hl->count; i++)
		free(hl->names[i]);
	free(hl->names);
	free(hl);
}

static int reserve(struct hostlist *hl, size_t extra)
{
	size_t need, cap;
	char **names;

	if (extra > SIZE_MAX / sizeof(char *) - hl->count) {
		errno = ENOMEM;
		return -1;
	}
	need = hl->count + extra;
	if (need <= hl->cap)
		return 0;
	cap = hl->cap ? hl->cap : 16;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 / sizeof(char *) ? need : cap * 2;
	names = realloc(hl->names, cap * sizeof(char *));
	if (!names)
		return -1;
	hl->names = names;
	hl->cap = cap;
	return 0;
}

/* Takes ownership of NAME, even on failure. */
static int push(struct hostlist *hl, char *name)
{
	if (!name || reserve(hl, 1) < 0) {
		free(name);
		return -1;
	}
	hl->names[hl->count++] = name;
	return 0;
}

/* Characters that can never be part of a host name in an expression. */
static bool bad_char(char c)
{
	return (unsigned char)c <= ' ' || c == '[' || c == ']' || c == ',' || c == 0x7f;
}

static bool plain_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (bad_char(s[i]))
			return false;
	return true;
}

int hostlist_append(struct hostlist *hl, const char *name)
{
	if (!hl || !name || !*name || !plain_ok(name, strlen(name))) {
		errno = EINVAL;
		return -1;
	}
	return push(hl, strdup(name));
}

size_t hostlist_count(const struct hostlist *hl)
{
	return hl ? hl->count : 0;
}

const char *hostlist_nth(const struct hostlist *hl, size_t n)
{
	if (!hl || n >= hl->count)
		return NULL;
	return hl->names[n];
}

long hostlist_find(const struct hostlist *hl, const char *name)
{
	if (!hl || !name)
		return -1;
	for (size_t i = 0; i < hl->count; i++)
		if (strcmp(hl->names[i], name) == 0)
			return (long)i;
	return -1;
}

/* ---- decoding ------------------------------------------------------------ */

/* One bracketed range "lo" or "lo-hi" of LEN bytes at S. */
struct range {
	uint64_t lo, hi;
	int width;
};

static int parse_num(const char *s, size_t len, uint64_t *v)
{
	uint64_t n = 0;

	if (len == 0 || len > NUM_DIGITS_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	*v = n;
	return 0;
}

static int parse_range(const char *s, size_t len, struct range *r)
{
	const char *dash = memchr(s, '-', len);
	size_t lolen = dash ? (size_t)(dash - s) : len;

	if (parse_num(s, lolen, &r->lo) < 0)
		return -1;
	r->hi = r->lo;
	/* "[01-10]" pads to the width of the low bound, as Slurm does. */
	r->width = (int)lolen;
	if (dash && parse_num(dash + 1, len - lolen - 1, &r->hi) < 0)
		return -1;
	return r->lo <= r->hi ? 0 : -1;
}

struct affix {
	const char *s;
	size_t len;
};

static int expand_range(struct hostlist *out, struct affix pre, struct affix suf,
			const struct range *r)
{
	size_t size = pre.len + suf.len + NUM_DIGITS_MAX + 2;
	uint64_t v = r->lo;

	for (;;) {
		char *name = malloc(size);

		if (!name)
			return -1;
		snprintf(name, size, "%.*s%0*llu%.*s", (int)pre.len, pre.s, r->width,
			 (unsigned long long)v, (int)suf.len, suf.s);
		if (push(out, name) < 0)
			return -1;
		if (v == r->hi)
			return 0;
		v++;
	}
}

/* What one expression has expanded to so far, against HOSTLIST_MAX and
 * HOSTLIST_MAX_BYTES. */
struct budget {
	size_t names;
	uint64_t bytes;
};

static unsigned num_digits(uint64_t v)
{
	unsigned d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Bytes (NULs included) of the names "pre<v>suf" for v in R, each number
 * padded to R's width: counted per number of digits, before anything is
 * allocated. */
static uint64_t range_bytes(struct affix pre, struct affix suf, const struct range *r)
{
	uint64_t bytes = 0, lo = r->lo;

	while (lo <= r->hi) {
		unsigned d = num_digits(lo);
		uint64_t top = 9; /* the largest number of d digits */
		for (unsigned k = 1; k < d; k++)
			top = top * 10 + 9;
		uint64_t hi = top < r->hi ? top : r->hi;
		uint64_t w = d > (unsigned)r->width ? d : (unsigned)r->width;
		bytes += (hi - lo + 1) * (pre.len + suf.len + w + 1);
		if (hi == r->hi)
			break;
		lo = hi + 1;
	}
	return bytes;
}

/* Take N more names of BYTES bytes from B; -1 with E2BIG past a cap. */
static int spend(struct budget *b, uint64_t n, uint64_t bytes)
{
	if (n > HOSTLIST_MAX - b->names || bytes > HOSTLIST_MAX_BYTES - b->bytes) {
		errno = E2BIG;
		return -1;
	}
	b->names += (size_t)n;
	b->bytes += bytes;
	return 0;
}

/* Expand "pre[ranges]suf" (LEN bytes at S, one bracket pair known to be
 * balanced) into OUT, counting what it costs in *TOTAL. */
static int expand_brackets(struct hostlist *out, const char *s, size_t len, struct budget *total)
{
	const char *lb = memchr(s, '[', len);
	const char *rb = memchr(lb, ']', len - (size_t)(lb - s));
	struct affix pre = { s, (size_t)(lb - s) };
	struct affix suf = { rb + 1, len - (size_t)(rb + 1 - s) };
	const char *p = lb + 1;

	if (!plain_ok(pre.s, pre.len) || !plain_ok(suf.s, suf.len))
		goto invalid;
	while (p <= rb) {
		const char *end = memchr(p, ',', (size_t)(rb - p));
		struct range r;

		if (!end)
			end = rb;
		if (parse_range(p, (size_t)(end - p), &r) < 0)
			goto invalid;
		/* r.hi - r.lo + 1 cannot overflow: 18 digits at most */
		if (r.hi - r.lo >= HOSTLIST_MAX ||
		    spend(total, r.hi - r.lo + 1, range_bytes(pre, suf, &r)) < 0) {
			errno = E2BIG;
			return -1;
		}
		if (expand_range(out, pre, suf, &r) < 0)
			return -1;
		p = end + 1;
	}
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int expand_item(struct hostlist *out, const char *s, size_t len, struct budget *total)
{
	while (len && is_space(*s)) {
		s++;
		len--;
	}
	while (len && is_space(s[len - 1]))
		len--;
	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (memchr(s, '[', len))
		return expand_brackets(out, s, len, total);
	if (!plain_ok(s, len)) {
		errno = EINVAL;
		return -1;
	}
	if (spend(total, 1, (uint64_t)len + 1) < 0)
		return -1;
	return push(out, strndup(s, len));
}

/* Split EXPR at top-level commas.  Every name may hold one bracket pair:
 * nesting, a second pair or an unbalanced bracket is a syntax error. */
static int expand_expr(struct hostlist *out, const char *expr)
{
	struct budget total = { 0, 0 };
	const char *item = expr, *p;
	int brackets = 0;
	bool open = false;

	if (!*expr || !expr[strspn(expr, " \t\n\r\v\f")])
		return 0;
	for (p = expr;; p++) {
		if (*p == '[') {
			if (open || brackets)
				goto invalid;
			open = true;
		} else if (*p == ']') {
			if (!open)
				goto invalid;
			open = false;
			brackets++;
		} else if ((*p == ',' && !open) || !*p) {
			if (open)
				goto invalid;
			if (expand_item(out, item, (size_t)(p - item), &total) < 0)
				return -1;
			if (!*p)
				return 0;
			item = p + 1;
			brackets = 0;
		}
	}
invalid:
	errno = EINVAL;
	return -1;
}

int hostlist_append_expr(struct hostlist *hl, const char *expr)
{
	struct hostlist *tmp;
	int ret = -1;

	if (!hl || !expr) {
		errno = EINVAL;
		return -1;
	}
	tmp = hostlist_create();
	if (!tmp)
		return -1;
	/* Expand aside so that a bad expression leaves HL untouched. */
	if (expand_expr(tmp, expr) < 0 || reserve(hl, tmp->count) < 0)
		goto out;
	if (tmp->count)
		memcpy(hl->names + hl->count, tmp->names, tmp->count * sizeof(char *));
	hl->count += tmp->count;
	tmp->count = 0;
	ret = 0;
out:
	hostlist_destroy(tmp);
	return ret;
}

struct hostlist *hostlist_decode(const char *expr)
{
	struct hostlist *hl;
	int saved;

	if (!expr) {
		errno = EINVAL;
		return NULL;
	}
	hl = hostlist_create();
	if (!hl)
		return NULL;
	if (expand_expr(hl, expr) < 0) {
		saved = errno;
		hostlist_destroy(hl);
		errno = saved;
		return NULL;
	}
	return hl;
}

/* ---- sorting ------------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Compare digit runs by value, so node9 < node10 and 10.0.0.9 < 10.0.0.10;
 * equal values with different padding fall back to strcmp to stay total. */
static int natural_cmp(const char *a, const char *b)
{
	const char *a0 = a, *b0 = b;

	while (*a && *b) {
		if (is_digit(*a) && is_digit(*b)) {
			size_t la, lb;
			int r;

			while (*a == '0' && is_digit(a[1]))
				a++;
			while (*b == '0' && is_digit(b[1]))
				b++;
			for (la = 0; is_digit(a[la]); la++)
				;
			for (lb = 0; is_digit(b[lb]); lb++)
				;
			if (la != lb)
				return la < lb ? -1 : 1;
			r = memcmp(a, b, la);
			if (r)
				return r;
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	if (*a || *b)
		return *a ? 1 : -1;
	return strcmp(a0, b0);
}

static int natural_qsort(const void *a, const void *b)
{
	return natural_cmp(*(char *const *)a, *(char *const *)b);
}

void hostlist_uniq(struct hostlist *hl)
{
	size_t out = 0;

	if (!hl || hl->count < 2)
		return;
	qsort(hl->names, hl->count, sizeof(char *), natural_qsort);
	for (size_t i = 1; i < hl->count; i++) {
		if (strcmp(hl->names[out], hl->names[i]) == 0)
			free(hl->names[i]);
		else
			hl->names[++out] = hl->names[i];
	}
	hl->count = out + 1;
}

/* ---- encoding ------------------------------------------------------------ */

/* A name seen as prefix, number, suffix: "n01-ib" is "n", "01", "-ib".
 * The number is the last run of digits; names without one have num_len 0. */
struct split {
	const char *name;
	size_t num_off, num_len;
	uint64_t value;
};

static struct split split_name(const char *name)
{
	struct split sp = { name, 0, 0, 0 };
	size_t end = strlen(name), start;

	while (end && !is_digit(name[end - 1]))
		end--;
	start = end;
	while (start && is_digit(name[start - 1]))
		start--;
	if (end > start && parse_num(name + start, end - start, &sp.value) == 0) {
		sp.num_off = start;
		sp.num_len = end - start;
	}
	return sp;
}

static bool padded(const struct split *sp)
{
	return sp->num_len > 1 && sp->name[sp->num_off] == '0';
}

/* Same prefix and suffix: the two names can share one bracket. */
static bool same_group(const struct split *a, const struct split *b)
{
	const char *sa = a->name + a->num_off + a->num_len;
	const char *sb = b->name + b->num_off + b->num_len;

	return a->num_len && b->num_len && a->num_off == b->num_off &&
	       memcmp(a->name, b->name, a->num_off) == 0 && strcmp(sa, sb) == 0;
}

/* NEXT may extend a range that starts at FIRST and ends at LAST: decoding
 * pads every member to the width of the low bound, so a padded range needs
 * members of that exact width and an unpadded one members without zeros. */
static bool extends(const struct split *first, const struct split *last, const struct split *next)
{
	if (next->value != last->value + 1)
		return false;
	if (padded(first))
		return next->num_len == first->num_len;
	return !padded(next);
}

static void out_num(struct strfmt *o, const struct split *sp)
{
	strfmt_put(o, sp->name + sp->num_off, sp->num_len);
}

/* Write the ranges of names [I, J) of one group inside brackets. */
static void encode_group(struct strfmt *o, const struct split *sp, size_t i, size_t j)
{
	const char *suffix = sp[i].name + sp[i].num_off + sp[i].num_len;

	strfmt_put(o, sp[i].name, sp[i].num_off);
	strfmt_put(o, "[", 1);
	while (i < j) {
		size_t k = i;

		while (k + 1 < j && extends(&sp[i], &sp[k], &sp[k + 1]))
			k++;
		out_num(o, &sp[i]);
		if (k > i) {
			strfmt_put(o, "-", 1);
			out_num(o, &sp[k]);
		}
		if (k + 1 < j)
			strfmt_put(o, ",", 1);
		i = k + 1;
	}
	strfmt_put(o, "]", 1);
	strfmt_put(o, suffix, strlen(suffix));
}

static void encode_all(struct strfmt *o, const struct split *sp, size_t count)
{
	size_t i = 0;

	while (i < count) {
		size_t j = i + 1;

		if (i)
			strfmt_put(o, ",", 1);
		while (j < count && same_group(&sp[i], &sp[j]))
			j++;
		if (j == i + 1)
			strfmt_put(o, sp[i].name, strlen(sp[i].name));
		else
			encode_group(o, sp, i, j);
		i = j;
	}
}

int hostlist_encode(const struct hostlist *hl, char *buf, size_t size)
{
	struct strfmt o = { buf, size, 0 };
	struct split *sp = NULL;
	size_t count = hostlist_count(hl);

	if (count) {
		sp = calloc(count, sizeof(*sp));
		if (!sp)
			return -1;
		for (size_t i = 0; i < count; i++)
			sp[i] = split_name(hl->names[i]);
	}
	encode_all(&o, sp, count);
	free(sp);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	if (o.len > INT_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	return (int)o.len;
}

char *hostlist_encode_alloc(const struct hostlist *hl)
{
	int len = hostlist_encode(hl, NULL, 0);
	char *s;

	if (len < 0)
		return NULL;
	s = malloc((size_t)len + 1);
	if (!s)
		return NULL;
	if (hostlist_encode(hl, s, (size_t)len + 1) < 0) {
		free(s);
		return NULL;
	}
	return s;
}
