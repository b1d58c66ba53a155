/* SPDX-License-Identifier: MIT */
/*
 * taskjet publish: put tasks on JetStream with publish acks and message
 * ids, so a publish retried after a timeout is stored once. Includes the
 * provisioning shortcuts (--type/--tenant/--module) of the Go publisher
 * this project replaces.
 */
#include <errno.h>
#include <getopt.h>
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
    "       taskjet publish [-c FILE] --type TYPE --tenant ID --module ID [OPTIONS]\n"
    "\n"
    "Publish tasks to JetStream and wait for each publish ack. DATA '-' reads\n"
    "stdin. Every message carries a Nats-Msg-Id (given or generated), and a\n"
    "publish that times out is retried with the same id, so it is stored once.\n"
    "\n"
    "  -c, --config FILE    config file; gives nats.url, or the URL of the\n"
    "                       engine's embedded server while it runs\n"
    "  -n, --nats URL       NATS server URL (default: NATS_URL, the config,\n"
    "                       else nats://127.0.0.1:4222)\n"
    "  -N, --count N        publish N messages (ids get a -<i> suffix)\n"
    "  -i, --id MSGID       message id for deduplication\n"
    "  -H, --header K=V     add a header (repeatable)\n"
    "  -q, --quiet          print nothing on success\n"
    "Provisioning shortcuts (subject provisioning.<type> unless given):\n"
    "  -t, --type TYPE      provision, deprovision or update\n"
    "  -T, --tenant ID      tenant_id\n"
    "  -m, --module ID      module_id\n"
    "  -v, --version N      version (provision, update)\n"
    "  -s, --spec JSON      spec object (default {})\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 all stored, 1 a publish failed, 64 usage, 69 no server.\n";

#define MAX_HEADERS 32

struct publish_args {
	const char *config, *url, *id, *type, *tenant, *module, *version, *spec;
	struct msg_header headers[MAX_HEADERS];
	size_t header_count;
	long count;
	bool quiet;
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
	int rc = b->ops->publish(b,
	                         &(struct publish_msg){ .subject = subject,
	                                                .data = data,
	                                                .len = len,
	                                                .headers = a->headers,
	                                                .header_count = a->header_count,
	                                                .msg_id = msg_id },
	                         ack_r);

	if (rc == -ENOENT)
		fprintf(stderr, "taskjet publish: no stream takes subject %s\n", subject);
	else if (rc < 0)
		fprintf(stderr, "taskjet publish: %s: %s\n", subject, strerror(-rc));
	return rc;
}

int
cmd_publish(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "nats", required_argument, NULL, 'n' },
		{ "count", required_argument, NULL, 'N' },
		{ "id", required_argument, NULL, 'i' },
		{ "header", required_argument, NULL, 'H' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "type", required_argument, NULL, 't' },
		{ "tenant", required_argument, NULL, 'T' },
		{ "module", required_argument, NULL, 'm' },
		{ "version", required_argument, NULL, 'v' },
		{ "spec", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct publish_args a = { .count = 1 };
	struct backend *backend = NULL;
	char *data = NULL, *end, subject_buf[256];
	const char *subject = NULL;
	struct cfg *cfg = NULL;
	int opt, status = EXIT_OK, rc;
	size_t len = 0;
	char host[64];

	while ((opt = getopt_long(argc, argv, "c:n:N:i:H:qt:T:m:v:s:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a.config = optarg;
			break;
		case 'n':
			a.url = optarg;
			break;
		case 'N':
			a.count = strtol(optarg, &end, 10);
			if (*end != '\0' || a.count < 1 || a.count > 10000000) {
				fprintf(stderr, "taskjet publish: --count wants 1..10000000\n");
				return EXIT_USAGE;
			}
			break;
		case 'i':
			a.id = optarg;
			break;
		case 'H': {
			char *eq = strchr(optarg, '=');

			if (eq == NULL || eq == optarg || a.header_count == MAX_HEADERS) {
				fprintf(stderr, "taskjet publish: --header wants K=V\n");
				return EXIT_USAGE;
			}
			*eq = '\0';
			a.headers[a.header_count].key = optarg;
			a.headers[a.header_count++].value = eq + 1;
			break;
		}
		case 'q':
			a.quiet = true;
			break;
		case 't':
			a.type = optarg;
			break;
		case 'T':
			a.tenant = optarg;
			break;
		case 'm':
			a.module = optarg;
			break;
		case 'v':
			a.version = optarg;
			break;
		case 's':
			a.spec = optarg;
			break;
		case 'h':
			fputs(publish_usage, stdout);
			return EXIT_OK;
		default:
			fputs(publish_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (a.type != NULL) {
		if (strcmp(a.type, "provision") != 0 && strcmp(a.type, "deprovision") != 0 &&
		    strcmp(a.type, "update") != 0) {
			fprintf(stderr, "taskjet publish: --type wants provision, deprovision "
			                "or update\n");
			return EXIT_USAGE;
		}
		if (a.tenant == NULL || a.module == NULL || argc - optind > 1) {
			fputs(publish_usage, stderr);
			return EXIT_USAGE;
		}
		snprintf(subject_buf, sizeof(subject_buf), "provisioning.%s", a.type);
		subject = argc - optind == 1 ? argv[optind] : subject_buf;
		if (provisioning_payload(&a, &data) < 0)
			return EXIT_USAGE;
		len = strlen(data);
	} else {
		if (argc - optind < 1 || argc - optind > 2) {
			fputs(publish_usage, stderr);
			return EXIT_USAGE;
		}
		subject = argv[optind];
		if (argc - optind == 2 && strcmp(argv[optind + 1], "-") != 0) {
			data = xstrdup(argv[optind + 1]);
			len = strlen(data);
		} else if (cli_read_stdin(&data, &len) < 0) {
			perror("taskjet publish: stdin");
			return EXIT_FAILURE_OTHER;
		}
	}
	status = cli_load_optional_config(a.config, &cfg);
	if (status != EXIT_OK)
		goto out;
	log_setup(TJ_LOG_WARNING, LOG_FORMAT_TEXT, NULL);
	status = cli_open_backend("publish", "taskjet-publish", a.url, cfg, &backend);
	if (status != EXIT_OK)
		goto out;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "taskjet");
	host[sizeof(host) - 1] = '\0';
	for (long i = 0; i < a.count; i++) {
		struct publish_ack ack = { 0 };
		char id[300];

		if (a.id != NULL && a.count == 1)
			snprintf(id, sizeof(id), "%s", a.id);
		else if (a.id != NULL)
			snprintf(id, sizeof(id), "%s-%ld", a.id, i + 1);
		else
			snprintf(id, sizeof(id), "%s-%d-%lld-%ld", host, (int)getpid(),
			         (long long)clock_wall_ms(), i + 1);
		rc = publish_one(backend, subject, data, len, id, &a, &ack);
		if (rc < 0) {
			status = EXIT_FAILURE_OTHER;
			break;
		}
		if (!a.quiet)
			printf("%s seq=%llu id=%s%s\n", subject, (unsigned long long)ack.seq, id,
			       ack.duplicate ? " (duplicate: already stored)" : "");
	}
out:
	backend_destroy(backend);
	cfg_free(cfg);
	free(data);
	return status;
}
