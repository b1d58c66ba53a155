/* SPDX-License-Identifier: MIT */
/* The JetStream backend: ops over natsMsg and the pull consumer runtime. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nats/advisory.h"
#include "nats/jetstream.h"
#include "util/clock.h"
#include "util/log.h"
#include "engine/metrics.h"
#include "nats/natsconn.h"
#include "nats/topology.h"
#include "util/xalloc.h"

#define PUBLISH_MAX_WAIT_MS 5000
#define PUBLISH_TRIES 3
#define FETCH_ERROR_SLEEP_MS 200
#define FETCH_ERROR_LOG_EVERY_MS 5000
#define FLUSH_TIMEOUT_MS 2000
#define NS_PER_MS INT64_C(1000000)

/* How often the batch keeper looks at waiting messages. */
#define KEEPER_TICK_MS 100

struct js_worker {
	struct js_backend *b;
	struct route *route;
	natsSubscription *sub;
	pthread_t thread;
	bool started;
	bool joined;
	int index;

	/* The fetched batch, shared with the keeper thread: messages
	 * [batch_next, batch_count) are waiting for the worker. */
	pthread_mutex_t batch_lock;
	natsMsg **batch;
	int batch_count;
	int batch_next;
	int64_t batch_beat_ms; /* received, or last kept alive */
};

struct js_backend {
	struct backend base; /* first: ops get a struct backend * */
	const struct cfg *cfg;
	struct natsconn *nc; /* fetches, JS API, publishes */
	struct natsconn *ack_nc; /* split ack: acks only; else NULL */
	natsConnection *ack_conn;
	const struct js_callbacks *cb;
	int stopping; /* atomic; async-signal-safe to set */
	struct js_worker *workers;
	size_t worker_count;
	struct advisory *advisory;
	pthread_t keeper_thread;
	bool keeper_started;
	pthread_t advisory_thread;
	bool advisory_started;
	bool advisory_joined;
	int abandoned;
	struct metrics *metrics;
	int started; /* atomic: every subscription bound */
};

static struct js_backend *
from_base(struct backend *base)
{
	return (struct js_backend *)base;
}

static bool
stopping(const struct js_backend *b)
{
	return __atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE) != 0;
}

/* ----- ops ----- */

/*
 * Ack protocol bodies are published to the message's reply subject. This
 * is what natsMsg_Ack does, but on a connection we choose (split ack) and
 * without dereferencing natsMsg's raw subscription pointer.
 */
static int
send_ack(struct js_backend *b, struct tj_task *task, const char *body, bool settles)
{
	struct js_delivery *d = task->backend_msg;
	const char *reply;
	natsStatus s;

	/* Synthesized tasks (advisory path) have nothing to ack. */
	if (d == NULL || d->msg == NULL)
		return 0;
	reply = natsMsg_GetReply(d->msg);
	if (reply == NULL || *reply == '\0' || d->settled)
		return 0;
	s = natsConnection_PublishString(b->ack_conn, reply, body);
	if (s != NATS_OK) {
		log_warn("jetstream: sending %.4s for %s failed: %s", body, task->id,
		         natsStatus_GetText(s));
		return natsconn_errno(s);
	}
	if (settles)
		d->settled = true;
	return 0;
}

static int
op_ack(struct backend *base, struct tj_task *task)
{
	return send_ack(from_base(base), task, "+ACK", true);
}

static int
op_nak(struct backend *base, struct tj_task *task, int64_t delay_ms)
{
	char body[64];

	if (delay_ms <= 0)
		return send_ack(from_base(base), task, "-NAK", true);
	/* The server wants nanoseconds in the nak body. */
	snprintf(body, sizeof(body), "-NAK {\"delay\":%" PRId64 "}", delay_ms * NS_PER_MS);
	return send_ack(from_base(base), task, body, true);
}

static int
op_term(struct backend *base, struct tj_task *task)
{
	return send_ack(from_base(base), task, "+TERM", true);
}

static int
op_in_progress(struct backend *base, struct tj_task *task)
{
	return send_ack(from_base(base), task, "+WPI", false);
}

