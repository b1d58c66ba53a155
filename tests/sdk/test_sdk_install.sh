#!/bin/sh
# SPDX-License-Identifier: MIT
# The SDK as a plugin author gets it: the real install targets put the
# engine, the shipped plugins (no .la), <taskjet/plugin.h>,
# taskjet-plugin.pc and the example config into a DESTDIR; examples/hello
# is built out of tree against the INSTALLED header found by pkg-config;
# the installed taskjet runs a task through it (acked) and dead-letters a
# failing payload; `make uninstall` removes every file again. No NATS.
# TAP output.
set -u
: "${MAKE:=make}" "${TJ_CC:=cc}"
tmp=$(mktemp -d /tmp/tj-sdk-XXXXXX)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
dest="$tmp/dest"
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
check() { # name command...: succeeds
	name=$1; shift
	if "$@" >"$tmp/out" 2>&1; then ok "$name"; else not_ok "$name"; fi
}
# A nested make must not inherit the jobserver of the make running the tests.
submake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES "$MAKE" "$@"
}

# install-exec + install-data are what `make install` runs after `all`.
# `all` was built by make check already, and running it again here would
# re-copy the staged plugins (all-local) under other tests that have them
# loaded at this moment.
expect "make install-exec install-data into a DESTDIR" 0 \
	submake -C "$top_builddir" install-exec install-data DESTDIR="$dest"
# Plugin authors are told about PKG_CONFIG_PATH when pkg-config would not
# find taskjet-plugin.pc by itself.
case ":$(pkg-config --variable pc_path pkg-config 2>/dev/null):" in
*":$TJ_PKGCONFIGDIR:"*) lacks_hint=1 ;;
*) lacks_hint= ;;
esac
if [ -n "$lacks_hint" ]; then
	if grep -q 'PKG_CONFIG_PATH' "$tmp/out"; then not_ok "no PKG_CONFIG_PATH note for a default pkgconfigdir"; else
		ok "no PKG_CONFIG_PATH note for a default pkgconfigdir"; fi
else
	has "install says how pkg-config finds taskjet-plugin.pc" "export PKG_CONFIG_PATH=$TJ_PKGCONFIGDIR"
fi
if [ "${TJ_SYSUSERSDIR:-no}" != no ]; then
	check "sysusers.d/taskjet.conf declares the service user" \
		grep -q '^u taskjet ' "$dest$TJ_SYSUSERSDIR/taskjet.conf"
fi

bin="$dest$TJ_BINDIR/taskjet"
check "bin/taskjet is installed and runs" "$bin" --version
has "the installed engine names its plugin ABI" 'plugin ABI 1\.1'
for p in $TJ_SHIPPED_PLUGINS; do
	check "plugin $p.so is installed" test -f "$dest$TJ_PKGLIBDIR/$p.so"
done
find "$dest" -name '*.la' >"$tmp/out"
if [ -s "$tmp/out" ]; then not_ok "no libtool .la file is installed"; else ok "no libtool .la file is installed"; fi
(cd "$dest$TJ_PKGLIBDIR" && ls) >"$tmp/out"
want=$(for p in $TJ_SHIPPED_PLUGINS; do echo "$p.so"; done | LC_ALL=C sort)
if [ "$(LC_ALL=C sort "$tmp/out")" = "$want" ]; then ok "the plugin directory holds exactly the shipped plugins"; else
	not_ok "the plugin directory holds exactly the shipped plugins"; fi
check "include/taskjet/plugin.h is the source header" \
	cmp "$dest$TJ_PKGINCLUDEDIR/plugin.h" "$top_srcdir/include/taskjet/plugin.h"
check "lib/pkgconfig/taskjet-plugin.pc is installed" test -f "$dest$TJ_PKGCONFIGDIR/taskjet-plugin.pc"
check "etc/taskjet/taskjet.json is the example config" \
	cmp "$dest$TJ_TJCONFDIR/taskjet.json" "$top_srcdir/conf/taskjet.json"
