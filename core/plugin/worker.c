/* SPDX-License-Identifier: MIT */
/*
 * taskjet-worker: the process a route's plugin runs in under process
 * isolation (mode "serve", driven by core/plugin/procpool.c), and the
 * throwaway process that reads a plugin's descriptor for the loader (mode
 * "probe", core/plugin/probe.c). Started by the engine only, never by hand:
 *
 *   taskjet-worker serve|probe <engine pid>
 *
 * with its socket to the engine as fd 3 and the plugin file as fd 4.
 *
 * In serve mode the plugin sees the very host API table of thread mode
 * (core/plugin/host_api.c): the task it gets is a struct tj_task whose
 * strings point into the engine's call message, and whose "backend" sends
 * task_publish and task_in_progress to the engine and answers header reads
 * from the headers that came with the call. Log lines go to the engine,
 * which writes them with the route, plugin and task attached.
 */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "task/backend.h"
#include "task/router.h"
#include "plugin/host_api.h"
#include "plugin/ipc.h"
#include "plugin/loader.h"
#include "plugin/probe.h"
#include "plugin/spawn.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Exit statuses the engine may see (a reason is sent first when it can). */
#define EXIT_USAGE 64
#define EXIT_PROTOCOL 76

static const int sock = WORKER_IPC_FD;
static const char protocol_mismatch[] =
    "the worker program is from another taskjet version (protocol mismatch); reinstall taskjet";

/* The task of the current call, as the plugin sees it. */
struct worker_call {
	struct tj_task task;
	struct msg_header *headers; /* strings in the call message */
	size_t header_count, header_cap;
	uint32_t call_no;
	bool active; /* host_lock */
};

static struct worker_call call;
/* One host request at a time, request then answer, whichever plugin
 * thread asks; also guards call.active and the buffers below. */
static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;
static char host_out[IPC_INLINE_MAX];
static char host_in[IPC_BUF_SIZE];
/* The current call's message (its strings back the task) and replies. */
static char call_in[IPC_BUF_SIZE];
static char reply_out[IPC_INLINE_MAX];

/* A route of one: api_task_max_attempts reads route->cfg. */
static struct cfg_route route_cfg;
static struct route route = { .cfg = &route_cfg };

static uint64_t memory_limit;
static uint32_t cpu_limit;
static rlim_t cpu_armed;

static _Noreturn void
protocol_error(const char *what)
{
	fprintf(stderr, "taskjet-worker %d: protocol error: %s\n", (int)getpid(), what);
	_exit(EXIT_PROTOCOL);
}

/* The next message from the engine, which must be of `type`; leave
 * quietly when the engine is gone. */
static void
expect_message(char *buf, size_t cap, uint32_t type, struct ipc_msg *msg, const char *what)
{
	int rc;

	do
		rc = ipc_recv(sock, buf, cap, msg);
	while (rc == -EAGAIN);
	if (rc == -EPIPE)
		_exit(0);
	if (rc < 0 || msg->type != type)
		protocol_error(what);
}

/* ----- what the plugin's host API calls reach ----- */

/* Send a host request of the current call and return the engine's answer. */
static int
host_request(uint32_t type, const char *subject, const void *data, size_t len)
{
	struct ipc_out o;
	struct ipc_msg msg;
	struct ipc_in in;
	size_t size = 4;
	int rc, value = -EIO;

	if (type == IPC_PUBLISH)
		size += IPC_STR_SIZE(strlen(subject)) + IPC_STR_SIZE(len);
	pthread_mutex_lock(&host_lock);
	/* A plugin thread holding a task past its handler's return. */
	if (!call.active) {
		pthread_mutex_unlock(&host_lock);
		return -EINVAL;
	}
	rc = ipc_begin(&o, host_out, sizeof(host_out), type, size);
	if (rc < 0) {
		pthread_mutex_unlock(&host_lock);
		return rc;
	}
	ipc_put_u32(&o, call.call_no);
	if (type == IPC_PUBLISH) {
		ipc_put_str(&o, subject, strlen(subject));
		ipc_put_str(&o, data, len);
	}
	rc = ipc_send(sock, &o);
	if (rc == -EPIPE)
		_exit(0); /* the engine is gone */
	if (rc < 0) {
		pthread_mutex_unlock(&host_lock);
		return rc;
	}
	expect_message(host_in, sizeof(host_in), IPC_RESULT, &msg,
	               "expected the answer to a host request");
	ipc_in_init(&in, &msg);
	if (ipc_get_u32(&in) != call.call_no)
		protocol_error("an answer for another call");
	value = (int)(int32_t)ipc_get_u32(&in);
	if (in.bad)
		protocol_error("a short answer");
	ipc_msg_release(&msg);
	pthread_mutex_unlock(&host_lock);
	return value;
}

