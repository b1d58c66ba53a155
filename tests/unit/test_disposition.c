/* SPDX-License-Identifier: MIT */
/* The verdict -> backend action table, run against the recording fake. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "task/disposition.h"
#include "task/dlq.h"
#include "fake_backend.h"
#include "testing.h"

#define NOW_MS INT64_C(1700000000123) /* 2023-11-14T22:13:20Z */
#define NONE FAKE_OP_COUNT /* no failure injected */

static const struct cfg_dlq dlq_cfg = { .stream = CFG_DEFAULT_DLQ_STREAM,
	                                .subject_prefix = CFG_DEFAULT_DLQ_SUBJECT_PREFIX };
static const struct cfg_route refund_cfg = {
	.name = "refund",
	.stream = "ORDERS",
	.subject = "orders.refund",
	.plugin = "refunds",
	.max_attempts = 3,
	.backoff = { .initial_ms = 10000, .multiplier = 2.0, .max_ms = 300000, .jitter = 0.2 },
};

static struct fake_backend fb;
static double rng_u = 0.5;

static double
fixed_next(void *ctx)
{
	return *(const double *)ctx;
}

static int64_t
fixed_now(void)
{
	return NOW_MS;
}

static struct disp_env
env_make(void)
{
	struct disp_env env = {
		.backend = &fb.base,
		.dlq = &dlq_cfg,
		.rng = { fixed_next, &rng_u },
		.now_wall_ms = fixed_now,
		.dlq_retry_delay_ms = 7000,
	};
	return env;
}

static void
task_init(struct tj_task *task, uint32_t attempt)
{
	memset(task, 0, sizeof(*task));
	task->subject = "orders.refund";
	task->stream = "ORDERS";
	task->stream_seq = 42;
	task->attempt = attempt;
	task->retry_after_ms = -1;
	task->backend = &fb.base;
	strcpy(task->id, "ORDERS:42");
}

/* The call log as "op,op:delay,...", naks with their delay. */
static const char *
calls_text(char *buf, size_t cap)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < fake_backend_count(&fb) && off < cap; i++) {
		const struct fake_call *c = fake_backend_call(&fb, i);
		int n;

		if (c->op == FAKE_NAK)
			n = snprintf(buf + off, cap - off, "%s%s:%lld", i ? "," : "",
			             fake_op_name(c->op), (long long)c->delay_ms);
		else
			n = snprintf(buf + off, cap - off, "%s%s", i ? "," : "",
			             fake_op_name(c->op));
		off += n > 0 ? (size_t)n : 0;
	}
	return buf;
}

struct verdict_case {
	const char *name;
	int verdict;
	uint32_t attempt;
	int64_t hint; /* task->retry_after_ms */
	enum fake_op fail_op, fail_op2;
	int fail_err, fail_err2;
	/* expected */
	int rc;
	enum disp_outcome outcome;
	int64_t delay_ms;
	enum dlq_reason reason;
	int error;
	const char *calls;
	uint64_t acked, retried, dead, dlq_failures;
};

