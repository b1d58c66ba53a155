/* SPDX-License-Identifier: MIT */
/* Dead-letter administration over JetStream: list, get, replay, delete. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "nats/dlq_admin.h"
#include "nats/natsconn.h"
#include "util/subject.h"
#include "util/xalloc.h"

/* A publish lost in a reconnect may still be stored: retry with the same
 * id a bounded number of times (the server deduplicates). */
#define REPLAY_TRIES 5
#define REPLAY_WAIT_MS 5000

/* Server error codes (nats-server 2.9 err_code) we tell apart. */
#define JS_ERR_STREAM_NOT_FOUND 10059
#define JS_ERR_NO_MESSAGE_FOUND 10037
#define JS_ERR_DELETE_NO_MESSAGE 10057

static void
set_err(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static const char *
stream_name(const struct cfg_dlq *dlq)
{
	return dlq->stream != NULL && dlq->stream[0] != '\0' ? dlq->stream : CFG_DEFAULT_DLQ_STREAM;
}

static const char *
prefix_of(const struct cfg_dlq *dlq)
{
	return dlq->subject_prefix != NULL && dlq->subject_prefix[0] != '\0'
	           ? dlq->subject_prefix
	           : CFG_DEFAULT_DLQ_SUBJECT_PREFIX;
}

/* Parse up to `digits` decimal digits at *p into *v; advances *p. */
static bool
take_num(const char **p, int digits, int *v)
{
	int n = 0;

	for (int i = 0; i < digits; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		n = n * 10 + ((*p)[i] - '0');
	}
	*p += digits;
	*v = n;
	return true;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm) into epoch ms. */
static int
parse_rfc3339(const char *s, int64_t *ms_r)
{
	const char *p = s;
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, off = 0, oh, om;
	int64_t ms = 0, scale = 100;
	time_t t;

	if (!take_num(&p, 4, &y) || *p++ != '-' || !take_num(&p, 2, &mo) || *p++ != '-' ||
	    !take_num(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return -EINVAL;
	p++;
	if (!take_num(&p, 2, &h) || *p++ != ':' || !take_num(&p, 2, &mi) || *p++ != ':' ||
	    !take_num(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			ms += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;

		if (!take_num(&p, 2, &oh) || *p++ != ':' || !take_num(&p, 2, &om))
			return -EINVAL;
		off = sign * (oh * 60 + om);
	} else {
		return -EINVAL;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*ms_r = ((int64_t)t - (int64_t)off * 60) * 1000 + ms;
	return 0;
}

int
dlq_parse_since(const char *text, int64_t now_wall_ms, int64_t *ms_r)
{
	int64_t ago;

	if (text == NULL || text[0] == '\0')
		return -EINVAL;
	if (parse_rfc3339(text, ms_r) == 0)
		return 0;
	if (cfg_parse_duration(text, strlen(text), &ago) < 0)
		return -EINVAL;
	*ms_r = now_wall_ms - ago;
	return 0;
}

void
dlq_entry_free(struct dlq_entry *e)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < e->header_count; i++) {
		free(e->headers[i].key);
		free(e->headers[i].value);
	}
	free(e->headers);
	free(e->payload);
	free(e->dlq_subject);
	free(e->orig_subject);
	free(e->orig_stream);
	free(e->reason);
	free(e->error);
	free(e->plugin);
	free(e->failed_at);
	free(e);
}

/* Drop what a listing without payloads does not keep. */
static void
entry_strip(struct dlq_entry *e)
{
	for (size_t i = 0; i < e->header_count; i++) {
		free(e->headers[i].key);
		free(e->headers[i].value);
	}
	free(e->headers);
	e->headers = NULL;
	e->header_count = 0;
	free(e->payload);
	e->payload = NULL;
	e->payload_len = 0;
}

/* Sort headers by key for a stable display; an insertion sort keeps the
 * stored order of a key's several values (qsort would not). */
static void
sort_headers(struct dlq_admin_header *h, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct dlq_admin_header cur = h[i];
		size_t j = i;

		for (; j > 0 && strcasecmp(h[j - 1].key, cur.key) > 0; j--)
			h[j] = h[j - 1];
		h[j] = cur;
	}
}

static char *
dup_header(natsMsg *m, const char *key)
{
	const char *v = NULL;

	if (natsMsgHeader_Get(m, key, &v) != NATS_OK || v == NULL)
		return NULL;
	return xstrdup(v);
}

static uint64_t
parse_u64(const char *s)
{
	char *end;
	unsigned long long v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' ? (uint64_t)v : 0;
}

/* Build an entry from a message js_GetMsg returned. */
static struct dlq_entry *
entry_from_msg(const struct cfg_dlq *dlq, natsMsg *m)
{
	struct dlq_entry *e = xcalloc(1, sizeof(*e));
	const char *subj = natsMsg_GetSubject(m), *data = natsMsg_GetData(m);
	const char **keys = NULL, *prefix = prefix_of(dlq);
	size_t plen = strlen(prefix);
	int count = 0, len = natsMsg_GetDataLength(m);
	char *attempts;

	e->seq = natsMsg_GetSequence(m);
	e->stored_ns = natsMsg_GetTime(m);
	e->dlq_subject = xstrdup(subj != NULL ? subj : "");
	e->payload_len = len > 0 ? (size_t)len : 0;
	e->payload = xmalloc(e->payload_len + 1);
	if (e->payload_len > 0)
		memcpy(e->payload, data, e->payload_len);
	e->payload[e->payload_len] = '\0';

	if (natsMsgHeader_Keys(m, &keys, &count) == NATS_OK) {
		size_t cap = (size_t)count;

		e->headers = xcalloc(cap > 0 ? cap : 1, sizeof(*e->headers));
		for (int i = 0; i < count; i++) {
			const char **values = NULL;
			int n = 0;

			if (natsMsgHeader_Values(m, keys[i], &values, &n) != NATS_OK)
				continue;
			for (int j = 0; j < n; j++) {
				if (e->header_count == cap) {
					cap *= 2;
					e->headers = xrealloc(e->headers, cap, sizeof(*e->headers));
				}
				e->headers[e->header_count].key = xstrdup(keys[i]);
				e->headers[e->header_count].value = xstrdup(values[j]);
				e->header_count++;
			}
			free((void *)values);
		}
		free((void *)keys);
		sort_headers(e->headers, e->header_count);
	}

	e->orig_subject = dup_header(m, "Taskjet-Original-Subject");
	if (e->orig_subject == NULL && strncmp(e->dlq_subject, prefix, plen) == 0 &&
	    e->dlq_subject[plen] == '.')
		e->orig_subject = xstrdup(e->dlq_subject + plen + 1);
	e->orig_stream = dup_header(m, "Taskjet-Original-Stream");
	{
		char *seq = dup_header(m, "Taskjet-Original-Seq");

		e->orig_seq = parse_u64(seq);
		free(seq);
	}
	attempts = dup_header(m, "Taskjet-Attempts");
	e->attempts = (uint32_t)parse_u64(attempts);
	free(attempts);
	e->reason = dup_header(m, "Taskjet-Reason");
	e->error = dup_header(m, "Taskjet-Error");
	e->plugin = dup_header(m, "Taskjet-Plugin");
	e->failed_at = dup_header(m, "Taskjet-Failed-At");
	if (e->failed_at == NULL || parse_rfc3339(e->failed_at, &e->failed_at_ms) < 0)
		e->failed_at_ms = e->stored_ns / 1000000;
	return e;
}

/* js_GetMsg: -ENOENT when the sequence (or the stream) holds nothing. */
static int
fetch_entry(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq,
            struct dlq_entry **entry_r)
{
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetMsg(&m, natsconn_js(nc), stream_name(dlq), seq, NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JS_ERR_NO_MESSAGE_FOUND ||
	    jerr == JS_ERR_STREAM_NOT_FOUND)
		return -ENOENT;
	if (s != NATS_OK)
		return natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
	*entry_r = entry_from_msg(dlq, m);
	natsMsg_Destroy(m);
	return 0;
}

int
dlq_admin_get(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq,
              struct dlq_entry **entry_r)
{
	if (seq == 0)
		return -ENOENT;
	return fetch_entry(nc, dlq, seq, entry_r);
}

bool
dlq_filter_match(const struct dlq_filter *f, const struct dlq_entry *e)
{
	if (f == NULL)
		return true;
	if (f->subject != NULL &&
	    (e->orig_subject == NULL || !subject_matches(f->subject, e->orig_subject)))
		return false;
	if (f->reason != NULL && (e->reason == NULL || strcmp(f->reason, e->reason) != 0))
		return false;
	if (f->since_ms != 0 && e->failed_at_ms < f->since_ms)
		return false;
	return true;
}

void
dlq_list_free(struct dlq_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->count; i++) {
		struct dlq_entry *e = &list->entries[i];

		/* Entries live in one array: free their insides only. */
		entry_strip(e);
		free(e->dlq_subject);
		free(e->orig_subject);
		free(e->orig_stream);
		free(e->reason);
		free(e->error);
		free(e->plugin);
		free(e->failed_at);
	}
	free(list->entries);
	memset(list, 0, sizeof(*list));
}

/* The DLQ's first and last sequence; -ENOENT if it does not exist. */
static int
stream_bounds(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t *first_r, uint64_t *last_r,
              uint64_t *msgs_r)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetStreamInfo(&si, natsconn_js(nc), stream_name(dlq), NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JS_ERR_STREAM_NOT_FOUND)
		return -ENOENT;
	if (s != NATS_OK)
		return natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
	*first_r = si->State.FirstSeq;
	*last_r = si->State.LastSeq;
	*msgs_r = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return 0;
}

