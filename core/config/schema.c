/* SPDX-License-Identifier: MIT */
/*
 * The schema: every key of the file, its type, range and default, as
 * tables for the reader, and the readers of sections that need more than
 * a table (lists of streams and routes, http.listen, backoff).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "config/config.h"
#include "config/internal.h"
#include "util/subject.h"
#include "util/xalloc.h"

/* Shorthands for the key tables below. */
#define N_SPECS(a) (sizeof(a) / sizeof((a)[0]))
#define DUR(n, type, field, lo, hi)                                                              \
	{                                                                                        \
		.name = (n), .kind = KEY_DURATION, .offset = offsetof(type, field), .min = (lo), \
		.max = (hi)                                                                      \
	}
#define INT(n, kind_, type, field, lo, hi)                                                  \
	{                                                                                   \
		.name = (n), .kind = (kind_), .offset = offsetof(type, field), .min = (lo), \
		.max = (hi)                                                                 \
	}
#define STR(n, type, field, chk, req)                                                             \
	{                                                                                         \
		.name = (n), .kind = KEY_STRING, .offset = offsetof(type, field), .check = (chk), \
		.required = (req)                                                                 \
	}
#define ENUM(n, type, field, list)                                                              \
	{                                                                                       \
		.name = (n), .kind = KEY_ENUM, .offset = offsetof(type, field), .names = (list) \
	}
#define CUSTOM(n, fn, req)                                                         \
	{                                                                          \
		.name = (n), .kind = KEY_CUSTOM, .custom = (fn), .required = (req) \
	}

/* ---- string checks ------------------------------------------------------ */

/* Stream, consumer and route names end up in JetStream API subjects and
 * in file names on the server, hence the narrow alphabet. */
static const char *
check_name(const char *s)
{
	if (strlen(s) > NAME_MAX_LEN)
		return "is longer than 255 bytes";
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr(".*>/\\", *p))
			return "must not contain whitespace, '.', '*', '>', '/' or '\\'";
	return NULL;
}

static const char *
check_stem(const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '-'))
			return "must contain only letters, digits, '_' and '-'";
	return NULL;
}

static const char *
check_subject(const char *s)
{
	return subject_valid(s, true) ? NULL : "is not a valid NATS subject";
}

static const char *
check_literal_subject(const char *s)
{
	return subject_valid(s, false) ? NULL : "must be a NATS subject without wildcards";
}

const char *
cfg_check_printable(const char *s)
{
	if (strlen(s) > NAME_MAX_LEN)
		return "is longer than 255 bytes";
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "must not contain whitespace or control characters";
	return NULL;
}

const struct enum_name cfg_backend_names[] = {
	{ "jetstream", CFG_BACKEND_JETSTREAM },
	{ "nats", CFG_BACKEND_JETSTREAM },
	{ "memory", CFG_BACKEND_MEMORY },
	{ NULL, 0 },
};
static const struct enum_name storage_names[] = { { "file", CFG_STORAGE_FILE },
	                                          { "memory", CFG_STORAGE_MEMORY },
	                                          { NULL, 0 } };
static const struct enum_name retention_names[] = {
	{ "workqueue", CFG_RETENTION_WORKQUEUE },
	{ "limits", CFG_RETENTION_LIMITS },
	{ "interest", CFG_RETENTION_INTEREST },
	{ NULL, 0 },
};
static const struct enum_name discard_names[] = { { "old", CFG_DISCARD_OLD },
	                                          { "new", CFG_DISCARD_NEW },
	                                          { NULL, 0 } };
static const struct enum_name payload_names[] = { { "any", CFG_PAYLOAD_ANY },
	                                          { "json", CFG_PAYLOAD_JSON },
	                                          { NULL, 0 } };
static const struct enum_name isolation_names[] = { { "process", CFG_ISOLATION_PROCESS },
	                                            { "thread", CFG_ISOLATION_THREAD },
	                                            { NULL, 0 } };
static const struct enum_name format_names[] = { { "text", CFG_LOG_TEXT },
	                                         { "json", CFG_LOG_JSON },
	                                         { NULL, 0 } };
