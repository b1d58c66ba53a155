/* SPDX-License-Identifier: MIT */
/* The engine's single log sink. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "jsonw.h"
#include "util/clock.h"
#include "util/log.h"

#define LINE_MAX_BYTES 4096

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static int sink_fd = STDERR_FILENO;
static char *sink_path;
static int sink_level = TJ_LOG_INFO;
static enum log_format sink_format = LOG_FORMAT_TEXT;
static log_forward_fn forward;

static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
};

static int
open_sink(const char *path, int *fd_r)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd < 0)
		return -errno;
	*fd_r = fd;
	return 0;
}

int
log_check_path(const char *path)
{
	char *dir;
	char *slash;
	int rc = 0;

	if (access(path, F_OK) == 0)
		return access(path, W_OK) == 0 ? 0 : -errno;
	if (errno != ENOENT)
		return -errno;
	dir = strdup(path);
	if (dir == NULL)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK | X_OK) < 0)
		rc = -errno;
	free(dir);
	return rc;
}

int
log_setup(int level, enum log_format format, const char *path)
{
	int fd = STDERR_FILENO, rc = 0;
	char *copy = NULL;

	if (path != NULL) {
		copy = strdup(path);
		if (copy == NULL)
			return -ENOMEM;
		rc = open_sink(path, &fd);
		if (rc < 0) {
			free(copy);
			return rc;
		}
	}
	pthread_mutex_lock(&sink_lock);
	if (sink_fd != STDERR_FILENO)
		close(sink_fd);
	free(sink_path);
	sink_fd = fd;
	sink_path = copy;
	sink_level = level;
	sink_format = format;
	pthread_mutex_unlock(&sink_lock);
	return 0;
}

int
log_reopen(void)
{
	int fd = -1, rc = 0;

	pthread_mutex_lock(&sink_lock);
	if (sink_path != NULL) {
		rc = open_sink(sink_path, &fd);
		if (rc == 0) {
			close(sink_fd);
			sink_fd = fd;
		}
	}
	pthread_mutex_unlock(&sink_lock);
	return rc;
}

void
log_close(void)
{
	pthread_mutex_lock(&sink_lock);
	if (sink_fd != STDERR_FILENO)
		close(sink_fd);
	sink_fd = STDERR_FILENO;
	free(sink_path);
	sink_path = NULL;
	pthread_mutex_unlock(&sink_lock);
}

void
log_set_forward(log_forward_fn fn)
{
	__atomic_store_n(&forward, fn, __ATOMIC_RELEASE);
}

int
log_enabled(int level)
{
	return level <= __atomic_load_n(&sink_level, __ATOMIC_RELAXED);
}

int
log_level_parse(const char *name)
{
	for (int i = TJ_LOG_ERR; i <= TJ_LOG_DEBUG; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return i;
	if (strcasecmp(name, "warn") == 0)
		return TJ_LOG_WARNING;
	return -1;
}

/* Append printf output to buf at *off, never past cap (truncates). */
static void TJ_PRINTF(4, 5) append(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += (size_t)n < cap - *off ? (size_t)n : cap - *off - 1;
}

/* One JSON object for the line, with `msg_len` bytes of `msg`. */
static void
put_json_line(struct strbuf *b, int level, const char *when, const struct log_ctx *ctx,
              const char *msg, size_t msg_len)
{
	struct jsonw w;

	jsonw_init(&w, b);
	jsonw_begin_object(&w);
	jsonw_member_string(&w, "time", when);
	jsonw_member_string(&w, "level", level_names[level]);
	if (ctx != NULL && ctx->route != NULL)
		jsonw_member_string(&w, "route", ctx->route);
	if (ctx != NULL && ctx->plugin != NULL)
		jsonw_member_string(&w, "plugin", ctx->plugin);
	if (ctx != NULL && ctx->seq != 0)
		jsonw_member_uint(&w, "seq", ctx->seq);
	if (ctx != NULL && ctx->attempt != 0)
		jsonw_member_uint(&w, "attempt", ctx->attempt);
	if (ctx != NULL && ctx->task != NULL)
		jsonw_member_string(&w, "task", ctx->task);
	if (ctx != NULL && ctx->subject != NULL)
		jsonw_member_string(&w, "subject", ctx->subject);
	if (ctx != NULL && ctx->reason != NULL)
		jsonw_member_string(&w, "reason", ctx->reason);
	if (ctx != NULL && ctx->error != NULL)
		jsonw_member_string(&w, "error", ctx->error);
	jsonw_key(&w, "msg");
	jsonw_stringn(&w, msg, msg_len);
	jsonw_end_object(&w);
	if (jsonw_finish(&w) == 0)
		strbuf_put(b, "\n", 1);
}

