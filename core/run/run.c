/* SPDX-License-Identifier: MIT */
/*
 * taskjet run. Order matters: backend (its server, embedded if none is
 * configured), topology, consumers, HTTP, readiness; on stop the reverse,
 * with in-flight handlers given shutdown_grace to finish and their results
 * sent before the connection closes. Signals are taken on the main thread
 * with sigtimedwait (workers block them): the first SIGTERM/SIGINT stops
 * fetching, a second one exits at once; SIGHUP reopens the log file.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "task/metrics.h"
#include "engine/workers.h"
#include "http/http.h"
#include "notify/sdnotify.h"
#include "run/backends.h"
#include "run/run.h"
#include "util/clock.h"
#include "util/exitcode.h"
#include "util/log.h"

/* How long the worker threads get to return once the worker processes of
 * their calls were killed at the end of the grace (a receive tick, a nak). */
#define STOP_CALLS_WAIT_MS 2000

void
run_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

/* Wait for signals until a stop: 1, or 0 if `done` became true first. */
static int
wait_for_stop(const sigset_t *set, volatile sig_atomic_t *done)
{
	struct timespec tick = { 0, 200 * 1000000L };

	for (;;) {
		int sig = sigtimedwait(set, NULL, &tick);

		if (done != NULL && *done)
			return 0;
		if (sig == SIGHUP) {
			int rc = log_reopen();

			if (rc < 0)
				log_err("cannot reopen the log: %s", strerror(-rc));
			else
				log_notice("log reopened");
		} else if (sig == SIGTERM || sig == SIGINT) {
			log_notice("received %s: stopping (send it again to exit at once)",
			           sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return 1;
		}
	}
}

/* After the first stop signal: a second one ends the process at once. */
static void *
second_signal_main(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	stop_signals(&set);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_reopen();
			continue;
		}
		log_warn("second %s: exiting now; unfinished tasks will be "
		         "redelivered",
		         sig == SIGTERM ? "SIGTERM" : "SIGINT");
		_exit(EXIT_FAILURE_OTHER);
	}
	return NULL;
}

static void
watch_second_signal(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, second_signal_main, NULL) == 0)
		pthread_detach(t);
}

/* Feeds stdin lines to the backend, then waits for them to finish. */
struct stdin_feeder {
	struct backend *backend;
	volatile sig_atomic_t done;
	int failures;
};

static void *
stdin_feeder_main(void *arg)
{
	struct stdin_feeder *f = arg;
	struct backend *b = f->backend;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		struct publish_msg m = { 0 };
		char *space;
		int rc;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		space = strchr(line, ' ');
		if (space != NULL)
			*space++ = '\0';
		m.subject = line;
		m.data = space != NULL ? space : "";
		m.len = space != NULL ? strlen(space) : 0;
		/* Back-pressure: wait for room rather than drop the task. */
		while ((rc = b->ops->publish(b, &m, NULL)) == -ENOBUFS)
			clock_sleep_ms(10);
		if (rc < 0) {
			log_err("stdin: cannot publish on %s: %s", line, strerror(-rc));
			f->failures++;
		}
	}
	free(line);
	while (backend_drain(b, 1000) == -ETIMEDOUT)
		;
	f->done = 1;
	return NULL;
}

static void
log_topology_line(void *arg, const char *line)
{
	log_info("topology: %s", line);
}

static bool
backend_healthy(void *arg)
{
	struct backend *b = arg;

	return b->ops->healthy(b);
}

