/* SPDX-License-Identifier: MIT */
/* Move messages the server gave up on (MAX_DELIVERIES) to the DLQ. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/advisory.h"
#include "nats/delivery.h"
#include "nats/natsconn.h"
#include "nats/topology.h"
#include "util/clock.h"
#include "json.h"
#include "util/log.h"
#include "util/xalloc.h"

/* At most 2: libnats before 3.8 overflows Fetch's array when a larger
 * batch meets leftovers of an abandoned pull (nats.c #749; see
 * nats/jetstream.c). Advisories are rare, so this costs nothing. */
#define ADVISORY_BATCH 2
#define ADVISORY_FETCH_MS 1000
#define ADVISORY_MIN_FETCH_MS 100
#define ERROR_SLEEP_MS 500
/* A failed dead letter is retried when the advisory is redelivered. */
#define RETRY_DELAY_MS 5000
#define NS_PER_MS INT64_C(1000000)

struct adv_route {
	struct route *route;
	char consumer[256];
	natsSubscription *sub; /* bound to the route's advisory reader */
};

struct advisory {
	jsCtx *js;
	struct adv_route *routes;
	size_t route_count;
	struct backend *backend;
	const struct backend_sink *sink;
	const int *stopping;
	uint64_t moved;
};

/* The fields of a max_deliver advisory we need. */
struct adv_event {
	char *stream;
	char *consumer;
	uint64_t stream_seq;
	int64_t deliveries;
};

static bool
is_stopping(const struct advisory *a)
{
	return __atomic_load_n(a->stopping, __ATOMIC_ACQUIRE) != 0;
}

int
advisory_create(jsCtx *js, const char *advisory_stream, const struct router *router,
                struct backend *backend, const struct backend_sink *sink, const int *stopping,
                struct advisory **a_r)
{
	struct advisory *a = xcalloc(1, sizeof(*a));
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc = 0;

	a->js = js;
	a->backend = backend;
	a->sink = sink;
	a->stopping = stopping;
	a->route_count = router->count;
	a->routes = xcalloc(router->count, sizeof(*a->routes));
	for (size_t i = 0; i < router->count; i++) {
		struct adv_route *r = &a->routes[i];
		char durable[512];

		r->route = &router->routes[i];
		topology_consumer_name(r->route->cfg, r->consumer, sizeof(r->consumer));
		jsSubOptions_Init(&so);
		so.Stream = advisory_stream;
		so.Consumer = topology_advisory_durable(r->route->cfg, durable, sizeof(durable));
		s = js_PullSubscribe(&r->sub, js, NULL, NULL, NULL, &so, &jerr);
		if (s != NATS_OK) {
			log_err("advisory: cannot bind to %s/%s: %s (jerr %d)", advisory_stream,
			        durable, natsStatus_GetText(s), (int)jerr);
			rc = s == NATS_NOT_FOUND ? -ENOENT : natsconn_errno(s);
			goto out;
		}
	}
out:
	if (rc != 0) {
		advisory_destroy(a);
		return rc;
	}
	*a_r = a;
	return 0;
}

void
advisory_destroy(struct advisory *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->route_count; i++) {
		if (a->routes[i].sub == NULL)
			continue;
		natsSubscription_Unsubscribe(a->routes[i].sub);
		natsSubscription_Destroy(a->routes[i].sub);
	}
	free(a->routes);
	free(a);
}

void
advisory_wake(struct advisory *a)
{
	for (size_t i = 0; i < a->route_count; i++)
		if (a->routes[i].sub != NULL)
			natsSubscription_Unsubscribe(a->routes[i].sub);
}

uint64_t
advisory_moved(const struct advisory *a)
{
	return __atomic_load_n(&a->moved, __ATOMIC_RELAXED);
}

static void
event_free(struct adv_event *ev)
{
	free(ev->stream);
	free(ev->consumer);
}

