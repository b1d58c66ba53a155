#!/bin/sh
# SPDX-License-Identifier: MIT
# Soak: `taskjet run` under mixed, paced load for N minutes, sampled every
# few seconds; at the end, says whether memory, descriptors, threads and
# throughput stayed flat, and exits 1 if one did not (2: the run itself
# failed). Not part of make check or CI: run it on a release build.
#
#   bench/soak.sh [-m MINUTES] [-i SECONDS] [-r RATE] [-t PERCENT] [-o TSV]
#
#   -m  minutes of load (10, at most 60) -i  seconds between samples (5)
#   -r  tasks published per second over all routes (300)
#   -t  tolerance, % of the first half, for memory and throughput (5)
#   -o  copy the samples (TSV) to this file
#
# One nats-server (127.0.0.1, a free port, a temporary store) and one
# `taskjet run` with four routes on one work-queue stream, fed by four
# paced publishers (bench/tjbench paced) for the whole run:
#   fast   60 % of RATE  fx_noop, concurrency 2, batch 64: acked at once
#   retry  15 %          fx_behave fail_first 1: retried once (50 ms), acked
#   dlq    10 %          fx_behave verdict fail: dead-lettered
#   slow   15 %          fx_behave sleep_ms 25, concurrency 8: held 25 ms
# Samples are taken at fixed times (every -i seconds from the start of the
# load) over the engine and its descendants (the handler worker processes
# of "isolation": "process"): each is a TSV row of seconds since the load
# began, whether every publisher was still running (load 1; the sample
# that sees the load end is kept in the file but not judged), the tree's
# RSS (kB), open descriptors, threads, processes and CPU % since the last
# sample, nats-server's RSS, tasks finished (acked + dead-lettered, from
# the engine's /metrics), the rate since the last sample, retries, dead
# letters, and the consumers' backlog (stored, not yet delivered) and ack
# pending (delivered, not yet acked), both as the server reports them.
#
# Flat means: leaving out the first 10 % (at least 30 s) as warm-up, the
# mean of the second half against the first, and the slope of a line
# through the second half projected over that half, both within
#   RSS        PERCENT % of the first half, at least 1 MiB (rises only)
#   fds        2        threads   2 (either way)
#   rate       PERCENT % of the first half (either way), and at least 90 %
#              of RATE
#   backlog    100 tasks or PERCENT % of a second's load, whichever larger
#              (rises only)
# The load is paced, so a flat rate means the engine kept up with it all
# along; a leak of about 20 bytes a task (at 300 tasks/s) exceeds the RSS
# allowance over the second half of a 10-minute run.
# After the load it waits (at most 60 s) for the engine to finish what is
# left, and checks against the server as well as the engine's counters:
# every task published was acked or dead-lettered exactly once (finished
# = published), nothing is stored or unacked on the consumers, and the
# dead-letter stream holds one letter per dead-lettered task; then it
# stops the engine with SIGTERM (exit 0 expected).
#
# The build: SOAK_BUILDDIR, else BENCH_BUILDDIR, else _build; it makes
# taskjet, taskjet-worker, bench/tjbench and the fixture plugins there
# unless SOAK_NO_BUILD is set; the engine runs that build's worker
# (TASKJET_WORKER is set to it). Configure a release build for figures, e.g.
#   mkdir _soak && cd _soak && ../configure CFLAGS='-O2 -g' && cd ..
#   SOAK_BUILDDIR=$PWD/_soak bench/soak.sh -m 10
set -eu

minutes=10 interval=5 rate=300 tol=5 tsv_out=
usage() {
	sed -n '/^#   bench\/soak.sh/,/^#   -o/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 64
}
while getopts m:i:r:t:o:h opt; do
	case $opt in
	m) minutes=$OPTARG ;; i) interval=$OPTARG ;; r) rate=$OPTARG ;;
	t) tol=$OPTARG ;; o) tsv_out=$OPTARG ;; *) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
for v in "$minutes" "$interval" "$rate" "$tol"; do
	case $v in '' | *[!0-9]* | 0*) usage ;; esac
