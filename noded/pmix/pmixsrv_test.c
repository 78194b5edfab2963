/* pmixsrv_test.c - real Open MPI programs (tests/mpi) direct-launched on
 * emulated nodes, each node a process of its own running pmixsrv.
 *
 * The test process plays the supervisors' network: each node process sends
 * it its fence contributions over a socketpair, it gathers every node's
 * blob and sends the concatenation (node order) back to each.  A node tells
 * it of an abort upcall; the test then tells every node to kill its ranks,
 * as the supervisor will.  Every wait has a deadline on the monotonic clock,
 * and every node runs in a process group of its own that the test kills on
 * the way out, so a broken PMIx or MPI fails the test instead of hanging it.
 * PMIXSRV_TEST_VERBOSE=1 prints every case's rank output.
 */
#include "pmixsrv.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NTASKS       8
#define MAX_NODES    4
#define MAX_FENCES   16
#define MAX_DMODEX   64
#define CASE_SECONDS 30 /* one case, start to end; they take about a second */

enum msg_type {
	M_FENCE = 1,  /* node -> test: a = seq, payload = blob */
	M_FENCE_DONE, /* test -> node: a = seq, payload = concatenation */
	M_ABORT,      /* node -> test: a = rank, b = status, payload = message */
	M_KILL,       /* test -> node: kill your ranks */
	M_DONE,       /* node -> test: payload = struct rank_exit[] */
	M_FAIL,       /* node -> test: payload = what failed */
	M_DMX_REQ,    /* node -> test: a = rank, b = owner node << 16 | id */
	M_DMX_SERVE,  /* test -> owner: a = rank, b = asking node << 16 | id */
	M_DMX_DATA,   /* owner -> test: a = asking node << 16 | id, b = status */
	M_DMX_DONE,   /* test -> asking node: a = id, b = status */
};

struct msg_hdr {
	uint32_t type, a;
	int32_t b;
	uint32_t len;
};

