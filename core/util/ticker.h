/* SPDX-License-Identifier: MIT */
/*
 * A thread that runs one function every so often until it is stopped: the
 * HTTP endpoint's deadline sweeper and readiness refresher. Stopping wakes
 * the wait at once. Each ticker belongs to the thread that started it.
 */
#ifndef TASKJET_TICKER_H
#define TASKJET_TICKER_H

#include <stdint.h>

struct ticker;

/* Run fn(arg) every interval_ms (the first time after one interval) on a
 * thread of its own. 0 with *t_r, or -errno. */
int ticker_start(int64_t interval_ms, void (*fn)(void *arg), void *arg, struct ticker **t_r);

/* Wait for a run in progress to end, stop the thread, free. NULL-safe. */
void ticker_stop(struct ticker *t);

#endif
