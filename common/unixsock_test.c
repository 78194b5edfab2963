/* unixsock_test.c - sockets at paths longer than sun_path work, and a stale
 * socket file is replaced while a live one is not. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unixsock.h"

/* A round trip of one byte between a listener and a connected client. */
static void round_trip(const char *path)
{
	int lis = unixsock_listen(path, 4);
	assert_true(lis >= 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0077, 0);
	int c = unixsock_connect(path);
	assert_true(c >= 0);
	int a = accept(lis, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(write(c, "x", 1), 1);
	char b = 0;
	assert_int_equal(read(a, &b, 1), 1);
	assert_int_equal(b, 'x');
	close(a);
	close(c);
	close(lis);
	assert_int_equal(unlink(path), 0);
}

static void test_short_path(void **state)
{
	(void)state;
	char dir[] = "/tmp/unixsock_test.XXXXXX", path[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	round_trip(path);
	assert_int_equal(rmdir(dir), 0);
}

/* A spool three times deeper than sun_path allows. */
static void test_long_path(void **state)
{
	(void)state;
	char dir[] = "/tmp/unixsock_test.XXXXXX", deep[1024], path[1100];
	assert_non_null(mkdtemp(dir));
	snprintf(deep, sizeof(deep), "%s", dir);
	for (int i = 0; i < 6; i++) {
		size_t n = strlen(deep);
		snprintf(deep + n, sizeof(deep) - n, "/%s",
			 "a-rather-long-folder-name-for-a-spool-dir");
		assert_int_equal(mkdir(deep, 0700), 0);
	}
	snprintf(path, sizeof(path), "%s/job-1.sock", deep);
	assert_true(strlen(path) > 200);
	round_trip(path);
	/* Nothing there: ENOENT, as for a short path. */
	errno = 0;
	assert_int_equal(unixsock_connect(path), -1);
	assert_int_equal(errno, ENOENT);
	while (strcmp(deep, dir) != 0) {
		assert_int_equal(rmdir(deep), 0);
		*strrchr(deep, '/') = '\0';
	}
	assert_int_equal(rmdir(dir), 0);
}

static void test_stale_and_live(void **state)
{
	(void)state;
	char dir[] = "/tmp/unixsock_test.XXXXXX", path[256];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	int lis = unixsock_listen(path, 4);
	assert_true(lis >= 0);
	/* Someone listens: a second listener must not steal the name. */
	errno = 0;
	assert_int_equal(unixsock_listen(path, 4), -1);
	assert_int_equal(errno, EADDRINUSE);
	close(lis);
	/* The listener died and left its file: refused, then replaced. */
	errno = 0;
	assert_int_equal(unixsock_connect(path), -1);
	assert_int_equal(errno, ECONNREFUSED);
	lis = unixsock_listen(path, 4);
	assert_true(lis >= 0);
	close(lis);
	assert_int_equal(unlink(path), 0);
	/* A file that is not a socket is never removed. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	errno = 0;
	assert_int_equal(unixsock_listen(path, 4), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_path),
		cmocka_unit_test(test_long_path),
		cmocka_unit_test(test_stale_and_live),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
