/* SPDX-License-Identifier: MIT */
/*
 * A recording fake backend for unit tests: every op is appended to a call
 * log (copies, so tasks and letters may die afterwards) and any op can be
 * made to fail with a chosen -errno. Thread-safe: engine tests call it from
 * worker threads.
 *
 *   struct fake_backend fb;
 *   fake_backend_init(&fb);
 *   ... use &fb.base as the struct backend * ...
 *   fake_backend_fini(&fb);
 */
#ifndef TASKJET_FAKE_BACKEND_H
#define TASKJET_FAKE_BACKEND_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "task/backend.h"

enum fake_op {
	FAKE_ACK = 0,
	FAKE_NAK,
	FAKE_TERM,
	FAKE_IN_PROGRESS,
	FAKE_DEAD_LETTER,
	FAKE_PUBLISH,
	FAKE_OP_COUNT
};

/* One recorded call. Strings are owned by the fake; NULL when unused. */
struct fake_call {
	enum fake_op op;
	int rc; /* what the op returned */
	char *task_id; /* NULL for publish */
	int64_t delay_ms; /* nak */
	char *subject; /* dead_letter: the letter's; publish: the target */
	char *msg_id; /* dead_letter, publish (NULL if none given) */
	char *data; /* publish: copy of the payload, NUL-terminated */
	size_t data_len;
	struct dlq_entry_header headers[DLQ_MAX_HEADERS]; /* dead_letter, copied */
	size_t header_count;
};

struct fake_failure {
	int err; /* -errno to return; 0: succeed */
	unsigned times; /* fail this many more calls; 0: every call */
};

struct fake_backend {
	struct backend base; /* pass &fb->base wherever a backend is wanted */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct fake_call *calls;
	size_t count, cap;
	struct fake_failure fail[FAKE_OP_COUNT];
	const char *header_key, *header_value; /* borrowed; for the header op */
	const struct msg_header *headers; /* borrowed; for the headers op */
	size_t header_count;
};

void fake_backend_init(struct fake_backend *fb);
/* Free the call log. */
void fake_backend_fini(struct fake_backend *fb);
/* Forget the calls and the failure switches. */
void fake_backend_reset(struct fake_backend *fb);
/* Make `op` return `err` (a -errno; 0 to stop failing) for the next `times`
 * calls, or for every call when `times` is 0. Failed calls are recorded. */
void fake_backend_fail(struct fake_backend *fb, enum fake_op op, int err, unsigned times);
/* The header op answers `value` for `key` on every task (borrowed). */
void fake_backend_set_header(struct fake_backend *fb, const char *key, const char *value);

/* Calls so far, and the i-th (NULL if out of range). The pointer stays valid
 * until the next call into the fake; read it when no thread is calling. */
size_t fake_backend_count(struct fake_backend *fb);
const struct fake_call *fake_backend_call(struct fake_backend *fb, size_t i);
/* How many calls of `op` were recorded. */
size_t fake_backend_count_op(struct fake_backend *fb, enum fake_op op);
/* Wait until at least `n` calls are recorded. 0, or -ETIMEDOUT. */
int fake_backend_wait(struct fake_backend *fb, size_t n, int64_t timeout_ms);

/* "ack", "nak", "term", "in_progress", "dead_letter", "publish". */
const char *fake_op_name(enum fake_op op);
/* The value of a dead letter header in `call`, or NULL. */
const char *fake_call_header(const struct fake_call *call, const char *key);

#endif
