/* SPDX-License-Identifier: MIT */
/* One HTTP request on a fresh loopback connection, bounded in time. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for `events` on fd until `deadline`: 0, -ETIMEDOUT or -errno. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = deadline - mono_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&p, 1, (int)left);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

int
http_request(int port, const char *request, int timeout_ms, char **response_r)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int64_t deadline = mono_ms() + timeout_ms;
	size_t len = strlen(request), sent = 0, used = 0, cap = 4096;
	char *buf = NULL;
	int fd, rc, status = 0;

	if (response_r != NULL)
		*response_r = NULL;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto out;
	}
	while (sent < len) {
		ssize_t n;

		rc = wait_fd(fd, POLLOUT, deadline);
		if (rc < 0)
			goto out;
		n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			rc = -errno;
			goto out;
		}
		if (n > 0)
			sent += (size_t)n;
	}
	buf = malloc(cap);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		rc = wait_fd(fd, POLLIN, deadline);
		if (rc < 0)
			goto out;
		if (used + 1 == cap) {
			char *nb = realloc(buf, cap * 2);

			if (nb == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + used, cap - used - 1, 0);
		if (n == 0)
			break;
		if (n < 0 && errno != EAGAIN) {
			/* A reset after a complete answer still counts. */
			if (used > 0)
				break;
			rc = -errno;
			goto out;
		}
		if (n > 0)
			used += (size_t)n;
	}
	buf[used] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		rc = -EPROTO;
		goto out;
	}
	rc = status;
	if (response_r != NULL) {
		*response_r = buf;
		buf = NULL;
	}
out:
	free(buf);
	close(fd);
	return rc;
}

int
http_get(int port, const char *path, int timeout_ms, char **body_r)
{
	char req[1024], *resp = NULL, *body;
	int rc;

	if (body_r != NULL)
		*body_r = NULL;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
	rc = http_request(port, req, timeout_ms, &resp);
	if (rc < 0)
		return rc;
	body = strstr(resp, "\r\n\r\n");
	if (body_r != NULL)
		*body_r = strdup(body != NULL ? body + 4 : "");
	free(resp);
	return rc;
}
