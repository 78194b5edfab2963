/* main.c - pacernoded, the node daemon: one per compute node.
 *
 * Runs in the foreground (systemd Type=simple, KillMode=process).  Start-up:
 * configuration, this node's identity, the listening socket, then the jobs
 * an earlier run left (their supervisors are attached to again); after that
 * everything happens on one libevent loop: controller messages (link.c),
 * supervisors (jobs.c), timers.  Each job runs under its own supervisor
 * process, so SIGTERM stops the daemon alone: its jobs go on, and the next
 * daemon picks them up (stop them with `pacer cancel`, or drain the node).
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "bind.h"
#include "conf.h"
#include "confine.h"
#include "jobs.h"
#include "log.h"
#include "pidfile.h"
#include "noded.h"
#include "strfmt.h"
#include "topo.h"
#include "topocheck.h"
#include "track.h"

struct opts {
	const char *conf;
	const char *name;
	const char *log;
	const char *pidfile;
	const char *level;
};

static struct noded nd;
static bool pidfile_written;
static bool port_held; /* we are this node's daemon: its cgroups are ours */
static struct event *sig_ev[4];

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pacernoded [OPTIONS]\n"
		"The Pacer node daemon: launches and watches the jobs of one compute node.\n"
		"\n"
		"  -c, --conf FILE        configuration file (default: $PACER_CONF or %s)\n"
		"  -n, --name NODE        this node's name in the configuration\n"
		"                         (default: the short host name)\n"
		"  -L, --log FILE         log to FILE instead of stderr\n"
		"  -p, --pidfile FILE     write the daemon's pid to FILE\n"
		"  -v, --log-level LEVEL  error, warn, info or debug (default: log_level\n"
		"                         of the configuration)\n"
		"  -h, --help             show this help and exit\n"
		"  -V, --version          show the version and exit\n",
		CONF_DEFAULT_PATH);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "conf", required_argument, NULL, 'c' },
		{ "name", required_argument, NULL, 'n' },
		{ "log", required_argument, NULL, 'L' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:n:L:p:v:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->conf = optarg; break;
		case 'n': o->name = optarg; break;
		case 'L': o->log = optarg; break;
		case 'p': o->pidfile = optarg; break;
		case 'v': o->level = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("pacernoded %s\n", PACER_VERSION); exit(0);
		default:
			/* getopt named the option; a usage error exits 2, as in pacerctld */
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"pacernoded: unexpected argument '%s' (it takes options only; "
			"see --help)\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

/* Identity ----------------------------------------------------------------*/

static void read_boot_id(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)size, f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, " \t\r\n")] = '\0';
	if (!buf[0])
		log_warn("cannot read /proc/sys/kernel/random/boot_id: the controller will not "
			 "notice reboots of this node");
}

static int make_daemon_id(char *buf, size_t size)
{
	uint8_t raw[16];
	size_t n = 0;

	if (size < 2 * sizeof(raw) + 1) {
		errno = EINVAL;
		return -1;
	}
	while (n < sizeof(raw)) {
		ssize_t r = getrandom(raw + n, sizeof(raw) - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		n += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* This node's name: --name, else the host name up to its first dot. */
static int pick_name(const char *opt, const char *conf_path)
{
	if (opt)
		snprintf(nd.name, sizeof(nd.name), "%s", opt);
	else
		snprintf(nd.name, sizeof(nd.name), "%.*s", (int)strcspn(nd.hostname, "."),
			 nd.hostname);
	nd.node = conf_node_find(nd.conf, nd.name);
	if (!nd.node) {
		fprintf(stderr,
			"pacernoded: node '%s' is not defined in %s (add it to a "
			"[nodes:...] section, or pass --name)\n",
			nd.name, conf_path);
		return -1;
	}
	return 0;
}

static void find_daemon_uid(void)
{
	const char *user = nd.conf->daemon_user;
	struct passwd *pw;

	if (!user || !*user)
		return;
	pw = getpwnam(user);
	if (!pw) {
		log_warn("daemon_user '%s' is not a user on this node: only root may act as the "
			 "controller",
			 user);
		return;
	}
	nd.daemon_uid = pw->pw_uid;
	nd.have_daemon_uid = true;
}

/* Files -------------------------------------------------------------------*/

/* Make DIR and its missing parents, 0755, as launch.c expects the spool. */
static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = path + 1;; p++) {
		char c = *p;
		if (c && c != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == 0)
			chmod(path, 0755); /* whatever the umask */
		else if (errno != EEXIST)
			return -1;
		if (!c)
			break;
		*p = c;
	}
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Signals and shutdown ----------------------------------------------------*/

static void stopped(struct noded *n)
{
	log_info("node daemon stopped");
	event_base_loopbreak(n->base);
}

static void begin_stop(int sig)
{
	if (nd.stopping) {
		log_info("got %s while stopping", strsignal(sig));
		return;
	}
	nd.stopping = true;
	size_t n = jobs_count(nd.jobs);
	if (n)
		log_info("got %s: stopping; %zu job%s keep%s running under %s supervisor%s",
			 strsignal(sig), n, strfmt_s(n), n == 1 ? "s" : "", n == 1 ? "its" : "their",
			 strfmt_s(n));
	else
		log_info("got %s: stopping", strsignal(sig));
	link_stop_listening(&nd);
	jobs_detach_all(nd.jobs);
	link_finish(&nd, stopped);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	switch (sig) {
	case SIGCHLD: jobs_reap(nd.jobs); break;
	case SIGHUP:
		if (log_reopen() < 0)
			log_err("cannot reopen the log file: %s", strerror(errno));
		else
			log_info("log file reopened");
		break;
	default: begin_stop((int)sig); break;
	}
}

static int add_signals(void)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };

	/* A peer that vanished must not kill us through write().  launch.c
	 * resets every disposition in the job, so jobs do not inherit this. */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sig_ev[i] = evsignal_new(nd.base, sigs[i], on_signal, NULL);
		if (!sig_ev[i] || evsignal_add(sig_ev[i], NULL) < 0)
			return -1;
	}
	return 0;
}

