/* SPDX-License-Identifier: MIT */
/* The dead letters: GET /api/v1/dlq, GET|DELETE /api/v1/dlq/{seq},
 * POST /api/v1/dlq/{seq}/replay; documents from task/doc.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"
#include "task/backend.h"
#include "task/doc.h"
#include "util/clock.h"
#include "util/subject.h"

#define DLQ_LIST_DEFAULT 100
#define DLQ_LIST_MAX 1000

/* Can the DLQ API serve now? Fills r and returns false if not. */
static bool
dlq_available(const struct http_request *req, struct reply *r)
{
	struct backend *b = req->env->backend;

	if (!backend_has_dlq(b)) {
		reply_error(r, MHD_HTTP_NOT_IMPLEMENTED, "the %s backend keeps no dead letters",
		            b->ops->name);
		return false;
	}
	if (!b->ops->healthy(b)) {
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "not connected to NATS");
		return false;
	}
	return true;
}

static void
dlq_failed(struct reply *r, int rc, uint64_t seq, const char *err)
{
	if (rc == -ENOMSG && err != NULL && *err != '\0')
		reply_error(r, MHD_HTTP_NOT_FOUND, "%s", err);
	else if (rc == -EXDEV)
		reply_error(r, MHD_HTTP_CONFLICT, "%s", err);
	else if ((rc == -ENOENT || rc == -ENOMSG) && seq > 0)
		reply_error(r, MHD_HTTP_NOT_FOUND, "no dead letter %llu", (unsigned long long)seq);
	else if (rc == -ENOENT)
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "the DLQ stream does not exist");
	else if (rc == -ENODATA)
		reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
		            "dead letter %llu is stored in parts, and some are missing",
		            (unsigned long long)seq);
	else if (rc == -EINVAL || rc == -ENXIO || rc == -EPERM)
		reply_error(r, MHD_HTTP_CONFLICT, "%s",
		            err != NULL && *err != '\0' ? err : strerror(-rc));
	else
		reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "%s",
		            err != NULL && *err != '\0' ? err : strerror(-rc));
}

void
handle_dlq_list(struct http_server *s, struct http_request *req, struct reply *r)
{
	const char *subject, *reason, *since, *from, *limit;
	struct dlq_filter f = { 0 };
	struct dlq_list list;
	struct strbuf b = { 0 };
	struct jsonw w;
	char *end;
	int rc;

	if (!dlq_available(req, r))
		return;
	subject = http_query(req, "subject");
	reason = http_query(req, "reason");
	since = http_query(req, "since");
	from = http_query(req, "from");
	limit = http_query(req, "limit");
	if (subject != NULL && !subject_valid(subject, true)) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
		            "subject: \"%.200s\" is not a NATS subject pattern", subject);
		return;
	}
	if (reason != NULL && dlq_reason_parse(reason) < 0) {
		reply_error(r, MHD_HTTP_BAD_REQUEST, "reason: unknown reason \"%.100s\"", reason);
		return;
	}
	if (since != NULL && dlq_parse_since(since, clock_wall_ms(), &f.since_ms) < 0) {
		reply_error(r, MHD_HTTP_BAD_REQUEST,
		            "since: \"%.100s\" is neither an RFC 3339 time nor a "
		            "duration such as \"1h\"",
		            since);
		return;
	}
	f.subject = subject;
	f.reason = reason;
	f.limit = DLQ_LIST_DEFAULT;
	if (from != NULL) {
		errno = 0;
		f.from_seq = strtoull(from, &end, 10);
		if (errno != 0 || *from < '0' || *from > '9' || *end != '\0') {
			reply_error(r, MHD_HTTP_BAD_REQUEST, "from: not a sequence");
			return;
		}
	}
	if (limit != NULL) {
		errno = 0;
		f.limit = (size_t)strtoull(limit, &end, 10);
		if (errno != 0 || *limit < '0' || *limit > '9' || *end != '\0' || f.limit == 0 ||
		    f.limit > DLQ_LIST_MAX) {
			reply_error(r, MHD_HTTP_BAD_REQUEST, "limit: 1..%d", DLQ_LIST_MAX);
			return;
		}
	}
	rc = backend_dlq_list(req->env->backend, &f, false, &list);
	if (rc < 0) {
		dlq_failed(r, rc, 0, NULL);
		return;
	}
	jsonw_init(&w, &b);
	doc_dead_letters(&w, req->env->cfg->dlq.stream, &list);
	reply_document(r, &b, jsonw_finish(&w));
	dlq_list_free(&list);
}

