/* SPDX-License-Identifier: MIT */
/*
 * Reliability under process faults (docs/reliability.md, "Process
 * faults"): the real `taskjet run` under a backlog of tasks while
 *   - the engine is SIGKILLed and restarted again and again: nothing is
 *     lost; what is handled twice is counted and stays within what the
 *     route may hold at a kill (concurrency + prefetch, its window);
 *   - the engine is stopped with SIGTERM and restarted again and again:
 *     nothing lost, nothing handled twice;
 *   - its nats-server is SIGKILLed and SIGTERMed and restarted on the same
 *     store while the engine keeps running: it reconnects, nothing lost.
 * Every task is counted from fx_ledger's record of each verdict, the work
 * stream and the DLQ (e2e_tally). Sizes come from the environment
 * (TASKJET_REL_TASKS, TASKJET_REL_KILLS) so a longer run reproduces the
 * issue's scale; the defaults keep each case well under a minute with
 * ASan on a busy 2-core machine.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "run_harness.h"
#include "testing.h"

#define READY_MS 20000
#define STOP_MS 30000
#define SETTLE_MS 60000 /* plus the backlog's share: settle_ms() */

#define CONCURRENCY 8
#define BATCH 16
#define PREFETCH 32 /* 2 x batch, spelled out: a fixed window for the bound */
#define WINDOW (CONCURRENCY + PREFETCH)
#define SLEEP_MS 20 /* each task's work: 8 workers, about 400 tasks/s */
#define SPACING_MS 1000 /* between two faults */

static struct e2e env;

static size_t
env_size(const char *name, size_t dflt, size_t lo, size_t hi)
{
	const char *v = getenv(name);
	char *end;
	unsigned long long n;

	if (v == NULL || *v == '\0')
		return dflt;
	n = strtoull(v, &end, 10);
	if (*end != '\0' || n < lo || n > hi) {
		printf("# %s=%s ignored (want %zu..%zu)\n", name, v, lo, hi);
		return dflt;
	}
	return (size_t)n;
}

static size_t tasks_n;
static size_t faults_n;

/* How long the backlog may take to be worked off after the last fault:
 * twice its nominal work on top (20,000 tasks are 50 s of it). */
static int
settle_ms(void)
{
	return SETTLE_MS + (int)(tasks_n * SLEEP_MS * 2 / CONCURRENCY);
}

static int
write_config(void)
{
	char routes[1024];

	snprintf(routes, sizeof(routes),
	         "[ { \"name\": \"work\", \"stream\": \"TASKS\", \"subject\": \"tasks.work\", "
	         "\"plugin\": \"fx_ledger\", \"concurrency\": %d, \"batch\": %d, "
	         "\"prefetch\": %d, \"max_attempts\": 20, \"ack_wait\": \"2s\", "
	         "\"fetch_wait\": \"500ms\", \"config\": { \"sleep_ms\": %d, "
	         "\"record_file\": \"%s\" } } ]",
	         CONCURRENCY, BATCH, PREFETCH, SLEEP_MS, env.record);
	return e2e_write_config(
	    &env, "\"http\": { \"listen\": \"\" }, \"shutdown_grace\": \"20s\",", routes);
}

static size_t
done_now(void)
{
	return e2e_file_count(env.record, " done ");
}

static bool
all_done_and_settled(void *arg)
{
	return e2e_records_done_now(env.record) >= tasks_n &&
	       e2e_settled(&env, "TASKS", "taskjet-work");
}

/* Start (or restart) the engine; false after a failed check. */
static bool
start(struct e2e_proc *p)
{
	int rc = e2e_run_start(&env, p, READY_MS);

	CHECK_INT(rc, 0);
	if (rc != 0)
		e2e_proc_dump(p);
	return rc == 0;
}

/*
 * The engine stopped by `sig` faults_n times, SPACING_MS apart, each
 * time restarted at once. Returns the tally once all is settled.
 */
static void
engine_fault_loop(int sig, const char *what, struct e2e_tally *t)
{
	struct e2e_proc p = { 0 };
	size_t before = 0, at_last = 0;
	int64_t t0;
	int kills = 0;

	memset(t, 0, sizeof(*t));
	if (!e2e_setup_checked(&env))
		goto out;
	CHECK_INT(write_config(), 0);
	if (!start(&p))
		goto out;
	CHECK_INT(e2e_publish_many(&env, "tasks.work", "t", 0, tasks_n), 0);
	t0 = e2e_now_ms();
	for (size_t i = 0; i < faults_n && !testing_failed(); i++) {
		e2e_sleep_ms(SPACING_MS);
		/* Under load: it handled tasks since the last fault. */
		CHECK_TRUE(done_now() > before);
		CHECK_INT(e2e_proc_stop(&p, sig, STOP_MS), 0);
		if (sig == SIGKILL)
			CHECK_TRUE(WIFSIGNALED(p.status) && WTERMSIG(p.status) == SIGKILL);
		else
			CHECK_TRUE(e2e_proc_exited_ok(&p));
		if (testing_failed())
			e2e_proc_dump(&p);
		kills++;
		at_last = before = done_now();
		if (!testing_failed() && !start(&p))
			break;
	}
	/* The last fault still left work to do. */
	CHECK_TRUE(at_last < tasks_n);
	if (!testing_failed())
		CHECK_TRUE(e2e_wait_for(all_done_and_settled, NULL, settle_ms()));
	if (p.pid != 0)
		e2e_stop_checked(&p, STOP_MS, NULL);
	CHECK_INT(e2e_tally(&env, env.record, "TASKS", "t", tasks_n, t), 0);
	printf("# %s: %d faults %d ms apart over %lld ms; %zu handled before the last\n", what,
	       kills, SPACING_MS, (long long)(e2e_now_ms() - t0), at_last);
	e2e_tally_print(what, t);
	CHECK_INT(t->lost, 0);
	CHECK_INT(t->dead, 0);
	CHECK_INT(t->pending, 0);
	CHECK_INT(t->handled, tasks_n);
out:
	e2e_teardown(&env);
}

