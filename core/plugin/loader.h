/* SPDX-License-Identifier: MIT */
/*
 * The plugin loader: the only file that knows dlopen. It checks a plugin's
 * descriptor before running any of its code, initialises one instance per
 * route, keeps the handlers each instance registered, and unloads them.
 *
 * Threads: create/destroy on the main thread only; plugin_call() from any
 * worker thread once create has returned.
 */
#ifndef TASKJET_LOADER_H
#define TASKJET_LOADER_H

#include <stddef.h>

#include <taskjet/plugin.h>

#include "util/log.h"

struct plugin_instance;
struct plugin_handler;

/* What a plugin file says about itself, without running its code. */
struct plugin_probe {
	char name[128];
	char version[64];
	char description[256];
	unsigned abi_major, abi_minor;
};

/*
 * Load `<dir>/<name>.so` (refcounted per file), check it and run its
 * tj_plugin_init() with this route's raw "config" JSON (copied; NULL or
 * empty means {}). On failure returns -errno and writes one line to
 * `err` (size errlen): why, naming both ABI versions on a mismatch, with
 * dlerror() and a hint when dlopen fails. Errors: -ENOENT no file,
 * -EPERM a symbolic link (refused, as collectd does), not a regular file,
 * or world-writable, -ENOEXEC dlopen failed or descriptor missing/bad/name
 * mismatch or no tj_plugin_init, -EPROTO ABI mismatch, -EINVAL bad name,
 * config not a JSON object, or init registered no handler, or the
 * plugin's own code when init fails (its registrations are dropped).
 */
int plugin_instance_create(const char *dir, const char *name, const char *route_name,
                           const char *config_json, size_t config_len, char *err, size_t errlen,
                           struct plugin_instance **inst_r);

/* Run tj_plugin_fini (if init succeeded), drop the handlers, dlclose when
 * the last instance of the file goes. NULL is a no-op. */
void plugin_instance_destroy(struct plugin_instance *inst);

/* The handler registered as `name`, or NULL. */
const struct plugin_handler *plugin_instance_handler(const struct plugin_instance *inst,
                                                     const char *name);
/* Names of the registered handlers, for listings; i < count. */
size_t plugin_instance_handler_count(const struct plugin_instance *inst);
const char *plugin_instance_handler_name(const struct plugin_instance *inst, size_t i);
const struct tj_plugin_info *plugin_instance_info(const struct plugin_instance *inst);

/* Call a handler for `task`. Returns what it returned, as an int. */
int plugin_call(const struct plugin_handler *handler, struct tj_task *task);

/* Read a plugin file's descriptor (dlopen without init) into *probe.
 * Same errors as plugin_instance_create. For `taskjet plugins`. */
int plugin_probe_file(const char *path, char *err, size_t errlen, struct plugin_probe *probe);

/* The log context of an instance (route and plugin names). Borrowed. */
const struct log_ctx *plugin_instance_log_ctx(const struct plugin_instance *inst);

#endif
