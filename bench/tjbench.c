/* SPDX-License-Identifier: MIT */
/*
 * The load side of bench/run.sh: publish a backlog, time a consumer while
 * it drains a durable, or publish at a paced rate with a CLOCK_MONOTONIC
 * stamp in each payload.
 *
 *   tjbench backlog -s URL -S SUBJECT [-n 200000] [-z 128]
 *   tjbench drain   -s URL -t STREAM -c CONSUMER [-n N] [-T 120]
 *                   [-P SERVER_PID] [-g PERCENT] [-D DLQ_STREAM] [-o LOG]
 *                   [-- COMMAND ARG...]
 *   tjbench paced   -s URL -S SUBJECT [-r 2000] [-d 10] [-z 128]
 *   tjbench waitpull -s URL -t STREAM -c CONSUMER [-T 120]
 *   tjbench rawlat  -s URL -t STREAM -c CONSUMER -n N [-b 500] [-T 120]
 *
 * drain with a COMMAND is how every consume run is timed, whoever the
 * consumer is (taskjet run, raw_consume, goworker): it reads the durable's
 * delivered count, starts COMMAND (output to LOG, default stderr), polls
 * the consumer every POLL_US, and measures from the first poll that sees
 * a new delivery to the first that sees NumPending == 0 and
 * NumAckPending == 0, so the consumer's start-up is not counted. Over the
 * same window it reads the CPU time (user+sys, from the threads'
 * schedstat in /proc) of COMMAND and of SERVER_PID. Then it reads
 * COMMAND's VmHWM, sends it SIGTERM and requires exit status 0. It prints
 *   drained N in S s: R msgs/s cli_us C srv_us V hwm_kb H procs P
 *   deliveries E start_ms M
 * on one line, with " dlq D" at the end under -D. C and V are CPU
 * microseconds per task. C, H and K below cover COMMAND and its
 * descendants (P processes at the end; H sums their peaks). E counts
 * redeliveries too, M is the time from starting COMMAND to the first
 * delivery seen (not in S), D is what DLQ_STREAM gained. With -g, each
 * time another PERCENT of N is done, it also prints
 *   progress P% D at S s: R msgs/s rss_kb K
 * where R is the rate since the previous progress line and K the VmRSS.
 * A tjbench stopped by a signal takes COMMAND down with it.
 *
 * Without a COMMAND, drain waits for the same condition and prints the
 * time since the first poll that saw any delivery.
 *
 * rawlat is the raw reference for the latency figure: it binds to the
 * durable taskjet uses, with the same wiring (Fetch(batch) on a SendAsap
 * connection, +ACK on a second, buffered one), and reports the percentiles
 * of now - stamp at receipt for N paced messages.
 * waitpull returns once the consumer has a waiting pull request: the
 * consumer process is bound and fetching.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "bench_common.h"

#define POLL_US 5000
/* How long a consumer may take to stop after SIGTERM. */
#define STOP_TIMEOUT_S 30

static const char *url = "nats://127.0.0.1:4222";
static const char *subject, *stream, *consumer, *dlq_stream, *child_log;
static int total = 200000, size = 128, rate = 2000, seconds = 10;
static int timeout_s = 120, batch = 500, progress_pct;
static pid_t server_pid;
static char **child_argv; /* drain: the consumer to start, NULL-terminated */
static volatile sig_atomic_t interrupted;

/* Pacing against an absolute schedule, so a late send does not shift the
 * rest; the stamp is taken just before the publish call. */
static void
paced(jsCtx *js)
{
	char *payload = malloc((size_t)size + 32);
	int64_t n = (int64_t)rate * seconds, period = 1000000000 / rate;
	int64_t start = bench_now_ns() + 10000000;
	natsStatus s;

	memset(payload, 'x', (size_t)size + 32);
	for (int64_t i = 0; i < n; i++) {
		int64_t due = start + i * period;
		struct timespec ts = { due / 1000000000, due % 1000000000 };
		int len;

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		len = snprintf(payload, 32, "%020" PRId64, bench_now_ns());
		payload[len] = 'x';
		s = js_PublishAsync(js, subject, payload, size > len ? size : len, NULL);
		if (s != NATS_OK)
			bench_die("publish", s);
	}
	bench_publish_complete(js);
	printf("paced %" PRId64 " x %d B at %d msgs/s in %.2f s\n", n, size, rate,
	       (bench_now_ns() - start) / 1e9);
	free(payload);
}

