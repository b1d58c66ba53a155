/* SPDX-License-Identifier: MIT */
/* sd_notify wrappers and the watchdog thread, against a socket of our own. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"
#include "notify_socket.h"
#include "notify/sdnotify.h"
#include "testing.h"

static struct notify_socket ns;
static char msg[512];

static void
use_socket(void)
{
	setenv("NOTIFY_SOCKET", ns.path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* Drop whatever an earlier test left queued. */
static void
drain(void)
{
	while (notify_socket_recv(&ns, 0, msg, sizeof(msg), NULL, NULL) > 0)
		;
}

TEST(noop_without_notify_socket)
{
	unsetenv("NOTIFY_SOCKET");
	setenv("WATCHDOG_USEC", "100000", 1);
	CHECK_INT(sdnotify_ready("up %d", 1), 0);
	CHECK_INT(sdnotify_status("hello"), 0);
	CHECK_INT(sdnotify_stopping(), 0);
	CHECK_INT(sdnotify_watchdog_start(NULL, NULL), 0);
	CHECK_INT(sdnotify_watchdog_period_usec(), 0);
	sdnotify_watchdog_stop();
	CHECK_INT(notify_socket_recv(&ns, 100, msg, sizeof(msg), NULL, NULL), 0);
}

TEST(ready_status_and_stopping_reach_the_socket)
{
	pid_t pid = 0;

	use_socket();
	drain();
	CHECK_INT(sdnotify_ready("%d routes, %d workers", 3, 8), 0);
	CHECK_TRUE(notify_socket_recv(&ns, 2000, msg, sizeof(msg), &pid, NULL) > 0);
	CHECK_STR(msg, "READY=1\nSTATUS=3 routes, 8 workers");
	CHECK_INT(pid, getpid());

	CHECK_INT(sdnotify_ready(NULL), 0);
	CHECK_TRUE(notify_socket_recv(&ns, 2000, msg, sizeof(msg), NULL, NULL) > 0);
	CHECK_STR(msg, "READY=1");

	/* A newline would start a new assignment in the protocol. */
	CHECK_INT(sdnotify_status("line one\nREADY=1"), 0);
	CHECK_TRUE(notify_socket_recv(&ns, 2000, msg, sizeof(msg), NULL, NULL) > 0);
	CHECK_STR(msg, "STATUS=line one READY=1");

	CHECK_INT(sdnotify_stopping(), 0);
	CHECK_TRUE(notify_socket_recv(&ns, 2000, msg, sizeof(msg), NULL, NULL) > 0);
	CHECK_CONTAINS(msg, "STOPPING=1\n");
	CHECK_CONTAINS(msg, "STATUS=stopping");
}

TEST(long_status_is_truncated_not_dropped)
{
	char big[1000];

	use_socket();
	drain();
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(sdnotify_status("%s", big), 0);
	CHECK_TRUE(notify_socket_recv(&ns, 2000, msg, sizeof(msg), NULL, NULL) > 0);
	CHECK_TRUE(strncmp(msg, "STATUS=xxxx", 11) == 0);
	CHECK_RANGE(strlen(msg), 100, 300);
}

TEST(unreachable_socket_is_an_error)
{
	setenv("NOTIFY_SOCKET", "/nonexistent-taskjet-dir/notify", 1);
	CHECK_TRUE(sdnotify_ready("x") < 0);
	CHECK_TRUE(sdnotify_status("x") < 0);
	use_socket();
}

TEST(watchdog_pings_at_half_the_timeout)
{
	struct ping_stats p;

	use_socket();
	drain();
	setenv("WATCHDOG_USEC", "300000", 1);
	CHECK_INT(sdnotify_watchdog_start(NULL, NULL), 0);
	CHECK_INT(sdnotify_watchdog_period_usec(), 150000);
	notify_socket_pings(&ns, 1500, 0, &p);
	sdnotify_watchdog_stop();
	CHECK_INT(sdnotify_watchdog_period_usec(), 0);
	/*
	 * 1.5 s at 150 ms is 10 on time. A busy (ASan, shared) machine
	 * delays some, so the bounds hold the period, not each ping: the
	 * median gap is 150 ms whatever a few late ones do, while pinging at
	 * the full timeout makes it 300 and a runaway loop near 0. Even the
	 * widest gap stays far below what a stalled thread would leave.
	 */
	CHECK_RANGE(p.count, 4, 21);
	CHECK_RANGE(p.median_gap_ms, 100, 225);
	CHECK_RANGE(p.max_gap_ms, 1, 1000);
	/* Stopped means stopped. */
	drain();
	notify_socket_pings(&ns, 400, 0, &p);
	CHECK_INT(p.count, 0);
}

