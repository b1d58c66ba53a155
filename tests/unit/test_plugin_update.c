/* SPDX-License-Identifier: MIT */
/* The update plugin through a fake host: ordering, staleness, hook. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"
#include "testing.h"

#define SUBJECT "provisioning.update"
#define TASK(rest) "{\"tenant_id\":\"acme\",\"module_id\":\"erp\"" rest "}"
#define RECORD                                                         \
	"{\"tenant_id\":\"acme\",\"module_id\":\"erp\",\"version\":2," \
	"\"spec\":{\"plan\":\"silver\"},\"provisioned_at\":\"2024-01-01T00:00:00Z\"}\n"

/* f->file is <state>/acme/erp.json, holding RECORD when with_record. */
static void
fix_start(struct fake_fix *f, const char *extra_config, bool with_record)
{
	char *cfg = fake_strdupf(",\"events_subject\":\"prov.ev\"%s", extra_config);

	fake_fix_start(f, "acme/erp.json", cfg);
	free(cfg);
	if (with_record)
		fake_fix_put(f, RECORD);
}

static char *
rec_get(struct fake_fix *f, const char *path)
{
	char *rec = fake_read(f->file), *v;

	v = rec ? fake_json_get(rec, path) : NULL;
	free(rec);
	return v;
}

TEST(descriptor)
{
	CHECK_STR(tj_plugin_info.name, "update");
	CHECK_INT(tj_plugin_info.abi_major, TJ_ABI_MAJOR);
}

TEST(payload_is_validated)
{
	static const struct {
		const char *payload, *reason;
	} cases[] = {
		{ "{", "payload: not valid JSON" },
		{ "{\"module_id\":\"erp\",\"spec\":{}}", "tenant_id: missing" },
		{ "{\"tenant_id\":\"acme\",\"spec\":{}}", "module_id: missing" },
		{ "{\"tenant_id\":\"acme\",\"module_id\":\"e rp\",\"spec\":{}}",
		  "module_id: must be" },
		{ TASK(""), "spec: missing" },
		{ TASK(",\"spec\":null"), "spec: must be an object" },
		{ TASK(",\"spec\":{},\"version\":-1"), "version: must be a non-negative integer" },
		{ TASK(",\"spec\":{},\"version\":\"3\""),
		  "version: must be a non-negative integer" },
	};
	struct fake_fix f;
	char *before, *after;

	fix_start(&f, "", true);
	before = fake_read(f.file);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tj_task *t = fake_task_new(SUBJECT, cases[i].payload);
		tj_verdict v = fake_run(f.p, t);

		if (v != TJ_FAIL || t->fail_reason == NULL ||
		    strstr(t->fail_reason, cases[i].reason) == NULL)
			testing_fail(__FILE__, __LINE__, "%s: verdict %d reason \"%s\"",
			             cases[i].payload, v,
			             t->fail_reason ? t->fail_reason : "(null)");
		fake_task_free(t);
	}
	after = fake_read(f.file);
	CHECK_STR(after, before);
	free(before);
	free(after);
	fake_fix_end(&f);
}

TEST(unknown_module_fails)
{
	struct fake_fix f;
	struct tj_task *t;

	fix_start(&f, "", false);
	t = fake_task_new(SUBJECT, TASK(",\"spec\":{},\"version\":3"));
	CHECK_INT(fake_run(f.p, t), TJ_FAIL);
	CHECK_STR(t->fail_reason, "module not provisioned");
	CHECK_INT(t->pub_count, 0);
	CHECK_FALSE(fake_exists(f.file));
	fake_task_free(t);
	fake_fix_end(&f);
}

TEST(newer_version_is_applied_and_repeats_change_nothing)
{
	struct fake_fix f;
	struct tj_task *t;
	char *v, *first, *again, *dir, *ls;

	fix_start(&f, "", true);
	t = fake_task_new(SUBJECT, TASK(",\"spec\":{\"plan\":\"gold\"},\"version\":3"));
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	v = rec_get(&f, "version");
	CHECK_STR(v, "3");
	free(v);
	v = rec_get(&f, "spec");
	CHECK_STR(v, "{\"plan\":\"gold\"}");
	free(v);
	v = rec_get(&f, "provisioned_at"); /* kept from the original */
	CHECK_STR(v, "\"2024-01-01T00:00:00Z\"");
	free(v);
	v = rec_get(&f, "updated_at");
	CHECK_TRUE(v != NULL);
	free(v);
	CHECK_INT(t->pub_count, 1);
	if (t->pub_count == 1) {
		CHECK_STR(t->pubs[0].subject, "prov.ev.updated");
		CHECK_STR(t->pubs[0].data,
		          "{\"tenant_id\":\"acme\",\"module_id\":\"erp\",\"version\":3}");
	}
	first = fake_read(f.file);
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	again = fake_read(f.file);
	CHECK_STR(again, first);
	CHECK_INT(t->pub_count, 1); /* re-announced: see update.c */
	CHECK_TRUE(fake_logged(f.p, TJ_LOG_INFO, "already applied"));
	dir = fake_strdupf("%s/acme", f.state);
	ls = fake_ls(dir);
	CHECK_STR(ls, "erp.json erp.lock");
	free(ls);
	free(dir);
	free(first);
	free(again);
	fake_task_free(t);
	fake_fix_end(&f);
}

