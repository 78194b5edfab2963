/* fileio_test.c - a file is replaced whole, or left as it was. */
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

#include "fileio.h"

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void test_replace(void **state)
{
	(void)state;
	char dir[] = "/tmp/fileio_test.XXXXXX", path[256], tmp[256], got[64];
	struct stat st, now;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	snprintf(tmp, sizeof(tmp), "%s/f.tmp", dir);
	assert_int_equal(file_replace(path, tmp, "old\n", 4, 0600, NULL), 0);
	assert_int_equal(file_replace(path, tmp, "new\n", 4, 0600, &st), 0);
	slurp(path, got, sizeof(got));
	assert_string_equal(got, "new\n");
	assert_int_equal(stat(path, &now), 0);
	assert_int_equal(now.st_ino, st.st_ino);
	assert_int_equal(now.st_size, 4);
	assert_int_equal(now.st_mode & 0777, 0600);
	assert_int_equal(access(tmp, F_OK), -1);

	/* An empty file is a file too. */
	assert_int_equal(file_replace(path, tmp, NULL, 0, 0600, NULL), 0);
	slurp(path, got, sizeof(got));
	assert_string_equal(got, "");

	/* A symlink where the temporary file goes is refused, PATH kept. */
	assert_int_equal(file_replace(path, tmp, "x\n", 2, 0600, NULL), 0);
	assert_int_equal(symlink(path, tmp), 0);
	errno = 0;
	assert_int_equal(file_replace(path, tmp, "y\n", 2, 0600, NULL), -1);
	assert_int_equal(errno, ELOOP);
	slurp(path, got, sizeof(got));
	assert_string_equal(got, "x\n");
	unlink(tmp);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_write_all(void **state)
{
	(void)state;
	int p[2];
	char got[8] = "";

	assert_int_equal(pipe(p), 0);
	assert_int_equal(fd_write_all(p[1], "abc", 3), 0);
	close(p[1]);
	assert_int_equal(read(p[0], got, sizeof(got)), 3);
	assert_string_equal(got, "abc");
	close(p[0]);
	errno = 0;
	assert_int_equal(fd_write_all(-1, "abc", 3), -1);
	assert_int_equal(errno, EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_write_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
