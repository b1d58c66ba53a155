/* SPDX-License-Identifier: MIT */
/*
 * The operator HTTP endpoint's server: libmicrohttpd set up and torn down,
 * each request authorised, bounded and dispatched to its handler, replies
 * sent. The handlers live in the files named after what they serve.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/internal.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Bounds on what one client can hold: connections and idle time. */
#define HTTP_MAX_CONNECTIONS 64
#define HTTP_IDLE_TIMEOUT_S 30
#define TOKEN_MAX 4096

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
		return MHD_NO;
	}
	r->body.data = NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->retry_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (r->www_authenticate)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		                        "Bearer realm=\"taskjet\"");
	for (const char *const *h = r->headers; h != NULL && h[0] != NULL; h += 2)
		MHD_add_response_header(resp, h[0], h[1]);
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- dispatch ---- */

static bool
is_read_only(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	       strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/* Constant time in the token's length, so timing does not leak it. */
static bool
authorized(struct http_server *s, struct MHD_Connection *conn)
{
	const char *h;
	size_t len;
	unsigned char diff = 0;

	if (s->token == NULL)
		return true;
	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	len = strlen(h);
	for (size_t i = 0; i < s->token_len; i++)
		diff |= (unsigned char)(s->token[i] ^ (i < len ? h[i] : 0));
	return diff == 0 && len == s->token_len;
}

static void
route_request(struct http_server *s, struct MHD_Connection *conn, struct request *req,
              const char *url, const char *method, struct reply *r)
{
	bool get = is_read_only(method);

	if (strcmp(url, "/healthz") == 0 && get) {
		handle_healthz(s, r);
	} else if (strcmp(url, "/readyz") == 0 && get) {
		handle_readyz(s, r);
	} else if (strcmp(url, "/metrics") == 0 && get) {
		handle_metrics(s, r);
	} else if (strcmp(url, "/stats") == 0 && get) {
		handle_stats(s, r);
	} else if (strcmp(url, "/api/v1/tasks") == 0 && strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
		handle_post_task(s, req, r);
	} else if (handle_dlq(s, conn, url, method, r) || handle_overview(s, url, method, r) ||
	           handle_dashboard(s, url, method, r)) {
		/* answered */
	} else if (strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
	           strcmp(url, "/metrics") == 0 || strcmp(url, "/stats") == 0) {
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		r->allow = "GET, HEAD";
	} else if (strcmp(url, "/api/v1/tasks") == 0) {
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
		r->allow = "POST";
	} else {
		reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint: %.200s", url);
	}
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct request *req = *con_cls;
	struct reply r = { 0 };
	const char *cl;
	enum MHD_Result ret;

	if (req == NULL) {
		/* First call: headers only. Refuse early what will be refused
		 * anyway, before reading a body. */
		req = xcalloc(1, sizeof(*req));
		*con_cls = req;
		if (!is_read_only(method) && !authorized(s, conn)) {
			reply_error(&r, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is required");
			r.www_authenticate = true;
			goto send;
		}
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL && strtoull(cl, NULL, 10) > s->max_body) {
			reply_error(&r, MHD_HTTP_CONTENT_TOO_LARGE,
			            "the body is larger than http.max_body (%zu bytes)",
			            s->max_body);
			goto send;
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/* Chunked bodies have no Content-Length: bound them here. */
		if (!req->too_big && req->body.len + *upload_data_size <= s->max_body)
			mbuf_put(&req->body, upload_data, *upload_data_size);
		else
			req->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->too_big) {
		reply_error(&r, MHD_HTTP_CONTENT_TOO_LARGE,
		            "the body is larger than http.max_body (%zu bytes)", s->max_body);
		goto send;
	}
	route_request(s, conn, req, url, method, &r);
send:
	log_debug("http: %s %s -> %u", method, url, r.status);
	ret = send_reply(conn, &r);
	free(r.body.data);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	if (req == NULL)
		return;
	free(req->body.data);
	free(req);
	*con_cls = NULL;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_warn("http: %s", msg);
}

/* ---- lifecycle ---- */

static int
read_token(const char *path, char **token_r, size_t *len_r)
{
	char buf[TOKEN_MAX + 1];
	size_t n = 0, start = 0;
	ssize_t got;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (n < sizeof(buf) && (got = read(fd, buf + n, sizeof(buf) - n)) > 0)
		n += (size_t)got;
	if (n == sizeof(buf)) {
		rc = -EFBIG;
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	                 buf[n - 1] == '\t'))
		n--;
	while (start < n && (buf[start] == ' ' || buf[start] == '\t' || buf[start] == '\n' ||
	                     buf[start] == '\r'))
		start++;
	if (start == n) {
		rc = -ENODATA;
		goto out;
	}
	*token_r = xstrndup(buf + start, n - start);
	*len_r = n - start;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

int
http_start(const struct http_env *env, struct http_server **s_r)
{
	const struct cfg_http *hc = &env->cfg->http;
	struct http_server *s = NULL;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                 MHD_USE_POLL | MHD_USE_ERROR_LOG;
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
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, host, &a->sin_addr);
	}

	s = xcalloc(1, sizeof(*s));
	s->env = *env;
	s->max_body = (size_t)hc->max_body;
	if (hc->token_file != NULL) {
		rc = read_token(hc->token_file, &s->token, &s->token_len);
		if (rc < 0) {
			log_err("http: token_file %s: %s", hc->token_file,
			        rc == -ENODATA ? "empty"
			        : rc == -EFBIG ? "longer than 4096 bytes"
			                       : strerror(-rc));
			goto out;
		}
	}
	rc = overview_start(s);
	if (rc < 0)
		goto out;
	errno = 0;
	s->daemon = MHD_start_daemon(
	    flags, (uint16_t)port, NULL, NULL, on_request, s,
	    /* First, so MHD logs nothing on its own. */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_END);
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
	log_notice("http: listening on %s%s%s:%d%s", flags & MHD_USE_IPv6 ? "[" : "", host,
	           flags & MHD_USE_IPv6 ? "]" : "", s->port,
	           s->token != NULL ? " (bearer token required for changes)" : "");
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

void
http_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	if (s->daemon != NULL)
		MHD_stop_daemon(s->daemon);
	overview_stop(s);
	if (s->token != NULL)
		explicit_bzero(s->token, s->token_len);
	free(s->token);
	free(s);
}
