/* SPDX-License-Identifier: MIT */
/* The operator HTTP endpoint: health, readiness, metrics, stats, intake. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/http.h"
#include "json.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/subject.h"
#include "util/xalloc.h"

/* Bounds on what one client can hold: connections, idle time, and how
 * long a readiness or metrics probe may wait for the server. */
#define HTTP_MAX_CONNECTIONS 64
#define HTTP_IDLE_TIMEOUT_S 30
#define SERVER_INFO_TIMEOUT_MS 1000
#define TOKEN_MAX 4096

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_env *env; /* the current one (env_lock): read with env_of() */
	/* Requests in progress by the parity of the epoch they began in, so
	 * http_set_env() knows when none reads the old env any more. */
	pthread_mutex_t env_lock;
	pthread_cond_t env_idle;
	unsigned env_epoch;
	unsigned env_users[2];
	int (*reload)(void *ctx, struct mbuf *answer); /* fixed at start */
	void *reload_ctx;
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
};

/* ---- the env a request reads ---- */

/* The env of the request on this thread (MHD runs each connection on a
 * thread of its own): one for the whole request, even across a reload. */
static _Thread_local const struct http_env *request_env;

static const struct http_env *
env_of(struct http_server *s)
{
	const struct http_env *env;

	if (request_env != NULL)
		return request_env;
	pthread_mutex_lock(&s->env_lock);
	env = s->env;
	pthread_mutex_unlock(&s->env_lock);
	return env;
}

/* A request begins: it reads the current env until env_leave(). */
static unsigned
env_enter(struct http_server *s)
{
	unsigned e;

	pthread_mutex_lock(&s->env_lock);
	e = s->env_epoch & 1;
	s->env_users[e]++;
	request_env = s->env;
	pthread_mutex_unlock(&s->env_lock);
	return e;
}

static void
env_leave(struct http_server *s, unsigned e)
{
	pthread_mutex_lock(&s->env_lock);
	request_env = NULL;
	if (--s->env_users[e] == 0)
		pthread_cond_broadcast(&s->env_idle);
	pthread_mutex_unlock(&s->env_lock);
}

void
http_set_env(struct http_server *s, const struct http_env *env)
{
	struct http_env *next, *old;
	struct timespec until;
	unsigned e;

	if (s == NULL)
		return;
	next = xmalloc(sizeof(*next));
	*next = *env;
	clock_mono_deadline(30000, &until);
	pthread_mutex_lock(&s->env_lock);
	old = s->env;
	s->env = next;
	/* Requests from now on count in the other half; wait for this one's. */
	e = s->env_epoch++ & 1;
	while (s->env_users[e] > 0 &&
	       pthread_cond_clockwait(&s->env_idle, &s->env_lock, CLOCK_MONOTONIC, &until) == 0)
		;
	if (s->env_users[e] > 0) {
		log_warn("http: %u request(s) still on the previous config after 30 s",
		         s->env_users[e]);
		old = NULL; /* they may still read it: keep it */
	}
	pthread_mutex_unlock(&s->env_lock);
	free(old);
}

/* ---- replies ---- */

static void
reply_text(struct reply *r, unsigned status, const char *text)
{
	r->status = status;
	r->type = "text/plain; charset=utf-8";
	mbuf_printf(&r->body, "%s\n", text);
}

/* {"error": msg} with `status`. */
static void reply_error(struct reply *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reply_error(struct reply *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->status = status;
	r->type = "application/json";
	r->retry_after = status == MHD_HTTP_SERVICE_UNAVAILABLE;
	mbuf_put(&r->body, "{\"error\":", 9);
	mbuf_json_string(&r->body, msg);
	mbuf_put(&r->body, "}\n", 2);
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->body.data == NULL)
		mbuf_put(&r->body, "", 0);
	/* MHD frees the buffer with free() once sent. */
	resp = MHD_create_response_from_buffer(r->body.len, r->body.data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(r->body.data);
		return MHD_NO;
	}
	r->body.data = NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->retry_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (r->www_authenticate)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        "Bearer realm=\"taskjet\"");
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- readiness ---- */

/* True when ready; else `why` says what is missing. */
static bool
check_ready(struct http_server *s, char *why, size_t len)
{
	struct backend *b = env_of(s)->backend;

	if (engine_stopping(env_of(s)->engine)) {
		snprintf(why, len, "shutting down");
		return false;
	}
	return engine_ready(env_of(s)->engine, why, len) &&
	       b->ops->ready(b, SERVER_INFO_TIMEOUT_MS, why, len);
}

