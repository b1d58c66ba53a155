/* SPDX-License-Identifier: MIT */
/*
 * A route's pull consumer: our own pipelined pull requests, the server's
 * status messages, and the bounded queue the workers take tasks from.
 *
 * Accounting. Every request of a route uses the same inbox, and the server
 * serves its waiting requests round-robin, so a message does not say which
 * request it pays: `outstanding` is what all of them still owe together.
 * A data message pays one; a 408 (expired) ends the oldest request, its
 * header Nats-Pending-Messages saying what that one did not deliver. A
 * request filled completely ends without a word; so does one the server
 * lost (a restart, a leadership change, a missed heartbeat): each is
 * forgotten once its expiry has passed, and outstanding is never more than
 * the requests still alive could owe. A message of a request we gave up
 * on finds room in a spare slot.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task/metrics.h"
#include "nats/consumer.h"
#include "nats/delivery.h"
#include "nats/topology.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

#define NS_PER_MS INT64_C(1000000)
/* Requests remembered for their expiry. A request filled completely ends
 * silently at the server, so this log also holds finished ones until
 * their expiry passes; when it is full the oldest is dropped (finished by
 * then). How many requests are alive is bounded by outstanding: each owes
 * at least one message. */
#define MAX_PULLS 1024
/* How long a reader waits in NextMsg at most before it looks at the
 * timers again (expiries, heartbeats, reconnects). */
#define TICK_MS 250
/* Requests alive together expire at least this far apart (an eighth of
 * the wait, within these bounds): see next_expiry(). */
#define EXPIRY_GAP_MIN_MS 20
#define EXPIRY_GAP_MAX_MS 250
/* After an error status, wait this long before pulling again. */
#define ERROR_BACKOFF_MS 1000
/* Messages taken from the inbox in one go at most. */
#define BURST_MAX 64
/* Error log lines of one kind at most this often. */
#define LOG_EVERY_MS 5000
/* The automatic look-ahead (no `prefetch` in the config): about this much
 * of the route's work at the rate it finished tasks over the last period,
 * never below the configured floor (2 x batch) nor above the cap: 2,000
 * messages, 16 requests of a batch, max_ack_pending. Quick handlers need
 * ~1,000 messages in flight to keep the server busy (bench/README.md);
 * slow ones keep the small floor, fair to other hosts. Requests sent for
 * a larger window expire within 2 x fetch_wait once it shrinks. */
#define LOOKAHEAD_WORK_MS 20
#define LOOKAHEAD_PERIOD_MS 100
#define LOOKAHEAD_AUTO_MAX 2000
#define LOOKAHEAD_AUTO_REQUESTS 16
/* Messages done with are destroyed in groups of up to this many (or this
 * many bytes, or at the keeper's tick): libnats hands every destroyed
 * message to its collector thread and wakes it when it sleeps, so
 * destroying them one by one as handlers finish costs a thread wakeup
 * per task on a busy route. */
#define SPENT_MAX 32
#define SPENT_BYTES_MAX (256 * 1024)

/* One message's room: the task the engine sees and its delivery. */
struct js_slot {
	struct tj_task task;
	struct js_delivery d;
	int64_t beat_ms; /* received, or last kept alive */
	struct js_slot *next; /* in the queue or the free list */
};

/* A pull request the server may still be serving. */
struct pull {
	unsigned batch; /* asked for */
	int64_t expires_ms; /* monotonic; when the server drops it */
};

struct js_consumer {
	struct js_consumer_env env;
	struct route *route;
	const struct cfg_route *rc;
	char inbox[128];
	char next_subject[600];
	natsSubscription *sub;
	int stopping; /* atomic */

	/* Pull request shape. */
	unsigned batch;
	unsigned window; /* messages held at most: concurrency + look-ahead */
	unsigned window_min, window_max; /* equal unless the look-ahead is automatic */
	unsigned most; /* asked for in one request; sent once this much room is free */
	int64_t expires_ms;
	int64_t heartbeat_ms; /* 0: none asked */

	pthread_mutex_t lock;
	pthread_cond_t avail; /* tasks queued, a reader done, or stopping */
	bool reading; /* a thread waits in (or drains) the inbox */
	unsigned waiting; /* workers asleep on `avail` */
	struct js_slot *q_head, *q_tail; /* received, not yet handed out */
	unsigned queued;
	struct js_slot *free_list;
	unsigned free_count;
	unsigned slot_count; /* allocated: in use + free */
	unsigned held; /* handed out, not yet done */
	unsigned done_in_period; /* tasks done since period_ms */
	int64_t period_ms;
	natsMsg *spent[SPENT_MAX]; /* done with, not yet destroyed */
	unsigned spent_count;
	size_t spent_bytes;
	struct js_slot **blocks; /* allocations of slots, to free them */
	size_t block_count;
	struct pull *pulls; /* MAX_PULLS, a ring from p_head, oldest first */
	unsigned p_head, p_count;
	unsigned outstanding; /* what the requests alive still owe, together */
	int64_t last_heard_ms; /* last message or status from the server */
	int64_t pause_until_ms; /* no pulls before (after an error) */
	uint64_t seen_reconnects;
	bool broken; /* the last pull got an error: not ready */
	bool draining; /* the subscription is being drained (a stop) */
	char problem[256];
	/* The server's figures at the last readiness check. */
	bool at_max; /* ack_pending reached max_ack_pending */
	uint64_t ack_pending, max_ack_pending;
	int64_t at_max_since_ms;
	int64_t last_log_ms;
};

