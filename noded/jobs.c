/* jobs.c - the node's jobs, each run by a supervisor (see jobs.h).
 *
 * A job on this node:
 *
 *   LaunchJob --spawn pacer-supervisor, send it the job--> running
 *                                                            |
 *          SupervisorState with an end: JobEnded to the controller, spool
 *                                                            |
 *          JobEndedAck: passed to the supervisor, which exits; forgotten
 *
 * The supervisor's connection is a socket pair for one we started, and its
 * socket in SPOOL/supervisors/ for one an earlier daemon started.  If it
 * closes before the end came, the supervisor's end file is read, else the
 * supervisor died with the job unfinished: what is left of the job is
 * killed and it ends as NODE_FAIL.
 *
 * Nothing here forks: posix_spawn starts the supervisor (vfork and exec,
 * about a millisecond), and the supervisor does the rest off our loop.
 */
#include "jobs.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "confine.h"
#include "conn.h"
#include "frame.h"
#include "launch.h"
#include "libexec.h"
#include "log.h"
#include "noded.h"
#include "spool.h"
#include "strfmt.h"
#include "timefmt.h"
#include "track.h"
#include "unixsock.h"

#if !defined(PACER_SUPERVISOR_INSTALLED) || !defined(PACER_SUPERVISOR_BUILT)
#error "PACER_SUPERVISOR_INSTALLED and _BUILT must name the installed and built pacer-supervisor"
#endif

#define SUP_FD          3          /* where the supervisor finds its socket pair */
#define SUP_MAX_FRAME   (1u << 20) /* what a supervisor sends is small */
#define ATTACH_RETRY_MS 100        /* a supervisor still starting has no socket yet */
#define ATTACH_TRIES    50
#define RECOVER_WAIT_MS 3000 /* startup: how long killed leftovers may take */

extern char **environ;

struct job {
	struct job *next;
	struct jobs *js;
	uint32_t id;
	bool is_step; /* a step's supervisor: step_id */
	uint32_t step_id;
	char unit[40];      /* "job-ID" or "job-ID.STEP": its files, its logs */
	pid_t sup_pid;      /* the supervisor */
	uint64_t sup_start; /* its start time in /proc (tells it from a reused pid) */
	bool child;         /* we started it: we reap it */
	struct conn *conn;  /* to the supervisor, NULL while (re)connecting */
	bool heard;         /* it told us its state at least once */
	bool ended;         /* its end is recorded (in the ended list or acked) */
	int64_t start_time; /* wall clock, for the controller */
	pid_t pid;          /* the script, as the supervisor says */
	int tries;          /* attach attempts left */
	struct event *retry_ev;
};

struct jobs {
	struct noded *nd;
	struct job *head;
	size_t njobs;
	struct job_end *ended; /* waiting for the controller's JobEndedAck */
	size_t nended, ended_cap;
	struct conn_cfg cfg;
	char sup_dir[PATH_MAX]; /* SPOOL/supervisors */
};

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

/* Is the process PID, started at START, still there (and not a zombie)? */
static bool proc_alive(pid_t pid, uint64_t start)
{
	struct proc_stat st;

	return pid > 0 && proc_stat_read(pid, &st) == 0 && st.start_time == start &&
	       st.state != 'Z' && st.state != 'X';
}

static void unit_name(char *buf, size_t len, uint32_t id, bool is_step, uint32_t step)
{
	if (is_step)
		snprintf(buf, len, "job-%" PRIu32 ".%" PRIu32, id, step);
	else
		snprintf(buf, len, "job-%" PRIu32, id);
}

static int sup_file(const struct jobs *js, const char *unit, const char *ext, char *buf, size_t len)
{
	return strfmt_path(buf, len, "%s/%s.%s", js->sup_dir, unit, ext);
}

/* The table ---------------------------------------------------------------*/

static struct job *unit_find(const struct jobs *js, uint32_t id, bool is_step, uint32_t step)
{
	for (struct job *j = js->head; j; j = j->next)
		if (j->id == id && j->is_step == is_step && (!is_step || j->step_id == step))
			return j;
	return NULL;
}

static struct job *job_find(const struct jobs *js, uint32_t id)
{
	return unit_find(js, id, false, 0);
}

static long unit_ended(const struct jobs *js, uint32_t id, bool is_step, uint32_t step)
{
	for (size_t i = 0; i < js->nended; i++) {
		const struct job_end *e = &js->ended[i];
		if (e->job_id == id && e->is_step == is_step && (!is_step || e->step_id == step))
			return (long)i;
	}
	return -1;
}

