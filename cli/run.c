/* run.c - pacer run: a step in a job, its ranks' stdio served here (see
 * run.h). */
#include "run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "client.h"
#include "conn.h"
#include "frame.h"
#include "log.h"
#include "timefmt.h"

extern char **environ;

#define IO_KEY_LEN 32
/* Two Ctrl-C within this end the step. */
#define INTERRUPT_WINDOW_MS 1000
/* A first Ctrl-C is forwarded; how long until the step is said to wait. */
#define WAITING_NOTICE_MS 1000
/* Standard input is read no further while this much is queued to a node. */
#define STDIN_HIGH_WATER (4u << 20)
#define STDIN_CHUNK      (64u << 10)

struct run;

/* One node of the step. */
struct node_io {
	char *name;
	uint32_t index;
	uint32_t *ranks;
	size_t nranks;
	struct peer *peer; /* its supervisor's connection, once it said hello */
	bool done;         /* StepIoDone came */
	bool lost;         /* never connected, or its connection dropped first */
};

/* One accepted connection. */
struct peer {
	struct run *r;
	struct conn *c;
	struct node_io *node; /* once its hello is checked */
	struct peer *next;
};

/* One output file, shared by the ranks whose pattern gives the same path. */
struct outfile {
	char *path;
	int fd;
};

struct run {
	struct cli *cli;
	const struct run_opts *o;
	struct event_base *base;
	struct auth *auth;
	struct conn_cfg cfg;
	int listen_fd;
	struct event *listen_ev;
	int ctl_fd; /* the StepCreate request, until answered */
	struct event *ctl_ev;
	struct event *notice_ev;
	struct event *connect_ev;
	struct event *wait_ev;
	struct event *stdin_ev, *stdin_retry_ev;
	struct event *sig_ev[3];
	int stdin_fd;
	bool stdin_open;
	uint8_t key[IO_KEY_LEN];
	char host[INET6_ADDRSTRLEN];
	/* Where node 0's supervisor gathers the step's PMIx fences, once it
	 * said (StepIoHello.fence_port): every supervisor is told. */
	char fence_host[INET6_ADDRSTRLEN + 8];
	uint32_t fence_port;
	uint16_t port;
	uint32_t job_id, step_id;
	bool have_reply;
	const char *name; /* the step's */
	char *cwd;
	const char *user;
	struct node_io *nodes;
	size_t nnodes;
	uint32_t ntasks;
	uint32_t *rank_node; /* [ntasks]: index into nodes */
	bool *rank_exited;
	struct run_lines *lines; /* [2 * ntasks]: stdout, stderr */
	int *rank_fd;            /* [2 * ntasks]: where each goes */
	struct outfile *files;
	size_t nfiles;
	int label_width;
	struct peer *peers;
	struct run_tally tally;
	uint64_t last_interrupt;
	bool first_exit_seen;
	uint32_t first_exit_rank;
	bool terminating;
	bool finished;
	bool failed; /* an error ended pacer run's part before the step could */
	char *out;   /* label scratch */
	size_t outlen, outcap;
};

/* ---------------------------------------------------------------------------
 * Messages */

static void say(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (r->o->quiet)
		return;
	fprintf(stderr, "pacer %s: ", r->cli->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void error(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error(struct run *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pacer %s: error: ", r->cli->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void send_to(struct node_io *n, Pacer__Msg *m)
{
	if (n->peer && !n->done && !n->lost)
		conn_send(n->peer->c, m);
}

static void signal_all(struct run *r, int sig, bool terminate)
{
	Pacer__StepIoSignal s = PACER__STEP_IO_SIGNAL__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	s.signal = sig;
	s.terminate = terminate;
	m.body_case = PACER__MSG__BODY_IO_SIGNAL;
	m.io_signal = &s;
	for (size_t i = 0; i < r->nnodes; i++)
		send_to(&r->nodes[i], &m);
}

/* Cancel the step through the controller: for nodes this process cannot
 * reach itself. */
static void cancel_via_controller(struct run *r)
{
	Pacer__StepRef ref = PACER__STEP_REF__INIT, *refs[] = { &ref };
	Pacer__CancelRequest cr = PACER__CANCEL_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT, *reply = NULL;

	ref.job_id = r->job_id;
	ref.step_id = r->step_id;
	cr.steps = refs;
	cr.n_steps = 1;
	req.body_case = PACER__MSG__BODY_CANCEL;
	req.cancel = &cr;
	if (cli_call(r->cli, &req, PACER__MSG__BODY_CANCEL_REPLY, &reply) < 0)
		return;
	cli_job_results(r->cli, reply->cancel_reply->results, reply->cancel_reply->n_results);
	pacer__msg__free_unpacked(reply, NULL);
}

static void check_finished(struct run *r);

/* End the step: every rank gets SIGTERM, then SIGKILL kill_wait later. */
static void terminate(struct run *r)
{
	bool unreachable = false;

	if (r->terminating || !r->have_reply)
		return;
	r->terminating = true;
	signal_all(r, SIGTERM, true);
	for (size_t i = 0; i < r->nnodes; i++)
		unreachable |= !r->nodes[i].done && (r->nodes[i].lost || !r->nodes[i].peer);
	if (unreachable)
		cancel_via_controller(r);
}

static void node_lost(struct run *r, struct node_io *n)
{
	if (n->done || n->lost)
		return;
	n->lost = true;
	r->tally.failed = true;
	terminate(r);
	check_finished(r);
}

/* ---------------------------------------------------------------------------
 * Output */

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* A terminal or pipe the user made non-blocking: wait for it. */
			fd_set w;
			FD_ZERO(&w);
			FD_SET(fd, &w);
			select(fd + 1, NULL, &w, NULL, NULL);
			continue;
		}
		if (n <= 0)
			return; /* a closed pipe: the rest is dropped, as srun does */
		p += n;
		len -= (size_t)n;
	}
}

static void output(struct run *r, uint32_t rank, uint32_t stream, const uint8_t *data, size_t len,
		   bool eof)
{
	size_t k = 2 * rank + (stream == 2);
	int fd = r->rank_fd[k];

	if (!r->o->label) {
		write_all(fd, (const char *)data, len);
		return;
	}
	r->outlen = 0;
	if (run_lines_feed(&r->lines[k], rank, r->label_width, (const char *)data, len, eof,
			   &r->out, &r->outlen, &r->outcap) < 0) {
		/* Out of memory for a label: the bytes themselves matter more. */
		write_all(fd, (const char *)data, len);
		return;
	}
	write_all(fd, r->out, r->outlen);
}

/* The descriptor of PATH, opened (and truncated) once for every rank that
 * writes there.  -1 once printed. */
static int open_output(struct run *r, const char *path)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (strcmp(r->files[i].path, path) == 0)
			return r->files[i].fd;
	struct outfile *f = realloc(r->files, (r->nfiles + 1) * sizeof(*f));
	if (!f)
		return -1;
	r->files = f;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		error(r, "cannot open output file '%s': %s (check --output and --error)", path,
		      strerror(errno));
		return -1;
	}
	f[r->nfiles].path = strdup(path);
	f[r->nfiles].fd = fd;
	if (!f[r->nfiles].path) {
		close(fd);
		return -1;
	}
	r->nfiles++;
	return fd;
}

