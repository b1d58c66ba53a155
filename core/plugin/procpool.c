/* SPDX-License-Identifier: MIT */
/*
 * The engine's side of process isolation: one worker process per slot,
 * started and restarted by a supervisor thread, called by the slot's engine
 * thread with one SOCK_SEQPACKET round trip per batch of tasks (each task
 * answered as it ends).
 *
 * A slot moves EMPTY -> STARTING (supervisor: spawned, tj_plugin_init
 * running) -> READY (idle) <-> BUSY (a call, owned by the calling thread)
 * and READY <-> DRAINING (the supervisor reads an idle worker's stray log
 * lines, and notices an idle death). A worker that ends goes back to EMPTY
 * with the time of its next start. Whoever owns the slot at that moment
 * reaps the worker, so its wait status is never lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin/host_api.h"
#include "plugin/ipc.h"
#include "plugin/loader.h"
#include "plugin/procpool.h"
#include "plugin/spawn.h"
#include "task/backend.h"
#include "util/clock.h"
#include "util/xalloc.h"

/* How long a blocked receive sleeps between deadline and memory checks. */
#define WAIT_TICK_MS 25
/* How often a worker's memory is looked at between calls, at most. */
#define RSS_CHECK_MS 100
/* How often the supervisor looks at idle workers. */
#define IDLE_CHECK_MS 1000
/* A worker has this long to run tj_plugin_fini and exit at destroy. */
#define FINI_TIMEOUT_MS 5000
#define DEFAULT_RESPAWN_INITIAL_MS 1000
#define DEFAULT_RESPAWN_MAX_MS 60000
#define DEFAULT_INIT_TIMEOUT_MS 30000
#define MIB (UINT64_C(1) << 20)
/* Longest log line taken from a worker (util/log.c writes 4 KiB lines). */
#define LOG_LINE_MAX 3584

enum slot_state { SLOT_EMPTY, SLOT_STARTING, SLOT_READY, SLOT_BUSY, SLOT_DRAINING };

struct slot {
	unsigned index;
	enum slot_state state; /* pool->lock */
	pid_t pid; /* 0: no worker */
	int sock;
	int statm_fd; /* /proc/<pid>/statm with a memory limit, else -1 */
	int64_t init_deadline_ms;
	int64_t next_spawn_ms; /* EMPTY: when the supervisor starts a worker */
	unsigned failures; /* worker lives in a row that finished no call */
	unsigned init_failures; /* of those, the ones that failed in init */
	uint64_t life_calls; /* calls the current worker finished */
	bool last_was_init; /* the last life ended in init */
	char last_failure[256];
	uint32_t call_no; /* ordinal of the current call */
	int64_t rss_checked_ms; /* last look at its memory */
	int64_t last_call_us; /* how long the last call took; -1: unknown */
	unsigned published; /* follow-ups stored in the current call */
	char *out; /* IPC_INLINE_MAX bytes: messages to the worker */
	char *in; /* IPC_BUF_SIZE bytes: messages from it */
};

struct procpool {
	char *plugin, *route, *handler, *path, *config;
	size_t config_len;
	int64_t timeout_ms, respawn_initial_ms, respawn_max_ms, init_timeout_ms;
	struct procpool_limits limits;
	struct procpool_host host;
	char worker_path[PATH_MAX];
	int plugin_fd;
	long page_size;

	pthread_mutex_t lock;
	pthread_cond_t changed; /* a slot changed state */
	int wake_fd; /* eventfd: something for the supervisor */
	pthread_t supervisor;
	bool supervisor_started;
	bool stopping; /* lock */
	int calls_stopped; /* atomic: procpool_stop_calls() was called */
	int64_t next_idle_check_ms; /* supervisor only */
	struct slot *slots;
	unsigned count;
	struct procpool_stats stats; /* lock */
};

/* ----- host services ----- */

static int
default_publish(void *ctx, struct tj_task *task, const char *subject, const void *data, size_t len)
{
	return host_api_table.task_publish(task, subject, data, len);
}

static int
default_in_progress(void *ctx, struct tj_task *task)
{
	return host_api_table.task_in_progress(task);
}

static void
default_log(void *ctx, const struct log_ctx *where, int level, const char *line)
{
	log_write(level, where, "%s", line);
}

const struct procpool_host procpool_default_host = {
	.publish = default_publish,
	.in_progress = default_in_progress,
	.log = default_log,
};

/* ----- small helpers ----- */

/* Wait on pool->changed for up to ms (its clock is CLOCK_MONOTONIC). */
static void
wait_changed(struct procpool *pool, int64_t ms)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&pool->changed, &pool->lock, &until);
}

static void
wake_supervisor(struct procpool *pool)
{
	uint64_t one = 1;

	if (write(pool->wake_fd, &one, sizeof(one)) < 0)
		(void)0; /* already pending: fine */
}

static void
slot_where(const struct procpool *pool, const struct tj_task *task, struct log_ctx *where)
{
	*where = (struct log_ctx){ .route = pool->route, .plugin = pool->plugin };
	if (task != NULL) {
		where->seq = task->stream_seq;
		where->attempt = task->attempt;
	}
}

static void TJ_PRINTF(4, 5) pool_log(const struct procpool *pool, const struct tj_task *task,
                                     int level, const char *fmt, ...)
{
	struct log_ctx where;
	va_list ap;

	slot_where(pool, task, &where);
	va_start(ap, fmt);
	log_vwrite(level, &where, fmt, ap);
	va_end(ap);
}

/* The engine's log level, handed to workers so they send only lines that
 * would be written. */
static int
engine_log_level(void)
{
	int level = TJ_LOG_DEBUG;

	while (level > TJ_LOG_ERR && !log_enabled(level))
		level--;
	return level;
}

/* Resident bytes of the slot's worker, 0 if unknown. */
static uint64_t
worker_rss(const struct procpool *pool, const struct slot *s)
{
	unsigned long long size = 0, resident = 0;
	char buf[128];
	ssize_t n;

	if (s->statm_fd < 0)
		return 0;
	n = pread(s->statm_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)pool->page_size;
}

static bool
over_memory(const struct procpool *pool, uint64_t bytes)
{
	return pool->limits.memory_bytes > 0 && bytes > pool->limits.memory_bytes;
}

/* Close the slot's descriptors; the worker must be reaped already. */
static void
slot_forget_worker(struct slot *s)
{
	if (s->sock >= 0)
		close(s->sock);
	if (s->statm_fd >= 0)
		close(s->statm_fd);
	s->sock = -1;
	s->statm_fd = -1;
	s->pid = 0;
}

