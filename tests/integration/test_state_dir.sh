#!/bin/sh
# SPDX-License-Identifier: MIT
# The state directory as an operator meets it: `taskjet check` and
# `taskjet plugins` create nothing; `taskjet run` on the embedded server
# records the server's URL in state_dir/nats.url (mode 0640), so dlq,
# stats and publish run by hand with the same config find it without
# --nats; without a running engine they exit 69 and say where they looked,
# never guessing a port. TAP output.
set -u
bin="$top_builddir/taskjet"
plugins="$top_builddir/tests/fixtures/plugins/.libs"
server_bin=${NATS_SERVER:-/usr/sbin/nats-server}
tmp=$(mktemp -d /tmp/tj-state-XXXXXX)
engine=
cleanup() {
	[ -n "$engine" ] && kill "$engine" 2>/dev/null && wait "$engine" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$top_srcdir/tests/tap.sh"
need_nats_server "$server_bin"
unset NATS_URL TASKJET_CONFIG TASKJET_STATE_DIR TASKJET_PLUGIN_DIR
# Scratch directories of check and plugins land here; they must not stay.
mkdir -p "$tmp/tmp"
export TMPDIR="$tmp/tmp"

# Only the plugin the config uses (the fixture directory also holds ones
# made to be refused).
mkdir -p "$tmp/plugins"
cp "$plugins/fx_behave.so" "$tmp/plugins/" && chmod 755 "$tmp/plugins/fx_behave.so"

# No nats.url: the engine starts its own server. state_dir is relative to
# the config file, and plugin init makes its "dir" relative to state_dir.
cat >"$tmp/cfg.json" <<JSON
{
  "plugin_dir": "plugins",
  "state_dir": "state",
  "streams": [ { "name": "TASKS", "subjects": ["tasks.>"] } ],
  "routes": [ { "name": "work", "stream": "TASKS", "subject": "tasks.>",
                "plugin": "fx_behave", "config": { "record_file": "records.txt" } } ]
}
JSON
cfg="$tmp/cfg.json"
state="$tmp/state"

expect "taskjet check passes" 0 "$bin" check -c "$cfg"
check "check created no state_dir" test ! -e "$state"
check "check left no scratch directory" test -z "$(ls -A "$tmp/tmp")"
expect "taskjet plugins lists the plugins" 0 "$bin" plugins -c "$cfg"
check "plugins created no state_dir" test ! -e "$state"
check "plugins left no scratch directory" test -z "$(ls -A "$tmp/tmp")"

expect "dlq ls with no engine running exits 69" 69 "$bin" dlq ls -c "$cfg"
has "and names the URL file it looked for" "$state/nats.url"
has "without trying a guessed port" 'start taskjet run'
expect "stats likewise" 69 "$bin" stats -c "$cfg"
expect "publish likewise" 69 "$bin" publish -c "$cfg" tasks.x hello

: >"$tmp/engine.log"
"$bin" run -c "$cfg" --log-level debug --log-file "$tmp/engine.log" &
engine=$!
wait_log "$tmp/engine.log" ' ready: ' 15
cp "$tmp/engine.log" "$tmp/out"
has "taskjet run starts on its embedded server" ' ready: '
check "it recorded the server's URL in state_dir/nats.url" test -s "$state/nats.url"
mode=$(stat -c %a "$state/nats.url" 2>/dev/null)
echo "mode $mode" >"$tmp/out"
has "nats.url is readable by the state directory's group (0640)" '^mode 640$'
mode=$(stat -c %a "$state" 2>/dev/null)
echo "mode $mode" >"$tmp/out"
has "state_dir itself is closed to others (0750)" '^mode 750$'

expect "publish run by hand finds the engine's server" 0 "$bin" publish -c "$cfg" --id by-hand tasks.x hello
for _ in $(seq 1 100); do
	grep -q 'by-hand' "$state/records.txt" 2>/dev/null && break
	sleep 0.1
done
check "and the engine handled that task" grep -q 'by-hand tasks.x 1' "$state/records.txt"
expect "dlq ls run by hand finds it too" 0 "$bin" dlq ls -c "$cfg"
expect "stats run by hand finds it too" 0 "$bin" stats -c "$cfg"
has "and reports the config's stream" 'TASKS'

kill "$engine" 2>/dev/null
wait "$engine" 2>/dev/null
engine=
check "a clean stop removes nats.url" test ! -e "$state/nats.url"
expect "dlq ls after the engine stopped exits 69" 69 "$bin" dlq ls -c "$cfg"

# A URL file left by an engine that died: the command says so.
echo "nats://127.0.0.1:1" >"$state/nats.url"
expect "a stale nats.url: exit 69" 69 "$bin" dlq ls -c "$cfg"
has "saying the recorded server did not answer" 'recorded in .*nats.url .* did not answer'

tap_finish
