/* SPDX-License-Identifier: MIT */
/* Monotonic deadlines: normalised, in the future by the asked amount, and
 * what pthread_cond_clockwait() waits for. */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "util/clock.h"
#include "testing.h"

static int64_t
ts_ms(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

TEST(deadline_is_now_plus_ms_on_the_monotonic_clock)
{
	static const int64_t cases[] = { 0, 1, 999, 1000, 1001, 1500, 86400000 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t before = clock_mono_ms();
		struct timespec d;

		clock_mono_deadline(cases[i], &d);
		int64_t after = clock_mono_ms();

		CHECK_RANGE(d.tv_nsec, 0, 999999999);
		/* ts_ms truncates to the ms, as clock_mono_ms() does. */
		CHECK_RANGE(ts_ms(&d), before + cases[i], after + cases[i]);
	}
}

TEST(negative_ms_is_now)
{
	int64_t before = clock_mono_ms();
	struct timespec d;

	clock_mono_deadline(-5000, &d);

	CHECK_RANGE(ts_ms(&d), before, clock_mono_ms());
}

TEST(cond_clockwait_times_out_at_the_deadline)
{
	pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
	int64_t start = clock_mono_ms();
	struct timespec d;

	clock_mono_deadline(50, &d);
	int rc;

	pthread_mutex_lock(&lock);
	do
		rc = pthread_cond_clockwait(&cond, &lock, CLOCK_MONOTONIC, &d);
	while (rc == 0); /* a spurious wake-up */
	pthread_mutex_unlock(&lock);
	CHECK_INT(rc, ETIMEDOUT);
	/* Not before the deadline; no upper bound (a busy machine may be late). */
	CHECK_TRUE(clock_mono_ms() - start >= 50);
}

int
main(void)
{
	RUN(deadline_is_now_plus_ms_on_the_monotonic_clock);
	RUN(negative_ms_is_now);
	RUN(cond_clockwait_times_out_at_the_deadline);
	return testing_done();
}
