/* SPDX-License-Identifier: MIT */
/*
 * The engine's configuration: one JSON file, validated completely at start.
 * All durations are milliseconds, all sizes bytes. Strings are owned by the
 * struct and freed by cfg_free(). A loaded config is read-only, so any
 * thread may read it.
 */
#ifndef TASKJET_CONFIG_H
#define TASKJET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/defaults.h"

enum cfg_backend { CFG_BACKEND_JETSTREAM = 0, CFG_BACKEND_MEMORY };
enum cfg_storage { CFG_STORAGE_FILE = 0, CFG_STORAGE_MEMORY };
enum cfg_retention { CFG_RETENTION_WORKQUEUE = 0, CFG_RETENTION_LIMITS, CFG_RETENTION_INTEREST };
enum cfg_discard { CFG_DISCARD_OLD = 0, CFG_DISCARD_NEW };
enum cfg_payload { CFG_PAYLOAD_ANY = 0, CFG_PAYLOAD_JSON };
enum cfg_log_format { CFG_LOG_TEXT = 0, CFG_LOG_JSON };
/* Where a route's handlers run: supervised worker processes (a crash or a
 * hang costs one task), or the engine's own threads. */
enum cfg_isolation { CFG_ISOLATION_PROCESS = 0, CFG_ISOLATION_THREAD };

/* TLS to the NATS server. The server's certificate is always verified,
 * its name included. */
struct cfg_nats_tls {
	bool enabled; /* a "tls" object was given (a tls:// URL turns it on too) */
	char *ca_file; /* NULL: the system's trusted CAs */
	char *cert_file; /* client certificate (mutual TLS); with key_file */
	char *key_file; /* its private key: a secret file */
	char *server_name; /* name expected in the certificate; NULL: the URL's host */
};

/* Every path is absolute once loaded. At most one way to authenticate is
 * set: user + password_file, token_file, nkey_seed_file or creds_file. The
 * secrets themselves are read when connecting, never from the config. */
struct cfg_nats {
	char *url; /* NULL: none configured (run starts an embedded server) */
	char *name; /* connection name shown by the server */
	char *user; /* with password_file */
	char *password_file;
	char *token_file;
	char *nkey_seed_file; /* a user NKey seed ("SU...") */
	char *creds_file; /* a credentials file (user JWT + seed) */
	struct cfg_nats_tls tls;
	int64_t connect_timeout_ms;
	int64_t reconnect_wait_ms;
	int64_t reconnect_jitter_ms;
};

struct cfg_stream {
	char *name;
	char **subjects;
	size_t subject_count;
	enum cfg_storage storage;
	enum cfg_retention retention;
	int64_t max_age_ms; /* 0: unlimited */
	int64_t max_msgs; /* -1: unlimited */
	int64_t max_bytes; /* -1: unlimited */
	enum cfg_discard discard;
	int replicas;
	int64_t duplicate_window_ms;
};

struct cfg_dlq {
	char *stream;
	char *subject_prefix; /* the stream takes "<prefix>.>" */
	enum cfg_storage storage;
	int64_t max_age_ms; /* 0: unlimited (lossless by default) */
	int64_t max_msgs; /* -1: unlimited */
	int64_t max_bytes; /* -1: unlimited */
	int replicas;
	/* Stream that durably captures MAX_DELIVERIES advisories of our routes. */
	char *advisory_stream;
};

struct cfg_backoff {
	int64_t initial_ms;
	double multiplier; /* >= 1 */
	int64_t max_ms;
	double jitter; /* 0..1: the delay is randomised by +-jitter */
};

/* A worker process's limits under process isolation; 0 leaves one unset. */
struct cfg_limits {
	int64_t memory_bytes; /* resident memory */
	int64_t cpu_ms; /* CPU time of one call (applied in whole seconds) */
	int open_files; /* RLIMIT_NOFILE */
};

