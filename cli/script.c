/* script.c - submit options, batch script directives and --export. */
#include "script.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "jobopt.h"
#include "opt.h"
#include "timefmt.h"

/* Keys of the options that have no short letter. */
enum {
	K_MEM = OPT_LONG_ONLY,
	K_EXPORT,
	K_PARSABLE,
	K_WRAP,
	K_GRES,
	K_EXCLUSIVE,
	K_MEM_PER_CPU,
	K_NTASKS_PER_NODE,
	K_NTASKS_PER_SOCKET,
	K_HINT,
	K_GPUS_PER_NODE,
	K_CPU_BIND,
	K_NICE,
	/* Slurm options Pacer accepts and ignores (with a warning). */
	K_MAIL_TYPE,
	K_MAIL_USER,
	K_REQUEUE,
	K_NO_REQUEUE,
	K_OPEN_MODE,
	K_COMMENT,
	K_SIGNAL,
	K_GPUS_PER_TASK,
	K_GPUS_PER_SOCKET,
	K_CPUS_PER_GPU,
	K_MEM_PER_GPU,
	K_GPU_BIND,
	K_GPU_FREQ,
	K_MPI,
	K_TMP,
	K_RESERVATION,
	K_SWITCHES,
	K_WCKEY,
	K_MINCPUS,
	K_NTASKS_PER_CORE,
	K_NTASKS_PER_GPU,
	K_SOCKETS_PER_NODE,
	K_CORES_PER_SOCKET,
	K_THREADS_PER_CORE,
	K_MEM_BIND,
	K_CPU_FREQ,
	K_ACCTG_FREQ,
	K_TIME_MIN,
	K_DEADLINE,
	K_PROFILE,
	K_KILL_ON_INVALID_DEP,
	K_GRES_FLAGS,
	K_PREFER,
	K_PRIORITY,
	K_NETWORK,
	K_BB,
	K_BBF,
	K_REBOOT,
	K_UID,
	K_GID,
	K_DELAY_BOOT,
	K_THREAD_SPEC,
	K_CONTAINER,
	K_MCS_LABEL,
	K_POWER,
	K_EXPORT_FILE,
	K_TRES_PER_TASK,
	K_SPREAD_JOB,
	K_TEST_ONLY,
	K_IGNORE_PBS,
	K_USE_MIN_NODES,
	K_CONTIGUOUS,
	K_WAIT_ALL_NODES,
	K_GET_USER_ENV,
	K_PROPAGATE,
	K_CLUSTER_CONSTRAINT,
	K_BATCH,
};

