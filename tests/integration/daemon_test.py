"""Integration tests: a real equalisd on loopback, used through REST, SSE and equalisctl."""
import csv
import io
import json
import math
import re
import os
import shutil
import signal
import sqlite3
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from equalis_harness import Daemon, binary, wait_for

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
QUALITIES = {"ok", "stale", "comm_lost", "invalid", "not_present"}


def is_value_object(v):
    return isinstance(v, dict) and {"value", "quality", "time", "age_s"} <= set(v) and v["quality"] in QUALITIES


class RestApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(time_scale=60).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_system(self):
        s = self.d.get_json("/api/v1/system")
        self.assertEqual(s["string_count"]["value"], 2)
        self.assertEqual(s["module_count"]["value"], 64)
        self.assertTrue(s["simulated"])
        self.assertEqual(s["time_scale"], 60)
        self.assertTrue(is_value_object(s["ambient_temperature_c"]))
        self.assertAlmostEqual(s["ambient_temperature_c"]["value"], 25, delta=3)

    def test_strings_have_64_blocks_each_value_with_quality(self):
        strings = self.d.get_json("/api/v1/strings")["strings"]
        self.assertEqual(len(strings), 2)
        total = 0
        for st in strings:
            for field in ("voltage_v", "current_a", "power_kw", "mode", "target_voltage_v",
                          "charge_avg_pct", "ac_current_a"):
                self.assertTrue(is_value_object(st[field]), f"{field}: {st[field]}")
            self.assertIn(st["mode"]["value"], ("float", "charge", "discharge", "rest"))
            self.assertEqual(st["chemistry"], "vrla-12v")
            blocks = self.d.get_json(f"/api/v1/strings/{st['string']}/blocks")["blocks"]
            self.assertEqual(len(blocks), st["block_count"])
            total += len(blocks)
            vsum = 0.0
            for i, b in enumerate(blocks, 1):
                self.assertEqual(b["block"], i)
                for field in ("voltage_v", "temperature_c", "ri_mohm", "charge_pct",
                              "equalization_pct", "equalization_level", "status"):
                    self.assertTrue(is_value_object(b[field]), f"block {i} {field}: {b[field]}")
                self.assertEqual(b["quality"], "ok")
                self.assertGreaterEqual(b["age_s"], 0)
                self.assertTrue(8.0 < b["voltage_v"]["value"] < 17.0)
                self.assertTrue(0.5 < b["ri_mohm"]["value"] < 60)
                vsum += b["voltage_v"]["value"]
            # Σ voltage of the string is the sum of its blocks (both read within one sweep or two).
            self.assertAlmostEqual(st["voltage_v"]["value"], vsum, delta=0.5)
        self.assertEqual(total, 64)

    def test_single_string_and_block(self):
        st = self.d.get_json("/api/v1/strings/2")
        self.assertEqual(st["string"], 2)
        self.assertEqual(st["name"], "String 2")
        b = self.d.get_json("/api/v1/strings/1/blocks/17")
        self.assertEqual((b["string"], b["block"]), (1, 17))

    def assert_error(self, path, status, parameter):
        code, ctype, body = self.d.get(path)
        self.assertEqual(code, status, f"{path}: {body!r}")
        self.assertIn("application/json", ctype)
        err = json.loads(body)["error"]
        self.assertEqual(err["parameter"], parameter, err)
        self.assertTrue(err["message"])
        return err

    def test_bad_parameters_are_4xx_naming_the_parameter(self):
        self.assert_error("/api/v1/strings/3", 404, "string")
        self.assert_error("/api/v1/strings/abc/blocks", 400, "string")
        self.assert_error("/api/v1/strings/1/blocks/33", 404, "block")
        self.assert_error("/api/v1/strings/1/blocks/0/history", 404, "block")
        err = self.assert_error("/api/v1/strings/1/blocks/1/history?quantity=volts", 400, "quantity")
        self.assertIn("voltage_v", err["message"])
        self.assert_error("/api/v1/strings/1/history?from=yesterday", 400, "from")
        self.assert_error("/api/v1/strings/1/history?to=2026-99-01T00:00:00Z", 400, "to")
        self.assert_error("/api/v1/strings/1/history?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", 400, "from")
        self.assert_error("/api/v1/events?limit=0", 400, "limit")
        self.assert_error("/api/v1/history/export.csv?string=7", 404, "string")
        code, _, body = self.d.get("/api/v1/nothing")
        self.assertEqual(code, 404)
        self.assertIn("error", json.loads(body))

    def test_history_query_and_csv_export(self):
        # The first sweep is always recorded ("start").
        h = self.d.get_json("/api/v1/strings/1/blocks/3/history?quantity=voltage_v")
        self.assertEqual(h["unit"], "V")
        # Column arrays: times_ms, values, quality ("ok" for all, or one per point).
        self.assertGreaterEqual(h["count"], 1)
        self.assertEqual(len(h["times_ms"]), h["count"])
        self.assertEqual(len(h["values"]), h["count"])
        self.assertEqual(h["times_ms"], sorted(h["times_ms"]))
        self.assertEqual(h["quality"], "ok")
        self.assertTrue(8 < h["values"][0] < 17)
        sh = self.d.get_json("/api/v1/strings/2/history?quantity=current_a")
        self.assertGreaterEqual(len(sh["values"]), 1)
        mode = self.d.get_json("/api/v1/strings/1/history?quantity=mode")
        self.assertTrue(all(isinstance(v, str) for v in mode["values"]), mode["values"][:3])
        code, ctype, body = self.d.get("/api/v1/history/export.csv?string=2")
        self.assertEqual(code, 200)
        self.assertIn("text/csv", ctype)
        rows = list(csv.reader(io.StringIO(body.decode())))
        self.assertEqual(rows[0][:3], ["time", "string", "block"])
        self.assertIn("voltage_v", rows[0])
        self.assertGreaterEqual(len(rows) - 1, 32)
        self.assertTrue(all(r[1] == "2" for r in rows[1:]))

    def test_events_log_start(self):
        events = self.d.get_json("/api/v1/events")["events"]
        self.assertTrue(any("started" in e["message"] for e in events), events)

    def test_points_catalogue(self):
        pts = self.d.get_json("/api/v1/points")["points"]
        names = {p["name"] for p in pts}
        self.assertIn("block.voltage_v", names)
        self.assertIn("string.target_voltage_v", names)
        # REST field names come from the catalogue.
        block = self.d.get_json("/api/v1/strings/1/blocks/1")
        for p in pts:
            if p["scope"] == "block":
                self.assertIn(p["field"], block)

    def test_sse_stream_delivers_snapshots(self):
        host, port = self.d.url[len("http://"):].split(":")
        with socket.create_connection((host, int(port)), timeout=15) as sock:
            sock.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
                         "Accept: text/event-stream\r\n\r\n".encode())
            buf = b""
            deadline = time.time() + 15
            events = []
            headers = b""
            while time.time() < deadline and len(events) < 2:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if not headers and b"\r\n\r\n" in buf:
                    headers, buf = buf.split(b"\r\n\r\n", 1)
                while True:
                    m = re.search(rb"event: (\w+)\ndata: ", buf)
                    end = buf.find(b"\n\n", m.end()) if m else -1
                    if end < 0:
                        break
                    events.append((m.group(1).decode(), json.loads(buf[m.end():end])))
                    buf = buf[end + 2:]
        self.assertIn(b"text/event-stream", headers)
        self.assertGreaterEqual(len(events), 2, "expected a snapshot and a delta")
        # The whole state first, then what changed.
        (kind0, snap), (kind1, delta) = events[0], events[1]
        self.assertEqual((kind0, kind1), ("snapshot", "delta"))
        self.assertEqual(len(snap["strings"]), 2)
        self.assertEqual(len(snap["strings"][0]["blocks"]), 32)
        self.assertTrue(is_value_object(snap["strings"][0]["blocks"][0]["voltage_v"]))
        self.assertLess(snap["time_ms"], delta["time_ms"])
        self.assertGreater(delta["seq"], 1)
        self.assertLess(len(json.dumps(delta)), len(json.dumps(snap)))

    def run_ctl(self, *args, check=True):
        r = subprocess.run([binary("equalisctl"), "--url", self.d.url, *args], capture_output=True,
                           text=True, timeout=60)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_equalisctl_status_blocks_export(self):
        out = self.run_ctl("status").stdout
        self.assertIn("String 1", out)
        self.assertIn("String 2", out)
        js = json.loads(self.run_ctl("--json", "status").stdout)
        self.assertEqual(len(js["strings"]), 2)
        blocks = self.run_ctl("blocks", "2").stdout.splitlines()
        self.assertEqual(sum(1 for l in blocks if l.strip()[:2].strip().isdigit()), 32)
        bj = json.loads(self.run_ctl("--json", "blocks", "1").stdout)
        self.assertEqual(len(bj["blocks"]), 32)
        bad = self.run_ctl("blocks", "9", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("string 9 does not exist", bad.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "h.csv")
            self.run_ctl("export", "--string", "1", "--output", path)
            with open(path) as f:
                rows = list(csv.reader(f))
            self.assertEqual(rows[0][0], "time")
            self.assertGreaterEqual(len(rows) - 1, 32)

    def test_equalisctl_unreachable(self):
        r = subprocess.run([binary("equalisctl"), "--url", "http://127.0.0.1:1", "status"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 3)
        self.assertIn("cannot reach", r.stderr)

    def test_web_application_served(self):
        # The application's files (web/, built by Vite), and index.html for any page path (the
        # application shows the page of the path); a missing file is a 404, not the application.
        code, ctype, index = self.d.get("/", auth=False)
        self.assertEqual(code, 200)
        self.assertIn("text/html", ctype)
        self.assertIn(b'src="/assets/index.js"', index)
        self.assertIn(b'href="/assets/index.css"', index)
        for path, kind in (("/index.html", "text/html"), ("/assets/index.js", "javascript"),
                           ("/assets/index.css", "text/css"), ("/theme.js", "javascript"),
                           ("/favicon.svg", "image/svg+xml")):
            code, ctype, body = self.d.get(path, auth=False)
            self.assertEqual(code, 200, path)
            self.assertIn(kind, ctype, path)
            self.assertTrue(body, path)
        for path in ("/battery", "/battery/2", "/strings/1/blocks/7", "/strings/1/pattern",
                     "/alarms", "/environment", "/no/such/page", "/v1.2/page"):
            code, ctype, body = self.d.get(path, auth=False)
            self.assertEqual(code, 200, path)
            self.assertIn("text/html", ctype, path)
            self.assertEqual(body, index, f"{path} does not answer the application")
        for path in ("/nonexistent.js", "/app.js", "/assets/nothing.css", "/battery/x.png"):
            code, ctype, body = self.d.get(path, auth=False)
            self.assertEqual(code, 404, path)
            self.assertNotIn("text/html", ctype, path)


class CheckConfig(unittest.TestCase):
    def check(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(text)
            path = f.name
        try:
            return subprocess.run([binary("equalisd"), "--check-config", path], capture_output=True,
                                  text=True, timeout=30)
        finally:
            os.unlink(path)

    def test_sample_is_valid(self):
        r = subprocess.run([binary("equalisd"), "--check-config",
                            os.path.join(SOURCE_DIR, "config/equalis.sample.toml")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_typo_is_named(self):
        r = self.check('[[string]]\nname = "A"\nblokcs = 32\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("blokcs", r.stderr)
        self.assertIn("blocks", r.stderr)

    def test_out_of_range_is_named(self):
        r = self.check('[[string]]\nname = "A"\nblocks = 0\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("blocks", r.stderr)

    def test_daemon_refuses_bad_config(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write('[[string]]\nname = "A"\nchemistry = "unobtainium"\n')
            path = f.name
        try:
            r = subprocess.run([binary("equalisd"), "--config", path, "--http", "127.0.0.1:0"],
                               capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("chemistry", r.stderr)

    def test_bad_arguments(self):
        r = subprocess.run([binary("equalisd"), "--time-scale", "fast"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--time-scale", r.stderr)


class Scenarios(unittest.TestCase):
    def test_sensor_faults_scenario_runs_on_the_demo_plant(self):
        # 900×: a simulated quarter hour per second. String 1 module 20 is silent from 3 h to 5 h.
        with Daemon("--scenario", "sensor-faults", time_scale=900) as d:
            start_ms = d.get_json("/api/v1/system")["time_ms"]
            deadline = time.time() + 60
            while time.time() < deadline:
                if d.get_json("/api/v1/system")["time_ms"] >= start_ms + int(3.3 * 3600e3):
                    break
                time.sleep(0.1)
            b = d.get_json("/api/v1/strings/1/blocks/20")
            now_ms = d.get_json("/api/v1/system")["time_ms"]
            self.assertLess(now_ms, start_ms + 5 * 3600e3, "machine too slow to sample the window")
            self.assertEqual(b["voltage_v"]["quality"], "comm_lost", b)
            self.assertEqual(b["status"]["value"], "unknown")
            # The comm loss is an active alarm naming string and block; acknowledge it.
            alarms = d.get_json("/api/v1/alarms")["alarms"]
            lost = [a for a in alarms if a["key"] == "block.comm_lost/1/20"]
            self.assertEqual(len(lost), 1, alarms)
            self.assertEqual(lost[0]["level"], "alarm")
            self.assertIn("String 1, block 20", lost[0]["message"])
            self.assertFalse(lost[0]["acknowledged"])
            # A change needs a login or an API token.
            status, reply = d.request("POST", "/api/v1/alarms/ack?key=block.comm_lost/1/20", {},
                                      auth=False)
            self.assertEqual(status, 401, reply)
            status, reply = d.request("POST", "/api/v1/alarms/ack?key=block.comm_lost/1/20", {})
            self.assertEqual(status, 200, reply)
            self.assertTrue(reply["acknowledged"]["acknowledged"])
            lost = [a for a in d.get_json("/api/v1/alarms")["alarms"]
                    if a["key"] == "block.comm_lost/1/20"]
            self.assertTrue(lost[0]["acknowledged"])
            status, _ = d.request("POST", "/api/v1/alarms/ack?key=nope", {})
            self.assertEqual(status, 404)
            kinds = [e for e in d.get_json("/api/v1/events")["events"] if e["kind"] == "alarm"]
            self.assertTrue(any("block.comm_lost/1/20" in e["message"] and "raised" in e["message"]
                                for e in kinds), kinds)
            self.assertTrue(any("acknowledged" in e["message"] for e in kinds), kinds)
            events = d.get_json("/api/v1/events")["events"]
            texts = [e["message"] for e in events if e["kind"] == "scenario"]
            self.assertTrue(any("scenario 'sensor-faults' started" in t for t in texts), texts)
            self.assertTrue(any("applied" in t for t in texts), texts)

    def test_weak_blocks_found_by_capacity(self):
        # 3600×: the outage at 2 h and its analysis at ≈ 3 h take a few seconds.
        with Daemon("--scenario", "weak-blocks", time_scale=3600) as d:
            wait_for(lambda: any("String 2: block capacities updated" in e["message"]
                                 for e in d.get_json("/api/v1/events?kind=analysis")["events"]),
                     "the capacity estimate after the outage", timeout_s=60)
            rows = json.loads(self.run_ctl(d, "--json", "capacity", "1").stdout)
            self.assertEqual(len(rows), 32)
            estimated = [r for r in rows if r["capacity_events"] and r["capacity_events"] >= 1]
            self.assertEqual(len(estimated), 32, rows)
            weakest = min(rows, key=lambda r: r["capacity_relative_pct"])
            self.assertEqual(weakest["block"], 5, rows)
            self.assertLess(weakest["capacity_relative_pct"], 85.0)
            self.assertGreater(weakest["capacity_relative_sigma_pct"], 0.0)
            # The table: weakest first, value ± σ.
            table = self.run_ctl(d, "capacity", "2").stdout.splitlines()
            first = [line for line in table if line.strip()[:1].isdigit()][0]
            self.assertEqual(first.split()[0], "12", table)
            self.assertIn("±", first)
            # The REST block document carries the same points (at 3600× on a loaded machine the
            # cycle may lag: a value read a little late is marked stale, not missing).
            b = d.get_json("/api/v1/strings/2/blocks/12")
            self.assertIn(b["capacity_relative_pct"]["quality"], ("ok", "stale"), b)
            self.assertLess(b["capacity_relative_pct"]["value"], 90.0, b)
            self.assertIsNone(b["capacity_pct"]["value"], b)  # no capacity test: no % of nominal

    def test_discharge_report_of_an_outage_to_the_cut_off(self):
        # 3600×: the long outage at 26 h runs to the cut-off by ≈ 27.5 h, about 30 s in.
        with Daemon("--scenario", "long-outage", time_scale=3600) as d:
            def report_of_the_long_one():
                for e in d.get_json("/api/v1/strings/2/discharges?from=0")["discharges"]:
                    if e["report"] and e["report"]["first_at_end"]:
                        return e
                return None
            # Runtime on battery is live while the string discharges.
            wait_for(lambda: d.get_json("/api/v1/strings/2")["runtime_s"]["value"] is not None,
                     "a runtime once the first outage has begun", timeout_s=60)
            wait_for(report_of_the_long_one, "the report of the outage to the cut-off",
                     timeout_s=120)
            entry = report_of_the_long_one()
            rep = entry["report"]
            self.assertEqual(rep["first_at_end"]["block"], 7, rep)
            runtime = rep["runtime"]
            self.assertLess(abs(runtime["error_pct"]), 10.0, runtime)
            self.assertGreater(rep["energy_wh"], 300.0 * entry["ah_out"], rep)
            # The CLI lists it and prints its report; CSV has one row per block; HTML is a page.
            listing = self.run_ctl(d, "discharges", "2").stdout
            self.assertIn(str(entry["id"]), listing)
            self.assertIn("block 7 after", listing)
            text = self.run_ctl(d, "report", "2", str(entry["id"])).stdout
            self.assertIn("block 7 reached 1.75 V/cell first", text)
            self.assertIn("early collapse: 7", text)
            csv_rows = self.run_ctl(d, "report", "2", str(entry["id"]), "--csv").stdout.splitlines()
            self.assertEqual(len(csv_rows), 1 + 32)
            self.assertTrue(csv_rows[7].startswith("7,"), csv_rows[7])
            self.assertIn(",yes,", csv_rows[7])
            html = self.run_ctl(d, "report", "2", str(entry["id"]), "--html").stdout
            self.assertTrue(html.startswith("<!DOCTYPE html>"), html[:100])
            self.assertIn("Runtime predicted at half time", html)
            # Hours in band and life used: written hourly (every second at 3600×).
            bands = d.get_json("/api/v1/strings/2/hours-in-band")
            self.assertEqual(len(bands["blocks"]), 32)
            self.assertEqual(len(bands["temperature_bands_c"]), 9)
            b7 = bands["blocks"][6]
            self.assertGreater(b7["observed_h"], 24.0, b7)
            self.assertAlmostEqual(sum(b7["temperature_h"]), b7["observed_h"], delta=0.01)
            self.assertGreater(b7["life_used_pct"], 0.0)
            block = d.get_json("/api/v1/strings/2/blocks/7")
            self.assertGreater(block["life_used_pct"]["value"], 0.0, block)
            self.assertGreater(block["ageing_factor"]["value"], 0.5, block)
            # An unknown discharge: 404 naming the id.
            r = subprocess.run([binary("equalisctl"), "--url", d.url, "report", "2", "123"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("no discharge report", r.stderr)

    def test_block_health_of_a_weak_block(self):
        # String 1 block 5 at 70 % of nominal; the outage at 2 h gives every block's capacity by
        # ≈ 3 h, the Ri baseline (24 hours of settled float after the recharge) follows by ≈ 46 h:
        # at 3600× about 50 s.
        def number(x):
            return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

        def trend_ok(t):
            return t is None or (set(t) == {"per_year", "low", "high", "weeks"} and
                                 isinstance(t["weeks"], int) and t["weeks"] > 0)

        with Daemon("--scenario", "weak-blocks", time_scale=3600) as d:
            def assessed():
                h = d.get_json("/api/v1/strings/1/health")
                return h if all(number(b["ri_baseline_25c_mohm"]) and
                                number(b["components"]["ri"]["pct"]) and
                                number(b["components"]["capacity"]["pct"])
                                for b in h["blocks"]) else None
            h = wait_for(assessed, "string 1 assessed with its Ri baseline and capacities",
                         timeout_s=75)

            # The document.
            self.assertEqual(set(h), {"string", "time", "soh_pct", "weakest_block", "rul_years",
                                      "rul_low_years", "rul_high_years", "rul_block",
                                      "blocks_to_replace", "warnings", "replacement_list",
                                      "blocks"})
            self.assertEqual(h["string"], 1)
            self.assertRegex(h["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
            self.assertEqual([b["block"] for b in h["blocks"]], list(range(1, 33)))
            block_keys = {"block", "soh_pct", "soh_sigma_pct", "state", "components",
                          "ri_25c_mohm", "ri_baseline_25c_mohm", "ri_rise_25c_pct",
                          "float_deviation_mv_per_cell", "equalization_pct", "ageing_factor",
                          "trends", "rul", "warning", "warning_since", "evidence", "weeks"}
            for b in h["blocks"]:
                where = f"block {b['block']}"
                self.assertEqual(set(b), block_keys, where)
                self.assertIn(b["state"], ("ok", "degraded", "replace"), b)  # none unknown now
                self.assertTrue(number(b["soh_pct"]) and number(b["soh_sigma_pct"]), b)
                self.assertGreater(b["soh_sigma_pct"], 0.0, b)
                self.assertEqual(set(b["components"]), {"capacity", "ri"}, where)
                for c in b["components"].values():
                    self.assertEqual(set(c), {"pct", "sigma_pct"}, where)
                    self.assertTrue(number(c["pct"]) and c["sigma_pct"] > 0.0, b["components"])
                # With a capacity measured, the SOH is that capacity; the Ri component alone has
                # σ 10 %.
                self.assertAlmostEqual(b["soh_pct"], b["components"]["capacity"]["pct"],
                                       delta=0.051, msg=where)
                self.assertEqual(b["components"]["ri"]["sigma_pct"], 10.0, where)
                self.assertTrue(number(b["ri_25c_mohm"]) and b["ri_25c_mohm"] > 0.0, b)
                self.assertGreater(b["ri_baseline_25c_mohm"], 0.0, where)
                # Nothing ages in two days: Ri at 25 °C is where its baseline was.
                self.assertLess(abs(b["ri_rise_25c_pct"]), 5.0, b)
                self.assertEqual(set(b["trends"]), {"soh_pct", "ri_rise_pct",
                                                    "float_deviation_mv_per_cell",
                                                    "equalization_pct"}, where)
                self.assertTrue(all(trend_ok(t) for t in b["trends"].values()), b["trends"])
                self.assertEqual(set(b["rul"]), {"years", "low_years", "high_years", "basis",
                                                 "at_80_pct", "at_80_pct_early",
                                                 "at_80_pct_late"}, where)
                self.assertTrue(number(b["rul"]["years"]), b["rul"])
                self.assertLessEqual(b["rul"]["low_years"], b["rul"]["years"], b["rul"])
                self.assertLessEqual(b["rul"]["years"], b["rul"]["high_years"], b["rul"])
                self.assertIsInstance(b["warning"], bool, where)
                self.assertEqual(b["warning_since"] is not None, b["warning"], b)
                self.assertTrue(b["evidence"].startswith("SOH "), b["evidence"])
                self.assertIsInstance(b["weeks"], int, where)

            # Block 5: lowest, well below the others, degraded or to replace, from its capacity.
            by_block = {b["block"]: b for b in h["blocks"]}
            b5 = by_block[5]
            others = sorted(b["soh_pct"] for b in h["blocks"] if b["block"] != 5)
            self.assertLess(b5["soh_pct"], others[0], [(b["block"], b["soh_pct"])
                                                       for b in h["blocks"]])
            self.assertLess(b5["soh_pct"], others[len(others) // 2] - 10.0, others)
            self.assertLess(b5["soh_pct"], 90.0, b5)
            self.assertIn(b5["state"], ("degraded", "replace"), b5)
            self.assertEqual(b5["state"], "replace" if b5["soh_pct"] < 80.0 else "degraded", b5)
            self.assertIn("from the discharges", b5["evidence"])
            self.assertEqual(h["weakest_block"], 5)
            self.assertEqual(h["soh_pct"], b5["soh_pct"])  # the string's: its weakest block's
            self.assertEqual(h["warnings"], sum(b["warning"] for b in h["blocks"]))
            # The replacement list: block 5 with its state and evidence, soonest at 80 % first.
            # Listed: below 80 %, warned, or expected at 80 % within a year (block 5 is measured
            # near 80 %: which of these holds depends on its estimate's last decimal).
            listed = {r["block"]: r for r in h["replacement_list"]}
            due = {b["block"] for b in h["blocks"]
                   if b["state"] == "replace" or b["warning"] or
                   (number(b["rul"]["years"]) and b["rul"]["years"] < 1.0)}
            self.assertEqual(set(listed), due, h["replacement_list"])
            self.assertTrue(b5["state"] == "replace" or b5["rul"]["years"] < 5.0, b5)
            if 5 in listed:
                self.assertEqual(listed[5]["state"], b5["state"])
                self.assertEqual(listed[5]["soh_pct"], b5["soh_pct"])
                self.assertEqual(listed[5]["evidence"], b5["evidence"])
            ruls = [r["rul_years"] for r in h["replacement_list"]]
            self.assertEqual(ruls, sorted(ruls), h["replacement_list"])
            self.assertEqual(h["blocks_to_replace"],
                             sum(1 for b in h["blocks"] if b["state"] == "replace" or
                                 (number(b["rul"]["years"]) and b["rul"]["years"] < 1.0)))
            self.assertEqual(h["rul_block"], 5)  # the first at 80 %
            self.assertEqual(h["rul_years"], b5["rul"]["years"])

            # One block: the same assessment, with its weekly history.
            one = d.get_json("/api/v1/strings/1/blocks/5/health")
            self.assertEqual(set(one), block_keys | {"string", "time", "history"})
            self.assertEqual((one["string"], one["block"]), (1, 5))
            self.assertIsInstance(one["history"], list)
            self.assertEqual(len(one["history"]), one["weeks"])
            self.assertEqual(one["state"], b5["state"])
            self.assertAlmostEqual(one["soh_pct"], b5["soh_pct"], delta=0.5)
            self.assertTrue(number(one["components"]["capacity"]["pct"]), one["components"])
            for w in one["history"]:
                self.assertEqual(set(w), {"time", "ri_25c_mohm", "soh_pct", "soh_sigma_pct",
                                          "float_deviation_mv_per_cell", "equalization_pct"}, w)

            # The points agree with the document.
            b = d.get_json("/api/v1/strings/1/blocks")["blocks"][4]
            self.assertEqual(b["block"], 5)
            for field in ("soh_pct", "soh_sigma_pct", "health_state", "weak_warning",
                          "rul_years", "rul_low_years", "rul_high_years", "ri_rise_25c_pct"):
                self.assertTrue(is_value_object(b[field]), f"{field}: {b[field]}")
                self.assertIn(b[field]["quality"], ("ok", "stale"), f"{field}: {b[field]}")
            self.assertAlmostEqual(b["soh_pct"]["value"], b5["soh_pct"], delta=0.5)
            self.assertAlmostEqual(b["soh_sigma_pct"]["value"], b5["soh_sigma_pct"], delta=0.5)
            self.assertEqual(b["health_state"]["value"], b5["state"])
            self.assertEqual(b["weak_warning"]["value"], "weak" if b5["warning"] else "none")
            self.assertAlmostEqual(b["rul_years"]["value"], b5["rul"]["years"], delta=0.1)
            self.assertAlmostEqual(b["ri_rise_25c_pct"]["value"], b5["ri_rise_25c_pct"],
                                   delta=1.0)
            s = d.get_json("/api/v1/strings/1")
            self.assertAlmostEqual(s["soh_pct"]["value"], h["soh_pct"], delta=0.5)
            self.assertEqual(s["blocks_to_replace"]["value"], h["blocks_to_replace"])
            self.assertEqual(s["health_warnings"]["value"], h["warnings"])
            self.assertTrue(number(s["rul_years"]["value"]), s["rul_years"])

            # The alarms: block.health raised on block 5 (a warning when degraded, an alarm when
            # to be replaced); block.ri_rise watches the rise at 25 °C.
            alarms = {a["key"]: a for a in d.get_json("/api/v1/alarms")["alarms"]}
            self.assertIn("block.health/1/5", alarms, sorted(alarms))
            self.assertEqual(alarms["block.health/1/5"]["level"],
                             "alarm" if b5["state"] == "replace" else "warning")
            self.assertIn("String 1, block 5", alarms["block.health/1/5"]["message"])
            if b5["warning"]:
                self.assertIn("block.weak/1/5", alarms, sorted(alarms))
            for key in alarms:
                if key.startswith("block.health/1/"):
                    self.assertNotEqual(by_block[int(key.split("/")[2])]["state"], "ok", key)
            rules = {r["id"]: r for r in d.get_json("/api/v1/alarms/rules")["strings"][0]["rules"]}
            self.assertEqual(rules["block.ri_rise"]["point"], "block.ri_rise_25c_pct")
            self.assertEqual(rules["block.health"]["point"], "block.health_state")
            self.assertEqual(rules["block.weak"]["point"], "block.weak_warning")

            # equalisctl: the table with a line for block 5 and the replacement list; one block.
            table = self.run_ctl(d, "health", "1").stdout
            rows = {int(line.split()[0]): line for line in table.splitlines()
                    if line.strip()[:1].isdigit()}
            self.assertEqual(sorted(rows), list(range(1, 33)), table)
            self.assertIn(f"{b5['soh_pct']:.1f} ±", rows[5])
            self.assertIn(b5["state"], rows[5].split())
            self.assertIn("String 1", table)
            self.assertIn("weakest block 5", table)
            self.assertIn("Replacement list", table)
            self.assertIn("  block 5: SOH ", table)
            text = self.run_ctl(d, "health", "1", "5").stdout
            self.assertIn("String 1, block 5", text)
            self.assertIn("SOH", text)
            self.assertIn(f"({b5['state']})", text)
            self.assertIn("from the discharges", text)
            js = json.loads(self.run_ctl(d, "--json", "health", "1").stdout)
            self.assertEqual(js["weakest_block"], 5)
            self.assertEqual(len(js["blocks"]), 32)

            # Bad string and block numbers: 4xx with a JSON error naming the parameter.
            for path, status, parameter, words in (
                    ("/api/v1/strings/99/health", 404, "string", "string 99"),
                    ("/api/v1/strings/abc/health", 400, "string", "'abc'"),
                    ("/api/v1/strings/1/blocks/999/health", 404, "block", "block 999"),
                    ("/api/v1/strings/1/blocks/0/health", 404, "block", "block 0"),
                    ("/api/v1/strings/3/blocks/5/health", 404, "string", "string 3")):
                code, ctype, body = d.get(path)
                self.assertEqual(code, status, f"{path}: {body!r}")
                self.assertIn("application/json", ctype, path)
                err = json.loads(body)["error"]
                self.assertEqual(err["parameter"], parameter, f"{path}: {err}")
                self.assertIn(words, err["message"], f"{path}: {err}")
            r = subprocess.run([binary("equalisctl"), "--url", d.url, "health", "1", "999"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("block 999 does not exist", r.stderr)

    def run_ctl(self, d, *args):
        r = subprocess.run([binary("equalisctl"), "--url", d.url, *args], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_unknown_scenario_is_refused(self):
        r = subprocess.run([binary("equalisd"), "--scenario", "no-such", "--http", "127.0.0.1:0",
                            "--data-dir", tempfile.mkdtemp(prefix="equalis-sc-")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no scenario 'no-such'", r.stderr)
        self.assertIn("thermal-runaway", r.stderr)

    def test_list_scenarios(self):
        r = subprocess.run([binary("equalisd"), "--list-scenarios"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        for name in ("thermal-runaway", "deep-discharge", "sensor-faults", "new-blocks",
                     "ageing-faults"):
            self.assertIn(name, r.stdout)


class Persistence(unittest.TestCase):
    def test_kill_9_while_writing_then_restart_keeps_history(self):
        data = tempfile.mkdtemp(prefix="equalis-kill-")
        try:
            # 3600×: a simulated hour per second, so history is written continuously.
            d = Daemon(data_dir=data, time_scale=3600).start()
            time.sleep(3)
            before = d.get_json("/api/v1/system")["history"]["snapshots"]
            h = d.get_json("/api/v1/strings/1/blocks/1/history?from=0&limit=5")
            first = {"time_ms": h["times_ms"][0], "value": h["values"][0]}
            d.kill(signal.SIGKILL)
            d.stop()
            self.assertGreater(before, 1)
            with sqlite3.connect(os.path.join(data, "history.sqlite")) as db:
                last_ms = db.execute("SELECT max(time_ms) FROM snapshot").fetchone()[0]
            d2 = Daemon(data_dir=data, time_scale=60).start()
            try:
                after = d2.get_json("/api/v1/system")["history"]["snapshots"]
                self.assertGreaterEqual(after, before)
                h2 = d2.get_json("/api/v1/strings/1/blocks/1/history?from=0&limit=5")
                self.assertEqual(h2["times_ms"][0], first["time_ms"])
                self.assertAlmostEqual(h2["values"][0], first["value"], places=3)
                # The simulated plant resumes after the history it wrote: time never runs back.
                sys = d2.get_json("/api/v1/system")
                self.assertGreater(sys["time_ms"], last_ms)
            finally:
                d2.stop()
            r = subprocess.run(["sqlite3", os.path.join(data, "history.sqlite"),
                                "PRAGMA integrity_check;"], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.stdout.strip(), "ok", r.stderr)
        finally:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
