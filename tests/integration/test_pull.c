/* SPDX-License-Identifier: MIT */
/*
 * The pull engine against a real server: requests are pipelined (several
 * wait at the server), what a route holds is bounded by its window, a free
 * worker takes the next task (a slow one delays nobody), the automatic
 * look-ahead grows for quick tasks and stays small for slow ones, and the route
 * recovers from a deleted consumer (not ready, with the reason, until it
 * is back), a server frozen past its heartbeats, and a consumer whose
 * MaxWaiting refuses our requests. Every test accounts for every task.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/workers.h"
#include "js_fixture.h"
#include "nats/jetstream.h"
#include "nats/natsconn.h"
#include "nats_server.h"
#include "task/metrics.h"
#include "testing.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_TASKS 4096

static struct nats_server server;
static struct natsconn *admin;
static struct js_fixture fx;

static struct {
	pthread_mutex_t lock;
	unsigned acked[MAX_TASKS]; /* by stream seq */
	int64_t done_ms[MAX_TASKS];
	unsigned acks;
	int sleep_first_ms; /* the task with seq 1 sleeps this long */
	int sleep_each_ms;
} st;

static int
deliver(void *ctx, struct tj_task *task)
{
	uint64_t seq = task->stream_seq;

	if (seq == 1 && st.sleep_first_ms > 0)
		clock_sleep_ms(st.sleep_first_ms);
	else if (st.sleep_each_ms > 0)
		clock_sleep_ms(st.sleep_each_ms);
	if (task->backend->ops->ack(task->backend, task) != 0)
		return -EIO;
	pthread_mutex_lock(&st.lock);
	if (seq < MAX_TASKS) {
		st.acked[seq]++;
		st.done_ms[seq] = clock_mono_ms();
	}
	st.acks++;
	pthread_mutex_unlock(&st.lock);
	return 0;
}

/* .metrics is set in main: the consumer reports its window there. */
static struct backend_sink sink = { .deliver = deliver, .ctx = &st };

struct engine_up {
	struct backend *b;
	struct workers *w;
};

static void
state_reset(void)
{
	pthread_mutex_lock(&st.lock);
	memset(st.acked, 0, sizeof(st.acked));
	memset(st.done_ms, 0, sizeof(st.done_ms));
	st.acks = 0;
	st.sleep_first_ms = 0;
	st.sleep_each_ms = 0;
	pthread_mutex_unlock(&st.lock);
}

static void
fresh_streams(void)
{
	js_DeleteStream(natsconn_js(admin), "TASKS", NULL, NULL);
	js_DeleteStream(natsconn_js(admin), "DLQ", NULL, NULL);
	js_DeleteStream(natsconn_js(admin), "TASKJET_ADVISORIES", NULL, NULL);
}

static int
up(struct engine_up *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	rc = js_backend_open(&fx.cfg, NULL, &e->b);
	if (rc == 0)
		rc = backend_ensure_topology(e->b, false, NULL, NULL);
	if (rc == 0)
		rc = e->b->ops->start(e->b, &fx.router, &sink);
	if (rc == 0)
		rc = workers_start(e->b, &fx.router, &sink, &e->w);
	return rc;
}

static void
down(struct engine_up *e)
{
	if (e->b == NULL)
		return;
	e->b->ops->request_stop(e->b);
	CHECK_INT(workers_wait(e->w, 5000), 0);
	CHECK_INT(e->b->ops->wait(e->b, 5000), 0);
	workers_destroy(e->w);
	backend_destroy(e->b);
}

static void
publish(int n)
{
	for (int i = 0; i < n; i++) {
		char id[32];
		jsPubOptions po;

		snprintf(id, sizeof(id), "t-%d-%" PRId64, i, clock_mono_ms());
		jsPubOptions_Init(&po);
		po.MsgId = id;
		CHECK_INT(js_Publish(NULL, natsconn_js(admin), "tasks.t", "x", 1, &po, NULL),
		          NATS_OK);
	}
}

static bool
acked_at_least(void *arg)
{
	unsigned want = *(unsigned *)arg, got;

	pthread_mutex_lock(&st.lock);
	got = st.acks;
	pthread_mutex_unlock(&st.lock);
	return got >= want;
}

static void
wait_acked(unsigned n, int64_t timeout_ms)
{
	CHECK_TRUE(js_wait_for(acked_at_least, &n, timeout_ms));
}

