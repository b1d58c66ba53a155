/* SPDX-License-Identifier: MIT */
/* Dead letter subject, id and headers, including the error text rules. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "task/dlq.h"
#include "testing.h"

/* 2023-11-14T22:13:20.123Z */
#define NOW_MS INT64_C(1700000000123)

static const struct cfg_dlq dlq_cfg = { .stream = CFG_DEFAULT_DLQ_STREAM,
	                                .subject_prefix = CFG_DEFAULT_DLQ_SUBJECT_PREFIX };

static const char *
header(const struct dlq_letter *letter, const char *key)
{
	for (size_t i = 0; i < letter->rec.header_count; i++)
		if (strcmp(letter->rec.headers[i].key, key) == 0)
			return letter->rec.headers[i].value;
	return NULL;
}

static void
task_init(struct tj_task *task, char *fail_reason)
{
	memset(task, 0, sizeof(*task));
	task->subject = "orders.refund";
	task->stream = "ORDERS";
	task->stream_seq = 42;
	task->attempt = 3;
	task->retry_after_ms = -1;
	task->fail_reason = fail_reason;
	strcpy(task->id, "ORDERS:42");
}

TEST(letter_has_subject_id_and_exactly_the_headers)
{
	static const char *const keys[] = {
		"Taskjet-Original-Subject", "Taskjet-Original-Stream", "Taskjet-Original-Seq",
		"Taskjet-Attempts",         "Taskjet-Reason",          "Taskjet-Error",
		"Taskjet-Plugin",           "Taskjet-Failed-At",
	};
	static const char *const values[] = {
		"orders.refund",  "ORDERS",        "42",      "3",
		"handler_failed", "card declined", "refunds", "2023-11-14T22:13:20Z",
	};
	char reason[] = "card declined";
	struct dlq_letter letter;
	struct tj_task task;

	task_init(&task, reason);
	CHECK_INT(dlq_letter_build(&dlq_cfg, &task, NULL, "refunds", DLQ_REASON_HANDLER_FAILED,
	                           NULL, NOW_MS, &letter),
	          0);
	CHECK_STR(letter.rec.subject, "dlq.orders.refund");
	CHECK_STR(letter.rec.msg_id, "dlq-ORDERS-42");
	CHECK_INT(letter.rec.header_count, 8);
	for (size_t i = 0; i < 8 && i < letter.rec.header_count; i++) {
		CHECK_STR(letter.rec.headers[i].key, keys[i]);
		CHECK_STR(letter.rec.headers[i].value, values[i]);
	}
	dlq_letter_release(&letter);
}

/* The publisher's Nats-Msg-Id survives as Taskjet-Original-Msg-Id (the
 * letter's own id is dlq-<stream>-<seq>), so letter and logs match up. */
TEST(letter_keeps_the_original_message_id)
{
	char reason[] = "card declined";
	struct dlq_letter letter;
	struct tj_task task;
	bool found = false;

	task_init(&task, reason);
	CHECK_INT(dlq_letter_build(&dlq_cfg, &task, "refund-7781", "refunds",
	                           DLQ_REASON_HANDLER_FAILED, NULL, NOW_MS, &letter),
	          0);
	CHECK_STR(letter.rec.msg_id, "dlq-ORDERS-42");
	CHECK_INT(letter.rec.header_count, 9);
	for (size_t i = 0; i < letter.rec.header_count; i++)
		if (strcmp(letter.rec.headers[i].key, "Taskjet-Original-Msg-Id") == 0) {
			CHECK_STR(letter.rec.headers[i].value, "refund-7781");
			found = true;
		}
	CHECK_TRUE(found);
	dlq_letter_release(&letter);
	/* None given, or empty: no header. */
	CHECK_INT(dlq_letter_build(&dlq_cfg, &task, "", "refunds", DLQ_REASON_HANDLER_FAILED, NULL,
	                           NOW_MS, &letter),
	          0);
	CHECK_INT(letter.rec.header_count, 8);
	dlq_letter_release(&letter);
}

