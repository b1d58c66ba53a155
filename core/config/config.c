/* SPDX-License-Identifier: MIT */
/*
 * Load the JSON configuration, validate all of it, report every problem:
 * the entry points, the defaults, the environment overrides and paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/internal.h"
#include "util/subject.h"
#include "util/xalloc.h"

#ifndef PLUGINDIR
#error "PLUGINDIR must be defined on the command line"
#endif

/* Same cap as json_parse(); checked before reading the file. */
#define MAX_FILE_SIZE ((off_t)64 << 20)

/* ---- defaults, environment, paths ------------------------------------------ */

static void
apply_env(struct loader *l)
{
	struct cfg *cfg = l->cfg;
	char shown[80];
	const char *v, *why;

	v = getenv("NATS_URL");
	if (v != NULL) {
		if (*v == '\0') {
			cfg_error_plain(l, "NATS_URL", "must not be empty");
		} else {
			free(cfg->nats.url);
			cfg->nats.url = xstrdup(v);
		}
	}
	v = getenv("TASKJET_WORKER_ID");
	if (v != NULL) {
		if (*v == '\0')
			cfg_error_plain(l, "TASKJET_WORKER_ID", "must not be empty");
		else if ((why = cfg_check_printable(v)) != NULL)
			cfg_error_plain(l, "TASKJET_WORKER_ID", "\"%s\" %s",
			                cfg_show(shown, sizeof(shown), v), why);
		else {
			free(cfg->worker_id);
			cfg->worker_id = xstrdup(v);
		}
	}
	v = getenv("TASKJET_BACKEND");
	if (v != NULL && cfg_backend_parse(v, &cfg->backend) < 0) {
		char choices[128];

		cfg_backend_choices(choices, sizeof(choices));
		cfg_error_plain(l, "TASKJET_BACKEND", "must be %s, got \"%s\"", choices,
		                cfg_show(shown, sizeof(shown), v));
	}
}

/* Replace *dir by the environment variable `name` when it is set and not empty. */
static void
apply_env_dir(char **dir, const char *name)
{
	const char *v = getenv(name);
	char *cwd;

	if (v == NULL || *v == '\0')
		return;
	free(*dir);
	/* Absolute now: the engine later works inside state_dir. */
	cwd = v[0] == '/' ? NULL : getcwd(NULL, 0);
	if (cwd != NULL && asprintf(dir, "%s/%s", cwd, v) >= 0) {
		free(cwd);
		return;
	}
	free(cwd);
	*dir = xstrdup(v);
}

/* Absolute directory holding the config file named `name`. */
static int
config_dir(const char *name, char **dir_r)
{
	const char *slash = strrchr(name, '/');
	char *dir, *cwd;
	size_t n;

	if (slash == name)
		dir = xstrdup("/");
	else if (slash != NULL)
		dir = xstrndup(name, (size_t)(slash - name));
	else
		dir = xstrdup(".");
	if (dir[0] == '/') {
		*dir_r = dir;
		return 0;
	}
	cwd = getcwd(NULL, 0);
	if (cwd == NULL) {
		int err = -errno;

		free(dir);
		return err;
	}
	if (strcmp(dir, ".") == 0) {
		free(dir);
		*dir_r = cwd;
		return 0;
	}
	n = strlen(cwd) + strlen(dir) + 2;
	*dir_r = xmalloc(n);
	snprintf(*dir_r, n, "%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/",
	         strncmp(dir, "./", 2) == 0 ? dir + 2 : dir);
	free(cwd);
	free(dir);
	return 0;
}

