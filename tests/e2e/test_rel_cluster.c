/* SPDX-License-Identifier: MIT */
/*
 * Reliability in a cluster (docs/reliability.md, "A cluster losing its
 * leaders"): three nats-servers on 127.0.0.1, the work stream, the DLQ and
 * the advisory capture with 3 replicas, and two `taskjet run` engines
 * sharing the route's durable. Under load, one node is SIGKILLed:
 *   1. the stream leader (the consumer leader elsewhere),
 *   2. the consumer leader (the stream leader elsewhere),
 *   3. both, on one node,
 *   4. a node that leads neither.
 * Leaders are found with $JS.API.STREAM.INFO / CONSUMER.INFO (cluster
 * leader) and placed with leader step-downs before the load starts. Each
 * time: nothing is lost, nothing is dead-lettered, both engines keep
 * running (never restarted), and the stall (the longest pause in finished
 * tasks from the kill on) is printed; then the node is restarted and the
 * cluster is whole again before the next case. Tasks per case:
 * TASKJET_REL_CLUSTER_TASKS (default 600).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "run_harness.h"
#include "testing.h"

#define READY_MS 30000
#define STOP_MS 30000
#define SETTLE_MS 60000
#define ENGINES 2
#define PEERS (NATS_CLUSTER_SIZE - 1) /* replicas besides the leader */

static struct e2e env;
static struct nats_cluster cluster;
static struct e2e_proc engines[ENGINES];
static pid_t engine_pids[ENGINES];
static char configs[ENGINES][340];
static size_t tasks_n = 600;

/* The stream's and the consumer's leaders (server names), "" if none
 * (or no answer within 500 ms: an election is under way). */
static void
leaders(char *stream_leader, char *consumer_leader, size_t len)
{
	jsStreamInfo *si = NULL;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	jsOptions o;

	jsOptions_Init(&o);
	o.Wait = 500;
	stream_leader[0] = consumer_leader[0] = '\0';
	if (js_GetStreamInfo(&si, env.js, "TASKS", &o, &jerr) == NATS_OK && si->Cluster != NULL &&
	    si->Cluster->Leader != NULL)
		snprintf(stream_leader, len, "%s", si->Cluster->Leader);
	if (js_GetConsumerInfo(&ci, env.js, "TASKS", "taskjet-work", &o, &jerr) == NATS_OK &&
	    ci->Cluster != NULL && ci->Cluster->Leader != NULL)
		snprintf(consumer_leader, len, "%s", ci->Cluster->Leader);
	jsStreamInfo_Destroy(si);
	jsConsumerInfo_Destroy(ci);
}

/* After `victim` died at `t_kill` (wall ms): how long until the stream
 * and the consumer had live leaders elsewhere (-1: not within 30 s). A
 * leader that was not on the victim is not waited for (0). */
static void
reelection(const char *victim, const char *was_sl, const char *was_cl, long long t_kill,
           long long *stream_ms, long long *consumer_ms)
{
	char sl[64], cl[64];
	int64_t deadline = e2e_now_ms() + 30000;

	*stream_ms = strcmp(was_sl, victim) == 0 ? -1 : 0;
	*consumer_ms = strcmp(was_cl, victim) == 0 ? -1 : 0;
	while ((*stream_ms < 0 || *consumer_ms < 0) && e2e_now_ms() < deadline) {
		leaders(sl, cl, sizeof(sl));
		if (*stream_ms < 0 && sl[0] != '\0' && strcmp(sl, victim) != 0)
			*stream_ms = e2e_wall_ms() - t_kill;
		if (*consumer_ms < 0 && cl[0] != '\0' && strcmp(cl, victim) != 0)
			*consumer_ms = e2e_wall_ms() - t_kill;
		e2e_sleep_ms(50);
	}
}

/* "4969 ms" for a re-election, "kept" for a leader that did not die. */
static const char *
elected(long long ms, char *buf, size_t len)
{
	if (ms == 0)
		snprintf(buf, len, "kept");
	else
		snprintf(buf, len, "%lld ms", ms);
	return buf;
}

