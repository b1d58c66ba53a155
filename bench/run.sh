#!/bin/sh
# SPDX-License-Identifier: MIT
# taskjet against the raw libnats ceiling, in one run on one local
# nats-server (127.0.0.1, free port, temp store, stopped by PID on exit):
#   1. raw_consume: Fetch(batch) + split ack over an N x Z B backlog;
#   2. taskjet run + fx_noop over the same backlog, same batch and wiring;
#   3. taskjet run + bench_latency at a paced RATE msgs/s for SECS s:
#      publish-to-handled p50/p99, and the same paced load on a raw libnats
#      consumer (tjbench rawlat) as the reference;
# and the taskjet process's peak RSS (VmHWM). Each throughput pair runs
# RUNS times, interleaved; medians are printed with min..max.
#
#   bench/run.sh [-n 200000] [-z 128] [-b 500] [-r 3] [-R 2000] [-d 10]
#   make bench [BENCH_ARGS='-r 5']
#
# After a build in _build (or BENCH_BUILDDIR=<build dir>).
set -eu

n=200000 size=128 batch=500 runs=3 rate=2000 secs=10
usage() {
	echo "usage: $0 [-n TASKS] [-z BYTES] [-b BATCH] [-r RUNS] [-R RATE] [-d SECS]" >&2
	exit 64
}
while getopts n:z:b:r:R:d:h opt; do
	case $opt in
	n) n=$OPTARG ;; z) size=$OPTARG ;; b) batch=$OPTARG ;; r) runs=$OPTARG ;;
	R) rate=$OPTARG ;; d) secs=$OPTARG ;; *) usage ;;
	esac
done
for v in "$n" "$size" "$batch" "$runs" "$rate" "$secs"; do
	case $v in '' | *[!0-9]*) usage ;; esac
done
[ "$runs" -ge 1 ] && [ "$runs" -le 20 ] && [ "$secs" -le 600 ] || usage

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILDDIR:-$top/_build}
if [ -z "${BENCH_NO_BUILD:-}" ]; then
	make -s -C "$build" bench-programs >/dev/null
