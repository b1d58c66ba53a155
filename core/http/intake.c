/* SPDX-License-Identifier: MIT */
/* POST /api/v1/tasks: a task into a configured work stream. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "http/internal.h"
#include "json.h"
#include "task/backend.h"
#include "util/clock.h"
#include "util/xalloc.h"

/* A fresh message id, so a publish retried after a timeout is stored once. */
static void
new_task_id(char *buf, size_t len)
{
	unsigned char r[12];
	static uint64_t counter;
	size_t o;

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		uint64_t c = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
		int64_t t = clock_wall_ms();

		memcpy(r, &t, 8);
		memcpy(r + 8, &c, 4);
	}
	o = (size_t)snprintf(buf, len, "http-");
	for (size_t i = 0; i < sizeof(r) && o + 2 < len; i++, o += 2)
		snprintf(buf + o, len - o, "%02x", r[i]);
}

static void
publish_failed(struct reply *r, int rc, const char *subject)
{
	switch (rc) {
	case -EINVAL:
		reply_error(r, MHD_HTTP_BAD_REQUEST, "subject \"%s\" is not valid", subject);
		break;
	case -ENOENT:
		reply_error(r, MHD_HTTP_BAD_REQUEST, "no stream takes subject \"%s\"", subject);
		break;
	case -EMSGSIZE:
		reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
		            "the payload is larger than the stream accepts");
		break;
	case -ENOBUFS:
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the queue is full; try again later");
		break;
	case -ENOTCONN:
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not connected to NATS");
		break;
	default:
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot publish: %s", strerror(-rc));
		break;
	}
}

/* The body nests the payload one level down: let it be as deep as the
 * deepest route takes (the route's own limit is the engine's to apply, so
 * a too-deep payload is dead-lettered with that reason, like any other). */
static int
body_max_depth(const struct cfg *cfg)
{
	int depth = JSON_DEFAULT_MAX_DEPTH;

	for (size_t i = 0; i < cfg->route_count; i++)
		if (cfg->routes[i].payload_max_depth + 1 > depth)
			depth = cfg->routes[i].payload_max_depth + 1;
	return depth < JSON_MAX_DEPTH_LIMIT ? depth : JSON_MAX_DEPTH_LIMIT;
}

void
handle_post_task(struct http_server *s, struct http_request *req, struct reply *r)
{
	const struct cfg *cfg = req->env->cfg;
	const struct json_tok *root, *k, *subj_t = NULL, *pay_t = NULL, *id_t = NULL;
	const struct cfg_stream *stream;
	const struct cfg_route *route = NULL;
	struct publish_ack ack = { 0 };
	struct json_doc doc = { 0 };
	char *subject = NULL, *id = NULL, *text = NULL, gen_id[64], why[300];
	const char *data = "";
	struct json_error jerr = { 0 };
	size_t data_len = 0;
	uint64_t seq = 0;
	bool dup = false;
	int i, rc;

	if (req->body.len == 0) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
		            "empty body: send {\"subject\": ..., \"payload\": ...}");
		goto out;
	}
	if (json_parse_with(req->body.data, req->body.len,
	                    &(struct json_parse_opts){ .max_depth = body_max_depth(cfg) }, &doc,
	                    &jerr) < 0) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid JSON at byte %zu: %s", jerr.offset,
		            jerr.what);
		goto out;
	}
	root = &doc.toks[0];
	if (root->type != JSON_OBJECT) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
		goto out;
	}
	json_for_each_member(i, k, root)
	{
		if (json_tok_eq(&doc, k, "subject")) {
			subj_t = k + 1;
		} else if (json_tok_eq(&doc, k, "payload")) {
			pay_t = k + 1;
		} else if (json_tok_eq(&doc, k, "id")) {
			id_t = k + 1;
		} else {
			reply_error(r, MHD_HTTP_BAD_REQUEST,
			            "unknown key \"%.*s\" (expected subject, payload, id)",
			            k->end - k->start > 64 ? 64 : k->end - k->start,
			            doc.text + k->start);
			goto out;
		}
	}
	if (subj_t == NULL || subj_t->type != JSON_STRING ||
	    json_get_string(&doc, subj_t, &subject) < 0 || *subject == '\0') {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
		            "\"subject\" is required and must be a non-empty string");
		goto out;
	}
	/* Only what a route here consumes: never the DLQ, the advisories or
	 * the JetStream API (the rule replay follows too). */
	if (cfg_task_subject_check(cfg, subject, &route, why, sizeof(why)) < 0) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "%s", why);
		goto out;
	}
	stream = cfg_route_stream(cfg, route);
	if (id_t != NULL && !json_is_null(&doc, id_t)) {
		if (id_t->type != JSON_STRING || json_get_string(&doc, id_t, &id) < 0 ||
		    *id == '\0' || strlen(id) > 200) {
			reply_error(r, MHD_HTTP_BAD_REQUEST,
			            "\"id\" must be a non-empty string of at most 200 "
			            "bytes");
			goto out;
		}
	} else {
		new_task_id(gen_id, sizeof(gen_id));
		id = xstrdup(gen_id);
	}
	/* A JSON string is the text itself; anything else is sent as the JSON
	 * it is written as. */
	if (pay_t != NULL && pay_t->type == JSON_STRING) {
		if (json_get_string(&doc, pay_t, &text) < 0) {
			reply_error(r, MHD_HTTP_BAD_REQUEST, "\"payload\": bad string");
			goto out;
		}
		data = text;
		data_len = strlen(text);
	} else if (pay_t != NULL && !json_is_null(&doc, pay_t)) {
		data = doc.text + pay_t->start;
		data_len = (size_t)(pay_t->end - pay_t->start);
	}
	if (engine_stopping(req->env->engine)) {
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
		goto out;
	}
	rc = req->env->backend->ops->publish(
	    req->env->backend,
	    &(struct publish_msg){
	        .subject = subject, .data = data, .len = data_len, .msg_id = id },
	    &ack);
	seq = ack.seq;
	dup = ack.duplicate;
	if (rc < 0) {
		publish_failed(r, rc, subject);
		goto out;
	}
	r->status = dup ? MHD_HTTP_OK : MHD_HTTP_CREATED;
	r->type = "application/json";
	mbuf_put(&r->body, "{\"stream\":", 10);
	mbuf_json_string(&r->body, stream->name);
	if (seq > 0)
		mbuf_printf(&r->body, ",\"seq\":%llu", (unsigned long long)seq);
	else
		mbuf_printf(&r->body, ",\"seq\":null");
	mbuf_put(&r->body, ",\"id\":", 6);
	mbuf_json_string(&r->body, id);
	mbuf_printf(&r->body, ",\"duplicate\":%s}\n", dup ? "true" : "false");
out:
	json_doc_free(&doc);
	free(subject);
	free(id);
	free(text);
}