/* Every replica of the stream and the consumer is online and current. */
static bool
cluster_whole(void *arg)
{
	jsStreamInfo *si = NULL;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	bool whole = false;

	if (js_GetStreamInfo(&si, env.js, "TASKS", NULL, &jerr) != NATS_OK || si->Cluster == NULL ||
	    si->Cluster->Leader == NULL || si->Cluster->ReplicasLen != PEERS)
		goto out;
	for (int i = 0; i < si->Cluster->ReplicasLen; i++)
		if (!si->Cluster->Replicas[i]->Current || si->Cluster->Replicas[i]->Offline)
			goto out;
	if (js_GetConsumerInfo(&ci, env.js, "TASKS", "taskjet-work", NULL, &jerr) != NATS_OK ||
	    ci->Cluster == NULL || ci->Cluster->Leader == NULL || ci->Cluster->ReplicasLen != PEERS)
		goto out;
	for (int i = 0; i < ci->Cluster->ReplicasLen; i++)
		if (!ci->Cluster->Replicas[i]->Current || ci->Cluster->Replicas[i]->Offline)
			goto out;
	whole = true;
out:
	jsStreamInfo_Destroy(si);
	jsConsumerInfo_Destroy(ci);
	return whole;
}

/* Ask the consumer's leader to step down and wait for a new one. */
static void
consumer_step_down(void)
{
	char sl[64], cl[64], now_cl[64];
	natsMsg *reply = NULL;
	int64_t deadline;

	leaders(sl, cl, sizeof(sl));
	natsConnection_RequestString(
	    &reply, env.nc, "$JS.API.CONSUMER.LEADER.STEPDOWN.TASKS.taskjet-work", "", 5000);
	natsMsg_Destroy(reply);
	deadline = e2e_now_ms() + 10000;
	do {
		e2e_sleep_ms(100);
		leaders(sl, now_cl, sizeof(sl));
	} while ((now_cl[0] == '\0' || strcmp(now_cl, cl) == 0) && e2e_now_ms() < deadline);
}

enum placement { APART, TOGETHER };

/* Move the consumer's leader until it is apart from (or on the node of)
 * the stream's leader. False if that did not happen in 20 tries. */
static bool
place_leaders(enum placement want, char *sl, char *cl, size_t len)
{
	for (int i = 0; i < 20; i++) {
		leaders(sl, cl, len);
		if (sl[0] != '\0' && cl[0] != '\0' && (strcmp(sl, cl) == 0) == (want == TOGETHER))
			return true;
		consumer_step_down();
	}
	return false;
}

static bool
engines_running(void)
{
	for (int i = 0; i < ENGINES; i++)
		if (engines[i].pid != engine_pids[i] ||
		    waitpid(engines[i].pid, &engines[i].status, WNOHANG) != 0)
			return false;
	return true;
}

struct scenario_wait {
	const char *prefix;
	size_t n;
};

static size_t
done_with_prefix(const char *prefix)
{
	struct e2e_records r;
	size_t plen = strlen(prefix), n = 0;

	if (e2e_records_read(env.record, &r) != 0)
		return 0;
	for (size_t i = 0; i < r.count; i++)
		n += r.v[i].done && strncmp(r.v[i].id, prefix, plen) == 0 && r.v[i].id[plen] == '-';
	e2e_records_free(&r);
	return n;
}

static bool
some_done(void *arg)
{
	const struct scenario_wait *w = arg;

	return done_with_prefix(w->prefix) >= w->n;
}

