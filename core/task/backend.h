/* SPDX-License-Identifier: MIT */
/*
 * The backend interface: what the engine, the HTTP endpoint and the CLI
 * need from a message transport, and nothing of how it works. Two
 * implementations: JetStream (core/nats/jetstream.c) and the in-process
 * memory queue (core/memory/memory.c); unit tests use a recording fake.
 * A backend is opened by run/backends.c; nothing else names a concrete one,
 * so adding a backend touches neither HTTP nor the CLI.
 *
 * Every operation returns 0 or a negative errno. Optional operations are
 * NULL in a backend that cannot do them; call them through the backend_*
 * wrappers below, which answer -ENOTSUP for a missing one.
 *
 * Threads: the per-task operations may be called from any thread, for
 * different tasks concurrently (one task is used by one thread at a
 * time). publish, ready, healthy, snapshot and the dlq_* operations are
 * thread-safe. start, wait and destroy belong to one controlling thread;
 * request_stop is async-signal-safe.
 */
#ifndef TASKJET_BACKEND_H
#define TASKJET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "task/dlq.h"
#include "task/stats.h"
#include "task/task.h"

struct route;
struct router;

/* A message to publish and have stored. Everything borrowed. */
struct publish_msg {
	const char *subject;
	const void *data;
	size_t len;
	const struct msg_header *headers; /* header_count pairs, may be NULL */
	size_t header_count;
	/* Deduplication id (Nats-Msg-Id). With one, a publish whose answer
	 * was lost is retried and stored once; NULL: not retried. */
	const char *msg_id;
};

/* What the store said about a publish. */
struct publish_ack {
	char stream[64]; /* the stream that stored it */
	uint64_t seq; /* its sequence there (the first copy's if a duplicate) */
	bool duplicate; /* the id was stored already; nothing new was stored */
};

/*
 * Who handles what a started backend takes in. deliver runs one task to its
 * disposition (the engine's worker pool calls it for each task next()
 * returns); dead_letter is for a task the backend gave up on without a
 * handler verdict (the server's MAX_DELIVERIES advisory; a published task
 * no route serves), called from a backend thread: its per-task settle
 * operations are no-ops, and it returns 0 only once the letter is stored
 * (the backend retries later otherwise). ctx is passed back as is.
 */
struct metrics;
/* Most tasks one deliver_batch call takes. */
#define SINK_BATCH_MAX 16
struct backend_sink {
	int (*deliver)(void *ctx, struct tj_task *task);
	/* Optional: deliver up to SINK_BATCH_MAX tasks of one
	 * process-isolated route, taken by one worker thread, at once; NULL:
	 * one by one. */
	int (*deliver_batch)(void *ctx, struct tj_task **tasks, size_t n);
	int (*dead_letter)(void *ctx, struct tj_task *task, enum dlq_reason reason,
	                   const char *error);
	void *ctx;
	/* Where a backend that pulls in batches records their sizes
	 * (metrics_observe_fetch); NULL: nowhere. */
	struct metrics *metrics;
};

/* What a snapshot should include. */
struct snapshot_opts {
	bool by_reason; /* count dead letters per reason (scans the DLQ) */
	uint64_t max_scan; /* at most this many letters for by_reason; 0: all */
	int64_t timeout_ms; /* per server question; 0: a default */
};

struct backend;

struct backend_ops {
	const char *name; /* "jetstream", "memory", "fake" */

	/* ---- per task (any thread) ---- */
	/* Done: remove the task for good. */
	int (*ack)(struct backend *b, struct tj_task *task);
	/* Redeliver the task after delay_ms (0: at once). */
	int (*nak)(struct backend *b, struct tj_task *task, int64_t delay_ms);
	/* Stop redelivering the task; it is gone from the work queue. */
	int (*term)(struct backend *b, struct tj_task *task);
	/* Extend the task's ack deadline. */
	int (*in_progress)(struct backend *b, struct tj_task *task);
	/* Write the dead letter and return 0 only once the store confirmed it.
	 * -ENAMETOOLONG: the store can never take rec->subject (too long to
	 * name in a publish); the caller writes it under its fallback subject
	 * (dlq_letter_fall_back()) instead of retrying. */
	int (*dead_letter)(struct backend *b, struct tj_task *task, const struct dlq_record *rec);
	/* First value of a header of the task's message, NULL if absent. The
	 * string lives as long as the task. */
	const char *(*header)(struct backend *b, const struct tj_task *task, const char *key);
	/* Every header value of the task's message, in order (*count_r 0
	 * when it has none). The array lives as long as the task. 0 or
	 * -errno. */
	int (*headers)(struct backend *b, const struct tj_task *task,
	               const struct msg_header **headers_r, size_t *count_r);