static const struct opt_def submit_defs[] = {
	{ "job-name", 'J', OPT_REQUIRED },
	{ "nodes", 'N', OPT_REQUIRED },
	{ "ntasks", 'n', OPT_REQUIRED },
	{ "cpus-per-task", 'c', OPT_REQUIRED },
	{ "time", 't', OPT_REQUIRED },
	{ "partition", 'p', OPT_REQUIRED },
	{ "output", 'o', OPT_REQUIRED },
	{ "error", 'e', OPT_REQUIRED },
	{ "chdir", 'D', OPT_REQUIRED },
	{ "workdir", 'D', OPT_REQUIRED }, /* Slurm's old name for --chdir */
	{ "mem", K_MEM, OPT_REQUIRED },
	{ "export", K_EXPORT, OPT_REQUIRED },
	{ "hold", 'H', OPT_NONE },
	{ "parsable", K_PARSABLE, OPT_NONE },
	{ "wrap", K_WRAP, OPT_REQUIRED },
	{ "help", 'h', OPT_NONE },
	{ "usage", 'h', OPT_NONE },
	{ "ntasks-per-node", K_NTASKS_PER_NODE, OPT_REQUIRED },
	{ "ntasks-per-socket", K_NTASKS_PER_SOCKET, OPT_REQUIRED },
	{ "exclusive", K_EXCLUSIVE, OPT_OPTIONAL },
	{ "mem-per-cpu", K_MEM_PER_CPU, OPT_REQUIRED },
	{ "gpus", 'G', OPT_REQUIRED },
	{ "gpus-per-node", K_GPUS_PER_NODE, OPT_REQUIRED },
	{ "gres", K_GRES, OPT_REQUIRED },
	{ "nodelist", 'w', OPT_REQUIRED },
	{ "exclude", 'x', OPT_REQUIRED },
	{ "constraint", 'C', OPT_REQUIRED },
	{ "distribution", 'm', OPT_REQUIRED },
	{ "cpu-bind", K_CPU_BIND, OPT_REQUIRED },
	{ "hint", K_HINT, OPT_REQUIRED },
	{ "nice", K_NICE, OPT_OPTIONAL },
	{ "array", 'a', OPT_REQUIRED },
	{ "dependency", 'd', OPT_REQUIRED },

	/* Accepted with a warning that they are ignored. */
	{ "account", 'A', OPT_REQUIRED },
	{ "qos", 'q', OPT_REQUIRED },
	{ "licenses", 'L', OPT_REQUIRED },
	{ "begin", 'b', OPT_REQUIRED },
	{ "clusters", 'M', OPT_REQUIRED },
	{ "core-spec", 'S', OPT_REQUIRED },
	{ "extra-node-info", 'B', OPT_REQUIRED },
	{ "input", 'i', OPT_REQUIRED },
	{ "nodefile", 'F', OPT_REQUIRED },
	{ "no-kill", 'k', OPT_OPTIONAL },
	{ "overcommit", 'O', OPT_NONE },
	{ "oversubscribe", 's', OPT_NONE },
	{ "wait", 'W', OPT_NONE },
	{ "verbose", 'v', OPT_NONE },
	{ "quiet", 'Q', OPT_NONE },
	{ "mail-type", K_MAIL_TYPE, OPT_REQUIRED },
	{ "mail-user", K_MAIL_USER, OPT_REQUIRED },
	{ "requeue", K_REQUEUE, OPT_NONE },
	{ "no-requeue", K_NO_REQUEUE, OPT_NONE },
	{ "open-mode", K_OPEN_MODE, OPT_REQUIRED },
	{ "comment", K_COMMENT, OPT_REQUIRED },
	{ "signal", K_SIGNAL, OPT_REQUIRED },
	{ "gpus-per-task", K_GPUS_PER_TASK, OPT_REQUIRED },
	{ "gpus-per-socket", K_GPUS_PER_SOCKET, OPT_REQUIRED },
	{ "cpus-per-gpu", K_CPUS_PER_GPU, OPT_REQUIRED },
	{ "mem-per-gpu", K_MEM_PER_GPU, OPT_REQUIRED },
	{ "gpu-bind", K_GPU_BIND, OPT_REQUIRED },
	{ "gpu-freq", K_GPU_FREQ, OPT_REQUIRED },
	{ "mpi", K_MPI, OPT_REQUIRED },
	{ "tmp", K_TMP, OPT_REQUIRED },
	{ "reservation", K_RESERVATION, OPT_REQUIRED },
	{ "switches", K_SWITCHES, OPT_REQUIRED },
	{ "wckey", K_WCKEY, OPT_REQUIRED },
	{ "mincpus", K_MINCPUS, OPT_REQUIRED },
	{ "ntasks-per-core", K_NTASKS_PER_CORE, OPT_REQUIRED },
	{ "ntasks-per-gpu", K_NTASKS_PER_GPU, OPT_REQUIRED },
	{ "sockets-per-node", K_SOCKETS_PER_NODE, OPT_REQUIRED },
	{ "cores-per-socket", K_CORES_PER_SOCKET, OPT_REQUIRED },
	{ "threads-per-core", K_THREADS_PER_CORE, OPT_REQUIRED },
	{ "mem-bind", K_MEM_BIND, OPT_REQUIRED },
	{ "cpu-freq", K_CPU_FREQ, OPT_REQUIRED },
	{ "acctg-freq", K_ACCTG_FREQ, OPT_REQUIRED },
	{ "time-min", K_TIME_MIN, OPT_REQUIRED },
	{ "deadline", K_DEADLINE, OPT_REQUIRED },
	{ "profile", K_PROFILE, OPT_REQUIRED },
	{ "kill-on-invalid-dep", K_KILL_ON_INVALID_DEP, OPT_REQUIRED },
	{ "gres-flags", K_GRES_FLAGS, OPT_REQUIRED },
	{ "prefer", K_PREFER, OPT_REQUIRED },
	{ "priority", K_PRIORITY, OPT_REQUIRED },
	{ "network", K_NETWORK, OPT_REQUIRED },
	{ "bb", K_BB, OPT_REQUIRED },
	{ "bbf", K_BBF, OPT_REQUIRED },
	{ "reboot", K_REBOOT, OPT_NONE },
	{ "uid", K_UID, OPT_REQUIRED },
	{ "gid", K_GID, OPT_REQUIRED },
	{ "delay-boot", K_DELAY_BOOT, OPT_REQUIRED },
	{ "thread-spec", K_THREAD_SPEC, OPT_REQUIRED },
	{ "container", K_CONTAINER, OPT_REQUIRED },
	{ "mcs-label", K_MCS_LABEL, OPT_REQUIRED },
	{ "power", K_POWER, OPT_REQUIRED },
	{ "export-file", K_EXPORT_FILE, OPT_REQUIRED },
	{ "tres-per-task", K_TRES_PER_TASK, OPT_REQUIRED },
	{ "spread-job", K_SPREAD_JOB, OPT_NONE },
	{ "test-only", K_TEST_ONLY, OPT_NONE },
	{ "ignore-pbs", K_IGNORE_PBS, OPT_NONE },
	{ "use-min-nodes", K_USE_MIN_NODES, OPT_NONE },
	{ "contiguous", K_CONTIGUOUS, OPT_NONE },
	{ "wait-all-nodes", K_WAIT_ALL_NODES, OPT_REQUIRED },
	{ "get-user-env", K_GET_USER_ENV, OPT_OPTIONAL },
	{ "propagate", K_PROPAGATE, OPT_OPTIONAL },
	{ "cluster-constraint", K_CLUSTER_CONSTRAINT, OPT_REQUIRED },
	{ "batch", K_BATCH, OPT_REQUIRED },
	{ NULL, 0, OPT_NONE },
};

