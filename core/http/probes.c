/* SPDX-License-Identifier: MIT */
/* Liveness and readiness: GET /healthz and GET /readyz. */
#include <stdio.h>

#include "http/internal.h"
#include "task/backend.h"

bool
http_check_ready(struct http_server *s, char *why, size_t len)
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

void
handle_healthz(struct http_server *s, struct reply *r)
{
	reply_text(r, MHD_HTTP_OK, "ok");
}

void
handle_readyz(struct http_server *s, struct reply *r)
{
	char why[512], text[600];

	if (http_check_ready(s, why, sizeof(why))) {
		reply_text(r, MHD_HTTP_OK, "ready");
		return;
	}
	snprintf(text, sizeof(text), "not ready: %s", why);
	reply_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, text);
	r->retry_after = true;
}
