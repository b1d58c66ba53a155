#!/bin/sh
# README's layout section and docs/design.md's folder map match the tree:
# every folder of core/ (and the other top-level source folders) is named
# in both, every top-level folder is named in README's, and every folder
# they name exists. TAP output.
set -u
top=${top_srcdir:-.}
n=0
failed=0
check() { # NAME CONDITION...
	name=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n - $name"; else echo "not ok $n - $name"; failed=$((failed + 1)); fi
}
# The section of FILE from the heading HEADING to the next heading.
section() { awk -v h="$2" '$0 == h { on = 1; next } on && /^## / { exit } on' "$1"; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tj-layout-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
section "$top/README.md" "## Layout" >"$tmp/readme"
section "$top/docs/design.md" "## Where the code lives" >"$tmp/design"
check "README has a layout section" test -s "$tmp/readme"
check "docs/design.md has a folder map" test -s "$tmp/design"
for d in "$top"/core/*/; do
	f=core/$(basename "$d")
	# The folders of core/ by their own name (`util/`) in README, by path in design.md.
	check "README's layout names $f/" grep -q "\`$(basename "$d")/\`" "$tmp/readme"
	check "design.md's map names $f/" grep -q "\`$f/\`" "$tmp/design"
done
for f in common include/taskjet plugins tests bench examples; do
	check "design.md's map names $f/" grep -q "\`$f/" "$tmp/design"
done
# Every top-level folder is in README's layout: the ones git tracks, or,
# outside a git checkout of this tree (a release tarball, distcheck), the
# ones that are there less what autotools and the build make.
if [ -z "$(git -C "$top" rev-parse --show-prefix 2>/dev/null)" ] &&
	git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$top" ls-files | cut -d/ -f1 | sort -u >"$tmp/top"
else
	ls -A "$top" | grep -vxE 'build-aux|m4|autom4te\.cache|_.*|\.deps|\.libs' >"$tmp/top"
fi
while IFS= read -r d; do
	[ -d "$top/$d" ] || continue
	check "README's layout names $d/" grep -q "\`$d/" "$tmp/readme"
done <"$tmp/top"
# Every path either table names in backquotes exists.
for p in $(grep -o '`[a-z][a-z/_.-]*/`' "$tmp/readme" "$tmp/design" | cut -d'`' -f2 | sort -u); do
	case $p in
	*/*/* | core/* | common/ | include/* | tests/ | bench/ | conf/ | man/ | docs/ | scripts/ | plugins/*)
		check "$p exists" test -d "$top/$p" ;;
	*) check "$p exists (core/$p)" sh -c "test -d '$top/$p' || test -d '$top/core/$p' || test -d '$top/tests/$p' || test -d '$top/plugins/$p'" ;;
	esac
done
echo "1..$n"
[ "$failed" -eq 0 ]
