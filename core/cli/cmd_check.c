/* SPDX-License-Identifier: MIT */
/* taskjet check: validate the config and load every plugin. */
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "engine/engine.h"

static const char check_usage[] =
    "Usage: taskjet check [-c FILE] [--nats[=URL]]\n"
    "\n"
    "Validate the config (every error as file:line:column: key: problem),\n"
    "load every route's plugin and run its init, and print the routes.\n"
    "Creates nothing: plugin init runs in a scratch directory removed\n"
    "afterwards, not in state_dir, and log.file is only checked to be\n"
    "writable (log lines go to stderr).\n"
    "\n"
    "  -c, --config FILE  config file (default: $TASKJET_CONFIG, else\n"
    "                     " SYSCONFDIR "/taskjet/taskjet.json)\n"
    "      --nats         also connect to NATS (nats.url, NATS_URL, or the URL\n"
    "                     given) and report how the server's streams and\n"
    "                     consumers differ from the config; changes nothing\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 valid, 78 config or plugin error, 69 NATS unavailable,\n"
    "1 the server's topology drifted from the config.\n";

static void
print_line(void *arg, const char *line)
{
	printf("  %s\n", line);
}

/* Compare the server's streams and consumers with the config; change
 * nothing. The URL: --nats=URL, else the config's (NATS_URL applied),
 * else the embedded server of a running `taskjet run`. */
static int
check_topology(const struct cli_ctx *ctx, const struct cfg *cfg)
{
	struct backend *backend = NULL;
	int status, rc;

	status = cli_open_backend(ctx, cfg, &backend);
	if (status != EXIT_OK)
		return status;
	printf("server %s:\n", backend->ops->location(backend));
	rc = backend_ensure_topology(backend, true, print_line, NULL);
	switch (rc) {
	case 0:
		printf("server topology matches the config\n");
		status = EXIT_OK;
		break;
	case -EAGAIN:
		printf("server topology differs: `taskjet run` would make the changes above\n");
		status = EXIT_FAILURE_OTHER;
		break;
	case -EEXIST:
		printf("server topology conflicts with the config (see above); "
		       "`taskjet run` would refuse to start\n");
		status = EXIT_FAILURE_OTHER;
		break;
	default:
		status = EXIT_UNAVAILABLE;
		break;
	}
	backend_destroy(backend);
	return status;
}

struct check_args {
	bool nats;
};

/* --nats takes its URL only as --nats=URL, so it has no short form. */
#define KEY_NATS (CLI_KEY_LONG + 0)

static const struct cli_option check_options[] = {
	CLI_OPT_CONFIG,
	CLI_OPTION("nats", optional_argument, KEY_NATS),
	CLI_OPT_END,
};

static int
check_option(struct cli_ctx *ctx, void *args, int key, char *value)
{
	struct check_args *a = args;

	if (key == KEY_NATS) {
		a->nats = true;
		ctx->opt.nats_url = value;
	}
	return EXIT_OK;
}

static int
check_run(struct cli_ctx *ctx, void *args)
{
	const struct check_args *a = args;
	struct engine *engine = NULL;
	struct cfg *cfg = NULL;
	char *scratch = NULL;
	struct cli_term term;
	int status;

	status = cli_load_config(ctx->opt.config, &cfg);
	if (status == EXIT_OK)
		status =
		    cli_check_log(cfg, ctx->opt.log_level, ctx->opt.log_format, ctx->opt.log_file);
	/* Read-only: plugin init runs in a scratch directory, not state_dir. */
	if (status == EXIT_OK)
		status = cli_enter_scratch_dir(&scratch);
	if (status != EXIT_OK)
		goto out;
	/* One worker process per process route proves its init. */
	if (engine_create(cfg, &(struct engine_options){ .pool_workers = 1 }, NULL, 0, &engine) <
	    0) {
		status = EXIT_CONFIG;
		goto out;
	}
	printf("%s: ok, %zu stream%s, %zu route%s\n", cfg->path, cfg->stream_count,
	       cfg->stream_count == 1 ? "" : "s", cfg->route_count,
	       cfg->route_count == 1 ? "" : "s");
	cli_term_detect(stdout, &term);
	cli_print_routes(stdout, cfg, &term);
	if (a->nats)
		status = check_topology(ctx, cfg);
out:
	engine_destroy(engine);
	cli_leave_scratch_dir(scratch);
	cfg_free(cfg);
	return status;
}

static const struct check_args check_defaults = { 0 };

const struct cli_command cli_cmd_check = {
	.name = "check",
	.summary = "validate the config and load every plugin; print the routes",
	.usage = check_usage,
	.options = check_options,
	CLI_ARGS(check_defaults),
	.option = check_option,
	.run = check_run,
};
