/* SPDX-License-Identifier: MIT */
/*
 * The shipped plugins end to end: `taskjet run` on a real nats-server with
 * the staged provision, deprovision, update and context-update plugins.
 * Tasks go in with message ids; the test then reads what came out: the
 * registry files and context documents on disk, the follow-up events in
 * the EVENTS stream, the dead letters in DLQ with their reasons, and it
 * balances the books (published = acked + dead-lettered + pending). A hook
 * fails transiently once (exit 75, then succeeds on attempt 2) and another
 * outlives command_timeout_ms (dead-lettered with the timeout reason).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "nats_server.h"
#include "nats/natsconn.h"
#include "testing.h"

#define FATE_TIMEOUT_MS 20000
#define READY_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS 20000
#define HOOK_TIMEOUT_MS 300
#define MAX_TASKS 32

static struct nats_server server;
static struct natsconn *admin;
static char work[64]; /* everything of this test lives under here */
static char state[128]; /* the engine's state_dir */
static char log_path[128]; /* the engine's log file */
static char hook_log[128]; /* one line per hook run */
static pid_t engine;

/* Every distinct task published (duplicates are not counted). */
static const char *published[MAX_TASKS];
static int published_count;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The whole file, NUL-terminated, or NULL if it cannot be read. */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	for (int i = 0; i < 4096; i++) {
		if (cap - len < 4096) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static int
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (f == NULL)
		return -errno;
	if (fputs(text, f) == EOF)
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && chmod(path, mode) != 0)
		rc = -errno;
	return rc;
}

/*
 * The engine's final word on task `id`: 'A' acked, 'D' dead-lettered, 'X'
 * both (a bug), 0 none yet. *attempt_r gets the attempt and *line_r (the
 * caller frees) the line. The engine logs "acked <id> (<subject>)" and
 * "dead-lettered <id> (<subject>): <reason>: <error>", each line written
 * whole.
 */
static int
fate_of(const char *id, unsigned *attempt_r, char **line_r)
{
	char *log = slurp(log_path), *hit, *start, *end, *a, *d, *p;
	char acked[160], dead[160];
	int fate = 0;

	if (log == NULL)
		return 0;
	snprintf(acked, sizeof(acked), " acked %s (", id);
	snprintf(dead, sizeof(dead), " dead-lettered %s (", id);
	a = strstr(log, acked);
	d = strstr(log, dead);
	if (a != NULL && d != NULL)
		fate = 'X';
	else if (a != NULL || d != NULL)
		fate = a != NULL ? 'A' : 'D';
	if (fate == 0)
		goto out;
	hit = a != NULL ? a : d;
	for (start = hit; start > log && start[-1] != '\n'; start--)
		;
	end = strchr(hit, '\n');
	if (end != NULL)
		*end = '\0';
	p = strstr(start, " attempt=");
	if (attempt_r != NULL)
		*attempt_r = p != NULL ? (unsigned)strtoul(p + 9, NULL, 10) : 0;
	if (line_r != NULL) {
		free(*line_r);
		*line_r = strdup(start);
	}
out:
	free(log);
	return fate;
}

/* Wait (bounded) until the engine has settled task `id`; its fate or 0. */
static int
wait_fate(const char *id, unsigned *attempt_r, char **line_r)
{
	int64_t deadline = now_ms() + FATE_TIMEOUT_MS;
	int fate;

	while ((fate = fate_of(id, attempt_r, line_r)) == 0 && now_ms() < deadline)
		sleep_ms(20);
	if (fate == 0)
		testing_fail(__FILE__, __LINE__, "task %s not settled in %d ms", id,
		             FATE_TIMEOUT_MS);
	return fate;
}

/* Publish with a message id and the publish ack; true if it was stored
 * as a new message (not a duplicate). */
