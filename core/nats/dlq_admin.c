/* SPDX-License-Identifier: MIT */
/* The DLQ stream over JetStream: list, get, delete and purge letters. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "nats/dlq_admin.h"
#include "nats/dlq_store.h"
#include "nats/natsconn.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Server error codes (nats-server 2.9 err_code) we tell apart. */
#define JS_ERR_STREAM_NOT_FOUND 10059
#define JS_ERR_NO_MESSAGE_FOUND 10037
#define JS_ERR_DELETE_NO_MESSAGE 10057

/* Append every value of every header of m to *h (n used, cap allocated),
 * leaving out the manifest's bookkeeping. The strings stay m's. */
static void
collect_headers(natsMsg *m, struct msg_header **h, size_t *n, size_t *cap)
{
	const char **keys = NULL;
	int count = 0;

	if (natsMsgHeader_Keys(m, &keys, &count) != NATS_OK)
		return;
	for (int i = 0; i < count; i++) {
		const char **values = NULL;
		int nv = 0;

		if (strcmp(keys[i], DLQ_PARTS_HEADER) == 0 ||
		    strcmp(keys[i], DLQ_PARTS_KEY_HEADER) == 0 ||
		    natsMsgHeader_Values(m, keys[i], &values, &nv) != NATS_OK)
			continue;
		for (int j = 0; j < nv; j++) {
			if (*n == *cap) {
				*cap = *cap > 0 ? *cap * 2 : 16;
				*h = xrealloc(*h, *cap, sizeof(**h));
			}
			(*h)[(*n)++] = (struct msg_header){ keys[i], values[j] };
		}
		/* The strings belong to the message; only the arrays are ours.
		 * They stay valid while m lives. */
		free((void *)values);
	}
	free((void *)keys);
}

/*
 * Build an entry from a message js_GetMsg returned; a manifest's parts
 * are read back when the payload is wanted (a listing needs only the
 * Taskjet-* headers, which the manifest has). -ENODATA if parts are
 * missing.
 */
static int
entry_from_msg(struct natsconn *nc, const struct cfg_dlq *dlq, natsMsg *m, bool with_payload,
               struct dlq_entry **entry_r)
{
	struct dlq_store_letter parts = { 0 };
	struct msg_header *headers = NULL;
	size_t n = 0, cap = 0, stored = dlq_store_parts(m);
	const char *payload = natsMsg_GetData(m) != NULL ? natsMsg_GetData(m) : "";
	size_t len = natsMsg_GetDataLength(m) > 0 ? (size_t)natsMsg_GetDataLength(m) : 0;
	struct dlq_entry *e;
	int rc;

	if (stored > 0 && with_payload) {
		rc = dlq_store_read(nc, dlq, m, &parts);
		if (rc < 0)
			return rc;
		payload = parts.payload;
		len = parts.payload_len;
	}
	collect_headers(m, &headers, &n, &cap);
	for (size_t i = 0; i < parts.header_count; i++) {
		if (n == cap) {
			cap = cap > 0 ? cap * 2 : 16;
			headers = xrealloc(headers, cap, sizeof(*headers));
		}
		headers[n++] = parts.headers[i];
	}
	e = dlq_entry_new(dlq, natsMsg_GetSequence(m), natsMsg_GetTime(m), natsMsg_GetSubject(m),
	                  headers, n, with_payload ? payload : NULL, len);
	e->stored_parts = stored;
	/* Without the payload the entry still parsed every Taskjet-* header;
	 * now drop the copies a listing does not keep. */
	if (!with_payload)
		dlq_entry_strip(e);
	free(headers);
	dlq_store_letter_free(&parts);
	*entry_r = e;
	return 0;
}

/* Is `subject` a letter of this config's DLQ, "<prefix>.<original>"? A
 * DLQ stream shared by deployments holds the others' letters too. */
static bool
ours(const struct cfg_dlq *dlq, const char *subject)
{
	size_t n = strlen(cfg_dlq_prefix(dlq));

	return subject != NULL && strncmp(subject, cfg_dlq_prefix(dlq), n) == 0 &&
	       subject[n] == '.';
}

