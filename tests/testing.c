/* SPDX-License-Identifier: MIT */
/* TAP output for the test harness in testing.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testing.h"

static int test_count;
static int failed_count;
static bool current_failed;

void
testing_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	current_failed = true;
	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

bool
testing_failed(void)
{
	return current_failed;
}

void
testing_run(const char *name, void (*fn)(void))
{
	current_failed = false;
	fn();
	test_count++;
	if (current_failed)
		failed_count++;
	printf("%s %d - %s\n", current_failed ? "not ok" : "ok", test_count, name);
	fflush(stdout);
}

void
testing_skip(const char *name, const char *why)
{
	test_count++;
	printf("ok %d - %s # SKIP %s\n", test_count, name, why);
	fflush(stdout);
}

int
testing_done(void)
{
	printf("1..%d\n", test_count);
	return failed_count == 0 ? 0 : 1;
}

int
testing_write_file(const char *path, const char *text, unsigned mode)
{
	size_t n = strlen(text);
	int fd, rc = 0;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		rc = -EIO;
	if (fchmod(fd, (mode_t)mode) != 0 && rc == 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	remove(path);
	return 0;
}

void
testing_remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
testing_let_segv_through(void)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[1024];

	snprintf(opts, sizeof(opts), "%s%shandle_segv=0", asan != NULL ? asan : "",
	         asan != NULL && asan[0] != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}