static const char *
op_header(struct backend *base, const struct tj_task *task, const char *key)
{
	struct js_delivery *d = task->backend_msg;
	const char *v = NULL;

	if (d == NULL || d->msg == NULL)
		return NULL;
	if (natsMsgHeader_Get(d->msg, key, &v) != NATS_OK)
		return NULL;
	return v;
}

void
js_delivery_release(struct js_delivery *d)
{
	free(d->headers);
	d->headers = NULL;
	d->header_count = 0;
	d->headers_read = false;
}

/* Read every header value once per delivery; the strings stay the msg's. */
static int
op_headers(struct backend *base, const struct tj_task *task, const struct task_header **headers_r,
           size_t *count_r)
{
	struct js_delivery *d = task->backend_msg;
	const char **keys = NULL;
	natsStatus s = NATS_OK;
	int count = 0;

	if (d == NULL || d->msg == NULL)
		return -ENOENT;
	if (!d->headers_read) {
		s = natsMsgHeader_Keys(d->msg, &keys, &count);
		for (int i = 0; s == NATS_OK && i < count; i++) {
			const char **values = NULL;
			int n = 0;

			s = natsMsgHeader_Values(d->msg, keys[i], &values, &n);
			if (s != NATS_OK)
				break;
			d->headers =
			    xrealloc(d->headers, d->header_count + (size_t)n, sizeof(*d->headers));
			for (int j = 0; j < n; j++)
				d->headers[d->header_count++] =
				    (struct task_header){ .key = keys[i], .value = values[j] };
			free((void *)values);
		}
		free((void *)keys);
		if (s != NATS_OK && s != NATS_NOT_FOUND) {
			js_delivery_release(d);
			return natsconn_errno(s);
		}
		d->headers_read = true;
	}
	*headers_r = d->headers;
	*count_r = d->header_count;
	return 0;
}

/* Store failures that mean "full" rather than "broken". */
static bool
is_full(jsErrCode jerr)
{
	switch ((int)jerr) {
	case JSStreamStoreFailedErr:
	case JSStorageResourcesExceededErr:
	case JSMemoryResourcesExceededErr:
	case JSAccountResourcesExceededErr:
	case JSInsufficientResourcesErr:
	case JSStreamLimitsErr:
		return true;
	default:
		return false;
	}
}

static int
publish_errno(natsStatus s, jsErrCode jerr)
{
	if (s == NATS_NO_RESPONDERS)
		return -ENOENT;
	if (is_full(jerr))
		return -ENOBUFS;
	if ((int)jerr == JSStreamMessageExceedsMaximumErr)
		return -EMSGSIZE;
	if (s == NATS_TIMEOUT)
		return -ETIMEDOUT;
	return s == NATS_ERR ? -EIO : natsconn_errno(s);
}

/*
 * Publish msg (or subject+data when msg is NULL) and wait for the PubAck.
 * A timeout does not mean "not stored" (it may sit in the reconnect
 * buffer), so retry with the same msg id and let the stream dedupe.
 */
static int
publish_confirmed(struct js_backend *b, natsMsg *msg, const char *subject, const void *data,
                  size_t len, const char *msg_id, uint64_t *seq_r, bool *duplicate_r)
{
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s = NATS_TIMEOUT;

	if (len > INT32_MAX)
		return -EMSGSIZE;
	jsPubOptions_Init(&po);
	po.MaxWait = PUBLISH_MAX_WAIT_MS;
	if (msg_id != NULL && *msg_id != '\0')
		po.MsgId = msg_id;
	for (int i = 0; i < PUBLISH_TRIES && s == NATS_TIMEOUT; i++) {
		jerr = 0;
		if (msg != NULL)
			s = js_PublishMsg(&pa, natsconn_js(b->nc), msg, &po, &jerr);
		else
			s = js_Publish(&pa, natsconn_js(b->nc), subject, data, (int)len, &po,
			               &jerr);
		/* Without a msg id a retry could store it twice. */
		if (po.MsgId == NULL)
			break;
	}
	if (s == NATS_OK && pa != NULL) {
		if (seq_r != NULL)
			*seq_r = pa->Sequence;
		if (duplicate_r != NULL)
			*duplicate_r = pa->Duplicate;
	}
	jsPubAck_Destroy(pa);
	if (s != NATS_OK) {
		log_warn("jetstream: publish to %s failed: %s (jerr %d)",
		         msg != NULL ? natsMsg_GetSubject(msg) : subject, natsStatus_GetText(s),
		         (int)jerr);
		return publish_errno(s, jerr);
	}
	return 0;
}

