/* SPDX-License-Identifier: MIT */
/*
 * bench_latency: a handler for bench/run.sh that measures publish-to-handled
 * latency. Each payload starts with the publisher's CLOCK_MONOTONIC stamp in
 * nanoseconds as 20 decimal digits (tjbench paced); the handler stores
 * now - stamp in an array allocated at init, and fini writes the
 * percentiles to the file named by config "out".
 *
 * config: {"out": "/path/latency.txt", "capacity": 100000}
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <taskjet/plugin.h>

TJ_PLUGIN_DECLARE("bench_latency", "1.0.0", "records publish-to-handled latency (benchmarks)");

struct lat {
	const struct tj_host_api *api;
	char *out;
	int64_t *samples; /* microseconds */
	size_t capacity;
	size_t count; /* atomic: next free slot, may pass capacity */
	size_t invalid; /* atomic: payloads without a stamp */
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static tj_verdict
handle(tj_task *task, void *userdata)
{
	struct lat *l = userdata;
	int64_t now = now_ns(), stamp = 0;
	size_t len = 0, i;
	const char *p = l->api->task_payload(task, &len);

	for (i = 0; i < len && i < 20 && p[i] >= '0' && p[i] <= '9'; i++)
		stamp = stamp * 10 + (p[i] - '0');
	if (i != 20) {
		__atomic_fetch_add(&l->invalid, 1, __ATOMIC_RELAXED);
		return TJ_DONE;
	}
	i = __atomic_fetch_add(&l->count, 1, __ATOMIC_RELAXED);
	if (i < l->capacity)
		l->samples[i] = (now - stamp) / 1000;
	return TJ_DONE;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t
pct(const int64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return v[i < n ? i : n - 1];
}

int
tj_plugin_init(tj_plugin *self, const struct tj_host_api *api, void **userdata_r)
{
	struct lat *l;
	const char *out = NULL;
	int64_t cap = 100000;
	int rc;

	if (api->config_string(self, "out", &out) != 0) {
		tj_err(api, self, "config \"out\" (a file path) is required");
		return -EINVAL;
	}
	if (api->config_integer(self, "capacity", &cap) == 0 && (cap < 1 || cap > 100000000)) {
		tj_err(api, self, "config \"capacity\" out of range");
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ENOMEM;
	l->api = api;
	l->out = strdup(out);
	l->capacity = (size_t)cap;
	l->samples = calloc(l->capacity, sizeof(*l->samples));
	if (l->out == NULL || l->samples == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Touch the array now so page faults are not measured as latency. */
	memset(l->samples, 0, l->capacity * sizeof(*l->samples));
	rc = api->register_handler(self, "bench_latency", handle, l);
	if (rc != 0)
		goto fail;
	*userdata_r = l;
	return 0;
fail:
	free(l->samples);
	free(l->out);
	free(l);
	return rc;
}

void
tj_plugin_fini(void *userdata)
{
	struct lat *l = userdata;
	size_t n = l->count < l->capacity ? l->count : l->capacity;
	FILE *fp = fopen(l->out, "w");

	if (fp != NULL) {
		if (n > 0) {
			qsort(l->samples, n, sizeof(*l->samples), cmp_i64);
			fprintf(fp,
			        "count %zu invalid %zu p50_us %" PRId64 " p90_us %" PRId64
			        " p99_us %" PRId64 " p999_us %" PRId64 " max_us %" PRId64 "\n",
			        n, l->invalid, pct(l->samples, n, 0.50), pct(l->samples, n, 0.90),
			        pct(l->samples, n, 0.99), pct(l->samples, n, 0.999),
			        l->samples[n - 1]);
		} else {
			fprintf(fp, "count 0 invalid %zu\n", l->invalid);
		}
		fclose(fp);
	}
	free(l->samples);
	free(l->out);
	free(l);
}
