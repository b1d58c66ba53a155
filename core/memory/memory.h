/* SPDX-License-Identifier: MIT */
/*
 * The memory backend (task/backend.h): the same engine over a bounded
 * in-process queue instead of JetStream. Same routing, retry delays and
 * dead letters (kept in memory, listable, replayable); publish fails with
 * -ENOBUFS when the queue is full rather than dropping anything. Nothing
 * survives the process.
 *
 * Besides the interface, `taskjet exec` steps through one task at a time
 * with the functions below: open, bind, publish through the ops, then
 * mem_backend_run_one() on the calling thread (never mixed with start()).
 */
#ifndef TASKJET_MEMORY_H
#define TASKJET_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "task/backend.h"

/* A dead letter kept in memory. Immutable once listed; deleted only by
 * the dlq_* operations (not while exec walks the list). */
struct mem_letter {
	struct mem_letter *next;
	uint64_t seq; /* 1-based position in the memory DLQ */
	int64_t stored_ns; /* wall clock */
	char *subject;
	char *payload; /* NUL-terminated at len */
	size_t len;
	struct msg_header *headers; /* owned: original headers, then Taskjet-* */
	size_t header_count;
};

struct mem_stats {
	uint64_t total_enqueued; /* tasks accepted by publish */
	uint64_t total_dequeued; /* deliveries handed to a handler */
	uint64_t current_size; /* tasks queued, delayed or in flight */
	uint64_t dead_letters; /* kept now */
	uint64_t unrouted; /* accepted into a non-workqueue stream no route serves */
};

/* What mem_backend_run_one did, for `taskjet exec`. */
struct mem_step {
	char subject[256];
	uint32_t attempt;
	int verdict; /* the handler's, -1 if it was not called */
	int64_t waited_ms; /* how long the task waited for its due time */
	bool requeued; /* nak'd: it comes back after delay_ms */
	int64_t delay_ms;
	char fail_reason[512];
};

/* A memory backend for `cfg` (borrowed). 0 or -errno. */
int mem_backend_open(const struct cfg *cfg, struct backend **b_r);

/* Take the routes and the sink without starting workers (exec); start()
 * does this itself. Both borrowed for the backend's life. */
void mem_backend_bind(struct backend *b, const struct router *router,
                      const struct backend_sink *sink);

/* Multiply every redelivery delay by `scale` (exec --delay-scale). */
void mem_backend_set_delay_scale(struct backend *b, double scale);

/*
 * Synchronously deliver the next task that is due (waiting for its delay,
 * at most timeout_ms) on the calling thread. Returns 1 if a task was
 * processed (and fills *step_r), 0 if none was due in time.
 */
int mem_backend_run_one(struct backend *b, int64_t timeout_ms, struct mem_step *step_r);

/* The first dead letter (then follow ->next); NULL if none. */
const struct mem_letter *mem_backend_letters(struct backend *b);
void mem_backend_stats(struct backend *b, struct mem_stats *stats_r);

#endif
