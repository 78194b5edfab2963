/* authq_test.c - credentials checked on the authq thread, against a private
 * munged, handed back on a libevent loop. */
#include <errno.h>
#include <event2/event.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "auth.h"
#include "authq.h"
#include "test_munged.h"

static struct test_munged tm;

static int setup(void **state)
{
	(void)state;
	return test_munged_start(&tm, "authq");
}

static int teardown(void **state)
{
	(void)state;
	return test_munged_stop(&tm);
}

struct result {
	int calls;
	int order[128];
	struct authq_job copy;
	char reply[1024];
	struct event_base *base;
	int want;
};

static void done(struct authq_job *job, void *arg)
{
	struct result *r = arg;
	r->order[r->calls++] = job->snonce[0];
	r->copy = *job;
	snprintf(r->reply, sizeof(r->reply), "%s", job->reply_cred ? job->reply_cred : "");
	authq_job_free(job);
	if (r->calls == r->want)
		event_base_loopbreak(r->base);
}

/* A job checking a fresh credential for cluster "c", service "ctld". */
static struct authq_job *job_for(struct auth *a, uint8_t tag, const char *bind_service,
				 struct result *r)
{
	struct authq_job *job = calloc(1, sizeof(*job));
	char err[256];
	assert_non_null(job);
	assert_int_equal(auth_nonce(job->snonce), 0);
	assert_int_equal(auth_nonce(job->cnonce), 0);
	job->snonce[0] = tag;
	assert_int_equal(auth_encode(a, "c", bind_service, job->snonce, job->cnonce, &job->cred,
				     err, sizeof(err)),
			 0);
	snprintf(job->cluster, sizeof(job->cluster), "c");
	snprintf(job->service, sizeof(job->service), "ctld");
	job->done = done;
	job->arg = r;
	return job;
}

static void run_loop(struct result *r, int want)
{
	struct timeval limit = { 10, 0 };
	r->want = want;
	event_base_loopexit(r->base, &limit); /* a hung worker fails, not hangs */
	event_base_dispatch(r->base);
	assert_int_equal(r->calls, want);
}

static void test_checks_off_the_loop(void **state)
{
	(void)state;
	if (!tm.up)
		skip();
	struct result r = { .base = event_base_new() };
	struct auth *a = auth_create(tm.sock);
	struct authq *q = authq_create(r.base, tm.sock);
	assert_non_null(q);

	struct authq_job *job = job_for(a, 1, "ctld", &r);
	snprintf(job->reply_service, sizeof(job->reply_service), "ctld.welcome");
	assert_int_equal(authq_submit(q, job), 0);
	run_loop(&r, 1);
	assert_int_equal(r.copy.rc, 0);
	assert_int_equal(r.copy.uid, getuid());
	assert_int_equal(r.copy.gid, getgid());
	struct passwd *pw = getpwuid(getuid());
	assert_string_equal(r.copy.user, pw ? pw->pw_name : "0");
	/* The reply credential is bound to the welcome service and both nonces. */
	uid_t uid;
	gid_t gid;
	char err[256];
	assert_int_equal(auth_decode(a, r.reply, "c", "ctld.welcome", r.copy.snonce, r.copy.cnonce,
				     &uid, &gid, err, sizeof(err)),
			 0);
	assert_int_equal(uid, getuid());
	authq_destroy(q);
	auth_destroy(a);
	event_base_free(r.base);
}

static void test_refusals(void **state)
{
	(void)state;
	if (!tm.up)
		skip();
	struct result r = { .base = event_base_new() };
	struct auth *a = auth_create(tm.sock);
	struct authq *q = authq_create(r.base, tm.sock);

	/* made for another service */
	assert_int_equal(authq_submit(q, job_for(a, 1, "noded", &r)), 0);
	run_loop(&r, 1);
	assert_int_equal(r.copy.rc, -1);
	assert_string_equal(r.copy.err, "munge credential was made for another cluster, service "
					"or connection");

	/* the same credential twice: munged refuses the replay */
	struct authq_job *first = job_for(a, 2, "ctld", &r);
	struct authq_job *again = calloc(1, sizeof(*again));
	*again = *first;
	again->cred = strdup(first->cred);
	r.calls = 0;
	assert_int_equal(authq_submit(q, first), 0);
	assert_int_equal(authq_submit(q, again), 0);
	run_loop(&r, 2);
	assert_int_equal(r.copy.rc, -1);
	assert_non_null(strstr(r.copy.err, "eplayed"));
	authq_destroy(q);
	auth_destroy(a);
	event_base_free(r.base);
}

static void test_order_and_destroy(void **state)
{
	(void)state;
	if (!tm.up)
		skip();
	struct result r = { .base = event_base_new() };
	struct auth *a = auth_create(tm.sock);
	struct authq *q = authq_create(r.base, tm.sock);
	for (int i = 0; i < 50; i++)
		assert_int_equal(authq_submit(q, job_for(a, (uint8_t)i, "ctld", &r)), 0);
	run_loop(&r, 50);
	for (int i = 0; i < 50; i++)
		assert_int_equal(r.order[i], i);
	/* Jobs still queued or done but not handed back are freed, not called. */
	r.calls = 0;
	for (int i = 0; i < 20; i++)
		assert_int_equal(authq_submit(q, job_for(a, (uint8_t)i, "ctld", &r)), 0);
	authq_destroy(q);
	assert_int_equal(r.calls, 0);
	auth_destroy(a);
	event_base_free(r.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checks_off_the_loop),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_order_and_destroy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
