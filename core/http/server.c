/* SPDX-License-Identifier: MIT */
/*
 * The operator HTTP endpoint's server: libmicrohttpd set up and torn down
 * (a fixed pool of epoll event loops, connections held to deadlines and
 * limits by guard.c), the route table, each request checked against the
 * security rules (policy.c), bounded, dispatched to its handler in place or
 * on the offload pool, and its reply sent. The handlers live in the files
 * named after what they serve.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "http/internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/xalloc.h"

/* Event loops: a few are plenty (epoll; handlers that wait are offloaded). */
#define HTTP_EVENT_THREADS 2
/* The pool for handlers that may wait on the server, and how many of
 * their requests may queue before the next gets 503. */
#define HTTP_OFFLOAD_THREADS 4
#define HTTP_OFFLOAD_QUEUE 64
/* Per connection: headers and buffers (bodies go to the handler). */
#define HTTP_CONNECTION_MEMORY (32 * 1024)
/* At most one line of libmicrohttpd's own complaints (a flood of
 * refused connections) this often. */
#define MHD_LOG_INTERVAL_MS 10000

/*
 * Every endpoint. To add one: a handler (in its own file, declared in
 * internal.h) and a line here; the security rules (policy.c) apply by the
 * method and the flags, the dispatcher answers 404 and 405.
 */
static const struct http_route routes[] = {
	{ .path = "/healthz", .methods = HTTP_READ, .handle = handle_healthz },
	{ .path = "/readyz", .methods = HTTP_READ, .handle = handle_readyz },
	{ .path = "/metrics",
	  .methods = HTTP_READ,
	  .flags = HTTP_ROUTE_SLOW,
	  .handle = handle_metrics },
	{ .path = "/stats",
	  .methods = HTTP_READ,
	  .flags = HTTP_ROUTE_SLOW,
	  .handle = handle_stats },
	{ .path = "/api/v1/tasks",
	  .methods = HTTP_POST,
	  .flags = HTTP_ROUTE_SLOW,
	  .handle = handle_post_task },
	{ .path = "/api/v1/dlq",
	  .methods = HTTP_READ,
	  .flags = HTTP_ROUTE_SLOW | HTTP_ROUTE_PAYLOADS,
	  .handle = handle_dlq_list },
	{ .path = "/api/v1/dlq/",
	  .methods = HTTP_READ | HTTP_DELETE,
	  .flags = HTTP_ROUTE_PREFIX | HTTP_ROUTE_SLOW | HTTP_ROUTE_PAYLOADS,
	  .handle = handle_dlq_item,
	  .match = dlq_path_is_letter },
	{ .path = "/api/v1/dlq/",
	  .methods = HTTP_POST,
	  .flags = HTTP_ROUTE_PREFIX | HTTP_ROUTE_SLOW | HTTP_ROUTE_PAYLOADS,
	  .handle = handle_dlq_item,
	  .match = dlq_path_is_replay },
	{ .path = "/api/v1/reload",
	  .methods = HTTP_POST,
	  .flags = HTTP_ROUTE_SLOW | HTTP_ROUTE_NO_ENV,
	  .handle = handle_reload },
	{ .path = "/api/v1/overview",
	  .methods = HTTP_READ,
	  .flags = HTTP_ROUTE_SLOW,
	  .handle = handle_overview },
	{ .path = "/", .methods = HTTP_READ, .handle = handle_dashboard },
	{ .path = "/dashboard/",
	  .methods = HTTP_READ,
	  .flags = HTTP_ROUTE_PREFIX,
	  .handle = handle_dashboard },
};

/* ---- replies ---- */

void
reply_text(struct reply *r, unsigned status, const char *text)
{
	r->status = status;
	r->type = "text/plain; charset=utf-8";
	mbuf_printf(&r->body, "%s\n", text);
}

void
reply_error(struct reply *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->status = status;
	r->type = "application/json";
	r->retry_after = status == MHD_HTTP_SERVICE_UNAVAILABLE;
	mbuf_put(&r->body, "{\"error\":", 9);
	mbuf_json_string(&r->body, msg);
	mbuf_put(&r->body, "}\n", 2);
}

void
reply_document(struct reply *r, struct strbuf *b, int writer_error)
{
	if (writer_error != 0 || b->err != 0) {
		strbuf_release(b);
		reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
		return;
	}
	mbuf_put(&r->body, b->data, b->len);
	mbuf_put(&r->body, "\n", 1);
	strbuf_release(b);
	r->status = MHD_HTTP_OK;
	r->type = "application/json";
}

const char *
http_query(const struct http_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *
http_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, struct reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (r->body.data == NULL)
		mbuf_put(&r->body, "", 0);
	/* MHD frees the buffer with free() once sent. */
	resp = MHD_create_response_from_buffer(r->body.len, r->body.data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(r->body.data);
		r->body.data = NULL;
		return MHD_NO;
	}
	r->body.data = NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
	http_security_headers(resp, r);
	if (r->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->retry_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (r->www_authenticate)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        "Bearer realm=\"taskjet\"");
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	guard_reply_queued(conn);
	return ret;
}

