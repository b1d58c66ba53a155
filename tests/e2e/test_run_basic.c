/* SPDX-License-Identifier: MIT */
/*
 * `taskjet run` end to end on a real nats-server: many tasks over three
 * routes, retries with measured backoff, dead letters with every header,
 * invalid JSON payloads, and `taskjet check --nats` drift. Each test
 * accounts for every task: published = handled and acked + dead-lettered
 * + still pending, and fails on any difference.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_harness.h"
#include "testing.h"

#define READY_MS 15000
#define STOP_MS 20000

static struct e2e env;

/* ----- 1. happy path ----- */

#define HAPPY_N 300
static const char *const happy_routes[] = { "alpha", "beta", "gamma" };

static bool
happy_done(void *arg)
{
	bool done = e2e_records_count_now(env.record) >= HAPPY_N;

	for (size_t i = 0; done && i < 3; i++) {
		char consumer[64];

		snprintf(consumer, sizeof(consumer), "taskjet-%s", happy_routes[i]);
		done = e2e_settled(&env, "TASKS", consumer);
	}
	return done;
}

TEST(happy_path_every_task_once_over_three_routes)
{
	char routes[4096], id[32], subject[64];
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 };
	int concurrency[3] = { 4, 3, 2 };
	size_t off = 0, per_subject[3] = { 0 };

	if (!e2e_setup_checked(&env))
		goto out;
	off += (size_t)snprintf(routes + off, sizeof(routes) - off, "[");
	for (int i = 0; i < 3; i++)
		off += (size_t)snprintf(
		    routes + off, sizeof(routes) - off,
		    "%s{ \"name\": \"%s\", \"stream\": \"TASKS\", \"subject\": "
		    "\"tasks.%s\", \"plugin\": \"fx_behave\", \"concurrency\": %d, "
		    "\"batch\": 8, \"ack_wait\": \"10s\", \"fetch_wait\": \"200ms\", "
		    "\"config\": { \"record_file\": \"%s\" } }",
		    i > 0 ? ",\n" : "", happy_routes[i], happy_routes[i], concurrency[i],
		    env.record);
	snprintf(routes + off, sizeof(routes) - off, "]");
	CHECK_INT(e2e_write_config(&env, "", routes), 0);

	/* A first run creates the streams and consumers and stops; half the
	 * tasks then wait in the stream for the second run, half arrive
	 * while it runs. */
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;
	for (int i = 0; i < HAPPY_N / 2 && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "h-%d", i);
		snprintf(subject, sizeof(subject), "tasks.%s", happy_routes[i % 3]);
		CHECK_INT(e2e_publish(&env, subject, "{\"n\":1}", id, NULL, NULL), 0);
	}
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	for (int i = HAPPY_N / 2; i < HAPPY_N && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "h-%d", i);
		snprintf(subject, sizeof(subject), "tasks.%s", happy_routes[i % 3]);
		CHECK_INT(e2e_publish(&env, subject, "{\"n\":1}", id, NULL, NULL), 0);
	}
	if (testing_failed())
		goto stop;
	CHECK_TRUE(e2e_wait_for(happy_done, NULL, 30000));
