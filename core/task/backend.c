/* SPDX-License-Identifier: MIT */
/*
 * The backend interface's shared part: the optional operations answered
 * uniformly when a backend lacks them, and DLQ replay, which every backend
 * does the same way on top of dlq_get, publish and dlq_delete.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task/backend.h"
#include "util/xalloc.h"

int
backend_ensure_topology(struct backend *b, bool dry_run, void (*print)(void *arg, const char *line),
                        void *arg)
{
	if (b->ops->ensure_topology == NULL)
		return 0; /* nothing to set up */
	return b->ops->ensure_topology(b, dry_run, print, arg);
}

int
backend_drain(struct backend *b, int64_t timeout_ms)
{
	return b->ops->drain != NULL ? b->ops->drain(b, timeout_ms) : -ENOTSUP;
}

bool
backend_has_dlq(const struct backend *b)
{
	return b->ops->dlq_list != NULL && b->ops->dlq_get != NULL && b->ops->dlq_delete != NULL;
}

int
backend_dlq_list(struct backend *b, const struct dlq_filter *f, bool with_payload,
                 struct dlq_list *list_r)
{
	return b->ops->dlq_list != NULL ? b->ops->dlq_list(b, f, with_payload, list_r) : -ENOTSUP;
}

int
backend_dlq_get(struct backend *b, uint64_t seq, struct dlq_entry **entry_r)
{
	if (b->ops->dlq_get == NULL)
		return -ENOTSUP;
	if (seq == 0 || seq > DLQ_SEQ_MAX)
		return -ENOENT;
	return b->ops->dlq_get(b, seq, entry_r);
}

int
backend_dlq_delete(struct backend *b, uint64_t seq)
{
	if (b->ops->dlq_delete == NULL)
		return -ENOTSUP;
	if (seq == 0 || seq > DLQ_SEQ_MAX)
		return -ENOENT;
	return b->ops->dlq_delete(b, seq);
}

int
backend_dlq_last_seq(struct backend *b, uint64_t *last_r)
{
	/* A scan that starts past every letter reads none of them. */
	struct dlq_filter f = { .from_seq = UINT64_MAX, .unlimited = true };
	struct dlq_list list = { 0 };
	int rc = backend_dlq_list(b, &f, false, &list);

	if (rc == 0)
		*last_r = list.last_seq;
	dlq_list_free(&list);
	return rc;
}

int
backend_dlq_purge(struct backend *b, const char *subject, uint64_t before_seq)
{
	return b->ops->dlq_purge != NULL ? b->ops->dlq_purge(b, subject, before_seq) : -ENOTSUP;
}

void
backend_destroy(struct backend *b)
{
	if (b != NULL)
		b->ops->destroy(b);
}

static void set_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

int
backend_dlq_replay_publish(struct backend *b, const struct dlq_entry *e, char *err, size_t err_len,
                           struct dlq_replay_result *res_r)
{
	struct dlq_replay_result res = { .dlq_seq = e->seq };
	struct msg_header *headers = NULL;
	struct publish_ack ack = { 0 };
	size_t n = 0;
	char id[256], from[24], why[300];
	int rc;

	if (e->orig_subject == NULL) {
		set_err(err, err_len, "dead letter %" PRIu64 " has no original subject", e->seq);
		rc = -EINVAL;
		goto out;
	}
	/* The letter names its target, and anyone who can write to the DLQ
	 * can write a letter: replay only where intake would publish. */
	rc = cfg_task_subject_check(b->cfg, e->orig_subject, NULL, why, sizeof(why));
	if (rc < 0) {
		set_err(err, err_len,
		        "dead letter %" PRIu64 " is not replayed: %s; replay publishes only to "
		        "subjects a configured route consumes",
		        e->seq, why);
		goto out;
	}
	if (e->payload == NULL) {
		set_err(err, err_len, "dead letter %" PRIu64 " has no payload loaded", e->seq);
		rc = -EINVAL;
		goto out;
	}
	rc = dlq_replay_msg_id(&b->cfg->dlq, e, id, sizeof(id));
	if (rc < 0) {
		set_err(err, err_len, "message id too long");
		goto out;
	}
	snprintf(from, sizeof(from), "%" PRIu64, e->seq);
	headers = xcalloc(e->header_count + 1, sizeof(*headers));
	for (size_t i = 0; i < e->header_count; i++)
		if (!dlq_header_dropped(e->headers[i].key))
			headers[n++] =
			    (struct msg_header){ e->headers[i].key, e->headers[i].value };
	headers[n++] = (struct msg_header){ DLQ_REPLAYED_FROM_HEADER, from };
	rc = b->ops->publish(b,
	                     &(struct publish_msg){ .subject = e->orig_subject,
	                                            .data = e->payload,
	                                            .len = e->payload_len,
	                                            .headers = headers,
	                                            .header_count = n,
	                                            .msg_id = id },
	                     &ack);
	if (rc == -ENOENT) {
		set_err(err, err_len, "no stream takes subject %s", e->orig_subject);
		rc = -ENXIO;
		goto out;
	}
	if (rc < 0) {
		set_err(err, err_len, "publish to %s: %s", e->orig_subject, strerror(-rc));
		goto out;
	}
	res.new_seq = ack.seq;
	res.duplicate = ack.duplicate;
	snprintf(res.new_stream, sizeof(res.new_stream), "%s", ack.stream);
	*res_r = res;
out:
	free(headers);
	return rc;
}

