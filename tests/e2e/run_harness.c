/* SPDX-License-Identifier: MIT */
/* The end-to-end harness: server, config, taskjet child, accounting. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run_harness.h"
#include "testing.h"

#define READY_POLL_MS 20
#define CHILD_TIMEOUT_MS 20000
#define DUMP_LINES 40

int64_t
e2e_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
e2e_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
e2e_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const char *
builddir(void)
{
	const char *d = getenv("top_builddir");

	return d != NULL && *d != '\0' ? d : ".";
}

const char *
e2e_taskjet_bin(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/taskjet", builddir());
	return path;
}

const char *
e2e_plugin_dir(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/tests/fixtures/plugins/.libs", builddir());
	return path;
}

int
e2e_install_plugin(const char *fixture, const char *dir, const char *as)
{
	char from[600], tmp[600], to[600], buf[65536];
	int in, out, rc = 0;
	ssize_t n;

	snprintf(from, sizeof(from), "%s/%s.so", e2e_plugin_dir(), fixture);
	snprintf(tmp, sizeof(tmp), "%s/.%s.so.new", dir, as);
	snprintf(to, sizeof(to), "%s/%s.so", dir, as);
	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		rc = -errno;
		close(in);
		return rc;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -EIO;
			break;
		}
	if (n < 0)
		rc = -errno;
	close(in);
	if (fchmod(out, 0644) < 0 && rc == 0)
		rc = -errno;
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, to) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* Connect to `urls` (comma-separated). */
static natsStatus
connect_admin(struct e2e *e, const char *urls)
{
	char buf[512], *servers[8], *save = NULL;
	natsOptions *o = NULL;
	natsStatus s;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", urls);
	for (char *u = strtok_r(buf, ",", &save); u != NULL && n < 8;
	     u = strtok_r(NULL, ",", &save))
		servers[n++] = u;
	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, (const char **)servers, n);
	/* The server-restart tests stop the server under this connection:
	 * keep reconnecting, quickly. */
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 100);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 2000);
	if (s == NATS_OK)
		s = natsConnection_Connect(&e->nc, o);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&e->js, e->nc, NULL);
	natsOptions_Destroy(o);
	return s;
}

int
e2e_setup_dir(struct e2e *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/taskjet-e2e-XXXXXX");
	if (mkdtemp(e->dir) == NULL) {
		e->dir[0] = '\0';
		return -errno;
	}
	snprintf(e->config, sizeof(e->config), "%s/taskjet.json", e->dir);
	snprintf(e->record, sizeof(e->record), "%s/record.txt", e->dir);
	snprintf(e->state, sizeof(e->state), "%s/state", e->dir);
	return 0;
}

int
e2e_setup(struct e2e *e)
{
	int rc;

	rc = e2e_setup_dir(e);
	if (rc < 0)
		goto out;
	rc = nats_server_start(&e->srv);
	if (rc < 0) {
		printf("# cannot start nats-server: %s\n", strerror(-rc));
		goto out;
	}
	rc = e2e_connect(e);
out:
	return rc;
}

int
e2e_connect(struct e2e *e)
{
	return e2e_connect_urls(e, e->srv.url);
}

int
e2e_connect_urls(struct e2e *e, const char *urls)
{
	if (connect_admin(e, urls) != NATS_OK) {
		printf("# cannot connect to %s: %s\n", urls, nats_GetLastError(NULL));
		return -ECONNREFUSED;
	}
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	remove(path);
	return 0;
}

