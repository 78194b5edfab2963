/* conf_keys.c - the tables of pacer.conf's keys (see conf_keys.h). */
#include "conf_keys.h"

#include <string.h>

#include "conf.h"
#include "hostlist.h"

#define STR(x)  #x
#define XSTR(x) STR(x)

#define CPUS_MAX 1048576
#define GPUS_MAX 1024

#define F(field)  offsetof(struct conf, field)
#define PF(field) offsetof(struct conf_partition, field)
#define NO        CONF_NO_FIELD
#define U32       UINT32_MAX

static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const confines[] = { "auto", "cgroup", "none", NULL };

/* The order of each table is the order of the "valid:" list in errors. */
static const struct conf_key cluster_keys[] = {
	{ "name", CONF_WORD, NULL, "required", 0, 0, NULL, NO,
	  "The cluster's name: every handshake and munge credential is bound to it." },
	{ "controllers", CONF_CONTROLLERS, NULL, "required", 0, 0, NULL, NO,
	  "The controllers' addresses, port " XSTR(
	      CONF_DEFAULT_PORT) " when omitted; pacerctld listens on the first, pacer tries them in order." },
	{ "state_dir", CONF_PATH, "/var/lib/pacer", NULL, 0, 0, NULL, F(state_dir),
	  "The controller's snapshots and journal; one controller at a time holds it." },
	{ "spool_dir", CONF_SPOOL, "/var/spool/pacer/%n", NULL, 0, 0, NULL, NO,
	  "Where node daemons keep job records and spooled scripts; %n is the node name." },
	{ "munge_socket", CONF_PATH, NULL, "libmunge's default", 0, 0, NULL, F(munge_socket),
	  "The munged socket every program uses." },
	{ "heartbeat_interval", CONF_SECONDS, "5", NULL, 1, 0, NULL, F(heartbeat_interval),
	  "How often a node daemon sends a heartbeat to the controller." },
	{ "node_timeout", CONF_SECONDS, "30", NULL, 1, 0, NULL, F(node_timeout),
	  "Silence after which a node becomes SUSPECT; longer than heartbeat_interval." },
	{ "min_job_age", CONF_SECONDS, "600", NULL, 0, 0, NULL, F(min_job_age),
	  "How long a finished job stays listed." },
	{ "kill_wait", CONF_SECONDS, "30", NULL, 0, 0, NULL, F(kill_wait),
	  "Time between SIGTERM and SIGKILL on cancel and at the time limit." },
	{ "snapshot_interval", CONF_COUNT, "10000", NULL, 1, U32, NULL, F(snapshot_interval),
	  "Journal records between two snapshots of the controller's state." },
	{ "admins", CONF_USERS, NULL, "none", 0, 0, NULL, NO,
	  "Users who may cancel, signal, hold and release any job (root always may)." },
	{ "daemon_user", CONF_NAME, "root", NULL, 0, 0, NULL, F(daemon_user),
	  "The user the daemons must prove to each other with munge (root is always accepted)." },
	{ "select", CONF_NAME, "topology", NULL, 0, 0, NULL, F(select),
	  "The node selection plugin; only topology exists." },
	{ "log_level", CONF_CHOICE, "info", NULL, 0, 0, log_levels, F(log_level),
	  "The daemons' log verbosity; their --log-level overrides it." },
	{ "confine", CONF_CHOICE, "auto", NULL, 0, 0, confines, F(confine),
	  "Confine jobs in cgroups where usable (auto), always (cgroup) or never (none)." },
	{ "priority_weight_age", CONF_COUNT, "1000", NULL, 0, U32, NULL, F(priority_weight_age),
	  "Weight of a pending job's age in its priority." },
	{ "priority_weight_size", CONF_COUNT, "1000", NULL, 0, U32, NULL, F(priority_weight_size),
	  "Weight of a job's size (its CPUs against its partition's) in its priority." },
	{ "priority_weight_partition", CONF_COUNT, "10000", NULL, 0, U32, NULL,
	  F(priority_weight_partition), "Weight of the job's partition priority in its priority." },
	{ "priority_max_age", CONF_SPAN, "7-00:00:00", NULL, 0, 0, NULL, F(priority_max_age),
	  "Waiting this long gives a job the whole age weight." },
	{ "backfill", CONF_BOOL, "yes", NULL, 0, 0, NULL, F(backfill),
	  "Start lower-priority jobs early when they delay no reservation." },
	{ "backfill_reservations", CONF_COUNT, "1", NULL, 1, U32, NULL, F(backfill_reservations),
	  "How many of the highest-priority blocked jobs get a reservation (1 is EASY backfill)." },
	{ "backfill_window", CONF_SPAN, "1-00:00:00", NULL, 0, 0, NULL, F(backfill_window),
	  "How far ahead start times are planned." },
	{ "sched_max_jobs", CONF_COUNT, "10000", NULL, 1, U32, NULL, F(sched_max_jobs),
	  "Pending jobs looked at per scheduling pass, highest priority first." },
};