static bool
publish(const char *id, const char *subject, const char *data)
{
	jsPubOptions o;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	bool fresh = false;

	jsPubOptions_Init(&o);
	o.MsgId = id;
	o.MaxWait = 5000;
	s = js_Publish(&pa, natsconn_js(admin), subject, data, (int)strlen(data), &o, &jerr);
	if (s != NATS_OK) {
		testing_fail(__FILE__, __LINE__, "publish %s: %s (%d)", id, natsStatus_GetText(s),
		             (int)jerr);
		goto out;
	}
	fresh = !pa->Duplicate;
	if (fresh && published_count < MAX_TASKS)
		published[published_count++] = id;
out:
	jsPubAck_Destroy(pa);
	return fresh;
}

/* Stored messages of a stream as text, one per line:
 * "<subject> <payload>" (or, with headers, "<subject> <h1>|<h2>|<h3> <payload>"). */
static char *
stream_dump(const char *stream, const char *const *headers, size_t nheaders, uint64_t *count_r)
{
	jsStreamInfo *si = NULL;
	size_t len = 0, cap = 1;
	char *out = calloc(1, 1);
	uint64_t count = 0;

	if (out == NULL)
		abort();
	if (js_GetStreamInfo(&si, natsconn_js(admin), stream, NULL, NULL) != NATS_OK) {
		testing_fail(__FILE__, __LINE__, "no stream %s", stream);
		goto out;
	}
	for (uint64_t seq = si->State.FirstSeq; si->State.Msgs > 0 && seq <= si->State.LastSeq;
	     seq++) {
		natsMsg *m = NULL;
		char line[2048];
		int n;

		if (js_GetMsg(&m, natsconn_js(admin), stream, seq, NULL, NULL) != NATS_OK)
			continue; /* deleted */
		n = snprintf(line, sizeof(line), "%s ", natsMsg_GetSubject(m));
		for (size_t h = 0; h < nheaders; h++) {
			const char *v = NULL;

			if (natsMsgHeader_Get(m, headers[h], &v) != NATS_OK)
				v = "(none)";
			n += snprintf(line + n, sizeof(line) - (size_t)n, "%s%s", v,
			              h + 1 < nheaders ? "|" : " ");
		}
		snprintf(line + n, sizeof(line) - (size_t)n, "%.*s\n", natsMsg_GetDataLength(m),
		         natsMsg_GetData(m));
		n = (int)strlen(line);
		while (len + (size_t)n + 1 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			if (out == NULL)
				abort();
		}
		memcpy(out + len, line, (size_t)n + 1);
		len += (size_t)n;
		count++;
		natsMsg_Destroy(m);
	}
out:
	jsStreamInfo_Destroy(si);
	*count_r = count;
	return out;
}

static uint64_t
stream_msgs(const char *stream)
{
	jsStreamInfo *si = NULL;
	uint64_t n = UINT64_MAX;

	if (js_GetStreamInfo(&si, natsconn_js(admin), stream, NULL, NULL) == NATS_OK)
		n = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return n;
}

/* Print text as TAP diagnostics, "# " before every line. */
static void
diag(const char *title, const char *text)
{
	const char *p = text != NULL ? text : "(none)\n";

	printf("# %s:\n", title);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);

		printf("#   %.*s\n", n, p);
		p += n + (nl != NULL);
	}
}

static char *
state_file(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", state, rel);
	return slurp(path);
}

static bool
state_exists(const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", state, rel);
	return access(path, F_OK) == 0;
}