static void
handle_dlq_one(struct http_request *req, const char *method, uint64_t seq, bool replay,
               struct reply *r)
{
	struct backend *b = req->env->backend;
	struct strbuf buf = { 0 };
	struct jsonw w;
	char err[512] = "";
	int rc;

	if (!dlq_available(req, r))
		return;
	jsonw_init(&w, &buf);
	if (replay) {
		struct dlq_replay_result res;

		rc = backend_dlq_replay(b, seq, err, sizeof(err), &res);
		if (rc < 0) {
			dlq_failed(r, rc, seq, err);
			return;
		}
		doc_replay(&w, seq, &res, NULL);
	} else if (strcmp(method, MHD_HTTP_METHOD_DELETE) == 0) {
		rc = backend_dlq_delete(b, seq);
		if (rc == -ENOMSG)
			rc = backend_dlq_refusal(b, seq, "delete", err, sizeof(err));
		if (rc < 0) {
			dlq_failed(r, rc, seq, err);
			return;
		}
		jsonw_begin_object(&w);
		jsonw_member_uint(&w, "deleted", seq);
		jsonw_end_object(&w);
	} else {
		struct dlq_entry *e = NULL;

		rc = backend_dlq_get(b, seq, &e);
		if (rc == -ENOMSG)
			rc = backend_dlq_refusal(b, seq, "read", err, sizeof(err));
		if (rc < 0) {
			dlq_failed(r, rc, seq, err);
			return;
		}
		doc_dead_letter(&w, e, true);
		dlq_entry_free(e);
	}
	reply_document(r, &buf, jsonw_finish(&w));
}

/* "/api/v1/dlq/<seq>" or "/api/v1/dlq/<seq>/replay": 1 and the parts, else 0. */
static int
parse_dlq_path(const char *url, uint64_t *seq_r, bool *replay_r)
{
	const char *p = url + strlen("/api/v1/dlq/");
	char *end;
	uint64_t seq;

	if (strncmp(url, "/api/v1/dlq/", 12) != 0 || *p < '1' || *p > '9')
		return 0;
	errno = 0;
	seq = strtoull(p, &end, 10);
	/* Past uint64: a letter no stream can hold, so "not found" (404),
	 * like any sequence past int64 (backend_dlq_get). */
	if (errno == ERANGE)
		seq = UINT64_MAX;
	else if (errno != 0)
		return 0;
	if (*end == '\0')
		*replay_r = false;
	else if (strcmp(end, "/replay") == 0)
		*replay_r = true;
	else
		return 0;
	*seq_r = seq;
	return 1;
}

bool
dlq_path_is_letter(const char *url)
{
	uint64_t seq;
	bool replay;

	return parse_dlq_path(url, &seq, &replay) && !replay;
}

bool
dlq_path_is_replay(const char *url)
{
	uint64_t seq;
	bool replay;

	return parse_dlq_path(url, &seq, &replay) && replay;
}

void
handle_dlq_item(struct http_server *s, struct http_request *req, struct reply *r)
{
	bool replay = false;
	uint64_t seq = 0;

	/* The route table matched it with the predicates above. */
	parse_dlq_path(req->url, &seq, &replay);
	handle_dlq_one(req, req->method, seq, replay, r);
}
