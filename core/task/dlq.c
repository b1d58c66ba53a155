/* SPDX-License-Identifier: MIT */
/*
 * Dead letters: reasons, the subject, id and headers of a new one, and
 * reading, filtering and listing stored ones whatever stores them.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "task/dlq.h"
#include "util/clock.h"
#include "util/subject.h"
#include "util/xalloc.h"

static const char *const reason_names[DLQ_REASON_COUNT] = {
	[DLQ_REASON_HANDLER_FAILED] = "handler_failed",
	[DLQ_REASON_ATTEMPTS_EXHAUSTED] = "attempts_exhausted",
	[DLQ_REASON_INVALID_PAYLOAD] = "invalid_payload",
	[DLQ_REASON_NO_ROUTE] = "no_route",
	[DLQ_REASON_CRASHED] = "crashed",
	[DLQ_REASON_MAX_DELIVERIES] = "max_deliveries",
	[DLQ_REASON_TIMED_OUT] = "timed_out",
};

const char *
dlq_reason_name(enum dlq_reason reason)
{
	/* Compared as unsigned so a negative value cast in is out of range. */
	if ((unsigned)reason >= DLQ_REASON_COUNT)
		return NULL;
	return reason_names[reason];
}

int
dlq_reason_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < DLQ_REASON_COUNT; i++)
		if (strcmp(reason_names[i], name) == 0)
			return i;
	return -1;
}

/* Copy `src` into `dst` as one line. A cut never splits a UTF-8 sequence,
 * so the header stays valid text. */
static void
copy_single_line(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] == '\r' || src[i] == '\n' ? ' ' : src[i];
	dst[n] = '\0';
}

static bool
nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static void
add_header(struct dlq_record *rec, const char *key, const char *value)
{
	rec->headers[rec->header_count].key = key;
	rec->headers[rec->header_count].value = value;
	rec->header_count++;
}

static char *printed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* fmt printed into a string malloc'd to its length. */
static char *
printed(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = xmalloc((size_t)(n > 0 ? n : 0) + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
	va_end(ap);
	return s;
}

int
dlq_letter_build(const struct cfg_dlq *dlq, const struct tj_task *task, const char *orig_msg_id,
                 const char *plugin, enum dlq_reason reason, const char *error, int64_t now_wall_ms,
                 struct dlq_letter *letter)
{
	const char *reason_name = dlq_reason_name(reason);
	const char *prefix, *stream;
	struct dlq_record *rec = &letter->rec;
	uint64_t replayed;
	int rc = 0;

	memset(rec, 0, sizeof(*rec));
	if (reason_name == NULL || task == NULL || task->subject == NULL) {
		rc = -EINVAL;
		goto out;
	}
	prefix = cfg_dlq_prefix(dlq);
	stream = nonempty(task->stream) ? task->stream : "-";

	/* Sized to fit: whatever subject the server delivered, the letter
	 * can name; whether the store takes it is the backend's to say. */
	rec->subject = printed("%s.%s", prefix, task->subject);
	rec->msg_id = printed("dlq-%s-%" PRIu64, stream, task->stream_seq);

	snprintf(letter->seq, sizeof(letter->seq), "%" PRIu64, task->stream_seq);
	snprintf(letter->attempts, sizeof(letter->attempts), "%" PRIu32, task->attempt);
	clock_format_rfc3339(now_wall_ms, false, letter->failed_at, sizeof(letter->failed_at));
	/* Never empty: an operator reading the DLQ always gets a cause. */
	if (nonempty(error))
		copy_single_line(letter->error, sizeof(letter->error), error);
	else if (nonempty(task->fail_reason))
		copy_single_line(letter->error, sizeof(letter->error), task->fail_reason);
	else if (reason == DLQ_REASON_ATTEMPTS_EXHAUSTED)
		snprintf(letter->error, sizeof(letter->error), "attempts exhausted after %" PRIu32,
		         task->attempt);
	else
		copy_single_line(letter->error, sizeof(letter->error), reason_name);

	add_header(rec, "Taskjet-Original-Subject", task->subject);
	add_header(rec, "Taskjet-Original-Stream", stream);
	add_header(rec, "Taskjet-Original-Seq", letter->seq);
	if (nonempty(orig_msg_id))
		add_header(rec, DLQ_ORIGINAL_MSG_ID_HEADER, orig_msg_id);
	add_header(rec, "Taskjet-Attempts", letter->attempts);
	add_header(rec, "Taskjet-Reason", reason_name);
	add_header(rec, "Taskjet-Error", letter->error);
	add_header(rec, "Taskjet-Plugin", nonempty(plugin) ? plugin : "-");
	add_header(rec, "Taskjet-Failed-At", letter->failed_at);
	/* Where a replayed task came from, as the replay's own message id
	 * says; a Taskjet-Replayed-From header on the task is not believed. */
	if (dlq_replay_source(dlq, task->id, &replayed)) {
		snprintf(letter->replayed_from, sizeof(letter->replayed_from), "%" PRIu64,
		         replayed);
		add_header(rec, DLQ_REPLAYED_FROM_HEADER, letter->replayed_from);
	}
out:
	return rc;
}

void
dlq_letter_fall_back(const struct cfg_dlq *dlq, struct dlq_letter *letter)
{
	free(letter->rec.subject);
	letter->rec.subject = printed("%s." DLQ_FALLBACK_TOKEN, cfg_dlq_prefix(dlq));
}

void
dlq_letter_release(struct dlq_letter *letter)
{
	free(letter->rec.subject);
	free(letter->rec.msg_id);
	letter->rec.subject = NULL;
	letter->rec.msg_id = NULL;
}

/* ---- stored letters ---- */

/* Parse `digits` decimal digits at *p into *v; advances *p. */
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

static int
days_in_month(int y, int mo)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return mo == 2 && leap ? 29 : days[mo - 1];
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm) into epoch ms. */
static int
parse_rfc3339(const char *s, int64_t *ms_r)
{
	const char *p = s;
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, off = 0, oh, om;
	bool off_bad = false;
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
		off_bad = oh > 23 || om > 59;
		off = sign * (oh * 60 + om);
	} else {
		return -EINVAL;
	}
	/* A real calendar day (no 31 April, 29 February only in leap years);
	 * second 60 is a leap second. */
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 60 || off_bad)
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

