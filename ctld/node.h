/* node.h - the controller's node table and its links to node daemons.
 *
 * The controller connects to every configured node daemon (conf address and
 * port), proves itself with munge and checks the daemon's proof in return.
 * A node becomes UP when it registers, and then heartbeats; registration is
 * also when the controller and the node agree on which jobs run there:
 * ended jobs are recorded, jobs the node never received go back to the
 * queue, and jobs the controller does not know there are killed.
 */
#ifndef PACER_NODE_H
#define PACER_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pacer.pb-c.h"
#include "select.h"

struct job;

struct node {
	struct select_node res; /* what the select plugin sees */
	struct topo *topo;      /* from topocache, NULL until it registers */
	char topo_hash[24];
	char topo_source[128];
	uint32_t index;
	Pacer__NodeState state;
	char reason[160];
	struct conn *link; /* connecting or connected, or NULL */
	bool registered;   /* the link is up and the node registered */
	char boot_id[64];
	char version[32];
	int64_t last_heard;     /* wall clock, for people */
	uint64_t last_heard_ms; /* monotonic, for timeouts */
	struct event *retry;
	int backoff_ms;
	/* A registration waiting for its topology's check (topocache.h). */
	struct topocache_wait *topo_wait;
	Pacer__NodeRegister *pending_reg; /* a copy: the message is gone by then */
};

/* Build the table from the config (no connections yet).  0 or -1. */
int node_table_init(void);

/* Start connecting to every node and the heartbeat watch. */
int node_links_start(void);

/* Close every link and free the table. */
void node_table_destroy(void);

size_t node_count(void);
struct node *node_at(size_t i);

/* Index of the node called NAME, or -1. */
long node_index(const char *name);
const char *node_name_at(uint32_t i);

struct topo;

/* Node N registered with topology T (a topocache reference, which N now
 * owns) and REPORTED_MEM_MB of memory: adopt the layout, recount the jobs
 * that run there and mark it UP.  0 or -1 (ENOMEM; T is released). */
int node_bring_up(struct node *n, struct topo *t, uint64_t reported_mem_mb);

/* Count J's allocation on its nodes (ADD) or give it back.  A node whose
 * topology is not known yet is charged when it registers. */
void node_charge(struct job *j, bool add);

/* PU indexes (into N's layout) of the os-index list CPUSET, into *PUS
 * (malloc'd).  0, or -1 with errno (EINVAL: not a list, or a PU the node
 * does not have). */
int node_cpuset_pus(const struct node *n, const char *cpuset, uint32_t **pus, size_t *npus);

/* Send J's batch script to its first node.  0, or -1 when that node has no
 * link now (registration reconciles it later). */
int node_launch(struct job *j);

/* Send M to node INDEX (steps use it: step.c).  0, or -1 with ENOTCONN
 * when the node has no registered link now. */
int node_send(uint32_t index, Pacer__Msg *m);

/* Send SIG to J (TERMINATE: TERM, wait kill_wait, KILL the whole job). */
int node_signal(struct job *j, int sig, bool terminate);

/* End alloc_only job J as its command ended with EXIT_CODE: SignalJob
 * {terminate, release, exit_code} to its first node, which reports the
 * JobEnded (COMPLETED for 0, else FAILED).  0 or -1 with errno. */
int node_release(struct job *j, int32_t exit_code);

/* Fill INFO for `pacer nodes` (strings point into N or into SCRATCH,
 * freed with node_info_release); LAYOUT adds the full layout. 0 or -1. */
struct node_info_scratch {
	char **features;
	char *cpuset_alloc;
	Pacer__NodeLayout layout;
	Pacer__CoreInfo *cores;
	Pacer__CoreInfo **corep;
	Pacer__GpuInfo *gpus;
	Pacer__GpuInfo **gpup;
	Pacer__NumaInfo *numas;
	Pacer__NumaInfo **numap;
	char *strings; /* every formatted list, back to back */
	uint32_t *jobs;
};
int node_to_info(const struct node *n, Pacer__NodeInfo *info, bool layout,
		 struct node_info_scratch *scratch);
void node_info_release(struct node_info_scratch *scratch);

/* Lower-case name of a node state. */
const char *node_state_name(Pacer__NodeState s);

#endif