/* Processes of a consumer's tree looked at, at most. */
#define MAX_TREE 256

/* ppid and the CPU time of reaped children (cutime+cstime, in ns) from
 * /proc/PID/stat; false if pid is gone. */
static bool
proc_stat(pid_t pid, pid_t *ppid_r, int64_t *children_ns_r)
{
	char path[64], line[1024];
	unsigned long long cut = 0, cst = 0;
	const char *p = NULL;
	int ppid = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return false;
	if (fgets(line, sizeof(line), fp) != NULL)
		p = strrchr(line, ')');
	fclose(fp);
	/* after "pid (comm)": state, ppid, fields 5..15, cutime, cstime */
	if (p == NULL || sscanf(p + 1,
	                        " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u"
	                        " %llu %llu",
	                        &ppid, &cut, &cst) != 3)
		return false;
	*ppid_r = (pid_t)ppid;
	*children_ns_r = (int64_t)(cut + cst) * (1000000000 / sysconf(_SC_CLK_TCK));
	return true;
}

/* root and its descendants (for a taskjet run with process isolation,
 * its handler processes); returns how many, root first, 0 if root is
 * gone. */
static int
proc_tree(pid_t root, pid_t *pids, int max)
{
	pid_t all[4096], parent[4096];
	int64_t ignored;
	int n_all = 0, n = 0;
	struct dirent *e;
	DIR *d = opendir("/proc");

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n_all < 4096) {
		char *end;
		long v = strtol(e->d_name, &end, 10);

		if (*end == '\0' && v > 0 && proc_stat((pid_t)v, &parent[n_all], &ignored))
			all[n_all++] = (pid_t)v;
	}
	closedir(d);
	pids[n++] = root;
	for (int i = 0; i < n; i++) /* breadth first: n grows as children are found */
		for (int j = 0; j < n_all && n < max; j++)
			if (parent[j] == pids[i])
				pids[n++] = all[j];
	return kill(root, 0) == 0 ? n : 0;
}

/* CPU time (user+sys) of one process in ns: the sum of its threads'
 * schedstat run times (ns resolution), plus its reaped children's. -1 if
 * it is gone. */
static int64_t
proc_cpu_ns(pid_t pid)
{
	char path[64];
	int64_t sum, children_ns;
	struct dirent *e;
	pid_t ppid;
	DIR *d;

	if (!proc_stat(pid, &ppid, &children_ns))
		return -1;
	sum = children_ns;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		long long run = 0;
		FILE *fp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/schedstat", (int)pid, e->d_name);
		fp = fopen(path, "r");
		if (fp == NULL)
			continue; /* the thread just exited */
		if (fscanf(fp, "%lld", &run) == 1)
			sum += run;
		fclose(fp);
	}
	closedir(d);
	return sum;
}

/* A "Vm...:" line of /proc/PID/status in kB, or -1. */
static long
proc_status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			kb = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(fp);
	return kb;
}

/* CPU ns of root's whole tree. */
static int64_t
tree_cpu_ns(pid_t root)
{
	pid_t pids[MAX_TREE];
	int n = proc_tree(root, pids, MAX_TREE);
	int64_t sum = 0;

	for (int i = 0; i < n; i++) {
		int64_t v = proc_cpu_ns(pids[i]);

		sum += v > 0 ? v : 0;
	}
	return sum;
}

/* A status value (VmRSS, VmHWM) summed over root's tree: for VmHWM an
 * upper bound of the tree's peak, as the peaks need not coincide. */
static long
tree_status_kb(pid_t root, const char *key, int *procs_r)
{
	pid_t pids[MAX_TREE];
	int n = proc_tree(root, pids, MAX_TREE);
	long sum = 0;

	for (int i = 0; i < n; i++) {
		long v = proc_status_kb(pids[i], key);

		sum += v > 0 ? v : 0;
	}
	if (procs_r != NULL)
		*procs_r = n;
	return sum;
}

