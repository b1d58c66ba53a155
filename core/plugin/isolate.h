/* SPDX-License-Identifier: MIT */
/*
 * Run one handler call in a forked child, so a plugin that crashes takes
 * only the child down. Used by `taskjet exec --isolate`, the plugin
 * author's bench; the daemon runs handlers in-process (a crash there is
 * caught by redelivery and, finally, the max-deliveries advisory).
 */
#ifndef TASKJET_ISOLATE_H
#define TASKJET_ISOLATE_H

#include <stddef.h>

#include "task/task.h"

struct plugin_handler;

/*
 * Call `handler` for `task` in a child process and bring back its verdict,
 * retry hint and fail reason into `task`. Returns the verdict (>= 0), or -1
 * if the child died without one; then `crash` (size len) says how, e.g.
 * "handler crashed: killed by signal 11 (Segmentation fault)". Follow-up
 * messages the handler published in the child are not carried over.
 * Not thread-safe with other forks of the process.
 */
int isolate_call(const struct plugin_handler *handler, struct tj_task *task, char *crash,
                 size_t len);

#endif