/*
 * A duration ago: the config's units (h, m, s, ms) led by weeks and days,
 * which a look back at dead letters wants ("7d", "2w", "1d12h"); largest
 * unit first, each at most once. -EINVAL, or -ERANGE past what ms hold.
 */
static int
parse_ago(const char *text, int64_t *ms_r)
{
	static const struct {
		char unit;
		int64_t ms;
	} big[] = { { 'w', INT64_C(7) * 86400000 }, { 'd', 86400000 } };
	const char *p = text;
	int64_t total = 0, rest = 0;
	size_t next = 0;

	while (isdigit((unsigned char)*p)) {
		const char *q = p;
		uint64_t n = 0;
		size_t i;

		/* Stop before n * 10 + 9 could wrap: the digits left over then
		 * fail as a duration below, never read as a small number. */
		while (isdigit((unsigned char)*q) && n <= (UINT64_MAX - 9) / 10)
			n = n * 10 + (uint64_t)(*q++ - '0');
		for (i = next; i < sizeof(big) / sizeof(big[0]) && *q != big[i].unit; i++)
			;
		if (i == sizeof(big) / sizeof(big[0]))
			break; /* not w or d: the rest is a config duration */
		if (n > (uint64_t)(INT64_MAX - total) / (uint64_t)big[i].ms)
			return -ERANGE;
		total += (int64_t)n * big[i].ms;
		next = i + 1;
		p = q + 1;
	}
	if (p == text || *p != '\0') {
		int rc = cfg_parse_duration(p, strlen(p), &rest);

		if (rc < 0)
			return rc;
		if (rest > INT64_MAX - total)
			return -ERANGE;
	}
	*ms_r = total + rest;
	return 0;
}

int
dlq_parse_since(const char *text, int64_t now_wall_ms, int64_t *ms_r)
{
	int64_t ago;

	if (text == NULL || text[0] == '\0')
		return -EINVAL;
	if (parse_rfc3339(text, ms_r) == 0) {
		/* At or before the epoch: everything, as for a duration that
		 * reaches back that far (0 would read as no --since at all). */
		if (*ms_r < 1)
			*ms_r = 1;
		return 0;
	}
	/* A date that is not one (2026-02-31) is refused, not read as 0. */
	if (parse_ago(text, &ago) < 0)
		return -EINVAL;
	/* Further back than the epoch: everything. */
	*ms_r = ago < now_wall_ms ? now_wall_ms - ago : 1;
	return 0;
}

void
dlq_entry_strip(struct dlq_entry *e)
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

/* Free what an entry owns, not the entry itself. */
static void
entry_clear(struct dlq_entry *e)
{
	dlq_entry_strip(e);
	free(e->dlq_subject);
	free(e->orig_subject);
	free(e->orig_stream);
	free(e->reason);
	free(e->error);
	free(e->plugin);
	free(e->failed_at);
}

void
dlq_entry_free(struct dlq_entry *e)
{
	if (e == NULL)
		return;
	entry_clear(e);
	free(e);
}

/* Sort headers by key for a stable display; an insertion sort keeps the
 * stored order of a key's several values (qsort would not). */
static void
sort_headers(struct dlq_entry_header *h, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct dlq_entry_header cur = h[i];
		size_t j = i;

		for (; j > 0 && strcasecmp(h[j - 1].key, cur.key) > 0; j--)
			h[j] = h[j - 1];
		h[j] = cur;
	}
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

/* A copy of the first value of `key` (in any case), or NULL. */
static char *
dup_header(const struct msg_header *h, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(h[i].key, key) == 0)
			return xstrdup(h[i].value);
	return NULL;
}