static int64_t
stream_msgs(jsCtx *js, const char *name)
{
	jsStreamInfo *si = NULL;
	int64_t n = 0;

	if (js_GetStreamInfo(&si, js, name, NULL, NULL) == NATS_OK)
		n = (int64_t)si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return n;
}

static void
on_interrupt(int sig)
{
	interrupted = 1;
}

static pid_t
start_child(void)
{
	pid_t pid;

	signal(SIGTERM, on_interrupt);
	signal(SIGINT, on_interrupt);
	pid = fork();

	if (pid < 0) {
		perror("tjbench: fork");
		exit(1);
	}
	if (pid == 0) {
		int fd = child_log ? open(child_log, O_WRONLY | O_CREAT | O_APPEND, 0644) : 2;

		/* Whatever ends tjbench ends the consumer too. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
			perror("tjbench: consumer log");
			_exit(127);
		}
		execvp(child_argv[0], child_argv);
		perror(child_argv[0]);
		_exit(127);
	}
	return pid;
}

/* SIGTERM the consumer and reap it; 0 if it exited with status 0. */
static int
stop_child(pid_t pid)
{
	int64_t deadline = bench_now_ns() + (int64_t)STOP_TIMEOUT_S * 1000000000;
	int status = 0;
	pid_t r;

	kill(pid, SIGTERM);
	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && bench_now_ns() < deadline)
		usleep(10000);
	if (r == 0) {
		fprintf(stderr, "tjbench: %s did not stop in %d s: killed\n", child_argv[0],
		        STOP_TIMEOUT_S);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "tjbench: %s ended with status 0x%x\n", child_argv[0], status);
		return 1;
	}
	return 0;
}

static void
progress_line(int64_t done, int64_t t, int64_t *mark_done, int64_t *mark_t, int64_t first,
              pid_t child)
{
	int64_t step = (int64_t)total * progress_pct / 100;

	/* Every step, and the rest at the end; a rate needs time to pass. */
	if (step < 1 || t <= *mark_t ||
	    (done - *mark_done < step && (done < total || done == *mark_done)))
		return;
	printf("progress %d%% %" PRId64 " at %.3f s: %.0f msgs/s rss_kb %ld\n",
	       (int)(done * 100 / total), done, (t - first) / 1e9,
	       (done - *mark_done) / ((t - *mark_t) / 1e9), tree_status_kb(child, "VmRSS", NULL));
	fflush(stdout);
	*mark_done = done;
	*mark_t = t;
}

