/* SPDX-License-Identifier: MIT */
/* Configuration loading: defaults, every error class, env, paths, units. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <taskjet/plugin.h>

#include "config/config.h"
#include "testing.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A complete, minimal valid config. */
#define MIN_STREAMS "\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\"]}]"
#define MIN_ROUTE "{\"name\":\"r\",\"stream\":\"S\",\"subject\":\"s.a\",\"plugin\":\"p\""
#define MIN_CONFIG "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}"

static void
clear_env(void)
{
	unsetenv("NATS_URL");
	unsetenv("TASKJET_WORKER_ID");
	unsetenv("TASKJET_BACKEND");
}

static int
load(const char *name, const char *text, char **errors_r, struct cfg **cfg_r)
{
	*errors_r = NULL;
	*cfg_r = NULL;
	return cfg_load_buffer(name, text, strlen(text), errors_r, cfg_r);
}

/* Load `text` (as "t.json", without environment overrides), which must be
 * valid; NULL after a failed check if it is not. */
#define load_valid(text) load_valid_at(__FILE__, __LINE__, (text))
static struct cfg *
load_valid_at(const char *file, int line, const char *text)
{
	char *errors;
	struct cfg *cfg;
	int r;

	clear_env();
	r = load("t.json", text, &errors, &cfg);
	if (r != 0 || errors != NULL)
		testing_fail(file, line, "not loaded: %d %s", r, errors != NULL ? errors : "");
	free(errors);
	return cfg;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; s != NULL && *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* "line:col" of the first occurrence of `at` in `text` (1-based). */
static void
position_of(const char *text, const char *at, int *line_r, int *col_r)
{
	const char *p = strstr(text, at);
	int line = 1, col = 1;

	if (p == NULL) {
		*line_r = *col_r = -1;
		return;
	}
	for (const char *q = text; q < p; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	*line_r = line;
	*col_r = col;
}

static char *
fixture_path(const char *dir, const char *file)
{
	const char *top = getenv("top_srcdir");
	size_t n;
	char *p;

	if (top == NULL)
		top = "..";
	n = strlen(top) + strlen(dir) + strlen(file) + 3;
	p = malloc(n);
	if (p != NULL)
		snprintf(p, n, "%s/%s/%s", top, dir, file);
	return p;
}

TEST(minimal_config_gets_defaults)
{
	char *errors;
	struct cfg *cfg;
	const struct cfg_route *r;
	const struct cfg_stream *st;
	char expect[512];

	clear_env();
	CHECK_INT(load("/etc/tj/t.json", MIN_CONFIG, &errors, &cfg), 0);
	CHECK_STR(errors, NULL);
	if (cfg == NULL)
		return;
	CHECK_STR(cfg->path, "/etc/tj/t.json");
	CHECK_STR(cfg->nats.url, NULL);
	CHECK_STR(cfg->nats.creds_file, NULL);
	CHECK_INT(cfg->nats.connect_timeout_ms, 2000);
	CHECK_INT(cfg->nats.reconnect_wait_ms, 2000);
	CHECK_INT(cfg->nats.reconnect_jitter_ms, 100);
	CHECK_INT(cfg->backend, CFG_BACKEND_JETSTREAM);
	CHECK_STR(cfg->plugin_dir, PLUGINDIR);
	/* No state_dir: the configured default, never next to the config. */
	CHECK_STR(cfg->state_dir, STATEDIR);
	CHECK_TRUE(cfg->worker_id != NULL && cfg->worker_id[0] != '\0');
	snprintf(expect, sizeof(expect), "taskjet-%s", cfg->worker_id ? cfg->worker_id : "");
	CHECK_STR(cfg->nats.name, expect);
	CHECK_INT(cfg->shutdown_grace_ms, 30000);
	CHECK_INT(cfg->memory.capacity, 10000);
	CHECK_INT(cfg->log.level, TJ_LOG_INFO);
	CHECK_INT(cfg->log.format, CFG_LOG_TEXT);
	CHECK_STR(cfg->log.file, NULL);
	CHECK_STR(cfg->http.listen, "127.0.0.1:8394");
	CHECK_FALSE(cfg->http.listen_set);
	CHECK_STR(cfg->http.token_file, NULL);
	CHECK_INT(cfg->http.max_body, 1048576);

	CHECK_INT(cfg->stream_count, 1);
	st = &cfg->streams[0];
	CHECK_STR(st->name, "S");
	CHECK_INT(st->subject_count, 1);
	CHECK_STR(st->subjects[0], "s.>");
	CHECK_INT(st->storage, CFG_STORAGE_FILE);
	CHECK_INT(st->retention, CFG_RETENTION_WORKQUEUE);
	CHECK_INT(st->max_age_ms, 0);
	CHECK_INT(st->max_msgs, -1);
	CHECK_INT(st->max_bytes, -1);
	CHECK_INT(st->discard, CFG_DISCARD_OLD);
	CHECK_INT(st->replicas, 1);
	CHECK_INT(st->duplicate_window_ms, 120000);

	CHECK_STR(cfg->dlq.stream, "DLQ");
	CHECK_STR(cfg->dlq.subject_prefix, "dlq");
	CHECK_INT(cfg->dlq.storage, CFG_STORAGE_FILE);
	CHECK_INT(cfg->dlq.max_age_ms, 0);
	CHECK_INT(cfg->dlq.max_msgs, -1);
	CHECK_INT(cfg->dlq.max_bytes, -1);
	CHECK_INT(cfg->dlq.replicas, 1);
	CHECK_STR(cfg->dlq.advisory_stream, "TASKJET_ADVISORIES");

	CHECK_INT(cfg->route_count, 1);
	r = &cfg->routes[0];
	CHECK_STR(r->name, "r");
	CHECK_STR(r->stream, "S");
	CHECK_STR(r->subject, "s.a");
	CHECK_STR(r->consumer, "taskjet-r");
	CHECK_STR(r->plugin, "p");
	CHECK_STR(r->handler, "p");
	CHECK_INT(r->concurrency, 1);
	CHECK_INT(r->max_attempts, 5);
	CHECK_INT(r->ack_wait_ms, 30000);
	CHECK_INT(r->batch, 16);
	CHECK_INT(r->prefetch, 32);
	CHECK_TRUE(r->prefetch_auto);
	CHECK_INT(r->fetch_wait_ms, 1000);
	CHECK_INT(r->max_ack_pending, 1000);
	CHECK_INT(r->payload, CFG_PAYLOAD_ANY);
	CHECK_INT(r->payload_max_depth, 512);
	CHECK_INT(r->backoff.initial_ms, 1000);
	CHECK_RANGE(r->backoff.multiplier, 2, 2);
	CHECK_INT(r->backoff.max_ms, 300000);
	CHECK_RANGE(r->backoff.jitter, 0.2, 0.2);
	CHECK_STR(r->config_json, "{}");
	CHECK_INT(r->config_json_len, 2);
	CHECK_INT(r->isolation, CFG_ISOLATION_PROCESS);
	CHECK_INT(r->timeout_ms, 300000);
	CHECK_INT(r->limits.memory_bytes, 0);
	CHECK_INT(r->limits.cpu_ms, 0);
	CHECK_INT(r->limits.open_files, 0);
	CHECK_TRUE(cfg_route_stream(cfg, r) == st);
	cfg_free(cfg);
}

/* Commands without a config file use the same DLQ settings as a loaded one. */
/* Four pull batches per worker once that passes the floor of 1000. */
TEST(max_ack_pending_default_grows_with_the_route)
{
	static const struct {
		const char *text;
		int64_t want;
	} cases[] = {
		{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"concurrency\":64,\"batch\":100}]}",
		  4 * 64 * 100 },
		{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"concurrency\":8,\"batch\":31}]}",
		  1000 },
	};
	char *errors;
	struct cfg *cfg;

	clear_env();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(load("/c/t.json", cases[i].text, &errors, &cfg), 0);
		if (cfg == NULL)
			continue;
		CHECK_INT(cfg->routes[0].max_ack_pending, cases[i].want);
		cfg_free(cfg);
	}
}

/* Without the key the look-ahead is automatic from 2 x batch; with it,
 * fixed at the value, even when that equals the automatic floor. */
TEST(prefetch_is_automatic_only_without_the_key)
{
	static const struct {
		const char *text;
		int prefetch;
		bool automatic;
	} cases[] = {
		{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"batch\":100}]}", 200, true },
		{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"batch\":100,\"prefetch\":200}]}",
		  200, false },
		{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"prefetch\":5000}]}", 5000, false },
	};
	char *errors;
	struct cfg *cfg;

	clear_env();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_INT(load("/c/t.json", cases[i].text, &errors, &cfg), 0);
		if (cfg == NULL)
			continue;
		CHECK_INT(cfg->routes[0].prefetch, cases[i].prefetch);
		CHECK_TRUE(cfg->routes[0].prefetch_auto == cases[i].automatic);
		cfg_free(cfg);
	}
}

