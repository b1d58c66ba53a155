/* SPDX-License-Identifier: MIT */
/*
 * Routes: which plugin handler serves which subject, with what policy.
 * Built once at start from the config, then read-only: lookups are
 * thread-safe. Counters in route_stats are atomics.
 */
#ifndef TASKJET_ROUTER_H
#define TASKJET_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct plugin_instance;
struct plugin_handler;
struct procpool;

/* Why a task was dead-lettered; the Taskjet-Reason header. */
enum dlq_reason {
	DLQ_REASON_HANDLER_FAILED = 0,
	DLQ_REASON_ATTEMPTS_EXHAUSTED,
	DLQ_REASON_INVALID_PAYLOAD,
	DLQ_REASON_NO_ROUTE,
	DLQ_REASON_CRASHED,
	DLQ_REASON_MAX_DELIVERIES,
	DLQ_REASON_TIMED_OUT,
	DLQ_REASON_COUNT
};

/* "handler_failed", ...; NULL for an out-of-range value. */
const char *dlq_reason_name(enum dlq_reason reason);
/* The reason for a name, or -1. */
int dlq_reason_parse(const char *name);

struct route_stats {
	uint64_t received;
	uint64_t acked;
	uint64_t retried;
	uint64_t dead_lettered[DLQ_REASON_COUNT];
	uint64_t dlq_failures; /* dead-letter writes that failed (task nak'd) */
	uint64_t crashed; /* calls whose worker process died mid-task */
	uint64_t timed_out; /* calls killed at their timeout (process isolation) */
	uint64_t hung; /* handler threads still running at their timeout */
	uint64_t hung_now; /* of those, the ones still running */
	uint64_t given_back; /* tasks nak'd unhandled: no worker, or shutdown */
	uint64_t in_flight;
	uint64_t handler_us_total;
};

/* The route's dead letters over every reason (each counter read
 * atomically). Thread-safe. */
uint64_t route_stats_dead_lettered(const struct route_stats *st);

struct route {
	const struct cfg_route *cfg;
	const struct cfg_stream *stream;
	/* Set by the engine: the instance and handler of a thread route, or
	 * the worker processes of a process route. */
	struct plugin_instance *plugin;
	const struct plugin_handler *handler;
	struct procpool *pool;
	/* Set by the engine: the plugin's version, as its descriptor says
	 * ("" if unknown). */
	char plugin_version[64];
	struct route_stats stats; /* update with __atomic builtins */
};

struct router {
	struct route *routes;
	size_t count;
};

/* Build one route per cfg route (plugins not loaded). 0 or -errno. */
int router_create(const struct cfg *cfg, struct router **router_r);
void router_destroy(struct router *router);
/* The first route (in config order) whose subject matches, or NULL. */
struct route *router_lookup(const struct router *router, const char *subject);
/* The route named `name`, or NULL. */
struct route *router_find(const struct router *router, const char *name);

#endif
