/* SPDX-License-Identifier: MIT */
/*
 * Process isolation under `taskjet run`, against a real nats-server: plugins
 * that segfault, abort, exit(3), hang and go over their memory limit, on a
 * route next to a healthy one under load. The engine's PID does not change,
 * exactly the bad tasks are dead-lettered, with the right reason and error,
 * and every innocent task is handled and acked once. And thread isolation's
 * hang: the hung handler is logged, counted, named in /readyz, no longer
 * kept alive, and dead-lettered by the server's max-deliveries path.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "run_harness.h"
#include "testing.h"

#define READY_MS 20000
#define STOP_MS 20000

static struct e2e env;

/* ----- process isolation: each way of dying costs one task ----- */

#define INNOCENT 100 /* per route */
#define MEMORY_MIB 128

static const struct {
	const char *kind, *reason, *error; /* error: a prefix of Taskjet-Error */
} poisons[] = {
	{ "segv", "crashed", "killed by signal 11 (Segmentation fault)" },
	{ "abort", "crashed", "killed by signal 6 (Aborted)" },
	{ "exit3", "crashed", "exited with status 3" },
	{ "hang", "timed_out", "timed out after " },
	{ "oom", "crashed", "out of memory (limit 128 MiB)" },
};
#define POISONS (sizeof(poisons) / sizeof(poisons[0]))

static bool
isolation_settled(void *arg)
{
	uint64_t dlq = 0;

	return e2e_stream_msgs(&env, "DLQ", &dlq) == 0 && dlq == POISONS &&
	       e2e_settled(&env, "TASKS", "taskjet-bad") &&
	       e2e_settled(&env, "TASKS", "taskjet-good");
}