TEST(dlq_defaults_match_a_loaded_config)
{
	struct cfg_dlq d = cfg_dlq_defaults();
	struct cfg *cfg = load_valid(MIN_CONFIG);

	if (cfg == NULL)
		return;
	CHECK_STR(d.stream, cfg->dlq.stream);
	CHECK_STR(d.subject_prefix, cfg->dlq.subject_prefix);
	CHECK_STR(d.advisory_stream, cfg->dlq.advisory_stream);
	CHECK_INT(d.storage, cfg->dlq.storage);
	CHECK_INT(d.max_age_ms, cfg->dlq.max_age_ms);
	CHECK_INT(d.max_msgs, cfg->dlq.max_msgs);
	CHECK_INT(d.max_bytes, cfg->dlq.max_bytes);
	CHECK_INT(d.replicas, cfg->dlq.replicas);
	cfg_free(cfg);
}

/* The one place that says which DLQ stream and prefix a setting means:
 * its own, else the defaults, for no config, an unset and an empty one. */
TEST(dlq_stream_and_prefix_fall_back_to_the_defaults)
{
	struct cfg_dlq d = cfg_dlq_defaults(), unset = { 0 };
	struct cfg_dlq empty = { .stream = (char *)"", .subject_prefix = (char *)"" };
	struct cfg_dlq own = { .stream = (char *)"DEAD", .subject_prefix = (char *)"dead.x" };

	CHECK_STR(cfg_dlq_stream(NULL), CFG_DEFAULT_DLQ_STREAM);
	CHECK_STR(cfg_dlq_prefix(NULL), CFG_DEFAULT_DLQ_SUBJECT_PREFIX);
	CHECK_STR(cfg_dlq_stream(&unset), CFG_DEFAULT_DLQ_STREAM);
	CHECK_STR(cfg_dlq_prefix(&unset), CFG_DEFAULT_DLQ_SUBJECT_PREFIX);
	CHECK_STR(cfg_dlq_stream(&empty), CFG_DEFAULT_DLQ_STREAM);
	CHECK_STR(cfg_dlq_prefix(&empty), CFG_DEFAULT_DLQ_SUBJECT_PREFIX);
	CHECK_STR(cfg_dlq_stream(&d), d.stream);
	CHECK_STR(cfg_dlq_prefix(&d), d.subject_prefix);
	CHECK_STR(cfg_dlq_stream(&own), "DEAD");
	CHECK_STR(cfg_dlq_prefix(&own), "dead.x");
}

/* The backend names the config, TASKJET_BACKEND and run --backend take:
 * one table. */
TEST(backend_names_come_from_one_table)
{
	enum cfg_backend b = CFG_BACKEND_MEMORY;
	char choices[128];

	CHECK_INT(cfg_backend_parse("jetstream", &b), 0);
	CHECK_INT(b, CFG_BACKEND_JETSTREAM);
	CHECK_INT(cfg_backend_parse("memory", &b), 0);
	CHECK_INT(b, CFG_BACKEND_MEMORY);
	CHECK_INT(cfg_backend_parse("nats", &b), 0);
	CHECK_INT(b, CFG_BACKEND_JETSTREAM);
	CHECK_INT(cfg_backend_parse("kafka", &b), -EINVAL);
	CHECK_INT(b, CFG_BACKEND_JETSTREAM);
	CHECK_STR(cfg_backend_name(CFG_BACKEND_JETSTREAM), "jetstream");
	CHECK_STR(cfg_backend_name(CFG_BACKEND_MEMORY), "memory");
	CHECK_STR(cfg_backend_name((enum cfg_backend)99), "?");
	cfg_backend_choices(choices, sizeof(choices));
	CHECK_STR(choices, "\"jetstream\", \"nats\" or \"memory\"");
	cfg_backend_choices(choices, 8);
	CHECK_STR(choices, "\"jetstr");
}

TEST(every_key_is_read)
{
	static const char text[] =
	    "{\"nats\":{\"url\":\"nats://h:1\",\"name\":\"n\",\"creds_file\":\"c.creds\","
	    "\"tls\":{\"ca_file\":\"ca.pem\",\"cert_file\":\"/pki/c.pem\","
	    "\"key_file\":\"c.key\",\"server_name\":\"nats.example\"},"
	    "\"connect_timeout\":\"5s\",\"reconnect_wait\":\"1m\","
	    "\"reconnect_jitter\":\"0\"},"
	    "\"backend\":\"memory\",\"plugin_dir\":\"/opt/p\",\"state_dir\":\"./st\","
	    "\"worker_id\":\"w1\",\"shutdown_grace\":\"1m30s\","
	    "\"memory\":{\"capacity\":500},"
	    "\"log\":{\"level\":\"debug\",\"format\":\"json\",\"file\":\"/var/log/t\"},"
	    "\"http\":{\"listen\":\"[::1]:9000\",\"token_file\":\"tok\","
	    "\"max_body\":\"64KiB\",\"hosts\":[\"tj.example\",\"Tj-2.internal\"]},"
	    "\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.a\",\"s.b.*\"],"
	    "\"storage\":\"memory\",\"retention\":\"limits\",\"max_age\":\"1h\","
	    "\"max_msgs\":10,\"max_bytes\":\"1MiB\",\"discard\":\"new\",\"replicas\":3,"
	    "\"duplicate_window\":\"30s\"}],"
	    "\"dlq\":{\"stream\":\"DEAD\",\"subject_prefix\":\"tj.dead\","
	    "\"storage\":\"memory\",\"max_age\":\"240h\",\"max_msgs\":5,"
	    "\"max_bytes\":4096,\"replicas\":2,\"advisory_stream\":\"ADV\"},"
	    "\"routes\":[{\"name\":\"r\",\"stream\":\"S\",\"subject\":\"s.b.*\","
	    "\"consumer\":\"c\",\"plugin\":\"p_1-x\",\"handler\":\"h.x\","
	    "\"concurrency\":256,\"max_attempts\":1000,\"ack_wait\":\"1s\","
	    "\"batch\":1000,\"fetch_wait\":\"10ms\",\"max_ack_pending\":64,"
	    "\"payload\":\"json\","
	    "\"payload_max_depth\":4096,"
	    "\"isolation\":\"process\",\"timeout\":\"90s\",\"limits\":{\"memory\":"
	    "\"64MiB\",\"cpu\":\"1500ms\",\"open_files\":100},"
	    "\"backoff\":{\"initial\":\"500ms\",\"multiplier\":1,\"max\":\"500ms\","
	    "\"jitter\":0},\"config\":{\"a\":[1,{\"b\":null}]}}]}";
	char *errors;
	struct cfg *cfg;
	const struct cfg_route *r;

	clear_env();
	CHECK_INT(load("/c/t.json", text, &errors, &cfg), 0);
	CHECK_STR(errors, NULL);
	free(errors);
	if (cfg == NULL)
		return;
	CHECK_STR(cfg->nats.url, "nats://h:1");
	CHECK_STR(cfg->nats.name, "n");
	CHECK_STR(cfg->nats.creds_file, "/c/c.creds");
	CHECK_TRUE(cfg->nats.tls.enabled);
	CHECK_STR(cfg->nats.tls.ca_file, "/c/ca.pem");
	CHECK_STR(cfg->nats.tls.cert_file, "/pki/c.pem");
	CHECK_STR(cfg->nats.tls.key_file, "/c/c.key");
	CHECK_STR(cfg->nats.tls.server_name, "nats.example");
	CHECK_INT(cfg->nats.connect_timeout_ms, 5000);
	CHECK_INT(cfg->nats.reconnect_wait_ms, 60000);
	CHECK_INT(cfg->nats.reconnect_jitter_ms, 0);
	CHECK_INT(cfg->backend, CFG_BACKEND_MEMORY);
	CHECK_STR(cfg->plugin_dir, "/opt/p");
	CHECK_STR(cfg->state_dir, "/c/st");
	CHECK_STR(cfg->worker_id, "w1");
	CHECK_INT(cfg->shutdown_grace_ms, 90000);
	CHECK_INT(cfg->memory.capacity, 500);
	CHECK_INT(cfg->log.level, TJ_LOG_DEBUG);
	CHECK_INT(cfg->log.format, CFG_LOG_JSON);
	CHECK_STR(cfg->log.file, "/var/log/t");
	CHECK_STR(cfg->http.listen, "[::1]:9000");
	CHECK_TRUE(cfg->http.listen_set);
	CHECK_STR(cfg->http.token_file, "/c/tok");
	CHECK_INT(cfg->http.max_body, 65536);
	CHECK_INT(cfg->http.host_count, 2);
	if (cfg->http.host_count == 2) {
		CHECK_STR(cfg->http.hosts[0], "tj.example");
		CHECK_STR(cfg->http.hosts[1], "Tj-2.internal");
	}
	CHECK_INT(cfg->streams[0].subject_count, 2);
	CHECK_STR(cfg->streams[0].subjects[1], "s.b.*");
	CHECK_INT(cfg->streams[0].storage, CFG_STORAGE_MEMORY);
	CHECK_INT(cfg->streams[0].retention, CFG_RETENTION_LIMITS);
	CHECK_INT(cfg->streams[0].max_age_ms, 3600000);
	CHECK_INT(cfg->streams[0].max_msgs, 10);
	CHECK_INT(cfg->streams[0].max_bytes, 1048576);
	CHECK_INT(cfg->streams[0].discard, CFG_DISCARD_NEW);
	CHECK_INT(cfg->streams[0].replicas, 3);
	CHECK_INT(cfg->streams[0].duplicate_window_ms, 30000);
	CHECK_STR(cfg->dlq.stream, "DEAD");
	CHECK_STR(cfg->dlq.subject_prefix, "tj.dead");
	CHECK_INT(cfg->dlq.storage, CFG_STORAGE_MEMORY);
	CHECK_INT(cfg->dlq.max_age_ms, 240 * 3600000LL);
	CHECK_INT(cfg->dlq.max_msgs, 5);
	CHECK_INT(cfg->dlq.max_bytes, 4096);
	CHECK_INT(cfg->dlq.replicas, 2);
	CHECK_STR(cfg->dlq.advisory_stream, "ADV");
	r = &cfg->routes[0];
	CHECK_STR(r->consumer, "c");
	CHECK_STR(r->plugin, "p_1-x");
	CHECK_STR(r->handler, "h.x");
	CHECK_INT(r->concurrency, 256);
	CHECK_INT(r->max_attempts, 1000);
	CHECK_INT(r->ack_wait_ms, 1000);
	CHECK_INT(r->batch, 1000);
	CHECK_INT(r->fetch_wait_ms, 10);
	CHECK_INT(r->max_ack_pending, 64);
	CHECK_INT(r->payload, CFG_PAYLOAD_JSON);
	CHECK_INT(r->payload_max_depth, 4096);
	CHECK_INT(r->isolation, CFG_ISOLATION_PROCESS);
	CHECK_INT(r->timeout_ms, 90000);
	CHECK_INT(r->limits.memory_bytes, 64 << 20);
	CHECK_INT(r->limits.cpu_ms, 1500);
	CHECK_INT(r->limits.open_files, 100);
	CHECK_INT(r->backoff.initial_ms, 500);
	CHECK_RANGE(r->backoff.multiplier, 1, 1);
	CHECK_INT(r->backoff.max_ms, 500);
	CHECK_RANGE(r->backoff.jitter, 0, 0);
	CHECK_STR(r->config_json, "{\"a\":[1,{\"b\":null}]}");
	CHECK_INT(r->config_json_len, strlen("{\"a\":[1,{\"b\":null}]}"));
	cfg_free(cfg);
}

