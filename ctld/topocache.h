/* topocache.h - one loaded topology per distinct machine layout.
 *
 * A thousand identical nodes send the same compressed XML: the controller
 * loads it once and every node points at the same immutable model.  Entries
 * are keyed by the node's hash AND compared byte for byte, so a hash
 * collision can never hand a node another machine's layout.
 */
#ifndef PACER_TOPOCACHE_H
#define PACER_TOPOCACHE_H

#include <stddef.h>
#include <stdint.h>

struct topo;

/* The model for compressed XML BUF[0..len) with GPUS extra conf GPUs (see
 * topo_import), loaded or shared; each call takes a reference.  NULL with
 * errno and ERR when it cannot be loaded. */
struct topo *topocache_get(const void *buf, size_t len, uint32_t gpus, char *err, size_t errlen);

/* Drop a reference from topocache_get (NULL is fine). */
void topocache_put(struct topo *t);

/* Distinct topologies loaded now. */
size_t topocache_count(void);

/* Free every entry (at exit). */
void topocache_destroy(void);

#endif
