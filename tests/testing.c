/* SPDX-License-Identifier: MIT */
/* TAP output for the test harness in testing.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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

void
testing_let_segv_through(void)
{
	const char *asan = getenv("ASAN_OPTIONS");
	char opts[1024];

	snprintf(opts, sizeof(opts), "%s%shandle_segv=0", asan != NULL ? asan : "",
	         asan != NULL && asan[0] != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}
