/* runopt.c - pacer run and pacer alloc options, step output labels, file
 * patterns and exit codes (see runopt.h). */
#include "runopt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "jobopt.h"
#include "opt.h"
#include "timefmt.h"

enum {
	K_EXPORT = OPT_LONG_ONLY,
	K_MEM,
	K_MEM_PER_CPU,
	K_GPUS_PER_NODE,
	K_GRES,
	K_EXCLUSIVE,
	K_NTASKS_PER_NODE,
	K_NTASKS_PER_SOCKET,
	K_HINT,
	K_NICE,
	K_CPU_BIND,
	K_OVERLAP,
	K_WHOLE,
	K_MPI,
	K_JOBID,
	/* srun options that would change what the step does: refused. */
	K_MULTI_PROG,
	K_PTY,
	K_NO_ALLOC,
	K_OPEN_MODE,
	K_PROPAGATE,
	K_GPUS_PER_TASK,
	K_NTASKS_PER_CORE,
	K_MEM_BIND,
	K_SIGNAL,
	K_TASK_PROLOG,
	K_TASK_EPILOG,
	K_EPILOG,
	K_PROLOG,
	K_CONTAINER,
	K_NO_SHELL,
	K_BELL,
	K_NO_BELL,
};

/* Which options a mode takes. */
#define M_RUN   1
#define M_ALLOC 2
#define M_BOTH  (M_RUN | M_ALLOC)

struct run_def {
	struct opt_def def;
	int modes;
};

static const struct opt_def run_defs[] = {
	{ "job-name", 'J', OPT_REQUIRED },
	{ "nodes", 'N', OPT_REQUIRED },
	{ "ntasks", 'n', OPT_REQUIRED },
	{ "cpus-per-task", 'c', OPT_REQUIRED },
	{ "time", 't', OPT_REQUIRED },
	{ "nodelist", 'w', OPT_REQUIRED },
	{ "distribution", 'm', OPT_REQUIRED },
	{ "cpu-bind", K_CPU_BIND, OPT_REQUIRED },
	{ "exclusive", K_EXCLUSIVE, OPT_OPTIONAL },
	{ "chdir", 'D', OPT_REQUIRED },
	{ "export", K_EXPORT, OPT_REQUIRED },
	{ "quiet", 'Q', OPT_NONE },
	{ "help", 'h', OPT_NONE },
	{ "usage", 'h', OPT_NONE },
	/* a new allocation only */
	{ "partition", 'p', OPT_REQUIRED },
	{ "account", 'A', OPT_REQUIRED },
	{ "mem", K_MEM, OPT_REQUIRED },
	{ "mem-per-cpu", K_MEM_PER_CPU, OPT_REQUIRED },
	{ "gpus", 'G', OPT_REQUIRED },
	{ "gpus-per-node", K_GPUS_PER_NODE, OPT_REQUIRED },
	{ "gres", K_GRES, OPT_REQUIRED },
	{ "exclude", 'x', OPT_REQUIRED },
	{ "constraint", 'C', OPT_REQUIRED },
	{ "ntasks-per-node", K_NTASKS_PER_NODE, OPT_REQUIRED },
	{ "ntasks-per-socket", K_NTASKS_PER_SOCKET, OPT_REQUIRED },
	{ "hint", K_HINT, OPT_REQUIRED },
	{ "nice", K_NICE, OPT_OPTIONAL },
	{ "dependency", 'd', OPT_REQUIRED },
	/* the step (pacer run only) */
	{ "overlap", K_OVERLAP, OPT_NONE },
	{ "whole", K_WHOLE, OPT_NONE },
	{ "label", 'l', OPT_NONE },
	{ "mpi", K_MPI, OPT_REQUIRED },
	{ "output", 'o', OPT_REQUIRED },
	{ "error", 'e', OPT_REQUIRED },
	{ "input", 'i', OPT_REQUIRED },
	{ "kill-on-bad-exit", 'K', OPT_OPTIONAL },
	{ "wait", 'W', OPT_REQUIRED },
	{ "jobid", K_JOBID, OPT_REQUIRED },
	{ "unbuffered", 'u', OPT_NONE },
	/* known to srun or salloc, refused with a reason */
	{ "multi-prog", K_MULTI_PROG, OPT_NONE },
	{ "pty", K_PTY, OPT_NONE },
	{ "no-allocate", K_NO_ALLOC, OPT_NONE },
	{ "open-mode", K_OPEN_MODE, OPT_REQUIRED },
	{ "propagate", K_PROPAGATE, OPT_OPTIONAL },
	{ "gpus-per-task", K_GPUS_PER_TASK, OPT_REQUIRED },
	{ "ntasks-per-core", K_NTASKS_PER_CORE, OPT_REQUIRED },
	{ "mem-bind", K_MEM_BIND, OPT_REQUIRED },
	{ "signal", K_SIGNAL, OPT_REQUIRED },
	{ "task-prolog", K_TASK_PROLOG, OPT_REQUIRED },
	{ "task-epilog", K_TASK_EPILOG, OPT_REQUIRED },
	{ "prolog", K_PROLOG, OPT_REQUIRED },
	{ "epilog", K_EPILOG, OPT_REQUIRED },
	{ "container", K_CONTAINER, OPT_REQUIRED },
	{ "no-shell", K_NO_SHELL, OPT_NONE },
	{ "bell", K_BELL, OPT_NONE },
	{ "no-bell", K_NO_BELL, OPT_NONE },
	{ "array", 'a', OPT_REQUIRED },
	{ "hold", 'H', OPT_NONE },
	{ "relative", 'r', OPT_REQUIRED },
	{ "overcommit", 'O', OPT_NONE },
	{ "oversubscribe", 's', OPT_NONE },
	{ "no-kill", 'k', OPT_OPTIONAL },
	{ NULL, 0, OPT_NONE },
};

