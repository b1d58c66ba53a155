/* SPDX-License-Identifier: MIT */
/*
 * The HTTP endpoint holds up against the host it runs on. `taskjet run` on
 * a real nats-server, while this test:
 *
 *   - holds 300 connections, 150 silent and 150 trickling a header byte
 *     every 500 ms, and asks /healthz and /readyz 20 times each: every
 *     answer within a second (the latencies are printed);
 *   - keeps trickling: the server still closes every held connection at
 *     its deadline (10 s), which bytes do not extend;
 *   - opens 70 connections from 127.0.0.2: the address holds at most 64;
 *   - freezes nats-server (SIGSTOP) with /metrics, /stats and DLQ requests
 *     waiting on it: the probes still answer within a second (/readyz
 *     saying not ready), and all is well again after SIGCONT;
 *   - runs it with few file descriptors (a limit of 192 connections) and
 *     holds 250: the oldest idle ones make room, the probes get in.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_client.h"
#include "run_harness.h"
#include "testing.h"

#define HELD 300
#define PROBES 20
#define PROBE_BOUND_MS 1000
#define DEADLINE_MS 10000
#define TRICKLE_MS 500

static struct e2e env;
static struct e2e_proc run;
static int port;

/* Held connections: their sockets and when the server closed each. */
static int held[HELD];
static int64_t closed_at[HELD];
static int64_t opened_ms;
static volatile int trickling;

static int
dial(const char *source)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (source != NULL) {
		struct sockaddr_in src = { .sin_family = AF_INET };

		inet_pton(AF_INET, source, &src.sin_addr);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
			close(fd);
			return -errno;
		}
	}
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Closed by the server (EOF or reset)? Reads and drops what came. */
static bool
server_closed(int fd)
{
	char buf[512];
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n > 0)
			continue;
		return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
	}
}

/* Odd connections trickle a header that never ends. */
static void *
trickler_main(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&trickling, __ATOMIC_ACQUIRE)) {
		for (int i = 1; i < HELD; i += 2)
			if (held[i] >= 0 && closed_at[i] == 0)
				send(held[i], "a", 1, MSG_NOSIGNAL);
		e2e_sleep_ms(TRICKLE_MS);
	}
	return NULL;
}

/* Ask `path` PROBES times; the slowest answer in ms (or -1 if one failed
 * or came back with another status than `want`; 0: 200 or 503). */
static int64_t
probe(const char *path, int want, int64_t *median_r)
{
	int64_t took[PROBES], max = 0;

	for (int i = 0; i < PROBES; i++) {
		int64_t t0 = e2e_now_ms();
		int code = http_get(port, path, 5000, NULL);

		took[i] = e2e_now_ms() - t0;
		if (want != 0 ? code != want : code != 200 && code != 503) {
			printf("# %s answered %d after %lld ms, wanted %d\n", path, code,
			       (long long)took[i], want);
			return -1;
		}
		if (took[i] > max)
			max = took[i];
	}
	/* A median for the report: sort the few numbers. */
	for (int i = 1; i < PROBES; i++)
		for (int j = i; j > 0 && took[j - 1] > took[j]; j--) {
			int64_t t = took[j];

			took[j] = took[j - 1];
			took[j - 1] = t;
		}
	*median_r = took[PROBES / 2];
	return max;
}

static int
count_open(void)
{
	int open = 0;

	for (int i = 0; i < HELD; i++) {
		if (held[i] < 0 || closed_at[i] != 0)
			continue;
		if (server_closed(held[i]))
			closed_at[i] = e2e_now_ms();
		else
			open++;
	}
	return open;
}