static const struct verdict_case verdict_cases[] = {
	{ "done acks", TJ_DONE, 1, -1, NONE, NONE, 0, 0, 0, DISP_ACKED, 0, 0, 0, "ack", 1, 0, 0,
	  0 },
	{ "done on the last attempt acks", TJ_DONE, 3, -1, NONE, NONE, 0, 0, 0, DISP_ACKED, 0, 0, 0,
	  "ack", 1, 0, 0, 0 },
	{ "first retry backs off 10s", TJ_RETRY, 1, -1, NONE, NONE, 0, 0, 0, DISP_RETRIED, 10000, 0,
	  0, "nak:10000", 0, 1, 0, 0 },
	{ "second retry backs off 20s", TJ_RETRY, 2, -1, NONE, NONE, 0, 0, 0, DISP_RETRIED, 20000,
	  0, 0, "nak:20000", 0, 1, 0, 0 },
	{ "handler hint overrides backoff", TJ_RETRY, 2, 1234, NONE, NONE, 0, 0, 0, DISP_RETRIED,
	  1234, 0, 0, "nak:1234", 0, 1, 0, 0 },
	{ "hint 0 redelivers at once", TJ_RETRY, 1, 0, NONE, NONE, 0, 0, 0, DISP_RETRIED, 0, 0, 0,
	  "nak:0", 0, 1, 0, 0 },
	{ "retry on the last attempt dead-letters", TJ_RETRY, 3, -1, NONE, NONE, 0, 0, 0,
	  DISP_DEAD_LETTERED, 0, DLQ_REASON_ATTEMPTS_EXHAUSTED, 0, "dead_letter,term", 0, 0, 1, 0 },
	{ "retry past the last attempt dead-letters", TJ_RETRY, 9, 500, NONE, NONE, 0, 0, 0,
	  DISP_DEAD_LETTERED, 0, DLQ_REASON_ATTEMPTS_EXHAUSTED, 0, "dead_letter,term", 0, 0, 1, 0 },
	{ "fail dead-letters then terms", TJ_FAIL, 1, -1, NONE, NONE, 0, 0, 0, DISP_DEAD_LETTERED,
	  0, DLQ_REASON_HANDLER_FAILED, 0, "dead_letter,term", 0, 0, 1, 0 },
	{ "unknown verdict 7 is a failure", 7, 1, -1, NONE, NONE, 0, 0, 0, DISP_DEAD_LETTERED, 0,
	  DLQ_REASON_HANDLER_FAILED, 0, "dead_letter,term", 0, 0, 1, 0 },
	{ "negative verdict is a failure", -1, 2, 100, NONE, NONE, 0, 0, 0, DISP_DEAD_LETTERED, 0,
	  DLQ_REASON_HANDLER_FAILED, 0, "dead_letter,term", 0, 0, 1, 0 },
	{ "failed DLQ write naks, never terms", TJ_FAIL, 1, -1, FAKE_DEAD_LETTER, NONE, -EIO, 0, 0,
	  DISP_DLQ_FAILED, 7000, DLQ_REASON_HANDLER_FAILED, -EIO, "dead_letter,nak:7000", 0, 0, 0,
	  1 },
	{ "failed DLQ write on exhaustion naks", TJ_RETRY, 3, -1, FAKE_DEAD_LETTER, NONE,
	  -ETIMEDOUT, 0, 0, DISP_DLQ_FAILED, 7000, DLQ_REASON_ATTEMPTS_EXHAUSTED, -ETIMEDOUT,
	  "dead_letter,nak:7000", 0, 0, 0, 1 },
	{ "failed term is reported", TJ_FAIL, 1, -1, FAKE_TERM, NONE, -EIO, 0, -EIO,
	  DISP_DEAD_LETTERED, 0, DLQ_REASON_HANDLER_FAILED, -EIO, "dead_letter,term", 0, 0, 0, 0 },
	{ "failed ack is reported", TJ_DONE, 1, -1, FAKE_ACK, NONE, -ETIMEDOUT, 0, -ETIMEDOUT,
	  DISP_ACKED, 0, 0, -ETIMEDOUT, "ack", 0, 0, 0, 0 },
	{ "failed nak is reported", TJ_RETRY, 1, -1, FAKE_NAK, NONE, -ENOTCONN, 0, -ENOTCONN,
	  DISP_RETRIED, 10000, 0, -ENOTCONN, "nak:10000", 0, 0, 0, 0 },
	{ "failed DLQ write and nak: first error kept", TJ_FAIL, 1, -1, FAKE_DEAD_LETTER, FAKE_NAK,
	  -EIO, -ENOTCONN, -ENOTCONN, DISP_DLQ_FAILED, 7000, DLQ_REASON_HANDLER_FAILED, -EIO,
	  "dead_letter,nak:7000", 0, 0, 0, 1 },
};

