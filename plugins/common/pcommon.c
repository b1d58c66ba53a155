/* SPDX-License-Identifier: MIT */
/* Small helpers every shipped plugin uses: config, ids, payload fields. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pcommon.h"
#include "pfs.h"

const char *
pc_strerror(int err, char *buf, size_t size)
{
	/* The GNU strerror_r returns the message, maybe not in buf. */
	return strerror_r(err, buf, size);
}

bool
pc_id_valid(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
		if (n > 0 && c == '.' && s[n - 1] == '.')
			return false;
	}
	return n >= 1 && n <= PC_ID_MAX && strcmp(s, ".") != 0;
}

bool
pc_subject_valid(const char *s)
{
	size_t tok = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '.') {
			if (tok == 0)
				return false;
			tok = 0;
			continue;
		}
		if (c <= ' ' || c == 0x7f || c == '*' || c == '>')
			return false;
		tok++;
	}
	return tok > 0;
}

int
pc_config_check_keys(const struct tj_host_api *api, tj_plugin *self, const char *const allowed[])
{
	const struct json_tok *k;
	struct json_doc doc;
	const char *text;
	size_t len;
	int i, r;

	r = api->config_json(self, NULL, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = json_parse(text, len, &doc, NULL);
	if (r < 0)
		return r;
	if (doc.toks[0].type != JSON_OBJECT) {
		tj_err(api, self, "config: must be a JSON object");
		r = -EINVAL;
		goto out;
	}
	json_for_each_member(i, k, doc.toks)
	{
		bool known = false;

		/* "//..." keys are comments, as in the engine's own config. */
		known = k->end - k->start >= 2 && doc.text[k->start] == '/' &&
		        doc.text[k->start + 1] == '/';
		for (size_t j = 0; allowed[j] != NULL && !known; j++)
			known = json_tok_eq(&doc, k, allowed[j]);
		if (!known) {
			tj_err(api, self, "config: unknown key \"%.*s\"", k->end - k->start,
			       doc.text + k->start);
			r = -EINVAL;
			goto out;
		}
	}
out:
	json_doc_free(&doc);
	return r;
}

int
pc_config_string(const struct tj_host_api *api, tj_plugin *self, const char *key, bool required,
                 char **value_r)
{
	const char *v;
	char *copy;
	int r;

	r = api->config_string(self, key, &v);
	if (r == -ENOENT && !required) {
		*value_r = NULL;
		return 0;
	}
	if (r == -ENOENT) {
		tj_err(api, self, "%s: required", key);
		return -EINVAL;
	}
	if (r < 0 || *v == '\0') {
		tj_err(api, self, "%s: must be a non-empty string", key);
		return -EINVAL;
	}
	copy = strdup(v);
	if (copy == NULL)
		return -ENOMEM;
	*value_r = copy;
	return 0;
}

int
pc_config_state_dir(const struct tj_host_api *api, tj_plugin *self, char **value_r)
{
	char *dir = NULL, ebuf[128];
	int r;

	r = pc_config_string(api, self, "state_dir", true, &dir);
	if (r < 0)
		goto out;
	r = pfs_mkdir_p(dir);
	if (r == 0 && access(dir, W_OK | X_OK) < 0)
		r = -errno;
	if (r < 0) {
		tj_err(api, self, "state_dir: %s: %s", dir, pc_strerror(-r, ebuf, sizeof(ebuf)));
		goto out;
	}
	*value_r = dir;
	dir = NULL;
out:
	free(dir);
	return r;
}

void
pc_tok_raw(const struct json_doc *doc, const struct json_tok *tok, const char **text_r,
           size_t *len_r)
{
	/* String tokens exclude their quotes; everything else is exact. */
	int q = tok->type == JSON_STRING ? 1 : 0;

	*text_r = doc->text + tok->start - q;
	*len_r = (size_t)(tok->end - tok->start + 2 * q);
}

int
pc_payload_object(const struct tj_host_api *api, tj_task *task, const char *payload, size_t len,
                  struct json_doc *doc)
{
	struct json_doc d;

	if (json_parse(payload, len, &d, NULL) < 0) {
		api->task_fail_reason(task, "payload: not valid JSON");
		return -EINVAL;
	}
	if (d.toks[0].type != JSON_OBJECT) {
		json_doc_free(&d);
		api->task_fail_reason(task, "payload: must be a JSON object");
		return -EINVAL;
	}
	*doc = d;
	return 0;
}

int
pc_field_id(const struct tj_host_api *api, tj_task *task, const struct json_doc *doc,
            const char *key, char **value_r)
{
	const struct json_tok *t;
	char *v = NULL;
	int r;

	t = json_member(doc, doc->toks, key);
	if (t == NULL) {
		api->task_fail_reason(task, "%s: missing", key);
		return -EINVAL;
	}
	if (t->type != JSON_STRING) {
		api->task_fail_reason(task, "%s: must be a string", key);
		return -EINVAL;
	}
	r = json_get_string(doc, t, &v);
	if (r == -ENOMEM)
		return r;
	if (r < 0 || !pc_id_valid(v)) {
		free(v);
		api->task_fail_reason(task,
		                      "%s: must be 1-%d of [A-Za-z0-9._-], not \".\", "
		                      "without \"..\"",
		                      key, PC_ID_MAX);
		return -EINVAL;
	}
	*value_r = v;
	return 0;
}

int
pc_field_int(const struct tj_host_api *api, tj_task *task, const struct json_doc *doc,
             const char *key, int64_t min, bool required, bool *present_r, int64_t *value_r)
{
	const struct json_tok *t;
	int64_t v;

	t = json_member(doc, doc->toks, key);
	if (t == NULL && !required) {
		*present_r = false;
		return 0;
	}
	if (t == NULL) {
		api->task_fail_reason(task, "%s: missing", key);
		return -EINVAL;
	}
	if (t->type != JSON_PRIMITIVE || json_get_i64(doc, t, &v) < 0 || v < min) {
		if (min == 0)
			api->task_fail_reason(task, "%s: must be a non-negative integer", key);
		else
			api->task_fail_reason(task, "%s: must be an integer >= %lld", key,
			                      (long long)min);
		return -EINVAL;
	}
	*present_r = true;
	*value_r = v;
	return 0;
}

void
pc_now_utc(char buf[32])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

tj_verdict
pc_publish(const struct tj_host_api *api, tj_plugin *self, tj_task *task, const char *subject,
           const char *body, size_t len)
{
	char ebuf[128];
	int r;

	r = api->task_publish(task, subject, body, len);
	if (r == 0)
		return TJ_DONE;
	tj_warn(api, self, "publish %s: %s", subject, pc_strerror(-r, ebuf, sizeof(ebuf)));
	api->task_fail_reason(task, "publish %s: %s", subject, pc_strerror(-r, ebuf, sizeof(ebuf)));
	return TJ_RETRY;
}