/* The consumer holds nothing: no task pending, none unacknowledged. */
static void
check_consumer_empty(void)
{
	jsConsumerInfo *ci = NULL;

	for (int64_t end = clock_mono_ms() + 5000; clock_mono_ms() < end; clock_sleep_ms(50)) {
		jsConsumerInfo_Destroy(ci);
		ci = NULL;
		if (js_GetConsumerInfo(&ci, natsconn_js(admin), "TASKS", "taskjet-work", NULL,
		                       NULL) == NATS_OK &&
		    ci->NumPending == 0 && ci->NumAckPending == 0)
			break;
	}
	CHECK_TRUE(ci != NULL && ci->NumPending == 0 && ci->NumAckPending == 0);
	jsConsumerInfo_Destroy(ci);
}

/* Every task 1..n acked at least once, and the consumer holds nothing. */
static void
check_all_acked(unsigned n)
{
	unsigned missing = 0;

	pthread_mutex_lock(&st.lock);
	for (unsigned i = 1; i <= n; i++)
		missing += st.acked[i] == 0;
	pthread_mutex_unlock(&st.lock);
	CHECK_INT(missing, 0);
	check_consumer_empty();
}

static int64_t
num_waiting(void)
{
	jsConsumerInfo *ci = NULL;
	int64_t n = -1;

	if (js_GetConsumerInfo(&ci, natsconn_js(admin), "TASKS", "taskjet-work", NULL, NULL) ==
	    NATS_OK)
		n = ci->NumWaiting;
	jsConsumerInfo_Destroy(ci);
	return n;
}

static bool
waiting_at_least_2(void *arg)
{
	return num_waiting() >= 2;
}

TEST(pull_requests_are_pipelined)
{
	struct engine_up e;

	state_reset();
	fresh_streams();
	fx.route.batch = 10;
	fx.route.prefetch = 40;
	fx.route.concurrency = 1;
	fx.route.fetch_wait_ms = 5000;
	if (up(&e) != 0) {
		testing_fail(__FILE__, __LINE__, "engine did not start");
		goto out;
	}
	/* Idle with room for 41: four requests of 10 wait at the server. */
	CHECK_TRUE(js_wait_for(waiting_at_least_2, NULL, 5000));
	CHECK_RANGE(num_waiting(), 2, 5);
	publish(100);
	wait_acked(100, 10000);
	check_all_acked(100);
out:
	down(&e);
}

static int64_t
ack_pending(void)
{
	jsConsumerInfo *ci = NULL;
	int64_t n = -1;

	if (js_GetConsumerInfo(&ci, natsconn_js(admin), "TASKS", "taskjet-work", NULL, NULL) ==
	    NATS_OK)
		n = ci->NumAckPending;
	jsConsumerInfo_Destroy(ci);
	return n;
}

TEST(what_a_route_holds_is_bounded_by_its_window)
{
	struct engine_up e;
	int64_t most = 0;

	state_reset();
	fresh_streams();
	st.sleep_each_ms = 20;
	fx.route.batch = 4;
	fx.route.prefetch = 6;
	fx.route.concurrency = 2;
	fx.route.fetch_wait_ms = 1000;
	if (up(&e) != 0) {
		testing_fail(__FILE__, __LINE__, "engine did not start");
		goto out;
	}
	publish(60);
	/* Delivered and not yet acked, sampled while it works: the route
	 * holds at most concurrency + prefetch = 8; the server may count up to
	 * one more round of tasks whose acks are still in the client's
	 * buffer (acks are flushed within about a millisecond). */
	for (int64_t end = clock_mono_ms() + 10000; st.acks < 60 && clock_mono_ms() < end;
	     clock_sleep_ms(5)) {
		int64_t n = ack_pending();

		if (n > most)
			most = n;
	}
	printf("# most held at once: %" PRId64 " (window 8)\n", most);
	CHECK_RANGE(most, 1, 8 + 2);
	wait_acked(60, 10000);
	check_all_acked(60);
out:
	down(&e);
}

/* Sampled every 5 ms until `n` acks are in (or 20 s): the most the
 * consumer held delivered and unacknowledged (the server's count), and
 * the widest window the route reported. */
static int64_t
most_held_until_acked(unsigned n, uint64_t *widest_r)
{
	int64_t most = 0;

	*widest_r = 0;
	for (int64_t end = clock_mono_ms() + 20000; clock_mono_ms() < end; clock_sleep_ms(5)) {
		int64_t held = ack_pending();
		uint64_t window = metrics_window(sink.metrics, 0);
		unsigned acks;

		if (held > most)
			most = held;
		if (window > *widest_r)
			*widest_r = window;
		pthread_mutex_lock(&st.lock);
		acks = st.acks;
		pthread_mutex_unlock(&st.lock);
		if (acks >= n)
			break;
	}
	return most;
}

