/* SPDX-License-Identifier: MIT */
/*
 * The engine: loads each route's plugin, runs delivered tasks through their
 * handler, keeps long handlers alive with in-progress beats, and hands the
 * verdict to the disposition module. Backends call engine_process() from
 * their worker threads.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "engine/engine.h"
#include "plugin/host_api.h"
#include "plugin/isolate.h"
#include "json.h"
#include "plugin/loader.h"
#include "util/log.h"
#include "task/metrics.h"
#include "util/xalloc.h"

/* A handler call in progress, on its worker's stack, for the heartbeat. */
struct inflight {
	struct tj_task *task;
	int64_t beat_interval_ms;
	int64_t next_beat_ms;
	struct inflight *prev, *next;
};

struct engine {
	const struct cfg *cfg;
	struct router *router;
	struct backend *backend;
	struct disp_env disp;
	struct metrics *metrics;
	struct backend_sink sink;
	volatile sig_atomic_t stop_requested;
	bool isolate_handlers;

	pthread_mutex_t inflight_lock;
	pthread_cond_t inflight_cond;
	struct inflight *inflight_head;
	pthread_t heartbeat_thread;
	bool heartbeat_running;
	bool heartbeat_quit;
};

/* How often the heartbeat thread looks at running handlers at most. */
#define HEARTBEAT_TICK_MS 100

static void *
heartbeat_main(void *arg)
{
	struct engine *engine = arg;

	pthread_mutex_lock(&engine->inflight_lock);
	while (!engine->heartbeat_quit) {
		int64_t now = clock_mono_ms();
		struct timespec until;

		for (struct inflight *f = engine->inflight_head; f != NULL; f = f->next) {
			if (now < f->next_beat_ms)
				continue;
			/* The entry cannot leave the list while we hold the lock,
			 * so the task and its message stay valid for the beat. */
			if (engine->backend != NULL)
				engine->backend->ops->in_progress(engine->backend, f->task);
			f->next_beat_ms = now + f->beat_interval_ms;
		}
		clock_mono_deadline(HEARTBEAT_TICK_MS, &until);
		pthread_cond_clockwait(&engine->inflight_cond, &engine->inflight_lock,
		                       CLOCK_MONOTONIC, &until);
	}
	pthread_mutex_unlock(&engine->inflight_lock);
	return NULL;
}

static void
inflight_add(struct engine *engine, struct inflight *f, struct tj_task *task, int64_t now_ms)
{
	/* Beat at half the ack wait, so the deadline is never reached while
	 * the handler is still working. */
	f->task = task;
	f->beat_interval_ms = task->route->cfg->ack_wait_ms / 2;
	f->next_beat_ms = now_ms + f->beat_interval_ms;
	f->prev = NULL;
	pthread_mutex_lock(&engine->inflight_lock);
	f->next = engine->inflight_head;
	if (f->next != NULL)
		f->next->prev = f;
	engine->inflight_head = f;
	pthread_mutex_unlock(&engine->inflight_lock);
}

static void
inflight_remove(struct engine *engine, struct inflight *f)
{
	pthread_mutex_lock(&engine->inflight_lock);
	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		engine->inflight_head = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&engine->inflight_lock);
}

static int
load_route_plugin(const struct cfg *cfg, struct route *route)
{
	const struct cfg_route *rc = route->cfg;
	char err[512];
	int rc_load;

	rc_load = plugin_instance_create(cfg->plugin_dir, rc->plugin, rc->name, rc->config_json,
	                                 rc->config_json_len, err, sizeof(err), &route->plugin);
	if (rc_load < 0) {
		log_err("route %s: %s", rc->name, err);
		return rc_load;
	}
	route->handler = plugin_instance_handler(route->plugin, rc->handler);
	if (route->handler == NULL) {
		log_err("route %s: plugin %s registered no handler named \"%s\"", rc->name,
		        rc->plugin, rc->handler);
		return -ENOENT;
	}
	return 0;
}

static int
sink_deliver(void *ctx, struct tj_task *task)
{
	return engine_process(ctx, task, NULL);
}

static int
sink_dead_letter(void *ctx, struct tj_task *task, enum dlq_reason reason, const char *error)
{
	struct disp_result res;
	int rc = engine_dead_letter(ctx, task, reason, error, &res);

	if (rc == 0 && res.outcome != DISP_DEAD_LETTERED)
		rc = -EIO; /* not stored: keep it for a later try */
	return rc;
}

