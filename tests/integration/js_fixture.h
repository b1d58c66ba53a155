/* SPDX-License-Identifier: MIT */
/*
 * A small config for JetStream integration tests, built in memory (no
 * config file parsing): one work-queue stream TASKS on "tasks.>", a DLQ,
 * an advisory stream and one route "work" on "tasks.>". Tests adjust the
 * fields before use. Everything points into the struct itself.
 */
#ifndef TASKJET_TEST_JS_FIXTURE_H
#define TASKJET_TEST_JS_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "task/router.h"

struct js_fixture {
	struct cfg cfg;
	struct cfg_stream stream;
	char *stream_subjects[1];
	struct cfg_route route;
	struct router router;
	struct route route_rt;
};

/* Fill `f` with the defaults described above, for a server at `url`. */
void js_fixture_init(struct js_fixture *f, const char *url);

/* Poll `cond(arg)` every 10 ms until it is true or timeout_ms passed. */
bool js_wait_for(bool (*cond)(void *arg), void *arg, int64_t timeout_ms);

#endif
