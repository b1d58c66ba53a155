/* SPDX-License-Identifier: MIT */
/* Dead-letter reasons, and the subject, id and headers of a dead letter. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/clock.h"
#include "engine/dlq.h"

static const char *const reason_names[DLQ_REASON_COUNT] = {
	[DLQ_REASON_HANDLER_FAILED] = "handler_failed",
	[DLQ_REASON_ATTEMPTS_EXHAUSTED] = "attempts_exhausted",
	[DLQ_REASON_INVALID_PAYLOAD] = "invalid_payload",
	[DLQ_REASON_NO_ROUTE] = "no_route",
	[DLQ_REASON_CRASHED] = "crashed",
	[DLQ_REASON_MAX_DELIVERIES] = "max_deliveries",
};

const char *
dlq_reason_name(enum dlq_reason reason)
{
	/* Compared as unsigned so a negative value cast in is out of range. */
	if ((unsigned)reason >= DLQ_REASON_COUNT)
		return NULL;
	return reason_names[reason];
}

int
dlq_reason_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < DLQ_REASON_COUNT; i++)
		if (strcmp(reason_names[i], name) == 0)
			return i;
	return -1;
}

/* Copy `src` into `dst` as one line. A cut never splits a UTF-8 sequence,
 * so the header stays valid text. */
static void
copy_single_line(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] == '\r' || src[i] == '\n' ? ' ' : src[i];
	dst[n] = '\0';
}

static bool
nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static void
add_header(struct dlq_record *rec, const char *key, const char *value)
{
	rec->headers[rec->header_count].key = key;
	rec->headers[rec->header_count].value = value;
	rec->header_count++;
}

int
dlq_letter_build(const struct cfg_dlq *dlq, const struct tj_task *task, const char *plugin,
                 enum dlq_reason reason, const char *error, int64_t now_wall_ms,
                 struct dlq_letter *letter)
{
	const char *reason_name = dlq_reason_name(reason);
	const char *prefix, *stream;
	struct dlq_record *rec = &letter->rec;
	int n, rc = 0;

	if (reason_name == NULL || task == NULL || task->subject == NULL) {
		rc = -EINVAL;
		goto out;
	}
	prefix = dlq != NULL && nonempty(dlq->subject_prefix) ? dlq->subject_prefix
	                                                      : CFG_DEFAULT_DLQ_SUBJECT_PREFIX;
	stream = nonempty(task->stream) ? task->stream : "-";

	memset(rec, 0, sizeof(*rec));
	n = snprintf(rec->subject, sizeof(rec->subject), "%s.%s", prefix, task->subject);
	if (n < 0 || (size_t)n >= sizeof(rec->subject)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	n = snprintf(rec->msg_id, sizeof(rec->msg_id), "dlq-%s-%" PRIu64, stream, task->stream_seq);
	if (n < 0 || (size_t)n >= sizeof(rec->msg_id)) {
		rc = -ENAMETOOLONG;
		goto out;
	}

	snprintf(letter->seq, sizeof(letter->seq), "%" PRIu64, task->stream_seq);
	snprintf(letter->attempts, sizeof(letter->attempts), "%" PRIu32, task->attempt);
	clock_format_rfc3339(now_wall_ms, false, letter->failed_at, sizeof(letter->failed_at));
	/* Never empty: an operator reading the DLQ always gets a cause. */
	if (nonempty(error))
		copy_single_line(letter->error, sizeof(letter->error), error);
	else if (nonempty(task->fail_reason))
		copy_single_line(letter->error, sizeof(letter->error), task->fail_reason);
	else if (reason == DLQ_REASON_ATTEMPTS_EXHAUSTED)
		snprintf(letter->error, sizeof(letter->error), "attempts exhausted after %" PRIu32,
		         task->attempt);
	else
		copy_single_line(letter->error, sizeof(letter->error), reason_name);

	add_header(rec, "Taskjet-Original-Subject", task->subject);
	add_header(rec, "Taskjet-Original-Stream", stream);
	add_header(rec, "Taskjet-Original-Seq", letter->seq);
	add_header(rec, "Taskjet-Attempts", letter->attempts);
	add_header(rec, "Taskjet-Reason", reason_name);
	add_header(rec, "Taskjet-Error", letter->error);
	add_header(rec, "Taskjet-Plugin", nonempty(plugin) ? plugin : "-");
	add_header(rec, "Taskjet-Failed-At", letter->failed_at);
out:
	return rc;
}
