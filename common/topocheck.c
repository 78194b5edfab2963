/* topocheck.c - the topology check in a helper process (see topocheck.h).
 *
 * The topology goes to the helper's stdin through a memfd (written at once,
 * so a slow helper never blocks the caller), the verdict comes back on its
 * stdout, a pidfd says when it has exited.  It is started with posix_spawn,
 * which neither copies a large caller nor runs its code in a child of a
 * threaded process.
 */
#include "topocheck.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fileio.h"
#include "libexec.h"
#include "timefmt.h"

#if !defined(PACER_TOPOCHECK_INSTALLED) || !defined(PACER_TOPOCHECK_BUILT)
#error "PACER_TOPOCHECK_INSTALLED and _BUILT must name the installed and built pacer-topocheck"
#endif

#define VERDICT_MAX 1024 /* what the helper may say; far below a pipe's size */

extern char **environ;

struct topo_check {
	pid_t pid;
	int pidfd; /* readable once the helper exited */
	int out;   /* the helper's stdout */
};

/* Where the helper is (see topocheck.h), into BUF; -1 with ENOENT. */
static int helper_path(char *buf, size_t len, char *err, size_t errlen)
{
	return libexec_find("pacer-topocheck", "PACER_TOPOCHECK", PACER_TOPOCHECK_INSTALLED,
			    PACER_TOPOCHECK_BUILT, buf, len, err, errlen);
}

/* The environment with ASAN_OPTIONS set so that a sanitizer-built helper
 * dies of the signal (reported as a crash) rather than printing a report
 * and exiting 1, and does not count hwloc's leaks at exit.  Harmless
 * otherwise.  NULL with errno. */
static char **helper_env(void)
{
	static char asan[] = "ASAN_OPTIONS=handle_segv=0:handle_sigbus=0:handle_abort=0:"
			     "handle_sigfpe=0:handle_sigill=0:detect_leaks=0";
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0)
			env[k++] = environ[i];
	env[k++] = asan;
	env[k] = NULL;
	return env;
}

/* Start the helper at PATH with IN, OUT and NULL as its stdin, stdout and
 * stderr and no other descriptor.  posix_spawn, not fork: the controller
 * may be large and threaded, and this runs on its event loop; the helper
 * sets its own limits (pacer-topocheck.c).  Its pid, or -1 with errno. */
static pid_t spawn_helper(const char *path, char *const argv[], char *const env[], int in, int out,
			  int null)
{
	posix_spawn_file_actions_t fa;
	pid_t pid = -1;
	int rc = posix_spawn_file_actions_init(&fa);

	if (rc == 0 && (rc = posix_spawn_file_actions_adddup2(&fa, in, 0)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, out, 1)) == 0 &&
	    (rc = posix_spawn_file_actions_adddup2(&fa, null, 2)) == 0 &&
	    (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0)
		rc = posix_spawn(&pid, path, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return pid;
}

struct topo_check *topo_check_start(const void *buf, size_t len, uint32_t gpus, char *err,
				    size_t errlen)
{
	char path[PATH_MAX], gpus_arg[16];
	char *argv[3] = { path, gpus_arg, NULL };
	char **env = NULL;
	int in = -1, pipefd[2] = { -1, -1 }, null = -1, saved;
	struct topo_check *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "out of memory starting a topology check");
		return NULL;
	}
	c->pid = -1;
	c->pidfd = c->out = -1;
	if (helper_path(path, sizeof(path), err, errlen) < 0)
		goto failed;
	snprintf(gpus_arg, sizeof(gpus_arg), "%u", gpus);
	in = memfd_create("pacer-topology", MFD_CLOEXEC);
	if (in < 0 || fd_write_all(in, buf, len) < 0 || lseek(in, 0, SEEK_SET) < 0) {
		snprintf(err, errlen, "cannot hand a topology to its check: %s", strerror(errno));
		goto failed;
	}
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	env = helper_env();
	if (null < 0 || !env || pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot start a topology check: %s", strerror(errno));
		goto failed;
	}
	c->pid = spawn_helper(path, argv, env, in, pipefd[1], null);
	if (c->pid < 0) {
		snprintf(err, errlen, "the topology check could not be run: %s: %s", path,
			 strerror(errno));
		goto failed;
	}
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (c->pidfd < 0) {
		snprintf(err, errlen, "cannot watch the topology check: pidfd_open: %s",
			 strerror(errno));
		goto failed;
	}
	c->out = pipefd[0];
	close(pipefd[1]);
	close(in);
	close(null);
	free(env);
	return c;
