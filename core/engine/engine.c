/* SPDX-License-Identifier: MIT */
/*
 * The engine: loads each route's plugin (or starts its worker processes),
 * runs delivered tasks through their handler, keeps long handlers alive
 * with in-progress beats until their timeout, and hands how the call ended
 * to the disposition module. Backends call engine_process() from their
 * worker threads.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/clock.h"
#include "engine/engine.h"
#include "plugin/host_api.h"
#include "json.h"
#include "plugin/loader.h"
#include "plugin/procpool.h"
#include "util/log.h"
#include "task/metrics.h"
#include "util/xalloc.h"

/* A handler call in progress, on its worker's stack, for the heartbeat. */
struct inflight {
	struct tj_task *task;
	int64_t beat_interval_ms;
	int64_t next_beat_ms;
	int64_t started_ms;
	/* A handler thread still running then is hung (0: never; a process
	 * route's pool stops its calls itself). */
	int64_t hang_at_ms;
	bool hung; /* inflight_lock */
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

	pthread_mutex_t inflight_lock;
	pthread_cond_t inflight_cond;
	struct inflight *inflight_head;
	pthread_t heartbeat_thread;
	bool heartbeat_running;
	bool heartbeat_quit;
};

/* How often the heartbeat thread looks at running handlers at most. */
#define HEARTBEAT_TICK_MS 100

static void
route_log_ctx(const struct route *route, const struct tj_task *task, struct log_ctx *ctx)
{
	*ctx = (struct log_ctx){
		.route = route != NULL ? route->cfg->name : NULL,
		.plugin = route != NULL ? route->cfg->plugin : NULL,
		.seq = task->stream_seq,
		.attempt = task->attempt,
		.task = task->id,
		.subject = task->subject,
	};
}

/* A handler thread overran its timeout: stop keeping its task alive, so
 * the server redelivers it after ack_wait (and dead-letters it through the
 * MAX_DELIVERIES advisory once its attempts are used up). The thread
 * itself cannot be stopped. inflight_lock held. */
static void
mark_hung(struct inflight *f, int64_t now)
{
	const struct route *route = f->task->route;
	struct log_ctx ctx;

	f->hung = true;
	__atomic_fetch_add(&((struct route *)route)->stats.hung, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&((struct route *)route)->stats.hung_now, 1, __ATOMIC_RELAXED);
	route_log_ctx(route, f->task, &ctx);
	log_write(TJ_LOG_ERR, &ctx,
	          "handler of task %s (%s) in plugin %s still running after %lld ms (timeout "
	          "%lld ms): no longer kept alive, the server redelivers it after ack_wait; "
	          "its thread stays busy until the handler returns",
	          f->task->id, f->task->subject, route->cfg->plugin,
	          (long long)(now - f->started_ms), (long long)route->cfg->timeout_ms);
}

