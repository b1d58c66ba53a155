/* SPDX-License-Identifier: MIT */
/*
 * The engine over the memory backend, with real fixture plugins loaded by
 * the real loader: routing, retries with growing delays, dead letters with
 * every header, invalid payloads, unrouted subjects, back-pressure, dedupe,
 * and the in-progress heartbeat (against the recording fake backend).
 * Routes run in worker processes (the default isolation) unless a test
 * says "thread": crashes and timeouts cost one task, a hung handler thread
 * stops being kept alive, and a stop gives running tasks back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "memory/memory.h"
#include "util/clock.h"
#include "config/config.h"
#include "engine/engine.h"
#include "engine/workers.h"
#include "task/metrics.h"
#include "fake_backend.h"
#include "json.h"
#include "util/log.h"
#include "testing.h"

/* Deterministic randomness: u = 0.5 means "no jitter". */
static double
half(void *ctx)
{
	return 0.5;
}

static const struct rng no_jitter = { half, NULL };

struct fixture {
	struct cfg *cfg;
	struct engine *engine;
	struct backend *backend;
	/* The engine as the memory backend sees it, keeping what the last
	 * delivery came to (exec does the same). */
	struct backend_sink sink;
	struct disp_result last;
};

static int
fixture_deliver(void *ctx, struct tj_task *task)
{
	struct fixture *f = ctx;

	memset(&f->last, 0, sizeof(f->last));
	return engine_process(f->engine, task, &f->last);
}

static int
fixture_dead_letter(void *ctx, struct tj_task *task, enum dlq_reason reason, const char *error)
{
	struct fixture *f = ctx;

	memset(&f->last, 0, sizeof(f->last));
	return engine_dead_letter(f->engine, task, reason, error, &f->last);
}

/* Publish `len` bytes through the backend interface. */
static int
mpubn(struct fixture *f, const char *subject, const char *data, size_t len)
{
	return f->backend->ops->publish(
	    f->backend, &(struct publish_msg){ .subject = subject, .data = data, .len = len },
	    NULL);
}

/* Publish a string through the backend interface. */
static int
mpub(struct fixture *f, const char *subject, const char *data, const struct msg_header *h, size_t n,
     const char *msg_id)
{
	return f->backend->ops->publish(f->backend,
	                                &(struct publish_msg){ .subject = subject,
	                                                       .data = data,
	                                                       .len = strlen(data),
	                                                       .headers = h,
	                                                       .header_count = n,
	                                                       .msg_id = msg_id },
	                                NULL);
}

/* A new empty file in the program's temporary directory (removed at exit,
 * however the test ends): its path in `path`. False, with a failed check,
 * if it cannot be made. */
static bool
temp_file(const char *name, char *path, size_t len)
{
	const char *dir = testing_tmpdir();

	if (dir == NULL)
		return false;
	snprintf(path, len, "%s/%s", dir, name);
	if (testing_write_file(path, "", 0600) != 0) {
		testing_fail(__FILE__, __LINE__, "cannot create %s", path);
		return false;
	}
	return true;
}

/* Build a config with one WQ stream "TASKS" (tasks.>) and the given routes
 * JSON, load fixtures from the build tree, create engine + memory backend. */
static int
fixture_setup(struct fixture *f, const char *routes_json, const char *extra)
{
	char *text = NULL, *errors = NULL;
	struct engine_options opts = { .rng = &no_jitter };
	int rc;

	memset(f, 0, sizeof(*f));
	if (asprintf(&text,
	             "{ \"plugin_dir\": \"%s\", \"backend\": \"memory\", %s"
	             "  \"streams\": [ { \"name\": \"TASKS\", \"subjects\": [\"tasks.>\"] },"
	             "                 { \"name\": \"EVENTS\", \"subjects\": [\"events.>\"],"
	             "                   \"retention\": \"limits\" } ],"
	             "  \"routes\": [ %s ] }",
	             FIXTURE_PLUGIN_DIR, extra != NULL ? extra : "", routes_json) < 0)
		return -ENOMEM;
	rc = cfg_load_buffer("test.json", text, strlen(text), &errors, &f->cfg);
	if (rc < 0) {
		testing_fail(__FILE__, __LINE__, "config: %s", errors ? errors : "?");
		goto out;
	}
	rc = engine_create(f->cfg, &opts, NULL, 0, &f->engine);
	if (rc < 0) {
		testing_fail(__FILE__, __LINE__, "engine_create: %d", rc);
		goto out;
	}
	rc = mem_backend_open(f->cfg, &f->backend);
	if (rc < 0) {
		testing_fail(__FILE__, __LINE__, "mem_backend_open: %d", rc);
		goto out;
	}
	f->sink = (struct backend_sink){ .deliver = fixture_deliver,
		                         .dead_letter = fixture_dead_letter,
		                         .ctx = f };
	mem_backend_bind(f->backend, engine_router(f->engine), &f->sink);
	engine_set_backend(f->engine, f->backend);
out:
	if (rc < 0) {
		engine_destroy(f->engine);
		cfg_free(f->cfg);
		memset(f, 0, sizeof(*f));
	}
	free(errors);
	free(text);
	return rc;
}

static void
fixture_teardown(struct fixture *f)
{
	backend_destroy(f->backend);
	engine_destroy(f->engine);
	cfg_free(f->cfg);
}

