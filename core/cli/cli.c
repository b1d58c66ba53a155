/* SPDX-License-Identifier: MIT */
/* Helpers shared by the commands. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "jsonw.h"
#include "util/log.h"
#include "nats/natsconn.h"
#include "run/run_jetstream.h"
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

	*cfg_r = NULL;
	if (given == NULL && (env == NULL || *env == '\0') &&
	    access(cli_config_path(NULL), F_OK) != 0)
		return EXIT_OK;
	return cli_load_config(given, cfg_r);
}

int
cli_read_embedded_url(const struct cfg *cfg, char *buf, size_t len)
{
	char path[4096];
	FILE *fp;
	int rc = 0;

	run_embedded_url_path(cfg, path, sizeof(path));
	fp = fopen(path, "r");
	if (fp == NULL)
		return -errno;
	if (fgets(buf, (int)len, fp) == NULL)
		rc = -ENOENT;
	fclose(fp);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (rc == 0 && buf[0] == '\0')
		rc = -ENOENT;
	return rc;
}

char *
cli_resolve_url(const char *given, const struct cfg *cfg)
{
	const char *env = getenv("NATS_URL");
	char line[1024];

	if (given != NULL)
		return xstrdup(given);
	if (env != NULL && *env != '\0')
		return xstrdup(env);
	if (cfg != NULL && cfg->nats.url != NULL)
		return xstrdup(cfg->nats.url);
	if (cfg != NULL && cli_read_embedded_url(cfg, line, sizeof(line)) == 0)
		return xstrdup(line);
	return xstrdup("nats://127.0.0.1:4222");
}

int
cli_connect(const char *cmd, const char *name, const char *url, const struct cfg *cfg,
            struct natsconn **nc_r)
{
	struct cfg_nats nats = { .name = (char *)name,
		                 .connect_timeout_ms = 2000,
		                 .reconnect_wait_ms = 500,
		                 .reconnect_jitter_ms = 100 };
	char *resolved = cli_resolve_url(url, cfg);
	int rc;

	if (cfg != NULL)
		nats.creds_file = cfg->nats.creds_file;
	rc = natsconn_open(&nats, resolved, NULL, nc_r);
	if (rc < 0)
		fprintf(stderr, "taskjet %s: cannot connect to %s: %s\n", cmd, resolved,
		        strerror(-rc));
	free(resolved);
	return rc < 0 ? EXIT_UNAVAILABLE : EXIT_OK;
}

int
cli_setup_log(const struct cfg *cfg, const char *level, const char *format, const char *file)
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
	rc = log_setup(lvl, fmt, path);
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

void
cli_print_routes(FILE *out, const struct cfg *cfg)
{
	fprintf(out, "%-16s %-26s %-14s %-20s %-16s %4s %4s %8s  %s\n", "ROUTE", "SUBJECT",
	        "STREAM", "CONSUMER", "PLUGIN/HANDLER", "CONC", "MAX", "ACK_WAIT", "BACKOFF");
	for (size_t i = 0; i < cfg->route_count; i++) {
		const struct cfg_route *r = &cfg->routes[i];
		char ack[32], initial[32], max[32], ph[288];

		format_ms(r->ack_wait_ms, ack, sizeof(ack));
		format_ms(r->backoff.initial_ms, initial, sizeof(initial));
		format_ms(r->backoff.max_ms, max, sizeof(max));
		if (strcmp(r->plugin, r->handler) == 0)
			snprintf(ph, sizeof(ph), "%s", r->plugin);
		else
			snprintf(ph, sizeof(ph), "%s/%s", r->plugin, r->handler);
		fprintf(out, "%-16s %-26s %-14s %-20s %-16s %4d %4d %8s  %s x%g max %s ±%g%%%s\n",
		        r->name, r->subject, r->stream, r->consumer, ph, r->concurrency,
		        r->max_attempts, ack, initial, r->backoff.multiplier, max,
		        r->backoff.jitter * 100, r->payload == CFG_PAYLOAD_JSON ? "  json" : "");
	}
}

/* Wait for signals until stop; returns the signal count seen (>= 1), or 0
 * if `done` became true first. */
int
cli_wait_for_stop(const sigset_t *set, volatile sig_atomic_t *done)
{
	struct timespec tick = { 0, 200 * 1000000L };

	for (;;) {
		int sig = sigtimedwait(set, NULL, &tick);

		if (done != NULL && *done)
			return 0;
		if (sig == SIGHUP) {
			int rc = log_reopen();

			if (rc < 0)
				log_err("cannot reopen the log: %s", strerror(-rc));
			else
				log_notice("log reopened");
		} else if (sig == SIGTERM || sig == SIGINT) {
			log_notice("received %s: stopping (send it again to exit at once)",
			           sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return 1;
		}
	}
}

/* After the first stop signal: a second one ends the process at once. */
static void *
second_signal_main(void *arg)
{
	const sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_reopen();
			continue;
		}
		log_warn("second %s: exiting now; unfinished tasks will be "
		         "redelivered",
		         sig == SIGTERM ? "SIGTERM" : "SIGINT");
		_exit(EXIT_FAILURE_OTHER);
	}
	return NULL;
}

void
cli_watch_second_signal(sigset_t *set)
{
	pthread_t t;

	if (pthread_create(&t, NULL, second_signal_main, set) == 0)
		pthread_detach(t);
}
