/* SPDX-License-Identifier: MIT */
/*
 * The tj_host_api table handed to plugins, and the per-instance state its
 * calls need. The loader owns instances; this file implements the services
 * (config reads, logging, task accessors, publish, retry hints).
 */
#ifndef TASKJET_HOST_API_H
#define TASKJET_HOST_API_H

#include <pthread.h>
#include <stdbool.h>

#include <taskjet/plugin.h>

#include "json.h"
#include "util/log.h"

/* One registered handler. Owned by its instance; stable once init returned. */
struct plugin_handler {
	char *name;
	tj_handler_fn fn;
	void *userdata;
	struct tj_plugin *owner; /* the instance that registered it */
};

/* The state behind the public opaque tj_plugin handle. Owned by the loader. */
struct tj_plugin {
	char *plugin_name;
	char *route_name;
	struct log_ctx log_ctx;
	/* The route's config object, parsed once; strings cached on read. */
	char *config_text;
	size_t config_len;
	struct json_doc config;
	char **string_cache; /* by token index: unescaped strings handed out */
	size_t string_cache_count;
	pthread_mutex_t config_lock; /* guards string_cache (handlers may read) */
	bool in_init; /* registration allowed only while true */
	/* Registered handlers: appended by register_handler during init,
	 * read-only afterwards, freed by host_api_instance_release. */
	struct plugin_handler *handlers;
	size_t handler_count;
	void *userdata;
};

/* The engine's table. Static, lives for the process. */
extern const struct tj_host_api host_api_table;

/* Parse the instance's config (`text` is copied). 0, or -EINVAL if it is
 * not a JSON object. */
int host_api_instance_init(struct tj_plugin *self, const char *plugin_name, const char *route_name,
                           const char *text, size_t len);
/* Free what host_api_instance_init, the config reads and the
 * registrations allocated (this drops every handler). NULL-safe. */
void host_api_instance_release(struct tj_plugin *self);

/*
 * The instance and task whose handler runs on the calling thread, so log
 * lines can name the task's sequence and attempt. Set by plugin_call()
 * around the handler (NULL, NULL when it returns). Thread-local.
 */
void host_api_set_current(struct tj_plugin *self, struct tj_task *task);

/*
 * Where host-API publishes go: set once by the engine before workers start
 * (the backend that serves task_publish). Thread-safe to read afterwards.
 */
struct backend;
void host_api_set_publisher(struct backend *backend);
/* Forget the publisher if it is `backend` (being torn down); leave one
 * that took over (a reload's new backend) in place. Thread-safe. */
void host_api_drop_publisher(struct backend *backend);

/*
 * Make `reason` (malloc'd, `len` bytes, room for a NUL at len) the task's
 * fail reason the way task_fail_reason does: cut to the header limit on a
 * UTF-8 boundary, control characters blanked. Takes ownership.
 */
void host_api_take_fail_reason(struct tj_task *task, char *reason, size_t len);

#endif
