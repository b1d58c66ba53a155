#!/bin/sh
# Run one test program, under valgrind when the build asked for it.
# Shell-script tests run as they are (they start the binaries themselves).
prog=$1
shift
case "$prog" in
*.sh) exec "${SHELL:-/bin/sh}" "$prog" "$@" ;;
esac
if [ -n "$VALGRIND" ]; then
	exec "$VALGRIND" --quiet --error-exitcode=99 --leak-check=full \
		--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		--track-fds=no --suppressions="$top_srcdir/tests/valgrind.supp" \
		"$prog" "$@"
fi
exec "$prog" "$@"
