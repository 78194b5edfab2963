/* jobenv.c - PACER_* variables from a LaunchJob (see jobenv.h). */
#include "jobenv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A NULL-terminated vector of strings it owns. */
struct strv {
	char **v;
	size_t n;
};

static int strv_add(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int strv_add(struct strv *s, const char *fmt, ...)
{
	char **v = realloc(s->v, (s->n + 2) * sizeof(*v));
	va_list ap;
	int rc;

	if (!v)
		return -1;
	s->v = v;
	va_start(ap, fmt);
	rc = vasprintf(&v[s->n], fmt, ap);
	va_end(ap);
	if (rc < 0) {
		v[s->n] = NULL;
		return -1;
	}
	v[++s->n] = NULL;
	return 0;
}

/* The controller's "CUDA_VISIBLE_DEVICES=0,1;ROCR_VISIBLE_DEVICES=0,1":
 * each assignment becomes a variable.  Anything but NAME=value with a plain
 * upper-case name is dropped (logged): it comes from the network. */
static int gpu_env(uint32_t job_id, const char *list, struct strv *env)
{
	static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789";

	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ";"), name = strspn(p, name_chars);

		if (name > 0 && name < len && p[name] == '=') {
			if (strv_add(env, "%.*s", (int)len, p) < 0)
				return -1;
		} else if (len) {
			log_warn("job %" PRIu32
				 ": ignoring GPU variable '%.*s' from the controller",
				 job_id, (int)len, p);
		}
		p += len + (p[len] == ';');
	}
	return 0;
}

/* Who the job is. */
static int identity(const Pacer__LaunchJob *lj, const char *node, const char *cluster,
		    struct strv *env)
{
	const Pacer__Job *j = lj->job;
	const Pacer__JobSpec *s = j->spec;

	if (strv_add(env, "PACER_JOB_ID=%" PRIu32, j->id) < 0 ||
	    strv_add(env, "PACER_JOB_NAME=%s", s->name) < 0 ||
	    strv_add(env, "PACER_JOB_USER=%s", j->user) < 0 ||
	    /* The one it runs in, of the list it may have named. */
	    strv_add(env, "PACER_JOB_PARTITION=%s",
		     j->partition && *j->partition ? j->partition : s->partition) < 0 ||
	    strv_add(env, "PACER_SUBMIT_DIR=%s", s->submit_dir) < 0 ||
	    strv_add(env, "PACER_SUBMIT_HOST=%s", s->submit_host) < 0 ||
	    strv_add(env, "PACER_NODENAME=%s", node) < 0 ||
	    strv_add(env, "PACER_CLUSTER_NAME=%s", cluster) < 0)
		return -1;
	if (j->array_job_id &&
	    (strv_add(env, "PACER_ARRAY_JOB_ID=%" PRIu32, j->array_job_id) < 0 ||
	     strv_add(env, "PACER_ARRAY_TASK_ID=%" PRIu32, j->array_task_id) < 0))
		return -1;
	return 0;
}

/* Its shape, and its share of this node.  Without `alloc` (a controller
 * without placement) the older fields stand in. */
static int resources(const Pacer__LaunchJob *lj, struct strv *env)
{
	const Pacer__Job *j = lj->job;
	const Pacer__JobSpec *s = j->spec;
	const Pacer__NodeAlloc *a = lj->alloc;
	size_t nnodes = lj->nnodes ? lj->nnodes : j->n_alloc ? j->n_alloc : 1;
	uint32_t ntasks = lj->ntasks ? lj->ntasks : s->ntasks;
	uint32_t cpus = a && a->cpus ? a->cpus : lj->cpus_on_node;
	uint64_t mem = a ? a->mem_mb : s->mem_mb;

	if (strv_add(env, "PACER_NODELIST=%s", lj->nodelist) < 0 ||
	    strv_add(env, "PACER_NNODES=%zu", nnodes) < 0 ||
	    strv_add(env, "PACER_NTASKS=%" PRIu32, ntasks ? ntasks : 1) < 0 ||
	    strv_add(env, "PACER_CPUS_PER_TASK=%" PRIu32, s->cpus_per_task ? s->cpus_per_task : 1) <
		0 ||
	    strv_add(env, "PACER_CPUS_ON_NODE=%" PRIu32, cpus) < 0)
		return -1;
	if (mem && strv_add(env, "PACER_MEM_PER_NODE=%" PRIu64, mem) < 0)
		return -1;
	if (!a)
		return 0;
	if (a->cpuset[0] && strv_add(env, "PACER_JOB_CPUS=%s", a->cpuset) < 0)
		return -1;
	if (a->n_gpus && strv_add(env, "PACER_GPUS=%zu", a->n_gpus) < 0)
		return -1;
	return gpu_env(j->id, a->gpu_env, env);
}

