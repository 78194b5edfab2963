/* format.c - listings and records of jobs and nodes. */
#include "format.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpulist.h"
#include "hostlist.h"
#include "jobid.h"
#include "pattern.h"
#include "timefmt.h"

#define QFMT_MAX_WIDTH 1024

static const struct {
	Pacer__JobState state;
	const char *name;
	const char *code;
} job_states[] = {
	{ PACER__JOB_STATE__JOB_PENDING, "PENDING", "PD" },
	{ PACER__JOB_STATE__JOB_RUNNING, "RUNNING", "R" },
	{ PACER__JOB_STATE__JOB_COMPLETED, "COMPLETED", "CD" },
	{ PACER__JOB_STATE__JOB_FAILED, "FAILED", "F" },
	{ PACER__JOB_STATE__JOB_CANCELLED, "CANCELLED", "CA" },
	{ PACER__JOB_STATE__JOB_TIMEOUT, "TIMEOUT", "TO" },
	{ PACER__JOB_STATE__JOB_NODE_FAIL, "NODE_FAIL", "NF" },
	{ PACER__JOB_STATE__JOB_REQUEUED, "REQUEUED", "RQ" },
	{ PACER__JOB_STATE__JOB_OUT_OF_MEMORY, "OUT_OF_MEMORY", "OOM" },
};

#define NSTATES (sizeof(job_states) / sizeof(job_states[0]))

const char *format_job_state(Pacer__JobState s)
{
	for (size_t i = 0; i < NSTATES; i++)
		if (job_states[i].state == s)
			return job_states[i].name;
	return "UNKNOWN";
}

const char *format_job_state_short(Pacer__JobState s)
{
	for (size_t i = 0; i < NSTATES; i++)
		if (job_states[i].state == s)
			return job_states[i].code;
	return "??";
}

