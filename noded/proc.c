/* proc.c - /proc/PID/stat, parsed once for every user in the node daemon. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int proc_stat_read(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[1024];
	const char *p;
	unsigned long long start;
	int ppid, pgrp, sid;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = ENOENT;
		return -1;
	}
	buf[n] = '\0';
	/* The command name may hold spaces and ')': fields follow the last ')'.
	 * After it: state ppid pgrp session, then 15 fields up to starttime. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1,
			 " %c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d"
			 " %llu",
			 &st->state, &ppid, &pgrp, &sid, &start) != 5) {
		errno = EINVAL;
		return -1;
	}
	st->ppid = ppid;
	st->pgrp = pgrp;
	st->session = sid;
	st->start_time = start;
	return 0;
}
