/* SPDX-License-Identifier: MIT */
/* GET /metrics: the engine's counters and what the backend reports, in
 * the Prometheus text format. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <taskjet/plugin.h>

#include "http/internal.h"
#include "task/router.h"
#include "util/procstat.h"

static uint64_t
load_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
route_counters(const struct http_env *env, struct mbuf *b)
{
	struct router *router = engine_router(env->engine);
	static const char *const outcomes[] = { "acked", "retried", "dead_lettered", "dlq_failed" };

	metrics_family(b, "taskjet_tasks_received_total", "counter",
	               "Deliveries handed to the engine, by route.");
	for (size_t i = 0; i < router->count; i++) {
		struct metrics_label l = { "route", router->routes[i].cfg->name };

		metrics_sample(b, "taskjet_tasks_received_total", &l, 1,
		               (double)load_u64(&router->routes[i].stats.received));
	}
	metrics_family(b, "taskjet_tasks_total", "counter",
	               "Finished deliveries by route and outcome (dlq_failed: the "
	               "dead letter could not be written and the task was nak'd, "
	               "negatively acknowledged, to come back later).");
	for (size_t i = 0; i < router->count; i++) {
		struct route_stats *st = &router->routes[i].stats;
		uint64_t v[4] = { load_u64(&st->acked), load_u64(&st->retried),
			          route_stats_dead_lettered(st), load_u64(&st->dlq_failures) };

		for (size_t o = 0; o < 4; o++) {
			struct metrics_label l[2] = { { "route", router->routes[i].cfg->name },
				                      { "outcome", outcomes[o] } };

			metrics_sample(b, "taskjet_tasks_total", l, 2, (double)v[o]);
		}
	}
	metrics_family(b, "taskjet_dead_letters_total", "counter",
	               "Tasks dead-lettered, by route and reason.");
	for (size_t i = 0; i < router->count; i++) {
		for (int k = 0; k < DLQ_REASON_COUNT; k++) {
			struct metrics_label l[2] = { { "route", router->routes[i].cfg->name },
				                      { "reason", dlq_reason_name(k) } };

			metrics_sample(b, "taskjet_dead_letters_total", l, 2,
			               (double)load_u64(&router->routes[i].stats.dead_lettered[k]));
		}
	}
	metrics_family(b, "taskjet_tasks_in_flight", "gauge", "Handlers running now, by route.");
	for (size_t i = 0; i < router->count; i++) {
		struct metrics_label l = { "route", router->routes[i].cfg->name };

		metrics_sample(b, "taskjet_tasks_in_flight", &l, 1,
		               (double)load_u64(&router->routes[i].stats.in_flight));
	}
}

/* One histogram family over every route. */
static void
route_histograms(const struct http_env *env, struct mbuf *b, const char *name, const char *help,
                 const struct metrics_hist *(*get)(const struct metrics *, size_t))
{
	struct router *router = engine_router(env->engine);

	metrics_family(b, name, "histogram", help);
	for (size_t i = 0; i < router->count; i++) {
		struct metrics_label l = { "route", router->routes[i].cfg->name };

		metrics_hist_render(b, name, &l, 1, get(env->metrics, i));
	}
}

/* What each route may hold now: with the automatic look-ahead (no
 * `prefetch` key) this follows the route's rate. */
static void
route_windows(const struct http_env *env, struct mbuf *b)
{
	struct router *router = engine_router(env->engine);

	metrics_family(b, "taskjet_route_window", "gauge",
	               "Messages the route may hold now, running, queued or requested: "
	               "concurrency plus its look-ahead (which follows the route's rate "
	               "when it has no prefetch key).");
	for (size_t i = 0; i < router->count; i++) {
		struct metrics_label l = { "route", router->routes[i].cfg->name };
		uint64_t w = metrics_window(env->metrics, i);

		if (w > 0)
			metrics_sample(b, "taskjet_route_window", &l, 1, (double)w);
	}
}

