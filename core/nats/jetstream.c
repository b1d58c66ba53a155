/* SPDX-License-Identifier: MIT */
/*
 * The JetStream backend: per-task ops over natsMsg, the pull consumer
 * runtime, and the backend's lifecycle, status, snapshot and DLQ ops.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "task/metrics.h"
#include "task/router.h"
#include "nats/advisory.h"
#include "nats/consumer.h"
#include "nats/delivery.h"
#include "nats/dlq_admin.h"
#include "nats/dlq_store.h"
#include "nats/embedded.h"
#include "nats/jetstream.h"
#include "nats/natsconn.h"
#include "nats/publish.h"
#include "nats/stats_query.h"
#include "nats/topology.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/url.h"
#include "util/xalloc.h"

#define FLUSH_TIMEOUT_MS 2000
#define NS_PER_MS INT64_C(1000000)

/* How often the keeper looks at queued messages. */
#define KEEPER_TICK_MS 100

/* The private nats-server, shared by the backend that started it and the
 * ones that replace it on a reload; stopped with the last. Opened and
 * destroyed on the main thread only, so the count needs no lock. */
struct shared_server {
	struct embedded *server;
	char url_file[4096]; /* where its URL is recorded for client commands */
	unsigned refs;
};

struct js_backend {
	struct backend base; /* first: ops get a struct backend * */
	const struct cfg *cfg;
	struct natsconn *nc; /* fetches, JS API, publishes */
	struct natsconn *ack_nc; /* split ack: acks only; else NULL */
	natsConnection *ack_conn;
	struct shared_server *server; /* the private nats-server, if any */
	char location[512]; /* the URL without user info */
	const struct backend_sink *sink;
	const struct router *router;
	int stopping; /* atomic; async-signal-safe to set */
	struct js_consumer_env env;
	struct js_consumer **consumers; /* by route index */
	size_t consumer_count;
	struct advisory *advisory;
	pthread_t keeper_thread;
	bool keeper_started;
	pthread_t advisory_thread;
	bool advisory_started;
	bool advisory_joined;
	int abandoned;
	int started; /* atomic: every subscription bound */
};

static const struct backend_ops js_ops;
static void op_destroy(struct backend *base);

static struct js_backend *
from_base(struct backend *base)
{
	return (struct js_backend *)base;
}

static bool
stopping(const struct js_backend *b)
{
	return __atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE) != 0;
}

/* ----- ops ----- */

/*
 * Ack protocol bodies are published to the message's reply subject. This
 * is what natsMsg_Ack does, but on a connection we choose (split ack) and
 * without dereferencing natsMsg's raw subscription pointer.
 */
static int
send_ack(struct js_backend *b, struct tj_task *task, const char *body, bool settles)
{
	struct js_delivery *d = task->backend_msg;
	const char *reply;
	natsStatus s;

	/* Synthesized tasks (advisory path) have nothing to ack. */
	if (d == NULL || d->msg == NULL)
		return 0;
	reply = natsMsg_GetReply(d->msg);
	if (reply == NULL || *reply == '\0' || d->settled)
		return 0;
	s = natsConnection_PublishString(b->ack_conn, reply, body);
	if (s != NATS_OK) {
		log_write(TJ_LOG_WARNING,
		          &(struct log_ctx){ .task = task->id,
		                             .subject = task->subject,
		                             .seq = task->stream_seq,
		                             .attempt = task->attempt },
		          "jetstream: sending %.4s for %s failed: %s", body, task->id,
		          natsStatus_GetText(s));
		return natsconn_errno(s);
	}
	if (settles)
		d->settled = true;
	return 0;
}

static int
op_ack(struct backend *base, struct tj_task *task)
{
	return send_ack(from_base(base), task, "+ACK", true);
}

static int
op_nak(struct backend *base, struct tj_task *task, int64_t delay_ms)
{
	char body[64];

	if (delay_ms <= 0)
		return send_ack(from_base(base), task, "-NAK", true);
	/* The server wants nanoseconds in the nak body. */
	snprintf(body, sizeof(body), "-NAK {\"delay\":%" PRId64 "}", delay_ms * NS_PER_MS);
	return send_ack(from_base(base), task, body, true);
}

