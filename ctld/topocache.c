/* topocache.c - shared topology models (see topocache.h). */
#include "topocache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "topo.h"

struct entry {
	struct entry *next;
	struct topo *topo;
	uint32_t gpus;
	int refs;
	size_t len;
	unsigned char buf[]; /* the compressed XML it was loaded from */
};

static struct entry *entries;

struct topo *topocache_get(const void *buf, size_t len, uint32_t gpus, char *err, size_t errlen)
{
	for (struct entry *e = entries; e; e = e->next) {
		if (e->gpus == gpus && e->len == len && memcmp(e->buf, buf, len) == 0) {
			e->refs++;
			return e->topo;
		}
	}
	struct entry *e = malloc(sizeof(*e) + len);
	if (!e)
		return NULL;
	if (topo_import(buf, len, gpus, &e->topo, err, errlen) < 0) {
		int saved = errno;
		free(e);
		errno = saved;
		return NULL;
	}
	e->gpus = gpus;
	e->refs = 1;
	e->len = len;
	memcpy(e->buf, buf, len);
	e->next = entries;
	entries = e;
	return e->topo;
}

void topocache_put(struct topo *t)
{
	if (!t)
		return;
	for (struct entry **pp = &entries; *pp; pp = &(*pp)->next) {
		struct entry *e = *pp;
		if (e->topo != t)
			continue;
		if (--e->refs == 0) {
			*pp = e->next;
			topo_destroy(e->topo);
			free(e);
		}
		return;
	}
}

size_t topocache_count(void)
{
	size_t n = 0;
	for (const struct entry *e = entries; e; e = e->next)
		n++;
	return n;
}

void topocache_destroy(void)
{
	while (entries) {
		struct entry *e = entries;
		entries = e->next;
		topo_destroy(e->topo);
		free(e);
	}
}
