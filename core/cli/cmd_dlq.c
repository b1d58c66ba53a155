/* SPDX-License-Identifier: MIT */
/* taskjet dlq: list, show, replay and purge dead letters (through the backend). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "task/doc.h"
#include "task/router.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/subject.h"
#include "util/xalloc.h"
#include "utf8.h"

static const char dlq_usage[] =
    "Usage: taskjet dlq ls     [OPTIONS] [FILTERS] [--from SEQ] [--limit N]\n"
    "       taskjet dlq show   [OPTIONS] SEQ\n"
    "       taskjet dlq replay [OPTIONS] SEQ... | --all [FILTERS]\n"
    "       taskjet dlq purge  [OPTIONS] [FILTERS] [--yes]\n"
    "\n"
    "Inspect and act on the dead-letter stream (dlq.stream, default DLQ).\n"
    "  ls      one line per dead letter, oldest first\n"
    "  show    one dead letter: every header and the payload\n"
    "  replay  republish to the original subject with the original headers\n"
    "          and a fresh message id, then delete the dead letter; a replay\n"
    "          cut short is safe to run again (deduplicated by the server\n"
    "          within the stream's duplicate window)\n"
    "  purge   delete dead letters; asks first unless --yes\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE    config file (dlq section, nats.url); optional\n"
    "  -n, --nats URL       NATS server URL (default: NATS_URL, the config,\n"
    "                       else the engine's embedded server, whose URL a\n"
    "                       running taskjet run keeps in state_dir/nats.url)\n"
    "  -j, --json           machine-readable output (ls, show, replay)\n"
    "  -h, --help           show this help\n"
    "Filters (ls, replay --all, purge):\n"
    "  -s, --subject PAT    original subject matches PAT (* and > wildcards)\n"
    "  -r, --reason R       handler_failed, attempts_exhausted, invalid_payload,\n"
    "                       no_route, crashed, timed_out or max_deliveries\n"
    "  -S, --since T        failed at or after T: RFC 3339 time or a duration\n"
    "                       ago (30m, 2h, 72h)\n"
    "ls:\n"
    "  -f, --from SEQ       start at DLQ sequence SEQ\n"
    "  -l, --limit N        list at most N (default 1000)\n"
    "replay:\n"
    "  -a, --all            every dead letter matching the filters; prints\n"
    "                       the count (and progress on a terminal)\n"
    "      --verbose        with --all, also a line per letter replayed\n"
    "purge:\n"
    "  -y, --yes            do not ask for confirmation\n"
    "\n"
    "Exit status: 0 done, 1 not found or an operation failed, 64 usage,\n"
    "69 no server, 78 bad config.\n";

struct dlq_args {
	struct dlq_filter filter;
	bool all, yes, has_limit, has_from, verbose;
};

enum dlq_sub { DLQ_LS, DLQ_SHOW, DLQ_REPLAY, DLQ_PURGE };

static enum dlq_sub
dlq_sub(const struct cli_ctx *ctx)
{
	if (strcmp(ctx->sub, "show") == 0)
		return DLQ_SHOW;
	if (strcmp(ctx->sub, "replay") == 0)
		return DLQ_REPLAY;
	if (strcmp(ctx->sub, "purge") == 0)
		return DLQ_PURGE;
	return DLQ_LS; /* ls, list */
}

static int
parse_u64_arg(const struct cli_ctx *ctx, const char *what, const char *text, uint64_t min,
              uint64_t *v_r)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	/* Sequences stop at int64 on the server; so do limits, comfortably. */
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min ||
	    v > DLQ_SEQ_MAX) {
		cli_error(ctx, "%s wants an integer from %" PRIu64 " to %" PRIu64 ", not \"%s\"",
		          what, min, DLQ_SEQ_MAX, text);
		return -EINVAL;
	}
	*v_r = v;
	return 0;
}

/* Write bytes for a human: UTF-8 text as is, other bytes and control
 * characters as \xNN (newlines and tabs too when `one_line`). */
static void
print_escaped(FILE *out, const char *s, size_t len, bool one_line)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_decode(p + i, len - i, NULL);

		if (n > 1) {
			fwrite(p + i, 1, n, out);
			i += n;
			continue;
		}
		if (n == 1 && ((p[i] >= 0x20 && p[i] != 0x7f && p[i] != '\\') ||
		               (!one_line && (p[i] == '\n' || p[i] == '\t'))))
			fputc(p[i], out);
		else if (p[i] == '\\')
			fputs("\\\\", out);
		else
			fprintf(out, "\\x%02x", p[i]);
		i++;
	}
}

