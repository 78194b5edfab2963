/* spool.h - the node's job records, one append-only log in its spool
 * directory.
 *
 * DIR/spool.log gets one self-contained line per event: a job's record when
 * it starts (so a restarted daemon knows what it left behind), its record
 * again when it ends (so the end survives until the controller has
 * acknowledged it), and "remove" once acknowledged.  A later record of a job
 * replaces the earlier one.  Appending costs no file creation; the log is
 * compacted (rewritten with only the live records via a temporary file and a
 * rename) when loaded and when it grows past 1 MiB.  No fsync: the records
 * guard against a daemon restart, not a machine crash (a reboot changes the
 * boot id and the controller handles that).
 *
 * Single writer: one node daemon owns a spool directory (its listening port
 * is its lock), so there is no locking here.
 */
#ifndef PACER_NODED_SPOOL_H
#define PACER_NODED_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPOOL_REASON_MAX  512
#define SPOOL_BOOT_ID_MAX 40

struct spool_rec {
	uint32_t job_id;
	bool ended; /* false: the script ran when this was written */
	/* While running. */
	pid_t pid;                       /* its supervisor (before pacer-supervisor: the script) */
	uint64_t pid_start;              /* its start in /proc/PID/stat (ticks since boot) */
	char boot_id[SPOOL_BOOT_ID_MAX]; /* the boot it ran in */
	int64_t start_time;              /* unix seconds */
	/* Once ended. */
	int state; /* a PACER__JOB_STATE__* value */
	int32_t exit_code;
	int32_t term_signal;
	int64_t end_time; /* unix seconds */
	char reason[SPOOL_REASON_MAX];
};

/* Append REC to DIR/spool.log, replacing any earlier record of the job.
 * 0 or -1 with errno. */
int spool_write(const char *dir, const struct spool_rec *rec);

/* Read the current record of JOB_ID from the log (lines that do not parse
 * are skipped with a warning).  0, or -1 with errno (ENOENT: none) and ERR
 * saying what is wrong where. */
int spool_read(const char *dir, uint32_t job_id, struct spool_rec *rec, char *err, size_t errlen);

/* Forget the record of JOB_ID (appends a "remove" line).  0 (also when
 * there was none) or -1. */
int spool_remove(const char *dir, uint32_t job_id);

/* Read every live record in DIR into *RECS (malloc'd, *N entries, sorted by
 * job id) and compact the log.  A log line that does not parse is skipped
 * with a log line.  Record files of the old format (job-<id>.state) are read
 * too, folded into the log and deleted; one that is not a valid record is
 * left alone and skipped with a log line.  Leftover temporary files are
 * removed.  0, or -1 with errno when DIR cannot be read. */
int spool_load(const char *dir, struct spool_rec **recs, size_t *n);

#endif
