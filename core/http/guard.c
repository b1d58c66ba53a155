/* SPDX-License-Identifier: MIT */
/*
 * Connections held to deadlines and limits. libmicrohttpd's timeout is an
 * idle timeout that every byte restarts, so a client trickling a byte now
 * and then holds a connection forever. Here each connection has an
 * absolute deadline for its current request (HTTP_DEADLINE_MS from the
 * moment it became ready for it: accepted, or its last reply sent), and a
 * sweeper thread shuts down the socket of any that passes it while no
 * handler works on it. At the connection limit the oldest idle connection
 * is shut down to admit the new one, so a flood of held connections cannot
 * keep a probe out; an address other than the loopback one may hold at
 * most HTTP_MAX_PER_ADDRESS connections.
 *
 * libmicrohttpd reports a connection closed (NOTIFY_CLOSED) before it
 * closes the socket, and the record goes under the same lock the sweeper
 * holds while it calls shutdown(): a descriptor is never shut down once
 * it may have been reused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "http/internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/ticker.h"
#include "util/xalloc.h"

#define SWEEP_INTERVAL_MS 250
/* Descriptors kept for everything else the engine opens. */
#define FD_RESERVE 128
#define MIN_CONNECTIONS 64

/* One connection. */
struct tracked {
	struct tracked *prev, *next; /* oldest first */
	int fd;
	int64_t deadline_ms;
	bool busy; /* a handler works on its request: no deadline */
	bool shut; /* shut down by us; closing */
	struct peer *peer; /* NULL: the loopback address, not counted */
};

/* Connections per address other than the loopback one. */
struct peer {
	struct peer *next;
	int family;
	unsigned char addr[16];
	unsigned count;
};

struct http_guard {
	pthread_mutex_t lock;
	struct tracked *head, *tail;
	unsigned count;
	unsigned limit;
	struct peer *peers;
	struct ticker *sweeper;
};

/* The address of `sa` as bytes, and whether it is 127.0.0.1 or ::1 (or
 * ::ffff:127.0.0.1), the address local probes come from. */
static bool
address_of(const struct sockaddr *sa, int *family_r, unsigned char addr[16])
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };
	static const unsigned char v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(addr, 0, 16);
	*family_r = sa != NULL ? sa->sa_family : AF_UNSPEC;
	if (*family_r == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memcpy(addr, &in->sin_addr, 4);
		return in->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	}
	if (*family_r == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(addr, &in6->sin6_addr, 16);
		return memcmp(addr, v6_loopback, 16) == 0 ||
		       (memcmp(addr, v4_mapped, 12) == 0 && addr[12] == 127 && addr[13] == 0 &&
		        addr[14] == 0 && addr[15] == 1);
	}
	return true; /* not an IP peer: nothing to count it by */
}

static struct peer *
find_peer(struct http_guard *g, int family, const unsigned char addr[16])
{
	for (struct peer *p = g->peers; p != NULL; p = p->next)
		if (p->family == family && memcmp(p->addr, addr, 16) == 0)
			return p;
	return NULL;
}

static void
peer_release(struct http_guard *g, struct peer *p)
{
	struct peer **link = &g->peers;

	if (p == NULL || --p->count > 0)
		return;
	while (*link != p)
		link = &(*link)->next;
	*link = p->next;
	free(p);
}

/* Shut down the oldest connection no handler works on. Under the lock. */
static void
evict_oldest(struct http_guard *g)
{
	for (struct tracked *t = g->head; t != NULL; t = t->next) {
		if (t->busy || t->shut)
			continue;
		shutdown(t->fd, SHUT_RDWR);
		t->shut = true;
		return;
	}
}

enum MHD_Result
guard_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_guard *g = cls;
	unsigned char bytes[16];
	struct peer *p;
	int family;
	bool ok = true;

	pthread_mutex_lock(&g->lock);
	if (!address_of(addr, &family, bytes)) {
		p = find_peer(g, family, bytes);
		ok = p == NULL || p->count < HTTP_MAX_PER_ADDRESS;
	}
	if (ok && g->count >= g->limit)
		evict_oldest(g);
	pthread_mutex_unlock(&g->lock);
	return ok ? MHD_YES : MHD_NO;
}

static struct tracked *
tracked_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci != NULL ? ci->socket_context : NULL;
}

