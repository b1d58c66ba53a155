#!/bin/sh
# The dependency rules (scripts/check-layers): first that the checker
# catches each kind of violation, with its include chain, in small trees
# made here; then the real tree, where each violation listed in
# tests/fixtures/layers.allow is an expected failure (TAP TODO), a listed
# one that is gone is an unexpected pass (delete its line), and any other
# violation fails. TAP output.
set -u
check="$top_srcdir/scripts/check-layers"
tmp=$(mktemp -d /tmp/tj-layers-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; sed 's/^/# /' "$tmp/out"; }

# A tree under $tmp/t: put FILE LINE... writes FILE with those lines.
put() {
	f=$tmp/t/$1; shift
	mkdir -p "$(dirname "$f")"
	printf '%s\n' "$@" >"$f"
}
fresh() { rm -rf "$tmp/t"; mkdir -p "$tmp/t"; : >"$tmp/allow"; }
run() { "$check" --allow "$tmp/allow" "$tmp/t" >"$tmp/out" 2>&1; status=$?; }
# expect NAME STATUS PATTERN: the last run exited STATUS and printed PATTERN.
expect() {
	if [ "$status" -eq "$2" ] && grep -qF -- "$3" "$tmp/out"; then ok "$1"; else
		echo "# exit $status, wanted $2; lacks: $3"; not_ok "$1"; fi
}

fresh
put core/util/clock.c '#include "util/clock.h"'
put core/util/clock.h '#include <time.h>'
put core/nats/conn.h '#include <nats/nats.h>'
put core/nats/conn.c '#include "nats/conn.h"'
run
expect "a tree that keeps the rules passes" 0 "0 new violation(s)"

put core/nats/wrap.h '#include "conn.h"'
put core/cli/cmd.c '#include <stdio.h>' '#include "nats/wrap.h"'
run
expect "nats.h reached through two headers is caught" 1 \
	"nats: core/cli/cmd.c may not reach <nats/nats.h>: core/cli/cmd.c -> core/nats/wrap.h -> core/nats/conn.h -> <nats/nats.h>"
put core/cli/cmd.c '#include <stdio.h>'
put core/run/run.h '#include "nats/conn.h"'
run
expect "a header outside core/nats reaching nats.h is caught" 1 \
	"nats: core/run/run.h may not reach <nats/nats.h>: core/run/run.h -> core/nats/conn.h -> <nats/nats.h>"

fresh
put core/plugin/loader.c '#include <dlfcn.h>'
put common/json.c '#include <jsmn.h>'
put core/http/http.c '#include <microhttpd.h>'
put core/notify/sd.c '#include <systemd/sd-daemon.h>'
run
expect "each library in its own place passes" 0 "0 new violation(s)"
put core/plugin/isolate.c '#include <dlfcn.h>'
put core/task/task.c '#  include <jsmn.h>'
put core/run/serve.c '#include <microhttpd.h>'
put core/engine/engine.c '#include <systemd/sd-journal.h>'
run
expect "dlfcn outside the loader is caught" 1 "dlfcn: core/plugin/isolate.c may not reach <dlfcn.h>"
expect "jsmn outside the JSON module is caught" 1 "jsmn: core/task/task.c may not reach <jsmn.h>"
expect "microhttpd outside core/http is caught" 1 "mhd: core/run/serve.c may not reach <microhttpd.h>"
expect "systemd outside core/notify is caught" 1 "systemd: core/engine/engine.c may not reach <systemd/sd-journal.h>"

fresh
put core/nats/advisory.h '#include "nats/jetstream.h"'
put core/nats/advisory.c '#include "nats/advisory.h"'
put core/nats/jetstream.h '#include <stdint.h>'
put core/nats/jetstream.c '#include "nats/jetstream.h"' '#include "advisory.h"'
run
expect "a module cycle is caught with the includes that make it" 1 \
	"cycle: core/nats/advisory core/nats/jetstream -> core/nats/advisory:"
expect "the cycle names the first include" 1 "core/nats/advisory.h:1 includes core/nats/jetstream.h"
expect "the cycle names the second include" 1 "core/nats/jetstream.c:2 includes core/nats/advisory.h"

fresh
put core/engine/engine.h '#include "util/clock.h"'
put core/util/clock.h '#include "engine/engine.h"'
put core/memory/memory.c '#include "nats/conn.h"'
put core/nats/conn.h '#include <stdint.h>'
put core/gadgets/x.c '#include "util/clock.h"'
run
expect "a folder including one above it is caught" 1 \
	"layer: core/util/clock.h:1 includes core/engine/engine.h, but engine/ is not below util/"
expect "a folder including one on its own layer is caught" 1 \
	"layer: core/memory/memory.c:1 includes core/nats/conn.h, but nats/ is not below memory/"
expect "a folder in no layer is caught" 1 "layer: core/gadgets/ is in no layer"

fresh
put core/cli/cmd.c '#include <nats/nats.h>'
printf '# comment\n\nnats core/cli/cmd.c  # why\n' >"$tmp/allow"
run
expect "a listed violation is known, not new" 0 "known (listed): nats: core/cli/cmd.c"
printf 'nats core/cli/cmd.c  # why\ncycle core/a core/b  # fixed since\n' >"$tmp/allow"
run
expect "a listed violation that is gone is stale and fails" 1 \
	"STALE allowlist entry (delete it): cycle core/a core/b"
"$check" --tap --allow "$tmp/allow" "$tmp/t" >"$tmp/out" 2>&1
if grep -qx 'not ok 1 - known: nats core/cli/cmd.c # TODO listed in allow' "$tmp/out" &&
	grep -qx 'ok 2 - stale: cycle core/a core/b # TODO no longer violated: delete it from allow' "$tmp/out" &&
	grep -qx '1\.\.3' "$tmp/out"; then
	ok "--tap gives listed violations as TODO failures and stale entries as TODO passes"
else
	not_ok "--tap gives listed violations as TODO failures and stale entries as TODO passes"
fi

# The real tree, numbered on from here.
"$check" --tap --allow "$top_srcdir/tests/fixtures/layers.allow" "$top_srcdir" >"$tmp/real" 2>&1
real_status=$?
if ! grep -q '^1\.\.[0-9]' "$tmp/real"; then
	cp "$tmp/real" "$tmp/out"
	not_ok "scripts/check-layers ran on the tree"
else
	awk -v n="$n" '
		/^1\.\./ { next }
		/^(not )?ok [0-9]+ / { sub(/ok [0-9]+ /, "ok " ++n " ") }
		{ print }
		END { print n > "/dev/stderr" }' "$tmp/real" 2>"$tmp/count"
	n=$(cat "$tmp/count")
	# A new violation or a stale entry is a failure of its own line.
	[ "$real_status" -eq 0 ] || failed=$((failed + 1))
fi

echo "1..$n"
[ "$failed" -eq 0 ]
