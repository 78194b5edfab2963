/* pmixsrv.h - the PMIx server a node's job supervisor runs for direct launch
 * of MPI programs (`pacer run -n 8 ./mpi_app`, like `srun --mpi=pmix`).
 *
 * Contract:
 * - One pmixsrv per process (PMIx allows one server per process), serving
 *   one step at a time: pmixsrv_register gives it the step's whole job map,
 *   pmixsrv_client_env registers each local rank before it is forked and
 *   says what to add to its environment, pmixsrv_unregister ends the step.
 * - PMIx calls its server module on its own progress thread.  pmixsrv
 *   queues every such upcall and delivers it to the host on the host's
 *   event_base (an eventfd read by that loop), so the ops and the serve
 *   callbacks always run on the loop's thread, never concurrently.  Every
 *   function here must be called from that thread too.
 * - No call waits on anything but PMIx's own progress thread doing local
 *   work (registration is a few milliseconds); nothing waits on the network
 *   or on a rank.  Cross-node work (a fence) is the host's, asynchronously,
 *   through ops->fence and pmixsrv_fence_done.
 * - Open MPI's modex (its ranks' addresses) travels in the first fence.  A
 *   rank wanting a peer's data that no fence brought makes PMIx ask the
 *   host (direct modex): ops->dmodex on the asking node, the host asks the
 *   peer's node, whose host calls pmixsrv_dmodex_serve; without
 *   ops->dmodex such requests fail with PMIX_ERR_NOT_SUPPORTED.
 * Functions return 0 or -1 with errno and ERR saying what failed.
 */
#ifndef PACER_NODED_PMIXSRV_H
#define PACER_NODED_PMIXSRV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct pmixsrv;
struct pmixsrv_fence;  /* one fence in progress, until pmixsrv_fence_done */
struct pmixsrv_dmodex; /* one direct modex request, until pmixsrv_dmodex_done */

/* A step's whole job map: every node and every rank, not only this node's. */
struct pmixsrv_map {
	const char *nspace; /* e.g. "pacer.12.0" (job 12, step 0); at most 255 bytes */
	uint32_t job_id, step_id;
	uint32_t nnodes;
	const char *const *nodes;          /* [nnodes] host names, node id = index */
	const uint32_t *const *node_ranks; /* [nnodes] arrays of global ranks on each node */
	const uint32_t *node_nranks;       /* [nnodes], each at least 1 */
	uint32_t this_node;                /* index of the node this server runs on */
	uint32_t ntasks;                   /* ranks 0..ntasks-1, each on exactly one node */
	uid_t uid;                         /* the ranks' user and group */
	gid_t gid;
};

struct pmixsrv_ops {
	/* Gather DATA (this node's contribution to fence number SEQ of the step,
	 * counted from 0, the same on every node) from every node of the step.
	 * DATA stays valid until the host calls pmixsrv_fence_done(TOKEN,
	 * status, all, len), exactly once, with the concatenation of every
	 * node's data in node order, each exactly as its PMIx gave it (LEN may
	 * be 0), or with a non-zero status if the fence failed (a node lost):
	 * the local ranks' fence then returns an error. */
	void (*fence)(void *arg, uint32_t seq, const void *data, size_t len,
		      struct pmixsrv_fence *token);
	/* A local rank called PMIx_Abort (MPI_Abort): the host is to end the
	 * step on every node.  Only the aborting rank's node hears of it.  MSG
	 * is valid during the call.  May be NULL (aborts are then ignored). */
	void (*abort)(void *arg, uint32_t rank, int status, const char *msg);
	/* A local rank wants the data of rank RANK, which runs on node NODE
	 * (another: PMIx answers for local ranks itself).  The host asks that
	 * node, whose host calls pmixsrv_dmodex_serve, and brings the answer
	 * back with pmixsrv_dmodex_done(TOKEN, ...), exactly once.  May be
	 * NULL. */
	void (*dmodex)(void *arg, uint32_t rank, uint32_t node, struct pmixsrv_dmodex *token);
};

/* The answer to pmixsrv_dmodex_serve: STATUS 0 with DATA (LEN bytes, valid
 * during the call) to send back to the asking node, or -1. */
typedef void pmixsrv_serve_fn(void *arg, int status, const void *data, size_t len);

/* Start the PMIx server of this process.  TMPDIR (existing, absolute, at
 * most 200 bytes, for this server alone) gets PMIx's rendezvous files and
 * each step's directory for its ranks; it should be on a memory file system
 * (the ranks' shared-memory segments live there) and be searchable by the
 * ranks' users.  OPS and ARG are kept; upcalls are delivered on BASE. */
int pmixsrv_init(struct event_base *base, const char *tmpdir, const struct pmixsrv_ops *ops,
		 void *arg, struct pmixsrv **out, char *err, size_t errlen);

/* Check MAP and register the step with PMIx: the job info every rank reads
 * at MPI_Init (sizes, node and proc maps, local peers, each rank's data).
 * Creates TMPDIR/NSPACE owned by the ranks' user.  EBUSY if a step is
 * registered already, EINVAL with ERR naming the field if MAP is wrong. */
int pmixsrv_register(struct pmixsrv *ps, const struct pmixsrv_map *map, char *err, size_t errlen);

/* Before forking local rank RANK: register it as a client and return in
 * *ENV the variables to add to its environment (a NULL-terminated array of
 * "NAME=value"; they must win over the user's).  Free with pmixsrv_env_free.
 * EINVAL if RANK does not run on this node. */
int pmixsrv_client_env(struct pmixsrv *ps, uint32_t rank, char ***env, char *err, size_t errlen);

/* Free an array from pmixsrv_client_env (NULL is fine). */
void pmixsrv_env_free(char **env);

/* Complete a fence given to ops->fence: STATUS 0 with ALL (LEN bytes, copied:
 * the host may free it on return), or non-zero for failure (ALL ignored).
 * TOKEN is invalid afterwards. */
void pmixsrv_fence_done(struct pmixsrv_fence *token, int status, const void *all, size_t len);

/* Another node asks for the data of local rank RANK (its ops->dmodex):
 * PMIx gives it once the rank has committed it, and DONE(ARG, ...) is called
 * on the loop then, exactly once unless PS is destroyed first.  EINVAL if
 * RANK is not on this node. */
int pmixsrv_dmodex_serve(struct pmixsrv *ps, uint32_t rank, pmixsrv_serve_fn *done, void *arg,
			 char *err, size_t errlen);

/* Complete a request given to ops->dmodex: STATUS 0 with DATA (LEN bytes,
 * copied), as the owning node's pmixsrv_dmodex_serve gave it, or non-zero.
 * TOKEN is invalid afterwards. */
void pmixsrv_dmodex_done(struct pmixsrv_dmodex *token, int status, const void *data, size_t len);

/* End the registered step (after its ranks exited or were killed): fails
 * the fences and direct modex requests still open, forgets the step in PMIx
 * and removes its directory.  Tokens of that step must not be used
 * afterwards.  No-op if no step is registered. */
void pmixsrv_unregister(struct pmixsrv *ps);

/* pmixsrv_unregister, then stop the PMIx server and free PS (NULL is fine). */
void pmixsrv_destroy(struct pmixsrv *ps);

#endif
