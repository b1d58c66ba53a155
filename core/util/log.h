/* SPDX-License-Identifier: MIT */
/*
 * One log line per event, to stderr or a file, as text or JSON. Lines carry
 * level, UTC time and, when known, route, plugin, stream sequence and
 * attempt. Every function here is thread-safe; a line is written with one
 * write(2) so lines from different threads never interleave.
 */
#ifndef TASKJET_LOG_H
#define TASKJET_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include <taskjet/plugin.h>

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

/* Who a line is about. Every field is optional (NULL / 0). Borrowed.
 * JSON lines carry each set field as a member of its own, so a log
 * pipeline can select on a task or reason without parsing msg; text lines
 * show route, plugin, seq and attempt (the message names the rest). */
struct log_ctx {
	const char *route;
	const char *plugin;
	uint64_t seq;
	uint32_t attempt;
	const char *task; /* the task's id */
	const char *subject; /* the task's subject */
	const char *reason; /* a dead letter's reason ("handler_failed", ...) */
	const char *error; /* the handler's or the store's error text */
};

/*
 * Configure the sink. `path` NULL means stderr; otherwise the file is opened
 * for appending (and reopened by log_reopen()). Returns 0 or -errno; on
 * failure the previous sink stays.
 */
int log_setup(int level, enum log_format format, const char *path);
/* Could log_setup() open `path`? 0 if the file exists and is writable,
 * or is missing and its directory lets us create it; else -errno. Opens
 * and creates nothing (`taskjet check`). Thread-safe. */
int log_check_path(const char *path);
/* Reopen the log file (SIGHUP, after rotation). 0 or -errno. */
int log_reopen(void);
/* Close the file sink and fall back to stderr. */
void log_close(void);
/*
 * Hand each line's level, context and formatted message to `fn` instead of
 * writing it (a worker process forwards its lines to the engine, which
 * writes them with its own context). NULL: write to the sink again. The
 * level filter still applies. Set before other threads log.
 */
typedef void (*log_forward_fn)(int level, const struct log_ctx *ctx, const char *msg);
void log_set_forward(log_forward_fn fn);
/* True if a line at `level` would be written. */
int log_enabled(int level);
/* Parse "error", "warning", "notice", "info", "debug". -1 if unknown. */
int log_level_parse(const char *name);

void log_write(int level, const struct log_ctx *ctx, const char *fmt, ...) TJ_PRINTF(3, 4);
void log_vwrite(int level, const struct log_ctx *ctx, const char *fmt, va_list ap) TJ_PRINTF(3, 0);

#define log_err(...) log_write(TJ_LOG_ERR, NULL, __VA_ARGS__)
#define log_warn(...) log_write(TJ_LOG_WARNING, NULL, __VA_ARGS__)
#define log_notice(...) log_write(TJ_LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(...) log_write(TJ_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_write(TJ_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
