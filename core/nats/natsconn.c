/* SPDX-License-Identifier: MIT */
/* The engine's NATS connection: options, event logging, counters. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "nats/connerr.h"
#include "nats/natsconn.h"
#include "nats/nkey.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/url.h"
#include "util/xalloc.h"

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_RECONNECT_WAIT_MS 2000
#define DEFAULT_RECONNECT_JITTER_MS 100
#define MAX_SERVERS 16

struct natsconn {
	natsConnection *conn;
	jsCtx *js;
	char *url; /* user info hidden: the only form ever shown */
	char *name;
	/* Written by libnats' callback thread, read by anyone. */
	bool connected;
	uint64_t reconnects;
	uint64_t disconnects;
	/* The closed callback runs on libnats' own thread after Close; nc must
	 * outlive it, so close waits for it. */
	pthread_mutex_t lock;
	pthread_cond_t closed_cond;
	bool closed;
};

int
natsconn_errno(natsStatus s)
{
	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_TIMEOUT:
		return -ETIMEDOUT;
	case NATS_NOT_FOUND:
		return -ENOENT;
	case NATS_NO_RESPONDERS:
		return -ENOENT;
	case NATS_NO_MEMORY:
		return -ENOMEM;
	case NATS_INVALID_ARG:
	case NATS_INVALID_TIMEOUT:
	case NATS_INVALID_SUBJECT:
		return -EINVAL;
	case NATS_CONNECTION_CLOSED:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_NOT_YET_CONNECTED:
	case NATS_STALE_CONNECTION:
		return -ENOTCONN;
	case NATS_NO_SERVER:
		return -ECONNREFUSED;
	case NATS_INSUFFICIENT_BUFFER:
	case NATS_SLOW_CONSUMER:
		return -ENOBUFS;
	case NATS_NOT_PERMITTED:
	case NATS_CONNECTION_AUTH_FAILED:
		return -EACCES;
	case NATS_ILLEGAL_STATE:
	case NATS_INVALID_SUBSCRIPTION:
		return -EBADF;
	default:
		return -EIO;
	}
}

static void
on_disconnected(natsConnection *conn, void *closure)
{
	struct natsconn *nc = closure;

	__atomic_store_n(&nc->connected, false, __ATOMIC_RELEASE);
	__atomic_add_fetch(&nc->disconnects, 1, __ATOMIC_RELAXED);
	/* Also fires on a normal close; only a lost link is worth a warning. */
	if (!natsConnection_IsClosed(conn))
		log_warn("nats %s: disconnected from %s, reconnecting", nc->name, nc->url);
}

static void
on_reconnected(natsConnection *conn, void *closure)
{
	struct natsconn *nc = closure;
	char where[256] = "?", shown[256];

	natsConnection_GetConnectedUrl(conn, where, sizeof(where));
	url_redact(where, shown, sizeof(shown));
	explicit_bzero(where, sizeof(where));
	__atomic_store_n(&nc->connected, true, __ATOMIC_RELEASE);
	__atomic_add_fetch(&nc->reconnects, 1, __ATOMIC_RELAXED);
	log_notice("nats %s: reconnected to %s", nc->name, shown);
}

static void
on_closed(natsConnection *conn, void *closure)
{
	struct natsconn *nc = closure;

	__atomic_store_n(&nc->connected, false, __ATOMIC_RELEASE);
	log_debug("nats %s: connection closed", nc->name);
	pthread_mutex_lock(&nc->lock);
	nc->closed = true;
	pthread_cond_broadcast(&nc->closed_cond);
	pthread_mutex_unlock(&nc->lock);
}

/* Wait (bounded) for on_closed; false if it never came. */
static bool
wait_closed(struct natsconn *nc, int64_t timeout_ms)
{
	struct timespec deadline;
	bool closed;

	clock_mono_deadline(timeout_ms, &deadline);
	pthread_mutex_lock(&nc->lock);
	while (!nc->closed &&
	       pthread_cond_clockwait(&nc->closed_cond, &nc->lock, CLOCK_MONOTONIC, &deadline) == 0)
		;
	closed = nc->closed;
	pthread_mutex_unlock(&nc->lock);
	return closed;
}

