/* SPDX-License-Identifier: MIT */
/* The backoff curve, its jitter bounds and overflow safety, with a fixed rng. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#include "task/retry.h"
#include "testing.h"

static double
fixed_next(void *ctx)
{
	return *(const double *)ctx;
}

static const struct cfg_backoff standard = {
	.initial_ms = 10000, .multiplier = 2.0, .max_ms = 300000, .jitter = 0.2
};

static int64_t
backoff_at(const struct cfg_backoff *b, uint32_t attempt, double u)
{
	struct rng rng = { fixed_next, &u };

	return retry_backoff_ms(b, attempt, &rng);
}

TEST(midpoint_gives_the_exact_curve_up_to_the_cap)
{
	static const int64_t expected[] = {
		10000, 20000, 40000, 80000, 160000, 300000, 300000, 300000,
	};

	for (uint32_t a = 1; a <= sizeof(expected) / sizeof(expected[0]); a++)
		if (backoff_at(&standard, a, 0.5) != expected[a - 1])
			testing_fail(__FILE__, __LINE__, "attempt %u: %lld, expected %lld", a,
			             (long long)backoff_at(&standard, a, 0.5),
			             (long long)expected[a - 1]);
	/* Attempt 0 is not a valid delivery count; it behaves as the first. */
	CHECK_INT(backoff_at(&standard, 0, 0.5), 10000);
}

TEST(jitter_bounds_are_plus_minus_twenty_percent)
{
	double below_one = nextafter(1.0, 0.0);

	for (uint32_t a = 1; a <= 8; a++) {
		int64_t mid = backoff_at(&standard, a, 0.5);
		int64_t lo = backoff_at(&standard, a, 0.0);
		int64_t hi = backoff_at(&standard, a, below_one);

		CHECK_INT(lo, mid * 8 / 10);
		CHECK_RANGE(hi, mid * 12 / 10 - 1, mid * 12 / 10);
		CHECK_TRUE(lo < mid && mid < hi);
	}
	CHECK_INT(backoff_at(&standard, 1, 0.25), 9000);
	CHECK_INT(backoff_at(&standard, 1, 0.75), 11000);
}

TEST(huge_attempts_saturate_without_overflow)
{
	static const struct cfg_backoff steep = {
		.initial_ms = 1, .multiplier = 10.0, .max_ms = INT64_MAX / 4, .jitter = 0.0
	};
	static const struct cfg_backoff gentle = {
		.initial_ms = 1000, .multiplier = 1.0000001, .max_ms = 60000, .jitter = 0.5
	};
	static const struct cfg_backoff near_limit = {
		.initial_ms = 1000, .multiplier = 2.0, .max_ms = INT64_MAX, .jitter = 1.0
	};
	const uint32_t attempts[] = { 64, 1024, 100000, UINT32_MAX - 1, UINT32_MAX };

	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		CHECK_INT(backoff_at(&standard, attempts[i], 0.5), 300000);
		CHECK_INT(backoff_at(&standard, attempts[i], 0.0), 240000);
		CHECK_INT(backoff_at(&steep, attempts[i], 0.5), INT64_MAX / 4);
		/* 2x the largest int64 after jitter: clamped, not wrapped. */
		CHECK_INT(backoff_at(&near_limit, attempts[i], nextafter(1.0, 0.0)), INT64_MAX);
		CHECK_TRUE(backoff_at(&near_limit, attempts[i], 0.0) >= 0);
	}
	/* A multiplier barely above 1 saturates only after billions of
	 * attempts, and grows smoothly before that. */
	CHECK_INT(backoff_at(&gentle, 1000000000, 0.5), 60000);
	CHECK_INT(backoff_at(&gentle, UINT32_MAX, 0.5), 60000);
	CHECK_INT(backoff_at(&gentle, UINT32_MAX, 0.0), 30000);
	CHECK_INT(backoff_at(&gentle, 1, 0.5), 1000);
	CHECK_RANGE(backoff_at(&gentle, 10000001, 0.5), 2700, 2730);
}