static int
op_term(struct backend *base, struct tj_task *task)
{
	return send_ack(from_base(base), task, "+TERM", true);
}

static int
op_in_progress(struct backend *base, struct tj_task *task)
{
	return send_ack(from_base(base), task, "+WPI", false);
}

static const char *
op_header(struct backend *base, const struct tj_task *task, const char *key)
{
	struct js_delivery *d = task->backend_msg;
	const char *v = NULL;

	if (d == NULL || d->msg == NULL)
		return NULL;
	if (natsMsgHeader_Get(d->msg, key, &v) != NATS_OK)
		return NULL;
	return v;
}

void
js_delivery_release(struct js_delivery *d)
{
	free(d->headers);
	d->headers = NULL;
	d->header_count = 0;
	d->headers_read = false;
}

/* Read every header value once per delivery; the strings stay the msg's. */
static int
op_headers(struct backend *base, const struct tj_task *task, const struct msg_header **headers_r,
           size_t *count_r)
{
	struct js_delivery *d = task->backend_msg;
	const char **keys = NULL;
	natsStatus s = NATS_OK;
	int count = 0;

	if (d == NULL || d->msg == NULL)
		return -ENOENT;
	if (!d->headers_read) {
		s = natsMsgHeader_Keys(d->msg, &keys, &count);
		for (int i = 0; s == NATS_OK && i < count; i++) {
			const char **values = NULL;
			int n = 0;

			s = natsMsgHeader_Values(d->msg, keys[i], &values, &n);
			if (s != NATS_OK)
				break;
			d->headers =
			    xrealloc(d->headers, d->header_count + (size_t)n, sizeof(*d->headers));
			for (int j = 0; j < n; j++)
				d->headers[d->header_count++] =
				    (struct msg_header){ .key = keys[i], .value = values[j] };
			free((void *)values);
		}
		free((void *)keys);
		if (s != NATS_OK && s != NATS_NOT_FOUND) {
			js_delivery_release(d);
			return natsconn_errno(s);
		}
		d->headers_read = true;
	}
	*headers_r = d->headers;
	*count_r = d->header_count;
	return 0;
}

static int
op_publish(struct backend *base, const struct publish_msg *msg, struct publish_ack *ack_r)
{
	struct js_backend *b = from_base(base);

	/* While reconnecting a publish would sit out every retry's timeout;
	 * callers (HTTP intake, a handler) are better served by a quick
	 * "not connected". */
	if (!natsconn_connected(b->nc))
		return -ENOTCONN;
	return js_publish(b->nc, msg, ack_r);
}

static int
copy_headers(natsMsg *from, natsMsg *to)
{
	const char **keys = NULL;
	int count = 0;
	natsStatus s;

	s = natsMsgHeader_Keys(from, &keys, &count);
	if (s == NATS_NOT_FOUND)
		return 0;
	for (int i = 0; s == NATS_OK && i < count; i++) {
		const char **values = NULL;
		int n = 0;

		/* Ours are set below, once each; and the letter has its own id. */
		if (dlq_header_dropped(keys[i]))
			continue;
		s = natsMsgHeader_Values(from, keys[i], &values, &n);
		for (int j = 0; s == NATS_OK && j < n; j++)
			s = natsMsgHeader_Add(to, keys[i], values[j]);
		free((void *)values);
	}
	free((void *)keys);
	return natsconn_errno(s);
}

