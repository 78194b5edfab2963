/* bind.c - plan in the daemon, apply in the child (see bind.h). */
#include "bind.h"

#include <errno.h>
#include <limits.h>
#include <hwloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strfmt.h"
#include "topo.h"

/* Os indexes above this are refused: no machine has that many PUs, and a
 * list from the network must not make us allocate without bound.  The
 * controller refuses topologies beyond it too, so the lists it sends fit. */
#define OS_INDEX_MAX TOPO_OS_INDEX_MAX

enum bind_type { BT_DEFAULT, BT_NONE, BT_CORES, BT_THREADS, BT_SOCKETS, BT_MAP };

struct bind {
	hwloc_topology_t topo;
	bool emulated;
	bool can_cpubind, can_membind;
	uint32_t npus, nnumas;
	uint32_t *pu_os;   /* [npus] os index of the real PU of logical index i */
	uint32_t *numa_os; /* [nnumas] likewise for NUMA nodes */
	uint64_t mem_mb;
};

struct bind_plan {
	const struct bind *b;
	enum bind_type type;
	bool verbose;
	hwloc_bitmap_t cpus; /* the script's binding; NULL = none */
	hwloc_bitmap_t mems; /* NULL = memory not bound */
	char *job_cpus;      /* the whole job on this machine, for a cgroup */
	char *job_mems;
	char *describe;
	char prefix[384];   /* "cpu-bind=MASK - node1, task  0  0 [" */
	const char *action; /* " set", or "" when nothing was set */
};

/* ---- this machine ---------------------------------------------------------- */

static uint32_t *os_indexes(hwloc_topology_t topo, hwloc_obj_type_t type, uint32_t *n)
{
	int count = hwloc_get_nbobjs_by_type(topo, type);
	uint32_t *v;

	*n = 0;
	if (count <= 0)
		return calloc(1, sizeof(*v));
	v = calloc((size_t)count, sizeof(*v));
	if (!v)
		return NULL;
	for (int i = 0; i < count; i++)
		v[i] = hwloc_get_obj_by_type(topo, type, (unsigned)i)->os_index;
	*n = (uint32_t)count;
	return v;
}

/* XML NULL: discover this machine; else load XML (this machine's, as
 * bind_export gave it) as this machine's. */
static int init(bool emulated, const void *xml, size_t len, struct bind **bp, char *err,
		size_t errlen)
{
	struct bind *b = calloc(1, sizeof(*b));
	const struct hwloc_topology_support *sup;
	int e;

	if (!b)
		return strfmt_fail(err, errlen, ENOMEM, "out of memory");
	b->emulated = emulated;
	if (hwloc_topology_init(&b->topo) < 0) {
		e = errno;
		free(b);
		return strfmt_fail(err, errlen, e, "hwloc_topology_init: %s", strerror(e));
	}
	if (xml && (len > INT_MAX || hwloc_topology_set_xmlbuffer(b->topo, xml, (int)len) < 0 ||
		    hwloc_topology_set_flags(b->topo, HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM) < 0)) {
		strfmt_fail(err, errlen, EINVAL, "the node daemon's copy of this machine's "
						 "topology cannot be used");
		goto failed;
	}
	if (hwloc_topology_load(b->topo) < 0) {
		strfmt_fail(err, errlen, errno,
			    "hwloc cannot discover this machine for binding: %s", strerror(errno));
		goto failed;
	}
	b->pu_os = os_indexes(b->topo, HWLOC_OBJ_PU, &b->npus);
	b->numa_os = os_indexes(b->topo, HWLOC_OBJ_NUMANODE, &b->nnumas);
	if (!b->pu_os || !b->numa_os) {
		strfmt_fail(err, errlen, ENOMEM, "out of memory");
		goto failed;
	}
	if (b->npus == 0) {
		strfmt_fail(err, errlen, ENODEV, "hwloc found no processing unit on this machine");
		goto failed;
	}
	sup = hwloc_topology_get_support(b->topo);
	b->can_cpubind = sup->cpubind->set_thisproc_cpubind || sup->cpubind->set_thisthread_cpubind;
	b->can_membind =
	    (sup->membind->set_thisproc_membind || sup->membind->set_thisthread_membind) &&
	    sup->membind->bind_membind && b->nnumas > 0;
	b->mem_mb = hwloc_get_root_obj(b->topo)->total_memory >> 20;
	*bp = b;
	return 0;
failed:
	e = errno;
	bind_destroy(b);
	errno = e;
	return -1;
}

