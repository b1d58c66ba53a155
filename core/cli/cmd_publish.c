/* SPDX-License-Identifier: MIT */
/*
 * taskjet publish: put tasks on JetStream with publish acks and message
 * ids, so a publish retried after a timeout is stored once. Includes the
 * provisioning shortcuts (--type/--tenant/--module) of the Go publisher
 * this project replaces.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/clock.h"
#include "json.h"
#include "jsonw.h"
#include "util/log.h"
#include "util/xalloc.h"

static const char publish_usage[] =
    "Usage: taskjet publish [-c FILE] [OPTIONS] SUBJECT [DATA|-]\n"
    "       taskjet publish [-c FILE] [OPTIONS] --type TYPE --tenant ID --module ID\n"
    "                       [SUBJECT]\n"
    "\n"
    "Publish DATA on SUBJECT, with the headers given, to JetStream and wait\n"
    "for the publish ack. DATA '-', or none, reads stdin. Every message\n"
    "carries a Nats-Msg-Id (given or generated), and a publish that times out\n"
    "is retried with the same id, so it is stored once.\n"
    "\n"
    "  -H, --header K=V     add a header (repeatable, at most 32); Taskjet-*\n"
    "                       ones only on the dead-letter subjects (dlq.>)\n"
    "  -i, --id MSGID       message id for deduplication\n"
    "  -N, --count N        publish N messages (ids get a -<i> suffix); shows\n"
    "                       progress on a terminal, then one summary line\n"
    "      --verbose        with --count, also a line per message\n"
    "  -q, --quiet          print nothing on success\n"
    "  -c, --config FILE    config file; gives nats.url, or the URL of the\n"
    "                       engine's embedded server while it runs\n"
    "  -n, --nats URL       NATS server URL (default: NATS_URL, the config,\n"
    "                       else the engine's embedded server, whose URL a\n"
    "                       running taskjet run keeps in state_dir/nats.url)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Provisioning shortcuts: build the payload of the shipped provisioning\n"
    "handlers and publish it on provisioning.TYPE (or SUBJECT, if given).\n"
    "  -t, --type TYPE      provision, deprovision or update\n"
    "  -T, --tenant ID      tenant_id\n"
    "  -m, --module ID      module_id\n"
    "  -v, --version N      version (provision, update)\n"
    "  -s, --spec JSON      spec object (default {})\n"
    "\n"
    "Examples:\n"
    "  taskjet publish tasks.email '{\"to\":\"ops@example.com\"}'\n"
    "  taskjet publish -H Trace-Id=42 tasks.resize - < job.json\n"
    "  taskjet publish --type provision --tenant acme --module crm --version 1\n"
    "\n"
    "Exit status: 0 all stored, 1 a publish failed, 64 usage, 69 no server.\n";

struct publish_args {
	const char *id, *type, *tenant, *module, *version, *spec;
	struct cli_headers headers;
	long count;
	bool quiet, verbose;
};

/* Build the provisioning payload of the shortcuts. */
static int
provisioning_payload(const struct publish_args *a, char **out_r)
{
	struct strbuf b = { 0 };
	struct jsonw w;
	int rc = 0;

	jsonw_init(&w, &b);
	jsonw_begin_object(&w);
	jsonw_member_string(&w, "tenant_id", a->tenant);
	jsonw_member_string(&w, "module_id", a->module);
	if (strcmp(a->type, "deprovision") != 0) {
		const char *spec = a->spec != NULL ? a->spec : "{}";

		if (!json_valid(spec, strlen(spec)) || spec[strspn(spec, " \t\n")] != '{') {
			fprintf(stderr, "taskjet publish: --spec must be a JSON object\n");
			rc = -EINVAL;
			goto out;
		}
		jsonw_key(&w, "spec");
		jsonw_raw(&w, spec, strlen(spec));
	}
	if (a->version != NULL) {
		char *end;
		long v;

		errno = 0;
		v = strtol(a->version, &end, 10);
		if (*end != '\0' || end == a->version || errno != 0 || v < 0) {
			fprintf(stderr, "taskjet publish: --version must be an integer >= 0\n");
			rc = -EINVAL;
			goto out;
		}
		jsonw_member_int(&w, "version", v);
	}
	jsonw_end_object(&w);
	xalloc_check(jsonw_finish(&w));
	*out_r = b.data;
	b.data = NULL;
out:
	strbuf_release(&b);
	return rc;
}