static long ended_index(const struct jobs *js, uint32_t id)
{
	return unit_ended(js, id, false, 0);
}

/* Is JOB's end in the ended list? */
static long job_ended_index(const struct job *job)
{
	return unit_ended(job->js, job->id, job->is_step, job->step_id);
}

static void on_retry(evutil_socket_t fd, short what, void *arg);

static struct job *unit_add(struct jobs *js, uint32_t id, bool is_step, uint32_t step)
{
	struct job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->js = js;
	job->id = id;
	job->is_step = is_step;
	job->step_id = step;
	unit_name(job->unit, sizeof(job->unit), id, is_step, step);
	job->retry_ev = evtimer_new(js->nd->base, on_retry, job);
	if (!job->retry_ev) {
		free(job);
		errno = ENOMEM;
		return NULL;
	}
	job->next = js->head;
	js->head = job;
	js->njobs++;
	return job;
}

static struct job *job_add(struct jobs *js, uint32_t id)
{
	return unit_add(js, id, false, 0);
}

static void job_remove(struct job *job)
{
	struct jobs *js = job->js;

	for (struct job **pp = &js->head; *pp; pp = &(*pp)->next) {
		if (*pp == job) {
			*pp = job->next;
			js->njobs--;
			break;
		}
	}
	if (job->conn)
		conn_close(job->conn, true);
	event_free(job->retry_ev);
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

	jobend_copy_str(r.reason, sizeof(r.reason), e->reason);
	jobend_copy_str(r.boot_id, sizeof(r.boot_id), js->nd->boot_id);
	if (spool_write(js->nd->spool_dir, &r) < 0)
		log_err("cannot record the end of job %" PRIu32 " in %s: %s (it is lost if this "
			"daemon restarts before the controller has it)",
			e->job_id, js->nd->spool_dir, strerror(errno));
}

/* A job ended: keep it until the controller acknowledges, and tell it.  A
 * repeat (a supervisor telling again after a re-attach) changes nothing. */
static void record_end(struct jobs *js, const struct job_end *e)
{
	struct job *job = unit_find(js, e->job_id, e->is_step, e->step_id);

	if (job)
		job->ended = true;
	if (unit_ended(js, e->job_id, e->is_step, e->step_id) >= 0)
		return;
	if (e->is_step)
		log_info("step %" PRIu32 ".%" PRIu32 " ended here: %s, exit code %" PRId32
			 ", signal %" PRId32 "%s%s",
			 e->job_id, e->step_id, jobend_state_name(e->state), e->exit_code,
			 e->term_signal, e->reason[0] ? ": " : "", e->reason);
	else
		log_info("job %" PRIu32 " ended: %s, exit code %" PRId32 ", signal %" PRId32 "%s%s",
			 e->job_id, jobend_state_name(e->state), e->exit_code, e->term_signal,
			 e->reason[0] ? ": " : "", e->reason);
	/* A step's end is held by its supervisor and its end file: the spool
	 * log has no place for steps. */
	if (!e->is_step)
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

	jobend_copy_str(e.reason, sizeof(e.reason), reason);
	record_end(js, &e);
}

/* Lost jobs ----------------------------------------------------------------*/

/* The loop may not run yet (startup), or the job is beyond saving: a short
 * blocking wait for its killed processes is the lesser harm. */
static void wait_empty(struct track *t, uint32_t job_id)
{
	uint64_t deadline = timefmt_monotonic_ms() + RECOVER_WAIT_MS;
	struct timespec ts = { 0, 20 * 1000000L };

	while (!track_empty(t)) {
		if (timefmt_monotonic_ms() >= deadline) {
			log_err("job %" PRIu32 ": its leftover processes do not die", job_id);
			return;
		}
		nanosleep(&ts, NULL);
		track_kill(t);
	}
}

/* Kill what is left of a job nobody supervises any more: its cgroup, else
 * (a spool record from before supervisors, tracked by session) the session
 * of the script whose pid the record holds. */
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

