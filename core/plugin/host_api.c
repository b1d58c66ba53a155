/* SPDX-License-Identifier: MIT */
/* The services behind struct tj_host_api: registration, config, log, task. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task/backend.h"
#include "util/clock.h"
#include "plugin/host_api.h"
#include "task/router.h"
#include "task/task.h"
#include "util/xalloc.h"

/* Longest handler name, and longest fail reason kept (it becomes a header). */
#define HANDLER_NAME_MAX 128
#define FAIL_REASON_MAX 1024

static _Thread_local struct tj_plugin *current_self;
static _Thread_local struct tj_task *current_task;

static struct backend *publisher;

void
host_api_set_current(struct tj_plugin *self, struct tj_task *task)
{
	current_self = self;
	current_task = task;
}

void
host_api_set_publisher(struct backend *backend)
{
	__atomic_store_n(&publisher, backend, __ATOMIC_RELEASE);
}

void
host_api_drop_publisher(struct backend *backend)
{
	struct backend *expected = backend;

	__atomic_compare_exchange_n(&publisher, &expected, NULL, false, __ATOMIC_ACQ_REL,
	                            __ATOMIC_ACQUIRE);
}

int
host_api_instance_init(struct tj_plugin *self, const char *plugin_name, const char *route_name,
                       const char *text, size_t len)
{
	struct json_doc doc;
	char *copy;
	int rc;

	copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	rc = json_parse(copy, len, &doc, NULL);
	if (rc < 0) {
		free(copy);
		return -EINVAL;
	}
	if (doc.count < 1 || doc.toks[0].type != JSON_OBJECT) {
		json_doc_free(&doc);
		free(copy);
		return -EINVAL;
	}
	memset(self, 0, sizeof(*self));
	self->plugin_name = xstrdup(plugin_name);
	self->route_name = xstrdup(route_name);
	self->log_ctx.plugin = self->plugin_name;
	self->log_ctx.route = self->route_name;
	self->config_text = copy;
	self->config_len = len;
	self->config = doc;
	pthread_mutex_init(&self->config_lock, NULL);
	return 0;
}

void
host_api_instance_release(struct tj_plugin *self)
{
	if (self == NULL)
		return;
	for (size_t i = 0; i < self->handler_count; i++)
		free(self->handlers[i].name);
	free(self->handlers);
	for (size_t i = 0; i < self->string_cache_count; i++)
		free(self->string_cache[i]);
	free(self->string_cache);
	json_doc_free(&self->config);
	free(self->config_text);
	free(self->plugin_name);
	free(self->route_name);
	pthread_mutex_destroy(&self->config_lock);
	memset(self, 0, sizeof(*self));
}

static int
api_register_handler(tj_plugin *self, const char *name, tj_handler_fn fn, void *userdata)
{
	struct plugin_handler *h;

	if (self == NULL)
		return -EINVAL;
	if (!self->in_init)
		return -EPERM;
	if (name == NULL || name[0] == '\0' || strlen(name) >= HANDLER_NAME_MAX || fn == NULL)
		return -EINVAL;
	for (size_t i = 0; i < self->handler_count; i++)
		if (strcmp(self->handlers[i].name, name) == 0)
			return -EEXIST;
	/* Growing moves the array; that is fine because nobody holds a handler
	 * pointer before init returns. */
	self->handlers = xrealloc(self->handlers, self->handler_count + 1, sizeof(*self->handlers));
	h = &self->handlers[self->handler_count++];
	h->name = xstrdup(name);
	h->fn = fn;
	h->userdata = userdata;
	h->owner = self;
	return 0;
}

/* The value token of top-level `key`, or NULL. */
static const struct json_tok *
config_value(const struct tj_plugin *self, const char *key)
{
	return json_member(&self->config, &self->config.toks[0], key);
}

static int
api_config_string(tj_plugin *self, const char *key, const char **value_r)
{
	const struct json_tok *tok;
	size_t idx;
	char *s;
	int rc = 0;

	if (self == NULL || key == NULL || value_r == NULL)
		return -EINVAL;
	tok = config_value(self, key);
	if (tok == NULL)
		return -ENOENT;
	if (tok->type != JSON_STRING)
		return -EINVAL;
	idx = (size_t)(tok - self->config.toks);
	/* Unescape once per key and keep it: the pointer must live until fini,
	 * and handlers on several threads may ask concurrently. */
	pthread_mutex_lock(&self->config_lock);
	if (self->string_cache == NULL) {
		self->string_cache_count = (size_t)self->config.count;
		self->string_cache = xcalloc(self->string_cache_count, sizeof(*self->string_cache));
	}
	if (self->string_cache[idx] == NULL) {
		rc = json_get_string(&self->config, tok, &s);
		if (rc < 0)
			goto out;
		self->string_cache[idx] = s;
	}
	*value_r = self->string_cache[idx];
out:
	pthread_mutex_unlock(&self->config_lock);
	return rc < 0 ? -EINVAL : 0;
}