/*
 * Kill (when `kill_it`) and reap the slot's worker, then describe how it
 * ended into out (signal, exit status, cause). `ours`: the signal that
 * killed it was the pool's own SIGKILL.
 */
static void
slot_reap(struct procpool *pool, struct slot *s, bool kill_it, struct procpool_outcome *out)
{
	int status = 0;

	if (kill_it) {
		/* The worker, and whatever its plugin started in its group. */
		kill(s->pid, SIGKILL);
		kill(-s->pid, SIGKILL);
	}
	if (worker_reap(s->pid, &status, NULL) < 0) {
		snprintf(out->cause, sizeof(out->cause), "worker %d vanished", (int)s->pid);
		slot_forget_worker(s);
		return;
	}
	out->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	out->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	worker_describe_status(status, out->cause, sizeof(out->cause));
	slot_forget_worker(s);
}

/*
 * The slot's worker is gone (reaped): schedule the next one. A worker
 * that finished calls earns an immediate restart; lives in a row that
 * finished none wait initial, 2 x initial, ... up to the ceiling.
 * Lock held.
 */
static void
slot_schedule(struct procpool *pool, struct slot *s, bool in_init, const char *why)
{
	int64_t delay = 0;

	if (s->life_calls > 0)
		s->failures = 0;
	s->failures++;
	s->init_failures = in_init ? s->init_failures + 1 : 0;
	s->last_was_init = in_init;
	snprintf(s->last_failure, sizeof(s->last_failure), "%s", why);
	if (s->failures > 1) {
		unsigned shift = s->failures - 2 < 20 ? s->failures - 2 : 20;

		delay = pool->respawn_initial_ms << shift;
		if (delay > pool->respawn_max_ms)
			delay = pool->respawn_max_ms;
	}
	s->next_spawn_ms = clock_mono_ms() + delay;
	s->state = SLOT_EMPTY;
	s->life_calls = 0;
	pthread_cond_broadcast(&pool->changed);
	wake_supervisor(pool);
}