static int
worker_in_progress(struct backend *b, struct tj_task *task)
{
	return host_request(IPC_IN_PROGRESS, NULL, NULL, 0);
}

/* The engine gives the follow-up its message id, as in thread mode; the
 * one computed here is not sent. */
static int
worker_publish(struct backend *b, const struct publish_msg *m, struct publish_ack *ack_r)
{
	return host_request(IPC_PUBLISH, m->subject, m->data, m->len);
}

static const char *
worker_header(struct backend *b, const struct tj_task *task, const char *key)
{
	for (size_t i = 0; i < call.header_count; i++)
		if (strcmp(call.headers[i].key, key) == 0)
			return call.headers[i].value;
	return NULL;
}

static int
worker_headers(struct backend *b, const struct tj_task *task, const struct msg_header **h_r,
               size_t *count_r)
{
	*h_r = call.headers;
	*count_r = call.header_count;
	return 0;
}

static const struct backend_ops worker_ops = {
	.name = "worker",
	.in_progress = worker_in_progress,
	.publish = worker_publish,
	.header = worker_header,
	.headers = worker_headers,
};
static struct backend worker_backend = { .ops = &worker_ops };

/* Every log line goes to the engine; ctx->attempt is set only for lines
 * of the handler call on its own thread (host_api.c's api_log). */
static void
forward_log(int level, const struct log_ctx *ctx, const char *text)
{
	/* On the logging thread's stack, which a plugin may have made small:
	 * log lines are under 4 KiB (util/log.c), longer ones go by memfd. */
	char buf[4096 + 64];
	size_t len = strlen(text);
	struct ipc_out o;

	if (ipc_begin(&o, buf, sizeof(buf), IPC_LOG, 8 + IPC_STR_SIZE(len)) < 0)
		return;
	ipc_put_u32(&o, (uint32_t)level);
	ipc_put_u32(&o, ctx != NULL && ctx->attempt != 0
	                    ? __atomic_load_n(&call.call_no, __ATOMIC_RELAXED)
	                    : 0);
	ipc_put_str(&o, text, len);
	if (ipc_send(sock, &o) == -EPIPE)
		_exit(0);
}

/* ----- setup ----- */

static void
send_init_failed(int rc, const char *why)
{
	struct ipc_out o;

	if (ipc_begin(&o, reply_out, sizeof(reply_out), IPC_INIT_FAILED,
	              4 + IPC_STR_SIZE(strlen(why))) == 0) {
		ipc_put_u32(&o, (uint32_t)rc);
		ipc_put_str(&o, why, strlen(why));
		ipc_send(sock, &o);
	}
}

/* Set a limit's soft value, and its hard one unless keep_hard; never above
 * the hard limit the worker inherited (raising that needs privileges). */
static int
set_limit(int resource, rlim_t soft, bool keep_hard, const char *name, char *err, size_t len)
{
	struct rlimit lim;

	if (getrlimit(resource, &lim) < 0)
		lim.rlim_max = RLIM_INFINITY;
	if (lim.rlim_max != RLIM_INFINITY && soft > lim.rlim_max)
		soft = lim.rlim_max;
	lim.rlim_cur = soft;
	if (!keep_hard)
		lim.rlim_max = soft;
	if (setrlimit(resource, &lim) < 0) {
		int rc = -errno;

		if (err != NULL)
			snprintf(err, len, "cannot apply limits.%s: setrlimit: %s", name,
			         strerror(-rc));
		return rc;
	}
	return 0;
}

