#!/bin/sh
# SPDX-License-Identifier: MIT
# taskjet side by side with a Go nats.go worker and a raw libnats Fetch
# loop, in one run on one local nats-server (127.0.0.1, free port, temp
# store, stopped by PID on exit). Scenarios (bench/README.md has the
# details):
#   tput   N tasks of each size x batch, drained by taskjet (fx_noop) with
#          the default prefetch and with -p, the Go worker (bench/goworker)
#          and raw_consume, on the same stream and durable: tasks/s, client
#          and server CPU per task, peak RSS
#   retry  every task retried once (10 ms backoff), then acked
#   dlq    every task failed: one dead letter per task
#   slow   a 1 ms handler at concurrency 1, 8, 64 against the ideal
#   big    a 1,000,000-task backlog: rate and RSS per 10 % of it
#   lat    publish-to-handled p50/p99 at RATE tasks/s, raw reference too
#   iso    isolation "process" against "thread": the no-op plugin, and a
#          1 ms handler at concurrency 8; the per-task cost of process mode
# Every scenario runs once per round, rounds are interleaved, the order of
# the consumers rotates; per-run lines first, then medians (min..max) and
# the issue-12 targets.
#
#   bench/run.sh [-s SCENARIOS] [-r ROUNDS] [-q] [-n TASKS] [-N BIG_TASKS]
#                [-b BATCHES] [-z SIZES] [-w CONSUMERS] [-C CONCURRENCY]
#                [-c SLOW_CONCURRENCIES] [-t SLOW_SECS] [-R RATE] [-d SECS]
#                [-i ISOLATION] [-p PREFETCH] [-o RECORDS]
#   make bench [BENCH_ARGS='-r 5']
#
# After a release build in _build (or BENCH_BUILDDIR=<build dir>).
set -eu

command_line="bench/run.sh $*"
all_scenarios="tput retry dlq slow big lat iso"
all_consumers="taskjet taskjet_p go raw"
scenarios= runs= n= big_n= batches= sizes= consumers= conc= slow_conc=
slow_secs= rate= secs= isolation= quick= records_out= prefetch=

usage() {
	cat >&2 <<EOF
usage: $0 [-s SCENARIOS] [-r ROUNDS] [-q] [-n TASKS] [-N BIG_TASKS]
          [-b BATCHES] [-z SIZES] [-w CONSUMERS] [-C CONCURRENCY]
          [-c SLOW_CONCURRENCIES] [-t SLOW_SECS] [-R RATE] [-d SECS]
          [-i ISOLATION] [-p PREFETCH] [-o RECORDS]
  -s  scenarios, comma-separated: $(echo $all_scenarios | tr ' ' ,) or all (all)
  -r  rounds (3; 1 with -q)            -q  quick: shorter defaults (smoke run)
  -n  tasks per run (200000; 20000)    -N  big backlog (1000000; 100000)
  -b  batches (100,500)                -z  payload sizes in bytes (128,1024)
  -w  consumers in tput: taskjet,taskjet_p,go,raw (all)
  -C  taskjet concurrency in tput, retry, dlq, big, lat, iso (1)
  -c  slow concurrencies (1,8,64)      -t  seconds per slow run at ideal (5; 1)
  -R  lat rate, tasks/s (2000)         -d  lat seconds (10; 2)
  -i  taskjet route isolation (thread)  -o  copy the per-run records (TSV) here
  -p  prefetch of tput's taskjet_p consumer (2000)
EOF
	exit 64
}
while getopts s:r:qn:N:b:z:w:C:c:t:R:d:i:p:o:h opt; do
	case $opt in
	s) scenarios=$OPTARG ;; r) runs=$OPTARG ;; q) quick=1 ;;
	n) n=$OPTARG ;; N) big_n=$OPTARG ;; b) batches=$OPTARG ;;
	z) sizes=$OPTARG ;; w) consumers=$OPTARG ;; C) conc=$OPTARG ;;
	c) slow_conc=$OPTARG ;; t) slow_secs=$OPTARG ;; R) rate=$OPTARG ;;
	d) secs=$OPTARG ;; i) isolation=$OPTARG ;; o) records_out=$OPTARG ;;
	p) prefetch=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
iso_given=${isolation:+1}
if [ -n "$quick" ]; then
	: "${runs:=1}" "${n:=20000}" "${big_n:=100000}" "${slow_secs:=1}" "${secs:=2}"
fi
: "${runs:=3}" "${n:=200000}" "${big_n:=1000000}" "${slow_secs:=5}" "${secs:=10}"
: "${scenarios:=all}" "${batches:=100,500}" "${sizes:=128,1024}" "${conc:=1}"
: "${consumers:=taskjet,taskjet_p,go,raw}" "${slow_conc:=1,8,64}" "${rate:=2000}"
: "${prefetch:=2000}"
: "${isolation:=thread}"

