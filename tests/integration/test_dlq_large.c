/* SPDX-License-Identifier: MIT */
/*
 * Dead letters too large for one message, on a server whose max_payload is
 * 64 KiB: a task the server accepted (payload and headers just under the
 * limit) is dead-lettered through the backend as parts plus a manifest;
 * get, list, stats and replay read it back whole; a rewrite (same letter
 * id, as after a crash) leaves no stray parts; delete removes the parts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "js_fixture.h"
#include "nats/delivery.h"
#include "nats/dlq_admin.h"
#include "nats/dlq_store.h"
#include "nats/jetstream.h"
#include "nats/natsconn.h"
#include "nats/stats_query.h"
#include "nats_server.h"
#include "task/dlq.h"
#include "testing.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_PAYLOAD 65536
/* The original: this payload and its headers fit the server's limit; the
 * letter, with its Taskjet-* headers added, does not. */
#define PAYLOAD_LEN (MAX_PAYLOAD - 600)

static struct nats_server server;
static struct natsconn *admin;
static struct js_fixture fx;
static struct backend *backend;
static char *payload;

static uint64_t
stream_msgs(const char *stream, const char *filter)
{
	jsStreamInfo *si = NULL;
	jsOptions o;
	uint64_t n = UINT64_MAX;

	jsOptions_Init(&o);
	o.Stream.Info.SubjectsFilter = filter;
	if (js_GetStreamInfo(&si, natsconn_js(admin), stream, filter != NULL ? &o : NULL, NULL) ==
	    NATS_OK) {
		n = 0;
		if (filter == NULL)
			n = si->State.Msgs;
		for (int i = 0;
		     filter != NULL && si->State.Subjects != NULL && i < si->State.Subjects->Count;
		     i++)
			n += si->State.Subjects->List[i].Msgs;
	}
	jsStreamInfo_Destroy(si);
	return n;
}

static uint64_t
stream_last_seq(const char *stream)
{
	jsStreamInfo *si = NULL;
	uint64_t last = 0;

	if (js_GetStreamInfo(&si, natsconn_js(admin), stream, NULL, NULL) == NATS_OK)
		last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return last;
}

static const char *
header_of(const struct dlq_entry *e, const char *key)
{
	for (size_t i = 0; i < e->header_count; i++)
		if (strcmp(e->headers[i].key, key) == 0)
			return e->headers[i].value;
	return NULL;
}

/* Publish the original task to TASKS (it must fit) and dead-letter the
 * stored copy through the backend, as the advisory reader does. The
 * letter's DLQ sequence (its manifest), 0 on failure. */
static uint64_t
dead_letter_big(const char *id, uint64_t *task_seq_r)
{
	struct js_delivery d = { 0 };
	struct dlq_letter letter;
	struct tj_task task;
	jsPubAck *ack = NULL;
	natsMsg *m = NULL;
	natsStatus s;
	int rc;

	s = natsMsg_Create(&m, "tasks.big", NULL, payload, PAYLOAD_LEN);
	if (s == NATS_OK)
		s = natsMsgHeader_Add(m, "Trace", "t-big");
	if (s == NATS_OK)
		s = natsMsgHeader_Add(m, "Nats-Msg-Id", id);
	if (s == NATS_OK)
		s = js_PublishMsg(&ack, natsconn_js(admin), m, NULL, NULL);
	natsMsg_Destroy(m);
	m = NULL;
	CHECK_INT(s, NATS_OK);
	if (s != NATS_OK)
		return 0;
	*task_seq_r = ack->Sequence;
	jsPubAck_Destroy(ack);
	CHECK_INT(js_GetMsg(&d.msg, natsconn_js(admin), "TASKS", *task_seq_r, NULL, NULL), NATS_OK);
	if (d.msg == NULL)
		return 0;
	memset(&task, 0, sizeof(task));
	task.subject = "tasks.big";
	task.stream = "TASKS";
	task.stream_seq = *task_seq_r;
	task.attempt = 1;
	task.payload = natsMsg_GetData(d.msg);
	task.payload_len = (size_t)natsMsg_GetDataLength(d.msg);
	task.backend_msg = &d;
	task.backend = backend;
	task_set_id(&task, id);
	rc = dlq_letter_build(&fx.cfg.dlq, &task, id, "fx_behave", DLQ_REASON_HANDLER_FAILED,
	                      "too big to fail", clock_wall_ms(), &letter);
	if (rc == 0)
		rc = backend->ops->dead_letter(backend, &task, &letter.rec);
	dlq_letter_release(&letter);
	CHECK_INT(rc, 0);
	task_release(&task);
	js_delivery_release(&d);
	natsMsg_Destroy(d.msg);
	return rc == 0 ? stream_last_seq("DLQ") : 0;
}

