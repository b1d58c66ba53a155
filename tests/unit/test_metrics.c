/* SPDX-License-Identifier: MIT */
/* Histograms and the Prometheus text rendering. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task/metrics.h"
#include "task/router.h"
#include "testing.h"

static const uint64_t bounds[] = { 10, 100, 1000 };

TEST(observations_land_in_the_first_bucket_that_holds_them)
{
	struct metrics_hist h;

	metrics_hist_init(&h, bounds, 3, 1);
	metrics_hist_observe(&h, 0);
	metrics_hist_observe(&h, 10); /* le is inclusive */
	metrics_hist_observe(&h, 11);
	metrics_hist_observe(&h, 1000);
	metrics_hist_observe(&h, 1001);
	metrics_hist_observe(&h, UINT64_C(1) << 40);
	CHECK_INT(h.counts[0], 2);
	CHECK_INT(h.counts[1], 1);
	CHECK_INT(h.counts[2], 1);
	CHECK_INT(h.counts[3], 2);
	CHECK_INT(h.sum, 0 + 10 + 11 + 1000 + 1001 + (INT64_C(1) << 40));
}

TEST(histogram_renders_cumulative_buckets_sum_and_count)
{
	struct metrics_label l = { "route", "r1" };
	struct metrics_hist h;
	struct mbuf b = { 0 };

	/* Microseconds exposed as seconds. */
	metrics_hist_init(&h, bounds, 3, 1e-6);
	metrics_hist_observe(&h, 5);
	metrics_hist_observe(&h, 50);
	metrics_hist_observe(&h, 5000);
	metrics_hist_render(&b, "x_seconds", &l, 1, &h);
	CHECK_STR(b.data, "x_seconds_bucket{route=\"r1\",le=\"1e-05\"} 1\n"
	                  "x_seconds_bucket{route=\"r1\",le=\"0.0001\"} 2\n"
	                  "x_seconds_bucket{route=\"r1\",le=\"0.001\"} 2\n"
	                  "x_seconds_bucket{route=\"r1\",le=\"+Inf\"} 3\n"
	                  "x_seconds_sum{route=\"r1\"} 0.005055\n"
	                  "x_seconds_count{route=\"r1\"} 3\n");
	free(b.data);
}

TEST(label_values_are_escaped_and_integers_print_plainly)
{
	struct metrics_label l[2] = { { "a", "q\"b\\s\nn" }, { "b", "plain" } };
	struct mbuf b = { 0 };

	metrics_family(&b, "t_total", "counter", "Things.");
	metrics_sample(&b, "t_total", l, 2, 123456789012.0);
	metrics_sample(&b, "t_up", NULL, 0, 1);
	CHECK_STR(b.data, "# HELP t_total Things.\n# TYPE t_total counter\n"
	                  "t_total{a=\"q\\\"b\\\\s\\nn\",b=\"plain\"} 123456789012\n"
	                  "t_up 1\n");
	free(b.data);
}

TEST(mbuf_grows_and_json_strings_are_escaped)
{
	struct mbuf b = { 0 };

	for (int i = 0; i < 1000; i++)
		mbuf_printf(&b, "%d,", i % 10);
	CHECK_INT(b.len, 2000);
	CHECK_INT(strlen(b.data), 2000);
	free(b.data);
	memset(&b, 0, sizeof(b));
	mbuf_json_string(&b, "a\"b\n");
	CHECK_STR(b.data, "\"a\\\"b\\n\"");
	free(b.data);
	/* Always valid JSON: control characters escaped, bytes that are not
	 * UTF-8 replaced. */
	memset(&b, 0, sizeof(b));
	mbuf_json_string(&b, "\x01x\xff\xfe");
	CHECK_STR(b.data, "\"\\u0001x\\ufffd\\ufffd\"");
	free(b.data);
}

