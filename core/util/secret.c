/* SPDX-License-Identifier: MIT */
/* Secret files: who may read them, and reading one-line secrets. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/secret.h"
#include "util/xalloc.h"

static void set_why(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* The verdict on a file's status, shared by path and descriptor checks. */
static int
judge(const char *what, const char *path, const struct stat *st, char *why, size_t len)
{
	if (!S_ISREG(st->st_mode)) {
		set_why(why, len, "%s %s is not a regular file", what, path);
		return -EINVAL;
	}
	if ((st->st_mode & (S_IRGRP | S_IROTH)) != 0) {
		set_why(why, len,
		        "%s %s is readable by %s (mode %04o): a secret must be readable by its "
		        "owner only (chmod 600 %s)",
		        what, path,
		        (st->st_mode & S_IRGRP) && (st->st_mode & S_IROTH) ? "group and others"
		        : (st->st_mode & S_IRGRP)                          ? "its group"
		                                                           : "others",
		        (unsigned)(st->st_mode & 07777), path);
		return -EPERM;
	}
	return 0;
}

int
secret_file_check(const char *what, const char *path, char *why, size_t why_len)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		int rc = -errno;

		set_why(why, why_len, "%s %s: %s", what, path, strerror(-rc));
		return rc;
	}
	return judge(what, path, &st, why, why_len);
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
secret_file_read(const char *what, const char *path, char **secret_r, size_t *len_r, char *why,
                 size_t why_len)
{
	char buf[SECRET_MAX_LEN + 1];
	size_t n = 0, start = 0;
	struct stat st;
	ssize_t got;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		set_why(why, why_len, "%s %s: %s", what, path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		set_why(why, why_len, "%s %s: %s", what, path, strerror(-rc));
		goto out;
	}
	rc = judge(what, path, &st, why, why_len);
	if (rc < 0)
		goto out;
	while (n < sizeof(buf) && (got = read(fd, buf + n, sizeof(buf) - n)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			set_why(why, why_len, "%s %s: %s", what, path, strerror(-rc));
			goto out;
		}
		n += (size_t)got;
	}
	if (n == sizeof(buf)) {
		rc = -EFBIG;
		set_why(why, why_len, "%s %s is longer than %d bytes", what, path, SECRET_MAX_LEN);
		goto out;
	}
	while (n > 0 && is_space(buf[n - 1]))
		n--;
	while (start < n && is_space(buf[start]))
		start++;
	if (start == n) {
		rc = -ENODATA;
		set_why(why, why_len, "%s %s is empty", what, path);
		goto out;
	}
	*secret_r = xstrndup(buf + start, n - start);
	*len_r = n - start;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}

void
secret_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}
