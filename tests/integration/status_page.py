"""The Equalis status page (web/index.html, app.js, style.css) in a real browser, compared with
the daemon's REST API. Shared by web_status_test.py (the in-process demo plant) and
module_bus_daemon_test.py (the plant read over a module-bus line from equalis-sim).

- Chromium: headless Chromium driven over the DevTools protocol on a pipe
  (--remote-debugging-pipe), Python standard library only; open_status_page() loads the page and
  waits until it reports a live connection and keeps updating.
- Sampler: samples the REST API in the background while the browser runs (values drift).
- parse_dom(): the page's outerHTML as a small tree; check_page() compares every block value and
  the string summaries with the sampled API, check_env(), check_electrolyte() and check_io() the
  battery-room and I/O panels. Each returns a list of differences (strings).

A displayed value passes when it lies within the range of the sampled API values widened by the
display rounding plus a small tolerance.
"""

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser

LEVELS = {"off", "eco_plus", "eco", "normal", "power", "boost"}
STATUSES = {"ok", "warning", "alarm", "unknown"}
QUALITIES = {"ok", "stale", "comm_lost", "invalid", "not_present"}
NULL_TEXT = "—"

# Block table fields: (field, display decimals, tolerance for live drift).
BLOCK_FIELDS = [
    ("voltage_v", 2, 0.05),
    ("temperature_c", 1, 0.3),
    ("ri_mohm", 2, 0.3),
    ("charge_pct", 0, 1.0),
]
# String summary fields: (field, display decimals, tolerance for live drift).
SUMMARY_FIELDS = [
    ("voltage_v", 2, 0.3),
    ("target_voltage_v", 2, 0.05),
    ("charge_avg_pct", 1, 1.0),
    ("current_a", 2, 0.2),
    ("power_kw", 2, 0.05),
    ("ac_current_a", 2, 0.05),
]
REQUIRED_SUMMARY = {"voltage_v", "target_voltage_v"}  # must show a number in the demo plant
# Battery-room values: (system field, display decimals, alarm rules that colour the item).
ENV_FIELDS = [
    ("ambient_temperature_c", 1, ("system.ambient_high", "system.ambient_low")),
    ("humidity_pct", 1, ("system.humidity_high",)),
    ("hydrogen_pct", 2, ("system.hydrogen_high",)),
]
ENV_COUNTS = ["alarm_count", "warning_count", "unacknowledged_count"]
LEVEL_RANK = {"ok": 0, "warning": 1, "alarm": 2}
# Display decimals of analog I/O channels by kind (as the page shows them).
IO_DECIMALS = {"temperature": 1, "humidity": 1, "hydrogen": 3, "analog_input": 2}
# API samples taken this long before the DOM count for the polled panels (I/O and alarms are
# polled every 3 s, the stream sends at most once a second).
WINDOW_S = 6.0
BLOCK_HEADERS = ["No.", "Volt. [V]", "Temp. [°C]", "Ri [mΩ]", "Charge [%]", "Equalize", "Status"]


class TestFailure(Exception):
    pass


# Messages carry the name of the test that runs (e.g. "web_status_test: ...").
PROGRAM = os.path.splitext(os.path.basename(sys.argv[0] or ""))[0] or "status_page"


def log(msg):
    print(PROGRAM + ": " + msg, flush=True)