TEST(quantiles_interpolate_within_the_bucket_like_prometheus)
{
	struct metrics_hist h;
	uint64_t none[4] = { 0 };

	/* Microseconds exposed as seconds; bounds 10, 100, 1000 us. */
	metrics_hist_init(&h, bounds, 3, 1e-6);
	CHECK_TRUE(isnan(metrics_hist_quantile(&h, h.counts, 0.5)));
	for (int i = 0; i < 4; i++)
		metrics_hist_observe(&h, 5); /* (0, 10] */
	for (int i = 0; i < 4; i++)
		metrics_hist_observe(&h, 50); /* (10, 100] */
	metrics_hist_observe(&h, 500); /* (100, 1000] */
	metrics_hist_observe(&h, 5000); /* +Inf */
	/* Rank 5 of 10: the first of four in (10, 100]: 10 + 90 * 1/4. */
	CHECK_RANGE(metrics_hist_quantile(&h, h.counts, 0.5), 32.5e-6 - 1e-12, 32.5e-6 + 1e-12);
	/* Rank 2 of 10, in the first bucket, which starts at 0. */
	CHECK_RANGE(metrics_hist_quantile(&h, h.counts, 0.2), 5e-6 - 1e-12, 5e-6 + 1e-12);
	/* Rank 9: all of (100, 1000]. */
	CHECK_RANGE(metrics_hist_quantile(&h, h.counts, 0.9), 1000e-6 - 1e-12, 1000e-6 + 1e-12);
	/* Rank 9.9 falls in +Inf: the highest bound is all that is known. */
	CHECK_RANGE(metrics_hist_quantile(&h, h.counts, 0.99), 1000e-6 - 1e-12, 1000e-6 + 1e-12);
	/* Other counts over the same bounds: a window's increments. */
	CHECK_TRUE(isnan(metrics_hist_quantile(&h, none, 0.99)));
	none[1] = 2;
	CHECK_RANGE(metrics_hist_quantile(&h, none, 0.5), 55e-6 - 1e-12, 55e-6 + 1e-12);
	/* Out-of-range q is clamped. */
	CHECK_RANGE(metrics_hist_quantile(&h, none, 7), 100e-6 - 1e-12, 100e-6 + 1e-12);
}

TEST(per_route_histograms_follow_the_route)
{
	struct cfg_route rc[2] = { { .name = "a" }, { .name = "b" } };
	struct route routes[2] = { { .cfg = &rc[0] }, { .cfg = &rc[1] } };
	struct router router = { .routes = routes, .count = 2 };
	struct route stranger = { .cfg = &rc[0] };
	struct metrics *m = NULL;

	CHECK_INT(metrics_create(&router, &m), 0);
	if (m == NULL)
		return;
	metrics_observe_handler(m, &routes[1], 2000, 3);
	metrics_observe_handler(m, &routes[1], 20000000, 1);
	metrics_observe_fetch(m, &routes[0], 7);
	/* Not of this router, or no metrics at all: ignored, no crash. */
	metrics_observe_handler(m, &stranger, 1, 1);
	metrics_observe_handler(NULL, &routes[0], 1, 1);
	metrics_observe_fetch(m, NULL, 1);

	CHECK_INT(metrics_handler_hist(m, 0)->sum, 0);
	CHECK_INT(metrics_handler_hist(m, 1)->sum, 20002000);
	CHECK_INT(metrics_handler_hist(m, 1)->counts[1], 1); /* <= 5 ms */
	CHECK_INT(metrics_attempt_hist(m, 1)->counts[0], 1); /* attempt 1 */
	CHECK_INT(metrics_attempt_hist(m, 1)->counts[2], 1); /* attempt 3 */
	CHECK_INT(metrics_fetch_hist(m, 0)->sum, 7);
	CHECK_INT(metrics_fetch_hist(m, 1)->sum, 0);
	metrics_destroy(m);
	metrics_destroy(NULL);
}

int
main(void)
{
	RUN(observations_land_in_the_first_bucket_that_holds_them);
	RUN(histogram_renders_cumulative_buckets_sum_and_count);
	RUN(label_values_are_escaped_and_integers_print_plainly);
	RUN(mbuf_grows_and_json_strings_are_escaped);
	RUN(quantiles_interpolate_within_the_bucket_like_prometheus);
	RUN(per_route_histograms_follow_the_route);
	return testing_done();
}
