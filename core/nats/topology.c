/* SPDX-License-Identifier: MIT */
/* Create, update or report the streams and consumers the config needs. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/subject.h"
#include "nats/dlq_store.h"
#include "nats/topology.h"
#include "util/xalloc.h"

#define NS_PER_MS INT64_C(1000000)
#define ADVISORY_PREFIX "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."
#define ADVISORY_ACK_WAIT_MS 30000
/* An advisory reader takes a couple at a time. */
#define ADVISORY_MAX_ACK_PENDING 100

/* A stream as the config wants it, whatever part of the config it came
 * from (work stream, DLQ, advisory capture). */
struct want_stream {
	const char *what; /* "stream", "dlq stream", "advisory stream" */
	const char *name;
	const char **subjects;
	int subject_count;
	jsStorageType storage;
	jsRetentionPolicy retention;
	int64_t max_age_ms;
	int64_t max_msgs;
	int64_t max_bytes;
	jsDiscardPolicy discard;
	int64_t replicas;
	int64_t duplicates_ms; /* 0: leave the server default alone */
};

struct ctx {
	jsCtx *js;
	bool dry_run;
	struct topo_report *r;
};

static void TJ_PRINTF(2, 3) report(struct topo_report *r, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *line;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	line = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(line, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r->lines = xrealloc(r->lines, r->count + 1, sizeof(*r->lines));
	r->lines[r->count++] = line;
}

void
topo_report_free(struct topo_report *report)
{
	for (size_t i = 0; i < report->count; i++)
		free(report->lines[i]);
	free(report->lines);
	memset(report, 0, sizeof(*report));
}

/* Text of the last libnats error, for a call that just failed. */
static const char *
nats_text(natsStatus s, jsErrCode jerr)
{
	static __thread char buf[320];
	const char *last = nats_GetLastError(NULL);

	snprintf(buf, sizeof(buf), "%s (jerr %d)%s%s", natsStatus_GetText(s), (int)jerr,
	         last != NULL ? ": " : "", last != NULL ? last : "");
	return buf;
}

static const char *
fmt_ms(int64_t ms, char *buf, size_t len)
{
	if (ms <= 0)
		snprintf(buf, len, "unlimited");
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%" PRId64 "h", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%" PRId64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%" PRId64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRId64 "ms", ms);
	return buf;
}

static const char *
retention_name(jsRetentionPolicy p)
{
	switch (p) {
	case js_LimitsPolicy:
		return "limits";
	case js_InterestPolicy:
		return "interest";
	case js_WorkQueuePolicy:
		return "workqueue";
	}
	return "?";
}

static const char *
storage_name(jsStorageType t)
{
	return t == js_MemoryStorage ? "memory" : "file";
}

static const char *
discard_name(jsDiscardPolicy d)
{
	return d == js_DiscardNew ? "new" : "old";
}

const char *
topology_consumer_name(const struct cfg_route *route, char *buf, size_t len)
{
	if (route->consumer != NULL && *route->consumer != '\0')
		snprintf(buf, len, "%s", route->consumer);
	else
		snprintf(buf, len, CFG_DEFAULT_NAME_PREFIX "%s", route->name);
	return buf;
}

int64_t
topology_max_ack_pending(const struct cfg_route *route)
{
	return route->max_ack_pending > 0 ? route->max_ack_pending
	                                  : cfg_route_default_max_ack_pending(route);
}

void
topology_advisory_subject(const char *stream, const char *consumer, char *buf, size_t len)
{
	snprintf(buf, len, ADVISORY_PREFIX "%s.%s", stream, consumer);
}

const char *
topology_advisory_durable(const struct cfg_route *route, char *buf, size_t len)
{
	char consumer[256];

	/* The stream name's length keeps "A-B"+"C" apart from "A"+"B-C". */
	snprintf(buf, len, "taskjet-adv-%zu-%s-%s", strlen(route->stream), route->stream,
	         topology_consumer_name(route, consumer, sizeof(consumer)));
	return buf;
}

/* Is every subject `s` can match matched by one of the n patterns? */
static bool
covered(const char **list, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (subject_covers(list[i], s))
			return true;
	return false;
}

/*
 * The subjects a stream gets: the config's, plus every subject it already
 * has that they do not cover. A stream another deployment on the same
 * account declares too (the DLQ, the advisory capture, a shared work
 * stream) keeps that deployment's subjects: an update only ever adds.
 * A subject the config covers with a wider one is folded into it. The
 * array is the caller's to free; the strings are borrowed from both.
 */
static const char **
merged_subjects(const struct want_stream *w, const jsStreamConfig *c, int *count_r)
{
	const char **v = xcalloc((size_t)w->subject_count + (size_t)c->SubjectsLen + 1, sizeof(*v));
	int n = 0, kept;

	for (int i = 0; i < c->SubjectsLen; i++)
		if (!covered(w->subjects, w->subject_count, c->Subjects[i]))
			v[n++] = c->Subjects[i];
	kept = n;
	for (int i = 0; i < w->subject_count; i++)
		if (!covered(v, kept, w->subjects[i]) && !covered(w->subjects, i, w->subjects[i]))
			v[n++] = w->subjects[i];
	*count_r = n;
	return v;
}

/* The config's subjects the stream lacks (not covered by what it has). */
static int
missing_subjects(const struct want_stream *w, const jsStreamConfig *c)
{
	int n = 0;

	for (int i = 0; i < w->subject_count; i++)
		if (!covered(c->Subjects, c->SubjectsLen, w->subjects[i]))
			n++;
	return n;
}

/* Overwrite the fields we manage, keep the rest of `c` as it is. */
static void
apply_want(const struct want_stream *w, jsStreamConfig *c)
{
	c->Name = w->name;
	c->Subjects = w->subjects;
	c->SubjectsLen = w->subject_count;
	c->Storage = w->storage;
	c->Retention = w->retention;
	c->MaxAge = w->max_age_ms * NS_PER_MS;
	c->MaxMsgs = w->max_msgs;
	c->MaxBytes = w->max_bytes;
	c->Discard = w->discard;
	c->Replicas = w->replicas;
	if (w->duplicates_ms > 0)
		c->Duplicates = w->duplicates_ms * NS_PER_MS;
}

/* Compare; describe every difference into r. Returns how many updatable
 * differences there are; *conflict_r counts the ones that are not. */
static int
diff_stream(struct ctx *x, const struct want_stream *w, const jsStreamConfig *c, const char *verb,
            int *conflict_r)
{
	char a[32], b[32];
	int n = 0;

	*conflict_r = 0;
	if (c->Retention != w->retention) {
		report(x->r,
		       "%s %s: retention is %s, config says %s: cannot be changed "
		       "in place (recreate the stream or fix the config)",
		       w->what, w->name, retention_name(c->Retention),
		       retention_name(w->retention));
		(*conflict_r)++;
	}
	if (c->Storage != w->storage) {
		report(x->r,
		       "%s %s: storage is %s, config says %s: cannot be changed in "
		       "place (recreate the stream or fix the config)",
		       w->what, w->name, storage_name(c->Storage), storage_name(w->storage));
		(*conflict_r)++;
	}
	if (missing_subjects(w, c) > 0) {
		char list[512] = "";
		size_t off = 0;

		for (int i = 0; i < w->subject_count; i++)
			if (!covered(c->Subjects, c->SubjectsLen, w->subjects[i]) &&
			    off < sizeof(list))
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
				                        off > 0 ? ", " : "", w->subjects[i]);
		report(x->r, "%s %s: adding subject%s %s, keeping the %d it has (%s)", w->what,
		       w->name, missing_subjects(w, c) == 1 ? "" : "s", list, c->SubjectsLen, verb);
		n++;
	}
	if (c->MaxAge != w->max_age_ms * NS_PER_MS) {
		report(x->r, "%s %s: max_age %s -> %s (%s)", w->what, w->name,
		       fmt_ms(c->MaxAge / NS_PER_MS, a, sizeof(a)),
		       fmt_ms(w->max_age_ms, b, sizeof(b)), verb);
		n++;
	}
	if (c->MaxMsgs != w->max_msgs) {
		report(x->r, "%s %s: max_msgs %" PRId64 " -> %" PRId64 " (%s)", w->what, w->name,
		       c->MaxMsgs, w->max_msgs, verb);
		n++;
	}
	if (c->MaxBytes != w->max_bytes) {
		report(x->r, "%s %s: max_bytes %" PRId64 " -> %" PRId64 " (%s)", w->what, w->name,
		       c->MaxBytes, w->max_bytes, verb);
		n++;
	}
	if (c->Discard != w->discard) {
		report(x->r, "%s %s: discard %s -> %s (%s)", w->what, w->name,
		       discard_name(c->Discard), discard_name(w->discard), verb);
		n++;
	}
	if (c->Replicas != w->replicas) {
		report(x->r, "%s %s: replicas %" PRId64 " -> %" PRId64 " (%s)", w->what, w->name,
		       c->Replicas, w->replicas, verb);
		n++;
	}
	if (w->duplicates_ms > 0 && c->Duplicates != w->duplicates_ms * NS_PER_MS) {
		report(x->r, "%s %s: duplicate_window %s -> %s (%s)", w->what, w->name,
		       fmt_ms(c->Duplicates / NS_PER_MS, a, sizeof(a)),
		       fmt_ms(w->duplicates_ms, b, sizeof(b)), verb);
		n++;
	}
	return n;
}

