#!/bin/sh
# The man pages: they format without warnings (groff -ww, and mandoc -Tlint
# when installed), taskjet.1 names every flag of every command (from each
# command's --help and from its option table in core/cli/cmd_*.c), and
# taskjet.json.5 names every key and environment variable of
# docs/config.md, each in its own section. TAP output.
set -u
bin="$top_builddir/taskjet"
man1="$top_builddir/man/taskjet.1"
man5="$top_builddir/man/taskjet.json.5"
config_md="$top_srcdir/docs/config.md"
command_h="$top_srcdir/core/cli/command.h"
tmp=$(mktemp -d /tmp/tj-man-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

# The roff source with escapes for hyphens and fonts undone, so flags and
# keys read as typed: \-\-log\-file -> --log-file, \fBx\fR -> x.
plain() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' -e 's/\\e/\\/g' "$1"
}
# The lines of a plain page between `.SS name` (or `.SH name`) and the next
# .SS/.SH heading.
section() { # file heading
	plain "$1" | awk -v h="$2" '
		/^\.S[SH] / { t = substr($0, 5); gsub(/"/, "", t); on = (t == h); next }
		on { print }'
}

for page in "$man1" "$man5"; do
	name=$(basename "$page")
	if [ ! -f "$page" ]; then
		not_ok "$name was built"
		continue
	fi
	if [ -z "${GROFF:-}" ]; then
		skip "$name formats without groff warnings" "groff not installed"
	else
		# All warnings but "break": a long installed path (say, under
		# make distcheck's prefix) cannot be broken at 80 columns, which
		# is typography, not a mistake in the page.
		"$GROFF" -man -Tutf8 -ww -Wbreak -z "$page" >"$tmp/out" 2>&1
		if [ $? -eq 0 ] && [ ! -s "$tmp/out" ]; then
			ok "$name formats without groff warnings"
		else
			not_ok "$name formats without groff warnings"
			sed 's/^/# /' "$tmp/out"
		fi
	fi
	if [ -z "${MANDOC:-}" ]; then
		skip "$name passes mandoc -Tlint" "mandoc not installed"
	else
		# The cross-references to other packages' pages are not ours to
		# check, and STYLE-level remarks are advice.
		"$MANDOC" -Tlint -Wwarning "$page" 2>&1 |
			grep -v 'referenced manual not found' >"$tmp/out"
		if [ ! -s "$tmp/out" ]; then
			ok "$name passes mandoc -Tlint"
		else
			not_ok "$name passes mandoc -Tlint"
			sed 's/^/# /' "$tmp/out"
		fi
	fi
done
[ -f "$man1" ] && [ -f "$man5" ] || { echo "1..$n"; exit 1; }

# Every command listed by `taskjet --help` has a section, and every flag
# of its --help is in it; a short option must be paired with the same long
# one on one line, as in the help.
"$bin" --help >"$tmp/help" 2>&1
commands=$(awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' "$tmp/help")
[ -n "$commands" ] && ok "taskjet --help lists commands" || not_ok "taskjet --help lists commands"
for cmd in $commands; do
	section "$man1" "$cmd" >"$tmp/sec"
	if [ ! -s "$tmp/sec" ]; then
		not_ok "taskjet.1 has a section for $cmd"
		continue
	fi
	ok "taskjet.1 has a section for $cmd"
	"$bin" "$cmd" --help >"$tmp/chelp" 2>&1
	missing=""
	for flag in $(grep -oE -- '--[a-z][a-z-]*' "$tmp/chelp" | sort -u); do
		grep -qE -- "(^|[^a-z-])$flag([^a-z-]|\$)" "$tmp/sec" || missing="$missing $flag"
	done
	# "  -c, --config FILE": the pair must be the same in the page.
	pairs=$(grep -oE -- '^ +-[A-Za-z], --[a-z][a-z-]*' "$tmp/chelp" | tr -d ' ')
	for pair in $pairs; do
		short=${pair%%,*} long=${pair#*,}
		grep -E -- "(^|[^a-z-])$short([^a-z-]|\$)" "$tmp/sec" |
			grep -qE -- "$long([^a-z-]|\$)" || missing="$missing $short,$long"
	done
	# The option table too, so a flag the help forgot is still caught:
	# the command's own options, CLI_OPTION("name", ...), and the shared
	# ones, CLI_OPT_NAME, whose long names command.h defines.
	src="$top_srcdir/core/cli/cmd_$cmd.c"
	longs=""
	if [ -f "$src" ]; then
		longs=$(grep -oE 'CLI_OPTION\("[a-z][a-z-]*"' "$src" | sed -E 's/^CLI_OPTION\("(.*)"$/\1/')
		for macro in $(grep -oE 'CLI_OPT_[A-Z_]+' "$src" | grep -vx CLI_OPT_END | sort -u); do
			long=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$command_h" |
				sed -nE "s/^#define $macro[[:space:]]+CLI_SHARED_OPTION\(\"([a-z][a-z-]*)\".*/\1/p")
			[ -n "$long" ] && longs="$longs $long" || missing="$missing $macro(not in command.h)"
		done
	fi
	[ -n "$longs" ] || missing="$missing (no option table read from $src)"
	for long in $(printf '%s\n' $longs | sort -u); do
		grep -qE -- "(^|[^a-z-])--$long([^a-z-]|\$)" "$tmp/sec" ||
			missing="$missing --$long(option table)"
	done
	if [ -z "$missing" ]; then
		ok "taskjet.1 documents every flag of taskjet $cmd"
	else
		not_ok "taskjet.1 documents every flag of taskjet $cmd"
		echo "# missing:$missing"
	fi
done

# The global options and the environment of `taskjet --help`.
section "$man1" OPTIONS >"$tmp/sec"
missing=""
for flag in $(awk '/^Global options:/ { on = 1; next } on && /^$/ { exit } on' "$tmp/help" |
	grep -oE -- '--?[a-zA-Z][a-z-]*'); do
	grep -qE -- "(^|[^a-z-])$flag([^a-z-]|\$)" "$tmp/sec" || missing="$missing $flag"
done
[ -z "$missing" ] && ok "taskjet.1 documents the global options" ||
	{ not_ok "taskjet.1 documents the global options"; echo "# missing:$missing"; }
section "$man1" ENVIRONMENT >"$tmp/sec"
missing=""
for var in $(awk '/^Environment:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' "$tmp/help") \
	$(grep -oE '^\| `[A-Z_]+`' "$config_md" | tr -d '|` '); do
	grep -qw -- "$var" "$tmp/sec" || missing="$missing $var"
done
[ -z "$missing" ] && ok "taskjet.1 documents every environment variable" ||
	{ not_ok "taskjet.1 documents every environment variable"; echo "# missing:$missing"; }
section "$man1" "EXIT STATUS" >"$tmp/sec"
missing=""
for code in $(awk '/^Exit status:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' "$tmp/help"); do
	grep -qx -- "\.B $code" "$tmp/sec" || missing="$missing $code"
done
[ -z "$missing" ] && ok "taskjet.1 documents every exit status" ||
	{ not_ok "taskjet.1 documents every exit status"; echo "# missing:$missing"; }

# docs/config.md: each "## Top level" / "### `name`" table (and the
# "`backoff`:" one under routes) maps to a section of taskjet.json.5 where
# each key must be a tag (.B key after .TP).
awk '
	/^## Top level/ { sec = "Top level"; next }
	/^### `/ { sec = $2; gsub(/`/, "", sec); next }
	/^`[a-z_]+`:$/ { sec = $1; gsub(/[`:]/, "", sec); sec = "routes[]." sec; next }
	/^## / { sec = ""; next }
	sec != "" && /^\| `[a-z_]+` \|/ { key = $2; gsub(/`/, "", key); print sec "\t" key }
' "$config_md" >"$tmp/keys"
count=$(wc -l <"$tmp/keys")
[ "$count" -ge 50 ] && ok "docs/config.md lists $count keys" ||
	not_ok "docs/config.md lists keys (found $count, expected at least 50)"
missing=""
while IFS="	" read -r sec key; do
	section "$man5" "$sec" | grep -qx -- "\.B $key" || missing="$missing $sec:$key"
done <"$tmp/keys"
[ -z "$missing" ] && ok "taskjet.json.5 documents every key of docs/config.md" ||
	{ not_ok "taskjet.json.5 documents every key of docs/config.md"; echo "# missing:$missing"; }
section "$man5" ENVIRONMENT >"$tmp/sec"
missing=""
for var in $(grep -oE '^\| `[A-Z_]+`' "$config_md" | tr -d '|` '); do
	grep -qx -- "\.B $var" "$tmp/sec" || missing="$missing $var"
done
[ -z "$missing" ] && ok "taskjet.json.5 documents every environment override" ||
	{ not_ok "taskjet.json.5 documents every environment override"; echo "# missing:$missing"; }

# The installed paths were filled in.
if grep -n '@[a-zA-Z_]*@' "$man1" "$man5" >"$tmp/out"; then
	not_ok "no @variable@ left in the pages"; sed 's/^/# /' "$tmp/out"
else
	ok "no @variable@ left in the pages"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
