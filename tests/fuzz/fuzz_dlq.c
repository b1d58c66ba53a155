/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: reading dead letters back (core/task/dlq.c, and the letter
 * stored in parts, core/nats/dlq_store.c), whose headers anyone who may
 * publish to the DLQ stream can write. The input is a DLQ subject, a
 * newline, then a letter as the parts hold it: "Key: value\r\n"... "\r\n"
 * payload. Beyond the sanitizers it checks:
 *   - the parts parser keeps every header and the payload inside the input;
 *   - dlq_entry_new() keeps every header, sorted by key, and the payload;
 *     the JSON documents of the entry (the API's and `dlq show --json`'s)
 *     are valid JSON whatever bytes the headers hold;
 *   - a filter made from an entry's own subject, reason and time matches it;
 *   - a replay id made for an entry reads back as its sequence;
 *   - a letter built again for the task the entry describes reads back as
 *     that task: subject, stream, sequence, attempts, reason, plugin, time,
 *     and an error text that is one line, cut at a character boundary.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "jsonw.h"
#include "nats/dlq_store.h"
#include "task/dlq.h"
#include "task/doc.h"
#include "utf8.h"
#include "util/subject.h"

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "fuzz_dlq: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                             \
		}                                                                            \
	} while (0)

/* 2023-11-14T22:13:20.123Z, and a store time a little later. */
#define NOW_MS INT64_C(1700000000123)
#define STORED_NS INT64_C(1700000000456000000)
#define SEQ 7

static const struct cfg_dlq dlq_cfg = { .stream = CFG_DEFAULT_DLQ_STREAM,
	                                .subject_prefix = CFG_DEFAULT_DLQ_SUBJECT_PREFIX };

static bool
same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The first value of `key` (any case) among the letter's headers. */
static const char *
header(const struct dlq_store_letter *l, const char *key)
{
	for (size_t i = 0; i < l->header_count; i++)
		if (strcasecmp(l->headers[i].key, key) == 0)
			return l->headers[i].value;
	return NULL;
}

static void
check_documents(struct dlq_entry *e)
{
	struct dlq_list list = { .entries = e, .count = 1 };
	struct strbuf b = { 0 };
	struct jsonw w;

	for (int full = 0; full <= 1; full++) {
		jsonw_init(&w, &b);
		doc_dead_letter(&w, e, full);
		CHECK(jsonw_finish(&w) == 0 && json_valid(b.data, b.len));
		strbuf_release(&b);
	}
	jsonw_init(&w, &b);
	doc_dead_letters(&w, dlq_cfg.stream, &list);
	CHECK(jsonw_finish(&w) == 0 && json_valid(b.data, b.len));
	strbuf_release(&b);
}

static void
check_filters(const struct dlq_entry *e)
{
	char id[256];
	uint64_t seq = 0;

	if (e->orig_subject != NULL && subject_valid(e->orig_subject, false))
		CHECK(dlq_filter_match(&(struct dlq_filter){ .subject = e->orig_subject }, e));
	if (e->reason != NULL)
		CHECK(dlq_filter_match(&(struct dlq_filter){ .reason = e->reason }, e));
	if (e->failed_at_ms > 0 && e->failed_at_ms < INT64_MAX) {
		CHECK(dlq_filter_match(&(struct dlq_filter){ .since_ms = e->failed_at_ms }, e));
		CHECK(
		    !dlq_filter_match(&(struct dlq_filter){ .since_ms = e->failed_at_ms + 1 }, e));
	}
	CHECK(dlq_replay_msg_id(&dlq_cfg, e, id, sizeof(id)) == 0);
	CHECK(dlq_replay_source(&dlq_cfg, id, &seq) && seq == e->seq);
}

/* The value of `key` among an entry's headers, or NULL. */
static const char *
entry_header(const struct dlq_entry *e, const char *key)
{
	for (size_t i = 0; i < e->header_count; i++)
		if (strcmp(e->headers[i].key, key) == 0)
			return e->headers[i].value;
	return NULL;
}