static int
op_publish(struct backend *base, const char *subject, const void *data, size_t len,
           const char *msg_id)
{
	return publish_confirmed(from_base(base), NULL, subject, data, len, msg_id, NULL, NULL);
}

/* Headers that would make the DLQ write deduplicate or be rejected the
 * way the original was; the letter gets its own id. */
static bool
skip_header(const char *key)
{
	return strcmp(key, "Nats-Msg-Id") == 0 || strncmp(key, "Nats-Expected-", 14) == 0;
}

static int
copy_headers(natsMsg *from, natsMsg *to)
{
	const char **keys = NULL;
	int count = 0;
	natsStatus s;

	s = natsMsgHeader_Keys(from, &keys, &count);
	if (s == NATS_NOT_FOUND)
		return 0;
	for (int i = 0; s == NATS_OK && i < count; i++) {
		const char **values = NULL;
		int n = 0;

		if (skip_header(keys[i]))
			continue;
		s = natsMsgHeader_Values(from, keys[i], &values, &n);
		for (int j = 0; s == NATS_OK && j < n; j++)
			s = natsMsgHeader_Add(to, keys[i], values[j]);
		free((void *)values);
	}
	free((void *)keys);
	return natsconn_errno(s);
}

static int
op_dead_letter(struct backend *base, struct tj_task *task, const struct dlq_record *rec)
{
	struct js_backend *b = from_base(base);
	struct js_delivery *d = task->backend_msg;
	natsMsg *letter = NULL;
	natsStatus s;
	int rc;

	if (task->payload_len > INT32_MAX)
		return -EMSGSIZE;
	s = natsMsg_Create(&letter, rec->subject, NULL, task->payload, (int)task->payload_len);
	if (s != NATS_OK) {
		rc = natsconn_errno(s);
		goto out;
	}
	if (d != NULL && d->msg != NULL) {
		rc = copy_headers(d->msg, letter);
		if (rc != 0)
			goto out;
	}
	for (size_t i = 0; i < rec->header_count; i++) {
		/* Set, not Add: ours replace a stale copy from an earlier letter. */
		s = natsMsgHeader_Set(letter, rec->headers[i].key, rec->headers[i].value);
		if (s != NATS_OK) {
			rc = natsconn_errno(s);
			goto out;
		}
	}
	rc = publish_confirmed(b, letter, NULL, NULL, 0, rec->msg_id, NULL, NULL);
out:
	natsMsg_Destroy(letter);
	return rc;
}

static const struct backend_ops js_ops = {
	.name = "jetstream",
	.ack = op_ack,
	.nak = op_nak,
	.term = op_term,
	.in_progress = op_in_progress,
	.dead_letter = op_dead_letter,
	.publish = op_publish,
	.header = op_header,
	.headers = op_headers,
};

/* ----- consumer runtime ----- */

/* Decimal digits of [p, end) as a uint64; false if empty, not all digits
 * or too large. */
static bool
parse_u64(const char *p, const char *end, uint64_t *v_r)
{
	uint64_t v = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*v_r = v;
	return true;
}

/*
 * Delivery count and stream sequence from a JetStream ack subject, the way
 * natsMsg_GetMetaData reads them but without its allocations (it copies
 * every token and strdups stream and consumer, per message):
 *   v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
 *   v2: $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>...
 * (9 tokens, or 11 and more, as libnats accepts). False for anything else;
 * the caller then asks libnats.
 */
