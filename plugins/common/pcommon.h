/* SPDX-License-Identifier: MIT */
/* Small helpers every shipped plugin uses: config, ids, payload fields. */
#ifndef TASKJET_PLUGINS_PCOMMON_H
#define TASKJET_PLUGINS_PCOMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <taskjet/plugin.h>

#include "json.h"

/* Fallback when built outside the project's autotools. */
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

#define PC_ID_MAX 128

/* strerror(3) without its thread-unsafe buffer. Returns `buf` or a static. */
const char *pc_strerror(int err, char *buf, size_t size);

/* Is `s` a safe file-name id: [A-Za-z0-9._-]{1,128}, not ".", no ".."? */
bool pc_id_valid(const char *s);
/* Is `s` a literal NATS subject (no wildcards, no empty tokens)? */
bool pc_subject_valid(const char *s);

/*
 * Reject config keys not in the NULL-terminated `allowed` list, logging
 * the first one found. 0, -EINVAL, or -ENOMEM.
 */
int pc_config_check_keys(const struct tj_host_api *api, tj_plugin *self,
                         const char *const allowed[]);
/*
 * Read string key `key` and strdup it into *value_r (caller frees). Absent
 * and not `required`: *value_r = NULL and 0. Absent and required, wrong type
 * or empty: logs "<key>: ..." and returns -EINVAL. -ENOMEM.
 */
int pc_config_string(const struct tj_host_api *api, tj_plugin *self, const char *key, bool required,
                     char **value_r);
/*
 * The "state_dir" key (required), created with mkdir -p semantics when
 * missing. Logs and returns -EINVAL / -errno on failure.
 */
int pc_config_state_dir(const struct tj_host_api *api, tj_plugin *self, char **value_r);

/*
 * The raw JSON text of any value token: strings with their quotes, objects
 * and arrays with their brackets. Points into doc->text.
 */
void pc_tok_raw(const struct json_doc *doc, const struct json_tok *tok, const char **text_r,
                size_t *len_r);

/*
 * Parse `payload` as a JSON object into *doc (free with json_doc_free).
 * On failure sets the task's fail reason ("payload: not valid JSON" or
 * "payload: must be a JSON object") and returns -EINVAL.
 */
int pc_payload_object(const struct tj_host_api *api, tj_task *task, const char *payload, size_t len,
                      struct json_doc *doc);

/*
 * Payload field readers. Each returns 0 and sets the out value, or
 * -EINVAL after setting the task's fail reason to "<key>: <what is
 * wrong>", or -ENOMEM. `required` false: absent leaves *present_r false.
 */
int pc_field_id(const struct tj_host_api *api, tj_task *task, const struct json_doc *doc,
                const char *key, char **value_r);
int pc_field_int(const struct tj_host_api *api, tj_task *task, const struct json_doc *doc,
                 const char *key, int64_t min, bool required, bool *present_r, int64_t *value_r);

/* UTC "YYYY-MM-DDTHH:MM:SSZ" of the current time into buf[32]. */
void pc_now_utc(char buf[32]);

/*
 * Publish a follow-up event. A failure is logged and turned into TJ_RETRY
 * with a fail reason (the state change before it is idempotent, so the
 * redelivery re-publishes safely). Returns TJ_DONE on success.
 */
tj_verdict pc_publish(const struct tj_host_api *api, tj_plugin *self, tj_task *task,
                      const char *subject, const char *body, size_t len);

#endif