/* The supervisor's end file, if it left one: 0 with E filled. */
static int read_end_file(const struct jobs *js, const char *unit, uint32_t id, bool is_step,
			 uint32_t step, struct job_end *e)
{
	char path[PATH_MAX];
	uint8_t buf[4096];
	ssize_t n;
	int fd, rc = -1;

	if (sup_file(js, unit, "end", path, sizeof(path)) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	uint32_t len;
	if (n > FRAME_HEADER && frame_length(buf, sizeof(buf), &len) == 0 &&
	    (size_t)n == FRAME_HEADER + (size_t)len) {
		Pacer__Msg *m = frame_unpack(buf + FRAME_HEADER, len);
		const Pacer__SupervisorState *st =
		    m && m->body_case == PACER__MSG__BODY_SUP_STATE ? m->sup_state : NULL;
		if (st && st->job_id == id && !is_step && !st->is_step && st->ended) {
			jobend_from_msg(e, st->ended);
			e->job_id = id;
			rc = 0;
		} else if (st && st->job_id == id && is_step && st->is_step &&
			   st->step_id == step && st->step_ended) {
			jobend_from_step_msg(e, st->step_ended);
			e->job_id = id;
			e->step_id = step;
			rc = 0;
		}
		if (m)
			pacer__msg__free_unpacked(m, NULL);
	}
	if (rc < 0)
		log_warn("%s: %s does not hold an end: ignored", unit, path);
	return rc;
}

static void remove_sup_files(const struct jobs *js, const char *unit)
{
	char path[PATH_MAX];

	if (sup_file(js, unit, "end", path, sizeof(path)) == 0 && unlink(path) < 0 &&
	    errno != ENOENT)
		log_warn("cannot remove %s: %s", path, strerror(errno));
}

/* The supervisor of JOB is gone without a word on its end. */
static void supervisor_lost(struct job *job, const char *why)
{
	struct jobs *js = job->js;
	struct job_end e;
	struct spool_rec r = { .job_id = job->id };

	if (read_end_file(js, job->unit, job->id, job->is_step, job->step_id, &e) == 0) {
		log_info("%s: its supervisor left its end on disk", job->unit);
		record_end(js, &e);
		return;
	}
	log_err("%s: its supervisor (pid %ld) is gone (%s): ending it", job->unit,
		(long)job->sup_pid, why);
	if (job->is_step) {
		/* Its tasks have nobody to report them: they go. */
		struct track *t = track_find_step(job->id, job->step_id);
		if (t) {
			log_info("%s: killing what is left of it (%s)", job->unit, track_method());
			track_kill(t);
			wait_empty(t, job->id);
			track_destroy(t);
		}
		struct job_end se = { .job_id = job->id,
				      .is_step = true,
				      .step_id = job->step_id,
				      .state = PACER__JOB_STATE__JOB_NODE_FAIL,
				      .end_time = wall_now() };
		snprintf(se.reason, sizeof(se.reason), "its supervisor died while the step ran");
		record_end(js, &se);
		return;
	}
	kill_leftovers(&r, false);
	confine_cleanup(job->id);
	launch_cleanup(js->nd->spool_dir, job->id);
	end_at_once(js, job->id, PACER__JOB_STATE__JOB_NODE_FAIL, 0,
		    "its supervisor died while the job ran");
}

/* The supervisor's connection ------------------------------------------------*/

static void on_state(struct job *job, const Pacer__SupervisorState *st)
{
	if (st->job_id != job->id || st->is_step != job->is_step ||
	    (job->is_step && st->step_id != job->step_id)) {
		log_warn("supervisor of job %" PRIu32 " speaks of job %" PRIu32 ": ignored",
			 job->id, st->job_id);
		return;
	}
	job->heard = true;
	job->pid = (pid_t)st->pid;
	if (st->start_time)
		job->start_time = st->start_time;
	if (job->is_step && st->step_ended) {
		struct job_end e;
		jobend_from_step_msg(&e, st->step_ended);
		e.job_id = job->id;
		e.step_id = job->step_id;
		record_end(job->js, &e);
	} else if (!job->is_step && st->ended) {
		struct job_end e;
		jobend_from_msg(&e, st->ended);
		e.job_id = job->id;
		record_end(job->js, &e);
		/* Already acknowledged (by the controller, to an earlier daemon
		 * that died before passing it on)?  Then the controller will
		 * acknowledge the repeat, and the supervisor hears it then. */
	} else if (!job->ended) {
		log_debug("job %" PRIu32 ": running, script pid %ld", job->id, (long)job->pid);
	}
}

static void on_sup_msg(struct conn *c, Pacer__Msg *m, void *arg)
{
	struct job *job = arg;

	(void)c;
	if (m->body_case == PACER__MSG__BODY_SUP_STATE)
		on_state(job, m->sup_state);
	else
		log_warn("job %" PRIu32 ": unexpected %s from its supervisor: ignored", job->id,
			 frame_type_name(m->body_case));
}

static void on_sup_closed(struct conn *c, const char *why, void *arg)
{
	struct job *job = arg;

	(void)c;
	job->conn = NULL;
	if (job->ended) {
		/* It exits once the controller acknowledged (or was stopped): the
		 * end is in the ended list until then. */
		if (job_ended_index(job) < 0)
			job_remove(job);
		return;
	}
	supervisor_lost(job, why);
	if (job_ended_index(job) >= 0)
		return; /* kept until acknowledged */
	job_remove(job);
}

static const struct conn_ops sup_ops = {
	.msg = on_sup_msg,
	.closed = on_sup_closed,
};

static int send_to(struct job *job, Pacer__Msg *m)
{
	if (!job->conn) {
		errno = ENOTCONN;
		return -1;
	}
	return conn_send(job->conn, m);
}

/* Attaching to a supervisor an earlier daemon started ----------------------*/

static int try_attach(struct job *job)
{
	struct jobs *js = job->js;
	char path[PATH_MAX], peer[64];
	int fd;

	if (sup_file(js, job->unit, "sock", path, sizeof(path)) < 0)
		return -1;
	fd = unixsock_connect(path);
	if (fd < 0)
		return -1;
	snprintf(peer, sizeof(peer), "supervisor of %s", job->unit);
	job->conn = conn_local(&js->cfg, fd, peer, &sup_ops, job);
	if (!job->conn)
		return -1;
	if (conn_uid(job->conn) != geteuid()) {
		log_err("job %" PRIu32 ": the process on %s is uid %u, not a supervisor: ignored",
			job->id, path, (unsigned)conn_uid(job->conn));
		conn_close(job->conn, false);
		job->conn = NULL;
		errno = EPERM;
		return -1;
	}
	if (conn_pid(job->conn) > 0) {
		job->sup_pid = conn_pid(job->conn);
		proc_start(job->sup_pid, &job->sup_start);
	}
	Pacer__SupervisorAttach a = PACER__SUPERVISOR_ATTACH__INIT;
	Pacer__Msg m = PACER__MSG__INIT;
	a.daemon_id = js->nd->daemon_id;
	m.body_case = PACER__MSG__BODY_SUP_ATTACH;
	m.sup_attach = &a;
	if (conn_send(job->conn, &m) < 0)
		return -1;
	if (job->is_step)
		log_info("step %" PRIu32 ".%" PRIu32 ": attached to its supervisor (pid %ld)",
			 job->id, job->step_id, (long)job->sup_pid);
	else
		log_info("job %" PRIu32 ": attached to its supervisor (pid %ld)", job->id,
			 (long)job->sup_pid);
	return 0;
}

static void retry_later(struct job *job)
{
	struct timeval tv = { 0, ATTACH_RETRY_MS * 1000 };

	evtimer_add(job->retry_ev, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct job *job = arg;

	(void)fd;
	(void)what;
	if (try_attach(job) == 0)
		return;
	if (--job->tries > 0 && proc_alive(job->sup_pid, job->sup_start)) {
		retry_later(job);
		return;
	}
	supervisor_lost(job, proc_alive(job->sup_pid, job->sup_start) ? "it never opened its socket"
								      : "its process is gone");
	if (job_ended_index(job) < 0)
		job_remove(job);
}

/* Launching -----------------------------------------------------------------*/

static void spool_running(const struct job *job)
{
	const struct noded *nd = job->js->nd;
	struct spool_rec r = { .job_id = job->id,
			       .pid = job->sup_pid,
			       .pid_start = job->sup_start,
			       .start_time = job->start_time };

	jobend_copy_str(r.boot_id, sizeof(r.boot_id), nd->boot_id);
	if (spool_write(nd->spool_dir, &r) < 0)
		log_err("cannot record job %" PRIu32 " in %s: %s (a restarted daemon finds it by "
			"its supervisor's socket only)",
			job->id, nd->spool_dir, strerror(errno));
}

/* Start pacer-supervisor for JOB with the socket pair's end SV on SUP_FD. */
static int spawn(struct job *job, int sv, char *err, size_t errlen)
{
	const struct noded *nd = job->js->nd;
	char path[PATH_MAX], idbuf[16], stepbuf[16];
	char *argv[14];
	int argc = 0, rc;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;

	if (libexec_find("pacer-supervisor", "PACER_SUPERVISOR", PACER_SUPERVISOR_INSTALLED,
			 PACER_SUPERVISOR_BUILT, path, sizeof(path), err, errlen) < 0)
		return -1;
	snprintf(idbuf, sizeof(idbuf), "%" PRIu32, job->id);
	argv[argc++] = "pacer-supervisor";
	argv[argc++] = "--job";
	argv[argc++] = idbuf;
	if (job->is_step) {
		snprintf(stepbuf, sizeof(stepbuf), "%" PRIu32, job->step_id);
		argv[argc++] = "--step";
		argv[argc++] = stepbuf;
	}
	argv[argc++] = "--spool";
	argv[argc++] = (char *)nd->spool_dir;
	if (nd->log_path[0]) {
		argv[argc++] = "--log";
		argv[argc++] = (char *)nd->log_path;
	}
	argv[argc++] = "--log-level";
	argv[argc++] = (char *)nd->log_level;
	argv[argc] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv, SUP_FD);
	rc = posix_spawn(&job->sup_pid, path, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		strfmt_fail(err, errlen, rc, "cannot start %s: %s", path, strerror(rc));
		errno = rc;
		return -1;
	}
	job->child = true;
	if (proc_start(job->sup_pid, &job->sup_start) < 0)
		job->sup_start = 0;
	return 0;
}

/* The supervisor's copy of the job: what the controller sent, and what this
 * node knows that it needs. */
static int send_setup(struct job *job, const Pacer__LaunchJob *lj, const Pacer__LaunchStep *ls)
{
	const struct noded *nd = job->js->nd;
	Pacer__LaunchJob l;
	Pacer__LaunchStep k;
	Pacer__SupervisorSetup st = PACER__SUPERVISOR_SETUP__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	if (lj) {
		l = *lj;
		if (!l.kill_wait)
			l.kill_wait = nd->conf->kill_wait;
		st.launch = &l;
	} else {
		k = *ls;
		if (!k.kill_wait)
			k.kill_wait = nd->conf->kill_wait;
		st.step = &k;
		st.munge_socket = nd->conf->munge_socket;
	}
	st.node = (char *)nd->name;
	st.cluster = nd->conf->cluster;
	st.spool_dir = (char *)nd->spool_dir;
	st.cgroup_key = (char *)nd->cgroup_key;
	st.confine = nd->conf->confine ? nd->conf->confine : "auto";
	st.emulated = nd->emulated;
	st.machine_topology.data = (uint8_t *)nd->machine_xml;
	st.machine_topology.len = nd->machine_xml_len;
	st.boot_id = (char *)nd->boot_id;
	st.daemon_id = (char *)nd->daemon_id;
	m.body_case = PACER__MSG__BODY_SUP_SETUP;
	m.sup_setup = &st;
	return send_to(job, &m);
}

/* Start the supervisor of LJ's job, or (LJ NULL) of step LS. */
static int start_unit(struct jobs *js, const Pacer__LaunchJob *lj, const Pacer__LaunchStep *ls,
		      char *err, size_t errlen)
{
	uint32_t id = lj ? lj->job->id : ls->job_id;
	struct job *job = lj ? job_add(js, id) : unit_add(js, id, true, ls->step_id);
	char peer[64];
	int sv[2];

	if (!job) {
		snprintf(err, errlen, "out of memory starting job %" PRIu32, id);
		return -1;
	}
	job->start_time = wall_now();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "cannot make a socket pair for %s: %s", job->unit,
			 strerror(errno));
		goto failed;
	}
	if (spawn(job, sv[1], err, errlen) < 0) {
		close(sv[0]);
		close(sv[1]);
		goto failed;
	}
	close(sv[1]);
	/* Recorded before the first message: a daemon killed now restarts
	 * knowing which supervisor runs the job. */
	if (!job->is_step)
		spool_running(job); /* a step is found again by its socket alone */
	snprintf(peer, sizeof(peer), "supervisor of %s", job->unit);
	job->conn = conn_local(&js->cfg, sv[0], peer, &sup_ops, job);
	if (!job->conn || send_setup(job, lj, ls) < 0) {
		/* The supervisor reads EOF and exits; its reaping is logged. */
		snprintf(err, errlen, "cannot hand %s to its supervisor: %s", job->unit,
			 strerror(errno));
		if (job->conn)
			conn_close(job->conn, false);
		job->conn = NULL;
		goto failed;
	}
	log_info("%s: supervisor started (pid %ld)", job->unit, (long)job->sup_pid);
	return 0;