char **jobenv_make(const Pacer__LaunchJob *lj, const char *node, const char *cluster)
{
	struct strv env = { 0 };

	if (!lj || !lj->job || !lj->job->spec) {
		errno = EINVAL;
		return NULL;
	}
	if (identity(lj, node ? node : "", cluster ? cluster : "", &env) < 0 ||
	    resources(lj, &env) < 0) {
		jobenv_free(env.v);
		errno = ENOMEM;
		return NULL;
	}
	return env.v;
}

/* The step's nodes as a comma-separated list (the layout's order). */
static int step_nodes(const Pacer__LaunchStep *ls, struct strv *env)
{
	size_t len = 0, off;
	char *list;
	int rc;

	for (size_t i = 0; i < ls->n_layout; i++)
		len += strlen(ls->layout[i]->node) + 1;
	list = malloc(len + 1);
	if (!list)
		return -1;
	off = 0;
	for (size_t i = 0; i < ls->n_layout; i++)
		off += (size_t)sprintf(list + off, "%s%s", i ? "," : "", ls->layout[i]->node);
	list[off] = '\0';
	rc = strv_add(env, "PACER_STEP_NODELIST=%s", list);
	free(list);
	return rc;
}

char **jobenv_task(const Pacer__LaunchStep *ls, uint32_t rank, uint32_t localid, const char *cpus,
		   const char *node, const char *cluster)
{
	struct strv env = { 0 };
	const Pacer__StepSpec *sp = ls ? ls->spec : NULL;

	if (!sp) {
		errno = EINVAL;
		return NULL;
	}
	if (strv_add(&env, "PACER_JOB_ID=%" PRIu32, ls->job_id) < 0 ||
	    strv_add(&env, "PACER_STEP_ID=%" PRIu32, ls->step_id) < 0 ||
	    strv_add(&env, "PACER_PROCID=%" PRIu32, rank) < 0 ||
	    strv_add(&env, "PACER_LOCALID=%" PRIu32, localid) < 0 ||
	    strv_add(&env, "PACER_NODEID=%" PRIu32, ls->node_index) < 0 ||
	    strv_add(&env, "PACER_STEP_NUM_TASKS=%" PRIu32, ls->ntasks) < 0 ||
	    strv_add(&env, "PACER_STEP_NUM_NODES=%" PRIu32, ls->nnodes) < 0 ||
	    strv_add(&env, "PACER_NTASKS=%" PRIu32, ls->ntasks) < 0 ||
	    strv_add(&env, "PACER_NNODES=%" PRIu32, ls->nnodes) < 0 ||
	    strv_add(&env, "PACER_CPUS_PER_TASK=%" PRIu32,
		     sp->cpus_per_task ? sp->cpus_per_task : 1) < 0 ||
	    step_nodes(ls, &env) < 0 || strv_add(&env, "PACER_NODENAME=%s", node) < 0 ||
	    strv_add(&env, "PACER_CLUSTER_NAME=%s", cluster) < 0 ||
	    (cpus && *cpus && strv_add(&env, "PACER_JOB_CPUS=%s", cpus) < 0)) {
		jobenv_free(env.v);
		errno = ENOMEM;
		return NULL;
	}
	return env.v;
}

void jobenv_free(char **env)
{
	for (char **p = env; p && *p; p++)
		free(*p);
	free(env);
}
