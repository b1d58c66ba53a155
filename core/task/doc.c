/* SPDX-License-Identifier: MIT */
/* The JSON documents of dead letters and stats, for HTTP and the CLI. */
#include <math.h>
#include <stdio.h>

#include "task/doc.h"
#include "util/clock.h"

/* "key": "value", or "key": null when value is NULL. */
static void
member_string_or_null(struct jsonw *w, const char *key, const char *value)
{
	jsonw_key(w, key);
	if (value != NULL)
		jsonw_string(w, value);
	else
		jsonw_null(w);
}

static void
member_time(struct jsonw *w, const char *key, int64_t wall_ms)
{
	char when[40];

	jsonw_member_string(w, key, clock_format_rfc3339(wall_ms, true, when, sizeof(when)));
}

static void
dead_letter_members(struct jsonw *w, const struct dlq_entry *e, bool full)
{
	jsonw_member_uint(w, "seq", e->seq);
	member_time(w, "stored_at", e->stored_ns / 1000000);
	member_string_or_null(w, "dlq_subject", e->dlq_subject);
	member_string_or_null(w, "subject", e->orig_subject);
	member_string_or_null(w, "stream", e->orig_stream);
	jsonw_member_uint(w, "stream_seq", e->orig_seq);
	jsonw_member_uint(w, "attempts", e->attempts);
	member_string_or_null(w, "reason", e->reason);
	member_string_or_null(w, "error", e->error);
	member_string_or_null(w, "plugin", e->plugin);
	member_string_or_null(w, "failed_at", e->failed_at);
	if (!full)
		return;
	jsonw_key(w, "headers");
	jsonw_begin_array(w);
	for (size_t i = 0; i < e->header_count; i++) {
		jsonw_begin_object(w);
		jsonw_member_string(w, "key", e->headers[i].key);
		jsonw_member_string(w, "value", e->headers[i].value);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	/* Messages besides this one the letter is stored in (dlq_store.h). */
	jsonw_member_uint(w, "stored_parts", e->stored_parts);
	jsonw_member_uint(w, "payload_len", e->payload_len);
	jsonw_member_bytes(w, "payload", e->payload != NULL ? e->payload : "",
	                   e->payload != NULL ? e->payload_len : 0);
}

void
doc_dead_letter(struct jsonw *w, const struct dlq_entry *e, bool full)
{
	jsonw_begin_object(w);
	dead_letter_members(w, e, full);
	jsonw_end_object(w);
}

void
doc_dead_letters(struct jsonw *w, const char *dlq_stream, const struct dlq_list *list)
{
	jsonw_begin_object(w);
	jsonw_member_string(w, "dlq_stream", dlq_stream);
	jsonw_member_uint(w, "count", list->count);
	jsonw_member_uint(w, "scanned", list->scanned);
	jsonw_member_bool(w, "truncated", list->truncated);
	jsonw_member_uint(w, "next_seq", list->next_seq);
	jsonw_key(w, "entries");
	jsonw_begin_array(w);
	for (size_t i = 0; i < list->count; i++)
		doc_dead_letter(w, &list->entries[i], false);
	jsonw_end_array(w);
	jsonw_end_object(w);
}

void
doc_replay(struct jsonw *w, uint64_t seq, const struct dlq_replay_result *res, const char *err)
{
	jsonw_begin_object(w);
	jsonw_member_uint(w, "seq", seq);
	jsonw_member_bool(w, "ok", err == NULL);
	if (err == NULL && res->gone) {
		/* Replayed (or deleted) before: nothing was published now. */
		jsonw_member_bool(w, "gone", true);
	} else if (err == NULL) {
		jsonw_member_string(w, "stream", res->new_stream);
		jsonw_member_uint(w, "stream_seq", res->new_seq);
		jsonw_member_bool(w, "duplicate", res->duplicate);
	} else {
		jsonw_member_string(w, "error", err);
	}
	jsonw_end_object(w);
}

/* ---- stats ---- */

static uint64_t
load_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
member_rate(struct jsonw *w, const struct stats_rates *r, const char *key, double v)
{
	if (r == NULL)
		return;
	jsonw_key(w, key);
	jsonw_double(w, (double)(int64_t)(v * 10 + 0.5) / 10);
}

/* "9.95s": seconds, trailing zeros trimmed, as the origin notes show. */
static void
member_duration(struct jsonw *w, const char *key, uint64_t us)
{
	char buf[64];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "%llu.%06llu", (unsigned long long)(us / 1000000),
	                     (unsigned long long)(us % 1000000));
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	buf[n++] = 's';
	buf[n] = '\0';
	jsonw_member_string(w, key, buf);
}

