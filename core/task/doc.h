/* SPDX-License-Identifier: MIT */
/*
 * The JSON documents taskjet shows an operator: a dead letter, a list of
 * them, a replay's result, a stats snapshot with its routes, the
 * dashboard's overview. The HTTP API
 * and the CLI (--json) both write them here, so the same object gives the
 * same document whichever way it is asked for. Written with the JSON
 * writer (common/jsonw.h): valid by construction, text that is not UTF-8
 * replaced, payloads that are not text in base64 ("payload_encoding").
 *
 * Every function appends one value to `w`, which the caller owns; pure and
 * thread-safe for different writers.
 */
#ifndef TASKJET_DOC_H
#define TASKJET_DOC_H

#include <stdbool.h>
#include <stdint.h>

#include "jsonw.h"
#include "task/dlq.h"
#include "task/history.h"
#include "task/router.h"
#include "task/stats.h"

/*
 * A dead letter: seq, stored_at (RFC 3339, ms), dlq_subject, subject,
 * stream, stream_seq, attempts, reason, error, plugin, failed_at; with
 * `full` also headers ([{"key", "value"}...], in their stored order),
 * stored_parts (0 for a letter stored whole), payload_len,
 * payload_encoding ("utf-8" or "base64") and payload.
 */
void doc_dead_letter(struct jsonw *w, const struct dlq_entry *e, bool full);

/* A listing: dlq_stream, count, scanned, truncated, next_seq and entries
 * (each a dead letter without headers and payload). */
void doc_dead_letters(struct jsonw *w, const char *dlq_stream, const struct dlq_list *list);

/* A replay's outcome for letter `seq`: on success (err NULL) the stream and
 * stream_seq it was stored at and whether it was a duplicate, or "gone":
 * true when it had been replayed or deleted before; else the error. */
void doc_replay(struct jsonw *w, uint64_t seq, const struct dlq_replay_result *res,
                const char *err);

/*
 * A stats snapshot: time, backend, queue (null when the store could not
 * say), streams, routes, dlq; rates (interval_seconds and *_per_sec
 * fields) when `rates` is not NULL; with `router` (the engine's own view,
 * NULL for a command outside the engine) also pool and each route's
 * engine counters. Routes are those of the snapshot's config, in order;
 * a route's "consumer" holds what the store reports for its durable.
 */
void doc_stats(struct jsonw *w, const struct stats_snapshot *snap, const struct stats_rates *rates,
               const struct router *router);

/* What the HTTP server knows of one route beyond the router and the
 * snapshot; strings borrowed, NULL when unknown. */
struct overview_route {
	const char *plugin_version;
	const char *isolation; /* "process" or "thread" */
	struct route_window window; /* the last window_ms */
};

/* Everything an overview shows; all borrowed for the call. */
struct overview {
	int64_t wall_ms; /* now */
	int64_t started_wall_ms; /* when the engine started serving */
	int64_t uptime_ms;
	const char *worker_id, *version;
	const char *location; /* where the backend runs, without user info */
	bool ready;
	const char *not_ready_reason; /* when not ready */
	bool token_required; /* changes need the bearer token */
	int64_t window_ms; /* what each route's window is meant to cover */
	const struct stats_snapshot *snap; /* routes in router order */
	const struct router *router;
	const struct metrics *metrics; /* NULL: no handler histograms */
	const struct overview_route *routes; /* router->count of them */
};

/*
 * The dashboard's overview: time, worker_id, version, started_at,
 * uptime_seconds, backend, location, connection ({connected, reconnects},
 * null for a backend without one), ready, not_ready_reason,
 * token_required, dlq (stream, found, messages, first_seq, last_seq),
 * dlq_reasons (every reason name), window_seconds and routes: for each,
 * name, subject, stream, consumer, plugin {name, handler, version},
 * isolation, concurrency, max_attempts, in_flight, the server's pending,
 * ack_pending and redelivered (null when the store could not say),
 * received, acked, retried, dead_lettered, dlq_failures, handler_p50_seconds
 * and handler_p99_seconds since start, and last_minute {seconds,
 * received_per_sec, acked_per_sec, retried_per_sec, dead_lettered_per_sec,
 * handler_calls, handler_p50_seconds, handler_p99_seconds} (rates and
 * quantiles null when nothing was measured).
 */
void doc_overview(struct jsonw *w, const struct overview *o);

#endif