static int
op_dead_letter(struct backend *base, struct tj_task *task, const struct dlq_record *rec)
{
	struct js_backend *b = from_base(base);
	struct js_delivery *d = task->backend_msg;
	natsMsg *letter = NULL;
	natsStatus s;
	int rc;

	if (task->payload_len > INT32_MAX)
		return -EMSGSIZE;
	s = natsMsg_Create(&letter, rec->subject, NULL, task->payload, (int)task->payload_len);
	if (s != NATS_OK) {
		rc = natsconn_errno(s);
		goto out;
	}
	if (d != NULL && d->msg != NULL) {
		rc = copy_headers(d->msg, letter);
		if (rc != 0)
			goto out;
	}
	for (size_t i = 0; i < rec->header_count; i++) {
		s = natsMsgHeader_Set(letter, rec->headers[i].key, rec->headers[i].value);
		if (s != NATS_OK) {
			rc = natsconn_errno(s);
			goto out;
		}
	}
	/* Whole, or in parts when it does not fit one message. */
	rc = dlq_store_write(b->nc, &b->cfg->dlq, letter, rec->msg_id);
	if (rc < 0 && rc != -ENAMETOOLONG) /* the caller says what it does */
		log_warn("jetstream: dead letter %s to %s: %s", rec->msg_id, rec->subject,
		         strerror(-rc));
out:
	natsMsg_Destroy(letter);
	return rc;
}

/* ----- consumer runtime ----- */

/*
 * Messages queued for a worker started their ack_wait clock on arrival;
 * the engine's heartbeat only covers the ones in a handler. The keeper
 * sends in-progress for queued messages once half their ack_wait is spent,
 * so none is redelivered while it waits here.
 */
static void *
keeper_main(void *arg)
{
	struct js_backend *b = arg;

	while (!stopping(b)) {
		int64_t now = clock_mono_ms();

		for (size_t i = 0; i < b->consumer_count; i++)
			if (b->consumers[i] != NULL)
				js_consumer_tick(b->consumers[i], now);
		clock_sleep_ms(KEEPER_TICK_MS);
	}
	nats_ReleaseThreadMemory();
	return NULL;
}

static void *
advisory_main(void *arg)
{
	advisory_run(arg);
	nats_ReleaseThreadMemory();
	return NULL;
}

/* ----- lifecycle ----- */

/* Where `taskjet run` records its embedded server's URL, so client
 * commands run by hand find the server. */
static void
url_file_path(const struct cfg *cfg, char *buf, size_t len)
{
	snprintf(buf, len, "%s/nats.url", cfg->state_dir);
}

/*
 * Record the URL atomically (a reader never sees half of it), readable by
 * the state directory's group: under systemd that is the service's group,
 * which an operator joins to run commands by hand. The directory's own
 * mode (0750) keeps everyone else out.
 */
static void
write_url_file(const struct cfg *cfg, const char *url)
{
	char path[4096], tmp[4200];
	FILE *fp = NULL;
	int fd;

	url_file_path(cfg, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0 && fchmod(fd, 0640) == 0)
		fp = fdopen(fd, "w");
	if (fp == NULL || fprintf(fp, "%s\n", url) < 0 || fclose(fp) != 0 ||
	    rename(tmp, path) < 0) {
		log_warn("cannot record the server URL in %s (commands run by hand will not "
		         "find the server): %s",
		         path, strerror(errno));
		if (fp == NULL && fd >= 0)
			close(fd);
		unlink(tmp);
	}
}

/* The URL a running daemon recorded, into buf: 0, -ENOENT if there is
 * none, or -errno (EACCES: not in the state directory's group). */
static int
read_url_file(const struct cfg *cfg, char *buf, size_t len)
{
	char path[4096];
	FILE *fp;
	bool ok;

	url_file_path(cfg, path, sizeof(path));
	fp = fopen(path, "r");
	if (fp == NULL)
		return -errno;
	ok = fgets(buf, (int)len, fp) != NULL;
	fclose(fp);
	buf[strcspn(buf, "\r\n")] = '\0';
	return ok && buf[0] != '\0' ? 0 : -ENOENT;
}

/* Which server to use (see struct js_open_opts) into *url_r; NULL: start
 * one. A client with no URL anywhere gets -ECONNREFUSED after saying
 * where it looked: no fallback to a port nobody configured. */