/* Make *p absolute against `dir`. */
static void
resolve(char **p, const char *dir)
{
	const char *rel = *p;
	char *abs;
	size_t n;

	if (rel == NULL || rel[0] == '/')
		return;
	while (strncmp(rel, "./", 2) == 0)
		rel += 2;
	if (strcmp(rel, ".") == 0 || *rel == '\0') {
		abs = xstrdup(dir);
	} else {
		n = strlen(dir) + strlen(rel) + 2;
		abs = xmalloc(n);
		snprintf(abs, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
	}
	free(*p);
	*p = abs;
}

static char *
host_name(void)
{
	char buf[256];

	/* POSIX leaves truncation unterminated; force the NUL. */
	if (gethostname(buf, sizeof(buf) - 1) < 0 || buf[0] == '\0')
		return xstrdup("localhost");
	buf[sizeof(buf) - 1] = '\0';
	return xstrdup(buf);
}

struct cfg_dlq
cfg_dlq_defaults(void)
{
	return (struct cfg_dlq){
		.stream = (char *)CFG_DEFAULT_DLQ_STREAM,
		.subject_prefix = (char *)CFG_DEFAULT_DLQ_SUBJECT_PREFIX,
		.storage = CFG_DEFAULT_STORAGE,
		.max_age_ms = CFG_DEFAULT_MAX_AGE_MS,
		.max_msgs = CFG_DEFAULT_MAX_MSGS,
		.max_bytes = CFG_DEFAULT_MAX_BYTES,
		.replicas = CFG_DEFAULT_REPLICAS,
		.advisory_stream = (char *)CFG_DEFAULT_ADVISORY_STREAM,
	};
}

int
cfg_backend_parse(const char *name, enum cfg_backend *backend_r)
{
	for (const struct enum_name *e = cfg_backend_names; e->name != NULL; e++)
		if (strcmp(name, e->name) == 0) {
			*backend_r = (enum cfg_backend)e->value;
			return 0;
		}
	return -EINVAL;
}

const char *
cfg_backend_name(enum cfg_backend backend)
{
	for (const struct enum_name *e = cfg_backend_names; e->name != NULL; e++)
		if (e->value == (int)backend)
			return e->name;
	return "?";
}

void
cfg_backend_choices(char *buf, size_t len)
{
	size_t n = 0, used = 0;

	while (cfg_backend_names[n].name != NULL)
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s\"%s\"",
		                 i == 0       ? ""
		                 : i + 1 == n ? " or "
		                              : ", ",
		                 cfg_backend_names[i].name);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

const char *
cfg_dlq_stream(const struct cfg_dlq *dlq)
{
	return dlq != NULL && dlq->stream != NULL && dlq->stream[0] != '\0'
	           ? dlq->stream
	           : CFG_DEFAULT_DLQ_STREAM;
}

const char *
cfg_dlq_prefix(const struct cfg_dlq *dlq)
{
	return dlq != NULL && dlq->subject_prefix != NULL && dlq->subject_prefix[0] != '\0'
	           ? dlq->subject_prefix
	           : CFG_DEFAULT_DLQ_SUBJECT_PREFIX;
}

static void
set_defaults(struct cfg *cfg)
{
	cfg->nats.connect_timeout_ms = CFG_DEFAULT_CONNECT_TIMEOUT_MS;
	cfg->nats.reconnect_wait_ms = CFG_DEFAULT_RECONNECT_WAIT_MS;
	cfg->nats.reconnect_jitter_ms = CFG_DEFAULT_RECONNECT_JITTER_MS;
	cfg->backend = CFG_DEFAULT_BACKEND;
	cfg->shutdown_grace_ms = CFG_DEFAULT_SHUTDOWN_GRACE_MS;
	cfg->memory.capacity = CFG_DEFAULT_MEMORY_CAPACITY;
	cfg->log.level = CFG_DEFAULT_LOG_LEVEL;
	cfg->log.format = CFG_DEFAULT_LOG_FORMAT;
	cfg->http.max_body = CFG_DEFAULT_HTTP_MAX_BODY;
	/* The file's values replace (and free) these strings. */
	cfg->dlq = cfg_dlq_defaults();
	cfg->dlq.stream = xstrdup(cfg->dlq.stream);
	cfg->dlq.subject_prefix = xstrdup(cfg->dlq.subject_prefix);
	cfg->dlq.advisory_stream = xstrdup(cfg->dlq.advisory_stream);
}

/* Defaults that depend on other values, filled in after parsing. */
static void
derive_defaults(struct cfg *cfg)
{
	if (cfg->plugin_dir == NULL)
		cfg->plugin_dir = xstrdup(PLUGINDIR);
	if (cfg->state_dir == NULL)
		cfg->state_dir = xstrdup(CFG_DEFAULT_STATE_DIR);
	if (cfg->http.listen == NULL && !cfg->http.listen_set)
		cfg->http.listen = xstrdup(CFG_DEFAULT_HTTP_LISTEN);
	if (cfg->worker_id == NULL)
		cfg->worker_id = host_name();
	if (cfg->nats.name == NULL)
		cfg->nats.name = cfg_prefixed(CFG_DEFAULT_NAME_PREFIX, cfg->worker_id);
	for (size_t i = 0; i < cfg->route_count; i++) {
		struct cfg_route *r = &cfg->routes[i];

		if (r->consumer == NULL && r->name != NULL)
			r->consumer = cfg_prefixed(CFG_DEFAULT_NAME_PREFIX, r->name);
		if (r->handler == NULL && r->plugin != NULL)
			r->handler = xstrdup(r->plugin);
		if (r->prefetch == 0) {
			r->prefetch = 2 * r->batch > 10000 ? 10000 : 2 * r->batch;
			r->prefetch_auto = true;
		}
		if (r->max_ack_pending == 0)
			r->max_ack_pending = cfg_route_default_max_ack_pending(r);
		if (r->config_json == NULL) {
			r->config_json = xstrdup(CFG_DEFAULT_ROUTE_CONFIG);
			r->config_json_len = strlen(CFG_DEFAULT_ROUTE_CONFIG);
		}
	}
}

/* ---- entry points ---------------------------------------------------------- */

int
cfg_load_buffer(const char *name, const char *text, size_t len, char **errors_r, struct cfg **cfg_r)
{
	struct loader l = {
		.name = name, .dlq_stream = SIZE_MAX, .dlq_prefix = SIZE_MAX, .dlq_adv = SIZE_MAX
	};
	struct cfg *cfg = xcalloc(1, sizeof(*cfg));
	char *dir = NULL;
	struct json_error jerr = { 0 };
	int ret;

	l.cfg = cfg;
	cfg->path = xstrdup(name);
	set_defaults(cfg);
	ret = cfg_parse_text(&l, text, len, &jerr);
	if (ret < 0) {
		/* Positions need the text even though the parse failed. */
		struct json_doc raw = { .text = text, .len = len };

		l.doc = raw;
		if (ret == -ENOMEM || len > ((size_t)64 << 20))
			cfg_error_plain(&l, "(root)", "%s",
			                ret == -ENOMEM ? "out of memory" : "larger than 64 MiB");
		else
			cfg_error_at(&l, jerr.offset, "(root)", "invalid JSON: %s", jerr.what);
		l.doc.toks = NULL;
		ret = ret == -ENOMEM ? -ENOMEM : -EINVAL;
		goto out;
	}
	if (l.doc.toks[0].type != JSON_OBJECT) {
		cfg_error_at(&l, cfg_tok_off(&l.doc.toks[0]), "", "expected an object, got %s",
		             cfg_kind_name(&l, &l.doc.toks[0]));
		ret = -EINVAL;
		goto out;
	}
	cfg_read_top(&l, &l.doc.toks[0]);
	/* Before the derived defaults: the connection name follows an
	 * overridden worker id. */
	apply_env(&l);
	derive_defaults(cfg);
	cfg_check_streams(&l);
	cfg_check_routes(&l);
	if (l.nerrs > 0) {
		ret = -EINVAL;
		goto out;
	}
	ret = config_dir(name, &dir);
	if (ret < 0) {
		cfg_error_plain(&l, "(paths)", "cannot resolve relative paths: %s", strerror(-ret));
		goto out;
	}
	resolve(&cfg->plugin_dir, dir);
	resolve(&cfg->state_dir, dir);
	resolve(&cfg->log.file, dir);
	resolve(&cfg->nats.password_file, dir);
	resolve(&cfg->nats.token_file, dir);
	resolve(&cfg->nats.nkey_seed_file, dir);
	resolve(&cfg->nats.creds_file, dir);
	resolve(&cfg->nats.tls.ca_file, dir);
	resolve(&cfg->nats.tls.cert_file, dir);
	resolve(&cfg->nats.tls.key_file, dir);
	resolve(&cfg->http.token_file, dir);
	/* Directory overrides are the caller's paths, relative to the working
	 * directory: they let one config run from a build tree or a test dir. */
	apply_env_dir(&cfg->plugin_dir, "TASKJET_PLUGIN_DIR");
	apply_env_dir(&cfg->state_dir, "TASKJET_STATE_DIR");
	*cfg_r = cfg;
	cfg = NULL;
	ret = 0;
out:
	if (ret < 0 && errors_r != NULL && l.errs != NULL) {
		*errors_r = l.errs;
		l.errs = NULL;
	}
	free(l.errs);
	free(dir);
	if (l.spos != NULL)
		for (size_t i = 0; i < l.cfg->stream_count; i++)
			free(l.spos[i].subjects);
	free(l.spos);
	free(l.rpos);
	json_doc_free(&l.doc);
	free(l.nul_free_text);
	free(l.nuls);
	cfg_free(cfg);
	return ret;
}

int
cfg_load_defaults(char **errors_r, struct cfg **cfg_r)
{
	struct loader l = { .name = "(no config file)",
		            .dlq_stream = SIZE_MAX,
		            .dlq_prefix = SIZE_MAX,
		            .dlq_adv = SIZE_MAX };
	struct cfg *cfg = xcalloc(1, sizeof(*cfg));
	int ret = 0;

	l.cfg = cfg;
	cfg->path = xstrdup(l.name);
	set_defaults(cfg);
	apply_env(&l);
	derive_defaults(cfg);
	apply_env_dir(&cfg->plugin_dir, "TASKJET_PLUGIN_DIR");
	apply_env_dir(&cfg->state_dir, "TASKJET_STATE_DIR");
	if (l.nerrs > 0) {
		ret = -EINVAL;
		if (errors_r != NULL) {
			*errors_r = l.errs;
			l.errs = NULL;
		}
		goto out;
	}
	*cfg_r = cfg;
	cfg = NULL;
out:
	free(l.errs);
	cfg_free(cfg);
	return ret;
}

static void
io_error(const char *path, const char *what, int err, char **errors_r)
{
	size_t n;

	if (errors_r == NULL)
		return;
	n = strlen(path) + strlen(what) + strlen(strerror(err)) + 8;
	*errors_r = xmalloc(n);
	snprintf(*errors_r, n, "%s: %s: %s\n", path, what, strerror(err));
}

int
cfg_load(const char *path, char **errors_r, struct cfg **cfg_r)
{
	struct stat st;
	char *text = NULL;
	size_t off = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		io_error(path, "cannot open", -ret, errors_r);
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		io_error(path, "cannot stat", -ret, errors_r);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		io_error(path, "cannot read", EISDIR, errors_r);
		goto out;
	}
	if (st.st_size > MAX_FILE_SIZE) {
		ret = -EFBIG;
		io_error(path, "cannot read", EFBIG, errors_r);
		goto out;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, text + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			io_error(path, "cannot read", -ret, errors_r);
			goto out;
		}
		if (n == 0)
			break; /* shrank under us: parse what is there */
		off += (size_t)n;
	}
	ret = cfg_load_buffer(path, text, off, errors_r, cfg_r);
