/* SPDX-License-Identifier: MIT */
/*
 * The JetStream backend: a struct backend whose ops act on JetStream
 * messages, plus the consumer runtime that fetches tasks from each route's
 * durable pull consumer and hands them to the engine, plus the advisory
 * reader that dead-letters messages the server gave up on
 * (MAX_DELIVERIES). This header does not expose libnats, so the engine
 * and the CLI can include it.
 *
 * Lifecycle (main thread): create -> ensure_topology -> start ->
 * request_stop (any thread, also from a signal handler) -> wait -> destroy.
 */
#ifndef TASKJET_BACKEND_JETSTREAM_H
#define TASKJET_BACKEND_JETSTREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/backend.h"
#include "config/config.h"
#include "engine/router.h"

struct js_backend;

/*
 * What the runtime calls. Both run on backend threads, concurrently for
 * different tasks; ctx is passed back as is.
 *
 * process: one delivered task. Everything the backend set in the task
 * (subject, payload, stream, id, backend_msg...) stays valid until it
 * returns; the callee decides the disposition and applies it through
 * task->backend->ops (ack, nak, term + dead_letter...) before returning,
 * and releases what it put into the task (task_release). A task it
 * leaves unacked is redelivered by the server after the route's ack_wait.
 * The return value (0 or -errno) is only logged.
 *
 * dead_letter: a message the server stopped delivering after MaxDeliver
 * attempts (reason DLQ_REASON_MAX_DELIVERIES), synthesized from the
 * stream: route is set, backend_msg is the stored message, and
 * ack/nak/term/in_progress on it are no-ops that return 0 (the backend
 * deletes the stored message itself once this returned 0). Return 0 only
 * once the dead letter is stored (ops->dead_letter returned 0); on
 * failure the advisory is retried later. NULL disables the advisory
 * reader.
 */
struct js_callbacks {
	int (*process)(void *ctx, struct tj_task *task);
	int (*dead_letter)(void *ctx, struct tj_task *task, enum dlq_reason reason,
	                   const char *error);
	void *ctx;
};

struct js_backend_options {
	/* Send acks on a second, buffered connection and pull requests on a
	 * SendAsap one, so neither waits for libnats' ~1 ms flusher delay
	 * (see bench/README.md). The default (opts NULL) is on. */
	bool split_ack;
};

/*
 * Connect to `url` (NULL: cfg->nats.url). cfg is borrowed and must outlive
 * the backend. opts may be NULL (defaults: split ack). Fails fast if the server is
 * unreachable (-ECONNREFUSED), after logging why. *b_r is freed with
 * js_backend_destroy().
 */
int js_backend_create(const struct cfg *cfg, const char *url, const struct js_backend_options *opts,
                      struct js_backend **b_r);

/*
 * Create/update the streams and consumers the config needs (dry_run: only
 * look). Each report line is passed to print(arg, line) if print is not
 * NULL. Returns 0 when nothing is (or would be) left to do, -EAGAIN for a
 * dry run that found work to do, -EEXIST for a difference that cannot be
 * fixed in place, -EIO when the server refused a call.
 */
int js_backend_ensure_topology(struct js_backend *b, bool dry_run,
                               void (*print)(void *arg, const char *line), void *arg);

/* The struct backend to hand to the engine; lives as long as b. */
struct backend *js_backend_base(struct js_backend *b);

/*
 * Bind `concurrency` pull subscriptions per route of `router` to the
 * route's durable (which ensure_topology created) and start one thread
 * each, plus the advisory reader if cb->dead_letter is set. router and cb
 * are borrowed until js_backend_wait() returned. 0 or -errno (nothing is
 * left running on failure). Call once.
 */
int js_backend_start(struct js_backend *b, const struct router *router,
                     const struct js_callbacks *cb);

/* Stop fetching; tasks being processed finish. Async-signal-safe. */
void js_backend_request_stop(struct js_backend *b);

/*
 * Request a stop, wait up to grace_ms for the threads to finish their
 * current tasks (fetched but unstarted tasks are naked back at once),
 * flush the acks and release the subscriptions. Returns how many threads
 * were still busy at the deadline: they are abandoned (the server
 * redelivers their tasks after ack_wait) and destroy() then leaves the
 * connection open for them. Main thread.
 */
int js_backend_wait(struct js_backend *b, int64_t grace_ms);

/* Close the connections and free. NULL is a no-op. After wait(). */
void js_backend_destroy(struct js_backend *b);

/* Observe fetch batch sizes into `m` (borrowed; may be NULL). Call
 * before js_backend_start(). */
struct metrics;
void js_backend_set_metrics(struct js_backend *b, struct metrics *m);

/*
 * Publish and wait for the stream's ack (retried with the same msg_id on a
 * timeout, like ops->publish). msg_id may be NULL. On success sets
 * *seq_r to the stream sequence and *duplicate_r when the stream had the
 * id already (seq is then the first copy's). -ENOENT: no stream takes the
 * subject; -ENOBUFS: full; -EMSGSIZE: too large; -ENOTCONN when not
 * connected right now (fails fast instead of waiting out the timeouts).
 * Any thread.
 */
int js_backend_publish(struct js_backend *b, const char *subject, const void *data, size_t len,
                       const char *msg_id, uint64_t *seq_r, bool *duplicate_r);

/* A route consumer's counters, as the server reports them. */
struct js_consumer_numbers {
	uint64_t pending; /* stored, matching, not yet delivered */
	uint64_t ack_pending; /* delivered, not yet acked */
	uint64_t redelivered; /* delivered more than once, not yet acked */
	uint64_t waiting; /* pull requests waiting */
	uint64_t delivered; /* deliveries made (consumer sequence) */
};

/* Ask the server for route `rc`'s consumer (bounded by timeout_ms). 0,
 * -ENOENT if the consumer is gone, or -errno. Any thread. */
int js_backend_consumer_numbers(struct js_backend *b, const struct cfg_route *rc,
                                int64_t timeout_ms, struct js_consumer_numbers *n_r);
/* Messages in stream `name` and its last sequence. 0 or -errno. */
int js_backend_stream_numbers(struct js_backend *b, const char *name, int64_t timeout_ms,
                              uint64_t *msgs_r, uint64_t *last_seq_r);
/* The main connection, for modules that take one (dlq_admin); lives as
 * long as b. Thread-safe. */
struct natsconn;
struct natsconn *js_backend_conn(struct js_backend *b);

/* True once start() bound every route's subscriptions (and until wait()). */
bool js_backend_started(const struct js_backend *b);

/* Connected right now; any thread. */
bool js_backend_connected(const struct js_backend *b);
/* Times the main connection was re-established; any thread. */
uint64_t js_backend_reconnects(const struct js_backend *b);

/* The version of the NATS client library in use ("3.4.1"). */
const char *js_client_version(void);

#endif
