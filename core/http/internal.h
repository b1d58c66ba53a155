/* SPDX-License-Identifier: MIT */
/*
 * What the files of the HTTP endpoint share: the server, a request in
 * progress, a reply being built, the route table's entries, the security
 * rules every handler is subject to, and the handlers the dispatcher calls.
 * Private to core/http/ (it includes <microhttpd.h>).
 *
 * Threads: libmicrohttpd's event loops (a fixed pool, epoll) parse requests
 * and run the quick handlers (a route without HTTP_ROUTE_SLOW) in place;
 * handlers that may wait on the server (HTTP_ROUTE_SLOW) run on the
 * offload pool (offload.c) with their connection suspended, so a slow
 * server never holds up /healthz or /readyz. A handler may run on either
 * kind of thread, one request at a time per struct http_request.
 */
#ifndef TASKJET_HTTP_INTERNAL_H
#define TASKJET_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "http/http.h"
#include "jsonw.h"
#include "strbuf.h"
#include "task/metrics.h"
#include "task/stats.h"

/* How long a readiness, metrics or stats probe may wait for the server. */
#define SERVER_INFO_TIMEOUT_MS 1000

struct http_guard;
struct http_offload;
struct http_readiness;
struct overview_sampler;

struct http_server {
	struct MHD_Daemon *daemon;
	/* What requests read: the current env (env.c; a reload swaps it). */
	struct http_env *env; /* env_lock */
	pthread_mutex_t env_lock;
	pthread_cond_t env_idle;
	unsigned env_epoch; /* env_lock: swaps so far */
	unsigned env_users[2]; /* env_lock: holders by the parity of their epoch */
	/* POST /api/v1/reload: from the first env, fixed. */
	int (*reload)(void *ctx, struct mbuf *answer);
	void *reload_ctx;
	struct overview_sampler *sampler; /* overview.c */
	char *token; /* NULL: no token required */
	size_t token_len;
	size_t max_body;
	int port;
	char **hosts; /* http.hosts: names besides addresses and localhost */
	size_t host_count;
	struct http_guard *guard; /* connection deadlines and limits */
	struct http_offload *offload; /* the pool for slow handlers */
	struct http_readiness *readiness; /* /readyz, refreshed in the background */
};

/* Methods, as a bit set for the route table. */
enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_DELETE = 1 << 4,
	HTTP_PATCH = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
	HTTP_OTHER = 1 << 7,
};
#define HTTP_READ (HTTP_GET | HTTP_HEAD)

/* What a route is, for the dispatcher and the security rules. */
enum http_route_flag {
	/* `path` ends in '/' and matches everything below it. */
	HTTP_ROUTE_PREFIX = 1 << 0,
	/* May wait on the server (a snapshot, a publish, the DLQ): runs on the
	 * offload pool, never on an event loop. */
	HTTP_ROUTE_SLOW = 1 << 1,
	/* Returns task payloads or letters: with a token configured, reads
	 * need it too (health, readiness and metrics stay open). */
	HTTP_ROUTE_PAYLOADS = 1 << 2,
	/* Runs outside any env (req->env is NULL): the reload, which swaps
	 * them. */
	HTTP_ROUTE_NO_ENV = 1 << 3,
};

struct http_request;
struct reply;

/* One entry of the route table (server.c). The first entry whose path
 * (and match, if any) takes the URL serves it. */
struct http_route {
	const char *path;
	unsigned methods; /* enum http_method bits; HEAD goes with GET */
	unsigned flags; /* enum http_route_flag bits */
	void (*handle)(struct http_server *s, struct http_request *req, struct reply *r);
	/* NULL, or a further test of the URL (the path matched already). */
	bool (*match)(const char *url);
};

/* A response to send: status, content type, body (owned). */
struct reply {
	unsigned status;
	const char *type;
	struct mbuf body;
	const char *allow; /* Allow header for 405, else NULL */
	bool retry_after; /* 503: suggest trying again in a second */
	bool www_authenticate; /* 401 */
	/* Content-Security-Policy; NULL: the API's (nothing may load or frame
	 * it). A page served to a browser sets its own. */
	const char *csp;
};

