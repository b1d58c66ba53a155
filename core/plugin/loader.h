/* SPDX-License-Identifier: MIT */
/*
 * The plugin loader: the only file that knows dlopen. It opens a plugin
 * file once (no symbolic link; the file and its directory owned by root or
 * the engine's user and writable by nobody else), has a probe process read
 * its descriptor so that a refused plugin runs no code in the engine, loads
 * the very file it checked through its descriptor, initialises one instance
 * per route, keeps the handlers each instance registered, and unloads them.
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
 * a file or directory owned by another user or writable by group or
 * others, -ENOEXEC dlopen failed or descriptor missing/bad/name mismatch
 * or no tj_plugin_init, or the probe process crashed or hung, -EPROTO ABI
 * mismatch, -EINVAL bad name, config not a JSON object, or init
 * registered no handler, or the plugin's own code when init fails (its
 * registrations are dropped).
 */
int plugin_instance_create(const char *dir, const char *name, const char *route_name,
                           const char *config_json, size_t config_len, char *err, size_t errlen,
                           struct plugin_instance **inst_r);

/*
 * Open `<dir>/<name>.so` for loading after the file checks above: *fd_r is
 * a read-only, close-on-exec descriptor the caller owns. What it refers to
 * cannot be swapped afterwards, so load through it (a worker process gets
 * it as its plugin descriptor). Same errors as plugin_instance_create.
 */
int plugin_file_open(const char *dir, const char *name, char *err, size_t errlen, int *fd_r);

/* plugin_instance_create for a file opened by plugin_file_open (`fd`
 * borrowed; `path` names it in messages). */
int plugin_instance_create_fd(int fd, const char *name, const char *path, const char *route_name,
                              const char *config_json, size_t config_len, char *err, size_t errlen,
                              struct plugin_instance **inst_r);

/* This process is a throwaway worker: load plugins without asking a probe
 * process first. Call once, before any load. */
void plugin_loader_set_sandboxed(void);

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

/* Read a plugin file's descriptor (in a probe process; nothing runs here)
 * into *probe. Same errors as plugin_instance_create. For `taskjet
 * plugins`. */
int plugin_probe_file(const char *path, char *err, size_t errlen, struct plugin_probe *probe);

/*
 * The probe process's side: dlopen the plugin open at `fd` in THIS process
 * (its constructors run here) and report its descriptor. Always 0; a file
 * that does not load is reported as such.
 */
struct probe_report;
int plugin_probe_here(int fd, struct probe_report *report);

/* The identity of the file the instance was loaded from (fstat of the
 * descriptor it was loaded through). 0 or -errno. */
struct stat;
int plugin_instance_file_stat(const struct plugin_instance *inst, struct stat *st_r);

/* The log context of an instance (route and plugin names). Borrowed. */
const struct log_ctx *plugin_instance_log_ctx(const struct plugin_instance *inst);

#endif
