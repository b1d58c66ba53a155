/* SPDX-License-Identifier: MIT */
/*
 * Reliability: a downstream outage (docs/reliability.md, "A downstream
 * outage"). Route "flaky" answers TJ_RETRY to every task while an outage
 * file exists (fx_ledger's outage_file); its retries are naks with a
 * delay, and each holds one of the consumer's max_ack_pending slots for
 * the whole delay, so the server soon hands the route nothing new. Route
 * "steady" beside it must keep flowing. The test checks that
 *   - the route is held at max_ack_pending: /metrics says 1 in
 *     taskjet_route_held_at_max_ack_pending, /readyz stays 200 and names
 *     the route in "held", the engine logs it; the rest of the route's
 *     tasks wait in the stream;
 *   - "steady" handles every task published during the outage, each
 *     within a few seconds (the worst latency is printed);
 *   - once the outage ends the route recovers: the time to its first
 *     success, to held being cleared and to the backlog being done are
 *     printed, and bounded by the retry delay (backoff max x (1 +
 *     jitter)) plus slack;
 *   - nothing is lost or dead-lettered on either route.
 * The outage lasts TASKJET_REL_OUTAGE_S seconds (default 20).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_client.h"
#include "run_harness.h"
#include "testing.h"

#define READY_MS 20000
#define STOP_MS 30000

#define FLAKY_TASKS 200
#define MAX_ACK_PENDING 40
#define BACKOFF_MAX_MS 4000
#define JITTER 0.2
#define STEADY_PER_TICK 5 /* published every TICK_MS during the outage */
#define TICK_MS 500
#define STEADY_MAX_LATENCY_MS 5000
/* Recovery: the last retry delay (at most backoff max x (1 + jitter))
 * plus this, for the pull, the handler and a busy machine. */
#define RECOVERY_SLACK_MS 5000

static struct e2e env;
static int http_port;
static char outage_file[320];

/* The value of one /metrics series, or -1 if absent or unreadable. */
static double
metric(const char *series)
{
	char *body = NULL, *at;
	double v = -1;

	if (http_get(http_port, "/metrics", 3000, &body) == 200 && body != NULL &&
	    (at = strstr(body, series)) != NULL)
		v = strtod(at + strlen(series), NULL);
	free(body);
	return v;
}

#define HELD_SERIES                                                               \
	"taskjet_route_held_at_max_ack_pending{route=\"flaky\",stream=\"TASKS\"," \
	"consumer=\"taskjet-flaky\"}"

static bool
held_is(void *arg)
{
	return metric(HELD_SERIES " ") == *(double *)arg;
}

/* /readyz's body contains `arg`. */
static bool
readyz_has(void *arg)
{
	char *body = NULL;
	bool has = http_get(http_port, "/readyz", 2000, &body) == 200 && body != NULL &&
	           strstr(body, arg) != NULL;

	free(body);
	return has;
}

static bool
readyz_lacks_held(void *arg)
{
	char *body = NULL;
	bool ok = http_get(http_port, "/readyz", 2000, &body) == 200 && body != NULL &&
	          strstr(body, "\"held\"") == NULL;

	free(body);
	return ok;
}

/* Done lines for a subject so far. */
static size_t
done_for(const char *subject)
{
	struct e2e_records r;
	size_t n = 0;

	if (e2e_records_read(env.record, &r) != 0)
		return 0;
	for (size_t i = 0; i < r.count; i++)
		n += r.v[i].done && strcmp(r.v[i].subject, subject) == 0;
	e2e_records_free(&r);
	return n;
}

static bool
flaky_all_done(void *arg)
{
	return done_for("tasks.flaky") >= FLAKY_TASKS;
}

struct steady_wait {
	size_t want;
};

static bool
steady_done(void *arg)
{
	return done_for("tasks.steady") >= ((struct steady_wait *)arg)->want;
}

static bool
settled_both(void *arg)
{
	return e2e_settled(&env, "TASKS", "taskjet-flaky") &&
	       e2e_settled(&env, "TASKS", "taskjet-steady");
}

