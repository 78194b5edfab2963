/* pattern.h - Slurm-style file name patterns for job output.
 *
 *   %j job id   %x job name   %u user name   %N first node's name
 *   %A array job id (the job's own id when it is not an array task)
 *   %a array task index ("4294967294", as Slurm prints, when it is not)
 *   %% a literal percent sign
 * A number between % and the letter zero-pads ("%5j" -> "00042").
 * An unknown %-sequence is copied as is, as sbatch does.
 */
#ifndef PACER_PATTERN_H
#define PACER_PATTERN_H

#include <stddef.h>
#include <stdint.h>

struct pattern_vars {
	uint32_t job_id;
	const char *job_name;
	const char *user;
	const char *node;
	uint32_t array_job_id;  /* 0 = not a task of an array */
	uint32_t array_task_id; /* its index, when array_job_id is set */
};

/* What Slurm prints for %a outside a job array (its NO_VAL - 1). */
#define PATTERN_NO_ARRAY_TASK 4294967294u

/* Expand PAT into BUF with snprintf semantics: returns the length the whole
 * result needs (not counting the NUL), writes at most SIZE bytes. */
int pattern_expand(const char *pat, const struct pattern_vars *v, char *buf, size_t size);

/* The default output pattern, as sbatch's: "pacer-%j.out". */
#define PATTERN_DEFAULT_OUTPUT "pacer-%j.out"

#endif