TEST(stale_updates_are_ignored)
{
	static const char *const stale[] = {
		TASK(",\"spec\":{\"plan\":\"bronze\"},\"version\":1"),
		TASK(",\"spec\":{\"plan\":\"bronze\"},\"version\":0"),
		/* Same version, other spec: a late duplicate of an older change. */
		TASK(",\"spec\":{\"plan\":\"bronze\"},\"version\":2"),
	};
	struct fake_fix f;
	char *before, *after;

	fix_start(&f, "", true);
	before = fake_read(f.file);
	for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		struct tj_task *t = fake_task_new(SUBJECT, stale[i]);

		for (int round = 0; round < 2; round++) {
			CHECK_INT(fake_run(f.p, t), TJ_DONE);
			CHECK_INT(t->pub_count, 0);
			CHECK_TRUE(t->fail_reason == NULL);
		}
		fake_task_free(t);
	}
	after = fake_read(f.file);
	CHECK_STR(after, before);
	CHECK_TRUE(fake_logged(f.p, TJ_LOG_INFO, "stale update"));
	free(before);
	free(after);
	fake_fix_end(&f);
}

TEST(update_without_version_bumps_once)
{
	struct fake_fix f;
	struct tj_task *t;
	char *v;

	fix_start(&f, "", true);
	t = fake_task_new(SUBJECT, TASK(",\"spec\":{\"plan\":\"gold\"}"));
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	v = rec_get(&f, "version");
	CHECK_STR(v, "3");
	free(v);
	/* The repeat finds its spec already there: no second bump. */
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	v = rec_get(&f, "version");
	CHECK_STR(v, "3");
	free(v);
	fake_task_free(t);
	fake_fix_end(&f);
}

TEST(hook_sees_the_new_version_and_its_failure_keeps_the_record)
{
	static const struct {
		const char *body;
		tj_verdict verdict;
	} cases[] = {
		{ "[ \"$MODULE_VERSION\" = 5 ] || exit 8; exit 0", TJ_DONE },
		{ "exit 75", TJ_RETRY },
		{ "echo 'bad spec' >&2; exit 2", TJ_FAIL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *tmp = fake_tmpdir(), *script, *cfg, *v;
		struct tj_task *t;
		struct fake_fix f;

		script = fake_script(tmp, "hook.sh", cases[i].body);
		cfg = fake_strdupf(",\"command\":[\"%s\"]", script);
		fix_start(&f, cfg, true);
		t = fake_task_new(SUBJECT, TASK(",\"spec\":{\"plan\":\"gold\"},\"version\":5"));
		CHECK_INT(fake_run(f.p, t), cases[i].verdict);
		v = rec_get(&f, "version");
		CHECK_STR(v, cases[i].verdict == TJ_DONE ? "5" : "2");
		CHECK_INT(t->pub_count, cases[i].verdict == TJ_DONE);
		if (cases[i].verdict == TJ_FAIL)
			CHECK_CONTAINS(t->fail_reason, "bad spec");
		free(v);
		fake_task_free(t);
		fake_fix_end(&f);
		fake_rmtree(tmp);
		free(script);
		free(cfg);
		free(tmp);
	}
}

TEST(corrupt_record_fails)
{
	struct fake_fix f;
	struct tj_task *t;
	FILE *out;

	fix_start(&f, "", true);
	out = fopen(f.file, "w");
	if (out != NULL) {
		fputs("{\"version\":", out);
		fclose(out);
	}
	t = fake_task_new(SUBJECT, TASK(",\"spec\":{},\"version\":9"));
	CHECK_INT(fake_run(f.p, t), TJ_FAIL);
	CHECK_CONTAINS(t->fail_reason, "is corrupt");
	fake_task_free(t);
	fake_fix_end(&f);
}

int
main(void)
{
	RUN(descriptor);
	RUN(payload_is_validated);
	RUN(unknown_module_fails);
	RUN(newer_version_is_applied_and_repeats_change_nothing);
	RUN(stale_updates_are_ignored);
	RUN(update_without_version_bumps_once);
	RUN(hook_sees_the_new_version_and_its_failure_keeps_the_record);
	RUN(corrupt_record_fails);
	return testing_done();
}
