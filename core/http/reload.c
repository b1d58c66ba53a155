/* SPDX-License-Identifier: MIT */
/*
 * POST /api/v1/reload: re-read the config and reload what changed (the run
 * path does it; see run/run.c). It changes something, so the security
 * rules ask for JSON from our own origin and, when configured, the token.
 * It runs outside any env: the reload swaps them (http_set_env).
 */
#include "http/internal.h"

void
handle_reload(struct http_server *s, struct http_request *req, struct reply *r)
{
	(void)req;
	if (s->reload == NULL) {
		reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "this engine cannot reload its config");
		return;
	}
	r->status = (unsigned)s->reload(s->reload_ctx, &r->body);
	r->type = "application/json";
}
