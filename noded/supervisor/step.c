/* step.c - one step of a job on this node: its tasks, their stdio to and
 * from `pacer run`, their signals and their ends.
 *
 *   connecting to pacer run --ready--> StepIoHello, fork every local task
 *        |                                   |
 *        | (cannot connect: FAILED)          | output -> StepIoData, StepIoExit per task
 *        v                                   v
 *      ended <---- cleanup: KILL what is left, until the step's cgroup is empty
 *
 * The tasks start only once pacer run has us: stdin has somewhere to come
 * from, output somewhere to go, and a step whose pacer run is gone never
 * runs.  pacer run going away ends the step (as srun's death ends its
 * step): nobody would see what it does.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "bind.h"
#include "confine.h"
#include "conn.h"
#include "frame.h"
#include "jobenv.h"
#include "launch.h"
#include "log.h"
#include "pmixsrv.h"
#include "supervisor.h"
#include "timefmt.h"
#include "track.h"

#define IO_HANDSHAKE_MS 10000
#define READ_CHUNK      65536
#define OUT_HIGH_WATER  (4u << 20) /* stop reading tasks' output above this */
#define RESUME_MS       20
#define CLEANUP_MS      5000
#define POLL_MS         50

struct task;

struct stream {
	struct task *t;
	int fd;         /* our end of the pipe, -1 once closed */
	uint32_t which; /* 1 stdout, 2 stderr */
	struct event *ev;
};

struct task {
	struct step *st;
	uint32_t rank, localid;
	pid_t pid;
	bool exited;
	int wstatus;
	int in_fd; /* rank's stdin (rank 0 only), -1 = none */
	struct stream out, err;
};

struct step {
	struct sup *s;
	const Pacer__LaunchStep *ls; /* inside s->setup */
	struct auth *auth;
	struct conn *io; /* to pacer run */
	bool io_ready;
	struct track *track;
	struct confine *confine;
	struct task *tasks;
	size_t ntasks, nexited;
	bool started, cleaning;
	bool cancelled, timed_out, stopped, lost_run, failed_start;
	struct pmi *pmi; /* --mpi=pmix: the ranks' PMIx server */
	bool aborted;
	uint32_t aborted_rank;
	int abort_status;
	char fail_reason[SPOOL_REASON_MAX];
	uint32_t kill_wait;
	bool terminating;
	uint64_t cleanup_deadline_ms;
	struct event *kill_ev, *poll_ev, *limit_ev, *resume_ev;
};

