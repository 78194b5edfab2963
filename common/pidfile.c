/* pidfile.c - see pidfile.h. */
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int pidfile_write(const char *path)
{
	char tmp[4096], buf[32];
	int len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	int fd = -1, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, buf, (size_t)len) != len)
		goto failed;
	if (close(fd) < 0) {
		fd = -1;
		goto failed;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto failed;
	return 0;
failed:
	saved = errno ? errno : EIO;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}
