/* conf.c - load and check pacer.conf.
 *
 * inih reads the file and calls back once per key.  The callback only
 * records keys with their line numbers; the sections are turned into a
 * struct conf after the whole file is read, so keys may come in any order
 * and every error can still name its line.  inih's handler gets no line
 * number, so our own line reader counts lines, and it also spots section
 * headers, so even a section without keys is checked.
 */
#include "conf.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "conf_keys.h"
#include "hostlist.h"
#include "timefmt.h"

struct kv {
	char *key;
	char *value;
	int line;
};

struct section {
	enum conf_sect kind;
	char *title;       /* "cluster", "nodes:GROUP" or "partition:NAME" */
	const char *label; /* GROUP or NAME, inside title */
	int line;
	struct kv *kv;
	size_t nkv;
};

/* Where each node came from, for error messages. */
struct node_src {
	int line;      /* its 'names' key */
	int addr_line; /* the key that gave its address and port */
};

struct parser {
	const char *path;
	FILE *fp;
	char *buf;
	size_t bufcap;
	int lineno;
	struct section *sects;
	size_t nsects;
	bool in_section; /* keys go to the last section */
	bool skipping;   /* under a bad header, already reported */
	bool oom;
	int read_errno; /* errno of a failed read, 0 at end of file */
	int errnum;     /* errno to return */
	int err_line;   /* -1 until the first error; 0 = not on a line */
	char err[1024];
	const struct kv *spool; /* [cluster] spool_dir, NULL for the default */
	struct node_src *src;   /* one per conf->nodes */
	size_t *by_name;        /* node indexes sorted by name */
};

/* Record an error.  Only the first one is kept: later ones are often its
 * consequences.  LINE 0 blames the whole file. */
__attribute__((format(printf, 3, 4))) static int fail(struct parser *p, int line, const char *fmt,
						      ...)
{
	size_t n;
	va_list ap;

	errno = EINVAL;
	if (p->err_line >= 0)
		return -1;
	p->errnum = EINVAL;
	if (line > 0)
		snprintf(p->err, sizeof(p->err), "%s:%d: ", p->path, line);
	else
		snprintf(p->err, sizeof(p->err), "%s: ", p->path);
	n = strlen(p->err);
	va_start(ap, fmt);
	vsnprintf(p->err + n, sizeof(p->err) - n, fmt, ap);
	va_end(ap);
	p->err_line = line;
	return -1;
}

static int nomem(struct parser *p)
{
	p->oom = true;
	p->errnum = errno = ENOMEM;
	return -1;
}

static char *dup_str(struct parser *p, const char *s)
{
	char *d = strdup(s);

	if (!d)
		nomem(p);
	return d;
}

static bool listed(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* "a, b, c" (or "a, b or c" with LAST_OR) into BUF. */
static void join(const char *const *list, size_t n, bool last_or, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i == 0                  ? ""
					: last_or && i == n - 1 ? " or "
								: ", ",
					list[i]);
}

/* The keys of SECT, "a, b, c", into BUF. */
static void key_names(enum conf_sect sect, char *buf, size_t size)
{
	const struct conf_section_def *d = &conf_sections[sect];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < d->nkeys && len < size; i++)
		len +=
		    (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", d->keys[i].name);
}

/* Letters, digits, '-', '_' and '.': safe in host names, paths and CLIs. */
static bool is_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr("-_.", *s) && !(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9'))
			return false;
	return true;
}

