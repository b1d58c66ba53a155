/* SPDX-License-Identifier: MIT */
/* Building dead letters (pure; the backend writes them). Thread-safe. */
#ifndef TASKJET_DLQ_H
#define TASKJET_DLQ_H

#include <stdint.h>

#include "backend.h"
#include "config.h"
#include "router.h"

/* Storage for the formatted header values a record points at. */
struct dlq_letter {
	struct dlq_record rec;
	char seq[24];
	char attempts[16];
	char failed_at[40];
};

/*
 * Fill `letter` for `task`: subject "<prefix>.<task subject>", msg id
 * "dlq-<stream>-<seq>" (so a rewrite after a crash is deduplicated), and
 * the headers Taskjet-Original-Subject, -Original-Stream, -Original-Seq,
 * -Attempts, -Reason, -Error (the task's fail reason, or `error` if given),
 * -Plugin and -Failed-At (RFC 3339 UTC of now_wall_ms). The record borrows
 * strings from task, plugin and error: keep them alive while it is used.
 * -ENAMETOOLONG if the subject does not fit.
 */
int dlq_letter_build(const struct cfg_dlq *dlq, const struct tj_task *task,
                     const char *plugin, enum dlq_reason reason,
                     const char *error, int64_t now_wall_ms,
                     struct dlq_letter *letter);

#endif
