/* SPDX-License-Identifier: MIT */
/*
 * Messages between the engine and its worker processes (procpool.c, the
 * loader's probe, worker.c), over a SOCK_SEQPACKET socketpair: one socket
 * message per ipc message, a 16-byte head and a body of fields written in
 * order (u32, u64, strings). A body larger than IPC_INLINE_MAX travels in a
 * sealed memfd passed with the message (SCM_RIGHTS), so payloads of any
 * size cost one copy and no stream reassembly.
 *
 * Both ends are the same build, but the engine reads whatever a crashed or
 * hostile worker sends: every length is checked, a memfd body must be
 * sealed against shrinking and writing before it is mapped (no SIGBUS, no
 * change under the reader), and stray descriptors are closed.
 *
 * Nothing here allocates per message except a memfd for a large body.
 * Functions are thread-safe for different sockets; one socket is used by
 * one thread at a time, except that whole messages may be sent to it from
 * several threads (a SEQPACKET send is atomic).
 */
#ifndef TASKJET_IPC_H
#define TASKJET_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped whenever a message changes; the worker refuses another. */
#define IPC_PROTOCOL 2
/* Largest body sent inside the socket message itself. */
#define IPC_INLINE_MAX (64 * 1024)
/* Size of the head that precedes every body. */
#define IPC_HEAD_SIZE 16
/* A receive buffer that takes any inline message (and a NUL after it). */
#define IPC_BUF_SIZE (IPC_HEAD_SIZE + IPC_INLINE_MAX + 1)
/* Largest body accepted at all (a memfd body included). */
#define IPC_BODY_MAX ((size_t)1 << 31)

enum ipc_type {
	IPC_INIT = 1, /* engine -> worker: protocol, limits, names, config */
	IPC_READY, /* worker -> engine: init done, handler found */
	IPC_INIT_FAILED, /* worker -> engine: why; the worker then exits */
	IPC_CALL, /* engine -> worker: tasks to run in order, one call each */
	IPC_REPLY, /* worker -> engine: the verdict of the current call, sent
	            * before the worker starts the next one */
	IPC_LOG, /* worker -> engine: one log line; not answered */
	IPC_PUBLISH, /* worker -> engine: task_publish; answered by RESULT */
	IPC_IN_PROGRESS, /* worker -> engine: task_in_progress; by RESULT */
	IPC_RESULT, /* engine -> worker: a host call's return value */
	IPC_FINI, /* engine -> worker: run tj_plugin_fini and exit */
	IPC_PROBE, /* engine -> probe: read the descriptor of fd 4 */
	IPC_PROBED, /* probe -> engine: what it says */
};

/* A received message. body is NUL-terminated at len (for strings' sake
 * the reader still checks each one) and the reader's own to edit. */
struct ipc_msg {
	uint32_t type;
	const char *body;
	size_t len;
	void *map; /* the memfd mapping behind body, or NULL */
	size_t map_len;
};

/*
 * Receive one message into `buf` (cap >= IPC_BUF_SIZE to take any inline
 * message). Blocks, up to the socket's SO_RCVTIMEO if set. 0; -EAGAIN when
 * the receive timeout expired; -EPIPE when the peer closed its end (it
 * exited); -EPROTO for a malformed message; another -errno otherwise.
 * Release a message with ipc_msg_release() before the next receive.
 */
int ipc_recv(int fd, void *buf, size_t cap, struct ipc_msg *msg);
/*
 * ipc_recv, but first poll without blocking for up to spin_us: when the
 * peer answers within that, neither side pays for being put to sleep and
 * woken on another CPU (tens of microseconds on a virtual machine, against
 * a few for the round trip itself).
 */
int ipc_recv_spin(int fd, void *buf, size_t cap, struct ipc_msg *msg, int64_t spin_us);
/* How long either side polls for an answer it expects soon (see
 * ipc_spin_budget). */
#define IPC_SPIN_US 50
/*
 * The spin to use for the next wait: IPC_SPIN_US when the previous wait
 * (last_wait_us) was short enough to have been caught by it and this
 * machine has another CPU for the peer to run on; else 0 (block at once,
 * so a slow handler or an idle route costs no CPU).
 */
int64_t ipc_spin_budget(int64_t last_wait_us);
/* Unmap a memfd body. NULL-safe; idempotent. */
void ipc_msg_release(struct ipc_msg *msg);

/* A message being built: ipc_begin, ipc_put_*, ipc_send. */
struct ipc_out {
	uint32_t type;
	char *body; /* where the body goes: the caller's buffer, or a memfd map */
	size_t len; /* body bytes written */
	size_t cap; /* body bytes available */
	bool overflow; /* a put did not fit: ipc_send refuses it */
	int memfd; /* -1: inline */
	size_t map_len;
};

/* Bytes a string field takes in a body. */
#define IPC_STR_SIZE(len) (4 + (size_t)(len) + 1)

/*
 * Start a message of `type` whose body takes at most `body_max` bytes.
 * Written to `buf` (cap bytes) when it fits there and in IPC_INLINE_MAX,
 * else to a new memfd, sealed when sent.
 * 0, or -EMSGSIZE / -errno (nothing to release then).
 */
int ipc_begin(struct ipc_out *o, void *buf, size_t cap, uint32_t type, size_t body_max);
void ipc_put_u32(struct ipc_out *o, uint32_t v);
void ipc_put_u64(struct ipc_out *o, uint64_t v);
/* A string: u32 length, the bytes, a NUL (s may be NULL when len is 0). */
void ipc_put_str(struct ipc_out *o, const void *s, size_t len);
/* Reserve `len` bytes of a string field and return where to write them
 * (NULL on overflow): for payloads written straight into a memfd. */
char *ipc_put_str_space(struct ipc_out *o, size_t len);
/*
 * Send the message and release it (also on failure). 0; -EPIPE when the
 * peer is gone; -EAGAIN when SO_SNDTIMEO expired; -EMSGSIZE after an
 * overflow; another -errno otherwise.
 */
int ipc_send(int fd, struct ipc_out *o);
/* Release a message that will not be sent. */
void ipc_abandon(struct ipc_out *o);

/* Reading a body field by field; any short or bad field sets `bad`. */
struct ipc_in {
	const char *p;
	size_t left;
	bool bad;
};

void ipc_in_init(struct ipc_in *in, const struct ipc_msg *msg);
uint32_t ipc_get_u32(struct ipc_in *in);
uint64_t ipc_get_u64(struct ipc_in *in);
/* A string field: its bytes (NUL-terminated at *len_r), or NULL if bad. */
const char *ipc_get_str(struct ipc_in *in, size_t *len_r);

/* The reason an IPC_INIT_FAILED message gives (borrowed from it). */
const char *ipc_failure_reason(const struct ipc_msg *msg);

#endif
