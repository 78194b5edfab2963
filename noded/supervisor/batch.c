/* batch.c - the job's batch script on this node, from launch to end.
 *
 *   launched --SignalJob(terminate) / time limit / supervisor stop--> terminating
 *      |          (CONT+TERM now, KILL after kill_wait)                   |
 *      +------------------- SIGCHLD: the script exited <-----------------+
 *                                      |
 *            cleanup: KILL what it left, poll until the tracker is empty
 *                                      |
 *                    ended: sup_ended() holds it until acknowledged
 *
 * Nothing here blocks the loop but the launch itself, which waits for the
 * script's exec (launch.h): this process serves this one job only.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bind.h"
#include "confine.h"
#include "fileio.h"
#include "jobenv.h"
#include "launch.h"
#include "libexec.h"
#include "log.h"
#include "strfmt.h"
#include "supervisor.h"
#include "timefmt.h"
#include "track.h"

#if !defined(PACER_RSH_INSTALLED) || !defined(PACER_RSH_BUILT)
#error "PACER_RSH_INSTALLED and _BUILT must name the installed and built pacer-rsh"
#endif

#define CLEANUP_MS     5000 /* leftovers get this long to die after SIGKILL */
#define POLL_MS        50   /* how often an emptying tracker is looked at */
#define STOP_KILL_WAIT 5    /* seconds: the longest a stop waits after TERM */

struct batch {
	struct sup *s;
	pid_t pid; /* the script, leader of the job's session */
	struct track *track;
	struct confine *confine; /* its memory limit and cpuset */
	uint64_t oom_kills;      /* read from the cgroup when the job is over */
	uint32_t time_limit;     /* seconds, 0 = none */
	uint32_t kill_wait;      /* seconds between TERM and KILL */
	bool terminating;        /* TERM sent, KILL due at kill_at_ms */
	bool cancelled, timed_out, stopped;
	bool exited; /* the script was reaped: cleaning up */
	/* An allocation without a script (pacer alloc, pacer run outside a
	 * job): it holds the node until released, cancelled or timed out. */
	bool alloc_only, released;
	int32_t release_code;
	int wstatus;
	uint64_t kill_at_ms; /* monotonic */
	uint64_t cleanup_deadline_ms;
	struct event *limit_ev, *kill_ev, *poll_ev;
	char files[PATH_MAX]; /* SPOOL/job.ID.d: the hostfile; "" when not made */
};