fi
server_bin=${NATS_SERVER:-/usr/sbin/nats-server}
taskjet="$build/taskjet"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskjet-bench.XXXXXX")
server_pid= engine_pid=
cleanup() {
	status=$?
	set +e
	if [ -n "$engine_pid" ]; then
		kill -9 "$engine_pid" 2>/dev/null
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
trap 'exit 130' INT TERM

# --- server: -p -1 picks a free port, the ports file tells us which.
mkdir -p "$tmp/store" "$tmp/ports" "$tmp/plugins" "$tmp/state"
"$server_bin" -js -a 127.0.0.1 -p -1 -sd "$tmp/store" \
	--ports_file_dir "$tmp/ports" >"$tmp/server.log" 2>&1 &
server_pid=$!
url=
for _ in $(seq 1 100); do
	f=$(ls "$tmp/ports"/*.ports 2>/dev/null | head -1 || true)
	[ -n "$f" ] && url=$(sed -n 's/.*"nats":\["\(nats:\/\/[^"]*\)".*/\1/p' "$f")
	[ -n "$url" ] && break
	sleep 0.1
done
[ -n "$url" ] || { cat "$tmp/server.log" >&2; echo "nats-server did not start" >&2; exit 69; }

# --- taskjet: plugins staged in one directory, one config per phase.
cp "$build/tests/fixtures/plugins/.libs/fx_noop.so" \
	"$build/bench/.libs/bench_latency.so" "$tmp/plugins/"
export TASKJET_PLUGIN_DIR="$tmp/plugins" TASKJET_STATE_DIR="$tmp/state"
unset NATS_URL TASKJET_BACKEND 2>/dev/null || true

write_config() { # file stream subject plugin plugin-config
	cat >"$1" <<EOF
{
	"nats": {"url": "$url"},
	"log": {"level": "warning"},
	"shutdown_grace": "10s",
	"streams": [{"name": "$2", "subjects": ["$3"], "storage": "file",
	             "retention": "workqueue"}],
	"routes": [{"name": "bench", "stream": "$2", "subject": "$3",
	            "plugin": "$4", "batch": $batch, "ack_wait": "60s",
	            "config": $5}]
}
EOF
}
write_config "$tmp/noop.json" TJ_NOOP tj.noop fx_noop '{}'
write_config "$tmp/lat.json" TJ_LAT tj.lat bench_latency \
	"{\"out\": \"$tmp/latency.txt\", \"capacity\": $((rate * secs + 1000))}"

engine_start() { # config log
	"$taskjet" run -c "$1" --log-file "$2" &
	engine_pid=$!
}
engine_stop() { # prints VmHWM in kB
	hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$engine_pid/status")
	kill -TERM "$engine_pid"
	wait "$engine_pid" || { echo "taskjet run exited with $?" >&2; exit 1; }
	engine_pid=
	echo "$hwm"
}
waitpull() { # stream
	"$build/bench/tjbench" waitpull -s "$url" -t "$1" -c taskjet-bench -T 30
}
rate_of() { sed -n 's/.*: \([0-9]*\) msgs\/s$/\1/p' | tail -1; }
# median (min..max) of the numbers on stdin
stats() { sort -n | awk '{ v[NR] = $1 } END {
	if (NR == 0) { print "n/a"; exit }
	m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "%.0f (%.0f..%.0f)", m, v[1], v[NR] }'; }

# Topology first (streams, durables), so backlogs wait for the measured run.
for c in noop lat; do
	engine_start "$tmp/$c.json" "$tmp/$c.log"
	if [ $c = noop ]; then waitpull TJ_NOOP; else waitpull TJ_LAT; fi
	engine_stop >/dev/null
done

echo "taskjet bench: $n x $size B, batch $batch, split ack (Fetch on a SendAsap"
echo "connection, +ACK on a second buffered one), 1 worker, nats-server $("$server_bin" --version | sed 's/.*v//')"
: >"$tmp/raw.txt"
: >"$tmp/tj.txt"
: >"$tmp/rss.txt"
for i in $(seq 1 "$runs"); do
	r=$("$build/bench/raw_consume" -s "$url" -n "$n" -z "$size" -b "$batch" -X | rate_of)
	echo "$r" >>"$tmp/raw.txt"

	"$build/bench/tjbench" backlog -s "$url" -S tj.noop -n "$n" -z "$size" >/dev/null
	engine_start "$tmp/noop.json" "$tmp/noop.log"
	t=$("$build/bench/tjbench" drain -s "$url" -t TJ_NOOP -c taskjet-bench \
		-n "$n" -T 300 | rate_of)
	engine_stop >>"$tmp/rss.txt"
	echo "$t" >>"$tmp/tj.txt"
	echo "run $i: raw $r msgs/s, taskjet $t msgs/s"
done

lat_runs=$runs
: >"$tmp/p50.txt"
: >"$tmp/p99.txt"
for i in $(seq 1 "$lat_runs"); do
	rm -f "$tmp/latency.txt"
	engine_start "$tmp/lat.json" "$tmp/lat.log"
	waitpull TJ_LAT
	"$build/bench/tjbench" paced -s "$url" -S tj.lat -r "$rate" -d "$secs" \
		-z "$size" >/dev/null
	"$build/bench/tjbench" drain -s "$url" -t TJ_LAT -c taskjet-bench \
		-n $((rate * secs)) -T 60 >/dev/null
	engine_stop >>"$tmp/rss.txt"
	l=$(cat "$tmp/latency.txt")
	echo "latency run $i: $l"
	echo "$l" | sed -n 's/.* p50_us \([0-9]*\).*/\1/p' >>"$tmp/p50.txt"
	echo "$l" | sed -n 's/.* p99_us \([0-9]*\).*/\1/p' >>"$tmp/p99.txt"
done

# The raw reference for latency: the same durable, wiring and batch, no
# engine (tjbench rawlat stamps at receipt).
: >"$tmp/rp50.txt"
: >"$tmp/rp99.txt"
for i in $(seq 1 "$lat_runs"); do
	"$build/bench/tjbench" rawlat -s "$url" -t TJ_LAT -c taskjet-bench \
		-n $((rate * secs)) -b "$batch" -T 60 >"$tmp/rawlat.txt" &
	rl_pid=$!
	waitpull TJ_LAT
	"$build/bench/tjbench" paced -s "$url" -S tj.lat -r "$rate" -d "$secs" \
		-z "$size" >/dev/null
	wait "$rl_pid"
	l=$(cat "$tmp/rawlat.txt")
	echo "raw latency run $i: $l"
	echo "$l" | sed -n 's/.* p50_us \([0-9]*\).*/\1/p' >>"$tmp/rp50.txt"
	echo "$l" | sed -n 's/.* p99_us \([0-9]*\).*/\1/p' >>"$tmp/rp99.txt"
done

raw=$(stats <"$tmp/raw.txt")
tj=$(stats <"$tmp/tj.txt")
ratio=$(awk -v a="${tj%% *}" -v b="${raw%% *}" 'BEGIN { printf "%.2f", a / b }')
# per-run ratios: the runs are interleaved, so each pair shares conditions
pairs=$(paste "$tmp/tj.txt" "$tmp/raw.txt" | awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 / $2 }')
echo
echo "== results (median (min..max) of $runs runs)"
echo "raw libnats consume+ack:  $raw msgs/s"
echo "taskjet run (fx_noop):    $tj msgs/s"
echo "taskjet / raw:            $ratio (per run: $pairs)"
echo "latency at $rate msgs/s x ${secs} s, publish to handled:"
echo "  taskjet run: p50 $(stats <"$tmp/p50.txt") us, p99 $(stats <"$tmp/p99.txt") us"
echo "  raw libnats: p50 $(stats <"$tmp/rp50.txt") us, p99 $(stats <"$tmp/rp99.txt") us"
echo "taskjet peak RSS (VmHWM): $(sort -n "$tmp/rss.txt" | tail -1) kB max over all runs"
