/* unixsock.c - unix stream sockets named by paths of any length (see unixsock.h). */
#include "unixsock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Fill SA for PATH; when PATH is too long, through a descriptor of its
 * directory, left open in *DIRFD (else -1) for the caller to close after the
 * bind or connect. */
static int make_addr(const char *path, struct sockaddr_un *sa, int *dirfd)
{
	size_t len = strlen(path);

	*dirfd = -1;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	if (len < sizeof(sa->sun_path)) {
		memcpy(sa->sun_path, path, len + 1);
		return 0;
	}
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	if (!slash || slash == path || (size_t)(slash - path) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd < 0)
		return -1;
	int n =
	    snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", *dirfd, slash + 1);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
		close(*dirfd);
		*dirfd = -1;
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int unixsock_connect(const char *path)
{
	struct sockaddr_un sa;
	int dirfd, fd, e;

	if (make_addr(path, &sa, &dirfd) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		close(fd);
		errno = e;
		fd = -1;
	}
	e = errno;
	if (dirfd >= 0)
		close(dirfd);
	errno = e;
	return fd;
}

/* A socket file at PATH that nobody answers on may go. */
static int remove_stale(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	fd = unixsock_connect(path);
	if (fd >= 0) {
		close(fd);
		errno = EADDRINUSE;
		return -1;
	}
	if (errno != ECONNREFUSED)
		return -1;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int unixsock_listen(const char *path, int backlog)
{
	struct sockaddr_un sa;
	int dirfd = -1, fd = -1, e;

	if (remove_stale(path) < 0 || make_addr(path, &sa, &dirfd) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto failed;
	/* Owner only from the start: no moment where another user could connect. */
	mode_t old = umask(077);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(fd, backlog) < 0)
		goto failed;
	if (dirfd >= 0)
		close(dirfd);
	return fd;
failed:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	errno = e;
	return -1;
}