void
e2e_teardown(struct e2e *e)
{
	jsCtx_Destroy(e->js);
	e->js = NULL;
	if (e->nc != NULL) {
		natsConnection_Close(e->nc);
		natsConnection_Destroy(e->nc);
		e->nc = NULL;
	}
	nats_server_cleanup(&e->srv);
	/* Keep the directory for a post-mortem when asked to. */
	if (e->dir[0] != '\0' && getenv("TASKJET_E2E_KEEP") == NULL)
		nftw(e->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	else if (e->dir[0] != '\0')
		printf("# kept %s\n", e->dir);
	e->dir[0] = '\0';
}

int
e2e_write_config_to(struct e2e *e, const char *path, const struct e2e_conf *c)
{
	FILE *fp = fopen(path, "w");
	char log_file[400] = "";
	int rc = 0;

	if (fp == NULL)
		return -errno;
	if (e->log_file != NULL)
		snprintf(log_file, sizeof(log_file), ", \"file\": \"%s\"", e->log_file);
	fprintf(fp,
	        "{\n"
	        "  \"nats\": { \"url\": \"%s\", \"connect_timeout\": \"2s\",\n"
	        "            \"reconnect_wait\": \"100ms\", \"reconnect_jitter\": \"20ms\" },\n"
	        "  \"plugin_dir\": \"%s\",\n"
	        "  \"state_dir\": \"%s\",\n"
	        "  \"worker_id\": \"%s\",\n"
	        "  \"log\": { \"level\": \"debug\"%s },\n"
	        "  %s\n"
	        "  \"streams\": [ { \"name\": \"TASKS\", \"subjects\": [\"tasks.>\"]%s%s } ],\n"
	        "  \"dlq\": { \"stream\": \"DLQ\", \"subject_prefix\": \"dlq\"%s%s },\n"
	        "  \"routes\": %s\n"
	        "}\n",
	        c->url != NULL ? c->url : e->srv.url,
	        e->plugin_dir != NULL ? e->plugin_dir : e2e_plugin_dir(), e->state,
	        c->worker_id != NULL ? c->worker_id : "e2e", log_file,
	        c->top_extra != NULL ? c->top_extra : "", c->stream_extra != NULL ? ", " : "",
	        c->stream_extra != NULL ? c->stream_extra : "", c->dlq_extra != NULL ? ", " : "",
	        c->dlq_extra != NULL ? c->dlq_extra : "", c->routes);
	if (fclose(fp) != 0)
		rc = -errno;
	return rc;
}

int
e2e_write_config(struct e2e *e, const char *top_extra, const char *routes)
{
	return e2e_write_config_to(e, e->config,
	                           &(struct e2e_conf){ .top_extra = top_extra, .routes = routes });
}

/* Fork and exec taskjet with its output in `log`; the child must not
 * pick up overrides from the environment the test runs in. */
static int
spawn(const char *log, char *const argv[], pid_t *pid_r)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (null >= 0)
			dup2(null, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		unsetenv("NATS_URL");
		unsetenv("TASKJET_CONFIG");
		unsetenv("TASKJET_PLUGIN_DIR");
		unsetenv("TASKJET_STATE_DIR");
		unsetenv("TASKJET_BACKEND");
		unsetenv("TASKJET_WORKER_ID");
		execv(e2e_taskjet_bin(), argv);
		_exit(127);
	}
	*pid_r = pid;
	return 0;
}

int
e2e_run_start(struct e2e *e, struct e2e_proc *p, int timeout_ms)
{
	return e2e_run_start_config(e, e->config, p, timeout_ms);
}

int
e2e_run_start_config(struct e2e *e, const char *config, struct e2e_proc *p, int timeout_ms)
{
	char *argv[] = { (char *)"taskjet", (char *)"run", (char *)"-c", (char *)config, NULL };
	const char *watch;
	int64_t deadline;
	int rc;

	memset(p, 0, sizeof(*p));
	snprintf(p->log, sizeof(p->log), "%s/run-%d.log", e->dir, ++e->runs);
	rc = spawn(p->log, argv, &p->pid);
	if (rc < 0)
		goto out;
	watch = e->log_file != NULL ? e->log_file : p->log;
	deadline = e2e_now_ms() + timeout_ms;
	for (;;) {
		if (e2e_file_count(watch, " ready: ") > 0) {
			rc = 0;
			break;
		}
		if (waitpid(p->pid, &p->status, WNOHANG) == p->pid) {
			p->pid = 0;
			rc = -ECHILD;
			break;
		}
		if (e2e_now_ms() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		e2e_sleep_ms(READY_POLL_MS);
	}
out:
	return rc;
}

int
e2e_proc_stop(struct e2e_proc *p, int sig, int timeout_ms)
{
	int64_t deadline = e2e_now_ms() + timeout_ms;

	if (p->pid <= 0)
		return 0;
	if (sig != 0)
		kill(p->pid, sig);
	for (;;) {
		pid_t r = waitpid(p->pid, &p->status, WNOHANG);

		if (r == p->pid)
			break;
		if (r < 0 && errno != EINTR) {
			p->pid = 0;
			return -errno;
		}
		if (e2e_now_ms() >= deadline) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &p->status, 0);
			p->pid = 0;
			return -ETIMEDOUT;
		}
		e2e_sleep_ms(10);
	}
	p->pid = 0;
	return 0;
}

