/* SPDX-License-Identifier: MIT */
/* Engine <-> worker message framing over SOCK_SEQPACKET, memfd for big bodies. */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin/ipc.h"
#include "util/clock.h"

/* The head of every message, before the inline body. */
struct ipc_head {
	uint32_t type;
	uint32_t flags;
	uint64_t len; /* body bytes */
};

_Static_assert(sizeof(struct ipc_head) == IPC_HEAD_SIZE, "head size");

#define IPC_BODY_IN_MEMFD 1u
/* A memfd body can change neither its size nor its bytes once sent. */
#define IPC_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

/* Close every descriptor a control message carried, but `keep` (if >= 0). */
static void
close_passed_fds(struct msghdr *mh, int keep)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (fd != keep)
				close(fd);
		}
	}
}

/* The first descriptor passed with the message, or -1. */
static int
first_passed_fd(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(sizeof(int)))
			continue;
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		return fd;
	}
	return -1;
}

/* Map a memfd body read-only, once it is sealed and large enough. */
static int
map_memfd(int fd, size_t len, struct ipc_msg *msg)
{
	struct stat st;
	void *map;
	int seals;

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_WRITE)) != (F_SEAL_SHRINK | F_SEAL_WRITE))
		return -EPROTO;
	/* The body is followed by a NUL inside the file. */
	if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size < (uint64_t)len + 1)
		return -EPROTO;
	/* Private: the reader may edit its copy (as it may an inline body)
	 * without touching the sender's file. */
	map = mmap(NULL, len + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	msg->map = map;
	msg->map_len = len + 1;
	msg->body = map;
	msg->len = len;
	return 0;
}

static int
recv_one(int fd, void *buf, size_t cap, struct ipc_msg *msg, int flags)
{
	union {
		char space[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap - 1 };
	struct msghdr mh = { .msg_iov = &iov,
		             .msg_iovlen = 1,
		             .msg_control = ctl.space,
		             .msg_controllen = sizeof(ctl.space) };
	struct ipc_head head;
	ssize_t n;
	int passed, rc;

	memset(msg, 0, sizeof(*msg));
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN
		       : errno == ECONNRESET                   ? -EPIPE
		                                               : -errno;
	if (n == 0)
		return -EPIPE;
	passed = first_passed_fd(&mh);
	close_passed_fds(&mh, passed);
	rc = -EPROTO;
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || (size_t)n < sizeof(head))
		goto out;
	memcpy(&head, buf, sizeof(head));
	msg->type = head.type;
	if (head.flags & IPC_BODY_IN_MEMFD) {
		if ((size_t)n != sizeof(head) || passed < 0 || head.len > IPC_BODY_MAX)
			goto out;
		rc = map_memfd(passed, (size_t)head.len, msg);
		goto out;
	}
	if (head.flags != 0 || head.len != (uint64_t)n - sizeof(head))
		goto out;
	((char *)buf)[n] = '\0';
	msg->body = (const char *)buf + sizeof(head);
	msg->len = (size_t)head.len;
	rc = 0;
out:
	if (passed >= 0)
		close(passed);
	return rc;
}

int
ipc_recv(int fd, void *buf, size_t cap, struct ipc_msg *msg)
{
	return recv_one(fd, buf, cap, msg, 0);
}

int64_t
ipc_spin_budget(int64_t last_wait_us)
{
	static int cpus;
	int n = __atomic_load_n(&cpus, __ATOMIC_RELAXED);

	if (n == 0) {
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
		__atomic_store_n(&cpus, n > 0 ? n : 1, __ATOMIC_RELAXED);
	}
	return n > 1 && last_wait_us >= 0 && last_wait_us <= IPC_SPIN_US ? IPC_SPIN_US : 0;
}

int
ipc_recv_spin(int fd, void *buf, size_t cap, struct ipc_msg *msg, int64_t spin_us)
{
	int64_t until;
	int rc;

	if (spin_us > 0) {
		until = clock_mono_us() + spin_us;
		do {
			rc = recv_one(fd, buf, cap, msg, MSG_DONTWAIT);
			if (rc != -EAGAIN)
				return rc;
			/* The peer may be waiting for this very CPU. */
			sched_yield();
		} while (clock_mono_us() < until);
	}
	return recv_one(fd, buf, cap, msg, 0);
}

void
ipc_msg_release(struct ipc_msg *msg)
{
	if (msg != NULL && msg->map != NULL) {
		munmap(msg->map, msg->map_len);
		msg->map = NULL;
		msg->body = NULL;
	}
}

