/* opt.h - the option parser every pacer subcommand uses.
 *
 * getopt_long keeps global state and prints its own messages; this parser
 * keeps its state in a struct and leaves the wording of errors to the
 * caller, so the same table can parse a command line and a #SBATCH line and
 * report either precisely.  It takes what getopt_long takes: "--name=value",
 * "--name value", "-xvalue", "-x value", grouped flags "-ab", unambiguous
 * prefixes of long names, and "--" to end the options.
 */
#ifndef PACER_CLI_OPT_H
#define PACER_CLI_OPT_H

#include <stdbool.h>
#include <stddef.h>

enum opt_arg {
	OPT_NONE,     /* a flag */
	OPT_REQUIRED, /* "--x=v", "--x v", "-xv", "-x v" */
	OPT_OPTIONAL, /* only "--x=v" or "-xv" */
};

/* One option: KEY is its short letter, or a value from OPT_LONG_ONLY up for
 * an option with a long name only.  NAME may be NULL for a short-only one.
 * A table ends with an entry whose key is 0. */
struct opt_def {
	const char *name;
	int key;
	enum opt_arg arg;
};

#define OPT_LONG_ONLY 256

/* Returned by opt_next besides an option's key. */
#define OPT_END     0    /* no more options: argv[st.ind] is the first operand */
#define OPT_OPERAND (-1) /* (permuting mode) st.arg is an operand */
#define OPT_ERROR   (-2) /* st.err says what is wrong */

struct opt_state {
	int argc;
	char **argv;
	const struct opt_def *defs;
	bool permute;              /* hand operands back one by one instead of stopping */
	int ind;                   /* next argv element to look at */
	int sub;                   /* position inside a group of short flags */
	bool dashdash;             /* "--" was seen */
	const char *arg;           /* the option's value (NULL when none), or the operand */
	const struct opt_def *def; /* the option just returned */
	char name[64];             /* the option as typed, for messages: "--time", "-t" */
	char err[256];             /* "unknown option '--foo'" and the like */
};

/* Start parsing ARGV[START..ARGC-1] against DEFS.  With PERMUTE, operands
 * are returned as OPT_OPERAND and options may follow them; without, parsing
 * stops at the first operand (as "+" does for getopt). */
void opt_init(struct opt_state *st, int argc, char **argv, int start, const struct opt_def *defs,
	      bool permute);

/* The next option's key, OPT_END, OPT_OPERAND or OPT_ERROR. */
int opt_next(struct opt_state *st);

/* The canonical name of DEF for messages: "--time" or "-t". */
const char *opt_display(const struct opt_def *def, char *buf, size_t size);

#endif
