/* SPDX-License-Identifier: MIT */
/*
 * Hot reload of `taskjet run` against a real nats-server. A plugin swapped
 * for its next version in the middle of 5000 tasks (SIGHUP): none lost,
 * none handled twice, each by exactly one version, the new tasks by the
 * new one, the old instances finalised. POST /api/v1/reload: the token
 * rules, "nothing changed", routes added and removed, and a broken config
 * or a broken plugin that change nothing and say why. The engine's pid
 * and its one "ready" never change. SIGHUP after the log file was
 * renamed away: new lines go to a new file at log.file, none to the old.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_harness.h"
#include "testing.h"

#define READY_MS 20000
#define STOP_MS 30000

static struct e2e env;
static char plugins[300]; /* the test's own plugin directory */
static struct e2e_proc run_proc;

/* A private plugin directory in the test's temp dir (owner-only writes,
 * as the loader wants). */
static bool
plugins_setup(void)
{
	snprintf(plugins, sizeof(plugins), "%s/plugins", env.dir);
	CHECK_INT(mkdir(plugins, 0755), 0);
	env.plugin_dir = plugins;
	return !testing_failed();
}

/* How many record lines say `tag` (" v1", " v2") at their end. */
static size_t
count_tag(const char *tag)
{
	return e2e_file_count(env.record, tag);
}

static bool
log_has(void *arg)
{
	return e2e_file_count(run_proc.log, arg) > 0;
}

/* ----- a plugin swapped under load ----- */

#define TASKS 5000
#define FIRST_HALF 2500

struct count_arg {
	size_t n;
};

static bool
records_reach(void *arg)
{
	return e2e_records_count_now(env.record) >= ((struct count_arg *)arg)->n;
}

static bool
swap_settled(void *arg)
{
	return e2e_records_unique_now(env.record) >= TASKS &&
	       e2e_settled(&env, "TASKS", "taskjet-work");
}

