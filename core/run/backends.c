/* SPDX-License-Identifier: MIT */
/* The backend registry: config's backend kind -> its open function. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "memory/memory.h"
#include "nats/jetstream.h"
#include "run/backends.h"

int
backend_open(const struct cfg *cfg, const struct backend_open_opts *o, struct backend **b_r)
{
	static const struct backend_open_opts defaults = { 0 };

	if (o == NULL)
		o = &defaults;
	switch (cfg->backend) {
	case CFG_BACKEND_MEMORY:
		/* Its queue and letters live in the daemon's memory: another
		 * process cannot reach them. */
		if (o->client)
			return -ENOTSUP;
		return mem_backend_open(cfg, b_r);
	case CFG_BACKEND_JETSTREAM:
		return js_backend_open(cfg,
		                       &(struct js_open_opts){ .url = o->url,
		                                               .client = o->client,
		                                               .name = o->name,
		                                               .err = o->err,
		                                               .err_len = o->err_len,
		                                               .replacing = o->replacing },
		                       b_r);
	}
	return -EINVAL;
}

const char *
backend_reload_refusal(const struct cfg *cfg)
{
	/* Its queue and letters live in the backend: a second one would
	 * start empty, and handing them over is not worth it for a backend
	 * meant for tests and single runs. */
	if (cfg->backend == CFG_BACKEND_MEMORY)
		return "the memory backend keeps its tasks inside the running engine; restart "
		       "taskjet to apply a new config";
	return NULL;
}

const char *
backend_kind_name(const struct cfg *cfg)
{
	return cfg_backend_name(cfg->backend);
}

bool
backend_reads_stdin(const struct cfg *cfg)
{
	/* Its queue lives in the process; a server's queue is fed by
	 * publishers, not by the daemon's stdin. */
	return cfg->backend == CFG_BACKEND_MEMORY;
}

const char *
backend_library_versions(void)
{
	static char buf[64];

	if (buf[0] == '\0')
		snprintf(buf, sizeof(buf), "libnats %s", backend_libnats_version());
	return buf;
}

const char *
backend_libnats_version(void)
{
	return js_client_version();
}
