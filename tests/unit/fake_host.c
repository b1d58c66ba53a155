/* SPDX-License-Identifier: MIT */
/* A fake engine (tj_host_api) for plugin unit tests, and file helpers. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_host.h"
#include "testing.h"

static void *
must(void *p)
{
	if (p == NULL) {
		fprintf(stderr, "fake_host: out of memory\n");
		abort();
	}
	return p;
}

static char *
vdupf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		must(NULL);
	return s;
}

char *
fake_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vdupf(fmt, ap);
	va_end(ap);
	return s;
}

/* --- the host API --- */

static int
fake_register_handler(tj_plugin *self, const char *name, tj_handler_fn fn, void *userdata)
{
	if (!self->in_init)
		return -EPERM;
	if (name == NULL || *name == '\0' || fn == NULL)
		return -EINVAL;
	if (self->handler != NULL)
		return -EEXIST; /* the shipped plugins register exactly one */
	self->handler_name = must(strdup(name));
	self->handler = fn;
	self->handler_userdata = userdata;
	return 0;
}

static const struct json_tok *
config_find(tj_plugin *self, const char *key)
{
	if (!self->config_parsed)
		return NULL;
	return json_member(&self->config, self->config.toks, key);
}

static int
fake_config_string(tj_plugin *self, const char *key, const char **value_r)
{
	const struct json_tok *t = config_find(self, key);
	char *s;

	if (t == NULL)
		return -ENOENT;
	if (t->type != JSON_STRING || json_get_string(&self->config, t, &s) < 0)
		return -EINVAL;
	pthread_mutex_lock(&self->lock);
	self->strings =
	    must(realloc(self->strings, (self->string_count + 1) * sizeof(*self->strings)));
	self->strings[self->string_count++] = s;
	pthread_mutex_unlock(&self->lock);
	*value_r = s;
	return 0;
}

static int
fake_config_integer(tj_plugin *self, const char *key, int64_t *value_r)
{
	const struct json_tok *t = config_find(self, key);

	if (t == NULL)
		return -ENOENT;
	return json_get_i64(&self->config, t, value_r) < 0 ? -EINVAL : 0;
}

static int
fake_config_bool(tj_plugin *self, const char *key, bool *value_r)
{
	const struct json_tok *t = config_find(self, key);

	if (t == NULL)
		return -ENOENT;
	return json_get_bool(&self->config, t, value_r) < 0 ? -EINVAL : 0;
}

static int
fake_config_json(tj_plugin *self, const char *key, const char **json_r, size_t *len_r)
{
	const struct json_tok *t;
	int q;

	if (!self->config_parsed)
		return -ENOENT;
	t = key ? config_find(self, key) : self->config.toks;
	if (t == NULL)
		return -ENOENT;
	q = t->type == JSON_STRING ? 1 : 0;
	*json_r = self->config.text + t->start - q;
	*len_r = (size_t)(t->end - t->start + 2 * q);
	return 0;
}

static void fake_log_fn(tj_plugin *self, int level, const char *fmt, ...) TJ_PRINTF(3, 4);

static void
fake_log_fn(tj_plugin *self, int level, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = vdupf(fmt, ap);
	va_end(ap);
	if (getenv("FAKE_HOST_VERBOSE") != NULL)
		fprintf(stderr, "# log %d: %s\n", level, line);
	pthread_mutex_lock(&self->lock);
	self->logs = must(realloc(self->logs, (self->log_count + 1) * sizeof(*self->logs)));
	self->logs[self->log_count++] = (struct fake_log){ level, line };
	pthread_mutex_unlock(&self->lock);
}

static const char *
fake_task_subject(const tj_task *t)
{
	return t->subject;
}

static const void *
fake_task_payload(const tj_task *t, size_t *len_r)
{
	*len_r = t->payload_len;
	return t->payload;
}

static const char *
fake_task_header(const tj_task *t, const char *key)
{
	return NULL;
}

static uint32_t
fake_task_attempt(const tj_task *t)
{
	return t->attempt;
}

static uint32_t
fake_task_max_attempts(const tj_task *t)
{
	return t->max_attempts;
}

