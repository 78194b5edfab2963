/* spool.c - per-job state records (see spool.h).
 *
 * The format is plain text so an admin can read what a node believes:
 *
 *   pacer-spool 1
 *   job 42
 *   status running
 *   pid 1234
 *   pid_start 98765
 *   boot_id 0f1e...
 *   start_time 1764124801
 *   state COMPLETED            (the rest only once ended)
 *   exit_code 0
 *   term_signal 0
 *   end_time 1764124901
 *   reason free text to the end of the line
 *   end
 *
 * The closing "end" line tells a complete record from a cut one.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pacer.pb-c.h"

#define SPOOL_MAGIC "pacer-spool 1"
/* A record is a few hundred bytes; anything much larger is not one. */
#define SPOOL_FILE_MAX 8192

static int rec_path(char *buf, size_t size, const char *dir, uint32_t job_id, bool tmp)
{
	int n = snprintf(buf, size, "%s/job-%" PRIu32 ".state%s", dir, job_id, tmp ? ".tmp" : "");

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* "COMPLETED" for PACER__JOB_STATE__JOB_COMPLETED: the enum's name without
 * its prefix, as users see states. */
static const char *state_name(int state)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&pacer__job_state__descriptor, state);

	if (!v || strncmp(v->name, "JOB_", 4) != 0)
		return NULL;
	return v->name + 4;
}

static int state_parse(const char *s, int *state)
{
	char full[64];
	const ProtobufCEnumValue *v;

	snprintf(full, sizeof(full), "JOB_%s", s);
	v = protobuf_c_enum_descriptor_get_value_by_name(&pacer__job_state__descriptor, full);
	if (!v)
		return -1;
	*state = v->value;
	return 0;
}

/* Copy S into a single line: a reason must not end the record early. */
static void one_line(char *dst, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		dst[i] = (s[i] == '\n' || s[i] == '\r') ? ' ' : s[i];
	dst[i] = '\0';
}