int format_job_state_parse(const char *s, Pacer__JobState *state)
{
	for (size_t i = 0; i < NSTATES; i++) {
		if (strcasecmp(s, job_states[i].name) == 0 ||
		    strcasecmp(s, job_states[i].code) == 0) {
			*state = job_states[i].state;
			return 0;
		}
	}
	/* Slurm users type both spellings. */
	if (strcasecmp(s, "CANCELED") == 0) {
		*state = PACER__JOB_STATE__JOB_CANCELLED;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

const char *format_node_state_name(Pacer__NodeState s)
{
	switch (s) {
	case PACER__NODE_STATE__NODE_UNKNOWN: return "UNKNOWN";
	case PACER__NODE_STATE__NODE_UP: return "UP";
	case PACER__NODE_STATE__NODE_SUSPECT: return "SUSPECT";
	case PACER__NODE_STATE__NODE_UNCLEAN: return "UNCLEAN";
	case PACER__NODE_STATE__NODE_DOWN: return "DOWN";
	default: return "UNKNOWN";
	}
}

const char *format_node_state(const Pacer__NodeInfo *n)
{
	switch (n->state) {
	case PACER__NODE_STATE__NODE_UP:
		if (n->cpus_alloc == 0)
			return "idle";
		return n->cpus_alloc < n->cpus ? "mixed" : "allocated";
	case PACER__NODE_STATE__NODE_SUSPECT: return "suspect";
	case PACER__NODE_STATE__NODE_UNCLEAN: return "unclean";
	case PACER__NODE_STATE__NODE_DOWN: return "down";
	default: return "unknown";
	}
}

uint32_t format_elapsed(Pacer__JobState s, int64_t start, int64_t end, int64_t now)
{
	int64_t stop;

	if (start <= 0 || s == PACER__JOB_STATE__JOB_PENDING)
		return 0;
	if (s == PACER__JOB_STATE__JOB_RUNNING)
		stop = now;
	else if (end > 0)
		stop = end;
	else
		return 0;
	if (stop <= start)
		return 0;
	/* UINT32_MAX itself would read as UNLIMITED. */
	return stop - start >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)(stop - start);
}

int format_time_limit(uint32_t limit, char *buf, size_t size)
{
	if (limit == 0)
		return snprintf(buf, size, "NOT_SET");
	return timefmt_duration(limit, buf, size);
}

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

/* ---------------------------------------------------------------------------
 * squeue-style formats */

struct qfmt_item {
	char letter; /* 0 for literal text */
	bool right;
	int width;        /* 0 = as wide as the value */
	const char *text; /* literal text, TEXTLEN bytes */
	size_t textlen;
};

struct qfmt {
	char *copy;
	size_t n;
	struct qfmt_item *items;
};

static const struct {
	char letter;
	const char *header;
} qfmt_fields[] = {
	{ 'i', "JOBID" },
	{ 'j', "NAME" },
	{ 'u', "USER" },
	{ 'P', "PARTITION" },
	{ 't', "ST" },
	{ 'T', "STATE" },
	{ 'M', "TIME" },
	{ 'l', "TIME_LIMIT" },
	{ 'D', "NODES" },
	{ 'C', "CPUS" },
	{ 'R', "NODELIST(REASON)" },
	{ 'N', "NODELIST" },
	{ 'r', "REASON" },
	{ 'V', "SUBMIT_TIME" },
	{ 'S', "START_TIME" },
	{ 'e', "END_TIME" },
	{ 'Q', "PRIORITY" },
	{ 'L', "TIME_LEFT" },
	{ 'U', "UID" },
	{ 'A', "JOBID" },
	{ 'F', "ARRAY_JOB_ID" },
	{ 'K', "ARRAY_TASK_ID" },
};

static const char *qfmt_header_of(char letter)
{
	for (size_t i = 0; i < sizeof(qfmt_fields) / sizeof(qfmt_fields[0]); i++)
		if (qfmt_fields[i].letter == letter)
			return qfmt_fields[i].header;
	return NULL;
}

/* Parse one "%[.|-][width]letter" at *P (just past the '%') into IT. */
static int qfmt_field(const char **p, struct qfmt_item *it, char *err, size_t errlen)
{
	const char *start = *p - 1;
	const char *s = *p;
	bool dot = false;
	long width = 0;

	if (*s == '.' || *s == '-') {
		dot = *s == '.';
		s++;
	}
	for (; *s >= '0' && *s <= '9'; s++)
		if (width <= QFMT_MAX_WIDTH)
			width = width * 10 + (*s - '0');
	if (width > QFMT_MAX_WIDTH) {
		snprintf(err, errlen, "field width in '%.*s' is too large (at most %d)",
			 (int)(s - start), start, QFMT_MAX_WIDTH);
		return -1;
	}
	if (*s == '\0') {
		snprintf(err, errlen,
			 "format ends inside '%s' (a field is %%[.]WIDTH LETTER, "
			 "like %%.10i; write %%%% for a percent sign)",
			 start);
		return -1;
	}
	if (!qfmt_header_of(*s)) {
		snprintf(err, errlen,
			 "unknown field '%.*s' in format (fields: %%i %%j %%u %%P "
			 "%%t %%T %%M %%l %%L %%D %%C %%R %%N %%r %%V %%S %%e %%Q %%U %%A %%F "
			 "%%K)",
			 (int)(s - start + 1), start);
		return -1;
	}
	if (dot && width == 0) {
		snprintf(err, errlen,
			 "'%.*s' right-aligns but gives no width (write it like "
			 "%%.10%c)",
			 (int)(s - start + 1), start, *s);
		return -1;
	}
	it->letter = *s;
	it->right = dot;
	it->width = (int)width;
	*p = s + 1;
	return 0;
}

struct qfmt *qfmt_parse(const char *fmt, char *err, size_t errlen)
{
	struct qfmt *f = calloc(1, sizeof(*f));
	size_t cap = strlen(fmt) + 1;

	if (!f)
		goto failed;
	f->copy = strdup(fmt);
	f->items = calloc(cap, sizeof(*f->items));
	if (!f->copy || !f->items)
		goto failed;
	for (const char *p = f->copy; *p;) {
		struct qfmt_item *it = &f->items[f->n++];

		if (p[0] == '%' && p[1] == '%') {
			it->text = p + 1;
			it->textlen = 1;
			p += 2;
		} else if (p[0] == '%') {
			p++;
			if (qfmt_field(&p, it, err, errlen) < 0) {
				errno = EINVAL;
				goto failed;
			}
		} else {
			it->text = p;
			it->textlen = strcspn(p, "%");
			p += it->textlen;
		}
	}
	return f;

failed:
	if (errno == ENOMEM)
		snprintf(err, errlen, "out of memory");
	qfmt_free(f);
	return NULL;
}

void qfmt_free(struct qfmt *f)
{
	if (!f)
		return;
	int saved = errno;
	free(f->items);
	free(f->copy);
	free(f);
	errno = saved;
}

static void put_padded(FILE *out, const struct qfmt_item *it, const char *v)
{
	if (it->width == 0)
		fputs(v, out);
	else if (it->right)
		fprintf(out, "%*.*s", it->width, it->width, v);
	else
		fprintf(out, "%-*.*s", it->width, it->width, v);
}

static void put_text(FILE *out, const struct qfmt_item *it)
{
	fwrite(it->text, 1, it->textlen, out);
}

void qfmt_header(const struct qfmt *f, FILE *out)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct qfmt_item *it = &f->items[i];

		if (it->letter)
			put_padded(out, it, qfmt_header_of(it->letter));
		else
			put_text(out, it);
	}
	fputc('\n', out);
}