/* Publish one message and wait until stored (the backend retries a lost
 * answer under the same id). */
static int
publish_one(struct backend *b, const char *subject, const char *data, size_t len,
            const char *msg_id, const struct publish_args *a, struct publish_ack *ack_r)
{
	return b->ops->publish(b,
	                       &(struct publish_msg){ .subject = subject,
	                                              .data = data,
	                                              .len = len,
	                                              .headers = a->headers.list,
	                                              .header_count = a->headers.count,
	                                              .msg_id = msg_id },
	                       ack_r);
}

/* --verbose has no short form: -v is --version. */
#define KEY_VERBOSE (CLI_KEY_LONG + 0)

static const struct cli_option publish_options[] = {
	CLI_OPT_CONFIG,
	CLI_OPT_NATS,
	CLI_OPTION("count", required_argument, 'N'),
	CLI_OPTION("id", required_argument, 'i'),
	CLI_OPTION("header", required_argument, 'H'),
	CLI_OPTION("quiet", no_argument, 'q'),
	CLI_OPTION("verbose", no_argument, KEY_VERBOSE),
	CLI_OPTION("type", required_argument, 't'),
	CLI_OPTION("tenant", required_argument, 'T'),
	CLI_OPTION("module", required_argument, 'm'),
	CLI_OPTION("version", required_argument, 'v'),
	CLI_OPTION("spec", required_argument, 's'),
	CLI_OPT_END,
};

static int
publish_option(struct cli_ctx *ctx, void *args, int key, char *value)
{
	struct publish_args *a = args;
	char *end;

	switch (key) {
	case 'N':
		a->count = strtol(value, &end, 10);
		if (*end != '\0' || a->count < 1 || a->count > 10000000) {
			cli_error(ctx, "--count wants 1..10000000");
			return EXIT_USAGE;
		}
		break;
	case 'i':
		a->id = value;
		break;
	case 'H':
		if (cli_headers_add(&a->headers, value) < 0) {
			cli_error(ctx, "--header wants K=V");
			return EXIT_USAGE;
		}
		break;
	case 'q':
		a->quiet = true;
		break;
	case KEY_VERBOSE:
		a->verbose = true;
		break;
	case 't':
		a->type = value;
		break;
	case 'T':
		a->tenant = value;
		break;
	case 'm':
		a->module = value;
		break;
	case 'v':
		a->version = value;
		break;
	case 's':
		a->spec = value;
		break;
	}
	return EXIT_OK;
}

/* The subject and payload: the shortcuts' (--type), or the operands. *data_r
 * is the caller's to free. EXIT_OK, or the exit status after saying why. */
static int
publish_message(struct cli_ctx *ctx, const struct publish_args *a, char *subject_buf,
                size_t subject_len, const char **subject_r, char **data_r, size_t *len_r)
{
	if (a->type == NULL) {
		if (ctx->argc < 1)
			return cli_usage_error(ctx);
		*subject_r = ctx->argv[0];
		return cli_read_payload(ctx, ctx->argc == 2 ? ctx->argv[1] : NULL, data_r, len_r);
	}
	if (strcmp(a->type, "provision") != 0 && strcmp(a->type, "deprovision") != 0 &&
	    strcmp(a->type, "update") != 0) {
		cli_error(ctx, "--type wants provision, deprovision or update");
		return EXIT_USAGE;
	}
	if (a->tenant == NULL || a->module == NULL || ctx->argc > 1)
		return cli_usage_error(ctx);
	snprintf(subject_buf, subject_len, "provisioning.%s", a->type);
	*subject_r = ctx->argc == 1 ? ctx->argv[0] : subject_buf;
	if (provisioning_payload(a, data_r) < 0)
		return EXIT_USAGE;
	*len_r = strlen(*data_r);
	return EXIT_OK;
}

/* The message id of the i-th message (from 0): --id, --id-<i+1> for
 * several, else one made up from host, pid and time. */