/* What the backend's store knows now (no per-reason scan); NULL if it
 * could not say. */
static struct stats_snapshot *
take_snapshot(struct http_server *s)
{
	struct backend *b = env_of(s)->backend;
	struct stats_snapshot *snap = NULL;

	if (b->ops->snapshot(b, env_of(s)->cfg,
	                     &(struct snapshot_opts){ .timeout_ms = SERVER_INFO_TIMEOUT_MS },
	                     &snap) < 0)
		return NULL;
	return snap;
}

static void
handle_readyz(struct http_server *s, struct reply *r)
{
	char why[1024], text[1100];

	if (check_ready(s, why, sizeof(why))) {
		/* Ready, but a hung handler thread is named (each holds a worker). */
		reply_text(r, MHD_HTTP_OK, "ready");
		if (engine_hung_report(env_of(s)->engine, why, sizeof(why)) > 0)
			mbuf_printf(&r->body, "%s", why);
		return;
	}
	snprintf(text, sizeof(text), "not ready: %s", why);
	reply_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, text);
	r->retry_after = true;
}

/* ---- metrics ---- */

static uint64_t
load_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Sum of a route's dead letters over every reason. */
static uint64_t
dead_lettered_total(struct route_stats *st)
{
	uint64_t n = 0;

	for (int i = 0; i < DLQ_REASON_COUNT; i++)
		n += load_u64(&st->dead_lettered[i]);
	return n;
}

static void
route_counters(struct http_server *s, struct mbuf *b)
{
	struct router *router = engine_router(env_of(s)->engine);
	static const char *const outcomes[] = { "acked", "retried", "dead_lettered", "dlq_failed" };

	metrics_family(b, "taskjet_tasks_received_total", "counter",
	               "Deliveries handed to the engine, by route.");
	for (size_t i = 0; i < router->count; i++) {
		struct metrics_label l = { "route", router->routes[i].cfg->name };

		metrics_sample(b, "taskjet_tasks_received_total", &l, 1,
		               (double)load_u64(&router->routes[i].stats.received));
	}
	metrics_family(b, "taskjet_tasks_total", "counter",
	               "Finished deliveries by route and outcome (dlq_failed: the "
	               "dead letter could not be written and the task was naked).");
	for (size_t i = 0; i < router->count; i++) {
		struct route_stats *st = &router->routes[i].stats;
		uint64_t v[4] = { load_u64(&st->acked), load_u64(&st->retried),
			          dead_lettered_total(st), load_u64(&st->dlq_failures) };

		for (size_t o = 0; o < 4; o++) {
			struct metrics_label l[2] = { { "route", router->routes[i].cfg->name },
				                      { "outcome", outcomes[o] } };

			metrics_sample(b, "taskjet_tasks_total", l, 2, (double)v[o]);
		}
	}
	metrics_family(b, "taskjet_dead_letters_total", "counter",
	               "Tasks dead-lettered, by route and reason.");
	for (size_t i = 0; i < router->count; i++) {
		for (int k = 0; k < DLQ_REASON_COUNT; k++) {
			struct metrics_label l[2] = { { "route", router->routes[i].cfg->name },
				                      { "reason", dlq_reason_name(k) } };

			metrics_sample(b, "taskjet_dead_letters_total", l, 2,
			               (double)load_u64(&router->routes[i].stats.dead_lettered[k]));
		}
	}
	metrics_family(b, "taskjet_tasks_in_flight", "gauge", "Handlers running now, by route.");
	for (size_t i = 0; i < router->count; i++) {
		struct metrics_label l = { "route", router->routes[i].cfg->name };

		metrics_sample(b, "taskjet_tasks_in_flight", &l, 1,
		               (double)load_u64(&router->routes[i].stats.in_flight));
	}
}

/* One histogram family over every route. */
static void
route_histograms(struct http_server *s, struct mbuf *b, const char *name, const char *help,
                 const struct metrics_hist *(*get)(const struct metrics *, size_t))
{
	struct router *router = engine_router(env_of(s)->engine);

	metrics_family(b, name, "histogram", help);
	for (size_t i = 0; i < router->count; i++) {
		struct metrics_label l = { "route", router->routes[i].cfg->name };

		metrics_hist_render(b, name, &l, 1, get(env_of(s)->metrics, i));
	}
}