/* Start-up ----------------------------------------------------------------*/

static int set_log(const struct opts *o)
{
	const char *level = o->level ? o->level : nd.conf->log_level;
	enum log_level lv = LOG_INFO;

	if (level && log_level_parse(level, &lv) < 0) {
		fprintf(stderr, "pacernoded: bad log level '%s' (use error, warn, info or debug)\n",
			level);
		return -1;
	}
	log_init("pacernoded", lv);
	if (o->log && log_open(o->log) < 0) {
		fprintf(stderr, "pacernoded: cannot open log file %s: %s\n", o->log,
			strerror(errno));
		return -1;
	}
	/* Supervisors log where we do, at our level. */
	if (o->log && o->log[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)) &&
		    strfmt_path(nd.log_path, sizeof(nd.log_path), "%s/%s", cwd, o->log) < 0)
			nd.log_path[0] = '\0';
	} else if (o->log) {
		snprintf(nd.log_path, sizeof(nd.log_path), "%s", o->log);
	}
	static const char *const names[] = { "error", "warn", "info", "debug" };
	snprintf(nd.log_level, sizeof(nd.log_level), "%s", names[lv]);
	return 0;
}

/* As conf.c tells files from synthetic descriptions. */
static bool names_file(const char *spec)
{
	size_t len = strlen(spec);

	return strchr(spec, '/') || (len >= 4 && strcasecmp(spec + len - 4, ".xml") == 0);
}

/* The hardware this node reports: the machine pacer.conf says to emulate,
 * else what hwloc discovers; and this machine itself, for binding. */
