/* SPDX-License-Identifier: MIT */
/*
 * deprovision: remove a tenant's module from the registry, after the
 * optional hook command succeeded, then announce it on
 * <events_subject>.deprovisioned.
 *
 * Idempotency rule: removing a module that is not in the registry succeeds
 * without running the hook (the wanted state already holds); the event is
 * still published, so a redelivery after a failed publish completes the job.
 */
#include <stdlib.h>

#include <taskjet/plugin.h>

#include "pcommon.h"
#include "registry.h"

TJ_PLUGIN_DECLARE("deprovision", PACKAGE_VERSION,
                  "Remove a tenant's module from the file registry");

static tj_verdict
deprovision_handle(tj_task *task, void *userdata)
{
	struct registry *reg = userdata;
	struct module_record rec = { 0 };
	struct module_task mt;
	bool exists = false, has_version;
	int64_t version;
	tj_verdict v;

	v = registry_task_begin(reg, task, false, &mt);
	if (v != TJ_DONE)
		goto out;
	v = registry_record_load(reg, task, &mt, &rec, &exists);
	if (v != TJ_DONE)
		goto out;
	/* The event names the version that was removed when there was one. */
	has_version = exists || mt.has_version;
	version = exists ? rec.version : mt.version;
	if (!exists) {
		tj_info(reg->api, reg->self,
		        "%s/%s not provisioned: nothing to "
		        "remove",
		        mt.tenant_id, mt.module_id);
	} else {
		v = registry_hook(reg, task, &mt, true, rec.version);
		if (v == TJ_DONE)
			v = registry_record_remove(reg, task, &mt);
	}
	registry_task_unlock(&mt);
	if (v == TJ_DONE)
		v = registry_publish(reg, task, &mt, "deprovisioned", has_version, version);
out:
	registry_record_free(&rec);
	registry_task_end(&mt);
	return v;
}

TJ_EXPORT int
tj_plugin_init(tj_plugin *self, const struct tj_host_api *api, void **userdata_r)
{
	struct registry *reg;
	int r;

	r = registry_create(self, api, &reg);
	if (r < 0)
		return r;
	r = api->register_handler(self, "deprovision", deprovision_handle, reg);
	if (r < 0) {
		registry_destroy(reg);
		return r;
	}
	*userdata_r = reg;
	return 0;
}

TJ_EXPORT void
tj_plugin_fini(void *userdata)
{
	registry_destroy(userdata);
}