static int
api_config_integer(tj_plugin *self, const char *key, int64_t *value_r)
{
	const struct json_tok *tok;
	int64_t v;

	if (self == NULL || key == NULL || value_r == NULL)
		return -EINVAL;
	tok = config_value(self, key);
	if (tok == NULL)
		return -ENOENT;
	if (tok->type != JSON_PRIMITIVE || json_get_i64(&self->config, tok, &v) < 0)
		return -EINVAL;
	*value_r = v;
	return 0;
}

static int
api_config_bool(tj_plugin *self, const char *key, bool *value_r)
{
	const struct json_tok *tok;
	bool v;

	if (self == NULL || key == NULL || value_r == NULL)
		return -EINVAL;
	tok = config_value(self, key);
	if (tok == NULL)
		return -ENOENT;
	if (tok->type != JSON_PRIMITIVE || json_get_bool(&self->config, tok, &v) < 0)
		return -EINVAL;
	*value_r = v;
	return 0;
}

static int
api_config_json(tj_plugin *self, const char *key, const char **json_r, size_t *len_r)
{
	const struct json_tok *tok;
	int start, end;

	if (self == NULL || json_r == NULL || len_r == NULL)
		return -EINVAL;
	tok = key != NULL ? config_value(self, key) : &self->config.toks[0];
	if (tok == NULL)
		return -ENOENT;
	start = tok->start;
	end = tok->end;
	/* String tokens exclude their quotes; the raw JSON includes them. */
	if (tok->type == JSON_STRING) {
		start--;
		end++;
	}
	*json_r = self->config_text + start;
	*len_r = (size_t)(end - start);
	return 0;
}

static void TJ_PRINTF(3, 4) api_log(tj_plugin *self, int level, const char *fmt, ...)
{
	struct log_ctx ctx = { 0 };
	va_list ap;

	if (self == NULL)
		self = current_self;
	if (self != NULL)
		ctx = self->log_ctx;
	/* Inside a handler of this instance: name the task too. */
	if (self != NULL && self == current_self && current_task != NULL) {
		ctx.seq = current_task->stream_seq;
		ctx.attempt = current_task->attempt;
	}
	va_start(ap, fmt);
	log_vwrite(level, &ctx, fmt, ap);
	va_end(ap);
}

static const char *
api_task_subject(const tj_task *task)
{
	return task != NULL ? task->subject : NULL;
}

static const void *
api_task_payload(const tj_task *task, size_t *len_r)
{
	if (task == NULL) {
		if (len_r != NULL)
			*len_r = 0;
		return NULL;
	}
	if (len_r != NULL)
		*len_r = task->payload_len;
	return task->payload;
}

static const char *
api_task_header(const tj_task *task, const char *key)
{
	if (task == NULL || key == NULL || task->backend == NULL ||
	    task->backend->ops->header == NULL)
		return NULL;
	return task->backend->ops->header(task->backend, task, key);
}

static uint32_t
api_task_attempt(const tj_task *task)
{
	return task != NULL ? task->attempt : 0;
}

static uint32_t
api_task_max_attempts(const tj_task *task)
{
	if (task == NULL || task->route == NULL || task->route->cfg == NULL ||
	    task->route->cfg->max_attempts < 0)
		return 0;
	return (uint32_t)task->route->cfg->max_attempts;
}

static const char *
api_task_id(const tj_task *task)
{
	return task != NULL ? task->id : NULL;
}

static int
api_task_in_progress(tj_task *task)
{
	if (task == NULL)
		return -EINVAL;
	if (task->backend == NULL || task->backend->ops->in_progress == NULL)
		return -ENOTCONN;
	return task->backend->ops->in_progress(task->backend, task);
}

