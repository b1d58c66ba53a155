/* SPDX-License-Identifier: MIT */
/* Dead letters in the DLQ stream: whole, or in parts under a manifest. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "nats/dlq_store.h"
#include "nats/natsconn.h"
#include "nats/publish.h"
#include "strbuf.h"
#include "util/clock.h"
#include "util/xalloc.h"

/* Room left in a message for what is not data: the Nats-Msg-Id header a
 * publish adds, the header block's framing, and some slack. */
#define HEADER_ROOM 1024
/* A part's data when the server does not say its max_payload. */
#define FALLBACK_PART_BYTES (32 * 1024)
#define JS_ERR_STREAM_NOT_FOUND 10059

void
dlq_store_parts_filter(const struct cfg_dlq *dlq, char *buf, size_t len)
{
	snprintf(buf, len, "%s" DLQ_PARTS_TOKEN ".>", cfg_dlq_prefix(dlq));
}

/* Headers a letter's parts never carry: what would deduplicate or reject
 * them like the original, and what the manifest carries instead. */
static bool
manifest_header(const char *key)
{
	return strncasecmp(key, "Taskjet-", 8) == 0;
}

static bool
dropped_header(const char *key)
{
	return strcasecmp(key, "Nats-Msg-Id") == 0 || strncasecmp(key, "Nats-Expected-", 14) == 0;
}

/*
 * Call fn for every header value of m, in order. Stops at the first
 * nonzero return and returns it; 0 when done (or m has none).
 */
static int
each_header(natsMsg *m, int (*fn)(void *arg, const char *key, const char *value), void *arg)
{
	const char **keys = NULL;
	int count = 0, rc = 0;
	natsStatus s;

	s = natsMsgHeader_Keys(m, &keys, &count);
	if (s == NATS_NOT_FOUND)
		return 0;
	if (s != NATS_OK)
		return natsconn_errno(s);
	for (int i = 0; rc == 0 && i < count; i++) {
		const char **values = NULL;
		int n = 0;

		s = natsMsgHeader_Values(m, keys[i], &values, &n);
		if (s != NATS_OK) {
			rc = natsconn_errno(s);
			break;
		}
		for (int j = 0; rc == 0 && j < n; j++)
			rc = fn(arg, keys[i], values[j]);
		free((void *)values);
	}
	free((void *)keys);
	return rc;
}

static int
add_size(void *arg, const char *key, const char *value)
{
	*(size_t *)arg += strlen(key) + 2 + strlen(value) + 2;
	return 0;
}

/* What m takes of max_payload: "NATS/1.0\r\n", "K: V\r\n" lines, "\r\n",
 * then the data. */
static size_t
wire_size(natsMsg *m)
{
	size_t n = 12;

	each_header(m, add_size, &n);
	return n + (size_t)natsMsg_GetDataLength(m);
}

/* The original headers go into the parts as "K: V\r\n" lines, an empty
 * line, then the payload. */
static int
put_original_header(void *arg, const char *key, const char *value)
{
	if (!manifest_header(key) && !dropped_header(key))
		strbuf_printf(arg, "%s: %s\r\n", key, value);
	return 0;
}

static int
put_manifest_header(void *arg, const char *key, const char *value)
{
	if (!manifest_header(key))
		return 0;
	return natsconn_errno(natsMsgHeader_Add(arg, key, value));
}

static int
purge_subject(struct natsconn *nc, const struct cfg_dlq *dlq, const char *filter)
{
	jsOptions o;
	jsErrCode jerr = 0;
	natsStatus s;

	jsOptions_Init(&o);
	o.Stream.Purge.Subject = filter;
	s = js_PurgeStream(natsconn_js(nc), cfg_dlq_stream(dlq), &o, &jerr);
	if (s == NATS_OK || s == NATS_NOT_FOUND || jerr == JS_ERR_STREAM_NOT_FOUND)
		return 0;
	return natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
}

