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

/* Count J's allocation on its nodes (ADD) or give it back. */
void node_charge(struct job *j, bool add);

/* Send J's batch script to its first node.  0, or -1 when that node has no
 * link now (registration reconciles it later). */
int node_launch(struct job *j);

/* Send SIG to J (TERMINATE: TERM, wait kill_wait, KILL the whole job). */
int node_signal(struct job *j, int sig, bool terminate);

/* Fill INFO for `pacer nodes` (strings point into N). */
void node_to_info(const struct node *n, Pacer__NodeInfo *info);

/* Lower-case name of a node state. */
const char *node_state_name(Pacer__NodeState s);

#endif
