/* SPDX-License-Identifier: MIT */
/* Stream, consumer and DLQ figures for `taskjet stats`, from the server. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "util/clock.h"
#include "nats/dlq_admin.h"
#include "nats/natsconn.h"
#include "nats/stats_query.h"
#include "nats/topology.h"
#include "util/xalloc.h"

/* Server error codes (nats-server 2.9 err_code) meaning "not there". */
#define JS_ERR_CONSUMER_NOT_FOUND 10014
#define JS_ERR_STREAM_NOT_FOUND 10059

static int
query_stream(jsCtx *js, const char *name, struct stats_stream *out)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	out->name = name;
	s = js_GetStreamInfo(&si, js, name, NULL, &jerr);
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

static int
query_consumer(jsCtx *js, const struct cfg_route *route, struct stats_consumer *out)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	out->route = route->name;
	out->stream = route->stream;
	topology_consumer_name(route, out->consumer, sizeof(out->consumer));
	s = js_GetConsumerInfo(&ci, js, route->stream, out->consumer, NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JS_ERR_CONSUMER_NOT_FOUND ||
	    jerr == JS_ERR_STREAM_NOT_FOUND)
		return 0;
	if (s != NATS_OK)
		return natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
	out->found = true;
	out->num_pending = ci->NumPending;
	out->num_ack_pending = (uint64_t)ci->NumAckPending;
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
cmp_reason(const void *a, const void *b)
{
	const struct stats_reason *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->reason, y->reason);
}

static int
count_reasons(struct natsconn *nc, const struct cfg *cfg, uint64_t max_scan,
              struct stats_snapshot *snap)
{
	struct dlq_filter f = { .unlimited = max_scan == 0, .limit = (size_t)max_scan };
	struct dlq_list list = { 0 };
	size_t cap = 0;
	int rc;

	rc = dlq_admin_list(nc, &cfg->dlq, &f, false, &list);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < list.count; i++) {
		const char *r = list.entries[i].reason != NULL ? list.entries[i].reason : "-";
		size_t j;

		for (j = 0; j < snap->reason_count; j++)
			if (strcmp(snap->reasons[j].reason, r) == 0)
				break;
		if (j == snap->reason_count) {
			if (j == cap) {
				cap = cap > 0 ? cap * 2 : 8;
				snap->reasons =
				    xrealloc(snap->reasons, cap, sizeof(*snap->reasons));
			}
			snap->reasons[j] = (struct stats_reason){ .reason = xstrdup(r) };
			snap->reason_count++;
		}
		snap->reasons[j].count++;
	}
	snap->reasons_truncated = list.truncated;
	if (snap->reason_count > 1)
		qsort(snap->reasons, snap->reason_count, sizeof(*snap->reasons), cmp_reason);
	dlq_list_free(&list);
	return 0;
}

int
stats_query(struct natsconn *nc, const struct cfg *cfg, bool by_reason, uint64_t max_scan,
            struct stats_snapshot **snap_r)
{
	struct stats_snapshot *snap = xcalloc(1, sizeof(*snap));
	jsCtx *js = natsconn_js(nc);
	int rc = 0;

	snap->mono_ms = clock_mono_ms();
	snap->wall_ms = clock_wall_ms();
	snap->streams = xcalloc(cfg->stream_count + 1, sizeof(*snap->streams));
	snap->stream_count = cfg->stream_count;
	snap->consumers = xcalloc(cfg->route_count + 1, sizeof(*snap->consumers));
	snap->consumer_count = cfg->route_count;
	for (size_t i = 0; rc == 0 && i < cfg->stream_count; i++)
		rc = query_stream(js, cfg->streams[i].name, &snap->streams[i]);
	for (size_t i = 0; rc == 0 && i < cfg->route_count; i++)
		rc = query_consumer(js, &cfg->routes[i], &snap->consumers[i]);
	if (rc == 0)
		rc = query_stream(
		    js, cfg->dlq.stream != NULL ? cfg->dlq.stream : CFG_DEFAULT_DLQ_STREAM,
		    &snap->dlq);
	if (rc == 0 && by_reason && snap->dlq.found && snap->dlq.msgs > 0)
		rc = count_reasons(nc, cfg, max_scan, snap);
	if (rc < 0)
		goto out;
	*snap_r = snap;
	snap = NULL;
out:
	stats_snapshot_free(snap);
	return rc;
}

void
stats_snapshot_free(struct stats_snapshot *snap)
{
	if (snap == NULL)
		return;
	for (size_t i = 0; i < snap->reason_count; i++)
		free(snap->reasons[i].reason);
	free(snap->reasons);
	free(snap->streams);
	free(snap->consumers);
	free(snap);
}

/* Per-second increase of a counter; one that went back counts as 0. */
static double
rate(uint64_t before, uint64_t after, double seconds)
{
	return after > before && seconds > 0 ? (double)(after - before) / seconds : 0;
}

void
stats_rates_compute(const struct stats_snapshot *before, const struct stats_snapshot *after,
                    struct stats_rates *rates_r)
{
	struct stats_rates r = { 0 };
	size_t ns = after->stream_count, nc = after->consumer_count;

	r.seconds = (double)(after->mono_ms - before->mono_ms) / 1000.0;
	r.stream_in = xcalloc(ns + 1, sizeof(double));
	r.stream_out = xcalloc(ns + 1, sizeof(double));
	r.consumer_delivered = xcalloc(nc + 1, sizeof(double));
	r.consumer_acked = xcalloc(nc + 1, sizeof(double));
	for (size_t i = 0; i < ns && i < before->stream_count; i++) {
		const struct stats_stream *a = &before->streams[i], *b = &after->streams[i];

		r.stream_in[i] = rate(a->last_seq, b->last_seq, r.seconds);
		/* Messages that left: everything ever stored minus what is still
		 * there (acked work, expired or deleted messages). */
		r.stream_out[i] = rate(a->last_seq - a->msgs, b->last_seq - b->msgs, r.seconds);
	}
	for (size_t i = 0; i < nc && i < before->consumer_count; i++) {
		const struct stats_consumer *a = &before->consumers[i], *b = &after->consumers[i];

		r.consumer_delivered[i] =
		    rate(a->delivered_consumer_seq, b->delivered_consumer_seq, r.seconds);
		r.consumer_acked[i] =
		    rate(a->ack_floor_stream_seq, b->ack_floor_stream_seq, r.seconds);
	}
	r.dlq_in = rate(before->dlq.last_seq, after->dlq.last_seq, r.seconds);
	*rates_r = r;
}

void
stats_rates_free(struct stats_rates *rates)
{
	if (rates == NULL)
		return;
	free(rates->stream_in);
	free(rates->stream_out);
	free(rates->consumer_delivered);
	free(rates->consumer_acked);
	memset(rates, 0, sizeof(*rates));
}