/* One line from a worker: blank control characters, clamp the level. */
static void
forward_log(struct procpool *pool, const struct ipc_msg *msg, const struct tj_task *task,
            uint32_t call_no)
{
	struct ipc_in in;
	struct log_ctx where;
	uint32_t level, line_call;
	char *line;
	size_t len;

	ipc_in_init(&in, msg);
	level = ipc_get_u32(&in);
	line_call = ipc_get_u32(&in);
	line = (char *)ipc_get_str(&in, &len);
	if (in.bad)
		return;
	/* The body is ours (a receive buffer or a private mapping). One
	 * line, as long as the engine's own at most. */
	if (len > LOG_LINE_MAX) {
		len = LOG_LINE_MAX;
		line[len] = '\0';
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	if (level < TJ_LOG_ERR)
		level = TJ_LOG_ERR;
	if (level > TJ_LOG_DEBUG)
		level = TJ_LOG_DEBUG;
	/* Attributed to the task only when it came from this very call. */
	slot_where(pool, task != NULL && line_call != 0 && line_call == call_no ? task : NULL,
	           &where);
	pool->host.log(pool->host.ctx, &where, (int)level, line);
}

/* ----- starting workers (supervisor thread) ----- */

static int
send_init(struct procpool *pool, struct slot *s)
{
	struct ipc_out o;
	size_t size;
	int rc;

	size = 4 * 5 + 8 + IPC_STR_SIZE(strlen(pool->plugin)) + IPC_STR_SIZE(strlen(pool->path)) +
	       IPC_STR_SIZE(strlen(pool->route)) + IPC_STR_SIZE(strlen(pool->handler)) +
	       IPC_STR_SIZE(pool->config_len);
	rc = ipc_begin(&o, s->out, IPC_INLINE_MAX, IPC_INIT, size);
	if (rc < 0)
		return rc;
	ipc_put_u32(&o, IPC_PROTOCOL);
	ipc_put_u32(&o, (uint32_t)engine_log_level());
	ipc_put_u64(&o, pool->limits.memory_bytes);
	ipc_put_u32(&o, pool->limits.cpu_seconds);
	ipc_put_u32(&o, pool->limits.open_files);
	ipc_put_u32(&o, (uint32_t)s->index);
	ipc_put_str(&o, pool->plugin, strlen(pool->plugin));
	ipc_put_str(&o, pool->path, strlen(pool->path));
	ipc_put_str(&o, pool->route, strlen(pool->route));
	ipc_put_str(&o, pool->handler, strlen(pool->handler));
	ipc_put_str(&o, pool->config, pool->config_len);
	return ipc_send(s->sock, &o);
}

/* Spawn the slot's worker and send it its init. Lock not held; the slot
 * is STARTING, so nobody else touches it. 0, or -errno with why. */
static int
start_worker(struct procpool *pool, struct slot *s, char *why, size_t len)
{
	struct timeval tick = { 0, WAIT_TICK_MS * 1000 };
	char path[64];
	int rc;

	rc = worker_spawn(pool->worker_path, "serve", pool->plugin_fd, why, len, &s->pid, &s->sock);
	if (rc < 0) {
		s->pid = 0;
		return rc;
	}
	setsockopt(s->sock, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick));
	setsockopt(s->sock, SOL_SOCKET, SO_SNDTIMEO, &tick, sizeof(tick));
	if (pool->limits.memory_bytes > 0) {
		/* Our unreaped child: the pid cannot name another process. */
		snprintf(path, sizeof(path), "/proc/%d/statm", (int)s->pid);
		s->statm_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	rc = send_init(pool, s);
	if (rc < 0)
		snprintf(why, len, "cannot send the worker its init: %s", strerror(-rc));
	return rc;
}

/* A STARTING worker spoke (or ended). Lock not held; the supervisor owns
 * the slot. Returns true when the slot left STARTING. */
static bool
starting_input(struct procpool *pool, struct slot *s)
{
	struct procpool_outcome end = { .exit_status = -1 };
	struct ipc_msg msg;
	char why[512];
	bool done = false, ready = false;
	int rc;

	while (!done) {
		struct pollfd p = { .fd = s->sock, .events = POLLIN };

		if (poll(&p, 1, 0) <= 0)
			return false;
		rc = ipc_recv(s->sock, s->in, IPC_BUF_SIZE, &msg);
		if (rc == -EAGAIN)
			return false;
		if (rc < 0) {
			slot_reap(pool, s, rc != -EPIPE, &end);
			if (rc == -EPIPE)
				snprintf(why, sizeof(why),
				         "plugin %s (route %s): its worker %s in tj_plugin_init",
				         pool->plugin, pool->route, end.cause);
			else
				snprintf(
				    why, sizeof(why),
				    "plugin %s (route %s): its worker broke the protocol during "
				    "init (%s); killed",
				    pool->plugin, pool->route, strerror(-rc));
			done = true;
			break;
		}
		if (msg.type == IPC_LOG) {
			forward_log(pool, &msg, NULL, 0);
		} else if (msg.type == IPC_READY) {
			ready = done = true;
		} else if (msg.type == IPC_INIT_FAILED) {
			struct ipc_in in;
			const char *reason;

			ipc_in_init(&in, &msg);
			(void)ipc_get_u32(&in); /* its -errno */
			reason = ipc_get_str(&in, NULL);
			snprintf(why, sizeof(why), "%s",
			         reason != NULL ? reason : "(no reason given)");
			/* It exits by itself; make sure, then reap. */
			slot_reap(pool, s, true, &end);
			done = true;
		} else {
			snprintf(why, sizeof(why),
			         "plugin %s (route %s): its worker broke the protocol during init "
			         "(message %u); killed",
			         pool->plugin, pool->route, (unsigned)msg.type);
			slot_reap(pool, s, true, &end);
			done = true;
		}
		ipc_msg_release(&msg);
	}
	pthread_mutex_lock(&pool->lock);
	if (ready) {
		s->state = SLOT_READY;
		s->init_failures = 0;
		pthread_cond_broadcast(&pool->changed);
	} else {
		pool->stats.init_failures++;
		slot_schedule(pool, s, true, why);
		pool_log(pool, NULL, TJ_LOG_ERR, "worker for slot %u failed to start: %s", s->index,
		         why);
	}
	pthread_mutex_unlock(&pool->lock);
	return true;
}

static void
starting_timeout(struct procpool *pool, struct slot *s)
{
	struct procpool_outcome end = { .exit_status = -1 };
	char why[160];

	slot_reap(pool, s, true, &end);
	snprintf(why, sizeof(why), "tj_plugin_init did not return within %lld ms",
	         (long long)pool->init_timeout_ms);
	pthread_mutex_lock(&pool->lock);
	pool->stats.init_failures++;
	slot_schedule(pool, s, true, why);
	pthread_mutex_unlock(&pool->lock);
	pool_log(pool, NULL, TJ_LOG_ERR, "worker for slot %u: %s; killed", s->index, why);
}

/* Start every slot whose time has come. Lock held on entry and exit. */
static void
spawn_due(struct procpool *pool, int64_t now)
{
	char why[512];

	for (unsigned i = 0; i < pool->count && !pool->stopping; i++) {
		struct slot *s = &pool->slots[i];
		int rc;

		if (s->state != SLOT_EMPTY || s->next_spawn_ms > now ||
		    __atomic_load_n(&pool->calls_stopped, __ATOMIC_ACQUIRE))
			continue;
		s->state = SLOT_STARTING;
		pthread_mutex_unlock(&pool->lock);
		rc = start_worker(pool, s, why, sizeof(why));
		if (rc < 0 && s->pid > 0) {
			struct procpool_outcome end = { .exit_status = -1 };

			slot_reap(pool, s, true, &end);
		} else if (rc < 0) {
			slot_forget_worker(s);
		}
		pthread_mutex_lock(&pool->lock);
		if (rc < 0) {
			pool->stats.init_failures++;
			slot_schedule(pool, s, true, why);
			pool_log(pool, NULL, TJ_LOG_ERR, "worker for slot %u: %s", s->index, why);
		} else {
			pool->stats.spawns++;
			s->init_deadline_ms = clock_mono_ms() + pool->init_timeout_ms;
		}
	}
}

/* ----- idle workers (supervisor thread) ----- */

/* Read what an idle worker sent since its last call; notice if it died or
 * grew over its memory limit. Lock held on entry and exit. */
static void
check_idle(struct procpool *pool, struct slot *s)
{
	struct procpool_outcome end = { .exit_status = -1 };
	struct ipc_msg msg;
	bool dead = false, fat = false;
	int rc;

	s->state = SLOT_DRAINING;
	pthread_mutex_unlock(&pool->lock);
	for (;;) {
		struct pollfd p = { .fd = s->sock, .events = POLLIN };

		if (poll(&p, 1, 0) <= 0)
			break;
		rc = ipc_recv(s->sock, s->in, IPC_BUF_SIZE, &msg);
		if (rc == -EAGAIN)
			break;
		if (rc < 0 || (msg.type != IPC_LOG)) {
			if (rc == 0)
				ipc_msg_release(&msg);
			dead = true;
			slot_reap(pool, s, rc != -EPIPE, &end);
			break;
		}
		forward_log(pool, &msg, NULL, 0);
		ipc_msg_release(&msg);
	}
	if (!dead && over_memory(pool, worker_rss(pool, s))) {
		fat = true;
		slot_reap(pool, s, true, &end);
		snprintf(end.cause, sizeof(end.cause), "out of memory while idle (limit %llu MiB)",
		         (unsigned long long)(pool->limits.memory_bytes / MIB));
	}
	pthread_mutex_lock(&pool->lock);
	if (dead || fat) {
		pool_log(pool, NULL, TJ_LOG_WARNING, "idle worker of slot %u %s; restarting",
		         s->index, end.cause);
		slot_schedule(pool, s, false, end.cause);
	} else {
		s->state = SLOT_READY;
		pthread_cond_broadcast(&pool->changed);
	}
}

/* ----- finalising (supervisor thread, at destroy) ----- */

static void
finalise_workers(struct procpool *pool)
{
	int64_t deadline = clock_mono_ms() + FINI_TIMEOUT_MS;
	bool *stopped = xcalloc(pool->count, sizeof(*stopped));
	struct ipc_out o;

	for (unsigned i = 0; i < pool->count; i++) {
		struct slot *s = &pool->slots[i];

		if (s->pid == 0)
			continue;
		if (s->state == SLOT_READY &&
		    ipc_begin(&o, s->out, IPC_INLINE_MAX, IPC_FINI, 0) == 0 &&
		    ipc_send(s->sock, &o) == 0)
			continue;
		/* Still in init, or not listening: no fini for it. */
		kill(s->pid, SIGKILL);
		kill(-s->pid, SIGKILL);
		stopped[i] = true;
	}
	for (unsigned i = 0; i < pool->count; i++) {
		struct slot *s = &pool->slots[i];
		struct procpool_outcome end = { .exit_status = -1 };
		struct ipc_msg msg;
		bool killed = false;

		if (s->pid == 0)
			continue;
		/* Forward its last lines until it closes its end. */
		for (;;) {
			int rc = ipc_recv(s->sock, s->in, IPC_BUF_SIZE, &msg);

			if (rc == -EAGAIN && clock_mono_ms() < deadline)
				continue;
			if (rc < 0)
				break;
			if (msg.type == IPC_LOG)
				forward_log(pool, &msg, NULL, 0);
			ipc_msg_release(&msg);
		}
		if (clock_mono_ms() >= deadline) {
			pool_log(pool, NULL, TJ_LOG_WARNING,
			         "worker %d of slot %u did not finish tj_plugin_fini within %d s; "
			         "killed",
			         (int)s->pid, s->index, FINI_TIMEOUT_MS / 1000);
			killed = true;
		}
		slot_reap(pool, s, killed, &end);
		if (!killed && !stopped[i] && (end.signal != 0 || end.exit_status != 0))
			pool_log(pool, NULL, TJ_LOG_WARNING, "worker of slot %u %s at shutdown",
			         s->index, end.cause);
	}
	free(stopped);
}

/* ----- the supervisor ----- */

static void *
supervisor_main(void *arg)
{
	struct procpool *pool = arg;
	struct pollfd *fds = xcalloc(pool->count + 1, sizeof(*fds));
	unsigned *which = xcalloc(pool->count + 1, sizeof(*which));

	pthread_mutex_lock(&pool->lock);
	while (!pool->stopping) {
		int64_t now = clock_mono_ms(), wait_ms;
		unsigned n = 1;
		uint64_t drained;

		spawn_due(pool, now);
		now = clock_mono_ms();
		if (now >= pool->next_idle_check_ms) {
			for (unsigned i = 0; i < pool->count && !pool->stopping; i++)
				if (pool->slots[i].state == SLOT_READY)
					check_idle(pool, &pool->slots[i]);
			pool->next_idle_check_ms = now + IDLE_CHECK_MS;
		}
		wait_ms = pool->next_idle_check_ms - now;
		fds[0] = (struct pollfd){ .fd = pool->wake_fd, .events = POLLIN };
		for (unsigned i = 0; i < pool->count; i++) {
			struct slot *s = &pool->slots[i];

			if (s->state == SLOT_EMPTY && s->next_spawn_ms - now < wait_ms)
				wait_ms = s->next_spawn_ms - now;
			if (s->state != SLOT_STARTING)
				continue;
			if (s->init_deadline_ms - now < wait_ms)
				wait_ms = s->init_deadline_ms - now;
			fds[n] = (struct pollfd){ .fd = s->sock, .events = POLLIN };
			which[n++] = i;
		}
		if (wait_ms < 0)
			wait_ms = 0;
		pthread_mutex_unlock(&pool->lock);
		poll(fds, n, (int)(wait_ms > INT_MAX ? INT_MAX : wait_ms));
		if (fds[0].revents & POLLIN)
			if (read(pool->wake_fd, &drained, sizeof(drained)) < 0)
				(void)0;
		now = clock_mono_ms();
		/* STARTING slots are the supervisor's alone: no lock needed. */
		for (unsigned k = 1; k < n; k++) {
			struct slot *s = &pool->slots[which[k]];

			if (fds[k].revents != 0 && starting_input(pool, s))
				continue;
			if (now >= s->init_deadline_ms)
				starting_timeout(pool, s);
		}
		pthread_mutex_lock(&pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	/* Finalised from this thread: the workers' parent-death signal is
	 * tied to it, so it must outlive them. */
	finalise_workers(pool);
	free(fds);
	free(which);
	return NULL;
}

/* ----- create / destroy ----- */

static void
pool_free(struct procpool *pool)
{
	for (unsigned i = 0; i < pool->count; i++) {
		free(pool->slots[i].out);
		free(pool->slots[i].in);
	}
	free(pool->slots);
	if (pool->plugin_fd >= 0)
		close(pool->plugin_fd);
	if (pool->wake_fd >= 0)
		close(pool->wake_fd);
	pthread_cond_destroy(&pool->changed);
	pthread_mutex_destroy(&pool->lock);
	free(pool->plugin);
	free(pool->route);
	free(pool->handler);
	free(pool->path);
	free(pool->config);
	free(pool);
}

void
procpool_destroy(struct procpool *pool)
{
	if (pool == NULL)
		return;
	if (pool->supervisor_started) {
		pthread_mutex_lock(&pool->lock);
		pool->stopping = true;
		pthread_cond_broadcast(&pool->changed);
		pthread_mutex_unlock(&pool->lock);
		wake_supervisor(pool);
		pthread_join(pool->supervisor, NULL);
	}
	pool_free(pool);
}

/* Wait until every slot is READY, or one failed its first start. Lock held. */
static int
wait_first_start(struct procpool *pool, char *err, size_t errlen)
{
	int64_t deadline = clock_mono_ms() + pool->init_timeout_ms + FINI_TIMEOUT_MS;

	for (;;) {
		unsigned ready = 0;

		for (unsigned i = 0; i < pool->count; i++) {
			const struct slot *s = &pool->slots[i];

			if (s->init_failures > 0) {
				snprintf(err, errlen, "%s", s->last_failure);
				return -EINVAL;
			}
			ready += s->state == SLOT_READY;
		}
		if (ready == pool->count)
			return 0;
		if (clock_mono_ms() >= deadline) {
			snprintf(err, errlen, "plugin %s (route %s): its workers did not start",
			         pool->plugin, pool->route);
			return -ETIMEDOUT;
		}
		wait_changed(pool, 100);
	}
}

int
procpool_create(const struct procpool_options *opts, const struct procpool_host *host, char *err,
                size_t errlen, struct procpool **pool_r)
{
	struct procpool *pool;
	int rc;

	if (opts == NULL || opts->plugin_dir == NULL || opts->plugin == NULL ||
	    opts->route == NULL || opts->workers == 0) {
		snprintf(err, errlen,
		         "process pool: plugin_dir, plugin, route and workers >= 1 "
		         "are required");
		return -EINVAL;
	}
	pool = xcalloc(1, sizeof(*pool));
	pool->plugin_fd = -1;
	pool->wake_fd = -1;
	pthread_mutex_init(&pool->lock, NULL);
	{
		pthread_condattr_t attr;

		/* Waits are deadlines on the monotonic clock. */
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&pool->changed, &attr);
		pthread_condattr_destroy(&attr);
	}
	pool->plugin = xstrdup(opts->plugin);
	pool->route = xstrdup(opts->route);
	pool->handler = xstrdup(opts->handler != NULL ? opts->handler : opts->plugin);
	pool->path = xmalloc(strlen(opts->plugin_dir) + strlen(opts->plugin) + sizeof("/.so"));
	sprintf(pool->path, "%s/%s.so", opts->plugin_dir, opts->plugin);
	if (opts->config_json != NULL && opts->config_len > 0) {
		pool->config = xstrndup(opts->config_json, opts->config_len);
		pool->config_len = opts->config_len;
	} else {
		pool->config = xstrdup("{}");
		pool->config_len = 2;
	}
	pool->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 0;
	pool->limits = opts->limits;
	pool->respawn_initial_ms =
	    opts->respawn_initial_ms > 0 ? opts->respawn_initial_ms : DEFAULT_RESPAWN_INITIAL_MS;
	pool->respawn_max_ms =
	    opts->respawn_max_ms > 0 ? opts->respawn_max_ms : DEFAULT_RESPAWN_MAX_MS;
	if (pool->respawn_max_ms < pool->respawn_initial_ms)
		pool->respawn_max_ms = pool->respawn_initial_ms;
	pool->init_timeout_ms =
	    opts->init_timeout_ms > 0 ? opts->init_timeout_ms : DEFAULT_INIT_TIMEOUT_MS;
	pool->host = host != NULL ? *host : procpool_default_host;
	if (opts->worker_path != NULL)
		snprintf(pool->worker_path, sizeof(pool->worker_path), "%s", opts->worker_path);
	else
		worker_program_path(pool->worker_path, sizeof(pool->worker_path));
	pool->page_size = sysconf(_SC_PAGESIZE);
	pool->count = opts->workers;
	pool->slots = xcalloc(pool->count, sizeof(*pool->slots));
	for (unsigned i = 0; i < pool->count; i++) {
		struct slot *s = &pool->slots[i];

		s->index = i;
		s->last_call_us = -1;
		s->sock = -1;
		s->statm_fd = -1;
		s->out = xmalloc(IPC_INLINE_MAX);
		s->in = xmalloc(IPC_BUF_SIZE);
	}

	rc = plugin_file_open(opts->plugin_dir, opts->plugin, err, errlen, &pool->plugin_fd);
	if (rc < 0)
		goto fail;
	pool->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pool->wake_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "process pool: eventfd: %s", strerror(-rc));
		goto fail;
	}
	rc = -pthread_create(&pool->supervisor, NULL, supervisor_main, pool);
	if (rc < 0) {
		snprintf(err, errlen, "process pool: cannot start its thread: %s", strerror(-rc));
		goto fail;
	}
	pool->supervisor_started = true;
	pthread_mutex_lock(&pool->lock);
	rc = wait_first_start(pool, err, errlen);
	pthread_mutex_unlock(&pool->lock);
	if (rc < 0)
		goto fail;
	*pool_r = pool;
	return 0;
fail:
	procpool_destroy(pool);
	return rc;
}