static struct timeval tv_ms(uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

static void io_send(struct step *st, Pacer__Msg *m)
{
	if (st->io && st->io_ready)
		conn_send(st->io, m);
}

/* Ending ------------------------------------------------------------------*/

static void stream_close(struct stream *x)
{
	if (x->ev) {
		event_free(x->ev);
		x->ev = NULL;
	}
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
}

/* The node's verdict: the worst task decides, as srun's exit code does. */
static void end_of(const struct step *st, struct job_end *e)
{
	memset(e, 0, sizeof(*e));
	e->job_id = st->s->job_id;
	e->is_step = true;
	e->step_id = st->s->step_id;
	e->end_time = (int64_t)time(NULL);
	for (size_t i = 0; i < st->ntasks; i++) {
		const struct task *t = &st->tasks[i];
		if (!t->exited)
			continue;
		if (WIFEXITED(t->wstatus) && WEXITSTATUS(t->wstatus) > e->exit_code)
			e->exit_code = WEXITSTATUS(t->wstatus);
		if (WIFSIGNALED(t->wstatus) && !e->term_signal)
			e->term_signal = WTERMSIG(t->wstatus);
	}
	if (st->aborted) {
		e->state = PACER__JOB_STATE__JOB_FAILED;
		e->aborted = true;
		e->aborted_rank = st->aborted_rank;
		e->exit_code = st->abort_status;
		snprintf(e->reason, sizeof(e->reason), "task %" PRIu32 " aborted with code %d",
			 st->aborted_rank, st->abort_status);
	} else if (st->failed_start) {
		e->state = PACER__JOB_STATE__JOB_FAILED;
		if (!e->exit_code)
			e->exit_code = 1;
		jobend_copy_str(e->reason, sizeof(e->reason), st->fail_reason);
	} else if (st->timed_out) {
		e->state = PACER__JOB_STATE__JOB_TIMEOUT;
		snprintf(e->reason, sizeof(e->reason), "time limit reached");
	} else if (st->cancelled) {
		e->state = PACER__JOB_STATE__JOB_CANCELLED;
		snprintf(e->reason, sizeof(e->reason), "cancelled");
	} else if (st->lost_run) {
		e->state = PACER__JOB_STATE__JOB_CANCELLED;
		snprintf(e->reason, sizeof(e->reason), "its pacer run went away");
	} else if (st->stopped) {
		e->state = PACER__JOB_STATE__JOB_NODE_FAIL;
		snprintf(e->reason, sizeof(e->reason), "its supervisor was stopped");
	} else if (e->term_signal) {
		e->state = PACER__JOB_STATE__JOB_FAILED;
		snprintf(e->reason, sizeof(e->reason), "a task was killed by signal %d (%s)",
			 e->term_signal, strsignal(e->term_signal));
	} else if (e->exit_code) {
		e->state = PACER__JOB_STATE__JOB_FAILED;
		snprintf(e->reason, sizeof(e->reason), "exit code %d", e->exit_code);
	} else {
		e->state = PACER__JOB_STATE__JOB_COMPLETED;
	}
}

static void finish(struct step *st)
{
	struct sup *s = st->s;
	struct job_end e;
	Pacer__StepIoDone d = PACER__STEP_IO_DONE__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	end_of(st, &e);
	d.state = (Pacer__JobState)e.state;
	d.reason = e.reason;
	m.body_case = PACER__MSG__BODY_IO_DONE;
	m.io_done = &d;
	io_send(st, &m);
	if (st->io)
		conn_close(st->io, true);
	st->io = NULL;
	evtimer_del(st->kill_ev);
	evtimer_del(st->limit_ev);
	pmi_free(st->pmi);
	st->pmi = NULL;
	/* Its cgroups go before the end is told: the next step may want them. */
	confine_destroy(st->confine);
	st->confine = NULL;
	if (st->track)
		track_destroy(st->track);
	st->track = NULL;
	sup_ended(s, &e);
}

static void poll_cleanup(struct step *st)
{
	struct timeval tv = tv_ms(POLL_MS);

	if (!st->track || track_empty(st->track)) {
		finish(st);
		return;
	}
	if (timefmt_monotonic_ms() >= st->cleanup_deadline_ms) {
		log_err("%s: processes still there %d s after SIGKILL: giving up on them",
			st->s->unit, CLEANUP_MS / 1000);
		finish(st);
		return;
	}
	track_kill(st->track);
	evtimer_add(st->poll_ev, &tv);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	poll_cleanup(arg);
}

/* Every task exited (or none could start): what they left dies too. */
static void cleanup(struct step *st)
{
	if (st->cleaning)
		return;
	st->cleaning = true;
	if (st->track)
		track_kill(st->track);
	st->cleanup_deadline_ms = timefmt_monotonic_ms() + CLEANUP_MS;
	poll_cleanup(st);
}

/* Signals -------------------------------------------------------------------*/

static void signal_tasks(struct step *st, int sig)
{
	if (st->track && !track_by_session()) {
		if (track_signal(st->track, sig) < 0 && errno != ESRCH)
			log_warn("%s: cannot send signal %d: %s", st->s->unit, sig,
				 strerror(errno));
		return;
	}
	for (size_t i = 0; i < st->ntasks; i++)
		if (!st->tasks[i].exited && st->tasks[i].pid > 0)
			kill(-st->tasks[i].pid, sig);
}

static void kill_all(struct step *st)
{
	if (st->track && !track_by_session())
		track_kill(st->track);
	else
		signal_tasks(st, SIGKILL);
}

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
	struct step *st = arg;

	(void)fd;
	(void)what;
	log_info("%s: still running after SIGTERM: killing it", st->s->unit);
	kill_all(st);
}