static const struct enum_name level_names[] = {
	{ "error", TJ_LOG_ERR }, { "warning", TJ_LOG_WARNING }, { "notice", TJ_LOG_NOTICE },
	{ "info", TJ_LOG_INFO }, { "debug", TJ_LOG_DEBUG },     { NULL, 0 },
};

#define HOUR ((int64_t)3600000)

/* ---- sections ------------------------------------------------------------ */

#define PATH_KEY(n, type, field)                                               \
	{                                                                      \
		.name = (n), .kind = KEY_PATH, .offset = offsetof(type, field) \
	}

/* "password" or "token" written into the file itself: secrets come only
 * from files only taskjet can read, so say where it belongs. */
static void
refuse_inline_secret(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	cfg_error_at(l, cfg_tok_off(v), path,
	             "secrets are not read from the config: put it alone in a file only taskjet "
	             "can read (mode 0600) and name that file in %s_file",
	             path);
}

static void
read_nats_tls(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		PATH_KEY("ca_file", struct cfg_nats_tls, ca_file),
		PATH_KEY("cert_file", struct cfg_nats_tls, cert_file),
		PATH_KEY("key_file", struct cfg_nats_tls, key_file),
		STR("server_name", struct cfg_nats_tls, server_name, cfg_check_printable, false),
	};
	const struct json_tok *found[N_SPECS(specs)];
	struct cfg_nats_tls *tls = &((struct cfg_nats *)target)->tls;
	char sub[PATH_LEN];

	if (!cfg_read_object(l, v, path, specs, N_SPECS(specs), tls, found))
		return;
	tls->enabled = true;
	/* A certificate is useless without its key, and the reverse. */
	for (int i = 1; i <= 2; i++) {
		if (found[i] == NULL || found[3 - i] != NULL)
			continue;
		cfg_key_path(sub, path, specs[i].name, strlen(specs[i].name));
		cfg_error_at(l, cfg_tok_off(found[i]), sub, "needs %s.%s too", path,
		             specs[3 - i].name);
	}
}

/* Which way of authenticating a nats section sets; one at most. */
static void
check_nats_auth(struct loader *l, const char *path, const struct json_tok *user,
                const struct json_tok *const *methods, const char *const *names, size_t n)
{
	const char *first = NULL;
	char sub[PATH_LEN];

	if (user != NULL && methods[0] == NULL) {
		cfg_key_path(sub, path, "user", 4);
		cfg_error_at(l, cfg_tok_off(user), sub,
		             "needs %s.password_file (the password is read from a file)", path);
	}
	if (user == NULL && methods[0] != NULL) {
		cfg_key_path(sub, path, names[0], strlen(names[0]));
		cfg_error_at(l, cfg_tok_off(methods[0]), sub, "needs %s.user", path);
	}
	for (size_t i = 0; i < n; i++) {
		if (methods[i] == NULL)
			continue;
		if (first == NULL) {
			first = names[i];
			continue;
		}
		cfg_key_path(sub, path, names[i], strlen(names[i]));
		cfg_error_at(l, cfg_tok_off(methods[i]), sub,
		             "only one way to authenticate may be set (%s.%s is set too): "
		             "user and password_file, token_file, nkey_seed_file or creds_file",
		             path, first);
	}
}

static void
read_nats(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		STR("url", struct cfg_nats, url, NULL, false),
		STR("name", struct cfg_nats, name, NULL, false),
		STR("user", struct cfg_nats, user, cfg_check_printable, false),
		PATH_KEY("password_file", struct cfg_nats, password_file),
		PATH_KEY("token_file", struct cfg_nats, token_file),
		PATH_KEY("nkey_seed_file", struct cfg_nats, nkey_seed_file),
		PATH_KEY("creds_file", struct cfg_nats, creds_file),
		CUSTOM("tls", read_nats_tls, false),
		DUR("connect_timeout", struct cfg_nats, connect_timeout_ms, 1, HOUR),
		DUR("reconnect_wait", struct cfg_nats, reconnect_wait_ms, 0, HOUR),
		DUR("reconnect_jitter", struct cfg_nats, reconnect_jitter_ms, 0, HOUR),
		CUSTOM("password", refuse_inline_secret, false),
		CUSTOM("token", refuse_inline_secret, false),
	};
	static const char *const methods[] = { "password_file", "token_file", "nkey_seed_file",
		                               "creds_file" };
	const struct json_tok *found[N_SPECS(specs)];

	if (!cfg_read_object(l, v, path, specs, N_SPECS(specs), &((struct cfg *)target)->nats,
	                     found))
		return;
	check_nats_auth(l, path, found[2], &found[3], methods, 4);
}

