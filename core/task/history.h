/* SPDX-License-Identifier: MIT */
/*
 * Recent history of the engine's per-route counters: a bounded ring of
 * readings (received, acked, retried, dead-lettered, and the handler
 * duration histogram's buckets) taken every few seconds, so that rates and
 * handler-time quantiles over the last minute cost the task path nothing:
 * a reading copies counters the engine keeps anyway.
 *
 * Thread-safe: one thread samples while others ask for windows.
 */
#ifndef TASKJET_HISTORY_H
#define TASKJET_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "task/metrics.h"
#include "task/router.h"

/* What a route did between a past reading and now. */
struct route_window {
	double seconds; /* the span covered; 0: no reading in the window yet */
	uint64_t received, acked, retried, dead_lettered; /* increments */
	/* Handler calls per duration bucket (metrics_handler_hist's bounds);
	 * all zero without metrics. */
	uint64_t handler_counts[METRICS_MAX_BUCKETS + 1];
};

struct history;

/*
 * A ring of `capacity` readings (>= 2) of `router`'s routes and, when
 * `metrics` is not NULL, their handler histograms. Both are borrowed and
 * must outlive the history. 0 or -EINVAL.
 */
int history_create(const struct router *router, const struct metrics *metrics, size_t capacity,
                   struct history **h_r);
/* NULL is a no-op. */
void history_destroy(struct history *h);

/* Take a reading of every route at monotonic time now_ms, replacing the
 * oldest once the ring is full. */
void history_sample(struct history *h, int64_t now_ms);

/*
 * The counters of route number `route` (router order) now, less the
 * oldest reading taken no more than window_ms before now_ms: the window
 * covers up to window_ms, less while the history is younger. Counters that
 * went back (none should) count as 0.
 */
void history_window(struct history *h, size_t route, int64_t now_ms, int64_t window_ms,
                    struct route_window *w_r);

#endif
