/* SPDX-License-Identifier: MIT */
/* The process_* figures, from /proc (see proc(5)). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/procstat.h"

/* Read a small /proc file whole into buf (NUL-terminated). 0 or -errno. */
static int
read_small(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "re");
	size_t n;

	if (fp == NULL)
		return -errno;
	n = fread(buf, 1, len - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return n > 0 ? 0 : -EIO;
}

/* When the system booted, in seconds since the epoch ("btime" of
 * /proc/stat). */
static int
boot_time(double *btime_r)
{
	char buf[8192], *p;
	int rc = read_small("/proc/stat", buf, sizeof(buf));

	if (rc < 0)
		return rc;
	p = strstr(buf, "\nbtime ");
	if (p == NULL)
		return -EIO;
	*btime_r = strtod(p + 7, NULL);
	return 0;
}

static int64_t
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int64_t n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	/* Less the one opendir() holds. */
	return n > 0 ? n - 1 : 0;
}

int
proc_stats_read(struct proc_stats *st)
{
	char buf[2048], *p;
	unsigned long long utime, stime, start, vsize;
	long long rss;
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	double btime = 0;
	struct rlimit rl;
	int rc;

	rc = read_small("/proc/self/stat", buf, sizeof(buf));
	if (rc < 0)
		return rc;
	/* The command name may hold spaces and parentheses: fields start
	 * after its last ')'. Then state (3) ... utime (14), stime (15),
	 * starttime (22), vsize (23), rss (24). */
	p = strrchr(buf, ')');
	if (p == NULL || ticks <= 0 || page <= 0 ||
	    sscanf(p + 1,
	           " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
	           "%*d %*d %llu %llu %lld",
	           &utime, &stime, &start, &vsize, &rss) != 5)
		return -EIO;
	rc = boot_time(&btime);
	if (rc < 0)
		return rc;
	st->cpu_seconds = (double)(utime + stime) / (double)ticks;
	st->start_time_seconds = btime + (double)start / (double)ticks;
	st->virtual_bytes = (int64_t)vsize;
	st->resident_bytes = (int64_t)rss * page;
	st->open_fds = count_fds();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		st->max_fds = (int64_t)rl.rlim_cur;
	else
		st->max_fds = -1;
	return 0;
}
