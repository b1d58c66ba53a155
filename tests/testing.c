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

/* The linker's bounds of the "testing_cases" section: every TEST() of the
 * program. Weak: a program without tests has no such section. */
extern const struct testing_case *const __start_testing_cases[] __attribute__((weak));
extern const struct testing_case *const __stop_testing_cases[] __attribute__((weak));

static int test_count;
static int failed_count;
static bool current_failed;
static bool finished;
static bool exit_hook_set;
static pid_t main_pid;
static bool *case_ran; /* parallel to the section, once a test ran */
static char tmpdir[4096];

static size_t
case_count(void)
{
	if (__start_testing_cases == NULL || __stop_testing_cases == NULL)
		return 0;
	return (size_t)(__stop_testing_cases - __start_testing_cases);
}

static void
at_exit(void)
{
	if (getpid() != main_pid)
		return; /* a forked child on its way out */
	if (!finished) {
		printf("Bail out! exited after %d test(s) without reaching testing_done()\n",
		       test_count);
		fflush(stdout);
	}
	if (tmpdir[0] != '\0')
		testing_remove_tree(tmpdir);
}

static void
set_exit_hook(void)
{
	if (exit_hook_set)
		return;
	exit_hook_set = true;
	main_pid = getpid();
	atexit(at_exit);
}

/* Note that the test named `name` (or with body `fn`) ran or was skipped. */
static void
mark_ran(const char *name, void (*fn)(void))
{
	size_t n = case_count();

	set_exit_hook();
	if (case_ran == NULL && n > 0)
		case_ran = calloc(n, sizeof(*case_ran));
	for (size_t i = 0; case_ran != NULL && i < n; i++)
		if ((fn != NULL && __start_testing_cases[i]->fn == fn) ||
		    strcmp(__start_testing_cases[i]->name, name) == 0)
			case_ran[i] = true;
}

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
	mark_ran(name, fn);
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
	mark_ran(name, NULL);
	test_count++;
	printf("ok %d - %s # SKIP %s\n", test_count, name, why);
	fflush(stdout);
}

int
testing_done(void)
{
	size_t n = case_count();

	set_exit_hook();
	for (size_t i = 0; i < n; i++) {
		if (case_ran != NULL && case_ran[i])
			continue;
		test_count++;
		failed_count++;
		printf("not ok %d - %s # declared with TEST() but never run\n", test_count,
		       __start_testing_cases[i]->name);
	}
	printf("1..%d\n", test_count);
	fflush(stdout);
	finished = true;
	free(case_ran);
	case_ran = NULL;
	return failed_count == 0 ? 0 : 1;
}

int
testing_skip_all(const char *why)
{
	set_exit_hook();
	printf("1..0 # SKIP %s\n", why);
	fflush(stdout);
	finished = true;
	return 0;
}

int
testing_bail_out(const char *fmt, ...)
{
	va_list ap;

	set_exit_hook();
	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	finished = true;
	return 1;
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

const char *
testing_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (tmpdir[0] != '\0')
		return tmpdir;
	set_exit_hook();
	snprintf(tmpdir, sizeof(tmpdir), "%s/tj-test-XXXXXX",
	         base != NULL && base[0] == '/' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		testing_fail(__FILE__, __LINE__, "mkdtemp %s: %s", tmpdir, strerror(errno));
		tmpdir[0] = '\0';
		return NULL;
	}
	return tmpdir;
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