static int
drain(jsCtx *js)
{
	int64_t deadline = bench_now_ns() + (int64_t)timeout_s * 1000000000;
	int64_t first = 0, last = 0, mark_t = 0, mark_done = 0, cli0 = 0, srv0 = 0, dlq0 = 0;
	int64_t started = 0;
	uint64_t base = 0, delivered = 0;
	pid_t child = 0;
	bool drained = false;
	int status;

	if (child_argv != NULL) {
		jsConsumerInfo *ci = NULL;
		natsStatus s = js_GetConsumerInfo(&ci, js, stream, consumer, NULL, NULL);

		if (s != NATS_OK)
			bench_die("consumer info", s);
		base = ci->Delivered.Consumer;
		jsConsumerInfo_Destroy(ci);
		if (dlq_stream != NULL)
			dlq0 = stream_msgs(js, dlq_stream);
		started = bench_now_ns();
		child = start_child();
	}
	while (bench_now_ns() < deadline && !interrupted) {
		jsConsumerInfo *ci = NULL;
		natsStatus s;

		if (child != 0 && waitpid(child, &status, WNOHANG) == child) {
			fprintf(stderr, "tjbench: %s ended (status 0x%x) before %s/%s drained\n",
			        child_argv[0], status, stream, consumer);
			return 1;
		}
		s = js_GetConsumerInfo(&ci, js, stream, consumer, NULL, NULL);
		if (s == NATS_OK) {
			int64_t t = bench_now_ns();
			int64_t left = (int64_t)(ci->NumPending + (uint64_t)ci->NumAckPending);

			delivered = ci->Delivered.Consumer;
			jsConsumerInfo_Destroy(ci);
			if (first == 0 && delivered > base) {
				first = mark_t = t;
				cli0 = child ? tree_cpu_ns(child) : 0;
				srv0 = server_pid ? tree_cpu_ns(server_pid) : 0;
			}
			if (first != 0 && child != 0 && progress_pct > 0)
				progress_line(total - left, t, &mark_done, &mark_t, first, child);
			if (first != 0 && left == 0) {
				last = t;
				drained = true;
				break;
			}
		}
		usleep(POLL_US);
	}
	if (!drained) {
		fprintf(stderr, "tjbench: %s/%s not drained %s %d s (delivered %" PRIu64 ")\n",
		        stream, consumer, interrupted ? "(interrupted) within" : "in", timeout_s,
		        delivered - base);
		if (child != 0) {
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
		}
		return 1;
	}
	{
		double secs = (last - first) / 1e9;

		printf("drained %d in %.3f s: %.0f msgs/s", total, secs, total / secs);
		if (child != 0) {
			int64_t cli = tree_cpu_ns(child) - cli0;
			int64_t srv = server_pid ? tree_cpu_ns(server_pid) - srv0 : 0;
			int procs = 0;
			long hwm = tree_status_kb(child, "VmHWM", &procs);

			printf(" cli_us %.2f srv_us %.2f hwm_kb %ld procs %d deliveries %" PRIu64
			       " start_ms %.0f",
			       cli / 1e3 / total, server_pid ? srv / 1e3 / total : 0.0, hwm, procs,
			       delivered - base, (first - started) / 1e6);
			if (dlq_stream != NULL)
				printf(" dlq %" PRId64, stream_msgs(js, dlq_stream) - dlq0);
		}
		printf("\n");
		fflush(stdout);
	}
	return child != 0 ? stop_child(child) : 0;
}