static bool
scenario_settled(void *arg)
{
	const struct scenario_wait *w = arg;
	uint64_t pending = 1, ack_pending = 1;

	return done_with_prefix(w->prefix) >= w->n &&
	       e2e_consumer_pending(&env, "TASKS", "taskjet-work", &pending, &ack_pending) == 0 &&
	       pending == 0 && ack_pending == 0;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* The longest pause between finished tasks of `prefix` from `since` on
 * (the kill counts as a finish); *first_r: the first one after it. */
static long long
stall_after(const char *prefix, long long since, long long *first_r)
{
	struct e2e_records r;
	size_t plen = strlen(prefix), n = 0;
	long long *t, prev = since, worst = 0;

	*first_r = -1;
	if (e2e_records_read(env.record, &r) != 0)
		return -1;
	t = calloc(r.count + 1, sizeof(*t));
	for (size_t i = 0; t != NULL && i < r.count; i++)
		if (r.v[i].done && strncmp(r.v[i].id, prefix, plen) == 0 &&
		    r.v[i].id[plen] == '-' && r.v[i].at_ms >= since)
			t[n++] = r.v[i].at_ms;
	e2e_records_free(&r);
	if (t == NULL)
		return -1;
	qsort(t, n, sizeof(*t), cmp_ll);
	for (size_t i = 0; i < n; i++) {
		if (t[i] - prev > worst)
			worst = t[i] - prev;
		prev = t[i];
	}
	if (n > 0)
		*first_r = t[0] - since;
	free(t);
	return worst;
}

enum victim { STREAM_LEADER, CONSUMER_LEADER, BOTH_LEADERS, NON_LEADER };

static void
kill_under_load(enum victim v, const char *prefix, const char *what)
{
	char sl[64], cl[64], victim[64] = "", e1[32], e2[32];
	struct scenario_wait w = { prefix, tasks_n / 4 };
	struct e2e_tally t = { 0 };
	long long t_kill, stall, first = -1, stream_elected = -1, consumer_elected = -1;
	int64_t t0 = e2e_now_ms(), settle_ms = -1;
	int idx = -1;
	uint64_t dlq = UINT64_MAX;

	CHECK_TRUE(e2e_wait_for(cluster_whole, NULL, 30000));
	CHECK_TRUE(place_leaders(v == BOTH_LEADERS ? TOGETHER : APART, sl, cl, sizeof(sl)));
	if (testing_failed())
		return;
	switch (v) {
	case STREAM_LEADER:
	case BOTH_LEADERS:
		snprintf(victim, sizeof(victim), "%s", sl);
		break;
	case CONSUMER_LEADER:
		snprintf(victim, sizeof(victim), "%s", cl);
		break;
	case NON_LEADER:
		for (int i = 0; i < NATS_CLUSTER_SIZE; i++) {
			char name[8];

			snprintf(name, sizeof(name), "n%d", i + 1);
			if (strcmp(name, sl) != 0 && strcmp(name, cl) != 0)
				snprintf(victim, sizeof(victim), "%s", name);
		}
		break;
	}
	idx = nats_cluster_index(&cluster, victim);
	CHECK_TRUE(idx >= 0);
	if (testing_failed())
		return;

	CHECK_INT(e2e_publish_many(&env, "tasks.work", prefix, 0, tasks_n), 0);
	CHECK_TRUE(e2e_wait_for(some_done, &w, 30000));
	t_kill = e2e_wall_ms();
	CHECK_INT(nats_server_stop(&cluster.node[idx], SIGKILL), 0);
	CHECK_TRUE(done_with_prefix(prefix) < tasks_n); /* mid-run */
	reelection(victim, sl, cl, t_kill, &stream_elected, &consumer_elected);
	CHECK_TRUE(stream_elected >= 0 && consumer_elected >= 0);
	w.n = tasks_n;
	if (e2e_wait_for(scenario_settled, &w, SETTLE_MS))
		settle_ms = e2e_now_ms() - t0;
	CHECK_TRUE(settle_ms >= 0);
	stall = stall_after(prefix, t_kill, &first);
	CHECK_TRUE(engines_running());
	/* Whole again (for the count, and for the next case). */
	CHECK_INT(nats_server_restart(&cluster.node[idx]), 0);
	CHECK_TRUE(e2e_wait_for(cluster_whole, NULL, 30000));
	CHECK_INT(e2e_tally(&env, env.record, "TASKS", prefix, tasks_n, &t), 0);
	CHECK_INT(e2e_stream_msgs(&env, "DLQ", &dlq), 0);
	printf("# cluster, %s killed (%s; stream leader was %s, consumer leader %s): stall "
	       "%lld ms; new leader: stream %s, consumer %s; first task done %lld ms after "
	       "the kill; all settled %lld ms after the load began; engines kept running\n",
	       what, victim, sl, cl, stall, elected(stream_elected, e1, sizeof(e1)),
	       elected(consumer_elected, e2, sizeof(e2)), first, (long long)settle_ms);
	e2e_tally_print(what, &t);
	CHECK_INT(t.lost, 0);
	CHECK_INT(t.dead, 0);
	CHECK_INT(t.pending, 0);
	CHECK_INT(t.handled, tasks_n);
	CHECK_INT(dlq, 0);
}

static bool
setup(void)
{
	static const char routes[] =
	    "[ { \"name\": \"work\", \"stream\": \"TASKS\", \"subject\": \"tasks.work\", "
	    "\"plugin\": \"fx_ledger\", \"concurrency\": 4, \"max_attempts\": 20, "
	    "\"ack_wait\": \"2s\", \"fetch_wait\": \"1s\", "
	    "\"config\": { \"sleep_ms\": 40, \"record_file\": \"%s\" } } ]";
	char buf[1024], worker[32];
	int rc;

	CHECK_INT(e2e_setup_dir(&env), 0);
	rc = nats_cluster_start(&cluster);
	CHECK_INT(rc, 0);
	if (rc == 0)
		CHECK_INT(e2e_connect_urls(&env, cluster.urls), 0);
	if (testing_failed())
		return false;
	snprintf(buf, sizeof(buf), routes, env.record);
	for (int i = 0; i < ENGINES; i++) {
		snprintf(configs[i], sizeof(configs[i]), "%s/engine-%d.json", env.dir, i + 1);
		snprintf(worker, sizeof(worker), "e2e-%d", i + 1);
		CHECK_INT(e2e_write_config_to(&env, configs[i],
		                              &(struct e2e_conf){
		                                  .url = cluster.urls,
		                                  .worker_id = worker,
		                                  .top_extra = "\"http\": { \"listen\": \"\" },",
		                                  .stream_extra = "\"replicas\": 3",
		                                  .dlq_extra = "\"replicas\": 3",
		                                  .routes = buf,
		                              }),
		          0);
		rc = e2e_run_start_config(&env, configs[i], &engines[i], READY_MS);
		CHECK_INT(rc, 0);
		if (rc != 0) {
			e2e_proc_dump(&engines[i]);
			return false;
		}
		engine_pids[i] = engines[i].pid;
	}
	return true;
}

TEST(cluster_leaders_killed_under_load)
{
	int64_t t0 = e2e_now_ms();

	if (!setup())
		goto out;
	kill_under_load(STREAM_LEADER, "a", "stream leader");
	if (!testing_failed())
		kill_under_load(CONSUMER_LEADER, "b", "consumer leader");
	if (!testing_failed())
		kill_under_load(BOTH_LEADERS, "c", "stream and consumer leader");
	if (!testing_failed())
		kill_under_load(NON_LEADER, "d", "a node leading neither");
	printf("# cluster: 4 cases, %zu tasks each, %lld ms in all\n", tasks_n,
	       (long long)(e2e_now_ms() - t0));
out:
	for (int i = 0; i < ENGINES; i++) {
		if (engines[i].pid != 0)
			e2e_stop_checked(&engines[i], STOP_MS, NULL);
		if (testing_failed() && engines[i].log[0] != '\0')
			e2e_proc_dump(&engines[i]);
	}
	nats_cluster_cleanup(&cluster);
	e2e_teardown(&env);
}

int
main(void)
{
	const char *v = getenv("TASKJET_REL_CLUSTER_TASKS");
	bool must_fail;

	if (!nats_server_available("reliability: cluster", &must_fail))
		return must_fail ? 1 : 0;
	if (v != NULL && atoi(v) >= 100 && atoi(v) <= 1000000)
		tasks_n = (size_t)atoi(v);
	RUN(cluster_leaders_killed_under_load);
	nats_Close();
	return testing_done();
}
