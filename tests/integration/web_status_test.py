#!/usr/bin/env python3
"""Real-browser test of the Equalis status page (web/index.html, app.js, style.css).

Usage:
    python3 tests/integration/web_status_test.py --equalisd build/bin/equalisd

Starts `equalisd` with the built-in demo plant on a free port, opens the status page in
headless Chromium, waits until the page reports a live connection, takes its DOM and compares
every displayed block value and the string summaries with the daemon's REST API.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe) rather than
with --dump-dom --virtual-time-budget: under a virtual time budget Chromium stops the virtual
clock while any fetch is pending, and the page's Server-Sent-Events stream never completes, so
--dump-dom would never return. The pipe needs nothing beyond the Python standard library.

Values drift while the simulated plant runs (time scale 60), so a background thread samples the
REST API during the whole browser run; a displayed value passes when it lies within the range
of the sampled API values widened by the display rounding plus a small tolerance.

Exit status 0 on success, 1 with a message naming every difference on failure. equalisd and
Chromium are always stopped and the temporary directories removed.
"""

import argparse
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
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
BLOCK_HEADERS = ["No.", "Volt. [V]", "Temp. [°C]", "Ri [mΩ]", "Charge [%]", "Equalize", "Status"]


class TestFailure(Exception):
    pass


def log(msg):
    print("web_status_test: " + msg, flush=True)


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
        self.errors = []
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            try:
                self.samples.append(fetch_plant(self.base))
            except Exception as e:  # noqa: BLE001 - reported after the run
                self.errors.append(str(e))
            self._halt.wait(self.interval_s)

    def stop(self):
        self._halt.set()
        self.join(timeout=10)
        # One more sample after the DOM was taken.
        self.samples.append(fetch_plant(self.base))


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
            if field in REQUIRED_SUMMARY and text.strip() == NULL_TEXT:
                errors.append("%s: shows %r, expected a number" % (where, text))
            check_value(errors, where, text, values, decimals, tol)
            quals = {vo.get("quality") for vo in (s[n]["string"].get(field) for s in samples if n in s)
                     if isinstance(vo, dict)}
            check_quality(errors, where, box, quals)

    api_total = sum(len(p["blocks"]) for p in latest.values())
    if total_rows != api_total:
        errors.append("%d block rows in total, API has %d blocks" % (total_rows, api_total))
    return errors, total_rows


# --------------------------------------------------------------------------- main