static void
stream_members(struct jsonw *w, const struct stats_stream *st)
{
	member_string_or_null(w, "name", st->name);
	jsonw_member_bool(w, "found", st->found);
	if (!st->found)
		return;
	jsonw_member_uint(w, "messages", st->msgs);
	jsonw_member_uint(w, "bytes", st->bytes);
	jsonw_member_uint(w, "first_seq", st->first_seq);
	jsonw_member_uint(w, "last_seq", st->last_seq);
	jsonw_member_uint(w, "consumers", st->consumers);
	jsonw_member_uint(w, "deleted", st->deleted);
}

static void
seq_pair(struct jsonw *w, const char *key, uint64_t consumer_seq, uint64_t stream_seq)
{
	jsonw_key(w, key);
	jsonw_begin_object(w);
	jsonw_member_uint(w, "consumer_seq", consumer_seq);
	jsonw_member_uint(w, "stream_seq", stream_seq);
	jsonw_end_object(w);
}

static void
consumer_doc(struct jsonw *w, const struct stats_consumer *c, const struct stats_rates *r, size_t i)
{
	jsonw_key(w, "consumer");
	jsonw_begin_object(w);
	jsonw_member_string(w, "name", c->consumer);
	jsonw_member_bool(w, "found", c->found);
	if (c->found) {
		jsonw_member_uint(w, "pending", c->num_pending);
		jsonw_member_uint(w, "ack_pending", c->num_ack_pending);
		jsonw_member_uint(w, "redelivered", c->num_redelivered);
		jsonw_member_uint(w, "waiting", c->num_waiting);
		jsonw_member_uint(w, "max_ack_pending", c->max_ack_pending);
		jsonw_member_bool(w, "held", stats_consumer_held(c));
		seq_pair(w, "delivered", c->delivered_consumer_seq, c->delivered_stream_seq);
		seq_pair(w, "ack_floor", c->ack_floor_consumer_seq, c->ack_floor_stream_seq);
		member_rate(w, r, "delivered_per_sec", r != NULL ? r->consumer_delivered[i] : 0);
		member_rate(w, r, "acked_per_sec", r != NULL ? r->consumer_acked[i] : 0);
	}
	jsonw_end_object(w);
}

/* What the engine itself counted for a route. */
static void
engine_members(struct jsonw *w, const struct route_stats *st)
{
	jsonw_member_uint(w, "received", load_u64(&st->received));
	jsonw_member_uint(w, "acked", load_u64(&st->acked));
	jsonw_member_uint(w, "retried", load_u64(&st->retried));
	jsonw_key(w, "dead_lettered");
	jsonw_begin_object(w);
	for (int k = 0; k < DLQ_REASON_COUNT; k++)
		jsonw_member_uint(w, dlq_reason_name(k), load_u64(&st->dead_lettered[k]));
	jsonw_end_object(w);
	jsonw_member_uint(w, "dlq_failures", load_u64(&st->dlq_failures));
	jsonw_member_uint(w, "in_flight", load_u64(&st->in_flight));
	member_duration(w, "total_duration", load_u64(&st->handler_us_total));
}

static void
pool_doc(struct jsonw *w, const struct router *router)
{
	uint64_t processed = 0, acked = 0, total_us = 0;

	for (size_t i = 0; i < router->count; i++) {
		const struct route_stats *st = &router->routes[i].stats;

		acked += load_u64(&st->acked);
		processed += load_u64(&st->acked) + load_u64(&st->retried) +
		             route_stats_dead_lettered(st) + load_u64(&st->dlq_failures);
		total_us += load_u64(&st->handler_us_total);
	}
	jsonw_key(w, "pool");
	jsonw_begin_object(w);
	jsonw_member_uint(w, "processed_count", processed);
	jsonw_member_uint(w, "error_count", processed - acked);
	member_duration(w, "total_duration", total_us);
	jsonw_end_object(w);
}

