/* SPDX-License-Identifier: MIT */
/* Helpers shared by the commands. */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "run/backends.h"
#include "jsonw.h"
#include "util/log.h"
#include "util/xalloc.h"

const char *
cli_config_path(const char *given)
{
	const char *env = getenv("TASKJET_CONFIG");

	if (given != NULL)
		return given;
	if (env != NULL && *env != '\0')
		return env;
	return SYSCONFDIR "/taskjet/taskjet.json";
}

int
cli_load_config(const char *given_path, struct cfg **cfg_r)
{
	const char *path = cli_config_path(given_path);
	char *errors = NULL;
	int rc;

	rc = cfg_load(path, &errors, cfg_r);
	if (rc < 0) {
		if (errors != NULL)
			fputs(errors, stderr);
		else
			fprintf(stderr, "taskjet: %s: %s\n", path, strerror(-rc));
		free(errors);
		return EXIT_CONFIG;
	}
	return EXIT_OK;
}

int
cli_load_optional_config(const char *given, struct cfg **cfg_r)
{
	const char *env = getenv("TASKJET_CONFIG");
	char *errors = NULL;

	if (given != NULL || (env != NULL && *env != '\0') ||
	    access(cli_config_path(NULL), F_OK) == 0)
		return cli_load_config(given, cfg_r);
	if (cfg_load_defaults(&errors, cfg_r) < 0) {
		if (errors != NULL)
			fputs(errors, stderr);
		free(errors);
		return EXIT_CONFIG;
	}
	return EXIT_OK;
}

int
cli_open_backend(const struct cli_ctx *ctx, const struct cfg *cfg, struct backend **b_r)
{
	char name[64], why[1024] = "";
	int rc;

	snprintf(name, sizeof(name), "taskjet-%s", ctx->cmd->name);
	rc = backend_open(cfg,
	                  &(struct backend_open_opts){ .url = ctx->opt.nats_url,
	                                               .client = true,
	                                               .name = name,
	                                               .err = why,
	                                               .err_len = sizeof(why) },
	                  b_r);
	if (rc == -ENOTSUP) {
		cli_error(ctx,
		          "the %s backend keeps its tasks and dead letters inside "
		          "the running engine; use its HTTP API instead",
		          backend_kind_name(cfg));
		return EXIT_USAGE;
	}
	if (rc < 0) {
		if (why[0] != '\0')
			cli_error(ctx, "%s", why);
		else
			cli_error(ctx, "cannot reach the %s backend: %s", backend_kind_name(cfg),
			          strerror(-rc));
		return rc == -EINVAL ? EXIT_CONFIG : EXIT_UNAVAILABLE;
	}
	return EXIT_OK;
}

int
cli_open_client(const struct cli_ctx *ctx, bool config_optional, struct cfg **cfg_r,
                struct backend **b_r)
{
	int status = config_optional ? cli_load_optional_config(ctx->opt.config, cfg_r)
	                             : cli_load_config(ctx->opt.config, cfg_r);

	if (status != EXIT_OK)
		return status;
	log_setup(TJ_LOG_WARNING, LOG_FORMAT_TEXT, NULL);
	return cli_open_backend(ctx, *cfg_r, b_r);
}

int
cli_setup_local(const struct cli_ctx *ctx, struct cfg *cfg)
{
	int status = cli_setup_log(cfg, ctx->opt.log_level, ctx->opt.log_format, ctx->opt.log_file);

	if (status != EXIT_OK)
		return status;
	return cli_enter_state_dir(cfg);
}

static int setup_log(const struct cfg *cfg, const char *level, const char *format, const char *file,
                     bool create);

int
cli_setup_log(const struct cfg *cfg, const char *level, const char *format, const char *file)
{
	return setup_log(cfg, level, format, file, true);
}

int
cli_check_log(const struct cfg *cfg, const char *level, const char *format, const char *file)
{
	return setup_log(cfg, level, format, file, false);
}

