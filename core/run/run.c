/* SPDX-License-Identifier: MIT */
/*
 * taskjet run. Order matters: backend (its server, embedded if none is
 * configured), topology, consumers, HTTP, readiness; on stop the reverse,
 * with in-flight handlers given shutdown_grace to finish and their results
 * sent before the connection closes. Signals are taken on the main thread
 * with sigtimedwait (workers block them): the first SIGTERM/SIGINT stops
 * fetching, a second one exits at once; SIGHUP reopens the log file and
 * reloads the config.
 *
 * A reload builds a new generation (engine with its plugins or worker
 * processes, a second backend with its own pull subscriptions on the same
 * durables, metrics, worker threads) from the new config and starts it
 * beside the running one; then HTTP and the watchdog move to it, and the
 * old generation stops taking tasks (what it had queued goes back to the
 * server with a nak, unstarted) and retires in the background: its
 * handlers finish within shutdown_grace (worker processes still in a call
 * then are killed and their tasks given back), its acks are flushed, and
 * its plugins finalised and unloaded. Anything that fails before the swap
 * leaves the running generation as it was. The main thread does all of it
 * between signals; POST /api/v1/reload asks it and waits for the answer.
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
#include "util/xalloc.h"

/* How long the worker threads get to return once the worker processes of
 * their calls were killed at the end of the grace (a receive tick, a nak). */
#define STOP_CALLS_WAIT_MS 2000
/* How often the main thread looks at signals, reload requests and
 * retiring generations. */
#define TICK_MS 100
/* How long POST /api/v1/reload waits for the main thread's answer. */
#define RELOAD_ANSWER_MS 300000
/* Beyond a route's fetch_wait, how long its last pull request may take to
 * end at the server and be heard of (a retiring backend hands back what
 * such a request still brings). */
#define PULL_END_MS 1500

/* One config at work: its engine, backend, metrics and worker threads. */
struct generation {
	struct cfg *cfg;
	struct engine *engine;
	struct backend *backend;
	struct metrics *metrics;
	struct workers *workers;
	unsigned nworkers;
	/* Retiring: when it was told to stop, and when its worker processes
	 * were (0: not yet). */
	int64_t stopped_ms;
	int64_t calls_stopped_ms;
	struct generation *next;
};

struct daemon {
	const struct run_opts *o;
	struct generation *cur;
	struct generation *retiring; /* stopped, finishing their tasks */
	struct generation *stuck; /* handler threads that never returned */
	struct http_server *http;
	/* A reload asked over HTTP, answered by the main thread. */
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool asked, answered, stopping;
	int status;
	struct mbuf answer;
};

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

/* ----- generations ----- */

/*
 * Open g's backend (sharing what `replacing` owns, if anything), set up the
 * topology and start the consumers and worker threads. 0, or -errno with
 * why in err and the exit status it means in *status_r; nothing of g's
 * backend is left running then.
 */
static int
gen_start(struct generation *g, const struct run_opts *o, const struct backend *replacing,
          char *err, size_t errlen, int *status_r)
{
	int rc;

	err[0] = '\0';
	rc =
	    backend_open(g->cfg,
	                 &(struct backend_open_opts){
	                     .url = o->url, .replacing = replacing, .err = err, .err_len = errlen },
	                 &g->backend);
	if (rc < 0) {
		/* The backend says why in err (once); else say what failed. */
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot open the %s backend: %s",
			         backend_kind_name(g->cfg), strerror(-rc));
		/* A secret or TLS file that cannot be used is the config's fault. */
		*status_r = rc == -EINVAL ? EXIT_CONFIG : EXIT_UNAVAILABLE;
		return rc;
	}
	rc = backend_ensure_topology(g->backend, false, log_topology_line, NULL);
	if (rc < 0) {
		snprintf(err, errlen,
		         "the server's streams and consumers do not match the config (see the "
		         "log); fix them or the config");
		*status_r = rc == -EEXIST ? EXIT_CONFIG : EXIT_UNAVAILABLE;
		goto fail;
	}
	engine_set_backend(g->engine, g->backend);
	metrics_create(engine_router(g->engine), &g->metrics);
	engine_set_metrics(g->engine, g->metrics);
	rc = g->backend->ops->start(g->backend, engine_router(g->engine), engine_sink(g->engine));
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the consumers: %s", strerror(-rc));
		*status_r =
		    rc == -ENOENT || rc == -ENOTCONN ? EXIT_UNAVAILABLE : EXIT_FAILURE_OTHER;
		goto fail;
	}
	rc = workers_start(g->backend, engine_router(g->engine), engine_sink(g->engine),
	                   &g->workers);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the worker threads: %s", strerror(-rc));
		*status_r = EXIT_FAILURE_OTHER;
		g->backend->ops->wait(g->backend, 0);
		goto fail;
	}
	for (size_t i = 0; i < g->cfg->route_count; i++)
		g->nworkers += (unsigned)g->cfg->routes[i].concurrency;
	return 0;
