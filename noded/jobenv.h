/* jobenv.h - the PACER_* environment of a job's batch script: who the job
 * is, and its share of this node as the controller allocated it; and what
 * makes a plain mpirun in it use the job (its hostfile, pacer-rsh).
 *
 * No SLURM_* names: Open MPI's mpirun would take them for a Slurm
 * allocation and try srun.  The list is in docs/user.md.
 */
#ifndef PACER_NODED_JOBENV_H
#define PACER_NODED_JOBENV_H

#include "pacer.pb-c.h"

/* The variables of LJ's job on node NODE of cluster CLUSTER, as a
 * NULL-terminated array of "NAME=value" strings (free it with
 * jobenv_free).  NULL with errno ENOMEM. */
char **jobenv_make(const Pacer__LaunchJob *lj, const char *node, const char *cluster);

/* The variables of the task of global rank RANK (its LOCALID-th on this
 * node, bound to CPUS) of step LS, on node NODE of cluster CLUSTER: who the
 * job and the step are, and the task's place in it (PACER_PROCID,
 * PACER_LOCALID, PACER_NODEID, PACER_STEP_ID, its own PACER_JOB_CPUS).
 * NULL with errno ENOMEM. */
char **jobenv_task(const Pacer__LaunchStep *ls, uint32_t rank, uint32_t localid, const char *cpus,
		   const char *node, const char *cluster);

void jobenv_free(char **env);

/* mpirun inside a batch job (docs/mpi.md "mpirun inside a job") ---------*/

/* The job's hostfile for mpirun: one "NODE slots=N" line per node of the
 * allocation, in its order, N the job's tasks there (its CPUs over
 * cpus_per_task from a controller that sends no task ids).  A job without
 * per-node allocations gets one line, NODE with the job's tasks.  Malloc'd
 * text, or NULL with errno ENOMEM or EINVAL. */
char *jobenv_hostfile(const Pacer__LaunchJob *lj, const char *node);

struct jobenv_mpi {
	const char *hostfile; /* PACER_HOSTFILE, and mpirun's default hostfile */
	const char *agent;    /* pacer-rsh, mpirun's ssh; NULL: mpirun keeps ssh */
	const char *network;  /* "10.1.2.0/24": Open MPI's TCP there; NULL: its choice */
};

/* Add to *ENV (from jobenv_make) what makes a plain `mpirun ./app` in LJ's
 * script run the job's tasks on the job's nodes through Pacer: PACER_HOSTFILE,
 * OMPI_MCA_orte_default_hostfile, OMPI_MCA_plm_rsh_agent, Open MPI's
 * permission to run as root for a job of root's, and the TCP interfaces
 * unless the job's own environment names them.  0, or -1 with errno ENOMEM
 * (*ENV is then unchanged). */
int jobenv_add_mpi(char ***env, const Pacer__LaunchJob *lj, const struct jobenv_mpi *m);

/* The network (CIDR, "10.1.2.0/24") of the interface holding an address
 * NODE resolves to on this host, into BUF.  0, or -1 with errno ENOENT when
 * the name does not resolve to any local address but loopback (several
 * emulated nodes of one host: Open MPI's own choice is right there).  It
 * asks the resolver, and may wait for it: call it where that blocks no
 * loop but the job's own (the supervisor, before the script starts). */
int jobenv_node_network(const char *node, char *buf, size_t len);

#endif
