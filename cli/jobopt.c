/* jobopt.c - submit option values: GPUs, placement, binding, arrays,
 * dependencies, features and host lists. */
#include "jobopt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arrayspec.h"
#include "depspec.h"
#include "hostlist.h"
#include "strfmt.h"

/* Slurm's bound on --nice, so that priority arithmetic cannot overflow. */
#define NICE_MAX 2147483645

/* LEN digits at S, at most MAX. */
static int parse_u32(const char *s, size_t len, uint32_t max, uint32_t *v)
{
	uint64_t n = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
		if (n > max)
			return -1;
	}
	*v = (uint32_t)n;
	return 0;
}

/* The digits at *P (at most MAX), advancing *P past them. */
static int take_u32(const char **p, uint32_t max, uint32_t *v)
{
	size_t len = strspn(*p, "0123456789");

	if (parse_u32(*p, len, max, v) < 0)
		return -1;
	*p += len;
	return 0;
}

/* ---------------------------------------------------------------------------
 * GPUs */

int jobopt_gpu_count(const char *s, uint32_t *n, char *why, size_t whylen)
{
	if (strchr(s, ':'))
		return strfmt_fail(
		    why, whylen, EINVAL,
		    "'%s' names a GPU type, and GPU types are not supported yet (give a "
		    "count only, like 2)",
		    s);
	if (parse_u32(s, strlen(s), UINT32_MAX, n) < 0)
		return strfmt_fail(why, whylen, EINVAL,
				   "'%s' is not a GPU count (give a whole number like 2)", s);
	return 0;
}

int jobopt_gres(const char *s, uint32_t *gpus_per_node, char *why, size_t whylen)
{
	const char *p = s;
	bool seen = false;
	uint32_t n = 0;

	if (strcasecmp(s, "none") == 0) {
		*gpus_per_node = 0;
		return 0;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		size_t namelen = strcspn(p, ",:");

		if (len == 0)
			return strfmt_fail(
			    why, whylen, EINVAL,
			    "empty entry in '%s' (separate resources with single commas)", s);
		if (namelen != 3 || strncmp(p, "gpu", 3) != 0)
			return strfmt_fail(
			    why, whylen, EINVAL,
			    "'%.*s' is not a resource Pacer schedules: --gres takes GPUs "
			    "only (gpu or gpu:N)",
			    (int)namelen, p);
		if (seen)
			return strfmt_fail(why, whylen, EINVAL,
					   "gpu is given twice in '%s' (give it once: gpu:N)", s);
		seen = true;
		if (namelen == len)
			n = 1;
		else if (parse_u32(p + 4, len - 4, UINT32_MAX, &n) < 0)
			return strfmt_fail(
			    why, whylen, EINVAL,
			    "'%.*s': GPU types are not supported yet and the count must be "
			    "a whole number (give gpu:N, like gpu:2)",
			    (int)len, p);
		if (!p[len])
			break;
		p += len + 1;
	}
	*gpus_per_node = n;
	return 0;
}

/* ---------------------------------------------------------------------------
 * --distribution */

/* "block" or "cyclic" for one level of S (LEN bytes), or NULL. */
static const char *dist_word(const char *s, size_t len)
{
	if (len == 1 && s[0] == '*')
		return "block";
	if (len == 5 && strncasecmp(s, "block", 5) == 0)
		return "block";
	if (len == 6 && strncasecmp(s, "cyclic", 6) == 0)
		return "cyclic";
	return NULL;
}

