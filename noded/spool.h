/* spool.h - small per-job state files in the node's spool directory.
 *
 * One file per job, "job-<id>.state", a few "key value" lines.  A record is
 * written when a job starts (so a restarted daemon knows what it left behind)
 * and rewritten when it ends (so the end survives until the controller has
 * acknowledged it).  Writes go to a temporary file renamed into place, so a
 * reader sees the old record or the new one, never half of one.  No fsync:
 * the records guard against a daemon restart, not a machine crash (a reboot
 * changes the boot id and the controller handles that).
 */
#ifndef PACER_NODED_SPOOL_H
#define PACER_NODED_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPOOL_REASON_MAX 512
#define SPOOL_BOOT_ID_MAX 40

struct spool_rec {
	uint32_t job_id;
	bool ended;                  /* false: the script ran when this was written */
	/* While running. */
	pid_t pid;                   /* the script, leader of the job's session */
	uint64_t pid_start;          /* its start in /proc/PID/stat (ticks since boot) */
	char boot_id[SPOOL_BOOT_ID_MAX]; /* the boot it ran in */
	int64_t start_time;          /* unix seconds */
	/* Once ended. */
	int state;                   /* a PACER__JOB_STATE__* value */
	int32_t exit_code;
	int32_t term_signal;
	int64_t end_time;            /* unix seconds */
	char reason[SPOOL_REASON_MAX];
};

/* Write REC as DIR/job-<id>.state, replacing any earlier record of the
 * job.  0 or -1 with errno. */
int spool_write(const char *dir, const struct spool_rec *rec);

/* Read the record of JOB_ID.  0, or -1 with errno (ENOENT: none; EBADMSG:
 * the file is not a valid record) and ERR saying what is wrong where. */
int spool_read(const char *dir, uint32_t job_id, struct spool_rec *rec, char *err,
	       size_t errlen);

/* Delete the record of JOB_ID.  0 (also when there was none) or -1. */
int spool_remove(const char *dir, uint32_t job_id);

/* Read every record in DIR into *RECS (malloc'd, *N entries, sorted by job
 * id).  A file that is not a valid record is left alone and skipped with a
 * log line; leftover temporary files are removed.  0, or -1 with errno when
 * DIR cannot be read. */
int spool_load(const char *dir, struct spool_rec **recs, size_t *n);

#endif
