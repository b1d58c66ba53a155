/* SPDX-License-Identifier: MIT */
/*
 * The web dashboard: GET / is its page, GET /dashboard/<file> its style,
 * script and icon, all built into the binary (http/assets.h). The page
 * reads the JSON API like any other client (/api/v1/overview, the DLQ
 * API), so it can do nothing a client with the same token could not.
 *
 * Served with a Content Security Policy that allows only our own files:
 * no inline script or style, no other origin, no framing, no forms sent
 * anywhere. Together with same-origin fetches that carry the bearer
 * token, a page elsewhere can neither embed the dashboard nor use it.
 */
#include <string.h>

#include "http/assets.h"
#include "http/internal.h"

#define ASSET_PREFIX "/dashboard/"

static const char *const security_headers[] = {
	"Content-Security-Policy",
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options",
	"nosniff",
	"X-Frame-Options",
	"DENY",
	"Referrer-Policy",
	"no-referrer",
	"Cross-Origin-Opener-Policy",
	"same-origin",
	"Cross-Origin-Resource-Policy",
	"same-origin",
	NULL,
};

static const struct http_asset *
find_asset(const char *name)
{
	for (const struct http_asset *a = http_assets; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

bool
handle_dashboard(struct http_server *s, const char *url, const char *method, struct reply *r)
{
	const struct http_asset *a;

	(void)s;
	if (strcmp(url, "/") == 0)
		a = find_asset("index.html");
	else if (strncmp(url, ASSET_PREFIX, strlen(ASSET_PREFIX)) == 0)
		a = find_asset(url + strlen(ASSET_PREFIX));
	else
		return false;
	if (a == NULL) {
		reply_error(r, MHD_HTTP_NOT_FOUND, "no such file: %.200s", url);
		return true;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		reply_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		r->allow = "GET, HEAD";
		return true;
	}
	r->status = MHD_HTTP_OK;
	r->type = a->type;
	r->headers = security_headers;
	mbuf_put(&r->body, (const char *)a->data, a->len);
	return true;
}