/* One request in progress, from its headers to its reply. */
struct http_request {
	struct MHD_Connection *conn;
	/* What the handler reads (engine, backend, config): held for the
	 * handler's run, so a reload waits for it rather than free it. */
	const struct http_env *env;
	const struct http_route *route; /* NULL: answered before routing */
	char *url; /* the path, a copy */
	const char *method; /* MHD's, valid during the request */
	enum http_method method_bit;
	struct mbuf body;
	bool too_big;
	/* Set when the request's reply is final: an early refusal, or a
	 * handler on the offload pool that finished (the event loop then
	 * sends it). */
	struct reply reply;
	bool reply_ready; /* atomic */
	bool dispatched; /* the handler ran or was queued */
	struct http_request *next_job; /* offload.c's queue */
};

/* ---- env.c: the env requests and the endpoint's threads read ---- */
/* Take the current env for a while (a request's handler, one sampling):
 * a reload's http_set_env() waits for every holder of the env it
 * replaces. Release with the ticket. Any thread; do not nest. */
const struct http_env *http_env_hold(struct http_server *s, unsigned *ticket_r);
void http_env_release(struct http_server *s, unsigned ticket);
/* The first env, and the lock and condition, at start; freed at stop. */
void http_env_init(struct http_server *s, const struct http_env *env);
void http_env_destroy(struct http_server *s);
/* Is the current env's engine stopping? Any thread. */
bool http_shutting_down(struct http_server *s);
/* Run req's handler with the env held (or none, HTTP_ROUTE_NO_ENV). */
void http_run_handler(struct http_server *s, struct http_request *req);

/* ---- server.c: replies ---- */
void reply_text(struct reply *r, unsigned status, const char *text);
/* {"error": msg} with `status` (503 also says retry in a second). */
void reply_error(struct reply *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 200 with the document the writer built in `b` (taken over); a writer
 * that failed (out of memory) gives a 500 instead. */
void reply_document(struct reply *r, struct strbuf *b, int writer_error);
/* A query argument of the request, NULL if absent. Any thread. */
const char *http_query(const struct http_request *req, const char *key);
/* A request header, NULL if absent. Any thread. */
const char *http_header(const struct http_request *req, const char *name);

/* ---- policy.c: the security rules, for every route ---- */
/*
 * May this request reach its route's handler? Fills r and returns false if
 * not, in this order:
 *   401 when a token is configured and the request changes something (any
 *       method but GET, HEAD and OPTIONS) or reads an HTTP_ROUTE_PAYLOADS
 *       route without "Authorization: Bearer <token>" (compared in
 *       constant time);
 *   403 for such a request whose Host is not a name of this server (an IP
 *       address, localhost, or one of http.hosts: a DNS-rebinding page
 *       names its own host), and for a change sent cross-site (an Origin
 *       that is not this server's, or Sec-Fetch-Site other than
 *       same-origin/none);
 *   415 for a change whose Content-Type is not application/json (a form
 *       or text/plain is what a page on another site can send without
 *       asking).
 * Health, readiness and metrics (no flag, GET) pass. Any thread.
 */
bool http_policy_allows(struct http_server *s, const struct http_request *req, struct reply *r);
/* Does the method change something (all but GET, HEAD, OPTIONS)? */
bool http_method_changes(enum http_method m);
/* Add the headers every response carries: no caching, no sniffing, no
 * framing, no referrer, and the reply's Content-Security-Policy. */
void http_security_headers(struct MHD_Response *resp, const struct reply *r);

/* ---- guard.c: connections held to deadlines and limits ---- */
/* The most connections served at once, and per address that is not the
 * loopback one (127.0.0.1, ::1). */
#define HTTP_MAX_CONNECTIONS 1024
#define HTTP_MAX_PER_ADDRESS 64
/* A request must arrive whole, and its reply leave, within this long of
 * the connection becoming ready for it; trickling bytes does not extend
 * it. Keep-alive time between requests counts too. */
#define HTTP_DEADLINE_MS 10000

/* Track connections and shut down those past their deadline. -errno. */
int guard_start(unsigned max_connections, struct http_guard **g_r);
/* Stop the sweeper; free once the daemon is stopped. NULL-safe. */
void guard_stop(struct http_guard *g);
void guard_free(struct http_guard *g);
/* The libmicrohttpd hooks (options MHD_OPTION_NOTIFY_CONNECTION and the
 * accept policy): cls is the guard. */
void guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                         enum MHD_ConnectionNotificationCode toe);
enum MHD_Result guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/* The request on conn is being handled (no deadline while a handler
 * works: handlers are bounded by the backend's timeouts) / its reply is
 * queued / it is complete (the next one's deadline starts). */
