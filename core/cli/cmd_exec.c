/* SPDX-License-Identifier: MIT */
/*
 * taskjet exec: the plugin author's test bench. One task goes through its
 * route on the memory backend with the real retry policy; every attempt's
 * verdict and the final outcome (ack, or the dead letter) are printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory/memory.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "task/router.h"
#include "util/clock.h"

static const char exec_usage[] =
    "Usage: taskjet exec [-c FILE] [OPTIONS] SUBJECT [PAYLOAD|-]\n"
    "\n"
    "Run one task through its route on the memory backend, with the route's\n"
    "real retry policy, and print every attempt's verdict and the outcome:\n"
    "acked, or the dead letter with all its headers. PAYLOAD '-' (or none)\n"
    "reads stdin. No NATS server is used.\n"
    "\n"
    "  -c, --config FILE      config file (default: $TASKJET_CONFIG, else\n"
    "                         " SYSCONFDIR "/taskjet/taskjet.json)\n"
    "  -H, --header K=V       add a message header (repeatable)\n"
    "  -i, --id MSGID         the task's message id (Nats-Msg-Id)\n"
    "  -s, --delay-scale F    multiply retry delays by F (e.g. 0.01)\n"
    "  -f, --fast             same as --delay-scale 0.001\n"
    "  -x, --isolate          run the handler in a worker process, as routes of\n"
    "                         isolation \"process\" do (with the route's timeout\n"
    "                         and limits): a crash or a timeout is retried and\n"
    "                         dead-lettered (crashed, timed_out) instead of\n"
    "                         ending exec. Without it the handler runs in\n"
    "                         exec's own thread, whatever the route says\n"
    "  -l, --log-level LEVEL  error, warning, notice, info (default), debug\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 acked, 1 dead-lettered, 64 usage, 78 config or plugin error.\n";

/* A plugin that publishes follow-ups forever must not hang exec. */
#define MAX_STEPS 1000
/* Longer than the longest respawn backoff of a worker process (60 s). */
#define WORKER_WAIT_MS 65000

static const char *
verdict_name(int verdict)
{
	switch (verdict) {
	case TJ_DONE:
		return "done";
	case TJ_RETRY:
		return "retry";
	case TJ_FAIL:
		return "fail";
	case TASK_VERDICT_NONE:
		return "-";
	case TASK_VERDICT_CRASHED:
		return "crash";
	case TASK_VERDICT_TIMED_OUT:
		return "timeout";
	default:
		return "invalid";
	}
}

/* The engine as exec's memory backend sees it, keeping what the last
 * delivery came to so each step can be printed. */
struct exec_sink {
	struct engine *engine;
	struct disp_result last;
	struct backend_sink sink;
};

static int
exec_deliver(void *ctx, struct tj_task *task)
{
	struct exec_sink *x = ctx;
	const struct route *route = router_lookup(engine_router(x->engine), task->subject);
	int64_t until = clock_mono_ms() + WORKER_WAIT_MS;

	/* After crashes in a row the worker process comes back only after a
	 * growing delay: wait for it, as a worker thread of `run` does,
	 * rather than give the task back unhandled. */
	while (route != NULL && !engine_slot_live(x->engine, route, 0) && clock_mono_ms() < until)
		clock_sleep_ms(10);
	memset(&x->last, 0, sizeof(x->last));
	return engine_process(x->engine, task, &x->last);
}

static int
exec_dead_letter(void *ctx, struct tj_task *task, enum dlq_reason reason, const char *error)
{
	struct exec_sink *x = ctx;
	int rc;

	memset(&x->last, 0, sizeof(x->last));
	rc = engine_dead_letter(x->engine, task, reason, error, &x->last);
	if (rc == 0 && x->last.outcome != DISP_DEAD_LETTERED)
		rc = -EIO;
	return rc;
}