static bool is_pending(const Pacer__JobSummary *j)
{
	return j->state == PACER__JOB_STATE__JOB_PENDING ||
	       j->state == PACER__JOB_STATE__JOB_REQUEUED;
}

static const char *reason_of(const Pacer__JobSummary *j)
{
	if (nz(j->reason))
		return j->reason;
	return j->held && is_pending(j) ? "JobHeldUser" : "None";
}

/* What is left of J's time limit at NOW: the limit until it starts, none
 * once it is over it. */
static void time_left(const Pacer__JobSummary *j, int64_t now, char *buf, size_t size)
{
	uint32_t used = format_elapsed(j->state, j->start_time, j->end_time, now);

	if (j->time_limit == 0 || j->time_limit == TIMEFMT_UNLIMITED)
		format_time_limit(j->time_limit, buf, size);
	else
		timefmt_duration(used < j->time_limit ? j->time_limit - used : 0, buf, size);
}

/* The text of field LETTER for job J: a pointer into J or into BUF. */
static const char *job_field(char letter, const Pacer__JobSummary *j, int64_t now, char *buf,
			     size_t size)
{
	switch (letter) {
	case 'i': jobid_format(j->id, j->array_job_id, j->array_task_id, buf, size); return buf;
	case 'A': snprintf(buf, size, "%" PRIu32, j->id); return buf;
	case 'F':
		snprintf(buf, size, "%" PRIu32, j->array_job_id ? j->array_job_id : j->id);
		return buf;
	case 'K':
		if (!j->array_job_id)
			return "N/A";
		snprintf(buf, size, "%" PRIu32, j->array_task_id);
		return buf;
	case 'L': time_left(j, now, buf, size); return buf;
	case 'U': snprintf(buf, size, "%" PRIu32, j->uid); return buf;
	case 'j': return j->name ? j->name : "";
	case 'u': return j->user ? j->user : "";
	case 'P': return j->partition ? j->partition : "";
	case 't': return format_job_state_short(j->state);
	case 'T': return format_job_state(j->state);
	case 'M':
		timefmt_duration(format_elapsed(j->state, j->start_time, j->end_time, now), buf,
				 size);
		return buf;
	case 'l': format_time_limit(j->time_limit, buf, size); return buf;
	case 'D': snprintf(buf, size, "%" PRIu32, j->nodes); return buf;
	case 'C': snprintf(buf, size, "%" PRIu32, j->cpus); return buf;
	case 'R':
		if (!is_pending(j) && nz(j->nodelist))
			return j->nodelist;
		snprintf(buf, size, "(%s)", reason_of(j));
		return buf;
	case 'N': return j->nodelist ? j->nodelist : "";
	case 'r': return reason_of(j);
	case 'V': timefmt_timestamp(j->submit_time, buf, size); return buf;
	case 'S':
		/* As squeue: a pending job's expected start, 0 = not known. */
		timefmt_timestamp(is_pending(j) ? j->expected_start : j->start_time, buf, size);
		return buf;
	case 'e': timefmt_timestamp(j->end_time, buf, size); return buf;
	case 'Q': snprintf(buf, size, "%" PRIu32, j->priority); return buf;
	default: return "";
	}
}