fail:
	engine_set_metrics(g->engine, NULL);
	engine_set_backend(g->engine, NULL);
	backend_destroy(g->backend);
	g->backend = NULL;
	metrics_destroy(g->metrics);
	g->metrics = NULL;
	return rc;
}

/* Free what a generation holds; its threads must be finished. */
static void
gen_free(struct generation *g)
{
	workers_destroy(g->workers);
	engine_set_metrics(g->engine, NULL);
	engine_set_backend(g->engine, NULL);
	backend_destroy(g->backend);
	metrics_destroy(g->metrics);
	engine_destroy(g->engine);
	cfg_free(g->cfg);
	free(g);
}

/* Stop taking tasks: what is queued goes back to the server. */
static void
gen_stop_intake(struct generation *g)
{
	engine_request_stop(g->engine);
	g->backend->ops->request_stop(g->backend);
	g->stopped_ms = clock_mono_ms();
}

/*
 * Wait until deadline_ms for g's handlers, stopping its worker processes
 * if any are still in a call then, and flush its backend. Returns how many
 * threads are still busy (handler threads that did not return).
 */
static int
gen_finish(struct generation *g, int64_t deadline_ms)
{
	int64_t left_ms = deadline_ms - clock_mono_ms();
	int left;

	left = workers_wait(g->workers, left_ms > 0 ? left_ms : 0);
	if (left > 0) {
		/* Handlers in worker processes can be stopped: their tasks go
		 * back at once instead of after ack_wait. */
		engine_stop_calls(g->engine);
		left = workers_wait_processes(g->workers, STOP_CALLS_WAIT_MS);
	}
	left_ms = deadline_ms - clock_mono_ms();
	left += g->backend->ops->wait(g->backend, left_ms > 0 ? left_ms : 0);
	return left;
}

/*
 * One look at a retiring generation, without blocking for long: true once
 * it is finished and freed; moved to the stuck list when a handler thread
 * outlived the grace and the stop of the worker processes.
 */
static bool
gen_retire_step(struct daemon *d, struct generation *g, int64_t now)
{
	int64_t drain_ms = 0;

	if (workers_wait(g->workers, 0) > 0) {
		if (g->calls_stopped_ms == 0 && now - g->stopped_ms >= g->cfg->shutdown_grace_ms) {
			engine_stop_calls(g->engine);
			g->calls_stopped_ms = now;
		}
		if (g->calls_stopped_ms == 0 || now - g->calls_stopped_ms < STOP_CALLS_WAIT_MS ||
		    workers_wait_processes(g->workers, 0) == 0)
			return false;
		log_warn("reload: %d handler thread(s) of the previous config still run after the "
		         "%lld ms grace; their plugins stay loaded (their tasks come back after "
		         "ack_wait)",
		         workers_wait(g->workers, 0), (long long)g->cfg->shutdown_grace_ms);
		g->next = d->stuck;
		d->stuck = g;
		return true;
	}
	/* Its pull requests still in flight must end first: what they bring
	 * is handed back to the new consumers, not left for ack_wait. */
	for (size_t i = 0; i < g->cfg->route_count; i++)
		if (g->cfg->routes[i].fetch_wait_ms > drain_ms)
			drain_ms = g->cfg->routes[i].fetch_wait_ms;
	if (now - g->stopped_ms < drain_ms + PULL_END_MS)
		return false;
	g->backend->ops->wait(g->backend, STOP_CALLS_WAIT_MS);
	gen_free(g);
	log_notice("reload: the previous config is retired: its tasks finished, its plugins "
	           "are unloaded");
	return true;
}

static void
retire_step(struct daemon *d)
{
	int64_t now = clock_mono_ms();

	for (struct generation **pp = &d->retiring; *pp != NULL;) {
		struct generation *g = *pp, *next = g->next;

		if (gen_retire_step(d, g, now))
			*pp = next;
		else
			pp = &g->next;
	}
}

