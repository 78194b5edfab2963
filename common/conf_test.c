/* conf_test.c - unit tests for conf.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "conf_keys.h"
#include "timefmt.h"

static char dir[256];
static char path[300];

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/conf_test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/pacer.conf", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void write_file(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static struct conf *load_ok(const char *text)
{
	struct conf *c = NULL;
	char err[1024] = "";

	write_file(text, strlen(text));
	if (conf_load(path, &c, err, sizeof(err)) < 0)
		fail_msg("unexpected error: %s", err);
	assert_non_null(c);
	assert_string_equal(err, "");
	return c;
}

/* Load TEXT and expect the error "PATH" + SUFFIX, e.g. ":3: unknown ...". */
static void expect_err_len(const char *text, size_t len, const char *suffix)
{
	struct conf *c = NULL;
	char err[1024] = "", want[1024];

	write_file(text, len);
	snprintf(want, sizeof(want), "%s%s", path, suffix);
	errno = 0;
	assert_int_equal(conf_load(path, &c, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(c);
	assert_string_equal(err, want);
}

static void expect_err(const char *text, const char *suffix)
{
	expect_err_len(text, strlen(text), suffix);
}

/* Lines 1-3 and 4-5 of most test files. */
#define CLUSTER "[cluster]\nname = t\ncontrollers = ctl1\n"
#define NODES   "[nodes:c]\nnames = n[1-4]\n"

#define FORMATS "(formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)"

#define CLUSTER_KEYS                                                                     \
	"name, controllers, state_dir, spool_dir, munge_socket, heartbeat_interval, "    \
	"node_timeout, min_job_age, kill_wait, snapshot_interval, admins, daemon_user, " \
	"select, log_level, confine, priority_weight_age, priority_weight_size, "        \
	"priority_weight_partition, priority_max_age, backfill, backfill_reservations, " \
	"backfill_window, sched_max_jobs"

static const char good[] = "# A cluster with two node groups.\n" /* 1 */
			   "[cluster]\n"
			   "name = alpha\n"
			   "controllers = ctl1:7000, [::1]\n"
			   "state_dir = /srv/pacer/state\n" /* 5 */
			   "spool_dir = /srv/spool/%n\n"
			   "munge_socket = /run/munge/alt.socket\n"
			   "heartbeat_interval = 2s\n"
			   "node_timeout = 1m\n"
			   "min_job_age = 1h\n" /* 10 */
			   "kill_wait = 10\n"
			   "snapshot_interval = 500\n"
			   "admins = alice, bob\n"
			   "daemon_user = pacer\n"
			   "select = linear\n" /* 15 */
			   "log_level = debug\n"
			   "\n"
			   "; the partitions come before the nodes they name\n"
			   "[partition:debug]\n"
			   "nodes = gpu[1-2],cn02\n" /* 20 */
			   "max_time = 30\n"
			   "max_nodes = 2\n"
			   "priority = 10\n"
			   "\n"
			   "[partition:long]\n" /* 25 */
			   "  default = YES\n"
			   "  default_time = 1-00:00:00\n"
			   "  max_time = 7-00:00:00\n"
			   "\n"
			   "[nodes:cpu]\n" /* 30 */
			   "port = 7001-7004\n"
			   "address = 127.0.0.1\n"
			   "names = cn[01-04]\n"
			   "cpus = 8\n"
			   "memory = 16G\n" /* 35 */
			   "\n"
			   "[nodes:gpu]\n"
			   "names = gpu[1-2]\n"
			   "address = 10.0.0.[11-12]   ; one address each\n"
			   "spool_dir = /local/%n/%%spool\n"; /* 40 */

static void test_good_file(void **state)
{
	struct conf *c;
	const struct conf_partition *part;

	(void)state;
	c = load_ok(good);
	assert_string_equal(c->path, path);
	assert_string_equal(c->cluster, "alpha");
	assert_int_equal(c->ncontrollers, 2);
	assert_string_equal(c->controllers[0].host, "ctl1");
	assert_int_equal(c->controllers[0].port, 7000);
	assert_string_equal(c->controllers[1].host, "::1");
	assert_int_equal(c->controllers[1].port, 6817);
	assert_string_equal(c->state_dir, "/srv/pacer/state");
	assert_string_equal(c->munge_socket, "/run/munge/alt.socket");
	assert_int_equal(c->heartbeat_interval, 2);
	assert_int_equal(c->node_timeout, 60);
	assert_int_equal(c->min_job_age, 3600);
	assert_int_equal(c->kill_wait, 10);
	assert_int_equal(c->snapshot_interval, 500);
	assert_int_equal(c->nadmins, 2);
	assert_string_equal(c->admins[0], "alice");
	assert_string_equal(c->admins[1], "bob");
	assert_string_equal(c->daemon_user, "pacer");
	assert_string_equal(c->select, "linear");
	assert_string_equal(c->log_level, "debug");

	assert_int_equal(c->nnodes, 6);
	assert_string_equal(c->nodes[0].name, "cn01");
	assert_string_equal(c->nodes[0].address, "127.0.0.1");
	assert_int_equal(c->nodes[0].port, 7001);
	assert_int_equal(c->nodes[0].cpus, 8);
	assert_int_equal(c->nodes[0].mem_mb, 16384);
	assert_string_equal(c->nodes[0].spool_dir, "/srv/spool/cn01");
	assert_string_equal(c->nodes[3].name, "cn04");
	assert_string_equal(c->nodes[3].address, "127.0.0.1");
	assert_int_equal(c->nodes[3].port, 7004);
	assert_string_equal(c->nodes[3].spool_dir, "/srv/spool/cn04");
	assert_string_equal(c->nodes[4].name, "gpu1");
	assert_string_equal(c->nodes[4].address, "10.0.0.11");
	assert_int_equal(c->nodes[4].port, 6818);
	assert_int_equal(c->nodes[4].cpus, 0);
	assert_int_equal(c->nodes[4].mem_mb, 0);
	assert_string_equal(c->nodes[4].spool_dir, "/local/gpu1/%spool");
	assert_string_equal(c->nodes[5].address, "10.0.0.12");
	assert_int_equal(c->nodes[5].port, 6818);

	assert_int_equal(c->npartitions, 2);
	part = &c->partitions[0];
	assert_string_equal(part->name, "debug");
	assert_false(part->is_default);
	assert_int_equal(part->max_time, 1800);
	assert_int_equal(part->default_time, 1800);
	assert_int_equal(part->max_nodes, 2);
	assert_int_equal(part->priority, 10);
	assert_int_equal(part->nnodes, 3);
	assert_int_equal(part->nodes[0], 4);
	assert_int_equal(part->nodes[1], 5);
	assert_int_equal(part->nodes[2], 1);
	part = &c->partitions[1];
	assert_string_equal(part->name, "long");
	assert_true(part->is_default);
	assert_int_equal(part->default_time, 86400);
	assert_int_equal(part->max_time, 7 * 86400);
	assert_int_equal(part->max_nodes, 0);
	assert_int_equal(part->priority, 0);
	assert_int_equal(part->nnodes, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(part->nodes[i], i);

	assert_ptr_equal(conf_partition_find(c, NULL), &c->partitions[1]);
	assert_ptr_equal(conf_partition_find(c, ""), &c->partitions[1]);
	assert_ptr_equal(conf_partition_find(c, "debug"), &c->partitions[0]);
	assert_null(conf_partition_find(c, "nope"));
	assert_int_equal(conf_node_index(c, "gpu2"), 5);
	assert_int_equal(conf_node_index(c, "gpu3"), -1);
	assert_ptr_equal(conf_node_find(c, "cn02"), &c->nodes[1]);
	assert_null(conf_node_find(c, "cn2"));
	assert_true(conf_is_admin(c, "root"));
	assert_true(conf_is_admin(c, "bob"));
	assert_false(conf_is_admin(c, "mallory"));
	assert_false(conf_is_admin(c, NULL));
	conf_destroy(c);
}

static void test_defaults(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok("\xEF\xBB\xBF[cluster]\nname = t\ncontrollers = ctl1,ctl2:7000\n"
		    "[nodes:c]\nnames = n[1-2]\nport = 7001-7002\n");
	assert_int_equal(c->ncontrollers, 2);
	assert_string_equal(c->controllers[0].host, "ctl1");
	assert_int_equal(c->controllers[0].port, CONF_DEFAULT_PORT);
	assert_string_equal(c->controllers[1].host, "ctl2");
	assert_int_equal(c->controllers[1].port, 7000);
	assert_string_equal(c->state_dir, "/var/lib/pacer");
	assert_null(c->munge_socket);
	assert_int_equal(c->heartbeat_interval, 5);
	assert_int_equal(c->node_timeout, 30);
	assert_int_equal(c->min_job_age, 600);
	assert_int_equal(c->kill_wait, 30);
	assert_int_equal(c->snapshot_interval, 10000);
	assert_int_equal(c->nadmins, 0);
	assert_string_equal(c->daemon_user, "root");
	assert_string_equal(c->select, "topology");
	assert_string_equal(c->log_level, "info");
	assert_string_equal(c->confine, "auto");
	assert_int_equal(c->priority_weight_age, 1000);
	assert_int_equal(c->priority_weight_size, 1000);
	assert_int_equal(c->priority_weight_partition, 10000);
	assert_int_equal(c->priority_max_age, 7 * 86400);
	assert_true(c->backfill);
	assert_int_equal(c->backfill_reservations, 1);
	assert_int_equal(c->backfill_window, 86400);
	assert_int_equal(c->sched_max_jobs, 10000);
	assert_int_equal(c->nfeatures, 0);
	assert_null(c->features);
	assert_null(c->nodes[0].topology);
	assert_int_equal(c->nodes[0].gpus, 0);
	assert_int_equal(c->nodes[0].feature_mask, 0);
	assert_int_equal(c->partitions[0].nallow_users, 0);
	assert_int_equal(c->partitions[0].nallow_groups, 0);
	assert_int_equal(conf_feature_index(c, "gpu"), -1);
	assert_int_equal(c->nnodes, 2);
	assert_string_equal(c->nodes[1].name, "n2");
	assert_string_equal(c->nodes[1].address, "n2");
	assert_int_equal(c->nodes[1].port, 7002);
	assert_string_equal(c->nodes[1].spool_dir, "/var/spool/pacer/n2");
	assert_int_equal(c->npartitions, 1);
	assert_string_equal(c->partitions[0].name, "batch");
	assert_true(c->partitions[0].is_default);
	assert_int_equal(c->partitions[0].default_time, TIMEFMT_UNLIMITED);
	assert_int_equal(c->partitions[0].max_time, TIMEFMT_UNLIMITED);
	assert_int_equal(c->partitions[0].nnodes, 2);
	assert_int_equal(c->partitions[0].nodes[0], 0);
	assert_int_equal(c->partitions[0].nodes[1], 1);
	assert_false(conf_is_admin(c, "alice"));
	assert_true(conf_is_admin(c, "root"));
	conf_destroy(c);
}

/* Every default of the key tables, written in the file, is accepted: the
 * documented default is a value the parser takes. */
static void test_table_defaults(void **state)
{
	/* Each section with what it needs; the key goes at the end of its own. */
	static const char *const minimal[CONF_NSECTS] = { CLUSTER, "[nodes:c]\nnames = n[1-2]\n",
							  "[partition:p]\n" };
	char text[1024];

	(void)state;
	for (int sect = 0; sect < CONF_NSECTS; sect++) {
		for (size_t i = 0; i < conf_sections[sect].nkeys; i++) {
			const struct conf_key *k = &conf_sections[sect].keys[i];
			struct conf *c;
			size_t n = 0;

			if (!k->def)
				continue;
			for (int other = 0; other < CONF_NSECTS; other++) {
				n += (size_t)snprintf(text + n, sizeof(text) - n, "%s",
						      minimal[other]);
				if (other == sect)
					n += (size_t)snprintf(text + n, sizeof(text) - n,
							      "%s = %s\n", k->name, k->def);
			}
			assert_true(n < sizeof(text));
			c = load_ok(text);
			conf_destroy(c);
		}
	}
}

static void test_first_partition_default(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok(CLUSTER NODES "[partition:a]\nnodes = n[1-2],n1\n[partition:b]\n"
				  "max_time = 1:00:00\ndefault = no\n");
	assert_int_equal(c->npartitions, 2);
	assert_true(c->partitions[0].is_default);
	assert_false(c->partitions[1].is_default);
	/* A node listed twice counts once. */
	assert_int_equal(c->partitions[0].nnodes, 2);
	assert_int_equal(c->partitions[1].nnodes, 4);
	assert_int_equal(c->partitions[1].default_time, 3600);
	assert_ptr_equal(conf_partition_find(c, NULL), &c->partitions[0]);
	conf_destroy(c);
}

static void test_ipv6_and_shared_address(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok("[cluster]\nname = t\ncontrollers = [fe80::1]:7000,[::1]\n"
		    "[nodes:a]\nnames = a[1-2]\naddress = [::1]\nport = 7001-7002\n"
		    "[nodes:b]\nnames = b1\naddress = ::1\nport = 7003\n");
	assert_string_equal(c->controllers[0].host, "fe80::1");
	assert_int_equal(c->controllers[0].port, 7000);
	assert_string_equal(c->controllers[1].host, "::1");
	assert_int_equal(c->controllers[1].port, 6817);
	assert_string_equal(c->nodes[0].address, "::1");
	assert_string_equal(c->nodes[2].address, "::1");
	assert_int_equal(c->nodes[2].port, 7003);
	conf_destroy(c);
}

static void test_open_errors(void **state)
{
	struct conf *c = NULL;
	char err[512], want[600];

	(void)state;
	unlink(path);
	errno = 0;
	assert_int_equal(conf_load(path, &c, err, sizeof(err)), -1);
	assert_int_equal(errno, ENOENT);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	assert_string_equal(err, want);
	assert_null(c);

	errno = 0;
	assert_int_equal(conf_load(dir, &c, err, sizeof(err)), -1);
	assert_int_equal(errno, EISDIR);
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory", dir);
	assert_string_equal(err, want);

	/* No error buffer is fine too. */
	assert_int_equal(conf_load(path, &c, NULL, 0), -1);
	assert_int_equal(conf_load(NULL, &c, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(err, "no configuration file given");
}

static void test_syntax_errors(void **state)
{
	char line[400];

	(void)state;
	expect_err(CLUSTER NODES "just words\n",
		   ":6: cannot parse this line (expected [section], key = value or a comment)");
	expect_err("name = t\n" CLUSTER,
		   ":1: 'name' is outside any section (put it under [cluster], [nodes:GROUP] "
		   "or [partition:NAME])");
	expect_err(CLUSTER "[nodes:c\nnames = n1\n", ":4: section header has no closing ']'");
	expect_err(CLUSTER "[nodes:c] x\nnames = n1\n", ":4: unexpected text after ']'");
	expect_err_len(CLUSTER "state_dir = /a\0b\n", sizeof(CLUSTER "state_dir = /a") + 2,
		       ":4: line holds a NUL byte (is this a text file?)");
	memset(line, 'x', sizeof(line));
	memcpy(line, "state_dir = /", 13);
	snprintf(line + 250, sizeof(line) - 250, "\n");
	{
		char text[600];

		snprintf(text, sizeof(text), CLUSTER "%s" NODES, line);
		expect_err(text, ":4: line is longer than 199 characters (shorten it; hostlists "
				 "such as node[001-128] help)");
	}
	/* The first error wins, whichever kind it is. */
	expect_err(CLUSTER "bogus line\nnmae = x\n",
		   ":4: cannot parse this line (expected [section], key = value or a comment)");
	expect_err(CLUSTER "nmae = x\nbogus line\n",
		   ":4: unknown key 'nmae' in [cluster] (valid: " CLUSTER_KEYS ")");
}

static void test_section_errors(void **state)
{
	(void)state;
	expect_err(CLUSTER NODES "[bogus]\n",
		   ":6: unknown section [bogus] (valid: [cluster], [nodes:GROUP], "
		   "[partition:NAME])");
	expect_err(CLUSTER NODES "[cluster:x]\n",
		   ":6: unknown section [cluster:x] (valid: [cluster], [nodes:GROUP], "
		   "[partition:NAME])");
	expect_err(CLUSTER NODES "[nodes]\nnames = m1\n",
		   ":6: [nodes] needs a name after a colon, e.g. [nodes:compute]");
	expect_err(CLUSTER NODES "[partition: ]\n",
		   ":6: [partition] needs a name after a colon, e.g. [partition:batch]");
	expect_err(CLUSTER NODES "[partition:a b]\n",
		   ":6: bad partition name 'a b' (use letters, digits, '-', '_' and '.')");
	expect_err(CLUSTER NODES "[cluster]\nname = u\n",
		   ":6: [cluster] appears twice (first on line 1; merge the two)");
	expect_err(CLUSTER NODES "[partition:a]\n[partition:b]\n[ partition : a ]\n",
		   ":8: [partition:a] appears twice (first on line 6; merge the two)");
	expect_err(CLUSTER NODES "[nodes:c]\nnames = m1\n",
		   ":6: [nodes:c] appears twice (first on line 4; merge the two)");
}

static void test_key_errors(void **state)
{
	(void)state;
	expect_err(CLUSTER "nmae = x\n" NODES,
		   ":4: unknown key 'nmae' in [cluster] (valid: " CLUSTER_KEYS ")");
	expect_err(CLUSTER NODES "cores = 4\n",
		   ":6: unknown key 'cores' in [nodes:c] (valid: names, address, port, cpus, "
		   "memory, spool_dir, topology, gpus, features)");
	expect_err(CLUSTER NODES "[partition:p]\nnode = n1\n",
		   ":7: unknown key 'node' in [partition:p] (valid: nodes, default, "
		   "default_time, max_time, max_nodes, priority, allow_users, allow_groups)");
	expect_err(CLUSTER "name = u\n" NODES,
		   ":4: 'name' is set twice in [cluster] (first on line 2)");
	expect_err(CLUSTER "state_dir =\n" NODES,
		   ":4: 'state_dir' is empty (give a value or remove the line)");
	expect_err(CLUSTER "state_dir = ; a comment\n" NODES,
		   ":4: 'state_dir' is empty (give a value or remove the line)");
}

static void test_cluster_errors(void **state)
{
	(void)state;
	expect_err(NODES, ": no [cluster] section (add one with name = mycluster and "
			  "controllers = ctl1:6817)");
	expect_err("[cluster]\ncontrollers = c\n" NODES,
		   ": [cluster] has no 'name' key (add e.g. name = mycluster)");
	expect_err("[cluster]\nname = t\n" NODES,
		   ": [cluster] has no 'controllers' key (add e.g. controllers = ctl1:6817)");
	expect_err("[cluster]\nname = my cluster\ncontrollers = c\n" NODES,
		   ":2: bad cluster name 'my cluster' (use letters, digits, '-', '_' and '.')");
	expect_err("[cluster]\nname = t\ncontrollers = c:99999\n" NODES,
		   ":3: bad controller 'c:99999': the port must be a number from 1 to 65535 "
		   "(write host:port, e.g. ctl1:6817,ctl2:6817)");
	expect_err("[cluster]\nname = t\ncontrollers = c:\n" NODES,
		   ":3: bad controller 'c:': the port must be a number from 1 to 65535 "
		   "(write host:port, e.g. ctl1:6817,ctl2:6817)");
	expect_err("[cluster]\nname = t\ncontrollers = ::1\n" NODES,
		   ":3: bad controller '::1': IPv6 addresses need brackets, e.g. [::1]:6817 "
		   "(write host:port, e.g. ctl1:6817,ctl2:6817)");
	expect_err("[cluster]\nname = t\ncontrollers = [::1\n" NODES,
		   ":3: bad controller '[::1': missing ']' after the IPv6 address "
		   "(write host:port, e.g. ctl1:6817,ctl2:6817)");
	expect_err("[cluster]\nname = t\ncontrollers = :7000\n" NODES,
		   ":3: bad controller ':7000': the host name is empty "
		   "(write host:port, e.g. ctl1:6817,ctl2:6817)");
	expect_err("[cluster]\nname = t\ncontrollers = a,,b\n" NODES,
		   ":3: controllers has an empty entry (remove the extra comma)");
	expect_err("[cluster]\nname = t\ncontrollers = a:6817, a\n" NODES,
		   ":3: controller a port 6817 is listed twice");
	expect_err(CLUSTER "state_dir = var/lib\n" NODES,
		   ":4: state_dir must be an absolute path, not 'var/lib'");
	expect_err(CLUSTER "munge_socket = munge.sock\n" NODES,
		   ":4: munge_socket must be an absolute path, not 'munge.sock'");
	expect_err(CLUSTER "spool_dir = /s/%j\n" NODES,
		   ":4: spool_dir '/s/%j' has an unknown %-sequence (only %n, the node name, "
		   "and %% are expanded)");
	expect_err(CLUSTER "spool_dir = /s/%\n" NODES,
		   ":4: spool_dir '/s/%' has an unknown %-sequence (only %n, the node name, "
		   "and %% are expanded)");
	expect_err(CLUSTER "log_level = verbose\n" NODES,
		   ":4: bad log_level 'verbose' (write error, warn, info or debug)");
	expect_err(CLUSTER "admins = alice,,bob\n" NODES,
		   ":4: admins has an empty entry (remove the extra comma)");
	expect_err(CLUSTER "admins = alice bob\n" NODES,
		   ":4: bad admin 'alice bob' (separate user names with commas)");
	expect_err(CLUSTER "snapshot_interval = 0\n" NODES,
		   ":4: bad snapshot_interval '0' (write a whole number from 1 to 4294967295)");
}

static void test_duration_errors(void **state)
{
	(void)state;
	expect_err(CLUSTER "kill_wait = 5x\n" NODES,
		   ":4: bad kill_wait '5x' (write seconds, optionally with s, m or h: "
		   "30, 30s, 5m, 1h)");
	expect_err(CLUSTER "kill_wait = 5ms\n" NODES,
		   ":4: bad kill_wait '5ms' (write seconds, optionally with s, m or h: "
		   "30, 30s, 5m, 1h)");
	expect_err(CLUSTER "min_job_age = -1\n" NODES,
		   ":4: bad min_job_age '-1' (write seconds, optionally with s, m or h: "
		   "30, 30s, 5m, 1h)");
	expect_err(CLUSTER "heartbeat_interval = 0\n" NODES,
		   ":4: heartbeat_interval must be at least 1s");
	expect_err(CLUSTER "min_job_age = 5000000h\n" NODES,
		   ":4: min_job_age '5000000h' is too long");
	expect_err(CLUSTER "heartbeat_interval = 10\nnode_timeout = 10s\n" NODES,
		   ":5: node_timeout (10s) must be longer than heartbeat_interval (10s)");
	expect_err(CLUSTER "heartbeat_interval = 1m\n" NODES,
		   ":4: node_timeout (30s) must be longer than heartbeat_interval (60s)");
}

static void test_node_errors(void **state)
{
	(void)state;
	expect_err(CLUSTER, ": no [nodes:GROUP] section (add e.g. [nodes:compute] with "
			    "names = node[01-04])");
	expect_err(CLUSTER "[nodes:x]\ncpus = 4\n",
		   ":4: [nodes:x] has no 'names' key (add e.g. names = node[01-04])");
	expect_err(CLUSTER "[nodes:x]\nnames = n[3-1]\n",
		   ":5: bad hostlist 'n[3-1]' in names (write e.g. node[01-04,10],login1)");
	expect_err(CLUSTER "[nodes:x]\nnames = n[0-99999999]\n",
		   ":5: names 'n[0-99999999]' expands to more than 1000000 names");
	expect_err(CLUSTER "[nodes:x]\nnames = n/1\n",
		   ":5: bad node name 'n/1' (use letters, digits, '-', '_' and '.')");
	expect_err(CLUSTER NODES "address = 10.0.0.[1-3]\n",
		   ":6: address lists 3 addresses for 4 names (give one address for all, "
		   "or exactly 4)");
	expect_err(CLUSTER NODES "address = 10.0.[\n",
		   ":6: bad hostlist '10.0.[' in address (write e.g. node[01-04,10],login1)");
	expect_err(CLUSTER NODES "address = [::1\nport = 7001-7004\n",
		   ":6: bad address '[::1' (write ::1 or [::1])");
	expect_err(CLUSTER NODES "address = ::1,::2\n",
		   ":6: give one IPv6 address per [nodes:GROUP], not '::1,::2'");
	expect_err(CLUSTER NODES "port = http\n",
		   ":6: bad port 'http' (write a port from 1 to 65535, or a range such as "
		   "7001-7004)");
	expect_err(CLUSTER NODES "port = 70000\n",
		   ":6: bad port '70000' (write a port from 1 to 65535, or a range such as "
		   "7001-7004)");
	expect_err(CLUSTER NODES "port = 7001-\n",
		   ":6: bad port '7001-' (write a port from 1 to 65535, or a range such as "
		   "7001-7004)");
	expect_err(CLUSTER NODES "port = 7001-7003\n",
		   ":6: port range 7001-7003 has 3 ports for 4 names (give one port, or a "
		   "range of exactly 4)");
	expect_err(CLUSTER NODES "port = 7004-7001\n", ":6: port range 7004-7001 goes backwards");
	expect_err(CLUSTER NODES "cpus = 0\n",
		   ":6: bad cpus '0' (write a whole number from 1 to 1048576)");
	expect_err(CLUSTER NODES "memory = 12X\n",
		   ":6: bad memory '12X' (write MiB, or a size with K, M, G or T: 512, 64G)");
	expect_err(CLUSTER NODES "memory = 0G\n",
		   ":6: memory must be above 0 (remove the key to use what the node reports)");
	expect_err(CLUSTER NODES "spool_dir = spool\n",
		   ":6: spool_dir must be an absolute path, not 'spool'");
}

/* Four groups of a million nodes each: the second one crosses the cap,
 * which is checked before any node is built. */
static void test_node_total_cap(void **state)
{
	const char *file = PACER_REPRODUCER_DIR "/slow-4-groups-of-1M-nodes.conf";
	struct conf *c = NULL;
	char err[1024] = "", want[1024];

	(void)state;
	snprintf(want, sizeof(want),
		 "%s:7: [nodes:b] brings the cluster to 2000000 nodes (all [nodes:GROUP] "
		 "sections together may define at most 1000000)",
		 file);
	errno = 0;
	assert_int_equal(conf_load(file, &c, err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(c);
	assert_string_equal(err, want);
	/* Exactly the cap across groups is fine. */
	c = load_ok(CLUSTER "[nodes:a]\nnames = a[0-499999]\n[nodes:b]\nnames = b[0-499999]\n");
	assert_int_equal(c->nnodes, 1000000);
	conf_destroy(c);
	expect_err(CLUSTER "[nodes:a]\nnames = a[0-499999]\n[nodes:b]\nnames = b[0-500000]\n",
		   ":7: [nodes:b] brings the cluster to 1000001 nodes (all [nodes:GROUP] "
		   "sections together may define at most 1000000)");
}

static void test_node_clashes(void **state)
{
	(void)state;
	expect_err(CLUSTER NODES "[nodes:d]\nport = 7000\nnames = m1,n3\n",
		   ":8: node n3 is defined twice (first on line 5)");
	expect_err(CLUSTER "[nodes:c]\nnames = n[1-2],n1\n",
		   ":5: node n1 is defined twice (first on line 5)");
	/* Several clashes: the one whose second node comes first is named. */
	expect_err(CLUSTER NODES "[nodes:d]\nnames = m[1-2]\n[nodes:e]\nnames = m2,n1\n",
		   ":9: node m2 is defined twice (first on line 7)");
	expect_err(CLUSTER "[nodes:c]\nnames = n[1-2]\naddress = 127.0.0.1\n",
		   ":6: nodes n1 and n2 both use address 127.0.0.1 port 6818 (give each node "
		   "its own address or port, e.g. port = 7001-7004)");
	expect_err(CLUSTER NODES "[nodes:d]\nnames = m1\nport = 6818\naddress = n2\n",
		   ":8: nodes n2 and m1 both use address n2 port 6818 (give each node its "
		   "own address or port, e.g. port = 7001-7004)");
}

static void test_partition_errors(void **state)
{
	(void)state;
	expect_err(CLUSTER NODES "[partition:p]\nnodes = n[1-5]\n",
		   ":7: partition p lists unknown node n5 (define it in a [nodes:GROUP] "
		   "section)");
	expect_err(CLUSTER NODES "[partition:p]\nnodes = n[1-\n",
		   ":7: bad hostlist 'n[1-' in nodes (write e.g. node[01-04,10],login1)");
	expect_err(CLUSTER NODES "[partition:p]\ndefault = maybe\n",
		   ":7: bad default 'maybe' (write yes, no, true or false)");
	expect_err(CLUSTER NODES "[partition:p]\ndefault_time = 1:99\n",
		   ":7: default_time: invalid time \"1:99\": seconds must be below 60 " FORMATS);
	expect_err(CLUSTER NODES "[partition:p]\nmax_time = 2-25\n",
		   ":7: max_time: invalid time \"2-25\": hours must be below 24 " FORMATS);
	expect_err(CLUSTER NODES "[partition:p]\ndefault_time = 2:00:00\nmax_time = 60\n",
		   ":7: default_time 2:00:00 is longer than max_time 1:00:00");
	expect_err(CLUSTER NODES "[partition:p]\nmax_nodes = few\n",
		   ":7: bad max_nodes 'few' (write a whole number from 0 to 1000000)");
	expect_err(CLUSTER NODES "[partition:p]\npriority = -1\n",
		   ":7: bad priority '-1' (write a whole number from 0 to 4294967295)");
	expect_err(CLUSTER NODES "[partition:a]\ndefault = yes\n[partition:b]\n"
				 "[partition:c]\nmax_nodes = 1\ndefault = true\n",
		   ":11: partitions a and c both say default = yes (only one may)");
}

static void test_sched_keys(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok(CLUSTER "priority_weight_age = 0\n"
			    "priority_weight_size = 5\n"
			    "priority_weight_partition = 4294967295\n"
			    "priority_max_age = 1-12:00:00\n"
			    "backfill = NO\n"
			    "backfill_reservations = 4\n"
			    "backfill_window = 30\n"
			    "sched_max_jobs = 1\n"
			    "confine = cgroup\n"
			    "select = topology\n" NODES);
	assert_int_equal(c->priority_weight_age, 0);
	assert_int_equal(c->priority_weight_size, 5);
	assert_int_equal(c->priority_weight_partition, UINT32_MAX);
	assert_int_equal(c->priority_max_age, 36 * 3600);
	assert_false(c->backfill);
	assert_int_equal(c->backfill_reservations, 4);
	/* A bare number is minutes, as in Slurm's time format. */
	assert_int_equal(c->backfill_window, 30 * 60);
	assert_int_equal(c->sched_max_jobs, 1);
	assert_string_equal(c->confine, "cgroup");
	assert_string_equal(c->select, "topology");
	conf_destroy(c);
	c = load_ok(CLUSTER "confine = none\nbackfill = true\n" NODES);
	assert_string_equal(c->confine, "none");
	assert_true(c->backfill);
	conf_destroy(c);
}

static void test_sched_errors(void **state)
{
	(void)state;
	expect_err(CLUSTER "confine = cgroups\n" NODES,
		   ":4: bad confine 'cgroups' (write auto, cgroup or none)");
	expect_err(CLUSTER "priority_weight_age = -1\n" NODES,
		   ":4: bad priority_weight_age '-1' (write a whole number from 0 to 4294967295)");
	expect_err(CLUSTER "priority_weight_size = 4294967296\n" NODES,
		   ":4: bad priority_weight_size '4294967296' (write a whole number from 0 to "
		   "4294967295)");
	expect_err(CLUSTER "backfill_reservations = 0\n" NODES,
		   ":4: bad backfill_reservations '0' (write a whole number from 1 to "
		   "4294967295)");
	expect_err(CLUSTER "sched_max_jobs = 0\n" NODES,
		   ":4: bad sched_max_jobs '0' (write a whole number from 1 to 4294967295)");
	expect_err(CLUSTER "backfill = sometimes\n" NODES,
		   ":4: bad backfill 'sometimes' (write yes, no, true or false)");
	expect_err(CLUSTER "priority_max_age = UNLIMITED\n" NODES,
		   ":4: priority_max_age must be a time from 1 second up, not 'UNLIMITED' "
		   "(e.g. 7-00:00:00)");
	expect_err(CLUSTER "backfill_window = 0\n" NODES,
		   ":4: backfill_window must be a time from 1 second up, not '0' "
		   "(e.g. 7-00:00:00)");
	expect_err(CLUSTER "backfill_window = 1:99\n" NODES,
		   ":4: backfill_window: invalid time \"1:99\": seconds must be below 60 " FORMATS);
}

static void test_node_topology_and_features(void **state)
{
	char want[400];
	struct conf *c;

	(void)state;
	c = load_ok(CLUSTER "[nodes:a]\nnames = a[1-2]\ntopology = topo/16em64t.xml\n"
			    "features = ib, bigmem,ib\ngpus = 4\n"
			    "[nodes:b]\nnames = b1\ntopology = /abs/box.XML\nfeatures = gpu,ib\n"
			    "[nodes:c]\nnames = c1\ntopology = pack:2 numa:2 core:8 pu:2\n"
			    "[nodes:d]\nnames = d1\ntopology = machine.xml\ngpus = 0\n");
	snprintf(want, sizeof(want), "%s/topo/16em64t.xml", dir);
	assert_string_equal(c->nodes[0].topology, want);
	assert_string_equal(c->nodes[1].topology, want);
	assert_int_equal(c->nodes[0].gpus, 4);
	assert_int_equal(c->nodes[1].gpus, 4);
	assert_string_equal(c->nodes[2].topology, "/abs/box.XML");
	assert_int_equal(c->nodes[2].gpus, 0);
	assert_string_equal(c->nodes[3].topology, "pack:2 numa:2 core:8 pu:2");
	snprintf(want, sizeof(want), "%s/machine.xml", dir);
	assert_string_equal(c->nodes[4].topology, want);
	/* Distinct features in the order they first appear; one bit each. */
	assert_int_equal(c->nfeatures, 3);
	assert_string_equal(c->features[0], "ib");
	assert_string_equal(c->features[1], "bigmem");
	assert_string_equal(c->features[2], "gpu");
	assert_int_equal(conf_feature_index(c, "ib"), 0);
	assert_int_equal(conf_feature_index(c, "gpu"), 2);
	assert_int_equal(conf_feature_index(c, "GPU"), -1);
	assert_int_equal(conf_feature_index(NULL, "gpu"), -1);
	assert_int_equal(c->nodes[0].feature_mask, 0x3);
	assert_int_equal(c->nodes[1].feature_mask, 0x3);
	assert_int_equal(c->nodes[2].feature_mask, 0x5);
	assert_int_equal(c->nodes[3].feature_mask, 0);
	assert_int_equal(c->nodes[4].feature_mask, 0);
	conf_destroy(c);
}

/* Exactly CONF_FEATURES_MAX distinct features fit; one more is refused. */
static void test_feature_limit(void **state)
{
	char text[2048], want[256];
	size_t n;
	struct conf *c;

	(void)state;
	n = (size_t)snprintf(text, sizeof(text), CLUSTER);
	/* "common" and one feature per group: CONF_FEATURES_MAX in all. */
	for (int i = 0; i < CONF_FEATURES_MAX - 1; i++)
		n +=
		    (size_t)snprintf(text + n, sizeof(text) - n,
				     "[nodes:g%d]\nnames = n%d\nport = %d\nfeatures = f%d,common\n",
				     i, i, 7000 + i, i);
	c = load_ok(text);
	assert_int_equal(c->nfeatures, CONF_FEATURES_MAX);
	assert_int_equal(conf_feature_index(c, "common"), 1);
	assert_int_equal(conf_feature_index(c, "f1"), 2);
	assert_int_equal(c->nodes[CONF_FEATURES_MAX - 2].feature_mask,
			 (uint32_t)1 << (CONF_FEATURES_MAX - 1) | 2);
	conf_destroy(c);
	snprintf(text + n, sizeof(text) - n,
		 "[nodes:x]\nnames = x1\nport = 6999\nfeatures = common, one-more\n");
	/* Lines: 3 of [cluster], 4 per group, then the extra group's features. */
	snprintf(want, sizeof(want),
		 ":%d: too many node features at 'one-more': a cluster may have at most 32 "
		 "distinct ones (reuse or merge features)",
		 3 + 4 * (CONF_FEATURES_MAX - 1) + 4);
	expect_err(text, want);
}

static void test_node_feature_errors(void **state)
{
	(void)state;
	expect_err(CLUSTER NODES "features = ib,,gpu\n",
		   ":6: features has an empty entry (remove the extra comma)");
	expect_err(CLUSTER NODES "features = big mem\n",
		   ":6: bad feature 'big mem' (use letters, digits, '-', '_' and '.'; separate "
		   "features with commas)");
	expect_err(CLUSTER NODES "features = a|b\n",
		   ":6: bad feature 'a|b' (use letters, digits, '-', '_' and '.'; separate "
		   "features with commas)");
	expect_err(CLUSTER NODES "gpus = many\n",
		   ":6: bad gpus 'many' (write a whole number from 0 to 1024)");
	expect_err(CLUSTER NODES "gpus = 1025\n",
		   ":6: bad gpus '1025' (write a whole number from 0 to 1024)");
	expect_err(CLUSTER NODES "topology =\n",
		   ":6: 'topology' is empty (give a value or remove the line)");
}

static void test_partition_access(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok(CLUSTER NODES "[partition:p]\nallow_users = alice, bob,alice\n"
				  "allow_groups = physics\n[partition:q]\n");
	assert_int_equal(c->partitions[0].nallow_users, 2);
	assert_string_equal(c->partitions[0].allow_users[0], "alice");
	assert_string_equal(c->partitions[0].allow_users[1], "bob");
	assert_int_equal(c->partitions[0].nallow_groups, 1);
	assert_string_equal(c->partitions[0].allow_groups[0], "physics");
	assert_int_equal(c->partitions[1].nallow_users, 0);
	assert_null(c->partitions[1].allow_users);
	assert_int_equal(c->partitions[1].nallow_groups, 0);
	conf_destroy(c);
	expect_err(CLUSTER NODES "[partition:p]\nallow_users = alice bob\n",
		   ":7: bad user 'alice bob' (separate user names with commas)");
	expect_err(CLUSTER NODES "[partition:p]\nallow_groups = a,\n",
		   ":7: allow_groups has an empty entry (remove the extra comma)");
	expect_err(CLUSTER NODES "[partition:p]\nallow_groups = hpc users\n",
		   ":7: bad group 'hpc users' (separate group names with commas)");
}

static void test_parse_mem(void **state)
{
	static const struct {
		const char *s;
		uint64_t mb;
	} ok[] = {
		{ "0", 0 },       { "512", 512 },    { "512M", 512 }, { "512m", 512 },
		{ "512MB", 512 }, { "512MiB", 512 }, { "4G", 4096 },  { "4gib", 4096 },
		{ "4Gb", 4096 },  { "1T", 1048576 }, { "1K", 1 },     { "1024K", 1 },
		{ "1025K", 2 },   { "1536k", 2 },    { "0K", 0 },
	};
	static const char *const bad[] = {
		"",
		"M",
		"-1",
		"1.5G",
		"4 G",
		"4X",
		"4GG",
		"4Gi",
		"4GiBs",
		"512B",
		" 4G",
		"99999999999999999999",
		"17179869184T",
		"+4G",
	};
	uint64_t mb;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		mb = 12345;
		assert_int_equal(conf_parse_mem(ok[i].s, &mb), 0);
		assert_int_equal(mb, ok[i].mb);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		mb = 12345;
		assert_int_equal(conf_parse_mem(bad[i], &mb), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(mb, 12345);
	}
	assert_int_equal(conf_parse_mem(NULL, &mb), -1);
}

static void test_conf_path(void **state)
{
	(void)state;
	unsetenv("PACER_CONF");
	assert_string_equal(conf_path(NULL), CONF_DEFAULT_PATH);
	assert_string_equal(conf_path(""), CONF_DEFAULT_PATH);
	setenv("PACER_CONF", "", 1);
	assert_string_equal(conf_path(NULL), CONF_DEFAULT_PATH);
	setenv("PACER_CONF", "/env/pacer.conf", 1);
	assert_string_equal(conf_path(NULL), "/env/pacer.conf");
	assert_string_equal(conf_path("/opt/pacer.conf"), "/opt/pacer.conf");
	unsetenv("PACER_CONF");
}

static void test_admin_without_conf(void **state)
{
	(void)state;
	assert_true(conf_is_admin(NULL, "root"));
	assert_false(conf_is_admin(NULL, "alice"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_table_defaults),
		cmocka_unit_test(test_first_partition_default),
		cmocka_unit_test(test_ipv6_and_shared_address),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_section_errors),
		cmocka_unit_test(test_key_errors),
		cmocka_unit_test(test_cluster_errors),
		cmocka_unit_test(test_duration_errors),
		cmocka_unit_test(test_node_errors),
		cmocka_unit_test(test_node_total_cap),
		cmocka_unit_test(test_node_clashes),
		cmocka_unit_test(test_partition_errors),
		cmocka_unit_test(test_sched_keys),
		cmocka_unit_test(test_sched_errors),
		cmocka_unit_test(test_node_topology_and_features),
		cmocka_unit_test(test_feature_limit),
		cmocka_unit_test(test_node_feature_errors),
		cmocka_unit_test(test_partition_access),
		cmocka_unit_test(test_parse_mem),
		cmocka_unit_test(test_conf_path),
		cmocka_unit_test(test_admin_without_conf),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