out:
	free(text);
	close(fd);
	return ret;
}

void
cfg_free(struct cfg *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->nats.url);
	free(cfg->nats.name);
	free(cfg->nats.user);
	free(cfg->nats.password_file);
	free(cfg->nats.token_file);
	free(cfg->nats.nkey_seed_file);
	free(cfg->nats.creds_file);
	free(cfg->nats.tls.ca_file);
	free(cfg->nats.tls.cert_file);
	free(cfg->nats.tls.key_file);
	free(cfg->nats.tls.server_name);
	free(cfg->plugin_dir);
	free(cfg->state_dir);
	free(cfg->worker_id);
	free(cfg->log.file);
	free(cfg->http.listen);
	free(cfg->http.token_file);
	for (size_t i = 0; i < cfg->http.host_count; i++)
		free(cfg->http.hosts[i]);
	free(cfg->http.hosts);
	for (size_t i = 0; i < cfg->stream_count; i++) {
		struct cfg_stream *st = &cfg->streams[i];

		free(st->name);
		for (size_t j = 0; j < st->subject_count; j++)
			free(st->subjects[j]);
		free(st->subjects);
	}
	free(cfg->streams);
	free(cfg->dlq.stream);
	free(cfg->dlq.subject_prefix);
	free(cfg->dlq.advisory_stream);
	for (size_t i = 0; i < cfg->route_count; i++) {
		struct cfg_route *r = &cfg->routes[i];

		free(r->name);
		free(r->stream);
		free(r->subject);
		free(r->consumer);
		free(r->plugin);
		free(r->handler);
		free(r->config_json);
	}
	free(cfg->routes);
	free(cfg);
}