static bool
parse_ack_subject(const char *reply, uint64_t *sseq_r, uint64_t *delivered_r)
{
	const char *tok[13], *p;
	size_t n = 0, first;

	if (reply == NULL || strncmp(reply, "$JS.ACK.", 8) != 0)
		return false;
	tok[n++] = reply;
	/* strchr hops token to token faster than a byte loop; v2's trailing
	 * tokens are not needed. */
	for (p = strchr(reply, '.'); p != NULL && n < 12; p = strchr(p + 1, '.'))
		tok[n++] = p + 1;
	/* One past the end of the last token kept. */
	tok[n] = p != NULL ? p + 1 : reply + strlen(reply) + 1;
	if (n == 9)
		first = 4;
	else if (n >= 11)
		first = 6;
	else
		return false;
	return parse_u64(tok[first], tok[first + 1] - 1, delivered_r) &&
	       parse_u64(tok[first + 1], tok[first + 2] - 1, sseq_r);
}

static int
read_metadata(natsMsg *msg, uint64_t *sseq_r, uint64_t *delivered_r)
{
	jsMsgMetaData *meta = NULL;
	natsStatus s;

	if (parse_ack_subject(natsMsg_GetReply(msg), sseq_r, delivered_r))
		return 0;
	s = natsMsg_GetMetaData(&meta, msg);
	if (s != NATS_OK)
		return natsconn_errno(s);
	*sseq_r = meta->Sequence.Stream;
	*delivered_r = meta->NumDelivered;
	jsMsgMetaData_Destroy(meta);
	return 0;
}

/* "<stream>:<seq>" without snprintf, which showed in profiles. */
static void
format_seq_id(char *buf, size_t len, const char *stream, uint64_t seq)
{
	char digits[21];
	size_t n = 0, slen = strlen(stream);
	uint64_t v = seq;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (slen + 1 + n >= len) {
		snprintf(buf, len, "%s:%" PRIu64, stream, seq);
		return;
	}
	memcpy(buf, stream, slen);
	buf[slen++] = ':';
	while (n > 0)
		buf[slen++] = digits[--n];
	buf[slen] = '\0';
}

static void
deliver(struct js_worker *w, natsMsg *msg, int64_t received_ms)
{
	const struct cfg_route *rc = w->route->cfg;
	struct js_delivery d = { .msg = msg };
	struct tj_task task;
	const char *id = NULL;
	uint64_t delivered = 0;
	int r;

	memset(&task, 0, sizeof(task));
	task.subject = natsMsg_GetSubject(msg);
	task.payload = natsMsg_GetData(msg);
	task.payload_len = (size_t)natsMsg_GetDataLength(msg);
	task.stream = rc->stream;
	task.received_ms = received_ms;
	task.backend_msg = &d;
	task.backend = &w->b->base;
	task.route = w->route;
	task.retry_after_ms = -1;
	r = read_metadata(msg, &task.stream_seq, &delivered);
	if (r != 0) {
		/* Not a JetStream delivery (cannot happen on a bound pull sub);
		 * leave it to the server's redelivery. */
		log_warn("jetstream: route %s: message without metadata: %s", rc->name,
		         strerror(-r));
		return;
	}
	task.attempt = delivered > UINT32_MAX ? UINT32_MAX : (uint32_t)delivered;
	if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != NULL && *id != '\0')
		snprintf(task.id, sizeof(task.id), "%s", id);
	else
		format_seq_id(task.id, sizeof(task.id), task.stream, task.stream_seq);

	r = w->b->cb->process(w->b->cb->ctx, &task);
	js_delivery_release(&d);
	if (r != 0)
		log_write(TJ_LOG_DEBUG,
		          &(struct log_ctx){
		              .route = rc->name, .seq = task.stream_seq, .attempt = task.attempt },
		          "jetstream: process returned %d", r);
}

/* A stop came while a batch was in hand: give the rest back at once so
 * another worker (or the next run) gets them without waiting ack_wait. */
static void
hand_back(struct js_worker *w, natsMsg *msg)
{
	const char *reply = natsMsg_GetReply(msg);

	if (reply != NULL && *reply != '\0')
		natsConnection_PublishString(w->b->ack_conn, reply, "-NAK");
}

/*
 * libnats before 3.8 (nats.c #749, fixed by 8099b5c9) writes past the end
 * of Fetch's message array when the subscription already holds more than
 * half a batch (but less than a whole one) of messages that an earlier,
 * abandoned pull request brought in, which happens around reconnects.
 * The engine saw it as heap corruption after a server restart. Take such
 * leftovers one at a time: a batch of 1 or 2 cannot overflow. (Messages
 * landing between this check and Fetch's own look stay a tiny window.)
 */
