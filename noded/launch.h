/* launch.h - start a batch script as the submitting user.
 *
 * The node daemon (root) forks; the child starts a new session, joins the
 * job's tracking group (track.h) and its confining cgroups (confine.h),
 * binds itself to the job's CPUs and memory (bind.h), drops to the user's
 * uid, gid and supplementary groups, enters the working directory, opens
 * the output files as the user (and with --cpu-bind=verbose reports its
 * binding on stderr), and execs the script.  A failure before exec is sent
 * back over a close-on-exec pipe, so launch_job reports it precisely
 * instead of the job dying silently.
 */
#ifndef PACER_LAUNCH_H
#define PACER_LAUNCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bind_plan;
struct confine;
struct track;

struct launch_req {
	uint32_t job_id;
	uid_t uid;
	gid_t gid;
	const char *user;      /* the user's name, for initgroups and HOME/USER */
	const char *workdir;   /* absolute */
	const uint8_t *script; /* the batch script (starts with "#!") */
	size_t script_len;
	char *const *argv;       /* arguments after the script, NULL-terminated (may be NULL) */
	char *const *env;        /* the user's exported environment, NULL-terminated */
	char *const *pacer_env;  /* PACER_* variables; they win over ENV */
	const char *stdout_path; /* absolute, or relative to workdir */
	const char *stderr_path; /* NULL or equal to stdout_path = same file */
	const char *spool_dir;   /* the node's spool directory (root-owned) */
	const struct confine *confine; /* the job's cgroups to join; NULL = none */
	const struct bind_plan *bind;  /* CPU and memory binding; NULL = none */
	/* launch_task only: the task's stdin, stdout and stderr (-1: /dev/null);
	 * they are dup'ed onto 0, 1 and 2 in the child. */
	int stdio[3];
};

/* Write the script into the spool, fork and exec it as described above.
 * 0 with *PID set (the script's pid, leader of its own session), or -1 with
 * errno and ERR saying what failed and where ("cannot open output file
 * /x/pacer-7.out as alice: Permission denied"). */
int launch_job(const struct launch_req *req, struct track *track, pid_t *pid, char *err,
	       size_t errlen);

/* Start one task of a step: ARGV[0] looked up in the PATH of the task's
 * environment (relative to WORKDIR when it holds a '/'), run as the user,
 * tracked, confined and bound as for a script, with REQ->stdio as its
 * standard streams.  SCRIPT, STDOUT_PATH, STDERR_PATH and SPOOL_DIR are not
 * used.  0 with *PID set, or -1 with ERR ("cannot execute ./a.out as alice:
 * No such file or directory"). */
int launch_task(const struct launch_req *req, struct track *track, pid_t *pid, char *err,
		size_t errlen);

/* Remove the spooled script of JOB_ID (after the job ended). */
void launch_cleanup(const char *spool_dir, uint32_t job_id);

#endif
