/* SPDX-License-Identifier: MIT */
/*
 * The process pool against the real worker program and the fx_isolate
 * fixture: host calls from a worker, crashes, hangs, limits, init failures
 * with backoff and readiness, and a destroy that leaves no process and no
 * descriptor behind. Waits are bounded polls, never tight timings.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "task/router.h"
#include "plugin/procpool.h"
#include "util/clock.h"
#include "fake_backend.h"
#include "testing.h"

#define ERRLEN 512

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static char tmpdir[64];

/* What the host callbacks were asked. */
struct rec {
	pthread_mutex_t lock;
	int publish_rc, in_progress_rc;
	unsigned publishes, in_progress;
	const struct tj_task *publish_task;
	char subject[128];
	size_t len;
	char data[64];
	bool data_all_x;
	struct {
		int level;
		char line[256];
		char route[32], plugin[32];
		uint64_t seq;
		uint32_t attempt;
	} logs[64];
	unsigned nlogs;
};

static struct rec rec = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int
rec_publish(void *ctx, struct tj_task *task, const char *subject, const void *data, size_t len)
{
	struct rec *r = ctx;
	const char *p = data;

	pthread_mutex_lock(&r->lock);
	r->publishes++;
	r->publish_task = task;
	snprintf(r->subject, sizeof(r->subject), "%s", subject);
	snprintf(r->data, sizeof(r->data), "%.*s", (int)(len < 63 ? len : 63), p);
	r->len = len;
	r->data_all_x = true;
	for (size_t i = 0; i < len; i++)
		r->data_all_x &= p[i] == 'x';
	pthread_mutex_unlock(&r->lock);
	return r->publish_rc;
}

static int
rec_in_progress(void *ctx, struct tj_task *task)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->lock);
	r->in_progress++;
	pthread_mutex_unlock(&r->lock);
	return r->in_progress_rc;
}

static void
rec_log(void *ctx, const struct log_ctx *where, int level, const char *line)
{
	struct rec *r = ctx;

	pthread_mutex_lock(&r->lock);
	if (r->nlogs < sizeof(r->logs) / sizeof(r->logs[0])) {
		unsigned i = r->nlogs++;

		r->logs[i].level = level;
		snprintf(r->logs[i].line, sizeof(r->logs[i].line), "%s", line);
		snprintf(r->logs[i].route, sizeof(r->logs[i].route), "%s",
		         where->route ? where->route : "");
		snprintf(r->logs[i].plugin, sizeof(r->logs[i].plugin), "%s",
		         where->plugin ? where->plugin : "");
		r->logs[i].seq = where->seq;
		r->logs[i].attempt = where->attempt;
	}
	pthread_mutex_unlock(&r->lock);
}

static const struct procpool_host rec_host = {
	.publish = rec_publish,
	.in_progress = rec_in_progress,
	.log = rec_log,
	.ctx = &rec,
};

static void
rec_reset(void)
{
	pthread_mutex_lock(&rec.lock);
	rec.publish_rc = rec.in_progress_rc = 0;
	rec.publishes = rec.in_progress = rec.nlogs = 0;
	rec.publish_task = NULL;
	rec.subject[0] = rec.data[0] = '\0';
	rec.len = 0;
	pthread_mutex_unlock(&rec.lock);
}

/* The index of the first log line containing `needle`, or -1. */
static int
logged(const char *needle)
{
	int found = -1;

	pthread_mutex_lock(&rec.lock);
	for (unsigned i = 0; i < rec.nlogs && found < 0; i++)
		if (strstr(rec.logs[i].line, needle) != NULL)
			found = (int)i;
	pthread_mutex_unlock(&rec.lock);
	return found;
}

static struct cfg_route route_cfg = { .name = "r", .max_attempts = 5 };
static struct route route = { .cfg = &route_cfg };

static void
task_init(struct tj_task *t, const char *payload)
{
	memset(t, 0, sizeof(*t));
	t->subject = "tasks.a";
	t->payload = payload;
	t->payload_len = strlen(payload);
	t->stream = "TASKS";
	t->stream_seq = 7;
	t->attempt = 2;
	snprintf(t->id, sizeof(t->id), "TASKS:7");
	t->route = &route;
	t->retry_after_ms = -1;
}

static int
pool_new(const char *plugin, unsigned workers, const char *config,
         const struct procpool_limits *limits, int64_t timeout_ms, char *err,
         struct procpool **pool_r)
{
	struct procpool_options o = {
		.plugin_dir = FIXTURE_PLUGIN_DIR,
		.plugin = plugin,
		.route = "r",
		.config_json = config,
		.config_len = config != NULL ? strlen(config) : 0,
		.workers = workers,
		.timeout_ms = timeout_ms,
		.respawn_initial_ms = 100,
		.respawn_max_ms = 400,
		.init_timeout_ms = 10000,
	};

	if (limits != NULL)
		o.limits = *limits;
	err[0] = '\0';
	*pool_r = NULL;
	return procpool_create(&o, &rec_host, err, ERRLEN, pool_r);
}

/* Run `payload` on `slot`; the outcome, and the task for its results. */
static struct procpool_outcome
run(struct procpool *pool, unsigned slot, struct tj_task *t, const char *payload)
{
	struct procpool_outcome out;

	task_release(t);
	task_init(t, payload);
	memset(&out, 0xff, sizeof(out));
	CHECK_INT(procpool_call(pool, slot, t, 0, &out), 0);
	return out;
}

/* Run `payload` as a task whose message carries `headers`; the handler's
 * fail reason (it reports what it saw through it), or "" (malloc'd). */
static char *
run_with_headers(struct procpool *pool, const char *payload, const struct msg_header *headers,
                 size_t count)
{
	struct fake_backend fb;
	struct procpool_outcome out;
	struct tj_task t;
	char *reason;

	fake_backend_init(&fb);
	fb.headers = headers;
	fb.header_count = count;
	task_init(&t, payload);
	t.backend = &fb.base;
	CHECK_INT(procpool_call(pool, 0, &t, 0, &out), 0);
	CHECK_INT(out.verdict, TJ_FAIL);
	reason = strdup(t.fail_reason != NULL ? t.fail_reason : "");
	task_release(&t);
	fake_backend_fini(&fb);
	return reason;
}

