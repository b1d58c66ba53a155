/* SPDX-License-Identifier: MIT */
/*
 * Make the server's JetStream objects match the config: the work streams,
 * the DLQ stream, the advisory capture stream and one reader of it per
 * route, and one durable pull consumer per route. Streams that several
 * deployments on one account may declare only ever gain subjects: an
 * update keeps every subject the stream has that the config does not
 * cover (another deployment's). Creates what is missing, updates what
 * may be updated (always sending the full config, since the server
 * replaces it), and reports what cannot change in place (retention,
 * storage, ack/deliver policy). A dry run only reports.
 *
 * Consumers are always created here, explicitly: a durable that
 * js_PullSubscribe auto-creates is deleted again by Unsubscribe.
 *
 * Only NATS-facing files include this header (it includes <nats/nats.h>).
 */
#ifndef TASKJET_TOPOLOGY_H
#define TASKJET_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "config/config.h"

/* What topology_ensure() saw and did, as lines for a human. */
struct topo_report {
	char **lines; /* malloc'd; "stream TASKS: created", ... */
	size_t count;
	unsigned created; /* objects created */
	unsigned updated; /* objects updated to match the config */
	unsigned pending; /* dry run: objects that would be created/updated */
	unsigned conflicts; /* differences that cannot be fixed in place */
	unsigned errors; /* server calls that failed */
};

/*
 * Bring the server in line with `cfg` (or, with dry_run, change nothing
 * and only report). `report` is filled either way and must be released
 * with topo_report_free(), also on failure.
 * Returns 0 when nothing is left to do (dry run: nothing would be done);
 * -EAGAIN for a dry run with pending creates/updates; -EEXIST if a
 * conflict remains; -EIO (or another -errno) if a server call failed.
 * Thread-safe as far as jsCtx is; meant for start-up, main thread.
 */
int topology_ensure(jsCtx *js, const struct cfg *cfg, bool dry_run, struct topo_report *report);
void topo_report_free(struct topo_report *report);

/* The durable name of a route (its configured consumer, else
 * "taskjet-<route name>"), written into buf. Returns buf. */
const char *topology_consumer_name(const struct cfg_route *route, char *buf, size_t len);
/* MaxAckPending for a route: its max_ack_pending (the config's default
 * for a struct the loader did not fill in). */
int64_t topology_max_ack_pending(const struct cfg_route *route);
/* "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>". */
void topology_advisory_subject(const char *stream, const char *consumer, char *buf, size_t len);
/* The durable on the advisory stream that reads this route's advisories
 * (filtered on its subject): "taskjet-adv-<len>-<stream>-<consumer>", so
 * each route of each deployment has its own. Written into buf; returns buf. */
const char *topology_advisory_durable(const struct cfg_route *route, char *buf, size_t len);

#endif