static int
setup_log(const struct cfg *cfg, const char *level, const char *format, const char *file,
          bool create)
{
	int lvl = cfg != NULL ? cfg->log.level : TJ_LOG_INFO;
	enum log_format fmt =
	    cfg != NULL && cfg->log.format == CFG_LOG_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
	const char *path = cfg != NULL ? cfg->log.file : NULL;
	int rc;

	if (level != NULL) {
		lvl = log_level_parse(level);
		if (lvl < 0) {
			fprintf(stderr, "taskjet: --log-level: unknown level \"%s\"\n", level);
			return EXIT_USAGE;
		}
	}
	if (format != NULL) {
		if (strcmp(format, "json") == 0) {
			fmt = LOG_FORMAT_JSON;
		} else if (strcmp(format, "text") == 0) {
			fmt = LOG_FORMAT_TEXT;
		} else {
			fprintf(stderr, "taskjet: --log-format: expected text or json\n");
			return EXIT_USAGE;
		}
	}
	if (file != NULL)
		path = file;
	if (create) {
		rc = log_setup(lvl, fmt, path);
	} else {
		rc = path != NULL ? log_check_path(path) : 0;
		if (rc == 0)
			rc = log_setup(lvl, fmt, NULL);
	}
	if (rc < 0) {
		fprintf(stderr, "taskjet: log file %s: %s\n", path, strerror(-rc));
		return EXIT_CONFIG;
	}
	return EXIT_OK;
}

int
cli_enter_state_dir(struct cfg *cfg)
{
	char *path = xstrdup(cfg->state_dir), *abs = NULL;
	int status = EXIT_CONFIG;

	/* mkdir -p: create each missing parent in turn. */
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(path, 0750) < 0 && errno != EEXIST) {
			fprintf(stderr, "taskjet: state_dir %s: %s\n", path, strerror(errno));
			goto out;
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	abs = realpath(path, NULL);
	if (abs == NULL || chdir(abs) < 0) {
		fprintf(stderr, "taskjet: state_dir %s: %s\n", path, strerror(errno));
		goto out;
	}
	free(cfg->state_dir);
	cfg->state_dir = abs;
	abs = NULL;
	status = EXIT_OK;
out:
	free(abs);
	free(path);
	return status;
}

static int
remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int
cli_enter_scratch_dir(char **dir_r)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = NULL;

	if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	if (asprintf(&dir, "%s/taskjet-check-XXXXXX", tmp) < 0)
		xalloc_check(-ENOMEM);
	if (mkdtemp(dir) == NULL || chdir(dir) < 0) {
		fprintf(stderr, "taskjet: scratch directory %s: %s\n", dir, strerror(errno));
		free(dir);
		return EXIT_CONFIG;
	}
	*dir_r = dir;
	return EXIT_OK;
}

void
cli_leave_scratch_dir(char *dir)
{
	if (dir == NULL)
		return;
	if (chdir("/") == 0 && nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "taskjet: removing %s: %s\n", dir, strerror(errno));
	free(dir);
}

int
cli_read_stdin(char **data_r, size_t *len_r)
{
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);

	for (;;) {
		ssize_t n;

		if (len + 1 >= cap)
			buf = xrealloc(buf, cap *= 2, 1);
		n = read(STDIN_FILENO, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;

			free(buf);
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*data_r = buf;
	*len_r = len;
	return 0;
}

int
cli_read_payload(const struct cli_ctx *ctx, const char *arg, char **data_r, size_t *len_r)
{
	int rc;

	if (arg != NULL && strcmp(arg, "-") != 0) {
		*data_r = xstrdup(arg);
		*len_r = strlen(arg);
		return EXIT_OK;
	}
	rc = cli_read_stdin(data_r, len_r);
	if (rc < 0) {
		cli_error(ctx, "stdin: %s", strerror(-rc));
		return EXIT_FAILURE_OTHER;
	}
	return EXIT_OK;
}

int
cli_headers_add(struct cli_headers *h, char *arg)
{
	char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg)
		return -EINVAL;
	if (h->count == CLI_MAX_HEADERS)
		return -E2BIG;
	*eq = '\0';
	h->list[h->count].key = arg;
	h->list[h->count++].value = eq + 1;
	return 0;
}

