/* SPDX-License-Identifier: MIT */
/* taskjet: command dispatch, global --help and --version. */
#include <stdio.h>
#include <string.h>

#include <taskjet/plugin.h>

#include "cli/cli.h"
#include "run/backends.h"

static const char usage_text[] =
    "Usage: taskjet COMMAND [OPTIONS]\n"
    "\n"
    "A task-processing engine for NATS JetStream: durable pull consumers feed\n"
    "tasks to handler plugins; the engine acks, retries with backoff, or\n"
    "dead-letters them.\n"
    "\n"
    "Commands:\n"
    "  run       run the engine (JetStream, embedded local server, or memory)\n"
    "  check     validate the config and load every plugin; print the routes\n"
    "  exec      run one task through its route on the memory backend\n"
    "  publish   publish tasks to JetStream with publish acks\n"
    "  plugins   list the plugins in the plugin directory\n"
    "  dlq       list, show, replay and purge dead letters\n"
    "  stats     streams, consumers and the DLQ at a glance\n"
    "\n"
    "Run `taskjet COMMAND --help` for a command's options.\n"
    "\n"
    "Global options:\n"
    "  -h, --help      show this help\n"
    "  -V, --version   show versions (taskjet, plugin ABI, libnats)\n"
    "\n"
    "Environment:\n"
    "  TASKJET_CONFIG     config file when -c is not given\n"
    "  NATS_URL           overrides nats.url\n"
    "  TASKJET_WORKER_ID  overrides worker_id\n"
    "  TASKJET_BACKEND    overrides backend (jetstream or memory)\n"
    "  TASKJET_PLUGIN_DIR overrides plugin_dir\n"
    "  TASKJET_STATE_DIR  overrides state_dir\n"
    "\n"
    "Exit status:\n"
    "  0   success\n"
    "  1   other failure (e.g. a task ended in the dead-letter queue for exec)\n"
    "  64  usage error\n"
    "  69  a service is unavailable (NATS server, nats-server binary)\n"
    "  78  configuration error (bad config file or plugin)\n";

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} commands[] = {
		{ "run", cmd_run },         { "check", cmd_check },     { "exec", cmd_exec },
		{ "publish", cmd_publish }, { "plugins", cmd_plugins }, { "dlq", cmd_dlq },
		{ "stats", cmd_stats },
	};

	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("taskjet %s (plugin ABI %u.%u, %s)\n", PACKAGE_VERSION, TJ_ABI_MAJOR,
		       TJ_ABI_MINOR, backend_library_versions());
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "taskjet: unknown command \"%s\"; see taskjet --help\n", argv[1]);
	return EXIT_USAGE;
}