int
run_engine(struct engine *engine, const struct cfg *cfg, const struct run_opts *o)
{
	struct stdin_feeder feeder = { 0 };
	struct backend *backend = NULL;
	struct http_server *http = NULL;
	struct metrics *metrics = NULL;
	struct workers *workers = NULL;
	pthread_t feeder_thread;
	bool feeding = false;
	sigset_t set;
	unsigned nworkers = 0;
	int64_t stop_started;
	int status = EXIT_OK, rc, left;

	stop_signals(&set);
	rc = backend_open(cfg, &(struct backend_open_opts){ .url = o->url }, &backend);
	if (rc < 0) {
		status = EXIT_UNAVAILABLE;
		goto out;
	}
	rc = backend_ensure_topology(backend, false, log_topology_line, NULL);
	if (rc < 0) {
		log_err("the server's streams and consumers do not match the config "
		        "(see above); fix them or the config");
		status = rc == -EEXIST ? EXIT_CONFIG : EXIT_UNAVAILABLE;
		goto out;
	}
	engine_set_backend(engine, backend);
	metrics_create(engine_router(engine), &metrics);
	engine_set_metrics(engine, metrics);
	rc = backend->ops->start(backend, engine_router(engine), engine_sink(engine));
	if (rc < 0) {
		log_err("cannot start the consumers: %s", strerror(-rc));
		status = rc == -ENOENT || rc == -ENOTCONN ? EXIT_UNAVAILABLE : EXIT_FAILURE_OTHER;
		goto out;
	}
	rc = workers_start(backend, engine_router(engine), engine_sink(engine), &workers);
	if (rc < 0) {
		status = EXIT_FAILURE_OTHER;
		backend->ops->wait(backend, 0);
		goto out;
	}
	for (size_t i = 0; i < cfg->route_count; i++)
		nworkers += (unsigned)cfg->routes[i].concurrency;
	log_notice("ready: %zu route%s, %u worker%s on %s", cfg->route_count,
	           cfg->route_count == 1 ? "" : "s", nworkers, nworkers == 1 ? "" : "s",
	           backend->ops->location(backend));
	/* With --stdin the run is a batch job: no endpoint to collide over. */
	if (!o->from_stdin) {
		rc = http_start(
		    &(struct http_env){
		        .cfg = cfg, .engine = engine, .metrics = metrics, .backend = backend },
		    &http);
		if (rc < 0) {
			status = EXIT_UNAVAILABLE;
			goto stop;
		}
	}
	sdnotify_ready("%zu route%s, %u worker%s on %s", cfg->route_count,
	               cfg->route_count == 1 ? "" : "s", nworkers, nworkers == 1 ? "" : "s",
	               backend->ops->location(backend));
	sdnotify_watchdog_start(backend_healthy, backend);
	if (o->from_stdin) {
		feeder.backend = backend;
		if (pthread_create(&feeder_thread, NULL, stdin_feeder_main, &feeder) != 0) {
			status = EXIT_FAILURE_OTHER;
			goto stop;
		}
		feeding = true;
	}
	if (wait_for_stop(&set, feeding ? &feeder.done : NULL) > 0)
		watch_second_signal();
	sdnotify_stopping();
stop:
	sdnotify_watchdog_stop();
	engine_request_stop(engine);
	/* Intake and probes end first: they publish through the backend. */
	http_stop(http);
	stop_started = clock_mono_ms();
	backend->ops->request_stop(backend);
	left = workers_wait(workers, cfg->shutdown_grace_ms);
	if (left > 0) {
		/* Handlers in worker processes can be stopped: their tasks go
		 * back at once instead of after ack_wait. */
		engine_stop_calls(engine);
		left = workers_wait_processes(workers, STOP_CALLS_WAIT_MS);
	}
	left +=
	    backend->ops->wait(backend, cfg->shutdown_grace_ms - (clock_mono_ms() - stop_started));
	if (left > 0) {
		/* Their tasks stay unsettled and come back later. The handlers
		 * still use the engine, so leave without tearing anything down
		 * under them (the backend stops what must not outlive us). */
		log_warn("%d worker(s) still busy after the %lld ms grace; exiting "
		         "without them (their tasks will be redelivered)",
		         left, (long long)cfg->shutdown_grace_ms);
		backend_destroy(backend);
		fflush(NULL);
		_exit(EXIT_OK);
	}
	if (feeding && feeder.done) {
		pthread_join(feeder_thread, NULL);
		if (feeder.failures > 0)
			status = EXIT_FAILURE_OTHER;
	}
	if (status == EXIT_OK)
		log_notice("stopped cleanly");
out:
	sdnotify_watchdog_stop();
	workers_destroy(workers);
	engine_set_metrics(engine, NULL);
	engine_set_backend(engine, NULL);
	backend_destroy(backend);
	metrics_destroy(metrics);
	return status;
}
