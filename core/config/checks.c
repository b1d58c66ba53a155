/* SPDX-License-Identifier: MIT */
/* Checks across values: stream and route names, subjects, the DLQ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/internal.h"
#include "util/subject.h"

/* ---- cross checks -------------------------------------------------------- */

/* Could one literal subject match both (valid) patterns? */
static bool
subjects_overlap(const char *a, const char *b)
{
	for (;;) {
		size_t an = strcspn(a, "."), bn = strcspn(b, ".");
		bool a_star = an == 1 && a[0] == '*', b_star = bn == 1 && b[0] == '*';

		/* '>' takes this token and any after it; both have one here. */
		if ((an == 1 && a[0] == '>') || (bn == 1 && b[0] == '>'))
			return true;
		if (!a_star && !b_star && (an != bn || memcmp(a, b, an) != 0))
			return false;
		a += an;
		b += bn;
		if (*a == '\0' || *b == '\0')
			return *a == '\0' && *b == '\0';
		a++;
		b++;
	}
}

const struct cfg_stream *
cfg_find_stream(const struct cfg *cfg, const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->stream_count; i++)
		if (cfg->streams[i].name != NULL && strcmp(cfg->streams[i].name, name) == 0)
			return &cfg->streams[i];
	return NULL;
}

void
cfg_check_streams(struct loader *l)
{
	struct cfg *cfg = l->cfg;
	char path[PATH_LEN];
	char *dlq_subject = cfg_prefixed(cfg->dlq.subject_prefix, ".>");

	for (size_t i = 0; i < cfg->stream_count; i++) {
		const struct cfg_stream *st = &cfg->streams[i];

		if (st->name == NULL)
			continue;
		for (size_t j = 0; j < i; j++) {
			if (cfg->streams[j].name != NULL &&
			    strcmp(cfg->streams[j].name, st->name) == 0) {
				snprintf(path, sizeof(path), "streams[%zu].name", i);
				cfg_error_at(l, l->spos[i].name, path,
				             "duplicate stream name \"%s\" (also streams[%zu])",
				             st->name, j);
				break;
			}
		}
		if (strcmp(st->name, cfg->dlq.stream) == 0) {
			if (l->dlq_stream != SIZE_MAX)
				cfg_error_at(l, l->dlq_stream, "dlq.stream",
				             "\"%s\" is also a work stream (streams[%zu])",
				             st->name, i);
			else {
				snprintf(path, sizeof(path), "streams[%zu].name", i);
				cfg_error_at(l, l->spos[i].name, path,
				             "\"%s\" is the dead-letter stream's name (dlq.stream)",
				             st->name);
			}
		}
		if (strcmp(st->name, cfg->dlq.advisory_stream) == 0) {
			if (l->dlq_adv != SIZE_MAX)
				cfg_error_at(l, l->dlq_adv, "dlq.advisory_stream",
				             "\"%s\" is also a work stream (streams[%zu])",
				             st->name, i);
			else {
				snprintf(path, sizeof(path), "streams[%zu].name", i);
				cfg_error_at(l, l->spos[i].name, path,
				             "\"%s\" is the advisory stream's name "
				             "(dlq.advisory_stream)",
				             st->name);
			}
		}
		for (size_t s = 0; s < st->subject_count; s++) {
			const char *subj = st->subjects[s];

			snprintf(path, sizeof(path), "streams[%zu].subjects[%zu]", i, s);
			/* Streams with overlapping subjects cannot both exist. */
			for (size_t j = 0; j < i; j++)
				for (size_t t = 0; t < cfg->streams[j].subject_count; t++)
					if (subjects_overlap(subj, cfg->streams[j].subjects[t]))
						cfg_error_at(
						    l, l->spos[i].subjects[s], path,
						    "\"%s\" overlaps \"%s\" of stream \"%s\"", subj,
						    cfg->streams[j].subjects[t],
						    cfg->streams[j].name ? cfg->streams[j].name
						                         : "?");
			/* Dead letters must never land back in a work stream. */
			if (subjects_overlap(subj, dlq_subject)) {
				if (l->dlq_prefix != SIZE_MAX)
					cfg_error_at(
					    l, l->dlq_prefix, "dlq.subject_prefix",
					    "dead-letter subjects \"%s\" overlap \"%s\" of "
					    "stream \"%s\"",
					    dlq_subject, subj, st->name);
				else
					cfg_error_at(
					    l, l->spos[i].subjects[s], path,
					    "\"%s\" overlaps the dead-letter subjects \"%s\"", subj,
					    dlq_subject);
			}
		}
	}
	if (strcmp(cfg->dlq.stream, cfg->dlq.advisory_stream) == 0)
		cfg_error_at(l, l->dlq_adv != SIZE_MAX ? l->dlq_adv : l->dlq_stream,
		             l->dlq_adv != SIZE_MAX ? "dlq.advisory_stream" : "dlq.stream",
		             "the dead-letter and advisory streams must differ");
	free(dlq_subject);
}

