/* SPDX-License-Identifier: MIT */
/* taskjet: the command table, global --help and --version. */
#include <stdio.h>
#include <string.h>

#include <taskjet/plugin.h>

#include "cli/cli.h"
#include "config/defaults.h"
#include "run/backends.h"

static const struct cli_command *const commands[] = {
	&cli_cmd_run,     &cli_cmd_check, &cli_cmd_exec,  &cli_cmd_publish,
	&cli_cmd_plugins, &cli_cmd_dlq,   &cli_cmd_stats,
};

static const char help_head[] =
    "Usage: taskjet COMMAND [OPTIONS]\n"
    "\n"
    "A task-processing engine for NATS JetStream: durable pull consumers feed\n"
    "tasks to handler plugins; the engine acks, retries with backoff, or\n"
    "dead-letters them.\n"
    "\n"
    "Commands:\n";

static const char help_tail[] =
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
    "  TASKJET_STATE_DIR  overrides state_dir (default " CFG_DEFAULT_STATE_DIR ")\n"
    "\n"
    "Exit status:\n"
    "  0   success\n"
    "  1   other failure (e.g. a task ended in the dead-letter queue for exec)\n"
    "  64  usage error\n"
    "  69  a service is unavailable (NATS server, nats-server binary)\n"
    "  78  configuration error (bad config file or plugin)\n";

static void
print_help(FILE *out)
{
	fputs(help_head, out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-9s %s\n", commands[i]->name, commands[i]->summary);
	fputs(help_tail, out);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		print_help(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_help(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("taskjet %s (plugin ABI %u.%u, %s)\n", PACKAGE_VERSION, TJ_ABI_MAJOR,
		       TJ_ABI_MINOR, backend_library_versions());
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i]->name) == 0)
			return cli_command_main(commands[i], argc - 1, argv + 1);
	fprintf(stderr, "taskjet: unknown command \"%s\"; see taskjet --help\n", argv[1]);
	return EXIT_USAGE;
}