failed:
	job_remove(job);
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
	if (start_unit(js, lj, NULL, err, sizeof(err)) < 0) {
		log_err("job %" PRIu32 " cannot start: %s", j->id, err);
		end_at_once(js, j->id, PACER__JOB_STATE__JOB_FAILED, 1, err);
	}
}

void jobs_launch_step(struct jobs *js, const Pacer__LaunchStep *ls)
{
	char err[512] = "";

	if (!ls->spec || !ls->alloc) {
		log_err("launch request for step %" PRIu32 ".%" PRIu32 " without %s: ignored",
			ls->job_id, ls->step_id, ls->spec ? "this node's part" : "a spec");
		return;
	}
	if (unit_find(js, ls->job_id, true, ls->step_id) ||
	    unit_ended(js, ls->job_id, true, ls->step_id) >= 0) {
		log_info("step %" PRIu32 ".%" PRIu32 " is already known on this node: launch "
			 "request ignored",
			 ls->job_id, ls->step_id);
		return;
	}
	if (js->nd->stopping || start_unit(js, NULL, ls, err, sizeof(err)) < 0) {
		bool stopping = js->nd->stopping;
		struct job_end e = { .job_id = ls->job_id,
				     .is_step = true,
				     .step_id = ls->step_id,
				     .state = stopping ? PACER__JOB_STATE__JOB_NODE_FAIL
						       : PACER__JOB_STATE__JOB_FAILED,
				     .exit_code = stopping ? 0 : 1,
				     .end_time = wall_now() };
		jobend_copy_str(e.reason, sizeof(e.reason),
				stopping ? "node daemon is stopping" : err);
		if (!stopping)
			log_err("step %" PRIu32 ".%" PRIu32 " cannot start: %s", ls->job_id,
				ls->step_id, err);
		record_end(js, &e);
	}
}

