/* SPDX-License-Identifier: MIT */
/* A plugin's descriptor, read by the worker program in probe mode. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "plugin/ipc.h"
#include "plugin/probe.h"
#include "plugin/spawn.h"
#include "util/clock.h"
#include "util/xalloc.h"

/* A loader's constructors have this long to finish. */
#define PROBE_TIMEOUT_MS 10000
#define PROBE_TICK_MS 100

static void
copy_str(char *dst, size_t cap, const char *src, size_t len)
{
	if (src == NULL)
		len = 0;
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, src != NULL ? src : "", len);
	dst[len] = '\0';
}

static int
decode(const struct ipc_msg *msg, struct probe_report *r)
{
	const char *s[4];
	size_t n[4];
	struct ipc_in in;

	ipc_in_init(&in, msg);
	memset(r, 0, sizeof(*r));
	r->loaded = ipc_get_u32(&in) != 0;
	r->has_info = ipc_get_u32(&in) != 0;
	r->has_init = ipc_get_u32(&in) != 0;
	r->has_fini = ipc_get_u32(&in) != 0;
	r->abi_major = ipc_get_u32(&in);
	r->abi_minor = ipc_get_u32(&in);
	for (int i = 0; i < 4; i++)
		s[i] = ipc_get_str(&in, &n[i]);
	if (in.bad)
		return -EPROTO;
	copy_str(r->name, sizeof(r->name), s[0], n[0]);
	copy_str(r->version, sizeof(r->version), s[1], n[1]);
	copy_str(r->description, sizeof(r->description), s[2], n[2]);
	copy_str(r->error, sizeof(r->error), s[3], n[3]);
	return 0;
}

int
probe_answer(int sock, const struct probe_report *r)
{
	char buf[IPC_INLINE_MAX];
	struct ipc_out o;
	int rc;

	rc = ipc_begin(&o, buf, sizeof(buf), IPC_PROBED, IPC_INLINE_MAX);
	if (rc < 0)
		return rc;
	ipc_put_u32(&o, r->loaded);
	ipc_put_u32(&o, r->has_info);
	ipc_put_u32(&o, r->has_init);
	ipc_put_u32(&o, r->has_fini);
	ipc_put_u32(&o, r->abi_major);
	ipc_put_u32(&o, r->abi_minor);
	ipc_put_str(&o, r->name, strlen(r->name));
	ipc_put_str(&o, r->version, strlen(r->version));
	ipc_put_str(&o, r->description, strlen(r->description));
	ipc_put_str(&o, r->error, strlen(r->error));
	return ipc_send(sock, &o);
}

int
probe_run(int fd, const char *stem, const char *path, char *err, size_t errlen,
          struct probe_report *report)
{
	struct timeval tick = { 0, PROBE_TICK_MS * 1000 };
	char program[PATH_MAX], why[160], *buf;
	struct ipc_msg msg;
	struct ipc_out o;
	int64_t deadline;
	int sock = -1, status = 0, rc;
	pid_t pid = -1;
	bool answered = false;

	buf = xmalloc(IPC_BUF_SIZE);
	worker_program_path(program, sizeof(program));
	rc = worker_spawn(program, "probe", fd, err, errlen, &pid, &sock);
	if (rc < 0)
		goto out;
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick));
	rc = ipc_begin(&o, buf, IPC_INLINE_MAX, IPC_PROBE, 4);
	if (rc == 0) {
		ipc_put_u32(&o, IPC_PROTOCOL);
		rc = ipc_send(sock, &o);
	}
	deadline = clock_mono_ms() + PROBE_TIMEOUT_MS;
	while (rc == 0 && !answered) {
		rc = ipc_recv(sock, buf, IPC_BUF_SIZE, &msg);
		if (rc == -EAGAIN) {
			rc = clock_mono_ms() < deadline ? 0 : -ETIMEDOUT;
			continue;
		}
		if (rc < 0)
			break;
		if (msg.type == IPC_PROBED) {
			rc = decode(&msg, report);
			answered = rc == 0;
		} else if (msg.type == IPC_INIT_FAILED) {
			snprintf(err, errlen, "plugin %s (%s): the probe process refused: %s", stem,
			         path, ipc_failure_reason(&msg));
			rc = -EPROTO;
			ipc_msg_release(&msg);
			goto kill;
		}
		/* Anything else (a stray log line) is ignored. */
		ipc_msg_release(&msg);
	}
	if (answered)
		goto kill;
	if (rc == -ETIMEDOUT) {
		snprintf(err, errlen,
		         "plugin %s (%s): loading it hung for %d s in a probe process (its "
		         "constructors do not return)",
		         stem, path, PROBE_TIMEOUT_MS / 1000);
		rc = -ENOEXEC;
		goto kill;
	}
	/* The probe died before answering: the plugin's constructors
	 * crashed it, or the worker program is broken. */
	kill(-pid, SIGKILL);
	if (worker_reap(pid, &status, NULL) == 0) {
		worker_describe_status(status, why, sizeof(why));
		snprintf(err, errlen,
		         "plugin %s (%s): its code crashed the probe process while loading: %s",
		         stem, path, why);
	} else {
		snprintf(err, errlen, "plugin %s (%s): the probe process failed: %s", stem, path,
		         strerror(-rc));
	}
	pid = -1;
	rc = -ENOEXEC;
	goto out;
kill:
	/* Done with it either way; anything its constructors started in its
	 * process group goes with it. */
	kill(-pid, SIGKILL);
	worker_reap(pid, &status, NULL);
	pid = -1;
out:
	if (sock >= 0)
		close(sock);
	free(buf);
	return rc;
}
