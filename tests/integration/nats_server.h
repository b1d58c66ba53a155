/* SPDX-License-Identifier: MIT */
/*
 * A private nats-server for integration tests: JetStream on 127.0.0.1, a
 * free client port and monitor port, a store in a fresh temporary
 * directory. Stopped by PID, restartable on the same port and store. Not
 * thread-safe; use from the test's main thread.
 */
#ifndef TASKJET_TEST_NATS_SERVER_H
#define TASKJET_TEST_NATS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

struct nats_server {
	const char *bin; /* $NATS_SERVER, else /usr/sbin/nats-server */
	pid_t pid; /* 0 when not running */
	int port;
	int monitor_port;
	char dir[256]; /* store and log live here; removed by cleanup */
	char url[64]; /* nats://127.0.0.1:<port> */
	bool has_conf; /* started with a config file (dir/server.conf) */
	bool conf_has_store; /* the file names the store (after a reload) */
};

/*
 * Can integration tests run? Returns true if the server binary exists.
 * Otherwise: with env CI set, bails out (TAP "Bail out!", the caller must
 * return a failing status); without CI, skips the whole program (TAP
 * "1..0 # SKIP", the caller returns 0). `*must_fail_r` tells the two
 * apart.
 */
bool nats_server_available(const char *test_name, bool *must_fail_r);

/* Start a server on fresh ports with a fresh store directory and wait
 * (at most 10 s) until JetStream answers /healthz. 0 or -errno. */
int nats_server_start(struct nats_server *s);
/*
 * The same with `conf` (nats-server config text: authorization, tls,
 * operator...) in a config file beside the store; the command line still
 * sets address, ports and JetStream. Waits for the monitor's /healthz.
 */
int nats_server_start_conf(struct nats_server *s, const char *conf);
/* Replace the config file of a server started with one and have it
 * reload (SIGHUP): permissions, users and limits change under the
 * connected clients. Returns once the server's log says it reloaded (at
 * most 10 s); -EINVAL if it refused the file. 0 or -errno. */
int nats_server_reload_conf(struct nats_server *s, const char *conf);
/* How many lines of the server's log contain `needle` (0 if none, or no
 * log yet): what the server saw, e.g. "Publish Violation". */
int nats_server_log_count(const struct nats_server *s, const char *needle);
/* The directory a test can keep files in before the server starts (a CA,
 * keys): made on first use, removed with the server's by cleanup. */
const char *nats_server_dir(struct nats_server *s);
/* The same with the server's max_payload set to `max_payload` bytes (a
 * config file; nats-server has no flag for it). */
int nats_server_start_max_payload(struct nats_server *s, long max_payload);
/* Start on fresh ports in the directory nats_server_dir() made (a test
 * may mount a file system there first); waits for /healthz. 0 or -errno. */
int nats_server_start_in_dir(struct nats_server *s);
/* Stop with `sig` (SIGTERM or SIGKILL) and reap it (bounded: a server
 * that ignores SIGTERM for 10 s gets SIGKILL). 0 or -errno. */
int nats_server_stop(struct nats_server *s, int sig);
/* The same with the wait before SIGKILL in `timeout_ms`; -ETIMEDOUT (and
 * reaped) when it had to be killed. */
int nats_server_stop_within(struct nats_server *s, int sig, int timeout_ms);
/* Start again on the same ports and store. 0 or -errno. */
int nats_server_restart(struct nats_server *s);
/* Stop (SIGTERM) if running and remove the directory. */
void nats_server_cleanup(struct nats_server *s);

/* A TCP port on 127.0.0.1 that was free a moment ago; -errno on error. */
int nats_server_free_port(void);

/*
 * A JetStream cluster of three on 127.0.0.1: nodes "n1".."n3", each with
 * its own ports, store and config file (cluster routes to all three).
 * Stop and restart a node with nats_server_stop/_restart on c->node[i].
 */
#define NATS_CLUSTER_SIZE 3
struct nats_cluster {
	struct nats_server node[NATS_CLUSTER_SIZE];
	int cluster_port[NATS_CLUSTER_SIZE];
	char urls[256]; /* "nats://127.0.0.1:P1,nats://127.0.0.1:P2,..." */
};
/* Start all three and wait (at most 30 s) until each is healthy (a
 * JetStream meta leader is elected). 0 or -errno; clean up either way. */
int nats_cluster_start(struct nats_cluster *c);
/* The index of node `name` ("n2" -> 1), or -1. */
int nats_cluster_index(const struct nats_cluster *c, const char *name);
/* SIGKILL every node (nothing here needs a clean stop) and remove their
 * directories. */
void nats_cluster_cleanup(struct nats_cluster *c);

#endif