static void
on_error(natsConnection *conn, natsSubscription *sub, natsStatus err, void *closure)
{
	struct natsconn *nc = closure;
	const char *text = NULL;

	natsConnection_GetLastError(conn, &text);
	log_warn("nats %s: asynchronous error: %s%s%s", nc->name, natsStatus_GetText(err),
	         text != NULL ? ": " : "", text != NULL ? text : "");
}

/* "nats://a:4222, nats://b:4222" -> SetServers; one URL -> SetURL. */
static natsStatus
set_servers(natsOptions *o, const char *url)
{
	char *copy = xstrdup(url), *save = NULL, *tok;
	const char *servers[MAX_SERVERS];
	int count = 0;
	natsStatus s;

	for (tok = strtok_r(copy, ", ", &save); tok != NULL && count < MAX_SERVERS;
	     tok = strtok_r(NULL, ", ", &save))
		servers[count++] = tok;
	if (count == 0)
		s = NATS_INVALID_ARG;
	else
		s = natsOptions_SetServers(o, servers, count);
	free(copy);
	return s;
}

static int64_t
or_default(int64_t v, int64_t def)
{
	return v > 0 ? v : def;
}

/* A failure of natsconn_open: into the caller's buffer, else the log. */
static void fail(const struct natsconn_options *opts, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(const struct natsconn_options *opts, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (opts != NULL && opts->err != NULL && opts->err_len > 0)
		snprintf(opts->err, opts->err_len, "%s", msg);
	else
		log_err("nats: %s", msg);
}

/* Does any of the URLs ask for TLS ("tls://")? libnats 3.4.1 does not
 * turn TLS on for the scheme by itself. */
static bool
wants_tls(const char *urls)
{
	for (const char *p = urls; *p != '\0'; p++) {
		p += strspn(p, ", ");
		if (strncasecmp(p, "tls://", 6) == 0)
			return true;
		p += strcspn(p, ",");
		if (*p == '\0')
			break;
	}
	return false;
}

/* libnats' last error without its "(file.c:123): " prefix. */
static const char *
library_error(void)
{
	const char *text = nats_GetLastError(NULL);

	if (text == NULL)
		return "unknown error";
	if (text[0] == '(') {
		const char *end = strstr(text, "): ");

		if (end != NULL)
			return end + 3;
	}
	return text;
}

/* The one way to authenticate the config sets, if any. -EINVAL after
 * saying why when a secret file cannot be used. */
static int
set_auth(natsOptions *o, const struct cfg_nats *cfg, const struct natsconn_options *opts)
{
	char why[768], *secret = NULL, pub[NKEY_PUBLIC_LEN];
	natsStatus s = NATS_OK;
	const char *what = NULL;
	size_t len;
	int rc = 0;

	if (cfg->password_file != NULL) {
		what = "nats.password_file";
		rc = secret_file_read(what, cfg->password_file, &secret, &len, why, sizeof(why));
		if (rc == 0)
			s = natsOptions_SetUserInfo(o, cfg->user, secret);
	} else if (cfg->token_file != NULL) {
		what = "nats.token_file";
		rc = secret_file_read(what, cfg->token_file, &secret, &len, why, sizeof(why));
		if (rc == 0)
			s = natsOptions_SetToken(o, secret);
	} else if (cfg->nkey_seed_file != NULL) {
		/* libnats reads the seed again at each (re)connect to sign the
		 * server's nonce; the public key it cannot derive itself. */
		what = "nats.nkey_seed_file";
		rc = secret_file_read(what, cfg->nkey_seed_file, &secret, &len, why, sizeof(why));
		if (rc == 0) {
			char reason[256];

			rc = nkey_user_public_key(secret, pub, reason, sizeof(reason));
			if (rc < 0)
				snprintf(why, sizeof(why), "%s %s: %s", what, cfg->nkey_seed_file,
				         reason);
		}
		if (rc == 0)
			s = natsOptions_SetNKeyFromSeed(o, pub, cfg->nkey_seed_file);
	} else if (cfg->creds_file != NULL) {
		/* libnats reads the file itself, at each (re)connect. */
		what = "nats.creds_file";
		rc = secret_file_check(what, cfg->creds_file, why, sizeof(why));
		if (rc == 0)
			s = natsOptions_SetUserCredentialsFromFiles(o, cfg->creds_file, NULL);
	}
	secret_free(secret);
	if (rc < 0) {
		fail(opts, "%s", why);
		return -EINVAL;
	}
	if (s != NATS_OK) {
		fail(opts, "%s: %s", what, library_error());
		return -EINVAL;
	}
	return 0;
}

/* TLS when the config has a tls section or a URL says tls://. The
 * server's certificate is always verified; libnats checks its name
 * against the URL's host unless server_name names another. */
static int
set_tls(natsOptions *o, const struct cfg_nats *cfg, const char *url,
        const struct natsconn_options *opts)
{
	const struct cfg_nats_tls *tls = &cfg->tls;
	char why[768];
	natsStatus s;

	if (!tls->enabled && !wants_tls(url))
		return 0;
	s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK && tls->ca_file != NULL) {
		s = natsOptions_LoadCATrustedCertificates(o, tls->ca_file);
		if (s != NATS_OK) {
			fail(opts, "nats.tls.ca_file %s: %s", tls->ca_file, library_error());
			return -EINVAL;
		}
	}
	if (s == NATS_OK && tls->cert_file != NULL) {
		if (secret_file_check("nats.tls.key_file", tls->key_file, why, sizeof(why)) < 0) {
			fail(opts, "%s", why);
			return -EINVAL;
		}
		s = natsOptions_LoadCertificatesChain(o, tls->cert_file, tls->key_file);
		if (s != NATS_OK) {
			fail(opts, "nats.tls.cert_file %s with key_file %s: %s", tls->cert_file,
			     tls->key_file, library_error());
			return -EINVAL;
		}
	}
	if (s == NATS_OK && tls->server_name != NULL)
		s = natsOptions_SetExpectedHostname(o, tls->server_name);
	if (s != NATS_OK) {
		fail(opts, "TLS settings: %s", library_error());
		return -EINVAL;
	}
	return 0;
}

