#!/bin/sh
# SPDX-License-Identifier: MIT
# Every fixture plugin exports exactly the ABI symbols (tj_plugin_info,
# tj_plugin_init, tj_plugin_fini) and nothing else: hidden visibility plus
# the export list keep plugin internals out of the dynamic symbol table.
dir=${FIXTURE_PLUGIN_DIR:-${top_builddir:-.}/tests/fixtures/plugins/.libs}
plugins=${FIXTURE_PLUGINS:-}
if [ -z "$plugins" ]; then
	for f in "$dir"/*.so; do
		[ -e "$f" ] && plugins="$plugins $(basename "$f" .so)"
	done
fi
if ! command -v nm >/dev/null 2>&1; then
	echo "1..0 # SKIP nm (binutils) not installed"
	exit 0
fi
if [ -z "$plugins" ]; then
	echo "Bail out! no fixture plugins found in $dir"
	exit 1
fi

n=0
fail=0
for p in $plugins; do
	n=$((n + 1))
	so="$dir/$p.so"
	if [ ! -f "$so" ]; then
		echo "not ok $n - $p: $so missing"
		fail=1
		continue
	fi
	# Defined dynamic symbols, minus the ABI ones: must be empty.
	extra=$(nm -D --defined-only "$so" | awk '{print $NF}' |
		grep -v -x -e tj_plugin_info -e tj_plugin_init -e tj_plugin_fini)
	abi=$(nm -D --defined-only "$so" | awk '{print $NF}' |
		grep -c -x -e tj_plugin_info -e tj_plugin_init -e tj_plugin_fini)
	if [ -n "$extra" ]; then
		echo "not ok $n - $p exports only the ABI symbols"
		echo "$extra" | sed 's/^/# unexpected export: /'
		fail=1
	elif [ "$abi" -eq 0 ]; then
		echo "not ok $n - $p exports none of the ABI symbols"
		fail=1
	else
		echo "ok $n - $p exports only the ABI symbols ($abi of them)"
	fi
done
echo "1..$n"
exit $fail
