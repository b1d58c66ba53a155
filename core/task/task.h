/* SPDX-License-Identifier: MIT */
/*
 * One delivery of one task, as the engine sees it: what the backend received
 * plus what the handler said about it. This is the struct behind the public
 * opaque tj_task. A task is used by one worker thread at a time.
 */
#ifndef TASKJET_TASK_H
#define TASKJET_TASK_H

#include <stddef.h>
#include <stdint.h>

#include <taskjet/plugin.h>

struct backend;
struct route;

#define TASK_ID_MAX 192

/* A message header. Borrowed strings unless the owner says otherwise. */
struct msg_header {
	const char *key;
	const char *value;
};

struct tj_task {
	/* Set by the backend; borrowed from its message, valid until the
	 * disposition is applied. payload is NUL-terminated at payload_len. */
	const char *subject;
	const void *payload;
	size_t payload_len;
	const char *stream;
	uint64_t stream_seq;
	uint32_t attempt; /* 1-based delivery count */
	char id[TASK_ID_MAX];
	int64_t received_ms; /* monotonic ms when the backend handed it over */
	void *backend_msg; /* the backend's own message object */
	struct backend *backend;

	/* Set by the worker. */
	struct route *route; /* NULL: no route serves the subject; stats mutable */
	int64_t deadline_ms; /* monotonic ms when the handler times out; 0: never */
	/* Which of the route's worker threads runs it (0..concurrency-1): under
	 * process isolation, the worker process it goes to. */
	unsigned slot;

	/* Set by the handler through the host API. */
	int64_t retry_after_ms; /* -1: use the route's backoff */
	char *fail_reason; /* malloc'd, NULL if none */
	unsigned publish_count; /* follow-ups published in this delivery */

	/* Set by the engine: what the handler returned, or TASK_VERDICT_*. */
	int verdict;
};

/* task->verdict when the handler gave none. */
#define TASK_VERDICT_NONE (-1) /* not called */
#define TASK_VERDICT_CRASHED (-2) /* its worker process died */
#define TASK_VERDICT_TIMED_OUT (-3) /* killed at its timeout, or hung in a thread */

/* The task's id: the publisher's message id (Nats-Msg-Id) when it has
 * one, else "<stream>:<stream_seq>" (set those first). msg_id may be NULL;
 * one too long for TASK_ID_MAX is cut. The one place this rule lives. */
void task_set_id(struct tj_task *task, const char *msg_id);

/* Reset the handler-set fields; call before each handler invocation. */
void task_reset_verdict_state(struct tj_task *task);
/* Free what task_reset/host API allocated (not the backend fields). */
void task_release(struct tj_task *task);

#endif
