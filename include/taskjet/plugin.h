/* SPDX-License-Identifier: MIT */
/*
 * taskjet handler plugin ABI: the only header a handler plugin needs.
 *
 * A plugin is a shared object named <name>.so in the engine's plugin
 * directory. It exports exactly three symbols:
 *
 *   tj_plugin_info   static descriptor, read (in a throwaway process, where
 *                    the plugin's constructors run) before any of its code
 *                    runs in the engine
 *   tj_plugin_init   required; registers handlers and reads its config
 *   tj_plugin_fini   optional; frees what init allocated
 *
 * The same file runs in the engine's threads or, isolated, in worker
 * processes (one per concurrency slot of a route, each running init with
 * the route's config); every member of tj_host_api works in both.
 *
 * The engine calls tj_plugin_init() once per route that uses the plugin, each
 * time with a new instance handle (tj_plugin *) and that route's "config"
 * object. A handler gives a verdict (TJ_DONE, TJ_RETRY, TJ_FAIL); the engine
 * alone decides what that means on the wire (ack, delayed nak, dead letter).
 *
 * Versioning policy
 *   - Appending a member to the END of struct tj_host_api, or appending a
 *     field to the END of struct tj_plugin_info, bumps TJ_ABI_MINOR.
 *   - Anything else (removing, reordering, changing a signature, a layout or
 *     an enum value) bumps TJ_ABI_MAJOR and resets TJ_ABI_MINOR to 0.
 *   - The engine loads a plugin when plugin.major == engine.major and
 *     plugin.minor <= engine.minor. Otherwise it refuses the plugin, naming
 *     both versions, without running any of the plugin's code.
 *   - A plugin that wants to run on an older engine of the same major checks
 *     a newer member with TJ_API_HAS() before using it.
 *
 * Ownership
 *   Nothing is freed across the boundary. Everything the engine hands a plugin
 *   is borrowed for the lifetime stated on the member; everything a plugin
 *   hands the engine is copied before the call returns.
 *
 * Changelog
 *   1.0  initial ABI.
 *   1.1  task_header_count, task_header_at (list a task's headers) and
 *        task_time_left_ms (time left before the handler's timeout).
 */
#ifndef TASKJET_PLUGIN_H
#define TASKJET_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TJ_ABI_MAJOR 1u
#define TJ_ABI_MINOR 1u

#if defined(__GNUC__)
#define TJ_EXPORT __attribute__((visibility("default")))
#define TJ_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TJ_EXPORT
#define TJ_PRINTF(fmt, args)
#endif

/* One initialised instance of a plugin: one route. Opaque. */
typedef struct tj_plugin tj_plugin;
/* One delivery of one task. Opaque; valid only during a handler call. */
typedef struct tj_task tj_task;

/* A handler's verdict. The engine owns what happens next. */
typedef enum tj_verdict {
	TJ_DONE = 0, /* processed: the task is acknowledged and removed         */
	TJ_RETRY = 1, /* transient failure: redelivered after a backoff delay,
	               * or dead-lettered once the route's attempts run out      */
	TJ_FAIL = 2 /* permanent failure: dead-lettered now, never retried     */
} tj_verdict;

/* Log levels, numbered as syslog(3) does. */
enum tj_log_level {
	TJ_LOG_ERR = 3,
	TJ_LOG_WARNING = 4,
	TJ_LOG_NOTICE = 5,
	TJ_LOG_INFO = 6,
	TJ_LOG_DEBUG = 7
};

/*
 * A task handler. With "isolation": "thread" it is called from the route's
 * worker threads, so with a route concurrency above 1 it runs concurrently
 * on different tasks and must be thread-safe for its userdata; with
 * "process" (the default) each worker process has its own instance and
 * calls it for one task at a time. The route's config picks the mode, so
 * write it thread-safe.
 *
 * It must return within the route's handler `timeout` (default 5 min;
 * task_time_left_ms says how much is left: return TJ_RETRY before it runs
 * out). Until then a handler that outlives the route's ack wait is kept
 * alive by the engine's in-progress heartbeat. At the timeout, with
 * "isolation": "process", the worker process is killed mid-call: the task is
 * retried with the route's backoff, or dead-lettered with reason "timed_out"
 * once max_attempts are used up, and the worker restarted (init runs again).
 * With "isolation": "thread" the thread cannot be stopped: the engine stops
 * keeping the task alive, so the server redelivers it after the ack wait
 * (dead-lettered as "max_deliveries" once deliveries run out); the thread
 * stays busy until the handler returns, and that late verdict is ignored.
 * A handler still running at the end of the shutdown grace is stopped the
 * same way, and the server redelivers its task: at once when its worker
 * was killed, after the ack wait when its thread was left behind.
 * JetStream delivers at least once: handlers must be idempotent. Any value
 * other than a tj_verdict is taken as TJ_FAIL.
 */
