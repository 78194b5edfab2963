/* fuzz_arrayspec.c - --array values: what parses is sorted, unique, within
 * the limits, and the plain list of its indexes parses to the same. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrayspec.h"
#include "fuzz.h"

/* Spelled lists are checked up to this many tasks: parsing one is linear,
 * but quadratic under ASan's strict_string_checks (each strspn checks the
 * whole rest of the string), which contrib/run-tests turns on. */
#define SPELL_MAX 4096

/* The indexes as "1,3,5%N": another spelling of the same array. */
static char *spell(const uint32_t *idx, size_t n, uint32_t max_running)
{
	size_t cap = n * 11 + 16, len = 0;
	char *s = malloc(cap);

	FUZZ_CHECK(s != NULL, "out of memory");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%u", i ? "," : "", idx[i]);
	if (max_running)
		snprintf(s + len, cap - len, "%%%u", max_running);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	char err[512] = "";
	uint32_t *idx, max_running;
	size_t n;

	if (arrayspec_parse(s, &idx, &n, &max_running, err, sizeof(err)) < 0) {
		FUZZ_CHECK((errno == EINVAL || errno == ENOMEM) && err[0],
			   "refused with errno %d and message \"%s\"", errno, err);
		free(s);
		return 0;
	}
	FUZZ_CHECK(n >= 1 && n <= ARRAYSPEC_MAX_TASKS, "%zu tasks", n);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(idx[i] <= ARRAYSPEC_MAX_INDEX, "index %u", idx[i]);
		FUZZ_CHECK(i == 0 || idx[i - 1] < idx[i], "indexes %u then %u", idx[i - 1], idx[i]);
	}
	if (n > SPELL_MAX) {
		free(idx);
		free(s);
		return 0;
	}
	char *again = spell(idx, n, max_running);
	uint32_t *idx2, max2;
	size_t n2;
	FUZZ_CHECK(arrayspec_parse(again, &idx2, &n2, &max2, err, sizeof(err)) == 0,
		   "the indexes of \"%s\" as a list are refused: %s", s, err);
	FUZZ_CHECK(n2 == n && max2 == max_running && memcmp(idx, idx2, n * sizeof(*idx)) == 0,
		   "\"%s\" and its list of indexes differ", s);
	free(idx2);
	free(again);
	free(idx);
	free(s);
	return 0;
}
