/* topocache.h - one loaded topology per distinct machine layout.
 *
 * A thousand identical nodes send the same compressed XML: the controller
 * checks and loads it once and every node points at the same immutable
 * model.  Entries are keyed by the bytes (and the conf GPU count), compared
 * byte for byte, so no hash collision can hand a node another machine's
 * layout.
 *
 * A topology never seen before is first imported in a helper process
 * (topocheck.h), because hwloc's own import can crash on hostile input;
 * only one that passed is imported here.  Refusals are remembered too (the
 * newest TOPOCACHE_REFUSED_MAX, holding at most TOPOCACHE_REFUSED_BYTES
 * besides the newest), so a broken node that keeps registering costs one
 * check.
 */
#ifndef PACER_TOPOCACHE_H
#define PACER_TOPOCACHE_H

#include <stddef.h>
#include <stdint.h>

#define TOPOCACHE_REFUSED_MAX   16
#define TOPOCACHE_REFUSED_BYTES ((size_t)16 << 20)

struct event_base;
struct topo;
struct topocache_wait;

/* Told the outcome of topocache_request: T is a reference (the caller's to
 * put), or NULL and ERR says why the topology was refused. */
typedef void topocache_done_fn(void *arg, struct topo *t, const char *err);

/* The model for compressed XML BUF[0..len) with GPUS extra conf GPUs (see
 * topo_import), checked off the loop if it is new.  DONE runs later on
 * BASE's loop, never inside this call, unless the wait is cancelled first.
 * NULL with errno (ENOMEM) when nothing could start; DONE then never runs. */
struct topocache_wait *topocache_request(struct event_base *base, const void *buf, size_t len,
					 uint32_t gpus, topocache_done_fn *done, void *arg);

/* Forget a wait (its node went away): DONE will not run.  NULL is fine. */
void topocache_cancel(struct topocache_wait *w);

/* The same, waiting for the check (up to TOPO_CHECK_TIMEOUT_MS): only for
 * startup, before the loop runs.  A reference, or NULL with errno and ERR. */
struct topo *topocache_get(const void *buf, size_t len, uint32_t gpus, char *err, size_t errlen);

/* Drop a reference from topocache_get or a wait (NULL is fine). */
void topocache_put(struct topo *t);

/* Distinct topologies loaded now. */
size_t topocache_count(void);

/* Free every entry and wait (at exit; DONE is not called). */
void topocache_destroy(void);

#endif
