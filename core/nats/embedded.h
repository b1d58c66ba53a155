/* SPDX-License-Identifier: MIT */
/*
 * A private nats-server child for `taskjet run` when no server URL is
 * configured: JetStream on 127.0.0.1, a free port, its store under
 * <state_dir>/nats. The child gets SIGTERM if taskjet dies. Main thread
 * only (it forks).
 */
#ifndef TASKJET_EMBEDDED_H
#define TASKJET_EMBEDDED_H

#include <sys/types.h>

struct embedded;

/*
 * Start nats-server (`bin`, or NULL to search PATH, /usr/sbin,
 * /usr/local/sbin and the configure-time path) and wait at most 10 s until
 * it accepts clients. -ENOENT if there is no nats-server (after logging
 * how to point taskjet at a server instead), -ETIMEDOUT or -ECHILD if it
 * did not come up (its log is in <state_dir>/nats/server.log), other
 * -errno for the state directory. *e_r is freed by embedded_stop().
 */
int embedded_start(const char *state_dir, const char *bin, struct embedded **e_r);

/* "nats://127.0.0.1:<port>"; lives as long as e. */
const char *embedded_url(const struct embedded *e);
pid_t embedded_pid(const struct embedded *e);

/* SIGTERM, wait (at most 10 s), then SIGKILL; free. NULL is a no-op. */
void embedded_stop(struct embedded *e);

#endif