/* 1 for a route whose consumer is at its MaxAckPending: the server hands
 * it nothing new until deliveries are acknowledged or their retry delay
 * ends (docs/reliability.md, "A downstream outage"). */
static void
held_routes(struct mbuf *b, const struct stats_snapshot *snap)
{
	metrics_family(b, "taskjet_route_held_at_max_ack_pending", "gauge",
	               "1 while the route's consumer has max_ack_pending deliveries "
	               "unacknowledged, so the server hands it no new tasks.");
	for (size_t i = 0; i < snap->consumer_count; i++) {
		const struct stats_consumer *c = &snap->consumers[i];
		struct metrics_label l[3] = { { "route", c->route },
			                      { "stream", c->stream },
			                      { "consumer", c->consumer } };

		if (c->found)
			metrics_sample(b, "taskjet_route_held_at_max_ack_pending", l, 3,
			               stats_consumer_held(c) ? 1 : 0);
	}
}

/* What the backend reports: connection, fetches, queue, DLQ, consumers. */
static void
backend_metrics(const struct http_env *env, struct mbuf *b, const struct stats_snapshot *snap)
{
	static const struct {
		const char *name, *help;
		size_t offset;
	} gauges[] = {
		{ "taskjet_consumer_pending",
		  "Messages stored for the route's consumer and not yet delivered "
		  "(from the server).",
		  offsetof(struct stats_consumer, num_pending) },
		{ "taskjet_consumer_ack_pending",
		  "Messages delivered and not yet acknowledged (from the server).",
		  offsetof(struct stats_consumer, num_ack_pending) },
		{ "taskjet_consumer_redelivered",
		  "Unacknowledged messages delivered more than once (from the server).",
		  offsetof(struct stats_consumer, num_redelivered) },
		{ "taskjet_consumer_max_ack_pending",
		  "The consumer's MaxAckPending: at this many unacknowledged deliveries "
		  "(retries waiting out their delay included) the server hands out no "
		  "more (0: unlimited).",
		  offsetof(struct stats_consumer, max_ack_pending) },
	};
	bool any_consumer = false;

	if (snap->has_connection) {
		metrics_family(b, "taskjet_nats_connected", "gauge", "1 while connected to NATS.");
		metrics_sample(b, "taskjet_nats_connected", NULL, 0, snap->connected ? 1 : 0);
		metrics_family(b, "taskjet_nats_reconnects_total", "counter",
		               "Times the NATS connection was re-established.");
		metrics_sample(b, "taskjet_nats_reconnects_total", NULL, 0,
		               (double)snap->reconnects);
	}
	if (snap->fetches_batches && env->metrics != NULL) {
		route_histograms(env, b, "taskjet_fetch_batch_size",
		                 "Messages received together from the server, by route.",
		                 metrics_fetch_hist);
		route_windows(env, b);
	}
	if (snap->dlq.found) {
		metrics_family(b, "taskjet_dlq_depth", "gauge", "Dead letters kept in the DLQ.");
		metrics_sample(b, "taskjet_dlq_depth", NULL, 0, (double)snap->dlq.msgs);
	}
	if (snap->has_capacity) {
		metrics_family(b, "taskjet_queue_size", "gauge",
		               "Tasks queued, delayed or in flight in the memory backend.");
		metrics_sample(b, "taskjet_queue_size", NULL, 0, (double)snap->current_size);
		metrics_family(b, "taskjet_queue_capacity", "gauge",
		               "Tasks the memory backend holds before publishing fails.");
		metrics_sample(b, "taskjet_queue_capacity", NULL, 0, (double)snap->capacity);
		metrics_family(b, "taskjet_queue_enqueued_total", "counter",
		               "Tasks accepted by the memory backend.");
		metrics_sample(b, "taskjet_queue_enqueued_total", NULL, 0,
		               (double)snap->total_enqueued);
		metrics_family(b, "taskjet_queue_dequeued_total", "counter",
		               "Deliveries made by the memory backend.");
		metrics_sample(b, "taskjet_queue_dequeued_total", NULL, 0,
		               (double)snap->total_dequeued);
	}
	/* A route the store cannot answer for is left out (absent, rather
	 * than a made-up zero). */
	for (size_t i = 0; i < snap->consumer_count; i++)
		any_consumer |= snap->consumers[i].found;
	for (size_t g = 0; any_consumer && g < sizeof(gauges) / sizeof(gauges[0]); g++) {
		metrics_family(b, gauges[g].name, "gauge", gauges[g].help);
		for (size_t i = 0; i < snap->consumer_count; i++) {
			const struct stats_consumer *c = &snap->consumers[i];
			struct metrics_label l[3] = { { "route", c->route },
				                      { "stream", c->stream },
				                      { "consumer", c->consumer } };

			if (!c->found)
				continue;
			metrics_sample(
			    b, gauges[g].name, l, 3,
			    (double)*(const uint64_t *)((const char *)c + gauges[g].offset));
		}
	}
	if (any_consumer)
		held_routes(b, snap);
}