static size_t
count_fds(void)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* No child of ours is left, running or zombie. */
static bool
no_children(void)
{
	int status;

	return waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

/* Running (a zombie waiting for a reaper that is not us counts as gone). */
static bool
alive(pid_t pid)
{
	char path[64], buf[512], *close_paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	close_paren = strrchr(buf, ')');
	return close_paren != NULL && close_paren[1] == ' ' && close_paren[2] != 'Z';
}

TEST(calls_see_the_task_and_config_as_in_thread_mode)
{
	struct procpool *pool = NULL;
	struct procpool_outcome out;
	struct procpool_stats st;
	char err[ERRLEN], why[256];
	struct tj_task t;

	rec_reset();
	memset(&t, 0, sizeof(t));
	CHECK_INT(pool_new("fx_isolate", 2, "{\"greeting\":\"hi\",\"n\":7,\"flag\":true}", NULL, 0,
	                   err, &pool),
	          0);
	if (pool == NULL) {
		testing_fail(__FILE__, __LINE__, "create: %s", err);
		return;
	}
	CHECK_TRUE(procpool_ready(pool, why, sizeof(why)));
	CHECK_TRUE(procpool_slot_live(pool, 1));
	CHECK_FALSE(procpool_slot_live(pool, 2));

	out = run(pool, 0, &t, "ok");
	CHECK_INT(out.result, PROCPOOL_VERDICT);
	CHECK_INT(out.verdict, TJ_DONE);
	CHECK_TRUE(t.fail_reason == NULL);
	CHECK_INT(t.retry_after_ms, -1);

	out = run(pool, 1, &t, "meta");
	CHECK_INT(out.verdict, TJ_FAIL);
	CHECK_STR(t.fail_reason, "tasks.a|TASKS:7|2/5|none");
	/* With a deadline, task_time_left_ms says how much is left. */
	task_release(&t);
	task_init(&t, "meta");
	CHECK_INT(procpool_call(pool, 1, &t, clock_mono_ms() + 60000, &out), 0);
	CHECK_STR(t.fail_reason, "tasks.a|TASKS:7|2/5|some");

	out = run(pool, 0, &t, "config");
	CHECK_STR(t.fail_reason, "greeting=hi n=7 flag=1 json=7");

	out = run(pool, 1, &t, "reason");
	CHECK_INT(out.result, PROCPOOL_VERDICT);
	CHECK_INT(out.verdict, TJ_RETRY);
	CHECK_STR(t.fail_reason, "bad thing: TASKS:7");
	CHECK_INT(t.retry_after_ms, 1234);

	/* The next call starts clean. */
	out = run(pool, 1, &t, "ok");
	CHECK_TRUE(t.fail_reason == NULL);
	CHECK_INT(t.retry_after_ms, -1);

	procpool_stats(pool, &st);
	CHECK_INT(st.calls, 6);
	CHECK_INT(st.spawns, 2);
	CHECK_INT(st.crashes, 0);
	CHECK_INT(procpool_call(pool, 2, &t, 0, &out), -EINVAL);
	task_release(&t);
	procpool_destroy(pool);
}

TEST(host_calls_from_a_worker_reach_the_engine)
{
	struct msg_header headers[] = { { "X-One", "1" }, { "X-Two", "a" }, { "X-Two", "b" } };
	struct procpool *pool = NULL;
	struct procpool_outcome out;
	char err[ERRLEN], *reason;
	struct tj_task t;
	int i;

	rec_reset();
	memset(&t, 0, sizeof(t));
	CHECK_INT(pool_new("fx_isolate", 1, "{\"init_log\":\"starting up\"}", NULL, 0, err, &pool),
	          0);
	if (pool == NULL)
		return;
	/* A line logged in init: the route and plugin, no task. */
	i = logged("starting up");
	CHECK_TRUE(i >= 0);
	if (i >= 0) {
		CHECK_INT(rec.logs[i].level, TJ_LOG_NOTICE);
		CHECK_STR(rec.logs[i].route, "r");
		CHECK_STR(rec.logs[i].plugin, "fx_isolate");
		CHECK_INT(rec.logs[i].seq, 0);
	}

	out = run(pool, 0, &t, "publish:follow.up:hello");
	CHECK_INT(out.verdict, TJ_DONE);
	CHECK_INT(rec.publishes, 1);
	CHECK_STR(rec.subject, "follow.up");
	CHECK_STR(rec.data, "hello");
	CHECK_TRUE(rec.publish_task == &t);
	CHECK_INT(t.publish_count, 1);
	/* The callback's return value is what the plugin gets. */
	rec.publish_rc = -ENOENT;
	out = run(pool, 0, &t, "publish:nowhere:x");
	CHECK_INT(out.verdict, TJ_RETRY);
	CHECK_STR(t.fail_reason, "publish: -2");
	CHECK_INT(t.publish_count, 0);
	rec.publish_rc = 0;

	/* A follow-up larger than a socket message travels in a memfd. */
	out = run(pool, 0, &t, "bigpublish:300000");
	CHECK_INT(out.verdict, TJ_DONE);
	CHECK_INT(rec.len, 300000);
	CHECK_TRUE(rec.data_all_x);

	rec.in_progress_rc = -ENOTCONN;
	out = run(pool, 0, &t, "progress");
	CHECK_INT(rec.in_progress, 1);
	CHECK_STR(t.fail_reason, "in_progress: -107");
	rec.in_progress_rc = 0;

	out = run(pool, 0, &t, "log");
	CHECK_INT(out.verdict, TJ_DONE);
	i = logged("hello from TASKS:7");
	CHECK_TRUE(i >= 0);
	if (i >= 0) {
		/* Attributed to the task whose handler logged it. */
		CHECK_INT(rec.logs[i].level, TJ_LOG_INFO);
		CHECK_INT(rec.logs[i].seq, 7);
		CHECK_INT(rec.logs[i].attempt, 2);
		CHECK_STR(rec.logs[i].route, "r");
		CHECK_STR(rec.logs[i].plugin, "fx_isolate");
	}
	/* A thread of the plugin: the route and plugin, as in thread mode. */
	i = logged("from a thread");
	CHECK_TRUE(i >= 0);
	if (i >= 0)
		CHECK_INT(rec.logs[i].seq, 0);

	/* Headers travel with the call: the 1.0 lookup and the 1.1 list. */
	reason = run_with_headers(pool, "headers", headers, 3);
	CHECK_STR(reason, "3:X-One=1;X-Two=a;X-Two=b;|1");
	free(reason);
	task_release(&t);
	procpool_destroy(pool);
}

TEST(large_payloads_arrive_whole)
{
	static const size_t sizes[] = { 65536, 3u << 20, 64u << 20 };
	struct procpool *pool = NULL;
	struct procpool_outcome out;
	char err[ERRLEN], want[64];
	struct tj_task t;

	rec_reset();
	CHECK_INT(pool_new("fx_isolate", 1, NULL, NULL, 0, err, &pool), 0);
	if (pool == NULL)
		return;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		char *payload = malloc(sizes[k] + 1);
		uint32_t sum = 0;

		memcpy(payload, "big:", 4);
		for (size_t i = 4; i < sizes[k]; i++)
			payload[i] = (char)('a' + i % 26);
		payload[sizes[k]] = '\0';
		for (size_t i = 0; i < sizes[k]; i++)
			sum += (unsigned char)payload[i];
		task_init(&t, payload);
		CHECK_INT(procpool_call(pool, 0, &t, 0, &out), 0);
		snprintf(want, sizeof(want), "len=%zu sum=%u", sizes[k], sum);
		CHECK_STR(t.fail_reason, want);
		task_release(&t);
		free(payload);
	}
	procpool_destroy(pool);
}