static bool
is_stopping(const struct js_consumer *c)
{
	return __atomic_load_n(&c->stopping, __ATOMIC_ACQUIRE) != 0;
}

/* ---- slots (lock held) ---- */

static void
add_slots(struct js_consumer *c, unsigned n)
{
	struct js_slot *block = xcalloc(n, sizeof(*block));

	c->blocks = xrealloc(c->blocks, c->block_count + 1, sizeof(*c->blocks));
	c->blocks[c->block_count++] = block;
	for (unsigned i = 0; i < n; i++) {
		block[i].next = c->free_list;
		c->free_list = &block[i];
	}
	c->free_count += n;
	c->slot_count += n;
}

static struct js_slot *
take_slot(struct js_consumer *c)
{
	struct js_slot *s;

	/* Messages of a request we had given up on: room beyond the window,
	 * rather than turning work away. */
	if (c->free_list == NULL)
		add_slots(c, 8);
	s = c->free_list;
	c->free_list = s->next;
	c->free_count--;
	return s;
}

static void
put_slot(struct js_consumer *c, struct js_slot *s)
{
	s->next = c->free_list;
	c->free_list = s;
	c->free_count++;
}

/* ---- pull requests (lock held) ---- */

static void log_limited(struct js_consumer *c, int level, const char *fmt, ...) TJ_PRINTF(3, 4);

static void
log_limited(struct js_consumer *c, int level, const char *fmt, ...)
{
	int64_t now = clock_mono_ms();
	char msg[512];
	va_list ap;

	if (now - c->last_log_ms < LOG_EVERY_MS && c->last_log_ms != 0)
		return;
	c->last_log_ms = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_write(level, &(struct log_ctx){ .route = c->rc->name }, "%s", msg);
}

/* Forget every request in flight (the server no longer has them). */
static void
forget_pulls(struct js_consumer *c)
{
	c->p_head = 0;
	c->p_count = 0;
	c->outstanding = 0;
}

/* The oldest request is over, `undelivered` short (what the server says
 * it still owed; 0 when it ended silently). */
static void
end_oldest_pull(struct js_consumer *c, unsigned undelivered)
{
	unsigned alive = 0;

	if (c->p_count == 0)
		return;
	c->outstanding -= undelivered < c->outstanding ? undelivered : c->outstanding;
	c->p_head = (c->p_head + 1) % MAX_PULLS;
	c->p_count--;
	for (unsigned i = 0; i < c->p_count; i++)
		alive += c->pulls[(c->p_head + i) % MAX_PULLS].batch;
	if (c->outstanding > alive)
		c->outstanding = alive;
}

/* Room in the window not yet promised to a request in flight. Slots
 * beyond the window (messages of requests given up on) count as used. */
static unsigned
credits(const struct js_consumer *c)
{
	unsigned used = c->slot_count - c->free_count;
	unsigned room = c->window > used ? c->window - used : 0;

	return room > c->outstanding ? room - c->outstanding : 0;
}

/* Request size and when to ask, for the window as it is now: no request
 * asks for more than half the window, so an idle route has two waiting,
 * expiring apart. */
static void
set_window(struct js_consumer *c, unsigned window)
{
	c->window = window;
	c->most = window / 2 < c->batch ? window / 2 : c->batch;
	if (c->most == 0)
		c->most = 1;
	if (c->slot_count < window)
		add_slots(c, window - c->slot_count);
	metrics_set_window(c->env.sink->metrics, c->route, window);
}

/* The automatic look-ahead, once a period: LOOKAHEAD_WORK_MS of work at
 * the rate tasks were done over the period, within the bounds. An idle
 * route (called from the keeper's tick) falls back to the floor. */
static void
adapt_window(struct js_consumer *c, int64_t now)
{
	int64_t span = now - c->period_ms;
	uint64_t want, window = c->window_min;
	unsigned running = (unsigned)c->rc->concurrency;

	if (c->window_min == c->window_max || span < LOOKAHEAD_PERIOD_MS)
		return;
	want = (uint64_t)c->done_in_period * LOOKAHEAD_WORK_MS / (uint64_t)span;
	if (running + want > window)
		window = running + want;
	if (window > c->window_max)
		window = c->window_max;
	c->done_in_period = 0;
	c->period_ms = now;
	if (window != c->window)
		set_window(c, window);
}

