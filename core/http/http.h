/* SPDX-License-Identifier: MIT */
/*
 * The operator HTTP endpoint of `taskjet run` (libmicrohttpd, one thread
 * per connection, bound only to http.listen):
 *
 *   GET  /healthz          the process is alive
 *   GET  /readyz           connected and every route's consumer bound, else 503
 *   GET  /metrics          Prometheus text format
 *   GET  /stats            JSON: queue, pool and per-route numbers
 *   POST /api/v1/tasks     {"subject", "payload", "id"} -> stream + sequence
 *   GET  /api/v1/dlq       dead letters (?subject=&reason=&since=&from=&limit=)
 *   GET|DELETE /api/v1/dlq/{seq}, POST /api/v1/dlq/{seq}/replay
 *                          (501 on a backend that keeps no dead letters)
 *   GET  /api/v1/overview  JSON: the dashboard's overview, routes, rates
 *   GET  /                 the web dashboard (files under /dashboard/)
 *   POST /api/v1/reload    re-read the config, reload what changed
 *
 * With http.token_file set, every request other than GET/HEAD must carry
 * "Authorization: Bearer <token>" (401 otherwise). Request bodies over
 * http.max_body get 413.
 */
#ifndef TASKJET_HTTP_H
#define TASKJET_HTTP_H

#include "config/config.h"
#include "task/backend.h"
#include "engine/engine.h"
#include "task/metrics.h"

/* What the server reads and publishes through. All borrowed: they must
 * outlive the server (stop it first), or its use of them (http_set_env). */
struct http_env {
	const struct cfg *cfg;
	struct engine *engine;
	struct metrics *metrics; /* may be NULL */
	struct backend *backend; /* started */
	const char *libnats_version; /* for taskjet_build_info; may be NULL */
	/* POST /api/v1/reload (NULL: 501): write a JSON object into `answer`
	 * and return the HTTP status. Runs on the request's thread, outside
	 * any env (it swaps them). Taken at http_start() only. */
	int (*reload)(void *ctx, struct mbuf *answer);
	void *reload_ctx;
};

struct http_server;

/*
 * Start serving env->cfg->http on its own threads; the backend must be
 * started already. Returns 0 with *s_r set, or 0 with *s_r NULL when the
 * endpoint is disabled, or when the default address (not configured
 * explicitly) is in use (a warning is logged: another taskjet on this
 * host has it). Otherwise -errno after logging why: -EINVAL for a
 * configuration problem (a token file that cannot be read, is empty, or is
 * readable by group or others), else why a configured address cannot be
 * bound. Main thread.
 */
int http_start(const struct http_env *env, struct http_server **s_r);

/*
 * Serve from `env` from now on (a reload's engine, backend and metrics;
 * the HTTP settings and the reload hook of the first stay). Requests that
 * began before finish on the old env, which is no longer read once this
 * returns (it waits for them, at most 30 s). NULL s is a no-op. Main
 * thread.
 */
void http_set_env(struct http_server *s, const struct http_env *env);

/* The TCP port actually bound (useful with port 0). */
int http_port(const struct http_server *s);

/* Serve `fd`, a stream socket connected elsewhere, as a client at the
 * loopback address: how tests drive the real endpoint without a port (one
 * end of a socketpair). The server takes it over and closes it. 0, or
 * -EIO when the server refuses it (closed already). Any thread. */
int http_serve_fd(struct http_server *s, int fd);

/* Stop accepting, wait for requests in progress (each is bounded by the
 * backend's own timeouts), free. NULL is a no-op. Main thread. */
void http_stop(struct http_server *s);

#endif