done
# Bounds that keep the run finite and the machine usable (tjbench paced
# publishes for at most an hour).
[ "$minutes" -le 60 ] && [ "$interval" -le 60 ] && [ "$rate" -le 2000 ] &&
	[ "$tol" -le 100 ] || usage

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
build=${SOAK_BUILDDIR:-${BENCH_BUILDDIR:-$top/_build}}
fixtures="$build/tests/fixtures/plugins"
if [ -z "${SOAK_NO_BUILD:-}" ]; then
	make -s -C "$build" taskjet taskjet-worker bench/tjbench tests/fixtures/plugins/fx_noop.la \
		tests/fixtures/plugins/fx_behave.la >/dev/null
fi
server_bin=${NATS_SERVER:-/usr/sbin/nats-server}
taskjet="$build/taskjet"
# The handler worker of this build, not one an environment points at.
TASKJET_WORKER="$build/taskjet-worker"
export TASKJET_WORKER
tjbench="$build/bench/tjbench"
die() {
	echo "soak: $*" >&2
	exit 2
}
for f in "$server_bin" "$taskjet" "$TASKJET_WORKER" "$tjbench"; do [ -x "$f" ] || die "missing $f"; done
command -v curl >/dev/null || die "needs curl"
command -v ss >/dev/null || die "needs ss (iproute2)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskjet-soak.XXXXXX")
server_pid='' engine_pid='' pub_pids='' tree=''
cleanup() {
	status=$?
	set +e
	for pid in $pub_pids; do kill "$pid" 2>/dev/null; done
	for pid in $pub_pids; do wait "$pid" 2>/dev/null; done
	if [ -n "$engine_pid" ]; then
		# Its workers die with it (PR_SET_PDEATHSIG); the ones seen
		# last are stopped by PID too, in case.
		kill -9 "$engine_pid" $tree 2>/dev/null
		wait "$engine_pid" 2>/dev/null
	fi
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

build_flags=$(sed -n 's/^\(CFLAGS\|SAN_CFLAGS\) = //p' "$build/Makefile" | tr '\n' ' ' | sed 's/ *$//')
echo "taskjet soak: $minutes min, $rate tasks/s, a sample every $interval s, tolerance $tol %"
echo "machine: $(uname -srm), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "build: $build (CFLAGS $build_flags)"
case $build_flags in *sanitize* | *-O0*)
	echo "note: a sanitizer or -O0 build: configure a release build for figures" ;;
esac

# --- nats-server on a free port (-p -1; the ports file says which).
mkdir -p "$tmp/plugins" "$tmp/state"
bench_nats_start "$tmp" || die "nats-server did not start"