/* What is running: a constant 1 whose labels say which build. */
static void
build_info(const struct http_env *env, struct mbuf *b)
{
	char abi[16];
	struct metrics_label l[3] = {
		{ "version", PACKAGE_VERSION },
		{ "abi", abi },
		{ "libnats", env->libnats_version != NULL ? env->libnats_version : "" },
	};

	snprintf(abi, sizeof(abi), "%u.%u", TJ_ABI_MAJOR, TJ_ABI_MINOR);
	metrics_family(b, "taskjet_build_info", "gauge",
	               "1, labelled with the taskjet version, its plugin ABI and the "
	               "libnats version.");
	metrics_sample(b, "taskjet_build_info", l, 3, 1);
}

/* The process_* families every Prometheus client library exports. */
static void
process_metrics(struct mbuf *b)
{
	struct proc_stats st;

	if (proc_stats_read(&st) < 0)
		return; /* no /proc: absent rather than made up */
	metrics_family(b, "process_cpu_seconds_total", "counter",
	               "Total user and system CPU time spent in seconds.");
	metrics_sample(b, "process_cpu_seconds_total", NULL, 0, st.cpu_seconds);
	metrics_family(b, "process_resident_memory_bytes", "gauge",
	               "Resident memory size in bytes.");
	metrics_sample(b, "process_resident_memory_bytes", NULL, 0, (double)st.resident_bytes);
	metrics_family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	metrics_sample(b, "process_virtual_memory_bytes", NULL, 0, (double)st.virtual_bytes);
	if (st.open_fds >= 0) {
		metrics_family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
		metrics_sample(b, "process_open_fds", NULL, 0, (double)st.open_fds);
	}
	if (st.max_fds >= 0) {
		metrics_family(b, "process_max_fds", "gauge",
		               "Maximum number of open file descriptors.");
		metrics_sample(b, "process_max_fds", NULL, 0, (double)st.max_fds);
	}
	metrics_family(b, "process_start_time_seconds", "gauge",
	               "Start time of the process since unix epoch in seconds.");
	metrics_sample(b, "process_start_time_seconds", NULL, 0, st.start_time_seconds);
}

void
handle_metrics(struct http_server *s, struct http_request *req, struct reply *r)
{
	struct mbuf *b = &r->body;
	struct stats_snapshot *snap;

	build_info(req->env, b);
	process_metrics(b);
	route_counters(req->env, b);
	engine_render_metrics(req->env->engine, b);
	if (req->env->metrics != NULL) {
		route_histograms(req->env, b, "taskjet_handler_duration_seconds",
		                 "Time spent in the handler, by route.", metrics_handler_hist);
		route_histograms(req->env, b, "taskjet_task_attempt",
		                 "Delivery attempt number of each handler call, by "
		                 "route (1 = first delivery).",
		                 metrics_attempt_hist);
	}
	snap = http_snapshot(req->env);
	backend_metrics(req->env, b, snap);
	stats_snapshot_free(snap);
	r->status = MHD_HTTP_OK;
	r->type = "text/plain; version=0.0.4; charset=utf-8";
}
