#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per task of `taskjet run` (fx_noop plugin), counted by
# callgrind: the process drains a backlog of A tasks, then one of B, and
# (Ir(B) - Ir(A)) / (B - A) leaves out start-up and shutdown. The top
# functions by self cost are printed per task the same way. Counts are
# repeatable (not seconds), so runs of two builds compare on a busy box.
#
#   bench/callgrind.sh [-a 10000] [-b 30000] [-B 500] [-z 128]
#
# After a release build in _build (or BENCH_BUILDDIR=<build dir>); needs
# valgrind. To measure another build's engine (a before/after), point
# CG_TASKJET at its taskjet and CG_PLUGIN at its fx_noop.so. The route
# runs with "isolation": "thread" (issue 12's figures; CG_ISOLATION=process
# measures the other mode, CG_ISOLATION= leaves the key out for a build
# from before it existed). One nats-server on 127.0.0.1 (free port, temp
# store), stopped by PID on exit.
set -eu

a=10000 b=30000 batch=500 size=128
while getopts a:b:B:z:h opt; do
	case $opt in
	a) a=$OPTARG ;; b) b=$OPTARG ;; B) batch=$OPTARG ;; z) size=$OPTARG ;;
	*) echo "usage: $0 [-a TASKS] [-b TASKS] [-B BATCH] [-z BYTES]" >&2; exit 64 ;;
	esac
done
[ "$b" -gt "$a" ] || { echo "$0: -b must be larger than -a" >&2; exit 64; }
command -v valgrind >/dev/null || { echo "$0: needs valgrind" >&2; exit 69; }

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
build=${BENCH_BUILDDIR:-$top/_build}
make -s -C "$build" taskjet tests/fixtures/plugins/fx_noop.la bench/tjbench >/dev/null
server_bin=${NATS_SERVER:-/usr/sbin/nats-server}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskjet-cg.XXXXXX")
server_pid= engine_pid=
cleanup() {
	set +e
	[ -n "$engine_pid" ] && kill -9 "$engine_pid" 2>/dev/null
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$tmp/plugins" "$tmp/state"
bench_nats_start "$tmp" || { echo "nats-server did not start" >&2; exit 69; }
cp "${CG_PLUGIN:-$build/tests/fixtures/plugins/.libs/fx_noop.so}" "$tmp/plugins/fx_noop.so"
export TASKJET_PLUGIN_DIR="$tmp/plugins" TASKJET_STATE_DIR="$tmp/state"
isolation=${CG_ISOLATION-thread}
iso_json=${isolation:+", \"isolation\": \"$isolation\""}
cat >"$tmp/cfg.json" <<JSON
{
	"nats": {"url": "$url"}, "log": {"level": "warning"}, "http": {"listen": "off"},
	"streams": [{"name": "CG", "subjects": ["cg.t"], "retention": "workqueue"}],
	"routes": [{"name": "bench", "stream": "CG", "subject": "cg.t", "plugin": "fx_noop",
	            "batch": $batch, "ack_wait": "300s"$iso_json}]
}
JSON

# Topology first (stream, durable), so the backlogs wait for the runs.
"${CG_TASKJET:-$build/taskjet}" run -c "$tmp/cfg.json" >"$tmp/topology.log" 2>&1 &
engine_pid=$!
"$build/bench/tjbench" waitpull -s "$url" -t CG -c taskjet-bench -T 60 >/dev/null ||
	{ cat "$tmp/topology.log" >&2; echo "$0: taskjet run did not pull" >&2; exit 1; }
kill -TERM "$engine_pid"
wait "$engine_pid" || true
engine_pid=

run() { # tasks: drain a backlog of that many under callgrind
	"$build/bench/tjbench" backlog -s "$url" -S cg.t -n "$1" -z "$size" >/dev/null ||
		exit 1
	# tjbench starts the engine, waits for the drain, SIGTERMs it and
	# wants exit status 0.
	"$build/bench/tjbench" drain -s "$url" -t CG -c taskjet-bench -n "$1" -T 900 \
		-o "$tmp/run.$1.log" -- valgrind --tool=callgrind \
		--callgrind-out-file="$tmp/cg.$1" "${CG_TASKJET:-$build/taskjet}" run \
		-c "$tmp/cfg.json" >/dev/null ||
		{ cat "$tmp/run.$1.log" >&2; echo "$0: the run of $1 tasks failed" >&2; exit 1; }
}
run "$a"
run "$b"
total() { sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$1"; }
ta=$(total "$tmp/cg.$a")
tb=$(total "$tmp/cg.$b")
echo "taskjet run + fx_noop, batch $batch, $size B: $(( (tb - ta) / (b - a) )) instructions per task"
echo "  (Ir $ta for $a tasks, $tb for $b tasks)"
echo "self cost per task, top 15 (callgrind_annotate, B run minus A run):"
# "12,949,547 (19.73%)  file:function [/path/object]" -> "12949547 function(object)"
fn() { callgrind_annotate --auto=no --inclusive=no --threshold=100 "$1" 2>/dev/null |
	sed -n 's/^ *\([0-9,]*\) ([^)]*)  *[^ ]*:\([^ :]*\) \[\(.*\/\)\{0,1\}\([^]/]*\)\]$/\1 \2(\4)/p' |
	tr -d ','; }
fn "$tmp/cg.$a" >"$tmp/fa"
fn "$tmp/cg.$b" >"$tmp/fb"
awk -v n=$((b - a)) 'NR == FNR { a[$2] = $1; next }
	{ d = ($1 - a[$2]) / n; if (d > 0) printf "%8.0f  %s\n", d, $2 }' \
	"$tmp/fa" "$tmp/fb" | sort -rn | head -15
echo "per task by object (B run minus A run):"
awk -v n=$((b - a)) 'NR == FNR { a[$2] = $1; next }
	{ o = $2; sub(/^.*\(/, "", o); sub(/\)$/, "", o); d[o] += ($1 - a[$2]) / n }
	END { for (o in d) if (d[o] >= 1) printf "%8.0f  %s\n", d[o], o }' \
	"$tmp/fa" "$tmp/fb" | sort -rn