static atomic_bool health = true;
static atomic_int health_calls;

static bool
healthy(void *arg)
{
	/* Runs on the watchdog thread: no CHECKs here; a wrong arg shows as
	 * missing keep-alives. */
	atomic_fetch_add(&health_calls, 1);
	return arg == &health && atomic_load(&health);
}

/* Wait for a message containing `needle`, skipping others; true if seen. */
static bool
wait_for(const char *needle, int timeout_ms)
{
	int64_t end = notify_now_ms() + timeout_ms;

	for (int guard = 0; guard < 1000; guard++) {
		int64_t left = end - notify_now_ms();

		if (left <= 0)
			return false;
		if (notify_socket_recv(&ns, (int)left, msg, sizeof(msg), NULL, NULL) > 0 &&
		    strstr(msg, needle) != NULL)
			return true;
	}
	return false;
}

TEST(watchdog_withholds_pings_while_unhealthy)
{
	struct ping_stats p;

	use_socket();
	CHECK_INT(sdnotify_ready("3 routes on nats://x"), 0);
	drain();
	setenv("WATCHDOG_USEC", "200000", 1);
	atomic_store(&health, true);
	CHECK_INT(sdnotify_watchdog_start(healthy, &health), 0);
	CHECK_TRUE(wait_for("WATCHDOG=1", 2000));

	atomic_store(&health, false);
	CHECK_TRUE(wait_for("STATUS=not healthy", 2000));
	notify_socket_pings(&ns, 500, 0, &p);
	CHECK_INT(p.count, 0);

	atomic_store(&health, true);
	CHECK_TRUE(wait_for("WATCHDOG=1", 2000));
	/* The status goes back to what READY=1 said. */
	CHECK_TRUE(wait_for("STATUS=3 routes on nats://x", 2000));
	sdnotify_watchdog_stop();
	/* Asked before each ping: healthy, not healthy, healthy again are
	 * three calls at least, whatever the timing (a check made once at
	 * start would give one). */
	CHECK_TRUE(atomic_load(&health_calls) >= 3);
}

TEST(watchdog_for_another_pid_is_ignored)
{
	struct ping_stats p;
	char pid[32];

	use_socket();
	drain();
	setenv("WATCHDOG_USEC", "100000", 1);
	/* systemd sets WATCHDOG_PID to its main process: a child that
	 * inherited the environment must stay quiet. */
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	CHECK_INT(sdnotify_watchdog_start(NULL, NULL), 0);
	CHECK_INT(sdnotify_watchdog_period_usec(), 0);
	notify_socket_pings(&ns, 300, 0, &p);
	CHECK_INT(p.count, 0);
	sdnotify_watchdog_stop();

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	CHECK_INT(sdnotify_watchdog_start(NULL, NULL), 0);
	CHECK_INT(sdnotify_watchdog_period_usec(), 50000);
	CHECK_TRUE(wait_for("WATCHDOG=1", 2000));
	sdnotify_watchdog_stop();
}

TEST(stop_does_not_wait_for_the_next_ping)
{
	int64_t start;

	use_socket();
	setenv("WATCHDOG_USEC", "60000000", 1);
	CHECK_INT(sdnotify_watchdog_start(NULL, NULL), 0);
	CHECK_INT(sdnotify_watchdog_period_usec(), 30000000);
	/* A second start while one runs changes nothing. */
	CHECK_INT(sdnotify_watchdog_start(NULL, NULL), 0);
	start = notify_now_ms();
	sdnotify_watchdog_stop();
	CHECK_RANGE(notify_now_ms() - start, 0, 2000);
	sdnotify_watchdog_stop();
}

int
main(void)
{
	log_setup(TJ_LOG_ERR, LOG_FORMAT_TEXT, NULL);
	if (notify_socket_open(&ns) < 0) {
		printf("Bail out! cannot create a unix datagram socket\n");
		return 1;
	}
	RUN(noop_without_notify_socket);
	RUN(ready_status_and_stopping_reach_the_socket);
	RUN(long_status_is_truncated_not_dropped);
	RUN(unreachable_socket_is_an_error);
	RUN(watchdog_pings_at_half_the_timeout);
	RUN(watchdog_withholds_pings_while_unhealthy);
	RUN(watchdog_for_another_pid_is_ignored);
	RUN(stop_does_not_wait_for_the_next_ping);
	notify_socket_close(&ns);
	log_close();
	return testing_done();
}