/* "" and "off" turn the endpoint off; any other value must be an address. */
TEST(nats_credentials_and_tls_keys)
{
	static const char *const texts[] = {
		"{\"nats\":{\"user\":\"svc\",\"password_file\":\"pw\",\"tls\":{}},",
		"{\"nats\":{\"token_file\":\"tok\"},",
		"{\"nats\":{\"nkey_seed_file\":\"/k/user.nk\"},",
	};
	char text[512], *errors;
	struct cfg *cfg;

	for (size_t i = 0; i < N_ELEMS(texts); i++) {
		snprintf(text, sizeof(text), "%s" MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}",
		         texts[i]);
		clear_env();
		CHECK_INT(load("/etc/tj/t.json", text, &errors, &cfg), 0);
		CHECK_STR(errors, NULL);
		free(errors);
		if (cfg == NULL)
			continue;
		switch (i) {
		case 0:
			CHECK_STR(cfg->nats.user, "svc");
			CHECK_STR(cfg->nats.password_file, "/etc/tj/pw");
			/* An empty tls object turns TLS on with the system's CAs. */
			CHECK_TRUE(cfg->nats.tls.enabled);
			CHECK_STR(cfg->nats.tls.ca_file, NULL);
			break;
		case 1:
			CHECK_STR(cfg->nats.token_file, "/etc/tj/tok");
			CHECK_FALSE(cfg->nats.tls.enabled);
			break;
		case 2:
			CHECK_STR(cfg->nats.nkey_seed_file, "/k/user.nk");
			break;
		}
		cfg_free(cfg);
	}
}

TEST(tasks_go_only_where_a_route_consumes)
{
	struct cfg *cfg = load_valid(
	    "{\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\"]}],"
	    "\"routes\":[{\"name\":\"a\",\"stream\":\"S\",\"subject\":\"s.a.*\",\"plugin\":\"p\"},"
	    "{\"name\":\"b\",\"stream\":\"S\",\"subject\":\"s.b\",\"plugin\":\"p\"}]}");
	const struct cfg_route *route = NULL;
	char why[300];

	if (cfg == NULL)
		return;
	CHECK_INT(cfg_task_subject_check(cfg, "s.a.x", &route, why, sizeof(why)), 0);
	CHECK_STR(route != NULL ? route->name : NULL, "a");
	CHECK_INT(cfg_task_subject_check(cfg, "s.b", &route, why, sizeof(why)), 0);
	CHECK_STR(route != NULL ? route->name : NULL, "b");
	/* The stream takes it, but no route consumes it. */
	CHECK_INT(cfg_task_subject_check(cfg, "s.c", &route, why, sizeof(why)), -EPERM);
	CHECK_STR(why, "no configured route consumes subject \"s.c\"");
	CHECK_INT(cfg_task_subject_check(cfg, "$JS.API.STREAM.PURGE.S", NULL, why, sizeof(why)),
	          -EPERM);
	CHECK_CONTAINS(why, "$JS.API.STREAM.PURGE.S");
	CHECK_INT(cfg_task_subject_check(cfg, "dlq.s.a.x", NULL, NULL, 0), -EPERM);
	CHECK_INT(cfg_task_subject_check(cfg, "s.a.*", NULL, why, sizeof(why)), -EINVAL);
	CHECK_CONTAINS(why, "not a valid NATS subject");
	CHECK_INT(cfg_task_subject_check(cfg, "s..a", NULL, NULL, 0), -EINVAL);
	CHECK_INT(cfg_task_subject_check(cfg, NULL, NULL, NULL, 0), -EINVAL);
	CHECK_TRUE(cfg_stream_for_subject(cfg, "s.c") == &cfg->streams[0]);
	CHECK_TRUE(cfg_stream_for_subject(cfg, "t.c") == NULL);
	cfg_free(cfg);
}

static void
collect_line(void *arg, const char *line)
{
	char *buf = arg;

	strncat(buf, line, 1023 - strlen(buf));
	strncat(buf, "\n", 1023 - strlen(buf));
}

/* A reload says what it changes: routes by name, sections, and what waits
 * for a restart. */
TEST(diff_names_what_changed)
{
	struct cfg *a = load_valid("{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE "},"
	                           "{\"name\":\"gone\",\"stream\":\"S\",\"subject\":\"s.g\","
	                           "\"plugin\":\"p\"}]}");
	struct cfg *b = load_valid(
	    "{\"http\":{\"listen\":\"127.0.0.1:9\"}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE
	    ",\"timeout\":\"1s\",\"max_ack_pending\":64,\"config\":{\"x\":1}},"
	    "{\"name\":\"new\",\"stream\":\"S\",\"subject\":\"s.n\",\"plugin\":\"p\"}]}");
	struct cfg *a2 = load_valid("{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE "},"
	                            "{\"name\":\"gone\",\"stream\":\"S\",\"subject\":\"s.g\","
	                            "\"plugin\":\"p\"}]}");
	char lines[1024] = "";

	if (a == NULL || b == NULL || a2 == NULL)
		goto out;
	CHECK_INT(cfg_diff(a, a2, collect_line, lines), 0);
	CHECK_STR(lines, "");
	CHECK_INT(cfg_diff(a, b, collect_line, lines), 4);
	CHECK_STR(lines, "http: changed; applies at the next start\n"
	                 "route gone: removed\n"
	                 "route r: changed: max_ack_pending, timeout, config\n"
	                 "route new: added\n");
out:
	cfg_free(a);
	cfg_free(b);
	cfg_free(a2);
}

/* A change to any one key is seen: a reload told "nothing changed" keeps
 * the old value (a rotated password file, a route's depth limit). */
