/* fuzz_depspec.c - --dependency values: what parses is within the limits,
 * and its terms spelled one job id each parse to the same terms. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "depspec.h"
#include "fuzz.h"

static const char *const type_word[] = { "after", "afterany", "afterok", "afternotok" };

/* The terms as "type:id,type:id_task,singleton" (or '?'-joined). */
static char *spell(const struct depspec_term *t, uint16_t n, bool any, bool singleton)
{
	size_t cap = (size_t)n * 40 + 16, len = 0;
	char *s = malloc(cap);
	const char *sep = any ? "?" : ",";

	FUZZ_CHECK(s != NULL, "out of memory");
	s[0] = '\0';
	for (uint16_t i = 0; i < n; i++) {
		len += (size_t)snprintf(s + len, cap - len, "%s%s:%u", i ? sep : "",
					type_word[t[i].type], t[i].job);
		if (t[i].task)
			len += (size_t)snprintf(s + len, cap - len, "_%u", t[i].task_id);
	}
	if (singleton)
		snprintf(s + len, cap - len, "%ssingleton", n ? sep : "");
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	char why[512] = "";
	struct depspec_term *t;
	uint16_t n;
	bool any, singleton;

	if (depspec_parse(s, &t, &n, &any, &singleton, why, sizeof(why)) < 0) {
		FUZZ_CHECK((errno == EINVAL || errno == ENOMEM) && why[0],
			   "refused with errno %d and message \"%s\"", errno, why);
		free(s);
		return 0;
	}
	FUZZ_CHECK(n <= DEPSPEC_MAX_JOBS && (n > 0 || singleton) && (t != NULL) == (n > 0),
		   "%u terms (singleton %d)", n, singleton);
	for (uint16_t i = 0; i < n; i++)
		FUZZ_CHECK(t[i].type <= DEPSPEC_AFTERNOTOK && t[i].job != 0,
			   "term %u: type %u job %u", i, t[i].type, t[i].job);

	char *again = spell(t, n, any, singleton);
	struct depspec_term *t2;
	uint16_t n2;
	bool any2, single2;
	FUZZ_CHECK(depspec_parse(again, &t2, &n2, &any2, &single2, why, sizeof(why)) == 0,
		   "\"%s\" spelled \"%s\" is refused: %s", s, again, why);
	FUZZ_CHECK(n2 == n && single2 == singleton, "\"%s\" and \"%s\" differ", s, again);
	/* One term alone cannot say whether it was ','- or '?'-joined. */
	if (n + singleton > 1)
		FUZZ_CHECK(any2 == any, "\"%s\" and \"%s\" differ in ',' and '?'", s, again);
	for (uint16_t i = 0; i < n; i++)
		FUZZ_CHECK(t[i].type == t2[i].type && t[i].task == t2[i].task &&
			       t[i].job == t2[i].job &&
			       (!t[i].task || t[i].task_id == t2[i].task_id),
			   "term %u of \"%s\" differs in \"%s\"", i, s, again);
	free(t2);
	free(again);
	free(t);
	free(s);
	return 0;
}