static int
write_config(const char *path, const char *hook)
{
	char text[8192];

	snprintf(text, sizeof(text),
	         "{\n"
	         "  \"nats\": { \"url\": \"%s\", \"name\": \"taskjet-e2e\" },\n"
	         "  \"plugin_dir\": \"%s\",\n"
	         "  \"state_dir\": \"%s\",\n"
	         "  \"shutdown_grace\": \"5s\",\n"
	         "  \"streams\": [\n"
	         "    { \"name\": \"PROVISIONING\", \"subjects\": [\"provisioning.>\"],\n"
	         "      \"retention\": \"workqueue\", \"duplicate_window\": \"2m\" },\n"
	         "    { \"name\": \"CONTEXT\", \"subjects\": [\"context.>\"],\n"
	         "      \"retention\": \"workqueue\", \"duplicate_window\": \"2m\" },\n"
	         "    { \"name\": \"EVENTS\", \"subjects\": [\"events.>\"],\n"
	         "      \"retention\": \"limits\" }\n"
	         "  ],\n"
	         "  \"dlq\": { \"stream\": \"DLQ\", \"subject_prefix\": \"dlq\" },\n"
	         "  \"routes\": [\n"
	         "    { \"name\": \"provision\", \"stream\": \"PROVISIONING\",\n"
	         "      \"subject\": \"provisioning.provision\", \"plugin\": \"provision\",\n"
	         "      \"payload\": \"json\", \"concurrency\": 4, \"max_attempts\": 3,\n"
	         "      \"backoff\": { \"initial\": \"100ms\", \"multiplier\": 2,\n"
	         "                   \"max\": \"1s\", \"jitter\": 0 },\n"
	         "      \"config\": { \"state_dir\": \"registry\",\n"
	         "                  \"events_subject\": \"events.provisioning\",\n"
	         "                  \"command\": [\"%s\"],\n"
	         "                  \"command_timeout_ms\": %d } },\n"
	         "    { \"name\": \"deprovision\", \"stream\": \"PROVISIONING\",\n"
	         "      \"subject\": \"provisioning.deprovision\", \"plugin\": \"deprovision\",\n"
	         "      \"payload\": \"json\",\n"
	         "      \"config\": { \"state_dir\": \"registry\",\n"
	         "                  \"events_subject\": \"events.provisioning\" } },\n"
	         "    { \"name\": \"update\", \"stream\": \"PROVISIONING\",\n"
	         "      \"subject\": \"provisioning.update\", \"plugin\": \"update\",\n"
	         "      \"payload\": \"json\",\n"
	         "      \"config\": { \"state_dir\": \"registry\",\n"
	         "                  \"events_subject\": \"events.provisioning\" } },\n"
	         "    { \"name\": \"context-update\", \"stream\": \"CONTEXT\",\n"
	         "      \"subject\": \"context.update\", \"plugin\": \"context-update\",\n"
	         "      \"payload\": \"json\",\n"
	         "      \"config\": { \"state_dir\": \"ctx\",\n"
	         "                  \"events_subject\": \"events.context.updated\" } }\n"
	         "  ]\n"
	         "}\n",
	         server.url, STAGED_PLUGIN_DIR, state, hook, HOOK_TIMEOUT_MS);
	return write_file(path, text, 0644);
}

/*
 * The provision hook: records each run (with whether the registry record
 * existed at that moment), asks for a retry on tenant "flaky"'s first
 * attempt, and outlives the time limit for tenant "slow".
 */
static int
write_hook(const char *path)
{
	char text[1024];

	snprintf(text, sizeof(text),
	         "#!/bin/sh\n"
	         "if [ -e \"%s/registry/$TENANT_ID/$MODULE_ID.json\" ]; then have=record; else "
	         "have=none; fi\n"
	         "echo \"$TENANT_ID/$MODULE_ID attempt=$TASKJET_ATTEMPT $have\" >>\"%s\"\n"
	         "case \"$TENANT_ID\" in\n"
	         "flaky) if [ \"$TASKJET_ATTEMPT\" = 1 ]; then echo 'inventory busy' >&2; exit 75; "
	         "fi ;;\n"
	         "slow) exec sleep 60 ;;\n"
	         "esac\n"
	         "exit 0\n",
	         state, hook_log);
	return write_file(path, text, 0755);
}