static int
choose_url(const struct cfg *cfg, const struct js_open_opts *o, char *buf, size_t len,
           const char **url_r)
{
	char path[4096];
	int rc;

	*url_r = o->url != NULL ? o->url : cfg->nats.url;
	if (*url_r != NULL || !o->client)
		return 0;
	rc = read_url_file(cfg, buf, len);
	if (rc == 0) {
		*url_r = buf;
		return 0;
	}
	url_file_path(cfg, path, sizeof(path));
	if (rc == -ENOENT || rc == -ENOTDIR)
		log_err("no NATS server to talk to: nats.url is not set and no running "
		        "`taskjet run` recorded an embedded server in %s (start taskjet run, "
		        "set TASKJET_STATE_DIR to its state_dir, or give --nats URL or NATS_URL)",
		        path);
	else
		log_err("cannot read %s, where `taskjet run` records its embedded server: %s%s",
		        path, strerror(-rc),
		        rc == -EACCES ? " (join the state directory's group, e.g. "
		                        "usermod -aG taskjet $USER)"
		                      : "");
	return -ECONNREFUSED;
}

static int
connect_all(struct js_backend *b, const struct js_open_opts *o, const char *url)
{
	const struct cfg *cfg = b->cfg;
	struct cfg_nats client = cfg->nats;
	const struct cfg_nats *nats = &cfg->nats;
	/* Split ack measured 2x faster at batch 100, equal at 500 (bench/). */
	bool split = !o->client && !o->single_connection;
	int rc;

	if (o->client) {
		/* A command run by hand answers within seconds either way. */
		client.name = (char *)(o->name != NULL ? o->name : "taskjet-cli");
		client.connect_timeout_ms = 2000;
		client.reconnect_wait_ms = 500;
		client.reconnect_jitter_ms = 100;
		nats = &client;
	}
	rc = natsconn_open(
	    nats, url,
	    &(struct natsconn_options){ .send_asap = split, .err = o->err, .err_len = o->err_len },
	    &b->nc);
	if (rc != 0)
		return rc;
	if (split) {
		rc = natsconn_open(nats, url,
		                   &(struct natsconn_options){
		                       .role = "acks", .err = o->err, .err_len = o->err_len },
		                   &b->ack_nc);
		if (rc != 0)
			return rc;
		b->ack_conn = natsconn_conn(b->ack_nc);
	} else {
		b->ack_conn = natsconn_conn(b->nc);
	}
	return 0;
}

int
js_backend_open(const struct cfg *cfg, const struct js_open_opts *o, struct backend **b_r)
{
	static const struct js_open_opts defaults = { 0 };
	struct js_backend *b = xcalloc(1, sizeof(*b));
	const char *url;
	char recorded[1024];
	int rc;

	if (o == NULL)
		o = &defaults;
	b->base.ops = &js_ops;
	b->base.cfg = cfg;
	b->cfg = cfg;
	rc = choose_url(cfg, o, recorded, sizeof(recorded), &url);
	if (rc < 0)
		goto out;
	if (url == NULL && o->replacing != NULL && o->replacing->ops == &js_ops &&
	    ((const struct js_backend *)o->replacing)->server != NULL) {
		/* A reload: the server the running backend started, not a second
		 * one on the same store. */
		b->server = ((const struct js_backend *)o->replacing)->server;
		b->server->refs++;
		url = embedded_url(b->server->server);
	} else if (url == NULL) {
		struct embedded *e = NULL;

		rc = embedded_start(cfg->state_dir, NULL, &e);
		if (rc < 0)
			goto out;
		b->server = xcalloc(1, sizeof(*b->server));
		b->server->server = e;
		b->server->refs = 1;
		url_file_path(cfg, b->server->url_file, sizeof(b->server->url_file));
		url = embedded_url(e);
		log_notice("no NATS URL configured: started a private nats-server at %s "
		           "(store in %s/nats)",
		           url, cfg->state_dir);
		write_url_file(cfg, url);
	}
	url_redact(url, b->location, sizeof(b->location));
	/* Hidden in every line we print, but still readable in the config or
	 * the environment by whoever can read those. */
	if (!o->client && strstr(b->location, "***@") != NULL)
		log_warn("nats: the server URL holds credentials; prefer nats.user with "
		         "nats.password_file, or nats.token_file (files only taskjet can read)");
	rc = connect_all(b, o, url);
	if (rc != 0 && url == recorded)
		log_err("the embedded server recorded in %s/nats.url (%s) did not answer: "
		        "its taskjet run has stopped?",
		        cfg->state_dir, b->location);
out:
	if (rc != 0) {
		b->abandoned = 0;
		op_destroy(&b->base);
		return rc;
	}
	*b_r = &b->base;
	return 0;
}