/* ----- calls ----- */

/* Wait for the slot's worker and take the slot; `through_backoff`: also
 * when it is waiting out a respawn delay. 0, or fills *out with
 * PROCPOOL_UNAVAILABLE and returns 1. Lock held on entry and exit. */
static int
take_slot(struct procpool *pool, struct slot *s, int64_t deadline, bool through_backoff,
          struct procpool_outcome *out)
{
	for (;;) {
		int64_t now = clock_mono_ms(), wait_until;

		if (s->state == SLOT_READY) {
			s->state = SLOT_BUSY;
			return 0;
		}
		if (s->state == SLOT_BUSY) {
			out->result = PROCPOOL_UNAVAILABLE;
			snprintf(out->cause, sizeof(out->cause), "route %s: slot %u is in a call",
			         pool->route, s->index);
			return 1;
		}
		if (pool->stopping || __atomic_load_n(&pool->calls_stopped, __ATOMIC_ACQUIRE)) {
			out->result = PROCPOOL_UNAVAILABLE;
			snprintf(out->cause, sizeof(out->cause), "route %s: shutting down",
			         pool->route);
			return 1;
		}
		/* A slot waiting out a backoff will not have a worker soon. */
		if (!through_backoff && s->state == SLOT_EMPTY &&
		    s->next_spawn_ms > now + WAIT_TICK_MS) {
			out->result = PROCPOOL_UNAVAILABLE;
			snprintf(out->cause, sizeof(out->cause),
			         "route %s: no worker (%s%.160s), next try in %lld ms", pool->route,
			         s->last_was_init ? "init failed: " : "", s->last_failure,
			         (long long)(s->next_spawn_ms - now));
			return 1;
		}
		if (deadline > 0 && now >= deadline) {
			out->result = PROCPOOL_UNAVAILABLE;
			snprintf(out->cause, sizeof(out->cause),
			         "route %s: no worker became ready before the deadline",
			         pool->route);
			return 1;
		}
		wait_until = now + 1000;
		if (deadline > 0 && deadline < wait_until)
			wait_until = deadline;
		wait_changed(pool, wait_until - now);
	}
}