int
dlq_admin_list(struct natsconn *nc, const struct cfg_dlq *dlq, const struct dlq_filter *f,
               bool with_payload, struct dlq_list *list_r)
{
	struct dlq_list list = { 0 };
	size_t limit = DLQ_ADMIN_DEFAULT_LIMIT, cap = 0;
	uint64_t first = 0, last = 0, msgs = 0;
	int rc;

	if (f != NULL && f->limit > 0)
		limit = f->limit;
	if (f != NULL && f->unlimited)
		limit = SIZE_MAX;
	rc = stream_bounds(nc, dlq, &first, &last, &msgs);
	if (rc < 0)
		goto out;
	list.last_seq = last;
	if (f != NULL && f->from_seq > first)
		first = f->from_seq;
	/* An empty stream reports first = last + 1; the loop does nothing. */
	for (uint64_t seq = first; msgs > 0 && seq <= last && seq != 0; seq++) {
		struct dlq_entry *e = NULL;

		rc = fetch_entry(nc, dlq, seq, &e);
		if (rc == -ENOENT)
			continue; /* deleted (replayed, purged) */
		if (rc < 0)
			goto out;
		list.scanned++;
		if (!dlq_filter_match(f, e)) {
			dlq_entry_free(e);
			continue;
		}
		if (list.count == limit) {
			list.truncated = true;
			list.next_seq = seq;
			dlq_entry_free(e);
			break;
		}
		if (!with_payload)
			entry_strip(e);
		if (list.count == cap) {
			cap = cap > 0 ? cap * 2 : 16;
			list.entries = xrealloc(list.entries, cap, sizeof(*list.entries));
		}
		/* Move the entry's contents into the array. */
		list.entries[list.count++] = *e;
		free(e);
	}
	rc = 0;
	*list_r = list;
	memset(&list, 0, sizeof(list));
out:
	dlq_list_free(&list);
	return rc;
}

