/* SPDX-License-Identifier: MIT */
/*
 * Operator access to the dead-letter stream: list, read, replay and delete
 * dead letters with filters. The CLI (taskjet dlq) and the HTTP API share
 * these functions, so they print nothing; errors come back as -errno and,
 * where it helps, a message in the caller's buffer.
 *
 * The header is free of libnats types: a connection is the opaque
 * struct natsconn (core/natsconn.h). Every function may be called from any
 * thread (libnats connections are thread-safe); results are owned by the
 * caller and are not shared.
 *
 * Replay is crash-safe: the letter is republished with a message id derived
 * from the letter itself (DLQ stream, sequence and store time), and only
 * deleted from the DLQ after the publish ack. A replay interrupted between
 * the two steps and run again within the target stream's duplicate window
 * is deduplicated by the server, and then the letter is deleted, so nothing
 * is lost or replayed twice.
 */
#ifndef TASKJET_DLQ_ADMIN_H
#define TASKJET_DLQ_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct natsconn;

/* Entries a list returns when the filter gives no limit. */
#define DLQ_ADMIN_DEFAULT_LIMIT 1000
/* Header added to a replayed task: the DLQ sequence it came from. */
#define DLQ_REPLAYED_FROM_HEADER "Taskjet-Replayed-From"

/* Which dead letters an operation applies to. Zero-initialised = all. */
struct dlq_filter {
	const char *subject; /* NATS pattern on the original subject; NULL: any */
	const char *reason; /* exact Taskjet-Reason; NULL: any */
	int64_t since_ms; /* wall ms; keep letters that failed at or after; 0: any */
	uint64_t from_seq; /* first DLQ sequence to look at; 0: the first */
	size_t limit; /* most entries returned; 0: DLQ_ADMIN_DEFAULT_LIMIT */
	bool unlimited; /* ignore limit (purge, per-reason counts) */
};

struct dlq_admin_header {
	char *key;
	char *value;
};

/* One dead letter. Every string is malloc'd and owned by the entry; fields
 * taken from Taskjet-* headers are NULL (numbers 0) when absent. */
struct dlq_entry {
	uint64_t seq; /* sequence in the DLQ stream */
	int64_t stored_ns; /* when the DLQ stored it (epoch ns) */
	char *dlq_subject; /* "<prefix>.<original subject>" */
	char *orig_subject; /* Taskjet-Original-Subject, else from dlq_subject */
	char *orig_stream; /* Taskjet-Original-Stream */
	uint64_t orig_seq; /* Taskjet-Original-Seq */
	uint32_t attempts; /* Taskjet-Attempts */
	char *reason; /* Taskjet-Reason */
	char *error; /* Taskjet-Error (the last attempt's error) */
	char *plugin; /* Taskjet-Plugin */
	char *failed_at; /* Taskjet-Failed-At, RFC 3339 */
	int64_t failed_at_ms; /* parsed, else stored time; epoch ms */
	struct dlq_admin_header *headers; /* every header, as stored */
	size_t header_count;
	char *payload; /* payload_len bytes plus a NUL */
	size_t payload_len;
};

struct dlq_list {
	struct dlq_entry *entries;
	size_t count;
	uint64_t scanned; /* stored letters looked at */
	uint64_t last_seq; /* the DLQ's last sequence when the scan began */
	uint64_t next_seq; /* where to resume when truncated, else 0 */
	bool truncated; /* stopped at the limit with more left to scan */
};

/* What a replay did. */
struct dlq_replay_result {
	uint64_t dlq_seq;
	uint64_t new_seq; /* sequence of the task in its stream */
	char new_stream[64]; /* the stream that stored it */
	bool duplicate; /* the server already had it (an earlier,
	                 * interrupted replay); the letter is now gone */
};

/*
 * Scan the DLQ stream `dlq->stream` from filter->from_seq (or its first
 * sequence) up to its last sequence at the start of the scan, keeping
 * letters that match `f` (NULL: all) until the limit. Letters deleted
 * meanwhile are skipped. With `with_payload` false the entries carry no
 * headers or payload (cheaper to keep). On success *list_r is filled and
 * released with dlq_list_free(). -ENOENT if the DLQ stream does not exist,
 * -EIO (or another -errno) if the server failed.
 */
int dlq_admin_list(struct natsconn *nc, const struct cfg_dlq *dlq, const struct dlq_filter *f,
                   bool with_payload, struct dlq_list *list_r);
void dlq_list_free(struct dlq_list *list);

/* Read the letter at `seq` with every header and the payload. -ENOENT if
 * there is none. *entry_r is freed with dlq_entry_free(). */
int dlq_admin_get(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq,
                  struct dlq_entry **entry_r);
void dlq_entry_free(struct dlq_entry *entry);

/* Does `e` pass `f` (limit and from_seq aside)? NULL f passes all. */
bool dlq_filter_match(const struct dlq_filter *f, const struct dlq_entry *e);

/* The replay's message id for `e`: "replay-<dlq stream>-<seq>-<stored ns>".
 * The store time tells apart letters of a DLQ stream deleted and created
 * again, whose sequences start over. -ENAMETOOLONG if it does not fit. */
int dlq_replay_msg_id(const struct cfg_dlq *dlq, const struct dlq_entry *e, char *buf, size_t len);

/*
 * Replay the letter at `seq`: read it, publish payload and original
 * headers (without Taskjet-*, Nats-Msg-Id and Nats-Expected-*) plus
 * Taskjet-Replayed-From to the original subject with dlq_replay_msg_id(),
 * wait for the ack, then delete the letter. The same as
 * dlq_admin_replay_publish() followed by dlq_admin_delete(). -ENOENT if
 * there is no such letter (e.g. already replayed), -EINVAL if it lacks an
 * original subject, -ENXIO if no stream takes the subject, -ETIMEDOUT if
 * no ack came; `err` (may be NULL) then says why in words.
 */
int dlq_admin_replay(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq, char *err,
                     size_t err_len, struct dlq_replay_result *res_r);

/* The first step of a replay alone: publish `e` and wait for the ack (a
 * timed-out publish is retried with the same id). Tests call it to stop a
 * replay half-way, as a crash would. */
int dlq_admin_replay_publish(struct natsconn *nc, const struct cfg_dlq *dlq,
                             const struct dlq_entry *e, char *err, size_t err_len,
                             struct dlq_replay_result *res_r);

/* Delete the letter at `seq`. -ENOENT if it is already gone. */
int dlq_admin_delete(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq);

/*
 * Remove every letter on original subjects matching `subject` (NULL: all)
 * with a sequence below `before_seq` (0: no bound) in one server call.
 * Letters stored after a scan are thus kept. 0 or -errno.
 */
int dlq_admin_purge_subject(struct natsconn *nc, const struct cfg_dlq *dlq, const char *subject,
                            uint64_t before_seq);

/*
 * Parse a --since value: RFC 3339 UTC ("2026-01-02T03:04:05Z", optional
 * fraction, "+hh:mm" offsets too) or a duration ago ("90m", "1h30m") from
 * now_wall_ms. Epoch ms into *ms_r; -EINVAL if it is neither.
 */
int dlq_parse_since(const char *text, int64_t now_wall_ms, int64_t *ms_r);

#endif
