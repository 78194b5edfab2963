/* sched.c - priority/FIFO scheduling over the select plugin (see sched.h). */
#include "sched.h"

#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob.h"
#include "conf.h"
#include "ctld.h"
#include "job.h"
#include "log.h"
#include "node.h"
#include "pattern.h"
#include "select.h"
#include "state.h"
#include "timefmt.h"

static struct event *pass_ev;
static bool pass_due;

/* Per pass: each partition's nodes as the select plugin sees them. */
struct part_view {
	struct select_node **nodes;
	size_t n;
	bool blocked;
};

void sched_request(void)
{
	if (pass_due || !pass_ev)
		return;
	pass_due = true;
	event_active(pass_ev, EV_TIMEOUT, 0);
}

/* The start record is on disk: now the node may run it. */
static void launch_when_durable(void *arg)
{
	struct job *j = job_find((uint32_t)(uintptr_t)arg);
	if (!j || !j->launch_pending || j->state != PACER__JOB_STATE__JOB_RUNNING)
		return;
	j->launch_pending = false;
	if (j->cancel_requested) {
		state_end(j, PACER__JOB_STATE__JOB_CANCELLED, 0, 0, ctld_now(),
			  "cancelled before it started");
		sched_request();
		return;
	}
	if (node_launch(j) < 0)
		log_warn("job %u: node %s cannot be reached now (%s); it is reconciled when the "
			 "node registers again",
			 j->id, node_name_at(j->alloc[0].node), strerror(errno));
	else
		log_info("job %u started on %s", j->id, node_name_at(j->alloc[0].node));
}

