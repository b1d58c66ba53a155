/* SPDX-License-Identifier: MIT */
/*
 * The engine: config + router + loaded plugins + one backend, and the
 * lifecycle that ties them together (start, graceful stop, wait).
 *
 * A route of "isolation": "process" gets a pool of worker processes
 * (plugin/procpool.h), one per worker thread: thread i of the route calls
 * worker i (task->slot), and no plugin code runs in the engine. A route of
 * "isolation": "thread" has its plugin loaded here and called on the
 * worker threads. Either way the engine keeps the task alive with
 * in-progress beats until the route's timeout; a handler thread still
 * running then is "hung": no longer kept alive, counted and reported.
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

/* Where handlers run, over the routes' own "isolation". */
enum engine_isolation {
	ENGINE_ISOLATION_ROUTE = 0, /* as each route says */
	ENGINE_ISOLATION_THREAD, /* every route in threads (taskjet exec) */
	ENGINE_ISOLATION_PROCESS, /* every route in worker processes (exec --isolate) */
};

struct engine_options {
	/* NULL: the real random source. */
	const struct rng *rng;
	enum engine_isolation isolation;
	/* Worker processes per process route; 0: its concurrency. One for
	 * commands that run a task at a time (exec) or none (check). */
	unsigned pool_workers;
};

/*
 * Build the router and load every route's plugin (thread routes) or start
 * its worker processes and wait for their init (process routes). On
 * failure returns -errno, logs what went wrong and, if err is not NULL,
 * writes its first line there (errlen bytes). Main thread only.
 */
int engine_create(const struct cfg *cfg, const struct engine_options *opts, char *err,
                  size_t errlen, struct engine **engine_r);
/* Finalise the worker processes, unload plugins and free. No handler may
 * be running (workers stopped). NULL is a no-op. */
void engine_destroy(struct engine *engine);

/* Attach the backend that receives dispositions and host-API publishes
 * (NULL: detach; host-API publishes keep going to another engine's backend
 * if one took over). Borrowed; must outlive the engine's use of it. */
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
 * The end of a grace: kill the worker processes still in a call, so their
 * tasks are given back (nak'd, not counted as the plugin's crash) and the
 * worker threads return. Handler threads cannot be stopped. Any thread.
 */
void engine_stop_calls(struct engine *engine);

/* True when `route` runs its handlers in threads, or worker process `slot`
 * of it is up (idle or in a call): a task given to that slot now runs.
 * Thread-safe. */
bool engine_slot_live(struct engine *engine, const struct route *route, unsigned slot);

/*
 * False, with why, when a route cannot run tasks: its worker processes
 * cannot be kept alive ("route r: plugin init failed 3 times: ...;
 * next try in 4 s"), or every one of its handler threads is hung.
 * Thread-safe.
 */
bool engine_ready(struct engine *engine, char *why, size_t len);
/* One line per handler thread hung past its timeout ("route r: task T
 * (plugin p) hung 12 s, timeout 1 s"), into buf (len bytes, cut if
 * needed); returns how many there are. Thread-safe. */
unsigned engine_hung_report(struct engine *engine, char *buf, size_t len);
/* True when <plugin_dir>/<plugin>.so of `route` is no longer the file its
 * plugin was loaded from (replaced, changed or gone). Main thread. */
bool engine_plugin_changed(struct engine *engine, const struct route *route);

/* Append the engine's own Prometheus families (worker processes per
 * route, hung handler threads, tasks given back). Thread-safe. */
struct mbuf;
void engine_render_metrics(struct engine *engine, struct mbuf *b);

/*
 * Run one delivered task to its end: find its route (unless task->route is
 * set), reject an invalid JSON payload for "payload": "json" routes, call
 * the handler while a heartbeat keeps the task alive, and apply the
 * disposition. Called from backend worker threads. Fills *result_r (may be
 * NULL). Returns 0, or -errno if the disposition could not be sent (the
 * task then stays unacked and the server redelivers it).
 */
int engine_process(struct engine *engine, struct tj_task *task, struct disp_result *result_r);

/*
 * engine_process for up to SINK_BATCH_MAX tasks of one process-isolated
 * route (task->route set), taken by the thread of task->slot: their
 * handlers run one after the other on that slot's worker, sent in one
 * message (procpool_call_batch), each settled as it ends. Anything else
 * (mixed routes, a thread route, more tasks) is run by engine_process one
 * by one. 0, or the first disposition's -errno.
 */
int engine_process_batch(struct engine *engine, struct tj_task **tasks, size_t n);

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