/* Where each rank's stdout and stderr go: the terminal, or the files of
 * --output and --error (relative to the ranks' working directory, on this
 * host). */
static int open_outputs(struct run *r)
{
	const char *outpat = r->o->job.output, *errpat = r->o->job.error;

	if (!errpat)
		errpat = outpat;
	for (uint32_t rank = 0; rank < r->ntasks; rank++) {
		const struct node_io *n = &r->nodes[r->rank_node[rank]];
		struct run_pattern_vars v = {
			.job_id = r->job_id,
			.step_id = r->step_id,
			.rank = rank,
			.node_index = n->index,
			.node = n->name,
			.user = r->user,
			.job_name = r->name,
		};
		for (int s = 0; s < 2; s++) {
			const char *pat = s ? errpat : outpat;
			char rel[4096], path[8192];

			r->rank_fd[2 * rank + s] = s ? STDERR_FILENO : STDOUT_FILENO;
			if (!pat)
				continue;
			if (run_pattern_expand(pat, &v, rel, sizeof(rel)) >= (int)sizeof(rel)) {
				error(r, "the file name of pattern '%s' is too long", pat);
				return -1;
			}
			if (rel[0] == '/')
				snprintf(path, sizeof(path), "%s", rel);
			else
				snprintf(path, sizeof(path), "%s/%s", r->cwd, rel);
			int fd = open_output(r, path);
			if (fd < 0)
				return -1;
			r->rank_fd[2 * rank + s] = fd;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Standard input */

static bool is_input_rank(const struct run *r, uint32_t rank)
{
	switch (r->o->input) {
	case RUN_INPUT_RANK: return rank == r->o->input_rank;
	case RUN_INPUT_NONE: return false;
	case RUN_INPUT_ALL:
	case RUN_INPUT_FILE: return true;
	}
	return false;
}

static void send_stdin(struct run *r, uint32_t rank, const uint8_t *data, size_t len, bool eof)
{
	Pacer__StepIoData d = PACER__STEP_IO_DATA__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	d.rank = rank;
	d.stream = 0;
	d.data.data = (uint8_t *)data;
	d.data.len = len;
	d.eof = eof;
	m.body_case = PACER__MSG__BODY_IO_DATA;
	m.io_data = &d;
	send_to(&r->nodes[r->rank_node[rank]], &m);
}

/* Whether every rank that reads standard input has its node connected. */
static bool stdin_ready(const struct run *r)
{
	for (uint32_t rank = 0; rank < r->ntasks; rank++)
		if (is_input_rank(r, rank) && !r->nodes[r->rank_node[rank]].peer)
			return false;
	return true;
}

static bool stdin_congested(const struct run *r)
{
	for (uint32_t rank = 0; rank < r->ntasks; rank++) {
		const struct node_io *n = &r->nodes[r->rank_node[rank]];
		if (is_input_rank(r, rank) && n->peer && !n->done && !n->lost &&
		    conn_pending_output(n->peer->c) > STDIN_HIGH_WATER)
			return true;
	}
	return false;
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct run *r = arg;
	uint8_t buf[STDIN_CHUNK];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	for (uint32_t rank = 0; rank < r->ntasks; rank++)
		if (is_input_rank(r, rank))
			send_stdin(r, rank, buf, n > 0 ? (size_t)n : 0, n <= 0);
	if (n <= 0) {
		event_del(r->stdin_ev);
		r->stdin_open = false;
		return;
	}
	if (stdin_congested(r)) {
		struct timeval tv = { 0, 50000 };
		event_del(r->stdin_ev);
		evtimer_add(r->stdin_retry_ev, &tv);
	}
}

static void on_stdin_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct run *r = arg;
	struct timeval tv = { 0, 50000 };

	if (!r->stdin_open)
		return;
	if (stdin_congested(r))
		evtimer_add(r->stdin_retry_ev, &tv);
	else
		event_add(r->stdin_ev, NULL);
}

static void stdin_start(struct run *r)
{
	if (!r->stdin_open || !stdin_ready(r) || event_pending(r->stdin_ev, EV_READ, NULL))
		return;
	if (event_add(r->stdin_ev, NULL) < 0) {
		/* Not pollable (it cannot be here with the poll backend): end it. */
		for (uint32_t rank = 0; rank < r->ntasks; rank++)
			if (is_input_rank(r, rank))
				send_stdin(r, rank, NULL, 0, true);
		r->stdin_open = false;
	}
}

/* ---------------------------------------------------------------------------
 * The supervisors */

/* Close P's connection (FLUSH: after what is queued) and forget it: a
 * closed connection is freed by conn.c, and says nothing more. */
static void peer_drop(struct peer *p, bool flush)
{
	if (p->c)
		conn_close(p->c, flush);
	p->c = NULL;
}

static struct node_io *node_by_name(struct run *r, const char *name)
{
	for (size_t i = 0; i < r->nnodes; i++)
		if (strcmp(r->nodes[i].name, name) == 0)
			return &r->nodes[i];
	return NULL;
}

static bool same_ranks(const struct node_io *n, const Pacer__StepIoHello *h)
{
	if (h->n_ranks != n->nranks)
		return false;
	for (size_t i = 0; i < n->nranks; i++)
		if (h->ranks[i] != n->ranks[i])
			return false;
	return true;
}

static int read_reply(struct run *r, int timeout_ms);

/* Tell node N's supervisor where the step's fences are gathered. */
static void send_wireup(struct run *r, struct node_io *n)
{
	Pacer__StepIoWireup w = PACER__STEP_IO_WIREUP__INIT;
	Pacer__Msg m = PACER__MSG__INIT;

	w.host = r->fence_host;
	w.port = r->fence_port;
	m.body_case = PACER__MSG__BODY_IO_WIREUP;
	m.io_wireup = &w;
	send_to(n, &m);
}

/* Node 0's supervisor listens for fences: its address is the one it
 * reached us from (conn_peer gives "host:port"). */
static void fence_wireup(struct run *r, struct peer *p, const Pacer__StepIoHello *h)
{
	if (!r->fence_port && h->fence_port && h->node_index == 0) {
		snprintf(r->fence_host, sizeof(r->fence_host), "%s", conn_peer(p->c));
		char *colon = strrchr(r->fence_host, ':');
		if (colon)
			*colon = '\0';
		r->fence_port = h->fence_port;
		for (size_t i = 0; i < r->nnodes; i++)
			if (r->nodes[i].peer && r->nodes[i].index != 0)
				send_wireup(r, &r->nodes[i]);
	} else if (r->fence_port && h->node_index != 0) {
		send_wireup(r, p->node);
	}
}

/* A supervisor says which node of which step it serves. */
static void on_hello(struct peer *p, const Pacer__StepIoHello *h)
{
	struct run *r = p->r;
	struct node_io *n;
	int diff = 0;

	if (h->io_key.len != IO_KEY_LEN)
		diff = 1;
	for (size_t i = 0; !diff && i < IO_KEY_LEN; i++)
		diff |= h->io_key.data[i] ^ r->key[i];
	if (diff || h->job_id != r->job_id) {
		error(r, "%s connected for another step (job %u, wrong key): dropped",
		      conn_peer(p->c), h->job_id);
		peer_drop(p, false);
		return;
	}
	/* It connected before the controller's answer was read: the step
	 * started, so the answer is there or on its way. */
	if (!r->have_reply && read_reply(r, 30000) < 0)
		return;
	n = node_by_name(r, h->node ? h->node : "");
	if (h->step_id != r->step_id || !n || !same_ranks(n, h)) {
		error(r,
		      "%s says it serves node %s of step %u.%u with %zu ranks, which is not "
		      "a node of step %u.%u: dropped",
		      conn_peer(p->c), h->node ? h->node : "?", h->job_id, h->step_id, h->n_ranks,
		      r->job_id, r->step_id);
		peer_drop(p, false);
		return;
	}
	if (n->peer || n->lost || n->done) {
		error(r, "%s connected again for node %s of step %u.%u: dropped", conn_peer(p->c),
		      n->name, r->job_id, r->step_id);
		peer_drop(p, false);
		return;
	}
	n->peer = p;
	p->node = n;
	fence_wireup(r, p, h);
	/* Ranks that get no input see its end at once. */
	for (size_t i = 0; i < n->nranks; i++)
		if (!is_input_rank(r, n->ranks[i]))
			send_stdin(r, n->ranks[i], NULL, 0, true);
	if (r->terminating)
		signal_all(r, SIGTERM, true);
	stdin_start(r);
}

static const char *state_word(Pacer__JobState st)
{
	switch (st) {
	case PACER__JOB_STATE__JOB_COMPLETED: return "COMPLETED";
	case PACER__JOB_STATE__JOB_FAILED: return "FAILED";
	case PACER__JOB_STATE__JOB_CANCELLED: return "CANCELLED";
	case PACER__JOB_STATE__JOB_TIMEOUT: return "TIMEOUT";
	case PACER__JOB_STATE__JOB_NODE_FAIL: return "NODE_FAIL";
	case PACER__JOB_STATE__JOB_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
	default: return "ENDED";
	}
}

static void on_wait_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct run *r = arg;

	if (r->finished || r->tally.exited >= r->ntasks)
		return;
	error(r, "task %u exited %u s ago: ending the remaining tasks (--wait)", r->first_exit_rank,
	      r->o->wait_s);
	terminate(r);
}

static void on_exit_msg(struct run *r, struct node_io *n, const Pacer__StepIoExit *e)
{
	uint32_t rank = e->rank;
	int code = run_rank_status(e->exit_code, e->term_signal);

	if (rank >= r->ntasks || r->rank_node[rank] != (uint32_t)(n - r->nodes) ||
	    r->rank_exited[rank])
		return;
	r->rank_exited[rank] = true;
	if (r->terminating && e->term_signal > 0 && !e->aborted) {
		/* Killed because we end the step (-K, -W, an abort, Ctrl-C): the
		 * cause decides the exit code, as with srun, never the kill. */
		run_tally_rank(&r->tally, rank, 0, 0, false);
		r->tally.failed = true;
	} else {
		run_tally_rank(&r->tally, rank, e->exit_code, e->term_signal, e->aborted);
	}
	/* What is left of its last lines goes out before the news of its end. */
	if (r->o->label) {
		output(r, rank, 1, NULL, 0, true);
		output(r, rank, 2, NULL, 0, true);
	}
	if (e->aborted) {
		error(r, "task %u aborted with code %d%s%s", rank, code,
		      e->message && *e->message ? ": " : "", e->message ? e->message : "");
		terminate(r);
	} else if (e->message && *e->message) {
		error(r, "%s: task %u: %s", n->name, rank, e->message);
	}
	if (!e->aborted && code != 0 && !r->o->quiet) {
		if (e->term_signal > 0)
			error(r, "%s: task %u: killed by signal %d (%s)", n->name, rank,
			      e->term_signal, strsignal(e->term_signal));
		else
			error(r, "%s: task %u: exited with exit code %d", n->name, rank, code);
	}
	if (code != 0 && r->o->kill_on_bad_exit && !r->terminating) {
		error(r, "task %u failed: ending the step (--kill-on-bad-exit)", rank);
		terminate(r);
	}
	if (!r->first_exit_seen) {
		r->first_exit_seen = true;
		r->first_exit_rank = rank;
		if (r->o->wait_s && r->tally.exited < r->ntasks) {
			struct timeval tv = { .tv_sec = r->o->wait_s };
			evtimer_add(r->wait_ev, &tv);
		}
	}
}

static void on_done(struct run *r, struct node_io *n, const Pacer__StepIoDone *d)
{
	Pacer__JobState st = d->state;

	n->done = true;
	if (st != PACER__JOB_STATE__JOB_COMPLETED && st != PACER__JOB_STATE__JOB_FAILED &&
	    !(st == PACER__JOB_STATE__JOB_CANCELLED && r->terminating)) {
		error(r, "%s: step %u.%u %s%s%s", n->name, r->job_id, r->step_id, state_word(st),
		      d->reason && *d->reason ? ": " : "", d->reason ? d->reason : "");
		r->tally.failed = true;
	}
	/* Ranks it never reported cannot have succeeded. */
	for (size_t i = 0; i < n->nranks; i++)
		if (n->ranks[i] < r->ntasks && !r->rank_exited[n->ranks[i]]) {
			error(r, "%s: task %u ended without an exit status", n->name, n->ranks[i]);
			r->tally.failed = true;
		}
	peer_drop(n->peer, true);
	n->peer->node = NULL;
	check_finished(r);
}

static void peer_msg(struct conn *c, Pacer__Msg *m, void *arg)
{
	struct peer *p = arg;
	struct run *r = p->r;
	struct node_io *n = p->node;

	if (!n) {
		if (m->body_case == PACER__MSG__BODY_IO_HELLO && m->io_hello)
			on_hello(p, m->io_hello);
		else {
			error(r, "%s sent a %s message before its hello: dropped", conn_peer(c),
			      frame_type_name(m->body_case));
			peer_drop(p, false);
		}
		return;
	}
	switch (m->body_case) {
	case PACER__MSG__BODY_IO_DATA: {
		const Pacer__StepIoData *d = m->io_data;
		if (d->rank < r->ntasks && r->rank_node[d->rank] == (uint32_t)(n - r->nodes) &&
		    (d->stream == 1 || d->stream == 2))
			output(r, d->rank, d->stream, d->data.data, d->data.len, d->eof);
		break;
	}
	case PACER__MSG__BODY_IO_EXIT: on_exit_msg(r, n, m->io_exit); break;
	case PACER__MSG__BODY_IO_DONE: on_done(r, n, m->io_done); break;
	default: break; /* newer supervisors may say more */
	}
}

static int peer_ready(struct conn *c, void *arg, char *err, size_t errlen)
{
	(void)arg;
	if (conn_uid(c) != 0) {
		snprintf(err, errlen, "only a node's step supervisor (root) may connect here");
		return -1;
	}
	return 0;
}

static void peer_unlink(struct peer *p)
{
	struct run *r = p->r;

	for (struct peer **pp = &r->peers; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	free(p);
}

static void peer_closed(struct conn *c, const char *why, void *arg)
{
	(void)c;
	struct peer *p = arg;
	struct run *r = p->r;
	struct node_io *n = p->node;

	if (n && !n->done && !n->lost) {
		error(r, "%s: lost the connection to the step's supervisor (%s): ending the step",
		      n->name, why);
		n->peer = NULL;
		node_lost(r, n);
	} else if (n) {
		n->peer = NULL;
	}
	peer_unlink(p);
}

static const struct conn_ops peer_ops = {
	.ready = peer_ready,
	.msg = peer_msg,
	.closed = peer_closed,
};

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	struct run *r = arg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "?", peer[INET6_ADDRSTRLEN + 8];
	int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
	snprintf(peer, sizeof(peer), "%s", addr);
	struct peer *p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return;
	}
	p->r = r;
	p->c = conn_accept(&r->cfg, fd, peer, &peer_ops, p);
	if (!p->c) {
		free(p);
		return;
	}
	p->next = r->peers;
	r->peers = p;
}