/* An output pattern made into the path the node will open. */
static struct blob *resolve_path(const struct job *j, const char *pattern, const char *node)
{
	struct pattern_vars v = {
		.job_id = j->id, .job_name = j->name, .user = j->user->data, .node = node
	};
	char name[4096], path[8192];
	int n = pattern_expand(pattern, &v, name, sizeof(name));
	if (n < 0 || (size_t)n >= sizeof(name))
		return NULL;
	if (name[0] == '/')
		return blob_str(name);
	n = snprintf(path, sizeof(path), "%s/%s", j->workdir->data, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	return blob_str(path);
}

static int start_job(struct job *j, const struct select_alloc *a, size_t na,
		     const struct conf_partition *part)
{
	Pacer__NodeAlloc allocs[na], *allocp[na];
	for (size_t i = 0; i < na; i++) {
		pacer__node_alloc__init(&allocs[i]);
		allocs[i].node = (char *)node_name_at((uint32_t)part->nodes[a[i].node]);
		allocs[i].cpus = a[i].cpus;
		allocs[i].mem_mb = a[i].mem_mb;
		allocp[i] = &allocs[i];
	}
	const char *first = allocs[0].node;
	const char *out_pat =
	    j->stdout_pattern->len ? j->stdout_pattern->data : PATTERN_DEFAULT_OUTPUT;
	struct blob *out = resolve_path(j, out_pat, first);
	struct blob *err = j->stderr_pattern->len ? resolve_path(j, j->stderr_pattern->data, first)
						  : blob_ref(out ? out : j->workdir);
	uint64_t t = 0;
	if (out && err)
		t = state_start(j, (const Pacer__NodeAlloc *const *)allocp, na, out->data,
				err->data);
	blob_put(out);
	blob_put(err);
	if (!t) {
		log_err("job %u cannot be started: %s", j->id, strerror(errno));
		return -1;
	}
	j->launch_pending = true;
	return state_after(t, launch_when_durable, (void *)(uintptr_t)j->id);
}

static int part_views(struct part_view *views)
{
	for (size_t p = 0; p < ctld.conf->npartitions; p++) {
		const struct conf_partition *part = &ctld.conf->partitions[p];
		views[p].n = part->nnodes;
		views[p].nodes = calloc(part->nnodes ? part->nnodes : 1, sizeof(*views[p].nodes));
		if (!views[p].nodes)
			return -1;
		for (size_t i = 0; i < part->nnodes; i++)
			views[p].nodes[i] = &node_at(part->nodes[i])->res;
	}
	return 0;
}

static void pass(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	pass_due = false;
	size_t np = ctld.conf->npartitions, nblocked = 0;
	struct part_view *views = calloc(np, sizeof(*views));
	struct select_alloc *out = calloc(node_count() ? node_count() : 1, sizeof(*out));
	if (!views || !out || part_views(views) < 0) {
		log_err("scheduler: out of memory");
		goto done;
	}
	struct job *next;
	for (struct job *j = job_pending_first(); j && nblocked < np; j = next) {
		next = j->pnext;
		if (j->held || j->cancel_requested)
			continue;
		struct part_view *v = &views[j->partition];
		if (v->blocked) {
			job_set_reason(j, "Priority");
			continue;
		}
		struct select_request req = { .nodes = j->nodes_req,
					      .ntasks = j->ntasks,
					      .cpus_per_task = j->cpus_per_task,
					      .mem_mb = j->mem_mb };
		size_t nout = 0;
		if (ctld.select->allocate(&req, v->nodes, v->n, out, &nout) < 0) {
			job_set_reason(j, "Resources");
			v->blocked = true;
			nblocked++;
			continue;
		}
		start_job(j, out, nout, &ctld.conf->partitions[j->partition]);
	}
done:
	for (size_t p = 0; views && p < np; p++)
		free(views[p].nodes);
	free(views);
	free(out);
}

static int check_feasible(const Pacer__JobSpec *spec, const struct conf_partition *part, char *why,
			  size_t whylen)
{
	struct select_node *nodes[part->nnodes ? part->nnodes : 1];
	for (size_t i = 0; i < part->nnodes; i++)
		nodes[i] = &node_at(part->nodes[i])->res;
	struct select_request req = { .nodes = spec->nodes,
				      .ntasks = spec->ntasks,
				      .cpus_per_task = spec->cpus_per_task,
				      .mem_mb = spec->mem_mb };
	char reason[256];
	if (ctld.select->feasible(&req, nodes, part->nnodes, reason, sizeof(reason)) < 0) {
		snprintf(why, whylen, "job can never run in partition %s: it %s", part->name,
			 reason);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int sched_check(Pacer__JobSpec *spec, const struct conf_partition **partp, char *why, size_t whylen)
{
	const struct conf *c = ctld.conf;
	const struct conf_partition *part = conf_partition_find(c, spec->partition);
	if (!part) {
		size_t off = (size_t)snprintf(
		    why, whylen, "unknown partition '%s' (partitions:", spec->partition);
		for (size_t i = 0; i < c->npartitions && off < whylen; i++)
			off += (size_t)snprintf(why + off, whylen - off, "%s %s", i ? "," : "",
						c->partitions[i].name);
		if (off < whylen)
			snprintf(why + off, whylen - off, ")");
		goto refuse;
	}
	*partp = part;
	if (spec->cpus_per_task == 0)
		spec->cpus_per_task = 1;
	if (spec->ntasks == 0)
		spec->ntasks = spec->nodes ? spec->nodes : 1;
	if (spec->nodes > spec->ntasks) {
		snprintf(why, whylen,
			 "asks for %u nodes but only %u tasks (each node needs a task: "
			 "raise -n or lower -N)",
			 spec->nodes, spec->ntasks);
		goto refuse;
	}
	if (part->max_nodes && spec->nodes > part->max_nodes) {
		snprintf(why, whylen, "asks for %u nodes, partition %s allows at most %u",
			 spec->nodes, part->name, part->max_nodes);
		goto refuse;
	}
	if (spec->time_limit == 0)
		spec->time_limit = part->default_time;
	if (part->max_time != TIMEFMT_UNLIMITED && spec->time_limit > part->max_time) {
		char want[32], max[32];
		timefmt_duration(spec->time_limit, want, sizeof(want));
		timefmt_duration(part->max_time, max, sizeof(max));
		snprintf(why, whylen, "time limit %s is above partition %s's maximum of %s", want,
			 part->name, max);
		goto refuse;
	}
	return check_feasible(spec, part, why, whylen);
refuse:
	errno = EINVAL;
	return -1;
}

int sched_init(void)
{
	pass_ev = event_new(ctld.base, -1, 0, pass, NULL);
	return pass_ev ? 0 : -1;
}

void sched_destroy(void)
{
	if (pass_ev)
		event_free(pass_ev);
	pass_ev = NULL;
}