/* Options pacer alloc does not take (salloc has no step of its own). */
static bool step_only(int key)
{
	switch (key) {
	case K_OVERLAP:
	case K_WHOLE:
	case 'l':
	case K_MPI:
	case 'o':
	case 'e':
	case 'i':
	case 'K':
	case 'W':
	case K_JOBID:
	case 'u':
	case K_MULTI_PROG:
	case K_PTY:
	case K_NO_ALLOC:
	case K_OPEN_MODE:
	case K_GPUS_PER_TASK:
	case K_TASK_PROLOG:
	case K_TASK_EPILOG:
	case K_PROLOG:
	case K_EPILOG:
	case 'r': return true;
	default: return false;
	}
}

/* Why a refused option is refused. */
static const char *refusal(int key, enum run_mode mode)
{
	switch (key) {
	case K_MULTI_PROG: return "is not supported yet (run one command in every rank)";
	case K_PTY: return "is not supported yet (output is streamed, not on a terminal)";
	case K_NO_ALLOC:
		return "is not supported (a step always runs inside a job: use pacer alloc "
		       "or --jobid)";
	case K_OPEN_MODE: return "is not supported yet (output files are always truncated)";
	case K_PROPAGATE:
		return "is not supported yet (resource limits are the node's, not this "
		       "shell's)";
	case K_GPUS_PER_TASK:
		return "is not supported yet (give --gpus or --gpus-per-node to the job)";
	case K_NTASKS_PER_CORE: return "is not supported yet (a task gets whole cores)";
	case K_MEM_BIND: return "is not supported yet (memory follows the task's cores)";
	case K_SIGNAL: return "is not supported yet (send signals with pacer cancel --signal)";
	case K_TASK_PROLOG:
	case K_TASK_EPILOG:
	case K_PROLOG:
	case K_EPILOG:
		return "is not supported yet (put the commands before or after yours in a "
		       "script)";
	case K_CONTAINER: return "is not supported yet";
	case K_NO_SHELL:
		return "is not supported yet (pacer alloc always runs a command: give one, "
		       "like sleep infinity)";
	case K_BELL:
	case K_NO_BELL: return "is not supported (pacer alloc never rings)";
	case 'a':
		return mode == RUN_MODE_RUN ? "is for pacer submit (a step is not an array)"
					    : "is for pacer submit (an allocation is not an array)";
	case 'H':
		return "is for pacer submit (an interactive allocation cannot wait for a release)";
	case 'r': return "is not supported yet (use --nodelist to pick the step's nodes)";
	case 'O': return "is not supported (a task never shares its CPUs)";
	case 's': return "is not supported (nodes are shared by CPUs, as the partition says)";
	case 'k': return "is not supported (a job whose node fails ends; see docs/states.md)";
	default: return NULL;
	}
}

