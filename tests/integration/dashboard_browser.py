#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The dashboard in a real browser (TAP).

Starts a real nats-server on loopback and `taskjet run` with three routes of
the fx_behave fixture and a bearer token, puts real tasks through it (some
fail into the DLQ, every task of one route is retried once, one carries
bytes that are not text, one carries HTML), then drives Debian's headless
Chromium through chromedriver (the W3C WebDriver protocol, spoken here with
the standard library: nothing to install from a registry, and the driver
always matches the browser, both built from Debian's chromium source
package). It checks what the page shows against what was processed and what
/api/v1/overview says at the same time (totals, rates, uptime, readiness),
unlocks the letters with the token (a wrong one refused first), filters the
letters, opens two in detail, replays one and deletes another through the
page's confirmation, watches a new letter arrive without a reload; then
restarts taskjet with another token while the page is open, so the
confirmation of a replay is refused and asks for the token (a wrong one
refused, then the new one), and deletes a route's consumer behind taskjet's
back, so the page shows it not ready and why. It saves screenshots.

Usage: dashboard_browser.py   (environment: top_builddir, NATS_SERVER,
CHROMIUM, CHROMEDRIVER, TASKJET_SCREENSHOTS: where the PNGs go)
Every wait is bounded; the whole run stops itself after RUN_LIMIT_S.
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

RUN_LIMIT_S = 240
# Not UTF-8, a NUL, control characters and an escape sequence.
binary_payload = b"bin\xff\xfe\x00\x01\x1b[2J\n"
TOKEN = "dash-board-token-0123456789"
# The token after the restart (a rotated http.token_file).
NEW_TOKEN = "dash-board-token-rotated-9876543210"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"

top_builddir = os.environ.get("top_builddir", ".")
taskjet = os.path.join(top_builddir, "taskjet")
plugins = os.path.join(top_builddir, "tests/fixtures/plugins/.libs")
nats_bin = os.environ.get("NATS_SERVER") or "/usr/sbin/nats-server"
chromium = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
chromedriver = os.environ.get("CHROMEDRIVER") or "/usr/bin/chromedriver"
shots = os.environ.get("TASKJET_SCREENSHOTS") or os.path.join(
    top_builddir, "tests/integration")

# ---- TAP ----

count = 0
failures = 0


def ok(cond, name, diag=None):
    global count, failures
    count += 1
    if cond:
        print(f"ok {count} - {name}", flush=True)
    else:
        failures += 1
        print(f"not ok {count} - {name}", flush=True)
        if diag is not None:
            for line in str(diag).splitlines()[:20]:
                print(f"# {line}", flush=True)
    return cond


def note(text):
    print(f"# {text}", flush=True)


class Timeout(Exception):
    pass


def wait_for(fn, seconds, what):
    """fn() until it returns something true; that value, else Timeout."""
    deadline = time.monotonic() + seconds
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except (OSError, ValueError, KeyError, WebDriverError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise Timeout(f"{what}: not within {seconds} s (last: {last!r})")
        time.sleep(0.1)


# ---- a WebDriver client (W3C protocol, JSON over HTTP) ----


class WebDriverError(Exception):
    pass


class Browser:
    def __init__(self, url):
        self.url = url
        self.sid = None

    def _call(self, method, path, body=None, timeout=30):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            value = json.load(e).get("value", {})
            raise WebDriverError(f"{value.get('error')}: {value.get('message', '')[:300]}")

    def start(self, capabilities):
        value = self._call("POST", "/session",
                           {"capabilities": {"alwaysMatch": capabilities}}, timeout=60)
        self.sid = value["sessionId"]

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.sid}{path}", body)

    def quit(self):
        if self.sid is not None:
            self._call("DELETE", f"/session/{self.sid}", timeout=20)
            self.sid = None

    def open(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def element(self, css):
        return self.cmd("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css):
        """A real click: the browser's own input events, at the element."""
        self.cmd("POST", f"/element/{self.element(css)}/click", {})

    def type(self, css, text):
        el = self.element(css)
        self.cmd("POST", f"/element/{el}/clear", {})
        self.cmd("POST", f"/element/{el}/value", {"text": text})

    def select(self, css, value):
        self.js("const s = document.querySelector(arguments[0]);"
                "s.value = arguments[1]; s.dispatchEvent(new Event('change'));", css, value)

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.cmd("GET", "/screenshot")))


