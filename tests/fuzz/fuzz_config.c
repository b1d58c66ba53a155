/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the config loader (core/config/), fed the input as a config
 * file through cfg_load(), the path `taskjet run` and `taskjet check` take
 * (the file is a memfd, so nothing touches the disk). Beyond the
 * sanitizers it checks:
 *   - a load fails with messages, every one a single line "FILE:LINE:COL:
 *     KEY: what" whose line and column lie inside the file, or "FILE: what";
 *   - a config that loads keeps every documented range and rule
 *     (docs/config.md): routes on existing streams that cover their
 *     subjects, unique names, bounds of every number, absolute paths;
 *   - what a reload would say of it (cfg_diff(), core/config/compare.c):
 *     nothing against the same file loaded again, and against a fixed
 *     config one line per difference.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"
#include "util/subject.h"

#define CHECK(cond)                                                                             \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			fprintf(stderr, "fuzz_config: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                \
		}                                                                               \
	} while (0)

static char path[64];
static int memfd = -1;
/* What the input is compared with, as a reload would (the running one). */
static struct cfg *base;

/* Bytes in line `line` (1-based) of the text, without its newline; -1 if
 * the text has fewer lines. */
static long
line_length(const uint8_t *data, size_t size, long line)
{
	size_t start = 0;

	for (long l = 1; l < line; l++) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);

		if (nl == NULL)
			return -1;
		start = (size_t)(nl - data) + 1;
	}
	for (size_t i = start; i < size; i++)
		if (data[i] == '\n')
			return (long)(i - start);
	return (long)(size - start);
}

static void
check_messages(const char *errors, const uint8_t *data, size_t size)
{
	size_t plen = strlen(path);

	CHECK(errors != NULL && errors[0] != '\0' && errors[strlen(errors) - 1] == '\n');
	for (const char *p = errors; *p != '\0'; p = strchr(p, '\n') + 1) {
		const char *q = p + plen + 1;
		char *end;
		long line, col;

		/* A message of its own, for this file: no line break smuggled in. */
		CHECK(strncmp(p, path, plen) == 0 && p[plen] == ':');
		if (*q == ' ')
			continue; /* "FILE: what": no place in the file */
		line = strtol(q, &end, 10);
		CHECK(end > q && *end == ':');
		q = end + 1;
		col = strtol(q, &end, 10);
		CHECK(end > q && end[0] == ':' && end[1] == ' ');
		CHECK(line >= 1 && col >= 1 && col <= line_length(data, size, line) + 1);
	}
}

static bool
between(int64_t v, int64_t lo, int64_t hi)
{
	return v >= lo && v <= hi;
}

static void
check_stream(const struct cfg *cfg, const struct cfg_stream *st)
{
	CHECK(st->name != NULL && st->subject_count >= 1);
	CHECK(strcmp(st->name, cfg->dlq.stream) != 0 &&
	      strcmp(st->name, cfg->dlq.advisory_stream) != 0);
	for (const struct cfg_stream *o = cfg->streams; o < st; o++)
		CHECK(strcmp(o->name, st->name) != 0);
	for (size_t i = 0; i < st->subject_count; i++)
		CHECK(subject_valid(st->subjects[i], true));
	CHECK(between(st->replicas, 1, 5));
	CHECK(st->max_msgs == -1 || st->max_msgs >= 1);
	CHECK(st->max_bytes == -1 || st->max_bytes >= 1);
	CHECK(between(st->max_age_ms, 0, CFG_DURATION_MAX_MS));
	CHECK(between(st->duplicate_window_ms, 1, CFG_DURATION_MAX_MS));
	CHECK(st->max_age_ms == 0 || st->duplicate_window_ms <= st->max_age_ms);
}