int64_t
cfg_route_default_max_ack_pending(const struct cfg_route *route)
{
	int64_t n =
	    (int64_t)route->concurrency * route->batch * CFG_DEFAULT_MAX_ACK_PENDING_PER_BATCH;

	return n > CFG_DEFAULT_MAX_ACK_PENDING_MIN ? n : CFG_DEFAULT_MAX_ACK_PENDING_MIN;
}

const struct cfg_stream *
cfg_route_stream(const struct cfg *cfg, const struct cfg_route *route)
{
	return cfg_find_stream(cfg, route->stream);
}

const struct cfg_stream *
cfg_stream_for_subject(const struct cfg *cfg, const char *subject)
{
	for (size_t i = 0; i < cfg->stream_count; i++)
		for (size_t j = 0; j < cfg->streams[i].subject_count; j++)
			if (subject_matches(cfg->streams[i].subjects[j], subject))
				return &cfg->streams[i];
	return NULL;
}

int
cfg_task_subject_check(const struct cfg *cfg, const char *subject, const struct cfg_route **route_r,
                       char *why, size_t why_len)
{
	char shown[128];

	if (subject == NULL || !subject_valid(subject, false)) {
		if (why != NULL && why_len > 0)
			snprintf(why, why_len,
			         "subject \"%s\" is not a valid NATS subject (no wildcards, no "
			         "empty tokens)",
			         cfg_show(shown, sizeof(shown), subject != NULL ? subject : ""));
		return -EINVAL;
	}
	/* A route's subject is covered by its stream's (checked at load), so
	 * a matching route means a configured work stream takes it too. */
	for (size_t i = 0; i < cfg->route_count; i++) {
		if (subject_matches(cfg->routes[i].subject, subject)) {
			if (route_r != NULL)
				*route_r = &cfg->routes[i];
			return 0;
		}
	}
	if (why != NULL && why_len > 0)
		snprintf(why, why_len, "no configured route consumes subject \"%s\"%s",
		         cfg_show(shown, sizeof(shown), subject),
		         cfg->route_count == 0 ? " (no routes are configured: give the engine's "
		                                 "config)"
		                               : "");
	return -EPERM;
}
