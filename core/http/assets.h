/* SPDX-License-Identifier: MIT */
/*
 * Files built into the binary: the dashboard's HTML, CSS, JavaScript and
 * icon, turned into C arrays at build time by scripts/embed-assets (the
 * generated dashboard_assets.c). Static and read-only: thread-safe.
 */
#ifndef TASKJET_HTTP_ASSETS_H
#define TASKJET_HTTP_ASSETS_H

#include <stddef.h>

struct http_asset {
	const char *name; /* the file's name, e.g. "dashboard.js" */
	const char *type; /* its Content-Type */
	const unsigned char *data;
	size_t len;
};

/* Every embedded file; the last entry has name NULL. */
extern const struct http_asset http_assets[];

#endif
