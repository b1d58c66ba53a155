/* SPDX-License-Identifier: MIT */
/* The host API table: config reads, registration rules, task services, log. */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "task/backend.h"
#include "util/clock.h"
#include "plugin/host_api.h"
#include "plugin/loader.h"
#include "util/log.h"
#include "task/router.h"
#include "task/task.h"
#include "testing.h"

#define ERRLEN 512

static const struct tj_host_api *api = &host_api_table;
static char tmpdir[64];

/* A backend that records what the host API asked of it. */
struct fake_backend {
	struct backend base; /* first: ops get &base */
	int publish_rc;
	int publishes;
	char subject[128];
	char data[128];
	size_t len;
	char msg_id[512];
	int in_progress_calls;
};

static int
fake_publish(struct backend *b, const struct publish_msg *m, struct publish_ack *ack_r)
{
	struct fake_backend *f = (struct fake_backend *)b;
	const char *subject = m->subject, *msg_id = m->msg_id;
	const void *data = m->data;
	size_t len = m->len;

	f->publishes++;
	snprintf(f->subject, sizeof(f->subject), "%s", subject);
	snprintf(f->data, sizeof(f->data), "%.*s", (int)len, (const char *)data);
	f->len = len;
	snprintf(f->msg_id, sizeof(f->msg_id), "%s", msg_id ? msg_id : "(null)");
	return f->publish_rc;
}

static int
fake_in_progress(struct backend *b, struct tj_task *task)
{
	((struct fake_backend *)b)->in_progress_calls++;
	return 0;
}

static const char *
fake_header(struct backend *b, const struct tj_task *task, const char *key)
{
	return strcmp(key, "Trace-Id") == 0 ? "abc123" : NULL;
}

static const struct msg_header fake_header_list[] = {
	{ "Trace-Id", "abc123" },
	{ "Tag", "a" },
	{ "Tag", "b" },
};

static int
fake_headers(struct backend *b, const struct tj_task *task, const struct msg_header **headers_r,
             size_t *count_r)
{
	*headers_r = fake_header_list;
	*count_r = sizeof(fake_header_list) / sizeof(fake_header_list[0]);
	return 0;
}

static const struct backend_ops fake_ops = {
	.name = "fake",
	.in_progress = fake_in_progress,
	.publish = fake_publish,
	.header = fake_header,
	.headers = fake_headers,
};

static void
init_task(struct tj_task *t, struct fake_backend *fb, const char *payload)
{
	memset(t, 0, sizeof(*t));
	t->subject = "tasks.provision";
	t->payload = payload;
	t->payload_len = strlen(payload);
	t->stream = "TASKS";
	t->stream_seq = 77;
	t->attempt = 3;
	snprintf(t->id, sizeof(t->id), "order-9");
	t->backend = fb != NULL ? &fb->base : NULL;
	t->retry_after_ms = -1;
}

static void
init_fake(struct fake_backend *fb)
{
	memset(fb, 0, sizeof(*fb));
	fb->base.ops = &fake_ops;
}

