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
};

/* A running (or finished) taskjet child. */
struct e2e_proc {
	pid_t pid; /* 0 once reaped */
	char log[340]; /* its stdout+stderr */
	int status; /* wait status once reaped */
};

/* One fx_behave record_file line: "<id> <subject> <attempt>". */
struct e2e_rec {
	char id[128];
	char subject[128];
	unsigned attempt;
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
/* Close the connection, stop the server, remove the directory. */
void e2e_teardown(struct e2e *e);

/*
 * Write e->config: nats.url of the test server, plugin_dir, state_dir,
 * log level debug, stream TASKS on tasks.>, the DLQ, `top_extra` (more
 * top-level members, e.g. "\"shutdown_grace\": \"10s\"," or "") and the
 * `routes` array text. 0 or -errno.
 */
int e2e_write_config(struct e2e *e, const char *top_extra, const char *routes);

/*
 * Start `taskjet run -c e->config` and wait (at most timeout_ms) for its
 * "ready:" log line. 0; -ECHILD if it exited first (p->status set);
 * -ETIMEDOUT; -errno.
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
void e2e_sleep_ms(int ms);

#endif
