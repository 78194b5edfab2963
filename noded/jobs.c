/* jobs.c - the node's job table (see jobs.h).
 *
 * A job's life on the node:
 *
 *   launched --SignalJob(terminate) / time limit / daemon stop--> terminating
 *      |          (CONT+TERM now, KILL after kill_wait)              |
 *      +----------------- SIGCHLD: the script exited <--------------+
 *                                      |
 *            cleanup: KILL what it left, poll until the tracker is empty
 *                                      |
 *            ended: spool record, JobEnded, kept until JobEndedAck
 *
 * Nothing here blocks the loop: waiting is done with timers.
 */
#include "jobs.h"
#include "proc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bind.h"
#include "conf.h"
#include "confine.h"
#include "jobenv.h"
#include "launch.h"
#include "log.h"
#include "noded.h"
#include "spool.h"
#include "timefmt.h"
#include "track.h"

#define CLEANUP_MS      5000 /* leftovers get this long to die after SIGKILL */
#define POLL_MS         50   /* how often an emptying tracker is looked at */
#define STOP_KILL_WAIT  5    /* seconds: the longest a daemon stop waits after TERM */
#define RECOVER_WAIT_MS 3000 /* startup: how long killed leftovers may take */

struct job {
	struct job *next;
	struct jobs *js;
	uint32_t id;
	pid_t pid; /* the script, leader of the job's session */
	struct track *track;
	struct confine *confine; /* its memory limit and cpuset */
	uint64_t oom_kills;      /* read from the cgroup when the job is over */
	int64_t start_time;      /* wall clock, for the controller */
	uint32_t time_limit;     /* seconds, 0 = none */
	uint32_t kill_wait;      /* seconds between TERM and KILL */
	bool terminating;        /* TERM sent, KILL due at kill_at_ms */
	bool cancelled, timed_out, stopped;
	bool exited; /* the script was reaped: cleaning up */
	int wstatus;
	uint64_t kill_at_ms; /* monotonic */
	uint64_t cleanup_deadline_ms;
	struct event *limit_ev, *kill_ev, *poll_ev;
};

struct jobs {
	struct noded *nd;
	struct job *head;
	size_t njobs;
	struct job_end *ended; /* waiting for the controller's JobEndedAck */
	size_t nended, ended_cap;
	void (*stop_done)(struct noded *nd);
};

/* "COMPLETED" for JOB_COMPLETED, as users read states. */
static const char *state_name(int state)
{
	const ProtobufCEnumValue *v =
	    protobuf_c_enum_descriptor_get_value(&pacer__job_state__descriptor, state);

	return v && strncmp(v->name, "JOB_", 4) == 0 ? v->name + 4 : "?";
}

/* Copy SRC into DST of SIZE bytes, cut short if need be: reasons are for
 * people, a long one may lose its tail. */
static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

/* When PID started, which tells it from a later process given its pid. */
static int proc_start(pid_t pid, uint64_t *start)
{
	struct proc_stat st;

	if (proc_stat_read(pid, &st) < 0)
		return -1;
	*start = st.start_time;
	return 0;
}