TEST(diff_sees_every_key_it_was_given)
{
	static const struct {
		const char *text; /* before MIN_STREAMS */
		const char *route; /* after MIN_ROUTE */
		const char *want;
	} cases[] = {
		{ "\"nats\":{\"user\":\"u\",\"password_file\":\"/p2\"},", "", "nats: changed" },
		{ "\"nats\":{\"user\":\"v\",\"password_file\":\"/p1\"},", "", "nats: changed" },
		{ "\"nats\":{\"token_file\":\"/t\"},", "", "nats: changed" },
		{ "\"nats\":{\"nkey_seed_file\":\"/k\"},", "", "nats: changed" },
		{ "\"nats\":{\"user\":\"u\",\"password_file\":\"/p1\",\"tls\":{}},", "",
		  "nats: changed" },
		{ "\"nats\":{\"user\":\"u\",\"password_file\":\"/p1\",\"tls\":{\"ca_file\":"
		  "\"/ca\"}},",
		  "", "nats: changed" },
		{ "\"nats\":{\"user\":\"u\",\"password_file\":\"/p1\",\"tls\":{\"server_"
		  "name\":\"n\"}},",
		  "", "nats: changed" },
		{ "\"nats\":{\"user\":\"u\",\"password_file\":\"/p1\"},\"http\":{\"hosts\":["
		  "\"tj.example\"]},",
		  "", "http: changed; applies at the next start" },
		{ "\"nats\":{\"user\":\"u\",\"password_file\":\"/p1\"},",
		  ",\"payload_max_depth\":8", "route r: changed: payload_max_depth" },
		/* The automatic look-ahead's floor, fixed: a change all the same. */
		{ "\"nats\":{\"user\":\"u\",\"password_file\":\"/p1\"},", ",\"prefetch\":32",
		  "route r: changed: prefetch" },
	};
	static const char base[] =
	    "{\"nats\":{\"user\":\"u\",\"password_file\":\"/p1\"}," MIN_STREAMS
	    ",\"routes\":[" MIN_ROUTE "}]}";
	struct cfg *a = load_valid(base), *a2 = load_valid(base);
	char text[512], lines[1024];

	if (a == NULL || a2 == NULL)
		goto out;
	lines[0] = '\0';
	CHECK_INT(cfg_diff(a, a2, collect_line, lines), 0);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct cfg *b;

		snprintf(text, sizeof(text), "{%s" MIN_STREAMS ",\"routes\":[" MIN_ROUTE "%s}]}",
		         cases[i].text, cases[i].route);
		b = load_valid(text);
		if (b == NULL)
			continue;
		lines[0] = '\0';
		if (cfg_diff(a, b, collect_line, lines) != 1)
			testing_fail(__FILE__, __LINE__, "case %zu: %s", i, lines);
		CHECK_CONTAINS(lines, cases[i].want);
		cfg_free(b);
	}
out:
	cfg_free(a);
	cfg_free(a2);
}

TEST(http_listen_values)
{
	static const struct {
		const char *listen;
		const char *want; /* NULL: disabled; "!" rejected */
	} cases[] = {
		{ "off", NULL },
		{ "", NULL },
		{ "0.0.0.0:80", "0.0.0.0:80" },
		{ "localhost:0", "localhost:0" },
		{ "[::]:8222", "[::]:8222" },
		{ "127.0.0.1", "!" },
		{ "127.0.0.1:65536", "!" },
		{ "127.0.0.1:-1", "!" },
		{ "example.com:80", "!" },
		{ "[::1:80", "!" },
		{ "::1:80", "!" },
	};
	char text[512], host[64], *errors;
	struct cfg *cfg;
	int port;

	clear_env();
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		snprintf(text, sizeof(text),
		         "{\"http\":{\"listen\":\"%s\"}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE
		         "}]}",
		         cases[i].listen);
		if (cases[i].want != NULL && strcmp(cases[i].want, "!") == 0) {
			CHECK_INT(load("t.json", text, &errors, &cfg), -EINVAL);
			CHECK_CONTAINS(errors, "http.listen: ");
		} else {
			CHECK_INT(load("t.json", text, &errors, &cfg), 0);
			if (cfg != NULL) {
				CHECK_STR(cfg->http.listen, cases[i].want);
				CHECK_TRUE(cfg->http.listen_set);
			}
		}
		free(errors);
		cfg_free(cfg);
	}
	CHECK_INT(cfg_parse_listen("[::1]:8222", host, sizeof(host), &port), 0);
	CHECK_STR(host, "::1");
	CHECK_INT(port, 8222);
	CHECK_INT(cfg_parse_listen("localhost:1", host, sizeof(host), &port), 0);
	CHECK_STR(host, "127.0.0.1");
	CHECK_INT(port, 1);
	CHECK_INT(cfg_parse_listen("1.2.3.4:", host, sizeof(host), &port), -EINVAL);
}

TEST(comment_keys_are_ignored_everywhere)
{
	static const char text[] =
	    "{\"//\":\"top\",\"//\":[1,2],\"// x\":{\"bogus\":1},"
	    "\"nats\":{\"// url\":\"nats://x\"},"
	    "\"streams\":[{\"//\":0,\"name\":\"S\",\"subjects\":[\"s.>\"]}],"
	    "\"dlq\":{\"//why\":true},"
	    "\"routes\":[{\"//\":null,\"name\":\"r\",\"stream\":\"S\","
	    "\"subject\":\"s.a\",\"plugin\":\"p\",\"backoff\":{\"//\":\"\"}}]}";
	struct cfg *cfg = load_valid(text);

	if (cfg != NULL)
		CHECK_STR(cfg->nats.url, NULL);
	cfg_free(cfg);
}

/* One error class: `text` gives exactly one line, at the first byte of
 * `at`, reading "<key>: <message>". */
struct error_case {
	const char *text;
	const char *at;
	const char *line; /* "key: message" */
};

#define ROUTE_WITH(extra) "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE extra "}]}"
#define STREAM_WITH(extra)                                                 \
	"{\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\"]" extra "}]," \
	"\"routes\":[" MIN_ROUTE "}]}"

/* The refusal of a duration over what the server holds. */
#define TOO_LONG \
	" is longer than the server can hold (at most 2562047h47m16s854ms, 2^63-1 nanoseconds)"

