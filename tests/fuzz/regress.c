/* SPDX-License-Identifier: MIT */
/*
 * main() for a fuzz target in `make check`: every file under
 * tests/fuzz/regress/NAME/ (inputs that once crashed or hung a target, kept
 * after the fix) and tests/fuzz/corpus/NAME/ (the seeds) goes through the
 * target's LLVMFuzzerTestOneInput once, built with the suite's compiler and
 * sanitizers, no libFuzzer needed. TAP, one test per file; a target that
 * finds a defect aborts, which fails the test. Files are found under
 * $top_srcdir (the build's environment), else the working directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUZZ_NAME
#error "FUZZ_NAME must name the target"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Defined by the targets that set up state once. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int tests;

/* The whole file, malloc'd (1 byte more, so an empty file is not NULL). */
static uint8_t *
slurp(const char *path, size_t *len_r)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	while (buf != NULL && off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n <= 0) {
			free(buf);
			buf = NULL;
			break;
		}
		off += (size_t)n;
	}
out:
	if (fd >= 0)
		close(fd);
	*len_r = off;
	return buf;
}

static int
not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Run every file of `dir`; how many, or -errno if it cannot be listed. */
static int
run_dir(const char *top, const char *dir)
{
	char path[4096];
	struct dirent **names;
	int n;

	snprintf(path, sizeof(path), "%s/tests/fuzz/%s/" FUZZ_NAME, top, dir);
	n = scandir(path, &names, not_hidden, alphasort);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		size_t len;
		uint8_t *data;

		snprintf(path, sizeof(path), "%s/tests/fuzz/%s/" FUZZ_NAME "/%s", top, dir,
		         names[i]->d_name);
		data = slurp(path, &len);
		if (data == NULL) {
			printf("not ok %d - %s/%s: cannot read %s\n", ++tests, dir,
			       names[i]->d_name, path);
		} else {
			/* Say which input before running it: a crash ends here. */
			printf("# %s/" FUZZ_NAME "/%s (%zu bytes)\n", dir, names[i]->d_name, len);
			fflush(stdout);
			LLVMFuzzerTestOneInput(data, len);
			printf("ok %d - %s/" FUZZ_NAME "/%s\n", ++tests, dir, names[i]->d_name);
		}
		free(data);
		free(names[i]);
	}
	free(names);
	return n;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	int seeds, regress;

	if (top == NULL || *top == '\0')
		top = ".";
	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	seeds = run_dir(top, "corpus");
	/* No regress/NAME/ yet: the target never failed. */
	regress = run_dir(top, "regress");
	if (seeds <= 0) {
		/* A target without seeds is a mistake, not a pass. */
		printf("not ok %d - corpus/" FUZZ_NAME ": no seeds under %s/tests/fuzz/corpus\n",
		       ++tests, top);
	}
	if (regress < 0 && regress != -ENOENT)
		printf("not ok %d - regress/" FUZZ_NAME ": %s\n", ++tests, strerror(-regress));
	printf("1..%d\n", tests);
	return 0;
}
