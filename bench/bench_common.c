/* SPDX-License-Identifier: MIT */
/* Helpers shared by the bench load programs (raw_consume, tjbench). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"

const char *bench_prog = "bench";

int64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
bench_die(const char *what, natsStatus s)
{
	fprintf(stderr, "%s: %s: %s %s\n", bench_prog, what, natsStatus_GetText(s),
	        nats_GetLastError(NULL) ? nats_GetLastError(NULL) : "");
	exit(1);
}

natsConnection *
bench_connect(const char *url, bool asap)
{
	natsOptions *o = NULL;
	natsConnection *nc = NULL;
	natsStatus s = natsOptions_Create(&o);

	if (s == NATS_OK)
		s = natsOptions_SetURL(o, url);
	if (s == NATS_OK && asap)
		s = natsOptions_SetSendAsap(o, true);
	if (s == NATS_OK)
		s = natsConnection_Connect(&nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK)
		bench_die("connect", s);
	return nc;
}

void
bench_publish_complete(jsCtx *js)
{
	jsPubOptions po;
	natsStatus s;

	jsPubOptions_Init(&po);
	po.MaxWait = 60000;
	s = js_PublishAsyncComplete(js, &po);
	if (s != NATS_OK)
		bench_die("publish complete", s);
}

void
bench_publish_backlog(jsCtx *js, const char *subject, int total, int size)
{
	char *payload = malloc((size_t)size);
	int64_t t0 = bench_now_ns();
	natsStatus s;

	memset(payload, 'x', (size_t)size);
	for (int i = 0; i < total; i++) {
		s = js_PublishAsync(js, subject, payload, size, NULL);
		if (s != NATS_OK)
			bench_die("publish", s);
	}
	bench_publish_complete(js);
	printf("publish %d x %d B: %.0f msgs/s\n", total, size,
	       total / ((bench_now_ns() - t0) / 1e9));
	free(payload);
}

natsSubscription *
bench_pull_subscribe(jsCtx *js, const char *stream, const char *consumer)
{
	natsSubscription *sub = NULL;
	jsSubOptions so;
	natsStatus s;

	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Consumer = consumer;
	s = js_PullSubscribe(&sub, js, NULL, NULL, NULL, &so, NULL);
	if (s != NATS_OK)
		bench_die("subscribe", s);
	return sub;
}

void
bench_pull_close(natsSubscription *sub)
{
	natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
}
