/* cpulist.h - sets of os indexes written as hwloc and Linux write them:
 * "0-3,8,10-11".
 *
 * `pacer show node` merges the PUs of runs of cores and tells held from
 * free PUs with these; the lists come from the controller, so their size
 * is bounded (CPULIST_MAX_INDEX).
 */
#ifndef PACER_CLI_CPULIST_H
#define PACER_CLI_CPULIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Indexes above this are refused: no machine has a million PUs, and the
 * set is a bitmap. */
#define CPULIST_MAX_INDEX ((1u << 20) - 1)

struct cpulist {
	uint64_t *bits;
	size_t nwords;
};

/* An empty set needs no set-up: struct cpulist l = { 0 }. */

/* Add index I.  0, or -1 with EINVAL (above CPULIST_MAX_INDEX) or ENOMEM. */
int cpulist_add(struct cpulist *l, uint32_t i);

/* Add every index of S ("0-3,8"; "" is empty).  0, or -1 with EINVAL (bad
 * syntax, a range going down, an index too large; L is then unchanged
 * past the bad item) or ENOMEM. */
int cpulist_add_string(struct cpulist *l, const char *s);

/* Add every index of OTHER. 0 or -1 (ENOMEM). */
int cpulist_add_all(struct cpulist *l, const struct cpulist *other);

/* Remove every index of OTHER from L. */
void cpulist_remove_all(struct cpulist *l, const struct cpulist *other);

bool cpulist_has(const struct cpulist *l, uint32_t i);

size_t cpulist_count(const struct cpulist *l);

/* Write L as "0-3,8" into BUF with snprintf semantics ("" when empty). */
int cpulist_format(const struct cpulist *l, char *buf, size_t size);

/* Empty L, keeping its memory. */
void cpulist_clear(struct cpulist *l);

void cpulist_free(struct cpulist *l);

#endif
