/* SPDX-License-Identifier: MIT */
/*
 * Reliability: a crashing and a hung plugin beside healthy routes
 * (docs/reliability.md, "Faulty plugins beside healthy routes"). One
 * `taskjet run`, default isolation (process), four routes under a steady
 * load:
 *   - "a" and "b": fx_ledger, healthy, 10 ms of work per task;
 *   - "crash": fx_isolate, whose plugin dies by SIGSEGV or abort() on
 *     some tasks;
 *   - "hang": fx_isolate, whose plugin hangs past the route's timeout on
 *     some tasks.
 * The healthy routes first run alone (a baseline), then beside the faults.
 * Checks: every healthy task handled exactly once (fx_ledger), none
 * dead-lettered, none lost, their worst latency within a wide margin (the
 * figures are printed, baseline beside), their workers never restarted;
 * on the faulty routes each bad task is tried max_attempts times and
 * dead-lettered with the crash or the timeout as its reason and cause,
 * every other task of theirs handled once; the engine is one process
 * from start to end. The fault phase lasts TASKJET_REL_PLUGINS_S seconds
 * (default 10).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "run_harness.h"
#include "testing.h"

#define READY_MS 20000
#define STOP_MS 30000
#define SETTLE_MS 60000

#define TICK_MS 100
#define BASELINE_TICKS 30 /* 3 s of healthy load alone */
#define HEALTHY_PER_TICK 8 /* per healthy route: 80 tasks/s */
#define HEALTHY_CONCURRENCY 4
#define HEALTHY_SLEEP_MS 10 /* 400 tasks/s per route at most: 20 % busy */
#define FAULTY_CONCURRENCY 2
#define MAX_ATTEMPTS 2
#define TIMEOUT_MS 1000
/* Wide: a healthy task needs 10 ms of work and a pull. Anything near this
 * is a stall, not a slow machine. */
#define HEALTHY_MAX_LATENCY_MS 5000

static struct e2e env;
static char faulty_record[320]; /* fx_isolate's record_file */
static int http_port;

/* A healthy route: subject tasks.<name>, task ids <name>-<i>. */
struct healthy {
	const char *name;
	size_t n; /* published so far */
	long long *pub_at; /* wall ms at which each was published */
};

/* A faulty route: subject tasks.<name>; good tasks "<name>-<i>" (payload
 * "ok"), bad ones "<name>x-<k>" (payload kinds[k % 2]). */
struct faulty {
	const char *name, *bad_prefix;
	int ok_per_tick, bad_every, bad_phase; /* a bad task every bad_every ticks */
	const char *kinds[2];
	const char *what; /* the fault, in words */
	const char *reason;
	const char *errors[2]; /* a prefix of Taskjet-Error, by kind */
	const char *counter; /* the /metrics counter of its faults */
	size_t ok_n, bad_n;
};

static struct healthy healthy[] = { { "a", 0, NULL }, { "b", 0, NULL } };
#define HEALTHY (sizeof(healthy) / sizeof(healthy[0]))

static struct faulty faulty[] = {
	{ .name = "crash",
	  .bad_prefix = "crashx",
	  .ok_per_tick = 2,
	  .bad_every = 10,
	  .bad_phase = 5,
	  .kinds = { "segv", "abort" },
	  .what = "SIGSEGV and abort() in turn",
	  .reason = "crashed",
	  .errors = { "killed by signal 11 (Segmentation fault)", "killed by signal 6 (Aborted)" },
	  .counter = "taskjet_worker_crashes_total" },
	{ .name = "hang",
	  .bad_prefix = "hangx",
	  .ok_per_tick = 1,
	  .bad_every = 25,
	  .bad_phase = 12,
	  .kinds = { "hang", "hang" },
	  .what = "hangs past the route's timeout",
	  .reason = "timed_out",
	  .errors = { "timed out after ", "timed out after " },
	  .counter = "taskjet_worker_timeouts_total" },
};
#define FAULTY (sizeof(faulty) / sizeof(faulty[0]))

static size_t
bad_total(void)
{
	size_t n = 0;

	for (size_t i = 0; i < FAULTY; i++)
		n += faulty[i].bad_n;
	return n;
}

