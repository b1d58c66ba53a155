/* SPDX-License-Identifier: MIT */
/*
 * The engine: config + router + loaded plugins + one backend, and the
 * lifecycle that ties them together (start, graceful stop, wait).
 */
#ifndef TASKJET_ENGINE_H
#define TASKJET_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "task/backend.h"
#include "config/config.h"
#include "task/disposition.h"
#include "task/router.h"

struct engine;

struct engine_options {
	/* NULL: the real random source. */
	const struct rng *rng;
	/* Run each handler call in a forked child (taskjet exec --isolate):
	 * a crash dead-letters the task with reason "crashed". */
	bool isolate_handlers;
};

/*
 * Build the router and load every route's plugin. On failure returns -errno
 * and prints what went wrong through the log. Main thread only.
 */
int engine_create(const struct cfg *cfg, const struct engine_options *opts,
                  struct engine **engine_r);
/* Unload plugins and free. Workers must be stopped. NULL is a no-op. */
void engine_destroy(struct engine *engine);

/* Attach the backend that receives dispositions and host-API publishes.
 * Borrowed; must outlive the engine's use of it. */
void engine_set_backend(struct engine *engine, struct backend *backend);

/* Record handler durations and attempts into `m` (borrowed; NULL: none).
 * Set before tasks flow. */
struct metrics;
void engine_set_metrics(struct engine *engine, struct metrics *m);

const struct cfg *engine_cfg(const struct engine *engine);
struct router *engine_router(const struct engine *engine);

/* Ask everything to stop fetching. Async-signal-safe. */
void engine_request_stop(struct engine *engine);
/* True once a stop was requested. Thread-safe. */
bool engine_stopping(const struct engine *engine);

/*
 * Run one delivered task to its end: find its route (unless task->route is
 * set), reject an invalid JSON payload for "payload": "json" routes, call
 * the handler while a heartbeat keeps the task alive, and apply the
 * disposition. Called from backend worker threads. Fills *result_r (may be
 * NULL). Returns 0, or -errno if the disposition could not be sent (the
 * task then stays unacked and the server redelivers it).
 */
int engine_process(struct engine *engine, struct tj_task *task, struct disp_result *result_r);

/* Write a dead letter for a task that never reached a handler (e.g. the
 * max-deliveries advisory path). Same return as engine_process. */
int engine_dead_letter(struct engine *engine, struct tj_task *task, enum dlq_reason reason,
                       const char *error, struct disp_result *result_r);

/*
 * The sink backends deliver into (see struct backend_sink): deliver is
 * engine_process(); dead_letter is engine_dead_letter() and succeeds only
 * once the letter is stored; metrics is what engine_set_metrics() set.
 * Lives as long as the engine.
 */
const struct backend_sink *engine_sink(struct engine *engine);

#endif
