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

The battery-room panel and the I/O panel are checked against /api/v1/system, /api/v1/alarms
and /api/v1/io sampled in the last seconds before the DOM was taken. The daemon runs a small
scenario written by the test (the door contact aux1.di3 opens at 1 min plant time, the room air
turns humid, string 1's pilot cell loses electrolyte), so the page has an active input, a
humidity alarm and an electrolyte warning to show; the test waits until the API reports those
alarms before it takes the DOM.

Exit status 0 on success, 1 with a message naming every difference on failure. equalisd and
Chromium are always stopped and the temporary directories removed.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from status_page import (WINDOW_S, Chromium, Sampler, TestFailure,  # noqa: E402
                         check_electrolyte, check_env, check_io, check_page, free_port, get_json,
                         log, open_status_page, parse_dom, stop_process, wait_for_api)

# Written to the temp dir and played by equalisd (docs/scenarios.md).
SCENARIO = """name = "web-status-test"
description = "Door open, humid air and a low pilot-cell electrolyte for the status page test"
duration = "1d"

[[event]]
at = "1min"
action = "input"
channel = "aux1.di3"
active = true

[[event]]
at = "1min"
action = "humidity"
humidity_pct = 97
swing_pct = 0

[[event]]
at = "1min"
action = "electrolyte"
string = 1
block = 1
level_pct = 30
"""
# Alarms the scenario raises: the test waits for them before it takes the DOM.
SCENARIO_ALARMS = {("input.aux1.di3", None), ("system.humidity_high", None),
                   ("string.electrolyte_low", 1)}


def check_scenario_shown(dom):
    """What the test scenario must make visible, named explicitly."""
    errors = []

    def io_text(cid):
        row = dom.find("tr", data_channel=cid)
        cell = row.find(data_field="value") if row is not None else None
        return cell.text().strip() if cell is not None else None

    for cid, want in (("aux1.di1", "closed"), ("aux1.di2", "closed"), ("aux1.di3", "active"),
                      ("aux1.di4", "inactive"), ("aux1.relay1", "off")):
        got = io_text(cid)
        if got != want:
            errors.append("I/O %s: shows %r, expected %r" % (cid, got, want))
    humidity = dom.find(cls="env-item", data_field="humidity_pct")
    if humidity is None or humidity.attrs.get("data-level") != "alarm":
        errors.append("humidity at 97 %% is not coloured as an alarm (%r)"
                      % (humidity.attrs if humidity else None))
    els = dom.find(cls="env-item", data_field="electrolyte_level", data_string="1")
    val = els.find(cls="val") if els is not None else None
    if val is None or val.text().strip() != "warning" or els.attrs.get("data-level") != "warning":
        errors.append("string 1 electrolyte: %r, expected 'warning' coloured as a warning"
                      % (els.attrs if els else None))
    els2 = dom.find(cls="env-item", data_field="electrolyte_level", data_string="2")
    if els2 is None or "hidden" not in els2.attrs:
        errors.append("string 2 has no level sensor, but its electrolyte item is not hidden")
    return errors


# --------------------------------------------------------------------------- main


EVIL_PAGE = """<!DOCTYPE html><html><body><script>
window.__done = null;
var target = %s;
var writes = [
  [target + "/api/v1/io/outputs/aux1.relay1", '{"on": true}'],
  [target + "/api/v1/alarms/ack?key=" + encodeURIComponent(%s), "{}"]
];
Promise.all(writes.map(function (w) {
  return Promise.all([
    fetch(w[0], {method: "POST", mode: "no-cors", credentials: "include", body: w[1]})
      .then(function () { return "sent"; }, function (e) { return "failed " + e; }),
    fetch(w[0], {method: "POST", mode: "cors", credentials: "include", body: w[1],
                 headers: {"Content-Type": "application/json"}})
      .then(function (r) { return "answered " + r.status; }, function (e) { return "blocked"; })
  ]);
})).then(function (r) { window.__done = JSON.stringify(r); });
</script></body></html>"""


def cross_origin_attack(chrome, session, base, tmp):
    """Serves EVIL_PAGE from another port, opens it in the logged-in browser and checks that
    neither write took effect. Returns a list of problems."""
    import functools
    import http.server
    import threading
    errors = []

    def relay():
        for d in get_json(base, "/api/v1/io")["devices"]:
            for c in d["channels"]:
                if c["id"] == "aux1.relay1":
                    return c["value"]
        return None

    open_alarms = [a["key"] for a in get_json(base, "/api/v1/alarms")["alarms"]
                   if not a["acknowledged"] and a["rule"] != "string.thermal_runaway"]
    if not open_alarms:
        return ["no unacknowledged alarm left for the cross-origin test"]
    evil_dir = os.path.join(tmp, "evil")
    os.makedirs(evil_dir)
    with open(os.path.join(evil_dir, "index.html"), "w", encoding="utf-8") as f:
        f.write(EVIL_PAGE % (json.dumps(base), json.dumps(open_alarms[0])))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=evil_dir)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        before = relay()
        chrome.call("Page.navigate", {"url": "http://127.0.0.1:%d/index.html"
                                      % httpd.server_address[1]}, session)
        done = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not done:
            time.sleep(0.3)
            done = chrome.evaluate(session, "window.__done")
        if not done:
            errors.append("the cross-origin page did not finish its requests")
        time.sleep(1.0)
        if relay() != before:
            errors.append("a page of another origin switched aux1.relay1 (%r → %r): %s"
                          % (before, relay(), done))
        if any(a["key"] == open_alarms[0] and a["acknowledged"]
               for a in get_json(base, "/api/v1/alarms")["alarms"]):
            errors.append("a page of another origin acknowledged %s: %s" % (open_alarms[0], done))
        if done and "answered 200" in done:
            errors.append("a cross-origin JSON request was answered 200: %s" % done)
        log("cross-origin page: %s; relay1 %r, %s unacknowledged" % (done, relay(), open_alarms[0]))
    finally:
        httpd.shutdown()
    return errors