list() { echo "$1" | tr , ' '; }
[ "$scenarios" = all ] && scenarios=$all_scenarios
scenarios=$(echo $(list "$scenarios")) consumers=$(echo $(list "$consumers"))
for s in $scenarios; do
	case " $all_scenarios " in *" $s "*) ;; *) usage ;; esac
done
# Rounds run the scenarios in this order, whatever the order given.
picked=
for s in $all_scenarios; do
	case " $scenarios " in *" $s "*) picked="$picked $s" ;; esac
done
scenarios=$(echo $picked)
batches=$(list "$batches") sizes=$(list "$sizes") slow_conc=$(list "$slow_conc")
for v in "$runs" "$n" "$big_n" "$conc" "$slow_secs" "$rate" "$secs" "$prefetch" $batches \
	$sizes $slow_conc; do
	case $v in '' | *[!0-9]* | 0*) usage ;; esac
done
for c in $consumers; do
	case " $all_consumers " in *" $c "*) ;; *) usage ;; esac
done
case $isolation in '' | *[!a-z]*) usage ;; esac
# Bounds that keep every run finite.
[ "$runs" -le 20 ] && [ "$n" -le 10000000 ] && [ "$big_n" -le 10000000 ] &&
	[ "$secs" -le 600 ] && [ "$slow_secs" -le 600 ] && [ "$rate" -le 100000 ] &&
	[ "$conc" -le 256 ] && [ "$prefetch" -le 10000 ] || usage
for b in $batches; do [ "$b" -le 1000 ] || usage; done
for c in $slow_conc; do [ "$c" -le 256 ] || usage; done
for z in $sizes; do [ "$z" -le 1048576 ] || usage; done
want() { case " $scenarios " in *" $1 "*) return 0 ;; esac; return 1; }
has() { case " $consumers " in *" $1 "*) return 0 ;; esac; return 1; }
notes=
note() {
	echo "note: $*"
	notes="$notes
- $*"
}
die() {
	echo "run.sh: $*" >&2
	exit 1
}
# The single-cell scenarios use the largest batch and the first size.
main_batch=$(for b in $batches; do echo "$b"; done | sort -n | tail -1)
main_size=${sizes%% *}

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/lib.sh"
build=${BENCH_BUILDDIR:-$top/_build}
if [ -z "${BENCH_NO_BUILD:-}" ]; then
	make -s -C "$build" bench-programs >/dev/null
fi
server_bin=${NATS_SERVER:-/usr/sbin/nats-server}
taskjet="$build/taskjet"
tjbench="$build/bench/tjbench"
raw_consume="$build/bench/raw_consume"
goworker="$build/bench/goworker/goworker"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "taskjet bench: $command_line"
echo "machine: $(uname -srm), $(nproc) CPUs ($cpu), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "nats-server $("$server_bin" --version | sed 's/.*v//'), $("$taskjet" --version | head -1)$(
	[ -x "$goworker" ] && echo ", $(go version 2>/dev/null | cut -d' ' -f3) nats.go $(
		sed -n 's/^[[:space:]]*Version[[:space:]]*= "\(.*\)"/\1/p' \
			/usr/share/gocode/src/github.com/nats-io/nats.go/nats.go 2>/dev/null)")"
build_flags=$(sed -n 's/^\(CFLAGS\|SAN_CFLAGS\) = //p' "$build/Makefile" | tr '\n' ' ' | sed 's/ *$//')
echo "build: $build (CFLAGS $build_flags)"
echo
case $build_flags in *sanitize* | *-O0*)
	note "$build is a sanitizer or -O0 build: configure a release build (see bench/README.md) for figures" ;;
esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/taskjet-bench.XXXXXX")
server_pid= engine_pid= drain_pid= rawlat_pid=
cleanup() {
	status=$?
	set +e
	for pid in $drain_pid $rawlat_pid; do # they take their consumer along
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
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
trap 'exit 130' INT TERM HUP PIPE

if has go && [ ! -x "$goworker" ]; then
	note "no Go worker (needs golang-go and golang-github-nats-io-go-nats-dev, then make bench-programs): skipped"
	consumers=$(echo " $consumers " | sed 's/ go / /; s/^ //; s/ $//')
fi

# --- server: -p -1 picks a free port, the ports file tells us which.
mkdir -p "$tmp/plugins" "$tmp/state"
bench_nats_start "$tmp" || die "nats-server did not start"

# --- taskjet: plugins staged in one directory, one config per route.
cp "$build/tests/fixtures/plugins/.libs/fx_noop.so" \
	"$build/tests/fixtures/plugins/.libs/fx_behave.so" \
	"$build/bench/.libs/bench_latency.so" "$tmp/plugins/"
export TASKJET_PLUGIN_DIR="$tmp/plugins" TASKJET_STATE_DIR="$tmp/state"
unset NATS_URL TASKJET_BACKEND TASKJET_CONFIG 2>/dev/null || true

# Route isolation: written into the configs only if this build knows the
# key (it fails the config load otherwise).
cfg_isolation=
write_config() { # file name batch concurrency plugin plugin-config [route keys]
	stream=$(echo "TJ_$2" | tr '[:lower:]' '[:upper:]')
	iso_json=${cfg_isolation:+", \"isolation\": \"$cfg_isolation\""}
	cat >"$1" <<EOF
{
	"nats": {"url": "$url"},
	"log": {"level": "warning"},
	"http": {"listen": "127.0.0.1:0"},
	"shutdown_grace": "10s",
	"dlq": {"stream": "TJ_DEAD", "subject_prefix": "dead"},
	"streams": [{"name": "$stream", "subjects": ["tj.$2"], "storage": "file",
	             "retention": "workqueue"}],
	"routes": [{"name": "$2", "stream": "$stream", "subject": "tj.$2",
	            "plugin": "$5", "batch": $3, "concurrency": $4,
	            "ack_wait": "60s"${7:+, $7}$iso_json,
	            "config": $6}]
}
EOF
}
isolation_known() { # value: 0 if this build takes "isolation": value
	saved_isolation=$cfg_isolation
	cfg_isolation=$1
	write_config "$tmp/probe.json" probe 1 1 fx_noop '{}'
	cfg_isolation=$saved_isolation
	"$taskjet" check -c "$tmp/probe.json" >"$tmp/probe.out" 2>&1 && return 0
	grep -q 'isolation' "$tmp/probe.out" ||
		{ cat "$tmp/probe.out" >&2; die "taskjet check failed on $tmp/probe.json"; }
	return 1
}
if isolation_known "$isolation"; then
	cfg_isolation=$isolation
elif [ -n "$iso_given" ]; then
	sed 's/^/  /' "$tmp/probe.out" >&2
	die "this build does not take \"isolation\": \"$isolation\" (-i)"
else
	note "this build has no route key isolation: taskjet runs its only mode (in-process threads)"
fi
if want iso; then
	if [ -n "$cfg_isolation" ] && isolation_known process && isolation_known thread; then
		:
	else
		note "iso skipped: this build does not take \"isolation\": \"process\" and \"thread\""
		scenarios=$(echo $(echo " $scenarios " | sed 's/ iso / /'))
	fi
fi

# One route (stream TJ_<NAME>, subject tj.<name>, durable taskjet-<name>)
# per config, so each durable keeps one configuration.
configs=
add_config() { # name batch concurrency plugin plugin-config [route keys]
	write_config "$tmp/$1.json" "$@"
	configs="$configs $1"
}
if want tput || want big || want iso; then
	for b in $batches; do add_config "b$b" "$b" "$conc" fx_noop '{}'; done
fi
# taskjet_p: the same route and durable, a deeper look-ahead.
if want tput && has taskjet_p; then
	for b in $batches; do
		write_config "$tmp/b${b}_p.json" "b$b" "$b" "$conc" fx_noop '{}' "\"prefetch\": $prefetch"
	done
fi
want retry && add_config retry "$main_batch" "$conc" fx_behave '{"fail_first": 1}' \
	'"backoff": {"initial": "10ms", "max": "10ms", "jitter": 0}'
want dlq && add_config fail "$main_batch" "$conc" fx_behave \
	'{"verdict": "fail", "reason": "bench: every task fails"}'
if want slow; then
	for c in $slow_conc; do
		add_config "slow$c" "$main_batch" "$c" fx_behave '{"sleep_ms": 1}'
	done
fi
want lat && add_config lat "$main_batch" "$conc" bench_latency \
	"{\"out\": \"$tmp/latency.txt\", \"capacity\": $((rate * secs + 1000))}"
# iso: the no-op plugin on tput's durable, and a 1 ms handler at
# concurrency 8 on one of its own (created with the others below).
iso_slow_conc=8
want iso && add_config isoslow "$main_batch" "$iso_slow_conc" fx_behave '{"sleep_ms": 1}'
if want iso; then
	for m in process thread; do
		cfg_isolation=$m
		write_config "$tmp/iso_$m.json" "b$main_batch" "$main_batch" "$conc" fx_noop '{}'
		write_config "$tmp/isoslow_$m.json" isoslow "$main_batch" "$iso_slow_conc" fx_behave \
			'{"sleep_ms": 1}'
	done
	cfg_isolation=$isolation
fi

engine_start() { # config log
	"$taskjet" run -c "$1" --log-file "$2" &
	engine_pid=$!
}
engine_stop() { # sets stop_hwm: VmHWM in kB
	stop_hwm=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$engine_pid/status")
	kill -TERM "$engine_pid"
	wait "$engine_pid" || die "taskjet run exited with $?"
	engine_pid=
}
waitpull() { # name
	"$tjbench" waitpull -s "$url" -t "TJ_$(echo "$1" | tr '[:lower:]' '[:upper:]')" \
		-c "taskjet-$1" -T 30
}
# Topology first (streams, durables), so backlogs wait for the measured run.
for c in $configs; do
	engine_start "$tmp/$c.json" "$tmp/$c.log"
	waitpull "$c" || { cat "$tmp/$c.log" >&2; die "taskjet run -c $c.json did not pull"; }
	engine_stop
done

# --- one consume run: publish the backlog, then tjbench drain starts the
# consumer and times it (see bench/tjbench.c). The consumer's output (and
# taskjet's log) goes to consumer.log, shown if the run fails. Sets r_rate
# r_cli r_srv r_hwm r_deliv r_start r_procs r_dlq.
consume() { # name tasks size [drain options] -- command...
	c_name=$1 c_n=$2 c_size=$3
	shift 3
	"$tjbench" backlog -s "$url" -S "tj.$c_name" -n "$c_n" -z "$c_size" >/dev/null
	: >"$tmp/consumer.log"
	"$tjbench" drain -s "$url" -t "TJ_$(echo "$c_name" | tr '[:lower:]' '[:upper:]')" \
		-c "taskjet-$c_name" -n "$c_n" -T $((120 + c_n / 1000)) -P "$server_pid" \
		-o "$tmp/consumer.log" "$@" >"$tmp/drain.txt" &
	drain_pid=$!
	if ! wait "$drain_pid"; then
		drain_pid=
		tail -20 "$tmp/consumer.log" >&2
		die "consume run failed: $*"
	fi
	drain_pid=
	set -- $(awk '$1 == "drained" {
		for (i = 2; i <= NF; i++) {
			if ($i == "msgs/s") r = $(i - 1)
			if ($i == "cli_us") c = $(i + 1)
			if ($i == "srv_us") s = $(i + 1)
			if ($i == "hwm_kb") h = $(i + 1)
			if ($i == "deliveries") d = $(i + 1)
			if ($i == "start_ms") m = $(i + 1)
			if ($i == "procs") p = $(i + 1)
			if ($i == "dlq") q = $(i + 1)
		}
		print r, c, s, h, d, m, p, (q == "" ? "-" : q) }' "$tmp/drain.txt")
	[ $# -eq 8 ] || die "no result from tjbench drain"
	r_rate=$1 r_cli=$2 r_srv=$3 r_hwm=$4 r_deliv=$5 r_start=$6 r_procs=$7 r_dlq=$8
}
consume_taskjet() { # name tasks size [drain options]: taskjet run -c name.json
	consume_config "$1" "$@"
}
consume_config() { # config name tasks size [drain options]
	c_config=$1
	shift
	set -- "$@" -- "$taskjet" run -c "$tmp/$c_config.json" --log-file "$tmp/consumer.log"
	consume "$@"
}
# Every run is one line of records.tsv:
#   scenario round cell consumer tasks/s cli_us srv_us hwm_kb start_ms extra
# (lat: p50 and p99 in the tasks/s and cli_us columns)
records="$tmp/records.tsv"
: >"$records"
record() { # scenario round cell consumer [extra]
	[ "$r_procs" -le 1 ] || set -- "$1" "$2" "$3" "$4" "${5:+$5, }$r_procs processes"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" \
		"$r_rate" "$r_cli" "$r_srv" "$r_hwm" "$r_start" "${5:--}" >>"$records"
	printf '  %-5s r%s %-11s %-9s %7s tasks/s  client %5s us  server %5s us  hwm %6s kB  start %4s ms%s\n' \
		"$1" "$2" "$3" "$4" "$r_rate" "$r_cli" "$r_srv" "$r_hwm" "$r_start" "${5:+  $5}"
}
check_deliveries() { # expected what
	[ "$r_deliv" = "$1" ] ||
		note "$2: the durable delivered $r_deliv messages, expected $1 (redeliveries?)"
}
rotate() { # list count: the list rotated left count times
	echo "$1" | awk -v k="$2" '{
		for (i = 0; i < NF; i++) printf "%s%s", i ? " " : "", $((i + k) % NF + 1)
		print "" }'
}

run_tput() { # round
	order=$(rotate "$consumers" $(($1 - 1)))
	for z in $sizes; do
		for b in $batches; do
			for who in $order; do
				case $who in
				taskjet) consume_taskjet "b$b" "$n" "$z" ;;
				taskjet_p) consume_config "b${b}_p" "b$b" "$n" "$z" ;;
				go) consume "b$b" "$n" "$z" -- "$goworker" -s "$url" \
					-stream "TJ_B$b" -durable "taskjet-b$b" -subject "tj.b$b" \
					-batch "$b" -T 600 ;;
				raw) consume "b$b" "$n" "$z" -- "$raw_consume" -s "$url" \
					-S "TJ_B$b" -D "taskjet-b$b" -b "$b" -X -T 600 ;;
				esac
				check_deliveries "$n" "tput ${z} B b$b $who round $1"
				record tput "$1" "${z}B b$b" "$who"
			done
		done
	done
}
run_retry() {
	consume_taskjet retry "$n" "$main_size"
	check_deliveries $((2 * n)) "retry round $1"
	record retry "$1" "${main_size}B b$main_batch" taskjet "deliveries $r_deliv"
}
run_dlq() {
	consume_taskjet fail "$n" "$main_size" -D TJ_DEAD
	check_deliveries "$n" "dlq round $1"
	[ "$r_dlq" = "$n" ] ||
		note "dlq round $1: $r_dlq dead letters written for $n failed tasks"
	record dlq "$1" "${main_size}B b$main_batch" taskjet "dead letters $r_dlq"
}
run_slow() {
	for c in $slow_conc; do
		k=$((c * 1000 * slow_secs))
		[ "$k" -le "$n" ] || k=$n
		consume_taskjet "slow$c" "$k" "$main_size"
		check_deliveries "$k" "slow c$c round $1"
		record slow "$1" "c$c" taskjet "$k tasks"
	done
}
run_big() {
	consume_taskjet "b$main_batch" "$big_n" "$main_size" -g 10
	check_deliveries "$big_n" "big round $1"
	record big "$1" "${main_size}B b$main_batch" taskjet "$big_n tasks"
	awk -v r="$1" '$1 == "progress" {
		sub(/%/, "", $2); printf "%s\t%s\t%s\t%s\t%s\n", r, $2, $5, $7, $10 }' \
		"$tmp/drain.txt" >>"$tmp/big_series.tsv"
	echo "        per 10 %: tasks/s $(awk '$1 == "progress" { printf " %s", $7 }' "$tmp/drain.txt")"
	echo "        per 10 %: RSS kB  $(awk '$1 == "progress" { printf " %s", $10 }' "$tmp/drain.txt")"
}
run_lat() {
	rm -f "$tmp/latency.txt"
	engine_start "$tmp/lat.json" "$tmp/lat.log"
	waitpull lat
	"$tjbench" paced -s "$url" -S tj.lat -r "$rate" -d "$secs" -z "$main_size" >/dev/null
	"$tjbench" drain -s "$url" -t TJ_LAT -c taskjet-lat -n $((rate * secs)) -T 60 >/dev/null
	engine_stop
	l=$(cat "$tmp/latency.txt")
	p50=$(echo "$l" | sed -n 's/.* p50_us \([0-9]*\).*/\1/p')
	p99=$(echo "$l" | sed -n 's/.* p99_us \([0-9]*\).*/\1/p')
	printf 'lat\t%s\ttaskjet\ttaskjet\t%s\t%s\t-\t%s\t-\t%s\n' "$1" "$p50" "$p99" "$stop_hwm" "$l" \
		>>"$records"
	echo "  lat   r$1 taskjet run: $l"
	# The raw reference: the same durable, wiring and batch, no engine.
	"$tjbench" rawlat -s "$url" -t TJ_LAT -c taskjet-lat -n $((rate * secs)) \
		-b "$main_batch" -T 60 >"$tmp/rawlat.txt" &
	rawlat_pid=$!
	waitpull lat
	"$tjbench" paced -s "$url" -S tj.lat -r "$rate" -d "$secs" -z "$main_size" >/dev/null
	wait "$rawlat_pid" || die "tjbench rawlat failed"
	rawlat_pid=
	l=$(cat "$tmp/rawlat.txt")
	p50=$(echo "$l" | sed -n 's/.* p50_us \([0-9]*\).*/\1/p')
	p99=$(echo "$l" | sed -n 's/.* p99_us \([0-9]*\).*/\1/p')
	printf 'lat\t%s\traw\traw\t%s\t%s\t-\t-\t-\t%s\n' "$1" "$p50" "$p99" "$l" >>"$records"
	echo "  lat   r$1 raw libnats: $l"
}
run_iso() {
	k=$((iso_slow_conc * 1000 * slow_secs))
	[ "$k" -le "$n" ] || k=$n
	for m in $(rotate "process thread" $(($1 - 1))); do
		consume_config "iso_$m" "b$main_batch" "$n" "$main_size"
		check_deliveries "$n" "iso $m round $1"
		record iso "$1" "noop c$conc" "$m"
		consume_config "isoslow_$m" isoslow "$k" "$main_size"
		check_deliveries "$k" "iso 1 ms c$iso_slow_conc $m round $1"
		record iso "$1" "1ms c$iso_slow_conc" "$m" "$k tasks"
	done
}

