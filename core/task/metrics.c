/* SPDX-License-Identifier: MIT */
/* Histograms and the Prometheus text format (version 0.0.4). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "task/metrics.h"
#include "util/xalloc.h"

/* Handler durations in microseconds: 1 ms .. 60 s. */
static const uint64_t handler_bounds[] = {
	1000,   5000,    10000,   25000,   50000,    100000,   250000,
	500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};
/* Delivery attempt numbers. */
static const uint64_t attempt_bounds[] = { 1, 2, 3, 5, 10, 25, 100 };
/* Messages per fetch. */
static const uint64_t fetch_bounds[] = { 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000 };

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct metrics_route {
	struct metrics_hist handler;
	struct metrics_hist attempt;
	struct metrics_hist fetch;
	uint64_t window; /* atomic */
};

struct metrics {
	const struct router *router;
	struct metrics_route *routes;
};

void
metrics_hist_init(struct metrics_hist *h, const uint64_t *bounds, size_t nbounds, double scale)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nbounds = nbounds > METRICS_MAX_BUCKETS ? METRICS_MAX_BUCKETS : nbounds;
	h->scale = scale;
}

void
metrics_hist_observe(struct metrics_hist *h, uint64_t value)
{
	size_t i = 0;

	/* Few buckets: a linear scan beats a binary search's branches. */
	while (i < h->nbounds && value > h->bounds[i])
		i++;
	__atomic_fetch_add(&h->counts[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum, value, __ATOMIC_RELAXED);
}

double
metrics_hist_quantile(const struct metrics_hist *h, const uint64_t *counts, double q)
{
	uint64_t c[METRICS_MAX_BUCKETS + 1], total = 0, below = 0;
	double rank, lower, upper;
	size_t i;

	/* One reading of each bucket, so the rank and the walk agree. */
	for (i = 0; i <= h->nbounds; i++) {
		c[i] = __atomic_load_n(&counts[i], __ATOMIC_RELAXED);
		total += c[i];
	}
	if (total == 0)
		return NAN;
	rank = (q < 0 ? 0 : q > 1 ? 1 : q) * (double)total;
	for (i = 0; i < h->nbounds; i++) {
		if (c[i] > 0 && (double)(below + c[i]) >= rank)
			break;
		below += c[i];
	}
	if (i == h->nbounds) /* in +Inf: nothing better than the top bound */
		return h->nbounds > 0 ? (double)h->bounds[h->nbounds - 1] * h->scale : NAN;
	lower = i > 0 ? (double)h->bounds[i - 1] : 0;
	upper = (double)h->bounds[i];
	return (lower + (upper - lower) * ((rank - (double)below) / (double)c[i])) * h->scale;
}

int
metrics_create(const struct router *router, struct metrics **m_r)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	m->router = router;
	m->routes = xcalloc(router->count > 0 ? router->count : 1, sizeof(*m->routes));
	for (size_t i = 0; i < router->count; i++) {
		metrics_hist_init(&m->routes[i].handler, handler_bounds, N_ELEMS(handler_bounds),
		                  1e-6);
		metrics_hist_init(&m->routes[i].attempt, attempt_bounds, N_ELEMS(attempt_bounds),
		                  1);
		metrics_hist_init(&m->routes[i].fetch, fetch_bounds, N_ELEMS(fetch_bounds), 1);
	}
	*m_r = m;
	return 0;
}

void
metrics_destroy(struct metrics *m)
{
	if (m == NULL)
		return;
	free(m->routes);
	free(m);
}

/* The route's slot, or NULL for a route of another router. */
static struct metrics_route *
slot(struct metrics *m, const struct route *route)
{
	size_t i;

	if (m == NULL || route == NULL || route < m->router->routes)
		return NULL;
	i = (size_t)(route - m->router->routes);
	return i < m->router->count ? &m->routes[i] : NULL;
}

void
metrics_observe_handler(struct metrics *m, const struct route *route, uint64_t us, uint32_t attempt)
{
	struct metrics_route *r = slot(m, route);

	if (r == NULL)
		return;
	metrics_hist_observe(&r->handler, us);
	metrics_hist_observe(&r->attempt, attempt);
}

void
metrics_observe_fetch(struct metrics *m, const struct route *route, unsigned count)
{
	struct metrics_route *r = slot(m, route);

	if (r != NULL)
		metrics_hist_observe(&r->fetch, count);
}

