/* SPDX-License-Identifier: MIT */
/*
 * `taskjet run` while its nats-server is stopped (SIGTERM, then SIGKILL)
 * and restarted on the same port and store: the engine reconnects and
 * finishes the work. Accounting: published = handled and acked (unique
 * ids: a task whose ack died with the server is handled again) +
 * dead-lettered + still pending.
 *
 * After a SIGKILL, nats-server 2.9.10 can leave acked messages behind in
 * a work-queue stream ("ghosts", natsc.md §0.11): they stay below the
 * consumer's ack floor, are never redelivered, and still count in the
 * stream's Msgs. So there "pending" is what the consumer reports
 * (NumPending + NumAckPending), and every message still stored must be
 * one that was already handled; the ghost count is printed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_harness.h"
#include "testing.h"

#define READY_MS 15000
#define STOP_MS 20000
#define SRV_TASKS 200
#define SRV_CONCURRENCY 4
#define SRV_BATCH 8
#define OUTAGE_MS 1000

static struct e2e env;

static bool
some_handled(void *arg)
{
	return e2e_file_count(env.record, "tasks.srv") >= *(size_t *)arg;
}

/* Every task handled, and the consumer has nothing left to deliver or
 * to wait an ack for. The stream's own count is checked afterwards. */
static bool
consumer_done(void *arg)
{
	uint64_t pending = 1, ack_pending = 1;

	return e2e_records_unique_now(env.record) >= SRV_TASKS &&
	       e2e_consumer_pending(&env, "TASKS", "taskjet-srv", &pending, &ack_pending) == 0 &&
	       pending == 0 && ack_pending == 0;
}

/* Messages still stored in TASKS, each checked against the handled set. */
static uint64_t
count_ghosts(const struct e2e_records *r)
{
	uint64_t last = e2e_stream_last_seq(&env, "TASKS"), ghosts = 0;

	for (uint64_t seq = 1; seq <= last; seq++) {
		natsMsg *m = NULL;
		jsErrCode jerr = 0;
		const char *id = NULL;

		if (js_GetMsg(&m, env.js, "TASKS", seq, NULL, &jerr) != NATS_OK)
			continue; /* acked and removed */
		ghosts++;
		if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK ||
		    e2e_records_count_id(r, id) == 0)
			testing_fail(__FILE__, __LINE__,
			             "seq %llu (%s) is still stored but was never handled",
			             (unsigned long long)seq, id ? id : "no id");
		natsMsg_Destroy(m);
	}
	return ghosts;
}

static void
server_restart_case(int sig)
{
	static const char routes[] =
	    "[ { \"name\": \"srv\", \"stream\": \"TASKS\", \"subject\": "
	    "\"tasks.srv\", \"plugin\": \"fx_behave\", \"concurrency\": %d, "
	    "\"batch\": %d, \"max_attempts\": 10, \"ack_wait\": \"2s\", "
	    "\"fetch_wait\": \"200ms\", \"config\": { \"sleep_ms\": 10, "
	    "\"record_file\": \"%s\" } } ]";
	char buf[1024], id[32];
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 };
	size_t want_before = SRV_TASKS / 4, at_stop = 0, dups;
	uint64_t dlq = UINT64_MAX, msgs = UINT64_MAX, ghosts = 0;

	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(buf, sizeof(buf), routes, SRV_CONCURRENCY, SRV_BATCH, env.record);
	CHECK_INT(e2e_write_config(&env, "", buf), 0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	for (int i = 0; i < SRV_TASKS && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "s-%d", i);
		CHECK_INT(e2e_publish(&env, "tasks.srv", "{}", id, NULL, NULL), 0);
	}
	if (!testing_failed())
		CHECK_TRUE(e2e_wait_for(some_handled, &want_before, 15000));
	if (testing_failed())
		goto stop;

	CHECK_INT(nats_server_stop(&env.srv, sig), 0);
	at_stop = e2e_file_count(env.record, "tasks.srv");
	CHECK_TRUE(at_stop < SRV_TASKS); /* the outage is mid-run */
	e2e_sleep_ms(OUTAGE_MS);
	CHECK_INT(nats_server_restart(&env.srv), 0);
	if (testing_failed())
		goto stop;
	CHECK_TRUE(e2e_wait_for(consumer_done, NULL, 40000));
stop:
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	CHECK_TRUE(e2e_file_count(p.log, "reconnected to") >= 1);
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	CHECK_INT(e2e_stream_msgs(&env, "DLQ", &dlq), 0);
	CHECK_INT(e2e_stream_msgs(&env, "TASKS", &msgs), 0);
	ghosts = count_ghosts(&r);
	CHECK_INT(ghosts, msgs);
	if (sig == SIGTERM)
		CHECK_INT(msgs, 0); /* a clean stop keeps every ack */
	/* Accounting: published = unique handled (all acked: the consumer
	 * has nothing pending) + dead letters (none expected: every attempt
	 * succeeds and max_attempts is 10). */
	for (int i = 0; i < SRV_TASKS; i++) {
		snprintf(id, sizeof(id), "s-%d", i);
		CHECK_TRUE(e2e_records_count_id(&r, id) >= 1);
	}
	CHECK_INT(e2e_records_unique(&r) + dlq, SRV_TASKS);
	CHECK_INT(dlq, 0);
	dups = r.count - e2e_records_unique(&r);
	printf("# server %s after %zu handled, down %d ms: %d published = %zu "
	       "unique handled + %llu DLQ + 0 pending; %zu handled again; "
	       "%llu ghost message(s) left in the stream\n",
	       sig == SIGTERM ? "SIGTERM" : "SIGKILL", at_stop, OUTAGE_MS, SRV_TASKS,
	       e2e_records_unique(&r), (unsigned long long)dlq, dups, (unsigned long long)ghosts);
out:
	e2e_records_free(&r);
	e2e_teardown(&env);
}

TEST(server_sigterm_and_restart_mid_run)
{
	server_restart_case(SIGTERM);
}

TEST(server_sigkill_and_restart_mid_run)
{
	server_restart_case(SIGKILL);
}

int
main(void)
{
	bool must_fail;

	if (!nats_server_available("taskjet run server restart", &must_fail))
		return must_fail ? 1 : 0;
	RUN(server_sigterm_and_restart_mid_run);
	RUN(server_sigkill_and_restart_mid_run);
	nats_Close();
	return testing_done();
}
