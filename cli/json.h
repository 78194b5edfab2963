/* json.h - a tiny streaming JSON writer for the CLI's --json output.
 *
 * Commas, colons and indentation are placed by the writer, so callers only
 * say what comes next.  Strings are escaped as RFC 8259 asks and any byte
 * sequence that is not valid UTF-8 becomes U+FFFD, so the output is always
 * valid JSON whatever a job name holds.
 */
#ifndef PACER_CLI_JSON_H
#define PACER_CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json {
	FILE *out;
	bool pretty; /* two-space indentation, one member per line */
	int depth;
	bool first[JSON_MAX_DEPTH]; /* nothing written yet at this level */
	bool after_key;             /* a key was written: the value follows directly */
};

/* Start writing to OUT. */
void json_init(struct json *j, FILE *out, bool pretty);

/* Containers.  Nesting past JSON_MAX_DEPTH is a caller bug: memory stays
 * safe but the output is then not valid JSON (Pacer's deepest shape, a
 * node's layout, nests 7 deep). */
void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);

/* The key of the next object member. */
void json_key(struct json *j, const char *key);

/* Values.  A NULL string is written as "". */
void json_string(struct json *j, const char *s);
void json_string_len(struct json *j, const char *s, size_t len);
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* A key and its value in one call. */
void json_member_string(struct json *j, const char *key, const char *s);
void json_member_int(struct json *j, const char *key, int64_t v);
void json_member_uint(struct json *j, const char *key, uint64_t v);
void json_member_bool(struct json *j, const char *key, bool v);

/* Pacer's null convention (docs/json.md): a value that is not set, not
 * known, not reached yet or unlimited is null, never 0, -1, UINT32_MAX or
 * "".  These write null unless the value is there. */

/* S, or null when S is NULL or empty. */
void json_member_string_or_null(struct json *j, const char *key, const char *s);

/* V, or null when not KNOWN. */
void json_member_int_or_null(struct json *j, const char *key, int64_t v, bool known);
void json_member_uint_or_null(struct json *j, const char *key, uint64_t v, bool known);

/* A time in unix seconds, or null when T is 0 (it has not happened). */
void json_member_time(struct json *j, const char *key, int64_t t);

/* Write S (LEN bytes) as a quoted, escaped JSON string to OUT. */
void json_write_string(FILE *out, const char *s, size_t len);

#endif