int
natsconn_open(const struct cfg_nats *cfg, const char *url, const struct natsconn_options *opts,
              struct natsconn **nc_r)
{
	struct natsconn *nc = NULL;
	natsOptions *o = NULL;
	natsStatus s;
	const char *base_name = cfg->name != NULL ? cfg->name : "taskjet";
	char name[256], why[1024];
	int64_t timeout_ms = or_default(cfg->connect_timeout_ms, DEFAULT_TIMEOUT_MS);
	int rc = 0;

	if (url == NULL)
		url = cfg->url;
	if (url == NULL || *url == '\0') {
		fail(opts, "no server URL given");
		return -EINVAL;
	}
	if (opts != NULL && opts->role != NULL)
		snprintf(name, sizeof(name), "%s/%s", base_name, opts->role);
	else
		snprintf(name, sizeof(name), "%s", base_name);

	nc = xcalloc(1, sizeof(*nc));
	nc->url = xmalloc(strlen(url) + 1);
	url_redact(url, nc->url, strlen(url) + 1);
	nc->name = xstrdup(name);
	pthread_mutex_init(&nc->lock, NULL);
	pthread_cond_init(&nc->closed_cond, NULL);

	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = set_servers(o, url);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, name);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, timeout_ms);
	/* Once up, never give up: a daemon outlives server restarts. */
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(
		    o, or_default(cfg->reconnect_wait_ms, DEFAULT_RECONNECT_WAIT_MS));
	if (s == NATS_OK) {
		int64_t j = or_default(cfg->reconnect_jitter_ms, DEFAULT_RECONNECT_JITTER_MS);
		s = natsOptions_SetReconnectJitter(o, j, j);
	}
	if (s == NATS_OK && opts != NULL && opts->send_asap)
		s = natsOptions_SetSendAsap(o, true);
	if (s == NATS_OK)
		s = natsOptions_SetDisconnectedCB(o, on_disconnected, nc);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectedCB(o, on_reconnected, nc);
	if (s == NATS_OK)
		s = natsOptions_SetClosedCB(o, on_closed, nc);
	if (s == NATS_OK)
		s = natsOptions_SetErrorHandler(o, on_error, nc);
	if (s != NATS_OK) {
		fail(opts, "bad connection options for %s: %s", nc->url, library_error());
		rc = -EINVAL;
		goto out;
	}
	rc = set_tls(o, cfg, url, opts);
	if (rc == 0)
		rc = set_auth(o, cfg, opts);
	if (rc < 0)
		goto out;

	/* No RetryOnFailedConnect: at start a clear error beats silent retries. */
	s = natsConnection_Connect(&nc->conn, o);
	if (s != NATS_OK) {
		rc = connerr_describe(s, library_error(), url, cfg, timeout_ms, why, sizeof(why));
		fail(opts, "cannot connect to %s: %s", nc->url, why);
		goto out;
	}
	__atomic_store_n(&nc->connected, true, __ATOMIC_RELEASE);

	s = natsConnection_JetStream(&nc->js, nc->conn, NULL);
	if (s != NATS_OK) {
		fail(opts, "cannot create a JetStream context: %s", library_error());
		rc = natsconn_errno(s);
		goto out;
	}
	log_info("nats %s: connected to %s", name, nc->url);

