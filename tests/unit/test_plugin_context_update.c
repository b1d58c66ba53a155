/* SPDX-License-Identifier: MIT */
/* The context-update plugin: validation, merge, ordering, publish. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"
#include "testing.h"

#define SUBJECT "context.events"
/* The story document the tests read: f.file is <state>/DOC. */
#define DOC "context/US-1.json"
#define EV(v, ev, data) \
	"{\"story_id\":\"US-1\",\"event\":\"" ev "\",\"version\":" #v ",\"data\":" data "}"

/* Run one event; the verdict, and its publish count in *pubs_r. */
static tj_verdict
apply(struct fake_fix *f, const char *payload, size_t *pubs_r)
{
	struct tj_task *t = fake_task_new(SUBJECT, payload);
	tj_verdict v = fake_run(f->p, t);

	if (pubs_r != NULL)
		*pubs_r = t->pub_count;
	fake_task_free(t);
	return v;
}

static char *
doc_get(struct fake_fix *f, const char *path)
{
	char *doc = fake_read(f->file), *v;

	v = doc ? fake_json_get(doc, path) : NULL;
	free(doc);
	return v;
}

TEST(descriptor_and_config)
{
	struct tj_plugin *p;
	struct fake_fix f;
	char *ctx;

	CHECK_STR(tj_plugin_info.name, "context-update");
	p = fake_plugin_new("{\"state_dir\":\"/tmp\",\"events_subject\":\"\"}");
	CHECK_INT(fake_plugin_init(p), -EINVAL);
	CHECK_TRUE(fake_logged(p, TJ_LOG_ERR, "events_subject:"));
	fake_plugin_free(p);
	p = fake_plugin_new("{\"state\":\"/tmp\"}");
	CHECK_INT(fake_plugin_init(p), -EINVAL);
	fake_plugin_free(p);
	fake_fix_start(&f, DOC, "");
	CHECK_STR(f.p->handler_name, "context-update");
	ctx = fake_strdupf("%s/context", f.state);
	CHECK_TRUE(fake_exists(ctx));
	free(ctx);
	fake_fix_end(&f);
}

TEST(payload_is_validated)
{
	static const struct {
		const char *payload, *reason;
	} cases[] = {
		{ "{]", "payload: not valid JSON" },
		{ "7", "payload: must be a JSON object" },
		{ "{\"event\":\"e\",\"version\":1,\"data\":{}}", "story_id: missing" },
		{ "{\"story_id\":1,\"event\":\"e\",\"version\":1,\"data\":{}}",
		  "story_id: must be a string" },
		{ "{\"story_id\":\"../x\",\"event\":\"e\",\"version\":1,\"data\":{}}",
		  "story_id: must be" },
		{ "{\"story_id\":\"US-1\",\"version\":1,\"data\":{}}", "event: missing" },
		{ EV(1, "", "{}"), "event: must be a non-empty string" },
		{ EV(1, "a\\u0000b", "{}"), "event: must not contain a NUL character" },
		{ "{\"story_id\":\"US-1\",\"event\":3,\"version\":1,\"data\":{}}",
		  "event: must be a non-empty string" },
		{ "{\"story_id\":\"US-1\",\"event\":\"e\",\"data\":{}}", "version: missing" },
		{ EV(0, "e", "{}"), "version: must be an integer >= 1" },
		{ EV(-2, "e", "{}"), "version: must be an integer >= 1" },
		{ EV("1", "e", "{}"), "version: must be an integer >= 1" },
		{ EV(1.5, "e", "{}"), "version: must be an integer >= 1" },
		{ "{\"story_id\":\"US-1\",\"event\":\"e\",\"version\":1}", "data: missing" },
		{ EV(1, "e", "[]"), "data: must be an object" },
		{ EV(1, "e", "null"), "data: must be an object" },
	};
	struct fake_fix f;

	fake_fix_start(&f, DOC, "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tj_task *t = fake_task_new(SUBJECT, cases[i].payload);
		tj_verdict v = fake_run(f.p, t);

		if (v != TJ_FAIL || t->fail_reason == NULL ||
		    strstr(t->fail_reason, cases[i].reason) == NULL)
			testing_fail(__FILE__, __LINE__, "%s: verdict %d reason \"%s\"",
			             cases[i].payload, v,
			             t->fail_reason ? t->fail_reason : "(null)");
		CHECK_INT(t->pub_count, 0);
		fake_task_free(t);
	}
	CHECK_FALSE(fake_exists(f.file));
	fake_fix_end(&f);
}