static void
message_id(const struct publish_args *a, const char *host, long i, char *buf, size_t len)
{
	if (a->id != NULL && a->count == 1)
		snprintf(buf, len, "%s", a->id);
	else if (a->id != NULL)
		snprintf(buf, len, "%s-%ld", a->id, i + 1);
	else
		snprintf(buf, len, "%s-%d-%lld-%ld", host, (int)getpid(),
		         (long long)clock_wall_ms(), i + 1);
}

static void
report_publish_error(const struct cli_ctx *ctx, const char *subject, int rc)
{
	if (rc == -ENOENT)
		cli_error(ctx, "no stream takes subject %s", subject);
	else
		cli_error(ctx, "%s: %s", subject, strerror(-rc));
}

/* What the publishes stored so far. */
struct publish_tally {
	long stored, duplicates;
};

/* "20000 published (19998 new, 2 duplicates) in 3.2 s, 6250/s", with
 * "N of M" when a failure stopped it. */
static void
print_summary(const struct publish_args *a, const struct publish_tally *n, double seconds)
{
	char rate[32];

	cli_format_rate((uint64_t)n->stored, seconds, rate, sizeof(rate));
	if (n->stored < a->count)
		printf("%ld of ", n->stored);
	printf("%ld published (%ld new, %ld duplicate%s) in %.*f s, %s\n", a->count,
	       n->stored - n->duplicates, n->duplicates, n->duplicates == 1 ? "" : "s",
	       seconds < 1 ? 2 : 1, seconds, rate);
}

/*
 * Publish the message --count times. A line per message when there is one,
 * or with --verbose; for several, a progress line on a terminal and a
 * summary at the end. The first failure stops it.
 */
static int
publish_all(const struct cli_ctx *ctx, const struct publish_args *a, struct backend *b,
            const char *subject, const char *data, size_t len)
{
	bool each = !a->quiet && (a->count == 1 || a->verbose);
	struct publish_tally n = { 0 };
	struct cli_progress progress;
	char host[64];
	int rc = 0;

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "taskjet");
	host[sizeof(host) - 1] = '\0';
	cli_progress_start(&progress, "publishing", (uint64_t)a->count, !a->quiet && a->count > 1);
	for (long i = 0; i < a->count; i++) {
		struct publish_ack ack = { 0 };
		char id[300];

		message_id(a, host, i, id, sizeof(id));
		rc = publish_one(b, subject, data, len, id, a, &ack);
		if (rc < 0) {
			cli_progress_clear(&progress);
			report_publish_error(ctx, subject, rc);
			break;
		}
		n.stored++;
		n.duplicates += ack.duplicate;
		if (each) {
			cli_progress_clear(&progress);
			printf("%s seq=%llu id=%s%s\n", subject, (unsigned long long)ack.seq, id,
			       ack.duplicate ? " (duplicate: already stored)" : "");
		}
		cli_progress_step(&progress);
	}
	cli_progress_clear(&progress);
	if (!a->quiet && a->count > 1)
		print_summary(a, &n, cli_progress_seconds(&progress));
	return rc < 0 ? EXIT_FAILURE_OTHER : EXIT_OK;
}

static int
publish_run(struct cli_ctx *ctx, void *args)
{
	const struct publish_args *a = args;
	struct backend *backend = NULL;
	const char *subject = NULL;
	struct cfg *cfg = NULL;
	char *data = NULL, subject_buf[256];
	size_t len = 0;
	int status;

	status = publish_message(ctx, a, subject_buf, sizeof(subject_buf), &subject, &data, &len);
	if (status == EXIT_OK)
		status = cli_open_client(ctx, true, &cfg, &backend);
	if (status == EXIT_OK)
		status = cli_headers_check(ctx, &a->headers, cfg, subject);
	if (status == EXIT_OK)
		status = publish_all(ctx, a, backend, subject, data, len);
	backend_destroy(backend);
	cfg_free(cfg);
	free(data);
	return status;
}

static const struct publish_args publish_defaults = { .count = 1 };

const struct cli_command cli_cmd_publish = {
	.name = "publish",
	.summary = "publish tasks to JetStream with publish acks",
	.usage = publish_usage,
	.options = publish_options,
	.max_operands = 2,
	CLI_ARGS(publish_defaults),
	.option = publish_option,
	.run = publish_run,
};
