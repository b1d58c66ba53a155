/* SPDX-License-Identifier: MIT */
/*
 * The in-process backend. Each route has a queue ordered by due time; naks
 * put a task back with a later due time, acks and terms free it, dead
 * letters are appended to an in-memory list. Capacity counts every task
 * that is queued, delayed or in flight, so back-pressure reaches publishers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "task/router.h"
#include "memory/memory.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/subject.h"
#include "util/xalloc.h"

/* What the disposition did to an item while a handler had it. */
enum item_fate { FATE_NONE = 0, FATE_GONE, FATE_REQUEUE };

struct mem_item {
	struct mem_item *next;
	struct route *route;
	char *subject;
	char *payload;
	size_t len;
	struct msg_header *headers; /* owned copies */
	size_t header_count;
	char *msg_id;
	uint64_t seq;
	uint32_t deliveries;
	int64_t due_ms;
	enum item_fate fate;
	int64_t requeue_delay_ms;
	struct tj_task task;
};

struct mem_queue {
	struct mem_item *head; /* sorted by due_ms, then seq */
	pthread_cond_t cond;
};

/* A message id seen recently, for the duplicate window. */
struct seen_id {
	struct seen_id *next;
	char *id;
	int64_t expires_ms;
};

#define SEEN_BUCKETS 1024
/* A dead letter rewritten within this window (a crash between write and
 * term) is recognised by its message id, as the DLQ stream would. */
#define DLQ_DUPLICATE_WINDOW_MS (2 * 60 * 1000)

struct mem_backend {
	struct backend base;
	const struct cfg *cfg;
	const struct router *router; /* set by bind/start */
	const struct backend_sink *sink;
	double delay_scale;

	pthread_mutex_t lock;
	pthread_cond_t idle_cond; /* signalled when current_size drops */
	struct mem_queue *queues; /* one per route, same index */
	uint64_t next_seq;
	struct mem_stats stats;
	bool stopping;

	struct seen_id *seen[SEEN_BUCKETS];

	struct mem_letter *letters_head, *letters_tail;
	uint64_t letters_stored; /* ever; the next letter's sequence - 1 */

	bool started;
	unsigned held; /* tasks handed out by next() and not yet done() */
};

static const struct backend_ops memory_ops;

static struct mem_backend *
from_base(struct backend *base)
{
	return (struct mem_backend *)base;
}

static struct mem_item *
item_of(struct tj_task *task)
{
	return task->backend_msg;
}

static void
headers_free(struct msg_header *headers, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)headers[i].key);
		free((char *)headers[i].value);
	}
	free(headers);
}

static struct msg_header *
headers_copy(const struct msg_header *src, size_t n, size_t extra)
{
	struct msg_header *dst = xcalloc(n + extra, sizeof(*dst));

	for (size_t i = 0; i < n; i++) {
		dst[i].key = xstrdup(src[i].key);
		dst[i].value = xstrdup(src[i].value);
	}
	return dst;
}

static void
item_free(struct mem_item *item)
{
	if (item == NULL)
		return;
	task_release(&item->task);
	free(item->subject);
	free(item->payload);
	headers_free(item->headers, item->header_count);
	free(item->msg_id);
	free(item);
}

static size_t
route_index(const struct mem_backend *b, const struct route *route)
{
	return (size_t)(route - b->router->routes);
}

/* Insert in due order; equal due times keep publish order. Lock held. */
static void
queue_insert(struct mem_backend *b, struct mem_item *item)
{
	struct mem_queue *q = &b->queues[route_index(b, item->route)];
	struct mem_item **link = &q->head;

	while (*link != NULL && ((*link)->due_ms < item->due_ms ||
	                         ((*link)->due_ms == item->due_ms && (*link)->seq < item->seq)))
		link = &(*link)->next;
	item->next = *link;
	*link = item;
	pthread_cond_signal(&q->cond);
}

static unsigned
hash_id(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % SEEN_BUCKETS;
}