void
metrics_set_window(struct metrics *m, const struct route *route, unsigned window)
{
	struct metrics_route *r = slot(m, route);

	if (r != NULL)
		__atomic_store_n(&r->window, (uint64_t)window, __ATOMIC_RELAXED);
}

uint64_t
metrics_window(const struct metrics *m, size_t i)
{
	return __atomic_load_n(&m->routes[i].window, __ATOMIC_RELAXED);
}

const struct metrics_hist *
metrics_handler_hist(const struct metrics *m, size_t i)
{
	return &m->routes[i].handler;
}

const struct metrics_hist *
metrics_attempt_hist(const struct metrics *m, size_t i)
{
	return &m->routes[i].attempt;
}

const struct metrics_hist *
metrics_fetch_hist(const struct metrics *m, size_t i)
{
	return &m->routes[i].fetch;
}

/* ---- text ---- */

static void
mbuf_reserve(struct mbuf *b, size_t more)
{
	size_t need = b->len + more + 1;

	if (need <= b->cap)
		return;
	b->cap = b->cap == 0 ? 256 : b->cap;
	while (b->cap < need)
		b->cap *= 2;
	b->data = xrealloc(b->data, b->cap, 1);
}

void
mbuf_put(struct mbuf *b, const char *s, size_t n)
{
	mbuf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	mbuf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
mbuf_json_string(struct mbuf *b, const char *s)
{
	struct strbuf q = { 0 };

	json_quote(&q, s, strlen(s));
	xalloc_check(q.err);
	mbuf_put(b, q.data, q.len);
	strbuf_release(&q);
}

void
metrics_family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escape backslash, double quote and newline. */
static void
put_label_value(struct mbuf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			mbuf_put(b, "\\\\", 2);
		else if (*v == '"')
			mbuf_put(b, "\\\"", 2);
		else if (*v == '\n')
			mbuf_put(b, "\\n", 2);
		else
			mbuf_put(b, v, 1);
	}
}

static void
put_labels(struct mbuf *b, const struct metrics_label *labels, size_t n, const char *le)
{
	if (n == 0 && le == NULL)
		return;
	mbuf_put(b, "{", 1);
	for (size_t i = 0; i < n; i++) {
		mbuf_printf(b, "%s%s=\"", i > 0 ? "," : "", labels[i].key);
		put_label_value(b, labels[i].value);
		mbuf_put(b, "\"", 1);
	}
	if (le != NULL)
		mbuf_printf(b, "%sle=\"%s\"", n > 0 ? "," : "", le);
	mbuf_put(b, "}", 1);
}

void
metrics_sample(struct mbuf *b, const char *name, const struct metrics_label *labels, size_t nlabels,
               double value)
{
	mbuf_printf(b, "%s", name);
	put_labels(b, labels, nlabels, NULL);
	/* %.15g prints integers up to 10^15 exactly and without an exponent. */
	mbuf_printf(b, " %.15g\n", value);
}

void
metrics_hist_render(struct mbuf *b, const char *name, const struct metrics_label *labels,
                    size_t nlabels, const struct metrics_hist *h)
{
	uint64_t cumulative = 0, sum;
	char series[160], le[64];

	snprintf(series, sizeof(series), "%s_bucket", name);
	for (size_t i = 0; i <= h->nbounds; i++) {
		cumulative += __atomic_load_n(&h->counts[i], __ATOMIC_RELAXED);
		if (i < h->nbounds)
			snprintf(le, sizeof(le), "%.15g", (double)h->bounds[i] * h->scale);
		else
			snprintf(le, sizeof(le), "+Inf");
		mbuf_printf(b, "%s", series);
		put_labels(b, labels, nlabels, le);
		mbuf_printf(b, " %llu\n", (unsigned long long)cumulative);
	}
	sum = __atomic_load_n(&h->sum, __ATOMIC_RELAXED);
	snprintf(series, sizeof(series), "%s_sum", name);
	metrics_sample(b, series, labels, nlabels, (double)sum * h->scale);
	/* _count is the +Inf bucket by definition: use the same reading. */
	snprintf(series, sizeof(series), "%s_count", name);
	metrics_sample(b, series, labels, nlabels, (double)cumulative);
}