static void
read_memory(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		INT("capacity", KEY_SIZE_T, struct cfg_memory, capacity, 1, 10000000),
	};
	const struct json_tok *found[N_SPECS(specs)];

	cfg_read_object(l, v, path, specs, N_SPECS(specs), &((struct cfg *)target)->memory, found);
}

static void
read_log(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		ENUM("level", struct cfg_log, level, level_names),
		ENUM("format", struct cfg_log, format, format_names),
		{ .name = "file", .kind = KEY_PATH, .offset = offsetof(struct cfg_log, file) },
	};
	const struct json_tok *found[N_SPECS(specs)];

	cfg_read_object(l, v, path, specs, N_SPECS(specs), &((struct cfg *)target)->log, found);
}

int
cfg_parse_listen(const char *text, char *host, size_t host_len, int *port_r)
{
	const char *colon, *h = text, *h_end;
	unsigned char addr[16];
	char buf[64], *end;
	long port;

	if (text[0] == '[') {
		h = text + 1;
		h_end = strchr(h, ']');
		if (h_end == NULL || h_end[1] != ':')
			return -EINVAL;
		colon = h_end + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return -EINVAL;
		h_end = colon;
	}
	if ((size_t)(h_end - h) >= sizeof(buf) || h_end == h)
		return -EINVAL;
	memcpy(buf, h, (size_t)(h_end - h));
	buf[h_end - h] = '\0';
	if (strcmp(buf, "localhost") == 0)
		snprintf(buf, sizeof(buf), "127.0.0.1");
	if (inet_pton(text[0] == '[' ? AF_INET6 : AF_INET, buf, addr) != 1)
		return -EINVAL;
	if (colon[1] < '0' || colon[1] > '9')
		return -EINVAL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port < 0 || port > 65535)
		return -EINVAL;
	if (strlen(buf) >= host_len)
		return -EINVAL;
	snprintf(host, host_len, "%s", buf);
	*port_r = (int)port;
	return 0;
}

/* http.listen: an address, or "" / "off" to disable the endpoint. */
static void
read_http_listen(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg_http *http = target;
	char host[64], shown[80];
	char *s = NULL;
	int port;

	if (!cfg_expect_type(l, v, JSON_STRING, path, "a string"))
		return;
	if (json_get_string(&l->doc, v, &s) < 0) {
		cfg_error_at(l, cfg_tok_off(v), path, "cannot decode the string");
		return;
	}
	free(http->listen);
	http->listen = NULL;
	http->listen_set = true;
	if (*s == '\0' || strcmp(s, "off") == 0) {
		free(s);
		return;
	}
	if (cfg_parse_listen(s, host, sizeof(host), &port) < 0) {
		cfg_error_at(l, cfg_tok_off(v), path,
		             "\"%s\" is not an address such as \"127.0.0.1:8394\", "
		             "\"[::1]:8394\" or \"0.0.0.0:8394\" (all interfaces), or \"off\"",
		             cfg_show(shown, sizeof(shown), s));
		free(s);
		return;
	}
	http->listen = s;
}

/* A DNS name as a Host header carries it (no port, no address). */
static const char *
check_host_name(const char *s)
{
	if (strlen(s) > 253)
		return "is longer than 253 bytes";
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '.' || *p == '_'))
			return "must be a host name (letters, digits, '-', '.', '_'; no port)";
	return NULL;
}

/* http.hosts: an array of host names. */
static void
read_http_hosts(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg_http *http = target;
	const struct json_tok *t;
	char sub[PATH_LEN];
	int i;

	if (!cfg_expect_type(l, v, JSON_ARRAY, path, "an array of host names"))
		return;
	http->hosts = xcalloc((size_t)v->size + 1, sizeof(*http->hosts));
	json_for_each_item(i, t, v)
	{
		char *s;

		cfg_index_path(sub, path, i);
		s = cfg_read_string(l, t, sub, check_host_name);
		if (s != NULL)
			http->hosts[http->host_count++] = s;
	}
}