def run(args):
    port = free_port()
    base = "http://127.0.0.1:%d" % port
    tmp = tempfile.mkdtemp(prefix="equalis-web-test-")
    data_dir = os.path.join(tmp, "data")
    profile_dir = os.path.join(tmp, "chromium-profile")
    os.makedirs(data_dir)
    os.makedirs(profile_dir)
    daemon_log = os.path.join(tmp, "equalisd.log")
    chrome_log = os.path.join(tmp, "chromium.log")
    if args.server_cmd:  # development only: a stand-in server
        cmd = shlex.split(args.server_cmd.format(port=port, data_dir=data_dir))
    else:
        cmd = [args.equalisd, "--http", "127.0.0.1:%d" % port, "--data-dir", data_dir,
               "--time-scale", "60"]
    daemon = None
    chrome = None
    sampler = None
    try:
        log("starting %s" % " ".join(cmd))
        with open(daemon_log, "wb") as logf:
            daemon = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                      start_new_session=True)
        system = wait_for_api(base, daemon, daemon_log, args.api_timeout)
        log("daemon answers on %s (version %s)" % (base, system.get("version")))

        sampler = Sampler(base)
        sampler.start()

        chrome = Chromium(args.chromium, profile_dir, chrome_log)
        chrome.start()
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
        probe = ("(() => { const c = document.getElementById('conn');"
                 " const t = document.getElementById('server-time');"
                 " return [c ? c.dataset.state : null, document.querySelectorAll('tr[data-block]').length,"
                 " t ? (t.dataset.ms || '') : '']; })()")
        deadline = time.monotonic() + args.page_timeout
        state = None
        while time.monotonic() < deadline:
            state = chrome.evaluate(session, probe)
            if state and state[0] == "live" and state[1] > 0:
                break
            time.sleep(0.25)
        else:
            raise TestFailure("page did not become live with rows within %.0f s (state, rows, time: %r);"
                              " page errors: %s" % (args.page_timeout, state, chrome.page_errors()))
        first_ms = state[2]
        while time.monotonic() < deadline:
            state = chrome.evaluate(session, probe)
            if state[2] and state[2] != first_ms:
                break
            time.sleep(0.25)
        else:
            raise TestFailure("page is not updating: server time stayed at %r for %.0f s"
                              % (first_ms, args.page_timeout))
        time.sleep(0.3)
        # The page polls the alarm list every 3 s: take the DOM one poll period after a first
        # API count, and accept any count the API had in that window.
        alarm_counts = [len(get_json(base, "/api/v1/alarms")["alarms"])]
        time.sleep(3.5)
        html = chrome.evaluate(session, "document.documentElement.outerHTML")
        alarm_counts.append(len(get_json(base, "/api/v1/alarms")["alarms"]))

        if args.screenshot_dir:
            import base64
            os.makedirs(args.screenshot_dir, exist_ok=True)
            for label, width, height, mobile in (("desktop", 1280, 1700, False), ("phone", 390, 1900, True)):
                chrome.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                                   "deviceScaleFactor": 1, "mobile": mobile},
                            session)
                time.sleep(0.5)
                shot = chrome.call("Page.captureScreenshot", {"format": "png"}, session)
                with open(os.path.join(args.screenshot_dir, label + ".png"), "wb") as f:
                    f.write(base64.b64decode(shot["data"]))

        # Phone width: the page itself must not scroll sideways (wide tables scroll in their card).
        chrome.call("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844,
                                                           "deviceScaleFactor": 2, "mobile": True}, session)
        time.sleep(0.5)
        phone_width = chrome.evaluate(session, "document.documentElement.scrollWidth")

        page_errors = chrome.page_errors()
        chrome.stop()
        sampler.stop()
        if args.keep_dom:
            with open(args.keep_dom, "w", encoding="utf-8") as f:
                f.write(html)
        if not sampler.samples:
            raise TestFailure("could not sample the REST API during the run: %s" % sampler.errors[:3])

        dom = parse_dom(html)
        errors, rows = check_page(dom, sampler.samples, system)
        # Active alarms: the panel lists what /api/v1/alarms lists.
        panel = dom.find(id="alarms")
        if panel is None:
            errors.append("no active-alarm panel (#alarms)")
        else:
            shown = dom.find_all("li", cls="alarm-item")
            lo, hi = min(alarm_counts), max(alarm_counts)
            if panel.attrs.get("data-count") != str(len(shown)) or not lo <= len(shown) <= hi:
                errors.append("alarm panel shows %s (%d items), the API had %d…%d active alarms"
                              % (panel.attrs.get("data-count"), len(shown), lo, hi))
        errors += ["page error: " + e for e in page_errors]
        if phone_width is None or phone_width > 390:
            errors.append("page is %spx wide on a 390-px phone screen (scrolls sideways)" % phone_width)
        if errors:
            raise TestFailure("%d difference(s) between the page and the API:\n  %s%s" % (
                len(errors), "\n  ".join(errors[:60]),
                "\n  … and %d more" % (len(errors) - 60) if len(errors) > 60 else ""))
        log("OK: %d strings, %d block rows match the API (%d API samples); connection live"
            % (len(sampler.samples[-1]), rows, len(sampler.samples)))
        return 0
    finally:
        if chrome is not None:
            chrome.stop()
        if sampler is not None and sampler.is_alive():
            sampler._halt.set()
        stop_process(daemon, "equalisd")
        if args.keep_tmp:
            log("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--equalisd", help="path to the equalisd binary")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--server-cmd", help="development only: command template with {port} and "
                                         "{data_dir} to run instead of equalisd")
    ap.add_argument("--api-timeout", type=float, default=30.0)
    ap.add_argument("--page-timeout", type=float, default=30.0)
    ap.add_argument("--keep-dom", metavar="FILE", help="write the page's DOM to FILE")
    ap.add_argument("--screenshot-dir", metavar="DIR", help="save desktop and phone screenshots")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, data)")
    args = ap.parse_args()
    if not args.server_cmd and not args.equalisd:
        ap.error("--equalisd is required")
    if args.equalisd and not args.server_cmd and not os.access(args.equalisd, os.X_OK):
        print("web_status_test: FAIL: %s is not an executable" % args.equalisd, file=sys.stderr)
        return 1
    if not os.access(args.chromium, os.X_OK):
        print("web_status_test: FAIL: chromium not found at %s" % args.chromium, file=sys.stderr)
        return 1
    try:
        return run(args)
    except TestFailure as e:
        print("web_status_test: FAIL: %s" % e, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("web_status_test: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
