/* pacer.c - the pacer command: global options, then one subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct command {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "submit", cmd_submit, "queue a batch script (like sbatch)" },
	{ "run", cmd_run, "run a parallel step, in a job or a new one (like srun)" },
	{ "alloc", cmd_alloc, "allocate a job and run a command in it here (like salloc)" },
	{ "queue", cmd_queue, "list jobs (like squeue)" },
	{ "cancel", cmd_cancel, "cancel or signal jobs (like scancel)" },
	{ "hold", cmd_hold, "keep pending jobs from starting (like scontrol hold)" },
	{ "release", cmd_release, "let held jobs start (like scontrol release)" },
	{ "nodes", cmd_nodes, "list nodes (like sinfo -N -l)" },
	{ "show", cmd_show, "every detail of a job or node (like scontrol show)" },
	{ "diag", cmd_diag, "how the controller and its scheduler are doing (like sdiag)" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fputs("Usage: pacer [--conf FILE] COMMAND [OPTIONS]\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "Options:\n"
	      "      --conf FILE  the cluster's configuration (default: $PACER_CONF, then\n"
	      "                   " CONF_DEFAULT_PATH ")\n"
	      "  -h, --help       show this help\n"
	      "  -V, --version    show the version\n"
	      "\n"
	      "Run 'pacer COMMAND --help' for the options of a command.\n",
	      out);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* Global options before the command: 0 to go on, or an exit code + 1. */
static int global_options(int argc, char **argv, int *ind, struct cli *cli)
{
	for (*ind = 1; *ind < argc && argv[*ind][0] == '-'; (*ind)++) {
		const char *a = argv[*ind];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 1;
		}
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			printf("pacer %s\n", PACER_VERSION);
			return 1;
		}
		if (strncmp(a, "--conf=", 7) == 0) {
			cli->conf_opt = a + 7;
		} else if (strcmp(a, "--conf") == 0) {
			if (++*ind >= argc) {
				fprintf(stderr, "pacer: option '--conf' needs a value\n"
						"Try 'pacer --help' for more information.\n");
				return EXIT_USAGE + 1;
			}
			cli->conf_opt = argv[*ind];
		} else {
			fprintf(stderr, "pacer: unknown option '%s'\n", a);
			usage(stderr);
			return EXIT_USAGE + 1;
		}
	}
	if (cli->conf_opt && !*cli->conf_opt) {
		fprintf(stderr, "pacer: --conf needs a file name\n");
		return EXIT_USAGE + 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	const struct command *cmd;
	int ind, rc;

	/* Listings of ten thousand jobs go out in large writes, not a write per
	 * line; errors flush stdout first so the order on a terminal holds. */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	rc = global_options(argc, argv, &ind, &cli);
	if (rc > 0)
		return rc - 1;
	if (ind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[ind], "help") == 0) {
		if (ind + 1 >= argc) {
			usage(stdout);
			return 0;
		}
		/* "pacer help submit" is "pacer submit --help". */
		ind++;
		cmd = find_command(argv[ind]);
		if (cmd) {
			char *help_argv[] = { argv[ind], "--help", NULL };
			cli.cmd = cmd->name;
			return cmd->run(&cli, 2, help_argv);
		}
	}
	cmd = find_command(argv[ind]);
	if (!cmd) {
		fprintf(stderr,
			"pacer: unknown command '%s'\n"
			"Try 'pacer --help' for the list of commands.\n",
			argv[ind]);
		return EXIT_USAGE;
	}
	cli.cmd = cmd->name;
	rc = cmd->run(&cli, argc - ind, argv + ind);
	cli_free(&cli);
	/* A full disk or a closed pipe must not pass for success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("pacer: cannot write the output");
		return 1;
	}
	return rc;
}