static void
format_ns(int64_t ns, char *buf, size_t len)
{
	clock_format_rfc3339(ns / 1000000, true, buf, len);
}

static const char *
or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

/* The same documents as the HTTP API (task/doc.h). */
static void
print_list_json(const struct cfg_dlq *dlq, const struct dlq_list *list)
{
	struct strbuf b = { 0 };
	struct jsonw w;

	jsonw_init(&w, &b);
	doc_dead_letters(&w, dlq->stream, list);
	cli_write_document(&b, jsonw_finish(&w));
}

static const struct cli_column ls_columns[] = {
	{ .title = "SEQ" },
	{ .title = "FAILED AT" },
	{ .title = "SUBJECT", .shrink = 1 },
	{ .title = "FROM", .shrink = 1 },
	{ .title = "ATT", .align = CLI_RIGHT },
	{ .title = "REASON", .wide_gap = true },
	{ .title = "ERROR", .shrink = 1 },
};

/* The error of a letter on one line, control bytes escaped; malloc'd. */
static char *
one_line_error(const struct dlq_entry *e)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (e->error == NULL)
		return xstrdup("-");
	f = open_memstream(&text, &len);
	if (f == NULL)
		return xstrdup("?");
	print_escaped(f, e->error, strlen(e->error), true);
	fclose(f);
	return text;
}

static void
print_list_text(const struct cfg_dlq *dlq, const struct dlq_list *list)
{
	struct cli_table *t = cli_table_new(CLI_COLUMNS(ls_columns));
	struct cli_term term;

	for (size_t i = 0; i < list->count; i++) {
		const struct dlq_entry *e = &list->entries[i];
		char when[40], *error = one_line_error(e);

		if (e->failed_at != NULL)
			snprintf(when, sizeof(when), "%s", e->failed_at);
		else
			format_ns(e->stored_ns, when, sizeof(when));
		cli_table_add(t, "%" PRIu64, e->seq);
		cli_table_add(t, "%s", when);
		cli_table_add(t, "%s", or_dash(e->orig_subject));
		if (e->orig_stream != NULL)
			cli_table_add(t, "%s:%" PRIu64, e->orig_stream, e->orig_seq);
		else
			cli_table_add(t, "-");
		cli_table_add(t, "%" PRIu32, e->attempts);
		cli_table_add(t, "%s", or_dash(e->reason));
		cli_table_add(t, "%s", error);
		free(error);
	}
	cli_term_detect(stdout, &term);
	if (list->count > 0)
		cli_table_print(t, stdout, &term);
	cli_table_free(t);
	printf("%zu dead letter%s in %s (%" PRIu64 " scanned)\n", list->count,
	       list->count == 1 ? "" : "s", dlq->stream, list->scanned);
	if (list->truncated)
		printf("more match: continue with --from %" PRIu64 "\n", list->next_seq);
}

static void
print_entry_json(const struct dlq_entry *e)
{
	struct strbuf b = { 0 };
	struct jsonw w;

	jsonw_init(&w, &b);
	doc_dead_letter(&w, e, true);
	cli_write_document(&b, jsonw_finish(&w));
}

static void
print_entry_text(const struct cfg_dlq *dlq, const struct dlq_entry *e)
{
	char stored[40];

	format_ns(e->stored_ns, stored, sizeof(stored));
	printf("dead letter %" PRIu64 " in %s on %s, stored %s\n", e->seq, dlq->stream,
	       e->dlq_subject, stored);
	printf("  subject:    %s\n", or_dash(e->orig_subject));
	printf("  from:       stream %s seq %" PRIu64 "\n", or_dash(e->orig_stream), e->orig_seq);
	printf("  reason:     %s after %" PRIu32 " attempt%s\n", or_dash(e->reason), e->attempts,
	       e->attempts == 1 ? "" : "s");
	printf("  plugin:     %s\n", or_dash(e->plugin));
	printf("  failed at:  %s\n", or_dash(e->failed_at));
	if (e->stored_parts > 0)
		printf("  stored as:  %zu parts and this letter (too large for one message)\n",
		       e->stored_parts);
	printf("  last error: ");
	print_escaped(stdout, e->error != NULL ? e->error : "-",
	              e->error != NULL ? strlen(e->error) : 1, true);
	printf("\n  (only the last attempt's error is kept in the dead letter; earlier\n"
	       "   attempts' errors are in the engine log as \"retry <id> in N ms: ...\")\n");
	printf("headers (%zu):\n", e->header_count);
	for (size_t i = 0; i < e->header_count; i++) {
		printf("  %s: ", e->headers[i].key);
		print_escaped(stdout, e->headers[i].value, strlen(e->headers[i].value), true);
		fputc('\n', stdout);
	}
	printf("payload (%zu bytes):\n", e->payload_len);
	print_escaped(stdout, e->payload, e->payload_len, false);
	if (e->payload_len > 0 && e->payload[e->payload_len - 1] != '\n')
		fputc('\n', stdout);
}

