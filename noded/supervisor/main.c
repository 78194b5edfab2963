/* main.c - pacer-supervisor: runs one job on one node for pacernoded (see
 * supervisor.h).
 *
 * Started by the node daemon, never by hand:
 *   pacer-supervisor --job ID --spool DIR [--fd N] [--log FILE] [--log-level L]
 * It leaves the daemon's session at once, so whatever ends the daemon (a
 * restart, a crash, a signal to its process group) leaves the job alone.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bind.h"
#include "confine.h"
#include "fileio.h"
#include "frame.h"
#include "log.h"
#include "pidfile.h"
#include "strfmt.h"
#include "supervisor.h"
#include "track.h"
#include "unixsock.h"

struct opts {
	uint32_t job;
	bool is_step;
	uint32_t step;
	const char *spool;
	int fd;
	const char *log;
	const char *level;
};

static struct sup sup;

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer reads this at exit.  PMIx keeps allocations for the life of
 * the process and frees them to nobody (noded/pmix/lsan.supp says the same
 * for its test): a leak is suppressed only with libpmix on its allocation
 * stack, so Pacer's own leaks are still reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libpmix.so\n";
}
#endif
static struct event *sig_ev[5];

static void usage(FILE *f)
{
	fprintf(f, "Usage: pacer-supervisor --job ID --spool DIR [--fd N] [--log FILE] "
		   "[--log-level LEVEL]\n"
		   "Runs one job on this node for pacernoded, which starts it: not for use by "
		   "hand.\n"
		   "\n"
		   "  -j, --job ID           the job it runs\n"
		   "  -S, --step N           a step of that job, not its batch script\n"
		   "  -s, --spool DIR        the node's spool directory\n"
		   "  -f, --fd N             the socket on which the node daemon sends the job "
		   "(default 3)\n"
		   "  -L, --log FILE         log to FILE (appended) instead of stderr\n"
		   "  -v, --log-level LEVEL  error, warn, info or debug (default info)\n"
		   "  -h, --help             show this help and exit\n"
		   "  -V, --version          show the version and exit\n");
}

static int parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s || *end || n == 0 || n > UINT32_MAX || *s == '-')
		return -1;
	*v = (uint32_t)n;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "step", required_argument, NULL, 'S' },
		{ "spool", required_argument, NULL, 's' },
		{ "fd", required_argument, NULL, 'f' },
		{ "log", required_argument, NULL, 'L' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t fd;
	int c;

	o->fd = 3;
	while ((c = getopt_long(argc, argv, "j:S:s:f:L:v:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (parse_u32(optarg, &o->job) < 0) {
				fprintf(stderr, "pacer-supervisor: --job '%s' is not a job id\n",
					optarg);
				return -1;
			}
			break;
		case 'S': {
			char *end;
			unsigned long long n;
			errno = 0;
			n = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || n >= UINT32_MAX || *optarg == '-') {
				fprintf(stderr, "pacer-supervisor: --step '%s' is not a step id\n",
					optarg);
				return -1;
			}
			o->is_step = true;
			o->step = (uint32_t)n;
			break;
		}
		case 's': o->spool = optarg; break;
		case 'f':
			if (parse_u32(optarg, &fd) < 0 || fd > 1024) {
				fprintf(stderr, "pacer-supervisor: --fd '%s' is not a descriptor\n",
					optarg);
				return -1;
			}
			o->fd = (int)fd;
			break;
		case 'L': o->log = optarg; break;
		case 'v': o->level = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("pacer-supervisor %s\n", PACER_VERSION); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pacer-supervisor: unexpected argument '%s' (see --help)\n",
			argv[optind]);
		return -1;
	}
	if (!o->job || !o->spool || o->spool[0] != '/') {
		fprintf(stderr, "pacer-supervisor: --job and an absolute --spool are required "
				"(pacernoded starts this program; see --help)\n");
		return -1;
	}
	return 0;
}

/* The end on disk ---------------------------------------------------------*/

/* Kept beside the socket until the controller has it: a supervisor that is
 * stopped, or dies, after its job ended still has the end reported by the
 * next node daemon (noded/jobs.c reads these files). */
static void save_end(struct sup *s)
{
	Pacer__SupervisorState st = PACER__SUPERVISOR_STATE__INIT;
	Pacer__JobEnded e;
	Pacer__Msg m = PACER__MSG__INIT;
	char tmp[PATH_MAX];
	uint8_t *buf;
	size_t len;

	Pacer__StepEnded se;

	st.job_id = s->job_id;
	st.start_time = s->start_time;
	if (s->is_step) {
		jobend_to_step_msg(&s->end, s->setup ? s->setup->node : "", &se);
		st.is_step = true;
		st.step_id = s->step_id;
		st.step_ended = &se;
	} else {
		jobend_to_msg(&s->end, &e);
		st.ended = &e;
	}
	m.body_case = PACER__MSG__BODY_SUP_STATE;
	m.sup_state = &st;
	if (strfmt_path(tmp, sizeof(tmp), "%s.tmp", s->end_path) < 0 ||
	    frame_pack(&m, FRAME_MAX_REQUEST, &buf, &len) < 0) {
		log_err("job %" PRIu32 ": cannot record its end: %s", s->job_id, strerror(errno));
		return;
	}
	if (file_replace(s->end_path, tmp, buf, len, 0600, NULL) < 0)
		log_err("job %" PRIu32 ": cannot record its end in %s: %s (only this process "
			"holds it now)",
			s->job_id, s->end_path, strerror(errno));
	free(buf);
}

