# SPDX-License-Identifier: MIT
# Shared by the bench scripts (sourced, not run).

# bench_nats_start DIR: a private nats-server with JetStream on a free
# loopback port (-p -1; the ports file says which), its store under DIR
# and its output in DIR/server.log. Sets $url and $server_pid (the
# caller stops it by PID). 1, with the log on stderr, if no URL came
# within 10 s.
bench_nats_start() {
	mkdir -p "$1/store" "$1/ports"
	"${server_bin:-/usr/sbin/nats-server}" -js -a 127.0.0.1 -p -1 -sd "$1/store" \
		--ports_file_dir "$1/ports" >"$1/server.log" 2>&1 &
	server_pid=$!
	url=
	for _ in $(seq 1 100); do
		f=$(ls "$1/ports"/*.ports 2>/dev/null | head -1 || true)
		[ -n "$f" ] && url=$(sed -n 's/.*"nats":\["\(nats:\/\/[^"]*\)".*/\1/p' "$f")
		[ -n "$url" ] && return 0
		sleep 0.1
	done
	cat "$1/server.log" >&2
	return 1
}