static int
op_ensure_topology(struct backend *base, bool dry_run, void (*print)(void *arg, const char *line),
                   void *arg)
{
	struct js_backend *b = from_base(base);
	struct topo_report r;
	int rc;

	rc = topology_ensure(natsconn_js(b->nc), b->cfg, dry_run, &r);
	for (size_t i = 0; print != NULL && i < r.count; i++)
		print(arg, r.lines[i]);
	topo_report_free(&r);
	return rc;
}

static size_t
route_index(const struct js_backend *b, const struct route *route)
{
	return (size_t)(route - b->router->routes);
}

static int
op_start(struct backend *base, const struct router *router, const struct backend_sink *sink)
{
	struct js_backend *b = from_base(base);
	int rc = 0;

	if (b->consumers != NULL || sink == NULL)
		return -EINVAL;
	b->sink = sink;
	b->router = router;
	b->env = (struct js_consumer_env){
		.nc = b->nc, .ack_conn = b->ack_conn, .backend = &b->base, .sink = sink
	};
	b->consumers = xcalloc(router->count + 1, sizeof(*b->consumers));
	b->consumer_count = router->count;
	for (size_t i = 0; i < router->count; i++) {
		rc = js_consumer_start(&b->env, &router->routes[i], &b->consumers[i]);
		if (rc != 0)
			goto out;
	}
	if (sink->dead_letter != NULL && router->count > 0) {
		rc = advisory_create(natsconn_js(b->nc), b->cfg->dlq.advisory_stream, router,
		                     &b->base, sink, &b->stopping, &b->advisory);
		if (rc != 0)
			goto out;
	}
	rc = -pthread_create(&b->keeper_thread, NULL, keeper_main, b);
	if (rc != 0) {
		log_err("jetstream: cannot start the keeper: %s", strerror(-rc));
		goto out;
	}
	b->keeper_started = true;
	if (b->advisory != NULL) {
		rc = -pthread_create(&b->advisory_thread, NULL, advisory_main, b->advisory);
		if (rc != 0) {
			log_err("jetstream: cannot start the advisory thread: %s", strerror(-rc));
			goto out;
		}
		b->advisory_started = true;
	}
	__atomic_store_n(&b->started, 1, __ATOMIC_RELEASE);
	log_info("jetstream: pulling for %zu route(s)", router->count);
out:
	if (rc != 0)
		base->ops->wait(base, 60000);
	return rc;
}

static int
op_next(struct backend *base, struct route *route, int64_t timeout_ms, struct tj_task **task_r)
{
	struct js_backend *b = from_base(base);

	return js_consumer_next(b->consumers[route_index(b, route)], timeout_ms, task_r);
}

static void
op_done(struct backend *base, struct tj_task *task)
{
	struct js_backend *b = from_base(base);

	js_consumer_done(b->consumers[route_index(b, task->route)], task);
}

static void
op_request_stop(struct backend *base)
{
	struct js_backend *b = from_base(base);

	__atomic_store_n(&b->stopping, 1, __ATOMIC_RELEASE);
	for (size_t i = 0; i < b->consumer_count; i++)
		if (b->consumers[i] != NULL)
			js_consumer_request_stop(b->consumers[i]);
}