static const struct error_case error_cases[] = {
	/* unknown keys, at the key */
	{ "{\"bogus\":1," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", "\"bogus\"",
	  "bogus: unknown key" },
	{ ROUTE_WITH(",\"backoff\":{\"jiter\":0.1}"), "\"jiter\"",
	  "routes[0].backoff.jiter: unknown key" },
	{ "{\"nats\":{\"URL\":\"x\"}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", "\"URL\"",
	  "nats.URL: unknown key" },
	/* NATS credentials: from files only, one way at a time */
	{ "{\"nats\":{\"password\":\"pw\"}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", "\"pw\"",
	  "nats.password: secrets are not read from the config: put it alone in a file only "
	  "taskjet can read (mode 0600) and name that file in nats.password_file" },
	{ "{\"nats\":{\"token\":\"t\"}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", "\"t\"",
	  "nats.token: secrets are not read from the config: put it alone in a file only "
	  "taskjet can read (mode 0600) and name that file in nats.token_file" },
	{ "{\"nats\":{\"user\":\"u\"}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", "\"u\"",
	  "nats.user: needs nats.password_file (the password is read from a file)" },
	{ "{\"nats\":{\"password_file\":\"p\"}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}",
	  "\"p\"", "nats.password_file: needs nats.user" },
	{ "{\"nats\":{\"token_file\":\"t\",\"creds_file\":\"c\"}," MIN_STREAMS
	  ",\"routes\":[" MIN_ROUTE "}]}",
	  "\"c\"",
	  "nats.creds_file: only one way to authenticate may be set (nats.token_file is set "
	  "too): user and password_file, token_file, nkey_seed_file or creds_file" },
	{ "{\"nats\":{\"tls\":{\"cert_file\":\"c.pem\"}}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE
	  "}]}",
	  "\"c.pem\"", "nats.tls.cert_file: needs nats.tls.key_file too" },
	{ "{\"nats\":{\"tls\":{\"key_file\":\"k\"}}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}",
	  "\"k\"", "nats.tls.key_file: needs nats.tls.cert_file too" },
	{ "{\"nats\":{\"tls\":{\"verify\":false}}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}",
	  "\"verify\"", "nats.tls.verify: unknown key" },
	{ "{\"nats\":{\"tls\":true}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", "true",
	  "nats.tls: expected an object, got a boolean" },
	/* duplicate keys, at the second one */
	{ ROUTE_WITH(",\"plugin\":\"q\""), "\"plugin\":\"q\"", "routes[0].plugin: duplicate key" },
	/* wrong types */
	{ ROUTE_WITH(",\"concurrency\":\"4\""), "\"4\"",
	  "routes[0].concurrency: expected an integer, got a string" },
	{ ROUTE_WITH(",\"concurrency\":2.5"), "2.5",
	  "routes[0].concurrency: expected an integer, got 2.5" },
	{ ROUTE_WITH(",\"batch\":99999999999999999999"), "9999",
	  "routes[0].batch: must be between 1 and 1000, got 99999999999999999999" },
	{ STREAM_WITH(",\"max_msgs\":9223372036854775808"), "9223",
	  "streams[0].max_msgs: must be at least -1, got 9223372036854775808" },
	{ STREAM_WITH(",\"max_bytes\":\"8589934592GiB\""), "\"8589934592GiB\"",
	  "streams[0].max_bytes: must be at least -1, got 8589934592GiB" },
	{ ROUTE_WITH(",\"ack_wait\":30"), "30",
	  "routes[0].ack_wait: expected a duration string such as \"30s\", got a "
	  "number" },
	{ ROUTE_WITH(",\"config\":[]"), "[]",
	  "routes[0].config: expected an object, got an array" },
	{ ROUTE_WITH(",\"backoff\":{\"multiplier\":true}"), "true",
	  "routes[0].backoff.multiplier: expected a number, got a boolean" },
	{ "{\"streams\":{},"
	  "\"routes\":[" MIN_ROUTE "}]}",
	  "{}", "streams: expected an array of streams, got an object" },
	{ "{\"streams\":[{\"name\":\"S\",\"subjects\":\"s.>\"}],\"routes\":[" MIN_ROUTE "}]}",
	  "\"s.>\"", "streams[0].subjects: expected an array of subjects, got a string" },
	{ "[1]", "[", "(root): expected an object, got an array" },
	{ "{\"streams\":[} ", "}", "(root): invalid JSON: syntax error" },
	{ ROUTE_WITH(",\"handler\":\"a\xff\""), "\xff",
	  "(root): invalid JSON: invalid UTF-8 in a string" },
	{ ROUTE_WITH(",\"handler\":\"\""), "\"\"", "routes[0].handler: must not be empty" },
	/* out of range */
	{ ROUTE_WITH(",\"concurrency\":300"), "300",
	  "routes[0].concurrency: must be between 1 and 256, got 300" },
	{ ROUTE_WITH(",\"max_attempts\":0"), "0",
	  "routes[0].max_attempts: must be between 1 and 1000, got 0" },
	{ ROUTE_WITH(",\"backoff\":{\"jitter\":1.5}"), "1.5",
	  "routes[0].backoff.jitter: must be between 0 and 1, got 1.5" },
	{ ROUTE_WITH(",\"backoff\":{\"multiplier\":0.5}"), "0.5",
	  "routes[0].backoff.multiplier: must be between 1 and 100, got 0.5" },
	{ ROUTE_WITH(",\"ack_wait\":\"500ms\""), "\"500ms\"",
	  "routes[0].ack_wait: must be at least 1s" },
	/* durations the server holds as int64 nanoseconds (issue 11 item 7) */
	{ ROUTE_WITH(",\"ack_wait\":\"2562047h47m16s855ms\""), "\"2562047h",
	  "routes[0].ack_wait: \"2562047h47m16s855ms\"" TOO_LONG },
	{ ROUTE_WITH(",\"ack_wait\":\"3000000h\""), "\"3000000h\"",
	  "routes[0].ack_wait: \"3000000h\"" TOO_LONG },
	{ ROUTE_WITH(",\"ack_wait\":\"9223372036854775808ms\""), "\"9223",
	  "routes[0].ack_wait: \"9223372036854775808ms\"" TOO_LONG },
	{ STREAM_WITH(",\"max_age\":\"2562048h\""), "\"2562048h\"",
	  "streams[0].max_age: \"2562048h\"" TOO_LONG },
	{ STREAM_WITH(",\"duplicate_window\":\"2562048h\""), "\"2562048h\"",
	  "streams[0].duplicate_window: \"2562048h\"" TOO_LONG },
	{ "{" MIN_STREAMS ",\"dlq\":{\"max_age\":\"2562048h\"},\"routes\":[" MIN_ROUTE "}]}",
	  "\"2562048h\"", "dlq.max_age: \"2562048h\"" TOO_LONG },
	{ ROUTE_WITH(",\"backoff\":{\"initial\":\"2562048h\"}"), "\"2562048h\"",
	  "routes[0].backoff.initial: \"2562048h\"" TOO_LONG },
	{ ROUTE_WITH(",\"backoff\":{\"max\":\"2562047h\"}"), "\"2562047h\"",
	  "routes[0].backoff.max: 2562047h with jitter 0.2 reaches 3074456h24m, longer than "
	  "the server can hold (at most 2562047h47m16s854ms, 2^63-1 nanoseconds)" },
	{ ROUTE_WITH(",\"fetch_wait\":\"2m\""), "\"2m\"",
	  "routes[0].fetch_wait: must be between 10ms and 1m" },
	{ ROUTE_WITH(",\"backoff\":{\"initial\":\"0\"}"), "\"0\"",
	  "routes[0].backoff.initial: must be at least 1ms" },
	{ ROUTE_WITH(",\"backoff\":{\"initial\":\"10s\",\"max\":\"5s\"}"), "\"5s\"",
	  "routes[0].backoff.max: 5s is shorter than initial 10s" },
	{ ROUTE_WITH(",\"backoff\":{\"initial\":\"1h\"}"), "\"1h\"",
	  "routes[0].backoff.initial: 1h is longer than max (default 5m)" },
	{ ROUTE_WITH(",\"ack_wait\":\"5 s\""), "\"5 s\"",
	  "routes[0].ack_wait: \"5 s\" is not a duration (use ms, s, m, h as in "
	  "\"1h30m\")" },
	{ STREAM_WITH(",\"max_bytes\":\"1XB\""), "\"1XB\"",
	  "streams[0].max_bytes: \"1XB\" is not a size (bytes, or KiB/MiB/GiB, "
	  "KB/MB/GB)" },
	{ STREAM_WITH(",\"max_msgs\":0"), "0}",
	  "streams[0].max_msgs: must be -1 (unlimited) or positive, got 0" },
	{ STREAM_WITH(",\"max_msgs\":-2"), "-2",
	  "streams[0].max_msgs: must be at least -1, got -2" },
	{ STREAM_WITH(",\"replicas\":6"), "6",
	  "streams[0].replicas: must be between 1 and 5, got 6" },
	{ STREAM_WITH(",\"max_age\":\"1m\""), "\"1m\"",
	  "streams[0].duplicate_window: 2m is longer than max_age 1m" },
	{ STREAM_WITH(",\"storage\":\"disk\""), "\"disk\"",
	  "streams[0].storage: must be \"file\" or \"memory\", got \"disk\"" },
	{ "{\"log\":{\"level\":\"verbose\"}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}",
	  "\"verbose\"",
	  "log.level: must be \"error\", \"warning\", \"notice\", \"info\" or "
	  "\"debug\", got \"verbose\"" },
	{ "{\"http\":{\"listen\":\":8222\"}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}",
	  "\":8222\"",
	  "http.listen: \":8222\" is not an address such as \"127.0.0.1:8394\", "
	  "\"[::1]:8394\" or \"0.0.0.0:8394\" (all interfaces), or \"off\"" },
	{ "{\"http\":{\"listen\":8222}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", "8222}",
	  "http.listen: expected a string, got a number" },
	{ "{\"http\":{\"max_body\":0}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", "0}",
	  "http.max_body: must be between 1 and 1073741824, got 0" },
	{ "{\"http\":{\"hosts\":[\"ok.example\",\"tj.example:8222\"]}," MIN_STREAMS
	  ",\"routes\":[" MIN_ROUTE "}]}",
	  "\"tj.example:8222\"",
	  "http.hosts[1]: \"tj.example:8222\" must be a host name (letters, digits, '-', '.', '_'; "
	  "no port)" },
	{ "{\"http\":{\"hosts\":\"tj.example\"}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}",
	  "\"tj.example\"", "http.hosts: expected an array of host names, got a string" },
	{ "{\"memory\":{\"capacity\":0}," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", "0}",
	  "memory.capacity: must be between 1 and 10000000, got 0" },
	/* NUL characters (issue 11 item 6): valid JSON, but no setting holds one */
	{ "{\"worker_id\":\"a\\u0000b\"," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}",
	  "\"a\\u0000b\"", "worker_id: contains a NUL character" },
	{ "{\"backend\":\"memory\\u0000\"," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", "\"memory",
	  "backend: contains a NUL character" },
	{ "{\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\",\"\\u0000\"]}],"
	  "\"routes\":[" MIN_ROUTE "}]}",
	  "\"\\u0000\"", "streams[0].subjects[1]: contains a NUL character" },
	{ ROUTE_WITH(",\"ack_wait\":\"1s\\u0000\""), "\"1s",
	  "routes[0].ack_wait: contains a NUL character" },
	{ ROUTE_WITH(",\"con\\u0000\":1"), "\"con",
	  "routes[0].con\\u0000: contains a NUL character" },
	/* names and subjects */
	{ "{\"streams\":[{\"name\":\"a.b\",\"subjects\":[\"s.>\"]}],\"routes\":[" MIN_ROUTE "}]}",
	  "\"a.b\"",
	  "streams[0].name: \"a.b\" must not contain whitespace, '.', '*', '>', '/' "
	  "or '\\'" },
	{ "{\"streams\":[{\"name\":\"S\",\"subjects\":[\"s..x\"]}],\"routes\":[" MIN_ROUTE "}]}",
	  "\"s..x\"", "streams[0].subjects[0]: \"s..x\" is not a valid NATS subject" },
	{ "{\"streams\":[{\"name\":\"S\",\"subjects\":[]}],\"routes\":[" MIN_ROUTE "}]}", "[]",
	  "streams[0].subjects: must list at least one subject" },
	{ "{" MIN_STREAMS ",\"routes\":[{\"name\":\"r\",\"stream\":\"S\","
	  "\"subject\":\"s.a\",\"plugin\":\"../evil\"}]}",
	  "\"../evil\"",
	  "routes[0].plugin: \"../evil\" must contain only letters, digits, '_' and "
	  "'-'" },
	{ "{" MIN_STREAMS ",\"routes\":[{\"name\":\"r\",\"stream\":\"S\","
	  "\"subject\":\"s.a\",\"plugin\":\"p\",\"consumer\":\"c d\"}]}",
	  "\"c d\"",
	  "routes[0].consumer: \"c d\" must not contain whitespace, '.', '*', '>', "
	  "'/' or '\\'" },
	/* missing required keys, at the object */
	{ "{" MIN_STREAMS ",\"routes\":[{\"name\":\"r\",\"stream\":\"S\","
	  "\"subject\":\"s.a\"}]}",
	  "{\"name\":\"r\"", "routes[0].plugin: missing required key" },
	{ "{\"streams\":[{\"subjects\":[\"s.>\"]}],\"routes\":[{\"name\":\"r\","
	  "\"stream\":\"X\",\"subject\":\"s.a\",\"plugin\":\"p\"}]}",
	  "{\"subjects\"", "streams[0].name: missing required key" },
	{ "{" MIN_STREAMS "}", "{", "routes: missing required key" },
	{ "{\"routes\":[" MIN_ROUTE "}]}", "{", "streams: missing required key" },
	{ "{\"streams\":[],\"routes\":[" MIN_ROUTE "}]}", "[]",
	  "streams: must list at least one stream" },
	{ "{" MIN_STREAMS ",\"routes\":[]}", "[]", "routes: must list at least one route" },
	/* cross checks */
	{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE "},{\"name\":\"r\",\"stream\":"
	  "\"S\",\"subject\":\"s.b\",\"plugin\":\"p\"}]}",
	  "\"r\",\"stream\":\"S\",\"subject\":\"s.b\"",
	  "routes[1].name: duplicate route name \"r\" (also routes[0])" },
	{ "{" MIN_STREAMS ",\"routes\":[{\"name\":\"r\",\"stream\":\"NOPE\","
	  "\"subject\":\"s.a\",\"plugin\":\"p\"}]}",
	  "\"NOPE\"", "routes[0].stream: no stream named \"NOPE\"" },
	{ "{" MIN_STREAMS ",\"routes\":[{\"name\":\"r\",\"stream\":\"S\","
	  "\"subject\":\"t.a\",\"plugin\":\"p\"}]}",
	  "\"t.a\"", "routes[0].subject: \"t.a\" is not covered by the subjects of stream \"S\"" },
	{ "{" MIN_STREAMS ",\"routes\":[{\"name\":\"r\",\"stream\":\"S\","
	  "\"subject\":\">\",\"plugin\":\"p\"}]}",
	  "\">\"", "routes[0].subject: \">\" is not covered by the subjects of stream \"S\"" },
	{ "{\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\"]},"
	  "{\"name\":\"S\",\"subjects\":[\"t.>\"]}],\"routes\":[" MIN_ROUTE "}]}",
	  "\"S\",\"subjects\":[\"t",
	  "streams[1].name: duplicate stream name \"S\" (also streams[0])" },
	{ "{\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\"]},"
	  "{\"name\":\"T\",\"subjects\":[\"t.>\",\"s.*\"]}],\"routes\":[" MIN_ROUTE "}]}",
	  "\"s.*\"", "streams[1].subjects[1]: \"s.*\" overlaps \"s.>\" of stream \"S\"" },
	{ "{\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\",\"s.>\"]}],"
	  "\"routes\":[" MIN_ROUTE "}]}",
	  "\"s.>\"]", "streams[0].subjects[1]: duplicate subject \"s.>\"" },
	{ "{\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\",\"dlq.x\"]}],"
	  "\"routes\":[" MIN_ROUTE "}]}",
	  "\"dlq.x\"",
	  "streams[0].subjects[1]: \"dlq.x\" overlaps the dead-letter subjects "
	  "\"dlq.>\"" },
	{ "{" MIN_STREAMS ",\"dlq\":{\"subject_prefix\":\"s.dead\"},\"routes\":[" MIN_ROUTE "}]}",
	  "\"s.dead\"",
	  "dlq.subject_prefix: dead-letter subjects \"s.dead.>\" overlap \"s.>\" of "
	  "stream \"S\"" },
	{ "{" MIN_STREAMS ",\"dlq\":{\"subject_prefix\":\"s.*\"},\"routes\":[" MIN_ROUTE "}]}",
	  "\"s.*\"", "dlq.subject_prefix: \"s.*\" must be a NATS subject without wildcards" },
	{ "{" MIN_STREAMS ",\"dlq\":{\"stream\":\"S\"},\"routes\":[" MIN_ROUTE "}]}", "\"S\"}",
	  "dlq.stream: \"S\" is also a work stream (streams[0])" },
	{ "{\"streams\":[{\"name\":\"DLQ\",\"subjects\":[\"s.>\"]}],\"routes\":["
	  "{\"name\":\"r\",\"stream\":\"DLQ\",\"subject\":\"s.a\",\"plugin\":"
	  "\"p\"}]}",
	  "\"DLQ\"", "streams[0].name: \"DLQ\" is the dead-letter stream's name (dlq.stream)" },
	{ "{" MIN_STREAMS ",\"dlq\":{\"advisory_stream\":\"DLQ\"},\"routes\":[" MIN_ROUTE "}]}",
	  "\"DLQ\"", "dlq.advisory_stream: the dead-letter and advisory streams must differ" },
	{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE "},{\"name\":\"q\",\"stream\":"
	  "\"S\",\"subject\":\"s.*\",\"plugin\":\"p\"}]}",
	  "\"s.*\"",
	  "routes[1].subject: \"s.*\" overlaps \"s.a\" of routes[0] on work-queue "
	  "stream \"S\"" },
	{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"consumer\":\"c\"},"
	  "{\"name\":\"q\",\"stream\":\"S\",\"subject\":\"s.b\",\"plugin\":"
	  "\"p\",\"consumer\":\"c\"}]}",
	  "\"c\"}]",
	  "routes[1].consumer: consumer \"c\" is also used by routes[0] on stream "
	  "\"S\"" },
	{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"isolation\":\"fork\"}]}", "\"fork\"",
	  "routes[0].isolation: must be \"process\" or \"thread\", got \"fork\"" },
	{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"isolation\":\"thread\","
	  "\"limits\":{\"memory\":\"1GiB\"}}]}",
	  "{\"memory\"",
	  "routes[0].limits: limits apply to isolation \"process\" only (a handler thread "
	  "shares the engine's memory, CPU and files)" },
	{ "{" MIN_STREAMS ",\"routes\":[" MIN_ROUTE ",\"limits\":{\"files\":9}}]}", "\"files\"",
	  "routes[0].limits.files: unknown key" },
};

