/* SPDX-License-Identifier: MIT */
/*
 * context-update: apply versioned context events to one JSON document per
 * story, <state_dir>/context/<story_id>.json, then publish
 * {"story_id","version"} on events_subject (default "context.updated").
 *
 * Payload: {"story_id": id, "event": string, "version": integer >= 1,
 * "data": object}. The top-level members of "data" replace the document's
 * members of the same name; a null value deletes the member. Events may
 * arrive late or twice: a version below the recorded one is ignored (no
 * event), an equal one is "already applied" (TJ_DONE, the event is
 * published again so a redelivery after a failed publish completes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <taskjet/plugin.h>

#include "hook.h"
#include "json.h"
#include "jsonw.h"
#include "pcommon.h"
#include "pfs.h"

TJ_PLUGIN_DECLARE("context-update", PACKAGE_VERSION,
                  "Merge versioned context events into per-story documents");

#define CONTEXT_DEFAULT_SUBJECT "context.updated"

static const char *const context_keys[] = { "state_dir", "events_subject", "command",
	                                    "command_timeout_ms", NULL };

/* One instance's settings; read-only after init. */
struct context {
	tj_plugin *self;
	const struct tj_host_api *api;
	char *dir; /* <state_dir>/context */
	char *subject; /* where the follow-up goes */
	struct hook hook;
};

/* A validated event. */
struct context_event {
	struct json_doc doc;
	char *story_id;
	char *event;
	int64_t version;
	const struct json_tok *data;
};

/* One object's members with unescaped keys, for merging. */
struct members {
	char **keys; /* unescaped; may hold NUL (\u0000), hence key_lens */
	size_t *key_lens;
	const struct json_tok **vals;
	int count;
};

