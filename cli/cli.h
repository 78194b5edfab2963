/* cli.h - what every `pacer` subcommand shares: its context, error
 * printing, the controller call, and the parsers of signals, users and
 * states (job ids are jobid.h's).
 *
 * Exit codes: 0 success, 1 an error (one line on stderr), 2 a usage error
 * (the line and a hint to --help).
 */
#ifndef PACER_CLI_CLI_H
#define PACER_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "pacer.pb-c.h"

#define EXIT_USAGE 2

struct cli {
	const char *cmd;      /* "submit", for messages: "pacer submit: ..." */
	const char *conf_opt; /* --conf FILE, or NULL */
	struct conf *conf;    /* loaded by cli_call on first use */
	const char *usage;    /* the command's --help text; its first line goes with usage errors */
};

/* "pacer CMD: MESSAGE" on stderr. */
void cli_error(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "pacer CMD: warning: MESSAGE" on stderr. */
void cli_warn(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "pacer CMD: MESSAGE" and "Try 'pacer CMD --help'." on stderr; returns
 * EXIT_USAGE. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Send REQ to the controller and check that the reply is of type WANT.
 * 0 with *REPLY set (free with pacer__msg__free_unpacked), or -1 once the
 * problem is printed. */
int cli_call(struct cli *cli, Pacer__Msg *req, Pacer__Msg__BodyCase want, Pacer__Msg **reply);

/* As cli_call, but printing nothing: for a request whose failure only
 * costs detail (the caller goes on without its reply). */
int cli_call_quiet(struct cli *cli, Pacer__Msg *req, Pacer__Msg__BodyCase want, Pacer__Msg **reply);

void cli_free(struct cli *cli);

/* A signal by name ("TERM", "SIGTERM", "term", "USR1") or number ("15").
 * 0, or -1 with ERR set. */
int cli_parse_signal(const char *s, int *sig, char *err, size_t errlen);

/* A user by name, or a uid in digits.  0, or -1 with ERR "unknown user". */
int cli_parse_user(const char *s, uid_t *uid, char *err, size_t errlen);

/* Append the uids of LIST ("alice,bob") to *UIDS (*N entries).  0 or -1. */
int cli_parse_users(const char *list, uint32_t **uids, size_t *n, char *err, size_t errlen);

/* Append the states of LIST ("PD,R" or "pending,running") to *STATES
 * (*N entries).  0, or -1 with ERR "unknown job state 'X' (...)". */
int cli_parse_states(const char *list, Pacer__JobState **states, size_t *n, char *err,
		     size_t errlen);

/* Print the per-job results of a cancel, hold or release as
 * "pacer CMD: MESSAGE" (the message names the job), or "pacer CMD: job 42:
 * ERROR" for a result with a code and no message; the exit code (1 when
 * any failed). */
int cli_job_results(const struct cli *cli, Pacer__JobResult **results, size_t n);

/* Subcommands: ARGV[0] is the subcommand's name; each returns an exit code. */
int cmd_submit(struct cli *cli, int argc, char **argv);
int cmd_queue(struct cli *cli, int argc, char **argv);
int cmd_cancel(struct cli *cli, int argc, char **argv);
int cmd_hold(struct cli *cli, int argc, char **argv);
int cmd_release(struct cli *cli, int argc, char **argv);
int cmd_nodes(struct cli *cli, int argc, char **argv);
int cmd_show(struct cli *cli, int argc, char **argv);
int cmd_diag(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_alloc(struct cli *cli, int argc, char **argv);

#endif