int jobopt_distribution(const char *s, char out[JOBOPT_DIST_MAX], char *why, size_t whylen)
{
	static const char *const known[] = { "arbitrary", "plane", "fcyclic", "pack", "nopack" };
	const char *levels[2] = { NULL, NULL };
	const char *p = s;
	int n = 0;

	if (strchr(s, ','))
		return strfmt_fail(why, whylen, EINVAL,
				   "'%s': Pack and NoPack are not supported (give "
				   "block|cyclic[:block|cyclic])",
				   s);
	for (;;) {
		size_t len = strcspn(p, ":");

		if (n == 2)
			return strfmt_fail(why, whylen, EINVAL,
					   "'%s': a third level ('%.*s') is not supported (give "
					   "block|cyclic[:block|cyclic]: nodes, then sockets)",
					   s, (int)len, p);
		levels[n] = dist_word(p, len);
		if (!levels[n]) {
			size_t wlen = strcspn(p, ":=");
			for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
				if (wlen == strlen(known[i]) && strncasecmp(p, known[i], wlen) == 0)
					return strfmt_fail(
					    why, whylen, EINVAL,
					    "the %s distribution is not supported (use "
					    "block or cyclic, and :block or :cyclic for "
					    "the sockets)",
					    known[i]);
			return strfmt_fail(why, whylen, EINVAL,
					   "unknown distribution '%.*s' (use block or cyclic, and "
					   ":block or :cyclic for the sockets, like cyclic:block)",
					   (int)len, p);
		}
		n++;
		if (!p[len])
			break;
		p += len + 1;
	}
	if (n == 1)
		snprintf(out, JOBOPT_DIST_MAX, "%s", levels[0]);
	else
		snprintf(out, JOBOPT_DIST_MAX, "%s:%s", levels[0], levels[1]);
	return 0;
}

/* ---------------------------------------------------------------------------
 * --cpu-bind */

/* A CPU id of a map_cpu list: decimal or 0x hex, then an optional *COUNT.
 * 1 when TOK is one, 0 when it is not (another keyword), -1 when it looks
 * like one but is wrong. */
static int map_entry(const char *tok, uint32_t *cpu, uint32_t *count)
{
	const char *p = tok;
	char *end;

	if (!isdigit((unsigned char)*p))
		return 0;
	errno = 0;
	unsigned long v = strtoul(p, &end, (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) ? 16 : 10);
	if (errno || end == p || v >= UINT32_MAX)
		return -1;
	*cpu = (uint32_t)v;
	*count = 1;
	p = end;
	if (*p == '*') {
		p++;
		if (take_u32(&p, JOBOPT_MAP_CPU_MAX, count) < 0 || *count == 0)
			return -1;
	}
	return *p ? -1 : 1;
}

/* Binding types by the words Slurm takes for them. */
static const struct {
	const char *word;
	const char *type;
} bind_types[] = {
	{ "none", "none" },       { "no", "none" },         { "cores", "cores" },
	{ "core", "cores" },      { "threads", "threads" }, { "thread", "threads" },
	{ "sockets", "sockets" }, { "socket", "sockets" },
};

static const char *const bind_unsupported[] = {
	"rank", "ldom", "ldoms", "rank_ldom", "boards", "mask_cpu", "map_ldom", "mask_ldom",
};

#define BIND_HOW "use none, cores, threads, sockets or map_cpu:LIST, with ,verbose if you like"

/* Whether TOK is WORD, alone or as WORD:... */
static bool is_word(const char *tok, const char *word)
{
	size_t len = strlen(word);

	return strncasecmp(tok, word, len) == 0 && (tok[len] == '\0' || tok[len] == ':');
}

struct bind {
	const char *type; /* NULL until one is given */
	bool verbose;
	bool in_map;   /* the last word was map_cpu or one of its ids */
	FILE *map;     /* the map_cpu list being written */
	uint32_t nmap; /* ids in it, repetitions expanded */
};

static int bind_map_entry(struct bind *b, uint32_t cpu, uint32_t count, char *why, size_t whylen)
{
	if (count > JOBOPT_MAP_CPU_MAX - b->nmap)
		return strfmt_fail(why, whylen, EINVAL, "map_cpu lists more than %d CPU ids",
				   JOBOPT_MAP_CPU_MAX);
	for (uint32_t i = 0; i < count; i++)
		fprintf(b->map, "%s%u", b->nmap++ ? "," : "", cpu);
	return 0;
}

static int bind_set_type(struct bind *b, const char *type, const char *tok, char *why,
			 size_t whylen)
{
	if (b->type)
		return strfmt_fail(why, whylen, EINVAL,
				   "give one binding type, not both '%s' and '%s'", b->type, tok);
	b->type = type;
	return 0;
}