# --------------------------------------------------------------------------- processes


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, name, grace_s=5.0):
    """Stops a process started with start_new_session=True, and its process group."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log("%s did not stop on SIGTERM, killing it" % name)
    # Children (Chromium's renderers and helpers) may outlive the leader: kill the group.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        log("%s (pid %d) is still running" % (name, proc.pid))


def tail(path, lines=30):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- REST


def get_json(base, path, timeout=5.0):
    with urllib.request.urlopen(base + path, timeout=timeout) as r:
        if r.status != 200:
            raise TestFailure("GET %s: HTTP %d" % (path, r.status))
        return json.loads(r.read().decode("utf-8"))


def wait_for_api(base, proc, log_path, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    last_err = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TestFailure("equalisd exited with status %s before answering; its log:\n%s"
                              % (proc.returncode, tail(log_path)))
        try:
            return get_json(base, "/api/v1/system", timeout=2.0)
        except (OSError, ValueError, urllib.error.URLError) as e:
            last_err = e
            time.sleep(0.2)
    raise TestFailure("GET /api/v1/system did not answer within %.0f s (last error: %s); log:\n%s"
                      % (timeout_s, last_err, tail(log_path)))


def fetch_plant(base):
    """{string number: {"string": STRING, "blocks": {block number: BLOCK}}} from the REST API."""
    listing = get_json(base, "/api/v1/strings")
    if not isinstance(listing.get("strings"), list):
        raise TestFailure("/api/v1/strings: no 'strings' list in %r" % list(listing)[:10])
    plant = {}
    for s in listing["strings"]:
        n = s["string"]
        blocks = get_json(base, "/api/v1/strings/%d/blocks" % n)
        if not isinstance(blocks.get("blocks"), list):
            raise TestFailure("/api/v1/strings/%d/blocks: no 'blocks' list" % n)
        plant[n] = {"string": s, "blocks": {b["block"]: b for b in blocks["blocks"]}}
    return plant


class Sampler(threading.Thread):
    """Samples the REST API in the background while the browser runs."""

    def __init__(self, base, interval_s=0.3):
        super().__init__(daemon=True)
        self.base = base
        self.interval_s = interval_s
        self.samples = []
        self.panels = []  # (time.monotonic(), /system, /io, /alarms, plant)
        self.errors = []
        self._halt = threading.Event()

    def sample(self):
        t = time.monotonic()
        plant = fetch_plant(self.base)
        self.samples.append(plant)
        self.panels.append((t, get_json(self.base, "/api/v1/system"),
                            get_json(self.base, "/api/v1/io"),
                            get_json(self.base, "/api/v1/alarms"), plant))

    def run(self):
        while not self._halt.is_set():
            try:
                self.sample()
            except Exception as e:  # noqa: BLE001 - reported after the run
                self.errors.append(str(e))
            self._halt.wait(self.interval_s)

    def stop(self):
        self._halt.set()
        self.join(timeout=10)
        # One more sample after the DOM was taken.
        self.sample()

    def panels_since(self, t):
        return [p for p in self.panels if p[0] >= t]


# --------------------------------------------------------------------------- Chromium (CDP)


class Chromium:
    """Headless Chromium driven over the DevTools protocol on fds 3/4 (--remote-debugging-pipe)."""

    def __init__(self, binary, profile_dir, log_path):
        self.binary = binary
        self.profile_dir = profile_dir
        self.log_path = log_path
        self.proc = None
        self.next_id = 1
        self.buf = b""
        self.events = []
        self.to_chrome = None
        self.from_chrome = None

    def start(self):
        to_r, to_w = os.pipe()      # we write, Chromium reads on fd 3
        from_r, from_w = os.pipe()  # Chromium writes on fd 4, we read

        def child_fds():
            # Move the pipe ends out of the way first: either may already be fd 3 or 4.
            r, w = os.dup(to_r), os.dup(from_w)
            os.dup2(r, 3)  # dup2 makes 3 and 4 inheritable; everything else is close-on-exec
            os.dup2(w, 4)

        args = [
            self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + self.profile_dir,
            "--remote-debugging-pipe", "--window-size=1280,900", "about:blank",
        ]
        with open(self.log_path, "wb") as logf:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                         close_fds=False, preexec_fn=child_fds,
                                         start_new_session=True)
        os.close(to_r)
        os.close(from_w)
        self.to_chrome = to_w
        self.from_chrome = from_r

    def stop(self):
        if self.proc is not None and self.proc.poll() is None and self.to_chrome is not None:
            try:
                self.send("Browser.close")
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, TestFailure):
                pass
        stop_process(self.proc, "chromium")
        for fd in (self.to_chrome, self.from_chrome):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.to_chrome = self.from_chrome = None

    def send(self, method, params=None, session=None):
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.next_id += 1
        data = json.dumps(msg).encode("utf-8") + b"\0"
        while data:
            n = os.write(self.to_chrome, data)
            data = data[n:]
        return msg["id"]

    def _read(self, deadline):
        while b"\0" not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TestFailure("chromium did not answer over the DevTools pipe in time")
            ready, _, _ = select.select([self.from_chrome], [], [], min(remaining, 0.5))
            if not ready:
                if self.proc.poll() is not None:
                    raise TestFailure("chromium exited with status %s; its log:\n%s"
                                      % (self.proc.returncode, tail(self.log_path)))
                continue
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise TestFailure("chromium closed the DevTools pipe; its log:\n%s"
                                  % tail(self.log_path))
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw.decode("utf-8"))

    def call(self, method, params=None, session=None, timeout_s=20.0):
        want = self.send(method, params, session)
        deadline = time.monotonic() + timeout_s
        while True:
            msg = self._read(deadline)
            if msg.get("id") == want:
                if "error" in msg:
                    raise TestFailure("DevTools %s failed: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, session, expression, timeout_s=20.0):
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, session, timeout_s)
        if "exceptionDetails" in res:
            raise TestFailure("page evaluation of %r threw: %s"
                              % (expression, res["exceptionDetails"].get("text")))
        return res.get("result", {}).get("value")

    def page_errors(self):
        """Uncaught exceptions and console.error messages seen so far."""
        out = []
        for ev in self.events:
            if ev.get("method") == "Runtime.exceptionThrown":
                d = ev["params"]["exceptionDetails"]
                exc = d.get("exception", {}).get("description") or d.get("text")
                out.append("uncaught exception: %s" % exc)
            elif ev.get("method") == "Runtime.consoleAPICalled" and ev["params"].get("type") == "error":
                args = [a.get("value", a.get("description", "")) for a in ev["params"].get("args", [])]
                out.append("console.error: %s" % " ".join(str(a) for a in args))
        return out


def open_status_page(chrome, base, timeout_s):
    """Opens the status page at base + "/" in Chromium's page (1280 × 900) and waits until it
    reports a live connection with block rows, then until it shows a newer server time.
    Returns (DevTools session, the deadline used, time.monotonic() based)."""
    targets = chrome.call("Target.getTargets")["targetInfos"]
    pages = [t for t in targets if t.get("type") == "page"]
    if pages:
        target_id = pages[0]["targetId"]
    else:
        target_id = chrome.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = chrome.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})["sessionId"]
    chrome.call("Runtime.enable", session=session)
    chrome.call("Page.enable", session=session)
    chrome.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900,
                                                       "deviceScaleFactor": 1, "mobile": False},
                session)
    chrome.call("Page.navigate", {"url": base + "/"}, session)

    # Wait until the page is live with all rows rendered, then until it shows a newer update.
    deadline = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < deadline:
        state = chrome.evaluate(session, PAGE_PROBE)
        if state and state[0] == "live" and state[1] > 0:
            break
        time.sleep(0.25)
    else:
        raise TestFailure("page did not become live with rows within %.0f s (state, rows, time: %r);"
                          " page errors: %s" % (timeout_s, state, chrome.page_errors()))
    wait_for_page_update(chrome, session, state[2], deadline, timeout_s)
    return session, deadline


# [connection state, number of block rows, server time of the last update shown (ms)]
PAGE_PROBE = ("(() => { const c = document.getElementById('conn');"
              " const t = document.getElementById('server-time');"
              " return [c ? c.dataset.state : null, document.querySelectorAll('tr[data-block]').length,"
              " t ? (t.dataset.ms || '') : '']; })()")


def wait_for_page_update(chrome, session, first_ms, deadline, timeout_s):
    """Waits until the page shows a server time other than first_ms (a newer update)."""
    while time.monotonic() < deadline:
        state = chrome.evaluate(session, PAGE_PROBE)
        if state[2] and state[2] != first_ms:
            return state
        time.sleep(0.25)
    raise TestFailure("page is not updating: server time stayed at %r for %.0f s"
                      % (first_ms, timeout_s))


# --------------------------------------------------------------------------- DOM


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = dict(attrs)
        self.parent = parent
        self.children = []  # Node or str

    @property
    def classes(self):
        return set((self.attrs.get("class") or "").split())

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        out = []
        for n in self.iter():
            if n is self:
                continue
            if tag and n.tag != tag:
                continue
            if cls and cls not in n.classes:
                continue
            if any(n.attrs.get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            out.append(n)
        return out

    def find(self, tag=None, cls=None, **attrs):
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_dom(html):
    b = TreeBuilder()
    b.feed(html)
    b.close()
    return b.root


# --------------------------------------------------------------------------- comparisons


NUM_RE = re.compile(r"^[+\-−]?\d+(\.\d+)?$")


def parse_number(text, suffix=""):
    """Displayed text → float, None for the null dash; raises ValueError otherwise."""
    t = text.strip()
    if t == NULL_TEXT:
        return None
    if suffix and t.endswith(suffix):
        t = t[: -len(suffix)].strip()
    if not NUM_RE.match(t):
        raise ValueError(text)
    return float(t.replace("−", "-"))


def api_values(samples, getter):
    vals = []
    for s in samples:
        try:
            vo = getter(s)
        except (KeyError, TypeError):
            continue
        if isinstance(vo, dict):
            vals.append(vo.get("value"))
    return vals


def check_value(errors, where, text, values, decimals, tol, suffix=""):
    """Displayed text against the API values sampled during the run."""
    try:
        shown = parse_number(text, suffix)
    except ValueError:
        errors.append("%s: displayed %r is not a number with %d decimals" % (where, text, decimals))
        return
    numbers = [v for v in values if isinstance(v, (int, float))]
    if shown is None:
        if None not in values:
            errors.append("%s: displayed %r but the API had a value (%s)"
                          % (where, text, fmt_range(numbers)))
        return
    if decimals == 0:
        decimal_ok = re.fullmatch(r"[+\-−]?\d+", text.strip().rstrip(suffix).strip())
    else:
        decimal_ok = re.search(r"\.\d{%d}$" % decimals, text.strip().rstrip(suffix).strip())
    if not decimal_ok:
        errors.append("%s: displayed %r, expected %d decimals" % (where, text, decimals))
    if not numbers:
        errors.append("%s: displayed %r but the API value was null in every sample" % (where, text))
        return
    slack = 0.5 * 10 ** (-decimals) + tol + 1e-9
    if not (min(numbers) - slack <= shown <= max(numbers) + slack):
        errors.append("%s: displayed %s, API %s (allowed ±%g)" % (where, text, fmt_range(numbers), slack))


def fmt_range(numbers):
    if not numbers:
        return "null"
    lo, hi = min(numbers), max(numbers)
    return ("%g" % lo) if lo == hi else ("%g … %g" % (lo, hi))


def check_quality(errors, where, node, qualities):
    q = node.attrs.get("data-quality")
    if q not in QUALITIES:
        errors.append("%s: data-quality %r is not a quality name" % (where, q))
        return
    if qualities and q not in qualities:
        errors.append("%s: data-quality %r, API said %s" % (where, q, "/".join(sorted(qualities))))
    if q != "ok" and "q-bad" not in node.classes:
        errors.append("%s: quality %r but not greyed (no class q-bad)" % (where, q))
    if q == "ok" and "q-bad" in node.classes and node.text().strip() != NULL_TEXT:
        errors.append("%s: quality ok but greyed" % where)
    if "quality" not in (node.attrs.get("title") or ""):
        errors.append("%s: no tooltip with quality and age (title=%r)" % (where, node.attrs.get("title")))


def check_page(dom, samples, system):
    errors = []
    latest = samples[-1]

    conn = dom.find(id="conn")
    if conn is None:
        errors.append("no connection indicator (#conn)")
    elif conn.attrs.get("data-state") != "live":
        errors.append("connection indicator says %r, expected 'live'" % conn.attrs.get("data-state"))
    st = dom.find(id="server-time")
    if st is None or not re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", st.text()):
        errors.append("server time not shown (got %r)" % (st.text() if st else None))
    site = (system.get("site") or {}).get("name")
    h1 = dom.find(id="site-name")
    if site and (h1 is None or h1.text().strip() != site):
        errors.append("site name: shown %r, API %r" % (h1.text() if h1 else None, site))

    tables = dom.find_all("table", cls="blocks")
    if len(tables) != len(latest):
        errors.append("%d block tables on the page, the API has %d strings" % (len(tables), len(latest)))

    total_rows = 0
    for n in sorted(latest):
        api_string = latest[n]["string"]
        name = api_string["name"]
        card = dom.find("section", data_string=str(n))
        if card is None:
            errors.append("string %d (%s): no card <section data-string=%d>" % (n, name, n))
            continue
        title = card.find(cls="string-name")
        if title is None or title.text().strip() != name:
            errors.append("string %d: card title %r, API name %r"
                          % (n, title.text() if title else None, name))
        found = card.find_all("table", cls="blocks", data_string=str(n))
        if len(found) != 1:
            errors.append("string %d: %d tables.blocks in its card, expected 1" % (n, len(found)))
            continue
        table = found[0]
        headers = [th.text().strip() for th in table.find_all("th")]
        if headers != BLOCK_HEADERS:
            errors.append("string %d: table headers %r, expected %r" % (n, headers, BLOCK_HEADERS))

        rows = table.find_all("tr", cls=None)
        rows = [r for r in rows if "data-block" in r.attrs]
        total_rows += len(rows)
        api_blocks = latest[n]["blocks"]
        expected_count = api_string.get("block_count", len(api_blocks))
        if len(rows) != expected_count or len(rows) != len(api_blocks):
            errors.append("string %d: %d rows, API block_count %s with %d blocks"
                          % (n, len(rows), expected_count, len(api_blocks)))
        shown_numbers = [r.attrs["data-block"] for r in rows]
        if shown_numbers != [str(b) for b in sorted(api_blocks)]:
            errors.append("string %d: row block numbers %s, API %s"
                          % (n, ",".join(shown_numbers), ",".join(map(str, sorted(api_blocks)))))

        for row in rows:
            b = int(row.attrs["data-block"])
            where = "%s block %d" % (name, b)
            if b not in api_blocks:
                errors.append("%s: no such block in the API" % where)
                continue
            cells = {td.attrs.get("data-field"): td for td in row.find_all("td")}
            no = cells.get("block")
            if no is None or no.text().strip() != str(b):
                errors.append("%s: No. cell shows %r" % (where, no.text() if no else None))
            row_q = {s[n]["blocks"][b].get("quality") for s in samples
                     if n in s and b in s[n]["blocks"]}
            if row.attrs.get("data-quality") not in row_q:
                errors.append("%s: row data-quality %r, API %s"
                              % (where, row.attrs.get("data-quality"), "/".join(sorted(row_q))))
            for field, decimals, tol in BLOCK_FIELDS:
                td = cells.get(field)
                if td is None:
                    errors.append("%s: no cell data-field=%s" % (where, field))
                    continue
                getter = lambda s, n=n, b=b, f=field: s[n]["blocks"][b][f]  # noqa: E731
                check_value(errors, "%s %s" % (where, field), td.text(), api_values(samples, getter),
                            decimals, tol, "%" if field == "charge_pct" else "")
                quals = {vo.get("quality") for vo in (getter(s) for s in samples if n in s
                                                      and b in s[n]["blocks"])}
                check_quality(errors, "%s %s" % (where, field), td, quals)

            eq = cells.get("equalization_pct")
            if eq is None:
                errors.append("%s: no equalize cell" % where)
            else:
                level = eq.attrs.get("data-level")
                fill = eq.find(cls="eqfill")
                if level not in LEVELS:
                    errors.append("%s: equalize level %r is not a level name" % (where, level))
                if fill is None or ("lvl-" + str(level)) not in fill.classes:
                    errors.append("%s: equalize bar has no fill of class lvl-%s" % (where, level))
                else:
                    m = re.search(r"width:\s*([\d.]+)%", fill.attrs.get("style", ""))
                    pcts = [v for v in api_values(samples, lambda s, n=n, b=b: s[n]["blocks"][b]
                                                  ["equalization_pct"]) if isinstance(v, (int, float))]
                    if m is None:
                        errors.append("%s: equalize bar has no width" % where)
                    elif pcts and not (min(pcts) - 5 <= float(m.group(1)) <= max(pcts) + 5):
                        errors.append("%s: equalize bar width %s%%, API %s %%"
                                      % (where, m.group(1), fmt_range(pcts)))
            status = cells.get("status")
            if status is None:
                errors.append("%s: no status cell" % where)
            else:
                shown = status.attrs.get("data-status")
                dot = status.find(cls="dot")
                if shown not in STATUSES or dot is None or ("st-" + str(shown)) not in dot.classes:
                    errors.append("%s: status cell data-status=%r dot=%r"
                                  % (where, shown, dot.attrs.get("class") if dot else None))
                else:
                    api_st = set()
                    for s in samples:
                        vo = s[n]["blocks"][b]["status"] if n in s and b in s[n]["blocks"] else None
                        if vo is not None:
                            api_st.add(vo.get("value") if vo.get("quality") == "ok" else "unknown")
                    if api_st and shown not in api_st:
                        errors.append("%s: status dot %r, API %s" % (where, shown, "/".join(sorted(api_st))))

        summary = card.find("dl", cls="summary", data_string=str(n))
        if summary is None:
            errors.append("string %d: no summary <dl class=summary data-string=%d>" % (n, n))
            continue
        for field, decimals, tol in SUMMARY_FIELDS:
            box = summary.find(data_field=field)
            where = "%s summary %s" % (name, field)
            if box is None:
                errors.append("%s: missing" % where)
                continue
            val = box.find(cls="val")
            text = val.text() if val is not None else ""
            values = api_values(samples, lambda s, n=n, f=field: s[n]["string"][f])
            # "—" is right only while the API has no value (a string without one answering block).
            if field in REQUIRED_SUMMARY and text.strip() == NULL_TEXT and None not in values:
                errors.append("%s: shows %r, expected a number" % (where, text))
            check_value(errors, where, text, values, decimals, tol)
            quals = {vo.get("quality") for vo in (s[n]["string"].get(field) for s in samples if n in s)
                     if isinstance(vo, dict)}
            check_quality(errors, where, box, quals)

    api_total = sum(len(p["blocks"]) for p in latest.values())
    if total_rows != api_total:
        errors.append("%d block rows in total, API has %d blocks" % (total_rows, api_total))
    return errors, total_rows


def alarm_level(alarms, rules, string=None):
    """Worst level of the active alarms of `rules` (for `string`, or system-wide)."""
    worst = "ok"
    for a in alarms:
        if a.get("rule") in rules and a.get("string") == string and \
                LEVEL_RANK.get(a.get("level"), 0) > LEVEL_RANK[worst]:
            worst = a["level"]
    return worst


def check_env_item(errors, where, item, vos, decimals):
    """One battery-room item against the API value objects sampled in the window."""
    quals = {vo.get("quality") for vo in vos}
    if quals == {"not_present"}:
        if "hidden" not in item.attrs:
            errors.append("%s: not present in the API but shown" % where)
        return
    if "hidden" in item.attrs and "not_present" not in quals:
        errors.append("%s: hidden, but the API has it (%s)" % (where, "/".join(sorted(quals))))
        return
    val = item.find(cls="val")
    text = val.text() if val is not None else ""
    values = [vo.get("value") for vo in vos]
    if any(isinstance(v, str) for v in values):
        if text.strip() not in {str(v) if v is not None else NULL_TEXT for v in values}:
            errors.append("%s: shows %r, API %s" % (where, text, "/".join(sorted(map(str, values)))))
    else:
        check_value(errors, where, text, values, decimals, 0.0)
    check_quality(errors, where, item, quals)


def check_env(dom, panels):
    """The battery-room panel against /api/v1/system, /strings and /alarms."""
    errors = []
    env = dom.find(id="env")
    if env is None:
        return ["no battery-room panel (#env)"]
    systems = [p[1] for p in panels]
    alarm_lists = [p[3]["alarms"] for p in panels]
    for field, decimals, rules in ENV_FIELDS:
        where = "battery room %s" % field
        item = env.find(cls="env-item", data_field=field)
        if item is None:
            errors.append("%s: missing" % where)
            continue
        check_env_item(errors, where, item, [s[field] for s in systems], decimals)
        levels = {alarm_level(al, rules) for al in alarm_lists}
        if item.attrs.get("data-level") not in levels:
            errors.append("%s: colour level %r, active alarms of %s gave %s"
                          % (where, item.attrs.get("data-level"), "/".join(rules),
                             "/".join(sorted(levels))))
    for field in ENV_COUNTS:
        where = "battery room %s" % field
        item = env.find(cls="env-item", data_field=field)
        if item is None:
            errors.append("%s: missing" % where)
            continue
        check_env_item(errors, where, item, [s[field] for s in systems], 0)
    return errors


def check_electrolyte(dom, panels):
    """One electrolyte item per string, as string.electrolyte_level in /strings."""
    errors = []
    env = dom.find(id="env")
    if env is None:
        return errors
    samples = [p[4] for p in panels]
    for n in sorted(samples[-1]):
        where = "battery room electrolyte of string %d" % n
        item = env.find(cls="env-item", data_field="electrolyte_level", data_string=str(n))
        if item is None:
            errors.append("%s: missing" % where)
            continue
        vos = [s[n]["string"]["electrolyte_level"] for s in samples if n in s]
        check_env_item(errors, where, item, vos, 0)
        levels = {alarm_level(p[3]["alarms"], ("string.electrolyte_low",), n) for p in panels}
        if item.attrs.get("data-level") not in levels:
            errors.append("%s: colour level %r, active string.electrolyte_low alarms gave %s"
                          % (where, item.attrs.get("data-level"), "/".join(sorted(levels))))
    return errors


def io_expected_text(c):
    """What the page must show for an /api/v1/io channel (None: a number, checked apart)."""
    v = c.get("value")
    if v is None:
        return NULL_TEXT
    if c.get("output"):
        return "pulse" if c.get("pulse_until") else ("on" if v is True else "off")
    if c.get("kind") == "digital_input":
        if c.get("role") == "breaker_status":
            return "closed" if v is True else "open"
        return "active" if v is True else "inactive"
    if isinstance(v, (int, float)):
        return None
    return str(v)


def check_io(dom, panels):
    """The I/O panel against /api/v1/io sampled in the window. Returns errors, channel count."""
    errors = []
    panel = dom.find(id="io")
    if panel is None:
        return ["no I/O panel (#io)"], 0
    latest = panels[-1][2]["devices"]
    by_id = {}  # channel id → [channel from every sample]
    states = {}  # device id → {state}
    for p in panels:
        for d in p[2]["devices"]:
            states.setdefault(d["id"], set()).add(d["state"])
            for c in d["channels"]:
                by_id.setdefault(c["id"], []).append(c)
    shown_devices = [n.attrs.get("data-device") for n in panel.find_all("article", cls="io-device")]
    if shown_devices != [d["id"] for d in latest]:
        errors.append("I/O devices shown %s, API %s" % (shown_devices, [d["id"] for d in latest]))
    count = 0
    for d in latest:
        box = panel.find("article", cls="io-device", data_device=d["id"])
        if box is None:
            continue
        name = box.find(cls="io-name")
        if name is None or name.text().strip() != d["name"]:
            errors.append("I/O device %s: name %r, API %r" % (d["id"], name.text() if name else None,
                                                            d["name"]))
        if box.attrs.get("data-state") not in states[d["id"]]:
            errors.append("I/O device %s: state %r, API %s" % (d["id"], box.attrs.get("data-state"),
                                                             "/".join(sorted(states[d["id"]]))))
        rows = [r for r in box.find_all("tr") if "data-channel" in r.attrs]
        ids = [r.attrs["data-channel"] for r in rows]
        if ids != [c["id"] for c in d["channels"]]:
            errors.append("I/O device %s: channels %s, API %s" % (d["id"], ids,
                                                                [c["id"] for c in d["channels"]]))
        for row in rows:
            cid = row.attrs["data-channel"]
            seen = by_id.get(cid)
            if not seen:
                continue
            count += 1
            cells = {td.attrs.get("data-field"): td for td in row.find_all("td")}
            if cells.get("name") is None or cells["name"].text().strip() != seen[-1]["name"]:
                errors.append("I/O %s: name %r, API %r" % (cid, cells["name"].text()
                                                          if cells.get("name") else None, seen[-1]["name"]))
            val = cells.get("value")
            if val is None:
                errors.append("I/O %s: no value cell" % cid)
                continue
            text = val.text().strip()
            expected = {io_expected_text(c) for c in seen}
            if None in expected:  # a number with its unit
                unit = seen[-1].get("unit") or ""
                number = text[: -len(unit)].strip() if unit and text.endswith(unit) else text
                check_value(errors, "I/O %s" % cid, number, [c.get("value") for c in seen],
                            IO_DECIMALS.get(seen[-1]["kind"], 2), 0.0)
                if unit and text != NULL_TEXT and not text.endswith(" " + unit):
                    errors.append("I/O %s: %r has no unit %r" % (cid, text, unit))
            elif text not in expected:
                errors.append("I/O %s: shows %r, API %s" % (cid, text, "/".join(sorted(expected))))
            check_quality(errors, "I/O %s" % cid, val, {c.get("quality") for c in seen})
            q = cells.get("quality")
            if q is None or q.attrs.get("data-quality") != val.attrs.get("data-quality"):
                errors.append("I/O %s: quality column %r" % (cid, q.attrs if q else None))
    return errors, count
