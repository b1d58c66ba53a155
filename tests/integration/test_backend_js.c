/* SPDX-License-Identifier: MIT */
/*
 * The JetStream backend against a real server: exactly-once delivery to
 * the callback, nak delay, dead letters with headers, term, publish dedupe,
 * max-deliveries advisories (also while the DLQ refuses letters and while
 * the server refuses the engine a load or a delete) and server restarts.
 * Every test accounts for every task: published = acked + dead-lettered +
 * still pending. The engine connects as user "engine", the test as
 * "admin"; reloading the server's config takes rights away and gives them
 * back under a running engine.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/workers.h"
#include "nats/jetstream.h"
#include "nats/topology.h"
#include "util/clock.h"
#include "js_fixture.h"
#include "util/log.h"
#include "nats_server.h"
#include "nats/natsconn.h"
#include "testing.h"

#define MAX_TASKS 2048

enum mode { MODE_ACK, MODE_NAK_ONCE, MODE_DLQ, MODE_NEVER_ACK, MODE_SLOW_ACK };

struct state {
	pthread_mutex_t lock;
	enum mode mode;
	int64_t nak_delay_ms;
	unsigned deliveries[MAX_TASKS]; /* by stream seq */
	unsigned acked[MAX_TASKS];
	int64_t first_ms[MAX_TASKS];
	int64_t second_ms[MAX_TASKS];
	uint32_t max_attempt;
	unsigned calls;
	unsigned acks;
	unsigned dead_letters;
	unsigned dead_letter_calls; /* the advisory reader's, through the sink */
	unsigned dead_letter_failures;
	unsigned bad_ids;
};

static struct nats_server server;
static struct natsconn *admin;
static char engine_pw[300], admin_pw[300];
static struct js_fixture fx;
static struct state st;

static void
state_reset(enum mode mode)
{
	pthread_mutex_destroy(&st.lock);
	memset(&st, 0, sizeof(st));
	pthread_mutex_init(&st.lock, NULL);
	st.mode = mode;
}

/* A record's subject and id, which it points at. */
struct letter_names {
	char subject[512];
	char msg_id[256];
};

static void
fill_letter(struct tj_task *task, struct dlq_record *rec, struct letter_names *names,
            const char *reason)
{
	memset(rec, 0, sizeof(*rec));
	snprintf(names->subject, sizeof(names->subject), "dlq.%s", task->subject);
	snprintf(names->msg_id, sizeof(names->msg_id), "dlq-%s-%" PRIu64, task->stream,
	         task->stream_seq);
	rec->subject = names->subject;
	rec->msg_id = names->msg_id;
	rec->headers[0] = (struct msg_header){ "Taskjet-Reason", reason };
	rec->headers[1] = (struct msg_header){ "Taskjet-Original-Stream", task->stream };
	rec->header_count = 2;
}

static int
process(void *ctx, struct tj_task *task)
{
	struct state *s = ctx;
	const struct backend_ops *ops = task->backend->ops;
	uint64_t seq = task->stream_seq;
	char want_id[64];
	int rc = 0;

	if (seq >= MAX_TASKS)
		return -ERANGE;
	snprintf(want_id, sizeof(want_id), "id-%" PRIu64, seq);
	pthread_mutex_lock(&s->lock);
	s->calls++;
	s->deliveries[seq]++;
	if (task->attempt > s->max_attempt)
		s->max_attempt = task->attempt;
	if (strcmp(task->id, want_id) != 0)
		s->bad_ids++;
	if (task->attempt == 1)
		s->first_ms[seq] = clock_mono_ms();
	else if (task->attempt == 2)
		s->second_ms[seq] = clock_mono_ms();
	pthread_mutex_unlock(&s->lock);

	switch (s->mode) {
	case MODE_SLOW_ACK:
		clock_sleep_ms(2);
		/* fall through */
	case MODE_ACK:
		rc = ops->ack(task->backend, task);
		break;
	case MODE_NAK_ONCE:
		if (task->attempt == 1)
			return ops->nak(task->backend, task, s->nak_delay_ms);
		rc = ops->ack(task->backend, task);
		break;
	case MODE_DLQ: {
		struct dlq_record rec;
		struct letter_names names;

		fill_letter(task, &rec, &names, "handler_failed");
		rc = ops->dead_letter(task->backend, task, &rec);
		if (rc == 0)
			rc = ops->term(task->backend, task);
		if (rc == 0) {
			pthread_mutex_lock(&s->lock);
			s->dead_letters++;
			pthread_mutex_unlock(&s->lock);
		}
		return rc;
	}
	case MODE_NEVER_ACK:
		return 0;
	}
	if (rc == 0) {
		pthread_mutex_lock(&s->lock);
		s->acks++;
		s->acked[seq]++;
		pthread_mutex_unlock(&s->lock);
	}
	return rc;
}

