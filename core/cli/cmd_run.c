/* SPDX-License-Identifier: MIT */
/*
 * taskjet run: the daemon. Signals are handled on the main thread with
 * sigtimedwait (workers block them): the first SIGTERM/SIGINT stops
 * fetching and lets in-flight handlers finish within shutdown_grace, a
 * second one exits at once; SIGHUP reopens the log file.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory/memory.h"
#include "cli/cli.h"
#include "util/clock.h"
#include "engine/engine.h"
#include "http/http.h"
#include "util/log.h"
#include "engine/metrics.h"
#include "run/run_jetstream.h"
#include "notify/sdnotify.h"

static const char run_usage[] =
    "Usage: taskjet run [-c FILE] [OPTIONS]\n"
    "\n"
    "Run the engine. With the jetstream backend it creates or checks the\n"
    "configured streams and durable consumers and processes tasks until\n"
    "SIGTERM or SIGINT. When no NATS URL is configured anywhere (nats.url,\n"
    "NATS_URL, --nats) it starts a private nats-server on 127.0.0.1 with its\n"
    "store under state_dir. With the memory backend tasks live in process.\n"
    "\n"
    "  -c, --config FILE      config file (default: $TASKJET_CONFIG, else\n"
    "                         " SYSCONFDIR "/taskjet/taskjet.json)\n"
    "  -n, --nats URL         NATS server URL(s), comma-separated\n"
    "  -b, --backend NAME     jetstream or memory (overrides config and env)\n"
    "  -i, --stdin            memory backend: read tasks from stdin, one per\n"
    "                         line as SUBJECT PAYLOAD; exit when all are done\n"
    "  -l, --log-level LEVEL  error, warning, notice, info, debug\n"
    "      --log-format FMT   text or json\n"
    "      --log-file FILE    log to FILE (reopened on SIGHUP)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Signals: TERM/INT stop gracefully (a second one exits at once), HUP\n"
    "reopens the log file.\n"
    "Exit status: 0 after a clean stop, 64 usage, 69 NATS or nats-server\n"
    "unavailable, 78 config or plugin error, 1 other failure.\n";

struct run_options {
	const char *config;
	const char *nats_url;
	const char *backend;
	const char *log_level;
	const char *log_format;
	const char *log_file;
	bool from_stdin;
};

/* Feeds stdin lines to the memory backend, then waits for them to finish. */
struct stdin_feeder {
	struct mem_backend *backend;
	volatile sig_atomic_t done;
	int failures;
};

static void *
stdin_feeder_main(void *arg)
{
	struct stdin_feeder *f = arg;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		char *space;
		int rc;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		space = strchr(line, ' ');
		if (space != NULL)
			*space++ = '\0';
		rc = mem_backend_publish(f->backend, line, space ? space : "",
		                         space ? strlen(space) : 0, NULL, 0, NULL, NULL);
		/* Back-pressure: wait for room rather than drop the task. */
		while (rc == -ENOBUFS) {
			clock_sleep_ms(10);
			rc = mem_backend_publish(f->backend, line, space ? space : "",
			                         space ? strlen(space) : 0, NULL, 0, NULL, NULL);
		}
		if (rc < 0) {
			log_err("stdin: cannot publish on %s: %s", line, strerror(-rc));
			f->failures++;
		}
	}
	free(line);
	while (mem_backend_drain(f->backend, 1000) == -ETIMEDOUT)
		;
	f->done = 1;
	return NULL;
}

