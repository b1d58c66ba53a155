/* SPDX-License-Identifier: MIT */
/* The optional per-plugin hook command: spawn, feed, time out, judge. */
#ifndef TASKJET_PLUGINS_HOOK_H
#define TASKJET_PLUGINS_HOOK_H

#include <stdint.h>

#include <taskjet/plugin.h>

#define HOOK_DEFAULT_TIMEOUT_MS 30000
#define HOOK_STDERR_TAIL 512
#define HOOK_EX_TEMPFAIL 75 /* sysexits.h EX_TEMPFAIL: "try again later" */

/* A configured command; argv == NULL means "no hook". Read-only after
 * hook_config(), so one hook may run from many threads at once. */
struct hook {
	char **argv; /* argv[0] is an absolute path; NULL-terminated */
	int64_t timeout_ms; /* 1 .. 24h */
};

/*
 * Read config keys "command" (a JSON array of strings: the argv, run with
 * execve, no shell) and "command_timeout_ms". Both optional. Logs what is
 * wrong (naming the key) and returns -EINVAL; -ENOMEM. Fills *hook only on
 * success; free with hook_release().
 */
int hook_config(const struct tj_host_api *api, tj_plugin *self, struct hook *hook);
void hook_release(struct hook *hook);

/*
 * Run the hook for `task` if one is configured. The child gets the engine's
 * environment plus TASKJET_SUBJECT, TASKJET_TASK_ID, TASKJET_ATTEMPT and the
 * NULL-terminated "NAME=value" strings of `env_extra`; `input` on stdin;
 * stdout is discarded; stderr's last HOOK_STDERR_TAIL bytes are kept. It
 * runs in its own process group, which is killed with SIGKILL on timeout.
 * Returns TJ_DONE when there is no hook or it exited 0; TJ_RETRY for exit
 * 75 or a transient spawn failure; TJ_FAIL otherwise. For RETRY and FAIL
 * the task's fail reason says why (with the stderr tail). Thread-safe.
 */
tj_verdict hook_run(const struct hook *hook, const struct tj_host_api *api, tj_task *task,
                    const char *const env_extra[], const void *input, size_t input_len);

#endif