echo "scenarios: $scenarios; $runs round(s); $n tasks per run; batches $batches;" \
	"sizes $sizes B; taskjet concurrency $conc, taskjet_p prefetch $prefetch${cfg_isolation:+, isolation $cfg_isolation}"
: >"$tmp/big_series.tsv"
for round in $(seq 1 "$runs"); do
	echo "round $round"
	for s in $scenarios; do "run_$s" "$round"; done
done

# --- results
# values of a column (5 tasks/s, 6 cli_us, 7 srv_us, 8 hwm_kb) for a
# scenario, cell and consumer, one per line in round order
vals() { awk -F '\t' -v s="$1" -v c="$2" -v w="$3" -v f="$4" \
	'$1 == s && $3 == c && $4 == w && $f != "-" { print $f }' "$records"; }
# median (min..max) of the numbers on stdin, DECIMALS after the point
stats() { sort -g | awk -v d="${1:-0}" 'NF { v[++n] = $1 } END {
	if (n == 0) { print "n/a"; exit }
	m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	if (n == 1) { printf "%.*f", d, m; exit }
	printf "%.*f (%.*f..%.*f)", d, m, d, v[1], d, v[n] }'; }
median() { stats "${1:-6}" | cut -d' ' -f1; }
# per-round ratio of tasks/s between two consumers of the same cell, in
# round order
ratios() { # scenario cell consumer-a consumer-b
	awk -F '\t' -v s="$1" -v c="$2" -v a="$3" -v b="$4" '
		$1 == s && $3 == c && $4 == a { x[$2] = $5 }
		$1 == s && $3 == c && $4 == b { y[$2] = $5 }
		END { for (r in x) if (r in y && y[r] > 0) print r, x[r] / y[r] }' "$records" |
		sort -n | cut -d' ' -f2
}
per_round() { tr '\n' ' ' | sed 's/ $//'; }
label() { # consumer: its name in the tables
	case $1 in taskjet_p) echo "taskjet, prefetch $prefetch" ;; *) echo "$1" ;; esac
}
# tasks/s | client us | server us | peak RSS of a scenario, cell, consumer
columns() {
	echo "$(vals "$1" "$2" "$3" 5 | stats) | $(vals "$1" "$2" "$3" 6 | stats 2) |" \
		"$(vals "$1" "$2" "$3" 7 | stats 2) | $(vals "$1" "$2" "$3" 8 | stats)"
}
summary() { # scenario [note]: one line for a single-cell taskjet scenario
	set -- "$1" "${2:-}" "${main_size}B b$main_batch"
	echo "taskjet, $n x $main_size B, batch $main_batch: $(vals "$1" "$3" taskjet 5 | stats)" \
		"tasks/s$2; client $(vals "$1" "$3" taskjet 6 | stats 2) us/task, server" \
		"$(vals "$1" "$3" taskjet 7 | stats 2) us/task"
}
targets=
target() { # what value goal met
	targets="$targets
| $1 | $2 | $3 | $4 |"
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a != "n/a" && a + 0 >= b + 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a != "n/a" && a + 0 <= b + 0) }'; }
within() { ge "$1" "$2" && le "$1" "$3"; }
met() { if "$@"; then echo yes; else echo no; fi; }