/* One comma-separated word TOK of S. */
static int bind_word(struct bind *b, const char *s, const char *tok, char *why, size_t whylen)
{
	uint32_t cpu, count;
	int rc;

	if (b->in_map) {
		rc = map_entry(tok, &cpu, &count);
		if (rc < 0)
			return strfmt_fail(
			    why, whylen, EINVAL,
			    "bad CPU id '%s' in map_cpu (give decimal or 0x ids, ID*N to "
			    "repeat one, like map_cpu:0,2*3)",
			    tok);
		if (rc > 0)
			return bind_map_entry(b, cpu, count, why, whylen);
		b->in_map = false;
	}
	if (!*tok)
		return strfmt_fail(why, whylen, EINVAL,
				   "empty entry in '%s' (separate words with single commas)", s);
	if (strcasecmp(tok, "verbose") == 0 || strcasecmp(tok, "v") == 0) {
		b->verbose = true;
		return 0;
	}
	if (strcasecmp(tok, "quiet") == 0 || strcasecmp(tok, "q") == 0) {
		b->verbose = false;
		return 0;
	}
	for (size_t i = 0; i < sizeof(bind_types) / sizeof(bind_types[0]); i++)
		if (strcasecmp(tok, bind_types[i].word) == 0)
			return bind_set_type(b, bind_types[i].type, tok, why, whylen);
	if (strncasecmp(tok, "map_cpu:", 8) == 0) {
		if (bind_set_type(b, "map_cpu", tok, why, whylen) < 0)
			return -1;
		b->in_map = true;
		if (map_entry(tok + 8, &cpu, &count) == 0)
			return strfmt_fail(why, whylen, EINVAL,
					   "map_cpu needs CPU ids after the colon, not '%s' (like "
					   "map_cpu:0,2)",
					   tok + 8);
		return bind_word(b, s, tok + 8, why, whylen);
	}
	for (size_t i = 0; i < sizeof(bind_unsupported) / sizeof(bind_unsupported[0]); i++)
		if (is_word(tok, bind_unsupported[i]))
			return strfmt_fail(why, whylen, EINVAL,
					   "%s binding is not supported (" BIND_HOW ")",
					   bind_unsupported[i]);
	return strfmt_fail(why, whylen, EINVAL, "unknown binding '%s' (" BIND_HOW ")", tok);
}

int jobopt_cpu_bind(const char *s, char **out, char *why, size_t whylen)
{
	struct bind b = { 0 };
	char *copy = strdup(s), *map = NULL, *save = NULL;
	size_t maplen = 0;
	int rc = -1;

	if (!copy)
		return strfmt_fail(why, whylen, ENOMEM, "out of memory");
	b.map = open_memstream(&map, &maplen);
	if (!b.map) {
		free(copy);
		return strfmt_fail(why, whylen, ENOMEM, "out of memory");
	}
	if (!*s) {
		strfmt_fail(why, whylen, EINVAL, "empty value (" BIND_HOW ")");
		goto done;
	}
	/* strtok_r would fold ",," away: walk the commas by hand. */
	for (char *tok = copy;; tok = save + 1) {
		save = strchr(tok, ',');
		if (save)
			*save = '\0';
		if (bind_word(&b, s, tok, why, whylen) < 0)
			goto done;
		if (!save)
			break;
	}
	if (fclose(b.map) != 0) {
		b.map = NULL;
		strfmt_fail(why, whylen, ENOMEM, "out of memory");
		goto done;
	}
	b.map = NULL;
	if (!b.type)
		rc = asprintf(out, "%s", b.verbose ? "verbose" : "");
	else if (strcmp(b.type, "map_cpu") == 0)
		rc = asprintf(out, "map_cpu:%s%s", map, b.verbose ? ",verbose" : "");
	else
		rc = asprintf(out, "%s%s", b.type, b.verbose ? ",verbose" : "");
	if (rc < 0)
		strfmt_fail(why, whylen, ENOMEM, "out of memory");
	else
		rc = 0;
done:
	if (b.map)
		fclose(b.map);
	free(map);
	free(copy);
	return rc;
}

