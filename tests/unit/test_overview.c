/* SPDX-License-Identifier: MIT */
/* The counter history behind the dashboard's rates, and the overview
 * document. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "task/doc.h"
#include "task/history.h"
#include "task/metrics.h"
#include "task/stats.h"
#include "testing.h"

/* One router of two routes over a config that names them. */
struct fixture {
	struct cfg_route rc[2];
	struct cfg_stream stream;
	struct cfg cfg;
	struct route routes[2];
	struct router router;
};

static void
fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->rc[0] = (struct cfg_route){ .name = "orders",
		                       .stream = "TASKS",
		                       .subject = "orders.*",
		                       .plugin = "shop",
		                       .handler = "shop",
		                       .concurrency = 4,
		                       .max_attempts = 5 };
	f->rc[1] = (struct cfg_route){ .name = "mail\"<b>",
		                       .stream = "TASKS",
		                       .subject = "mail.send",
		                       .plugin = "mailer",
		                       .handler = "send",
		                       .concurrency = 1,
		                       .max_attempts = 3 };
	f->stream.name = "TASKS";
	f->cfg.streams = &f->stream;
	f->cfg.stream_count = 1;
	f->cfg.routes = f->rc;
	f->cfg.route_count = 2;
	f->cfg.dlq.stream = "DLQ";
	for (int i = 0; i < 2; i++)
		f->routes[i].cfg = &f->rc[i];
	f->router = (struct router){ .routes = f->routes, .count = 2 };
}

TEST(history_needs_two_readings)
{
	struct fixture f;
	struct history *h = NULL;

	fixture_init(&f);
	CHECK_INT(history_create(&f.router, NULL, 1, &h), -EINVAL);
	CHECK_TRUE(h == NULL);
	history_destroy(NULL);
}

TEST(window_is_now_less_the_oldest_reading_inside_it)
{
	struct fixture f;
	struct history *h = NULL;
	struct metrics *m = NULL;
	struct route_window w;

	fixture_init(&f);
	metrics_create(&f.router, &m);
	CHECK_INT(history_create(&f.router, m, 4, &h), 0);
	if (h == NULL)
		return;
	/* Nothing read yet: no window. */
	history_window(h, 0, 1000, 60000, &w);
	CHECK_TRUE(w.seconds == 0);
	CHECK_INT(w.acked, 0);

	f.routes[0].stats.acked = 10;
	history_sample(h, 0); /* t = 0 s: 10 acked */
	f.routes[0].stats.acked = 30;
	f.routes[0].stats.received = 5;
	history_sample(h, 20000); /* t = 20 s */
	f.routes[0].stats.acked = 70;
	f.routes[0].stats.retried = 3;
	f.routes[0].stats.dead_lettered[DLQ_REASON_CRASHED] = 1;
	f.routes[0].stats.dead_lettered[DLQ_REASON_NO_ROUTE] = 2;
	metrics_observe_handler(m, &f.routes[0], 2000, 1); /* 1..5 ms */
	metrics_observe_handler(m, &f.routes[0], 2000, 1);

	/* At 40 s, a minute's window reaches back to the 0 s reading. */
	history_window(h, 0, 40000, 60000, &w);
	CHECK_TRUE(w.seconds == 40);
	CHECK_INT(w.acked, 60);
	CHECK_INT(w.received, 5);
	CHECK_INT(w.retried, 3);
	CHECK_INT(w.dead_lettered, 3);
	CHECK_INT(w.handler_counts[1], 2);
	/* At 70 s the 0 s reading is too old: from 20 s on. */
	history_window(h, 0, 70000, 60000, &w);
	CHECK_TRUE(w.seconds == 50);
	CHECK_INT(w.acked, 40);
	/* The other route did nothing; a route out of range gives nothing. */
	history_window(h, 1, 40000, 60000, &w);
	CHECK_TRUE(w.seconds == 40);
	CHECK_INT(w.acked, 0);
	history_window(h, 2, 40000, 60000, &w);
	CHECK_TRUE(w.seconds == 0);

	/* The ring keeps the last four readings only. */
	for (int64_t t = 30000; t <= 60000; t += 10000)
		history_sample(h, t);
	f.routes[0].stats.acked = 100;
	history_window(h, 0, 65000, 600000, &w);
	CHECK_TRUE(w.seconds == 35); /* the 30 s reading is the oldest kept */
	CHECK_INT(w.acked, 30);
	/* A counter that went back (none should) counts as 0, not 2^64. */
	f.routes[0].stats.acked = 1;
	history_window(h, 0, 65000, 600000, &w);
	CHECK_INT(w.acked, 0);
	history_destroy(h);
	metrics_destroy(m);
}