/* True if `id` was seen within its window; records it otherwise. Lock held. */
static bool
seen_recently(struct mem_backend *b, const char *id, int64_t window_ms)
{
	struct seen_id **link = &b->seen[hash_id(id)];
	int64_t now = clock_mono_ms();

	while (*link != NULL) {
		struct seen_id *s = *link;

		if (s->expires_ms <= now) {
			*link = s->next;
			free(s->id);
			free(s);
			continue;
		}
		if (strcmp(s->id, id) == 0)
			return true;
		link = &s->next;
	}
	*link = xcalloc(1, sizeof(**link));
	(*link)->id = xstrdup(id);
	(*link)->expires_ms = now + window_ms;
	return false;
}

/* Dead-letter a task nobody serves, without queueing it. */
static int
dead_letter_unrouted(struct mem_backend *b, struct mem_item *item, const struct cfg_stream *stream)
{
	int rc;

	item->task.subject = item->subject;
	item->task.payload = item->payload;
	item->task.payload_len = item->len;
	item->task.stream = stream->name;
	item->task.stream_seq = item->seq;
	item->task.attempt = 1;
	item->task.backend_msg = item;
	item->task.backend = &b->base;
	item->task.route = NULL;
	task_set_id(&item->task, item->msg_id);
	rc = b->sink->dead_letter(b->sink->ctx, &item->task, DLQ_REASON_NO_ROUTE,
	                          "no route serves this subject");
	item_free(item);
	return rc;
}

static int
op_publish(struct backend *base, const struct publish_msg *m, struct publish_ack *ack_r)
{
	struct mem_backend *b = from_base(base);
	const char *subject = m->subject, *msg_id = m->msg_id;
	const struct msg_header *headers = m->headers;
	const void *data = m->data;
	const struct cfg_stream *stream;
	size_t len = m->len, n = m->header_count;
	struct publish_ack ack = { 0 };
	struct mem_item *item;
	struct route *route;
	int rc = 0;

	if (!subject_valid(subject, false))
		return -EINVAL;
	stream = cfg_stream_for_subject(b->cfg, subject);
	if (stream == NULL)
		return -ENOENT;
	/* Routing needs the routes, and dead-lettering the engine. */
	if (b->router == NULL || b->sink == NULL)
		return -EAGAIN;
	route = router_lookup(b->router, subject);
	snprintf(ack.stream, sizeof(ack.stream), "%s", stream->name);

	item = xcalloc(1, sizeof(*item));
	item->subject = xstrdup(subject);
	item->payload = xmalloc(len + 1);
	if (len > 0)
		memcpy(item->payload, data, len);
	item->payload[len] = '\0';
	item->len = len;
	item->headers = headers_copy(headers, n, 0);
	item->header_count = n;
	item->msg_id = msg_id != NULL ? xstrdup(msg_id) : NULL;
	item->route = route;
	item->task.retry_after_ms = -1;
	item->task.verdict = -1;

	pthread_mutex_lock(&b->lock);
	if (msg_id != NULL && seen_recently(b, msg_id, stream->duplicate_window_ms)) {
		pthread_mutex_unlock(&b->lock);
		item_free(item);
		ack.duplicate = true; /* accepted and not enqueued again */
		goto out;
	}
	if (route != NULL && b->stats.current_size >= b->cfg->memory.capacity) {
		pthread_mutex_unlock(&b->lock);
		item_free(item);
		rc = -ENOBUFS;
		goto out;
	}
	item->seq = ++b->next_seq;
	b->stats.total_enqueued++;
	ack.seq = item->seq;
	if (route == NULL && stream->retention != CFG_RETENTION_WORKQUEUE) {
		/* A limits or interest stream nobody consumes here (an event
		 * feed for observers): JetStream would keep it for them; there
		 * are no observers in memory. Counted, not queued. */
		b->stats.unrouted++;
		pthread_mutex_unlock(&b->lock);
		item_free(item);
		goto out;
	}
	if (route == NULL) {
		pthread_mutex_unlock(&b->lock);
		rc = dead_letter_unrouted(b, item, stream);
		goto out;
	}
	b->stats.current_size++;
	item->due_ms = clock_mono_ms();
	queue_insert(b, item);
	pthread_mutex_unlock(&b->lock);
out:
	if (rc == 0 && ack_r != NULL)
		*ack_r = ack;
	return rc;
}