void guard_busy(struct MHD_Connection *conn);
void guard_reply_queued(struct MHD_Connection *conn);
void guard_request_done(struct MHD_Connection *conn);
/* The connection limit in effect (the file descriptors allow it). */
unsigned guard_limit(const struct http_guard *g);

/* ---- offload.c: the pool for slow handlers ---- */
int offload_start(struct http_server *s, unsigned threads, unsigned queue_max,
                  struct http_offload **o_r);
/* Run req's route on the pool: the caller has suspended the connection;
 * the pool sets req->reply and resumes it. False when the queue is full
 * or the pool stopping (the caller answers 503 itself). */
bool offload_submit(struct http_offload *o, struct http_request *req);
/* Answer what is queued with 503, wait for what runs, join. NULL-safe. */
void offload_stop(struct http_offload *o);

/* ---- probes.c ---- */
void handle_healthz(struct http_server *s, struct http_request *req, struct reply *r);
/* From the cache the refresher keeps (checked every second, bounded by
 * SERVER_INFO_TIMEOUT_MS): never waits on the server. */
void handle_readyz(struct http_server *s, struct http_request *req, struct reply *r);
int readiness_start(struct http_server *s, struct http_readiness **rd_r);
void readiness_stop(struct http_readiness *rd);
/* Ready to take tasks, by the refresher's last check (never waits; an
 * answer older than 5 s counts as not ready); else `why` says what is
 * missing. Any thread. */
bool http_ready_now(struct http_server *s, const struct http_env *env, char *why, size_t len);
/* What the backend's store knows now (no per-reason scan); an empty
 * snapshot (queue unknown, nothing found) when it could not say. Free
 * with stats_snapshot_free(). */
struct stats_snapshot *http_snapshot(const struct http_env *env);

/* prometheus.c: GET /metrics. */
void handle_metrics(struct http_server *s, struct http_request *req, struct reply *r);

/* stats.c: GET /stats. */
void handle_stats(struct http_server *s, struct http_request *req, struct reply *r);

/* intake.c: POST /api/v1/tasks. */
void handle_post_task(struct http_server *s, struct http_request *req, struct reply *r);

/* dlq_api.c: GET /api/v1/dlq, and GET|DELETE /api/v1/dlq/{seq}, POST
 * /api/v1/dlq/{seq}/replay (told apart by the two predicates). */
void handle_dlq_list(struct http_server *s, struct http_request *req, struct reply *r);
void handle_dlq_item(struct http_server *s, struct http_request *req, struct reply *r);
bool dlq_path_is_letter(const char *url);
bool dlq_path_is_replay(const char *url);

/* ---- overview.c: GET /api/v1/overview, and the sampler thread behind
 * its rates over the last minute (started before the daemon, stopped
 * after it; 0 or -errno) ---- */
int overview_start(struct http_server *s);
void overview_stop(struct http_server *s);
void handle_overview(struct http_server *s, struct http_request *req, struct reply *r);

/* ---- reload.c: POST /api/v1/reload (HTTP_ROUTE_NO_ENV) ---- */
void handle_reload(struct http_server *s, struct http_request *req, struct reply *r);

/* ---- dashboard.c: the web dashboard at / and its files under
 * /dashboard/ (404 for a file it does not have) ---- */
void handle_dashboard(struct http_server *s, struct http_request *req, struct reply *r);

#endif