static void terminate(struct step *st, uint32_t wait_s)
{
	struct timeval tv = tv_ms((uint64_t)wait_s * 1000);

	if (!st->started || st->nexited == st->ntasks) {
		if (!st->started && !st->cleaning)
			cleanup(st);
		return;
	}
	if (st->terminating)
		return;
	st->terminating = true;
	signal_tasks(st, SIGCONT);
	signal_tasks(st, SIGTERM);
	evtimer_add(st->kill_ev, &tv);
}

void step_signal(struct sup *s, int sig, bool term)
{
	struct step *st = s->step;

	if (!st)
		return;
	if (term) {
		if (!st->terminating)
			log_info("%s cancelled: terminating it", s->unit);
		st->cancelled = true;
		terminate(st, st->kill_wait);
		return;
	}
	if (sig <= 0 || sig >= NSIG) {
		log_warn("%s: %d is not a signal number: ignored", s->unit, sig);
		return;
	}
	if (st->started)
		signal_tasks(st, sig);
}

void step_stop(struct sup *s)
{
	struct step *st = s->step;

	if (!st)
		return;
	if (!st->cancelled && !st->timed_out)
		st->stopped = true;
	terminate(st, st->kill_wait < 5 ? st->kill_wait : 5);
}

static void on_limit(evutil_socket_t fd, short what, void *arg)
{
	struct step *st = arg;

	(void)fd;
	(void)what;
	log_info("%s reached its time limit", st->s->unit);
	st->timed_out = true;
	terminate(st, st->kill_wait);
}

/* Tasks ----------------------------------------------------------------------*/

static void task_exited(struct task *t, int wstatus)
{
	struct step *st = t->st;
	Pacer__StepIoExit x = PACER__STEP_IO_EXIT__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	t->exited = true;
	t->wstatus = wstatus;
	st->nexited++;
	if (t->in_fd >= 0) {
		close(t->in_fd);
		t->in_fd = -1;
	}
	x.rank = t->rank;
	if (WIFEXITED(wstatus))
		x.exit_code = WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		x.term_signal = WTERMSIG(wstatus);
	m.body_case = PACER__MSG__BODY_IO_EXIT;
	m.io_exit = &x;
	/* Output still in the pipes goes first: read it now. */
	io_send(st, &m);
	log_debug("%s: task %" PRIu32 " (pid %ld) ended, status %d", st->s->unit, t->rank,
		  (long)t->pid, wstatus);
	if (st->nexited == st->ntasks)
		cleanup(st);
}

static void send_data(struct step *st, uint32_t rank, uint32_t which, const void *buf, size_t n,
		      bool eof);

/* Read what stream X holds now (it is non-blocking). */
static void drain(struct stream *x)
{
	char buf[READ_CHUNK];
	ssize_t n;

	while (x->fd >= 0 && (n = read(x->fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			break;
		}
		send_data(x->t->st, x->t->rank, x->which, buf, (size_t)n, false);
	}
	if (x->fd >= 0) {
		send_data(x->t->st, x->t->rank, x->which, NULL, 0, true);
		stream_close(x);
	}
}

void step_reap(struct sup *s)
{
	struct step *st = s->step;
	pid_t pid;
	int ws;

	while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
		for (size_t i = 0; st && i < st->ntasks; i++) {
			struct task *t = &st->tasks[i];
			if (t->pid == pid && !t->exited) {
				/* What it wrote goes before the news of its end. */
				drain(&t->out);
				drain(&t->err);
				task_exited(t, ws);
				break;
			}
		}
	}
}

static void send_data(struct step *st, uint32_t rank, uint32_t which, const void *buf, size_t n,
		      bool eof)
{
	Pacer__StepIoData d = PACER__STEP_IO_DATA__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	d.rank = rank;
	d.stream = which;
	d.data.data = (uint8_t *)buf;
	d.data.len = n;
	d.eof = eof;
	m.body_case = PACER__MSG__BODY_IO_DATA;
	m.io_data = &d;
	io_send(st, &m);
}