/* Options that only shape a new allocation. */
static bool job_only(int key)
{
	switch (key) {
	case 'p':
	case 'A':
	case K_MEM:
	case K_MEM_PER_CPU:
	case 'G':
	case K_GPUS_PER_NODE:
	case K_GRES:
	case 'x':
	case 'C':
	case K_NTASKS_PER_NODE:
	case K_NTASKS_PER_SOCKET:
	case K_HINT:
	case K_NICE:
	case 'd': return true;
	default: return false;
	}
}

const char run_usage[] =
    "Usage: pacer run [OPTIONS] COMMAND [ARGS...]\n"
    "\n"
    "Run COMMAND as a parallel step (like srun): inside a job (PACER_JOB_ID is set,\n"
    "or --jobid) the step takes part of the job's allocation; elsewhere a job is\n"
    "allocated for it first and released when the step ends.  The output of every\n"
    "rank comes back here as it is written, standard input goes to rank 0, Ctrl-C\n"
    "interrupts every rank (twice within a second ends the step), and the exit\n"
    "code is the worst rank's.\n"
    "\n"
    "  -N, --nodes=N            nodes the step runs on (exact)\n"
    "  -n, --ntasks=N           ranks (default: the job's tasks, or one a node with -N)\n"
    "  -c, --cpus-per-task=N    CPUs for each rank\n"
    "  -w, --nodelist=HOSTS     run on all of these nodes (a name with a '/' is a file)\n"
    "  -m, --distribution=D     block|cyclic over nodes, then :block|:cyclic over sockets\n"
    "      --cpu-bind=TYPE      none, cores, threads, sockets or map_cpu:LIST[,verbose]\n"
    "      --exclusive          cores no other step holds (the default for a step);\n"
    "                           a new allocation gets whole nodes\n"
    "      --overlap            share cores with the job's other steps, never wait\n"
    "      --whole              every task gets all the CPUs the job has on its node\n"
    "  -t, --time=TIME          time limit of the step (of the job when one is allocated)\n"
    "  -J, --job-name=NAME      name of the step (default: the command's)\n"
    "  -D, --chdir=DIR          working directory of the ranks (default: here)\n"
    "      --export=VARS        environment of the ranks: ALL (default), NONE, or\n"
    "                           [ALL,]NAME[=VALUE],...\n"
    "      --mpi=TYPE           pmix (default: a PMIx server for MPI programs) or none\n"
    "  -l, --label              put the rank before each line of output: \"3: ...\"\n"
    "  -o, --output=PATTERN     write standard output to files instead: %j job, %s\n"
    "                           step, %t rank, %n node index, %N node, %u user, %x name\n"
    "  -e, --error=PATTERN      standard error likewise (default: with --output)\n"
    "  -i, --input=WHERE        standard input to rank 0 (default), to a RANK, to all,\n"
    "                           none, or from a FILE to every rank\n"
    "  -K, --kill-on-bad-exit[=0|1]\n"
    "                           end the step as soon as a rank exits non-zero\n"
    "  -W, --wait=SECONDS       end the remaining ranks SECONDS after the first exits\n"
    "      --jobid=ID           run the step in job ID instead of $PACER_JOB_ID\n"
    "  -u, --unbuffered         accepted: output is never held back anyway\n"
    "  -Q, --quiet              no progress messages, errors only\n"
    "  -h, --help               show this help\n"
    "\n"
    "When pacer run allocates the job, it also takes pacer submit's -p, --mem,\n"
    "--mem-per-cpu, -G, --gpus-per-node, --gres, -x, -C, --ntasks-per-node,\n"
    "--ntasks-per-socket, --hint, --nice and -d; -A is accepted and ignored.\n";

