/* SPDX-License-Identifier: MIT */
/*
 * taskjet-worker: the throwaway process that reads a plugin's descriptor
 * for the loader (mode "probe", core/plugin/probe.c). Started by the
 * engine only, never by hand:
 *
 *   taskjet-worker probe <engine pid>
 *
 * with its socket to the engine as fd 3 and the plugin file as fd 4.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/ipc.h"
#include "plugin/loader.h"
#include "plugin/probe.h"
#include "plugin/spawn.h"

/* Exit statuses the engine may see (a reason is sent first when it can). */
#define EXIT_USAGE 64
#define EXIT_PROTOCOL 76

static const int sock = WORKER_IPC_FD;
static const char protocol_mismatch[] =
    "the worker program is from another taskjet version (protocol mismatch); reinstall taskjet";

static char call_in[IPC_BUF_SIZE];
static char reply_out[IPC_INLINE_MAX];

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
	struct stat st;
	long engine;

	if (argc != 3 || strcmp(argv[1], "probe") != 0) {
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
	/* Right away, skipping the plugin's destructors: a probe ends. */
	fflush(NULL);
	_exit(probe());
}
