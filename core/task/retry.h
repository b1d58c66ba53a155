/* SPDX-License-Identifier: MIT */
/* Retry delays: pure functions, thread-safe. */
#ifndef TASKJET_RETRY_H
#define TASKJET_RETRY_H

#include <stdint.h>

#include "config/config.h"

/* A source of uniform randoms in [0, 1); injected so tests are exact. */
struct rng {
	double (*next)(void *ctx);
	void *ctx;
};

/* The default source: a per-thread xorshift seeded from the clock. */
extern const struct rng retry_default_rng;

/*
 * Delay before redelivering after failed `attempt` (1-based):
 * min(max, initial * multiplier^(attempt-1)), then scaled by a uniform
 * factor in [1 - jitter, 1 + jitter]. Never negative.
 */
int64_t retry_backoff_ms(const struct cfg_backoff *backoff, uint32_t attempt,
                         const struct rng *rng);

#endif