static pid_t
spawn_engine(const char *config)
{
	char out[160];
	pid_t pid;

	snprintf(out, sizeof(out), "%s/engine.out", work);
	pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(TASKJET_BIN, "taskjet", "run", "-c", config, "--log-level", "debug",
		      "--log-file", log_path, (char *)NULL);
		_exit(127);
	}
	return pid;
}

TEST(engine_becomes_ready)
{
	char config[160], hook[160], *log = NULL;
	int64_t deadline = now_ms() + READY_TIMEOUT_MS;
	int status;

	snprintf(config, sizeof(config), "%s/taskjet.json", work);
	snprintf(hook, sizeof(hook), "%s/hook.sh", work);
	CHECK_INT(write_hook(hook), 0);
	CHECK_INT(write_config(config, hook), 0);
	engine = spawn_engine(config);
	CHECK_TRUE(engine > 0);
	if (engine <= 0)
		return;
	while (now_ms() < deadline) {
		free(log);
		log = slurp(log_path);
		if (log != NULL && strstr(log, " ready: ") != NULL)
			break;
		if (waitpid(engine, &status, WNOHANG) == engine) {
			testing_fail(__FILE__, __LINE__, "taskjet run exited early (%d)", status);
			engine = 0;
			break;
		}
		sleep_ms(20);
	}
	CHECK_CONTAINS(log, " ready: 4 routes");
	free(log);
}

TEST(provision_acks_retries_and_dead_letters)
{
	char *rec = NULL, *line = NULL, *hooks = NULL;
	unsigned attempt = 0;
	int64_t t0;

	CHECK_TRUE(publish("p-acme", "provisioning.provision",
	                   "{\"tenant_id\":\"acme\",\"module_id\":\"erp\",\"version\":1,\"spec\":{"
	                   "\"plan\":\"gold\"}}"));
	/* The same message id again is stored once. */
	CHECK_FALSE(publish("p-acme", "provisioning.provision",
	                    "{\"tenant_id\":\"acme\",\"module_id\":\"erp\",\"version\":1,\"spec\":{"
	                    "\"plan\":\"gold\"}}"));
	CHECK_TRUE(
	    publish("p-flaky", "provisioning.provision",
	            "{\"tenant_id\":\"flaky\",\"module_id\":\"crm\",\"version\":1,\"spec\":{}}"));
	t0 = now_ms();
	CHECK_TRUE(
	    publish("p-slow", "provisioning.provision",
	            "{\"tenant_id\":\"slow\",\"module_id\":\"crm\",\"version\":1,\"spec\":{}}"));
	CHECK_TRUE(
	    publish("p-invalid", "provisioning.provision", "{\"tenant_id\":\"acme\",\"spec\":{}}"));
	CHECK_TRUE(publish("p-notjson", "provisioning.provision", "this is not JSON"));

	CHECK_INT(wait_fate("p-acme", &attempt, NULL), 'A');
	CHECK_INT(attempt, 1);
	rec = state_file("registry/acme/erp.json");
	CHECK_CONTAINS(rec, "{\"tenant_id\":\"acme\",\"module_id\":\"erp\",\"version\":1,\"spec\":{"
	                    "\"plan\":\"gold\"},\"provisioned_at\":\"");
	free(rec);

	/* Transient hook failure: retried, and the record appears only after
	 * attempt 2's hook succeeded. */
	CHECK_INT(wait_fate("p-flaky", &attempt, NULL), 'A');
	CHECK_INT(attempt, 2);
	CHECK_TRUE(state_exists("registry/flaky/crm.json"));
	hooks = slurp(hook_log);
	CHECK_CONTAINS(hooks, "flaky/crm attempt=1 none\n");
	CHECK_CONTAINS(hooks, "flaky/crm attempt=2 none\n");
	CHECK_FALSE(hooks != NULL && strstr(hooks, "flaky/crm attempt=3") != NULL);
	free(hooks);
	{
		char *log = slurp(log_path);

		CHECK_CONTAINS(log, " retry p-flaky in 100 ms: ");
		CHECK_CONTAINS(log, "inventory busy");
		free(log);
	}

	/* The hook that outlives command_timeout_ms is killed and the task
	 * dead-lettered at once, not after the hook's 60 s: well within 20 s
	 * however busy the machine (the tasks before it run first). */
	CHECK_INT(wait_fate("p-slow", &attempt, &line), 'D');
	CHECK_RANGE(now_ms() - t0, 0, 20000);
	CHECK_INT(attempt, 1);
	CHECK_CONTAINS(line, "handler_failed: command timed out after 300 ms");
	CHECK_FALSE(state_exists("registry/slow/crm.json"));

	CHECK_INT(wait_fate("p-invalid", NULL, &line), 'D');
	CHECK_CONTAINS(line, "handler_failed: module_id: missing");
	CHECK_INT(wait_fate("p-notjson", NULL, &line), 'D');
	CHECK_CONTAINS(line, "invalid_payload");
	free(line);
}