TEST(a_worker_is_a_clean_process_of_its_own)
{
	struct procpool *pool = NULL;
	struct procpool_outcome out;
	char err[ERRLEN], want[128], ours[256], *p, *save = NULL;
	struct tj_task t;
	ssize_t n;
	int pid, seen_plugin = 0;

	rec_reset();
	memset(&t, 0, sizeof(t));
	CHECK_INT(pool_new("fx_isolate", 1, NULL, NULL, 0, err, &pool), 0);
	if (pool == NULL)
		return;
	pid = procpool_worker_pid(pool, 0);
	CHECK_TRUE(pid > 0 && pid != getpid());
	out = run(pool, 0, &t, "whoami");
	/* Its own process group; our child. */
	snprintf(want, sizeof(want), "pid=%d pgid=%d ppid=%d", pid, pid, (int)getpid());
	CHECK_STR(t.fail_reason, want);

	/* 0 on /dev/null, 1 and 2 on our stderr, 3 the socket, and the
	 * plugin file the loader holds: nothing else of ours. */
	n = readlink("/proc/self/fd/2", ours, sizeof(ours) - 1);
	ours[n > 0 ? n : 0] = '\0';
	out = run(pool, 0, &t, "fds");
	CHECK_INT(out.verdict, TJ_FAIL);
	for (p = strtok_r(t.fail_reason, ";", &save); p != NULL; p = strtok_r(NULL, ";", &save)) {
		int fd = atoi(p);
		const char *target = strchr(p, '=') + 1;

		if (fd == 0)
			CHECK_STR(target, "/dev/null");
		else if (fd == 1 || fd == 2)
			CHECK_STR(target, ours);
		else if (fd == 3)
			CHECK_TRUE(strncmp(target, "socket:", 7) == 0);
		else if (strstr(target, "/fx_isolate.so") != NULL)
			seen_plugin++;
		else
			testing_fail(__FILE__, __LINE__, "worker has fd %s", p);
	}
	CHECK_INT(seen_plugin, 1);
	task_release(&t);
	procpool_destroy(pool);
}

/* An innocent call running on slot 1 while slot 0 crashes. */
struct bystander {
	struct procpool *pool;
	struct tj_task t;
	struct procpool_outcome out;
	int rc;
};

static void *
bystander_main(void *arg)
{
	struct bystander *b = arg;

	task_init(&b->t, "sleep:300");
	b->rc = procpool_call(b->pool, 1, &b->t, 0, &b->out);
	return NULL;
}

static void
crash_case(struct procpool *pool, const char *payload, int signal, int exit_status,
           const char *cause)
{
	struct bystander b = { .pool = pool };
	struct procpool_outcome out;
	struct tj_task t;
	pthread_t thread;
	int old0 = procpool_worker_pid(pool, 0), old1 = procpool_worker_pid(pool, 1);

	memset(&t, 0, sizeof(t));
	CHECK_INT(pthread_create(&thread, NULL, bystander_main, &b), 0);
	out = run(pool, 0, &t, payload);
	CHECK_INT(out.result, PROCPOOL_CRASHED);
	CHECK_INT(out.signal, signal);
	CHECK_INT(out.exit_status, exit_status);
	CHECK_STR(out.cause, cause);
	CHECK_FALSE(alive(old0));
	pthread_join(thread, NULL);
	/* The bystander finished as if nothing happened, on the same worker. */
	CHECK_INT(b.rc, 0);
	CHECK_INT(b.out.result, PROCPOOL_VERDICT);
	CHECK_INT(b.out.verdict, TJ_DONE);
	CHECK_INT(procpool_worker_pid(pool, 1), old1);
	task_release(&b.t);
	/* The slot got a new worker, which takes the next task. */
	out = run(pool, 0, &t, "ok");
	CHECK_INT(out.result, PROCPOOL_VERDICT);
	CHECK_INT(out.verdict, TJ_DONE);
	CHECK_TRUE(procpool_worker_pid(pool, 0) != old0);
	task_release(&t);
}