/* --- backend ops: called by the disposition during engine_process --- */

static int
op_ack(struct backend *base, struct tj_task *task)
{
	item_of(task)->fate = FATE_GONE;
	return 0;
}

static int
op_term(struct backend *base, struct tj_task *task)
{
	item_of(task)->fate = FATE_GONE;
	return 0;
}

static int
op_nak(struct backend *base, struct tj_task *task, int64_t delay_ms)
{
	struct mem_item *item = item_of(task);

	item->fate = FATE_REQUEUE;
	item->requeue_delay_ms = delay_ms < 0 ? 0 : delay_ms;
	return 0;
}

static int
op_in_progress(struct backend *base, struct tj_task *task)
{
	/* Nothing times out in memory: a delivery is never taken back. */
	return 0;
}

/* Append a copy of a header to a letter with room for it. */
static void
add_copy(struct mem_letter *letter, const char *key, const char *value)
{
	letter->headers[letter->header_count].key = xstrdup(key);
	letter->headers[letter->header_count++].value = xstrdup(value);
}

static int
op_dead_letter(struct backend *base, struct tj_task *task, const struct dlq_record *rec)
{
	struct mem_backend *b = from_base(base);
	struct mem_item *item = item_of(task);
	struct mem_letter *letter;

	letter = xcalloc(1, sizeof(*letter));
	letter->subject = xstrdup(rec->subject);
	letter->payload = xmalloc(item->len + 1);
	memcpy(letter->payload, item->payload, item->len + 1);
	letter->len = item->len;
	/* The task's headers but those the engine owns (its values win, one
	 * of each), then the engine's. */
	letter->headers = xcalloc(item->header_count + rec->header_count, sizeof(*letter->headers));
	for (size_t i = 0; i < item->header_count; i++)
		if (!dlq_header_dropped(item->headers[i].key))
			add_copy(letter, item->headers[i].key, item->headers[i].value);
	for (size_t i = 0; i < rec->header_count; i++)
		add_copy(letter, rec->headers[i].key, rec->headers[i].value);

	pthread_mutex_lock(&b->lock);
	if (seen_recently(b, rec->msg_id, DLQ_DUPLICATE_WINDOW_MS)) {
		pthread_mutex_unlock(&b->lock);
		headers_free(letter->headers, letter->header_count);
		free(letter->payload);
		free(letter->subject);
		free(letter);
		return 0;
	}
	letter->seq = ++b->letters_stored;
	letter->stored_ns = clock_wall_ms() * 1000000;
	b->stats.dead_letters++;
	if (b->letters_tail != NULL)
		b->letters_tail->next = letter;
	else
		b->letters_head = letter;
	b->letters_tail = letter;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static const char *
op_header(struct backend *base, const struct tj_task *task, const char *key)
{
	const struct mem_item *item = task->backend_msg;

	for (size_t i = 0; i < item->header_count; i++)
		if (strcmp(item->headers[i].key, key) == 0)
			return item->headers[i].value;
	/* The message id is kept apart here; JetStream has it as a header. */
	if (strcmp(key, "Nats-Msg-Id") == 0)
		return item->msg_id;
	return NULL;
}

static int
op_headers(struct backend *base, const struct tj_task *task, const struct msg_header **headers_r,
           size_t *count_r)
{
	const struct mem_item *item = task->backend_msg;

	*headers_r = item->headers;
	*count_r = item->header_count;
	return 0;
}

/* --- delivery --- */

/* Fill `item`'s task for a delivery (lock not held; the item is ours). */
static struct tj_task *
prepare(struct mem_backend *b, struct mem_item *item)
{
	struct tj_task *task = &item->task;

	item->deliveries++;
	item->fate = FATE_NONE;
	task->subject = item->subject;
	task->payload = item->payload;
	task->payload_len = item->len;
	task->stream = item->route->stream->name;
	task->stream_seq = item->seq;
	task->attempt = item->deliveries;
	task_set_id(task, item->msg_id);
	task->received_ms = clock_mono_ms();
	task->backend_msg = item;
	task->backend = &b->base;
	task->route = item->route;
	return task;
}

/* Settle a delivered item by its fate: requeue it, or let it go. */
static void
settle(struct mem_backend *b, struct mem_item *item)
{
	if (item->fate == FATE_NONE) {
		/* Nothing settled it: redeliver after the ack wait, as a
		 * server would for an unacknowledged message. */
		item->fate = FATE_REQUEUE;
		item->requeue_delay_ms = item->route->cfg->ack_wait_ms;
	}
	pthread_mutex_lock(&b->lock);
	b->stats.total_dequeued++;
	if (item->fate == FATE_REQUEUE) {
		item->due_ms =
		    clock_mono_ms() + (int64_t)((double)item->requeue_delay_ms * b->delay_scale);
		queue_insert(b, item);
		item = NULL;
	} else {
		b->stats.current_size--;
		pthread_cond_broadcast(&b->idle_cond);
	}
	pthread_mutex_unlock(&b->lock);
	item_free(item);
}

static bool
is_stopping(struct mem_backend *b)
{
	return __atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE);
}

