/* SPDX-License-Identifier: MIT */
/* taskjet dlq: list, show, replay and purge dead letters (through the backend). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
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
    "                       the engine's embedded server, nats://127.0.0.1:4222)\n"
    "  -j, --json           machine-readable output (ls, show, replay)\n"
    "  -h, --help           show this help\n"
    "Filters (ls, replay --all, purge):\n"
    "  -s, --subject PAT    original subject matches PAT (* and > wildcards)\n"
    "  -r, --reason R       handler_failed, attempts_exhausted, invalid_payload,\n"
    "                       no_route, crashed or max_deliveries\n"
    "  -S, --since T        failed at or after T: RFC 3339 time or a duration\n"
    "                       ago (30m, 2h, 72h)\n"
    "ls:\n"
    "  -f, --from SEQ       start at DLQ sequence SEQ\n"
    "  -l, --limit N        list at most N (default 1000)\n"
    "replay:\n"
    "  -a, --all            every dead letter matching the filters\n"
    "purge:\n"
    "  -y, --yes            do not ask for confirmation\n"
    "\n"
    "Exit status: 0 done, 1 not found or an operation failed, 64 usage,\n"
    "69 no server, 78 bad config.\n";

/* How many error characters `ls` shows per line. */
#define LS_ERROR_WIDTH 60

struct dlq_args {
	const char *config, *url;
	struct dlq_filter filter;
	bool json, all, yes, has_limit, has_from;
};