TEST(the_automatic_look_ahead_grows_for_quick_tasks_only)
{
	struct engine_up e;
	int64_t slow;
	uint64_t quick_window, slow_window;

	state_reset();
	fresh_streams();
	fx.route.batch = 4;
	fx.route.prefetch = 8; /* the floor: window 8 + 8; the cap 8 + 16 x 4 */
	fx.route.prefetch_auto = true;
	fx.route.concurrency = 8;
	fx.route.fetch_wait_ms = 500; /* requests expire within 2 x 500 ms */
	/* A backlog first (topology, then stop), so the drain runs at the
	 * engine's own pace: 1 ms tasks, up to 8,000 a second. */
	if (up(&e) != 0) {
		testing_fail(__FILE__, __LINE__, "engine did not start");
		goto out;
	}
	down(&e);
	publish(4000);
	st.sleep_each_ms = 1;
	if (up(&e) != 0) {
		testing_fail(__FILE__, __LINE__, "engine did not restart");
		goto out;
	}
	(void)most_held_until_acked(4000, &quick_window);
	wait_acked(4000, 20000);
	check_all_acked(4000);
	/* Quiet for longer than a request lives (twice fetch_wait at most):
	 * the window is back at its floor and the requests sent for the
	 * larger one have expired. Then slow tasks. */
	clock_sleep_ms(1500);
	CHECK_INT(metrics_window(sink.metrics, 0), 16);
	state_reset();
	st.sleep_each_ms = 20;
	publish(60);
	slow = most_held_until_acked(60, &slow_window);
	printf("# window up to %" PRIu64 " for 1 ms tasks, up to %" PRIu64 " for 20 ms ones, "
	       "which the server saw at most %" PRId64 " of at once (floor 16, cap 72)\n",
	       quick_window, slow_window, slow);
	/* 1 ms tasks: above 400 a second, 20 ms of work is more than the
	 * floor's 8; above 3,200 a second the cap holds it at 72. 20 ms
	 * tasks, 400 a second at most: the floor, and the server may count
	 * one more round of tasks whose acks are still in the client's
	 * buffer (a window of 72 left behind would have let all 60 out). */
	CHECK_RANGE(quick_window, 17, 72);
	CHECK_INT(slow_window, 16);
	CHECK_RANGE(slow, 1, 16 + 8);
	wait_acked(60, 10000);
	check_consumer_empty(); /* seqs 4001..4060: past st.acked, counted */
out:
	down(&e);
	fx.route.prefetch_auto = false;
}

TEST(a_slow_task_delays_nobody_queued_behind_it)
{
	struct engine_up e;
	int64_t slow_done, last_fast = 0;

	state_reset();
	fresh_streams();
	st.sleep_first_ms = 1500;
	fx.route.batch = 16;
	fx.route.prefetch = 32;
	fx.route.concurrency = 2;
	fx.route.fetch_wait_ms = 1000;
	if (up(&e) != 0) {
		testing_fail(__FILE__, __LINE__, "engine did not start");
		goto out;
	}
	publish(20);
	wait_acked(20, 10000);
	pthread_mutex_lock(&st.lock);
	slow_done = st.done_ms[1];
	for (int i = 2; i <= 20; i++)
		if (st.done_ms[i] > last_fast)
			last_fast = st.done_ms[i];
	pthread_mutex_unlock(&st.lock);
	/* The other worker took the 19 others while seq 1 slept. */
	CHECK_TRUE(last_fast > 0 && last_fast < slow_done);
	check_all_acked(20);
out:
	down(&e);
}

static bool
not_ready(void *arg)
{
	struct backend *b = arg;
	char why[256];

	return !b->ops->ready(b, 1000, why, sizeof(why));
}

static bool
ready(void *arg)
{
	struct backend *b = arg;
	char why[256];

	return b->ops->ready(b, 1000, why, sizeof(why));
}

