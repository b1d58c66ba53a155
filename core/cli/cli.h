/* SPDX-License-Identifier: MIT */
/*
 * The command line: one file per command (cmd_<name>.c, each a struct
 * cli_command of command.h), the steps they share here, what they print
 * with in output.h. Main thread only.
 */
#ifndef TASKJET_CLI_H
#define TASKJET_CLI_H

#include <signal.h>
#include <stdio.h>

#include "cli/command.h"
#include "cli/output.h"
#include "config/config.h"
#include "task/backend.h"
#include "util/exitcode.h"

/* -c FILE, else $TASKJET_CONFIG, else SYSCONFDIR/taskjet/taskjet.json. */
const char *cli_config_path(const char *given);

/* Load the config, printing every error to stderr. Returns EXIT_OK or
 * EXIT_CONFIG; on EXIT_OK *cfg_r is the caller's to cfg_free(). */
int cli_load_config(const char *given_path, struct cfg **cfg_r);

/* Set up logging from the config, then apply command-line overrides
 * (NULL: keep). Returns EXIT_OK, EXIT_USAGE or EXIT_CONFIG. */
int cli_setup_log(const struct cfg *cfg, const char *level, const char *format, const char *file);
/* The same, creating nothing: lines go to stderr, and the log file is
 * only checked (log_check_path()). For `taskjet check`. */
int cli_check_log(const struct cfg *cfg, const char *level, const char *format, const char *file);

/* Read all of stdin into a malloc'd NUL-terminated buffer. 0 or -errno. */
int cli_read_stdin(char **data_r, size_t *len_r);

/*
 * Create cfg->state_dir (like mkdir -p), make it absolute and make it the
 * working directory, so relative paths in plugin configs live there.
 * Returns EXIT_OK, or EXIT_CONFIG after printing why.
 */
int cli_enter_state_dir(struct cfg *cfg);

/*
 * What the read-only commands (check, plugins) run plugin init in instead
 * of state_dir, so that they create nothing there: a new private directory
 * under $TMPDIR (or /tmp), made the working directory. EXIT_OK with *dir_r
 * the caller's to cli_leave_scratch_dir(), or EXIT_CONFIG after saying why.
 */
int cli_enter_scratch_dir(char **dir_r);
/* Leave the scratch directory, remove it with all a plugin put there, and
 * free `dir`. NULL: nothing to do. */
void cli_leave_scratch_dir(char *dir);

/*
 * Open the configured backend as a client of the server at --nats (else
 * the config's), named "taskjet-CMD". On failure prints why to stderr and
 * returns EXIT_UNAVAILABLE (or EXIT_USAGE for a backend no client can
 * reach); on success EXIT_OK and *b_r is the caller's to backend_destroy().
 */
int cli_open_backend(const struct cli_ctx *ctx, const struct cfg *cfg, struct backend **b_r);

/*
 * What a client command (publish, dlq, stats) does first: load the config
 * (--config; with `config_optional`, the defaults when there is none, see
 * cli_load_optional_config), log warnings only, open the backend. Returns
 * EXIT_OK with *cfg_r and *b_r the caller's (cfg_free, backend_destroy),
 * else the exit status after saying why; *cfg_r may then be set too.
 */
int cli_open_client(const struct cli_ctx *ctx, bool config_optional, struct cfg **cfg_r,
                    struct backend **b_r);

/* What a command that loads plugins (run, check, exec) does after loading
 * the config: log as the config and --log-* say, enter state_dir.
 * EXIT_OK or the exit status after saying why. */
int cli_setup_local(const struct cli_ctx *ctx, struct cfg *cfg);

/* The payload operand: `arg` itself, or stdin when it is NULL or "-". The
 * buffer is the caller's to free. EXIT_OK, or EXIT_FAILURE_OTHER after
 * saying why. */
int cli_read_payload(const struct cli_ctx *ctx, const char *arg, char **data_r, size_t *len_r);

/* The --header K=V options of publish and exec. */
#define CLI_MAX_HEADERS 32
struct cli_headers {
	struct msg_header list[CLI_MAX_HEADERS]; /* pointing into argv */
	size_t count;
};

/* Add a --header "K=V", split in place. 0, -EINVAL when there is no "="
 * or no key, -E2BIG when CLI_MAX_HEADERS are there already. */
int cli_headers_add(struct cli_headers *h, char *arg);

/* A task must not carry taskjet's own headers (Taskjet-*, any case): they
 * are the engine's, written into dead letters. On the dead-letter subjects
 * (<dlq.subject_prefix>.>) they are what makes a letter, so an operator may
 * plant a test letter there. EXIT_OK, or EXIT_USAGE after saying why. */
int cli_headers_check(const struct cli_ctx *ctx, const struct cli_headers *h, const struct cfg *cfg,
                      const char *subject);

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

/* Write the document a JSON writer built in `b` to stdout with a newline,
 * and release `b`; exits (70) if the writer ran out of memory. */
struct strbuf;
void cli_write_document(struct strbuf *b, int writer_error);

/* Write ",\"KEY_encoding\":...,\"KEY\":..." for `len` arbitrary bytes: the
 * writer's bytes convention (text as a string, anything else base64). */
void cli_json_bytes(FILE *out, const char *key, const void *data, size_t len);

/* Print the routes table (check); term: what `out` is, or NULL. */
void cli_print_routes(FILE *out, const struct cfg *cfg, const struct cli_term *term);

#endif
