/* opt.c - getopt_long's syntax without its global state. */
#include "opt.h"

#include <stdio.h>
#include <string.h>

void opt_init(struct opt_state *st, int argc, char **argv, int start, const struct opt_def *defs,
	      bool permute)
{
	memset(st, 0, sizeof(*st));
	st->argc = argc;
	st->argv = argv;
	st->defs = defs;
	st->permute = permute;
	st->ind = start;
}

const char *opt_display(const struct opt_def *def, char *buf, size_t size)
{
	if (def->name)
		snprintf(buf, size, "--%s", def->name);
	else
		snprintf(buf, size, "-%c", def->key);
	return buf;
}

static const struct opt_def *find_short(const struct opt_def *defs, int c)
{
	for (const struct opt_def *d = defs; d->key; d++)
		if (d->key == c && c < OPT_LONG_ONLY)
			return d;
	return NULL;
}

/* Exact name first; otherwise a prefix naming one option (aliases of the same
 * key count as one, as --state and --states do). */
static const struct opt_def *find_long(struct opt_state *st, const char *name, size_t len)
{
	const struct opt_def *found = NULL;
	bool ambiguous = false;

	if (len == 0) {
		snprintf(st->err, sizeof(st->err), "unknown option '%s'", st->name);
		return NULL;
	}
	for (const struct opt_def *d = st->defs; d->key; d++) {
		if (!d->name || strncmp(d->name, name, len) != 0)
			continue;
		if (d->name[len] == '\0')
			return d;
		if (found && found->key != d->key)
			ambiguous = true;
		else if (!found)
			found = d;
	}
	if (!found) {
		snprintf(st->err, sizeof(st->err), "unknown option '%s'", st->name);
		return NULL;
	}
	if (!ambiguous)
		return found;

	int n = snprintf(st->err, sizeof(st->err), "option '%s' is ambiguous (", st->name);
	const char *sep = "";
	for (const struct opt_def *d = st->defs; d->key && n < (int)sizeof(st->err); d++) {
		if (!d->name || strncmp(d->name, name, len) != 0)
			continue;
		n += snprintf(st->err + n, sizeof(st->err) - n, "%s--%s", sep, d->name);
		sep = ", ";
	}
	if (n < (int)sizeof(st->err))
		snprintf(st->err + n, sizeof(st->err) - n, ")");
	return NULL;
}

static int next_long(struct opt_state *st)
{
	const char *word = st->argv[st->ind++] + 2;
	const char *eq = strchr(word, '=');
	size_t len = eq ? (size_t)(eq - word) : strlen(word);

	snprintf(st->name, sizeof(st->name), "--%.*s", (int)len, word);
	const struct opt_def *d = find_long(st, word, len);
	if (!d)
		return OPT_ERROR;
	st->def = d;
	st->arg = NULL;
	switch (d->arg) {
	case OPT_NONE:
		if (eq) {
			snprintf(st->err, sizeof(st->err), "option '%s' takes no value", st->name);
			return OPT_ERROR;
		}
		break;
	case OPT_OPTIONAL: st->arg = eq ? eq + 1 : NULL; break;
	case OPT_REQUIRED:
		if (eq) {
			st->arg = eq + 1;
		} else if (st->ind < st->argc) {
			st->arg = st->argv[st->ind++];
		} else {
			snprintf(st->err, sizeof(st->err), "option '%s' needs a value", st->name);
			return OPT_ERROR;
		}
		break;
	}
	return d->key;
}

static int next_short(struct opt_state *st)
{
	const char *word = st->argv[st->ind];
	int c = (unsigned char)word[st->sub];

	snprintf(st->name, sizeof(st->name), "-%c", c);
	const struct opt_def *d = find_short(st->defs, c);
	if (!d) {
		snprintf(st->err, sizeof(st->err), "unknown option '%s'", st->name);
		st->ind++;
		st->sub = 0;
		return OPT_ERROR;
	}
	st->def = d;
	st->arg = NULL;
	const char *rest = word + st->sub + 1;
	if (d->arg == OPT_NONE) {
		if (*rest) {
			st->sub++;
		} else {
			st->ind++;
			st->sub = 0;
		}
		return d->key;
	}
	st->ind++;
	st->sub = 0;
	if (*rest) {
		st->arg = rest;
	} else if (d->arg == OPT_REQUIRED) {
		if (st->ind >= st->argc) {
			snprintf(st->err, sizeof(st->err), "option '%s' needs a value", st->name);
			return OPT_ERROR;
		}
		st->arg = st->argv[st->ind++];
	}
	return d->key;
}

int opt_next(struct opt_state *st)
{
	if (st->sub > 0)
		return next_short(st);
	if (st->ind >= st->argc)
		return OPT_END;

	const char *word = st->argv[st->ind];
	bool operand = st->dashdash || word[0] != '-' || word[1] == '\0';
	if (operand) {
		if (!st->permute)
			return OPT_END;
		st->arg = word;
		st->def = NULL;
		st->ind++;
		return OPT_OPERAND;
	}
	if (strcmp(word, "--") == 0) {
		st->ind++;
		st->dashdash = true;
		return st->permute ? opt_next(st) : OPT_END;
	}
	if (word[1] == '-')
		return next_long(st);
	st->sub = 1;
	return next_short(st);
}