static struct timeval tv_ms(uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

/* The table ---------------------------------------------------------------*/

static struct job *job_find(const struct jobs *js, uint32_t id)
{
	for (struct job *j = js->head; j; j = j->next)
		if (j->id == id)
			return j;
	return NULL;
}

static struct job *job_by_pid(const struct jobs *js, pid_t pid)
{
	for (struct job *j = js->head; j; j = j->next)
		if (j->pid == pid && !j->exited)
			return j;
	return NULL;
}

static long ended_index(const struct jobs *js, uint32_t id)
{
	for (size_t i = 0; i < js->nended; i++)
		if (js->ended[i].job_id == id)
			return (long)i;
	return -1;
}

static void job_unlink(struct job *job)
{
	struct jobs *js = job->js;

	for (struct job **pp = &js->head; *pp; pp = &(*pp)->next) {
		if (*pp == job) {
			*pp = job->next;
			js->njobs--;
			return;
		}
	}
}

static void job_free(struct job *job)
{
	if (job->limit_ev)
		event_free(job->limit_ev);
	if (job->kill_ev)
		event_free(job->kill_ev);
	if (job->poll_ev)
		event_free(job->poll_ev);
	confine_destroy(job->confine);
	if (job->track)
		track_destroy(job->track);
	free(job);
}

static int ended_add(struct jobs *js, const struct job_end *e)
{
	if (js->nended == js->ended_cap) {
		size_t cap = js->ended_cap ? js->ended_cap * 2 : 16;
		struct job_end *v = realloc(js->ended, cap * sizeof(*v));
		if (!v)
			return -1;
		js->ended = v;
		js->ended_cap = cap;
	}
	js->ended[js->nended++] = *e;
	return 0;
}

static void spool_ended(const struct jobs *js, const struct job_end *e)
{
	struct spool_rec r = { .job_id = e->job_id,
			       .ended = true,
			       .state = e->state,
			       .exit_code = e->exit_code,
			       .term_signal = e->term_signal,
			       .end_time = e->end_time };

	copy_str(r.reason, sizeof(r.reason), e->reason);
	copy_str(r.boot_id, sizeof(r.boot_id), js->nd->boot_id);
	if (spool_write(js->nd->spool_dir, &r) < 0)
		log_err("cannot record the end of job %" PRIu32 " in %s: %s (it is lost if this "
			"daemon restarts before the controller has it)",
			e->job_id, js->nd->spool_dir, strerror(errno));
}

/* A job ended: keep it until the controller acknowledges, and tell it. */
static void record_end(struct jobs *js, const struct job_end *e)
{
	log_info("job %" PRIu32 " ended: %s, exit code %" PRId32 ", signal %" PRId32 "%s%s",
		 e->job_id, state_name(e->state), e->exit_code, e->term_signal,
		 e->reason[0] ? ": " : "", e->reason);
	spool_ended(js, e);
	if (ended_add(js, e) < 0)
		log_err("job %" PRIu32 ": out of memory remembering its end (the spool keeps it)",
			e->job_id);
	link_send_ended(js->nd, e);
}

/* A job that never started (or cannot be started) ends at once. */
static void end_at_once(struct jobs *js, uint32_t id, int state, int exit_code, const char *reason)
{
	struct job_end e = {
		.job_id = id, .state = state, .exit_code = exit_code, .end_time = wall_now()
	};

	copy_str(e.reason, sizeof(e.reason), reason);
	record_end(js, &e);
}

static void check_stop_done(struct jobs *js)
{
	void (*done)(struct noded * nd) = js->stop_done;

	if (done && !js->head) {
		js->stop_done = NULL;
		done(js->nd);
	}
}

/* Ending ------------------------------------------------------------------*/

static void end_of(const struct job *job, struct job_end *e)
{
	int st = job->wstatus;
	char limit[32], oom[64] = "stopped it";

	memset(e, 0, sizeof(*e));
	e->job_id = job->id;
	e->end_time = wall_now();
	if (job->exited && WIFEXITED(st))
		e->exit_code = WEXITSTATUS(st);
	if (job->exited && WIFSIGNALED(st))
		e->term_signal = WTERMSIG(st);
	if (job->timed_out) {
		e->state = PACER__JOB_STATE__JOB_TIMEOUT;
		timefmt_duration(job->time_limit, limit, sizeof(limit));
		snprintf(e->reason, sizeof(e->reason), "time limit of %s reached", limit);
	} else if (job->cancelled) {
		e->state = PACER__JOB_STATE__JOB_CANCELLED;
		snprintf(e->reason, sizeof(e->reason), "cancelled");
	} else if (job->stopped || !job->exited) {
		e->state = PACER__JOB_STATE__JOB_NODE_FAIL;
		snprintf(e->reason, sizeof(e->reason), "node daemon stopped");
	} else if (job->oom_kills) {
		/* Whatever the script's status: the job did not get to do its
		 * work within its memory (Slurm says OUT_OF_MEMORY too). */
		e->state = PACER__JOB_STATE__JOB_OUT_OF_MEMORY;
		if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
			snprintf(oom, sizeof(oom), "killed %" PRIu64 " of its processes",
				 job->oom_kills);
		snprintf(e->reason, sizeof(e->reason),
			 "used more than its %" PRIu64
			 " MiB memory limit (the kernel's OOM killer %s)",
			 confine_mem_mb(job->confine), oom);
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

/* Every process is gone (or will never go): the job is over. */
static void finish(struct job *job)
{
	struct jobs *js = job->js;
	struct job_end e;

	/* From the cgroup, before it goes: the kernel counted the kills. */
	job->oom_kills = confine_oom_kills(job->confine, job->exited && WIFSIGNALED(job->wstatus) &&
							     WTERMSIG(job->wstatus) == SIGKILL);
	end_of(job, &e);
	job_unlink(job);
	launch_cleanup(js->nd->spool_dir, job->id);
	job_free(job);
	record_end(js, &e);
	check_stop_done(js);
}

static void poll_cleanup(struct job *job)
{
	struct timeval tv = tv_ms(POLL_MS);

	if (track_empty(job->track)) {
		finish(job);
		return;
	}
	if (timefmt_monotonic_ms() >= job->cleanup_deadline_ms) {
		log_err("job %" PRIu32 ": processes still there %d s after SIGKILL (stuck in the "
			"kernel?): giving up on them",
			job->id, CLEANUP_MS / 1000);
		finish(job);
		return;
	}
	/* A process may have forked past the last kill. */
	track_kill(job->track);
	evtimer_add(job->poll_ev, &tv);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poll_cleanup(arg);
}

/* The script exited: what it left behind dies with it. */
static void script_exited(struct job *job, int wstatus)
{
	job->exited = true;
	job->wstatus = wstatus;
	evtimer_del(job->limit_ev);
	evtimer_del(job->kill_ev);
	if (WIFSIGNALED(wstatus))
		log_info("job %" PRIu32 ": script (pid %ld) killed by signal %d", job->id,
			 (long)job->pid, WTERMSIG(wstatus));
	else
		log_info("job %" PRIu32 ": script (pid %ld) exited with status %d", job->id,
			 (long)job->pid, WEXITSTATUS(wstatus));
	track_kill(job->track);
	job->cleanup_deadline_ms = timefmt_monotonic_ms() + CLEANUP_MS;
	poll_cleanup(job);
}

void jobs_reap(struct jobs *js)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct job *job = job_by_pid(js, pid);
		if (job)
			script_exited(job, st);
		else
			log_debug("reaped process %ld", (long)pid);
	}
}

/* Terminating -------------------------------------------------------------*/

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;

	(void)fd;
	(void)what;
	log_info("job %" PRIu32 ": still running after SIGTERM: killing it", job->id);
	track_kill(job->track);
}