void qfmt_job(const struct qfmt *f, const Pacer__JobSummary *j, int64_t now, FILE *out)
{
	char buf[1024];

	for (size_t i = 0; i < f->n; i++) {
		const struct qfmt_item *it = &f->items[i];

		if (it->letter)
			put_padded(out, it, job_field(it->letter, j, now, buf, sizeof(buf)));
		else
			put_text(out, it);
	}
	fputc('\n', out);
}

/* ---------------------------------------------------------------------------
 * scontrol-style records */

static const char *null_if_empty(const char *s)
{
	return nz(s) ? s : "(null)";
}

static void put_time(FILE *out, const char *key, int64_t t)
{
	char buf[64];

	timefmt_timestamp(t, buf, sizeof(buf));
	fprintf(out, "%s=%s", key, buf);
}

/* Where a job's output goes: the path fixed at start, else its pattern
 * expanded now (relative to the working directory). */
static void put_output(FILE *out, const char *key, const Pacer__Job *j, const char *path,
		       const char *pattern)
{
	const Pacer__JobSpec *s = j->spec;
	struct pattern_vars v = {
		.job_id = j->id,
		.job_name = s && s->name ? s->name : "",
		.user = j->user ? j->user : "",
		.node = j->n_alloc > 0 && j->alloc[0]->node ? j->alloc[0]->node : "",
		.array_job_id = j->array_job_id,
		.array_task_id = j->array_task_id,
	};
	char expanded[4096];

	if (nz(path)) {
		fprintf(out, "%s=%s", key, path);
		return;
	}
	pattern_expand(nz(pattern) ? pattern : PATTERN_DEFAULT_OUTPUT, &v, expanded,
		       sizeof(expanded));
	if (expanded[0] != '/' && s && nz(s->workdir))
		fprintf(out, "%s=%s/%s", key, s->workdir, expanded);
	else
		fprintf(out, "%s=%s", key, expanded);
}

static void put_group(FILE *out, uint32_t gid)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		fprintf(out, "GroupId=%s(%" PRIu32 ")", gr->gr_name, gid);
	else
		fprintf(out, "GroupId=%" PRIu32 "(%" PRIu32 ")", gid, gid);
}

static void put_nodelist(FILE *out, const Pacer__Job *j)
{
	struct hostlist *hl = hostlist_create();
	char *s = NULL;

	for (size_t i = 0; hl && i < j->n_alloc; i++)
		if (hostlist_append(hl, j->alloc[i]->node) < 0)
			break;
	if (hl && j->n_alloc > 0)
		s = hostlist_encode_alloc(hl);
	fprintf(out, "NodeList=%s", s ? s : "(null)");
	free(s);
	hostlist_destroy(hl);
}

