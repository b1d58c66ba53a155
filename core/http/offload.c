/* SPDX-License-Identifier: MIT */
/*
 * The pool for handlers that may wait on the server (a snapshot for
 * /metrics and /stats, a publish, the DLQ). Their connections are
 * suspended while a pool thread runs the handler, so libmicrohttpd's
 * event loops never wait on NATS and /healthz and /readyz answer at once
 * whatever the server does. The queue is bounded: past it a request gets
 * 503 at once instead of piling up.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "util/log.h"
#include "util/xalloc.h"

struct http_offload {
	struct http_server *s;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct http_request *head, *tail;
	unsigned queued, queue_max;
	bool stopping;
	pthread_t *threads;
	unsigned started;
};

/* The reply is in: hand the connection back to its event loop. */
static void
finish(struct http_request *req)
{
	__atomic_store_n(&req->reply_ready, true, __ATOMIC_RELEASE);
	MHD_resume_connection(req->conn);
}

static void *
worker_main(void *arg)
{
	struct http_offload *o = arg;

	for (;;) {
		struct http_request *req;

		pthread_mutex_lock(&o->lock);
		while (o->head == NULL && !o->stopping)
			pthread_cond_wait(&o->wake, &o->lock);
		req = o->head;
		if (req != NULL) {
			o->head = req->next_job;
			if (o->head == NULL)
				o->tail = NULL;
			o->queued--;
		}
		pthread_mutex_unlock(&o->lock);
		if (req == NULL)
			break;
		http_run_handler(o->s, req);
		finish(req);
	}
	return NULL;
}

bool
offload_submit(struct http_offload *o, struct http_request *req)
{
	bool ok;

	pthread_mutex_lock(&o->lock);
	ok = !o->stopping && o->queued < o->queue_max;
	if (ok) {
		req->next_job = NULL;
		if (o->tail != NULL)
			o->tail->next_job = req;
		else
			o->head = req;
		o->tail = req;
		o->queued++;
		pthread_cond_signal(&o->wake);
	}
	pthread_mutex_unlock(&o->lock);
	return ok;
}

int
offload_start(struct http_server *s, unsigned threads, unsigned queue_max,
              struct http_offload **o_r)
{
	struct http_offload *o = xcalloc(1, sizeof(*o));
	int rc = 0;

	o->s = s;
	o->queue_max = queue_max;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->wake, NULL);
	o->threads = xcalloc(threads, sizeof(*o->threads));
	for (; o->started < threads; o->started++) {
		rc = -pthread_create(&o->threads[o->started], NULL, worker_main, o);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		offload_stop(o);
		return rc;
	}
	*o_r = o;
	return 0;
}

void
offload_stop(struct http_offload *o)
{
	struct http_request *req;

	if (o == NULL)
		return;
	pthread_mutex_lock(&o->lock);
	o->stopping = true;
	req = o->head;
	o->head = o->tail = NULL;
	o->queued = 0;
	pthread_cond_broadcast(&o->wake);
	pthread_mutex_unlock(&o->lock);
	/* Queued, not started: answer them, so no connection stays suspended. */
	while (req != NULL) {
		struct http_request *next = req->next_job;

		reply_error(&req->reply, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
		finish(req);
		req = next;
	}
	for (unsigned i = 0; i < o->started; i++)
		pthread_join(o->threads[i], NULL);
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->lock);
	free(o->threads);
	free(o);
}