const char script_usage[] =
    "Usage: pacer submit [OPTIONS] SCRIPT [ARGS...]\n"
    "       pacer submit [OPTIONS] --wrap \"COMMAND\"\n"
    "       pacer submit [OPTIONS] < SCRIPT\n"
    "\n"
    "Queue a batch script.  Options may also be given in the script on #PACER or\n"
    "#SBATCH lines before its first command; the command line wins.\n"
    "\n"
    "  -J, --job-name=NAME      name of the job (default: the script's file name)\n"
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
    "  -w, --nodelist=HOSTS     run on all of these nodes (node[1-4]; a name with\n"
    "                           a '/' is a file of host names)\n"
    "  -x, --exclude=HOSTS      never on these nodes\n"
    "  -C, --constraint=EXPR    nodes with these features: a&b (all) or a|b (any)\n"
    "  -m, --distribution=D     how tasks are laid out: block|cyclic over nodes,\n"
    "                           then :block|:cyclic over sockets\n"
    "      --cpu-bind=TYPE      none, cores, threads, sockets or map_cpu:LIST,\n"
    "                           with ,verbose to print the binding\n"
    "      --hint=HINT          multithread (a CPU is a hardware thread) or\n"
    "                           nomultithread (a CPU is a core, the default)\n"
    "      --nice[=N]           lower the job's priority by N (default 100)\n"
    "  -a, --array=INDEXES      a job array: 0-99, 1,3,5-7, 0-99:2; %N runs at\n"
    "                           most N tasks at once (0-99%10)\n"
    "  -d, --dependency=DEPS    start after other jobs: afterok:ID[:ID...],\n"
    "                           afterany, afternotok, after, singleton; ',' for\n"
    "                           all, '?' for any\n"
    "  -p, --partition=NAME[,NAME...]\n"
    "                           partition to run in (default: the default one); with\n"
    "                           a list, whichever can start the job first\n"
    "  -o, --output=PATTERN     standard output file (default: pacer-%j.out);\n"
    "                           %j job id, %x job name, %u user, %N first node,\n"
    "                           %A array id, %a array index\n"
    "  -e, --error=PATTERN      standard error file (default: with the output)\n"
    "  -D, --chdir=DIR          working directory of the job (default: here)\n"
    "      --export=VARS        environment to pass: ALL (default), NONE, or\n"
    "                           [ALL,]NAME[=VALUE],...\n"
    "  -H, --hold               queue the job held (pacer release ID starts it)\n"
    "      --parsable           print only the job id\n"
    "      --wrap=COMMAND       run COMMAND with /bin/sh instead of a script\n"
    "  -h, --help               show this help\n"
    "\n"
    "Slurm options Pacer does not support yet (--account, --qos, --begin,\n"
    "--mail-type, --requeue, ...) are accepted with a warning and ignored.\n";

void submit_opts_init(struct submit_opts *o)
{
	memset(o, 0, sizeof(*o));
}

void submit_opts_free(struct submit_opts *o)
{
	free(o->name);
	free(o->partition);
	free(o->output);
	free(o->error);
	free(o->chdir);
	free(o->export_spec);
	free(o->wrap);
	free(o->nodelist);
	free(o->exclude);
	free(o->constraint);
	free(o->distribution);
	free(o->cpu_bind);
	free(o->array);
	free(o->dependency);
	for (size_t i = 0; i < o->nwarnings; i++)
		free(o->warnings[i]);
	free(o->warnings);
	memset(o, 0, sizeof(*o));
}

__attribute__((format(printf, 2, 3))) static int add_warning(struct submit_opts *o, const char *fmt,
							     ...)
{
	char **w = realloc(o->warnings, (o->nwarnings + 1) * sizeof(*w));
	va_list ap;
	int rc;

	if (!w)
		return -1;
	o->warnings = w;
	va_start(ap, fmt);
	rc = vasprintf(&w[o->nwarnings], fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -1;
	o->nwarnings++;
	return 0;
}

/* A whole number of at least 1 that fits in 32 bits, digits only. */
static int parse_count(const char *s, uint32_t *v)
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
	if (n == 0)
		return -1;
	*v = (uint32_t)n;
	return 0;
}

static int set_string(char **field, const char *arg)
{
	char *s = strdup(arg);

	if (!s)
		return -1;
	free(*field);
	*field = s;
	return 0;
}

/* One option being applied: as typed, its value, where it came from, and
 * where to say what is wrong with it. */
struct setting {
	const char *opt; /* "-N", "--nodes" */
	const char *arg;
	const char *where; /* "" on the command line, " in #SBATCH line" in a script */
	const char *file;  /* "job.sh:3: " before warnings from a script, or "" */
	char *err;
	size_t errlen;
};