TEST(a_crash_costs_only_the_task_it_held)
{
	struct procpool *pool = NULL;
	struct procpool_stats st;
	char err[ERRLEN], why[256];

	rec_reset();
	CHECK_INT(pool_new("fx_isolate", 2, NULL, NULL, 0, err, &pool), 0);
	if (pool == NULL)
		return;
	crash_case(pool, "segv", SIGSEGV, -1, "killed by signal 11 (Segmentation fault)");
	crash_case(pool, "abort", SIGABRT, -1, "killed by signal 6 (Aborted)");
	crash_case(pool, "exit3", 0, 3, "exited with status 3");
	procpool_stats(pool, &st);
	CHECK_INT(st.crashes, 3);
	CHECK_INT(st.spawns, 5);
	CHECK_TRUE(procpool_ready(pool, why, sizeof(why)));
	procpool_destroy(pool);
}

TEST(a_hung_call_is_killed_at_its_deadline)
{
	struct procpool *pool = NULL;
	struct procpool_outcome out;
	struct procpool_stats st;
	char err[ERRLEN];
	struct tj_task t;
	int64_t t0;
	int old;

	rec_reset();
	memset(&t, 0, sizeof(t));
	CHECK_INT(pool_new("fx_isolate", 1, NULL, NULL, 300, err, &pool), 0);
	if (pool == NULL)
		return;
	old = procpool_worker_pid(pool, 0);
	t0 = clock_mono_ms();
	out = run(pool, 0, &t, "hang");
	CHECK_INT(out.result, PROCPOOL_TIMED_OUT);
	CHECK_CONTAINS(out.cause, "timed out after");
	CHECK_RANGE(clock_mono_ms() - t0, 300, 10000);
	CHECK_FALSE(alive(old));
	/* An explicit deadline wins over the pool's timeout (once the slot
	 * has its new worker: the wait for one counts against a deadline). */
	out = run(pool, 0, &t, "ok");
	CHECK_INT(out.result, PROCPOOL_VERDICT);
	task_release(&t);
	/* A 60 s handler ends at its 100 ms deadline, on a busy machine in
	 * well under 15 s. */
	task_init(&t, "sleep:60000");
	t0 = clock_mono_ms();
	CHECK_INT(procpool_call(pool, 0, &t, t0 + 100, &out), 0);
	CHECK_INT(out.result, PROCPOOL_TIMED_OUT);
	CHECK_RANGE(clock_mono_ms() - t0, 100, 15000);
	out = run(pool, 0, &t, "ok");
	CHECK_INT(out.result, PROCPOOL_VERDICT);
	procpool_stats(pool, &st);
	CHECK_INT(st.timeouts, 2);
	CHECK_INT(st.calls, 4);
	task_release(&t);
	procpool_destroy(pool);
}

TEST(resource_limits_apply_and_name_the_cause)
{
	struct procpool_limits lim = { .memory_bytes = 64u << 20, .open_files = 32 };
	struct procpool *pool = NULL;
	struct procpool_outcome out;
	char err[ERRLEN];
	struct tj_task t;

	rec_reset();
	memset(&t, 0, sizeof(t));
	CHECK_INT(pool_new("fx_isolate", 1, NULL, &lim, 20000, err, &pool), 0);
	if (pool == NULL)
		return;
	out = run(pool, 0, &t, "limits");
#ifdef UNDER_ASAN
	/* ASan's shadow memory outgrows any data limit: the sampling alone. */
	CHECK_STR(t.fail_reason, "nofile=32 cpu=inf data=inf");
#else
	/* The backstop: max(2 x 64 MiB, 64 MiB + 256 MiB). */
	CHECK_STR(t.fail_reason, "nofile=32 cpu=inf data=335544320");
#endif
	out = run(pool, 0, &t, "oom");
	if (out.result != PROCPOOL_CRASHED)
		testing_fail(__FILE__, __LINE__, "oom: %s", out.cause);
	CHECK_INT(out.signal, SIGKILL);
	CHECK_STR(out.cause, "out of memory (limit 64 MiB)");
	out = run(pool, 0, &t, "ok");
	if (out.result != PROCPOOL_VERDICT)
		testing_fail(__FILE__, __LINE__, "after oom: %s", out.cause);
	/* A leak that logs all the while is sampled all the same. */
	out = run(pool, 0, &t, "oomlog");
	if (out.result != PROCPOOL_CRASHED)
		testing_fail(__FILE__, __LINE__, "oomlog: %s", out.cause);
	CHECK_INT(out.signal, SIGKILL);
	CHECK_STR(out.cause, "out of memory (limit 64 MiB)");
	procpool_destroy(pool);

	/* CPU time: SIGXCPU, named by the kernel's signal. */
	lim = (struct procpool_limits){ .cpu_seconds = 1 };
	CHECK_INT(pool_new("fx_isolate", 1, NULL, &lim, 20000, err, &pool), 0);
	if (pool == NULL)
		return;
	out = run(pool, 0, &t, "limits");
	CHECK_CONTAINS(t.fail_reason, "cpu=");
	CHECK_FALSE(strstr(t.fail_reason, "cpu=inf") != NULL);
	CHECK_CONTAINS(t.fail_reason, "data=inf");
	out = run(pool, 0, &t, "cpu");
	CHECK_INT(out.result, PROCPOOL_CRASHED);
	CHECK_INT(out.signal, SIGXCPU);
	CHECK_STR(out.cause, "killed by signal 24 (CPU time limit exceeded)");
	out = run(pool, 0, &t, "ok");
	CHECK_INT(out.result, PROCPOOL_VERDICT);
	task_release(&t);
	procpool_destroy(pool);
}

