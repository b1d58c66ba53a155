#!/bin/sh
# taskjet dlq and taskjet stats end to end on a real nats-server: the engine
# dead-letters tasks through a fixture plugin, then the commands list,
# filter, show, replay (the replayed task goes through the engine again),
# purge with and without confirmation, and report stats; long work (publish
# --count, replay --all, purge) with progress on a terminal and a summary
# elsewhere; tables with long names, on a pipe and on a terminal. TAP output.
set -u
bin="$top_builddir/taskjet"
plugins="$top_builddir/tests/fixtures/plugins/.libs"
server_bin=${NATS_SERVER:-/usr/sbin/nats-server}
tmp=$(mktemp -d /tmp/tj-dlqcli-XXXXXX)
server=
engine=
cleanup() {
	[ -n "$engine" ] && kill "$engine" 2>/dev/null && wait "$engine" 2>/dev/null
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$tmp/out"; }
expect() { # name expected-status command...
	name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>&1 </dev/null
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$name"; else echo "# exit $got, wanted $want"; not_ok "$name"; fi
}
has() { # name pattern: the last command's output matches
	if grep -qE -- "$2" "$tmp/out"; then ok "$1"; else echo "# lacks: $2"; not_ok "$1"; fi
}
lacks() {
	if grep -qE -- "$2" "$tmp/out"; then echo "# has: $2"; not_ok "$1"; else ok "$1"; fi
}
. "$top_srcdir/tests/cli_output.sh"
finish() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit $?
}

if [ ! -x "$server_bin" ]; then
	if [ -n "${CI:-}" ]; then
		echo "not ok 1 - dlq_cli: nats-server not found at $server_bin (required in CI)"
		echo "1..1"
		exit 1
	fi
	echo "1..0 # SKIP nats-server not found at $server_bin"
	exit 0
fi

# A private server: random loopback port, read back from the ports file.
mkdir -p "$tmp/store" "$tmp/ports"
"$server_bin" -js -a 127.0.0.1 -p -1 -sd "$tmp/store" --ports_file_dir "$tmp/ports" \
	-l "$tmp/server.log" &
