/* SPDX-License-Identifier: MIT */
/* Run a private nats-server child for the engine. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"
#include "nats/embedded.h"
#include "util/log.h"
#include "util/xalloc.h"

#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000

#ifndef NATS_SERVER_PATH
#define NATS_SERVER_PATH ""
#endif

struct embedded {
	pid_t pid;
	int port;
	char url[64];
};

static bool
executable(const char *path)
{
	struct stat st;

	return path != NULL && *path != '\0' && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       access(path, X_OK) == 0;
}

/* First nats-server on PATH, then the usual sbin places, then configure's. */
static char *
find_server(void)
{
	static const char *const fixed[] = { "/usr/sbin/nats-server", "/usr/local/sbin/nats-server",
		                             NATS_SERVER_PATH };
	const char *path = getenv("PATH");
	char *copy, *save = NULL, *dir, buf[4096];

	if (path != NULL) {
		copy = xstrdup(path);
		for (dir = strtok_r(copy, ":", &save); dir != NULL;
		     dir = strtok_r(NULL, ":", &save)) {
			snprintf(buf, sizeof(buf), "%s/nats-server", dir);
			if (executable(buf)) {
				free(copy);
				return xstrdup(buf);
			}
		}
		free(copy);
	}
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (executable(fixed[i]))
			return xstrdup(fixed[i]);
	return NULL;
}

static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd, rc;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		rc = -errno;
	else
		rc = ntohs(a.sin_port);
	close(fd);
	return rc;
}

/* Ready once a client connection gets the server's INFO line. */
static bool
accepts_clients(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct timeval tv = { 1, 0 };
	char buf[8];
	bool ok = false;
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && read(fd, buf, 4) == 4 &&
	    memcmp(buf, "INFO", 4) == 0)
		ok = true;
	close(fd);
	return ok;
}

static int
mkdir_p(const char *dir)
{
	char buf[4096];
	size_t len = strlen(dir);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void
reap(struct embedded *e, int64_t timeout_ms)
{
	int64_t deadline = clock_mono_ms() + timeout_ms;
	int status;

	for (;;) {
		pid_t r = waitpid(e->pid, &status, WNOHANG);

		if (r == e->pid || (r < 0 && errno != EINTR))
			break;
		if (clock_mono_ms() >= deadline) {
			log_warn("embedded nats-server %d ignored SIGTERM; killing it",
			         (int)e->pid);
			kill(e->pid, SIGKILL);
			waitpid(e->pid, &status, 0);
			break;
		}
		clock_sleep_ms(20);
	}
	e->pid = 0;
}

int
embedded_start(const char *state_dir, const char *bin, struct embedded **e_r)
{
	struct embedded *e = NULL;
	char *found = NULL, store[4096], logf[4200], port[16];
	int64_t deadline;
	pid_t parent = getpid();
	int rc = 0, p;

	found = bin != NULL ? (executable(bin) ? xstrdup(bin) : NULL) : find_server();
	if (found == NULL) {
		log_err("no nats-server found (looked in %s); install it (Debian: "
		        "apt-get install nats-server) or point taskjet at a running "
		        "server with nats.url in the config, the NATS_URL "
		        "environment variable or --nats <url>",
		        bin != NULL ? bin : "PATH, /usr/sbin, /usr/local/sbin");
		rc = -ENOENT;
		goto out;
	}
	if ((size_t)snprintf(store, sizeof(store), "%s/nats", state_dir) >= sizeof(store)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	rc = mkdir_p(store);
	if (rc != 0) {
		log_err("cannot create %s: %s", store, strerror(-rc));
		goto out;
	}
	snprintf(logf, sizeof(logf), "%s/server.log", store);
	p = free_port();
	if (p < 0) {
		rc = p;
		goto out;
	}
	e = xcalloc(1, sizeof(*e));
	e->port = p;
	snprintf(e->url, sizeof(e->url), "nats://127.0.0.1:%d", p);
	snprintf(port, sizeof(port), "%d", p);

	e->pid = fork();
	if (e->pid < 0) {
		rc = -errno;
		goto out;
	}
	if (e->pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* Do not outlive taskjet, even if it crashes. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		execl(found, found, "-js", "-a", "127.0.0.1", "-p", port, "-sd", store, "-l", logf,
		      (char *)NULL);
		_exit(127);
	}

	deadline = clock_mono_ms() + READY_TIMEOUT_MS;
	for (;;) {
		int status;

		if (waitpid(e->pid, &status, WNOHANG) == e->pid) {
			e->pid = 0;
			log_err("embedded nats-server exited at start; see %s", logf);
			rc = -ECHILD;
			goto out;
		}
		if (accepts_clients(p))
			break;
		if (clock_mono_ms() >= deadline) {
			log_err("embedded nats-server not ready after %d ms; see %s",
			        READY_TIMEOUT_MS, logf);
			rc = -ETIMEDOUT;
			goto out;
		}
		clock_sleep_ms(20);
	}
	log_info("embedded nats-server %s (pid %d) at %s, store %s", found, (int)e->pid, e->url,
	         store);
out:
	free(found);
	if (rc != 0) {
		embedded_stop(e);
		return rc;
	}
	*e_r = e;
	return 0;
}

const char *
embedded_url(const struct embedded *e)
{
	return e->url;
}

pid_t
embedded_pid(const struct embedded *e)
{
	return e->pid;
}

void
embedded_stop(struct embedded *e)
{
	if (e == NULL)
		return;
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		reap(e, STOP_TIMEOUT_MS);
	}
	free(e);
}