struct dlq_entry *
dlq_entry_new(const struct cfg_dlq *dlq, uint64_t seq, int64_t stored_ns, const char *dlq_subject,
              const struct msg_header *headers, size_t n, const void *payload, size_t payload_len)
{
	struct dlq_entry *e = xcalloc(1, sizeof(*e));
	const char *prefix = cfg_dlq_prefix(dlq);
	size_t plen = strlen(prefix);
	char *num;

	e->seq = seq;
	e->stored_ns = stored_ns;
	e->dlq_subject = xstrdup(dlq_subject != NULL ? dlq_subject : "");
	if (payload != NULL) {
		e->payload_len = payload_len;
		e->payload = xmalloc(payload_len + 1);
		if (payload_len > 0)
			memcpy(e->payload, payload, payload_len);
		e->payload[payload_len] = '\0';
	}
	if (n > 0) {
		e->headers = xcalloc(n, sizeof(*e->headers));
		for (size_t i = 0; i < n; i++) {
			e->headers[i].key = xstrdup(headers[i].key);
			e->headers[i].value = xstrdup(headers[i].value);
		}
		e->header_count = n;
		sort_headers(e->headers, n);
	}
	e->orig_subject = dup_header(headers, n, "Taskjet-Original-Subject");
	if (e->orig_subject == NULL && strncmp(e->dlq_subject, prefix, plen) == 0 &&
	    e->dlq_subject[plen] == '.')
		e->orig_subject = xstrdup(e->dlq_subject + plen + 1);
	e->orig_stream = dup_header(headers, n, "Taskjet-Original-Stream");
	num = dup_header(headers, n, "Taskjet-Original-Seq");
	e->orig_seq = parse_u64(num);
	free(num);
	num = dup_header(headers, n, "Taskjet-Attempts");
	e->attempts = (uint32_t)parse_u64(num);
	free(num);
	e->reason = dup_header(headers, n, "Taskjet-Reason");
	e->error = dup_header(headers, n, "Taskjet-Error");
	e->plugin = dup_header(headers, n, "Taskjet-Plugin");
	e->failed_at = dup_header(headers, n, "Taskjet-Failed-At");
	if (e->failed_at == NULL || parse_rfc3339(e->failed_at, &e->failed_at_ms) < 0)
		e->failed_at_ms = e->stored_ns / 1000000;
	return e;
}

bool
dlq_entry_off_subject(const struct dlq_entry *e)
{
	size_t len, orig;

	if (e->dlq_subject == NULL || e->orig_subject == NULL)
		return false;
	len = strlen(e->dlq_subject);
	orig = strlen(e->orig_subject);
	return len <= orig || e->dlq_subject[len - orig - 1] != '.' ||
	       strcmp(e->dlq_subject + len - orig, e->orig_subject) != 0;
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

size_t
dlq_filter_limit(const struct dlq_filter *f)
{
	if (f != NULL && f->unlimited)
		return SIZE_MAX;
	if (f != NULL && f->limit > 0)
		return f->limit;
	return DLQ_LIST_DEFAULT_LIMIT;
}

void
dlq_list_append(struct dlq_list *list, struct dlq_entry *e)
{
	if (list->count == list->cap) {
		list->cap = list->cap > 0 ? list->cap * 2 : 16;
		list->entries = xrealloc(list->entries, list->cap, sizeof(*list->entries));
	}
	list->entries[list->count++] = *e;
	free(e);
}

void
dlq_list_free(struct dlq_list *list)
{
	if (list == NULL)
		return;
	/* Entries live in one array: free their insides only. */
	for (size_t i = 0; i < list->count; i++)
		entry_clear(&list->entries[i]);
	free(list->entries);
	memset(list, 0, sizeof(*list));
}

int
dlq_replay_msg_id(const struct cfg_dlq *dlq, const struct dlq_entry *e, char *buf, size_t len)
{
	int n = snprintf(buf, len, "replay-%s-%" PRIu64 "-%" PRId64, cfg_dlq_stream(dlq), e->seq,
	                 e->stored_ns);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

bool
dlq_replay_source(const struct cfg_dlq *dlq, const char *msg_id, uint64_t *seq_r)
{
	const char *stream = cfg_dlq_stream(dlq), *p;
	size_t n = strlen(stream);
	char *end;

	/* "replay-<stream>-<seq>-<stored ns>" */
	if (msg_id == NULL || strncmp(msg_id, "replay-", 7) != 0 ||
	    strncmp(msg_id + 7, stream, n) != 0 || msg_id[7 + n] != '-')
		return false;
	p = msg_id + 8 + n;
	if (!isdigit((unsigned char)*p))
		return false;
	errno = 0;
	*seq_r = strtoull(p, &end, 10);
	return errno == 0 && *seq_r > 0 && *end == '-' && end[1] != '\0';
}

bool
dlq_header_reserved(const char *key)
{
	return strncasecmp(key, "Taskjet-", 8) == 0;
}

bool
dlq_header_dropped(const char *key)
{
	return dlq_header_reserved(key) || strcasecmp(key, "Nats-Msg-Id") == 0 ||
	       strncasecmp(key, "Nats-Expected-", 14) == 0;
}
