/* conf_keys.h - every key of pacer.conf, in one table per section.
 *
 * Each key has its name, type, default, bounds and a one-line description.
 * The parser (conf.c) accepts exactly these keys and takes their defaults
 * and bounds from here; pacer-confdoc writes the KEYS section of
 * pacer.conf(5) from here, and a test checks that docs/configuration.md
 * names each key.  So a key added here is parsed and documented, or the
 * build says what is missing.  (Redis's config.c keeps its options the same
 * way.)
 */
#ifndef PACER_CONF_KEYS_H
#define PACER_CONF_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* The sections, in the order of conf_sections[]. */
enum conf_sect { CONF_SECT_CLUSTER, CONF_SECT_NODES, CONF_SECT_PARTITION, CONF_NSECTS };

enum conf_type {
	CONF_WORD,        /* letters, digits, '-', '_', '.' */
	CONF_CONTROLLERS, /* host[:port], comma-separated */
	CONF_PATH,        /* an absolute path */
	CONF_SPOOL,       /* an absolute path, %n = the node name */
	CONF_SECONDS,     /* 30, 30s, 5m, 1h; at least min */
	CONF_COUNT,       /* a whole number from min to max */
	CONF_SPAN,        /* a Slurm duration of at least a second, not UNLIMITED */
	CONF_TIMELIMIT,   /* a Slurm duration, UNLIMITED allowed */
	CONF_BOOL,        /* yes, no, true, false */
	CONF_NAME,        /* one name (a user, a plugin) */
	CONF_CHOICE,      /* one of choices */
	CONF_USERS,       /* user names, comma-separated */
	CONF_GROUPS,      /* group names, comma-separated */
	CONF_HOSTLIST,    /* node[01-04],login1 */
	CONF_ADDRESS,     /* a host, a hostlist as long as names, or one IPv6 address */
	CONF_PORTS,       /* a port, or a range A-B as long as names */
	CONF_SIZE,        /* 512 (MiB), 64G, 1T */
	CONF_TOPOLOGY,    /* an hwloc XML file or synthetic description */
	CONF_FEATURES,    /* words, comma-separated */
};

/* field: the key's value lives in struct conf ([cluster]) or struct
 * conf_partition ([partition:NAME]) at this offset, and conf.c sets it from
 * the table alone; CONF_NO_FIELD: conf.c handles the key itself (it still
 * takes the key's default and bounds from here). */
#define CONF_NO_FIELD ((size_t)-1)

struct conf_key {
	const char *name;
	enum conf_type type;
	const char *def;     /* the default, written as in the file; NULL: see def_doc */
	const char *def_doc; /* the default in words when there is no value to write */
	/* Bounds of CONF_COUNT; CONF_SECONDS has min only; the max of [nodes:]
	 * names caps the nodes of all groups together. */
	uint32_t min, max;
	const char *const *choices; /* CONF_CHOICE: the accepted words, NULL-terminated */
	size_t field;
	const char *doc; /* one line for the documentation */
};

struct conf_section_def {
	const char *title; /* "cluster", "nodes:GROUP", "partition:NAME" */
	const char *doc;   /* one line */
	const struct conf_key *keys;
	size_t nkeys;
};

extern const struct conf_section_def conf_sections[CONF_NSECTS];

/* The key NAME of section SECT, or NULL. */
const struct conf_key *conf_key_find(enum conf_sect sect, const char *name);

/* How a type is written, for the documentation: "seconds", "hostlist"... */
const char *conf_type_name(enum conf_type type);

#endif