static int
op_wait(struct backend *base, int64_t grace_ms)
{
	struct js_backend *b = from_base(base);
	struct timespec deadline;
	int abandoned = 0;

	op_request_stop(base);
	__atomic_store_n(&b->started, 0, __ATOMIC_RELEASE);
	clock_mono_deadline(grace_ms > 0 ? grace_ms : 0, &deadline);
	if (b->advisory != NULL)
		advisory_wake(b->advisory);
	/* The keeper may be reading an inbox: stop it before the consumers. */
	if (b->keeper_started) {
		pthread_join(b->keeper_thread, NULL);
		b->keeper_started = false;
	}
	for (size_t i = 0; i < b->consumer_count; i++)
		if (b->consumers[i] != NULL && !js_consumer_join(b->consumers[i], &deadline))
			abandoned++;
	if (b->advisory_started && !b->advisory_joined) {
		if (pthread_clockjoin_np(b->advisory_thread, NULL, CLOCK_MONOTONIC, &deadline) == 0)
			b->advisory_joined = true;
		else
			abandoned++;
	}
	/* Make sure the server has the acks before anyone closes anything. */
	if (b->ack_conn != NULL)
		natsConnection_FlushTimeout(b->ack_conn, FLUSH_TIMEOUT_MS);
	if (b->ack_nc != NULL)
		natsConnection_FlushTimeout(natsconn_conn(b->nc), FLUSH_TIMEOUT_MS);
	if (b->advisory != NULL && (!b->advisory_started || b->advisory_joined)) {
		advisory_destroy(b->advisory);
		b->advisory = NULL;
	}
	if (abandoned > 0)
		log_warn("jetstream: %d thread(s) still busy after the %" PRId64
		         " ms grace; their tasks will be redelivered",
		         abandoned, grace_ms);
	b->abandoned = abandoned;
	return abandoned;
}

static void
op_destroy(struct backend *base)
{
	struct js_backend *b = from_base(base);

	/* A consumer keeps what abandoned handlers still hold; then the
	 * connections must stay open too, for the exit to come. */
	for (size_t i = 0; i < b->consumer_count; i++) {
		if (!js_consumer_destroy(b->consumers[i]))
			b->abandoned++;
		b->consumers[i] = NULL;
	}
	if (b->abandoned == 0) {
		natsconn_close(b->ack_nc, FLUSH_TIMEOUT_MS);
		natsconn_close(b->nc, FLUSH_TIMEOUT_MS);
	}
	if (b->server != NULL && --b->server->refs == 0) {
		unlink(b->server->url_file);
		embedded_stop(b->server->server);
		free(b->server);
	}
	b->server = NULL;
	if (b->abandoned > 0)
		return;
	free(b->consumers);
	free(b);
}

/* ----- status ----- */

static bool
op_healthy(struct backend *base)
{
	struct js_backend *b = from_base(base);

	return natsconn_connected(b->nc) && (b->ack_nc == NULL || natsconn_connected(b->ack_nc));
}

static bool
op_ready(struct backend *base, int64_t timeout_ms, char *why, size_t len)
{
	struct js_backend *b = from_base(base);
	const struct cfg *cfg = b->cfg;
	jsOptions o;

	if (__atomic_load_n(&b->started, __ATOMIC_ACQUIRE) == 0) {
		snprintf(why, len, "consumers are not bound");
		return false;
	}
	if (!op_healthy(base)) {
		snprintf(why, len, "not connected to NATS");
		return false;
	}
	/* Bound subscriptions survive a reconnect, but the durable may have
	 * been deleted or the server may have lost JetStream: ask it. */
	jsOptions_Init(&o);
	o.Wait = timeout_ms;
	for (size_t i = 0; i < cfg->route_count; i++) {
		const struct cfg_route *rc = &cfg->routes[i];
		jsConsumerInfo *ci = NULL;
		jsErrCode jerr = 0;
		char durable[256];
		natsStatus s;

		s = js_GetConsumerInfo(&ci, natsconn_js(b->nc), rc->stream,
		                       topology_consumer_name(rc, durable, sizeof(durable)), &o,
		                       &jerr);
		if (s == NATS_OK && i < b->consumer_count && b->consumers[i] != NULL)
			js_consumer_note_ack_pending(b->consumers[i], (uint64_t)ci->NumAckPending,
			                             ci->Config != NULL &&
			                                     ci->Config->MaxAckPending > 0
			                                 ? (uint64_t)ci->Config->MaxAckPending
			                                 : 0);
		jsConsumerInfo_Destroy(ci);
		if (s == NATS_NOT_FOUND) {
			snprintf(why, len, "route %s: consumer %s/%s does not exist", rc->name,
			         rc->stream, durable);
			return false;
		}
		if (s == NATS_TIMEOUT && natsconn_connected(b->nc)) {
			/* Connected, yet JetStream is silent: a server whose
			 * store is stuck (a full disk, say) or overloaded. */
			snprintf(
			    why, len,
			    "route %s: consumer %s/%s: JetStream did not answer within %" PRId64
			    " ms",
			    rc->name, rc->stream, durable, timeout_ms);
			return false;
		}
		if (s != NATS_OK) {
			snprintf(why, len, "route %s: consumer %s/%s: %s", rc->name, rc->stream,
			         durable,
			         natsconn_connected(b->nc) ? strerror(-natsconn_errno(s))
			                                   : "not connected to NATS");
			return false;
		}
	}
	for (size_t i = 0; i < b->consumer_count; i++)
		if (b->consumers[i] != NULL && !js_consumer_ok(b->consumers[i], why, len))
			return false;
	return true;
}

