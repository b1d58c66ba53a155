/* SPDX-License-Identifier: MIT */
/*
 * update: replace the spec (and version) of a provisioned module, after
 * the optional hook command succeeded, then announce it on
 * <events_subject>.updated.
 *
 * Ordering rules, so redeliveries and reordering are harmless:
 *   - unknown module: TJ_FAIL "module not provisioned";
 *   - version below the record's, or equal with another spec: stale, ignored
 *     (TJ_DONE, logged at info, no event);
 *   - version equal with the same spec: already applied (TJ_DONE; the event
 *     is published again so a redelivery after a failed publish completes);
 *   - no "version": the record's version + 1, unless the spec is already the
 *     record's (then: already applied).
 */
#include <stdint.h>
#include <stdlib.h>

#include <taskjet/plugin.h>

#include "pcommon.h"
#include "registry.h"

TJ_PLUGIN_DECLARE("update", PACKAGE_VERSION,
                  "Update a provisioned module's spec in the file registry");

static tj_verdict
update_handle(tj_task *task, void *userdata)
{
	struct registry *reg = userdata;
	struct module_record rec = { 0 };
	struct module_task mt;
	bool exists = false, same, publish = true;
	int64_t version;
	tj_verdict v;

	v = registry_task_begin(reg, task, true, &mt);
	if (v != TJ_DONE)
		goto out;
	v = registry_record_load(reg, task, &mt, &rec, &exists);
	if (v != TJ_DONE)
		goto out;
	if (!exists) {
		reg->api->task_fail_reason(task, "module not provisioned");
		v = TJ_FAIL;
		goto out;
	}
	same = registry_same_spec(&mt, &rec);
	if (!mt.has_version && rec.version == INT64_MAX && !same) {
		reg->api->task_fail_reason(task, "version: would overflow");
		v = TJ_FAIL;
		goto out;
	}
	version = mt.has_version ? mt.version : (same ? rec.version : rec.version + 1);
	if (version < rec.version || (version == rec.version && !same)) {
		tj_info(reg->api, reg->self,
		        "%s/%s: stale update to version %lld "
		        "(registry has %lld): ignored",
		        mt.tenant_id, mt.module_id, (long long)version, (long long)rec.version);
		publish = false;
	} else if (version == rec.version) {
		tj_info(reg->api, reg->self, "%s/%s: version %lld already applied", mt.tenant_id,
		        mt.module_id, (long long)version);
	} else {
		v = registry_hook(reg, task, &mt, true, version);
		if (v == TJ_DONE)
			v = registry_record_write(reg, task, &mt, version, rec.provisioned_at,
			                          true);
	}
	registry_task_unlock(&mt);
	if (v == TJ_DONE && publish)
		v = registry_publish(reg, task, &mt, "updated", true, version);
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
	r = api->register_handler(self, "update", update_handle, reg);
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