TEST(outage_holds_one_route_and_the_others_flow)
{
	static const char routes[] =
	    "[ { \"name\": \"flaky\", \"stream\": \"TASKS\", \"subject\": \"tasks.flaky\", "
	    "\"plugin\": \"fx_ledger\", \"concurrency\": 4, \"batch\": 8, \"prefetch\": 16, "
	    "\"max_ack_pending\": %d, \"max_attempts\": 1000, \"ack_wait\": \"5s\", "
	    "\"fetch_wait\": \"500ms\", \"backoff\": { \"initial\": \"500ms\", "
	    "\"multiplier\": 2, \"max\": \"%dms\", \"jitter\": %g }, "
	    "\"config\": { \"record_file\": \"%s\", \"outage_file\": \"%s\" } },\n"
	    "  { \"name\": \"steady\", \"stream\": \"TASKS\", \"subject\": \"tasks.steady\", "
	    "\"plugin\": \"fx_ledger\", \"concurrency\": 2, \"ack_wait\": \"5s\", "
	    "\"fetch_wait\": \"500ms\", "
	    "\"config\": { \"record_file\": \"%s\", \"sleep_ms\": 5 } } ]";
	char buf[2048], *body = NULL, *rz = NULL;
	struct e2e_proc p = { 0 };
	struct e2e_tally tf = { 0 }, ts = { 0 };
	struct e2e_records r = { 0 };
	long long steady_pub_at[4096] = { 0 };
	size_t steady_n = 0, held_at_pending = 0;
	long long outage_end = 0, first_ok = 0, worst_latency = 0;
	int64_t t0, t_held = -1, outage_ms, t_end = 0, t_unheld = -1, t_drained = -1;
	uint64_t pending = 0, ack_pending = 0;
	double one = 1, zero = 0;
	int outage_s = 20;
	const char *v = getenv("TASKJET_REL_OUTAGE_S");

	if (v != NULL && atoi(v) >= 5 && atoi(v) <= 600)
		outage_s = atoi(v);
	outage_ms = (int64_t)outage_s * 1000;
	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(outage_file, sizeof(outage_file), "%s/outage", env.dir);
	CHECK_INT(testing_write_file(outage_file, "down\n", 0644), 0);
	snprintf(buf, sizeof(buf), routes, MAX_ACK_PENDING, BACKOFF_MAX_MS, JITTER, env.record,
	         outage_file, env.record);
	CHECK_INT(e2e_write_config(&env, "\"http\": { \"listen\": \"127.0.0.1:0\" },", buf), 0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	if (testing_failed())
		goto out;
	http_port = e2e_http_port(&p);
	CHECK_TRUE(http_port > 0);

	/* The outage starts with the route's backlog. */
	t0 = e2e_now_ms();
	CHECK_INT(e2e_publish_many(&env, "tasks.flaky", "f", 0, FLAKY_TASKS), 0);
	if (testing_failed())
		goto stop;
	CHECK_TRUE(e2e_wait_for(held_is, &one, 15000));
	t_held = e2e_now_ms() - t0;
	/* Held: the server has max_ack_pending out, the rest waits in the
	 * stream; the worker stays ready and says which route is held. */
	CHECK_INT(e2e_consumer_pending(&env, "TASKS", "taskjet-flaky", &pending, &ack_pending), 0);
	CHECK_INT(ack_pending, MAX_ACK_PENDING);
	CHECK_TRUE(pending >= FLAKY_TASKS - MAX_ACK_PENDING);
	held_at_pending = (size_t)pending;
	CHECK_TRUE(
	    e2e_wait_for(readyz_has, "\"held\":\"route flaky: held at max_ack_pending", 5000));
	CHECK_INT(http_get(http_port, "/readyz", 2000, &rz), 200);
	CHECK_CONTAINS(rz, "\"status\":\"ready\"");
	CHECK_CONTAINS(rz, "(40 of 40 deliveries unacknowledged");
	CHECK_TRUE(metric("taskjet_consumer_max_ack_pending{route=\"flaky\",stream=\"TASKS\","
	                  "consumer=\"taskjet-flaky\"} ") == MAX_ACK_PENDING);
	CHECK_TRUE(metric("taskjet_route_held_at_max_ack_pending{route=\"steady\",stream=\"TASKS\","
	                  "consumer=\"taskjet-steady\"} ") == 0);
	if (testing_failed())
		goto stop;

	/* The other route keeps flowing for the rest of the outage. */
	while (e2e_now_ms() - t0 < outage_ms && steady_n + STEADY_PER_TICK <= 4096) {
		long long at = e2e_wall_ms();

		CHECK_INT(e2e_publish_many(&env, "tasks.steady", "s", steady_n, STEADY_PER_TICK),
		          0);
		for (size_t i = 0; i < STEADY_PER_TICK; i++)
			steady_pub_at[steady_n + i] = at;
		steady_n += STEADY_PER_TICK;
		e2e_sleep_ms(TICK_MS);
	}
	CHECK_TRUE(e2e_wait_for(steady_done, &(struct steady_wait){ steady_n }, 10000));
	/* Still held at the end of it, nothing of it done. */
	CHECK_TRUE(held_is(&one));
	CHECK_INT(done_for("tasks.flaky"), 0);

	/* The outage ends. */
	CHECK_INT(unlink(outage_file), 0);
	outage_end = e2e_wall_ms();
	t_end = e2e_now_ms();
	CHECK_TRUE(e2e_wait_for(held_is, &zero, 30000));
	t_unheld = e2e_now_ms() - t_end;
	if (e2e_wait_for(flaky_all_done, NULL, 60000))
		t_drained = e2e_now_ms() - t_end;
	CHECK_TRUE(t_drained >= 0);
	CHECK_TRUE(e2e_wait_for(settled_both, NULL, 20000));
	CHECK_TRUE(e2e_wait_for(readyz_lacks_held, NULL, 5000));
stop:
	e2e_stop_checked(&p, STOP_MS, NULL);
	if (testing_failed())
		goto out;

	/* Latencies and recovery, from the ledger's times. */
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	for (size_t i = 0; i < r.count; i++) {
		const struct e2e_rec *x = &r.v[i];

		if (!x->done)
			continue;
		if (strcmp(x->subject, "tasks.flaky") == 0 &&
		    (first_ok == 0 || x->at_ms < first_ok))
			first_ok = x->at_ms;
		if (strcmp(x->subject, "tasks.steady") == 0 && strncmp(x->id, "s-", 2) == 0) {
			size_t k = strtoul(x->id + 2, NULL, 10);

			if (k < steady_n && x->at_ms - steady_pub_at[k] > worst_latency)
				worst_latency = x->at_ms - steady_pub_at[k];
		}
	}
	CHECK_TRUE(first_ok >= outage_end);
	CHECK_RANGE(first_ok - outage_end, 0, BACKOFF_MAX_MS * (1 + JITTER) + RECOVERY_SLACK_MS);
	CHECK_RANGE(worst_latency, 0, STEADY_MAX_LATENCY_MS);
	CHECK_TRUE(e2e_file_count(p.log, "is held at max_ack_pending") >= 1);
	CHECK_TRUE(e2e_file_count(p.log, "is no longer held at max_ack_pending") >= 1);
	printf("# outage %d s: route flaky held at max_ack_pending %d %lld ms after its first "
	       "task (%zu more waiting in the stream); route steady handled %zu tasks meanwhile, "
	       "worst latency %lld ms\n",
	       outage_s, MAX_ACK_PENDING, (long long)t_held, held_at_pending, steady_n,
	       worst_latency);
	printf("# recovery after the outage: first task done after %lld ms, held cleared "
	       "after %lld ms, all %d done after %lld ms (retry delay at most %g ms)\n",
	       first_ok - outage_end, (long long)t_unheld, FLAKY_TASKS, (long long)t_drained,
	       BACKOFF_MAX_MS * (1 + JITTER));
	CHECK_INT(e2e_tally(&env, env.record, "TASKS", "f", FLAKY_TASKS, &tf), 0);
	CHECK_INT(e2e_tally(&env, env.record, "TASKS", "s", steady_n, &ts), 0);
	e2e_tally_print("outage, route flaky", &tf);
	e2e_tally_print("outage, route steady", &ts);
	CHECK_INT(tf.lost + ts.lost, 0);
	CHECK_INT(tf.dead + ts.dead, 0);
	CHECK_INT(tf.pending + ts.pending, 0);
	CHECK_INT(tf.handled, FLAKY_TASKS);
	CHECK_INT(ts.handled, steady_n);
out:
	if (testing_failed() && p.log[0] != '\0')
		e2e_proc_dump(&p);
	free(body);
	free(rz);
	e2e_records_free(&r);
	e2e_teardown(&env);
}

int
main(void)
{
	bool must_fail;

	if (!nats_server_available("reliability: downstream outage", &must_fail))
		return must_fail ? 1 : 0;
	RUN(outage_holds_one_route_and_the_others_flow);
	nats_Close();
	return testing_done();
}
