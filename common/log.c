/* log.c - timestamped log lines to stderr or a file.
 *
 * Any thread may call log_msg: each line is formatted on the stack and
 * written with a single write(), so lines from different threads never
 * interleave, and log_reopen swaps the file under the same descriptor with
 * dup2() so a writer never sees a closed one.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Longer messages are cut and end in "...": a log line is for a human. */
#define LOG_LINE_MAX 4096

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static char log_progname[64];
static atomic_int log_level = LOG_INFO;
static atomic_int log_fd = STDERR_FILENO;
static char log_path[PATH_MAX];

void log_init(const char *progname, enum log_level level)
{
	const char *slash = progname ? strrchr(progname, '/') : NULL;

	if (slash)
		progname = slash + 1;
	snprintf(log_progname, sizeof(log_progname), "%s", progname ? progname : "pacer");
	atomic_store(&log_level, (int)level);
}

static int open_log(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

/* Point the log at PATH.  The first file takes over from stderr; later ones
 * replace it under the same descriptor, which other threads may be using. */
static int attach(const char *path)
{
	int fd = open_log(path), cur = atomic_load(&log_fd), saved;

	if (fd < 0)
		return -1;
	if (cur == STDERR_FILENO) {
		atomic_store(&log_fd, fd);
		return 0;
	}
	if (dup2(fd, cur) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

int log_open(const char *path)
{
	if (!path || !*path || strlen(path) >= sizeof(log_path)) {
		errno = path && *path ? ENAMETOOLONG : EINVAL;
		return -1;
	}
	if (attach(path) < 0)
		return -1;
	memcpy(log_path, path, strlen(path) + 1);
	return 0;
}

int log_reopen(void)
{
	return log_path[0] ? attach(log_path) : 0;
}

enum log_level log_set_level(enum log_level level)
{
	return (enum log_level)atomic_exchange(&log_level, (int)level);
}

int log_level_parse(const char *s, enum log_level *level)
{
	for (int i = LOG_ERR; s && i <= LOG_DEBUG; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	errno = EINVAL;
	return -1;
}

/* "2026-11-26T02:40:01.123Z" into BUF; returns its length. */
static size_t format_stamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	/* The wall clock is right here: the stamp is read by people and
	 * matched against other machines' logs, never used for a timeout. */
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!gmtime_r(&ts.tv_sec, &tm))
		return (size_t)snprintf(buf, size, "0000-00-00T00:00:00.000Z");
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return n;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	int saved = errno;
	size_t n, start;
	va_list ap;
	int m;

	if ((int)level > atomic_load(&log_level) || level < LOG_ERR || level > LOG_DEBUG)
		return;
	n = format_stamp(line, sizeof(line));
	n += (size_t)snprintf(line + n, sizeof(line) - n, " %s[%ld]: %s: ",
			      log_progname[0] ? log_progname : program_invocation_short_name,
			      (long)getpid(), level_names[level]);
	start = n;
	va_start(ap, fmt);
	errno = saved; /* so that %m means the caller's errno */
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if ((size_t)m >= sizeof(line) - n - 1) {
		n = sizeof(line) - 5;
		memcpy(line + n, "...", 3);
		n += 3;
	} else {
		n += (size_t)m;
	}
	while (n > start && line[n - 1] == '\n')
		n--;
	/* One message, one line: embedded newlines would fool log readers. */
	for (size_t i = start; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	while (write(atomic_load(&log_fd), line, n) < 0 && errno == EINTR)
		;
	errno = saved;
}
