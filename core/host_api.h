/* SPDX-License-Identifier: MIT */
/*
 * The tj_host_api table handed to plugins, and the per-instance state its
 * calls need. The loader owns instances; this file implements the services
 * (config reads, logging, task accessors, publish, retry hints).
 */
#ifndef TASKJET_HOST_API_H
#define TASKJET_HOST_API_H

#include <stdbool.h>

#include <taskjet/plugin.h>

#include "json.h"
#include "log.h"

/* The state behind the public opaque tj_plugin handle. Owned by the loader. */
struct tj_plugin {
	char *plugin_name;
	char *route_name;
	struct log_ctx log_ctx;
	/* The route's config object, parsed once; strings cached on read. */
	char *config_text;
	size_t config_len;
	struct json_doc config;
	char **string_cache; /* unescaped strings handed out, freed at destroy */
	size_t string_cache_count;
	bool in_init; /* registration allowed only while true */
	/* Registered handlers (managed by the loader). */
	struct plugin_handler *handlers;
	size_t handler_count;
	void *userdata;
};

/* The engine's table. Static, lives for the process. */
extern const struct tj_host_api host_api_table;

/* Parse the instance's config (`text` is copied). 0, or -EINVAL if it is
 * not a JSON object. */
int host_api_instance_init(struct tj_plugin *self, const char *plugin_name,
                           const char *route_name, const char *text,
                           size_t len);
/* Free what host_api_instance_init and the config reads allocated. */
void host_api_instance_release(struct tj_plugin *self);

/*
 * Where host-API publishes go: set once by the engine before workers start
 * (the backend that serves task_publish). Thread-safe to read afterwards.
 */
struct backend;
void host_api_set_publisher(struct backend *backend);

#endif