TEST(update_and_deprovision_change_the_registry)
{
	char *rec = NULL, *line = NULL;

	CHECK_TRUE(publish("u-acme", "provisioning.update",
	                   "{\"tenant_id\":\"acme\",\"module_id\":\"erp\",\"version\":2,\"spec\":{"
	                   "\"plan\":\"platinum\"}}"));
	CHECK_TRUE(publish(
	    "u-globex", "provisioning.update",
	    "{\"tenant_id\":\"globex\",\"module_id\":\"billing\",\"version\":1,\"spec\":{}}"));
	CHECK_TRUE(publish("d-flaky", "provisioning.deprovision",
	                   "{\"tenant_id\":\"flaky\",\"module_id\":\"crm\"}"));
	CHECK_TRUE(publish("d-legacy", "provisioning.deprovision",
	                   "{\"tenant_id\":\"acme\",\"module_id\":\"legacy\"}"));

	CHECK_INT(wait_fate("u-acme", NULL, NULL), 'A');
	rec = state_file("registry/acme/erp.json");
	CHECK_CONTAINS(rec, "\"version\":2,\"spec\":{\"plan\":\"platinum\"},\"provisioned_at\":\"");
	CHECK_CONTAINS(rec, "\"updated_at\":\"");
	free(rec);
	CHECK_INT(wait_fate("u-globex", NULL, &line), 'D');
	CHECK_CONTAINS(line, "handler_failed: module not provisioned");
	CHECK_FALSE(state_exists("registry/globex/billing.json"));
	CHECK_INT(wait_fate("d-flaky", NULL, NULL), 'A');
	CHECK_FALSE(state_exists("registry/flaky/crm.json"));
	CHECK_INT(wait_fate("d-legacy", NULL, NULL), 'A');
	free(line);
}

TEST(context_update_merges_versioned_events)
{
	char *doc = NULL, *line = NULL;

	CHECK_TRUE(publish("c-1", "context.update",
	                   "{\"story_id\":\"US-1\",\"event\":\"story.created\",\"version\":1,"
	                   "\"data\":{\"title\":\"Login\",\"points\":3,\"owner\":\"ana\"}}"));
	CHECK_INT(wait_fate("c-1", NULL, NULL), 'A');
	CHECK_TRUE(publish("c-2", "context.update",
	                   "{\"story_id\":\"US-1\",\"event\":\"story.estimated\",\"version\":2,"
	                   "\"data\":{\"points\":5,\"title\":null}}"));
	CHECK_INT(wait_fate("c-2", NULL, NULL), 'A');
	/* A late event below the document's version changes nothing. */
	CHECK_TRUE(publish("c-late", "context.update",
	                   "{\"story_id\":\"US-1\",\"event\":\"story.assigned\",\"version\":1,"
	                   "\"data\":{\"owner\":\"bob\"}}"));
	CHECK_TRUE(publish("c-bad", "context.update",
	                   "{\"story_id\":\"US-1\",\"event\":\"x\",\"version\":0,\"data\":{}}"));
	CHECK_TRUE(publish("c-notjson", "context.update", "{\"story_id\":"));
	CHECK_INT(wait_fate("c-late", NULL, NULL), 'A');
	CHECK_INT(wait_fate("c-bad", NULL, &line), 'D');
	CHECK_CONTAINS(line, "handler_failed: version: ");
	CHECK_INT(wait_fate("c-notjson", NULL, &line), 'D');
	CHECK_CONTAINS(line, "invalid_payload");

	doc = state_file("ctx/context/US-1.json");
	CHECK_CONTAINS(doc, "{\"story_id\":\"US-1\",\"version\":2,\"last_event\":\"story."
	                    "estimated\",\"updated_at\":\"");
	CHECK_CONTAINS(doc, "\"data\":{\"points\":5,\"owner\":\"ana\"}}");
	free(doc);
	free(line);
}

