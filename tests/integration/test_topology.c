/* SPDX-License-Identifier: MIT */
/* Topology against a real server: create, idempotence, drift, dry run. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "js_fixture.h"
#include "util/log.h"
#include "nats_server.h"
#include "nats/natsconn.h"
#include "testing.h"
#include "nats/topology.h"

#define NS_PER_MS INT64_C(1000000)

static struct nats_server server;
static struct natsconn *nc;
static struct js_fixture fx;

static bool
report_has(const struct topo_report *r, const char *needle)
{
	for (size_t i = 0; i < r->count; i++)
		if (strstr(r->lines[i], needle) != NULL)
			return true;
	return false;
}

static void
dump(const struct topo_report *r)
{
	for (size_t i = 0; i < r->count; i++)
		printf("#   %s\n", r->lines[i]);
}

static int
stream_count(void)
{
	jsStreamNamesList *l = NULL;
	int n;

	if (js_StreamNames(&l, natsconn_js(nc), NULL, NULL) == NATS_NOT_FOUND)
		return 0;
	n = l != NULL ? l->Count : -1;
	jsStreamNamesList_Destroy(l);
	return n;
}

static int64_t
stream_max_age_ns(const char *name)
{
	jsStreamInfo *si = NULL;
	int64_t v = -1;

	if (js_GetStreamInfo(&si, natsconn_js(nc), name, NULL, NULL) == NATS_OK)
		v = si->Config->MaxAge;
	jsStreamInfo_Destroy(si);
	return v;
}

/* The filter subject of advisory reader `durable`, or "(missing)". */
static const char *
advisory_filter(const char *durable, char *buf, size_t len)
{
	jsConsumerInfo *ci = NULL;

	snprintf(buf, len, "(missing)");
	if (js_GetConsumerInfo(&ci, natsconn_js(nc), "TASKJET_ADVISORIES", durable, NULL, NULL) ==
	    NATS_OK)
		snprintf(buf, len, "%s",
		         ci->Config->FilterSubject != NULL ? ci->Config->FilterSubject : "");
	jsConsumerInfo_Destroy(ci);
	return buf;
}

TEST(dry_run_on_empty_server_changes_nothing)
{
	struct topo_report r;

	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, true, &r), -EAGAIN);
	CHECK_INT(r.pending, 5); /* TASKS, DLQ, advisories + route and advisory readers */
	CHECK_INT(r.created, 0);
	CHECK_TRUE(report_has(&r, "stream TASKS: missing (would create)"));
	CHECK_TRUE(report_has(&r, "consumer TASKS/taskjet-work: missing"));
	if (testing_failed())
		dump(&r);
	topo_report_free(&r);
	CHECK_INT(stream_count(), 0);
}

TEST(creates_everything_from_scratch)
{
	struct topo_report r;
	jsConsumerInfo *ci = NULL;
	jsStreamInfo *si = NULL;
	char buf[256];

	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, false, &r), 0);
	CHECK_INT(r.created, 5);
	CHECK_INT(r.errors + r.conflicts + r.updated, 0);
	if (testing_failed())
		dump(&r);
	topo_report_free(&r);

	CHECK_INT(js_GetStreamInfo(&si, natsconn_js(nc), "TASKS", NULL, NULL), NATS_OK);
	if (si != NULL) {
		CHECK_INT(si->Config->Retention, js_WorkQueuePolicy);
		CHECK_INT(si->Config->MaxAge, 24 * 3600 * 1000 * NS_PER_MS);
		CHECK_INT(si->Config->Duplicates, 120000 * NS_PER_MS);
		jsStreamInfo_Destroy(si);
		si = NULL;
	}
	CHECK_INT(js_GetStreamInfo(&si, natsconn_js(nc), "DLQ", NULL, NULL), NATS_OK);
	if (si != NULL) {
		CHECK_INT(si->Config->Retention, js_LimitsPolicy);
		CHECK_INT(si->Config->SubjectsLen, 2);
		CHECK_STR(si->Config->Subjects[0], "dlq.>");
		/* Where letters too large for one message keep their parts. */
		CHECK_STR(si->Config->Subjects[1], "dlq-chunks.>");
		CHECK_INT(si->Config->MaxMsgs, -1);
		jsStreamInfo_Destroy(si);
		si = NULL;
	}
	CHECK_INT(js_GetStreamInfo(&si, natsconn_js(nc), "TASKJET_ADVISORIES", NULL, NULL),
	          NATS_OK);
	if (si != NULL) {
		CHECK_INT(si->Config->SubjectsLen, 1);
		CHECK_STR(si->Config->Subjects[0],
		          "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.TASKS.taskjet-work");
		jsStreamInfo_Destroy(si);
	}
	CHECK_INT(js_GetConsumerInfo(&ci, natsconn_js(nc), "TASKS", "taskjet-work", NULL, NULL),
	          NATS_OK);
	if (ci != NULL) {
		CHECK_INT(ci->Config->AckWait, 30000 * NS_PER_MS);
		CHECK_INT(ci->Config->MaxDeliver, 5);
		CHECK_INT(ci->Config->MaxAckPending, 1000);
		CHECK_STR(ci->Config->FilterSubject, "tasks.>");
		CHECK_INT(ci->Config->BackOffLen, 0);
		CHECK_INT(ci->Config->AckPolicy, js_AckExplicit);
		jsConsumerInfo_Destroy(ci);
		ci = NULL;
	}
	/* The route's own advisory reader, filtered on its advisories. */
	CHECK_STR(advisory_filter("taskjet-adv-5-TASKS-taskjet-work", buf, sizeof(buf)),
	          "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.TASKS.taskjet-work");
}