/*
 * When the request about to be sent expires. nats-server before 2.10.14
 * mishandles a redelivery due at a moment every request waiting for it has
 * just expired: it delivers another message again with a delivery count of
 * 1 and counts the redelivery as done although nobody got it
 * (nats-server#5305). So requests alive together never expire together:
 * each expires at least EXPIRY_GAP after the one sent before it (their
 * expiries stay in sending order, which the 408 accounting needs), but
 * never later than twice the configured wait.
 */
static int64_t
next_expiry(const struct js_consumer *c, int64_t now)
{
	int64_t at = now + c->expires_ms;
	int64_t gap = c->expires_ms / 8;

	if (gap < EXPIRY_GAP_MIN_MS)
		gap = EXPIRY_GAP_MIN_MS;
	if (gap > EXPIRY_GAP_MAX_MS)
		gap = EXPIRY_GAP_MAX_MS;
	if (c->p_count > 0) {
		int64_t last = c->pulls[(c->p_head + c->p_count - 1) % MAX_PULLS].expires_ms;

		if (at < last + gap)
			at = last + gap;
	}
	return at < now + 2 * c->expires_ms ? at : now + 2 * c->expires_ms;
}

static void
send_pull(struct js_consumer *c, unsigned n, int64_t now)
{
	int64_t expires_at = next_expiry(c, now);
	struct pull *p;
	char body[128];
	natsStatus s;

	if (c->heartbeat_ms > 0)
		snprintf(body, sizeof(body),
		         "{\"batch\":%u,\"expires\":%" PRId64 ",\"idle_heartbeat\":%" PRId64 "}", n,
		         (expires_at - now) * NS_PER_MS, c->heartbeat_ms * NS_PER_MS);
	else
		snprintf(body, sizeof(body), "{\"batch\":%u,\"expires\":%" PRId64 "}", n,
		         (expires_at - now) * NS_PER_MS);
	s = natsConnection_PublishRequestString(natsconn_conn(c->env.nc), c->next_subject, c->inbox,
	                                        body);
	if (s != NATS_OK) {
		/* Disconnected and the reconnect buffer is full, or closed:
		 * try again after a pause. */
		c->pause_until_ms = now + ERROR_BACKOFF_MS;
		return;
	}
	/* The heartbeat clock starts with the first request after a quiet
	 * spell. */
	if (c->p_count == 0)
		c->last_heard_ms = now;
	p = &c->pulls[(c->p_head + c->p_count) % MAX_PULLS];
	*p = (struct pull){ .batch = n, .expires_ms = expires_at };
	c->p_count++;
	c->outstanding += n;
}

/* Keep requests in flight while there is room: whole requests of
 * c->most, each sent before the one before it is used up. */
static void
maybe_pull(struct js_consumer *c, int64_t now)
{
	while (!is_stopping(c) && now >= c->pause_until_ms && credits(c) >= c->most) {
		if (c->p_count == MAX_PULLS)
			end_oldest_pull(c, 0);
		send_pull(c, c->most, now); /* a failure sets pause_until_ms */
	}
}

/* Timers: requests the server should have ended, missed heartbeats and
 * reconnects all mean requests that will never deliver. */
static void
check_pulls(struct js_consumer *c, int64_t now)
{
	uint64_t reconnects = natsconn_reconnects(c->env.nc);
	int64_t grace = c->heartbeat_ms > 0 ? 2 * c->heartbeat_ms : 1000;

	if (reconnects != c->seen_reconnects) {
		c->seen_reconnects = reconnects;
		if (c->p_count > 0)
			log_write(TJ_LOG_INFO, &(struct log_ctx){ .route = c->rc->name },
			          "jetstream: reconnected: pulling again");
		forget_pulls(c);
		return;
	}
	while (c->p_count > 0 && now > c->pulls[c->p_head].expires_ms + grace)
		end_oldest_pull(c, 0);
	if (c->p_count > 0 && c->heartbeat_ms > 0 &&
	    now - c->last_heard_ms > 2 * c->heartbeat_ms + 500) {
		log_limited(c, TJ_LOG_WARNING,
		            "jetstream: no heartbeat from the server for %" PRId64
		            " ms: pulling again",
		            now - c->last_heard_ms);
		forget_pulls(c);
	}
}

/* ---- what the server sends (lock held) ---- */

static unsigned
pending_header(natsMsg *m, unsigned fallback)
{
	const char *v = NULL;
	char *end;
	unsigned long n;

	if (natsMsgHeader_Get(m, "Nats-Pending-Messages", &v) != NATS_OK || v == NULL)
		return fallback;
	n = strtoul(v, &end, 10);
	return *end == '\0' && n <= UINT32_MAX ? (unsigned)n : fallback;
}

