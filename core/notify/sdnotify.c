/* SPDX-License-Identifier: MIT */
/* sd_notify wrappers and the watchdog keep-alive thread. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "util/log.h"
#include "notify/sdnotify.h"

#define STATUS_MAX 256

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running;
	bool stop;
	sdnotify_health_fn healthy;
	void *arg;
	unsigned long long period_usec;
	/* What READY=1 said, restored when the engine recovers. */
	char ready_status[STATUS_MAX];
} wd = { .lock = PTHREAD_MUTEX_INITIALIZER };

static atomic_bool warned;

static bool
wanted(void)
{
	const char *socket = getenv("NOTIFY_SOCKET");

	return socket != NULL && *socket != '\0';
}

/* Send one message; complain once, since a broken socket stays broken and
 * the watchdog would repeat it every few seconds. */
static int
send_message(const char *msg)
{
	int rc = sd_notify(0, msg);

	if (rc >= 0)
		return 0;
	if (!atomic_exchange(&warned, true))
		log_warn("cannot notify the service manager (NOTIFY_SOCKET): %s", strerror(-rc));
	return rc;
}

/* The protocol is one KEY=VALUE per line: a newline in a status would
 * start a bogus assignment. */
static void TJ_PRINTF(3, 0) format_status(char *buf, size_t len, const char *fmt, va_list ap)
{
	vsnprintf(buf, len, fmt, ap);
	for (char *p = buf; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

int
sdnotify_ready(const char *status_fmt, ...)
{
	char status[STATUS_MAX] = "", msg[STATUS_MAX + 32];
	va_list ap;

	if (!wanted())
		return 0;
	if (status_fmt != NULL) {
		va_start(ap, status_fmt);
		format_status(status, sizeof(status), status_fmt, ap);
		va_end(ap);
	}
	pthread_mutex_lock(&wd.lock);
	memcpy(wd.ready_status, status, sizeof(status));
	pthread_mutex_unlock(&wd.lock);
	if (status[0] == '\0')
		return send_message("READY=1");
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	return send_message(msg);
}

int
sdnotify_status(const char *fmt, ...)
{
	char status[STATUS_MAX], msg[STATUS_MAX + 16];
	va_list ap;

	if (!wanted())
		return 0;
	va_start(ap, fmt);
	format_status(status, sizeof(status), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	return send_message(msg);
}

int
sdnotify_stopping(void)
{
	if (!wanted())
		return 0;
	return send_message("STOPPING=1\nSTATUS=stopping: finishing in-flight tasks");
}

static void
timespec_add_usec(struct timespec *ts, unsigned long long usec)
{
	unsigned long long nsec = (unsigned long long)ts->tv_nsec + (usec % 1000000) * 1000;

	ts->tv_sec += (time_t)(usec / 1000000 + nsec / 1000000000);
	ts->tv_nsec = (long)(nsec % 1000000000);
}

static bool
timespec_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *
watchdog_main(void *unused)
{
	struct timespec next, now;
	bool was_healthy = true;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&wd.lock);
	while (!wd.stop) {
		sdnotify_health_fn healthy = wd.healthy;
		void *arg = wd.arg;
		char status[STATUS_MAX];
		bool ok;

		memcpy(status, wd.ready_status, sizeof(status));
		pthread_mutex_unlock(&wd.lock);
		/* Outside the lock: the health check and the send may take a
		 * moment, and stop() must not wait behind them for long. */
		ok = healthy == NULL || healthy(arg);
		if (ok)
			send_message("WATCHDOG=1");
		if (ok && !was_healthy) {
			log_notice("healthy again: watchdog keep-alives resumed");
			if (status[0] != '\0')
				sdnotify_status("%s", status);
		} else if (!ok && was_healthy) {
			log_warn("not healthy (no server connection): watchdog "
			         "keep-alives withheld");
			sdnotify_status("not healthy: no server connection; watchdog "
			                "keep-alives withheld");
		}
		was_healthy = ok;
		/* Fixed-rate deadlines, so a slow send does not add drift; after
		 * a stall (suspend, a stopped process) start over from now.
		 * period_usec does not change while the thread lives. */
		timespec_add_usec(&next, wd.period_usec);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timespec_before(&next, &now)) {
			next = now;
			timespec_add_usec(&next, wd.period_usec);
		}
		pthread_mutex_lock(&wd.lock);
		while (!wd.stop && pthread_cond_timedwait(&wd.wake, &wd.lock, &next) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&wd.lock);
	return NULL;
}

int
sdnotify_watchdog_start(sdnotify_health_fn healthy, void *arg)
{
	pthread_condattr_t attr;
	uint64_t usec = 0;
	int rc;

	if (!wanted() || wd.running)
		return 0;
	rc = sd_watchdog_enabled(0, &usec);
	if (rc < 0) {
		log_warn("ignoring the watchdog settings (WATCHDOG_USEC): %s", strerror(-rc));
		return 0;
	}
	if (rc == 0 || usec == 0)
		return 0;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&wd.wake, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_lock(&wd.lock);
	wd.healthy = healthy;
	wd.arg = arg;
	wd.stop = false;
	/* Half the timeout, as sd_watchdog_enabled(3) advises: one late
	 * keep-alive must not be fatal. */
	wd.period_usec = usec / 2 > 0 ? usec / 2 : 1;
	pthread_mutex_unlock(&wd.lock);
	rc = -pthread_create(&wd.thread, NULL, watchdog_main, NULL);
	if (rc < 0) {
		log_err("cannot start the watchdog thread: %s", strerror(-rc));
		pthread_mutex_lock(&wd.lock);
		wd.period_usec = 0;
		pthread_mutex_unlock(&wd.lock);
		pthread_cond_destroy(&wd.wake);
		goto out;
	}
	wd.running = true;
	log_info("watchdog: keep-alive every %llu ms", (unsigned long long)usec / 2000);
out:
	return rc;
}

void
sdnotify_watchdog_stop(void)
{
	if (!wd.running)
		return;
	pthread_mutex_lock(&wd.lock);
	wd.stop = true;
	pthread_cond_signal(&wd.wake);
	pthread_mutex_unlock(&wd.lock);
	pthread_join(wd.thread, NULL);
	pthread_cond_destroy(&wd.wake);
	pthread_mutex_lock(&wd.lock);
	wd.healthy = NULL;
	wd.arg = NULL;
	wd.period_usec = 0;
	pthread_mutex_unlock(&wd.lock);
	wd.running = false;
}

unsigned long long
sdnotify_watchdog_period_usec(void)
{
	unsigned long long usec;

	pthread_mutex_lock(&wd.lock);
	usec = wd.period_usec;
	pthread_mutex_unlock(&wd.lock);
	return usec;
}
