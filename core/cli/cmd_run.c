/* SPDX-License-Identifier: MIT */
/* taskjet run: options and config; the daemon itself is run/run.c. */
#include <getopt.h>
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

struct run_options {
	const char *config;
	const char *nats_url;
	const char *backend;
	const char *log_level;
	const char *log_format;
	const char *log_file;
	bool from_stdin;
};

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
	run_block_signals();
	if (engine_create(cfg, NULL, &engine) < 0) {
		status = EXIT_CONFIG;
		goto out;
	}
	status = run_engine(engine, cfg,
	                    &(struct run_opts){ .url = o.nats_url, .from_stdin = o.from_stdin });
out:
	engine_destroy(engine);
	cfg_free(cfg);
	log_close();
	return status;
}