TEST(verdict_table)
{
	const size_t n = sizeof(verdict_cases) / sizeof(verdict_cases[0]);
	struct disp_env env = env_make();

	for (size_t i = 0; i < n; i++) {
		const struct verdict_case *c = &verdict_cases[i];
		struct route route = { .cfg = &refund_cfg };
		struct disp_result res;
		struct tj_task task;
		char calls[256];
		int rc;

		fake_backend_reset(&fb);
		if (c->fail_op != NONE)
			fake_backend_fail(&fb, c->fail_op, c->fail_err, 0);
		if (c->fail_op2 != NONE)
			fake_backend_fail(&fb, c->fail_op2, c->fail_err2, 0);
		task_init(&task, c->attempt);
		task.retry_after_ms = c->hint;
		memset(&res, 0xa5, sizeof(res));

		rc = disp_apply_verdict(&env, &route, &task, c->verdict, &res);
		calls_text(calls, sizeof(calls));
		if (rc != c->rc || res.outcome != c->outcome || res.error != c->error ||
		    strcmp(calls, c->calls) != 0 ||
		    ((c->outcome == DISP_RETRIED || c->outcome == DISP_DLQ_FAILED) &&
		     res.delay_ms != c->delay_ms) ||
		    ((c->outcome == DISP_DEAD_LETTERED || c->outcome == DISP_DLQ_FAILED) &&
		     res.reason != c->reason))
			testing_fail(__FILE__, __LINE__,
			             "%s: rc %d outcome %d delay %lld reason %d error %d "
			             "calls \"%s\"; expected rc %d outcome %d delay %lld "
			             "reason %d error %d calls \"%s\"",
			             c->name, rc, res.outcome, (long long)res.delay_ms, res.reason,
			             res.error, calls, c->rc, c->outcome, (long long)c->delay_ms,
			             c->reason, c->error, c->calls);
		if (route.stats.acked != c->acked || route.stats.retried != c->retried ||
		    route.stats.dead_lettered[c->reason] != c->dead ||
		    route.stats.dlq_failures != c->dlq_failures)
			testing_fail(__FILE__, __LINE__,
			             "%s: stats acked %llu retried %llu dead %llu "
			             "dlq_failures %llu",
			             c->name, (unsigned long long)route.stats.acked,
			             (unsigned long long)route.stats.retried,
			             (unsigned long long)route.stats.dead_lettered[c->reason],
			             (unsigned long long)route.stats.dlq_failures);
		for (size_t k = 0; k < fake_backend_count(&fb); k++)
			CHECK_STR(fake_backend_call(&fb, k)->task_id, "ORDERS:42");
	}
}

static const struct fake_call *
only_letter(void)
{
	for (size_t i = 0; i < fake_backend_count(&fb); i++)
		if (fake_backend_call(&fb, i)->op == FAKE_DEAD_LETTER)
			return fake_backend_call(&fb, i);
	return NULL;
}

TEST(letter_headers_have_exact_values)
{
	static const char *const keys[] = {
		"Taskjet-Original-Subject", "Taskjet-Original-Stream", "Taskjet-Original-Seq",
		"Taskjet-Attempts",         "Taskjet-Reason",          "Taskjet-Error",
		"Taskjet-Plugin",           "Taskjet-Failed-At",
	};
	static const char *const values[] = {
		"orders.refund",
		"ORDERS",
		"42",
		"2",
		"handler_failed",
		"card declined: see log",
		"refunds",
		"2023-11-14T22:13:20Z",
	};
	char reason[] = "card declined:\nsee log";
	struct disp_env env = env_make();
	struct route route = { .cfg = &refund_cfg };
	const struct fake_call *letter;
	struct tj_task task;

	fake_backend_reset(&fb);
	task_init(&task, 2);
	task.fail_reason = reason;
	CHECK_INT(disp_apply_verdict(&env, &route, &task, TJ_FAIL, NULL), 0);
	letter = only_letter();
	CHECK_TRUE(letter != NULL);
	if (letter == NULL)
		return;
	CHECK_STR(letter->subject, "dlq.orders.refund");
	CHECK_STR(letter->msg_id, "dlq-ORDERS-42");
	CHECK_INT(letter->header_count, 8);
	for (size_t i = 0; i < 8 && i < letter->header_count; i++) {
		CHECK_STR(letter->headers[i].key, keys[i]);
		CHECK_STR(letter->headers[i].value, values[i]);
	}
}

