/* SPDX-License-Identifier: MIT */
/* Store snapshots: allocation, per-reason counts, rates. */
#include <stdlib.h>
#include <string.h>

#include "task/stats.h"
#include "util/clock.h"
#include "util/xalloc.h"

struct stats_snapshot *
stats_snapshot_new(const struct cfg *cfg, const char *backend)
{
	struct stats_snapshot *snap = xcalloc(1, sizeof(*snap));

	snap->backend = backend;
	snap->mono_ms = clock_mono_ms();
	snap->wall_ms = clock_wall_ms();
	snap->streams = xcalloc(cfg->stream_count + 1, sizeof(*snap->streams));
	snap->stream_count = cfg->stream_count;
	for (size_t i = 0; i < cfg->stream_count; i++)
		snap->streams[i].name = cfg->streams[i].name;
	snap->consumers = xcalloc(cfg->route_count + 1, sizeof(*snap->consumers));
	snap->consumer_count = cfg->route_count;
	for (size_t i = 0; i < cfg->route_count; i++) {
		snap->consumers[i].route = cfg->routes[i].name;
		snap->consumers[i].subject = cfg->routes[i].subject;
		snap->consumers[i].stream = cfg->routes[i].stream;
	}
	snap->dlq.name = cfg->dlq.stream;
	return snap;
}

void
stats_count_reason(struct stats_snapshot *snap, const char *reason)
{
	const char *r = reason != NULL ? reason : "-";
	size_t j;

	for (j = 0; j < snap->reason_count; j++)
		if (strcmp(snap->reasons[j].reason, r) == 0)
			break;
	if (j == snap->reason_count) {
		snap->reasons = xrealloc(snap->reasons, j + 1, sizeof(*snap->reasons));
		snap->reasons[j] = (struct stats_reason){ .reason = xstrdup(r) };
		snap->reason_count++;
	}
	snap->reasons[j].count++;
}

static int
cmp_reason(const void *a, const void *b)
{
	const struct stats_reason *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->reason, y->reason);
}

void
stats_sort_reasons(struct stats_snapshot *snap)
{
	if (snap->reason_count > 1)
		qsort(snap->reasons, snap->reason_count, sizeof(*snap->reasons), cmp_reason);
}

bool
stats_consumer_held(const struct stats_consumer *c)
{
	return c->found && c->max_ack_pending > 0 && c->num_ack_pending >= c->max_ack_pending;
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
