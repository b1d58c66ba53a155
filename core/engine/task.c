/* SPDX-License-Identifier: MIT */
/* The handler-set part of a task's state: reset before a call, freed after. */
#include <stdlib.h>

#include "engine/task.h"

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
