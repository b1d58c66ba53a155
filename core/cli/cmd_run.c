/* SPDX-License-Identifier: MIT */
/* taskjet run: options and config; the daemon itself is run/run.c. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "run/run.h"
#include "util/log.h"

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

struct run_args {
	const char *backend;
	bool from_stdin;
};

static const struct cli_option run_options[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_NATS,
	CLI_OPTION("backend", required_argument, 'b'),
	CLI_OPTION("stdin", no_argument, 'i'),
	CLI_OPT_LOG_LEVEL,
	CLI_OPT_LOG_FORMAT,
	CLI_OPT_LOG_FILE,
	CLI_OPT_END,
};

static int
run_option(struct cli_ctx *ctx, void *args, int key, char *value)
{
	struct run_args *a = args;

	(void)ctx;
	if (key == 'b')
		a->backend = value;
	else if (key == 'i')
		a->from_stdin = true;
	return EXIT_OK;
}

/* --backend over the config's (and TASKJET_BACKEND's) choice. */
static int
apply_backend(const struct cli_ctx *ctx, const struct run_args *a, struct cfg *cfg)
{
	if (a->backend != NULL) {
		if (strcmp(a->backend, "memory") == 0) {
			cfg->backend = CFG_BACKEND_MEMORY;
		} else if (strcmp(a->backend, "jetstream") == 0 ||
		           strcmp(a->backend, "nats") == 0) {
			cfg->backend = CFG_BACKEND_JETSTREAM;
		} else {
			cli_error(ctx, "--backend wants jetstream or memory");
			return EXIT_USAGE;
		}
	}
	if (a->from_stdin && cfg->backend != CFG_BACKEND_MEMORY) {
		cli_error(ctx, "--stdin needs the memory backend");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int
run_run(struct cli_ctx *ctx, void *args)
{
	const struct run_args *a = args;
	struct engine *engine = NULL;
	struct cfg *cfg = NULL;
	int status;

	status = cli_load_config(ctx->opt.config, &cfg);
	if (status == EXIT_OK)
		status = apply_backend(ctx, a, cfg);
	if (status == EXIT_OK)
		status = cli_setup_local(ctx, cfg);
	if (status != EXIT_OK)
		goto out;

	/* Block the signals before any thread exists, so every thread
	 * inherits the mask and only the main thread takes them. */
	run_block_signals();
	if (engine_create(cfg, NULL, NULL, 0, &engine) < 0) {
		status = EXIT_CONFIG;
		goto out;
	}
	status =
	    run_engine(engine, cfg,
	               &(struct run_opts){ .url = ctx->opt.nats_url, .from_stdin = a->from_stdin });
out:
	engine_destroy(engine);
	cfg_free(cfg);
	log_close();
	return status;
}

static const struct run_args run_defaults = { 0 };

const struct cli_command cli_cmd_run = {
	.name = "run",
	.summary = "run the engine (JetStream, embedded local server, or memory)",
	.usage = run_usage,
	.options = run_options,
	CLI_ARGS(run_defaults),
	.option = run_option,
	.run = run_run,
};