/* 0, or -EINVAL for anything that is not a max_deliver advisory. */
static int
parse_event(const char *text, size_t len, struct adv_event *ev)
{
	struct json_doc doc;
	const struct json_tok *t;
	int64_t seq = 0;
	int rc;

	memset(ev, 0, sizeof(*ev));
	rc = json_parse(text, len, &doc, NULL);
	if (rc != 0)
		return rc;
	rc = -EINVAL;
	if (doc.toks[0].type != JSON_OBJECT)
		goto out;
	t = json_member(&doc, &doc.toks[0], "stream");
	if (t == NULL || json_get_string(&doc, t, &ev->stream) != 0)
		goto out;
	t = json_member(&doc, &doc.toks[0], "consumer");
	if (t == NULL || json_get_string(&doc, t, &ev->consumer) != 0)
		goto out;
	t = json_member(&doc, &doc.toks[0], "stream_seq");
	if (t == NULL || json_get_i64(&doc, t, &seq) != 0 || seq <= 0)
		goto out;
	ev->stream_seq = (uint64_t)seq;
	t = json_member(&doc, &doc.toks[0], "deliveries");
	if (t == NULL || json_get_i64(&doc, t, &ev->deliveries) != 0)
		ev->deliveries = 0;
	rc = 0;
out:
	json_doc_free(&doc);
	if (rc != 0)
		event_free(ev);
	return rc;
}

static struct route *
our_route(const struct advisory *a, const struct adv_event *ev)
{
	for (size_t i = 0; i < a->route_count; i++)
		if (strcmp(a->routes[i].route->cfg->stream, ev->stream) == 0 &&
		    strcmp(a->routes[i].consumer, ev->consumer) == 0)
			return a->routes[i].route;
	return NULL;
}

static void
adv_ack(natsMsg *adv)
{
	natsMsg_Ack(adv, NULL);
}

static void
adv_retry_later(natsMsg *adv)
{
	natsMsg_NakWithDelay(adv, RETRY_DELAY_MS, NULL);
}

/* Dead-letter stored message `seq` of the event's stream: 0 when it is in
 * the DLQ and deleted from its stream (or was already gone). */
static int
move_to_dlq(struct advisory *a, struct route *route, const struct adv_event *ev)
{
	struct js_delivery d = { 0 };
	struct tj_task task;
	const char *id = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc;

	s = js_GetMsg(&d.msg, a->js, ev->stream, ev->stream_seq, NULL, &jerr);
	if (s == NATS_NOT_FOUND) {
		/* Acked, termed or moved by an earlier run: nothing to do. */
		log_debug("advisory: %s:%" PRIu64 " already gone", ev->stream, ev->stream_seq);
		return 0;
	}
	if (s != NATS_OK) {
		log_warn("advisory: cannot load %s:%" PRIu64 ": %s (jerr %d)", ev->stream,
		         ev->stream_seq, natsStatus_GetText(s), (int)jerr);
		return natsconn_errno(s);
	}

	memset(&task, 0, sizeof(task));
	task.subject = natsMsg_GetSubject(d.msg);
	task.payload = natsMsg_GetData(d.msg);
	task.payload_len = (size_t)natsMsg_GetDataLength(d.msg);
	task.stream = route->cfg->stream;
	task.stream_seq = ev->stream_seq;
	task.attempt =
	    ev->deliveries > 0 && ev->deliveries <= UINT32_MAX
	        ? (uint32_t)ev->deliveries
	        : (uint32_t)(route->cfg->max_attempts > 0 ? route->cfg->max_attempts : 1);
	task.received_ms = clock_mono_ms();
	task.backend_msg = &d;
	task.backend = a->backend;
	task.route = route;
	task.retry_after_ms = -1;
	if (natsMsgHeader_Get(d.msg, "Nats-Msg-Id", &id) != NATS_OK)
		id = NULL;
	task_set_id(&task, id);

	rc = a->sink->dead_letter(a->sink->ctx, &task, DLQ_REASON_MAX_DELIVERIES,
	                          "the server stopped redelivering after max "
	                          "deliveries (crash or ack_wait timeout)");
	task_release(&task);
	if (rc != 0) {
		log_write(TJ_LOG_WARNING,
		          &(struct log_ctx){ .route = route->cfg->name,
		                             .task = task.id,
		                             .seq = ev->stream_seq,
		                             .reason = dlq_reason_name(DLQ_REASON_MAX_DELIVERIES) },
		          "advisory: dead letter for %s failed (%d); will retry", task.id, rc);
		goto out;
	}
	/* Only after the letter is stored: a crash in between rewrites it,
	 * and the DLQ dedupes on the letter's msg id. */
	s = js_DeleteMsg(a->js, ev->stream, ev->stream_seq, NULL, &jerr);
	if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSNoMessageFoundErr) {
		log_warn("advisory: cannot delete %s:%" PRIu64 ": %s (jerr %d)", ev->stream,
		         ev->stream_seq, natsStatus_GetText(s), (int)jerr);
		rc = natsconn_errno(s);
		goto out;
	}
	__atomic_add_fetch(&a->moved, 1, __ATOMIC_RELAXED);
	log_write(TJ_LOG_NOTICE,
	          &(struct log_ctx){ .route = route->cfg->name,
	                             .seq = ev->stream_seq,
	                             .attempt = task.attempt,
	                             .task = task.id,
	                             .subject = task.subject,
	                             .reason = dlq_reason_name(DLQ_REASON_MAX_DELIVERIES) },
	          "advisory: %s moved to the DLQ after max deliveries", task.id);