# ---- the servers ----

procs = []


def spawn(args, log, **kw):
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True, **kw)
    procs.append(p)
    return p


def stop(p):
    """SIGTERM to p's process group (its worker processes too), SIGKILL
    after ten seconds."""
    if p.poll() is not None:
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def stop_all():
    for p in reversed(procs):
        stop(p)


def log_value(path, marker, prefix):
    """The port a log line "<marker>...<prefix>PORT" names, or None."""
    try:
        with open(path) as f:
            for line in f:
                if marker in line and prefix in line:
                    return int(line.split(prefix, 1)[1].split()[0].strip(".,"))
    except OSError:
        pass
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=20):
    """(status, document or text) of a request to taskjet."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def nats_request(port, subject, payload=b"", timeout=5):
    """One request over NATS's client protocol (plain text): the reply's
    JSON document. For what taskjet has no command for (deleting a
    consumer behind its back)."""
    inbox = "_INBOX.tj_dashboard_test"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        if not f.readline().startswith(b"INFO "):
            raise OSError("nats: no INFO from the server")
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\n' +
                  f"SUB {inbox} 1\r\nPUB {subject} {inbox} {len(payload)}\r\n".encode() +
                  payload + b"\r\n")
        while True:
            line = f.readline()
            if not line:
                raise OSError("nats: the server closed the connection")
            if line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise OSError(f"nats: {line.decode(errors='replace').strip()}")
            elif line.startswith(b"MSG "):
                size = int(line.split()[-1])
                return json.loads(f.read(size + 2)[:size])


class Engine:
    """`taskjet run` with the test's config; start() again after stop()
    is a restart (same store, same streams and durables)."""

    def __init__(self, tmp, nats_port):
        self.tmp = tmp
        self.nats_port = nats_port
        self.proc = None
        self.port = None
        self.starts = 0

    def config(self, token):
        """The config file for `token` (its own 0600 token file); the
        HTTP port is the one of the first start from then on."""
        token_file = os.path.join(self.tmp, f"token{self.starts}")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(token + "\n")
        cfg = os.path.join(self.tmp, f"taskjet{self.starts}.json")
        listen = f"127.0.0.1:{self.port or 0}"
        with open(cfg, "w") as f:
            json.dump({
                "plugin_dir": plugins, "state_dir": os.path.join(self.tmp, "state"),
                "worker_id": "dash-worker-1",
                "nats": {"url": f"nats://127.0.0.1:{self.nats_port}"},
                "http": {"listen": listen, "token_file": token_file},
                "streams": [{"name": "TASKS", "subjects": ["orders.>", "emails.>", "hooks.>"]}],
                "routes": [
                    {"name": "orders", "stream": "TASKS", "subject": "orders.*",
                     "plugin": "fx_behave", "concurrency": 4, "config": {"sleep_ms": 20}},
                    # Every task once retried, soon redelivered.
                    {"name": "emails", "stream": "TASKS", "subject": "emails.send",
                     "plugin": "fx_behave", "concurrency": 2, "backoff": {"initial": "200ms"},
                     "config": {"sleep_ms": 2, "fail_first": 1}},
                    {"name": "hooks", "stream": "TASKS", "subject": "hooks.in",
                     "plugin": "fx_behave", "payload": "json"},
                ],
            }, f, indent=1)
        return cfg

    def start(self, token):
        """Start it; the endpoint's base URL once /readyz says ready."""
        self.cfg = self.config(token)
        self.log = os.path.join(self.tmp, f"taskjet{self.starts}.log")
        self.starts += 1
        with open(self.log, "w") as log:
            self.proc = spawn([taskjet, "run", "-c", self.cfg], log)
        self.port = wait_for(lambda: self.proc.poll() is None and log_value(
            self.log, "http: listening on", "127.0.0.1:"), 20, "taskjet's HTTP port")
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for(lambda: http("GET", self.base + "/readyz")[0] == 200, 20, "/readyz 200")
        return self.base

    def stop(self):
        stop(self.proc)


