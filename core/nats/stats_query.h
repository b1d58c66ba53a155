/* SPDX-License-Identifier: MIT */
/*
 * A snapshot of what the server knows about the config's streams, route
 * consumers and DLQ, for `taskjet stats` and the HTTP API. Rates come from
 * two snapshots (stats_rates). Free of libnats types; any thread; results
 * are the caller's.
 */
#ifndef TASKJET_STATS_QUERY_H
#define TASKJET_STATS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct natsconn;

struct stats_stream {
	const char *name; /* borrowed from the config */
	bool found; /* false: the server has no such stream */
	uint64_t msgs, bytes, first_seq, last_seq, consumers, deleted;
};

struct stats_consumer {
	const char *route; /* borrowed from the config */
	const char *stream; /* borrowed */
	char consumer[256];
	bool found;
	uint64_t num_pending; /* matching messages not yet delivered */
	uint64_t num_ack_pending; /* delivered, awaiting ack (incl. nak delays) */
	uint64_t num_redelivered; /* pending messages delivered more than once */
	uint64_t num_waiting; /* pull requests waiting */
	uint64_t delivered_consumer_seq, delivered_stream_seq;
	uint64_t ack_floor_consumer_seq, ack_floor_stream_seq;
};

struct stats_reason {
	char *reason; /* malloc'd; "-" when a letter has none */
	uint64_t count;
};

struct stats_snapshot {
	int64_t mono_ms; /* when taken, for rates */
	int64_t wall_ms;
	struct stats_stream *streams; /* one per cfg->streams, same order */
	size_t stream_count;
	struct stats_consumer *consumers; /* one per cfg->routes, same order */
	size_t consumer_count;
	struct stats_stream dlq;
	struct stats_reason *reasons; /* with by_reason only, by count desc */
	size_t reason_count;
	bool reasons_truncated; /* the DLQ scan stopped at its bound */
};

/* Rates between two snapshots of the same config, per second. */
struct stats_rates {
	double seconds; /* between the snapshots */
	double *stream_in; /* new messages stored (last_seq delta) */
	double *stream_out; /* messages that left the stream */
	double *consumer_delivered; /* deliveries, redeliveries included */
	double *consumer_acked; /* ack floor (stream seq) advance */
	double dlq_in;
};

/*
 * Ask the server about every stream, route consumer and the DLQ of `cfg`
 * (borrowed: it must outlive the snapshot). With by_reason, also count the
 * DLQ letters per Taskjet-Reason by scanning at most max_scan letters (0:
 * all). Missing streams/consumers are reported as found = false, not as
 * errors. *snap_r is freed with stats_snapshot_free(). 0, or -errno when
 * the server cannot be asked at all.
 */
int stats_query(struct natsconn *nc, const struct cfg *cfg, bool by_reason, uint64_t max_scan,
                struct stats_snapshot **snap_r);
void stats_snapshot_free(struct stats_snapshot *snap);

/* Rates from `before` to `after` (same config). Counters that went back
 * (a stream recreated) give 0. Free with stats_rates_free(). */
void stats_rates_compute(const struct stats_snapshot *before, const struct stats_snapshot *after,
                         struct stats_rates *rates_r);
void stats_rates_free(struct stats_rates *rates);

#endif