bool
e2e_alive(pid_t pid)
{
	return pid > 0 && kill(pid, 0) == 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

bool
e2e_proc_exited_ok(const struct e2e_proc *p)
{
	return p->pid == 0 && WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
}

void
e2e_proc_dump(const struct e2e_proc *p)
{
	char *text = e2e_file_read(p->log), *line, *save = NULL;
	size_t lines = 0, skip, i = 0;

	if (text == NULL)
		return;
	for (char *c = text; *c != '\0'; c++)
		lines += *c == '\n';
	skip = lines > DUMP_LINES ? lines - DUMP_LINES : 0;
	printf("# --- %s (last %zu of %zu lines)\n", p->log, lines - skip, lines);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (i++ >= skip)
			printf("#   %s\n", line);
	free(text);
}

int
e2e_taskjet(const char *out_path, ...)
{
	char *argv[16];
	int n = 0, status;
	struct e2e_proc p = { 0 };
	va_list ap;
	int rc;

	argv[n++] = (char *)"taskjet";
	va_start(ap, out_path);
	while (n < 15 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	unlink(out_path);
	rc = spawn(out_path, argv, &p.pid);
	if (rc < 0)
		return rc;
	rc = e2e_proc_stop(&p, 0, CHILD_TIMEOUT_MS);
	if (rc < 0)
		return rc;
	status = p.status;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
}

char *
e2e_file_read(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (fp == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (nb == NULL) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, fp);
		len += n;
	} while (n > 0);
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

size_t
e2e_file_count(const char *path, const char *needle)
{
	char *text = e2e_file_read(path), *line, *save = NULL;
	size_t n = 0;

	if (text == NULL)
		return 0;
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, needle) != NULL)
			n++;
	free(text);
	return n;
}

