/* noded.h - what every part of the node daemon shares (private to noded/).
 *
 * main.c owns the context and the event loop, link.c the connection to the
 * controller, jobs.c the jobs of this node.  One thread: nothing here is
 * locked.
 */
#ifndef PACER_NODED_H
#define PACER_NODED_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spool.h"

struct auth;
struct bind;
struct conf;
struct conf_node;
struct event_base;
struct jobs;
struct link;
struct job_end;
struct topo;

struct noded {
	struct conf *conf;
	const struct conf_node *node; /* this node in conf */
	char name[256];
	char spool_dir[PATH_MAX];
	char boot_id[SPOOL_BOOT_ID_MAX];
	char daemon_id[33]; /* random hex, new at every daemon start */
	char cgroup_key[300]; /* names this daemon's cgroup subtree (track.h) */
	char log_path[PATH_MAX]; /* --log, "" = stderr; supervisors log there too */
	char log_level[16];
	char hostname[256];
	/* What this node reports: its own hardware, or the machine pacer.conf
	 * tells it to emulate (topology =). */
	struct topo *topo;
	bool emulated;
	void *topo_xml; /* topo_export(), sent at every registration */
	size_t topo_xml_len;
	uint32_t cpus;        /* PUs of topo */
	uint64_t mem_mb;      /* its memory, else this machine's */
	struct bind *bind;    /* this machine, for binding jobs */
	char *machine_xml;    /* the same as hwloc XML, for the supervisors */
	size_t machine_xml_len;
	bool have_daemon_uid; /* conf->daemon_user is known here */
	uid_t daemon_uid;
	struct event_base *base;
	struct auth *auth;
	struct link *link;
	struct jobs *jobs;
	bool stopping; /* SIGTERM: no new work; jobs stay with their supervisors */
};

/* Listen on the node's address and port for controllers.  0, or -1 with
 * errno and ERR saying what failed. */
int link_start(struct noded *nd, char *err, size_t errlen);

/* Stop taking new connections (the current link stays). */
void link_stop_listening(struct noded *nd);

/* Give the link up to a second to flush what is queued, then close it and
 * call DONE(ND).  Used last at shutdown. */
void link_finish(struct noded *nd, void (*done)(struct noded *nd));

/* Release everything link_start made. */
void link_destroy(struct noded *nd);

/* Tell the controller, when one is connected, that a job ended. */
void link_send_ended(struct noded *nd, const struct job_end *e);

#endif
