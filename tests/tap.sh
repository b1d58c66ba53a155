# Shell helpers for TAP tests (sourced): counted ok / not ok lines and the
# usual checks on a command's exit status and output. The caller sets
# $tmp (a directory of its own); the last command's output is $tmp/out.
# End with tap_finish.
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$tmp/out"; }
# expect NAME STATUS COMMAND...: COMMAND (stdin /dev/null) exits STATUS.
expect() {
	name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>&1 </dev/null
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$name"; else echo "# exit $got, wanted $want"; not_ok "$name"; fi
}
# has / lacks NAME PATTERN: the last output matches the extended regex, or not.
has() {
	if grep -qE -- "$2" "$tmp/out"; then ok "$1"; else echo "# lacks: $2"; not_ok "$1"; fi
}
lacks() {
	if grep -qE -- "$2" "$tmp/out"; then echo "# has: $2"; not_ok "$1"; else ok "$1"; fi
}
# check NAME COMMAND...: COMMAND succeeds.
check() {
	name=$1; shift
	if "$@" >"$tmp/out" 2>&1; then ok "$name"; else not_ok "$name"; fi
}
# A test that needs nats-server fails in CI without one and skips
# elsewhere (exits either way when it is missing).
need_nats_server() {
	[ -x "$1" ] && return 0
	if [ -n "${CI:-}" ]; then
		echo "not ok 1 - nats-server not found at $1 (required in CI)"
		echo "1..1"
		exit 1
	fi
	echo "1..0 # SKIP nats-server not found at $1"
	exit 0
}
tap_finish() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}
# wait_log FILE PATTERN SECONDS [PID]: 0 once a line of FILE matches the
# grep PATTERN; 1 after SECONDS, or as soon as process PID (if given) has
# exited.
wait_log() {
	i=0
	while [ "$i" -lt $(($3 * 10)) ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		[ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# nats_server_start BIN DIR: a private nats-server with JetStream on a
# random loopback port, its store and log under DIR; sets $nats_url and
# $nats_pid (stop it with kill "$nats_pid"). 1 if it did not come up.
nats_server_start() {
	mkdir -p "$2/store" "$2/ports"
	"$1" -js -a 127.0.0.1 -p -1 -sd "$2/store" --ports_file_dir "$2/ports" -l "$2/server.log" &
	nats_pid=$!
	nats_url=
	for _ in $(seq 1 100); do
		f=$(ls "$2/ports"/*.ports 2>/dev/null | head -1)
		if [ -n "$f" ]; then
			nats_url=$(sed -n 's/.*"nats":\["\([^"]*\)".*/\1/p' "$f")
			[ -n "$nats_url" ] && return 0
		fi
		sleep 0.1
	done
	return 1
}
