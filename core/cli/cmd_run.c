/* SPDX-License-Identifier: MIT */
/* taskjet run: options and config; the daemon itself is run/run.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "run/backends.h"
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
    "reopens the log file and reloads the config (as POST /api/v1/reload\n"
    "does): routes and plugins whose file changed are reloaded, tasks in\n"
    "flight finish on the old ones; a config or plugin that fails leaves\n"
    "everything as it was.\n"
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
	char choices[128];

	if (a->backend != NULL && cfg_backend_parse(a->backend, &cfg->backend) < 0) {
		cfg_backend_choices(choices, sizeof(choices));
		cli_error(ctx, "--backend wants %s, got \"%s\"", choices, a->backend);
		return EXIT_USAGE;
	}
	if (a->from_stdin && !backend_reads_stdin(cfg)) {
		cli_error(ctx, "--stdin: the %s backend takes its tasks from the server, not stdin",
		          backend_kind_name(cfg));
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* What a reload reads: the file the run started with, the same overrides. */
struct reload_source {
	char *path; /* absolute: the run works inside state_dir */
	const char *backend; /* --backend, or NULL */
};

static int
reload_config(void *arg, struct cfg **cfg_r, char **errors_r)
{
	const struct reload_source *src = arg;
	struct cfg *cfg = NULL;
	char *abs;
	int rc;

	*errors_r = NULL;
	rc = cfg_load(src->path, errors_r, &cfg);
	if (rc < 0)
		return rc;
	if (src->backend != NULL)
		cfg_backend_parse(src->backend, &cfg->backend);
	/* As at start (cli_enter_state_dir), so an unchanged one compares
	 * equal; the run stays in the directory it started in. */
	abs = realpath(cfg->state_dir, NULL);
	if (abs != NULL) {
		free(cfg->state_dir);
		cfg->state_dir = abs;
	}
	*cfg_r = cfg;
	return 0;
}

/*
 * The run moves into state_dir; a reload then reads the config again from
 * there. Make what was taken from the working directory absolute now: the
 * config's path, and directory overrides given as relative paths.
 */
static int
pin_paths(const char *config_path, struct reload_source *src)
{
	static const char *const dirs[] = { "TASKJET_PLUGIN_DIR", "TASKJET_STATE_DIR" };

	src->path = realpath(config_path, NULL);
	if (src->path == NULL)
		return -errno;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		const char *v = getenv(dirs[i]);
		char cwd[PATH_MAX], abs[PATH_MAX + 256];

		if (v == NULL || *v == '\0' || *v == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
			continue;
		snprintf(abs, sizeof(abs), "%s/%s", cwd, v);
		setenv(dirs[i], abs, 1);
	}
	return 0;
}

static int
run_run(struct cli_ctx *ctx, void *args)
{
	const struct run_args *a = args;
	struct reload_source src = { .backend = a->backend };
	struct engine *engine = NULL;
	struct cfg *cfg = NULL;
	int status, rc;

	status = cli_load_config(ctx->opt.config, &cfg);
	if (status == EXIT_OK)
		status = apply_backend(ctx, a, cfg);
	if (status == EXIT_OK && (rc = pin_paths(cfg->path, &src)) < 0) {
		cli_error(ctx, "%s: %s", cfg->path, strerror(-rc));
		status = EXIT_CONFIG;
	}
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
	/* It takes the engine and the config (a reload replaces them). */
	status = run_engine(engine, cfg,
	                    &(struct run_opts){ .url = ctx->opt.nats_url,
	                                        .from_stdin = a->from_stdin,
	                                        .load_config = reload_config,
	                                        .load_arg = &src });
	engine = NULL;
	cfg = NULL;
out:
	engine_destroy(engine);
	cfg_free(cfg);
	free(src.path);
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
