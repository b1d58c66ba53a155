/* SPDX-License-Identifier: MIT */
/*
 * Dead letters, independent of where they are stored: how one is built
 * from a task (the headers an operator reads), how a stored one is read
 * back (struct dlq_entry), filtered, listed and replayed. The backends
 * store and fetch; this module knows what a letter means. Pure functions;
 * thread-safe.
 */
#ifndef TASKJET_DLQ_H
#define TASKJET_DLQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "task/router.h"
#include "task/task.h"

/* A dead letter to write: the task's payload and original headers, plus
 * these headers, on `subject`, deduplicated by `msg_id`. */
#define DLQ_MAX_HEADERS 12
/* The task's own Nats-Msg-Id, which the letter cannot keep under that name
 * (its own id dedupes it), so that a letter can be matched to the logs. */
#define DLQ_ORIGINAL_MSG_ID_HEADER "Taskjet-Original-Msg-Id"
struct dlq_record {
	char *subject; /* the letter's; owned by its struct dlq_letter */
	char *msg_id; /* likewise */
	struct msg_header headers[DLQ_MAX_HEADERS];
	size_t header_count;
};

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
	char replayed_from[24];
};

/*
 * The subject token a letter goes under, "<prefix>._overlong", when the
 * store cannot take "<prefix>.<task subject>" (longer than a publish can
 * name; see backend_ops.dead_letter). Its Taskjet-Original-Subject header
 * still names the task's subject, which listing, filtering and replay use.
 */
#define DLQ_FALLBACK_TOKEN "_overlong"

/*
 * Fill `letter` for `task`: subject "<prefix>.<task subject>", msg id
 * "dlq-<stream>-<seq>" (so a rewrite after a crash is deduplicated), and
 * the headers Taskjet-Original-Subject, -Original-Stream, -Original-Seq,
 * -Original-Msg-Id (`orig_msg_id`, the publisher's Nats-Msg-Id; left out
 * when NULL or empty), -Attempts, -Reason, -Error (`error` if given, else the task's fail
 * reason, else "attempts exhausted after N" for that reason, else the reason
 * name; CR/LF become spaces), -Plugin ("-" when NULL or empty) and
 * -Failed-At (RFC 3339 UTC of now_wall_ms), and for a task a replay
 * published (its id is dlq_replay_msg_id()'s) -Replayed-From with the
 * letter it came from. These are the engine's: the backend writes them
 * instead of any the task carried (dlq_header_dropped()). The record points into the
 * letter and borrows strings from task and plugin: keep them alive, and do
 * not copy the letter, while it is used. Subject and msg id are allocated
 * to their length (any subject the server can deliver fits); release them
 * with dlq_letter_release(), also after a failure, and before building
 * into the same letter again. -EINVAL for an unknown reason or a task
 * without a subject.
 */
int dlq_letter_build(const struct cfg_dlq *dlq, const struct tj_task *task, const char *orig_msg_id,
                     const char *plugin, enum dlq_reason reason, const char *error,
                     int64_t now_wall_ms, struct dlq_letter *letter);
/* Put a built letter under "<prefix>." DLQ_FALLBACK_TOKEN instead; its
 * headers stay. */
void dlq_letter_fall_back(const struct cfg_dlq *dlq, struct dlq_letter *letter);
/* Free what dlq_letter_build() allocated; the letter is then empty. */
void dlq_letter_release(struct dlq_letter *letter);

/* ---- stored letters ---- */

/* Entries a list returns when the filter gives no limit. */
#define DLQ_LIST_DEFAULT_LIMIT 1000
/* Header added to a replayed task: the DLQ sequence it came from. */
#define DLQ_REPLAYED_FROM_HEADER "Taskjet-Replayed-From"

/* Which dead letters an operation applies to. Zero-initialised = all. */
struct dlq_filter {
	const char *subject; /* NATS pattern on the original subject; NULL: any */
	const char *reason; /* exact Taskjet-Reason; NULL: any */
	int64_t since_ms; /* wall ms; keep letters that failed at or after; 0: any */
	uint64_t from_seq; /* first DLQ sequence to look at; 0: the first */
	size_t limit; /* most entries returned; 0: DLQ_LIST_DEFAULT_LIMIT */
	bool unlimited; /* ignore limit (purge, per-reason counts) */
};

/* A header of a stored letter; owned by its entry. */
struct dlq_entry_header {
	char *key;
	char *value;
};

/* One dead letter. Every string is malloc'd and owned by the entry; fields
 * taken from Taskjet-* headers are NULL (numbers 0) when absent. */