TEST(failing_init_is_retried_with_backoff_and_reported)
{
	struct procpool *pool = NULL;
	struct procpool_outcome out;
	struct procpool_stats st;
	char err[ERRLEN], why[512] = "", gate[128], cfg[256];
	struct tj_task t;
	int64_t until;
	bool reported = false, ready = false;

	rec_reset();
	memset(&t, 0, sizeof(t));
	snprintf(gate, sizeof(gate), "%s/gate", tmpdir);
	snprintf(cfg, sizeof(cfg), "{\"init_fail_if_exists\":\"%s\"}", gate);
	CHECK_INT(pool_new("fx_isolate", 1, cfg, NULL, 0, err, &pool), 0);
	if (pool == NULL)
		return;
	/* From now on its init fails; then the worker crashes. */
	close(open(gate, O_WRONLY | O_CREAT, 0644));
	out = run(pool, 0, &t, "segv");
	CHECK_INT(out.result, PROCPOOL_CRASHED);
	for (until = clock_mono_ms() + 8000; clock_mono_ms() < until && !reported;) {
		reported = !procpool_ready(pool, why, sizeof(why)) &&
		           strstr(why, "plugin init failed 3 times") != NULL;
		if (!reported)
			clock_sleep_ms(20);
	}
	CHECK_TRUE(reported);
	CHECK_CONTAINS(why, "route r: plugin init failed 3 times: plugin fx_isolate (route r): "
	                    "tj_plugin_init failed: Input/output error (-5)");
	CHECK_FALSE(procpool_slot_live(pool, 0));
	/* The plugin's own reason reached the log. */
	CHECK_TRUE(logged("init refused") >= 0);
	/* A slot waiting out its backoff does not take tasks. */
	out = run(pool, 0, &t, "ok");
	if (out.result == PROCPOOL_UNAVAILABLE)
		CHECK_CONTAINS(out.cause, "init failed");
	else
		CHECK_INT(out.result, PROCPOOL_UNAVAILABLE);
	/* Backoff, not a spin: 100, 200, 400, 400 ... ms between tries, so
	 * about 5 in a second; slow worker starts (ASan, a busy machine) only
	 * make fewer, a spin would make hundreds. */
	clock_sleep_ms(1000);
	procpool_stats(pool, &st);
	CHECK_RANGE(st.init_failures, 2, 12);

	unlink(gate);
	for (until = clock_mono_ms() + 8000; clock_mono_ms() < until && !ready;) {
		ready = procpool_ready(pool, why, sizeof(why));
		if (!ready)
			clock_sleep_ms(20);
	}
	CHECK_TRUE(ready);
	CHECK_TRUE(procpool_slot_live(pool, 0));
	out = run(pool, 0, &t, "ok");
	CHECK_INT(out.result, PROCPOOL_VERDICT);
	task_release(&t);
	procpool_destroy(pool);
}

TEST(create_refuses_with_the_reason_and_leaves_nothing)
{
	struct procpool_options o = {
		.plugin_dir = FIXTURE_PLUGIN_DIR,
		.plugin = "fx_isolate",
		.route = "r",
		.workers = 1,
		.worker_path = "/nonexistent/taskjet-worker",
	};
	struct procpool *pool = NULL;
	char err[ERRLEN], gate[128], cfg[256], script[128];
	size_t fds = count_fds();
	FILE *f;

	rec_reset();
	snprintf(gate, sizeof(gate), "%s/gate2", tmpdir);
	close(open(gate, O_WRONLY | O_CREAT, 0644));
	snprintf(cfg, sizeof(cfg), "{\"init_fail_if_exists\":\"%s\"}", gate);
	CHECK_INT(pool_new("fx_isolate", 2, cfg, NULL, 0, err, &pool), -EINVAL);
	CHECK_CONTAINS(err, "plugin fx_isolate (route r): tj_plugin_init failed");
	unlink(gate);

	CHECK_INT(pool_new("fx_isolate", 1, "{\"handler\":\"other\"}", NULL, 0, err, &pool),
	          -EINVAL);
	CHECK_CONTAINS(err, "registered no handler named \"fx_isolate\"");

	CHECK_INT(pool_new("fx_wrong_major", 1, NULL, NULL, 0, err, &pool), -EINVAL);
	CHECK_CONTAINS(err, "was built for ABI");

	CHECK_INT(pool_new("absent", 1, NULL, NULL, 0, err, &pool), -ENOENT);
	CHECK_CONTAINS(err, "does not exist");

	CHECK_INT(procpool_create(&o, &rec_host, err, sizeof(err), &pool), -EINVAL);
	CHECK_CONTAINS(err, "/nonexistent/taskjet-worker");
	CHECK_TRUE(pool == NULL);

	/* A worker that answers garbage is killed, with its group. */
	snprintf(script, sizeof(script), "%s/garbage-worker", tmpdir);
	f = fopen(script, "w");
	CHECK_TRUE(f != NULL);
	if (f != NULL) {
		fputs("#!/bin/sh\nprintf garbage >&3\nexec sleep 30\n", f);
		fclose(f);
	}
	chmod(script, 0755);
	o.worker_path = script;
	CHECK_INT(procpool_create(&o, &rec_host, err, sizeof(err), &pool), -EINVAL);
	CHECK_CONTAINS(err, "broke the protocol");
	unlink(script);
	CHECK_INT(count_fds(), fds);
	CHECK_TRUE(no_children());
}

TEST(an_idle_death_costs_no_task)
{
	struct procpool *pool = NULL;
	struct procpool_outcome out;
	char err[ERRLEN];
	struct tj_task t;
	int pid;

	rec_reset();
	memset(&t, 0, sizeof(t));
	CHECK_INT(pool_new("fx_isolate", 1, NULL, NULL, 0, err, &pool), 0);
	if (pool == NULL)
		return;
	pid = procpool_worker_pid(pool, 0);
	CHECK_INT(kill(pid, SIGKILL), 0);
	/* Once it is gone, whether the supervisor or the call finds it dead
	 * first, the task runs on a new worker. */
	for (int64_t until = clock_mono_ms() + 5000; alive(pid) && clock_mono_ms() < until;)
		clock_sleep_ms(5);
	out = run(pool, 0, &t, "ok");
	CHECK_INT(out.result, PROCPOOL_VERDICT);
	CHECK_INT(out.verdict, TJ_DONE);
	CHECK_TRUE(procpool_worker_pid(pool, 0) != pid);
	task_release(&t);
	procpool_destroy(pool);
}