out:
	js_delivery_release(&d);
	natsMsg_Destroy(d.msg);
	return rc;
}

int
advisory_handle(struct advisory *a, natsMsg *adv)
{
	struct adv_event ev;
	struct route *route;
	int rc;

	rc = parse_event(natsMsg_GetData(adv), (size_t)natsMsg_GetDataLength(adv), &ev);
	if (rc != 0) {
		/* Retrying cannot make it parse. */
		log_warn("advisory: ignoring a malformed advisory on %s", natsMsg_GetSubject(adv));
		adv_ack(adv);
		return 0;
	}
	route = our_route(a, &ev);
	if (route == NULL) {
		log_debug("advisory: %s/%s is not ours", ev.stream, ev.consumer);
		adv_ack(adv);
		goto out;
	}
	rc = move_to_dlq(a, route, &ev);
	if (rc == 0)
		adv_ack(adv);
	else
		adv_retry_later(adv);
out:
	event_free(&ev);
	return rc;
}

void
advisory_run(struct advisory *a)
{
	/* One pass over every route's reader takes about ADVISORY_FETCH_MS
	 * when all are idle, however many routes there are. */
	int64_t wait_ms = a->route_count > 0 ? ADVISORY_FETCH_MS / (int64_t)a->route_count : 0;

	if (wait_ms < ADVISORY_MIN_FETCH_MS)
		wait_ms = ADVISORY_MIN_FETCH_MS;
	for (size_t next = 0; !is_stopping(a) && a->route_count > 0;
	     next = (next + 1) % a->route_count) {
		natsMsgList list = { 0 };
		natsStatus s = natsSubscription_Fetch(&list, a->routes[next].sub, ADVISORY_BATCH,
		                                      wait_ms, NULL);

		if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND || s == NATS_MISSED_HEARTBEAT)
			continue;
		if (s != NATS_OK) {
			if (is_stopping(a))
				break;
			log_warn("advisory: fetch failed: %s", nats_GetLastError(NULL));
			clock_sleep_ms(ERROR_SLEEP_MS);
			continue;
		}
		/* Finish the batch even when stopping: each item is short, and a
		 * half-moved message is redone anyway. */
		for (int i = 0; i < list.Count; i++)
			advisory_handle(a, list.Msgs[i]);
		natsMsgList_Destroy(&list);
	}
}