failed:
	saved = errno;
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (in >= 0)
		close(in);
	if (null >= 0)
		close(null);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	free(env);
	free(c);
	errno = saved ? saved : EAGAIN;
	return NULL;
}

int topo_check_fd(const struct topo_check *c)
{
	return c->pidfd;
}

/* What the helper wrote (its stdout is at EOF once it exited). */
static void read_verdict(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size - 1) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
}

/* The helper's words, kept to one printable line. */
static void copy_reason(const char *s, char *err, size_t errlen)
{
	size_t k = 0;

	for (; *s && *s != '\n' && k + 1 < errlen; s++)
		err[k++] = (*s >= ' ' && *s < 0x7f) ? *s : '?';
	if (errlen)
		err[k] = '\0';
}

int topo_check_finish(struct topo_check *c, char *err, size_t errlen)
{
	struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
	char verdict[VERDICT_MAX];
	bool late = poll(&p, 1, 0) == 0;
	int status = 0, rc = -1;

	if (late)
		kill(c->pid, SIGKILL);
	while (waitpid(c->pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "cannot reap the topology check: %s",
				 strerror(errno));
			errno = ECHILD;
			goto out;
		}
	}
	read_verdict(c->out, verdict, sizeof(verdict));
	errno = EINVAL;
	if (late) {
		snprintf(err, errlen, "the hwloc import took longer than %d s",
			 TOPO_CHECK_TIMEOUT_MS / 1000);
	} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU) {
		snprintf(err, errlen, "the hwloc import ran out of CPU time (%d s)",
			 TOPO_CHECK_TIMEOUT_MS / 1000 + 1);
	} else if (WIFSIGNALED(status)) {
		snprintf(err, errlen, "the hwloc import crashed (signal %d, %s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	} else if (WEXITSTATUS(status) == 0 && strcmp(verdict, "ok\n") == 0) {
		rc = 0;
	} else if (strncmp(verdict, "refused\t", 8) == 0) {
		copy_reason(verdict + 8, err, errlen);
	} else if (WEXITSTATUS(status) == 127 && !verdict[0]) {
		snprintf(err, errlen, "the topology check (pacer-topocheck) could not be run");
		errno = ENOEXEC;
	} else {
		snprintf(err, errlen,
			 "the topology check failed (exit status %d, most likely out of memory: "
			 "it may use %llu MiB)",
			 WEXITSTATUS(status), (unsigned long long)(TOPO_CHECK_MEM_MAX >> 20));
	}
out:;
	int saved = errno;
	close(c->pidfd);
	close(c->out);
	free(c);
	errno = saved;
	return rc;
}

int topo_check_isolated(const void *buf, size_t len, uint32_t gpus, char *err, size_t errlen)
{
	struct topo_check *c = topo_check_start(buf, len, gpus, err, errlen);
	uint64_t deadline = timefmt_monotonic_ms() + TOPO_CHECK_TIMEOUT_MS;

	if (!c)
		return -1;
	for (;;) {
		uint64_t now = timefmt_monotonic_ms();
		struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
		if (now >= deadline)
			break;
		int n = poll(&p, 1, (int)(deadline - now));
		if (n > 0 || (n < 0 && errno != EINTR))
			break;
	}
	return topo_check_finish(c, err, errlen);
}

int topo_check_file(const char *path, uint32_t gpus, char *err, size_t errlen)
{
	struct stat st;
	unsigned char *xml = NULL;
	Bytef *z = NULL;
	uLongf zl;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	/* as much as topo_import inflates */
	if (st.st_size <= 0 || st.st_size > (64 << 20)) {
		snprintf(err, errlen, "%s is not an hwloc XML file of 1 byte to 64 MiB", path);
		errno = EINVAL;
		goto out;
	}
	xml = malloc((size_t)st.st_size);
	zl = compressBound((uLong)st.st_size);
	z = malloc(zl);
	if (!xml || !z) {
		snprintf(err, errlen, "out of memory reading %s", path);
		errno = ENOMEM;
		goto out;
	}
	do
		n = read(fd, xml, (size_t)st.st_size);
	while (n < 0 && errno == EINTR);
	if (n != st.st_size) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 n < 0 ? strerror(errno) : "it changed while read");
		goto out;
	}
	/* the fastest level: this form only crosses a pipe */
	if (compress2(z, &zl, xml, (uLong)n, 1) != Z_OK) {
		snprintf(err, errlen, "cannot compress %s", path);
		errno = ENOMEM;
		goto out;
	}
	rc = topo_check_isolated(z, zl, gpus, err, errlen);
out:;
	int saved = errno;
	if (fd >= 0)
		close(fd);
	free(xml);
	free(z);
	errno = saved;
	return rc;
}
