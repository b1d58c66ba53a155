/* SPDX-License-Identifier: MIT */
/*
 * What a backend's store knows about the config's streams, route
 * consumers, connection, queue and DLQ (struct stats_snapshot, filled by
 * backend->ops->snapshot), and rates between two snapshots. The HTTP
 * endpoint and `taskjet stats` render the same snapshot. Results are the
 * caller's; the functions are pure and thread-safe.
 */
#ifndef TASKJET_STATS_H
#define TASKJET_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct stats_stream {
	const char *name; /* borrowed from the config */
	bool found; /* false: the store has no such stream */
	uint64_t msgs, bytes, first_seq, last_seq, consumers, deleted;
};

struct stats_consumer {
	const char *route; /* borrowed from the config */
	const char *subject; /* the route's subject; borrowed */
	const char *stream; /* borrowed */
	char consumer[256];
	bool found;
	uint64_t num_pending; /* matching messages not yet delivered */
	uint64_t num_ack_pending; /* delivered, awaiting ack (incl. nak delays) */
	/* The durable's MaxAckPending as the server has it (0: unlimited);
	 * at num_ack_pending the server hands out no more. */
	uint64_t max_ack_pending;
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
	const char *backend; /* "jetstream", "memory": static */
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

	/* A backend with a server connection. */
	bool has_connection;
	bool connected;
	uint64_t reconnects;
	/* Tasks accepted, delivered and held now, where the backend can say
	 * (queue_known false: some of it could not be asked). */
	bool queue_known;
	uint64_t total_enqueued, total_dequeued, current_size;
	/* A bounded in-process queue. */
	bool has_capacity;
	uint64_t capacity;
	/* The backend fetches tasks in batches (the fetch histogram means
	 * something). */
	bool fetches_batches;
};

/* True when the consumer is at its MaxAckPending: the server delivers it
 * nothing new until some of what it holds is acknowledged or comes due. */
bool stats_consumer_held(const struct stats_consumer *c);

/* Rates between two snapshots of the same config, per second. */
struct stats_rates {
	double seconds; /* between the snapshots */
	double *stream_in; /* new messages stored (last_seq delta) */
	double *stream_out; /* messages that left the stream */
	double *consumer_delivered; /* deliveries, redeliveries included */
	double *consumer_acked; /* ack floor (stream seq) advance */
	double dlq_in;
};

/* A snapshot with room for cfg's streams and routes, names filled in,
 * nothing found yet, taken now. */
struct stats_snapshot *stats_snapshot_new(const struct cfg *cfg, const char *backend);
/* Add one letter's reason to the per-reason counts (NULL: "-"). */
void stats_count_reason(struct stats_snapshot *snap, const char *reason);
/* Sort the per-reason counts, largest first. */
void stats_sort_reasons(struct stats_snapshot *snap);
void stats_snapshot_free(struct stats_snapshot *snap);

/* Rates from `before` to `after` (same config). Counters that went back
 * (a stream recreated) give 0. Free with stats_rates_free(). */
void stats_rates_compute(const struct stats_snapshot *before, const struct stats_snapshot *after,
                         struct stats_rates *rates_r);
void stats_rates_free(struct stats_rates *rates);

#endif
