"""equalis-sim's truth stream (docs/simulator.md, "Truth firewall"): a scenario file with an
age_block event gives the block the true capacity, Ri and float current the file names, as the
truth stream written by `equalis-sim --truth` reports; the other blocks keep theirs; bad options
are refused with the reason."""
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

from equalis_harness import binary, wait_for

# String 1 block 3 → 62.5 % capacity, Ri ×1.8, I0 ×3; string 2 block 1 → Ri ×2.5 (at 10 min).
SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "weak-block.toml")


def read_truth(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class SimTruth(unittest.TestCase):
    def test_age_block_lands_in_the_truth_stream(self):
        with tempfile.TemporaryDirectory() as d:
            scenario = SCENARIO
            truth = os.path.join(d, "truth.jsonl")
            # 600× real time: the event at 10 plant minutes comes after 1 s; a sample every
            # plant minute.
            proc = subprocess.Popen([binary("equalis-sim"), "--scenario", scenario, "--time-scale", "600",
                                     "--truth", truth, "--truth-interval", "60", "--link",
                                     os.path.join(d, "tty")],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                def after_event():
                    rows = read_truth(truth) if os.path.exists(truth) else []
                    t0 = rows[0]["t_ms"] if rows else None
                    late = [r for r in rows if r["kind"] == "block" and r["t_ms"] >= t0 + 12 * 60000]
                    return (rows, late) if late else None

                rows, late = wait_for(after_event, "truth samples past the age_block event", 30)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
            t0 = rows[0]["t_ms"]
            early = [r for r in rows if r["kind"] == "block" and r["t_ms"] < t0 + 9 * 60000]
            self.assertTrue(early, "no sample before the event")

            def block(sample, s, b):
                return next(r for r in sample if r["string"] == s and r["block"] == b)

            last_t = max(r["t_ms"] for r in late)
            last = [r for r in late if r["t_ms"] == last_t]
            first = [r for r in early if r["t_ms"] == t0]
            self.assertEqual(len(last), 64)
            weak = block(last, 1, 3)
            self.assertAlmostEqual(weak["capacity_pct"], 62.5, delta=0.01)
            self.assertAlmostEqual(weak["ri_ohm"] / weak["initial_ri_ohm"], 1.8, delta=0.002)
            self.assertAlmostEqual(weak["i0_a"] / weak["initial_i0_a"], 3.0, delta=0.003)
            self.assertGreater(block(first, 1, 3)["capacity_pct"], 80.0)
            resistive = block(last, 2, 1)
            self.assertAlmostEqual(resistive["ri_ohm"] / resistive["initial_ri_ohm"], 2.5, delta=0.003)
            self.assertAlmostEqual(resistive["capacity_pct"], block(first, 2, 1)["capacity_pct"], delta=0.01)
            # A neighbour is untouched.
            self.assertAlmostEqual(block(last, 1, 4)["capacity_pct"], block(first, 1, 4)["capacity_pct"], delta=0.01)
            strings = [r for r in rows if r["kind"] == "string" and r["t_ms"] == last_t]
            self.assertEqual([r["string"] for r in strings], [1, 2])
            self.assertTrue(all(r["charger_setpoint_v"] > 0 for r in strings), strings)

    def test_bad_truth_options_are_refused(self):
        with tempfile.TemporaryDirectory() as d:
            r = subprocess.run([binary("equalis-sim"), "--truth", os.path.join(d, "t.jsonl"),
                                "--truth-interval", "0.5"], capture_output=True, text=True, timeout=20)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--truth-interval must be between 1 and 86400 seconds, got '0.5'", r.stderr)
            r = subprocess.run([binary("equalis-sim"), "--truth", os.path.join(d, "missing", "t.jsonl"),
                                "--link", os.path.join(d, "tty")], capture_output=True, text=True,
                               timeout=20)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("cannot write the truth stream", r.stderr)


if __name__ == "__main__":
    unittest.main()