TEST(exhausted_letter_explains_itself)
{
	struct disp_env env = env_make();
	struct route route = { .cfg = &refund_cfg };
	struct tj_task task;

	fake_backend_reset(&fb);
	task_init(&task, 3);
	CHECK_INT(disp_apply_verdict(&env, &route, &task, TJ_RETRY, NULL), 0);
	CHECK_STR(fake_call_header(only_letter(), "Taskjet-Reason"), "attempts_exhausted");
	CHECK_STR(fake_call_header(only_letter(), "Taskjet-Error"), "attempts exhausted after 3");
	CHECK_STR(fake_call_header(only_letter(), "Taskjet-Attempts"), "3");
}

TEST(backoff_uses_the_injected_rng)
{
	struct disp_env env = env_make();
	struct route route = { .cfg = &refund_cfg };
	struct disp_result res;
	struct tj_task task;
	double u = 0.0;

	env.rng.ctx = &u;
	fake_backend_reset(&fb);
	task_init(&task, 2);
	CHECK_INT(disp_apply_verdict(&env, &route, &task, TJ_RETRY, &res), 0);
	CHECK_INT(res.delay_ms, 16000);
	CHECK_INT(fake_backend_call(&fb, 0)->delay_ms, 16000);
}

TEST(dlq_retry_delay_defaults_to_5s)
{
	struct disp_env env = env_make();
	struct route route = { .cfg = &refund_cfg };
	struct disp_result res;
	struct tj_task task;
	char calls[128];

	env.dlq_retry_delay_ms = 0;
	fake_backend_reset(&fb);
	fake_backend_fail(&fb, FAKE_DEAD_LETTER, -EIO, 0);
	task_init(&task, 1);
	CHECK_INT(disp_apply_verdict(&env, &route, &task, TJ_FAIL, &res), 0);
	CHECK_INT(res.outcome, DISP_DLQ_FAILED);
	CHECK_INT(res.delay_ms, 5000);
	CHECK_STR(calls_text(calls, sizeof(calls)), "dead_letter,nak:5000");

	env.dlq_retry_delay_ms = -1;
	fake_backend_reset(&fb);
	fake_backend_fail(&fb, FAKE_DEAD_LETTER, -EIO, 0);
	CHECK_INT(disp_apply_verdict(&env, &route, &task, TJ_FAIL, &res), 0);
	CHECK_INT(res.delay_ms, 5000);
}

TEST(dead_letter_without_verdict)
{
	static const struct {
		enum dlq_reason reason;
		const char *error;
		const char *expected_error;
	} cases[] = {
		{ DLQ_REASON_INVALID_PAYLOAD, "payload is not JSON", "payload is not JSON" },
		{ DLQ_REASON_CRASHED, "SIGSEGV in handler", "SIGSEGV in handler" },
		{ DLQ_REASON_MAX_DELIVERIES, NULL, "max_deliveries" },
		{ DLQ_REASON_NO_ROUTE, NULL, "no_route" },
	};
	struct disp_env env = env_make();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct route route = { .cfg = &refund_cfg };
		struct disp_result res;
		struct tj_task task;
		char calls[128];

		fake_backend_reset(&fb);
		task_init(&task, 1);
		CHECK_INT(
		    disp_dead_letter(&env, &route, &task, cases[i].reason, cases[i].error, &res),
		    0);
		CHECK_INT(res.outcome, DISP_DEAD_LETTERED);
		CHECK_INT(res.reason, cases[i].reason);
		CHECK_INT(res.error, 0);
		CHECK_STR(calls_text(calls, sizeof(calls)), "dead_letter,term");
		CHECK_STR(fake_call_header(only_letter(), "Taskjet-Reason"),
		          dlq_reason_name(cases[i].reason));
		CHECK_STR(fake_call_header(only_letter(), "Taskjet-Error"),
		          cases[i].expected_error);
		CHECK_STR(fake_call_header(only_letter(), "Taskjet-Plugin"), "refunds");
		CHECK_INT(route.stats.dead_lettered[cases[i].reason], 1);
	}
}