/* ---------------------------------------------------------------------------
 * The step's life */

static void check_finished(struct run *r)
{
	if (!r->have_reply)
		return;
	for (size_t i = 0; i < r->nnodes; i++)
		if (!r->nodes[i].done && !r->nodes[i].lost)
			return;
	r->finished = true;
	event_base_loopbreak(r->base);
}

static void on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct run *r = arg;
	bool any = false;

	for (size_t i = 0; i < r->nnodes; i++) {
		struct node_io *n = &r->nodes[i];
		if (n->peer || n->done || n->lost)
			continue;
		error(r,
		      "%s: the step's supervisor did not connect to %s:%u within %d s (can the "
		      "node reach this host?)",
		      n->name, r->host, r->port, (int)(r->cfg.handshake_ms / 1000));
		any = true;
	}
	if (!any)
		return;
	/* Cancel through the controller first: terminate() skips it once
	 * every unconnected node counts as lost. */
	r->terminating = false;
	terminate(r);
	for (size_t i = 0; i < r->nnodes; i++) {
		struct node_io *n = &r->nodes[i];
		if (!n->peer && !n->done && !n->lost) {
			n->lost = true;
			r->tally.failed = true;
		}
	}
	check_finished(r);
}

/* Take the StepCreateReply: the step's nodes and ranks. */
static int take_reply(struct run *r, const Pacer__StepCreateReply *sr)
{
	r->step_id = sr->step_id;
	r->ntasks = sr->ntasks;
	r->nnodes = sr->n_alloc;
	r->nodes = calloc(r->nnodes ? r->nnodes : 1, sizeof(*r->nodes));
	r->rank_node = calloc(r->ntasks ? r->ntasks : 1, sizeof(*r->rank_node));
	r->rank_exited = calloc(r->ntasks ? r->ntasks : 1, sizeof(*r->rank_exited));
	r->lines = calloc(2 * (size_t)(r->ntasks ? r->ntasks : 1), sizeof(*r->lines));
	r->rank_fd = calloc(2 * (size_t)(r->ntasks ? r->ntasks : 1), sizeof(*r->rank_fd));
	if (!r->nodes || !r->rank_node || !r->rank_exited || !r->lines || !r->rank_fd)
		return -1;
	for (size_t i = 0; i < r->nnodes; i++) {
		const Pacer__NodeAlloc *a = sr->alloc[i];
		struct node_io *n = &r->nodes[i];
		n->name = strdup(a->node ? a->node : "");
		n->index = (uint32_t)i;
		n->ranks = calloc(a->n_task_ids ? a->n_task_ids : 1, sizeof(*n->ranks));
		if (!n->name || !n->ranks)
			return -1;
		for (size_t k = 0; k < a->n_task_ids; k++) {
			if (a->task_ids[k] >= r->ntasks) {
				errno = EPROTO;
				return -1;
			}
			n->ranks[k] = a->task_ids[k];
			r->rank_node[a->task_ids[k]] = (uint32_t)i;
		}
		n->nranks = a->n_task_ids;
	}
	r->label_width = run_label_width(r->ntasks);
	r->have_reply = true;
	return 0;
}

