/* SPDX-License-Identifier: MIT */
/*
 * procpool_bench: what process isolation costs per call, without NATS.
 * The same fixture handler is called N times in-thread (plugin_call, as the
 * engine's thread mode does) and through the process pool (one IPC round
 * trip per call), from C threads at once, each on its own slot:
 *
 *   procpool_bench [-n CALLS] [-m MS_CALLS] FIXTURE_PLUGIN_DIR
 *
 * Cases: fx_noop at concurrency 1 and 2, and fx_isolate's "sleep:1" (a
 * 1 ms handler) at concurrency 8. Prints calls/s and wall microseconds per
 * call for each mode, the CPU time each spends per call (user + system;
 * in process mode the engine threads and the workers together), and the
 * process/thread ratio of calls/s. Needs TASKJET_WORKER (or an installed worker). Run by
 * `make bench-procpool`; not a test.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "task/router.h"
#include "task/task.h"
#include "plugin/loader.h"
#include "plugin/procpool.h"
#include "util/clock.h"

struct run {
	const char *plugin;
	const char *payload;
	unsigned threads;
	long calls; /* per thread */
	const struct plugin_handler *handler; /* thread mode */
	struct procpool *pool; /* process mode */
	long failed;
};

struct worker_arg {
	struct run *run;
	unsigned slot;
	long failed;
};

static struct cfg_route route_cfg = { .name = "bench", .max_attempts = 3 };
static struct route route = { .cfg = &route_cfg };

static void
task_init(struct tj_task *t, const char *payload)
{
	memset(t, 0, sizeof(*t));
	t->subject = "bench.task";
	t->payload = payload;
	t->payload_len = strlen(payload);
	t->stream = "BENCH";
	t->stream_seq = 1;
	t->attempt = 1;
	snprintf(t->id, sizeof(t->id), "BENCH:1");
	t->route = &route;
	t->retry_after_ms = -1;
}

static void *
caller(void *arg)
{
	struct worker_arg *w = arg;
	struct run *r = w->run;
	struct procpool_outcome out;
	struct tj_task t;

	task_init(&t, r->payload);
	for (long i = 0; i < r->calls; i++) {
		if (r->pool == NULL) {
			if (plugin_call(r->handler, &t) != TJ_DONE)
				w->failed++;
		} else if (procpool_call(r->pool, w->slot, &t, 0, &out) != 0 ||
		           out.result != PROCPOOL_VERDICT || out.verdict != TJ_DONE) {
			w->failed++;
		}
	}
	task_release(&t);
	return NULL;
}

/* CPU microseconds (user + system) of `who` so far. */
static double
cpu_us(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Calls per second over all threads. */
static double
measure(struct run *r)
{
	pthread_t tids[64];
	struct worker_arg args[64];
	int64_t t0, t1;

	t0 = clock_mono_us();
	for (unsigned i = 0; i < r->threads; i++) {
		args[i] = (struct worker_arg){ .run = r, .slot = i };
		pthread_create(&tids[i], NULL, caller, &args[i]);
	}
	for (unsigned i = 0; i < r->threads; i++) {
		pthread_join(tids[i], NULL);
		r->failed += args[i].failed;
	}
	t1 = clock_mono_us();
	return (double)r->calls * r->threads * 1e6 / (double)(t1 - t0);
}

static int
bench_case(const char *dir, const char *plugin, const char *handler, const char *payload,
           unsigned threads, long calls, const char *label)
{
	struct run r = { .plugin = plugin, .payload = payload, .threads = threads };
	struct procpool_options o = {
		.plugin_dir = dir,
		.plugin = plugin,
		.route = "bench",
		.workers = threads,
	};
	struct plugin_instance *inst = NULL;
	double thread_rate, proc_rate, cpu0, cpu, thread_cpu;
	long total;
	char err[512];

	r.calls = calls / threads;
	if (plugin_instance_create(dir, plugin, "bench", "{}", 2, err, sizeof(err), &inst) < 0) {
		fprintf(stderr, "procpool_bench: %s\n", err);
		return 1;
	}
	r.handler = plugin_instance_handler(inst, handler);
	cpu0 = cpu_us(RUSAGE_SELF);
	thread_rate = measure(&r);
	thread_cpu = (cpu_us(RUSAGE_SELF) - cpu0) / (double)(r.calls * threads);
	plugin_instance_destroy(inst);

	/* The workers' CPU is counted when they are reaped, at destroy. */
	cpu0 = cpu_us(RUSAGE_SELF) + cpu_us(RUSAGE_CHILDREN);
	if (procpool_create(&o, NULL, err, sizeof(err), &r.pool) < 0) {
		fprintf(stderr, "procpool_bench: %s\n", err);
		return 1;
	}
	r.calls = 2000 / threads > 0 ? 2000 / threads : 1; /* warm up */
	total = r.calls * threads;
	measure(&r);
	r.calls = calls / threads;
	total += r.calls * threads;
	proc_rate = measure(&r);
	procpool_destroy(r.pool);
	cpu = cpu_us(RUSAGE_SELF) + cpu_us(RUSAGE_CHILDREN) - cpu0;

	printf("%-28s %11.0f %8.2f %7.2f %10.0f %8.2f %7.2f %6.3f%s\n", label, thread_rate,
	       1e6 * threads / thread_rate, thread_cpu, proc_rate, 1e6 * threads / proc_rate,
	       cpu / (double)total, proc_rate / thread_rate,
	       r.failed > 0 ? "  (some calls failed!)" : "");
	return r.failed > 0;
}

int
main(int argc, char **argv)
{
	long calls = 200000, ms_calls = 4000;
	const char *dir;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "n:m:")) != -1) {
		if (opt == 'n')
			calls = atol(optarg);
		else if (opt == 'm')
			ms_calls = atol(optarg);
		else
			goto usage;
	}
	if (optind != argc - 1 || calls < 1 || ms_calls < 8)
		goto usage;
	dir = argv[optind];
	log_setup(TJ_LOG_WARNING, LOG_FORMAT_TEXT, NULL);
	printf("%-28s %11s %8s %7s %10s %8s %7s %6s\n", "", "thread", "", "", "process", "", "",
	       "");
	printf("%-28s %11s %8s %7s %10s %8s %7s %6s\n", "case", "calls/s", "us/call", "cpu us",
	       "calls/s", "us/call", "cpu us", "ratio");
	rc |= bench_case(dir, "fx_noop", "fx_noop", "{}", 1, calls, "no-op, concurrency 1");
	rc |= bench_case(dir, "fx_noop", "fx_noop", "{}", 2, calls, "no-op, concurrency 2");
	rc |= bench_case(dir, "fx_isolate", "fx_isolate", "sleep:1", 8, ms_calls,
	                 "1 ms handler, concurrency 8");
	return rc;
usage:
	fprintf(stderr, "usage: procpool_bench [-n CALLS] [-m MS_CALLS] FIXTURE_PLUGIN_DIR\n");
	return 64;
}
