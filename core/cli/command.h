/* SPDX-License-Identifier: MIT */
/*
 * The command table. Each command is one struct cli_command in its
 * cmd_<name>.c: its name, the line `taskjet --help` shows for it, its usage
 * text, its options and its handler. main.c lists them; cli_command_main()
 * parses every command's options the same way:
 *
 *   - -h/--help prints the usage to stdout and exits 0;
 *   - an unknown option or a wrong number of operands prints the usage to
 *     stderr and exits 64 (EXIT_USAGE);
 *   - the options several commands share (CLI_OPT_CONFIG and the others
 *     below) land in struct cli_ctx; the command's own ones go to its
 *     option() callback, which fills the command's argument struct.
 *
 * Everything here runs on the main thread of a short-lived process.
 */
#ifndef TASKJET_CLI_COMMAND_H
#define TASKJET_CLI_COMMAND_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/* Which member of struct cli_common an option fills; CLI_OWN: none, it
 * goes to the command's option() callback. */
enum cli_shared {
	CLI_OWN,
	CLI_CONFIG,
	CLI_NATS,
	CLI_JSON,
	CLI_LOG_LEVEL,
	CLI_LOG_FORMAT,
	CLI_LOG_FILE
};

/* Keys of long-only options start here (a short option's key is its letter). */
#define CLI_KEY_LONG 256

struct cli_option {
	const char *name; /* the long name, without "--" */
	int has_arg; /* no_argument, required_argument or optional_argument */
	int key; /* the short letter (-x), or CLI_KEY_LONG + n: long only */
	enum cli_shared shared;
};

/* A command's own option, and one of the shared ones. */
#define CLI_OPTION(name, has_arg, key)            \
	{                                         \
		(name), (has_arg), (key), CLI_OWN \
	}
#define CLI_SHARED_OPTION(name, has_arg, key, shared) \
	{                                             \
		(name), (has_arg), (key), (shared)    \
	}

/* The shared options, for a command's option table. */
#define CLI_OPT_CONFIG CLI_SHARED_OPTION("config", required_argument, 'c', CLI_CONFIG)
#define CLI_OPT_NATS CLI_SHARED_OPTION("nats", required_argument, 'n', CLI_NATS)
#define CLI_OPT_JSON CLI_SHARED_OPTION("json", no_argument, 'j', CLI_JSON)
#define CLI_OPT_LOG_LEVEL CLI_SHARED_OPTION("log-level", required_argument, 'l', CLI_LOG_LEVEL)
#define CLI_OPT_LOG_FORMAT \
	CLI_SHARED_OPTION("log-format", required_argument, CLI_KEY_LONG + 100, CLI_LOG_FORMAT)
#define CLI_OPT_LOG_FILE \
	CLI_SHARED_OPTION("log-file", required_argument, CLI_KEY_LONG + 101, CLI_LOG_FILE)
#define CLI_OPT_END CLI_OPTION(NULL, 0, 0)

/* The shared options as given (NULL or false: not given). */
struct cli_common {
	const char *config; /* -c, --config */
	const char *nats_url; /* -n, --nats */
	const char *log_level, *log_format, *log_file;
	bool json; /* -j, --json */
};

struct cli_command;

/* One run of a command, as parsed. */
struct cli_ctx {
	const struct cli_command *cmd;
	const char *sub; /* the subcommand word, for a command that has them */
	struct cli_common opt;
	int argc; /* the operands left after the options */
	char **argv;
};

/* max_operands of a command that checks its operands itself. */
#define CLI_ANY_OPERANDS (-1)

struct cli_command {
	const char *name;
	const char *summary; /* one line in `taskjet --help` */
	const char *usage; /* the whole `taskjet NAME --help` */
	const struct cli_option *options; /* ends with CLI_OPT_END; -h/--help is implied */
	/* NULL, or the words of which one must come right after the name
	 * (`taskjet dlq ls`); the options follow it. */
	const char *const *subcommands;
	int min_operands, max_operands;
	/* The command's own arguments: a copy of *defaults (args_size bytes),
	 * filled by option() and handed to run(). See CLI_ARGS. */
	const void *defaults;
	size_t args_size;
	/* One of the command's own options (value NULL for no_argument; it
	 * may be written to). EXIT_OK, or EXIT_USAGE after saying why. */
	int (*option)(struct cli_ctx *ctx, void *args, int key, char *value);
	/* The command itself; returns the exit status. */
	int (*run)(struct cli_ctx *ctx, void *args);
};

#define CLI_ARGS(defaults_) .defaults = &(defaults_), .args_size = sizeof(defaults_)

extern const struct cli_command cli_cmd_run, cli_cmd_check, cli_cmd_exec, cli_cmd_publish,
    cli_cmd_plugins, cli_cmd_dlq, cli_cmd_stats;

/* Parse argv (argv[0] is the command name) as `cmd` says and run it.
 * Returns the exit status. */
int cli_command_main(const struct cli_command *cmd, int argc, char **argv);

/* Print the command's usage to stderr; returns EXIT_USAGE. */
int cli_usage_error(const struct cli_ctx *ctx);

/* Print "taskjet CMD: MESSAGE\n" (cli_error) or "taskjet CMD SUB: MESSAGE\n"
 * (cli_sub_error) to stderr: every error of a command, once. */
void cli_error(const struct cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_sub_error(const struct cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The exit status for a failed operation that returned -errno: 69
 * (unavailable) when the server could not be reached, else 1. */
int cli_exit_status(int rc);

#endif
