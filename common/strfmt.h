/* strfmt.h - bounded string building, snprintf style, and error messages. */
#ifndef PACER_STRFMT_H
#define PACER_STRFMT_H

#include <stddef.h>

/* A string built into BUF of SIZE bytes; LEN counts what the whole result
 * needs, even past SIZE, so callers can return it as snprintf does. */
struct strfmt {
	char *buf;
	size_t size;
	size_t len;
};

/* Append N bytes of S, keeping what fits (and room for the NUL). */
void strfmt_put(struct strfmt *o, const char *s, size_t n);

/* Format into BUF: 0, or -1 with ENAMETOOLONG when it does not fit whole
 * (a path cut short is worse than none). */
int strfmt_path(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Format an error message into ERR (ERRLEN bytes, cut to fit; nothing when
 * ERR is NULL or ERRLEN 0) and set errno to E.  Returns -1, so that an error
 * path is one statement: return strfmt_fail(err, errlen, EINVAL, ...). */
int strfmt_fail(char *err, size_t errlen, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The plural ending of a count in a message: "%u GPU%s", n, strfmt_s(n)
 * gives "1 GPU" and "2 GPUs". */
static inline const char *strfmt_s(unsigned long long n)
{
	return n == 1 ? "" : "s";
}

#endif
