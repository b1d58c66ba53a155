/* SPDX-License-Identifier: MIT */
/* taskjet stats: streams, route consumers and the DLQ, once or watched. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "task/doc.h"
#include "util/clock.h"
#include "util/log.h"
#include "task/stats.h"

static const char stats_usage[] =
    "Usage: taskjet stats [-c FILE] [-n URL] [--json] [--by-reason]\n"
    "                     [--watch [--interval SECS] [--count N]]\n"
    "\n"
    "Show, for the config's streams, routes and DLQ, what the server reports:\n"
    "stream messages, bytes and sequences; per route consumer the messages not\n"
    "yet delivered (pending), delivered but not acked (ack pending, including\n"
    "retries waiting for their backoff), redelivered, waiting pull requests,\n"
    "last delivered and ack floor sequences; the DLQ depth.\n"
    "\n"
    "  -c, --config FILE     config file (default: TASKJET_CONFIG, else the\n"
    "                        installed one)\n"
    "  -n, --nats URL        NATS server URL (default: NATS_URL, the config,\n"
    "                        else the engine's embedded server, whose URL a\n"
    "                        running taskjet run keeps in state_dir/nats.url)\n"
    "  -j, --json            one JSON object per sample\n"
    "  -r, --by-reason       count DLQ letters per reason (reads the whole DLQ)\n"
    "  -w, --watch           sample again every interval, with rates per second,\n"
    "                        until SIGINT/SIGTERM or --count samples; on a\n"
    "                        terminal each sample is drawn over the last\n"
    "  -i, --interval SECS   seconds between samples (default 2)\n"
    "  -N, --count N         stop after N samples\n"
    "  -h, --help            show this help\n"
    "\n"
    "Rates: in/s = messages stored, out/s = messages that left the stream (acked,\n"
    "terminated, expired), deliv/s = deliveries including redeliveries, ack/s =\n"
    "advance of the ack floor.\n"
    "\n"
    "Exit status: 0 ok, 1 the server failed a query, 64 usage, 69 no server,\n"
    "78 bad config.\n";

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
format_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

static void
format_rate(const struct stats_rates *r, double v, char *buf, size_t len)
{
	if (r == NULL)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", v);
}

static const struct cli_column stream_columns[] = {
	{ .title = "STREAM", .shrink = 1 },          { .title = "MESSAGES", .align = CLI_RIGHT },
	{ .title = "BYTES", .align = CLI_RIGHT },    { .title = "FIRST SEQ", .align = CLI_RIGHT },
	{ .title = "LAST SEQ", .align = CLI_RIGHT }, { .title = "IN/s", .align = CLI_RIGHT },
	{ .title = "OUT/s", .align = CLI_RIGHT },
};

static void
print_streams(FILE *out, const struct stats_snapshot *s, const struct stats_rates *r,
              const struct cli_term *term)
{
	struct cli_table *t = cli_table_new(CLI_COLUMNS(stream_columns));
	char bytes[32], in[32], outr[32];

	for (size_t i = 0; i < s->stream_count; i++) {
		const struct stats_stream *st = &s->streams[i];

		cli_table_add(t, "%s", st->name);
		if (!st->found) {
			cli_table_note(t, "(not found on the server)");
			continue;
		}
		format_bytes(st->bytes, bytes, sizeof(bytes));
		format_rate(r, r != NULL ? r->stream_in[i] : 0, in, sizeof(in));
		format_rate(r, r != NULL ? r->stream_out[i] : 0, outr, sizeof(outr));
		cli_table_add(t, "%" PRIu64, st->msgs);
		cli_table_add(t, "%s", bytes);
		cli_table_add(t, "%" PRIu64, st->first_seq);
		cli_table_add(t, "%" PRIu64, st->last_seq);
		cli_table_add(t, "%s", in);
		cli_table_add(t, "%s", outr);
	}
	cli_table_print(t, out, term);
	cli_table_free(t);
}

static const struct cli_column consumer_columns[] = {
	{ .title = "ROUTE", .shrink = 1 },
	{ .title = "CONSUMER", .shrink = 1 },
	{ .title = "PENDING", .align = CLI_RIGHT },
	{ .title = "ACK PENDING", .align = CLI_RIGHT },
	{ .title = "REDELIVERED", .align = CLI_RIGHT },
	{ .title = "WAITING", .align = CLI_RIGHT },
	{ .title = "DELIVERED", .align = CLI_RIGHT },
	{ .title = "ACK FLOOR", .align = CLI_RIGHT },
	{ .title = "DELIV/s", .align = CLI_RIGHT },
	{ .title = "ACK/s", .align = CLI_RIGHT },
};

static void
print_consumers(FILE *out, const struct stats_snapshot *s, const struct stats_rates *r,
                const struct cli_term *term)
{
	struct cli_table *t = cli_table_new(CLI_COLUMNS(consumer_columns));
	char in[32], outr[32];

	for (size_t i = 0; i < s->consumer_count; i++) {
		const struct stats_consumer *c = &s->consumers[i];

		cli_table_add(t, "%s", c->route);
		cli_table_add(t, "%s/%s", c->stream, c->consumer);
		if (!c->found) {
			cli_table_note(t, "(not found on the server)");
			continue;
		}
		format_rate(r, r != NULL ? r->consumer_delivered[i] : 0, in, sizeof(in));
		format_rate(r, r != NULL ? r->consumer_acked[i] : 0, outr, sizeof(outr));
		cli_table_add(t, "%" PRIu64, c->num_pending);
		cli_table_add(t, "%" PRIu64, c->num_ack_pending);
		cli_table_add(t, "%" PRIu64, c->num_redelivered);
		cli_table_add(t, "%" PRIu64, c->num_waiting);
		cli_table_add(t, "%" PRIu64 "/%" PRIu64, c->delivered_consumer_seq,
		              c->delivered_stream_seq);
		cli_table_add(t, "%" PRIu64 "/%" PRIu64, c->ack_floor_consumer_seq,
		              c->ack_floor_stream_seq);
		cli_table_add(t, "%s", in);
		cli_table_add(t, "%s", outr);
	}
	cli_table_print(t, out, term);
	cli_table_free(t);
	fprintf(out, "(DELIVERED and ACK FLOOR are consumer seq/stream seq)\n");
}

static const struct cli_column reason_columns[] = {
	{ .shrink = 1 },
	{ .align = CLI_RIGHT },
};

static void
print_dlq(FILE *out, const struct stats_snapshot *s, const struct stats_rates *r,
          const struct cli_term *term)
{
	struct cli_table *t;
	char bytes[32], in[32];

	if (!s->dlq.found) {
		fprintf(out, "DLQ %s: not found on the server\n", s->dlq.name);
		return;
	}
	format_bytes(s->dlq.bytes, bytes, sizeof(bytes));
	format_rate(r, r != NULL ? r->dlq_in : 0, in, sizeof(in));
	fprintf(out, "DLQ %s: %" PRIu64 " dead letter%s, %s, in/s %s\n", s->dlq.name, s->dlq.msgs,
	        s->dlq.msgs == 1 ? "" : "s", bytes, in);
	t = cli_table_new(CLI_COLUMNS(reason_columns));
	cli_table_indent(t, 2);
	for (size_t i = 0; i < s->reason_count; i++) {
		cli_table_add(t, "%s", s->reasons[i].reason);
		cli_table_add(t, "%" PRIu64, s->reasons[i].count);
	}
	cli_table_print(t, out, term);
	cli_table_free(t);
	if (s->reasons_truncated)
		fprintf(out, "  (counted the first letters only)\n");
}

static void
print_text(FILE *out, const struct stats_snapshot *s, const struct stats_rates *r,
           const struct cli_term *term)
{
	char when[40];

	clock_format_rfc3339(s->wall_ms, false, when, sizeof(when));
	if (r != NULL)
		fprintf(out, "taskjet stats at %s (rates over %.1f s)\n\n", when, r->seconds);
	else
		fprintf(out, "taskjet stats at %s\n\n", when);
	print_streams(out, s, r, term);
	fputc('\n', out);
	print_consumers(out, s, r, term);
	fputc('\n', out);
	print_dlq(out, s, r, term);
}

/* The same document as GET /stats (task/doc.h), without the engine's own
 * counters: this process is not the engine. */
