/* alloc.c - pacer alloc, and the allocation pacer run makes outside a job
 * (see run.h). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"
#include "run.h"
#include "timefmt.h"

extern char **environ;

/* How often a running allocation is checked for having been revoked. */
#define ALLOC_POLL_MS 2000
/* Polls of a pending job start fast and slow down to this. */
#define WAIT_POLL_MAX_MS 2000
/* Controller calls in a row that may fail before waiting gives up. */
#define CALL_RETRIES 10

void alloc_job_free(struct alloc_job *a)
{
	free(a->name);
	free(a->nodelist);
	free(a->partition);
	memset(a, 0, sizeof(*a));
}

int alloc_submit(struct cli *cli, const struct run_opts *o, const char *default_name, uint32_t *id)
{
	Pacer__JobSpec spec = PACER__JOB_SPEC__INIT;
	Pacer__SubmitRequest sreq = PACER__SUBMIT_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	struct submit_opts jo = o->job;
	char **env = NULL, *cwd = NULL, *workdir = NULL, host[256] = "", err[1024];
	size_t nenv = 0;
	int rc = -1;

	/* -o and -e of pacer run are the step's files, not the job's. */
	jo.output = jo.error = NULL;
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		cli_error(cli, "cannot find the current directory: %s (cd to an existing one)",
			  strerror(errno));
		goto done;
	}
	workdir = script_workdir(o->job.chdir, cwd);
	if (!workdir) {
		cli_error(cli, "out of memory");
		goto done;
	}
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "unknown");
	if (script_export_env(o->job.export_spec, environ, &env, &nenv, err, sizeof(err)) < 0) {
		cli_error(cli, "%s", err);
		goto done;
	}
	struct submit_input in = {
		.script = "",
		.script_len = 0,
		.env = env,
		.nenv = nenv,
		.default_name = default_name,
		.workdir = workdir,
		.cwd = cwd,
		.host = host,
	};
	script_build_spec(&jo, &in, &spec);
	spec.script.data = NULL;
	spec.script.len = 0;
	spec.alloc_only = true;
	sreq.spec = &spec;
	req.body_case = PACER__MSG__BODY_SUBMIT;
	req.submit = &sreq;
	if (pacer__msg__get_packed_size(&req) > FRAME_MAX_REQUEST) {
		cli_error(cli,
			  "the job is larger than %u MiB with its environment (pass fewer "
			  "variables with --export)",
			  FRAME_MAX_REQUEST >> 20);
		goto done;
	}
	if (cli_call(cli, &req, PACER__MSG__BODY_SUBMIT_REPLY, &reply) < 0)
		goto done;
	*id = reply->submit_reply->job_id;
	pacer__msg__free_unpacked(reply, NULL);
	rc = 0;
done:
	script_argv_free(env);
	free(workdir);
	free(cwd);
	return rc;
}

/* The summary of job ID: 0 with *REPLY (its jobs[0] is the job), 1 when the
 * controller does not know it, -1 when it could not be asked (printed with
 * LOUD). */
static int query(struct cli *cli, uint32_t id, bool loud, Pacer__Msg **reply)
{
	Pacer__QueueRequest q = PACER__QUEUE_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT;
	uint32_t ids[1] = { id };

	q.all = true;
	q.job_ids = ids;
	q.n_job_ids = 1;
	req.body_case = PACER__MSG__BODY_QUEUE;
	req.queue = &q;
	if ((loud ? cli_call : cli_call_quiet)(cli, &req, PACER__MSG__BODY_QUEUE_REPLY, reply) < 0)
		return -1;
	if ((*reply)->queue_reply->n_jobs == 0) {
		pacer__msg__free_unpacked(*reply, NULL);
		*reply = NULL;
		return 1;
	}
	return 0;
}

/* Sleep MS, or less when a signal comes. */
static void nap(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static const char *state_name(Pacer__JobState st)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&pacer__job_state__descriptor, (int)st);

	/* "JOB_CANCELLED" -> "CANCELLED" */
	return v && strncmp(v->name, "JOB_", 4) == 0 ? v->name + 4 : "ENDED";
}

