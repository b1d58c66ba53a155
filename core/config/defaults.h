/* SPDX-License-Identifier: MIT */
/*
 * Every default of the configuration, in one place. The loader fills them
 * in, so a loaded struct cfg carries resolved values only; code that runs
 * without a config file takes them from here (or from cfg_dlq_defaults()
 * in config.h) instead of spelling them again. docs/config.md and
 * taskjet.json(5) document these values; tests/unit/test_config.c holds
 * the loader to them.
 */
#ifndef TASKJET_CONFIG_DEFAULTS_H
#define TASKJET_CONFIG_DEFAULTS_H

/* Enumerations (config.h): the jetstream backend, file storage, a
 * work-queue stream discarding old messages, any payload, text logs at info. */
#define CFG_DEFAULT_BACKEND CFG_BACKEND_JETSTREAM
#define CFG_DEFAULT_STORAGE CFG_STORAGE_FILE
#define CFG_DEFAULT_RETENTION CFG_RETENTION_WORKQUEUE
#define CFG_DEFAULT_DISCARD CFG_DISCARD_OLD
#define CFG_DEFAULT_PAYLOAD CFG_PAYLOAD_ANY
#define CFG_DEFAULT_LOG_LEVEL TJ_LOG_INFO
#define CFG_DEFAULT_LOG_FORMAT CFG_LOG_TEXT
/* Handlers run in worker processes unless a route asks for threads. */
#define CFG_DEFAULT_ISOLATION CFG_ISOLATION_PROCESS

/* nats */
#define CFG_DEFAULT_CONNECT_TIMEOUT_MS 2000
#define CFG_DEFAULT_RECONNECT_WAIT_MS 2000
#define CFG_DEFAULT_RECONNECT_JITTER_MS 100
/* nats.name is this prefix + worker_id; a route's consumer, this prefix +
 * the route's name. */
#define CFG_DEFAULT_NAME_PREFIX "taskjet-"

/* top level; plugin_dir defaults to the configured PLUGINDIR, state_dir to
 * the configured STATEDIR ($(localstatedir)/lib/taskjet): an installed
 * config needs neither, and its state never lands under sysconfdir. */
#ifdef STATEDIR
#define CFG_DEFAULT_STATE_DIR STATEDIR
#else
#define CFG_DEFAULT_STATE_DIR "/var/lib/taskjet"
#endif
#define CFG_DEFAULT_SHUTDOWN_GRACE_MS 30000
#define CFG_DEFAULT_MEMORY_CAPACITY 10000
/* Loopback only unless the file says otherwise. Port 8394: no NATS
 * component's (client 4222, cluster 6222, gateway 7222, leaf 7422,
 * monitoring 8222, where a probe of an older default got nats-server's
 * answer), outside the 9100-9999 block of Prometheus exporters, and no
 * common service's default (8080, 8000, 9090...). docs/http.md says so. */
#define CFG_DEFAULT_HTTP_LISTEN "127.0.0.1:8394"
#define CFG_DEFAULT_HTTP_MAX_BODY (1 << 20)

/* dlq */
#define CFG_DEFAULT_DLQ_STREAM "DLQ"
#define CFG_DEFAULT_DLQ_SUBJECT_PREFIX "dlq"
#define CFG_DEFAULT_ADVISORY_STREAM "TASKJET_ADVISORIES"

/* streams[] (the DLQ shares the limits and replicas) */
#define CFG_DEFAULT_MAX_AGE_MS 0 /* unlimited */
#define CFG_DEFAULT_MAX_MSGS (-1) /* unlimited */
#define CFG_DEFAULT_MAX_BYTES (-1) /* unlimited */
#define CFG_DEFAULT_REPLICAS 1
#define CFG_DEFAULT_DUPLICATE_WINDOW_MS (2 * 60000)

/* routes[] */
#define CFG_DEFAULT_CONCURRENCY 1
#define CFG_DEFAULT_MAX_ATTEMPTS 5
#define CFG_DEFAULT_ACK_WAIT_MS 30000
#define CFG_DEFAULT_BATCH 16
#define CFG_DEFAULT_FETCH_WAIT_MS 1000
/* max_ack_pending: room for four pull batches per worker, and never less
 * than the server's own default (1000): delayed retries hold their slot
 * for the whole delay (docs/reliability.md, "A downstream outage"). */
#define CFG_DEFAULT_MAX_ACK_PENDING_MIN 1000
#define CFG_DEFAULT_MAX_ACK_PENDING_PER_BATCH 4
/* Long enough for any handler doing real work in one call, short enough
 * that a hung one is noticed within minutes. Limits: none. */
#define CFG_DEFAULT_TIMEOUT_MS (5 * 60000)
#define CFG_DEFAULT_ROUTE_CONFIG "{}"
#define CFG_DEFAULT_PAYLOAD_MAX_DEPTH 512 /* JSON_DEFAULT_MAX_DEPTH */
#define CFG_DEFAULT_BACKOFF_INITIAL_MS 1000
#define CFG_DEFAULT_BACKOFF_MULTIPLIER 2.0
#define CFG_DEFAULT_BACKOFF_MAX_MS (5 * 60000)
#define CFG_DEFAULT_BACKOFF_JITTER 0.2

#endif