void jobs_signal_step(struct jobs *js, const Pacer__SignalStep *ss)
{
	struct job *job = unit_find(js, ss->job_id, true, ss->step_id);
	Pacer__SignalStep copy = *ss;
	Pacer__Msg m = PACER__MSG__INIT;

	if (!job || job->ended) {
		log_debug("signal for step %" PRIu32 ".%" PRIu32 ", which does not run here: "
			  "ignored",
			  ss->job_id, ss->step_id);
		return;
	}
	m.body_case = PACER__MSG__BODY_SIGNAL_STEP;
	m.signal_step = &copy;
	if (send_to(job, &m) < 0)
		log_warn("%s: cannot pass a signal to its supervisor: %s", job->unit,
			 strerror(errno));
}

void jobs_ack_step(struct jobs *js, uint32_t job_id, uint32_t step_id)
{
	long i = unit_ended(js, job_id, true, step_id);
	struct job *job = unit_find(js, job_id, true, step_id);
	char unit[40];

	if (i < 0)
		return;
	memmove(&js->ended[i], &js->ended[i + 1],
		(js->nended - (size_t)i - 1) * sizeof(*js->ended));
	js->nended--;
	unit_name(unit, sizeof(unit), job_id, true, step_id);
	if (job && job->conn) {
		Pacer__JobEndedAck a = PACER__JOB_ENDED_ACK__INIT;
		Pacer__Msg m = PACER__MSG__INIT;
		a.job_id = job_id;
		a.step_id = step_id;
		a.has_step = true;
		m.body_case = PACER__MSG__BODY_JOB_ENDED_ACK;
		m.job_ended_ack = &a;
		send_to(job, &m);
	} else {
		remove_sup_files(js, unit);
	}
	if (job)
		job_remove(job);
}

