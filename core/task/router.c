/* SPDX-License-Identifier: MIT */
/* Routes built from the config and looked up by subject. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "task/router.h"
#include "util/subject.h"
#include "util/xalloc.h"

int
router_create(const struct cfg *cfg, struct router **router_r)
{
	struct router *router = NULL;
	int rc = 0;

	if (cfg == NULL || router_r == NULL) {
		rc = -EINVAL;
		goto out;
	}
	router = xcalloc(1, sizeof(*router));
	router->routes = xcalloc(cfg->route_count, sizeof(*router->routes));
	router->count = cfg->route_count;
	for (size_t i = 0; i < cfg->route_count; i++) {
		const struct cfg_route *cr = &cfg->routes[i];
		struct route *route = &router->routes[i];

		/* A validated config never gets here; a hand-built one might. */
		if (cr->name == NULL || cr->subject == NULL) {
			log_err("route %zu: missing name or subject", i);
			rc = -EINVAL;
			goto out;
		}
		route->cfg = cr;
		route->stream = cfg_route_stream(cfg, cr);
		if (route->stream == NULL) {
			log_err("route %s: unknown stream \"%s\"", cr->name,
			        cr->stream != NULL ? cr->stream : "");
			rc = -EINVAL;
			goto out;
		}
	}
	*router_r = router;
	router = NULL;
out:
	router_destroy(router);
	return rc;
}

void
router_destroy(struct router *router)
{
	if (router == NULL)
		return;
	free(router->routes);
	free(router);
}

struct route *
router_lookup(const struct router *router, const char *subject)
{
	if (router == NULL || subject == NULL)
		return NULL;
	for (size_t i = 0; i < router->count; i++)
		if (subject_matches(router->routes[i].cfg->subject, subject))
			return &router->routes[i];
	return NULL;
}

struct route *
router_find(const struct router *router, const char *name)
{
	if (router == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < router->count; i++)
		if (strcmp(router->routes[i].cfg->name, name) == 0)
			return &router->routes[i];
	return NULL;
}

uint64_t
route_stats_dead_lettered(const struct route_stats *st)
{
	uint64_t n = 0;

	for (int i = 0; i < DLQ_REASON_COUNT; i++)
		n += __atomic_load_n(&st->dead_lettered[i], __ATOMIC_RELAXED);
	return n;
}
