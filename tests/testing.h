/* SPDX-License-Identifier: MIT */
/*
 * A small TAP test harness. Each TEST() is one counted test: it passes when
 * none of its CHECKs failed. Failed checks print both sides as TAP
 * diagnostics. Run them from main() with RUN(name) and end with
 * `return testing_done();`.
 *
 *   TEST(router_matches_star) { CHECK_TRUE(subject_matches("a.*", "a.b")); }
 *   int main(void) { RUN(router_matches_star); return testing_done(); }
 */
#ifndef TASKJET_TESTING_H
#define TASKJET_TESTING_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* One declared test. TEST() also puts a pointer to it in the section
 * "testing_cases", so testing_done() knows every test the program declares
 * and fails one that never ran (a RUN() forgotten or made unreachable). */
struct testing_case {
	const char *name;
	void (*fn)(void);
};

#define TEST(name)                                                                     \
	static void test_##name(void);                                                 \
	static const struct testing_case testing_case_##name = { #name, test_##name }; \
	static const struct testing_case *const testing_entry_##name                   \
	    __attribute__((used, section("testing_cases"))) = &testing_case_##name;    \
	static void test_##name(void)
#define RUN(name) testing_run(#name, test_##name)

void testing_run(const char *name, void (*fn)(void));
/* Skip one declared test with a reason (TAP "# SKIP"). Only for genuinely
 * optional environments; never for nats-server in CI. */
void testing_skip(const char *name, const char *why);
/*
 * Print the plan and return the exit status (0 if nothing failed). A test
 * declared with TEST() but neither run nor skipped is reported as a
 * failure here. A program that exits after its first RUN() without coming
 * here (an exit() in a test, a return from main) prints "Bail out!" on
 * its way out, so it fails however it exits.
 */
int testing_done(void);
/* Skip the whole program ("1..0 # SKIP why"): for a missing optional
 * environment, before any test ran. Returns 0, the exit status. */
int testing_skip_all(const char *why);
/* Give up ("Bail out! ..."): setup failed. Returns 1, the exit status. */
int testing_bail_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write `text` to `path` (created or truncated) and give it `mode`
 * exactly (umask aside). 0 or -errno. */
int testing_write_file(const char *path, const char *text, unsigned mode);
/* Remove `path` and everything below it (no links followed). */
void testing_remove_tree(const char *path);
/*
 * This program's own temporary directory ($TMPDIR, else /tmp), made on
 * first use and removed with everything in it when the program exits
 * (however main returns or exit() is called; not after a crash). NULL,
 * with a failed check recorded, if it cannot be made. Main thread.
 */
const char *testing_tmpdir(void);
/* Record a failed check (used by the macros). */
void testing_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True if the current test has failed so far (to stop early). */
bool testing_failed(void);
/* Under AddressSanitizer a SIGSEGV becomes an ASan report and exit status
 * 1; for tests of crashing worker processes, let the kernel's signal
 * through as in a release build (ASAN_OPTIONS handle_segv=0, inherited by
 * the processes the test starts). Call before starting any. */
void testing_let_segv_through(void);

#define CHECK_TRUE(cond)                                                              \
	do {                                                                          \
		if (!(cond))                                                          \
			testing_fail(__FILE__, __LINE__, "expected true: %s", #cond); \
	} while (0)
#define CHECK_FALSE(cond)                                                              \
	do {                                                                           \
		if (cond)                                                              \
			testing_fail(__FILE__, __LINE__, "expected false: %s", #cond); \
	} while (0)
#define CHECK_INT(actual, expected)                                                                \
	do {                                                                                       \
		long long a_ = (long long)(actual), e_ = (long long)(expected);                    \
		if (a_ != e_)                                                                      \
			testing_fail(__FILE__, __LINE__, "%s == %lld, expected %lld", #actual, a_, \
			             e_);                                                          \
	} while (0)
#define CHECK_STR(actual, expected)                                                                \
	do {                                                                                       \
		const char *a_ = (actual), *e_ = (expected);                                       \
		if (a_ == NULL || e_ == NULL ? a_ != e_ : strcmp(a_, e_) != 0)                     \
			testing_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #actual, \
			             a_ ? a_ : "(null)", e_ ? e_ : "(null)");                      \
	} while (0)
/* `haystack` contains `needle`. */
#define CHECK_CONTAINS(haystack, needle)                                                          \
	do {                                                                                      \
		const char *h_ = (haystack), *n_ = (needle);                                      \
		if (h_ == NULL || strstr(h_, n_) == NULL)                                         \
			testing_fail(__FILE__, __LINE__, "%s == \"%s\", lacks \"%s\"", #haystack, \
			             h_ ? h_ : "(null)", n_);                                     \
	} while (0)
#define CHECK_RANGE(actual, lo, hi)                                                                \
	do {                                                                                       \
		double a_ = (double)(actual), l_ = (double)(lo), h_ = (double)(hi);                \
		if (a_ < l_ || a_ > h_)                                                            \
			testing_fail(__FILE__, __LINE__, "%s == %g, expected %g..%g", #actual, a_, \
			             l_, h_);                                                      \
	} while (0)

#endif