/* Read the controller's answer to the step request: within TIMEOUT_MS (it
 * is there when the fd is readable).  0, or -1 once printed (the loop is
 * stopped). */
static int read_reply(struct run *r, int timeout_ms)
{
	Pacer__Msg *m = NULL;
	char err[2048];

	if (r->notice_ev)
		evtimer_del(r->notice_ev);
	if (r->ctl_ev)
		event_del(r->ctl_ev);
	int rc = client_read_reply(r->ctl_fd, timeout_ms, &m, err, sizeof(err));
	close(r->ctl_fd);
	r->ctl_fd = -1;
	if (rc < 0 || m->body_case != PACER__MSG__BODY_STEP_CREATE_REPLY) {
		if (rc < 0)
			cli_error(r->cli, "%s", err);
		else
			cli_error(r->cli,
				  "the controller answered a step request with a %s message (use "
				  "pacer and pacerctld of the same release)",
				  frame_type_name(m->body_case));
		if (m)
			pacer__msg__free_unpacked(m, NULL);
		r->failed = true;
		event_base_loopbreak(r->base);
		return -1;
	}
	rc = take_reply(r, m->step_create_reply);
	pacer__msg__free_unpacked(m, NULL);
	if (rc < 0 || open_outputs(r) < 0) {
		if (rc < 0)
			cli_error(r->cli, "the controller's step answer is unusable: %s",
				  strerror(errno));
		r->have_reply = true;
		r->failed = true;
		cancel_via_controller(r);
		event_base_loopbreak(r->base);
		return -1;
	}
	if (r->o->input == RUN_INPUT_RANK && r->o->input_rank >= r->ntasks) {
		error(r, "--input=%u: step %u.%u has ranks 0 to %u only", r->o->input_rank,
		      r->job_id, r->step_id, r->ntasks - 1);
		r->failed = true;
		cancel_via_controller(r);
		event_base_loopbreak(r->base);
		return -1;
	}
	struct timeval tv = { .tv_sec = r->cfg.handshake_ms / 1000 };
	evtimer_add(r->connect_ev, &tv);
	return 0;
}