TEST(engine_sigkilled_under_load_loses_nothing)
{
	struct e2e_tally t;

	engine_fault_loop(SIGKILL, "engine SIGKILL", &t);
	/* A task is handled twice when its verdict was given but its ack
	 * died with the engine, and its handler is entered again when the
	 * kill cut the first call short: either way it was one of what the
	 * route held at the kill, at most a window. */
	CHECK_RANGE(t.extra, 0, faults_n * WINDOW);
	CHECK_RANGE(t.entered_twice, 0, faults_n * WINDOW);
	printf("# engine SIGKILL: %zu handled twice (%.3f %%), %zu entered twice (%.3f %%); "
	       "bound %zu kills x window %d (concurrency %d + prefetch %d) = %zu\n",
	       t.twice, tasks_n > 0 ? 100.0 * (double)t.twice / (double)tasks_n : 0.0,
	       t.entered_twice,
	       tasks_n > 0 ? 100.0 * (double)t.entered_twice / (double)tasks_n : 0.0, faults_n,
	       WINDOW, CONCURRENCY, PREFETCH, faults_n * WINDOW);
}

TEST(engine_sigtermed_under_load_hands_everything_back)
{
	struct e2e_tally t;

	engine_fault_loop(SIGTERM, "engine SIGTERM", &t);
	CHECK_INT(t.twice, 0);
	CHECK_INT(t.entered_twice, 0);
}

/* ----- the server stopped under the engine ----- */

static bool
consumer_idle(void *arg)
{
	uint64_t pending = 1, ack_pending = 1;

	return e2e_records_done_now(env.record) >= tasks_n &&
	       e2e_consumer_pending(&env, "TASKS", "taskjet-work", &pending, &ack_pending) == 0 &&
	       pending == 0 && ack_pending == 0;
}

TEST(server_killed_and_stopped_under_load_engine_reconnects)
{
	static const int sigs[] = { SIGKILL, SIGTERM, SIGKILL, SIGTERM };
	struct e2e_proc p = { 0 };
	struct e2e_tally t = { 0 };
	size_t before = 0, at_last = 0;
	int64_t down_ms = 0, t0;
	pid_t pid;

	if (!e2e_setup_checked(&env))
		goto out;
	CHECK_INT(write_config(), 0);
	if (!start(&p))
		goto out;
	pid = p.pid;
	CHECK_INT(e2e_publish_many(&env, "tasks.work", "t", 0, tasks_n), 0);
	t0 = e2e_now_ms();
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]) && !testing_failed(); i++) {
		int64_t t1;

		e2e_sleep_ms(SPACING_MS);
		CHECK_TRUE(done_now() > before);
		t1 = e2e_now_ms();
		CHECK_INT(nats_server_stop(&env.srv, sigs[i]), 0);
		at_last = before = done_now();
		e2e_sleep_ms(SPACING_MS / 2);
		CHECK_INT(nats_server_restart(&env.srv), 0);
		down_ms += e2e_now_ms() - t1;
		/* The engine rode it out: same process, still running. */
		CHECK_INT(waitpid(pid, &p.status, WNOHANG), 0);
	}
	CHECK_TRUE(at_last < tasks_n);
	if (!testing_failed())
		CHECK_TRUE(e2e_wait_for(consumer_idle, NULL, settle_ms()));
	CHECK_INT(p.pid, pid);
	e2e_stop_checked(&p, STOP_MS, NULL);
	CHECK_TRUE(e2e_file_count(p.log, "reconnected to") >= sizeof(sigs) / sizeof(sigs[0]));
	CHECK_INT(e2e_tally(&env, env.record, "TASKS", "t", tasks_n, &t), 0);
	printf("# server faults: SIGKILL, SIGTERM, SIGKILL, SIGTERM %d ms apart, down %lld ms in "
	       "all, over %lld ms; the engine (pid %d) reconnected each time\n",
	       SPACING_MS, (long long)down_ms, (long long)(e2e_now_ms() - t0), (int)pid);
	e2e_tally_print("server faults", &t);
	CHECK_INT(t.lost, 0);
	CHECK_INT(t.dead, 0);
	CHECK_INT(t.pending, 0);
	CHECK_INT(t.handled, tasks_n);
	/* No bound on what is handled twice here: acks sent as the server
	 * went down are lost with it, and after a SIGKILL the server's
	 * consumer state is the last it wrote, so tasks acked well before
	 * can come back (and acked ones stay stored: ghosts, natsc.md
	 * §0.11). Reported, not asserted. */
	if (testing_failed())
		e2e_proc_dump(&p);
out:
	e2e_teardown(&env);
}

int
main(void)
{
	bool must_fail;

	if (!nats_server_available("reliability: process faults", &must_fail))
		return must_fail ? 1 : 0;
	tasks_n = env_size("TASKJET_REL_TASKS", 3000, 100, 1000000);
	faults_n = env_size("TASKJET_REL_KILLS", 5, 1, 100);
	printf("# %zu tasks, %zu faults per case (TASKJET_REL_TASKS, TASKJET_REL_KILLS)\n", tasks_n,
	       faults_n);
	RUN(engine_sigkilled_under_load_loses_nothing);
	RUN(engine_sigtermed_under_load_hands_everything_back);
	RUN(server_killed_and_stopped_under_load_engine_reconnects);
	nats_Close();
	return testing_done();
}
