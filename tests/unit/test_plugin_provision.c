/* SPDX-License-Identifier: MIT */
/* The provision plugin through a fake host: validation, registry, hook. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_host.h"
#include "testing.h"

#define SUBJECT "provisioning.provision"
#define TASK(t, m, rest) "{\"tenant_id\":\"" t "\",\"module_id\":\"" m "\"" rest "}"
#define SPEC ",\"spec\":{\"plan\":\"gold\",\"seats\":[1,2]},\"version\":3"

/* Run `payload` once; returns the verdict, keeps the task in *t_r if asked. */
static tj_verdict
run1(struct fake_fix *f, const char *payload, char **reason_r)
{
	struct tj_task *t = fake_task_new(SUBJECT, payload);
	tj_verdict v = fake_run(f->p, t);

	if (reason_r != NULL)
		*reason_r = t->fail_reason ? strdup(t->fail_reason) : NULL;
	fake_task_free(t);
	return v;
}

static char *
record(struct fake_fix *f, const char *tenant, const char *module)
{
	char *path = fake_strdupf("%s/%s/%s.json", f->state, tenant, module);
	char *s = fake_read(path);

	free(path);
	return s;
}

static int64_t
elapsed_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

TEST(descriptor_and_registration)
{
	struct fake_fix f;

	CHECK_STR(tj_plugin_info.name, "provision");
	CHECK_INT(tj_plugin_info.abi_major, TJ_ABI_MAJOR);
	CHECK_INT(tj_plugin_info.abi_minor, TJ_ABI_MINOR);
	CHECK_TRUE(tj_plugin_info.description && *tj_plugin_info.description);
	fake_fix_start(&f, NULL, "");
	CHECK_STR(f.p->handler_name, "provision");
	fake_fix_end(&f);
}