int alloc_wait(struct cli *cli, uint32_t id, bool quiet, volatile sig_atomic_t *stop,
	       struct alloc_job *a)
{
	bool said = false;
	int ms = 100, failures = 0;

	for (;;) {
		Pacer__Msg *reply = NULL;
		int rc;

		if (*stop) {
			fflush(stdout);
			fprintf(stderr, "pacer %s: interrupted: cancelling job %u\n", cli->cmd, id);
			alloc_cancel(cli, id);
			return -1;
		}
		rc = query(cli, id, failures + 1 >= CALL_RETRIES, &reply);
		if (rc < 0) {
			if (++failures >= CALL_RETRIES) {
				cli_error(cli, "lost track of job %u: cancelling it", id);
				alloc_cancel(cli, id);
				return -1;
			}
		} else if (rc > 0) {
			cli_error(cli,
				  "job allocation %u has been revoked (the controller forgot it)",
				  id);
			return -1;
		} else {
			const Pacer__JobSummary *js = reply->queue_reply->jobs[0];
			failures = 0;
			if (js->state == PACER__JOB_STATE__JOB_RUNNING) {
				a->id = id;
				a->name = strdup(js->name ? js->name : "");
				a->nodelist = strdup(js->nodelist ? js->nodelist : "");
				a->partition = strdup(js->partition ? js->partition : "");
				a->nnodes = js->nodes;
				a->ntasks = js->ntasks;
				pacer__msg__free_unpacked(reply, NULL);
				if (!a->name || !a->nodelist || !a->partition) {
					cli_error(cli, "out of memory");
					alloc_cancel(cli, id);
					return -1;
				}
				return 0;
			}
			if (js->state != PACER__JOB_STATE__JOB_PENDING) {
				cli_error(cli, "job allocation %u has been revoked (%s%s%s)", id,
					  state_name(js->state),
					  js->reason && *js->reason ? ": " : "",
					  js->reason ? js->reason : "");
				pacer__msg__free_unpacked(reply, NULL);
				return -1;
			}
			if (!said && !quiet) {
				fflush(stdout);
				fprintf(stderr,
					"pacer %s: job %u queued and waiting for resources\n",
					cli->cmd, id);
			}
			said = true;
			pacer__msg__free_unpacked(reply, NULL);
		}
		nap(ms);
		ms = ms * 2 > WAIT_POLL_MAX_MS ? WAIT_POLL_MAX_MS : ms * 2;
	}
}

int alloc_running(struct cli *cli, uint32_t id, Pacer__JobState *state)
{
	Pacer__Msg *reply = NULL;
	int rc = query(cli, id, false, &reply);

	if (rc < 0)
		return -1;
	if (rc > 0) {
		*state = PACER__JOB_STATE__JOB_STATE_NONE;
		return 0;
	}
	*state = reply->queue_reply->jobs[0]->state;
	pacer__msg__free_unpacked(reply, NULL);
	return *state == PACER__JOB_STATE__JOB_RUNNING;
}

static int cancel_request(struct cli *cli, uint32_t id, bool release, int code, bool *ended)
{
	Pacer__CancelRequest cr = PACER__CANCEL_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	uint32_t ids[1] = { id };
	int rc = 0;

	*ended = false;
	cr.job_ids = ids;
	cr.n_job_ids = 1;
	cr.release = release;
	cr.exit_code = code;
	req.body_case = PACER__MSG__BODY_CANCEL;
	req.cancel = &cr;
	if (cli_call(cli, &req, PACER__MSG__BODY_CANCEL_REPLY, &reply) < 0)
		return -1;
	for (size_t i = 0; i < reply->cancel_reply->n_results; i++) {
		const Pacer__JobResult *r = reply->cancel_reply->results[i];
		if (r->code == EALREADY) {
			*ended = true;
		} else if (r->code == EAGAIN) {
			rc = 1;
		} else if (r->code) {
			cli_job_results(cli, reply->cancel_reply->results + i, 1);
			rc = -1;
		}
	}
	pacer__msg__free_unpacked(reply, NULL);
	return rc;
}

