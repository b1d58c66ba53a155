/* SPDX-License-Identifier: MIT */
/* A periodic thread, stopped at once on request. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "util/clock.h"
#include "util/ticker.h"
#include "util/xalloc.h"

struct ticker {
	int64_t interval_ms;
	void (*fn)(void *arg);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	pthread_t thread;
};

static void *
ticker_main(void *p)
{
	struct ticker *t = p;
	struct timespec until;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		clock_mono_deadline(t->interval_ms, &until);
		while (!t->stopping &&
		       pthread_cond_clockwait(&t->wake, &t->lock, CLOCK_MONOTONIC, &until) == 0)
			;
		if (t->stopping)
			break;
		pthread_mutex_unlock(&t->lock);
		t->fn(t->arg);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int
ticker_start(int64_t interval_ms, void (*fn)(void *arg), void *arg, struct ticker **t_r)
{
	struct ticker *t = xcalloc(1, sizeof(*t));
	int rc;

	t->interval_ms = interval_ms;
	t->fn = fn;
	t->arg = arg;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	rc = -pthread_create(&t->thread, NULL, ticker_main, t);
	if (rc < 0) {
		pthread_cond_destroy(&t->wake);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return rc;
	}
	*t_r = t;
	return 0;
}

void
ticker_stop(struct ticker *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_broadcast(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