/* What the backend reports: connection, fetches, queue, DLQ, consumers. */
static void
backend_metrics(struct http_server *s, struct mbuf *b, const struct stats_snapshot *snap)
{
	static const struct {
		const char *name, *help;
		size_t offset;
	} gauges[] = {
		{ "taskjet_consumer_pending",
		  "Messages stored for the route's consumer and not yet delivered "
		  "(from the server).",
		  offsetof(struct stats_consumer, num_pending) },
		{ "taskjet_consumer_ack_pending",
		  "Messages delivered and not yet acknowledged (from the server).",
		  offsetof(struct stats_consumer, num_ack_pending) },
		{ "taskjet_consumer_redelivered",
		  "Unacknowledged messages delivered more than once (from the server).",
		  offsetof(struct stats_consumer, num_redelivered) },
	};
	bool any_consumer = false;

	if (snap->has_connection) {
		metrics_family(b, "taskjet_nats_connected", "gauge", "1 while connected to NATS.");
		metrics_sample(b, "taskjet_nats_connected", NULL, 0, snap->connected ? 1 : 0);
		metrics_family(b, "taskjet_nats_reconnects_total", "counter",
		               "Times the NATS connection was re-established.");
		metrics_sample(b, "taskjet_nats_reconnects_total", NULL, 0,
		               (double)snap->reconnects);
	}
	if (snap->fetches_batches && env_of(s)->metrics != NULL)
		route_histograms(s, b, "taskjet_fetch_batch_size",
		                 "Messages received together from the server, by route.",
		                 metrics_fetch_hist);
	if (snap->dlq.found) {
		metrics_family(b, "taskjet_dlq_depth", "gauge", "Dead letters kept in the DLQ.");
		metrics_sample(b, "taskjet_dlq_depth", NULL, 0, (double)snap->dlq.msgs);
	}
	if (snap->has_capacity) {
		metrics_family(b, "taskjet_queue_size", "gauge",
		               "Tasks queued, delayed or in flight in the memory backend.");
		metrics_sample(b, "taskjet_queue_size", NULL, 0, (double)snap->current_size);
		metrics_family(b, "taskjet_queue_capacity", "gauge",
		               "Tasks the memory backend holds before publishing fails.");
		metrics_sample(b, "taskjet_queue_capacity", NULL, 0, (double)snap->capacity);
		metrics_family(b, "taskjet_queue_enqueued_total", "counter",
		               "Tasks accepted by the memory backend.");
		metrics_sample(b, "taskjet_queue_enqueued_total", NULL, 0,
		               (double)snap->total_enqueued);
		metrics_family(b, "taskjet_queue_dequeued_total", "counter",
		               "Deliveries made by the memory backend.");
		metrics_sample(b, "taskjet_queue_dequeued_total", NULL, 0,
		               (double)snap->total_dequeued);
	}
	/* A route the store cannot answer for is left out (absent, rather
	 * than a made-up zero). */
	for (size_t i = 0; i < snap->consumer_count; i++)
		any_consumer |= snap->consumers[i].found;
	for (size_t g = 0; any_consumer && g < sizeof(gauges) / sizeof(gauges[0]); g++) {
		metrics_family(b, gauges[g].name, "gauge", gauges[g].help);
		for (size_t i = 0; i < snap->consumer_count; i++) {
			const struct stats_consumer *c = &snap->consumers[i];
			struct metrics_label l[3] = { { "route", c->route },
				                      { "stream", c->stream },
				                      { "consumer", c->consumer } };

			if (!c->found)
				continue;
			metrics_sample(
			    b, gauges[g].name, l, 3,
			    (double)*(const uint64_t *)((const char *)c + gauges[g].offset));
		}
	}
}

