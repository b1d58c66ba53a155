/* SPDX-License-Identifier: MIT */
/*
 * The JSON documents taskjet shows an operator: a dead letter, a list of
 * them, a replay's result, a stats snapshot with its routes. The HTTP API
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

#endif