int
ipc_begin(struct ipc_out *o, void *buf, size_t cap, uint32_t type, size_t body_max)
{
	void *map;
	int fd, rc;

	memset(o, 0, sizeof(*o));
	o->type = type;
	o->memfd = -1;
	if (body_max > IPC_BODY_MAX)
		return -EMSGSIZE;
	if (body_max <= IPC_INLINE_MAX && cap >= body_max) {
		o->body = buf;
		o->cap = body_max;
		return 0;
	}
	fd = memfd_create("taskjet-ipc", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* Room for the body and the NUL the reader relies on. */
	if (ftruncate(fd, (off_t)(body_max + 1)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* Shared, so the bytes land in the file the reader maps. */
	map = mmap(NULL, body_max + 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		close(fd);
		return rc;
	}
	o->memfd = fd;
	o->map_len = body_max + 1;
	o->body = map;
	o->cap = body_max;
	return 0;
}

static char *
reserve(struct ipc_out *o, size_t n)
{
	char *p;

	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return NULL;
	}
	p = o->body + o->len;
	o->len += n;
	return p;
}

void
ipc_put_u32(struct ipc_out *o, uint32_t v)
{
	char *p = reserve(o, sizeof(v));

	if (p != NULL)
		memcpy(p, &v, sizeof(v));
}

void
ipc_put_u64(struct ipc_out *o, uint64_t v)
{
	char *p = reserve(o, sizeof(v));

	if (p != NULL)
		memcpy(p, &v, sizeof(v));
}

char *
ipc_put_str_space(struct ipc_out *o, size_t len)
{
	char *p;

	if (len > UINT32_MAX) {
		o->overflow = true;
		return NULL;
	}
	ipc_put_u32(o, (uint32_t)len);
	p = reserve(o, len + 1);
	if (p == NULL)
		return NULL;
	p[len] = '\0';
	return p;
}

void
ipc_put_str(struct ipc_out *o, const void *s, size_t len)
{
	char *p = ipc_put_str_space(o, len);

	if (p != NULL && len > 0)
		memcpy(p, s, len);
}

void
ipc_abandon(struct ipc_out *o)
{
	if (o->memfd >= 0) {
		munmap(o->body, o->map_len);
		close(o->memfd);
		o->memfd = -1;
	}
}

/* Unmap and seal a memfd body so the reader may map it safely. */
static int
seal_memfd(struct ipc_out *o)
{
	o->body[o->len] = '\0';
	munmap(o->body, o->map_len);
	o->body = NULL;
	/* F_SEAL_WRITE needs every writable mapping gone: done above. */
	return fcntl(o->memfd, F_ADD_SEALS, IPC_SEALS) < 0 ? -errno : 0;
}

int
ipc_send(int fd, struct ipc_out *o)
{
	union {
		char space[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct ipc_head head = { .type = o->type, .len = o->len };
	struct iovec iov[2] = { { .iov_base = &head, .iov_len = sizeof(head) } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;
	int rc = 0;

	if (o->overflow) {
		ipc_abandon(o);
		return -EMSGSIZE;
	}
	if (o->memfd < 0) {
		iov[1].iov_base = o->body;
		iov[1].iov_len = o->len;
		mh.msg_iovlen = 2;
	} else {
		rc = seal_memfd(o);
		if (rc < 0)
			goto out;
		head.flags = IPC_BODY_IN_MEMFD;
		mh.msg_control = ctl.space;
		mh.msg_controllen = sizeof(ctl.space);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &o->memfd, sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		rc = errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN
		     : errno == ECONNRESET || errno == EPIPE ? -EPIPE
		                                             : -errno;
out:
	if (o->memfd >= 0) {
		close(o->memfd);
		o->memfd = -1;
	}
	return rc;
}

const char *
ipc_failure_reason(const struct ipc_msg *msg)
{
	struct ipc_in in;
	const char *reason;

	ipc_in_init(&in, msg);
	(void)ipc_get_u32(&in); /* the -errno behind it */
	reason = ipc_get_str(&in, NULL);
	return reason != NULL ? reason : "(no reason given)";
}

void
ipc_in_init(struct ipc_in *in, const struct ipc_msg *msg)
{
	in->p = msg->body;
	in->left = msg->len;
	in->bad = msg->body == NULL;
}

static const char *
take(struct ipc_in *in, size_t n)
{
	const char *p;

	if (in->bad || n > in->left) {
		in->bad = true;
		return NULL;
	}
	p = in->p;
	in->p += n;
	in->left -= n;
	return p;
}

uint32_t
ipc_get_u32(struct ipc_in *in)
{
	const char *p = take(in, sizeof(uint32_t));
	uint32_t v = 0;

	if (p != NULL)
		memcpy(&v, p, sizeof(v));
	return v;
}

uint64_t
ipc_get_u64(struct ipc_in *in)
{
	const char *p = take(in, sizeof(uint64_t));
	uint64_t v = 0;

	if (p != NULL)
		memcpy(&v, p, sizeof(v));
	return v;
}

const char *
ipc_get_str(struct ipc_in *in, size_t *len_r)
{
	uint32_t len = ipc_get_u32(in);
	const char *p = take(in, (size_t)len + 1);

	if (p == NULL || p[len] != '\0') {
		in->bad = true;
		return NULL;
	}
	if (len_r != NULL)
		*len_r = len;
	return p;
}
