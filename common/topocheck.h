/* topocheck.h - try a topology in a throwaway process before trusting it.
 *
 * A node's topology is input from the network, and hwloc 2.9's XML import
 * crashes (or aborts, or leaks) on some malformed files.  So the controller
 * first imports it in pacer-topocheck, a small helper process started for
 * the purpose (exec'd, not a fork of the controller: see docs/decisions.md),
 * with at most TOPO_CHECK_MEM_MAX of memory and TOPO_CHECK_TIMEOUT_MS of
 * time.  The helper runs topo_import (inflate, hwloc, Pacer's own layout and
 * checks) and says ok or why not over a pipe; a crash, an abort, a limit or
 * a timeout is a refusal too.  Only a topology that passed is imported in
 * the caller's process.
 *
 * The helper is found as $PACER_TOPOCHECK, else pacer-topocheck beside the
 * running program, else where `make install` puts it, else in the build
 * tree it was built in.
 */
#ifndef PACER_TOPOCHECK_H
#define PACER_TOPOCHECK_H

#include <stddef.h>
#include <stdint.h>

#define TOPO_CHECK_TIMEOUT_MS 10000               /* wall clock, the caller's timer */
#define TOPO_CHECK_MEM_MAX    ((uint64_t)1 << 30) /* address space of the helper */

struct topo_check;

/* Start checking BUF[0..len) (what topo_import takes, GPUS as there) in a
 * new helper process.  Never blocks on the helper.  NULL with errno and ERR
 * when no check could start (no helper, no process): say so, it is not the
 * topology's fault. */
struct topo_check *topo_check_start(const void *buf, size_t len, uint32_t gpus, char *err,
				    size_t errlen);

/* A descriptor that becomes readable when the helper has exited: watch it
 * (poll, libevent), then call topo_check_finish. */
int topo_check_fd(const struct topo_check *c);

/* The verdict; reaps the helper and frees C.  Called before the helper
 * exited (the caller's time limit passed), it kills the helper and refuses
 * the topology as too slow.  0: safe to import; -1 with ERR saying why not
 * (errno EINVAL: the topology is refused; anything else: the check itself
 * failed). */
int topo_check_finish(struct topo_check *c, char *err, size_t errlen);

/* The same, waiting for the verdict (at most TOPO_CHECK_TIMEOUT_MS): for
 * startup, tests and tools.  0 = safe to import, -1 with ERR filled. */
int topo_check_isolated(const void *buf, size_t len, uint32_t gpus, char *err, size_t errlen);

/* The hwloc XML file PATH, checked the same way (a node daemon's emulated
 * topology, before hwloc loads it in the daemon).  0 or -1 as above. */
int topo_check_file(const char *path, uint32_t gpus, char *err, size_t errlen);

#endif