static void on_resume(evutil_socket_t fd, short what, void *arg);

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	struct stream *x = arg;
	struct step *st = x->t->st;
	char buf[READ_CHUNK];
	ssize_t n;

	(void)what;
	if (st->io && conn_pending_output(st->io) > OUT_HIGH_WATER) {
		/* pacer run reads slower than the tasks write: let the pipes
		 * fill, which makes the tasks wait. */
		struct timeval tv = tv_ms(RESUME_MS);
		event_del(x->ev);
		evtimer_add(st->resume_ev, &tv);
		return;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0) {
		send_data(st, x->t->rank, x->which, buf, (size_t)n, false);
		return;
	}
	send_data(st, x->t->rank, x->which, NULL, 0, true);
	stream_close(x);
}

/* Output reading paused for a full connection goes on. */
static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct step *st = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < st->ntasks; i++) {
		struct task *t = &st->tasks[i];
		if (t->out.ev)
			event_add(t->out.ev, NULL);
		if (t->err.ev)
			event_add(t->err.ev, NULL);
	}
}

static int watch(struct step *st, struct stream *x, int fd, uint32_t which)
{
	x->fd = fd;
	x->which = which;
	evutil_make_socket_nonblocking(fd);
	x->ev = event_new(st->s->base, fd, EV_READ | EV_PERSIST, on_output, x);
	return x->ev && event_add(x->ev, NULL) == 0 ? 0 : -1;
}

/* A NULL-terminated copy of a protobuf string array (the strings shared). */
static char **ptrv(char **v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));

	if (out && n)
		memcpy(out, v, n * sizeof(*out));
	return out;
}

/* Add the PMIx variables of RANK to *ENV (a jobenv array). */
static int add_pmi_env(struct step *st, uint32_t rank, char ***env, char *err, size_t errlen)
{
	char **pe = NULL, **v;
	size_t n = 0, k = 0;

	if (pmi_task_env(st->pmi, rank, &pe, err, errlen) < 0)
		return -1;
	while ((*env)[n])
		n++;
	while (pe && pe[k])
		k++;
	v = realloc(*env, (n + k + 1) * sizeof(*v));
	if (!v) {
		pmixsrv_env_free(pe);
		return snprintf(err, errlen, "out of memory"), -1;
	}
	for (size_t i = 0; i < k; i++) {
		v[n + i] = strdup(pe[i]);
		if (!v[n + i]) {
			v[n + i] = NULL;
			*env = v;
			pmixsrv_env_free(pe);
			return snprintf(err, errlen, "out of memory"), -1;
		}
	}
	v[n + k] = NULL;
	*env = v;
	pmixsrv_env_free(pe);
	return 0;
}

