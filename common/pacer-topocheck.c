/* pacer-topocheck - import one topology, in a process of its own.
 *
 *   pacer-topocheck GPUS < COMPRESSED-XML
 *
 * Reads what topo_import takes (a node's topology as sent at registration)
 * on stdin and imports it as the controller would (zlib, hwloc, Pacer's
 * layout and its checks), GPUS as pacer.conf gives them.  Prints "ok" and
 * exits 0, or "refused", a tab and why, and exits 1.  Whatever hwloc does
 * on a malformed file (crash, abort, endless work) happens here, where
 * topocheck.c reports it as a refusal: run by topo_check_start, not by
 * people.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "topo.h"
#include "topocheck.h"

/* topo_import refuses more than this anyway: read one byte past it so it
 * can say so. */
#define INPUT_MAX (((size_t)64 << 20) + 1)

/* AddressSanitizer reserves terabytes of address space: no RLIMIT_AS
 * under it (sanitizer builds are for tests). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Limits set by the helper itself, before it reads a byte: its caller
 * starts it with posix_spawn, which cannot set them. */
static void limit_self(void)
{
	struct rlimit cpu = { .rlim_cur = TOPO_CHECK_TIMEOUT_MS / 1000 + 1,
			      .rlim_max = TOPO_CHECK_TIMEOUT_MS / 1000 + 2 };
	struct rlimit none = { 0, 0 };

	setrlimit(RLIMIT_CPU, &cpu);
	setrlimit(RLIMIT_CORE, &none); /* a crash is expected, its core is not wanted */
#ifndef UNDER_ASAN
	struct rlimit as = { .rlim_cur = TOPO_CHECK_MEM_MAX, .rlim_max = TOPO_CHECK_MEM_MAX };
	setrlimit(RLIMIT_AS, &as);
#endif
}

static int refuse(const char *why)
{
	printf("refused\t%s\n", why);
	return 1;
}

int main(int argc, char **argv)
{
	char err[512] = "", *end;
	unsigned char *buf;
	size_t len = 0;
	unsigned long gpus;
	struct topo *t = NULL;

	limit_self();
	if (argc != 2)
		return refuse("usage: pacer-topocheck GPUS < COMPRESSED-XML");
	errno = 0;
	gpus = strtoul(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || gpus > UINT32_MAX)
		return refuse("GPUS must be a number");
	buf = malloc(INPUT_MAX);
	if (!buf)
		return refuse("out of memory reading the topology");
	while (len < INPUT_MAX) {
		ssize_t n = read(0, buf + len, INPUT_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return refuse("cannot read the topology from stdin");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (topo_import(buf, len, (uint32_t)gpus, &t, err, sizeof(err)) < 0)
		return refuse(err);
	topo_destroy(t);
	free(buf);
	printf("ok\n");
	return 0;
}