/* Calls that ended without a verdict: the cause is the error, the route's
 * backoff (never a stale hint) paces the retries, and a task no handler ran
 * is given back whatever its attempt. */
TEST(call_outcomes)
{
	static const struct {
		const char *name;
		enum disp_call_end end;
		uint32_t attempt;
		enum disp_outcome outcome;
		const char *calls;
		enum dlq_reason reason;
		uint64_t retried, crashed, timed_out, given_back;
	} cases[] = {
		{ "crash, first attempt: backoff", DISP_CALL_CRASHED, 1, DISP_RETRIED, "nak:10000",
		  0, 1, 1, 0, 0 },
		{ "crash, second attempt: backoff x2", DISP_CALL_CRASHED, 2, DISP_RETRIED,
		  "nak:20000", 0, 1, 1, 0, 0 },
		{ "crash on the last attempt: crashed", DISP_CALL_CRASHED, 3, DISP_DEAD_LETTERED,
		  "dead_letter,term", DLQ_REASON_CRASHED, 0, 1, 0, 0 },
		{ "timeout: backoff", DISP_CALL_TIMED_OUT, 1, DISP_RETRIED, "nak:10000", 0, 1, 0, 1,
		  0 },
		{ "timeout on the last attempt: timed_out", DISP_CALL_TIMED_OUT, 3,
		  DISP_DEAD_LETTERED, "dead_letter,term", DLQ_REASON_TIMED_OUT, 0, 0, 1, 0 },
		{ "not run: given back in 1 s", DISP_CALL_NOT_RUN, 1, DISP_GIVEN_BACK, "nak:1000",
		  0, 0, 0, 0, 1 },
		{ "not run on the last attempt: still given back", DISP_CALL_NOT_RUN, 3,
		  DISP_GIVEN_BACK, "nak:1000", 0, 0, 0, 0, 1 },
		{ "stopped at shutdown: given back at once", DISP_CALL_STOPPED, 3, DISP_GIVEN_BACK,
		  "nak:0", 0, 0, 0, 0, 1 },
		{ "late thread: left alone", DISP_CALL_LATE, 1, DISP_LEFT, "", 0, 0, 0, 0, 0 },
	};
	struct disp_env env = env_make();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct route route = { .cfg = &refund_cfg };
		struct disp_call call = { .end = cases[i].end,
			                  .verdict = TJ_DONE,
			                  .cause = "killed by signal 11 (Segmentation fault)" };
		struct disp_result res;
		struct tj_task task;
		char calls[128];

		fake_backend_reset(&fb);
		task_init(&task, cases[i].attempt);
		task.retry_after_ms = 5; /* left from an earlier call: ignored */
		memset(&res, 0xa5, sizeof(res));
		CHECK_INT(disp_apply_call(&env, &route, &task, &call, &res), 0);
		if (res.outcome != cases[i].outcome ||
		    strcmp(calls_text(calls, sizeof(calls)), cases[i].calls) != 0)
			testing_fail(__FILE__, __LINE__, "%s: outcome %d calls \"%s\"",
			             cases[i].name, res.outcome, calls);
		CHECK_INT(route.stats.retried, cases[i].retried);
		CHECK_INT(route.stats.crashed, cases[i].crashed);
		CHECK_INT(route.stats.timed_out, cases[i].timed_out);
		CHECK_INT(route.stats.given_back, cases[i].given_back);
		CHECK_INT(route.stats.acked, 0);
		if (cases[i].outcome != DISP_DEAD_LETTERED)
			continue;
		CHECK_INT(res.reason, cases[i].reason);
		CHECK_INT(route.stats.dead_lettered[cases[i].reason], 1);
		CHECK_STR(fake_call_header(only_letter(), "Taskjet-Reason"),
		          dlq_reason_name(cases[i].reason));
		CHECK_STR(fake_call_header(only_letter(), "Taskjet-Error"),
		          "killed by signal 11 (Segmentation fault)");
		CHECK_STR(fake_call_header(only_letter(), "Taskjet-Attempts"), "3");
	}
}