struct cfg_route {
	char *name;
	char *stream; /* name of one of cfg->streams */
	char *subject; /* may hold * and > wildcards */
	char *consumer; /* durable name; default "taskjet-<name>" */
	char *plugin; /* plugin file stem */
	char *handler; /* registered handler name; default = plugin */
	int concurrency;
	int max_attempts;
	int64_t ack_wait_ms;
	int batch; /* messages per pull request */
	/* Messages the route may hold beyond its running handlers: queued
	 * for a worker or requested from the server. Default 2 x batch, so
	 * one request is in flight while the last is worked off. */
	int prefetch;
	/* No `prefetch` key: the look-ahead adapts, from `prefetch` up, to
	 * the route's rate (nats/consumer.c). */
	bool prefetch_auto;
	int64_t fetch_wait_ms; /* how long a pull request waits at the server */
	/* The durable's MaxAckPending: deliveries the server lets stand
	 * unacknowledged (over every engine sharing it, nak delays
	 * included) before it hands out no more. Default
	 * cfg_route_default_max_ack_pending(). */
	int64_t max_ack_pending;
	enum cfg_payload payload;
	int payload_max_depth; /* payload json: deepest nesting accepted */
	enum cfg_isolation isolation;
	int64_t timeout_ms; /* a handler call may run this long */
	struct cfg_limits limits; /* process isolation only */
	struct cfg_backoff backoff;
	char *config_json; /* raw text of the route's "config" object ("{}") */
	size_t config_json_len;
};

struct cfg_memory {
	size_t capacity; /* tasks the in-process queue holds before publish fails */
};

/* The operator HTTP endpoint (core/http.c). */
struct cfg_http {
	char *listen; /* "HOST:PORT"; NULL: disabled ("off" or "" in the file) */
	bool listen_set; /* listen came from the file, not the default */
	char *token_file; /* NULL: no token; else required for changes and dead letters */
	int64_t max_body; /* bytes of a request body at most */
	/* Host names the endpoint answers to besides its addresses and
	 * localhost (DNS-rebinding protection); host_count of them. */
	char **hosts;
	size_t host_count;
};

struct cfg_log {
	int level; /* TJ_LOG_ERR .. TJ_LOG_DEBUG */
	enum cfg_log_format format;
	char *file; /* NULL: stderr */
};

struct cfg {
	char *path; /* the file it was loaded from */
	struct cfg_nats nats;
	enum cfg_backend backend;
	char *plugin_dir; /* relative paths are taken from the config file's directory */
	char *state_dir; /* likewise; holds the embedded server's store */
	char *worker_id;
	int64_t shutdown_grace_ms;
	struct cfg_memory memory;
	struct cfg_log log;
	struct cfg_http http;
	struct cfg_stream *streams;
	size_t stream_count;
	struct cfg_dlq dlq;
	struct cfg_route *routes;
	size_t route_count;
};

/*
 * Load and validate `path`, then apply the environment overrides NATS_URL,
 * TASKJET_WORKER_ID and TASKJET_BACKEND. On success *cfg_r is a new config
 * the caller frees with cfg_free(). On failure returns -EINVAL (or -errno
 * for I/O) and, if errors_r is not NULL, sets *errors_r to a malloc'd text
 * with one line per problem, "file:line:column: key: what is wrong"; the
 * caller frees it. Not thread-safe with respect to the environment.
 */
int cfg_load(const char *path, char **errors_r, struct cfg **cfg_r);

/* The config of a command run without a config file: every default, with
 * the environment overrides (NATS_URL, TASKJET_*) applied. Same returns as
 * cfg_load(). */
int cfg_load_defaults(char **errors_r, struct cfg **cfg_r);

/* Same as cfg_load() but from a buffer; `name` is used in messages. */
int cfg_load_buffer(const char *name, const char *text, size_t len, char **errors_r,
                    struct cfg **cfg_r);

/*
 * The dead-letter settings a loaded config carries when the file has no
 * "dlq" section, for client commands that run without a config file. The
 * strings are static: never free them nor hand the struct to cfg_free().
 * Thread-safe.
 */
struct cfg_dlq cfg_dlq_defaults(void);

