/* SPDX-License-Identifier: MIT */
/* Router construction, first-match lookup in config order, reason names. */
#include <errno.h>
#include <stddef.h>

#include "task/router.h"
#include "testing.h"

static char *stream_subjects[] = { "orders.>", "mail.>" };
static struct cfg_stream streams[] = {
	{ .name = "ORDERS", .subjects = stream_subjects, .subject_count = 1 },
	{ .name = "MAIL", .subjects = stream_subjects + 1, .subject_count = 1 },
};
/* Order matters: the specific route shadows the wildcards after it. */
static struct cfg_route routes[] = {
	{ .name = "refund",
	  .stream = "ORDERS",
	  .subject = "orders.refund",
	  .plugin = "refunds",
	  .max_attempts = 3 },
	{ .name = "orders-eu",
	  .stream = "ORDERS",
	  .subject = "orders.*.eu",
	  .plugin = "orders",
	  .max_attempts = 5 },
	{ .name = "orders",
	  .stream = "ORDERS",
	  .subject = "orders.>",
	  .plugin = "orders",
	  .max_attempts = 5 },
	{ .name = "mail",
	  .stream = "MAIL",
	  .subject = "mail.*",
	  .plugin = "mailer",
	  .max_attempts = 2 },
	{ .name = "never",
	  .stream = "ORDERS",
	  .subject = "orders.refund",
	  .plugin = "shadowed",
	  .max_attempts = 1 },
};
static struct cfg test_cfg = {
	.streams = streams,
	.stream_count = 2,
	.routes = routes,
	.route_count = sizeof(routes) / sizeof(routes[0]),
};

TEST(create_builds_one_route_per_cfg_route_in_order)
{
	struct router *router = NULL;

	CHECK_INT(router_create(&test_cfg, &router), 0);
	if (router == NULL)
		return;
	CHECK_INT(router->count, test_cfg.route_count);
	for (size_t i = 0; i < router->count; i++) {
		const struct route *r = &router->routes[i];

		CHECK_TRUE(r->cfg == &routes[i]);
		CHECK_TRUE(r->plugin == NULL);
		CHECK_TRUE(r->handler == NULL);
		CHECK_INT(r->stats.received + r->stats.acked + r->stats.retried, 0);
	}
	CHECK_TRUE(router->routes[0].stream == &streams[0]);
	CHECK_TRUE(router->routes[3].stream == &streams[1]);
	router_destroy(router);
}

TEST(lookup_returns_first_match_in_config_order)
{
	static const struct {
		const char *subject;
		const char *route; /* NULL: no route */
	} cases[] = {
		{ "orders.refund", "refund" }, /* not "never", not "orders" */
		{ "orders.new.eu", "orders-eu" }, /* '*' is one token */
		{ "orders.new.us", "orders" }, /* falls through to '>' */
		{ "orders.new.eu.x", "orders" }, /* '*' does not span tokens */
		{ "orders.refund.eu", "orders-eu" },
		{ "orders", NULL }, /* '>' needs at least one token */
		{ "mail.welcome", "mail" },
		{ "mail.welcome.html", NULL },
		{ "mail", NULL },
		{ "other.thing", NULL },
	};
	struct router *router = NULL;

	CHECK_INT(router_create(&test_cfg, &router), 0);
	if (router == NULL)
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route *r = router_lookup(router, cases[i].subject);
		const char *got = r != NULL ? r->cfg->name : NULL;

		if (cases[i].route == NULL ? got != NULL
		                           : got == NULL || strcmp(got, cases[i].route) != 0)
			testing_fail(__FILE__, __LINE__, "lookup(\"%s\") = %s, expected %s",
			             cases[i].subject, got ? got : "NULL",
			             cases[i].route ? cases[i].route : "NULL");
	}
	CHECK_TRUE(router_lookup(router, NULL) == NULL);
	router_destroy(router);
}

/* The name of the route `subject` goes to with `list` in this order. */
static const char *
first_match(struct cfg_route *list, size_t n, const char *subject)
{
	struct cfg cfg = {
		.streams = streams, .stream_count = 2, .routes = list, .route_count = n
	};
	struct router *router = NULL;
	const struct route *r;
	const char *name;

	if (router_create(&cfg, &router) != 0)
		return "(router_create failed)";
	r = router_lookup(router, subject);
	name = r != NULL ? r->cfg->name : NULL;
	router_destroy(router);
	return name;
}