TEST(second_run_is_idempotent)
{
	struct topo_report r;

	for (int round = 0; round < 2; round++) {
		CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, round == 1, &r), 0);
		CHECK_INT(r.created + r.updated + r.pending + r.conflicts + r.errors, 0);
		CHECK_INT(r.count, 5);
		for (size_t i = 0; i < r.count; i++)
			CHECK_CONTAINS(r.lines[i], ": ok");
		if (testing_failed())
			dump(&r);
		topo_report_free(&r);
	}
}

TEST(max_age_drift_reported_then_fixed)
{
	struct topo_report r;
	jsStreamInfo *si = NULL, *up = NULL;
	jsStreamConfig c;

	CHECK_INT(js_GetStreamInfo(&si, natsconn_js(nc), "TASKS", NULL, NULL), NATS_OK);
	if (si == NULL)
		return;
	c = *si->Config;
	c.MaxAge = 3600 * 1000 * NS_PER_MS;
	CHECK_INT(js_UpdateStream(&up, natsconn_js(nc), &c, NULL, NULL), NATS_OK);
	jsStreamInfo_Destroy(up);
	jsStreamInfo_Destroy(si);

	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, true, &r), -EAGAIN);
	CHECK_TRUE(report_has(&r, "stream TASKS: max_age 1h -> 24h (would update)"));
	CHECK_INT(r.pending, 1);
	topo_report_free(&r);
	CHECK_INT(stream_max_age_ns("TASKS"), 3600 * 1000 * NS_PER_MS);

	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, false, &r), 0);
	CHECK_INT(r.updated, 1);
	CHECK_TRUE(report_has(&r, "stream TASKS: updated"));
	topo_report_free(&r);
	CHECK_INT(stream_max_age_ns("TASKS"), 24 * 3600 * 1000 * NS_PER_MS);
}

TEST(consumer_drift_is_updated_with_full_config)
{
	struct topo_report r;
	jsConsumerInfo *ci = NULL;

	fx.route.max_attempts = 7;
	fx.route.concurrency = 8;
	fx.route.batch = 100; /* 8 * 100 * 4 = 3200 */
	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, false, &r), 0);
	CHECK_TRUE(report_has(&r, "max_deliver 5 -> 7"));
	CHECK_TRUE(report_has(&r, "max_ack_pending 1000 -> 3200"));
	CHECK_INT(r.updated, 1);
	if (testing_failed())
		dump(&r);
	topo_report_free(&r);
	CHECK_INT(js_GetConsumerInfo(&ci, natsconn_js(nc), "TASKS", "taskjet-work", NULL, NULL),
	          NATS_OK);
	if (ci != NULL) {
		CHECK_INT(ci->Config->MaxDeliver, 7);
		CHECK_INT(ci->Config->MaxAckPending, 3200);
		CHECK_INT(ci->Config->AckWait, 30000 * NS_PER_MS);
		CHECK_STR(ci->Config->FilterSubject, "tasks.>");
		jsConsumerInfo_Destroy(ci);
		ci = NULL;
	}

	/* The route's max_ack_pending, when set, wins over the default. */
	fx.route.max_ack_pending = 50;
	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, false, &r), 0);
	CHECK_TRUE(report_has(&r, "max_ack_pending 3200 -> 50"));
	topo_report_free(&r);
	CHECK_INT(js_GetConsumerInfo(&ci, natsconn_js(nc), "TASKS", "taskjet-work", NULL, NULL),
	          NATS_OK);
	if (ci != NULL) {
		CHECK_INT(ci->Config->MaxAckPending, 50);
		CHECK_INT(ci->Config->MaxDeliver, 7);
		jsConsumerInfo_Destroy(ci);
	}
	/* Back to the default, for the tests that follow. */
	fx.route.max_ack_pending = 0;
	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, false, &r), 0);
	CHECK_TRUE(report_has(&r, "max_ack_pending 50 -> 3200"));
	topo_report_free(&r);
}

