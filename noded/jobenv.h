/* jobenv.h - the PACER_* environment of a job's batch script: who the job
 * is, and its share of this node as the controller allocated it.
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

#endif