static int
safe_fetch_batch(natsSubscription *sub, int batch)
{
	int pending = 0;

	if (batch > 2 && natsSubscription_GetPending(sub, &pending, NULL) == NATS_OK && pending > 0)
		return 1;
	return batch;
}

static void *
worker_main(void *arg)
{
	struct js_worker *w = arg;
	struct js_backend *b = w->b;
	const struct cfg_route *rc = w->route->cfg;
	int batch = rc->batch > 0 ? rc->batch : 1;
	int64_t wait_ms = rc->fetch_wait_ms > 0 ? rc->fetch_wait_ms : 1000;
	int64_t last_err_log = 0, received_ms;

	while (!stopping(b)) {
		natsMsgList list = { 0 };
		natsStatus s = natsSubscription_Fetch(
		    &list, w->sub, safe_fetch_batch(w->sub, batch), wait_ms, NULL);

		/* Also what 3.4.1's stale-status bug (#631) returns: benign. */
		if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND || s == NATS_MISSED_HEARTBEAT)
			continue;
		if (s != NATS_OK) {
			if (stopping(b))
				break;
			if (clock_mono_ms() - last_err_log >= FETCH_ERROR_LOG_EVERY_MS) {
				log_warn("jetstream: route %s worker %d: fetch failed: %s",
				         rc->name, w->index, nats_GetLastError(NULL));
				last_err_log = clock_mono_ms();
			}
			clock_sleep_ms(FETCH_ERROR_SLEEP_MS);
			continue;
		}
		metrics_observe_fetch(b->metrics, w->route, (unsigned)list.Count);
		/* The whole batch arrived at once: one clock read for it. */
		received_ms = clock_mono_ms();
		pthread_mutex_lock(&w->batch_lock);
		w->batch = list.Msgs;
		w->batch_count = list.Count;
		w->batch_next = 0;
		w->batch_beat_ms = received_ms;
		pthread_mutex_unlock(&w->batch_lock);
		for (int i = 0; i < list.Count; i++) {
			/* From here the engine's heartbeat covers message i. */
			pthread_mutex_lock(&w->batch_lock);
			w->batch_next = i + 1;
			pthread_mutex_unlock(&w->batch_lock);
			if (stopping(b))
				hand_back(w, list.Msgs[i]);
			else
				deliver(w, list.Msgs[i], received_ms);
		}
		pthread_mutex_lock(&w->batch_lock);
		w->batch = NULL;
		w->batch_count = 0;
		pthread_mutex_unlock(&w->batch_lock);
		natsMsgList_Destroy(&list);
	}
	nats_ReleaseThreadMemory();
	return NULL;
}

/*
 * Every message of a fetched batch starts its ack_wait clock on arrival,
 * but the engine's heartbeat only covers the one in its handler. With slow
 * handlers the rest of the batch would pass ack_wait while still waiting
 * here and be redelivered to another worker, to be handled twice. The
 * keeper sends in-progress for waiting messages once half their ack_wait
 * is spent.
 */
static void *
keeper_main(void *arg)
{
	struct js_backend *b = arg;

	while (!stopping(b)) {
		int64_t now = clock_mono_ms();

		for (size_t i = 0; i < b->worker_count; i++) {
			struct js_worker *w = &b->workers[i];
			int64_t half = w->route->cfg->ack_wait_ms / 2;

			pthread_mutex_lock(&w->batch_lock);
			if (w->batch != NULL && w->batch_next < w->batch_count &&
			    now - w->batch_beat_ms >= half) {
				for (int m = w->batch_next; m < w->batch_count; m++) {
					const char *reply = natsMsg_GetReply(w->batch[m]);

					if (reply != NULL && *reply != '\0')
						natsConnection_PublishString(b->ack_conn, reply,
						                             "+WPI");
				}
				w->batch_beat_ms = now;
			}
			pthread_mutex_unlock(&w->batch_lock);
		}
		clock_sleep_ms(KEEPER_TICK_MS);
	}
	nats_ReleaseThreadMemory();
	return NULL;
}