static int
report_list_error(const struct cli_ctx *ctx, const struct cfg_dlq *dlq, int rc)
{
	if (rc == -ENOENT)
		cli_error(ctx, "no stream %s on the server (has taskjet run against it?)",
		          dlq->stream);
	else
		cli_error(ctx, "reading %s failed: %s", dlq->stream, strerror(-rc));
	return cli_exit_status(rc);
}

static int
do_ls(const struct cli_ctx *ctx, struct backend *b, const struct cfg_dlq *dlq,
      const struct dlq_args *a)
{
	struct dlq_list list = { 0 };
	int rc = backend_dlq_list(b, &a->filter, false, &list);

	if (rc < 0)
		return report_list_error(ctx, dlq, rc);
	if (ctx->opt.json)
		print_list_json(dlq, &list);
	else
		print_list_text(dlq, &list);
	dlq_list_free(&list);
	return EXIT_OK;
}

static int
do_show(const struct cli_ctx *ctx, struct backend *b, const struct cfg_dlq *dlq, uint64_t seq)
{
	struct dlq_entry *e = NULL;
	char why[512] = "";
	int rc = backend_dlq_get(b, seq, &e);

	if (rc == -ENOMSG)
		rc = backend_dlq_refusal(b, seq, "show", why, sizeof(why));
	if (rc == -ENOMSG || rc == -EXDEV) {
		cli_error(ctx, "%s", why);
		return EXIT_FAILURE_OTHER;
	}
	if (rc == -ENOENT) {
		cli_error(ctx, "no dead letter %" PRIu64 " in %s", seq, dlq->stream);
		return EXIT_FAILURE_OTHER;
	}
	if (rc == -ENODATA) {
		cli_error(ctx, "dead letter %" PRIu64 " is stored in parts, and some are missing",
		          seq);
		return EXIT_FAILURE_OTHER;
	}
	if (rc < 0)
		return report_list_error(ctx, dlq, rc);
	if (ctx->opt.json)
		print_entry_json(e);
	else
		print_entry_text(dlq, e);
	dlq_entry_free(e);
	return EXIT_OK;
}

/* What replaying one letter came to. */
struct replay_outcome {
	uint64_t seq;
	int rc;
	struct dlq_replay_result res; /* rc == 0 */
	char *error; /* rc < 0: why, malloc'd */
};

static void
print_replay_json(const struct replay_outcome *o, size_t count, size_t gone, size_t failed)
{
	struct strbuf b = { 0 };
	struct jsonw w;

	jsonw_init(&w, &b);
	jsonw_begin_object(&w);
	jsonw_key(&w, "results");
	jsonw_begin_array(&w);
	for (size_t i = 0; i < count; i++)
		doc_replay(&w, o[i].seq, &o[i].res, o[i].rc == 0 ? NULL : o[i].error);
	jsonw_end_array(&w);
	jsonw_member_uint(&w, "replayed", count - failed - gone);
	jsonw_member_uint(&w, "gone", gone);
	jsonw_member_uint(&w, "failed", failed);
	jsonw_end_object(&w);
	cli_write_document(&b, jsonw_finish(&w));
}

static void
replay_one(struct backend *b, uint64_t seq, struct replay_outcome *o)
{
	char err[512] = "";

	o->seq = seq;
	o->rc = backend_dlq_replay(b, seq, err, sizeof(err), &o->res);
	if (o->rc < 0)
		o->error = xstrdup(err);
}

static void
print_replayed(const struct replay_outcome *o)
{
	if (o->res.gone)
		printf("%" PRIu64 " is not in the DLQ any more: already replayed (or deleted)\n",
		       o->seq);
	else
		printf("replayed %" PRIu64 " -> %s seq %" PRIu64 "%s\n", o->seq, o->res.new_stream,
		       o->res.new_seq,
		       o->res.duplicate ? " (already published by an interrupted replay)" : "");
}