static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct run *r = arg;

	if (!r->have_reply)
		read_reply(r, 10000);
}

static void on_notice(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct run *r = arg;

	say(r, "step waiting for free cores in job %u", r->job_id);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct run *r = arg;
	uint64_t now = timefmt_monotonic_ms();

	if (!r->have_reply) {
		/* Closing the request drops it: no step starts. */
		error(r, "interrupted: no step started in job %u", r->job_id);
		r->failed = true;
		event_base_loopbreak(r->base);
		return;
	}
	if (sig != SIGINT) {
		error(r, "%s: ending the step", strsignal((int)sig));
		terminate(r);
		return;
	}
	if (r->last_interrupt && now - r->last_interrupt < INTERRUPT_WINDOW_MS) {
		error(r, "interrupted twice: ending step %u.%u", r->job_id, r->step_id);
		terminate(r);
		return;
	}
	r->last_interrupt = now;
	fprintf(stderr, "pacer %s: interrupt (one more within 1 sec to abort)\n", r->cli->cmd);
	signal_all(r, SIGINT, false);
}

/* ---------------------------------------------------------------------------
 * Setting up */

/* The address this host reaches the controller from: a UDP "connection"
 * sends nothing and names the route's source address. */
static int local_address(const struct conf *conf, struct sockaddr_storage *ss, socklen_t *len)
{
	for (size_t i = 0; i < conf->ncontrollers; i++) {
		struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res, *ai;
		char port[8];

		snprintf(port, sizeof(port), "%u", conf->controllers[i].port);
		if (getaddrinfo(conf->controllers[i].host, port, &hints, &res) != 0)
			continue;
		for (ai = res; ai; ai = ai->ai_next) {
			int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (fd < 0)
				continue;
			*len = sizeof(*ss);
			if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
			    getsockname(fd, (struct sockaddr *)ss, len) == 0) {
				close(fd);
				freeaddrinfo(res);
				return 0;
			}
			close(fd);
		}
		freeaddrinfo(res);
	}
	errno = EHOSTUNREACH;
	return -1;
}