static int
ensure_stream(struct ctx *x, const struct want_stream *w)
{
	jsStreamInfo *si = NULL, *done = NULL;
	const char **merged = NULL;
	jsStreamConfig c;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc = 0, diffs, conflicts;

	s = js_GetStreamInfo(&si, x->js, w->name, NULL, &jerr);
	if (s == NATS_NOT_FOUND) {
		if (x->dry_run) {
			report(x->r, "%s %s: missing (would create)", w->what, w->name);
			x->r->pending++;
			goto out;
		}
		jsStreamConfig_Init(&c);
		apply_want(w, &c);
		s = js_AddStream(&done, x->js, &c, NULL, &jerr);
		if (s != NATS_OK) {
			report(x->r, "%s %s: create failed: %s", w->what, w->name,
			       nats_text(s, jerr));
			x->r->errors++;
			rc = -EIO;
			goto out;
		}
		report(x->r, "%s %s: created", w->what, w->name);
		x->r->created++;
		goto out;
	}
	if (s != NATS_OK) {
		report(x->r, "%s %s: cannot read: %s", w->what, w->name, nats_text(s, jerr));
		x->r->errors++;
		rc = -EIO;
		goto out;
	}

	diffs = diff_stream(x, w, si->Config, x->dry_run ? "would update" : "updating", &conflicts);
	x->r->conflicts += (unsigned)conflicts;
	if (conflicts > 0)
		rc = -EEXIST;
	if (diffs == 0) {
		if (conflicts == 0)
			report(x->r, "%s %s: ok", w->what, w->name);
		goto out;
	}
	if (x->dry_run || conflicts > 0) {
		/* An update would fail on the conflict anyway; keep it atomic. */
		if (x->dry_run)
			x->r->pending++;
		goto out;
	}
	/* The server replaces the whole config: start from what it has, and
	 * never drop a subject someone else may have added. */
	c = *si->Config;
	apply_want(w, &c);
	merged = merged_subjects(w, si->Config, &c.SubjectsLen);
	c.Subjects = merged;
	s = js_UpdateStream(&done, x->js, &c, NULL, &jerr);
	if (s != NATS_OK) {
		report(x->r, "%s %s: update failed: %s", w->what, w->name, nats_text(s, jerr));
		x->r->errors++;
		rc = -EIO;
		goto out;
	}
	report(x->r, "%s %s: updated", w->what, w->name);
	x->r->updated++;
out:
	free(merged);
	jsStreamInfo_Destroy(si);
	jsStreamInfo_Destroy(done);
	return rc;
}