/* The job ------------------------------------------------------------------*/

static void end_now(struct sup *s, int state, int exit_code, const char *reason)
{
	struct job_end e = { .job_id = s->job_id,
			     .state = state,
			     .exit_code = exit_code,
			     .end_time = (int64_t)time(NULL),
			     .is_step = s->is_step,
			     .step_id = s->step_id };

	jobend_copy_str(e.reason, sizeof(e.reason), reason);
	sup_ended(s, &e);
}

/* What this machine offers, as the daemon found it (same cgroup subtree,
 * same confinement, same binding rules). */
static int prepare(struct sup *s, char *err, size_t errlen)
{
	const Pacer__SupervisorSetup *st = s->setup;
	/* The daemon logged what it found at its start: warnings and errors
	 * are all that is news here. */
	enum log_level was = log_set_level(LOG_WARN);
	int rc;

	track_init(st->cgroup_key);
	rc = confine_init(st->confine, st->cgroup_key, err, errlen);
	if (rc == 0 && st->machine_topology.len)
		rc = bind_init_xml(st->emulated, st->machine_topology.data, st->machine_topology.len,
				   &s->bind, err, errlen);
	else if (rc == 0)
		rc = bind_init(st->emulated, &s->bind, err, errlen);
	log_set_level(was);
	return rc;
}

void sup_setup(struct sup *s, Pacer__SupervisorSetup *setup)
{
	const Pacer__LaunchJob *lj = setup->launch;
	char err[1024];

	s->setup = setup;
	s->start_time = (int64_t)time(NULL);
	if (s->is_step) {
		const Pacer__LaunchStep *ls = setup->step;
		if (!ls || ls->job_id != s->job_id || ls->step_id != s->step_id || !setup->node ||
		    !*setup->node) {
			log_err("%s: the setup does not hold this step", s->unit);
			end_now(s, PACER__JOB_STATE__JOB_FAILED, 1,
				"the node daemon sent its supervisor a malformed step");
			return;
		}
		if (prepare(s, err, sizeof(err)) < 0 || step_start(s, ls, err, sizeof(err)) < 0) {
			log_err("%s cannot start: %s", s->unit, err);
			end_now(s, PACER__JOB_STATE__JOB_FAILED, 1, err);
			return;
		}
		daemon_send_state(s);
		return;
	}
	if (!lj || !lj->job || !lj->job->spec || lj->job->id != s->job_id || !setup->node ||
	    !*setup->node) {
		log_err("job %" PRIu32 ": the setup does not hold this job", s->job_id);
		end_now(s, PACER__JOB_STATE__JOB_FAILED, 1,
			"the node daemon sent its supervisor a malformed job");
		return;
	}
	if (prepare(s, err, sizeof(err)) < 0 || batch_start(s, lj, err, sizeof(err)) < 0) {
		log_err("job %" PRIu32 " cannot start: %s", s->job_id, err);
		end_now(s, PACER__JOB_STATE__JOB_FAILED, 1, err);
		return;
	}
	daemon_send_state(s);
}

void sup_ended(struct sup *s, const struct job_end *e)
{
	s->ended = true;
	s->end = *e;
	if (s->is_step)
		log_info("step %" PRIu32 ".%" PRIu32 " ended here: %s, exit code %" PRId32
			 ", signal %" PRId32 "%s%s",
			 e->job_id, e->step_id, jobend_state_name(e->state), e->exit_code,
			 e->term_signal, e->reason[0] ? ": " : "", e->reason);
	else
		log_info("job %" PRIu32 " ended: %s, exit code %" PRId32 ", signal %" PRId32 "%s%s",
			 e->job_id, jobend_state_name(e->state), e->exit_code, e->term_signal,
			 e->reason[0] ? ": " : "", e->reason);
	save_end(s);
	daemon_send_state(s);
	if (s->stopping)
		event_base_loopbreak(s->base); /* the end is on disk for the next daemon */
}

void sup_acknowledged(struct sup *s)
{
	log_info("%s: end acknowledged by the controller: done", s->unit);
	if (unlink(s->end_path) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", s->end_path, strerror(errno));
	event_base_loopbreak(s->base);
}

/* Process -------------------------------------------------------------------*/

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct sup *s = arg;

	(void)what;
	switch (sig) {
	case SIGCHLD:
		if (s->is_step)
			step_reap(s);
		else
			batch_reap(s);
		break;
	case SIGHUP:
		if (log_reopen() < 0)
			log_err("cannot reopen the log file: %s", strerror(errno));
		break;
	default:
		if (s->stopping)
			break;
		s->stopping = true;
		log_info("job %" PRIu32 ": got %s: ending the job", s->job_id, strsignal((int)sig));
		if (s->ended || !s->setup)
			event_base_loopbreak(s->base);
		else
			batch_stop(s);
		break;
	}
}

