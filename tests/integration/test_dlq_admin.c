/* SPDX-License-Identifier: MIT */
/*
 * Dead-letter administration and stats against a real server: listing with
 * filters and limits, reading every header, replay (also one interrupted
 * between publish and delete, as by a crash: nothing lost, nothing twice),
 * deletion, subject purges and the stats snapshot.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nats/jetstream.h"
#include "util/clock.h"
#include "task/dlq.h"
#include "nats/dlq_admin.h"
#include "js_fixture.h"
#include "util/log.h"
#include "nats_server.h"
#include "nats/natsconn.h"
#include "nats/stats_query.h"
#include "nats/topology.h"
#include "testing.h"

static struct nats_server server;
static struct natsconn *admin;
static struct js_fixture fx;
static struct backend *backend;

/* Drop and recreate the streams and the route consumer. */
static void
fresh_topology(void)
{
	js_DeleteStream(natsconn_js(admin), "TASKS", NULL, NULL);
	js_DeleteStream(natsconn_js(admin), fx.cfg.dlq.stream, NULL, NULL);
	js_DeleteStream(natsconn_js(admin), fx.cfg.dlq.advisory_stream, NULL, NULL);
	CHECK_INT(backend_ensure_topology(backend, false, NULL, NULL), 0);
}

/*
 * Store a dead letter the way the engine does: dlq_letter_build() for the
 * subject, id and Taskjet-* headers, plus the task's own header Trace, on
 * the DLQ stream. Returns its DLQ sequence (0 on failure).
 */
static uint64_t
put_letter(const char *subject, uint64_t orig_seq, enum dlq_reason reason, const char *error,
           int64_t failed_at_ms, const char *payload)
{
	struct tj_task task;
	struct dlq_letter letter;
	jsPubOptions po;
	jsPubAck *ack = NULL;
	natsMsg *m = NULL;
	uint64_t seq = 0;
	natsStatus s;

	memset(&task, 0, sizeof(task));
	task.subject = subject;
	task.stream = "TASKS";
	task.stream_seq = orig_seq;
	task.attempt = 3;
	if (dlq_letter_build(&fx.cfg.dlq, &task, NULL, "fx_behave", reason, error, failed_at_ms,
	                     &letter) != 0) {
		dlq_letter_release(&letter);
		return 0;
	}
	s = natsMsg_Create(&m, letter.rec.subject, NULL, payload, (int)strlen(payload));
	if (s == NATS_OK)
		s = natsMsgHeader_Add(m, "Trace", "t-1");
	if (s == NATS_OK)
		s = natsMsgHeader_Add(m, "Multi", "one");
	if (s == NATS_OK)
		s = natsMsgHeader_Add(m, "Multi", "two");
	for (size_t i = 0; s == NATS_OK && i < letter.rec.header_count; i++)
		s = natsMsgHeader_Set(m, letter.rec.headers[i].key, letter.rec.headers[i].value);
	jsPubOptions_Init(&po);
	po.MsgId = letter.rec.msg_id;
	if (s == NATS_OK)
		s = js_PublishMsg(&ack, natsconn_js(admin), m, &po, NULL);
	if (s == NATS_OK)
		seq = ack->Sequence;
	jsPubAck_Destroy(ack);
	natsMsg_Destroy(m);
	dlq_letter_release(&letter);
	return seq;
}

static uint64_t
stream_msgs(const char *stream)
{
	jsStreamInfo *si = NULL;
	uint64_t n = UINT64_MAX;

	if (js_GetStreamInfo(&si, natsconn_js(admin), stream, NULL, NULL) == NATS_OK)
		n = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return n;
}

/* The first value of header `key` of the message at `seq` in `stream`,
 * copied into buf ("" if absent, "(no message)" if none). */
static const char *
stored_header(const char *stream, uint64_t seq, const char *key, char *buf, size_t len)
{
	natsMsg *m = NULL;
	const char *v = NULL;

	snprintf(buf, len, "(no message)");
	if (js_GetMsg(&m, natsconn_js(admin), stream, seq, NULL, NULL) != NATS_OK)
		return buf;
	if (natsMsgHeader_Get(m, key, &v) == NATS_OK && v != NULL)
		snprintf(buf, len, "%s", v);
	else
		buf[0] = '\0';
	natsMsg_Destroy(m);
	return buf;
}