const char alloc_usage[] =
    "Usage: pacer alloc [OPTIONS] [COMMAND [ARGS...]]\n"
    "\n"
    "Allocate a job and run COMMAND (default: $SHELL) here while it holds its\n"
    "nodes (like salloc): pacer run inside starts steps in it.  The allocation\n"
    "ends when COMMAND exits, with its exit code; if it is cancelled or reaches\n"
    "its time limit first, COMMAND gets SIGHUP.\n"
    "\n"
    "  -J, --job-name=NAME      name of the job (default: the command's)\n"
    "  -N, --nodes=N            number of nodes (an exact count)\n"
    "  -n, --ntasks=N           number of tasks\n"
    "  -c, --cpus-per-task=N    CPUs for each task\n"
    "      --ntasks-per-node=N  tasks on each node\n"
    "      --ntasks-per-socket=N\n"
    "                           at most N tasks on each socket\n"
    "  -t, --time=TIME          time limit: MM, MM:SS, HH:MM:SS, D-HH[:MM[:SS]] or\n"
    "                           UNLIMITED (0 means no limit)\n"
    "      --mem=SIZE           memory per node: 512 (MiB), 512M, 4G, 1T\n"
    "      --mem-per-cpu=SIZE   memory per allocated CPU (not with --mem)\n"
    "  -G, --gpus=N             GPUs for the whole job\n"
    "      --gpus-per-node=N    GPUs on each node (also --gres=gpu:N)\n"
    "      --exclusive          whole nodes: no other job shares them\n"
    "  -w, --nodelist=HOSTS     on all of these nodes (a name with a '/' is a file)\n"
    "  -x, --exclude=HOSTS      never on these nodes\n"
    "  -C, --constraint=EXPR    nodes with these features: a&b (all) or a|b (any)\n"
    "  -m, --distribution=D     how tasks are laid out: block|cyclic[:block|cyclic]\n"
    "      --cpu-bind=TYPE      none, cores, threads, sockets or map_cpu:LIST\n"
    "      --hint=HINT          multithread or nomultithread\n"
    "      --nice[=N]           lower the job's priority by N (default 100)\n"
    "  -d, --dependency=DEPS    start after other jobs, as for pacer submit\n"
    "  -p, --partition=NAME[,NAME...]\n"
    "                           partition to run in (default: the default one)\n"
    "  -D, --chdir=DIR          working directory of the job and of COMMAND\n"
    "      --export=VARS        the job's environment: ALL (default), NONE, or\n"
    "                           [ALL,]NAME[=VALUE],...\n"
    "  -Q, --quiet              no progress messages, errors only\n"
    "  -h, --help               show this help\n"
    "\n"
    "-A/--account is accepted and ignored.\n";

void run_opts_init(struct run_opts *o, enum run_mode mode)
{
	memset(o, 0, sizeof(*o));
	o->mode = mode;
	submit_opts_init(&o->job);
	snprintf(o->mpi, sizeof(o->mpi), "pmix");
}

void run_opts_free(struct run_opts *o)
{
	submit_opts_free(&o->job);
	free(o->input_file);
	memset(o, 0, sizeof(*o));
}

