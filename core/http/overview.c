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
	struct http_server *s;
	/* Readings of this engine's routes (a reload brings another engine:
	 * the history starts again with it). Both under lock. */
	const struct engine *engine;
	struct history *history;
	int64_t started_mono_ms, started_wall_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
};

/* How a route's handlers run. */
static const char *
route_isolation(const struct cfg_route *rc)
{
	return rc->isolation == CFG_ISOLATION_PROCESS ? "process" : "thread";
}

/* Make the history follow env's engine (o->lock held, env held): it
 * borrows the engine's router and metrics, which a reload frees. 0 or
 * -errno (then there is no history). */
static int
follow_engine(struct overview_sampler *o, const struct http_env *env)
{
	int rc = 0;

	if (o->engine == env->engine && o->history != NULL)
		return 0;
	history_destroy(o->history);
	o->history = NULL;
	o->engine = env->engine;
	rc =
	    history_create(engine_router(env->engine), env->metrics, HISTORY_READINGS, &o->history);
	if (rc < 0)
		o->history = NULL;
	return rc;
}

static void *
sampler_main(void *arg)
{
	struct overview_sampler *o = arg;
	struct timespec deadline;

	pthread_mutex_lock(&o->lock);
	while (!o->stop) {
		unsigned ticket;
		const struct http_env *env;

		pthread_mutex_unlock(&o->lock);
		env = http_env_hold(o->s, &ticket);
		pthread_mutex_lock(&o->lock);
		if (follow_engine(o, env) == 0)
			history_sample(o->history, clock_mono_ms());
		pthread_mutex_unlock(&o->lock);
		http_env_release(o->s, ticket);
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

	o->s = s;
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
	const struct http_env *env = req->env;
	struct router *router = engine_router(env->engine);
	struct backend *b = env->backend;
	struct overview_route *routes = xcalloc(router->count + 1, sizeof(*routes));
	struct stats_snapshot *snap = http_snapshot(env);
	struct strbuf buf = { 0 };
	struct jsonw w;
	char why[640] = "";
	bool ready = http_ready_now(s, env, why, sizeof(why));
	int64_t now = clock_mono_ms();
	bool have_history;

	pthread_mutex_lock(&o->lock);
	have_history = follow_engine(o, env) == 0;
	for (size_t i = 0; i < router->count; i++) {
		const struct route *rt = &router->routes[i];

		routes[i].plugin_version =
		    rt->plugin_version[0] != '\0' ? rt->plugin_version : NULL;
		routes[i].isolation = route_isolation(rt->cfg);
		if (have_history)
			history_window(o->history, i, now, WINDOW_MS, &routes[i].window);
	}
	pthread_mutex_unlock(&o->lock);
	jsonw_init(&w, &buf);
	doc_overview(&w, &(struct overview){
	                     .wall_ms = clock_wall_ms(),
	                     .started_wall_ms = o->started_wall_ms,
	                     .uptime_ms = now - o->started_mono_ms,
	                     .worker_id = env->cfg->worker_id,
	                     .version = PACKAGE_VERSION,
	                     .location = b->ops->location(b),
	                     .ready = ready,
	                     .not_ready_reason = why,
	                     .token_required = s->token != NULL,
	                     .window_ms = WINDOW_MS,
	                     .snap = snap,
	                     .router = router,
	                     .metrics = env->metrics,
	                     .routes = routes,
	                 });
	reply_document(r, &buf, jsonw_finish(&w));
	stats_snapshot_free(snap);
	free(routes);
}