int
e2e_publish(struct e2e *e, const char *subject, const char *payload, const char *id,
            uint64_t *seq_r, ...)
{
	natsMsg *msg = NULL;
	jsPubAck *pa = NULL;
	jsPubOptions po;
	jsErrCode jerr = 0;
	natsStatus s;
	const char *k, *v;
	va_list ap;
	int rc = 0;

	s = natsMsg_Create(&msg, subject, NULL, payload, (int)strlen(payload));
	va_start(ap, seq_r);
	while (s == NATS_OK && (k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		s = natsMsgHeader_Add(msg, k, v);
	}
	va_end(ap);
	jsPubOptions_Init(&po);
	po.MsgId = id;
	po.MaxWait = 5000;
	/* A timeout may still have stored it: retry under the same id. */
	for (int i = 0; i < 5 && s == NATS_OK; i++) {
		s = js_PublishMsg(&pa, e->js, msg, &po, &jerr);
		if (s != NATS_TIMEOUT)
			break;
		s = NATS_OK;
		e2e_sleep_ms(200);
	}
	if (s != NATS_OK) {
		printf("# publish %s on %s: %s (jerr %d)\n", id, subject, natsStatus_GetText(s),
		       (int)jerr);
		rc = -EIO;
		goto out;
	}
	if (seq_r != NULL)
		*seq_r = pa->Sequence;
out:
	jsPubAck_Destroy(pa);
	natsMsg_Destroy(msg);
	return rc;
}

const char *
e2e_header(natsMsg *m, const char *key)
{
	const char *v = NULL;

	if (natsMsgHeader_Get(m, key, &v) != NATS_OK)
		return NULL;
	return v;
}

int
e2e_publish_once(struct e2e *e, const char *subject, const char *payload, const char *id,
                 int max_wait_ms)
{
	jsPubAck *pa = NULL;
	jsPubOptions po;
	jsErrCode jerr = 0;
	natsStatus s;

	jsPubOptions_Init(&po);
	po.MsgId = id;
	po.MaxWait = max_wait_ms;
	s = js_Publish(&pa, e->js, subject, payload, (int)strlen(payload), &po, &jerr);
	jsPubAck_Destroy(pa);
	return (int)s;
}

/* Ids whose asynchronous publish failed, to publish again. */
struct failed_ids {
	pthread_mutex_t lock;
	char **v;
	size_t count, cap;
};

static void
on_pub_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	struct failed_ids *f = closure;
	const char *id = NULL;

	if (natsMsgHeader_Get(pae->Msg, "Nats-Msg-Id", &id) != NATS_OK || id == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	if (f->count == f->cap) {
		size_t cap = f->cap != 0 ? 2 * f->cap : 64;
		char **nv = realloc(f->v, cap * sizeof(*nv));

		if (nv != NULL) {
			f->v = nv;
			f->cap = cap;
		}
	}
	if (f->count < f->cap)
		f->v[f->count++] = strdup(id);
	pthread_mutex_unlock(&f->lock);
}

int
e2e_publish_many(struct e2e *e, const char *subject, const char *prefix, size_t from, size_t n)
{
	struct failed_ids f = { .lock = PTHREAD_MUTEX_INITIALIZER };
	jsOptions jo;
	jsPubOptions po;
	jsCtx *js = NULL;
	natsStatus s;
	char id[160];
	int rc = 0;

	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = 256;
	jo.PublishAsync.ErrHandler = on_pub_error;
	jo.PublishAsync.ErrHandlerClosure = &f;
	s = natsConnection_JetStream(&js, e->nc, &jo);
	jsPubOptions_Init(&po);
	po.MaxWait = 5000;
	for (size_t i = from; s == NATS_OK && i < from + n; i++) {
		natsMsg *m = NULL;

		snprintf(id, sizeof(id), "%s-%zu", prefix, i);
		s = natsMsg_Create(&m, subject, NULL, "{}", 2);
		if (s == NATS_OK)
			s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
		if (s == NATS_OK)
			s = js_PublishMsgAsync(js, &m, &po);
		natsMsg_Destroy(m); /* NULL once the library took it */
		if (s != NATS_OK) {
			/* Stalled or disconnected: this one synchronously. */
			s = NATS_OK;
			if (e2e_publish(e, subject, "{}", id, NULL, NULL) != 0)
				rc = -EIO;
		}
	}
	if (js != NULL) {
		jsPubOptions_Init(&po);
		po.MaxWait = 30000;
		if (js_PublishAsyncComplete(js, &po) != NATS_OK)
			printf("# publish_many: not every ack came within 30 s\n");
	}
	/* The handler ran for every failure by now; publish those again, one
	 * by one, under the same ids. */
	for (size_t i = 0; i < f.count; i++) {
		if (f.v[i] != NULL && e2e_publish(e, subject, "{}", f.v[i], NULL, NULL) != 0)
			rc = -EIO;
		free(f.v[i]);
	}
	if (f.count > 0)
		printf("# publish_many: %zu of %zu published again after an error\n", f.count, n);
	free(f.v);
	jsCtx_Destroy(js);
	return s == NATS_OK ? rc : -EIO;
}

/* Index i of "<prefix>-<i>", or SIZE_MAX when `id` is not one of ours. */
static size_t
task_index(const char *id, const char *prefix, size_t published)
{
	size_t plen = strlen(prefix);
	char *end;
	unsigned long long v;

	if (id == NULL || strncmp(id, prefix, plen) != 0 || id[plen] != '-' || id[plen + 1] < '0' ||
	    id[plen + 1] > '9')
		return SIZE_MAX;
	v = strtoull(id + plen + 1, &end, 10);
	return *end == '\0' && v < published ? (size_t)v : SIZE_MAX;
}

/* Mark in `seen` the tasks among the stream's stored messages; the id is
 * the Nats-Msg-Id, or `header` when it is not NULL. */
static int
mark_stored(struct e2e *e, const char *stream, const char *header, const char *prefix,
            size_t published, unsigned char *seen)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	uint64_t first, last;

	if (js_GetStreamInfo(&si, e->js, stream, NULL, &jerr) != NATS_OK)
		return -EIO;
	first = si->State.FirstSeq;
	last = si->State.Msgs > 0 ? si->State.LastSeq : 0;
	jsStreamInfo_Destroy(si);
	for (uint64_t seq = first; last > 0 && seq <= last; seq++) {
		natsMsg *m = NULL;
		const char *id = NULL;
		size_t i;

		if (js_GetMsg(&m, e->js, stream, seq, NULL, &jerr) != NATS_OK)
			continue; /* acked and removed */
		if (natsMsgHeader_Get(m, header != NULL ? header : "Nats-Msg-Id", &id) == NATS_OK &&
		    (i = task_index(id, prefix, published)) != SIZE_MAX)
			seen[i] = 1;
		natsMsg_Destroy(m);
	}
	return 0;
}

