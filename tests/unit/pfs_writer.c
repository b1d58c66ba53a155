/* SPDX-License-Identifier: MIT */
/*
 * The plugins' state-file writes (plugins/common/pfs.c), for
 * test_pfs_durability.sh to run under the fsync_trace shim:
 *   pfs_writer DIR TRACE
 * makes DIR/a/b, writes DIR/a/b/record, replaces it, removes it, writing
 * "mark STEP" to TRACE after each step returns. Exit 0 if every call
 * succeeded.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pfs.h"

static const char *trace;

static void
mark(const char *step)
{
	int fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	char line[64];
	int n = snprintf(line, sizeof(line), "mark %s\n", step);

	if (fd >= 0) {
		if (write(fd, line, (size_t)n) != n)
			(void)0; /* the test reads the marks: it fails without them */
		close(fd);
	}
}

int
main(int argc, char **argv)
{
	char dir[4096], path[4200];
	int rc = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: pfs_writer DIR TRACE\n");
		return 2;
	}
	trace = argv[2];
	snprintf(dir, sizeof(dir), "%s/a/b", argv[1]);
	snprintf(path, sizeof(path), "%s/record", dir);
	if (pfs_mkdir_p(dir) != 0)
		rc = 1;
	mark("mkdir");
	if (pfs_write_atomic(path, "first\n", 6) != 0)
		rc = 1;
	mark("create");
	if (pfs_write_atomic(path, "second\n", 7) != 0)
		rc = 1;
	mark("replace");
	if (pfs_remove(path) != 0)
		rc = 1;
	mark("remove");
	return rc;
}
