/* SPDX-License-Identifier: MIT */
/*
 * One route's pull consumer, with pull requests of our own: a dispatcher
 * thread keeps requests to $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>
 * in flight on a plain subscription (the next one goes out before the
 * current one is used up), handles every status the server sends, and
 * feeds a bounded queue that the engine's workers take from (next/done).
 * What the route holds is bounded by its window: concurrency + prefetch
 * messages, requested, queued or in a handler; without a prefetch key the
 * look-ahead follows the route's rate (about 20 ms of its work, from
 * 2 x batch up to 16 x batch, at most 2,000).
 *
 * NATS-internal (it includes <nats/nats.h>). Thread-safety per function.
 */
#ifndef TASKJET_CONSUMER_H
#define TASKJET_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "task/backend.h"
#include "task/router.h"
#include "nats/natsconn.h"

struct js_consumer;

/* What every consumer of a backend shares. Borrowed for their life. */
struct js_consumer_env {
	struct natsconn *nc; /* pull requests and deliveries (SendAsap) */
	natsConnection *ack_conn; /* acks, naks, in-progress (buffered) */
	struct backend *backend; /* set in tasks (task->backend) */
	const struct backend_sink *sink; /* metrics */
};

/*
 * Subscribe an inbox for `route` and send the first pull requests. The
 * durable must exist (topology). 0 or -errno. Controlling thread.
 */
int js_consumer_start(const struct js_consumer_env *env, struct route *route,
                      struct js_consumer **c_r);

/* The next queued task, waiting at most timeout_ms: 0, -EAGAIN or
 * -ESHUTDOWN (see backend_ops.next). Any thread. */
int js_consumer_next(struct js_consumer *c, int64_t timeout_ms, struct tj_task **task_r);
/* Give a task from next() back: its message is freed, its room reused
 * (and a pull request sent when enough room is free). Any thread. */
void js_consumer_done(struct js_consumer *c, struct tj_task *task);

/* Stop pulling: next() answers -ESHUTDOWN, queued tasks are handed back
 * to the server (nak'd) so others get them at once. Any thread (not a
 * signal handler). */
void js_consumer_request_stop(struct js_consumer *c);
/* Stop, and wait (until `deadline`, CLOCK_MONOTONIC) for a thread still
 * reading the inbox; what it took in is handed back. True once nobody
 * reads. Controlling thread. */
bool js_consumer_join(struct js_consumer *c, const struct timespec *deadline);
/* Free, unless a task from next() was never done() (a handler abandoned
 * at shutdown still uses its slot and message): then leave everything for
 * the exit to come and return false. NULL is a no-op. After join. */
bool js_consumer_destroy(struct js_consumer *c);

/* The keeper's round, every ~100 ms: timers (expired requests, missed
 * heartbeats, reconnects), pull requests, reading what waits when no
 * worker does, and in-progress for queued tasks that waited half their
 * ack_wait, so the server does not redeliver them while they wait. Any
 * thread. */
void js_consumer_tick(struct js_consumer *c, int64_t now_ms);

/* False with why when the server says the route's consumer is gone (or
 * answers pulls with errors). Any thread. */
bool js_consumer_ok(struct js_consumer *c, char *why, size_t len);

/*
 * What the server says of the durable (the readiness check asks every
 * second): with ack_pending at max_ack_pending (> 0) it hands the route
 * nothing new until some of it is acknowledged or its retry delay ends.
 * Logs once when the route becomes held and once when it is let go.
 * Any thread.
 */
void js_consumer_note_ack_pending(struct js_consumer *c, uint64_t ack_pending,
                                  uint64_t max_ack_pending);
/* True while the last note said held; `why` names the route and the
 * numbers. Any thread. */
bool js_consumer_held(struct js_consumer *c, char *why, size_t len);

#endif