/* Read a whole small file into buf (NUL-terminated). */
static void
slurp(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

	buf[0] = '\0';
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

TEST(table_is_complete)
{
	CHECK_INT(api->size, sizeof(struct tj_host_api));
	CHECK_INT(api->abi_major, TJ_ABI_MAJOR);
	CHECK_INT(api->abi_minor, TJ_ABI_MINOR);
	CHECK_TRUE(api->register_handler != NULL);
	CHECK_TRUE(api->config_string != NULL);
	CHECK_TRUE(api->config_integer != NULL);
	CHECK_TRUE(api->config_bool != NULL);
	CHECK_TRUE(api->config_json != NULL);
	CHECK_TRUE(api->log != NULL);
	CHECK_TRUE(api->task_subject != NULL);
	CHECK_TRUE(api->task_payload != NULL);
	CHECK_TRUE(api->task_header != NULL);
	CHECK_TRUE(api->task_attempt != NULL);
	CHECK_TRUE(api->task_max_attempts != NULL);
	CHECK_TRUE(api->task_id != NULL);
	CHECK_TRUE(api->task_in_progress != NULL);
	CHECK_TRUE(api->task_publish != NULL);
	CHECK_TRUE(api->task_retry_after != NULL);
	CHECK_TRUE(api->task_fail_reason != NULL);
	CHECK_TRUE(TJ_API_HAS(api, task_fail_reason));
	CHECK_TRUE(api->task_header_count != NULL);
	CHECK_TRUE(api->task_header_at != NULL);
	CHECK_TRUE(api->task_time_left_ms != NULL);
}

TEST(config_readers)
{
	static const char text[] =
	    "{\"s\": \"a\\\"b\\\\n\\u00e9\\n\", \"i\": 42, \"neg\": -7,"
	    " \"f\": 1.5, \"huge\": 99999999999999999999, \"t\": true,"
	    " \"fl\": false, \"n\": null, \"o\": {\"x\": [1, 2]}, \"num\": \"5\"}";
	struct tj_plugin p;
	const char *s = NULL, *s2 = NULL, *js = NULL;
	int64_t i = 0;
	bool b = false;
	size_t len = 0;

	CHECK_INT(host_api_instance_init(&p, "pl", "rt", text, strlen(text)), 0);
	CHECK_INT(api->config_string(&p, "s", &s), 0);
	CHECK_STR(s, "a\"b\\n\xc3\xa9\n");
	CHECK_INT(api->config_string(&p, "s", &s2), 0);
	CHECK_TRUE(s == s2); /* unescaped once, cached */
	CHECK_INT(api->config_string(&p, "num", &s), 0);
	CHECK_STR(s, "5");
	CHECK_INT(api->config_string(&p, "i", &s), -EINVAL);
	CHECK_INT(api->config_string(&p, "o", &s), -EINVAL);
	CHECK_INT(api->config_string(&p, "missing", &s), -ENOENT);
	CHECK_INT(api->config_string(&p, NULL, &s), -EINVAL);
	CHECK_STR(s, "5"); /* failures leave the out parameter alone */

	CHECK_INT(api->config_integer(&p, "i", &i), 0);
	CHECK_INT(i, 42);
	CHECK_INT(api->config_integer(&p, "neg", &i), 0);
	CHECK_INT(i, -7);
	CHECK_INT(api->config_integer(&p, "f", &i), -EINVAL);
	CHECK_INT(api->config_integer(&p, "huge", &i), -EINVAL);
	CHECK_INT(api->config_integer(&p, "num", &i), -EINVAL);
	CHECK_INT(api->config_integer(&p, "t", &i), -EINVAL);
	CHECK_INT(api->config_integer(&p, "missing", &i), -ENOENT);
	CHECK_INT(i, -7);

	CHECK_INT(api->config_bool(&p, "t", &b), 0);
	CHECK_TRUE(b);
	CHECK_INT(api->config_bool(&p, "fl", &b), 0);
	CHECK_FALSE(b);
	CHECK_INT(api->config_bool(&p, "n", &b), -EINVAL);
	CHECK_INT(api->config_bool(&p, "i", &b), -EINVAL);
	CHECK_INT(api->config_bool(&p, "s", &b), -EINVAL);
	CHECK_INT(api->config_bool(&p, "missing", &b), -ENOENT);

	CHECK_INT(api->config_json(&p, "o", &js, &len), 0);
	CHECK_INT(len, strlen("{\"x\": [1, 2]}"));
	CHECK_TRUE(js != NULL && strncmp(js, "{\"x\": [1, 2]}", len) == 0);
	CHECK_INT(api->config_json(&p, "s", &js, &len), 0);
	CHECK_TRUE(js != NULL && strncmp(js, "\"a\\\"b\\\\n\\u00e9\\n\"", len) == 0 &&
	           len == strlen("\"a\\\"b\\\\n\\u00e9\\n\""));
	CHECK_INT(api->config_json(&p, "i", &js, &len), 0);
	CHECK_INT(len, 2);
	CHECK_INT(api->config_json(&p, NULL, &js, &len), 0);
	CHECK_INT(len, strlen(text));
	CHECK_TRUE(strncmp(js, text, len) == 0);
	CHECK_INT(api->config_json(&p, "missing", &js, &len), -ENOENT);
	host_api_instance_release(&p);

	CHECK_INT(host_api_instance_init(&p, "pl", "rt", "[1]", 3), -EINVAL);
	CHECK_INT(host_api_instance_init(&p, "pl", "rt", "\"x\"", 3), -EINVAL);
	CHECK_INT(host_api_instance_init(&p, "pl", "rt", "{", 1), -EINVAL);
	CHECK_INT(host_api_instance_init(&p, "pl", "rt", "{} x", 4), -EINVAL);
}

static tj_verdict
nop_handler(tj_task *task, void *userdata)
{
	return TJ_DONE;
}

TEST(registration_rules)
{
	struct tj_plugin p;

	CHECK_INT(host_api_instance_init(&p, "pl", "rt", "{}", 2), 0);
	CHECK_INT(api->register_handler(&p, "h", nop_handler, NULL), -EPERM);
	p.in_init = true;
	CHECK_INT(api->register_handler(&p, "h", nop_handler, NULL), 0);
	CHECK_INT(api->register_handler(&p, "h", nop_handler, NULL), -EEXIST);
	CHECK_INT(api->register_handler(&p, "h2", nop_handler, &p), 0);
	CHECK_INT(api->register_handler(&p, "", nop_handler, NULL), -EINVAL);
	CHECK_INT(api->register_handler(&p, NULL, nop_handler, NULL), -EINVAL);
	CHECK_INT(api->register_handler(&p, "h3", NULL, NULL), -EINVAL);
	CHECK_INT(api->register_handler(NULL, "h3", nop_handler, NULL), -EINVAL);
	p.in_init = false;
	CHECK_INT(api->register_handler(&p, "h3", nop_handler, NULL), -EPERM);
	CHECK_INT(p.handler_count, 2);
	CHECK_STR(p.handlers[1].name, "h2");
	CHECK_TRUE(p.handlers[1].userdata == &p);
	CHECK_TRUE(p.handlers[1].owner == &p);
	host_api_instance_release(&p);
}

TEST(register_from_a_handler_is_refused)
{
	char err[ERRLEN];
	struct plugin_instance *inst = NULL;
	struct fake_backend fb;
	struct tj_task t;

	init_fake(&fb);
	CHECK_INT(plugin_instance_create(FIXTURE_PLUGIN_DIR, "fx_late_register", "r1", "{}", 2, err,
	                                 sizeof(err), &inst),
	          0);
	if (inst == NULL)
		return;
	init_task(&t, &fb, "{}");
	/* TJ_DONE only if its register_handler call got -EPERM. */
	CHECK_INT(plugin_call(plugin_instance_handler(inst, "fx_late_register"), &t), TJ_DONE);
	CHECK_TRUE(t.fail_reason == NULL);
	CHECK_INT(plugin_instance_handler_count(inst), 1);
	task_release(&t);
	plugin_instance_destroy(inst);
}

TEST(task_accessors)
{
	struct fake_backend fb;
	struct cfg_route cr = { .max_attempts = 5 };
	struct route route = { .cfg = &cr };
	struct tj_task t;
	size_t len = 0;

	init_fake(&fb);
	init_task(&t, &fb, "hello");
	CHECK_STR(api->task_subject(&t), "tasks.provision");
	CHECK_STR(api->task_payload(&t, &len), "hello");
	CHECK_INT(len, 5);
	CHECK_STR(api->task_header(&t, "Trace-Id"), "abc123");
	CHECK_TRUE(api->task_header(&t, "Other") == NULL);
	CHECK_INT(api->task_attempt(&t), 3);
	CHECK_INT(api->task_max_attempts(&t), 0); /* no route yet */
	t.route = &route;
	CHECK_INT(api->task_max_attempts(&t), 5);
	CHECK_STR(api->task_id(&t), "order-9");
	CHECK_INT(api->task_in_progress(&t), 0);
	CHECK_INT(api->task_in_progress(&t), 0);
	CHECK_INT(fb.in_progress_calls, 2);
	t.backend = NULL;
	CHECK_INT(api->task_in_progress(&t), -ENOTCONN);
	CHECK_TRUE(api->task_header(&t, "Trace-Id") == NULL);
}

TEST(abi_1_1_headers_and_time_left)
{
	struct tj_host_api old = host_api_table;
	struct fake_backend fb;
	const char *k = "unset", *v = "unset";
	struct tj_task t;
	int64_t left;

	init_fake(&fb);
	init_task(&t, &fb, "{}");
	CHECK_INT(api->task_header_count(&t), 3);
	CHECK_INT(api->task_header_at(&t, 0, &k, &v), 0);
	CHECK_STR(k, "Trace-Id");
	CHECK_STR(v, "abc123");
	CHECK_INT(api->task_header_at(&t, 2, &k, &v), 0);
	CHECK_STR(k, "Tag");
	CHECK_STR(v, "b");
	CHECK_INT(api->task_header_at(&t, 3, &k, &v), -ERANGE);
	CHECK_INT(api->task_header_at(&t, 0, NULL, &v), -EINVAL);
	/* A backend without the op, or no task: an empty list. */
	init_task(&t, NULL, "{}");
	CHECK_INT(api->task_header_count(&t), 0);
	CHECK_INT(api->task_header_at(&t, 0, &k, &v), -ERANGE);
	CHECK_INT(api->task_header_count(NULL), 0);

	/* No timeout: -1; a deadline ahead: what is left of it; past: 0. */
	CHECK_INT(api->task_time_left_ms(&t), -1);
	t.deadline_ms = clock_mono_ms() + 60000;
	left = api->task_time_left_ms(&t);
	CHECK_RANGE(left, 50000, 60000);
	t.deadline_ms = clock_mono_ms() - 5;
	CHECK_INT(api->task_time_left_ms(&t), 0);
	CHECK_INT(api->task_time_left_ms(NULL), -1);

	/* What a 1.1 plugin sees on this engine, and what TJ_API_HAS says
	 * on a 1.0 engine, whose table ends before the 1.1 members. */
	CHECK_TRUE(TJ_API_HAS(api, task_header_at));
	CHECK_TRUE(TJ_API_HAS(api, task_time_left_ms));
	old.size = (uint32_t)offsetof(struct tj_host_api, task_header_count);
	CHECK_FALSE(TJ_API_HAS(&old, task_header_count));
	CHECK_FALSE(TJ_API_HAS(&old, task_time_left_ms));
	CHECK_TRUE(TJ_API_HAS(&old, task_fail_reason));
}

TEST(abi_1_0_plugin_loads_and_checks_for_1_1)
{
	struct plugin_instance *inst = NULL;
	struct fake_backend fb;
	char err[ERRLEN];
	struct tj_task t;

	CHECK_INT(plugin_instance_create(FIXTURE_PLUGIN_DIR, "fx_abi10", "r1", "{}", 2, err,
	                                 sizeof(err), &inst),
	          0);
	if (inst == NULL)
		return;
	CHECK_INT(plugin_instance_info(inst)->abi_minor, 0);
	init_fake(&fb);
	init_task(&t, &fb, "probe");
	CHECK_INT(plugin_call(plugin_instance_handler(inst, "fx_abi10"), &t), TJ_FAIL);
	CHECK_STR(t.fail_reason, "has_headers=1 first=Trace-Id");
	task_release(&t);
	init_task(&t, &fb, "{}");
	CHECK_INT(plugin_call(plugin_instance_handler(inst, "fx_abi10"), &t), TJ_DONE);
	task_release(&t);
	plugin_instance_destroy(inst);
}

TEST(retry_hint_and_fail_reason_set_task_fields)
{
	struct tj_task t;
	char longer[3000];

	init_task(&t, NULL, "x");
	api->task_retry_after(&t, 250);
	CHECK_INT(t.retry_after_ms, 250);
	api->task_retry_after(&t, -5);
	CHECK_INT(t.retry_after_ms, 0);

	api->task_fail_reason(&t, "missing field %s (%d)", "tenant", 3);
	CHECK_STR(t.fail_reason, "missing field tenant (3)");
	api->task_fail_reason(&t, "second");
	CHECK_STR(t.fail_reason, "second");
	/* One header line: control characters become spaces. */
	api->task_fail_reason(&t, "a\r\nb\tc");
	CHECK_STR(t.fail_reason, "a  b c");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	api->task_fail_reason(&t, "%s", longer);
	CHECK_INT(strlen(t.fail_reason), 1024);

	task_reset_verdict_state(&t);
	CHECK_INT(t.retry_after_ms, -1);
	CHECK_TRUE(t.fail_reason == NULL);
	api->task_fail_reason(&t, "again");
	task_release(&t);
	CHECK_TRUE(t.fail_reason == NULL);
}

TEST(publish_derives_message_ids)
{
	struct fake_backend fb;
	struct tj_task t;

	init_fake(&fb);
	init_task(&t, &fb, "x");
	host_api_set_publisher(NULL);
	CHECK_INT(api->task_publish(&t, "out.a", "p", 1), -ENOTCONN);
	host_api_set_publisher(&fb.base);
	CHECK_INT(api->task_publish(&t, "", "p", 1), -EINVAL);
	CHECK_INT(api->task_publish(&t, "out.a", NULL, 1), -EINVAL);
	CHECK_INT(fb.publishes, 0);

	CHECK_INT(api->task_publish(&t, "out.a", "one", 3), 0);
	CHECK_STR(fb.msg_id, "order-9:out.a:1");
	CHECK_STR(fb.subject, "out.a");
	CHECK_STR(fb.data, "one");
	CHECK_INT(api->task_publish(&t, "out.b", "two", 3), 0);
	CHECK_STR(fb.msg_id, "order-9:out.b:2");

	/* A failed publish keeps its ordinal, so trying again reuses the id. */
	fb.publish_rc = -ETIMEDOUT;
	CHECK_INT(api->task_publish(&t, "out.c", "three", 5), -ETIMEDOUT);
	CHECK_STR(fb.msg_id, "order-9:out.c:3");
	fb.publish_rc = 0;
	CHECK_INT(api->task_publish(&t, "out.c", "three", 5), 0);
	CHECK_STR(fb.msg_id, "order-9:out.c:3");
	CHECK_INT(t.publish_count, 3);
	CHECK_INT(api->task_publish(&t, "out.d", "", 0), 0);
	CHECK_INT(fb.len, 0);

	/* A redelivery starts over and derives the same ids again. */
	task_reset_verdict_state(&t);
	CHECK_INT(api->task_publish(&t, "out.a", "one", 3), 0);
	CHECK_STR(fb.msg_id, "order-9:out.a:1");
	host_api_set_publisher(NULL);
}

TEST(behave_fixture_publishes_on_done)
{
	char err[ERRLEN];
	static const char cfg[] = "{\"publish_subject\":\"next.step\"}";
	struct plugin_instance *inst = NULL;
	const struct plugin_handler *h;
	struct fake_backend fb;
	struct tj_task t;

	init_fake(&fb);
	host_api_set_publisher(&fb.base);
	CHECK_INT(plugin_instance_create(FIXTURE_PLUGIN_DIR, "fx_behave", "r1", cfg, strlen(cfg),
	                                 err, sizeof(err), &inst),
	          0);
	if (inst == NULL)
		goto out;
	h = plugin_instance_handler(inst, "fx_behave");
	init_task(&t, &fb, "{\"n\":1}");
	CHECK_INT(plugin_call(h, &t), TJ_DONE);
	CHECK_INT(fb.publishes, 1);
	CHECK_STR(fb.subject, "next.step");
	CHECK_STR(fb.data, "{\"n\":1}");
	CHECK_STR(fb.msg_id, "order-9:next.step:1");
	/* The same delivery handled again (a redelivery): the same id. */
	CHECK_INT(plugin_call(h, &t), TJ_DONE);
	CHECK_STR(fb.msg_id, "order-9:next.step:1");
	/* A failing publish turns done into retry, with a reason. */
	fb.publish_rc = -ENOENT;
	CHECK_INT(plugin_call(h, &t), TJ_RETRY);
	CHECK_CONTAINS(t.fail_reason, "publish to next.step failed");
	task_release(&t);
	plugin_instance_destroy(inst);
out:
	host_api_set_publisher(NULL);
}

TEST(log_lines_name_route_plugin_and_task)
{
	char err[ERRLEN], path[128], buf[8192];
	struct plugin_instance *inst = NULL;
	struct tj_plugin p;
	struct tj_task t;

	snprintf(path, sizeof(path), "%s/log.txt", tmpdir);
	CHECK_INT(log_setup(TJ_LOG_DEBUG, LOG_FORMAT_TEXT, path), 0);
	CHECK_INT(host_api_instance_init(&p, "pl", "route7", "{}", 2), 0);
	api->log(&p, TJ_LOG_WARNING, "hello %d", 42);
	host_api_instance_release(&p);

	CHECK_INT(plugin_instance_create(FIXTURE_PLUGIN_DIR, "fx_behave", "rb", "{}", 2, err,
	                                 sizeof(err), &inst),
	          0);
	if (inst != NULL) {
		init_task(&t, NULL, "{}");
		CHECK_INT(plugin_call(plugin_instance_handler(inst, "fx_behave"), &t), TJ_DONE);
		task_release(&t);
		plugin_instance_destroy(inst);
	}
	log_close();
	slurp(path, buf, sizeof(buf));
	CHECK_CONTAINS(buf, "warning route=route7 plugin=pl hello 42\n");
	CHECK_CONTAINS(buf, "debug   route=rb plugin=fx_behave seq=77 attempt=3 "
	                    "fx_behave: order-9 attempt 3 done\n");
	/* Outside a handler, no task is named. */
	CHECK_TRUE(strstr(buf, "plugin=pl seq=") == NULL);
	unlink(path);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tj-hostapi-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	RUN(table_is_complete);
	RUN(config_readers);
	RUN(registration_rules);
	RUN(register_from_a_handler_is_refused);
	RUN(task_accessors);
	RUN(abi_1_1_headers_and_time_left);
	RUN(abi_1_0_plugin_loads_and_checks_for_1_1);
	RUN(retry_hint_and_fail_reason_set_task_fields);
	RUN(publish_derives_message_ids);
	RUN(behave_fixture_publishes_on_done);
	RUN(log_lines_name_route_plugin_and_task);
	rmdir(tmpdir);
	return testing_done();
}