typedef tj_verdict (*tj_handler_fn)(tj_task *task, void *userdata);

/*
 * Services the engine offers a plugin. The engine owns the table; it stays
 * valid until tj_plugin_fini() returns. Append-only: see the policy above.
 * Every function is safe to call from any thread unless its comment says
 * otherwise. Integer returns are 0 on success or a negative errno value.
 */
struct tj_host_api {
	uint32_t size; /* sizeof(struct tj_host_api) as the engine built it */
	uint32_t abi_major; /* the engine's TJ_ABI_MAJOR */
	uint32_t abi_minor; /* the engine's TJ_ABI_MINOR */

	/* --- 1.0: setup, valid only inside tj_plugin_init() --- */

	/*
	 * Register handler `name` for this instance; the route picks one by
	 * name (its "handler" key, defaulting to the plugin's name). `name` is
	 * copied. `userdata` is passed back to every call of `fn`.
	 * -EPERM outside tj_plugin_init(), -EEXIST if `name` is taken on this
	 * instance, -EINVAL for a NULL or empty name or NULL fn.
	 */
	int (*register_handler)(tj_plugin *self, const char *name, tj_handler_fn fn,
	                        void *userdata);

	/* --- 1.0: the route's plugin config, valid until fini returns --- */

	/*
	 * Read a top-level key of this instance's "config" object. Strings are
	 * unescaped, NUL-terminated and owned by the engine. -ENOENT if the key
	 * is absent, -EINVAL if it has another JSON type (integer: a JSON number
	 * without fraction that fits int64_t).
	 */
	int (*config_string)(tj_plugin *self, const char *key, const char **value_r);
	int (*config_integer)(tj_plugin *self, const char *key, int64_t *value_r);
	int (*config_bool)(tj_plugin *self, const char *key, bool *value_r);
	/*
	 * The raw JSON text of a key's value (any type), or of the whole config
	 * object when `key` is NULL. Not NUL-terminated at *len_r.
	 */
	int (*config_json)(tj_plugin *self, const char *key, const char **json_r, size_t *len_r);

	/* --- 1.0: logging --- */

	/*
	 * Log one line attributed to this plugin instance (plugin and route
	 * name are added by the engine; inside a handler also the task's
	 * stream sequence and attempt). Thread-safe.
	 */
	void (*log)(tj_plugin *self, int level, const char *fmt, ...) TJ_PRINTF(3, 4);

	/* --- 1.0: the task, valid only during the handler call that got it --- */

	const char *(*task_subject)(const tj_task *task);
	/* The payload bytes; always followed by a NUL the length excludes. */
	const void *(*task_payload)(const tj_task *task, size_t *len_r);
	/* First value of header `key` (case-sensitive), or NULL if absent. */
	const char *(*task_header)(const tj_task *task, const char *key);
	/* 1 on first delivery, counted by the server across redeliveries. */
	uint32_t (*task_attempt)(const tj_task *task);
	/* The route's max_attempts: the last attempt is attempt == this. */
	uint32_t (*task_max_attempts)(const tj_task *task);
	/* A stable id: the publisher's Nats-Msg-Id, else "<stream>:<seq>". */
	const char *(*task_id)(const tj_task *task);