/* Fork task T bound to CPUS. */
static int start_task(struct step *st, struct task *t, const char *cpus, char *err, size_t errlen)
{
	const struct sup *s = st->s;
	const Pacer__LaunchStep *ls = st->ls;
	const Pacer__StepSpec *sp = ls->spec;
	struct bind_req br = { .job_id = s->job_id,
			       .node = s->setup->node,
			       .cpuset = cpus,
			       .mems = ls->alloc ? ls->alloc->mems : NULL,
			       .cpu_bind = sp->cpu_bind };
	struct bind_plan *plan = NULL;
	struct launch_req req;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 };
	char **penv = NULL, **argv = NULL, **env = NULL;
	int rc = -1;

	memset(&req, 0, sizeof(req));
	if (bind_plan_make(s->bind, &br, &plan, err, errlen) < 0)
		goto out;
	penv = jobenv_task(ls, t->rank, t->localid, cpus, s->setup->node, s->setup->cluster);
	if (penv && st->pmi && add_pmi_env(st, t->rank, &penv, err, errlen) < 0)
		goto out;
	argv = ptrv(sp->argv, sp->n_argv);
	env = ptrv(sp->env, sp->n_env);
	if (!penv || !argv || !env) {
		snprintf(err, errlen, "out of memory starting task %" PRIu32, t->rank);
		goto out;
	}
	if ((t->rank == 0 && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(er, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot make pipes for task %" PRIu32 ": %s", t->rank,
			 strerror(errno));
		goto out;
	}
	req.job_id = s->job_id;
	req.uid = (uid_t)ls->uid;
	req.gid = (gid_t)ls->gid;
	req.user = ls->user;
	req.workdir = sp->cwd;
	req.argv = argv;
	req.env = env;
	req.pacer_env = penv;
	req.confine = st->confine;
	req.bind = plan;
	req.stdio[0] = in[0];
	req.stdio[1] = out[1];
	req.stdio[2] = er[1];
	if (launch_task(&req, st->track, &t->pid, err, errlen) < 0)
		goto out;
	t->in_fd = in[1];
	in[1] = -1;
	if (watch(st, &t->out, out[0], 1) < 0 || watch(st, &t->err, er[0], 2) < 0) {
		out[0] = er[0] = -1;
		snprintf(err, errlen, "cannot watch the output of task %" PRIu32, t->rank);
		kill(-t->pid, SIGKILL);
		goto out;
	}
	out[0] = er[0] = -1;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (er[i] >= 0)
			close(er[i]);
	}
	jobenv_free(penv);
	free(argv);
	free(env);
	bind_plan_free(plan);
	return rc;
}

/* pacer run has us: every local task starts now. */
static void start_tasks(struct step *st)
{
	const Pacer__NodeAlloc *a = st->ls->alloc;
	char err[1024];

	st->started = true;
	for (size_t i = 0; i < st->ntasks; i++) {
		struct task *t = &st->tasks[i];
		const char *cpus = i < a->n_task_cpus ? a->task_cpus[i] : a->cpuset;
		if (start_task(st, t, cpus, err, sizeof(err)) < 0) {
			Pacer__StepIoExit x = PACER__STEP_IO_EXIT__INIT;
			Pacer__Msg m = PACER__MSG__INIT;
			log_err("%s: task %" PRIu32 " cannot start: %s", st->s->unit, t->rank, err);
			x.rank = t->rank;
			x.exit_code = 1;
			x.message = err;
			m.body_case = PACER__MSG__BODY_IO_EXIT;
			m.io_exit = &x;
			io_send(st, &m);
			st->failed_start = true;
			jobend_copy_str(st->fail_reason, sizeof(st->fail_reason), err);
			/* The others would wait for it forever (an MPI job would). */
			for (size_t k = i; k < st->ntasks; k++) {
				st->tasks[k].exited = true;
				st->tasks[k].wstatus = 1 << 8;
			}
			st->nexited += st->ntasks - i;
			if (st->nexited == st->ntasks)
				cleanup(st);
			else
				terminate(st, 0);
			return;
		}
	}
	log_info("%s: %zu task%s started as %s", st->s->unit, st->ntasks,
		 st->ntasks == 1 ? "" : "s", st->ls->user);
}

/* The connection to pacer run --------------------------------------------------*/

static void on_io_msg(struct conn *c, Pacer__Msg *m, void *arg)
{
	struct step *st = arg;

	(void)c;
	switch (m->body_case) {
	case PACER__MSG__BODY_IO_DATA: {
		const Pacer__StepIoData *d = m->io_data;
		struct task *t = NULL;
		for (size_t i = 0; i < st->ntasks; i++)
			if (st->tasks[i].rank == d->rank)
				t = &st->tasks[i];
		if (!t || d->stream != 0 || t->in_fd < 0)
			return;
		/* A task that does not read its stdin must not block us: what
		 * does not fit in the pipe now is dropped, with a warning. */
		if (d->data.len) {
			ssize_t n = write(t->in_fd, d->data.data, d->data.len);
			if (n < 0 || (size_t)n < d->data.len)
				log_warn("%s: task %" PRIu32 " does not read its stdin: input "
					 "dropped",
					 st->s->unit, t->rank);
		}
		if (d->eof) {
			close(t->in_fd);
			t->in_fd = -1;
		}
		return;
	}
	case PACER__MSG__BODY_IO_WIREUP:
		pmi_wireup(st->pmi, m->io_wireup->host, m->io_wireup->port);
		return;
	case PACER__MSG__BODY_IO_SIGNAL:
		if (m->io_signal->terminate) {
			st->cancelled = true;
			terminate(st, st->kill_wait);
		} else if (st->started) {
			int sig = m->io_signal->signal;
			if (sig > 0 && sig < NSIG)
				signal_tasks(st, sig);
		}
		return;
	default:
		log_warn("%s: unexpected %s from pacer run: ignored", st->s->unit,
			 frame_type_name(m->body_case));
		return;
	}
}

