/* SPDX-License-Identifier: MIT */
/*
 * Talking to the service manager (systemd Type=notify): readiness, a short
 * status line, stopping, and watchdog keep-alives. Every call is a no-op
 * returning 0 when NOTIFY_SOCKET is unset, so the engine behaves the same
 * under systemd, in a shell and in tests. Built on libsystemd's sd_notify.
 */
#ifndef TASKJET_SDNOTIFY_H
#define TASKJET_SDNOTIFY_H

#include <stdbool.h>

#include <taskjet/plugin.h>

/*
 * READY=1 with STATUS=<printf(status_fmt, ...)> (status_fmt may be NULL
 * for none). The status is also what the watchdog thread restores after
 * an outage. Returns 0 (also when NOTIFY_SOCKET is unset) or -errno.
 * Thread-safe.
 */
int sdnotify_ready(const char *status_fmt, ...) TJ_PRINTF(1, 2);

/* STATUS=<printf(fmt, ...)>, shown by `systemctl status`. Long lines are
 * truncated. 0 or -errno. Thread-safe. */
int sdnotify_status(const char *fmt, ...) TJ_PRINTF(1, 2);

/* STOPPING=1 with a status saying in-flight tasks are finishing. 0 or
 * -errno. Thread-safe. */
int sdnotify_stopping(void);

/*
 * Whether the engine may be reported alive right now. Called from the
 * watchdog thread with the `arg` given to sdnotify_watchdog_start(); it
 * must be thread-safe and must not block.
 */
typedef bool (*sdnotify_health_fn)(void *arg);

/*
 * If the service manager asked this process for keep-alives (WATCHDOG_USEC,
 * and WATCHDOG_PID unset or ours), start a thread sending WATCHDOG=1 every
 * half WATCHDOG_USEC while `healthy(arg)` is true (healthy NULL: always).
 * While it is false no keep-alive is sent, so a hung or disconnected engine
 * gets restarted, and the status says so. `arg` is borrowed until
 * sdnotify_watchdog_stop(). Returns 0 (also when no watchdog is wanted) or
 * -errno. At most one watchdog per process; main thread only.
 */
int sdnotify_watchdog_start(sdnotify_health_fn healthy, void *arg);

/* Stop and join the watchdog thread; a no-op when none runs. Call before
 * whatever `healthy` looks at is freed. Main thread only. */
void sdnotify_watchdog_stop(void);

/* The keep-alive period the running watchdog uses, in microseconds (0: no
 * watchdog). For tests and the startup log. Thread-safe. */
unsigned long long sdnotify_watchdog_period_usec(void);

#endif