static void
handle_metrics(struct http_server *s, struct reply *r)
{
	struct mbuf *b = &r->body;
	struct stats_snapshot *snap;

	route_counters(s, b);
	engine_render_metrics(env_of(s)->engine, b);
	if (env_of(s)->metrics != NULL) {
		route_histograms(s, b, "taskjet_handler_duration_seconds",
		                 "Time spent in the handler, by route.", metrics_handler_hist);
		route_histograms(s, b, "taskjet_task_attempt",
		                 "Delivery attempt number of each handler call, by "
		                 "route (1 = first delivery).",
		                 metrics_attempt_hist);
	}
	snap = take_snapshot(s);
	if (snap != NULL)
		backend_metrics(s, b, snap);
	stats_snapshot_free(snap);
	r->status = MHD_HTTP_OK;
	r->type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- stats ---- */

/* "9.95s": seconds, trailing zeros trimmed, as the design notes show. */
static void
put_duration(struct mbuf *b, uint64_t us)
{
	char buf[64];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "%llu.%06llu", (unsigned long long)(us / 1000000),
	                     (unsigned long long)(us % 1000000));
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	mbuf_printf(b, "\"%ss\"", buf);
}

static void
handle_stats(struct http_server *s, struct reply *r)
{
	struct router *router = engine_router(env_of(s)->engine);
	struct stats_snapshot *snap = take_snapshot(s);
	uint64_t processed = 0, acked = 0, total_us = 0;
	struct mbuf *b = &r->body;

	for (size_t i = 0; i < router->count; i++) {
		struct route_stats *st = &router->routes[i].stats;

		acked += load_u64(&st->acked);
		processed += load_u64(&st->acked) + load_u64(&st->retried) +
		             dead_lettered_total(st) + load_u64(&st->dlq_failures);
		total_us += load_u64(&st->handler_us_total);
	}

	mbuf_printf(b, "{\"backend\":\"%s\",\"queue\":", env_of(s)->backend->ops->name);
	if (snap != NULL && snap->queue_known)
		mbuf_printf(b,
		            "{\"total_enqueued\":%llu,\"total_dequeued\":%llu,"
		            "\"current_size\":%llu}",
		            (unsigned long long)snap->total_enqueued,
		            (unsigned long long)snap->total_dequeued,
		            (unsigned long long)snap->current_size);
	else
		mbuf_printf(b, "null");
	mbuf_printf(b,
	            ",\"pool\":{\"processed_count\":%llu,\"error_count\":%llu,"
	            "\"total_duration\":",
	            (unsigned long long)processed, (unsigned long long)(processed - acked));
	put_duration(b, total_us);
	mbuf_printf(b, "},\"routes\":{");
	for (size_t i = 0; i < router->count; i++) {
		struct route *route = &router->routes[i];
		struct route_stats *st = &route->stats;
		const struct stats_consumer *c =
		    snap != NULL && i < snap->consumer_count ? &snap->consumers[i] : NULL;

		if (i > 0)
			mbuf_put(b, ",", 1);
		mbuf_json_string(b, route->cfg->name);
		mbuf_put(b, ":{\"subject\":", 12);
		mbuf_json_string(b, route->cfg->subject);
		mbuf_printf(b,
		            ",\"received\":%llu,\"acked\":%llu,\"retried\":%llu,"
		            "\"dead_lettered\":{",
		            (unsigned long long)load_u64(&st->received),
		            (unsigned long long)load_u64(&st->acked),
		            (unsigned long long)load_u64(&st->retried));
		for (int k = 0; k < DLQ_REASON_COUNT; k++)
			mbuf_printf(b, "%s\"%s\":%llu", k > 0 ? "," : "", dlq_reason_name(k),
			            (unsigned long long)load_u64(&st->dead_lettered[k]));
		mbuf_printf(b,
		            "},\"dlq_failures\":%llu,\"in_flight\":%llu,"
		            "\"total_duration\":",
		            (unsigned long long)load_u64(&st->dlq_failures),
		            (unsigned long long)load_u64(&st->in_flight));
		put_duration(b, load_u64(&st->handler_us_total));
		if (c != NULL && c->found)
			mbuf_printf(b,
			            ",\"consumer\":{\"pending\":%llu,\"ack_pending\":%llu,"
			            "\"redelivered\":%llu,\"delivered\":%llu}",
			            (unsigned long long)c->num_pending,
			            (unsigned long long)c->num_ack_pending,
			            (unsigned long long)c->num_redelivered,
			            (unsigned long long)c->delivered_consumer_seq);
		mbuf_put(b, "}", 1);
	}
	mbuf_put(b, "}}\n", 3);
	r->status = MHD_HTTP_OK;
	r->type = "application/json";
	stats_snapshot_free(snap);
}

/* ---- task intake ---- */

