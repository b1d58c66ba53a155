/* SPDX-License-Identifier: MIT */
/* Publish to JetStream and wait for the stream's ack, retrying under one id. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "nats/publish.h"

/* Store failures that mean "full" rather than "broken". */
static bool
is_full(jsErrCode jerr)
{
	switch ((int)jerr) {
	case JSStreamStoreFailedErr:
	case JSStorageResourcesExceededErr:
	case JSMemoryResourcesExceededErr:
	case JSAccountResourcesExceededErr:
	case JSInsufficientResourcesErr:
	case JSStreamLimitsErr:
		return true;
	default:
		return false;
	}
}

static int
publish_errno(natsStatus s, jsErrCode jerr)
{
	if (s == NATS_NO_RESPONDERS)
		return -ENOENT;
	if (is_full(jerr))
		return -ENOBUFS;
	if ((int)jerr == JSStreamMessageExceedsMaximumErr || s == NATS_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (s == NATS_TIMEOUT)
		return -ETIMEDOUT;
	return s == NATS_ERR ? -EIO : natsconn_errno(s);
}

int
js_publish_msg(struct natsconn *nc, natsMsg *msg, const char *msg_id, struct publish_ack *ack_r)
{
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s = NATS_TIMEOUT;

	jsPubOptions_Init(&po);
	po.MaxWait = JS_PUBLISH_WAIT_MS;
	if (msg_id != NULL && *msg_id != '\0')
		po.MsgId = msg_id;
	for (int i = 0; i < JS_PUBLISH_TRIES && s == NATS_TIMEOUT; i++) {
		jerr = 0;
		jsPubAck_Destroy(pa);
		pa = NULL;
		s = js_PublishMsg(&pa, natsconn_js(nc), msg, &po, &jerr);
		/* Without a msg id a retry could store it twice. */
		if (po.MsgId == NULL)
			break;
	}
	if (s == NATS_OK && ack_r != NULL && pa != NULL) {
		snprintf(ack_r->stream, sizeof(ack_r->stream), "%s",
		         pa->Stream != NULL ? pa->Stream : "");
		ack_r->seq = pa->Sequence;
		ack_r->duplicate = pa->Duplicate;
	}
	jsPubAck_Destroy(pa);
	return s == NATS_OK ? 0 : publish_errno(s, jerr);
}

int
js_publish(struct natsconn *nc, const struct publish_msg *m, struct publish_ack *ack_r)
{
	natsMsg *msg = NULL;
	natsStatus s;
	int rc;

	if (m->len > INT32_MAX)
		return -EMSGSIZE;
	s = natsMsg_Create(&msg, m->subject, NULL, m->data, (int)m->len);
	for (size_t i = 0; s == NATS_OK && i < m->header_count; i++)
		s = natsMsgHeader_Add(msg, m->headers[i].key, m->headers[i].value);
	if (s != NATS_OK) {
		rc = s == NATS_INVALID_SUBJECT ? -EINVAL : natsconn_errno(s);
		goto out;
	}
	rc = js_publish_msg(nc, msg, m->msg_id, ack_r);
out:
	natsMsg_Destroy(msg);
	return rc;
}
