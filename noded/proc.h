/* proc.h - what /proc/PID/stat says about a process. */
#ifndef PACER_PROC_H
#define PACER_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct proc_stat {
	char state; /* R, S, D, Z... */
	pid_t ppid;
	pid_t pgrp;
	pid_t session;
	uint64_t start_time; /* clock ticks since boot: tells a process from a
			      * later one that got the same pid */
};

/* Read PID's stat line.  0, or -1 with errno (ENOENT when it is gone,
 * EINVAL when the line cannot be parsed). */
int proc_stat_read(pid_t pid, struct proc_stat *st);

#endif