TEST(events_stream_holds_each_follow_up_once)
{
	static const char *const want[] = {
		"events.provisioning.provisioned "
		"{\"tenant_id\":\"acme\",\"module_id\":\"erp\",\"version\":1}\n",
		"events.provisioning.provisioned "
		"{\"tenant_id\":\"flaky\",\"module_id\":\"crm\",\"version\":1}\n",
		"events.provisioning.updated "
		"{\"tenant_id\":\"acme\",\"module_id\":\"erp\",\"version\":2}\n",
		"events.provisioning.deprovisioned "
		"{\"tenant_id\":\"flaky\",\"module_id\":\"crm\",\"version\":1}\n",
		"events.provisioning.deprovisioned "
		"{\"tenant_id\":\"acme\",\"module_id\":\"legacy\",\"version\":null}\n",
		"events.context.updated {\"story_id\":\"US-1\",\"version\":1}\n",
		"events.context.updated {\"story_id\":\"US-1\",\"version\":2}\n",
	};
	uint64_t count = 0;
	char *dump = stream_dump("EVENTS", NULL, 0, &count);

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_CONTAINS(dump, want[i]);
	/* Nothing else: no event for failed, timed-out or stale tasks. */
	CHECK_INT(count, sizeof(want) / sizeof(want[0]));
	if (testing_failed())
		diag("EVENTS", dump);
	free(dump);
}

TEST(dlq_holds_each_failed_task_with_its_reason)
{
	static const char *const headers[] = { "Taskjet-Reason", "Taskjet-Error",
		                               "Taskjet-Plugin" };
	static const char *const want[] = {
		"dlq.provisioning.provision handler_failed|command timed out after 300 "
		"ms|provision "
		"{\"tenant_id\":\"slow\",\"module_id\":\"crm\",\"version\":1,\"spec\":{}}\n",
		"dlq.provisioning.provision handler_failed|module_id: missing|provision "
		"{\"tenant_id\":\"acme\",\"spec\":{}}\n",
		"dlq.provisioning.provision invalid_payload|payload is not valid JSON: not a "
		"number, true, false or null at byte 0|provision "
		"this is not JSON\n",
		"dlq.provisioning.update handler_failed|module not provisioned|update "
		"{\"tenant_id\":\"globex\",\"module_id\":\"billing\",\"version\":1,\"spec\":{}}\n",
		"dlq.context.update handler_failed|version: must be an integer >= 1|context-update "
		"{\"story_id\":\"US-1\",\"event\":\"x\",\"version\":0,\"data\":{}}\n",
		"dlq.context.update invalid_payload|payload is not valid JSON: unexpected end of "
		"the text at byte 12|context-update "
		"{\"story_id\":\n",
	};
	uint64_t count = 0;
	char *dump = stream_dump("DLQ", headers, 3, &count);

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_CONTAINS(dump, want[i]);
	CHECK_INT(count, 6);
	if (testing_failed())
		diag("DLQ", dump);
	free(dump);
}