TEST(each_error_class_is_reported_in_place)
{
	for (size_t i = 0; i < N_ELEMS(error_cases); i++) {
		const struct error_case *c = &error_cases[i];
		char *errors = NULL, expect[512];
		struct cfg *cfg = NULL;
		int line, col, r;

		clear_env();
		r = load("t.json", c->text, &errors, &cfg);
		position_of(c->text, c->at, &line, &col);
		snprintf(expect, sizeof(expect), "t.json:%d:%d: %s\n", line, col, c->line);
		if (r != -EINVAL || cfg != NULL || errors == NULL || strcmp(errors, expect) != 0)
			testing_fail(__FILE__, __LINE__,
			             "case %zu: %d\n#   got:      %s#   expected: %s", i, r,
			             errors ? errors : "(none)\n", expect);
		free(errors);
		cfg_free(cfg);
	}
}

TEST(all_errors_are_collected_from_a_fixture)
{
	static const char expected[] =
	    "F:4:22: nats.connect_timeout: \"soon\" is not a duration (use ms, s, m, "
	    "h as in \"1h30m\")\n"
	    "F:6:2: colour: unknown key\n"
	    "F:10:16: streams[0].max_bytes: \"lots\" is not a size (bytes, or "
	    "KiB/MiB/GiB, KB/MB/GB)\n"
	    "F:15:4: routes[0].name: duplicate key\n"
	    "F:17:19: routes[0].concurrency: must be between 1 and 256, got 0\n"
	    "F:18:26: routes[0].backoff.jitter: must be between 0 and 1, got 2\n"
	    "F:13:3: routes[0].plugin: missing required key\n"
	    "F:20:61: routes[1].subject: \"work.b\" overlaps \"work.*\" of "
	    "routes[0] on work-queue stream \"WORK\"\n"
	    "F:21:42: routes[2].stream: no stream named \"ORDERS\"\n";
	char *path = fixture_path("tests/fixtures/conf", "multi_errors.json");
	char *errors = NULL, *text;
	struct cfg *cfg = NULL;
	size_t n;

	clear_env();
	CHECK_INT(cfg_load(path, &errors, &cfg), -EINVAL);
	CHECK_TRUE(cfg == NULL);
	CHECK_INT(count_lines(errors), 9);
	/* Messages start with the path they were given; compare past it. */
	n = strlen(path);
	CHECK_TRUE(errors != NULL && strncmp(errors, path, n) == 0);
	if (errors == NULL || strncmp(errors, path, n) != 0)
		goto out;
	/* Rewrite "<path>:" to "F:" on every line for an exact comparison. */
	text = calloc(1, strlen(errors) + 1);
	if (text != NULL) {
		const char *p = errors;
		char *o = text;

		while (*p != '\0') {
			if (strncmp(p, path, n) == 0) {
				*o++ = 'F';
				p += n;
			}
			while (*p != '\0' && *p != '\n')
				*o++ = *p++;
			if (*p == '\n')
				*o++ = *p++;
		}
		CHECK_STR(text, expected);
		free(text);
	}
out:
	free(errors);
	free(path);
}