static bool
all_settled(void *arg)
{
	uint64_t dlq = 0;
	char consumer[64];

	if (e2e_stream_msgs(&env, "DLQ", &dlq) != 0 || dlq != bad_total())
		return false;
	for (size_t i = 0; i < HEALTHY + FAULTY; i++) {
		snprintf(consumer, sizeof(consumer), "taskjet-%s",
		         i < HEALTHY ? healthy[i].name : faulty[i - HEALTHY].name);
		if (!e2e_settled(&env, "TASKS", consumer))
			return false;
	}
	return true;
}

/* One tick's tasks of a healthy route. */
static void
publish_healthy(struct healthy *h)
{
	char subject[64];
	long long at = e2e_wall_ms();

	snprintf(subject, sizeof(subject), "tasks.%s", h->name);
	CHECK_INT(e2e_publish_many(&env, subject, h->name, h->n, HEALTHY_PER_TICK), 0);
	for (size_t i = 0; i < HEALTHY_PER_TICK; i++)
		h->pub_at[h->n + i] = at;
	h->n += HEALTHY_PER_TICK;
}

/* One tick's tasks of a faulty route: its good ones, and on its ticks a
 * bad one. */
static void
publish_faulty(struct faulty *f, int tick)
{
	char subject[64], id[64];

	snprintf(subject, sizeof(subject), "tasks.%s", f->name);
	for (int i = 0; i < f->ok_per_tick; i++) {
		snprintf(id, sizeof(id), "%s-%zu", f->name, f->ok_n++);
		CHECK_INT(e2e_publish(&env, subject, "ok", id, NULL, NULL), 0);
	}
	if (tick % f->bad_every == f->bad_phase) {
		snprintf(id, sizeof(id), "%s-%zu", f->bad_prefix, f->bad_n);
		CHECK_INT(e2e_publish(&env, subject, f->kinds[f->bad_n % 2], id, NULL, NULL), 0);
		f->bad_n++;
	}
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* Latencies (publish to done) of the healthy tasks published from wall
 * ms `from` to `to`, and the longest pause between two of them done. */
struct phase {
	const char *what;
	long long from, to;
	size_t n;
	long long p50, p99, worst, pause, first_done, last_done;
};

static void
measure(const struct e2e_records *r, struct phase *ph)
{
	size_t cap = 0;
	long long *lat, *done;

	for (size_t h = 0; h < HEALTHY; h++)
		cap += healthy[h].n;
	lat = calloc(cap + 1, sizeof(*lat));
	done = calloc(cap + 1, sizeof(*done));
	if (lat == NULL || done == NULL) {
		CHECK_TRUE(lat != NULL && done != NULL);
		goto out;
	}
	ph->n = 0;
	for (size_t k = 0; k < r->count; k++) {
		const struct e2e_rec *x = &r->v[k];

		if (!x->done)
			continue;
		for (size_t h = 0; h < HEALTHY; h++) {
			size_t plen = strlen(healthy[h].name);
			size_t i;

			if (strncmp(x->id, healthy[h].name, plen) != 0 || x->id[plen] != '-')
				continue;
			i = strtoul(x->id + plen + 1, NULL, 10);
			if (i >= healthy[h].n || healthy[h].pub_at[i] < ph->from ||
			    healthy[h].pub_at[i] >= ph->to || ph->n >= cap)
				continue;
			lat[ph->n] = x->at_ms - healthy[h].pub_at[i];
			done[ph->n++] = x->at_ms;
		}
	}
	if (ph->n == 0)
		goto out;
	qsort(lat, ph->n, sizeof(*lat), cmp_ll);
	qsort(done, ph->n, sizeof(*done), cmp_ll);
	ph->p50 = lat[ph->n / 2];
	ph->p99 = lat[ph->n * 99 / 100];
	ph->worst = lat[ph->n - 1];
	ph->first_done = done[0];
	ph->last_done = done[ph->n - 1];
	ph->pause = 0;
	for (size_t i = 1; i < ph->n; i++)
		if (done[i] - done[i - 1] > ph->pause)
			ph->pause = done[i] - done[i - 1];
out:
	free(lat);
	free(done);
}

static void
print_phase(const struct phase *ph)
{
	double secs = (double)(ph->to - ph->from) / 1000.0;

	printf("# healthy routes, %s (%.1f s): %zu tasks, %.0f/s offered, %.0f/s handled; "
	       "latency p50 %lld ms, p99 %lld ms, worst %lld ms; longest pause between two "
	       "done %lld ms\n",
	       ph->what, secs, ph->n, secs > 0 ? (double)ph->n / secs : 0.0,
	       ph->last_done > ph->first_done
	           ? (double)(ph->n - 1) * 1000.0 / (double)(ph->last_done - ph->first_done)
	           : 0.0,
	       ph->p50, ph->p99, ph->worst, ph->pause);
}

/* The route `f` of letter id `orig` if it is one of its bad tasks, and
 * which (*k_r); NULL otherwise. */
static struct faulty *
bad_task(const char *orig, size_t *k_r)
{
	for (size_t i = 0; orig != NULL && i < FAULTY; i++) {
		size_t plen = strlen(faulty[i].bad_prefix);
		char *end;
		unsigned long k;

		if (strncmp(orig, faulty[i].bad_prefix, plen) != 0 || orig[plen] != '-')
			continue;
		k = strtoul(orig + plen + 1, &end, 10);
		if (*end == '\0' && k < faulty[i].bad_n) {
			*k_r = k;
			return &faulty[i];
		}
	}
	return NULL;
}

/* Every letter in the DLQ is a bad task with its reason and cause, and
 * every bad task has one. */
static void
check_letters(void)
{
	uint64_t last = e2e_stream_last_seq(&env, "DLQ");
	size_t innocent = 0, found = 0;
	unsigned char *seen[FAULTY];

	for (size_t i = 0; i < FAULTY; i++)
		seen[i] = calloc(faulty[i].bad_n + 1, 1);

	for (uint64_t seq = 1; seq <= last; seq++) {
		natsMsg *m = NULL;
		jsErrCode jerr = 0;
		const char *orig;
		struct faulty *f;
		size_t k = 0;

		if (js_GetMsg(&m, env.js, "DLQ", seq, NULL, &jerr) != NATS_OK)
			continue;
		orig = e2e_header(m, "Taskjet-Original-Msg-Id");
		f = bad_task(orig, &k);
		if (f == NULL) {
			innocent++;
			testing_fail(__FILE__, __LINE__, "task %s dead-lettered (%s: %s)",
			             orig != NULL ? orig : "(no id)",
			             e2e_header(m, "Taskjet-Reason"),
			             e2e_header(m, "Taskjet-Error"));
		} else {
			unsigned char *s = seen[f - faulty];

			if (s != NULL) {
				found += !s[k];
				s[k] = 1;
			}
			CHECK_STR(e2e_header(m, "Taskjet-Reason"), f->reason);
			CHECK_CONTAINS(e2e_header(m, "Taskjet-Error"), f->errors[k % 2]);
			CHECK_STR(e2e_header(m, "Taskjet-Attempts"), "2");
			CHECK_STR(e2e_header(m, "Taskjet-Plugin"), "fx_isolate");
		}
		natsMsg_Destroy(m);
	}
	CHECK_INT(innocent, 0);
	CHECK_INT(found, bad_total());
	for (size_t i = 0; i < FAULTY; i++)
		free(seen[i]);
}

/* On the faulty routes: each good task called once, each bad one
 * max_attempts times (fx_isolate records a call before anything else). */
static void
check_faulty_calls(void)
{
	struct e2e_records r = { 0 };
	char id[64];

	CHECK_INT(e2e_records_read(faulty_record, &r), 0);
	for (size_t i = 0; i < FAULTY; i++) {
		struct faulty *f = &faulty[i];
		size_t once = 0, tried = 0;

		for (size_t j = 0; j < f->ok_n; j++) {
			snprintf(id, sizeof(id), "%s-%zu", f->name, j);
			once += e2e_records_count_id(&r, id) == 1;
		}
		for (size_t k = 0; k < f->bad_n; k++) {
			snprintf(id, sizeof(id), "%s-%zu", f->bad_prefix, k);
			tried += e2e_records_count_id(&r, id) == MAX_ATTEMPTS;
		}
		printf("# route %s: %zu bad tasks (%s), each called %d times and dead-lettered "
		       "\"%s\"; %zu of its %zu good tasks called once and acked\n",
		       f->name, f->bad_n, f->what, MAX_ATTEMPTS, f->reason, once, f->ok_n);
		CHECK_INT(once, f->ok_n);
		CHECK_INT(tried, f->bad_n);
	}
	e2e_records_free(&r);
}

/* The engine's own counts: the faults where they happened, none beside. */
static void
check_metrics(void)
{
	char *body = NULL, series[128];

	CHECK_INT(http_get(http_port, "/metrics", 5000, &body), 200);
	if (body == NULL)
		return;
	for (size_t i = 0; i < HEALTHY; i++) {
		const char *n = healthy[i].name;

		snprintf(series, sizeof(series), "taskjet_worker_spawns_total{route=\"%s\"}", n);
		CHECK_INT(e2e_metric(body, series), HEALTHY_CONCURRENCY);
		snprintf(series, sizeof(series), "taskjet_worker_crashes_total{route=\"%s\"}", n);
		CHECK_INT(e2e_metric(body, series), 0);
		snprintf(series, sizeof(series), "taskjet_worker_timeouts_total{route=\"%s\"}", n);
		CHECK_INT(e2e_metric(body, series), 0);
		snprintf(series, sizeof(series), "taskjet_tasks_given_back_total{route=\"%s\"}", n);
		CHECK_INT(e2e_metric(body, series), 0);
	}
	for (size_t i = 0; i < FAULTY; i++) {
		snprintf(series, sizeof(series), "%s{route=\"%s\"}", faulty[i].counter,
		         faulty[i].name);
		CHECK_INT(e2e_metric(body, series), faulty[i].bad_n * MAX_ATTEMPTS);
		snprintf(series, sizeof(series), "taskjet_worker_spawns_total{route=\"%s\"}",
		         faulty[i].name);
		printf("# route %s: %.0f worker processes started (%d at the start)\n",
		       faulty[i].name, e2e_metric(body, series), FAULTY_CONCURRENCY);
	}
	free(body);
}

TEST(crashing_and_hung_plugins_harm_no_innocent_task)
{
	static const char route_healthy[] =
	    "{ \"name\": \"%s\", \"stream\": \"TASKS\", \"subject\": \"tasks.%s\", "
	    "\"plugin\": \"fx_ledger\", \"concurrency\": %d, \"fetch_wait\": \"500ms\", "
	    "\"config\": { \"sleep_ms\": %d, \"record_file\": \"%s\" } },\n";
	static const char route_faulty[] =
	    "{ \"name\": \"%s\", \"stream\": \"TASKS\", \"subject\": \"tasks.%s\", "
	    "\"plugin\": \"fx_isolate\", \"concurrency\": %d, \"max_attempts\": %d, "
	    "\"timeout\": \"%dms\", \"fetch_wait\": \"500ms\", "
	    "\"backoff\": { \"initial\": \"50ms\", \"max\": \"100ms\", \"jitter\": 0 }, "
	    "\"config\": { \"record_file\": \"%s\" } }%s\n";
	char routes[4096];
	size_t off = 0;
	struct e2e_proc p = { 0 };
	struct e2e_records r = { 0 };
	struct phase base = { .what = "alone" }, faults = { .what = "beside the faults" };
	pid_t pid = 0;
	bool alive = true, dumped = false;
	int load_ticks = 100, ticks;
	const char *v = getenv("TASKJET_REL_PLUGINS_S");

	if (v != NULL && atoi(v) >= 5 && atoi(v) <= 600)
		load_ticks = atoi(v) * 1000 / TICK_MS;
	ticks = BASELINE_TICKS + load_ticks;
	if (!e2e_setup_checked(&env))
		goto out;
	snprintf(faulty_record, sizeof(faulty_record), "%s/faulty.txt", env.dir);
	for (size_t i = 0; i < HEALTHY; i++) {
		healthy[i].n = 0;
		healthy[i].pub_at = calloc((size_t)ticks * HEALTHY_PER_TICK, sizeof(long long));
		CHECK_TRUE(healthy[i].pub_at != NULL);
	}
	if (testing_failed())
		goto out;
	off += (size_t)snprintf(routes + off, sizeof(routes) - off, "[ ");
	for (size_t i = 0; i < HEALTHY; i++)
		off += (size_t)snprintf(routes + off, sizeof(routes) - off, route_healthy,
		                        healthy[i].name, healthy[i].name, HEALTHY_CONCURRENCY,
		                        HEALTHY_SLEEP_MS, env.record);
	for (size_t i = 0; i < FAULTY; i++)
		off += (size_t)snprintf(routes + off, sizeof(routes) - off, route_faulty,
		                        faulty[i].name, faulty[i].name, FAULTY_CONCURRENCY,
		                        MAX_ATTEMPTS, TIMEOUT_MS, faulty_record,
		                        i + 1 < FAULTY ? "," : " ]");
	CHECK_TRUE(off < sizeof(routes));
	CHECK_INT(e2e_write_config(&env,
	                           "\"http\": { \"listen\": \"127.0.0.1:0\" }, "
	                           "\"shutdown_grace\": \"5s\",",
	                           routes),
	          0);
	CHECK_INT(e2e_run_start(&env, &p, READY_MS), 0);
	if (testing_failed())
		goto out;
	pid = p.pid;
	http_port = e2e_http_port(&p);
	CHECK_TRUE(http_port > 0);

	/* A steady load: the healthy routes alone, then beside the faults. */
	base.from = e2e_wall_ms();
	for (int tick = 0; tick < ticks && !testing_failed(); tick++) {
		long long t = e2e_wall_ms();

		if (tick == BASELINE_TICKS)
			base.to = faults.from = t;
		for (size_t i = 0; i < HEALTHY; i++)
			publish_healthy(&healthy[i]);
		for (size_t i = 0; tick >= BASELINE_TICKS && i < FAULTY; i++)
			publish_faulty(&faulty[i], tick - BASELINE_TICKS);
		alive = alive && e2e_alive(pid);
		t = TICK_MS - (e2e_wall_ms() - t);
		if (t > 0)
			e2e_sleep_ms((int)t);
	}
	faults.to = e2e_wall_ms();
	CHECK_TRUE(e2e_wait_for(all_settled, NULL, SETTLE_MS));
	/* One engine from start to end: never restarted, never started again. */
	CHECK_TRUE(alive && e2e_alive(pid));
	CHECK_INT(p.pid, pid);
	if (!testing_failed())
		check_metrics();
	e2e_stop_checked(&p, STOP_MS, NULL);
	dumped = testing_failed(); /* e2e_stop_checked showed the log */
	CHECK_INT(e2e_file_count(p.log, " ready: "), 1);
	if (testing_failed())
		goto out;

	/* The healthy routes: every task handled once, nothing else. */
	for (size_t i = 0; i < HEALTHY; i++) {
		struct e2e_tally t = { 0 };
		char what[64];

		CHECK_INT(e2e_tally(&env, env.record, "TASKS", healthy[i].name, healthy[i].n, &t),
		          0);
		snprintf(what, sizeof(what), "healthy route %s", healthy[i].name);
		e2e_tally_print(what, &t);
		CHECK_INT(t.handled, healthy[i].n);
		CHECK_INT(t.twice, 0);
		CHECK_INT(t.entered_twice, 0);
		CHECK_INT(t.dead, 0);
		CHECK_INT(t.pending, 0);
		CHECK_INT(t.lost, 0);
	}
	CHECK_INT(e2e_records_read(env.record, &r), 0);
	measure(&r, &base);
	measure(&r, &faults);
	print_phase(&base);
	print_phase(&faults);
	CHECK_RANGE(faults.worst, 0, HEALTHY_MAX_LATENCY_MS);
	/* The faulty routes: the bad tasks dead-lettered as policy says, the
	 * good ones handled once; nothing else in the DLQ. */
	check_letters();
	check_faulty_calls();
	printf("# engine pid %d: the same process throughout, started once\n", (int)pid);
out:
	if (testing_failed() && !dumped && p.log[0] != '\0')
		e2e_proc_dump(&p);
	if (p.pid != 0)
		e2e_proc_stop(&p, SIGKILL, STOP_MS);
	e2e_records_free(&r);
	for (size_t i = 0; i < HEALTHY; i++)
		free(healthy[i].pub_at);
	e2e_teardown(&env);
}

int
main(void)
{
	bool must_fail;

	/* A SIGSEGV kills the worker as in a release build, not through an
	 * ASan report (taskjet and its workers inherit it). */
	testing_let_segv_through();
	if (!nats_server_available("reliability: faulty plugins", &must_fail))
		return must_fail ? 1 : 0;
	RUN(crashing_and_hung_plugins_harm_no_innocent_task);
	nats_Close();
	return testing_done();
}
