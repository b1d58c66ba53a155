#!/bin/sh
# SPDX-License-Identifier: MIT
# A dead letter larger than the server's max_payload, as an operator meets
# it: a ~1 MiB task through POST /api/v1/tasks (max_body 1 MiB) that the
# server accepts and the handler fails. Its letter, with the Taskjet-*
# headers added, does not fit one message: it is stored in parts, and
# `taskjet dlq show`, GET /api/v1/dlq/SEQ and `taskjet dlq replay` give it
# back whole; the task is not left stuck. A part's sequence, and another
# deployment's letter in the shared DLQ stream, are refused, never replayed
# or called "already replayed". TAP output.
set -u
bin="$top_builddir/taskjet"
plugins="$top_builddir/tests/fixtures/plugins/.libs"
server_bin=${NATS_SERVER:-/usr/sbin/nats-server}
tmp=$(mktemp -d /tmp/tj-large-XXXXXX)
engine=
engine2=
nats_pid=
cleanup() {
	[ -n "$engine" ] && kill "$engine" 2>/dev/null && wait "$engine" 2>/dev/null
	[ -n "$engine2" ] && kill "$engine2" 2>/dev/null && wait "$engine2" 2>/dev/null
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
  "routes": [ { "name": "big", "stream": "TASKS", "subject": "tasks.big",
                "plugin": "fx_behave", "config": { "verdict": "fail", "reason": "no room" } } ]
}
JSON
cfg="$tmp/cfg.json"

"$bin" run -c "$cfg" --log-level debug >"$tmp/engine.log" 2>&1 &
engine=$!
# "ready" comes once HTTP listens.
wait_log "$tmp/engine.log" ' ready: ' 10
port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/engine.log" | head -1)
cp "$tmp/engine.log" "$tmp/out"
has "taskjet run is ready with HTTP" ' ready: '
base="http://127.0.0.1:$port"
# api METHOD PATH: the body into $tmp/out, then a line "HTTP <status>".
api() {
	code=$(curl -s -o "$tmp/out" -w '%{http_code}' --max-time 20 -X "$1" \
		-H 'Content-Type: application/json' "$base$2")
	echo "HTTP $code" >>"$tmp/out"
}

# 1 MiB of body at most: the payload is a JSON string of 1048400 bytes.
len=1048400
head -c "$len" /dev/zero | tr '\0' 'x' >"$tmp/payload"
{ printf '{"subject":"tasks.big","id":"big-1","payload":"'; cat "$tmp/payload"; printf '"}'; } >"$tmp/body.json"
code=$(curl -s -o "$tmp/out" -w '%{http_code}' --max-time 20 -X POST -H 'Content-Type: application/json' \
	--data-binary @"$tmp/body.json" \
	"$base/api/v1/tasks")
echo "HTTP $code" >>"$tmp/out"
has "POST /api/v1/tasks takes the ~1 MiB task" '^HTTP 201$'

seq=
for _ in $(seq 1 100); do
	"$bin" dlq ls -c "$cfg" --json >"$tmp/ls" 2>&1
	seq=$(sed -n 's/.*"entries":\[{"seq":\([0-9]*\).*/\1/p' "$tmp/ls")
	[ -n "$seq" ] && break
	sleep 0.1
done
cp "$tmp/ls" "$tmp/out"
has "the failed task is in the DLQ" '"count":1,'
expect "taskjet stats counts one dead letter" 0 "$bin" stats -c "$cfg" --json
has "(the parts are not letters)" '"dlq":\{"name":"DLQ","found":true,"messages":1,'
cp "$tmp/engine.log" "$tmp/out"
has "the engine dead-lettered it at once" 'dead-lettered big-1 .*handler_failed'
lacks "and never failed to write the letter" 'dead letter for big-1 .* failed'

expect "dlq show --json reads it back" 0 "$bin" dlq show -c "$cfg" --json "$seq"
has "whole: every byte of the payload" "\"payload_len\":$len,"
has "stored in parts" '"stored_parts":[1-9]'
has "with the handler's reason" 'no room'
sed -n 's/.*"payload":"\([^"]*\)".*/\1/p' "$tmp/out" | tr -d '\n' >"$tmp/shown"
check "the payload shown is the payload sent" cmp -s "$tmp/shown" "$tmp/payload"
expect "dlq show (text) says it is stored in parts" 0 "$bin" dlq show -c "$cfg" "$seq"
has "stored as parts" 'stored as: +[0-9]+ parts'

code=$(curl -s -o "$tmp/get" -w '%{http_code}' --max-time 20 "$base/api/v1/dlq/$seq")
echo "HTTP $code" >"$tmp/out"
has "GET /api/v1/dlq/SEQ answers" '^HTTP 200$'
cp "$tmp/get" "$tmp/out"
has "with the whole payload" "\"payload_len\":$len,"

