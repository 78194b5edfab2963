/* cli_test.c - the argument parsers the subcommands share. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"

static char err[512];

static void test_signal(void **state)
{
	(void)state;
	int sig;

	assert_int_equal(cli_parse_signal("TERM", &sig, err, sizeof(err)), 0);
	assert_int_equal(sig, SIGTERM);
	assert_int_equal(cli_parse_signal("SIGUSR1", &sig, err, sizeof(err)), 0);
	assert_int_equal(sig, SIGUSR1);
	assert_int_equal(cli_parse_signal("kill", &sig, err, sizeof(err)), 0);
	assert_int_equal(sig, SIGKILL);
	assert_int_equal(cli_parse_signal("sigcont", &sig, err, sizeof(err)), 0);
	assert_int_equal(sig, SIGCONT);
	assert_int_equal(cli_parse_signal("9", &sig, err, sizeof(err)), 0);
	assert_int_equal(sig, 9);

	char want[256];
	snprintf(want, sizeof(want),
		 "invalid signal 'FOO' (give a name like TERM, USR1 or KILL, "
		 "or a number from 1 to %d)",
		 SIGRTMAX);
	assert_int_equal(cli_parse_signal("FOO", &sig, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_int_equal(cli_parse_signal("0", &sig, err, sizeof(err)), -1);
	assert_int_equal(cli_parse_signal("999", &sig, err, sizeof(err)), -1);
	assert_int_equal(cli_parse_signal("SIG", &sig, err, sizeof(err)), -1);
	assert_int_equal(cli_parse_signal("", &sig, err, sizeof(err)), -1);
}

static void test_users(void **state)
{
	(void)state;
	uint32_t *uids = NULL;
	size_t n = 0;
	uid_t uid;

	assert_int_equal(cli_parse_user("root", &uid, err, sizeof(err)), 0);
	assert_int_equal(uid, 0);
	assert_int_equal(cli_parse_user("12345", &uid, err, sizeof(err)), 0);
	assert_int_equal(uid, 12345);
	assert_int_equal(cli_parse_user("no-such-user-xq", &uid, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown user 'no-such-user-xq' (check the name with: id "
				 "no-such-user-xq)");
	assert_int_equal(cli_parse_user("", &uid, err, sizeof(err)), -1);

	assert_int_equal(cli_parse_users("root,77", &uids, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(uids[0], 0);
	assert_int_equal(uids[1], 77);
	assert_int_equal(cli_parse_users("root,,77", &uids, &n, err, sizeof(err)), -1);
	assert_string_equal(err, "empty user name in 'root,,77' (separate names with single "
				 "commas)");
	assert_int_equal(cli_parse_users("root,", &uids, &n, err, sizeof(err)), -1);
	assert_int_equal(cli_parse_users("root,nobody-xq", &uids, &n, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown user 'nobody-xq' (check the name with: id nobody-xq)");
	free(uids);
}

static void test_states(void **state)
{
	(void)state;
	Pacer__JobState *st = NULL;
	size_t n = 0;

	assert_int_equal(cli_parse_states("PD,r,Completed,oom", &st, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	assert_int_equal(st[3], PACER__JOB_STATE__JOB_OUT_OF_MEMORY);
	assert_int_equal(st[0], PACER__JOB_STATE__JOB_PENDING);
	assert_int_equal(st[1], PACER__JOB_STATE__JOB_RUNNING);
	assert_int_equal(st[2], PACER__JOB_STATE__JOB_COMPLETED);
	assert_int_equal(cli_parse_states("R,DONE", &st, &n, err, sizeof(err)), -1);
	assert_string_equal(
	    err, "unknown job state 'DONE' (states: PENDING RUNNING COMPLETED "
		 "FAILED CANCELLED TIMEOUT NODE_FAIL REQUEUED OUT_OF_MEMORY, or PD R CD F "
		 "CA TO NF RQ OOM)");
	assert_int_equal(
	    cli_parse_states("RUNNINGRUNNINGRUNNINGRUNNINGRUNNING", &st, &n, err, sizeof(err)), -1);
	free(st);
}

static void test_timeout(void **state)
{
	(void)state;
	int ms;

	assert_int_equal(client_timeout_ms(NULL, &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 60000);
	assert_int_equal(client_timeout_ms("", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 60000);
	assert_int_equal(client_timeout_ms("5", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 5000);
	assert_int_equal(client_timeout_ms("86400", &ms, err, sizeof(err)), 0);
	assert_int_equal(ms, 86400000);
	assert_int_equal(client_timeout_ms("0", &ms, err, sizeof(err)), -1);
	assert_string_equal(err, "PACER_TIMEOUT='0' is not a number of seconds from 1 to 86400 "
				 "(unset it for the default of 60)");
	assert_int_equal(client_timeout_ms("86401", &ms, err, sizeof(err)), -1);
	assert_int_equal(client_timeout_ms("99999999999999999999", &ms, err, sizeof(err)), -1);
	assert_int_equal(client_timeout_ms("1m", &ms, err, sizeof(err)), -1);
	assert_int_equal(client_timeout_ms("-5", &ms, err, sizeof(err)), -1);
}

/* What FN printed on stderr. */
static char *stderr_of(int (*fn)(void *), void *arg, int *rc)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *buf = calloc(1, 4096);

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	*rc = fn(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	assert_true(fread(buf, 1, 4095, tmp) < 4095);
	fclose(tmp);
	return buf;
}

static int print_results(void *arg)
{
	Pacer__JobResult ok = PACER__JOB_RESULT__INIT, bad = PACER__JOB_RESULT__INIT;
	Pacer__JobResult bare = PACER__JOB_RESULT__INIT, task = PACER__JOB_RESULT__INIT;
	Pacer__JobResult *results[] = { &ok, &bad, &bare, &task };
	size_t n = *(size_t *)arg;
	struct cli cli = { .cmd = "cancel" };

	ok.job_id = 1;
	bad.job_id = 42;
	bad.code = EPERM;
	bad.message = "job 42 belongs to alice, not to you";
	bare.job_id = 43;
	bare.code = ENOENT;
	bare.message = "";
	task.code = ENOENT;
	task.message = "job 40_9 does not exist";
	return cli_job_results(&cli, results, n);
}

static void test_job_results(void **state)
{
	(void)state;
	size_t n = 4;
	int rc;
	char *out = stderr_of(print_results, &n, &rc);

	assert_int_equal(rc, 1);
	/* The controller's messages name their job: printed once, as they are. */
	assert_string_equal(out, "pacer cancel: job 42 belongs to alice, not to you\n"
				 "pacer cancel: job 43: No such file or directory\n"
				 "pacer cancel: job 40_9 does not exist\n");
	free(out);
	n = 1;
	out = stderr_of(print_results, &n, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	free(out);
}

static int usage_error(void *arg)
{
	struct cli cli = { .cmd = "submit" };

	return cli_usage_error(&cli, "unknown option '%s'", (const char *)arg);
}

static void test_usage_error(void **state)
{
	(void)state;
	int rc;
	char *out = stderr_of(usage_error, "--foo", &rc);

	assert_int_equal(rc, 2);
	assert_string_equal(out, "pacer submit: unknown option '--foo'\n"
				 "Try 'pacer submit --help' for more information.\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signal),      cmocka_unit_test(test_users),
		cmocka_unit_test(test_states),      cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_job_results), cmocka_unit_test(test_usage_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