TEST(first_event_creates_the_document_and_announces_it)
{
	struct fake_fix f;
	struct tj_task *t;
	char *v, *dir, *ls;

	fake_fix_start(&f, DOC, "");
	t = fake_task_new(SUBJECT, EV(1, "story.created", "{\"title\":\"Login\",\"points\":3}"));
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	CHECK_INT(t->pub_count, 1);
	if (t->pub_count == 1) {
		CHECK_STR(t->pubs[0].subject, "context.updated");
		CHECK_STR(t->pubs[0].data, "{\"story_id\":\"US-1\",\"version\":1}");
	}
	v = doc_get(&f, "story_id");
	CHECK_STR(v, "\"US-1\"");
	free(v);
	v = doc_get(&f, "version");
	CHECK_STR(v, "1");
	free(v);
	v = doc_get(&f, "last_event");
	CHECK_STR(v, "\"story.created\"");
	free(v);
	v = doc_get(&f, "data");
	CHECK_STR(v, "{\"title\":\"Login\",\"points\":3}");
	free(v);
	dir = fake_strdupf("%s/context", f.state);
	ls = fake_ls(dir);
	CHECK_STR(ls, "US-1.json US-1.lock"); /* no temporary files */
	free(ls);
	free(dir);
	fake_task_free(t);
	fake_fix_end(&f);
}

TEST(merge_replaces_adds_and_deletes_top_level_keys)
{
	struct fake_fix f;
	char *v;

	fake_fix_start(&f, DOC, "");
	CHECK_INT(apply(&f, EV(1, "a", "{\"a\":1,\"b\":{\"x\":[1,2]},\"c\":\"s\"}"), NULL),
	          TJ_DONE);
	CHECK_INT(apply(&f,
	                EV(2, "b",
	                   "{\"b\":null,\"c\":{\"deep\":true},\"d\":[null],"
	                   "\"gone\":null}"),
	                NULL),
	          TJ_DONE);
	v = doc_get(&f, "data");
	CHECK_STR(v, "{\"a\":1,\"c\":{\"deep\":true},\"d\":[null]}");
	free(v);
	v = doc_get(&f, "last_event");
	CHECK_STR(v, "\"b\"");
	free(v);
	fake_fix_end(&f);
}

TEST(keys_compare_unescaped_and_are_written_escaped)
{
	struct fake_fix f;
	char *v;

	fake_fix_start(&f, DOC, "");
	CHECK_INT(apply(&f, EV(1, "e", "{\"\\u0061\":1,\"q\\\"k\":\"v\\u00e9\\n\"}"), NULL),
	          TJ_DONE);
	CHECK_INT(apply(&f, EV(2, "e", "{\"a\":2}"), NULL), TJ_DONE);
	v = doc_get(&f, "data");
	CHECK_STR(v, "{\"a\":2,\"q\\\"k\":\"v\\u00e9\\n\"}");
	free(v);
	/* Duplicate keys in an event: the last one wins. */
	CHECK_INT(apply(&f, EV(3, "e", "{\"z\":1,\"z\":null,\"y\":1,\"y\":2}"), NULL), TJ_DONE);
	v = doc_get(&f, "data");
	CHECK_STR(v, "{\"a\":2,\"q\\\"k\":\"v\\u00e9\\n\",\"y\":2}");
	free(v);
	fake_fix_end(&f);
}

/* "\u0000" is valid JSON: a key holding it is its own key, kept and
 * merged like any other, never cut at the NUL. */
TEST(keys_with_nul_are_whole_keys)
{
	struct fake_fix f;
	char *v;

	fake_fix_start(&f, DOC, "");
	CHECK_INT(apply(&f, EV(1, "e", "{\"k\\u0000x\":1,\"k\":2}"), NULL), TJ_DONE);
	v = doc_get(&f, "data");
	CHECK_STR(v, "{\"k\\u0000x\":1,\"k\":2}");
	free(v);
	CHECK_INT(apply(&f, EV(2, "e", "{\"k\\u0000x\":null,\"k\\u0000\":3}"), NULL), TJ_DONE);
	v = doc_get(&f, "data");
	CHECK_STR(v, "{\"k\":2,\"k\\u0000\":3}");
	free(v);
	fake_fix_end(&f);
}

TEST(out_of_order_events_v2_v1_v3)
{
	struct fake_fix f;
	size_t pubs = 9;
	char *v;

	fake_fix_start(&f, DOC, "");
	CHECK_INT(apply(&f, EV(2, "two", "{\"k\":2,\"only2\":true}"), &pubs), TJ_DONE);
	CHECK_INT(pubs, 1);
	CHECK_INT(apply(&f, EV(1, "one", "{\"k\":1,\"only1\":true}"), &pubs), TJ_DONE);
	CHECK_INT(pubs, 0); /* ignored: nothing to announce */
	CHECK_TRUE(fake_logged(f.p, TJ_LOG_INFO, "stale event one version 1"));
	v = doc_get(&f, "data");
	CHECK_STR(v, "{\"k\":2,\"only2\":true}");
	free(v);
	CHECK_INT(apply(&f, EV(3, "three", "{\"k\":3}"), &pubs), TJ_DONE);
	CHECK_INT(pubs, 1);
	v = doc_get(&f, "data");
	CHECK_STR(v, "{\"k\":3,\"only2\":true}");
	free(v);
	v = doc_get(&f, "version");
	CHECK_STR(v, "3");
	free(v);
	v = doc_get(&f, "last_event");
	CHECK_STR(v, "\"three\"");
	free(v);
	fake_fix_end(&f);
}

