/* select.c - the registry of select plugins. */
#include <string.h>

#include "select.h"

extern const struct select_ops select_cores;

static const struct select_ops *const plugins[] = { &select_cores };

const struct select_ops *select_find(const char *name)
{
	for (size_t i = 0; i < sizeof(plugins) / sizeof(plugins[0]); i++)
		if (strcmp(plugins[i]->name, name) == 0)
			return plugins[i];
	return NULL;
}

const char *select_names(void)
{
	return "cores";
}
