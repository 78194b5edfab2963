/* libexec.h - find one of Pacer's helper programs (pacer-topocheck,
 * pacer-supervisor).
 *
 * In this order: the path in environment variable ENV when set (tests,
 * admins), NAME beside the running program (a build tree, or a folder
 * holding everything), INSTALLED (the libexec path fixed at build time),
 * then BUILT (where the build put it: daemons run from another build
 * folder, as tests do).
 */
#ifndef PACER_LIBEXEC_H
#define PACER_LIBEXEC_H

#include <stddef.h>

/* The helper's path into BUF.  0, or -1 with errno ENOENT and ERR saying
 * where it looked and how to fix it. */
int libexec_find(const char *name, const char *env, const char *installed, const char *built,
		 char *buf, size_t len, char *err, size_t errlen);

#endif