static struct timeval tv_ms(uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

void batch_free(struct batch *b)
{
	if (!b)
		return;
	if (b->limit_ev)
		event_free(b->limit_ev);
	if (b->kill_ev)
		event_free(b->kill_ev);
	if (b->poll_ev)
		event_free(b->poll_ev);
	confine_destroy(b->confine);
	if (b->track)
		track_destroy(b->track);
	free(b);
}

pid_t batch_pid(const struct sup *s)
{
	return s->batch && !s->batch->exited ? s->batch->pid : 0;
}

/* Ending ------------------------------------------------------------------*/

static void end_of(const struct batch *b, struct job_end *e)
{
	int st = b->wstatus;
	char limit[32], oom[64] = "stopped it";

	memset(e, 0, sizeof(*e));
	e->job_id = b->s->job_id;
	e->end_time = (int64_t)time(NULL);
	if (b->exited && WIFEXITED(st))
		e->exit_code = WEXITSTATUS(st);
	if (b->exited && WIFSIGNALED(st))
		e->term_signal = WTERMSIG(st);
	if (b->alloc_only && b->released && !b->timed_out) {
		e->exit_code = b->release_code;
		e->state = b->release_code ? PACER__JOB_STATE__JOB_FAILED
					   : PACER__JOB_STATE__JOB_COMPLETED;
		if (b->release_code)
			snprintf(e->reason, sizeof(e->reason), "exit code %d", b->release_code);
	} else if (b->alloc_only && !b->timed_out && !b->cancelled) {
		e->state = PACER__JOB_STATE__JOB_NODE_FAIL;
		snprintf(e->reason, sizeof(e->reason), "its supervisor was stopped");
	} else if (b->timed_out) {
		e->state = PACER__JOB_STATE__JOB_TIMEOUT;
		timefmt_duration(b->time_limit, limit, sizeof(limit));
		snprintf(e->reason, sizeof(e->reason), "time limit of %s reached", limit);
	} else if (b->cancelled) {
		e->state = PACER__JOB_STATE__JOB_CANCELLED;
		snprintf(e->reason, sizeof(e->reason), "cancelled");
	} else if (b->stopped || !b->exited) {
		e->state = PACER__JOB_STATE__JOB_NODE_FAIL;
		snprintf(e->reason, sizeof(e->reason), "its supervisor was stopped");
	} else if (b->oom_kills) {
		/* Whatever the script's status: the job did not get to do its
		 * work within its memory (Slurm says OUT_OF_MEMORY too). */
		e->state = PACER__JOB_STATE__JOB_OUT_OF_MEMORY;
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			snprintf(oom, sizeof(oom), "killed %" PRIu64 " of its processes",
				 b->oom_kills);
		snprintf(e->reason, sizeof(e->reason),
			 "used more than its %" PRIu64
			 " MiB memory limit (the kernel's OOM killer %s)",
			 confine_mem_mb(b->confine), oom);
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		e->state = PACER__JOB_STATE__JOB_COMPLETED;
	} else if (WIFEXITED(st)) {
		e->state = PACER__JOB_STATE__JOB_FAILED;
		snprintf(e->reason, sizeof(e->reason), "exit code %d", WEXITSTATUS(st));
	} else {
		e->state = PACER__JOB_STATE__JOB_FAILED;
		snprintf(e->reason, sizeof(e->reason), "killed by signal %d (%s)", e->term_signal,
			 strsignal(e->term_signal));
	}
}

/* The job's folder of files for its processes (the hostfile). */
static void files_remove(struct batch *b)
{
	char path[PATH_MAX];

	if (!b->files[0])
		return;
	if (strfmt_path(path, sizeof(path), "%s/hostfile", b->files) == 0 && unlink(path) < 0 &&
	    errno != ENOENT)
		log_warn("job %" PRIu32 ": cannot remove %s: %s", b->s->job_id, path,
			 strerror(errno));
	if (rmdir(b->files) < 0 && errno != ENOENT)
		log_warn("job %" PRIu32 ": cannot remove %s: %s", b->s->job_id, b->files,
			 strerror(errno));
	b->files[0] = '\0';
}

/* Every process is gone (or will never go): the job is over. */
static void finish(struct batch *b)
{
	struct sup *s = b->s;
	struct job_end e;

	/* From the cgroup, before it goes: the kernel counted the kills. */
	b->oom_kills = confine_oom_kills(b->confine, b->exited && WIFSIGNALED(b->wstatus) &&
							 WTERMSIG(b->wstatus) == SIGKILL);
	end_of(b, &e);
	launch_cleanup(s->spool_dir, s->job_id);
	files_remove(b);
	s->batch = NULL;
	batch_free(b);
	sup_ended(s, &e);
}

static void poll_cleanup(struct batch *b)
{
	struct timeval tv = tv_ms(POLL_MS);

	if (track_empty(b->track)) {
		finish(b);
		return;
	}
	if (timefmt_monotonic_ms() >= b->cleanup_deadline_ms) {
		log_err("job %" PRIu32 ": processes still there %d s after SIGKILL (stuck in the "
			"kernel?): giving up on them",
			b->s->job_id, CLEANUP_MS / 1000);
		finish(b);
		return;
	}
	/* A process may have forked past the last kill. */
	track_kill(b->track);
	evtimer_add(b->poll_ev, &tv);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poll_cleanup(arg);
}

/* The script exited: what it left behind dies with it. */
static void script_exited(struct batch *b, int wstatus)
{
	b->exited = true;
	b->wstatus = wstatus;
	evtimer_del(b->limit_ev);
	evtimer_del(b->kill_ev);
	if (WIFSIGNALED(wstatus))
		log_info("job %" PRIu32 ": script (pid %ld) killed by signal %d", b->s->job_id,
			 (long)b->pid, WTERMSIG(wstatus));
	else
		log_info("job %" PRIu32 ": script (pid %ld) exited with status %d", b->s->job_id,
			 (long)b->pid, WEXITSTATUS(wstatus));
	track_kill(b->track);
	b->cleanup_deadline_ms = timefmt_monotonic_ms() + CLEANUP_MS;
	poll_cleanup(b);
}

void batch_reap(struct sup *s)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct batch *b = s->batch;
		if (b && !b->exited && pid == b->pid)
			script_exited(b, st);
		else
			log_debug("reaped process %ld", (long)pid);
	}
}

