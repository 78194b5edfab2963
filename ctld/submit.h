/* submit.h - what a submitted job must pass, and the record it becomes.
 *
 * The one place for the controller's checks of a client's JobSpec, so the
 * RPC handler and the fuzz harness (tests/fuzz/fuzz_frame.c) run the same
 * code.  What is journaled is built here from the checked fields alone,
 * never the client's message as received: an unknown field that
 * protobuf-c packs back into bytes it cannot read would otherwise keep the
 * controller from ever restarting.
 */
#ifndef PACER_SUBMIT_H
#define PACER_SUBMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pacer.pb-c.h"
#include "sched.h"

/* Who submits: what the checks need of the client. */
struct submitter {
	uid_t uid;
	gid_t gid;
	const char *user;
	bool admin;
};

/* A submit that passed: the partitions it may run in, the jobs it makes
 * (tasks of an array) and the spec to journal. */
struct submit {
	struct sched_parts parts;
	uint32_t ntasks;
	Pacer__JobSpec spec; /* a copy of the known fields; strings point into the request */
};

/* Check SPEC as a submit from WHO: script, directory and name; the
 * partitions (known, open to WHO, and able to run it ever); sizes; nice,
 * --array and --dependency.  Fills in SPEC's numeric defaults.  0 with SUB
 * set, or -1 with errno EINVAL (EPERM for a closed partition) and WHY
 * saying what is wrong in one sentence. */
int submit_check(const struct submitter *who, Pacer__JobSpec *spec, struct submit *sub, char *why,
		 size_t whylen);

/* The record of SUB as job ID, submitted at NOW in EPOCH, into *J.  J
 * points into SUB and WHO, which must outlive it. */
void submit_job(const struct submitter *who, struct submit *sub, uint32_t id, int64_t now,
		uint64_t epoch, Pacer__Job *j);

#endif
