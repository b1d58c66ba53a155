/* SPDX-License-Identifier: MIT */
/* Helpers shared by the bench load programs (raw_consume, tjbench). */
#ifndef TASKJET_BENCH_COMMON_H
#define TASKJET_BENCH_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include <nats/nats.h>

/* Name printed before every bench_die message; each program sets it first
 * thing in main. Static string, not copied. */
extern const char *bench_prog;

/* CLOCK_MONOTONIC in nanoseconds. Thread-safe. */
int64_t bench_now_ns(void);

/* Print "<bench_prog>: what: <status text> <last error>" and exit(1): the
 * bench programs have nothing to clean up on failure. Thread-safe. */
void bench_die(const char *what, natsStatus s) __attribute__((noreturn));

/* A new connection to url (borrowed for the call), with SendAsap when asap.
 * Dies on failure; the caller owns the connection (natsConnection_Destroy). */
natsConnection *bench_connect(const char *url, bool asap);

/* A JetStream context on nc (borrowed; it must outlive the context) whose
 * async publishes report refusals to bench_publish_complete. Dies on
 * failure; the caller owns it (jsCtx_Destroy). */
jsCtx *bench_jetstream(natsConnection *nc);

/* Wait up to 60 s for every js_PublishAsync on js to be acknowledged; dies
 * if any failed (js must come from bench_jetstream for refusals to be
 * seen). Call from the publishing thread. */
void bench_publish_complete(jsCtx *js);

/* Publish total messages of size 'x' bytes to subject (borrowed) with
 * js_PublishAsync, wait for them all, and print the publish rate. Dies on
 * failure. Call from one thread. */
void bench_publish_backlog(jsCtx *js, const char *subject, int total, int size);

/* A pull subscription bound to the existing durable consumer on stream
 * (both borrowed for the call). Dies on failure; the caller releases it
 * with bench_pull_close from the thread that fetches on it. */
natsSubscription *bench_pull_subscribe(jsCtx *js, const char *stream, const char *consumer);

/* Unsubscribe and destroy sub (taken). */
void bench_pull_close(natsSubscription *sub);

#endif /* TASKJET_BENCH_COMMON_H */
