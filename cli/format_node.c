/* format_node.c - nodes: the `pacer nodes` table and the `pacer show
 * node` record with its hardware layout. */
#include "format.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cpulist.h"
#include "jobid.h"
#include "timefmt.h"

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

static const char *null_if_empty(const char *s)
{
	return nz(s) ? s : "(null)";
}

/* The N strings of V joined by commas into a new string ("" when none),
 * or NULL when out of memory. */
static char *join(char **v, size_t n)
{
	size_t len = 1;
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	s = p = malloc(len);
	if (!s)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", v[i]);
	return s;
}

void format_node_sct(const Pacer__NodeInfo *n, char *buf, size_t size)
{
	if (n->sockets == 0)
		snprintf(buf, size, "-");
	else if (n->cores % n->sockets == 0)
		snprintf(buf, size, "%" PRIu32 ":%" PRIu32 ":%" PRIu32, n->sockets,
			 n->cores / n->sockets, n->threads);
	else
		/* Packages of different sizes: no one number of cores each. */
		snprintf(buf, size, "%" PRIu32 ":-:%" PRIu32, n->sockets, n->threads);
}

/* ---------------------------------------------------------------------------
 * Job names */

static int by_id(const void *pa, const void *pb)
{
	const struct format_jobname *a = pa, *b = pb;

	return a->id < b->id ? -1 : a->id > b->id;
}

int format_jobnames_build(struct format_jobnames *names, const Pacer__QueueReply *r)
{
	names->n = 0;
	names->v = calloc(r->n_jobs + 1, sizeof(*names->v));
	if (!names->v)
		return -1;
	for (size_t i = 0; i < r->n_jobs; i++) {
		names->v[i].id = r->jobs[i]->id;
		names->v[i].array_job_id = r->jobs[i]->array_job_id;
		names->v[i].array_task_id = r->jobs[i]->array_task_id;
	}
	names->n = r->n_jobs;
	qsort(names->v, names->n, sizeof(*names->v), by_id);
	return 0;
}

void format_jobnames_free(struct format_jobnames *names)
{
	free(names->v);
	names->v = NULL;
	names->n = 0;
}

const char *format_jobname(const struct format_jobnames *names, uint32_t id, char *buf, size_t size)
{
	struct format_jobname key = { .id = id }, *found = NULL;

	if (names && names->n)
		found = bsearch(&key, names->v, names->n, sizeof(*names->v), by_id);
	if (found)
		jobid_format(id, found->array_job_id, found->array_task_id, buf, size);
	else
		snprintf(buf, size, "%" PRIu32, id);
	return buf;
}

/* ---------------------------------------------------------------------------
 * The nodes table */

enum { C_NAME, C_STATE, C_CPUS, C_SCT, C_MEM, C_GPUS, C_FEATURES, C_PARTS, C_REASON, NCOLS };

static const char *const heads[NCOLS] = {
	"NODELIST",  "STATE",    "CPUS(A/T)",  "S:C:T",  "MEMORY(A/T)",
	"GPUS(A/T)", "FEATURES", "PARTITIONS", "REASON",
};

struct row {
	char cpus[32], sct[48], mem[48], gpus[32];
	char *features, *parts; /* malloc'd, may be NULL */
	const char *cols[NCOLS];
};

static void row_fill(struct row *r, const Pacer__NodeInfo *n)
{
	r->features = join(n->features, n->n_features);
	r->parts = join(n->partitions, n->n_partitions);
	snprintf(r->cpus, sizeof(r->cpus), "%" PRIu32 "/%" PRIu32, n->cpus_alloc, n->cpus);
	format_node_sct(n, r->sct, sizeof(r->sct));
	snprintf(r->mem, sizeof(r->mem), "%" PRIu64 "/%" PRIu64, n->mem_alloc_mb, n->mem_mb);
	snprintf(r->gpus, sizeof(r->gpus), "%" PRIu32 "/%" PRIu32, n->gpus_alloc, n->gpus);
	r->cols[C_NAME] = n->name ? n->name : "";
	r->cols[C_STATE] = format_node_state(n);
	r->cols[C_CPUS] = r->cpus;
	r->cols[C_SCT] = r->sct;
	r->cols[C_MEM] = r->mem;
	r->cols[C_GPUS] = r->gpus;
	r->cols[C_FEATURES] = r->features && *r->features ? r->features : "(none)";
	r->cols[C_PARTS] = r->parts && *r->parts ? r->parts : "(none)";
	r->cols[C_REASON] = nz(n->reason) ? n->reason : "none";
}

