/* SPDX-License-Identifier: MIT */
/* GET /stats: the stats document (task/doc.h) with the engine's counters. */
#include "http/internal.h"
#include "task/doc.h"

void
handle_stats(struct http_server *s, struct http_request *req, struct reply *r)
{
	struct stats_snapshot *snap = http_snapshot(req->env);
	struct strbuf b = { 0 };
	struct jsonw w;

	jsonw_init(&w, &b);
	doc_stats(&w, snap, NULL, engine_router(req->env->engine));
	reply_document(r, &b, jsonw_finish(&w));
	stats_snapshot_free(snap);
}