stop:
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	/* Accounting after the engine is gone: 300 published = 300 handled
	 * once and acked + 0 dead letters + 0 pending. */
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	CHECK_INT(r.count, HAPPY_N);
	CHECK_INT(e2e_records_unique(&r), HAPPY_N);
	for (int i = 0; i < HAPPY_N; i++) {
		snprintf(id, sizeof(id), "h-%d", i);
		CHECK_INT(e2e_records_count_id(&r, id), 1);
	}
	for (size_t i = 0; i < r.count; i++) {
		CHECK_INT(r.v[i].attempt, 1);
		for (int k = 0; k < 3; k++) {
			snprintf(subject, sizeof(subject), "tasks.%s", happy_routes[k]);
			per_subject[k] += strcmp(r.v[i].subject, subject) == 0;
		}
	}
	for (int k = 0; k < 3; k++) {
		char consumer[64];
		uint64_t pending = 1, ack_pending = 1;

		CHECK_INT(per_subject[k], HAPPY_N / 3);
		snprintf(consumer, sizeof(consumer), "taskjet-%s", happy_routes[k]);
		CHECK_INT(e2e_consumer_pending(&env, "TASKS", consumer, &pending, &ack_pending), 0);
		CHECK_INT(pending, 0);
		CHECK_INT(ack_pending, 0);
	}
	CHECK_INT(e2e_stream_msgs_checked(&env, "TASKS"), 0);
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), 0);
	CHECK_INT(e2e_file_count(p.log, " acked h-"), HAPPY_N);
	CHECK_INT(e2e_file_count(p.log, "dead-lettered"), 0);
	CHECK_INT(e2e_file_count(p.log, "stopped cleanly"), 1);
	printf("# happy: %d published, %zu handled (%zu unique), all attempt 1, "
	       "0 in DLQ, 0 pending\n",
	       HAPPY_N, r.count, e2e_records_unique(&r));
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

/* ----- 2. retry with growing delays, then success ----- */

#define RETRY_TASKS 2
#define RETRY_K 2
#define RETRY_INITIAL_MS 300
/* Scheduling slack below the configured delay; the server measured
 * 503-510 ms for a 500 ms nak delay (natsc.md §16). */
#define RETRY_EARLY_TOL_MS 25
/* Generous upper bound: it must be the backoff, not ack_wait (10 s). */
#define RETRY_LATE_TOL_MS 1500

TEST(retry_then_success_with_measured_backoff)
{
	static const char routes[] =
	    "[ { \"name\": \"flaky\", \"stream\": \"TASKS\", \"subject\": "
	    "\"tasks.flaky\", \"plugin\": \"fx_behave\", \"concurrency\": 2, "
	    "\"max_attempts\": 5, \"ack_wait\": \"10s\", \"fetch_wait\": "
	    "\"200ms\", \"backoff\": { \"initial\": \"300ms\", \"multiplier\": 2, "
	    "\"max\": \"10s\", \"jitter\": 0 }, \"config\": { \"fail_first\": 2, "
	    "\"reason\": \"db busy\", \"record_file\": \"%s\" } } ]";
	char buf[1024], id[32], needle[128];
	int64_t seen_ms[RETRY_TASKS][RETRY_K + 2] = { { 0 } };
	unsigned seen_attempt[RETRY_TASKS][RETRY_K + 2] = { { 0 } };
	size_t seen = 0, want = RETRY_TASKS * (RETRY_K + 1);
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 };
	int64_t deadline;

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(buf, sizeof(buf), routes, env.record);
	CHECK_INT(e2e_write_config(&env, "", buf), 0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	for (int i = 0; i < RETRY_TASKS && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "r-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.flaky", "{}", id, NULL, NULL), 0);
	}
	if (testing_failed())
		goto stop;

	/* Stamp each handler call as its record line appears (2 ms polls). */
	deadline = e2e_now_ms() + 15000;
	while (seen < want && e2e_now_ms() < deadline) {
		CHECK_INT(e2e_records_read(env.record, &r), 0);
		for (; seen < r.count && seen < want; seen++) {
			int t = -1;

			sscanf(r.v[seen].id, "r-%d", &t);
			if (t < 0 || t >= RETRY_TASKS || r.v[seen].attempt < 1 ||
			    r.v[seen].attempt > RETRY_K + 1) {
				testing_fail(__FILE__, __LINE__, "unexpected record %s %u",
				             r.v[seen].id, r.v[seen].attempt);
				continue;
			}
			seen_ms[t][r.v[seen].attempt - 1] = e2e_now_ms();
			seen_attempt[t][r.v[seen].attempt - 1]++;
		}
		e2e_records_free(&r);
		e2e_sleep_ms(2);
	}
	CHECK_INT(seen, want);