static const struct cfg_stream *
stream_for(const struct cfg *cfg, const char *subject)
{
	for (size_t i = 0; i < cfg->stream_count; i++)
		for (size_t j = 0; j < cfg->streams[i].subject_count; j++)
			if (subject_matches(cfg->streams[i].subjects[j], subject))
				return &cfg->streams[i];
	return NULL;
}

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

static void
handle_post_task(struct http_server *s, struct request *req, struct reply *r)
{
	const struct cfg *cfg = env_of(s)->cfg;
	const struct json_tok *root, *k, *subj_t = NULL, *pay_t = NULL, *id_t = NULL;
	const struct cfg_stream *stream;
	struct publish_ack ack = { 0 };
	struct json_doc doc = { 0 };
	char *subject = NULL, *id = NULL, *text = NULL, gen_id[64];
	const char *data = "";
	size_t data_len = 0, err_off = 0;
	uint64_t seq = 0;
	bool dup = false;
	int i, rc;

	if (req->body.len == 0) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
		            "empty body: send {\"subject\": ..., \"payload\": ...}");
		goto out;
	}
	if (json_parse(req->body.data, req->body.len, &doc, &err_off) < 0) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "invalid JSON at byte %zu", err_off);
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
	if (!subject_valid(subject, false)) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
		            "subject \"%.200s\" is not a valid NATS subject (no "
		            "wildcards, no empty tokens)",
		            subject);
		goto out;
	}
	/* Only the configured work streams: never the DLQ or advisories. */
	stream = stream_for(cfg, subject);
	if (stream == NULL) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
		            "no configured stream takes subject \"%.200s\"", subject);
		goto out;
	}
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
	if (engine_stopping(env_of(s)->engine)) {
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
		goto out;
	}
	rc = env_of(s)->backend->ops->publish(
	    env_of(s)->backend,
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

/* ---- dead letters ---- */

#define DLQ_LIST_DEFAULT 100
#define DLQ_LIST_MAX 1000

/* "key": "value" or "key": null, with a leading comma. */
static void
put_str_member(struct mbuf *b, const char *key, const char *value)
{
	mbuf_printf(b, ",\"%s\":", key);
	if (value != NULL)
		mbuf_json_string(b, value);
	else
		mbuf_put(b, "null", 4);
}

static void
put_entry(struct mbuf *b, const struct dlq_entry *e, bool full)
{
	mbuf_printf(b, "{\"seq\":%llu,\"stored_ns\":%lld", (unsigned long long)e->seq,
	            (long long)e->stored_ns);
	put_str_member(b, "dlq_subject", e->dlq_subject);
	put_str_member(b, "subject", e->orig_subject);
	put_str_member(b, "stream", e->orig_stream);
	mbuf_printf(b, ",\"stream_seq\":%llu,\"attempts\":%u", (unsigned long long)e->orig_seq,
	            e->attempts);
	put_str_member(b, "reason", e->reason);
	put_str_member(b, "error", e->error);
	put_str_member(b, "plugin", e->plugin);
	put_str_member(b, "failed_at", e->failed_at);
	if (full) {
		mbuf_put(b, ",\"headers\":{", 12);
		for (size_t i = 0; i < e->header_count; i++) {
			if (i > 0)
				mbuf_put(b, ",", 1);
			mbuf_json_string(b, e->headers[i].key);
			mbuf_put(b, ":", 1);
			mbuf_json_string(b, e->headers[i].value);
		}
		/* The payload as text; payload_len tells if a NUL cut it. */
		mbuf_printf(b, "},\"payload_len\":%zu", e->payload_len);
		put_str_member(b, "payload", e->payload != NULL ? e->payload : "");
	}
	mbuf_put(b, "}", 1);
}

/* Can the DLQ API serve now? Fills r and returns false if not. */
static bool
dlq_available(struct http_server *s, struct reply *r)
{
	struct backend *b = env_of(s)->backend;

	if (!backend_has_dlq(b)) {
		reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "the %s backend keeps no dead letters",
		            b->ops->name);
		return false;
	}
	if (!b->ops->healthy(b)) {
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not connected to NATS");
		return false;
	}
	return true;
}

static void
dlq_failed(struct reply *r, int rc, uint64_t seq, const char *err)
{
	if (rc == -ENOENT && seq > 0)
		reply_error(r, MHD_HTTP_NOT_FOUND, "no dead letter %llu", (unsigned long long)seq);
	else if (rc == -ENOENT)
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the DLQ stream does not exist");
	else if (rc == -EINVAL || rc == -ENXIO)
		reply_error(r, MHD_HTTP_CONFLICT, "%s",
		            err != NULL && *err != '\0' ? err : strerror(-rc));
	else
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "%s",
		            err != NULL && *err != '\0' ? err : strerror(-rc));
}