/* Send SIG now and SIGKILL WAIT_S seconds later (sooner if already due). */
static void terminate(struct job *job, int sig, uint32_t wait_s)
{
	uint64_t now = timefmt_monotonic_ms(), at = now + (uint64_t)wait_s * 1000;
	struct timeval tv = tv_ms((uint64_t)wait_s * 1000);

	evtimer_del(job->limit_ev);
	if (job->exited)
		return; /* the cleanup kills whatever is left */
	if (sig == SIGKILL) {
		evtimer_del(job->kill_ev);
		track_kill(job->track);
		return;
	}
	if (job->terminating) {
		if (at < job->kill_at_ms) {
			job->kill_at_ms = at;
			evtimer_add(job->kill_ev, &tv);
		}
		return;
	}
	job->terminating = true;
	job->kill_at_ms = at;
	/* A stopped process would not act on TERM until continued. */
	track_signal(job->track, SIGCONT);
	if (track_signal(job->track, sig) < 0 && errno != ESRCH)
		log_err("job %" PRIu32 ": cannot send signal %d: %s", job->id, sig,
			strerror(errno));
	evtimer_add(job->kill_ev, &tv);
}

static void on_limit(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;

	(void)fd;
	(void)what;
	log_info("job %" PRIu32 " reached its time limit", job->id);
	job->timed_out = true;
	terminate(job, SIGTERM, job->kill_wait);
}