static void
print_json(const struct stats_snapshot *s, const struct stats_rates *r)
{
	struct strbuf b = { 0 };
	struct jsonw w;

	jsonw_init(&w, &b);
	doc_stats(&w, s, r, NULL);
	cli_write_document(&b, jsonw_finish(&w));
}

/* Sleep up to ms, waking early on a stop signal. */
static void
sleep_interruptible(int64_t ms)
{
	int64_t deadline = clock_mono_ms() + ms;

	while (!stop_requested && clock_mono_ms() < deadline) {
		int64_t left = deadline - clock_mono_ms();

		clock_sleep_ms(left < 100 ? left : 100);
	}
}

struct stats_args {
	bool by_reason, watch;
	double interval;
	long count;
};

static const struct cli_option stats_options[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_NATS,
	CLI_OPT_JSON,
	CLI_OPTION("by-reason", no_argument, 'r'),
	CLI_OPTION("watch", no_argument, 'w'),
	CLI_OPTION("interval", required_argument, 'i'),
	CLI_OPTION("count", required_argument, 'N'),
	CLI_OPT_END,
};

static int
stats_option(struct cli_ctx *ctx, void *args, int key, char *value)
{
	struct stats_args *a = args;
	char *end;

	switch (key) {
	case 'r':
		a->by_reason = true;
		break;
	case 'w':
		a->watch = true;
		break;
	case 'i':
		a->interval = strtod(value, &end);
		if (*end != '\0' || end == value || !(a->interval >= 0.1 && a->interval <= 86400)) {
			cli_error(ctx, "--interval wants 0.1..86400 seconds");
			return EXIT_USAGE;
		}
		break;
	case 'N':
		a->count = strtol(value, &end, 10);
		if (*end != '\0' || end == value || a->count < 1) {
			cli_error(ctx, "--count wants an integer >= 1");
			return EXIT_USAGE;
		}
		break;
	}
	return EXIT_OK;
}