int
dlq_replay_msg_id(const struct cfg_dlq *dlq, const struct dlq_entry *e, char *buf, size_t len)
{
	int n = snprintf(buf, len, "replay-%s-%" PRIu64 "-%" PRId64, stream_name(dlq), e->seq,
	                 e->stored_ns);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Headers the replay must not carry over: our own bookkeeping, and those
 * that would deduplicate or reject the republish like the original. */
static bool
replay_skips(const char *key)
{
	return strncasecmp(key, "Taskjet-", 8) == 0 || strcasecmp(key, "Nats-Msg-Id") == 0 ||
	       strncasecmp(key, "Nats-Expected-", 14) == 0;
}

int
dlq_admin_replay_publish(struct natsconn *nc, const struct cfg_dlq *dlq, const struct dlq_entry *e,
                         char *err, size_t err_len, struct dlq_replay_result *res_r)
{
	struct dlq_replay_result res = { .dlq_seq = e->seq };
	char id[256], from[24];
	natsStatus s = NATS_TIMEOUT;
	jsErrCode jerr = 0;
	int rc = 0;

	if (e->orig_subject == NULL || !subject_valid(e->orig_subject, false)) {
		set_err(err, err_len, "dead letter %" PRIu64 " has no valid original subject",
		        e->seq);
		rc = -EINVAL;
		goto out;
	}
	if (e->payload == NULL || e->payload_len > INT32_MAX) {
		set_err(err, err_len, "dead letter %" PRIu64 " has no payload loaded", e->seq);
		rc = -EINVAL;
		goto out;
	}
	rc = dlq_replay_msg_id(dlq, e, id, sizeof(id));
	if (rc < 0) {
		set_err(err, err_len, "message id too long");
		goto out;
	}
	snprintf(from, sizeof(from), "%" PRIu64, e->seq);
	for (int attempt = 0; attempt < REPLAY_TRIES && s == NATS_TIMEOUT; attempt++) {
		jsPubAck *ack = NULL;
		jsPubOptions po;
		natsMsg *m = NULL;

		jsPubOptions_Init(&po);
		po.MsgId = id;
		po.MaxWait = REPLAY_WAIT_MS;
		s = natsMsg_Create(&m, e->orig_subject, NULL, e->payload, (int)e->payload_len);
		for (size_t i = 0; s == NATS_OK && i < e->header_count; i++)
			if (!replay_skips(e->headers[i].key))
				s = natsMsgHeader_Add(m, e->headers[i].key, e->headers[i].value);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, DLQ_REPLAYED_FROM_HEADER, from);
		if (s == NATS_OK)
			s = js_PublishMsg(&ack, natsconn_js(nc), m, &po, &jerr);
		if (s == NATS_OK) {
			res.new_seq = ack->Sequence;
			res.duplicate = ack->Duplicate;
			snprintf(res.new_stream, sizeof(res.new_stream), "%s",
			         ack->Stream != NULL ? ack->Stream : "");
		}
		jsPubAck_Destroy(ack);
		natsMsg_Destroy(m);
	}
	if (s == NATS_NO_RESPONDERS) {
		set_err(err, err_len, "no stream takes subject %s", e->orig_subject);
		rc = -ENXIO;
		goto out;
	}
	if (s != NATS_OK) {
		set_err(err, err_len, "publish to %s: %s (%s)", e->orig_subject,
		        natsStatus_GetText(s), nats_GetLastError(NULL));
		rc = natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
		goto out;
	}
	*res_r = res;
out:
	return rc;
}

