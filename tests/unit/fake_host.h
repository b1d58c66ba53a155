/* SPDX-License-Identifier: MIT */
/*
 * A fake engine for plugin unit tests: a struct tj_host_api whose calls
 * record what the plugin did (fail reason, retry hint, publishes, log lines)
 * so a plugin's .c files can be compiled straight into a test program and
 * driven through tj_plugin_init / its handler / tj_plugin_fini without the
 * loader or NATS. Plus small file helpers the plugin tests share.
 *
 * Thread-safety: one fake_task per thread; fake_run() on one instance from
 * many threads at once is fine (log lines and config reads are locked).
 */
#ifndef TASKJET_TESTS_FAKE_HOST_H
#define TASKJET_TESTS_FAKE_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <taskjet/plugin.h>

#include "json.h"

/* The descriptor of the plugin compiled into the test (plugin.h only
 * defines it through TJ_PLUGIN_DECLARE). */
extern const struct tj_plugin_info tj_plugin_info;

struct fake_publish {
	char *subject;
	char *data; /* NUL-terminated copy */
	size_t len;
};

struct fake_log {
	int level;
	char *line;
};

/* One delivery. Create with fake_task_new(); results are filled by fake_run(). */
struct tj_task {
	char *subject;
	char *payload;
	size_t payload_len;
	uint32_t attempt;
	uint32_t max_attempts;
	char *id;
	struct tj_plugin *owner; /* set by fake_run */
	/* What the plugin did. */
	char *fail_reason; /* last task_fail_reason(), or NULL */
	int64_t retry_after_ms; /* -1 when not called */
	struct fake_publish *pubs;
	size_t pub_count;
};

/* One plugin instance. */
struct tj_plugin {
	struct tj_host_api api;
	char *config_text;
	struct json_doc config;
	bool config_parsed;
	pthread_mutex_t lock; /* guards strings and logs */
	char **strings; /* unescaped config strings handed out */
	size_t string_count;
	struct fake_log *logs;
	size_t log_count;
	bool in_init;
	bool inited;
	void *userdata;
	char *handler_name;
	tj_handler_fn handler;
	void *handler_userdata;
	int publish_error; /* nonzero: task_publish returns it */
};

/* An instance whose "config" object is `config_json`. Aborts on OOM. */
struct tj_plugin *fake_plugin_new(const char *config_json);
/* Call tj_plugin_init with the fake table; its return value. */
int fake_plugin_init(struct tj_plugin *p);
/* Call tj_plugin_fini if init succeeded, then free everything. NULL-safe. */
void fake_plugin_free(struct tj_plugin *p);
/* Does a logged line (any level when level < 0) contain `needle`? */
bool fake_logged(struct tj_plugin *p, int level, const char *needle);

/* A delivery of `payload` on `subject`, attempt 1, id "TASKS:<n>". */
struct tj_task *fake_task_new(const char *subject, const char *payload);
/* Forget the recorded results (to run the same task again). */
void fake_task_reset(struct tj_task *t);
void fake_task_free(struct tj_task *t);
/* Run the registered handler on `t` (after reset). */
tj_verdict fake_run(struct tj_plugin *p, struct tj_task *t);

/* Test helpers; all abort on OOM. */
char *fake_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fresh directory under /tmp; remove with fake_rmtree(). */
char *fake_tmpdir(void);
void fake_rmtree(const char *path);
/* The file's content (malloc'd, NUL-terminated) or NULL if unreadable. */
char *fake_read(const char *path);
bool fake_exists(const char *path);
/* Write an executable /bin/sh script `dir`/`name` with `body`; its path. */
char *fake_script(const char *dir, const char *name, const char *body);
/*
 * The raw JSON text of the value at dot-separated `path` ("data.a") in the
 * JSON document `text` (strings keep their quotes), malloc'd; NULL when
 * the text does not parse or the path is absent.
 */
char *fake_json_get(const char *text, const char *path);
/* The directory's entries, sorted, space-separated ("" when empty). */
char *fake_ls(const char *dir);

/* The usual plugin fixture: a fresh temp dir, state_dir = <tmp>/state (the
 * plugin creates it) and an instance initialised, as a checked step, with
 * config {"state_dir":"<state>"<config_rest>}. Owns every field. */
struct fake_fix {
	char *tmp;
	char *state;
	char *file; /* <state>/<file_rel>, or NULL without one */
	struct tj_plugin *p;
};

/* Fill f; file_rel (may be NULL) names the test's state file. */
void fake_fix_start(struct fake_fix *f, const char *file_rel, const char *config_rest);
/* Write text to f->file, making its parent directory first (both checked:
 * the directory must not exist yet). */
void fake_fix_put(struct fake_fix *f, const char *text);
/* Free the instance, remove the temp dir and free the paths. */
void fake_fix_end(struct fake_fix *f);

#endif
