/* pattern.h - Slurm-style file name patterns for job output.
 *
 *   %j job id   %x job name   %u user name   %N first node's name
 *   %A array job id   %a array task id (both empty until arrays exist:
 *   %A is the job id, %a is "4294967294" as Slurm prints for non-arrays)
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
};

/* Expand PAT into BUF with snprintf semantics: returns the length the whole
 * result needs (not counting the NUL), writes at most SIZE bytes. */
int pattern_expand(const char *pat, const struct pattern_vars *v, char *buf, size_t size);

/* The default output pattern, as sbatch's: "pacer-%j.out". */
#define PATTERN_DEFAULT_OUTPUT "pacer-%j.out"

#endif
