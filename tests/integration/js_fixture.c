/* SPDX-License-Identifier: MIT */
/* The in-memory test config for JetStream integration tests. */
#include <string.h>

#include "util/clock.h"
#include "js_fixture.h"

void
js_fixture_init(struct js_fixture *f, const char *url)
{
	memset(f, 0, sizeof(*f));
	f->stream_subjects[0] = (char *)"tasks.>";
	f->stream = (struct cfg_stream){
		.name = (char *)"TASKS",
		.subjects = f->stream_subjects,
		.subject_count = 1,
		.storage = CFG_STORAGE_FILE,
		.retention = CFG_RETENTION_WORKQUEUE,
		.max_age_ms = 24 * 3600 * 1000,
		.max_msgs = -1,
		.max_bytes = -1,
		.discard = CFG_DISCARD_OLD,
		.replicas = 1,
		.duplicate_window_ms = 120000,
	};
	f->route = (struct cfg_route){
		.name = (char *)"work",
		.stream = (char *)"TASKS",
		.subject = (char *)"tasks.>",
		.consumer = (char *)"taskjet-work",
		.plugin = (char *)"fx_noop",
		.concurrency = 2,
		.max_attempts = 5,
		.ack_wait_ms = 30000,
		.batch = 16,
		.prefetch = 32,
		.fetch_wait_ms = 500,
		.backoff = { .initial_ms = 100, .multiplier = 2, .max_ms = 1000 },
		.config_json = (char *)"{}",
		.config_json_len = 2,
	};
	f->cfg = (struct cfg){
		.nats = { .url = (char *)url,
		          .name = (char *)"taskjet-test",
		          .connect_timeout_ms = 1000,
		          .reconnect_wait_ms = 100,
		          .reconnect_jitter_ms = 10 },
		.backend = CFG_BACKEND_JETSTREAM,
		.worker_id = (char *)"test",
		.shutdown_grace_ms = 5000,
		.streams = &f->stream,
		.stream_count = 1,
		.dlq = cfg_dlq_defaults(),
		.routes = &f->route,
		.route_count = 1,
	};
	f->route_rt = (struct route){ .cfg = &f->route, .stream = &f->stream };
	f->router = (struct router){ .routes = &f->route_rt, .count = 1 };
}

bool
js_wait_for(bool (*cond)(void *arg), void *arg, int64_t timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;

	while (!cond(arg)) {
		if (clock_mono_ms() >= deadline)
			return cond(arg);
		clock_sleep_ms(10);
	}
	return true;
}
