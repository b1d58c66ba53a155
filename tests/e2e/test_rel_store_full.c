/* SPDX-License-Identifier: MIT */
/*
 * Reliability: the server's store directory fills up under load
 * (docs/reliability.md, "The store fills up"). The store lives on a 16 MiB
 * tmpfs mounted for the test (root, or CAP_SYS_ADMIN, is needed: without
 * it the test fails in CI and is skipped, saying why, elsewhere). With
 * `taskjet run` working off a backlog, a file fills the rest of the file
 * system; then:
 *   - publishes are refused (no ack: the publisher must keep the task and
 *     publish it again under its id), and so is POST /api/v1/tasks;
 *   - /readyz turns 503 and says why; the engine keeps running;
 *   - once space returns, the server is restarted if it did not recover
 *     by itself (nats-server 2.9.10 does not: its JetStream deadlocks on
 *     the first failed write and even ignores SIGTERM), the engine
 *     reconnects, the refused tasks are published again, and every task
 *     is handled: nothing lost.
 * What the server did is printed as it happened, not assumed.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_client.h"
#include "run_harness.h"
#include "testing.h"

#define READY_MS 20000
#define STOP_MS 30000
#define TASKS_BEFORE 400 /* published while there is room */
/* Tried once the disk is full, 4 KiB each: the last page of the store's
 * block file takes a few before a write needs a new one. */
#define FULL_TRIES_MAX 200
#define REFUSED_WANTED 5 /* stop trying after this many refusals */
#define BIG 4096
#define FS_SIZE "16m"

static struct e2e env;
static struct e2e_proc proc;
static int http_port;

static bool
in_ci(void)
{
	const char *ci = getenv("CI");

	return ci != NULL && *ci != '\0';
}

/* A FS_SIZE tmpfs on `dir`: 0, or -errno with `why` saying what failed. */
static int
mount_store(const char *dir, char *why, size_t len)
{
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=" FS_SIZE ",mode=0700") == 0)
		return 0;
	snprintf(why, len,
	         "cannot mount a %s tmpfs for the store (%s): needs root or CAP_SYS_ADMIN", FS_SIZE,
	         strerror(errno));
	return -1;
}

/* Can this process mount a file system? False with `why` if not. In a
 * mount namespace of its own when it may make one: its mounts (seen by
 * the nats-server it starts) then end with it, even if it crashes. */
static bool
can_mount(char *why, size_t len)
{
	char dir[] = "/tmp/taskjet-mnt-XXXXXX";
	bool ok;

	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mkdtemp(dir) == NULL) {
		snprintf(why, len, "mkdtemp: %s", strerror(errno));
		return false;
	}
	ok = mount_store(dir, why, len) == 0;
	if (ok)
		umount2(dir, MNT_DETACH);
	rmdir(dir);
	return ok;
}