	/*
	 * Tell the server the task is still being worked on (extends its ack
	 * deadline). The engine already does this every ack_wait/2 while a
	 * handler runs; call it for finer control.
	 */
	int (*task_in_progress)(tj_task *task);
	/*
	 * Publish a follow-up message and wait until the server stored it.
	 * `data` is copied. The engine gives it a message id derived from this
	 * task's id, the subject and the call's ordinal within this delivery, so
	 * the same follow-up published again on a redelivery is deduplicated.
	 * -ENOENT if no stream takes `subject`, -ETIMEDOUT, -EIO otherwise.
	 */
	int (*task_publish)(tj_task *task, const char *subject, const void *data, size_t len);
	/* For TJ_RETRY: redeliver after delay_ms instead of the route's backoff. */
	void (*task_retry_after)(tj_task *task, int64_t delay_ms);
	/*
	 * Why the task failed; recorded as the Taskjet-Error header of the dead
	 * letter (and logged on retries). The text is formatted and copied; the
	 * last call wins.
	 */
	void (*task_fail_reason)(tj_task *task, const char *fmt, ...) TJ_PRINTF(2, 3);

	/* --- 1.1: the task, valid only during the handler call that got it --- */

	/*
	 * The task's headers in message order, one entry per value (a key sent
	 * with two values is listed twice). `index` runs from 0 to
	 * task_header_count() - 1; the strings are owned by the engine and
	 * valid until the handler returns. -ERANGE past the end, -EINVAL for
	 * NULL arguments.
	 */
	size_t (*task_header_count)(const tj_task *task);
	int (*task_header_at)(const tj_task *task, size_t index, const char **key_r,
	                      const char **value_r);
	/*
	 * Milliseconds left before the route's handler timeout stops this
	 * call; 0 once it has passed, -1 when no timeout applies. A handler
	 * doing long work checks it to give up (TJ_RETRY) cleanly in time.
	 */
	int64_t (*task_time_left_ms)(const tj_task *task);

	/* 1.2+: append new members here, and only here. */
};

/* True if the engine's table has `member` (for members added after 1.0). */
#define TJ_API_HAS(api, member)                                                         \
	((api)->size >= offsetof(struct tj_host_api, member) + sizeof((api)->member) && \
	 (api)->member != NULL)

/* Static facts about a plugin, read with dlsym() before any of its code runs. */
struct tj_plugin_info {
	uint32_t abi_major; /* TJ_ABI_MAJOR the plugin was built against */
	uint32_t abi_minor; /* TJ_ABI_MINOR the plugin was built against */
	const char *name; /* must equal the file name without ".so"    */
	const char *version; /* the plugin's own version                  */
	const char *description; /* one line for `taskjet plugins`            */
};

/* Declare the descriptor; use once, at file scope. */
#define TJ_PLUGIN_DECLARE(name_, version_, description_)                                     \
	TJ_EXPORT const struct tj_plugin_info tj_plugin_info = { TJ_ABI_MAJOR, TJ_ABI_MINOR, \
		                                                 (name_), (version_),        \
		                                                 (description_) }

/*
 * Required. Read config, allocate state, register handlers. `self` and `api`
 * stay valid until tj_plugin_fini() returns; keep them. Store per-instance
 * state in *userdata_r (it is passed to fini). Return 0, or a negative errno
 * to refuse: the engine then drops this instance's registrations, does not
 * call fini, and stops with the plugin's logged reason. Runs on the main
 * thread before any task is fetched (isolated: in each worker process, again
 * after a worker is restarted). Do not start threads that outlive fini.
 */
TJ_EXPORT int tj_plugin_init(tj_plugin *self, const struct tj_host_api *api, void **userdata_r);

/*
 * Optional. Free what init allocated. Called once per successful init, after
 * every handler call of the instance has returned.
 */
TJ_EXPORT void tj_plugin_fini(void *userdata);

/* Logging shorthands: tj_err(api, self, "bad %s", x). */
#define tj_err(api, self, ...) (api)->log((self), TJ_LOG_ERR, __VA_ARGS__)
#define tj_warn(api, self, ...) (api)->log((self), TJ_LOG_WARNING, __VA_ARGS__)
#define tj_notice(api, self, ...) (api)->log((self), TJ_LOG_NOTICE, __VA_ARGS__)
#define tj_info(api, self, ...) (api)->log((self), TJ_LOG_INFO, __VA_ARGS__)
#define tj_debug(api, self, ...) (api)->log((self), TJ_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif /* TASKJET_PLUGIN_H */
