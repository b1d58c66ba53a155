/* SPDX-License-Identifier: MIT */
/* Crash-safe state files: mkdir -p, bounded reads, atomic replace, locks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pfs.h"

/* Split `path` into a malloc'd directory part ("." when there is none). */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static int
fsync_dir(const char *dir)
{
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int
pfs_mkdir_p(const char *path)
{
	struct stat st;
	char *copy;
	size_t len;
	int r = 0;

	len = strlen(path);
	if (len == 0)
		return -EINVAL;
	copy = strdup(path);
	if (copy == NULL)
		return -ENOMEM;
	/* Walk each '/' after the first character, then the full path. */
	for (size_t i = 1; i <= len; i++) {
		if (copy[i] != '/' && copy[i] != '\0')
			continue;
		if (copy[i - 1] == '/')
			continue; /* "a//b" */
		copy[i] = '\0';
		if (mkdir(copy, 0755) == 0) {
			/* A new directory lasts once its parent's entry does.
			 * A parent we may write but not read (mode 0333) cannot
			 * be opened to sync: that is no reason to fail. */
			char *parent = dir_of(copy);

			r = parent != NULL ? fsync_dir(parent) : -ENOMEM;
			free(parent);
			if (r == -EACCES)
				r = 0;
			if (r < 0)
				goto out;
		} else if (errno != EEXIST) {
			r = -errno;
			goto out;
		}
		if (i < len)
			copy[i] = '/';
	}
	if (stat(path, &st) < 0)
		r = -errno;
	else if (!S_ISDIR(st.st_mode))
		r = -ENOTDIR;
out:
	free(copy);
	return r;
}

int
pfs_read(const char *path, size_t max, char **data_r, size_t *len_r)
{
	char *data = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *p;

			if (cap > max + 1) {
				r = -EFBIG;
				goto out;
			}
			p = realloc(data, ncap + 1);
			if (p == NULL) {
				r = -ENOMEM;
				goto out;
			}
			data = p;
			cap = ncap;
		}
		n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = -EFBIG;
			goto out;
		}
	}
	if (data == NULL) {
		r = -ENOMEM; /* unreachable: the loop allocates first */
		goto out;
	}
	data[len] = '\0';
	*data_r = data;
	*len_r = len;
	data = NULL;
out:
	free(data);
	close(fd);
	return r;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
pfs_write_atomic(const char *path, const void *data, size_t len)
{
	const char *base;
	char *dir = NULL, *tmp = NULL;
	int fd = -1, r = 0;

	dir = dir_of(path);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	/* A dot file in the same directory, so rename(2) is atomic. */
	if (dir == NULL || asprintf(&tmp, "%s/.%s.tmp.XXXXXX", dir, base) < 0) {
		tmp = NULL;
		r = -ENOMEM;
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, 0644) < 0 || (r = write_all(fd, data, len)) < 0 || fsync(fd) < 0) {
		if (r == 0)
			r = -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out;
	}
	free(tmp);
	tmp = NULL;
	/* Make the rename itself durable. */
	r = fsync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	free(dir);
	return r;
}

int
pfs_remove(const char *path)
{
	char *dir;
	int r;

	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	dir = dir_of(path);
	if (dir == NULL)
		return -ENOMEM;
	r = fsync_dir(dir);
	free(dir);
	return r;
}

int
pfs_lock(const char *lock_path, int *fd_r)
{
	int fd;

	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		int err = errno;

		if (err == EINTR)
			continue;
		close(fd);
		return -err;
	}
	*fd_r = fd;
	return 0;
}

void
pfs_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the description drops the flock */
}
