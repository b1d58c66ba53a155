/* SPDX-License-Identifier: MIT */
/* The command line: one file per command, shared helpers here. */
#ifndef TASKJET_CLI_H
#define TASKJET_CLI_H

#include <signal.h>
#include <stdio.h>

#include "config/config.h"

/* Exit codes (sysexits.h values), documented in `taskjet --help`. */
enum cli_exit {
	EXIT_OK = 0,
	EXIT_FAILURE_OTHER = 1,
	EXIT_USAGE = 64,
	EXIT_UNAVAILABLE = 69,
	EXIT_CONFIG = 78
};

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
 * Wait on the main thread for SIGTERM/SIGINT in `set` (blocked in every
 * thread), reopening the log on SIGHUP. Returns 1 on a stop signal, or 0
 * as soon as *done (if not NULL) becomes true.
 */
int cli_wait_for_stop(const sigset_t *set, volatile sig_atomic_t *done);
/* From now on a second SIGTERM/SIGINT ends the process at once. */
void cli_watch_second_signal(sigset_t *set);

/*
 * Create cfg->state_dir (like mkdir -p), make it absolute and make it the
 * working directory, so relative paths in plugin configs live there.
 * Returns EXIT_OK, or EXIT_CONFIG after printing why.
 */
int cli_enter_state_dir(struct cfg *cfg);

struct natsconn;

/* The URL a running `taskjet run` recorded for its embedded server
 * (<state_dir>/nats.url) into buf. 0, or -ENOENT / -errno if none. */
int cli_read_embedded_url(const struct cfg *cfg, char *buf, size_t len);

/*
 * The NATS URL a client command uses, in order: `given` (--nats), env
 * NATS_URL, cfg's nats.url, the URL file of the embedded server the
 * config's engine started (run_embedded_url_path), nats://127.0.0.1:4222.
 * cfg may be NULL. Returns a malloc'd string the caller frees.
 */
char *cli_resolve_url(const char *given, const struct cfg *cfg);

/*
 * Connect a short-lived client command (`name` is the connection name) to
 * cli_resolve_url(url, cfg), with cfg's credentials if any. On failure
 * prints "taskjet CMD: cannot connect to URL: why" to stderr and returns
 * EXIT_UNAVAILABLE; on success EXIT_OK and *nc_r is the caller's to
 * natsconn_close(). Main thread.
 */
int cli_connect(const char *cmd, const char *name, const char *url, const struct cfg *cfg,
                struct natsconn **nc_r);

/*
 * Load the config for a client command that can do without one: `given`
 * or $TASKJET_CONFIG must load; otherwise the default file is loaded if it
 * exists, else *cfg_r is set to NULL. Returns EXIT_OK or EXIT_CONFIG.
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