static void
swap_in_the_middle(const char *isolation)
{
	static const char routes[] =
	    "[ { \"name\": \"work\", \"stream\": \"TASKS\", \"subject\": \"tasks.work\", "
	    "\"plugin\": \"fx_ver\", \"isolation\": \"%s\", \"concurrency\": 4, "
	    "\"ack_wait\": \"5s\", \"fetch_wait\": \"200ms\", "
	    "\"config\": { \"record_file\": \"%s\", \"sleep_ms\": 1 } } ]";
	char buf[1024], id[32];
	struct e2e_records r = { 0 };
	struct count_arg some = { 300 };
	size_t v1, v2, before, again = 0;
	pid_t pid;

	if (!e2e_setup_checked(&env) || !plugins_setup())
		goto out;
	CHECK_INT(e2e_install_plugin("fx_ver_v1", plugins, "fx_ver"), 0);
	snprintf(buf, sizeof(buf), routes, isolation, env.record);
	CHECK_INT(e2e_write_config(&env, "\"shutdown_grace\": \"10s\",", buf), 0);
	CHECK_INT(e2e_run_start(&env, &run_proc, READY_MS), 0);
	if (testing_failed())
		goto out;
	pid = run_proc.pid;
	for (int i = 0; i < FIRST_HALF && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "t-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.work", "{}", id, NULL, NULL), 0);
	}
	/* Mid-stream: the next version in place, and SIGHUP. */
	CHECK_TRUE(e2e_wait_for(records_reach, &some, 20000));
	CHECK_INT(e2e_install_plugin("fx_ver_v2", plugins, "fx_ver"), 0);
	before = e2e_records_count_now(env.record);
	CHECK_INT(kill(pid, SIGHUP), 0);
	CHECK_TRUE(e2e_wait_for(log_has, "reloaded: 1 route", 20000));
	CHECK_INT(e2e_file_count(run_proc.log, "route work: plugin fx_ver: file changed"), 1);
	CHECK_INT(e2e_file_count(run_proc.log, "log reopened"), 1);
	/* From now on every task is the new version's. */
	for (int i = FIRST_HALF; i < TASKS && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "t-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.work", "{}", id, NULL, NULL), 0);
	}
	CHECK_TRUE(e2e_wait_for(swap_settled, NULL, 60000));
	/* The old instances finished their tasks and were finalised. */
	CHECK_TRUE(e2e_wait_for(log_has, "the previous config is retired", 20000));
	CHECK_TRUE(e2e_wait_for(log_has, "fx_ver v1 fini", 5000));
	CHECK_INT(e2e_file_count(run_proc.log, "fx_ver v2 fini"), 0);
	CHECK_TRUE(e2e_alive(pid));
	CHECK_INT(e2e_file_count(run_proc.log, " ready: "), 1);
	e2e_stop_checked(&run_proc, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	/* Accounting: 5000 published = 5000 handled once each, by one
	 * version, and acked + 0 DLQ + 0 pending. A task the old consumers
	 * had queued but not started was given back (a delivery, not a
	 * handling): its one call is attempt 2. */
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	CHECK_INT(r.count, TASKS);
	CHECK_INT(e2e_records_unique(&r), TASKS);
	for (size_t i = 0; i < r.count; i++) {
		CHECK_RANGE(r.v[i].attempt, 1, 2);
		again += r.v[i].attempt > 1;
	}
	v1 = count_tag(" v1");
	v2 = count_tag(" v2");
	CHECK_INT(v1 + v2, TASKS);
	CHECK_TRUE(v1 >= 300);
	CHECK_TRUE(v2 >= TASKS - FIRST_HALF);
	/* Every task published after the reload went to the new version. */
	{
		char *text = e2e_file_read(env.record);
		size_t late_v1 = 0;

		for (char *line = text; line != NULL && *line != '\0';) {
			char *nl = strchr(line, '\n');
			int n = -1;

			if (sscanf(line, "t-%d", &n) == 1 && n >= FIRST_HALF &&
			    strncmp(nl != NULL ? nl - 3 : line, " v1", 3) == 0)
				late_v1++;
			line = nl != NULL ? nl + 1 : NULL;
		}
		free(text);
		CHECK_INT(late_v1, 0);
	}
	CHECK_INT(e2e_stream_msgs_checked(&env, "TASKS"), 0);
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), 0);
	printf("# %s: %d tasks, reload after %zu handled: %zu by v1, %zu by v2, none twice "
	       "(%zu given back unstarted by the old consumers)\n",
	       isolation, TASKS, before, v1, v2, again);
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

TEST(a_plugin_swapped_in_the_middle_of_5000_tasks_loses_nothing)
{
	swap_in_the_middle("process");
}

TEST(a_thread_plugin_swapped_in_the_middle_loses_nothing)
{
	swap_in_the_middle("thread");
}

/* ----- POST /api/v1/reload: what changes, what does not ----- */

#define ROUTE_A                                                                            \
	"{ \"name\": \"a\", \"stream\": \"TASKS\", \"subject\": \"tasks.a\", \"plugin\": " \
	"\"fx_ver\", \"fetch_wait\": \"200ms\", \"config\": { \"record_file\": \"%s\" } }"
#define ROUTE_B                                                                            \
	"{ \"name\": \"b\", \"stream\": \"TASKS\", \"subject\": \"tasks.b\", \"plugin\": " \
	"\"fx_isolate\", \"fetch_wait\": \"200ms\", \"config\": { \"record_file\": \"%s\" } }"

/* Write the config with routes a and/or b. */
static void
write_routes(bool a, bool b, const char *token_file)
{
	char ra[512] = "", rb[512] = "", routes[1200], top[600];

	if (a)
		snprintf(ra, sizeof(ra), ROUTE_A, env.record);
	if (b)
		snprintf(rb, sizeof(rb), ROUTE_B, env.record);
	snprintf(routes, sizeof(routes), "[ %s%s%s ]", ra, a && b ? ", " : "", rb);
	snprintf(top, sizeof(top),
	         "\"http\": { \"listen\": \"127.0.0.1:0\", \"token_file\": \"%s\" },", token_file);
	CHECK_INT(e2e_write_config(&env, top, routes), 0);
}