TEST(retention_change_is_a_conflict)
{
	struct topo_report r;
	jsStreamInfo *si = NULL;
	jsStreamConfig c;
	const char *subj[] = { "tasks.>" };

	CHECK_INT(js_DeleteStream(natsconn_js(nc), "TASKS", NULL, NULL), NATS_OK);
	jsStreamConfig_Init(&c);
	c.Name = "TASKS";
	c.Subjects = subj;
	c.SubjectsLen = 1;
	c.Retention = js_LimitsPolicy;
	CHECK_INT(js_AddStream(&si, natsconn_js(nc), &c, NULL, NULL), NATS_OK);
	jsStreamInfo_Destroy(si);

	for (int dry = 1; dry >= 0; dry--) {
		CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, dry, &r), -EEXIST);
		CHECK_TRUE(report_has(&r,
		                      "stream TASKS: retention is limits, config says workqueue: "
		                      "cannot be changed in place"));
		CHECK_INT(r.conflicts, 1);
		if (testing_failed())
			dump(&r);
		topo_report_free(&r);
	}
	/* Nothing was changed behind our back. */
	CHECK_INT(js_GetStreamInfo(&si, natsconn_js(nc), "TASKS", NULL, NULL), NATS_OK);
	if (si != NULL) {
		CHECK_INT(si->Config->Retention, js_LimitsPolicy);
		jsStreamInfo_Destroy(si);
	}
}

static bool
has_subject(const jsStreamConfig *c, const char *subject)
{
	for (int i = 0; i < c->SubjectsLen; i++)
		if (strcmp(c->Subjects[i], subject) == 0)
			return true;
	return false;
}

/* The subjects of stream `name` include every one listed (NULL-ended). */
static bool
stream_has_subjects(const char *name, ...)
{
	jsStreamInfo *si = NULL;
	const char *subject;
	bool all = true;
	va_list ap;

	if (js_GetStreamInfo(&si, natsconn_js(nc), name, NULL, NULL) != NATS_OK)
		return false;
	va_start(ap, name);
	while ((subject = va_arg(ap, const char *)) != NULL)
		if (!has_subject(si->Config, subject)) {
			printf("# stream %s lacks %s\n", name, subject);
			all = false;
		}
	va_end(ap);
	jsStreamInfo_Destroy(si);
	return all;
}

/*
 * A second deployment on the same account: its own work stream and route,
 * its own DLQ subject prefix, the same DLQ and advisory streams. Neither
 * deployment's run takes the other's subjects or advisory reader away.
 */