/* ----- reload ----- */

/* The answer to a reload, as JSON and log lines. */
struct reload_answer {
	struct mbuf *json;
	unsigned changes;
	char summary[1024];
	size_t summary_len;
};

static void
note_change(void *arg, const char *line)
{
	struct reload_answer *a = arg;
	int n;

	mbuf_printf(a->json, "%s", a->changes++ > 0 ? "," : "");
	mbuf_json_string(a->json, line);
	n = snprintf(a->summary + a->summary_len, sizeof(a->summary) - a->summary_len, "%s%s",
	             a->summary_len > 0 ? "; " : "", line);
	if (n > 0 && (size_t)n < sizeof(a->summary) - a->summary_len)
		a->summary_len += (size_t)n;
}

/* {"reloaded": false, "error": why[, "errors": [lines]]}, logged. */
static int
refuse(struct mbuf *json, int status, const char *why, const char *lines)
{
	log_err("reload refused: %s", why);
	mbuf_printf(json, "{\"reloaded\":false,\"error\":");
	mbuf_json_string(json, why);
	if (lines != NULL) {
		const char *p = lines;
		bool first = true;

		mbuf_printf(json, ",\"errors\":[");
		while (*p != '\0') {
			size_t n = strcspn(p, "\n");
			char *line = xstrndup(p, n);

			log_err("reload: %s", line);
			mbuf_printf(json, "%s", first ? "" : ",");
			mbuf_json_string(json, line);
			free(line);
			first = false;
			p += n + (p[n] == '\n');
		}
		mbuf_printf(json, "]");
	}
	mbuf_printf(json, "}\n");
	return status;
}

/* Plugins whose file changed under a route that is otherwise the same. */
static void
note_plugin_changes(const struct generation *cur, const struct cfg *cfg, struct reload_answer *a)
{
	const struct router *router = engine_router(cur->engine);
	char line[512];

	if (strcmp(cur->cfg->plugin_dir, cfg->plugin_dir) != 0)
		return; /* every route loads anew; said already */
	for (size_t i = 0; i < router->count; i++) {
		const struct route *r = &router->routes[i];

		for (size_t k = 0; k < cfg->route_count; k++) {
			if (strcmp(cfg->routes[k].name, r->cfg->name) != 0 ||
			    strcmp(cfg->routes[k].plugin, r->cfg->plugin) != 0)
				continue;
			if (engine_plugin_changed(cur->engine, r)) {
				snprintf(line, sizeof(line), "route %s: plugin %s: file changed",
				         r->cfg->name, r->cfg->plugin);
				note_change(a, line);
			}
		}
	}
}

/*
 * Re-read the config and, if anything changed, bring up a generation for
 * it and retire the running one. Writes the JSON answer; returns its
 * HTTP status. Main thread.
 */