void bind_destroy(struct bind *b)
{
	if (!b)
		return;
	hwloc_topology_destroy(b->topo);
	free(b->pu_os);
	free(b->numa_os);
	free(b);
}

uint32_t bind_npus(const struct bind *b)
{
	return b->npus;
}

uint32_t bind_nnumas(const struct bind *b)
{
	return b->nnumas;
}

uint64_t bind_mem_mb(const struct bind *b)
{
	return b->mem_mb;
}

/* ---- --cpu-bind ------------------------------------------------------------ */

static const struct {
	const char *name;
	enum bind_type type;
	const char *units; /* Slurm's suffix in the verbose line */
} bind_types[] = {
	{ "none", BT_NONE, "" },
	{ "no", BT_NONE, "" },
	{ "cores", BT_CORES, "_cores" },
	{ "threads", BT_THREADS, "_threads" },
	{ "sockets", BT_SOCKETS, "_sockets" },
};

struct cpu_bind {
	enum bind_type type;
	bool verbose;
	uint32_t map_first; /* BT_MAP: the script's CPU */
	const char *units;
};

/* One map_cpu item: decimal or 0x hex, optionally "*COUNT" (Slurm's). */
static int map_item(const char *s, size_t len, uint32_t *cpu)
{
	char buf[32], *end, *star;
	unsigned long v;
	int base = 10;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	star = strchr(buf, '*');
	if (star) {
		*star = '\0';
		if (star[1] < '1' || star[1] > '9' || strtoul(star + 1, &end, 10) == 0 || *end)
			return -1;
	}
	if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
		base = 16;
		if (!buf[2])
			return -1;
	} else if (buf[0] < '0' || buf[0] > '9') {
		return -1;
	}
	errno = 0;
	v = strtoul(buf, &end, base);
	if (errno || *end || v > OS_INDEX_MAX)
		return -1;
	*cpu = (uint32_t)v;
	return 0;
}

/* "map_cpu:" is followed by items separated by commas: a comma followed by
 * a digit still belongs to the list (Slurm's rule), so "map_cpu:0,2,verbose"
 * reads as the list 0,2 and the word verbose.  Returns the list's length. */
static size_t map_list_len(const char *s)
{
	size_t n = 0;

	while (s[n] && !(s[n] == ',' && !(s[n + 1] >= '0' && s[n + 1] <= '9')))
		n++;
	return n;
}

static int map_list(const char *list, size_t len, uint32_t *first)
{
	bool got = false;

	for (size_t i = 0; i <= len;) {
		size_t n = 0;
		uint32_t cpu;

		while (i + n < len && list[i + n] != ',')
			n++;
		if (map_item(list + i, n, &cpu) < 0)
			return -1;
		if (!got)
			*first = cpu;
		got = true;
		i += n + 1;
	}
	return got ? 0 : -1;
}

static const char bind_help[] =
    "use none, cores, threads, sockets or map_cpu:LIST, with verbose if wanted";

static int set_type(struct cpu_bind *cb, enum bind_type type, const char *units, const char *spec,
		    uint32_t job_id, char *err, size_t errlen)
{
	if (cb->type != BT_DEFAULT && cb->type != type)
		return strfmt_fail(err, errlen, EINVAL,
				   "job %u: --cpu-bind=%s gives two kinds of binding (%s)", job_id,
				   spec, bind_help);
	cb->type = type;
	cb->units = units;
	return 0;
}

