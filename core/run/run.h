/* SPDX-License-Identifier: MIT */
/*
 * `taskjet run`, whatever the backend: open it, set up the server side
 * (topology), start the consumers, the HTTP endpoint and the service
 * manager's readiness, then wait for a stop signal and stop in the reverse
 * order, giving in-flight handlers shutdown_grace to finish. A reload
 * swaps in an engine and backend built from the new config (run.c).
 */
#ifndef TASKJET_RUN_H
#define TASKJET_RUN_H

#include <signal.h>
#include <stdbool.h>

#include "config/config.h"
#include "engine/engine.h"

struct run_opts {
	const char *url; /* --nats, or NULL */
	/* Read "SUBJECT PAYLOAD" lines from stdin, publish them, and stop once
	 * all are done (needs a backend that can drain: memory). */
	bool from_stdin;
	/*
	 * Read the config again for a reload (SIGHUP, POST /api/v1/reload):
	 * the same file, with the same command-line overrides, as at start.
	 * 0 with a new *cfg_r (the daemon frees it), or -errno with the
	 * problems, one a line, in *errors_r (malloc'd; may be NULL). NULL:
	 * reloads are refused.
	 */
	int (*load_config)(void *arg, struct cfg **cfg_r, char **errors_r);
	void *load_arg;
};

/*
 * Run `engine` (built over `cfg`) until SIGTERM/SIGINT, or until the stdin
 * tasks are done, reloading the config on SIGHUP and POST /api/v1/reload.
 * Takes both: they are freed before it returns (a reload replaces them).
 * The caller has blocked TERM, INT and HUP in every thread
 * (run_block_signals) before any thread started. Returns an exit code
 * (util/exitcode.h). Main thread.
 */
int run_engine(struct engine *engine, struct cfg *cfg, const struct run_opts *o);

/* Block TERM, INT and HUP in the calling thread (and so in every thread
 * it starts afterwards) and ignore SIGPIPE. Call before any thread. */
void run_block_signals(void);

#endif
