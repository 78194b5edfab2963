/* main.c - pacerctld, the Pacer controller. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "authq.h"
#include "blob.h"
#include "conf.h"
#include "conn.h"
#include "ctld.h"
#include "job.h"
#include "log.h"
#include "pidfile.h"
#include "node.h"
#include "rpc.h"
#include "sched.h"
#include "select.h"
#include "state.h"
#include "step.h"

#define PURGE_INTERVAL_S 30

enum { OPT_SKIP_BAD_RECORDS = 256 }; /* long options without a letter */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: pacerctld [OPTIONS]\n"
	    "The Pacer controller: holds every job and node, schedules, keeps state durable.\n"
	    "\n"
	    "  -c, --conf FILE        configuration (default: $PACER_CONF, then %s)\n"
	    "  -l, --listen HOST:PORT address to serve (default: the first of 'controllers')\n"
	    "  -L, --log FILE         log to FILE instead of stderr\n"
	    "  -v, --log-level LEVEL  error, warn, info or debug (default: from the config)\n"
	    "  -p, --pidfile FILE     write the process id to FILE\n"
	    "      --skip-bad-records start even if journal records cannot be decoded:\n"
	    "                         each is logged, its file kept as .damaged, the job\n"
	    "                         ids it may hold never given; pacer diag lists them\n"
	    "  -h, --help             show this help\n"
	    "  -V, --version          show the version\n"
	    "\n"
	    "Runs in the foreground; SIGTERM or SIGINT stop it cleanly, SIGHUP reopens the log.\n",
	    CONF_DEFAULT_PATH);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("caught %s: stopping", strsignal((int)sig));
	event_base_loopbreak(arg);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (log_reopen() < 0)
		log_err("cannot reopen the log: %s", strerror(errno));
}

static void on_purge(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	state_purge();
}

static int parse_listen(const char *s, char **host, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	if (!colon || colon == s)
		return -1;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p <= 0 || p > 65535)
		return -1;
	const char *h = s;
	size_t len = (size_t)(colon - s);
	if (h[0] == '[' && len >= 2 && h[len - 1] == ']') {
		h++;
		len -= 2;
	}
	*host = strndup(h, len);
	*port = (uint16_t)p;
	return *host ? 0 : -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "conf", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "log", required_argument, NULL, 'L' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "skip-bad-records", no_argument, NULL, OPT_SKIP_BAD_RECORDS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *confopt = NULL, *listen = NULL, *logfile = NULL, *level = NULL;
	const char *pidfile = NULL;
	bool skip_bad_records = false;
	int c, rc = 1;
	while ((c = getopt_long(argc, argv, "c:l:L:v:p:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': confopt = optarg; break;
		case 'l': listen = optarg; break;
		case 'L': logfile = optarg; break;
		case 'v': level = optarg; break;
		case 'p': pidfile = optarg; break;
		case OPT_SKIP_BAD_RECORDS: skip_bad_records = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("pacerctld %s\n", PACER_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pacerctld: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	char err[1024];
	const char *path = conf_path(confopt);
	if (conf_load(path, &ctld.conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "pacerctld: %s\n", err);
		return 1;
	}
	enum log_level lvl;
	if (log_level_parse(level ? level : ctld.conf->log_level, &lvl) < 0) {
		fprintf(stderr, "pacerctld: invalid log level '%s' (error, warn, info, debug)\n",
			level);
		goto out;
	}
	log_init("pacerctld", lvl);
	if (logfile && log_open(logfile) < 0) {
		fprintf(stderr, "pacerctld: cannot open log %s: %s\n", logfile, strerror(errno));
		goto out;
	}
	ctld.select = select_find(ctld.conf->select);
	if (!ctld.select) {
		log_err("%s: unknown select plugin '%s' (available: %s)", path, ctld.conf->select,
			select_names());
		goto out;
	}
	struct passwd *pw = getpwnam(ctld.conf->daemon_user);
	if (!pw) {
		log_err("%s: daemon_user '%s' does not exist on this machine", path,
			ctld.conf->daemon_user);
		goto out;
	}
	ctld.daemon_uid = pw->pw_uid;
	if (listen) {
		if (parse_listen(listen, &ctld.listen_host, &ctld.listen_port) < 0) {
			log_err("invalid --listen '%s' (expected HOST:PORT)", listen);
			goto out;
		}
	} else {
		ctld.listen_host = strdup(ctld.conf->controllers[0].host);
		ctld.listen_port = ctld.conf->controllers[0].port;
	}
	signal(SIGPIPE, SIG_IGN);
	ctld.started = ctld_now();

	ctld.base = event_base_new();
	ctld.auth = auth_create(ctld.conf->munge_socket);
	ctld.authq = ctld.base ? authq_create(ctld.base, ctld.conf->munge_socket) : NULL;
	if (!ctld.base || !ctld.auth || !ctld.authq) {
		log_err("cannot initialise: %s", strerror(errno));
		goto out;
	}
	if (node_table_init() < 0 || state_recover(skip_bad_records) < 0 || sched_init() < 0 ||
	    rpc_listen(ctld.listen_host, ctld.listen_port) < 0 || node_links_start() < 0)
		goto out;

	struct event *sigterm = evsignal_new(ctld.base, SIGTERM, on_stop, ctld.base);
	struct event *sigint = evsignal_new(ctld.base, SIGINT, on_stop, ctld.base);
	struct event *sighup = evsignal_new(ctld.base, SIGHUP, on_hup, NULL);
	struct event *purge = event_new(ctld.base, -1, EV_PERSIST, on_purge, NULL);
	struct timeval tv = { PURGE_INTERVAL_S, 0 };
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	evsignal_add(sighup, NULL);
	event_add(purge, &tv);

	if (pidfile) {
		if (pidfile_write(pidfile) < 0) {
			log_err("cannot write pidfile %s: %s", pidfile, strerror(errno));
			goto out;
		}
	}
	log_info("pacerctld %s started: cluster %s, %zu nodes, %zu jobs, epoch %llu", PACER_VERSION,
		 ctld.conf->cluster, node_count(), job_count(), (unsigned long long)ctld.epoch);
	step_init();
	sched_request();
	event_base_dispatch(ctld.base);

	rpc_shutdown();
	/* Jobs in flight refer to connections: stop the queue before those go. */
	authq_destroy(ctld.authq);
	ctld.authq = NULL;
	conn_close_all();
	step_shutdown();
	node_table_destroy();
	sched_destroy();
	state_shutdown();
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_free(purge);
	if (pidfile)
		unlink(pidfile);
	log_info("stopped");
	rc = 0;
out:
	job_table_destroy();
	authq_destroy(ctld.authq);
	auth_destroy(ctld.auth);
	if (ctld.base)
		event_base_free(ctld.base);
	free(ctld.listen_host);
	conf_destroy(ctld.conf);
	return rc;
}
