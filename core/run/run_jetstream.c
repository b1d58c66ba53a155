/* SPDX-License-Identifier: MIT */
/*
 * taskjet run on JetStream. Order matters: server (embedded if none is
 * configured), connection, topology, then consumers; on stop the reverse,
 * with in-flight handlers given shutdown_grace to finish and their results
 * acked before the connection closes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nats/jetstream.h"
#include "cli/cli.h"
#include "nats/embedded.h"
#include "http/http.h"
#include "util/log.h"
#include "engine/metrics.h"
#include "run/run_jetstream.h"
#include "notify/sdnotify.h"

void
run_embedded_url_path(const struct cfg *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%s/nats.url", cfg->state_dir);
}

static int
process_task(void *ctx, struct tj_task *task)
{
	int rc = engine_process(ctx, task, NULL);

	task_release(task);
	return rc;
}

static int
dead_letter_task(void *ctx, struct tj_task *task, enum dlq_reason reason, const char *error)
{
	struct disp_result res;
	int rc = engine_dead_letter(ctx, task, reason, error, &res);

	task_release(task);
	if (rc == 0 && res.outcome != DISP_DEAD_LETTERED)
		rc = -EIO; /* not stored: keep the advisory for a later try */
	return rc;
}

static bool
backend_healthy(void *backend)
{
	return js_backend_connected(backend);
}

static void
log_topology_line(void *arg, const char *line)
{
	log_info("topology: %s", line);
}

/* Record the embedded server's URL for `taskjet publish` and friends. */
static void
write_url_file(const struct cfg *cfg, const char *url)
{
	char path[4096];
	FILE *fp;

	run_embedded_url_path(cfg, path, sizeof(path));
	fp = fopen(path, "w");
	if (fp == NULL) {
		log_warn("cannot record the server URL in %s: %s", path, strerror(errno));
		return;
	}
	fprintf(fp, "%s\n", url);
	fclose(fp);
}

static void
remove_url_file(const struct cfg *cfg)
{
	char path[4096];

	run_embedded_url_path(cfg, path, sizeof(path));
	unlink(path);
}

int
run_jetstream(struct engine *engine, const struct cfg *cfg, const char *url, sigset_t *set)
{
	struct js_callbacks cb = { process_task, dead_letter_task, engine };
	struct embedded *server = NULL;
	struct js_backend *backend = NULL;
	struct http_server *http = NULL;
	struct metrics *metrics = NULL;
	int status = EXIT_OK, rc, left;
	unsigned workers = 0;

	if (url == NULL)
		url = cfg->nats.url;
	if (url == NULL) {
		rc = embedded_start(cfg->state_dir, NULL, &server);
		if (rc < 0) {
			status = EXIT_UNAVAILABLE;
			goto out;
		}
		url = embedded_url(server);
		log_notice("no NATS URL configured: started a private nats-server at %s "
		           "(store in %s/nats)",
		           url, cfg->state_dir);
		write_url_file(cfg, url);
	}
	rc = js_backend_create(cfg, url, NULL, &backend);
	if (rc < 0) {
		status = EXIT_UNAVAILABLE;
		goto out;
	}
	rc = js_backend_ensure_topology(backend, false, log_topology_line, NULL);
	if (rc < 0) {
		log_err("the server's streams and consumers do not match the config "
		        "(see above); fix them or the config");
		status = rc == -EEXIST ? EXIT_CONFIG : EXIT_UNAVAILABLE;
		goto out;
	}
	engine_set_backend(engine, js_backend_base(backend));
	metrics_create(engine_router(engine), &metrics);
	engine_set_metrics(engine, metrics);
	js_backend_set_metrics(backend, metrics);
	rc = js_backend_start(backend, engine_router(engine), &cb);
	if (rc < 0) {
		log_err("cannot start the consumers: %s", strerror(-rc));
		status = EXIT_UNAVAILABLE;
		goto out;
	}
	for (size_t i = 0; i < cfg->route_count; i++)
		workers += (unsigned)cfg->routes[i].concurrency;
	log_notice("ready: %zu route%s, %u worker%s on %s", cfg->route_count,
	           cfg->route_count == 1 ? "" : "s", workers, workers == 1 ? "" : "s", url);
	rc = http_start(
	    &(struct http_env){ .cfg = cfg, .engine = engine, .metrics = metrics, .js = backend },
	    &http);
	if (rc < 0) {
		status = EXIT_UNAVAILABLE;
		engine_request_stop(engine);
		js_backend_wait(backend, cfg->shutdown_grace_ms);
		goto out;
	}
	sdnotify_ready("%zu route%s, %u worker%s on %s", cfg->route_count,
	               cfg->route_count == 1 ? "" : "s", workers, workers == 1 ? "" : "s", url);
	sdnotify_watchdog_start(backend_healthy, backend);

	if (cli_wait_for_stop(set, NULL) > 0)
		cli_watch_second_signal(set);
	sdnotify_stopping();
	engine_request_stop(engine);
	/* Intake and probes end first: they publish through the backend. */
	http_stop(http);
	left = js_backend_wait(backend, cfg->shutdown_grace_ms);
	if (left > 0) {
		/* Their tasks stay unacked; the server redelivers them after
		 * ack_wait. The handlers still use the engine, so leave
		 * without tearing anything down under them. */
		log_warn("%d worker(s) still busy after the %lld ms grace; exiting "
		         "without them (their tasks will be redelivered)",
		         left, (long long)cfg->shutdown_grace_ms);
		if (server != NULL) {
			remove_url_file(cfg);
			embedded_stop(server);
		}
		fflush(NULL);
		_exit(EXIT_OK);
	}
	log_notice("stopped cleanly");
out:
	sdnotify_watchdog_stop();
	js_backend_destroy(backend);
	engine_set_metrics(engine, NULL);
	metrics_destroy(metrics);
	if (server != NULL) {
		remove_url_file(cfg);
		embedded_stop(server);
	}
	return status;
}