TEST(a_1_0_plugin_runs_unchanged_in_a_worker)
{
	struct msg_header headers[] = { { "X-First", "1" } };
	struct procpool *pool = NULL;
	char err[ERRLEN], *reason;

	rec_reset();
	CHECK_INT(pool_new("fx_abi10", 1, NULL, NULL, 0, err, &pool), 0);
	if (pool == NULL)
		return;
	reason = run_with_headers(pool, "probe", headers, 1);
	CHECK_STR(reason, "has_headers=1 first=X-First");
	free(reason);
	procpool_destroy(pool);
}

TEST(destroy_finalises_and_leaves_no_process_or_fd)
{
	struct procpool *pool = NULL;
	struct procpool_outcome out;
	char err[ERRLEN], fini[128], cfg[256], text[256];
	size_t fds = count_fds();
	struct tj_task t;
	int pids[3];
	FILE *f;
	int lines = 0;

	rec_reset();
	memset(&t, 0, sizeof(t));
	snprintf(fini, sizeof(fini), "%s/fini.log", tmpdir);
	snprintf(cfg, sizeof(cfg), "{\"fini_file\":\"%s\"}", fini);
	CHECK_INT(pool_new("fx_isolate", 3, cfg, NULL, 0, err, &pool), 0);
	if (pool == NULL)
		return;
	out = run(pool, 0, &t, "ok");
	out = run(pool, 1, &t, "abort");
	CHECK_INT(out.result, PROCPOOL_CRASHED);
	out = run(pool, 1, &t, "ok");
	for (int i = 0; i < 3; i++)
		pids[i] = procpool_worker_pid(pool, i);
	task_release(&t);
	procpool_destroy(pool);
	/* Every live worker ran fini, and exited. */
	f = fopen(fini, "r");
	CHECK_TRUE(f != NULL);
	while (f != NULL && fgets(text, sizeof(text), f) != NULL)
		lines += strncmp(text, "fini ", 5) == 0;
	if (f != NULL)
		fclose(f);
	CHECK_INT(lines, 3);
	for (int i = 0; i < 3; i++)
		CHECK_FALSE(alive(pids[i]));
	CHECK_INT(count_fds(), fds);
	CHECK_TRUE(no_children());
	unlink(fini);
}

TEST(workers_die_with_the_engine)
{
	struct procpool *pool = NULL;
	char err[ERRLEN];
	int pipefd[2], pid = 0, status;
	pid_t engine;
	int64_t until;

	CHECK_INT(pipe(pipefd), 0);
	fflush(NULL);
	engine = fork();
	if (engine == 0) {
		/* A stand-in engine: start a pool, say its worker, vanish. */
		close(pipefd[0]);
		if (pool_new("fx_isolate", 1, NULL, NULL, 0, err, &pool) == 0)
			pid = procpool_worker_pid(pool, 0);
		if (write(pipefd[1], &pid, sizeof(pid)) != sizeof(pid))
			_exit(2);
		_exit(0);
	}
	close(pipefd[1]);
	CHECK_INT(read(pipefd[0], &pid, sizeof(pid)), sizeof(pid));
	close(pipefd[0]);
	CHECK_INT(waitpid(engine, &status, 0), engine);
	CHECK_TRUE(pid > 0);
	until = clock_mono_ms() + 5000;
	while (pid > 0 && alive(pid) && clock_mono_ms() < until)
		clock_sleep_ms(10);
	CHECK_FALSE(pid > 0 && alive(pid));
}

/* ----- batches ----- */

#define BATCH_TASKS 6

/* What procpool_call_batch reported, task by task. */
struct ends {
	unsigned count;
	size_t index[BATCH_TASKS];
	struct procpool_outcome out[BATCH_TASKS];
	char reason[BATCH_TASKS][128];
};

static void
note_end(void *ctx, size_t index, struct tj_task *task, const struct procpool_outcome *out)
{
	struct ends *e = ctx;

	if (e->count >= BATCH_TASKS)
		return;
	e->index[e->count] = index;
	e->out[e->count] = *out;
	snprintf(e->reason[e->count], sizeof(e->reason[0]), "%s",
	         task->fail_reason != NULL ? task->fail_reason : "");
	e->count++;
}

/* Tasks B:1.. with these payloads (NULL-terminated), and their pointers. */
static size_t
batch_init(struct tj_task *t, struct tj_task **ptrs, const char *const *payloads)
{
	size_t n = 0;

	for (; payloads[n] != NULL && n < BATCH_TASKS; n++) {
		task_init(&t[n], payloads[n]);
		snprintf(t[n].id, sizeof(t[n].id), "B:%zu", n + 1);
		ptrs[n] = &t[n];
	}
	return n;
}

static void
batch_release(struct tj_task *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		task_release(&t[i]);
}

/* The pool's record file, read whole and then removed ("" if none). */
static void
take_record(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f != NULL) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	unlink(path);
}

static struct procpool *
record_pool(unsigned workers, int64_t timeout_ms, char *record)
{
	struct procpool *pool = NULL;
	char err[ERRLEN], config[256];

	snprintf(record, 128, "%s/batch.rec", tmpdir);
	snprintf(config, sizeof(config), "{\"record_file\":\"%s\"}", record);
	CHECK_INT(pool_new("fx_isolate", workers, config, NULL, timeout_ms, err, &pool), 0);
	return pool;
}

