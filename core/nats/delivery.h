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

/*
 * msg is the delivered message, or for a synthesized task the stored copy
 * from js_GetMsg, which has no reply subject: ack/nak/term/in_progress are
 * then no-ops. settled latches after an ack/nak/term so a second one sends
 * nothing. Owned by the thread handling the task.
 */
struct js_delivery {
	natsMsg *msg;
	bool settled;
};

#endif