/* ---- dispatch ---- */

static enum http_method
method_bit(const char *m)
{
	static const struct {
		const char *name;
		enum http_method bit;
	} methods[] = {
		{ MHD_HTTP_METHOD_GET, HTTP_GET },         { MHD_HTTP_METHOD_HEAD, HTTP_HEAD },
		{ MHD_HTTP_METHOD_POST, HTTP_POST },       { MHD_HTTP_METHOD_PUT, HTTP_PUT },
		{ MHD_HTTP_METHOD_DELETE, HTTP_DELETE },   { MHD_HTTP_METHOD_PATCH, HTTP_PATCH },
		{ MHD_HTTP_METHOD_OPTIONS, HTTP_OPTIONS },
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].bit;
	return HTTP_OTHER;
}

static const struct http_route *
find_route(const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct http_route *rt = &routes[i];

		if (((rt->flags & HTTP_ROUTE_PREFIX) != 0
		         ? strncmp(url, rt->path, strlen(rt->path)) == 0
		         : strcmp(url, rt->path) == 0) &&
		    (rt->match == NULL || rt->match(url)))
			return rt;
	}
	return NULL;
}

/* "GET, HEAD, POST" for an Allow header, from a method set. */
static const char *
allow_text(unsigned methods)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = { { HTTP_GET, "GET" },        { HTTP_HEAD, "HEAD" },
		      { HTTP_POST, "POST" },      { HTTP_PUT, "PUT" },
		      { HTTP_DELETE, "DELETE" },  { HTTP_PATCH, "PATCH" },
		      { HTTP_OPTIONS, "OPTIONS" } };
	/* Read back in the same call, on the same thread. */
	static __thread char buf[64];
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((methods & names[i].bit) != 0)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", o > 0 ? ", " : "",
			                      names[i].name);
	return buf;
}

/*
 * The first call for a request (headers only): route it and apply the
 * rules, so what will be refused is refused before any body is read.
 * False with req->reply filled when it is answered already.
 */
static bool
admit(struct http_server *s, struct http_request *req, struct reply *r)
{
	const char *cl;

	req->route = find_route(req->url);
	if (req->route == NULL) {
		reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint: %.200s", req->url);
		return false;
	}
	if ((req->route->methods & req->method_bit) == 0) {
		r->allow = allow_text(req->route->methods);
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use %s", r->allow);
		return false;
	}
	if (!http_policy_allows(s, req, r))
		return false;
	cl = http_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && strtoull(cl, NULL, 10) > s->max_body) {
		reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE,
		            "the body is larger than http.max_body (%zu bytes)", s->max_body);
		return false;
	}
	return true;
}

/*
 * The whole request is in: run its handler here (true: the reply is
 * ready to send), or hand it to the pool with the connection suspended
 * (false: libmicrohttpd calls again once the pool resumes it, and only
 * then is the reply read, whatever the pool's timing).
 */
static bool
dispatch(struct http_server *s, struct http_request *req)
{
	req->dispatched = true;
	guard_busy(req->conn);
	if ((req->route->flags & HTTP_ROUTE_SLOW) == 0) {
		http_run_handler(s, req);
		return true;
	}
	MHD_suspend_connection(req->conn);
	if (offload_submit(s->offload, req))
		return false;
	reply_error(&req->reply, MHD_HTTP_SERVICE_UNAVAILABLE,
	            http_shutting_down(s) ? "shutting down"
	                                  : "too many requests waiting for the server");
	__atomic_store_n(&req->reply_ready, true, __ATOMIC_RELEASE);
	MHD_resume_connection(req->conn);
	return false;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_request *req = *con_cls;
	enum MHD_Result ret;

	if (req == NULL) {
		req = xcalloc(1, sizeof(*req));
		*con_cls = req;
		req->conn = conn;
		req->url = xstrdup(url);
		req->method = method;
		req->method_bit = method_bit(method);
		if (admit(s, req, &req->reply))
			return MHD_YES;
		goto send; /* refused before any body is read */
	}
	if (__atomic_load_n(&req->reply_ready, __ATOMIC_ACQUIRE))
		goto send; /* the pool is done and resumed the connection */
	if (*upload_data_size > 0) {
		/* Chunked bodies have no Content-Length: bound them here. */
		if (!req->too_big && req->body.len + *upload_data_size <= s->max_body)
			mbuf_put(&req->body, upload_data, *upload_data_size);
		else
			req->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->dispatched)
		return MHD_YES; /* not resumed by the pool yet */
	if (req->too_big) {
		reply_error(&req->reply, MHD_HTTP_CONTENT_TOO_LARGE,
		            "the body is larger than http.max_body (%zu bytes)", s->max_body);
		goto send;
	}
	if (!dispatch(s, req))
		return MHD_YES; /* suspended; called again once resumed */
send:
	log_debug("http: %s %s -> %u", method, req->url, req->reply.status);
	ret = send_reply(conn, &req->reply);
	free(req->reply.body.data);
	req->reply.body.data = NULL;
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct http_request *req = *con_cls;

	guard_request_done(conn);
	if (req == NULL)
		return;
	free(req->url);
	free(req->body.data);
	free(req->reply.body.data);
	free(req);
	*con_cls = NULL;
}

