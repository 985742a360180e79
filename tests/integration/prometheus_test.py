"""/metrics: Prometheus text exposition checked by promtool, values equal to the REST API."""
import re
import subprocess
import time
import unittest

from equalis_harness import Daemon


def parse(text):
    """{(name, frozenset(labels)): value} of the sample lines."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$', line)
        if not m:
            raise AssertionError(f"unparsable sample line: {line!r}")
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(time_scale=60).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def metrics(self):
        status, ctype, body = self.d.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn("text/plain", ctype)
        self.assertIn("version=0.0.4", ctype)
        return body.decode()

    def test_promtool_accepts_metrics(self):
        r = subprocess.run(["promtool", "check", "metrics"], input=self.metrics(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_block_voltages_match_the_api(self):
        samples = parse(self.metrics())
        blocks = self.d.get_json("/api/v1/strings/1/blocks")["blocks"]
        volts = {k: v for k, v in samples.items() if k[0] == "equalis_block_voltage_volts"}
        self.assertEqual(len(volts), 64)
        for b in blocks:
            key = ("equalis_block_voltage_volts",
                   frozenset({("string", "1"), ("block", str(b["block"]))}))
            self.assertIn(key, samples)
            # Both reads are within a sweep or two of each other.
            self.assertAlmostEqual(samples[key], b["voltage_v"]["value"], delta=0.05)
        ri = {k: v for k, v in samples.items() if k[0] == "equalis_block_ri_ohms"}
        self.assertTrue(all(0.0005 < v < 0.06 for v in ri.values()), ri)
        self.assertEqual(samples[("equalis_system_strings", frozenset())], 2)
        self.assertEqual(samples[("equalis_system_modules", frozenset())], 64)
        modes = {k: v for k, v in samples.items()
                 if k[0] == "equalis_string_mode" and ("string", "1") in k[1]}
        self.assertEqual(len(modes), 4)
        self.assertEqual(sum(modes.values()), 1)

    def test_up_metrics(self):
        samples = parse(self.metrics())
        up = [v for k, v in samples.items() if k[0] == "equalis_block_up"]
        self.assertEqual(len(up), 64)
        self.assertEqual(sum(up), 64)


class StaleData(unittest.TestCase):
    def test_silent_module_is_absent_and_down(self):
        # sensor-faults: string 1 module 20 stops answering at 3 h (900×: after 12 s).
        with Daemon("--scenario", "sensor-faults", time_scale=900) as d:
            start_ms = d.get_json("/api/v1/system")["time_ms"]
            deadline = time.time() + 60
            while time.time() < deadline:
                if d.get_json("/api/v1/system")["time_ms"] >= start_ms + int(3.3 * 3600e3):
                    break
                time.sleep(0.1)
            _, _, body = d.get("/metrics")
            samples = parse(body.decode())
            self.assertLess(d.get_json("/api/v1/system")["time_ms"], start_ms + 5 * 3600e3)
            key = frozenset({("string", "1"), ("block", "20")})
            self.assertEqual(samples[("equalis_block_up", key)], 0)
            self.assertNotIn(("equalis_block_voltage_volts", key), samples)
            self.assertIn(("equalis_block_voltage_volts",
                           frozenset({("string", "1"), ("block", "19")})), samples)


if __name__ == "__main__":
    unittest.main(verbosity=2)
