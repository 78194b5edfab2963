/* hostlist.h - Slurm-style host lists: "node[01-04,10],login1".
 *
 * A hostlist is an ordered list of host names.  Ranges keep their zero
 * padding ("node[01-03]" is node01 node02 node03) and brackets may appear
 * once per name ("rack[1-2]n[1-2]" is not supported and is an error).
 * Every function returns 0 or a pointer, or -1 / NULL with errno set.
 */
#ifndef PACER_HOSTLIST_H
#define PACER_HOSTLIST_H

#include <stddef.h>
#include <stdint.h>

struct hostlist;

/* Largest number of names one expression may expand to (guards against
 * "n[0-999999999]" eating the machine). */
#define HOSTLIST_MAX 1000000

/* Largest total size of those names, one NUL each included: a count alone
 * lets 4 KB ("AAAA...A[0-999999]" with a 4,000-byte prefix) expand to 4 GB.
 * 32 MiB takes a million names of up to 32 bytes ("node0000001" is 12), and
 * is checked before anything is allocated. */
#define HOSTLIST_MAX_BYTES ((uint64_t)32 << 20)

/* Parse EXPR ("a,b[1-3,5],c[08-10]") into a new list.  NULL with EINVAL on a
 * syntax error, E2BIG past HOSTLIST_MAX names or HOSTLIST_MAX_BYTES. */
struct hostlist *hostlist_decode(const char *expr);

/* An empty list. */
struct hostlist *hostlist_create(void);

void hostlist_destroy(struct hostlist *hl);

/* Append one plain host name (no brackets).  0 or -1. */
int hostlist_append(struct hostlist *hl, const char *name);

/* Append every name of EXPR.  0 or -1 (EINVAL on bad syntax, E2BIG past
 * the caps above, counted per expression). */
int hostlist_append_expr(struct hostlist *hl, const char *expr);

size_t hostlist_count(const struct hostlist *hl);

/* The Nth name (0-based), or NULL past the end.  Valid until the list changes. */
const char *hostlist_nth(const struct hostlist *hl, size_t n);

/* Index of NAME, or -1 when absent. */
long hostlist_find(const struct hostlist *hl, const char *name);

/* Sort names (numeric suffixes in numeric order) and drop duplicates. */
void hostlist_uniq(struct hostlist *hl);

/* Write the compressed form ("node[01-04,10],login1") into BUF like
 * snprintf: returns the length the full string needs, writes at most SIZE
 * bytes with a terminating NUL.  Consecutive names sharing a prefix and
 * padding width fold into ranges, in list order. */
int hostlist_encode(const struct hostlist *hl, char *buf, size_t size);

/* The compressed form in a new malloc'd string, or NULL with errno. */
char *hostlist_encode_alloc(const struct hostlist *hl);

#endif