TEST(a_letter_over_max_payload_is_stored_in_parts_and_read_back_whole)
{
	struct dlq_list list = { 0 };
	struct dlq_entry *e = NULL;
	struct stats_snapshot *snap = NULL;
	uint64_t task_seq = 0, seq, parts;
	char filter[300];

	seq = dead_letter_big("big-1", &task_seq);
	CHECK_TRUE(seq > 0);
	dlq_store_parts_filter(&fx.cfg.dlq, filter, sizeof(filter));
	parts = stream_msgs("DLQ", filter);
	CHECK_INT(parts, 2); /* 64 KiB of data, less than 64 KiB a part */
	CHECK_INT(stream_msgs("DLQ", "dlq.>"), 1);

	CHECK_INT(dlq_admin_get(admin, &fx.cfg.dlq, seq, &e), 0);
	if (e != NULL) {
		CHECK_INT(e->payload_len, PAYLOAD_LEN);
		CHECK_TRUE(e->payload != NULL && memcmp(e->payload, payload, PAYLOAD_LEN) == 0);
		CHECK_INT(e->stored_parts, 2);
		CHECK_STR(e->orig_subject, "tasks.big");
		CHECK_STR(e->reason, "handler_failed");
		CHECK_STR(e->error, "too big to fail");
		CHECK_INT(e->orig_seq, task_seq);
		CHECK_STR(header_of(e, "Trace"), "t-big");
		/* The bookkeeping stays out of sight. */
		CHECK_TRUE(header_of(e, DLQ_PARTS_HEADER) == NULL);
		CHECK_TRUE(header_of(e, DLQ_PARTS_KEY_HEADER) == NULL);
	}
	dlq_entry_free(e);

	/* Listed once, parts not at all; counted once. */
	CHECK_INT(dlq_admin_list(admin, &fx.cfg.dlq, NULL, false, &list), 0);
	CHECK_INT(list.count, 1);
	if (list.count == 1) {
		CHECK_INT(list.entries[0].seq, seq);
		CHECK_INT(list.entries[0].stored_parts, 2);
	}
	dlq_list_free(&list);
	CHECK_INT(stats_query(admin, &fx.cfg, NULL, &snap), 0);
	if (snap != NULL)
		CHECK_INT(snap->dlq.msgs, 1);
	stats_snapshot_free(snap);
}

TEST(a_rewrite_of_the_same_letter_leaves_no_stray_parts)
{
	struct js_delivery d = { 0 };
	struct dlq_letter letter;
	struct tj_task task;
	char filter[300];
	uint64_t before = stream_last_seq("DLQ"), task_seq = stream_last_seq("TASKS");

	/* The same task again, as after a crash between letter and term: the
	 * letter id dedupes, and the new parts are removed again. */
	CHECK_INT(js_GetMsg(&d.msg, natsconn_js(admin), "TASKS", task_seq, NULL, NULL), NATS_OK);
	if (d.msg == NULL)
		return;
	memset(&task, 0, sizeof(task));
	task.subject = "tasks.big";
	task.stream = "TASKS";
	task.stream_seq = task_seq;
	task.attempt = 1;
	task.payload = natsMsg_GetData(d.msg);
	task.payload_len = (size_t)natsMsg_GetDataLength(d.msg);
	task.backend_msg = &d;
	CHECK_INT(dlq_letter_build(&fx.cfg.dlq, &task, NULL, "fx_behave", DLQ_REASON_HANDLER_FAILED,
	                           "again", clock_wall_ms(), &letter),
	          0);
	CHECK_INT(backend->ops->dead_letter(backend, &task, &letter.rec), 0);
	dlq_letter_release(&letter);
	js_delivery_release(&d);
	natsMsg_Destroy(d.msg);
	dlq_store_parts_filter(&fx.cfg.dlq, filter, sizeof(filter));
	CHECK_INT(stream_msgs("DLQ", filter), 2);
	CHECK_INT(stream_msgs("DLQ", "dlq.>"), 1);
	CHECK_TRUE(stream_last_seq("DLQ") > before);
}

