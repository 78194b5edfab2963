/* depend.h - where a job's dependencies (--dependency) stand.
 *
 * The terms come from depspec_parse (depspec.h), at submit and whenever a
 * job is made from its journal record; here they are judged against the
 * jobs' states, which are journaled, so dependencies need no record of
 * their own.  after:ID holds once ID has started (or ended), afterany once it has
 * ended, afterok once it completed with exit code 0, afternotok once it
 * ended any other way; singleton once no earlier job of the same name and
 * user is left.  ID is a job, an array's id (every task of it) or one task.
 */
#ifndef PACER_DEPEND_H
#define PACER_DEPEND_H

#include <stddef.h>

struct depspec_term;
struct job;

enum depend_status { DEPEND_WAIT, DEPEND_OK, DEPEND_NEVER };

/* 0 when every job DEPS[0..N) names exists (at submit), or -1 with ENOENT
 * and WHY. */
int depend_check_exists(const struct depspec_term *deps, size_t n, char *why, size_t whylen);

/* Where J's dependencies stand now.  A job that no longer exists (purged
 * after min_job_age) counts as satisfied, as in Slurm. */
enum depend_status depend_eval(const struct job *j);

#endif