/* ---------------------------------------------------------------------------
 * --hint, --nice, --exclusive */

int jobopt_hint(const char *s, bool *multithread, char *why, size_t whylen)
{
	if (strcasecmp(s, "multithread") == 0) {
		*multithread = true;
		return 0;
	}
	if (strcasecmp(s, "nomultithread") == 0) {
		*multithread = false;
		return 0;
	}
	if (strcasecmp(s, "compute_bound") == 0 || strcasecmp(s, "memory_bound") == 0)
		return strfmt_fail(why, whylen, EINVAL,
				   "--hint=%s is not supported (use multithread or nomultithread)",
				   s);
	return strfmt_fail(why, whylen, EINVAL,
			   "unknown hint '%s' (use multithread or nomultithread)", s);
}

int jobopt_nice(const char *s, int32_t *nice, char *why, size_t whylen)
{
	const char *p = s;
	bool neg = false;
	uint32_t v;

	if (!s) {
		*nice = 100;
		return 0;
	}
	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	if (parse_u32(p, strlen(p), NICE_MAX, &v) < 0)
		return strfmt_fail(why, whylen, EINVAL,
				   "'%s' is not a nice value (give a whole number from -%d to %d; "
				   "--nice alone is 100)",
				   s, NICE_MAX, NICE_MAX);
	*nice = neg ? -(int32_t)v : (int32_t)v;
	return 0;
}

int jobopt_exclusive(const char *s, char *why, size_t whylen)
{
	if (!s)
		return 0;
	return strfmt_fail(why, whylen, EINVAL,
			   "--exclusive=%s is not supported (give --exclusive alone: the job gets "
			   "whole nodes)",
			   s);
}

/* ---------------------------------------------------------------------------
 * --array, --dependency: parsed by the controller's own parsers, so that the
 * two never disagree on what a value means or how big it may be. */

int jobopt_array(const char *s, uint32_t *max_running, char *why, size_t whylen)
{
	uint32_t *idx;
	size_t n;

	if (arrayspec_parse(s, &idx, &n, max_running, why, whylen) < 0)
		return -1;
	free(idx);
	return 0;
}

int jobopt_dependency(const char *s, char *why, size_t whylen)
{
	struct depspec_term *terms;
	uint16_t n;
	bool any, singleton;

	if (depspec_parse(s, &terms, &n, &any, &singleton, why, whylen) < 0)
		return -1;
	free(terms);
	return 0;
}

/* ---------------------------------------------------------------------------
 * --constraint */

static bool feature_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

