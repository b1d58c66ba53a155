/* SPDX-License-Identifier: MIT */
/* Liveness and readiness: GET /healthz and GET /readyz. */
#include <stdio.h>

#include "http/internal.h"
#include "task/backend.h"

/* True when ready; else `why` says what is missing. */
static bool
check_ready(struct http_server *s, char *why, size_t len)
{
	struct backend *b = s->env.backend;

	if (engine_stopping(s->env.engine)) {
		snprintf(why, len, "shutting down");
		return false;
	}
	return b->ops->ready(b, SERVER_INFO_TIMEOUT_MS, why, len);
}

struct stats_snapshot *
http_snapshot(struct http_server *s)
{
	struct backend *b = s->env.backend;
	struct stats_snapshot *snap = NULL;

	if (b->ops->snapshot(b, s->env.cfg,
	                     &(struct snapshot_opts){ .timeout_ms = SERVER_INFO_TIMEOUT_MS },
	                     &snap) < 0)
		snap = stats_snapshot_new(s->env.cfg, b->ops->name);
	return snap;
}

/*
 * {"status": ..., "service": "taskjet", "worker_id": ..., "reason": ...}:
 * whoever probes the port learns that it is taskjet answering (not, say,
 * a nats-server monitor on a port taskjet once used) and which worker.
 * Built from the config alone: a probe costs no server round trip more.
 */
static void
probe_reply(struct http_server *s, struct reply *r, unsigned status, const char *state,
            const char *why)
{
	struct strbuf b = { 0 };
	struct jsonw w;

	jsonw_init(&w, &b);
	jsonw_begin_object(&w);
	jsonw_member_string(&w, "status", state);
	jsonw_member_string(&w, "service", "taskjet");
	jsonw_member_string(&w, "worker_id",
	                    s->env.cfg->worker_id != NULL ? s->env.cfg->worker_id : "");
	if (why != NULL)
		jsonw_member_string(&w, "reason", why);
	jsonw_end_object(&w);
	reply_document(r, &b, jsonw_finish(&w));
	if (r->status == MHD_HTTP_OK)
		r->status = status;
	r->retry_after = r->status == MHD_HTTP_SERVICE_UNAVAILABLE;
}

void
handle_healthz(struct http_server *s, struct reply *r)
{
	probe_reply(s, r, MHD_HTTP_OK, "ok", NULL);
}

void
handle_readyz(struct http_server *s, struct reply *r)
{
	char why[512];

	if (check_ready(s, why, sizeof(why)))
		probe_reply(s, r, MHD_HTTP_OK, "ready", NULL);
	else
		probe_reply(s, r, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready", why);
}