TEST(a_batch_runs_in_order_and_reports_each_task_as_it_ends)
{
	static const char *const payloads[] = { "ok", "reason", "meta", "sleep:50", "ok", NULL };
	struct tj_task t[BATCH_TASKS], *ptrs[BATCH_TASKS];
	struct ends e = { 0 };
	struct procpool_stats st;
	char record[128], got[1024];
	struct procpool *pool;
	size_t n;

	rec_reset();
	pool = record_pool(1, 60000, record);
	if (pool == NULL)
		return;
	n = batch_init(t, ptrs, payloads);
	CHECK_INT(procpool_call_batch(pool, 0, ptrs, n, 0, note_end, &e), 0);
	CHECK_INT(e.count, 5);
	for (unsigned i = 0; i < e.count; i++) {
		CHECK_INT(e.index[i], i);
		CHECK_INT(e.out[i].result, PROCPOOL_VERDICT);
	}
	CHECK_INT(e.out[0].verdict, TJ_DONE);
	CHECK_INT(e.out[1].verdict, TJ_RETRY);
	/* What one handler said stays with its task. */
	CHECK_STR(e.reason[1], "bad thing: B:2");
	CHECK_INT(t[1].retry_after_ms, 1234);
	CHECK_STR(e.reason[2], "tasks.a|B:3|2/5|some");
	CHECK_STR(e.reason[4], "");
	CHECK_INT(t[4].retry_after_ms, -1);
	/* Each task's run is its own, not the batch's. */
	CHECK_RANGE(e.out[3].run_us, 50000, 10000000);
	CHECK_TRUE(e.out[4].run_us < e.out[3].run_us);
	take_record(record, got, sizeof(got));
	CHECK_STR(got,
	          "B:1 tasks.a 2\nB:2 tasks.a 2\nB:3 tasks.a 2\nB:4 tasks.a 2\nB:5 tasks.a 2\n");
	procpool_stats(pool, &st);
	CHECK_INT(st.calls, 5);
	CHECK_INT(st.spawns, 1);
	/* The slot is free again, for one task or many. */
	CHECK_INT(procpool_call_batch(pool, 0, ptrs, 0, 0, note_end, &e), -EINVAL);
	CHECK_INT(procpool_call_batch(pool, 1, ptrs, 1, 0, note_end, &e), -EINVAL);
	batch_release(t, n);
	procpool_destroy(pool);
}

TEST(a_batch_larger_than_one_message_arrives_whole)
{
	struct tj_task t[BATCH_TASKS], *ptrs[BATCH_TASKS];
	struct procpool *pool = NULL;
	struct ends e = { 0 };
	char err[ERRLEN], want[64];
	char *payload = malloc(40001);
	uint32_t sum = 0;

	rec_reset();
	CHECK_INT(pool_new("fx_isolate", 1, NULL, NULL, 0, err, &pool), 0);
	if (pool == NULL || payload == NULL) {
		free(payload);
		procpool_destroy(pool);
		return;
	}
	/* Five 40 kB tasks: more than one message takes inline. */
	memcpy(payload, "big:", 4);
	for (size_t i = 4; i < 40000; i++)
		payload[i] = (char)('a' + i % 26);
	payload[40000] = '\0';
	for (size_t i = 0; i < 40000; i++)
		sum += (unsigned char)payload[i];
	for (size_t i = 0; i < 5; i++) {
		task_init(&t[i], payload);
		ptrs[i] = &t[i];
	}
	CHECK_INT(procpool_call_batch(pool, 0, ptrs, 5, 0, note_end, &e), 0);
	CHECK_INT(e.count, 5);
	snprintf(want, sizeof(want), "len=40000 sum=%u", sum);
	for (unsigned i = 0; i < e.count; i++) {
		CHECK_INT(e.index[i], i);
		CHECK_STR(e.reason[i], want);
	}
	batch_release(t, 5);
	free(payload);
	procpool_destroy(pool);
}

TEST(a_crash_in_a_batch_costs_only_its_task)
{
	static const char *const payloads[] = { "ok", "segv", "ok", "meta", NULL };
	struct tj_task t[BATCH_TASKS], *ptrs[BATCH_TASKS];
	struct ends e = { 0 };
	struct procpool_stats st;
	char record[128], got[1024], why[256];
	struct procpool *pool;
	size_t n;
	int old;

	rec_reset();
	pool = record_pool(1, 0, record);
	if (pool == NULL)
		return;
	old = procpool_worker_pid(pool, 0);
	n = batch_init(t, ptrs, payloads);
	CHECK_INT(procpool_call_batch(pool, 0, ptrs, n, 0, note_end, &e), 0);
	CHECK_INT(e.count, 4);
	CHECK_INT(e.out[0].result, PROCPOOL_VERDICT);
	CHECK_INT(e.out[1].result, PROCPOOL_CRASHED);
	CHECK_INT(e.out[1].signal, SIGSEGV);
	CHECK_STR(e.out[1].cause, "killed by signal 11 (Segmentation fault)");
	/* The ones after it never started: they ran once, on the new worker. */
	CHECK_INT(e.out[2].result, PROCPOOL_VERDICT);
	CHECK_INT(e.out[2].verdict, TJ_DONE);
	CHECK_INT(e.out[3].result, PROCPOOL_VERDICT);
	CHECK_STR(e.reason[3], "tasks.a|B:4|2/5|none");
	take_record(record, got, sizeof(got));
	CHECK_STR(got, "B:1 tasks.a 2\nB:2 tasks.a 2\nB:3 tasks.a 2\nB:4 tasks.a 2\n");
	CHECK_FALSE(alive(old));
	CHECK_TRUE(procpool_worker_pid(pool, 0) != old);
	procpool_stats(pool, &st);
	CHECK_INT(st.calls, 4);
	CHECK_INT(st.crashes, 1);
	CHECK_INT(st.spawns, 2);
	CHECK_TRUE(procpool_ready(pool, why, sizeof(why)));
	batch_release(t, n);
	procpool_destroy(pool);
}