/* Terminating -------------------------------------------------------------*/

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;

	(void)fd;
	(void)what;
	log_info("job %" PRIu32 ": still running after SIGTERM: killing it", b->s->job_id);
	track_kill(b->track);
}

/* Send SIG now and SIGKILL WAIT_S seconds later (sooner if already due). */
static void terminate(struct batch *b, int sig, uint32_t wait_s)
{
	uint64_t now = timefmt_monotonic_ms(), at = now + (uint64_t)wait_s * 1000;
	struct timeval tv = tv_ms((uint64_t)wait_s * 1000);

	evtimer_del(b->limit_ev);
	if (b->exited)
		return; /* the cleanup kills whatever is left */
	if (sig == SIGKILL) {
		evtimer_del(b->kill_ev);
		track_kill(b->track);
		return;
	}
	if (b->terminating) {
		if (at < b->kill_at_ms) {
			b->kill_at_ms = at;
			evtimer_add(b->kill_ev, &tv);
		}
		return;
	}
	b->terminating = true;
	b->kill_at_ms = at;
	/* A stopped process would not act on TERM until continued. */
	track_signal(b->track, SIGCONT);
	if (track_signal(b->track, sig) < 0 && errno != ESRCH)
		log_err("job %" PRIu32 ": cannot send signal %d: %s", b->s->job_id, sig,
			strerror(errno));
	evtimer_add(b->kill_ev, &tv);
}

static void on_limit(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;

	(void)fd;
	(void)what;
	log_info("job %" PRIu32 " reached its time limit", b->s->job_id);
	b->timed_out = true;
	if (b->alloc_only) {
		finish(b);
		return;
	}
	terminate(b, SIGTERM, b->kill_wait);
}

static bool valid_signal(int sig)
{
	return sig > 0 && sig < NSIG;
}

void batch_signal(struct sup *s, const Pacer__SignalJob *sj)
{
	struct batch *b = s->batch;

	if (!b) {
		log_info("signal for job %" PRIu32 ", which has ended: ignored", sj->job_id);
		return;
	}
	if (b->alloc_only) {
		/* Nothing runs: its steps are their own supervisors'. */
		if (!sj->terminate)
			return;
		b->released = sj->release;
		b->release_code = sj->exit_code;
		b->cancelled = !sj->release;
		log_info("allocation %" PRIu32 " %s", s->job_id,
			 sj->release ? "released by its command" : "cancelled");
		finish(b);
		return;
	}
	if (sj->terminate) {
		if (!b->exited && !b->terminating) {
			b->cancelled = true;
			log_info("job %" PRIu32 " cancelled: terminating it", s->job_id);
		}
		terminate(b, valid_signal(sj->signal) ? sj->signal : SIGTERM, b->kill_wait);
		return;
	}
	if (!valid_signal(sj->signal)) {
		log_warn("job %" PRIu32 ": %d is not a signal number: ignored", s->job_id,
			 sj->signal);
		return;
	}
	if (b->exited)
		return;
	if (track_signal(b->track, sj->signal) < 0 && errno != ESRCH)
		log_err("job %" PRIu32 ": cannot send signal %d: %s", s->job_id, sj->signal,
			strerror(errno));
	else
		log_info("job %" PRIu32 ": sent signal %d (%s)", s->job_id, sj->signal,
			 strsignal(sj->signal));
}

void batch_stop(struct sup *s)
{
	struct batch *b = s->batch;

	if (!b || b->exited)
		return;
	if (!b->cancelled && !b->timed_out)
		b->stopped = true;
	if (b->alloc_only) {
		finish(b);
		return;
	}
	terminate(b, SIGTERM, b->kill_wait < STOP_KILL_WAIT ? b->kill_wait : STOP_KILL_WAIT);
}

/* Launching ---------------------------------------------------------------*/

/* A NULL-terminated copy of a protobuf string array (the strings shared). */
static char **ptrv(char **v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));

	if (out && n)
		memcpy(out, v, n * sizeof(*out));
	return out;
}