struct dlq_entry {
	uint64_t seq; /* sequence in the DLQ */
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
	struct dlq_entry_header *headers; /* every header, sorted by key */
	size_t header_count;
	char *payload; /* payload_len bytes plus a NUL; NULL when left out */
	size_t payload_len;
	/* Messages the store split the letter into, past the one that names
	 * it: 0 for a letter stored whole (see nats/dlq_store.h). Deleting
	 * it deletes them too, so it cannot go with a subject purge. */
	size_t stored_parts;
};

struct dlq_list {
	struct dlq_entry *entries;
	size_t count;
	size_t cap; /* entries allocated (dlq_list_append) */
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
	bool duplicate; /* the store already had it (an earlier,
	                 * interrupted replay); the letter is now gone */
	bool gone; /* nothing to do: the letter was there once (its sequence
	            * is not past the DLQ's last) and is not any more, so it
	            * was replayed or deleted already; new_* unset */
};

/* The highest sequence a DLQ can hold: JetStream keeps sequences as
 * int64 (a larger one is answered with an error, not "not found"). */
#define DLQ_SEQ_MAX ((uint64_t)INT64_MAX)

/*
 * A new entry from a stored letter's parts (all copied): its DLQ sequence,
 * store time, subject, `n` headers and payload (NULL: left out). Taskjet-*
 * headers (in any case; the first value) fill the named fields; headers are
 * sorted by key, keeping the stored order of a key's values. Free with
 * dlq_entry_free().
 */
struct dlq_entry *dlq_entry_new(const struct cfg_dlq *dlq, uint64_t seq, int64_t stored_ns,
                                const char *dlq_subject, const struct msg_header *headers, size_t n,
                                const void *payload, size_t payload_len);
void dlq_entry_free(struct dlq_entry *entry);
/* Drop the headers and payload (a listing without payloads). */
void dlq_entry_strip(struct dlq_entry *entry);

/* Append `e` (moved: *e is freed, its contents taken) to `list`. */
void dlq_list_append(struct dlq_list *list, struct dlq_entry *e);
void dlq_list_free(struct dlq_list *list);

/* Does `e` pass `f` (limit and from_seq aside)? NULL f passes all. */
bool dlq_filter_match(const struct dlq_filter *f, const struct dlq_entry *e);
/* True if `e` is not stored on "<prefix>.<original subject>" (a letter
 * under the fallback subject), so a purge by subject cannot reach it. */
bool dlq_entry_off_subject(const struct dlq_entry *e);
/* The filter's limit: f->limit, DLQ_LIST_DEFAULT_LIMIT, or SIZE_MAX. */
size_t dlq_filter_limit(const struct dlq_filter *f);

/* The replay's message id for `e`: "replay-<dlq stream>-<seq>-<stored ns>".
 * The store time tells apart letters of a DLQ stream deleted and created
 * again, whose sequences start over. -ENAMETOOLONG if it does not fit. */
int dlq_replay_msg_id(const struct cfg_dlq *dlq, const struct dlq_entry *e, char *buf, size_t len);
/* The letter a replay published `msg_id` from (the reverse of
 * dlq_replay_msg_id() for this DLQ): true and *seq_r, else false. */
bool dlq_replay_source(const struct cfg_dlq *dlq, const char *msg_id, uint64_t *seq_r);
/* Is `key` one of taskjet's own header names: "Taskjet-" in any case?
 * A task must not set them (`taskjet publish` refuses them on task
 * subjects; intake takes no headers): they belong to dead letters, where
 * the engine writes each once. */
bool dlq_header_reserved(const char *key);
/* The headers of a task that a dead letter, or a replay of one, does not
 * carry over: the reserved ones (the engine's values win, one of each; a
 * forged Taskjet-Replayed-From is not kept), and those that would
 * deduplicate or reject the write like the original (Nats-Msg-Id,
 * Nats-Expected-*), in any case. */
bool dlq_header_dropped(const char *key);

/*
 * Parse a --since value: an RFC 3339 time ("2026-01-02T03:04:05Z",
 * optional fraction, "+hh:mm" offsets too) naming a real calendar day, or a
 * duration ago from now_wall_ms: the config's units led by weeks and days,
 * largest first ("90m", "1h30m", "7d", "2w", "1d12h"). Epoch ms into
 * *ms_r (at least 1); -EINVAL if it is neither (2026-02-31 included).
 */
int dlq_parse_since(const char *text, int64_t now_wall_ms, int64_t *ms_r);

#endif