TEST(tasks_behind_a_crash_wait_out_the_respawn_delay)
{
	/* Two workers in a row die in their first call: the third starts
	 * only after the pool's respawn delay (100 ms here), and the task
	 * behind them still runs on it rather than coming back unrun. */
	static const char *const payloads[] = { "segv", "abort", "meta", NULL };
	struct tj_task t[BATCH_TASKS], *ptrs[BATCH_TASKS];
	struct ends e = { 0 };
	struct procpool_stats st;
	char record[128], got[1024];
	struct procpool *pool;
	size_t n;

	rec_reset();
	pool = record_pool(1, 60000, record);
	if (pool == NULL)
		return;
	n = batch_init(t, ptrs, payloads);
	CHECK_INT(procpool_call_batch(pool, 0, ptrs, n, 0, note_end, &e), 0);
	CHECK_INT(e.count, 3);
	CHECK_INT(e.out[0].result, PROCPOOL_CRASHED);
	CHECK_INT(e.out[0].signal, SIGSEGV);
	CHECK_INT(e.out[1].result, PROCPOOL_CRASHED);
	CHECK_INT(e.out[1].signal, SIGABRT);
	CHECK_INT(e.out[2].result, PROCPOOL_VERDICT);
	CHECK_STR(e.reason[2], "tasks.a|B:3|2/5|some");
	take_record(record, got, sizeof(got));
	CHECK_STR(got, "B:1 tasks.a 2\nB:2 tasks.a 2\nB:3 tasks.a 2\n");
	procpool_stats(pool, &st);
	CHECK_INT(st.crashes, 2);
	CHECK_INT(st.spawns, 3);
	batch_release(t, n);
	procpool_destroy(pool);
}

TEST(each_task_of_a_batch_has_its_own_timeout)
{
	/* Together the sleeps take longer than the timeout; each is within it. */
	static const char *const payloads[] = { "sleep:200", "hang", "sleep:200",
		                                "sleep:200", "meta", NULL };
	struct tj_task t[BATCH_TASKS], *ptrs[BATCH_TASKS];
	struct ends e = { 0 };
	struct procpool_stats st;
	char record[128], got[1024];
	struct procpool *pool;
	size_t n;

	rec_reset();
	pool = record_pool(1, 600, record);
	if (pool == NULL)
		return;
	n = batch_init(t, ptrs, payloads);
	CHECK_INT(procpool_call_batch(pool, 0, ptrs, n, 0, note_end, &e), 0);
	CHECK_INT(e.count, 5);
	CHECK_INT(e.out[0].result, PROCPOOL_VERDICT);
	CHECK_INT(e.out[1].result, PROCPOOL_TIMED_OUT);
	CHECK_CONTAINS(e.out[1].cause, "timed out after");
	CHECK_RANGE(e.out[1].run_us, 600000, 20000000);
	CHECK_INT(e.out[2].result, PROCPOOL_VERDICT);
	CHECK_INT(e.out[3].result, PROCPOOL_VERDICT);
	CHECK_STR(e.reason[4], "tasks.a|B:5|2/5|some");
	take_record(record, got, sizeof(got));
	CHECK_STR(got,
	          "B:1 tasks.a 2\nB:2 tasks.a 2\nB:3 tasks.a 2\nB:4 tasks.a 2\nB:5 tasks.a 2\n");
	procpool_stats(pool, &st);
	CHECK_INT(st.timeouts, 1);
	CHECK_INT(st.calls, 5);
	batch_release(t, n);
	procpool_destroy(pool);
}

struct stopper {
	struct procpool *pool;
	const char *record;
};

static void *
stopper_main(void *arg)
{
	struct stopper *s = arg;
	struct stat st;

	/* Once the hanging task started (its record line is written). */
	for (int i = 0; i < 1000 && (stat(s->record, &st) < 0 || st.st_size == 0); i++)
		clock_sleep_ms(10);
	procpool_stop_calls(s->pool);
	return NULL;
}

TEST(a_stop_in_a_batch_gives_back_what_never_started)
{
	static const char *const payloads[] = { "hang", "ok", "ok", NULL };
	struct tj_task t[BATCH_TASKS], *ptrs[BATCH_TASKS];
	struct ends e = { 0 };
	char record[128], got[1024];
	struct stopper s;
	struct procpool *pool;
	pthread_t thread;
	size_t n;

	rec_reset();
	pool = record_pool(1, 0, record);
	if (pool == NULL)
		return;
	s = (struct stopper){ .pool = pool, .record = record };
	n = batch_init(t, ptrs, payloads);
	CHECK_INT(pthread_create(&thread, NULL, stopper_main, &s), 0);
	CHECK_INT(procpool_call_batch(pool, 0, ptrs, n, 0, note_end, &e), 0);
	pthread_join(thread, NULL);
	CHECK_INT(e.count, 3);
	CHECK_INT(e.out[0].result, PROCPOOL_STOPPED);
	CHECK_INT(e.out[1].result, PROCPOOL_UNAVAILABLE);
	CHECK_INT(e.out[2].result, PROCPOOL_UNAVAILABLE);
	CHECK_INT(e.out[1].run_us, 0);
	take_record(record, got, sizeof(got));
	CHECK_STR(got, "B:1 tasks.a 2\n");
	batch_release(t, n);
	procpool_destroy(pool);
}

int
main(void)
{
	testing_let_segv_through();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tj-procpool-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	/* The worker's lines at debug level reach the recorder too. */
	log_setup(TJ_LOG_DEBUG, LOG_FORMAT_TEXT, NULL);
	RUN(calls_see_the_task_and_config_as_in_thread_mode);
	RUN(host_calls_from_a_worker_reach_the_engine);
	RUN(large_payloads_arrive_whole);
	RUN(a_worker_is_a_clean_process_of_its_own);
	RUN(a_crash_costs_only_the_task_it_held);
	RUN(a_hung_call_is_killed_at_its_deadline);
	RUN(resource_limits_apply_and_name_the_cause);
	RUN(failing_init_is_retried_with_backoff_and_reported);
	RUN(create_refuses_with_the_reason_and_leaves_nothing);
	RUN(an_idle_death_costs_no_task);
	RUN(a_1_0_plugin_runs_unchanged_in_a_worker);
	RUN(destroy_finalises_and_leaves_no_process_or_fd);
	RUN(workers_die_with_the_engine);
	RUN(a_batch_runs_in_order_and_reports_each_task_as_it_ends);
	RUN(a_batch_larger_than_one_message_arrives_whole);
	RUN(a_crash_in_a_batch_costs_only_its_task);
	RUN(tasks_behind_a_crash_wait_out_the_respawn_delay);
	RUN(each_task_of_a_batch_has_its_own_timeout);
	RUN(a_stop_in_a_batch_gives_back_what_never_started);
	rmdir(tmpdir);
	return testing_done();
}