/* Whether job ID has a step the controller still counts as running. */
static int steps_running(struct cli *cli, uint32_t id)
{
	Pacer__QueueRequest q = PACER__QUEUE_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;
	uint32_t ids[1] = { id };
	int running = 0;

	q.job_ids = ids;
	q.n_job_ids = 1;
	q.steps = true;
	q.all = true;
	req.body_case = PACER__MSG__BODY_QUEUE;
	req.queue = &q;
	if (cli_call(cli, &req, PACER__MSG__BODY_QUEUE_REPLY, &reply) < 0)
		return -1;
	for (size_t i = 0; i < reply->queue_reply->n_steps; i++)
		running |= reply->queue_reply->steps[i]->state == PACER__JOB_STATE__JOB_RUNNING;
	pacer__msg__free_unpacked(reply, NULL);
	return running;
}

int alloc_release(struct cli *cli, uint32_t id, int code)
{
	bool ended;

	/* A step's end reaches the controller from its nodes, the release
	 * from us: let the steps' own ends be recorded first (their nodes
	 * report them as soon as their tasks are gone), or they would end
	 * with the job instead ("the job ended"). */
	for (int i = 0; i < 100 && steps_running(cli, id) == 1; i++)
		nap(50);

	/* EAGAIN: its start is still being recorded; that takes moments. */
	for (int i = 0; i < CALL_RETRIES; i++) {
		int rc = cancel_request(cli, id, true, code, &ended);
		if (rc < 0)
			return -1;
		if (ended)
			return 1;
		if (rc == 0)
			return 0;
		nap(200);
	}
	cli_error(cli, "job %u could not be released: cancel it with pacer cancel %u", id, id);
	return -1;
}

int alloc_cancel(struct cli *cli, uint32_t id)
{
	bool ended;

	return cancel_request(cli, id, false, 0, &ended) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------
 * pacer alloc */

static volatile sig_atomic_t got_stop, got_child, got_forward;

static void on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
}

static void on_child(int sig)
{
	(void)sig;
	got_child = 1;
}

static void on_forward(int sig)
{
	got_forward = sig;
}

/* The batch environment's names (noded/jobenv.c), for the command. */
static int set_env(const struct cli *cli, const struct alloc_job *a, const struct run_opts *o)
{
	char host[256] = "", *cwd = getcwd(NULL, 0);
	char num[16];
	int rc = 0;

	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
#define SETU(name, v) (snprintf(num, sizeof(num), "%" PRIu32, (uint32_t)(v)), setenv(name, num, 1))
	rc |= SETU("PACER_JOB_ID", a->id);
	rc |= setenv("PACER_JOB_NAME", a->name, 1);
	rc |= setenv("PACER_NODELIST", a->nodelist, 1);
	rc |= SETU("PACER_NNODES", a->nnodes ? a->nnodes : 1);
	rc |= SETU("PACER_NTASKS", a->ntasks ? a->ntasks : 1);
	rc |= SETU("PACER_CPUS_PER_TASK", o->job.cpus_per_task ? o->job.cpus_per_task : 1);
	rc |= setenv("PACER_JOB_PARTITION", a->partition, 1);
	rc |= setenv("PACER_SUBMIT_DIR", cwd ? cwd : "", 1);
	rc |= setenv("PACER_SUBMIT_HOST", host, 1);
	rc |= setenv("PACER_CLUSTER_NAME", cli->conf ? cli->conf->cluster : "", 1);
#undef SETU
	free(cwd);
	return rc;
}