	/* ---- publishing (any thread) ---- */
	/* Publish and wait for the store's confirmation; fills *ack_r (may be
	 * NULL). -ENOENT: no stream takes the subject; -EINVAL: not a valid
	 * subject; -ENOBUFS: full; -EMSGSIZE: too large; -ENOTCONN: not
	 * connected right now; -ETIMEDOUT: no answer. */
	int (*publish)(struct backend *b, const struct publish_msg *msg, struct publish_ack *ack_r);

	/* ---- lifecycle (controlling thread) ---- */
	/* Optional. Create or check what the config needs on the server
	 * (dry_run: only look), reporting each line through print (may be
	 * NULL). 0 when nothing is (or would be) left to do; -EAGAIN for a
	 * dry run that found work; -EEXIST for a difference that cannot be
	 * fixed in place; -EIO when the server refused. */
	int (*ensure_topology)(struct backend *b, bool dry_run,
	                       void (*print)(void *arg, const char *line), void *arg);
	/* Start taking in tasks for every route of `router` (pull requests,
	 * a queue) for next() to hand out; router and sink are borrowed until
	 * wait() returned. Nothing is left running on failure. Once. */
	int (*start)(struct backend *b, const struct router *router,
	             const struct backend_sink *sink);
	/* The next task of `route`, waiting at most timeout_ms: 0 and *task_r
	 * (the backend's until done()), -EAGAIN when none came in time, or
	 * -ESHUTDOWN once a stop was requested. Any thread; each route has a
	 * bounded queue that concurrent callers share, first come first
	 * served. */
	int (*next)(struct backend *b, struct route *route, int64_t timeout_ms,
	            struct tj_task **task_r);
	/* The caller is finished with a task next() gave it (settled or not:
	 * an unsettled one comes back after ack_wait). Any thread. */
	void (*done)(struct backend *b, struct tj_task *task);
	/* Stop taking in tasks: next() answers -ESHUTDOWN from now on and
	 * tasks taken in but not handed out are given back to the store.
	 * Tasks being handled finish. Async-signal-safe. */
	void (*request_stop)(struct backend *b);
	/* Request a stop and wait up to grace_ms for the backend's own
	 * threads, then send what is buffered (acks). Call once the callers of
	 * next() are finished or abandoned: tasks still held (not done()) are
	 * left alone, and destroy() then leaves what they use for the process
	 * to end. Returns how many of the backend's threads were still busy. */
	int (*wait)(struct backend *b, int64_t grace_ms);
	/* Free. NULL-safe through backend_destroy(). After wait(). */
	void (*destroy)(struct backend *b);
	/* Optional. Wait until nothing is queued, delayed or in flight, at
	 * most timeout_ms: 0 or -ETIMEDOUT. */
	int (*drain)(struct backend *b, int64_t timeout_ms);

	/* ---- status (any thread) ---- */
	/* Cheap liveness for the watchdog: connected to what it needs. */
	bool (*healthy)(struct backend *b);
	/* Ready to take tasks; otherwise `why` says what is missing. May ask
	 * the server (bounded by timeout_ms). */
	bool (*ready)(struct backend *b, int64_t timeout_ms, char *why, size_t why_len);
	/* Optional. Ready or not, holding work back: true with `why` saying
	 * what (routes held at their max_ack_pending), as the last ready()
	 * found it. */
	bool (*degraded)(struct backend *b, char *why, size_t why_len);
	/* Where it runs, for log lines ("nats://127.0.0.1:4222", "memory");
	 * user info is never included. Lives as long as the backend. */
	const char *(*location)(struct backend *b);
	/* The numbers of streams, route consumers, connection, queue and
	 * DLQ, as the store knows them. *snap_r is freed with
	 * stats_snapshot_free(). */
	int (*snapshot)(struct backend *b, const struct cfg *cfg, const struct snapshot_opts *o,
	                struct stats_snapshot **snap_r);

