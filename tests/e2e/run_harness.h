/* SPDX-License-Identifier: MIT */
/*
 * End-to-end harness for `taskjet run`: a private nats-server, a temp
 * directory with a JSON config, the real taskjet binary as a child
 * process, a libnats admin connection for publishing and accounting, and
 * readers for fx_behave's record_file and taskjet's log. Not thread-safe:
 * use from the test's main thread. Every wait is bounded in time.
 */
#ifndef TASKJET_TEST_RUN_HARNESS_H
#define TASKJET_TEST_RUN_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nats/nats.h>

#include "nats_server.h"

/* One test's world. Owns the server, the directory and the connection. */
struct e2e {
	struct nats_server srv;
	char dir[256]; /* temp dir: config, logs, record file, state */
	char config[320]; /* dir/taskjet.json */
	char record[320]; /* dir/record.txt, for fx_behave's record_file */
	char state[320]; /* dir/state */
	natsConnection *nc;
	jsCtx *js;
	int runs; /* taskjet processes started so far */
	const char *plugin_dir; /* for e2e_write_config; NULL: the fixtures' */
	/* For e2e_write_config: log.file, the engine's log instead of its
	 * stderr (e2e_run_start then waits for "ready" there); NULL: none. */
	const char *log_file;
};

/* A running (or finished) taskjet child. */
struct e2e_proc {
	pid_t pid; /* 0 once reaped */
	char log[340]; /* its stdout+stderr */
	int status; /* wait status once reaped */
};

/* One fx_behave record_file line: "<id> <subject> <attempt>"; an
 * fx_ledger line adds "<start|done|retry> <unix ms>". */
struct e2e_rec {
	char id[128];
	char subject[128];
	unsigned attempt;
	bool start; /* fx_ledger: a call started */
	bool done; /* fx_ledger: a call ended with the verdict done */
	bool retry; /* fx_ledger: a call ended with the verdict retry */
	long long at_ms; /* fx_ledger: when (CLOCK_REALTIME ms); else 0 */
};

struct e2e_records {
	struct e2e_rec *v; /* malloc'd; free with e2e_records_free */
	size_t count;
};

/* Paths of the binary and the fixture plugins, from $top_builddir. */
const char *e2e_taskjet_bin(void);
const char *e2e_plugin_dir(void);

/* Put fixture plugin `fixture` (its .so in the fixtures' directory) into
 * `dir` as <as>.so, the way an installer does: a new file renamed over the
 * old one, mode 0644. 0 or -errno. */
int e2e_install_plugin(const char *fixture, const char *dir, const char *as);

/* Start the server (fresh store), make the temp dir, connect. 0 or -errno. */
int e2e_setup(struct e2e *e);
/* Only the temp dir and its paths (a test that starts its own server,
 * say with authorization, and connects itself). 0 or -errno. */
int e2e_setup_dir(struct e2e *e);
/* Connect the admin connection to e->srv (started by the test). 0 or
 * -ECONNREFUSED. */
int e2e_connect(struct e2e *e);
/* The same to other servers (a cluster's, comma-separated). */
int e2e_connect_urls(struct e2e *e, const char *urls);
/* Close the connection, stop the server, remove the directory. */
void e2e_teardown(struct e2e *e);

/*
 * Write e->config: nats.url of the test server, plugin_dir, state_dir,
 * log level debug (and log.file e->log_file, if set), stream TASKS on
 * tasks.>, the DLQ, `top_extra` (more top-level members, e.g.
 * "\"shutdown_grace\": \"10s\"," or "") and the `routes` array text.
 * 0 or -errno.
 */
int e2e_write_config(struct e2e *e, const char *top_extra, const char *routes);

/* The parts of a config that tests vary; NULL members take the defaults
 * of e2e_write_config. */
struct e2e_conf {
	const char *url; /* nats.url: the test server's by default */
	const char *worker_id; /* "e2e" */
	const char *top_extra; /* more top-level members, each ending in "," */
	const char *stream_extra; /* more members of stream TASKS, each after a "," */
	const char *dlq_extra; /* more members of "dlq", each after a "," */
	const char *routes; /* the routes array text */
};
/* Write the config `c` describes to `path`. 0 or -errno. */
int e2e_write_config_to(struct e2e *e, const char *path, const struct e2e_conf *c);

/*
 * Start `taskjet run -c e->config` and wait (at most timeout_ms) for its
 * "ready:" log line (in p->log, or in e->log_file if set). 0; -ECHILD
 * if it exited first (p->status set); -ETIMEDOUT; -errno.
 */
int e2e_run_start(struct e2e *e, struct e2e_proc *p, int timeout_ms);
/* The same with another config file (a second deployment). */
int e2e_run_start_config(struct e2e *e, const char *config, struct e2e_proc *p, int timeout_ms);
/* Send `sig` (if nonzero) and reap, at most timeout_ms; then SIGKILL and
 * -ETIMEDOUT. 0 once reaped (p->status set). */
int e2e_proc_stop(struct e2e_proc *p, int sig, int timeout_ms);
/* True while our child `pid` runs (not exited, not a zombie). */
bool e2e_alive(pid_t pid);
/* True if it exited 0 by itself (not by a signal). */
bool e2e_proc_exited_ok(const struct e2e_proc *p);
/* Print the log's last lines as TAP diagnostics. */
void e2e_proc_dump(const struct e2e_proc *p);

/* Run `taskjet ARGS...` (NULL-terminated) to completion with output in
 * `out_path`; its exit code, or -errno / -ETIMEDOUT (20 s). */
int e2e_taskjet(const char *out_path, ...);