static void
read_http(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		{ .name = "listen", .kind = KEY_CUSTOM, .custom = read_http_listen },
		{ .name = "token_file",
		  .kind = KEY_PATH,
		  .offset = offsetof(struct cfg_http, token_file) },
		INT("max_body", KEY_SIZE, struct cfg_http, max_body, 1, (int64_t)1 << 30),
		CUSTOM("hosts", read_http_hosts, false),
	};
	const struct json_tok *found[N_SPECS(specs)];

	cfg_read_object(l, v, path, specs, N_SPECS(specs), &((struct cfg *)target)->http, found);
}

static void
read_dlq(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		STR("stream", struct cfg_dlq, stream, check_name, false),
		STR("subject_prefix", struct cfg_dlq, subject_prefix, check_literal_subject, false),
		ENUM("storage", struct cfg_dlq, storage, storage_names),
		DUR("max_age", struct cfg_dlq, max_age_ms, 0, CFG_DURATION_MAX_MS),
		{ .name = "max_msgs",
		  .kind = KEY_I64,
		  .offset = offsetof(struct cfg_dlq, max_msgs),
		  .min = -1,
		  .max = INT64_MAX,
		  .no_zero = true },
		{ .name = "max_bytes",
		  .kind = KEY_SIZE,
		  .offset = offsetof(struct cfg_dlq, max_bytes),
		  .min = -1,
		  .max = INT64_MAX,
		  .no_zero = true },
		INT("replicas", KEY_INT, struct cfg_dlq, replicas, 1, 5),
		STR("advisory_stream", struct cfg_dlq, advisory_stream, check_name, false),
	};
	const struct json_tok *found[N_SPECS(specs)];

	if (!cfg_read_object(l, v, path, specs, N_SPECS(specs), &((struct cfg *)target)->dlq,
	                     found))
		return;
	l->dlq_stream = found[0] ? cfg_tok_off(found[0]) : SIZE_MAX;
	l->dlq_prefix = found[1] ? cfg_tok_off(found[1]) : SIZE_MAX;
	l->dlq_adv = found[7] ? cfg_tok_off(found[7]) : SIZE_MAX;
}

static void
read_subjects(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg_stream *st = target;
	struct stream_pos *sp = &l->spos[st - l->cfg->streams];
	const struct json_tok *t;
	char sub[PATH_LEN];
	int i;

	if (!cfg_expect_type(l, v, JSON_ARRAY, path, "an array of subjects"))
		return;
	if (v->size == 0) {
		cfg_error_at(l, cfg_tok_off(v), path, "must list at least one subject");
		return;
	}
	st->subjects = xcalloc((size_t)v->size, sizeof(*st->subjects));
	sp->subjects = xcalloc((size_t)v->size, sizeof(*sp->subjects));
	sp->subjects_ok = true;
	json_for_each_item(i, t, v)
	{
		char *s;

		cfg_index_path(sub, path, i);
		s = cfg_read_string(l, t, sub, check_subject);
		if (s == NULL) {
			sp->subjects_ok = false;
			continue;
		}
		for (size_t j = 0; j < st->subject_count; j++)
			if (strcmp(st->subjects[j], s) == 0) {
				cfg_error_at(l, cfg_tok_off(t), sub, "duplicate subject \"%s\"", s);
				free(s);
				s = NULL;
				break;
			}
		if (s == NULL)
			continue;
		sp->subjects[st->subject_count] = cfg_tok_off(t);
		st->subjects[st->subject_count++] = s;
	}
}

