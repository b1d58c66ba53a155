#!/bin/sh
# SPDX-License-Identifier: MIT
# Plugins' state files survive a power loss whole (plugins/common/pfs.c):
# run the pfs write path, and a plugin's own tests, under an LD_PRELOAD
# shim that records fsync, rename, unlink and mkdir in order
# (tests/fixtures/fsync_trace.c), then require of the trace:
#   - a file renamed into place was fsynced before the rename (else the
#     new name can point at a torn or empty file);
#   - its directory is fsynced after the rename (else the rename itself
#     can be lost), and after an unlink or mkdir there, before the call
#     returns (pfs_writer marks each return).
# TAP output.
set -u
. "$top_srcdir/tests/tap.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tj-pfs-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tmp=$(cd "$tmp" && pwd -P) # the shim records resolved paths
shim="$top_builddir/tests/fixtures/.libs/fsync_trace.so"
asan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# traced TRACE COMMAND...: COMMAND under the shim, output in $tmp/out.
traced() {
	trace=$1
	shift
	: >"$trace"
	TJ_FSYNC_TRACE=$trace LD_PRELOAD=$shim ASAN_OPTIONS=$asan "$@" >"$tmp/out" 2>&1
}

# verdict TRACE ALL: the rules above over TRACE ("ALL" 1: unlink and mkdir
# too, and directory fsyncs due by each mark; 0: renames only, due by the
# end). Prints "bad: ..." lines, then "renames N dirs N".
verdict() {
	awk -v all="$2" '
	function dir(p) { sub("/[^/]*$", "", p); return p }
	function due(d, why) { if (!(d in pending)) pending[d] = why }
	function settle(at) {
		for (d in pending) print "bad: no fsync of " d " after " pending[d] " (" at ")"
		split("", pending)
	}
	$1 == "fsync" || $1 == "fdatasync" { synced[$2] = 1; delete pending[$2] }
	$1 == "rename" {
		if (!($2 in synced))
			print "bad: rename " $2 " -> " $3 " without an fsync of " $2 " before it"
		renames++
		due(dir($3), "rename to " $3)
	}
	$1 == "unlink" && all { due(dir($2), "unlink " $2) }
	$1 == "mkdir" && all { dirs++; due(dir($2), "mkdir " $2) }
	$1 == "mark" { settle("when " $2 " returned") }
	END { settle("at the end"); print "renames " renames + 0 " dirs " dirs + 0 }
	' "$1"
}

[ -f "$shim" ] && ok "the shim is built" || { echo "# missing $shim"; : >"$tmp/out"; not_ok "the shim is built"; }

# The shim itself: it records what it should, and a wrong order fails.
printf '%s\n' "rename $tmp/x.tmp $tmp/x" "fsync $tmp/x" >"$tmp/bad-order"
verdict "$tmp/bad-order" 0 >"$tmp/out"
has "the check refuses a rename before the file's fsync" "^bad: rename $tmp/x.tmp -> $tmp/x without"
has "and a rename without its directory's fsync" "^bad: no fsync of $tmp after rename"

if traced "$tmp/trace" "$top_builddir/tests/unit/pfs_writer" "$tmp/w" "$tmp/trace"; then
	ok "pfs_writer succeeds under the shim"
else
	not_ok "pfs_writer succeeds under the shim"
fi
sed 's/^/# trace: /' "$tmp/trace"
verdict "$tmp/trace" 1 >"$tmp/out"
lacks "pfs: fsync before rename, directory fsync after rename, unlink and mkdir" '^bad:'
has "pfs: the trace holds both writes and the three new directories" '^renames 2 dirs 3$'

# A plugin's real writes (its unit tests drive provision through the
# fake host): every record it renames into place was fsynced first.
if traced "$tmp/plugin-trace" "$top_builddir/tests/unit/test_plugin_provision"; then
	ok "provision's tests pass under the shim"
else
	not_ok "provision's tests pass under the shim"
fi
verdict "$tmp/plugin-trace" 0 >"$tmp/out"
lacks "provision: every record fsynced before its rename, then its directory" '^bad:'
has "provision: it renamed records into place" '^renames [1-9]'
tap_finish