static void put_alloc(FILE *out, const Pacer__Job *j)
{
	fputs("Alloc=", out);
	if (j->n_alloc == 0)
		fputs("(null)", out);
	for (size_t i = 0; i < j->n_alloc; i++)
		fprintf(out, "%s%s(cpus=%" PRIu32 ",mem=%" PRIu64 "M)", i ? "," : "",
			j->alloc[i]->node ? j->alloc[i]->node : "", j->alloc[i]->cpus,
			j->alloc[i]->mem_mb);
}

/* Indexes as a list ("0-1,3"), or "(null)". */
static void put_indexes(FILE *out, const uint32_t *v, size_t n)
{
	struct cpulist l = { 0 };
	char buf[1024];
	bool ok = n > 0;

	for (size_t i = 0; ok && i < n; i++)
		ok = cpulist_add(&l, v[i]) == 0;
	if (ok && cpulist_format(&l, buf, sizeof(buf)) < (int)sizeof(buf)) {
		fputs(buf, out);
	} else if (n > 0) {
		/* Too many or too large to fold: every index as it is. */
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%s%" PRIu32, i ? "," : "", v[i]);
	} else {
		fputs("(null)", out);
	}
	cpulist_free(&l);
}

/* Each node of the allocation in detail, as `scontrol show job -d` does:
 * its CPUs (os indexes of PUs), memory, GPUs, and each task's CPUs. */
static void put_alloc_detail(FILE *out, const Pacer__Job *j)
{
	for (size_t i = 0; i < j->n_alloc; i++) {
		const Pacer__NodeAlloc *a = j->alloc[i];

		fprintf(out,
			"     Nodes=%s CPU_IDs=%s Mem=%" PRIu64 "M Mems=%s Exclusive=%s GPU_IDs=",
			null_if_empty(a->node), null_if_empty(a->cpuset), a->mem_mb,
			null_if_empty(a->mems), a->exclusive ? "Yes" : "No");
		put_indexes(out, a->gpus, a->n_gpus);
		fprintf(out, " GpuEnv=%s\n", null_if_empty(a->gpu_env));
		for (size_t t = 0; t < a->n_task_cpus; t++)
			fprintf(out, "       Task=%" PRIu32 " CPU_IDs=%s\n",
				t < a->n_task_ids ? a->task_ids[t] : (uint32_t)t,
				null_if_empty(a->task_cpus[t]));
	}
}

/* The placement and scheduling requests of S, beyond the basic sizes. */
static void put_requests(FILE *out, const Pacer__JobSpec *s)
{
	fputs("   MemPerCPU=", out);
	if (s->mem_per_cpu_mb)
		fprintf(out, "%" PRIu64 "M", s->mem_per_cpu_mb);
	else
		fputc('0', out);
	fprintf(out,
		" NtasksPerNode=%" PRIu32 " NtasksPerSocket=%" PRIu32 " Exclusive=%s Hint=%s\n",
		s->ntasks_per_node, s->ntasks_per_socket, s->exclusive ? "Yes" : "No",
		s->multithread ? "multithread" : "nomultithread");
	fprintf(out, "   Gpus=%" PRIu32 " GpusPerNode=%" PRIu32 " Features=%s\n", s->gpus,
		s->gpus_per_node, null_if_empty(s->constraint));
	fprintf(out, "   ReqNodeList=%s ExcNodeList=%s\n", null_if_empty(s->nodelist),
		null_if_empty(s->exclude));
	fprintf(out, "   Distribution=%s CpuBind=%s Nice=%" PRId32 "\n",
		null_if_empty(s->distribution), null_if_empty(s->cpu_bind), s->nice);
	fprintf(out, "   Array=%s ArrayTaskThrottle=%" PRIu32 " Dependency=%s\n",
		null_if_empty(s->array), s->array_max_running, null_if_empty(s->dependency));
}

static bool job_pending(const Pacer__Job *j)
{
	return j->state == PACER__JOB_STATE__JOB_PENDING ||
	       j->state == PACER__JOB_STATE__JOB_REQUEUED;
}

