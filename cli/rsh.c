/* rsh.c - pacer-rsh: what mpirun runs instead of ssh inside a Pacer job.
 *
 *   pacer-rsh HOST WORDS...
 *
 * Open MPI's mpirun (OMPI_MCA_plm_rsh_agent, set in every batch job) calls
 * it once for each other node of its hostfile with the orted command line,
 * quoted for a remote shell.  pacer-rsh runs those words as ssh would,
 * `/bin/sh -c "WORDS"`, but as a step of the job on node HOST:
 *
 *   pacer run --jobid $PACER_JOB_ID -N 1 -n 1 -c 1 -w HOST --overlap --whole
 *             --mpi=none -i none -Q -J orted /bin/sh -c "WORDS"
 *
 * run in this process (no exec of pacer).  So the controller checks that
 * HOST is one of the job's nodes and that the job is the caller's, the
 * node's step supervisor starts orted as the job's user in the step's
 * cgroup with every CPU the job holds there (--whole: orted binds the ranks
 * it forks inside), a cancel, the time limit or the loss of the node ends it
 * with the job, and its exit code comes back as ours, as ssh's would.
 * Like ssh, pacer-rsh lives as long as orted does, and ending it (mpirun
 * does, when it gives up) ends the step.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"

static const char usage_text[] =
    "Usage: pacer-rsh HOST COMMAND...\n"
    "\n"
    "Run COMMAND on node HOST of the job this runs in ($PACER_JOB_ID), as a\n"
    "step with every CPU the job holds there: /bin/sh -c \"COMMAND\", as ssh\n"
    "would run it.  Open MPI's mpirun uses it instead of ssh in a Pacer batch\n"
    "job (OMPI_MCA_plm_rsh_agent) to start its daemons; it is not meant to be\n"
    "typed.  The exit code is COMMAND's.\n"
    "\n"
    "  -h, --help     show this help\n"
    "  -V, --version  show the version\n";

/* A node name as the controller names nodes: nothing pacer run would read
 * as a host list ("n[1-2]", "a,b") or a file ("./hosts"). */
static int plain_name(const char *h)
{
	if (!*h || strlen(h) > 255 || *h == '-')
		return 0;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return 1;
}

/* Whether HOST is a host of its own that this one can name, as ssh needs:
 * our own node (where we run: always), or a name that resolves.  Nodes of a
 * local cluster without --netns share one host and resolve nowhere; there,
 * the orteds of several nodes would share one host name, and the ranks'
 * shared-memory files (named by host name and local rank) would collide. */
static int reachable(const char *host)
{
	const char *self = getenv("PACER_NODENAME");
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;

	if (self && strcmp(self, host) == 0)
		return 1;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	freeaddrinfo(res);
	return 1;
}

/* WORDS joined by blanks, as ssh hands them to the remote shell. */
static char *join(int n, char **words)
{
	size_t len = 1;
	char *s, *p;

	for (int i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	p = s;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(words[i]);
		if (i)
			*p++ = ' ';
		memcpy(p, words[i], l);
		p += l;
	}
	*p = '\0';
	return s;
}

/* The step's name: the program the words run ("orted": Open MPI wraps it
 * in "( test ! -r ./.profile || . ./.profile; ... orted ...)" for a user
 * whose shell is sh), else their first word, without its folder, so that
 * pacer queue --steps says what runs. */
static void step_name(int n, char **words, char *buf, size_t len)
{
	const char *first = NULL;

	for (int i = 0; i < n; i++) {
		const char *w = words[i] + strspn(words[i], " \t\"'(");
		size_t l = strcspn(w, " \t\"');");
		const char *slash = memrchr(w, '/', l);
		if (!l)
			continue;
		if (slash) {
			l -= (size_t)(slash - w) + 1;
			w = slash + 1;
		}
		if ((l == 5 && strncmp(w, "orted", 5) == 0) ||
		    (l == 5 && strncmp(w, "prted", 5) == 0)) {
			snprintf(buf, len, "%.*s", (int)l, w);
			return;
		}
		if (!first && l)
			snprintf(buf, len, "%.*s", (int)(l < 64 ? l : 64), first = w);
	}
	if (!first)
		snprintf(buf, len, "sh");
}

int main(int argc, char **argv)
{
	struct cli cli = { .cmd = "rsh" };
	const char *job = getenv("PACER_JOB_ID");
	char name[80];
	char *words;
	int rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		printf("pacer-rsh %s\n", PACER_VERSION);
		return 0;
	}
	if (argc < 3) {
		fputs("pacer-rsh: give a node and a command (pacer-rsh HOST COMMAND...)\n"
		      "Try 'pacer-rsh --help' for more information.\n",
		      stderr);
		return EXIT_USAGE;
	}
	if (!plain_name(argv[1])) {
		fprintf(stderr,
			"pacer-rsh: '%s' is not a node name (mpirun's hostfile must name the "
			"job's nodes as $PACER_HOSTFILE does)\n",
			argv[1]);
		return EXIT_USAGE;
	}
	if (!job || !*job) {
		fprintf(stderr,
			"pacer-rsh: not inside a Pacer job (PACER_JOB_ID is not set): it starts "
			"mpirun's daemons on the nodes of the job it runs in\n");
		return 1;
	}
	if (!reachable(argv[1])) {
		/* ssh's code for a host it cannot reach: mpirun says which. */
		fprintf(stderr,
			"pacer-rsh: node %s has no address here, so it is no host of its own "
			"(the nodes of a local cluster without --netns share this one): mpirun "
			"can run on one node there only; across nodes it needs each node to be "
			"a host (a real cluster, or local-cluster --netns); see docs/mpi.md\n",
			argv[1]);
		return 255;
	}
	words = join(argc - 2, argv + 2);
	if (!words) {
		perror("pacer-rsh");
		return 1;
	}
	step_name(argc - 2, argv + 2, name, sizeof(name));
	char *run_argv[] = { "run",        "--jobid",    (char *)job,
			     "--nodes=1",  "--ntasks=1", "--cpus-per-task=1",
			     "--nodelist", argv[1],      "--overlap",
			     "--whole",    "--mpi=none", "--input=none",
			     "--quiet",    "--job-name", name,
			     "/bin/sh",    "-c",         words,
			     NULL };
	int run_argc = (int)(sizeof(run_argv) / sizeof(run_argv[0])) - 1;

	rc = cmd_run(&cli, run_argc, run_argv);
	cli_free(&cli);
	free(words);
	fflush(stdout);
	return rc;
}