static void
read_stream(struct loader *l, const struct json_tok *v, const char *path, struct cfg_stream *st)
{
	static const struct key_spec specs[] = {
		STR("name", struct cfg_stream, name, check_name, true),
		CUSTOM("subjects", read_subjects, true),
		ENUM("storage", struct cfg_stream, storage, storage_names),
		ENUM("retention", struct cfg_stream, retention, retention_names),
		DUR("max_age", struct cfg_stream, max_age_ms, 0, CFG_DURATION_MAX_MS),
		{ .name = "max_msgs",
		  .kind = KEY_I64,
		  .offset = offsetof(struct cfg_stream, max_msgs),
		  .min = -1,
		  .max = INT64_MAX,
		  .no_zero = true },
		{ .name = "max_bytes",
		  .kind = KEY_SIZE,
		  .offset = offsetof(struct cfg_stream, max_bytes),
		  .min = -1,
		  .max = INT64_MAX,
		  .no_zero = true },
		ENUM("discard", struct cfg_stream, discard, discard_names),
		INT("replicas", KEY_INT, struct cfg_stream, replicas, 1, 5),
		DUR("duplicate_window", struct cfg_stream, duplicate_window_ms, 1,
		    CFG_DURATION_MAX_MS),
	};
	const struct json_tok *found[N_SPECS(specs)];
	struct stream_pos *sp = &l->spos[st - l->cfg->streams];

	st->storage = CFG_DEFAULT_STORAGE;
	st->retention = CFG_DEFAULT_RETENTION;
	st->max_age_ms = CFG_DEFAULT_MAX_AGE_MS;
	st->max_msgs = CFG_DEFAULT_MAX_MSGS;
	st->max_bytes = CFG_DEFAULT_MAX_BYTES;
	st->discard = CFG_DEFAULT_DISCARD;
	st->replicas = CFG_DEFAULT_REPLICAS;
	st->duplicate_window_ms = CFG_DEFAULT_DUPLICATE_WINDOW_MS;
	sp->obj = cfg_tok_off(v);
	if (!cfg_read_object(l, v, path, specs, N_SPECS(specs), st, found))
		return;
	sp->name = found[0] ? cfg_tok_off(found[0]) : sp->obj;
	/* The server refuses a duplicate window longer than the stream keeps
	 * messages. */
	if (st->max_age_ms > 0 && st->duplicate_window_ms > st->max_age_ms) {
		char sub[PATH_LEN], a[48], b[48];

		cfg_key_path(sub, path, "duplicate_window", 16);
		cfg_error_at(l, found[9] ? cfg_tok_off(found[9]) : cfg_tok_off(found[4]), sub,
		             "%s is longer than max_age %s",
		             cfg_fmt_duration(a, sizeof(a), st->duplicate_window_ms),
		             cfg_fmt_duration(b, sizeof(b), st->max_age_ms));
	}
}

static void
read_streams(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg *cfg = target;
	const struct json_tok *t;
	char sub[PATH_LEN];
	int i;

	if (!cfg_expect_type(l, v, JSON_ARRAY, path, "an array of streams"))
		return;
	if (v->size == 0) {
		cfg_error_at(l, cfg_tok_off(v), path, "must list at least one stream");
		return;
	}
	cfg->streams = xcalloc((size_t)v->size, sizeof(*cfg->streams));
	l->spos = xcalloc((size_t)v->size, sizeof(*l->spos));
	cfg->stream_count = (size_t)v->size;
	/* Without every stream's name, "no such stream" would be guesswork. */
	l->streams_ok = true;
	json_for_each_item(i, t, v)
	{
		cfg_index_path(sub, path, i);
		read_stream(l, t, sub, &cfg->streams[i]);
		if (cfg->streams[i].name == NULL)
			l->streams_ok = false;
	}
}