static void row_free(struct row *r)
{
	free(r->features);
	free(r->parts);
}

static void put_row(FILE *out, const char *const cols[NCOLS], const size_t width[NCOLS])
{
	for (int c = 0; c < NCOLS - 1; c++)
		fprintf(out, "%-*s ", (int)width[c], cols[c]);
	fprintf(out, "%s\n", cols[NCOLS - 1]);
}

void format_nodes_table(const Pacer__NodesReply *r, bool header, FILE *out)
{
	size_t width[NCOLS];
	struct row row;

	for (int c = 0; c < NCOLS; c++)
		width[c] = header ? strlen(heads[c]) : 0;
	/* Measure every row first, so the columns line up. */
	for (size_t i = 0; i < r->n_nodes; i++) {
		row_fill(&row, r->nodes[i]);
		for (int c = 0; c < NCOLS; c++)
			if (strlen(row.cols[c]) > width[c])
				width[c] = strlen(row.cols[c]);
		row_free(&row);
	}
	if (header)
		put_row(out, heads, width);
	for (size_t i = 0; i < r->n_nodes; i++) {
		row_fill(&row, r->nodes[i]);
		put_row(out, row.cols, width);
		row_free(&row);
	}
}

/* ---------------------------------------------------------------------------
 * The layout: packages, NUMA domains, runs of cores, GPUs */

/* Who holds a core: "free", "job 42" or "jobs 42,40_3". */
static void put_holders(FILE *out, const Pacer__CoreInfo *c, const struct format_jobnames *names)
{
	char buf[32];

	if (c->n_jobs == 0) {
		fputs("free", out);
		return;
	}
	fputs(c->n_jobs == 1 ? "job " : "jobs ", out);
	for (size_t i = 0; i < c->n_jobs; i++)
		fprintf(out, "%s%s", i ? "," : "",
			format_jobname(names, c->jobs[i], buf, sizeof(buf)));
}

static bool same_holders(const Pacer__CoreInfo *a, const Pacer__CoreInfo *b)
{
	return a->n_jobs == b->n_jobs &&
	       (a->n_jobs == 0 || memcmp(a->jobs, b->jobs, a->n_jobs * sizeof(*a->jobs)) == 0);
}

static const Pacer__NumaInfo *find_numa(const Pacer__NodeLayout *l, uint32_t index)
{
	for (size_t i = 0; i < l->n_numas; i++)
		if (l->numas[i]->index == index)
			return l->numas[i];
	return NULL;
}

/* Scratch sets for one run of cores, and how jobs are named. */
struct run_sets {
	struct cpulist alloc; /* every PU a job holds on the node */
	struct cpulist pus;   /* the run's PUs */
	struct cpulist spare; /* the run's PUs no job holds */
	const struct format_jobnames *names;
	char buf[4096];
};

/* The PUs of a run as a list; a list too long for BUF shows its count. */
static const char *list_of(struct run_sets *rs, const struct cpulist *l)
{
	if (cpulist_format(l, rs->buf, sizeof(rs->buf)) >= (int)sizeof(rs->buf))
		snprintf(rs->buf, sizeof(rs->buf), "%zu PUs", cpulist_count(l));
	return rs->buf;
}

/* One run: cores C[first..last] (consecutive, same place, same holders). */
static void put_run(FILE *out, Pacer__CoreInfo *const *cores, size_t first, size_t last,
		    struct run_sets *rs)
{
	const Pacer__CoreInfo *c = cores[first];
	bool bad = false;

