/* cgroup.c - mountinfo, /proc/self/cgroup and cgroup files (see cgroup.h). */
#include "cgroup.h"
#include "strfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* "id parent maj:min root point opts [tags] - type src super". */
int cg_mount_parse(char *line, struct cg_mount *m)
{
	char *save = NULL, *tok;
	int i = 0;

	memset(m, 0, sizeof(*m));
	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), i++) {
		if (i == 3)
			m->root = tok;
		else if (i == 4)
			m->point = tok;
		else if (i == 5)
			m->opts = tok;
		else if (i > 5 && strcmp(tok, "-") == 0)
			break;
	}
	if (!tok)
		return -1;
	m->fstype = strtok_r(NULL, " \n", &save);
	if (!m->fstype || !strtok_r(NULL, " \n", &save))
		return -1;
	m->super = strtok_r(NULL, " \n", &save);
	if (!m->root || !m->point || !m->opts || !m->super)
		return -1;
	unescape(m->root);
	unescape(m->point);
	return 0;
}

/* The option after P in a comma-separated list, or NULL. */
static const char *next_opt(const char *p)
{
	p = strchr(p, ',');
	return p ? p + 1 : NULL;
}

bool cg_has_opt(const char *list, const char *opt, size_t len)
{
	for (const char *p = list; p; p = next_opt(p)) {
		if (strncmp(p, opt, len) == 0 && (p[len] == ',' || p[len] == '\0'))
			return true;
	}
	return false;
}

/* Does the controller list CTL ("cpu,cpuacct", "name=systemd") name exactly
 * the hierarchy mounted with options SUPER? */
static bool controllers_match(const char *ctl, const char *super)
{
	if (!*ctl)
		return false;
	for (const char *p = ctl; p; p = next_opt(p)) {
		if (!cg_has_opt(super, p, strcspn(p, ",")))
			return false;
	}
	return true;
}

/* Our own cgroup in the hierarchy M, from /proc/self/cgroup ("0::/x" for
 * v2, "4:memory:/x" for v1), into OUT. */
static int own_cgroup(const struct cg_mount *m, bool v2, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -1;

	if (!f)
		return -1;
	while (rc < 0 && getline(&line, &cap, f) > 0) {
		char *ctl = strchr(line, ':'), *path;

		if (!ctl || !(path = strchr(++ctl, ':')))
			continue;
		*path++ = '\0';
		path[strcspn(path, "\n")] = '\0';
		if (v2 ? *ctl != '\0' || strncmp(line, "0:", 2) != 0
		       : !controllers_match(ctl, m->super))
			continue;
		rc = snprintf(out, len, "%s", path) < (int)len ? 0 : -1;
	}
	free(line);
	fclose(f);
	return rc;
}

/* The mount may show only part of the hierarchy (M->root): paths are then
 * relative to it. */
int cg_own_dir(const struct cg_mount *m, bool v2, char *out, size_t len)
{
	char own[PATH_MAX];
	size_t rlen = strlen(m->root);
	const char *rel;

	if (own_cgroup(m, v2, own, sizeof(own)) < 0)
		return strfmt_path(out, len, "%s", m->point);
	if (strcmp(m->root, "/") == 0)
		rel = own;
	else if (strncmp(own, m->root, rlen) == 0 && (own[rlen] == '/' || !own[rlen]))
		rel = own + rlen;
	else
		rel = "";
	if (strcmp(rel, "/") == 0)
		rel = "";
	return strfmt_path(out, len, "%s%s", m->point, rel);
}

int cg_find(const char *ctl, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -1;

	if (!f)
		return -1;
	while (rc < 0 && getline(&line, &cap, f) > 0) {
		struct cg_mount m;

		if (cg_mount_parse(line, &m) < 0 || !cg_has_opt(m.opts, "rw", 2))
			continue;
		if (ctl ? strcmp(m.fstype, "cgroup") != 0 || !cg_has_opt(m.super, ctl, strlen(ctl))
			: strcmp(m.fstype, "cgroup2") != 0)
			continue;
		rc = cg_own_dir(&m, !ctl, out, len);
	}
	free(line);
	fclose(f);
	if (rc < 0)
		errno = ENOENT;
	return rc;
}

int cg_write(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX];
	size_t len = strlen(value);
	ssize_t n;
	int fd;

	if (strfmt_path(path, sizeof(path), "%s/%s", dir, file) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, value, len);
	if (n != (ssize_t)len) {
		int e = n < 0 ? errno : EIO;

		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, e;

	if (len == 0 || strfmt_path(path, sizeof(path), "%s/%s", dir, file) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int cg_read_key(const char *dir, const char *file, const char *key, unsigned long long *v)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0, klen = strlen(key);
	int rc = -1;
	FILE *f;

	if (strfmt_path(path, sizeof(path), "%s/%s", dir, file) < 0)
		return -1;
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (rc < 0 && getline(&line, &cap, f) > 0) {
		char *end;

		if (strncmp(line, key, klen) != 0 || line[klen] != ' ')
			continue;
		errno = 0;
		*v = strtoull(line + klen + 1, &end, 10);
		if (!errno && end != line + klen + 1)
			rc = 0;
	}
	free(line);
	fclose(f);
	if (rc < 0)
		errno = ENOENT;
	return rc;
}

int cg_join(const char *procs)
{
	char buf[24], *p = buf + sizeof(buf);
	unsigned long pid = (unsigned long)getpid();
	ssize_t n;
	int fd;

	if (!procs[0])
		return 0;
	do {
		*--p = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, p, (size_t)(buf + sizeof(buf) - p));
	if (n < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int cg_rmdir(const char *dir, long ms)
{
	long deadline = mono_ms() + ms;
	struct timespec step = { 0, 10 * 1000000L };

	while (rmdir(dir) < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != EBUSY || mono_ms() >= deadline)
			return -1;
		nanosleep(&step, NULL);
	}
	return 0;
}