/* A status message: 100 heartbeat, 404/408 a request ended, 409 and 400
 * the server refused or dropped requests, 503 nobody serves the durable. */
static void
on_status(struct js_consumer *c, natsMsg *m, const char *code, int64_t now)
{
	const char *desc = NULL;
	unsigned owed = c->p_count > 0 ? c->pulls[c->p_head].batch : 0;

	if (natsMsgHeader_Get(m, "Description", &desc) != NATS_OK || desc == NULL)
		desc = "";
	if (strcmp(code, "100") == 0) {
		c->broken = false; /* a request is alive at the server */
		return;
	}
	if (strcmp(code, "408") == 0 || strcmp(code, "404") == 0) {
		c->broken = false;
		end_oldest_pull(c, pending_header(m, owed));
		return;
	}
	if (strcmp(code, "409") == 0 && strcmp(desc, "Leadership Change") == 0) {
		log_write(TJ_LOG_NOTICE, &(struct log_ctx){ .route = c->rc->name },
		          "jetstream: consumer %s/%s changed leader: pulling again", c->rc->stream,
		          c->rc->consumer);
		forget_pulls(c);
		return;
	}
	if (strcmp(code, "409") == 0 && strncmp(desc, "Message Size Exceeds", 20) == 0) {
		end_oldest_pull(c, pending_header(m, owed));
		return;
	}
	/* Everything else stops our requests: Consumer Deleted, Exceeded
	 * MaxWaiting, MaxRequestBatch/Expires/MaxBytes, a push consumer, Bad
	 * Request, No Responders (503: no such durable). Say so, pause, and
	 * pull again: the durable may be recreated, other engines may go. */
	c->broken = true;
	if (strcmp(code, "503") == 0)
		snprintf(c->problem, sizeof(c->problem), "consumer %s/%s does not exist",
		         c->rc->stream, c->rc->consumer);
	else
		snprintf(c->problem, sizeof(c->problem),
		         "consumer %s/%s: the server answered %s %s", c->rc->stream,
		         c->rc->consumer, code, desc);
	log_limited(c, TJ_LOG_ERR, "jetstream: %s; pulling again in %d ms", c->problem,
	            ERROR_BACKOFF_MS);
	forget_pulls(c);
	c->pause_until_ms = now + ERROR_BACKOFF_MS;
}

/* Decimal digits of [p, end) as a uint64; false if empty, not all digits
 * or too large. */
static bool
parse_u64(const char *p, const char *end, uint64_t *v_r)
{
	uint64_t v = 0;

	if (p == end)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*v_r = v;
	return true;
}

/*
 * Delivery count and stream sequence from a JetStream ack subject, the way
 * natsMsg_GetMetaData reads them but without its allocations (it copies
 * every token and strdups stream and consumer, per message):
 *   v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>
 *   v2: $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>...
 * (9 tokens, or 11 and more, as libnats accepts). False for anything else.
 */
static bool
parse_ack_subject(const char *reply, uint64_t *sseq_r, uint64_t *delivered_r)
{
	const char *tok[13], *p;
	size_t n = 0, first;

	if (reply == NULL || strncmp(reply, "$JS.ACK.", 8) != 0)
		return false;
	tok[n++] = reply;
	/* strchr hops token to token faster than a byte loop; v2's trailing
	 * tokens are not needed. */
	for (p = strchr(reply, '.'); p != NULL && n < 12; p = strchr(p + 1, '.'))
		tok[n++] = p + 1;
	/* One past the end of the last token kept. */
	tok[n] = p != NULL ? p + 1 : reply + strlen(reply) + 1;
	if (n == 9)
		first = 4;
	else if (n >= 11)
		first = 6;
	else
		return false;
	return parse_u64(tok[first], tok[first + 1] - 1, delivered_r) &&
	       parse_u64(tok[first + 1], tok[first + 2] - 1, sseq_r);
}

/* Fill the slot's task from the message; false if it is no JetStream
 * delivery (cannot happen on our inbox; the server redelivers it). */
static bool
fill_task(struct js_consumer *c, struct js_slot *s, natsMsg *m, int64_t now)
{
	struct tj_task *t = &s->task;
	const char *id = NULL;
	uint64_t delivered = 0;

	memset(t, 0, sizeof(*t));
	if (!parse_ack_subject(natsMsg_GetReply(m), &t->stream_seq, &delivered))
		return false;
	s->d = (struct js_delivery){ .msg = m };
	s->beat_ms = now;
	t->subject = natsMsg_GetSubject(m);
	t->payload = natsMsg_GetData(m);
	t->payload_len = (size_t)natsMsg_GetDataLength(m);
	t->stream = c->rc->stream;
	t->attempt = delivered > UINT32_MAX ? UINT32_MAX : (uint32_t)delivered;
	t->received_ms = now;
	t->backend_msg = &s->d;
	t->backend = c->env.backend;
	t->route = c->route;
	t->retry_after_ms = -1;
	t->verdict = -1;
	if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK)
		id = NULL;
	task_set_id(t, id);
	return true;
}