static int listen_here(struct run *r)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	if (local_address(r->cli->conf, &ss, &len) < 0) {
		cli_error(r->cli,
			  "cannot find the address this host reaches the controller from (check "
			  "controllers in %s)",
			  r->cli->conf->path);
		return -1;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, r->host, sizeof(r->host));
		a->sin_addr.s_addr = htonl(INADDR_ANY);
		a->sin_port = 0;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, r->host, sizeof(r->host));
		a->sin6_addr = in6addr_any;
		a->sin6_port = 0;
	}
	r->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->listen_fd < 0 ||
	    setsockopt(r->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(r->listen_fd, (struct sockaddr *)&ss, len) < 0 || listen(r->listen_fd, 128) < 0 ||
	    getsockname(r->listen_fd, (struct sockaddr *)&ss, &len) < 0) {
		cli_error(r->cli, "cannot listen for the step's output: %s", strerror(errno));
		return -1;
	}
	r->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static int connect_timeout_s(struct cli *cli)
{
	const char *s = getenv("PACER_RUN_CONNECT_TIMEOUT");
	char *end;
	long v;

	if (!s || !*s)
		return RUN_CONNECT_TIMEOUT_S;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 86400) {
		cli_warn(cli,
			 "PACER_RUN_CONNECT_TIMEOUT='%s' is not a number of seconds from 1 to "
			 "86400: using %d",
			 s, RUN_CONNECT_TIMEOUT_S);
		return RUN_CONNECT_TIMEOUT_S;
	}
	return (int)v;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