echo
echo "== results: median (min..max) of $runs round(s); CPU in us per task"
if want tput; then
	echo
	echo "### throughput, $n tasks per run"
	echo
	echo "| size | batch | consumer | tasks/s | client us/task | server us/task | peak RSS kB |"
	echo "|---:|---:|---|---:|---:|---:|---:|"
	for z in $sizes; do
		for b in $batches; do
			for who in $consumers; do
				echo "| $z | $b | $(label "$who") | $(columns tput "${z}B b$b" "$who") |"
			done
		done
	done
	{ has taskjet || has taskjet_p; } && { has go || has raw; } && {
		echo
		echo "| size | batch | ratio | median (min..max) of per-round ratios | per round |"
		echo "|---:|---:|---|---:|---|"
	}
	for z in $sizes; do
		for b in $batches; do
			for tj in taskjet taskjet_p; do
				for peer in go raw; do
					has "$tj" && has "$peer" || continue
					rs=$(ratios tput "${z}B b$b" "$tj" "$peer")
					rt=$(echo "$rs" | stats 2)
					echo "| $z | $b | $(label "$tj") / $peer | $rt | $(echo "$rs" | awk '{ printf "%.2f\n", $1 }' | per_round) |"
					if [ "$peer" = go ]; then
						target "$(label "$tj") / Go worker, ${z} B batch $b" "$rt" \
							">= 1.0 (aim 1.3)" "$(met ge "${rt%% *}" 1.0)"
					else
						target "$(label "$tj") / raw libnats Fetch loop, ${z} B batch $b" "$rt" \
							">= 1.0" "$(met ge "${rt%% *}" 1.0)"
					fi
				done
			done
		done
	done
	for tj in taskjet taskjet_p; do
		has "$tj" || continue
		for z in $sizes; do
			for b in $batches; do
				c=$(vals tput "${z}B b$b" "$tj" 6 | stats 2)
				target "$(label "$tj") client CPU per task, ${z} B batch $b" "$c us" "<= 3 us" \
					"$(met le "${c%% *}" 3)"
			done
		done
	done