/*
 * Replay the SEQs given, or (--all) every letter the filters select. A line
 * per letter for the SEQs given, or with --verbose; a failure is said on
 * stderr at once; a progress line on a terminal while there are several.
 */
static int
do_replay(const struct cli_ctx *ctx, struct backend *b, const struct cfg_dlq *dlq,
          const struct dlq_args *a, const uint64_t *seqs)
{
	bool each = !ctx->opt.json && (!a->all || a->verbose);
	struct dlq_list list = { 0 };
	struct replay_outcome *outcomes;
	struct cli_progress progress;
	size_t failed = 0, gone = 0, count = (size_t)ctx->argc;
	int rc;

	if (a->all) {
		struct dlq_filter f = a->filter;

		f.unlimited = true;
		rc = backend_dlq_list(b, &f, false, &list);
		if (rc < 0)
			return report_list_error(ctx, dlq, rc);
		count = list.count;
	}
	outcomes = xcalloc(count + 1, sizeof(*outcomes));
	cli_progress_start(&progress, "replaying", count, count > 1);
	for (size_t i = 0; i < count; i++) {
		replay_one(b, a->all ? list.entries[i].seq : seqs[i], &outcomes[i]);
		if (outcomes[i].rc < 0 || each)
			cli_progress_clear(&progress);
		if (outcomes[i].rc < 0) {
			cli_sub_error(ctx, "%s", outcomes[i].error);
			failed++;
		} else {
			gone += outcomes[i].res.gone;
			if (each)
				print_replayed(&outcomes[i]);
		}
		cli_progress_step(&progress);
	}
	cli_progress_clear(&progress);
	if (ctx->opt.json)
		print_replay_json(outcomes, count, gone, failed);
	else if (gone > 0)
		printf("%zu replayed, %zu already replayed or deleted, %zu failed\n",
		       count - failed - gone, gone, failed);
	else
		printf("%zu replayed, %zu failed\n", count - failed, failed);
	for (size_t i = 0; i < count; i++)
		free(outcomes[i].error);
	free(outcomes);
	dlq_list_free(&list);
	return failed > 0 ? EXIT_FAILURE_OTHER : EXIT_OK;
}

/* Ask on the terminal; only an explicit yes goes ahead. */
static bool
confirm(size_t count, const char *stream)
{
	char line[32];

	fprintf(stderr, "Delete %zu dead letter%s from %s? This cannot be undone. [y/N] ", count,
	        count == 1 ? "" : "s", stream);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return strcmp(line, "y") == 0 || strcmp(line, "Y") == 0 || strcmp(line, "yes") == 0;
}

/* --yes, or a yes on the terminal. EXIT_OK to go ahead. */
static int
purge_confirmed(const struct cli_ctx *ctx, const struct cfg_dlq *dlq, const struct dlq_args *a,
                size_t count)
{
	if (a->yes)
		return EXIT_OK;
	if (!isatty(STDIN_FILENO)) {
		cli_sub_error(ctx,
		              "would delete %zu dead letter%s from %s; stdin is not a "
		              "terminal to confirm, so pass --yes",
		              count, count == 1 ? "" : "s", dlq->stream);
		return EXIT_USAGE;
	}
	if (!confirm(count, dlq->stream)) {
		cli_sub_error(ctx, "nothing deleted");
		return EXIT_FAILURE_OTHER;
	}
	return EXIT_OK;
}

/* How a purge went. */
struct purge_count {
	size_t deleted, gone, failed;
};

/* Delete the listed letters one by one (a filter the server cannot
 * apply), with a progress line on a terminal. */
static void
purge_each(const struct cli_ctx *ctx, struct backend *b, const struct dlq_list *list,
           struct purge_count *n)
{
	struct cli_progress progress;

	cli_progress_start(&progress, "deleting", list->count, list->count > 1);
	for (size_t i = 0; i < list->count; i++) {
		int rc = backend_dlq_delete(b, list->entries[i].seq);

		if (rc == 0) {
			n->deleted++;
		} else if (rc == -ENOENT) {
			n->gone++;
		} else {
			n->failed++;
			cli_progress_clear(&progress);
			cli_sub_error(ctx, "deleting %" PRIu64 ": %s", list->entries[i].seq,
			              strerror(-rc));
		}
		cli_progress_step(&progress);
	}
	cli_progress_clear(&progress);
}

/* Delete the listed letters stored in parts (and so their parts), and
 * those under the fallback subject, which a subject purge would leave
 * behind. */