struct rank_exit {
	uint32_t rank;
	int32_t status; /* as from waitpid */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read LEN bytes; the peer writes whole messages at once. */
static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_msg(int fd, uint32_t type, uint32_t a, int32_t b, const void *data, size_t len)
{
	struct msg_hdr h = { type, a, b, (uint32_t)len };

	if (write_all(fd, &h, sizeof(h)) != 0) {
		return -1;
	}
	return len > 0 ? write_all(fd, data, len) : 0;
}

/* One message; *DATA malloc'd (NULL if empty). */
static int recv_msg(int fd, struct msg_hdr *h, char **data)
{
	*data = NULL;
	if (read_all(fd, h, sizeof(*h)) != 0) {
		return -1;
	}
	if (h->len == 0) {
		return 0;
	}
	*data = malloc(h->len + 1);
	if (*data == NULL || read_all(fd, *data, h->len) != 0) {
		free(*data);
		*data = NULL;
		return -1;
	}
	(*data)[h->len] = '\0';
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the layout of a step ----------------------------------------------- */

struct layout {
	uint32_t nnodes, ntasks;
	char names[MAX_NODES][16];
	const char *nodes[MAX_NODES];
	uint32_t ranks[MAX_NODES][NTASKS];
	const uint32_t *node_ranks[MAX_NODES];
	uint32_t nranks[MAX_NODES];
	uid_t uid; /* the ranks' user */
	gid_t gid;
};

/* NTASKS ranks over NNODES nodes, in blocks or round robin. */
static void make_layout(struct layout *l, uint32_t nnodes, bool cyclic)
{
	memset(l, 0, sizeof(*l));
	l->nnodes = nnodes;
	l->ntasks = NTASKS;
	l->uid = getuid();
	l->gid = getgid();
	for (uint32_t r = 0; r < NTASKS; r++) {
		uint32_t n = cyclic ? r % nnodes : r / ((NTASKS + nnodes - 1) / nnodes);

		l->ranks[n][l->nranks[n]++] = r;
	}
	for (uint32_t n = 0; n < nnodes; n++) {
		snprintf(l->names[n], sizeof(l->names[n]), "node%u", n + 1);
		l->nodes[n] = l->names[n];
		l->node_ranks[n] = l->ranks[n];
	}
}

static uint32_t node_of(const struct layout *l, uint32_t rank)
{
	for (uint32_t n = 0; n < l->nnodes; n++) {
		for (uint32_t j = 0; j < l->nranks[n]; j++) {
			if (l->ranks[n][j] == rank) {
				return n;
			}
		}
	}
	return UINT32_MAX;
}

/* ---- a node: one process, a PMIx server for its share of the ranks ------ */

struct node {
	uint32_t id;
	int sock;
	const struct layout *l;
	struct event_base *base;
	struct pmixsrv *ps;
	struct pmixsrv_fence *tokens[MAX_FENCES];
	struct pmixsrv_dmodex *dtokens[MAX_DMODEX];
	pid_t pids[NTASKS];
	struct rank_exit exits[NTASKS];
	uint32_t nlocal, nexited;
	bool failed;
};

static void node_fail(struct node *nd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void node_fail(struct node *nd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	send_msg(nd->sock, M_FAIL, nd->id, 0, buf, strlen(buf));
	nd->failed = true;
	if (nd->base != NULL) {
		event_base_loopbreak(nd->base);
	}
}

static void node_kill_ranks(struct node *nd)
{
	for (uint32_t i = 0; i < nd->nlocal; i++) {
		if (nd->pids[i] > 0) {
			kill(nd->pids[i], SIGKILL);
		}
	}
}

static void on_fence(void *arg, uint32_t seq, const void *data, size_t len,
		     struct pmixsrv_fence *token)
{
	struct node *nd = arg;

	if (seq >= MAX_FENCES || nd->tokens[seq] != NULL) {
		pmixsrv_fence_done(token, -1, NULL, 0);
		node_fail(nd, "node %u: unexpected fence %u", nd->id, seq);
		return;
	}
	nd->tokens[seq] = token;
	if (send_msg(nd->sock, M_FENCE, seq, 0, data, len) != 0) {
		node_fail(nd, "node %u: cannot send fence %u", nd->id, seq);
	}
}

static void on_abort(void *arg, uint32_t rank, int status, const char *msg)
{
	struct node *nd = arg;

	send_msg(nd->sock, M_ABORT, rank, status, msg, strlen(msg));
}

static void on_dmodex(void *arg, uint32_t rank, uint32_t node, struct pmixsrv_dmodex *token)
{
	struct node *nd = arg;
	uint32_t id;

	for (id = 0; id < MAX_DMODEX && nd->dtokens[id] != NULL; id++) {
	}
	if (id == MAX_DMODEX) {
		pmixsrv_dmodex_done(token, -1, NULL, 0);
		node_fail(nd, "node %u: too many direct modex requests", nd->id);
		return;
	}
	nd->dtokens[id] = token;
	send_msg(nd->sock, M_DMX_REQ, rank, (int32_t)(node << 16 | id), NULL, 0);
}

struct serve_ctx {
	struct node *nd;
	uint32_t tag;
};

static void on_served(void *arg, int status, const void *data, size_t len)
{
	struct serve_ctx *c = arg;

	send_msg(c->nd->sock, M_DMX_DATA, c->tag, status, data, len);
	free(c);
}

static void on_parent(evutil_socket_t fd, short what, void *arg)
{
	struct node *nd = arg;
	struct msg_hdr h;
	char *data;

	(void)what;
	if (recv_msg(fd, &h, &data) != 0) {
		/* the test went away: leave nothing behind */
		node_kill_ranks(nd);
		nd->failed = true;
		event_base_loopbreak(nd->base);
		return;
	}
	if (h.type == M_FENCE_DONE && h.a < MAX_FENCES && nd->tokens[h.a] != NULL) {
		struct pmixsrv_fence *t = nd->tokens[h.a];

		nd->tokens[h.a] = NULL;
		pmixsrv_fence_done(t, 0, data, h.len);
	} else if (h.type == M_DMX_SERVE) {
		struct serve_ctx *c = malloc(sizeof(*c));
		char err[256];

		if (c == NULL) {
			node_fail(nd, "node %u: out of memory", nd->id);
		} else {
			c->nd = nd;
			c->tag = (uint32_t)h.b;
			if (pmixsrv_dmodex_serve(nd->ps, h.a, on_served, c, err, sizeof(err)) !=
			    0) {
				on_served(c, -1, NULL, 0);
			}
		}
	} else if (h.type == M_DMX_DONE && h.a < MAX_DMODEX && nd->dtokens[h.a] != NULL) {
		struct pmixsrv_dmodex *t = nd->dtokens[h.a];

		nd->dtokens[h.a] = NULL;
		pmixsrv_dmodex_done(t, h.b, data, h.len);
	} else if (h.type == M_KILL) {
		node_kill_ranks(nd);
	} else {
		node_fail(nd, "node %u: unexpected message %u/%u", nd->id, h.type, h.a);
	}
	free(data);
}

static void on_child(evutil_socket_t sig, short what, void *arg)
{
	struct node *nd = arg;
	pid_t pid;
	int st;

	(void)sig;
	(void)what;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (uint32_t i = 0; i < nd->nlocal; i++) {
			if (nd->pids[i] == pid) {
				nd->pids[i] = 0;
				nd->exits[i].status = st;
				nd->nexited++;
			}
		}
	}
	if (nd->nexited == nd->nlocal) {
		send_msg(nd->sock, M_DONE, nd->id, 0, nd->exits, nd->nlocal * sizeof(nd->exits[0]));
		event_base_loopbreak(nd->base);
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct node *nd = arg;

	(void)fd;
	(void)what;
	node_kill_ranks(nd);
	node_fail(nd, "node %u: deadline passed, %u of %u ranks exited", nd->id, nd->nexited,
		  nd->nlocal);
}

/* Fork and exec local rank RANK of PROG with ENV added to ours. */
static pid_t start_rank(const char *prog, char **add, int out, int errfd, uid_t uid, gid_t gid)
{
	size_t n = 0, m = 0;
	char **env;
	pid_t pid;

	while (environ[n] != NULL) {
		n++;
	}
	while (add[m] != NULL) {
		m++;
	}
	env = calloc(n + m + 1, sizeof(*env));
	if (env == NULL) {
		return -1;
	}
	/* ADD wins: it goes first, and a name already there is not copied */
	memcpy(env, add, m * sizeof(*env));
	for (size_t i = 0, k = m; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq != NULL ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool dup = false;

		for (size_t j = 0; j < m && !dup; j++) {
			dup = strncmp(add[j], environ[i], nl) == 0 && add[j][nl] == '=';
		}
		if (!dup) {
			env[k++] = environ[i];
		}
	}
	pid = fork();
	if (pid == 0) {
		char *argv[] = { (char *)prog, NULL };

		dup2(out, STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		if (uid != getuid() &&
		    (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) {
			perror("cannot become the ranks' user");
			_exit(126);
		}
		execve(prog, argv, env);
		_exit(127);
	}
	free(env);
	return pid;
}

static int node_main(uint32_t id, int sock, const struct layout *l, const char *dir,
		     const char *prog)
{
	struct node nd = { .id = id, .sock = sock, .l = l };
	struct pmixsrv_ops ops = { .fence = on_fence, .abort = on_abort, .dmodex = on_dmodex };
	struct event *evp = NULL, *evc = NULL, *evt = NULL;
	struct timeval tv = { CASE_SECONDS, 0 };
	char tmpdir[256], path[300], err[512];
	int out = -1, errfd = -1;

	setpgid(0, 0);
	nd.nlocal = l->nranks[id];
	snprintf(tmpdir, sizeof(tmpdir), "%s/node%u", dir, id);
	if (mkdir(tmpdir, 0755) != 0) {
		node_fail(&nd, "node %u: mkdir %s: %s", id, tmpdir, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/node%u.out", dir, id);
	out = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	snprintf(path, sizeof(path), "%s/node%u.err", dir, id);
	errfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	nd.base = event_base_new();
	if (out < 0 || errfd < 0 || nd.base == NULL) {
		node_fail(&nd, "node %u: cannot set up output files or event base", id);
		return 1;
	}
	evp = event_new(nd.base, sock, EV_READ | EV_PERSIST, on_parent, &nd);
	evc = evsignal_new(nd.base, SIGCHLD, on_child, &nd);
	evt = evtimer_new(nd.base, on_deadline, &nd);
	event_add(evp, NULL);
	event_add(evc, NULL);
	event_add(evt, &tv);

	if (pmixsrv_init(nd.base, tmpdir, &ops, &nd, &nd.ps, err, sizeof(err)) != 0) {
		node_fail(&nd, "node %u: pmixsrv_init: %s", id, err);
		return 1;
	}
	struct pmixsrv_map map = {
		.nspace = "pacer.12.0",
		.job_id = 12,
		.step_id = 0,
		.nnodes = l->nnodes,
		.nodes = l->nodes,
		.node_ranks = l->node_ranks,
		.node_nranks = l->nranks,
		.this_node = id,
		.ntasks = l->ntasks,
		.uid = l->uid,
		.gid = l->gid,
	};
	if (pmixsrv_register(nd.ps, &map, err, sizeof(err)) != 0) {
		node_fail(&nd, "node %u: pmixsrv_register: %s", id, err);
		pmixsrv_destroy(nd.ps);
		return 1;
	}
	for (uint32_t i = 0; i < nd.nlocal; i++) {
		char **env;

		nd.exits[i].rank = l->ranks[id][i];
		if (pmixsrv_client_env(nd.ps, l->ranks[id][i], &env, err, sizeof(err)) != 0) {
			node_kill_ranks(&nd);
			node_fail(&nd, "node %u: pmixsrv_client_env: %s", id, err);
			break;
		}
		nd.pids[i] = start_rank(prog, env, out, errfd, l->uid, l->gid);
		pmixsrv_env_free(env);
		if (nd.pids[i] < 0) {
			node_kill_ranks(&nd);
			node_fail(&nd, "node %u: fork: %s", id, strerror(errno));
			break;
		}
	}
	if (!nd.failed) {
		event_base_dispatch(nd.base);
	}
	/* reap what is left (killed above if we failed) */
	if (nd.failed) {
		node_kill_ranks(&nd);
		for (uint32_t i = 0; i < nd.nlocal; i++) {
			if (nd.pids[i] > 0) {
				waitpid(nd.pids[i], NULL, 0);
			}
		}
	}
	pmixsrv_destroy(nd.ps);
	event_free(evp);
	event_free(evc);
	event_free(evt);
	event_base_free(nd.base);
	close(out);
	close(errfd);
	return nd.failed ? 1 : 0;
}

/* ---- the test: the supervisors' network --------------------------------- */

struct outcome {
	bool ok;            /* every node reported its ranks' exits */
	char fail[1024];    /* first failure a node or the test reported */
	int status[NTASKS]; /* wait status per rank, -1 if unknown */
	char *output;       /* every node's rank stdout */
	char *errors;       /* every node's rank stderr */
	int naborts;
	int ndmodex; /* direct modex requests the nodes made */
	uint32_t abort_node, abort_rank;
	int abort_status;
	char abort_msg[256];
	int leftovers; /* processes still alive after the nodes exited */
	double seconds;
};

static char *slurp_append(char *acc, const char *path)
{
	FILE *f = fopen(path, "r");
	size_t old = acc != NULL ? strlen(acc) : 0;
	char buf[4096];
	size_t n;

	if (f == NULL) {
		return acc;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		char *a = realloc(acc, old + n + 1);

		if (a == NULL) {
			break;
		}
		acc = a;
		memcpy(acc + old, buf, n);
		old += n;
		acc[old] = '\0';
	}
	fclose(f);
	return acc;
}

static void set_fail(struct outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_fail(struct outcome *o, const char *fmt, ...)
{
	va_list ap;

	if (o->fail[0] != '\0') {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(o->fail, sizeof(o->fail), fmt, ap);
	va_end(ap);
}

/* Run PROG's NTASKS ranks on NNODES nodes as user UID (GID). */
static void run_case_as(const char *prog, uint32_t nnodes, bool cyclic, uid_t uid, gid_t gid,
			struct outcome *o)
{
	struct layout l;
	char dir[] = "/tmp/pmixsrv_test.XXXXXX";
	int socks[MAX_NODES] = { -1, -1, -1, -1 };
	pid_t pids[MAX_NODES] = { 0 };
	bool done[MAX_NODES] = { false };
	char *blobs[MAX_FENCES][MAX_NODES] = { { NULL } };
	uint32_t bloblen[MAX_FENCES][MAX_NODES] = { { 0 } };
	bool have[MAX_FENCES][MAX_NODES] = { { false } };
	uint32_t ndone = 0;
	double start = now(), deadline = start + CASE_SECONDS + 10;

	memset(o, 0, sizeof(*o));
	for (int i = 0; i < NTASKS; i++) {
		o->status[i] = -1;
	}
	make_layout(&l, nnodes, cyclic);
	l.uid = uid;
	l.gid = gid;
	if (mkdtemp(dir) == NULL) {
		set_fail(o, "mkdtemp: %s", strerror(errno));
		return;
	}
	chmod(dir, 0755);
	for (uint32_t n = 0; n < nnodes; n++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
			set_fail(o, "socketpair: %s", strerror(errno));
			goto cleanup;
		}
		fflush(NULL);
		pids[n] = fork();
		if (pids[n] == 0) {
			close(sv[0]);
			/* exit, not _exit: under ASan the leak check runs at exit */
			exit(node_main(n, sv[1], &l, dir, prog));
		}
		close(sv[1]);
		socks[n] = sv[0];
		if (pids[n] < 0) {
			set_fail(o, "fork: %s", strerror(errno));
			goto cleanup;
		}
		/* in the parent too, so the group exists before we might kill it */
		setpgid(pids[n], pids[n]);
	}

	while (ndone < nnodes && o->fail[0] == '\0') {
		struct pollfd pfd[MAX_NODES];
		int left = (int)((deadline - now()) * 1000);

		if (left <= 0) {
			set_fail(o, "deadline passed with %u of %u nodes done", ndone, nnodes);
			break;
		}
		for (uint32_t n = 0; n < nnodes; n++) {
			pfd[n].fd = done[n] ? -1 : socks[n];
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
		}
		if (poll(pfd, nnodes, left) < 0 && errno != EINTR) {
			set_fail(o, "poll: %s", strerror(errno));
			break;
		}
		for (uint32_t n = 0; n < nnodes; n++) {
			struct msg_hdr h;
			char *data;

			if (pfd[n].revents == 0) {
				continue;
			}
			if (recv_msg(socks[n], &h, &data) != 0) {
				set_fail(o, "node %u hung up without reporting", n);
				break;
			}
			switch (h.type) {
			case M_FENCE:
				if (h.a >= MAX_FENCES || have[h.a][n]) {
					set_fail(o, "node %u: bad fence %u", n, h.a);
					free(data);
					break;
				}
				blobs[h.a][n] = data;
				bloblen[h.a][n] = h.len;
				have[h.a][n] = true;
				bool all = true;
				size_t total = 0;

				for (uint32_t k = 0; k < nnodes; k++) {
					all = all && have[h.a][k];
					total += bloblen[h.a][k];
				}
				if (all) {
					char *cat = malloc(total + 1);
					size_t off = 0;

					for (uint32_t k = 0; cat != NULL && k < nnodes; k++) {
						if (bloblen[h.a][k] > 0) {
							memcpy(cat + off, blobs[h.a][k],
							       bloblen[h.a][k]);
						}
						off += bloblen[h.a][k];
					}
					for (uint32_t k = 0; cat != NULL && k < nnodes; k++) {
						send_msg(socks[k], M_FENCE_DONE, h.a, 0, cat,
							 total);
					}
					free(cat);
				}
				break;
			case M_ABORT:
				o->naborts++;
				o->abort_node = n;
				o->abort_rank = h.a;
				o->abort_status = h.b;
				snprintf(o->abort_msg, sizeof(o->abort_msg), "%s",
					 data != NULL ? data : "");
				free(data);
				/* as the supervisor will: end the step everywhere */
				for (uint32_t k = 0; k < nnodes; k++) {
					if (!done[k]) {
						send_msg(socks[k], M_KILL, 0, 0, NULL, 0);
					}
				}
				break;
			case M_DONE: {
				const struct rank_exit *ex = (const void *)data;

				for (size_t k = 0; k < h.len / sizeof(*ex); k++) {
					if (ex[k].rank < NTASKS) {
						o->status[ex[k].rank] = ex[k].status;
					}
				}
				free(data);
				done[n] = true;
				ndone++;
				break;
			}
			case M_DMX_REQ: {
				uint32_t owner = (uint32_t)h.b >> 16, id = (uint32_t)h.b & 0xffff;

				o->ndmodex++;
				free(data);
				if (owner >= nnodes || owner == n) {
					set_fail(o, "node %u: direct modex of rank %u to node %u",
						 n, h.a, owner);
					break;
				}
				send_msg(socks[owner], M_DMX_SERVE, h.a, (int32_t)(n << 16 | id),
					 NULL, 0);
				break;
			}
			case M_DMX_DATA: {
				uint32_t asker = h.a >> 16, id = h.a & 0xffff;

				if (asker < nnodes) {
					send_msg(socks[asker], M_DMX_DONE, id, h.b, data, h.len);
				}
				free(data);
				break;
			}
			case M_FAIL:
				set_fail(o, "%s", data != NULL ? data : "node failed");
				free(data);
				break;
			default: set_fail(o, "node %u: unknown message %u", n, h.type); free(data);
			}
		}
	}
	o->ok = ndone == nnodes && o->fail[0] == '\0';
	o->seconds = now() - start;

cleanup:
	/* the nodes exit by themselves once done; a stuck one is killed */
	for (uint32_t n = 0; n < nnodes; n++) {
		int st;

		if (pids[n] <= 0) {
			continue;
		}
		while (waitpid(pids[n], &st, WNOHANG) == 0) {
			if (now() > deadline || o->fail[0] != '\0') {
				kill(-pids[n], SIGKILL);
				waitpid(pids[n], &st, 0);
				break;
			}
			usleep(10000);
		}
		if (o->fail[0] == '\0' && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
			set_fail(o, "node %u exited with status 0x%x", n, st);
			o->ok = false;
		}
	}
	/* Nothing may be left: a rank that outlived its node is reparented to
	 * us (the subreaper) and still in the node's process group. */
	for (uint32_t n = 0; n < nnodes; n++) {
		if (pids[n] > 0 && kill(-pids[n], 0) == 0) {
			o->leftovers++;
			kill(-pids[n], SIGKILL);
		}
	}
	for (double until = now() + 5; waitpid(-1, NULL, WNOHANG) >= 0 && now() < until;) {
		usleep(10000);
	}
	for (uint32_t n = 0; n < nnodes; n++) {
		char path[300];

		if (socks[n] >= 0) {
			close(socks[n]);
		}
		snprintf(path, sizeof(path), "%s/node%u.out", dir, n);
		o->output = slurp_append(o->output, path);
		snprintf(path, sizeof(path), "%s/node%u.err", dir, n);
		o->errors = slurp_append(o->errors, path);
	}
	for (int f = 0; f < MAX_FENCES; f++) {
		for (uint32_t n = 0; n < MAX_NODES; n++) {
			free(blobs[f][n]);
		}
	}
	rmtree(dir);
	if (o->output == NULL) {
		o->output = strdup("");
	}
	if (o->errors == NULL) {
		o->errors = strdup("");
	}
}

static void run_case(const char *prog, uint32_t nnodes, bool cyclic, struct outcome *o)
{
	run_case_as(prog, nnodes, cyclic, getuid(), getgid(), o);
}

static void outcome_free(struct outcome *o)
{
	free(o->output);
	free(o->errors);
	o->output = o->errors = NULL;
}

/* The outcome of the running case; a failed assertion leaves the test
 * function early, so the teardown frees it. */
static struct outcome the_outcome;

static int teardown(void **state)
{
	(void)state;
	outcome_free(&the_outcome);
	return 0;
}

static void report(const char *what, const struct outcome *o)
{
	printf("# %s: %s in %.2f s\n", what, o->ok ? "done" : "FAILED", o->seconds);
	if (!o->ok || o->leftovers > 0 || getenv("PMIXSRV_TEST_VERBOSE") != NULL) {
		printf("# failure: %s\n# leftovers: %d\n# stdout:\n%s# stderr:\n%s", o->fail,
		       o->leftovers, o->output, o->errors);
	}
}

/* The value of KEY= in LINE (a line of the output), or -1. */
static long field(const char *line, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	return p != NULL ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* Every line starting with PREFIX, one per rank: *LINES[rank]. */
static void lines_by_rank(const char *out, const char *prefix, const char *lines[NTASKS],
			  int *count)
{
	*count = 0;
	for (int i = 0; i < NTASKS; i++) {
		lines[i] = NULL;
	}
	for (const char *p = out; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');

		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			long r = field(p, "rank");

			(*count)++;
			assert_true(r >= 0 && r < NTASKS);
			assert_null(lines[r]); /* each rank once */
			lines[r] = p;
		}
		p = nl != NULL ? nl + 1 : NULL;
	}
}

static void assert_all_exited_zero(const struct outcome *o)
{
	for (int r = 0; r < NTASKS; r++) {
		if (o->status[r] != 0) {
			printf("# rank %d: wait status 0x%x; the ranks' stderr:\n%s", r,
			       o->status[r], o->errors);
		}
		assert_int_equal(o->status[r], 0);
	}
}

static void hello_on(uint32_t nnodes)
{
	const char *lines[NTASKS];
	struct outcome *o = &the_outcome;
	char what[64];
	int n;

	snprintf(what, sizeof(what), "hello, %d ranks on %u nodes", NTASKS, nnodes);
	run_case(MPI_HELLO, nnodes, false, o);
	report(what, o);
	assert_true(o->ok);
	assert_int_equal(o->leftovers, 0);
	assert_all_exited_zero(o);
	lines_by_rank(o->output, "hello ", lines, &n);
	assert_int_equal(n, NTASKS);
	for (int r = 0; r < NTASKS; r++) {
		assert_non_null(lines[r]);
		assert_int_equal(field(lines[r], "size"), NTASKS);
		assert_non_null(strstr(lines[r], " cpus="));
		assert_null(strstr(lines[r], " cpus=?"));
	}
}

static void test_hello_1(void **state)
{
	(void)state;
	hello_on(1);
}

static void test_hello_2(void **state)
{
	(void)state;
	hello_on(2);
}

static void test_hello_4(void **state)
{
	(void)state;
	hello_on(4);
}

static void test_allreduce(void **state)
{
	const char *lines[NTASKS];
	struct outcome *o = &the_outcome;
	int n;

	(void)state;
	run_case(MPI_ALLREDUCE, 4, false, o);
	report("allreduce, 8 ranks on 4 nodes", o);
	assert_true(o->ok);
	assert_int_equal(o->leftovers, 0);
	assert_all_exited_zero(o);
	lines_by_rank(o->output, "allreduce ", lines, &n);
	assert_int_equal(n, NTASKS);
	for (int r = 0; r < NTASKS; r++) {
		assert_non_null(lines[r]);
		assert_int_equal(field(lines[r], "size"), NTASKS);
		assert_int_equal(field(lines[r], "sum"), NTASKS * (NTASKS + 1) / 2);
	}
}

/* Round robin over 2 nodes: every hop of the ring crosses nodes, and the
 * proc map PMIx gets is not in blocks. */
static void test_ring(void **state)
{
	const char *lines[NTASKS];
	struct outcome *o = &the_outcome;
	int n;

	(void)state;
	run_case(MPI_RING, 2, true, o);
	report("ring, 8 ranks round robin on 2 nodes", o);
	assert_true(o->ok);
	assert_int_equal(o->leftovers, 0);
	assert_all_exited_zero(o);
	lines_by_rank(o->output, "ring ", lines, &n);
	assert_int_equal(n, NTASKS);
	for (int r = 0; r < NTASKS; r++) {
		assert_non_null(lines[r]);
		assert_int_equal(field(lines[r], "size"), NTASKS);
		if (r == 0) {
			assert_int_equal(field(lines[r], "back"), NTASKS * (NTASKS - 1) / 2);
		} else {
			assert_int_equal(field(lines[r], "got"), r * (r - 1) / 2);
		}
	}
}

/* A supervisor runs as root and the ranks as the job's user: the step's
 * directory is theirs and PMIx accepts their connections. */
static void test_user(void **state)
{
	const char *lines[NTASKS];
	struct outcome *o = &the_outcome;
	struct passwd *pw = getpwnam("nobody");
	int n;

	(void)state;
	if (getuid() != 0 || pw == NULL) {
		skip();
	}
	run_case_as(MPI_ALLREDUCE, 2, false, pw->pw_uid, pw->pw_gid, o);
	report("allreduce as nobody, 8 ranks on 2 nodes", o);
	assert_true(o->ok);
	assert_int_equal(o->leftovers, 0);
	assert_all_exited_zero(o);
	lines_by_rank(o->output, "allreduce ", lines, &n);
	assert_int_equal(n, NTASKS);
	for (int r = 0; r < NTASKS; r++) {
		assert_int_equal(field(lines[r], "size"), NTASKS);
		assert_int_equal(field(lines[r], "sum"), NTASKS * (NTASKS + 1) / 2);
	}
}

/* Direct modex: the probe fences without collecting data, so each rank's
 * get of the next rank's value (on the other node, round robin) goes
 * through both nodes' hosts.  Open MPI 4.1.4's own asynchronous modex
 * (pmix_base_async_modex=1) cannot show it: it fails over TCP even under
 * its own mpirun. */
static void test_direct_modex(void **state)
{
	const char *lines[NTASKS];
	struct outcome *o = &the_outcome;
	char want[32];
	int n;

	(void)state;
	run_case(PMIX_PROBE, 2, true, o);
	report("PMIx probe with direct modex, 8 ranks round robin on 2 nodes", o);
	printf("# direct modex requests: %d\n", o->ndmodex);
	assert_true(o->ok);
	assert_int_equal(o->leftovers, 0);
	assert_all_exited_zero(o);
	assert_int_equal(o->ndmodex, NTASKS);
	lines_by_rank(o->output, "probe ", lines, &n);
	assert_int_equal(n, NTASKS);
	for (int r = 0; r < NTASKS; r++) {
		assert_non_null(lines[r]);
		assert_int_equal(field(lines[r], "size"), NTASKS);
		assert_int_equal(field(lines[r], "peer"), (r + 1) % NTASKS);
		snprintf(want, sizeof(want), " got=from-%d\n", (r + 1) % NTASKS);
		assert_true(strncmp(strstr(lines[r], " got="), want, strlen(want)) == 0);
	}
}

static void test_abort(void **state)
{
	const char *lines[NTASKS];
	struct outcome *o = &the_outcome;
	struct layout l;
	int n;

	(void)state;
	/* round robin: rank 1 is on node 1, not on the first node */
	make_layout(&l, 4, true);
	run_case(MPI_ABORT_PROG, 4, true, o);
	report("abort, 8 ranks round robin on 4 nodes", o);
	printf("# abort upcall: %d, node %u rank %u status %d: %s\n", o->naborts, o->abort_node,
	       o->abort_rank, o->abort_status, o->abort_msg);
	assert_true(o->ok);
	assert_int_equal(o->naborts, 1);
	assert_int_equal(o->abort_rank, 1);
	assert_int_equal(o->abort_status, 3);
	assert_int_equal(o->abort_node, node_of(&l, 1));
	assert_int_equal(o->leftovers, 0);
	/* every rank got through MPI_Init and learned the size */
	lines_by_rank(o->output, "abort ", lines, &n);
	assert_int_equal(n, NTASKS);
	for (int r = 0; r < NTASKS; r++) {
		assert_int_equal(field(lines[r], "size"), NTASKS);
		/* none finished normally: rank 1 aborted, the others were killed */
		assert_int_not_equal(o->status[r], -1);
		assert_int_not_equal(o->status[r], 0);
	}
}

/* Bad maps and calls are refused with a reason; in a child, as PMIx allows
 * one server per process and the test forks more. */
static int bad_input_child(void)
{
	struct pmixsrv_ops ops = { .fence = on_fence };
	struct event_base *base = event_base_new();
	struct pmixsrv *ps, *ps2;
	char dir[] = "/tmp/pmixsrv_bad.XXXXXX", err[512];
	const char *nodes[2] = { "a", "b" };
	uint32_t r0[] = { 0, 1 }, r1[] = { 1 }, r2[] = { 2 };
	const uint32_t *nr[2] = { r0, r1 };
	uint32_t nn[2] = { 2, 1 };
	struct pmixsrv_map m = { .nspace = "pacer.1.0",
				 .nnodes = 2,
				 .nodes = nodes,
				 .node_ranks = nr,
				 .node_nranks = nn,
				 .ntasks = 3,
				 .uid = getuid(),
				 .gid = getgid() };
	char **env;
	int bad = 0;

#define EXPECT(cond)                                                                             \
	do {                                                                                     \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "line %d: %s failed (err: %s)\n", __LINE__, #cond, err); \
			bad = 1;                                                                 \
		}                                                                                \
	} while (0)

	if (base == NULL || mkdtemp(dir) == NULL) {
		return 1;
	}
	err[0] = '\0';
	EXPECT(pmixsrv_init(base, "relative", &ops, NULL, &ps, err, sizeof(err)) == -1 &&
	       errno == EINVAL);
	EXPECT(pmixsrv_init(base, "/nonexistent/pmixsrv", &ops, NULL, &ps, err, sizeof(err)) ==
		   -1 &&
	       strstr(err, "/nonexistent/pmixsrv") != NULL);
	if (pmixsrv_init(base, dir, &ops, NULL, &ps, err, sizeof(err)) != 0) {
		fprintf(stderr, "pmixsrv_init: %s\n", err);
		return 1;
	}
	EXPECT(pmixsrv_init(base, dir, &ops, NULL, &ps2, err, sizeof(err)) == -1 && errno == EBUSY);
	/* rank 1 on both nodes */
	EXPECT(pmixsrv_register(ps, &m, err, sizeof(err)) == -1 && errno == EINVAL &&
	       strstr(err, "rank 1") != NULL && strstr(err, "node 1 (b)") != NULL);
	nr[1] = r2;
	m.ntasks = 2;
	EXPECT(pmixsrv_register(ps, &m, err, sizeof(err)) == -1 && errno == EINVAL &&
	       strstr(err, "ntasks") != NULL);
	m.ntasks = 3;
	m.this_node = 2;
	EXPECT(pmixsrv_register(ps, &m, err, sizeof(err)) == -1 && strstr(err, "this_node"));
	m.this_node = 1;
	nodes[1] = "b,c";
	EXPECT(pmixsrv_register(ps, &m, err, sizeof(err)) == -1 && strstr(err, "'b,c'"));
	nodes[1] = "b";
	EXPECT(pmixsrv_client_env(ps, 2, &env, err, sizeof(err)) == -1 && strstr(err, "no step"));
	EXPECT(pmixsrv_register(ps, &m, err, sizeof(err)) == 0);
	EXPECT(pmixsrv_register(ps, &m, err, sizeof(err)) == -1 && errno == EBUSY);
	EXPECT(pmixsrv_client_env(ps, 0, &env, err, sizeof(err)) == -1 && errno == EINVAL &&
	       strstr(err, "rank 0 does not run on this node") != NULL);
	if (pmixsrv_client_env(ps, 2, &env, err, sizeof(err)) == 0) {
		bool ns = false, schizo = false, root = false;

		for (char **e = env; *e != NULL; e++) {
			ns |= strcmp(*e, "PMIX_NAMESPACE=pacer.1.0") == 0;
			schizo |= strcmp(*e, "OMPI_MCA_schizo=^orte") == 0;
			root |= strcmp(*e, "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1") == 0;
		}
		EXPECT(ns && schizo && root == (getuid() == 0));
		pmixsrv_env_free(env);
	} else {
		EXPECT(!"pmixsrv_client_env of the local rank");
	}
	/* a step after the step, of a user who is not root */
	pmixsrv_unregister(ps);
	m.nspace = "pacer.1.1";
	m.uid = 65534;
	m.gid = 65534;
	EXPECT(pmixsrv_register(ps, &m, err, sizeof(err)) == 0);
	char stepdir[300];
	struct stat sb;

	snprintf(stepdir, sizeof(stepdir), "%s/pacer.1.1", dir);
	EXPECT(stat(stepdir, &sb) == 0 && sb.st_uid == 65534 && (sb.st_mode & 0777) == 0700);
	if (pmixsrv_client_env(ps, 2, &env, err, sizeof(err)) == 0) {
		for (char **e = env; *e != NULL; e++) {
			EXPECT(strncmp(*e, "OMPI_ALLOW_RUN_AS_ROOT", 22) != 0);
		}
		pmixsrv_env_free(env);
	}
	pmixsrv_unregister(ps);
	EXPECT(stat(stepdir, &sb) != 0 && errno == ENOENT);
	pmixsrv_destroy(ps);
	event_base_free(base);
	rmtree(dir);
	return bad;
#undef EXPECT
}

static void test_bad_input(void **state)
{
	double until = now() + 30;
	pid_t pid;
	int st = -1;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		exit(bad_input_child());
	}
	setpgid(pid, pid);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now() > until) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			fail_msg("bad-input child did not finish in time");
		}
		usleep(10000);
	}
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test_teardown(test_hello_1, teardown),
		cmocka_unit_test_teardown(test_hello_2, teardown),
		cmocka_unit_test_teardown(test_hello_4, teardown),
		cmocka_unit_test_teardown(test_allreduce, teardown),
		cmocka_unit_test_teardown(test_ring, teardown),
		cmocka_unit_test_teardown(test_user, teardown),
		cmocka_unit_test_teardown(test_direct_modex, teardown),
		cmocka_unit_test_teardown(test_abort, teardown),
	};

	/* ranks whose node died come to us, so none escapes the checks */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