static int
dead_letter(void *ctx, struct tj_task *task, enum dlq_reason reason, const char *error)
{
	struct state *s = ctx;
	struct dlq_record rec;
	struct letter_names names;
	int rc;

	fill_letter(task, &rec, &names,
	            reason == DLQ_REASON_MAX_DELIVERIES ? "max_deliveries" : "other");
	rc = task->backend->ops->dead_letter(task->backend, task, &rec);
	/* No reply subject on a synthesized task: these must be no-ops. */
	if (rc == 0)
		rc = task->backend->ops->term(task->backend, task);
	pthread_mutex_lock(&s->lock);
	s->dead_letter_calls++;
	if (rc == 0)
		s->dead_letters++;
	else
		s->dead_letter_failures++;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static const struct backend_sink callbacks = { .deliver = process,
	                                       .dead_letter = dead_letter,
	                                       .ctx = &st };

/* Publish n tasks "tasks.t" with msg ids id-<seq> through the backend op
 * (the stream is fresh, so seq = 1..n). Returns how many were stored. */
static int
pub(struct backend *b, const char *subject, const char *data, const char *msg_id)
{
	return b->ops->publish(
	    b,
	    &(struct publish_msg){
	        .subject = subject, .data = data, .len = strlen(data), .msg_id = msg_id },
	    NULL);
}

static int
publish_tasks(struct backend *b, int n)
{
	char id[32], payload[64];
	int ok = 0;

	for (int i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
		if (pub(b, "tasks.t", payload, id) == 0)
			ok++;
	}
	return ok;
}

static void
fresh_topology(struct backend *b)
{
	js_DeleteStream(natsconn_js(admin), "TASKS", NULL, NULL);
	js_DeleteStream(natsconn_js(admin), fx.cfg.dlq.stream, NULL, NULL);
	js_DeleteStream(natsconn_js(admin), fx.cfg.dlq.advisory_stream, NULL, NULL);
	CHECK_INT(backend_ensure_topology(b, false, NULL, NULL), 0);
}

struct consumer_state {
	uint64_t pending, ack_pending, stream_msgs, dlq_msgs;
	bool ok;
};

static struct consumer_state
read_state(void)
{
	struct consumer_state cs = { 0 };
	jsConsumerInfo *ci = NULL;
	jsStreamInfo *si = NULL;

	if (js_GetConsumerInfo(&ci, natsconn_js(admin), "TASKS", "taskjet-work", NULL, NULL) !=
	    NATS_OK)
		return cs;
	cs.pending = ci->NumPending;
	cs.ack_pending = (uint64_t)ci->NumAckPending;
	jsConsumerInfo_Destroy(ci);
	if (js_GetStreamInfo(&si, natsconn_js(admin), "TASKS", NULL, NULL) != NATS_OK)
		return cs;
	cs.stream_msgs = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	si = NULL;
	if (js_GetStreamInfo(&si, natsconn_js(admin), fx.cfg.dlq.stream, NULL, NULL) != NATS_OK)
		return cs;
	cs.dlq_msgs = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	cs.ok = true;
	return cs;
}

static bool
drained(void *arg)
{
	struct consumer_state cs = read_state();

	return cs.ok && cs.pending == 0 && cs.ack_pending == 0;
}

static unsigned
unique_acked(int n)
{
	unsigned u = 0;

	pthread_mutex_lock(&st.lock);
	for (int i = 1; i <= n; i++)
		u += st.acked[i] > 0;
	pthread_mutex_unlock(&st.lock);
	return u;
}

/* published = acked + dead-lettered + still pending, or fail. */
static void
check_accounting(int published, int n)
{
	struct consumer_state cs = read_state();
	unsigned acked = unique_acked(n);

	CHECK_TRUE(cs.ok);
	if ((uint64_t)published != acked + cs.dlq_msgs + cs.pending + cs.ack_pending)
		testing_fail(__FILE__, __LINE__,
		             "published %d != acked %u + dlq %" PRIu64 " + pending %" PRIu64
		             " + ack pending %" PRIu64,
		             published, acked, cs.dlq_msgs, cs.pending, cs.ack_pending);
}

static struct workers *pool;

/* Start pulling and the worker threads that feed `process`. */
static int
start_all(struct backend *b)
{
	int rc = b->ops->start(b, &fx.router, &callbacks);

	if (rc == 0)
		rc = workers_start(b, &fx.router, &callbacks, &pool);
	return rc;
}

/* Stop as `taskjet run` does: stop taking in, let the workers finish,
 * then the backend's own threads; how many were left busy. */
static int
stop_all(struct backend *b, int64_t grace_ms)
{
	int left;

	b->ops->request_stop(b);
	left = workers_wait(pool, grace_ms);
	left += b->ops->wait(b, grace_ms);
	workers_destroy(pool);
	pool = NULL;
	return left;
}

static struct backend *
backend_up(bool split)
{
	struct backend *b = NULL;
	struct js_open_opts o = { .single_connection = !split };

	CHECK_INT(js_backend_open(&fx.cfg, &o, &b), 0);
	return b;
}

struct count_goal {
	unsigned *counter;
	unsigned goal;
};

static bool
reached(void *arg)
{
	struct count_goal *g = arg;
	unsigned v;

	pthread_mutex_lock(&st.lock);
	v = *g->counter;
	pthread_mutex_unlock(&st.lock);
	return v >= g->goal;
}

static void
delivers_exactly_once(bool split)
{
	const int n = 500;
	struct backend *b = backend_up(split);
	int published;

	if (b == NULL)
		return;
	state_reset(MODE_ACK);
	fresh_topology(b);
	published = publish_tasks(b, n);
	CHECK_INT(published, n);
	CHECK_INT(start_all(b), 0);
	CHECK_TRUE(js_wait_for(reached, &(struct count_goal){ &st.acks, n }, 20000));
	CHECK_INT(stop_all(b, 5000), 0);
	CHECK_TRUE(js_wait_for(drained, NULL, 5000));
	CHECK_INT(st.calls, n);
	CHECK_INT(st.acks, n);
	CHECK_INT(st.bad_ids, 0);
	CHECK_INT(st.max_attempt, 1);
	for (int i = 1; i <= n; i++)
		if (st.deliveries[i] != 1)
			testing_fail(__FILE__, __LINE__, "seq %d delivered %u times", i,
			             st.deliveries[i]);
	check_accounting(published, n);
	CHECK_INT(read_state().stream_msgs, 0);
	backend_destroy(b);
}

TEST(delivers_each_task_exactly_once)
{
	delivers_exactly_once(false);
}

TEST(delivers_each_task_exactly_once_split_ack)
{
	delivers_exactly_once(true);
}

TEST(nak_with_delay_redelivers_after_the_delay)
{
	const int n = 5;
	struct backend *b = backend_up(false);
	int published;

	if (b == NULL)
		return;
	state_reset(MODE_NAK_ONCE);
	st.nak_delay_ms = 400;
	fresh_topology(b);
	published = publish_tasks(b, n);
	CHECK_INT(start_all(b), 0);
	CHECK_TRUE(js_wait_for(reached, &(struct count_goal){ &st.acks, n }, 10000));
	CHECK_INT(stop_all(b, 5000), 0);
	CHECK_TRUE(js_wait_for(drained, NULL, 5000));
	CHECK_INT(st.max_attempt, 2);
	for (int i = 1; i <= n; i++) {
		CHECK_INT(st.deliveries[i], 2);
		CHECK_RANGE(st.second_ms[i] - st.first_ms[i], 400, 5000);
	}
	check_accounting(published, n);
	backend_destroy(b);
}

/* How many values `m` has under `key` in any case. */
static int
reserved_count(natsMsg *m, const char *key)
{
	const char **keys = NULL;
	int n = 0, count = 0;

	if (natsMsgHeader_Keys(m, &keys, &n) != NATS_OK)
		return 0;
	for (int i = 0; i < n; i++) {
		const char **vals = NULL;
		int nv = 0;

		if (strcasecmp(keys[i], key) != 0 ||
		    natsMsgHeader_Values(m, keys[i], &vals, &nv) != NATS_OK)
			continue;
		count += nv;
		free((void *)vals);
	}
	free((void *)keys);
	return count;
}

TEST(dead_letter_keeps_payload_and_headers_and_term_removes)
{
	struct backend *b = backend_up(false);
	natsMsg *m = NULL, *got = NULL;
	jsPubOptions po;
	jsPubAck *pa = NULL;
	const char *v = NULL;
	const char **vals = NULL;
	int nvals = 0;

	if (b == NULL)
		return;
	state_reset(MODE_DLQ);
	fresh_topology(b);
	natsMsg_Create(&m, "tasks.mail", NULL, "{\"to\":\"x\"}", 10);
	natsMsgHeader_Set(m, "Trace", "a");
	natsMsgHeader_Add(m, "Trace", "b");
	natsMsgHeader_Set(m, "Tenant", "acme");
	/* Forged bookkeeping, in other cases too: the engine's values win. */
	natsMsgHeader_Set(m, "taskjet-original-subject", "$JS.API.STREAM.PURGE.TASKS");
	natsMsgHeader_Set(m, "TASKJET-REASON", "forged");
	natsMsgHeader_Set(m, "Taskjet-Reason", "forged too");
	natsMsgHeader_Set(m, "Taskjet-Replayed-From", "99");
	jsPubOptions_Init(&po);
	po.MsgId = "id-1";
	po.ExpectStream = "TASKS";
	CHECK_INT(js_PublishMsg(&pa, natsconn_js(admin), m, &po, NULL), NATS_OK);
	jsPubAck_Destroy(pa);
	natsMsg_Destroy(m);

	CHECK_INT(start_all(b), 0);
	CHECK_TRUE(js_wait_for(reached, &(struct count_goal){ &st.dead_letters, 1 }, 10000));
	CHECK_INT(stop_all(b, 5000), 0);
	CHECK_TRUE(js_wait_for(drained, NULL, 5000));
	CHECK_INT(read_state().stream_msgs, 0);
	CHECK_INT(read_state().dlq_msgs, 1);
	check_accounting(1, 1);

	CHECK_INT(js_GetMsg(&got, natsconn_js(admin), fx.cfg.dlq.stream, 1, NULL, NULL), NATS_OK);
	if (got != NULL) {
		CHECK_STR(natsMsg_GetSubject(got), "dlq.tasks.mail");
		CHECK_STR(natsMsg_GetData(got), "{\"to\":\"x\"}");
		CHECK_INT(natsMsgHeader_Values(got, "Trace", &vals, &nvals), NATS_OK);
		CHECK_INT(nvals, 2);
		if (nvals == 2) {
			CHECK_STR(vals[0], "a");
			CHECK_STR(vals[1], "b");
		}
		free((void *)vals);
		CHECK_INT(natsMsgHeader_Get(got, "Tenant", &v), NATS_OK);
		CHECK_STR(v, "acme");
		CHECK_INT(natsMsgHeader_Get(got, "Taskjet-Reason", &v), NATS_OK);
		CHECK_STR(v, "handler_failed");
		CHECK_INT(natsMsgHeader_Get(got, "Nats-Msg-Id", &v), NATS_OK);
		CHECK_STR(v, "dlq-TASKS-1");
		CHECK_INT(natsMsgHeader_Get(got, "Nats-Expected-Stream", &v), NATS_NOT_FOUND);
		CHECK_INT(reserved_count(got, "Taskjet-Reason"), 1);
		/* This record sets no original subject: the forged one is gone. */
		CHECK_INT(reserved_count(got, "Taskjet-Original-Subject"), 0);
		CHECK_INT(reserved_count(got, "Taskjet-Replayed-From"), 0);
		natsMsg_Destroy(got);
	}
	backend_destroy(b);
}

TEST(publish_dedupes_on_msg_id)
{
	struct backend *b = backend_up(false);
	struct publish_ack ack = { 0 };

	if (b == NULL)
		return;
	fresh_topology(b);
	CHECK_INT(pub(b, "tasks.a", "x", "same"), 0);
	CHECK_INT(
	    b->ops->publish(b,
	                    &(struct publish_msg){
	                        .subject = "tasks.a", .data = "x", .len = 1, .msg_id = "same" },
	                    &ack),
	    0);
	CHECK_TRUE(ack.duplicate);
	CHECK_INT(ack.seq, 1);
	CHECK_STR(ack.stream, "TASKS");
	CHECK_INT(pub(b, "tasks.a", "y", "other"), 0);
	CHECK_INT(read_state().stream_msgs, 2);
	CHECK_INT(pub(b, "nowhere.a", "x", "z"), -ENOENT);
	CHECK_INT(pub(b, "tasks.a", "x", NULL), 0);
	CHECK_INT(read_state().stream_msgs, 3);
	backend_destroy(b);
}

TEST(max_deliveries_advisory_moves_to_dlq)
{
	const int n = 3;
	struct backend *b;
	int published;

	fx.route.max_attempts = 2;
	fx.route.ack_wait_ms = 1000;
	b = backend_up(false);
	if (b == NULL)
		goto out;
	state_reset(MODE_NEVER_ACK);
	fresh_topology(b);
	published = publish_tasks(b, n);
	CHECK_INT(start_all(b), 0);
	CHECK_TRUE(js_wait_for(reached, &(struct count_goal){ &st.dead_letters, n }, 15000));
	CHECK_INT(stop_all(b, 5000), 0);
	CHECK_INT(st.max_attempt, 2);
	for (int i = 1; i <= n; i++)
		CHECK_INT(st.deliveries[i], 2);
	CHECK_INT(read_state().stream_msgs, 0);
	CHECK_INT(read_state().dlq_msgs, n);
	check_accounting(published, n);
	backend_destroy(b);
out:
	fx.route.max_attempts = 5;
	fx.route.ack_wait_ms = 30000;
}

/* The server's config: the test as "admin" with every right, the engine
 * as "engine" with `engine_perms` (a permissions block, or ""). */
static char server_conf[1024];

static const char *
conf_with(const char *engine_perms)
{
	snprintf(server_conf, sizeof(server_conf),
	         "authorization { users = [\n"
	         "  { user: admin, password: \"admin-pw\" }\n"
	         "  { user: engine, password: \"engine-pw\"%s%s }\n"
	         "] }\n",
	         engine_perms[0] != '\0' ? ", " : "", engine_perms);
	return server_conf;
}

/* The advisory reader's durable: how many advisories it holds unacked,
 * and its ack floor (the last advisory acked in order). */
struct advisory_state {
	int64_t ack_pending;
	uint64_t ack_floor;
	bool ok;
};

static struct advisory_state
advisory_state(void)
{
	struct advisory_state as = { 0 };
	jsConsumerInfo *ci = NULL;
	char durable[512];

	topology_advisory_durable(&fx.route, durable, sizeof(durable));
	if (js_GetConsumerInfo(&ci, natsconn_js(admin), fx.cfg.dlq.advisory_stream, durable, NULL,
	                       NULL) != NATS_OK)
		return as;
	as.ack_pending = ci->NumAckPending;
	as.ack_floor = ci->AckFloor.Stream;
	as.ok = true;
	jsConsumerInfo_Destroy(ci);
	return as;
}

static bool
task_stream_empty(void *arg)
{
	struct consumer_state cs = read_state();

	return cs.ok && cs.stream_msgs == 0;
}

struct log_goal {
	const char *needle;
	int count;
};

static bool
server_logged(void *arg)
{
	const struct log_goal *g = arg;

	return nats_server_log_count(&server, g->needle) >= g->count;
}

/* The last lines of the server's log, as TAP comments. */
static void
show_server_log(void)
{
	char path[300], line[512], ring[40][512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/server.log", server.dir);
	f = fopen(path, "r");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		snprintf(ring[n++ % 40], sizeof(ring[0]), "%s", line);
	if (f != NULL)
		fclose(f);
	for (int i = n > 40 ? n - 40 : 0; i < n; i++)
		printf("# server: %s", ring[i % 40]);
}

/*
 * A task the server gave up on (MAX_DELIVERIES) while moving it to the DLQ
 * fails: the advisory must stay unacked and come back, so the task ends
 * in the DLQ once the fault clears, and is not left behind in its stream
 * (where nothing would ever deliver it again). `deny` is the engine's
 * permissions block while the fault lasts ("" for none); `dlq_full`
 * fills a DLQ of one message that refuses the next (discard new).
 */
static void
advisory_survives_a_fault(const char *deny, bool dlq_full)
{
	const char *violation = "Publish Violation";
	int violations = nats_server_log_count(&server, violation);
	struct backend *b;
	natsMsg *letter = NULL;
	int published;

	fx.route.max_attempts = 2;
	fx.route.ack_wait_ms = 1000;
	if (dlq_full)
		fx.cfg.dlq.max_msgs = 1;
	b = backend_up(false);
	if (b == NULL)
		goto out;
	state_reset(MODE_NEVER_ACK);
	fresh_topology(b);
	if (dlq_full) {
		jsPubAck *pa = NULL;

		CHECK_INT(js_Publish(&pa, natsconn_js(admin), "dlq.filler", "x", 1, NULL, NULL),
		          NATS_OK);
		jsPubAck_Destroy(pa);
	}
	if (deny[0] != '\0')
		CHECK_INT(nats_server_reload_conf(&server, conf_with(deny)), 0);
	published = publish_tasks(b, 1);
	CHECK_INT(published, 1);
	CHECK_INT(start_all(b), 0);

	/* Two deliveries, the advisory, and the move fails. */
	if (dlq_full)
		CHECK_TRUE(js_wait_for(reached, &(struct count_goal){ &st.dead_letter_failures, 1 },
		                       20000));
	else
		CHECK_TRUE(js_wait_for(server_logged,
		                       &(struct log_goal){ violation, violations + 1 }, 20000));
	CHECK_INT(st.deliveries[1], 2);
	CHECK_INT(read_state().stream_msgs, 1); /* still in its stream */
	/* Not acked: a nak with a delay keeps it pending (a mutant that acks
	 * anyway has acked within this half second). */
	clock_sleep_ms(500);
	CHECK_INT(advisory_state().ack_floor, 0);
	CHECK_INT(advisory_state().ack_pending, 1);

	/* The fault clears: the advisory comes back and the move completes. */
	if (dlq_full)
		CHECK_INT(js_PurgeStream(natsconn_js(admin), fx.cfg.dlq.stream, NULL, NULL),
		          NATS_OK);
	else
		CHECK_INT(nats_server_reload_conf(&server, conf_with("")), 0);
	CHECK_TRUE(js_wait_for(task_stream_empty, NULL, 30000));
	CHECK_TRUE(js_wait_for(reached, &(struct count_goal){ &st.dead_letters, 1 }, 5000));
	CHECK_INT(stop_all(b, 5000), 0);
	CHECK_TRUE(st.dead_letter_calls >= (dlq_full ? 2u : 1u));
	CHECK_INT(st.deliveries[1], 2); /* never handed to a handler again */
	/* Exactly one letter (a rewrite of the same letter is a duplicate). */
	CHECK_INT(read_state().dlq_msgs, 1);
	CHECK_INT(js_GetLastMsg(&letter, natsconn_js(admin), fx.cfg.dlq.stream, "dlq.tasks.t", NULL,
	                        NULL),
	          NATS_OK);
	natsMsg_Destroy(letter);
	CHECK_INT(advisory_state().ack_pending, 0);
	CHECK_TRUE(advisory_state().ack_floor >= 1);
	check_accounting(published, 1);
	backend_destroy(b);
out:
	if (testing_failed())
		show_server_log();
	if (deny[0] != '\0')
		nats_server_reload_conf(&server, conf_with(""));
	fx.route.max_attempts = 5;
	fx.route.ack_wait_ms = 30000;
	fx.cfg.dlq.max_msgs = -1;
}

TEST(max_deliveries_advisory_waits_while_the_dlq_refuses_letters)
{
	advisory_survives_a_fault("", true);
}

TEST(max_deliveries_advisory_waits_while_the_task_cannot_be_deleted)
{
	advisory_survives_a_fault(
	    "permissions: { publish: { deny: [\"$JS.API.STREAM.MSG.DELETE.TASKS\"] } }", false);
}

TEST(max_deliveries_advisory_waits_while_the_task_cannot_be_loaded)
{
	advisory_survives_a_fault("permissions: { publish: { deny: "
	                          "[\"$JS.API.STREAM.MSG.GET.TASKS\", "
	                          "\"$JS.API.DIRECT.GET.TASKS.>\"] } }",
	                          false);
}

static void
survives_restart(int sig)
{
	const int n = 600;
	struct backend *b = backend_up(false);
	int published;

	if (b == NULL)
		return;
	/* Acks in flight when the server stops can be lost with it; a short
	 * ack_wait lets the server redeliver those within the test. */
	fx.route.ack_wait_ms = 2000;
	state_reset(MODE_SLOW_ACK);
	fresh_topology(b);
	published = publish_tasks(b, n);
	CHECK_INT(published, n);
	CHECK_INT(start_all(b), 0);
	CHECK_TRUE(js_wait_for(reached, &(struct count_goal){ &st.acks, n / 4 }, 10000));
	CHECK_INT(nats_server_stop(&server, sig), 0);
	clock_sleep_ms(500);
	CHECK_INT(nats_server_restart(&server), 0);
	/* Every task acked at least once (redeliveries are allowed). */
	for (int64_t end = clock_mono_ms() + 30000;
	     unique_acked(n) < (unsigned)n && clock_mono_ms() < end;)
		clock_sleep_ms(50);
	CHECK_INT(unique_acked(n), n);
	CHECK_TRUE(js_wait_for(drained, NULL, 15000));
	CHECK_INT(stop_all(b, 5000), 0);
	{
		struct stats_snapshot *snap = NULL;

		CHECK_INT(b->ops->snapshot(b, &fx.cfg, NULL, &snap), 0);
		CHECK_TRUE(snap != NULL && snap->reconnects >= 1);
		stats_snapshot_free(snap);
	}
	check_accounting(published, n);
	fx.route.ack_wait_ms = 30000;
	printf("# %s: %u deliveries for %d tasks\n", sig == SIGKILL ? "SIGKILL" : "SIGTERM",
	       st.calls, n);
	backend_destroy(b);
}

TEST(server_sigterm_mid_consumption_loses_nothing)
{
	survives_restart(SIGTERM);
}

TEST(server_sigkill_mid_consumption_loses_nothing)
{
	survives_restart(SIGKILL);
}

TEST(stop_returns_quickly_when_idle)
{
	struct backend *b = backend_up(false);
	int64_t t0;

	if (b == NULL)
		return;
	state_reset(MODE_ACK);
	fresh_topology(b);
	fx.route.fetch_wait_ms = 10000;
	CHECK_INT(start_all(b), 0);
	clock_sleep_ms(200);
	t0 = clock_mono_ms();
	CHECK_INT(stop_all(b, 5000), 0);
	CHECK_RANGE(clock_mono_ms() - t0, 0, 2000);
	fx.route.fetch_wait_ms = 500;
	backend_destroy(b);
}

int
main(void)
{
	bool must_fail;
	int rc;

	if (!nats_server_available("backend_jetstream", &must_fail))
		return must_fail ? 1 : 0;
	log_setup(TJ_LOG_ERR, LOG_FORMAT_TEXT, NULL);
	pthread_mutex_init(&st.lock, NULL);
	rc = nats_server_start_conf(&server, conf_with(""));
	if (rc == 0) {
		struct cfg_nats as_admin;

		snprintf(engine_pw, sizeof(engine_pw), "%s/engine.pw", server.dir);
		snprintf(admin_pw, sizeof(admin_pw), "%s/admin.pw", server.dir);
		rc = testing_write_file(engine_pw, "engine-pw\n", 0600);
		if (rc == 0)
			rc = testing_write_file(admin_pw, "admin-pw\n", 0600);
		js_fixture_init(&fx, server.url);
		fx.cfg.nats.user = (char *)"engine";
		fx.cfg.nats.password_file = engine_pw;
		as_admin = fx.cfg.nats;
		as_admin.user = (char *)"admin";
		as_admin.password_file = admin_pw;
		if (rc == 0)
			rc = natsconn_open(&as_admin, NULL, NULL, &admin);
	}
	if (rc != 0) {
		nats_server_cleanup(&server);
		return testing_bail_out("cannot start/connect nats-server: %d", rc);
	}
	RUN(delivers_each_task_exactly_once);
	RUN(delivers_each_task_exactly_once_split_ack);
	RUN(nak_with_delay_redelivers_after_the_delay);
	RUN(dead_letter_keeps_payload_and_headers_and_term_removes);
	RUN(publish_dedupes_on_msg_id);
	RUN(max_deliveries_advisory_moves_to_dlq);
	RUN(max_deliveries_advisory_waits_while_the_dlq_refuses_letters);
	RUN(max_deliveries_advisory_waits_while_the_task_cannot_be_deleted);
	RUN(max_deliveries_advisory_waits_while_the_task_cannot_be_loaded);
	RUN(stop_returns_quickly_when_idle);
	RUN(server_sigterm_mid_consumption_loses_nothing);
	RUN(server_sigkill_mid_consumption_loses_nothing);
	natsconn_close(admin, 1000);
	nats_server_cleanup(&server);
	natsconn_library_shutdown(5000);
	pthread_mutex_destroy(&st.lock);
	return testing_done();
}