/* Pop the head of queue q once it is due; NULL on stop or timeout. Lock held. */
static struct mem_item *
pop_due(struct mem_backend *b, struct mem_queue *q, int64_t give_up_ms)
{
	for (;;) {
		int64_t now = clock_mono_ms(), wait_ms;
		struct timespec until;

		if (is_stopping(b) || now >= give_up_ms)
			return NULL;
		if (q->head != NULL && q->head->due_ms <= now) {
			struct mem_item *item = q->head;

			q->head = item->next;
			item->next = NULL;
			return item;
		}
		wait_ms = give_up_ms - now;
		if (q->head != NULL && q->head->due_ms - now < wait_ms)
			wait_ms = q->head->due_ms - now;
		clock_mono_deadline(wait_ms, &until);
		pthread_cond_clockwait(&q->cond, &b->lock, CLOCK_MONOTONIC, &until);
	}
}

static int
op_next(struct backend *base, struct route *route, int64_t timeout_ms, struct tj_task **task_r)
{
	struct mem_backend *b = from_base(base);
	struct mem_queue *q = &b->queues[route_index(b, route)];
	struct mem_item *item;

	if (is_stopping(b))
		return -ESHUTDOWN;
	pthread_mutex_lock(&b->lock);
	item = pop_due(b, q, clock_mono_ms() + timeout_ms);
	if (item != NULL)
		b->held++;
	pthread_mutex_unlock(&b->lock);
	if (item == NULL)
		return is_stopping(b) ? -ESHUTDOWN : -EAGAIN;
	*task_r = prepare(b, item);
	return 0;
}

static void
op_done(struct backend *base, struct tj_task *task)
{
	struct mem_backend *b = from_base(base);

	settle(b, item_of(task));
	pthread_mutex_lock(&b->lock);
	b->held--;
	pthread_mutex_unlock(&b->lock);
}

int
mem_backend_run_one(struct backend *base, int64_t timeout_ms, struct mem_step *step_r)
{
	struct mem_backend *b = from_base(base);
	int64_t give_up = clock_mono_ms() + timeout_ms;
	struct mem_item *item = NULL;
	struct tj_task *task;
	int64_t due = 0;

	pthread_mutex_lock(&b->lock);
	/* The queue whose head is due first, across routes. */
	while (item == NULL && clock_mono_ms() < give_up) {
		struct mem_queue *best = NULL;

		for (size_t i = 0; i < b->router->count; i++)
			if (b->queues[i].head != NULL &&
			    (best == NULL || b->queues[i].head->due_ms < best->head->due_ms))
				best = &b->queues[i];
		if (best == NULL)
			break;
		due = best->head->due_ms;
		item = pop_due(b, best, give_up);
	}
	pthread_mutex_unlock(&b->lock);
	if (item == NULL)
		return 0;
	memset(step_r, 0, sizeof(*step_r));
	step_r->waited_ms = clock_mono_ms() - due;
	task = prepare(b, item);
	b->sink->deliver(b->sink->ctx, task);
	snprintf(step_r->subject, sizeof(step_r->subject), "%s", item->subject);
	step_r->attempt = task->attempt;
	step_r->verdict = task->verdict;
	step_r->requeued = item->fate != FATE_GONE;
	step_r->delay_ms =
	    item->fate == FATE_REQUEUE ? item->requeue_delay_ms : item->route->cfg->ack_wait_ms;
	snprintf(step_r->fail_reason, sizeof(step_r->fail_reason), "%s",
	         task->fail_reason != NULL ? task->fail_reason : "");
	settle(b, item);
	return 1;
}