static void
check_route(const struct cfg *cfg, const struct cfg_route *r)
{
	const struct cfg_stream *st = cfg_route_stream(cfg, r);
	bool covered = false;

	CHECK(r->name != NULL && r->plugin != NULL && r->handler != NULL && r->consumer != NULL);
	for (const struct cfg_route *o = cfg->routes; o < r; o++)
		CHECK(strcmp(o->name, r->name) != 0);
	CHECK(st != NULL && subject_valid(r->subject, true));
	for (size_t i = 0; i < st->subject_count; i++)
		covered = covered || subject_covers(st->subjects[i], r->subject);
	CHECK(covered);
	CHECK(between(r->concurrency, 1, 256));
	CHECK(between(r->max_attempts, 1, 1000));
	CHECK(between(r->ack_wait_ms, 1000, CFG_DURATION_MAX_MS));
	CHECK(between(r->batch, 1, 1000));
	CHECK(between(r->prefetch, 1, 10000));
	CHECK(between(r->fetch_wait_ms, 10, 60000));
	CHECK(between(r->max_ack_pending, 1, 10000000));
	CHECK(between(r->payload_max_depth, 1, 4096));
	CHECK(between(r->backoff.initial_ms, 1, r->backoff.max_ms));
	CHECK(r->backoff.max_ms <= CFG_DURATION_MAX_MS);
	CHECK(r->backoff.multiplier >= 1 && r->backoff.multiplier <= 100);
	CHECK(r->backoff.jitter >= 0 && r->backoff.jitter <= 1);
	CHECK(r->config_json != NULL && r->config_json[0] == '{');
	CHECK(r->isolation == CFG_ISOLATION_PROCESS || r->isolation == CFG_ISOLATION_THREAD);
	CHECK(between(r->timeout_ms, 10, 1000 * 3600000LL));
	CHECK(r->limits.memory_bytes == 0 ||
	      between(r->limits.memory_bytes, (int64_t)16 << 20, (int64_t)1024 << 30));
	CHECK(r->limits.cpu_ms == 0 || between(r->limits.cpu_ms, 1000, 1000 * 3600000LL));
	CHECK(r->limits.open_files == 0 || between(r->limits.open_files, 16, 1048576));
}

/* A line of cfg_diff(): one line, naming what changed. */
static void
check_note(void *arg, const char *line)
{
	(void)arg;
	CHECK(line[0] != '\0' && strchr(line, '\n') == NULL && strstr(line, ": ") != NULL);
}

/* cfg_diff() of the same file loaded twice: nothing to reload. */
static void
fail_note(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "fuzz_config: the same file differs from itself: %s\n", line);
	abort();
}

static void
check_diff(const struct cfg *cfg)
{
	struct cfg *again = NULL;
	char *errors = NULL;

	CHECK(cfg_load(path, &errors, &again) == 0 && again != NULL);
	CHECK(cfg_diff(cfg, again, fail_note, NULL) == 0);
	cfg_diff(base, cfg, check_note, NULL);
	cfg_diff(cfg, base, check_note, NULL);
	cfg_free(again);
}

static void
check_config(const struct cfg *cfg)
{
	CHECK(cfg->stream_count >= 1 && cfg->route_count >= 1);
	CHECK(cfg->plugin_dir[0] == '/' && cfg->state_dir[0] == '/');
	CHECK(cfg->worker_id != NULL && cfg->worker_id[0] != '\0');
	CHECK(between(cfg->nats.connect_timeout_ms, 1, 3600000));
	CHECK(between(cfg->shutdown_grace_ms, 0, 3600000));
	CHECK(between((int64_t)cfg->memory.capacity, 1, 10000000));
	CHECK(between(cfg->http.max_body, 1, (int64_t)1 << 30));
	CHECK(strcmp(cfg->dlq.stream, cfg->dlq.advisory_stream) != 0);
	CHECK(subject_valid(cfg->dlq.subject_prefix, false));
	for (size_t i = 0; i < cfg->stream_count; i++)
		check_stream(cfg, &cfg->streams[i]);
	for (size_t i = 0; i < cfg->route_count; i++)
		check_route(cfg, &cfg->routes[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base_text[] =
    "{\"streams\": [{\"name\": \"JOBS\", \"subjects\": [\"jobs.>\"]}],\n"
    " \"routes\": [{\"name\": \"provision\", \"stream\": \"JOBS\",\n"
    "             \"subject\": \"jobs.provision\", \"plugin\": \"provision\",\n"
    "             \"timeout\": \"1m\", \"limits\": {\"memory\": \"64MiB\"}}]}\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg *cfg = NULL;
	char *errors = NULL;
	int rc;

	if (memfd < 0) {
		/* The environment overrides the file; keep to the file. */
		unsetenv("NATS_URL");
		unsetenv("TASKJET_WORKER_ID");
		unsetenv("TASKJET_BACKEND");
		unsetenv("TASKJET_PLUGIN_DIR");
		unsetenv("TASKJET_STATE_DIR");
		memfd = memfd_create("taskjet.json", MFD_CLOEXEC);
		CHECK(memfd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
		CHECK(cfg_load_buffer("base.json", base_text, strlen(base_text), &errors, &base) ==
		      0);
	}
	CHECK(ftruncate(memfd, 0) == 0);
	CHECK(pwrite(memfd, data, size, 0) == (ssize_t)size);
	rc = cfg_load(path, &errors, &cfg);
	if (rc == 0) {
		CHECK(cfg != NULL && errors == NULL);
		check_config(cfg);
		check_diff(cfg);
	} else {
		CHECK(cfg == NULL);
		check_messages(errors, data, size);
	}
	cfg_free(cfg);
	free(errors);
	return 0;
}
