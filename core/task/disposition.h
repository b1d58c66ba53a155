/* SPDX-License-Identifier: MIT */
/*
 * The one place that turns a handler's verdict into backend actions:
 * done -> ack; retry -> nak with backoff (or the handler's hint), or a dead
 * letter on the last attempt; fail -> dead letter. A dead letter is written
 * first and the original terminated only once the write is confirmed; if
 * the write fails the task is naked with a delay, so nothing is lost.
 * Thread-safe for different tasks.
 */
#ifndef TASKJET_DISPOSITION_H
#define TASKJET_DISPOSITION_H

#include <stdint.h>

#include "task/backend.h"
#include "config/config.h"
#include "task/retry.h"
#include "task/router.h"

enum disp_outcome {
	DISP_ACKED = 0,
	DISP_RETRIED, /* naked with delay_ms */
	DISP_DEAD_LETTERED, /* DLQ written, original terminated */
	DISP_DLQ_FAILED /* DLQ write failed: naked with delay_ms instead */
};

struct disp_result {
	enum disp_outcome outcome;
	int64_t delay_ms; /* for DISP_RETRIED and DISP_DLQ_FAILED */
	enum dlq_reason reason; /* for DISP_DEAD_LETTERED and DISP_DLQ_FAILED */
	int error; /* first backend error, 0 if none */
};

/* What disposition needs besides the task. All borrowed. */
struct disp_env {
	struct backend *backend;
	const struct cfg_dlq *dlq;
	struct rng rng;
	int64_t (*now_wall_ms)(void); /* NULL: the real clock */
	/* Delay before retrying a task whose dead letter could not be written. */
	int64_t dlq_retry_delay_ms;
};

/* Apply a handler verdict (any int; unknown values count as TJ_FAIL). */
int disp_apply_verdict(const struct disp_env *env, const struct route *route, struct tj_task *task,
                       int verdict, struct disp_result *result_r);

/* Dead-letter `task` for `reason` without a handler verdict (invalid
 * payload, no route, crash, max deliveries). `route` may be NULL. `error`
 * overrides the task's fail reason when not NULL. */
int disp_dead_letter(const struct disp_env *env, const struct route *route, struct tj_task *task,
                     enum dlq_reason reason, const char *error, struct disp_result *result_r);

#endif