int
cli_headers_check(const struct cli_ctx *ctx, const struct cli_headers *h, const struct cfg *cfg,
                  const char *subject)
{
	size_t plen = strlen(cfg->dlq.subject_prefix);
	bool letter = strncmp(subject, cfg->dlq.subject_prefix, plen) == 0 && subject[plen] == '.';

	for (size_t i = 0; i < h->count && !letter; i++) {
		if (!dlq_header_reserved(h->list[i].key))
			continue;
		cli_error(
		    ctx,
		    "--header %s: Taskjet-* headers are the engine's own and a task must not "
		    "carry them (they are accepted on the dead-letter subjects %s.>, to plant "
		    "a letter)",
		    h->list[i].key, cfg->dlq.subject_prefix);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Write what the writer built, or abort if it ran out of memory. */
static void
write_json(FILE *out, struct strbuf *b, size_t skip_head, size_t skip_tail)
{
	xalloc_check(b->err);
	fwrite(b->data + skip_head, 1, b->len - skip_head - skip_tail, out);
	strbuf_release(b);
}

void
cli_json_string(FILE *out, const char *s, size_t len)
{
	struct strbuf b = { 0 };

	json_quote(&b, s, len);
	write_json(out, &b, 0, 0);
}

void
cli_write_document(struct strbuf *b, int writer_error)
{
	xalloc_check(writer_error != 0 ? writer_error : b->err);
	fwrite(b->data, 1, b->len, stdout);
	fputc('\n', stdout);
	strbuf_release(b);
}

void
cli_json_bytes(FILE *out, const char *key, const void *data, size_t len)
{
	struct strbuf b = { 0 };
	struct jsonw w;

	/* Members need an object around them: build {...}, write the inside. */
	jsonw_init(&w, &b);
	jsonw_begin_object(&w);
	jsonw_member_bytes(&w, key, data, len);
	jsonw_end_object(&w);
	xalloc_check(jsonw_finish(&w));
	fputc(',', out);
	write_json(out, &b, 1, 1);
}

static void
format_ms(int64_t ms, char *buf, size_t len)
{
	if (ms % 3600000 == 0 && ms >= 3600000)
		snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms >= 60000)
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0 && ms >= 1000)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, len, "%lldms", (long long)ms);
}

static const struct cli_column route_columns[] = {
	{ .title = "ROUTE", .shrink = 2 },
	{ .title = "SUBJECT", .shrink = 2 },
	{ .title = "STREAM", .shrink = 2 },
	{ .title = "CONSUMER", .shrink = 2 },
	{ .title = "PLUGIN/HANDLER", .shrink = 2 },
	{ .title = "CONC", .align = CLI_RIGHT },
	{ .title = "MAX", .align = CLI_RIGHT },
	{ .title = "ACK_WAIT", .align = CLI_RIGHT },
	/* Last to be cut: it says a lot in little room. */
	{ .title = "BACKOFF", .wide_gap = true, .shrink = 1 },
};

void
cli_print_routes(FILE *out, const struct cfg *cfg, const struct cli_term *term)
{
	struct cli_table *t = cli_table_new(CLI_COLUMNS(route_columns));

	for (size_t i = 0; i < cfg->route_count; i++) {
		const struct cfg_route *r = &cfg->routes[i];
		char ack[32], initial[32], max[32];

		format_ms(r->ack_wait_ms, ack, sizeof(ack));
		format_ms(r->backoff.initial_ms, initial, sizeof(initial));
		format_ms(r->backoff.max_ms, max, sizeof(max));
		cli_table_add(t, "%s", r->name);
		cli_table_add(t, "%s", r->subject);
		cli_table_add(t, "%s", r->stream);
		cli_table_add(t, "%s", r->consumer);
		if (strcmp(r->plugin, r->handler) == 0)
			cli_table_add(t, "%s", r->plugin);
		else
			cli_table_add(t, "%s/%s", r->plugin, r->handler);
		cli_table_add(t, "%d", r->concurrency);
		cli_table_add(t, "%d", r->max_attempts);
		cli_table_add(t, "%s", ack);
		cli_table_add(t, "%s x%g max %s ±%g%%%s", initial, r->backoff.multiplier, max,
		              r->backoff.jitter * 100,
		              r->payload == CFG_PAYLOAD_JSON ? "  json" : "");
	}
	cli_table_print(t, out, term);
	cli_table_free(t);
}