int
e2e_tally(struct e2e *e, const char *record, const char *stream, const char *prefix,
          size_t published, struct e2e_tally *t_r)
{
	struct e2e_tally t = { .published = published };
	struct e2e_records r = { 0 };
	unsigned *done = calloc(published + 1, sizeof(*done));
	unsigned *starts = calloc(published + 1, sizeof(*starts));
	unsigned char *retried = calloc(published + 1, 1);
	unsigned char *stored = calloc(published + 1, 1), *dead = calloc(published + 1, 1);
	int rc;

	if (done == NULL || starts == NULL || retried == NULL || stored == NULL || dead == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = e2e_records_read(record, &r);
	if (rc == 0)
		rc = mark_stored(e, stream, NULL, prefix, published, stored);
	if (rc == 0)
		rc = mark_stored(e, "DLQ", "Taskjet-Original-Msg-Id", prefix, published, dead);
	if (rc < 0)
		goto out;
	for (size_t k = 0; k < r.count; k++) {
		size_t i = task_index(r.v[k].id, prefix, published);

		if (i == SIZE_MAX)
			continue;
		done[i] += r.v[k].done;
		starts[i] += r.v[k].start;
		retried[i] |= r.v[k].retry;
	}
	for (size_t i = 0; i < published; i++) {
		t.entered_twice += starts[i] > 1 && !retried[i];
		if (done[i] > 0) {
			t.handled++;
			t.twice += done[i] > 1;
			t.extra += done[i] - 1;
			t.ghosts += stored[i];
		} else if (dead[i]) {
			t.dead++;
		} else if (stored[i]) {
			t.pending++;
		} else {
			t.lost++;
			if (t.lost <= 5)
				printf("# lost: %s-%zu (never done, not in the DLQ, not stored)\n",
				       prefix, i);
		}
	}
	*t_r = t;
out:
	e2e_records_free(&r);
	free(done);
	free(starts);
	free(retried);
	free(stored);
	free(dead);
	return rc;
}

void
e2e_tally_print(const char *what, const struct e2e_tally *t)
{
	printf("# %s: %zu published = %zu handled + %zu dead-lettered + %zu pending; "
	       "%zu lost; %zu handled twice (%zu extra calls), %zu with the handler entered "
	       "twice; %zu handled yet still stored (ghosts)\n",
	       what, t->published, t->handled, t->dead, t->pending, t->lost, t->twice, t->extra,
	       t->entered_twice, t->ghosts);
}

int
e2e_stream_msgs(struct e2e *e, const char *stream, uint64_t *msgs_r)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetStreamInfo(&si, e->js, stream, NULL, &jerr);
	if (s != NATS_OK)
		return s == NATS_NOT_FOUND ? -ENOENT : -EIO;
	*msgs_r = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return 0;
}

