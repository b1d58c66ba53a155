#!/bin/sh
# SPDX-License-Identifier: MIT
# Every fixture plugin and every shipped plugin exports exactly the ABI
# symbols (tj_plugin_info, tj_plugin_init, tj_plugin_fini) and nothing else:
# hidden visibility (also on common/libtjcommon.la, which the shipped ones
# link) plus the export list keep plugin internals out of the dynamic
# symbol table.
fixture_dir=${FIXTURE_PLUGIN_DIR:-${top_builddir:-.}/tests/fixtures/plugins/.libs}
fixtures=${FIXTURE_PLUGINS:-}
if [ -z "$fixtures" ]; then
	for f in "$fixture_dir"/*.so; do
		[ -e "$f" ] && fixtures="$fixtures $(basename "$f" .so)"
	done
fi
shipped_dir=${SHIPPED_PLUGIN_DIR:-${top_builddir:-.}/lib/taskjet}
shipped=${SHIPPED_PLUGINS:-}
if ! command -v nm >/dev/null 2>&1; then
	echo "1..0 # SKIP nm (binutils) not installed"
	exit 0
fi
if [ -z "$fixtures" ] || [ -z "$shipped" ]; then
	echo "Bail out! no fixture plugins in $fixture_dir or no SHIPPED_PLUGINS"
	exit 1
fi

n=0
fail=0
check() { # dir plugin
	n=$((n + 1))
	so="$1/$2.so"
	if [ ! -f "$so" ]; then
		echo "not ok $n - $2: $so missing"
		fail=1
		return
	fi
	# Defined dynamic symbols, minus the ABI ones: must be empty.
	extra=$(nm -D --defined-only "$so" | awk '{print $NF}' |
		grep -v -x -e tj_plugin_info -e tj_plugin_init -e tj_plugin_fini)
	abi=$(nm -D --defined-only "$so" | awk '{print $NF}' |
		grep -c -x -e tj_plugin_info -e tj_plugin_init -e tj_plugin_fini)
	if [ -n "$extra" ]; then
		echo "not ok $n - $2 exports only the ABI symbols"
		echo "$extra" | sed 's/^/# unexpected export: /'
		fail=1
	elif [ "$abi" -eq 0 ]; then
		echo "not ok $n - $2 exports none of the ABI symbols"
		fail=1
	else
		echo "ok $n - $2 exports only the ABI symbols ($abi of them)"
	fi
}
for p in $fixtures; do check "$fixture_dir" "$p"; done
for p in $shipped; do check "$shipped_dir" "$p"; done
echo "1..$n"
exit $fail