fi
if want retry; then
	echo
	echo "### retry path: every task retried once (10 ms backoff), then acked"
	summary retry " (2 handler calls each)"
	r=$(vals retry "${main_size}B b$main_batch" taskjet 5 | stats)
	target "retry path, tasks/s" "$r" ">= 20,000" "$(met ge "${r%% *}" 20000)"
fi
if want dlq; then
	echo
	echo "### dead-letter path: every task failed, one dead letter each"
	summary dlq
fi
noop_rate=
if want tput; then
	noop_rate=$(vals tput "${main_size}B b$main_batch" taskjet 5 | median 0)
	[ "$noop_rate" = n/a ] && noop_rate=
fi
if want slow; then
	echo
	echo "### 1 ms handler (fx_behave sleep_ms 1), batch $main_batch," \
		"ideal = concurrency x 1,000 tasks/s${noop_rate:+, capped by the no-op rate $noop_rate}"
	echo
	echo "| concurrency | tasks per run | tasks/s | ideal | % of ideal (median (min..max)) |"
	echo "|---:|---:|---:|---:|---:|"
	for c in $slow_conc; do
		ideal=$((c * 1000))
		[ -n "$noop_rate" ] && [ "$noop_rate" -lt "$ideal" ] && ideal=$noop_rate
		k=$((c * 1000 * slow_secs))
		[ "$k" -le "$n" ] || k=$n
		pct=$(vals slow "c$c" taskjet 5 | awk -v i="$ideal" '{ print 100 * $1 / i }' | stats 1)
		echo "| $c | $k | $(vals slow "c$c" taskjet 5 | stats) | $ideal | $pct |"
		if [ "$c" = 64 ]; then
			target "1 ms handler, concurrency 64, % of ideal" "$pct %" ">= 80 %" \
				"$(met ge "${pct%% *}" 80)"
		fi
	done