static const char *
header_of(const struct dlq_entry *e, const char *key, size_t nth)
{
	for (size_t i = 0; i < e->header_count; i++)
		if (strcmp(e->headers[i].key, key) == 0 && nth-- == 0)
			return e->headers[i].value;
	return NULL;
}

TEST(parse_since_takes_rfc3339_and_durations)
{
	int64_t ms = 0;

	CHECK_INT(dlq_parse_since("2026-01-02T03:04:05Z", 0, &ms), 0);
	CHECK_INT(ms, 1767323045000LL);
	CHECK_INT(dlq_parse_since("2026-01-02T03:04:05.250Z", 0, &ms), 0);
	CHECK_INT(ms, 1767323045250LL);
	CHECK_INT(dlq_parse_since("2026-01-02T05:04:05+02:00", 0, &ms), 0);
	CHECK_INT(ms, 1767323045000LL);
	CHECK_INT(dlq_parse_since("1h30m", 10000000, &ms), 0);
	CHECK_INT(ms, 10000000 - 5400000);
	CHECK_INT(dlq_parse_since("yesterday", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("2026-13-02T03:04:05Z", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("", 0, &ms), -EINVAL);
	/* At or before the epoch: everything, never "no filter" (0). */
	CHECK_INT(dlq_parse_since("1970-01-01T00:00:00Z", 0, &ms), 0);
	CHECK_INT(ms, 1);
	CHECK_INT(dlq_parse_since("1170-02-01T00:00:01-00:01", 0, &ms), 0);
	CHECK_INT(ms, 1);
	/* 2^64 weeks is too far back, not 0 weeks. */
	CHECK_INT(dlq_parse_since("18446744073709551616w", 1000, &ms), -EINVAL);

	/* Days and weeks, as a look back at dead letters wants them. */
	CHECK_INT(dlq_parse_since("1d", 1000000000000LL, &ms), 0);
	CHECK_INT(ms, 1000000000000LL - 86400000);
	CHECK_INT(dlq_parse_since("2w", 1000000000000LL, &ms), 0);
	CHECK_INT(ms, 1000000000000LL - 14 * 86400000LL);
	CHECK_INT(dlq_parse_since("1w2d3h30m", 1000000000000LL, &ms), 0);
	CHECK_INT(ms, 1000000000000LL - (9 * 86400000LL + 3 * 3600000 + 30 * 60000));
	CHECK_INT(dlq_parse_since("1d500ms", 1000000000000LL, &ms), 0);
	CHECK_INT(ms, 1000000000000LL - 86400500);
	/* Further back than 1970: everything. */
	CHECK_INT(dlq_parse_since("100000w", 1000, &ms), 0);
	CHECK_INT(ms, 1);
	/* Largest unit first, each once; no unit alone; no overflow. */
	CHECK_INT(dlq_parse_since("3h1d", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("1d1d", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("1d2w", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("d", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("1x", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("99999999999999999999w", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("15250284453w", 0, &ms), -EINVAL);

	/* Dates that do not exist are refused, not rolled over. */
	CHECK_INT(dlq_parse_since("2026-02-31T00:00:00Z", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("2026-04-31T00:00:00Z", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("2026-02-29T00:00:00Z", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("2028-02-29T00:00:00Z", 0, &ms), 0);
	CHECK_INT(dlq_parse_since("2100-02-29T00:00:00Z", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("2000-02-29T00:00:00Z", 0, &ms), 0);
	CHECK_INT(dlq_parse_since("2026-01-31T24:00:00Z", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("2026-01-31T10:00:00+24:00", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("2026-01-31T10:00:00+05:60", 0, &ms), -EINVAL);
	CHECK_INT(dlq_parse_since("2026-12-31T23:59:60Z", 0, &ms), 0);
}

TEST(list_reads_every_letter_with_its_headers)
{
	struct dlq_list list = { 0 };
	int64_t now = clock_wall_ms();

	fresh_topology();
	CHECK_INT(put_letter("tasks.a", 7, DLQ_REASON_HANDLER_FAILED, "bad input", now, "p1"), 1);
	CHECK_INT(put_letter("tasks.b", 8, DLQ_REASON_ATTEMPTS_EXHAUSTED, NULL, now, "p2"), 2);
	CHECK_INT(put_letter("tasks.a.deep", 9, DLQ_REASON_CRASHED, "segv", now, "p3"), 3);
	CHECK_INT(dlq_admin_list(admin, &fx.cfg.dlq, NULL, true, &list), 0);
	CHECK_INT(list.count, 3);
	CHECK_INT(list.scanned, 3);
	CHECK_FALSE(list.truncated);
	if (list.count == 3) {
		struct dlq_entry *e = &list.entries[0];

		CHECK_INT(e->seq, 1);
		CHECK_STR(e->dlq_subject, "dlq.tasks.a");
		CHECK_STR(e->orig_subject, "tasks.a");
		CHECK_STR(e->orig_stream, "TASKS");
		CHECK_INT(e->orig_seq, 7);
		CHECK_INT(e->attempts, 3);
		CHECK_STR(e->reason, "handler_failed");
		CHECK_STR(e->error, "bad input");
		CHECK_STR(e->plugin, "fx_behave");
		CHECK_RANGE(e->failed_at_ms, now - 1000, now);
		CHECK_STR(e->payload, "p1");
		CHECK_INT(e->payload_len, 2);
		CHECK_STR(header_of(e, "Trace", 0), "t-1");
		CHECK_STR(header_of(e, "Multi", 0), "one");
		CHECK_STR(header_of(e, "Multi", 1), "two");
		CHECK_STR(header_of(e, "Nats-Msg-Id", 0), "dlq-TASKS-7");
		CHECK_STR(list.entries[1].reason, "attempts_exhausted");
		CHECK_STR(list.entries[1].error, "attempts exhausted after 3");
		CHECK_STR(list.entries[2].orig_subject, "tasks.a.deep");
	}
	dlq_list_free(&list);

	/* Without payloads: the summary fields only. */
	CHECK_INT(dlq_admin_list(admin, &fx.cfg.dlq, NULL, false, &list), 0);
	CHECK_INT(list.count, 3);
	if (list.count == 3) {
		CHECK_TRUE(list.entries[0].payload == NULL);
		CHECK_INT(list.entries[0].header_count, 0);
		CHECK_STR(list.entries[0].reason, "handler_failed");
	}
	dlq_list_free(&list);
}

static size_t
count_matching(const struct dlq_filter *f)
{
	struct dlq_list list = { 0 };
	size_t n = SIZE_MAX;

	if (dlq_admin_list(admin, &fx.cfg.dlq, f, false, &list) == 0)
		n = list.count;
	dlq_list_free(&list);
	return n;
}

TEST(list_filters_by_subject_reason_and_time)
{
	int64_t now = clock_wall_ms(), since = 0;

	fresh_topology();
	put_letter("tasks.a", 1, DLQ_REASON_HANDLER_FAILED, "x", now - 3 * 3600000, "old");
	put_letter("tasks.b", 2, DLQ_REASON_HANDLER_FAILED, "x", now - 60000, "recent");
	put_letter("tasks.a.deep", 3, DLQ_REASON_MAX_DELIVERIES, "x", now, "new");

	CHECK_INT(count_matching(&(struct dlq_filter){ .subject = "tasks.a" }), 1);
	CHECK_INT(count_matching(&(struct dlq_filter){ .subject = "tasks.*" }), 2);
	CHECK_INT(count_matching(&(struct dlq_filter){ .subject = "tasks.a.>" }), 1);
	CHECK_INT(count_matching(&(struct dlq_filter){ .subject = "tasks.>" }), 3);
	CHECK_INT(count_matching(&(struct dlq_filter){ .subject = "other.>" }), 0);
	CHECK_INT(count_matching(&(struct dlq_filter){ .reason = "handler_failed" }), 2);
	CHECK_INT(count_matching(&(struct dlq_filter){ .reason = "max_deliveries" }), 1);
	CHECK_INT(count_matching(&(struct dlq_filter){ .reason = "no_route" }), 0);
	CHECK_INT(dlq_parse_since("1h", now, &since), 0);
	CHECK_INT(count_matching(&(struct dlq_filter){ .since_ms = since }), 2);
	CHECK_INT(
	    count_matching(&(struct dlq_filter){ .since_ms = since, .reason = "handler_failed" }),
	    1);
	CHECK_INT(count_matching(&(struct dlq_filter){ .since_ms = now + 60000 }), 0);
}

/* A DLQ stream shared with another deployment (its own subject prefix):
 * each lists, reads and counts only its own letters. */
TEST(list_and_get_keep_to_the_subject_prefix)
{
	struct cfg_dlq other = fx.cfg.dlq;
	struct js_fixture fx2 = fx;
	struct dlq_entry *e = NULL;
	struct dlq_list list = { 0 };
	struct topo_report r;
	int64_t now = clock_wall_ms();
	uint64_t mine, theirs, part_of = 0;

	fresh_topology();
	other.subject_prefix = (char *)"dlq-other";
	fx2.cfg.dlq = other;
	fx2.cfg.route_count = 0;
	CHECK_INT(topology_ensure(natsconn_js(admin), &fx2.cfg, false, &r), 0);
	topo_report_free(&r);
	mine = put_letter("tasks.a", 1, DLQ_REASON_HANDLER_FAILED, "x", now, "mine");
	fx.cfg.dlq.subject_prefix = (char *)"dlq-other";
	theirs = put_letter("tasks.a", 2, DLQ_REASON_HANDLER_FAILED, "x", now, "theirs");
	fx.cfg.dlq.subject_prefix = (char *)"dlq";
	CHECK_INT(mine, 1);
	CHECK_INT(theirs, 2);
	CHECK_INT(count_matching(NULL), 1);
	CHECK_INT(dlq_admin_list(admin, &other, NULL, false, &list), 0);
	CHECK_INT(list.count, 1);
	if (list.count == 1)
		CHECK_INT(list.entries[0].seq, theirs);
	dlq_list_free(&list);
	/* Stored, but not ours: told apart from a sequence that holds
	 * nothing, and never deleted by us. */
	CHECK_INT(dlq_admin_get(admin, &fx.cfg.dlq, theirs, &e), -ENOMSG);
	CHECK_INT(dlq_admin_part_of(admin, &fx.cfg.dlq, theirs, &part_of), -ENOMSG);
	CHECK_INT(dlq_admin_delete(admin, &fx.cfg.dlq, theirs), -ENOMSG);
	CHECK_INT(dlq_admin_get(admin, &other, theirs, &e), 0);
	if (e != NULL)
		CHECK_STR(e->payload, "theirs");
	dlq_entry_free(e);
}

TEST(list_stops_at_the_limit_resumes_and_skips_deleted)
{
	struct dlq_list list = { 0 };
	int64_t now = clock_wall_ms();

	fresh_topology();
	for (int i = 1; i <= 5; i++)
		put_letter("tasks.t", (uint64_t)i, DLQ_REASON_HANDLER_FAILED, "x", now, "p");
	CHECK_INT(dlq_admin_delete(admin, &fx.cfg.dlq, 2), 0);
	CHECK_INT(dlq_admin_delete(admin, &fx.cfg.dlq, 2), -ENOENT);
	/* A sequence past the end ("stream store EOF") is just as absent. */
	CHECK_INT(dlq_admin_delete(admin, &fx.cfg.dlq, 999999), -ENOENT);

	CHECK_INT(
	    dlq_admin_list(admin, &fx.cfg.dlq, &(struct dlq_filter){ .limit = 2 }, false, &list),
	    0);
	CHECK_INT(list.count, 2);
	CHECK_TRUE(list.truncated);
	CHECK_INT(list.next_seq, 4);
	if (list.count == 2) {
		CHECK_INT(list.entries[0].seq, 1);
		CHECK_INT(list.entries[1].seq, 3);
	}
	dlq_list_free(&list);

	CHECK_INT(dlq_admin_list(admin, &fx.cfg.dlq,
	                         &(struct dlq_filter){ .limit = 2, .from_seq = 4 }, false, &list),
	          0);
	CHECK_INT(list.count, 2);
	CHECK_FALSE(list.truncated);
	CHECK_INT(list.next_seq, 0);
	if (list.count == 2) {
		CHECK_INT(list.entries[0].seq, 4);
		CHECK_INT(list.entries[1].seq, 5);
	}
	dlq_list_free(&list);
}

TEST(get_reads_one_letter_or_reports_none)
{
	struct dlq_entry *e = NULL;
	const char bin[] = "a\0b\x01";

	fresh_topology();
	put_letter("tasks.g", 1, DLQ_REASON_INVALID_PAYLOAD, "not json", clock_wall_ms(), "x");
	CHECK_INT(dlq_admin_get(admin, &fx.cfg.dlq, 1, &e), 0);
	if (e != NULL) {
		CHECK_STR(e->reason, "invalid_payload");
		CHECK_STR(e->payload, "x");
		CHECK_TRUE(e->stored_ns > 0);
	}
	dlq_entry_free(e);
	e = NULL;
	CHECK_INT(dlq_admin_get(admin, &fx.cfg.dlq, 99, &e), -ENOENT);
	CHECK_INT(dlq_admin_get(admin, &fx.cfg.dlq, 0, &e), -ENOENT);
	CHECK_TRUE(e == NULL);

	/* Binary payloads come back byte for byte. */
	CHECK_TRUE(js_Publish(NULL, natsconn_js(admin), "dlq.tasks.bin", bin, 4, NULL, NULL) ==
	           NATS_OK);
	CHECK_INT(dlq_admin_get(admin, &fx.cfg.dlq, 2, &e), 0);
	if (e != NULL) {
		CHECK_INT(e->payload_len, 4);
		CHECK_TRUE(memcmp(e->payload, bin, 4) == 0);
		/* No Taskjet-* headers: the subject still names the original. */
		CHECK_STR(e->orig_subject, "tasks.bin");
		CHECK_TRUE(e->reason == NULL);
	}
	dlq_entry_free(e);

	/* No DLQ stream at all. */
	js_DeleteStream(natsconn_js(admin), fx.cfg.dlq.stream, NULL, NULL);
	e = NULL;
	CHECK_INT(dlq_admin_get(admin, &fx.cfg.dlq, 1, &e), -ENOENT);
	{
		struct dlq_list list = { 0 };

		CHECK_INT(dlq_admin_list(admin, &fx.cfg.dlq, NULL, false, &list), -ENOENT);
	}
}

TEST(replay_republishes_with_original_headers_then_deletes)
{
	struct dlq_replay_result res = { 0 };
	struct dlq_entry *e = NULL;
	char err[256] = "", buf[256], want_id[128];

	fresh_topology();
	put_letter("tasks.r", 41, DLQ_REASON_HANDLER_FAILED, "boom", clock_wall_ms(), "{\"n\":1}");
	CHECK_INT(dlq_admin_get(admin, &fx.cfg.dlq, 1, &e), 0);
	if (e != NULL)
		CHECK_INT(dlq_replay_msg_id(&fx.cfg.dlq, e, want_id, sizeof(want_id)), 0);
	dlq_entry_free(e);

	CHECK_INT(backend_dlq_replay(backend, 1, err, sizeof(err), &res), 0);
	CHECK_STR(err, "");
	CHECK_STR(res.new_stream, "TASKS");
	CHECK_INT(res.new_seq, 1);
	CHECK_FALSE(res.duplicate);
	CHECK_INT(stream_msgs("TASKS"), 1);
	CHECK_INT(stream_msgs(fx.cfg.dlq.stream), 0);
	CHECK_STR(stored_header("TASKS", 1, "Trace", buf, sizeof(buf)), "t-1");
	CHECK_STR(stored_header("TASKS", 1, "Multi", buf, sizeof(buf)), "one");
	CHECK_STR(stored_header("TASKS", 1, "Taskjet-Replayed-From", buf, sizeof(buf)), "1");
	CHECK_STR(stored_header("TASKS", 1, "Taskjet-Reason", buf, sizeof(buf)), "");
	CHECK_STR(stored_header("TASKS", 1, "Taskjet-Original-Subject", buf, sizeof(buf)), "");
	CHECK_STR(stored_header("TASKS", 1, "Nats-Msg-Id", buf, sizeof(buf)), want_id);
	CHECK_CONTAINS(want_id, "replay-DLQ-1-");

	/* Replayed already: run again, it is reported as done (the DLQ held
	 * sequence 1 once), and nothing is published a second time. */
	memset(&res, 0, sizeof(res));
	CHECK_INT(backend_dlq_replay(backend, 1, err, sizeof(err), &res), 0);
	CHECK_TRUE(res.gone);
	CHECK_INT(stream_msgs("TASKS"), 1);
	/* A sequence the DLQ never held is an error. */
	CHECK_INT(backend_dlq_replay(backend, 99, err, sizeof(err), &res), -ENOENT);
	CHECK_CONTAINS(err, "no dead letter 99");
}

TEST(replay_interrupted_before_delete_loses_and_duplicates_nothing)
{
	struct dlq_replay_result first = { 0 }, again = { 0 };
	struct dlq_entry *e = NULL;
	char err[256] = "";

	fresh_topology();
	put_letter("tasks.c", 5, DLQ_REASON_CRASHED, "killed", clock_wall_ms(), "work");
	put_letter("tasks.c", 6, DLQ_REASON_CRASHED, "killed", clock_wall_ms(), "other");

	/* The crash: the publish was acknowledged, the delete never ran. */
	CHECK_INT(dlq_admin_get(admin, &fx.cfg.dlq, 1, &e), 0);
	if (e != NULL)
		CHECK_INT(backend_dlq_replay_publish(backend, e, err, sizeof(err), &first), 0);
	dlq_entry_free(e);
	CHECK_FALSE(first.duplicate);
	CHECK_INT(stream_msgs("TASKS"), 1);
	CHECK_INT(stream_msgs(fx.cfg.dlq.stream), 2);

	/* Run again: the server knows the publish, the letter goes. */
	CHECK_INT(backend_dlq_replay(backend, 1, err, sizeof(err), &again), 0);
	CHECK_TRUE(again.duplicate);
	CHECK_INT(again.new_seq, first.new_seq);
	CHECK_INT(stream_msgs("TASKS"), 1);
	CHECK_INT(stream_msgs(fx.cfg.dlq.stream), 1);

	/* The other letter is untouched and replays on its own. */
	CHECK_INT(backend_dlq_replay(backend, 2, err, sizeof(err), &again), 0);
	CHECK_FALSE(again.duplicate);
	CHECK_INT(stream_msgs("TASKS"), 2);
	CHECK_INT(stream_msgs(fx.cfg.dlq.stream), 0);
}

TEST(replay_to_a_subject_no_route_consumes_keeps_the_letter)
{
	struct dlq_replay_result res = { 0 };
	char err[256] = "";

	fresh_topology();
	put_letter("orphans.x", 1, DLQ_REASON_NO_ROUTE, "no route", clock_wall_ms(), "p");
	CHECK_INT(backend_dlq_replay(backend, 1, err, sizeof(err), &res), -EPERM);
	CHECK_CONTAINS(err, "no configured route consumes subject \"orphans.x\"");
	CHECK_INT(stream_msgs(fx.cfg.dlq.stream), 1);
}

/* A letter planted on dlq.tasks.f whose original subject is the
 * JetStream API's purge of TASKS (in either spelling of the header). */
static void
plant_aimed_letter(const char *header)
{
	natsMsg *m = NULL;
	jsPubAck *ack = NULL;

	CHECK_INT(natsMsg_Create(&m, "dlq.tasks.f", NULL, "{}", 2), NATS_OK);
	CHECK_INT(natsMsgHeader_Set(m, header, "$JS.API.STREAM.PURGE.TASKS"), NATS_OK);
	CHECK_INT(natsMsgHeader_Set(m, "Taskjet-Reason", "crashed"), NATS_OK);
	CHECK_INT(js_PublishMsg(&ack, natsconn_js(admin), m, NULL, NULL), NATS_OK);
	jsPubAck_Destroy(ack);
	natsMsg_Destroy(m);
}

TEST(replay_cannot_be_aimed_at_the_jetstream_api)
{
	struct dlq_replay_result res = { 0 };
	jsPubAck *ack = NULL;
	char err[300] = "";

	fresh_topology();
	for (int i = 0; i < 3; i++) {
		CHECK_INT(js_Publish(&ack, natsconn_js(admin), "tasks.keep", "k", 1, NULL, NULL),
		          NATS_OK);
		jsPubAck_Destroy(ack);
		ack = NULL;
	}
	plant_aimed_letter("Taskjet-Original-Subject");
	plant_aimed_letter("taskjet-original-subject");
	CHECK_INT(backend_dlq_replay(backend, 1, err, sizeof(err), &res), -EPERM);
	CHECK_CONTAINS(err, "dead letter 1 is not replayed: no configured route consumes subject "
	                    "\"$JS.API.STREAM.PURGE.TASKS\"");
	CHECK_INT(backend_dlq_replay(backend, 2, err, sizeof(err), &res), -EPERM);
	/* TASKS untouched, both letters kept. */
	CHECK_INT(stream_msgs("TASKS"), 3);
	CHECK_INT(stream_msgs(fx.cfg.dlq.stream), 2);
}

TEST(purge_subject_removes_matching_letters_below_the_bound)
{
	int64_t now = clock_wall_ms();

	fresh_topology();
	put_letter("tasks.a", 1, DLQ_REASON_HANDLER_FAILED, "x", now, "p");
	put_letter("tasks.b", 2, DLQ_REASON_HANDLER_FAILED, "x", now, "p");
	put_letter("tasks.a", 3, DLQ_REASON_HANDLER_FAILED, "x", now, "p");
	put_letter("tasks.a", 4, DLQ_REASON_HANDLER_FAILED, "x", now, "p");
	/* Letters 1 and 3 go; 4 arrived "after the scan", 2 does not match. */
	CHECK_INT(dlq_admin_purge_subject(admin, &fx.cfg.dlq, "tasks.a", 4), 0);
	CHECK_INT(stream_msgs(fx.cfg.dlq.stream), 2);
	CHECK_INT(count_matching(&(struct dlq_filter){ .subject = "tasks.a" }), 1);
	CHECK_INT(count_matching(&(struct dlq_filter){ .subject = "tasks.b" }), 1);
	CHECK_INT(dlq_admin_purge_subject(admin, &fx.cfg.dlq, NULL, 0), 0);
	CHECK_INT(stream_msgs(fx.cfg.dlq.stream), 0);
}

TEST(stats_report_streams_consumers_dlq_and_rates)
{
	struct stats_snapshot *a = NULL, *b = NULL;
	struct stats_rates rates = { 0 };
	struct backend *base = backend;
	int64_t now = clock_wall_ms();

	fresh_topology();
	for (int i = 0; i < 3; i++)
		CHECK_INT(base->ops->publish(
		              base,
		              &(struct publish_msg){ .subject = "tasks.s", .data = "x", .len = 1 },
		              NULL),
		          0);
	put_letter("tasks.s", 1, DLQ_REASON_HANDLER_FAILED, "x", now, "p");
	put_letter("tasks.s", 2, DLQ_REASON_HANDLER_FAILED, "x", now, "p");
	put_letter("tasks.s", 3, DLQ_REASON_CRASHED, "x", now, "p");
	CHECK_INT(stats_query(admin, &fx.cfg, &(struct snapshot_opts){ .by_reason = true }, &a), 0);
	if (a == NULL)
		return;
	CHECK_INT(a->stream_count, 1);
	CHECK_TRUE(a->streams[0].found);
	CHECK_STR(a->streams[0].name, "TASKS");
	CHECK_INT(a->streams[0].msgs, 3);
	CHECK_INT(a->streams[0].last_seq, 3);
	CHECK_INT(a->consumer_count, 1);
	CHECK_TRUE(a->consumers[0].found);
	CHECK_STR(a->consumers[0].consumer, "taskjet-work");
	CHECK_INT(a->consumers[0].num_pending, 3);
	CHECK_INT(a->consumers[0].num_ack_pending, 0);
	CHECK_TRUE(a->dlq.found);
	CHECK_INT(a->dlq.msgs, 3);
	CHECK_INT(a->reason_count, 2);
	if (a->reason_count == 2) {
		CHECK_STR(a->reasons[0].reason, "handler_failed");
		CHECK_INT(a->reasons[0].count, 2);
		CHECK_STR(a->reasons[1].reason, "crashed");
		CHECK_INT(a->reasons[1].count, 1);
	}

	clock_sleep_ms(100);
	for (int i = 0; i < 4; i++)
		CHECK_INT(base->ops->publish(
		              base,
		              &(struct publish_msg){ .subject = "tasks.s", .data = "x", .len = 1 },
		              NULL),
		          0);
	CHECK_INT(stats_query(admin, &fx.cfg, NULL, &b), 0);
	if (b != NULL) {
		CHECK_INT(b->reason_count, 0);
		stats_rates_compute(a, b, &rates);
		CHECK_TRUE(rates.seconds >= 0.1);
		CHECK_RANGE(rates.stream_in[0] * rates.seconds, 3.99, 4.01);
		CHECK_INT(rates.stream_out[0], 0);
		CHECK_INT(rates.dlq_in, 0);
		stats_rates_free(&rates);
	}

	/* A missing consumer is reported, not an error. */
	js_DeleteConsumer(natsconn_js(admin), "TASKS", "taskjet-work", NULL, NULL);
	stats_snapshot_free(b);
	b = NULL;
	CHECK_INT(stats_query(admin, &fx.cfg, NULL, &b), 0);
	if (b != NULL)
		CHECK_FALSE(b->consumers[0].found);
	stats_snapshot_free(a);
	stats_snapshot_free(b);
}

int
main(void)
{
	bool must_fail;
	int rc;

	if (!nats_server_available("dlq_admin", &must_fail))
		return must_fail ? 1 : 0;
	log_setup(TJ_LOG_ERR, LOG_FORMAT_TEXT, NULL);
	RUN(parse_since_takes_rfc3339_and_durations);
	rc = nats_server_start(&server);
	if (rc == 0) {
		js_fixture_init(&fx, server.url);
		rc = natsconn_open(&fx.cfg.nats, NULL, NULL, &admin);
	}
	if (rc == 0)
		rc = js_backend_open(&fx.cfg, NULL, &backend);
	if (rc != 0) {
		printf("Bail out! cannot start/connect nats-server: %d\n", rc);
		natsconn_close(admin, 1000);
		nats_server_cleanup(&server);
		return 1;
	}
	RUN(list_reads_every_letter_with_its_headers);
	RUN(list_filters_by_subject_reason_and_time);
	RUN(list_and_get_keep_to_the_subject_prefix);
	RUN(list_stops_at_the_limit_resumes_and_skips_deleted);
	RUN(get_reads_one_letter_or_reports_none);
	RUN(replay_republishes_with_original_headers_then_deletes);
	RUN(replay_interrupted_before_delete_loses_and_duplicates_nothing);
	RUN(replay_to_a_subject_no_route_consumes_keeps_the_letter);
	RUN(replay_cannot_be_aimed_at_the_jetstream_api);
	RUN(purge_subject_removes_matching_letters_below_the_bound);
	RUN(stats_report_streams_consumers_dlq_and_rates);
	backend_destroy(backend);
	natsconn_close(admin, 1000);
	nats_server_cleanup(&server);
	natsconn_library_shutdown(5000);
	return testing_done();
}
