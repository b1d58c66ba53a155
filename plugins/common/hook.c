/* SPDX-License-Identifier: MIT */
/* The optional per-plugin hook command: spawn, feed, time out, judge. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "json.h"
#include "pcommon.h"

extern char **environ;

#define HOOK_MAX_TIMEOUT_MS (24 * 3600 * 1000LL)

void
hook_release(struct hook *hook)
{
	if (hook->argv != NULL)
		for (char **a = hook->argv; *a != NULL; a++)
			free(*a);
	free(hook->argv);
	hook->argv = NULL;
}

static int
parse_argv(const char *text, size_t len, char ***argv_r, const char **why_r)
{
	struct json_doc doc;
	const struct json_tok *t;
	char **argv = NULL;
	bool parsed = false;
	int i, r;

	r = json_parse(text, len, &doc, NULL);
	parsed = r == 0;
	if (r < 0 || doc.toks[0].type != JSON_ARRAY || doc.toks[0].size == 0) {
		*why_r = "must be a non-empty JSON array of strings (an argv)";
		r = -EINVAL;
		goto out;
	}
	argv = calloc((size_t)doc.toks[0].size + 1, sizeof(*argv));
	if (argv == NULL) {
		r = -ENOMEM;
		goto out;
	}
	json_for_each_item(i, t, doc.toks)
	{
		if (t->type != JSON_STRING) {
			*why_r = "must be a non-empty JSON array of strings (an argv)";
			r = -EINVAL;
			goto out;
		}
		r = json_get_string(&doc, t, &argv[i]);
		if (r == -EILSEQ) {
			*why_r = "argv strings must not contain a NUL character";
			r = -EINVAL;
		}
		if (r < 0)
			goto out;
	}
	if (argv[0][0] != '/') {
		*why_r = "argv[0] must be an absolute path (no PATH search, no shell)";
		r = -EINVAL;
		goto out;
	}
	if (access(argv[0], X_OK) < 0) {
		*why_r = "argv[0] is not an executable file";
		r = -EINVAL;
		goto out;
	}
	*argv_r = argv;
	argv = NULL;
out:
	if (argv != NULL) {
		for (char **a = argv; *a != NULL; a++)
			free(*a);
		free(argv);
	}
	if (parsed)
		json_doc_free(&doc);
	return r;
}

int
hook_config(const struct tj_host_api *api, tj_plugin *self, struct hook *hook)
{
	struct hook h = { NULL, HOOK_DEFAULT_TIMEOUT_MS };
	const char *text, *why = NULL;
	size_t len;
	int r;

	r = api->config_json(self, "command", &text, &len);
	if (r == 0) {
		r = parse_argv(text, len, &h.argv, &why);
		if (r == -EINVAL)
			tj_err(api, self, "command: %s", why);
		if (r < 0)
			goto out;
	} else if (r != -ENOENT) {
		goto out;
	}
	r = api->config_integer(self, "command_timeout_ms", &h.timeout_ms);
	if (r == -ENOENT) {
		r = 0;
	} else if (r < 0 || h.timeout_ms < 1 || h.timeout_ms > HOOK_MAX_TIMEOUT_MS) {
		tj_err(api, self, "command_timeout_ms: must be an integer from 1 to %lld",
		       HOOK_MAX_TIMEOUT_MS);
		r = -EINVAL;
		goto out;
	}
	*hook = h;
	h.argv = NULL;
out:
	hook_release(&h);
	return r;
}

/* The last HOOK_STDERR_TAIL bytes the child wrote to stderr. */
struct tail {
	char buf[HOOK_STDERR_TAIL];
	size_t len;
};

static void
tail_add(struct tail *t, const char *p, size_t n)
{
	if (n >= sizeof(t->buf)) {
		memcpy(t->buf, p + n - sizeof(t->buf), sizeof(t->buf));
		t->len = sizeof(t->buf);
		return;
	}
	if (t->len + n > sizeof(t->buf)) {
		size_t drop = t->len + n - sizeof(t->buf);

		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
	}
	memcpy(t->buf + t->len, p, n);
	t->len += n;
}

/*
 * Make the tail fit for one header line: no control characters (they would
 * break the dead letter's headers), no partial UTF-8 sequence at the start,
 * no surrounding blanks. Writes a NUL-terminated string to `out`.
 */
