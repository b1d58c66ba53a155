/* SPDX-License-Identifier: MIT */
/* The command table's shared parts: option parsing, usage and errors. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "util/exitcode.h"
#include "util/xalloc.h"

/* What cli_parse() answers when the command should run. */
#define CLI_PARSED (-1)

static const struct cli_option help_option = { "help", no_argument, 'h', CLI_OWN };

static size_t
option_count(const struct cli_command *cmd)
{
	size_t n = 0;

	while (cmd->options != NULL && cmd->options[n].name != NULL)
		n++;
	return n;
}

/* getopt_long's tables for the command's options plus -h/--help: the
 * short letters in `shorts` (":" after one that takes an argument) and the
 * long ones in *longs_r (the caller's to free). */
static void
getopt_tables(const struct cli_command *cmd, char *shorts, size_t shorts_len,
              struct option **longs_r)
{
	size_t n = option_count(cmd), s = 0;
	struct option *longs = xcalloc(n + 2, sizeof(*longs));

	for (size_t i = 0; i <= n; i++) {
		const struct cli_option *o = i < n ? &cmd->options[i] : &help_option;

		longs[i] = (struct option){ o->name, o->has_arg, NULL, o->key };
		if (o->key >= CLI_KEY_LONG || s + 4 > shorts_len)
			continue;
		shorts[s++] = (char)o->key;
		if (o->has_arg != no_argument)
			shorts[s++] = ':';
		if (o->has_arg == optional_argument)
			shorts[s++] = ':';
	}
	shorts[s] = '\0';
	*longs_r = longs;
}

static const struct cli_option *
find_option(const struct cli_command *cmd, int key)
{
	for (size_t i = 0; cmd->options != NULL && cmd->options[i].name != NULL; i++)
		if (cmd->options[i].key == key)
			return &cmd->options[i];
	return NULL;
}

/* Store a shared option in ctx->opt, or hand an own one to the command. */
static int
take_option(struct cli_ctx *ctx, void *args, const struct cli_option *o, char *value)
{
	struct cli_common *c = &ctx->opt;

	switch (o->shared) {
	case CLI_CONFIG:
		c->config = value;
		break;
	case CLI_NATS:
		c->nats_url = value;
		break;
	case CLI_JSON:
		c->json = true;
		break;
	case CLI_LOG_LEVEL:
		c->log_level = value;
		break;
	case CLI_LOG_FORMAT:
		c->log_format = value;
		break;
	case CLI_LOG_FILE:
		c->log_file = value;
		break;
	case CLI_OWN:
		return ctx->cmd->option(ctx, args, o->key, value);
	}
	return EXIT_OK;
}

/*
 * The subcommand word of a command that has them: "taskjet dlq" alone is a
 * usage error, "taskjet dlq --help" the usage. On success ctx->sub is set
 * and argv[0] is the subcommand.
 */
static int
take_subcommand(struct cli_ctx *ctx, int *argc, char ***argv)
{
	const struct cli_command *cmd = ctx->cmd;
	const char *word = *argc >= 2 ? (*argv)[1] : NULL;

	if (word == NULL)
		return cli_usage_error(ctx);
	if (strcmp(word, "-h") == 0 || strcmp(word, "--help") == 0) {
		fputs(cmd->usage, stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; cmd->subcommands[i] != NULL; i++) {
		if (strcmp(word, cmd->subcommands[i]) == 0) {
			ctx->sub = word;
			(*argc)--;
			(*argv)++;
			return CLI_PARSED;
		}
	}
	cli_error(ctx, "unknown subcommand \"%s\"; see taskjet %s --help", word, cmd->name);
	return EXIT_USAGE;
}

/* Parse the options and check the operand count: CLI_PARSED, or the exit
 * status to end with. */
static int
cli_parse(struct cli_ctx *ctx, void *args, int argc, char **argv)
{
	const struct cli_command *cmd = ctx->cmd;
	struct option *longs;
	char shorts[128];
	int key, status = CLI_PARSED, operands;

	if (cmd->subcommands != NULL) {
		status = take_subcommand(ctx, &argc, &argv);
		if (status != CLI_PARSED)
			return status;
	}
	getopt_tables(cmd, shorts, sizeof(shorts), &longs);
	while (status == CLI_PARSED && (key = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct cli_option *o = find_option(cmd, key);

		if (key == 'h' && o == NULL) {
			fputs(cmd->usage, stdout);
			status = EXIT_OK;
		} else if (o == NULL) {
			/* getopt_long said what was wrong. */
			status = cli_usage_error(ctx);
		} else {
			int rc = take_option(ctx, args, o, optarg);

			if (rc != EXIT_OK)
				status = rc;
		}
	}
	free(longs);
	if (status != CLI_PARSED)
		return status;
	operands = argc - optind;
	if (operands < cmd->min_operands ||
	    (cmd->max_operands != CLI_ANY_OPERANDS && operands > cmd->max_operands))
		return cli_usage_error(ctx);
	ctx->argc = operands;
	ctx->argv = argv + optind;
	return CLI_PARSED;
}

int
cli_command_main(const struct cli_command *cmd, int argc, char **argv)
{
	struct cli_ctx ctx = { .cmd = cmd };
	void *args = xmalloc(cmd->args_size > 0 ? cmd->args_size : 1);
	int status;

	if (cmd->args_size > 0)
		memcpy(args, cmd->defaults, cmd->args_size);
	status = cli_parse(&ctx, args, argc, argv);
	if (status == CLI_PARSED)
		status = cmd->run(&ctx, args);
	fflush(stdout);
	free(args);
	return status;
}

int
cli_usage_error(const struct cli_ctx *ctx)
{
	fputs(ctx->cmd->usage, stderr);
	return EXIT_USAGE;
}

void
cli_error(const struct cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "taskjet %s: ", ctx->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
cli_sub_error(const struct cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "taskjet %s %s: ", ctx->cmd->name, ctx->sub);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_exit_status(int rc)
{
	return rc == -ENOTCONN || rc == -ECONNREFUSED ? EXIT_UNAVAILABLE : EXIT_FAILURE_OTHER;
}
