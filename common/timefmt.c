/* timefmt.c - Slurm's duration formats, timestamps and the monotonic clock. */
#include "timefmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>

#define FORMATS "(formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)"

/* Fields are clamped here while reading: big enough to overflow 32 bits
 * whatever the field, small enough that days * 86400 fits in 64. */
#define FIELD_CLAMP 1000000000000ULL

struct fields {
	uint64_t v[4]; /* days, hours, minutes, seconds as typed */
	int n;         /* numbers before the end, not counting days */
	bool days;
};

__attribute__((format(printf, 5, 6))) static int fail(int errnum, const char *s, char *err,
						      size_t errlen, const char *fmt, ...)
{
	char why[128];
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		snprintf(err, errlen, "invalid time \"%s\": %s", s, why);
	}
	errno = errnum;
	return -1;
}

static bool read_num(const char **pp, uint64_t *v)
{
	const char *p = *pp;
	uint64_t n = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++)
		n = n >= FIELD_CLAMP ? FIELD_CLAMP : n * 10 + (uint64_t)(*p - '0');
	*v = n;
	*pp = p;
	return true;
}

/* Split S into numbers: "[D-]A[:B[:C]]".  On failure *PP is where it broke. */
static bool split_fields(const char **pp, struct fields *f)
{
	uint64_t *out = f->v;

	f->days = false;
	f->n = 0;
	if (!read_num(pp, &f->v[0]))
		return false;
	if (**pp == '-') {
		f->days = true;
		(*pp)++;
		out = f->v + 1;
		if (!read_num(pp, &out[0]))
			return false;
	}
	f->n = 1;
	while (f->n < 3 && **pp == ':') {
		(*pp)++;
		if (!read_num(pp, &out[f->n]))
			return false;
		f->n++;
	}
	return **pp == '\0';
}

/* Map the typed numbers to days, hours, minutes, seconds. */
static void place_fields(const struct fields *f, uint64_t dhms[4])
{
	dhms[0] = dhms[1] = dhms[2] = dhms[3] = 0;
	if (f->days) {
		dhms[0] = f->v[0];
		for (int i = 0; i < f->n; i++)
			dhms[1 + i] = f->v[1 + i];
	} else if (f->n == 1) {
		dhms[2] = f->v[0];
	} else {
		for (int i = 0; i < f->n; i++)
			dhms[4 - f->n + i] = f->v[i];
	}
}

static const char *syntax_error(const char *p, char *buf, size_t size)
{
	if (*p == '\0')
		return "a number is missing at the end";
	if (*p == ':')
		return "too many ':' fields";
	snprintf(buf, size, "unexpected character '%c'", *p);
	return buf;
}

int timefmt_parse_duration(const char *s, uint32_t *seconds, char *err, size_t errlen)
{
	const char *p = s ? s : "";
	struct fields f;
	uint64_t dhms[4], total;
	char buf[40];

	if (!*p)
		return fail(EINVAL, p, err, errlen, "empty " FORMATS);
	if (strcasecmp(p, "UNLIMITED") == 0 || strcasecmp(p, "INFINITE") == 0) {
		*seconds = TIMEFMT_UNLIMITED;
		return 0;
	}
	if (!split_fields(&p, &f))
		return fail(EINVAL, s, err, errlen, "%s " FORMATS,
			    syntax_error(p, buf, sizeof(buf)));
	place_fields(&f, dhms);
	/* The leading field has no upper bound ("90" minutes, "30:00:00"),
	 * and seconds never lead. */
	if (dhms[3] >= 60)
		return fail(EINVAL, s, err, errlen, "seconds must be below 60 " FORMATS);
	if (dhms[2] >= 60 && (f.days || f.n == 3))
		return fail(EINVAL, s, err, errlen, "minutes must be below 60 " FORMATS);
	if (dhms[1] >= 24 && f.days)
		return fail(EINVAL, s, err, errlen, "hours must be below 24 " FORMATS);
	total = dhms[0] * 86400 + dhms[1] * 3600 + dhms[2] * 60 + dhms[3];
	if (total >= TIMEFMT_UNLIMITED)
		return fail(ERANGE, s, err, errlen,
			    "too long, the most is 49710-06:28:14 (use UNLIMITED for no limit)");
	*seconds = (uint32_t)total;
	return 0;
}

int timefmt_duration(uint32_t seconds, char *buf, size_t size)
{
	unsigned d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60;
	unsigned s = seconds % 60;

	if (seconds == TIMEFMT_UNLIMITED)
		return snprintf(buf, size, "UNLIMITED");
	if (d)
		return snprintf(buf, size, "%u-%02u:%02u:%02u", d, h, m, s);
	if (h)
		return snprintf(buf, size, "%u:%02u:%02u", h, m, s);
	return snprintf(buf, size, "%u:%02u", m, s);
}

int timefmt_timestamp(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char tmp[64];

	if (t == 0 || !localtime_r(&tt, &tm) ||
	    !strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm))
		return snprintf(buf, size, "N/A");
	return snprintf(buf, size, "%s", tmp);
}

uint64_t timefmt_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