/* Config order decides, not how specific a subject is: a wildcard route
 * listed first takes the subjects of an exact (or narrower) one after it,
 * and the other way round. The table above lists the specific route
 * first, so it cannot tell first-match from most-specific. */
TEST(an_earlier_wildcard_wins_over_a_later_exact_route)
{
	struct cfg_route wide_first[] = {
		{ .name = "all", .stream = "ORDERS", .subject = "orders.>", .plugin = "p" },
		{ .name = "star", .stream = "ORDERS", .subject = "orders.*", .plugin = "p" },
		{ .name = "exact", .stream = "ORDERS", .subject = "orders.refund", .plugin = "p" },
	};
	struct cfg_route narrow_first[] = {
		{ .name = "exact", .stream = "ORDERS", .subject = "orders.refund", .plugin = "p" },
		{ .name = "star", .stream = "ORDERS", .subject = "orders.*", .plugin = "p" },
		{ .name = "all", .stream = "ORDERS", .subject = "orders.>", .plugin = "p" },
	};
	struct cfg_route star_before_exact[] = {
		{ .name = "star", .stream = "ORDERS", .subject = "orders.*", .plugin = "p" },
		{ .name = "exact", .stream = "ORDERS", .subject = "orders.refund", .plugin = "p" },
	};

	CHECK_STR(first_match(wide_first, 3, "orders.refund"), "all");
	CHECK_STR(first_match(wide_first, 3, "orders.new"), "all");
	CHECK_STR(first_match(narrow_first, 3, "orders.refund"), "exact");
	CHECK_STR(first_match(narrow_first, 3, "orders.new"), "star");
	CHECK_STR(first_match(narrow_first, 3, "orders.new.eu"), "all");
	CHECK_STR(first_match(star_before_exact, 2, "orders.refund"), "star");
	CHECK_STR(first_match(star_before_exact + 1, 1, "orders.refund"), "exact");
}

TEST(find_by_name)
{
	struct router *router = NULL;

	CHECK_INT(router_create(&test_cfg, &router), 0);
	if (router == NULL)
		return;
	CHECK_TRUE(router_find(router, "mail") == &router->routes[3]);
	CHECK_TRUE(router_find(router, "orders") == &router->routes[2]);
	CHECK_TRUE(router_find(router, "nope") == NULL);
	CHECK_TRUE(router_find(router, NULL) == NULL);
	router_destroy(router);
}

TEST(create_rejects_unknown_stream_and_handles_empty)
{
	struct cfg_route bad = { .name = "x", .stream = "NOPE", .subject = "x.>" };
	struct cfg cfg = {
		.streams = streams, .stream_count = 2, .routes = &bad, .route_count = 1
	};
	struct cfg empty = { 0 };
	struct router *router = NULL;

	CHECK_INT(router_create(&cfg, &router), -EINVAL);
	CHECK_TRUE(router == NULL);
	CHECK_INT(router_create(&empty, &router), 0);
	if (router == NULL)
		return;
	CHECK_INT(router->count, 0);
	CHECK_TRUE(router_lookup(router, "a.b") == NULL);
	router_destroy(router);
	router_destroy(NULL);
}

TEST(reason_names_round_trip)
{
	static const char *const names[DLQ_REASON_COUNT] = {
		"handler_failed", "attempts_exhausted", "invalid_payload", "no_route",
		"crashed",        "max_deliveries",     "timed_out",
	};

	for (int i = 0; i < DLQ_REASON_COUNT; i++) {
		CHECK_STR(dlq_reason_name((enum dlq_reason)i), names[i]);
		CHECK_INT(dlq_reason_parse(names[i]), i);
	}
	CHECK_TRUE(dlq_reason_name(DLQ_REASON_COUNT) == NULL);
	CHECK_TRUE(dlq_reason_name((enum dlq_reason) - 1) == NULL);
	CHECK_INT(dlq_reason_parse("Handler_Failed"), -1);
	CHECK_INT(dlq_reason_parse(""), -1);
	CHECK_INT(dlq_reason_parse(NULL), -1);
}

int
main(void)
{
	RUN(create_builds_one_route_per_cfg_route_in_order);
	RUN(lookup_returns_first_match_in_config_order);
	RUN(an_earlier_wildcard_wins_over_a_later_exact_route);
	RUN(find_by_name);
	RUN(create_rejects_unknown_stream_and_handles_empty);
	RUN(reason_names_round_trip);
	return testing_done();
}
