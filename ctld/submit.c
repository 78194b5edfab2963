/* submit.c - the checks a submitted job must pass, and the record it
 * becomes (see submit.h). */
#include "submit.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrayspec.h"
#include "conf.h"
#include "ctld.h"
#include "depend.h"
#include "depspec.h"

#define SCRIPT_MAX (4u << 20)

static int check_spec(const Pacer__JobSpec *s, char *why, size_t whylen)
{
	if (s->alloc_only && (s->script.len || s->n_argv || *s->array)) {
		snprintf(why, whylen,
			 "an allocation (alloc_only) runs no batch script: it takes no script, "
			 "arguments or --array");
		return -1;
	}
	/* An allocation's work is the steps run in it: it has no script. */
	if (!s->alloc_only &&
	    (s->script.len < 2 || memcmp(s->script.data, "#!", 2) != 0)) {
		snprintf(why, whylen, "the batch script must start with #! and an interpreter");
		return -1;
	}
	if (s->script.len > SCRIPT_MAX) {
		snprintf(why, whylen, "the batch script is %zu bytes, above the limit of %u",
			 s->script.len, SCRIPT_MAX);
		return -1;
	}
	if (s->script.len && memchr(s->script.data, '\0', s->script.len)) {
		snprintf(why, whylen, "the batch script contains NUL bytes: it is not a script");
		return -1;
	}
	if (!s->workdir || s->workdir[0] != '/') {
		snprintf(why, whylen, "the working directory must be an absolute path");
		return -1;
	}
	if (strlen(s->name) > 1024) {
		snprintf(why, whylen, "the job name is longer than 1024 characters");
		return -1;
	}
	return 0;
}

/* May WHO submit to PART (allow_users, allow_groups)? */
static bool may_use(const struct submitter *who, const struct conf_partition *part)
{
	if (who->admin || (!part->nallow_users && !part->nallow_groups))
		return true;
	for (size_t i = 0; i < part->nallow_users; i++)
		if (strcmp(part->allow_users[i], who->user) == 0)
			return true;
	/* Users of big sites are in hundreds of groups: ask again with room
	 * for all of them when the first guess was short. */
	int ng = 0, want = 64, rc;
	gid_t *groups = NULL;
	do {
		ng = want;
		gid_t *ngv = realloc(groups, (size_t)ng * sizeof(*groups));
		if (!ngv) {
			free(groups);
			return false;
		}
		groups = ngv;
		rc = getgrouplist(who->user, who->gid, groups, &want);
	} while (rc < 0 && want > ng);
	if (rc < 0 || want < 1) { /* not known here: its primary group only */
		want = 1;
		groups[0] = who->gid;
	}
	bool ok = false;
	for (size_t i = 0; i < part->nallow_groups && !ok; i++) {
		struct group *g = getgrnam(part->allow_groups[i]);
		for (int k = 0; g && k < want && !ok; k++)
			ok = groups[k] == g->gr_gid;
	}
	free(groups);
	return ok;
}

/* Scheduling options of a submit: arrays, dependencies, nice.  Sets
 * *NTASKS to the number of jobs the submit makes. */
static int check_scheduling(const struct submitter *who, Pacer__JobSpec *s, uint32_t *ntasks,
			    char *why, size_t whylen)
{
	*ntasks = 1;
	if (s->nice < -10000 || s->nice > 10000) {
		snprintf(why, whylen, "--nice %d is outside -10000..10000", s->nice);
		return -1;
	}
	if (s->nice < 0 && !who->admin) {
		snprintf(why, whylen,
			 "only an administrator may give a negative --nice (it raises priority)");
		return -1;
	}
	if (*s->array) {
		uint32_t *idx, max_running;
		size_t n;
		char msg[384];
		if (arrayspec_parse(s->array, &idx, &n, &max_running, msg, sizeof(msg)) < 0) {
			snprintf(why, whylen, "bad value for --array: %s", msg);
			return -1;
		}
		free(idx);
		if ((uint64_t)ctld.next_job_id + n >= UINT32_MAX) {
			snprintf(why, whylen, "job ids are exhausted");
			return -1;
		}
		s->array_max_running = max_running;
		*ntasks = (uint32_t)n;
	}
	if (*s->dependency) {
		struct depspec_term *deps;
		uint16_t n;
		bool any, single;
		char msg[384];
		/* The parser's words do not name the option: a client that did
		 * not check first gets them with the name, as the CLI says it. */
		if (depspec_parse(s->dependency, &deps, &n, &any, &single, msg, sizeof(msg)) < 0) {
			snprintf(why, whylen, "bad value for --dependency: %s", msg);
			return -1;
		}
		int rc = depend_check_exists(deps, n, why, whylen);
		free(deps);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int submit_check(const struct submitter *who, Pacer__JobSpec *s, struct submit *sub, char *why,
		 size_t whylen)
{
	errno = EINVAL;
	if (check_spec(s, why, whylen) < 0 ||
	    sched_parts_parse(s->partition, &sub->parts, why, whylen) < 0)
		return -1;
	for (size_t i = 0; i < sub->parts.n; i++) {
		if (!may_use(who, sub->parts.part[i])) {
			snprintf(why, whylen,
				 "partition %s is not open to %s (its allow_users and "
				 "allow_groups in pacer.conf say who may use it)",
				 sub->parts.part[i]->name, who->user);
			errno = EPERM;
			return -1;
		}
	}
	if (sched_check(s, &sub->parts, why, whylen) < 0 ||
	    check_scheduling(who, s, &sub->ntasks, why, whylen) < 0) {
		errno = EINVAL;
		return -1;
	}
	/* A copy of the known fields alone (frame_unpack already drops unknown
	 * ones, and this keeps it so whatever the caller decoded with), naming
	 * the partitions the job may really go to. */
	sub->spec = *s;
	sub->spec.base.n_unknown_fields = 0;
	sub->spec.base.unknown_fields = NULL;
	sub->spec.partition = sub->parts.names;
	return 0;
}

void submit_job(const struct submitter *who, struct submit *sub, uint32_t id, int64_t now,
		uint64_t epoch, Pacer__Job *j)
{
	pacer__job__init(j);
	j->id = id;
	j->uid = who->uid;
	j->gid = who->gid;
	j->user = (char *)who->user;
	j->spec = &sub->spec;
	j->state = PACER__JOB_STATE__JOB_PENDING;
	j->reason = sub->spec.hold ? "JobHeldUser" : "Priority";
	j->submit_time = now;
	j->held = sub->spec.hold;
	j->priority = 0; /* worked out by every scheduling pass */
	j->epoch = epoch;
}