TEST(each_crash_costs_only_its_task)
{
	static const char routes[] =
	    "[ { \"name\": \"bad\", \"stream\": \"TASKS\", \"subject\": \"tasks.bad.*\", "
	    "\"plugin\": \"fx_isolate\", \"concurrency\": 2, \"max_attempts\": 2, "
	    "\"timeout\": \"1s\", \"limits\": { \"memory\": \"%dMiB\" }, "
	    "\"fetch_wait\": \"200ms\", "
	    "\"backoff\": { \"initial\": \"50ms\", \"max\": \"100ms\", \"jitter\": 0 }, "
	    "\"config\": { \"record_file\": \"%s\" } },\n"
	    "  { \"name\": \"good\", \"stream\": \"TASKS\", \"subject\": \"tasks.good\", "
	    "\"plugin\": \"fx_isolate\", \"concurrency\": 2, \"fetch_wait\": \"200ms\", "
	    "\"config\": { \"record_file\": \"%s\" } } ]";
	char buf[2048], id[32], subject[64];
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 };
	pid_t engine_pid;
	bool found[POISONS] = { false };

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(buf, sizeof(buf), routes, MEMORY_MIB, env.record, env.record);
	CHECK_INT(e2e_write_config(&env, "", buf), 0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	if (testing_failed())
		goto out;
	engine_pid = p.pid;
	/* The poison among the innocent, on both routes at once. */
	for (int i = 0; i < INNOCENT && !testing_failed(); i++) {
		if (i % 20 == 0 && (size_t)(i / 20) < POISONS) {
			const char *kind = poisons[i / 20].kind;

			snprintf(subject, sizeof(subject), "tasks.bad.%s", kind);
			snprintf(id, sizeof(id), "p-%s", kind);
			CHECK_INT(e2e_publish(&env, subject, kind, id, NULL, NULL), 0);
		}
		snprintf(id, sizeof(id), "b-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.bad.ok", "ok", id, NULL, NULL), 0);
		snprintf(id, sizeof(id), "g-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.good", "ok", id, NULL, NULL), 0);
	}
	CHECK_TRUE(e2e_wait_for(isolation_settled, NULL, 60000));
	/* The same engine all along: no restart, no second start. */
	CHECK_TRUE(e2e_alive(engine_pid));
	CHECK_INT(p.pid, engine_pid);
	CHECK_INT(e2e_file_count(p.log, " ready: "), 1);
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	/* Every letter: the bad task, its reason and cause, both attempts. */
	for (uint64_t seq = 1; seq <= POISONS; seq++) {
		natsMsg *m = NULL;
		jsErrCode jerr = 0;
		const char *orig;

		CHECK_INT(js_GetMsg(&m, env.js, "DLQ", seq, NULL, &jerr), NATS_OK);
		if (m == NULL)
			continue;
		orig = e2e_header(m, "Taskjet-Original-Subject");
		for (size_t k = 0; k < POISONS; k++) {
			snprintf(subject, sizeof(subject), "tasks.bad.%s", poisons[k].kind);
			if (orig == NULL || strcmp(orig, subject) != 0)
				continue;
			found[k] = true;
			CHECK_STR(e2e_header(m, "Taskjet-Reason"), poisons[k].reason);
			CHECK_CONTAINS(e2e_header(m, "Taskjet-Error"), poisons[k].error);
			CHECK_STR(e2e_header(m, "Taskjet-Attempts"), "2");
			CHECK_STR(e2e_header(m, "Taskjet-Plugin"), "fx_isolate");
			printf("# %s: %s, %s\n", poisons[k].kind, e2e_header(m, "Taskjet-Reason"),
			       e2e_header(m, "Taskjet-Error"));
		}
		natsMsg_Destroy(m);
	}
	for (size_t k = 0; k < POISONS; k++)
		if (!found[k])
			testing_fail(__FILE__, __LINE__, "no dead letter for %s", poisons[k].kind);
	/* Accounting: 205 published = 200 acked once + 5 in the DLQ (two
	 * calls each) + 0 pending; nothing else was touched. */
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	for (int i = 0; i < INNOCENT; i++) {
		snprintf(id, sizeof(id), "b-%d", i);
		CHECK_INT(e2e_records_count_id(&r, id), 1);
		snprintf(id, sizeof(id), "g-%d", i);
		CHECK_INT(e2e_records_count_id(&r, id), 1);
	}
	for (size_t k = 0; k < POISONS; k++) {
		snprintf(id, sizeof(id), "p-%s", poisons[k].kind);
		CHECK_INT(e2e_records_count_id(&r, id), 2);
	}
	CHECK_INT(r.count, 2 * INNOCENT + 2 * POISONS);
	CHECK_INT(e2e_stream_msgs_checked(&env, "TASKS"), 0);
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), POISONS);
	printf("# %d innocent tasks acked once each next to %zu poison tasks; engine pid %d "
	       "throughout\n",
	       2 * INNOCENT, POISONS, (int)engine_pid);
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

/* ----- thread isolation: a hang cannot be stopped, only let go ----- */

static struct e2e_proc hang_proc;

static bool
hang_logged(void *arg)
{
	return e2e_file_count(hang_proc.log, "still running after") >= *(size_t *)arg;
}

static bool
hang_dead_lettered(void *arg)
{
	uint64_t dlq = 0;

	return e2e_stream_msgs(&env, "DLQ", &dlq) == 0 && dlq == 1;
}

static bool
http_up(void *arg)
{
	return e2e_http_port(&hang_proc) > 0;
}