static int apply_count(uint32_t *field, const struct setting *v)
{
	if (parse_count(v->arg, field) < 0) {
		snprintf(v->err, v->errlen,
			 "invalid value '%s' for %s%s (give a whole number of "
			 "at least 1)",
			 v->arg, v->opt, v->where);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int apply_time(struct submit_opts *o, const struct setting *v)
{
	char why[256];

	if (timefmt_parse_duration(v->arg, &o->time_limit, why, sizeof(why)) < 0) {
		snprintf(v->err, v->errlen, "bad value for %s%s: %s", v->opt, v->where, why);
		errno = EINVAL;
		return -1;
	}
	/* As in sbatch, a limit of zero asks for no limit at all. */
	if (o->time_limit == 0)
		o->time_limit = TIMEFMT_UNLIMITED;
	return 0;
}

static int apply_string(char **field, const struct setting *v)
{
	if (!*v->arg) {
		snprintf(v->err, v->errlen,
			 "empty value for %s%s (give a value or leave the "
			 "option out)",
			 v->opt, v->where);
		errno = EINVAL;
		return -1;
	}
	if (set_string(field, v->arg) < 0) {
		snprintf(v->err, v->errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int apply_mem(struct submit_opts *o, const struct setting *v)
{
	if (conf_parse_mem(v->arg, &o->mem_mb) < 0) {
		snprintf(v->err, v->errlen,
			 "invalid value '%s' for %s%s (give a size like 512M, "
			 "4G or 1T; a plain number is MiB)",
			 v->arg, v->opt, v->where);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int apply_export(struct submit_opts *o, const struct setting *v)
{
	if (script_export_check(v->arg, v->err, v->errlen) < 0)
		return -1;
	return apply_string(&o->export_spec, v);
}

/* -N: a count, and a clear word for Slurm's MIN-MAX form. */
static int apply_nodes(struct submit_opts *o, const struct setting *v)
{
	size_t digits = strspn(v->arg, "0123456789");

	if (digits > 0 && v->arg[digits] == '-' && v->arg[digits + 1] >= '0' &&
	    v->arg[digits + 1] <= '9') {
		snprintf(v->err, v->errlen,
			 "invalid value '%s' for %s%s (a range of node counts is not supported: "
			 "give an exact count, like %s %.*s)",
			 v->arg, v->opt, v->where, v->opt, (int)digits, v->arg);
		errno = EINVAL;
		return -1;
	}
	return apply_count(&o->nodes, v);
}

/* A value a jobopt parser refused with WHY. */
static int bad_value(const struct setting *v, const char *why)
{
	if (errno == ENOMEM) {
		snprintf(v->err, v->errlen, "out of memory");
		return -1;
	}
	snprintf(v->err, v->errlen, "bad value for %s%s: %s", v->opt, v->where, why);
	errno = EINVAL;
	return -1;
}

/* --mem and --mem-per-cpu exclude each other within one source (the
 * command line, or the script): OTHER is the one that must not be set. */
static int mem_conflict(const struct submit_opts *o, enum submit_opt other, const char *other_name,
			const struct setting *v)
{
	if (!(o->set & SUBMIT_BIT(other)))
		return 0;
	snprintf(v->err, v->errlen,
		 "%s%s cannot be combined with %s (give memory per node with --mem, or per "
		 "CPU with --mem-per-cpu, not both)",
		 v->opt, v->where, other_name);
	errno = EINVAL;
	return -1;
}

static int apply_mem_per_cpu(struct submit_opts *o, const struct setting *v)
{
	if (mem_conflict(o, SUBMIT_MEM, "--mem", v) < 0)
		return -1;
	if (conf_parse_mem(v->arg, &o->mem_per_cpu_mb) < 0) {
		snprintf(v->err, v->errlen,
			 "invalid value '%s' for %s%s (give a size like 512M, "
			 "4G or 1T; a plain number is MiB)",
			 v->arg, v->opt, v->where);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* -w (FILE_OK: a name with '/' is a file) and -x. */
static int apply_hostlist(char **field, bool file_ok, const struct setting *v)
{
	char why[512], *list;

	if (jobopt_hostlist(v->arg, file_ok, &list, why, sizeof(why)) < 0)
		return bad_value(v, why);
	free(*field);
	*field = list;
	return 0;
}

/* A string option whose value CHECK accepts as it is. */
static int apply_checked(char **field, int (*check)(const char *, char *, size_t),
			 const struct setting *v)
{
	char why[512];

	if (check(v->arg, why, sizeof(why)) < 0)
		return bad_value(v, why);
	return apply_string(field, v);
}

static int apply_distribution(struct submit_opts *o, const struct setting *v)
{
	char why[512], dist[JOBOPT_DIST_MAX];
	struct setting norm = *v;

	if (jobopt_distribution(v->arg, dist, why, sizeof(why)) < 0)
		return bad_value(v, why);
	norm.arg = dist;
	return apply_string(&o->distribution, &norm);
}

static int apply_cpu_bind(struct submit_opts *o, const struct setting *v)
{
	char why[512], *bind;

	if (jobopt_cpu_bind(v->arg, &bind, why, sizeof(why)) < 0)
		return bad_value(v, why);
	free(o->cpu_bind);
	o->cpu_bind = bind;
	return 0;
}

static int apply_array(struct submit_opts *o, const struct setting *v)
{
	char why[512];
	uint32_t max_running;

	if (jobopt_array(v->arg, &max_running, why, sizeof(why)) < 0)
		return bad_value(v, why);
	if (apply_string(&o->array, v) < 0)
		return -1;
	o->array_max_running = max_running;
	return 0;
}

/* Apply the placement and scheduling options; *ID says which was set.
 * 1 when DEF is not one of them. */
static int apply_placement(struct submit_opts *o, const struct opt_def *def,
			   const struct setting *v, enum submit_opt *id)
{
	char why[512];

	switch (def->key) {
	case K_NTASKS_PER_NODE:
		*id = SUBMIT_NTASKS_PER_NODE;
		return apply_count(&o->ntasks_per_node, v);
	case K_NTASKS_PER_SOCKET:
		*id = SUBMIT_NTASKS_PER_SOCKET;
		return apply_count(&o->ntasks_per_socket, v);
	case K_EXCLUSIVE:
		*id = SUBMIT_EXCLUSIVE;
		if (jobopt_exclusive(v->arg, why, sizeof(why)) < 0)
			return bad_value(v, why);
		o->exclusive = true;
		return 0;
	case K_MEM_PER_CPU: *id = SUBMIT_MEM_PER_CPU; return apply_mem_per_cpu(o, v);
	case 'G':
		*id = SUBMIT_GPUS;
		return jobopt_gpu_count(v->arg, &o->gpus, why, sizeof(why)) < 0 ? bad_value(v, why)
										: 0;
	case K_GPUS_PER_NODE:
		*id = SUBMIT_GPUS_PER_NODE;
		return jobopt_gpu_count(v->arg, &o->gpus_per_node, why, sizeof(why)) < 0
			   ? bad_value(v, why)
			   : 0;
	case K_GRES:
		*id = SUBMIT_GPUS_PER_NODE;
		return jobopt_gres(v->arg, &o->gpus_per_node, why, sizeof(why)) < 0
			   ? bad_value(v, why)
			   : 0;
	case 'w': *id = SUBMIT_NODELIST; return apply_hostlist(&o->nodelist, true, v);
	case 'x': *id = SUBMIT_EXCLUDE; return apply_hostlist(&o->exclude, false, v);
	case 'C':
		*id = SUBMIT_CONSTRAINT;
		return apply_checked(&o->constraint, jobopt_constraint, v);
	case 'm': *id = SUBMIT_DISTRIBUTION; return apply_distribution(o, v);
	case K_CPU_BIND: *id = SUBMIT_CPU_BIND; return apply_cpu_bind(o, v);
	case K_HINT:
		*id = SUBMIT_HINT;
		return jobopt_hint(v->arg, &o->multithread, why, sizeof(why)) < 0
			   ? bad_value(v, why)
			   : 0;
	case K_NICE:
		*id = SUBMIT_NICE;
		return jobopt_nice(v->arg, &o->nice, why, sizeof(why)) < 0 ? bad_value(v, why) : 0;
	case 'a': *id = SUBMIT_ARRAY; return apply_array(o, v);
	case 'd':
		*id = SUBMIT_DEPENDENCY;
		return apply_checked(&o->dependency, jobopt_dependency, v);
	default: return 1;
	}
}

static int apply_unsupported(struct submit_opts *o, const struct opt_def *def,
			     const struct setting *v)
{
	char name[64];

	if (add_warning(o, "%s%s is not supported yet and was ignored", v->file,
			opt_display(def, name, sizeof(name))) < 0) {
		snprintf(v->err, v->errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Give the option DEF its value in O. */
static int apply(struct submit_opts *o, const struct opt_def *def, const struct setting *v)
{
	enum submit_opt id = SUBMIT_NAME;
	int rc = 0;

	switch (def->key) {
	case 'J':
		id = SUBMIT_NAME;
		rc = apply_string(&o->name, v);
		break;
	case 'N':
		id = SUBMIT_NODES;
		rc = apply_nodes(o, v);
		break;
	case 'n':
		id = SUBMIT_NTASKS;
		rc = apply_count(&o->ntasks, v);
		break;
	case 'c':
		id = SUBMIT_CPUS;
		rc = apply_count(&o->cpus_per_task, v);
		break;
	case 't':
		id = SUBMIT_TIME;
		rc = apply_time(o, v);
		break;
	case 'p':
		id = SUBMIT_PARTITION;
		rc = apply_string(&o->partition, v);
		break;
	case 'o':
		id = SUBMIT_OUTPUT;
		rc = apply_string(&o->output, v);
		break;
	case 'e':
		id = SUBMIT_ERROR;
		rc = apply_string(&o->error, v);
		break;
	case 'D':
		id = SUBMIT_CHDIR;
		rc = apply_string(&o->chdir, v);
		break;
	case K_MEM:
		id = SUBMIT_MEM;
		rc = mem_conflict(o, SUBMIT_MEM_PER_CPU, "--mem-per-cpu", v);
		if (rc == 0)
			rc = apply_mem(o, v);
		break;
	case K_EXPORT:
		id = SUBMIT_EXPORT;
		rc = apply_export(o, v);
		break;
	case 'H':
		id = SUBMIT_HOLD;
		o->hold = true;
		break;
	case K_PARSABLE:
		id = SUBMIT_PARSABLE;
		o->parsable = true;
		break;
	case K_WRAP:
		id = SUBMIT_WRAP;
		rc = apply_string(&o->wrap, v);
		break;
	case 'h':
		id = SUBMIT_HELP;
		o->help = true;
		break;
	default:
		rc = apply_placement(o, def, v, &id);
		if (rc > 0)
			return apply_unsupported(o, def, v);
		break;
	}
	if (rc == 0)
		o->set |= SUBMIT_BIT(id);
	return rc;
}

int script_parse_args(struct submit_opts *o, int argc, char **argv, int *first, char *err,
		      size_t errlen)
{
	struct setting v = { .where = "", .file = "", .err = err, .errlen = errlen };
	struct opt_state st;
	int key;

	o->usage_error = false;
	opt_init(&st, argc, argv, 1, submit_defs, false);
	while ((key = opt_next(&st)) != OPT_END) {
		if (key == OPT_ERROR) {
			snprintf(err, errlen, "%s", st.err);
			o->usage_error = true;
			errno = EINVAL;
			return -1;
		}
		v.opt = st.name;
		v.arg = st.arg;
		if (apply(o, st.def, &v) < 0)
			return -1;
	}
	*first = st.ind;
	return 0;
}

static void move_string(char **dst, char **src)
{
	free(*dst);
	*dst = *src;
	*src = NULL;
}

void submit_opts_merge(struct submit_opts *dst, struct submit_opts *src)
{
	uint64_t s = src->set;

#define HAS(id) (s & SUBMIT_BIT(id))
	if (HAS(SUBMIT_NAME))
		move_string(&dst->name, &src->name);
	if (HAS(SUBMIT_NODES))
		dst->nodes = src->nodes;
	if (HAS(SUBMIT_NTASKS))
		dst->ntasks = src->ntasks;
	if (HAS(SUBMIT_CPUS))
		dst->cpus_per_task = src->cpus_per_task;
	if (HAS(SUBMIT_TIME))
		dst->time_limit = src->time_limit;
	if (HAS(SUBMIT_PARTITION))
		move_string(&dst->partition, &src->partition);
	if (HAS(SUBMIT_OUTPUT))
		move_string(&dst->output, &src->output);
	if (HAS(SUBMIT_ERROR))
		move_string(&dst->error, &src->error);
	if (HAS(SUBMIT_CHDIR))
		move_string(&dst->chdir, &src->chdir);
	if (HAS(SUBMIT_MEM))
		dst->mem_mb = src->mem_mb;
	if (HAS(SUBMIT_EXPORT))
		move_string(&dst->export_spec, &src->export_spec);
	if (HAS(SUBMIT_HOLD))
		dst->hold = src->hold;
	if (HAS(SUBMIT_PARSABLE))
		dst->parsable = src->parsable;
	if (HAS(SUBMIT_WRAP))
		move_string(&dst->wrap, &src->wrap);
	if (HAS(SUBMIT_HELP))
		dst->help = src->help;
	if (HAS(SUBMIT_NTASKS_PER_NODE))
		dst->ntasks_per_node = src->ntasks_per_node;
	if (HAS(SUBMIT_NTASKS_PER_SOCKET))
		dst->ntasks_per_socket = src->ntasks_per_socket;
	if (HAS(SUBMIT_EXCLUSIVE))
		dst->exclusive = src->exclusive;
	if (HAS(SUBMIT_MEM_PER_CPU))
		dst->mem_per_cpu_mb = src->mem_per_cpu_mb;
	/* Per node or per CPU: the command line's choice replaces the script's. */
	if (HAS(SUBMIT_MEM)) {
		dst->mem_per_cpu_mb = 0;
		dst->set &= ~SUBMIT_BIT(SUBMIT_MEM_PER_CPU);
	}
	if (HAS(SUBMIT_MEM_PER_CPU)) {
		dst->mem_mb = 0;
		dst->set &= ~SUBMIT_BIT(SUBMIT_MEM);
	}
	if (HAS(SUBMIT_GPUS))
		dst->gpus = src->gpus;
	if (HAS(SUBMIT_GPUS_PER_NODE))
		dst->gpus_per_node = src->gpus_per_node;
	if (HAS(SUBMIT_NODELIST))
		move_string(&dst->nodelist, &src->nodelist);
	if (HAS(SUBMIT_EXCLUDE))
		move_string(&dst->exclude, &src->exclude);
	if (HAS(SUBMIT_CONSTRAINT))
		move_string(&dst->constraint, &src->constraint);
	if (HAS(SUBMIT_DISTRIBUTION))
		move_string(&dst->distribution, &src->distribution);
	if (HAS(SUBMIT_CPU_BIND))
		move_string(&dst->cpu_bind, &src->cpu_bind);
	if (HAS(SUBMIT_HINT))
		dst->multithread = src->multithread;
	if (HAS(SUBMIT_NICE))
		dst->nice = src->nice;
	if (HAS(SUBMIT_ARRAY)) {
		move_string(&dst->array, &src->array);
		dst->array_max_running = src->array_max_running;
	}
	if (HAS(SUBMIT_DEPENDENCY))
		move_string(&dst->dependency, &src->dependency);
#undef HAS
	dst->set |= s;

	char **w = realloc(dst->warnings, (dst->nwarnings + src->nwarnings + 1) * sizeof(*w));
	if (w) {
		dst->warnings = w;
		for (size_t i = 0; i < src->nwarnings; i++)
			w[dst->nwarnings++] = src->warnings[i];
		src->nwarnings = 0;
	}
	submit_opts_free(src);
}

/* ---------------------------------------------------------------------------
 * Splitting a directive into words */

struct words {
	char **v;
	int n;
	int cap;
};

static int words_push(struct words *w, char *s)
{
	if (w->n + 2 > w->cap) {
		int cap = w->cap ? w->cap * 2 : 8;
		char **v = realloc(w->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -1;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n++] = s;
	w->v[w->n] = NULL;
	return 0;
}

void script_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

/* Read one word starting at *PP into BUF (as long as the text, so it fits). */
static int split_word(const char **pp, char *buf, char *err, size_t errlen)
{
	const char *p = *pp;
	size_t n = 0;

	while (*p && !isspace((unsigned char)*p)) {
		if (*p == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				snprintf(err, errlen,
					 "unterminated ' quote (close it on the same "
					 "line)");
				return -1;
			}
			memcpy(buf + n, p + 1, (size_t)(end - p - 1));
			n += (size_t)(end - p - 1);
			p = end + 1;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				/* Inside "...", a backslash escapes only what the shell lets it. */
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				buf[n++] = *p;
			}
			if (!*p) {
				snprintf(err, errlen,
					 "unterminated \" quote (close it on the same "
					 "line)");
				return -1;
			}
			p++;
		} else if (*p == '\\' && p[1]) {
			buf[n++] = p[1];
			p += 2;
		} else {
			buf[n++] = *p++;
		}
	}
	buf[n] = '\0';
	*pp = p;
	return 0;
}

int script_split(const char *text, char ***argvp, int *argcp, char *err, size_t errlen)
{
	struct words w = { 0 };
	const char *p = text;
	char *buf = NULL;

	/* Even an empty list ends with its NULL. */
	if (words_push(&w, NULL) < 0)
		goto nomem;
	w.n = 0;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			break;
		buf = malloc(strlen(p) + 1);
		if (!buf)
			goto nomem;
		if (split_word(&p, buf, err, errlen) < 0) {
			errno = EINVAL;
			goto failed;
		}
		if (words_push(&w, buf) < 0)
			goto nomem;
		buf = NULL;
	}
	*argvp = w.v;
	*argcp = w.n;
	return 0;

nomem:
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
failed:
	free(buf);
	script_argv_free(w.v);
	return -1;
}

/* ---------------------------------------------------------------------------
 * Reading and checking the script */

static int read_fd(int fd, const char *name, char **bufp, size_t *lenp, char *err, size_t errlen)
{
	size_t cap = 0, len = 0;
	char *buf = NULL;

	/* One byte past the limit is enough to know the script is too big. */
	while (len <= SCRIPT_MAX_SIZE) {
		if (len == cap) {
			size_t grown = cap ? cap * 2 : 64 * 1024;
			char *b = realloc(buf, grown + 1);
			if (!b) {
				snprintf(err, errlen, "out of memory reading %s", name);
				goto failed;
			}
			buf = b;
			cap = grown;
		}
		size_t room = SCRIPT_MAX_SIZE + 1 - len;
		ssize_t n = read(fd, buf + len, cap - len < room ? cap - len : room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "cannot read %s: %s", name, strerror(errno));
			goto failed;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SCRIPT_MAX_SIZE) {
		snprintf(err, errlen,
			 "%s is larger than %u MiB (a batch script should be small: "
			 "keep data in separate files)",
			 name, SCRIPT_MAX_SIZE >> 20);
		errno = EFBIG;
		goto failed;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;

failed:;
	int saved = errno;
	free(buf);
	errno = saved;
	return -1;
}

int script_read(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	struct stat sb;
	int fd, rc, saved;

	if (!path || strcmp(path, "-") == 0)
		return read_fd(STDIN_FILENO, "standard input", buf, len, err, errlen);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		snprintf(err, errlen, "cannot open script '%s': %s (check the path%s)", path,
			 strerror(saved), saved == EACCES ? " and its permissions" : "");
		errno = saved;
		return -1;
	}
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen,
			 "'%s' is a directory, not a batch script (pass a script "
			 "file)",
			 path);
		close(fd);
		errno = EISDIR;
		return -1;
	}
	rc = read_fd(fd, path, buf, len, err, errlen);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int script_check(const char *buf, size_t len, const char *name, char *err, size_t errlen)
{
	errno = EINVAL;
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen,
			 "%s looks like a binary file, not a batch script (pass a "
			 "shell script, or use --wrap \"CMD\")",
			 name);
		return -1;
	}
	if (len < 2 || buf[0] != '#' || buf[1] != '!') {
		snprintf(err, errlen,
			 "%s does not look like a batch script: its first line must start with #! "
			 "and the path to an interpreter, like #!/bin/sh",
			 name);
		return -1;
	}
	if (memmem(buf, len, "\r\n", 2)) {
		snprintf(err, errlen,
			 "%s has DOS line breaks (\\r\\n) instead of UNIX ones (\\n) "
			 "(convert it with dos2unix)",
			 name);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Directives */

/* The directive prefix LINE starts with ("#SBATCH", "#PACER"), or NULL. */
static const char *directive_magic(const char *line, size_t len)
{
	static const char *const magic[] = { "#SBATCH", "#PACER" };

	for (size_t i = 0; i < sizeof(magic) / sizeof(magic[0]); i++) {
		size_t m = strlen(magic[i]);
		if (len >= m && memcmp(line, magic[i], m) == 0 &&
		    (len == m || isspace((unsigned char)line[m])))
			return magic[i];
	}
	return NULL;
}

/* True for a line that is blank or a comment: directives may continue. */
static bool is_blank_or_comment(const char *line, size_t len)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)line[i]))
		i++;
	return i == len || line[i] == '#';
}

/* Apply the options of one directive line; LOC is "job.sh:3: ". */
static int parse_directive(struct submit_opts *o, const char *text, const char *magic,
			   const char *loc, char *err, size_t errlen)
{
	char where[32], why[512];
	struct setting v = { .where = where, .file = loc, .err = why, .errlen = sizeof(why) };
	struct opt_state st;
	char **argv;
	int argc, key;

	snprintf(where, sizeof(where), " in %s line", magic);
	if (script_split(text, &argv, &argc, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s%s%s", loc, why, where);
		return -1;
	}
	opt_init(&st, argc, argv, 0, submit_defs, false);
	while ((key = opt_next(&st)) != OPT_END) {
		if (key == OPT_ERROR) {
			snprintf(err, errlen, "%s%s%s", loc, st.err, where);
			goto failed;
		}
		if (key == 'h' || key == K_WRAP) {
			snprintf(err, errlen, "%s%s cannot be used%s (give it on the command line)",
				 loc, st.name, where);
			goto failed;
		}
		v.opt = st.name;
		v.arg = st.arg;
		if (apply(o, st.def, &v) < 0) {
			snprintf(err, errlen, "%s%s", loc, why);
			goto failed;
		}
	}
	if (st.ind < argc) {
		snprintf(err, errlen,
			 "%sunexpected argument '%s'%s (only options belong there; "
			 "pass script arguments after the script name)",
			 loc, argv[st.ind], where);
		goto failed;
	}
	script_argv_free(argv);
	return 0;

failed:
	script_argv_free(argv);
	errno = EINVAL;
	return -1;
}

/* Apply LINE (LEN bytes, line LINENO of NAME) when it is a directive. */
static int directive_line(struct submit_opts *o, const char *line, size_t len, const char *name,
			  int lineno, char *err, size_t errlen)
{
	const char *magic = directive_magic(line, len);
	char loc[300], *text;
	int rc;

	if (!magic)
		return 0;
	text = strndup(line + strlen(magic), len - strlen(magic));
	if (!text) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(loc, sizeof(loc), "%.256s:%d: ", name, lineno);
	rc = parse_directive(o, text, magic, loc, err, errlen);
	free(text);
	return rc;
}

int script_parse_directives(struct submit_opts *o, const char *buf, size_t len, const char *name,
			    char *err, size_t errlen)
{
	const char *p = buf, *end = buf + len;

	for (int lineno = 1; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t linelen = nl ? (size_t)(nl - p) : (size_t)(end - p);

		/* The "#!" line is never a directive; the first command ends them. */
		if (lineno > 1) {
			if (!is_blank_or_comment(p, linelen))
				break;
			if (directive_line(o, p, linelen, name, lineno, err, errlen) < 0)
				return -1;
		}
		p += linelen + 1;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * --export */

struct export_item {
	const char *name;
	size_t namelen;
	const char *value; /* NULL: take it from the environment */
	size_t valuelen;
};

static bool valid_name(const char *s, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Walk SPEC: *ALL and *NONE say whether those words appear; each variable
 * goes to ITEMS (when not NULL, room for as many entries as SPEC has). */
static int export_parse(const char *spec, bool *all, bool *none, struct export_item *items,
			size_t *nitems, char *err, size_t errlen)
{
	const char *p = spec;

	*all = *none = false;
	*nitems = 0;
	if (!*spec) {
		snprintf(err, errlen, "empty --export (give ALL, NONE or a list of variables)");
		return -1;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		size_t namelen = eq ? (size_t)(eq - p) : len;

		if (len == 0) {
			snprintf(err, errlen,
				 "empty entry in --export '%s' (separate variables "
				 "with single commas)",
				 spec);
			return -1;
		}
		if (!eq && len == 3 && strncasecmp(p, "ALL", 3) == 0) {
			*all = true;
		} else if (!eq && len == 4 && strncasecmp(p, "NONE", 4) == 0) {
			*none = true;
		} else if (!valid_name(p, namelen)) {
			snprintf(err, errlen,
				 "invalid variable name '%.*s' in --export (names "
				 "are letters, digits and _, not starting with a digit)",
				 (int)namelen, p);
			return -1;
		} else if (items) {
			struct export_item *it = &items[(*nitems)++];
			it->name = p;
			it->namelen = namelen;
			it->value = eq ? eq + 1 : NULL;
			it->valuelen = eq ? len - namelen - 1 : 0;
		} else {
			(*nitems)++;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	if (*all && *none) {
		snprintf(err, errlen, "--export '%s' holds both ALL and NONE (choose one)", spec);
		return -1;
	}
	return 0;
}

int script_export_check(const char *spec, char *err, size_t errlen)
{
	bool all, none;
	size_t n;

	if (export_parse(spec, &all, &none, NULL, &n, err, errlen) < 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* Index in ENV (N entries) of the variable called NAME, or -1. */
static long env_find(char **env, size_t n, const char *name, size_t namelen)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(env[i], name, namelen) == 0 && env[i][namelen] == '=')
			return (long)i;
	return -1;
}

/* Put NAME=VALUE into ENV, replacing an earlier NAME. */
static int env_set(struct words *env, const char *name, size_t namelen, const char *value,
		   size_t valuelen)
{
	char *s;
	long i = env_find(env->v, (size_t)env->n, name, namelen);

	if (asprintf(&s, "%.*s=%.*s", (int)namelen, name, (int)valuelen, value) < 0)
		return -1;
	if (i >= 0) {
		free(env->v[i]);
		env->v[i] = s;
		return 0;
	}
	if (words_push(env, s) < 0) {
		free(s);
		return -1;
	}
	return 0;
}

static int export_item(struct words *env, const struct export_item *it, char *const *envp)
{
	if (it->value)
		return env_set(env, it->name, it->namelen, it->value, it->valuelen);
	for (char *const *e = envp; *e; e++) {
		if (strncmp(*e, it->name, it->namelen) == 0 && (*e)[it->namelen] == '=') {
			const char *v = *e + it->namelen + 1;
			return env_set(env, it->name, it->namelen, v, strlen(v));
		}
	}
	return 0; /* named but not set: nothing to pass, as sbatch */
}

int script_export_env(const char *spec, char *const *envp, char ***env_out, size_t *n, char *err,
		      size_t errlen)
{
	struct words env = { 0 };
	struct export_item *items = NULL;
	size_t nitems = 0;
	bool all = true, none = false;

	if (spec) {
		items = calloc(strlen(spec) + 1, sizeof(*items));
		if (!items)
			goto nomem;
		if (export_parse(spec, &all, &none, items, &nitems, err, errlen) < 0) {
			errno = EINVAL;
			goto failed;
		}
	}
	if (words_push(&env, NULL) < 0)
		goto nomem;
	env.n = 0;
	for (char *const *e = envp; all && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq)
			continue;
		if (env_set(&env, *e, (size_t)(eq - *e), eq + 1, strlen(eq + 1)) < 0)
			goto nomem;
	}
	for (size_t i = 0; i < nitems; i++)
		if (export_item(&env, &items[i], envp) < 0)
			goto nomem;
	free(items);
	*env_out = env.v;
	*n = (size_t)env.n;
	return 0;

nomem:
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
failed:
	free(items);
	script_argv_free(env.v);
	return -1;
}

/* ---------------------------------------------------------------------------
 * The JobSpec */

char *script_workdir(const char *chdir, const char *cwd)
{
	size_t len = strlen(cwd);
	char *s;

	if (!chdir)
		return strdup(cwd);
	if (chdir[0] == '/')
		return strdup(chdir);
	if (asprintf(&s, "%s%s%s", cwd, len && cwd[len - 1] == '/' ? "" : "/", chdir) < 0)
		return NULL;
	return s;
}

void script_build_spec(const struct submit_opts *o, const struct submit_input *in,
		       Pacer__JobSpec *spec)
{
	spec->name = o->name ? o->name : (char *)in->default_name;
	spec->nodes = o->nodes;
	spec->ntasks = o->ntasks;
	spec->cpus_per_task = o->cpus_per_task;
	spec->mem_mb = o->mem_mb;
	spec->time_limit = o->time_limit;
	spec->partition = o->partition ? o->partition : "";
	spec->workdir = (char *)in->workdir;
	spec->stdout_pattern = o->output ? o->output : "";
	spec->stderr_pattern = o->error ? o->error : "";
	spec->script.data = (uint8_t *)in->script;
	spec->script.len = in->script_len;
	spec->argv = in->argv;
	spec->n_argv = in->argc;
	spec->env = in->env;
	spec->n_env = in->nenv;
	spec->hold = o->hold;
	spec->submit_dir = (char *)in->cwd;
	spec->submit_host = (char *)in->host;
	spec->ntasks_per_node = o->ntasks_per_node;
	spec->ntasks_per_socket = o->ntasks_per_socket;
	spec->exclusive = o->exclusive;
	spec->mem_per_cpu_mb = o->mem_per_cpu_mb;
	spec->gpus = o->gpus;
	spec->gpus_per_node = o->gpus_per_node;
	spec->nodelist = o->nodelist ? o->nodelist : "";
	spec->exclude = o->exclude ? o->exclude : "";
	spec->constraint = o->constraint ? o->constraint : "";
	spec->distribution = o->distribution ? o->distribution : "";
	spec->cpu_bind = o->cpu_bind ? o->cpu_bind : "";
	spec->multithread = o->multithread;
	spec->nice = o->nice;
	spec->array = o->array ? o->array : "";
	spec->array_max_running = o->array_max_running;
	spec->dependency = o->dependency ? o->dependency : "";
}