fi
if want big; then
	echo
	echo "### $big_n-task backlog, $main_size B, batch $main_batch"
	echo
	echo "| round | progress | tasks/s since previous | taskjet RSS kB |"
	echo "|---:|---:|---:|---:|"
	awk -F '\t' '{ printf "| %s | %s %% | %s | %s |\n", $1, $2, $4, $5 }' "$tmp/big_series.tsv"
	echo
	r=$(vals big "${main_size}B b$main_batch" taskjet 5 | stats)
	echo "whole backlog: $r tasks/s; peak RSS $(vals big "${main_size}B b$main_batch" taskjet 8 | stats) kB"
	# flatness, per round: slowest and fastest tenth against the median
	# tenth (the first tenth includes the ramp-up), and RSS last - first
	awk -F '\t' '{ n[$1]++; v[$1, n[$1]] = $4; if (n[$1] == 1) f[$1] = $5; l[$1] = $5 }
		END { for (r in n) {
			m = n[r]; for (i = 1; i <= m; i++) s[i] = v[r, i]
			for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
				if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
			med = m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
			printf "round %s: tenths %.2f..%.2f of their median %.0f tasks/s; RSS %s -> %s kB (%+d)\n",
				r, s[1] / med, s[m] / med, med, f[r], l[r], l[r] - f[r] } }' \
		"$tmp/big_series.tsv" | sort
	if [ -n "$noop_rate" ]; then
		rs=$(awk -F '\t' -v c="${main_size}B b$main_batch" '
			$1 == "tput" && $3 == c && $4 == "taskjet" { x[$2] = $5 }
			$1 == "big" && $3 == c { y[$2] = $5 }
			END { for (r in y) if (r in x) print r, y[r] / x[r] }' "$records" |
			sort -n | cut -d' ' -f2)
		rt=$(echo "$rs" | stats 2)
		echo "$big_n-task rate / $n-task rate: $rt (per round: $(echo "$rs" |
			awk '{ printf "%.2f\n", $1 }' | per_round))"
		target "$big_n-task / $n-task throughput, taskjet" "$rt" "0.90..1.10" \
			"$(met within "${rt%% *}" 0.9 1.1)"
	else
		note "big: no tput taskjet figure at ${main_size} B batch $main_batch to compare with (-s tput)"
	fi