static void
handle_dlq_list(struct http_server *s, struct MHD_Connection *conn, struct reply *r)
{
	const char *subject, *reason, *since, *from, *limit;
	struct dlq_filter f = { 0 };
	struct dlq_list list;
	char *end;
	int rc;

	if (!dlq_available(s, r))
		return;
	subject = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "subject");
	reason = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "reason");
	since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	from = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "from");
	limit = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
	if (subject != NULL && !subject_valid(subject, true)) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
		            "subject: \"%.200s\" is not a NATS subject pattern", subject);
		return;
	}
	if (reason != NULL && dlq_reason_parse(reason) < 0) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "reason: unknown reason \"%.100s\"", reason);
		return;
	}
	if (since != NULL && dlq_parse_since(since, clock_wall_ms(), &f.since_ms) < 0) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
		            "since: \"%.100s\" is neither an RFC 3339 time nor a "
		            "duration such as \"1h\"",
		            since);
		return;
	}
	f.subject = subject;
	f.reason = reason;
	f.limit = DLQ_LIST_DEFAULT;
	if (from != NULL) {
		errno = 0;
		f.from_seq = strtoull(from, &end, 10);
		if (errno != 0 || *from < '0' || *from > '9' || *end != '\0') {
			reply_error(r, MHD_HTTP_BAD_REQUEST, "from: not a sequence");
			return;
		}
	}
	if (limit != NULL) {
		errno = 0;
		f.limit = (size_t)strtoull(limit, &end, 10);
		if (errno != 0 || *limit < '0' || *limit > '9' || *end != '\0' || f.limit == 0 ||
		    f.limit > DLQ_LIST_MAX) {
			reply_error(r, MHD_HTTP_BAD_REQUEST, "limit: 1..%d", DLQ_LIST_MAX);
			return;
		}
	}
	rc = backend_dlq_list(env_of(s)->backend, &f, false, &list);
	if (rc < 0) {
		dlq_failed(r, rc, 0, NULL);
		return;
	}
	mbuf_printf(&r->body,
	            "{\"count\":%zu,\"truncated\":%s,\"next_seq\":%llu,"
	            "\"entries\":[",
	            list.count, list.truncated ? "true" : "false",
	            (unsigned long long)list.next_seq);
	for (size_t i = 0; i < list.count; i++) {
		if (i > 0)
			mbuf_put(&r->body, ",", 1);
		put_entry(&r->body, &list.entries[i], false);
	}
	mbuf_put(&r->body, "]}\n", 3);
	dlq_list_free(&list);
	r->status = MHD_HTTP_OK;
	r->type = "application/json";
}

static void
handle_dlq_one(struct http_server *s, const char *method, uint64_t seq, bool replay,
               struct reply *r)
{
	struct backend *b = env_of(s)->backend;
	char err[256] = "";
	int rc;

	if (!dlq_available(s, r))
		return;
	if (replay) {
		struct dlq_replay_result res;

		rc = backend_dlq_replay(b, seq, err, sizeof(err), &res);
		if (rc < 0) {
			dlq_failed(r, rc, seq, err);
			return;
		}
		mbuf_printf(&r->body,
		            "{\"dlq_seq\":%llu,\"stream\":", (unsigned long long)res.dlq_seq);
		mbuf_json_string(&r->body, res.new_stream);
		mbuf_printf(&r->body, ",\"seq\":%llu,\"duplicate\":%s}\n",
		            (unsigned long long)res.new_seq, res.duplicate ? "true" : "false");
	} else if (strcmp(method, MHD_HTTP_METHOD_DELETE) == 0) {
		rc = backend_dlq_delete(b, seq);
		if (rc < 0) {
			dlq_failed(r, rc, seq, NULL);
			return;
		}
		mbuf_printf(&r->body, "{\"deleted\":%llu}\n", (unsigned long long)seq);
	} else {
		struct dlq_entry *e = NULL;

		rc = backend_dlq_get(b, seq, &e);
		if (rc < 0) {
			dlq_failed(r, rc, seq, NULL);
			return;
		}
		put_entry(&r->body, e, true);
		mbuf_put(&r->body, "\n", 1);
		dlq_entry_free(e);
	}
	r->status = MHD_HTTP_OK;
	r->type = "application/json";
}

