/* SPDX-License-Identifier: MIT */
/* Stream, consumer and DLQ figures from the server (the jetstream snapshot). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "util/clock.h"
#include "nats/dlq_admin.h"
#include "nats/dlq_store.h"
#include "nats/natsconn.h"
#include "nats/stats_query.h"
#include "nats/topology.h"
#include "util/xalloc.h"

/* Server error codes (nats-server 2.9 err_code) meaning "not there". */
#define JS_ERR_CONSUMER_NOT_FOUND 10014
#define JS_ERR_STREAM_NOT_FOUND 10059

static int
query_stream(jsCtx *js, jsOptions *jo, const char *name, struct stats_stream *out)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	out->name = name;
	s = js_GetStreamInfo(&si, js, name, jo, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JS_ERR_STREAM_NOT_FOUND)
		return 0;
	if (s != NATS_OK)
		return natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
	out->found = true;
	out->msgs = si->State.Msgs;
	out->bytes = si->State.Bytes;
	out->first_seq = si->State.FirstSeq;
	out->last_seq = si->State.LastSeq;
	out->consumers = (uint64_t)si->State.Consumers;
	out->deleted = si->State.NumDeleted;
	jsStreamInfo_Destroy(si);
	return 0;
}

/*
 * The DLQ's figures, counting only this config's letters: a shared stream
 * also holds other deployments' letters, and a letter too large for one
 * message holds parts besides (nats/dlq_store.h). The bytes are the
 * stream's (per-subject sizes are not reported).
 */
static int
query_dlq(jsCtx *js, const jsOptions *wait, const struct cfg_dlq *dlq, struct stats_stream *out)
{
	jsOptions jo = *wait;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	char filter[300];
	natsStatus s;
	int rc;

	rc = query_stream(js, &jo, cfg_dlq_stream(dlq), out);
	if (rc != 0 || !out->found)
		return rc;
	snprintf(filter, sizeof(filter), "%s.>", cfg_dlq_prefix(dlq));
	jo.Stream.Info.SubjectsFilter = filter;
	s = js_GetStreamInfo(&si, js, cfg_dlq_stream(dlq), &jo, &jerr);
	if (s != NATS_OK)
		return natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
	out->msgs = 0;
	for (int i = 0; si->State.Subjects != NULL && i < si->State.Subjects->Count; i++)
		out->msgs += si->State.Subjects->List[i].Msgs;
	jsStreamInfo_Destroy(si);
	return 0;
}

static int
query_consumer(jsCtx *js, jsOptions *jo, const struct cfg_route *route, struct stats_consumer *out)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	out->route = route->name;
	out->stream = route->stream;
	topology_consumer_name(route, out->consumer, sizeof(out->consumer));
	s = js_GetConsumerInfo(&ci, js, route->stream, out->consumer, jo, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JS_ERR_CONSUMER_NOT_FOUND ||
	    jerr == JS_ERR_STREAM_NOT_FOUND)
		return 0;
	if (s != NATS_OK)
		return natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
	out->found = true;
	out->num_pending = ci->NumPending;
	out->num_ack_pending = (uint64_t)ci->NumAckPending;
	if (ci->Config != NULL && ci->Config->MaxAckPending > 0)
		out->max_ack_pending = (uint64_t)ci->Config->MaxAckPending;
	out->num_redelivered = (uint64_t)ci->NumRedelivered;
	out->num_waiting = (uint64_t)ci->NumWaiting;
	out->delivered_consumer_seq = ci->Delivered.Consumer;
	out->delivered_stream_seq = ci->Delivered.Stream;
	out->ack_floor_consumer_seq = ci->AckFloor.Consumer;
	out->ack_floor_stream_seq = ci->AckFloor.Stream;
	jsConsumerInfo_Destroy(ci);
	return 0;
}

static int
count_reasons(struct natsconn *nc, const struct cfg *cfg, uint64_t max_scan,
              struct stats_snapshot *snap)
{
	struct dlq_filter f = { .unlimited = max_scan == 0, .limit = (size_t)max_scan };
	struct dlq_list list = { 0 };
	int rc;

	rc = dlq_admin_list(nc, &cfg->dlq, &f, false, &list);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < list.count; i++)
		stats_count_reason(snap, list.entries[i].reason);
	snap->reasons_truncated = list.truncated;
	stats_sort_reasons(snap);
	dlq_list_free(&list);
	return 0;
}

/* Bound each server question, so a probe never hangs on a slow server. */
static void
wait_option(jsOptions *jo, const struct snapshot_opts *o)
{
	jsOptions_Init(jo);
	if (o != NULL && o->timeout_ms > 0)
		jo->Wait = o->timeout_ms;
}

int
stats_query(struct natsconn *nc, const struct cfg *cfg, const struct snapshot_opts *o,
            struct stats_snapshot **snap_r)
{
	struct stats_snapshot *snap = stats_snapshot_new(cfg, "jetstream");
	jsCtx *js = natsconn_js(nc);
	jsOptions jo;
	int rc = 0;

	wait_option(&jo, o);
	snap->has_connection = true;
	snap->connected = natsconn_connected(nc);
	snap->reconnects = natsconn_reconnects(nc);
	snap->fetches_batches = true;
	/* Not connected right now (a daemon between reconnects): what is
	 * known is the connection state; the rest stays "not found". */
	if (!snap->connected)
		goto done;
	for (size_t i = 0; rc == 0 && i < cfg->stream_count; i++)
		rc = query_stream(js, &jo, cfg->streams[i].name, &snap->streams[i]);
	for (size_t i = 0; rc == 0 && i < cfg->route_count; i++)
		rc = query_consumer(js, &jo, &cfg->routes[i], &snap->consumers[i]);
	if (rc == 0)
		rc = query_dlq(js, &jo, &cfg->dlq, &snap->dlq);
	if (rc == 0 && o != NULL && o->by_reason && snap->dlq.found && snap->dlq.msgs > 0)
		rc = count_reasons(nc, cfg, o->max_scan, snap);
	if (rc < 0)
		goto out;
	/* What the work streams ever stored, what the route consumers
	 * delivered (all workers, all hosts) and what they still hold. */
	snap->queue_known = true;
	for (size_t i = 0; i < snap->stream_count; i++) {
		snap->queue_known &= snap->streams[i].found;
		snap->total_enqueued += snap->streams[i].last_seq;
	}
	for (size_t i = 0; i < snap->consumer_count; i++) {
		const struct stats_consumer *c = &snap->consumers[i];

		snap->queue_known &= c->found;
		snap->total_dequeued += c->delivered_consumer_seq;
		snap->current_size += c->num_pending + c->num_ack_pending;
	}
done:
	*snap_r = snap;
	snap = NULL;
out:
	stats_snapshot_free(snap);
	return rc;
}
