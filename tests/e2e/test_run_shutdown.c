/* SPDX-License-Identifier: MIT */
/*
 * `taskjet run` stopped by SIGTERM with handlers in flight. Within
 * shutdown_grace they finish and are acked, exit status 0, and the next
 * run handles only what was left: nothing twice, nothing lost. With a
 * grace shorter than the handler, the engine still exits 0 and the
 * abandoned tasks come back after ack_wait: those are handled again (by
 * design: they never got a verdict), and still nothing is lost.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_harness.h"
#include "testing.h"

#define READY_MS 15000
#define STOP_MS 30000

static struct e2e env;

struct wait_arg {
	const char *consumer;
	size_t records;
};

static bool
records_at_least(void *arg)
{
	return e2e_file_count(env.record, "tasks.") >= *(size_t *)arg;
}

static bool
all_settled(void *arg)
{
	const struct wait_arg *w = arg;

	return e2e_file_count(env.record, "tasks.") >= w->records &&
	       e2e_settled(&env, "TASKS", w->consumer);
}

/* ----- 5a. in-flight handlers finish within the grace ----- */

#define GRACE_TASKS 8
#define GRACE_WORKERS 4
#define GRACE_SLEEP_MS 1500

TEST(sigterm_lets_in_flight_tasks_finish_and_acks_them)
{
	static const char routes[] =
	    "[ { \"name\": \"slow\", \"stream\": \"TASKS\", \"subject\": "
	    "\"tasks.slow\", \"plugin\": \"fx_behave\", \"concurrency\": %d, "
	    "\"batch\": 1, \"ack_wait\": \"2s\", \"fetch_wait\": \"200ms\", "
	    "\"config\": { \"sleep_ms\": %d, \"record_file\": \"%s\" } } ]";
	char buf[1024], id[32], needle[192];
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 }, first = { 0 };
	size_t want = GRACE_WORKERS;
	struct wait_arg all = { "taskjet-slow", GRACE_TASKS };
	int64_t took = 0;

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(buf, sizeof(buf), routes, GRACE_WORKERS, GRACE_SLEEP_MS, env.record);
	CHECK_INT(e2e_write_config(&env, "\"shutdown_grace\": \"10s\",", buf), 0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	for (int i = 0; i < GRACE_TASKS && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "s-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.slow", "{}", id, NULL, NULL), 0);
	}
	if (testing_failed())
		goto stop1;
	/* Every worker is inside its 1.5 s handler: stop now. */
	CHECK_TRUE(e2e_wait_for(records_at_least, &want, 10000));
stop1:
	e2e_stop_checked(&p, STOP_MS, &took);
	if (testing_failed())
		goto out;
	CHECK_INT(e2e_records_read(env.record, &first), 0);
	CHECK_INT(first.count, GRACE_WORKERS);
	/* It waited for the handlers (most of their 1.5 s), not the grace. */
	CHECK_RANGE(took, GRACE_SLEEP_MS / 2, 10000);
	for (size_t i = 0; i < first.count; i++) {
		snprintf(needle, sizeof(needle), " acked %s ", first.v[i].id);
		CHECK_INT(e2e_file_count(p.log, needle), 1);
	}
	CHECK_INT(e2e_file_count(p.log, "stopped cleanly"), 1);
	/* The in-flight ones are acked: gone from the work queue. */
	CHECK_INT(e2e_stream_msgs_checked(&env, "TASKS"), GRACE_TASKS - GRACE_WORKERS);
	printf("# grace: SIGTERM with %zu handlers running; exit 0 after %lld ms; "
	       "%zu acked, %llu left in the stream\n",
	       first.count, (long long)took, first.count,
	       (unsigned long long)(GRACE_TASKS - GRACE_WORKERS));
	if (testing_failed())
		goto out;

	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	if (!testing_failed())
		CHECK_TRUE(e2e_wait_for(all_settled, &all, 20000));
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	/* Accounting: 8 published = 8 handled exactly once and acked + 0
	 * DLQ + 0 pending. */
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	CHECK_INT(r.count, GRACE_TASKS);
	CHECK_INT(e2e_records_unique(&r), GRACE_TASKS);
	for (size_t i = 0; i < first.count; i++)
		CHECK_INT(e2e_records_count_id(&r, first.v[i].id), 1);
	CHECK_TRUE(e2e_settled(&env, "TASKS", "taskjet-slow"));
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), 0);
out:
	e2e_records_free(&first);
	e2e_records_free(&r);
	e2e_teardown(&env);
}