static void trim(char **s, char **end)
{
	while (*s < *end && (**s == ' ' || **s == '\t'))
		(*s)++;
	while (*end > *s && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
		(*end)--;
}

/* ---- reading ------------------------------------------------------------- */

static const struct section *find_section(const struct parser *p, enum conf_sect kind,
					  const char *label)
{
	for (size_t i = 0; i < p->nsects; i++) {
		const struct section *s = &p->sects[i];

		if (s->kind == kind && (!label || strcmp(s->label, label) == 0))
			return s;
	}
	return NULL;
}

static int kind_of(struct parser *p, const char *type, const char *label, enum conf_sect *kind)
{
	static const char *const valid = "(valid: [cluster], [nodes:GROUP], [partition:NAME])";

	if (strcmp(type, "cluster") == 0 && !label) {
		*kind = CONF_SECT_CLUSTER;
		return 0;
	}
	if (strcmp(type, "nodes") == 0)
		*kind = CONF_SECT_NODES;
	else if (strcmp(type, "partition") == 0)
		*kind = CONF_SECT_PARTITION;
	else if (label)
		return fail(p, p->lineno, "unknown section [%s:%s] %s", type, label, valid);
	else
		return fail(p, p->lineno, "unknown section [%s] %s", type, valid);
	if (!label || !*label)
		return fail(p, p->lineno, "[%s] needs a name after a colon, e.g. [%s]", type,
			    *kind == CONF_SECT_NODES ? "nodes:compute" : "partition:batch");
	if (*kind == CONF_SECT_PARTITION && !is_word(label))
		return fail(p, p->lineno,
			    "bad partition name '%s' (use letters, digits, "
			    "'-', '_' and '.')",
			    label);
	return 0;
}

static int add_section(struct parser *p, enum conf_sect kind, const char *type, const char *label)
{
	const struct section *old = find_section(p, kind, label);
	struct section *s;
	size_t len = strlen(type) + (label ? strlen(label) + 1 : 0) + 1;

	if (old)
		return fail(p, p->lineno, "[%s] appears twice (first on line %d; merge the two)",
			    old->title, old->line);
	s = realloc(p->sects, (p->nsects + 1) * sizeof(*s));
	if (!s)
		return nomem(p);
	p->sects = s;
	s = &p->sects[p->nsects];
	memset(s, 0, sizeof(*s));
	s->title = malloc(len);
	if (!s->title)
		return nomem(p);
	p->nsects++;
	s->kind = kind;
	s->line = p->lineno;
	snprintf(s->title, len, "%s%s%s", type, label ? ":" : "", label ? label : "");
	s->label = label ? s->title + strlen(type) + 1 : s->title;
	return 0;
}

/* LINE starts with '['.  Open the section it names, or report why not. */
static void open_section(struct parser *p, char *line)
{
	char *end = strchr(line, ']'), *type = line + 1, *colon, *label = NULL;
	const char *rest;
	enum conf_sect kind = CONF_SECT_CLUSTER;

	p->in_section = false;
	p->skipping = true;
	if (!end) {
		fail(p, p->lineno, "section header has no closing ']'");
		return;
	}
	rest = end + 1 + strspn(end + 1, " \t");
	if (*rest && *rest != ';' && *rest != '#') {
		fail(p, p->lineno, "unexpected text after ']'");
		return;
	}
	*end = '\0';
	colon = strchr(type, ':');
	if (colon) {
		label = colon + 1;
		trim(&label, &end);
		*end = '\0';
		end = colon;
	}
	trim(&type, &end);
	*end = '\0';
	if (kind_of(p, type, label, &kind) < 0 || add_section(p, kind, type, label) < 0)
		return;
	p->in_section = true;
	p->skipping = false;
}

/* inih's line reader: counts lines (the handler is not told them), strips
 * leading blanks so an indented key is never taken for a continuation line,
 * and opens sections. */
static char *read_line(char *str, int num, void *stream)
{
	struct parser *p = stream;
	ssize_t n = getline(&p->buf, &p->bufcap, p->fp);
	char *s = p->buf;
	size_t len;

	if (n < 0) {
		p->read_errno = ferror(p->fp) ? errno : 0;
		return NULL;
	}
	p->lineno++;
	str[0] = '\0';
	if (strlen(p->buf) != (size_t)n) {
		fail(p, p->lineno, "line holds a NUL byte (is this a text file?)");
		return str;
	}
	if (p->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	s += strspn(s, " \t");
	len = strlen(s);
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	if (len >= (size_t)num) {
		fail(p, p->lineno,
		     "line is longer than %d characters (shorten it; "
		     "hostlists such as node[001-128] help)",
		     num - 1);
		return str;
	}
	s[len] = '\0';
	memcpy(str, s, len + 1);
	/* Our copy, not inih's: open_section() cuts it up. */
	if (s[0] == '[')
		open_section(p, s);
	return str;
}

static const struct kv *get(const struct section *s, const char *key)
{
	for (size_t i = 0; i < s->nkv; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			return &s->kv[i];
	return NULL;
}

static int add_kv(struct parser *p, struct section *s, const char *key, const char *value)
{
	struct kv *kv = realloc(s->kv, (s->nkv + 1) * sizeof(*kv));

	if (!kv)
		return nomem(p);
	s->kv = kv;
	kv = &s->kv[s->nkv];
	kv->line = p->lineno;
	kv->key = strdup(key);
	kv->value = strdup(value);
	if (!kv->key || !kv->value) {
		free(kv->key);
		free(kv->value);
		return nomem(p);
	}
	s->nkv++;
	return 0;
}

static int check_key(struct parser *p, const char *key, const char *value)
{
	struct section *s;
	const struct kv *old;
	char valid[512];

	if (!p->in_section)
		return fail(p, p->lineno,
			    "'%s' is outside any section (put it under [cluster], "
			    "[nodes:GROUP] or [partition:NAME])",
			    key);
	s = &p->sects[p->nsects - 1];
	if (!conf_key_find(s->kind, key)) {
		key_names(s->kind, valid, sizeof(valid));
		return fail(p, p->lineno, "unknown key '%s' in [%s] (valid: %s)", key, s->title,
			    valid);
	}
	old = get(s, key);
	if (old)
		return fail(p, p->lineno, "'%s' is set twice in [%s] (first on line %d)", key,
			    s->title, old->line);
	if (!*value)
		return fail(p, p->lineno, "'%s' is empty (give a value or remove the line)", key);
	return add_kv(p, s, key, value);
}

/* inih's callback: remember the key if it belongs.  0 tells inih it failed. */
static int on_key(void *user, const char *section, const char *key, const char *value)
{
	struct parser *p = user;

	(void)section;
	if (p->skipping)
		return 1;
	return check_key(p, key, value) == 0;
}

/* ---- values -------------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *v, char **end)
{
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno ? -1 : 0;
}

static int parse_uint(struct parser *p, const struct kv *kv, uint32_t min, uint32_t max,
		      uint32_t *out)
{
	uint64_t v;
	char *end;

	if (parse_u64(kv->value, &v, &end) < 0 || *end || v < min || v > max)
		return fail(p, kv->line, "bad %s '%s' (write a whole number from %u to %u)",
			    kv->key, kv->value, min, max);
	*out = (uint32_t)v;
	return 0;
}

/* "30", "30s", "5m" or "1h" into seconds. */
static int parse_seconds(struct parser *p, const struct kv *kv, uint32_t min, uint32_t *out)
{
	uint64_t v, mult = 1;
	char *end;

	if (parse_u64(kv->value, &v, &end) < 0 || (end[0] && end[1]))
		goto bad;
	if (*end == 'm')
		mult = 60;
	else if (*end == 'h')
		mult = 3600;
	else if (*end && *end != 's')
		goto bad;
	if (v > UINT32_MAX / mult)
		return fail(p, kv->line, "%s '%s' is too long", kv->key, kv->value);
	if (v * mult < min)
		return fail(p, kv->line, "%s must be at least %us", kv->key, min);
	*out = (uint32_t)(v * mult);
	return 0;
bad:
	return fail(p, kv->line,
		    "bad %s '%s' (write seconds, optionally with s, m or h: "
		    "30, 30s, 5m, 1h)",
		    kv->key, kv->value);
}

static int parse_bool(struct parser *p, const struct kv *kv, bool *out)
{
	if (strcasecmp(kv->value, "yes") == 0 || strcasecmp(kv->value, "true") == 0)
		*out = true;
	else if (strcasecmp(kv->value, "no") == 0 || strcasecmp(kv->value, "false") == 0)
		*out = false;
	else
		return fail(p, kv->line, "bad %s '%s' (write yes, no, true or false)", kv->key,
			    kv->value);
	return 0;
}

static int check_abs_path(struct parser *p, const struct kv *kv)
{
	if (kv->value[0] != '/')
		return fail(p, kv->line, "%s must be an absolute path, not '%s'", kv->key,
			    kv->value);
	return 0;
}

/* A spool_dir may hold %n (the node name) and %% only. */
static int check_spool(struct parser *p, const struct kv *kv)
{
	const char *s;

	if (check_abs_path(p, kv) < 0)
		return -1;
	for (s = strchr(kv->value, '%'); s; s = strchr(s + 2, '%')) {
		if (s[1] != 'n' && s[1] != '%')
			return fail(p, kv->line,
				    "spool_dir '%s' has an unknown %%-sequence "
				    "(only %%n, the node name, and %%%% are expanded)",
				    kv->value);
	}
	return 0;
}

static char *expand_spool(struct parser *p, const char *tmpl, const char *node)
{
	size_t len = 1, nlen = strlen(node);
	const char *s;
	char *out, *o;

	/* check_spool() let only "%n" and "%%" through. */
	for (s = tmpl; *s; s++) {
		if (*s == '%' && *++s == 'n')
			len += nlen;
		else
			len++;
	}
	out = malloc(len);
	if (!out) {
		nomem(p);
		return NULL;
	}
	for (o = out, s = tmpl; *s; s++) {
		if (*s != '%') {
			*o++ = *s;
		} else if (*++s == 'n') {
			memcpy(o, node, nlen);
			o += nlen;
		} else {
			*o++ = '%';
		}
	}
	*o = '\0';
	return out;
}

static int parse_port(const char *s, uint16_t *port, char **end)
{
	uint64_t v;

	if (parse_u64(s, &v, end) < 0 || v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "host", "host:port", "[v6]" or "[v6]:port" (ITEM is modified). */
static const char *split_hostport(char *item, char **host, uint16_t *port)
{
	char *colon, *end;

	*port = CONF_DEFAULT_PORT;
	if (item[0] == '[') {
		end = strchr(item, ']');
		if (!end)
			return "missing ']' after the IPv6 address";
		*end = '\0';
		*host = item + 1;
		colon = end + 1;
		if (*colon && *colon != ':')
			return "unexpected text after ']'";
	} else {
		*host = item;
		colon = strchr(item, ':');
		if (colon && strchr(colon + 1, ':'))
			return "IPv6 addresses need brackets, e.g. [::1]:6817";
	}
	if (colon && *colon) {
		*colon = '\0';
		if (parse_port(colon + 1, port, &end) < 0 || *end)
			return "the port must be a number from 1 to 65535";
	}
	if (!**host)
		return "the host name is empty";
	if (strpbrk(*host, " \t"))
		return "the host name holds a blank";
	return NULL;
}

static int add_controller(struct parser *p, void *arg, const struct kv *kv, char *item)
{
	struct conf *c = arg;
	char *copy = dup_str(p, item), *host;
	struct conf_addr *a;
	const char *why;
	uint16_t port;
	int ret = -1;

	if (!copy)
		return -1;
	why = split_hostport(copy, &host, &port);
	if (why) {
		fail(p, kv->line,
		     "bad controller '%s': %s (write host:port, e.g. "
		     "ctl1:6817,ctl2:6817)",
		     item, why);
		goto out;
	}
	for (size_t i = 0; i < c->ncontrollers; i++) {
		if (strcmp(c->controllers[i].host, host) == 0 && c->controllers[i].port == port) {
			fail(p, kv->line, "controller %s port %u is listed twice", host, port);
			goto out;
		}
	}
	a = realloc(c->controllers, (c->ncontrollers + 1) * sizeof(*a));
	if (!a) {
		nomem(p);
		goto out;
	}
	c->controllers = a;
	a[c->ncontrollers].host = dup_str(p, host);
	if (!a[c->ncontrollers].host)
		goto out;
	a[c->ncontrollers++].port = port;
	ret = 0;
out:
	free(copy);
	return ret;
}

/* Call ADD(P, ARG, KV, item) for every comma-separated, trimmed item of
 * KV's value. */
static int each_item(struct parser *p, void *arg, const struct kv *kv,
		     int (*add)(struct parser *, void *, const struct kv *, char *))
{
	char *copy = dup_str(p, kv->value), *item, *end;
	int ret = -1;

	if (!copy)
		return -1;
	for (item = copy;; item = end + 1) {
		char *stop;

		end = strchr(item, ',');
		stop = end ? end : item + strlen(item);
		trim(&item, &stop);
		*stop = '\0';
		if (!*item) {
			fail(p, kv->line, "%s has an empty entry (remove the extra comma)",
			     kv->key);
			goto out;
		}
		if (add(p, arg, kv, item) < 0)
			goto out;
		if (!end)
			break;
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

/* A list of names (users, groups) being filled from one key. */
struct names {
	char ***v;
	size_t *n;
	const char *what;   /* "admin": in "bad admin 'a b'" */
	const char *plural; /* "user names": in "separate user names with commas" */
};

static bool in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static int add_str(struct parser *p, char ***v, size_t *n, const char *s)
{
	char **a = realloc(*v, (*n + 1) * sizeof(*a));

	if (!a)
		return nomem(p);
	*v = a;
	a[*n] = dup_str(p, s);
	if (!a[*n])
		return -1;
	(*n)++;
	return 0;
}

/* A name listed twice counts once. */
static int add_name(struct parser *p, void *arg, const struct kv *kv, char *item)
{
	struct names *l = arg;

	if (strpbrk(item, " \t"))
		return fail(p, kv->line, "bad %s '%s' (separate %s with commas)", l->what, item,
			    l->plural);
	if (in_list(*l->v, *l->n, item))
		return 0;
	return add_str(p, l->v, l->n, item);
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- keys the table alone describes ------------------------------------- */

/* A duration of at least a second: UNLIMITED means nothing to a weight
 * or a planning window. */
static int parse_span(struct parser *p, const struct kv *kv, uint32_t *out)
{
	char why[256];

	if (timefmt_parse_duration(kv->value, out, why, sizeof(why)) < 0)
		return fail(p, kv->line, "%s: %s", kv->key, why);
	if (*out == TIMEFMT_UNLIMITED || *out == 0)
		return fail(p, kv->line,
			    "%s must be a time from 1 second up, not '%s' (e.g. 7-00:00:00)",
			    kv->key, kv->value);
	return 0;
}

static int parse_choice(struct parser *p, const struct kv *kv, const char *const *choices)
{
	char words[256];
	size_t n = 0;

	if (listed(choices, kv->value))
		return 0;
	while (choices[n])
		n++;
	join(choices, n, true, words, sizeof(words));
	return fail(p, kv->line, "bad %s '%s' (write %s)", kv->key, kv->value, words);
}

/* Set one field from KV by the type K says. */
static int set_field(struct parser *p, const struct conf_key *k, const struct kv *kv, void *field)
{
	switch (k->type) {
	case CONF_SECONDS: return parse_seconds(p, kv, k->min, field);
	case CONF_COUNT: return parse_uint(p, kv, k->min, k->max, field);
	case CONF_SPAN: return parse_span(p, kv, field);
	case CONF_BOOL: return parse_bool(p, kv, field);
	case CONF_PATH:
	case CONF_CHOICE:
	case CONF_NAME:
		if (k->type == CONF_PATH && check_abs_path(p, kv) < 0)
			return -1;
		if (k->type == CONF_CHOICE && parse_choice(p, kv, k->choices) < 0)
			return -1;
		*(char **)field = dup_str(p, kv->value);
		return *(char **)field ? 0 : -1;
	default: break;
	}
	/* A key of another type must have CONF_NO_FIELD in the table. */
	return fail(p, kv->line, "%s cannot be set from the key table", kv->key);
}

/* Every key of SECT that the table maps to a field of BASE (a struct conf or
 * a struct conf_partition): its value from S, else its default.  A default
 * goes through the same parser as a value, so what the documentation says
 * is what the parser does. */
static int set_fields(struct parser *p, enum conf_sect sect, const struct section *s, void *base)
{
	const struct conf_section_def *d = &conf_sections[sect];

	for (size_t i = 0; i < d->nkeys; i++) {
		const struct conf_key *k = &d->keys[i];
		const struct kv *kv = s ? get(s, k->name) : NULL;
		struct kv def = { (char *)k->name, (char *)k->def, 0 };

		if (k->field == CONF_NO_FIELD || (!kv && !k->def))
			continue;
		if (set_field(p, k, kv ? kv : &def, (char *)base + k->field) < 0)
			return -1;
	}
	return 0;
}

/* ---- [cluster] ----------------------------------------------------------- */

static int cluster_checks(struct parser *p, const struct section *s, const struct conf *c)
{
	const struct kv *kv, *hb;

	if (c->node_timeout <= c->heartbeat_interval) {
		kv = get(s, "node_timeout");
		hb = get(s, "heartbeat_interval");
		return fail(p, kv ? kv->line : hb->line,
			    "node_timeout (%us) must be longer "
			    "than heartbeat_interval (%us)",
			    c->node_timeout, c->heartbeat_interval);
	}
	p->spool = get(s, "spool_dir");
	return p->spool ? check_spool(p, p->spool) : 0;
}

static int build_cluster(struct parser *p, struct conf *c)
{
	const struct section *s = find_section(p, CONF_SECT_CLUSTER, NULL);
	const struct kv *kv;

	if (!s)
		return fail(p, 0,
			    "no [cluster] section (add one with name = mycluster and "
			    "controllers = ctl1:6817)");
	kv = get(s, "name");
	if (!kv)
		return fail(p, 0, "[cluster] has no 'name' key (add e.g. name = mycluster)");
	if (!is_word(kv->value))
		return fail(p, kv->line,
			    "bad cluster name '%s' (use letters, digits, '-', "
			    "'_' and '.')",
			    kv->value);
	c->cluster = dup_str(p, kv->value);
	if (!c->cluster)
		return -1;
	kv = get(s, "controllers");
	if (!kv)
		return fail(p, 0,
			    "[cluster] has no 'controllers' key "
			    "(add e.g. controllers = ctl1:6817)");
	if (each_item(p, c, kv, add_controller) < 0)
		return -1;
	kv = get(s, "admins");
	if (kv && each_item(p, &(struct names){ &c->admins, &c->nadmins, "admin", "user names" },
			    kv, add_name) < 0)
		return -1;
	if (set_fields(p, CONF_SECT_CLUSTER, s, c) < 0)
		return -1;
	return cluster_checks(p, s, c);
}

/* ---- [nodes:GROUP] ------------------------------------------------------- */

/* A node group being expanded: names, then where each one listens. */
struct group {
	const struct section *s;
	struct hostlist *names;
	struct hostlist *addrs; /* NULL: the node names themselves */
	const char *v6;         /* one IPv6 address for all (inside s's keys) */
	char *v6buf;
	uint16_t port;
	uint16_t port_step; /* 0: the same port for all, 1: a range */
	int names_line;
	int addr_line;
	uint32_t cpus;
	uint64_t mem_mb;
	const struct kv *spool;
	char *topology; /* resolved; NULL = discover */
	uint32_t gpus;
	uint32_t feature_mask;
};

static struct hostlist *decode(struct parser *p, const struct kv *kv)
{
	struct hostlist *hl = hostlist_decode(kv->value);

	if (hl)
		return hl;
	if (errno == E2BIG)
		fail(p, kv->line, "%s '%s' expands to more than %d names", kv->key, kv->value,
		     HOSTLIST_MAX);
	else if (errno == ENOMEM)
		nomem(p);
	else
		fail(p, kv->line, "bad hostlist '%s' in %s (write e.g. node[01-04,10],login1)",
		     kv->value, kv->key);
	return NULL;
}

static int group_names(struct parser *p, struct group *g)
{
	const struct kv *kv = get(g->s, "names");
	size_t n;

	if (!kv)
		return fail(p, g->s->line,
			    "[%s] has no 'names' key (add e.g. names = "
			    "node[01-04])",
			    g->s->title);
	g->names = decode(p, kv);
	if (!g->names)
		return -1;
	n = hostlist_count(g->names);
	for (size_t i = 0; i < n; i++)
		if (!is_word(hostlist_nth(g->names, i)))
			return fail(p, kv->line,
				    "bad node name '%s' (use letters, digits, "
				    "'-', '_' and '.')",
				    hostlist_nth(g->names, i));
	if (n == 0)
		return fail(p, kv->line, "names lists no node");
	g->names_line = g->addr_line = kv->line;
	return 0;
}

static int group_addrs(struct parser *p, struct group *g)
{
	const struct kv *kv = get(g->s, "address");
	size_t n = hostlist_count(g->names), na;

	if (!kv)
		return 0;
	g->addr_line = kv->line;
	/* IPv6 addresses do not fit hostlist syntax: one for the whole group. */
	if (strchr(kv->value, ':')) {
		size_t len = strlen(kv->value);

		if (strpbrk(kv->value, ", \t"))
			return fail(p, kv->line,
				    "give one IPv6 address per [nodes:GROUP], "
				    "not '%s'",
				    kv->value);
		if (kv->value[0] == '[' && kv->value[len - 1] == ']') {
			g->v6buf = strndup(kv->value + 1, len - 2);
			if (!g->v6buf)
				return nomem(p);
			g->v6 = g->v6buf;
		} else if (kv->value[0] == '[' || kv->value[len - 1] == ']') {
			return fail(p, kv->line, "bad address '%s' (write ::1 or [::1])",
				    kv->value);
		} else {
			g->v6 = kv->value;
		}
		return 0;
	}
	g->addrs = decode(p, kv);
	if (!g->addrs)
		return -1;
	na = hostlist_count(g->addrs);
	if (na != 1 && na != n)
		return fail(p, kv->line,
			    "address lists %zu addresses for %zu names (give one "
			    "address for all, or exactly %zu)",
			    na, n, n);
	return 0;
}

/* "7001" for every node or "7001-7004", one port each. */
static int group_ports(struct parser *p, struct group *g)
{
	const struct kv *kv = get(g->s, "port");
	size_t n = hostlist_count(g->names);
	uint16_t last = 0;
	char *end;

	if (!kv)
		return parse_port(conf_key_find(CONF_SECT_NODES, "port")->def, &g->port, &end);
	g->addr_line = kv->line;
	if (parse_port(kv->value, &g->port, &end) < 0 ||
	    (*end && (*end != '-' || parse_port(end + 1, &last, &end) < 0 || *end)))
		return fail(p, kv->line,
			    "bad port '%s' (write a port from 1 to 65535, or a "
			    "range such as 7001-7004)",
			    kv->value);
	if (!strchr(kv->value, '-'))
		return 0;
	if (last < g->port)
		return fail(p, kv->line, "port range %s goes backwards", kv->value);
	if ((size_t)(last - g->port) + 1 != n)
		return fail(p, kv->line,
			    "port range %s has %d ports for %zu names (give one "
			    "port, or a range of exactly %zu)",
			    kv->value, last - g->port + 1, n, n);
	g->port_step = 1;
	return 0;
}

/* Is a topology value a file?  Synthetic descriptions ("pack:2 core:8")
 * never hold a '/' nor end in ".xml", so the rule is plain to admins. */
static bool topology_is_file(const char *v)
{
	size_t len = strlen(v);

	return strchr(v, '/') || (len >= 4 && strcasecmp(v + len - 4, ".xml") == 0);
}

/* The node daemon reads the file, from wherever it was started: a relative
 * path is taken from pacer.conf's folder, where the admin put both. */
static int group_topology(struct parser *p, struct group *g)
{
	const struct kv *kv = get(g->s, "topology");
	const char *slash = strrchr(p->path, '/');
	size_t dlen, len;

	if (!kv)
		return 0;
	if (!topology_is_file(kv->value) || kv->value[0] == '/' || !slash) {
		g->topology = dup_str(p, kv->value);
		return g->topology ? 0 : -1;
	}
	dlen = (size_t)(slash - p->path) + 1;
	len = dlen + strlen(kv->value) + 1;
	g->topology = malloc(len);
	if (!g->topology)
		return nomem(p);
	memcpy(g->topology, p->path, dlen);
	memcpy(g->topology + dlen, kv->value, len - dlen);
	return 0;
}

/* A group's features: names go to the cluster's list, bits to its mask. */
struct features {
	struct conf *c;
	uint32_t *mask;
};

static int add_feature(struct parser *p, void *arg, const struct kv *kv, char *item)
{
	struct conf *c = ((struct features *)arg)->c;
	uint32_t *mask = ((struct features *)arg)->mask;
	size_t i;

	if (!is_word(item))
		return fail(p, kv->line,
			    "bad feature '%s' (use letters, digits, '-', '_' and '.'; separate "
			    "features with commas)",
			    item);
	for (i = 0; i < c->nfeatures && strcmp(c->features[i], item) != 0; i++)
		;
	if (i == c->nfeatures) {
		if (c->nfeatures == CONF_FEATURES_MAX)
			return fail(p, kv->line,
				    "too many node features at '%s': a cluster may have at most %d "
				    "distinct ones (reuse or merge features)",
				    item, CONF_FEATURES_MAX);
		if (add_str(p, &c->features, &c->nfeatures, item) < 0)
			return -1;
	}
	*mask |= (uint32_t)1 << i;
	return 0;
}

static int group_resources(struct parser *p, struct conf *c, struct group *g)
{
	const struct conf_key *cpus = conf_key_find(CONF_SECT_NODES, "cpus");
	const struct conf_key *gpus = conf_key_find(CONF_SECT_NODES, "gpus");
	const struct kv *kv = get(g->s, "cpus");

	if (kv && parse_uint(p, kv, cpus->min, cpus->max, &g->cpus) < 0)
		return -1;
	kv = get(g->s, "memory");
	if (kv && conf_parse_mem(kv->value, &g->mem_mb) < 0)
		return fail(p, kv->line,
			    "bad memory '%s' (write MiB, or a size with K, M, G "
			    "or T: 512, 64G)",
			    kv->value);
	if (kv && g->mem_mb == 0)
		return fail(p, kv->line,
			    "memory must be above 0 (remove the key to use what "
			    "the node reports)");
	kv = get(g->s, "gpus");
	if (kv && parse_uint(p, kv, gpus->min, gpus->max, &g->gpus) < 0)
		return -1;
	kv = get(g->s, "features");
	if (kv && each_item(p, &(struct features){ c, &g->feature_mask }, kv, add_feature) < 0)
		return -1;
	if (group_topology(p, g) < 0)
		return -1;
	g->spool = get(g->s, "spool_dir");
	if (g->spool)
		return check_spool(p, g->spool);
	g->spool = p->spool;
	return 0;
}

static int add_node(struct parser *p, struct conf *c, const struct group *g, size_t i)
{
	struct conf_node *node = &c->nodes[c->nnodes];
	const char *name = hostlist_nth(g->names, i);
	const char *addr = name;

	if (g->v6)
		addr = g->v6;
	else if (g->addrs)
		addr = hostlist_nth(g->addrs, hostlist_count(g->addrs) == 1 ? 0 : i);
	memset(node, 0, sizeof(*node));
	node->port = (uint16_t)(g->port + g->port_step * i);
	node->cpus = g->cpus;
	node->mem_mb = g->mem_mb;
	node->gpus = g->gpus;
	node->feature_mask = g->feature_mask;
	p->src[c->nnodes].line = g->names_line;
	p->src[c->nnodes].addr_line = g->addr_line;
	c->nnodes++;
	node->name = dup_str(p, name);
	node->address = dup_str(p, addr);
	node->spool_dir = expand_spool(
	    p, g->spool ? g->spool->value : conf_key_find(CONF_SECT_CLUSTER, "spool_dir")->def,
	    name);
	if (g->topology)
		node->topology = dup_str(p, g->topology);
	return node->name && node->address && node->spool_dir && (node->topology || !g->topology)
		   ? 0
		   : -1;
}

static int grow_nodes(struct parser *p, struct conf *c, size_t n)
{
	struct conf_node *nodes;
	struct node_src *src;

	if (n > SIZE_MAX / sizeof(*nodes) - c->nnodes)
		return nomem(p);
	nodes = realloc(c->nodes, (c->nnodes + n) * sizeof(*nodes));
	if (!nodes)
		return nomem(p);
	c->nodes = nodes;
	src = realloc(p->src, (c->nnodes + n) * sizeof(*src));
	if (!src)
		return nomem(p);
	p->src = src;
	return 0;
}

/* Every group's names are expanded before any node is built: the total is
 * capped, and a file past the cap fails after decoding the group that
 * crosses it, not after building a million nodes first. */
static int count_groups(struct parser *p, struct group *groups, size_t *ngroups)
{
	size_t total = 0, max = conf_key_find(CONF_SECT_NODES, "names")->max;

	for (size_t i = 0; i < p->nsects; i++) {
		struct group *g = &groups[*ngroups];
		const struct kv *kv;
		size_t n;

		if (p->sects[i].kind != CONF_SECT_NODES)
			continue;
		g->s = &p->sects[i];
		(*ngroups)++;
		if (group_names(p, g) < 0)
			return -1;
		n = hostlist_count(g->names);
		if (n > max - total) {
			kv = get(g->s, "names");
			return fail(
			    p, kv->line,
			    "[%s] brings the cluster to %zu nodes (all [nodes:GROUP] sections "
			    "together may define at most %zu)",
			    g->s->title, total + n, max);
		}
		total += n;
	}
	return 0;
}

static int build_group(struct parser *p, struct conf *c, struct group *g)
{
	size_t n;

	if (group_addrs(p, g) < 0 || group_ports(p, g) < 0 || group_resources(p, c, g) < 0)
		return -1;
	n = hostlist_count(g->names);
	if (grow_nodes(p, c, n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (add_node(p, c, g, i) < 0)
			return -1;
	return 0;
}

/* Node clashes: two nodes with one name, or with one address and port. */
typedef int key_cmp(const struct conf_node *a, const struct conf_node *b);

static int same_name(const struct conf_node *a, const struct conf_node *b)
{
	return strcmp(a->name, b->name);
}

static int same_addr(const struct conf_node *a, const struct conf_node *b)
{
	int r = strcmp(a->address, b->address);

	return r ? r : (a->port > b->port) - (a->port < b->port);
}

struct sort_ctx {
	const struct conf *c;
	key_cmp *key;
};

/* Ties keep file order, so the first of equal nodes comes first. */
static int sort_cmp(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *ctx = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int r = ctx->key(&ctx->c->nodes[i], &ctx->c->nodes[j]);

	return r ? r : (i > j) - (i < j);
}

/* Sort node indexes into IDX by KEY and find the clash whose later node is
 * defined earliest: returns that node and sets *FIRST, or -1 when none. */
static long find_clash(size_t *idx, const struct conf *c, key_cmp *key, size_t *first)
{
	struct sort_ctx ctx = { c, key };
	long later = -1;

	for (size_t i = 0; i < c->nnodes; i++)
		idx[i] = i;
	qsort_r(idx, c->nnodes, sizeof(*idx), sort_cmp, &ctx);
	for (size_t i = 1; i < c->nnodes; i++) {
		if (key(&c->nodes[idx[i - 1]], &c->nodes[idx[i]]) != 0)
			continue;
		if (later < 0 || idx[i] < (size_t)later) {
			later = (long)idx[i];
			*first = idx[i - 1];
		}
	}
	return later;
}

static int check_clashes(struct parser *p, const struct conf *c)
{
	size_t first = 0, *idx;
	const struct conf_node *n;
	long later;

	/* Kept sorted by name: partitions look their nodes up in it. */
	p->by_name = malloc(c->nnodes * sizeof(size_t));
	idx = malloc(c->nnodes * sizeof(size_t));
	if (!p->by_name || !idx) {
		free(idx);
		return nomem(p);
	}
	later = find_clash(p->by_name, c, same_name, &first);
	if (later >= 0) {
		free(idx);
		return fail(p, p->src[later].line, "node %s is defined twice (first on line %d)",
			    c->nodes[later].name, p->src[first].line);
	}
	later = find_clash(idx, c, same_addr, &first);
	free(idx);
	if (later < 0)
		return 0;
	n = &c->nodes[later];
	return fail(p, p->src[later].addr_line,
		    "nodes %s and %s both use address %s port %u "
		    "(give each node its own address or port, e.g. port = 7001-7004)",
		    c->nodes[first].name, n->name, n->address, n->port);
}

static int build_nodes(struct parser *p, struct conf *c)
{
	struct group *groups = calloc(p->nsects ? p->nsects : 1, sizeof(*groups));
	size_t ngroups = 0;
	int ret = -1;

	if (!groups)
		return nomem(p);
	if (count_groups(p, groups, &ngroups) < 0)
		goto out;
	for (size_t i = 0; i < ngroups; i++) {
		if (build_group(p, c, &groups[i]) < 0)
			goto out;
		/* Its names are copied into the nodes: free them as we go. */
		hostlist_destroy(groups[i].names);
		groups[i].names = NULL;
	}
	if (c->nnodes == 0) {
		fail(p, 0,
		     "no [nodes:GROUP] section (add e.g. [nodes:compute] with "
		     "names = node[01-04])");
		goto out;
	}
	ret = check_clashes(p, c);
out:
	for (size_t i = 0; i < ngroups; i++) {
		hostlist_destroy(groups[i].names);
		hostlist_destroy(groups[i].addrs);
		free(groups[i].v6buf);
		free(groups[i].topology);
	}
	free(groups);
	return ret;
}

/* ---- [partition:NAME] ---------------------------------------------------- */

static long lookup(const struct parser *p, const struct conf *c, const char *name)
{
	size_t lo = 0, hi = c->nnodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(name, c->nodes[p->by_name[mid]].name);

		if (r == 0)
			return (long)p->by_name[mid];
		if (r < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static int all_nodes(struct parser *p, const struct conf *c, struct conf_partition *part)
{
	part->nodes = malloc(c->nnodes * sizeof(size_t));
	if (!part->nodes)
		return nomem(p);
	for (size_t i = 0; i < c->nnodes; i++)
		part->nodes[i] = i;
	part->nnodes = c->nnodes;
	return 0;
}

static int part_nodes(struct parser *p, const struct conf *c, const struct section *s,
		      struct conf_partition *part)
{
	const struct kv *kv = get(s, "nodes");
	struct hostlist *hl;
	bool *seen = NULL;
	int ret = -1;

	if (!kv)
		return all_nodes(p, c, part);
	hl = decode(p, kv);
	if (!hl)
		return -1;
	part->nodes = malloc(hostlist_count(hl) * sizeof(size_t) + 1);
	seen = calloc(c->nnodes, sizeof(bool));
	if (!part->nodes || !seen) {
		nomem(p);
		goto out;
	}
	for (size_t i = 0; i < hostlist_count(hl); i++) {
		long n = lookup(p, c, hostlist_nth(hl, i));

		if (n < 0) {
			fail(p, kv->line,
			     "partition %s lists unknown node %s (define it in a "
			     "[nodes:GROUP] section)",
			     part->name, hostlist_nth(hl, i));
			goto out;
		}
		if (!seen[n])
			part->nodes[part->nnodes++] = (size_t)n;
		seen[n] = true;
	}
	ret = 0;
out:
	free(seen);
	hostlist_destroy(hl);
	return ret;
}

static int part_time(struct parser *p, const struct section *s, const char *key, uint32_t *out)
{
	const struct kv *kv = get(s, key);
	const char *def = conf_key_find(CONF_SECT_PARTITION, key)->def;
	char why[256];

	/* default_time has no default of its own: max_time's, see below. */
	if (!kv && !def)
		return 0;
	if (timefmt_parse_duration(kv ? kv->value : def, out, why, sizeof(why)) < 0)
		return fail(p, kv ? kv->line : 0, "%s: %s", key, why);
	return 0;
}

static int part_limits(struct parser *p, const struct section *s, struct conf_partition *part)
{
	char dt[32], mt[32];

	if (part_time(p, s, "default_time", &part->default_time) < 0 ||
	    part_time(p, s, "max_time", &part->max_time) < 0)
		return -1;
	/* As in Slurm, a partition without default_time gives max_time. */
	if (!get(s, "default_time"))
		part->default_time = part->max_time;
	if (part->default_time > part->max_time) {
		timefmt_duration(part->default_time, dt, sizeof(dt));
		timefmt_duration(part->max_time, mt, sizeof(mt));
		return fail(p, get(s, "default_time")->line,
			    "default_time %s is longer than "
			    "max_time %s",
			    dt, mt);
	}
	return set_fields(p, CONF_SECT_PARTITION, s, part);
}

static int part_access(struct parser *p, const struct section *s, struct conf_partition *part)
{
	const struct kv *kv = get(s, "allow_users");

	if (kv &&
	    each_item(
		p, &(struct names){ &part->allow_users, &part->nallow_users, "user", "user names" },
		kv, add_name) < 0)
		return -1;
	kv = get(s, "allow_groups");
	if (kv && each_item(p,
			    &(struct names){ &part->allow_groups, &part->nallow_groups, "group",
					     "group names" },
			    kv, add_name) < 0)
		return -1;
	return 0;
}

static int build_partition(struct parser *p, struct conf *c, const struct section *s)
{
	struct conf_partition *part = &c->partitions[c->npartitions++];

	memset(part, 0, sizeof(*part));
	part->name = dup_str(p, s->label);
	if (!part->name || part_nodes(p, c, s, part) < 0 || part_limits(p, s, part) < 0 ||
	    part_access(p, s, part) < 0)
		return -1;
	return 0;
}

/* One default: the one that says so, else the first. */
static int pick_default(struct parser *p, struct conf *c)
{
	const struct conf_partition *first = NULL;

	for (size_t i = 0; i < c->npartitions; i++) {
		const struct conf_partition *part = &c->partitions[i];
		const struct section *s;

		if (!part->is_default)
			continue;
		if (first) {
			s = find_section(p, CONF_SECT_PARTITION, part->name);
			return fail(p, get(s, "default")->line,
				    "partitions %s and %s both say "
				    "default = yes (only one may)",
				    first->name, part->name);
		}
		first = part;
	}
	if (!first)
		c->partitions[0].is_default = true;
	return 0;
}

static int build_partitions(struct parser *p, struct conf *c)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nsects; i++)
		n += p->sects[i].kind == CONF_SECT_PARTITION;
	c->partitions = calloc(n ? n : 1, sizeof(*c->partitions));
	if (!c->partitions)
		return nomem(p);
	if (n == 0) {
		struct conf_partition *part = &c->partitions[c->npartitions++];

		part->is_default = true;
		part->default_time = part->max_time = TIMEFMT_UNLIMITED;
		part->name = dup_str(p, "batch");
		return part->name ? all_nodes(p, c, part) : -1;
	}
	for (size_t i = 0; i < p->nsects; i++)
		if (p->sects[i].kind == CONF_SECT_PARTITION &&
		    build_partition(p, c, &p->sects[i]) < 0)
			return -1;
	return pick_default(p, c);
}

/* ---- public -------------------------------------------------------------- */

static void parser_free(struct parser *p)
{
	for (size_t i = 0; i < p->nsects; i++) {
		for (size_t j = 0; j < p->sects[i].nkv; j++) {
			free(p->sects[i].kv[j].key);
			free(p->sects[i].kv[j].value);
		}
		free(p->sects[i].kv);
		free(p->sects[i].title);
	}
	free(p->sects);
	free(p->buf);
	free(p->src);
	free(p->by_name);
	if (p->fp)
		fclose(p->fp);
}

/* Read the file into P's sections. */
static int read_file(struct parser *p)
{
	int ret;

	p->fp = fopen(p->path, "re");
	if (!p->fp) {
		p->read_errno = errno;
		fail(p, 0, "cannot open: %s", strerror(p->read_errno));
		p->errnum = p->read_errno;
		return -1;
	}
	ret = ini_parse_stream(read_line, p, on_key, p);
	if (p->read_errno) {
		p->err_line = -1;
		fail(p, 0, "cannot read: %s", strerror(p->read_errno));
		p->errnum = p->read_errno;
		return -1;
	}
	if (ret == -2 || p->oom)
		return nomem(p);
	/* inih reports the first bad line, ours or its own: if it is not the
	 * one we explained, it is a line inih could not parse. */
	if (ret > 0 && (p->err_line < 0 || ret < p->err_line)) {
		p->err_line = -1;
		fail(p, ret,
		     "cannot parse this line (expected [section], key = value or a "
		     "comment)");
	}
	return p->err_line >= 0 ? -1 : 0;
}

int conf_load(const char *path, struct conf **confp, char *err, size_t errlen)
{
	struct parser p = { .path = path, .err_line = -1 };
	struct conf *c = NULL;
	int saved;

	if (!path || !confp) {
		if (err && errlen)
			snprintf(err, errlen, "no configuration file given");
		errno = EINVAL;
		return -1;
	}
	if (read_file(&p) < 0)
		goto failed;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		nomem(&p);
		goto failed;
	}
	if (build_cluster(&p, c) < 0 || build_nodes(&p, c) < 0 || build_partitions(&p, c) < 0)
		goto failed;
	parser_free(&p);
	*confp = c;
	return 0;
failed:
	saved = p.oom ? ENOMEM : p.errnum;
	if (p.oom)
		snprintf(p.err, sizeof(p.err), "%s: out of memory", path);
	if (err && errlen)
		snprintf(err, errlen, "%s", p.err);
	conf_destroy(c);
	parser_free(&p);
	errno = saved;
	return -1;
}

void conf_destroy(struct conf *conf)
{
	if (!conf)
		return;
	for (size_t i = 0; i < conf->ncontrollers; i++)
		free(conf->controllers[i].host);
	free_strs(conf->admins, conf->nadmins);
	free_strs(conf->features, conf->nfeatures);
	for (size_t i = 0; i < conf->nnodes; i++) {
		free(conf->nodes[i].name);
		free(conf->nodes[i].address);
		free(conf->nodes[i].spool_dir);
		free(conf->nodes[i].topology);
	}
	for (size_t i = 0; i < conf->npartitions; i++) {
		free(conf->partitions[i].name);
		free(conf->partitions[i].nodes);
		free_strs(conf->partitions[i].allow_users, conf->partitions[i].nallow_users);
		free_strs(conf->partitions[i].allow_groups, conf->partitions[i].nallow_groups);
	}
	free(conf->controllers);
	free(conf->nodes);
	free(conf->partitions);
	free(conf->path);
	free(conf->cluster);
	free(conf->state_dir);
	free(conf->munge_socket);
	free(conf->daemon_user);
	free(conf->select);
	free(conf->log_level);
	free(conf->confine);
	free(conf);
}

const char *conf_path(const char *opt)
{
	const char *env;

	if (opt && *opt)
		return opt;
	env = getenv("PACER_CONF");
	return env && *env ? env : CONF_DEFAULT_PATH;
}

long conf_node_index(const struct conf *conf, const char *name)
{
	if (!conf || !name)
		return -1;
	for (size_t i = 0; i < conf->nnodes; i++)
		if (strcmp(conf->nodes[i].name, name) == 0)
			return (long)i;
	return -1;
}

const struct conf_node *conf_node_find(const struct conf *conf, const char *name)
{
	long i = conf_node_index(conf, name);

	return i < 0 ? NULL : &conf->nodes[i];
}

const struct conf_partition *conf_partition_find(const struct conf *conf, const char *name)
{
	if (!conf)
		return NULL;
	for (size_t i = 0; i < conf->npartitions; i++) {
		const struct conf_partition *part = &conf->partitions[i];

		if (name && *name ? strcmp(part->name, name) == 0 : part->is_default)
			return part;
	}
	return NULL;
}

long conf_feature_index(const struct conf *conf, const char *name)
{
	for (size_t i = 0; conf && name && i < conf->nfeatures; i++)
		if (strcmp(conf->features[i], name) == 0)
			return (long)i;
	return -1;
}

bool conf_is_admin(const struct conf *conf, const char *user)
{
	if (!user)
		return false;
	if (strcmp(user, "root") == 0)
		return true;
	for (size_t i = 0; conf && i < conf->nadmins; i++)
		if (strcmp(conf->admins[i], user) == 0)
			return true;
	return false;
}

/* The size of one K, M, G or T in KiB, or 0. */
static uint64_t mem_unit(char c)
{
	switch (c) {
	case 'k':
	case 'K': return 1;
	case 'm':
	case 'M': return 1024;
	case 'g':
	case 'G': return 1024 * 1024;
	case 't':
	case 'T': return 1024 * 1024 * 1024;
	}
	return 0;
}

int conf_parse_mem(const char *s, uint64_t *mb)
{
	uint64_t v, kib = 1024;
	char *end;

	if (!s || parse_u64(s, &v, &end) < 0)
		goto invalid;
	if (*end) {
		kib = mem_unit(*end++);
		if (!kib || (*end && strcasecmp(end, "B") != 0 && strcasecmp(end, "iB") != 0))
			goto invalid;
	}
	if (v > UINT64_MAX / kib)
		goto invalid;
	v *= kib;
	*mb = v / 1024 + (v % 1024 != 0);
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}