expect "the installed engine reads that config by default" 0 "$bin" check --help
has "its default config path is the installed one" "$TJ_TJCONFDIR/taskjet.json"
expect "taskjet --help names the default state_dir" 0 "$bin" --help
has "which is the configured localstatedir/lib/taskjet" "TASKJET_STATE_DIR .*\\(default $TJ_STATEDIR\\)"
# (Top-level keys are indented by one tab; the plugins' own state_dir
# keys sit deeper.)
grep -n "^$(printf '\t')\"state_dir\"" "$dest$TJ_TJCONFDIR/taskjet.json" >"$tmp/out"
if [ -s "$tmp/out" ]; then not_ok "the installed example names no top-level state_dir"; else
	ok "the installed example names no top-level state_dir"; fi

# Only the installed .pc is visible (not one in /usr/local, say). The .pc
# names the final prefix; PKG_CONFIG_SYSROOT_DIR maps it into the DESTDIR.
pc() { PKG_CONFIG_LIBDIR="$dest$TJ_PKGCONFIGDIR" PKG_CONFIG_PATH= "$@"; }
expect "pkg-config finds taskjet-plugin" 0 pc pkg-config --modversion taskjet-plugin
has "with the package version" "^$TJ_VERSION\$"
expect "pkg-config --variable=plugindir" 0 pc pkg-config --variable=plugindir taskjet-plugin
has "is the pkglibdir the plugins were installed to" "^$TJ_PKGLIBDIR\$"
cflags=$(pc env PKG_CONFIG_SYSROOT_DIR="$dest" pkg-config --cflags taskjet-plugin)
echo "$cflags" >"$tmp/out"
has "--cflags under the sysroot point into the DESTDIR" "^-I$dest/"
inc=$(echo "$cflags" | sed -n 's/^-I\([^ ]*\).*/\1/p')
check "the include dir holds taskjet/plugin.h" test -f "$inc/taskjet/plugin.h"