static int
parse_u64_arg(const char *what, const char *text, uint64_t min, uint64_t *v_r)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min) {
		fprintf(stderr, "taskjet dlq: %s wants an integer >= %" PRIu64 ", not \"%s\"\n",
		        what, min, text);
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
json_field(FILE *out, const char *key, const char *value, bool comma)
{
	fprintf(out, "%s\"%s\":", comma ? "," : "", key);
	if (value == NULL)
		fputs("null", out);
	else
		cli_json_string(out, value, strlen(value));
}

static void
format_ns(int64_t ns, char *buf, size_t len)
{
	clock_format_rfc3339(ns / 1000000, true, buf, len);
}

/* The summary fields of an entry as JSON members (no braces). */
static void
json_entry_summary(FILE *out, const struct dlq_entry *e)
{
	char stored[40];

	format_ns(e->stored_ns, stored, sizeof(stored));
	fprintf(out, "\"seq\":%" PRIu64, e->seq);
	json_field(out, "dlq_subject", e->dlq_subject, true);
	json_field(out, "subject", e->orig_subject, true);
	json_field(out, "stream", e->orig_stream, true);
	fprintf(out, ",\"stream_seq\":%" PRIu64 ",\"attempts\":%" PRIu32, e->orig_seq, e->attempts);
	json_field(out, "reason", e->reason, true);
	json_field(out, "error", e->error, true);
	json_field(out, "plugin", e->plugin, true);
	json_field(out, "failed_at", e->failed_at, true);
	json_field(out, "stored_at", stored, true);
}

static const char *
or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

static void
print_list(const struct cfg_dlq *dlq, const struct dlq_list *list, bool json)
{
	if (json) {
		printf("{\"dlq_stream\":");
		cli_json_string(stdout, dlq->stream, strlen(dlq->stream));
		printf(",\"count\":%zu,\"scanned\":%" PRIu64 ",\"truncated\":%s,"
		       "\"next_seq\":%" PRIu64 ",\"entries\":[",
		       list->count, list->scanned, list->truncated ? "true" : "false",
		       list->next_seq);
		for (size_t i = 0; i < list->count; i++) {
			fputs(i > 0 ? ",{" : "{", stdout);
			json_entry_summary(stdout, &list->entries[i]);
			fputc('}', stdout);
		}
		printf("]}\n");
		return;
	}
	if (list->count > 0)
		printf("%-8s %-24s %-28s %-16s %4s  %-18s %s\n", "SEQ", "FAILED AT", "SUBJECT",
		       "FROM", "ATT", "REASON", "ERROR");
	for (size_t i = 0; i < list->count; i++) {
		const struct dlq_entry *e = &list->entries[i];
		char from[96], when[40];
		size_t elen = e->error != NULL ? strlen(e->error) : 0;

		if (e->orig_stream != NULL)
			snprintf(from, sizeof(from), "%s:%" PRIu64, e->orig_stream, e->orig_seq);
		else
			snprintf(from, sizeof(from), "-");
		if (e->failed_at != NULL)
			snprintf(when, sizeof(when), "%s", e->failed_at);
		else
			format_ns(e->stored_ns, when, sizeof(when));
		printf("%-8" PRIu64 " %-24s %-28s %-16s %4" PRIu32 "  %-18s ", e->seq, when,
		       or_dash(e->orig_subject), from, e->attempts, or_dash(e->reason));
		if (elen > LS_ERROR_WIDTH) {
			print_escaped(stdout, e->error, LS_ERROR_WIDTH - 3, true);
			fputs("...", stdout);
		} else {
			print_escaped(stdout, e->error != NULL ? e->error : "-",
			              e->error != NULL ? elen : 1, true);
		}
		fputc('\n', stdout);
	}
	printf("%zu dead letter%s in %s (%" PRIu64 " scanned)\n", list->count,
	       list->count == 1 ? "" : "s", dlq->stream, list->scanned);
	if (list->truncated)
		printf("more match: continue with --from %" PRIu64 "\n", list->next_seq);
}

static void
print_entry(const struct cfg_dlq *dlq, const struct dlq_entry *e, bool json)
{
	char stored[40];

	if (json) {
		fputc('{', stdout);
		json_entry_summary(stdout, e);
		fputs(",\"headers\":[", stdout);
		for (size_t i = 0; i < e->header_count; i++) {
			fputs(i > 0 ? ",{" : "{", stdout);
			json_field(stdout, "key", e->headers[i].key, false);
			json_field(stdout, "value", e->headers[i].value, true);
			fputc('}', stdout);
		}
		fprintf(stdout, "],\"payload_len\":%zu", e->payload_len);
		cli_json_bytes(stdout, "payload", e->payload, e->payload_len);
		fputs("}\n", stdout);
		return;
	}
	format_ns(e->stored_ns, stored, sizeof(stored));
	printf("dead letter %" PRIu64 " in %s on %s, stored %s\n", e->seq, dlq->stream,
	       e->dlq_subject, stored);
	printf("  subject:    %s\n", or_dash(e->orig_subject));
	printf("  from:       stream %s seq %" PRIu64 "\n", or_dash(e->orig_stream), e->orig_seq);
	printf("  reason:     %s after %" PRIu32 " attempt%s\n", or_dash(e->reason), e->attempts,
	       e->attempts == 1 ? "" : "s");
	printf("  plugin:     %s\n", or_dash(e->plugin));
	printf("  failed at:  %s\n", or_dash(e->failed_at));
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
report_list_error(const struct cfg_dlq *dlq, int rc)
{
	if (rc == -ENOENT)
		fprintf(stderr,
		        "taskjet dlq: no stream %s on the server (has taskjet run "
		        "against it?)\n",
		        dlq->stream);
	else
		fprintf(stderr, "taskjet dlq: reading %s failed: %s\n", dlq->stream, strerror(-rc));
	return rc == -ENOTCONN || rc == -ECONNREFUSED ? EXIT_UNAVAILABLE : EXIT_FAILURE_OTHER;
}

static int
do_ls(struct backend *b, const struct cfg_dlq *dlq, const struct dlq_args *a)
{
	struct dlq_list list = { 0 };
	int rc = backend_dlq_list(b, &a->filter, false, &list);

	if (rc < 0)
		return report_list_error(dlq, rc);
	print_list(dlq, &list, a->json);
	dlq_list_free(&list);
	return EXIT_OK;
}

static int
do_show(struct backend *b, const struct cfg_dlq *dlq, const struct dlq_args *a, uint64_t seq)
{
	struct dlq_entry *e = NULL;
	int rc = backend_dlq_get(b, seq, &e);

	if (rc == -ENOENT) {
		fprintf(stderr, "taskjet dlq: no dead letter %" PRIu64 " in %s\n", seq,
		        dlq->stream);
		return EXIT_FAILURE_OTHER;
	}
	if (rc < 0)
		return report_list_error(dlq, rc);
	print_entry(dlq, e, a->json);
	dlq_entry_free(e);
	return EXIT_OK;
}

static int
replay_one(struct backend *b, const struct cfg_dlq *dlq, uint64_t seq, bool json, bool first)
{
	struct dlq_replay_result res = { 0 };
	char err[512] = "";
	int rc = backend_dlq_replay(b, seq, err, sizeof(err), &res);

	if (json) {
		printf("%s{\"seq\":%" PRIu64 ",\"ok\":%s", first ? "" : ",", seq,
		       rc == 0 ? "true" : "false");
		if (rc == 0) {
			json_field(stdout, "stream", res.new_stream, true);
			printf(",\"stream_seq\":%" PRIu64 ",\"duplicate\":%s}", res.new_seq,
			       res.duplicate ? "true" : "false");
		} else {
			json_field(stdout, "error", err, true);
			fputc('}', stdout);
		}
	} else if (rc == 0) {
		printf("replayed %" PRIu64 " -> %s seq %" PRIu64 "%s\n", seq, res.new_stream,
		       res.new_seq,
		       res.duplicate ? " (already published by an interrupted replay)" : "");
	}
	if (rc < 0)
		fprintf(stderr, "taskjet dlq replay: %s\n", err);
	return rc;
}

static int
do_replay(struct backend *b, const struct cfg_dlq *dlq, const struct dlq_args *a, uint64_t *seqs,
          size_t nseqs)
{
	struct dlq_list list = { 0 };
	size_t failed = 0, total = nseqs;
	int rc;

	if (a->all) {
		struct dlq_filter f = a->filter;

		f.unlimited = true;
		rc = backend_dlq_list(b, &f, false, &list);
		if (rc < 0)
			return report_list_error(dlq, rc);
		total = list.count;
	}
	if (a->json)
		fputs("{\"results\":[", stdout);
	for (size_t i = 0; i < total; i++) {
		uint64_t seq = a->all ? list.entries[i].seq : seqs[i];

		if (replay_one(b, dlq, seq, a->json, i == 0) < 0)
			failed++;
	}
	if (a->json)
		printf("],\"replayed\":%zu,\"failed\":%zu}\n", total - failed, failed);
	else
		printf("%zu replayed, %zu failed\n", total - failed, failed);
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

static int
do_purge(struct backend *b, const struct cfg_dlq *dlq, const struct dlq_args *a)
{
	struct dlq_filter f = a->filter;
	struct dlq_list list = { 0 };
	size_t deleted = 0, gone = 0, failed = 0;
	int status = EXIT_OK, rc;

	f.unlimited = true;
	rc = backend_dlq_list(b, &f, false, &list);
	if (rc < 0)
		return report_list_error(dlq, rc);
	if (list.count == 0) {
		printf("nothing to purge: no dead letter in %s matches\n", dlq->stream);
		goto out;
	}
	if (!a->yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr,
			        "taskjet dlq purge: would delete %zu dead letter%s from "
			        "%s; stdin is not a terminal to confirm, so pass --yes\n",
			        list.count, list.count == 1 ? "" : "s", dlq->stream);
			status = EXIT_USAGE;
			goto out;
		}
		if (!confirm(list.count, dlq->stream)) {
			fprintf(stderr, "taskjet dlq purge: nothing deleted\n");
			status = EXIT_FAILURE_OTHER;
			goto out;
		}
	}
	if (f.reason == NULL && f.since_ms == 0) {
		/* One server call, bounded by the scan so letters written since
		 * (which nobody confirmed) stay. */
		rc = backend_dlq_purge(b, f.subject, list.last_seq + 1);
		if (rc < 0) {
			fprintf(stderr, "taskjet dlq purge: %s\n", strerror(-rc));
			status = EXIT_FAILURE_OTHER;
			goto out;
		}
		deleted = list.count;
	} else {
		for (size_t i = 0; i < list.count; i++) {
			rc = backend_dlq_delete(b, list.entries[i].seq);
			if (rc == 0) {
				deleted++;
			} else if (rc == -ENOENT) {
				gone++;
			} else {
				failed++;
				fprintf(stderr, "taskjet dlq purge: deleting %" PRIu64 ": %s\n",
				        list.entries[i].seq, strerror(-rc));
			}
		}
	}
	printf("purged %zu dead letter%s from %s", deleted, deleted == 1 ? "" : "s", dlq->stream);
	if (gone > 0)
		printf(" (%zu already gone)", gone);
	if (failed > 0)
		printf(", %zu failed", failed);
	fputc('\n', stdout);
	if (failed > 0)
		status = EXIT_FAILURE_OTHER;
out:
	dlq_list_free(&list);
	return status;
}

int
cmd_dlq(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "nats", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "subject", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "since", required_argument, NULL, 'S' },
		{ "from", required_argument, NULL, 'f' },
		{ "limit", required_argument, NULL, 'l' },
		{ "all", no_argument, NULL, 'a' },
		{ "yes", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dlq_args a = { 0 };
	const struct cfg_dlq *dlq;
	struct backend *backend = NULL;
	struct cfg *cfg = NULL;
	uint64_t *seqs = NULL, v;
	size_t nseqs = 0;
	const char *sub;
	int opt, status = EXIT_USAGE;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(dlq_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	sub = argv[1];
	if (strcmp(sub, "ls") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 &&
	    strcmp(sub, "replay") != 0 && strcmp(sub, "purge") != 0) {
		fprintf(stderr, "taskjet dlq: unknown subcommand \"%s\"; see taskjet dlq --help\n",
		        sub);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	while ((opt = getopt_long(argc, argv, "c:n:js:r:S:f:l:ayh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a.config = optarg;
			break;
		case 'n':
			a.url = optarg;
			break;
		case 'j':
			a.json = true;
			break;
		case 's':
			if (!subject_valid(optarg, true)) {
				fprintf(stderr,
				        "taskjet dlq: --subject: \"%s\" is not a valid "
				        "subject pattern\n",
				        optarg);
				goto out;
			}
			a.filter.subject = optarg;
			break;
		case 'r':
			if (dlq_reason_parse(optarg) < 0) {
				fprintf(stderr, "taskjet dlq: --reason: unknown reason \"%s\"\n",
				        optarg);
				goto out;
			}
			a.filter.reason = optarg;
			break;
		case 'S':
			if (dlq_parse_since(optarg, clock_wall_ms(), &a.filter.since_ms) < 0) {
				fprintf(stderr,
				        "taskjet dlq: --since wants an RFC 3339 time or a "
				        "duration like 2h, not \"%s\"\n",
				        optarg);
				goto out;
			}
			break;
		case 'f':
			if (parse_u64_arg("--from", optarg, 1, &a.filter.from_seq) < 0)
				goto out;
			a.has_from = true;
			break;
		case 'l':
			if (parse_u64_arg("--limit", optarg, 1, &v) < 0)
				goto out;
			a.filter.limit = (size_t)v;
			a.has_limit = true;
			break;
		case 'a':
			a.all = true;
			break;
		case 'y':
			a.yes = true;
			break;
		case 'h':
			fputs(dlq_usage, stdout);
			status = EXIT_OK;
			goto out;
		default:
			fputs(dlq_usage, stderr);
			goto out;
		}
	}
	/* Options that make no sense for the subcommand are refused, so a
	 * mistyped purge never deletes more than was meant. */
	{
		bool filters =
		    a.filter.subject != NULL || a.filter.reason != NULL || a.filter.since_ms != 0;
		bool is_ls = sub[0] == 'l', is_show = strcmp(sub, "show") == 0;
		bool is_replay = strcmp(sub, "replay") == 0, is_purge = strcmp(sub, "purge") == 0;
		const char *bad = NULL;

		if ((a.has_from || a.has_limit) && !is_ls)
			bad = "--from and --limit are for ls";
		else if (a.all && !is_replay)
			bad = "--all is for replay";
		else if (a.yes && !is_purge)
			bad = "--yes is for purge";
		else if (filters && (is_show || (is_replay && !a.all)))
			bad = "filters select letters for ls, replay --all and purge";
		else if (a.json && is_purge)
			bad = "purge has no --json output";
		else if ((is_ls || is_purge) && optind != argc)
			bad = "unexpected arguments";
		else if (is_show && argc - optind != 1)
			bad = "show wants one SEQ";
		else if (is_replay && a.all == (optind != argc))
			bad = "replay wants SEQ... or --all";
		if (bad != NULL) {
			fprintf(stderr, "taskjet dlq %s: %s; see taskjet dlq --help\n", sub, bad);
			goto out;
		}
	}
	nseqs = (size_t)(argc - optind);
	seqs = xcalloc(nseqs + 1, sizeof(*seqs));
	for (size_t i = 0; i < nseqs; i++)
		if (parse_u64_arg("SEQ", argv[optind + (int)i], 1, &seqs[i]) < 0)
			goto out;

	status = cli_load_optional_config(a.config, &cfg);
	if (status != EXIT_OK)
		goto out;
	dlq = &cfg->dlq;
	log_setup(TJ_LOG_WARNING, LOG_FORMAT_TEXT, NULL);
	status = cli_open_backend("dlq", "taskjet-dlq", a.url, cfg, &backend);
	if (status != EXIT_OK)
		goto out;

	if (sub[0] == 'l')
		status = do_ls(backend, dlq, &a);
	else if (strcmp(sub, "show") == 0)
		status = do_show(backend, dlq, &a, seqs[0]);
	else if (strcmp(sub, "replay") == 0)
		status = do_replay(backend, dlq, &a, seqs, nseqs);
	else
		status = do_purge(backend, dlq, &a);
out:
	fflush(stdout);
	backend_destroy(backend);
	cfg_free(cfg);
	free(seqs);
	return status;
}
