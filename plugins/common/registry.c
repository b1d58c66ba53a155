/* SPDX-License-Identifier: MIT */
/* The module registry shared by provision, deprovision and update. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "pcommon.h"
#include "pfs.h"
#include "registry.h"

static const char *const registry_keys[] = { "state_dir", "events_subject", "command",
	                                     "command_timeout_ms", NULL };

void
registry_destroy(struct registry *reg)
{
	if (reg == NULL)
		return;
	free(reg->state_dir);
	free(reg->events_prefix);
	hook_release(&reg->hook);
	free(reg);
}

int
registry_create(tj_plugin *self, const struct tj_host_api *api, struct registry **reg_r)
{
	struct registry *reg;
	int r;

	reg = calloc(1, sizeof(*reg));
	if (reg == NULL)
		return -ENOMEM;
	reg->self = self;
	reg->api = api;
	r = pc_config_check_keys(api, self, registry_keys);
	if (r < 0)
		goto out;
	r = pc_config_state_dir(api, self, &reg->state_dir);
	if (r < 0)
		goto out;
	r = pc_config_string(api, self, "events_subject", false, &reg->events_prefix);
	if (r < 0)
		goto out;
	if (reg->events_prefix != NULL && !pc_subject_valid(reg->events_prefix)) {
		tj_err(api, self, "events_subject: \"%s\" is not a literal NATS subject",
		       reg->events_prefix);
		r = -EINVAL;
		goto out;
	}
	r = hook_config(api, self, &reg->hook);
	if (r < 0)
		goto out;
	*reg_r = reg;
	reg = NULL;
out:
	registry_destroy(reg);
	return r;
}

static tj_verdict
io_failure(struct registry *reg, tj_task *task, const char *what, const char *path, int err)
{
	char ebuf[128];

	/* Disk trouble usually passes (space freed, mount back, permissions
	 * fixed): retry, and let the engine's attempt limit dead-letter it. */
	reg->api->task_fail_reason(task, "%s %s: %s", what, path,
	                           pc_strerror(err, ebuf, sizeof(ebuf)));
	return TJ_RETRY;
}

tj_verdict
registry_task_begin(struct registry *reg, tj_task *task, bool need_spec, struct module_task *mt)
{
	const struct tj_host_api *api = reg->api;
	const struct json_tok *spec;
	const char *payload;
	char *dir = NULL;
	size_t len;
	tj_verdict v = TJ_FAIL;
	int r;

	memset(mt, 0, sizeof(*mt));
	mt->lock_fd = -1;
	payload = api->task_payload(task, &len);
	if (pc_payload_object(api, task, payload, len, &mt->doc) < 0)
		return TJ_FAIL;
	r = pc_field_id(api, task, &mt->doc, "tenant_id", &mt->tenant_id);
	if (r == 0)
		r = pc_field_id(api, task, &mt->doc, "module_id", &mt->module_id);
	if (r == 0)
		r = pc_field_int(api, task, &mt->doc, "version", 0, false, &mt->has_version,
		                 &mt->version);
	if (r < 0)
		goto out;
	if (!mt->has_version)
		mt->version = 0;
	spec = json_member(&mt->doc, mt->doc.toks, "spec");
	if (need_spec && spec == NULL) {
		api->task_fail_reason(task, "spec: missing");
		r = -EINVAL;
		goto out;
	}
	if (need_spec && spec->type != JSON_OBJECT) {
		api->task_fail_reason(task, "spec: must be an object");
		r = -EINVAL;
		goto out;
	}
	if (spec != NULL && spec->type == JSON_OBJECT)
		pc_tok_raw(&mt->doc, spec, &mt->spec, &mt->spec_len);
	if (asprintf(&dir, "%s/%s", reg->state_dir, mt->tenant_id) < 0 ||
	    asprintf(&mt->path, "%s/%s.json", dir, mt->module_id) < 0 ||
	    asprintf(&mt->lock_path, "%s/%s.lock", dir, mt->module_id) < 0) {
		dir = NULL;
		r = -ENOMEM;
		goto out;
	}
	r = pfs_mkdir_p(dir);
	if (r < 0) {
		v = io_failure(reg, task, "mkdir", dir, -r);
		r = 0;
		goto out;
	}
	/* Held across read, hook and write: one change per record at a time,
	 * across threads and processes. */
	r = pfs_lock(mt->lock_path, &mt->lock_fd);
	if (r < 0) {
		v = io_failure(reg, task, "lock", mt->lock_path, -r);
		r = 0;
		goto out;
	}
	v = TJ_DONE;
out:
	if (r == -ENOMEM) {
		api->task_fail_reason(task, "out of memory");
		v = TJ_RETRY;
	}
	free(dir);
	return v;
}

void
registry_task_unlock(struct module_task *mt)
{
	pfs_unlock(mt->lock_fd);
	mt->lock_fd = -1;
}

void
registry_task_end(struct module_task *mt)
{
	registry_task_unlock(mt);
	if (mt->doc.toks != NULL)
		json_doc_free(&mt->doc);
	free(mt->tenant_id);
	free(mt->module_id);
	free(mt->path);
	free(mt->lock_path);
	memset(mt, 0, sizeof(*mt));
	mt->lock_fd = -1;
}

void
registry_record_free(struct module_record *rec)
{
	if (rec->parsed)
		json_doc_free(&rec->doc);
	free(rec->text);
	free(rec->provisioned_at);
	memset(rec, 0, sizeof(*rec));
}

tj_verdict
registry_record_load(struct registry *reg, tj_task *task, const struct module_task *mt,
                     struct module_record *rec, bool *exists_r)
{
	const struct json_tok *root, *t;
	size_t len;
	int r;