	cpulist_clear(&rs->pus);
	for (size_t i = first; i <= last; i++)
		bad |= cpulist_add_string(&rs->pus, cores[i]->pus ? cores[i]->pus : "") < 0;
	if (first == last)
		fprintf(out, "        core %" PRIu32, c->index);
	else
		fprintf(out, "        cores %" PRIu32 "-%" PRIu32, c->index, cores[last]->index);
	fprintf(out, " (PUs %s): ", bad ? "?" : list_of(rs, &rs->pus));
	put_holders(out, c, rs->names);
	/* A job may hold only some threads of a core (--hint=multithread). */
	if (c->n_jobs && !bad && cpulist_count(&rs->alloc)) {
		cpulist_clear(&rs->spare);
		cpulist_add_all(&rs->spare, &rs->pus);
		cpulist_remove_all(&rs->spare, &rs->alloc);
		if (cpulist_count(&rs->spare))
			fprintf(out, ", PUs %s free", list_of(rs, &rs->spare));
	}
	fputc('\n', out);
}

/* The cores of package PKG in domain DOM, in runs. */
static void put_cores(FILE *out, const Pacer__NodeLayout *l, uint32_t pkg, uint32_t dom,
		      struct run_sets *rs)
{
	size_t first = 0, last = 0;
	bool open = false;

	for (size_t i = 0; i < l->n_cores; i++) {
		const Pacer__CoreInfo *c = l->cores[i];

		if (c->package != pkg || c->numa != dom)
			continue;
		if (open && c->index == l->cores[last]->index + 1 &&
		    same_holders(l->cores[first], c)) {
			last = i;
			continue;
		}
		if (open)
			put_run(out, l->cores, first, last, rs);
		first = last = i;
		open = true;
	}
	if (open)
		put_run(out, l->cores, first, last, rs);
}