TEST(probes_answer_while_300_connections_are_held)
{
	static const char head[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ";
	pthread_t trickler;
	int64_t hz_max, rz_max, hz_med = 0, rz_med = 0;
	int open;

	for (int i = 0; i < HELD; i++) {
		held[i] = dial(NULL);
		closed_at[i] = 0;
		if (held[i] < 0) {
			testing_fail(__FILE__, __LINE__, "connection %d: %s", i,
			             strerror(-held[i]));
			return;
		}
		if (i % 2 == 1)
			send(held[i], head, sizeof(head) - 1, MSG_NOSIGNAL);
	}
	opened_ms = e2e_now_ms();
	__atomic_store_n(&trickling, 1, __ATOMIC_RELEASE);
	CHECK_INT(pthread_create(&trickler, NULL, trickler_main, NULL), 0);
	e2e_sleep_ms(1000);
	hz_max = probe("/healthz", 200, &hz_med);
	rz_max = probe("/readyz", 200, &rz_med);
	open = count_open();
	printf("# with %d of %d connections held (half trickling a byte every %d ms): "
	       "/healthz median %lld ms, max %lld ms; /readyz median %lld ms, max %lld ms "
	       "(%d probes each)\n",
	       open, HELD, TRICKLE_MS, (long long)hz_med, (long long)hz_max, (long long)rz_med,
	       (long long)rz_max, PROBES);
	CHECK_INT(open, HELD);
	CHECK_RANGE(hz_max, 0, PROBE_BOUND_MS);
	CHECK_RANGE(rz_max, 0, PROBE_BOUND_MS);

	/* Trickling on: the deadline still ends every one of them. */
	while (count_open() > 0 && e2e_now_ms() - opened_ms < DEADLINE_MS + 5000)
		e2e_sleep_ms(100);
	__atomic_store_n(&trickling, 0, __ATOMIC_RELEASE);
	pthread_join(trickler, NULL);
}

TEST(held_connections_end_at_their_deadline)
{
	int64_t first = INT64_MAX, last = 0;
	int closed = 0;

	for (int i = 0; i < HELD; i++) {
		if (closed_at[i] == 0)
			continue;
		closed++;
		if (closed_at[i] - opened_ms < first)
			first = closed_at[i] - opened_ms;
		if (closed_at[i] - opened_ms > last)
			last = closed_at[i] - opened_ms;
	}
	printf("# %d of %d held connections closed by the server, %lld..%lld ms after they "
	       "opened (deadline %d ms)\n",
	       closed, HELD, (long long)first, (long long)last, DEADLINE_MS);
	CHECK_INT(closed, HELD);
	/* Not before the deadline, and not long after it either. */
	CHECK_RANGE(first, DEADLINE_MS - 1500, DEADLINE_MS + 2000);
	CHECK_RANGE(last, DEADLINE_MS - 1500, DEADLINE_MS + 2000);
	for (int i = 0; i < HELD; i++)
		if (held[i] >= 0)
			close(held[i]);
}

TEST(one_address_holds_at_most_64)
{
	int fds[70], refused = 0, open = 0, n = 0;

	for (int i = 0; i < 70; i++) {
		fds[i] = dial("127.0.0.2");
		if (fds[i] >= 0)
			n++;
	}
	CHECK_INT(n, 70);
	e2e_sleep_ms(500);
	for (int i = 0; i < 70; i++) {
		if (fds[i] < 0)
			continue;
		if (server_closed(fds[i]))
			refused++;
		else
			open++;
	}
	printf("# 70 connections from 127.0.0.2: %d held, %d closed at once\n", open, refused);
	CHECK_INT(open, 64);
	CHECK_INT(refused, 6);
	/* The loopback address is not limited, and is served meanwhile. */
	CHECK_INT(http_get(port, "/healthz", 1000, NULL), 200);
	for (int i = 0; i < 70; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Requests that wait on the server, fired and left waiting. */
struct waiting {
	pthread_t t;
	const char *path;
	int code;
};

static void *
waiting_main(void *arg)
{
	struct waiting *w = arg;

	w->code = http_get(port, w->path, 30000, NULL);
	return NULL;
}

TEST(probes_answer_while_the_server_is_frozen)
{
	static const char *const paths[] = { "/metrics", "/stats",        "/api/v1/dlq", "/metrics",
		                             "/stats",   "/api/v1/dlq/1", "/metrics",    "/stats" };
	struct waiting w[8];
	int64_t hz_max, rz_max, hz_med = 0, rz_med = 0;

	CHECK_INT(kill(env.srv.pid, SIGSTOP), 0);
	for (int i = 0; i < 8; i++) {
		w[i].path = paths[i];
		w[i].code = 0;
		pthread_create(&w[i].t, NULL, waiting_main, &w[i]);
	}
	e2e_sleep_ms(300);
	hz_max = probe("/healthz", 200, &hz_med);
	/* Ready or not (the refresher is finding out), but at once. */
	rz_max = probe("/readyz", 0, &rz_med);
	/* Soon the cache says what a probe needs to hear. */
	for (int i = 0; i < 50 && http_get(port, "/readyz", 1000, NULL) != 503; i++)
		e2e_sleep_ms(100);
	CHECK_INT(http_get(port, "/readyz", 1000, NULL), 503);
	printf("# nats-server frozen, 8 requests waiting on it: /healthz median %lld ms, max %lld "
	       "ms; /readyz median %lld ms, max %lld ms\n",
	       (long long)hz_med, (long long)hz_max, (long long)rz_med, (long long)rz_max);
	CHECK_RANGE(hz_max, 0, PROBE_BOUND_MS);
	CHECK_RANGE(rz_max, 0, PROBE_BOUND_MS);
	CHECK_INT(kill(env.srv.pid, SIGCONT), 0);
	for (int i = 0; i < 8; i++) {
		pthread_join(w[i].t, NULL);
		/* Each answered: with what the server said, or 404/503. */
		CHECK_TRUE(w[i].code == 200 || w[i].code == 404 || w[i].code == 503);
	}
	for (int i = 0; i < 100 && http_get(port, "/readyz", 1000, NULL) != 200; i++)
		e2e_sleep_ms(100);
	CHECK_INT(http_get(port, "/readyz", 1000, NULL), 200);
}

/*
 * At the connection limit the oldest idle connection makes room: run the
 * engine with few file descriptors (so its limit is 192), hold 250 silent
 * connections, and the probes still get in.
 */
TEST(at_the_limit_the_oldest_idle_connection_makes_room)
{
	struct rlimit saved, low = { .rlim_cur = 320, .rlim_max = 0 };
	struct e2e_proc small;
	int fds[250], open = 0, evicted = 0, early_gone = 0, late_gone = 0, saved_port = port;

	CHECK_INT(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low.rlim_max = saved.rlim_max;
	CHECK_INT(setrlimit(RLIMIT_NOFILE, &low), 0);
	CHECK_INT(e2e_run_start(&env, &small, 15000), 0);
	setrlimit(RLIMIT_NOFILE, &saved);
	CHECK_INT(e2e_file_count(small.log, "serving at most 192 connections"), 1);
	port = e2e_http_port(&small);
	for (int i = 0; i < 250; i++)
		fds[i] = dial(NULL);
	e2e_sleep_ms(500);
	CHECK_INT(http_get(port, "/healthz", 1000, NULL), 200);
	CHECK_INT(http_get(port, "/readyz", 1000, NULL), 200);
	for (int i = 0; i < 250; i++) {
		bool gone = fds[i] >= 0 && server_closed(fds[i]);

		evicted += gone;
		open += fds[i] >= 0 && !gone;
		/* The server's two event loops register connections about,
		 * not exactly, in the order they were dialled. */
		if (i < 60)
			early_gone += gone;
		if (i >= 150)
			late_gone += gone;
		if (fds[i] >= 0)
			close(fds[i]);
	}
	printf("# limit 192: of 250 silent connections %d held, %d made room (%d of the "
	       "first 60, %d of the last 100)\n",
	       open, evicted, early_gone, late_gone);
	CHECK_RANGE(evicted, 58, 70);
	CHECK_RANGE(open, 180, 192);
	CHECK_RANGE(early_gone, 50, 60);
	CHECK_INT(late_gone, 0);
	e2e_stop_checked(&small, 20000, NULL);
	port = saved_port;
}

int
main(void)
{
	bool must_fail;
	int rc;

	if (!nats_server_available("http_hold", &must_fail))
		return must_fail ? 1 : 0;
	rc = e2e_setup(&env);
	if (rc == 0)
		rc = e2e_write_config(&env, "\"http\": { \"listen\": \"127.0.0.1:0\" },",
		                      "[ { \"name\": \"noop\", \"stream\": \"TASKS\", \"subject\": "
		                      "\"tasks.noop\", \"plugin\": \"fx_noop\" } ]");
	if (rc == 0)
		rc = e2e_run_start(&env, &run, 15000);
	if (rc == 0) {
		port = e2e_http_port(&run);
		rc = port > 0 ? 0 : -ENOENT;
	}
	if (rc != 0) {
		printf("Bail out! setup failed: %s\n", strerror(-rc));
		e2e_proc_stop(&run, SIGKILL, 5000);
		e2e_teardown(&env);
		return 1;
	}
	for (int i = 0; i < 100 && http_get(port, "/readyz", 1000, NULL) != 200; i++)
		e2e_sleep_ms(100);
	RUN(probes_answer_while_300_connections_are_held);
	RUN(held_connections_end_at_their_deadline);
	RUN(one_address_holds_at_most_64);
	RUN(probes_answer_while_the_server_is_frozen);
	RUN(at_the_limit_the_oldest_idle_connection_makes_room);
	e2e_stop_checked(&run, 20000, NULL);
	e2e_teardown(&env);
	return testing_done();
}