/* The header fields of one task in a call message. */
#define TASK_HEAD_SIZE (4 + 4 + 8 + 4)
/* The fields of the call message before its tasks. */
#define CALL_HEAD_SIZE (4 + 4 + 8 + 8)

static const struct msg_header *
task_headers(const struct tj_task *task, size_t *count_r)
{
	const struct msg_header *headers = NULL;

	*count_r = 0;
	if (task->backend != NULL && task->backend->ops->headers != NULL &&
	    task->backend->ops->headers(task->backend, task, &headers, count_r) < 0)
		*count_r = 0;
	return *count_r > 0 ? headers : NULL;
}

static size_t
task_size(const struct tj_task *task)
{
	size_t count, size = TASK_HEAD_SIZE;
	const struct msg_header *headers = task_headers(task, &count);

	size += IPC_STR_SIZE(strlen(task->subject)) + IPC_STR_SIZE(strlen(task->id)) +
	        IPC_STR_SIZE(task->stream != NULL ? strlen(task->stream) : 0) +
	        IPC_STR_SIZE(task->payload_len);
	for (size_t i = 0; i < count; i++)
		size +=
		    IPC_STR_SIZE(strlen(headers[i].key)) + IPC_STR_SIZE(strlen(headers[i].value));
	return size;
}

static void
put_task(struct ipc_out *o, const struct tj_task *task)
{
	size_t count;
	const struct msg_header *headers = task_headers(task, &count);

	ipc_put_u32(o, task->attempt);
	ipc_put_u32(o, host_api_table.task_max_attempts(task));
	ipc_put_u64(o, task->stream_seq);
	ipc_put_u32(o, (uint32_t)count);
	ipc_put_str(o, task->subject, strlen(task->subject));
	ipc_put_str(o, task->id, strlen(task->id));
	ipc_put_str(o, task->stream, task->stream != NULL ? strlen(task->stream) : 0);
	for (size_t i = 0; i < count; i++) {
		ipc_put_str(o, headers[i].key, strlen(headers[i].key));
		ipc_put_str(o, headers[i].value, strlen(headers[i].value));
	}
	ipc_put_str(o, task->payload, task->payload_len);
}