/* js_GetMsg of one of our letters: -ENOENT when the sequence (or the
 * stream) holds nothing, -ENOMSG when it holds another deployment's letter
 * or a part. *m_r is the caller's to destroy. */
static int
get_ours(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq, natsMsg **m_r)
{
	jsErrCode jerr = 0;
	natsStatus s;

	/* The server answers a sequence past int64 with an error, not "not
	 * found": none can be stored there. */
	if (seq == 0 || seq > DLQ_SEQ_MAX)
		return -ENOENT;
	s = js_GetMsg(m_r, natsconn_js(nc), cfg_dlq_stream(dlq), seq, NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JS_ERR_NO_MESSAGE_FOUND ||
	    jerr == JS_ERR_STREAM_NOT_FOUND)
		return -ENOENT;
	if (s != NATS_OK)
		return natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
	return ours(dlq, natsMsg_GetSubject(*m_r)) ? 0 : -ENOMSG;
}

static int
fetch_entry(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq, bool with_payload,
            struct dlq_entry **entry_r)
{
	natsMsg *m = NULL;
	int rc = get_ours(nc, dlq, seq, &m);

	if (rc == 0)
		rc = entry_from_msg(nc, dlq, m, with_payload, entry_r);
	natsMsg_Destroy(m);
	return rc;
}

int
dlq_admin_get(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq,
              struct dlq_entry **entry_r)
{
	if (seq == 0)
		return -ENOENT;
	return fetch_entry(nc, dlq, seq, true, entry_r);
}

/* The DLQ's first and last sequence; -ENOENT if it does not exist. */
static int
stream_bounds(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t *first_r, uint64_t *last_r,
              uint64_t *msgs_r)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetStreamInfo(&si, natsconn_js(nc), cfg_dlq_stream(dlq), NULL, &jerr);
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
	size_t limit = dlq_filter_limit(f);
	uint64_t first = 0, last = 0, msgs = 0;
	int rc;

	rc = stream_bounds(nc, dlq, &first, &last, &msgs);
	if (rc < 0)
		goto out;
	list.last_seq = last;
	if (f != NULL && f->from_seq > first)
		first = f->from_seq;
	/* An empty stream reports first = last + 1; the loop does nothing. */
	for (uint64_t seq = first; msgs > 0 && seq <= last && seq != 0; seq++) {
		struct dlq_entry *e = NULL;

		rc = fetch_entry(nc, dlq, seq, with_payload, &e);
		if (rc == -ENOENT || rc == -ENOMSG)
			continue; /* deleted (replayed, purged), or not ours */
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
		dlq_list_append(&list, e);
	}
	rc = 0;
	*list_r = list;
	memset(&list, 0, sizeof(list));
out:
	dlq_list_free(&list);
	return rc;
}

int
dlq_admin_delete(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq)
{
	const char *text;
	natsMsg *m = NULL;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc;

	/* Read it first: only our own letters go, and a manifest's parts go
	 * with it. */
	if (seq == 0)
		return -ENOENT;
	rc = get_ours(nc, dlq, seq, &m);
	if (rc < 0)
		goto out;
	s = js_DeleteMsg(natsconn_js(nc), cfg_dlq_stream(dlq), seq, NULL, &jerr);
	if (s == NATS_OK) {
		/* The letter is gone either way; parts left by a failure
		 * here are unreachable, not lost data. */
		if (dlq_store_delete_parts(nc, dlq, m) < 0)
			log_warn("dlq: letter %" PRIu64 " deleted, its parts not: %s", seq,
			         nats_GetLastError(NULL));
		rc = 0;
		goto out;
	}
	text = nats_GetLastError(NULL);
	/* 2.9.10 answers a deleted or never-written sequence with err_code
	 * 10057 ("no message found" / "stream store EOF"); match the text
	 * too, in case another server version picks another code. */
	if (s == NATS_NOT_FOUND || jerr == JS_ERR_NO_MESSAGE_FOUND ||
	    jerr == JS_ERR_DELETE_NO_MESSAGE || jerr == JS_ERR_STREAM_NOT_FOUND ||
	    (text != NULL && strstr(text, "not found") != NULL))
		rc = -ENOENT;
	else
		rc = natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
out:
	natsMsg_Destroy(m);
	return rc;
}