static void
nak_now(struct js_consumer *c, natsMsg *m)
{
	const char *reply = natsMsg_GetReply(m);

	if (reply != NULL && *reply != '\0')
		natsConnection_PublishString(c->env.ack_conn, reply, "-NAK");
}

/* The status code of a status message, or NULL for a data message.
 * Status messages carry no data; data messages need no header look. */
static const char *
status_of(natsMsg *m)
{
	const char *code = NULL;

	if (natsMsg_GetDataLength(m) != 0 || natsMsgHeader_Get(m, "Status", &code) != NATS_OK)
		return NULL;
	return code;
}

/* Nobody serves the durable's pull subject (libnats turns the server's
 * 503 into NATS_NO_RESPONDERS). Lock held. */
static void
on_no_responders(struct js_consumer *c, int64_t now)
{
	c->broken = true;
	snprintf(c->problem, sizeof(c->problem), "consumer %s/%s does not exist", c->rc->stream,
	         c->rc->consumer);
	log_limited(c, TJ_LOG_ERR, "jetstream: %s; pulling again in %d ms", c->problem,
	            ERROR_BACKOFF_MS);
	forget_pulls(c);
	c->pause_until_ms = now + ERROR_BACKOFF_MS;
}

/*
 * Messages read together from the inbox; the lock is held on entry and on
 * return (dropped while the tasks are filled in). Statuses are handled,
 * data messages become tasks at the queue's tail. Returns how many were
 * queued.
 */
static int
take_in(struct js_consumer *c, natsMsg **msgs, int n)
{
	int64_t now = clock_mono_ms();
	struct js_slot *slots[BURST_MAX];
	natsMsg *data[BURST_MAX];
	int nd = 0, queued = 0;

	c->last_heard_ms = now;
	for (int i = 0; i < n; i++) {
		const char *code = status_of(msgs[i]);

		if (code != NULL) {
			on_status(c, msgs[i], code, now);
			continue;
		}
		if (c->outstanding > 0)
			c->outstanding--;
		slots[nd] = take_slot(c);
		data[nd++] = msgs[i];
		msgs[i] = NULL;
	}
	if (nd > 0)
		c->broken = false;
	pthread_mutex_unlock(&c->lock);
	if (nd > 0)
		metrics_observe_fetch(c->env.sink->metrics, c->route, (unsigned)nd);
	for (int i = 0; i < nd; i++) {
		if (!is_stopping(c) && fill_task(c, slots[i], data[i], now)) {
			data[i] = NULL;
			continue;
		}
		if (!is_stopping(c))
			log_limited(c, TJ_LOG_WARNING,
			            "jetstream: a message without JetStream metadata on %s",
			            c->inbox);
		/* Stopping, or not ours to handle: back to the server. */
		nak_now(c, data[i]);
	}
	for (int i = 0; i < n; i++)
		natsMsg_Destroy(msgs[i]);
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < nd; i++) {
		struct js_slot *sl = slots[i];

		if (data[i] != NULL) {
			put_slot(c, sl);
			natsMsg_Destroy(data[i]);
			continue;
		}
		sl->next = NULL;
		if (c->q_tail != NULL)
			c->q_tail->next = sl;
		else
			c->q_head = sl;
		c->q_tail = sl;
		c->queued++;
		queued++;
	}
	maybe_pull(c, now);
	return queued;
}

/*
 * Read the inbox: wait at most wait_ms for a first message, then take what
 * else is there without waiting. The lock is held on entry and on return;
 * only one thread reads at a time (c->reading), and the lock is dropped
 * while it waits. Returns how many tasks were queued.
 */
static int
read_inbox(struct js_consumer *c, int64_t wait_ms)
{
	natsMsg *msgs[BURST_MAX];
	bool no_responders = false;
	natsStatus s;
	int n, queued = 0;

	c->reading = true;
	pthread_mutex_unlock(&c->lock);
	s = natsSubscription_NextMsg(&msgs[0], c->sub, wait_ms);
	if (s == NATS_OK) {
		for (n = 1; n < BURST_MAX; n++) {
			natsStatus more = natsSubscription_NextMsg(&msgs[n], c->sub, 0);

			if (more != NATS_OK) {
				no_responders = more == NATS_NO_RESPONDERS;
				break;
			}
		}
	}
	pthread_mutex_lock(&c->lock);
	if (s == NATS_OK)
		queued = take_in(c, msgs, n);
	if (s == NATS_NO_RESPONDERS || no_responders)
		on_no_responders(c, clock_mono_ms());
	c->reading = false;
	/*
	 * Wake one waiting worker per task queued, and one more to read next
	 * (this thread takes a task itself, if it is a worker): waking them
	 * all would have most of a large route's workers find the queue
	 * empty and sleep again, on every burst. At a stop, everyone.
	 */
	if (is_stopping(c))
		pthread_cond_broadcast(&c->avail);
	else
		for (unsigned i = 0; i < c->waiting && i < (unsigned)queued + 1; i++)
			pthread_cond_signal(&c->avail);
	return queued;
}