static void *
advisory_main(void *arg)
{
	advisory_run(arg);
	nats_ReleaseThreadMemory();
	return NULL;
}

/* ----- lifecycle ----- */

int
js_backend_create(const struct cfg *cfg, const char *url, const struct js_backend_options *opts,
                  struct js_backend **b_r)
{
	struct js_backend *b = xcalloc(1, sizeof(*b));
	/* Split ack measured 2x faster at batch 100, equal at 500 (bench/). */
	bool split = opts != NULL ? opts->split_ack : true;
	int rc;

	b->base.ops = &js_ops;
	b->cfg = cfg;
	rc = natsconn_open(&cfg->nats, url,
	                   &(struct natsconn_options){ .role = NULL, .send_asap = split }, &b->nc);
	if (rc != 0)
		goto out;
	if (split) {
		rc = natsconn_open(&cfg->nats, url, &(struct natsconn_options){ .role = "acks" },
		                   &b->ack_nc);
		if (rc != 0)
			goto out;
		b->ack_conn = natsconn_conn(b->ack_nc);
	} else {
		b->ack_conn = natsconn_conn(b->nc);
	}
out:
	if (rc != 0) {
		js_backend_destroy(b);
		return rc;
	}
	*b_r = b;
	return 0;
}

int
js_backend_ensure_topology(struct js_backend *b, bool dry_run,
                           void (*print)(void *arg, const char *line), void *arg)
{
	struct topo_report r;
	int rc;

	rc = topology_ensure(natsconn_js(b->nc), b->cfg, dry_run, &r);
	for (size_t i = 0; print != NULL && i < r.count; i++)
		print(arg, r.lines[i]);
	topo_report_free(&r);
	return rc;
}

struct backend *
js_backend_base(struct js_backend *b)
{
	return &b->base;
}

static int
bind_worker(struct js_backend *b, struct js_worker *w)
{
	const struct cfg_route *rc = w->route->cfg;
	jsSubOptions so;
	jsErrCode jerr = 0;
	char durable[256];
	natsStatus s;

	jsSubOptions_Init(&so);
	so.Stream = rc->stream;
	so.Consumer = topology_consumer_name(rc, durable, sizeof(durable));
	/* Bind only: a durable js_PullSubscribe creates is deleted again by
	 * Unsubscribe, so topology creates them. */
	s = js_PullSubscribe(&w->sub, natsconn_js(b->nc), NULL, NULL, NULL, &so, &jerr);
	if (s != NATS_OK) {
		log_err("jetstream: route %s: cannot bind to consumer %s/%s: %s "
		        "(jerr %d)%s",
		        rc->name, rc->stream, durable, natsStatus_GetText(s), (int)jerr,
		        s == NATS_NOT_FOUND ? "; run the topology setup first" : "");
		return s == NATS_NOT_FOUND ? -ENOENT : natsconn_errno(s);
	}
	return 0;
}

