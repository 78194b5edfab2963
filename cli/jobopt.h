/* jobopt.h - the values of pacer submit's placement and scheduling options,
 * checked as Slurm spells them.
 *
 * The CLI checks syntax so that a typo is reported at once, with the script
 * line it came from; the controller checks again and judges what only it
 * can (limits, features, job ids that exist).  Every parser returns 0, or
 * -1 with errno EINVAL and WHY saying what is wrong and how to fix it (the
 * caller adds which option and where), or ENOMEM.
 */
#ifndef PACER_CLI_JOBOPT_H
#define PACER_CLI_JOBOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest normalised --distribution: "cyclic:cyclic". */
#define JOBOPT_DIST_MAX 16

/* Most CPU ids in a --cpu-bind=map_cpu list, repetitions expanded. */
#define JOBOPT_MAP_CPU_MAX 4096

/* Largest file -w/--nodelist reads its hosts from. */
#define JOBOPT_NODEFILE_MAX (1u << 20)

/* A GPU count for -G/--gpus or --gpus-per-node: digits, 0 up.  "TYPE:N"
 * is refused: there are no GPU types yet. */
int jobopt_gpu_count(const char *s, uint32_t *n, char *why, size_t whylen);

/* --gres: "gpu", "gpu:N" or "none" into *GPUS_PER_NODE (gpu alone is 1,
 * none is 0).  Other resources and GPU types are refused. */
int jobopt_gres(const char *s, uint32_t *gpus_per_node, char *why, size_t whylen);

/* -m/--distribution: block|cyclic[:block|cyclic], any case, '*' for the
 * default (block).  OUT (JOBOPT_DIST_MAX bytes) gets the lower-case form
 * the controller reads, like "cyclic:block". */
int jobopt_distribution(const char *s, char out[JOBOPT_DIST_MAX], char *why, size_t whylen);

/* --cpu-bind: [verbose|quiet,]none|cores|threads|sockets|map_cpu:LIST[,verbose]
 * (singulars and "no" too; LIST holds decimal or 0x ids, ID*N repeats).
 * *OUT (malloc'd) gets "TYPE[,verbose]", "verbose" alone, or "" (quiet
 * only); map_cpu's list is decimal with repetitions expanded. */
int jobopt_cpu_bind(const char *s, char **out, char *why, size_t whylen);

/* --hint: multithread (true) or nomultithread (false). */
int jobopt_hint(const char *s, bool *multithread, char *why, size_t whylen);

/* --nice[=N]: S NULL is 100 (as Slurm); else a signed whole number within
 * +/-2147483645. */
int jobopt_nice(const char *s, int32_t *nice, char *why, size_t whylen);

/* -a/--array: INDEXES[%MAX], INDEXES a comma list of N, N-M or N-M:STEP,
 * checked by the controller's own parser (arrayspec.h), limits included.
 * *MAX_RUNNING gets MAX, 0 when not given. */
int jobopt_array(const char *s, uint32_t *max_running, char *why, size_t whylen);

/* -d/--dependency: TYPE:ID[:ID...] terms (TYPE after, afterany, afterok,
 * afternotok; ID 123 or 123_4) and "singleton", joined by ',' (all) or
 * '?' (any), not both; checked by the controller's own parser (depspec.h).
 * Whether the jobs exist is the controller's to judge. */
int jobopt_dependency(const char *s, char *why, size_t whylen);

/* -C/--constraint: feature names (letters, digits, '-', '_', '.') joined
 * by '&' (all) or '|' (any); no brackets or counts. */
int jobopt_constraint(const char *s, char *why, size_t whylen);

/* -w/--nodelist and -x/--exclude: a host list like "node[1-4],login1".
 * With FILE_OK and a '/' in S, S names a file of host names (blanks,
 * commas or new lines between them), as Slurm takes it.  *OUT (malloc'd)
 * gets the list as given, or the file's hosts as one list. */
int jobopt_hostlist(const char *s, bool file_ok, char **out, char *why, size_t whylen);

/* --exclusive[=VALUE]: no value, as for whole nodes; Slurm's user, mcs and
 * topo values are refused. */
int jobopt_exclusive(const char *s, char *why, size_t whylen);

#endif