int
engine_create(const struct cfg *cfg, const struct engine_options *opts, struct engine **engine_r)
{
	struct engine *engine = xcalloc(1, sizeof(*engine));
	int rc, failed = 0;

	engine->cfg = cfg;
	pthread_mutex_init(&engine->inflight_lock, NULL);
	pthread_cond_init(&engine->inflight_cond, NULL);
	engine->disp.dlq = &cfg->dlq;
	engine->disp.rng = opts != NULL && opts->rng != NULL ? *opts->rng : retry_default_rng;
	engine->disp.dlq_retry_delay_ms = 5000;
	engine->isolate_handlers = opts != NULL && opts->isolate_handlers;
	engine->sink = (struct backend_sink){ .deliver = sink_deliver,
		                              .dead_letter = sink_dead_letter,
		                              .ctx = engine };

	rc = router_create(cfg, &engine->router);
	if (rc < 0)
		goto out;
	/* Load every plugin even after a failure, so one run reports all. */
	for (size_t i = 0; i < engine->router->count; i++)
		if (load_route_plugin(cfg, &engine->router->routes[i]) < 0)
			failed++;
	if (failed > 0) {
		rc = -EINVAL;
		goto out;
	}
	rc = pthread_create(&engine->heartbeat_thread, NULL, heartbeat_main, engine);
	if (rc != 0) {
		rc = -rc;
		goto out;
	}
	engine->heartbeat_running = true;
	*engine_r = engine;
	engine = NULL;
out:
	engine_destroy(engine);
	return rc;
}

void
engine_destroy(struct engine *engine)
{
	if (engine == NULL)
		return;
	if (engine->heartbeat_running) {
		pthread_mutex_lock(&engine->inflight_lock);
		engine->heartbeat_quit = true;
		pthread_cond_signal(&engine->inflight_cond);
		pthread_mutex_unlock(&engine->inflight_lock);
		pthread_join(engine->heartbeat_thread, NULL);
	}
	if (engine->router != NULL) {
		/* Unload in reverse order of loading. */
		for (size_t i = engine->router->count; i-- > 0;)
			plugin_instance_destroy(engine->router->routes[i].plugin);
		router_destroy(engine->router);
	}
	pthread_cond_destroy(&engine->inflight_cond);
	pthread_mutex_destroy(&engine->inflight_lock);
	free(engine);
}

void
engine_set_backend(struct engine *engine, struct backend *backend)
{
	engine->backend = backend;
	engine->disp.backend = backend;
	host_api_set_publisher(backend);
}

void
engine_set_metrics(struct engine *engine, struct metrics *m)
{
	engine->metrics = m;
	engine->sink.metrics = m;
}

const struct backend_sink *
engine_sink(struct engine *engine)
{
	return &engine->sink;
}

const struct cfg *
engine_cfg(const struct engine *engine)
{
	return engine->cfg;
}

struct router *
engine_router(const struct engine *engine)
{
	return engine->router;
}

void
engine_request_stop(struct engine *engine)
{
	engine->stop_requested = 1;
}

bool
engine_stopping(const struct engine *engine)
{
	return engine->stop_requested != 0;
}

