/* SPDX-License-Identifier: MIT */
/* A recording, fault-injecting struct backend for unit and engine tests. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_backend.h"
#include "util/xalloc.h"

static const char *const op_names[FAKE_OP_COUNT] = {
	[FAKE_ACK] = "ack",
	[FAKE_NAK] = "nak",
	[FAKE_TERM] = "term",
	[FAKE_IN_PROGRESS] = "in_progress",
	[FAKE_DEAD_LETTER] = "dead_letter",
	[FAKE_PUBLISH] = "publish",
};

const char *
fake_op_name(enum fake_op op)
{
	return (unsigned)op < FAKE_OP_COUNT ? op_names[op] : "?";
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Append a call for `op` and decide its result. Called with the lock held;
 * returns the new record for the caller to fill. */
static struct fake_call *
record(struct fake_backend *fb, enum fake_op op, const struct tj_task *task)
{
	struct fake_failure *f = &fb->fail[op];
	struct fake_call *call;

	if (fb->count == fb->cap) {
		fb->cap = fb->cap != 0 ? fb->cap * 2 : 16;
		fb->calls = xrealloc(fb->calls, fb->cap, sizeof(*fb->calls));
	}
	call = &fb->calls[fb->count++];
	memset(call, 0, sizeof(*call));
	call->op = op;
	call->task_id = task != NULL ? xstrdup(task->id) : NULL;
	call->rc = f->err;
	if (f->err != 0 && f->times > 0 && --f->times == 0)
		f->err = 0;
	return call;
}

static int
finish(struct fake_backend *fb, struct fake_call *call)
{
	int rc = call->rc;

	pthread_cond_broadcast(&fb->changed);
	pthread_mutex_unlock(&fb->lock);
	return rc;
}

static struct fake_backend *
fake_of(struct backend *b)
{
	return (struct fake_backend *)b;
}

static int
simple_op(struct backend *b, enum fake_op op, struct tj_task *task, int64_t delay_ms)
{
	struct fake_backend *fb = fake_of(b);
	struct fake_call *call;

	pthread_mutex_lock(&fb->lock);
	call = record(fb, op, task);
	call->delay_ms = delay_ms;
	return finish(fb, call);
}

static int
fake_ack(struct backend *b, struct tj_task *task)
{
	return simple_op(b, FAKE_ACK, task, 0);
}

static int
fake_nak(struct backend *b, struct tj_task *task, int64_t delay_ms)
{
	return simple_op(b, FAKE_NAK, task, delay_ms);
}

static int
fake_term(struct backend *b, struct tj_task *task)
{
	return simple_op(b, FAKE_TERM, task, 0);
}

static int
fake_in_progress(struct backend *b, struct tj_task *task)
{
	return simple_op(b, FAKE_IN_PROGRESS, task, 0);
}

static int
fake_dead_letter(struct backend *b, struct tj_task *task, const struct dlq_record *rec)
{
	struct fake_backend *fb = fake_of(b);
	struct fake_call *call;

	pthread_mutex_lock(&fb->lock);
	call = record(fb, FAKE_DEAD_LETTER, task);
	call->subject = xstrdup(rec->subject);
	call->msg_id = xstrdup(rec->msg_id);
	for (size_t i = 0; i < rec->header_count && i < DLQ_MAX_HEADERS; i++) {
		call->headers[i].key = dup_or_null(rec->headers[i].key);
		call->headers[i].value = dup_or_null(rec->headers[i].value);
		call->header_count++;
	}
	return finish(fb, call);
}

static int
fake_publish(struct backend *b, const struct publish_msg *m, struct publish_ack *ack_r)
{
	struct fake_backend *fb = fake_of(b);
	const char *subject = m->subject, *msg_id = m->msg_id;
	const void *data = m->data;
	size_t len = m->len;
	struct fake_call *call;

	pthread_mutex_lock(&fb->lock);
	call = record(fb, FAKE_PUBLISH, NULL);
	call->subject = dup_or_null(subject);
	call->msg_id = dup_or_null(msg_id);
	call->data = xmalloc(len + 1);
	if (len > 0)
		memcpy(call->data, data, len);
	call->data[len] = '\0';
	call->data_len = len;
	return finish(fb, call);
}

static const char *
fake_header(struct backend *b, const struct tj_task *task, const char *key)
{
	struct fake_backend *fb = fake_of(b);
	const char *value = NULL;

	pthread_mutex_lock(&fb->lock);
	if (fb->header_key != NULL && key != NULL && strcmp(fb->header_key, key) == 0)
		value = fb->header_value;
	pthread_mutex_unlock(&fb->lock);
	return value;
}

