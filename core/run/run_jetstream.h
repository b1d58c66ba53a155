/* SPDX-License-Identifier: MIT */
/* taskjet run on JetStream: server, topology, consumers, graceful stop. */
#ifndef TASKJET_RUN_JETSTREAM_H
#define TASKJET_RUN_JETSTREAM_H

#include <signal.h>

#include "config/config.h"
#include "engine/engine.h"

/*
 * Run `engine` against JetStream until a stop signal in `set` (blocked in
 * all threads). The server is `url` if not NULL, else cfg->nats.url, else
 * a private nats-server started under cfg->state_dir. Returns an exit code.
 */
int run_jetstream(struct engine *engine, const struct cfg *cfg, const char *url, sigset_t *set);

/* Where `taskjet run` records the URL of its embedded server, so other
 * commands (publish) find it: "<state_dir>/nats.url". */
void run_embedded_url_path(const struct cfg *cfg, char *buf, size_t len);

#endif
