#!/bin/sh
# The command line end to end: taskjet exec retrying a fixture plugin with
# growing delays and dead-lettering it with every header, taskjet check's
# routes table and refusals, tables and terminals, usage errors and exit
# codes. TAP output.
set -u
bin="$top_builddir/taskjet"
plugins="$top_builddir/tests/fixtures/plugins/.libs"
tmp=$(mktemp -d /tmp/tj-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$tmp/out"; }
expect() { # name expected-status command...
	name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>&1
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

write_config() { # file route-extras plugin-config
	cat >"$1" <<JSON
{
  "plugin_dir": "$plugins",
  "streams": [ { "name": "TASKS", "subjects": ["tasks.>"] } ],
  "routes": [ { "name": "flaky", "stream": "TASKS", "subject": "tasks.flaky",
                "plugin": "fx_behave", "max_attempts": 4 $2,
                "backoff": { "initial": "10ms", "multiplier": 2, "max": "1s", "jitter": 0 },
                "config": $3 } ]
}
JSON
}

write_config "$tmp/flaky.json" "" '{ "fail_first": 2, "reason": "db busy" }'
expect "exec acks after two retries" 0 "$bin" exec -c "$tmp/flaky.json" tasks.flaky '{"n":1}'
has "exec shows attempt 1 retried after 10 ms" 'tasks.flaky attempt 1/4: retry .*-> retry in 10 ms: db busy'
has "exec shows attempt 2 retried after 20 ms" 'tasks.flaky attempt 2/4: retry .*-> retry in 20 ms'
has "exec shows attempt 3 acked" 'tasks.flaky attempt 3/4: done .*-> acked'
has "exec reports the outcome" '^outcome: acked$'

write_config "$tmp/doomed.json" "" '{ "verdict": "retry", "reason": "upstream 503" }'
expect "exec dead-letters exhausted retries with exit 1" 1 "$bin" exec -c "$tmp/doomed.json" -H Trace=t1 tasks.flaky 'hello'
has "exec retries with growing delays" 'attempt 3/4: retry .*-> retry in 40 ms'
has "exec dead-letters on the last attempt" 'attempt 4/4: retry .*-> dead-lettered \(attempts_exhausted\)'
for h in 'Trace: t1' 'Taskjet-Original-Subject: tasks.flaky' 'Taskjet-Original-Stream: TASKS' \
	'Taskjet-Original-Seq: 1' 'Taskjet-Attempts: 4' 'Taskjet-Reason: attempts_exhausted' \
	'Taskjet-Error: upstream 503' 'Taskjet-Plugin: fx_behave' \
	'Taskjet-Failed-At: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z' 'payload \(5 bytes\): hello' \
	'dead letter #1 on dlq.tasks.flaky'; do
	has "dead letter shows ${h%%:*}" "^ *$h"
done

expect "exec --fast scales a 10 s backoff down" 1 sh -c "
	sed 's/\"10ms\"/\"10s\"/; s/\"1s\"/\"300s\"/' '$tmp/doomed.json' >'$tmp/slow.json' &&
	timeout 20 '$bin' exec -c '$tmp/slow.json' --fast tasks.flaky x"
has "exec --fast keeps the nominal delay in the report" 'retry in 20000 ms'

expect "exec reads the payload from stdin" 0 sh -c "echo '{\"from\":\"stdin\"}' | '$bin' exec -c '$tmp/flaky.json' tasks.flaky -"
expect "exec refuses a subject no stream takes" 64 "$bin" exec -c "$tmp/flaky.json" orders.new x

write_config "$tmp/crash.json" "" '{ "crash_on_attempt": 1 }'
expect "exec --isolate survives a crashing handler" 0 "$bin" exec -c "$tmp/crash.json" --isolate tasks.flaky x
has "the crash is retried with the route's backoff" 'attempt 1/4: crash .*-> retry in 10 ms: killed by signal 9 \(Killed\)'
has "the next attempt runs in a new worker process" 'attempt 2/4: done .*-> acked'
write_config "$tmp/poison.json" "" '{ "crash_always": 1 }'
expect "exec --isolate dead-letters a task that always crashes" 1 "$bin" exec -c "$tmp/poison.json" --isolate tasks.flaky x
has "the last crash is dead-lettered" 'attempt 4/4: crash .*-> dead-lettered \(crashed\): killed by signal 9 \(Killed\)'
has "the dead letter says crashed" '^ *Taskjet-Reason: crashed'
has "its error names the signal" '^ *Taskjet-Error: killed by signal 9 \(Killed\)'
write_config "$tmp/hang.json" ', "timeout": "200ms"' '{ "sleep_ms": 60000 }'
expect "exec --isolate stops a handler at the route's timeout" 1 timeout 30 "$bin" exec -c "$tmp/hang.json" --isolate --fast tasks.flaky x
has "the timeout is dead-lettered as timed_out" 'attempt 4/4: timeout .*-> dead-lettered \(timed_out\): timed out after [0-9]+ ms'

expect "a relative TASKJET_PLUGIN_DIR is taken from the working directory" 0 sh -c "
	cd '$top_builddir/tests/fixtures/plugins' && TASKJET_PLUGIN_DIR=.libs '$bin' check -c '$tmp/flaky.json'"

expect "check accepts a good config" 0 "$bin" check -c "$tmp/flaky.json"
has "check prints the routes table" '^ROUTE +SUBJECT'
has "check lists the route" '^flaky +tasks\.flaky +TASKS +taskjet-flaky +fx_behave +1 +4 +30s'

# "Creates nothing" holds for log.file too: checked, not opened.
mkdir -p "$tmp/logs"
sed "s|^{|{ \"log\": { \"file\": \"$tmp/logs/taskjet.log\" },|" "$tmp/flaky.json" >"$tmp/logged.json"
expect "check accepts a config with a log.file" 0 "$bin" check -c "$tmp/logged.json"
expect "and does not create the log file" 1 test -e "$tmp/logs/taskjet.log"
sed "s|^{|{ \"log\": { \"file\": \"$tmp/no-such-dir/taskjet.log\" },|" "$tmp/flaky.json" >"$tmp/nolog.json"
expect "check refuses a log.file that could not be created" 78 "$bin" check -c "$tmp/nolog.json"
has "and names it" "log file $tmp/no-such-dir/taskjet.log: No such file or directory"
expect "(creating no directory either)" 1 test -e "$tmp/no-such-dir"

sed 's/"fx_behave"/"fx_wrong_major"/' "$tmp/flaky.json" >"$tmp/major.json"
expect "check refuses a plugin built for another major ABI" 78 "$bin" check -c "$tmp/major.json"
has "the refusal names both ABI versions" 'ABI 2\.1.*1\.1'

printf '{\n  "streams": [ { "name": "S", "subjects": ["a.>"] } ],\n  "routes": [ { "name": "r", "stream": "S", "subject": "b.x", "plugin": "p" } ],\n  "bogus": 1\n}\n' >"$tmp/bad.json"
expect "check rejects a bad config with exit 78" 78 "$bin" check -c "$tmp/bad.json"
has "errors carry file:line:column: key" "bad\.json:[0-9]+:[0-9]+: bogus: "
has "a route outside its stream is reported" "bad\.json:3:[0-9]+: routes\[0\]\.subject: "

write_config "$tmp/forever.json" ', "ack_wait": "300000000h"' '{}'
expect "check refuses a duration the server cannot hold with exit 78" 78 "$bin" check -c "$tmp/forever.json"
has "the refusal names the key and the limit" \
	'forever\.json:5:[0-9]+: routes\[0\]\.ack_wait: "300000000h" is longer than the server can hold \(at most 2562047h47m16s854ms'
write_config "$tmp/nul.json" ', "handler": "h\u0000"' '{}'
expect "check refuses a NUL character with exit 78" 78 "$bin" check -c "$tmp/nul.json"
has "the refusal names the key" 'nul\.json:5:[0-9]+: routes\[0\]\.handler: contains a NUL character'

# Tables: each column as wide as its content, so a 40+ character route
# name and subject keep the columns aligned; cut only to fit a terminal.
long_route=a-route-name-of-more-than-forty-characters
long_subject=tasks.a-subject-name-of-more-than-forty-characters
cat >"$tmp/long.json" <<JSON
{
  "plugin_dir": "$plugins",
  "streams": [ { "name": "TASKS", "subjects": ["tasks.>"] } ],
  "routes": [ { "name": "flaky", "stream": "TASKS", "subject": "tasks.flaky",
                "plugin": "fx_behave", "config": {} },
              { "name": "$long_route", "stream": "TASKS", "subject": "$long_subject",
                "plugin": "fx_behave", "config": {} } ]
}
JSON
expect "check with a long route name and subject" 0 "$bin" check -c "$tmp/long.json"
aligned "SUBJECT stays aligned after a long route name" '^ROUTE ' "^$long_route " SUBJECT "$long_subject"
aligned "STREAM stays aligned after a long subject" '^ROUTE ' "^$long_route " STREAM TASKS
aligned "and on the short route's line" '^ROUTE ' '^flaky ' STREAM TASKS
aligned "MAX (right-aligned) stays aligned" '^ROUTE ' "^$long_route " MAX 5 right
has "nothing is cut on a pipe" "^$long_route +$long_subject "
lacks "no escape sequences on a pipe" "$ESC"
TTY_COLS=80 on_tty "check on an 80-column terminal" 0 "'$bin' check -c '$tmp/long.json'"
fits "no line is wider than the terminal" 80
has "long cells are cut with an ellipsis" '^a-route[a-z-]*… +tasks\.[a-z-]*… '
aligned "the cut columns stay aligned" '^ROUTE ' '^flaky ' STREAM TASKS
has_raw "the header is bold on a terminal" "${ESC}[1mROUTE"
TTY_NO_COLOR=1 on_tty "check with NO_COLOR" 0 "'$bin' check -c '$tmp/long.json'"
lacks_raw "NO_COLOR: no bold" "$ESC"
TTY_TERM=dumb on_tty "check on a dumb terminal" 0 "'$bin' check -c '$tmp/long.json'"
lacks_raw "TERM=dumb: no escape sequences" "$ESC"

# publish --help: the generic form (subject, payload, headers) first, the
# provisioning shortcuts after it, as such.
expect "publish --help" 0 "$bin" publish --help
if head -1 "$tmp/out" | grep -qE '^Usage: taskjet publish .*SUBJECT \[DATA\|-\]$'; then
	ok "publish --help leads with SUBJECT [DATA|-]"
else
	not_ok "publish --help leads with SUBJECT [DATA|-]"
fi
header_line=$(grep -nE -- '^  -H, --header' "$tmp/out" | cut -d: -f1)
section_line=$(grep -n '^Provisioning shortcuts' "$tmp/out" | cut -d: -f1)
type_line=$(grep -nE -- '^  -t, --type' "$tmp/out" | cut -d: -f1)
if [ -n "$header_line" ] && [ -n "$section_line" ] && [ -n "$type_line" ] &&
	[ "$header_line" -lt "$section_line" ] && [ "$section_line" -lt "$type_line" ]; then
	ok "the provisioning shortcuts are a section after the generic options"
else
	not_ok "the provisioning shortcuts are a section after the generic options"
fi

expect "--help succeeds" 0 "$bin" --help
has "--help documents the exit codes" '^  78  configuration error'
expect "--version succeeds" 0 "$bin" --version
has "--version names the plugin ABI" '^taskjet [0-9.]+ \(plugin ABI 1\.1, libnats '
for c in run check exec publish plugins; do
	expect "$c --help succeeds" 0 "$bin" "$c" --help
done
# run's --backend and --stdin ask the backend table, not a list of their own.
expect "run --backend with an unknown name is a usage error" 64 \
	"$bin" run -c "$tmp/flaky.json" --backend kafka
has "naming every backend the config takes" \
	'--backend wants "jetstream", "nats" or "memory", got "kafka"'
expect "run --stdin on a backend fed by the server is a usage error" 64 \
	"$bin" run -c "$tmp/flaky.json" --backend nats --stdin
has "naming the backend" '--stdin: the jetstream backend takes its tasks from the server'
expect "run --stdin on the memory backend runs" 0 sh -c \
	"echo 'tasks.flaky {\"n\":1}' | '$bin' run -c '$tmp/flaky.json' --backend memory --stdin"
expect "an unknown command is a usage error" 64 "$bin" frobnicate
expect "no command is a usage error" 64 "$bin"

echo "1..$n"
[ "$failed" -eq 0 ]
