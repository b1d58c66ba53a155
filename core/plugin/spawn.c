/* SPDX-License-Identifier: MIT */
/* Spawning the worker program with exactly the descriptors it needs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugin/spawn.h"

#ifndef PKGLIBEXECDIR
#define PKGLIBEXECDIR "/usr/local/libexec/taskjet"
#endif
#define WORKER_PROGRAM "taskjet-worker"

extern char **environ;

const char *
worker_program_path(char *buf, size_t len)
{
	const char *env = getenv("TASKJET_WORKER");
	char self[PATH_MAX];
	ssize_t n;

	if (env != NULL && env[0] != '\0') {
		snprintf(buf, len, "%s", env);
		return buf;
	}
	/* From a build tree the engine runs as _build/taskjet, next to
	 * _build/taskjet-worker of the same build. Installed, taskjet is in
	 * bindir and no worker sits beside it. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			slash[1] = '\0';
			if ((size_t)snprintf(buf, len, "%s%s", self, WORKER_PROGRAM) < len &&
			    access(buf, X_OK) == 0)
				return buf;
		}
	}
	snprintf(buf, len, "%s/%s", PKGLIBEXECDIR, WORKER_PROGRAM);
	return buf;
}

/* A copy of fd at 10 or above, so the dup2s into 3 and 4 cannot clobber
 * each other. Close-on-exec; the spawn's dup2 clears that on the target. */
static int
dup_high(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

int
worker_spawn(const char *program, const char *mode, int plugin_fd, char *err, size_t errlen,
             pid_t *pid_r, int *sock_r)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	char pidbuf[32];
	char *argv[] = { (char *)program, (char *)mode, pidbuf, NULL };
	int pair[2] = { -1, -1 }, child_sock = -1, child_plugin = -1;
	bool fa_ready = false, attr_ready = false;
	pid_t pid;
	int rc;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot start %s: socketpair: %s", program, strerror(-rc));
		return rc;
	}
	child_sock = dup_high(pair[1]);
	if (plugin_fd >= 0)
		child_plugin = dup_high(plugin_fd);
	if (child_sock < 0 || (plugin_fd >= 0 && child_plugin < 0)) {
		rc = -errno;
		snprintf(err, errlen, "cannot start %s: dup: %s", program, strerror(-rc));
		goto out;
	}
	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());

	rc = -posix_spawn_file_actions_init(&fa);
	if (rc < 0)
		goto spawn_failed;
	fa_ready = true;
	rc = -posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	/* The engine's stderr is its log stream (journal, terminal). If it
	 * has none, the worker's output goes nowhere rather than into
	 * whatever file took descriptor 2. */
	if (rc == 0 && fcntl(STDERR_FILENO, F_GETFD) < 0)
		rc =
		    -posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	if (rc == 0)
		rc = -posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	if (rc == 0)
		rc = -posix_spawn_file_actions_adddup2(&fa, child_sock, WORKER_IPC_FD);
	if (rc == 0 && child_plugin >= 0)
		rc = -posix_spawn_file_actions_adddup2(&fa, child_plugin, WORKER_PLUGIN_FD);
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
	/* Everything else goes, close-on-exec or not; the worker also closes
	 * what is left above its own descriptors at start. */
	if (rc == 0)
		rc = -posix_spawn_file_actions_addclosefrom_np(
		    &fa, child_plugin >= 0 ? WORKER_PLUGIN_FD + 1 : WORKER_IPC_FD + 1);
#endif
	if (rc < 0)
		goto spawn_failed;

	rc = -posix_spawnattr_init(&attr);
	if (rc < 0)
		goto spawn_failed;
	attr_ready = true;
	sigemptyset(&none);
	sigfillset(&all);
	/* Its own process group: a terminal's ^C reaches the engine only
	 * (which finalises its workers), and a timeout kills the worker with
	 * every process its plugin started. */
	rc = -posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	                                          POSIX_SPAWN_SETSIGDEF);
	if (rc == 0)
		rc = -posix_spawnattr_setpgroup(&attr, 0);
	if (rc == 0)
		rc = -posix_spawnattr_setsigmask(&attr, &none);
	if (rc == 0)
		rc = -posix_spawnattr_setsigdefault(&attr, &all);
	if (rc < 0)
		goto spawn_failed;

	rc = -posix_spawn(&pid, program, &fa, &attr, argv, environ);
	if (rc < 0)
		goto spawn_failed;
	*pid_r = pid;
	*sock_r = pair[0];
	pair[0] = -1;
	goto out;
spawn_failed:
	snprintf(err, errlen, "cannot start the worker program %s: %s", program, strerror(-rc));
out:
	if (attr_ready)
		posix_spawnattr_destroy(&attr);
	if (fa_ready)
		posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++)
		if (pair[i] >= 0)
			close(pair[i]);
	if (child_sock >= 0)
		close(child_sock);
	if (child_plugin >= 0)
		close(child_plugin);
	return rc;
}

int
worker_reap(pid_t pid, int *status_r, struct rusage *ru)
{
	struct rusage local;
	int status = 0;
	pid_t r;

	do
		r = wait4(pid, &status, 0, ru != NULL ? ru : &local);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	*status_r = status;
	return 0;
}

void
worker_describe_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(buf, len, "ended with wait status 0x%x", (unsigned)status);
}
