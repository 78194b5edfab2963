/* pacer-step-request - ask the controller for a job step, as `pacer run`
 * will, for integration tests of the controller's side of steps.
 *
 *   pacer-step-request JOB NTASKS [overlap] [NODES]
 *
 * Sends a StepCreateRequest for job JOB (NTASKS tasks of `sleep 300`, the
 * job's CPUs per task, on NODES nodes, 0 = as few as hold it) with the
 * cluster of $PACER_CONF.  Nothing listens for its stdio: the node side
 * of steps is not this tool's business.  Prints "step JOB.STEP on
 * NODE:CPUS..." and exits 0 when the step started, "refused: MESSAGE" and
 * exits 1 when it was refused (or the controller could not be asked), 2 on
 * bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "conf.h"
#include "pacer.pb-c.h"

int main(int argc, char **argv)
{
	char err[1024];
	struct conf *conf;
	static uint8_t key[32];
	char *cmd[] = { "sleep", "300" };

	if (argc < 3) {
		fprintf(stderr, "usage: pacer-step-request JOB NTASKS [overlap] [NODES]\n");
		return 2;
	}
	if (conf_load(conf_path(NULL), &conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "pacer-step-request: %s\n", err);
		return 2;
	}
	Pacer__StepSpec sp = PACER__STEP_SPEC__INIT;
	sp.ntasks = (uint32_t)strtoul(argv[2], NULL, 10);
	sp.overlap = argc > 3 && strcmp(argv[3], "overlap") == 0;
	sp.nodes = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 0;
	sp.argv = cmd;
	sp.n_argv = 2;
	sp.io_host = "127.0.0.1";
	sp.io_port = 9;
	sp.io_key.data = key;
	sp.io_key.len = sizeof(key);
	Pacer__StepCreateRequest q = PACER__STEP_CREATE_REQUEST__INIT;
	q.job_id = (uint32_t)strtoul(argv[1], NULL, 10);
	q.spec = &sp;
	Pacer__Msg m = PACER__MSG__INIT, *reply = NULL;
	m.body_case = PACER__MSG__BODY_STEP_CREATE;
	m.step_create = &q;
	if (client_call(conf, &m, 60000, &reply, err, sizeof(err)) < 0) {
		printf("refused: %s\n", err);
		conf_destroy(conf);
		return 1;
	}
	int rc = 0;
	if (reply->body_case == PACER__MSG__BODY_STEP_CREATE_REPLY) {
		const Pacer__StepCreateReply *r = reply->step_create_reply;
		printf("step %u.%u on", r->job_id, r->step_id);
		for (size_t i = 0; i < r->n_alloc; i++)
			printf(" %s:%s", r->alloc[i]->node, r->alloc[i]->cpuset);
		printf("\n");
	} else {
		printf("unexpected answer %d\n", (int)reply->body_case);
		rc = 2;
	}
	pacer__msg__free_unpacked(reply, NULL);
	conf_destroy(conf);
	return rc;
}