def page_login(chrome, session, user, password, timeout_s=15):
    """Logs in with the page's own form; returns the account text the page then shows."""
    chrome.evaluate(session, (
        "(function(){var f=document.getElementById('login-form');"
        "if(f.hidden)document.getElementById('login-open').click();"
        "document.getElementById('login-user').value=%s;"
        "document.getElementById('login-password').value=%s;"
        "f.requestSubmit();return true;})()") % (json.dumps(user), json.dumps(password)))
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = chrome.evaluate(session, "document.getElementById('account-name').textContent")
        if text.startswith(user):
            break
        time.sleep(0.2)
    return text


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
        scenario = os.path.join(tmp, "web-status.toml")
        with open(scenario, "w", encoding="utf-8") as f:
            f.write(SCENARIO)
        cmd = [args.equalisd, "--http", "127.0.0.1:%d" % port, "--data-dir", data_dir,
               "--time-scale", "60", "--scenario", scenario]
        # A viewer and an operator, to log in from the page.
        ctl = os.path.join(os.path.dirname(args.equalisd), "equalisctl")
        for name, role in (("vera", "viewer"), ("otto", "operator")):
            subprocess.run([ctl, "user", "add", name, "--role", role, "--data-dir", data_dir],
                           input="%s-password-1\n" % name, text=True, check=True,
                           capture_output=True, timeout=60)
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
        session, deadline = open_status_page(chrome, base, args.page_timeout)
        # The scenario's alarms (door open, humid air, low electrolyte) come a few seconds
        # after the start: wait until the API reports them, so the page has them to show.
        if not args.server_cmd:
            while True:
                active = {(a["rule"], a["string"]) for a in get_json(base, "/api/v1/alarms")["alarms"]}
                if SCENARIO_ALARMS <= active:
                    break
                if time.monotonic() > deadline:
                    raise TestFailure("the scenario's alarms %s did not become active within %.0f s"
                                      " (active: %s)" % (sorted(SCENARIO_ALARMS, key=str),
                                                         args.page_timeout, sorted(active, key=str)))
                time.sleep(0.25)
        time.sleep(0.3)
        # The page polls the alarm list and the I/O devices every 3 s: take the DOM one poll
        # period after a first API count, and accept any count the API had in that window.
        alarm_counts = [len(get_json(base, "/api/v1/alarms")["alarms"])]
        time.sleep(3.5)
        dom_taken = time.monotonic()
        html = chrome.evaluate(session, "document.documentElement.outerHTML")
        alarm_counts.append(len(get_json(base, "/api/v1/alarms")["alarms"]))

        if args.screenshot_dir:
            import base64
            os.makedirs(args.screenshot_dir, exist_ok=True)
            for label, width, mobile in (("desktop", 1280, False), ("phone", 390, True)):
                chrome.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900,
                                                                   "deviceScaleFactor": 1, "mobile": mobile},
                            session)
                time.sleep(0.3)
                height = chrome.evaluate(session, "document.documentElement.scrollHeight")
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

        # Nobody logged in, or a viewer: no write controls. An operator logs in from the page.
        ack_errors = []
        count_buttons = "document.querySelectorAll('button.alarm-ack').length"
        if not args.server_cmd:
            if chrome.evaluate(session, count_buttons):
                ack_errors.append("Acknowledge buttons shown to an anonymous reader")
            for user in ("vera", "otto"):
                who = page_login(chrome, session, user, "%s-password-1" % user)
                if not who.startswith(user):
                    ack_errors.append("logging in as %s from the page shows %r" % (user, who))
                time.sleep(3.5)  # the next alarm poll renders the list for the role
                buttons = chrome.evaluate(session, count_buttons)
                if user == "vera" and buttons:
                    ack_errors.append("a viewer sees %d Acknowledge buttons" % buttons)
                if user == "vera":
                    chrome.evaluate(session, "document.getElementById('logout').click()")
                    time.sleep(0.5)
        # Acknowledge from the page: the button of an unacknowledged alarm posts the
        # acknowledgement; the API and, at the next poll, the page show it acknowledged.
        open_alarms = [a for a in get_json(base, "/api/v1/alarms")["alarms"]
                       if not a["acknowledged"] and a["rule"] != "string.thermal_runaway"]
        if not open_alarms:
            ack_errors.append("no unacknowledged alarm to acknowledge from the page")
        else:
            key = open_alarms[0]["key"]
            clicked = chrome.evaluate(session, (
                "(function(){var b=document.querySelector('button.alarm-ack[data-key=\"%s\"]');"
                "if(!b)return false;b.click();return true;})()") % key)
            if not clicked:
                ack_errors.append("no Acknowledge button for unacknowledged alarm %s" % key)
            else:
                deadline = time.monotonic() + 10
                acked = False
                while time.monotonic() < deadline and not acked:
                    acked = any(a["key"] == key and a["acknowledged"]
                                for a in get_json(base, "/api/v1/alarms")["alarms"])
                    time.sleep(0.2)
                if not acked:
                    ack_errors.append("clicking Acknowledge did not acknowledge %s" % key)
                time.sleep(3.5)  # the next alarm poll
                shown = chrome.evaluate(session, (
                    "(function(){var li=document.querySelector('li.alarm-item[data-key=\"%s\"]');"
                    "return li?[li.getAttribute('data-ack'),!!li.querySelector('button.alarm-ack')]"
                    ":null;})()") % key)
                if acked and shown != ["1", False]:
                    ack_errors.append("after acknowledging %s the page shows %r (want "
                                      "data-ack=1 and no button)" % (key, shown))

        # A page of another origin (another port of the same host: the same site, so the
        # operator's SameSite cookie goes along) tries to trip string 1's breaker and to
        # acknowledge every alarm, as a "simple" no-cors request and as a JSON request.
        if not args.server_cmd:
            ack_errors += cross_origin_attack(chrome, session, base, tmp)

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
        # Battery room and I/O panel against the API samples of the last seconds.
        panels = sampler.panels_since(dom_taken - WINDOW_S)
        errors += check_env(dom, panels)
        errors += check_electrolyte(dom, panels)
        io_errors, io_channels = check_io(dom, panels)
        errors += io_errors
        if not args.server_cmd:
            errors += check_scenario_shown(dom)
        errors += ack_errors
        errors += ["page error: " + e for e in page_errors]
        if phone_width is None or phone_width > 390:
            errors.append("page is %spx wide on a 390-px phone screen (scrolls sideways)" % phone_width)
        if errors:
            raise TestFailure("%d difference(s) between the page and the API:\n  %s%s" % (
                len(errors), "\n  ".join(errors[:60]),
                "\n  … and %d more" % (len(errors) - 60) if len(errors) > 60 else ""))
        log("OK: %d strings, %d block rows match the API (%d API samples); connection live"
            % (len(sampler.samples[-1]), rows, len(sampler.samples)))
        log("OK: battery room (humidity, hydrogen, ambient, electrolyte, alarm counts) and %d I/O"
            " channels match the API (%d samples in the last %.0f s)"
            % (io_channels, len(panels), WINDOW_S))
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
