#!/bin/sh
# SPDX-License-Identifier: MIT
# Tasks on long subjects reach the DLQ (nats-server delivers subjects of up
# to ~4 KiB): a 600-byte one as "dlq.<subject>", and one too long to name
# in a publish once the prefix is added under "dlq._overlong", with
# Taskjet-Original-Subject keeping its subject. Neither is retried forever;
# both are listed, shown, replayed and purged by their original subject.
# TAP output.
set -u
bin="$top_builddir/taskjet"
plugins="$top_builddir/tests/fixtures/plugins/.libs"
server_bin=${NATS_SERVER:-/usr/sbin/nats-server}
tmp=$(mktemp -d /tmp/tj-longsubj-XXXXXX)
engine=
nats_pid=
cleanup() {
	[ -n "$engine" ] && kill "$engine" 2>/dev/null && wait "$engine" 2>/dev/null
	[ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top_srcdir/tests/tap.sh"
need_nats_server "$server_bin"
unset NATS_URL TASKJET_CONFIG TASKJET_STATE_DIR TASKJET_PLUGIN_DIR

if ! nats_server_start "$server_bin" "$tmp/nats"; then
	echo "Bail out! nats-server did not start"
	exit 1
fi
cat >"$tmp/cfg.json" <<JSON
{
  "nats": { "url": "$nats_url" },
  "plugin_dir": "$plugins",
  "state_dir": "$tmp/state",
  "http": { "listen": "127.0.0.1:0" },
  "streams": [ { "name": "TASKS", "subjects": ["tasks.>"] } ],
  "routes": [ { "name": "any", "stream": "TASKS", "subject": "tasks.>",
                "plugin": "fx_behave", "config": { "verdict": "fail", "reason": "no" } } ]
}
JSON
cfg="$tmp/cfg.json"
a() { head -c "$1" /dev/zero | tr '\0' a; }
medium="tasks.m.$(a 592)" # 600 bytes: past the old 511-byte cap
long="tasks.l.$(a 3992)"  # 4000 bytes: "dlq." and a publish line would pass 4096

"$bin" run -c "$cfg" --log-level debug >"$tmp/engine.log" 2>&1 &
engine=$!
wait_log "$tmp/engine.log" ' ready: ' 10
cp "$tmp/engine.log" "$tmp/out"
has "taskjet run is ready" ' ready: '

expect "a task on a 600-byte subject is taken" 0 "$bin" publish -q -c "$cfg" "$medium" '{"n":1}'
expect "a task on a 4000-byte subject is taken" 0 "$bin" publish -q -c "$cfg" "$long" '{"n":2}'
for _ in $(seq 1 100); do
	"$bin" dlq ls -c "$cfg" --json >"$tmp/ls" 2>&1
	grep -q '"count":2,' "$tmp/ls" && break
	sleep 0.1
done
cp "$tmp/ls" "$tmp/out"
has "both are dead-lettered" '"count":2,'
has "listed by their original subjects" "\"subject\":\"$medium\".*\"subject\":\"$long\""
cp "$tmp/engine.log" "$tmp/out"
lacks "no letter write failed (no retry loop)" 'dead letter for .* failed'
has "the long one went under the fallback subject, said loudly" \
	'warning .*dead letter for .* goes under dlq\._overlong: its subject \(4004 bytes\)'
check "the connection was never closed by the server" \
	sh -c "! grep -q 'maximum control line' '$tmp/nats/server.log' 2>/dev/null"
seq1=$(sed -n 's/.*"entries":\[{"seq":\([0-9]*\).*/\1/p' "$tmp/ls")
seq2=$(sed -n 's/.*},{"seq":\([0-9]*\).*/\1/p' "$tmp/ls")

expect "dlq show of the 600-byte one" 0 "$bin" dlq show -c "$cfg" --json "$seq1"
has "stored on dlq.<subject>" "\"dlq_subject\":\"dlq\\.$medium\""
expect "dlq show of the 4000-byte one" 0 "$bin" dlq show -c "$cfg" --json "$seq2"
has "stored on dlq._overlong" '"dlq_subject":"dlq\._overlong"'
has "its header keeps the subject" "\"key\":\"Taskjet-Original-Subject\",\"value\":\"$long\""
has "and the payload" '"payload":"\{\\"n\\":2\}"'
expect "dlq ls --subject finds it by its own subject" 0 "$bin" dlq ls -c "$cfg" --subject 'tasks.l.>'
has "one letter" '^1 dead letter in DLQ'

expect "replay of the fallback letter goes to the original subject" 0 \
	"$bin" dlq replay -c "$cfg" "$seq2"
has "replayed" "^replayed $seq2 -> TASKS seq"
for _ in $(seq 1 100); do
	"$bin" dlq ls -c "$cfg" --subject 'tasks.l.>' --json >"$tmp/ls" 2>&1
	grep -q '"count":1,' "$tmp/ls" && break
	sleep 0.1
done
cp "$tmp/ls" "$tmp/out"
has "failing again, it is a letter again" '"count":1,'

expect "dlq purge --subject takes the fallback letter too" 0 \
	"$bin" dlq purge -c "$cfg" --subject 'tasks.>' --yes
has "both purged" 'purged 2 dead letters'
expect "the DLQ is empty" 0 "$bin" stats -c "$cfg" --json
has "(no message left)" '"dlq":\{"name":"DLQ","found":true,"messages":0,'

tap_finish