static int format_rec(const struct spool_rec *r, char *buf, size_t size)
{
	char reason[SPOOL_REASON_MAX], boot[SPOOL_BOOT_ID_MAX];
	const char *state = state_name(r->state);
	int n;

	one_line(boot, sizeof(boot), r->boot_id);
	n = snprintf(buf, size,
		     SPOOL_MAGIC "\njob %" PRIu32 "\nstatus %s\npid %ld\npid_start %" PRIu64
				 "\nboot_id %s\nstart_time %" PRId64 "\n",
		     r->job_id, r->ended ? "ended" : "running", (long)r->pid, r->pid_start, boot,
		     r->start_time);
	if (n < 0 || (size_t)n >= size)
		goto toobig;
	if (r->ended) {
		if (!state) {
			errno = EINVAL;
			return -1;
		}
		one_line(reason, sizeof(reason), r->reason);
		n += snprintf(buf + n, size - (size_t)n,
			      "state %s\nexit_code %" PRId32 "\nterm_signal %" PRId32
			      "\nend_time %" PRId64 "\nreason %s\n",
			      state, r->exit_code, r->term_signal, r->end_time, reason);
		if ((size_t)n >= size)
			goto toobig;
	}
	n += snprintf(buf + n, size - (size_t)n, "end\n");
	if ((size_t)n >= size)
		goto toobig;
	return n;
toobig:
	errno = E2BIG;
	return -1;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int spool_write(const char *dir, const struct spool_rec *rec)
{
	char path[PATH_MAX], tmp[PATH_MAX], buf[SPOOL_FILE_MAX];
	int len, fd, saved;

	len = format_rec(rec, buf, sizeof(buf));
	if (len < 0 || rec_path(path, sizeof(path), dir, rec->job_id, false) < 0 ||
	    rec_path(tmp, sizeof(tmp), dir, rec->job_id, true) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, buf, (size_t)len) < 0)
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
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

/* Parsing ----------------------------------------------------------------*/

struct parse {
	const char *file;
	int line;
	char *err;
	size_t errlen;
};

static int bad(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct parse *p, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%d: %s", p->file, p->line, msg);
	errno = EBADMSG;
	return -1;
}

static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s == '-' || *s == '\0')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* Apply one "KEY VALUE" line to R. */
static int parse_field(struct parse *p, struct spool_rec *r, const char *key, const char *val)
{
	int64_t v;
	uint64_t u;

	if (strcmp(key, "job") == 0) {
		if (parse_i64(val, 0, UINT32_MAX, &v) < 0)
			return bad(p, "job id '%s' is not a number", val);
		r->job_id = (uint32_t)v;
	} else if (strcmp(key, "status") == 0) {
		if (strcmp(val, "running") != 0 && strcmp(val, "ended") != 0)
			return bad(p, "status '%s' is neither running nor ended", val);
		r->ended = strcmp(val, "ended") == 0;
	} else if (strcmp(key, "pid") == 0) {
		if (parse_i64(val, 0, INT_MAX, &v) < 0)
			return bad(p, "pid '%s' is not a number", val);
		r->pid = (pid_t)v;
	} else if (strcmp(key, "pid_start") == 0) {
		if (parse_u64(val, &u) < 0)
			return bad(p, "pid_start '%s' is not a number", val);
		r->pid_start = u;
	} else if (strcmp(key, "boot_id") == 0) {
		if (strlen(val) >= sizeof(r->boot_id))
			return bad(p, "boot_id '%s' is too long", val);
		strcpy(r->boot_id, val);
	} else if (strcmp(key, "start_time") == 0) {
		if (parse_i64(val, INT64_MIN, INT64_MAX, &r->start_time) < 0)
			return bad(p, "start_time '%s' is not a number", val);
	} else if (strcmp(key, "end_time") == 0) {
		if (parse_i64(val, INT64_MIN, INT64_MAX, &r->end_time) < 0)
			return bad(p, "end_time '%s' is not a number", val);
	} else if (strcmp(key, "state") == 0) {
		if (state_parse(val, &r->state) < 0)
			return bad(p, "unknown job state '%s'", val);
	} else if (strcmp(key, "exit_code") == 0) {
		if (parse_i64(val, INT32_MIN, INT32_MAX, &v) < 0)
			return bad(p, "exit_code '%s' is not a number", val);
		r->exit_code = (int32_t)v;
	} else if (strcmp(key, "term_signal") == 0) {
		if (parse_i64(val, 0, INT32_MAX, &v) < 0)
			return bad(p, "term_signal '%s' is not a number", val);
		r->term_signal = (int32_t)v;
	} else if (strcmp(key, "reason") == 0) {
		snprintf(r->reason, sizeof(r->reason), "%s", val);
	} else {
		return bad(p, "unknown key '%s'", key);
	}
	return 0;
}

/* Parse the text of a record (BUF, NUL-terminated, modified) into R. */
static int parse_rec(struct parse *p, char *buf, struct spool_rec *r)
{
	bool complete = false, have_job = false, have_state = false;
	char *save = NULL, *line;

	memset(r, 0, sizeof(*r));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		p->line++;
		if (complete)
			return bad(p, "text after the closing 'end' line");
		if (p->line == 1) {
			if (strcmp(line, SPOOL_MAGIC) != 0)
				return bad(p, "not a pacer spool record (the first line is not "
					   "'%s')", SPOOL_MAGIC);
			continue;
		}
		if (strcmp(line, "end") == 0) {
			complete = true;
			continue;
		}
		char *sp = strchr(line, ' ');
		if (!sp)
			return bad(p, "line '%s' is not 'key value'", line);
		*sp = '\0';
		if (parse_field(p, r, line, sp + 1) < 0)
			return -1;
		have_job |= strcmp(line, "job") == 0;
		have_state |= strcmp(line, "state") == 0;
	}
	if (!complete)
		return bad(p, "record cut short (no closing 'end' line)");
	if (!have_job)
		return bad(p, "no job id");
	if (r->ended && !have_state)
		return bad(p, "an ended job without its state");
	return 0;
}