int
mem_backend_open(const struct cfg *cfg, struct backend **b_r)
{
	struct mem_backend *b = xcalloc(1, sizeof(*b));

	b->base.ops = &memory_ops;
	b->base.cfg = cfg;
	b->cfg = cfg;
	b->delay_scale = 1.0;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->idle_cond, NULL);
	*b_r = &b->base;
	return 0;
}

void
mem_backend_bind(struct backend *base, const struct router *router, const struct backend_sink *sink)
{
	struct mem_backend *b = from_base(base);

	if (b->router != NULL)
		return;
	/* Waits use pthread_cond_clockwait(CLOCK_MONOTONIC), whatever the
	 * condition's own clock. */
	b->queues = xcalloc(router->count + 1, sizeof(*b->queues));
	for (size_t i = 0; i < router->count; i++)
		pthread_cond_init(&b->queues[i].cond, NULL);
	b->sink = sink;
	b->router = router;
}

void
mem_backend_set_delay_scale(struct backend *base, double scale)
{
	from_base(base)->delay_scale = scale < 0 ? 0 : scale;
}

static int
op_start(struct backend *base, const struct router *router, const struct backend_sink *sink)
{
	struct mem_backend *b = from_base(base);

	mem_backend_bind(base, router, sink);
	b->started = true;
	log_notice("running on the memory backend (%zu routes, capacity %zu)", b->router->count,
	           b->cfg->memory.capacity);
	return 0;
}

static void
op_request_stop(struct backend *base)
{
	struct mem_backend *b = from_base(base);

	/* A flag for next()'s next look (each wait is short); wait() also
	 * wakes them. A mutex is not async-signal-safe. */
	__atomic_store_n(&b->stopping, true, __ATOMIC_RELEASE);
}

static int
op_wait(struct backend *base, int64_t grace_ms)
{
	struct mem_backend *b = from_base(base);

	pthread_mutex_lock(&b->lock);
	__atomic_store_n(&b->stopping, true, __ATOMIC_RELEASE);
	for (size_t i = 0; b->router != NULL && i < b->router->count; i++)
		pthread_cond_broadcast(&b->queues[i].cond);
	log_notice("stopped: %llu published, %llu deliveries, %llu dead letters, "
	           "%llu unfinished",
	           (unsigned long long)b->stats.total_enqueued,
	           (unsigned long long)b->stats.total_dequeued,
	           (unsigned long long)b->stats.dead_letters,
	           (unsigned long long)b->stats.current_size);
	pthread_mutex_unlock(&b->lock);
	return 0; /* no threads of its own */
}

static int
op_drain(struct backend *base, int64_t timeout_ms)
{
	struct mem_backend *b = from_base(base);
	struct timespec until;
	int rc = 0;

	clock_mono_deadline(timeout_ms, &until);
	pthread_mutex_lock(&b->lock);
	while (b->stats.current_size > 0 && rc == 0)
		if (pthread_cond_clockwait(&b->idle_cond, &b->lock, CLOCK_MONOTONIC, &until) != 0 &&
		    b->stats.current_size > 0)
			rc = -ETIMEDOUT;
	pthread_mutex_unlock(&b->lock);
	return rc;
}

const struct mem_letter *
mem_backend_letters(struct backend *base)
{
	struct mem_backend *b = from_base(base);
	const struct mem_letter *head;

	pthread_mutex_lock(&b->lock);
	head = b->letters_head;
	pthread_mutex_unlock(&b->lock);
	return head;
}