TEST(fixtures_load_or_fail_as_named)
{
	static const struct {
		const char *file;
		int ret;
		const char *needle;
	} cases[] = {
		{ "valid_min.json", 0, NULL },
		{ "unknown_key.json", -EINVAL, ":3:3: routes[0].retries: unknown key\n" },
		{ "bad_json.json", -EINVAL, ":4:1: (root): invalid JSON: syntax error\n" },
		{ "missing.json", -ENOENT, ": cannot open: No such file or directory\n" },
	};

	clear_env();
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char *path = fixture_path("tests/fixtures/conf", cases[i].file);
		char *errors = NULL;
		struct cfg *cfg = NULL;
		int r = cfg_load(path, &errors, &cfg);

		if (r != cases[i].ret)
			testing_fail(__FILE__, __LINE__, "%s: %d, expected %d", cases[i].file, r,
			             cases[i].ret);
		if (cases[i].needle != NULL) {
			CHECK_CONTAINS(errors, cases[i].needle);
			CHECK_INT(count_lines(errors), 1);
			CHECK_TRUE(cfg == NULL);
		} else {
			CHECK_STR(errors, NULL);
			CHECK_TRUE(cfg != NULL);
		}
		free(errors);
		cfg_free(cfg);
		free(path);
	}
}

TEST(example_config_loads)
{
	char *path = fixture_path("conf", "taskjet.json");
	char *errors = NULL;
	struct cfg *cfg = NULL;
	const struct cfg_route *r;

	clear_env();
	CHECK_INT(cfg_load(path, &errors, &cfg), 0);
	CHECK_STR(errors, NULL);
	free(errors);
	free(path);
	if (cfg == NULL)
		return;
	CHECK_STR(cfg->nats.url, NULL);
	CHECK_STR(cfg->nats.name, "taskjet-example");
	/* No plugin_dir: where make install puts the shipped plugins. */
	CHECK_STR(cfg->plugin_dir, PLUGINDIR);
	/* No state_dir: $(localstatedir)/lib/taskjet, not /etc/taskjet/var. */
	CHECK_STR(cfg->state_dir, STATEDIR);
	CHECK_INT(cfg->stream_count, 3);
	CHECK_STR(cfg->streams[0].name, "PROVISIONING");
	CHECK_STR(cfg->streams[0].subjects[0], "provisioning.>");
	CHECK_INT(cfg->streams[0].storage, CFG_STORAGE_FILE);
	CHECK_INT(cfg->streams[0].retention, CFG_RETENTION_WORKQUEUE);
	CHECK_INT(cfg->streams[0].max_age_ms, 72 * 3600000LL);
	CHECK_INT(cfg->streams[0].max_msgs, 1000000);
	CHECK_INT(cfg->streams[0].replicas, 1);
	CHECK_INT(cfg->streams[0].duplicate_window_ms, 120000);
	CHECK_STR(cfg->streams[1].name, "EVENTS");
	CHECK_INT(cfg->streams[1].retention, CFG_RETENTION_LIMITS);
	CHECK_STR(cfg->streams[2].name, "CONTEXT");
	CHECK_STR(cfg->streams[2].subjects[0], "context.>");
	CHECK_STR(cfg->dlq.stream, "DLQ");
	CHECK_STR(cfg->dlq.subject_prefix, "dlq");
	CHECK_INT(cfg->route_count, 4);
	r = &cfg->routes[0];
	CHECK_STR(r->name, "provision");
	CHECK_STR(r->subject, "provisioning.provision");
	CHECK_STR(r->consumer, "provision-worker");
	CHECK_STR(r->plugin, "provision");
	CHECK_INT(r->concurrency, 4);
	CHECK_INT(r->max_attempts, 5);
	CHECK_INT(r->ack_wait_ms, 30000);
	CHECK_INT(r->backoff.initial_ms, 10000);
	CHECK_RANGE(r->backoff.multiplier, 2, 2);
	CHECK_INT(r->backoff.max_ms, 300000);
	CHECK_RANGE(r->backoff.jitter, 0.2, 0.2);
	CHECK_CONTAINS(r->config_json, "\"state_dir\": \"registry\"");
	CHECK_TRUE(r->config_json[0] == '{' && r->config_json[r->config_json_len - 1] == '}');
	CHECK_STR(cfg->routes[1].subject, "provisioning.deprovision");
	CHECK_STR(cfg->routes[1].plugin, "deprovision");
	CHECK_STR(cfg->routes[2].subject, "provisioning.update");
	CHECK_STR(cfg->routes[2].plugin, "update");
	r = &cfg->routes[3];
	CHECK_STR(r->name, "context-update");
	CHECK_STR(r->subject, "context.update");
	CHECK_STR(r->plugin, "context-update");
	CHECK_INT(r->payload, CFG_PAYLOAD_JSON);
	CHECK_TRUE(cfg_route_stream(cfg, r) == &cfg->streams[2]);
	/* Every shipped plugin requires a state_dir. */
	for (size_t i = 0; i < cfg->route_count; i++)
		CHECK_CONTAINS(cfg->routes[i].config_json, "\"state_dir\"");
	cfg_free(cfg);
}

TEST(environment_overrides)
{
	char *errors;
	struct cfg *cfg;
	int r;

	clear_env();
	setenv("NATS_URL", "nats://10.0.0.1:4222", 1);
	setenv("TASKJET_WORKER_ID", "node-7", 1);
	setenv("TASKJET_BACKEND", "memory", 1);
	CHECK_INT(load("t.json", MIN_CONFIG, &errors, &cfg), 0);
	if (cfg != NULL) {
		CHECK_STR(cfg->nats.url, "nats://10.0.0.1:4222");
		CHECK_STR(cfg->worker_id, "node-7");
		CHECK_STR(cfg->nats.name, "taskjet-node-7"); /* follows the id */
		CHECK_INT(cfg->backend, CFG_BACKEND_MEMORY);
	}
	cfg_free(cfg);

	/* The environment wins over the file; "nats" is an alias. */
	setenv("TASKJET_BACKEND", "nats", 1);
	CHECK_INT(load("t.json",
	               "{\"nats\":{\"url\":\"nats://file:1\",\"name\":\"fixed\"},"
	               "\"backend\":\"memory\",\"worker_id\":\"w\"," MIN_STREAMS
	               ",\"routes\":[" MIN_ROUTE "}]}",
	               &errors, &cfg),
	          0);
	if (cfg != NULL) {
		CHECK_STR(cfg->nats.url, "nats://10.0.0.1:4222");
		CHECK_STR(cfg->nats.name, "fixed");
		CHECK_STR(cfg->worker_id, "node-7");
		CHECK_INT(cfg->backend, CFG_BACKEND_JETSTREAM);
	}
	cfg_free(cfg);

	/* Bad values are reported, all of them, with file errors too. */
	setenv("NATS_URL", "", 1);
	setenv("TASKJET_WORKER_ID", "two words", 1);
	setenv("TASKJET_BACKEND", "kafka", 1);
	r = load("t.json", "{\"bogus\":1," MIN_STREAMS ",\"routes\":[" MIN_ROUTE "}]}", &errors,
	         &cfg);
	CHECK_INT(r, -EINVAL);
	CHECK_TRUE(cfg == NULL);
	CHECK_STR(errors, "t.json:1:2: bogus: unknown key\n"
	                  "t.json: NATS_URL: must not be empty\n"
	                  "t.json: TASKJET_WORKER_ID: \"two words\" must not contain "
	                  "whitespace or control characters\n"
	                  "t.json: TASKJET_BACKEND: must be \"jetstream\", \"nats\" or "
	                  "\"memory\", got \"kafka\"\n");
	free(errors);
	clear_env();
}