int
backend_dlq_refusal(struct backend *b, uint64_t seq, const char *verb, char *err, size_t err_len)
{
	uint64_t letter = 0;
	int rc = b->ops->dlq_part_of != NULL ? b->ops->dlq_part_of(b, seq, &letter) : -ENOMSG;

	if (rc == 0 && letter != 0) {
		set_err(err, err_len,
		        "%" PRIu64 " is a part of dead letter %" PRIu64 ", which is stored in "
		        "parts; %s %" PRIu64,
		        seq, letter, verb, letter);
		return -EXDEV;
	}
	if (rc == 0) {
		set_err(err, err_len,
		        "%" PRIu64 " is a part of a dead letter that no letter names (its write "
		        "was cut short); nothing to %s",
		        seq, verb);
		return -ENOMSG;
	}
	if (rc == -ENOMSG) {
		set_err(err, err_len,
		        "%" PRIu64 " is not a letter of this deployment (the DLQ stream is shared, "
		        "and another deployment's letter is there); nothing to %s",
		        seq, verb);
		return -ENOMSG;
	}
	if (rc == -ENOENT) {
		/* Deleted between the two reads. */
		set_err(err, err_len, "%" PRIu64 " is not in the DLQ any more", seq);
		return -ENOENT;
	}
	set_err(err, err_len, "reading DLQ sequence %" PRIu64 " failed: %s", seq, strerror(-rc));
	return rc;
}

int
backend_dlq_replay(struct backend *b, uint64_t seq, char *err, size_t err_len,
                   struct dlq_replay_result *res_r)
{
	struct dlq_replay_result res = { .dlq_seq = seq };
	struct dlq_entry *e = NULL;
	uint64_t last = 0;
	int rc;

	rc = backend_dlq_get(b, seq, &e);
	if (rc == -ENOMSG) {
		/* Stored, but not ours to replay: say so, never "gone". */
		rc = backend_dlq_refusal(b, seq, "replay", err, err_len);
		goto out;
	}
	if (rc == -ENOENT && seq <= DLQ_SEQ_MAX && backend_dlq_last_seq(b, &last) == 0 &&
	    seq <= last) {
		/* It was stored once and is gone: a replay run again after it
		 * finished (or a letter deleted meanwhile). Nothing to do. */
		res.gone = true;
		*res_r = res;
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		if (rc == -ENOTSUP)
			set_err(err, err_len, "the %s backend keeps no dead letters", b->ops->name);
		else if (rc == -ENOENT)
			set_err(err, err_len,
			        "no dead letter %" PRIu64 " (the DLQ has never held that sequence)",
			        seq);
		else if (rc == -ENODATA)
			set_err(err, err_len,
			        "dead letter %" PRIu64 " is stored in parts and some are missing",
			        seq);
		else
			set_err(err, err_len, "reading dead letter %" PRIu64 " failed: %s", seq,
			        strerror(-rc));
		goto out;
	}
	rc = backend_dlq_replay_publish(b, e, err, err_len, &res);
	if (rc < 0)
		goto out;
	rc = backend_dlq_delete(b, seq);
	/* Gone already: a concurrent replay of the same letter deleted it,
	 * after its publish, which ours was deduplicated against. */
	if (rc == -ENOENT)
		rc = 0;
	if (rc < 0) {
		set_err(err, err_len,
		        "published as %s seq %" PRIu64 " but deleting dead "
		        "letter %" PRIu64 " failed (%s); replay it again to delete it",
		        res.new_stream, res.new_seq, seq, strerror(-rc));
		goto out;
	}
	*res_r = res;
out:
	dlq_entry_free(e);
	return rc;
}
