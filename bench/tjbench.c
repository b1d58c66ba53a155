/* SPDX-License-Identifier: MIT */
/*
 * The load side of bench/run.sh when taskjet is the consumer: publish a
 * backlog, wait for a durable to drain (and time it), or publish at a
 * paced rate with a CLOCK_MONOTONIC stamp in each payload.
 *
 *   tjbench backlog -s URL -S SUBJECT [-n 200000] [-z 128]
 *   tjbench drain   -s URL -t STREAM -c CONSUMER [-n N] [-T 120]
 *   tjbench paced   -s URL -S SUBJECT [-r 2000] [-d 10] [-z 128]
 *   tjbench waitpull -s URL -t STREAM -c CONSUMER [-T 120]
 *   tjbench rawlat  -s URL -t STREAM -c CONSUMER -n N [-b 500] [-T 120]
 *
 * rawlat is the raw reference for the latency figure: it binds to the
 * durable taskjet uses, with the same wiring (Fetch(batch) on a SendAsap
 * connection, +ACK on a second, buffered one), and reports the percentiles
 * of now - stamp at receipt for N paced messages.
 * waitpull returns once the consumer has a waiting pull request: the
 * consumer process is bound and fetching.
 * drain polls the consumer every POLL_US and prints the time from the first
 * poll that sees a delivery to the first that sees NumPending == 0 and
 * NumAckPending == 0, so the consumer's own start-up is not counted (as
 * raw_consume starts its clock at its first Fetch).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "bench_common.h"

#define POLL_US 5000

static const char *url = "nats://127.0.0.1:4222";
static const char *subject, *stream, *consumer;
static int total = 200000, size = 128, rate = 2000, seconds = 10;
static int timeout_s = 120, batch = 500;

/* Pacing against an absolute schedule, so a late send does not shift the
 * rest; the stamp is taken just before the publish call. */
static void
paced(jsCtx *js)
{
	char *payload = malloc((size_t)size + 32);
	int64_t n = (int64_t)rate * seconds, period = 1000000000 / rate;
	int64_t start = bench_now_ns() + 10000000;
	natsStatus s;

	memset(payload, 'x', (size_t)size + 32);
	for (int64_t i = 0; i < n; i++) {
		int64_t due = start + i * period;
		struct timespec ts = { due / 1000000000, due % 1000000000 };
		int len;

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		len = snprintf(payload, 32, "%020" PRId64, bench_now_ns());
		payload[len] = 'x';
		s = js_PublishAsync(js, subject, payload, size > len ? size : len, NULL);
		if (s != NATS_OK)
			bench_die("publish", s);
	}
	bench_publish_complete(js);
	printf("paced %" PRId64 " x %d B at %d msgs/s in %.2f s\n", n, size, rate,
	       (bench_now_ns() - start) / 1e9);
	free(payload);
}

static int
drain(jsCtx *js)
{
	int64_t deadline = bench_now_ns() + (int64_t)timeout_s * 1000000000;
	int64_t first = 0;
	uint64_t delivered = 0;

	while (bench_now_ns() < deadline) {
		jsConsumerInfo *ci = NULL;
		natsStatus s = js_GetConsumerInfo(&ci, js, stream, consumer, NULL, NULL);

		if (s == NATS_OK) {
			int64_t t = bench_now_ns();

			delivered = ci->Delivered.Consumer;
			if (first == 0 && delivered > 0)
				first = t;
			if (first != 0 && ci->NumPending == 0 && ci->NumAckPending == 0) {
				jsConsumerInfo_Destroy(ci);
				printf("drained %d in %.3f s: %.0f msgs/s\n", total,
				       (t - first) / 1e9, total / ((t - first) / 1e9));
				return 0;
			}
			jsConsumerInfo_Destroy(ci);
		}
		usleep(POLL_US);
	}
	fprintf(stderr, "tjbench: %s/%s not drained in %d s (delivered %" PRIu64 ")\n", stream,
	        consumer, timeout_s, delivered);
	return 1;
}

