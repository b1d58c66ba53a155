/* SPDX-License-Identifier: MIT */
/*
 * Starting the worker program (taskjet-worker, core/plugin/worker.c): a
 * clean exec, never a bare fork of the multithreaded engine, so a worker
 * inherits no lock held by another engine thread, no libnats thread and no
 * descriptor but the ones handed to it. Used by the process pool (mode
 * "serve") and the loader's descriptor probe (mode "probe").
 *
 * Every function is thread-safe.
 */
#ifndef TASKJET_SPAWN_H
#define TASKJET_SPAWN_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* The descriptors a worker finds open, besides 0, 1 and 2. */
#define WORKER_IPC_FD 3
#define WORKER_PLUGIN_FD 4

/*
 * Where the worker program is: $TASKJET_WORKER when set and not empty;
 * else taskjet-worker beside the running executable when there is one
 * (a build tree); else the installed PKGLIBEXECDIR/taskjet-worker.
 * Written to buf (len bytes); returns buf.
 */
const char *worker_program_path(char *buf, size_t len);

/*
 * Start `program` in `mode` ("serve" or "probe") in a process group of its
 * own, with a new SOCK_SEQPACKET socket as its WORKER_IPC_FD, `plugin_fd`
 * (when >= 0; borrowed) as its WORKER_PLUGIN_FD, stdin on /dev/null, stdout
 * and stderr on the engine's stderr (plugin output and sanitizer reports
 * reach the same log stream as in thread mode), default signal dispositions,
 * an empty signal mask and no other descriptor. *sock_r is the engine's
 * end (close-on-exec), owned by the caller. 0, or -errno with one line in
 * err.
 *
 * The calling thread becomes the worker's parent for PR_SET_PDEATHSIG: the
 * worker is killed when that thread ends, so spawn from a thread that
 * outlives the worker.
 */
int worker_spawn(const char *program, const char *mode, int plugin_fd, char *err, size_t errlen,
                 pid_t *pid_r, int *sock_r);

/* Wait for `pid` to end (EINTR-safe). 0 with its wait status and, if ru is
 * not NULL, its resource usage; or -errno. */
int worker_reap(pid_t pid, int *status_r, struct rusage *ru);

/* "killed by signal 11 (Segmentation fault)" or "exited with status 3". */
void worker_describe_status(int status, char *buf, size_t len);

#endif
