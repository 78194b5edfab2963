/* arrayspec.h - job array specifications (--array), as Slurm spells them.
 *
 *   0-99        every index from 0 to 99
 *   0-99:2      every second one
 *   1,3,5-7     a list of both
 *   0-99%10     at most 10 tasks running at once
 *
 * Indexes are at most ARRAYSPEC_MAX_INDEX, an array has at most
 * ARRAYSPEC_MAX_TASKS tasks; duplicates are dropped and the result sorted.
 * The CLI and the controller both parse with this, so a value the CLI
 * accepts is one the controller takes.
 */
#ifndef PACER_ARRAYSPEC_H
#define PACER_ARRAYSPEC_H

#include <stddef.h>
#include <stdint.h>

#define ARRAYSPEC_MAX_INDEX 4000000u
#define ARRAYSPEC_MAX_TASKS 100000u

/* Parse S.  0 with *IDX (malloc'd, sorted, no duplicates), *N and
 * *MAX_RUNNING (0 = no limit) set, or -1 with errno (EINVAL, ENOMEM) and
 * ERR saying what is wrong and how to write it (without the option's name:
 * the caller says where the value came from). */
int arrayspec_parse(const char *s, uint32_t **idx, size_t *n, uint32_t *max_running, char *err,
		    size_t errlen);

#endif