TEST(every_event_twice_gives_the_same_document)
{
	static const char *const events[] = {
		EV(1, "a", "{\"x\":1}"),
		EV(2, "b", "{\"x\":null,\"y\":[1]}"),
		EV(3, "c", "{\"z\":\"s\"}"),
	};
	struct fake_fix f;

	fake_fix_start(&f, DOC, "");
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		char *first, *again;
		size_t pubs = 0;

		CHECK_INT(apply(&f, events[i], &pubs), TJ_DONE);
		CHECK_INT(pubs, 1);
		first = fake_read(f.file);
		CHECK_INT(apply(&f, events[i], &pubs), TJ_DONE);
		CHECK_INT(pubs, 1); /* re-announced, see context-update.c */
		again = fake_read(f.file);
		CHECK_STR(again, first);
		free(first);
		free(again);
	}
	fake_fix_end(&f);
}

TEST(custom_subject_and_failed_publish)
{
	struct fake_fix f;
	struct tj_task *t;
	char *v;

	fake_fix_start(&f, DOC, ",\"events_subject\":\"ctx.changed\"");
	t = fake_task_new(SUBJECT, EV(4, "e", "{\"a\":1}"));
	f.p->publish_error = -ENOENT;
	CHECK_INT(fake_run(f.p, t), TJ_RETRY);
	CHECK_CONTAINS(t->fail_reason, "publish ctx.changed");
	v = doc_get(&f, "version"); /* applied; the retry only announces */
	CHECK_STR(v, "4");
	free(v);
	f.p->publish_error = 0;
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	CHECK_INT(t->pub_count, 1);
	if (t->pub_count == 1)
		CHECK_STR(t->pubs[0].subject, "ctx.changed");
	fake_task_free(t);
	fake_fix_end(&f);
}

TEST(hook_runs_first_and_its_failure_leaves_the_document)
{
	struct fake_fix f;
	char *tmp = fake_tmpdir(), *script, *cfg, *v;
	struct tj_task *t;

	script = fake_script(tmp, "hook.sh",
	                     "[ \"$STORY_ID/$CONTEXT_EVENT/$CONTEXT_VERSION\" = "
	                     "US-1/ok/1 ] && exit 0; echo \"refused $CONTEXT_EVENT\" "
	                     ">&2; exit 1");
	cfg = fake_strdupf(",\"command\":[\"%s\"]", script);
	fake_fix_start(&f, DOC, cfg);
	CHECK_INT(apply(&f, EV(1, "ok", "{\"a\":1}"), NULL), TJ_DONE);
	t = fake_task_new(SUBJECT, EV(2, "bad", "{\"a\":2}"));
	CHECK_INT(fake_run(f.p, t), TJ_FAIL);
	CHECK_CONTAINS(t->fail_reason, "refused bad");
	CHECK_INT(t->pub_count, 0);
	v = doc_get(&f, "data");
	CHECK_STR(v, "{\"a\":1}");
	free(v);
	fake_task_free(t);
	fake_fix_end(&f);
	fake_rmtree(tmp);
	free(script);
	free(cfg);
	free(tmp);
}

TEST(corrupt_document_fails)
{
	struct fake_fix f;
	struct tj_task *t;
	FILE *out;

	fake_fix_start(&f, DOC, "");
	out = fopen(f.file, "w");
	if (out != NULL) {
		fputs("{\"version\":1,\"data\":[]}", out);
		fclose(out);
	}
	t = fake_task_new(SUBJECT, EV(2, "e", "{}"));
	CHECK_INT(fake_run(f.p, t), TJ_FAIL);
	CHECK_CONTAINS(t->fail_reason, "is corrupt");
	fake_task_free(t);
	fake_fix_end(&f);
}

int
main(void)
{
	RUN(descriptor_and_config);
	RUN(payload_is_validated);
	RUN(first_event_creates_the_document_and_announces_it);
	RUN(merge_replaces_adds_and_deletes_top_level_keys);
	RUN(keys_compare_unescaped_and_are_written_escaped);
	RUN(keys_with_nul_are_whole_keys);
	RUN(out_of_order_events_v2_v1_v3);
	RUN(every_event_twice_gives_the_same_document);
	RUN(custom_subject_and_failed_publish);
	RUN(hook_runs_first_and_its_failure_leaves_the_document);
	RUN(corrupt_document_fails);
	return testing_done();
}
