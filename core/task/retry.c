/* SPDX-License-Identifier: MIT */
/* Exponential backoff with jitter, and the default per-thread random source. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "task/retry.h"

/* One generator per thread: no lock, and no two threads share a sequence. */
static __thread uint64_t rng_state;

static uint64_t
splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void
rng_seed(void)
{
	struct timespec ts;
	uint64_t seed;

	clock_gettime(CLOCK_REALTIME, &ts);
	seed = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	/* Threads started in the same nanosecond still differ by id and by
	 * where their TLS lives. */
	seed ^= splitmix64((uint64_t)pthread_self());
	seed ^= splitmix64((uint64_t)(uintptr_t)&rng_state);
	seed = splitmix64(seed);
	rng_state = seed != 0 ? seed : 0x2545f4914f6cdd1dULL; /* 0 is a fixpoint */
}

/* xorshift64*: fast, and plenty for spreading redeliveries. */
static double
default_next(void *ctx)
{
	uint64_t x;

	(void)ctx;
	if (rng_state == 0)
		rng_seed();
	x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	/* The top 53 bits give every double in [0, 1) a step of 2^-53. */
	return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) * 0x1.0p-53;
}

const struct rng retry_default_rng = { default_next, NULL };

/* The unjittered delay, min(max, initial * multiplier^(attempt-1)), decided
 * in log space first so a huge attempt never computes an overflowing power. */
static double
curve_ms(double initial, double multiplier, double max, uint32_t attempt)
{
	double steps = attempt > 1 ? (double)(attempt - 1) : 0.0;

	if (initial <= 0.0 || max <= 0.0)
		return 0.0;
	if (initial >= max)
		return max;
	if (multiplier <= 1.0 || steps == 0.0)
		return initial;
	if (steps * log(multiplier) >= log(max / initial))
		return max;
	return fmin(max, initial * pow(multiplier, steps));
}

int64_t
retry_backoff_ms(const struct cfg_backoff *backoff, uint32_t attempt, const struct rng *rng)
{
	double multiplier, jitter, delay, factor = 1.0, u;

	if (backoff == NULL)
		return 0;
	if (rng == NULL || rng->next == NULL)
		rng = &retry_default_rng;
	/* Config validation should have ruled these out; stay sane anyway
	 * (the negated comparisons also catch NaN). */
	multiplier = backoff->multiplier;
	if (!(multiplier >= 1.0) || isinf(multiplier))
		multiplier = 1.0;
	jitter = backoff->jitter;
	if (!(jitter > 0.0))
		jitter = 0.0;
	else if (jitter > 1.0)
		jitter = 1.0;

	delay = curve_ms((double)backoff->initial_ms, multiplier, (double)backoff->max_ms, attempt);
	if (jitter > 0.0) {
		u = rng->next(rng->ctx);
		if (!(u >= 0.0))
			u = 0.0;
		else if (u >= 1.0)
			u = nextafter(1.0, 0.0);
		factor = 1.0 + jitter * (2.0 * u - 1.0);
	}
	/* A double holds max_ms only to 53 bits: give the cap back exactly. */
	if (factor == 1.0 && backoff->max_ms > 0 && delay >= (double)backoff->max_ms)
		return backoff->max_ms;
	delay *= factor;
	if (!(delay > 0.0))
		return 0;
	/* Converting a double >= 2^63 to int64_t is undefined. */
	if (delay >= 0x1.0p63)
		return INT64_MAX;
	return (int64_t)llround(delay);
}