/* A batch in progress: tasks[next..n) have not ended yet. */
struct batch {
	struct tj_task **tasks;
	size_t n, next;
	int64_t first_deadline; /* of tasks[next] (monotonic ms); 0: from its start */
	bool behind_failure; /* a task of it ended without a verdict */
	int64_t timeout_ms; /* per task from its start; 0: none */
	procpool_end_fn end;
	void *ctx;
};

/*
 * Send tasks[next..] to the worker as calls s->call_no + 1, + 2, ...: as
 * many as fit one inline message (at least one, which may need a memfd).
 * *sent_r: how many went. 0 or ipc_send's -errno.
 */
static int
send_batch(struct slot *s, const struct batch *b, int64_t first_deadline, size_t *sent_r)
{
	size_t size = CALL_HEAD_SIZE, count = 0;
	struct ipc_out o;
	int rc;

	for (size_t i = b->next; i < b->n; i++) {
		size_t more = task_size(b->tasks[i]);

		if (count > 0 && size + more > IPC_INLINE_MAX)
			break;
		size += more;
		count++;
	}
	rc = ipc_begin(&o, s->out, IPC_INLINE_MAX, IPC_CALL, size);
	if (rc < 0)
		return rc;
	ipc_put_u32(&o, s->call_no + 1);
	ipc_put_u32(&o, (uint32_t)count);
	ipc_put_u64(&o, (uint64_t)first_deadline);
	ipc_put_u64(&o, (uint64_t)b->timeout_ms);
	for (size_t i = 0; i < count; i++)
		put_task(&o, b->tasks[b->next + i]);
	*sent_r = count;
	return ipc_send(s->sock, &o);
}

static int
send_result(struct slot *s, int value)
{
	struct ipc_out o;
	int rc = ipc_begin(&o, s->out, IPC_INLINE_MAX, IPC_RESULT, 8);

	if (rc < 0)
		return rc;
	ipc_put_u32(&o, s->call_no);
	ipc_put_u32(&o, (uint32_t)value);
	return ipc_send(s->sock, &o);
}

/* Serve a host request of the current call. 0, or -EPROTO / a send error. */
static int
serve_request(struct procpool *pool, struct slot *s, struct tj_task *task,
              const struct ipc_msg *msg)
{
	struct ipc_in in;
	const char *subject, *data;
	size_t subject_len, len;
	int value;

	ipc_in_init(&in, msg);
	if (ipc_get_u32(&in) != s->call_no)
		return -EPROTO;
	if (msg->type == IPC_IN_PROGRESS) {
		value = pool->host.in_progress(pool->host.ctx, task);
	} else {
		subject = ipc_get_str(&in, &subject_len);
		data = ipc_get_str(&in, &len);
		if (in.bad || subject_len != strlen(subject))
			return -EPROTO;
		value = pool->host.publish(pool->host.ctx, task, subject, data, len);
		if (value == 0)
			s->published++;
	}
	if (value > 0)
		value = -EINVAL;
	return send_result(s, value);
}

/* The verdict and what the handler said with it. 0 or -EPROTO. */
static int
take_reply(struct procpool *pool, struct slot *s, struct tj_task *task, const struct ipc_msg *msg,
           struct procpool_outcome *out)
{
	struct ipc_in in;
	const char *reason;
	uint32_t verdict;
	int64_t retry_after;
	size_t len;

	ipc_in_init(&in, msg);
	if (ipc_get_u32(&in) != s->call_no)
		return -EPROTO;
	verdict = ipc_get_u32(&in);
	retry_after = (int64_t)ipc_get_u64(&in);
	reason = ipc_get_str(&in, &len);
	if (in.bad)
		return -EPROTO;
	out->result = PROCPOOL_VERDICT;
	out->verdict = (int)(int32_t)verdict;
	task->retry_after_ms = retry_after < 0 ? -1 : retry_after;
	if (len > 0)
		host_api_take_fail_reason(task, xstrndup(reason, len), len);
	task->publish_count = s->published;
	return 0;
}

enum batch_end {
	BATCH_SENT_DONE, /* every task sent this round ended with a verdict */
	BATCH_FAILED, /* tasks[next] ended otherwise: *fail says how */
	BATCH_LOST_IDLE, /* the worker was found dead before it got anything */
};

static void
outcome_init(struct procpool_outcome *out)
{
	memset(out, 0, sizeof(*out));
	out->exit_status = -1;
}

/*
 * One round of a batch on a BUSY slot (lock not held): send what fits,
 * then serve the worker until each sent task ended. Verdicts are reported
 * through b->end as they come (b->next moves past them; *verdicts_r counts
 * them); a task that ends otherwise is left at b->next, described in
 * *fail, for the caller to report once the slot is settled.
 */