static void
log_outcome(const struct tj_task *task, const struct disp_result *res, const char *error)
{
	const struct route *route = task->route;
	const char *why = error != NULL ? error : task->fail_reason;
	struct log_ctx ctx;

	/* The per-task "acked" line is debug: with debug off, skip building
	 * its context and the varargs call on every task. */
	if (res->outcome == DISP_ACKED && !log_enabled(TJ_LOG_DEBUG))
		return;
	ctx = (struct log_ctx){
		.route = route != NULL ? route->cfg->name : NULL,
		.plugin = route != NULL ? route->cfg->plugin : NULL,
		.seq = task->stream_seq,
		.attempt = task->attempt,
	};

	switch (res->outcome) {
	case DISP_ACKED:
		log_write(TJ_LOG_DEBUG, &ctx, "acked %s (%s)", task->id, task->subject);
		break;
	case DISP_RETRIED:
		log_write(TJ_LOG_INFO, &ctx, "retry %s in %lld ms%s%s", task->id,
		          (long long)res->delay_ms, task->fail_reason ? ": " : "",
		          task->fail_reason ? task->fail_reason : "");
		break;
	case DISP_DEAD_LETTERED:
		log_write(TJ_LOG_WARNING, &ctx, "dead-lettered %s (%s): %s%s%s", task->id,
		          task->subject, dlq_reason_name(res->reason), why ? ": " : "",
		          why ? why : "");
		break;
	case DISP_DLQ_FAILED:
		log_write(TJ_LOG_ERR, &ctx,
		          "could not write dead letter for %s, redelivering in %lld ms", task->id,
		          (long long)res->delay_ms);
		break;
	case DISP_GIVEN_BACK:
		log_write(TJ_LOG_INFO, &ctx, "gave %s back unhandled%s%s, again in %lld ms",
		          task->id, why ? ": " : "", why ? why : "", (long long)res->delay_ms);
		break;
	case DISP_LEFT:
		log_write(TJ_LOG_WARNING, &ctx,
		          "left %s unsettled: the server redelivers it after ack_wait", task->id);
		break;
	}
}

int
engine_dead_letter(struct engine *engine, struct tj_task *task, enum dlq_reason reason,
                   const char *error, struct disp_result *result_r)
{
	struct disp_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = disp_dead_letter(&engine->disp, task->route, task, reason, error, &res);
	log_outcome(task, &res, error);
	if (result_r != NULL)
		*result_r = res;
	return rc;
}

int
engine_process(struct engine *engine, struct tj_task *task, struct disp_result *result_r)
{
	struct route *route = task->route;
	struct disp_result res;
	struct inflight flight;
	struct json_error jerr = { .what = "out of memory" };
	int64_t started_us;
	uint64_t handler_us;
	int rc;

	memset(&res, 0, sizeof(res));
	task_reset_verdict_state(task);
	task->verdict = -1;
	if (route == NULL)
		route = router_lookup(engine->router, task->subject);
	task->route = route;
	if (route == NULL) {
		rc = engine_dead_letter(engine, task, DLQ_REASON_NO_ROUTE,
		                        "no route serves this subject", &res);
		goto out;
	}
	__atomic_fetch_add(&route->stats.received, 1, __ATOMIC_RELAXED);
	if (route->cfg->payload == CFG_PAYLOAD_JSON &&
	    json_check(task->payload, task->payload_len, NULL, &jerr) != 0) {
		char why[sizeof(jerr.what) + 64];

		/* A payload that cannot parse will never parse: no retries. */
		snprintf(why, sizeof(why), "payload is not valid JSON: %s at byte %zu", jerr.what,
		         jerr.offset);
		rc = engine_dead_letter(engine, task, DLQ_REASON_INVALID_PAYLOAD, why, &res);
		goto out;
	}

	__atomic_fetch_add(&route->stats.in_flight, 1, __ATOMIC_RELAXED);
	/* One clock read serves the heartbeat and the handler time. */
	started_us = clock_mono_us();
	inflight_add(engine, &flight, task, started_us / 1000);
	if (engine->isolate_handlers) {
		char crash[256];

		task->verdict = isolate_call(route->handler, task, crash, sizeof(crash));
		if (task->verdict < 0) {
			task->verdict = -2;
			inflight_remove(engine, &flight);
			__atomic_fetch_sub(&route->stats.in_flight, 1, __ATOMIC_RELAXED);
			free(task->fail_reason);
			task->fail_reason = xstrdup(crash);
			rc = engine_dead_letter(engine, task, DLQ_REASON_CRASHED, NULL, &res);
			goto out;
		}
	} else {
		task->verdict = plugin_call(route->handler, task);
	}
	handler_us = (uint64_t)(clock_mono_us() - started_us);
	__atomic_fetch_add(&route->stats.handler_us_total, handler_us, __ATOMIC_RELAXED);
	metrics_observe_handler(engine->metrics, route, handler_us, task->attempt);
	inflight_remove(engine, &flight);
	__atomic_fetch_sub(&route->stats.in_flight, 1, __ATOMIC_RELAXED);

	rc = disp_apply_verdict(&engine->disp, route, task, task->verdict, &res);
	log_outcome(task, &res, NULL);
out:
	if (result_r != NULL)
		*result_r = res;
	return rc;
}
