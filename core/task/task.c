/* SPDX-License-Identifier: MIT */
/* A task's id rule, and the handler-set part of its state. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task/task.h"

void
task_set_id(struct tj_task *task, const char *msg_id)
{
	char digits[21];
	size_t n = 0, slen;
	uint64_t v = task->stream_seq;

	if (msg_id != NULL && *msg_id != '\0') {
		snprintf(task->id, sizeof(task->id), "%s", msg_id);
		return;
	}
	/* "<stream>:<seq>" without snprintf, which showed in profiles. */
	slen = task->stream != NULL ? strlen(task->stream) : 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	if (slen + 1 + n >= sizeof(task->id)) {
		snprintf(task->id, sizeof(task->id), "%s:%" PRIu64,
		         task->stream != NULL ? task->stream : "", task->stream_seq);
		return;
	}
	if (slen > 0)
		memcpy(task->id, task->stream, slen);
	task->id[slen++] = ':';
	while (n > 0)
		task->id[slen++] = digits[--n];
	task->id[slen] = '\0';
}

void
task_reset_verdict_state(struct tj_task *task)
{
	task->retry_after_ms = -1;
	free(task->fail_reason);
	task->fail_reason = NULL;
	task->publish_count = 0;
}

void
task_release(struct tj_task *task)
{
	if (task == NULL)
		return;
	free(task->fail_reason);
	task->fail_reason = NULL;
}