def run(tmp):
    # nats-server, JetStream on, a free port on loopback, a fresh store.
    nats_log = os.path.join(tmp, "nats.log")
    spawn([nats_bin, "-js", "-a", "127.0.0.1", "-p", "-1", "-sd", os.path.join(tmp, "nats"),
           "-l", nats_log], subprocess.DEVNULL)
    nats_port = wait_for(lambda: "Server is ready" in open(nats_log).read() and log_value(
        nats_log, "Listening for client connections", "127.0.0.1:"), 15, "nats-server ready")
    ok(nats_port, "nats-server runs on loopback")

    engine = Engine(tmp, nats_port)
    base = engine.start(TOKEN)
    ok(True, "taskjet run serves its endpoint and is ready")
    cfg = engine.cfg

    # Real tasks: 12 + 6 + 3 done (the 6 emails after one retry each);
    # 2 + 1 fail in the handler; 2 are not JSON on a JSON route (one is
    # bytes that are not text, one is HTML).
    published = 0
    tasks = ([("orders.new", {"order": i}) for i in range(12)] + [("orders.new", "fail")] * 2 +
             [("emails.send", {"to": f"u{i}@example.com"}) for i in range(6)] +
             [("emails.send", "fail")] + [("hooks.in", {"hook": i}) for i in range(3)] +
             [("hooks.in", '<img src=x onerror="window.__pwned=1"><b>not json</b>')])
    for subject, payload in tasks:
        status, _ = http("POST", base + "/api/v1/tasks", {"subject": subject, "payload": payload},
                         token=TOKEN)
        published += status == 201
    pub = subprocess.run([taskjet, "publish", "-q", "-c", cfg, "hooks.in", "-"],
                         input=binary_payload,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    published += pub.returncode == 0
    ok(published == len(tasks) + 1, f"{len(tasks) + 1} tasks published", pub.stdout)

    def settled():
        st, ov = http("GET", base + "/api/v1/overview")
        done = st == 200 and sum(r["acked"] + r["dead_lettered"] for r in ov["routes"]) == 26
        return ov if done and ov["dlq"].get("messages") == 5 else None
    ov = wait_for(settled, 30, "every task acked or dead-lettered")
    ok(True, "the engine settled every task (21 acked, 5 dead letters)")
    ok([r["retried"] for r in ov["routes"]] == [0, 6, 0],
       "the engine retried each email once (fail_first 1)", [r["retried"] for r in ov["routes"]])

    # ---- the browser ----
    profile = os.path.join(tmp, "chromium-profile")
    driver_port = free_port()
    with open(os.path.join(tmp, "chromedriver.log"), "w") as log:
        spawn([chromedriver, f"--port={driver_port}"], log)
    driver = f"http://127.0.0.1:{driver_port}"
    wait_for(lambda: Browser(driver)._call("GET", "/status", timeout=2).get("ready"), 20,
             "chromedriver ready")
    b = Browser(driver)
    b.start({
        "browserName": "chrome",
        "pageLoadStrategy": "normal",
        "goog:loggingPrefs": {"browser": "ALL"},
        "timeouts": {"script": 10000, "pageLoad": 20000, "implicit": 0},
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                     "--window-size=1400,1000", "--force-device-scale-factor=1",
                     "--lang=en-US"],
        },
    })
    try:
        browse(b, engine, ov)
    finally:
        b.quit()


def table(b, css):
    """The rows of a table body as lists of cell texts, in one reading."""
    return b.js("return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'),"
                " (tr) => Array.from(tr.cells, (td) => td.textContent.trim()));", css)


def letter_seqs(b):
    return b.js("return Array.from(document.querySelectorAll('#letters-table tbody tr[data-seq]'),"
                " (tr) => Number(tr.dataset.seq));")


def visible(b, css):
    return b.js("const e = document.querySelector(arguments[0]);"
                "return e !== null && !e.hidden && e.getClientRects().length > 0;", css)


def console(b):
    """The browser console's entries since the last call."""
    return b.cmd("POST", "/se/log", {"type": "browser"})


def live_text(b):
    return b.js("return document.getElementById('live').textContent;")


def refreshed(b, times=1):
    """Wait until the page refreshed `times` more times (its "updated"
    time changes with every reading of the overview)."""
    for _ in range(times):
        mark = live_text(b)
        wait_for(lambda: (lambda t: t.startswith("live") and t != mark)(live_text(b)), 10,
                 "the page's next refresh")