int jobopt_constraint(const char *s, char *why, size_t whylen)
{
	bool has_and = false, has_or = false;
	size_t word = 0;

	if (!*s)
		return strfmt_fail(why, whylen, EINVAL,
				   "empty value (give feature names joined by & or |)");
	for (const char *p = s;; p++) {
		if (*p == '&' || *p == '|' || !*p) {
			if (word == 0)
				return strfmt_fail(
				    why, whylen, EINVAL,
				    "'%s' has an empty feature name (join names with a "
				    "single & or |)",
				    s);
			if (!*p)
				break;
			has_and |= *p == '&';
			has_or |= *p == '|';
			word = 0;
		} else if (strchr("[]()*,", *p)) {
			return strfmt_fail(
			    why, whylen, EINVAL,
			    "'%s': brackets, counts and commas are not supported yet "
			    "(join feature names with & for all, | for any)",
			    s);
		} else if (!feature_char(*p)) {
			return strfmt_fail(why, whylen, EINVAL,
					   "bad character '%c' in '%s' (feature names are letters, "
					   "digits, '-', '_' and '.')",
					   *p, s);
		} else {
			word++;
		}
	}
	if (has_and && has_or)
		return strfmt_fail(
		    why, whylen, EINVAL,
		    "'%s' mixes & and |, which is ambiguous without brackets (use one "
		    "of them)",
		    s);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Host lists */

/* The host names of file PATH, as one list in HL. */
static int read_nodefile(const char *path, struct hostlist *hl, char *why, size_t whylen)
{
	char *buf = NULL, *save = NULL;
	size_t len = 0;
	ssize_t n;
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	if (fd < 0)
		return strfmt_fail(
		    why, whylen, EINVAL,
		    "cannot open node list file '%s': %s (a value holding '/' names a "
		    "file of host names)",
		    path, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > JOBOPT_NODEFILE_MAX) {
		strfmt_fail(why, whylen, EINVAL,
			    "node list file '%s' is not a regular file of at most %u KiB", path,
			    JOBOPT_NODEFILE_MAX >> 10);
		goto done;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		strfmt_fail(why, whylen, ENOMEM, "out of memory");
		goto done;
	}
	/* Read one byte past the size seen, so a file still growing is caught. */
	while (len <= (size_t)sb.st_size) {
		n = read(fd, buf + len, (size_t)sb.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			strfmt_fail(why, whylen, EINVAL, "cannot read node list file '%s': %s",
				    path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > (size_t)sb.st_size || memchr(buf, '\0', len)) {
		strfmt_fail(why, whylen, EINVAL,
			    "node list file '%s' changed while read, or is not text", path);
		goto done;
	}
	buf[len] = '\0';
	for (char *tok = strtok_r(buf, " \t\r\n\v\f", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n\v\f", &save)) {
		if (hostlist_append_expr(hl, tok) < 0) {
			if (errno == ENOMEM)
				strfmt_fail(why, whylen, ENOMEM, "out of memory");
			else if (errno == E2BIG)
				strfmt_fail(why, whylen, EINVAL,
					    "'%.64s%s' in node list file '%s' names more than %d "
					    "hosts or %u MiB of host names",
					    tok, strlen(tok) > 64 ? "..." : "", path, HOSTLIST_MAX,
					    (unsigned)(HOSTLIST_MAX_BYTES >> 20));
			else
				strfmt_fail(why, whylen, EINVAL,
					    "'%s' in node list file '%s' is not a host list (write "
					    "names like node[1-4,7] or one name a line)",
					    tok, path);
			goto done;
		}
		if (hostlist_count(hl) > HOSTLIST_MAX) {
			strfmt_fail(why, whylen, EINVAL,
				    "node list file '%s' names more than %d hosts", path,
				    HOSTLIST_MAX);
			goto done;
		}
	}
	if (hostlist_count(hl) == 0) {
		strfmt_fail(why, whylen, EINVAL, "node list file '%s' names no host", path);
		goto done;
	}
	rc = 0;
done:;
	int saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return rc;
}

int jobopt_hostlist(const char *s, bool file_ok, char **out, char *why, size_t whylen)
{
	struct hostlist *hl;

	if (!s[strspn(s, " \t")])
		return strfmt_fail(why, whylen, EINVAL,
				   "empty host list (give names like node[1-4,7])");
	if (file_ok && strchr(s, '/')) {
		hl = hostlist_create();
		if (!hl)
			return strfmt_fail(why, whylen, ENOMEM, "out of memory");
		if (read_nodefile(s, hl, why, whylen) < 0) {
			int saved = errno;
			hostlist_destroy(hl);
			errno = saved;
			return -1;
		}
		*out = hostlist_encode_alloc(hl);
		hostlist_destroy(hl);
		return *out ? 0 : strfmt_fail(why, whylen, ENOMEM, "out of memory");
	}
	hl = hostlist_decode(s);
	if (!hl) {
		if (errno == E2BIG)
			/* the list may be kilobytes long: its start is enough */
			return strfmt_fail(why, whylen, EINVAL,
					   "'%.64s%s' names more than %d hosts or %u MiB of host "
					   "names",
					   s, strlen(s) > 64 ? "..." : "", HOSTLIST_MAX,
					   (unsigned)(HOSTLIST_MAX_BYTES >> 20));
		if (errno == ENOMEM)
			return strfmt_fail(why, whylen, ENOMEM, "out of memory");
		return strfmt_fail(why, whylen, EINVAL,
				   "'%s' is not a host list (write names like node[1-4,7],login1)",
				   s);
	}
	hostlist_destroy(hl);
	*out = strdup(s);
	return *out ? 0 : strfmt_fail(why, whylen, ENOMEM, "out of memory");
}
