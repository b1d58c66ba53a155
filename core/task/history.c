/* SPDX-License-Identifier: MIT */
/* A ring of per-route counter readings, for rates over the last minute. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "task/history.h"
#include "util/xalloc.h"

/* One route's counters at one time. */
struct reading {
	uint64_t received, acked, retried, dead_lettered;
	uint64_t handler[METRICS_MAX_BUCKETS + 1];
};

struct history {
	const struct router *router;
	const struct metrics *metrics;
	pthread_mutex_t lock;
	size_t capacity, count, next; /* next: the slot the next reading takes */
	int64_t *times; /* [capacity] monotonic ms */
	struct reading *readings; /* [capacity][router->count] */
};

static uint64_t
load_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
read_route(const struct history *h, size_t i, struct reading *r_r)
{
	const struct route_stats *st = &h->router->routes[i].stats;

	*r_r = (struct reading){ .received = load_u64(&st->received),
		                 .acked = load_u64(&st->acked),
		                 .retried = load_u64(&st->retried),
		                 .dead_lettered = route_stats_dead_lettered(st) };
	if (h->metrics != NULL) {
		const struct metrics_hist *mh = metrics_handler_hist(h->metrics, i);

		for (size_t b = 0; b <= mh->nbounds; b++)
			r_r->handler[b] = load_u64(&mh->counts[b]);
	}
}

int
history_create(const struct router *router, const struct metrics *metrics, size_t capacity,
               struct history **h_r)
{
	struct history *h;

	if (capacity < 2)
		return -EINVAL;
	h = xcalloc(1, sizeof(*h));
	h->router = router;
	h->metrics = metrics;
	h->capacity = capacity;
	h->times = xcalloc(capacity, sizeof(*h->times));
	h->readings =
	    xcalloc(capacity * (router->count > 0 ? router->count : 1), sizeof(*h->readings));
	pthread_mutex_init(&h->lock, NULL);
	*h_r = h;
	return 0;
}

void
history_destroy(struct history *h)
{
	if (h == NULL)
		return;
	pthread_mutex_destroy(&h->lock);
	free(h->times);
	free(h->readings);
	free(h);
}

void
history_sample(struct history *h, int64_t now_ms)
{
	size_t n = h->router->count;

	pthread_mutex_lock(&h->lock);
	h->times[h->next] = now_ms;
	for (size_t i = 0; i < n; i++)
		read_route(h, i, &h->readings[h->next * n + i]);
	h->next = (h->next + 1) % h->capacity;
	if (h->count < h->capacity)
		h->count++;
	pthread_mutex_unlock(&h->lock);
}

static uint64_t
since(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : 0;
}

void
history_window(struct history *h, size_t route, int64_t now_ms, int64_t window_ms,
               struct route_window *w_r)
{
	size_t n = h->router->count, oldest;
	struct reading now, then;
	bool found = false;

	*w_r = (struct route_window){ 0 };
	if (route >= n)
		return;
	read_route(h, route, &now);
	pthread_mutex_lock(&h->lock);
	/* Oldest first: the first reading inside the window covers most. */
	oldest = (h->next + h->capacity - h->count) % h->capacity;
	for (size_t k = 0; k < h->count && !found; k++) {
		size_t slot = (oldest + k) % h->capacity;

		if (h->times[slot] >= now_ms - window_ms && h->times[slot] < now_ms) {
			then = h->readings[slot * n + route];
			w_r->seconds = (double)(now_ms - h->times[slot]) / 1000;
			found = true;
		}
	}
	pthread_mutex_unlock(&h->lock);
	if (!found)
		return;
	w_r->received = since(now.received, then.received);
	w_r->acked = since(now.acked, then.acked);
	w_r->retried = since(now.retried, then.retried);
	w_r->dead_lettered = since(now.dead_lettered, then.dead_lettered);
	for (size_t b = 0; b <= METRICS_MAX_BUCKETS; b++)
		w_r->handler_counts[b] = since(now.handler[b], then.handler[b]);
}