TEST(a_deleted_consumer_makes_the_route_not_ready_until_it_is_back)
{
	struct engine_up e;
	char why[256] = "";

	state_reset();
	fresh_streams();
	fx.route.batch = 8;
	fx.route.prefetch = 16;
	fx.route.concurrency = 1;
	fx.route.fetch_wait_ms = 1000;
	if (up(&e) != 0) {
		testing_fail(__FILE__, __LINE__, "engine did not start");
		goto out;
	}
	CHECK_TRUE(js_wait_for(ready, e.b, 5000));
	CHECK_INT(js_DeleteConsumer(natsconn_js(admin), "TASKS", "taskjet-work", NULL, NULL),
	          NATS_OK);
	CHECK_TRUE(js_wait_for(not_ready, e.b, 5000));
	e.b->ops->ready(e.b, 1000, why, sizeof(why));
	CHECK_CONTAINS(why, "taskjet-work");
	/* Recreated (by an operator or another engine): pulls resume. */
	CHECK_INT(backend_ensure_topology(e.b, false, NULL, NULL), 0);
	publish(30);
	wait_acked(30, 15000);
	CHECK_TRUE(js_wait_for(ready, e.b, 5000));
	check_all_acked(30);
out:
	down(&e);
}

TEST(a_server_frozen_past_its_heartbeats_loses_nothing)
{
	struct engine_up e;

	state_reset();
	fresh_streams();
	fx.route.batch = 10;
	fx.route.prefetch = 20;
	fx.route.concurrency = 2;
	fx.route.fetch_wait_ms = 1000; /* heartbeats every 250 ms */
	if (up(&e) != 0) {
		testing_fail(__FILE__, __LINE__, "engine did not start");
		goto out;
	}
	publish(50);
	wait_acked(50, 10000);
	/* Frozen for 4 heartbeats: the engine gives its requests up and asks
	 * again; the old ones may still deliver when it thaws. */
	kill(server.pid, SIGSTOP);
	clock_sleep_ms(1200);
	kill(server.pid, SIGCONT);
	publish(150);
	wait_acked(200, 20000);
	check_all_acked(200);
out:
	down(&e);
}

TEST(a_consumer_refusing_extra_requests_still_gets_everything_done)
{
	struct engine_up e;
	jsConsumerConfig cc;
	jsConsumerInfo *ci = NULL;

	state_reset();
	fresh_streams();
	fx.route.batch = 5;
	fx.route.prefetch = 40; /* wants 8 requests in flight */
	fx.route.concurrency = 1;
	fx.route.fetch_wait_ms = 1000;
	if (up(&e) != 0) {
		testing_fail(__FILE__, __LINE__, "engine did not start");
		goto out;
	}
	/* The same durable, but MaxWaiting 2 (not updatable in place). */
	js_DeleteConsumer(natsconn_js(admin), "TASKS", "taskjet-work", NULL, NULL);
	jsConsumerConfig_Init(&cc);
	cc.Durable = "taskjet-work";
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = (int64_t)30 * 1000 * 1000 * 1000;
	cc.MaxDeliver = fx.route.max_attempts;
	cc.FilterSubject = "tasks.>";
	cc.MaxWaiting = 2;
	CHECK_INT(js_AddConsumer(&ci, natsconn_js(admin), "TASKS", &cc, NULL, NULL), NATS_OK);
	jsConsumerInfo_Destroy(ci);
	publish(100);
	wait_acked(100, 20000);
	check_all_acked(100);
out:
	down(&e);
}

int
main(void)
{
	bool must_fail;
	int rc;

	if (!nats_server_available("pull", &must_fail))
		return must_fail ? 1 : 0;
	log_setup(TJ_LOG_ERR, LOG_FORMAT_TEXT, NULL);
	pthread_mutex_init(&st.lock, NULL);
	rc = nats_server_start(&server);
	if (rc == 0) {
		js_fixture_init(&fx, server.url);
		rc = metrics_create(&fx.router, &sink.metrics);
	}
	if (rc == 0)
		rc = natsconn_open(&fx.cfg.nats, NULL, NULL, &admin);
	if (rc != 0) {
		printf("Bail out! cannot start/connect nats-server: %d\n", rc);
		nats_server_cleanup(&server);
		return 1;
	}
	RUN(pull_requests_are_pipelined);
	RUN(what_a_route_holds_is_bounded_by_its_window);
	RUN(the_automatic_look_ahead_grows_for_quick_tasks_only);
	RUN(a_slow_task_delays_nobody_queued_behind_it);
	RUN(a_deleted_consumer_makes_the_route_not_ready_until_it_is_back);
	RUN(a_server_frozen_past_its_heartbeats_loses_nothing);
	RUN(a_consumer_refusing_extra_requests_still_gets_everything_done);
	natsconn_close(admin, 1000);
	nats_server_cleanup(&server);
	natsconn_library_shutdown(5000);
	metrics_destroy(sink.metrics);
	pthread_mutex_destroy(&st.lock);
	return testing_done();
}