/* Build the letter again for the task `e` describes and read it back. */
static void
check_rebuilt(const struct dlq_entry *e, const char *msg_id)
{
	struct tj_task task = { .retry_after_ms = -1 };
	int reason = dlq_reason_parse(e->reason);
	struct dlq_entry *back;
	struct dlq_letter *letter;
	uint64_t replayed = 0;
	int rc;

	if (e->orig_subject == NULL || !subject_valid(e->orig_subject, false))
		return; /* a task's subject always is one */
	task.subject = e->orig_subject;
	task.stream = e->orig_stream;
	task.stream_seq = e->orig_seq;
	task.attempt = e->attempts;
	task.fail_reason = e->error;
	task_set_id(&task, msg_id);
	if (reason < 0)
		reason = DLQ_REASON_HANDLER_FAILED;
	letter = malloc(sizeof(*letter));
	rc = dlq_letter_build(&dlq_cfg, &task, NULL, e->plugin, reason, NULL, NOW_MS, letter);
	/* Whatever subject the server delivered, a letter is built for it. */
	CHECK(rc == 0);
	back = dlq_entry_new(&dlq_cfg, SEQ, STORED_NS, letter->rec.subject, letter->rec.headers,
	                     letter->rec.header_count, NULL, 0);
	CHECK(same(back->orig_subject, task.subject));
	CHECK(same(back->orig_stream,
	           task.stream != NULL && task.stream[0] != '\0' ? task.stream : "-"));
	CHECK(back->orig_seq == task.stream_seq && back->attempts == task.attempt);
	CHECK(same(back->reason, dlq_reason_name(reason)));
	CHECK(same(back->plugin, e->plugin != NULL && e->plugin[0] != '\0' ? e->plugin : "-"));
	CHECK(back->failed_at_ms == NOW_MS / 1000 * 1000);
	CHECK(back->error != NULL && back->error[0] != '\0' && strlen(back->error) < DLQ_ERROR_MAX);
	CHECK(strpbrk(back->error, "\r\n") == NULL);
	if (task.fail_reason != NULL && utf8_valid(task.fail_reason, strlen(task.fail_reason)))
		CHECK(utf8_valid(back->error, strlen(back->error)));
	if (dlq_replay_source(&dlq_cfg, task.id, &replayed)) {
		char seq[24];

		snprintf(seq, sizeof(seq), "%llu", (unsigned long long)replayed);
		CHECK(same(entry_header(back, DLQ_REPLAYED_FROM_HEADER), seq));
	} else {
		CHECK(entry_header(back, DLQ_REPLAYED_FROM_HEADER) == NULL);
	}
	dlq_entry_free(back);
	dlq_letter_release(letter);
	free(letter);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	struct dlq_store_letter l = { 0 };
	struct dlq_entry *e;
	char *subject;
	size_t len;

	if (nl == NULL)
		return 0;
	subject = strndup((const char *)data, (size_t)(nl - data));
	/* Exactly the blob's bytes, so a read past them is seen. */
	len = size - (size_t)(nl + 1 - data);
	l.blob = malloc(len > 0 ? len : 1);
	memcpy(l.blob, nl + 1, len);
	if (dlq_store_parse(&l, len) != 0) {
		dlq_store_letter_free(&l);
		free(subject);
		return 0;
	}
	CHECK(l.payload >= l.blob && l.payload + l.payload_len == l.blob + len);
	for (size_t i = 0; i < l.header_count; i++)
		CHECK(l.headers[i].key >= l.blob && l.headers[i].value < l.payload);

	e = dlq_entry_new(&dlq_cfg, SEQ, STORED_NS, subject, l.headers, l.header_count, l.payload,
	                  l.payload_len);
	CHECK(e->header_count == l.header_count && e->payload_len == l.payload_len);
	CHECK(l.payload_len == 0 || memcmp(e->payload, l.payload, l.payload_len) == 0);
	for (size_t i = 1; i < e->header_count; i++)
		CHECK(strcasecmp(e->headers[i - 1].key, e->headers[i].key) <= 0);
	if (header(&l, "Taskjet-Original-Subject") != NULL)
		CHECK(same(e->orig_subject, header(&l, "Taskjet-Original-Subject")));
	check_documents(e);
	check_filters(e);
	check_rebuilt(e, header(&l, "Nats-Msg-Id"));
	dlq_entry_free(e);
	dlq_store_letter_free(&l);
	free(subject);
	return 0;
}
