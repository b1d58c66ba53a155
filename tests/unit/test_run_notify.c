/* SPDX-License-Identifier: MIT */
/*
 * `taskjet run --backend memory` as systemd would start it (NOTIFY_SOCKET,
 * WATCHDOG_USEC, WATCHDOG_PID), with this test in systemd's place: READY=1
 * once the workers run, WATCHDOG=1 at half the timeout from the main pid,
 * STOPPING=1 on SIGTERM, then a clean exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notify_socket.h"
#include "testing.h"

static struct notify_socket ns;
static char tmp[64], config[128], logfile[128];
static char msg[512];

static int
write_config(void)
{
	FILE *fp = fopen(config, "w");

	if (fp == NULL)
		return -errno;
	fprintf(fp,
	        "{\n"
	        "  \"backend\": \"memory\",\n"
	        "  \"plugin_dir\": \"%s\",\n"
	        "  \"state_dir\": \"%s/state\",\n"
	        "  \"streams\": [ { \"name\": \"TASKS\", \"subjects\": [\"tasks.>\"] } ],\n"
	        "  \"routes\": [ { \"name\": \"noop\", \"stream\": \"TASKS\",\n"
	        "                \"subject\": \"tasks.noop\", \"plugin\": \"fx_noop\",\n"
	        "                \"concurrency\": 2 } ]\n"
	        "}\n",
	        FIXTURE_PLUGIN_DIR, tmp);
	return fclose(fp) == 0 ? 0 : -errno;
}

/* Start taskjet run with the notify environment; watchdog_pid 0 means
 * "the child's own pid", as systemd sets it. */
static pid_t
start_engine(const char *watchdog_usec, pid_t watchdog_pid)
{
	const char *builddir = getenv("top_builddir");
	char bin[4096];
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/taskjet", builddir != NULL ? builddir : ".");
	pid = fork();
	if (pid != 0)
		return pid;
	{
		char pidbuf[32];
		int fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		snprintf(pidbuf, sizeof(pidbuf), "%d",
		         (int)(watchdog_pid != 0 ? watchdog_pid : getpid()));
		setenv("NOTIFY_SOCKET", ns.path, 1);
		setenv("WATCHDOG_USEC", watchdog_usec, 1);
		setenv("WATCHDOG_PID", pidbuf, 1);
		unsetenv("TASKJET_BACKEND");
		unsetenv("TASKJET_STATE_DIR");
		unsetenv("TASKJET_PLUGIN_DIR");
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(bin, "taskjet", "run", "-c", config, "--backend", "memory", "--log-level",
		      "info", (char *)NULL);
		_exit(127);
	}
}

/* The next message containing `needle` within timeout_ms, skipping
 * others (keep-alives); its sender in *pid_r. True if seen. */
static bool
wait_for(const char *needle, int timeout_ms, pid_t *pid_r)
{
	int64_t end = notify_now_ms() + timeout_ms;

	for (int guard = 0; guard < 10000; guard++) {
		int64_t left = end - notify_now_ms();

		if (left <= 0)
			return false;
		if (notify_socket_recv(&ns, (int)left, msg, sizeof(msg), pid_r, NULL) > 0 &&
		    strstr(msg, needle) != NULL)
			return true;
	}
	return false;
}

/* Wait at most timeout_ms for the child; its exit status, or -1 (then
 * it is killed). */
static int
reap(pid_t pid, int timeout_ms)
{
	int status;

	for (int i = 0; i < timeout_ms / 20; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(20 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static bool
log_contains(const char *needle)
{
	char buf[16384];
	FILE *fp = fopen(logfile, "r");
	size_t n;

	if (fp == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void
show_log(void)
{
	char line[512];
	FILE *fp = fopen(logfile, "r");

	for (int i = 0; fp != NULL && i < 50 && fgets(line, sizeof(line), fp); i++)
		printf("# log: %s", line);
	if (fp != NULL)
		fclose(fp);
}

static void
drain(void)
{
	while (notify_socket_recv(&ns, 0, msg, sizeof(msg), NULL, NULL) > 0)
		;
}

TEST(ready_watchdog_and_stopping_under_a_service_manager)
{
	struct ping_stats p;
	pid_t child, from = 0;

	drain();
	/* 400 ms timeout: a keep-alive every 200 ms. */
	child = start_engine("400000", 0);
	CHECK_TRUE(child > 0);
	CHECK_TRUE(wait_for("READY=1", 20000, &from));
	CHECK_INT(from, child);
	CHECK_CONTAINS(msg, "STATUS=");
	CHECK_CONTAINS(msg, "1 route");
	/* Ready is sent only after the workers were started. */
	CHECK_TRUE(log_contains("running on the memory backend"));

	notify_socket_pings(&ns, 2000, child, &p);
	/*
	 * 2 s at 200 ms is 10 on time. The engine runs under ASan on a shared
	 * machine, so the bounds hold the period rather than each ping: the
	 * median gap is 200 ms whatever a few late pings do, while pinging at
	 * the full 400 ms timeout makes it 400 and a runaway loop near 0;
	 * a watchdog thread stalled behind the engine would leave a gap of
	 * seconds.
	 */
	CHECK_RANGE(p.count, 5, 21);
	CHECK_RANGE(p.median_gap_ms, 130, 300);
	CHECK_RANGE(p.max_gap_ms, 1, 1200);
	CHECK_INT(p.foreign, 0);

	CHECK_INT(kill(child, SIGTERM), 0);
	CHECK_TRUE(wait_for("STOPPING=1", 10000, &from));
	CHECK_INT(from, child);
	CHECK_INT(reap(child, 20000), 0);
	if (testing_failed())
		show_log();
}

TEST(no_keepalives_when_the_watchdog_is_for_another_pid)
{
	struct ping_stats p;
	pid_t child, from = 0;

	drain();
	/* systemd's WATCHDOG_PID names its main process; any other one (a
	 * child that inherited the environment) must not ping. */
	child = start_engine("200000", getpid());
	CHECK_TRUE(child > 0);
	CHECK_TRUE(wait_for("READY=1", 20000, &from));
	notify_socket_pings(&ns, 600, child, &p);
	CHECK_INT(p.count, 0);
	CHECK_INT(kill(child, SIGTERM), 0);
	CHECK_TRUE(wait_for("STOPPING=1", 10000, &from));
	CHECK_INT(reap(child, 20000), 0);
	if (testing_failed())
		show_log();
}

int
main(void)
{
	int rc = 1;

	snprintf(tmp, sizeof(tmp), "/tmp/tj-run-notify-XXXXXX");
	if (mkdtemp(tmp) == NULL || notify_socket_open(&ns) < 0) {
		printf("Bail out! cannot create a temporary directory or socket\n");
		return 1;
	}
	snprintf(config, sizeof(config), "%s/taskjet.json", tmp);
	snprintf(logfile, sizeof(logfile), "%s/run.log", tmp);
	if (write_config() < 0) {
		printf("Bail out! cannot write %s\n", config);
		goto out;
	}
	RUN(ready_watchdog_and_stopping_under_a_service_manager);
	RUN(no_keepalives_when_the_watchdog_is_for_another_pid);
	rc = testing_done();
out:
	notify_socket_close(&ns);
	{
		char cmd[128];

		/* The engine made state/ under tmp; remove the lot. */
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", tmp);
	}
	return rc;
}