/* Send the StepCreateRequest; the connection stays open for the answer. */
static int request_step(struct run *r, int argc, char **argv, char **env, size_t nenv)
{
	const struct submit_opts *j = &r->o->job;
	Pacer__StepSpec spec = PACER__STEP_SPEC__INIT;
	Pacer__StepCreateRequest sc = PACER__STEP_CREATE_REQUEST__INIT;
	Pacer__Msg req = PACER__MSG__INIT;
	char err[2048];

	spec.name = (char *)r->name;
	spec.nodes = j->nodes;
	spec.ntasks = j->ntasks;
	spec.cpus_per_task = j->cpus_per_task;
	spec.nodelist = j->nodelist ? j->nodelist : "";
	spec.distribution = j->distribution ? j->distribution : "";
	spec.cpu_bind = j->cpu_bind ? j->cpu_bind : "";
	spec.exclusive = !r->o->overlap;
	spec.overlap = r->o->overlap;
	spec.whole = r->o->whole;
	spec.argv = argv;
	spec.n_argv = (size_t)argc;
	spec.env = env;
	spec.n_env = nenv;
	spec.cwd = r->cwd;
	spec.label = r->o->label;
	spec.io_host = r->host;
	spec.io_port = r->port;
	spec.io_key.data = r->key;
	spec.io_key.len = IO_KEY_LEN;
	spec.time_limit = j->time_limit;
	spec.mpi = (char *)r->o->mpi;
	sc.job_id = r->job_id;
	sc.spec = &spec;
	req.body_case = PACER__MSG__BODY_STEP_CREATE;
	req.step_create = &sc;
	if (pacer__msg__get_packed_size(&req) > FRAME_MAX_REQUEST) {
		cli_error(r->cli,
			  "the step is larger than %u MiB with its environment (pass fewer "
			  "variables with --export)",
			  FRAME_MAX_REQUEST >> 20);
		return -1;
	}
	if (client_start(r->cli->conf, &req, &r->ctl_fd, err, sizeof(err)) < 0) {
		cli_error(r->cli, "%s", err);
		return -1;
	}
	return 0;
}

static int setup_loop(struct run *r)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct event_config *ec = event_config_new();
	struct timeval notice = { 0, WAITING_NOTICE_MS * 1000 };

	/* poll, not epoll: standard input may be a file or /dev/null. */
	if (ec) {
		event_config_require_features(ec, EV_FEATURE_FDS);
		r->base = event_base_new_with_config(ec);
		event_config_free(ec);
	}
	if (!r->base)
		r->base = event_base_new();
	if (!r->base)
		return -1;
	r->listen_ev = event_new(r->base, r->listen_fd, EV_READ | EV_PERSIST, on_accept, r);
	r->connect_ev = evtimer_new(r->base, on_connect_timeout, r);
	r->wait_ev = evtimer_new(r->base, on_wait_timer, r);
	r->notice_ev = evtimer_new(r->base, on_notice, r);
	r->stdin_ev = event_new(r->base, r->stdin_fd, EV_READ | EV_PERSIST, on_stdin, r);
	r->stdin_retry_ev = evtimer_new(r->base, on_stdin_retry, r);
	for (size_t i = 0; i < 3; i++) {
		r->sig_ev[i] = evsignal_new(r->base, sigs[i], on_signal, r);
		if (!r->sig_ev[i] || event_add(r->sig_ev[i], NULL) < 0)
			return -1;
	}
	if (!r->listen_ev || !r->connect_ev || !r->wait_ev || !r->notice_ev || !r->stdin_ev ||
	    !r->stdin_retry_ev || event_add(r->listen_ev, NULL) < 0)
		return -1;
	r->cfg.base = r->base;
	r->cfg.auth = r->auth;
	r->cfg.cluster = r->cli->conf->cluster;
	r->cfg.service = "step";
	r->cfg.max_frame = FRAME_MAX_REQUEST;
	r->cfg.handshake_ms = connect_timeout_s(r->cli) * 1000;
	evtimer_add(r->notice_ev, &notice);
	return 0;
}

static void teardown(struct run *r)
{
	for (struct peer *p = r->peers; p; p = p->next)
		peer_drop(p, false);
	/* Those still flushing when the loop stopped (no callback for them). */
	conn_close_all();
	while (r->peers) {
		struct peer *p = r->peers;
		r->peers = p->next;
		free(p);
	}
	if (r->ctl_fd >= 0)
		close(r->ctl_fd);
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	if (r->stdin_fd > STDERR_FILENO)
		close(r->stdin_fd);
	struct event *evs[] = { r->listen_ev, r->ctl_ev,   r->notice_ev,      r->connect_ev,
				r->wait_ev,   r->stdin_ev, r->stdin_retry_ev, r->sig_ev[0],
				r->sig_ev[1], r->sig_ev[2] };
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (r->base)
		event_base_free(r->base);
	if (r->auth)
		auth_destroy(r->auth);
	for (size_t i = 0; i < r->nnodes; i++) {
		free(r->nodes[i].name);
		free(r->nodes[i].ranks);
	}
	for (size_t i = 0; r->lines && i < 2 * (size_t)r->ntasks; i++)
		run_lines_free(&r->lines[i]);
	for (size_t i = 0; i < r->nfiles; i++) {
		close(r->files[i].fd);
		free(r->files[i].path);
	}
	free(r->files);
	free(r->nodes);
	free(r->rank_node);
	free(r->rank_exited);
	free(r->lines);
	free(r->rank_fd);
	free(r->out);
	free(r->cwd);
}

/* The ranks' working directory: -D made absolute, else here. */
static char *step_cwd(struct cli *cli, const struct run_opts *o)
{
	char *here = getcwd(NULL, 0), *dir;

	if (!here) {
		cli_error(cli, "cannot find the current directory: %s (cd to an existing one)",
			  strerror(errno));
		return NULL;
	}
	dir = script_workdir(o->job.chdir, here);
	free(here);
	if (!dir)
		cli_error(cli, "out of memory");
	return dir;
}