out:
	natsOptions_Destroy(o);
	if (rc != 0) {
		natsconn_close(nc, 0);
		return rc;
	}
	*nc_r = nc;
	return 0;
}

void
natsconn_close(struct natsconn *nc, int64_t flush_ms)
{
	if (nc == NULL)
		return;
	if (nc->conn != NULL && flush_ms > 0 && natsconn_connected(nc))
		natsConnection_FlushTimeout(nc->conn, flush_ms);
	if (nc->js != NULL)
		jsCtx_Destroy(nc->js);
	if (nc->conn != NULL) {
		natsConnection_Close(nc->conn);
		natsConnection_Destroy(nc->conn);
		/* A callback still to come would use nc: rather leak it. */
		if (!wait_closed(nc, 5000)) {
			log_warn("nats %s: close callback did not arrive", nc->name);
			return;
		}
	}
	pthread_cond_destroy(&nc->closed_cond);
	pthread_mutex_destroy(&nc->lock);
	free(nc->url);
	free(nc->name);
	free(nc);
}

natsConnection *
natsconn_conn(const struct natsconn *nc)
{
	return nc->conn;
}

jsCtx *
natsconn_js(const struct natsconn *nc)
{
	return nc->js;
}

const char *
natsconn_url(const struct natsconn *nc)
{
	return nc->url;
}

bool
natsconn_connected(const struct natsconn *nc)
{
	return __atomic_load_n(&nc->connected, __ATOMIC_ACQUIRE);
}

uint64_t
natsconn_reconnects(const struct natsconn *nc)
{
	return __atomic_load_n(&nc->reconnects, __ATOMIC_RELAXED);
}

uint64_t
natsconn_disconnects(const struct natsconn *nc)
{
	return __atomic_load_n(&nc->disconnects, __ATOMIC_RELAXED);
}

int
natsconn_flush(struct natsconn *nc, int64_t timeout_ms)
{
	natsStatus s = natsConnection_FlushTimeout(nc->conn, timeout_ms);

	return natsconn_errno(s);
}

void
natsconn_library_shutdown(int64_t timeout_ms)
{
	nats_CloseAndWait(timeout_ms);
}
