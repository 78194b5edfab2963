/* ctld.h - what every part of the controller shares. */
#ifndef PACER_CTLD_H
#define PACER_CTLD_H

#include <stdint.h>
#include <sys/types.h>

struct conf;
struct event_base;
struct auth;
struct authq;
struct select_ops;

struct ctld {
	struct conf *conf;
	struct event_base *base;
	struct auth *auth;
	struct authq *authq; /* checks clients' credentials off the loop */
	const struct select_ops *select;
	uint64_t epoch;       /* this controller term, from the journal */
	uint32_t next_job_id; /* never reused, carried through the journal */
	uid_t daemon_uid;     /* node daemons must prove this uid, or root */
	char *listen_host;
	uint16_t listen_port;
	int64_t started; /* wall clock when this controller started */
};

extern struct ctld ctld;

/* The wall clock, in unix seconds: for what users read, never timeouts. */
int64_t ctld_now(void);

#endif
