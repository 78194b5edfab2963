/* spool.c - the node's job records, one append-only log (see spool.h).
 *
 * DIR/spool.log holds one self-contained line per event, plain text so an
 * admin can read what a node believes:
 *
 *   pacer-spool 2 job=42 status=running pid=1234 pid_start=98765 boot_id=0f1e...
 * start_time=1764124801 pacer-spool 2 job=42 status=ended pid=1234 pid_start=98765 boot_id=0f1e...
 * start_time=1764124801 state=COMPLETED exit_code=0 term_signal=0 end_time=1764124901 reason=free
 * text pacer-spool 2 remove job=42
 *
 * Every line starts with the magic word and version.  Values are escaped:
 * '%', control characters (so '\n' and '\r'), DEL and, except in the reason
 * (which runs to the end of the line), ' ' become %XX.  Readers apply the
 * lines in order: a later record of a job replaces the earlier one, "remove"
 * forgets it.  A line that does not parse, or the last line when it has no
 * newline (a write cut short), is skipped with a warning.
 *
 * Appends are one write() each; a short write is cut back off the file, so
 * the log always ends at a line boundary.  Compaction (spool_load, or
 * spool_write once the log passes SPOOL_LOG_MAX) writes the live records to
 * spool.log.tmp and renames it over spool.log: the only file ever created.
 *
 * Version 1 was one file per job, job-<id>.state, "key value" lines between
 * "pacer-spool 1" and "end".  spool_load still reads those, folds them into
 * the log and deletes them.
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
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "pacer.pb-c.h"

#define SPOOL_MAGIC_V1 "pacer-spool 1"
#define SPOOL_MAGIC    "pacer-spool 2"
#define SPOOL_LOG      "spool.log"
#define SPOOL_LOG_TMP  "spool.log.tmp"
/* Compact once the log grows past this (or past twice its size right after
 * the last compaction, when the live records alone are that large). */
#define SPOOL_LOG_MAX (1024 * 1024)
/* A version 1 record is a few hundred bytes; anything much larger is not one. */
#define SPOOL_FILE_MAX 8192
/* A log line: every field escaped at worst. */
#define SPOOL_LINE_MAX (512 + 3 * SPOOL_REASON_MAX + 3 * SPOOL_BOOT_ID_MAX)

static int path_in(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int legacy_path(char *buf, size_t size, const char *dir, uint32_t job_id, bool tmp)
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

/* Writing ----------------------------------------------------------------*/

/* Append S to BUF at *N, %XX-escaping what a line cannot hold (and ' ' unless
 * SPACE_OK).  -1 when BUF is full. */
static int put_escaped(char *buf, size_t size, size_t *n, const char *s, bool space_ok)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '%' || c < 0x20 || c == 0x7f || (c == ' ' && !space_ok)) {
			if (*n + 3 >= size)
				return -1;
			buf[(*n)++] = '%';
			buf[(*n)++] = hex[c >> 4];
			buf[(*n)++] = hex[c & 15];
		} else {
			if (*n + 1 >= size)
				return -1;
			buf[(*n)++] = (char)c;
		}
	}
	buf[*n] = '\0';
	return 0;
}

