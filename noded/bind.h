/* bind.h - where a job's processes run and allocate memory: CPU and memory
 * binding with hwloc on this machine's real topology.
 *
 * The controller gives a job's CPUs and NUMA nodes as os indexes of the
 * node's topology.  On a real node those are this machine's own.  On an
 * emulated node (pacer.conf `topology`) they are the emulated machine's and
 * are mapped onto what exists: emulated PU os index i runs on the real PU of
 * logical index (i mod real PU count), emulated NUMA node j on the real NUMA
 * node of logical index (j mod real NUMA count).  The job still sees the
 * controller's CPU list (PACER_JOB_CPUS); only the binding is mapped.
 *
 * A plan is made in the daemon before fork (parsing, mapping, every check
 * that can fail with a reason for the user); the forked child only applies
 * it.  The daemon is single-threaded, so hwloc's allocations in the child
 * cannot meet a lock held by another thread.
 */
#ifndef PACER_NODED_BIND_H
#define PACER_NODED_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bind;      /* this machine, loaded once */
struct bind_plan; /* one job's binding */

/* Load this machine's topology.  EMULATED: the controller's indexes are an
 * emulated machine's and get mapped (see above).  0 with *BP set, or -1
 * with errno and ERR saying what failed. */
int bind_init(bool emulated, struct bind **bp, char *err, size_t errlen);

/* As bind_init, but this machine as XML (LEN bytes) describes it, from
 * bind_export in the node daemon: a job supervisor skips the discovery,
 * which costs more than the rest of a step's start. */
int bind_init_xml(bool emulated, const void *xml, size_t len, struct bind **bp, char *err,
		  size_t errlen);

/* This machine's topology as XML, into *XML (malloc'd, *LEN bytes).  0 or
 * -1 with errno. */
int bind_export(const struct bind *b, char **xml, size_t *len);

void bind_destroy(struct bind *b);

/* PUs and NUMA nodes of this machine, and its memory in MiB (what hwloc
 * sees; 0 when it does not know). */
uint32_t bind_npus(const struct bind *b);
uint32_t bind_nnumas(const struct bind *b);
uint64_t bind_mem_mb(const struct bind *b);

struct bind_req {
	uint32_t job_id;
	const char *node;     /* node name, for the verbose line */
	const char *cpuset;   /* the controller's list ("0-3,8"); NULL or "" = not bound */
	const char *mems;     /* NUMA nodes local to it; NULL or "" = memory not bound */
	const char *cpu_bind; /* --cpu-bind: [verbose,]none|cores|threads|sockets|map_cpu:L */
};

/* Plan the binding of a job's batch script.  The script gets the whole
 * cpuset (cores, threads, sockets and the default alike: it is one
 * process), the first CPU of a map_cpu list, or nothing with `none`.  0
 * with *PP set (free it with bind_plan_free), or -1 with errno EINVAL and
 * ERR saying what is wrong for the user ("--cpu-bind=map_cpu:9 names CPU
 * 9, which job 7 does not hold on node1 (it holds 0-3)"). */
int bind_plan_make(const struct bind *b, const struct bind_req *req, struct bind_plan **pp,
		   char *err, size_t errlen);

void bind_plan_free(struct bind_plan *p);

/* The job's whole cpuset and its NUMA nodes on this machine (mapped), as
 * os-index lists for a cpuset cgroup; "" when the job is not bound to any. */
const char *bind_plan_cpus(const struct bind_plan *p);
const char *bind_plan_mems(const struct bind_plan *p);

/* What the script is bound to, as a list ("" = not bound), for logs. */
const char *bind_plan_describe(const struct bind_plan *p);

/* In the forked child: bind the calling (single-threaded) process's CPUs
 * (HWLOC_CPUBIND_PROCESS|HWLOC_CPUBIND_STRICT) and memory (MEMBIND_BIND to
 * the NUMA nodes); both survive exec.  0, or -1 with errno. */
int bind_apply(const struct bind_plan *p);

/* In the forked child, with its stderr open on FD: with --cpu-bind=verbose,
 * write Slurm's line "cpu-bind=MASK - node1, task  0  0 [PID]: mask 0x3 set"
 * with the mask the kernel now holds.  Async-signal-safe. */
void bind_report(const struct bind_plan *p, int fd);

#endif