uint64_t
e2e_stream_last_seq(struct e2e *e, const char *stream)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	uint64_t last = 0;

	if (js_GetStreamInfo(&si, e->js, stream, NULL, &jerr) == NATS_OK) {
		last = si->State.LastSeq;
		jsStreamInfo_Destroy(si);
	}
	return last;
}

int
e2e_consumer_pending(struct e2e *e, const char *stream, const char *consumer, uint64_t *pending_r,
                     uint64_t *ack_pending_r)
{
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	s = js_GetConsumerInfo(&ci, e->js, stream, consumer, NULL, &jerr);
	if (s != NATS_OK)
		return s == NATS_NOT_FOUND ? -ENOENT : -EIO;
	*pending_r = ci->NumPending;
	*ack_pending_r = (uint64_t)ci->NumAckPending;
	jsConsumerInfo_Destroy(ci);
	return 0;
}

int
e2e_records_read(const char *path, struct e2e_records *r_r)
{
	char *text = e2e_file_read(path), *line, *save = NULL;
	struct e2e_records r = { 0 };
	size_t cap = 0;

	if (text != NULL) {
		for (line = strtok_r(text, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save)) {
			struct e2e_rec rec = { .at_ms = 0 };
			char verdict[8] = "";
			int got = sscanf(line, "%127s %127s %u %7s %lld", rec.id, rec.subject,
			                 &rec.attempt, verdict, &rec.at_ms);

			if (got < 3)
				continue;
			rec.done = strcmp(verdict, "done") == 0;
			rec.start = strcmp(verdict, "start") == 0;
			rec.retry = strcmp(verdict, "retry") == 0;
			if (r.count == cap) {
				struct e2e_rec *nv;

				cap = cap != 0 ? cap * 2 : 256;
				nv = realloc(r.v, cap * sizeof(*nv));
				if (nv == NULL) {
					free(r.v);
					free(text);
					return -ENOMEM;
				}
				r.v = nv;
			}
			r.v[r.count++] = rec;
		}
	}
	free(text);
	*r_r = r;
	return 0;
}

void
e2e_records_free(struct e2e_records *r)
{
	free(r->v);
	r->v = NULL;
	r->count = 0;
}

size_t
e2e_records_count_id(const struct e2e_records *r, const char *id)
{
	size_t n = 0;

	for (size_t i = 0; i < r->count; i++)
		n += strcmp(r->v[i].id, id) == 0;
	return n;
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(((const struct e2e_rec *)a)->id, ((const struct e2e_rec *)b)->id);
}

size_t
e2e_records_unique(const struct e2e_records *r)
{
	struct e2e_rec *copy;
	size_t n = 0;

	if (r->count == 0)
		return 0;
	copy = malloc(r->count * sizeof(*copy));
	if (copy == NULL)
		return 0;
	memcpy(copy, r->v, r->count * sizeof(*copy));
	qsort(copy, r->count, sizeof(*copy), cmp_id);
	for (size_t i = 0; i < r->count; i++)
		n += i == 0 || strcmp(copy[i].id, copy[i - 1].id) != 0;
	free(copy);
	return n;
}

bool
e2e_wait_for(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	int64_t deadline = e2e_now_ms() + timeout_ms;

	while (!cond(arg)) {
		if (e2e_now_ms() >= deadline)
			return cond(arg);
		e2e_sleep_ms(10);
	}
	return true;
}

bool
e2e_settled(struct e2e *e, const char *stream, const char *consumer)
{
	uint64_t msgs = 1, pending = 1, ack_pending = 1;

	return e2e_stream_msgs(e, stream, &msgs) == 0 && msgs == 0 &&
	       e2e_consumer_pending(e, stream, consumer, &pending, &ack_pending) == 0 &&
	       pending == 0 && ack_pending == 0;
}

size_t
e2e_records_count_now(const char *path)
{
	struct e2e_records r;
	size_t n;

	if (e2e_records_read(path, &r) != 0)
		return 0;
	n = r.count;
	e2e_records_free(&r);
	return n;
}

