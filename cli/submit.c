/* submit.c - pacer submit: queue a batch script. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "frame.h"
#include "script.h"

extern char **environ;

/* Everything a submit holds while it is being put together. */
struct submission {
	struct submit_opts opts; /* command line over directives */
	char *script;
	size_t script_len;
	const char *source; /* how the user named the script, for messages */
	const char *default_name;
	char **argv; /* the script's own arguments */
	size_t argc;
	char **env;
	size_t nenv;
	char *cwd;
	char *workdir;
	char host[256];
};

static void submission_free(struct submission *s)
{
	submit_opts_free(&s->opts);
	free(s->script);
	script_argv_free(s->env);
	free(s->cwd);
	free(s->workdir);
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

/* The script itself: --wrap's command, a file, or standard input. */
static int load_script(struct cli *cli, struct submission *s, const struct submit_opts *cmdline,
		       int argc, char **argv, int first)
{
	const char *path = NULL;
	char err[1024];

	if (cmdline->wrap) {
		if (first < argc) {
			cli_error(cli,
				  "--wrap cannot be combined with a script ('%s') (put the "
				  "command in --wrap or in the script, not both)",
				  argv[first]);
			return -1;
		}
		if (asprintf(&s->script, "#!/bin/sh\n%s\n", cmdline->wrap) < 0) {
			cli_error(cli, "out of memory");
			return -1;
		}
		s->script_len = strlen(s->script);
		s->source = "--wrap";
		s->default_name = "wrap";
		return 0;
	}
	if (first < argc && strcmp(argv[first], "-") != 0) {
		path = argv[first];
		s->source = path;
		s->default_name = basename_of(path);
	} else {
		s->source = "stdin";
		s->default_name = "stdin";
		if (isatty(STDIN_FILENO))
			fprintf(stderr, "pacer submit: reading the batch script from standard "
					"input (end it with Ctrl-D)\n");
	}
	if (first < argc) {
		s->argv = argv + first + 1;
		s->argc = (size_t)(argc - first - 1);
	}
	if (script_read(path, &s->script, &s->script_len, err, sizeof(err)) < 0) {
		cli_error(cli, "%s", err);
		return -1;
	}
	return 0;
}

/* Directives, then the command line over them. */
static int gather_options(struct cli *cli, struct submission *s, struct submit_opts *cmdline)
{
	char err[1024];

	if (script_check(s->script, s->script_len, s->source, err, sizeof(err)) < 0 ||
	    script_parse_directives(&s->opts, s->script, s->script_len, s->source, err,
				    sizeof(err)) < 0) {
		cli_error(cli, "%s", err);
		return -1;
	}
	submit_opts_merge(&s->opts, cmdline);
	for (size_t i = 0; i < s->opts.nwarnings; i++)
		cli_warn(cli, "%s", s->opts.warnings[i]);
	if (script_export_env(s->opts.export_spec, environ, &s->env, &s->nenv, err, sizeof(err)) <
	    0) {
		cli_error(cli, "%s", err);
		return -1;
	}
	return 0;
}

static int locate(struct cli *cli, struct submission *s)
{
	s->cwd = getcwd(NULL, 0);
	if (!s->cwd) {
		cli_error(cli, "cannot find the current directory: %s (cd to an existing one)",
			  strerror(errno));
		return -1;
	}
	s->workdir = script_workdir(s->opts.chdir, s->cwd);
	if (!s->workdir) {
		cli_error(cli, "out of memory");
		return -1;
	}
	if (gethostname(s->host, sizeof(s->host) - 1) < 0)
		snprintf(s->host, sizeof(s->host), "unknown");
	return 0;
}

static int send_job(struct cli *cli, struct submission *s)
{
	Pacer__JobSpec spec = PACER__JOB_SPEC__INIT;
	Pacer__SubmitRequest sreq = PACER__SUBMIT_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	struct submit_input in = {
		.script = s->script,
		.script_len = s->script_len,
		.argv = s->argv,
		.argc = s->argc,
		.env = s->env,
		.nenv = s->nenv,
		.default_name = s->default_name,
		.workdir = s->workdir,
		.cwd = s->cwd,
		.host = s->host,
	};

	script_build_spec(&s->opts, &in, &spec);
	sreq.spec = &spec;
	req.body_case = PACER__MSG__BODY_SUBMIT;
	req.submit = &sreq;
	if (pacer__msg__get_packed_size(&req) > FRAME_MAX_REQUEST) {
		cli_error(cli,
			  "the job is larger than %u MiB with its environment (pass fewer "
			  "variables with --export)",
			  FRAME_MAX_REQUEST >> 20);
		return -1;
	}
	if (cli_call(cli, &req, PACER__MSG__BODY_SUBMIT_REPLY, &reply) < 0)
		return -1;
	if (s->opts.parsable)
		printf("%u\n", reply->submit_reply->job_id);
	else
		printf("Submitted job %u\n", reply->submit_reply->job_id);
	pacer__msg__free_unpacked(reply, NULL);
	return 0;
}

int cmd_submit(struct cli *cli, int argc, char **argv)
{
	cli->usage = script_usage;
	struct submission s = { 0 };
	struct submit_opts cmdline;
	char err[1024];
	int first, rc = 1;

	submit_opts_init(&s.opts);
	submit_opts_init(&cmdline);
	if (script_parse_args(&cmdline, argc, argv, &first, err, sizeof(err)) < 0) {
		if (cmdline.usage_error)
			rc = cli_usage_error(cli, "%s", err);
		else
			cli_error(cli, "%s", err);
		goto done;
	}
	if (cmdline.help) {
		fputs(script_usage, stdout);
		rc = 0;
		goto done;
	}
	if (load_script(cli, &s, &cmdline, argc, argv, first) < 0 ||
	    gather_options(cli, &s, &cmdline) < 0 || locate(cli, &s) < 0 || send_job(cli, &s) < 0)
		goto done;
	rc = 0;
done:
	submit_opts_free(&cmdline);
	submission_free(&s);
	return rc;
}
