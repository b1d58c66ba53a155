/* SPDX-License-Identifier: MIT */
/* A unix datagram socket that receives sd_notify messages. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "notify_socket.h"

int64_t
notify_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
notify_socket_open(struct notify_socket *ns)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int one = 1, rc = 0;

	ns->fd = -1;
	snprintf(ns->dir, sizeof(ns->dir), "/tmp/tj-notify-XXXXXX");
	if (mkdtemp(ns->dir) == NULL)
		return -errno;
	snprintf(ns->path, sizeof(ns->path), "%s/notify", ns->dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", ns->path);
	ns->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ns->fd < 0 || setsockopt(ns->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    bind(ns->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		rc = -errno;
		notify_socket_close(ns);
	}
	return rc;
}

void
notify_socket_close(struct notify_socket *ns)
{
	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = -1;
	unlink(ns->path);
	rmdir(ns->dir);
}

int
notify_socket_recv(struct notify_socket *ns, int timeout_ms, char *buf, size_t len, pid_t *pid_r,
                   int64_t *at_ms_r)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr msg = { .msg_iov = &iov,
		              .msg_iovlen = 1,
		              .msg_control = control.buf,
		              .msg_controllen = sizeof(control.buf) };
	struct pollfd pfd = { .fd = ns->fd, .events = POLLIN };
	ssize_t n;
	int rc;

	rc = poll(&pfd, 1, timeout_ms);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return 0;
	n = recvmsg(ns->fd, &msg, MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (at_ms_r != NULL)
		*at_ms_r = notify_now_ms();
	if (pid_r != NULL) {
		*pid_r = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cred;

				memcpy(&cred, CMSG_DATA(c), sizeof(cred));
				*pid_r = cred.pid;
			}
	}
	return (int)n;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

void
notify_socket_pings(struct notify_socket *ns, int window_ms, pid_t pid, struct ping_stats *st)
{
	int64_t end = notify_now_ms() + window_ms, last = -1, at;
	int64_t gaps[NOTIFY_MAX_PINGS];
	char msg[512];
	pid_t from;
	int n = 0;

	memset(st, 0, sizeof(*st));
	for (int guard = 0; guard < 10000; guard++) {
		int64_t left = end - notify_now_ms();

		if (left <= 0)
			break;
		if (notify_socket_recv(ns, (int)left, msg, sizeof(msg), &from, &at) <= 0 ||
		    strcmp(msg, "WATCHDOG=1") != 0)
			continue;
		if (pid != 0 && from != pid)
			st->foreign++;
		if (last >= 0 && n < NOTIFY_MAX_PINGS)
			gaps[n++] = at - last;
		last = at;
		st->count++;
	}
	if (n == 0)
		return;
	qsort(gaps, (size_t)n, sizeof(gaps[0]), cmp_i64);
	st->median_gap_ms = gaps[n / 2];
	st->max_gap_ms = gaps[n - 1];
}
