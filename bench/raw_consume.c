/* SPDX-License-Identifier: MIT */
/*
 * The raw libnats consume+ack ceiling taskjet is measured against: drain
 * one durable pull consumer with Fetch(batch) + one ack per message.
 *
 *   raw_consume -s nats://127.0.0.1:4222 [-n 200000] [-z 128] [-b 500]
 *               [-t 1] [-X]
 *   raw_consume -s URL -S STREAM -D DURABLE [-b 500] [-t 1] [-X] [-T 300]
 *
 * The first form is self-contained: it creates its own work-queue stream,
 * publishes N messages of Z bytes with js_PublishAsync, drains them, prints
 * msgs/s and deletes the stream. The second binds to an existing durable
 * and consumes until SIGTERM or SIGINT (seen between fetches) or for -T
 * seconds, for a caller that times it from outside (tjbench drain), as it
 * times `taskjet run` and the Go worker.
 *
 * -X: split ack (Fetch on a SendAsap connection, "+ACK" published to the
 * reply subject on a second, buffered connection), as the engine's acks
 * go out. -t: fetching threads on the one durable.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <nats/nats.h>

#include "bench_common.h"

#define STREAM "BENCH"
#define DURABLE "bench"

static const char *url = "nats://127.0.0.1:4222";
static const char *stream = STREAM, *durable = DURABLE;
static int total = 200000, size = 128, batch = 500, threads = 1, limit_s = 300;
static bool split, bound; /* bound: -S/-D given, consume until stopped */
static volatile sig_atomic_t stop_requested;
static int64_t deadline_ns;
static natsConnection *fetch_nc, *ack_nc;
static jsCtx *js;
static int consumed; /* atomic */

static void
setup(void)
{
	jsStreamConfig sc;
	jsConsumerConfig cc;
	jsStreamInfo *si = NULL;
	jsConsumerInfo *ci = NULL;
	const char *subj[] = { "bench.>" };
	natsStatus s;

	js_DeleteStream(js, STREAM, NULL, NULL);
	jsStreamConfig_Init(&sc);
	sc.Name = STREAM;
	sc.Subjects = subj;
	sc.SubjectsLen = 1;
	sc.Retention = js_WorkQueuePolicy;
	s = js_AddStream(&si, js, &sc, NULL, NULL);
	if (s != NATS_OK)
		bench_die("add stream", s);
	jsStreamInfo_Destroy(si);
	jsConsumerConfig_Init(&cc);
	cc.Durable = DURABLE;
	cc.AckPolicy = js_AckExplicit;
	cc.AckWait = INT64_C(60000) * 1000000;
	cc.MaxAckPending = 20000;
	s = js_AddConsumer(&ci, js, STREAM, &cc, NULL, NULL);
	if (s != NATS_OK)
		bench_die("add consumer", s);
	jsConsumerInfo_Destroy(ci);
}

static void
on_stop(int sig)
{
	stop_requested = 1;
}

static bool
keep_consuming(void)
{
	if (bound)
		return !stop_requested && bench_now_ns() < deadline_ns;
	return __atomic_load_n(&consumed, __ATOMIC_RELAXED) < total;
}

static void *
consume(void *arg)
{
	natsSubscription *sub = bench_pull_subscribe(js, stream, durable);
	natsStatus s;

	while (keep_consuming()) {
		natsMsgList l = { 0 };

		s = natsSubscription_Fetch(&l, sub, batch, 1000, NULL);
		if (s != NATS_OK)
			continue;
		for (int i = 0; i < l.Count; i++) {
			if (split)
				natsConnection_PublishString(ack_nc, natsMsg_GetReply(l.Msgs[i]),
				                             "+ACK");
			else
				natsMsg_Ack(l.Msgs[i], NULL);
		}
		__atomic_add_fetch(&consumed, l.Count, __ATOMIC_RELAXED);
		natsMsgList_Destroy(&l);
	}
	natsConnection_Flush(split ? ack_nc : fetch_nc);
	bench_pull_close(sub);
	nats_ReleaseThreadMemory();
	return NULL;
}

/* The consuming threads, started and joined. */
static void
run_threads(void)
{
	pthread_t tids[64];

	for (int i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, consume, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
}

static uint64_t
stream_msgs(void)
{
	jsStreamInfo *si = NULL;
	uint64_t n = UINT64_MAX;

	if (js_GetStreamInfo(&si, js, STREAM, NULL, NULL) == NATS_OK)
		n = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return n;
}

int
main(int argc, char **argv)
{
	int64_t t0;
	int c;

	bench_prog = "raw_consume";
	while ((c = getopt(argc, argv, "s:n:z:b:t:XS:D:T:")) != -1) {
		switch (c) {
		case 's':
			url = optarg;
			break;
		case 'n':
			total = atoi(optarg);
			break;
		case 'z':
			size = atoi(optarg);
			break;
		case 'b':
			batch = atoi(optarg);
			break;
		case 't':
			threads = atoi(optarg);
			break;
		case 'X':
			split = true;
			break;
		case 'S':
			stream = optarg;
			bound = true;
			break;
		case 'D':
			durable = optarg;
			bound = true;
			break;
		case 'T':
			limit_s = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (threads < 1 || threads > 64 || total < 1 || size < 1 || batch < 1 || limit_s < 1)
		goto usage;
	fetch_nc = bench_connect(url, split);
	ack_nc = split ? bench_connect(url, false) : fetch_nc;
	js = bench_jetstream(fetch_nc);
	if (bound) {
		signal(SIGTERM, on_stop);
		signal(SIGINT, on_stop);
		deadline_ns = bench_now_ns() + (int64_t)limit_s * 1000000000;
		run_threads();
		fprintf(stderr, "raw_consume: handled %d\n", consumed);
		goto out;
	}
	setup();
	bench_publish_backlog(js, "bench.t", total, size);

	t0 = bench_now_ns();
	run_threads();
	/* The clock stops when the server has every ack. */
	for (int i = 0; i < 10000 && stream_msgs() != 0; i++)
		usleep(1000);
	printf("consume+ack %d x %d B, batch %d, %d thread(s)%s: %.0f msgs/s\n", total, size, batch,
	       threads, split ? ", split ack" : "", total / ((bench_now_ns() - t0) / 1e9));

	js_DeleteStream(js, STREAM, NULL, NULL);
out:
	jsCtx_Destroy(js);
	if (split)
		natsConnection_Destroy(ack_nc);
	natsConnection_Destroy(fetch_nc);
	nats_CloseAndWait(2000);
	return 0;
usage:
	fprintf(stderr,
	        "usage: %s -s url [-n N] [-z bytes] [-b batch] [-t threads] [-X]\n"
	        "       %s -s url -S stream -D durable [-b batch] [-t threads] [-X] "
	        "[-T secs]\n",
	        argv[0], argv[0]);
	return 2;
}