static int
reload(struct daemon *d, struct mbuf *json)
{
	struct generation *cur = d->cur, *g;
	struct mbuf changes = { 0 };
	struct reload_answer a = { .json = &changes };
	char *errors = NULL, err[1024];
	const char *refusal;
	struct cfg *cfg = NULL;
	int rc, status;

	if (d->o->load_config == NULL)
		return refuse(json, 501, "this run cannot reload its config", NULL);
	refusal = backend_reload_refusal(cur->cfg);
	if (refusal != NULL)
		return refuse(json, 409, refusal, NULL);
	log_notice("reload: reading %s", cur->cfg->path);
	rc = d->o->load_config(d->o->load_arg, &cfg, &errors);
	if (rc < 0) {
		snprintf(err, sizeof(err), "%s: the config has errors; nothing changed",
		         cur->cfg->path);
		status = refuse(json, 422, err, errors != NULL ? errors : strerror(-rc));
		free(errors);
		return status;
	}
	if (cfg->backend != cur->cfg->backend) {
		free(changes.data);
		cfg_free(cfg);
		return refuse(json, 409, "backend: changed; restart taskjet to switch backends",
		              NULL);
	}
	cfg_diff(cur->cfg, cfg, note_change, &a);
	note_plugin_changes(cur, cfg, &a);
	if (a.changes == 0) {
		free(changes.data);
		log_notice("reload: nothing changed");
		mbuf_printf(json, "{\"reloaded\":false,\"changes\":[],\"message\":\"nothing "
		                  "changed\"}\n");
		cfg_free(cfg);
		return 200;
	}
	g = xcalloc(1, sizeof(*g));
	g->cfg = cfg;
	rc = engine_create(cfg, NULL, err, sizeof(err), &g->engine);
	if (rc == 0)
		rc = gen_start(g, d->o, cur->backend, err, sizeof(err), &status);
	if (rc < 0) {
		engine_destroy(g->engine);
		cfg_free(cfg);
		free(g);
		free(changes.data);
		/* Host-API publishes go on through the running backend. */
		engine_set_backend(cur->engine, cur->backend);
		return refuse(json, 422, err, NULL);
	}

	/* The swap: from here on new tasks go to the new generation. */
	sdnotify_watchdog_stop();
	d->cur = g;
	http_set_env(d->http, &(struct http_env){ .cfg = g->cfg,
	                                          .engine = g->engine,
	                                          .metrics = g->metrics,
	                                          .backend = g->backend });
	sdnotify_watchdog_start(backend_healthy, g->backend);
	gen_stop_intake(cur);
	cur->next = d->retiring;
	d->retiring = cur;
	log_notice("reloaded: %zu route%s, %u worker%s; %s", cfg->route_count,
	           cfg->route_count == 1 ? "" : "s", g->nworkers, g->nworkers == 1 ? "" : "s",
	           a.summary);
	sdnotify_status("reloaded: %zu route%s, %u worker%s", cfg->route_count,
	                cfg->route_count == 1 ? "" : "s", g->nworkers, g->nworkers == 1 ? "" : "s");
	mbuf_printf(json, "{\"reloaded\":true,\"changes\":[%s]}\n",
	            changes.data != NULL ? changes.data : "");
	free(changes.data);
	return 200;
}

/* POST /api/v1/reload, on an HTTP thread: ask the main thread, wait. */
static int
http_reload(void *ctx, struct mbuf *answer)
{
	struct daemon *d = ctx;
	struct timespec until;
	int status = 503;

	clock_mono_deadline(RELOAD_ANSWER_MS, &until);
	pthread_mutex_lock(&d->lock);
	/* One at a time; a second waits for the first. */
	while (d->asked && !d->stopping &&
	       pthread_cond_clockwait(&d->changed, &d->lock, CLOCK_MONOTONIC, &until) == 0)
		;
	if (d->stopping || d->asked)
		goto out;
	d->asked = true;
	d->answered = false;
	while (!d->answered && !d->stopping &&
	       pthread_cond_clockwait(&d->changed, &d->lock, CLOCK_MONOTONIC, &until) == 0)
		;
	if (d->answered) {
		status = d->status;
		mbuf_put(answer, d->answer.data != NULL ? d->answer.data : "", d->answer.len);
	}
	d->asked = false;
	d->answered = false;
	free(d->answer.data);
	d->answer = (struct mbuf){ 0 };
	pthread_cond_broadcast(&d->changed);
out:
	pthread_mutex_unlock(&d->lock);
	if (status == 503 && answer->len == 0)
		mbuf_printf(answer, "{\"reloaded\":false,\"error\":\"shutting down\"}\n");
	return status;
}

/* Answer a reload asked over HTTP, if any. Main thread. */
static void
serve_reload_request(struct daemon *d)
{
	struct mbuf json = { 0 };
	int status;

	pthread_mutex_lock(&d->lock);
	if (!d->asked || d->answered) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	pthread_mutex_unlock(&d->lock);
	status = reload(d, &json);
	pthread_mutex_lock(&d->lock);
	d->answer = json;
	d->status = status;
	d->answered = true;
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
}

/* No more reloads: answer the one waiting, if any. */
static void
stop_reloads(struct daemon *d)
{
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->changed);
	pthread_mutex_unlock(&d->lock);
}

/* ----- the main loop ----- */

/* Wait for signals until a stop: 1, or 0 if `done` became true first.
 * Between them, serve reloads and retire old generations. */