static bool valid_signal(int sig)
{
	return sig > 0 && sig < NSIG;
}

void jobs_signal(struct jobs *js, const Pacer__SignalJob *sj)
{
	struct job *job = job_find(js, sj->job_id);

	if (!job) {
		log_info("signal for job %" PRIu32 ", which does not run here: ignored",
			 sj->job_id);
		return;
	}
	if (sj->terminate) {
		if (!job->exited && !job->terminating) {
			job->cancelled = true;
			log_info("job %" PRIu32 " cancelled: terminating it", job->id);
		}
		terminate(job, valid_signal(sj->signal) ? sj->signal : SIGTERM, job->kill_wait);
		return;
	}
	if (!valid_signal(sj->signal)) {
		log_warn("job %" PRIu32 ": %d is not a signal number: ignored", job->id,
			 sj->signal);
		return;
	}
	if (job->exited)
		return;
	if (track_signal(job->track, sj->signal) < 0 && errno != ESRCH)
		log_err("job %" PRIu32 ": cannot send signal %d: %s", job->id, sj->signal,
			strerror(errno));
	else
		log_info("job %" PRIu32 ": sent signal %d (%s)", job->id, sj->signal,
			 strsignal(sj->signal));
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

static struct job *job_new(struct jobs *js, uint32_t id)
{
	struct job *job = calloc(1, sizeof(*job));
	struct event_base *base = js->nd->base;

	if (!job)
		return NULL;
	job->js = js;
	job->id = id;
	job->limit_ev = evtimer_new(base, on_limit, job);
	job->kill_ev = evtimer_new(base, on_kill, job);
	job->poll_ev = evtimer_new(base, on_poll, job);
	if (!job->limit_ev || !job->kill_ev || !job->poll_ev) {
		job_free(job);
		errno = ENOMEM;
		return NULL;
	}
	return job;
}

/* Fork and exec the script of LJ into JOB, bound as PLAN says.  0, or -1
 * with ERR set. */
static int exec_script(struct job *job, const Pacer__LaunchJob *lj, const struct bind_plan *plan,
		       char *err, size_t errlen)
{
	const Pacer__Job *j = lj->job;
	const Pacer__JobSpec *s = j->spec;
	char **penv = NULL;
	struct launch_req req;
	char out[64];
	int rc = -1;

	memset(&req, 0, sizeof(req));
	req.argv = ptrv(s->argv, s->n_argv);
	req.env = ptrv(s->env, s->n_env);
	penv = jobenv_make(lj, job->js->nd->name, job->js->nd->conf->cluster);
	if (!req.argv || !req.env || !penv) {
		snprintf(err, errlen, "out of memory preparing job %" PRIu32, j->id);
		goto out;
	}
	/* Slurm's default, as users expect one when the controller gave none. */
	snprintf(out, sizeof(out), "pacer-%" PRIu32 ".out", j->id);
	req.job_id = j->id;
	req.uid = (uid_t)j->uid;
	req.gid = (gid_t)j->gid;
	req.user = j->user;
	req.workdir = s->workdir;
	req.script = s->script.data;
	req.script_len = s->script.len;
	req.pacer_env = penv;
	req.stdout_path = j->stdout_path[0] ? j->stdout_path : out;
	req.stderr_path = j->stderr_path[0] ? j->stderr_path : NULL;
	req.spool_dir = job->js->nd->spool_dir;
	req.confine = job->confine;
	req.bind = plan;
	rc = launch_job(&req, job->track, &job->pid, err, errlen);
out:
	jobenv_free(penv);
	free((void *)req.argv);
	free((void *)req.env);
	return rc;
}

static void spool_running(const struct job *job)
{
	const struct noded *nd = job->js->nd;
	struct spool_rec r = { .job_id = job->id, .pid = job->pid, .start_time = job->start_time };

	copy_str(r.boot_id, sizeof(r.boot_id), nd->boot_id);
	/* Our own unreaped child: its pid cannot have been reused yet. */
	if (job->pid > 0 && proc_start(job->pid, &r.pid_start) < 0)
		log_warn("job %" PRIu32 ": cannot read the start time of pid %ld: %s", job->id,
			 (long)job->pid, strerror(errno));
	if (spool_write(nd->spool_dir, &r) < 0)
		log_err("cannot record job %" PRIu32 " in %s: %s (a restarted daemon would not "
			"know about it)",
			job->id, nd->spool_dir, strerror(errno));
}

/* Where the job may run on this machine.  Its cgroups are made from the
 * plan: the job's whole (mapped) cpuset, whatever --cpu-bind says. */
static int plan_job(struct job *job, const Pacer__LaunchJob *lj, struct bind_plan **plan, char *err,
		    size_t errlen)
{
	const struct noded *nd = job->js->nd;
	const Pacer__NodeAlloc *a = lj->alloc;
	struct bind_req br = { .job_id = job->id,
			       .node = nd->name,
			       .cpuset = a ? a->cpuset : NULL,
			       .mems = a ? a->mems : NULL,
			       .cpu_bind = lj->job->spec->cpu_bind };

	if (bind_plan_make(nd->bind, &br, plan, err, errlen) < 0)
		return -1;
	job->confine = confine_create(job->id, job->track, a ? a->mem_mb : 0, bind_plan_cpus(*plan),
				      bind_plan_mems(*plan), err, errlen);
	return job->confine ? 0 : -1;
}

static int start_job(struct jobs *js, const Pacer__LaunchJob *lj, char *err, size_t errlen)
{
	const Pacer__Job *j = lj->job;
	uint32_t limit = j->spec->time_limit;
	struct job *job = job_new(js, j->id);
	struct bind_plan *plan = NULL;
	char lim[48] = "none";

	if (!job) {
		snprintf(err, errlen, "out of memory starting job %" PRIu32, j->id);
		return -1;
	}
	job->track = track_create(j->id);
	if (!job->track) {
		snprintf(err, errlen, "cannot create the process tracker of job %" PRIu32 ": %s",
			 j->id, strerror(errno));
		goto failed;
	}
	if (plan_job(job, lj, &plan, err, errlen) < 0)
		goto failed;
	/* Recorded before the fork: a daemon killed between fork and record
	 * would otherwise restart not knowing the job, and the controller
	 * would queue it again while its processes still ran.  With the record
	 * (no pid yet), recovery finds the job's cgroup and kills it first. */
	job->start_time = wall_now();
	spool_running(job);
	if (exec_script(job, lj, plan, err, errlen) < 0)
		goto failed;
	job->time_limit = limit == TIMEFMT_UNLIMITED ? 0 : limit;
	job->kill_wait = lj->kill_wait ? lj->kill_wait : js->nd->conf->kill_wait;
	job->next = js->head;
	js->head = job;
	js->njobs++;
	/* The record written before the fork finds the job by its cgroup; a
	 * job tracked by session is found again by the script's pid. */
	if (track_by_session())
		spool_running(job);
	if (job->time_limit) {
		struct timeval tv = { .tv_sec = (time_t)job->time_limit };
		evtimer_add(job->limit_ev, &tv);
	}
	if (confine_mem_mb(job->confine))
		snprintf(lim, sizeof(lim), "%" PRIu64 " MiB", confine_mem_mb(job->confine));
	log_info("job %" PRIu32 " launched as user %s (uid %" PRIu32 ") pid %ld, tracked by %s, "
		 "bound to %s, memory limit %s",
		 j->id, j->user, j->uid, (long)job->pid, track_method(), bind_plan_describe(plan),
		 lim);
	bind_plan_free(plan);
	return 0;
failed:
	bind_plan_free(plan);
	job_free(job);
	return -1;
}

void jobs_launch(struct jobs *js, const Pacer__LaunchJob *lj)
{
	const Pacer__Job *j = lj->job;
	char err[512];

	if (!j || !j->spec) {
		log_err("launch request without a job%s: ignored", j ? " spec" : "");
		return;
	}
	if (job_find(js, j->id) || ended_index(js, j->id) >= 0) {
		log_info("job %" PRIu32 " is already known on this node: launch request ignored",
			 j->id);
		return;
	}
	if (js->nd->stopping) {
		end_at_once(js, j->id, PACER__JOB_STATE__JOB_NODE_FAIL, 0,
			    "node daemon is stopping");
		return;
	}
	if (start_job(js, lj, err, sizeof(err)) < 0) {
		log_err("job %" PRIu32 " cannot start: %s", j->id, err);
		end_at_once(js, j->id, PACER__JOB_STATE__JOB_FAILED, 1, err);
	}
}

/* The rest of the API -------------------------------------------------------*/

void jobs_ack(struct jobs *js, uint32_t job_id)
{
	long i = ended_index(js, job_id);

	if (i < 0) {
		log_debug("acknowledgement for job %" PRIu32 ", not ended here: ignored", job_id);
		return;
	}
	memmove(&js->ended[i], &js->ended[i + 1],
		(js->nended - (size_t)i - 1) * sizeof(*js->ended));
	js->nended--;
	if (spool_remove(js->nd->spool_dir, job_id) < 0)
		log_err("cannot remove the spool record of job %" PRIu32 ": %s", job_id,
			strerror(errno));
	log_debug("job %" PRIu32 ": end acknowledged by the controller", job_id);
}

size_t jobs_count(const struct jobs *js)
{
	return js->njobs;
}

void jobs_stop_all(struct jobs *js, void (*done)(struct noded *nd))
{
	js->stop_done = done;
	for (struct job *job = js->head; job; job = job->next) {
		if (job->exited)
			continue;
		if (!job->cancelled && !job->timed_out)
			job->stopped = true;
		terminate(job, SIGTERM,
			  job->kill_wait < STOP_KILL_WAIT ? job->kill_wait : STOP_KILL_WAIT);
	}
	check_stop_done(js);
}

void jobs_abandon(struct jobs *js)
{
	while (js->head) {
		struct job *job = js->head;
		log_err("job %" PRIu32 ": processes did not go away: leaving them", job->id);
		job->stopped = true;
		finish(job);
	}
}

int jobs_fill_register(const struct jobs *js, Pacer__NodeRegister *reg)
{
	size_t nr = js->njobs, ne = js->nended, i = 0;
	/* One block each: the pointer array, then the messages it points to. */
	void *rblk = calloc(nr + 1, sizeof(Pacer__RunningJob *) + sizeof(Pacer__RunningJob));
	void *eblk = calloc(ne + 1, sizeof(Pacer__JobEnded *) + sizeof(Pacer__JobEnded));

	if (!rblk || !eblk) {
		free(rblk);
		free(eblk);
		errno = ENOMEM;
		return -1;
	}
	Pacer__RunningJob **rp = rblk, *rv = (Pacer__RunningJob *)(rp + nr + 1);
	for (const struct job *j = js->head; j; j = j->next, i++) {
		pacer__running_job__init(&rv[i]);
		rv[i].job_id = j->id;
		rv[i].start_time = j->start_time;
		rp[i] = &rv[i];
	}
	Pacer__JobEnded **ep = eblk, *ev = (Pacer__JobEnded *)(ep + ne + 1);
	for (i = 0; i < ne; i++) {
		const struct job_end *e = &js->ended[i];
		pacer__job_ended__init(&ev[i]);
		ev[i].job_id = e->job_id;
		ev[i].state = (Pacer__JobState)e->state;
		ev[i].exit_code = e->exit_code;
		ev[i].term_signal = e->term_signal;
		ev[i].end_time = e->end_time;
		ev[i].reason = (char *)e->reason;
		ep[i] = &ev[i];
	}
	reg->running = rp;
	reg->n_running = nr;
	reg->ended = ep;
	reg->n_ended = ne;
	return 0;
}

void jobs_free_register(Pacer__NodeRegister *reg)
{
	free(reg->running);
	free(reg->ended);
	reg->running = NULL;
	reg->ended = NULL;
	reg->n_running = reg->n_ended = 0;
}

/* Startup -----------------------------------------------------------------*/

/* The loop is not running yet, so a short blocking wait is harmless here. */
static void wait_empty(struct track *t, uint32_t job_id)
{
	uint64_t deadline = timefmt_monotonic_ms() + RECOVER_WAIT_MS;
	struct timespec ts = { 0, 20 * 1000000L };

	while (!track_empty(t)) {
		if (timefmt_monotonic_ms() >= deadline) {
			log_err("job %" PRIu32 ": processes left by the previous daemon do not die",
				job_id);
			return;
		}
		nanosleep(&ts, NULL);
		track_kill(t);
	}
}

/* Kill what an earlier daemon left of a job it could no longer wait for. */
static void kill_leftovers(const struct spool_rec *r, bool same_boot)
{
	struct track *t = track_find(r->job_id);
	uint64_t start;

	if (t) {
		log_info("job %" PRIu32 ": killing what is left of it (%s)", r->job_id,
			 track_method());
		track_kill(t);
		wait_empty(t, r->job_id);
		track_destroy(t);
		return;
	}
	if (!same_boot || r->pid <= 0 || proc_start(r->pid, &start) < 0)
		return;
	if (start != r->pid_start) {
		log_info("job %" PRIu32 ": pid %ld now belongs to another process: left alone",
			 r->job_id, (long)r->pid);
		return;
	}
	log_info("job %" PRIu32 ": killing its session %ld", r->job_id, (long)r->pid);
	if (kill(-r->pid, SIGKILL) < 0 && errno != ESRCH)
		log_err("job %" PRIu32 ": cannot kill session %ld: %s", r->job_id, (long)r->pid,
			strerror(errno));
}

static void recover_running(struct jobs *js, const struct spool_rec *r)
{
	bool same_boot = strcmp(r->boot_id, js->nd->boot_id) == 0;

	log_warn("job %" PRIu32 " was running when the previous node daemon stopped", r->job_id);
	kill_leftovers(r, same_boot);
	confine_cleanup(r->job_id);
	launch_cleanup(js->nd->spool_dir, r->job_id);
	end_at_once(js, r->job_id, PACER__JOB_STATE__JOB_NODE_FAIL, 0,
		    same_boot ? "node daemon restarted while the job ran"
			      : "node rebooted while the job ran");
}

int jobs_recover(struct jobs *js)
{
	struct spool_rec *recs;
	size_t n;

	if (spool_load(js->nd->spool_dir, &recs, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct spool_rec *r = &recs[i];
		if (!r->ended) {
			recover_running(js, r);
			continue;
		}
		struct job_end e = { .job_id = r->job_id,
				     .state = r->state,
				     .exit_code = r->exit_code,
				     .term_signal = r->term_signal,
				     .end_time = r->end_time };
		copy_str(e.reason, sizeof(e.reason), r->reason);
		log_info("job %" PRIu32 " ended (%s) before this daemon started: reported at "
			 "registration",
			 e.job_id, state_name(e.state));
		if (ended_add(js, &e) < 0) {
			free(recs);
			return -1;
		}
	}
	free(recs);
	return 0;
}

struct jobs *jobs_create(struct noded *nd)
{
	struct jobs *js = calloc(1, sizeof(*js));

	if (js)
		js->nd = nd;
	return js;
}

void jobs_destroy(struct jobs *js)
{
	if (!js)
		return;
	while (js->head) {
		struct job *job = js->head;
		js->head = job->next;
		job_free(job);
	}
	free(js->ended);
	free(js);
}
