#!/bin/sh
# SPDX-License-Identifier: MIT
# The test harness fails a program that ran fewer tests than it declares
# or that ended before its plan, however it ended (tests/testing.c), and
# removes its temporary directory; see tests/unit/harness_probe.c. TAP.
set -u
. "$top_srcdir/tests/tap.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tj-harness-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
probe="$top_builddir/tests/unit/harness_probe"

expect "all tests run: exit 0" 0 "$probe" all
has "the plan counts three" '^1\.\.3$'
lacks "nothing failed" '^not ok'

expect "a declared test never run fails the program" 1 "$probe" forget
has "it is named" '^not ok 3 - third # declared with TEST\(\) but never run$'
has "and counted in the plan" '^1\.\.3$'

expect "exit(0) inside a test" 0 "$probe" exit
has "still bails out" '^Bail out! exited after 1 test\(s\) without reaching testing_done\(\)$'
lacks "and prints no plan" '^1\.\.'

expect "return 0 from main after one test" 0 "$probe" return
has "bails out too" '^Bail out! exited after 1 test'

expect "a forked child's exit() does not count" 0 "$probe" fork
lacks "no bail out" 'Bail out'
has "all three ran" '^ok 3 - third$'

expect "skipping the whole program" 0 "$probe" skip
has "is a TAP skip plan" '^1\.\.0 # SKIP asked to$'
lacks "without a bail out" 'Bail out'

expect "a test's temporary directory" 0 "$probe" tmp
dir=$(sed -n 's/^# tmpdir //p' "$tmp/out")
if [ -n "$dir" ] && [ ! -e "$dir" ]; then ok "is removed at exit"; else
	echo "# $dir is still there"; not_ok "is removed at exit"; fi
tap_finish