static int
api_task_publish(tj_task *task, const char *subject, const void *data, size_t len)
{
	struct backend *b = __atomic_load_n(&publisher, __ATOMIC_ACQUIRE);
	unsigned n;
	char *msg_id = NULL;
	int rc, idlen;

	if (task == NULL || subject == NULL || subject[0] == '\0' || (data == NULL && len > 0))
		return -EINVAL;
	if (b == NULL || b->ops->publish == NULL)
		return -ENOTCONN;
	/*
	 * The ordinal counts successful publishes only: a publish that timed
	 * out may still have been stored, and publishing it again in the same
	 * delivery must reuse its id so the server drops the duplicate.
	 */
	n = task->publish_count + 1;
	idlen = snprintf(NULL, 0, "%s:%s:%u", task->id, subject, n);
	msg_id = xmalloc((size_t)idlen + 1);
	snprintf(msg_id, (size_t)idlen + 1, "%s:%s:%u", task->id, subject, n);
	rc = b->ops->publish(b,
	                     &(struct publish_msg){ .subject = subject,
	                                            .data = data != NULL ? data : "",
	                                            .len = len,
	                                            .msg_id = msg_id },
	                     NULL);
	if (rc == 0)
		task->publish_count = n;
	free(msg_id);
	return rc;
}

static void
api_task_retry_after(tj_task *task, int64_t delay_ms)
{
	if (task == NULL)
		return;
	task->retry_after_ms = delay_ms < 0 ? 0 : delay_ms;
}

void
host_api_take_fail_reason(struct tj_task *task, char *reason, size_t len)
{
	/* The reason becomes a message header: one line, bounded, no control
	 * characters, and not cut in the middle of a UTF-8 sequence. */
	if (len > FAIL_REASON_MAX) {
		len = FAIL_REASON_MAX;
		while (len > 0 && ((unsigned char)reason[len] & 0xc0) == 0x80)
			len--;
	}
	reason[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)reason[i] < 0x20 || reason[i] == 0x7f)
			reason[i] = ' ';
	free(task->fail_reason);
	task->fail_reason = reason;
}

static void TJ_PRINTF(2, 3) api_task_fail_reason(tj_task *task, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	if (task == NULL || fmt == NULL)
		return;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	/* Never abort on a plugin's behalf: on OOM the previous reason stays. */
	if (n < 0)
		return;
	host_api_take_fail_reason(task, s, (size_t)n);
}

/* The task's header list from its backend; 0 entries when it has none. */
static size_t
task_headers(const tj_task *task, const struct msg_header **headers_r)
{
	size_t count = 0;

	*headers_r = NULL;
	if (task == NULL || task->backend == NULL || task->backend->ops->headers == NULL ||
	    task->backend->ops->headers(task->backend, task, headers_r, &count) < 0)
		return 0;
	return count;
}

static size_t
api_task_header_count(const tj_task *task)
{
	const struct msg_header *headers;

	return task_headers(task, &headers);
}

static int
api_task_header_at(const tj_task *task, size_t index, const char **key_r, const char **value_r)
{
	const struct msg_header *headers;
	size_t count;

	if (task == NULL || key_r == NULL || value_r == NULL)
		return -EINVAL;
	count = task_headers(task, &headers);
	if (index >= count)
		return -ERANGE;
	*key_r = headers[index].key;
	*value_r = headers[index].value;
	return 0;
}

static int64_t
api_task_time_left_ms(const tj_task *task)
{
	int64_t left;

	if (task == NULL || task->deadline_ms == 0)
		return -1;
	left = task->deadline_ms - clock_mono_ms();
	return left > 0 ? left : 0;
}

const struct tj_host_api host_api_table = {
	.size = sizeof(struct tj_host_api),
	.abi_major = TJ_ABI_MAJOR,
	.abi_minor = TJ_ABI_MINOR,
	.register_handler = api_register_handler,
	.config_string = api_config_string,
	.config_integer = api_config_integer,
	.config_bool = api_config_bool,
	.config_json = api_config_json,
	.log = api_log,
	.task_subject = api_task_subject,
	.task_payload = api_task_payload,
	.task_header = api_task_header,
	.task_attempt = api_task_attempt,
	.task_max_attempts = api_task_max_attempts,
	.task_id = api_task_id,
	.task_in_progress = api_task_in_progress,
	.task_publish = api_task_publish,
	.task_retry_after = api_task_retry_after,
	.task_fail_reason = api_task_fail_reason,
	.task_header_count = api_task_header_count,
	.task_header_at = api_task_header_at,
	.task_time_left_ms = api_task_time_left_ms,
};