void
guard_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                    enum MHD_ConnectionNotificationCode toe)
{
	struct http_guard *g = cls;
	struct tracked *t;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *peer =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		unsigned char bytes[16];
		int family;

		t = xcalloc(1, sizeof(*t));
		t->fd = fd != NULL ? fd->connect_fd : -1;
		t->deadline_ms = clock_mono_ms() + HTTP_DEADLINE_MS;
		pthread_mutex_lock(&g->lock);
		if (!address_of(peer != NULL ? peer->client_addr : NULL, &family, bytes)) {
			t->peer = find_peer(g, family, bytes);
			if (t->peer == NULL) {
				t->peer = xcalloc(1, sizeof(*t->peer));
				t->peer->family = family;
				memcpy(t->peer->addr, bytes, 16);
				t->peer->next = g->peers;
				g->peers = t->peer;
			}
			/* Exact here, under the lock (two event loops may both
			 * have let one more in): the one over the limit goes. */
			if (++t->peer->count > HTTP_MAX_PER_ADDRESS) {
				shutdown(t->fd, SHUT_RDWR);
				t->shut = true;
			}
		}
		t->prev = g->tail;
		if (g->tail != NULL)
			g->tail->next = t;
		else
			g->head = t;
		g->tail = t;
		g->count++;
		pthread_mutex_unlock(&g->lock);
		*socket_context = t;
		return;
	}
	t = *socket_context;
	if (t == NULL)
		return;
	pthread_mutex_lock(&g->lock);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		g->head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	else
		g->tail = t->prev;
	g->count--;
	peer_release(g, t->peer);
	pthread_mutex_unlock(&g->lock);
	free(t);
	*socket_context = NULL;
}

/* A handler works on the connection's request (no deadline), or it does
 * not (the deadline starts now). Atomics: the sweeper reads them. */
static void
mark(struct MHD_Connection *conn, bool busy)
{
	struct tracked *t = tracked_of(conn);

	if (t == NULL)
		return;
	__atomic_store_n(&t->busy, busy, __ATOMIC_RELEASE);
	if (!busy)
		__atomic_store_n(&t->deadline_ms, clock_mono_ms() + HTTP_DEADLINE_MS,
		                 __ATOMIC_RELEASE);
}

void
guard_busy(struct MHD_Connection *conn)
{
	mark(conn, true);
}

void
guard_reply_queued(struct MHD_Connection *conn)
{
	mark(conn, false);
}

void
guard_request_done(struct MHD_Connection *conn)
{
	mark(conn, false);
}

/* Shut down the connections past their deadline (the sweeper, often). */
static void
sweep(void *arg)
{
	struct http_guard *g = arg;
	int64_t now = clock_mono_ms();

	pthread_mutex_lock(&g->lock);
	for (struct tracked *t = g->head; t != NULL; t = t->next) {
		if (t->shut || __atomic_load_n(&t->busy, __ATOMIC_ACQUIRE) ||
		    now < __atomic_load_n(&t->deadline_ms, __ATOMIC_ACQUIRE))
			continue;
		shutdown(t->fd, SHUT_RDWR);
		t->shut = true;
	}
	pthread_mutex_unlock(&g->lock);
}

/* The connection limit the descriptors allow. */
static unsigned
fd_bound(unsigned wanted)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= (rlim_t)wanted + FD_RESERVE)
		return wanted;
	if (rl.rlim_cur < (rlim_t)MIN_CONNECTIONS + FD_RESERVE)
		return MIN_CONNECTIONS;
	return (unsigned)(rl.rlim_cur - FD_RESERVE);
}

int
guard_start(unsigned max_connections, struct http_guard **g_r)
{
	struct http_guard *g = xcalloc(1, sizeof(*g));
	int rc;

	pthread_mutex_init(&g->lock, NULL);
	g->limit = fd_bound(max_connections);
	if (g->limit < max_connections)
		log_notice("http: serving at most %u connections (the open-file limit is low: "
		           "raise LimitNOFILE for more)",
		           g->limit);
	rc = ticker_start(SWEEP_INTERVAL_MS, sweep, g, &g->sweeper);
	if (rc < 0) {
		guard_free(g);
		return rc;
	}
	*g_r = g;
	return 0;
}

unsigned
guard_limit(const struct http_guard *g)
{
	return g->limit;
}

void
guard_stop(struct http_guard *g)
{
	if (g == NULL)
		return;
	ticker_stop(g->sweeper);
	g->sweeper = NULL;
}

void
guard_free(struct http_guard *g)
{
	if (g == NULL)
		return;
	guard_stop(g);
	/* The daemon is stopped: every connection was reported closed. */
	pthread_mutex_destroy(&g->lock);
	free(g);
}
