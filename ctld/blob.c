/* blob.c - interned byte strings in one chained hash table. */
#include "blob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct blob **table;
static size_t nbuckets;
static size_t nblobs, nbytes;

/* FNV-1a: short keys, good spread, no state. */
static uint32_t hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static int grow(void)
{
	size_t n = nbuckets ? nbuckets * 2 : 1024;
	struct blob **t = calloc(n, sizeof(*t));
	if (!t)
		return -1;
	for (size_t i = 0; i < nbuckets; i++) {
		struct blob *b = table[i];
		while (b) {
			struct blob *next = b->next;
			b->next = t[b->hash & (n - 1)];
			t[b->hash & (n - 1)] = b;
			b = next;
		}
	}
	free(table);
	table = t;
	nbuckets = n;
	return 0;
}

struct blob *blob_get(const void *data, size_t len)
{
	uint32_t h = hash(data, len);
	if (nbuckets) {
		for (struct blob *b = table[h & (nbuckets - 1)]; b; b = b->next)
			if (b->hash == h && b->len == len && memcmp(b->data, data, len) == 0)
				return blob_ref(b);
	}
	if (nblobs >= nbuckets && grow() < 0)
		return NULL;
	struct blob *b = malloc(sizeof(*b) + len + 1);
	if (!b)
		return NULL;
	b->refs = 1;
	b->hash = h;
	b->len = len;
	if (len)
		memcpy(b->data, data, len);
	b->data[len] = '\0';
	b->next = table[h & (nbuckets - 1)];
	table[h & (nbuckets - 1)] = b;
	nblobs++;
	nbytes += len;
	return b;
}

struct blob *blob_str(const char *s)
{
	return blob_get(s ? s : "", s ? strlen(s) : 0);
}

struct blob *blob_ref(struct blob *b)
{
	b->refs++;
	return b;
}

void blob_put(struct blob *b)
{
	if (!b || --b->refs > 0)
		return;
	struct blob **pp = &table[b->hash & (nbuckets - 1)];
	while (*pp != b)
		pp = &(*pp)->next;
	*pp = b->next;
	nblobs--;
	nbytes -= b->len;
	free(b);
}

struct blob *blob_strv(char *const *v, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	char *buf = malloc(len ? len : 1);
	if (!buf)
		return NULL;
	char *p = buf;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]) + 1;
		memcpy(p, v[i], l);
		p += l;
	}
	struct blob *b = blob_get(buf, len);
	free(buf);
	return b;
}

int blob_strv_split(const struct blob *b, char ***vp, size_t *np)
{
	size_t n = 0;
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] == '\0')
			n++;
	char **v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -1;
	const char *p = b->data;
	for (size_t i = 0; i < n; i++) {
		v[i] = (char *)p;
		p += strlen(p) + 1;
	}
	*vp = v;
	*np = n;
	return 0;
}

void blob_stats(size_t *count, size_t *bytes)
{
	*count = nblobs;
	*bytes = nbytes;
}