/* Fill the file system under `dir` with one file; its size in bytes. */
static long long
fill(const char *path)
{
	static char chunk[1 << 16];
	long long total = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	memset(chunk, 'f', sizeof(chunk));
	for (;;) {
		ssize_t n = write(fd, chunk, sizeof(chunk));

		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	return total;
}

static bool
readyz_is(void *arg)
{
	return http_get(http_port, "/readyz", 2000, NULL) == *(int *)arg;
}

static bool
all_done(void *arg)
{
	uint64_t pending = 1, ack_pending = 1;

	return e2e_records_done_now(env.record) >= *(size_t *)arg &&
	       e2e_consumer_pending(&env, "TASKS", "taskjet-work", &pending, &ack_pending) == 0 &&
	       pending == 0 && ack_pending == 0;
}

static bool
some_done(void *arg)
{
	return e2e_file_count(env.record, " done ") >= *(size_t *)arg;
}

TEST(store_full_refuses_publishes_and_loses_nothing)
{
	static const char routes[] =
	    "[ { \"name\": \"work\", \"stream\": \"TASKS\", \"subject\": \"tasks.work\", "
	    "\"plugin\": \"fx_ledger\", \"concurrency\": 4, \"max_attempts\": 20, "
	    "\"ack_wait\": \"2s\", \"fetch_wait\": \"500ms\", "
	    "\"config\": { \"sleep_ms\": 20, \"record_file\": \"%s\" } } ]";
	static const char task[] = "{\"subject\":\"tasks.work\",\"payload\":\"x\"}";
	char post[256];
	char buf[1024], filler[300], id[32], *body = NULL, *resp = NULL, big[BIG + 1];
	size_t n = TASKS_BEFORE, accepted = 0, first_refused = 0;
	const char *dir;
	bool mounted = false, recovered;
	size_t want = 50, done_at_full, done_after;
	int refused = 0, want_code, post_code, stop_rc;
	long long filled;
	int64_t t_full, t_unready = -1, t_post;
	struct e2e_tally t = { 0 };
	pid_t pid;

	CHECK_INT(e2e_setup_dir(&env), 0);
	dir = nats_server_dir(&env.srv);
	CHECK_TRUE(dir != NULL);
	if (testing_failed())
		goto out;
	if (mount_store(dir, buf, sizeof(buf)) != 0) {
		testing_fail(__FILE__, __LINE__, "%s", buf);
		goto out;
	}
	mounted = true;
	CHECK_INT(nats_server_start_in_dir(&env.srv), 0);
	if (!testing_failed())
		CHECK_INT(e2e_connect(&env), 0);
	snprintf(buf, sizeof(buf), routes, env.record);
	if (!testing_failed())
		CHECK_INT(e2e_write_config(&env,
		                           "\"http\": { \"listen\": \"127.0.0.1:0\" }, "
		                           "\"shutdown_grace\": \"5s\",",
		                           buf),
		          0);
	if (!testing_failed())
		CHECK_INT(e2e_run_start(&env, &proc, READY_MS), 0);
	if (testing_failed())
		goto out;
	pid = proc.pid;
	http_port = e2e_http_port(&proc);
	CHECK_TRUE(http_port > 0);
	CHECK_INT(e2e_publish_many(&env, "tasks.work", "t", 0, TASKS_BEFORE), 0);
	CHECK_TRUE(e2e_wait_for(some_done, &want, 20000));
	if (testing_failed())
		goto out;

	/* The disk fills up under the running engine. */
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	filled = fill(filler);
	t_full = e2e_now_ms();
	done_at_full = e2e_file_count(env.record, " done ");
	CHECK_TRUE(filled > 0);
	/* Publish until the store refuses; then see what /readyz says; then
	 * a few more, all refused. */
	memset(big, ' ', BIG);
	memcpy(big, "{}", 2);
	big[BIG] = '\0';
	for (n = TASKS_BEFORE; n < TASKS_BEFORE + FULL_TRIES_MAX && refused < REFUSED_WANTED; n++) {
		int64_t t1 = e2e_now_ms();

		snprintf(id, sizeof(id), "t-%zu", n);
		if (e2e_publish_once(&env, "tasks.work", big, id, 1000) == 0) {
			accepted++;
			continue;
		}
		if (refused++ > 0)
			continue;
		/* The first write that needed room. */
		first_refused = n;
		t_full = t1;
		want_code = 503;
		if (e2e_wait_for(readyz_is, &want_code, 15000))
			t_unready = e2e_now_ms() - t_full;
	}
	/* No ack: the publisher cannot count these as stored. */
	CHECK_INT(refused, REFUSED_WANTED);
	CHECK_TRUE(t_unready >= 0);
	CHECK_INT(http_get(http_port, "/readyz", 2000, &body), 503);
	CHECK_CONTAINS(body, "\"reason\":\"route work: consumer TASKS/taskjet-work: JetStream did "
	                     "not answer within");
	printf("# store full (%lld bytes of filler): %zu publishes (4 KiB) still taken, then "
	       "%d refused; /readyz 503 %lld ms after the first refused one: %s\n",
	       filled, accepted, refused, (long long)t_unready, body ? body : "(none)");
	snprintf(post, sizeof(post),
	         "POST /api/v1/tasks HTTP/1.0\r\nHost: 127.0.0.1\r\n"
	         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	         strlen(task), task);
	t_post = e2e_now_ms();
	post_code = http_request(http_port, post, 30000, &resp);
	CHECK_TRUE(post_code < 200 || post_code > 299);
	printf("# POST /api/v1/tasks while full: %d after %lld ms\n", post_code,
	       (long long)(e2e_now_ms() - t_post));
	done_after = e2e_file_count(env.record, " done ");
	printf("# tasks handled while the store was full: %zu (the backlog: %d)\n",
	       done_after - done_at_full, TASKS_BEFORE);
	CHECK_INT(waitpid(pid, &proc.status, WNOHANG), 0); /* still running */

	/* Space returns. Did the server recover by itself? */
	CHECK_INT(unlink(filler), 0);
	e2e_sleep_ms(2000);
	snprintf(id, sizeof(id), "t-%zu", first_refused);
	recovered = e2e_publish_once(&env, "tasks.work", "{}", id, 2000) == 0;
	printf("# space freed: the server %s by itself\n",
	       recovered ? "recovered" : "did not recover");
	if (!recovered) {
		/* What an operator does: restart it (SIGTERM, then SIGKILL). */
		stop_rc = nats_server_stop_within(&env.srv, SIGTERM, 3000);
		printf("# server restarted on the same store (%s)\n",
		       stop_rc == -ETIMEDOUT ? "it ignored SIGTERM for 3 s: SIGKILLed"
		                             : "stopped by SIGTERM");
		CHECK_INT(nats_server_restart(&env.srv), 0);
	}
	/* The refused tasks, published again under their ids. */
	for (size_t i = first_refused; i < n && !testing_failed(); i++) {
		snprintf(id, sizeof(id), "t-%zu", i);
		CHECK_INT(e2e_publish(&env, "tasks.work", "{}", id, NULL, NULL), 0);
	}
	CHECK_TRUE(e2e_wait_for(all_done, &n, 60000));
	want_code = 200;
	CHECK_TRUE(e2e_wait_for(readyz_is, &want_code, 15000));
	CHECK_INT(proc.pid, pid);
	e2e_stop_checked(&proc, STOP_MS, NULL);
	CHECK_INT(e2e_tally(&env, env.record, "TASKS", "t", n, &t), 0);
	e2e_tally_print("store full", &t);
	CHECK_INT(t.lost, 0);
	CHECK_INT(t.dead, 0);
	CHECK_INT(t.pending, 0);
	CHECK_INT(t.handled, n);
out:
	if (proc.pid != 0) {
		e2e_proc_stop(&proc, SIGKILL, STOP_MS);
		e2e_proc_dump(&proc);
	} else if (testing_failed() && proc.log[0] != '\0') {
		e2e_proc_dump(&proc);
	}
	free(body);
	free(resp);
	nats_server_stop(&env.srv, SIGKILL);
	if (mounted && umount2(dir, MNT_DETACH) != 0)
		testing_fail(__FILE__, __LINE__, "umount %s: %s", dir, strerror(errno));
	e2e_teardown(&env);
}

int
main(void)
{
	bool must_fail;

	char why[300];

	if (!nats_server_available("reliability: store full", &must_fail))
		return must_fail ? 1 : 0;
	/* A file system of our own needs privileges: CI has them (it runs as
	 * root and installs packages); elsewhere say why it cannot run. */
	if (!can_mount(why, sizeof(why)) && !in_ci())
		testing_skip("store_full_refuses_publishes_and_loses_nothing", why);
	else
		RUN(store_full_refuses_publishes_and_loses_nothing);
	nats_Close();
	return testing_done();
}