void
doc_stats(struct jsonw *w, const struct stats_snapshot *s, const struct stats_rates *r,
          const struct router *router)
{
	jsonw_begin_object(w);
	member_time(w, "time", s->wall_ms);
	if (r != NULL) {
		jsonw_key(w, "interval_seconds");
		jsonw_double(w, r->seconds);
	}
	member_string_or_null(w, "backend", s->backend);
	jsonw_key(w, "queue");
	if (s->queue_known) {
		jsonw_begin_object(w);
		jsonw_member_uint(w, "total_enqueued", s->total_enqueued);
		jsonw_member_uint(w, "total_dequeued", s->total_dequeued);
		jsonw_member_uint(w, "current_size", s->current_size);
		if (s->has_capacity)
			jsonw_member_uint(w, "capacity", s->capacity);
		jsonw_end_object(w);
	} else {
		jsonw_null(w);
	}
	if (router != NULL)
		pool_doc(w, router);
	jsonw_key(w, "streams");
	jsonw_begin_array(w);
	for (size_t i = 0; i < s->stream_count; i++) {
		jsonw_begin_object(w);
		stream_members(w, &s->streams[i]);
		if (s->streams[i].found) {
			member_rate(w, r, "in_per_sec", r != NULL ? r->stream_in[i] : 0);
			member_rate(w, r, "out_per_sec", r != NULL ? r->stream_out[i] : 0);
		}
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	jsonw_key(w, "routes");
	jsonw_begin_array(w);
	for (size_t i = 0; i < s->consumer_count; i++) {
		const struct stats_consumer *c = &s->consumers[i];

		jsonw_begin_object(w);
		jsonw_member_string(w, "name", c->route);
		member_string_or_null(w, "subject", c->subject);
		member_string_or_null(w, "stream", c->stream);
		if (router != NULL && i < router->count)
			engine_members(w, &router->routes[i].stats);
		consumer_doc(w, c, r, i);
		jsonw_end_object(w);
	}
	jsonw_end_array(w);
	jsonw_key(w, "dlq");
	jsonw_begin_object(w);
	stream_members(w, &s->dlq);
	if (s->dlq.found)
		member_rate(w, r, "in_per_sec", r != NULL ? r->dlq_in : 0);
	if (s->reason_count > 0 || s->reasons_truncated) {
		jsonw_key(w, "by_reason");
		jsonw_begin_object(w);
		for (size_t i = 0; i < s->reason_count; i++)
			jsonw_member_uint(w, s->reasons[i].reason, s->reasons[i].count);
		jsonw_end_object(w);
		jsonw_member_bool(w, "by_reason_truncated", s->reasons_truncated);
	}
	jsonw_end_object(w);
	jsonw_end_object(w);
}

/* ---- overview ---- */

/* count / seconds rounded to 0.01, or null without a span. */
static void
member_per_sec(struct jsonw *w, const char *key, uint64_t count, double seconds)
{
	jsonw_key(w, key);
	if (seconds <= 0)
		jsonw_null(w);
	else
		jsonw_double(w, round((double)count / seconds * 100) / 100);
}

/* A handler-time quantile in seconds (to the microsecond), null when no
 * call was measured. */
static void
member_quantile(struct jsonw *w, const char *key, const struct metrics_hist *h,
                const uint64_t *counts, double q)
{
	double v = h != NULL ? metrics_hist_quantile(h, counts, q) : NAN;

	jsonw_key(w, key);
	jsonw_double(w, isnan(v) ? v : round(v * 1e6) / 1e6);
}

/* A number the store reported for the route's consumer, or null. */
static void
member_consumer_uint(struct jsonw *w, const char *key, const struct stats_consumer *c, uint64_t v)
{
	jsonw_key(w, key);
	if (c != NULL && c->found)
		jsonw_uint(w, v);
	else
		jsonw_null(w);
}

static void
last_minute_doc(struct jsonw *w, const struct route_window *win, const struct metrics_hist *h)
{
	uint64_t calls = 0;

	for (size_t b = 0; b <= METRICS_MAX_BUCKETS; b++)
		calls += win->handler_counts[b];
	jsonw_key(w, "last_minute");
	jsonw_begin_object(w);
	jsonw_key(w, "seconds");
	jsonw_double(w, round(win->seconds * 10) / 10);
	member_per_sec(w, "received_per_sec", win->received, win->seconds);
	member_per_sec(w, "acked_per_sec", win->acked, win->seconds);
	member_per_sec(w, "retried_per_sec", win->retried, win->seconds);
	member_per_sec(w, "dead_lettered_per_sec", win->dead_lettered, win->seconds);
	jsonw_member_uint(w, "handler_calls", calls);
	member_quantile(w, "handler_p50_seconds", h, win->handler_counts, 0.5);
	member_quantile(w, "handler_p99_seconds", h, win->handler_counts, 0.99);
	jsonw_end_object(w);
}

static void
overview_route_doc(struct jsonw *w, const struct overview *o, size_t i)
{
	const struct route *route = &o->router->routes[i];
	const struct cfg_route *rc = route->cfg;
	const struct route_stats *st = &route->stats;
	const struct stats_consumer *c =
	    o->snap != NULL && i < o->snap->consumer_count ? &o->snap->consumers[i] : NULL;
	const struct metrics_hist *h =
	    o->metrics != NULL ? metrics_handler_hist(o->metrics, i) : NULL;

	jsonw_begin_object(w);
	jsonw_member_string(w, "name", rc->name);
	jsonw_member_string(w, "subject", rc->subject);
	jsonw_member_string(w, "stream", rc->stream);
	member_string_or_null(w, "consumer",
	                      c != NULL && c->consumer[0] != '\0' ? c->consumer : NULL);
	jsonw_key(w, "plugin");
	jsonw_begin_object(w);
	jsonw_member_string(w, "name", rc->plugin);
	member_string_or_null(w, "handler", rc->handler);
	member_string_or_null(w, "version", o->routes[i].plugin_version);
	jsonw_end_object(w);
	member_string_or_null(w, "isolation", o->routes[i].isolation);
	jsonw_member_int(w, "concurrency", rc->concurrency);
	jsonw_member_int(w, "max_attempts", rc->max_attempts);
	jsonw_member_uint(w, "in_flight", load_u64(&st->in_flight));
	member_consumer_uint(w, "pending", c, c != NULL ? c->num_pending : 0);
	member_consumer_uint(w, "ack_pending", c, c != NULL ? c->num_ack_pending : 0);
	member_consumer_uint(w, "redelivered", c, c != NULL ? c->num_redelivered : 0);
	jsonw_member_uint(w, "received", load_u64(&st->received));
	jsonw_member_uint(w, "acked", load_u64(&st->acked));
	jsonw_member_uint(w, "retried", load_u64(&st->retried));
	jsonw_member_uint(w, "dead_lettered", route_stats_dead_lettered(st));
	jsonw_member_uint(w, "dlq_failures", load_u64(&st->dlq_failures));
	member_quantile(w, "handler_p50_seconds", h, h != NULL ? h->counts : NULL, 0.5);
	member_quantile(w, "handler_p99_seconds", h, h != NULL ? h->counts : NULL, 0.99);
	last_minute_doc(w, &o->routes[i].window, h);
	jsonw_end_object(w);
}

void
doc_overview(struct jsonw *w, const struct overview *o)
{
	const struct stats_snapshot *s = o->snap;

	jsonw_begin_object(w);
	member_time(w, "time", o->wall_ms);
	member_string_or_null(w, "worker_id", o->worker_id);
	member_string_or_null(w, "version", o->version);
	member_time(w, "started_at", o->started_wall_ms);
	jsonw_member_int(w, "uptime_seconds", o->uptime_ms / 1000);
	member_string_or_null(w, "backend", s->backend);
	member_string_or_null(w, "location", o->location);
	jsonw_key(w, "connection");
	if (s->has_connection) {
		jsonw_begin_object(w);
		jsonw_member_bool(w, "connected", s->connected);
		jsonw_member_uint(w, "reconnects", s->reconnects);
		jsonw_end_object(w);
	} else {
		jsonw_null(w);
	}
	jsonw_member_bool(w, "ready", o->ready);
	member_string_or_null(w, "not_ready_reason", o->ready ? NULL : o->not_ready_reason);
	jsonw_member_bool(w, "token_required", o->token_required);
	jsonw_key(w, "dlq");
	jsonw_begin_object(w);
	member_string_or_null(w, "stream", s->dlq.name);
	jsonw_member_bool(w, "found", s->dlq.found);
	if (s->dlq.found) {
		jsonw_member_uint(w, "messages", s->dlq.msgs);
		jsonw_member_uint(w, "first_seq", s->dlq.first_seq);
		jsonw_member_uint(w, "last_seq", s->dlq.last_seq);
	}
	jsonw_end_object(w);
	jsonw_key(w, "dlq_reasons");
	jsonw_begin_array(w);
	for (int k = 0; k < DLQ_REASON_COUNT; k++)
		jsonw_string(w, dlq_reason_name(k));
	jsonw_end_array(w);
	jsonw_key(w, "window_seconds");
	jsonw_double(w, (double)o->window_ms / 1000);
	jsonw_key(w, "routes");
	jsonw_begin_array(w);
	for (size_t i = 0; i < o->router->count; i++)
		overview_route_doc(w, o, i);
	jsonw_end_array(w);
	jsonw_end_object(w);
}