def facts(b):
    """The overview's facts as shown: {term: text}."""
    return b.js("return Object.fromEntries(Array.from(document.querySelectorAll('.facts div'),"
                " (d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent]));")


def uptime_seconds(text):
    """Seconds of an uptime as the page writes it ("1d 2h 3m", "2h 3m 4s",
    "3m 4s", "4s"); None when it is not one."""
    m = re.fullmatch(r"(?:(\d+)d )?(?:(\d+)h )?(?:(\d+)m)? ?(?:(\d+)s)?", text or "")
    if not m or not text or not any(m.groups()):
        return None
    d, h, mi, s = (int(g or 0) for g in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + s


def rate(text):
    """A rate cell's number; None for "–"."""
    return None if text == "–" else float(text.replace(",", ""))


RATE_KEYS = ("received_per_sec", "acked_per_sec", "retried_per_sec", "dead_lettered_per_sec")


def check_rates(b, base):
    """The rate cells of each route between what /api/v1/overview said
    just before and just after the page's refresh (the window only grows
    or slides while no task comes, so it moves one way), within 10% and
    the 0.01 they are rounded to."""
    before = http("GET", base + "/api/v1/overview")[1]
    # The second refresh from now asked after `before` was read.
    refreshed(b, 2)
    rows = table(b, "#routes-table")
    after = http("GET", base + "/api/v1/overview")[1]
    for i, name in enumerate(("orders", "emails", "hooks")):
        shown = [rate(t) for t in rows[i][8:12]]
        was = [before["routes"][i]["last_minute"][k] for k in RATE_KEYS]
        now = [after["routes"][i]["last_minute"][k] for k in RATE_KEYS]
        fits = all(v is not None and min(x, y) * 0.9 - 0.011 <= v <= max(x, y) * 1.1 + 0.011
                   for v, x, y in zip(shown, was, now))
        ok(fits, f"{name}: the rates per second are what the API says (in, acked, retried, dead)",
           f"page {shown}, API before {was}, after {now}")
        want_zero = [False, False, name != "emails", False]
        ok([v == 0 for v in shown] == want_zero,
           f"{name}: non-zero rates for what flowed in the last minute"
           f"{' (retries too)' if name == 'emails' else ''}", rows[i])


def browse(b, engine, ov):
    base = engine.base
    b.open(base + "/")
    b.js("window.__loadedOnce = 'yes';")
    rows = wait_for(lambda: (lambda r: r if len(r) == 3 else None)(table(b, "#routes-table")),
                    15, "the route table")
    ok(b.js("return document.title;") == "taskjet", "the page at / is the dashboard")

    # The route table shows what the engine counted: each email was
    # retried once.
    want = {"orders": (12, 0, 2, "4"), "emails": (6, 6, 1, "2"), "hooks": (3, 0, 2, "1")}
    by_route = {r[0]: r for r in rows}
    ok([r[0] for r in rows] == ["orders", "emails", "hooks"], "one row per route, config order",
       rows)
    api_routes = {r["name"]: r for r in ov["routes"]}
    for name, (acked, retried, dead, conc) in want.items():
        r = by_route.get(name, [""] * 17)
        api = api_routes[name]
        ok(r[1] == api["subject"] and r[2] == "fx_behave 1.0.0" and r[3] == api["isolation"]
           and r[3] == "process" and r[4] == conc,
           f"{name}: subject, plugin and version, isolation (process, the default), concurrency",
           r)
        ok(r[12] == str(acked) and r[13] == str(retried) and r[14] == str(dead),
           f"{name}: acked {acked}, retried {retried}, dead-lettered {dead}", r)
        ok(r[5] == "0" and r[6] == "0" and r[7] == "0", f"{name}: nothing in flight or pending", r)
        ok(r[15].endswith("s") and r[16].endswith("s"), f"{name}: handler p50 and p99 are shown",
           r)
    check_rates(b, base)

    up_before = http("GET", base + "/api/v1/overview")[1]["uptime_seconds"]
    shown = facts(b)
    up_after = http("GET", base + "/api/v1/overview")[1]["uptime_seconds"]
    version = subprocess.run([taskjet, "--version"], stdout=subprocess.PIPE, text=True,
                             timeout=10).stdout.split()[1]
    ok(shown.get("Worker") == "dash-worker-1" and shown.get("Version") == f"taskjet {version}",
       "overview: worker id and version", shown)
    ok(shown.get("NATS", "").startswith("connected") and "127.0.0.1" in shown.get("NATS", "")
       and shown.get("Readiness") == "ready" and shown.get("Dead letters") == "5 in DLQ"
       and b.js("return document.getElementById('ready-pill').textContent;") == "ready",
       "overview: NATS connection, readiness (no reason while ready), DLQ depth", shown)
    uptime = uptime_seconds(shown.get("Uptime"))
    # The page read it up to a refresh (2 s) before the API did.
    ok(uptime is not None and up_before - 3 <= uptime <= up_after,
       "overview: the uptime, as the API counts it",
       f"page {shown.get('Uptime')!r}, API {up_before} then {up_after}")

    # The dead letters need the token (issue 10): the page asks for it.
    # A wrong one is refused, and not one letter is shown.
    wait_for(lambda: visible(b, "#unlock"), 15, "the token form")
    ok(not letter_seqs(b) and "need the bearer token" in b.js(
        "return document.getElementById('letters-status').textContent;"),
       "reading the dead letters needs the token: the page asks for it")
    b.type("#unlock-token", "not-the-token")
    b.click("#unlock button[type=submit]")
    wait_for(lambda: visible(b, "#unlock-error"), 10, "the wrong token refused")
    status = b.js("return document.getElementById('letters-status').textContent;")
    ok(visible(b, "#unlock") and "refused" in status and not letter_seqs(b)
       and b.js("return document.querySelector('#letters-table tbody').textContent;")
       == "Nothing here.",
       "a wrong token is refused, says so, and shows no letter", status)
    b.type("#unlock-token", TOKEN)
    b.click("#unlock button[type=submit]")
    seqs = wait_for(lambda: (lambda s: s if len(s) == 5 else None)(letter_seqs(b)), 15,
                    "five dead letters listed")
    ok(seqs == [1, 2, 3, 4, 5] and not visible(b, "#unlock"),
       "with the right token the five dead letters are listed", seqs)
    letters = {int(r[0]): r for r in table(b, "#letters-table")}
    reasons = sorted(r[4] for r in letters.values())
    ok(reasons == ["handler_failed"] * 3 + ["invalid_payload"] * 2,
       "each letter shows its reason", reasons)
    routes_of = sorted(r[2] for r in letters.values())
    ok(routes_of == ["emails", "hooks", "hooks", "orders", "orders"],
       "each letter shows the route its subject belongs to", routes_of)
    ok(b.js("return window.__pwned === undefined && document.querySelector("
            "'#letters-table img, #letters-table b') === null;"),
       "text from letters is never markup")

    def filtered(route="", subject="", reason="", since=""):
        b.select("#filter-route", route)
        b.type("#filter-subject", subject)
        b.select("#filter-reason", reason)
        b.type("#filter-since", since)
        # The status line is written when the listing comes back.
        b.js("document.getElementById('letters-status').textContent = '';")
        b.click("#filters button[type=submit]")
        return wait_for(lambda: b.js("return document.getElementById('letters-status')"
                                     ".textContent.length > 0") and (letter_seqs(b) or [-1]),
                        10, "a filtered listing")

    emails = filtered(route="emails")
    ok(len(emails) == 1 and letters[emails[0]][2] == "emails",
       "filter by route: emails has one letter", emails)
    got = filtered(reason="invalid_payload")
    ok(len(got) == 2, "filter by reason: two invalid payloads", got)
    got = filtered(subject="orders.*")
    ok(len(got) == 2, "filter by subject: two on orders.*", got)
    got = filtered(since="2099-01-01T00:00:00Z")
    ok(got == [-1] and "No dead letter matches" in b.js(
        "return document.getElementById('letters-status').textContent;"),
       "filter by time: none from the future", got)
    got = filtered(since="1h", route="hooks")
    ok(len(got) == 2, "filter by time and route together", got)
    b.click("#filters button[type=reset]")
    got = wait_for(lambda: (lambda s: s if len(s) == 5 else None)(letter_seqs(b)), 10,
                   "the full list again")
    ok(len(got) == 5, "clearing the filter lists all five again", got)

    # A letter that is not text: hex and base64, every header.
    st, lst = http("GET", base + "/api/v1/dlq?reason=invalid_payload", token=TOKEN)
    by_len = sorted(lst["entries"], key=lambda e: e["seq"])
    details = {e["seq"]: http("GET", f"{base}/api/v1/dlq/{e['seq']}", token=TOKEN)[1]
               for e in by_len}
    bin_seq = next(s for s, d in details.items() if d["payload_encoding"] == "base64")
    html_seq = next(s for s, d in details.items() if d["payload_encoding"] == "utf-8")
    b.click(f"#letters-table tr[data-seq='{bin_seq}'] button[data-action=view]")
    wait_for(lambda: "not text" in b.js("return document.getElementById('payload-info')"
                                        ".textContent;"), 10, "the binary letter's detail")
    hexdump = b.js("return document.getElementById('payload').textContent;")
    ok(hexdump.startswith("00000000  62 69 6e ff fe 00 01 1b  5b 32 4a 0a") and "|bin.....[2J.|"
       in hexdump, "binary payload: a hex dump", hexdump)
    ok(not visible(b, "#detail .tabs [data-view=text]"), "binary payload: no text view offered")
    headers = table(b, "#detail-headers")
    api_headers = [[h["key"], h["value"]] for h in details[bin_seq]["headers"]]
    ok(headers == api_headers and ["Taskjet-Reason", "invalid_payload"] in headers,
       "every header of the letter, in order", headers)
    os.makedirs(shots, exist_ok=True)
    b.screenshot(os.path.join(shots, "dashboard-letter.png"))
    b.click("#detail .tabs [data-view=base64]")
    shown = b.js("return document.getElementById('payload').textContent;")
    ok(shown == base64.b64encode(binary_payload).decode(), "binary payload: base64", shown)
    b.click("#detail .actions [data-close]")

    # A letter whose payload is HTML: shown as text, never run.
    b.click(f"#letters-table tr[data-seq='{html_seq}'] button[data-action=view]")
    wait_for(lambda: "UTF-8 text" in b.js("return document.getElementById('payload-info')"
                                         ".textContent;"), 10, "the HTML letter's detail")
    ok(b.js("return document.getElementById('payload').textContent;")
       == '<img src=x onerror="window.__pwned=1"><b>not json</b>',
       "a text payload is shown as its text")
    ok(b.js("return window.__pwned === undefined && "
            "document.querySelector('#detail img, #detail b') === null;"),
       "markup in a payload is not rendered")
    b.click("#detail .actions [data-close]")

    # Nothing so far broke the page's own rules: no script error, no CSP
    # violation in the browser's console.
    bad = [e["message"] for e in console(b)
           if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
    ok(not bad, "no script error and no CSP violation in the console", "\n".join(bad))
    # The CSP the server sends is enforced: an injected inline script does
    # not run, and the browser says why.
    b.js("const s = document.createElement('script'); s.textContent = 'window.__inline = 1';"
         "document.body.append(s);")
    time.sleep(0.2)
    refused = [e["message"] for e in console(b) if "Content Security Policy" in e["message"]]
    ok(b.js("return window.__inline === undefined;") and any(
        "inline script" in m.lower() and "script-src 'self'" in m for m in refused),
       "Content-Security-Policy: an inline script is refused", refused)

    # Replay through the page: a letter of orders. The page has the token
    # already: the confirmation asks for the decision only.
    fail_seq = next(s for s, r in letters.items() if r[2] == "orders")
    b.click(f"#letters-table tr[data-seq='{fail_seq}'] button[data-action=view]")
    wait_for(lambda: b.js("return !document.getElementById('detail-replay').disabled;"), 10,
             "the letter to replay")
    b.click("#detail-replay")
    wait_for(lambda: visible(b, "#confirm"), 5, "the confirmation")
    title = b.js("return document.getElementById('confirm-title').textContent;")
    ok(not visible(b, "#confirm-token-row") and "Replay dead letter" in title,
       "replay asks for confirmation (not for the token the page has)", title)
    b.click("#confirm-ok")
    wait_for(lambda: not visible(b, "#confirm") and not visible(b, "#detail"), 10,
             "the dialogs to close")
    gone = wait_for(lambda: fail_seq not in letter_seqs(b), 10, "the replayed letter to leave")
    ok(gone, f"the replayed letter {fail_seq} leaves the list")
    toast = b.js("return document.getElementById('toast').textContent;")
    ok(f"Letter {fail_seq} replayed to TASKS #" in toast, "the page says where it went", toast)
    st, _ = http("GET", f"{base}/api/v1/dlq/{fail_seq}", token=TOKEN)
    ok(st == 404, "the server no longer has the replayed letter", st)
    # The replayed task fails again, and its new letter appears by itself.
    new = wait_for(lambda: [s for s in letter_seqs(b) if s > 5], 15, "the new letter")
    ok(len(new) == 1, "the replayed task failed again: its new letter appears without a reload",
       new)

    # Delete: cancel first (nothing happens), then confirm.
    b.click(f"#letters-table tr[data-seq='{bin_seq}'] button[data-action=delete]")
    wait_for(lambda: visible(b, "#confirm"), 5, "the delete confirmation")
    ok(not visible(b, "#confirm-token-row"), "the delete confirmation does not ask for the token")
    b.click("#confirm-cancel")
    time.sleep(0.5)
    ok(bin_seq in letter_seqs(b) and http("GET", f"{base}/api/v1/dlq/{bin_seq}",
                                          token=TOKEN)[0] == 200,
       "cancel keeps the letter")
    b.click(f"#letters-table tr[data-seq='{bin_seq}'] button[data-action=delete]")
    wait_for(lambda: visible(b, "#confirm"), 5, "the delete confirmation")
    b.click("#confirm-ok")
    wait_for(lambda: bin_seq not in letter_seqs(b), 10, "the deleted letter to leave")
    ok(http("GET", f"{base}/api/v1/dlq/{bin_seq}", token=TOKEN)[0] == 404,
       "delete removes the letter from the server")

    # Live: a new failure shows in the table and the list by itself.
    http("POST", base + "/api/v1/tasks", {"subject": "emails.send", "payload": "fail"},
         token=TOKEN)
    dead = wait_for(lambda: (lambda r: r if r and r[1][14] == "2" else None)(
        table(b, "#routes-table")), 10, "the emails row to count the new letter")
    ok(dead, "the route table refreshes itself (emails: 2 dead-lettered)")
    wait_for(lambda: len(letter_seqs(b)) == 5, 10, "the new letter listed")
    ok(b.js("return window.__loadedOnce;") == "yes", "all of it without reloading the page")
    later = uptime_seconds(facts(b).get("Uptime"))
    ok(uptime is not None and later is not None and later > uptime,
       "the uptime grows from one refresh to a later one", f"{uptime} s, then {later} s")
    b.js("window.scrollTo(0, 0);")
    time.sleep(0.3)
    b.screenshot(os.path.join(shots, "dashboard-overview.png"))

    rotate_token(b, engine, emails[0])
    not_ready(b, engine)
    note(f"screenshots in {shots}: dashboard-overview.png, dashboard-letter.png, "
         "dashboard-replay.png")
    ok(all(os.path.getsize(os.path.join(shots, f"dashboard-{n}.png")) > 10000
           for n in ("overview", "letter", "replay")), "the three screenshots were saved")


def rotate_token(b, engine, seq):
    """The token changes under the open page: taskjet restarted with
    another http.token_file. The page (paused, so it lists nothing with
    the old token first) still shows letter `seq`; replaying it, the
    server refuses the old token, and the confirmation asks for the token:
    a wrong one is refused, the new one replays."""
    b.click("#pause")
    wait_for(lambda: live_text(b) == "paused", 5, "the page paused")
    engine.stop()
    base = engine.start(NEW_TOKEN)
    ok(http("GET", f"{base}/api/v1/dlq/{seq}", token=TOKEN)[0] == 401
       and http("GET", f"{base}/api/v1/dlq/{seq}", token=NEW_TOKEN)[0] == 200,
       "taskjet restarted on the same port with a new token: the old one is refused")

    b.click(f"#letters-table tr[data-seq='{seq}'] button[data-action=replay]")
    wait_for(lambda: visible(b, "#confirm"), 5, "the replay confirmation")
    ok(not visible(b, "#confirm-token-row"), "the page still has the old token: not asked yet")
    b.click("#confirm-ok")
    err = wait_for(lambda: visible(b, "#confirm-error") and b.js(
        "return document.getElementById('confirm-error').textContent;"), 10, "the refusal")
    ok("refused the token" in err and visible(b, "#confirm") and visible(b, "#confirm-token-row")
       and seq in letter_seqs(b)
       and http("GET", f"{base}/api/v1/dlq/{seq}", token=NEW_TOKEN)[0] == 200,
       "the old token is refused: the confirmation says so, asks for the token, "
       "nothing is replayed", err)
    b.screenshot(os.path.join(shots, "dashboard-replay.png"))

    b.js("document.getElementById('confirm-error').textContent = '';")
    b.type("#confirm-token", "not-the-token")
    b.click("#confirm-ok")
    err = wait_for(lambda: visible(b, "#confirm-error") and b.js(
        "return document.getElementById('confirm-error').textContent;"), 10, "the refusal")
    ok("refused the token" in err and visible(b, "#confirm") and visible(b, "#confirm-token-row")
       and http("GET", f"{base}/api/v1/dlq/{seq}", token=NEW_TOKEN)[0] == 200,
       "a wrong token is refused and nothing is replayed", err)

    b.type("#confirm-token", NEW_TOKEN)
    b.click("#confirm-ok")
    wait_for(lambda: not visible(b, "#confirm"), 10, "the confirmation to close")
    wait_for(lambda: seq not in letter_seqs(b), 10, "the replayed letter to leave")
    toast = b.js("return document.getElementById('toast').textContent;")
    ok(f"Letter {seq} replayed to TASKS #" in toast
       and http("GET", f"{base}/api/v1/dlq/{seq}", token=NEW_TOKEN)[0] == 404,
       "with the new token the letter is replayed", toast)
    ok(live_text(b) == "paused", "the page stays paused after the replay", live_text(b))
    b.click("#pause")
    wait_for(lambda: live_text(b).startswith("live"), 10, "the page live again")
    up = uptime_seconds(facts(b).get("Uptime"))
    ok(up is not None and up < 30 and facts(b).get("Readiness") == "ready",
       "resumed, the page shows the restarted engine: a new uptime, ready", facts(b))


def not_ready(b, engine):
    """A route's durable deleted behind taskjet's back: the engine is not
    ready, and the page says so with the reason /readyz gives."""
    ov = http("GET", engine.base + "/api/v1/overview")[1]
    hooks = next(r for r in ov["routes"] if r["name"] == "hooks")
    answer = nats_request(engine.nats_port,
                          f"$JS.API.CONSUMER.DELETE.{hooks['stream']}.{hooks['consumer']}")
    ok(answer.get("success") is True, f"consumer {hooks['consumer']} deleted", answer)
    want = f"route hooks: consumer {hooks['stream']}/{hooks['consumer']}"
    wait_for(lambda: want in facts(b).get("Readiness", ""), 15, "the page to say not ready")
    refreshed(b)
    shown = facts(b).get("Readiness", "")
    st, rz = http("GET", engine.base + "/readyz")
    reason = rz.get("reason", "") if isinstance(rz, dict) else ""
    pill = b.js("const p = document.getElementById('ready-pill'); return [p.textContent, p.title];")
    ok(st == 503 and want in reason and shown == f"not ready {reason}" and pill == ["not ready",
                                                                                    reason],
       "overview: not ready, with the reason /readyz gives", f"page {shown!r}, pill {pill}, "
       f"/readyz {st} {rz}")


def on_alarm(signum, frame):
    raise Timeout(f"the whole run took over {RUN_LIMIT_S} s")


if __name__ == "__main__":
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(RUN_LIMIT_S)
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="tj-dash-")
    try:
        run(tmp)
    except (Timeout, WebDriverError, OSError, subprocess.SubprocessError) as e:
        ok(False, "the browser run went through", f"{type(e).__name__}: {e}")
        for name in ("taskjet0.log", "taskjet1.log", "chromedriver.log"):
            path = os.path.join(tmp, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    note(f"--- {name} (tail)")
                    for line in f.readlines()[-15:]:
                        note(line.rstrip())
    finally:
        signal.alarm(0)
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    note(f"took {time.monotonic() - started:.1f} s")
    print(f"1..{count}", flush=True)
    sys.exit(1 if failures else 0)