static int read_file(const char *path, char *buf, size_t size, char *err, size_t errlen)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == size - 1) {
			snprintf(err, errlen, "%s: larger than %zu bytes, not a spool record", path,
				 size - 1);
			close(fd);
			errno = EBADMSG;
			return -1;
		}
	}
	close(fd);
	buf[len] = '\0';
	if (strlen(buf) != len) {
		snprintf(err, errlen, "%s: holds NUL bytes, not a spool record", path);
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int spool_read(const char *dir, uint32_t job_id, struct spool_rec *rec, char *err,
	       size_t errlen)
{
	char path[PATH_MAX], buf[SPOOL_FILE_MAX];
	struct parse p = { .file = path, .err = err, .errlen = errlen };

	if (rec_path(path, sizeof(path), dir, job_id, false) < 0) {
		snprintf(err, errlen, "%s: spool directory name too long", dir);
		return -1;
	}
	if (read_file(path, buf, sizeof(buf), err, errlen) < 0 || parse_rec(&p, buf, rec) < 0)
		return -1;
	if (rec->job_id != job_id) {
		snprintf(err, errlen, "%s: holds job %" PRIu32 ", not job %" PRIu32, path,
			 rec->job_id, job_id);
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int spool_remove(const char *dir, uint32_t job_id)
{
	char path[PATH_MAX];

	if (rec_path(path, sizeof(path), dir, job_id, false) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* Loading ----------------------------------------------------------------*/

/* The job id of a record file name "job-<id>.state" (TMP: with ".tmp"). */
static int name_job(const char *name, bool *tmp, uint32_t *job_id)
{
	const char *p = name + 4, *dot;
	int64_t v;
	char num[16];

	if (strncmp(name, "job-", 4) != 0 || !(dot = strchr(p, '.')) ||
	    (size_t)(dot - p) >= sizeof(num) || dot == p)
		return -1;
	if (strcmp(dot, ".state") == 0)
		*tmp = false;
	else if (strcmp(dot, ".state.tmp") == 0)
		*tmp = true;
	else
		return -1;
	memcpy(num, p, (size_t)(dot - p));
	num[dot - p] = '\0';
	if (num[0] == '0' && num[1] != '\0')
		return -1;
	if (parse_i64(num, 0, UINT32_MAX, &v) < 0)
		return -1;
	*job_id = (uint32_t)v;
	return 0;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct spool_rec *x = a, *y = b;

	return (x->job_id > y->job_id) - (x->job_id < y->job_id);
}

/* Append one record to the growing array. */
static int push(struct spool_rec **recs, size_t *n, size_t *cap, const struct spool_rec *r)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct spool_rec *nr = realloc(*recs, ncap * sizeof(*nr));
		if (!nr)
			return -1;
		*recs = nr;
		*cap = ncap;
	}
	(*recs)[(*n)++] = *r;
	return 0;
}

int spool_load(const char *dir, struct spool_rec **recs, size_t *n)
{
	struct spool_rec *out = NULL, r;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	char err[PATH_MAX + 256], path[PATH_MAX];
	DIR *d = opendir(dir);
	int saved;

	if (!d)
		return -1;
	while ((errno = 0, de = readdir(d))) {
		uint32_t id;
		bool tmp;
		if (name_job(de->d_name, &tmp, &id) < 0)
			continue;
		if (tmp) {
			/* A write cut short by a crash: the record it was to
			 * replace (if any) is still in place. */
			if (rec_path(path, sizeof(path), dir, id, true) == 0)
				unlink(path);
			continue;
		}
		if (spool_read(dir, id, &r, err, sizeof(err)) < 0) {
			log_warn("ignoring spool record %s (remove it once you have looked at it)",
				 err);
			continue;
		}
		if (push(&out, &cnt, &cap, &r) < 0)
			goto failed;
	}
	if (errno)
		goto failed;
	closedir(d);
	if (cnt > 1)
		qsort(out, cnt, sizeof(*out), cmp_rec);
	*recs = out;
	*n = cnt;
	return 0;
failed:
	saved = errno;
	closedir(d);
	free(out);
	errno = saved;
	return -1;
}
