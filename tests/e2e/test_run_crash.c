/* SPDX-License-Identifier: MIT */
/*
 * `taskjet run` killed under its tasks: a poison task that SIGKILLs the
 * engine on every attempt (a handler of an "isolation": "thread" route
 * runs in the engine's process) ends in the DLQ (reason max_deliveries, through
 * the server's MAX_DELIVERIES advisory captured in the advisory stream)
 * and leaves the work stream; an engine SIGKILLed mid-batch loses
 * nothing. Accounting: published = handled and acked + dead-lettered +
 * still pending, with duplicates only for tasks whose ack died with the
 * process.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "run_harness.h"
#include "testing.h"

#define READY_MS 15000
#define STOP_MS 20000

static struct e2e env;

static bool
killed_by_sigkill(const struct e2e_proc *p)
{
	return WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGKILL;
}

/* ----- 4a. poison: the handler kills the process on every attempt ----- */

#define POISON_ATTEMPTS 3
#define POISON_OK_TASKS 20

static bool
poison_settled(void)
{
	uint64_t dlq = 0;

	return e2e_stream_msgs(&env, "DLQ", &dlq) == 0 && dlq == 1 &&
	       e2e_settled(&env, "TASKS", "taskjet-poison") &&
	       e2e_settled(&env, "TASKS", "taskjet-ok");
}

TEST(poison_task_is_dead_lettered_after_max_deliveries)
{
	static const char routes[] =
	    "[ { \"name\": \"poison\", \"stream\": \"TASKS\", \"subject\": "
	    "\"tasks.poison\", \"plugin\": \"fx_behave\", \"isolation\": \"thread\", "
	    "\"max_attempts\": %d, "
	    "\"ack_wait\": \"1s\", \"batch\": 1, \"fetch_wait\": \"200ms\", "
	    "\"config\": { \"crash_always\": 1, \"record_file\": \"%s\" } },\n"
	    "  { \"name\": \"ok\", \"stream\": \"TASKS\", \"subject\": \"tasks.ok\", "
	    "\"plugin\": \"fx_behave\", \"concurrency\": 2, \"ack_wait\": \"1s\", "
	    "\"fetch_wait\": \"200ms\", \"config\": { \"record_file\": \"%s\" } } ]";
	char buf[2048], id[32];
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 };
	uint64_t poison_seq = 0, last;
	unsigned attempts_seen[POISON_ATTEMPTS + 2] = { 0 };
	int deaths = 0, rc;
	int64_t deadline;
	bool settled = false;

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(buf, sizeof(buf), routes, POISON_ATTEMPTS, env.record, env.record);
	CHECK_INT(e2e_write_config(&env, "", buf), 0);
	/* The first run makes the topology; it dies once the poison comes. */
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	if (testing_failed())
		goto out;
	CHECK_INT(e2e_publish(&env, "tasks.poison", "{\"poison\":true}", "poison-1", &poison_seq,
	                      "Trace", "t-poison", NULL),
	          0);
	for (int i = 0; i < POISON_OK_TASKS && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "ok-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.ok", "{}", id, NULL, NULL), 0);
	}
	if (testing_failed())
		goto stop;

	/* Restart the engine after each death until the poison is in the
	 * DLQ. Each redelivery comes after ack_wait (1 s). */
	deadline = e2e_now_ms() + 40000;
	while (e2e_now_ms() < deadline && deaths <= POISON_ATTEMPTS + 1) {
		if (p.pid == 0) {
			if (!killed_by_sigkill(&p)) {
				testing_fail(__FILE__, __LINE__,
				             "engine ended with status 0x%x, not SIGKILL",
				             p.status);
				e2e_proc_dump(&p);
				break;
			}
			deaths++;
			rc = e2e_run_start(&env, &p, READY_MS);
			if (rc == -ECHILD)
				continue; /* died again before it said ready */
			CHECK_INT(rc, 0);
			if (rc != 0)
				break;
		}
		if (poison_settled()) {
			settled = true;
			break;
		}
		if (waitpid(p.pid, &p.status, WNOHANG) == p.pid) {
			p.pid = 0;
			continue;
		}
		e2e_sleep_ms(20);
	}
	CHECK_TRUE(settled);
	/* The handler ran max_attempts times, each time killing the engine;
	 * then the server gave up and the engine moved the task. */
	CHECK_INT(deaths, POISON_ATTEMPTS);