static void
print_step(const struct mem_step *step, const struct disp_result *res, const struct route *route)
{
	int max = route != NULL ? route->cfg->max_attempts : 1;

	printf("%s attempt %u/%d: %-5s", step->subject, step->attempt, max,
	       verdict_name(step->verdict));
	if (step->waited_ms > 0)
		printf(" (after waiting %lld ms)", (long long)step->waited_ms);
	switch (res->outcome) {
	case DISP_ACKED:
		printf(" -> acked");
		break;
	case DISP_RETRIED:
		printf(" -> retry in %lld ms", (long long)res->delay_ms);
		break;
	case DISP_DEAD_LETTERED:
		printf(" -> dead-lettered (%s)", dlq_reason_name(res->reason));
		break;
	case DISP_DLQ_FAILED:
		printf(" -> dead letter failed, retry in %lld ms", (long long)res->delay_ms);
		break;
	case DISP_GIVEN_BACK:
		printf(" -> given back, again in %lld ms", (long long)res->delay_ms);
		break;
	case DISP_LEFT:
		printf(" -> left for redelivery");
		break;
	}
	if (step->fail_reason[0] != '\0')
		printf(": %s", step->fail_reason);
	printf("\n");
}

static void
print_letters(const struct mem_letter *letter)
{
	for (; letter != NULL; letter = letter->next) {
		printf("\ndead letter #%llu on %s\n", (unsigned long long)letter->seq,
		       letter->subject);
		for (size_t i = 0; i < letter->header_count; i++)
			printf("  %s: %s\n", letter->headers[i].key, letter->headers[i].value);
		printf("  payload (%zu bytes): %.*s\n", letter->len,
		       letter->len > 2048 ? 2048 : (int)letter->len, letter->payload);
	}
}

struct exec_args {
	struct cli_headers headers;
	const char *msg_id;
	double scale;
	bool isolate;
};

static const struct cli_option exec_options[] = {
	CLI_OPT_CONFIG,
	CLI_OPTION("header", required_argument, 'H'),
	CLI_OPTION("id", required_argument, 'i'),
	CLI_OPTION("delay-scale", required_argument, 's'),
	CLI_OPTION("fast", no_argument, 'f'),
	CLI_OPTION("isolate", no_argument, 'x'),
	CLI_OPT_LOG_LEVEL,
	CLI_OPT_END,
};

static int
exec_option(struct cli_ctx *ctx, void *args, int key, char *value)
{
	struct exec_args *a = args;
	char *end;

	switch (key) {
	case 'H':
		if (cli_headers_add(&a->headers, value) < 0) {
			cli_error(ctx, "--header wants K=V (at most %d)", CLI_MAX_HEADERS);
			return EXIT_USAGE;
		}
		break;
	case 'i':
		a->msg_id = value;
		break;
	case 's':
		a->scale = strtod(value, &end);
		if (*end != '\0' || a->scale < 0) {
			cli_error(ctx, "--delay-scale wants a number >= 0");
			return EXIT_USAGE;
		}
		break;
	case 'f':
		a->scale = 0.001;
		break;
	case 'x':
		a->isolate = true;
		break;
	}
	return EXIT_OK;
}

/* exec's bench: the engine with a memory backend that delivers into it. */
struct exec_bench {
	struct cfg *cfg;
	struct engine *engine;
	struct backend *backend;
	struct exec_sink sink;
};

/* Start the engine (loading the plugins) on a memory backend. */
static int
bench_start(const struct exec_args *a, struct exec_bench *x)
{
	/* One task at a time: one worker process is enough. */
	struct engine_options opts = {
		.isolation = a->isolate ? ENGINE_ISOLATION_PROCESS : ENGINE_ISOLATION_THREAD,
		.pool_workers = 1,
	};

	if (engine_create(x->cfg, &opts, NULL, 0, &x->engine) < 0)
		return EXIT_CONFIG;
	x->sink = (struct exec_sink){
		.engine = x->engine,
		.sink = { .deliver = exec_deliver,
		          .dead_letter = exec_dead_letter,
		          .ctx = &x->sink },
	};
	mem_backend_open(x->cfg, &x->backend);
	mem_backend_bind(x->backend, engine_router(x->engine), &x->sink.sink);
	engine_set_backend(x->engine, x->backend);
	mem_backend_set_delay_scale(x->backend, a->scale);
	return EXIT_OK;
}