/* A call that returned is a verdict like any other. */
TEST(call_that_returned_is_its_verdict)
{
	struct disp_env env = env_make();
	struct route route = { .cfg = &refund_cfg };
	struct disp_call call = { .end = DISP_CALL_RETURNED, .verdict = TJ_DONE };
	struct disp_result res;
	struct tj_task task;
	char calls[64];

	fake_backend_reset(&fb);
	task_init(&task, 1);
	CHECK_INT(disp_apply_call(&env, &route, &task, &call, &res), 0);
	CHECK_INT(res.outcome, DISP_ACKED);
	CHECK_STR(calls_text(calls, sizeof(calls)), "ack");
	CHECK_INT(disp_apply_call(&env, &route, &task, NULL, &res), -EINVAL);
}

TEST(no_route_letter_has_no_plugin)
{
	struct disp_env env = env_make();
	struct disp_result res;
	struct tj_task task;
	char calls[128];

	fake_backend_reset(&fb);
	task_init(&task, 1);
	task.subject = "nobody.listens";
	CHECK_INT(disp_dead_letter(&env, NULL, &task, DLQ_REASON_NO_ROUTE,
	                           "no route for nobody.listens", &res),
	          0);
	CHECK_INT(res.outcome, DISP_DEAD_LETTERED);
	CHECK_STR(calls_text(calls, sizeof(calls)), "dead_letter,term");
	CHECK_STR(only_letter()->subject, "dlq.nobody.listens");
	CHECK_STR(fake_call_header(only_letter(), "Taskjet-Plugin"), "-");
	CHECK_STR(fake_call_header(only_letter(), "Taskjet-Error"), "no route for nobody.listens");

	/* And without a route, a failed write still naks. */
	fake_backend_reset(&fb);
	fake_backend_fail(&fb, FAKE_DEAD_LETTER, -ENOBUFS, 1);
	CHECK_INT(disp_dead_letter(&env, NULL, &task, DLQ_REASON_NO_ROUTE, NULL, &res), 0);
	CHECK_INT(res.outcome, DISP_DLQ_FAILED);
	CHECK_INT(res.error, -ENOBUFS);
	CHECK_STR(calls_text(calls, sizeof(calls)), "dead_letter,nak:7000");
}

/* A subject the store cannot name (it says -ENAMETOOLONG) is no reason
 * to retry forever: the letter goes under the fallback subject, keeping
 * the task's subject in its header, and the task is termed. */
TEST(a_subject_the_store_cannot_name_falls_back)
{
	char subject[600];
	struct disp_env env = env_make();
	struct route route = { .cfg = &refund_cfg };
	struct disp_result res;
	struct tj_task task;
	char calls[128];

	memset(subject, 'a', sizeof(subject) - 1);
	subject[sizeof(subject) - 1] = '\0';
	fake_backend_reset(&fb);
	task_init(&task, 1);
	task.subject = subject;
	/* Any length the store takes is the letter's subject. */
	CHECK_INT(disp_apply_verdict(&env, &route, &task, TJ_FAIL, &res), 0);
	CHECK_INT(res.outcome, DISP_DEAD_LETTERED);
	CHECK_STR(calls_text(calls, sizeof(calls)), "dead_letter,term");
	CHECK_INT(strlen(only_letter()->subject), strlen("dlq.") + strlen(subject));

	fake_backend_reset(&fb);
	fake_backend_fail(&fb, FAKE_DEAD_LETTER, -ENAMETOOLONG, 1);
	CHECK_INT(disp_apply_verdict(&env, &route, &task, TJ_FAIL, &res), 0);
	CHECK_INT(res.outcome, DISP_DEAD_LETTERED);
	CHECK_STR(calls_text(calls, sizeof(calls)), "dead_letter,dead_letter,term");
	if (fake_backend_count(&fb) == 3) {
		const struct fake_call *c = fake_backend_call(&fb, 1);

		CHECK_STR(c->subject, "dlq." DLQ_FALLBACK_TOKEN);
		CHECK_STR(c->msg_id, fake_backend_call(&fb, 0)->msg_id);
		CHECK_STR(fake_call_header(c, "Taskjet-Original-Subject"), subject);
	}
	CHECK_INT(route.stats.dlq_failures, 0);

	/* The fallback failing too still naks: never a term without a
	 * stored letter. */
	fake_backend_reset(&fb);
	fake_backend_fail(&fb, FAKE_DEAD_LETTER, -ENAMETOOLONG, 0);
	CHECK_INT(disp_apply_verdict(&env, &route, &task, TJ_FAIL, &res), 0);
	CHECK_INT(res.outcome, DISP_DLQ_FAILED);
	CHECK_STR(calls_text(calls, sizeof(calls)), "dead_letter,dead_letter,nak:7000");
	CHECK_INT(route.stats.dlq_failures, 1);
}

