/* SPDX-License-Identifier: MIT */
/* Building dead letters (pure; the backend writes them). Thread-safe. */
#ifndef TASKJET_DLQ_H
#define TASKJET_DLQ_H

#include <stdint.h>

#include "engine/backend.h"
#include "config/config.h"
#include "engine/router.h"

/* Longest Taskjet-Error value kept; longer text is cut at a UTF-8
 * character boundary. */
#define DLQ_ERROR_MAX 1024

/* Storage for the formatted header values a record points at. */
struct dlq_letter {
	struct dlq_record rec;
	char seq[24];
	char attempts[16];
	char failed_at[40];
	/* The error text made single-line (NATS headers cannot carry CR/LF). */
	char error[DLQ_ERROR_MAX];
};

/*
 * Fill `letter` for `task`: subject "<prefix>.<task subject>", msg id
 * "dlq-<stream>-<seq>" (so a rewrite after a crash is deduplicated), and
 * the headers Taskjet-Original-Subject, -Original-Stream, -Original-Seq,
 * -Attempts, -Reason, -Error (`error` if given, else the task's fail
 * reason, else "attempts exhausted after N" for that reason, else the reason
 * name; CR/LF become spaces), -Plugin ("-" when NULL or empty) and
 * -Failed-At (RFC 3339 UTC of now_wall_ms). The record points into the
 * letter and borrows strings from task and plugin: keep them alive, and do
 * not copy the letter, while it is used. -ENAMETOOLONG if the subject or msg
 * id does not fit, -EINVAL for an unknown reason; the letter is then
 * unspecified.
 */
int dlq_letter_build(const struct cfg_dlq *dlq, const struct tj_task *task, const char *plugin,
                     enum dlq_reason reason, const char *error, int64_t now_wall_ms,
                     struct dlq_letter *letter);

#endif