static void
tail_text(const struct tail *t, char out[HOOK_STDERR_TAIL + 1])
{
	size_t i = 0, o = 0;

	while (i < t->len && ((unsigned char)t->buf[i] & 0xc0) == 0x80)
		i++;
	for (; i < t->len; i++) {
		unsigned char c = (unsigned char)t->buf[i];

		out[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	i = 0;
	while (out[i] == ' ')
		i++;
	memmove(out, out + i, o - i + 1);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Our variables first in the child's environment; inherited ones with the
 * same name are dropped so ours win. The array is malloc'd, the strings
 * are borrowed (from `ours` and environ). */
static char **
build_env(const char *const ours[])
{
	size_t n_ours = 0, n_env = 0, k = 0;
	char **envp;

	while (ours[n_ours] != NULL)
		n_ours++;
	if (environ != NULL)
		while (environ[n_env] != NULL)
			n_env++;
	envp = calloc(n_ours + n_env + 1, sizeof(*envp));
	if (envp == NULL)
		return NULL;
	for (size_t i = 0; i < n_ours; i++)
		envp[k++] = (char *)ours[i];
	for (size_t i = 0; i < n_env; i++) {
		bool shadowed = false;

		for (size_t j = 0; j < n_ours && !shadowed; j++) {
			size_t nl = strcspn(ours[j], "=");

			shadowed = strncmp(environ[i], ours[j], nl) == 0 && environ[i][nl] == '=';
		}
		if (!shadowed)
			envp[k++] = environ[i];
	}
	return envp;
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Read what stderr has now; false once it reached EOF or failed. */
static bool
drain(int fd, struct tail *t)
{
	char chunk[4096];

	/* Bounded: a child flooding stderr cannot keep us here forever. */
	for (int i = 0; i < 64; i++) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n > 0) {
			tail_add(t, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
	}
	return true;
}

struct child {
	pid_t pid;
	int in_fd; /* our end of the child's stdin (a socket: MSG_NOSIGNAL) */
	int err_fd; /* read end of the child's stderr */
};

static int
spawn(const struct hook *hook, char **envp, struct child *c)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int in_sv[2] = { -1, -1 }, err_p[2] = { -1, -1 };
	sigset_t mask;
	int r;

	/* CLOEXEC everywhere: other threads spawn hooks concurrently and must
	 * not inherit these ends (a leaked write end would hide EOF). */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_sv) < 0)
		return -errno;
	if (pipe2(err_p, O_CLOEXEC) < 0) {
		r = -errno;
		close(in_sv[0]);
		close(in_sv[1]);
		return r;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	r = posix_spawn_file_actions_adddup2(&fa, in_sv[1], 0);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
	/* Nothing else of the engine's (NATS sockets, files) leaks into it. */
	if (r == 0)
		r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (r == 0)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
		                                        POSIX_SPAWN_SETSIGDEF);
	/* Own process group: a timeout kills the hook and its children. */
	if (r == 0)
		r = posix_spawnattr_setpgroup(&attr, 0);
	sigemptyset(&mask);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&attr, &mask);
	/* Signals the engine ignores (SIGPIPE) start at default in the hook. */
	sigfillset(&mask);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&attr, &mask);
	if (r == 0)
		r = posix_spawn(&c->pid, hook->argv[0], &fa, &attr, hook->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(in_sv[1]);
	close(err_p[1]);
	if (r != 0) {
		close(in_sv[0]);
		close(err_p[0]);
		return -r;
	}
	c->in_fd = in_sv[0];
	c->err_fd = err_p[0];
	set_nonblock(c->in_fd);
	set_nonblock(c->err_fd);
	return 0;
}

static void
reap(pid_t pid, int *status_r)
{
	while (waitpid(pid, status_r, 0) < 0 && errno == EINTR)
		;
}

/*
 * Feed stdin, collect stderr and wait for the child until the deadline.
 * Returns true if it exited (status in *status_r), false on timeout (the
 * process group is then killed and reaped).
 */
