/* depspec.h - job dependency specifications (--dependency), as Slurm
 * spells them.
 *
 *   after:ID[:ID...]       ID has started (or ended)
 *   afterany:ID[:ID...]    ID has ended, however
 *   afterok:ID[:ID...]     ID completed with exit code 0
 *   afternotok:ID[:ID...]  ID ended any other way
 *   singleton              no earlier job of the same name and user is left
 *
 * Terms are joined by ',' (all must hold) or '?' (one suffices), not both.
 * ID is a job id, an array's id (every task of it) or one task ("123_4").
 * The CLI and the controller both parse with this: the CLI to refuse a
 * typo at once, the controller to build the terms it evaluates.
 */
#ifndef PACER_DEPSPEC_H
#define PACER_DEPSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most job ids one dependency names. */
#define DEPSPEC_MAX_JOBS 1024

enum depspec_type { DEPSPEC_AFTER, DEPSPEC_AFTERANY, DEPSPEC_AFTEROK, DEPSPEC_AFTERNOTOK };

/* One job a dependency names, and how it must have gone. */
struct depspec_term {
	uint8_t type; /* enum depspec_type */
	bool task;    /* JOB is one task ("123_4"), not a job or a whole array */
	uint32_t job; /* job id or array id */
	uint32_t task_id;
};

/* Parse S.  0 with *TERMS (malloc'd, one per job id in S, in order; NULL
 * when S names none), *N, *ANY ('?' joined) and *SINGLETON set, or -1 with
 * errno (EINVAL, ENOMEM) and WHY saying what is wrong and how to write it
 * (without the option's name: the caller says where the value came
 * from). */
int depspec_parse(const char *s, struct depspec_term **terms, uint16_t *n, bool *any,
		  bool *singleton, char *why, size_t whylen);

#endif
