/* fuzz.h - what Pacer's fuzz targets share.
 *
 * Each target (fuzz_<name>.c) defines LLVMFuzzerTestOneInput and checks
 * the module's own promises with FUZZ_CHECK, which aborts: a broken
 * invariant is a finding just like a crash.  A target is linked either
 * with libFuzzer (PACER_FUZZ=ON, clang) or with replay_main.c, which runs
 * saved inputs through it as an ordinary test.  See docs/fuzzing.md.
 *
 * Inputs are never trusted to be NUL-terminated; state a target keeps
 * between inputs lives in its own temporary folder (fuzz_tmpdir).
 */
#ifndef PACER_FUZZ_H
#define PACER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Print where and why an invariant broke, then abort(). */
_Noreturn void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define FUZZ_CHECK(cond, ...)                                              \
	do {                                                               \
		if (!(cond))                                               \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

/* DATA as a C string (malloc'd; it ends at DATA's first NUL, as a C
 * caller would see it).  Aborts when out of memory. */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* A private folder for this process, made on first use under $TMPDIR and
 * removed at exit. */
const char *fuzz_tmpdir(void);

/* PATH := BUF[0..len), created or truncated.  Aborts on failure: the
 * target cannot test anything without its files. */
void fuzz_write_file(const char *path, const void *buf, size_t len);

/* Remove PATH and everything under it (no error if it is absent). */
void fuzz_rmtree(const char *path);

/* Send Pacer's log lines to /dev/null unless $PACER_FUZZ_LOG is set: a
 * fuzzer runs millions of inputs that are refused with a log line each. */
void fuzz_quiet_logs(void);

#endif
