/* SPDX-License-Identifier: MIT */
/*
 * The one confirmed-publish path to JetStream: the engine's follow-ups and
 * dead letters, `taskjet publish`, HTTP intake and DLQ replay all go
 * through it. A publish waits for the stream's ack; one whose answer is
 * lost (a timeout, perhaps in a reconnect) may still have been stored, so
 * it is retried with the same message id and the stream deduplicates.
 * NATS-internal: it includes <nats/nats.h>. Thread-safe.
 */
#ifndef TASKJET_PUBLISH_H
#define TASKJET_PUBLISH_H

#include <nats/nats.h>

#include "task/backend.h"
#include "nats/natsconn.h"

/* Attempts of one publish, and how long each waits for the stream's ack. */
#define JS_PUBLISH_TRIES 3
#define JS_PUBLISH_WAIT_MS 5000

/*
 * Publish `msg` (borrowed; libnats adds the id header to it) with
 * `msg_id` (NULL: none, and then no retry, which could store it twice) and
 * wait for the ack; fill *ack_r (may be NULL). -ENOENT: no stream takes
 * the subject; -ENOBUFS: the stream or account is full; -EMSGSIZE: too
 * large; -ETIMEDOUT: no ack after every try; -EIO or another -errno
 * otherwise. Logs nothing: callers say what failed.
 */
int js_publish_msg(struct natsconn *nc, natsMsg *msg, const char *msg_id,
                   struct publish_ack *ack_r);

/* Build the message of `m` (subject, data, headers) and js_publish_msg()
 * it. Same returns, plus -EMSGSIZE for data over 2 GiB. */
int js_publish(struct natsconn *nc, const struct publish_msg *m, struct publish_ack *ack_r);

#endif