/* Does the line with the first `n` bytes of the message fit? */
static bool
json_line_fits(struct strbuf *b, int level, const char *when, const struct log_ctx *ctx,
               const char *msg, size_t n)
{
	strbuf_truncate(b, 0);
	put_json_line(b, level, when, ctx, msg, n);
	return b->err != 0 || b->len <= LINE_MAX_BYTES;
}

/*
 * A JSON log line is one valid JSON object whatever bytes the message
 * holds (the writer escapes and repairs them), and at most LINE_MAX_BYTES
 * like a text line: escaping can make a message up to six times longer,
 * so a line that does not fit gets the longest prefix of the message that
 * does (a binary search, cut back to a character boundary).
 */
static void
format_json_line(struct strbuf *b, int level, const char *when, const struct log_ctx *ctx,
                 const char *msg)
{
	size_t lo = 0, hi = strlen(msg);

	if (json_line_fits(b, level, when, ctx, msg, hi))
		return;
	/* Invariant: the line fits with lo bytes and not with hi. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (json_line_fits(b, level, when, ctx, msg, mid))
			lo = mid;
		else
			hi = mid;
	}
	/* A prefix ending on a character boundary is never longer. */
	while (lo > 0 && ((unsigned char)msg[lo] & 0xc0) == 0x80)
		lo--;
	json_line_fits(b, level, when, ctx, msg, lo);
}

void
log_vwrite(int level, const struct log_ctx *ctx, const char *fmt, va_list ap)
{
	static const char lost[] = "{\"level\":\"error\",\"msg\":\"a log line was lost: out of "
	                           "memory\"}\n";
	char line[LINE_MAX_BYTES], msg[LINE_MAX_BYTES - 512], when[40];
	struct strbuf json = { 0 };
	const char *out = line;
	log_forward_fn fwd = __atomic_load_n(&forward, __ATOMIC_ACQUIRE);
	size_t off = 0;
	int fd;

	if (level < TJ_LOG_ERR)
		level = TJ_LOG_ERR;
	if (level > TJ_LOG_DEBUG)
		level = TJ_LOG_DEBUG;
	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (fwd != NULL) {
		fwd(level, ctx, msg);
		return;
	}
	clock_format_rfc3339(clock_wall_ms(), true, when, sizeof(when));

	if (__atomic_load_n(&sink_format, __ATOMIC_RELAXED) == LOG_FORMAT_JSON) {
		format_json_line(&json, level, when, ctx, msg);
		out = json.err == 0 ? json.data : lost;
		off = json.err == 0 ? json.len : sizeof(lost) - 1;
	} else {
		append(line, sizeof(line), &off, "%s %-7s", when, level_names[level]);
		if (ctx != NULL && ctx->route != NULL)
			append(line, sizeof(line), &off, " route=%s", ctx->route);
		if (ctx != NULL && ctx->plugin != NULL)
			append(line, sizeof(line), &off, " plugin=%s", ctx->plugin);
		if (ctx != NULL && ctx->seq != 0)
			append(line, sizeof(line), &off, " seq=%llu", (unsigned long long)ctx->seq);
		if (ctx != NULL && ctx->attempt != 0)
			append(line, sizeof(line), &off, " attempt=%u", ctx->attempt);
		append(line, sizeof(line), &off, " %s", msg);
		if (off >= sizeof(line) - 1)
			off = sizeof(line) - 2;
		line[off++] = '\n';
	}

	pthread_mutex_lock(&sink_lock);
	fd = sink_fd;
	/* One write per line; a short write to a log is not worth retrying. */
	if (write(fd, out, off) < 0)
		(void)0;
	pthread_mutex_unlock(&sink_lock);
	strbuf_release(&json);
}

void
log_write(int level, const struct log_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, ctx, fmt, ap);
	va_end(ap);
}
