/* jobenv_test.c - what a batch job gets for mpirun: its hostfile, the
 * variables that point mpirun at it and at pacer-rsh, and the network of
 * this host's interfaces. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobenv.h"
#include "pacer.pb-c.h"

/* A launch of job 7 over N nodes "nI", node I holding TASKS[I] tasks (with
 * task ids when IDS) on CPUS[I] CPUs. */
struct launch {
	Pacer__LaunchJob lj;
	Pacer__Job job;
	Pacer__JobSpec spec;
	Pacer__NodeAlloc na[4], *nap[4];
	char names[4][8];
	uint32_t ids[4][8];
	char *env[4];
};

static void launch_init(struct launch *l, size_t n, const uint32_t *tasks, const uint32_t *cpus,
			bool ids)
{
	uint32_t rank = 0;

	memset(l, 0, sizeof(*l));
	pacer__launch_job__init(&l->lj);
	pacer__job__init(&l->job);
	pacer__job_spec__init(&l->spec);
	l->lj.job = &l->job;
	l->job.spec = &l->spec;
	l->job.id = 7;
	l->job.uid = 1000;
	l->spec.cpus_per_task = 1;
	l->spec.env = l->env;
	for (size_t i = 0; i < n; i++) {
		Pacer__NodeAlloc *a = &l->na[i];
		pacer__node_alloc__init(a);
		snprintf(l->names[i], sizeof(l->names[i]), "n%u", (unsigned)(i + 1) % 1000);
		a->node = l->names[i];
		a->cpus = cpus[i];
		for (uint32_t k = 0; ids && k < tasks[i]; k++)
			l->ids[i][k] = rank++;
		a->task_ids = l->ids[i];
		a->n_task_ids = ids ? tasks[i] : 0;
		l->nap[i] = a;
	}
	l->job.alloc = l->nap;
	l->job.n_alloc = n;
	l->lj.alloc = n ? l->nap[0] : NULL;
}

static void test_hostfile(void **st)
{
	(void)st;
	struct launch l;
	uint32_t tasks[] = { 3, 1, 2 }, cpus[] = { 6, 4, 8 };
	char *h;

	/* the job's tasks on each node, not its CPUs */
	launch_init(&l, 3, tasks, cpus, true);
	h = jobenv_hostfile(&l.lj, "n1");
	assert_non_null(h);
	assert_string_equal(h, "n1 slots=3\nn2 slots=1\nn3 slots=2\n");
	free(h);
	/* no task ids: CPUs over cpus_per_task, at least one */
	launch_init(&l, 3, tasks, cpus, false);
	l.spec.cpus_per_task = 4;
	h = jobenv_hostfile(&l.lj, "n1");
	assert_non_null(h);
	assert_string_equal(h, "n1 slots=1\nn2 slots=1\nn3 slots=2\n");
	free(h);
	/* no per-node allocation: this node with every task */
	launch_init(&l, 0, tasks, cpus, false);
	l.lj.ntasks = 5;
	h = jobenv_hostfile(&l.lj, "here");
	assert_non_null(h);
	assert_string_equal(h, "here slots=5\n");
	free(h);
	assert_null(jobenv_hostfile(&l.lj, NULL));
	assert_int_equal(errno, EINVAL);
}

/* The value of NAME in ENV, or NULL. */
static const char *get(char **env, const char *name)
{
	size_t len = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, len) == 0 && (*env)[len] == '=')
			return *env + len + 1;
	return NULL;
}