/* What a route's (or the advisory reader's) durable must look like. */
struct want_consumer {
	const char *stream;
	const char *durable;
	const char *filter; /* NULL: whole stream */
	int64_t ack_wait_ms;
	int64_t max_deliver;
	int64_t max_ack_pending;
};

static void
consumer_config(const struct want_consumer *w, jsConsumerConfig *c)
{
	jsConsumerConfig_Init(c);
	c->Durable = w->durable;
	c->AckPolicy = js_AckExplicit;
	c->DeliverPolicy = js_DeliverAll;
	c->ReplayPolicy = js_ReplayInstant;
	c->AckWait = w->ack_wait_ms * NS_PER_MS;
	c->MaxDeliver = w->max_deliver;
	c->FilterSubject = w->filter;
	c->MaxAckPending = w->max_ack_pending;
	/* No BackOff: the engine's naks carry the delay, and 2.9 would add
	 * BackOff on top of a nak delay. */
}

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || *a == '\0')
		return b == NULL || *b == '\0';
	return b != NULL && strcmp(a, b) == 0;
}

static int
ensure_consumer(struct ctx *x, const struct want_consumer *w)
{
	jsConsumerInfo *ci = NULL, *done = NULL;
	jsConsumerConfig want, *have;
	jsErrCode jerr = 0;
	natsStatus s;
	const char *verb = x->dry_run ? "would update" : "updating";
	char a[32], b[32];
	int rc = 0, diffs = 0, conflicts = 0;

	consumer_config(w, &want);
	s = js_GetConsumerInfo(&ci, x->js, w->stream, w->durable, NULL, &jerr);
	/* A missing stream comes back as NATS_ERR + 10059, not NOT_FOUND. */
	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
		if (x->dry_run) {
			report(x->r, "consumer %s/%s: missing (would create)", w->stream,
			       w->durable);
			x->r->pending++;
			goto out;
		}
		s = js_AddConsumer(&done, x->js, w->stream, &want, NULL, &jerr);
		if (s != NATS_OK) {
			report(x->r, "consumer %s/%s: create failed: %s", w->stream, w->durable,
			       nats_text(s, jerr));
			x->r->errors++;
			rc = -EIO;
			goto out;
		}
		report(x->r, "consumer %s/%s: created", w->stream, w->durable);
		x->r->created++;
		goto out;
	}
	if (s != NATS_OK) {
		report(x->r, "consumer %s/%s: cannot read: %s", w->stream, w->durable,
		       nats_text(s, jerr));
		x->r->errors++;
		rc = -EIO;
		goto out;
	}

	have = ci->Config;
	if (have->AckPolicy != js_AckExplicit || have->DeliverPolicy != js_DeliverAll ||
	    (have->DeliverSubject != NULL && *have->DeliverSubject != '\0')) {
		report(x->r,
		       "consumer %s/%s: is not an explicit-ack, deliver-all pull "
		       "consumer: cannot be changed in place (delete it)",
		       w->stream, w->durable);
		conflicts++;
	}
	if (!str_eq(have->FilterSubject, w->filter)) {
		report(x->r, "consumer %s/%s: filter %s -> %s (%s)", w->stream, w->durable,
		       have->FilterSubject ? have->FilterSubject : "(none)",
		       w->filter ? w->filter : "(none)", verb);
		diffs++;
	}
	if (have->AckWait != want.AckWait) {
		report(x->r, "consumer %s/%s: ack_wait %s -> %s (%s)", w->stream, w->durable,
		       fmt_ms(have->AckWait / NS_PER_MS, a, sizeof(a)),
		       fmt_ms(w->ack_wait_ms, b, sizeof(b)), verb);
		diffs++;
	}
	if (have->MaxDeliver != want.MaxDeliver) {
		report(x->r, "consumer %s/%s: max_deliver %" PRId64 " -> %" PRId64 " (%s)",
		       w->stream, w->durable, have->MaxDeliver, want.MaxDeliver, verb);
		diffs++;
	}
	if (have->MaxAckPending != want.MaxAckPending) {
		report(x->r, "consumer %s/%s: max_ack_pending %" PRId64 " -> %" PRId64 " (%s)",
		       w->stream, w->durable, have->MaxAckPending, want.MaxAckPending, verb);
		diffs++;
	}
	if (have->BackOffLen != 0) {
		report(x->r, "consumer %s/%s: has a backoff list (%s: removing it)", w->stream,
		       w->durable, verb);
		diffs++;
	}
	x->r->conflicts += (unsigned)conflicts;
	if (conflicts > 0)
		rc = -EEXIST;
	if (diffs == 0) {
		if (conflicts == 0)
			report(x->r, "consumer %s/%s: ok", w->stream, w->durable);
		goto out;
	}
	if (x->dry_run || conflicts > 0) {
		if (x->dry_run)
			x->r->pending++;
		goto out;
	}
	/* Add on an existing durable is an update with the full config. */
	s = js_AddConsumer(&done, x->js, w->stream, &want, NULL, &jerr);
	if (s != NATS_OK) {
		report(x->r, "consumer %s/%s: update failed: %s", w->stream, w->durable,
		       nats_text(s, jerr));
		x->r->errors++;
		rc = -EIO;
		goto out;
	}
	report(x->r, "consumer %s/%s: updated", w->stream, w->durable);
	x->r->updated++;
