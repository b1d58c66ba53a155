# Shell helpers for the command-line tests (sourced by tests/unit/test_cli.sh
# and tests/integration/test_dlq_cli.sh): run a command on a pseudo-terminal,
# and check what it drew. They use the caller's $tmp, ok and not_ok; the
# last command's output is in $tmp/out.

ESC=$(printf '\033')
CR=$(printf '\r')

# on_tty NAME STATUS COMMAND: run COMMAND (a shell string) on a pseudo-
# terminal (script(1) from util-linux, always on Debian) of $TTY_COLS columns
# (default 100), with TERM=${TTY_TERM:-xterm}, a UTF-8 locale and NO_COLOR
# unset unless $TTY_NO_COLOR is set. What it wrote, byte for byte, goes to
# $tmp/raw; $tmp/out gets it as lines: escape sequences removed, and every
# carriage return but those of line ends a line break.
on_tty() {
	name=$1 want=$2
	env -u NO_COLOR ${TTY_NO_COLOR:+NO_COLOR=$TTY_NO_COLOR} TERM="${TTY_TERM:-xterm}" \
		LC_ALL=C.UTF-8 script -qefc "stty cols ${TTY_COLS:-100} rows 50; $3" /dev/null \
		</dev/null >"$tmp/raw" 2>&1
	got=$?
	sed -e "s/$ESC\[[0-9;]*[A-Za-z]//g" -e "s/$CR\$//" "$tmp/raw" | tr "$CR" '\n' >"$tmp/out"
	if [ "$got" -eq "$want" ]; then ok "$name"; else echo "# exit $got, wanted $want"; not_ok "$name"; fi
}

# has_raw / lacks_raw NAME STRING: what the last on_tty drew holds STRING
# (fixed; may hold $ESC and $CR), or does not.
has_raw() {
	if grep -qF -- "$2" "$tmp/raw"; then ok "$1"; else echo "# lacks: $2" | cat -v; not_ok "$1"; fi
}
lacks_raw() {
	if grep -qF -- "$2" "$tmp/raw"; then echo "# has: $2" | cat -v; not_ok "$1"; else ok "$1"; fi
}

# count_lines PATTERN: how many lines of the last output match.
count_lines() {
	grep -cE -- "$1" "$tmp/out"
}

# fits NAME COLUMNS: no line of the last output is wider than COLUMNS
# (counting characters, not bytes).
fits() {
	widest=$(LC_ALL=C awk '{ gsub(/[\200-\277]/, ""); if (length($0) > m) m = length($0) }
		END { print m + 0 }' "$tmp/out")
	if [ "$widest" -le "$2" ]; then ok "$1"; else echo "# a line is $widest wide"; not_ok "$1"; fi
}

# aligned NAME HEADER-RE ROW-RE TITLE CELL [right]: in the last output, on
# the first row matching ROW-RE after the first header line matching
# HEADER-RE, CELL starts where TITLE starts in the header (or, with
# "right", ends where it ends).
aligned() {
	# Each UTF-8 character (an ellipsis, say) counted as one byte.
	if LC_ALL=C awk -v h="$2" -v r="$3" -v t="$4" -v c="$5" -v right="${6:-}" '
		{ gsub(/[\300-\377][\200-\277]*/, "?") }
		hdr == "" && $0 ~ h { hdr = $0; next }
		hdr != "" && row == "" && $0 ~ r { row = $0 }
		END {
			p = index(hdr, t)
			if (p == 0 || row == "")
				exit 1
			if (right != "")
				p += length(t) - length(c)
			exit !(substr(row, p, length(c)) == c && (p == 1 || substr(row, p - 1, 1) == " "))
		}' "$tmp/out"; then
		ok "$1"
	else
		echo "# \"$5\" is not under \"$4\""
		not_ok "$1"
	fi
}