size_t
e2e_records_done_now(const char *path)
{
	struct e2e_records r;
	size_t n = 0;

	if (e2e_records_read(path, &r) != 0)
		return 0;
	/* Keep the done lines only, then count their ids. */
	for (size_t i = 0; i < r.count; i++)
		if (r.v[i].done)
			r.v[n++] = r.v[i];
	r.count = n;
	n = e2e_records_unique(&r);
	e2e_records_free(&r);
	return n;
}

size_t
e2e_records_unique_now(const char *path)
{
	struct e2e_records r;
	size_t n;

	if (e2e_records_read(path, &r) != 0)
		return 0;
	n = e2e_records_unique(&r);
	e2e_records_free(&r);
	return n;
}

bool
e2e_setup_checked(struct e2e *e)
{
	int rc = e2e_setup(e);

	CHECK_INT(rc, 0);
	return rc == 0;
}

void
e2e_stop_checked(struct e2e_proc *p, int stop_ms, int64_t *took_ms_r)
{
	int64_t t0 = e2e_now_ms();

	CHECK_INT(e2e_proc_stop(p, SIGTERM, stop_ms), 0);
	if (took_ms_r != NULL)
		*took_ms_r = e2e_now_ms() - t0;
	CHECK_TRUE(e2e_proc_exited_ok(p));
	if (testing_failed())
		e2e_proc_dump(p);
}

uint64_t
e2e_stream_msgs_checked(struct e2e *e, const char *stream)
{
	uint64_t n = UINT64_MAX;

	CHECK_INT(e2e_stream_msgs(e, stream, &n), 0);
	return n;
}

int
e2e_http_port(const struct e2e_proc *p)
{
	char *text = e2e_file_read(p->log), *at, *colon = NULL;
	int port = 0;

	if (text == NULL)
		return 0;
	/* "HOST:PORT" ends at the next space or newline; the port follows
	 * its last colon (an IPv6 host has more). */
	at = strstr(text, "http: listening on ");
	for (char *c = at != NULL ? at + 19 : NULL;
	     c != NULL && *c != '\0' && *c != '\n' && *c != ' '; c++)
		if (*c == ':')
			colon = c;
	if (colon != NULL)
		port = atoi(colon + 1);
	free(text);
	return port;
}

int
e2e_http(int port, const char *method, const char *path, const char *token, const char *body,
         char *out, size_t cap)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 10, 0 };
	char req[1024], *resp = NULL;
	size_t len = 0, rcap = 0;
	int fd, status = -EPROTO, n;
	ssize_t got;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		status = -errno;
		goto out;
	}
	n = snprintf(req, sizeof(req),
	             "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s%s%s%sContent-Length: %zu\r\n\r\n%s",
	             method, path,
	             /* What a change must be sent as (http/policy.c). */
	             strcmp(method, "GET") != 0 ? "Content-Type: application/json\r\n" : "",
	             token != NULL ? "Authorization: Bearer " : "", token != NULL ? token : "",
	             token != NULL ? "\r\n" : "", body != NULL ? strlen(body) : 0,
	             body != NULL ? body : "");
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
		status = -EIO;
		goto out;
	}
	for (;;) {
		if (rcap - len < 4096) {
			char *nr = realloc(resp, rcap + 65536);

			if (nr == NULL)
				goto out;
			resp = nr;
			rcap += 65536;
		}
		got = read(fd, resp + len, rcap - len - 1);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	if (resp == NULL)
		goto out;
	resp[len] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
		status = -EPROTO;
		goto out;
	}
	if (out != NULL && cap > 0) {
		const char *b = strstr(resp, "\r\n\r\n");

		snprintf(out, cap, "%s", b != NULL ? b + 4 : "");
	}
out:
	free(resp);
	close(fd);
	return status;
}

double
e2e_metric(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *line = text; line != NULL && *line != '\0';) {
		if (strncmp(line, series, n) == 0 && line[n] == ' ')
			return strtod(line + n + 1, NULL);
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	return -1;
}
