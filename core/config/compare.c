/* SPDX-License-Identifier: MIT */
/* What differs between two loaded configs (a reload says what it changes). */
#include <stdio.h>
#include <string.h>

#include "config/config.h"

static bool
str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Two lists of `n` strings, element by element. */
static bool
strs_eq(char *const *a, char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

static bool
tls_eq(const struct cfg_nats_tls *a, const struct cfg_nats_tls *b)
{
	return a->enabled == b->enabled && str_eq(a->ca_file, b->ca_file) &&
	       str_eq(a->cert_file, b->cert_file) && str_eq(a->key_file, b->key_file) &&
	       str_eq(a->server_name, b->server_name);
}

/* Every key of the section: a reload that changes only the password file
 * must not be told "nothing changed" and keep the old connection. */
static bool
nats_eq(const struct cfg_nats *a, const struct cfg_nats *b)
{
	return str_eq(a->url, b->url) && str_eq(a->name, b->name) && str_eq(a->user, b->user) &&
	       str_eq(a->password_file, b->password_file) && str_eq(a->token_file, b->token_file) &&
	       str_eq(a->nkey_seed_file, b->nkey_seed_file) &&
	       str_eq(a->creds_file, b->creds_file) && tls_eq(&a->tls, &b->tls) &&
	       a->connect_timeout_ms == b->connect_timeout_ms &&
	       a->reconnect_wait_ms == b->reconnect_wait_ms &&
	       a->reconnect_jitter_ms == b->reconnect_jitter_ms;
}

static bool
stream_eq(const struct cfg_stream *a, const struct cfg_stream *b)
{
	if (!str_eq(a->name, b->name) || a->subject_count != b->subject_count ||
	    a->storage != b->storage || a->retention != b->retention ||
	    a->max_age_ms != b->max_age_ms || a->max_msgs != b->max_msgs ||
	    a->max_bytes != b->max_bytes || a->discard != b->discard ||
	    a->replicas != b->replicas || a->duplicate_window_ms != b->duplicate_window_ms)
		return false;
	return strs_eq(a->subjects, b->subjects, a->subject_count);
}

static bool
streams_eq(const struct cfg *a, const struct cfg *b)
{
	if (a->stream_count != b->stream_count)
		return false;
	for (size_t i = 0; i < a->stream_count; i++)
		if (!stream_eq(&a->streams[i], &b->streams[i]))
			return false;
	return true;
}

static bool
http_eq(const struct cfg_http *a, const struct cfg_http *b)
{
	return str_eq(a->listen, b->listen) && str_eq(a->token_file, b->token_file) &&
	       a->max_body == b->max_body && a->host_count == b->host_count &&
	       strs_eq(a->hosts, b->hosts, a->host_count);
}

static bool
dlq_eq(const struct cfg_dlq *a, const struct cfg_dlq *b)
{
	return str_eq(a->stream, b->stream) && str_eq(a->subject_prefix, b->subject_prefix) &&
	       a->storage == b->storage && a->max_age_ms == b->max_age_ms &&
	       a->max_msgs == b->max_msgs && a->max_bytes == b->max_bytes &&
	       a->replicas == b->replicas && str_eq(a->advisory_stream, b->advisory_stream);
}

/* Append ", key" (or "key") to buf for each differing key of a route. */
static void
route_changes(const struct cfg_route *a, const struct cfg_route *b, char *buf, size_t len)
{
	const struct {
		const char *key;
		bool same;
	} keys[] = {
		{ "stream", str_eq(a->stream, b->stream) },
		{ "subject", str_eq(a->subject, b->subject) },
		{ "consumer", str_eq(a->consumer, b->consumer) },
		{ "plugin", str_eq(a->plugin, b->plugin) },
		{ "handler", str_eq(a->handler, b->handler) },
		{ "concurrency", a->concurrency == b->concurrency },
		{ "max_attempts", a->max_attempts == b->max_attempts },
		{ "ack_wait", a->ack_wait_ms == b->ack_wait_ms },
		{ "batch", a->batch == b->batch },
		{ "prefetch", a->prefetch == b->prefetch && a->prefetch_auto == b->prefetch_auto },
		{ "fetch_wait", a->fetch_wait_ms == b->fetch_wait_ms },
		{ "max_ack_pending", a->max_ack_pending == b->max_ack_pending },
		{ "payload", a->payload == b->payload },
		{ "payload_max_depth", a->payload_max_depth == b->payload_max_depth },
		{ "isolation", a->isolation == b->isolation },
		{ "timeout", a->timeout_ms == b->timeout_ms },
		{ "limits", memcmp(&a->limits, &b->limits, sizeof(a->limits)) == 0 },
		{ "backoff", a->backoff.initial_ms == b->backoff.initial_ms &&
		                 a->backoff.multiplier == b->backoff.multiplier &&
		                 a->backoff.max_ms == b->backoff.max_ms &&
		                 a->backoff.jitter == b->backoff.jitter },
		{ "config", a->config_json_len == b->config_json_len &&
		                memcmp(a->config_json, b->config_json, a->config_json_len) == 0 },
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && off < len; i++) {
		int n;

		if (keys[i].same)
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off > 0 ? ", " : "", keys[i].key);
		if (n > 0)
			off += (size_t)n;
	}
}

static const struct cfg_route *
find_route(const struct cfg *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->route_count; i++)
		if (str_eq(cfg->routes[i].name, name))
			return &cfg->routes[i];
	return NULL;
}

unsigned
cfg_diff(const struct cfg *old, const struct cfg *new, void (*note)(void *arg, const char *line),
         void *arg)
{
	static const char later[] = "; applies at the next start";
	const struct {
		const char *what;
		bool same;
		bool restart;
	} top[] = {
		{ "backend", old->backend == new->backend, true },
		{ "nats", nats_eq(&old->nats, &new->nats), false },
		{ "plugin_dir", str_eq(old->plugin_dir, new->plugin_dir), false },
		{ "state_dir", str_eq(old->state_dir, new->state_dir), true },
		{ "worker_id", str_eq(old->worker_id, new->worker_id), false },
		{ "shutdown_grace", old->shutdown_grace_ms == new->shutdown_grace_ms, false },
		{ "memory", old->memory.capacity == new->memory.capacity, true },
		{ "log",
		  old->log.level == new->log.level &&
		      old->log.format == new->log.format &&str_eq(old->log.file, new->log.file),
		  true },
		{ "http", http_eq(&old->http, &new->http), true },
		{ "streams", streams_eq(old, new), false },
		{ "dlq", dlq_eq(&old->dlq, &new->dlq), false },
	};
	char line[512], keys[320];
	unsigned n = 0;

	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		if (top[i].same)
			continue;
		snprintf(line, sizeof(line), "%s: changed%s", top[i].what,
		         top[i].restart ? later : "");
		note(arg, line);
		n++;
	}
	for (size_t i = 0; i < old->route_count; i++) {
		if (find_route(new, old->routes[i].name) != NULL)
			continue;
		snprintf(line, sizeof(line), "route %s: removed", old->routes[i].name);
		note(arg, line);
		n++;
	}
	for (size_t i = 0; i < new->route_count; i++) {
		const struct cfg_route *r = &new->routes[i], *was = find_route(old, r->name);

		if (was == NULL) {
			snprintf(line, sizeof(line), "route %s: added", r->name);
		} else {
			route_changes(was, r, keys, sizeof(keys));
			if (keys[0] == '\0')
				continue;
			snprintf(line, sizeof(line), "route %s: changed: %s", r->name, keys);
		}
		note(arg, line);
		n++;
	}
	return n;
}
