/* SPDX-License-Identifier: MIT */
/*
 * The MAX_DELIVERIES advisory reader. When a message used up MaxDeliver
 * the server stops delivering it but leaves it in the work-queue stream
 * and publishes an advisory, which the advisory stream captures durably.
 * This reader pulls those advisories, loads the message (js_GetMsg),
 * hands a synthesized task to the dead_letter callback, deletes the
 * message from its stream, and acks the advisory. Only advisories of our
 * own routes' stream/consumer pairs are handled; others are acked and
 * ignored.
 *
 * Only NATS-facing files include this header (it includes <nats/nats.h>).
 */
#ifndef TASKJET_ADVISORY_H
#define TASKJET_ADVISORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "engine/backend.h"
#include "nats/jetstream.h"
#include "engine/router.h"

/*
 * What a JetStream task's backend_msg points at (shared by the consumer
 * runtime and this reader). msg is the delivered message, or for a
 * synthesized task the stored copy from js_GetMsg, which has no reply
 * subject: the backend's ack/nak/term/in_progress are then no-ops.
 * settled latches after an ack/nak/term so a second one sends nothing.
 * headers caches the header list on first use (ops->headers); free it
 * with js_delivery_release() when the task is done.
 */
struct js_delivery {
	natsMsg *msg;
	bool settled;
	bool headers_read;
	struct task_header *headers; /* strings owned by msg */
	size_t header_count;
};

/* Free what the delivery cached (not the message). */
void js_delivery_release(struct js_delivery *d);

struct advisory;

/*
 * Bind a pull subscription to the advisory stream's durable reader
 * (created by topology). routes/backend/cb are borrowed for the reader's
 * life; *stopping is read (atomically) to know when to stop. 0 or -errno
 * (-ENOENT if the stream or its consumer is missing).
 */
int advisory_create(jsCtx *js, const char *advisory_stream, const struct router *router,
                    struct backend *backend, const struct js_callbacks *cb, const int *stopping,
                    struct advisory **a_r);

/* The reader's loop: returns once *stopping is set (and the current
 * advisory is finished) or the subscription was closed. Thread body. */
void advisory_run(struct advisory *a);

/* Wake a blocked fetch so advisory_run() notices the stop. Any thread. */
void advisory_wake(struct advisory *a);

/* Handle one advisory message (exposed for tests): returns 0 if it was
 * dealt with and acked, -errno if it stays for a later retry. */
int advisory_handle(struct advisory *a, natsMsg *adv);

/* How many messages were moved to the DLQ so far. Any thread. */
uint64_t advisory_moved(const struct advisory *a);

/* Free; advisory_run() must have returned. NULL is a no-op. */
void advisory_destroy(struct advisory *a);

#endif
