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
	struct dlq_header *headers; /* owned copies */
	size_t header_count;
	struct task_header *task_headers; /* ops->headers' view, built on use */
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
	struct engine *engine;
	const struct cfg *cfg;
	struct router *router;
	double delay_scale;

	pthread_mutex_t lock;
	pthread_cond_t idle_cond; /* signalled when current_size drops */
	struct mem_queue *queues; /* one per route, same index */
	uint64_t next_seq;
	struct mem_stats stats;
	bool stopping;

	struct seen_id *seen[SEEN_BUCKETS];

	struct mem_letter *letters_head, *letters_tail;

	pthread_t *threads;
	size_t thread_count;
	size_t threads_done;
	pthread_cond_t done_cond;
};

struct worker_arg {
	struct mem_backend *b;
	size_t route_index;
};

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
headers_free(struct dlq_header *headers, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)headers[i].key);
		free((char *)headers[i].value);
	}
	free(headers);
}

static struct dlq_header *
headers_copy(const struct dlq_header *src, size_t n, size_t extra)
{
	struct dlq_header *dst = xcalloc(n + extra, sizeof(*dst));

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
	free(item->task_headers);
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

static const struct cfg_stream *
stream_for_subject(const struct cfg *cfg, const char *subject)
{
	for (size_t i = 0; i < cfg->stream_count; i++)
		for (size_t j = 0; j < cfg->streams[i].subject_count; j++)
			if (subject_matches(cfg->streams[i].subjects[j], subject))
				return &cfg->streams[i];
	return NULL;
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
	rc = engine_dead_letter(b->engine, &item->task, DLQ_REASON_NO_ROUTE,
	                        "no route serves this subject", NULL);
	item_free(item);
	return rc;
}

int
mem_backend_publish(struct mem_backend *b, const char *subject, const void *data, size_t len,
                    const struct dlq_header *headers, size_t n, const char *msg_id, uint64_t *seq_r)
{
	const struct cfg_stream *stream;
	struct mem_item *item;
	struct route *route;
	int rc = 0;

	if (!subject_valid(subject, false))
		return -EINVAL;
	stream = stream_for_subject(b->cfg, subject);
	if (stream == NULL)
		return -ENOENT;
	route = router_lookup(b->router, subject);

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
		goto out; /* a duplicate is accepted and not enqueued again */
	}
	if (route != NULL && b->stats.current_size >= b->cfg->memory.capacity) {
		pthread_mutex_unlock(&b->lock);
		item_free(item);
		rc = -ENOBUFS;
		goto out;
	}
	item->seq = ++b->next_seq;
	b->stats.total_enqueued++;
	if (seq_r != NULL)
		*seq_r = item->seq;
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
	letter->headers = headers_copy(item->headers, item->header_count, rec->header_count);
	for (size_t i = 0; i < rec->header_count; i++) {
		letter->headers[item->header_count + i].key = xstrdup(rec->headers[i].key);
		letter->headers[item->header_count + i].value = xstrdup(rec->headers[i].value);
	}
	letter->header_count = item->header_count + rec->header_count;

	pthread_mutex_lock(&b->lock);
	if (seen_recently(b, rec->msg_id, DLQ_DUPLICATE_WINDOW_MS)) {
		pthread_mutex_unlock(&b->lock);
		headers_free(letter->headers, letter->header_count);
		free(letter->payload);
		free(letter->subject);
		free(letter);
		return 0;
	}
	letter->seq = ++b->stats.dead_letters;
	if (b->letters_tail != NULL)
		b->letters_tail->next = letter;
	else
		b->letters_head = letter;
	b->letters_tail = letter;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static int
op_publish(struct backend *base, const char *subject, const void *data, size_t len,
           const char *msg_id)
{
	return mem_backend_publish(from_base(base), subject, data, len, NULL, 0, msg_id, NULL);
}

static const char *
op_header(struct backend *base, const struct tj_task *task, const char *key)
{
	const struct mem_item *item = task->backend_msg;

	for (size_t i = 0; i < item->header_count; i++)
		if (strcmp(item->headers[i].key, key) == 0)
			return item->headers[i].value;
	return NULL;
}

static int
op_headers(struct backend *base, const struct tj_task *task, const struct task_header **headers_r,
           size_t *count_r)
{
	struct mem_item *item = task->backend_msg;

	if (item->task_headers == NULL && item->header_count > 0) {
		item->task_headers = xcalloc(item->header_count, sizeof(*item->task_headers));
		for (size_t i = 0; i < item->header_count; i++)
			item->task_headers[i] =
			    (struct task_header){ .key = item->headers[i].key,
				                  .value = item->headers[i].value };
	}
	*headers_r = item->task_headers;
	*count_r = item->header_count;
	return 0;
}

static const struct backend_ops memory_ops = {
	.name = "memory",
	.ack = op_ack,
	.nak = op_nak,
	.term = op_term,
	.in_progress = op_in_progress,
	.dead_letter = op_dead_letter,
	.publish = op_publish,
	.header = op_header,
	.headers = op_headers,
};

/* --- delivery --- */

/* Hand `item` (popped, lock not held) to the engine, then settle it. */
static void
deliver(struct mem_backend *b, struct mem_item *item, struct mem_step *step)
{
	struct tj_task *task = &item->task;
	struct disp_result res;
	int rc;

	item->deliveries++;
	item->fate = FATE_NONE;
	task->subject = item->subject;
	task->payload = item->payload;
	task->payload_len = item->len;
	task->stream = item->route->stream->name;
	task->stream_seq = item->seq;
	task->attempt = item->deliveries;
	if (item->msg_id != NULL)
		snprintf(task->id, sizeof(task->id), "%s", item->msg_id);
	else
		snprintf(task->id, sizeof(task->id), "%s:%llu", task->stream,
		         (unsigned long long)item->seq);
	task->received_ms = clock_mono_ms();
	task->backend_msg = item;
	task->backend = &b->base;
	task->route = item->route;

	rc = engine_process(b->engine, task, &res);
	if (rc < 0 || item->fate == FATE_NONE) {
		/* Nothing settled it: redeliver after the ack wait, as a
		 * server would for an unacknowledged message. */
		item->fate = FATE_REQUEUE;
		item->requeue_delay_ms = item->route->cfg->ack_wait_ms;
	}
	if (step != NULL) {
		snprintf(step->subject, sizeof(step->subject), "%s", item->subject);
		step->attempt = task->attempt;
		step->verdict = task->verdict;
		step->result = res;
		snprintf(step->fail_reason, sizeof(step->fail_reason), "%s",
		         task->fail_reason != NULL ? task->fail_reason : "");
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

static void
deadline_after(int64_t ms, struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Pop the head of queue q once it is due; NULL on stop or timeout. Lock held. */
static struct mem_item *
pop_due(struct mem_backend *b, struct mem_queue *q, int64_t give_up_ms)
{
	for (;;) {
		int64_t now = clock_mono_ms(), wait_ms;
		struct timespec until;

		if (b->stopping || now >= give_up_ms)
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
		deadline_after(wait_ms, &until);
		pthread_cond_timedwait(&q->cond, &b->lock, &until);
	}
}

static void *
worker_main(void *arg)
{
	struct worker_arg *wa = arg;
	struct mem_backend *b = wa->b;
	struct mem_queue *q = &b->queues[wa->route_index];

	free(wa);
	pthread_mutex_lock(&b->lock);
	while (!b->stopping) {
		struct mem_item *item = pop_due(b, q, clock_mono_ms() + 1000);

		if (item == NULL)
			continue;
		pthread_mutex_unlock(&b->lock);
		deliver(b, item, NULL);
		pthread_mutex_lock(&b->lock);
	}
	b->threads_done++;
	pthread_cond_broadcast(&b->done_cond);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

int
mem_backend_run_one(struct mem_backend *b, int64_t timeout_ms, struct mem_step *step_r)
{
	int64_t give_up = clock_mono_ms() + timeout_ms;
	struct mem_item *item = NULL;
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
	deliver(b, item, step_r);
	return 1;
}

int
mem_backend_create(struct engine *engine, struct mem_backend **b_r)
{
	struct mem_backend *b = xcalloc(1, sizeof(*b));

	b->base.ops = &memory_ops;
	b->engine = engine;
	b->cfg = engine_cfg(engine);
	b->router = engine_router(engine);
	b->delay_scale = 1.0;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->idle_cond, NULL);
	pthread_cond_init(&b->done_cond, NULL);
	b->queues = xcalloc(b->router->count, sizeof(*b->queues));
	for (size_t i = 0; i < b->router->count; i++)
		pthread_cond_init(&b->queues[i].cond, NULL);
	engine_set_backend(engine, &b->base);
	*b_r = b;
	return 0;
}

struct backend *
mem_backend_base(struct mem_backend *b)
{
	return &b->base;
}

void
mem_backend_set_delay_scale(struct mem_backend *b, double scale)
{
	b->delay_scale = scale < 0 ? 0 : scale;
}

int
mem_backend_start(struct mem_backend *b)
{
	size_t total = 0;
	int rc = 0;

	for (size_t i = 0; i < b->router->count; i++)
		total += (size_t)b->router->routes[i].cfg->concurrency;
	b->threads = xcalloc(total, sizeof(*b->threads));
	for (size_t i = 0; i < b->router->count; i++) {
		for (int t = 0; t < b->router->routes[i].cfg->concurrency; t++) {
			struct worker_arg *wa = xmalloc(sizeof(*wa));

			wa->b = b;
			wa->route_index = i;
			rc = pthread_create(&b->threads[b->thread_count], NULL, worker_main, wa);
			if (rc != 0) {
				free(wa);
				log_err("memory backend: cannot start a worker: %s", strerror(rc));
				return -rc;
			}
			b->thread_count++;
		}
	}
	return 0;
}

void
mem_backend_request_stop(struct mem_backend *b)
{
	pthread_mutex_lock(&b->lock);
	b->stopping = true;
	for (size_t i = 0; i < b->router->count; i++)
		pthread_cond_broadcast(&b->queues[i].cond);
	pthread_mutex_unlock(&b->lock);
}

int
mem_backend_wait(struct mem_backend *b, int64_t grace_ms)
{
	struct timespec until;
	int left;

	deadline_after(grace_ms, &until);
	pthread_mutex_lock(&b->lock);
	while (b->threads_done < b->thread_count &&
	       pthread_cond_timedwait(&b->done_cond, &b->lock, &until) == 0)
		;
	left = (int)(b->thread_count - b->threads_done);
	pthread_mutex_unlock(&b->lock);
	if (left == 0) {
		for (size_t i = 0; i < b->thread_count; i++)
			pthread_join(b->threads[i], NULL);
		b->thread_count = 0;
		b->threads_done = 0;
	}
	return left;
}

int
mem_backend_drain(struct mem_backend *b, int64_t timeout_ms)
{
	struct timespec until;
	int rc = 0;

	deadline_after(timeout_ms, &until);
	pthread_mutex_lock(&b->lock);
	while (b->stats.current_size > 0 && rc == 0)
		if (pthread_cond_timedwait(&b->idle_cond, &b->lock, &until) != 0 &&
		    b->stats.current_size > 0)
			rc = -ETIMEDOUT;
	pthread_mutex_unlock(&b->lock);
	return rc;
}

const struct mem_letter *
mem_backend_letters(struct mem_backend *b)
{
	const struct mem_letter *head;

	pthread_mutex_lock(&b->lock);
	head = b->letters_head;
	pthread_mutex_unlock(&b->lock);
	return head;
}

void
mem_backend_stats(struct mem_backend *b, struct mem_stats *stats_r)
{
	pthread_mutex_lock(&b->lock);
	*stats_r = b->stats;
	pthread_mutex_unlock(&b->lock);
}

void
mem_backend_destroy(struct mem_backend *b)
{
	struct mem_letter *letter;

	if (b == NULL)
		return;
	/* Threads still running were abandoned: their items leak with the
	 * process, which is about to end. Free only what is at rest. */
	for (size_t i = 0; i < b->router->count; i++) {
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
		struct mem_letter *next = (struct mem_letter *)letter->next;

		headers_free(letter->headers, letter->header_count);
		free(letter->payload);
		free(letter->subject);
		free(letter);
		letter = next;
	}
	free(b->threads);
	free(b->queues);
	pthread_cond_destroy(&b->done_cond);
	pthread_cond_destroy(&b->idle_cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}
