/* SPDX-License-Identifier: MIT */
/*
 * The security rules of the HTTP endpoint, the same for every route: who
 * may change something or read task payloads (a bearer token), from where
 * (this server's own origin, under a name that is this server's), and in
 * what form (JSON, which a page on another site cannot send without asking
 * first); and the headers that keep a browser from caching, sniffing,
 * framing or embedding what we answer.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/internal.h"

/* For an API answer: nothing may load from it, nothing may frame it. */
#define API_CSP "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

bool
http_method_changes(enum http_method m)
{
	return (m & (HTTP_GET | HTTP_HEAD | HTTP_OPTIONS)) == 0;
}

/* Constant time in the token's length, so timing does not leak it. */
static bool
authorized(const struct http_server *s, const struct http_request *req)
{
	const char *h = http_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	unsigned char diff = 0;
	size_t len;

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

/*
 * Is the Host header one of this server's names? An address (v4, or v6 in
 * brackets), localhost, or a name in http.hosts. A page that rebinds its
 * own name to 127.0.0.1 is same-origin to the browser, but still sends its
 * own name here. No Host at all is no browser.
 */
static bool
host_allowed(const struct http_server *s, const char *host)
{
	unsigned char addr[16];
	char name[256];
	const char *end;
	size_t n;

	if (host == NULL)
		return true;
	if (host[0] == '[') {
		end = strchr(host, ']');
		n = end != NULL ? (size_t)(end - host - 1) : 0;
		if (n == 0 || n >= sizeof(name))
			return false;
		memcpy(name, host + 1, n);
		name[n] = '\0';
		return inet_pton(AF_INET6, name, addr) == 1;
	}
	end = strrchr(host, ':');
	n = end != NULL ? (size_t)(end - host) : strlen(host);
	if (n == 0 || n >= sizeof(name))
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	if (inet_pton(AF_INET, name, addr) == 1 || strcasecmp(name, "localhost") == 0)
		return true;
	for (size_t i = 0; i < s->host_count; i++)
		if (strcasecmp(name, s->hosts[i]) == 0)
			return true;
	return false;
}

/* Sent from this server's own pages (or not from a browser at all)? */
static bool
same_origin(const struct http_request *req, char *why, size_t len)
{
	const char *site = http_header(req, "Sec-Fetch-Site");
	const char *origin = http_header(req, "Origin");
	const char *host = http_header(req, MHD_HTTP_HEADER_HOST);
	const char *rest;

	if (site != NULL && strcasecmp(site, "same-origin") != 0 && strcasecmp(site, "none") != 0) {
		snprintf(why, len, "Sec-Fetch-Site is %.40s", site);
		return false;
	}
	if (origin == NULL)
		return true;
	rest = strncasecmp(origin, "http://", 7) == 0    ? origin + 7
	       : strncasecmp(origin, "https://", 8) == 0 ? origin + 8
	                                                 : NULL;
	if (rest == NULL || host == NULL || strcasecmp(rest, host) != 0) {
		snprintf(why, len, "Origin %.100s is not this server", origin);
		return false;
	}
	return true;
}

/* application/json, with or without parameters ("; charset=utf-8"). */
static bool
is_json(const char *type)
{
	size_t n;

	if (type == NULL)
		return false;
	while (*type == ' ' || *type == '\t')
		type++;
	n = strcspn(type, "; \t");
	return n == 16 && strncasecmp(type, "application/json", 16) == 0;
}

bool
http_policy_allows(struct http_server *s, const struct http_request *req, struct reply *r)
{
	bool changes = http_method_changes(req->method_bit);
	const char *host = http_header(req, MHD_HTTP_HEADER_HOST);
	char why[160];

	if (!changes && (req->route->flags & HTTP_ROUTE_PAYLOADS) == 0)
		return true;
	if (s->token != NULL && !authorized(s, req)) {
		reply_error(r, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is required");
		r->www_authenticate = true;
		return false;
	}
	if (!host_allowed(s, host)) {
		reply_error(r, MHD_HTTP_FORBIDDEN,
		            "Host \"%.100s\" is not a name of this server: use its address, or "
		            "list the name in http.hosts",
		            host);
		return false;
	}
	if (!changes)
		return true;
	if (!same_origin(req, why, sizeof(why))) {
		reply_error(r, MHD_HTTP_FORBIDDEN, "cross-site request refused: %s", why);
		return false;
	}
	if (!is_json(http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE))) {
		reply_error(r, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
		            "a request that changes something must be sent as Content-Type: "
		            "application/json");
		return false;
	}
	return true;
}

void
http_security_headers(struct MHD_Response *resp, const struct reply *r)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Content-Security-Policy", r->csp != NULL ? r->csp : API_CSP);
}