int
js_backend_start(struct js_backend *b, const struct router *router, const struct js_callbacks *cb)
{
	size_t n = 0, k = 0;
	int rc = 0;

	if (b->workers != NULL || cb == NULL || cb->process == NULL)
		return -EINVAL;
	b->cb = cb;
	for (size_t i = 0; i < router->count; i++)
		n += (size_t)(router->routes[i].cfg->concurrency > 0
		                  ? router->routes[i].cfg->concurrency
		                  : 1);
	b->workers = xcalloc(n, sizeof(*b->workers));
	b->worker_count = n;
	for (size_t i = 0; i < router->count; i++) {
		struct route *route = &router->routes[i];
		int c = route->cfg->concurrency > 0 ? route->cfg->concurrency : 1;

		for (int j = 0; j < c; j++, k++) {
			b->workers[k] = (struct js_worker){ .b = b, .route = route, .index = j };
			pthread_mutex_init(&b->workers[k].batch_lock, NULL);
			rc = bind_worker(b, &b->workers[k]);
			if (rc != 0)
				goto out;
		}
	}
	if (cb->dead_letter != NULL && router->count > 0) {
		rc = advisory_create(natsconn_js(b->nc),
		                     b->cfg->dlq.advisory_stream != NULL
		                         ? b->cfg->dlq.advisory_stream
		                         : "TASKJET_ADVISORIES",
		                     router, &b->base, cb, &b->stopping, &b->advisory);
		if (rc != 0)
			goto out;
	}
	for (k = 0; k < n; k++) {
		rc = -pthread_create(&b->workers[k].thread, NULL, worker_main, &b->workers[k]);
		if (rc != 0) {
			log_err("jetstream: cannot start a worker thread: %s", strerror(-rc));
			goto out;
		}
		b->workers[k].started = true;
	}
	rc = -pthread_create(&b->keeper_thread, NULL, keeper_main, b);
	if (rc != 0) {
		log_err("jetstream: cannot start the batch keeper: %s", strerror(-rc));
		goto out;
	}
	b->keeper_started = true;
	if (b->advisory != NULL) {
		rc = -pthread_create(&b->advisory_thread, NULL, advisory_main, b->advisory);
		if (rc != 0) {
			log_err("jetstream: cannot start the advisory thread: %s", strerror(-rc));
			goto out;
		}
		b->advisory_started = true;
	}
	__atomic_store_n(&b->started, 1, __ATOMIC_RELEASE);
	log_info("jetstream: %zu worker(s) started on %zu route(s)", n, router->count);
out:
	if (rc != 0) {
		/* Threads that started only fetch; stop them and unwind. */
		js_backend_wait(b, 60000);
	}
	return rc;
}

void
js_backend_request_stop(struct js_backend *b)
{
	__atomic_store_n(&b->stopping, 1, __ATOMIC_RELEASE);
}

