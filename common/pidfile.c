/* pidfile.c - see pidfile.h. */
#include "pidfile.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "fileio.h"

int pidfile_write(const char *path)
{
	char tmp[4096], buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	/* The pid in the temporary name: two daemons given the same file
	 * never write into each other's half-done copy. */
	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return file_replace(path, tmp, buf, (size_t)len, 0644, NULL);
}