TEST(two_deployments_share_streams_without_loss)
{
	struct js_fixture other;
	struct topo_report r;
	char buf[256];
	const char *adv_a = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.TASKS.taskjet-work";
	const char *adv_b = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.OTHER.taskjet-other";

	/* The test before left TASKS with another retention. */
	js_DeleteStream(natsconn_js(nc), "TASKS", NULL, NULL);
	js_fixture_init(&fx, fx.cfg.nats.url);
	js_fixture_init(&other, fx.cfg.nats.url);
	other.stream.name = (char *)"OTHER";
	other.stream_subjects[0] = (char *)"other.>";
	other.route.name = (char *)"other";
	other.route.stream = (char *)"OTHER";
	other.route.subject = (char *)"other.>";
	other.route.consumer = (char *)"taskjet-other";
	other.cfg.dlq.subject_prefix = (char *)"dlq-other";

	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, false, &r), 0);
	topo_report_free(&r);
	CHECK_INT(topology_ensure(natsconn_js(nc), &other.cfg, false, &r), 0);
	CHECK_TRUE(report_has(&r, "advisory stream TASKJET_ADVISORIES: adding subject "));
	CHECK_TRUE(
	    report_has(&r, "dlq stream DLQ: adding subjects dlq-other.>, dlq-other-chunks.>"));
	if (testing_failed())
		dump(&r);
	topo_report_free(&r);
	CHECK_TRUE(stream_has_subjects("TASKJET_ADVISORIES", adv_a, adv_b, NULL));
	CHECK_TRUE(stream_has_subjects("DLQ", "dlq.>", "dlq-other.>", "dlq-chunks.>",
	                               "dlq-other-chunks.>", NULL));

	/* The first deployment again (a restart): nothing to change, nothing lost. */
	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, true, &r), 0);
	CHECK_INT(r.pending, 0);
	if (testing_failed())
		dump(&r);
	topo_report_free(&r);
	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, false, &r), 0);
	CHECK_INT(r.updated + r.created, 0);
	topo_report_free(&r);
	CHECK_TRUE(stream_has_subjects("TASKJET_ADVISORIES", adv_a, adv_b, NULL));
	CHECK_TRUE(stream_has_subjects("DLQ", "dlq.>", "dlq-other.>", "dlq-chunks.>",
	                               "dlq-other-chunks.>", NULL));

	/* Each route has its own reader, filtered on its own advisories. */
	CHECK_STR(advisory_filter("taskjet-adv-5-OTHER-taskjet-other", buf, sizeof(buf)), adv_b);
	CHECK_STR(advisory_filter("taskjet-adv-5-TASKS-taskjet-work", buf, sizeof(buf)), adv_a);
}

/* A work stream's subject the config no longer lists is kept (someone
 * may still publish there); one the config widens is folded into it. */
TEST(work_stream_subjects_are_only_added)
{
	static char *narrow[] = { (char *)"tasks.a.>", (char *)"jobs.>" };
	static char *wide[] = { (char *)"tasks.>" };
	struct topo_report r;
	jsStreamInfo *si = NULL;

	js_DeleteStream(natsconn_js(nc), "TASKS", NULL, NULL);
	js_fixture_init(&fx, fx.cfg.nats.url);
	fx.stream.subjects = narrow;
	fx.stream.subject_count = 2;
	fx.route.subject = (char *)"tasks.a.>";
	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, false, &r), 0);
	topo_report_free(&r);
	CHECK_TRUE(stream_has_subjects("TASKS", "tasks.a.>", "jobs.>", NULL));

	fx.stream.subjects = wide;
	fx.stream.subject_count = 1;
	CHECK_INT(topology_ensure(natsconn_js(nc), &fx.cfg, false, &r), 0);
	CHECK_TRUE(report_has(&r, "stream TASKS: adding subject tasks.>, keeping the 2 it has"));
	if (testing_failed())
		dump(&r);
	topo_report_free(&r);
	CHECK_INT(js_GetStreamInfo(&si, natsconn_js(nc), "TASKS", NULL, NULL), NATS_OK);
	if (si != NULL) {
		CHECK_INT(si->Config->SubjectsLen, 2);
		CHECK_TRUE(has_subject(si->Config, "jobs.>"));
		CHECK_TRUE(has_subject(si->Config, "tasks.>"));
		CHECK_TRUE(!has_subject(si->Config, "tasks.a.>"));
		jsStreamInfo_Destroy(si);
	}
	js_fixture_init(&fx, fx.cfg.nats.url);
}

int
main(void)
{
	bool must_fail;
	int rc;

	if (!nats_server_available("topology", &must_fail))
		return must_fail ? 1 : 0;
	log_setup(TJ_LOG_WARNING, LOG_FORMAT_TEXT, NULL);
	rc = nats_server_start(&server);
	if (rc == 0) {
		js_fixture_init(&fx, server.url);
		rc = natsconn_open(&fx.cfg.nats, NULL, NULL, &nc);
	}
	if (rc != 0) {
		printf("Bail out! cannot start/connect nats-server: %d\n", rc);
		nats_server_cleanup(&server);
		return 1;
	}
	RUN(dry_run_on_empty_server_changes_nothing);
	RUN(creates_everything_from_scratch);
	RUN(second_run_is_idempotent);
	RUN(max_age_drift_reported_then_fixed);
	RUN(consumer_drift_is_updated_with_full_config);
	RUN(retention_change_is_a_conflict);
	RUN(two_deployments_share_streams_without_loss);
	RUN(work_stream_subjects_are_only_added);
	natsconn_close(nc, 1000);
	nats_server_cleanup(&server);
	natsconn_library_shutdown(5000);
	return testing_done();
}
