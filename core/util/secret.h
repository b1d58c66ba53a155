/* SPDX-License-Identifier: MIT */
/*
 * Secrets (passwords, tokens, private keys, credentials) come only from
 * files, and only from files no one but their owner can read: a file that
 * grants read permission to its group or to others is refused, naming the
 * file and its mode. Thread-safe; nothing here logs.
 */
#ifndef TASKJET_SECRET_H
#define TASKJET_SECRET_H

#include <stddef.h>

/* Longest secret secret_file_read() takes (a token, a password). */
#define SECRET_MAX_LEN 4096

/*
 * May `path` hold a secret? It must be a regular file (links followed)
 * whose mode grants no read permission to group or others. 0, or -errno
 * with `why` (may be NULL) a sentence starting with `what` (the config key,
 * "nats.password_file") and the path: -EPERM when the mode is too open
 * (the sentence gives the mode and the fix), -EINVAL when it is not a
 * regular file, else stat's error.
 */
int secret_file_check(const char *what, const char *path, char *why, size_t why_len);

/*
 * Read a one-line secret from `path` after secret_file_check() (checked on
 * the open file, so a swap in between cannot slip through): the content
 * without surrounding whitespace. On success *secret_r is a malloc'd NUL-
 * terminated copy of *len_r bytes, to be released with secret_free().
 * Errors as secret_file_check(), plus -ENODATA (empty), -EFBIG (longer than
 * SECRET_MAX_LEN) and read errors; `why` says which.
 */
int secret_file_read(const char *what, const char *path, char **secret_r, size_t *len_r, char *why,
                     size_t why_len);

/* Overwrite and free a secret from secret_file_read(). NULL is a no-op. */
void secret_free(char *secret);

#endif