static int
count_lines(const char *path)
{
	FILE *fp = fopen(path, "r");
	int c, n = 0;

	if (fp == NULL)
		return -1;
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

/* A header of letter `l`; NULL if it has none, or if there is no letter
 * (a check on the result then fails instead of the program crashing). */
static const char *
letter_header(const struct mem_letter *l, const char *key)
{
	for (size_t i = 0; l != NULL && i < l->header_count; i++)
		if (strcmp(l->headers[i].key, key) == 0)
			return l->headers[i].value;
	return NULL;
}

static size_t
letter_count(struct backend *b)
{
	size_t n = 0;

	for (const struct mem_letter *l = mem_backend_letters(b); l != NULL; l = l->next)
		n++;
	return n;
}

TEST(happy_path_acks_every_task_once)
{
	struct workers *pool = NULL;
	char routes[9200], file[4200];
	struct mem_stats st;
	struct fixture f;

	if (!temp_file("happy", file, sizeof(file)))
		return;
	/* Both routes record into one file, so counts add up. */
	snprintf(routes, sizeof(routes),
	         "{ \"name\": \"a\", \"stream\": \"TASKS\", \"subject\": \"tasks.a\","
	         "  \"plugin\": \"fx_behave\", \"concurrency\": 3,"
	         "  \"config\": { \"record_file\": \"%s\" } },"
	         "{ \"name\": \"b\", \"stream\": \"TASKS\", \"subject\": \"tasks.b.*\","
	         "  \"plugin\": \"fx_behave\", \"concurrency\": 2,"
	         "  \"config\": { \"record_file\": \"%s\" } }",
	         file, file);
	if (fixture_setup(&f, routes, NULL) < 0)
		return;
	CHECK_INT(f.backend->ops->start(f.backend, engine_router(f.engine), &f.sink), 0);
	CHECK_INT(workers_start(f.backend, engine_router(f.engine), &f.sink, &pool), 0);
	for (int i = 0; i < 200; i++) {
		char subject[32];

		snprintf(subject, sizeof(subject), i % 2 ? "tasks.a" : "tasks.b.%d", i);
		CHECK_INT(mpub(&f, subject, "x", NULL, 0, NULL), 0);
	}
	CHECK_INT(backend_drain(f.backend, 10000), 0);
	f.backend->ops->request_stop(f.backend);
	CHECK_INT(workers_wait(pool, 5000), 0);
	CHECK_INT(f.backend->ops->wait(f.backend, 5000), 0);
	workers_destroy(pool);
	mem_backend_stats(f.backend, &st);
	CHECK_INT(st.total_enqueued, 200);
	CHECK_INT(st.total_dequeued, 200);
	CHECK_INT(st.current_size, 0);
	CHECK_INT(st.dead_letters, 0);
	CHECK_INT(count_lines(file), 200);
	CHECK_INT(engine_router(f.engine)->routes[0].stats.acked, 100);
	CHECK_INT(engine_router(f.engine)->routes[1].stats.acked, 100);
	unlink(file);
	fixture_teardown(&f);
}

TEST(retries_with_growing_delays_then_acks)
{
	struct fixture f;
	struct mem_step step = { 0 };
	int64_t delays[4] = { 0 };

	if (fixture_setup(
	        &f,
	        "{ \"name\": \"flaky\", \"stream\": \"TASKS\", \"subject\": \"tasks.flaky\","
	        "  \"plugin\": \"fx_behave\", \"max_attempts\": 5,"
	        "  \"backoff\": { \"initial\": \"20ms\", \"multiplier\": 2,"
	        "                 \"max\": \"1s\", \"jitter\": 0.2 },"
	        "  \"config\": { \"fail_first\": 3 } }",
	        NULL) < 0)
		return;
	CHECK_INT(mpub(&f, "tasks.flaky", "{}", NULL, 0, NULL), 0);
	for (int attempt = 1; attempt <= 4; attempt++) {
		int64_t before = clock_mono_ms();

		CHECK_INT(mem_backend_run_one(f.backend, 5000, &step), 1);
		CHECK_INT(step.attempt, attempt);
		if (attempt > 1) /* it really waited for its delay */
			CHECK_TRUE(clock_mono_ms() - before >= delays[attempt - 2] - 2);
		if (attempt <= 3) {
			CHECK_INT(step.verdict, TJ_RETRY);
			CHECK_INT(f.last.outcome, DISP_RETRIED);
			delays[attempt - 1] = f.last.delay_ms;
		} else {
			CHECK_INT(step.verdict, TJ_DONE);
			CHECK_INT(f.last.outcome, DISP_ACKED);
		}
	}
	/* u = 0.5: the exact curve initial * 2^(n-1). */
	CHECK_INT(delays[0], 20);
	CHECK_INT(delays[1], 40);
	CHECK_INT(delays[2], 80);
	CHECK_INT(letter_count(f.backend), 0);
	CHECK_INT(mem_backend_run_one(f.backend, 50, &step), 0);
	fixture_teardown(&f);
}

TEST(exhausted_retries_dead_letter_with_every_header)
{
	struct fixture f;
	struct mem_step step = { 0 };
	const struct mem_letter *l;
	/* Forged bookkeeping in other cases: the engine's values win, one
	 * of each, and a forged replay origin is not kept. */
	struct msg_header hdr[] = { { "Trace-Id", "abc" },
		                    { "taskjet-reason", "forged" },
		                    { "TASKJET-ORIGINAL-SUBJECT", "$JS.API.STREAM.PURGE.TASKS" },
		                    { "Taskjet-Replayed-From", "7" } };

	if (fixture_setup(
	        &f,
	        "{ \"name\": \"doomed\", \"stream\": \"TASKS\", \"subject\": \"tasks.doomed\","
	        "  \"plugin\": \"fx_behave\", \"max_attempts\": 3,"
	        "  \"backoff\": { \"initial\": \"1ms\", \"max\": \"2ms\", \"jitter\": 0 },"
	        "  \"config\": { \"verdict\": \"retry\", \"reason\": \"upstream 503\" } }",
	        NULL) < 0)
		return;
	CHECK_INT(mpub(&f, "tasks.doomed", "payload-1", hdr, 4, "order-42"), 0);
	for (int i = 1; i <= 3; i++) {
		CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
		CHECK_INT(step.attempt, i);
		CHECK_INT(f.last.outcome, i < 3 ? DISP_RETRIED : DISP_DEAD_LETTERED);
	}
	CHECK_INT(f.last.reason, DLQ_REASON_ATTEMPTS_EXHAUSTED);
	l = mem_backend_letters(f.backend);
	CHECK_TRUE(l != NULL);
	if (l == NULL)
		goto out;
	CHECK_STR(l->subject, "dlq.tasks.doomed");
	CHECK_STR(l->payload, "payload-1");
	CHECK_STR(letter_header(l, "Trace-Id"), "abc"); /* original kept */
	CHECK_STR(letter_header(l, "Taskjet-Original-Subject"), "tasks.doomed");
	CHECK_STR(letter_header(l, "Taskjet-Original-Stream"), "TASKS");
	CHECK_STR(letter_header(l, "Taskjet-Original-Seq"), "1");
	CHECK_STR(letter_header(l, "Taskjet-Attempts"), "3");
	CHECK_STR(letter_header(l, "Taskjet-Reason"), "attempts_exhausted");
	CHECK_STR(letter_header(l, "Taskjet-Error"), "upstream 503");
	CHECK_STR(letter_header(l, "Taskjet-Plugin"), "fx_behave");
	/* RFC 3339 UTC, e.g. 2026-11-23T13:26:23Z */
	CHECK_TRUE(letter_header(l, "Taskjet-Failed-At") != NULL &&
	           strlen(letter_header(l, "Taskjet-Failed-At")) == 20 &&
	           letter_header(l, "Taskjet-Failed-At")[19] == 'Z');
	CHECK_TRUE(l->next == NULL);
	CHECK_STR(letter_header(l, "Taskjet-Original-Msg-Id"), "order-42");
	CHECK_INT(l->header_count, 10); /* Trace-Id and the engine's nine */
	for (size_t i = 0; i < l->header_count; i++)
		CHECK_TRUE(strcasecmp(l->headers[i].key, "Taskjet-Replayed-From") != 0);
out:
	fixture_teardown(&f);
}

TEST(permanent_failure_dead_letters_on_first_attempt)
{
	struct fixture f;
	struct mem_step step = { 0 };
	const struct mem_letter *l;

	if (fixture_setup(&f,
	                  "{ \"name\": \"r\", \"stream\": \"TASKS\", \"subject\": \"tasks.>\","
	                  "  \"plugin\": \"fx_behave\", \"max_attempts\": 5 }",
	                  NULL) < 0)
		return;
	CHECK_INT(mpub(&f, "tasks.x", "fail", NULL, 0, NULL), 0);
	CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
	CHECK_INT(step.verdict, TJ_FAIL);
	CHECK_INT(f.last.outcome, DISP_DEAD_LETTERED);
	CHECK_INT(f.last.reason, DLQ_REASON_HANDLER_FAILED);
	l = mem_backend_letters(f.backend);
	CHECK_TRUE(l != NULL);
	if (l != NULL) {
		CHECK_STR(letter_header(l, "Taskjet-Reason"), "handler_failed");
		CHECK_STR(letter_header(l, "Taskjet-Attempts"), "1");
		CHECK_STR(letter_header(l, "Taskjet-Error"), "payload asked to fail");
	}
	CHECK_INT(mem_backend_run_one(f.backend, 50, &step), 0);
	fixture_teardown(&f);
}

/* The JSON line of `path` whose msg contains `needle`, parsed into doc;
 * *line_r (the text doc points into) is the caller's to free after it. */
static bool
json_line_with(const char *path, const char *needle, struct json_doc *doc, char **line_r)
{
	FILE *fp = fopen(path, "r");
	size_t cap = 0;
	ssize_t n;
	bool found = false;

	*line_r = NULL;
	if (fp == NULL)
		return false;
	while (!found && (n = getline(line_r, &cap, fp)) > 0)
		if (strstr(*line_r, needle) != NULL)
			found = json_parse(*line_r, (size_t)n - 1, doc, NULL) == 0;
	fclose(fp);
	return found;
}

static void
check_member(const struct json_doc *doc, const char *key, const char *want)
{
	char *got = NULL;

	if (json_get_string(doc, json_member(doc, doc->toks, key), &got) < 0)
		testing_fail(__FILE__, __LINE__, "no string member \"%s\" (wanted \"%s\")", key,
		             want);
	else if (strcmp(got, want) != 0)
		testing_fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", key, got, want);
	free(got);
}

/* JSON logs carry the task, its subject, the reason and the error as
 * members of their own, not only inside msg; and the letter keeps the
 * publisher's message id. */
TEST(json_logs_name_the_task_subject_reason_and_error)
{
	char path[4200];
	struct fixture f;
	struct mem_step step = { 0 };
	struct json_doc doc;
	const struct mem_letter *l;
	char *line = NULL;
	bool found;

	if (!temp_file("log", path, sizeof(path)))
		return;
	if (fixture_setup(&f,
	                  "{ \"name\": \"r\", \"stream\": \"TASKS\", \"subject\": \"tasks.>\","
	                  "  \"plugin\": \"fx_behave\", \"max_attempts\": 2,"
	                  "  \"config\": { \"reason\": \"upstream busy\" },"
	                  "  \"backoff\": { \"initial\": \"1ms\", \"max\": \"1ms\" } }",
	                  NULL) < 0)
		return;
	CHECK_INT(log_setup(TJ_LOG_DEBUG, LOG_FORMAT_JSON, path), 0);
	CHECK_INT(mpub(&f, "tasks.x", "fail", NULL, 0, "job-9"), 0);
	CHECK_INT(mpub(&f, "tasks.y", "retry", NULL, 0, "job-10"), 0);
	CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
	CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
	log_setup(TJ_LOG_ERR, LOG_FORMAT_TEXT, NULL);

	found = json_line_with(path, "dead-lettered job-9 (tasks.x)", &doc, &line);
	CHECK_TRUE(found);
	if (found) {
		check_member(&doc, "task", "job-9");
		check_member(&doc, "subject", "tasks.x");
		check_member(&doc, "reason", "handler_failed");
		check_member(&doc, "error", "payload asked to fail");
		check_member(&doc, "route", "r");
		json_doc_free(&doc);
	}
	free(line);
	found = json_line_with(path, "retry job-10", &doc, &line);
	CHECK_TRUE(found);
	if (found) {
		check_member(&doc, "task", "job-10");
		check_member(&doc, "subject", "tasks.y");
		check_member(&doc, "error", "upstream busy");
		CHECK_TRUE(json_member(&doc, doc.toks, "reason") == NULL);
		json_doc_free(&doc);
	}
	free(line);
	l = mem_backend_letters(f.backend);
	CHECK_TRUE(l != NULL);
	CHECK_STR(letter_header(l, "Taskjet-Original-Msg-Id"), "job-9");
	unlink(path);
	fixture_teardown(&f);
}

/* One route "j" on tasks.j with payload "json"; fx_behave records each task
 * it sees in `file`, made here in the temporary directory. */
static int
json_route_setup(struct fixture *f, char *file, size_t len)
{
	char routes[4400];

	if (!temp_file("json", file, len))
		return -EIO;
	snprintf(routes, sizeof(routes),
	         "{ \"name\": \"j\", \"stream\": \"TASKS\", \"subject\": \"tasks.j\","
	         "  \"plugin\": \"fx_behave\", \"payload\": \"json\","
	         "  \"config\": { \"record_file\": \"%s\" } }",
	         file);
	return fixture_setup(f, routes, NULL);
}

TEST(invalid_json_payload_is_dead_lettered_without_the_handler)
{
	char file[4200];
	struct mem_step step = { 0 };
	struct fixture f;

	if (json_route_setup(&f, file, sizeof(file)) < 0)
		return;
	CHECK_INT(mpub(&f, "tasks.j", "{\"ok\":1}", NULL, 0, NULL), 0);
	CHECK_INT(mpub(&f, "tasks.j", "{not json", NULL, 0, NULL), 0);
	CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
	CHECK_INT(f.last.outcome, DISP_ACKED);
	CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
	CHECK_INT(step.verdict, -1);
	CHECK_INT(f.last.outcome, DISP_DEAD_LETTERED);
	CHECK_INT(f.last.reason, DLQ_REASON_INVALID_PAYLOAD);
	CHECK_INT(count_lines(file), 1); /* the handler saw only the good one */
	CHECK_INT(mem_backend_run_one(f.backend, 50, &step), 0);
	CHECK_STR(letter_header(mem_backend_letters(f.backend), "Taskjet-Reason"),
	          "invalid_payload");
	CHECK_STR(letter_header(mem_backend_letters(f.backend), "Taskjet-Error"),
	          "payload is not valid JSON: syntax error at byte 5");
	unlink(file);
	fixture_teardown(&f);
}

/* RFC 8259 decides: \u0000 is valid JSON, raw bytes that are not UTF-8 in
 * a string are not, and nesting past the limit is refused by name. */
TEST(json_payloads_are_judged_by_rfc_8259)
{
	static const char nul[] = "{\"a\":\"\\u0000\"}";
	static const char not_utf8[] = "{\"a\":\"\xff\xfe\"}";
	char file[4200], deep[1100];
	const struct mem_letter *l;
	struct mem_step step = { 0 };
	struct fixture f;

	if (json_route_setup(&f, file, sizeof(file)) < 0)
		return;
	memset(deep, '[', 513);
	memset(deep + 513, ']', 513);
	CHECK_INT(mpubn(&f, "tasks.j", nul, strlen(nul)), 0);
	CHECK_INT(mpubn(&f, "tasks.j", not_utf8, strlen(not_utf8)), 0);
	CHECK_INT(mpubn(&f, "tasks.j", deep, 1026), 0);
	CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
	CHECK_INT(f.last.outcome, DISP_ACKED);
	CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
	CHECK_INT(f.last.reason, DLQ_REASON_INVALID_PAYLOAD);
	CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
	CHECK_INT(f.last.reason, DLQ_REASON_INVALID_PAYLOAD);
	CHECK_INT(count_lines(file), 1); /* the handler saw only the \u0000 one */
	l = mem_backend_letters(f.backend);
	CHECK_TRUE(l != NULL && l->next != NULL);
	if (l != NULL && l->next != NULL) {
		CHECK_STR(letter_header(l, "Taskjet-Error"),
		          "payload is not valid JSON: invalid UTF-8 in a string at byte 6");
		CHECK_STR(letter_header(l->next, "Taskjet-Error"),
		          "payload is not valid JSON: nesting deeper than 512 at byte 512 "
		          "(the route's payload_max_depth)");
	}
	unlink(file);
	fixture_teardown(&f);
}

/* The nesting limit is the route's payload_max_depth, and a payload over
 * it is refused saying which setting to raise. */
TEST(payload_max_depth_is_the_routes_setting)
{
	const struct mem_letter *l;
	struct mem_step step = { 0 };
	struct fixture f;

	if (fixture_setup(&f,
	                  "{ \"name\": \"j\", \"stream\": \"TASKS\", \"subject\": \"tasks.j\","
	                  "  \"plugin\": \"fx_behave\", \"payload\": \"json\","
	                  "  \"payload_max_depth\": 3 }",
	                  NULL) < 0)
		return;
	CHECK_INT(mpub(&f, "tasks.j", "[[[1]]]", NULL, 0, NULL), 0);
	CHECK_INT(mpub(&f, "tasks.j", "[[[[1]]]]", NULL, 0, NULL), 0);
	CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
	CHECK_INT(f.last.outcome, DISP_ACKED);
	CHECK_INT(mem_backend_run_one(f.backend, 2000, &step), 1);
	CHECK_INT(f.last.reason, DLQ_REASON_INVALID_PAYLOAD);
	l = mem_backend_letters(f.backend);
	CHECK_TRUE(l != NULL);
	CHECK_STR(letter_header(l, "Taskjet-Error"),
	          "payload is not valid JSON: nesting deeper than 3 at byte 3 "
	          "(the route's payload_max_depth)");
	fixture_teardown(&f);
}

TEST(unrouted_work_is_dead_lettered_and_unknown_subjects_refused)
{
	struct fixture f;
	struct mem_stats st;

	if (fixture_setup(&f,
	                  "{ \"name\": \"a\", \"stream\": \"TASKS\", \"subject\": \"tasks.a\","
	                  "  \"plugin\": \"fx_behave\" }",
	                  NULL) < 0)
		return;
	CHECK_INT(mpub(&f, "tasks.nobody", "x", NULL, 0, NULL), 0);
	CHECK_STR(letter_header(mem_backend_letters(f.backend), "Taskjet-Reason"), "no_route");
	CHECK_STR(letter_header(mem_backend_letters(f.backend), "Taskjet-Plugin"), "-");
	CHECK_INT(mpub(&f, "orders.new", "x", NULL, 0, NULL), -ENOENT);
	CHECK_INT(mpub(&f, "tasks.*", "x", NULL, 0, NULL), -EINVAL);
	/* An event feed nobody consumes here is accepted, not dead-lettered. */
	CHECK_INT(mpub(&f, "events.done", "x", NULL, 0, NULL), 0);
	mem_backend_stats(f.backend, &st);
	CHECK_INT(st.dead_letters, 1);
	CHECK_INT(st.unrouted, 1);
	CHECK_INT(st.current_size, 0);
	fixture_teardown(&f);
}

TEST(full_queue_refuses_publish_and_dedupe_ignores_repeats)
{
	struct fixture f;
	struct mem_stats st;
	struct mem_step step = { 0 };
	int processed = 0;

	if (fixture_setup(&f,
	                  "{ \"name\": \"a\", \"stream\": \"TASKS\", \"subject\": \"tasks.a\","
	                  "  \"plugin\": \"fx_behave\" }",
	                  "\"memory\": { \"capacity\": 3 },") < 0)
		return;
	CHECK_INT(mpub(&f, "tasks.a", "1", NULL, 0, "id-1"), 0);
	CHECK_INT(mpub(&f, "tasks.a", "1", NULL, 0, "id-1"), 0);
	CHECK_INT(mpub(&f, "tasks.a", "2", NULL, 0, "id-2"), 0);
	CHECK_INT(mpub(&f, "tasks.a", "3", NULL, 0, NULL), 0);
	CHECK_INT(mpub(&f, "tasks.a", "4", NULL, 0, NULL), -ENOBUFS);
	mem_backend_stats(f.backend, &st);
	CHECK_INT(st.current_size, 3);
	CHECK_INT(st.total_enqueued, 3);
	while (mem_backend_run_one(f.backend, 100, &step) == 1)
		processed++;
	CHECK_INT(processed, 3);
	/* Room again once the queue drained. */
	CHECK_INT(mpub(&f, "tasks.a", "4", NULL, 0, NULL), 0);
	fixture_teardown(&f);
}

TEST(heartbeat_keeps_a_long_handler_alive)
{
	struct fake_backend fake;
	struct fixture f;
	struct tj_task task;
	struct disp_result res;
	int64_t t0, took;
	size_t beats;

	if (fixture_setup(
	        &f,
	        "{ \"name\": \"slow\", \"stream\": \"TASKS\", \"subject\": \"tasks.slow\","
	        "  \"plugin\": \"fx_behave\", \"ack_wait\": \"1s\","
	        "  \"config\": { \"sleep_ms\": 2700 } }",
	        NULL) < 0)
		return;
	fake_backend_init(&fake);
	engine_set_backend(f.engine, &fake.base);
	memset(&task, 0, sizeof(task));
	task.subject = "tasks.slow";
	task.payload = "{}";
	task.payload_len = 2;
	task.stream = "TASKS";
	task.stream_seq = 7;
	task.attempt = 1;
	snprintf(task.id, sizeof(task.id), "TASKS:7");
	task.backend = &fake.base;
	t0 = clock_mono_ms();
	CHECK_INT(engine_process(f.engine, &task, &res), 0);
	took = clock_mono_ms() - t0;
	CHECK_INT(res.outcome, DISP_ACKED);
	/*
	 * A beat every 500 ms (half the ack wait) during a 2.7 s handler: 5
	 * on time. A busy machine only delays beats (and stretches the sleep),
	 * and even 200 ms late each there are 3; beating at the full ack wait
	 * gives at most 2 (no beat before 1 s, 2 s, 3 s), none gives 0. Never
	 * more than one per half ack wait of the time the call took.
	 */
	beats = fake_backend_count_op(&fake, FAKE_IN_PROGRESS);
	CHECK_RANGE(beats, 3, took / 500 + 1);
	CHECK_INT(fake_backend_count_op(&fake, FAKE_ACK), 1);
	task_release(&task);
	/* Back to the memory backend before teardown frees it. */
	engine_set_backend(f.engine, f.backend);
	fake_backend_fini(&fake);
	fixture_teardown(&f);
}

static const struct mem_letter *
letter_on(struct backend *b, const char *subject)
{
	for (const struct mem_letter *l = mem_backend_letters(b); l != NULL; l = l->next)
		if (strcmp(l->subject, subject) == 0)
			return l;
	return NULL;
}

/* Worker threads over the memory backend until every task is settled. */
static void
run_until_drained(struct fixture *f, int64_t timeout_ms)
{
	struct workers *pool = NULL;

	CHECK_INT(f->backend->ops->start(f->backend, engine_router(f->engine), &f->sink), 0);
	CHECK_INT(workers_start(f->backend, engine_router(f->engine), &f->sink, &pool), 0);
	if (pool == NULL)
		return;
	CHECK_INT(backend_drain(f->backend, timeout_ms), 0);
	f->backend->ops->request_stop(f->backend);
	CHECK_INT(workers_wait(pool, 10000), 0);
	CHECK_INT(f->backend->ops->wait(f->backend, 5000), 0);
	workers_destroy(pool);
}

TEST(a_crash_in_a_worker_process_costs_only_its_task)
{
	char routes[1024], file[64] = "/tmp/tj-engine-crash-XXXXXX";
	const struct mem_letter *l;
	const struct route *bad, *good;
	struct mem_stats st;
	struct fixture f;
	struct mbuf m = { 0 };
	int fd = mkstemp(file);

	close(fd);
	snprintf(routes, sizeof(routes),
	         "{ \"name\": \"bad\", \"stream\": \"TASKS\", \"subject\": \"tasks.bad.*\","
	         "  \"plugin\": \"fx_isolate\", \"concurrency\": 2, \"max_attempts\": 2,"
	         "  \"backoff\": { \"initial\": \"1ms\", \"max\": \"2ms\", \"jitter\": 0 } },"
	         "{ \"name\": \"good\", \"stream\": \"TASKS\", \"subject\": \"tasks.good\","
	         "  \"plugin\": \"fx_behave\", \"concurrency\": 2,"
	         "  \"config\": { \"record_file\": \"%s\" } }",
	         file);
	if (fixture_setup(&f, routes, NULL) < 0)
		return;
	CHECK_INT(mpub(&f, "tasks.bad.segv", "segv", NULL, 0, "poison"), 0);
	for (int i = 0; i < 40; i++) {
		char id[16];

		snprintf(id, sizeof(id), "b%d", i);
		CHECK_INT(mpub(&f, "tasks.bad.ok", "ok", NULL, 0, id), 0);
		snprintf(id, sizeof(id), "g%d", i);
		CHECK_INT(mpub(&f, "tasks.good", "{}", NULL, 0, id), 0);
	}
	run_until_drained(&f, 20000);
	bad = &engine_router(f.engine)->routes[0];
	good = &engine_router(f.engine)->routes[1];
	mem_backend_stats(f.backend, &st);
	CHECK_INT(st.current_size, 0);
	CHECK_INT(st.dead_letters, 1);
	/* Twice (max_attempts 2), each time in a new worker; then the letter. */
	CHECK_INT(bad->stats.crashed, 2);
	CHECK_INT(bad->stats.retried, 1);
	CHECK_INT(bad->stats.dead_lettered[DLQ_REASON_CRASHED], 1);
	CHECK_INT(bad->stats.acked, 40);
	CHECK_INT(good->stats.acked, 40);
	CHECK_INT(count_lines(file), 40);
	l = letter_on(f.backend, "dlq.tasks.bad.segv");
	CHECK_TRUE(l != NULL);
	if (l != NULL) {
		CHECK_STR(letter_header(l, "Taskjet-Reason"), "crashed");
		CHECK_STR(letter_header(l, "Taskjet-Error"),
		          "killed by signal 11 (Segmentation fault)");
		CHECK_STR(letter_header(l, "Taskjet-Attempts"), "2");
		CHECK_STR(letter_header(l, "Taskjet-Plugin"), "fx_isolate");
	}
	/* The pool's numbers reach the metrics, per route. */
	engine_render_metrics(f.engine, &m);
	CHECK_CONTAINS(m.data, "taskjet_worker_crashes_total{route=\"bad\"} 2\n");
	CHECK_CONTAINS(m.data, "taskjet_worker_spawns_total{route=\"bad\"} 4\n");
	CHECK_CONTAINS(m.data, "taskjet_worker_crashes_total{route=\"good\"} 0\n");
	CHECK_CONTAINS(m.data, "taskjet_tasks_given_back_total{route=\"bad\"} 0\n");
	free(m.data);
	unlink(file);
	fixture_teardown(&f);
}

TEST(a_call_past_its_timeout_is_killed_and_timed_out)
{
	const struct mem_letter *l;
	struct mem_step step;
	struct fixture f;
	int64_t t0;

	if (fixture_setup(
	        &f,
	        "{ \"name\": \"slow\", \"stream\": \"TASKS\", \"subject\": \"tasks.slow.*\","
	        "  \"plugin\": \"fx_isolate\", \"timeout\": \"300ms\", \"max_attempts\": 2,"
	        "  \"backoff\": { \"initial\": \"1ms\", \"max\": \"2ms\", \"jitter\": 0 } }",
	        NULL) < 0)
		return;
	CHECK_INT(mpub(&f, "tasks.slow.meta", "meta", NULL, 0, "m"), 0);
	CHECK_INT(mem_backend_run_one(f.backend, 5000, &step), 1);
	/* The handler saw its deadline: time left, not "none". */
	CHECK_STR(step.fail_reason, "tasks.slow.meta|m|1/2|some");
	CHECK_INT(mpub(&f, "tasks.slow.hang", "hang", NULL, 0, "h"), 0);
	t0 = clock_mono_ms();
	for (int i = 1; i <= 2; i++) {
		CHECK_INT(mem_backend_run_one(f.backend, 5000, &step), 1);
		CHECK_INT(step.verdict, TASK_VERDICT_TIMED_OUT);
		CHECK_INT(f.last.outcome, i < 2 ? DISP_RETRIED : DISP_DEAD_LETTERED);
	}
	/* Two timeouts of 300 ms, not a hang. */
	CHECK_RANGE(clock_mono_ms() - t0, 580, 5000);
	CHECK_INT(f.last.reason, DLQ_REASON_TIMED_OUT);
	l = letter_on(f.backend, "dlq.tasks.slow.hang");
	CHECK_TRUE(l != NULL);
	if (l != NULL) {
		const char *error = letter_header(l, "Taskjet-Error");
		long ms = -1;

		CHECK_STR(letter_header(l, "Taskjet-Reason"), "timed_out");
		/* Measured from the worker's side of the call: about 300 ms. */
		CHECK_TRUE(error != NULL && sscanf(error, "timed out after %ld ms", &ms) == 1);
		CHECK_RANGE(ms, 250, 3000);
	}
	CHECK_INT(engine_router(f.engine)->routes[0].stats.timed_out, 2);
	fixture_teardown(&f);
}

/* engine_process on a thread of its own, for calls that take a while. */
struct bg_call {
	struct engine *engine;
	struct tj_task task;
	struct disp_result res;
	int rc;
	pthread_t thread;
};

static void *
bg_main(void *arg)
{
	struct bg_call *c = arg;

	c->rc = engine_process(c->engine, &c->task, &c->res);
	return NULL;
}

static void
bg_start(struct bg_call *c, struct engine *engine, struct backend *b, const char *subject,
         const char *payload)
{
	memset(c, 0, sizeof(*c));
	c->engine = engine;
	c->task.subject = subject;
	c->task.payload = payload;
	c->task.payload_len = strlen(payload);
	c->task.stream = "TASKS";
	c->task.stream_seq = 9;
	c->task.attempt = 1;
	snprintf(c->task.id, sizeof(c->task.id), "TASKS:9");
	c->task.backend = b;
	CHECK_INT(pthread_create(&c->thread, NULL, bg_main, c), 0);
}

TEST(a_hung_handler_thread_is_no_longer_kept_alive)
{
	struct fake_backend fake;
	struct fixture f;
	struct bg_call c;
	char why[512], report[512];
	int64_t until;
	bool ready = true;

	/* Beats would come every 500 ms; the timeout is at 300 ms. */
	if (fixture_setup(&f,
	                  "{ \"name\": \"t\", \"stream\": \"TASKS\", \"subject\": \"tasks.t\","
	                  "  \"plugin\": \"fx_isolate\", \"isolation\": \"thread\","
	                  "  \"ack_wait\": \"1s\", \"timeout\": \"300ms\" }",
	                  NULL) < 0)
		return;
	fake_backend_init(&fake);
	engine_set_backend(f.engine, &fake.base);
	CHECK_TRUE(engine_ready(f.engine, why, sizeof(why)));
	bg_start(&c, f.engine, &fake.base, "tasks.t", "sleep:1500");
	until = clock_mono_ms() + 1200;
	while (ready && clock_mono_ms() < until) {
		clock_sleep_ms(20);
		ready = engine_ready(f.engine, why, sizeof(why));
	}
	/* Its only thread is hung: the route takes nothing, and says so. */
	CHECK_FALSE(ready);
	CHECK_CONTAINS(why,
	               "route t: all 1 handler threads hung in plugin fx_isolate: task TASKS:9");
	CHECK_INT(engine_hung_report(f.engine, report, sizeof(report)), 1);
	CHECK_CONTAINS(report, "route t: task TASKS:9 (plugin fx_isolate) hung");
	CHECK_INT(engine_router(f.engine)->routes[0].stats.hung_now, 1);
	pthread_join(c.thread, NULL);
	/* No beat after the timeout, and the late verdict settles nothing:
	 * the server delivers the task again after ack_wait. */
	CHECK_INT(c.rc, 0);
	CHECK_INT(c.res.outcome, DISP_LEFT);
	CHECK_INT(c.task.verdict, TASK_VERDICT_TIMED_OUT);
	CHECK_INT(fake_backend_count(&fake), 0);
	CHECK_INT(engine_router(f.engine)->routes[0].stats.hung, 1);
	CHECK_INT(engine_router(f.engine)->routes[0].stats.hung_now, 0);
	CHECK_TRUE(engine_ready(f.engine, why, sizeof(why)));
	CHECK_INT(engine_hung_report(f.engine, report, sizeof(report)), 0);
	task_release(&c.task);
	engine_set_backend(f.engine, f.backend);
	fake_backend_fini(&fake);
	fixture_teardown(&f);
}

TEST(stopping_calls_gives_their_tasks_back)
{
	struct fake_backend fake;
	struct fixture f;
	struct bg_call c;
	const struct fake_call *nak;
	int64_t t0;

	if (fixture_setup(&f,
	                  "{ \"name\": \"p\", \"stream\": \"TASKS\", \"subject\": \"tasks.p\","
	                  "  \"plugin\": \"fx_isolate\", \"max_attempts\": 1 }",
	                  NULL) < 0)
		return;
	fake_backend_init(&fake);
	engine_set_backend(f.engine, &fake.base);
	bg_start(&c, f.engine, &fake.base, "tasks.p", "hang");
	clock_sleep_ms(200);
	t0 = clock_mono_ms();
	engine_stop_calls(f.engine);
	pthread_join(c.thread, NULL);
	CHECK_RANGE(clock_mono_ms() - t0, 0, 2000);
	/* Not the plugin's crash, even on its last attempt: back at once. */
	CHECK_INT(c.res.outcome, DISP_GIVEN_BACK);
	CHECK_INT(fake_backend_count_op(&fake, FAKE_NAK), 1);
	nak = fake_backend_call(&fake, fake_backend_count(&fake) - 1);
	CHECK_TRUE(nak != NULL && nak->op == FAKE_NAK && nak->delay_ms == 0);
	CHECK_INT(fake_backend_count_op(&fake, FAKE_DEAD_LETTER), 0);
	CHECK_INT(engine_router(f.engine)->routes[0].stats.crashed, 0);
	CHECK_INT(engine_router(f.engine)->routes[0].stats.given_back, 1);
	task_release(&c.task);
	engine_set_backend(f.engine, f.backend);
	fake_backend_fini(&fake);
	fixture_teardown(&f);
}

int
main(void)
{
	testing_let_segv_through();
	log_setup(TJ_LOG_ERR, LOG_FORMAT_TEXT, NULL);
	RUN(happy_path_acks_every_task_once);
	RUN(retries_with_growing_delays_then_acks);
	RUN(exhausted_retries_dead_letter_with_every_header);
	RUN(permanent_failure_dead_letters_on_first_attempt);
	RUN(json_logs_name_the_task_subject_reason_and_error);
	RUN(invalid_json_payload_is_dead_lettered_without_the_handler);
	RUN(json_payloads_are_judged_by_rfc_8259);
	RUN(payload_max_depth_is_the_routes_setting);
	RUN(unrouted_work_is_dead_lettered_and_unknown_subjects_refused);
	RUN(full_queue_refuses_publish_and_dedupe_ignores_repeats);
	RUN(heartbeat_keeps_a_long_handler_alive);
	RUN(a_crash_in_a_worker_process_costs_only_its_task);
	RUN(a_call_past_its_timeout_is_killed_and_timed_out);
	RUN(a_hung_handler_thread_is_no_longer_kept_alive);
	RUN(stopping_calls_gives_their_tasks_back);
	return testing_done();
}