static void
read_backoff(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		DUR("initial", struct cfg_backoff, initial_ms, 1, CFG_DURATION_MAX_MS),
		{ .name = "multiplier",
		  .kind = KEY_DOUBLE,
		  .offset = offsetof(struct cfg_backoff, multiplier),
		  .dmin = 1,
		  .dmax = 100 },
		DUR("max", struct cfg_backoff, max_ms, 1, CFG_DURATION_MAX_MS),
		{ .name = "jitter",
		  .kind = KEY_DOUBLE,
		  .offset = offsetof(struct cfg_backoff, jitter),
		  .dmin = 0,
		  .dmax = 1 },
	};
	const struct json_tok *found[N_SPECS(specs)];
	struct cfg_backoff *b = &((struct cfg_route *)target)->backoff;
	char sub[PATH_LEN], x[48], y[48], z[48];
	double reach;

	if (!cfg_read_object(l, v, path, specs, N_SPECS(specs), b, found))
		return;
	/* The jittered delay goes to the server in nanoseconds too. Only a
	 * max from the file gets near the limit. */
	reach = (double)b->max_ms * (1.0 + b->jitter);
	if (found[2] != NULL && reach > (double)CFG_DURATION_MAX_MS) {
		cfg_key_path(sub, path, "max", 3);
		cfg_error_at(l, cfg_tok_off(found[2]), sub,
		             "%s with jitter %g reaches %s, longer than the server can hold "
		             "(at most %s, 2^63-1 nanoseconds)",
		             cfg_fmt_duration(x, sizeof(x), b->max_ms), b->jitter,
		             cfg_fmt_duration(y, sizeof(y), (int64_t)reach),
		             cfg_fmt_duration(z, sizeof(z), CFG_DURATION_MAX_MS));
		return;
	}
	if (b->max_ms >= b->initial_ms)
		return;
	if (found[2] != NULL) {
		cfg_key_path(sub, path, "max", 3);
		cfg_error_at(l, cfg_tok_off(found[2]), sub, "%s is shorter than initial %s",
		             cfg_fmt_duration(x, sizeof(x), b->max_ms),
		             cfg_fmt_duration(y, sizeof(y), b->initial_ms));
	} else {
		cfg_key_path(sub, path, "initial", 7);
		cfg_error_at(l, cfg_tok_off(found[0]), sub, "%s is longer than max (default %s)",
		             cfg_fmt_duration(x, sizeof(x), b->initial_ms),
		             cfg_fmt_duration(y, sizeof(y), b->max_ms));
	}
}

/* A route's "limits": what each of its worker processes may use. */
static void
read_limits(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	static const struct key_spec specs[] = {
		INT("memory", KEY_SIZE, struct cfg_limits, memory_bytes, (int64_t)16 << 20,
		    (int64_t)1024 << 30),
		DUR("cpu", struct cfg_limits, cpu_ms, 1000, 1000 * HOUR),
		INT("open_files", KEY_INT, struct cfg_limits, open_files, 16, 1048576),
	};
	const struct json_tok *found[N_SPECS(specs)];
	struct cfg_route *r = target;

	cfg_read_object(l, v, path, specs, N_SPECS(specs), &r->limits, found);
	l->rpos[r - l->cfg->routes].limits = cfg_tok_off(v);
}

static void
read_route_config(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg_route *r = target;

	if (!cfg_expect_type(l, v, JSON_OBJECT, path, "an object"))
		return;
	free(r->config_json);
	r->config_json_len = (size_t)(v->end - v->start);
	r->config_json = xstrndup(l->text + v->start, r->config_json_len);
}

