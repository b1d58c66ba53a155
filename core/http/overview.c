/* SPDX-License-Identifier: MIT */
/*
 * GET /api/v1/overview: what the dashboard shows at a glance (task/doc.h,
 * doc_overview). Rates and handler quantiles over the last minute come
 * from a history of the engine's counters that a thread of ours samples
 * every two seconds: a few hundred bytes copied per route and sample,
 * nothing on the task path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "plugin/loader.h"
#include "task/doc.h"
#include "task/history.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

#define SAMPLE_INTERVAL_MS 2000
#define WINDOW_MS 60000
/* One more reading than the window holds, so a full minute is covered. */
#define HISTORY_READINGS (WINDOW_MS / SAMPLE_INTERVAL_MS + 2)

struct overview_sampler {
	struct history *history;
	int64_t started_mono_ms, started_wall_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
};

/*
 * How a route's handlers run. The config has no per-route isolation key
 * yet, and `taskjet run` calls every handler in the engine's threads, so
 * this says "thread". When struct cfg_route gains its isolation, map it
 * here: this is the one place the overview reads it.
 */
static const char *
route_isolation(const struct cfg_route *rc)
{
	(void)rc;
	return "thread";
}

static void *
sampler_main(void *arg)
{
	struct overview_sampler *o = arg;
	struct timespec deadline;

	pthread_mutex_lock(&o->lock);
	while (!o->stop) {
		pthread_mutex_unlock(&o->lock);
		history_sample(o->history, clock_mono_ms());
		clock_mono_deadline(SAMPLE_INTERVAL_MS, &deadline);
		pthread_mutex_lock(&o->lock);
		while (!o->stop &&
		       pthread_cond_clockwait(&o->wake, &o->lock, CLOCK_MONOTONIC, &deadline) == 0)
			;
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

int
overview_start(struct http_server *s)
{
	struct overview_sampler *o = xcalloc(1, sizeof(*o));
	int rc;

	rc = history_create(engine_router(s->env.engine), s->env.metrics, HISTORY_READINGS,
	                    &o->history);
	if (rc < 0) {
		free(o);
		return rc;
	}
	o->started_mono_ms = clock_mono_ms();
	o->started_wall_ms = clock_wall_ms();
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->wake, NULL);
	rc = pthread_create(&o->thread, NULL, sampler_main, o);
	if (rc != 0) {
		log_err("http: cannot start the overview sampler: %s", strerror(rc));
		pthread_cond_destroy(&o->wake);
		pthread_mutex_destroy(&o->lock);
		history_destroy(o->history);
		free(o);
		return -rc;
	}
	s->sampler = o;
	return 0;
}

void
overview_stop(struct http_server *s)
{
	struct overview_sampler *o = s->sampler;

	if (o == NULL)
		return;
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_cond_signal(&o->wake);
	pthread_mutex_unlock(&o->lock);
	pthread_join(o->thread, NULL);
	pthread_cond_destroy(&o->wake);
	pthread_mutex_destroy(&o->lock);
	history_destroy(o->history);
	free(o);
	s->sampler = NULL;
}

void
handle_overview(struct http_server *s, struct http_request *req, struct reply *r)
{
	struct overview_sampler *o = s->sampler;
	struct router *router = engine_router(s->env.engine);
	struct backend *b = s->env.backend;
	struct overview_route *routes = xcalloc(router->count + 1, sizeof(*routes));
	struct stats_snapshot *snap = http_snapshot(s);
	struct strbuf buf = { 0 };
	struct jsonw w;
	char why[512] = "";
	bool ready = http_ready_now(s, why, sizeof(why));
	int64_t now = clock_mono_ms();

	for (size_t i = 0; i < router->count; i++) {
		const struct tj_plugin_info *info = plugin_instance_info(router->routes[i].plugin);

		routes[i].plugin_version = info != NULL ? info->version : NULL;
		routes[i].isolation = route_isolation(router->routes[i].cfg);
		history_window(o->history, i, now, WINDOW_MS, &routes[i].window);
	}
	jsonw_init(&w, &buf);
	doc_overview(&w, &(struct overview){
	                     .wall_ms = clock_wall_ms(),
	                     .started_wall_ms = o->started_wall_ms,
	                     .uptime_ms = now - o->started_mono_ms,
	                     .worker_id = s->env.cfg->worker_id,
	                     .version = PACKAGE_VERSION,
	                     .location = b->ops->location(b),
	                     .ready = ready,
	                     .not_ready_reason = why,
	                     .token_required = s->token != NULL,
	                     .window_ms = WINDOW_MS,
	                     .snap = snap,
	                     .router = router,
	                     .metrics = s->env.metrics,
	                     .routes = routes,
	                 });
	reply_document(r, &buf, jsonw_finish(&w));
	stats_snapshot_free(snap);
	free(routes);
}
