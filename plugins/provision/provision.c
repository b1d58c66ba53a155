/* SPDX-License-Identifier: MIT */
/*
 * provision: record a tenant's module in the registry, after the optional
 * hook command succeeded, then announce it on <events_subject>.provisioned.
 *
 * Idempotency rule: a record that exists with byte-identical "spec" text
 * and the same version makes the task a no-op success (the event is still
 * published, so a redelivery after a failed publish completes the job).
 * A record with another spec or version fails the task: that is a
 * conflict, and changes go through "update".
 */
#include <stdlib.h>

#include <taskjet/plugin.h>

#include "pcommon.h"
#include "registry.h"

TJ_PLUGIN_DECLARE("provision", PACKAGE_VERSION,
                  "Provision a tenant's module into the file registry");

static tj_verdict
provision_handle(tj_task *task, void *userdata)
{
	struct registry *reg = userdata;
	struct module_record rec = { 0 };
	struct module_task mt;
	bool exists = false;
	tj_verdict v;

	v = registry_task_begin(reg, task, true, &mt);
	if (v != TJ_DONE)
		goto out;
	v = registry_record_load(reg, task, &mt, &rec, &exists);
	if (v != TJ_DONE)
		goto out;
	if (exists) {
		if (rec.version != mt.version || !registry_same_spec(&mt, &rec)) {
			reg->api->task_fail_reason(
			    task,
			    "module %s/%s already provisioned (version %lld) with a "
			    "different spec or version; use update",
			    mt.tenant_id, mt.module_id, (long long)rec.version);
			v = TJ_FAIL;
			goto out;
		}
		tj_info(reg->api, reg->self,
		        "%s/%s already provisioned at version "
		        "%lld: nothing to do",
		        mt.tenant_id, mt.module_id, (long long)rec.version);
	} else {
		v = registry_hook(reg, task, &mt, true, mt.version);
		if (v == TJ_DONE)
			v = registry_record_write(reg, task, &mt, mt.version, NULL, false);
	}
	registry_task_unlock(&mt);
	if (v == TJ_DONE)
		v = registry_publish(reg, task, &mt, "provisioned", true, mt.version);
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
	r = api->register_handler(self, "provision", provision_handle, reg);
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
