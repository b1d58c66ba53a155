#!/bin/sh
# SPDX-License-Identifier: MIT
# Every command README.md shows, run as it is shown, in the README's order,
# against the build tree and a real nats-server (the embedded one
# `taskjet run` starts, as the README has it), each bounded in time; the
# tasks they send must end acked, not in the DLQ. The commands are read
# from README.md's ```sh blocks (continuation lines joined, trailing
# "  # comments" dropped) and each must match a rule below: a command added
# to the README without a rule fails here.
#
# What the test changes, and only that: it runs in a scratch directory
# laid out like the repository (conf/taskjet.json is the shipped one with
# http.listen on a free port, so the test never fights over 8394, and
# _build/ holds links to the built taskjet and plugins); "42", the example
# DLQ sequence, becomes a real letter's; nats://10.0.0.5:4222 and
# /etc/taskjet/taskjet.json become the embedded server and the config;
# 127.0.0.1:8394 becomes the port taskjet bound; pkg-config finds
# taskjet-plugin.pc of a prefix of the test's own (PKG_CONFIG_PATH, as the
# README says for a prefix of one's own). Commands that install packages,
# build, install or need systemd (and the two Quick start scripts, which
# CI and this suite run) are named and skipped. TAP output.
set -u
bin="$top_builddir/taskjet"
server_bin=${NATS_SERVER:-/usr/sbin/nats-server}
readme="$top_srcdir/README.md"
tmp=$(mktemp -d /tmp/tj-readme-XXXXXX)
engine=
second=
cleanup() {
	for p in $second $engine; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top_srcdir/tests/tap.sh"
need_nats_server "$server_bin"
unset NATS_URL TASKJET_CONFIG TASKJET_STATE_DIR TASKJET_PLUGIN_DIR TASKJET_BACKEND PKG_CONFIG_PATH
# The embedded server of `taskjet run` is found like this at build time.
export PATH="$PATH:$(dirname "$server_bin")"

# The scratch repository.
work="$tmp/repo"
mkdir -p "$work/conf" "$work/_build/lib"
ln -s "$bin" "$work/_build/taskjet"
ln -s "$top_builddir/lib/taskjet" "$work/_build/lib/taskjet"
# (The example has an "http" section: the address goes into it.)
grep -q '^	"http": {$' "$top_srcdir/conf/taskjet.json" ||
	{ echo "Bail out! conf/taskjet.json has no http section to put a free port in"; exit 1; }
sed 's/^	"http": {$/	"http": { "listen": "127.0.0.1:0",/' "$top_srcdir/conf/taskjet.json" \
	>"$work/conf/taskjet.json"
# A prefix of the test's own, as `make install --prefix=...` would leave it.
prefix="$tmp/prefix"
mkdir -p "$prefix/include/taskjet" "$prefix/lib/pkgconfig" "$prefix/lib/taskjet"
cp "$top_srcdir/include/taskjet/plugin.h" "$prefix/include/taskjet/"
sed -e "s|@prefix@|$prefix|; s|@exec_prefix@|\${prefix}|; s|@includedir@|\${prefix}/include|" \
	-e "s|@libdir@|\${exec_prefix}/lib|g; s|@PACKAGE@|taskjet|; s|@PACKAGE_VERSION@|0|" \
	"$top_srcdir/taskjet-plugin.pc.in" >"$prefix/lib/pkgconfig/taskjet-plugin.pc"
# greet.c: the README's C block.
awk '/^```c$/ { inb = 1; next } /^```$/ { inb = 0 } inb' "$readme" >"$work/greet.c"
cd "$work" || exit 1

awk '/^```sh$/ { inb = 1; next } /^```$/ { inb = 0; next }
	inb { if (sub(/\\$/, "")) { buf = buf $0; next } print buf $0; buf = "" }' "$readme" |
	sed 's/  \+# .*$//; s/[[:space:]]*$//' | grep -v '^$' >"$tmp/commands"
[ -s "$tmp/commands" ] || { echo "Bail out! no commands in $readme"; exit 1; }

# run NAME WANT-STATUS COMMAND-TEXT: the README's text, through the shell.
run() {
	expect "$1" "$2" sh -c "$3"
}
engine_log="$tmp/engine.log"
http_port=
# A letter of the engine's DLQ, for the README's "42".
letter=
make_letter() {
	[ -n "$letter" ] && return 0
	taskjet publish -q -c conf/taskjet.json --id readme-unknown provisioning.update \
		'{"tenant_id":"nobody","module_id":"none","spec":{}}' || return 1
	for _ in $(seq 1 100); do
		letter=$(taskjet dlq ls -c conf/taskjet.json --json --subject provisioning.update |
			sed -n 's/.*"entries":\[{"seq":\([0-9]*\),.*/\1/p')
		[ -n "$letter" ] && return 0
		sleep 0.1
	done
	return 1
}
# dlq_count SUBJECT: letters on that original subject now.
dlq_count() {
	taskjet dlq ls -c conf/taskjet.json --json --subject "$1" | sed -n 's/.*"count":\([0-9]*\),.*/\1/p'
}
# wait_file PATH: until it exists (bounded).
wait_file() {
	for _ in $(seq 1 100); do [ -e "$1" ] && return 0; sleep 0.1; done
	return 1
}
# start_run LOG COMMAND-TEXT: a `taskjet run` in the background, ready.
start_run() {
	sh -c "exec env $2" >"$1" 2>&1 &
	started=$!
	wait_log "$1" ' ready: ' 15 "$started"
}
registry="$work/_build/var/registry"

while IFS= read -r cmd; do
	case $cmd in
	scripts/demo | scripts/test)
		ok "README: $cmd # SKIP a Quick start script: CI runs scripts/test, which runs this" ;;
	"sudo apt-get install"* | "autoreconf -fi"* | "sudo systemd-sysusers"*)
		ok "README: ${cmd%% *} ... # SKIP installs packages, builds or needs systemd (the SDK install and unit tests cover them)" ;;
	"export PATH="*)
		eval "$cmd"
		check "README: the build-tree environment takes effect" \
			sh -c '[ "$(command -v taskjet)" = "$1/_build/taskjet" ] && [ -d "$TASKJET_PLUGIN_DIR" ]' sh "$work" ;;
	"taskjet check "*)
		run "README: $cmd" 0 "$cmd"
		check "README: check created no state directory" test ! -e "$TASKJET_STATE_DIR" ;;
	"taskjet run   -c conf/taskjet.json")
		if start_run "$engine_log" "$cmd"; then ok "README: $cmd"; else cp "$engine_log" "$tmp/out"; not_ok "README: $cmd"; fi
		engine=$started
		http_port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$engine_log" | head -1)
		cp "$engine_log" "$tmp/out"
		has "README: run started its embedded nats-server" 'private nats-server at nats://127.0.0.1:'
		has "README: and serves HTTP" 'http: listening on 127\.0\.0\.1:' ;;
	"NATS_URL=nats://10.0.0.5:4222 taskjet run -c /etc/taskjet/taskjet.json")
		url=$(cat "$TASKJET_STATE_DIR/nats.url" 2>/dev/null)
		c=$(printf '%s' "$cmd" | sed "s|nats://10.0.0.5:4222|$url|; s|/etc/taskjet/taskjet.json|conf/taskjet.json|")
		if start_run "$tmp/second.log" "$c"; then ok "README: $cmd (on the embedded server)"; else
			cp "$tmp/second.log" "$tmp/out"; not_ok "README: $cmd (on the embedded server)"; fi
		second=$started
		kill "$second" 2>/dev/null
		wait "$second"
		st=$?
		second=
		echo "exit $st" >"$tmp/out"
		has "README: the second engine stops cleanly" '^exit 0$' ;;
	"taskjet publish "*)
		run "README: $cmd" 0 "$cmd"
		check "README: the published task was provisioned (acked)" wait_file "$registry/acme-corp/erp-finance.json" ;;
	"taskjet exec "*)
		run "README: $cmd" 0 "$cmd"
		has "README: exec's task is acked" '^outcome: acked$' ;;
	"printf "*)
		run "README: $cmd" 0 "$cmd"
		check "README: tasks.txt holds one task" test "$(wc -l <tasks.txt)" -eq 1 ;;
	"TASKJET_BACKEND=memory taskjet run "*)
		run "README: $cmd" 0 "timeout 60 sh -c '$(printf '%s' "$cmd" | sed "s/'/'\\\\''/g")'"
		check "README: the stdin task was provisioned" test -e "$registry/globex/hr.json" ;;
	"taskjet stats -c conf/taskjet.json --watch")
		sh -c "exec $cmd" >"$tmp/out" 2>&1 &
		w=$!
		sleep 3
		kill -INT "$w"
		wait "$w"
		st=$?
		echo "exit $st" >>"$tmp/out"
		has "README: $cmd (until SIGINT)" '^exit 0$'
		has "README: stats shows the work stream" 'PROVISIONING' ;;
	"taskjet dlq ls "*)
		run "README: $cmd" 0 "$cmd" ;;
	"taskjet dlq show "* | "taskjet dlq replay "*)
		check "README: a dead letter to use for 42" make_letter
		c=$(printf '%s' "$cmd" | sed "s/ 42\$/ ${letter:-42}/")
		run "README: $cmd (42 is letter ${letter:-?})" 0 "$c"
		case $cmd in
		*replay*)
			has "README: replayed" "^replayed ${letter:-42} -> PROVISIONING seq"
			run "README: replay again (\"safe to re-run\")" 0 "$c"
			has "README: the second run says it was done" 'already replayed' ;;
		*) has "README: show names the letter's reason" 'reason: +handler_failed' ;;
		esac ;;
	"curl -s http://127.0.0.1:8394/readyz")
		run "README: $cmd" 0 "$(printf '%s' "$cmd" | sed "s/:8394/:${http_port:-0}/")"
		has "README: ready, and it is taskjet" '"status":"ready","service":"taskjet"' ;;
	"curl -s -X POST http://127.0.0.1:8394/api/v1/tasks"*)
		run "README: curl POST /api/v1/tasks" 0 "$(printf '%s' "$cmd" | sed "s/:8394/:${http_port:-0}/")"
		has "README: the task is stored" '"stream":"PROVISIONING","seq":[0-9]+'
		check "README: and provisioned (acked)" wait_file "$registry/acme-corp/billing.json"
		sleep 0.5
		echo "letters $(dlq_count provisioning.provision)" >"$tmp/out"
		has "README: no provisioning task ended in the DLQ" '^letters 0$' ;;
	"cc -fPIC "*)
		run "README: $cmd" 0 "export PKG_CONFIG_PATH=$prefix/lib/pkgconfig; $cmd" ;;
	"install -m 0644 greet.so "*)
		run "README: $cmd" 0 "export PKG_CONFIG_PATH=$prefix/lib/pkgconfig; $cmd"
		expect "README: the engine loads greet.so from there" 0 taskjet plugins --dir "$prefix/lib/taskjet"
		has "README: greet registers its handler" '^ +handlers: greet$' ;;
	*)
		echo "$cmd" >"$tmp/out"
		not_ok "README: a command this test has no rule for (add one)" ;;
	esac
done <"$tmp/commands"

if [ -n "$engine" ]; then
	kill "$engine" 2>/dev/null
	wait "$engine"
	st=$?
	engine=
	echo "exit $st" >"$tmp/out"
	has "README: the engine stops cleanly" '^exit 0$'
fi
tap_finish