static bool
stream_covers(const struct cfg_stream *st, const char *subject)
{
	for (size_t i = 0; i < st->subject_count; i++)
		if (subject_covers(st->subjects[i], subject))
			return true;
	return false;
}

void
cfg_check_routes(struct loader *l)
{
	struct cfg *cfg = l->cfg;
	char path[PATH_LEN];

	for (size_t i = 0; i < cfg->route_count; i++) {
		const struct cfg_route *r = &cfg->routes[i];
		const struct route_pos *rp = &l->rpos[i];
		const struct cfg_stream *st = cfg_find_stream(cfg, r->stream);

		for (size_t j = 0; j < i && r->name != NULL; j++)
			if (cfg->routes[j].name != NULL &&
			    strcmp(cfg->routes[j].name, r->name) == 0) {
				snprintf(path, sizeof(path), "routes[%zu].name", i);
				cfg_error_at(l, rp->name, path,
				             "duplicate route name \"%s\" (also routes[%zu])",
				             r->name, j);
				break;
			}
		/* A thread shares the engine's limits: only a process has its own. */
		if (r->isolation == CFG_ISOLATION_THREAD && rp->limits != SIZE_MAX) {
			snprintf(path, sizeof(path), "routes[%zu].limits", i);
			cfg_error_at(l, rp->limits, path,
			             "limits apply to isolation \"process\" only (a handler thread "
			             "shares the engine's memory, CPU and files)");
		}
		if (r->stream == NULL || !l->streams_ok)
			continue;
		if (st == NULL) {
			snprintf(path, sizeof(path), "routes[%zu].stream", i);
			cfg_error_at(l, rp->stream, path, "no stream named \"%s\"", r->stream);
			continue;
		}
		/* A stream whose subjects were rejected would only echo that. */
		if (r->subject != NULL && l->spos[st - cfg->streams].subjects_ok &&
		    !stream_covers(st, r->subject)) {
			snprintf(path, sizeof(path), "routes[%zu].subject", i);
			cfg_error_at(l, rp->subject, path,
			             "\"%s\" is not covered by the subjects of stream \"%s\"",
			             r->subject, st->name);
		}
		for (size_t j = 0; j < i; j++) {
			const struct cfg_route *o = &cfg->routes[j];

			if (o->stream == NULL || strcmp(o->stream, r->stream) != 0)
				continue;
			/* Same-named routes were reported already. */
			if (o->consumer != NULL && r->consumer != NULL &&
			    strcmp(o->consumer, r->consumer) == 0 &&
			    !(o->name != NULL && r->name != NULL &&
			      strcmp(o->name, r->name) == 0)) {
				snprintf(path, sizeof(path), "routes[%zu].%s", i,
				         rp->has_consumer ? "consumer" : "name");
				cfg_error_at(l, rp->consumer, path,
				             "consumer \"%s\" is also used by routes[%zu] on "
				             "stream \"%s\"",
				             r->consumer, j, r->stream);
			}
			/* A work-queue stream hands each message to one consumer
			 * only; the server refuses overlapping filters. */
			if (st->retention == CFG_RETENTION_WORKQUEUE && o->subject != NULL &&
			    r->subject != NULL && subjects_overlap(o->subject, r->subject)) {
				snprintf(path, sizeof(path), "routes[%zu].subject", i);
				cfg_error_at(l, rp->subject, path,
				             "\"%s\" overlaps \"%s\" of routes[%zu] on work-queue "
				             "stream \"%s\"",
				             r->subject, o->subject, j, r->stream);
			}
		}
	}
}
