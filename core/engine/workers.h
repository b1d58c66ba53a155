/* SPDX-License-Identifier: MIT */
/*
 * The worker pool: for every route, `concurrency` threads that take the
 * route's next task from the backend, hand it to the sink's deliver (the
 * engine: handler, then disposition) and give it back. A free worker takes
 * the next task, so one slow task delays nobody queued behind it.
 *
 * Lifecycle (one controlling thread): start -> (backend request_stop makes
 * next() answer -ESHUTDOWN) -> wait -> destroy.
 */
#ifndef TASKJET_WORKERS_H
#define TASKJET_WORKERS_H

#include <stdint.h>

#include "task/backend.h"
#include "task/router.h"

struct workers;

/*
 * Start the threads over `b` (started) for every route of `router`, each
 * task going to sink->deliver. All borrowed until workers_wait() returned.
 * 0 or -errno (nothing left running).
 */
int workers_start(struct backend *b, const struct router *router, const struct backend_sink *sink,
                  struct workers **w_r);

/* Wait up to grace_ms for every thread to finish its task and return
 * (after the backend's request_stop). Returns how many were still busy;
 * call again to wait more. Those still busy at workers_destroy() are
 * abandoned: it then leaves them alone. */
int workers_wait(struct workers *w, int64_t grace_ms);

/* After workers_wait() and engine_stop_calls(): wait up to grace_ms more,
 * but only for the threads of routes that run their handlers in worker
 * processes (their calls end within a receive tick), not for handler
 * threads. Returns how many threads of any route are still busy. */
int workers_wait_processes(struct workers *w, int64_t grace_ms);

/* Free. NULL is a no-op. After workers_wait(). */
void workers_destroy(struct workers *w);

#endif