/* libmicrohttpd's own messages, as warnings; a flood (every refused
 * connection says so) is cut to a line per interval. */
static void TJ_PRINTF(2, 0) on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	static int64_t next_ms;
	static unsigned long suppressed;
	int64_t now = clock_mono_ms(), due;
	char msg[512];
	size_t n;

	due = __atomic_load_n(&next_ms, __ATOMIC_RELAXED);
	if (now < due || !__atomic_compare_exchange_n(&next_ms, &due, now + MHD_LOG_INTERVAL_MS,
	                                              false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&suppressed, 1, __ATOMIC_RELAXED);
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	n = __atomic_exchange_n(&suppressed, 0, __ATOMIC_RELAXED);
	if (n > 0)
		log_warn("http: %s (and %zu more messages in the last %d s)", msg, n,
		         MHD_LOG_INTERVAL_MS / 1000);
	else
		log_warn("http: %s", msg);
}

/* ---- lifecycle ---- */

static unsigned
event_flags(bool ipv6)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
	                 MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_IPv6 : 0);

	/* epoll where the library has it (Debian's does), else poll. */
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	else
		flags |= MHD_USE_POLL;
	return flags;
}

int
http_start(const struct http_env *env, struct http_server **s_r)
{
	const struct cfg_http *hc = &env->cfg->http;
	struct http_server *s = NULL;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	bool ipv6 = false;
	char host[64];
	int port, rc = 0;

	*s_r = NULL;
	if (hc->listen == NULL)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (cfg_parse_listen(hc->listen, host, sizeof(host), &port) < 0)
		return -EINVAL; /* the config loader has checked it already */
	if (hc->listen[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, host, &a->sin6_addr);
		ipv6 = true;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &a->sin_addr);
	}

	s = xcalloc(1, sizeof(*s));
	http_env_init(s, env);
	s->max_body = (size_t)hc->max_body;
	s->hosts = hc->hosts;
	s->host_count = hc->host_count;
	if (hc->token_file != NULL) {
		char why[512];

		rc = secret_file_read("http.token_file", hc->token_file, &s->token, &s->token_len,
		                      why, sizeof(why));
		if (rc < 0) {
			log_err("http: %s", why);
			rc = -EINVAL; /* a configuration problem, whatever the cause */
			goto out;
		}
	}
	rc = guard_start(HTTP_MAX_CONNECTIONS, &s->guard);
	if (rc == 0)
		rc = readiness_start(s, &s->readiness);
	if (rc == 0)
		rc = offload_start(s, HTTP_OFFLOAD_THREADS, HTTP_OFFLOAD_QUEUE, &s->offload);
	if (rc == 0)
		rc = overview_start(s);
	if (rc < 0) {
		log_err("http: cannot start: %s", strerror(-rc));
		goto out;
	}
	errno = 0;
	s->daemon = MHD_start_daemon(
	    event_flags(ipv6), (uint16_t)port, guard_accept, s->guard, on_request, s,
	    /* First, so MHD logs nothing on its own. */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)HTTP_EVENT_THREADS,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
	    guard_on_connection, s->guard,
	    /* Room above the guard's limit for connections it is evicting. */
	    MHD_OPTION_CONNECTION_LIMIT, guard_limit(s->guard) + 64, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)(HTTP_DEADLINE_MS / 1000), MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE, 512u, MHD_OPTION_END);
	if (s->daemon == NULL) {
		rc = errno != 0 ? -errno : -EADDRINUSE;
		if (!hc->listen_set) {
			log_warn("http: cannot listen on the default %s (%s); running "
			         "without the HTTP endpoint (set http.listen)",
			         hc->listen, strerror(-rc));
			rc = 0;
		} else {
			log_err("http: cannot listen on %s: %s", hc->listen, strerror(-rc));
		}
		goto out;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info != NULL ? info->port : port;
	log_notice("http: listening on %s%s%s:%d%s", ipv6 ? "[" : "", host, ipv6 ? "]" : "",
	           s->port,
	           s->token != NULL ? " (bearer token required for changes and dead letters)" : "");
	*s_r = s;
	s = NULL;
out:
	http_stop(s);
	return rc;
}

int
http_port(const struct http_server *s)
{
	return s->port;
}

int
http_serve_fd(struct http_server *s, int fd)
{
	struct sockaddr_in lo = { .sin_family = AF_INET };
	enum MHD_Result r;

	lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r = MHD_add_connection(s->daemon, fd, (const struct sockaddr *)&lo, sizeof(lo));
	return r == MHD_YES ? 0 : -EIO;
}

void
http_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	/* Answer or finish every suspended request first: libmicrohttpd
	 * must not be stopped with one still suspended. */
	offload_stop(s->offload);
	readiness_stop(s->readiness);
	guard_stop(s->guard);
	if (s->daemon != NULL)
		MHD_stop_daemon(s->daemon);
	overview_stop(s);
	guard_free(s->guard);
	secret_free(s->token);
	http_env_destroy(s);
	free(s);
}