TEST(a_hung_handler_thread_is_named_counted_and_let_go)
{
	static const char routes[] =
	    "[ { \"name\": \"t\", \"stream\": \"TASKS\", \"subject\": \"tasks.t\", "
	    "\"plugin\": \"fx_isolate\", \"isolation\": \"thread\", \"concurrency\": 2, "
	    "\"timeout\": \"500ms\", \"ack_wait\": \"1s\", \"max_attempts\": 2, "
	    "\"fetch_wait\": \"200ms\", \"config\": { \"record_file\": \"%s\" } } ]";
	char buf[1024], id[32], body[4096];
	struct e2e_records r = { 0 };
	size_t one = 1, two = 2;
	int port, status;
	natsMsg *m = NULL;
	jsErrCode jerr = 0;

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(buf, sizeof(buf), routes, env.record);
	CHECK_INT(e2e_write_config(&env,
	                           "\"shutdown_grace\": \"1s\", \"http\": { \"listen\": "
	                           "\"127.0.0.1:0\" },",
	                           buf),
	          0);
	CHECK_INT(e2e_run_start(&env, &hang_proc, READY_MS), 0);
	CHECK_TRUE(e2e_wait_for(http_up, NULL, 5000));
	port = e2e_http_port(&hang_proc);
	if (testing_failed())
		goto stop;
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "ok-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.t", "ok", id, NULL, NULL), 0);
	}
	CHECK_INT(e2e_publish(&env, "tasks.t", "hang", "hang-1", NULL, NULL), 0);

	/* At the timeout: logged with its task and plugin, named in /readyz
	 * (still ready: one of two threads is free). */
	CHECK_TRUE(e2e_wait_for(hang_logged, &one, 10000));
	CHECK_INT(e2e_file_count(hang_proc.log,
	                         "handler of task hang-1 (tasks.t) in plugin fx_isolate still "
	                         "running after"),
	          1);
	status = e2e_http(port, "GET", "/readyz", NULL, NULL, body, sizeof(body));
	if (status == 200) {
		CHECK_CONTAINS(body, "\"status\":\"ready\"");
		CHECK_CONTAINS(body, "\"hung\":\"route t: task hang-1 (plugin fx_isolate) hung");
	} else {
		/* The redelivery may have hung the second thread already. */
		CHECK_INT(status, 503);
	}
	/* No longer kept alive: the server hands it to the other thread after
	 * ack_wait, which hangs too. Now the route is stuck, and says so. */
	CHECK_TRUE(e2e_wait_for(hang_logged, &two, 10000));
	CHECK_INT(e2e_http(port, "GET", "/readyz", NULL, NULL, body, sizeof(body)), 503);
	CHECK_CONTAINS(body,
	               "\"reason\":\"route t: all 2 handler threads hung in plugin fx_isolate");
	CHECK_CONTAINS(body, "task hang-1");
	CHECK_INT(e2e_http(port, "GET", "/metrics", NULL, NULL, body, sizeof(body)), 200);
	CHECK_INT((int)e2e_metric(body, "taskjet_handler_hung_total{route=\"t\"}"), 2);
	CHECK_INT((int)e2e_metric(body, "taskjet_handlers_hung{route=\"t\"}"), 2);
	/* Its deliveries used up, the server's advisory moves it to the DLQ. */
	CHECK_TRUE(e2e_wait_for(hang_dead_lettered, NULL, 20000));
	CHECK_INT(js_GetMsg(&m, env.js, "DLQ", 1, NULL, &jerr), NATS_OK);
	if (m != NULL) {
		CHECK_STR(e2e_header(m, "Taskjet-Reason"), "max_deliveries");
		CHECK_STR(e2e_header(m, "Taskjet-Original-Subject"), "tasks.t");
		natsMsg_Destroy(m);
	}
stop:
	/* The hung threads cannot finish: the grace ends, the engine exits 0
	 * without them. */
	e2e_stop_checked(&hang_proc, STOP_MS, NULL);
	CHECK_INT(e2e_file_count(hang_proc.log, "still busy after"), 1);
	if (testing_failed())
		goto out;
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "ok-%d", i);
		CHECK_INT(e2e_records_count_id(&r, id), 1);
	}
	CHECK_INT(e2e_records_count_id(&r, "hang-1"), 2);
	CHECK_INT(e2e_stream_msgs_checked(&env, "TASKS"), 0);
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

int
main(void)
{
	bool must_fail;

	/* taskjet and its worker processes inherit it. */
	testing_let_segv_through();
	if (!nats_server_available("taskjet run process isolation", &must_fail))
		return must_fail ? 1 : 0;
	RUN(each_crash_costs_only_its_task);
	RUN(a_hung_handler_thread_is_named_counted_and_let_go);
	nats_Close();
	return testing_done();
}