static int on_io_ready(struct conn *c, void *arg, char *err, size_t errlen)
{
	struct step *st = arg;
	const Pacer__LaunchStep *ls = st->ls;
	Pacer__StepIoHello h = PACER__STEP_IO_HELLO__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	(void)err;
	(void)errlen;
	h.job_id = ls->job_id;
	h.step_id = ls->step_id;
	h.node = st->s->setup->node;
	h.node_index = ls->node_index;
	h.io_key = ls->io_key;
	h.ranks = ls->alloc->task_ids;
	h.n_ranks = ls->alloc->n_task_ids;
	h.fence_port = pmi_fence_port(st->pmi);
	m.body_case = PACER__MSG__BODY_IO_HELLO;
	m.io_hello = &h;
	st->io_ready = true;
	conn_send(c, &m);
	if (!st->started && !st->cleaning)
		start_tasks(st);
	return 0;
}

static void on_io_closed(struct conn *c, const char *why, void *arg)
{
	struct step *st = arg;

	(void)c;
	st->io = NULL;
	st->io_ready = false;
	if (st->cleaning)
		return;
	if (!st->started) {
		st->failed_start = true;
		snprintf(st->fail_reason, sizeof(st->fail_reason),
			 "cannot reach pacer run at %s:%u: %s", st->ls->io_host,
			 (unsigned)st->ls->io_port, why);
		log_err("%s: %s", st->s->unit, st->fail_reason);
		cleanup(st);
		return;
	}
	log_info("%s: pacer run went away (%s): ending the step", st->s->unit, why);
	st->lost_run = true;
	terminate(st, st->kill_wait);
}

static const struct conn_ops io_ops = {
	.ready = on_io_ready,
	.msg = on_io_msg,
	.closed = on_io_closed,
};

/* Start ---------------------------------------------------------------------------*/