static int put_fmt(char *buf, size_t size, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put_fmt(char *buf, size_t size, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(buf + *n, size - *n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= size - *n)
		return -1;
	*n += (size_t)k;
	return 0;
}

/* One log line for R, newline included: its length, or -1 with errno. */
static int format_line(const struct spool_rec *r, char *buf, size_t size)
{
	const char *state = state_name(r->state);
	size_t n = 0;

	if (r->ended && !state) {
		errno = EINVAL;
		return -1;
	}
	if (put_fmt(buf, size, &n,
		    SPOOL_MAGIC " job=%" PRIu32 " status=%s pid=%ld pid_start=%" PRIu64 " boot_id=",
		    r->job_id, r->ended ? "ended" : "running", (long)r->pid, r->pid_start) < 0 ||
	    put_escaped(buf, size, &n, r->boot_id, false) < 0 ||
	    put_fmt(buf, size, &n, " start_time=%" PRId64, r->start_time) < 0)
		goto toobig;
	if (r->ended && (put_fmt(buf, size, &n,
				 " state=%s exit_code=%" PRId32 " term_signal=%" PRId32
				 " end_time=%" PRId64 " reason=",
				 state, r->exit_code, r->term_signal, r->end_time) < 0 ||
			 put_escaped(buf, size, &n, r->reason, true) < 0))
		goto toobig;
	if (put_fmt(buf, size, &n, "\n") < 0)
		goto toobig;
	return (int)n;
toobig:
	errno = E2BIG;
	return -1;
}

/* The log as it was right after the last compaction by this process. */
static struct {
	dev_t dev;
	ino_t ino;
	off_t size;
} compacted;

static int compact(const char *dir);

/* Append LINE (LEN bytes) to the log with one write; compact the log once it
 * has grown too large.  CREATE: make the log if there is none (else there is
 * nothing to do without one).  0 or -1 with errno. */
static int append_line(const char *dir, const char *line, size_t len, bool create)
{
	char path[PATH_MAX];
	struct stat st;
	off_t before = -1, limit = SPOOL_LOG_MAX;
	int fd, saved;
	ssize_t w;

	if (path_in(path, sizeof(path), dir, SPOOL_LOG) < 0)
		return -1;
	fd =
	    open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
	if (fd < 0)
		return !create && errno == ENOENT ? 0 : -1;
	/* Single writer: nobody appends between this fstat and the write. */
	if (fstat(fd, &st) == 0)
		before = st.st_size;
	do
		w = write(fd, line, len);
	while (w < 0 && errno == EINTR);
	if (w < 0 || (size_t)w != len) {
		saved = w < 0 ? errno : ENOSPC;
		/* Cut a partial line back off: the next append must start a line. */
		if (w > 0 && before >= 0 && ftruncate(fd, before) < 0)
			log_warn("%s: cannot cut a partial line off the end: %s", path,
				 strerror(errno));
		close(fd);
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) < 0)
		st.st_size = 0;
	close(fd);
	if (st.st_dev == compacted.dev && st.st_ino == compacted.ino &&
	    compacted.size > SPOOL_LOG_MAX / 2)
		limit = 2 * compacted.size;
	if (st.st_size > limit && compact(dir) < 0)
		log_warn("cannot compact %s (%lld bytes): %s", path, (long long)st.st_size,
			 strerror(errno));
	return 0;
}

int spool_write(const char *dir, const struct spool_rec *rec)
{
	char line[SPOOL_LINE_MAX];
	int len = format_line(rec, line, sizeof(line));

	if (len < 0)
		return -1;
	return append_line(dir, line, (size_t)len, true);
}

int spool_remove(const char *dir, uint32_t job_id)
{
	char line[64];
	int len = snprintf(line, sizeof(line), SPOOL_MAGIC " remove job=%" PRIu32 "\n", job_id);

	return append_line(dir, line, (size_t)len, false);
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

/* Parse the text of a version 1 record (BUF, NUL-terminated, modified) into R. */
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
			if (strcmp(line, SPOOL_MAGIC_V1) != 0)
				return bad(p,
					   "not a pacer spool record (the first line is not "
					   "'%s')",
					   SPOOL_MAGIC_V1);
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

static int cmp_rec(const void *a, const void *b)
{
	const struct spool_rec *x = a, *y = b;

	return (x->job_id > y->job_id) - (x->job_id < y->job_id);
}

/* The live records --------------------------------------------------------*/

/* Records by job id: an array plus an open-addressing index into it.  A
 * removed job keeps its slot, marked dead, and is revived by a later record. */
struct table {
	struct spool_rec *recs;
	bool *live;
	size_t n, cap;
	uint32_t *slot; /* index + 1 into recs; 0: empty */
	size_t nslot;   /* a power of two, > 2 * cap */
};

static void table_free(struct table *t)
{
	free(t->recs);
	free(t->live);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}

/* The slot of JOB_ID in *POS: where it is, or the empty one to put it in. */
static void table_find(const struct table *t, uint32_t job_id, size_t *pos)
{
	size_t mask = t->nslot - 1, i = (size_t)(job_id * 2654435761u) & mask;

	while (t->slot[i] && t->recs[t->slot[i] - 1].job_id != job_id)
		i = (i + 1) & mask;
	*pos = i;
}

static int table_grow(struct table *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 64, nslot = 4 * ncap;
	struct spool_rec *nr = realloc(t->recs, ncap * sizeof(*nr));
	bool *nl;
	uint32_t *ns;

	if (!nr)
		return -1;
	t->recs = nr;
	nl = realloc(t->live, ncap * sizeof(*nl));
	if (!nl)
		return -1;
	t->live = nl;
	ns = calloc(nslot, sizeof(*ns));
	if (!ns)
		return -1;
	free(t->slot);
	t->slot = ns;
	t->nslot = nslot;
	t->cap = ncap;
	for (size_t k = 0; k < t->n; k++) {
		size_t pos;
		table_find(t, t->recs[k].job_id, &pos);
		t->slot[pos] = (uint32_t)(k + 1);
	}
	return 0;
}

static int table_put(struct table *t, const struct spool_rec *r)
{
	size_t pos;

	if (t->n == t->cap && table_grow(t) < 0)
		return -1;
	table_find(t, r->job_id, &pos);
	if (!t->slot[pos]) {
		t->slot[pos] = (uint32_t)(t->n + 1);
		t->n++;
	}
	t->recs[t->slot[pos] - 1] = *r;
	t->live[t->slot[pos] - 1] = true;
	return 0;
}

static void table_remove(struct table *t, uint32_t job_id)
{
	size_t pos;

	if (!t->nslot)
		return;
	table_find(t, job_id, &pos);
	if (t->slot[pos])
		t->live[t->slot[pos] - 1] = false;
}

static const struct spool_rec *table_get(const struct table *t, uint32_t job_id)
{
	size_t pos;

	if (!t->nslot)
		return NULL;
	table_find(t, job_id, &pos);
	if (!t->slot[pos] || !t->live[t->slot[pos] - 1])
		return NULL;
	return &t->recs[t->slot[pos] - 1];
}

/* Reading the log ---------------------------------------------------------*/

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Undo put_escaped in place.  -1 on a bad escape or an escaped NUL. */
static int unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		int hi = unhex(s[1]), lo = hi < 0 ? -1 : unhex(s[2]);
		if (lo < 0 || (hi == 0 && lo == 0))
			return -1;
		*o++ = (char)(hi << 4 | lo);
		s += 2;
	}
	*o = '\0';
	return 0;
}