static void
purge_parted(const struct cli_ctx *ctx, struct backend *b, const struct dlq_list *list,
             struct purge_count *n)
{
	for (size_t i = 0; i < list->count; i++) {
		int rc;

		if (list->entries[i].stored_parts == 0 && !dlq_entry_off_subject(&list->entries[i]))
			continue;
		rc = backend_dlq_delete(b, list->entries[i].seq);
		if (rc == -ENOENT) {
			n->gone++;
		} else if (rc < 0) {
			n->failed++;
			cli_sub_error(ctx, "deleting %" PRIu64 ": %s", list->entries[i].seq,
			              strerror(-rc));
		}
	}
}

static int
do_purge(const struct cli_ctx *ctx, struct backend *b, const struct cfg_dlq *dlq,
         const struct dlq_args *a)
{
	struct dlq_filter f = a->filter;
	struct dlq_list list = { 0 };
	struct purge_count n = { 0 };
	int status, rc;

	f.unlimited = true;
	rc = backend_dlq_list(b, &f, false, &list);
	if (rc < 0)
		return report_list_error(ctx, dlq, rc);
	if (list.count == 0) {
		printf("nothing to purge: no dead letter in %s matches\n", dlq->stream);
		status = EXIT_OK;
		goto out;
	}
	status = purge_confirmed(ctx, dlq, a, list.count);
	if (status != EXIT_OK)
		goto out;
	if (f.reason == NULL && f.since_ms == 0) {
		/* A letter stored in parts goes with its parts, one by one;
		 * then one server call for the rest, bounded by the scan so
		 * letters written since (which nobody confirmed) stay. */
		purge_parted(ctx, b, &list, &n);
		rc = backend_dlq_purge(b, f.subject, list.last_seq + 1);
		if (rc < 0) {
			cli_sub_error(ctx, "%s", strerror(-rc));
			status = EXIT_FAILURE_OTHER;
			goto out;
		}
		n.deleted = list.count - n.gone - n.failed;
	} else {
		purge_each(ctx, b, &list, &n);
	}
	printf("purged %zu dead letter%s from %s", n.deleted, n.deleted == 1 ? "" : "s",
	       dlq->stream);
	if (n.gone > 0)
		printf(" (%zu already gone)", n.gone);
	if (n.failed > 0)
		printf(", %zu failed", n.failed);
	fputc('\n', stdout);
	status = n.failed > 0 ? EXIT_FAILURE_OTHER : EXIT_OK;
out:
	dlq_list_free(&list);
	return status;
}

/* Long only, like publish's (where -v is taken). */
#define KEY_VERBOSE (CLI_KEY_LONG + 0)

static const struct cli_option dlq_options[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_NATS,
	CLI_OPT_JSON,
	CLI_OPTION("subject", required_argument, 's'),
	CLI_OPTION("reason", required_argument, 'r'),
	CLI_OPTION("since", required_argument, 'S'),
	CLI_OPTION("from", required_argument, 'f'),
	CLI_OPTION("limit", required_argument, 'l'),
	CLI_OPTION("all", no_argument, 'a'),
	CLI_OPTION("yes", no_argument, 'y'),
	CLI_OPTION("verbose", no_argument, KEY_VERBOSE),
	CLI_OPT_END,
};

/* The filters: --subject, --reason, --since. */
static int
filter_option(const struct cli_ctx *ctx, struct dlq_filter *f, int key, char *value)
{
	switch (key) {
	case 's':
		if (!subject_valid(value, true)) {
			cli_error(ctx, "--subject: \"%s\" is not a valid subject pattern", value);
			return EXIT_USAGE;
		}
		f->subject = value;
		break;
	case 'r':
		if (dlq_reason_parse(value) < 0) {
			cli_error(ctx, "--reason: unknown reason \"%s\"", value);
			return EXIT_USAGE;
		}
		f->reason = value;
		break;
	case 'S':
		if (dlq_parse_since(value, clock_wall_ms(), &f->since_ms) < 0) {
			cli_error(ctx,
			          "--since wants an RFC 3339 time or a duration like 2h, "
			          "not \"%s\"",
			          value);
			return EXIT_USAGE;
		}
		break;
	}
	return EXIT_OK;
}