/* Fork and exec ARGV with the allocation's environment. */
static pid_t start_command(struct cli *cli, const struct alloc_job *a, const struct run_opts *o,
			   char **argv)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	static const int sigs[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGTSTP };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &dfl, NULL);
	if (set_env(cli, a, o) < 0) {
		fprintf(stderr, "pacer alloc: out of memory\n");
		_exit(127);
	}
	if (o->job.chdir && chdir(o->job.chdir) < 0) {
		fprintf(stderr, "pacer alloc: cannot change to directory '%s': %s\n", o->job.chdir,
			strerror(errno));
		_exit(127);
	}
	execvp(argv[0], argv);
	fprintf(stderr, "pacer alloc: cannot run '%s': %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* Wait for the command; tell it, once, when the allocation is revoked. */
static int wait_command(struct cli *cli, uint32_t id, pid_t pid, bool *revoked)
{
	uint64_t next = timefmt_monotonic_ms() + ALLOC_POLL_MS;
	int status;

	*revoked = false;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return 1;
		if (got_forward) {
			kill(pid, got_forward);
			got_forward = 0;
		}
		if (!*revoked && timefmt_monotonic_ms() >= next) {
			Pacer__JobState st;
			if (alloc_running(cli, id, &st) == 0) {
				fflush(stdout);
				fprintf(stderr,
					"pacer alloc: job allocation %u has been revoked%s%s\n", id,
					st ? " " : "", st ? state_name(st) : "");
				*revoked = true;
				kill(pid, SIGHUP);
			}
			next = timefmt_monotonic_ms() + ALLOC_POLL_MS;
		}
		/* SIGCHLD cuts the nap short. */
		nap(200);
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int cmd_alloc(struct cli *cli, int argc, char **argv)
{
	cli->usage = alloc_usage;
	struct run_opts o;
	struct alloc_job a = { 0 };
	char err[1024], *shell_argv[2] = { NULL, NULL }, **cmd;
	uint32_t id;
	int rc = 1;

	run_opts_init(&o, RUN_MODE_ALLOC);
	if (run_parse_args(&o, argc, argv, err, sizeof(err)) < 0) {
		rc = o.usage_error ? cli_usage_error(cli, "%s", err)
				   : (cli_error(cli, "%s", err), 1);
		goto done;
	}
	if (o.help) {
		fputs(alloc_usage, stdout);
		rc = 0;
		goto done;
	}
	if (o.first < argc) {
		cmd = argv + o.first;
	} else {
		const char *sh = getenv("SHELL");
		shell_argv[0] = (char *)(sh && *sh ? sh : "/bin/sh");
		cmd = shell_argv;
	}
	const char *slash = strrchr(cmd[0], '/');
	if (alloc_submit(cli, &o, slash && slash[1] ? slash + 1 : cmd[0], &id) < 0)
		goto done;

	struct sigaction stop = { .sa_handler = on_stop }, old[3];
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &stop, &old[i]);
	int waited = alloc_wait(cli, id, o.quiet, &got_stop, &a);
	if (waited < 0)
		goto done;
	if (!o.quiet) {
		fflush(stdout);
		fprintf(stderr, "pacer alloc: granted job allocation %u\n", id);
	}
	/* As system(): the command owns the keyboard's signals; ours go to it. */
	struct sigaction ign = { .sa_handler = SIG_IGN }, fwd = { .sa_handler = on_forward },
			 chld = { .sa_handler = on_child };
	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	sigaction(SIGTERM, &fwd, NULL);
	sigaction(SIGHUP, &fwd, NULL);
	sigaction(SIGCHLD, &chld, NULL);
	pid_t pid = start_command(cli, &a, &o, cmd);
	if (pid < 0) {
		cli_error(cli, "cannot start '%s': %s", cmd[0], strerror(errno));
		alloc_release(cli, id, 1);
		goto done;
	}
	bool revoked;
	rc = wait_command(cli, id, pid, &revoked);
	if (!revoked) {
		if (!o.quiet) {
			fflush(stdout);
			fprintf(stderr, "pacer alloc: relinquishing job allocation %u\n", id);
		}
		if (alloc_release(cli, id, rc) == 1)
			fprintf(stderr, "pacer alloc: job allocation %u has been revoked\n", id);
	}
done:
	alloc_job_free(&a);
	run_opts_free(&o);
	return rc;
}