int run_step(struct cli *cli, const struct run_opts *o, uint32_t job_id, int argc, char **argv,
	     int *code)
{
	struct run r = { .cli = cli, .o = o, .job_id = job_id, .listen_fd = -1, .ctl_fd = -1 };
	struct passwd *pw = getpwuid(getuid());
	char **env = NULL, err[1024];
	size_t nenv = 0;
	int rc = -1;

	*code = 1;
	run_tally_init(&r.tally);
	r.name = o->job.name ? o->job.name : basename_of(argv[0]);
	r.user = pw ? pw->pw_name : "";
	r.stdin_fd = STDIN_FILENO;
	r.stdin_open = true;
	log_init("pacer", LOG_ERR);
	if (!cli->conf && conf_load(conf_path(cli->conf_opt), &cli->conf, err, sizeof(err)) < 0) {
		cli_error(cli, "%s", err);
		return -1;
	}
	if (o->input == RUN_INPUT_FILE) {
		r.stdin_fd = open(o->input_file, O_RDONLY | O_CLOEXEC);
		if (r.stdin_fd < 0) {
			cli_error(cli, "cannot open input file '%s': %s (check --input)",
				  o->input_file, strerror(errno));
			return -1;
		}
	}
	if (!(r.cwd = step_cwd(cli, o)))
		goto done;
	if (script_export_env(o->job.export_spec, environ, &env, &nenv, err, sizeof(err)) < 0) {
		cli_error(cli, "%s", err);
		goto done;
	}
	if (getrandom(r.key, sizeof(r.key), 0) != (ssize_t)sizeof(r.key)) {
		cli_error(cli, "cannot get random bytes for the step's key: %s", strerror(errno));
		goto done;
	}
	r.auth = auth_create(cli->conf->munge_socket);
	if (!r.auth) {
		cli_error(cli, "cannot set up munge: %s", strerror(errno));
		goto done;
	}
	if (listen_here(&r) < 0)
		goto done;
	if (setup_loop(&r) < 0) {
		cli_error(cli, "cannot set up the event loop: %s", strerror(errno));
		goto done;
	}
	if (request_step(&r, argc, argv, env, nenv) < 0)
		goto done;
	r.ctl_ev = event_new(r.base, r.ctl_fd, EV_READ, on_ctl, &r);
	if (!r.ctl_ev || event_add(r.ctl_ev, NULL) < 0) {
		cli_error(cli, "cannot set up the event loop: %s", strerror(errno));
		goto done;
	}
	event_base_dispatch(r.base);
	if (r.failed && !r.finished)
		goto done;
	/* What is left of unfinished lines, from nodes that went away. */
	for (uint32_t rank = 0; o->label && rank < r.ntasks; rank++) {
		output(&r, rank, 1, NULL, 0, true);
		output(&r, rank, 2, NULL, 0, true);
	}
	*code = run_tally_code(&r.tally);
	rc = 0;
done:
	script_argv_free(env);
	teardown(&r);
	return rc;
}

/* ---------------------------------------------------------------------------
 * The command */

static volatile sig_atomic_t stop_waiting;

static void on_stop(int sig)
{
	(void)sig;
	stop_waiting = 1;
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	cli->usage = run_usage;
	struct run_opts o;
	struct alloc_job a = { 0 };
	char err[1024];
	uint32_t job_id;
	int rc = 1, code = 1;

	run_opts_init(&o, RUN_MODE_RUN);
	if (run_parse_args(&o, argc, argv, err, sizeof(err)) < 0) {
		rc = o.usage_error ? cli_usage_error(cli, "%s", err)
				   : (cli_error(cli, "%s", err), 1);
		goto done;
	}
	if (o.help) {
		fputs(run_usage, stdout);
		rc = 0;
		goto done;
	}
	if (o.first >= argc) {
		rc = cli_usage_error(cli, "no command to run (give it after the options)");
		goto done;
	}
	if (run_target_job(&o, getenv("PACER_JOB_ID"), &job_id, err, sizeof(err)) < 0) {
		cli_error(cli, "%s", err);
		goto done;
	}
	if (job_id) {
		if (o.job_only[0]) {
			cli_error(cli,
				  "%s shapes a new allocation and cannot change job %u, which the "
				  "step runs in (leave it out, or run pacer run outside the job)",
				  o.job_only, job_id);
			goto done;
		}
		fflush(stdout);
		rc =
		    run_step(cli, &o, job_id, argc - o.first, argv + o.first, &code) < 0 ? 1 : code;
		goto done;
	}

	/* Outside a job: one of our own, released when the step ends. */
	struct sigaction sa = { .sa_handler = on_stop }, old[3];
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct run_opts step = o;
	uint32_t id;

	if (alloc_submit(cli, &o, basename_of(argv[o.first]), &id) < 0)
		goto done;
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	int waited = alloc_wait(cli, id, o.quiet, &stop_waiting, &a);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (waited < 0)
		goto done;
	/* The step takes the whole allocation as asked: the job's placement
	 * options are already the job's. */
	step.job.nodelist = NULL;
	step.job.time_limit = 0;
	step.overlap = false;
	rc = run_step(cli, &step, id, argc - o.first, argv + o.first, &code) < 0 ? 1 : code;
	if (alloc_release(cli, id, rc) == 1)
		cli_error(cli, "job allocation %u has been revoked", id);
done:
	alloc_job_free(&a);
	run_opts_free(&o);
	return rc;
}
