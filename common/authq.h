/* authq.h - munge work off the event loop.
 *
 * Decoding a credential is a round trip to munged, and naming its uid may
 * ask NSS (LDAP, say): either can stall, and a daemon's loop must not.  An
 * authq runs that work on one thread of its own and hands each finished job
 * back on the loop, through a callback.  Jobs finish in the order given.
 */
#ifndef PACER_AUTHQ_H
#define PACER_AUTHQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"

struct event_base;
struct authq;

struct authq_job {
	/* In: check CRED (bound to cluster, service and both nonces); when
	 * REPLY_SERVICE is set, also make our own credential bound to it. */
	char *cred; /* malloc'd; freed with the job */
	char cluster[128];
	char service[64];
	char reply_service[64]; /* "" = no reply credential */
	uint8_t snonce[AUTH_NONCE_LEN];
	uint8_t cnonce[AUTH_NONCE_LEN];
	/* Out: rc 0 with uid, gid and user (the name, or the number when NSS
	 * has none), and reply_cred when asked; or rc -1 and err. */
	int rc;
	bool reply_failed; /* the peer checked out; our own credential failed */
	int err_errno;
	char err[256];
	uid_t uid;
	gid_t gid;
	char user[64];
	char *reply_cred; /* malloc'd; freed with the job unless taken */
	/* Called on the loop when done. */
	void (*done)(struct authq_job *job, void *arg);
	void *arg;
	struct authq_job *next;
};

/* A queue whose results come back on BASE, talking to the munged at SOCKET
 * (NULL = libmunge's default) through a munge context of its own.  NULL
 * with errno. */
struct authq *authq_create(struct event_base *base, const char *socket);

/* Stop the thread and free every job not yet handed back (their callbacks
 * are not called). */
void authq_destroy(struct authq *q);

/* Queue JOB (owned by the queue until its callback).  0 or -1 with errno. */
int authq_submit(struct authq *q, struct authq_job *job);

/* Do JOB's work now, on the calling thread (for code without a queue). */
void authq_run(struct auth *auth, struct authq_job *job);

/* Free JOB and what it holds. */
void authq_job_free(struct authq_job *job);

#endif
