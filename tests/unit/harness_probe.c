/* SPDX-License-Identifier: MIT */
/*
 * A TAP program that misbehaves on request, for test_harness.sh: the
 * harness (tests/testing.c) must make each misbehaviour fail the program.
 *   harness_probe all      runs every test: passes
 *   harness_probe forget   leaves one declared test unrun
 *   harness_probe exit     exit(0) in the middle of a test
 *   harness_probe return   returns 0 from main after the first test
 *   harness_probe fork     a forked child exit()s: no effect on the parent
 *   harness_probe skip     skips the program (nothing ran, status 0)
 *   harness_probe tmp      writes into testing_tmpdir(), prints its path
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testing.h"

static const char *mode = "all";

TEST(first)
{
	CHECK_TRUE(true);
}

TEST(second)
{
	if (strcmp(mode, "exit") == 0)
		exit(0);
	if (strcmp(mode, "fork") == 0) {
		pid_t pid = fork();

		if (pid == 0)
			exit(0);
		CHECK_TRUE(pid > 0 && waitpid(pid, NULL, 0) == pid);
	}
	if (strcmp(mode, "tmp") == 0) {
		const char *dir = testing_tmpdir();
		char path[4200];

		CHECK_TRUE(dir != NULL);
		if (dir == NULL)
			return;
		snprintf(path, sizeof(path), "%s/file", dir);
		CHECK_INT(testing_write_file(path, "x", 0600), 0);
		printf("# tmpdir %s\n", dir);
	}
}

TEST(third)
{
	CHECK_TRUE(true);
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		mode = argv[1];
	if (strcmp(mode, "skip") == 0)
		return testing_skip_all("asked to");
	RUN(first);
	if (strcmp(mode, "return") == 0)
		return 0;
	RUN(second);
	if (strcmp(mode, "forget") != 0)
		RUN(third);
	return testing_done();
}