# --- taskjet: four routes on one work-queue stream.
dlq_stream=SOAK_DEAD
cp "$fixtures/.libs/fx_noop.so" "$fixtures/.libs/fx_behave.so" "$tmp/plugins/"
chmod go-w "$tmp/plugins" "$tmp/plugins"/*.so
cat >"$tmp/soak.json" <<EOF
{
	"nats": {"url": "$url"},
	"plugin_dir": "$tmp/plugins",
	"state_dir": "$tmp/state",
	"log": {"level": "error"},
	"http": {"listen": "127.0.0.1:0"},
	"shutdown_grace": "10s",
	"dlq": {"stream": "$dlq_stream", "subject_prefix": "soakdead",
	        "advisory_stream": "SOAK_ADVISORIES"},
	"streams": [{"name": "SOAK", "subjects": ["soak.>"]}],
	"routes": [
		{"name": "fast", "stream": "SOAK", "subject": "soak.fast", "plugin": "fx_noop",
		 "concurrency": 2, "batch": 64},
		{"name": "retry", "stream": "SOAK", "subject": "soak.retry",
		 "plugin": "fx_behave", "config": {"fail_first": 1},
		 "backoff": {"initial": "50ms", "max": "50ms", "jitter": 0}},
		{"name": "dlq", "stream": "SOAK", "subject": "soak.dlq", "plugin": "fx_behave",
		 "config": {"verdict": "fail", "reason": "soak: every task fails"}},
		{"name": "slow", "stream": "SOAK", "subject": "soak.slow", "plugin": "fx_behave",
		 "concurrency": 8, "config": {"sleep_ms": 25}}
	]
}
EOF
unset NATS_URL TASKJET_BACKEND TASKJET_PLUGIN_DIR TASKJET_STATE_DIR 2>/dev/null || true
"$taskjet" run -c "$tmp/soak.json" --log-file "$tmp/taskjet.log" &
engine_pid=$!
for r in fast retry dlq slow; do
	"$tjbench" waitpull -s "$url" -t SOAK -c "taskjet-$r" -T 30 >/dev/null ||
		{ cat "$tmp/taskjet.log" >&2; die "taskjet run did not pull for route $r"; }
done
port=
for _ in $(seq 1 50); do
	port=$(ss -Hltnp 2>/dev/null | awk -v p="pid=$engine_pid," \
		'index($0, p) { n = split($4, a, ":"); print a[n]; exit }')
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || die "taskjet run has no HTTP port"
# Prints "finished retried dead pending ack_pending dlq_depth" (the last
# three as the server reports them; dlq_depth -1 while unknown), or
# "- - - - - -" if the endpoint did not answer.
metrics() {
	body=$(curl -sf --max-time 5 "http://127.0.0.1:$port/metrics") ||
		{ echo "- - - - - -" && return 0; }
	echo "$body" | awk '
	/^taskjet_tasks_total\{/ && /outcome="(acked|dead_lettered)"/ { done += $NF }
	/^taskjet_tasks_total\{/ && /outcome="retried"/ { retried += $NF }
	/^taskjet_tasks_total\{/ && /outcome="dead_lettered"/ { dead += $NF }
	/^taskjet_consumer_pending\{/ { pending += $NF }
	/^taskjet_consumer_ack_pending\{/ { unacked += $NF }
	/^taskjet_dlq_depth / { depth = $NF; seen = 1 }
	END { printf "%d %d %d %d %d %d\n", done, retried, dead, pending, unacked, seen ? depth : -1 }'
}
[ "$(metrics)" != "- - - - - -" ] || die "GET /metrics failed on port $port"

# --- the load: one paced publisher per route, for the whole run.
secs=$((minutes * 60))
share() { # percent: that share of RATE, at least 1
	s=$((rate * $1 / 100))
	[ "$s" -ge 1 ] && echo "$s" || echo 1
}
published_rate=0
for spec in fast:60 retry:15 dlq:10 slow:15; do
	r=${spec%%:*} pr=$(share "${spec#*:}")
	published_rate=$((published_rate + pr))
	"$tjbench" paced -s "$url" -S "soak.$r" -r "$pr" -d "$secs" -z 128 \
		>"$tmp/pub-$r.out" 2>&1 &
	pub_pids="$pub_pids $!"
done
echo "load: $published_rate tasks/s (fast $(share 60), retry $(share 15), dlq $(share 10), slow $(share 15)) for $secs s on $url"
echo

# --- samples at fixed times until the publishers are done.
tsv="$tmp/samples.tsv"
printf 't_s\tload\trss_kb\tfds\tthreads\tprocs\tcpu_pct\tserver_rss_kb\tdone\trate\tretried\tdead\tpending\tack_pending\n' >"$tsv"
descendants() { # of $1, by /proc's parent links, breadth first
	todo=$1
	while [ -n "$todo" ]; do
		next=
		for p in $todo; do next="$next $(pgrep -P "$p" || true)"; done
		todo=$(echo $next)
		[ -z "$todo" ] || echo "$todo"
	done
}
# The tree (engine and descendants): "rss_kb fds threads procs cpu_ticks";
# a process that ends meanwhile is left out.
tree_usage() {
	for p in "$@"; do
		[ -r "/proc/$p/status" ] || continue
		fds=$(ls "/proc/$p/fd" 2>/dev/null | wc -l)
		{ cat "/proc/$p/status" "/proc/$p/stat" 2>/dev/null; echo "fds: $fds"; }
	done | awk '
	/^VmRSS:/ { rss += $2 } /^Threads:/ { thr += $2 } /^fds:/ { fds += $2; n++ }
	/^[0-9]+ \(/ { sub(/^.*\) /, ""); ticks += $12 + $13 }
	END { printf "%d %d %d %d %d\n", rss, fds, thr, n, ticks }'
}
now_ms() { date +%s%3N; }
hz=$(getconf CLK_TCK)
start=$(now_ms)
tree=$(descendants "$engine_pid")
set -- $(tree_usage "$engine_pid" $tree)
k=0 last_ms=$start last_done=0 last_ticks=$5
printf '%6s %4s %8s %4s %7s %5s %5s %8s %7s %7s\n' t_s load rss_kB fds threads procs cpu% \
	done/s backlog unacked
while :; do
	k=$((k + 1))
	wait_ms=$((start + k * interval * 1000 - $(now_ms)))
	[ "$wait_ms" -le 0 ] || sleep "$((wait_ms / 1000)).$(printf %03d $((wait_ms % 1000)))"
	load=1
	for pid in $pub_pids; do kill -0 "$pid" 2>/dev/null || load=0; done
	kill -0 "$engine_pid" 2>/dev/null || die "taskjet run exited during the soak"
	ms=$(now_ms)
	tree=$(descendants "$engine_pid")
	set -- $(tree_usage "$engine_pid" $tree)
	rss=$1 fds=$2 threads=$3 procs=$4 ticks=$5
	srv_rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$server_pid/status")
	set -- $(metrics)
	t=$(awk -v a="$ms" -v b="$start" 'BEGIN { printf "%.1f", (a - b) / 1000 }')
	[ "$1" != - ] || die "GET /metrics failed at $t s"
	dt=$((ms - last_ms))
	[ "$dt" -gt 0 ] || dt=1
	done_rate=$((($1 - last_done) * 1000 / dt))
	cpu=$(((ticks - last_ticks) * 100000 / hz / dt))
	[ "$cpu" -ge 0 ] || cpu=0 # a worker replaced meanwhile took its ticks along
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$load" "$rss" \
		"$fds" "$threads" "$procs" "$cpu" "$srv_rss" "$1" "$done_rate" "$2" "$3" "$4" "$5" >>"$tsv"
	printf '%6s %4s %8s %4s %7s %5s %5s %8s %7s %7s\n' "$t" "$load" "$rss" "$fds" "$threads" \
		"$procs" "$cpu" "$done_rate" "$4" "$5"
	last_ms=$ms last_done=$1 last_ticks=$ticks
	[ "$load" -eq 1 ] || break
	[ "$((ms - start))" -le $(((secs + 120) * 1000)) ] || die "the publishers did not finish"
done
pub_failed=0
for pid in $pub_pids; do wait "$pid" || pub_failed=1; done
pub_pids=
[ "$pub_failed" -eq 0 ] || { cat "$tmp"/pub-*.out >&2; die "a publisher failed"; }
published=$(awk '$1 == "paced" { n += $2 } END { print n + 0 }' "$tmp"/pub-*.out)

# --- nothing lost: every published task finishes once (bounded wait;
# the server's figures in /metrics are at most a second old).
for _ in $(seq 1 120); do
	set -- $(metrics)
	[ "$1" != - ] && [ "$1" -ge "$published" ] && [ "$4" -eq 0 ] && [ "$5" -eq 0 ] &&
		[ "$6" -eq "$3" ] && break
	sleep 0.5
done
set -- $(metrics)
[ "$1" != - ] || die "GET /metrics failed after the load"
finished=$1 retried=$2 dead=$3 pending=$4 unacked=$5 dlq_depth=$6
stop_hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$engine_pid/status")
kill -TERM "$engine_pid"
engine_status=0
wait "$engine_pid" || engine_status=$?
engine_pid=
errors=$(grep -c ' error ' "$tmp/taskjet.log" || true)
[ -n "$tsv_out" ] && cp "$tsv" "$tsv_out"

# --- verdicts.
echo
awk -F'\t' -v tol="$tol" -v rate="$published_rate" -v secs="$secs" '
NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
$col["load"] == 1 { n++; for (k in col) v[n, k] = $col[k] }
function mean(k, a, b,   s, i) { s = 0; for (i = a; i <= b; i++) s += v[i, k]; return s / (b - a + 1) }
function slope(k, a, b,   i, sx, sy, sxx, sxy, m, x) {
	m = b - a + 1; sx = sy = sxx = sxy = 0
	for (i = a; i <= b; i++) { x = v[i, "t_s"]; sx += x; sy += v[i, k]; sxx += x * x; sxy += x * v[i, k] }
	return (m * sxx - sx * sx) == 0 ? 0 : (m * sxy - sx * sy) / (m * sxx - sx * sx)
}
# growth: only a rise counts against it (memory, backlog); else either way.
function judge(k, name, allow, unit, growth,   m1, m2, sl, drift, ok) {
	m1 = mean(k, a1, b1); m2 = mean(k, a2, b2); sl = slope(k, a2, b2)
	drift = sl * (v[b2, "t_s"] - v[a2, "t_s"])
	ok = m2 - m1 <= allow && drift <= allow
	if (!growth) ok = ok && m1 - m2 <= allow && -drift <= allow
	if (k == "rate" && m2 < 0.9 * rate) ok = 0
	printf "%-8s %12.1f %12.1f %+9.1f %+12.2f/min %+10.1f %10.1f %s  %s\n", name, m1, m2, m2 - m1,
	    sl * 60, drift, allow, unit, ok ? "flat" : "NOT FLAT"
	if (!ok) bad++
}
END {
	warm = int(n / 10); if (warm < 1) warm = 1
	while (warm < n && v[warm + 1, "t_s"] < 30) warm++
	if (n - warm < 4) { print "too few samples after the warm-up (" n "): run longer"; exit 2 }
	a1 = warm + 1; b2 = n; b1 = int((a1 + b2) / 2); a2 = b1 + 1
	printf "samples %d (warm-up %d left out, %d s): first half %d..%d s, second %d..%d s\n",
	    n, warm, v[warm, "t_s"], v[a1, "t_s"], v[b1, "t_s"], v[a2, "t_s"], v[b2, "t_s"]
	printf "%-8s %12s %12s %9s %16s %10s %10s\n", "", "first half", "second half", "change",
	    "slope (2nd half)", "over it", "allowed"
	r = mean("rss_kb", a1, b1) * tol / 100; if (r < 1024) r = 1024
	judge("rss_kb", "RSS", r, "kB", 1)
	judge("fds", "fds", 2, "", 0)
	judge("threads", "threads", 2, "", 0)
	judge("rate", "rate", mean("rate", a1, b1) * tol / 100, "tasks/s", 0)
	p = rate * tol / 100; if (p < 100) p = 100
	judge("pending", "backlog", p, "tasks", 1)
	printf "engine CPU %.1f %% (first half) %.1f %% (second half); %d processes; nats-server RSS %d -> %d kB\n",
	    mean("cpu_pct", a1, b1), mean("cpu_pct", a2, b2), v[b2, "procs"], v[a1, "server_rss_kb"],
	    v[b2, "server_rss_kb"]
	exit bad > 0
}' "$tsv" && flat=0 || flat=$?
[ "$flat" -le 1 ] || exit 2
echo "published $published, finished $finished (acked or dead-lettered; $dead dead letters, $dlq_depth in $dlq_stream), retried $retried"
echo "left on the consumers: $pending stored, $unacked unacked"
echo "engine peak RSS $stop_hwm kB (the engine process); exit status after SIGTERM $engine_status; $errors error lines in its log"
lost=0
[ "$finished" -eq "$published" ] && [ "$pending" -eq 0 ] && [ "$unacked" -eq 0 ] &&
	[ "$dlq_depth" -eq "$dead" ] || lost=1
if [ "$lost" -ne 0 ]; then
	echo "NOT ALL ACCOUNTED FOR: $published published, $finished finished, $pending stored and $unacked unacked on the consumers, $dlq_depth dead letters for $dead"
fi
[ "$engine_status" -eq 0 ] || echo "taskjet run exited with $engine_status"
if [ "$flat" -eq 0 ] && [ "$lost" -eq 0 ] && [ "$engine_status" -eq 0 ]; then
	echo "soak: flat"
	exit 0
fi
echo "soak: FAILED"
exit 1
