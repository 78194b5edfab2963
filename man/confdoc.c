/* confdoc.c - pacer-confdoc: pacer.conf's key tables as documentation.
 *
 *   pacer-confdoc keys                every key, one "SECTION KEY" a line
 *   pacer-confdoc man TEMPLATE OUT    TEMPLATE with its line "@CONF_KEYS@"
 *                                     replaced by the keys in roff
 *
 * The build writes pacer.conf(5) this way, so its key list is the parser's
 * (common/conf_keys.c) and cannot drift from it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_keys.h"

#define MARKER "@CONF_KEYS@"

/* Text for a roff line: the hyphens of a word that starts with one are
 * minus signs (options: \-\-constraint), a backslash is printed, and a line
 * never starts with a control character. */
static void roff_text(FILE *out, const char *s)
{
	bool option = false;

	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (const char *c = s; *c; c++) {
		if (*c == '-' && (c == s || strchr(" (/", c[-1])))
			option = true;
		else if (strchr(" ,;)", *c))
			option = false;
		if (*c == '\\')
			fputs("\\e", out);
		else if (*c == '-' && option)
			fputs("\\-", out);
		else
			fputc(*c, out);
	}
}

/* A value as it is written in the file: every hyphen a minus sign, so that
 * it pastes back as typed. */
static void roff_literal(FILE *out, const char *s)
{
	for (const char *c = s; *c; c++) {
		if (*c == '-')
			fputs("\\-", out);
		else if (*c == '\\')
			fputs("\\e", out);
		else
			fputc(*c, out);
	}
}

static void key_bounds(FILE *out, const struct conf_key *k)
{
	switch (k->type) {
	case CONF_COUNT: fprintf(out, "  From %u to %u.", k->min, k->max); break;
	case CONF_SECONDS:
		if (k->min)
			fprintf(out, "  At least %u.", k->min);
		break;
	case CONF_SPAN: fputs("  At least 1 second, not UNLIMITED.", out); break;
	default: break;
	}
}

static void write_key(FILE *out, const struct conf_key *k)
{
	fprintf(out, ".TP\n.BI \"%s = \" \"", k->name);
	if (k->type == CONF_CHOICE)
		for (const char *const *c = k->choices; *c; c++)
			fprintf(out, "%s%s", *c, c[1] ? "|" : "");
	else
		fputs(conf_type_name(k->type), out);
	fputs("\"\n", out);
	roff_text(out, k->doc);
	fputc('\n', out);
	if (k->def) {
		fputs("Default: \\fB", out);
		roff_literal(out, k->def);
		fputs("\\fR.", out);
	} else if (strcmp(k->def_doc, "required") == 0) {
		fputs("Required.", out);
	} else {
		fputs("Default: ", out);
		roff_text(out, k->def_doc);
		fputc('.', out);
	}
	key_bounds(out, k);
	fputc('\n', out);
}

static void write_keys(FILE *out)
{
	for (int i = 0; i < CONF_NSECTS; i++) {
		const struct conf_section_def *d = &conf_sections[i];

		fprintf(out, ".SS [%s]\n", d->title);
		roff_text(out, d->doc);
		fputc('\n', out);
		for (size_t j = 0; j < d->nkeys; j++)
			write_key(out, &d->keys[j]);
	}
}

static int write_man(const char *template, const char *path)
{
	FILE *in = fopen(template, "r"), *out = NULL;
	char *line = NULL;
	size_t cap = 0;
	int found = 0, ret = -1;

	if (!in) {
		fprintf(stderr, "pacer-confdoc: cannot open %s: %s\n", template, strerror(errno));
		goto failed;
	}
	out = fopen(path, "w");
	if (!out) {
		fprintf(stderr, "pacer-confdoc: cannot create %s: %s\n", path, strerror(errno));
		goto failed;
	}
	while (getline(&line, &cap, in) >= 0) {
		if (strcmp(line, MARKER "\n") == 0) {
			write_keys(out);
			found++;
		} else {
			fputs(line, out);
		}
	}
	if (found != 1) {
		fprintf(stderr, "pacer-confdoc: %s must hold the line %s exactly once\n", template,
			MARKER);
		goto failed;
	}
	if (ferror(in) || fflush(out) != 0 || ferror(out)) {
		fprintf(stderr, "pacer-confdoc: cannot write %s\n", path);
		goto failed;
	}
	ret = 0;
failed:
	free(line);
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		ret = -1;
	if (ret < 0 && out)
		remove(path);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "keys") == 0) {
		for (int i = 0; i < CONF_NSECTS; i++)
			for (size_t j = 0; j < conf_sections[i].nkeys; j++)
				printf("%s %s\n", conf_sections[i].title,
				       conf_sections[i].keys[j].name);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (argc == 4 && strcmp(argv[1], "man") == 0)
		return write_man(argv[2], argv[3]) < 0 ? 1 : 0;
	fputs("Usage: pacer-confdoc keys\n"
	      "       pacer-confdoc man TEMPLATE OUT\n",
	      stderr);
	return 2;
}
