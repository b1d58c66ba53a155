/* SPDX-License-Identifier: MIT */
/*
 * What the files of the HTTP endpoint share: the server, a request in
 * progress, a reply being built, and the handlers the dispatcher calls.
 * Private to core/http/ (it includes <microhttpd.h>).
 */
#ifndef TASKJET_HTTP_INTERNAL_H
#define TASKJET_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "http/http.h"
#include "jsonw.h"
#include "strbuf.h"
#include "task/metrics.h"
#include "task/stats.h"

/* How long a readiness, metrics or stats probe may wait for the server. */
#define SERVER_INFO_TIMEOUT_MS 1000

struct overview_sampler;

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_env env;
	struct overview_sampler *sampler; /* overview.c */
	char *token; /* NULL: no token required */
	size_t token_len;
	size_t max_body;
	int port;
};

/* One request in progress: its body so far. */
struct request {
	struct mbuf body;
	bool too_big;
};

/* A response to send: status, content type, body (owned). */
struct reply {
	unsigned status;
	const char *type;
	struct mbuf body;
	const char *allow; /* Allow header for 405, else NULL */
	bool retry_after; /* 503: suggest trying again in a second */
	bool www_authenticate; /* 401 */
	/* More headers: "Name", "value" pairs ending in NULL; static. */
	const char *const *headers;
};

/* server.c: replies. */
void reply_text(struct reply *r, unsigned status, const char *text);
/* {"error": msg} with `status` (503 also says retry in a second). */
void reply_error(struct reply *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 200 with the document the writer built in `b` (taken over); a writer
 * that failed (out of memory) gives a 500 instead. */
void reply_document(struct reply *r, struct strbuf *b, int writer_error);

/* probes.c */
void handle_healthz(struct http_server *s, struct reply *r);
void handle_readyz(struct http_server *s, struct reply *r);
/* True when ready to take tasks; else `why` says what is missing. May ask
 * the server (bounded by SERVER_INFO_TIMEOUT_MS). */
bool http_check_ready(struct http_server *s, char *why, size_t len);
/* What the backend's store knows now (no per-reason scan); an empty
 * snapshot (queue unknown, nothing found) when it could not say. Free
 * with stats_snapshot_free(). */
struct stats_snapshot *http_snapshot(struct http_server *s);

/* prometheus.c: GET /metrics. */
void handle_metrics(struct http_server *s, struct reply *r);

/* stats.c: GET /stats. */
void handle_stats(struct http_server *s, struct reply *r);

/* intake.c: POST /api/v1/tasks. */
void handle_post_task(struct http_server *s, struct request *req, struct reply *r);

/* dlq_api.c: /api/v1/dlq... Returns false if `url` is not a DLQ path. */
bool handle_dlq(struct http_server *s, struct MHD_Connection *conn, const char *url,
                const char *method, struct reply *r);

/* overview.c: GET /api/v1/overview, and the sampler thread behind its
 * rates over the last minute (started before the daemon, stopped after
 * it; 0 or -errno). Returns false if `url` is not the overview. */
int overview_start(struct http_server *s);
void overview_stop(struct http_server *s);
bool handle_overview(struct http_server *s, const char *url, const char *method, struct reply *r);

/* dashboard.c: the web dashboard at / and its files under /dashboard/.
 * Returns false if `url` is neither. */
bool handle_dashboard(struct http_server *s, const char *url, const char *method, struct reply *r);

#endif
