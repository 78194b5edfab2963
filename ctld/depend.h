/* depend.h - job dependencies (--dependency), as Slurm spells them.
 *
 *   after:ID[:ID...]       ID has started (or ended)
 *   afterany:ID[:ID...]    ID has ended, however
 *   afterok:ID[:ID...]     ID completed with exit code 0
 *   afternotok:ID[:ID...]  ID ended any other way
 *   singleton              no earlier job of the same name and user is left
 *
 * Terms are joined by ',' (all must hold) or '?' (one suffices), not both.
 * ID is a job id, an array's id (every task of it) or one task ("123_4").
 * Dependencies are evaluated from the jobs' states, which are journaled, so
 * they need no record of their own.
 */
#ifndef PACER_DEPEND_H
#define PACER_DEPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dep;
struct job;

enum depend_status { DEPEND_WAIT, DEPEND_OK, DEPEND_NEVER };

/* Parse S.  0 with *DEPS (malloc'd, NULL when S has no job terms), *N,
 * *ANY and *SINGLETON set, or -1 with errno EINVAL and WHY saying what is
 * wrong. */
int depend_parse(const char *s, struct dep **deps, uint16_t *n, bool *any, bool *singleton,
		 char *why, size_t whylen);

/* 0 when every job S names exists (at submit), or -1 with ENOENT and WHY. */
int depend_check_exists(const struct dep *deps, size_t n, char *why, size_t whylen);

/* Where J's dependencies stand now.  A job that no longer exists (purged
 * after min_job_age) counts as satisfied, as in Slurm. */
enum depend_status depend_eval(const struct job *j);

#endif