	r = pfs_read(mt->path, PFS_MAX_FILE, &rec->text, &len);
	if (r == -ENOENT) {
		*exists_r = false;
		return TJ_DONE;
	}
	if (r < 0)
		return io_failure(reg, task, "read", mt->path, -r);
	if (json_parse(rec->text, len, &rec->doc, NULL) < 0)
		goto corrupt;
	rec->parsed = true;
	root = rec->doc.toks;
	if (root->type != JSON_OBJECT)
		goto corrupt;
	t = json_member(&rec->doc, root, "version");
	if (t == NULL || json_get_i64(&rec->doc, t, &rec->version) < 0 || rec->version < 0)
		goto corrupt;
	t = json_member(&rec->doc, root, "spec");
	if (t == NULL || t->type != JSON_OBJECT)
		goto corrupt;
	pc_tok_raw(&rec->doc, t, &rec->spec, &rec->spec_len);
	t = json_member(&rec->doc, root, "provisioned_at");
	if (t != NULL && json_get_string(&rec->doc, t, &rec->provisioned_at) < 0)
		goto corrupt;
	*exists_r = true;
	return TJ_DONE;
corrupt:
	/* Never torn by us (atomic writes): someone edited it. A human has
	 * to look, so dead-letter rather than loop. */
	tj_err(reg->api, reg->self, "registry record %s is corrupt", mt->path);
	reg->api->task_fail_reason(task, "registry record %s is corrupt", mt->path);
	return TJ_FAIL;
}

bool
registry_same_spec(const struct module_task *mt, const struct module_record *rec)
{
	return mt->spec != NULL && rec->spec != NULL && mt->spec_len == rec->spec_len &&
	       memcmp(mt->spec, rec->spec, mt->spec_len) == 0;
}

tj_verdict
registry_record_write(struct registry *reg, tj_task *task, const struct module_task *mt,
                      int64_t version, const char *provisioned_at, bool updated)
{
	struct strbuf b = { 0 };
	struct jsonw w;
	char now[32];
	int r;

	pc_now_utc(now);
	jsonw_init(&w, &b);
	jsonw_begin_object(&w);
	jsonw_member_string(&w, "tenant_id", mt->tenant_id);
	jsonw_member_string(&w, "module_id", mt->module_id);
	jsonw_member_int(&w, "version", version);
	/* The spec's own text, byte for byte: that is what "same spec" compares. */
	jsonw_key(&w, "spec");
	jsonw_raw(&w, mt->spec, mt->spec_len);
	jsonw_member_string(&w, "provisioned_at", provisioned_at ? provisioned_at : now);
	if (updated)
		jsonw_member_string(&w, "updated_at", now);
	jsonw_end_object(&w);
	strbuf_puts(&b, "\n");
	r = jsonw_finish(&w);
	if (r == 0)
		r = pfs_write_atomic(mt->path, b.data, b.len);
	strbuf_release(&b);
	if (r < 0)
		return io_failure(reg, task, "write", mt->path, -r);
	return TJ_DONE;
}

tj_verdict
registry_record_remove(struct registry *reg, tj_task *task, const struct module_task *mt)
{
	int r;

	r = pfs_remove(mt->path);
	if (r < 0)
		return io_failure(reg, task, "remove", mt->path, -r);
	return TJ_DONE;
}

tj_verdict
registry_hook(struct registry *reg, tj_task *task, const struct module_task *mt, bool has_version,
              int64_t version)
{
	const char *env[4] = { NULL, NULL, NULL, NULL };
	char *tenant = NULL, *module = NULL, *ver = NULL;
	const void *payload;
	size_t len;
	tj_verdict v;

	if (reg->hook.argv == NULL)
		return TJ_DONE;
	if (asprintf(&tenant, "TENANT_ID=%s", mt->tenant_id) < 0)
		tenant = NULL;
	if (asprintf(&module, "MODULE_ID=%s", mt->module_id) < 0)
		module = NULL;
	if (has_version && asprintf(&ver, "MODULE_VERSION=%lld", (long long)version) < 0)
		ver = NULL;
	if (tenant == NULL || module == NULL || (has_version && ver == NULL)) {
		reg->api->task_fail_reason(task, "out of memory");
		v = TJ_RETRY;
		goto out;
	}
	env[0] = tenant;
	env[1] = module;
	env[2] = ver;
	payload = reg->api->task_payload(task, &len);
	v = hook_run(&reg->hook, reg->api, task, env, payload, len);
	if (v != TJ_DONE)
		tj_info(reg->api, reg->self, "%s/%s: hook did not succeed", mt->tenant_id,
		        mt->module_id);
out:
	free(tenant);
	free(module);
	free(ver);
	return v;
}

tj_verdict
registry_publish(struct registry *reg, tj_task *task, const struct module_task *mt,
                 const char *what, bool has_version, int64_t version)
{
	struct strbuf body = { 0 };
	char *subject = NULL;
	tj_verdict v = TJ_RETRY;
	struct jsonw w;

	if (reg->events_prefix == NULL)
		return TJ_DONE;
	if (asprintf(&subject, "%s.%s", reg->events_prefix, what) < 0)
		subject = NULL;
	jsonw_init(&w, &body);
	jsonw_begin_object(&w);
	jsonw_member_string(&w, "tenant_id", mt->tenant_id);
	jsonw_member_string(&w, "module_id", mt->module_id);
	jsonw_key(&w, "version");
	if (has_version)
		jsonw_int(&w, version);
	else
		jsonw_null(&w);
	jsonw_end_object(&w);
	if (subject == NULL || jsonw_finish(&w) != 0) {
		reg->api->task_fail_reason(task, "out of memory");
		goto out;
	}
	v = pc_publish(reg->api, reg->self, task, subject, body.data, body.len);
out:
	free(subject);
	strbuf_release(&body);
	return v;
}