static enum batch_end
run_batch(struct procpool *pool, struct slot *s, struct batch *b, struct procpool_outcome *fail,
          bool *recycle_r, size_t *verdicts_r)
{
	int64_t deadline = b->first_deadline, spin, started_us, now;
	size_t sent = 0, last;
	struct procpool_outcome out;
	struct tj_task *task;
	struct ipc_msg msg;
	int rc;

	outcome_init(fail);
	started_us = clock_mono_us();
	if (deadline == 0 && b->timeout_ms > 0)
		deadline = started_us / 1000 + b->timeout_ms;
	for (;;) {
		rc = send_batch(s, b, deadline, &sent);
		if (rc != -EAGAIN)
			break;
		/* Its socket is full: it is not reading. Wait for the deadline. */
		if (deadline > 0 && clock_mono_ms() >= deadline)
			goto timed_out;
	}
	if (rc == -EPIPE) {
		slot_reap(pool, s, false, fail);
		return BATCH_LOST_IDLE;
	}
	if (rc < 0) {
		/* A task we cannot even encode (over 2 GiB): the worker is fine. */
		fail->result = PROCPOOL_CRASHED;
		snprintf(fail->cause, sizeof(fail->cause), "cannot send the task to its worker: %s",
		         strerror(-rc));
		return BATCH_FAILED;
	}
	last = b->next + sent;
	s->call_no++;
	s->published = 0;
	task = b->tasks[b->next];
	/* A handler as quick as the last one is waited for awake. */
	spin = ipc_spin_budget(s->last_call_us);
	for (;;) {
		rc = ipc_recv_spin(s->sock, s->in, IPC_BUF_SIZE, &msg, spin);
		spin = 0;
		if (rc == 0) {
			if (msg.type == IPC_REPLY) {
				outcome_init(&out);
				rc = take_reply(pool, s, task, &msg, &out);
				ipc_msg_release(&msg);
				if (rc < 0)
					goto protocol;
				now = clock_mono_us();
				out.run_us = now - started_us;
				s->last_call_us = out.run_us;
				/* A leak that grows between calls too short to be
				 * sampled: look now and then; the verdict stands. */
				if (pool->limits.memory_bytes > 0 &&
				    now / 1000 - s->rss_checked_ms >= RSS_CHECK_MS) {
					s->rss_checked_ms = now / 1000;
					*recycle_r =
					    *recycle_r || over_memory(pool, worker_rss(pool, s));
				}
				(*verdicts_r)++;
				b->end(b->ctx, b->next, task, &out);
				b->next++;
				if (b->next == last)
					return BATCH_SENT_DONE;
				/* The worker went on with the next one as it replied. */
				s->call_no++;
				s->published = 0;
				task = b->tasks[b->next];
				started_us = now;
				deadline = b->timeout_ms > 0 ? now / 1000 + b->timeout_ms : 0;
				spin = ipc_spin_budget(s->last_call_us);
				continue;
			}
			if (msg.type == IPC_LOG)
				forward_log(pool, &msg, task, s->call_no);
			else if (msg.type == IPC_PUBLISH || msg.type == IPC_IN_PROGRESS)
				rc = serve_request(pool, s, task, &msg);
			else
				rc = -EPROTO;
			ipc_msg_release(&msg);
			if (rc == -EPIPE)
				goto died;
			if (rc < 0)
				goto protocol;
		} else if (rc == -EPIPE) {
			goto died;
		} else if (rc != -EAGAIN) {
			goto protocol;
		}
		if (deadline > 0 && clock_mono_ms() >= deadline)
			goto timed_out;
		if (__atomic_load_n(&pool->calls_stopped, __ATOMIC_ACQUIRE))
			goto stopped;
		/* On the clock, not only when the worker is quiet: one that
		 * logs or publishes faster than the tick must not dodge it. */
		if (pool->limits.memory_bytes == 0)
			continue;
		now = clock_mono_ms();
		if (rc != -EAGAIN && now - s->rss_checked_ms < WAIT_TICK_MS)
			continue;
		s->rss_checked_ms = now;
		if (over_memory(pool, worker_rss(pool, s))) {
			slot_reap(pool, s, true, fail);
			fail->result = PROCPOOL_CRASHED;
			snprintf(fail->cause, sizeof(fail->cause), "out of memory (limit %llu MiB)",
			         (unsigned long long)(pool->limits.memory_bytes / MIB));
			goto failed;
		}
	}
died:
	slot_reap(pool, s, false, fail);
	fail->result = PROCPOOL_CRASHED;
	goto failed;
protocol:
	slot_reap(pool, s, true, fail);
	fail->result = PROCPOOL_CRASHED;
	fail->signal = 0;
	snprintf(fail->cause, sizeof(fail->cause),
	         "its worker broke the protocol (a bad message); killed");
	goto failed;
stopped:
	slot_reap(pool, s, true, fail);
	fail->result = PROCPOOL_STOPPED;
	fail->signal = 0;
	fail->exit_status = -1;
	snprintf(fail->cause, sizeof(fail->cause), "stopped: the engine is stopping");
	goto failed;
timed_out:
	slot_reap(pool, s, true, fail);
	fail->result = PROCPOOL_TIMED_OUT;
	fail->signal = 0;
	fail->exit_status = -1;
	snprintf(fail->cause, sizeof(fail->cause), "timed out after %lld ms",
	         (long long)((clock_mono_us() - started_us) / 1000));
failed:
	fail->run_us = clock_mono_us() - started_us;
	return BATCH_FAILED;
}

/*
 * The slot after tasks[b->next] ended without a verdict (`out`): count it,
 * log it, and give the slot its next state. Lock held.
 */
static void
settle_failure(struct procpool *pool, struct slot *s, const struct tj_task *task,
               const struct procpool_outcome *out)
{
	pool->stats.calls++;
	if (out->result == PROCPOOL_STOPPED) {
		pool->stats.stopped++;
		pool_log(pool, task, TJ_LOG_NOTICE,
		         "task %s stopped with its worker (slot %u): the engine is stopping",
		         task->id, s->index);
		slot_schedule(pool, s, false, out->cause);
		return;
	}
	if (out->result == PROCPOOL_TIMED_OUT) {
		pool->stats.timeouts++;
		pool_log(pool, task, TJ_LOG_WARNING,
		         "task %s %s; its worker (slot %u) was killed and is restarted", task->id,
		         out->cause, s->index);
	} else {
		pool->stats.crashes++;
		pool_log(pool, task, TJ_LOG_WARNING,
		         "the worker of slot %u ended handling task %s: %s; restarting it",
		         s->index, task->id, out->cause);
	}
	if (s->pid != 0) {
		/* The task could not be sent at all; the worker is fine. */
		s->state = SLOT_READY;
		pthread_cond_broadcast(&pool->changed);
	} else {
		slot_schedule(pool, s, false, out->cause);
	}
}

/* The slot after a round whose tasks all ended with verdicts. Lock held. */
static void
settle_round(struct procpool *pool, struct slot *s, const struct tj_task *task, bool recycle)
{
	if (!recycle) {
		s->state = SLOT_READY;
		pthread_cond_broadcast(&pool->changed);
		return;
	}
	pool->stats.recycled++;
	pool_log(pool, task, TJ_LOG_WARNING,
	         "worker of slot %u is over its memory limit of %llu MiB after task %s; "
	         "replacing it",
	         s->index, (unsigned long long)(pool->limits.memory_bytes / MIB), task->id);
	s->life_calls = 1; /* a healthy life: restart at once */
	slot_schedule(pool, s, false, "replaced after going over its memory limit");
}