static void test_mpi_env(void **st)
{
	(void)st;
	struct launch l;
	uint32_t tasks[] = { 2, 2 }, cpus[] = { 2, 2 };
	struct jobenv_mpi m = { .hostfile = "/spool/job.7.d/hostfile",
				.agent = "/usr/libexec/pacer/pacer-rsh",
				.network = "10.1.2.0/24" };
	char **env;

	launch_init(&l, 2, tasks, cpus, true);
	env = jobenv_make(&l.lj, "n1", "c");
	assert_non_null(env);
	assert_int_equal(jobenv_add_mpi(&env, &l.lj, &m), 0);
	assert_string_equal(get(env, "PACER_HOSTFILE"), m.hostfile);
	assert_string_equal(get(env, "OMPI_MCA_orte_default_hostfile"), m.hostfile);
	assert_string_equal(get(env, "OMPI_MCA_plm_rsh_agent"), m.agent);
	assert_string_equal(get(env, "OMPI_MCA_oob_tcp_if_include"), "10.1.2.0/24");
	assert_string_equal(get(env, "OMPI_MCA_btl_tcp_if_include"), "10.1.2.0/24");
	assert_null(get(env, "OMPI_ALLOW_RUN_AS_ROOT"));
	assert_string_equal(get(env, "PACER_JOB_ID"), "7"); /* jobenv_make's are kept */
	jobenv_free(env);

	/* root's job may run mpirun; interfaces the user chose stay theirs; no
	 * agent leaves mpirun's own */
	l.job.uid = 0;
	l.env[0] = "OMPI_MCA_btl_tcp_if_include=ib0";
	l.spec.n_env = 1;
	m.agent = NULL;
	env = jobenv_make(&l.lj, "n1", "c");
	assert_non_null(env);
	assert_int_equal(jobenv_add_mpi(&env, &l.lj, &m), 0);
	assert_string_equal(get(env, "OMPI_ALLOW_RUN_AS_ROOT"), "1");
	assert_string_equal(get(env, "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"), "1");
	assert_null(get(env, "OMPI_MCA_btl_tcp_if_include"));
	assert_string_equal(get(env, "OMPI_MCA_oob_tcp_if_include"), "10.1.2.0/24");
	assert_null(get(env, "OMPI_MCA_plm_rsh_agent"));
	jobenv_free(env);

	/* a hostfile of the old job the user submitted from is replaced */
	l.env[0] = "OMPI_MCA_orte_default_hostfile=/old";
	m.network = NULL;
	env = jobenv_make(&l.lj, "n1", "c");
	assert_int_equal(jobenv_add_mpi(&env, &l.lj, &m), 0);
	assert_string_equal(get(env, "OMPI_MCA_orte_default_hostfile"), m.hostfile);
	assert_null(get(env, "OMPI_MCA_oob_tcp_if_include"));
	jobenv_free(env);
}

/* The network of a name: loopback and unknown names have none; an address
 * of one of this host's interfaces has that interface's. */
static void test_node_network(void **st)
{
	(void)st;
	char net[80], txt[INET_ADDRSTRLEN];
	struct ifaddrs *ifs, *found = NULL;

	assert_int_equal(jobenv_node_network("localhost", net, sizeof(net)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(jobenv_node_network("no-such-node.invalid", net, sizeof(net)), -1);
	assert_int_equal(errno, ENOENT);

	assert_int_equal(getifaddrs(&ifs), 0);
	for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_netmask && i->ifa_addr->sa_family == AF_INET &&
		    (ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr) >> 24) !=
			127)
			found = i;
	if (!found) {
		freeifaddrs(ifs);
		skip();
	}
	uint32_t a = ntohl(((struct sockaddr_in *)(void *)found->ifa_addr)->sin_addr.s_addr);
	uint32_t mask = ntohl(((struct sockaddr_in *)(void *)found->ifa_netmask)->sin_addr.s_addr);
	int bits = __builtin_popcount(mask);
	struct in_addr ia = { .s_addr = htonl(a) }, na = { .s_addr = htonl(a & mask) };
	char want[80], ntxt[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &ia, txt, sizeof(txt));
	inet_ntop(AF_INET, &na, ntxt, sizeof(ntxt));
	snprintf(want, sizeof(want), "%s/%d", ntxt, bits);
	freeifaddrs(ifs);
	assert_int_equal(jobenv_node_network(txt, net, sizeof(net)), 0);
	assert_string_equal(net, want);
	/* too small a buffer says so */
	assert_int_equal(jobenv_node_network(txt, net, 4), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostfile),
		cmocka_unit_test(test_mpi_env),
		cmocka_unit_test(test_node_network),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
