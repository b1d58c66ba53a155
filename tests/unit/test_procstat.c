/* SPDX-License-Identifier: MIT */
/* The process_* figures from /proc agree with what the process knows of
 * itself: descriptors it opens, CPU it burns, when it started. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "testing.h"
#include "util/procstat.h"

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(figures_match_the_process)
{
	struct proc_stats a, b;
	struct rlimit rl;
	volatile unsigned long sink = 0;
	double start;
	int fd;

	CHECK_INT(proc_stats_read(&a), 0);
	CHECK_TRUE(a.resident_bytes > 0);
	CHECK_TRUE(a.virtual_bytes >= a.resident_bytes);
	CHECK_TRUE(a.open_fds >= 3);
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &rl), 0);
	CHECK_INT(a.max_fds, rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur);
	/* Started a moment ago (the kernel counts in clock ticks). */
	CHECK_RANGE(a.start_time_seconds, (double)time(NULL) - 600, (double)time(NULL) + 1);

	/* One more descriptor is seen as one more. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK_TRUE(fd >= 0);
	CHECK_INT(proc_stats_read(&b), 0);
	CHECK_INT(b.open_fds, a.open_fds + 1);
	close(fd);

	/* 200 ms of CPU shows (the counter has 10 ms ticks). */
	start = cpu_now();
	while (cpu_now() - start < 0.2)
		sink += 1;
	CHECK_INT(proc_stats_read(&b), 0);
	CHECK_RANGE(b.cpu_seconds - a.cpu_seconds, 0.1, 60);
	CHECK_TRUE(b.start_time_seconds == a.start_time_seconds);
	(void)sink;
}

int
main(void)
{
	RUN(figures_match_the_process);
	return testing_done();
}