server=$!
url=
for _ in $(seq 1 100); do
	f=$(ls "$tmp/ports"/*.ports 2>/dev/null | head -1)
	if [ -n "$f" ]; then
		url=$(sed -n 's/.*"nats":\["\([^"]*\)".*/\1/p' "$f")
		[ -n "$url" ] && break
	fi
	sleep 0.1
done
if [ -z "$url" ]; then
	echo "Bail out! nats-server did not start"
	cat "$tmp/server.log"
	exit 1
fi
unset NATS_URL TASKJET_CONFIG
export TASKJET_STATE_DIR="$tmp/state"

cat >"$tmp/cfg.json" <<JSON
{
  "nats": { "url": "$url" },
  "plugin_dir": "$plugins",
  "streams": [ { "name": "TASKS", "subjects": ["tasks.>"] } ],
  "routes": [ { "name": "work", "stream": "TASKS", "subject": "tasks.>",
                "plugin": "fx_behave", "max_attempts": 2, "concurrency": 1,
                "backoff": { "initial": "10ms", "multiplier": 1, "max": "10ms", "jitter": 0 },
                "config": { "reason": "upstream said no" } } ]
}
JSON
cfg="$tmp/cfg.json"

start_engine() {
	: >"$tmp/engine.log"
	"$bin" run -c "$cfg" --log-level debug --log-file "$tmp/engine.log" &
	engine=$!
	for _ in $(seq 1 100); do
		grep -q ' ready: ' "$tmp/engine.log" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
stop_engine() {
	kill "$engine" 2>/dev/null
	wait "$engine" 2>/dev/null
	engine=
}
# Wait until the DLQ holds $1 letters (bounded).
wait_dlq() {
	for _ in $(seq 1 100); do
		"$bin" dlq ls -c "$cfg" --json >"$tmp/wait" 2>&1
		grep -q "\"count\":$1," "$tmp/wait" && return 0
		sleep 0.1
	done
	return 1
}
pub() { # subject payload [more publish options]
	s=$1 p=$2; shift 2
	"$bin" publish -q -c "$cfg" "$@" "$s" "$p"
}

expect "stats before anything exists" 0 "$bin" stats -c "$cfg" --json
has "reports the stream, consumer and DLQ as missing" '"streams":\[\{"name":"TASKS","found":false\}\],"routes":\[\{"name":"work","subject":"tasks\.>","stream":"TASKS","consumer":\{"name":"taskjet-work","found":false\}\}\],"dlq":\{"name":"DLQ","found":false\}'
expect "dlq ls before the DLQ exists" 1 "$bin" dlq ls -c "$cfg"
has "says there is no DLQ stream" 'no stream DLQ on the server'

expect "the engine starts on the test server" 0 start_engine
pub tasks.a fail -H Trace=t-a
pub tasks.b retry
pub tasks.a.deep fail
pub tasks.ok fine
if wait_dlq 3; then ok "three tasks end in the DLQ"; else cp "$tmp/wait" "$tmp/out"; not_ok "three tasks end in the DLQ"; fi
stop_engine

expect "dlq ls lists every letter" 0 "$bin" dlq ls -c "$cfg"
has "ls has a header line" '^SEQ +FAILED AT +SUBJECT +FROM +ATT +REASON +ERROR'
has "ls shows a failed task" '^1 +[0-9T:-]+Z +tasks\.a +TASKS:1 +1  handler_failed +payload asked to fail'
has "ls shows an exhausted task" ' tasks\.b +TASKS:2 +2  attempts_exhausted +upstream said no'
has "ls counts" '^3 dead letters in DLQ \(3 scanned\)'

expect "ls --subject filters with wildcards" 0 "$bin" dlq ls -c "$cfg" --subject 'tasks.a.>'
has "only the deep subject" '^1 dead letter in DLQ'
has "and it is tasks.a.deep" ' tasks\.a\.deep '
expect "ls --reason filters" 0 "$bin" dlq ls -c "$cfg" --reason attempts_exhausted
has "one exhausted letter" '^1 dead letter in DLQ'
expect "ls --since in the future finds none" 0 "$bin" dlq ls -c "$cfg" --since 2999-01-01T00:00:00Z
has "none since then" '^0 dead letters'
expect "ls --since 1h finds all" 0 "$bin" dlq ls -c "$cfg" --since 1h
has "all three" '^3 dead letters'
expect "ls --limit truncates and says where to go on" 0 "$bin" dlq ls -c "$cfg" --limit 2
has "continue hint" '^more match: continue with --from 3$'
expect "ls --json" 0 "$bin" dlq ls -c "$cfg" --json --reason handler_failed
has "json count and fields" '^\{"dlq_stream":"DLQ","count":2,.*"subject":"tasks\.a",.*"reason":"handler_failed","error":"payload asked to fail"'

expect "dlq show prints every header and the payload" 0 "$bin" dlq show -c "$cfg" 1
for h in 'Trace: t-a' 'Taskjet-Original-Subject: tasks\.a' 'Taskjet-Original-Stream: TASKS' \
	'Taskjet-Original-Seq: 1' 'Taskjet-Attempts: 1' 'Taskjet-Reason: handler_failed' \
	'Taskjet-Error: payload asked to fail' 'Taskjet-Plugin: fx_behave' \
	'Taskjet-Failed-At: [0-9]{4}-'; do
	has "show has ${h%%:*}" "^  $h"
done
has "show prints the payload" '^payload \(4 bytes\):$'
has "show says only the last error is kept" "only the last attempt's error is kept"
expect "show --json" 0 "$bin" dlq show -c "$cfg" --json 1
has "show --json has headers and payload" '"headers":\[.*\{"key":"Trace","value":"t-a"\}.*"payload_encoding":"utf-8","payload":"fail"'
expect "show of a missing letter exits 1" 1 "$bin" dlq show -c "$cfg" 99
has "and says so" 'no dead letter 99 in DLQ'

expect "replay one letter" 0 "$bin" dlq replay -c "$cfg" 1
has "replay reports the new sequence" '^replayed 1 -> TASKS seq 5$'
expect "replaying it again is safe: exit 0" 0 "$bin" dlq replay -c "$cfg" 1
has "and says it was done already" '^1 is not in the DLQ any more: already replayed \(or deleted\)$'
has "counted apart" '^0 replayed, 1 already replayed or deleted, 0 failed$'
expect "replay --json of it again" 0 "$bin" dlq replay -c "$cfg" --json 1
has "reports it gone" '^\{"results":\[\{"seq":1,"ok":true,"gone":true\}\],"replayed":0,"gone":1,"failed":0\}$'
expect "replay of a sequence the DLQ never held exits 1" 1 "$bin" dlq replay -c "$cfg" 99
has "and says so" 'no dead letter 99 \(the DLQ has never held that sequence\)'
expect "show of the largest sequence there can be exits 1" 1 "$bin" dlq show -c "$cfg" 9223372036854775807
has "no dead letter, not a server error" 'no dead letter 9223372036854775807 in DLQ'
expect "a sequence past int64 is a usage error" 64 "$bin" dlq show -c "$cfg" 9223372036854775808
has "naming the range" 'SEQ wants an integer from 1 to 9223372036854775807'
expect "so is one past uint64" 64 "$bin" dlq replay -c "$cfg" 18446744073709551616
expect "stats shows the replayed task waiting" 0 "$bin" stats -c "$cfg" --json
has "one message in TASKS, pending for the route" '"name":"TASKS","found":true,"messages":1,.*"name":"work",.*"pending":1,'
has "stats shows the DLQ depth" '"dlq":\{"name":"DLQ","found":true,"messages":2,'

# The engine takes the replayed task again; it fails again and comes back
# to the DLQ with the mark of where it was replayed from.
expect "the engine starts again" 0 start_engine
if wait_dlq 3; then ok "the replayed task fails again"; else cp "$tmp/wait" "$tmp/out"; not_ok "the replayed task fails again"; fi
stop_engine
expect "show the new letter" 0 "$bin" dlq show -c "$cfg" 4
has "it carries Taskjet-Replayed-From" '^  Taskjet-Replayed-From: 1$'
has "and the original header" '^  Trace: t-a$'

expect "replay --all with a reason filter" 0 "$bin" dlq replay -c "$cfg" --all --reason attempts_exhausted --json
has "replay --json reports each" '^\{"results":\[\{"seq":[23],"ok":true,"stream":"TASKS","stream_seq":6,"duplicate":false\}\],"replayed":1,"gone":0,"failed":0\}$'

# More letters to purge, written straight to the DLQ subjects.
pub dlq.tasks.x p1 -H Taskjet-Reason=crashed -H Taskjet-Original-Subject=tasks.x
pub dlq.tasks.y p2 -H Taskjet-Reason=crashed -H Taskjet-Original-Subject=tasks.y
pub dlq.tasks.x p3 -H Taskjet-Reason=no_route -H Taskjet-Original-Subject=tasks.x
expect "five letters now" 0 "$bin" dlq ls -c "$cfg"
has "five" '^5 dead letters'
expect "purge without a terminal and without --yes refuses" 64 "$bin" dlq purge -c "$cfg" --subject tasks.x
has "and says why" 'would delete 2 dead letters from DLQ; stdin is not a terminal to confirm, so pass --yes'
expect "purge by subject" 0 "$bin" dlq purge -c "$cfg" --subject tasks.x --yes
has "purged two" '^purged 2 dead letters from DLQ$'
expect "purge by reason" 0 "$bin" dlq purge -c "$cfg" --reason crashed --yes
has "purged one" '^purged 1 dead letter from DLQ$'
expect "what is left" 0 "$bin" dlq ls -c "$cfg"
has "two left" '^2 dead letters'
lacks "no tasks.x left" ' tasks\.x '
expect "purge all" 0 "$bin" dlq purge -c "$cfg" --yes
has "purged the rest" '^purged 2 dead letters'
expect "purge of nothing" 0 "$bin" dlq purge -c "$cfg" --yes
has "says nothing matched" '^nothing to purge'

expect "stats text" 0 "$bin" stats -c "$cfg"
has "stream table" '^TASKS +[0-9]+ '
has "route table" '^work +TASKS/taskjet-work +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ '
has "DLQ line" '^DLQ DLQ: 0 dead letters'
pub dlq.tasks.z p -H Taskjet-Reason=crashed
expect "stats --by-reason" 0 "$bin" stats -c "$cfg" --by-reason
has "reason counts" '^  crashed +1$'
expect "stats --watch samples with rates" 0 "$bin" stats -c "$cfg" --json --watch --interval 0.2 --count 2
if [ "$(grep -c '^{"time"' "$tmp/out")" -eq 2 ]; then ok "two samples"; else not_ok "two samples"; fi
has "the second has rates" '"interval_seconds":0\.[0-9]+,.*"in_per_sec":'

# A payload that is not UTF-8 text leaves `show --json` as base64, never as
# raw bytes (which would not be JSON), and `show` escapes it for a terminal.
pub dlq.tasks.bin "$(printf 'bin\377\376\001')" -H Taskjet-Reason=crashed \
	-H Taskjet-Original-Subject=tasks.bin
"$bin" dlq ls -c "$cfg" --json --subject tasks.bin >"$tmp/ls" 2>&1
binseq=$(sed -n 's/.*"entries":\[{"seq":\([0-9]*\),.*/\1/p' "$tmp/ls")
expect "show --json of a binary payload" 0 "$bin" dlq show -c "$cfg" --json "${binseq:-0}"
has "the payload is base64" '"payload_len":6,"payload_encoding":"base64","payload":"Ymlu//4B"\}$'
expect "show of a binary payload" 0 "$bin" dlq show -c "$cfg" "${binseq:-0}"
has "escaped for the terminal" '^bin\\xff\\xfe\\x01$'

# stats --watch: redrawn in place on a terminal, appended on a pipe.
expect "stats --watch on a pipe" 0 "$bin" stats -c "$cfg" --watch --interval 0.2 --count 2
if [ "$(count_lines '^taskjet stats at ')" -eq 2 ]; then ok "two samples, one after the other"; else not_ok "two samples, one after the other"; fi
has "the second sample has rates" '^taskjet stats at .* \(rates over 0\.[0-9] s\)$'
lacks "no escape sequences on a pipe" "$ESC"
on_tty "stats --watch on a terminal" 0 "'$bin' stats -c '$cfg' --watch --interval 0.2 --count 3"
if [ "$(count_lines '^taskjet stats at ')" -eq 3 ]; then ok "three samples drawn"; else not_ok "three samples drawn"; fi
if [ "$(grep -cE "$ESC\[[0-9]+A$CR$ESC\[J" "$tmp/raw")" -eq 2 ]; then
	ok "each sample after the first goes back up and clears the one before"
else
	not_ok "each sample after the first goes back up and clears the one before"
fi
TTY_TERM=dumb on_tty "stats --watch on a dumb terminal" 0 "'$bin' stats -c '$cfg' --watch --interval 0.2 --count 2"
lacks_raw "TERM=dumb: appended, not redrawn" "$ESC"

# publish --count: one summary line on a pipe, a line per message only
# with --verbose, a progress line on a terminal.
expect "publish --count on a pipe" 0 "$bin" publish -c "$cfg" --count 50 tasks.bulk x
has "one summary line" '^50 published \(50 new, 0 duplicates\) in [0-9.]+ s, [0-9.]+/s$'
if [ "$(wc -l <"$tmp/out")" -eq 1 ]; then ok "and no line per message"; else not_ok "and no line per message"; fi
lacks "no progress on a pipe" "$CR"
expect "publish --count --verbose" 0 "$bin" publish -c "$cfg" --count 3 --id bulk-v --verbose tasks.bulk x
if [ "$(count_lines '^tasks\.bulk seq=[0-9]+ id=bulk-v-[123]$')" -eq 3 ]; then ok "a line per message"; else not_ok "a line per message"; fi
has "then the summary" '^3 published \(3 new, 0 duplicates\) in '
expect "the same ids again" 0 "$bin" publish -c "$cfg" --count 3 --id bulk-v tasks.bulk x
has "are counted as duplicates" '^3 published \(0 new, 3 duplicates\) in '
expect "one message prints its line and no summary" 0 "$bin" publish -c "$cfg" --id bulk-one tasks.bulk x
has "its line" '^tasks\.bulk seq=[0-9]+ id=bulk-one$'
lacks "no summary" 'published'
expect "a failing publish --count says how far it got" 1 "$bin" publish -c "$cfg" --count 3 nostream.x x
has "the error" 'taskjet publish: no stream takes subject nostream\.x'
has "and the summary" '^0 of 3 published \(0 new, 0 duplicates\)'
on_tty "publish --count on a terminal" 0 "'$bin' publish -c '$cfg' --count 5000 tasks.bulk x"
has_raw "the progress line is redrawn with a carriage return" "${CR}publishing "
has_raw "and cleared to the end of the line" "${ESC}[K"
has "it shows count, rate and time left" '^publishing [0-9]+/5000 \([0-9]+%\), [0-9.]+/s, (<1 s|[0-9]+ s|[0-9]+ min [0-9]+ s) left$'
has "the summary ends it" '^5000 published \(5000 new, 0 duplicates\) in [0-9.]+ s, [0-9.]+/s$'
# At most ten redraws a second: the draws, against the time the summary gives.
draws=$(grep -o "${CR}publishing " "$tmp/raw" | wc -l)
seconds=$(sed -n 's/^5000 published .* in \([0-9.]*\) s,.*/\1/p' "$tmp/out")
if [ -n "$seconds" ] && awk -v d="$draws" -v s="$seconds" 'BEGIN { exit !(d >= 1 && d <= 10 * s + 2) }'; then
	ok "at most ten progress lines a second ($draws in $seconds s)"
else
	not_ok "at most ten progress lines a second ($draws in ${seconds:-?} s)"
fi

# replay --all and purge: the same.
bulk_letters() { # count
	"$bin" publish -q -c "$cfg" --count "$1" dlq.tasks.bulk p \
		-H Taskjet-Reason=no_route -H Taskjet-Original-Subject=tasks.bulk
}
bulk_letters 200
expect "replay --all on a pipe" 0 "$bin" dlq replay -c "$cfg" --all --subject tasks.bulk
has "prints the count" '^200 replayed, 0 failed$'
lacks "and no line per letter" '^replayed '
lacks "no progress on a pipe" "$CR"
bulk_letters 3
expect "replay --all --verbose" 0 "$bin" dlq replay -c "$cfg" --all --subject tasks.bulk --verbose
if [ "$(count_lines '^replayed [0-9]+ -> TASKS seq [0-9]+$')" -eq 3 ]; then ok "a line per letter"; else not_ok "a line per letter"; fi
has "then the count" '^3 replayed, 0 failed$'
bulk_letters 300
on_tty "replay --all on a terminal" 0 "'$bin' dlq replay -c '$cfg' --all --subject tasks.bulk"
has_raw "shows a progress line" "${CR}replaying "
has "with count and rate" '^replaying [0-9]+/300 \([0-9]+%\)'
has "then the count" '^300 replayed, 0 failed$'
expect "--verbose is for replay" 64 "$bin" dlq ls -c "$cfg" --verbose
bulk_letters 300
on_tty "purge letter by letter on a terminal" 0 "'$bin' dlq purge -c '$cfg' --reason no_route --yes"
has_raw "shows a progress line" "${CR}deleting "
has "then the summary" '^purged 300 dead letters from DLQ$'

# Tables with a 40+ character subject: aligned on a pipe, cut to fit a
# terminal.
long=tasks.a-subject-name-of-more-than-forty-characters
pub "dlq.$long" p -H Taskjet-Reason=crashed -H "Taskjet-Original-Subject=$long" \
	-H "Taskjet-Error=$(printf 'an error that goes on and on, %.0s' 1 2 3)and on"
expect "dlq ls with a long subject" 0 "$bin" dlq ls -c "$cfg"
aligned "FROM stays aligned after a long subject" '^SEQ ' "$long" FROM -
aligned "REASON too" '^SEQ ' "$long" REASON crashed
aligned "and on a short subject's line" '^SEQ ' ' tasks\.z ' REASON crashed
has "the whole error on a pipe" ' crashed +(an error that goes on and on, ){3}and on$'
TTY_COLS=80 on_tty "dlq ls on an 80-column terminal" 0 "'$bin' dlq ls -c '$cfg'"
fits "no line is wider than the terminal" 80
has "the error is cut with an ellipsis" ' crashed +an [a-z, ]*…$'
aligned "still aligned" '^SEQ ' ' tasks\.z ' REASON crashed
cat >"$tmp/long.json" <<JSON
{
  "nats": { "url": "$url" },
  "plugin_dir": "$plugins",
  "streams": [ { "name": "TASKS", "subjects": ["tasks.>"] },
               { "name": "OTHER", "subjects": ["other.>"] } ],
  "routes": [ { "name": "work", "stream": "TASKS", "subject": "tasks.>", "plugin": "fx_behave" },
              { "name": "a-route-name-of-more-than-forty-characters", "stream": "OTHER",
                "subject": "other.x", "plugin": "fx_behave" } ]
}
JSON
expect "stats with a long route name" 0 "$bin" stats -c "$tmp/long.json"
aligned "CONSUMER stays aligned after a long route name" '^ROUTE ' '^a-route-name' CONSUMER \
	OTHER/taskjet-a-route-name-of-more-than-forty-characters
aligned "and on a short one's line" '^ROUTE ' '^work ' CONSUMER TASKS/taskjet-work
aligned "WAITING (right-aligned) too" '^ROUTE ' '^work ' WAITING 0 right
has "a stream the server lacks is a note on its row" '^OTHER +\(not found on the server\)$'

# Taskjet-* headers are the engine's: a task must not carry them; a
# letter planted on the DLQ subjects may.
expect "publish refuses a Taskjet-* header on a task" 64 "$bin" publish -c "$cfg" tasks.x p -H Taskjet-Reason=forged
has "and says why" "^taskjet publish: --header Taskjet-Reason: Taskjet-\\* headers are the engine's own and a task must not carry them"
expect "in any case" 64 "$bin" publish -c "$cfg" tasks.x p -H taskjet-replayed-from=1
expect "exec refuses them too" 64 "$bin" exec -c "$cfg" tasks.x p -H TASKJET-ERROR=x

# Replay cannot be aimed: a letter planted on dlq.tasks.f whose original
# subject is the JetStream API's purge of TASKS is refused, TASKS stays.
tasks_msgs() {
	"$bin" stats -c "$cfg" --json 2>/dev/null |
		sed -n 's/.*"name":"TASKS","found":true,"messages":\([0-9]*\),.*/\1/p'
}
pub tasks.keep k
pub tasks.keep k
before=$(tasks_msgs)
pub dlq.tasks.f x -H Taskjet-Reason=crashed -H 'Taskjet-Original-Subject=$JS.API.STREAM.PURGE.TASKS'
"$bin" dlq ls -c "$cfg" --json --subject '$JS.API.>' >"$tmp/ls" 2>&1
aimed=$(sed -n 's/.*"entries":\[{"seq":\([0-9]*\),.*/\1/p' "$tmp/ls")
expect "replay of a letter aimed at the JetStream API fails" 1 "$bin" dlq replay -c "$cfg" "${aimed:-0}"
has "it says why" 'is not replayed: no configured route consumes subject "\$JS\.API\.STREAM\.PURGE\.TASKS"; replay publishes only to subjects a configured route consumes'
has "and counts it as failed" '^0 replayed, 1 failed$'
after=$(tasks_msgs)
if [ -n "$before" ] && [ "$before" -ge 2 ] && [ "$before" = "$after" ]; then
	ok "TASKS is untouched ($after messages)"
else
	not_ok "TASKS is untouched (before ${before:-?}, after ${after:-?})"
fi
expect "the letter is still there" 0 "$bin" dlq show -c "$cfg" "${aimed:-0}"
expect "replay --all skips it the same way" 1 "$bin" dlq replay -c "$cfg" --all --subject '$JS.API.>'
has "all refused" '^0 replayed, 1 failed$'

expect "dlq without a subcommand is a usage error" 64 "$bin" dlq
expect "an unknown subcommand is a usage error" 64 "$bin" dlq frob
expect "replay needs SEQ or --all" 64 "$bin" dlq replay -c "$cfg"
expect "replay refuses both" 64 "$bin" dlq replay -c "$cfg" --all 3
expect "filters are refused for show" 64 "$bin" dlq show -c "$cfg" --reason crashed 1
expect "an unknown reason is refused" 64 "$bin" dlq ls -c "$cfg" --reason bogus
has "and named" 'unknown reason "bogus"'
expect "a bad --since is refused" 64 "$bin" dlq ls -c "$cfg" --since soon
expect "--since takes days" 0 "$bin" dlq ls -c "$cfg" --since 1d
expect "--since takes weeks and days" 0 "$bin" dlq ls -c "$cfg" --since 1w2d
expect "--since refuses a date that does not exist" 64 "$bin" dlq ls -c "$cfg" --since 2026-02-31T00:00:00Z
expect "a bad subject pattern is refused" 64 "$bin" dlq ls -c "$cfg" --subject 'a..b'
expect "no server is exit 69" 69 "$bin" dlq ls --nats nats://127.0.0.1:1
expect "stats without a config is exit 78" 78 "$bin" stats -c "$tmp/none.json"
expect "dlq --help" 0 "$bin" dlq --help
has "help lists replay" 'taskjet dlq replay'
expect "stats --help" 0 "$bin" stats --help
finish
