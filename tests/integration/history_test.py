"""History routes end to end on a real equalisd running the demo plant (random mains failures on)
at 3600×, until more than a day is recorded and a discharge has ended: the discharge list and
details (monotone times, every block, end-of-discharge voltages sorted), a string's block pattern
and downsampled series (max_points), the event log's search and paging, and `equalisctl export`
writing the whole history — more than 24 h — without --from, and a >24 h --from/--to range."""
import calendar
import csv
import os
import subprocess
import tempfile
import time
import unittest

from equalis_harness import Daemon, binary

TIME_SCALE = 3600
HOUR_MS = 3600 * 1000
PLANT_HOURS = 28  # more than a day of history
BLOCKS = 32       # per string on the demo plant


def ctl(d, *args):
    return subprocess.run([binary("equalisctl"), "--url", d.url, *args], capture_output=True,
                          text=True, timeout=120)


def ascending(times):
    return all(a < b for a, b in zip(times, times[1:]))


class History(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(time_scale=TIME_SCALE).start()
        try:
            cls.start_ms = cls.d.get_json("/api/v1/system")["time_ms"]
            deadline = time.time() + 3 * PLANT_HOURS * HOUR_MS / 1000 / TIME_SCALE + 60
            while time.time() < deadline:
                now = cls.d.get_json("/api/v1/system")["time_ms"]
                ended = [x for x in cls.discharges(1) if x["end_ms"] is not None]
                if ended and now - cls.start_ms > PLANT_HOURS * HOUR_MS:
                    break
                time.sleep(0.5)
        except Exception:
            cls.d.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    @classmethod
    def discharges(cls, string):
        return cls.d.get_json(f"/api/v1/strings/{string}/discharges?from=0")["discharges"]

    def test_discharges_are_listed_newest_first(self):
        for s in (1, 2):
            found = self.discharges(s)
            ended = [x for x in found if x["end_ms"] is not None]
            self.assertTrue(ended, f"string {s}: no discharge ended in {PLANT_HOURS} plant hours")
            starts = [x["start_ms"] for x in found]
            self.assertEqual(starts, sorted(starts, reverse=True))
            for x in ended:
                self.assertEqual(x["id"], x["start_ms"])
                self.assertAlmostEqual(x["duration_s"], (x["end_ms"] - x["start_ms"]) / 1000)
                # The demo's outages last 1 … 10 min; the mode leaves discharge a minute after
                # the mains came back — two outages closer than that are one discharge.
                self.assertGreater(x["duration_s"], 30)
                self.assertLess(x["duration_s"], 45 * 60)
                self.assertGreater(x["ah_out"], 0)
                self.assertLess(x["min_voltage_v"], BLOCKS * 13.0)  # below float (13.6 V/block)
                self.assertGreater(x["min_voltage_v"], BLOCKS * 10.5)
                self.assertEqual(x["block_count"], BLOCKS)
            # Each listed discharge is found again by a range inside it.
            mid = (ended[0]["start_ms"] + ended[0]["end_ms"]) // 2
            inner = self.d.get_json(f"/api/v1/strings/{s}/discharges?from={mid}&to={mid}")
            self.assertEqual([x["id"] for x in inner["discharges"]], [ended[0]["id"]])

    def test_discharge_details(self):
        x = next(x for x in self.discharges(1) if x["end_ms"] is not None)
        d = self.d.get_json(f"/api/v1/strings/1/discharges/{x['id']}")
        for key in ("id", "start_ms", "end_ms", "duration_s", "ah_out", "min_voltage_v"):
            self.assertEqual(d[key], x[key], key)
        self.assertEqual(d["from_ms"], x["start_ms"] - 10 * 60 * 1000)
        self.assertEqual(d["to_ms"], x["end_ms"] + HOUR_MS)
        ss = d["string_series"]
        self.assertTrue(ascending(ss["times_ms"]))
        self.assertEqual(len(ss["voltage_v"]), len(ss["times_ms"]))
        self.assertEqual(len(ss["current_a"]), len(ss["times_ms"]))
        self.assertTrue(all(d["from_ms"] <= t <= d["to_ms"] for t in ss["times_ms"]))
        during = [v for v, t in zip(ss["current_a"], ss["times_ms"])
                  if x["start_ms"] <= t < x["end_ms"] and v is not None]
        self.assertTrue(during and min(during) < -1.0, during[:10])  # discharging current
        blocks = d["blocks"]
        self.assertTrue(ascending(blocks["times_ms"]))
        self.assertEqual([b["block"] for b in blocks["blocks"]], list(range(1, BLOCKS + 1)))
        for b in blocks["blocks"]:
            self.assertEqual(len(b["values"]), len(blocks["times_ms"]))
        eod = d["end_of_discharge"]
        self.assertEqual(sorted(e["block"] for e in eod), list(range(1, BLOCKS + 1)))
        volts = [e["voltage_v"] for e in eod]
        self.assertEqual(volts, sorted(volts))
        at = d["end_of_discharge_at"]
        self.assertTrue(x["start_ms"] <= at["time_ms"] <= x["end_ms"])
        self.assertAlmostEqual(at["string_voltage_v"], x["min_voltage_v"])
        for e in eod:
            self.assertAlmostEqual(e["deviation_v"], e["voltage_v"] - at["median_v"], places=5)
            self.assertEqual(e["early_collapse"], e["voltage_v"] < at["threshold_v"])
        # max_points thins both series; the end of discharge is measured before.
        thin = self.d.get_json(f"/api/v1/strings/1/discharges/{x['id']}?max_points=40")
        self.assertLessEqual(len(thin["string_series"]["times_ms"]), 40)
        self.assertLessEqual(len(thin["blocks"]["times_ms"]), 40)
        self.assertTrue(thin["blocks"]["downsampled"])
        self.assertEqual(thin["end_of_discharge"], eod)
        status, _, _ = self.d.get(f"/api/v1/strings/1/discharges/{x['id'] + 1}")
        self.assertEqual(status, 404)

    def test_block_pattern_and_downsampled_series(self):
        p = self.d.get_json("/api/v1/strings/2/blocks/history?from=0&max_points=200")
        self.assertEqual(p["string"], 2)
        self.assertEqual(len(p["blocks"]), BLOCKS)
        self.assertLessEqual(len(p["times_ms"]), 200)
        self.assertTrue(p["downsampled"])
        self.assertGreater(p["source_count"], 200)
        self.assertTrue(ascending(p["times_ms"]))
        s = self.d.get_json("/api/v1/strings/2/history?from=0&quantity=current_a&max_points=100")
        self.assertLessEqual(len(s["times_ms"]), 100)
        full = self.d.get_json(f"/api/v1/strings/2/history?from=0&to={s['times_ms'][-1]}"
                               "&quantity=current_a&limit=200000")
        # The deepest discharge current survives the thinning.
        self.assertEqual(min(v for v in s["values"] if v is not None),
                         min(v for v in full["values"] if v is not None))
        status, _, _ = self.d.get("/api/v1/strings/2/history?max_points=1")
        self.assertEqual(status, 400)

    def test_event_log_search_and_paging(self):
        page = self.d.get_json("/api/v1/events?from=0&q=DISCHARGE&limit=3")
        self.assertEqual(len(page["events"]), 3)
        self.assertTrue(page["more"])
        self.assertGreater(page["total"], 3)
        self.assertTrue(all("discharge" in e["message"].lower() for e in page["events"]))
        nxt = self.d.get_json("/api/v1/events?from=0&q=DISCHARGE&limit=3&offset=3")
        self.assertLessEqual(nxt["events"][-1]["time_ms"], page["events"][0]["time_ms"])
        status, _, _ = self.d.get("/api/v1/events?q=" + "x" * 201)
        self.assertEqual(status, 400)

    def test_equalisctl_export_covers_more_than_a_day(self):
        system = self.d.get_json("/api/v1/system")
        oldest = system["history"]["oldest"]
        before = system["history"]["snapshots"]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "all.csv")
            r = ctl(self.d, "export", "--output", path)  # no --from: the whole history
            self.assertEqual(r.returncode, 0, r.stderr)
            after = self.d.get_json("/api/v1/system")["history"]["snapshots"]
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
            self.assertEqual(rows[0][0], "time")
            data = rows[1:]
            self.assertEqual(data[0][0], oldest)
            span_h = (iso_ms(data[-1][0]) - iso_ms(data[0][0])) / HOUR_MS
            self.assertGreater(span_h, 24.5, f"export spans only {span_h:.1f} h")
            # Every snapshot whole: 64 rows each, as many as were recorded meanwhile.
            self.assertEqual(len(data) % (2 * BLOCKS), 0)
            self.assertTrue(before <= len(data) // (2 * BLOCKS) <= after,
                            (before, len(data) // (2 * BLOCKS), after))
            self.assertIn(f"{len(data)} rows", r.stderr)
            self.assertIn(oldest, r.stderr)

            # An explicit range of more than a day is exported whole too.
            lo = iso_ms(data[0][0]) + HOUR_MS
            hi = lo + 25 * HOUR_MS
            part = os.path.join(tmp, "part.csv")
            r = ctl(self.d, "export", "--from", str(lo), "--to", str(hi), "--string", "2",
                    "--output", part)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(part, newline="") as f:
                rows = list(csv.reader(f))[1:]
            times = [iso_ms(row[0]) for row in rows]
            self.assertTrue(all(lo <= t <= hi for t in times))
            self.assertGreater((times[-1] - times[0]) / HOUR_MS, 24.0)
            self.assertEqual({row[1] for row in rows}, {"2"})
            expected = [row for row in data if row[1] == "2" and lo <= iso_ms(row[0]) <= hi]
            self.assertEqual(rows, expected)


def iso_ms(text):
    """2026-01-01T00:00:00.000Z → epoch ms."""
    base, frac = text.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac)


if __name__ == "__main__":
    unittest.main()