static void
parts_subject(const struct cfg_dlq *dlq, const char *key, const char *tail, char *buf, size_t len)
{
	snprintf(buf, len, "%s" DLQ_PARTS_TOKEN ".%s.%s", cfg_dlq_prefix(dlq), key, tail);
}

/* A subject token unique to this write: the letter's id made safe, the
 * time, the process and a counter. */
static void
make_key(const char *msg_id, char *buf, size_t len)
{
	static uint64_t counter;
	uint64_t n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	size_t i;

	snprintf(buf, len, "%.120s-%" PRIx64 "-%lx-%" PRIu64, msg_id, (uint64_t)clock_wall_ms(),
	         (unsigned long)getpid(), n);
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == '.' || buf[i] == '*' || buf[i] == '>' || buf[i] <= ' ')
			buf[i] = '_';
}

static int
write_parts(struct natsconn *nc, const struct cfg_dlq *dlq, natsMsg *letter, const char *msg_id,
            int64_t max_payload)
{
	struct strbuf blob = { 0 };
	struct publish_ack ack = { 0 };
	natsMsg *m = NULL;
	size_t part =
	    max_payload > 2 * HEADER_ROOM ? (size_t)max_payload - HEADER_ROOM : FALLBACK_PART_BYTES;
	size_t parts, off;
	char key[256], subject[600], filter[600], id[300], count[24];
	int rc;

	make_key(msg_id, key, sizeof(key));
	parts_subject(dlq, key, ">", filter, sizeof(filter));
	rc = each_header(letter, put_original_header, &blob);
	strbuf_put(&blob, "\r\n", 2);
	strbuf_put(&blob, natsMsg_GetData(letter), (size_t)natsMsg_GetDataLength(letter));
	if (rc == 0 && blob.err != 0)
		rc = blob.err;
	if (rc != 0)
		goto out;
	parts = (blob.len + part - 1) / part;
	for (size_t i = 0; i < parts; i++) {
		off = i * part;
		snprintf(count, sizeof(count), "%zu", i);
		parts_subject(dlq, key, count, subject, sizeof(subject));
		snprintf(id, sizeof(id), "%s-%zu", key, i);
		rc = natsconn_errno(
		    natsMsg_Create(&m, subject, NULL, blob.data + off,
		                   (int)(blob.len - off < part ? blob.len - off : part)));
		if (rc == 0)
			rc = js_publish_msg(nc, m, id, NULL);
		natsMsg_Destroy(m);
		m = NULL;
		if (rc != 0)
			goto out;
	}
	/* The manifest: the letter's subject, id and Taskjet-* headers. */
	snprintf(count, sizeof(count), "%zu", parts);
	rc = natsconn_errno(natsMsg_Create(&m, natsMsg_GetSubject(letter), NULL, NULL, 0));
	if (rc == 0)
		rc = each_header(letter, put_manifest_header, m);
	if (rc == 0)
		rc = natsconn_errno(natsMsgHeader_Set(m, DLQ_PARTS_HEADER, count));
	if (rc == 0)
		rc = natsconn_errno(natsMsgHeader_Set(m, DLQ_PARTS_KEY_HEADER, key));
	if (rc == 0)
		rc = js_publish_msg(nc, m, msg_id, &ack);
	/* An earlier write of this letter is stored already (a rewrite after
	 * a crash): its manifest points at its own parts, not these. */
	if (rc == 0 && ack.duplicate)
		purge_subject(nc, dlq, filter);
out:
	if (rc != 0)
		purge_subject(nc, dlq, filter);
	natsMsg_Destroy(m);
	strbuf_release(&blob);
	return rc;
}

int
dlq_store_write(struct natsconn *nc, const struct cfg_dlq *dlq, natsMsg *letter, const char *msg_id)
{
	int64_t max = natsConnection_GetMaxPayload(natsconn_conn(nc));
	int rc;

	/* Sent, it would cost the connection, and every task on it. */
	if (strlen(natsMsg_GetSubject(letter)) > DLQ_STORE_SUBJECT_MAX)
		return -ENAMETOOLONG;
	if (max <= 0 || wire_size(letter) + strlen(msg_id) + HEADER_ROOM <= (uint64_t)max) {
		rc = js_publish_msg(nc, letter, msg_id, NULL);
		/* Too large after all (a stricter limit than we knew). */
		if (rc != -EMSGSIZE)
			return rc;
	}
	return write_parts(nc, dlq, letter, msg_id, max);
}