stop:
	for (int i = 0; i < 200 && !e2e_settled(&env, "TASKS", "taskjet-flaky"); i++)
		e2e_sleep_ms(10);
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	for (int t = 0; t < RETRY_TASKS; t++) {
		int64_t gap1 = seen_ms[t][1] - seen_ms[t][0];
		int64_t gap2 = seen_ms[t][2] - seen_ms[t][1];

		for (int a = 0; a < RETRY_K + 1; a++)
			CHECK_INT(seen_attempt[t][a], 1);
		printf("# r-%d: attempt 1->2 after %lld ms (configured %d), "
		       "2->3 after %lld ms (configured %d)\n",
		       t, (long long)gap1, RETRY_INITIAL_MS, (long long)gap2, RETRY_INITIAL_MS * 2);
		CHECK_RANGE(gap1, RETRY_INITIAL_MS - RETRY_EARLY_TOL_MS,
		            RETRY_INITIAL_MS + RETRY_LATE_TOL_MS);
		CHECK_RANGE(gap2, 2 * RETRY_INITIAL_MS - RETRY_EARLY_TOL_MS,
		            2 * RETRY_INITIAL_MS + RETRY_LATE_TOL_MS);
		CHECK_TRUE(gap2 > gap1);
		snprintf(id, sizeof(id), "r-%d", t);
		snprintf(needle, sizeof(needle), "retry %s in 300 ms: db busy", id);
		CHECK_INT(e2e_file_count(p.log, needle), 1);
		snprintf(needle, sizeof(needle), "retry %s in 600 ms: db busy", id);
		CHECK_INT(e2e_file_count(p.log, needle), 1);
		/* Acked on attempt K+1 = 3, and only then. */
		snprintf(needle, sizeof(needle), "attempt=3 acked %s ", id);
		CHECK_INT(e2e_file_count(p.log, needle), 1);
		snprintf(needle, sizeof(needle), " acked %s ", id);
		CHECK_INT(e2e_file_count(p.log, needle), 1);
	}
	/* Accounting: 2 published = 2 acked + 0 DLQ + 0 pending. */
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	CHECK_INT(r.count, want);
	CHECK_INT(e2e_records_unique(&r), RETRY_TASKS);
	CHECK_TRUE(e2e_settled(&env, "TASKS", "taskjet-flaky"));
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), 0);
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

/* ----- 3. dead letters: exhausted, failed, invalid payload ----- */

struct letter_want {
	const char *id;
	const char *subject;
	const char *payload;
	const char *trace; /* custom header, NULL for none */
	const char *reason; /* NULL: must be acked, not dead-lettered */
	const char *attempts;
	const char *error; /* Taskjet-Error must contain this */
	size_t handler_calls;
	uint64_t seq;
	int found;
};

/* "2024-01-02T03:04:05...Z" */
static bool
looks_rfc3339_utc(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n >= 20 && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' &&
	       s[16] == ':' && s[n - 1] == 'Z';
}

static bool
dlq_settled(void *arg)
{
	uint64_t dlq = 0;

	return e2e_stream_msgs(&env, "DLQ", &dlq) == 0 && dlq == *(uint64_t *)arg &&
	       e2e_settled(&env, "TASKS", "taskjet-always") &&
	       e2e_settled(&env, "TASKS", "taskjet-perm") &&
	       e2e_settled(&env, "TASKS", "taskjet-json");
}

