#!/bin/sh
# The systemd unit: generated with the configured paths, Type=notify with
# a watchdog, restart on failure, hardened, and accepted by
# `systemd-analyze verify` when systemd is installed. TAP output.
set -u
unit="$top_builddir/conf/taskjet.service"
tmp=$(mktemp -d /tmp/tj-unit-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }

if [ ! -f "$unit" ]; then
	not_ok "the unit was generated"
	echo "1..$n"
	exit 1
fi
ok "the unit was generated"
# One directive per line; the last assignment of a key is the one in force.
value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
want() { # key expected
	got=$(value "$1")
	if [ "$got" = "$2" ]; then ok "$1=$2"; else not_ok "$1=$2"; echo "# got: $got"; fi
}
want Type notify
want NotifyAccess main
want WatchdogSec 30s
want Restart on-failure
want KillSignal SIGTERM
want KillMode mixed
want StateDirectory taskjet
want 'Environment' 'TASKJET_STATE_DIR=%S/taskjet'
want User taskjet
want Group taskjet
want StateDirectoryMode 0750
want UMask 0027
# A dynamic user's state sits under /var/lib/private (root only), where no
# operator group could read the embedded server's URL.
if [ -n "$(value DynamicUser)" ] && [ "$(value DynamicUser)" != no ]; then
	not_ok "no DynamicUser (operators read the state directory)"
else
	ok "no DynamicUser (operators read the state directory)"
fi
want NoNewPrivileges yes
want ProtectSystem strict
want ProtectHome yes
want PrivateTmp yes
want PrivateDevices yes
want ProtectKernelTunables yes
want ProtectKernelModules yes
want RestrictAddressFamilies 'AF_UNIX AF_INET AF_INET6'
want ExecReload '/bin/kill -HUP $MAINPID'
want WantedBy multi-user.target

# Process isolation sets each worker's limits: @resources is denied, but
# setrlimit and prlimit64 are allowed back after that (order matters).
filters=$(sed -n 's/^SystemCallFilter=//p' "$unit")
deny_line=$(grep -n '^SystemCallFilter=~.*@resources' "$unit" | cut -d: -f1 | tail -1)
allow_line=$(grep -n '^SystemCallFilter=[^~]*setrlimit' "$unit" | cut -d: -f1 | tail -1)
if [ -n "$deny_line" ] && [ -n "$allow_line" ] && [ "$allow_line" -gt "$deny_line" ] &&
	printf '%s\n' "$filters" | tail -1 | grep -qw prlimit64; then
	ok "setrlimit and prlimit64 allowed after @resources is denied"
else
	not_ok "setrlimit and prlimit64 allowed after @resources is denied"
	printf '%s\n' "$filters" | sed 's/^/# /'
fi

exec_start=$(value ExecStart)
case "$exec_start" in
/*/taskjet\ run\ -c\ /*/taskjet/taskjet.json) ok "ExecStart runs the installed taskjet on the installed config" ;;
*) not_ok "ExecStart runs the installed taskjet on the installed config"; echo "# got: $exec_start" ;;
esac
if grep -n '@[a-zA-Z_]*@' "$unit"; then not_ok "no @variable@ left"; else ok "no @variable@ left"; fi

# TimeoutStopSec must leave room for the default shutdown_grace (30s).
stop=$(value TimeoutStopSec | sed 's/s$//')
case "$stop" in
'' | *[!0-9]*) not_ok "TimeoutStopSec is in seconds"; echo "# got: $stop" ;;
*) [ "$stop" -gt 30 ] && ok "TimeoutStopSec ($stop s) exceeds shutdown_grace (30 s)" ||
	not_ok "TimeoutStopSec ($stop s) exceeds shutdown_grace (30 s)" ;;
esac

# systemd-analyze verify checks every directive and that ExecStart can
# run; point it at the built binary, since nothing is installed yet.
if [ -z "${SYSTEMD_ANALYZE:-}" ]; then
	echo "ok $((n + 1)) - systemd-analyze verify # SKIP systemd-analyze not installed"
	n=$((n + 1))
else
	bin=$(printf '%s' "$exec_start" | cut -d' ' -f1)
	sed "s|^ExecStart=$bin |ExecStart=$top_builddir/taskjet |" "$unit" >"$tmp/taskjet.service"
	# Without a running systemd it still parses the unit; messages about
	# the host's own units or a missing bus are not about ours.
	SYSTEMD_LOG_LEVEL=warning "$SYSTEMD_ANALYZE" verify --man=no "$tmp/taskjet.service" \
		>"$tmp/out" 2>&1
	status=$?
	if grep -q 'taskjet.service' "$tmp/out" || [ $status -ne 0 ]; then
		not_ok "systemd-analyze verify"
		sed 's/^/# /' "$tmp/out"
	else
		ok "systemd-analyze verify"
	fi
fi

echo "1..$n"
[ "$failed" -eq 0 ]
