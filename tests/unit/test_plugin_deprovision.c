/* SPDX-License-Identifier: MIT */
/* The deprovision plugin through a fake host. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"
#include "testing.h"

#define SUBJECT "provisioning.deprovision"
#define TASK(t, m, rest) "{\"tenant_id\":\"" t "\",\"module_id\":\"" m "\"" rest "}"
#define RECORD                                                         \
	"{\"tenant_id\":\"acme\",\"module_id\":\"erp\",\"version\":7," \
	"\"spec\":{\"plan\":\"gold\"},\"provisioned_at\":\"2024-01-01T00:00:00Z\"}\n"

/* f->file is <state>/acme/erp.json, holding RECORD when with_record. */
static void
fix_start(struct fake_fix *f, const char *extra_config, bool with_record)
{
	fake_fix_start(f, "acme/erp.json", extra_config);
	if (with_record)
		fake_fix_put(f, RECORD);
}

TEST(descriptor_and_config)
{
	struct tj_plugin *p = fake_plugin_new("{\"events_subject\":\"x\"}");

	CHECK_STR(tj_plugin_info.name, "deprovision");
	CHECK_INT(fake_plugin_init(p), -EINVAL);
	CHECK_TRUE(fake_logged(p, TJ_LOG_ERR, "state_dir: required"));
	fake_plugin_free(p);
}

TEST(payload_is_validated)
{
	static const struct {
		const char *payload, *reason;
	} cases[] = {
		{ "nope", "payload: not valid JSON" },
		{ "\"str\"", "payload: must be a JSON object" },
		{ "{\"module_id\":\"erp\"}", "tenant_id: missing" },
		{ "{\"tenant_id\":[],\"module_id\":\"erp\"}", "tenant_id: must be a string" },
		{ TASK("ac/me", "erp", ""), "tenant_id: must be" },
		{ "{\"tenant_id\":\"acme\"}", "module_id: missing" },
		{ TASK("acme", "..", ""), "module_id: must be" },
		{ TASK("acme", "erp", ",\"version\":-3"),
		  "version: must be a non-negative integer" },
	};
	struct fake_fix f;

	fix_start(&f, "", true);
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
	CHECK_TRUE(fake_exists(f.file));
	fake_fix_end(&f);
}

TEST(removes_the_record_and_announces_it_twice_the_same)
{
	struct fake_fix f;
	struct tj_task *t;
	char *dir, *ls;

	fix_start(&f, ",\"events_subject\":\"provisioning.events\"", true);
	t = fake_task_new(SUBJECT, TASK("acme", "erp", ""));
	for (int round = 0; round < 2; round++) {
		CHECK_INT(fake_run(f.p, t), TJ_DONE);
		CHECK_FALSE(fake_exists(f.file));
		CHECK_INT(t->pub_count, 1);
		if (t->pub_count == 1) {
			CHECK_STR(t->pubs[0].subject, "provisioning.events.deprovisioned");
			/* The first round names the removed version; the repeat finds
			 * nothing and has no version to name. */
			CHECK_STR(t->pubs[0].data,
			          round == 0 ? "{\"tenant_id\":\"acme\",\"module_id\":\"erp\","
			                       "\"version\":7}"
			                     : "{\"tenant_id\":\"acme\",\"module_id\":\"erp\","
			                       "\"version\":null}");
		}
	}
	dir = fake_strdupf("%s/acme", f.state);
	ls = fake_ls(dir);
	CHECK_STR(ls, "erp.lock");
	free(ls);
	free(dir);
	fake_task_free(t);
	fake_fix_end(&f);
}

TEST(absent_module_succeeds_without_the_hook)
{
	struct fake_fix f;
	struct tj_task *t;
	char *tmp = fake_tmpdir(), *body, *script, *cfg, *marker;

	marker = fake_strdupf("%s/ran", tmp);
	body = fake_strdupf("touch %s", marker);
	script = fake_script(tmp, "hook.sh", body);
	cfg = fake_strdupf(",\"command\":[\"%s\"]", script);
	fix_start(&f, cfg, false);
	t = fake_task_new(SUBJECT, TASK("acme", "erp", ",\"version\":2"));
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	CHECK_FALSE(fake_exists(marker));
	CHECK_TRUE(fake_logged(f.p, TJ_LOG_INFO, "not provisioned"));
	fake_task_free(t);
	fake_fix_end(&f);
	fake_rmtree(tmp);
	free(marker);
	free(body);
	free(script);
	free(cfg);
	free(tmp);
}

TEST(hook_runs_before_removal_and_its_failure_keeps_the_record)
{
	static const struct {
		const char *body;
		tj_verdict verdict;
		const char *reason;
	} cases[] = {
		{ "test -e \"$REC\" || exit 9; "
		  "[ \"$MODULE_VERSION\" = 7 ] || exit 8; exit 0",
		  TJ_DONE, NULL },
		{ "echo 'try later' >&2; exit 75", TJ_RETRY, "try later" },
		{ "echo 'no such module upstream' >&2; exit 1", TJ_FAIL,
		  "no such module upstream" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *tmp = fake_tmpdir(), *script, *cfg;
		struct tj_task *t;
		struct fake_fix f;

		script = fake_script(tmp, "hook.sh", cases[i].body);
		cfg = fake_strdupf(",\"command\":[\"%s\"]", script);
		fix_start(&f, cfg, true);
		setenv("REC", f.file, 1);
		t = fake_task_new(SUBJECT, TASK("acme", "erp", ""));
		CHECK_INT(fake_run(f.p, t), cases[i].verdict);
		if (cases[i].reason != NULL)
			CHECK_CONTAINS(t->fail_reason, cases[i].reason);
		CHECK_INT(fake_exists(f.file), cases[i].verdict != TJ_DONE);
		unsetenv("REC");
		fake_task_free(t);
		fake_fix_end(&f);
		fake_rmtree(tmp);
		free(script);
		free(cfg);
		free(tmp);
	}
}

TEST(failed_publish_retries_and_the_retry_announces)
{
	struct fake_fix f;
	struct tj_task *t;

	fix_start(&f, ",\"events_subject\":\"prov.ev\"", true);
	t = fake_task_new(SUBJECT, TASK("acme", "erp", ""));
	f.p->publish_error = -EIO;
	CHECK_INT(fake_run(f.p, t), TJ_RETRY);
	CHECK_CONTAINS(t->fail_reason, "publish prov.ev.deprovisioned");
	CHECK_FALSE(fake_exists(f.file));
	f.p->publish_error = 0;
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	CHECK_INT(t->pub_count, 1);
	fake_task_free(t);
	fake_fix_end(&f);
}

int
main(void)
{
	RUN(descriptor_and_config);
	RUN(payload_is_validated);
	RUN(removes_the_record_and_announces_it_twice_the_same);
	RUN(absent_module_succeeds_without_the_hook);
	RUN(hook_runs_before_removal_and_its_failure_keeps_the_record);
	RUN(failed_publish_retries_and_the_retry_announces);
	return testing_done();
}