out:
	jsConsumerInfo_Destroy(ci);
	jsConsumerInfo_Destroy(done);
	return rc;
}

static jsStorageType
storage_of(enum cfg_storage s)
{
	return s == CFG_STORAGE_MEMORY ? js_MemoryStorage : js_FileStorage;
}

static jsRetentionPolicy
retention_of(enum cfg_retention r)
{
	switch (r) {
	case CFG_RETENTION_LIMITS:
		return js_LimitsPolicy;
	case CFG_RETENTION_INTEREST:
		return js_InterestPolicy;
	case CFG_RETENTION_WORKQUEUE:
		break;
	}
	return js_WorkQueuePolicy;
}

static int64_t
at_least_one(int v)
{
	return v > 0 ? v : 1;
}

/* Keep the worst result: conflicts and errors beat success. */
static void
merge_rc(int *rc, int r)
{
	if (r == -EIO || (r != 0 && *rc == 0))
		*rc = r;
}

int
topology_ensure(jsCtx *js, const struct cfg *cfg, bool dry_run, struct topo_report *report_r)
{
	struct ctx x = { .js = js, .dry_run = dry_run, .r = report_r };
	struct want_stream w;
	char dlq_subject[256], dlq_parts[300];
	const char *dlq_subjects[2] = { dlq_subject, dlq_parts };
	const char **adv_subjects = NULL;
	char(*adv_buf)[512] = NULL;
	char durable[256];
	int rc = 0;

	memset(report_r, 0, sizeof(*report_r));

	for (size_t i = 0; i < cfg->stream_count; i++) {
		const struct cfg_stream *cs = &cfg->streams[i];

		w = (struct want_stream){
			.what = "stream",
			.name = cs->name,
			.subjects = (const char **)cs->subjects,
			.subject_count = (int)cs->subject_count,
			.storage = storage_of(cs->storage),
			.retention = retention_of(cs->retention),
			.max_age_ms = cs->max_age_ms,
			.max_msgs = cs->max_msgs,
			.max_bytes = cs->max_bytes,
			.discard = cs->discard == CFG_DISCARD_NEW ? js_DiscardNew : js_DiscardOld,
			.replicas = at_least_one(cs->replicas),
			.duplicates_ms = cs->duplicate_window_ms,
		};
		merge_rc(&rc, ensure_stream(&x, &w));
	}

	/* The DLQ is lossless by default: no limits, and when one is set a
	 * full DLQ refuses new letters (the task is nak'd) instead of
	 * silently dropping old ones. */
	snprintf(dlq_subject, sizeof(dlq_subject), "%s.>", cfg_dlq_prefix(&cfg->dlq));
	/* And where letters too large for one message keep their parts. */
	dlq_store_parts_filter(&cfg->dlq, dlq_parts, sizeof(dlq_parts));
	w = (struct want_stream){
		.what = "dlq stream",
		.name = cfg_dlq_stream(&cfg->dlq),
		.subjects = dlq_subjects,
		.subject_count = 2,
		.storage = storage_of(cfg->dlq.storage),
		.retention = js_LimitsPolicy,
		.max_age_ms = cfg->dlq.max_age_ms,
		.max_msgs = cfg->dlq.max_msgs != 0 ? cfg->dlq.max_msgs : -1,
		.max_bytes = cfg->dlq.max_bytes != 0 ? cfg->dlq.max_bytes : -1,
		.replicas = at_least_one(cfg->dlq.replicas),
	};
	w.discard =
	    (w.max_age_ms > 0 || w.max_msgs > 0 || w.max_bytes > 0) ? js_DiscardNew : js_DiscardOld;
	merge_rc(&rc, ensure_stream(&x, &w));

	if (cfg->route_count > 0) {
		adv_subjects = xcalloc(cfg->route_count, sizeof(*adv_subjects));
		adv_buf = xcalloc(cfg->route_count, sizeof(*adv_buf));
		for (size_t i = 0; i < cfg->route_count; i++) {
			const struct cfg_route *r = &cfg->routes[i];

			topology_advisory_subject(
			    r->stream, topology_consumer_name(r, durable, sizeof(durable)),
			    adv_buf[i], sizeof(adv_buf[i]));
			adv_subjects[i] = adv_buf[i];
		}
		w = (struct want_stream){
			.what = "advisory stream",
			.name = cfg->dlq.advisory_stream != NULL ? cfg->dlq.advisory_stream
			                                         : CFG_DEFAULT_ADVISORY_STREAM,
			.subjects = adv_subjects,
			.subject_count = (int)cfg->route_count,
			.storage = js_FileStorage,
			.retention = js_LimitsPolicy,
			.max_msgs = -1,
			.max_bytes = -1,
			.discard = js_DiscardOld,
			.replicas = at_least_one(cfg->dlq.replicas),
		};
		merge_rc(&rc, ensure_stream(&x, &w));
		/* One reader per route, filtered on that route's advisories: a
		 * reader shared by every deployment on the account would ack
		 * the others' advisories as "not ours". */
		for (size_t i = 0; i < cfg->route_count; i++)
			merge_rc(&rc, ensure_consumer(
			                  &x, &(struct want_consumer){
			                          .stream = w.name,
			                          .durable = topology_advisory_durable(
			                              &cfg->routes[i], durable, sizeof(durable)),
			                          .filter = adv_subjects[i],
			                          .ack_wait_ms = ADVISORY_ACK_WAIT_MS,
			                          .max_deliver = -1,
			                          .max_ack_pending = ADVISORY_MAX_ACK_PENDING,
			                      }));
	}

	for (size_t i = 0; i < cfg->route_count; i++) {
		const struct cfg_route *r = &cfg->routes[i];

		merge_rc(&rc,
		         ensure_consumer(
		             &x, &(struct want_consumer){
		                     .stream = r->stream,
		                     .durable = topology_consumer_name(r, durable, sizeof(durable)),
		                     .filter = r->subject,
		                     .ack_wait_ms = r->ack_wait_ms,
		                     .max_deliver = r->max_attempts,
		                     .max_ack_pending = topology_max_ack_pending(r),
		                 }));
	}

	if (rc == 0 && dry_run && report_r->pending > 0)
		rc = -EAGAIN;
	free(adv_subjects);
	free(adv_buf);
	return rc;
}