void jobs_resend_steps(struct jobs *js)
{
	for (size_t i = 0; i < js->nended; i++)
		if (js->ended[i].is_step)
			link_send_ended(js->nd, &js->ended[i]);
}

/* Orders ---------------------------------------------------------------------*/

void jobs_signal(struct jobs *js, const Pacer__SignalJob *sj)
{
	struct job *job = job_find(js, sj->job_id);
	Pacer__SignalJob copy = *sj;
	Pacer__Msg m = PACER__MSG__INIT;

	if (!job || job->ended) {
		log_info("signal for job %" PRIu32 ", which does not run here: ignored",
			 sj->job_id);
		return;
	}
	m.body_case = PACER__MSG__BODY_SIGNAL;
	m.signal = &copy;
	if (send_to(job, &m) < 0)
		log_warn("job %" PRIu32 ": cannot pass signal %d to its supervisor: %s (the "
			 "controller repeats a cancel when this node registers again)",
			 job->id, sj->signal, strerror(errno));
}

void jobs_ack(struct jobs *js, uint32_t job_id)
{
	long i = ended_index(js, job_id);
	struct job *job = job_find(js, job_id);

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
	char unit[40];
	unit_name(unit, sizeof(unit), job_id, false, 0);
	if (!job) {
		remove_sup_files(js, unit); /* an end read from its file */
		return;
	}
	if (job->conn) {
		Pacer__JobEndedAck a = PACER__JOB_ENDED_ACK__INIT;
		Pacer__Msg m = PACER__MSG__INIT;
		a.job_id = job_id;
		m.body_case = PACER__MSG__BODY_JOB_ENDED_ACK;
		m.job_ended_ack = &a;
		send_to(job, &m);
	} else {
		remove_sup_files(js, unit);
	}
	job_remove(job); /* flushes the acknowledgement, then closes */
}

