/* SPDX-License-Identifier: MIT */
/*
 * What Linux says about this process, for the standard process_* metrics
 * every Prometheus client exports: CPU time, memory, descriptors and start
 * time, read from /proc/self and getrlimit(). Thread-safe (no state).
 */
#ifndef TASKJET_PROCSTAT_H
#define TASKJET_PROCSTAT_H

#include <stdint.h>

struct proc_stats {
	double cpu_seconds; /* user + system CPU time */
	double start_time_seconds; /* since the Unix epoch */
	int64_t resident_bytes; /* resident set size */
	int64_t virtual_bytes; /* virtual memory size */
	int64_t open_fds; /* descriptors open now */
	int64_t max_fds; /* RLIMIT_NOFILE's soft limit; -1: unlimited */
};

/*
 * Fill *st from /proc/self/stat, /proc/stat (boot time), /proc/self/fd and
 * the descriptor limit. 0, or -errno when /proc cannot be read (not
 * mounted, or not Linux); *st is then unspecified.
 */
int proc_stats_read(struct proc_stats *st);

#endif
