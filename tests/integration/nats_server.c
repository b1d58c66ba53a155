/* SPDX-License-Identifier: MIT */
/* Start, stop and restart a private nats-server for integration tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nats_server.h"
#include "testing.h"

#define READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const char *
server_bin(void)
{
	const char *env = getenv("NATS_SERVER");

	return env != NULL && *env != '\0' ? env : "/usr/sbin/nats-server";
}

bool
nats_server_available(const char *test_name, bool *must_fail_r)
{
	const char *bin = server_bin();
	const char *ci = getenv("CI");

	if (access(bin, X_OK) == 0) {
		*must_fail_r = false;
		return true;
	}
	if (ci != NULL && *ci != '\0') {
		testing_bail_out("%s: nats-server not found at %s (required: CI is set)", test_name,
		                 bin);
		*must_fail_r = true;
	} else {
		char why[512];

		snprintf(why, sizeof(why), "%s: nats-server not found at %s", test_name, bin);
		testing_skip_all(why);
		*must_fail_r = false;
	}
	return false;
}

int
nats_server_free_port(void)
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

/* One HTTP/1.0 GET /healthz; true if the answer says "ok". */
static bool
healthy(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	static const char req[] = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	char buf[1024];
	size_t used = 0;
	ssize_t n;
	bool ok = false;
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct timeval tv = { 1, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto out;
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		goto out;
	while (used < sizeof(buf) - 1 && (n = read(fd, buf + used, sizeof(buf) - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	ok = strstr(buf, " 200 ") != NULL && strstr(buf, "\"ok\"") != NULL;
out:
	close(fd);
	return ok;
}

/* Fork and exec the server; do not wait for it. 0 or -errno. */
static int
spawn_process(struct nats_server *s)
{
	char port[16], mport[16], log[300], conf[300];
	pid_t pid;

	snprintf(port, sizeof(port), "%d", s->port);
	snprintf(mport, sizeof(mport), "%d", s->monitor_port);
	snprintf(log, sizeof(log), "%s/server.log", s->dir);
	snprintf(conf, sizeof(conf), "%s/server.conf", s->dir);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		if (s->has_conf && s->conf_has_store) /* -sd too is "duplicate" */
			execl(s->bin, s->bin, "-c", conf, "-js", "-a", "127.0.0.1", "-p", port,
			      "-m", mport, "-l", log, (char *)NULL);
		else if (s->has_conf)
			execl(s->bin, s->bin, "-c", conf, "-js", "-a", "127.0.0.1", "-p", port,
			      "-m", mport, "-sd", s->dir, "-l", log, (char *)NULL);
		else
			execl(s->bin, s->bin, "-js", "-a", "127.0.0.1", "-p", port, "-m", mport,
			      "-sd", s->dir, "-l", log, (char *)NULL);
		_exit(127);
	}
	s->pid = pid;
	return 0;
}

/* Wait (until `deadline`) for /healthz to say ok. 0 or -errno. */
static int
wait_healthy(struct nats_server *s, int64_t deadline)
{
	while (now_ms() < deadline) {
		int status;

		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			fprintf(stderr, "# nats-server exited early (see %s/server.log)\n", s->dir);
			return -ECHILD;
		}
		if (healthy(s->monitor_port))
			return 0;
		sleep_ms(20);
	}
	return -ETIMEDOUT;
}

static int
spawn(struct nats_server *s)
{
	int rc = spawn_process(s);

	if (rc == 0)
		rc = wait_healthy(s, now_ms() + READY_TIMEOUT_MS);
	if (rc == -ETIMEDOUT)
		nats_server_stop(s, SIGKILL);
	return rc;
}

const char *
nats_server_dir(struct nats_server *s)
{
	if (s->dir[0] != '\0')
		return s->dir;
	snprintf(s->dir, sizeof(s->dir), "/tmp/taskjet-nats-XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		s->dir[0] = '\0';
	return s->dir[0] != '\0' ? s->dir : NULL;
}

/* `conf` into the server's config file, used from its next start on; with
 * `jetstream`, a block that keeps JetStream on in the store of the command
 * line. 0 or -errno. */
static int
write_conf(struct nats_server *s, const char *conf, bool jetstream)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/server.conf", s->dir);
	f = fopen(path, "w");
	if (f == NULL)
		return -errno;
	fputs(conf, f);
	if (jetstream)
		fprintf(f, "\njetstream { store_dir: \"%s\" }\n", s->dir);
	if (fclose(f) != 0)
		return -EIO;
	s->has_conf = true;
	return 0;
}

/* Ports, URL and spawn, in a directory made already. */
static int
start_in_dir(struct nats_server *s)
{
	int port, mport;

	s->bin = server_bin();
	port = nats_server_free_port();
	mport = nats_server_free_port();
	if (port < 0 || mport < 0)
		return port < 0 ? port : mport;
	s->port = port;
	s->monitor_port = mport;
	snprintf(s->url, sizeof(s->url), "nats://127.0.0.1:%d", port);
	return spawn(s);
}

int
nats_server_start_max_payload(struct nats_server *s, long max_payload)
{
	char conf[64];

	memset(s, 0, sizeof(*s));
	snprintf(conf, sizeof(conf), "max_payload: %ld\n", max_payload);
	return nats_server_start_conf(s, conf);
}

int
nats_server_start_in_dir(struct nats_server *s)
{
	if (s->pid > 0)
		return -EBUSY;
	if (nats_server_dir(s) == NULL)
		return -errno;
	return start_in_dir(s);
}

int
nats_server_start(struct nats_server *s)
{
	memset(s, 0, sizeof(*s));
	if (nats_server_dir(s) == NULL)
		return -errno;
	return start_in_dir(s);
}

int
nats_server_start_conf(struct nats_server *s, const char *conf)
{
	int rc;

	if (s->pid > 0)
		return -EBUSY;
	if (nats_server_dir(s) == NULL)
		return -errno;
	rc = write_conf(s, conf, false);
	return rc < 0 ? rc : start_in_dir(s);
}

int
nats_server_log_count(const struct nats_server *s, const char *needle)
{
	char path[300], line[1024];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/server.log", s->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

int
nats_server_reload_conf(struct nats_server *s, const char *conf)
{
	static const char done[] = "Reloaded server configuration";
	static const char failed[] = "Failed to reload server configuration";
	int before = nats_server_log_count(s, done), rc;
	int failed_before = nats_server_log_count(s, failed);
	int64_t deadline = now_ms() + READY_TIMEOUT_MS;

	if (s->pid <= 0 || !s->has_conf)
		return -EINVAL;
	/* A reload keeps nothing of the command line's -js: without the
	 * block the server would shut JetStream down. */
	rc = write_conf(s, conf, true);
	if (rc != 0)
		return rc;
	s->conf_has_store = true;
	if (kill(s->pid, SIGHUP) != 0)
		return -errno;
	while (now_ms() < deadline) {
		if (nats_server_log_count(s, done) > before)
			return 0;
		if (nats_server_log_count(s, failed) > failed_before)
			return -EINVAL;
		sleep_ms(20);
	}
	return -ETIMEDOUT;
}

int
nats_server_stop_within(struct nats_server *s, int sig, int timeout_ms)
{
	int64_t deadline;
	int status, rc = 0;

	if (s->pid <= 0)
		return 0;
	if (kill(s->pid, sig) != 0 && errno != ESRCH)
		return -errno;
	deadline = now_ms() + timeout_ms;
	for (;;) {
		pid_t r = waitpid(s->pid, &status, WNOHANG);

		if (r == s->pid || (r < 0 && errno == ECHILD))
			break;
		if (now_ms() >= deadline) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &status, 0);
			rc = -ETIMEDOUT;
			break;
		}
		sleep_ms(10);
	}
	s->pid = 0;
	return rc;
}

int
nats_server_stop(struct nats_server *s, int sig)
{
	nats_server_stop_within(s, sig, STOP_TIMEOUT_MS);
	return 0;
}

int
nats_server_restart(struct nats_server *s)
{
	if (s->pid > 0)
		return -EBUSY;
	return spawn(s);
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	remove(path);
	return 0;
}

void
nats_server_cleanup(struct nats_server *s)
{
	nats_server_stop(s, SIGTERM);
	if (s->dir[0] != '\0')
		nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

/* ---- a cluster ---- */

int
nats_cluster_start(struct nats_cluster *c)
{
	int64_t deadline;
	size_t off = 0;
	char routes[256] = "", conf[1024];
	int rc = 0;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < NATS_CLUSTER_SIZE; i++) {
		struct nats_server *s = &c->node[i];
		int port = nats_server_free_port(), mport = nats_server_free_port(),
		    cport = nats_server_free_port();

		if (port < 0 || mport < 0 || cport < 0)
			return port < 0 ? port : mport < 0 ? mport : cport;
		if (nats_server_dir(s) == NULL)
			return -errno;
		s->bin = server_bin();
		s->port = port;
		s->monitor_port = mport;
		c->cluster_port[i] = cport;
		snprintf(s->url, sizeof(s->url), "nats://127.0.0.1:%d", port);
		off += (size_t)snprintf(routes + off, sizeof(routes) - off, "%snats://127.0.0.1:%d",
		                        i > 0 ? ", " : "", cport);
	}
	off = 0;
	for (int i = 0; i < NATS_CLUSTER_SIZE; i++)
		off += (size_t)snprintf(c->urls + off, sizeof(c->urls) - off, "%s%s",
		                        i > 0 ? "," : "", c->node[i].url);
	for (int i = 0; i < NATS_CLUSTER_SIZE; i++) {
		snprintf(conf, sizeof(conf),
		         "server_name: n%d\n"
		         "cluster {\n  name: taskjet-test\n  listen: 127.0.0.1:%d\n"
		         "  routes: [%s]\n}\n",
		         i + 1, c->cluster_port[i], routes);
		rc = write_conf(&c->node[i], conf, false);
		if (rc < 0)
			return rc;
	}
	/* All at once: a node is healthy only once a JetStream meta leader
	 * is elected, which takes two of them. */
	for (int i = 0; i < NATS_CLUSTER_SIZE && rc == 0; i++)
		rc = spawn_process(&c->node[i]);
	deadline = now_ms() + 3 * READY_TIMEOUT_MS;
	for (int i = 0; i < NATS_CLUSTER_SIZE && rc == 0; i++)
		rc = wait_healthy(&c->node[i], deadline);
	return rc;
}

int
nats_cluster_index(const struct nats_cluster *c, const char *name)
{
	for (int i = 0; name != NULL && i < NATS_CLUSTER_SIZE; i++) {
		char want[8];

		snprintf(want, sizeof(want), "n%d", i + 1);
		if (strcmp(name, want) == 0)
			return i;
	}
	return -1;
}

void
nats_cluster_cleanup(struct nats_cluster *c)
{
	for (int i = 0; i < NATS_CLUSTER_SIZE; i++)
		nats_server_stop(&c->node[i], SIGKILL);
	for (int i = 0; i < NATS_CLUSTER_SIZE; i++)
		nats_server_cleanup(&c->node[i]);
}
