/* daemon.c - the supervisor's side of its node daemon.
 *
 * The daemon that started us speaks first on the socket pair it gave
 * (SupervisorSetup).  A daemon started later attaches through our listening
 * socket (SupervisorAttach) and takes over: the newest attached connection
 * is THE daemon.  Only root (the daemon's user) may connect.  Losing the
 * daemon changes nothing for the job: its end waits for the next one.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "frame.h"
#include "log.h"
#include "supervisor.h"

#define MAX_FRAME (FRAME_MAX_REQUEST) /* a setup carries a script of up to 4 MiB */

static struct {
	struct sup *s;
	struct conn *first; /* the socket pair, until the setup came or it closed */
	struct conn *cur;   /* THE daemon, or NULL */
	struct evconnlistener *lis;
	struct conn_cfg cfg;
} d;

static void fill_state(const struct sup *s, Pacer__SupervisorState *st, Pacer__JobEnded *e,
		       Pacer__StepEnded *se)
{
	pacer__supervisor_state__init(st);
	st->job_id = s->job_id;
	st->pid = s->is_step ? 0 : batch_pid(s);
	st->start_time = s->start_time;
	st->supervisor_pid = getpid();
	st->is_step = s->is_step;
	st->step_id = s->step_id;
	if (s->ended && s->is_step) {
		jobend_to_step_msg(&s->end, s->setup ? s->setup->node : "", se);
		st->step_ended = se;
	} else if (s->ended) {
		jobend_to_msg(&s->end, e);
		st->ended = e;
	}
}

void daemon_send_state(struct sup *s)
{
	Pacer__SupervisorState st;
	Pacer__JobEnded e;
	Pacer__StepEnded se;
	Pacer__Msg m = PACER__MSG__INIT;

	if (!d.cur)
		return;
	fill_state(s, &st, &e, &se);
	m.body_case = PACER__MSG__BODY_SUP_STATE;
	m.sup_state = &st;
	if (conn_send(d.cur, &m) < 0)
		log_warn("job %" PRIu32 ": cannot tell the node daemon the job's state: %s",
			 s->job_id, strerror(errno));
}

/* A copy of SETUP that outlives the message it came in. */
static Pacer__SupervisorSetup *keep_setup(const Pacer__SupervisorSetup *setup)
{
	size_t len = pacer__supervisor_setup__get_packed_size(setup);
	uint8_t *buf = malloc(len ? len : 1);
	Pacer__SupervisorSetup *copy = NULL;

	if (buf) {
		pacer__supervisor_setup__pack(setup, buf);
		copy = pacer__supervisor_setup__unpack(NULL, len, buf);
		free(buf);
	}
	return copy;
}

static void on_msg(struct conn *c, Pacer__Msg *m, void *arg)
{
	struct sup *s = arg;

	switch (m->body_case) {
	case PACER__MSG__BODY_SUP_SETUP:
		if (c != d.first || s->setup) {
			log_warn("%s: a second setup: ignored", s->unit);
			return;
		}
		d.cur = c;
		d.first = NULL;
		Pacer__SupervisorSetup *copy = keep_setup(m->sup_setup);
		if (!copy) {
			log_err("job %" PRIu32 ": out of memory keeping the job", s->job_id);
			event_base_loopbreak(s->base);
			return;
		}
		sup_setup(s, copy);
		return;
	case PACER__MSG__BODY_SUP_ATTACH:
		if (d.cur && d.cur != c) {
			log_info("job %" PRIu32 ": a newer node daemon attached", s->job_id);
			conn_close(d.cur, false);
		}
		d.cur = c;
		log_info("job %" PRIu32 ": node daemon %s attached", s->job_id,
			 m->sup_attach->daemon_id);
		daemon_send_state(s);
		return;
	default: break;
	}
	if (c != d.cur) {
		log_warn("job %" PRIu32 ": %s from a connection that did not attach: ignored",
			 s->job_id, frame_type_name(m->body_case));
		return;
	}
	switch (m->body_case) {
	case PACER__MSG__BODY_SIGNAL:
		if (s->is_step)
			step_signal(s, m->signal->signal, m->signal->terminate);
		else
			batch_signal(s, m->signal);
		break;
	case PACER__MSG__BODY_SIGNAL_STEP:
		if (s->is_step)
			step_signal(s, m->signal_step->signal, m->signal_step->terminate);
		break;
	case PACER__MSG__BODY_JOB_ENDED_ACK:
		if (s->ended)
			sup_acknowledged(s);
		else
			log_warn("job %" PRIu32 ": acknowledgement before the end: ignored",
				 s->job_id);
		break;
	default:
		log_warn("job %" PRIu32 ": unexpected %s from the node daemon: ignored", s->job_id,
			 frame_type_name(m->body_case));
		break;
	}
}

static void on_closed(struct conn *c, const char *why, void *arg)
{
	struct sup *s = arg;

	if (c == d.first) {
		/* The daemon went before it gave us the job: nothing to run. */
		d.first = NULL;
		if (!s->setup) {
			log_err("job %" PRIu32 ": the node daemon left before sending the job (%s)",
				s->job_id, why);
			event_base_loopbreak(s->base);
		}
		return;
	}
	if (c == d.cur) {
		d.cur = NULL;
		log_info("job %" PRIu32 ": node daemon gone (%s); the job goes on", s->job_id, why);
	}
}

static const struct conn_ops ops = {
	.msg = on_msg,
	.closed = on_closed,
};

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct sup *s = arg;
	struct conn *c;

	(void)l;
	(void)sa;
	(void)salen;
	c = conn_local(&d.cfg, fd, "a node daemon", &ops, s);
	if (!c) {
		log_warn("job %" PRIu32 ": cannot take a connection: %s", s->job_id,
			 strerror(errno));
		return;
	}
	if (conn_uid(c) != geteuid()) {
		log_warn("job %" PRIu32 ": connection from uid %u refused (only the node daemon's "
			 "user may attach)",
			 s->job_id, (unsigned)conn_uid(c));
		conn_close(c, false);
	}
}

int daemon_start(struct sup *s, int fd, int lis_fd)
{
	d.s = s;
	d.cfg = (struct conn_cfg){ .base = s->base, .max_frame = MAX_FRAME };
	d.first = conn_local(&d.cfg, fd, "pacernoded", &ops, s);
	if (!d.first)
		return -1;
	/* The listener accepts until EAGAIN: a blocking socket would hang us. */
	evutil_make_socket_nonblocking(lis_fd);
	d.lis = evconnlistener_new(s->base, on_accept, s, LEV_OPT_CLOSE_ON_FREE, -1, lis_fd);
	if (!d.lis) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void daemon_stop(struct sup *s)
{
	(void)s;
	if (d.lis)
		evconnlistener_free(d.lis);
	d.lis = NULL;
	d.first = d.cur = NULL; /* not "gone": we are */
	conn_close_all();
}
