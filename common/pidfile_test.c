/* pidfile_test.c - the pid file holds the pid, and is replaced whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pidfile.h"

static long read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = -1;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	return pid;
}

/* An old file is replaced by a new inode holding the pid: a reader that
 * opened the old one never sees it emptied. */
static void test_write_replaces(void **state)
{
	(void)state;
	char dir[] = "/tmp/pidfile_test.XXXXXX", path[256];
	struct stat before, after;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.pid", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("12345\n", f);
	fclose(f);
	assert_int_equal(stat(path, &before), 0);
	assert_int_equal(pidfile_write(path), 0);
	assert_int_equal(stat(path, &after), 0);
	assert_int_not_equal(before.st_ino, after.st_ino);
	assert_int_equal(read_pid(path), (long)getpid());
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
}

static void test_write_fails_cleanly(void **state)
{
	(void)state;
	errno = 0;
	assert_int_equal(pidfile_write("/nonexistent-folder/d.pid"), -1);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_replaces),
		cmocka_unit_test(test_write_fails_cleanly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