static int
dlq_option(struct cli_ctx *ctx, void *args, int key, char *value)
{
	struct dlq_args *a = args;
	uint64_t v;

	switch (key) {
	case 'f':
		if (parse_u64_arg(ctx, "--from", value, 1, &a->filter.from_seq) < 0)
			return EXIT_USAGE;
		a->has_from = true;
		break;
	case 'l':
		if (parse_u64_arg(ctx, "--limit", value, 1, &v) < 0)
			return EXIT_USAGE;
		a->filter.limit = (size_t)v;
		a->has_limit = true;
		break;
	case 'a':
		a->all = true;
		break;
	case 'y':
		a->yes = true;
		break;
	case KEY_VERBOSE:
		a->verbose = true;
		break;
	default:
		return filter_option(ctx, &a->filter, key, value);
	}
	return EXIT_OK;
}

/* Options that make no sense for the subcommand are refused, so a
 * mistyped purge never deletes more than was meant. */
static int
check_sub_options(const struct cli_ctx *ctx, const struct dlq_args *a)
{
	bool filters =
	    a->filter.subject != NULL || a->filter.reason != NULL || a->filter.since_ms != 0;
	enum dlq_sub sub = dlq_sub(ctx);
	bool is_ls = sub == DLQ_LS, is_show = sub == DLQ_SHOW;
	bool is_replay = sub == DLQ_REPLAY, is_purge = sub == DLQ_PURGE;
	bool operands = ctx->argc > 0;
	const char *bad = NULL;

	if ((a->has_from || a->has_limit) && !is_ls)
		bad = "--from and --limit are for ls";
	else if (a->all && !is_replay)
		bad = "--all is for replay";
	else if (a->yes && !is_purge)
		bad = "--yes is for purge";
	else if (a->verbose && !is_replay)
		bad = "--verbose is for replay";
	else if (filters && (is_show || (is_replay && !a->all)))
		bad = "filters select letters for ls, replay --all and purge";
	else if (ctx->opt.json && is_purge)
		bad = "purge has no --json output";
	else if ((is_ls || is_purge) && operands)
		bad = "unexpected arguments";
	else if (is_show && ctx->argc != 1)
		bad = "show wants one SEQ";
	else if (is_replay && a->all == operands)
		bad = "replay wants SEQ... or --all";
	if (bad == NULL)
		return EXIT_OK;
	cli_sub_error(ctx, "%s; see taskjet dlq --help", bad);
	return EXIT_USAGE;
}

/* The SEQ operands (show, replay), checked before connecting so a typo
 * costs nothing. *seqs_r is the caller's to free. */
static int
parse_seqs(const struct cli_ctx *ctx, uint64_t **seqs_r)
{
	*seqs_r = xcalloc((size_t)ctx->argc + 1, sizeof(**seqs_r));
	for (int i = 0; i < ctx->argc; i++)
		if (parse_u64_arg(ctx, "SEQ", ctx->argv[i], 1, &(*seqs_r)[i]) < 0)
			return EXIT_USAGE;
	return EXIT_OK;
}

static int
dlq_run(struct cli_ctx *ctx, void *args)
{
	const struct dlq_args *a = args;
	struct backend *backend = NULL;
	struct cfg *cfg = NULL;
	uint64_t *seqs = NULL;
	int status;

	status = check_sub_options(ctx, a);
	if (status == EXIT_OK)
		status = parse_seqs(ctx, &seqs);
	if (status == EXIT_OK)
		status = cli_open_client(ctx, true, &cfg, &backend);
	if (status != EXIT_OK)
		goto out;
	switch (dlq_sub(ctx)) {
	case DLQ_LS:
		status = do_ls(ctx, backend, &cfg->dlq, a);
		break;
	case DLQ_SHOW:
		status = do_show(ctx, backend, &cfg->dlq, seqs[0]);
		break;
	case DLQ_REPLAY:
		status = do_replay(ctx, backend, &cfg->dlq, a, seqs);
		break;
	case DLQ_PURGE:
		status = do_purge(ctx, backend, &cfg->dlq, a);
		break;
	}
out:
	backend_destroy(backend);
	cfg_free(cfg);
	free(seqs);
	return status;
}

static const char *const dlq_subcommands[] = { "ls", "list", "show", "replay", "purge", NULL };

static const struct dlq_args dlq_defaults = { 0 };

const struct cli_command cli_cmd_dlq = {
	.name = "dlq",
	.summary = "list, show, replay and purge dead letters",
	.usage = dlq_usage,
	.options = dlq_options,
	.subcommands = dlq_subcommands,
	.max_operands = CLI_ANY_OPERANDS,
	CLI_ARGS(dlq_defaults),
	.option = dlq_option,
	.run = dlq_run,
};
