/* SPDX-License-Identifier: MIT */
/* Handler calls in a child process (taskjet exec --isolate). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin/isolate.h"
#include "plugin/loader.h"
#include "util/xalloc.h"

/* What the child reports back through the pipe, followed by the reason. */
struct verdict_report {
	int32_t verdict;
	int64_t retry_after_ms;
	uint32_t reason_len;
};

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
child_main(int fd, const struct plugin_handler *handler, struct tj_task *task)
{
	struct verdict_report rep = { 0 };

	rep.verdict = plugin_call(handler, task);
	rep.retry_after_ms = task->retry_after_ms;
	rep.reason_len = task->fail_reason != NULL ? (uint32_t)strlen(task->fail_reason) : 0;
	if (write_all(fd, &rep, sizeof(rep)) < 0 ||
	    write_all(fd, task->fail_reason, rep.reason_len) < 0)
		_exit(1);
	_exit(0);
}

int
isolate_call(const struct plugin_handler *handler, struct tj_task *task, char *crash, size_t len)
{
	struct verdict_report rep;
	int fds[2], status = 0, verdict = -1;
	pid_t pid;

	if (pipe(fds) < 0) {
		snprintf(crash, len, "cannot isolate the handler: pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(crash, len, "cannot isolate the handler: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(fds[1], handler, task);
	}
	close(fds[1]);
	if (read_all(fds[0], &rep, sizeof(rep)) == 0 && rep.reason_len < (1u << 20)) {
		char *reason = xmalloc((size_t)rep.reason_len + 1);

		if (read_all(fds[0], reason, rep.reason_len) == 0) {
			reason[rep.reason_len] = '\0';
			verdict = rep.verdict;
			task->retry_after_ms = rep.retry_after_ms;
			free(task->fail_reason);
			task->fail_reason = rep.reason_len > 0 ? reason : NULL;
			if (rep.reason_len == 0)
				free(reason);
		} else {
			free(reason);
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (verdict >= 0)
		return verdict;
	if (WIFSIGNALED(status))
		snprintf(crash, len, "handler crashed: killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(crash, len, "handler process exited with status %d without a verdict",
		         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return -1;
}