static const char *
fake_task_id(const tj_task *t)
{
	return t->id;
}

static int
fake_task_in_progress(tj_task *t)
{
	return 0;
}

static int
fake_task_publish(tj_task *t, const char *subject, const void *data, size_t len)
{
	struct fake_publish *p;

	if (t->owner != NULL && t->owner->publish_error != 0)
		return t->owner->publish_error;
	t->pubs = must(realloc(t->pubs, (t->pub_count + 1) * sizeof(*t->pubs)));
	p = &t->pubs[t->pub_count++];
	p->subject = must(strdup(subject));
	p->data = must(malloc(len + 1));
	memcpy(p->data, data, len);
	p->data[len] = '\0';
	p->len = len;
	return 0;
}

static void
fake_task_retry_after(tj_task *t, int64_t delay_ms)
{
	t->retry_after_ms = delay_ms;
}

static void fake_task_fail_reason(tj_task *t, const char *fmt, ...) TJ_PRINTF(2, 3);

static void
fake_task_fail_reason(tj_task *t, const char *fmt, ...)
{
	va_list ap;

	free(t->fail_reason);
	va_start(ap, fmt);
	t->fail_reason = vdupf(fmt, ap);
	va_end(ap);
}

/* --- instances and tasks --- */

struct tj_plugin *
fake_plugin_new(const char *config_json)
{
	struct tj_plugin *p = must(calloc(1, sizeof(*p)));

	p->api = (struct tj_host_api){
		.size = sizeof(struct tj_host_api),
		.abi_major = TJ_ABI_MAJOR,
		.abi_minor = TJ_ABI_MINOR,
		.register_handler = fake_register_handler,
		.config_string = fake_config_string,
		.config_integer = fake_config_integer,
		.config_bool = fake_config_bool,
		.config_json = fake_config_json,
		.log = fake_log_fn,
		.task_subject = fake_task_subject,
		.task_payload = fake_task_payload,
		.task_header = fake_task_header,
		.task_attempt = fake_task_attempt,
		.task_max_attempts = fake_task_max_attempts,
		.task_id = fake_task_id,
		.task_in_progress = fake_task_in_progress,
		.task_publish = fake_task_publish,
		.task_retry_after = fake_task_retry_after,
		.task_fail_reason = fake_task_fail_reason,
	};
	pthread_mutex_init(&p->lock, NULL);
	p->config_text = must(strdup(config_json));
	p->config_parsed =
	    json_parse(p->config_text, strlen(p->config_text), &p->config, NULL) == 0;
	return p;
}

int
fake_plugin_init(struct tj_plugin *p)
{
	int r;

	p->in_init = true;
	r = tj_plugin_init(p, &p->api, &p->userdata);
	p->in_init = false;
	p->inited = r == 0;
	return r;
}

void
fake_plugin_free(struct tj_plugin *p)
{
	if (p == NULL)
		return;
	if (p->inited)
		tj_plugin_fini(p->userdata);
	for (size_t i = 0; i < p->string_count; i++)
		free(p->strings[i]);
	free(p->strings);
	for (size_t i = 0; i < p->log_count; i++)
		free(p->logs[i].line);
	free(p->logs);
	if (p->config_parsed)
		json_doc_free(&p->config);
	free(p->config_text);
	free(p->handler_name);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

bool
fake_logged(struct tj_plugin *p, int level, const char *needle)
{
	bool found = false;

	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->log_count && !found; i++)
		found = (level < 0 || p->logs[i].level == level) &&
		        strstr(p->logs[i].line, needle) != NULL;
	pthread_mutex_unlock(&p->lock);
	return found;
}

struct tj_task *
fake_task_new(const char *subject, const char *payload)
{
	static unsigned seq; /* only from the main thread */
	struct tj_task *t = must(calloc(1, sizeof(*t)));

	t->subject = must(strdup(subject));
	t->payload = must(strdup(payload));
	t->payload_len = strlen(payload);
	t->attempt = 1;
	t->max_attempts = 5;
	t->id = fake_strdupf("TASKS:%u", ++seq);
	t->retry_after_ms = -1;
	return t;
}