/* Routes held at their max_ack_pending: ready (the worker is sound and
 * its other routes flow), but worth saying. */
static bool
op_degraded(struct backend *base, char *why, size_t len)
{
	struct js_backend *b = from_base(base);
	size_t used = 0;
	char one[256];

	if (len > 0)
		why[0] = '\0';
	for (size_t i = 0; i < b->consumer_count; i++) {
		if (b->consumers[i] == NULL || !js_consumer_held(b->consumers[i], one, sizeof(one)))
			continue;
		if (used < len)
			used += (size_t)snprintf(why + used, len - used, "%s%s",
			                         used > 0 ? "; " : "", one);
	}
	return used > 0;
}

static const char *
op_location(struct backend *base)
{
	return from_base(base)->location;
}

static int
op_snapshot(struct backend *base, const struct cfg *cfg, const struct snapshot_opts *o,
            struct stats_snapshot **snap_r)
{
	return stats_query(from_base(base)->nc, cfg, o, snap_r);
}

/* ----- dead letters ----- */

static int
op_dlq_list(struct backend *base, const struct dlq_filter *f, bool with_payload,
            struct dlq_list *list_r)
{
	struct js_backend *b = from_base(base);

	return dlq_admin_list(b->nc, &b->cfg->dlq, f, with_payload, list_r);
}

static int
op_dlq_get(struct backend *base, uint64_t seq, struct dlq_entry **entry_r)
{
	struct js_backend *b = from_base(base);

	return dlq_admin_get(b->nc, &b->cfg->dlq, seq, entry_r);
}

static int
op_dlq_part_of(struct backend *base, uint64_t seq, uint64_t *letter_r)
{
	struct js_backend *b = from_base(base);

	return dlq_admin_part_of(b->nc, &b->cfg->dlq, seq, letter_r);
}

static int
op_dlq_delete(struct backend *base, uint64_t seq)
{
	struct js_backend *b = from_base(base);

	return dlq_admin_delete(b->nc, &b->cfg->dlq, seq);
}

static int
op_dlq_purge(struct backend *base, const char *subject, uint64_t before_seq)
{
	struct js_backend *b = from_base(base);

	return dlq_admin_purge_subject(b->nc, &b->cfg->dlq, subject, before_seq);
}

static const struct backend_ops js_ops = {
	.name = "jetstream",
	.ack = op_ack,
	.nak = op_nak,
	.term = op_term,
	.in_progress = op_in_progress,
	.dead_letter = op_dead_letter,
	.header = op_header,
	.headers = op_headers,
	.publish = op_publish,
	.ensure_topology = op_ensure_topology,
	.start = op_start,
	.next = op_next,
	.done = op_done,
	.request_stop = op_request_stop,
	.wait = op_wait,
	.destroy = op_destroy,
	.healthy = op_healthy,
	.ready = op_ready,
	.degraded = op_degraded,
	.location = op_location,
	.snapshot = op_snapshot,
	.dlq_list = op_dlq_list,
	.dlq_get = op_dlq_get,
	.dlq_part_of = op_dlq_part_of,
	.dlq_delete = op_dlq_delete,
	.dlq_purge = op_dlq_purge,
};

const char *
js_client_version(void)
{
	return nats_GetVersion();
}