TEST(error_text_precedence)
{
	static const struct {
		const char *fail_reason; /* the handler's */
		const char *error; /* the caller's */
		enum dlq_reason reason;
		const char *expected;
	} cases[] = {
		{ "from handler", NULL, DLQ_REASON_HANDLER_FAILED, "from handler" },
		{ "from handler", "override", DLQ_REASON_CRASHED, "override" },
		{ NULL, "not json", DLQ_REASON_INVALID_PAYLOAD, "not json" },
		{ "from handler", NULL, DLQ_REASON_ATTEMPTS_EXHAUSTED, "from handler" },
		{ NULL, NULL, DLQ_REASON_ATTEMPTS_EXHAUSTED, "attempts exhausted after 3" },
		{ "", "", DLQ_REASON_ATTEMPTS_EXHAUSTED, "attempts exhausted after 3" },
		{ NULL, NULL, DLQ_REASON_HANDLER_FAILED, "handler_failed" },
		{ "", NULL, DLQ_REASON_NO_ROUTE, "no_route" },
		{ NULL, "", DLQ_REASON_MAX_DELIVERIES, "max_deliveries" },
		{ "line one\r\nline two\n", NULL, DLQ_REASON_HANDLER_FAILED,
		  "line one  line two " },
		{ NULL, "a\rb\nc", DLQ_REASON_CRASHED, "a b c" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char fail_reason[64];
		struct dlq_letter letter;
		struct tj_task task;
		const char *got;

		if (cases[i].fail_reason != NULL)
			strcpy(fail_reason, cases[i].fail_reason);
		task_init(&task, cases[i].fail_reason ? fail_reason : NULL);
		CHECK_INT(dlq_letter_build(&dlq_cfg, &task, NULL, "p", cases[i].reason,
		                           cases[i].error, NOW_MS, &letter),
		          0);
		got = header(&letter, "Taskjet-Error");
		if (got == NULL || strcmp(got, cases[i].expected) != 0)
			testing_fail(__FILE__, __LINE__, "case %zu: \"%s\", expected \"%s\"", i,
			             got ? got : "(null)", cases[i].expected);
		CHECK_STR(header(&letter, "Taskjet-Reason"), dlq_reason_name(cases[i].reason));
		dlq_letter_release(&letter);
	}
}

TEST(missing_plugin_is_a_dash)
{
	struct dlq_letter letter;
	struct tj_task task;

	task_init(&task, NULL);
	CHECK_INT(dlq_letter_build(&dlq_cfg, &task, NULL, NULL, DLQ_REASON_NO_ROUTE, NULL, NOW_MS,
	                           &letter),
	          0);
	CHECK_STR(header(&letter, "Taskjet-Plugin"), "-");
	dlq_letter_release(&letter);
	CHECK_INT(
	    dlq_letter_build(&dlq_cfg, &task, NULL, "", DLQ_REASON_NO_ROUTE, NULL, NOW_MS, &letter),
	    0);
	CHECK_STR(header(&letter, "Taskjet-Plugin"), "-");
	dlq_letter_release(&letter);
}

TEST(memory_stream_and_custom_prefix)
{
	static const struct cfg_dlq custom = { .subject_prefix = "dead.letters" };
	struct dlq_letter letter;
	struct tj_task task;

	task_init(&task, NULL);
	task.stream = "memory";
	task.stream_seq = 18446744073709551615ULL;
	CHECK_INT(dlq_letter_build(&custom, &task, NULL, "x", DLQ_REASON_CRASHED, NULL, 0, &letter),
	          0);
	CHECK_STR(letter.rec.subject, "dead.letters.orders.refund");
	CHECK_STR(letter.rec.msg_id, "dlq-memory-18446744073709551615");
	CHECK_STR(header(&letter, "Taskjet-Original-Seq"), "18446744073709551615");
	CHECK_STR(header(&letter, "Taskjet-Failed-At"), "1970-01-01T00:00:00Z");
	dlq_letter_release(&letter);
}

TEST(long_error_is_cut_on_a_character_boundary)
{
	char error[3 * DLQ_ERROR_MAX + 1];
	struct dlq_letter letter;
	struct tj_task task;
	size_t len;

	/* "é" is two bytes, so the cut at DLQ_ERROR_MAX - 1 (odd) falls
	 * mid-character and must back off by one. */
	for (size_t i = 0; i + 2 <= sizeof(error) - 1; i += 2)
		memcpy(error + i, "\xc3\xa9", 2);
	error[sizeof(error) - 1] = '\0';
	task_init(&task, NULL);
	CHECK_INT(dlq_letter_build(&dlq_cfg, &task, NULL, "p", DLQ_REASON_CRASHED, error, NOW_MS,
	                           &letter),
	          0);
	len = strlen(letter.error);
	CHECK_INT(len, DLQ_ERROR_MAX - 2);
	CHECK_INT(memcmp(letter.error, error, len), 0);
	CHECK_INT(((unsigned char)error[len] & 0xc0) == 0x80, 0);
	dlq_letter_release(&letter);
}

/* Any subject the server can deliver makes a letter subject (nats-server
 * takes ~4 KiB); what the store cannot take goes under the fallback. */
TEST(any_subject_makes_a_letter_and_a_bad_reason_none)
{
	char subject[5000], want[5010];
	struct dlq_letter letter;
	struct tj_task task;

	memset(subject, 'a', sizeof(subject) - 1);
	subject[sizeof(subject) - 1] = '\0';
	task_init(&task, NULL);
	CHECK_INT(
	    dlq_letter_build(&dlq_cfg, &task, NULL, "p", DLQ_REASON_COUNT, NULL, NOW_MS, &letter),
	    -EINVAL);
	dlq_letter_release(&letter);
	task.subject = subject;
	CHECK_INT(
	    dlq_letter_build(&dlq_cfg, &task, NULL, "p", DLQ_REASON_CRASHED, NULL, NOW_MS, &letter),
	    0);
	snprintf(want, sizeof(want), "dlq.%s", subject);
	CHECK_STR(letter.rec.subject, want);
	CHECK_STR(header(&letter, "Taskjet-Original-Subject"), subject);
	dlq_letter_fall_back(&dlq_cfg, &letter);
	CHECK_STR(letter.rec.subject, "dlq." DLQ_FALLBACK_TOKEN);
	CHECK_STR(letter.rec.msg_id, "dlq-ORDERS-42");
	CHECK_STR(header(&letter, "Taskjet-Original-Subject"), subject);
	dlq_letter_release(&letter);
	CHECK_TRUE(letter.rec.subject == NULL);
}

/* A letter under the fallback subject is not where a purge by subject
 * looks. */
TEST(a_letter_off_its_subject_is_told)
{
	struct dlq_entry e = { .dlq_subject = (char *)"dlq.orders.refund",
		               .orig_subject = (char *)"orders.refund" };

	CHECK_FALSE(dlq_entry_off_subject(&e));
	e.dlq_subject = (char *)"dead.letters.orders.refund";
	CHECK_FALSE(dlq_entry_off_subject(&e));
	e.dlq_subject = (char *)"dlq." DLQ_FALLBACK_TOKEN;
	CHECK_TRUE(dlq_entry_off_subject(&e));
	e.dlq_subject = (char *)"dlqorders.refund";
	CHECK_TRUE(dlq_entry_off_subject(&e));
	e.dlq_subject = (char *)"refund";
	CHECK_TRUE(dlq_entry_off_subject(&e));
}

TEST(a_replayed_task_s_letter_says_where_it_came_from)
{
	struct dlq_letter letter;
	struct tj_task task;
	uint64_t seq = 0;

	/* The id dlq_replay_msg_id() gives: replay-<DLQ stream>-<seq>-<ns>. */
	task_init(&task, NULL);
	strcpy(task.id, "replay-DLQ-17-1700000000123456789");
	CHECK_INT(dlq_letter_build(&dlq_cfg, &task, NULL, "refunds", DLQ_REASON_HANDLER_FAILED,
	                           NULL, NOW_MS, &letter),
	          0);
	CHECK_INT(letter.rec.header_count, 9);
	CHECK_STR(header(&letter, "Taskjet-Replayed-From"), "17");
	dlq_letter_release(&letter);
	/* Another DLQ's replay, or an id that only looks like one: nothing. */
	strcpy(task.id, "replay-OTHER-17-1");
	CHECK_INT(dlq_letter_build(&dlq_cfg, &task, NULL, "refunds", DLQ_REASON_HANDLER_FAILED,
	                           NULL, NOW_MS, &letter),
	          0);
	CHECK_STR(header(&letter, "Taskjet-Replayed-From"), NULL);
	dlq_letter_release(&letter);
	CHECK_FALSE(dlq_replay_source(&dlq_cfg, "replay-DLQ-17", &seq));
	CHECK_FALSE(dlq_replay_source(&dlq_cfg, "replay-DLQ-x-1", &seq));
	CHECK_FALSE(dlq_replay_source(&dlq_cfg, "replay-DLQ-0-1", &seq));
	CHECK_TRUE(dlq_replay_source(&dlq_cfg, "replay-DLQ-3-9", &seq));
	CHECK_INT(seq, 3);
}

TEST(reserved_headers_in_any_case)
{
	static const char *const dropped[] = {
		"Taskjet-Reason",        "taskjet-original-subject",
		"TASKJET-REPLAYED-FROM", "Taskjet-",
		"Nats-Msg-Id",           "nats-msg-id",
		"Nats-Expected-Stream",  "NATS-EXPECTED-LAST-SEQUENCE"
	};
	static const char *const kept[] = { "Trace", "Taskjet", "X-Taskjet-Reason", "Nats-Msg",
		                            "Tenant" };

	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		CHECK_TRUE(dlq_header_dropped(dropped[i]));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		CHECK_FALSE(dlq_header_dropped(kept[i]));
	CHECK_TRUE(dlq_header_reserved("taskJET-error"));
	CHECK_FALSE(dlq_header_reserved("Nats-Msg-Id"));
}

TEST(stored_letters_read_taskjet_headers_in_any_case)
{
	const struct msg_header h[] = { { "taskjet-original-subject", "tasks.a" },
		                        { "TASKJET-REASON", "crashed" },
		                        { "Taskjet-Reason", "second" } };
	struct dlq_entry *e = dlq_entry_new(NULL, 4, 0, "dlq.tasks.a", h, 3, NULL, 0);

	CHECK_STR(e->orig_subject, "tasks.a");
	CHECK_STR(e->reason, "crashed"); /* the first value */
	dlq_entry_free(e);
}

int
main(void)
{
	RUN(letter_has_subject_id_and_exactly_the_headers);
	RUN(letter_keeps_the_original_message_id);
	RUN(error_text_precedence);
	RUN(missing_plugin_is_a_dash);
	RUN(memory_stream_and_custom_prefix);
	RUN(long_error_is_cut_on_a_character_boundary);
	RUN(any_subject_makes_a_letter_and_a_bad_reason_none);
	RUN(a_letter_off_its_subject_is_told);
	RUN(a_replayed_task_s_letter_says_where_it_came_from);
	RUN(reserved_headers_in_any_case);
	RUN(stored_letters_read_taskjet_headers_in_any_case);
	return testing_done();
}
