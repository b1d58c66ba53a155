/* SPDX-License-Identifier: MIT */
/*
 * Per-route histograms (handler duration, delivery attempt, fetch batch
 * size) and the Prometheus text exposition helpers that render them and
 * any other counter or gauge. Observing is lock-free (atomic adds), so the
 * hot path pays a bucket search and three atomic increments; rendering may
 * run concurrently and reads each number atomically (a scrape can see a
 * task in one bucket before it shows in _sum, never a torn value).
 */
#ifndef TASKJET_METRICS_H
#define TASKJET_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "task/router.h"

#define METRICS_MAX_BUCKETS 16

/* Values are integers in the histogram's unit (e.g. microseconds);
 * `scale` turns them into the exposed unit (e.g. 1e-6 for seconds). */
struct metrics_hist {
	const uint64_t *bounds; /* ascending upper bounds; +Inf is implicit */
	size_t nbounds; /* <= METRICS_MAX_BUCKETS */
	double scale;
	uint64_t counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, last = +Inf */
	uint64_t sum;
};

/* Set up an empty histogram over `bounds` (static storage). */
void metrics_hist_init(struct metrics_hist *h, const uint64_t *bounds, size_t nbounds,
                       double scale);
/* Count one value. Thread-safe. */
void metrics_hist_observe(struct metrics_hist *h, uint64_t value);
/*
 * The q-quantile (0 <= q <= 1) of `counts` (per bucket as in h->counts,
 * not cumulative: h->counts itself, or the difference of two readings)
 * over h's bounds, in the exposed unit (scale applied). Estimated as
 * Prometheus' histogram_quantile() does: linear within the bucket the
 * rank falls in, the first bucket starting at 0, and the highest bound
 * for a rank in the +Inf bucket. NAN when counts are all zero. Reads
 * `counts` atomically; pure otherwise.
 */
double metrics_hist_quantile(const struct metrics_hist *h, const uint64_t *counts, double q);

struct metrics;

/* Histograms for every route of `router` (borrowed, must outlive m). */
int metrics_create(const struct router *router, struct metrics **m_r);
/* NULL is a no-op. */
void metrics_destroy(struct metrics *m);

/* A handler call on `route` that took `us` microseconds on delivery
 * `attempt`. m NULL is a no-op. Thread-safe. */
void metrics_observe_handler(struct metrics *m, const struct route *route, uint64_t us,
                             uint32_t attempt);
/* A fetch for `route` returned `count` messages. m NULL is a no-op. */
void metrics_observe_fetch(struct metrics *m, const struct route *route, unsigned count);
/* The messages `route` may hold now (concurrency + its look-ahead), set
 * whenever that changes. m NULL is a no-op. Thread-safe. */
void metrics_set_window(struct metrics *m, const struct route *route, unsigned window);
/* Route number `i`'s window as last set; 0 if never. Thread-safe. */
uint64_t metrics_window(const struct metrics *m, size_t i);

/* The histograms of route number `i` (router order). Live; read only. */
const struct metrics_hist *metrics_handler_hist(const struct metrics *m, size_t i);
const struct metrics_hist *metrics_attempt_hist(const struct metrics *m, size_t i);
const struct metrics_hist *metrics_fetch_hist(const struct metrics *m, size_t i);

/* ---- text exposition ---- */

/* A growing, always NUL-terminated text buffer. Zero-initialise; free
 * `data` when done. Allocation failure aborts (xalloc). */
struct mbuf {
	char *data;
	size_t len, cap;
};

void mbuf_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mbuf_put(struct mbuf *b, const char *s, size_t n);
/* Append `s` as one quoted JSON text string (json_quote() in
 * common/jsonw.h: RFC 8259 escapes, invalid UTF-8 as U+FFFD). */
void mbuf_json_string(struct mbuf *b, const char *s);

/* One label of a sample; values are escaped when rendered. */
struct metrics_label {
	const char *key;
	const char *value;
};

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge or
 * histogram. Once per family, before its samples. */
void metrics_family(struct mbuf *b, const char *name, const char *type, const char *help);
/* name{k="v",...} value */
void metrics_sample(struct mbuf *b, const char *name, const struct metrics_label *labels,
                    size_t nlabels, double value);
/* The _bucket (cumulative, with le), _sum and _count lines of `h`. */
void metrics_hist_render(struct mbuf *b, const char *name, const struct metrics_label *labels,
                         size_t nlabels, const struct metrics_hist *h);

#endif