fi
if want lat; then
	echo
	echo "### latency at $rate tasks/s x $secs s, publish to handled (us)"
	echo
	echo "| consumer | p50 | p99 |"
	echo "|---|---:|---:|"
	echo "| taskjet run | $(vals lat taskjet taskjet 5 | stats) | $(vals lat taskjet taskjet 6 | stats) |"
	echo "| raw libnats (tjbench rawlat) | $(vals lat raw raw 5 | stats) | $(vals lat raw raw 6 | stats) |"
	p=$(vals lat taskjet taskjet 6 | stats)
	target "p99 at $rate tasks/s (raw reference $(vals lat raw raw 6 | median 0) us)" "$p us" "<= 2,000 us" \
		"$(met le "${p%% *}" 2000)"
fi
if want iso; then
	echo
	echo "### isolation \"process\" against \"thread\", $main_size B, batch $main_batch"
	echo
	echo "no-op: fx_noop, $n tasks, concurrency $conc; 1 ms: fx_behave sleep_ms 1," \
		"concurrency $iso_slow_conc. Client CPU includes the worker processes."
	echo
	echo "| handler | isolation | tasks/s | client us/task | server us/task | peak RSS kB |"
	echo "|---|---|---:|---:|---:|---:|"
	for cell in "noop c$conc" "1ms c$iso_slow_conc"; do
		for m in thread process; do
			echo "| $cell | $m | $(columns iso "$cell" "$m") |"
		done
	done
	# The per-task cost of process mode, per round: wall time per task
	# (1/rate) and client CPU per task, process minus thread, no-op.
	cost=$(awk -F '\t' -v c="noop c$conc" '
		$1 == "iso" && $3 == c && $4 == "process" { p[$2] = $5; pc[$2] = $6 }
		$1 == "iso" && $3 == c && $4 == "thread" { t[$2] = $5; tc[$2] = $6 }
		END { for (r in p) if (r in t && p[r] > 0 && t[r] > 0)
			print 1e6 / p[r] - 1e6 / t[r], pc[r] - tc[r] }' "$records")
	echo
	echo "per-task cost of process mode (no-op, concurrency $conc): wall" \
		"$(echo "$cost" | cut -d' ' -f1 | stats 2) us, CPU $(echo "$cost" | cut -d' ' -f2 | stats 2) us"
	for cell in "noop c$conc" "1ms c$iso_slow_conc"; do
		rs=$(ratios iso "$cell" process thread)
		rt=$(echo "$rs" | stats 2)
		echo "process / thread, $cell: $rt (per round: $(echo "$rs" |
			awk '{ printf "%.2f\n", $1 }' | per_round))"
		case $cell in
		noop*) target "process / thread, no-op, concurrency $conc" "$rt" ">= 0.5" \
			"$(met ge "${rt%% *}" 0.5)" ;;
		*) target "process / thread, 1 ms handler, concurrency $iso_slow_conc" "$rt" \
			">= 0.95" "$(met ge "${rt%% *}" 0.95)" ;;
		esac
	done
fi
# Peak RSS over every taskjet run of every scenario, the engine alone: a
# process-mode run's figure holds its workers too (see the iso table).
rss=$(awk -F '\t' '($4 ~ /^taskjet/ || ($1 == "iso" && $4 == "thread")) && $8 != "-" { print $8 }' \
	"$records" | sort -n | tail -1)
if [ -n "$rss" ]; then
	mib=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
	echo
	echo "taskjet peak RSS (VmHWM), max over all its runs: $rss kB ($mib MiB)"
	target "taskjet peak RSS, all runs" "$mib MiB" "<= 16 MiB" "$(met le "$mib" 16)"
fi
if [ -n "$targets" ]; then
	echo
	echo "### targets of issue 12 (isolation ${cfg_isolation:-none: this build has one mode}) and issue 9 (iso)"
	echo
	echo "| target | value | goal | met |"
	echo "|---|---:|---:|---|$targets"
fi
[ -z "$notes" ] || printf '\nnotes:%s\n' "$notes"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "$records_out" ] || cp "$records" "$records_out"