static int
call_tasks(struct procpool *pool, unsigned slot, struct batch *b)
{
	struct procpool_outcome out;
	struct slot *s;

	if (pool == NULL || b->n == 0 || slot >= pool->count)
		return -EINVAL;
	s = &pool->slots[slot];
	for (size_t i = 0; i < b->n; i++)
		task_reset_verdict_state(b->tasks[i]);
	pthread_mutex_lock(&pool->lock);
	if (s->state == SLOT_BUSY) {
		pthread_mutex_unlock(&pool->lock);
		return -EINVAL;
	}
	while (b->next < b->n) {
		int64_t wait_until = b->first_deadline;
		size_t verdicts = 0;
		bool recycle = false;
		enum batch_end end;

		outcome_init(&out);
		if (wait_until == 0 && b->timeout_ms > 0 && !b->behind_failure)
			wait_until = clock_mono_ms() + b->timeout_ms;
		/*
		 * Tasks that were behind a crash were taken for this slot and
		 * are kept alive meanwhile: they wait for its next worker,
		 * however long its respawn delay (a stop ends the wait), rather
		 * than go back to the server and spend a delivery.
		 */
		if (take_slot(pool, s, wait_until, b->behind_failure, &out) != 0) {
			pthread_mutex_unlock(&pool->lock);
			for (; b->next < b->n; b->next++)
				b->end(b->ctx, b->next, b->tasks[b->next], &out);
			return 0;
		}
		pthread_mutex_unlock(&pool->lock);
		end = run_batch(pool, s, b, &out, &recycle, &verdicts);
		if (recycle && end != BATCH_SENT_DONE)
			recycle = false; /* the worker is gone already */
		if (recycle) {
			struct procpool_outcome end_of_life;

			outcome_init(&end_of_life);
			slot_reap(pool, s, true, &end_of_life);
		}
		pthread_mutex_lock(&pool->lock);
		pool->stats.calls += verdicts;
		if (verdicts > 0) {
			s->life_calls += verdicts;
			s->failures = 0;
		}
		if (end == BATCH_LOST_IDLE) {
			/* It died idle before getting the task: not the task's fault. */
			pool_log(pool, b->tasks[b->next], TJ_LOG_WARNING,
			         "worker of slot %u %s while idle; restarting it for task %s",
			         s->index, out.cause, b->tasks[b->next]->id);
			slot_schedule(pool, s, false, out.cause);
			continue;
		}
		if (end == BATCH_SENT_DONE) {
			settle_round(pool, s, b->tasks[b->next - 1], recycle);
			continue;
		}
		settle_failure(pool, s, b->tasks[b->next], &out);
		pthread_mutex_unlock(&pool->lock);
		b->end(b->ctx, b->next, b->tasks[b->next], &out);
		b->next++;
		/* The rest never started: they go to the next worker. */
		b->first_deadline = 0;
		b->behind_failure = true;
		pthread_mutex_lock(&pool->lock);
	}
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

int
procpool_call_batch(struct procpool *pool, unsigned slot, struct tj_task **tasks, size_t n,
                    int64_t timeout_ms, procpool_end_fn end, void *ctx)
{
	struct batch b = {
		.tasks = tasks,
		.n = n,
		.timeout_ms = timeout_ms > 0 ? timeout_ms : (pool != NULL ? pool->timeout_ms : 0),
		.end = end,
		.ctx = ctx,
	};

	if (tasks == NULL || end == NULL)
		return -EINVAL;
	return call_tasks(pool, slot, &b);
}

static void
copy_outcome(void *ctx, size_t index, struct tj_task *task, const struct procpool_outcome *out)
{
	*(struct procpool_outcome *)ctx = *out;
}

int
procpool_call(struct procpool *pool, unsigned slot, struct tj_task *task, int64_t deadline_ms,
              struct procpool_outcome *out)
{
	struct batch b = { .tasks = &task, .n = 1, .end = copy_outcome, .ctx = out };

	outcome_init(out);
	if (pool == NULL || task == NULL)
		return -EINVAL;
	b.timeout_ms = pool->timeout_ms;
	b.first_deadline = deadline_ms;
	if (deadline_ms == 0 && pool->timeout_ms > 0)
		b.first_deadline = clock_mono_ms() + pool->timeout_ms;
	return call_tasks(pool, slot, &b);
}

void
procpool_stop_calls(struct procpool *pool)
{
	/* Each calling thread sees the flag within one receive tick and
	 * kills its own worker: only a slot's owner touches its process. */
	__atomic_store_n(&pool->calls_stopped, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&pool->lock);
	pthread_cond_broadcast(&pool->changed);
	pthread_mutex_unlock(&pool->lock);
}

/* ----- readiness ----- */

static bool
slot_live(const struct slot *s)
{
	return s->state == SLOT_READY || s->state == SLOT_BUSY || s->state == SLOT_DRAINING;
}

bool
procpool_ready(struct procpool *pool, char *why, size_t len)
{
	int64_t now = clock_mono_ms();
	bool ready = true;

	pthread_mutex_lock(&pool->lock);
	for (unsigned i = 0; i < pool->count && ready; i++) {
		const struct slot *s = &pool->slots[i];
		long long secs = (s->next_spawn_ms - now + 999) / 1000;

		if (slot_live(s))
			continue;
		ready = false;
		if (secs < 0)
			secs = 0;
		if (s->state == SLOT_STARTING && s->failures == 0)
			snprintf(why, len, "route %s: worker starting", pool->route);
		else if (s->state == SLOT_STARTING && s->last_was_init)
			snprintf(why, len,
			         "route %s: plugin init failed %u times: %s; trying again",
			         pool->route, s->init_failures, s->last_failure);
		else if (s->state == SLOT_STARTING)
			snprintf(why, len, "route %s: respawning after crash (%s)", pool->route,
			         s->last_failure);
		else if (s->last_was_init)
			snprintf(why, len,
			         "route %s: plugin init failed %u times: %s; next try in %lld s",
			         pool->route, s->init_failures, s->last_failure, secs);
		else
			snprintf(why, len,
			         "route %s: respawning after crash (%s), next try in %lld s",
			         pool->route, s->last_failure, secs);
	}
	pthread_mutex_unlock(&pool->lock);
	return ready;
}

bool
procpool_slot_live(struct procpool *pool, unsigned slot)
{
	bool live;

	if (slot >= pool->count)
		return false;
	pthread_mutex_lock(&pool->lock);
	live = slot_live(&pool->slots[slot]);
	pthread_mutex_unlock(&pool->lock);
	return live;
}

void
procpool_stats(struct procpool *pool, struct procpool_stats *stats_r)
{
	pthread_mutex_lock(&pool->lock);
	*stats_r = pool->stats;
	pthread_mutex_unlock(&pool->lock);
}

int
procpool_worker_pid(struct procpool *pool, unsigned slot)
{
	int pid = 0;

	if (slot >= pool->count)
		return 0;
	pthread_mutex_lock(&pool->lock);
	if (pool->slots[slot].state != SLOT_EMPTY && pool->slots[slot].state != SLOT_STARTING)
		pid = (int)pool->slots[slot].pid;
	pthread_mutex_unlock(&pool->lock);
	return pid;
}

int
procpool_file_stat(struct procpool *pool, struct stat *st_r)
{
	return fstat(pool->plugin_fd, st_r) < 0 ? -errno : 0;
}
