#!/bin/sh
# The HTTP endpoint end to end: the real `taskjet run` on the memory backend
# (auth, input errors, a full queue) and on a real nats-server (intake,
# metrics and stats matching what was processed, readiness flipping while
# the server is stopped and restarted), and every curl example of docs/*.md
# as written. curl is the client. TAP output.
# Without nats-server the JetStream part is skipped, or fails when CI is set.
set -u
bin="$top_builddir/taskjet"
plugins="$top_builddir/tests/fixtures/plugins/.libs"
nats_bin=${NATS_SERVER:-}
[ -n "$nats_bin" ] || nats_bin=/usr/sbin/nats-server
tmp=$(mktemp -d /tmp/tj-http-XXXXXX)
tj_pid=""
nats_pid=""
cleanup() {
	[ -n "$tj_pid" ] && kill -KILL "$tj_pid" 2>/dev/null
	[ -n "$nats_pid" ] && kill -KILL "$nats_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
	[ -f "$tmp/body" ] && sed 's/^/# body: /' "$tmp/body" | head -20
}
check() { # name condition-command...
	name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

if ! command -v curl >/dev/null 2>&1; then
	echo "1..1"
	if [ -n "${CI:-}" ]; then echo "not ok 1 - curl is required (apt-get install curl)"; exit 1; fi
	echo "ok 1 # SKIP curl is not installed"
	exit 0
fi

base=""
"$bin" --version >"$tmp/version" 2>&1
# req METHOD PATH [curl args...]: sets $code, body in $tmp/body. Sent as
# JSON, as a request that changes something must be; rawreq sends only
# what it is given (the content-type and cross-site rules).
req() {
	m=$1 p=$2; shift 2
	code=$(curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' --max-time 20 -X "$m" \
		-H 'Content-Type: application/json' "$@" "$base$p")
}
rawreq() {
	m=$1 p=$2; shift 2
	code=$(curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' --max-time 20 -X "$m" \
		"$@" "$base$p")
}
expect_raw() { # name want METHOD PATH [curl args...]
	name=$1 want=$2; shift 2
	rawreq "$@"
	if [ "$code" = "$want" ]; then ok "$name"; else echo "# got HTTP $code, wanted $want"; not_ok "$name"; fi
}
header_has() { # name extended-regex (in the last response's headers)
	if grep -qiE -- "$2" "$tmp/headers"; then ok "$1"; else echo "# headers lack: $2"; not_ok "$1"; fi
}
expect_code() { # name want METHOD PATH [curl args...]
	name=$1 want=$2; shift 2
	req "$@"
	if [ "$code" = "$want" ]; then ok "$name"; else echo "# got HTTP $code, wanted $want"; not_ok "$name"; fi
}
body_has() { # name extended-regex
	if grep -qE -- "$2" "$tmp/body"; then ok "$1"; else echo "# body lacks: $2"; not_ok "$1"; fi
}
# The value of an exact sample line "NAME{LABELS} VALUE" in $tmp/body.
sample() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/body"; }
sample_is() { # name series want
	got=$(sample "$2")
	if [ "$got" = "$3" ]; then ok "$1"; else echo "# $2 = '$got', wanted $3"; not_ok "$1"; fi
}

# start_taskjet CONFIG: runs it, waits (bounded) for its HTTP port; sets base.
start_taskjet() {
	: >"$tmp/tj.log"
	"$bin" run -c "$1" >"$tmp/tj.log" 2>&1 &
	tj_pid=$!
	i=0
	while [ $i -lt 200 ]; do
		port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/tj.log" | head -1)
		[ -n "$port" ] && break
		kill -0 "$tj_pid" 2>/dev/null || break
		sleep 0.05; i=$((i + 1))
	done
	base="http://127.0.0.1:$port"
	[ -n "$port" ]
}
stop_taskjet() {
	kill -TERM "$tj_pid" 2>/dev/null
	wait "$tj_pid"
	st=$?
	tj_pid=""
	return $st
}
# poll PATH WANT-CODE SECONDS: until GET PATH answers WANT-CODE.
poll() {
	deadline=$(($(date +%s) + $3))
	while :; do
		req GET "$1"
		[ "$code" = "$2" ] && return 0
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# ---------------------------------------------------------------- memory
printf 's3cret-token\n' >"$tmp/token"
# A token file others can read is refused at start, naming it and its mode.
chmod 644 "$tmp/token"
cat >"$tmp/open-token.json" <<JSON
{
  "plugin_dir": "$plugins", "state_dir": "$tmp/state", "backend": "memory",
  "http": { "listen": "127.0.0.1:0", "token_file": "$tmp/token" },
  "streams": [ { "name": "TASKS", "subjects": ["tasks.>"] } ],
  "routes": [ { "name": "slow", "stream": "TASKS", "subject": "tasks.slow", "plugin": "fx_behave" } ]
}
JSON
"$bin" run -c "$tmp/open-token.json" >"$tmp/tj.log" 2>&1
st=$?
check "a token file readable by others stops the run with exit 78" [ "$st" = 78 ]
check "the refusal names the file and its mode" \
	grep -q "http.token_file $tmp/token is readable by group and others (mode 0644)" "$tmp/tj.log"
chmod 640 "$tmp/token"
"$bin" run -c "$tmp/open-token.json" >"$tmp/tj.log" 2>&1
st=$?
check "a token file its group can read is refused too" \
	sh -c "[ $st = 78 ] && grep -q 'readable by its group (mode 0640)' '$tmp/tj.log'"
chmod 600 "$tmp/token"
cat >"$tmp/mem.json" <<JSON
{
  "plugin_dir": "$plugins", "state_dir": "$tmp/state", "backend": "memory",
  "worker_id": "http-mem",
  "memory": { "capacity": 2 },
  "http": { "listen": "127.0.0.1:0", "token_file": "$tmp/token", "max_body": "512",
            "hosts": ["tj.example"] },
  "streams": [ { "name": "TASKS", "subjects": ["tasks.>"] } ],
  "routes": [ { "name": "slow", "stream": "TASKS", "subject": "tasks.slow",
                "plugin": "fx_behave", "config": { "sleep_ms": 3000 } } ]
}
JSON
auth="Authorization: Bearer s3cret-token"
if check "memory: taskjet run serves HTTP on the configured loopback port" start_taskjet "$tmp/mem.json"; then
	expect_code "GET /healthz is 200" 200 GET /healthz
	body_has "/healthz says ok, names taskjet and the worker" '^\{"status":"ok","service":"taskjet","worker_id":"http-mem"\}$'
	expect_code "GET /readyz is 200 on the memory backend" 200 GET /readyz
	body_has "/readyz says ready, names taskjet and the worker" '^\{"status":"ready","service":"taskjet","worker_id":"http-mem"\}$'
	expect_code "GET /stats needs no token" 200 GET /stats
	# The dashboard: its page and files as built in, under a strict CSP.
	expect_code "GET / is the dashboard" 200 GET / -D "$tmp/headers"
	body_has "the page loads only its own script" '^<script src="dashboard/dashboard\.js" defer></script>$'
	check "the page has a strict Content-Security-Policy" grep -qi \
		"^Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" "$tmp/headers"
	check "the page is not sniffed, framed or referred" sh -c \
		"grep -qi '^X-Content-Type-Options: nosniff' '$tmp/headers' && grep -qi '^X-Frame-Options: DENY' '$tmp/headers' && grep -qi '^Referrer-Policy: no-referrer' '$tmp/headers'"
	for f in index.html dashboard.js dashboard.css favicon.svg; do
		expect_code "GET /dashboard/$f" 200 GET "/dashboard/$f" -D "$tmp/headers"
		check "/dashboard/$f is the file built in, byte for byte" \
			cmp -s "$tmp/body" "$top_srcdir/core/http/dashboard/$f"
	done
	req GET /dashboard/dashboard.js -D "$tmp/headers"
	check "the script is served as JavaScript" grep -qi '^Content-Type: text/javascript' "$tmp/headers"
	expect_code "an unknown dashboard file is 404" 404 GET /dashboard/nope.js
	expect_code "POST / is 405" 405 POST / -H "$auth"
	expect_code "GET /api/v1/overview is 200" 200 GET /api/v1/overview
	body_has "the overview says backend, readiness and that a token is required" \
		'"backend":"memory","location":"memory","connection":null,"ready":true,"not_ready_reason":null,"token_required":true,'
	body_has "the overview has the route with its plugin's version" \
		'"routes":\[\{"name":"slow","subject":"tasks\.slow","stream":"TASKS","consumer":null,"plugin":\{"name":"fx_behave","handler":"fx_behave","version":"1\.0\.0"\},"isolation":"(thread|process)","concurrency":1,'
	expect_code "DELETE /api/v1/overview is 405" 405 DELETE /api/v1/overview -H "$auth"
	expect_code "POST without a token is 401" 401 POST /api/v1/tasks -d '{"subject":"tasks.slow"}'
	body_has "the 401 says why" 'bearer token'
	expect_code "POST with a wrong token is 401" 401 POST /api/v1/tasks \
		-H "Authorization: Bearer s3cret-tokeX" -d '{"subject":"tasks.slow"}'
	expect_code "POST with a token prefix is 401" 401 POST /api/v1/tasks \
		-H "Authorization: Bearer s3cret" -d '{"subject":"tasks.slow"}'
	expect_code "DELETE without a token is 401 too" 401 DELETE /api/v1/dlq/1
	expect_code "bad JSON is 400" 400 POST /api/v1/tasks -H "$auth" -d '{"subject":'
	body_has "the 400 names the problem" 'invalid JSON'
	expect_code "a missing subject is 400" 400 POST /api/v1/tasks -H "$auth" -d '{"payload":1}'
	body_has "the 400 names the subject" '\\"subject\\" is required'
	expect_code "an unknown key is 400" 400 POST /api/v1/tasks -H "$auth" -d '{"subject":"tasks.slow","paylod":1}'
	expect_code "a subject no stream takes is 400" 400 POST /api/v1/tasks -H "$auth" -d '{"subject":"orders.new"}'
	expect_code "a wildcard subject is 400" 400 POST /api/v1/tasks -H "$auth" -d '{"subject":"tasks.*"}'
	big=$(head -c 600 /dev/zero | tr '\0' 'x')
	expect_code "a body over max_body is 413" 413 POST /api/v1/tasks -H "$auth" \
		-d "{\"subject\":\"tasks.slow\",\"payload\":\"$big\"}"
	printf '{"subject":"tasks.slow","payload":"%s"}' "$big" >"$tmp/big.json"
	expect_code "a chunked body over max_body is 413" 413 POST /api/v1/tasks -H "$auth" \
		-H "Transfer-Encoding: chunked" --data-binary @"$tmp/big.json"
	expect_code "a good task is 201" 201 POST /api/v1/tasks -H "$auth" \
		-H "Origin: $base" -H 'Sec-Fetch-Site: same-origin' -d '{"subject":"tasks.slow","payload":"a"}'
	body_has "the reply has stream and sequence" '"stream":"TASKS","seq":1,'
	expect_code "a second task fills the queue (a name in http.hosts)" 201 POST /api/v1/tasks -H "$auth" \
		-H 'Host: tj.example:8222' -H 'Origin: http://tj.example:8222' \
		-H 'Content-Type: application/json; charset=utf-8' -d '{"subject":"tasks.slow","payload":"b"}'
	expect_code "a full memory queue is 503" 503 POST /api/v1/tasks -H "$auth" -d '{"subject":"tasks.slow","payload":"c"}'
	body_has "the 503 says the queue is full" 'queue is full'
	expect_code "an unknown path is 404" 404 GET /nope
	expect_code "POST /metrics is 405" 405 POST /metrics -H "$auth"

	# The token guards dead letters too; health, readiness and metrics
	# stay open.
	expect_code "GET /api/v1/dlq without a token is 401" 401 GET /api/v1/dlq
	expect_code "GET /api/v1/dlq/1 without a token is 401" 401 GET /api/v1/dlq/1
	expect_code "GET /api/v1/dlq with the token is 200" 200 GET /api/v1/dlq -H "$auth"
	expect_code "GET /metrics needs no token" 200 GET /metrics
	expect_code "GET /readyz needs no token" 200 GET /readyz

	# Cross-site requests: a page elsewhere can send a form or text/plain
	# without asking first, and names itself in Origin.
	expect_raw "POST as text/plain is 415" 415 POST /api/v1/tasks -H "$auth" \
		-H 'Content-Type: text/plain' -d '{"subject":"tasks.slow"}'
	body_has "the 415 says what to send" 'Content-Type: application/json'
	expect_raw "POST as a form is 415" 415 POST /api/v1/tasks -H "$auth" -d '{"subject":"tasks.slow"}'
	expect_raw "POST without a Content-Type is 415" 415 POST /api/v1/dlq/1/replay -H "$auth"
	expect_code "POST from another origin is 403" 403 POST /api/v1/tasks -H "$auth" \
		-H 'Origin: http://evil.example' -d '{"subject":"tasks.slow"}'
	body_has "the 403 names the origin" 'cross-site request refused: Origin http://evil.example is not this server'
	expect_code "a cross-site fetch is 403" 403 POST /api/v1/tasks -H "$auth" \
		-H 'Sec-Fetch-Site: cross-site' -d '{"subject":"tasks.slow"}'
	expect_code "DELETE from another origin is 403" 403 DELETE /api/v1/dlq/1 -H "$auth" \
		-H 'Origin: http://evil.example'
	expect_code "an Origin of null is 403" 403 POST /api/v1/tasks -H "$auth" -H 'Origin: null' \
		-d '{"subject":"tasks.slow"}'
	expect_code "a rebound host name is 403" 403 GET /api/v1/dlq -H "$auth" -H 'Host: evil.example'
	body_has "the 403 names the host" 'Host \\"evil.example\\" is not a name of this server'
	expect_code "a preflight gets no CORS permission" 405 OPTIONS /api/v1/tasks \
		-H 'Origin: http://evil.example' -H 'Access-Control-Request-Method: POST'
	if grep -qi '^Access-Control-Allow' "$tmp/headers"; then not_ok "no Access-Control-Allow-* header"; else ok "no Access-Control-Allow-* header"; fi
	expect_code "GET /healthz" 200 GET /healthz
	header_has "responses forbid sniffing" '^X-Content-Type-Options: nosniff'
	header_has "and framing" "^Content-Security-Policy: default-src 'none'; frame-ancestors 'none'"
	header_has "and embedding elsewhere" '^Cross-Origin-Resource-Policy: same-origin'
	header_has "and caching" '^Cache-Control: no-store'

	check "memory: taskjet run stops cleanly" stop_taskjet
	check "memory: libmicrohttpd logs nothing on its own" sh -c "! grep -q 'MHD_OPTION' '$tmp/tj.log'"
fi

# --------------------------------------------------- memory dead letters
# The DLQ API works on the memory backend too: its letters live in the
# process, and list, show, replay and delete act on them.
cat >"$tmp/memdlq.json" <<JSON
{
  "plugin_dir": "$plugins", "state_dir": "$tmp/state", "backend": "memory",
  "http": { "listen": "127.0.0.1:0" },
  "streams": [ { "name": "TASKS", "subjects": ["tasks.>"] } ],
  "routes": [ { "name": "x", "stream": "TASKS", "subject": "tasks.x", "plugin": "fx_behave" },
              { "name": "deep", "stream": "TASKS", "subject": "tasks.deep", "plugin": "fx_behave",
                "payload": "json", "payload_max_depth": 1000 } ]
}
JSON
# nested N: a JSON array nested N deep.
nested() { printf '%*s' "$1" '' | tr ' ' '['; printf '%*s' "$1" '' | tr ' ' ']'; }
# poll_body PATH REGEX SECONDS: until GET PATH answers 200 with REGEX.
poll_body() {
	deadline=$(($(date +%s) + $3))
	while :; do
		req GET "$1"
		[ "$code" = 200 ] && grep -qE -- "$2" "$tmp/body" && return 0
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}
if check "memory DLQ: taskjet run serves HTTP" start_taskjet "$tmp/memdlq.json"; then
	expect_code "memory DLQ: a failing task is accepted" 201 POST /api/v1/tasks -d '{"subject":"tasks.x","payload":"fail"}'
	check "memory DLQ: the letter is listed" poll_body /api/v1/dlq '"count":1,' 10
	body_has "memory DLQ: the list names the reason" '"reason":"handler_failed"'
	expect_code "memory DLQ: GET one letter is 200" 200 GET /api/v1/dlq/1
	body_has "memory DLQ: it has the payload" '"payload":"fail"'
	body_has "memory DLQ: it has the original subject" '"subject":"tasks.x"'
	expect_code "memory DLQ: replay is 200" 200 POST /api/v1/dlq/1/replay
	body_has "memory DLQ: the replay went to TASKS" '"stream":"TASKS"'
	expect_code "memory DLQ: the replayed letter is gone" 404 GET /api/v1/dlq/1
	check "memory DLQ: the replayed task failed again into letter 2" poll_body /api/v1/dlq/2 '"payload":"fail"' 10
	expect_code "intake: a payload 900 deep is taken for a route that allows 1000" 201 \
		POST /api/v1/tasks -d "{\"subject\":\"tasks.deep\",\"payload\":$(nested 900)}"
	expect_code "intake: one 1100 deep is refused" 400 \
		POST /api/v1/tasks -d "{\"subject\":\"tasks.deep\",\"payload\":$(nested 1100)}"
	body_has "intake: the 400 names the nesting limit" 'nesting deeper than 1001'
	expect_code "memory DLQ: DELETE is 200" 200 DELETE /api/v1/dlq/2
	expect_code "memory DLQ: a deleted letter is 404" 404 GET /api/v1/dlq/2
	expect_code "memory DLQ: deleting it again is 404" 404 DELETE /api/v1/dlq/2
	check "memory DLQ: taskjet run stops cleanly" stop_taskjet
fi

# ---------------------------------------------- no token: cross-site attack
# With no http.token_file, what keeps a web page open in a browser on this
# host from queueing tasks or replaying and deleting dead letters is the
# Origin and Content-Type rule alone (core/http/policy.c): a cross-site
# request is 403, a simple (form or text/plain) one is 415, and neither
# changes anything.
if check "no token: taskjet run serves HTTP" start_taskjet "$tmp/memdlq.json"; then
	expect_code "no token: the overview says no token is required" 200 GET /api/v1/overview
	body_has "no token: token_required is false" '"token_required":false,'
	expect_code "no token: a failing task is accepted" 201 POST /api/v1/tasks -d '{"subject":"tasks.x","payload":"fail"}'
	check "no token: its letter is listed" poll_body /api/v1/dlq '"count":1,' 10
	evil='Origin: http://evil.example'
	expect_raw "no token: POST a task from evil.example as text/plain is 403" 403 POST /api/v1/tasks \
		-H "$evil" -H 'Content-Type: text/plain' -d '{"subject":"tasks.x","payload":"fail"}'
	body_has "no token: the 403 names the origin" 'Origin http://evil.example is not this server'
	expect_raw "no token: a text/plain task with no Origin is 415" 415 POST /api/v1/tasks \
		-H 'Content-Type: text/plain' -d '{"subject":"tasks.x","payload":"fail"}'
	expect_raw "no token: a form post of a task is 415" 415 POST /api/v1/tasks \
		-d '{"subject":"tasks.x","payload":"fail"}'
	expect_raw "no token: a cross-site fetch of a task is 403" 403 POST /api/v1/tasks \
		-H 'Sec-Fetch-Site: cross-site' -H 'Content-Type: text/plain' -d '{"subject":"tasks.x"}'
	expect_raw "no token: replay from evil.example as text/plain is 403" 403 POST /api/v1/dlq/1/replay \
		-H "$evil" -H 'Content-Type: text/plain'
	expect_raw "no token: replay as a text/plain post is 415" 415 POST /api/v1/dlq/1/replay \
		-H 'Content-Type: text/plain'
	expect_raw "no token: DELETE from evil.example is 403" 403 DELETE /api/v1/dlq/1 -H "$evil"
	expect_code "no token: DELETE from evil.example as JSON is 403 too" 403 DELETE /api/v1/dlq/1 -H "$evil"
	expect_code "no token: the letter is still there" 200 GET /api/v1/dlq/1
	body_has "no token: with its payload" '"payload":"fail"'
	expect_code "no token: the DLQ still holds one letter" 200 GET /api/v1/dlq
	body_has "no token: and only that one" '^\{"dlq_stream":"DLQ","count":1,'
	expect_code "no token: GET /stats" 200 GET /stats
	body_has "no token: no refused task was queued" '"total_enqueued":1,'
	check "no token: taskjet run stops cleanly" stop_taskjet
fi

# ------------------------------------------------------------- jetstream
if [ ! -x "$nats_bin" ]; then
	if [ -n "${CI:-}" ]; then
		not_ok "nats-server is required in CI ($nats_bin missing)"
	else
		n=$((n + 1)); echo "ok $n # SKIP nats-server not installed"
	fi
	echo "1..$n"
	[ "$failed" -eq 0 ]
	exit
fi

# start_nats [PORT]: -1 picks a free port, read back from the log.
start_nats() {
	: >"$tmp/nats.log"
	"$nats_bin" -js -a 127.0.0.1 -p "${1:--1}" -sd "$tmp/nats" -l "$tmp/nats.log" &
	nats_pid=$!
	i=0
	while [ $i -lt 200 ]; do
		nats_port=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/nats.log" | head -1)
		grep -q "Server is ready" "$tmp/nats.log" && [ -n "$nats_port" ] && return 0
		sleep 0.05; i=$((i + 1))
	done
	return 1
}
stop_nats() {
	kill -TERM "$nats_pid"
	wait "$nats_pid"
	nats_pid=""
}

check "nats-server starts" start_nats
cat >"$tmp/js.json" <<JSON
{
  "plugin_dir": "$plugins", "state_dir": "$tmp/state",
  "nats": { "url": "nats://127.0.0.1:$nats_port", "reconnect_wait": "100ms" },
  "http": { "listen": "127.0.0.1:0" },
  "streams": [ { "name": "WORK", "subjects": ["work.>"] } ],
  "routes": [ { "name": "work", "stream": "WORK", "subject": "work.job",
                "plugin": "fx_behave", "max_attempts": 2, "batch": 10,
                "backoff": { "initial": "10ms", "max": "10ms", "jitter": 0 } } ]
}
JSON
if check "jetstream: taskjet run serves HTTP" start_taskjet "$tmp/js.json"; then
	check "jetstream: /readyz becomes 200" poll /readyz 200 10
	expect_code "jetstream: /healthz is 200" 200 GET /healthz
	# 10 tasks: 6 done, 3 fail at once, 1 retries then runs out of attempts.
	seqs=""
	for p in '{"n":1}' '{"n":2}' '"fail"' '{"n":3}' '"fail"' '[4]' '"retry"' '{"n":5}' '"fail"' '6'; do
		req POST /api/v1/tasks -d "{\"subject\":\"work.job\",\"payload\":$p}"
		[ "$code" = 201 ] || echo "# POST $p: HTTP $code"
		seqs="$seqs $(sed -n 's/.*"seq":\([0-9]*\).*/\1/p' "$tmp/body")"
	done
	check "jetstream: 10 tasks accepted with stream sequences 1..10" \
		[ "$seqs" = " 1 2 3 4 5 6 7 8 9 10" ]
	expect_code "jetstream: a task with an id is 201" 201 POST /api/v1/tasks -d '{"subject":"work.job","payload":{"n":7},"id":"once"}'
	expect_code "jetstream: the same id again is a duplicate" 200 POST /api/v1/tasks -d '{"subject":"work.job","payload":{"n":7},"id":"once"}'
	body_has "jetstream: the duplicate keeps the first sequence" '"seq":11,"id":"once","duplicate":true'
	# 11 tasks, 12 handler calls (the retried one runs twice).
	deadline=$(($(date +%s) + 20))
	while :; do
		req GET /stats
		grep -q '"processed_count":12,' "$tmp/body" && break
		[ "$(date +%s)" -ge "$deadline" ] && break
		sleep 0.1
	done
	body_has "jetstream: /stats pool counts every handler call" '"pool":\{"processed_count":12,"error_count":5,"total_duration":"[0-9.]+s"\}'
	body_has "jetstream: /stats queue comes from the server" '"queue":\{"total_enqueued":11,"total_dequeued":12,"current_size":0\}'
	body_has "jetstream: /stats has per-route detail" '\{"name":"work","subject":"work\.job","stream":"WORK","received":12,"acked":7,"retried":1,'
	req GET /metrics
	sample_is "metrics: build info" "taskjet_build_info{version=\"$(sed -n 's/^taskjet \([^ ]*\) .*/\1/p' "$tmp/version")\",abi=\"$(sed -n 's/.*plugin ABI \([0-9.]*\),.*/\1/p' "$tmp/version")\",libnats=\"$(sed -n 's/.*libnats \([0-9.]*\).*/\1/p' "$tmp/version")\"}" 1
	for m in process_cpu_seconds_total process_resident_memory_bytes process_virtual_memory_bytes \
		process_open_fds process_max_fds process_start_time_seconds; do
		got=$(sample "$m")
		check "metrics: $m is there and positive" awk -v v="${got:-0}" 'BEGIN { exit !(v > 0) }'
	done
	got=$(sample process_start_time_seconds)
	check "metrics: process_start_time_seconds is this run's start" \
		awk -v v="${got:-0}" -v now="$(date +%s)" 'BEGIN { exit !(v < now + 1 && v > now - 600) }'
	check "metrics: every family has a TYPE" [ "$(grep -c '^# TYPE process_' "$tmp/body")" -eq 6 ]
	check "metrics: no HELP says naked" sh -c '! grep -q naked "$1"' sh "$tmp/body"
	body_has "metrics: dlq_failed is explained as nak'd" "^# HELP taskjet_tasks_total .*nak'd, negatively acknowledged"
	sample_is "metrics: acked" 'taskjet_tasks_total{route="work",outcome="acked"}' 7
	sample_is "metrics: retried" 'taskjet_tasks_total{route="work",outcome="retried"}' 1
	sample_is "metrics: dead-lettered" 'taskjet_tasks_total{route="work",outcome="dead_lettered"}' 4
	sample_is "metrics: dead letters by reason handler_failed" 'taskjet_dead_letters_total{route="work",reason="handler_failed"}' 3
	sample_is "metrics: dead letters by reason attempts_exhausted" 'taskjet_dead_letters_total{route="work",reason="attempts_exhausted"}' 1
	sample_is "metrics: handler duration count" 'taskjet_handler_duration_seconds_count{route="work"}' 12
	sample_is "metrics: handler duration +Inf bucket" 'taskjet_handler_duration_seconds_bucket{route="work",le="+Inf"}' 12
	sample_is "metrics: attempts, first deliveries" 'taskjet_task_attempt_bucket{route="work",le="1"}' 11
	sample_is "metrics: attempts, total" 'taskjet_task_attempt_sum{route="work"}' 13
	sample_is "metrics: nothing in flight" 'taskjet_tasks_in_flight{route="work"}' 0
	sample_is "metrics: DLQ depth from the server" 'taskjet_dlq_depth' 4
	sample_is "metrics: consumer pending" 'taskjet_consumer_pending{route="work",stream="WORK",consumer="taskjet-work"}' 0
	sample_is "metrics: consumer ack pending" 'taskjet_consumer_ack_pending{route="work",stream="WORK",consumer="taskjet-work"}' 0
	sample_is "metrics: consumer redelivered" 'taskjet_consumer_redelivered{route="work",stream="WORK",consumer="taskjet-work"}' 0
	sample_is "metrics: consumer max ack pending (the route's default)" 'taskjet_consumer_max_ack_pending{route="work",stream="WORK",consumer="taskjet-work"}' 1000
	sample_is "metrics: route not held at max ack pending" 'taskjet_route_held_at_max_ack_pending{route="work",stream="WORK",consumer="taskjet-work"}' 0
	sample_is "metrics: connected" 'taskjet_nats_connected' 1
	got=$(sample 'taskjet_fetch_batch_size_count{route="work"}')
	check "metrics: fetch batch sizes are observed" [ "${got:-0}" -ge 1 ]
	# concurrency 1 + the automatic look-ahead's floor, 2 x batch 10: a
	# dozen tasks are far too few to widen it.
	sample_is "metrics: the route's window" 'taskjet_route_window{route="work"}' 21
	# A pull request is counted once it ends (filled, or expired after
	# fetch_wait), so the sum catches up within a second.
	fetched_sum() {
		req GET /metrics
		[ "$(sample 'taskjet_fetch_batch_size_sum{route="work"}')" = 12 ]
	}
	poll_fetched() {
		deadline=$(($(date +%s) + 5))
		until fetched_sum; do
			[ "$(date +%s)" -ge "$deadline" ] && return 1
			sleep 0.1
		done
	}
	check "metrics: fetched messages add up to the deliveries" poll_fetched
	expect_code "overview: GET /api/v1/overview" 200 GET /api/v1/overview
	body_has "overview: connected to NATS and ready" \
		'"backend":"jetstream","location":"nats://127\.0\.0\.1:[0-9]+","connection":\{"connected":true,"reconnects":0\},"ready":true,"not_ready_reason":null,"token_required":false,"dlq":\{"stream":"DLQ","found":true,"messages":4,'
	body_has "overview: the route's numbers match what was processed" \
		'"consumer":"taskjet-work",.*"max_attempts":2,"in_flight":0,"pending":0,"ack_pending":0,"redelivered":0,"received":12,"acked":7,"retried":1,"dead_lettered":4,"dlq_failures":0,"handler_p50_seconds":[0-9.e-]+,"handler_p99_seconds":[0-9.e-]+,'
	body_has "overview: rates and quantiles over the last minute" \
		'"last_minute":\{"seconds":[0-9.]+,"received_per_sec":[0-9.]+,"acked_per_sec":[0-9.]+,"retried_per_sec":[0-9.]+,"dead_lettered_per_sec":[0-9.]+,"handler_calls":12,"handler_p50_seconds":[0-9.e-]+,"handler_p99_seconds":[0-9.e-]+\}'

	# Dead letters: list with filters, read, delete, replay.
	expect_code "dlq: GET /api/v1/dlq is 200" 200 GET /api/v1/dlq
	body_has "dlq: all four dead letters are listed" '^\{"dlq_stream":"DLQ","count":4,"scanned":4,"truncated":false,'
	expect_code "dlq: filter by reason" 200 GET '/api/v1/dlq?reason=handler_failed'
	body_has "dlq: three failed by the handler" '^\{"dlq_stream":"DLQ","count":3,'
	fails=$(grep -oE '"seq":[0-9]+,"stored_at"' "$tmp/body" | sed 's/[^0-9]//g' | tr '\n' ' ')
	first=${fails%% *}
	rest=${fails#* }
	second=${rest%% *}
	expect_code "dlq: filter by subject" 200 GET '/api/v1/dlq?subject=other.%3E'
	body_has "dlq: none on another subject" '^\{"dlq_stream":"DLQ","count":0,'
	expect_code "dlq: filter by time (last hour)" 200 GET '/api/v1/dlq?since=1h'
	body_has "dlq: all four in the last hour" '^\{"dlq_stream":"DLQ","count":4,'
	expect_code "dlq: filter by time (future)" 200 GET '/api/v1/dlq?since=2099-01-01T00:00:00Z'
	body_has "dlq: none in the future" '^\{"dlq_stream":"DLQ","count":0,'
	expect_code "dlq: an unknown reason is 400" 400 GET '/api/v1/dlq?reason=bogus'
	expect_code "dlq: a bad limit is 400" 400 GET '/api/v1/dlq?limit=0'
	expect_code "dlq: GET one letter" 200 GET "/api/v1/dlq/$first"
	body_has "dlq: the letter has its reason, headers and payload" \
		'"reason":"handler_failed".*\{"key":"Taskjet-Reason","value":"handler_failed"\}.*"payload_encoding":"utf-8","payload":"fail"'
	expect_code "dlq: an unknown sequence is 404" 404 GET /api/v1/dlq/99999
	expect_code "dlq: POST on a letter is 405" 405 POST "/api/v1/dlq/$first"
	expect_code "dlq: DELETE a letter" 200 DELETE "/api/v1/dlq/$first"
	expect_code "dlq: it is gone" 404 GET "/api/v1/dlq/$first"
	expect_code "dlq: DELETE again is 404" 404 DELETE "/api/v1/dlq/$first"
	expect_code "dlq: replay a letter" 200 POST "/api/v1/dlq/$second/replay"
	body_has "dlq: the replay gives the new stream sequence" '"ok":true,"stream":"WORK","stream_seq":12,"duplicate":false'
	# The replayed "fail" task fails again: 4 - 1 deleted - 1 replayed + 1.
	deadline=$(($(date +%s) + 20))
	while :; do
		req GET /api/v1/dlq
		grep -q '^{"dlq_stream":"DLQ","count":3,' "$tmp/body" && break
		[ "$(date +%s)" -ge "$deadline" ] && break
		sleep 0.1
	done
	body_has "dlq: the replayed task was processed and dead-lettered again" '^\{"dlq_stream":"DLQ","count":3,'
	expect_code "dlq: replaying a replayed letter again is 200 (safe to re-run)" 200 POST "/api/v1/dlq/$second/replay"
	body_has "dlq: and says it is gone already" "^\\{\"seq\":$second,\"ok\":true,\"gone\":true\\}\$"
	expect_code "dlq: the largest uint64 sequence is 404" 404 GET /api/v1/dlq/18446744073709551615
	body_has "dlq: no dead letter, not a server error" '"error":"no dead letter 18446744073709551615"'
	expect_code "dlq: past int64 is 404" 404 GET /api/v1/dlq/9223372036854775808
	expect_code "dlq: past uint64 is 404" 404 GET /api/v1/dlq/99999999999999999999999
	expect_code "dlq: replaying one past int64 is 404" 404 POST /api/v1/dlq/9223372036854775808/replay
	expect_code "dlq: deleting one past int64 is 404" 404 DELETE /api/v1/dlq/9223372036854775808
	expect_code "dlq: since in days is taken" 200 GET "/api/v1/dlq?since=1d"
	expect_code "dlq: an impossible date is refused" 400 GET "/api/v1/dlq?since=2026-02-31T00:00:00Z"

	# HTTP and the CLI give the same document for the same object: a dead
	# letter whose payload is not text (invalid UTF-8, NUL, control
	# characters) and whose error holds control characters, and the
	# server's view in the stats.
	printf 'bin\377\376\000\001\033[2J\n' | "$bin" publish -q -c "$tmp/js.json" dlq.work.bin - \
		-H Taskjet-Reason=crashed -H Taskjet-Original-Subject=work.bin \
		-H "Taskjet-Error=$(printf 'bad\tbyte \342\202\254 ok')"
	req GET '/api/v1/dlq?subject=work.bin'
	binseq=$(sed -n 's/.*"entries":\[{"seq":\([0-9]*\),.*/\1/p' "$tmp/body")
	expect_code "same document: GET the binary letter" 200 GET "/api/v1/dlq/${binseq:-0}"
	cp "$tmp/body" "$tmp/http-letter"
	"$bin" dlq show -c "$tmp/js.json" --json "${binseq:-0}" >"$tmp/cli-letter" 2>&1
	check "same document: dlq show --json gives the same bytes as the HTTP API" \
		cmp -s "$tmp/http-letter" "$tmp/cli-letter"
	body_has "same document: the binary payload is base64" \
		'"payload_len":12,"payload_encoding":"base64","payload":"Ymlu//4AARtbMkoK"\}$'
	body_has "same document: control characters are escaped in text" '"error":"bad\\tbyte € ok"'
	check "same document: the body is one line of printable text" \
		sh -c "[ \$(wc -l <'$tmp/http-letter') -eq 1 ] && ! LC_ALL=C grep -q '[[:cntrl:]]' '$tmp/http-letter'"
	req GET '/api/v1/dlq?subject=work.bin'
	cp "$tmp/body" "$tmp/http-list"
	"$bin" dlq ls -c "$tmp/js.json" --json --subject work.bin >"$tmp/cli-list" 2>&1
	check "same document: the listing matches dlq ls --json" cmp -s "$tmp/http-list" "$tmp/cli-list"
	req GET /stats
	cp "$tmp/body" "$tmp/http-stats"
	"$bin" stats -c "$tmp/js.json" --json >"$tmp/cli-stats" 2>&1
	part() { grep -oE "$1" "$2" | head -1; }
	streams_re='"streams":\[[^]]*\]'
	consumer_re='"consumer":\{"name":"[^"]*","found":[a-z]+,"pending":[0-9]+,"ack_pending":[0-9]+,"redelivered":[0-9]+'
	# same_part NAME REGEX: both documents have REGEX, with the same text.
	# (One function: `check NAME [ a ] && [ b ]` would run [ b ] outside
	# check, where a difference fails nothing.)
	same_part() {
		in_http=$(part "$2" "$tmp/http-stats")
		in_cli=$(part "$2" "$tmp/cli-stats")
		if [ -n "$in_http" ] && [ "$in_http" = "$in_cli" ]; then
			ok "$1"
		else
			echo "# HTTP: $in_http"; echo "# CLI:  $in_cli"; not_ok "$1"
		fi
	}
	same_part "same document: /stats and stats --json show the same streams" "$streams_re"
	same_part "same document: and the same route consumer" "$consumer_re"
	expect_code "same document: the binary letter goes" 200 DELETE "/api/v1/dlq/${binseq:-0}"

	# Readiness follows the server away and back.
	stop_nats
	check "readyz: 503 once nats-server is gone" poll /readyz 503 15
	body_has "readyz: the 503 gives the reason" '^\{"status":"not ready","service":"taskjet","worker_id":"[^"]*","reason":"[^"]*not connected to NATS'
	expect_code "healthz: taskjet's own body" 200 GET /healthz
	body_has "healthz: names taskjet" '"service":"taskjet"'
	expect_code "intake: 503 while NATS is down" 503 POST /api/v1/tasks -d '{"subject":"work.job","payload":1}'
	expect_code "healthz: still 200 while NATS is down" 200 GET /healthz
	check "nats-server restarts on the same port and store" start_nats "$nats_port"
	check "readyz: 200 again once it is back" poll /readyz 200 30
	req GET /metrics
	got=$(sample 'taskjet_nats_reconnects_total')
	check "metrics: the reconnect is counted" [ "${got:-0}" -ge 1 ]
	expect_code "intake: 201 again after the reconnect" 201 POST /api/v1/tasks -d '{"subject":"work.job","payload":{"n":8}}'
	body_has "intake: the stream kept its sequence" '"seq":13,'

	# Replay cannot be aimed: a letter planted on dlq.work.f whose original
	# subject is the JetStream API's purge of WORK. Parked tasks (a subject
	# the stream takes and no route consumes) show whether WORK was hit.
	work_msgs() {
		"$bin" stats -c "$tmp/js.json" --json 2>/dev/null |
			sed -n 's/.*"name":"WORK","found":true,"messages":\([0-9]*\),.*/\1/p'
	}
	for i in 1 2 3; do "$bin" publish -q -c "$tmp/js.json" work.parked p; done
	before=$(work_msgs)
	"$bin" publish -q -c "$tmp/js.json" dlq.work.f x -H Taskjet-Reason=crashed \
		-H 'Taskjet-Original-Subject=$JS.API.STREAM.PURGE.WORK'
	req GET '/api/v1/dlq?subject=%24JS.API.%3E'
	aimed=$(sed -n 's/.*"entries":\[{"seq":\([0-9]*\),.*/\1/p' "$tmp/body")
	expect_code "replay: a letter aimed at the JetStream API is refused" 409 POST "/api/v1/dlq/${aimed:-0}/replay"
	body_has "replay: the refusal says why" 'no configured route consumes subject \\"\$JS\.API\.STREAM\.PURGE\.WORK\\"'
	check "replay: WORK is untouched" \
		sh -c '[ -n "$1" ] && [ "$1" -ge 3 ] && [ "$1" = "$2" ]' sh "$before" "$(work_msgs)"
	expect_code "replay: the letter is kept" 200 GET "/api/v1/dlq/${aimed:-0}"
	expect_code "intake: the JetStream API is no task subject" 400 POST /api/v1/tasks -d '{"subject":"$JS.API.STREAM.PURGE.WORK"}'
	expect_code "intake: nor a subject no route consumes" 400 POST /api/v1/tasks -d '{"subject":"work.parked"}'
	body_has "intake: which says so" 'no configured route consumes subject \\"work\.parked\\"'

	# Every curl example of the docs, as written, against this engine:
	# each is sent to the default address (127.0.0.1:8394, the bound port
	# here) with what the policy asks for, so none gets 401, 403 or 415.
	# The token file (none is needed here) is the test's own.
	awk '/^[ \t]*```sh$/ { inb = 1; next } /^[ \t]*```$/ { inb = 0; buf = ""; next }
		inb { sub(/^[ \t]+/, ""); if (buf == "") first = FNR
			if (sub(/\\$/, "")) { buf = buf $0 " "; next }
			line = buf $0; buf = ""; if (line ~ /^curl /) print FILENAME ":" first "\t" line }' \
		"$top_srcdir"/docs/*.md >"$tmp/doc-curls"
	check "docs: the curl examples are found" grep -q '/api/v1/reload' "$tmp/doc-curls"
	while IFS="$(printf '\t')" read -r where cmd; do
		where=${where#"$top_srcdir"/}
		case $cmd in
		*http://127.0.0.1:8394/*) ok "docs: $where uses the default address 127.0.0.1:8394" ;;
		*) echo "# $cmd"; not_ok "docs: $where uses the default address 127.0.0.1:8394" ;;
		esac
		c=$(printf '%s' "$cmd" | sed "s|http://127\.0\.0\.1:8394/|$base/|g; s|/etc/taskjet/[a-z.]*token|$tmp/token|g")
		rm -f "$tmp/body"
		code=$(sh -c "$c -s -o '$tmp/body' -w '%{http_code}' --max-time 20" </dev/null)
		case $code in
		000 | 401 | 403 | 415) echo "# $c: HTTP $code"; not_ok "docs: $where is not refused" ;;
		*) ok "docs: $where is not refused (HTTP $code)" ;;
		esac
		case $cmd in
		*/api/v1/reload*)
			check "docs: $where reloads (200)" [ "$code" = 200 ]
			body_has "docs: and answers as documented" '^\{"reloaded":(true|false),"changes":\[' ;;
		esac
	done <"$tmp/doc-curls"
	check "jetstream: taskjet run stops cleanly" stop_taskjet
fi
[ -n "$nats_pid" ] && stop_nats

echo "1..$n"
[ "$failed" -eq 0 ]