TEST(config_is_validated)
{
	static const struct {
		const char *config, *logged;
	} cases[] = {
		{ "{}", "state_dir: required" },
		{ "{\"state_dir\":5}", "state_dir: must be a non-empty string" },
		{ "{\"state_dir\":\"\"}", "state_dir: must be a non-empty string" },
		{ "{\"state_dir\":\"/dev/null/x\"}", "state_dir: /dev/null/x" },
		{ "{\"state_dir\":\"/tmp\",\"bogus\":1}", "unknown key \"bogus\"" },
		{ "{\"state_dir\":\"/tmp\",\"command\":\"/bin/true\"}", "command:" },
		{ "{\"state_dir\":\"/tmp\",\"command\":[]}", "command:" },
		{ "{\"state_dir\":\"/tmp\",\"command\":[1]}", "command:" },
		{ "{\"state_dir\":\"/tmp\",\"command\":[\"true\"]}", "absolute path" },
		{ "{\"state_dir\":\"/tmp\",\"command\":[\"/bin/true\\u0000x\"]}",
		  "command: argv strings must not contain a NUL character" },
		{ "{\"state_dir\":\"/tmp\",\"command\":[\"/nonexistent/x\"]}",
		  "not an executable" },
		{ "{\"state_dir\":\"/tmp\",\"command_timeout_ms\":0}", "command_timeout_ms:" },
		{ "{\"state_dir\":\"/tmp\",\"command_timeout_ms\":\"5\"}", "command_timeout_ms:" },
		{ "{\"state_dir\":\"/tmp\",\"events_subject\":\"a.*\"}", "events_subject:" },
		{ "{\"state_dir\":\"/tmp\",\"events_subject\":\"a..b\"}", "events_subject:" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tj_plugin *p = fake_plugin_new(cases[i].config);
		int r = fake_plugin_init(p);

		if (r >= 0 || !fake_logged(p, TJ_LOG_ERR, cases[i].logged))
			testing_fail(__FILE__, __LINE__, "%s: init %d, no log \"%s\"",
			             cases[i].config, r, cases[i].logged);
		CHECK_TRUE(p->handler == NULL);
		fake_plugin_free(p);
	}
}

TEST(state_dir_is_created_like_mkdir_p)
{
	char *tmp = fake_tmpdir();
	char *cfg = fake_strdupf("{\"state_dir\":\"%s/a/b//c/\"}", tmp);
	char *abc = fake_strdupf("%s/a/b/c", tmp);
	struct tj_plugin *p = fake_plugin_new(cfg);

	CHECK_INT(fake_plugin_init(p), 0);
	CHECK_TRUE(fake_exists(abc));
	fake_plugin_free(p);
	fake_rmtree(tmp);
	free(abc);
	free(cfg);
	free(tmp);
}

TEST(payload_is_validated_field_by_field)
{
	static const struct {
		const char *payload, *reason;
	} cases[] = {
		{ "not json", "payload: not valid JSON" },
		{ "", "payload: not valid JSON" },
		{ "{\"tenant_id\":\"a\"", "payload: not valid JSON" },
		{ "[1,2]", "payload: must be a JSON object" },
		{ "{}", "tenant_id: missing" },
		{ "{\"module_id\":\"m\"" SPEC "}", "tenant_id: missing" },
		{ "{\"tenant_id\":5,\"module_id\":\"m\"" SPEC "}", "tenant_id: must be a string" },
		{ TASK("", "m", SPEC), "tenant_id: must be 1-128" },
		{ TASK("a/b", "m", SPEC), "tenant_id: must be" },
		{ TASK("..", "m", SPEC), "tenant_id: must be" },
		{ TASK("a..b", "m", SPEC), "tenant_id: must be" },
		{ TASK(".", "m", SPEC), "tenant_id: must be" },
		{ TASK("a b", "m", SPEC), "tenant_id: must be" },
		{ TASK("\\u002e\\u002e", "m", SPEC), "tenant_id: must be" },
		{ "{\"tenant_id\":\"t\"" SPEC "}", "module_id: missing" },
		{ "{\"tenant_id\":\"t\",\"module_id\":null" SPEC "}",
		  "module_id: must be a string" },
		{ TASK("t", "x/../../etc", SPEC), "module_id: must be" },
		{ TASK("t", "m", ""), "spec: missing" },
		{ TASK("t", "m", ",\"spec\":[1]"), "spec: must be an object" },
		{ TASK("t", "m", ",\"spec\":\"{}\""), "spec: must be an object" },
		{ TASK("t", "m", ",\"spec\":{},\"version\":-1"),
		  "version: must be a non-negative integer" },
		{ TASK("t", "m", ",\"spec\":{},\"version\":1.5"),
		  "version: must be a non-negative integer" },
		{ TASK("t", "m", ",\"spec\":{},\"version\":\"2\""),
		  "version: must be a non-negative integer" },
		{ TASK("t", "m", ",\"spec\":{},\"version\":true"),
		  "version: must be a non-negative integer" },
		{ TASK("t", "m", ",\"spec\":{},\"version\":99999999999999999999"),
		  "version: must be a non-negative integer" },
	};
	struct fake_fix f;
	char *ls;

	fake_fix_start(&f, NULL, "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *reason = NULL;
		tj_verdict v = run1(&f, cases[i].payload, &reason);

		if (v != TJ_FAIL || reason == NULL || strstr(reason, cases[i].reason) == NULL)
			testing_fail(__FILE__, __LINE__, "%s: verdict %d reason \"%s\"",
			             cases[i].payload, v, reason ? reason : "(null)");
		free(reason);
	}
	/* A 128-character id is fine; 129 is not. */
	{
		char id[130], *payload, *reason = NULL;

		memset(id, 'a', 129);
		id[129] = '\0';
		payload = fake_strdupf("{\"tenant_id\":\"%s\",\"module_id\":\"m\"%s}", id, SPEC);
		CHECK_INT(run1(&f, payload, &reason), TJ_FAIL);
		CHECK_CONTAINS(reason, "tenant_id: must be");
		free(reason);
		free(payload);
		id[128] = '\0';
		payload = fake_strdupf("{\"tenant_id\":\"%s\",\"module_id\":\"m\"%s}", id, SPEC);
		CHECK_INT(run1(&f, payload, NULL), TJ_DONE);
		free(payload);
	}
	ls = fake_ls(f.state);
	CHECK_INT(strlen(ls), 128); /* only the valid tenant got a directory */
	free(ls);
	fake_fix_end(&f);
}

TEST(provision_writes_one_atomic_record)
{
	struct fake_fix f;
	char *rec, *v, *dir, *ls;

	fake_fix_start(&f, NULL, "");
	CHECK_INT(run1(&f, TASK("acme", "erp-finance", SPEC), NULL), TJ_DONE);
	rec = record(&f, "acme", "erp-finance");
	CHECK_TRUE(rec != NULL);
	v = fake_json_get(rec, "tenant_id");
	CHECK_STR(v, "\"acme\"");
	free(v);
	v = fake_json_get(rec, "module_id");
	CHECK_STR(v, "\"erp-finance\"");
	free(v);
	v = fake_json_get(rec, "version");
	CHECK_STR(v, "3");
	free(v);
	v = fake_json_get(rec, "spec");
	CHECK_STR(v, "{\"plan\":\"gold\",\"seats\":[1,2]}");
	free(v);
	v = fake_json_get(rec, "provisioned_at");
	CHECK_TRUE(v != NULL && strlen(v) == 22 && v[11] == 'T');
	free(v);
	free(rec);
	/* No temporary file left next to the record. */
	dir = fake_strdupf("%s/acme", f.state);
	ls = fake_ls(dir);
	CHECK_STR(ls, "erp-finance.json erp-finance.lock");
	free(ls);
	free(dir);
	fake_fix_end(&f);
}

TEST(version_defaults_to_zero)
{
	struct fake_fix f;
	char *rec, *v;

	fake_fix_start(&f, NULL, "");
	CHECK_INT(run1(&f, TASK("t", "m", ",\"spec\":{}"), NULL), TJ_DONE);
	rec = record(&f, "t", "m");
	v = fake_json_get(rec, "version");
	CHECK_STR(v, "0");
	free(v);
	free(rec);
	fake_fix_end(&f);
}

TEST(repeating_a_task_is_a_noop)
{
	struct fake_fix f;
	struct tj_task *t;
	char *before, *after;

	fake_fix_start(&f, NULL, ",\"events_subject\":\"provisioning.events\"");
	t = fake_task_new(SUBJECT, TASK("acme", "erp", SPEC));
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	before = record(&f, "acme", "erp");
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	CHECK_TRUE(t->fail_reason == NULL);
	/* Still announced: the first attempt's publish may have failed. */
	CHECK_INT(t->pub_count, 1);
	after = record(&f, "acme", "erp");
	CHECK_STR(after, before);
	CHECK_TRUE(fake_logged(f.p, TJ_LOG_INFO, "already provisioned"));
	free(before);
	free(after);
	fake_task_free(t);
	fake_fix_end(&f);
}

TEST(different_spec_or_version_conflicts)
{
	struct fake_fix f;
	char *before, *after, *reason = NULL;

	fake_fix_start(&f, NULL, "");
	CHECK_INT(run1(&f, TASK("acme", "erp", SPEC), NULL), TJ_DONE);
	before = record(&f, "acme", "erp");
	/* Same data, other text: the rule is byte-identical spec text. */
	CHECK_INT(run1(&f,
	               TASK("acme", "erp",
	                    ",\"spec\":{\"seats\":[1,2],\"plan\":\"gold\"},"
	                    "\"version\":3"),
	               &reason),
	          TJ_FAIL);
	CHECK_CONTAINS(reason, "use update");
	free(reason);
	reason = NULL;
	CHECK_INT(run1(&f,
	               TASK("acme", "erp",
	                    ",\"spec\":{\"plan\":\"gold\",\"seats\":[1,2]},"
	                    "\"version\":4"),
	               &reason),
	          TJ_FAIL);
	CHECK_CONTAINS(reason, "already provisioned (version 3)");
	free(reason);
	after = record(&f, "acme", "erp");
	CHECK_STR(after, before);
	free(before);
	free(after);
	fake_fix_end(&f);
}

TEST(follow_up_event_subject_and_body)
{
	struct fake_fix f;
	struct tj_task *t;

	fake_fix_start(&f, NULL, ",\"events_subject\":\"provisioning.events\"");
	t = fake_task_new(SUBJECT, TASK("acme", "erp", SPEC));
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	CHECK_INT(t->pub_count, 1);
	if (t->pub_count == 1) {
		CHECK_STR(t->pubs[0].subject, "provisioning.events.provisioned");
		CHECK_STR(t->pubs[0].data,
		          "{\"tenant_id\":\"acme\",\"module_id\":\"erp\",\"version\":3}");
	}
	fake_task_free(t);
	/* No events_subject: nothing published. */
	fake_fix_end(&f);
	fake_fix_start(&f, NULL, "");
	t = fake_task_new(SUBJECT, TASK("acme", "erp", SPEC));
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	CHECK_INT(t->pub_count, 0);
	fake_task_free(t);
	fake_fix_end(&f);
}

TEST(failed_publish_retries_and_the_retry_completes)
{
	struct fake_fix f;
	struct tj_task *t;
	char *rec;

	fake_fix_start(&f, NULL, ",\"events_subject\":\"provisioning.events\"");
	t = fake_task_new(SUBJECT, TASK("acme", "erp", SPEC));
	f.p->publish_error = -ETIMEDOUT;
	CHECK_INT(fake_run(f.p, t), TJ_RETRY);
	CHECK_CONTAINS(t->fail_reason, "publish provisioning.events.provisioned");
	rec = record(&f, "acme", "erp");
	CHECK_TRUE(rec != NULL);
	free(rec);
	f.p->publish_error = 0;
	t->attempt = 2;
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	CHECK_INT(t->pub_count, 1);
	fake_task_free(t);
	fake_fix_end(&f);
}

TEST(hook_gets_env_and_payload_and_runs_before_the_record)
{
	struct fake_fix f;
	char *tmp = fake_tmpdir(), *script, *cfg, *env, *in, *body, *rec;
	struct tj_task *t;

	body =
	    fake_strdupf("test -e \"$STATE/acme/erp.json\" && exit 9\n"
	                 "printf '%%s|%%s|%%s|%%s|%%s|%%s' \"$TASKJET_SUBJECT\" "
	                 "\"$TASKJET_TASK_ID\" \"$TASKJET_ATTEMPT\" \"$TENANT_ID\" \"$MODULE_ID\" "
	                 "\"$MODULE_VERSION\" > %s/env\n"
	                 "cat > %s/stdin\n"
	                 "exit 0",
	                 tmp, tmp);
	script = fake_script(tmp, "hook.sh", body);
	cfg = fake_strdupf(",\"command\":[\"%s\"]", script);
	fake_fix_start(&f, NULL, cfg);
	setenv("STATE", f.state, 1);
	t = fake_task_new(SUBJECT, TASK("acme", "erp", SPEC));
	t->attempt = 2;
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	CHECK_TRUE(t->fail_reason == NULL);
	free(body);
	body = fake_strdupf("%s/env", tmp);
	env = fake_read(body);
	free(body);
	body = fake_strdupf("provisioning.provision|%s|2|acme|erp|3", t->id);
	CHECK_STR(env, body);
	body = (free(body), fake_strdupf("%s/stdin", tmp));
	in = fake_read(body);
	CHECK_STR(in, t->payload);
	rec = record(&f, "acme", "erp");
	CHECK_TRUE(rec != NULL);
	unsetenv("STATE");
	free(rec);
	free(in);
	free(env);
	free(body);
	fake_task_free(t);
	fake_fix_end(&f);
	fake_rmtree(tmp);
	free(cfg);
	free(script);
	free(tmp);
}

/* Run a provision with hook `body`; returns the verdict and reason. */
static tj_verdict
with_hook(const char *body, const char *extra, char **reason_r, bool *record_r)
{
	struct fake_fix f;
	char *tmp = fake_tmpdir(), *script, *cfg, *rec;
	struct tj_task *t;
	tj_verdict v;

	script = fake_script(tmp, "hook.sh", body);
	cfg = fake_strdupf(",\"command\":[\"%s\"]%s", script, extra);
	fake_fix_start(&f, NULL, cfg);
	t = fake_task_new(SUBJECT, TASK("acme", "erp", SPEC));
	v = fake_run(f.p, t);
	*reason_r = t->fail_reason ? strdup(t->fail_reason) : NULL;
	rec = record(&f, "acme", "erp");
	*record_r = rec != NULL;
	free(rec);
	fake_task_free(t);
	fake_fix_end(&f);
	fake_rmtree(tmp);
	free(cfg);
	free(script);
	free(tmp);
	return v;
}

TEST(hook_exit_75_asks_for_a_retry)
{
	char *reason = NULL;
	bool rec = true;

	CHECK_INT(with_hook("echo 'backend busy' >&2; exit 75", "", &reason, &rec), TJ_RETRY);
	CHECK_CONTAINS(reason, "backend busy");
	CHECK_CONTAINS(reason, "75");
	CHECK_FALSE(rec);
	free(reason);
}

TEST(hook_failure_fails_with_the_stderr_tail)
{
	char *reason = NULL;
	bool rec = true;

	CHECK_INT(with_hook("i=0; while [ $i -lt 200 ]; do echo 'noise noise' >&2;"
	                    " i=$((i+1)); done; printf 'line1\\nfinal words\\n' >&2;"
	                    " exit 3",
	                    "", &reason, &rec),
	          TJ_FAIL);
	CHECK_CONTAINS(reason, "status 3");
	CHECK_CONTAINS(reason, "line1 final words");
	CHECK_TRUE(reason != NULL && strlen(reason) < 600);
	CHECK_TRUE(reason != NULL && strchr(reason, '\n') == NULL);
	CHECK_FALSE(rec);
	free(reason);
}

TEST(hook_killed_by_a_signal_fails)
{
	char *reason = NULL;
	bool rec = true;

	CHECK_INT(with_hook("kill -TERM $$", "", &reason, &rec), TJ_FAIL);
	CHECK_CONTAINS(reason, "signal 15");
	CHECK_FALSE(rec);
	free(reason);
}

TEST(hook_timeout_kills_the_process_group)
{
	char *tmp = fake_tmpdir(), *body, *reason = NULL, *pidfile, *pidtext;
	struct timespec t0;
	bool rec = true;
	long pid;

	pidfile = fake_strdupf("%s/bgpid", tmp);
	body = fake_strdupf("sleep 30 & echo $! > %s; echo 'stuck' >&2; wait", pidfile);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(with_hook(body, ",\"command_timeout_ms\":300", &reason, &rec), TJ_FAIL);
	CHECK_RANGE(elapsed_ms(&t0), 250, 5000);
	CHECK_CONTAINS(reason, "timed out after 300 ms");
	CHECK_CONTAINS(reason, "stuck");
	CHECK_FALSE(rec);
	/* The background child was in the group: gone (or a zombie of init). */
	pidtext = fake_read(pidfile);
	CHECK_TRUE(pidtext != NULL);
	pid = pidtext ? strtol(pidtext, NULL, 10) : 0;
	if (pid > 0) {
		bool dead = false;

		for (int i = 0; i < 100 && !dead; i++) {
			char *stat = fake_strdupf("/proc/%ld/stat", pid);
			char *st = fake_read(stat);
			char *rp = st ? strrchr(st, ')') : NULL;

			dead = st == NULL || (rp != NULL && rp[2] == 'Z');
			free(st);
			free(stat);
			if (!dead)
				nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		}
		CHECK_TRUE(dead);
	}
	free(pidtext);
	free(reason);
	free(body);
	free(pidfile);
	fake_rmtree(tmp);
	free(tmp);
}

TEST(hook_exit_is_not_held_up_by_a_grandchild_holding_stderr)
{
	char *tmp = fake_tmpdir(), *pidfile = fake_strdupf("%s/bgpid", tmp), *body, *pidtext;
	struct timespec t0;
	char *reason = NULL;
	bool rec = false;

	/* Held up, it would take the grandchild's 60 s; on time it takes a
	 * shell's start, under 5 s on any machine that runs the tests. */
	body = fake_strdupf("sleep 60 & echo $! > %s; exit 0", pidfile);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(with_hook(body, "", &reason, &rec), TJ_DONE);
	CHECK_RANGE(elapsed_ms(&t0), 0, 5000);
	CHECK_TRUE(rec);
	/* The grandchild outlives the hook by design; the test ends it. */
	pidtext = fake_read(pidfile);
	CHECK_TRUE(pidtext != NULL);
	if (pidtext != NULL && strtol(pidtext, NULL, 10) > 0)
		kill((pid_t)strtol(pidtext, NULL, 10), SIGKILL);
	free(pidtext);
	free(reason);
	free(body);
	free(pidfile);
	fake_rmtree(tmp);
	free(tmp);
}

TEST(hook_that_ignores_a_large_stdin_is_fine)
{
	struct fake_fix f;
	char *tmp = fake_tmpdir(), *script, *cfg, *payload, *big;
	struct tj_task *t;

	script = fake_script(tmp, "hook.sh", "exit 0");
	cfg = fake_strdupf(",\"command\":[\"%s\"]", script);
	fake_fix_start(&f, NULL, cfg);
	big = malloc(300001);
	memset(big, 'x', 300000);
	big[300000] = '\0';
	payload = fake_strdupf(TASK("t", "m", ",\"spec\":{\"blob\":\"%s\"}"), big);
	t = fake_task_new(SUBJECT, payload);
	CHECK_INT(fake_run(f.p, t), TJ_DONE);
	fake_task_free(t);
	fake_fix_end(&f);
	fake_rmtree(tmp);
	free(payload);
	free(big);
	free(cfg);
	free(script);
	free(tmp);
}

struct worker {
	struct tj_plugin *p;
	struct tj_task *t;
	tj_verdict v;
	pthread_t thread;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	w->v = fake_run(w->p, w->t);
	return NULL;
}

TEST(concurrent_tasks_for_one_module_run_the_hook_once)
{
	struct fake_fix f;
	struct worker w[8];
	char *tmp = fake_tmpdir(), *script, *cfg, *body, *count;

	body = fake_strdupf("echo \"$MODULE_ID\" >> %s/count; sleep 0.05", tmp);
	script = fake_script(tmp, "hook.sh", body);
	cfg = fake_strdupf(",\"command\":[\"%s\"]", script);
	fake_fix_start(&f, NULL, cfg);
	for (int i = 0; i < 8; i++) {
		/* Half on one module, half each on its own. */
		char *payload = i % 2 ? fake_strdupf(TASK("t", "shared", SPEC))
		                      : fake_strdupf(TASK("t", "own%d", SPEC), i);

		w[i].p = f.p;
		w[i].t = fake_task_new(SUBJECT, payload);
		free(payload);
	}
	for (int i = 0; i < 8; i++)
		CHECK_INT(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
	for (int i = 0; i < 8; i++) {
		pthread_join(w[i].thread, NULL);
		CHECK_INT(w[i].v, TJ_DONE);
		fake_task_free(w[i].t);
	}
	free(body);
	body = fake_strdupf("%s/count", tmp);
	count = fake_read(body);
	/* 4 own modules + the shared one exactly once. */
	{
		int lines = 0, shared = 0;

		for (char *s = count; s && *s; s++)
			lines += *s == '\n';
		for (char *s = count; s && (s = strstr(s, "shared")); s++)
			shared++;
		CHECK_INT(lines, 5);
		CHECK_INT(shared, 1);
	}
	free(count);
	free(body);
	fake_fix_end(&f);
	fake_rmtree(tmp);
	free(cfg);
	free(script);
	free(tmp);
}

int
main(void)
{
	/* The engine may ignore SIGPIPE or not; the hook code must not care. */
	signal(SIGPIPE, SIG_DFL);
	RUN(descriptor_and_registration);
	RUN(config_is_validated);
	RUN(state_dir_is_created_like_mkdir_p);
	RUN(payload_is_validated_field_by_field);
	RUN(provision_writes_one_atomic_record);
	RUN(version_defaults_to_zero);
	RUN(repeating_a_task_is_a_noop);
	RUN(different_spec_or_version_conflicts);
	RUN(follow_up_event_subject_and_body);
	RUN(failed_publish_retries_and_the_retry_completes);
	RUN(hook_gets_env_and_payload_and_runs_before_the_record);
	RUN(hook_exit_75_asks_for_a_retry);
	RUN(hook_failure_fails_with_the_stderr_tail);
	RUN(hook_killed_by_a_signal_fails);
	RUN(hook_timeout_kills_the_process_group);
	RUN(hook_exit_is_not_held_up_by_a_grandchild_holding_stderr);
	RUN(hook_that_ignores_a_large_stdin_is_fine);
	RUN(concurrent_tasks_for_one_module_run_the_hook_once);
	return testing_done();
}
