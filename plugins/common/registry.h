/* SPDX-License-Identifier: MIT */
/*
 * The module registry shared by provision, deprovision and update: one JSON
 * record per tenant/module at <state_dir>/<tenant_id>/<module_id>.json,
 * guarded by flock on <module_id>.lock, replaced atomically.
 */
#ifndef TASKJET_PLUGINS_REGISTRY_H
#define TASKJET_PLUGINS_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include <taskjet/plugin.h>

#include "hook.h"
#include "json.h"

/* One plugin instance's settings. Read-only after registry_create(), so
 * handlers on many worker threads share it without locking. */
struct registry {
	tj_plugin *self;
	const struct tj_host_api *api;
	char *state_dir;
	char *events_prefix; /* NULL: no follow-up events */
	struct hook hook;
};

/*
 * Read the instance config: "state_dir" (required, created if missing),
 * "events_subject" (optional subject prefix), "command",
 * "command_timeout_ms". Unknown keys are refused. Logs the reason and
 * returns -EINVAL (or -errno); on success *reg_r is the caller's to
 * registry_destroy().
 */
int registry_create(tj_plugin *self, const struct tj_host_api *api, struct registry **reg_r);
void registry_destroy(struct registry *reg);

/* One task about one tenant's module, from validation to unlock. */
struct module_task {
	struct json_doc doc; /* the payload */
	char *tenant_id;
	char *module_id;
	bool has_version;
	int64_t version; /* the payload's, 0 when absent */
	const char *spec; /* raw JSON text of "spec" in the payload, or NULL */
	size_t spec_len;
	char *path; /* the record */
	char *lock_path;
	int lock_fd; /* -1 when not locked */
};

/* The record as found on disk. */
struct module_record {
	char *text;
	struct json_doc doc;
	bool parsed;
	int64_t version;
	const char *spec; /* raw text of its "spec", points into text */
	size_t spec_len;
	char *provisioned_at;
};

/*
 * Validate the task's payload ("tenant_id", "module_id", "version" and,
 * when `need_spec`, "spec"), create the tenant directory and lock the
 * record. Returns TJ_DONE with *mt ready, else the verdict (reason set);
 * in both cases call registry_task_end(mt) afterwards.
 */
tj_verdict registry_task_begin(struct registry *reg, tj_task *task, bool need_spec,
                               struct module_task *mt);
/* Release the record lock early (idempotent). */
void registry_task_unlock(struct module_task *mt);
/* Unlock and free. */
void registry_task_end(struct module_task *mt);

/*
 * Load the record into *rec (zero it first; free with
 * registry_record_free). TJ_DONE with *exists_r; TJ_FAIL if the record is
 * corrupt, TJ_RETRY on I/O errors (reasons set).
 */
tj_verdict registry_record_load(struct registry *reg, tj_task *task, const struct module_task *mt,
                                struct module_record *rec, bool *exists_r);
void registry_record_free(struct module_record *rec);

/* Is the task's spec byte-for-byte the record's spec text? */
bool registry_same_spec(const struct module_task *mt, const struct module_record *rec);

/*
 * Write the record for `mt` at `version` atomically. `provisioned_at` NULL
 * means now; `updated` adds "updated_at": now. TJ_DONE or TJ_RETRY.
 */
tj_verdict registry_record_write(struct registry *reg, tj_task *task, const struct module_task *mt,
                                 int64_t version, const char *provisioned_at, bool updated);
/* Remove the record durably. TJ_DONE or TJ_RETRY. */
tj_verdict registry_record_remove(struct registry *reg, tj_task *task,
                                  const struct module_task *mt);

/*
 * Run the hook (if configured) with TENANT_ID, MODULE_ID and, when
 * `has_version`, MODULE_VERSION; the payload on stdin. See hook_run().
 */
tj_verdict registry_hook(struct registry *reg, tj_task *task, const struct module_task *mt,
                         bool has_version, int64_t version);

/*
 * Publish <events_subject>.<what> with {"tenant_id","module_id","version"}
 * (version null when !has_version), if events_subject is configured.
 * TJ_DONE, or TJ_RETRY when the publish failed.
 */
tj_verdict registry_publish(struct registry *reg, tj_task *task, const struct module_task *mt,
                            const char *what, bool has_version, int64_t version);

#endif