static int
waitpull(jsCtx *js)
{
	int64_t deadline = bench_now_ns() + (int64_t)timeout_s * 1000000000;

	while (bench_now_ns() < deadline) {
		jsConsumerInfo *ci = NULL;

		if (js_GetConsumerInfo(&ci, js, stream, consumer, NULL, NULL) == NATS_OK) {
			bool pulling = ci->NumWaiting > 0;

			jsConsumerInfo_Destroy(ci);
			if (pulling)
				return 0;
		}
		usleep(POLL_US);
	}
	fprintf(stderr, "tjbench: nobody pulls from %s/%s after %d s\n", stream, consumer,
	        timeout_s);
	return 1;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int
rawlat(jsCtx *js)
{
	natsConnection *ack_nc = bench_connect(url, false);
	int64_t *lat = calloc((size_t)total, sizeof(*lat));
	int64_t deadline = bench_now_ns() + (int64_t)timeout_s * 1000000000;
	natsSubscription *sub = bench_pull_subscribe(js, stream, consumer);
	int got = 0;

	while (got < total && bench_now_ns() < deadline) {
		natsMsgList l = { 0 };

		if (natsSubscription_Fetch(&l, sub, batch, 1000, NULL) != NATS_OK)
			continue;
		for (int i = 0; i < l.Count; i++) {
			const char *p = natsMsg_GetData(l.Msgs[i]);
			int64_t t = bench_now_ns(), stamp = 0;
			int k;

			for (k = 0; k < 20 && p[k] >= '0' && p[k] <= '9'; k++)
				stamp = stamp * 10 + (p[k] - '0');
			if (k == 20 && got < total)
				lat[got++] = (t - stamp) / 1000;
			natsConnection_PublishString(ack_nc, natsMsg_GetReply(l.Msgs[i]), "+ACK");
		}
		natsMsgList_Destroy(&l);
	}
	natsConnection_Flush(ack_nc);
	bench_pull_close(sub);
	natsConnection_Destroy(ack_nc);
	if (got == 0) {
		fprintf(stderr, "tjbench: rawlat received nothing\n");
		free(lat);
		return 1;
	}
	qsort(lat, (size_t)got, sizeof(*lat), cmp_i64);
	printf("count %d p50_us %" PRId64 " p90_us %" PRId64 " p99_us %" PRId64 " p999_us %" PRId64
	       " max_us %" PRId64 "\n",
	       got, lat[(got - 1) / 2], lat[(int)((got - 1) * 0.9)], lat[(int)((got - 1) * 0.99)],
	       lat[(int)((got - 1) * 0.999)], lat[got - 1]);
	free(lat);
	return got == total ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	natsConnection *nc;
	jsCtx *js = NULL;
	int c, rc = 0;

	bench_prog = "tjbench";
	optind = 2;
	while ((c = getopt(argc, argv, "+s:S:t:c:n:z:r:d:T:b:P:g:D:o:")) != -1) {
		switch (c) {
		case 's':
			url = optarg;
			break;
		case 'S':
			subject = optarg;
			break;
		case 't':
			stream = optarg;
			break;
		case 'c':
			consumer = optarg;
			break;
		case 'n':
			total = atoi(optarg);
			break;
		case 'z':
			size = atoi(optarg);
			break;
		case 'r':
			rate = atoi(optarg);
			break;
		case 'd':
			seconds = atoi(optarg);
			break;
		case 'T':
			timeout_s = atoi(optarg);
			break;
		case 'b':
			batch = atoi(optarg);
			break;
		case 'P':
			server_pid = (pid_t)atoi(optarg);
			break;
		case 'g':
			progress_pct = atoi(optarg);
			break;
		case 'D':
			dlq_stream = optarg;
			break;
		case 'o':
			child_log = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (optind < argc) {
		if (strcmp(mode, "drain") != 0)
			goto usage;
		child_argv = argv + optind;
	}
	if (total < 1 || size < 1 || size > 1 << 20 || rate < 1 || rate > 1000000 || batch < 1 ||
	    seconds < 1 || seconds > 3600 || timeout_s < 1 || progress_pct < 0 ||
	    progress_pct > 100 || server_pid < 0)
		goto usage;
	if ((strcmp(mode, "backlog") == 0 || strcmp(mode, "paced") == 0) && subject == NULL)
		goto usage;
	if ((strcmp(mode, "drain") == 0 || strcmp(mode, "waitpull") == 0 ||
	     strcmp(mode, "rawlat") == 0) &&
	    (stream == NULL || consumer == NULL))
		goto usage;
	/* SendAsap for the paced publisher (the stamp should not wait for
	 * libnats' flusher) and for rawlat's pull requests. */
	nc = bench_connect(url, strcmp(mode, "paced") == 0 || strcmp(mode, "rawlat") == 0);
	js = bench_jetstream(nc);
	if (strcmp(mode, "backlog") == 0)
		bench_publish_backlog(js, subject, total, size);
	else if (strcmp(mode, "paced") == 0)
		paced(js);
	else if (strcmp(mode, "drain") == 0)
		rc = drain(js);
	else if (strcmp(mode, "waitpull") == 0)
		rc = waitpull(js);
	else if (strcmp(mode, "rawlat") == 0)
		rc = rawlat(js);
	else
		goto usage;
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	nats_CloseAndWait(2000);
	return rc;
usage:
	fprintf(stderr,
	        "usage: tjbench backlog -s URL -S SUBJECT [-n N] [-z BYTES]\n"
	        "       tjbench drain -s URL -t STREAM -c CONSUMER [-n N] [-T SECS]\n"
	        "                     [-P SERVER_PID] [-g PERCENT] [-D DLQ_STREAM] [-o LOG]\n"
	        "                     [-- COMMAND ARG...]\n"
	        "       tjbench paced -s URL -S SUBJECT [-r RATE] [-d SECS] [-z BYTES]\n"
	        "       tjbench waitpull -s URL -t STREAM -c CONSUMER [-T SECS]\n"
	        "       tjbench rawlat -s URL -t STREAM -c CONSUMER -n N [-b BATCH] [-T SECS]\n");
	return 2;
}