void jobs_reap(struct jobs *js)
{
	pid_t pid;
	int st;

	(void)js;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			log_debug("supervisor %ld exited", (long)pid);
		else if (WIFEXITED(st))
			log_warn("supervisor %ld exited with status %d", (long)pid,
				 WEXITSTATUS(st));
		else
			log_warn("supervisor %ld killed by signal %d (%s)", (long)pid, WTERMSIG(st),
				 strsignal(WTERMSIG(st)));
	}
}

size_t jobs_count(const struct jobs *js)
{
	return js->njobs;
}

void jobs_detach_all(struct jobs *js)
{
	for (struct job *job = js->head; job; job = job->next) {
		if (job->conn)
			conn_close(job->conn, false); /* nothing is owed to them */
		job->conn = NULL;
		evtimer_del(job->retry_ev);
	}
}

int jobs_fill_register(const struct jobs *js, Pacer__NodeRegister *reg)
{
	size_t nr = 0, ne = 0, i = 0;

	/* Steps are not in a registration (jobs_resend_steps follows it). */
	for (const struct job *j = js->head; j; j = j->next)
		nr += !j->ended && !j->is_step;
	for (size_t k = 0; k < js->nended; k++)
		ne += !js->ended[k].is_step;
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
	for (const struct job *j = js->head; j; j = j->next) {
		if (j->ended || j->is_step)
			continue;
		pacer__running_job__init(&rv[i]);
		rv[i].job_id = j->id;
		rv[i].start_time = j->start_time;
		rp[i] = &rv[i];
		i++;
	}
	Pacer__JobEnded **ep = eblk, *ev = (Pacer__JobEnded *)(ep + ne + 1);
	i = 0;
	for (size_t k = 0; k < js->nended; k++) {
		if (js->ended[k].is_step)
			continue;
		jobend_to_msg(&js->ended[k], &ev[i]);
		ep[i] = &ev[i];
		i++;
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

/* Is PID a pacer-supervisor?  A record from before supervisors holds the
 * script's own pid. */
static bool is_supervisor(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "pacer-superviso", 15) == 0;
}

/* A job the spool says ran here when the last daemon stopped. */
static void recover_running(struct jobs *js, const struct spool_rec *r)
{
	bool same_boot = strcmp(r->boot_id, js->nd->boot_id) == 0;
	struct job *job;

	if (same_boot && proc_alive(r->pid, r->pid_start) && is_supervisor(r->pid)) {
		job = job_add(js, r->job_id);
		if (!job) {
			log_err("job %" PRIu32 ": out of memory", r->job_id);
			return;
		}
		job->sup_pid = r->pid;
		job->sup_start = r->pid_start;
		job->start_time = r->start_time;
		job->tries = ATTACH_TRIES;
		if (try_attach(job) < 0) {
			log_info("job %" PRIu32 ": its supervisor (pid %ld) has no socket yet: "
				 "retrying",
				 r->job_id, (long)r->pid);
			retry_later(job);
		}
		return;
	}
	struct job_end e;
	char unit[40];
	unit_name(unit, sizeof(unit), r->job_id, false, 0);
	if (read_end_file(js, unit, r->job_id, false, 0, &e) == 0) {
		log_info("job %" PRIu32 " ended (%s) while no node daemon ran: reported at "
			 "registration",
			 r->job_id, jobend_state_name(e.state));
		record_end(js, &e);
		return;
	}
	log_warn("job %" PRIu32 " was running when the previous node daemon stopped, and "
		 "nothing supervises it now",
		 r->job_id);
	kill_leftovers(r, same_boot);
	confine_cleanup(r->job_id);
	launch_cleanup(js->nd->spool_dir, r->job_id);
	end_at_once(js, r->job_id, PACER__JOB_STATE__JOB_NODE_FAIL, 0,
		    same_boot ? "its supervisor was gone when the node daemon restarted"
			      : "node rebooted while the job ran");
}

/* The job id of a "job-ID.EXT" file name, 0 when NAME is not one. */
static uint32_t sup_file_id(const char *name, const char *ext, bool *is_step, uint32_t *step)
{
	char *end;
	unsigned long long id, st;

	*is_step = false;
	*step = 0;
	if (strncmp(name, "job-", 4) != 0 || name[4] < '1' || name[4] > '9')
		return 0;
	errno = 0;
	id = strtoull(name + 4, &end, 10);
	if (errno || id > UINT32_MAX || *end != '.')
		return 0;
	if (end[1] >= '0' && end[1] <= '9') {
		const char *q = end + 1;
		st = strtoull(q, &end, 10);
		if (errno || st >= UINT32_MAX || *end != '.')
			return 0;
		*is_step = true;
		*step = (uint32_t)st;
	}
	if (strcmp(end + 1, ext) != 0)
		return 0;
	return (uint32_t)id;
}

/* Supervisors the spool does not know (a daemon killed between spawning one
 * and recording it, or a spool lost), then ends left on disk by supervisors
 * that went: sockets first, so a live supervisor's end comes from itself. */
static void scan_supervisors(struct jobs *js)
{
	static const char *const exts[] = { "sock", "end" };

	for (size_t pass = 0; pass < 2; pass++) {
		DIR *d = opendir(js->sup_dir);
		struct dirent *de;
		if (!d)
			return;
		while ((de = readdir(d))) {
			bool is_step;
			uint32_t step;
			uint32_t id = sup_file_id(de->d_name, exts[pass], &is_step, &step);
			struct job_end e;
			char unit[40];
			if (!id || unit_find(js, id, is_step, step) ||
			    unit_ended(js, id, is_step, step) >= 0)
				continue;
			unit_name(unit, sizeof(unit), id, is_step, step);
			if (pass == 0) {
				struct job *job = unit_add(js, id, is_step, step);
				/* A dead one's socket: its end file, if any, is next. */
				if (job && try_attach(job) < 0)
					job_remove(job);
			} else if (read_end_file(js, unit, id, is_step, step, &e) == 0) {
				log_info("%s ended (%s) while no node daemon ran: reported at "
					 "registration",
					 unit, jobend_state_name(e.state));
				record_end(js, &e);
			}
		}
		closedir(d);
	}
}

/* For confine_sweep: a job whose supervisor we know of. */
static bool is_live(uint32_t job_id, void *arg)
{
	return job_find(arg, job_id) != NULL;
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
		jobend_copy_str(e.reason, sizeof(e.reason), r->reason);
		log_info("job %" PRIu32 " ended (%s) before this daemon started: reported at "
			 "registration",
			 e.job_id, jobend_state_name(e.state));
		if (ended_add(js, &e) < 0) {
			free(recs);
			return -1;
		}
		/* Its supervisor may still wait for the acknowledgement. */
		struct job *job = job_add(js, r->job_id);
		if (job) {
			job->ended = true;
			if (try_attach(job) < 0)
				job_remove(job);
		}
	}
	free(recs);
	scan_supervisors(js);
	confine_sweep(is_live, js);
	return 0;
}

struct jobs *jobs_create(struct noded *nd)
{
	struct jobs *js = calloc(1, sizeof(*js));

	if (!js)
		return NULL;
	js->nd = nd;
	js->cfg = (struct conn_cfg){ .base = nd->base, .max_frame = SUP_MAX_FRAME };
	if (strfmt_path(js->sup_dir, sizeof(js->sup_dir), "%s/supervisors", nd->spool_dir) < 0) {
		free(js);
		errno = ENAMETOOLONG;
		return NULL;
	}
	return js;
}

void jobs_destroy(struct jobs *js)
{
	if (!js)
		return;
	while (js->head)
		job_remove(js->head);
	free(js->ended);
	free(js);
}