static int
fake_headers(struct backend *b, const struct tj_task *task, const struct msg_header **headers_r,
             size_t *count_r)
{
	struct fake_backend *fb = fake_of(b);

	pthread_mutex_lock(&fb->lock);
	*headers_r = fb->headers;
	*count_r = fb->header_count;
	pthread_mutex_unlock(&fb->lock);
	return 0;
}

static const struct backend_ops fake_ops = {
	.name = "fake",
	.ack = fake_ack,
	.nak = fake_nak,
	.term = fake_term,
	.in_progress = fake_in_progress,
	.dead_letter = fake_dead_letter,
	.publish = fake_publish,
	.header = fake_header,
	.headers = fake_headers,
};

static void
free_calls(struct fake_backend *fb)
{
	for (size_t i = 0; i < fb->count; i++) {
		struct fake_call *call = &fb->calls[i];

		free(call->task_id);
		free(call->subject);
		free(call->msg_id);
		free(call->data);
		for (size_t h = 0; h < call->header_count; h++) {
			free((char *)call->headers[h].key);
			free((char *)call->headers[h].value);
		}
	}
	fb->count = 0;
}

void
fake_backend_init(struct fake_backend *fb)
{
	memset(fb, 0, sizeof(*fb));
	fb->base.ops = &fake_ops;
	pthread_mutex_init(&fb->lock, NULL);
	pthread_cond_init(&fb->changed, NULL);
}

void
fake_backend_fini(struct fake_backend *fb)
{
	free_calls(fb);
	free(fb->calls);
	fb->calls = NULL;
	fb->cap = 0;
	pthread_cond_destroy(&fb->changed);
	pthread_mutex_destroy(&fb->lock);
}

void
fake_backend_reset(struct fake_backend *fb)
{
	pthread_mutex_lock(&fb->lock);
	free_calls(fb);
	memset(fb->fail, 0, sizeof(fb->fail));
	fb->header_key = NULL;
	fb->header_value = NULL;
	pthread_mutex_unlock(&fb->lock);
}

void
fake_backend_fail(struct fake_backend *fb, enum fake_op op, int err, unsigned times)
{
	if ((unsigned)op >= FAKE_OP_COUNT)
		return;
	pthread_mutex_lock(&fb->lock);
	fb->fail[op].err = err;
	fb->fail[op].times = times;
	pthread_mutex_unlock(&fb->lock);
}

void
fake_backend_set_header(struct fake_backend *fb, const char *key, const char *value)
{
	pthread_mutex_lock(&fb->lock);
	fb->header_key = key;
	fb->header_value = value;
	pthread_mutex_unlock(&fb->lock);
}

size_t
fake_backend_count(struct fake_backend *fb)
{
	size_t n;

	pthread_mutex_lock(&fb->lock);
	n = fb->count;
	pthread_mutex_unlock(&fb->lock);
	return n;
}

const struct fake_call *
fake_backend_call(struct fake_backend *fb, size_t i)
{
	const struct fake_call *call = NULL;

	pthread_mutex_lock(&fb->lock);
	if (i < fb->count)
		call = &fb->calls[i];
	pthread_mutex_unlock(&fb->lock);
	return call;
}

size_t
fake_backend_count_op(struct fake_backend *fb, enum fake_op op)
{
	size_t n = 0;

	pthread_mutex_lock(&fb->lock);
	for (size_t i = 0; i < fb->count; i++)
		if (fb->calls[i].op == op)
			n++;
	pthread_mutex_unlock(&fb->lock);
	return n;
}

int
fake_backend_wait(struct fake_backend *fb, size_t n, int64_t timeout_ms)
{
	struct timespec deadline;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += (time_t)(timeout_ms / 1000);
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&fb->lock);
	while (fb->count < n && rc == 0)
		if (pthread_cond_timedwait(&fb->changed, &fb->lock, &deadline) == ETIMEDOUT)
			rc = -ETIMEDOUT;
	if (fb->count >= n)
		rc = 0;
	pthread_mutex_unlock(&fb->lock);
	return rc;
}

const char *
fake_call_header(const struct fake_call *call, const char *key)
{
	if (call == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; i < call->header_count; i++)
		if (call->headers[i].key != NULL && strcmp(call->headers[i].key, key) == 0)
			return call->headers[i].value;
	return NULL;
}