stop:
	if (p.pid != 0)
		e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	CHECK_INT(e2e_records_read(env.record, &r), 0);
	CHECK_INT(e2e_records_count_id(&r, "poison-1"), POISON_ATTEMPTS);
	for (size_t i = 0; i < r.count; i++)
		if (strcmp(r.v[i].id, "poison-1") == 0 && r.v[i].attempt <= POISON_ATTEMPTS + 1)
			attempts_seen[r.v[i].attempt]++;
	for (int a = 1; a <= POISON_ATTEMPTS; a++)
		CHECK_INT(attempts_seen[a], 1);
	snprintf(buf, sizeof(buf), "advisory: poison-1 moved to the DLQ");
	CHECK_INT(e2e_file_count(p.log, buf), 1);

	/* The letter: reason max_deliveries, every header, the original. */
	last = e2e_stream_last_seq(&env, "DLQ");
	CHECK_INT(last, 1);
	{
		natsMsg *m = NULL;
		jsErrCode jerr = 0;
		char seq[32];

		CHECK_INT(js_GetMsg(&m, env.js, "DLQ", 1, NULL, &jerr), NATS_OK);
		if (m != NULL) {
			snprintf(seq, sizeof(seq), "%llu", (unsigned long long)poison_seq);
			CHECK_STR(natsMsg_GetSubject(m), "dlq.tasks.poison");
			CHECK_INT(natsMsg_GetDataLength(m), 15);
			CHECK_TRUE(memcmp(natsMsg_GetData(m), "{\"poison\":true}", 15) == 0);
			CHECK_STR(e2e_header(m, "Taskjet-Reason"), "max_deliveries");
			CHECK_STR(e2e_header(m, "Taskjet-Attempts"), "3");
			CHECK_STR(e2e_header(m, "Taskjet-Original-Subject"), "tasks.poison");
			CHECK_STR(e2e_header(m, "Taskjet-Original-Stream"), "TASKS");
			CHECK_STR(e2e_header(m, "Taskjet-Original-Seq"), seq);
			CHECK_STR(e2e_header(m, "Taskjet-Plugin"), "fx_behave");
			CHECK_CONTAINS(e2e_header(m, "Taskjet-Error"), "max deliveries");
			CHECK_TRUE(e2e_header(m, "Taskjet-Failed-At") != NULL);
			CHECK_STR(e2e_header(m, "Trace"), "t-poison");
			natsMsg_Destroy(m);
		}
	}
	/* Accounting: 21 published = 20 acked (each handled at least once;
	 * a death can repeat one whose ack it took along) + 1 in the DLQ +
	 * 0 pending; the poison is deleted from the work stream. */
	for (int i = 0; i < POISON_OK_TASKS; i++) {
		snprintf(id, sizeof(id), "ok-%d", i);
		CHECK_TRUE(e2e_records_count_id(&r, id) >= 1);
	}
	CHECK_INT(e2e_records_unique(&r), POISON_OK_TASKS + 1);
	CHECK_INT(e2e_stream_msgs_checked(&env, "TASKS"), 0);
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), 1);
	printf("# poison: %d deaths, %d deliveries, then max_deliveries letter; "
	       "%d ok tasks with %zu handler calls; work stream empty\n",
	       deaths, POISON_ATTEMPTS, POISON_OK_TASKS, r.count - POISON_ATTEMPTS);
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

/* ----- 4b. the engine SIGKILLed mid-batch ----- */

#define BATCH_TASKS 150
#define BATCH_CONCURRENCY 3
#define BATCH_SIZE 10

static bool
work_settled(void *arg)
{
	return e2e_records_unique_now(env.record) >= BATCH_TASKS &&
	       e2e_settled(&env, "TASKS", "taskjet-work");
}

static bool
some_handled(void *arg)
{
	return e2e_file_count(env.record, "tasks.work") >= *(size_t *)arg;
}

TEST(sigkill_mid_batch_loses_nothing)
{
	static const char routes[] =
	    "[ { \"name\": \"work\", \"stream\": \"TASKS\", \"subject\": "
	    "\"tasks.work\", \"plugin\": \"fx_behave\", \"concurrency\": %d, "
	    "\"batch\": %d, \"ack_wait\": \"1s\", \"fetch_wait\": \"200ms\", "
	    "\"config\": { \"sleep_ms\": 40, \"record_file\": \"%s\" } } ]";
	char buf[1024], id[32];
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 };
	size_t at_kill = 0, want_before = 40, dups;

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(buf, sizeof(buf), routes, BATCH_CONCURRENCY, BATCH_SIZE, env.record);
	CHECK_INT(e2e_write_config(&env, "", buf), 0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	for (int i = 0; i < BATCH_TASKS && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "w-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.work", "{}", id, NULL, NULL), 0);
	}
	if (testing_failed())
		goto stop;
	CHECK_TRUE(e2e_wait_for(some_handled, &want_before, 15000));
	CHECK_INT(e2e_proc_stop(&p, SIGKILL, STOP_MS), 0);
	CHECK_TRUE(killed_by_sigkill(&p));
	at_kill = e2e_file_count(env.record, "tasks.work");
	CHECK_TRUE(at_kill < BATCH_TASKS);
	if (testing_failed())
		goto out;
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	if (!testing_failed())
		CHECK_TRUE(e2e_wait_for(work_settled, NULL, 30000));
stop:
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	/* Accounting: 150 published = 150 handled and acked + 0 DLQ + 0
	 * pending. A task handled twice is one whose handler ran (or whose
	 * ack was still unsent) when the engine died: at most one batch
	 * per worker; its second call must be a later attempt. */
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	CHECK_INT(e2e_records_unique(&r), BATCH_TASKS);
	dups = r.count - e2e_records_unique(&r);
	CHECK_TRUE(dups <= BATCH_CONCURRENCY * BATCH_SIZE);
	for (int i = 0; i < BATCH_TASKS; i++) {
		unsigned prev = 0;

		snprintf(id, sizeof(id), "w-%d", i);
		CHECK_TRUE(e2e_records_count_id(&r, id) >= 1);
		for (size_t k = 0; k < r.count; k++) {
			if (strcmp(r.v[k].id, id) != 0)
				continue;
			CHECK_TRUE(r.v[k].attempt > prev);
			prev = r.v[k].attempt;
		}
	}
	CHECK_TRUE(e2e_settled(&env, "TASKS", "taskjet-work"));
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), 0);
	printf("# sigkill mid-batch: killed after %zu handler calls; %d published "
	       "= %zu unique handled, %zu handled twice, 0 DLQ, 0 pending\n",
	       at_kill, BATCH_TASKS, e2e_records_unique(&r), dups);
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

int
main(void)
{
	bool must_fail;

	if (!nats_server_available("taskjet run crash recovery", &must_fail))
		return must_fail ? 1 : 0;
	RUN(poison_task_is_dead_lettered_after_max_deliveries);
	RUN(sigkill_mid_batch_loses_nothing);
	nats_Close();
	return testing_done();
}