# The sequence just before the letter holds its last part: no letter to
# replay, show or delete, and never "already replayed".
part=$((seq - 1))
expect "dlq replay of a part's sequence is refused" 1 "$bin" dlq replay -c "$cfg" "$part"
has "naming the letter it belongs to" "$part is a part of dead letter $seq, .*; replay $seq"
lacks "and not calling it replayed" 'already replayed'
expect "dlq replay --json of a part says why" 1 "$bin" dlq replay -c "$cfg" --json "$part"
has "(an error, no replay, nothing gone)" '"replayed":0,"gone":0,"failed":1'
expect "dlq show of a part's sequence is refused" 1 "$bin" dlq show -c "$cfg" "$part"
has "naming the letter" "a part of dead letter $seq, .*; show $seq"
api POST "/api/v1/dlq/$part/replay"
has "POST /api/v1/dlq/PART/replay answers 409" '^HTTP 409$'
has "with an error naming the letter" "\"error\":\"$part is a part of dead letter $seq, .*replay $seq\""
lacks "not gone" '"gone"'
api GET "/api/v1/dlq/$part"
has "GET /api/v1/dlq/PART answers 409" '^HTTP 409$'
api DELETE "/api/v1/dlq/$part"
has "DELETE /api/v1/dlq/PART answers 409" '^HTTP 409$'
has "deleting nothing" "a part of dead letter $seq, .*delete $seq"
expect "the letter is still whole after all that" 0 "$bin" dlq show -c "$cfg" --json "$seq"
has "(every byte)" "\"payload_len\":$len,"

expect "dlq replay republishes it" 0 "$bin" dlq replay -c "$cfg" "$seq"
has "replayed" "replayed $seq -> TASKS seq"
# The handler fails it again: a new letter, again whole.
for _ in $(seq 1 100); do
	"$bin" dlq ls -c "$cfg" --json >"$tmp/ls" 2>&1
	seq2=$(sed -n 's/.*"entries":\[{"seq":\([0-9]*\).*/\1/p' "$tmp/ls")
	[ -n "$seq2" ] && [ "$seq2" != "$seq" ] && break
	sleep 0.1
done
expect "the replayed task failed again into a new letter" 0 "$bin" dlq show -c "$cfg" --json "$seq2"
has "again whole" "\"payload_len\":$len,"
has "marked as replayed from the first" "Taskjet-Replayed-From\",\"value\":\"$seq\""

expect "dlq purge --yes removes it" 0 "$bin" dlq purge -c "$cfg" --yes
has "one letter purged" 'purged 1 dead letter'
expect "and its parts with it" 0 "$bin" stats -c "$cfg" --json
has "the DLQ stream is empty" '"dlq":\{"name":"DLQ","found":true,"messages":0,"bytes":0,'

# A second deployment shares the DLQ stream under its own prefix: its
# letter's sequence is no letter of ours to replay, show or delete.
cat >"$tmp/cfg2.json" <<JSON
{
  "nats": { "url": "$nats_url" },
  "plugin_dir": "$plugins",
  "state_dir": "$tmp/state2",
  "http": { "listen": "127.0.0.1:0" },
  "dlq": { "subject_prefix": "dlq-b" },
  "streams": [ { "name": "TASKS_B", "subjects": ["b.>"] } ],
  "routes": [ { "name": "b", "stream": "TASKS_B", "subject": "b.x",
                "plugin": "fx_behave", "config": { "verdict": "fail", "reason": "theirs" } } ]
}
JSON
"$bin" run -c "$tmp/cfg2.json" >"$tmp/engine2.log" 2>&1 &
engine2=$!
wait_log "$tmp/engine2.log" ' ready: ' 10
expect "the other deployment takes a task" 0 "$bin" publish -c "$tmp/cfg2.json" b.x '{"n":1}'
theirs=
for _ in $(seq 1 100); do
	"$bin" dlq ls -c "$tmp/cfg2.json" --json >"$tmp/ls" 2>&1
	theirs=$(sed -n 's/.*"entries":\[{"seq":\([0-9]*\).*/\1/p' "$tmp/ls")
	[ -n "$theirs" ] && break
	sleep 0.1
done
kill "$engine2" 2>/dev/null && wait "$engine2" 2>/dev/null
cp "$tmp/ls" "$tmp/out"
has "and dead-letters it into the shared DLQ" '"count":1,'
expect "dlq replay of their letter's sequence is refused" 1 "$bin" dlq replay -c "$cfg" "$theirs"
has "as not a letter of this deployment" "$theirs is not a letter of this deployment"
lacks "and not called replayed" 'already replayed'
expect "dlq show of it is refused too" 1 "$bin" dlq show -c "$cfg" "$theirs"
has "(same reason)" "not a letter of this deployment"
api POST "/api/v1/dlq/$theirs/replay"
has "POST /api/v1/dlq/THEIRS/replay answers 404" '^HTTP 404$'
has "with an error saying why" '"error":".*not a letter of this deployment'
lacks "not gone" '"gone"'
api DELETE "/api/v1/dlq/$theirs"
has "DELETE /api/v1/dlq/THEIRS answers 404" '^HTTP 404$'
expect "their letter is still there for them" 0 "$bin" dlq show -c "$tmp/cfg2.json" --json "$theirs"
has "(their payload)" '"reason":"handler_failed"'

tap_finish