static struct batch *batch_new(struct sup *s)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->s = s;
	b->limit_ev = evtimer_new(s->base, on_limit, b);
	b->kill_ev = evtimer_new(s->base, on_kill, b);
	b->poll_ev = evtimer_new(s->base, on_poll, b);
	if (!b->limit_ev || !b->kill_ev || !b->poll_ev) {
		batch_free(b);
		errno = ENOMEM;
		return NULL;
	}
	return b;
}

/* Where the job may run on this machine.  Its cgroups are made from the
 * plan: the job's whole (mapped) cpuset, whatever --cpu-bind says. */
static int plan_job(struct batch *b, const Pacer__LaunchJob *lj, struct bind_plan **plan, char *err,
		    size_t errlen)
{
	const struct sup *s = b->s;
	const Pacer__NodeAlloc *a = lj->alloc;
	struct bind_req br = { .job_id = s->job_id,
			       .node = s->setup->node,
			       .cpuset = a ? a->cpuset : NULL,
			       .mems = a ? a->mems : NULL,
			       .cpu_bind = lj->job->spec->cpu_bind };

	if (bind_plan_make(s->bind, &br, plan, err, errlen) < 0)
		return -1;
	b->confine = confine_create(s->job_id, b->track, a ? a->mem_mb : 0, bind_plan_cpus(*plan),
				    bind_plan_mems(*plan), err, errlen);
	return b->confine ? 0 : -1;
}

/* SPOOL/job.ID.d/hostfile for mpirun (root's, readable by all: it holds
 * node names only), its path into PATH.  0, or -1 logged: the job runs
 * anyway, only a plain mpirun in it would not find its nodes. */
static int write_hostfile(struct batch *b, const Pacer__LaunchJob *lj, char *path, size_t len)
{
	const struct sup *s = b->s;
	char tmp[PATH_MAX];
	char *text = NULL;
	int rc = -1;

	if (strfmt_path(b->files, sizeof(b->files), "%s/job.%" PRIu32 ".d", s->spool_dir,
			s->job_id) < 0 ||
	    strfmt_path(path, len, "%s/hostfile", b->files) < 0 ||
	    strfmt_path(tmp, sizeof(tmp), "%s/hostfile.tmp", b->files) < 0) {
		log_warn("job %" PRIu32 ": the spool path is too long for its hostfile", s->job_id);
		b->files[0] = '\0';
		return -1;
	}
	/* Left by a supervisor that died: ours now. */
	if (mkdir(b->files, 0755) < 0 && errno != EEXIST) {
		log_warn("job %" PRIu32 ": cannot create %s: %s", s->job_id, b->files,
			 strerror(errno));
		b->files[0] = '\0';
		return -1;
	}
	chmod(b->files, 0755);
	text = jobenv_hostfile(lj, s->setup->node);
	if (!text || file_replace(path, tmp, text, strlen(text), 0644, NULL) < 0)
		log_warn("job %" PRIu32 ": cannot write its hostfile %s: %s", s->job_id, path,
			 strerror(errno));
	else
		rc = 0;
	free(text);
	return rc;
}

/* What a plain mpirun in the script needs (docs/mpi.md): the hostfile,
 * pacer-rsh instead of ssh, the cluster's network. */
static void mpi_env(struct batch *b, const Pacer__LaunchJob *lj, char ***penv)
{
	const struct sup *s = b->s;
	char hostfile[PATH_MAX], agent[PATH_MAX], net[80], err[512];
	struct jobenv_mpi m = { .hostfile = hostfile };

	if (write_hostfile(b, lj, hostfile, sizeof(hostfile)) < 0)
		return;
	if (libexec_find("pacer-rsh", "PACER_RSH", PACER_RSH_INSTALLED, PACER_RSH_BUILT, agent,
			 sizeof(agent), err, sizeof(err)) < 0)
		log_warn("job %" PRIu32 ": %s: mpirun in it would use ssh", s->job_id, err);
	else if (strpbrk(agent, " \t\n'\"\\"))
		/* Open MPI splits the agent on blanks and runs the first word. */
		log_warn("job %" PRIu32 ": pacer-rsh's path %s has a blank or a quote, which "
			 "mpirun cannot run: install Pacer under a plain path",
			 s->job_id, agent);
	else
		m.agent = agent;
	if (jobenv_node_network(s->setup->node, net, sizeof(net)) == 0)
		m.network = net;
	if (jobenv_add_mpi(penv, lj, &m) < 0)
		log_warn("job %" PRIu32 ": out of memory for its mpirun variables", s->job_id);
}