/* Parse one log line (without its newline; modified) and apply it to T.
 * 0, -1 with errno ENOMEM, or -2 with ERR (via P) saying what is wrong. */
static int apply_line(struct parse *p, char *line, struct table *t)
{
	/* Every record has the first NALWAYS keys; an ended one also the rest. */
	static const char *const keys[] = { "job",         "status",     "pid",   "pid_start",
					    "boot_id",     "start_time", "state", "exit_code",
					    "term_signal", "end_time",   "reason" };
	enum { NALWAYS = 6, NKEYS = sizeof(keys) / sizeof(keys[0]) };
	unsigned seen = 0;
	struct spool_rec r;
	char *s = line;
	size_t ml = strlen(SPOOL_MAGIC), k;
	int64_t v;

	if (strncmp(s, SPOOL_MAGIC, ml) != 0 || s[ml] != ' ') {
		bad(p, "not a pacer spool line (it does not start with '%s ')", SPOOL_MAGIC);
		return -2;
	}
	s += ml + 1;
	if (strncmp(s, "remove job=", 11) == 0) {
		if (parse_i64(s + 11, 0, UINT32_MAX, &v) < 0) {
			bad(p, "remove: job id '%s' is not a number", s + 11);
			return -2;
		}
		table_remove(t, (uint32_t)v);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	while (*s) {
		char *key = s, *eq, *val, *end;

		/* The reason runs to the end of the line; other values to a space. */
		end = strncmp(s, "reason=", 7) == 0 ? s + strlen(s) : s + strcspn(s, " ");
		s = *end ? end + 1 : end;
		*end = '\0';
		eq = strchr(key, '=');
		if (!eq) {
			bad(p, "'%s' is not 'key=value'", key);
			return -2;
		}
		*eq = '\0';
		val = eq + 1;
		for (k = 0; k < NKEYS && strcmp(key, keys[k]) != 0; k++)
			;
		if (k == NKEYS) {
			bad(p, "unknown key '%s'", key);
			return -2;
		}
		if (seen & (1u << k)) {
			bad(p, "'%s' given twice", key);
			return -2;
		}
		seen |= 1u << k;
		if (unescape(val) < 0) {
			bad(p, "bad %%-escape in the value of '%s'", key);
			return -2;
		}
		if (strcmp(key, "reason") == 0 && strlen(val) >= sizeof(r.reason)) {
			bad(p, "reason longer than %zu bytes", sizeof(r.reason) - 1);
			return -2;
		}
		if (parse_field(p, &r, key, val) < 0)
			return -2;
	}
	for (k = 0; k < NKEYS; k++) {
		bool has = seen & (1u << k);
		if (k < NALWAYS && !has) {
			bad(p, "no '%s'", keys[k]);
			return -2;
		}
		if (k >= NALWAYS && has != r.ended) {
			bad(p, r.ended ? "an ended job without '%s'" : "a running job with '%s'",
			    keys[k]);
			return -2;
		}
	}
	if (table_put(t, &r) < 0)
		return -1;
	return 0;
}

/* Apply every line of DIR/spool.log to T; bad lines are skipped with a
 * warning.  With FIX_TAIL (only the writer: a reader could race an
 * append), a last line without its newline (an append cut short) is also
 * cut off the file, so later appends start a line.  A missing log is empty
 * (MISSING says so).  0, or -1 with errno. */
static int read_log(const char *dir, struct table *t, bool fix_tail, bool *missing)
{
	char path[PATH_MAX], err[PATH_MAX + 256];
	struct parse p = { .file = path, .err = err, .errlen = sizeof(err) };
	char *line = NULL;
	size_t cap = 0;
	off_t good = 0;
	ssize_t len;
	FILE *fp;
	int saved;

	*missing = false;
	if (path_in(path, sizeof(path), dir, SPOOL_LOG) < 0)
		return -1;
	fp = fopen(path, "re");
	if (!fp) {
		if (errno != ENOENT)
			return -1;
		*missing = true;
		return 0;
	}
	while ((errno = 0, len = getline(&line, &cap, fp)) >= 0) {
		p.line++;
		if (len == 0 || line[len - 1] != '\n') {
			log_warn("ignoring %s:%d: the last line was cut short (no newline)", path,
				 p.line);
			if (fix_tail && truncate(path, good) < 0)
				log_warn("%s: cannot cut the partial last line off: %s", path,
					 strerror(errno));
			break;
		}
		good += len;
		line[--len] = '\0';
		if (strlen(line) != (size_t)len) {
			log_warn("ignoring %s:%d: the line holds NUL bytes", path, p.line);
			continue;
		}
		int rc = apply_line(&p, line, t);
		if (rc == -1)
			goto failed;
		if (rc == -2)
			log_warn("ignoring %s", err);
	}
	if (errno && !feof(fp))
		goto failed;
	free(line);
	fclose(fp);
	return 0;
failed:
	saved = errno;
	free(line);
	fclose(fp);
	errno = saved;
	return -1;
}

int spool_read(const char *dir, uint32_t job_id, struct spool_rec *rec, char *err, size_t errlen)
{
	struct table t = { 0 };
	const struct spool_rec *r;
	bool missing;

	if (read_log(dir, &t, false, &missing) < 0) {
		snprintf(err, errlen, "%s/" SPOOL_LOG ": %s", dir, strerror(errno));
		table_free(&t);
		return -1;
	}
	r = table_get(&t, job_id);
	if (!r) {
		snprintf(err, errlen, "%s/" SPOOL_LOG ": no record of job %" PRIu32, dir, job_id);
		table_free(&t);
		errno = ENOENT;
		return -1;
	}
	*rec = *r;
	table_free(&t);
	return 0;
}

/* Compaction -------------------------------------------------------------*/

/* The live records of T, sorted by job id, in a malloc'd array. */
static int table_sorted(const struct table *t, struct spool_rec **recs, size_t *n)
{
	struct spool_rec *out = malloc((t->n ? t->n : 1) * sizeof(*out));
	size_t cnt = 0;

	if (!out)
		return -1;
	for (size_t k = 0; k < t->n; k++)
		if (t->live[k])
			out[cnt++] = t->recs[k];
	if (cnt > 1)
		qsort(out, cnt, sizeof(*out), cmp_rec);
	*recs = out;
	*n = cnt;
	return 0;
}

/* Replace DIR/spool.log by RECS: write spool.log.tmp, rename it over. */
static int rewrite_log(const char *dir, const struct spool_rec *recs, size_t n)
{
	char path[PATH_MAX], tmp[PATH_MAX], *buf = NULL;
	size_t len = 0, cap = 0;
	struct stat st;
	int saved;

	if (path_in(path, sizeof(path), dir, SPOOL_LOG) < 0 ||
	    path_in(tmp, sizeof(tmp), dir, SPOOL_LOG_TMP) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (cap - len < SPOOL_LINE_MAX) {
			size_t ncap = cap ? cap * 2 : 16 * SPOOL_LINE_MAX;
			char *nb = realloc(buf, ncap);
			if (!nb)
				goto failed;
			buf = nb;
			cap = ncap;
		}
		int k = format_line(&recs[i], buf + len, cap - len);
		if (k < 0)
			goto failed;
		len += (size_t)k;
	}
	if (file_replace(path, tmp, buf, len, 0600, &st) < 0)
		goto failed;
	compacted.dev = st.st_dev;
	compacted.ino = st.st_ino;
	compacted.size = st.st_size;
	free(buf);
	return 0;
failed:
	saved = errno;
	free(buf);
	errno = saved;
	return -1;
}

static int compact(const char *dir)
{
	struct table t = { 0 };
	struct spool_rec *recs = NULL;
	size_t n;
	bool missing;
	int rc = -1, saved;

	if (read_log(dir, &t, true, &missing) == 0 && table_sorted(&t, &recs, &n) == 0)
		rc = rewrite_log(dir, recs, n);
	saved = errno;
	free(recs);
	table_free(&t);
	errno = saved;
	return rc;
}

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

/* Loading ----------------------------------------------------------------*/

/* Read a version 1 record file (see the top of this file). */
static int legacy_read(const char *dir, uint32_t job_id, struct spool_rec *rec, char *err,
		       size_t errlen)
{
	char path[PATH_MAX], buf[SPOOL_FILE_MAX];
	struct parse p = { .file = path, .err = err, .errlen = errlen };

	if (legacy_path(path, sizeof(path), dir, job_id, false) < 0) {
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

int spool_load(const char *dir, struct spool_rec **recs, size_t *n)
{
	struct table t = { 0 };
	struct spool_rec r, *out = NULL;
	uint32_t *legacy = NULL;
	size_t nlegacy = 0, caplegacy = 0, cnt = 0;
	struct dirent *de;
	char err[PATH_MAX + 256], path[PATH_MAX];
	bool missing;
	DIR *d = opendir(dir);
	int saved;

	if (!d)
		return -1;
	/* Version 1 records first: anything in the log is newer. */
	while ((errno = 0, de = readdir(d))) {
		uint32_t id;
		bool tmp;
		if (strcmp(de->d_name, SPOOL_LOG_TMP) == 0) {
			/* A compaction cut short: spool.log is still whole. */
			if (path_in(path, sizeof(path), dir, de->d_name) == 0)
				unlink(path);
			continue;
		}
		if (name_job(de->d_name, &tmp, &id) < 0)
			continue;
		if (tmp) {
			if (legacy_path(path, sizeof(path), dir, id, true) == 0)
				unlink(path);
			continue;
		}
		if (legacy_read(dir, id, &r, err, sizeof(err)) < 0) {
			log_warn("ignoring spool record %s (remove it once you have looked at it)",
				 err);
			continue;
		}
		if (nlegacy == caplegacy) {
			size_t ncap = caplegacy ? caplegacy * 2 : 16;
			uint32_t *nl = realloc(legacy, ncap * sizeof(*nl));
			if (!nl)
				goto failed;
			legacy = nl;
			caplegacy = ncap;
		}
		legacy[nlegacy++] = id;
		if (table_put(&t, &r) < 0)
			goto failed;
	}
	if (errno)
		goto failed;
	closedir(d);
	d = NULL;
	if (read_log(dir, &t, true, &missing) < 0 || table_sorted(&t, &out, &cnt) < 0)
		goto failed;
	/* Compact; only once the log holds them are the old files deleted. */
	if (rewrite_log(dir, out, cnt) < 0) {
		log_warn("cannot rewrite %s/" SPOOL_LOG ": %s", dir, strerror(errno));
	} else {
		for (size_t i = 0; i < nlegacy; i++)
			if (legacy_path(path, sizeof(path), dir, legacy[i], false) == 0 &&
			    unlink(path) < 0 && errno != ENOENT)
				log_warn("cannot remove %s: %s", path, strerror(errno));
	}
	free(legacy);
	table_free(&t);
	*recs = out;
	*n = cnt;
	return 0;
failed:
	saved = errno;
	if (d)
		closedir(d);
	free(legacy);
	free(out);
	table_free(&t);
	errno = saved;
	return -1;
}