static int
waitpull(jsCtx *js)
{
	int64_t deadline = bench_now_ns() + (int64_t)timeout_s * 1000000000;

	while (bench_now_ns() < deadline) {
		jsConsumerInfo *ci = NULL;

		if (js_GetConsumerInfo(&ci, js, stream, consumer, NULL, NULL) == NATS_OK) {
			bool pulling = ci->NumWaiting > 0;

			jsConsumerInfo_Destroy(ci);
			if (pulling)
				return 0;
		}
		usleep(POLL_US);
	}
	fprintf(stderr, "tjbench: nobody pulls from %s/%s after %d s\n", stream, consumer,
	        timeout_s);
	return 1;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
rawlat(jsCtx *js)
{
	natsConnection *ack_nc = bench_connect(url, false);
	int64_t *lat = calloc((size_t)total, sizeof(*lat));
	int64_t deadline = bench_now_ns() + (int64_t)timeout_s * 1000000000;
	natsSubscription *sub = bench_pull_subscribe(js, stream, consumer);
	int got = 0;

	while (got < total && bench_now_ns() < deadline) {
		natsMsgList l = { 0 };

		if (natsSubscription_Fetch(&l, sub, batch, 1000, NULL) != NATS_OK)
			continue;
		for (int i = 0; i < l.Count; i++) {
			const char *p = natsMsg_GetData(l.Msgs[i]);
			int64_t t = bench_now_ns(), stamp = 0;
			int k;

			for (k = 0; k < 20 && p[k] >= '0' && p[k] <= '9'; k++)
				stamp = stamp * 10 + (p[k] - '0');
			if (k == 20 && got < total)
				lat[got++] = (t - stamp) / 1000;
			natsConnection_PublishString(ack_nc, natsMsg_GetReply(l.Msgs[i]), "+ACK");
		}
		natsMsgList_Destroy(&l);
	}
	natsConnection_Flush(ack_nc);
	bench_pull_close(sub);
	natsConnection_Destroy(ack_nc);
	if (got == 0) {
		fprintf(stderr, "tjbench: rawlat received nothing\n");
		free(lat);
		return 1;
	}
	qsort(lat, (size_t)got, sizeof(*lat), cmp_i64);
	printf("count %d p50_us %" PRId64 " p90_us %" PRId64 " p99_us %" PRId64 " p999_us %" PRId64
	       " max_us %" PRId64 "\n",
	       got, lat[(got - 1) / 2], lat[(int)((got - 1) * 0.9)], lat[(int)((got - 1) * 0.99)],
	       lat[(int)((got - 1) * 0.999)], lat[got - 1]);
	free(lat);
	return got == total ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	natsConnection *nc;
	jsCtx *js = NULL;
	int c, rc = 0;

	bench_prog = "tjbench";
	optind = 2;
	while ((c = getopt(argc, argv, "s:S:t:c:n:z:r:d:T:b:")) != -1) {
		switch (c) {
		case 's':
			url = optarg;
			break;
		case 'S':
			subject = optarg;
			break;
		case 't':
			stream = optarg;
			break;
		case 'c':
			consumer = optarg;
			break;
		case 'n':
			total = atoi(optarg);
			break;
		case 'z':
			size = atoi(optarg);
			break;
		case 'r':
			rate = atoi(optarg);
			break;
		case 'd':
			seconds = atoi(optarg);
			break;
		case 'T':
			timeout_s = atoi(optarg);
			break;
		case 'b':
			batch = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (total < 1 || size < 1 || size > 1 << 20 || rate < 1 || rate > 1000000 || batch < 1 ||
	    seconds < 1 || seconds > 3600 || timeout_s < 1)
		goto usage;
	if ((strcmp(mode, "backlog") == 0 || strcmp(mode, "paced") == 0) && subject == NULL)
		goto usage;
	if ((strcmp(mode, "drain") == 0 || strcmp(mode, "waitpull") == 0 ||
	     strcmp(mode, "rawlat") == 0) &&
	    (stream == NULL || consumer == NULL))
		goto usage;
	/* SendAsap for the paced publisher (the stamp should not wait for
	 * libnats' flusher) and for rawlat's pull requests. */
	nc = bench_connect(url, strcmp(mode, "paced") == 0 || strcmp(mode, "rawlat") == 0);
	if (natsConnection_JetStream(&js, nc, NULL) != NATS_OK)
		bench_die("jetstream", NATS_ERR);
	if (strcmp(mode, "backlog") == 0)
		bench_publish_backlog(js, subject, total, size);
	else if (strcmp(mode, "paced") == 0)
		paced(js);
	else if (strcmp(mode, "drain") == 0)
		rc = drain(js);
	else if (strcmp(mode, "waitpull") == 0)
		rc = waitpull(js);
	else if (strcmp(mode, "rawlat") == 0)
		rc = rawlat(js);
	else
		goto usage;
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_CloseAndWait(2000);
	return rc;
usage:
	fprintf(stderr,
	        "usage: tjbench backlog -s URL -S SUBJECT [-n N] [-z BYTES]\n"
	        "       tjbench drain -s URL -t STREAM -c CONSUMER [-n N] [-T SECS]\n"
	        "       tjbench paced -s URL -S SUBJECT [-r RATE] [-d SECS] [-z BYTES]\n"
	        "       tjbench waitpull -s URL -t STREAM -c CONSUMER [-T SECS]\n"
	        "       tjbench rawlat -s URL -t STREAM -c CONSUMER -n N [-b BATCH] [-T SECS]\n");
	return 2;
}