/* A whole number that fits in 32 bits, digits only, at least MIN. */
static int parse_u32(const char *s, uint32_t min, uint32_t *v)
{
	uint64_t n = 0;

	if (!*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	if (n < min)
		return -1;
	*v = (uint32_t)n;
	return 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

static int set_str(char **field, const char *opt, const char *arg, char *err, size_t errlen)
{
	char *s;

	if (!*arg)
		return fail(err, errlen,
			    "empty value for %s (give a value or leave the option out)", opt);
	s = strdup(arg);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	free(*field);
	*field = s;
	return 0;
}

static int count(uint32_t *field, const char *opt, const char *arg, char *err, size_t errlen)
{
	if (parse_u32(arg, 1, field) < 0)
		return fail(err, errlen,
			    "invalid value '%s' for %s (give a whole number of at least 1)", arg,
			    opt);
	return 0;
}

/* A jobopt parser refused ARG with WHY. */
static int bad(const char *opt, const char *why, char *err, size_t errlen)
{
	if (errno == ENOMEM) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return fail(err, errlen, "bad value for %s: %s", opt, why);
}

static int apply_input(struct run_opts *o, const char *opt, const char *arg, char *err,
		       size_t errlen)
{
	if (strcasecmp(arg, "none") == 0) {
		o->input = RUN_INPUT_NONE;
		return 0;
	}
	if (strcasecmp(arg, "all") == 0) {
		o->input = RUN_INPUT_ALL;
		return 0;
	}
	if (parse_u32(arg, 0, &o->input_rank) == 0) {
		o->input = RUN_INPUT_RANK;
		return 0;
	}
	if (!*arg)
		return fail(err, errlen, "empty value for %s (give none, all, a rank or a file)",
			    opt);
	if (strchr(arg, '%'))
		return fail(err, errlen,
			    "%s '%s': file name patterns are not supported for input yet (give "
			    "one file for every rank, a rank, all or none)",
			    opt, arg);
	o->input = RUN_INPUT_FILE;
	return set_str(&o->input_file, opt, arg, err, errlen);
}

/* Options of the allocation that a step shares or that only a job has. */
static int apply_job(struct run_opts *o, int key, const char *opt, const char *arg, char *err,
		     size_t errlen)
{
	struct submit_opts *j = &o->job;
	char why[512], dist[JOBOPT_DIST_MAX], *s;

	switch (key) {
	case 'J': return set_str(&j->name, opt, arg, err, errlen);
	case 'N': {
		size_t digits = strspn(arg, "0123456789");
		if (digits && arg[digits] == '-')
			return fail(err, errlen,
				    "invalid value '%s' for %s (a range of node counts is not "
				    "supported: give an exact count, like %s %.*s)",
				    arg, opt, opt, (int)digits, arg);
		return count(&j->nodes, opt, arg, err, errlen);
	}
	case 'n': return count(&j->ntasks, opt, arg, err, errlen);
	case 'c': return count(&j->cpus_per_task, opt, arg, err, errlen);
	case K_NTASKS_PER_NODE: return count(&j->ntasks_per_node, opt, arg, err, errlen);
	case K_NTASKS_PER_SOCKET: return count(&j->ntasks_per_socket, opt, arg, err, errlen);
	case 't':
		if (timefmt_parse_duration(arg, &j->time_limit, why, sizeof(why)) < 0)
			return fail(err, errlen, "bad value for %s: %s", opt, why);
		if (j->time_limit == 0)
			j->time_limit = TIMEFMT_UNLIMITED;
		return 0;
	case 'p': return set_str(&j->partition, opt, arg, err, errlen);
	case 'D': return set_str(&j->chdir, opt, arg, err, errlen);
	case K_EXPORT:
		if (script_export_check(arg, err, errlen) < 0)
			return -1;
		return set_str(&j->export_spec, opt, arg, err, errlen);
	case K_MEM:
	case K_MEM_PER_CPU: {
		uint64_t *field = key == K_MEM ? &j->mem_mb : &j->mem_per_cpu_mb;
		uint64_t other = key == K_MEM ? j->mem_per_cpu_mb : j->mem_mb;
		if (other)
			return fail(err, errlen,
				    "%s cannot be combined with %s (give memory per node with "
				    "--mem, or per CPU with --mem-per-cpu, not both)",
				    opt, key == K_MEM ? "--mem-per-cpu" : "--mem");
		if (conf_parse_mem(arg, field) < 0)
			return fail(err, errlen,
				    "invalid value '%s' for %s (give a size like 512M, 4G or "
				    "1T; a plain number is MiB)",
				    arg, opt);
		return 0;
	}
	case 'G':
		return jobopt_gpu_count(arg, &j->gpus, why, sizeof(why)) < 0
			   ? bad(opt, why, err, errlen)
			   : 0;
	case K_GPUS_PER_NODE:
		return jobopt_gpu_count(arg, &j->gpus_per_node, why, sizeof(why)) < 0
			   ? bad(opt, why, err, errlen)
			   : 0;
	case K_GRES:
		return jobopt_gres(arg, &j->gpus_per_node, why, sizeof(why)) < 0
			   ? bad(opt, why, err, errlen)
			   : 0;
	case K_EXCLUSIVE:
		if (jobopt_exclusive(arg, why, sizeof(why)) < 0)
			return bad(opt, why, err, errlen);
		j->exclusive = true;
		return 0;
	case 'w':
	case 'x':
		if (jobopt_hostlist(arg, key == 'w', &s, why, sizeof(why)) < 0)
			return bad(opt, why, err, errlen);
		free(key == 'w' ? j->nodelist : j->exclude);
		*(key == 'w' ? &j->nodelist : &j->exclude) = s;
		return 0;
	case 'C':
		if (jobopt_constraint(arg, why, sizeof(why)) < 0)
			return bad(opt, why, err, errlen);
		return set_str(&j->constraint, opt, arg, err, errlen);
	case 'm':
		if (jobopt_distribution(arg, dist, why, sizeof(why)) < 0)
			return bad(opt, why, err, errlen);
		return set_str(&j->distribution, opt, dist, err, errlen);
	case K_CPU_BIND:
		if (jobopt_cpu_bind(arg, &s, why, sizeof(why)) < 0)
			return bad(opt, why, err, errlen);
		free(j->cpu_bind);
		j->cpu_bind = s;
		return 0;
	case K_HINT:
		return jobopt_hint(arg, &j->multithread, why, sizeof(why)) < 0
			   ? bad(opt, why, err, errlen)
			   : 0;
	case K_NICE:
		return jobopt_nice(arg, &j->nice, why, sizeof(why)) < 0 ? bad(opt, why, err, errlen)
									: 0;
	case 'd':
		if (jobopt_dependency(arg, why, sizeof(why)) < 0)
			return bad(opt, why, err, errlen);
		return set_str(&j->dependency, opt, arg, err, errlen);
	case 'A': return 0; /* accounts do not exist yet: nothing to change */
	default: return 1;
	}
}

static int apply_step(struct run_opts *o, int key, const char *opt, const char *arg, char *err,
		      size_t errlen)
{
	switch (key) {
	case K_OVERLAP: o->overlap = true; return 0;
	case K_WHOLE: o->whole = true; return 0;
	case 'l': o->label = true; return 0;
	case 'u': return 0; /* output is forwarded as it comes: nothing to change */
	case 'Q': o->quiet = true; return 0;
	case 'h': o->help = true; return 0;
	case K_MPI:
		if (strcasecmp(arg, "pmix") == 0 || strcasecmp(arg, "pmix_v4") == 0 ||
		    strcasecmp(arg, "none") == 0) {
			snprintf(o->mpi, sizeof(o->mpi), "%s",
				 strcasecmp(arg, "none") == 0 ? "none" : "pmix");
			return 0;
		}
		return fail(err, errlen,
			    "--mpi=%s is not supported (use pmix, the default, for MPI programs, "
			    "or none)",
			    arg);
	case 'o': return set_str(&o->job.output, opt, arg, err, errlen);
	case 'e': return set_str(&o->job.error, opt, arg, err, errlen);
	case 'i': return apply_input(o, opt, arg, err, errlen);
	case 'K':
		if (!arg || strcmp(arg, "1") == 0)
			o->kill_on_bad_exit = true;
		else if (strcmp(arg, "0") == 0)
			o->kill_on_bad_exit = false;
		else
			return fail(err, errlen,
				    "invalid value '%s' for %s (give 1 or 0, or nothing for 1)",
				    arg, opt);
		return 0;
	case 'W':
		if (parse_u32(arg, 0, &o->wait_s) < 0)
			return fail(err, errlen,
				    "invalid value '%s' for %s (give whole seconds; 0 waits for "
				    "every rank)",
				    arg, opt);
		return 0;
	case K_JOBID:
		if (parse_u32(arg, 1, &o->jobid) < 0)
			return fail(err, errlen,
				    "invalid value '%s' for %s (give the id of a running job, "
				    "like 42)",
				    arg, opt);
		return 0;
	default: return 1;
	}
}

int run_parse_args(struct run_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	struct opt_state st;
	int key;

	o->usage_error = false;
	opt_init(&st, argc, argv, 1, run_defs, false);
	while ((key = opt_next(&st)) != OPT_END) {
		const char *why;
		int rc;

		if (key == OPT_ERROR) {
			snprintf(err, errlen, "%s", st.err);
			o->usage_error = true;
			errno = EINVAL;
			return -1;
		}
		if (o->mode == RUN_MODE_ALLOC && step_only(key)) {
			snprintf(err, errlen, "unknown option '%s'%s", st.name,
				 key == 'o' || key == 'e' || key == 'i' || key == 'l' ||
					 key == 'K' || key == 'W'
				     ? " (it is a pacer run option: give it to the pacer run "
				       "inside the allocation)"
				     : "");
			o->usage_error = true;
			errno = EINVAL;
			return -1;
		}
		why = refusal(key, o->mode);
		if (why)
			return fail(err, errlen, "%s %s", st.name, why);
		if (job_only(key) && !o->job_only[0])
			snprintf(o->job_only, sizeof(o->job_only), "%s", st.name);
		rc = apply_step(o, key, st.name, st.arg, err, errlen);
		if (rc > 0)
			rc = apply_job(o, key, st.name, st.arg, err, errlen);
		if (rc < 0)
			return -1;
	}
	o->first = st.ind;
	return 0;
}

int run_target_job(const struct run_opts *o, const char *env, uint32_t *job, char *err,
		   size_t errlen)
{
	*job = o->jobid;
	if (*job || !env || !*env)
		return 0;
	if (parse_u32(env, 1, job) < 0)
		return fail(err, errlen,
			    "PACER_JOB_ID='%s' is not a job id (unset it to allocate a new job, "
			    "or give --jobid)",
			    env);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Exit codes */

int run_rank_status(int32_t exit_code, int32_t term_signal)
{
	if (term_signal > 0)
		return 128 + term_signal;
	return exit_code < 0 || exit_code > 255 ? 255 : exit_code;
}

void run_tally_init(struct run_tally *t)
{
	memset(t, 0, sizeof(*t));
}

void run_tally_rank(struct run_tally *t, uint32_t rank, int32_t exit_code, int32_t term_signal,
		    bool aborted)
{
	int code = run_rank_status(exit_code, term_signal);

	t->exited++;
	if (code > t->worst)
		t->worst = code;
	/* The first abort is the cause; the ranks killed after it are its
	 * consequences. */
	if (aborted && !t->aborted) {
		t->aborted = true;
		t->abort_rank = rank;
		t->abort_code = code;
	}
}

int run_tally_code(const struct run_tally *t)
{
	int code = t->aborted ? t->abort_code : t->worst;

	if (code == 0 && (t->failed || t->aborted))
		code = 1;
	return code;
}

/* ---------------------------------------------------------------------------
 * Labels */

int run_label_width(uint32_t ntasks)
{
	int w = 1;

	for (uint32_t n = ntasks > 1 ? ntasks - 1 : 0; n >= 10; n /= 10)
		w++;
	return w;
}

static int grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 256;
	while (ncap < need)
		ncap *= 2;
	char *nb = realloc(*buf, ncap);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = ncap;
	return 0;
}

static int put(char **out, size_t *outlen, size_t *outcap, const char *s, size_t n)
{
	if (grow(out, outcap, *outlen + n) < 0)
		return -1;
	if (n) /* S may be NULL then (an empty rest of a line) */
		memcpy(*out + *outlen, s, n);
	*outlen += n;
	return 0;
}

static int put_line(uint32_t rank, int width, const char *a, size_t alen, const char *b,
		    size_t blen, char **out, size_t *outlen, size_t *outcap)
{
	char label[32];
	int n = snprintf(label, sizeof(label), "%*u: ", width, rank);

	if (put(out, outlen, outcap, label, (size_t)n) < 0 ||
	    put(out, outlen, outcap, a, alen) < 0 || put(out, outlen, outcap, b, blen) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int run_lines_feed(struct run_lines *l, uint32_t rank, int width, const char *data, size_t len,
		   bool eof, char **out, size_t *outlen, size_t *outcap)
{
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break;
		if (put_line(rank, width, l->buf, l->len, p, (size_t)(nl + 1 - p), out, outlen,
			     outcap) < 0)
			return -1;
		l->len = 0;
		p = nl + 1;
	}
	if (p < end) {
		if (grow(&l->buf, &l->cap, l->len + (size_t)(end - p)) < 0) {
			errno = ENOMEM;
			return -1;
		}
		memcpy(l->buf + l->len, p, (size_t)(end - p));
		l->len += (size_t)(end - p);
	}
	if (eof && l->len) {
		if (put_line(rank, width, l->buf, l->len, "", 0, out, outlen, outcap) < 0)
			return -1;
		l->len = 0;
	}
	return 0;
}

void run_lines_free(struct run_lines *l)
{
	free(l->buf);
	memset(l, 0, sizeof(*l));
}

/* ---------------------------------------------------------------------------
 * File patterns */

int run_pattern_expand(const char *pat, const struct run_pattern_vars *v, char *buf, size_t size)
{
	size_t n = 0;

#define OUT(c)                        \
	do {                          \
		if (n + 1 < size)     \
			buf[n] = (c); \
		n++;                  \
	} while (0)

	for (const char *p = pat; *p; p++) {
		if (*p != '%') {
			OUT(*p);
			continue;
		}
		const char *start = p++;
		int width = 0;
		while (*p >= '0' && *p <= '9' && width < 64)
			width = width * 10 + (*p++ - '0');
		char tmp[64];
		const char *s = NULL;
		switch (*p) {
		case 'j': snprintf(tmp, sizeof(tmp), "%0*u", width, v->job_id); break;
		case 's': snprintf(tmp, sizeof(tmp), "%0*u", width, v->step_id); break;
		case 't': snprintf(tmp, sizeof(tmp), "%0*u", width, v->rank); break;
		case 'n': snprintf(tmp, sizeof(tmp), "%0*u", width, v->node_index); break;
		case 'J': snprintf(tmp, sizeof(tmp), "%u.%u", v->job_id, v->step_id); break;
		case 'N': s = v->node ? v->node : ""; break;
		case 'u': s = v->user ? v->user : ""; break;
		case 'x': s = v->job_name ? v->job_name : ""; break;
		case '%': s = "%"; break;
		default:
			/* Not ours: copied as it is, as srun does. */
			for (const char *q = start; q < p; q++)
				OUT(*q);
			if (!*p)
				goto done;
			OUT(*p);
			continue;
		}
		for (const char *q = s ? s : tmp; *q; q++)
			OUT(*q);
	}
done:
	if (size)
		buf[n < size ? n : size - 1] = '\0';
#undef OUT
	return (int)n;
}