/* "/api/v1/dlq/<seq>" or "/api/v1/dlq/<seq>/replay": 1 and the parts, else 0. */
static int
parse_dlq_path(const char *url, uint64_t *seq_r, bool *replay_r)
{
	const char *p = url + strlen("/api/v1/dlq/");
	char *end;
	uint64_t seq;

	if (*p < '1' || *p > '9')
		return 0;
	errno = 0;
	seq = strtoull(p, &end, 10);
	if (errno != 0)
		return 0;
	if (*end == '\0')
		*replay_r = false;
	else if (strcmp(end, "/replay") == 0)
		*replay_r = true;
	else
		return 0;
	*seq_r = seq;
	return 1;
}

/* ---- reload ---- */

static void
handle_reload(struct http_server *s, const char *method, struct reply *r)
{
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
		r->allow = "POST";
		return;
	}
	if (s->reload == NULL) {
		reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "this engine cannot reload its config");
		return;
	}
	r->status = (unsigned)s->reload(s->reload_ctx, &r->body);
	r->type = "application/json";
}

/* ---- dispatch ---- */

static bool
is_read_only(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	       strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/* Constant time in the token's length, so timing does not leak it. */
static bool
authorized(struct http_server *s, struct MHD_Connection *conn)
{
	const char *h;
	size_t len;
	unsigned char diff = 0;

	if (s->token == NULL)
		return true;
	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	len = strlen(h);
	for (size_t i = 0; i < s->token_len; i++)
		diff |= (unsigned char)(s->token[i] ^ (i < len ? h[i] : 0));
	return diff == 0 && len == s->token_len;
}

static void
route_request(struct http_server *s, struct MHD_Connection *conn, struct request *req,
              const char *url, const char *method, struct reply *r)
{
	bool get = is_read_only(method), replay = false;
	uint64_t seq = 0;

	if (strcmp(url, "/healthz") == 0 && get) {
		reply_text(r, MHD_HTTP_OK, "ok");
	} else if (strcmp(url, "/readyz") == 0 && get) {
		handle_readyz(s, r);
	} else if (strcmp(url, "/metrics") == 0 && get) {
		handle_metrics(s, r);
	} else if (strcmp(url, "/stats") == 0 && get) {
		handle_stats(s, r);
	} else if (strcmp(url, "/api/v1/tasks") == 0 && strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
		handle_post_task(s, req, r);
	} else if (strcmp(url, "/api/v1/dlq") == 0 && get) {
		handle_dlq_list(s, conn, r);
	} else if (strncmp(url, "/api/v1/dlq/", 12) == 0 && parse_dlq_path(url, &seq, &replay)) {
		if (replay ? strcmp(method, MHD_HTTP_METHOD_POST) == 0
		           : get || strcmp(method, MHD_HTTP_METHOD_DELETE) == 0) {
			handle_dlq_one(s, method, seq, replay, r);
		} else {
			reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
			r->allow = replay ? "POST" : "GET, HEAD, DELETE";
		}
	} else if (strcmp(url, "/api/v1/dlq") == 0) {
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		r->allow = "GET, HEAD";
	} else if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
	           strcmp(url, "/metrics") == 0 || strcmp(url, "/stats") == 0) {
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		r->allow = "GET, HEAD";
	} else if (strcmp(url, "/api/v1/tasks") == 0) {
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
		r->allow = "POST";
	} else {
		reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint: %.200s", url);
	}
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct request *req = *con_cls;
	struct reply r = { 0 };
	const char *cl;
	enum MHD_Result ret;

	if (req == NULL) {
		/* First call: headers only. Refuse early what will be refused
		 * anyway, before reading a body. */
		req = xcalloc(1, sizeof(*req));
		*con_cls = req;
		if (!is_read_only(method) && !authorized(s, conn)) {
			reply_error(&r, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is required");
			r.www_authenticate = true;
			goto send;
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > s->max_body) {
			reply_error(&r, MHD_HTTP_CONTENT_TOO_LARGE,
			            "the body is larger than http.max_body (%zu bytes)",
			            s->max_body);
			goto send;
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* Chunked bodies have no Content-Length: bound them here. */
		if (!req->too_big && req->body.len + *upload_data_size <= s->max_body)
			mbuf_put(&req->body, upload_data, *upload_data_size);
		else
			req->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->too_big) {
		reply_error(&r, MHD_HTTP_CONTENT_TOO_LARGE,
		            "the body is larger than http.max_body (%zu bytes)", s->max_body);
		goto send;
	}
	if (strcmp(url, "/api/v1/reload") == 0) {
		/* Outside any env: the reload swaps them. */
		handle_reload(s, method, &r);
	} else {
		unsigned epoch = env_enter(s);

		route_request(s, conn, req, url, method, &r);
		env_leave(s, epoch);
	}
send:
	log_debug("http: %s %s -> %u", method, url, r.status);
	ret = send_reply(conn, &r);
	free(r.body.data);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	if (req == NULL)
		return;
	free(req->body.data);
	free(req);
	*con_cls = NULL;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("http: %s", msg);
}

/* ---- lifecycle ---- */

static int
read_token(const char *path, char **token_r, size_t *len_r)
{
	char buf[TOKEN_MAX + 1];
	size_t n = 0, start = 0;
	ssize_t got;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (n < sizeof(buf) && (got = read(fd, buf + n, sizeof(buf) - n)) > 0)
		n += (size_t)got;
	if (n == sizeof(buf)) {
		rc = -EFBIG;
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	                 buf[n - 1] == '\t'))
		n--;
	while (start < n && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\n' ||
	                     buf[start] == '\r'))
		start++;
	if (start == n) {
		rc = -ENODATA;
		goto out;
	}
	*token_r = xstrndup(buf + start, n - start);
	*len_r = n - start;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

int
http_start(const struct http_env *env, struct http_server **s_r)
{
	const struct cfg_http *hc = &env->cfg->http;
	struct http_server *s = NULL;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_POLL | MHD_USE_ERROR_LOG;
	char host[64];
	int port, rc = 0;

	*s_r = NULL;
	if (hc->listen == NULL)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (cfg_parse_listen(hc->listen, host, sizeof(host), &port) < 0)
		return -EINVAL; /* the config loader has checked it already */
	if (hc->listen[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, host, &a->sin6_addr);
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &a->sin_addr);
	}

	s = xcalloc(1, sizeof(*s));
	s->env = xmalloc(sizeof(*s->env));
	*s->env = *env;
	s->reload = env->reload;
	s->reload_ctx = env->reload_ctx;
	pthread_mutex_init(&s->env_lock, NULL);
	pthread_cond_init(&s->env_idle, NULL);
	s->max_body = (size_t)hc->max_body;
	if (hc->token_file != NULL) {
		rc = read_token(hc->token_file, &s->token, &s->token_len);
		if (rc < 0) {
			log_err("http: token_file %s: %s", hc->token_file,
			        rc == -ENODATA ? "empty"
			        : rc == -EFBIG ? "longer than 4096 bytes"
			                       : strerror(-rc));
			goto out;
		}
	}
	errno = 0;
	s->daemon = MHD_start_daemon(
	    flags, (uint16_t)port, NULL, NULL, on_request, s,
	    /* First, so MHD logs nothing on its own. */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_END);
	if (s->daemon == NULL) {
		rc = errno != 0 ? -errno : -EADDRINUSE;
		if (!hc->listen_set) {
			log_warn("http: cannot listen on the default %s (%s); running "
			         "without the HTTP endpoint (set http.listen)",
			         hc->listen, strerror(-rc));
			rc = 0;
		} else {
			log_err("http: cannot listen on %s: %s", hc->listen, strerror(-rc));
		}
		goto out;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info != NULL ? info->port : port;
	log_notice("http: listening on %s%s%s:%d%s", flags & MHD_USE_IPv6 ? "[" : "", host,
	           flags & MHD_USE_IPv6 ? "]" : "", s->port,
	           s->token != NULL ? " (bearer token required for changes)" : "");
	*s_r = s;
	s = NULL;
out:
	http_stop(s);
	return rc;
}

int
http_port(const struct http_server *s)
{
	return s->port;
}

void
http_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	if (s->daemon != NULL)
		MHD_stop_daemon(s->daemon);
	if (s->token != NULL)
		explicit_bzero(s->token, s->token_len);
	free(s->token);
	free(s->env);
	pthread_cond_destroy(&s->env_idle);
	pthread_mutex_destroy(&s->env_lock);
	free(s);
}
