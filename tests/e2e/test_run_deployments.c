/* SPDX-License-Identifier: MIT */
/*
 * Two deployments on one NATS account: two `taskjet run` with different
 * configs (own work streams, routes and DLQ subject prefixes) share the
 * DLQ stream and the MAX_DELIVERIES advisory capture stream. Whichever
 * starts last, both keep capturing their own advisories: a task of each
 * that runs out of deliveries ends in the DLQ with reason max_deliveries
 * under its own deployment's prefix, moved by its own engine.
 *
 * To run a task out of deliveries without killing an engine, the test
 * stops the engine (SIGSTOP) so that its pull requests lapse, takes the
 * task itself from the route's durable and never acks it (max_attempts
 * 1), keeps a pull request waiting so the server sends the advisory, and
 * lets the engine go on (SIGCONT).
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
#define SETTLE_MS 20000
/* Longer than a route's fetch_wait, so no pull request of a stopped
 * engine is still waiting. */
#define LAPSE_MS 1000

static struct e2e env;

struct deployment {
	const char *name; /* "a": stream TA, subject ta.work, prefix dlq-a */
	char stream[16];
	char subject[32];
	char consumer[32];
	char prefix[16];
	char config[320];
	char state[320];
	struct e2e_proc proc;
};

static void
deployment_init(struct deployment *d, const char *name)
{
	char upper[8];

	memset(d, 0, sizeof(*d));
	d->name = name;
	snprintf(upper, sizeof(upper), "%c", name[0] - 'a' + 'A');
	snprintf(d->stream, sizeof(d->stream), "T%s", upper);
	snprintf(d->subject, sizeof(d->subject), "t%s.work", name);
	snprintf(d->consumer, sizeof(d->consumer), "%s-worker", name);
	snprintf(d->prefix, sizeof(d->prefix), "dlq-%s", name);
	snprintf(d->config, sizeof(d->config), "%s/%s.json", env.dir, name);
	snprintf(d->state, sizeof(d->state), "%s/state-%s", env.dir, name);
}

/* Both share the account's DLQ and advisory streams (their defaults). */
static int
write_config(const struct deployment *d)
{
	FILE *fp = fopen(d->config, "w");
	int rc = 0;

	if (fp == NULL)
		return -errno;
	fprintf(fp,
	        "{\n"
	        "  \"nats\": { \"url\": \"%s\", \"name\": \"deployment-%s\" },\n"
	        "  \"plugin_dir\": \"%s\",\n"
	        "  \"state_dir\": \"%s\",\n"
	        "  \"worker_id\": \"%s\",\n"
	        "  \"log\": { \"level\": \"debug\" },\n"
	        "  \"http\": { \"listen\": \"\" },\n"
	        "  \"streams\": [ { \"name\": \"%s\", \"subjects\": [\"t%s.>\"] } ],\n"
	        "  \"dlq\": { \"subject_prefix\": \"%s\" },\n"
	        "  \"routes\": [ { \"name\": \"work\", \"stream\": \"%s\", \"subject\": \"%s\",\n"
	        "                \"consumer\": \"%s\", \"plugin\": \"fx_behave\",\n"
	        "                \"max_attempts\": 1, \"ack_wait\": \"1s\", \"batch\": 1,\n"
	        "                \"fetch_wait\": \"200ms\" } ]\n"
	        "}\n",
	        env.srv.url, d->name, e2e_plugin_dir(), d->state, d->name, d->stream, d->name,
	        d->prefix, d->stream, d->subject, d->consumer);
	if (fclose(fp) != 0)
		rc = -errno;
	return rc;
}

/* Take the next task of the deployment's route and never ack it; then
 * wait, with a pull request pending, past its ack_wait, so the server
 * gives up on it and sends MAX_DELIVERIES. True if the test got it. */
static bool
exhaust_one(const struct deployment *d)
{
	natsSubscription *sub = NULL;
	natsMsgList list = { 0 };
	jsSubOptions so;
	jsErrCode jerr = 0;
	bool got = false;

	jsSubOptions_Init(&so);
	so.Stream = d->stream;
	so.Consumer = d->consumer;
	if (js_PullSubscribe(&sub, env.js, NULL, NULL, NULL, &so, &jerr) != NATS_OK) {
		printf("# bind %s/%s: %s (jerr %d)\n", d->stream, d->consumer,
		       nats_GetLastError(NULL), (int)jerr);
		return false;
	}
	if (natsSubscription_Fetch(&list, sub, 1, 5000, NULL) == NATS_OK && list.Count == 1)
		got = true;
	natsMsgList_Destroy(&list);
	/* Delivery 1 of 1 times out after 1 s; the next pull request makes
	 * the server notice and send the advisory (nothing is delivered). */
	for (int i = 0; got && i < 3; i++) {
		memset(&list, 0, sizeof(list));
		natsSubscription_Fetch(&list, sub, 1, 1000, NULL);
		if (list.Count > 0) {
			printf("# %s: redelivered despite max_deliver 1\n", d->subject);
			got = false;
		}
		natsMsgList_Destroy(&list);
	}
	natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
	return got;
}

