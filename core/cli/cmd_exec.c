/* SPDX-License-Identifier: MIT */
/*
 * taskjet exec: the plugin author's test bench. One task goes through its
 * route on the memory backend with the real retry policy; every attempt's
 * verdict and the final outcome (ack, or the dead letter) are printed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory/memory.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "task/router.h"

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
    "  -x, --isolate          run each handler call in a child process: a\n"
    "                         crash is reported and dead-lettered (reason\n"
    "                         crashed) instead of ending exec\n"
    "  -l, --log-level LEVEL  error, warning, notice, info (default), debug\n"
    "  -h, --help             show this help\n"
    "\n"
    "Exit status: 0 acked, 1 dead-lettered, 64 usage, 78 config or plugin error.\n";

#define MAX_HEADERS 32
/* A plugin that publishes follow-ups forever must not hang exec. */
#define MAX_STEPS 1000

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
	case -1:
		return "-";
	case -2:
		return "crash";
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

/* Split "K=V" in place. */
static int
parse_header(char *arg, struct msg_header *h)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg)
		return -1;
	*eq = '\0';
	h->key = arg;
	h->value = eq + 1;
	return 0;
}

int
cmd_exec(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "header", required_argument, NULL, 'H' },
		{ "id", required_argument, NULL, 'i' },
		{ "delay-scale", required_argument, NULL, 's' },
		{ "fast", no_argument, NULL, 'f' },
		{ "isolate", no_argument, NULL, 'x' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct msg_header headers[MAX_HEADERS];
	const char *config = NULL, *msg_id = NULL, *level = NULL, *subject;
	struct exec_sink sink = {
		.sink = { .deliver = exec_deliver, .dead_letter = exec_dead_letter, .ctx = &sink }
	};
	struct backend *backend = NULL;
	struct engine *engine = NULL;
	struct cfg *cfg = NULL;
	char *payload = NULL, *end;
	double scale = 1.0;
	size_t nheaders = 0, len;
	struct engine_options opts = { 0 };
	struct mem_stats stats;
	int opt, status, rc;

	while ((opt = getopt_long(argc, argv, "c:H:i:s:fxl:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'H':
			if (nheaders == MAX_HEADERS ||
			    parse_header(optarg, &headers[nheaders]) < 0) {
				fprintf(stderr, "taskjet exec: --header wants K=V (at most %d)\n",
				        MAX_HEADERS);
				return EXIT_USAGE;
			}
			nheaders++;
			break;
		case 'i':
			msg_id = optarg;
			break;
		case 's':
			scale = strtod(optarg, &end);
			if (*end != '\0' || scale < 0) {
				fprintf(stderr,
				        "taskjet exec: --delay-scale wants a number >= 0\n");
				return EXIT_USAGE;
			}
			break;
		case 'f':
			scale = 0.001;
			break;
		case 'x':
			opts.isolate_handlers = true;
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			fputs(exec_usage, stdout);
			return EXIT_OK;
		default:
			fputs(exec_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		fputs(exec_usage, stderr);
		return EXIT_USAGE;
	}
	subject = argv[optind];
	status = cli_load_config(config, &cfg);
	if (status != EXIT_OK)
		goto out;
	status = cli_setup_log(cfg, level, NULL, NULL);
	if (status != EXIT_OK)
		goto out;
	status = cli_enter_state_dir(cfg);
	if (status != EXIT_OK)
		goto out;
	if (argc - optind == 2 && strcmp(argv[optind + 1], "-") != 0) {
		payload = strdup(argv[optind + 1]);
		len = strlen(payload);
	} else if (cli_read_stdin(&payload, &len) < 0) {
		perror("taskjet exec: stdin");
		status = EXIT_FAILURE_OTHER;
		goto out;
	}
	if (engine_create(cfg, &opts, &engine) < 0) {
		status = EXIT_CONFIG;
		goto out;
	}
	sink.engine = engine;
	mem_backend_open(cfg, &backend);
	mem_backend_bind(backend, engine_router(engine), &sink.sink);
	engine_set_backend(engine, backend);
	mem_backend_set_delay_scale(backend, scale);

	{
		const struct route *route = router_lookup(engine_router(engine), subject);

		if (route != NULL)
			printf("%s -> route %s (plugin %s, handler %s), max_attempts %d, "
			       "delays x%g\n",
			       subject, route->cfg->name, route->cfg->plugin, route->cfg->handler,
			       route->cfg->max_attempts, scale);
	}
	rc = backend->ops->publish(backend,
	                           &(struct publish_msg){ .subject = subject,
	                                                  .data = payload,
	                                                  .len = len,
	                                                  .headers = headers,
	                                                  .header_count = nheaders,
	                                                  .msg_id = msg_id },
	                           NULL);
	if (rc < 0) {
		fprintf(stderr, "taskjet exec: cannot enqueue on %s: %s\n", subject,
		        rc == -ENOENT ? "no stream takes this subject" : strerror(-rc));
		status = rc == -ENOENT || rc == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_OTHER;
		goto out;
	}
	for (int steps = 0; steps < MAX_STEPS; steps++) {
		struct mem_step step;

		mem_backend_stats(backend, &stats);
		if (stats.current_size == 0)
			break;
		/* The longest a delayed retry can wait, plus slack. */
		if (mem_backend_run_one(backend, 24LL * 3600 * 1000, &step) != 1)
			break;
		print_step(&step, &sink.last, router_lookup(engine_router(engine), step.subject));
	}
	mem_backend_stats(backend, &stats);
	print_letters(mem_backend_letters(backend));
	if (stats.current_size > 0) {
		printf("\noutcome: %llu task(s) still pending after %d steps\n",
		       (unsigned long long)stats.current_size, MAX_STEPS);
		status = EXIT_FAILURE_OTHER;
	} else if (stats.dead_letters > 0) {
		printf("\noutcome: dead-lettered\n");
		status = EXIT_FAILURE_OTHER;
	} else {
		printf("\noutcome: acked\n");
		status = EXIT_OK;
	}
out:
	backend_destroy(backend);
	engine_destroy(engine);
	cfg_free(cfg);
	free(payload);
	return status;
}
