/* SPDX-License-Identifier: MIT */
/* hello: the smallest useful taskjet handler plugin (see docs/plugins.md). */
#include <errno.h>
#include <stdlib.h>

#include <taskjet/plugin.h>

/* The descriptor the engine reads before running any code: the name must
 * be the file name without ".so". */
TJ_PLUGIN_DECLARE("hello", "1.0.0", "Log a greeting for every task");

/* Per-instance state; one instance per route that uses the plugin. */
struct hello {
	tj_plugin *self; /* valid until tj_plugin_fini() */
	const struct tj_host_api *api; /* likewise */
	const char *greeting; /* engine-owned config string */
};

/* Runs on worker threads, maybe concurrently: only reads `h`. */
static tj_verdict
hello_handle(tj_task *task, void *userdata)
{
	struct hello *h = userdata;
	size_t len;
	const char *payload = h->api->task_payload(task, &len);

	if (len == 0) {
		/* Permanent: goes to the dead-letter subject, never retried. */
		h->api->task_fail_reason(task, "payload: empty");
		return TJ_FAIL;
	}
	tj_info(h->api, h->self, "%s, %.*s (attempt %u)", h->greeting, (int)len, payload,
	        h->api->task_attempt(task));
	return TJ_DONE; /* acknowledged */
}

int
tj_plugin_init(tj_plugin *self, const struct tj_host_api *api, void **userdata_r)
{
	struct hello *h = calloc(1, sizeof(*h));
	int r;

	if (h == NULL)
		return -ENOMEM; /* a negative errno refuses the route */
	h->self = self;
	h->api = api;
	/* Optional key of the route's "config" object. */
	if (api->config_string(self, "greeting", &h->greeting) < 0)
		h->greeting = "hello";
	r = api->register_handler(self, "hello", hello_handle, h);
	if (r < 0) {
		free(h); /* fini is not called when init fails */
		return r;
	}
	*userdata_r = h; /* handed back to tj_plugin_fini() */
	return 0;
}

/* After every handler call of this instance has returned. */
void
tj_plugin_fini(void *userdata)
{
	free(userdata);
}