int step_start(struct sup *s, const Pacer__LaunchStep *ls, char *err, size_t errlen)
{
	struct step *st = calloc(1, sizeof(*st));
	const Pacer__NodeAlloc *a = ls->alloc;
	char cerr[512];

	if (!st)
		return snprintf(err, errlen, "out of memory"), -1;
	s->step = st;
	st->s = s;
	st->ls = ls;
	st->kill_wait = ls->kill_wait ? ls->kill_wait : 30;
	st->kill_ev = evtimer_new(s->base, on_kill, st);
	st->poll_ev = evtimer_new(s->base, on_poll, st);
	st->limit_ev = evtimer_new(s->base, on_limit, st);
	st->resume_ev = evtimer_new(s->base, on_resume, st);
	if (!st->kill_ev || !st->poll_ev || !st->limit_ev || !st->resume_ev)
		return snprintf(err, errlen, "out of memory"), -1;
	if (!a || !a->n_task_ids || !ls->spec || !ls->spec->n_argv || !ls->io_host ||
	    !*ls->io_host || !ls->io_port)
		return snprintf(err, errlen,
				"the step has no task here, no program or no pacer run "
				"to talk to"),
		       -1;
	st->ntasks = a->n_task_ids;
	st->tasks = calloc(st->ntasks, sizeof(*st->tasks));
	if (!st->tasks)
		return snprintf(err, errlen, "out of memory"), -1;
	for (size_t i = 0; i < st->ntasks; i++) {
		struct task *t = &st->tasks[i];
		t->st = st;
		t->rank = a->task_ids[i];
		t->localid = (uint32_t)i;
		t->in_fd = t->out.fd = t->err.fd = -1;
		t->out.t = t->err.t = t;
	}
	st->track = track_create_step(s->job_id, s->step_id);
	if (!st->track)
		return snprintf(err, errlen, "cannot create the process tracker of %s: %s", s->unit,
				strerror(errno)),
		       -1;
	st->confine = confine_create_step(s->job_id, s->step_id, st->track, a->cpuset, a->mems,
					  cerr, sizeof(cerr));
	if (!st->confine)
		return snprintf(err, errlen, "%s", cerr), -1;
	st->auth = auth_create(
	    s->setup->munge_socket && *s->setup->munge_socket ? s->setup->munge_socket : NULL);
	if (!st->auth)
		return snprintf(err, errlen, "cannot set up munge: %s", strerror(errno)), -1;
	if (!ls->spec->mpi || !*ls->spec->mpi || strcmp(ls->spec->mpi, "pmix") == 0) {
		if (pmi_start(s, ls, st->auth, &st->pmi, err, errlen) < 0)
			return -1;
	} else if (strcmp(ls->spec->mpi, "none") != 0) {
		return snprintf(err, errlen, "--mpi=%s is not a kind this node knows (pmix or none)",
				ls->spec->mpi),
		       -1;
	}
	struct conn_cfg cfg = { .base = s->base,
				.auth = st->auth,
				.cluster = s->setup->cluster,
				.service = "step",
				.max_frame = FRAME_MAX_REQUEST,
				.handshake_ms = IO_HANDSHAKE_MS };
	st->io = conn_connect(&cfg, ls->io_host, (uint16_t)ls->io_port, &io_ops, st);
	if (!st->io)
		return snprintf(err, errlen, "cannot connect to pacer run at %s:%u: %s",
				ls->io_host, (unsigned)ls->io_port, strerror(errno)),
		       -1;
	uint32_t limit = ls->spec->time_limit;
	if (limit && limit != TIMEFMT_UNLIMITED) {
		struct timeval tv = { .tv_sec = (time_t)limit };
		evtimer_add(st->limit_ev, &tv);
	}
	return 0;
}

void step_free(struct step *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->ntasks; i++) {
		stream_close(&st->tasks[i].out);
		stream_close(&st->tasks[i].err);
		if (st->tasks[i].in_fd >= 0)
			close(st->tasks[i].in_fd);
	}
	free(st->tasks);
	pmi_free(st->pmi);
	if (st->io)
		conn_close(st->io, false);
	if (st->kill_ev)
		event_free(st->kill_ev);
	if (st->poll_ev)
		event_free(st->poll_ev);
	if (st->limit_ev)
		event_free(st->limit_ev);
	if (st->resume_ev)
		event_free(st->resume_ev);
	confine_destroy(st->confine);
	if (st->track)
		track_destroy(st->track);
	if (st->auth)
		auth_destroy(st->auth);
	free(st);
}

void step_abort(struct sup *s, uint32_t rank, int status, const char *msg)
{
	struct step *st = s->step;
	Pacer__StepIoExit x = PACER__STEP_IO_EXIT__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	if (!st || st->aborted)
		return;
	log_info("%s: task %" PRIu32 " aborted with code %d%s%s: ending the step", s->unit, rank,
		 status, msg && *msg ? ": " : "", msg ? msg : "");
	st->aborted = true;
	st->aborted_rank = rank;
	st->abort_status = status;
	x.rank = rank;
	x.exit_code = status;
	x.aborted = true;
	x.message = (char *)(msg ? msg : "");
	m.body_case = PACER__MSG__BODY_IO_EXIT;
	m.io_exit = &x;
	io_send(st, &m);
	/* The other ranks wait in their next fence, here and elsewhere: pacer
	 * run ends the step on the other nodes, we end it here. */
	terminate(st, 0);
}
