/* SPDX-License-Identifier: MIT */
/*
 * Per-route worker threads: next task, deliver, done. Thread i of a route
 * is its slot i: under process isolation it hands its tasks to worker
 * process i, and takes none while that one is down (so a task does not
 * wait out a respawn backoff in our queue, or come back unhandled).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/workers.h"
#include "plugin/procpool.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

/* How long one next() waits before looking again; bounds nothing but the
 * idle loop's frequency (a stop wakes it at once). */
#define NEXT_WAIT_MS 1000
/* How often a thread whose worker process is down looks again. */
#define SLOT_WAIT_MS 20
/*
 * A process route's thread takes as many queued tasks at once (up to
 * SINK_BATCH_MAX) as its recent tasks would take this long to run: quick
 * handlers share one round trip to the worker per batch, while a slow
 * handler's tasks go one at a time and stay in the queue for the route's
 * other threads.
 */
#define BATCH_BUDGET_US 1000

struct worker {
	struct workers *pool;
	struct route *route;
	unsigned slot; /* its index among the route's threads */
	size_t batch_max; /* tasks to take at once next time */
	pthread_t thread;
	int finished; /* atomic: the thread returned */
	bool started;
	bool joined;
};

struct workers {
	struct backend *backend;
	const struct backend_sink *sink;
	struct worker *w;
	size_t count;
	int abandoned;
	int stopping; /* atomic: workers_wait() began */
};

/* Deliver `first` and whatever else of the route is queued already, up
 * to w->batch_max, in one batch; then size the next one. */
static void
deliver_batch(struct worker *w, struct tj_task *first)
{
	struct backend *b = w->pool->backend;
	const struct backend_sink *sink = w->pool->sink;
	struct tj_task *tasks[SINK_BATCH_MAX];
	size_t n = 1;
	int64_t started = clock_mono_us(), per_task;

	tasks[0] = first;
	while (n < w->batch_max && b->ops->next(b, w->route, 0, &tasks[n]) == 0)
		tasks[n++]->slot = w->slot;
	sink->deliver_batch(sink->ctx, tasks, n);
	for (size_t i = 0; i < n; i++)
		b->ops->done(b, tasks[i]);
	per_task = (clock_mono_us() - started) / (int64_t)n;
	if (per_task < 1)
		per_task = 1;
	w->batch_max = (size_t)(BATCH_BUDGET_US / per_task);
	if (w->batch_max < 1)
		w->batch_max = 1;
	if (w->batch_max > SINK_BATCH_MAX)
		w->batch_max = SINK_BATCH_MAX;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct backend *b = w->pool->backend;
	const struct backend_sink *sink = w->pool->sink;

	for (;;) {
		struct tj_task *task = NULL;
		int rc;

		if (w->route->pool != NULL && !procpool_slot_live(w->route->pool, w->slot)) {
			if (__atomic_load_n(&w->pool->stopping, __ATOMIC_ACQUIRE))
				break;
			clock_sleep_ms(SLOT_WAIT_MS);
			continue;
		}
		rc = b->ops->next(b, w->route, NEXT_WAIT_MS, &task);
		if (rc == -ESHUTDOWN)
			break;
		if (rc < 0)
			continue;
		task->slot = w->slot;
		if (w->route->pool != NULL && sink->deliver_batch != NULL) {
			deliver_batch(w, task);
			continue;
		}
		sink->deliver(sink->ctx, task);
		b->ops->done(b, task);
	}
	__atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

int
workers_start(struct backend *b, const struct router *router, const struct backend_sink *sink,
              struct workers **w_r)
{
	struct workers *pool = xcalloc(1, sizeof(*pool));
	size_t n = 0, k = 0;
	int rc = 0;

	pool->backend = b;
	pool->sink = sink;
	for (size_t i = 0; i < router->count; i++)
		n += (size_t)router->routes[i].cfg->concurrency;
	pool->w = xcalloc(n + 1, sizeof(*pool->w));
	pool->count = n;
	for (size_t i = 0; i < router->count; i++) {
		for (int j = 0; j < router->routes[i].cfg->concurrency; j++, k++) {
			struct worker *w = &pool->w[k];

			w->pool = pool;
			w->route = &router->routes[i];
			w->slot = (unsigned)j;
			w->batch_max = 1;
			rc = -pthread_create(&w->thread, NULL, worker_main, w);
			if (rc != 0) {
				log_err("cannot start a worker thread: %s", strerror(-rc));
				goto out;
			}
			w->started = true;
		}
	}
out:
	if (rc != 0) {
		/* The started ones only wait in next(): stop the backend's
		 * hand-out and let them go. */
		b->ops->request_stop(b);
		workers_wait(pool, 60000);
		workers_destroy(pool);
		return rc;
	}
	*w_r = pool;
	return 0;
}

/* Join the threads (of process routes only, if `processes`) by grace_ms;
 * how many of all are still busy. */
static int
join_threads(struct workers *pool, int64_t grace_ms, bool processes)
{
	struct timespec deadline;
	int left = 0;

	/* Threads waiting for a worker process leave too. */
	__atomic_store_n(&pool->stopping, 1, __ATOMIC_RELEASE);
	clock_mono_deadline(grace_ms, &deadline);
	for (size_t i = 0; i < pool->count; i++) {
		struct worker *w = &pool->w[i];
		struct timespec now;

		if (!w->started || w->joined)
			continue;
		if (processes && w->route->pool == NULL) {
			/* Only look: the handler thread may be done already. */
			clock_mono_deadline(0, &now);
			if (pthread_clockjoin_np(w->thread, NULL, CLOCK_MONOTONIC, &now) == 0)
				w->joined = true;
			else
				left++;
			continue;
		}
		if (pthread_clockjoin_np(w->thread, NULL, CLOCK_MONOTONIC, &deadline) == 0)
			w->joined = true;
		else
			left++;
	}
	pool->abandoned = left;
	return left;
}

int
workers_wait(struct workers *pool, int64_t grace_ms)
{
	return join_threads(pool, grace_ms, false);
}

int
workers_wait_processes(struct workers *pool, int64_t grace_ms)
{
	return join_threads(pool, grace_ms, true);
}

void
workers_destroy(struct workers *pool)
{
	if (pool == NULL)
		return;
	/* Abandoned threads still read their struct worker. */
	if (pool->abandoned > 0)
		return;
	free(pool->w);
	free(pool);
}
