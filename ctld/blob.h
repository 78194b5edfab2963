/* blob.h - interned, reference-counted byte strings.
 *
 * Thousands of jobs share a script, an environment, a working directory or
 * a user name.  The controller keeps one copy of each distinct value, which
 * is most of why a pending job costs well under a kilobyte.
 */
#ifndef PACER_BLOB_H
#define PACER_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct blob {
	struct blob *next; /* hash chain */
	uint32_t refs;
	uint32_t hash;
	size_t len; /* bytes in data, not counting the NUL added after */
	char data[];
};

/* A reference to the interned copy of DATA (LEN bytes; a NUL is kept after
 * it so string blobs can be used as C strings).  NULL with ENOMEM. */
struct blob *blob_get(const void *data, size_t len);

/* blob_get for a C string; NULL and "" both give the shared empty blob. */
struct blob *blob_str(const char *s);

/* Another reference to B. */
struct blob *blob_ref(struct blob *b);

/* Drop a reference; the last one frees it.  NULL is ignored. */
void blob_put(struct blob *b);

/* Pack a string list as NUL-terminated strings one after another. */
struct blob *blob_strv(char *const *v, size_t n);

/* Unpack a blob_strv blob into a malloc'd array of N pointers into the blob
 * (not NUL-terminated as an array).  0 or -1 with errno. */
int blob_strv_split(const struct blob *b, char ***vp, size_t *np);

/* Distinct blobs and bytes held, for statistics. */
void blob_stats(size_t *count, size_t *bytes);

#endif