static int load_topology(const char *conf_path)
{
	const char *spec = nd.node->topology;
	const struct topo_layout *l;
	char err[1024];

	nd.emulated = spec && *spec;
	if (nd.emulated && names_file(spec) && access(spec, R_OK) < 0) {
		log_err("cannot read the topology file %s of node %s: %s (fix topology in %s)",
			spec, nd.name, strerror(errno), conf_path);
		return -1;
	}
	/* hwloc's XML import can crash on a malformed file: try it aside first.
	 * Without the helper, load it anyway: the file is the admin's. */
	if (nd.emulated && names_file(spec) &&
	    topo_check_file(spec, nd.node->gpus, err, sizeof(err)) < 0) {
		if (errno == EINVAL) {
			log_err("node %s: topology = %s in %s: %s", nd.name, spec, conf_path, err);
			return -1;
		}
		log_warn("node %s: topology %s not checked before loading: %s", nd.name, spec, err);
	}
	if (topo_load(nd.emulated ? spec : NULL, nd.node->gpus, &nd.topo, err, sizeof(err)) < 0) {
		if (nd.emulated)
			log_err("node %s: topology = %s in %s: %s", nd.name, spec, conf_path, err);
		else
			log_err("node %s: %s", nd.name, err);
		return -1;
	}
	if (bind_init(nd.emulated, &nd.bind, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	if (bind_export(nd.bind, &nd.machine_xml, &nd.machine_xml_len) < 0)
		log_warn("cannot export this machine's topology for the supervisors (%s): each "
			 "discovers it again",
			 strerror(errno));
	if (topo_export(nd.topo, &nd.topo_xml, &nd.topo_xml_len) < 0) {
		log_err("cannot export the topology of node %s: %s", nd.name, strerror(errno));
		return -1;
	}
	l = topo_layout(nd.topo);
	nd.cpus = l->npus;
	nd.mem_mb = l->mem_mb ? l->mem_mb : bind_mem_mb(nd.bind);
	log_info("topology %s: %u packages, %u NUMA domains, %u cores, %u PUs, %u GPUs, "
		 "%llu MiB (hash %s)",
		 topo_source(nd.topo), l->npackages, l->ndomains, l->ncores, l->npus, l->ngpus,
		 (unsigned long long)nd.mem_mb, topo_hash(nd.topo));
	if (nd.emulated)
		log_info("emulated node: jobs are bound to this machine's %u PUs and %u NUMA "
			 "nodes (emulated PU i on real PU i mod %u, NUMA node j on j mod %u)",
			 bind_npus(nd.bind), bind_nnumas(nd.bind), bind_npus(nd.bind),
			 bind_nnumas(nd.bind) ? bind_nnumas(nd.bind) : 1);
	return 0;
}

/* Who and what this node is: configuration, name, log, spool, identity. */
static int setup_node(const struct opts *o)
{
	const char *path = conf_path(o->conf);
	char err[1024];

	if (conf_load(path, &nd.conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "pacernoded: %s\n", err);
		return -1;
	}
	if (gethostname(nd.hostname, sizeof(nd.hostname) - 1) < 0)
		snprintf(nd.hostname, sizeof(nd.hostname), "localhost");
	if (pick_name(o->name, path) < 0 || set_log(o) < 0)
		return -1;
	snprintf(nd.spool_dir, sizeof(nd.spool_dir), "%s", nd.node->spool_dir);
	if (nd.spool_dir[0] != '/' || mkdir_p(nd.spool_dir) < 0) {
		log_err("cannot use the spool directory %s: %s (spool_dir in %s must be an "
			"absolute path root can create)",
			nd.spool_dir, nd.spool_dir[0] == '/' ? strerror(errno) : "not absolute",
			path);
		return -1;
	}
	read_boot_id(nd.boot_id, sizeof(nd.boot_id));
	if (make_daemon_id(nd.daemon_id, sizeof(nd.daemon_id)) < 0) {
		log_err("cannot draw random bytes: %s", strerror(errno));
		return -1;
	}
	if (load_topology(path) < 0)
		return -1;
	find_daemon_uid();
	return 0;
}

/* The name of this daemon's cgroup subtree: the node name alone is not
 * enough, as two clusters on one machine (tests, demos) may both have a
 * "node1" and would then signal and kill each other's jobs of the same id.
 * The spool directory is this daemon's own and the same at every restart. */
static void track_key(char *buf, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = nd.spool_dir; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	snprintf(buf, len, "%s.%08x", nd.name, (unsigned)h);
}

/* The loop and what it serves; the spool left by an earlier run. */
static int setup_loop(const struct opts *o)
{
	char err[1024];

	nd.auth = auth_create(nd.conf->munge_socket);
	if (!nd.auth) {
		log_err("cannot set up munge authentication: %s", strerror(errno));
		return -1;
	}
	nd.base = event_base_new();
	nd.jobs = nd.base ? jobs_create(&nd) : NULL;
	if (!nd.jobs || add_signals() < 0) {
		log_err("cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	/* The port is this node's lock: a second daemon started by mistake must
	 * fail here, before it touches the pid file or the first one's jobs.
	 * Nobody is served before the loop runs, after the recovery. */
	if (link_start(&nd, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	port_held = true;
	/* Only once the port is ours: a daemon started twice by mistake must
	 * not touch the first one's cgroups, nor leave folders behind. */
	track_key(nd.cgroup_key, sizeof(nd.cgroup_key));
	track_init(nd.cgroup_key);
	if (confine_init(nd.conf->confine, nd.cgroup_key, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return -1;
	}
	if (o->pidfile && pidfile_write(o->pidfile) < 0) {
		log_err("cannot write the pid file %s: %s", o->pidfile, strerror(errno));
		return -1;
	}
	pidfile_written = o->pidfile != NULL;
	if (jobs_recover(nd.jobs) < 0) {
		log_err("cannot read the spool directory %s: %s", nd.spool_dir, strerror(errno));
		return -1;
	}
	log_info("node %s (%u cpus, %llu MiB) of cluster %s started, version %s, daemon id %s",
		 nd.name, nd.cpus, (unsigned long long)nd.mem_mb, nd.conf->cluster, PACER_VERSION,
		 nd.daemon_id);
	return 0;
}

static void teardown(const struct opts *o)
{
	bool idle = !nd.jobs || jobs_count(nd.jobs) == 0;

	link_destroy(&nd);
	jobs_destroy(nd.jobs);
	for (size_t i = 0; i < sizeof(sig_ev) / sizeof(sig_ev[0]); i++)
		if (sig_ev[i])
			event_free(sig_ev[i]);
	if (nd.base)
		event_base_free(nd.base);
	if (nd.auth)
		auth_destroy(nd.auth);
	if (pidfile_written)
		unlink(o->pidfile);
	/* Our empty cgroup subtrees go; with supervisors left, they stay. */
	if (port_held && idle) {
		confine_fini();
		track_fini();
	}
	topo_destroy(nd.topo);
	free(nd.topo_xml);
	bind_destroy(nd.bind);
	free(nd.machine_xml);
	conf_destroy(nd.conf);
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int rc = 1;

	log_init("pacernoded", LOG_INFO);
	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (setup_node(&o) == 0 && setup_loop(&o) == 0 && event_base_dispatch(nd.base) >= 0)
		rc = 0;
	teardown(&o);
	return rc;
}