TEST(real_clock_when_none_injected)
{
	struct disp_env env = env_make();
	struct route route = { .cfg = &refund_cfg };
	struct tj_task task;
	const char *at;

	env.now_wall_ms = NULL;
	fake_backend_reset(&fb);
	task_init(&task, 1);
	CHECK_INT(disp_apply_verdict(&env, &route, &task, TJ_FAIL, NULL), 0);
	at = fake_call_header(only_letter(), "Taskjet-Failed-At");
	CHECK_TRUE(at != NULL && strlen(at) == 20 && at[19] == 'Z');
	CHECK_TRUE(at != NULL && strncmp(at, "2023-11-14", 10) != 0);
}

TEST(bad_arguments_touch_nothing)
{
	struct disp_env env = env_make();
	struct route route = { .cfg = &refund_cfg };
	struct tj_task task;

	fake_backend_reset(&fb);
	task_init(&task, 1);
	CHECK_INT(disp_apply_verdict(&env, NULL, &task, TJ_DONE, NULL), -EINVAL);
	CHECK_INT(disp_apply_verdict(NULL, &route, &task, TJ_DONE, NULL), -EINVAL);
	CHECK_INT(disp_dead_letter(&env, &route, &task, DLQ_REASON_COUNT, NULL, NULL), -EINVAL);
	CHECK_INT(fake_backend_count(&fb), 0);
}

TEST(stats_accumulate_across_tasks)
{
	struct disp_env env = env_make();
	struct route route = { .cfg = &refund_cfg };
	struct tj_task task;

	fake_backend_reset(&fb);
	task_init(&task, 1);
	for (int i = 0; i < 3; i++)
		disp_apply_verdict(&env, &route, &task, TJ_DONE, NULL);
	for (int i = 0; i < 2; i++)
		disp_apply_verdict(&env, &route, &task, TJ_RETRY, NULL);
	disp_apply_verdict(&env, &route, &task, TJ_FAIL, NULL);
	disp_dead_letter(&env, &route, &task, DLQ_REASON_CRASHED, NULL, NULL);
	CHECK_INT(route.stats.acked, 3);
	CHECK_INT(route.stats.retried, 2);
	CHECK_INT(route.stats.dead_lettered[DLQ_REASON_HANDLER_FAILED], 1);
	CHECK_INT(route.stats.dead_lettered[DLQ_REASON_CRASHED], 1);
	CHECK_INT(route.stats.dlq_failures, 0);
	CHECK_INT(fake_backend_count(&fb), 3 + 2 + 2 + 2);
}

int
main(void)
{
	fake_backend_init(&fb);
	RUN(verdict_table);
	RUN(letter_headers_have_exact_values);
	RUN(exhausted_letter_explains_itself);
	RUN(backoff_uses_the_injected_rng);
	RUN(dlq_retry_delay_defaults_to_5s);
	RUN(dead_letter_without_verdict);
	RUN(call_outcomes);
	RUN(call_that_returned_is_its_verdict);
	RUN(no_route_letter_has_no_plugin);
	RUN(a_subject_the_store_cannot_name_falls_back);
	RUN(real_clock_when_none_injected);
	RUN(bad_arguments_touch_nothing);
	RUN(stats_accumulate_across_tasks);
	fake_backend_fini(&fb);
	return testing_done();
}