static void put_args(FILE *out, const Pacer__JobSpec *s)
{
	fputs("Args=", out);
	if (s->n_argv == 0)
		fputs("(null)", out);
	for (size_t i = 0; i < s->n_argv; i++)
		fprintf(out, "%s%s", i ? " " : "", s->argv[i]);
}

void format_job_show(const Pacer__Job *j, int64_t now, FILE *out)
{
	static const Pacer__JobSpec empty = PACER__JOB_SPEC__INIT;
	const Pacer__JobSpec *s = j->spec ? j->spec : &empty;
	char a[256], b[256];

	fprintf(out, "JobId=%" PRIu32, j->id);
	if (j->array_job_id)
		fprintf(out, " ArrayJobId=%" PRIu32 " ArrayTaskId=%" PRIu32, j->array_job_id,
			j->array_task_id);
	fprintf(out, " JobName=%s\n", null_if_empty(s->name));
	fprintf(out, "   UserId=%s(%" PRIu32 ") ", null_if_empty(j->user), j->uid);
	put_group(out, j->gid);
	fprintf(out, "\n   Priority=%" PRIu32 " Held=%s CancelRequested=%s Epoch=%" PRIu64 "\n",
		j->priority, j->held ? "Yes" : "No", j->cancel_requested ? "Yes" : "No", j->epoch);
	fprintf(out, "   JobState=%s Reason=%s\n", format_job_state(j->state),
		nz(j->reason) ? j->reason : "None");
	fprintf(out, "   ExitCode=%" PRId32 ":%" PRId32 " RequeueCount=%" PRIu32 "\n", j->exit_code,
		j->term_signal, j->requeue_count);
	timefmt_duration(format_elapsed(j->state, j->start_time, j->end_time, now), a, sizeof(a));
	format_time_limit(s->time_limit, b, sizeof(b));
	fprintf(out, "   RunTime=%s TimeLimit=%s\n   ", a, b);
	put_time(out, "SubmitTime", j->submit_time);
	fputc(' ', out);
	/* As scontrol: a pending job's expected start, N/A when unknown. */
	put_time(out, "StartTime", job_pending(j) ? j->expected_start : j->start_time);
	fputc(' ', out);
	put_time(out, "EndTime", j->end_time);
	/* The one it runs or ran in, else the list it may run in. */
	fprintf(out, "\n   Partition=%s ",
		null_if_empty(j->partition && *j->partition ? j->partition : s->partition));
	put_nodelist(out, j);
	/* The nodes it holds once allocated, else those it asked for (at least one). */
	fprintf(out,
		"\n   NumNodes=%" PRIu32 " NumTasks=%" PRIu32 " CPUs/Task=%" PRIu32 " Mem=%" PRIu64
		"%s\n",
		j->n_alloc ? (uint32_t)j->n_alloc : (s->nodes ? s->nodes : 1), s->ntasks,
		s->cpus_per_task, s->mem_mb, s->mem_mb ? "M" : "");
	put_requests(out, s);
	fputs("   ", out);
	put_alloc(out, j);
	fputc('\n', out);
	put_alloc_detail(out, j);
	fprintf(out, "   WorkDir=%s\n   ", null_if_empty(s->workdir));
	/* An allocation of pacer alloc or pacer run has no script to name. */
	if (s->alloc_only)
		fputs("Command=(allocation) ", out);
	put_args(out, s);
	fputs("\n   ", out);
	put_output(out, "StdOut", j, j->stdout_path, s->stdout_pattern);
	fputs("\n   ", out);
	if (nz(j->stderr_path) || nz(s->stderr_pattern))
		put_output(out, "StdErr", j, j->stderr_path, s->stderr_pattern);
	else
		put_output(out, "StdErr", j, j->stdout_path, s->stdout_pattern);
	fputc('\n', out);
	fprintf(out, "   SubmitDir=%s SubmitHost=%s\n", null_if_empty(s->submit_dir),
		null_if_empty(s->submit_host));
	format_job_steps_show(j, now, out);
}
