/* SPDX-License-Identifier: MIT */
/* Crash-safe state files: mkdir -p, bounded reads, atomic replace, locks. */
#ifndef TASKJET_PLUGINS_PFS_H
#define TASKJET_PLUGINS_PFS_H

#include <stddef.h>
#include <sys/types.h>

/* The largest state file we read back (records and context documents). */
#define PFS_MAX_FILE (16u * 1024u * 1024u)

/*
 * Create directory `path` and any missing parents (mode 0755 before umask),
 * durably: the parent of each directory made is fsynced. 0, or -errno
 * (-ENOTDIR if a component exists and is not a directory). Thread-safe:
 * concurrent callers creating the same path both succeed.
 */
int pfs_mkdir_p(const char *path);

/*
 * Read a whole file of at most `max` bytes into a malloc'd buffer that the
 * caller frees; it is NUL-terminated (the NUL is not counted in *len_r).
 * -ENOENT if the file does not exist, -EFBIG if it is larger than `max`,
 * other -errno on I/O errors.
 */
int pfs_read(const char *path, size_t max, char **data_r, size_t *len_r);

/*
 * Replace `path` with `len` bytes of `data` so that a crash leaves either
 * the old or the new content, never a mix: write a temporary file in the
 * same directory, fsync it, rename it over `path`, fsync the directory.
 * The temporary file is removed on failure. 0 or -errno.
 */
int pfs_write_atomic(const char *path, const void *data, size_t len);

/*
 * Remove `path` durably (unlink, then fsync the directory). Removing a file
 * that does not exist succeeds. 0 or -errno.
 */
int pfs_remove(const char *path);

/*
 * Take an exclusive flock(2) on `lock_path` (created if missing; it is
 * never removed, because unlinking a lock file races with waiters). Blocks
 * until the lock is free. Works between threads (each call opens its own
 * file description) and between processes. The lock is released by
 * pfs_unlock(*fd_r). 0 or -errno.
 */
int pfs_lock(const char *lock_path, int *fd_r);
void pfs_unlock(int fd);

#endif
