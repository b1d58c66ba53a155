/* SPDX-License-Identifier: MIT */
/* A stand-in for systemd's notification socket, for the sd_notify tests. */
#ifndef TASKJET_TEST_NOTIFY_SOCKET_H
#define TASKJET_TEST_NOTIFY_SOCKET_H

#include <stdint.h>
#include <sys/types.h>

struct notify_socket {
	int fd;
	char dir[64];
	char path[96]; /* fits sockaddr_un.sun_path */
};

/* A datagram socket bound in a fresh temporary directory, with
 * SO_PASSCRED so each message tells who sent it. 0 or -errno; *ns is the
 * caller's to notify_socket_close(). Not thread-safe. */
int notify_socket_open(struct notify_socket *ns);
/* Close and remove the socket and its directory. */
void notify_socket_close(struct notify_socket *ns);

/*
 * Wait at most timeout_ms for one message; store it NUL-terminated in buf,
 * the sender's pid in *pid_r and the arrival time (CLOCK_MONOTONIC, ms) in
 * *at_ms_r (either may be NULL). Returns the length, 0 on timeout (sd_notify
 * never sends an empty message), or -errno.
 */
int notify_socket_recv(struct notify_socket *ns, int timeout_ms, char *buf, size_t len,
                       pid_t *pid_r, int64_t *at_ms_r);

/* Monotonic milliseconds, the clock of *at_ms_r above. */
int64_t notify_now_ms(void);

/* Keep-alives seen over a window: how many, how many came from a pid other
 * than the expected one, and the median and widest gap between two in a
 * row (0 with fewer than two). The median stands for the period: a busy
 * machine delays a ping now and then, which moves the widest gap (and,
 * with fixed-rate deadlines, shortens the next) but not the median. */
struct ping_stats {
	int count;
	int foreign;
	int64_t median_gap_ms;
	int64_t max_gap_ms;
};
#define NOTIFY_MAX_PINGS 1000

/* Collect "WATCHDOG=1" messages for window_ms, skipping others; `pid`: the
 * sender expected (0: any). */
void notify_socket_pings(struct notify_socket *ns, int window_ms, pid_t pid, struct ping_stats *st);

#endif
