/* libexec.c - find one of Pacer's helper programs (see libexec.h). */
#include "libexec.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* BUF := DIR/NAME when that is an executable file. */
static int try_path(char *buf, size_t len, const char *dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	return n > 0 && (size_t)n < len && access(buf, X_OK) == 0 ? 0 : -1;
}

int libexec_find(const char *name, const char *env, const char *installed, const char *built,
		 char *buf, size_t len, char *err, size_t errlen)
{
	const char *set = env ? getenv(env) : NULL;
	char self[PATH_MAX];
	ssize_t n;

	if (set && *set) {
		if ((size_t)snprintf(buf, len, "%s", set) < len)
			return 0;
		snprintf(err, errlen, "%s is too long a path", env);
		errno = ENAMETOOLONG;
		return -1;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (try_path(buf, len, self, name) == 0)
				return 0;
		}
	}
	if (installed && access(installed, X_OK) == 0 &&
	    (size_t)snprintf(buf, len, "%s", installed) < len)
		return 0;
	if (built && access(built, X_OK) == 0 && (size_t)snprintf(buf, len, "%s", built) < len)
		return 0;
	snprintf(err, errlen,
		 "cannot find %s (looked beside this program and at %s; install Pacer, or set "
		 "%s to its path)",
		 name, installed ? installed : "its install path", env ? env : "its variable");
	errno = ENOENT;
	return -1;
}