/*
 * Give each call `cpu_limit` seconds (to the second): the soft limit moves
 * up with the worker's total CPU time. Only the soft limit, which a process
 * may raise up to its hard one; the kernel sends SIGXCPU at it. A plugin
 * that catches SIGXCPU runs on until the route's timeout kills it.
 */
static void
arm_cpu_limit(void)
{
	struct timespec used;
	rlim_t want;

	if (cpu_limit == 0 || clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used) < 0)
		return;
	want = (rlim_t)used.tv_sec + 1 + cpu_limit;
	if (want != cpu_armed && set_limit(RLIMIT_CPU, want, true, "cpu", NULL, 0) == 0)
		cpu_armed = want;
}

static int
apply_limits(uint32_t open_files, char *err, size_t len)
{
	int rc = 0;

	if (open_files > 0)
		rc = set_limit(RLIMIT_NOFILE, open_files, false, "open_files", err, len);
#ifndef UNDER_ASAN
	/*
	 * The engine enforces the limit on resident memory; this stops an
	 * allocation burst between two of its samples. Not under ASan, whose
	 * shadow memory already exceeds any data limit.
	 */
	if (rc == 0 && memory_limit > 0) {
		uint64_t backstop = memory_limit * 2;

		if (backstop < memory_limit + (UINT64_C(256) << 20))
			backstop = memory_limit + (UINT64_C(256) << 20);
		rc = set_limit(RLIMIT_DATA, (rlim_t)backstop, false, "memory", err, len);
	}
#endif
	return rc;
}

/*
 * Read the engine's init, apply the limits and load the plugin. Sends
 * READY or INIT_FAILED; returns the handler, or NULL (then exit).
 */
static const struct plugin_handler *
init_worker(struct plugin_instance **inst_r)
{
	const char *plugin, *path, *route_name, *handler, *config;
	struct plugin_instance *inst = NULL;
	const struct plugin_handler *h;
	char err[1024];
	struct ipc_msg msg;
	struct ipc_in in;
	struct ipc_out o;
	size_t config_len;
	uint32_t level, open_files;
	int rc;

	expect_message(call_in, sizeof(call_in), IPC_INIT, &msg, "expected init");
	ipc_in_init(&in, &msg);
	if (ipc_get_u32(&in) != IPC_PROTOCOL) {
		send_init_failed(-EPROTO, protocol_mismatch);
		return NULL;
	}
	level = ipc_get_u32(&in);
	memory_limit = ipc_get_u64(&in);
	cpu_limit = ipc_get_u32(&in);
	open_files = ipc_get_u32(&in);
	(void)ipc_get_u32(&in); /* slot index, for ps output some day */
	plugin = ipc_get_str(&in, NULL);
	path = ipc_get_str(&in, NULL);
	route_name = ipc_get_str(&in, NULL);
	handler = ipc_get_str(&in, NULL);
	config = ipc_get_str(&in, &config_len);
	if (in.bad)
		protocol_error("a short init");

	log_setup((int)level, LOG_FORMAT_TEXT, NULL);
	log_set_forward(forward_log);
	rc = apply_limits(open_files, err, sizeof(err));
	if (rc == 0 && cpu_limit > 0)
		rc = set_limit(RLIMIT_CPU, cpu_limit, true, "cpu", err, sizeof(err));
	if (rc < 0) {
		send_init_failed(rc, err);
		return NULL;
	}
	host_api_set_publisher(&worker_backend);
	plugin_loader_set_sandboxed();
	rc = plugin_instance_create_fd(WORKER_PLUGIN_FD, plugin, path, route_name, config,
	                               config_len, err, sizeof(err), &inst);
	/* The loader keeps a descriptor of its own. */
	close(WORKER_PLUGIN_FD);
	if (rc < 0) {
		send_init_failed(rc, err);
		return NULL;
	}
	h = plugin_instance_handler(inst, handler);
	if (h == NULL) {
		snprintf(err, sizeof(err),
		         "plugin %s (route %s) registered no handler named \"%s\"", plugin,
		         route_name, handler);
		plugin_instance_destroy(inst);
		send_init_failed(-ENOENT, err);
		return NULL;
	}
	ipc_msg_release(&msg);
	if (ipc_begin(&o, reply_out, sizeof(reply_out), IPC_READY, 0) < 0 ||
	    ipc_send(sock, &o) < 0) {
		plugin_instance_destroy(inst);
		return NULL;
	}
	*inst_r = inst;
	return h;
}

