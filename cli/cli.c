/* cli.c - the parts every subcommand shares. */
#include "cli.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "format.h"
#include "frame.h"

static void vprint(const struct cli *cli, const char *kind, const char *fmt, va_list ap)
{
	/* Anything already printed on stdout comes first. */
	fflush(stdout);
	fprintf(stderr, "pacer %s: %s", cli->cmd, kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(cli, "", fmt, ap);
	va_end(ap);
}

void cli_warn(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(cli, "warning: ", fmt, ap);
	va_end(ap);
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(cli, "", fmt, ap);
	va_end(ap);
	/* The usage line, so the right form is in front of the user at once. */
	if (cli->usage) {
		const char *nl = strchr(cli->usage, '\n');
		fprintf(stderr, "%.*s\n", nl ? (int)(nl - cli->usage) : (int)strlen(cli->usage),
			cli->usage);
	}
	fprintf(stderr, "Try 'pacer %s --help' for more information.\n", cli->cmd);
	return EXIT_USAGE;
}

static int load_conf(struct cli *cli)
{
	char err[1024];

	if (cli->conf)
		return 0;
	if (conf_load(conf_path(cli->conf_opt), &cli->conf, err, sizeof(err)) < 0) {
		cli_error(cli, "%s", err);
		return -1;
	}
	return 0;
}

static int call(struct cli *cli, Pacer__Msg *req, Pacer__Msg__BodyCase want, Pacer__Msg **reply,
		bool quiet)
{
	char err[2048];
	int timeout_ms;

	if (client_timeout_ms(getenv("PACER_TIMEOUT"), &timeout_ms, err, sizeof(err)) < 0) {
		if (!quiet)
			cli_error(cli, "%s", err);
		return -1;
	}
	if (load_conf(cli) < 0)
		return -1;
	if (client_call(cli->conf, req, timeout_ms, reply, err, sizeof(err)) < 0) {
		if (!quiet)
			cli_error(cli, "%s", err);
		return -1;
	}
	if ((*reply)->body_case != want) {
		if (!quiet)
			cli_error(cli,
				  "the controller answered a %s request with a %s message (use "
				  "pacer and pacerctld of the same release)",
				  frame_type_name(req->body_case),
				  frame_type_name((*reply)->body_case));
		pacer__msg__free_unpacked(*reply, NULL);
		*reply = NULL;
		return -1;
	}
	return 0;
}

int cli_call(struct cli *cli, Pacer__Msg *req, Pacer__Msg__BodyCase want, Pacer__Msg **reply)
{
	return call(cli, req, want, reply, false);
}

int cli_call_quiet(struct cli *cli, Pacer__Msg *req, Pacer__Msg__BodyCase want, Pacer__Msg **reply)
{
	return call(cli, req, want, reply, true);
}

void cli_free(struct cli *cli)
{
	conf_destroy(cli->conf);
	cli->conf = NULL;
}

/* A whole number in digits only, at most MAX.  0 or -1 (EINVAL). */
static int parse_uint(const char *s, size_t len, uint64_t max, uint64_t *v)
{
	uint64_t n = 0;

	if (len == 0)
		goto invalid;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto invalid;
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > max)
			goto invalid;
	}
	*v = n;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },       { "INT", SIGINT },   { "QUIT", SIGQUIT },     { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },     { "ABRT", SIGABRT }, { "IOT", SIGIOT },       { "BUS", SIGBUS },
	{ "FPE", SIGFPE },       { "KILL", SIGKILL }, { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },     { "PIPE", SIGPIPE }, { "ALRM", SIGALRM },     { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT },     { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },     { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },     { "URG", SIGURG },
	{ "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH },   { "IO", SIGIO },     { "POLL", SIGPOLL },     { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

int cli_parse_signal(const char *s, int *sig, char *err, size_t errlen)
{
	const char *name = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	uint64_t v;

	if (parse_uint(s, strlen(s), (uint64_t)SIGRTMAX, &v) == 0 && v > 0) {
		*sig = (int)v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (strcasecmp(name, signals[i].name) == 0) {
			*sig = signals[i].sig;
			return 0;
		}
	}
	snprintf(err, errlen,
		 "invalid signal '%s' (give a name like TERM, USR1 or KILL, or a "
		 "number from 1 to %d)",
		 s, SIGRTMAX);
	errno = EINVAL;
	return -1;
}

int cli_parse_user(const char *s, uid_t *uid, char *err, size_t errlen)
{
	struct passwd *pw;
	uint64_t v;

	if (*s) {
		pw = getpwnam(s);
		if (pw) {
			*uid = pw->pw_uid;
			return 0;
		}
		/* A number names a uid even when no account has it (yet). */
		if (parse_uint(s, strlen(s), UINT32_MAX - 1, &v) == 0) {
			*uid = (uid_t)v;
			return 0;
		}
	}
	snprintf(err, errlen, "unknown user '%s' (check the name with: id %s)", s, s);
	errno = EINVAL;
	return -1;
}

int cli_parse_users(const char *list, uint32_t **uids, size_t *n, char *err, size_t errlen)
{
	char *copy = strdup(list), *save = NULL;
	int rc = 0;

	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!*copy || strstr(copy, ",,") || copy[strlen(copy) - 1] == ',' || copy[0] == ',') {
		snprintf(err, errlen, "empty user name in '%s' (separate names with single commas)",
			 list);
		errno = EINVAL;
		rc = -1;
	}
	for (char *u = strtok_r(copy, ",", &save); rc == 0 && u; u = strtok_r(NULL, ",", &save)) {
		uid_t uid;
		uint32_t *grown;

		if (cli_parse_user(u, &uid, err, errlen) < 0) {
			rc = -1;
			break;
		}
		grown = realloc(*uids, (*n + 1) * sizeof(**uids));
		if (!grown) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
			break;
		}
		*uids = grown;
		(*uids)[(*n)++] = (uint32_t)uid;
	}
	free(copy);
	return rc;
}

int cli_parse_states(const char *list, Pacer__JobState **states, size_t *n, char *err,
		     size_t errlen)
{
	const char *p = list;

	for (;;) {
		size_t len = strcspn(p, ",");
		char word[32];
		Pacer__JobState st;

		snprintf(word, sizeof(word), "%.*s", (int)len, p);
		if (len >= sizeof(word) || format_job_state_parse(word, &st) < 0) {
			snprintf(err, errlen,
				 "unknown job state '%.*s' (states: PENDING "
				 "RUNNING COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL REQUEUED "
				 "OUT_OF_MEMORY, or PD R CD F CA TO NF RQ OOM)",
				 (int)len, p);
			errno = EINVAL;
			return -1;
		}
		Pacer__JobState *grown = realloc(*states, (*n + 1) * sizeof(**states));
		if (!grown) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		*states = grown;
		(*states)[(*n)++] = st;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

int cli_job_results(const struct cli *cli, Pacer__JobResult **results, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		const Pacer__JobResult *r = results[i];

		if (r->code == 0)
			continue;
		/* The controller's message names the job (a task that does not
		 * exist has no id of its own); only a bare code needs the id. */
		if (r->message && *r->message)
			cli_error(cli, "%s", r->message);
		else
			cli_error(cli, "job %u: %s", r->job_id, strerror(r->code));
		rc = 1;
	}
	return rc;
}