/* Lines of file `path` that contain `needle` (0 if it does not exist). */
size_t e2e_file_count(const char *path, const char *needle);
/* Malloc'd contents of a file, or NULL. */
char *e2e_file_read(const char *path);

/* Publish with a Nats-Msg-Id and optional headers ("K","V",...,NULL).
 * Sets *seq_r (may be NULL) to the stream sequence. 0 or -errno. */
int e2e_publish(struct e2e *e, const char *subject, const char *payload, const char *id,
                uint64_t *seq_r, ...);
/* One publish attempt, waiting at most max_wait_ms for the store's ack:
 * 0, or the natsStatus (> 0) it failed with. */
int e2e_publish_once(struct e2e *e, const char *subject, const char *payload, const char *id,
                     int max_wait_ms);

/*
 * Publish tasks "<prefix>-<from>" .. "<prefix>-<from + n - 1>" (that id is
 * their Nats-Msg-Id) to `subject` with payload "{}", pipelined; a task
 * whose ack did not come is published again under its id (the server
 * dedupes). 0 once the server acked every one; -EIO otherwise (a TAP
 * diagnostic says which).
 */
int e2e_publish_many(struct e2e *e, const char *subject, const char *prefix, size_t from, size_t n);

/*
 * The fate of every task "<prefix>-<i>", i < published, from an fx_ledger
 * record file, the work stream and the DLQ (every figure a count of
 * tasks). lost = published - handled - dead - pending: a task that is
 * none of those was dropped silently.
 */
struct e2e_tally {
	size_t published;
	size_t handled; /* a "done" line: the handler finished it */
	size_t twice; /* more than one "done" line (each such task once) */
	size_t extra; /* "done" lines beyond each task's first, summed */
	/* Handler entered more than once ("start" lines) though it never
	 * said retry: finished twice, or cut short by a kill and run again. */
	size_t entered_twice;
	size_t dead; /* in the DLQ (Taskjet-Original-Msg-Id) */
	size_t pending; /* never done, still stored in the work stream */
	size_t lost;
	size_t ghosts; /* done yet still stored (after a server SIGKILL) */
};
int e2e_tally(struct e2e *e, const char *record, const char *stream, const char *prefix,
              size_t published, struct e2e_tally *t_r);
/* One TAP diagnostic line: "# <what>: N published = ... lost ...". */
void e2e_tally_print(const char *what, const struct e2e_tally *t);

/* The first value of header `key` of `m`, or NULL. */
const char *e2e_header(natsMsg *m, const char *key);
/* Stream message count; consumer pending (not yet delivered) and ack
 * pending (delivered, not yet acked). 0 or -errno. */
int e2e_stream_msgs(struct e2e *e, const char *stream, uint64_t *msgs_r);
int e2e_consumer_pending(struct e2e *e, const char *stream, const char *consumer,
                         uint64_t *pending_r, uint64_t *ack_pending_r);
/* Last sequence of a stream (0 if empty or missing). */
uint64_t e2e_stream_last_seq(struct e2e *e, const char *stream);

/* Read the record file (missing file: zero lines). 0 or -errno. */
int e2e_records_read(const char *path, struct e2e_records *r_r);
void e2e_records_free(struct e2e_records *r);
/* Lines with this id. */
size_t e2e_records_count_id(const struct e2e_records *r, const char *id);
/* Distinct ids. */
size_t e2e_records_unique(const struct e2e_records *r);

/* Poll cond(arg) every 10 ms until true or timeout_ms passed. */
bool e2e_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms);
/* Work stream empty and the consumer has nothing pending or unacked. */
bool e2e_settled(struct e2e *e, const char *stream, const char *consumer);

/* Record-file line count / distinct ids right now (0 if it cannot be
 * read yet): for wait conditions. */
size_t e2e_records_count_now(const char *path);
size_t e2e_records_unique_now(const char *path);
/* Distinct ids with an fx_ledger "done" line right now. */
size_t e2e_records_done_now(const char *path);

/* Checked steps shared by the e2e tests: each failure is a failed CHECK
 * of the running test (tests/testing.h). */
/* e2e_setup, checked; true if the world is up. */
bool e2e_setup_checked(struct e2e *e);
/* SIGTERM p, wait up to stop_ms, expect exit 0 (dump the log if the test
 * has failed so far); the stop's duration in *took_ms_r if not NULL. */
void e2e_stop_checked(struct e2e_proc *p, int stop_ms, int64_t *took_ms_r);
/* e2e_stream_msgs, checked; UINT64_MAX if it failed. */
uint64_t e2e_stream_msgs_checked(struct e2e *e, const char *stream);

/* The port of the HTTP endpoint from p's log ("http: listening on
 * HOST:PORT"), or 0 if it has not said yet. */
int e2e_http_port(const struct e2e_proc *p);
/*
 * One HTTP/1.0 request to 127.0.0.1:port (token: a bearer token, or NULL;
 * body: a request body, or NULL), at most 10 s. Returns the status code
 * with the response body in `out` (cap bytes, NUL-terminated, cut), or
 * -errno.
 */
int e2e_http(int port, const char *method, const char *path, const char *token, const char *body,
             char *out, size_t cap);
/* The value of one sample line "name{labels} value" of a /metrics text
 * (`series` is everything before the space), or -1 if absent. */
double e2e_metric(const char *text, const char *series);

int64_t e2e_now_ms(void);
/* CLOCK_REALTIME in ms: the clock of fx_ledger's times. */
long long e2e_wall_ms(void);
void e2e_sleep_ms(int ms);

#endif
