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

void jobenv_free(char **env);

#endif
