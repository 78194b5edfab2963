/* timefmt.h - the time formats HPC users type and read.
 *
 * Durations are accepted as Slurm takes them: "MM", "MM:SS", "HH:MM:SS",
 * "D-HH", "D-HH:MM", "D-HH:MM:SS", and "UNLIMITED"/"INFINITE".  Fields after
 * the first must be below 60 (hours below 24).
 */
#ifndef PACER_TIMEFMT_H
#define PACER_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A duration meaning "no limit". */
#define TIMEFMT_UNLIMITED UINT32_MAX

/* Parse a duration into seconds.  0, or -1 with errno EINVAL (bad syntax or
 * field out of range) or ERANGE (does not fit in 32 bits).  ERR, when not
 * NULL, gets a one-line reason on failure. */
int timefmt_parse_duration(const char *s, uint32_t *seconds, char *err, size_t errlen);

/* Format seconds as Slurm shows them: "M:SS", "H:MM:SS" or "D-HH:MM:SS";
 * TIMEFMT_UNLIMITED as "UNLIMITED".  snprintf semantics. */
int timefmt_duration(uint32_t seconds, char *buf, size_t size);

/* Format a unix time as local "YYYY-MM-DDTHH:MM:SS"; 0 as "N/A".
 * snprintf semantics. */
int timefmt_timestamp(int64_t t, char *buf, size_t size);

/* Monotonic clock in milliseconds: the only clock for timeouts. */
uint64_t timefmt_monotonic_ms(void);

#endif