static int
run_memory(struct engine *engine, const struct cfg *cfg, const struct run_options *o, sigset_t *set)
{
	struct stdin_feeder feeder = { 0 };
	struct mem_backend *backend = NULL;
	struct http_server *http = NULL;
	struct metrics *metrics = NULL;
	pthread_t feeder_thread;
	struct mem_stats st;
	int status = EXIT_OK, left;

	mem_backend_create(engine, &backend);
	metrics_create(engine_router(engine), &metrics);
	engine_set_metrics(engine, metrics);
	if (mem_backend_start(backend) < 0) {
		status = EXIT_FAILURE_OTHER;
		goto out;
	}
	log_notice("running on the memory backend (%zu routes, capacity %zu)", cfg->route_count,
	           cfg->memory.capacity);
	/* With --stdin the run is a batch job: no endpoint to collide over. */
	if (!o->from_stdin && http_start(&(struct http_env){ .cfg = cfg,
	                                                     .engine = engine,
	                                                     .metrics = metrics,
	                                                     .mem = backend },
	                                 &http) < 0) {
		status = EXIT_UNAVAILABLE;
		goto stop;
	}
	sdnotify_ready("%zu route%s on the memory backend", cfg->route_count,
	               cfg->route_count == 1 ? "" : "s");
	sdnotify_watchdog_start(NULL, NULL);
	feeder.backend = backend;
	if (o->from_stdin &&
	    pthread_create(&feeder_thread, NULL, stdin_feeder_main, &feeder) != 0) {
		status = EXIT_FAILURE_OTHER;
		goto stop;
	}
	if (cli_wait_for_stop(set, o->from_stdin ? &feeder.done : NULL) > 0)
		cli_watch_second_signal(set);
	sdnotify_stopping();
stop:
	sdnotify_watchdog_stop();
	engine_request_stop(engine);
	/* Intake ends first: it publishes into the backend. */
	http_stop(http);
	mem_backend_request_stop(backend);
	left = mem_backend_wait(backend, cfg->shutdown_grace_ms);
	mem_backend_stats(backend, &st);
	log_notice("stopped: %llu published, %llu deliveries, %llu dead letters, "
	           "%llu unfinished",
	           (unsigned long long)st.total_enqueued, (unsigned long long)st.total_dequeued,
	           (unsigned long long)st.dead_letters, (unsigned long long)st.current_size);
	if (left > 0) {
		/* Abandoned handlers still use the engine: leave without
		 * tearing it down under them. */
		log_warn("%d handler(s) still running after the %lld ms grace; "
		         "exiting without them",
		         left, (long long)cfg->shutdown_grace_ms);
		fflush(NULL);
		_exit(EXIT_OK);
	}
	if (o->from_stdin && feeder.done)
		pthread_join(feeder_thread, NULL);
	if (o->from_stdin && feeder.failures > 0)
		status = EXIT_FAILURE_OTHER;
out:
	mem_backend_destroy(backend);
	engine_set_metrics(engine, NULL);
	metrics_destroy(metrics);
	return status;
}

int
cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "nats", required_argument, NULL, 'n' },
		{ "backend", required_argument, NULL, 'b' },
		{ "stdin", no_argument, NULL, 'i' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "log-file", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_options o = { 0 };
	struct engine *engine = NULL;
	struct cfg *cfg = NULL;
	sigset_t set;
	int opt, status;

	while ((opt = getopt_long(argc, argv, "c:n:b:il:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o.config = optarg;
			break;
		case 'n':
			o.nats_url = optarg;
			break;
		case 'b':
			o.backend = optarg;
			break;
		case 'i':
			o.from_stdin = true;
			break;
		case 'l':
			o.log_level = optarg;
			break;
		case 'F':
			o.log_format = optarg;
			break;
		case 'L':
			o.log_file = optarg;
			break;
		case 'h':
			fputs(run_usage, stdout);
			return EXIT_OK;
		default:
			fputs(run_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(run_usage, stderr);
		return EXIT_USAGE;
	}
	status = cli_load_config(o.config, &cfg);
	if (status != EXIT_OK)
		goto out;
	if (o.backend != NULL) {
		if (strcmp(o.backend, "memory") == 0) {
			cfg->backend = CFG_BACKEND_MEMORY;
		} else if (strcmp(o.backend, "jetstream") == 0 || strcmp(o.backend, "nats") == 0) {
			cfg->backend = CFG_BACKEND_JETSTREAM;
		} else {
			fprintf(stderr, "taskjet run: --backend wants jetstream or memory\n");
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (o.from_stdin && cfg->backend != CFG_BACKEND_MEMORY) {
		fprintf(stderr, "taskjet run: --stdin needs the memory backend\n");
		status = EXIT_USAGE;
		goto out;
	}
	status = cli_setup_log(cfg, o.log_level, o.log_format, o.log_file);
	if (status != EXIT_OK)
		goto out;
	status = cli_enter_state_dir(cfg);
	if (status != EXIT_OK)
		goto out;

	/* Block the signals before any thread exists, so every thread
	 * inherits the mask and only the main thread takes them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (engine_create(cfg, NULL, &engine) < 0) {
		status = EXIT_CONFIG;
		goto out;
	}
	if (cfg->backend == CFG_BACKEND_MEMORY)
		status = run_memory(engine, cfg, &o, &set);
	else
		status = run_jetstream(engine, cfg, o.nats_url, &set);
out:
	engine_destroy(engine);
	cfg_free(cfg);
	log_close();
	return status;
}