TEST(every_published_task_is_accounted_for)
{
	uint64_t dlq = stream_msgs("DLQ");
	uint64_t pending = stream_msgs("PROVISIONING") + stream_msgs("CONTEXT");
	int acked = 0, dead = 0;

	for (int i = 0; i < published_count; i++) {
		int fate = fate_of(published[i], NULL, NULL);

		acked += fate == 'A';
		dead += fate == 'D';
	}
	CHECK_INT(published_count, 14);
	CHECK_INT(acked, 8);
	CHECK_INT(dead, 6);
	/* Each letter in DLQ is one dead-lettered task, and nothing is left. */
	CHECK_INT(dlq, (uint64_t)dead);
	CHECK_INT(pending, 0);
	CHECK_INT((uint64_t)published_count, (uint64_t)acked + dlq + pending);
}

TEST(engine_stops_cleanly_on_sigterm)
{
	int64_t deadline = now_ms() + STOP_TIMEOUT_MS;
	int status = 0;
	pid_t r = 0;

	if (engine <= 0) {
		testing_fail(__FILE__, __LINE__, "no engine running");
		return;
	}
	CHECK_INT(kill(engine, SIGTERM), 0);
	while ((r = waitpid(engine, &status, WNOHANG)) == 0 && now_ms() < deadline)
		sleep_ms(20);
	if (r == 0) {
		kill(engine, SIGKILL);
		waitpid(engine, &status, 0);
		testing_fail(__FILE__, __LINE__, "taskjet run ignored SIGTERM");
	}
	engine = 0;
	CHECK_TRUE(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 0);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	remove(path);
	return 0;
}

int
main(void)
{
	struct cfg_nats c = { .name = "taskjet-e2e-test", .connect_timeout_ms = 2000 };
	bool must_fail;
	int rc;

	if (!nats_server_available("plugins_e2e", &must_fail))
		return must_fail ? 1 : 0;
	log_setup(TJ_LOG_WARNING, LOG_FORMAT_TEXT, NULL);
	/* Only the config decides for the engine (no env overrides); done
	 * here, before any thread exists, as the child inherits it. */
	unsetenv("NATS_URL");
	unsetenv("TASKJET_PLUGIN_DIR");
	unsetenv("TASKJET_STATE_DIR");
	unsetenv("TASKJET_BACKEND");
	unsetenv("TASKJET_WORKER_ID");
	snprintf(work, sizeof(work), "/tmp/taskjet-e2e-XXXXXX");
	if (mkdtemp(work) == NULL) {
		printf("Bail out! mkdtemp failed\n");
		return 1;
	}
	snprintf(state, sizeof(state), "%s/state", work);
	snprintf(log_path, sizeof(log_path), "%s/engine.log", work);
	snprintf(hook_log, sizeof(hook_log), "%s/hook.log", work);
	if (nats_server_start(&server) != 0 || natsconn_open(&c, server.url, NULL, &admin) != 0) {
		printf("Bail out! cannot start nats-server or connect to it\n");
		nats_server_cleanup(&server);
		nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		return 1;
	}
	RUN(engine_becomes_ready);
	RUN(provision_acks_retries_and_dead_letters);
	RUN(update_and_deprovision_change_the_registry);
	RUN(context_update_merges_versioned_events);
	RUN(events_stream_holds_each_follow_up_once);
	RUN(dlq_holds_each_failed_task_with_its_reason);
	RUN(every_published_task_is_accounted_for);
	RUN(engine_stops_cleanly_on_sigterm);
	if (engine > 0) {
		kill(engine, SIGKILL);
		waitpid(engine, NULL, 0);
	}
	rc = testing_done();
	if (rc != 0) {
		char *log = slurp(log_path);

		diag("engine log", log);
		free(log);
	}
	natsconn_close(admin, 1000);
	nats_server_cleanup(&server);
	nftw(work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	natsconn_library_shutdown(5000);
	return rc;
}
