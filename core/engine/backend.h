/* SPDX-License-Identifier: MIT */
/*
 * The small interface between the engine's policy and a message transport.
 * Two implementations: JetStream (core/backend_jetstream.c) and the
 * in-process memory queue (core/backend_memory.c). Unit tests use a
 * recording fake. Every operation returns 0 or a negative errno.
 *
 * Thread-safety: every op may be called from any worker thread, for
 * different tasks concurrently; a given task is used by one thread at a time.
 */
#ifndef TASKJET_BACKEND_H
#define TASKJET_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "engine/task.h"

/* One extra header of a dead letter. Borrowed strings. */
struct dlq_header {
	const char *key;
	const char *value;
};

/* A dead letter to write: the task's payload and original headers, plus
 * these headers, on `subject`, deduplicated by `msg_id`. */
#define DLQ_MAX_HEADERS 12
struct dlq_record {
	char subject[512];
	char msg_id[256];
	struct dlq_header headers[DLQ_MAX_HEADERS];
	size_t header_count;
};

struct backend;

struct backend_ops {
	const char *name; /* "jetstream", "memory", "fake" */
	/* Done: remove the task for good. */
	int (*ack)(struct backend *b, struct tj_task *task);
	/* Redeliver the task after delay_ms (0: at once). */
	int (*nak)(struct backend *b, struct tj_task *task, int64_t delay_ms);
	/* Stop redelivering the task; it is gone from the work queue. */
	int (*term)(struct backend *b, struct tj_task *task);
	/* Extend the task's ack deadline. */
	int (*in_progress)(struct backend *b, struct tj_task *task);
	/* Write the dead letter and return 0 only once the store confirmed it. */
	int (*dead_letter)(struct backend *b, struct tj_task *task, const struct dlq_record *rec);
	/* Publish a message and wait for the store's confirmation. msg_id may
	 * be NULL. -ENOENT: no stream takes the subject; -ENOBUFS: full. */
	int (*publish)(struct backend *b, const char *subject, const void *data, size_t len,
	               const char *msg_id);
	/* First value of a header of the task's message, NULL if absent. The
	 * string lives as long as the task. */
	const char *(*header)(struct backend *b, const struct tj_task *task, const char *key);
	/* Every header value of the task's message, in order (*count_r 0
	 * when it has none). The array lives as long as the task. 0 or
	 * -errno. */
	int (*headers)(struct backend *b, const struct tj_task *task,
	               const struct task_header **headers_r, size_t *count_r);
};

struct backend {
	const struct backend_ops *ops;
};

#endif