TEST(degenerate_configs_are_never_negative)
{
	static const struct {
		struct cfg_backoff b;
		int64_t expected; /* at attempt 3, u = 0 */
	} cases[] = {
		{ { .initial_ms = 0, .multiplier = 2.0, .max_ms = 1000, .jitter = 0.2 }, 0 },
		{ { .initial_ms = -5, .multiplier = 2.0, .max_ms = 1000, .jitter = 0.2 }, 0 },
		{ { .initial_ms = 100, .multiplier = 2.0, .max_ms = -1, .jitter = 0.2 }, 0 },
		{ { .initial_ms = 100, .multiplier = 0.5, .max_ms = 1000, .jitter = 0 }, 100 },
		{ { .initial_ms = 100, .multiplier = NAN, .max_ms = 1000, .jitter = 0 }, 100 },
		{ { .initial_ms = 100, .multiplier = INFINITY, .max_ms = 1000, .jitter = 0 }, 100 },
		{ { .initial_ms = 100, .multiplier = 2.0, .max_ms = 1000, .jitter = 5.0 }, 0 },
		{ { .initial_ms = 100, .multiplier = 2.0, .max_ms = 1000, .jitter = -1 }, 400 },
		{ { .initial_ms = 100, .multiplier = 2.0, .max_ms = 1000, .jitter = NAN }, 400 },
		{ { .initial_ms = 5000, .multiplier = 2.0, .max_ms = 1000, .jitter = 0 }, 1000 },
		{ { .initial_ms = 5000, .multiplier = 2.0, .max_ms = 1000, .jitter = 0.2 }, 800 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = backoff_at(&cases[i].b, 3, 0.0);

		if (got != cases[i].expected)
			testing_fail(__FILE__, __LINE__, "case %zu: %lld, expected %lld", i,
			             (long long)got, (long long)cases[i].expected);
	}
	/* An rng out of contract is clamped into [0, 1). */
	CHECK_INT(backoff_at(&standard, 1, -3.0), 8000);
	CHECK_RANGE(backoff_at(&standard, 1, 7.0), 11999, 12000);
	CHECK_INT(backoff_at(&standard, 1, NAN), 8000);
	CHECK_INT(retry_backoff_ms(NULL, 1, NULL), 0);
}

TEST(default_rng_stays_in_unit_interval_and_varies)
{
	double first = retry_default_rng.next(retry_default_rng.ctx);
	int distinct = 0;

	for (int i = 0; i < 10000; i++) {
		double u = retry_default_rng.next(retry_default_rng.ctx);

		if (!(u >= 0.0 && u < 1.0)) {
			testing_fail(__FILE__, __LINE__, "u = %g", u);
			break;
		}
		distinct += u != first;
	}
	CHECK_TRUE(distinct > 9990);
	for (int i = 0; i < 1000; i++)
		CHECK_RANGE(retry_backoff_ms(&standard, 2, NULL), 16000, 24000);
}

static void *
draw(void *arg)
{
	double *out = arg;

	for (int i = 0; i < 4; i++)
		out[i] = retry_default_rng.next(NULL);
	return NULL;
}

TEST(default_rng_threads_get_their_own_sequences)
{
	double a[4], b[4];
	pthread_t ta, tb;

	CHECK_INT(pthread_create(&ta, NULL, draw, a), 0);
	CHECK_INT(pthread_create(&tb, NULL, draw, b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK_FALSE(a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3]);
}

int
main(void)
{
	RUN(midpoint_gives_the_exact_curve_up_to_the_cap);
	RUN(jitter_bounds_are_plus_minus_twenty_percent);
	RUN(huge_attempts_saturate_without_overflow);
	RUN(degenerate_configs_are_never_negative);
	RUN(default_rng_stays_in_unit_interval_and_varies);
	RUN(default_rng_threads_get_their_own_sequences);
	return testing_done();
}