/* Fork and exec the script of LJ, bound as PLAN says.  0, or -1 with ERR. */
static int exec_script(struct batch *b, const Pacer__LaunchJob *lj, const struct bind_plan *plan,
		       char *err, size_t errlen)
{
	const struct sup *s = b->s;
	const Pacer__Job *j = lj->job;
	const Pacer__JobSpec *sp = j->spec;
	char **penv = NULL;
	struct launch_req req;
	char out[64];
	int rc = -1;

	memset(&req, 0, sizeof(req));
	req.argv = ptrv(sp->argv, sp->n_argv);
	req.env = ptrv(sp->env, sp->n_env);
	penv = jobenv_make(lj, s->setup->node, s->setup->cluster);
	if (!req.argv || !req.env || !penv) {
		snprintf(err, errlen, "out of memory preparing job %" PRIu32, j->id);
		goto out;
	}
	mpi_env(b, lj, &penv);
	/* Slurm's default, as users expect one when the controller gave none. */
	snprintf(out, sizeof(out), "pacer-%" PRIu32 ".out", j->id);
	req.job_id = j->id;
	req.uid = (uid_t)j->uid;
	req.gid = (gid_t)j->gid;
	req.user = j->user;
	req.workdir = sp->workdir;
	req.script = sp->script.data;
	req.script_len = sp->script.len;
	req.pacer_env = penv;
	req.stdout_path = j->stdout_path[0] ? j->stdout_path : out;
	req.stderr_path = j->stderr_path[0] ? j->stderr_path : NULL;
	req.spool_dir = s->spool_dir;
	req.confine = b->confine;
	req.bind = plan;
	rc = launch_job(&req, b->track, &b->pid, err, errlen);
out:
	jobenv_free(penv);
	free((void *)req.argv);
	free((void *)req.env);
	return rc;
}

int batch_start(struct sup *s, const Pacer__LaunchJob *lj, char *err, size_t errlen)
{
	const Pacer__Job *j = lj->job;
	uint32_t limit = j->spec->time_limit;
	struct batch *b = batch_new(s);
	struct bind_plan *plan = NULL;
	char lim[48] = "none";

	if (!b) {
		snprintf(err, errlen, "out of memory starting job %" PRIu32, j->id);
		return -1;
	}
	b->time_limit = limit == TIMEFMT_UNLIMITED ? 0 : limit;
	if (j->spec->alloc_only) {
		b->alloc_only = true;
		b->kill_wait = lj->kill_wait ? lj->kill_wait : 30;
		s->batch = b;
		if (b->time_limit) {
			struct timeval tv = { .tv_sec = (time_t)b->time_limit };
			evtimer_add(b->limit_ev, &tv);
		}
		log_info("allocation %" PRIu32 " for user %s held here (no script: its steps run "
			 "under their own supervisors)",
			 j->id, j->user);
		return 0;
	}
	b->track = track_create(j->id);
	if (!b->track) {
		snprintf(err, errlen, "cannot create the process tracker of job %" PRIu32 ": %s",
			 j->id, strerror(errno));
		goto failed;
	}
	if (plan_job(b, lj, &plan, err, errlen) < 0 || exec_script(b, lj, plan, err, errlen) < 0)
		goto failed;
	b->time_limit = limit == TIMEFMT_UNLIMITED ? 0 : limit;
	b->kill_wait = lj->kill_wait ? lj->kill_wait : 30;
	s->batch = b;
	if (b->time_limit) {
		struct timeval tv = { .tv_sec = (time_t)b->time_limit };
		evtimer_add(b->limit_ev, &tv);
	}
	if (confine_mem_mb(b->confine))
		snprintf(lim, sizeof(lim), "%" PRIu64 " MiB", confine_mem_mb(b->confine));
	log_info("job %" PRIu32 " launched as user %s (uid %" PRIu32 ") pid %ld, tracked by %s, "
		 "bound to %s, memory limit %s",
		 j->id, j->user, j->uid, (long)b->pid, track_method(), bind_plan_describe(plan),
		 lim);
	bind_plan_free(plan);
	return 0;
failed:
	bind_plan_free(plan);
	files_remove(b);
	batch_free(b);
	return -1;
}