TEST(relative_paths_follow_the_config_file)
{
	static const char text[] =
	    "{\"plugin_dir\":\"plugins\",\"state_dir\":\"./var/x\","
	    "\"log\":{\"file\":\"/abs/log\"},\"nats\":{\"creds_file\":\"../c\"}," MIN_STREAMS
	    ",\"routes\":[" MIN_ROUTE "}]}";
	char *errors, *cwd, expect[4096];
	struct cfg *cfg;

	clear_env();
	CHECK_INT(load("/etc/tj/t.json", text, &errors, &cfg), 0);
	if (cfg != NULL) {
		CHECK_STR(cfg->plugin_dir, "/etc/tj/plugins");
		CHECK_STR(cfg->state_dir, "/etc/tj/var/x");
		CHECK_STR(cfg->log.file, "/abs/log");
		CHECK_STR(cfg->nats.creds_file, "/etc/tj/../c");
	}
	cfg_free(cfg);
	CHECK_INT(load("/t.json", text, &errors, &cfg), 0);
	if (cfg != NULL)
		CHECK_STR(cfg->plugin_dir, "/plugins");
	cfg_free(cfg);

	cwd = getcwd(NULL, 0);
	CHECK_TRUE(cwd != NULL);
	if (cwd == NULL)
		return;
	CHECK_INT(load("t.json", text, &errors, &cfg), 0);
	snprintf(expect, sizeof(expect), "%s/plugins", cwd);
	if (cfg != NULL)
		CHECK_STR(cfg->plugin_dir, expect);
	cfg_free(cfg);
	CHECK_INT(load("./sub/t.json", text, &errors, &cfg), 0);
	snprintf(expect, sizeof(expect), "%s/sub/var/x", cwd);
	if (cfg != NULL)
		CHECK_STR(cfg->state_dir, expect);
	cfg_free(cfg);
	free(cwd);
}

TEST(durations_table)
{
	static const struct {
		const char *text;
		int ret;
		int64_t ms;
	} cases[] = {
		{ "0", 0, 0 },
		{ "500ms", 0, 500 },
		{ "30s", 0, 30000 },
		{ "5m", 0, 300000 },
		{ "72h", 0, 259200000 },
		{ "1h30m", 0, 5400000 },
		{ "1h30m15s250ms", 0, 5415250 },
		{ "1m1ms", 0, 60001 },
		{ "0s", 0, 0 },
		{ "2562047788015h", 0, 2562047788015LL * 3600000 },
		{ "2562047788016h", -ERANGE, 0 }, /* overflows int64 ms */
		{ "9223372036854775807ms", 0, INT64_MAX },
		{ "9223372036854775807ms1ms", -EINVAL, 0 },
		{ "9223372036854775808ms", -ERANGE, 0 },
		{ "99999999999999999999h1x", -EINVAL, 0 }, /* bad syntax wins */
		{ "", -EINVAL, 0 },
		{ "5", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ "1.5s", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 },
		{ "1 s", -EINVAL, 0 },
		{ " 1s", -EINVAL, 0 },
		{ "1d", -EINVAL, 0 },
		{ "1S", -EINVAL, 0 },
		{ "30m1h", -EINVAL, 0 }, /* largest unit first */
		{ "1s1s", -EINVAL, 0 },
		{ "1ms5s", -EINVAL, 0 },
		{ "1h30", -EINVAL, 0 },
		{ "00", -EINVAL, 0 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		int64_t ms = -12345;
		int r = cfg_parse_duration(cases[i].text, strlen(cases[i].text), &ms);

		if (r != cases[i].ret || (r == 0 && ms != cases[i].ms) || (r != 0 && ms != -12345))
			testing_fail(__FILE__, __LINE__, "duration \"%s\": %d, %lld", cases[i].text,
			             r, (long long)ms);
	}
	/* Only `len` bytes are read. */
	{
		int64_t ms = 0;

		CHECK_INT(cfg_parse_duration("30sXYZ", 3, &ms), 0);
		CHECK_INT(ms, 30000);
	}
}

TEST(sizes_table)
{
	static const struct {
		const char *text;
		int ret;
		int64_t bytes;
	} cases[] = {
		{ "0", 0, 0 },
		{ "512", 0, 512 },
		{ "64KiB", 0, 65536 },
		{ "1MiB", 0, 1048576 },
		{ "1GiB", 0, 1073741824 },
		{ "3KB", 0, 3000 },
		{ "2MB", 0, 2000000 },
		{ "5GB", 0, 5000000000LL },
		{ "9223372036854775807", 0, INT64_MAX },
		{ "9223372036854775808", -ERANGE, 0 },
		{ "8589934591GiB", 0, 8589934591LL << 30 },
		{ "8589934592GiB", -ERANGE, 0 },
		{ "9223372036854775GB", -ERANGE, 0 },
		{ "99999999999999999999XB", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "KiB", -EINVAL, 0 },
		{ "1kib", -EINVAL, 0 },
		{ "1 KiB", -EINVAL, 0 },
		{ "1.5MiB", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "1TiB", -EINVAL, 0 },
		{ "1KiBx", -EINVAL, 0 },
	};

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		int64_t n = -12345;
		int r = cfg_parse_size(cases[i].text, strlen(cases[i].text), &n);

		if (r != cases[i].ret || (r == 0 && n != cases[i].bytes) || (r != 0 && n != -12345))
			testing_fail(__FILE__, __LINE__, "size \"%s\": %d, %lld", cases[i].text, r,
			             (long long)n);
	}
}

TEST(sizes_in_the_file)
{
	char *errors;
	struct cfg *cfg;

	clear_env();
	CHECK_INT(load("t.json",
	               "{\"streams\":[{\"name\":\"S\",\"subjects\":[\"s.>\"],"
	               "\"max_bytes\":\"64KiB\"}],\"dlq\":{\"max_bytes\":-1},"
	               "\"routes\":[" MIN_ROUTE "}]}",
	               &errors, &cfg),
	          0);
	CHECK_STR(errors, NULL);
	if (cfg != NULL) {
		CHECK_INT(cfg->streams[0].max_bytes, 65536);
		CHECK_INT(cfg->dlq.max_bytes, -1);
	}
	cfg_free(cfg);
}

/* Only a "\u0000" escape is a NUL: an escaped backslash before "u0000" is
 * not, and a route's config reaches the plugin as written. */
TEST(nul_escapes_are_told_apart)
{
	static const char text[] = "{\"worker_id\":\"a\\\\u0000\"," MIN_STREAMS
	                           ",\"routes\":[" MIN_ROUTE ",\"config\":{\"k\":\"\\u0000\"}}]}";
	struct cfg *cfg = load_valid(text);

	if (cfg == NULL)
		return;
	CHECK_STR(cfg->worker_id, "a\\u0000");
	CHECK_STR(cfg->routes[0].config_json, "{\"k\":\"\\u0000\"}");
	cfg_free(cfg);
}

/* Nesting past the parser's limit is refused, and the error says so. */
TEST(deep_nesting_names_the_limit)
{
	char text[1200], *errors = NULL;
	struct cfg *cfg = NULL;
	size_t n = 0;

	clear_env();
	n += (size_t)snprintf(text, sizeof(text), "{\"x\":");
	memset(text + n, '[', 512);
	n += 512;
	memset(text + n, ']', 512);
	n += 512;
	text[n++] = '}';
	text[n] = '\0';
	CHECK_INT(load("t.json", text, &errors, &cfg), -EINVAL);
	CHECK_TRUE(cfg == NULL);
	/* The 512th bracket is the 513th level (with the root object). */
	CHECK_STR(errors, "t.json:1:517: (root): invalid JSON: nesting deeper than 512\n");
	free(errors);
	cfg_free(cfg);
}

TEST(null_errors_pointer_is_allowed)
{
	struct cfg *cfg = NULL;

	clear_env();
	CHECK_INT(cfg_load_buffer("t.json", "{}", 2, NULL, &cfg), -EINVAL);
	CHECK_TRUE(cfg == NULL);
	CHECK_INT(cfg_load_buffer("t.json", "", 0, NULL, &cfg), -EINVAL);
	cfg_free(NULL);
}

int
main(void)
{
	RUN(minimal_config_gets_defaults);
	RUN(max_ack_pending_default_grows_with_the_route);
	RUN(prefetch_is_automatic_only_without_the_key);
	RUN(dlq_defaults_match_a_loaded_config);
	RUN(dlq_stream_and_prefix_fall_back_to_the_defaults);
	RUN(backend_names_come_from_one_table);
	RUN(every_key_is_read);
	RUN(nats_credentials_and_tls_keys);
	RUN(tasks_go_only_where_a_route_consumes);
	RUN(diff_names_what_changed);
	RUN(diff_sees_every_key_it_was_given);
	RUN(http_listen_values);
	RUN(comment_keys_are_ignored_everywhere);
	RUN(each_error_class_is_reported_in_place);
	RUN(all_errors_are_collected_from_a_fixture);
	RUN(fixtures_load_or_fail_as_named);
	RUN(example_config_loads);
	RUN(environment_overrides);
	RUN(relative_paths_follow_the_config_file);
	RUN(durations_table);
	RUN(sizes_table);
	RUN(sizes_in_the_file);
	RUN(nul_escapes_are_told_apart);
	RUN(deep_nesting_names_the_limit);
	RUN(null_errors_pointer_is_allowed);
	return testing_done();
}
