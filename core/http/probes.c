/* SPDX-License-Identifier: MIT */
/*
 * Liveness and readiness: GET /healthz and GET /readyz. Asking the server
 * whether every route's consumer exists can take up to a second per route;
 * a probe must not wait for that, nor can a slow server be allowed to hold
 * the event loops. So a refresher thread asks every second and /readyz
 * answers from what it found, at once; an answer the refresher has not
 * renewed for a while says so and counts as not ready.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "task/backend.h"
#include "util/clock.h"
#include "util/ticker.h"
#include "util/xalloc.h"

#define REFRESH_INTERVAL_MS 1000
/* Older than this (the refresher is stuck on a silent server), the last
 * answer no longer stands. */
#define STALE_AFTER_MS 5000

struct http_readiness {
	struct http_server *s;
	pthread_mutex_t lock;
	bool ready;
	char why[512];
	char held[512]; /* routes held back (the backend's degraded()) */
	int64_t checked_ms; /* monotonic, when the last check ended */
	struct ticker *refresher;
};

/* True when the backend is ready; else `why` says what is missing. May
 * wait on the server. (The engine's own state is read at each probe.) */
static bool
check_ready(const struct http_env *env, char *why, size_t len)
{
	struct backend *b = env->backend;

	return b->ops->ready(b, SERVER_INFO_TIMEOUT_MS, why, len);
}

static void
refresh(void *arg)
{
	struct http_readiness *rd = arg;
	char why[512] = "", held[512] = "";
	unsigned ticket;
	const struct http_env *env = http_env_hold(rd->s, &ticket);
	struct backend *b = env->backend;
	bool ready = check_ready(env, why, sizeof(why));

	if (b->ops->degraded == NULL || !b->ops->degraded(b, held, sizeof(held)))
		held[0] = '\0';
	http_env_release(rd->s, ticket);

	pthread_mutex_lock(&rd->lock);
	rd->ready = ready;
	snprintf(rd->why, sizeof(rd->why), "%s", why);
	snprintf(rd->held, sizeof(rd->held), "%s", held);
	rd->checked_ms = clock_mono_ms();
	pthread_mutex_unlock(&rd->lock);
}

int
readiness_start(struct http_server *s, struct http_readiness **rd_r)
{
	struct http_readiness *rd = xcalloc(1, sizeof(*rd));
	int rc;

	rd->s = s;
	pthread_mutex_init(&rd->lock, NULL);
	/* The first answer before the endpoint opens, so it is never "unknown". */
	refresh(rd);
	rc = ticker_start(REFRESH_INTERVAL_MS, refresh, rd, &rd->refresher);
	if (rc < 0) {
		readiness_stop(rd);
		return rc;
	}
	*rd_r = rd;
	return 0;
}

void
readiness_stop(struct http_readiness *rd)
{
	if (rd == NULL)
		return;
	ticker_stop(rd->refresher);
	pthread_mutex_destroy(&rd->lock);
	free(rd);
}

struct stats_snapshot *
http_snapshot(const struct http_env *env)
{
	struct backend *b = env->backend;
	struct stats_snapshot *snap = NULL;

	if (b->ops->snapshot(b, env->cfg,
	                     &(struct snapshot_opts){ .timeout_ms = SERVER_INFO_TIMEOUT_MS },
	                     &snap) < 0)
		snap = stats_snapshot_new(env->cfg, b->ops->name);
	return snap;
}

/*
 * {"status": ..., "service": "taskjet", "worker_id": ..., "reason": ...}:
 * whoever probes the port learns that it is taskjet answering (not, say,
 * a nats-server monitor on a port taskjet once used) and which worker.
 * Built from the config alone: a probe costs no server round trip more.
 */
static void
probe_reply(const struct http_request *req, struct reply *r, unsigned status, const char *state,
            const char *why, const char *hung, const char *held)
{
	struct strbuf b = { 0 };
	struct jsonw w;

	jsonw_init(&w, &b);
	jsonw_begin_object(&w);
	jsonw_member_string(&w, "status", state);
	jsonw_member_string(&w, "service", "taskjet");
	jsonw_member_string(&w, "worker_id",
	                    req->env->cfg->worker_id != NULL ? req->env->cfg->worker_id : "");
	if (why != NULL)
		jsonw_member_string(&w, "reason", why);
	/* Ready, but handler threads hung past their timeout are named (each
	 * holds a worker of its route). */
	if (hung != NULL)
		jsonw_member_string(&w, "hung", hung);
	/* Ready or not, routes the server holds at max_ack_pending. */
	if (held != NULL && *held != '\0')
		jsonw_member_string(&w, "held", held);
	jsonw_end_object(&w);
	reply_document(r, &b, jsonw_finish(&w));
	if (r->status == MHD_HTTP_OK)
		r->status = status;
	r->retry_after = r->status == MHD_HTTP_SERVICE_UNAVAILABLE;
}

void
handle_healthz(struct http_server *s, struct http_request *req, struct reply *r)
{
	probe_reply(req, r, MHD_HTTP_OK, "ok", NULL, NULL, NULL);
}

bool
http_ready_now(struct http_server *s, const struct http_env *env, char *why, size_t len)
{
	struct http_readiness *rd = s->readiness;
	int64_t age;
	bool ready;

	if (engine_stopping(env->engine)) {
		snprintf(why, len, "shutting down");
		return false;
	}
	/* Worker processes that cannot be kept alive, every handler thread
	 * of a route hung: known here at once, no server asked. */
	if (!engine_ready(env->engine, why, len))
		return false;
	pthread_mutex_lock(&rd->lock);
	age = clock_mono_ms() - rd->checked_ms;
	ready = rd->ready && age <= STALE_AFTER_MS;
	if (age > STALE_AFTER_MS)
		snprintf(why, len, "no answer from the server for %lld s (the last check: %s)",
		         (long long)(age / 1000), rd->ready ? "ready" : rd->why);
	else
		snprintf(why, len, "%s", rd->why);
	pthread_mutex_unlock(&rd->lock);
	return ready;
}

/* The report's lines as one, "a; b", into out (size len). */
static const char *
one_line(const char *text, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = text; *p != '\0' && o + 3 < len; p++) {
		if (*p != '\n')
			out[o++] = *p;
		else if (p[1] != '\0') {
			out[o++] = ';';
			out[o++] = ' ';
		}
	}
	out[o] = '\0';
	return out;
}

/*
 * A route held at its max_ack_pending leaves the worker ready: every
 * worker on the durable is held alike by a downstream outage, so taking
 * them all out of service would stop their other routes and the intake
 * too, and restarting one frees nothing (the server holds the slots).
 * The reply names the held routes instead ("held"), ready or not.
 */
void
handle_readyz(struct http_server *s, struct http_request *req, struct reply *r)
{
	struct http_readiness *rd = s->readiness;
	char why[640], hung[1024], line[1200], held[512];

	pthread_mutex_lock(&rd->lock);
	snprintf(held, sizeof(held), "%s", rd->held);
	pthread_mutex_unlock(&rd->lock);
	if (!http_ready_now(s, req->env, why, sizeof(why)))
		probe_reply(req, r, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready", why, NULL, held);
	else if (engine_hung_report(req->env->engine, hung, sizeof(hung)) > 0)
		probe_reply(req, r, MHD_HTTP_OK, "ready", NULL, one_line(hung, line, sizeof(line)),
		            held);
	else
		probe_reply(req, r, MHD_HTTP_OK, "ready", NULL, NULL, held);
}