TEST(dead_letters_carry_every_header_and_the_original)
{
	static const char routes[] =
	    "[ { \"name\": \"always\", \"stream\": \"TASKS\", \"subject\": "
	    "\"tasks.always\", \"plugin\": \"fx_behave\", \"concurrency\": 2, "
	    "\"max_attempts\": 3, \"fetch_wait\": \"200ms\", \"backoff\": { "
	    "\"initial\": \"50ms\", \"multiplier\": 2, \"max\": \"1s\", \"jitter\": "
	    "0 }, \"config\": { \"verdict\": \"retry\", \"reason\": \"upstream 503\","
	    " \"record_file\": \"%s\" } },\n"
	    "  { \"name\": \"perm\", \"stream\": \"TASKS\", \"subject\": "
	    "\"tasks.perm\", \"plugin\": \"fx_behave\", \"concurrency\": 2, "
	    "\"fetch_wait\": \"200ms\", \"config\": { \"verdict\": \"fail\", "
	    "\"reason\": \"bad input\", \"record_file\": \"%s\" } },\n"
	    "  { \"name\": \"json\", \"stream\": \"TASKS\", \"subject\": "
	    "\"tasks.json\", \"plugin\": \"fx_behave\", \"payload\": \"json\", "
	    "\"fetch_wait\": \"200ms\", \"config\": { \"record_file\": \"%s\" } } ]";
	struct letter_want want[] = {
		{ "a-1", "tasks.always", "alpha payload", "t-a1", "attempts_exhausted", "3",
		  "upstream 503", 3, 0, 0 },
		{ "a-2", "tasks.always", "{\"n\":2}", "t-a2", "attempts_exhausted", "3",
		  "upstream 503", 3, 0, 0 },
		{ "p-1", "tasks.perm", "perm one", "t-p1", "handler_failed", "1", "bad input", 1, 0,
		  0 },
		{ "p-2", "tasks.perm", "perm two", NULL, "handler_failed", "1", "bad input", 1, 0,
		  0 },
		{ "j-bad", "tasks.json", "{not json", "t-j", "invalid_payload", "1",
		  "not valid JSON", 0, 0, 0 },
		{ "j-ok", "tasks.json", "{\"ok\":true}", "t-ok", NULL, NULL, NULL, 1, 0, 0 },
	};
	size_t n = sizeof(want) / sizeof(want[0]);
	uint64_t letters = 5, last;
	char buf[2048], want_id[64];
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 };

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(buf, sizeof(buf), routes, env.record, env.record, env.record);
	CHECK_INT(e2e_write_config(&env, "", buf), 0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	for (size_t i = 0; i < n && !testing_failed(); i++) {
		if (want[i].trace != NULL)
			CHECK_INT(e2e_publish(&env, want[i].subject, want[i].payload, want[i].id,
			                      &want[i].seq, "Trace", want[i].trace, "X-Tenant",
			                      "acme", NULL),
			          0);
		else
			CHECK_INT(e2e_publish(&env, want[i].subject, want[i].payload, want[i].id,
			                      &want[i].seq, NULL),
			          0);
	}
	if (!testing_failed())
		CHECK_TRUE(e2e_wait_for(dlq_settled, &letters, 15000));
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	/* Every letter, matched to its original by Taskjet-Original-Seq. */
	last = e2e_stream_last_seq(&env, "DLQ");
	CHECK_INT(last, letters);
	for (uint64_t seq = 1; seq <= last; seq++) {
		natsMsg *m = NULL;
		jsErrCode jerr = 0;
		struct letter_want *w = NULL;
		const char *oseq;

		if (js_GetMsg(&m, env.js, "DLQ", seq, NULL, &jerr) != NATS_OK) {
			testing_fail(__FILE__, __LINE__, "DLQ seq %llu unreadable",
			             (unsigned long long)seq);
			continue;
		}
		oseq = e2e_header(m, "Taskjet-Original-Seq");
		for (size_t i = 0; oseq != NULL && i < n; i++)
			if (strtoull(oseq, NULL, 10) == want[i].seq)
				w = &want[i];
		if (w == NULL || w->reason == NULL) {
			testing_fail(__FILE__, __LINE__, "unexpected letter, seq %s",
			             oseq ? oseq : "(none)");
			natsMsg_Destroy(m);
			continue;
		}
		w->found++;
		snprintf(buf, sizeof(buf), "dlq.%s", w->subject);
		CHECK_STR(natsMsg_GetSubject(m), buf);
		CHECK_INT(natsMsg_GetDataLength(m), strlen(w->payload));
		CHECK_TRUE(memcmp(natsMsg_GetData(m), w->payload, strlen(w->payload)) == 0);
		CHECK_STR(e2e_header(m, "Taskjet-Original-Subject"), w->subject);
		CHECK_STR(e2e_header(m, "Taskjet-Original-Stream"), "TASKS");
		CHECK_STR(e2e_header(m, "Taskjet-Attempts"), w->attempts);
		CHECK_STR(e2e_header(m, "Taskjet-Reason"), w->reason);
		CHECK_CONTAINS(e2e_header(m, "Taskjet-Error"), w->error);
		CHECK_STR(e2e_header(m, "Taskjet-Plugin"), "fx_behave");
		CHECK_TRUE(looks_rfc3339_utc(e2e_header(m, "Taskjet-Failed-At")));
		snprintf(want_id, sizeof(want_id), "dlq-TASKS-%llu", (unsigned long long)w->seq);
		CHECK_STR(e2e_header(m, "Nats-Msg-Id"), want_id);
		/* The publisher's id, to match the letter with the logs. */
		CHECK_STR(e2e_header(m, "Taskjet-Original-Msg-Id"), w->id);
		if (w->trace != NULL) {
			CHECK_STR(e2e_header(m, "Trace"), w->trace);
			CHECK_STR(e2e_header(m, "X-Tenant"), "acme");
		} else {
			CHECK_TRUE(e2e_header(m, "Trace") == NULL);
		}
		natsMsg_Destroy(m);
	}

	/* Handler calls per task; the invalid payload never reached it. */
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	for (size_t i = 0; i < n; i++) {
		CHECK_INT(e2e_records_count_id(&r, want[i].id), want[i].handler_calls);
		CHECK_INT(want[i].found, want[i].reason != NULL ? 1 : 0);
		snprintf(buf, sizeof(buf), " acked %s ", want[i].id);
		CHECK_INT(e2e_file_count(p.log, buf), want[i].reason != NULL ? 0 : 1);
		if (want[i].reason != NULL) {
			snprintf(buf, sizeof(buf), "dead-lettered %s (%s): %s", want[i].id,
			         want[i].subject, want[i].reason);
			CHECK_INT(e2e_file_count(p.log, buf), 1);
		}
	}
	/* Accounting: 6 published = 1 acked + 5 dead letters + 0 pending;
	 * no original is left in the work stream. */
	CHECK_INT(e2e_stream_msgs_checked(&env, "TASKS"), 0);
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), 5);
	printf("# dead letters: 6 published = 1 acked + 5 in DLQ + 0 pending\n");
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

