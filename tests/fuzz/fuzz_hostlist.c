/* fuzz_hostlist.c - hostlist expressions (--nodelist, --exclude, pacer.conf
 * names): decode, then the compressed form must decode to the same names,
 * and compressing is stable. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hostlist.h"

/* Lists up to this long are checked: a million names (HOSTLIST_MAX) take
 * seconds to sort and re-encode, which would make the fuzzer spend its
 * time on the few inputs that expand most. */
#define CHECK_MAX 20000

/* Names looked up at each end of a list. */
#define FIND_CHECKS 32

/* A and B hold the same names in the same order. */
static void check_same(const struct hostlist *a, const struct hostlist *b, const char *enc)
{
	size_t n = hostlist_count(a);

	FUZZ_CHECK(hostlist_count(b) == n, "\"%s\" decodes to %zu names, not %zu", enc,
		   hostlist_count(b), n);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(strcmp(hostlist_nth(a, i), hostlist_nth(b, i)) == 0,
			   "name %zu is \"%s\" but \"%s\" decodes it as \"%s\"", i,
			   hostlist_nth(a, i), enc, hostlist_nth(b, i));
}

/* HL's compressed form decodes back to HL, and compresses the same again. */
static void check_round_trip(const struct hostlist *hl)
{
	char *enc = hostlist_encode_alloc(hl);
	FUZZ_CHECK(enc != NULL, "encode failed: %s", strerror(errno));
	FUZZ_CHECK((size_t)hostlist_encode(hl, NULL, 0) == strlen(enc),
		   "snprintf-style length differs for \"%s\"", enc);
	struct hostlist *back = hostlist_decode(enc);
	FUZZ_CHECK(back != NULL || hostlist_count(hl) == 0,
		   "\"%s\" (from %zu names) does not decode: %s", enc, hostlist_count(hl),
		   strerror(errno));
	if (back) {
		check_same(hl, back, enc);
		char *again = hostlist_encode_alloc(back);
		FUZZ_CHECK(again && strcmp(again, enc) == 0, "\"%s\" encodes again as \"%s\"", enc,
			   again ? again : "(null)");
		free(again);
		hostlist_destroy(back);
	}
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *expr = fuzz_cstr(data, size);
	struct hostlist *hl = hostlist_decode(expr);

	if (!hl) {
		FUZZ_CHECK(errno == EINVAL || errno == E2BIG || errno == ENOMEM,
			   "refused with errno %d", errno);
		free(expr);
		return 0;
	}
	size_t n = hostlist_count(hl);
	FUZZ_CHECK(n <= HOSTLIST_MAX, "%zu names, the cap is %d", n, HOSTLIST_MAX);
	if (n > CHECK_MAX) {
		hostlist_destroy(hl);
		free(expr);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = hostlist_nth(hl, i);
		FUZZ_CHECK(name && *name && !strpbrk(name, "[],"), "name %zu is \"%s\"", i,
			   name ? name : "(null)");
		/* hostlist_find is a linear search: check a few, not all. */
		if (i >= FIND_CHECKS && i + FIND_CHECKS < n)
			continue;
		long at = hostlist_find(hl, name);
		FUZZ_CHECK(at >= 0 && (size_t)at <= i &&
			       strcmp(hostlist_nth(hl, (size_t)at), name) == 0,
			   "find(\"%s\") gives %ld, not at most %zu", name, at, i);
	}
	FUZZ_CHECK(hostlist_nth(hl, n) == NULL, "a name past the end");
	check_round_trip(hl);
	hostlist_uniq(hl);
	for (size_t i = 1; i < hostlist_count(hl); i++)
		FUZZ_CHECK(strcmp(hostlist_nth(hl, i - 1), hostlist_nth(hl, i)) != 0,
			   "\"%s\" twice after uniq", hostlist_nth(hl, i));
	check_round_trip(hl);
	hostlist_destroy(hl);
	free(expr);
	return 0;
}
