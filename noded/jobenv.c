/* jobenv.c - PACER_* variables from a LaunchJob (see jobenv.h). */
#include "jobenv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/* mpirun inside a batch job ----------------------------------------------*/

/* Tasks of the job on node A. */
static uint32_t node_slots(const Pacer__NodeAlloc *a, uint32_t cpus_per_task)
{
	uint32_t n = (uint32_t)a->n_task_ids;

	if (!n && a->cpus)
		n = a->cpus / (cpus_per_task ? cpus_per_task : 1);
	return n ? n : 1;
}

char *jobenv_hostfile(const Pacer__LaunchJob *lj, const char *node)
{
	const Pacer__Job *j = lj ? lj->job : NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!j || !j->spec || (!j->n_alloc && (!node || !*node))) {
		errno = EINVAL;
		return NULL;
	}
	f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < j->n_alloc; i++)
		fprintf(f, "%s slots=%" PRIu32 "\n", j->alloc[i]->node,
			node_slots(j->alloc[i], j->spec->cpus_per_task));
	if (!j->n_alloc) {
		uint32_t n = lj->ntasks ? lj->ntasks : j->spec->ntasks;
		fprintf(f, "%s slots=%" PRIu32 "\n", node, n ? n : 1);
	}
	if (fclose(f) != 0) {
		free(text);
		errno = ENOMEM;
		return NULL;
	}
	return text;
}

/* Whether the job's own environment sets NAME. */
static bool job_sets(const Pacer__JobSpec *sp, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < sp->n_env; i++)
		if (strncmp(sp->env[i], name, len) == 0 && sp->env[i][len] == '=')
			return true;
	return false;
}

int jobenv_add_mpi(char ***env, const Pacer__LaunchJob *lj, const struct jobenv_mpi *m)
{
	struct strv e = { 0 };
	const Pacer__JobSpec *sp = lj && lj->job ? lj->job->spec : NULL;
	size_t n0 = 0;
	int rc = 0;

	if (!env || !*env || !sp || !m || !m->hostfile) {
		errno = EINVAL;
		return -1;
	}
	while ((*env)[n0])
		n0++;
	e.v = *env;
	e.n = n0;
	/* Ours whatever the job's environment says: a job submitted from
	 * inside another carries that one's, which would be wrong here; the
	 * user still chooses with mpirun --hostfile or --mca. */
	rc |= strv_add(&e, "PACER_HOSTFILE=%s", m->hostfile);
	rc |= strv_add(&e, "OMPI_MCA_orte_default_hostfile=%s", m->hostfile);
	if (m->agent)
		rc |= strv_add(&e, "OMPI_MCA_plm_rsh_agent=%s", m->agent);
	/* Open MPI refuses root without both; Pacer already allowed the job. */
	if (lj->job->uid == 0) {
		rc |= strv_add(&e, "OMPI_ALLOW_RUN_AS_ROOT=1");
		rc |= strv_add(&e, "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1");
	}
	/* The cluster's network, unless the user picked interfaces (a site's
	 * fast network, say): a bridge every node has alike (docker0) would
	 * otherwise look like a way to reach the other nodes. */
	if (m->network && !job_sets(sp, "OMPI_MCA_oob_tcp_if_include") &&
	    !job_sets(sp, "OMPI_MCA_oob_tcp_if_exclude"))
		rc |= strv_add(&e, "OMPI_MCA_oob_tcp_if_include=%s", m->network);
	if (m->network && !job_sets(sp, "OMPI_MCA_btl_tcp_if_include") &&
	    !job_sets(sp, "OMPI_MCA_btl_tcp_if_exclude"))
		rc |= strv_add(&e, "OMPI_MCA_btl_tcp_if_include=%s", m->network);
	*env = e.v;
	if (rc) {
		/* Back to what it was: the added strings go. */
		for (size_t i = n0; i < e.n; i++)
			free(e.v[i]);
		e.v[n0] = NULL;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* The prefix length of netmask MASK (network byte order). */
static int mask_bits(const struct sockaddr *mask, int family)
{
	const uint8_t *b;
	size_t n;
	int bits = 0;

	if (!mask)
		return family == AF_INET ? 32 : 128;
	if (family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)(const void *)mask)->sin_addr;
		n = 4;
	} else {
		b = (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)mask)->sin6_addr;
		n = 16;
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 7; k >= 0; k--)
			bits += (b[i] >> k) & 1;
	return bits;
}

/* The address bytes of SA (IPv4 or IPv6), and how many. */
static const uint8_t *addr_bytes(const struct sockaddr *sa, size_t *n)
{
	if (sa->sa_family == AF_INET) {
		*n = 4;
		return (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	}
	*n = 16;
	return (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
}

int jobenv_node_network(const char *node, char *buf, size_t len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	struct ifaddrs *ifs = NULL;
	int rc = -1;

	if (!node || !*node || getaddrinfo(node, NULL, &hints, &res) != 0) {
		errno = ENOENT;
		return -1;
	}
	if (getifaddrs(&ifs) < 0) {
		freeaddrinfo(res);
		return -1;
	}
	for (const struct addrinfo *ai = res; ai && rc < 0; ai = ai->ai_next) {
		size_t an;
		const uint8_t *ab;
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		ab = addr_bytes(ai->ai_addr, &an);
		if ((an == 4 && ab[0] == 127) ||
		    (an == 16 && IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)(const void *)ab)))
			continue;
		for (const struct ifaddrs *i = ifs; i && rc < 0; i = i->ifa_next) {
			size_t in;
			const uint8_t *ib;
			if (!i->ifa_addr || i->ifa_addr->sa_family != ai->ai_family)
				continue;
			ib = addr_bytes(i->ifa_addr, &in);
			if (in != an || memcmp(ib, ab, an) != 0)
				continue;
			int bits = mask_bits(i->ifa_netmask, ai->ai_family);
			uint8_t net[16];
			char txt[INET6_ADDRSTRLEN];
			for (size_t k = 0; k < an; k++) {
				int keep = bits - (int)k * 8;
				uint8_t m = keep >= 8   ? 0xff
					    : keep <= 0 ? 0
							: (uint8_t)(0xff << (8 - keep));
				net[k] = ab[k] & m;
			}
			if (!inet_ntop(ai->ai_family, net, txt, sizeof(txt)))
				continue;
			if ((size_t)snprintf(buf, len, "%s/%d", txt, bits) >= len) {
				errno = ENAMETOOLONG;
				goto out;
			}
			rc = 0;
		}
	}
	if (rc < 0)
		errno = ENOENT;
out:
	freeifaddrs(ifs);
	freeaddrinfo(res);
	return rc;
}
