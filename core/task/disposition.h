/* SPDX-License-Identifier: MIT */
/*
 * The one place that turns a handler's verdict into backend actions:
 * done -> ack; retry -> nak with backoff (or the handler's hint), or a dead
 * letter on the last attempt; fail -> dead letter. A call that ended
 * without a verdict (its worker process crashed or was killed at the
 * timeout) is retried with the route's backoff and dead-lettered as
 * crashed / timed_out on the last attempt; a task no handler ran is given
 * back. A dead letter is written first and the original terminated only
 * once the write is confirmed; if the write fails the task is nak'd with a
 * delay, so nothing is lost. Thread-safe for different tasks.
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
	DISP_RETRIED, /* nak'd with delay_ms */
	DISP_DEAD_LETTERED, /* DLQ written, original terminated */
	DISP_DLQ_FAILED, /* DLQ write failed: nak'd with delay_ms instead */
	DISP_GIVEN_BACK, /* the handler never ran (or was stopped at shutdown):
	                  * nak'd with delay_ms, no attempt used up on our side */
	DISP_LEFT, /* nothing sent: the server redelivers after ack_wait */
};

/* How a handler call ended. */
enum disp_call_end {
	DISP_CALL_RETURNED = 0, /* the handler returned a verdict */
	DISP_CALL_CRASHED, /* its worker process died mid-task (or broke the protocol) */
	DISP_CALL_TIMED_OUT, /* still running at its deadline: its worker was killed */
	DISP_CALL_NOT_RUN, /* no worker could take it: the handler never ran */
	DISP_CALL_STOPPED, /* its worker was killed because the engine is stopping */
	DISP_CALL_LATE, /* a handler thread returned after its timeout, when the
	                 * task was no longer kept alive: its verdict is void */
};

struct disp_call {
	enum disp_call_end end;
	int verdict; /* DISP_CALL_RETURNED, DISP_CALL_LATE: what the handler returned */
	/* Otherwise one line for the log and Taskjet-Error ("killed by signal
	 * 11 (Segmentation fault)", "timed out after 1000 ms"). Borrowed. */
	const char *cause;
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
	/* Delay before a task no handler could take comes back (0: 1 s). */
	int64_t given_back_delay_ms;
};

/* Apply a handler verdict (any int; unknown values count as TJ_FAIL). */
int disp_apply_verdict(const struct disp_env *env, const struct route *route, struct tj_task *task,
                       int verdict, struct disp_result *result_r);

/*
 * Apply how a handler call ended: DISP_CALL_RETURNED as
 * disp_apply_verdict(); CRASHED and TIMED_OUT are retried with the route's
 * backoff, and dead-lettered (reason crashed / timed_out, Taskjet-Error the
 * cause) once task->attempt reaches max_attempts; NOT_RUN is given back
 * after given_back_delay_ms and STOPPED at once, whatever the attempt;
 * LATE is left alone (DISP_LEFT).
 */
int disp_apply_call(const struct disp_env *env, const struct route *route, struct tj_task *task,
                    const struct disp_call *call, struct disp_result *result_r);

/* Dead-letter `task` for `reason` without a handler verdict (invalid
 * payload, no route, crash, max deliveries). `route` may be NULL. `error`
 * overrides the task's fail reason when not NULL. */
int disp_dead_letter(const struct disp_env *env, const struct route *route, struct tj_task *task,
                     enum dlq_reason reason, const char *error, struct disp_result *result_r);

#endif