/* One sample in text, as a frame of *screen: on a terminal it replaces the
 * last one. */
static void
show_text(struct cli_screen *screen, const struct stats_snapshot *s, const struct stats_rates *r)
{
	struct cli_term term;
	char *text = NULL;
	size_t len = 0;
	FILE *frame = open_memstream(&text, &len);

	cli_term_detect(stdout, &term);
	if (frame == NULL) {
		/* No memory for the frame: print it as it comes. */
		print_text(stdout, s, r, &term);
		return;
	}
	print_text(frame, s, r, &term);
	fclose(frame);
	cli_screen_frame(screen, stdout, &term, text, len);
	free(text);
}

/* Take one sample and print it, with rates against *prev (NULL: none);
 * the sample becomes *prev. EXIT_OK or the exit status after saying why. */
static int
sample(const struct cli_ctx *ctx, const struct stats_args *a, struct backend *b,
       const struct cfg *cfg, struct cli_screen *screen, struct stats_snapshot **prev)
{
	struct stats_snapshot *cur = NULL;
	struct stats_rates rates = { 0 };
	int rc =
	    b->ops->snapshot(b, cfg, &(struct snapshot_opts){ .by_reason = a->by_reason }, &cur);

	if (rc < 0) {
		cli_error(ctx, "query failed: %s", strerror(-rc));
		return cli_exit_status(rc);
	}
	if (*prev != NULL)
		stats_rates_compute(*prev, cur, &rates);
	if (ctx->opt.json)
		print_json(cur, *prev != NULL ? &rates : NULL);
	else
		show_text(screen, cur, *prev != NULL ? &rates : NULL);
	fflush(stdout);
	stats_rates_free(&rates);
	stats_snapshot_free(*prev);
	*prev = cur;
	return EXIT_OK;
}

/* One sample, or (--watch) one every interval until a stop signal or
 * --count samples. */
static int
sample_loop(const struct cli_ctx *ctx, const struct stats_args *a, struct backend *b,
            const struct cfg *cfg)
{
	long count = a->watch ? a->count : 1;
	struct stats_snapshot *prev = NULL;
	struct cli_screen screen = { 0 };
	struct sigaction sa, old_int, old_term;
	int status = EXIT_OK;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	for (long n = 0; status == EXIT_OK && !stop_requested && (count == 0 || n < count); n++) {
		if (n > 0)
			sleep_interruptible((int64_t)(a->interval * 1000));
		if (stop_requested)
			break;
		status = sample(ctx, a, b, cfg, &screen, &prev);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	stats_snapshot_free(prev);
	return status;
}

static int
stats_run(struct cli_ctx *ctx, void *args)
{
	const struct stats_args *a = args;
	struct backend *backend = NULL;
	struct cfg *cfg = NULL;
	int status;

	status = cli_open_client(ctx, false, &cfg, &backend);
	if (status == EXIT_OK)
		status = sample_loop(ctx, a, backend, cfg);
	backend_destroy(backend);
	cfg_free(cfg);
	return status;
}

static const struct stats_args stats_defaults = { .interval = 2 };

const struct cli_command cli_cmd_stats = {
	.name = "stats",
	.summary = "streams, consumers and the DLQ at a glance",
	.usage = stats_usage,
	.options = stats_options,
	CLI_ARGS(stats_defaults),
	.option = stats_option,
	.run = stats_run,
};