/* The DLQ letter on <prefix>.<subject>, with its reason; false if none. */
static bool
letter_reason(const struct deployment *d, char *reason, size_t len)
{
	char subject[64];
	natsMsg *m = NULL;
	const char *v = NULL;
	bool ok = false;

	snprintf(subject, sizeof(subject), "%s.%s", d->prefix, d->subject);
	if (js_GetLastMsg(&m, env.js, "DLQ", subject, NULL, NULL) != NATS_OK)
		return false;
	if (natsMsgHeader_Get(m, "Taskjet-Reason", &v) == NATS_OK) {
		snprintf(reason, len, "%s", v);
		ok = true;
	}
	natsMsg_Destroy(m);
	return ok;
}

/* Both letters written, both tasks deleted from their work streams and
 * both moves logged: the engine writes the letter first, then deletes,
 * then logs, so a check right after the letter appears can run ahead of
 * the rest. */
static bool
both_moved(void *arg)
{
	struct deployment *d = arg;
	char reason[64];
	uint64_t msgs = 1;

	for (int i = 0; i < 2; i++)
		if (!letter_reason(&d[i], reason, sizeof(reason)) ||
		    e2e_stream_msgs(&env, d[i].stream, &msgs) != 0 || msgs != 0 ||
		    e2e_file_count(d[i].proc.log, "moved to the DLQ after max deliveries") == 0)
			return false;
	return true;
}

TEST(two_deployments_both_capture_their_max_deliveries)
{
	struct deployment d[2];
	char reason[64], id[32];
	bool settled;

	if (!e2e_setup_checked(&env))
		return;
	deployment_init(&d[0], "a");
	deployment_init(&d[1], "b");
	for (int i = 0; i < 2; i++)
		CHECK_INT(write_config(&d[i]), 0);
	/* a first, then b: b's topology update must keep a's subjects. */
	for (int i = 0; i < 2; i++) {
		CHECK_INT(e2e_run_start_config(&env, d[i].config, &d[i].proc, READY_MS), 0);
		if (testing_failed()) {
			e2e_proc_dump(&d[i].proc);
			goto out;
		}
	}
	for (int i = 0; i < 2; i++)
		CHECK_INT(kill(d[i].proc.pid, SIGSTOP), 0);
	e2e_sleep_ms(LAPSE_MS);
	for (int i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "exhaust-%s", d[i].name);
		CHECK_INT(e2e_publish(&env, d[i].subject, "never acked", id, NULL, NULL), 0);
		CHECK_TRUE(exhaust_one(&d[i]));
	}
	for (int i = 0; i < 2; i++)
		CHECK_INT(kill(d[i].proc.pid, SIGCONT), 0);

	settled = e2e_wait_for(both_moved, d, SETTLE_MS);
	CHECK_TRUE(settled);
	for (int i = 0; i < 2; i++) {
		reason[0] = '\0';
		CHECK_TRUE(letter_reason(&d[i], reason, sizeof(reason)));
		CHECK_STR(reason, "max_deliveries");
		/* Moved by its own engine, and gone from its work stream. */
		CHECK_TRUE(e2e_file_count(d[i].proc.log, "moved to the DLQ after max deliveries") ==
		           1);
		CHECK_TRUE(e2e_stream_msgs_checked(&env, d[i].stream) == 0);
	}
	if (testing_failed())
		for (int i = 0; i < 2; i++)
			e2e_proc_dump(&d[i].proc);
out:
	for (int i = 0; i < 2; i++) {
		if (d[i].proc.pid > 0) {
			kill(d[i].proc.pid, SIGCONT);
			e2e_stop_checked(&d[i].proc, STOP_MS, NULL);
		}
	}
	e2e_teardown(&env);
}

int
main(void)
{
	bool must_fail;

	if (!nats_server_available("two deployments on one account", &must_fail))
		return must_fail ? 1 : 0;
	RUN(two_deployments_both_capture_their_max_deliveries);
	nats_Close();
	return testing_done();
}
