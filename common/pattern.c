/* pattern.c - expand %j, %x, %u, %N, %A, %a in output file names. */
#include "pattern.h"
#include "strfmt.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* A uint32_t has at most 10 digits: wider padding is surely a typo, and
 * clamping keeps "%999999999j" from producing a gigabyte of zeros. */
#define WIDTH_MAX 10

static void put_str(struct strfmt *o, const char *s)
{
	if (s)
		strfmt_put(o, s, strlen(s));
}

static void put_num(struct strfmt *o, uint32_t n, int width)
{
	char tmp[WIDTH_MAX + 2];
	int len = snprintf(tmp, sizeof(tmp), "%0*u", width, n);

	strfmt_put(o, tmp, (size_t)len);
}

/* Expand the sequence after a '%' at P; returns how many bytes it used, or
 * 0 when it is not one we know (the caller then copies the '%' as is). */
static size_t expand_one(struct strfmt *o, const char *p, const struct pattern_vars *v)
{
	const char *q = p;
	int width = 0;

	for (; *q >= '0' && *q <= '9'; q++)
		width = width >= WIDTH_MAX ? WIDTH_MAX : width * 10 + (*q - '0');
	if (width > WIDTH_MAX)
		width = WIDTH_MAX;
	switch (*q) {
	case 'j': put_num(o, v->job_id, width); break;
	case 'A': put_num(o, v->array_job_id ? v->array_job_id : v->job_id, width); break;
	case 'a':
		put_num(o, v->array_job_id ? v->array_task_id : PATTERN_NO_ARRAY_TASK, width);
		break;
	/* Slurm pads only numbers; a padded name would not be the name. */
	case 'x': put_str(o, v->job_name); break;
	case 'u': put_str(o, v->user); break;
	case 'N': put_str(o, v->node); break;
	default: return 0;
	}
	return (size_t)(q + 1 - p);
}

int pattern_expand(const char *pat, const struct pattern_vars *v, char *buf, size_t size)
{
	static const struct pattern_vars none;
	struct strfmt o = { buf, size, 0 };
	const char *p = pat ? pat : "";

	if (!v)
		v = &none;
	while (*p) {
		const char *pct = strchr(p, '%');
		size_t used;

		if (!pct) {
			put_str(&o, p);
			break;
		}
		strfmt_put(&o, p, (size_t)(pct - p));
		p = pct + 1;
		if (*p == '%') {
			strfmt_put(&o, "%", 1);
			p++;
		} else if ((used = expand_one(&o, p, v)) > 0) {
			p += used;
		} else {
			strfmt_put(&o, "%", 1);
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	if (o.len > INT_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	return (int)o.len;
}
