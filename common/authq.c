/* authq.c - one worker thread for munge and NSS work (see authq.h). */
#include "authq.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct authq {
	struct auth *auth;
	struct event *ev;
	int efd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* Protected by mu. */
	struct authq_job *todo, **todo_tail;
	struct authq_job *done, **done_tail;
	bool stop;
};

static void name_uid(uid_t uid, char *buf, size_t size)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];
	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, size, "%s", pw.pw_name);
	else
		snprintf(buf, size, "%u", (unsigned)uid);
}

void authq_run(struct auth *auth, struct authq_job *job)
{
	job->rc = auth_decode(auth, job->cred, job->cluster, job->service, job->snonce, job->cnonce,
			      &job->uid, &job->gid, job->err, sizeof(job->err));
	job->err_errno = job->rc < 0 ? errno : 0;
	if (job->rc < 0)
		return;
	name_uid(job->uid, job->user, sizeof(job->user));
	if (job->reply_service[0]) {
		job->rc = auth_encode(auth, job->cluster, job->reply_service, job->snonce,
				      job->cnonce, &job->reply_cred, job->err, sizeof(job->err));
		job->err_errno = job->rc < 0 ? errno : 0;
		job->reply_failed = job->rc < 0;
	}
}

void authq_job_free(struct authq_job *job)
{
	if (!job)
		return;
	free(job->cred);
	free(job->reply_cred);
	free(job);
}

static void *worker(void *arg)
{
	struct authq *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->todo && !q->stop)
			pthread_cond_wait(&q->cond, &q->mu);
		if (q->stop)
			break;
		struct authq_job *job = q->todo;
		q->todo = job->next;
		if (!q->todo)
			q->todo_tail = &q->todo;
		pthread_mutex_unlock(&q->mu);

		authq_run(q->auth, job);

		pthread_mutex_lock(&q->mu);
		job->next = NULL;
		*q->done_tail = job;
		q->done_tail = &job->next;
		uint64_t one = 1;
		/* Cannot fail but by overflowing the counter. */
		(void)!write(q->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* On the loop: hand finished jobs back. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct authq *q = arg;
	uint64_t n;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&q->mu);
	struct authq_job *list = q->done;
	q->done = NULL;
	q->done_tail = &q->done;
	pthread_mutex_unlock(&q->mu);
	while (list) {
		struct authq_job *job = list;
		list = job->next;
		job->next = NULL;
		job->done(job, job->arg);
	}
}

struct authq *authq_create(struct event_base *base, const char *socket)
{
	struct authq *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->efd = -1;
	/* munge contexts are not to be shared between threads. */
	q->auth = auth_create(socket);
	if (!q->auth)
		goto failed;
	q->todo_tail = &q->todo;
	q->done_tail = &q->done;
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		goto failed;
	q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, on_done, q);
	if (!q->ev || event_add(q->ev, NULL) < 0)
		goto failed;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	/* The daemons handle signals on the loop: keep them off this thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&q->thread, NULL, worker, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_mutex_destroy(&q->mu);
		pthread_cond_destroy(&q->cond);
		errno = rc;
		goto failed;
	}
	return q;
failed:
	if (q->ev)
		event_free(q->ev);
	if (q->efd >= 0)
		close(q->efd);
	auth_destroy(q->auth);
	free(q);
	return NULL;
}

int authq_submit(struct authq *q, struct authq_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&q->mu);
	*q->todo_tail = job;
	q->todo_tail = &job->next;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

static void free_list(struct authq_job *job)
{
	while (job) {
		struct authq_job *next = job->next;
		authq_job_free(job);
		job = next;
	}
}

void authq_destroy(struct authq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	free_list(q->todo);
	free_list(q->done);
	event_free(q->ev);
	close(q->efd);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	auth_destroy(q->auth);
	free(q);
}