size_t
dlq_store_parts(natsMsg *m)
{
	const char *v = NULL;
	char *end;
	unsigned long long n;

	if (natsMsgHeader_Get(m, DLQ_PARTS_HEADER, &v) != NATS_OK || v == NULL)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	return errno == 0 && end != v && *end == '\0' && n < SIZE_MAX ? (size_t)n : 0;
}

int
dlq_store_parse(struct dlq_store_letter *l, size_t len)
{
	char *p = l->blob, *end = l->blob + len;
	size_t cap = 0;

	for (;;) {
		char *eol = memmem(p, (size_t)(end - p), "\r\n", 2), *colon;

		if (eol == NULL)
			return -ENODATA;
		if (eol == p)
			break;
		*eol = '\0';
		colon = strstr(p, ": ");
		if (colon == NULL)
			return -ENODATA;
		*colon = '\0';
		if (l->header_count == cap) {
			cap = cap > 0 ? 2 * cap : 8;
			l->headers = xrealloc(l->headers, cap, sizeof(*l->headers));
		}
		l->headers[l->header_count++] = (struct msg_header){ p, colon + 2 };
		p = eol + 2;
	}
	l->payload = p + 2;
	l->payload_len = (size_t)(end - (p + 2));
	return 0;
}

int
dlq_store_read(struct natsconn *nc, const struct cfg_dlq *dlq, natsMsg *m,
               struct dlq_store_letter *letter_r)
{
	struct dlq_store_letter l = { 0 };
	struct strbuf blob = { 0 };
	size_t parts = dlq_store_parts(m);
	const char *key = NULL;
	char subject[600], index[24];
	size_t len;
	int rc = 0;

	if (parts == 0 || natsMsgHeader_Get(m, DLQ_PARTS_KEY_HEADER, &key) != NATS_OK)
		return -ENODATA;
	for (size_t i = 0; rc == 0 && i < parts; i++) {
		natsMsg *part = NULL;
		jsErrCode jerr = 0;
		natsStatus s;

		snprintf(index, sizeof(index), "%zu", i);
		parts_subject(dlq, key, index, subject, sizeof(subject));
		s = js_GetLastMsg(&part, natsconn_js(nc), cfg_dlq_stream(dlq), subject, NULL,
		                  &jerr);
		if (s == NATS_NOT_FOUND || (s == NATS_ERR && jerr != 0))
			rc = -ENODATA;
		else if (s != NATS_OK)
			rc = natsconn_errno(s) != 0 ? natsconn_errno(s) : -EIO;
		else
			strbuf_put(&blob, natsMsg_GetData(part),
			           (size_t)natsMsg_GetDataLength(part));
		natsMsg_Destroy(part);
	}
	if (rc == 0 && blob.err != 0)
		rc = blob.err;
	if (rc != 0) {
		strbuf_release(&blob);
		return rc;
	}
	len = blob.len;
	l.blob = blob.data;
	rc = dlq_store_parse(&l, len);
	if (rc != 0) {
		dlq_store_letter_free(&l);
		return rc;
	}
	*letter_r = l;
	return 0;
}

void
dlq_store_letter_free(struct dlq_store_letter *l)
{
	free(l->blob);
	free(l->headers);
	memset(l, 0, sizeof(*l));
}

int
dlq_store_delete_parts(struct natsconn *nc, const struct cfg_dlq *dlq, natsMsg *m)
{
	const char *key = NULL;
	char filter[600];

	if (dlq_store_parts(m) == 0 || natsMsgHeader_Get(m, DLQ_PARTS_KEY_HEADER, &key) != NATS_OK)
		return 0;
	parts_subject(dlq, key, ">", filter, sizeof(filter));
	return purge_subject(nc, dlq, filter);
}