TEST(overview_document_shows_routes_rates_and_quantiles)
{
	struct fixture f;
	struct metrics *m = NULL;
	struct stats_snapshot *snap;
	struct overview_route extra[2] = {
		{ .plugin_version = "2.1.0", .isolation = "thread" },
		{ .plugin_version = NULL, .isolation = "process" },
	};
	struct strbuf b = { 0 };
	struct jsonw w;

	fixture_init(&f);
	metrics_create(&f.router, &m);
	snap = stats_snapshot_new(&f.cfg, "jetstream");
	snap->has_connection = true;
	snap->connected = true;
	snap->reconnects = 2;
	snap->dlq.found = true;
	snap->dlq.msgs = 7;
	snap->dlq.first_seq = 3;
	snap->dlq.last_seq = 9;
	snap->consumers[0].found = true;
	snprintf(snap->consumers[0].consumer, sizeof(snap->consumers[0].consumer),
	         "taskjet-orders");
	snap->consumers[0].num_pending = 11;
	snap->consumers[0].num_ack_pending = 4;
	f.routes[0].stats.received = 120;
	f.routes[0].stats.acked = 100;
	f.routes[0].stats.retried = 6;
	f.routes[0].stats.dead_lettered[DLQ_REASON_HANDLER_FAILED] = 5;
	f.routes[0].stats.dead_lettered[DLQ_REASON_ATTEMPTS_EXHAUSTED] = 1;
	f.routes[0].stats.in_flight = 2;
	for (int i = 0; i < 4; i++)
		metrics_observe_handler(m, &f.routes[0], 3000, 1); /* (1, 5] ms */
	extra[0].window = (struct route_window){ .seconds = 60, .received = 30, .acked = 15 };
	extra[0].window.handler_counts[1] = 4;

	jsonw_init(&w, &b);
	doc_overview(&w, &(struct overview){ .wall_ms = 1790000000000,
	                                     .started_wall_ms = 1789999000000,
	                                     .uptime_ms = 1000500,
	                                     .worker_id = "w-1",
	                                     .version = "9.9.9",
	                                     .location = "nats://127.0.0.1:4222",
	                                     .ready = false,
	                                     .not_ready_reason = "not connected to NATS",
	                                     .token_required = true,
	                                     .window_ms = 60000,
	                                     .snap = snap,
	                                     .router = &f.router,
	                                     .metrics = m,
	                                     .routes = extra });
	CHECK_INT(jsonw_finish(&w), 0);
	CHECK_TRUE(b.data != NULL && json_valid(b.data, b.len));
	CHECK_CONTAINS(b.data, "{\"time\":\"2026-09-21T14:13:20.000Z\",\"worker_id\":\"w-1\","
	                       "\"version\":\"9.9.9\",\"started_at\":\"2026-09-21T13:56:40.000Z\","
	                       "\"uptime_seconds\":1000,\"backend\":\"jetstream\","
	                       "\"location\":\"nats://127.0.0.1:4222\","
	                       "\"connection\":{\"connected\":true,\"reconnects\":2},"
	                       "\"ready\":false,\"not_ready_reason\":\"not connected to NATS\","
	                       "\"token_required\":true,"
	                       "\"dlq\":{\"stream\":\"DLQ\",\"found\":true,\"messages\":7,"
	                       "\"first_seq\":3,\"last_seq\":9},"
	                       "\"dlq_reasons\":[\"handler_failed\",\"attempts_exhausted\",");
	CHECK_CONTAINS(b.data, "\"window_seconds\":60,\"routes\":[");
	CHECK_CONTAINS(b.data,
	               "{\"name\":\"orders\",\"subject\":\"orders.*\",\"stream\":\"TASKS\","
	               "\"consumer\":\"taskjet-orders\","
	               "\"plugin\":{\"name\":\"shop\",\"handler\":\"shop\",\"version\":\"2.1.0\"},"
	               "\"isolation\":\"thread\",\"concurrency\":4,\"max_attempts\":5,"
	               "\"in_flight\":2,\"pending\":11,\"ack_pending\":4,\"redelivered\":0,"
	               "\"received\":120,\"acked\":100,\"retried\":6,\"dead_lettered\":6,"
	               "\"dlq_failures\":0,"
	               /* four calls in (1, 5] ms: rank 2 of 4 is halfway */
	               "\"handler_p50_seconds\":0.003,\"handler_p99_seconds\":0.00496,"
	               "\"last_minute\":{\"seconds\":60,\"received_per_sec\":0.5,"
	               "\"acked_per_sec\":0.25,\"retried_per_sec\":0,\"dead_lettered_per_sec\":0,"
	               "\"handler_calls\":4,\"handler_p50_seconds\":0.003,"
	               "\"handler_p99_seconds\":0.00496}}");
	/* The other route: no consumer found, no version, nothing measured;
	 * its name escaped. */
	CHECK_CONTAINS(b.data,
	               "{\"name\":\"mail\\\"<b>\",\"subject\":\"mail.send\",\"stream\":\"TASKS\","
	               "\"consumer\":null,\"plugin\":{\"name\":\"mailer\",\"handler\":\"send\","
	               "\"version\":null},\"isolation\":\"process\",\"concurrency\":1,"
	               "\"max_attempts\":3,\"in_flight\":0,\"pending\":null,\"ack_pending\":null,"
	               "\"redelivered\":null,");
	CHECK_CONTAINS(b.data, "\"handler_p50_seconds\":null,\"handler_p99_seconds\":null,"
	                       "\"last_minute\":{\"seconds\":0,\"received_per_sec\":null,");
	strbuf_release(&b);
	stats_snapshot_free(snap);
	metrics_destroy(m);
}

int
main(void)
{
	RUN(history_needs_two_readings);
	RUN(window_is_now_less_the_oldest_reading_inside_it);
	RUN(overview_document_shows_routes_rates_and_quantiles);
	return testing_done();
}
