/* test_munged.c - a private munged for unit tests (see test_munged.h). */
#include "test_munged.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int test_munged_start(struct test_munged *m, const char *name)
{
	const char *base = getenv("TMPDIR");
	char cmd[2048];

	snprintf(m->dir, sizeof(m->dir), "%s/pacer-%s-XXXXXX", base && *base ? base : "/tmp", name);
	if (!mkdtemp(m->dir))
		return -1;
	chmod(m->dir, 0755); /* munged wants its socket's folder searchable */
	snprintf(m->sock, sizeof(m->sock), "%s/munge.sock", m->dir);
	/* Its output goes nowhere: a daemon holding the test's pipes open would
	 * keep the test runner waiting. */
	snprintf(cmd, sizeof(cmd),
		 "command -v munged >/dev/null && command -v mungekey >/dev/null && "
		 "mungekey --create --keyfile=%s/munge.key && "
		 "munged --socket=%s --key-file=%s/munge.key --log-file=%s/munged.log "
		 "--pid-file=%s/munged.pid --seed-file=%s/munged.seed </dev/null >/dev/null 2>&1",
		 m->dir, m->sock, m->dir, m->dir, m->dir, m->dir);
	m->up = system(cmd) == 0;
	if (!m->up)
		fprintf(stderr, "munged not available: tests that need it are skipped\n");
	return 0;
}

int test_munged_stop(struct test_munged *m)
{
	char cmd[2048];

	/* munged writes its seed file as it exits: wait before removing. */
	snprintf(cmd, sizeof(cmd),
		 "if [ -f %s/munged.pid ]; then p=$(cat %s/munged.pid); kill $p; "
		 "for i in $(seq 100); do kill -0 $p 2>/dev/null || break; sleep 0.05; done; fi; "
		 "rm -rf %s",
		 m->dir, m->dir, m->dir);
	return system(cmd) == 0 ? 0 : -1;
}