/* ----- 5b. a grace shorter than the handler ----- */

#define SHORT_TASKS 2
#define SHORT_SLEEP_MS 2000

/*
 * Two handlers of 2 s, SIGTERM once both run, a grace of 300 ms: the
 * engine exits 0 at once and nothing is acked. In threads the handlers are
 * abandoned (their tasks come back after ack_wait); in worker processes
 * the workers are killed and the tasks given back at once, which the log
 * says. Restarted, the engine handles both again, as attempt 2.
 */
static void
short_grace(const char *isolation, const char *expect_line, int expect_count)
{
	static const char routes[] =
	    "[ { \"name\": \"long\", \"stream\": \"TASKS\", \"subject\": "
	    "\"tasks.long\", \"plugin\": \"fx_behave\", \"concurrency\": %d, "
	    "\"isolation\": \"%s\", "
	    "\"batch\": 1, \"ack_wait\": \"1s\", \"fetch_wait\": \"200ms\", "
	    "\"config\": { \"sleep_ms\": %d, \"record_file\": \"%s\" } } ]";
	char buf[1024], id[32];
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 };
	size_t want = SHORT_TASKS;
	struct wait_arg all = { "taskjet-long", 2 * SHORT_TASKS };
	int64_t took = 0;

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(buf, sizeof(buf), routes, SHORT_TASKS, isolation, SHORT_SLEEP_MS, env.record);
	CHECK_INT(e2e_write_config(&env, "\"shutdown_grace\": \"300ms\",", buf), 0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	for (int i = 0; i < SHORT_TASKS && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "l-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.long", "{}", id, NULL, NULL), 0);
	}
	if (!testing_failed())
		CHECK_TRUE(e2e_wait_for(records_at_least, &want, 10000));
	e2e_stop_checked(&p, STOP_MS, &took);
	if (testing_failed())
		goto out;
	/* It did not wait for the 2 s handlers. */
	CHECK_TRUE(took < SHORT_SLEEP_MS);
	CHECK_INT(e2e_file_count(p.log, expect_line), expect_count);
	CHECK_INT(e2e_file_count(p.log, " acked l-"), 0);
	/* Nothing was acked: both wait in the work queue. */
	CHECK_INT(e2e_stream_msgs_checked(&env, "TASKS"), SHORT_TASKS);
	printf("# short grace, %s: exit 0 after %lld ms with %d handlers %s\n", isolation,
	       (long long)took, SHORT_TASKS,
	       strcmp(isolation, "thread") == 0 ? "abandoned" : "stopped");
	if (testing_failed())
		goto out;

	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	if (!testing_failed())
		CHECK_TRUE(e2e_wait_for(all_settled, &all, 20000));
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	/* Accounting: 2 published = 2 acked + 0 DLQ + 0 pending. Each was
	 * handled twice: attempt 1 ended without a verdict, attempt 2 (the
	 * redelivery) finished and was acked. */
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	CHECK_INT(r.count, 2 * SHORT_TASKS);
	CHECK_INT(e2e_records_unique(&r), SHORT_TASKS);
	for (size_t i = 0; i < r.count; i++)
		CHECK_INT(r.v[i].attempt, i < SHORT_TASKS ? 1 : 2);
	CHECK_INT(e2e_file_count(p.log, " acked l-"), SHORT_TASKS);
	CHECK_TRUE(e2e_settled(&env, "TASKS", "taskjet-long"));
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), 0);
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

TEST(short_grace_abandons_handler_threads_whose_tasks_come_back)
{
	short_grace("thread", "worker(s) still busy after the 300 ms grace", 1);
}

TEST(short_grace_stops_worker_processes_and_gives_their_tasks_back)
{
	short_grace("process", "stopped with its worker", SHORT_TASKS);
}

int
main(void)
{
	bool must_fail;

	if (!nats_server_available("taskjet run graceful shutdown", &must_fail))
		return must_fail ? 1 : 0;
	RUN(sigterm_lets_in_flight_tasks_finish_and_acks_them);
	RUN(short_grace_abandons_handler_threads_whose_tasks_come_back);
	RUN(short_grace_stops_worker_processes_and_gives_their_tasks_back);
	nats_Close();
	return testing_done();
}