# examples/hello built by its own Makefile, out of tree, against the
# installed header only (the source tree's include/ is not on the path).
mkdir -p "$tmp/hello"
for f in hello.c Makefile taskjet.json; do cp "$top_srcdir/examples/hello/$f" "$tmp/hello/"; done
chmod u+w "$tmp/hello"/*
expect "examples/hello builds with its Makefile and pkg-config" 0 \
	pc env PKG_CONFIG_SYSROOT_DIR="$dest" \
	sh -c 'cd "$1" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
		"$2" CC="$3" CFLAGS="-O2 -g -Wall -Wextra -Werror -H"' sh "$tmp/hello" "$MAKE" "$TJ_CC"
has "it compiled the installed plugin.h" "^\. $inc/taskjet/plugin\.h"
nm -D --defined-only "$tmp/hello/hello.so" 2>&1 | awk '{print $NF}' | LC_ALL=C sort >"$tmp/out"
if [ "$(tr '\n' ' ' <"$tmp/out")" = "tj_plugin_fini tj_plugin_info tj_plugin_init " ]; then
	ok "hello.so exports exactly the three ABI symbols"; else not_ok "hello.so exports exactly the three ABI symbols"; fi
chmod 755 "$tmp/hello/hello.so"

# The example's own config: plugin_dir "." is the example's directory.
expect "the installed taskjet acks a task through hello.so" 0 "$bin" exec -c "$tmp/hello/taskjet.json" tasks.hello '"world"'
has "the task went to the hello handler" 'route hello \(plugin hello, handler hello\)'
has "hello used its route's config" 'howdy, "world" \(attempt 1\)'
has "the outcome is acked" '^outcome: acked$'
expect "an empty payload is dead-lettered (exit 1)" 1 sh -c '"$1" exec -c "$2" tasks.hello - </dev/null' sh "$bin" "$tmp/hello/taskjet.json"
# (exec prints "(after waiting N ms)" when the clock's millisecond ticked
# between publishing and handling.)
has "on its first attempt, without retries" 'attempt 1/5: fail +(\(after waiting [0-9]+ ms\) +)?-> dead-lettered \(handler_failed\)'
has "the dead letter carries the plugin's reason" '^ *Taskjet-Error: payload: empty$'
has "the dead letter names the plugin" '^ *Taskjet-Plugin: hello$'
has "the outcome is dead-lettered" '^outcome: dead-lettered$'
expect "taskjet plugins lists hello.so" 0 "$bin" plugins -c "$tmp/hello/taskjet.json"
has "with its descriptor" '^hello +1\.0\.0 +ABI 1\.1 +Log a greeting for every task$'
has "and its handler" '^ +handlers: hello$'

# The installed example config works with the installed plugins.
expect "the installed example config passes taskjet check" 0 \
	env TASKJET_PLUGIN_DIR="$dest$TJ_PKGLIBDIR" TASKJET_STATE_DIR="$tmp/var" \
	"$bin" check -c "$dest$TJ_TJCONFDIR/taskjet.json"
for r in provision deprovision update context-update; do
	has "check lists route $r" "^$r +[a-z.]+ +[A-Z]+ +[a-z-]+ +$r "
done
expect "taskjet plugins loads every installed plugin with that config" 0 \
	env TASKJET_PLUGIN_DIR="$dest$TJ_PKGLIBDIR" TASKJET_STATE_DIR="$tmp/var" \
	"$bin" plugins -c "$dest$TJ_TJCONFDIR/taskjet.json"
for p in $TJ_SHIPPED_PLUGINS; do
	has "plugins shows $p's handler" "^ +handlers: $p\$"
done

# `check` is read-only: with the installed config's default state_dir it
# creates nothing there (when that directory is not there already).
if [ ! -e "$TJ_STATEDIR" ]; then
	expect "check with the default state_dir" 0 \
		env TASKJET_PLUGIN_DIR="$dest$TJ_PKGLIBDIR" "$bin" check -c "$dest$TJ_TJCONFDIR/taskjet.json"
	check "check created no $TJ_STATEDIR" test ! -e "$TJ_STATEDIR"
fi
check "check created no state_dir under TASKJET_STATE_DIR" test ! -e "$tmp/var"

# An operator's edits survive a reinstall and an uninstall; the example
# goes beside the edited config.
conf="$dest$TJ_TJCONFDIR/taskjet.json"
sed 's/"level": "info"/"level": "debug"/' "$conf" >"$tmp/edited.json"
cp "$tmp/edited.json" "$conf"
expect "make install-data again over an edited config" 0 \
	submake -C "$top_builddir" install-data DESTDIR="$dest"
has "install says it keeps the edited config" "keeping your .*taskjet.json"
check "the edited config is untouched" cmp "$conf" "$tmp/edited.json"
check "the shipped example is beside it as taskjet.json.example" \
	cmp "$conf.example" "$top_srcdir/conf/taskjet.json"

expect "make uninstall from the DESTDIR" 0 submake -C "$top_builddir" uninstall DESTDIR="$dest"
has "uninstall says it keeps the edited config" "keeping .*taskjet.json: it is not the shipped example"
check "uninstall kept the edited config" cmp "$conf" "$tmp/edited.json"
check "uninstall removed taskjet.json.example" test ! -e "$conf.example"
rm -f "$conf"
find "$dest" ! -type d >"$tmp/out"
if [ -s "$tmp/out" ]; then not_ok "uninstall leaves no other file behind"; else ok "uninstall leaves no other file behind"; fi

# An unedited config is the package's: uninstall removes it.
expect "install again" 0 submake -C "$top_builddir" install-data DESTDIR="$dest"
check "a fresh config is the example" cmp "$conf" "$top_srcdir/conf/taskjet.json"
check "and no .example is made for it" test ! -e "$conf.example"
expect "uninstall again" 0 submake -C "$top_builddir" uninstall DESTDIR="$dest"
find "$dest" ! -type d >"$tmp/out"
if [ -s "$tmp/out" ]; then not_ok "uninstall removes the unedited config"; else ok "uninstall removes the unedited config"; fi

echo "1..$n"
[ "$failed" -eq 0 ]
