/* SPDX-License-Identifier: MIT */
/* Time in the units the engine uses. Thread-safe. */
#ifndef TASKJET_CLOCK_H
#define TASKJET_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic milliseconds, for deadlines and durations. */
int64_t clock_mono_ms(void);
/* Monotonic microseconds, for latency measurement. */
int64_t clock_mono_us(void);
/* Wall-clock milliseconds since the epoch, for timestamps. */
int64_t clock_wall_ms(void);
/* Format epoch ms as RFC 3339 UTC ("2026-11-23T13:26:23Z", with ".123"
 * milliseconds if `millis`). Returns `buf`. */
char *clock_format_rfc3339(int64_t wall_ms, bool millis, char *buf, size_t len);
/*
 * The CLOCK_MONOTONIC time `ms` milliseconds from now (ms < 0 counts as 0),
 * as the absolute deadline that pthread_cond_clockwait(..., CLOCK_MONOTONIC,
 * ...) and pthread_clockjoin_np() take: a step of the wall clock moves
 * neither a wait nor a grace period.
 */
void clock_mono_deadline(int64_t ms, struct timespec *ts_r);
/* Sleep for ms milliseconds (restarts on EINTR). */
void clock_sleep_ms(int64_t ms);

#endif
