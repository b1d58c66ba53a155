/* SPDX-License-Identifier: MIT */
/*
 * What a JetStream task's backend_msg points at, shared by the consumer
 * runtime (nats/jetstream.c) and the advisory reader (nats/advisory.c).
 * NATS-internal: it includes <nats/nats.h>.
 */
#ifndef TASKJET_DELIVERY_H
#define TASKJET_DELIVERY_H

#include <stdbool.h>

#include <nats/nats.h>

#include "task/task.h"

/*
 * msg is the delivered message, or for a synthesized task the stored copy
 * from js_GetMsg, which has no reply subject: ack/nak/term/in_progress are
 * then no-ops. settled latches after an ack/nak/term so a second one sends
 * nothing. Owned by the thread handling the task.
 */
struct js_delivery {
	natsMsg *msg;
	bool settled;
	bool headers_read;
	struct msg_header *headers; /* every header value, read on first use
	                             * (ops->headers); strings owned by msg */
	size_t header_count;
};

/* Free the header list a delivery cached; before the message goes. */
void js_delivery_release(struct js_delivery *d);

#endif
