/* SPDX-License-Identifier: MIT */
/* The command line: one file per command, shared helpers here. */
#ifndef TASKJET_CLI_H
#define TASKJET_CLI_H

#include <signal.h>
#include <stdio.h>

#include "config/config.h"
#include "task/backend.h"
#include "util/exitcode.h"

/* Each command: argv[0] is the command name. Returns an exit code. */
int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_stats(int argc, char **argv);

/* -c FILE, else $TASKJET_CONFIG, else SYSCONFDIR/taskjet/taskjet.json. */
const char *cli_config_path(const char *given);

/* Load the config, printing every error to stderr. Returns EXIT_OK or
 * EXIT_CONFIG; on EXIT_OK *cfg_r is the caller's to cfg_free(). */
int cli_load_config(const char *given_path, struct cfg **cfg_r);

/* Set up logging from the config, then apply command-line overrides
 * (NULL: keep). Returns EXIT_OK or EXIT_CONFIG. */
int cli_setup_log(const struct cfg *cfg, const char *level, const char *format, const char *file);

/* Read all of stdin into a malloc'd NUL-terminated buffer. 0 or -errno. */
int cli_read_stdin(char **data_r, size_t *len_r);

/*
 * Create cfg->state_dir (like mkdir -p), make it absolute and make it the
 * working directory, so relative paths in plugin configs live there.
 * Returns EXIT_OK, or EXIT_CONFIG after printing why.
 */
int cli_enter_state_dir(struct cfg *cfg);

/*
 * Open the configured backend as a client (`cmd` is the command name for
 * messages, `name` the connection name, `url` a --nats URL or NULL). On
 * failure prints why to stderr and returns EXIT_UNAVAILABLE (or EXIT_USAGE
 * for a backend no client can reach); on success EXIT_OK and *b_r is the
 * caller's to backend_destroy(). Main thread.
 */
int cli_open_backend(const char *cmd, const char *name, const char *url, const struct cfg *cfg,
                     struct backend **b_r);

/*
 * Load the config for a client command that can do without one: `given`
 * or $TASKJET_CONFIG must load; otherwise the default file is loaded if it
 * exists, else the defaults (cfg_load_defaults). Returns EXIT_OK or
 * EXIT_CONFIG; on EXIT_OK *cfg_r is the caller's to cfg_free().
 */
int cli_load_optional_config(const char *given, struct cfg **cfg_r);

/* Write `len` bytes of `s` to `out` as one quoted JSON text string, by the
 * writer's rules (common/jsonw.h): RFC 8259 escapes, bytes that are not
 * UTF-8 replaced by U+FFFD. Aborts on out of memory, as xalloc does. */
void cli_json_string(FILE *out, const char *s, size_t len);

/* Write ",\"KEY_encoding\":...,\"KEY\":..." for `len` arbitrary bytes: the
 * writer's bytes convention (text as a string, anything else base64). */
void cli_json_bytes(FILE *out, const char *key, const void *data, size_t len);

/* Print the routes table (check, exec). */
void cli_print_routes(FILE *out, const struct cfg *cfg);

#endif