	/* ---- dead letters (optional; any thread) ---- */
	/* The letters matching `f`; see struct dlq_filter. with_payload false
	 * leaves headers and payload out. -ENOENT if there is no DLQ. */
	int (*dlq_list)(struct backend *b, const struct dlq_filter *f, bool with_payload,
	                struct dlq_list *list_r);
	/* One letter with every header and its payload. -ENOENT if none;
	 * -ENOMSG if `seq` holds a message that is no letter of this
	 * deployment (another deployment's letter in a shared DLQ stream,
	 * or a part of a letter stored in parts). */
	int (*dlq_get)(struct backend *b, uint64_t seq, struct dlq_entry **entry_r);
	/* Optional: for a sequence dlq_get() answered -ENOMSG, is it a part
	 * of one of our letters? 0 and *letter_r (the letter's sequence, 0
	 * if none names the part); -ENOMSG if not. */
	int (*dlq_part_of)(struct backend *b, uint64_t seq, uint64_t *letter_r);
	/* Delete one letter. -ENOENT if it is gone already; -ENOMSG as
	 * dlq_get() (nothing deleted). */
	int (*dlq_delete)(struct backend *b, uint64_t seq);
	/* Delete the letters on original subjects matching `subject` (NULL:
	 * all) with a sequence below before_seq (0: no bound). */
	int (*dlq_purge)(struct backend *b, const char *subject, uint64_t before_seq);
};

struct backend {
	const struct backend_ops *ops;
	const struct cfg *cfg; /* borrowed; the config it serves */
};

/* The optional operations, -ENOTSUP (or false/"?") when missing. Same
 * contracts as the members. */
int backend_ensure_topology(struct backend *b, bool dry_run,
                            void (*print)(void *arg, const char *line), void *arg);
int backend_drain(struct backend *b, int64_t timeout_ms);
int backend_dlq_list(struct backend *b, const struct dlq_filter *f, bool with_payload,
                     struct dlq_list *list_r);
int backend_dlq_get(struct backend *b, uint64_t seq, struct dlq_entry **entry_r);
/*
 * Why `seq`, which dlq_get() or dlq_delete() answered -ENOMSG, holds no
 * letter to `verb` ("replay", "show", "delete"), in words into err (may be
 * NULL). -EXDEV: it is a part of letter N, and err names N ("... a part of
 * dead letter N ...; replay N"); -ENOMSG: another deployment's message, or
 * a part no letter names; -errno if asking failed.
 */
int backend_dlq_refusal(struct backend *b, uint64_t seq, const char *verb, char *err,
                        size_t err_len);
/*
 * Replay dead letter `seq`: publish its payload and original headers
 * (without Taskjet-*, Nats-Msg-Id and Nats-Expected-*) plus
 * Taskjet-Replayed-From to its original subject under dlq_replay_msg_id(),
 * wait until stored, then delete the letter. Crash-safe: run again within
 * the target's duplicate window, the publish is deduplicated and the letter
 * deleted; run again after it finished, the letter is missing but its
 * sequence is not past the DLQ's last: 0 with res_r->gone ("already
 * replayed or deleted"). Only a subject a configured route consumes is a
 * target (cfg_task_subject_check(): the rule of HTTP intake): a letter
 * naming any other (the JetStream API, the DLQ) is refused and left in
 * place. -ENOENT: the DLQ never held `seq` (or it is out of range);
 * -ENODATA: its parts are missing; -EINVAL: it has no valid original
 * subject; -EPERM: no configured route consumes it; -ENXIO: no stream
 * takes that subject; -ENOMSG or -EXDEV: `seq` holds no letter of this
 * deployment, or a part of one (backend_dlq_refusal()), nothing replayed;
 * -ENOTSUP: no DLQ here; `err` (may be NULL) says why in words.
 */
int backend_dlq_replay(struct backend *b, uint64_t seq, char *err, size_t err_len,
                       struct dlq_replay_result *res_r);
/* The publish step of a replay alone (tests stop a replay half-way with it,
 * as a crash would). Same errors. */
int backend_dlq_replay_publish(struct backend *b, const struct dlq_entry *e, char *err,
                               size_t err_len, struct dlq_replay_result *res_r);
int backend_dlq_delete(struct backend *b, uint64_t seq);
/* The DLQ's last sequence (every letter ever stored has one at most this
 * high), reading no letter. 0 or the dlq_list errors. */
int backend_dlq_last_seq(struct backend *b, uint64_t *last_r);
int backend_dlq_purge(struct backend *b, const char *subject, uint64_t before_seq);
/* True if the backend keeps dead letters an operator can reach. */
bool backend_has_dlq(const struct backend *b);
/* destroy() if b is not NULL. */
void backend_destroy(struct backend *b);

#endif