void
mem_backend_stats(struct backend *base, struct mem_stats *stats_r)
{
	struct mem_backend *b = from_base(base);

	pthread_mutex_lock(&b->lock);
	*stats_r = b->stats;
	pthread_mutex_unlock(&b->lock);
}

static void
letter_free(struct mem_letter *letter)
{
	headers_free(letter->headers, letter->header_count);
	free(letter->payload);
	free(letter->subject);
	free(letter);
}

static void
op_destroy(struct backend *base)
{
	struct mem_backend *b = from_base(base);
	struct mem_letter *letter;

	/* Tasks still held belong to abandoned handlers: their items and the
	 * queues go with the process, which is about to end. */
	if (b->held > 0)
		return;
	for (size_t i = 0; b->router != NULL && i < b->router->count; i++) {
		while (b->queues[i].head != NULL) {
			struct mem_item *item = b->queues[i].head;

			b->queues[i].head = item->next;
			item_free(item);
		}
		pthread_cond_destroy(&b->queues[i].cond);
	}
	for (size_t i = 0; i < SEEN_BUCKETS; i++) {
		while (b->seen[i] != NULL) {
			struct seen_id *s = b->seen[i];

			b->seen[i] = s->next;
			free(s->id);
			free(s);
		}
	}
	letter = b->letters_head;
	while (letter != NULL) {
		struct mem_letter *next = letter->next;

		letter_free(letter);
		letter = next;
	}
	free(b->queues);
	pthread_cond_destroy(&b->idle_cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* --- status --- */

static bool
op_healthy(struct backend *base)
{
	return true; /* nothing to lose a connection to */
}

static bool
op_ready(struct backend *base, int64_t timeout_ms, char *why, size_t len)
{
	struct mem_backend *b = from_base(base);

	if (!b->started || is_stopping(b)) {
		snprintf(why, len, "not started");
		return false;
	}
	return true;
}

static const char *
op_location(struct backend *base)
{
	return "memory";
}

static int
op_snapshot(struct backend *base, const struct cfg *cfg, const struct snapshot_opts *o,
            struct stats_snapshot **snap_r)
{
	struct mem_backend *b = from_base(base);
	struct stats_snapshot *snap = stats_snapshot_new(cfg, "memory");

	pthread_mutex_lock(&b->lock);
	snap->queue_known = true;
	snap->total_enqueued = b->stats.total_enqueued;
	snap->total_dequeued = b->stats.total_dequeued;
	snap->current_size = b->stats.current_size;
	snap->has_capacity = true;
	snap->capacity = b->cfg->memory.capacity;
	snap->dlq.found = true;
	snap->dlq.msgs = b->stats.dead_letters;
	snap->dlq.last_seq = b->letters_stored;
	if (o != NULL && o->by_reason) {
		for (const struct mem_letter *l = b->letters_head; l != NULL; l = l->next) {
			const char *reason = NULL;

			for (size_t i = 0; i < l->header_count; i++)
				if (strcmp(l->headers[i].key, "Taskjet-Reason") == 0)
					reason = l->headers[i].value;
			stats_count_reason(snap, reason);
		}
		stats_sort_reasons(snap);
	}
	pthread_mutex_unlock(&b->lock);
	*snap_r = snap;
	return 0;
}

/* --- dead letters --- */

/* An entry for `l` (lock held). */
static struct dlq_entry *
letter_entry(const struct mem_backend *b, const struct mem_letter *l, bool with_payload)
{
	struct dlq_entry *e =
	    dlq_entry_new(&b->cfg->dlq, l->seq, l->stored_ns, l->subject, l->headers,
	                  l->header_count, with_payload ? l->payload : NULL, l->len);

	if (!with_payload)
		dlq_entry_strip(e);
	return e;
}

static int
op_dlq_list(struct backend *base, const struct dlq_filter *f, bool with_payload,
            struct dlq_list *list_r)
{
	struct mem_backend *b = from_base(base);
	struct dlq_list list = { 0 };
	size_t limit = dlq_filter_limit(f);

	pthread_mutex_lock(&b->lock);
	list.last_seq = b->letters_stored;
	for (const struct mem_letter *l = b->letters_head; l != NULL; l = l->next) {
		struct dlq_entry *e;

		if (f != NULL && l->seq < f->from_seq)
			continue;
		list.scanned++;
		e = letter_entry(b, l, with_payload);
		if (!dlq_filter_match(f, e)) {
			dlq_entry_free(e);
			continue;
		}
		if (list.count == limit) {
			list.truncated = true;
			list.next_seq = l->seq;
			dlq_entry_free(e);
			break;
		}
		dlq_list_append(&list, e);
	}
	pthread_mutex_unlock(&b->lock);
	*list_r = list;
	return 0;
}

static int
op_dlq_get(struct backend *base, uint64_t seq, struct dlq_entry **entry_r)
{
	struct mem_backend *b = from_base(base);
	int rc = -ENOENT;

	pthread_mutex_lock(&b->lock);
	for (const struct mem_letter *l = b->letters_head; l != NULL; l = l->next) {
		if (l->seq == seq) {
			*entry_r = letter_entry(b, l, true);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

/* Unlink and free the letters `match` selects (lock held); how many. */
static size_t
remove_letters(struct mem_backend *b, bool (*match)(const struct mem_letter *, const void *),
               const void *arg)
{
	struct mem_letter **link = &b->letters_head, *prev = NULL;
	size_t n = 0;

	while (*link != NULL) {
		struct mem_letter *l = *link;

		if (!match(l, arg)) {
			prev = l;
			link = &l->next;
			continue;
		}
		*link = l->next;
		if (b->letters_tail == l)
			b->letters_tail = prev;
		letter_free(l);
		b->stats.dead_letters--;
		n++;
	}
	return n;
}

static bool
seq_is(const struct mem_letter *l, const void *arg)
{
	return l->seq == *(const uint64_t *)arg;
}

static int
op_dlq_delete(struct backend *base, uint64_t seq)
{
	struct mem_backend *b = from_base(base);
	size_t n;

	pthread_mutex_lock(&b->lock);
	n = remove_letters(b, seq_is, &seq);
	pthread_mutex_unlock(&b->lock);
	return n > 0 ? 0 : -ENOENT;
}

struct purge_arg {
	const struct mem_backend *b;
	const char *subject;
	uint64_t before_seq;
};

static bool
purge_match(const struct mem_letter *l, const void *arg)
{
	const struct purge_arg *p = arg;
	const char *prefix = p->b->cfg->dlq.subject_prefix;
	size_t plen = strlen(prefix);

	if (p->before_seq != 0 && l->seq >= p->before_seq)
		return false;
	if (p->subject == NULL)
		return true;
	return strncmp(l->subject, prefix, plen) == 0 && l->subject[plen] == '.' &&
	       subject_matches(p->subject, l->subject + plen + 1);
}

static int
op_dlq_purge(struct backend *base, const char *subject, uint64_t before_seq)
{
	struct mem_backend *b = from_base(base);
	struct purge_arg arg = { b, subject, before_seq };

	pthread_mutex_lock(&b->lock);
	remove_letters(b, purge_match, &arg);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static const struct backend_ops memory_ops = {
	.name = "memory",
	.ack = op_ack,
	.nak = op_nak,
	.term = op_term,
	.in_progress = op_in_progress,
	.dead_letter = op_dead_letter,
	.header = op_header,
	.headers = op_headers,
	.publish = op_publish,
	.start = op_start,
	.next = op_next,
	.done = op_done,
	.request_stop = op_request_stop,
	.wait = op_wait,
	.destroy = op_destroy,
	.drain = op_drain,
	.healthy = op_healthy,
	.ready = op_ready,
	.location = op_location,
	.snapshot = op_snapshot,
	.dlq_list = op_dlq_list,
	.dlq_get = op_dlq_get,
	.dlq_delete = op_dlq_delete,
	.dlq_purge = op_dlq_purge,
};