static void *
heartbeat_main(void *arg)
{
	struct engine *engine = arg;

	pthread_mutex_lock(&engine->inflight_lock);
	while (!engine->heartbeat_quit) {
		int64_t now = clock_mono_ms();
		struct timespec until;

		for (struct inflight *f = engine->inflight_head; f != NULL; f = f->next) {
			if (f->hung)
				continue;
			if (f->hang_at_ms > 0 && now >= f->hang_at_ms) {
				mark_hung(f, now);
				continue;
			}
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
inflight_add(struct engine *engine, struct inflight *f, struct tj_task *task, int64_t now_ms,
             int64_t hang_at_ms)
{
	/* Beat at half the ack wait, so the deadline is never reached while
	 * the handler is still working. */
	f->task = task;
	f->beat_interval_ms = task->route->cfg->ack_wait_ms / 2;
	f->next_beat_ms = now_ms + f->beat_interval_ms;
	f->started_ms = now_ms;
	f->hang_at_ms = hang_at_ms;
	f->hung = false;
	f->prev = NULL;
	pthread_mutex_lock(&engine->inflight_lock);
	f->next = engine->inflight_head;
	if (f->next != NULL)
		f->next->prev = f;
	engine->inflight_head = f;
	pthread_mutex_unlock(&engine->inflight_lock);
}

/* Take the call off the heartbeat; true if it had been marked hung. */
static bool
inflight_remove(struct engine *engine, struct inflight *f)
{
	bool hung;

	pthread_mutex_lock(&engine->inflight_lock);
	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		engine->inflight_head = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	hung = f->hung;
	pthread_mutex_unlock(&engine->inflight_lock);
	return hung;
}

static enum cfg_isolation
route_isolation(const struct cfg_route *rc, const struct engine_options *opts)
{
	if (opts != NULL && opts->isolation == ENGINE_ISOLATION_THREAD)
		return CFG_ISOLATION_THREAD;
	if (opts != NULL && opts->isolation == ENGINE_ISOLATION_PROCESS)
		return CFG_ISOLATION_PROCESS;
	return rc->isolation;
}

/* The route's worker processes: the probe reads the plugin's descriptor
 * and each worker runs its init, so no plugin code runs here. */
static int
start_route_pool(const struct cfg *cfg, struct route *route, const struct engine_options *opts,
                 char *err, size_t errlen)
{
	const struct cfg_route *rc = route->cfg;
	struct procpool_options po = {
		.plugin_dir = cfg->plugin_dir,
		.plugin = rc->plugin,
		.route = rc->name,
		.handler = rc->handler,
		.config_json = rc->config_json,
		.config_len = rc->config_json_len,
		.workers = opts != NULL && opts->pool_workers > 0 ? opts->pool_workers
		                                                  : (unsigned)rc->concurrency,
		.timeout_ms = rc->timeout_ms,
		.limits = { .memory_bytes = (uint64_t)rc->limits.memory_bytes,
		            /* RLIMIT_CPU counts whole seconds: round up. */
		            .cpu_seconds = (uint32_t)((rc->limits.cpu_ms + 999) / 1000),
		            .open_files = (uint32_t)rc->limits.open_files },
	};

	char path[4096], why[256];
	struct plugin_probe probe;
	int rc_pool = procpool_create(&po, NULL, err, errlen, &route->pool);

	/* The version for the overview, read in a probe process like the
	 * rest: no plugin code here. */
	snprintf(path, sizeof(path), "%s/%s.so", cfg->plugin_dir, rc->plugin);
	if (rc_pool == 0 && plugin_probe_file(path, why, sizeof(why), &probe) == 0)
		snprintf(route->plugin_version, sizeof(route->plugin_version), "%s", probe.version);
	return rc_pool;
}

static int
load_route_plugin(const struct cfg *cfg, struct route *route, const struct engine_options *opts,
                  char *err, size_t errlen)
{
	const struct cfg_route *rc = route->cfg;
	int rc_load;

	if (route_isolation(rc, opts) == CFG_ISOLATION_PROCESS) {
		rc_load = start_route_pool(cfg, route, opts, err, errlen);
		if (rc_load < 0)
			log_err("route %s: %s", rc->name, err);
		return rc_load;
	}
	rc_load = plugin_instance_create(cfg->plugin_dir, rc->plugin, rc->name, rc->config_json,
	                                 rc->config_json_len, err, errlen, &route->plugin);
	if (rc_load < 0) {
		log_err("route %s: %s", rc->name, err);
		return rc_load;
	}
	if (plugin_instance_info(route->plugin) != NULL)
		snprintf(route->plugin_version, sizeof(route->plugin_version), "%s",
		         plugin_instance_info(route->plugin)->version);
	route->handler = plugin_instance_handler(route->plugin, rc->handler);
	if (route->handler == NULL) {
		snprintf(err, errlen, "plugin %s registered no handler named \"%s\"", rc->plugin,
		         rc->handler);
		log_err("route %s: %s", rc->name, err);
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
sink_deliver_batch(void *ctx, struct tj_task **tasks, size_t n)
{
	return engine_process_batch(ctx, tasks, n);
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
engine_create(const struct cfg *cfg, const struct engine_options *opts, char *err, size_t errlen,
              struct engine **engine_r)
{
	struct engine *engine = xcalloc(1, sizeof(*engine));
	char first[640] = "", why[512];
	int rc, failed = 0;

	engine->cfg = cfg;
	pthread_mutex_init(&engine->inflight_lock, NULL);
	pthread_cond_init(&engine->inflight_cond, NULL);
	engine->disp.dlq = &cfg->dlq;
	engine->disp.rng = opts != NULL && opts->rng != NULL ? *opts->rng : retry_default_rng;
	engine->disp.dlq_retry_delay_ms = 5000;
	engine->sink = (struct backend_sink){ .deliver = sink_deliver,
		                              .deliver_batch = sink_deliver_batch,
		                              .dead_letter = sink_dead_letter,
		                              .ctx = engine };

	rc = router_create(cfg, &engine->router);
	if (rc < 0) {
		snprintf(first, sizeof(first), "cannot build the routes: %s", strerror(-rc));
		goto out;
	}
	/* Load every plugin even after a failure, so one run reports all. */
	for (size_t i = 0; i < engine->router->count; i++) {
		struct route *route = &engine->router->routes[i];

		if (load_route_plugin(cfg, route, opts, why, sizeof(why)) == 0)
			continue;
		if (failed++ == 0)
			snprintf(first, sizeof(first), "route %s: %s", route->cfg->name, why);
	}
	if (failed > 0) {
		rc = -EINVAL;
		goto out;
	}
	rc = -pthread_create(&engine->heartbeat_thread, NULL, heartbeat_main, engine);
	if (rc < 0) {
		snprintf(first, sizeof(first), "cannot start the heartbeat: %s", strerror(-rc));
		goto out;
	}
	engine->heartbeat_running = true;
	*engine_r = engine;
	engine = NULL;
out:
	if (rc < 0 && err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", first);
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
		for (size_t i = engine->router->count; i-- > 0;) {
			procpool_destroy(engine->router->routes[i].pool);
			plugin_instance_destroy(engine->router->routes[i].plugin);
		}
		router_destroy(engine->router);
	}
	pthread_cond_destroy(&engine->inflight_cond);
	pthread_mutex_destroy(&engine->inflight_lock);
	free(engine);
}

void
engine_set_backend(struct engine *engine, struct backend *backend)
{
	struct backend *old = engine->backend;

	engine->backend = backend;
	engine->disp.backend = backend;
	if (backend != NULL)
		host_api_set_publisher(backend);
	else
		host_api_drop_publisher(old);
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

void
engine_stop_calls(struct engine *engine)
{
	for (size_t i = 0; i < engine->router->count; i++)
		if (engine->router->routes[i].pool != NULL)
			procpool_stop_calls(engine->router->routes[i].pool);
}

/* "task a (plugin p) hung 12 s, ..." for the hung calls of `route` (NULL:
 * all, each line led by its route), appended to buf at *off. Count. */
static unsigned
describe_hung(struct engine *engine, const struct route *route, char *buf, size_t len, size_t *off)
{
	int64_t now = clock_mono_ms();
	unsigned n = 0;

	pthread_mutex_lock(&engine->inflight_lock);
	for (struct inflight *f = engine->inflight_head; f != NULL; f = f->next) {
		const struct route *r = f->task->route;
		int w;

		if (!f->hung || (route != NULL && r != route))
			continue;
		if (route != NULL)
			w = snprintf(buf + *off, len - *off, "%stask %s hung %lld s",
			             n > 0 ? ", " : "", f->task->id,
			             (long long)((now - f->started_ms) / 1000));
		else
			w = snprintf(buf + *off, len - *off,
			             "route %s: task %s (plugin %s) hung %lld s, timeout %lld ms\n",
			             r->cfg->name, f->task->id, r->cfg->plugin,
			             (long long)((now - f->started_ms) / 1000),
			             (long long)r->cfg->timeout_ms);
		n++;
		if (w > 0 && (size_t)w < len - *off)
			*off += (size_t)w;
		else
			*off = len - 1; /* cut: the count still tells */
	}
	pthread_mutex_unlock(&engine->inflight_lock);
	return n;
}

bool
engine_plugin_changed(struct engine *engine, const struct route *route)
{
	struct stat now, loaded;
	char path[4096];
	int rc;

	rc = route->pool != NULL ? procpool_file_stat(route->pool, &loaded)
	                         : plugin_instance_file_stat(route->plugin, &loaded);
	if (rc < 0)
		return true;
	/* A file put in its place (install(1), a rename) is another inode;
	 * one rewritten in place keeps it but not its size or time. */
	snprintf(path, sizeof(path), "%s/%s.so", engine->cfg->plugin_dir, route->cfg->plugin);
	if (lstat(path, &now) < 0)
		return true;
	return now.st_dev != loaded.st_dev || now.st_ino != loaded.st_ino ||
	       now.st_size != loaded.st_size || now.st_mtim.tv_sec != loaded.st_mtim.tv_sec ||
	       now.st_mtim.tv_nsec != loaded.st_mtim.tv_nsec;
}

bool
engine_slot_live(struct engine *engine, const struct route *route, unsigned slot)
{
	(void)engine;
	return route->pool == NULL || procpool_slot_live(route->pool, slot);
}

bool
engine_ready(struct engine *engine, char *why, size_t len)
{
	for (size_t i = 0; i < engine->router->count; i++) {
		struct route *route = &engine->router->routes[i];
		uint64_t hung;
		size_t off;

		if (route->pool != NULL) {
			if (!procpool_ready(route->pool, why, len))
				return false;
			continue;
		}
		/* A hung thread keeps its worker: with all of them hung the
		 * route takes no task until one returns. */
		hung = __atomic_load_n(&route->stats.hung_now, __ATOMIC_RELAXED);
		if (hung < (uint64_t)route->cfg->concurrency)
			continue;
		off = (size_t)snprintf(
		    why, len,
		    "route %s: all %d handler threads hung in plugin %s: ", route->cfg->name,
		    route->cfg->concurrency, route->cfg->plugin);
		if (off < len)
			describe_hung(engine, route, why, len, &off);
		return false;
	}
	return true;
}

unsigned
engine_hung_report(struct engine *engine, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	return describe_hung(engine, NULL, buf, len, &off);
}

/* Which routes a family of route_stats counters covers. */
enum route_kind { ALL_ROUTES, THREAD_ROUTES };

/* One family with a sample per route of `kind`: route_stats at `offset`. */
static void
render_route_stat(struct mbuf *b, const struct router *router, enum route_kind kind,
                  const char *name, const char *type, const char *help, size_t offset)
{
	metrics_family(b, name, type, help);
	for (size_t i = 0; i < router->count; i++) {
		const struct route *r = &router->routes[i];
		struct metrics_label l = { "route", r->cfg->name };

		if (kind == THREAD_ROUTES && r->pool != NULL)
			continue;
		metrics_sample(
		    b, name, &l, 1,
		    (double)__atomic_load_n((const uint64_t *)((const char *)&r->stats + offset),
		                            __ATOMIC_RELAXED));
	}
}

void
engine_render_metrics(struct engine *engine, struct mbuf *b)
{
	static const struct {
		const char *name, *help;
		size_t offset;
	} pool_counters[] = {
		{ "taskjet_worker_spawns_total",
		  "Worker processes started (process isolation), the first ones included.",
		  offsetof(struct procpool_stats, spawns) },
		{ "taskjet_worker_crashes_total",
		  "Handler calls ended by their worker process dying (signal, exit, memory "
		  "limit, protocol).",
		  offsetof(struct procpool_stats, crashes) },
		{ "taskjet_worker_timeouts_total",
		  "Handler calls whose worker process was killed at the route's timeout.",
		  offsetof(struct procpool_stats, timeouts) },
		{ "taskjet_worker_init_failures_total",
		  "Worker processes whose plugin init failed, hung or crashed.",
		  offsetof(struct procpool_stats, init_failures) },
		{ "taskjet_worker_recycled_total",
		  "Worker processes replaced after a call left them over the memory limit.",
		  offsetof(struct procpool_stats, recycled) },
	};
	struct router *router = engine->router;
	struct procpool_stats *st = xcalloc(router->count + 1, sizeof(*st));
	bool any_pool = false, any_thread = false;

	for (size_t i = 0; i < router->count; i++) {
		if (router->routes[i].pool != NULL) {
			procpool_stats(router->routes[i].pool, &st[i]);
			any_pool = true;
		} else {
			any_thread = true;
		}
	}
	for (size_t c = 0; any_pool && c < sizeof(pool_counters) / sizeof(pool_counters[0]); c++) {
		metrics_family(b, pool_counters[c].name, "counter", pool_counters[c].help);
		for (size_t i = 0; i < router->count; i++) {
			struct metrics_label l = { "route", router->routes[i].cfg->name };

			if (router->routes[i].pool != NULL)
				metrics_sample(
				    b, pool_counters[c].name, &l, 1,
				    (double)*(const uint64_t *)((const char *)&st[i] +
				                                pool_counters[c].offset));
		}
	}
	if (any_thread) {
		render_route_stat(b, router, THREAD_ROUTES, "taskjet_handler_hung_total", "counter",
		                  "Handler threads still running at the route's timeout "
		                  "(isolation thread).",
		                  offsetof(struct route_stats, hung));
		render_route_stat(b, router, THREAD_ROUTES, "taskjet_handlers_hung", "gauge",
		                  "Handler threads hung past their timeout now; each holds a "
		                  "worker of its route.",
		                  offsetof(struct route_stats, hung_now));
	}
	render_route_stat(b, router, ALL_ROUTES, "taskjet_tasks_given_back_total", "counter",
	                  "Tasks nak'd without a handler call: no live worker process, or "
	                  "stopped at shutdown.",
	                  offsetof(struct route_stats, given_back));
	free(st);
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
	route_log_ctx(route, task, &ctx);
	ctx.error = res->outcome == DISP_RETRIED ? task->fail_reason : why;
	if (res->outcome == DISP_DEAD_LETTERED || res->outcome == DISP_DLQ_FAILED)
		ctx.reason = dlq_reason_name(res->reason);

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

/* How a pool call ended, as disposition reads it; the cause (in `cause`)
 * when it gave no verdict. */
static void
call_of_outcome(const struct procpool_outcome *out, struct disp_call *call, char *cause, size_t len)
{
	call->verdict = out->verdict;
	snprintf(cause, len, "%s", out->cause);
	switch (out->result) {
	case PROCPOOL_VERDICT:
		call->end = DISP_CALL_RETURNED;
		break;
	case PROCPOOL_CRASHED:
		call->end = DISP_CALL_CRASHED;
		break;
	case PROCPOOL_TIMED_OUT:
		call->end = DISP_CALL_TIMED_OUT;
		break;
	case PROCPOOL_STOPPED:
		call->end = DISP_CALL_STOPPED;
		break;
	case PROCPOOL_UNAVAILABLE:
	default:
		call->end = DISP_CALL_NOT_RUN;
		break;
	}
}

/* A slot another thread holds: a bug of ours, not the task's. */
static void
call_not_run(const struct route *route, const struct tj_task *task, struct disp_call *call,
             char *cause, size_t len)
{
	snprintf(cause, len, "route %s: worker slot %u is not free", route->cfg->name, task->slot);
	call->end = DISP_CALL_NOT_RUN;
}

/* Run the task on its slot's worker process. */
static void
call_in_pool(struct route *route, struct tj_task *task, struct disp_call *call, char *cause,
             size_t len)
{
	struct procpool_outcome out;

	if (procpool_call(route->pool, task->slot, task, task->deadline_ms, &out) < 0)
		call_not_run(route, task, call, cause, len);
	else
		call_of_outcome(&out, call, cause, len);
}

/* What task->verdict says about how a call ended. */
static int
verdict_of(const struct disp_call *call)
{
	switch (call->end) {
	case DISP_CALL_RETURNED:
		return call->verdict;
	case DISP_CALL_CRASHED:
		return TASK_VERDICT_CRASHED;
	case DISP_CALL_TIMED_OUT:
	case DISP_CALL_LATE:
		return TASK_VERDICT_TIMED_OUT;
	default:
		return TASK_VERDICT_NONE;
	}
}

/*
 * Before its handler: find the task's route, count it, and dead-letter a
 * payload that can never parse. true: call the handler; false: the task
 * is settled already (*res, *rc_r say how).
 */
static bool
admit(struct engine *engine, struct tj_task *task, struct disp_result *res, int *rc_r)
{
	struct route *route = task->route;
	struct json_error jerr = { .what = "out of memory" };

	memset(res, 0, sizeof(*res));
	task_reset_verdict_state(task);
	task->verdict = TASK_VERDICT_NONE;
	if (route == NULL)
		route = router_lookup(engine->router, task->subject);
	task->route = route;
	if (route == NULL) {
		*rc_r = engine_dead_letter(engine, task, DLQ_REASON_NO_ROUTE,
		                           "no route serves this subject", res);
		return false;
	}
	__atomic_fetch_add(&route->stats.received, 1, __ATOMIC_RELAXED);
	if (route->cfg->payload == CFG_PAYLOAD_JSON &&
	    json_check(task->payload, task->payload_len,
	               &(struct json_parse_opts){ .max_depth = route->cfg->payload_max_depth },
	               &jerr) != 0) {
		char why[sizeof(jerr.what) + 128];

		/* A payload that cannot parse will never parse: no retries. */
		snprintf(why, sizeof(why), "payload is not valid JSON: %s at byte %zu%s", jerr.what,
		         jerr.offset,
		         strncmp(jerr.what, "nesting deeper", 14) == 0
		             ? " (the route's payload_max_depth)"
		             : "");
		*rc_r = engine_dead_letter(engine, task, DLQ_REASON_INVALID_PAYLOAD, why, res);
		return false;
	}
	__atomic_fetch_add(&route->stats.in_flight, 1, __ATOMIC_RELAXED);
	return true;
}

/*
 * After its handler: take the call off the heartbeat, count it, and apply
 * the disposition. 0 or the disposition's -errno.
 */
static int
settle(struct engine *engine, struct tj_task *task, struct inflight *flight, struct disp_call *call,
       const char *cause, uint64_t handler_us, struct disp_result *res)
{
	struct route *route = task->route;
	int rc;

	if (inflight_remove(engine, flight)) {
		struct log_ctx ctx;

		__atomic_fetch_sub(&route->stats.hung_now, 1, __ATOMIC_RELAXED);
		route_log_ctx(route, task, &ctx);
		log_write(TJ_LOG_WARNING, &ctx,
		          "hung handler of task %s returned after %llu ms (timeout %lld ms); its "
		          "verdict is void, the server delivers the task again",
		          task->id, (unsigned long long)(handler_us / 1000),
		          (long long)route->cfg->timeout_ms);
		call->end = DISP_CALL_LATE;
	}
	__atomic_fetch_sub(&route->stats.in_flight, 1, __ATOMIC_RELAXED);
	task->verdict = verdict_of(call);
	if (call->end != DISP_CALL_NOT_RUN && call->end != DISP_CALL_STOPPED) {
		__atomic_fetch_add(&route->stats.handler_us_total, handler_us, __ATOMIC_RELAXED);
		metrics_observe_handler(engine->metrics, route, handler_us, task->attempt);
	}
	if (call->end != DISP_CALL_RETURNED && call->end != DISP_CALL_LATE) {
		/* Said in the log line of the retry, and the letter's error. */
		call->cause = cause;
		free(task->fail_reason);
		task->fail_reason = xstrdup(cause);
	}
	memset(res, 0, sizeof(*res));
	rc = disp_apply_call(&engine->disp, route, task, call, res);
	log_outcome(task, res, NULL);
	return rc;
}

int
engine_process(struct engine *engine, struct tj_task *task, struct disp_result *result_r)
{
	struct disp_result res;
	struct disp_call call = { .end = DISP_CALL_RETURNED };
	struct inflight flight;
	struct route *route;
	char cause[256] = "";
	int64_t started_us, now_ms;
	int rc = 0;

	if (!admit(engine, task, &res, &rc))
		goto out;
	route = task->route;
	/* One clock read serves the heartbeat, the deadline and the handler
	 * time. The deadline is the handler's in both modes
	 * (task_time_left_ms); a process route's pool enforces it. */
	started_us = clock_mono_us();
	now_ms = started_us / 1000;
	task->deadline_ms = now_ms + route->cfg->timeout_ms;
	inflight_add(engine, &flight, task, now_ms, route->pool == NULL ? task->deadline_ms : 0);
	if (route->pool != NULL) {
		call_in_pool(route, task, &call, cause, sizeof(cause));
	} else {
		call.verdict = plugin_call(route->handler, task);
		call.end = DISP_CALL_RETURNED;
	}
	rc = settle(engine, task, &flight, &call, cause, (uint64_t)(clock_mono_us() - started_us),
	            &res);
out:
	if (result_r != NULL)
		*result_r = res;
	return rc;
}

/* A batch on a process route: the tasks the pool runs, with their
 * heartbeat entries. */
struct pool_batch {
	struct engine *engine;
	struct tj_task *tasks[SINK_BATCH_MAX];
	struct inflight flights[SINK_BATCH_MAX];
	int rc; /* the first disposition error */
};

/* What a batch returns: its first error. */
static void
keep_first_error(struct pool_batch *pb, int rc)
{
	if (rc < 0 && pb->rc == 0)
		pb->rc = rc;
}

static void
pool_task_ended(void *ctx, size_t index, struct tj_task *task, const struct procpool_outcome *out)
{
	struct pool_batch *pb = ctx;
	struct disp_call call = { .end = DISP_CALL_RETURNED };
	struct disp_result res;
	char cause[256];

	call_of_outcome(out, &call, cause, sizeof(cause));
	keep_first_error(pb, settle(pb->engine, task, &pb->flights[index], &call, cause,
	                            (uint64_t)out->run_us, &res));
}

int
engine_process_batch(struct engine *engine, struct tj_task **tasks, size_t n)
{
	struct pool_batch pb = { .engine = engine };
	struct route *route = n > 0 ? tasks[0]->route : NULL;
	struct disp_result res;
	bool one_route = n <= SINK_BATCH_MAX && route != NULL && route->pool != NULL;
	size_t count = 0;
	int64_t now_ms;
	int rc;

	for (size_t i = 1; i < n && one_route; i++)
		one_route = tasks[i]->route == route;
	if (!one_route) {
		for (size_t i = 0; i < n; i++)
			keep_first_error(&pb, engine_process(engine, tasks[i], NULL));
		return pb.rc;
	}
	now_ms = clock_mono_ms();
	for (size_t i = 0; i < n; i++) {
		rc = 0;
		if (!admit(engine, tasks[i], &res, &rc)) {
			keep_first_error(&pb, rc);
			continue;
		}
		/* Beaten for from now; its deadline counts from its own start,
		 * which the pool keeps. */
		tasks[i]->deadline_ms = now_ms + route->cfg->timeout_ms;
		inflight_add(engine, &pb.flights[count], tasks[i], now_ms, 0);
		pb.tasks[count++] = tasks[i];
	}
	if (count > 0 && procpool_call_batch(route->pool, pb.tasks[0]->slot, pb.tasks, count,
	                                     route->cfg->timeout_ms, pool_task_ended, &pb) < 0) {
		for (size_t i = 0; i < count; i++) {
			struct disp_call call = { .end = DISP_CALL_NOT_RUN };
			char cause[256];

			call_not_run(route, pb.tasks[i], &call, cause, sizeof(cause));
			keep_first_error(&pb, settle(engine, pb.tasks[i], &pb.flights[i], &call,
			                             cause, 0, &res));
		}
	}
	return pb.rc;
}
