/* SPDX-License-Identifier: MIT */
/*
 * One NATS connection plus its JetStream context, opened from the config's
 * nats section. It reconnects forever once established, but the first
 * connect fails fast so a wrong URL is reported at start, not hidden
 * behind retries. Connection events are logged (libnats 3.4.1 has no
 * default error handler) and counted.
 *
 * Only NATS-facing files include this header (it includes <nats/nats.h>).
 */
#ifndef TASKJET_NATSCONN_H
#define TASKJET_NATSCONN_H

#include <stdbool.h>
#include <stdint.h>

#include <nats/nats.h>

#include "config/config.h"

struct natsconn;

struct natsconn_options {
	/* Appended to the connection name ("taskjet/acks") so the server's
	 * connz tells the roles apart; NULL for none. */
	const char *role;
	/* Write every publish at once instead of letting libnats' flusher
	 * batch it (~1 ms). Good for pull requests, costly for many acks. */
	bool send_asap;
	/* Where the reason for a failure goes (a command prints it once);
	 * NULL: it is logged as an error instead. */
	char *err;
	size_t err_len;
};

/*
 * Connect to `url` (NULL: cfg->url; both NULL is -EINVAL) with cfg's name,
 * timeout, reconnect wait/jitter, credentials and TLS settings; create the
 * JetStream context. opts may be NULL. Secret files (password, token, NKey
 * seed, credentials, TLS key) are checked first: one that its group or
 * others can read is refused. Fails at once if the server cannot be
 * reached, saying why (opts->err, else the log) with the user info of every
 * URL hidden, and returning the cause: -ECONNREFUSED (nothing listens),
 * -ETIMEDOUT (no answer in time), -EHOSTUNREACH (the host name does not
 * resolve, or no route), -EPROTO (TLS: a certificate was not accepted, or
 * TLS is wanted on one side only), -EACCES (the server refused the
 * credentials), or -EINVAL for a configuration problem (a bad option; a
 * secret, credentials, CA or certificate file that is missing, unreadable,
 * too open or malformed). On success *nc_r is owned by the caller
 * (natsconn_close). Call from the main thread.
 */
int natsconn_open(const struct cfg_nats *cfg, const char *url, const struct natsconn_options *opts,
                  struct natsconn **nc_r);

/*
 * Flush what is buffered (bounded by flush_ms), close and free. Every
 * subscription made on the connection must be destroyed first. NULL is a
 * no-op.
 */
void natsconn_close(struct natsconn *nc, int64_t flush_ms);

/* The underlying objects; they live until natsconn_close(). Both are
 * thread-safe (libnats guarantees it for connections and jsCtx). */
natsConnection *natsconn_conn(const struct natsconn *nc);
jsCtx *natsconn_js(const struct natsconn *nc);
/* The URL it was opened with, user info hidden; lives as long as nc. */
const char *natsconn_url(const struct natsconn *nc);

/* Connected right now (false while reconnecting and after close). Any
 * thread. */
bool natsconn_connected(const struct natsconn *nc);
/* How many times the connection was re-established / lost. Any thread. */
uint64_t natsconn_reconnects(const struct natsconn *nc);
uint64_t natsconn_disconnects(const struct natsconn *nc);

/* Make sure the server has seen everything published so far (PING/PONG),
 * waiting at most timeout_ms. 0, -ETIMEDOUT or -ENOTCONN. Any thread. */
int natsconn_flush(struct natsconn *nc, int64_t timeout_ms);

/* Map a libnats status to a negative errno (NATS_OK -> 0). */
int natsconn_errno(natsStatus s);

/*
 * Release libnats' process-wide state (its threads) at the very end, after
 * every connection was closed; waits at most timeout_ms. Main thread only.
 */
void natsconn_library_shutdown(int64_t timeout_ms);

#endif
