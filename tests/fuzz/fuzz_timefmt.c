/* fuzz_timefmt.c - durations as users type them (-t, pacer.conf times),
 * both ways: what parses formats to a string that parses to the same
 * seconds; and any number of seconds formats and parses back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "timefmt.h"

/* Format SECONDS and parse it back. */
static void check_format(uint32_t seconds)
{
	char buf[64], err[256];
	uint32_t back;
	int len = timefmt_duration(seconds, buf, sizeof(buf));

	FUZZ_CHECK(len > 0 && (size_t)len < sizeof(buf) && strlen(buf) == (size_t)len,
		   "%u formats to %d bytes", seconds, len);
	FUZZ_CHECK(timefmt_duration(seconds, NULL, 0) == len, "snprintf-style length differs");
	FUZZ_CHECK(timefmt_parse_duration(buf, &back, err, sizeof(err)) == 0,
		   "%u formats as \"%s\", which is refused: %s", seconds, buf, err);
	FUZZ_CHECK(back == seconds, "%u formats as \"%s\", which parses as %u", seconds, buf, back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	char err[256] = "";
	uint32_t seconds;

	if (timefmt_parse_duration(s, &seconds, err, sizeof(err)) == 0)
		check_format(seconds);
	else
		FUZZ_CHECK((errno == EINVAL || errno == ERANGE) && err[0],
			   "refused with errno %d and message \"%s\"", errno, err);
	free(s);

	/* The same bytes as numbers: every duration formats, every
	 * timestamp gives a date or N/A. */
	if (size >= 4) {
		uint32_t v;
		memcpy(&v, data, sizeof(v));
		check_format(v);
	}
	if (size >= 8) {
		int64_t t;
		char buf[64];
		memcpy(&t, data, sizeof(t));
		int len = timefmt_timestamp(t, buf, sizeof(buf));
		FUZZ_CHECK(len > 0 && (size_t)len < sizeof(buf) && strlen(buf) == (size_t)len,
			   "timestamp %lld formats to %d bytes", (long long)t, len);
	}
	return 0;
}