static void
read_route(struct loader *l, const struct json_tok *v, const char *path, struct cfg_route *r)
{
	static const struct key_spec specs[] = {
		STR("name", struct cfg_route, name, check_name, true),
		STR("stream", struct cfg_route, stream, check_name, true),
		STR("subject", struct cfg_route, subject, check_subject, true),
		STR("consumer", struct cfg_route, consumer, check_name, false),
		STR("plugin", struct cfg_route, plugin, check_stem, true),
		STR("handler", struct cfg_route, handler, cfg_check_printable, false),
		INT("concurrency", KEY_INT, struct cfg_route, concurrency, 1, 256),
		INT("max_attempts", KEY_INT, struct cfg_route, max_attempts, 1, 1000),
		DUR("ack_wait", struct cfg_route, ack_wait_ms, 1000, CFG_DURATION_MAX_MS),
		INT("batch", KEY_INT, struct cfg_route, batch, 1, 1000),
		INT("prefetch", KEY_INT, struct cfg_route, prefetch, 1, 10000),
		DUR("fetch_wait", struct cfg_route, fetch_wait_ms, 10, 60000),
		INT("max_ack_pending", KEY_I64, struct cfg_route, max_ack_pending, 1, 10000000),
		ENUM("payload", struct cfg_route, payload, payload_names),
		INT("payload_max_depth", KEY_INT, struct cfg_route, payload_max_depth, 1,
		    JSON_MAX_DEPTH_LIMIT),
		ENUM("isolation", struct cfg_route, isolation, isolation_names),
		DUR("timeout", struct cfg_route, timeout_ms, 10, 1000 * HOUR),
		CUSTOM("limits", read_limits, false),
		CUSTOM("backoff", read_backoff, false),
		CUSTOM("config", read_route_config, false),
	};
	const struct json_tok *found[N_SPECS(specs)];
	struct route_pos *rp = &l->rpos[r - l->cfg->routes];

	r->concurrency = CFG_DEFAULT_CONCURRENCY;
	r->max_attempts = CFG_DEFAULT_MAX_ATTEMPTS;
	r->ack_wait_ms = CFG_DEFAULT_ACK_WAIT_MS;
	r->batch = CFG_DEFAULT_BATCH;
	r->fetch_wait_ms = CFG_DEFAULT_FETCH_WAIT_MS;
	r->payload = CFG_DEFAULT_PAYLOAD;
	r->payload_max_depth = CFG_DEFAULT_PAYLOAD_MAX_DEPTH;
	r->isolation = CFG_DEFAULT_ISOLATION;
	r->timeout_ms = CFG_DEFAULT_TIMEOUT_MS;
	r->backoff.initial_ms = CFG_DEFAULT_BACKOFF_INITIAL_MS;
	r->backoff.multiplier = CFG_DEFAULT_BACKOFF_MULTIPLIER;
	r->backoff.max_ms = CFG_DEFAULT_BACKOFF_MAX_MS;
	r->backoff.jitter = CFG_DEFAULT_BACKOFF_JITTER;
	rp->obj = cfg_tok_off(v);
	rp->limits = SIZE_MAX;
	if (!cfg_read_object(l, v, path, specs, N_SPECS(specs), r, found))
		return;
	rp->name = found[0] ? cfg_tok_off(found[0]) : rp->obj;
	rp->stream = found[1] ? cfg_tok_off(found[1]) : rp->obj;
	rp->subject = found[2] ? cfg_tok_off(found[2]) : rp->obj;
	rp->has_consumer = found[3] != NULL;
	rp->consumer = found[3] ? cfg_tok_off(found[3]) : rp->name;
}

static void
read_routes(struct loader *l, const struct json_tok *v, const char *path, void *target)
{
	struct cfg *cfg = target;
	const struct json_tok *t;
	char sub[PATH_LEN];
	int i;

	if (!cfg_expect_type(l, v, JSON_ARRAY, path, "an array of routes"))
		return;
	if (v->size == 0) {
		cfg_error_at(l, cfg_tok_off(v), path, "must list at least one route");
		return;
	}
	cfg->routes = xcalloc((size_t)v->size, sizeof(*cfg->routes));
	l->rpos = xcalloc((size_t)v->size, sizeof(*l->rpos));
	cfg->route_count = (size_t)v->size;
	json_for_each_item(i, t, v)
	{
		cfg_index_path(sub, path, i);
		read_route(l, t, sub, &cfg->routes[i]);
	}
}

void
cfg_read_top(struct loader *l, const struct json_tok *root)
{
	static const struct key_spec specs[] = {
		CUSTOM("nats", read_nats, false),
		ENUM("backend", struct cfg, backend, cfg_backend_names),
		{ .name = "plugin_dir",
		  .kind = KEY_PATH,
		  .offset = offsetof(struct cfg, plugin_dir) },
		{ .name = "state_dir",
		  .kind = KEY_PATH,
		  .offset = offsetof(struct cfg, state_dir) },
		STR("worker_id", struct cfg, worker_id, cfg_check_printable, false),
		DUR("shutdown_grace", struct cfg, shutdown_grace_ms, 0, HOUR),
		CUSTOM("memory", read_memory, false),
		CUSTOM("log", read_log, false),
		CUSTOM("http", read_http, false),
		CUSTOM("streams", read_streams, true),
		CUSTOM("dlq", read_dlq, false),
		CUSTOM("routes", read_routes, true),
	};
	const struct json_tok *found[N_SPECS(specs)];

	cfg_read_object(l, root, "", specs, N_SPECS(specs), l->cfg, found);
}