/* Whether V[0..N) holds X. */
static bool seen(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static void put_domain(FILE *out, const Pacer__NodeLayout *l, uint32_t pkg, uint32_t dom)
{
	const Pacer__NumaInfo *d = find_numa(l, dom);

	fprintf(out, "      NUMA %" PRIu32, dom);
	if (!d) {
		fputs(":\n", out);
		return;
	}
	fprintf(out, " (nodeset %s): memory %" PRIu64 "M, PUs %s%s\n", null_if_empty(d->nodeset),
		d->mem_mb, null_if_empty(d->cpuset), d->package != pkg ? ", spans packages" : "");
}

/* Packages in the order their cores come, each with its domains. */
static void put_packages(FILE *out, const Pacer__NodeLayout *l, struct run_sets *rs)
{
	uint32_t *pkgs = calloc(l->n_cores + 1, sizeof(*pkgs));
	uint32_t *doms = calloc(l->n_cores + 1, sizeof(*doms));
	size_t npkgs = 0;

	if (!pkgs || !doms) {
		fputs("    (out of memory)\n", out);
		goto done;
	}
	for (size_t i = 0; i < l->n_cores; i++)
		if (!seen(pkgs, npkgs, l->cores[i]->package))
			pkgs[npkgs++] = l->cores[i]->package;
	for (size_t p = 0; p < npkgs; p++) {
		size_t ndoms = 0;

		fprintf(out, "    Package %" PRIu32 ":\n", pkgs[p]);
		for (size_t i = 0; i < l->n_cores; i++)
			if (l->cores[i]->package == pkgs[p] &&
			    !seen(doms, ndoms, l->cores[i]->numa))
				doms[ndoms++] = l->cores[i]->numa;
		for (size_t d = 0; d < ndoms; d++) {
			put_domain(out, l, pkgs[p], doms[d]);
			put_cores(out, l, pkgs[p], doms[d], rs);
		}
	}
done:
	free(pkgs);
	free(doms);
}

static void put_gpus(FILE *out, const Pacer__NodeLayout *l, const struct format_jobnames *names)
{
	char buf[32];

	if (l->n_gpus == 0)
		return;
	fputs("    GPUs:\n", out);
	for (size_t i = 0; i < l->n_gpus; i++) {
		const Pacer__GpuInfo *g = l->gpus[i];

		fprintf(out, "      GPU %" PRIu32 " %s (%s", g->index, null_if_empty(g->name),
			null_if_empty(g->kind));
		if (nz(g->busid))
			fprintf(out, ", %s", g->busid);
		fputc(')', out);
		if (g->package < 0 && g->numa < 0)
			fputs(" locality unknown", out);
		if (g->package >= 0)
			fprintf(out, " near package %" PRId32, g->package);
		if (g->numa >= 0)
			fprintf(out, "%s NUMA %" PRId32, g->package >= 0 ? "," : " near", g->numa);
		if (g->job)
			fprintf(out, ": job %s\n", format_jobname(names, g->job, buf, sizeof(buf)));
		else
			fputs(": free\n", out);
	}
}

static void put_layout(FILE *out, const Pacer__NodeInfo *n, const struct format_jobnames *names)
{
	const Pacer__NodeLayout *l = n->layout;
	struct run_sets *rs = calloc(1, sizeof(*rs));

	fprintf(out, "   Layout: %s\n", nz(l->topology_source) ? l->topology_source : "(unknown)");
	if (!rs) {
		fputs("    (out of memory)\n", out);
		return;
	}
	rs->names = names;
	/* A list the CLI cannot read only loses the "PUs free" detail. */
	if (cpulist_add_string(&rs->alloc, n->cpuset_alloc ? n->cpuset_alloc : "") < 0)
		cpulist_clear(&rs->alloc);
	put_packages(out, l, rs);
	put_gpus(out, l, names);
	cpulist_free(&rs->alloc);
	cpulist_free(&rs->pus);
	cpulist_free(&rs->spare);
	free(rs);
}

/* ---------------------------------------------------------------------------
 * The record */

void format_node_show(const Pacer__NodeInfo *n, const struct format_jobnames *names, FILE *out)
{
	char state[32], buf[32];
	const char *st = format_node_state(n);
	char *parts = join(n->partitions, n->n_partitions);
	char *features = join(n->features, n->n_features);
	size_t i;

	for (i = 0; st[i] && i < sizeof(state) - 1; i++)
		state[i] = (char)toupper((unsigned char)st[i]);
	state[i] = '\0';
	fprintf(out, "NodeName=%s State=%s\n", null_if_empty(n->name), state);
	fprintf(out, "   Address=%s Port=%" PRIu32 "\n", null_if_empty(n->address), n->port);
	fprintf(out,
		"   CPUTot=%" PRIu32 " CPUAlloc=%" PRIu32 " RealMemory=%" PRIu64
		" AllocMem=%" PRIu64 "\n",
		n->cpus, n->cpus_alloc, n->mem_mb, n->mem_alloc_mb);
	fprintf(out, "   Sockets=%" PRIu32 " CoresPerSocket=", n->sockets);
	if (n->sockets && n->cores % n->sockets == 0)
		fprintf(out, "%" PRIu32, n->cores / n->sockets);
	else
		fputc('-', out);
	fprintf(out,
		" ThreadsPerCore=%" PRIu32 " Cores=%" PRIu32 " CoresAlloc=%" PRIu32
		" NUMAs=%" PRIu32 "\n",
		n->threads, n->cores, n->cores_alloc, n->numas);
	fprintf(out, "   Gpus=%" PRIu32 " GpusAlloc=%" PRIu32 " AllocPUs=%s\n", n->gpus,
		n->gpus_alloc, null_if_empty(n->cpuset_alloc));
	fprintf(out, "   Features=%s\n", features && *features ? features : "(null)");
	fprintf(out, "   Partitions=%s\n", parts && *parts ? parts : "(null)");
	fputs("   Jobs=", out);
	if (n->n_jobs == 0)
		fputs("(null)", out);
	for (i = 0; i < n->n_jobs; i++)
		fprintf(out, "%s%s", i ? "," : "",
			format_jobname(names, n->jobs[i], buf, sizeof(buf)));
	fprintf(out, "\n   BootId=%s Version=%s ", null_if_empty(n->boot_id),
		null_if_empty(n->version));
	char heard[64];
	timefmt_timestamp(n->last_heard, heard, sizeof(heard));
	fprintf(out, "LastHeard=%s\n", heard);
	fprintf(out, "   TopologyHash=%s\n", null_if_empty(n->topology_hash));
	fprintf(out, "   Reason=%s\n", nz(n->reason) ? n->reason : "None");
	if (n->layout)
		put_layout(out, n, names);
	free(parts);
	free(features);
}