static bool
supervise(struct child *c, int64_t timeout_ms, const char *input, size_t input_len, struct tail *t,
          int *status_r)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t off = 0;
	int tick = 1;
	bool exited = false;

	if (input_len == 0) {
		close(c->in_fd);
		c->in_fd = -1;
	}
	for (;;) {
		struct pollfd fds[2];
		int64_t left;
		nfds_t n = 0;
		int wait_ms, in_i = -1, err_i = -1;
		pid_t w;

		w = waitpid(c->pid, status_r, WNOHANG);
		if (w == c->pid)
			exited = true;
		if (exited) {
			/* Take what stderr holds now, but do not wait for EOF: a
			 * grandchild may keep the pipe open long after. */
			if (c->err_fd >= 0)
				drain(c->err_fd, t);
			return true;
		}
		left = deadline - now_ms();
		if (left <= 0)
			break;
		if (c->in_fd >= 0) {
			in_i = (int)n;
			fds[n++] = (struct pollfd){ .fd = c->in_fd, .events = POLLOUT };
		}
		if (c->err_fd >= 0) {
			err_i = (int)n;
			fds[n++] = (struct pollfd){ .fd = c->err_fd, .events = POLLIN };
		}
		/* stderr EOF normally means exit; poll the pid briefly then. With
		 * stderr open, its EOF wakes us, so a coarse tick is enough. */
		if (c->err_fd >= 0) {
			wait_ms = 50;
		} else {
			wait_ms = tick;
			tick = tick < 32 ? tick * 2 : 50;
		}
		if (left < wait_ms)
			wait_ms = (int)left;
		if (poll(fds, n, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			break; /* cannot happen with valid fds; treat as timeout */
		}
		if (in_i >= 0 && fds[in_i].revents != 0) {
			ssize_t s = 0;

			if (fds[in_i].revents & POLLOUT)
				s = send(c->in_fd, input + off, input_len - off,
				         MSG_NOSIGNAL | MSG_DONTWAIT);
			if (s > 0)
				off += (size_t)s;
			/* Done, or the child stopped reading (EPIPE): close stdin. */
			if (off == input_len || (s < 0 && errno != EAGAIN && errno != EINTR) ||
			    (fds[in_i].revents & (POLLERR | POLLHUP))) {
				close(c->in_fd);
				c->in_fd = -1;
			}
		}
		if (err_i >= 0 && fds[err_i].revents != 0 && !drain(c->err_fd, t)) {
			close(c->err_fd);
			c->err_fd = -1;
		}
	}
	kill(-c->pid, SIGKILL);
	reap(c->pid, status_r);
	return false;
}

tj_verdict
hook_run(const struct hook *hook, const struct tj_host_api *api, tj_task *task,
         const char *const env_extra[], const void *input, size_t input_len)
{
	char *own[3] = { NULL, NULL, NULL };
	const char **ours = NULL;
	char **envp = NULL;
	struct child c = { -1, -1, -1 };
	struct tail *t = NULL;
	char text[HOOK_STDERR_TAIL + 1], ebuf[128];
	size_t n_extra = 0;
	tj_verdict v = TJ_FAIL;
	int status = 0, r;

	if (hook->argv == NULL)
		return TJ_DONE;
	while (env_extra[n_extra] != NULL)
		n_extra++;
	t = calloc(1, sizeof(*t));
	ours = calloc(n_extra + 4, sizeof(*ours));
	if (t == NULL || ours == NULL ||
	    asprintf(&own[0], "TASKJET_SUBJECT=%s", api->task_subject(task)) < 0 ||
	    asprintf(&own[1], "TASKJET_TASK_ID=%s", api->task_id(task)) < 0 ||
	    asprintf(&own[2], "TASKJET_ATTEMPT=%u", api->task_attempt(task)) < 0) {
		api->task_fail_reason(task, "command: out of memory");
		v = TJ_RETRY;
		goto out;
	}
	for (size_t i = 0; i < 3; i++)
		ours[i] = own[i];
	for (size_t i = 0; i < n_extra; i++)
		ours[3 + i] = env_extra[i];
	envp = build_env(ours);
	if (envp == NULL) {
		api->task_fail_reason(task, "command: out of memory");
		v = TJ_RETRY;
		goto out;
	}
	r = spawn(hook, envp, &c);
	if (r < 0) {
		/* Resource shortage passes; anything else will not. */
		v = r == -EAGAIN || r == -ENOMEM || r == -EMFILE || r == -ENFILE ? TJ_RETRY
		                                                                 : TJ_FAIL;
		api->task_fail_reason(task, "command: cannot run %s: %s", hook->argv[0],
		                      pc_strerror(-r, ebuf, sizeof(ebuf)));
		goto out;
	}
	if (!supervise(&c, hook->timeout_ms, input, input_len, t, &status)) {
		tail_text(t, text);
		api->task_fail_reason(task, "command timed out after %lld ms%s%s",
		                      (long long)hook->timeout_ms, *text ? ": " : "", text);
		v = TJ_FAIL;
		goto out;
	}
	tail_text(t, text);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		v = TJ_DONE;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == HOOK_EX_TEMPFAIL) {
		api->task_fail_reason(task, "command exited %d (temporary failure)%s%s",
		                      HOOK_EX_TEMPFAIL, *text ? ": " : "", text);
		v = TJ_RETRY;
	} else if (WIFEXITED(status)) {
		api->task_fail_reason(task, "command exited with status %d%s%s",
		                      WEXITSTATUS(status), *text ? ": " : "", text);
		v = TJ_FAIL;
	} else {
		api->task_fail_reason(task, "command killed by signal %d%s%s",
		                      WIFSIGNALED(status) ? WTERMSIG(status) : 0, *text ? ": " : "",
		                      text);
		v = TJ_FAIL;
	}
out:
	if (c.in_fd >= 0)
		close(c.in_fd);
	if (c.err_fd >= 0)
		close(c.err_fd);
	for (size_t i = 0; i < 3; i++)
		free(own[i]);
	free(ours);
	free(envp);
	free(t);
	return v;
}
