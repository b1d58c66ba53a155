/* SPDX-License-Identifier: MIT */
/*
 * Process isolation for one route: a supervised pool of worker processes
 * (the taskjet-worker program), one per concurrency slot, each of which
 * loads the route's plugin and runs tj_plugin_init with the route's config,
 * then handles the tasks the engine sends it. The engine keeps all NATS
 * I/O: a worker asks for task_publish, task_in_progress and log lines over
 * its socket, and the pool answers through the host callbacks below. The
 * same .so runs unchanged in a worker or in the engine's threads.
 *
 * A worker that crashes, exits or overruns its deadline costs exactly the
 * task it held: procpool_call() says how it ended, and the slot gets a new
 * worker (at once after a healthy life, with a growing delay while workers
 * keep dying without finishing a task or their init keeps failing). Nothing
 * else is touched.
 *
 * Threads: create and destroy on one thread (the main thread), never while
 * a call runs. procpool_call() for a slot from one thread at a time (the
 * engine thread that owns the slot); different slots from different threads
 * at once. procpool_ready() and procpool_stats() from any thread. The pool
 * runs one supervisor thread of its own, which starts every worker (so the
 * workers' parent-death signal is tied to it) and drains idle workers' log
 * lines.
 */
#ifndef TASKJET_PROCPOOL_H
#define TASKJET_PROCPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "task/task.h"
#include "util/log.h"

struct procpool;

/* Per-worker resource limits; 0 leaves one unset. */
struct procpool_limits {
	/*
	 * Resident memory of a worker, in bytes. The pool samples it every
	 * 25 ms while a call runs and kills the worker beyond it ("out of
	 * memory (limit 64 MiB)"); after calls (every 100 ms at most) and
	 * while idle (every second) it replaces a worker found beyond it. In
	 * builds without AddressSanitizer the worker also gets RLIMIT_DATA at
	 * max(2 x limit, limit + 256 MiB), so an allocation burst between two
	 * samples fails rather than taking the host.
	 */
	uint64_t memory_bytes;
	/* CPU seconds one call may use (RLIMIT_CPU, re-armed before each call;
	 * threads the plugin started count too): SIGXCPU, then SIGKILL. */
	uint32_t cpu_seconds;
	/* RLIMIT_NOFILE of the worker (lowered only). */
	uint32_t open_files;
};

/*
 * What the engine does for its workers. Called on the thread running
 * procpool_call() for the task it passes; log also from the supervisor and
 * destroy (task NULL) for lines written outside a call. ctx is passed back.
 */
struct procpool_host {
	/* task_publish: publish a follow-up of `task` and wait for the store.
	 * 0 or -errno; handed back to the plugin as its return value. */
	int (*publish)(void *ctx, struct tj_task *task, const char *subject, const void *data,
	               size_t len);
	/* task_in_progress for `task`. 0 or -errno, as above. */
	int (*in_progress)(void *ctx, struct tj_task *task);
	/* One line the plugin (or the worker) logged. `where` names the
	 * route and plugin, and the task when the line came from its handler
	 * call; `line` is one line, control characters blanked. */
	void (*log)(void *ctx, const struct log_ctx *where, int level, const char *line);
	void *ctx;
};

/* The engine's own services: tj_host_api's task_publish and task_in_progress
 * (so message ids and ordinals are exactly as in thread mode), log_write. */
extern const struct procpool_host procpool_default_host;

struct procpool_options {
	const char *plugin_dir;
	const char *plugin; /* file stem */
	const char *route; /* for messages and log lines */
	const char *handler; /* registered handler name; NULL: the plugin's name */
	const char *config_json; /* the route's "config" object; NULL: {} */
	size_t config_len;
	unsigned workers; /* slots, the route's concurrency (>= 1) */
	int64_t timeout_ms; /* per call, when procpool_call gets no deadline; 0: none */
	struct procpool_limits limits;
	int64_t respawn_initial_ms; /* first delay of the backoff; 0: 1000 */
	int64_t respawn_max_ms; /* its ceiling; 0: 60000 */
	int64_t init_timeout_ms; /* tj_plugin_init may take this long; 0: 30000 */
	const char *worker_path; /* the worker program; NULL: worker_program_path() */
};

/*
 * Open and vet the plugin file (as the loader does: the workers load that
 * very file through its descriptor, also when respawned after it changed on
 * disk), start `workers` workers and wait until each has run
 * tj_plugin_init and found `handler`. host NULL: procpool_default_host;
 * it and opts' strings are copied. 0, or -errno with one line in err (the
 * loader's refusal, or "plugin X (route R): tj_plugin_init failed: ..."),
 * nothing left running. *pool_r is freed with procpool_destroy().
 */
int procpool_create(const struct procpool_options *opts, const struct procpool_host *host,
                    char *err, size_t errlen, struct procpool **pool_r);

/*
 * Finalise: every worker runs tj_plugin_fini and exits (killed if it takes
 * over 5 s), is reaped, and every descriptor is closed. No call may be
 * running. NULL is a no-op.
 */
void procpool_destroy(struct procpool *pool);

/* How a call ended. */
enum procpool_result {
	PROCPOOL_VERDICT = 0, /* the handler returned */
	PROCPOOL_CRASHED, /* the worker died (or broke the protocol) mid-task */
	PROCPOOL_TIMED_OUT, /* still running at the deadline: the worker was killed */
	PROCPOOL_UNAVAILABLE, /* no live worker for the slot: the task never ran */
	PROCPOOL_STOPPED, /* procpool_stop_calls() killed its worker: not the task's doing */
};