static void
deadline_at(int64_t grace_ms, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += grace_ms / 1000;
	ts->tv_nsec += (grace_ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int
js_backend_wait(struct js_backend *b, int64_t grace_ms)
{
	struct timespec deadline;
	int abandoned = 0;

	js_backend_request_stop(b);
	__atomic_store_n(&b->started, 0, __ATOMIC_RELEASE);
	deadline_at(grace_ms > 0 ? grace_ms : 0, &deadline);
	/* Closing the subscription wakes a blocked Fetch at once; messages a
	 * worker already holds can still be acked (acks use the reply
	 * subject, not the subscription). */
	for (size_t i = 0; i < b->worker_count; i++)
		if (b->workers[i].sub != NULL)
			natsSubscription_Unsubscribe(b->workers[i].sub);
	if (b->advisory != NULL)
		advisory_wake(b->advisory);

	for (size_t i = 0; i < b->worker_count; i++) {
		struct js_worker *w = &b->workers[i];

		if (!w->started || w->joined)
			continue;
		if (pthread_timedjoin_np(w->thread, NULL, &deadline) == 0)
			w->joined = true;
		else
			abandoned++;
	}
	if (b->advisory_started && !b->advisory_joined) {
		if (pthread_timedjoin_np(b->advisory_thread, NULL, &deadline) == 0)
			b->advisory_joined = true;
		else
			abandoned++;
	}

	if (b->keeper_started) {
		pthread_join(b->keeper_thread, NULL);
		b->keeper_started = false;
	}
	/* Make sure the server has the acks before anyone closes anything. */
	natsConnection_FlushTimeout(b->ack_conn, FLUSH_TIMEOUT_MS);
	if (b->ack_nc != NULL)
		natsConnection_FlushTimeout(natsconn_conn(b->nc), FLUSH_TIMEOUT_MS);

	/* A natsMsg keeps a raw pointer to its subscription: free only the
	 * subscriptions of threads that are gone. */
	for (size_t i = 0; i < b->worker_count; i++) {
		struct js_worker *w = &b->workers[i];

		if (w->sub != NULL && (!w->started || w->joined)) {
			natsSubscription_Destroy(w->sub);
			w->sub = NULL;
		}
	}
	if (b->advisory != NULL && (!b->advisory_started || b->advisory_joined)) {
		advisory_destroy(b->advisory);
		b->advisory = NULL;
	}
	if (abandoned > 0)
		log_warn("jetstream: %d thread(s) still busy after the %" PRId64
		         " ms grace; their tasks will be redelivered",
		         abandoned, grace_ms);
	b->abandoned = abandoned;
	return abandoned;
}

void
js_backend_destroy(struct js_backend *b)
{
	if (b == NULL)
		return;
	/* Abandoned threads still use the connections; the process is about
	 * to exit, so leave everything to it. */
	if (b->abandoned > 0)
		return;
	natsconn_close(b->ack_nc, FLUSH_TIMEOUT_MS);
	natsconn_close(b->nc, FLUSH_TIMEOUT_MS);
	for (size_t i = 0; i < b->worker_count; i++)
		pthread_mutex_destroy(&b->workers[i].batch_lock);
	free(b->workers);
	free(b);
}

bool
js_backend_connected(const struct js_backend *b)
{
	return natsconn_connected(b->nc) && (b->ack_nc == NULL || natsconn_connected(b->ack_nc));
}

uint64_t
js_backend_reconnects(const struct js_backend *b)
{
	return natsconn_reconnects(b->nc);
}

void
js_backend_set_metrics(struct js_backend *b, struct metrics *m)
{
	b->metrics = m;
}

bool
js_backend_started(const struct js_backend *b)
{
	return __atomic_load_n(&b->started, __ATOMIC_ACQUIRE) != 0;
}

int
js_backend_publish(struct js_backend *b, const char *subject, const void *data, size_t len,
                   const char *msg_id, uint64_t *seq_r, bool *duplicate_r)
{
	uint64_t seq = 0;
	bool dup = false;
	int rc;

	/* While reconnecting a publish would sit out every retry's timeout;
	 * an HTTP caller is better served by a quick "unavailable". */
	if (!natsconn_connected(b->nc))
		return -ENOTCONN;
	rc = publish_confirmed(b, NULL, subject, data, len, msg_id, &seq, &dup);
	if (rc != 0)
		return rc;
	*seq_r = seq;
	*duplicate_r = dup;
	return 0;
}

int
js_backend_consumer_numbers(struct js_backend *b, const struct cfg_route *rc, int64_t timeout_ms,
                            struct js_consumer_numbers *n_r)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	jsOptions o;
	char durable[256];
	natsStatus s;

	if (!natsconn_connected(b->nc))
		return -ENOTCONN;
	jsOptions_Init(&o);
	o.Wait = timeout_ms;
	s = js_GetConsumerInfo(&ci, natsconn_js(b->nc), rc->stream,
	                       topology_consumer_name(rc, durable, sizeof(durable)), &o, &jerr);
	if (s != NATS_OK)
		return s == NATS_NOT_FOUND ? -ENOENT : natsconn_errno(s);
	*n_r = (struct js_consumer_numbers){
		.pending = ci->NumPending,
		.ack_pending = ci->NumAckPending > 0 ? (uint64_t)ci->NumAckPending : 0,
		.redelivered = ci->NumRedelivered > 0 ? (uint64_t)ci->NumRedelivered : 0,
		.waiting = ci->NumWaiting > 0 ? (uint64_t)ci->NumWaiting : 0,
		.delivered = ci->Delivered.Consumer,
	};
	jsConsumerInfo_Destroy(ci);
	return 0;
}

int
js_backend_stream_numbers(struct js_backend *b, const char *name, int64_t timeout_ms,
                          uint64_t *msgs_r, uint64_t *last_seq_r)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	jsOptions o;
	natsStatus s;

	if (!natsconn_connected(b->nc))
		return -ENOTCONN;
	jsOptions_Init(&o);
	o.Wait = timeout_ms;
	s = js_GetStreamInfo(&si, natsconn_js(b->nc), name, &o, &jerr);
	if (s != NATS_OK)
		return s == NATS_NOT_FOUND ? -ENOENT : natsconn_errno(s);
	*msgs_r = si->State.Msgs;
	*last_seq_r = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return 0;
}

struct natsconn *
js_backend_conn(struct js_backend *b)
{
	return b->nc;
}

const char *
js_client_version(void)
{
	return nats_GetVersion();
}
