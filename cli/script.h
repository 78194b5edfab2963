/* script.h - what `pacer submit` understands: its options, the #PACER and
 * #SBATCH directives of a batch script, --export, and the checks a script
 * must pass before it is sent.
 *
 * Nothing here prints or exits: errors come back in an ERR buffer as one
 * line "what is wrong (how to fix it)", so the rules can be unit-tested.
 */
#ifndef PACER_CLI_SCRIPT_H
#define PACER_CLI_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pacer.pb-c.h"

/* The largest batch script accepted. */
#define SCRIPT_MAX_SIZE (4u << 20)

/* Options of `pacer submit`; bit SUBMIT_BIT(SUBMIT_x) of submit_opts.set
 * says which were given. */
enum submit_opt {
	SUBMIT_NAME,
	SUBMIT_NODES,
	SUBMIT_NTASKS,
	SUBMIT_CPUS,
	SUBMIT_TIME,
	SUBMIT_PARTITION,
	SUBMIT_OUTPUT,
	SUBMIT_ERROR,
	SUBMIT_CHDIR,
	SUBMIT_MEM,
	SUBMIT_EXPORT,
	SUBMIT_HOLD,
	SUBMIT_PARSABLE,
	SUBMIT_WRAP,
	SUBMIT_HELP,
	SUBMIT_NTASKS_PER_NODE,
	SUBMIT_NTASKS_PER_SOCKET,
	SUBMIT_EXCLUSIVE,
	SUBMIT_MEM_PER_CPU,
	SUBMIT_GPUS,
	SUBMIT_GPUS_PER_NODE, /* --gpus-per-node and --gres=gpu:N */
	SUBMIT_NODELIST,
	SUBMIT_EXCLUDE,
	SUBMIT_CONSTRAINT,
	SUBMIT_DISTRIBUTION,
	SUBMIT_CPU_BIND,
	SUBMIT_HINT,
	SUBMIT_NICE,
	SUBMIT_ARRAY,
	SUBMIT_DEPENDENCY,
};

#define SUBMIT_BIT(id) (UINT64_C(1) << (id))

struct submit_opts {
	uint64_t set;
	char *name;
	uint32_t nodes;
	uint32_t ntasks;
	uint32_t cpus_per_task;
	uint32_t time_limit; /* seconds; "0" given means TIMEFMT_UNLIMITED */
	uint64_t mem_mb;
	char *partition;
	char *output;
	char *error;
	char *chdir;
	char *export_spec;
	char *wrap;
	bool hold;
	bool parsable;
	bool help;
	/* placement */
	uint32_t ntasks_per_node;
	uint32_t ntasks_per_socket;
	bool exclusive;
	uint64_t mem_per_cpu_mb;
	uint32_t gpus;
	uint32_t gpus_per_node;
	char *nodelist; /* a host list (a -w file already read) */
	char *exclude;
	char *constraint;
	char *distribution; /* normalised: "cyclic:block" */
	char *cpu_bind;     /* normalised: "map_cpu:0,2,verbose" */
	bool multithread;
	int32_t nice;
	/* scheduling */
	char *array; /* as given */
	uint32_t array_max_running;
	char *dependency;
	char **warnings; /* "--requeue is not supported yet and was ignored" */
	size_t nwarnings;
	bool usage_error; /* the last error was bad syntax, not a bad value */
};

void submit_opts_init(struct submit_opts *o);
void submit_opts_free(struct submit_opts *o);

/* Parse the options of ARGV (ARGV[0] is the subcommand's name) up to the
 * first operand (the script), which is left in *FIRST (ARGC when none).
 * 0, or -1 with ERR set (and o->usage_error for an unknown option or a
 * missing value). */
int script_parse_args(struct submit_opts *o, int argc, char **argv, int *first, char *err,
		      size_t errlen);

/* Move every option set in SRC over DST (the command line wins over
 * directives); SRC's warnings are appended.  SRC is left empty.  --mem and
 * --mem-per-cpu exclude each other: one set in SRC clears the other in DST
 * (as sbatch lets the command line override a script's choice). */
void submit_opts_merge(struct submit_opts *dst, struct submit_opts *src);

/* Split TEXT into words as a shell would: blanks separate, '…' and "…"
 * quote, backslash escapes, an unquoted # at a word's start begins a
 * comment.  0 with *ARGVP (NULL-terminated, free with script_argv_free) and
 * *ARGCP set, or -1 with ERR set. */
int script_split(const char *text, char ***argvp, int *argcp, char *err, size_t errlen);
void script_argv_free(char **argv);

/* Read a script from PATH (NULL or "-" = standard input), at most
 * SCRIPT_MAX_SIZE bytes.  0 with *BUF (malloc'd, NUL-terminated) and *LEN,
 * or -1 with errno and ERR naming the file. */
int script_read(const char *path, char **buf, size_t *len, char *err, size_t errlen);

/* Check that BUF looks like a batch script: no NUL bytes, no DOS line
 * breaks, "#!" first.  NAME is how the user named it.  0 or -1 (EINVAL). */
int script_check(const char *buf, size_t len, const char *name, char *err, size_t errlen);

/* Apply the directives of BUF (#PACER and #SBATCH lines after the "#!"
 * line, before the first command) to O.  Errors read
 * "NAME:LINE: unknown option '--frob' in #SBATCH line".  0 or -1. */
int script_parse_directives(struct submit_opts *o, const char *buf, size_t len, const char *name,
			    char *err, size_t errlen);

/* Check an --export value: ALL, NONE, or [ALL,]NAME[=value],...  0 or -1. */
int script_export_check(const char *spec, char *err, size_t errlen);

/* The environment a job gets from ENVP under --export SPEC (NULL = ALL).
 * 0 with *ENVP_OUT (NULL-terminated, free with script_argv_free) and *N,
 * or -1 with ERR set. */
int script_export_env(const char *spec, char *const *envp, char ***env_out, size_t *n, char *err,
		      size_t errlen);

/* An absolute working directory: CHDIR (NULL = CWD) made absolute against
 * CWD.  A malloc'd string, or NULL with errno. */
char *script_workdir(const char *chdir, const char *cwd);

/* Where a submitted script came from, and what goes with it. */
struct submit_input {
	const char *script; /* bytes of the script */
	size_t script_len;
	char **argv; /* arguments after the script name */
	size_t argc;
	char **env; /* already filtered by --export */
	size_t nenv;
	const char *default_name; /* script basename, "wrap" or "stdin" */
	const char *workdir;      /* absolute (script_workdir) */
	const char *cwd;
	const char *host;
};

/* Fill SPEC (initialised by the caller) from O and IN.  SPEC points into O
 * and IN: it is valid as long as they are. */
void script_build_spec(const struct submit_opts *o, const struct submit_input *in,
		       Pacer__JobSpec *spec);

/* The usage text of `pacer submit`. */
extern const char script_usage[];

#endif
