/* SPDX-License-Identifier: MIT */
/*
 * The jetstream backend's snapshot: what the server knows about the
 * config's streams, route consumers and DLQ (task/stats.h). Free of
 * libnats types; any thread; results are the caller's.
 */
#ifndef TASKJET_STATS_QUERY_H
#define TASKJET_STATS_QUERY_H

#include "config/config.h"
#include "task/backend.h"
#include "task/stats.h"

struct natsconn;

/*
 * Ask the server about every stream, route consumer and the DLQ of `cfg`
 * (borrowed: it must outlive the snapshot); with o->by_reason also count
 * the DLQ letters per Taskjet-Reason, scanning at most o->max_scan letters
 * (0: all). Missing streams/consumers are reported as found = false, not
 * as errors. *snap_r is freed with stats_snapshot_free(). 0, or -errno
 * when the server cannot be asked at all.
 */
int stats_query(struct natsconn *nc, const struct cfg *cfg, const struct snapshot_opts *o,
                struct stats_snapshot **snap_r);

#endif
