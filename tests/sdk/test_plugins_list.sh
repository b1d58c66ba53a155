#!/bin/sh
# SPDX-License-Identifier: MIT
# `taskjet plugins [-c FILE | -d DIR]`: lists the shipped plugins with name,
# version, ABI version and handlers, flags refused files with the reason,
# and exits as its --help says (0 all load, 1 some would be refused,
# 64 usage, 78 config). No NATS. TAP output.
set -u
bin="$top_builddir/taskjet"
staged="$top_builddir/lib/taskjet"
fixtures="$top_builddir/tests/fixtures/plugins/.libs"
tmp=$(mktemp -d /tmp/tj-plugins-XXXXXX)
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
lacks() { # name pattern: the last command's output does not match
	if grep -qE -- "$2" "$tmp/out"; then echo "# has: $2"; not_ok "$1"; else ok "$1"; fi
}

expect "plugins --help succeeds" 0 "$bin" plugins --help
has "--help documents the exit codes" 'Exit status: 0 all load, 1 some would be refused, 64 usage, 78 config'

# The shipped plugins with the routes of a config: each is initialised
# with its route's config and shows the handler it registered.
mkdir -p "$tmp/plugins" "$tmp/state"
cp "$staged"/*.so "$tmp/plugins/"
cat >"$tmp/shipped.json" <<JSON
{
  "plugin_dir": "$tmp/plugins",
  "state_dir": "$tmp/state",
  "streams": [ { "name": "P", "subjects": ["p.>"] }, { "name": "C", "subjects": ["c.>"] } ],
  "routes": [
    { "name": "prov", "stream": "P", "subject": "p.provision", "plugin": "provision",
      "config": { "state_dir": "registry" } },
    { "name": "deprov", "stream": "P", "subject": "p.deprovision", "plugin": "deprovision",
      "config": { "state_dir": "registry" } },
    { "name": "upd", "stream": "P", "subject": "p.update", "plugin": "update",
      "config": { "state_dir": "registry", "events_subject": "ev" } },
    { "name": "ctx", "stream": "C", "subject": "c.update", "plugin": "context-update",
      "config": { "state_dir": "ctx" } }
  ]
}
JSON
expect "plugins -c lists the shipped plugins and exits 0" 0 "$bin" plugins -c "$tmp/shipped.json"
has "it names the directory and the count" "^plugin directory $tmp/plugins: 4 plugins\$"
for p in provision deprovision update context-update; do
	has "$p: name, version, ABI version" "^$p +[0-9]+\.[0-9]+\.[0-9]+ +ABI 1\.1 +[A-Z]"
	has "$p: its handler" "^ +handlers: $p\$"
done
lacks "nothing is refused" 'REFUSED|failed'
# Listed in name order.
grep -E '^[a-z]' "$tmp/out" | sed -n '2,$p' | awk '{print $1}' >"$tmp/order"
if [ "$(tr '\n' ' ' <"$tmp/order")" = "context-update deprovision provision update " ]; then
	ok "plugins are listed in name order"; else cp "$tmp/order" "$tmp/out"; not_ok "plugins are listed in name order"; fi
expect "plugins --config is -c" 0 "$bin" plugins --config "$tmp/shipped.json"
expect "TASKJET_CONFIG is the default config" 0 env TASKJET_CONFIG="$tmp/shipped.json" "$bin" plugins
has "it lists from that config's plugin_dir" "^plugin directory $tmp/plugins: 4 plugins\$"

# A route whose config the plugin rejects: that plugin would be refused.
sed 's/"state_dir": "ctx"/"state_dir": "ctx", "bogus_key": 1/' "$tmp/shipped.json" >"$tmp/badcfg.json"
expect "a plugin refusing its route's config exits 1" 1 "$bin" plugins -c "$tmp/badcfg.json"
has "it is flagged as refused with its route's config" "^ +REFUSED +init failed with its route's config: plugin context-update \(route ctx\)"
has "the other plugins still show their handlers" '^ +handlers: provision$'

# -d without a config: no route configures the shipped plugins, and they
# require a state_dir, so their handlers are unknown; that is no refusal.
expect "plugins -d on the shipped plugins exits 0" 0 "$bin" plugins -d "$staged"
has "-d names the directory" "^plugin directory $staged: 4 plugins\$"
for p in provision deprovision update context-update; do
	has "-d shows $p's descriptor" "^$p +[0-9.]+ +ABI 1\.1 "
done
has "-d says why no handlers are shown" '^ +handlers: unknown, no route configures it'
lacks "-d refuses none of them" 'REFUSED'

# Refused files: another major ABI, and a world-writable copy.
cp "$fixtures/fx_wrong_major.so" "$fixtures/fx_noop.so" "$tmp/plugins/"
chmod 755 "$tmp/plugins/fx_wrong_major.so"
chmod 777 "$tmp/plugins/fx_noop.so"
expect "plugins -d with refused files exits 1" 1 "$bin" plugins -d "$tmp/plugins"
has "all six files are listed" "^plugin directory $tmp/plugins: 6 plugins\$"
has "the wrong-major plugin is refused, naming both ABIs" '^fx_wrong_major +REFUSED .*built for ABI 2\.1, this engine speaks 1\.1'
has "the world-writable plugin is refused with the reason" '^fx_noop +REFUSED .*writable by its group and others \(mode 0777, owner uid [0-9]+.*\); only its owner may write it \(chmod go-w '
has "the good plugins are still listed" '^provision +[0-9.]+ +ABI 1\.1 '
expect "plugins -c with refused files in plugin_dir exits 1" 1 "$bin" plugins -c "$tmp/shipped.json"
has "with -c the shipped ones still show handlers" '^ +handlers: update$'
has "and fx_noop is still refused" '^fx_noop +REFUSED '
chmod 755 "$tmp/plugins/fx_noop.so"
rm "$tmp/plugins/fx_wrong_major.so"
expect "once fixed, everything loads again (exit 0)" 0 "$bin" plugins -c "$tmp/shipped.json"
has "fx_noop loads with {} and shows its handler" '^fx_noop +[0-9.]+ +ABI 1\.[0-9]+ '

# A symbolic link is refused too (the loader never follows one).
ln -s "$tmp/plugins/fx_noop.so" "$tmp/plugins/fx_link.so"
expect "a symlinked plugin exits 1" 1 "$bin" plugins -d "$tmp/plugins"
has "it is refused as a symbolic link" '^fx_link +REFUSED .*symbolic link'
rm "$tmp/plugins/fx_link.so"

# Every other reason the loader refuses a file, before running its code.
mkdir "$tmp/bad"
for f in fx_newer_minor fx_no_info fx_name_mismatch fx_no_init; do
	cp "$fixtures/$f.so" "$tmp/bad/" && chmod 755 "$tmp/bad/$f.so"
done
expect "plugins -d with only refused files exits 1" 1 "$bin" plugins -d "$tmp/bad"
has "a newer ABI minor is refused" '^fx_newer_minor +REFUSED .*built for ABI 1\.2, this engine speaks 1\.1'
has "a file without descriptor is refused" '^fx_no_info +REFUSED .*no tj_plugin_info descriptor'
has "a descriptor naming another plugin is refused" '^fx_name_mismatch +REFUSED .*must equal the file name'
has "a plugin without tj_plugin_init is refused" '^fx_no_init +REFUSED .*does not export tj_plugin_init'

mkdir "$tmp/empty"
expect "an empty directory exits 0" 0 "$bin" plugins -d "$tmp/empty"
has "and says so" "^plugin directory $tmp/empty: 0 plugins\$"

expect "a missing directory is a config error (78)" 78 "$bin" plugins -d "$tmp/nonexistent"
has "naming the directory" "$tmp/nonexistent: No such file or directory"
expect "a missing config file is a config error (78)" 78 "$bin" plugins -c "$tmp/nonexistent.json"
printf '{ "bogus": 1 }\n' >"$tmp/bad.json"
expect "an invalid config is a config error (78)" 78 "$bin" plugins -c "$tmp/bad.json"
expect "an unknown option is a usage error (64)" 64 "$bin" plugins --bogus
expect "an operand is a usage error (64)" 64 "$bin" plugins -d "$tmp/plugins" extra
has "usage errors print the usage" '^Usage: taskjet plugins'

echo "1..$n"
[ "$failed" -eq 0 ]