void
fake_task_reset(struct tj_task *t)
{
	for (size_t i = 0; i < t->pub_count; i++) {
		free(t->pubs[i].subject);
		free(t->pubs[i].data);
	}
	free(t->pubs);
	t->pubs = NULL;
	t->pub_count = 0;
	free(t->fail_reason);
	t->fail_reason = NULL;
	t->retry_after_ms = -1;
}

void
fake_task_free(struct tj_task *t)
{
	if (t == NULL)
		return;
	fake_task_reset(t);
	free(t->subject);
	free(t->payload);
	free(t->id);
	free(t);
}

tj_verdict
fake_run(struct tj_plugin *p, struct tj_task *t)
{
	fake_task_reset(t);
	t->owner = p;
	if (p->handler == NULL)
		return TJ_FAIL;
	return p->handler(t, p->handler_userdata);
}

/* --- files --- */

char *
fake_tmpdir(void)
{
	char *d = must(strdup("/tmp/taskjet-plugin-test-XXXXXX"));

	if (mkdtemp(d) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return d;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		fprintf(stderr, "# remove %s: %s\n", path, strerror(errno));
	return 0;
}

void
fake_rmtree(const char *path)
{
	if (path != NULL)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *
fake_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			s = must(realloc(s, cap + 1));
		}
		n = fread(s + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	s[len] = '\0';
	return s;
}

bool
fake_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

char *
fake_script(const char *dir, const char *name, const char *body)
{
	char *path = fake_strdupf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	if (f == NULL || fprintf(f, "#!/bin/sh\n%s\n", body) < 0 || fclose(f) != 0 ||
	    chmod(path, 0755) < 0) {
		perror(path);
		abort();
	}
	return path;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *
fake_ls(const char *dir)
{
	char **names = NULL, *out;
	size_t n = 0, total = 1;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL)
		return must(strdup("(missing)"));
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		names = must(realloc(names, (n + 1) * sizeof(*names)));
		names[n++] = must(strdup(e->d_name));
		total += strlen(e->d_name) + 1;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	out = must(calloc(1, total));
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, names[i]);
		free(names[i]);
	}
	free(names);
	return out;
}

char *
fake_json_get(const char *text, const char *path)
{
	const struct json_tok *t;
	struct json_doc doc;
	char *copy, *save = NULL, *out = NULL;
	int q;

	if (json_parse(text, strlen(text), &doc, NULL) < 0)
		return NULL;
	copy = must(strdup(path));
	t = doc.toks;
	for (char *k = strtok_r(copy, ".", &save); k != NULL && t != NULL;
	     k = strtok_r(NULL, ".", &save))
		t = json_member(&doc, t, k);
	if (t != NULL) {
		q = t->type == JSON_STRING ? 1 : 0;
		out = must(strndup(text + t->start - q, (size_t)(t->end - t->start + 2 * q)));
	}
	free(copy);
	json_doc_free(&doc);
	return out;
}

void
fake_fix_start(struct fake_fix *f, const char *file_rel, const char *config_rest)
{
	char *cfg;

	f->tmp = fake_tmpdir();
	f->state = fake_strdupf("%s/state", f->tmp);
	f->file = file_rel != NULL ? fake_strdupf("%s/%s", f->state, file_rel) : NULL;
	cfg = fake_strdupf("{\"state_dir\":\"%s\"%s}", f->state, config_rest);
	f->p = fake_plugin_new(cfg);
	free(cfg);
	CHECK_INT(fake_plugin_init(f->p), 0);
}

void
fake_fix_put(struct fake_fix *f, const char *text)
{
	char *dir = must(strdup(f->file));
	FILE *out;

	*strrchr(dir, '/') = '\0';
	CHECK_INT(mkdir(dir, 0755), 0);
	out = fopen(f->file, "w");
	CHECK_TRUE(out != NULL);
	if (out != NULL) {
		fputs(text, out);
		fclose(out);
	}
	free(dir);
}

void
fake_fix_end(struct fake_fix *f)
{
	fake_plugin_free(f->p);
	fake_rmtree(f->tmp);
	free(f->file);
	free(f->state);
	free(f->tmp);
}