static int
wait_for_stop(struct daemon *d, const sigset_t *set, volatile sig_atomic_t *done)
{
	struct timespec tick = { 0, TICK_MS * 1000000L };

	for (;;) {
		int sig = sigtimedwait(set, NULL, &tick);

		if (done != NULL && *done)
			return 0;
		if (sig == SIGHUP) {
			struct mbuf ignored = { 0 };
			int rc = log_reopen();

			if (rc < 0)
				log_err("cannot reopen the log: %s", strerror(-rc));
			else
				log_notice("log reopened");
			reload(d, &ignored);
			free(ignored.data);
		} else if (sig == SIGTERM || sig == SIGINT) {
			log_notice("received %s: stopping (send it again to exit at once)",
			           sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return 1;
		}
		serve_reload_request(d);
		retire_step(d);
	}
}

int
run_engine(struct engine *engine, struct cfg *cfg, const struct run_opts *o)
{
	struct daemon d = { .o = o };
	struct stdin_feeder feeder = { 0 };
	struct generation *g = xcalloc(1, sizeof(*g));
	pthread_t feeder_thread;
	bool feeding = false;
	sigset_t set;
	char err[1024];
	int64_t deadline;
	int status = EXIT_OK, rc, left = 0;

	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.changed, NULL);
	g->cfg = cfg;
	g->engine = engine;
	d.cur = g;
	stop_signals(&set);
	rc = gen_start(g, o, NULL, err, sizeof(err), &status);
	if (rc < 0) {
		log_err("%s", err);
		goto out;
	}
	/* With --stdin the run is a batch job: no endpoint to collide over. */
	if (!o->from_stdin) {
		rc = http_start(&(struct http_env){ .cfg = cfg,
		                                    .engine = engine,
		                                    .metrics = g->metrics,
		                                    .backend = g->backend,
		                                    .libnats_version = backend_libnats_version(),
		                                    .reload = http_reload,
		                                    .reload_ctx = &d },
		                &d.http);
		if (rc < 0) {
			status = rc == -EINVAL ? EXIT_CONFIG : EXIT_UNAVAILABLE;
			goto stop;
		}
	}
	/* Ready once the endpoint listens too, as for systemd: whoever waits
	 * for this line may ask /readyz or /metrics at once. */
	log_notice("ready: %zu route%s, %u worker%s on %s", cfg->route_count,
	           cfg->route_count == 1 ? "" : "s", g->nworkers, g->nworkers == 1 ? "" : "s",
	           g->backend->ops->location(g->backend));
	sdnotify_ready("%zu route%s, %u worker%s on %s", cfg->route_count,
	               cfg->route_count == 1 ? "" : "s", g->nworkers, g->nworkers == 1 ? "" : "s",
	               g->backend->ops->location(g->backend));
	sdnotify_watchdog_start(backend_healthy, g->backend);
	if (o->from_stdin) {
		feeder.backend = g->backend;
		if (pthread_create(&feeder_thread, NULL, stdin_feeder_main, &feeder) != 0) {
			status = EXIT_FAILURE_OTHER;
			goto stop;
		}
		feeding = true;
	}
	if (wait_for_stop(&d, &set, feeding ? &feeder.done : NULL) > 0)
		watch_second_signal();
	sdnotify_stopping();
stop:
	sdnotify_watchdog_stop();
	/* Intake and probes end first: they publish through the backend. */
	engine_request_stop(d.cur->engine);
	stop_reloads(&d);
	http_stop(d.http);
	g = d.cur;
	gen_stop_intake(g);
	/* Every generation, the retiring ones too, within one grace. */
	deadline = g->stopped_ms + g->cfg->shutdown_grace_ms;
	left = gen_finish(g, deadline);
	for (struct generation *r = d.retiring; r != NULL; r = r->next)
		left += gen_finish(r, deadline);
	if (left > 0 || d.stuck != NULL) {
		/* Their tasks stay unsettled and come back later. The handlers
		 * still use the engine, so leave without tearing anything down
		 * under them (the backend stops what must not outlive us). */
		log_warn("%d worker(s) still busy after the %lld ms grace; exiting "
		         "without them (their tasks will be redelivered)",
		         left, (long long)g->cfg->shutdown_grace_ms);
		backend_destroy(g->backend);
		for (struct generation *r = d.retiring; r != NULL; r = r->next)
			backend_destroy(r->backend);
		for (struct generation *r = d.stuck; r != NULL; r = r->next)
			backend_destroy(r->backend);
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
	while (d.retiring != NULL) {
		struct generation *next = d.retiring->next;

		gen_free(d.retiring);
		d.retiring = next;
	}
	gen_free(d.cur);
	/* An answer its HTTP request gave up waiting for. */
	free(d.answer.data);
	pthread_cond_destroy(&d.changed);
	pthread_mutex_destroy(&d.lock);
	return status;
}