/* The DLQ stream's name and the letters' subject prefix of `dlq`: its own,
 * or, when `dlq` is NULL or leaves them unset or empty, the defaults
 * (CFG_DEFAULT_DLQ_STREAM, CFG_DEFAULT_DLQ_SUBJECT_PREFIX). The string
 * lives as long as `dlq` (a default: forever). Thread-safe. */
const char *cfg_dlq_stream(const struct cfg_dlq *dlq);
const char *cfg_dlq_prefix(const struct cfg_dlq *dlq);

/* The backend named `name` (a name `backend` and TASKJET_BACKEND take):
 * 0 and *backend_r, or -EINVAL. Thread-safe. */
int cfg_backend_parse(const char *name, enum cfg_backend *backend_r);
/* The first name of `backend` ("jetstream", "memory"); "?" if none.
 * Static. Thread-safe. */
const char *cfg_backend_name(enum cfg_backend backend);
/* Every name a backend has, quoted, into buf: "\"jetstream\", \"nats\" or
 * \"memory\"" (cut to fit `len`). Thread-safe. */
void cfg_backend_choices(char *buf, size_t len);

/* Free a config from cfg_load(). NULL is a no-op. */
void cfg_free(struct cfg *cfg);

/* The max_ack_pending a route gets when the file sets none: 4 pull
 * batches per worker, at least 1000. Thread-safe. */
int64_t cfg_route_default_max_ack_pending(const struct cfg_route *route);

/*
 * What differs between two loaded configs, for a reload: one line per
 * difference through `note` ("route r: added", "route r: removed", "route
 * r: changed: timeout, config", "streams: changed"; for what a running
 * engine keeps until it restarts, "http: changed; applies at the next
 * start"). Returns how many. Routes are matched by name.
 */
unsigned cfg_diff(const struct cfg *old, const struct cfg *new,
                  void (*note)(void *arg, const char *line), void *arg);

/* The stream a route names; never NULL in a validated config. */
const struct cfg_stream *cfg_route_stream(const struct cfg *cfg, const struct cfg_route *route);

/* The stream whose subjects take literal `subject`, or NULL. */
const struct cfg_stream *cfg_stream_for_subject(const struct cfg *cfg, const char *subject);

/*
 * Where a task that comes from outside the engine may go: HTTP intake
 * (POST /api/v1/tasks) and a dead-letter replay (HTTP and CLI) publish
 * only to a literal subject that a configured route consumes, never to the
 * DLQ, the advisories, the JetStream API ($JS.API...) or a subject no
 * route here handles. 0 with *route_r (may be NULL) the first route (in
 * config order) that consumes it; -EINVAL when `subject` is not a valid
 * literal subject; -EPERM when no route consumes it. `why` (may be NULL)
 * says which in a sentence that quotes the subject. Thread-safe.
 */
int cfg_task_subject_check(const struct cfg *cfg, const char *subject,
                           const struct cfg_route **route_r, char *why, size_t why_len);

/*
 * The longest duration the server can hold: JetStream keeps durations
 * (max_age, duplicate_window, ack_wait, nak delays) as int64 nanoseconds,
 * so 2^63-1 ns, 2562047h47m16s854ms, about 292 years. Durations that go
 * to the server are refused above it when the file is loaded.
 */
#define CFG_DURATION_MAX_MS (INT64_MAX / 1000000)

/* Parse "500ms", "30s", "5m", "72h" (also "1h30m") into ms. 0, -EINVAL
 * (not a duration) or -ERANGE (well-formed, but over INT64_MAX ms). */
int cfg_parse_duration(const char *text, size_t len, int64_t *ms_r);
/* Parse "512", "64KiB", "1GiB" (also KB/MB/GB as powers of 1000). 0,
 * -EINVAL (not a size) or -ERANGE (well-formed, but over INT64_MAX). */
int cfg_parse_size(const char *text, size_t len, int64_t *bytes_r);

/*
 * Split an http.listen address "HOST:PORT" (HOST: IPv4 dotted quad,
 * "localhost", or an IPv6 address in brackets; PORT 0..65535, 0 picks a
 * free one) into a numeric host (no brackets) and port. 0 or -EINVAL.
 */
int cfg_parse_listen(const char *text, char *host, size_t host_len, int *port_r);

#endif
