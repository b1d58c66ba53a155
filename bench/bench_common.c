/* SPDX-License-Identifier: MIT */
/* Helpers shared by the bench load programs (raw_consume, tjbench). */
#include <inttypes.h>
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

/* Async publishes the server refused (no stream takes the subject, the
 * stream is full...): libnats reports them only to this handler. */
static int64_t publish_failures;
static char publish_error[256];

static void
on_publish_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	if (__atomic_fetch_add(&publish_failures, 1, __ATOMIC_RELAXED) == 0)
		snprintf(publish_error, sizeof(publish_error), "%s (%s)",
		         natsStatus_GetText(pae->Err), pae->ErrText != NULL ? pae->ErrText : "");
}

jsCtx *
bench_jetstream(natsConnection *nc)
{
	jsOptions o;
	jsCtx *js = NULL;
	natsStatus s = jsOptions_Init(&o);

	o.PublishAsync.ErrHandler = on_publish_error;
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, &o);
	if (s != NATS_OK)
		bench_die("jetstream context", s);
	return js;
}

void
bench_publish_complete(jsCtx *js)
{
	jsPubOptions po;
	natsStatus s;
	int64_t failed;

	jsPubOptions_Init(&po);
	po.MaxWait = 60000;
	s = js_PublishAsyncComplete(js, &po);
	if (s != NATS_OK)
		bench_die("publish complete", s);
	failed = __atomic_load_n(&publish_failures, __ATOMIC_RELAXED);
	if (failed > 0) {
		fprintf(stderr, "%s: %" PRId64 " publishes were refused, the first: %s\n",
		        bench_prog, failed, publish_error);
		exit(1);
	}
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