/* ---- the workers' side ---- */

int
js_consumer_next(struct js_consumer *c, int64_t timeout_ms, struct tj_task **task_r)
{
	struct timespec until;
	int64_t end = clock_mono_ms() + timeout_ms;
	struct js_slot *s;
	int rc = 0;

	clock_mono_deadline(timeout_ms, &until);
	pthread_mutex_lock(&c->lock);
	/*
	 * A worker with nothing queued reads the inbox itself, so a message
	 * goes from libnats' reader to the handler with one wakeup; others
	 * wait for what it queues. (The keeper reads whatever waits while
	 * every worker is busy, so queued messages are kept alive.)
	 */
	while (c->q_head == NULL && !is_stopping(c)) {
		int64_t left = end - clock_mono_ms();

		if (left <= 0)
			break;
		if (!c->reading) {
			check_pulls(c, clock_mono_ms());
			maybe_pull(c, clock_mono_ms());
			read_inbox(c, left < TICK_MS ? left : TICK_MS);
			continue;
		}
		c->waiting++;
		rc = pthread_cond_clockwait(&c->avail, &c->lock, CLOCK_MONOTONIC, &until);
		c->waiting--;
		if (rc != 0) {
			rc = 0;
			break;
		}
	}
	if (is_stopping(c)) {
		rc = -ESHUTDOWN;
		goto out;
	}
	s = c->q_head;
	if (s == NULL) {
		rc = -EAGAIN;
		goto out;
	}
	c->q_head = s->next;
	if (c->q_head == NULL)
		c->q_tail = NULL;
	c->queued--;
	c->held++;
	*task_r = &s->task;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* Take the spent messages out, to destroy them outside the lock (lock
 * held). Returns how many. */
static unsigned
take_spent(struct js_consumer *c, natsMsg **out)
{
	unsigned n = c->spent_count;

	memcpy(out, c->spent, n * sizeof(*out));
	c->spent_count = 0;
	c->spent_bytes = 0;
	return n;
}

static void
destroy_msgs(natsMsg **msgs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		natsMsg_Destroy(msgs[i]);
}

void
js_consumer_done(struct js_consumer *c, struct tj_task *task)
{
	struct js_slot *s = (struct js_slot *)((char *)task - offsetof(struct js_slot, task));
	natsMsg *spent[SPENT_MAX];
	unsigned n_spent = 0;
	int64_t now;

	task_release(task);
	js_delivery_release(&s->d);
	pthread_mutex_lock(&c->lock);
	c->spent[c->spent_count++] = s->d.msg;
	c->spent_bytes += (size_t)natsMsg_GetDataLength(s->d.msg);
	s->d.msg = NULL;
	if (c->spent_count == SPENT_MAX || c->spent_bytes >= SPENT_BYTES_MAX)
		n_spent = take_spent(c, spent);
	c->held--;
	put_slot(c, s);
	c->done_in_period++;
	now = clock_mono_ms();
	adapt_window(c, now);
	/* The room freed may make a whole batch: ask now. */
	maybe_pull(c, now);
	pthread_mutex_unlock(&c->lock);
	destroy_msgs(spent, n_spent);
}

/* Give every queued task back to the server at once (lock held). */
static void
hand_back_queue(struct js_consumer *c)
{
	while (c->q_head != NULL) {
		struct js_slot *s = c->q_head;

		c->q_head = s->next;
		c->queued--;
		nak_now(c, s->d.msg);
		js_delivery_release(&s->d);
		natsMsg_Destroy(s->d.msg);
		s->d.msg = NULL;
		put_slot(c, s);
	}
	c->q_tail = NULL;
}

void
js_consumer_request_stop(struct js_consumer *c)
{
	pthread_mutex_lock(&c->lock);
	if (!is_stopping(c)) {
		__atomic_store_n(&c->stopping, 1, __ATOMIC_RELEASE);
		/*
		 * Drain rather than unsubscribe: once the server has our
		 * unsubscribe it drops our pull requests, and whatever they had
		 * on its way (or libnats holds for us) is still read and handed
		 * back, instead of sitting out ack_wait at the server while
		 * other engines (or a reload's new consumers) could run it.
		 */
		c->draining = natsSubscription_Drain(c->sub) == NATS_OK;
		if (!c->draining)
			natsSubscription_Unsubscribe(c->sub);
	}
	hand_back_queue(c);
	pthread_cond_broadcast(&c->avail);
	pthread_mutex_unlock(&c->lock);
}

/* Read the draining inbox until the drain is over or `deadline` passes,
 * handing back every task (c->reading held by the caller, lock not). */
static void
hand_back_inbox(struct js_consumer *c, const struct timespec *deadline)
{
	for (;;) {
		struct timespec now;
		int64_t left;
		natsMsg *m = NULL;
		natsStatus s;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (deadline->tv_sec - now.tv_sec) * 1000 +
		       (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0 || !natsSubscription_IsValid(c->sub))
			break;
		s = natsSubscription_NextMsg(&m, c->sub, left < TICK_MS ? left : TICK_MS);
		if (s == NATS_OK) {
			if (status_of(m) == NULL)
				nak_now(c, m);
			natsMsg_Destroy(m);
		} else if (s != NATS_TIMEOUT && s != NATS_NO_RESPONDERS) {
			break; /* drained and closed, or the connection is */
		}
	}
}

bool
js_consumer_join(struct js_consumer *c, const struct timespec *deadline)
{
	bool idle;

	js_consumer_request_stop(c);
	/* A worker reading the inbox stops after its read (it hands back
	 * what it read); then this thread reads what the drain still
	 * brings. */
	pthread_mutex_lock(&c->lock);
	while (c->reading &&
	       pthread_cond_clockwait(&c->avail, &c->lock, CLOCK_MONOTONIC, deadline) == 0)
		;
	if (!c->reading && c->draining) {
		c->reading = true;
		pthread_mutex_unlock(&c->lock);
		hand_back_inbox(c, deadline);
		pthread_mutex_lock(&c->lock);
		c->reading = false;
		c->draining = false;
	}
	hand_back_queue(c);
	idle = !c->reading;
	pthread_mutex_unlock(&c->lock);
	/* Past the deadline, or the drain could not start: no more. */
	if (idle && natsSubscription_IsValid(c->sub))
		natsSubscription_Unsubscribe(c->sub);
	return idle;
}

bool
js_consumer_destroy(struct js_consumer *c)
{
	if (c == NULL)
		return true;
	/* A handler abandoned at shutdown still holds a slot (and its
	 * message points at the subscription): leave it all to the exit. */
	if (c->held > 0 || c->reading)
		return false;
	destroy_msgs(c->spent, c->spent_count);
	natsSubscription_Destroy(c->sub);
	for (size_t i = 0; i < c->block_count; i++)
		free(c->blocks[i]);
	free(c->blocks);
	free(c->pulls);
	pthread_cond_destroy(&c->avail);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return true;
}

void
js_consumer_tick(struct js_consumer *c, int64_t now)
{
	int64_t half = c->rc->ack_wait_ms / 2;
	natsMsg *spent[SPENT_MAX];
	unsigned n_spent;

	pthread_mutex_lock(&c->lock);
	/* A quiet route keeps no spent message past a tick. */
	n_spent = take_spent(c, spent);
	if (is_stopping(c))
		goto out;
	adapt_window(c, now);
	check_pulls(c, now);
	maybe_pull(c, now);
	/* Every worker busy: take in what waits in libnats, so its ack_wait
	 * is watched here and statuses are heard. */
	if (!c->reading)
		read_inbox(c, 0);
	for (struct js_slot *s = c->q_head; s != NULL; s = s->next) {
		const char *reply;

		if (now - s->beat_ms < half)
			continue;
		reply = natsMsg_GetReply(s->d.msg);
		if (reply != NULL && *reply != '\0')
			natsConnection_PublishString(c->env.ack_conn, reply, "+WPI");
		s->beat_ms = now;
	}
out:
	pthread_mutex_unlock(&c->lock);
	destroy_msgs(spent, n_spent);
}

bool
js_consumer_ok(struct js_consumer *c, char *why, size_t len)
{
	bool ok;

	pthread_mutex_lock(&c->lock);
	ok = !c->broken;
	if (!ok)
		snprintf(why, len, "route %s: %s", c->rc->name, c->problem);
	pthread_mutex_unlock(&c->lock);
	return ok;
}

void
js_consumer_note_ack_pending(struct js_consumer *c, uint64_t ack_pending, uint64_t max_ack_pending)
{
	bool held = max_ack_pending > 0 && ack_pending >= max_ack_pending;
	struct log_ctx ctx = { .route = c->rc->name };
	int64_t now = clock_mono_ms();

	pthread_mutex_lock(&c->lock);
	if (held && !c->at_max) {
		c->at_max_since_ms = now;
		log_write(TJ_LOG_WARNING, &ctx,
		          "jetstream: consumer %s/%s is held at max_ack_pending: %" PRIu64
		          " deliveries unacknowledged (retries waiting out their delay count); "
		          "the server hands the route nothing new until some settle",
		          c->rc->stream, c->rc->consumer, ack_pending);
	} else if (!held && c->at_max) {
		log_write(TJ_LOG_NOTICE, &ctx,
		          "jetstream: consumer %s/%s is no longer held at max_ack_pending "
		          "(%" PRIu64 " of %" PRIu64 " unacknowledged) after %" PRId64 " ms",
		          c->rc->stream, c->rc->consumer, ack_pending, max_ack_pending,
		          now - c->at_max_since_ms);
	}
	c->at_max = held;
	c->ack_pending = ack_pending;
	c->max_ack_pending = max_ack_pending;
	pthread_mutex_unlock(&c->lock);
}

bool
js_consumer_held(struct js_consumer *c, char *why, size_t len)
{
	bool held;

	pthread_mutex_lock(&c->lock);
	held = c->at_max;
	if (held)
		snprintf(why, len,
		         "route %s: held at max_ack_pending (%" PRIu64 " of %" PRIu64
		         " deliveries unacknowledged for %" PRId64 " s)",
		         c->rc->name, c->ack_pending, c->max_ack_pending,
		         (clock_mono_ms() - c->at_max_since_ms) / 1000);
	pthread_mutex_unlock(&c->lock);
	return held;
}

/* ---- setup ---- */

int
js_consumer_start(const struct js_consumer_env *env, struct route *route, struct js_consumer **c_r)
{
	struct js_consumer *c = xcalloc(1, sizeof(*c));
	const struct cfg_route *rc = route->cfg;
	natsInbox *inbox = NULL;
	char durable[256];
	natsStatus s;
	int rc_start = 0;

	c->env = *env;
	c->route = route;
	c->rc = rc;
	c->batch = rc->batch > 0 ? (unsigned)rc->batch : 1;
	c->window_min = (unsigned)rc->concurrency + (unsigned)(rc->prefetch > 0 ? rc->prefetch : 1);
	c->window_max = c->window_min;
	if (rc->prefetch_auto) {
		/* More than the durable lets stand unacknowledged would only
		 * wait at the server. */
		int64_t cap = topology_max_ack_pending(rc);

		if (cap > LOOKAHEAD_AUTO_MAX)
			cap = LOOKAHEAD_AUTO_MAX;
		if (cap > (int64_t)c->batch * LOOKAHEAD_AUTO_REQUESTS)
			cap = (int64_t)c->batch * LOOKAHEAD_AUTO_REQUESTS;
		if (cap > rc->prefetch)
			c->window_max = (unsigned)rc->concurrency + (unsigned)cap;
	}
	c->period_ms = clock_mono_ms();
	c->expires_ms = rc->fetch_wait_ms > 0 ? rc->fetch_wait_ms : 1000;
	/* The server wants 2 x heartbeat <= expires; below 1 s of expiry the
	 * request's own end tells soon enough that the server is gone. */
	c->heartbeat_ms = c->expires_ms >= 1000 ? c->expires_ms / 4 : 0;
	if (c->heartbeat_ms > 5000)
		c->heartbeat_ms = 5000;
	c->seen_reconnects = natsconn_reconnects(env->nc);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->avail, NULL);
	set_window(c, c->window_min);
	c->pulls = xcalloc(MAX_PULLS, sizeof(*c->pulls));
	snprintf(c->next_subject, sizeof(c->next_subject), "$JS.API.CONSUMER.MSG.NEXT.%s.%s",
	         rc->stream, topology_consumer_name(rc, durable, sizeof(durable)));
	s = natsInbox_Create(&inbox);
	if (s == NATS_OK) {
		snprintf(c->inbox, sizeof(c->inbox), "%s", (const char *)inbox);
		natsInbox_Destroy(inbox);
		s = natsConnection_SubscribeSync(&c->sub, natsconn_conn(env->nc), c->inbox);
	}
	/* We bound what arrives with our requests; never let libnats drop a
	 * message as a slow consumer. */
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(c->sub, -1, -1);
	if (s != NATS_OK) {
		log_err("jetstream: route %s: cannot subscribe its inbox: %s", rc->name,
		        natsStatus_GetText(s));
		rc_start = natsconn_errno(s);
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	maybe_pull(c, clock_mono_ms());
	pthread_mutex_unlock(&c->lock);
out:
	if (rc_start != 0) {
		struct timespec now;

		clock_mono_deadline(0, &now);
		js_consumer_join(c, &now);
		js_consumer_destroy(c);
		return rc_start;
	}
	*c_r = c;
	return 0;
}