static int add_signals(struct sup *s)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT };

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sig_ev[i] = evsignal_new(s->base, sigs[i], on_signal, s);
		if (!sig_ev[i] || evsignal_add(sig_ev[i], NULL) < 0)
			return -1;
	}
	return 0;
}

static int set_log(const struct opts *o)
{
	enum log_level lv = LOG_INFO;

	if (o->level && log_level_parse(o->level, &lv) < 0) {
		fprintf(stderr,
			"pacer-supervisor: bad log level '%s' (use error, warn, info or "
			"debug)\n",
			o->level);
		return -1;
	}
	log_init("pacer-supervisor", lv);
	if (o->log && log_open(o->log) < 0) {
		fprintf(stderr, "pacer-supervisor: cannot open log file %s: %s\n", o->log,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* Our folder in the spool: root's alone, since its sockets take orders. */
static int make_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	if (lstat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

static int setup(const struct opts *o, int *lis)
{
	struct sup *s = &sup;

	s->job_id = o->job;
	s->is_step = o->is_step;
	s->step_id = o->step;
	if (s->is_step)
		snprintf(s->unit, sizeof(s->unit), "job-%" PRIu32 ".%" PRIu32, s->job_id,
			 s->step_id);
	else
		snprintf(s->unit, sizeof(s->unit), "job-%" PRIu32, s->job_id);
	if (strfmt_path(s->spool_dir, sizeof(s->spool_dir), "%s", o->spool) < 0 ||
	    strfmt_path(s->dir, sizeof(s->dir), "%s/supervisors", o->spool) < 0 ||
	    strfmt_path(s->sock_path, sizeof(s->sock_path), "%s/%s.sock", s->dir, s->unit) < 0 ||
	    strfmt_path(s->end_path, sizeof(s->end_path), "%s/%s.end", s->dir, s->unit) < 0 ||
	    strfmt_path(s->pid_path, sizeof(s->pid_path), "%s/%s.pid", s->dir, s->unit) < 0) {
		log_err("spool directory %s: path too long", o->spool);
		return -1;
	}
	if (make_dir(s->dir) < 0) {
		log_err("cannot use %s: %s", s->dir, strerror(errno));
		return -1;
	}
	*lis = unixsock_listen(s->sock_path, 8);
	if (*lis < 0) {
		/* Not ours to remove, whatever happens next. */
		s->sock_path[0] = '\0';
		log_err("job %" PRIu32 ": cannot listen on %s: %s%s", s->job_id, s->sock_path,
			strerror(errno),
			errno == EADDRINUSE ? " (another supervisor runs this job)" : "");
		return -1;
	}
	if (pidfile_write(s->pid_path) < 0)
		log_warn("cannot write %s: %s", s->pid_path, strerror(errno));
	s->base = event_base_new();
	if (!s->base || add_signals(s) < 0) {
		log_err("cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	fcntl(o->fd, F_SETFD, FD_CLOEXEC);
	if (daemon_start(s, o->fd, *lis) < 0) {
		log_err("job %" PRIu32 ": cannot talk to the node daemon on fd %d: %s", s->job_id,
			o->fd, strerror(errno));
		return -1;
	}
	*lis = -1; /* the listener owns it */
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int lis = -1, rc = 1;

	log_init("pacer-supervisor", LOG_INFO);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (set_log(&o) < 0)
		return 1;
	/* Out of the daemon's session and process group (it may be a session
	 * leader of its own already when started by a test: then this fails
	 * harmlessly with EPERM). */
	setsid();
	if (setup(&o, &lis) == 0 && event_base_dispatch(sup.base) >= 0)
		rc = 0;
	/* Whatever is left runs on without us only if we were stopped before
	 * the end: then the end file or the cgroup tells the next daemon. */
	if (sup.sock_path[0] && (sup.ended || !sup.setup)) {
		if (unlink(sup.sock_path) < 0 && errno != ENOENT)
			log_warn("cannot remove %s: %s", sup.sock_path, strerror(errno));
	}
	if (sup.sock_path[0])
		unlink(sup.pid_path);
	if (lis >= 0)
		close(lis);
	daemon_stop(&sup);
	batch_free(sup.batch);
	step_free(sup.step);
	for (size_t i = 0; i < sizeof(sig_ev) / sizeof(sig_ev[0]); i++)
		if (sig_ev[i])
			event_free(sig_ev[i]);
	if (sup.base)
		event_base_free(sup.base);
	if (sup.setup)
		pacer__supervisor_setup__free_unpacked(sup.setup, NULL);
	bind_destroy(sup.bind);
	return rc;
}