static const struct conf_key nodes_keys[] = {
	/* max: the nodes of all groups together. */
	{ "names", CONF_HOSTLIST, NULL, "required", 1, HOSTLIST_MAX, NULL, NO,
	  "The nodes' names; each in one group only, and at most " XSTR(
	      HOSTLIST_MAX) " nodes in all groups together." },
	{ "address", CONF_ADDRESS, NULL, "the node names", 0, 0, NULL, NO,
	  "Where each node daemon listens: one address for all, a hostlist as long as names, "
	  "or one IPv6 address." },
	{ "port", CONF_PORTS, "6818", NULL, 0, 0, NULL, NO,
	  "One port for all the nodes, or a range A-B with one port per name." },
	{ "cpus", CONF_COUNT, NULL, "as the node reports", 1, CPUS_MAX, NULL, NO,
	  "CPUs the scheduler may allocate on each node." },
	{ "memory", CONF_SIZE, NULL, "as the node reports", 0, 0, NULL, NO,
	  "Memory the scheduler may allocate on each node (above 0)." },
	{ "spool_dir", CONF_SPOOL, NULL, "[cluster] spool_dir", 0, 0, NULL, NO,
	  "The group's own spool_dir." },
	{ "topology", CONF_TOPOLOGY, NULL, "discovered", 0, 0, NULL, NO,
	  "A machine the nodes emulate: an hwloc XML file (relative to pacer.conf's folder) "
	  "or a synthetic description." },
	{ "gpus", CONF_COUNT, "0", NULL, 0, GPUS_MAX, NULL, NO,
	  "GPUs of each node when hwloc finds none." },
	{ "features", CONF_FEATURES, NULL, "none", 0, 0, NULL, NO,
	  "Node features for --constraint; at most " XSTR(
	      CONF_FEATURES_MAX) " distinct ones in a cluster." },
};

static const struct conf_key partition_keys[] = {
	{ "nodes", CONF_HOSTLIST, NULL, "every node", 0, 0, NULL, NO,
	  "The partition's nodes; a node may be in several partitions." },
	{ "default", CONF_BOOL, "no", NULL, 0, 0, NULL, PF(is_default),
	  "Jobs without --partition go here; when no partition says yes, the first one." },
	{ "default_time", CONF_TIMELIMIT, NULL, "max_time", 0, 0, NULL, NO,
	  "Time limit of jobs submitted without --time; at most max_time." },
	{ "max_time", CONF_TIMELIMIT, "UNLIMITED", NULL, 0, 0, NULL, NO,
	  "The longest time limit a job may ask for." },
	{ "max_nodes", CONF_COUNT, "0", NULL, 0, HOSTLIST_MAX, NULL, PF(max_nodes),
	  "The most nodes a job may ask for; 0 is no limit." },
	{ "priority", CONF_COUNT, "0", NULL, 0, U32, NULL, PF(priority),
	  "The partition's weight in its jobs' priority; higher goes first." },
	{ "allow_users", CONF_USERS, NULL, "everyone", 0, 0, NULL, NO,
	  "Who may submit here, with allow_groups; with neither key, everyone may." },
	{ "allow_groups", CONF_GROUPS, NULL, "everyone", 0, 0, NULL, NO,
	  "Groups whose members may submit here." },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const struct conf_section_def conf_sections[CONF_NSECTS] = {
	{ "cluster", "The cluster as a whole; required, exactly once.", cluster_keys,
	  N(cluster_keys) },
	{ "nodes:GROUP", "A group of nodes sharing their settings; at least one.", nodes_keys,
	  N(nodes_keys) },
	{ "partition:NAME", "A queue of jobs over some nodes, with its limits; optional.",
	  partition_keys, N(partition_keys) },
};

const struct conf_key *conf_key_find(enum conf_sect sect, const char *name)
{
	const struct conf_section_def *s = &conf_sections[sect];

	for (size_t i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].name, name) == 0)
			return &s->keys[i];
	return NULL;
}

const char *conf_type_name(enum conf_type type)
{
	switch (type) {
	case CONF_WORD: return "word";
	case CONF_CONTROLLERS: return "host[:port],...";
	case CONF_PATH: return "path";
	case CONF_SPOOL: return "path";
	case CONF_SECONDS: return "seconds";
	case CONF_COUNT: return "number";
	case CONF_SPAN: return "duration";
	case CONF_TIMELIMIT: return "duration";
	case CONF_BOOL: return "yes|no";
	case CONF_NAME: return "name";
	case CONF_CHOICE: return "word";
	case CONF_USERS: return "user,...";
	case CONF_GROUPS: return "group,...";
	case CONF_HOSTLIST: return "hostlist";
	case CONF_ADDRESS: return "address";
	case CONF_PORTS: return "port[-port]";
	case CONF_SIZE: return "size";
	case CONF_TOPOLOGY: return "topology";
	case CONF_FEATURES: return "feature,...";
	}
	return "value";
}