/* ----- calls ----- */

/* The fields of a call message before its tasks. */
struct call_batch {
	struct ipc_in in; /* at the next task */
	uint32_t first_call_no, count;
	int64_t first_deadline_ms, timeout_ms;
};

static void
decode_batch(const struct ipc_msg *msg, struct call_batch *b)
{
	ipc_in_init(&b->in, msg);
	b->first_call_no = ipc_get_u32(&b->in);
	b->count = ipc_get_u32(&b->in);
	b->first_deadline_ms = (int64_t)ipc_get_u64(&b->in);
	b->timeout_ms = (int64_t)ipc_get_u64(&b->in);
	/* A task takes more than 40 bytes. */
	if (b->in.bad || b->count == 0 || b->count > b->in.left / 40)
		protocol_error("a bad call");
}

/* Task i of the batch, whose strings stay in the call message. */
static void
decode_task(struct call_batch *b, uint32_t i)
{
	struct tj_task *t = &call.task;
	struct ipc_in *in = &b->in;
	const char *subject, *id, *stream, *payload;
	size_t payload_len, id_len;
	uint32_t count;

	memset(t, 0, sizeof(*t));
	call.call_no = b->first_call_no + i;
	/* Each task's time counts from its own start, as in thread mode. */
	if (i == 0)
		t->deadline_ms = b->first_deadline_ms;
	else if (b->timeout_ms > 0)
		t->deadline_ms = clock_mono_ms() + b->timeout_ms;
	t->attempt = ipc_get_u32(in);
	route_cfg.max_attempts = (int)ipc_get_u32(in);
	t->stream_seq = ipc_get_u64(in);
	count = ipc_get_u32(in);
	subject = ipc_get_str(in, NULL);
	id = ipc_get_str(in, &id_len);
	stream = ipc_get_str(in, NULL);
	if (in->bad || count > in->left / 10)
		protocol_error("a bad call");
	if (count > call.header_cap) {
		call.headers = xrealloc(call.headers, count, sizeof(*call.headers));
		call.header_cap = count;
	}
	for (uint32_t k = 0; k < count; k++) {
		call.headers[k].key = ipc_get_str(in, NULL);
		call.headers[k].value = ipc_get_str(in, NULL);
	}
	call.header_count = count;
	payload = ipc_get_str(in, &payload_len);
	if (in->bad || id_len >= sizeof(t->id))
		protocol_error("a bad call");
	t->subject = subject;
	t->payload = payload;
	t->payload_len = payload_len;
	t->stream = stream;
	memcpy(t->id, id, id_len + 1);
	t->backend = &worker_backend;
	t->backend_msg = &call;
	t->route = &route;
}

static void
send_reply(int verdict)
{
	const struct tj_task *t = &call.task;
	size_t reason_len = t->fail_reason != NULL ? strlen(t->fail_reason) : 0;
	struct ipc_out o;

	if (ipc_begin(&o, reply_out, sizeof(reply_out), IPC_REPLY,
	              4 + 4 + 8 + IPC_STR_SIZE(reason_len)) < 0)
		protocol_error("cannot build a reply");
	ipc_put_u32(&o, call.call_no);
	ipc_put_u32(&o, (uint32_t)verdict);
	ipc_put_u64(&o, (uint64_t)t->retry_after_ms);
	ipc_put_str(&o, t->fail_reason, reason_len);
	if (ipc_send(sock, &o) == -EPIPE)
		_exit(0);
}

