/* SPDX-License-Identifier: MIT */
/* taskjet check: validate the config and load every plugin. */
#include <errno.h>
#include <getopt.h>
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
check_topology(const struct cfg *cfg, const char *url)
{
	struct backend *backend = NULL;
	int status, rc;

	status = cli_open_backend("check", "taskjet-check", url, cfg, &backend);
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

int
cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "nats", optional_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *nats_url = NULL;
	struct engine *engine = NULL;
	struct cfg *cfg = NULL;
	bool nats = false;
	int opt, status;

	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'n':
			nats = true;
			nats_url = optarg;
			break;
		case 'h':
			fputs(check_usage, stdout);
			return EXIT_OK;
		default:
			fputs(check_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(check_usage, stderr);
		return EXIT_USAGE;
	}
	status = cli_load_config(config, &cfg);
	if (status != EXIT_OK)
		goto out;
	status = cli_setup_log(cfg, NULL, NULL, NULL);
	if (status != EXIT_OK)
		goto out;
	status = cli_enter_state_dir(cfg);
	if (status != EXIT_OK)
		goto out;
	if (engine_create(cfg, NULL, &engine) < 0) {
		status = EXIT_CONFIG;
		goto out;
	}
	printf("%s: ok, %zu stream%s, %zu route%s\n", cfg->path, cfg->stream_count,
	       cfg->stream_count == 1 ? "" : "s", cfg->route_count,
	       cfg->route_count == 1 ? "" : "s");
	cli_print_routes(stdout, cfg);
	if (nats)
		status = check_topology(cfg, nats_url);
out:
	engine_destroy(engine);
	cfg_free(cfg);
	return status;
}
