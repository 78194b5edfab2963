/* fileio.h - writing a file whole, and replacing one in a single step.
 *
 * Readers of Pacer's small state files (pid files, the node spool log, the
 * controller's remembered topologies) may look at any moment: a file is
 * never rewritten in place, where a reader could find it empty or half
 * written, but written beside and renamed over.
 */
#ifndef PACER_FILEIO_H
#define PACER_FILEIO_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Write all LEN bytes of BUF to FD, through short writes and EINTR.  0 or
 * -1 with errno. */
int fd_write_all(int fd, const void *buf, size_t len);

/* Replace PATH by BUF[0..LEN): write TMP (created with MODE; a symlink
 * there is refused), then rename it over PATH.  No fsync: for files that
 * must survive a power cut, this is not enough.  ST, when not NULL, gets
 * the new file's fstat.  0, or -1 with errno and PATH left as it was (TMP
 * removed). */
int file_replace(const char *path, const char *tmp, const void *buf, size_t len, mode_t mode,
		 struct stat *st);

#endif