static int parse_cpu_bind(const char *spec, uint32_t job_id, struct cpu_bind *cb, char *err,
			  size_t errlen)
{
	const char *s = spec;

	memset(cb, 0, sizeof(*cb));
	cb->units = "";
	while (s && *s) {
		size_t len = strcspn(s, ",");
		size_t i;

		if (strncmp(s, "map_cpu:", 8) == 0) {
			len = 8 + map_list_len(s + 8);
			if (map_list(s + 8, len - 8, &cb->map_first) < 0)
				return strfmt_fail(
				    err, errlen, EINVAL,
				    "job %u: bad --cpu-bind map_cpu list in '%s' (write "
				    "CPU numbers separated by commas, e.g. map_cpu:0,4)",
				    job_id, spec);
			if (set_type(cb, BT_MAP, "", spec, job_id, err, errlen) < 0)
				return -1;
		} else if ((len == 7 && strncmp(s, "verbose", 7) == 0) ||
			   (len == 1 && s[0] == 'v')) {
			cb->verbose = true;
		} else if ((len == 5 && strncmp(s, "quiet", 5) == 0) || (len == 1 && s[0] == 'q')) {
			cb->verbose = false;
		} else {
			for (i = 0; i < sizeof(bind_types) / sizeof(bind_types[0]); i++)
				if (strlen(bind_types[i].name) == len &&
				    strncmp(s, bind_types[i].name, len) == 0)
					break;
			if (i == sizeof(bind_types) / sizeof(bind_types[0]))
				return strfmt_fail(
				    err, errlen, EINVAL,
				    "job %u: --cpu-bind=%s: '%.*s' is not known here (%s)", job_id,
				    spec, (int)len, s, bind_help);
			if (set_type(cb, bind_types[i].type, bind_types[i].units, spec, job_id, err,
				     errlen) < 0)
				return -1;
		}
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

/* ---- mapping --------------------------------------------------------------- */

/* Parse the controller's list LIST (WHAT: "CPU" or "NUMA node") into OUT,
 * as this machine's os indexes. */
static int map_list_to(const struct bind *b, const char *list, bool numa, uint32_t job_id,
		       hwloc_bitmap_t out, char *err, size_t errlen)
{
	const char *what = numa ? "NUMA node" : "CPU";
	uint32_t *v = NULL;
	size_t n = 0;

	if (topo_list_parse(list, OS_INDEX_MAX, &v, &n) < 0)
		return strfmt_fail(err, errlen, errno == ENOMEM ? ENOMEM : EINVAL,
				   "job %u: bad %s list '%s' from the controller", job_id, what,
				   list);
	for (size_t i = 0; i < n; i++) {
		uint32_t os = v[i];

		if (b->emulated) {
			os = numa ? b->numa_os[v[i] % b->nnumas] : b->pu_os[v[i] % b->npus];
		} else if (numa ? !hwloc_get_numanode_obj_by_os_index(b->topo, os)
				: !hwloc_get_pu_obj_by_os_index(b->topo, os)) {
			free(v);
			return strfmt_fail(
			    err, errlen, EINVAL,
			    "job %u: %s %u of its allocation does not exist on this "
			    "machine (did the node's hardware change since it registered? "
			    "restart pacernoded)",
			    job_id, what, os);
		}
		hwloc_bitmap_set(out, os);
	}
	free(v);
	return 0;
}

static bool in_list(const char *list, uint32_t cpu)
{
	uint32_t *v = NULL;
	size_t n = 0;
	bool found = false;

	if (topo_list_parse(list, OS_INDEX_MAX, &v, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !found; i++)
		found = v[i] == cpu;
	free(v);
	return found;
}

static char *list_of(hwloc_const_bitmap_t set)
{
	char *s = NULL;

	if (!set || hwloc_bitmap_iszero(set))
		return strdup("");
	if (hwloc_bitmap_list_asprintf(&s, set) < 0)
		return NULL;
	return s;
}

static const char *type_name(enum bind_type t)
{
	return t == BT_NONE ? "NONE" : t == BT_MAP ? "MAP" : "MASK";
}

/* The whole job on this machine, and what the script itself is bound to. */
static int plan_sets(const struct bind *b, const struct bind_req *req, const struct cpu_bind *cb,
		     struct bind_plan *p, char *err, size_t errlen)
{
	hwloc_bitmap_t job = hwloc_bitmap_alloc(), mems = hwloc_bitmap_alloc();
	int rc = -1;

	if (!job || !mems) {
		strfmt_fail(err, errlen, ENOMEM, "out of memory");
		goto out;
	}
	if (map_list_to(b, req->cpuset, false, req->job_id, job, err, errlen) < 0)
		goto out;
	if (req->mems && *req->mems &&
	    map_list_to(b, req->mems, true, req->job_id, mems, err, errlen) < 0)
		goto out;
	p->job_cpus = list_of(job);
	p->job_mems = list_of(mems);
	if (!p->job_cpus || !p->job_mems) {
		strfmt_fail(err, errlen, ENOMEM, "out of memory");
		goto out;
	}
	if (cb->type == BT_NONE || !b->can_cpubind) {
		rc = 0;
		goto out;
	}
	if (cb->type == BT_MAP) {
		p->cpus = hwloc_bitmap_alloc();
		if (!p->cpus) {
			strfmt_fail(err, errlen, ENOMEM, "out of memory");
			goto out;
		}
		hwloc_bitmap_set(p->cpus,
				 b->emulated ? b->pu_os[cb->map_first % b->npus] : cb->map_first);
	} else {
		p->cpus = job;
		job = NULL;
	}
	if (b->can_membind && !hwloc_bitmap_iszero(mems)) {
		p->mems = mems;
		mems = NULL;
	}
	rc = 0;
out:
	hwloc_bitmap_free(job);
	hwloc_bitmap_free(mems);
	return rc;
}

int bind_plan_make(const struct bind *b, const struct bind_req *req, struct bind_plan **pp,
		   char *err, size_t errlen)
{
	struct bind_plan *p = calloc(1, sizeof(*p));
	struct cpu_bind cb;
	char *c = NULL, *m = NULL;
	int e;

	if (!p)
		return strfmt_fail(err, errlen, ENOMEM, "out of memory");
	p->b = b;
	if (parse_cpu_bind(req->cpu_bind, req->job_id, &cb, err, errlen) < 0)
		goto failed;
	p->type = cb.type;
	p->verbose = cb.verbose;
	if (!req->cpuset || !*req->cpuset) {
		/* Nothing allocated by CPU (a controller without placement):
		 * the job runs where the daemon may. */
		p->job_cpus = strdup("");
		p->job_mems = strdup("");
		if (!p->job_cpus || !p->job_mems)
			goto nomem;
	} else {
		if (cb.type == BT_MAP && !in_list(req->cpuset, cb.map_first)) {
			strfmt_fail(
			    err, errlen, EINVAL,
			    "job %u: --cpu-bind=%s names CPU %u, which the job does not hold on "
			    "%s (it holds %s): give CPUs of the job's allocation",
			    req->job_id, req->cpu_bind, cb.map_first, req->node, req->cpuset);
			goto failed;
		}
		if (plan_sets(b, req, &cb, p, err, errlen) < 0)
			goto failed;
	}
	c = list_of(p->cpus);
	m = list_of(p->mems);
	if (!c || !m)
		goto nomem;
	if (*c)
		e = asprintf(&p->describe, "CPUs %s (memory: %s%s)", c, *m ? "NUMA " : "not bound",
			     m);
	else
		e = asprintf(&p->describe, "nothing (%s)",
			     cb.type == BT_NONE ? "--cpu-bind=none"
			     : !b->can_cpubind  ? "hwloc cannot bind on this machine"
						: "no CPUs from the controller");
	if (e < 0) {
		p->describe = NULL;
		goto nomem;
	}
	/* The batch script is task 0 of the job, the first on its node. */
	snprintf(p->prefix, sizeof(p->prefix), "cpu-bind%s=%s - %s, task %2u %2u [", cb.units,
		 type_name(cb.type), req->node ? req->node : "?", 0u, 0u);
	p->action = p->cpus ? " set" : "";
	free(c);
	free(m);
	*pp = p;
	return 0;
nomem:
	strfmt_fail(err, errlen, ENOMEM, "out of memory");
failed:
	e = errno;
	free(c);
	free(m);
	bind_plan_free(p);
	errno = e;
	return -1;
}

void bind_plan_free(struct bind_plan *p)
{
	if (!p)
		return;
	hwloc_bitmap_free(p->cpus);
	hwloc_bitmap_free(p->mems);
	free(p->job_cpus);
	free(p->job_mems);
	free(p->describe);
	free(p);
}

const char *bind_plan_cpus(const struct bind_plan *p)
{
	return p && p->job_cpus ? p->job_cpus : "";
}

const char *bind_plan_mems(const struct bind_plan *p)
{
	return p && p->job_mems ? p->job_mems : "";
}

const char *bind_plan_describe(const struct bind_plan *p)
{
	return p && p->describe ? p->describe : "nothing";
}

/* ---- the child ------------------------------------------------------------- */

int bind_apply(const struct bind_plan *p)
{
	if (!p)
		return 0;
	if (p->cpus && hwloc_set_cpubind(p->b->topo, p->cpus,
					 HWLOC_CPUBIND_PROCESS | HWLOC_CPUBIND_STRICT) < 0)
		return -1;
	/* No PROCESS or THREAD flag: the child is single-threaded, which lets
	 * hwloc use Linux's per-thread policy (inherited across exec). */
	if (p->mems &&
	    hwloc_set_membind(p->b->topo, p->mems, HWLOC_MEMBIND_BIND, HWLOC_MEMBIND_BYNODESET) < 0)
		return -1;
	return 0;
}

static size_t put(char *buf, size_t at, size_t len, const char *s)
{
	while (*s && at < len)
		buf[at++] = *s++;
	return at;
}

/* The kernel's affinity mask of this process as hex ("3", "f0"), no malloc. */
static size_t mask_hex(char *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	cpu_set_t set;
	int top = -1;
	size_t n = 0;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return put(buf, 0, len, "?");
	for (int cpu = CPU_SETSIZE - 1; cpu >= 0 && top < 0; cpu--)
		if (CPU_ISSET(cpu, &set))
			top = cpu;
	if (top < 0)
		return put(buf, 0, len, "0");
	for (int nib = top / 4; nib >= 0 && n < len; nib--) {
		int v = 0;

		for (int bit = 0; bit < 4; bit++)
			if (CPU_ISSET(nib * 4 + bit, &set))
				v |= 1 << bit;
		buf[n++] = digits[v];
	}
	return n;
}

void bind_report(const struct bind_plan *p, int fd)
{
	char line[sizeof(p->prefix) + 64 + CPU_SETSIZE / 4], pid[24], *d = pid + sizeof(pid);
	unsigned long v = (unsigned long)getpid();
	size_t n, len = sizeof(line) - 1;
	ssize_t w;

	if (!p || !p->verbose)
		return;
	*--d = '\0';
	do {
		*--d = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	n = put(line, 0, len, p->prefix);
	n = put(line, n, len, d);
	n = put(line, n, len, "]: mask 0x");
	n += mask_hex(line + n, len - n);
	n = put(line, n, len, p->action);
	line[n++] = '\n';
	w = write(fd, line, n);
	(void)w;
}

int bind_init(bool emulated, struct bind **bp, char *err, size_t errlen)
{
	return init(emulated, NULL, 0, bp, err, errlen);
}

int bind_init_xml(bool emulated, const void *xml, size_t len, struct bind **bp, char *err,
		  size_t errlen)
{
	return init(emulated, xml, len, bp, err, errlen);
}

int bind_export(const struct bind *b, char **xml, size_t *len)
{
	char *buf;
	int n;

	if (hwloc_topology_export_xmlbuffer(b->topo, &buf, &n, 0) < 0 || n <= 0)
		return -1;
	*xml = malloc((size_t)n);
	if (!*xml) {
		hwloc_free_xmlbuffer(b->topo, buf);
		errno = ENOMEM;
		return -1;
	}
	memcpy(*xml, buf, (size_t)n);
	*len = (size_t)n;
	hwloc_free_xmlbuffer(b->topo, buf);
	return 0;
}
