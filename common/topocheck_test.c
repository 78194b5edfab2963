/* topocheck_test.c - the topology check in its helper process, on the
 * inputs that crash hwloc itself (tests/fuzz/reproducers). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "topo.h"
#include "topocheck.h"

#ifndef PACER_REPRODUCER_DIR
#error "PACER_REPRODUCER_DIR must name tests/fuzz/reproducers"
#endif

/* DIR/FILE compressed as a node sends it; its length in *LEN. */
static void *wire_form(const char *dir, const char *file, size_t *len)
{
	char path[1024];
	FILE *f;
	long n;
	Bytef *xml, *z;
	uLongf zl;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	xml = malloc((size_t)n);
	assert_non_null(xml);
	assert_int_equal(fread(xml, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	zl = compressBound((uLong)n);
	z = malloc(zl);
	assert_non_null(z);
	assert_int_equal(compress(z, &zl, xml, (uLong)n), Z_OK);
	free(xml);
	*len = zl;
	return z;
}

static void expect_refused(const void *buf, size_t len, const char *what)
{
	char err[512] = "";

	errno = 0;
	assert_int_equal(topo_check_isolated(buf, len, 0, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	if (!strstr(err, what))
		fail_msg("expected \"%s\" in \"%s\"", what, err);
}

static void test_good_topology_passes(void **state)
{
	(void)state;
	size_t len;
	void *z = wire_form(PACER_TOPOLOGY_DIR, "sierra.xml", &len);
	char err[512] = "";

	if (topo_check_isolated(z, len, 0, err, sizeof(err)) < 0)
		fail_msg("sierra.xml refused: %s", err);
	/* and with conf GPUs, as the controller passes them */
	if (topo_check_isolated(z, len, 4, err, sizeof(err)) < 0)
		fail_msg("sierra.xml with 4 GPUs refused: %s", err);
	free(z);
}

/* hwloc 2.9 dies on these in its own XML import: the check reports the
 * crash, and this process (the controller, in real life) goes on. */
static void test_hwloc_crash_is_a_refusal(void **state)
{
	(void)state;
	static const char *const files[] = {
		"hwloc-segv-bitmap-compare-first",
		"hwloc-segv-bitmap-or",
		"hwloc-segv-bitmap-set",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		void *z = wire_form(PACER_REPRODUCER_DIR, files[i], &len);
		expect_refused(z, len, "the hwloc import crashed (signal");
		free(z);
	}
}

/* Refusals from topo_import itself come back word for word. */
static void test_import_reason_comes_back(void **state)
{
	(void)state;
	size_t len;
	void *z = wire_form(PACER_REPRODUCER_DIR, "topo-pu-without-os-index", &len);

	expect_refused(z, len, "PU L#2 has no os_index");
	free(z);
	expect_refused("not zlib at all", 15, "compressed topology is corrupt");
	z = wire_form(PACER_REPRODUCER_DIR, "heap-overflow-gpu_index_of-subtype-CUDA-name-cu.xml",
		      &len);
	char err[512] = "";
	if (topo_check_isolated(z, len, 0, err, sizeof(err)) < 0)
		fail_msg("the GPU-name reproducer refused: %s", err);
	free(z);
}

/* A helper that does not answer in time is killed, and that is a refusal;
 * one that cannot run is an error of the check, not of the topology. */
static void test_slow_or_missing_helper(void **state)
{
	(void)state;
	char dir[] = "/tmp/topocheck_test.XXXXXX", path[256], err[512] = "";
	const char *real = getenv("PACER_TOPOCHECK");
	char *saved = real ? strdup(real) : NULL;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/slow", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\nexec sleep 60\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	setenv("PACER_TOPOCHECK", path, 1);
	struct topo_check *c = topo_check_start("x", 1, 0, err, sizeof(err));
	assert_non_null(c);
	/* The caller's time limit is over at once: finish kills it. */
	errno = 0;
	assert_int_equal(topo_check_finish(c, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "took longer than"));
	unlink(path);

	setenv("PACER_TOPOCHECK", path, 1); /* gone now */
	errno = 0;
	assert_int_equal(topo_check_isolated("x", 1, 0, err, sizeof(err)), -1);
	assert_int_not_equal(errno, EINVAL);
	assert_non_null(strstr(err, "could not be run"));
	rmdir(dir);
	if (saved)
		setenv("PACER_TOPOCHECK", saved, 1);
	else
		unsetenv("PACER_TOPOCHECK");
	free(saved);
}

/* The asynchronous form: the descriptor turns readable when it is over. */
static void test_fd_says_when_done(void **state)
{
	(void)state;
	size_t len;
	void *z = wire_form(PACER_REPRODUCER_DIR, "hwloc-segv-bitmap-or", &len);
	char err[512] = "";
	struct topo_check *c = topo_check_start(z, len, 0, err, sizeof(err));

	assert_non_null(c);
	struct pollfd p = { .fd = topo_check_fd(c), .events = POLLIN };
	assert_int_equal(poll(&p, 1, TOPO_CHECK_TIMEOUT_MS), 1);
	assert_int_equal(topo_check_finish(c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "crashed"));
	free(z);
}

/* A node daemon's emulated topology file, checked before hwloc loads it. */
static void test_file(void **state)
{
	(void)state;
	char path[1024], err[512] = "";

	snprintf(path, sizeof(path), "%s/corona.xml", PACER_TOPOLOGY_DIR);
	if (topo_check_file(path, 0, err, sizeof(err)) < 0)
		fail_msg("corona.xml refused: %s", err);
	snprintf(path, sizeof(path), "%s/hwloc-segv-bitmap-set", PACER_REPRODUCER_DIR);
	errno = 0;
	assert_int_equal(topo_check_file(path, 0, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "the hwloc import crashed (signal"));
	snprintf(path, sizeof(path), "%s/no-such-file.xml", PACER_REPRODUCER_DIR);
	assert_int_equal(topo_check_file(path, 0, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "cannot read"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_topology_passes),
		cmocka_unit_test(test_hwloc_crash_is_a_refusal),
		cmocka_unit_test(test_import_reason_comes_back),
		cmocka_unit_test(test_slow_or_missing_helper),
		cmocka_unit_test(test_fd_says_when_done),
		cmocka_unit_test(test_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
