/* SPDX-License-Identifier: MIT */
/*
 * Opening the configured backend: the one place that names the concrete
 * backends (core/memory, core/nats), so the daemon, HTTP and the CLI only
 * ever see struct backend.
 */
#ifndef TASKJET_BACKENDS_H
#define TASKJET_BACKENDS_H

#include <stdbool.h>

#include "config/config.h"
#include "task/backend.h"

struct backend_open_opts {
	/* A server URL given on the command line (--nats); NULL: the
	 * config's, or the backend's own default. */
	const char *url;
	/* A short-lived command (dlq, stats, publish, check --nats) rather
	 * than the daemon: connect only, fail fast. */
	bool client;
	/* The client's connection name ("taskjet-dlq"). */
	const char *name;
	/* Where the reason for a failure to connect goes, so a command prints
	 * it once; NULL: it is logged. */
	char *err;
	size_t err_len;
	/* The running backend a reload replaces: what it owns that must
	 * outlive it (a private nats-server) is shared rather than started
	 * again. NULL: none. */
	const struct backend *replacing;
};

/*
 * Open cfg->backend for `cfg` (borrowed; it must outlive the backend).
 * 0, or -errno after saying why (o->err, else the log): -ECONNREFUSED,
 * -ETIMEDOUT, -EHOSTUNREACH, -EPROTO (TLS), -EACCES (authorization) and
 * the like when the server cannot be reached, -EINVAL for a configuration
 * problem (a secret, credentials or TLS file that cannot be used), -ENOENT
 * when nats-server is needed and missing, -ENOTSUP for a client of a
 * backend that lives only inside the daemon (memory). Main thread. Free
 * with backend_destroy().
 */
int backend_open(const struct cfg *cfg, const struct backend_open_opts *o, struct backend **b_r);

/* The client libraries the backends use, for --version ("libnats 3.4.1"). */
const char *backend_library_versions(void);
/* The libnats version alone ("3.4.1"), for taskjet_build_info. */
const char *backend_libnats_version(void);

/* Why a running daemon of this backend cannot load a new config in place,
 * or NULL when it can (a second backend is opened over the same server,
 * and the first handed over). Static text. */
const char *backend_reload_refusal(const struct cfg *cfg);

/* The name of cfg->backend ("jetstream", "memory"). */
const char *backend_kind_name(const struct cfg *cfg);

/* Can cfg->backend run `taskjet run --stdin`: take the tasks of stdin into
 * a queue inside the process and drain it? */
bool backend_reads_stdin(const struct cfg *cfg);

#endif