struct procpool_outcome {
	enum procpool_result result;
	/* PROCPOOL_VERDICT: what the handler returned (a value that is no
	 * tj_verdict is passed on as is). */
	int verdict;
	/* PROCPOOL_CRASHED: the signal that killed the worker (0 if it exited
	 * or broke the protocol), or its exit status (-1 if killed). */
	int signal;
	int exit_status;
	/* Not PROCPOOL_VERDICT: one line for logs and the Taskjet-Error
	 * header: "killed by signal 11 (Segmentation fault)", "exited with
	 * status 3", "out of memory (limit 64 MiB)", "timed out after 1000 ms",
	 * why no worker was there, or "stopped: the engine is stopping". */
	char cause[256];
	/* How long the task ran on its worker, microseconds, as the pool saw
	 * it: from sending it (or the end of the task before it in a batch)
	 * to its end. 0 when it never ran. */
	int64_t run_us;
};

/*
 * Run `task` on the worker of `slot` (< workers) and block until it ends.
 * deadline_ms: monotonic ms (clock_mono_ms) at which the worker is killed;
 * 0: now + the pool's timeout_ms (none if that is 0). The worker sees the
 * task as in thread mode (subject, payload, headers, id, attempt,
 * max_attempts, time left); while it runs, its host requests are served
 * on this thread through the host callbacks. With a verdict, the task's
 * retry_after_ms, fail_reason and publish_count are set as plugin_call()
 * sets them. Waits (up to the deadline) for a worker that is starting.
 * Returns 0 with *out filled, or -EINVAL for a bad slot or a slot already
 * in a call.
 */
int procpool_call(struct procpool *pool, unsigned slot, struct tj_task *task, int64_t deadline_ms,
                  struct procpool_outcome *out);

/*
 * One task of a batch ended: `index` into the batch, `out` how (as
 * procpool_call fills it; run_us is set too). Called on the thread running
 * procpool_call_batch(), in order, once per task, with no pool lock held:
 * the callback may take its time (settle the task) while the worker runs
 * the next one. out is valid during the call only.
 */
typedef void (*procpool_end_fn)(void *ctx, size_t index, struct tj_task *task,
                                const struct procpool_outcome *out);

/*
 * Run tasks[0..n) on the worker of `slot`, in order, sent in as few
 * messages as fit IPC_INLINE_MAX (one for small tasks), so quick handlers
 * cost one round trip per batch rather than per task. The worker answers
 * each task as it ends, and `end` reports it at once. Each task has
 * timeout_ms from its own start (0: the pool's timeout_ms; none if that
 * is 0); task_time_left_ms counts from there too. A worker that dies or is
 * killed costs the task it was running (its outcome says how); the tasks
 * after it never started and go to the slot's next worker, waiting for it
 * through any respawn delay (they were taken for this slot; the caller
 * keeps them alive): only procpool_stop_calls() or destroy ends that wait,
 * with PROCPOOL_UNAVAILABLE. Tasks (borrowed until their
 * end) must not be in another call. Returns 0 once every task ended, or
 * -EINVAL (nothing ran) for a bad slot, n 0, or a slot already in a call.
 * Thread rules as procpool_call.
 */
int procpool_call_batch(struct procpool *pool, unsigned slot, struct tj_task **tasks, size_t n,
                        int64_t timeout_ms, procpool_end_fn end, void *ctx);

/*
 * Stop every call: workers in a call are killed (within 25 ms) and their
 * calls end PROCPOOL_STOPPED, later calls PROCPOOL_UNAVAILABLE, and no
 * worker is started any more. For the end of a shutdown grace, when the
 * tasks must go back rather than wait. Any thread; idempotent.
 */
void procpool_stop_calls(struct procpool *pool);

/*
 * True when every slot has a live worker. Otherwise false, and `why` (len
 * bytes) says what the first slot without one is waiting for: "route R:
 * plugin init failed 5 times: <reason>; next try in 2 s", "route R:
 * respawning after crash (killed by signal 11 (Segmentation fault)), next
 * try in 2 s", "route R: worker starting".
 */
bool procpool_ready(struct procpool *pool, char *why, size_t len);

/* True when the slot has a live worker (idle or in a call), so a task
 * given to it now will run rather than come back PROCPOOL_UNAVAILABLE. A
 * dispatcher thread checks it before taking a task for its slot. Any
 * thread. */
bool procpool_slot_live(struct procpool *pool, unsigned slot);

/* Counters since create, for metrics. */
struct procpool_stats {
	uint64_t calls; /* calls that reached a worker */
	uint64_t spawns; /* workers started, the first ones included */
	uint64_t crashes; /* calls ended by PROCPOOL_CRASHED */
	uint64_t stopped; /* calls ended by PROCPOOL_STOPPED */
	uint64_t timeouts; /* calls ended by PROCPOOL_TIMED_OUT */
	uint64_t init_failures; /* workers whose init failed or died in it */
	uint64_t recycled; /* workers replaced after going over the memory limit */
};

void procpool_stats(struct procpool *pool, struct procpool_stats *stats_r);

/* The identity of the plugin file the workers load (fstat of the pool's
 * descriptor: the file as it was opened at create). 0 or -errno. */
struct stat;
int procpool_file_stat(struct procpool *pool, struct stat *st_r);

/* The pid of the slot's worker, or 0 when it has none (tests, logs). */
int procpool_worker_pid(struct procpool *pool, unsigned slot);

#endif