int
dlq_admin_delete(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq)
{
	const char *text;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_DeleteMsg(natsconn_js(nc), stream_name(dlq), seq, NULL, &jerr);

	if (s == NATS_OK)
		return 0;
	text = nats_GetLastError(NULL);
	/* 2.9.10 answers a deleted or never-written sequence with err_code
	 * 10057 ("no message found" / "stream store EOF"); match the text
	 * too, in case another server version picks another code. */
	if (s == NATS_NOT_FOUND || jerr == JS_ERR_NO_MESSAGE_FOUND ||
	    jerr == JS_ERR_DELETE_NO_MESSAGE || jerr == JS_ERR_STREAM_NOT_FOUND ||
	    (text != NULL && strstr(text, "not found") != NULL))
		return -ENOENT;
	return natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
}

int
dlq_admin_replay(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq, char *err,
                 size_t err_len, struct dlq_replay_result *res_r)
{
	struct dlq_replay_result res;
	struct dlq_entry *e = NULL;
	int rc;

	rc = dlq_admin_get(nc, dlq, seq, &e);
	if (rc < 0) {
		set_err(err, err_len,
		        rc == -ENOENT ? "no dead letter %" PRIu64
		                      : "reading dead letter %" PRIu64 " failed",
		        seq);
		goto out;
	}
	rc = dlq_admin_replay_publish(nc, dlq, e, err, err_len, &res);
	if (rc < 0)
		goto out;
	rc = dlq_admin_delete(nc, dlq, seq);
	/* Gone already: a concurrent replay of the same letter deleted it,
	 * after its publish, which ours was deduplicated against. */
	if (rc == -ENOENT)
		rc = 0;
	if (rc < 0) {
		set_err(err, err_len,
		        "published as %s seq %" PRIu64 " but deleting dead "
		        "letter %" PRIu64 " failed (%s); replay it again to delete it",
		        res.new_stream, res.new_seq, seq, strerror(-rc));
		goto out;
	}
	*res_r = res;
out:
	dlq_entry_free(e);
	return rc;
}

int
dlq_admin_purge_subject(struct natsconn *nc, const struct cfg_dlq *dlq, const char *subject,
                        uint64_t before_seq)
{
	char filter[1024];
	jsOptions o;
	jsErrCode jerr = 0;
	natsStatus s;
	int n;

	n = snprintf(filter, sizeof(filter), "%s.%s", prefix_of(dlq),
	             subject != NULL ? subject : ">");
	if (n < 0 || (size_t)n >= sizeof(filter))
		return -ENAMETOOLONG;
	jsOptions_Init(&o);
	o.Stream.Purge.Subject = filter;
	o.Stream.Purge.Sequence = before_seq;
	s = js_PurgeStream(natsconn_js(nc), stream_name(dlq), &o, &jerr);
	if (s == NATS_OK)
		return 0;
	if (s == NATS_NOT_FOUND || jerr == JS_ERR_STREAM_NOT_FOUND)
		return -ENOENT;
	return natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
}
