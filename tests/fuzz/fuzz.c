/* fuzz.c - helpers for the fuzz targets (see fuzz.h). */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static char tmpdir[PATH_MAX];

static void remove_tmpdir(void);

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: invariant broken: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	remove_tmpdir(); /* abort() skips atexit */
	abort();
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fuzz_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_tmpdir(void)
{
	/* Only the process that made it: a forked child exits without it. */
	if (tmpdir[0])
		fuzz_rmtree(tmpdir);
}

const char *fuzz_tmpdir(void)
{
	if (tmpdir[0])
		return tmpdir;
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	if (snprintf(tmpdir, sizeof(tmpdir), "%s/pacer-fuzz.XXXXXX", base) >= (int)sizeof(tmpdir) ||
	    !mkdtemp(tmpdir)) {
		fprintf(stderr, "fuzz: cannot make a folder in %s: %s\n", base, strerror(errno));
		abort();
	}
	atexit(remove_tmpdir);
	return tmpdir;
}

void fuzz_write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = buf;

	if (fd < 0)
		goto failed;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto failed;
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) < 0)
		goto failed;
	return;
failed:
	fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
	abort();
}

void fuzz_quiet_logs(void)
{
	static int done;

	if (done++)
		return;
	log_init("fuzz", LOG_DEBUG);
	if (!getenv("PACER_FUZZ_LOG") && log_open("/dev/null") < 0)
		log_init("fuzz", LOG_ERR);
}
