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

/* Our own files only: no inline script or style, no other origin, no
 * framing, no form sent anywhere. (policy.c adds the other headers every
 * reply carries.) */
#define DASHBOARD_CSP                                                               \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct http_asset *
find_asset(const char *name)
{
	for (const struct http_asset *a = http_assets; a->name != NULL; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

void
handle_dashboard(struct http_server *s, struct http_request *req, struct reply *r)
{
	const struct http_asset *a;

	(void)s;
	if (strcmp(req->url, "/") == 0)
		a = find_asset("index.html");
	else
		a = find_asset(req->url + strlen(ASSET_PREFIX));
	if (a == NULL) {
		reply_error(r, MHD_HTTP_NOT_FOUND, "no such file: %.200s", req->url);
		return;
	}
	r->status = MHD_HTTP_OK;
	r->type = a->type;
	r->csp = DASHBOARD_CSP;
	mbuf_put(&r->body, (const char *)a->data, a->len);
}