static void
serve(const struct plugin_handler *handler, struct plugin_instance *inst)
{
	struct call_batch batch;
	struct ipc_msg msg;
	int64_t idle_since = -1, last_idle = -1, started, last_call = -1;
	int rc, verdict;

	for (;;) {
		/* A busy route of quick handlers sends the next task right after
		 * a reply: wait for it awake if the last call and the last wait
		 * were that short. After a slow handler the engine itself has to
		 * wake up first, and spinning would only burn that time. */
		rc = ipc_recv_spin(sock, call_in, sizeof(call_in), &msg,
		                   ipc_spin_budget(last_idle > last_call ? last_idle : last_call));
		if (idle_since >= 0)
			last_idle = clock_mono_us() - idle_since;
		if (rc == -EAGAIN)
			continue;
		if (rc == -EPIPE)
			_exit(0); /* the engine closed us without fini: it is gone */
		if (rc < 0)
			protocol_error("a bad message");
		if (msg.type == IPC_FINI)
			break;
		if (msg.type != IPC_CALL)
			protocol_error("expected a call");
		decode_batch(&msg, &batch);
		for (uint32_t i = 0; i < batch.count; i++) {
			decode_task(&batch, i);
			pthread_mutex_lock(&host_lock);
			call.active = true;
			pthread_mutex_unlock(&host_lock);
			arm_cpu_limit();
			started = clock_mono_us();
			verdict = plugin_call(handler, &call.task);
			last_call = clock_mono_us() - started;
			pthread_mutex_lock(&host_lock);
			call.active = false;
			pthread_mutex_unlock(&host_lock);
			/* The engine reads a reply as "the next task started". */
			send_reply(verdict);
			task_release(&call.task);
		}
		idle_since = clock_mono_us();
		ipc_msg_release(&msg);
	}
	ipc_msg_release(&msg);
	plugin_instance_destroy(inst);
	free(call.headers);
}

/* ----- main ----- */

/* Nothing but 0-4 may stay open, whatever the engine had. */
static void
close_other_fds(void)
{
	int from = WORKER_PLUGIN_FD + 1;

#ifdef HAVE_CLOSE_RANGE
	if (close_range((unsigned)from, ~0U, 0) == 0)
		return;
#endif
	for (long fd = from, max = sysconf(_SC_OPEN_MAX); fd < max && fd < 65536; fd++)
		close((int)fd);
}

static int
probe(void)
{
	struct probe_report report;
	struct ipc_msg msg;
	struct ipc_in in;

	expect_message(call_in, sizeof(call_in), IPC_PROBE, &msg, "expected a probe request");
	ipc_in_init(&in, &msg);
	if (ipc_get_u32(&in) != IPC_PROTOCOL) {
		send_init_failed(-EPROTO, protocol_mismatch);
		return EXIT_PROTOCOL;
	}
	plugin_probe_here(WORKER_PLUGIN_FD, &report);
	probe_answer(sock, &report);
	return 0;
}

int
main(int argc, char **argv)
{
	struct plugin_instance *inst = NULL;
	const struct plugin_handler *handler;
	struct stat st;
	long engine;

	if (argc != 3 || (strcmp(argv[1], "serve") != 0 && strcmp(argv[1], "probe") != 0)) {
		fprintf(stderr, "taskjet-worker: started by taskjet for process isolation; not "
		                "to be run by hand\n");
		return EXIT_USAGE;
	}
	/* Die with the engine; and if it died before this took effect, the
	 * worker was re-parented already: leave at once. */
	engine = strtol(argv[2], NULL, 10);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != (pid_t)engine)
		return EXIT_USAGE;
	if (fstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "taskjet-worker: no engine socket on fd %d\n", sock);
		return EXIT_USAGE;
	}
	close_other_fds();
	/* As in the engine: a dead peer is an error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(argv[1], "probe") == 0) {
		/* Right away, skipping the plugin's destructors: a probe ends. */
		fflush(NULL);
		_exit(probe());
	}
	handler = init_worker(&inst);
	if (handler == NULL)
		return 1;
	serve(handler, inst);
	return 0;
}