/* The task `id` was recorded. */
static bool
handled(void *arg)
{
	char needle[64];

	snprintf(needle, sizeof(needle), "%s ", (const char *)arg);
	return e2e_file_count(env.record, needle) > 0;
}

/* Publish `id` on `subject` and wait until it was handled. */
static void
publish_and_see(const char *subject, const char *id, const char *tag)
{
	char line[64];

	CHECK_INT(e2e_publish(&env, subject, strcmp(subject, "tasks.b") == 0 ? "ok" : "{}", id,
	                      NULL, NULL),
	          0);
	CHECK_TRUE(e2e_wait_for(handled, (void *)id, 15000));
	if (tag != NULL) {
		/* The line of this task ends with the version's tag. */
		snprintf(line, sizeof(line), "%s %s 1 %s", id, subject, tag);
		CHECK_INT(e2e_file_count(env.record, line), 1);
	}
}

TEST(reload_over_http_applies_what_loads_and_refuses_what_fails)
{
	char token_file[340], body[8192];
	int port, status;
	pid_t pid;
	FILE *f;

	if (!e2e_setup_checked(&env) || !plugins_setup())
		goto out;
	CHECK_INT(e2e_install_plugin("fx_ver_v1", plugins, "fx_ver"), 0);
	CHECK_INT(e2e_install_plugin("fx_isolate", plugins, "fx_isolate"), 0);
	snprintf(token_file, sizeof(token_file), "%s/token", env.dir);
	/* A secret: readable by its owner only, or the engine refuses it. */
	CHECK_INT(testing_write_file(token_file, "s3cret\n", 0600), 0);
	write_routes(true, false, token_file);
	CHECK_INT(e2e_run_start(&env, &run_proc, READY_MS), 0);
	CHECK_TRUE(e2e_wait_for(log_has, "http: listening on", 5000));
	port = e2e_http_port(&run_proc);
	pid = run_proc.pid;
	if (testing_failed())
		goto stop;
	publish_and_see("tasks.a", "a-1", "v1");

	/* The rules of every change apply (http/policy.c): the token, and a
	 * change is POSTed. */
	CHECK_INT(e2e_http(port, "POST", "/api/v1/reload", NULL, NULL, body, sizeof(body)), 401);
	CHECK_INT(e2e_http(port, "POST", "/api/v1/reload", "wrong", NULL, body, sizeof(body)), 401);
	CHECK_INT(e2e_http(port, "GET", "/api/v1/reload", NULL, NULL, body, sizeof(body)), 405);
	/* Nothing changed: nothing done. */
	CHECK_INT(e2e_http(port, "POST", "/api/v1/reload", "s3cret", NULL, body, sizeof(body)),
	          200);
	CHECK_CONTAINS(body, "\"reloaded\":false");
	CHECK_CONTAINS(body, "nothing changed");

	/* A route added. */
	write_routes(true, true, token_file);
	CHECK_INT(e2e_http(port, "POST", "/api/v1/reload", "s3cret", NULL, body, sizeof(body)),
	          200);
	CHECK_CONTAINS(body, "\"reloaded\":true");
	CHECK_CONTAINS(body, "\"route b: added\"");
	publish_and_see("tasks.b", "b-1", NULL);
	publish_and_see("tasks.a", "a-2", "v1");

	/* A config that does not load: every problem said, nothing changed. */
	f = fopen(env.config, "w");
	if (f != NULL) {
		fputs("{ \"streams\": [ { \"name\": \"TASKS\" } ], \"routes\": [] ,}\n", f);
		fclose(f);
	}
	status = e2e_http(port, "POST", "/api/v1/reload", "s3cret", NULL, body, sizeof(body));
	CHECK_INT(status, 422);
	CHECK_CONTAINS(body, "\"reloaded\":false");
	CHECK_CONTAINS(body, "the config has errors; nothing changed");
	CHECK_CONTAINS(body, "taskjet.json:1:");
	publish_and_see("tasks.a", "a-3", "v1");
	publish_and_see("tasks.b", "b-2", NULL);

	/* A plugin that does not load (another plugin's file in its place):
	 * refused with the loader's reason; the running version stays. */
	write_routes(true, true, token_file);
	CHECK_INT(e2e_install_plugin("fx_noop", plugins, "fx_ver"), 0);
	status = e2e_http(port, "POST", "/api/v1/reload", "s3cret", NULL, body, sizeof(body));
	CHECK_INT(status, 422);
	CHECK_CONTAINS(body, "\"reloaded\":false");
	CHECK_CONTAINS(body, "route a: plugin fx_ver");
	publish_and_see("tasks.a", "a-4", "v1");
	/* SIGHUP says the same in the log, and changes nothing either. */
	CHECK_INT(kill(pid, SIGHUP), 0);
	CHECK_TRUE(e2e_wait_for(log_has, "reload refused: route a: plugin fx_ver", 20000));
	publish_and_see("tasks.a", "a-5", "v1");

	/* A route removed: its tasks wait in the stream for a taskjet that
	 * serves them; the other route goes on. */
	CHECK_INT(e2e_install_plugin("fx_ver_v2", plugins, "fx_ver"), 0);
	write_routes(false, true, token_file);
	CHECK_INT(e2e_http(port, "POST", "/api/v1/reload", "s3cret", NULL, body, sizeof(body)),
	          200);
	CHECK_CONTAINS(body, "\"route a: removed\"");
	CHECK_INT(e2e_publish(&env, "tasks.a", "{}", "a-6", NULL, NULL), 0);
	publish_and_see("tasks.b", "b-3", NULL);
	e2e_sleep_ms(500);
	CHECK_INT(e2e_file_count(env.record, "a-6 "), 0);
	CHECK_INT(e2e_http(port, "GET", "/readyz", NULL, NULL, body, sizeof(body)), 200);
	CHECK_TRUE(e2e_alive(pid));
	CHECK_INT(run_proc.pid, pid);
	CHECK_INT(e2e_file_count(run_proc.log, " ready: "), 1);
stop:
	e2e_stop_checked(&run_proc, STOP_MS, NULL);
	if (testing_failed())
		goto out;
	/* Every task handled once; a-6 waits for its route. */
	CHECK_INT(e2e_records_count_now(env.record), 8);
	CHECK_INT(e2e_records_unique_now(env.record), 8);
	CHECK_INT(e2e_stream_msgs_checked(&env, "TASKS"), 1);
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), 0);
out:
	e2e_teardown(&env);
}