TEST(replay_publishes_the_whole_task_and_deletes_the_parts)
{
	struct dlq_replay_result res;
	struct dlq_list list = { 0 };
	natsMsg *m = NULL;
	char err[256] = "", filter[300];
	uint64_t seq = 0;

	CHECK_INT(dlq_admin_list(admin, &fx.cfg.dlq, NULL, false, &list), 0);
	if (list.count == 1)
		seq = list.entries[0].seq;
	dlq_list_free(&list);
	CHECK_TRUE(seq > 0);
	CHECK_INT(backend_dlq_replay(backend, seq, err, sizeof(err), &res), 0);
	if (err[0] != '\0')
		printf("# %s\n", err);
	CHECK_STR(res.new_stream, "TASKS");
	CHECK_INT(js_GetMsg(&m, natsconn_js(admin), "TASKS", res.new_seq, NULL, NULL), NATS_OK);
	if (m != NULL) {
		const char *v = NULL;

		CHECK_INT(natsMsg_GetDataLength(m), PAYLOAD_LEN);
		CHECK_TRUE(memcmp(natsMsg_GetData(m), payload, PAYLOAD_LEN) == 0);
		CHECK_INT(natsMsgHeader_Get(m, "Trace", &v), NATS_OK);
		CHECK_STR(v, "t-big");
	}
	natsMsg_Destroy(m);
	/* The letter and its parts are gone. */
	dlq_store_parts_filter(&fx.cfg.dlq, filter, sizeof(filter));
	CHECK_INT(stream_msgs("DLQ", filter), 0);
	CHECK_INT(stream_msgs("DLQ", "dlq.>"), 0);
}

TEST(delete_removes_the_parts_and_a_missing_part_is_reported)
{
	struct dlq_entry *e = NULL;
	char filter[300];
	uint64_t task_seq = 0, seq, part;

	seq = dead_letter_big("big-2", &task_seq);
	CHECK_TRUE(seq > 0);
	/* Remove the first part by hand: the letter can no longer be read
	 * whole, and says so rather than handing out half a payload. */
	part = seq - 2;
	CHECK_INT(js_DeleteMsg(natsconn_js(admin), "DLQ", part, NULL, NULL), NATS_OK);
	CHECK_INT(dlq_admin_get(admin, &fx.cfg.dlq, seq, &e), -ENODATA);
	CHECK_TRUE(e == NULL);
	CHECK_INT(backend_dlq_delete(backend, seq), 0);
	dlq_store_parts_filter(&fx.cfg.dlq, filter, sizeof(filter));
	CHECK_INT(stream_msgs("DLQ", filter), 0);
	CHECK_INT(stream_msgs("DLQ", "dlq.>"), 0);
}

int
main(void)
{
	bool must_fail;
	int rc;

	if (!nats_server_available("dlq_large", &must_fail))
		return must_fail ? 1 : 0;
	log_setup(TJ_LOG_ERR, LOG_FORMAT_TEXT, NULL);
	payload = malloc(PAYLOAD_LEN);
	if (payload == NULL)
		return 1;
	for (size_t i = 0; i < PAYLOAD_LEN; i++)
		payload[i] = (char)('a' + i % 26);
	rc = nats_server_start_max_payload(&server, MAX_PAYLOAD);
	if (rc == 0) {
		js_fixture_init(&fx, server.url);
		rc = natsconn_open(&fx.cfg.nats, NULL, NULL, &admin);
	}
	if (rc == 0)
		rc = js_backend_open(&fx.cfg, NULL, &backend);
	if (rc == 0)
		rc = backend_ensure_topology(backend, false, NULL, NULL);
	if (rc != 0) {
		printf("Bail out! cannot start/connect nats-server: %d\n", rc);
		backend_destroy(backend);
		natsconn_close(admin, 1000);
		nats_server_cleanup(&server);
		return 1;
	}
	RUN(a_letter_over_max_payload_is_stored_in_parts_and_read_back_whole);
	RUN(a_rewrite_of_the_same_letter_leaves_no_stray_parts);
	RUN(replay_publishes_the_whole_task_and_deletes_the_parts);
	RUN(delete_removes_the_parts_and_a_missing_part_is_reported);
	backend_destroy(backend);
	natsconn_close(admin, 1000);
	nats_server_cleanup(&server);
	natsconn_library_shutdown(5000);
	free(payload);
	return testing_done();
}