/* ----- 7. taskjet check --nats reports drift ----- */

static const char check_routes[] =
    "[ { \"name\": \"alpha\", \"stream\": \"TASKS\", \"subject\": "
    "\"tasks.alpha\", \"plugin\": \"fx_behave\", \"max_attempts\": %d, "
    "\"fetch_wait\": \"200ms\" } ]";

static int64_t
consumer_max_deliver(void)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	int64_t v = -1;

	if (js_GetConsumerInfo(&ci, env.js, "TASKS", "taskjet-alpha", NULL, &jerr) == NATS_OK) {
		v = ci->Config->MaxDeliver;
		jsConsumerInfo_Destroy(ci);
	}
	return v;
}

TEST(check_reports_drift_and_matches)
{
	char routes[1024], nats_opt[128], out[400];
	struct e2e_proc p = { 0 };
	char *text = NULL;

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(routes, sizeof(routes), check_routes, 5);
	CHECK_INT(e2e_write_config(&env, "", routes), 0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;
	snprintf(nats_opt, sizeof(nats_opt), "--nats=%s", env.srv.url);
	snprintf(out, sizeof(out), "%s/check.out", env.dir);

	CHECK_INT(e2e_taskjet(out, "check", "-c", env.config, nats_opt, NULL), 0);
	text = e2e_file_read(out);
	CHECK_CONTAINS(text, "server topology matches the config");
	free(text);

	snprintf(routes, sizeof(routes), check_routes, 7);
	CHECK_INT(e2e_write_config(&env, "", routes), 0);
	CHECK_INT(e2e_taskjet(out, "check", "-c", env.config, nats_opt, NULL), 1);
	text = e2e_file_read(out);
	CHECK_CONTAINS(text, "consumer TASKS/taskjet-alpha: max_deliver 5 -> 7");
	CHECK_CONTAINS(text, "server topology differs");
	if (testing_failed() && text != NULL)
		printf("# check said:\n%s", text);
	free(text);
	/* check changes nothing on the server. */
	CHECK_INT(consumer_max_deliver(), 5);

	snprintf(routes, sizeof(routes), check_routes, 5);
	CHECK_INT(e2e_write_config(&env, "", routes), 0);
	CHECK_INT(e2e_taskjet(out, "check", "-c", env.config, nats_opt, NULL), 0);
out:
	e2e_teardown(&env);
}

/* ----- 5. a slow batch: waiting tasks are kept alive ----- */

#define SLOW_N 6

static bool
slow_done(void *arg)
{
	return e2e_records_count_now(env.record) >= SLOW_N &&
	       e2e_settled(&env, "TASKS", "taskjet-slow");
}

/*
 * One worker fetches all six tasks in one batch and handles them 400 ms
 * each, 2.4 s in all, with a 1 s ack_wait: the last ones wait in the batch
 * well past their ack deadline. Unless they are kept alive, the server
 * redelivers them and they are handled twice.
 */
TEST(a_slow_batch_is_not_redelivered_while_it_waits)
{
	static const char routes[] =
	    "[ { \"name\": \"slow\", \"stream\": \"TASKS\", \"subject\": "
	    "\"tasks.slow\", \"plugin\": \"fx_behave\", \"concurrency\": 1, "
	    "\"batch\": 16, \"ack_wait\": \"1s\", \"fetch_wait\": \"200ms\", "
	    "\"config\": { \"sleep_ms\": 400, \"record_file\": \"%s\" } } ]";
	char buf[1024], id[32];
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 };

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(buf, sizeof(buf), routes, env.record);
	CHECK_INT(e2e_write_config(&env, "", buf), 0);
	/* A first run creates the topology; the tasks then wait for the
	 * second, so one fetch takes them all. */
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	e2e_stop_checked(&p, STOP_MS, NULL);
	for (int i = 0; i < SLOW_N && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "s-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.slow", "{}", id, NULL, NULL), 0);
	}
	memset(&p, 0, sizeof(p));
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	CHECK_TRUE(e2e_wait_for(slow_done, NULL, 10000));
	/* Past the point where a redelivery of the last task would land. */
	e2e_sleep_ms(1200);
	e2e_stop_checked(&p, STOP_MS, NULL);

	/* Accounting: 6 published = 6 handled once, on attempt 1 + 0 DLQ + 0 pending. */
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	CHECK_INT(r.count, SLOW_N);
	CHECK_INT(e2e_records_unique(&r), SLOW_N);
	for (size_t i = 0; i < r.count; i++)
		CHECK_INT(r.v[i].attempt, 1);
	CHECK_TRUE(e2e_settled(&env, "TASKS", "taskjet-slow"));
	CHECK_INT(e2e_stream_msgs_checked(&env, "TASKS"), 0);
	CHECK_INT(e2e_stream_msgs_checked(&env, "DLQ"), 0);
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

int
main(void)
{
	bool must_fail;

	if (!nats_server_available("taskjet run end to end", &must_fail))
		return must_fail ? 1 : 0;
	RUN(happy_path_every_task_once_over_three_routes);
	RUN(retry_then_success_with_measured_backoff);
	RUN(dead_letters_carry_every_header_and_the_original);
	RUN(check_reports_drift_and_matches);
	RUN(a_slow_batch_is_not_redelivered_while_it_waits);
	nats_Close();
	return testing_done();
}