/* ----- SIGHUP reopens log.file (log rotation) ----- */

/* The size of `path` in *size_r; 0 or -errno. */
static int
file_size(const char *path, off_t *size_r)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -errno;
	*size_r = st.st_size;
	return 0;
}

/* For e2e_wait_for: `needle` is in the file at `path`. */
struct in_file {
	const char *path;
	const char *needle;
};

static bool
file_has(void *arg)
{
	const struct in_file *f = arg;

	return e2e_file_count(f->path, f->needle) > 0;
}

/*
 * What logrotate does without copytruncate: the log file renamed away,
 * then SIGHUP. The engine opens a new file at the configured path and
 * writes there; the renamed file keeps what was written before and gets
 * nothing more.
 */
TEST(sighup_reopens_the_log_file_after_it_was_renamed)
{
	static const char routes[] =
	    "[ { \"name\": \"work\", \"stream\": \"TASKS\", \"subject\": \"tasks.work\", "
	    "\"plugin\": \"fx_behave\", \"fetch_wait\": \"200ms\", "
	    "\"config\": { \"record_file\": \"%s\" } } ]";
	char buf[600], log_file[300], rotated[310];
	off_t rotated_size = -1, now_size = -1;

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(log_file, sizeof(log_file), "%s/taskjet.log", env.dir);
	snprintf(rotated, sizeof(rotated), "%s.1", log_file);
	env.log_file = log_file;
	snprintf(buf, sizeof(buf), routes, env.record);
	CHECK_INT(e2e_write_config(&env, "", buf), 0);
	CHECK_INT(e2e_run_start(&env, &run_proc, READY_MS), 0);
	if (testing_failed())
		goto out;
	/* The log went to the file, not to the inherited stderr. */
	CHECK_INT(e2e_file_count(run_proc.log, " ready: "), 0);
	CHECK_INT(e2e_publish(&env, "tasks.work", "{}", "before-rotation", NULL, NULL), 0);
	CHECK_TRUE(e2e_wait_for(handled, "before-rotation", 15000));
	CHECK_TRUE(
	    e2e_wait_for(file_has, &(struct in_file){ log_file, "acked before-rotation " }, 15000));

	CHECK_INT(rename(log_file, rotated), 0);
	CHECK_INT(kill(run_proc.pid, SIGHUP), 0);
	/* "log reopened" is written after the switch: into the new file. */
	CHECK_TRUE(e2e_wait_for(file_has, &(struct in_file){ log_file, "log reopened" }, 15000));
	CHECK_INT(file_size(rotated, &rotated_size), 0);

	CHECK_INT(e2e_publish(&env, "tasks.work", "{}", "after-rotation", NULL, NULL), 0);
	CHECK_TRUE(e2e_wait_for(handled, "after-rotation", 15000));
	CHECK_TRUE(
	    e2e_wait_for(file_has, &(struct in_file){ log_file, "acked after-rotation " }, 15000));
	e2e_stop_checked(&run_proc, STOP_MS, NULL);

	/* The new file is a fresh one: only what came after the reopen. */
	CHECK_INT(e2e_file_count(log_file, " ready: "), 0);
	CHECK_INT(e2e_file_count(log_file, "acked before-rotation "), 0);
	CHECK_INT(e2e_file_count(log_file, "stopped cleanly"), 1);
	/* The renamed file has everything before it, and stopped growing. */
	CHECK_INT(e2e_file_count(rotated, " ready: "), 1);
	CHECK_INT(e2e_file_count(rotated, "acked before-rotation "), 1);
	CHECK_INT(e2e_file_count(rotated, "log reopened"), 0);
	CHECK_INT(e2e_file_count(rotated, "acked after-rotation "), 0);
	CHECK_INT(e2e_file_count(rotated, "stopped cleanly"), 0);
	CHECK_INT(file_size(rotated, &now_size), 0);
	CHECK_INT(now_size, rotated_size);
	if (testing_failed()) {
		struct e2e_proc show = run_proc;

		snprintf(show.log, sizeof(show.log), "%s", rotated);
		e2e_proc_dump(&show);
		snprintf(show.log, sizeof(show.log), "%s", log_file);
		e2e_proc_dump(&show);
	}
out:
	e2e_teardown(&env);
}

int
main(void)
{
	bool must_fail;

	if (!nats_server_available("taskjet run hot reload", &must_fail))
		return must_fail ? 1 : 0;
	if (getenv("TJ_ONLY_HTTP") == NULL) {
		RUN(a_plugin_swapped_in_the_middle_of_5000_tasks_loses_nothing);
		RUN(a_thread_plugin_swapped_in_the_middle_loses_nothing);
	}
	RUN(reload_over_http_applies_what_loads_and_refuses_what_fails);
	RUN(sighup_reopens_the_log_file_after_it_was_renamed);
	nats_Close();
	return testing_done();
}