static void
members_free(struct members *m)
{
	for (int i = 0; i < m->count; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->key_lens);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static int
members_of(const struct json_doc *doc, const struct json_tok *obj, struct members *m_r)
{
	struct members m = { 0 };
	const struct json_tok *k;
	int i, r = 0;

	if (obj == NULL || obj->size == 0) {
		*m_r = m;
		return 0;
	}
	m.keys = calloc((size_t)obj->size, sizeof(*m.keys));
	m.key_lens = calloc((size_t)obj->size, sizeof(*m.key_lens));
	m.vals = calloc((size_t)obj->size, sizeof(*m.vals));
	if (m.keys == NULL || m.key_lens == NULL || m.vals == NULL) {
		r = -ENOMEM;
		goto out;
	}
	json_for_each_member(i, k, obj)
	{
		/* Compare keys unescaped: "\u0061" and "a" are one member. */
		r = json_get_stringn(doc, k, &m.keys[i], &m.key_lens[i]);
		if (r < 0)
			goto out;
		m.vals[i] = k + 1;
		m.count = i + 1;
	}
	*m_r = m;
	m = (struct members){ 0 };
out:
	members_free(&m);
	return r;
}

/* Index of the last member named `key`, or -1: with duplicate keys the
 * last one wins, as in most JSON readers. */
static int
members_find(const struct members *m, const char *key, size_t key_len)
{
	for (int i = m->count - 1; i >= 0; i--)
		if (m->key_lens[i] == key_len && memcmp(m->keys[i], key, key_len) == 0)
			return i;
	return -1;
}

/* Member i of m, its value copied as its raw text: no re-encoding
 * surprises. */
static void
add_member(struct jsonw *w, const struct members *m, int i, const struct json_doc *doc)
{
	const char *raw;
	size_t len;

	pc_tok_raw(doc, m->vals[i], &raw, &len);
	jsonw_keyn(w, m->keys[i], m->key_lens[i]);
	jsonw_raw(w, raw, len);
}

/*
 * Append the merge of `in` (the event's data) over `old` (the document's
 * data, NULL when new) as one JSON object: old members keep their order,
 * replaced in place; new members follow in event order; null deletes.
 */
static int
merge_data(struct jsonw *w, const struct json_doc *old_doc, const struct json_tok *old,
           const struct json_doc *in_doc, const struct json_tok *in)
{
	struct members om = { 0 }, im = { 0 };
	int r;

	r = members_of(old_doc, old, &om);
	if (r == 0)
		r = members_of(in_doc, in, &im);
	if (r < 0)
		goto out;
	jsonw_begin_object(w);
	for (int i = 0; i < om.count; i++) {
		int j;

		if (members_find(&om, om.keys[i], om.key_lens[i]) != i)
			continue; /* an earlier duplicate */
		j = members_find(&im, om.keys[i], om.key_lens[i]);
		if (j < 0)
			add_member(w, &om, i, old_doc);
		else if (!json_is_null(in_doc, im.vals[j]))
			add_member(w, &im, j, in_doc);
	}
	for (int j = 0; j < im.count; j++) {
		if (members_find(&im, im.keys[j], im.key_lens[j]) != j ||
		    members_find(&om, im.keys[j], im.key_lens[j]) >= 0 ||
		    json_is_null(in_doc, im.vals[j]))
			continue;
		add_member(w, &im, j, in_doc);
	}
	jsonw_end_object(w);
out:
	members_free(&om);
	members_free(&im);
	return r;
}

static void
event_free(struct context_event *ev)
{
	if (ev->doc.toks != NULL)
		json_doc_free(&ev->doc);
	free(ev->story_id);
	free(ev->event);
	memset(ev, 0, sizeof(*ev));
}

/* Validate the payload into *ev. 0, -EINVAL (reason set) or -ENOMEM. */
static int
event_parse(struct context *ctx, tj_task *task, struct context_event *ev)
{
	const struct tj_host_api *api = ctx->api;
	const struct json_tok *t;
	const char *payload;
	bool present;
	size_t len;
	int r;

	payload = api->task_payload(task, &len);
	if (pc_payload_object(api, task, payload, len, &ev->doc) < 0)
		return -EINVAL;
	r = pc_field_id(api, task, &ev->doc, "story_id", &ev->story_id);
	if (r < 0)
		return r;
	t = json_member(&ev->doc, ev->doc.toks, "event");
	if (t == NULL) {
		api->task_fail_reason(task, "event: missing");
		return -EINVAL;
	}
	if (t->type != JSON_STRING || t->end == t->start) {
		api->task_fail_reason(task, "event: must be a non-empty string");
		return -EINVAL;
	}
	r = json_get_string(&ev->doc, t, &ev->event);
	if (r == -EILSEQ) {
		api->task_fail_reason(task, "event: must not contain a NUL character");
		return -EINVAL;
	}
	if (r == -EINVAL)
		api->task_fail_reason(task, "event: must be a non-empty string");
	if (r < 0)
		return r;
	r = pc_field_int(api, task, &ev->doc, "version", 1, true, &present, &ev->version);
	if (r < 0)
		return r;
	ev->data = json_member(&ev->doc, ev->doc.toks, "data");
	if (ev->data == NULL) {
		api->task_fail_reason(task, "data: missing");
		return -EINVAL;
	}
	if (ev->data->type != JSON_OBJECT) {
		api->task_fail_reason(task, "data: must be an object");
		return -EINVAL;
	}
	return 0;
}

/* The document on disk. */
struct context_doc {
	char *text;
	struct json_doc doc;
	bool parsed;
	int64_t version;
	const struct json_tok *data;
};

static void
doc_free(struct context_doc *d)
{
	if (d->parsed)
		json_doc_free(&d->doc);
	free(d->text);
	memset(d, 0, sizeof(*d));
}

/* 0 (loaded), -ENOENT, -EBADMSG (corrupt) or -errno. */
static int
doc_load(const char *path, struct context_doc *d)
{
	const struct json_tok *t;
	size_t len;
	int r;

	r = pfs_read(path, PFS_MAX_FILE, &d->text, &len);
	if (r < 0)
		return r;
	if (json_parse(d->text, len, &d->doc, NULL) < 0)
		return -EBADMSG;
	d->parsed = true;
	if (d->doc.toks[0].type != JSON_OBJECT)
		return -EBADMSG;
	t = json_member(&d->doc, d->doc.toks, "version");
	if (t == NULL || json_get_i64(&d->doc, t, &d->version) < 0)
		return -EBADMSG;
	d->data = json_member(&d->doc, d->doc.toks, "data");
	if (d->data == NULL || d->data->type != JSON_OBJECT)
		return -EBADMSG;
	return 0;
}

/* The new document into b. 0 or -ENOMEM. */
static int
doc_build(struct strbuf *b, const struct context_event *ev, const struct context_doc *old)
{
	struct jsonw w;
	char now[32];
	int r;

	pc_now_utc(now);
	jsonw_init(&w, b);
	jsonw_begin_object(&w);
	jsonw_member_string(&w, "story_id", ev->story_id);
	jsonw_member_int(&w, "version", ev->version);
	jsonw_member_string(&w, "last_event", ev->event);
	jsonw_member_string(&w, "updated_at", now);
	jsonw_key(&w, "data");
	r = merge_data(&w, old ? &old->doc : NULL, old ? old->data : NULL, &ev->doc, ev->data);
	jsonw_end_object(&w);
	if (r == 0)
		r = jsonw_finish(&w);
	strbuf_puts(b, "\n");
	return r < 0 ? r : b->err;
}

static tj_verdict
run_hook(struct context *ctx, tj_task *task, const struct context_event *ev)
{
	char *env[4] = { NULL, NULL, NULL, NULL };
	const void *payload;
	size_t len;
	tj_verdict v = TJ_RETRY;

	if (ctx->hook.argv == NULL)
		return TJ_DONE;
	if (asprintf(&env[0], "STORY_ID=%s", ev->story_id) < 0)
		env[0] = NULL;
	if (asprintf(&env[1], "CONTEXT_EVENT=%s", ev->event) < 0)
		env[1] = NULL;
	if (asprintf(&env[2], "CONTEXT_VERSION=%lld", (long long)ev->version) < 0)
		env[2] = NULL;
	if (env[0] == NULL || env[1] == NULL || env[2] == NULL) {
		ctx->api->task_fail_reason(task, "out of memory");
		goto out;
	}
	payload = ctx->api->task_payload(task, &len);
	v = hook_run(&ctx->hook, ctx->api, task, (const char *const *)env, payload, len);
out:
	for (int i = 0; i < 3; i++)
		free(env[i]);
	return v;
}

static tj_verdict
publish_event(struct context *ctx, tj_task *task, const struct context_event *ev)
{
	struct strbuf b = { 0 };
	tj_verdict v = TJ_RETRY;
	struct jsonw w;

	jsonw_init(&w, &b);
	jsonw_begin_object(&w);
	jsonw_member_string(&w, "story_id", ev->story_id);
	jsonw_member_int(&w, "version", ev->version);
	jsonw_end_object(&w);
	if (jsonw_finish(&w) == 0)
		v = pc_publish(ctx->api, ctx->self, task, ctx->subject, b.data, b.len);
	else
		ctx->api->task_fail_reason(task, "out of memory");
	strbuf_release(&b);
	return v;
}

static tj_verdict
context_handle(tj_task *task, void *userdata)
{
	struct context *ctx = userdata;
	const struct tj_host_api *api = ctx->api;
	struct context_event ev = { 0 };
	struct context_doc old = { 0 };
	struct strbuf b = { 0 };
	char *path = NULL, *lock_path = NULL, ebuf[128];
	bool exists = true, publish = true;
	tj_verdict v = TJ_RETRY;
	int r, lock_fd = -1;

	r = event_parse(ctx, task, &ev);
	if (r == -EINVAL) {
		v = TJ_FAIL;
		goto out;
	}
	if (r < 0 || asprintf(&path, "%s/%s.json", ctx->dir, ev.story_id) < 0 ||
	    asprintf(&lock_path, "%s/%s.lock", ctx->dir, ev.story_id) < 0) {
		api->task_fail_reason(task, "out of memory");
		goto out;
	}
	/* Recreated if someone removed it since init. */
	r = pfs_mkdir_p(ctx->dir);
	if (r == 0)
		r = pfs_lock(lock_path, &lock_fd);
	if (r < 0) {
		api->task_fail_reason(task, "lock %s: %s", lock_path,
		                      pc_strerror(-r, ebuf, sizeof(ebuf)));
		goto out;
	}
	r = doc_load(path, &old);
	if (r == -ENOENT) {
		exists = false;
	} else if (r == -EBADMSG) {
		tj_err(api, ctx->self, "context document %s is corrupt", path);
		api->task_fail_reason(task, "context document %s is corrupt", path);
		v = TJ_FAIL;
		goto out;
	} else if (r < 0) {
		api->task_fail_reason(task, "read %s: %s", path,
		                      pc_strerror(-r, ebuf, sizeof(ebuf)));
		goto out;
	}
	if (exists && ev.version < old.version) {
		tj_info(api, ctx->self,
		        "%s: stale event %s version %lld (document "
		        "has %lld): ignored",
		        ev.story_id, ev.event, (long long)ev.version, (long long)old.version);
		publish = false;
		v = TJ_DONE;
	} else if (exists && ev.version == old.version) {
		tj_info(api, ctx->self, "%s: version %lld already applied", ev.story_id,
		        (long long)ev.version);
		v = TJ_DONE;
	} else {
		v = run_hook(ctx, task, &ev);
		if (v != TJ_DONE)
			goto out;
		r = doc_build(&b, &ev, exists ? &old : NULL);
		if (r == 0)
			r = pfs_write_atomic(path, b.data, b.len);
		if (r < 0) {
			api->task_fail_reason(task, "write %s: %s", path,
			                      pc_strerror(-r, ebuf, sizeof(ebuf)));
			v = TJ_RETRY;
			goto out;
		}
	}
	pfs_unlock(lock_fd);
	lock_fd = -1;
	if (publish)
		v = publish_event(ctx, task, &ev);
out:
	pfs_unlock(lock_fd);
	strbuf_release(&b);
	doc_free(&old);
	event_free(&ev);
	free(path);
	free(lock_path);
	return v;
}

static void
context_destroy(struct context *ctx)
{
	if (ctx == NULL)
		return;
	free(ctx->dir);
	free(ctx->subject);
	hook_release(&ctx->hook);
	free(ctx);
}

TJ_EXPORT int
tj_plugin_init(tj_plugin *self, const struct tj_host_api *api, void **userdata_r)
{
	struct context *ctx;
	char *state_dir = NULL, ebuf[128];
	int r;

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return -ENOMEM;
	ctx->self = self;
	ctx->api = api;
	r = pc_config_check_keys(api, self, context_keys);
	if (r == 0)
		r = pc_config_state_dir(api, self, &state_dir);
	if (r == 0)
		r = pc_config_string(api, self, "events_subject", false, &ctx->subject);
	if (r < 0)
		goto out;
	if (ctx->subject == NULL)
		ctx->subject = strdup(CONTEXT_DEFAULT_SUBJECT);
	if (ctx->subject == NULL || asprintf(&ctx->dir, "%s/context", state_dir) < 0) {
		ctx->dir = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (!pc_subject_valid(ctx->subject)) {
		tj_err(api, self,
		       "events_subject: \"%s\" is not a literal NATS "
		       "subject",
		       ctx->subject);
		r = -EINVAL;
		goto out;
	}
	r = pfs_mkdir_p(ctx->dir);
	if (r < 0) {
		tj_err(api, self, "state_dir: %s: %s", ctx->dir,
		       pc_strerror(-r, ebuf, sizeof(ebuf)));
		goto out;
	}
	r = hook_config(api, self, &ctx->hook);
	if (r == 0)
		r = api->register_handler(self, "context-update", context_handle, ctx);
	if (r < 0)
		goto out;
	*userdata_r = ctx;
	ctx = NULL;
out:
	free(state_dir);
	context_destroy(ctx);
	return r;
}

TJ_EXPORT void
tj_plugin_fini(void *userdata)
{
	context_destroy(userdata);
}
