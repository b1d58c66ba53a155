#!/bin/sh
# The web dashboard in a real browser: headless Chromium, driven through
# chromedriver by dashboard_browser.py, against a real `taskjet run` and a
# real nats-server on 127.0.0.1. TAP output. Without Chromium, its driver,
# python3 or nats-server the test is skipped, or fails when CI is set (.ci/run
# installs them). Bounded: the run stops itself after four minutes, and
# `timeout` ends it a little later whatever happens.
set -u
here=$(dirname "$0")
nats_bin=${NATS_SERVER:-}
[ -n "$nats_bin" ] || nats_bin=/usr/sbin/nats-server
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export CHROMIUM CHROMEDRIVER

missing=""
[ -x "$CHROMIUM" ] || missing="$missing chromium"
[ -x "$CHROMEDRIVER" ] || missing="$missing chromium-driver"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
[ -x "$nats_bin" ] || missing="$missing nats-server"
command -v timeout >/dev/null 2>&1 || missing="$missing coreutils(timeout)"
if [ -n "$missing" ]; then
	echo "1..1"
	if [ -n "${CI:-}" ]; then
		echo "not ok 1 - the browser test needs:$missing (apt-get install$missing)"
		exit 1
	fi
	echo "ok 1 # SKIP not installed:$missing"
	exit 0
fi
exec timeout -k 10 300 python3 "$here/dashboard_browser.py"
