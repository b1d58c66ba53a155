/* SPDX-License-Identifier: MIT */
/*
 * The JetStream backend (task/backend.h): tasks from each route's
 * durable pull consumer, dispositions as acks, dead letters in the DLQ
 * stream, the MAX_DELIVERIES advisory reader, topology, snapshots and DLQ
 * administration. Free of libnats types, so run/ can open it.
 */
#ifndef TASKJET_JETSTREAM_H
#define TASKJET_JETSTREAM_H

#include <stdbool.h>

#include "config/config.h"
#include "task/backend.h"

struct js_open_opts {
	/* The server: this URL (--nats) if not NULL; else the config's
	 * nats.url (NATS_URL included); else, for the daemon, a private
	 * nats-server started under state_dir, and for a client the URL that
	 * daemon recorded there (<state_dir>/nats.url), else an error. */
	const char *url;
	/* A short-lived command (dlq, stats, publish, check --nats): connect
	 * only, fail fast; no embedded server, no consumers. */
	bool client;
	/* The connection name of a client ("taskjet-dlq"); NULL: nats.name. */
	const char *name;
	/* Pull requests and acks on one connection instead of two (split ack
	 * is the default: see bench/README.md). */
	bool single_connection;
	/* Where the reason for a failed connect goes (natsconn_options.err);
	 * NULL: the log. */
	char *err;
	size_t err_len;
	/* The running backend this one replaces (a reload), or NULL: when no
	 * URL is given and that one started a private nats-server, use it
	 * rather than start a second on the same store; it stops with the
	 * last backend using it. */
	const struct backend *replacing;
};

/*
 * Connect (starting the embedded server first when needed) and return the
 * backend; cfg is borrowed and must outlive it. natsconn_open()'s errors
 * when the server cannot be reached or a secret file cannot be used,
 * -ENOENT when an embedded server is needed and nats-server is not
 * installed; why goes to o->err, else the log.
 * Main thread.
 */
int js_backend_open(const struct cfg *cfg, const struct js_open_opts *o, struct backend **b_r);

/* The version of the NATS client library in use ("3.4.1"). */
const char *js_client_version(void);

#endif
