/* SPDX-License-Identifier: MIT */
/*
 * The memory backend: the same engine over a bounded in-process queue
 * instead of JetStream. Same routing, retry delays and dead letters (kept
 * in memory and listable); publish fails with -ENOBUFS when the queue is
 * full rather than dropping anything. Nothing survives the process.
 *
 * Threads: mem_backend_publish, the backend ops and the letter accessors
 * are thread-safe. create/start/stop/destroy belong to one controlling
 * thread. mem_backend_run_one must not be mixed with start().
 */
#ifndef TASKJET_BACKEND_MEMORY_H
#define TASKJET_BACKEND_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "engine/backend.h"
#include "engine/engine.h"

struct mem_backend;

/* A dead letter kept in memory. Immutable once listed. */
struct mem_letter {
	const struct mem_letter *next;
	uint64_t seq; /* 1-based position in the memory DLQ */
	char *subject;
	char *payload; /* NUL-terminated at len */
	size_t len;
	struct dlq_header *headers; /* original headers, then the Taskjet-* ones */
	size_t header_count;
};

struct mem_stats {
	uint64_t total_enqueued; /* tasks accepted by publish */
	uint64_t total_dequeued; /* deliveries handed to a handler */
	uint64_t current_size; /* tasks queued, delayed or in flight */
	uint64_t dead_letters;
	uint64_t unrouted; /* accepted into a non-workqueue stream no route serves */
};

/* What mem_backend_run_one did, for `taskjet exec`. */
struct mem_step {
	char subject[256];
	uint32_t attempt;
	int verdict; /* the handler's, -1 if it was not called */
	int64_t waited_ms; /* how long the task waited for its due time */
	struct disp_result result;
	char fail_reason[512];
};

/* Create over `engine`'s router and config; attaches itself as the
 * engine's backend. 0 or -errno. */
int mem_backend_create(struct engine *engine, struct mem_backend **b_r);
void mem_backend_destroy(struct mem_backend *b);
struct backend *mem_backend_base(struct mem_backend *b);

/* Multiply every redelivery delay by `scale` (exec --delay-scale). */
void mem_backend_set_delay_scale(struct mem_backend *b, double scale);

/*
 * Enqueue a task. `headers` (n pairs) and all strings are copied. A task no
 * route serves is dead-lettered at once with reason no_route if its stream
 * is a work queue (nobody else would ever take it), else only counted. -ENOENT: no
 * stream takes the subject; -ENOBUFS: the queue is at capacity. A repeated
 * msg_id within the stream's duplicate window is accepted and ignored.
 */
int mem_backend_publish(struct mem_backend *b, const char *subject, const void *data, size_t len,
                        const struct dlq_header *headers, size_t n, const char *msg_id,
                        uint64_t *seq_r);

/* Start each route's `concurrency` worker threads. 0 or -errno. */
int mem_backend_start(struct mem_backend *b);
/* Stop taking tasks; workers finish the task in hand. Async-signal-unsafe. */
void mem_backend_request_stop(struct mem_backend *b);
/* Join workers that finish within grace_ms; returns how many were left
 * running (their tasks stay queued in memory, which ends with the process). */
int mem_backend_wait(struct mem_backend *b, int64_t grace_ms);
/* Block until no task is queued, delayed or in flight, or timeout_ms
 * passes. 0, or -ETIMEDOUT. */
int mem_backend_drain(struct mem_backend *b, int64_t timeout_ms);

/*
 * Synchronously deliver the next task that is due (waiting for its delay,
 * at most timeout_ms) on the calling thread. Returns 1 if a task was
 * processed (and fills *step_r), 0 if none was due in time.
 */
int mem_backend_run_one(struct mem_backend *b, int64_t timeout_ms, struct mem_step *step_r);

/* The first dead letter (then follow ->next); NULL if none. */
const struct mem_letter *mem_backend_letters(struct mem_backend *b);
void mem_backend_stats(struct mem_backend *b, struct mem_stats *stats_r);

#endif