static void
bench_close(struct exec_bench *x)
{
	backend_destroy(x->backend);
	engine_destroy(x->engine);
	cfg_free(x->cfg);
}

/* Say where the task goes and queue it. */
static int
enqueue(const struct cli_ctx *ctx, const struct exec_args *a, struct exec_bench *x,
        const char *subject, const char *payload, size_t len)
{
	const struct route *route = router_lookup(engine_router(x->engine), subject);
	int rc;

	if (route != NULL)
		printf("%s -> route %s (plugin %s, handler %s), max_attempts %d, "
		       "delays x%g\n",
		       subject, route->cfg->name, route->cfg->plugin, route->cfg->handler,
		       route->cfg->max_attempts, a->scale);
	rc = x->backend->ops->publish(x->backend,
	                              &(struct publish_msg){ .subject = subject,
	                                                     .data = payload,
	                                                     .len = len,
	                                                     .headers = a->headers.list,
	                                                     .header_count = a->headers.count,
	                                                     .msg_id = a->msg_id },
	                              NULL);
	if (rc < 0) {
		cli_error(ctx, "cannot enqueue on %s: %s", subject,
		          rc == -ENOENT ? "no stream takes this subject" : strerror(-rc));
		return rc == -ENOENT || rc == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_OTHER;
	}
	return EXIT_OK;
}

/* Run the queued task, and what it publishes, step by step to the end;
 * print every step, the dead letters and the outcome. */
static int
run_to_outcome(struct exec_bench *x)
{
	struct mem_stats stats;

	for (int steps = 0; steps < MAX_STEPS; steps++) {
		struct mem_step step;

		mem_backend_stats(x->backend, &stats);
		if (stats.current_size == 0)
			break;
		/* The longest a delayed retry can wait, plus slack. */
		if (mem_backend_run_one(x->backend, 24LL * 3600 * 1000, &step) != 1)
			break;
		print_step(&step, &x->sink.last,
		           router_lookup(engine_router(x->engine), step.subject));
	}
	mem_backend_stats(x->backend, &stats);
	print_letters(mem_backend_letters(x->backend));
	if (stats.current_size > 0) {
		printf("\noutcome: %llu task(s) still pending after %d steps\n",
		       (unsigned long long)stats.current_size, MAX_STEPS);
		return EXIT_FAILURE_OTHER;
	}
	if (stats.dead_letters > 0) {
		printf("\noutcome: dead-lettered\n");
		return EXIT_FAILURE_OTHER;
	}
	printf("\noutcome: acked\n");
	return EXIT_OK;
}

static int
exec_run(struct cli_ctx *ctx, void *args)
{
	const struct exec_args *a = args;
	const char *subject = ctx->argv[0];
	struct exec_bench bench = { 0 };
	char *payload = NULL;
	size_t len = 0;
	int status;

	status = cli_load_config(ctx->opt.config, &bench.cfg);
	if (status == EXIT_OK)
		status = cli_setup_local(ctx, bench.cfg);
	if (status == EXIT_OK)
		status = cli_headers_check(ctx, &a->headers, bench.cfg, subject);
	if (status == EXIT_OK)
		status =
		    cli_read_payload(ctx, ctx->argc == 2 ? ctx->argv[1] : NULL, &payload, &len);
	if (status == EXIT_OK)
		status = bench_start(a, &bench);
	if (status == EXIT_OK)
		status = enqueue(ctx, a, &bench, subject, payload, len);
	if (status == EXIT_OK)
		status = run_to_outcome(&bench);
	bench_close(&bench);
	free(payload);
	return status;
}

static const struct exec_args exec_defaults = { .scale = 1.0 };

const struct cli_command cli_cmd_exec = {
	.name = "exec",
	.summary = "run one task through its route on the memory backend",
	.usage = exec_usage,
	.options = exec_options,
	.min_operands = 1,
	.max_operands = 2,
	CLI_ARGS(exec_defaults),
	.option = exec_option,
	.run = exec_run,
};
