/* conf.h - pacer.conf, the one configuration file of a cluster.
 *
 * An INI file (parsed with inih) shared by the controller, every node daemon
 * and the CLI, with the sections [cluster], [nodes:GROUP] (names is a
 * hostlist) and [partition:NAME].  Their keys, with types, defaults and
 * bounds, are the tables of conf_keys.h: the parser accepts exactly those.
 *
 * See docs/configuration.md and pacer.conf(5) for every key.  The file is
 * found through --conf, then $PACER_CONF, then /etc/pacer/pacer.conf
 * (conf_path()).
 */
#ifndef PACER_CONF_H
#define PACER_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define CONF_DEFAULT_PATH "/etc/pacer/pacer.conf"
#define CONF_DEFAULT_PORT 6817
#define CONF_FEATURES_MAX 32 /* distinct node features: one bit each in a mask */

struct conf_addr {
	char *host;
	uint16_t port;
};

struct conf_node {
	char *name;
	char *address;
	uint16_t port;
	uint32_t cpus;         /* 0 = as the node reports (hwloc) */
	uint64_t mem_mb;       /* 0 = as the node reports (hwloc) */
	char *spool_dir;       /* %n already replaced by the node name */
	char *topology;        /* NULL = discover; an hwloc XML file (a relative path
				* already made relative to pacer.conf's folder) or an
				* hwloc synthetic description: the node emulates it */
	uint32_t gpus;         /* GPUs when hwloc finds none (0 = none) */
	uint32_t feature_mask; /* bit i = conf->features[i] */
};

struct conf_partition {
	char *name;
	bool is_default;
	uint32_t default_time; /* seconds; TIMEFMT_UNLIMITED for none */
	uint32_t max_time;     /* seconds; TIMEFMT_UNLIMITED for none */
	uint32_t max_nodes;    /* 0 = no limit */
	uint32_t priority;
	size_t nnodes;
	size_t *nodes;       /* indexes into conf->nodes */
	char **allow_users;  /* who may submit here; none listed (and no */
	size_t nallow_users; /* groups listed) = everyone */
	char **allow_groups;
	size_t nallow_groups;
};

struct conf {
	char *path; /* the file this came from */
	char *cluster;
	struct conf_addr *controllers;
	size_t ncontrollers;
	char *state_dir;
	char *munge_socket;          /* NULL = libmunge's default */
	uint32_t heartbeat_interval; /* seconds */
	uint32_t node_timeout;       /* seconds without a heartbeat before SUSPECT */
	uint32_t min_job_age;        /* seconds a finished job stays listed */
	uint32_t kill_wait;          /* seconds between SIGTERM and SIGKILL */
	uint32_t snapshot_interval;  /* journal records between snapshots */
	char **admins;               /* user names allowed to act on any job */
	size_t nadmins;
	char *daemon_user; /* who daemons run as (munge uid they prove) */
	char *select;      /* select plugin name */
	char *log_level;
	char *confine; /* "auto", "cgroup" or "none" */
	/* The scheduler: job priority = age + size + partition factors, each
	 * a fraction of its weight; backfill around reservations. */
	uint32_t priority_weight_age;
	uint32_t priority_weight_size;
	uint32_t priority_weight_partition;
	uint32_t priority_max_age;      /* seconds of waiting that give the whole age weight */
	bool backfill;                  /* start lower-priority jobs that delay no reservation */
	uint32_t backfill_reservations; /* blocked jobs, highest priority first, that get one */
	uint32_t backfill_window;       /* seconds ahead that start times are planned */
	uint32_t sched_max_jobs;        /* pending jobs looked at per pass */
	char **features;                /* distinct node features, in file order */
	size_t nfeatures;
	struct conf_node *nodes;
	size_t nnodes;
	struct conf_partition *partitions;
	size_t npartitions;
};

/* The path to use: OPT when given, else $PACER_CONF, else the default. */
const char *conf_path(const char *opt);

/* Parse PATH.  0 with *CONFP set, or -1 with errno and ERR holding
 * "FILE:LINE: what is wrong (how to fix it)" (or "FILE: ..." when the
 * problem is not on one line).  Unknown sections and keys are errors, so a
 * typo never goes unnoticed. */
int conf_load(const char *path, struct conf **confp, char *err, size_t errlen);

void conf_destroy(struct conf *conf);

/* The node called NAME, or NULL. */
const struct conf_node *conf_node_find(const struct conf *conf, const char *name);

/* Index of the node called NAME, or -1. */
long conf_node_index(const struct conf *conf, const char *name);

/* The partition called NAME (NULL or "" = the default one), or NULL. */
const struct conf_partition *conf_partition_find(const struct conf *conf, const char *name);

/* Index of the node feature NAME in conf->features (its bit in a node's
 * feature_mask), or -1 when no node has it. */
long conf_feature_index(const struct conf *conf, const char *name);

/* True when USER may act on any job (root is always an admin). */
bool conf_is_admin(const struct conf *conf, const char *user);

/* Parse a memory size: "512" (MiB), "512M", "4G", "1T".  0 or -1 (EINVAL). */
int conf_parse_mem(const char *s, uint64_t *mb);

#endif