/* The key of a part on "<prefix>-chunks.<key>.<n>" into buf; false if
 * `subject` is not a part of this config's letters. */
static bool
part_key(const struct cfg_dlq *dlq, const char *subject, char *buf, size_t len)
{
	const char *prefix = cfg_dlq_prefix(dlq), *key, *dot;
	size_t n = strlen(prefix);

	if (subject == NULL || strncmp(subject, prefix, n) != 0 ||
	    strncmp(subject + n, DLQ_PARTS_TOKEN ".", strlen(DLQ_PARTS_TOKEN) + 1) != 0)
		return false;
	key = subject + n + strlen(DLQ_PARTS_TOKEN) + 1;
	dot = strrchr(key, '.');
	if (dot == NULL || dot == key || (size_t)(dot - key) >= len)
		return false;
	memcpy(buf, key, (size_t)(dot - key));
	buf[dot - key] = '\0';
	return true;
}

int
dlq_admin_part_of(struct natsconn *nc, const struct cfg_dlq *dlq, uint64_t seq, uint64_t *letter_r)
{
	uint64_t first = 0, last = 0, msgs = 0, end;
	natsMsg *m = NULL;
	char key[512];
	int rc;

	*letter_r = 0;
	rc = get_ours(nc, dlq, seq, &m);
	if (rc == 0)
		rc = -ENOMSG; /* a letter, not a part */
	if (rc != -ENOMSG)
		goto out;
	if (!part_key(dlq, natsMsg_GetSubject(m), key, sizeof(key)))
		goto out;
	rc = stream_bounds(nc, dlq, &first, &last, &msgs);
	if (rc < 0)
		goto out;
	/* The manifest is written after its parts, near them: other
	 * letters written meanwhile may lie between. */
	end = last - seq > DLQ_PART_SCAN_MAX ? seq + DLQ_PART_SCAN_MAX : last;
	for (uint64_t s = seq + 1; s <= end; s++) {
		const char *v = NULL;
		natsMsg *l = NULL;
		int got = get_ours(nc, dlq, s, &l);

		if (got == 0 && natsMsgHeader_Get(l, DLQ_PARTS_KEY_HEADER, &v) == NATS_OK &&
		    v != NULL && strcmp(v, key) == 0)
			*letter_r = s;
		natsMsg_Destroy(l);
		if (*letter_r != 0)
			break;
		if (got < 0 && got != -ENOENT && got != -ENOMSG) {
			rc = got;
			goto out;
		}
	}
	rc = 0;
out:
	natsMsg_Destroy(m);
	return rc;
}

int
dlq_admin_purge_subject(struct natsconn *nc, const struct cfg_dlq *dlq, const char *subject,
                        uint64_t before_seq)
{
	const char *tail = subject != NULL ? subject : ">";
	size_t len = strlen(cfg_dlq_prefix(dlq)) + 1 + strlen(tail) + 1;
	char *filter = xmalloc(len);
	jsOptions o;
	jsErrCode jerr = 0;
	natsStatus s;
	int rc;

	snprintf(filter, len, "%s.%s", cfg_dlq_prefix(dlq), tail);
	jsOptions_Init(&o);
	o.Stream.Purge.Subject = filter;
	o.Stream.Purge.Sequence = before_seq;
	s = js_PurgeStream(natsconn_js(nc), cfg_dlq_stream(dlq), &o, &jerr);
	if (s == NATS_OK)
		rc = 0;
	else if (s == NATS_NOT_FOUND || jerr == JS_ERR_STREAM_NOT_FOUND)
		rc = -ENOENT;
	else
		rc = natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
	free(filter);
	return rc;
}
