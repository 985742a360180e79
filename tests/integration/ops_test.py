"""Operations: /healthz, /readyz, self-metrics checked by promtool, configuration reload by
SIGHUP, REST and equalisctl (docs/operations.md)."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from equalis_harness import Daemon, binary

SAMPLE = os.path.join(os.path.dirname(__file__), "../../config/equalis.sample.toml")


def rule(d, rule_id, string=1):
    rules = d.get_json("/api/v1/alarms/rules")["strings"][string - 1]["rules"]
    return next(r for r in rules if r["id"] == rule_id)


def config_events(d):
    return [e["message"] for e in d.get_json("/api/v1/events?kind=config")["events"]]


class Ops(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="equalis-ops-")
        self.config = os.path.join(self.dir, "equalis.toml")
        shutil.copy(SAMPLE, self.config)
        self.d = Daemon("--config", self.config, time_scale=60).start()

    def tearDown(self):
        self.d.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def edit(self, pattern, replacement):
        with open(self.config) as f:
            text = f.read()
        new, n = re.subn(pattern, replacement, text, count=1, flags=re.M)
        self.assertEqual(n, 1, pattern)
        with open(self.config, "w") as f:
            f.write(new)

    def append(self, text):
        with open(self.config, "a") as f:
            f.write(text)

    def ctl(self, *args):
        return subprocess.run([binary("equalisctl"), "--url", self.d.url, *args],
                              capture_output=True, text=True, timeout=30)

    def test_health_and_readiness(self):
        status, ctype, body = self.d.get("/healthz")
        self.assertEqual(status, 200, body)
        self.assertIn("application/json", ctype)
        self.assertIn(b'"status":"ok"', body)
        health = self.d.get_json("/healthz")
        self.assertGreater(health["cycles"], 0)
        self.assertLess(health["last_cycle_age_s"], health["limit_s"])
        self.assertEqual(self.d.get_json("/readyz"), {"status": "ready"})

    def test_self_metrics_pass_promtool(self):
        status, _, body = self.d.get("/metrics")
        self.assertEqual(status, 200)
        text = body.decode()
        r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        self.assertGreater(samples["equalis_control_cycles_total"], 0)
        self.assertGreater(samples['equalis_control_cycle_duration_seconds_bucket{le="+Inf"}'], 0)
        self.assertEqual(samples["equalis_control_modules_ok"], 64)
        self.assertGreater(samples["process_resident_memory_bytes"], 1e6)
        self.assertGreater(samples["equalis_process_threads"], 2)
        self.assertGreater(samples["equalis_history_snapshots"], 0)
        self.assertIn('equalis_events_deliveries_total{outcome="ok"}', samples)

    def test_sighup_applies_a_new_threshold_and_keeps_the_state(self):
        before = rule(self.d, "block.temperature_high")
        self.assertNotEqual(before["warning"], 31.0)
        self.append('\n[[alarms.rule]]\nid = "block.temperature_high"\nwarning = 31\n')
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and rule(self.d, "block.temperature_high")["warning"] != 31:
            time.sleep(0.1)
        after = rule(self.d, "block.temperature_high")
        self.assertEqual(after["warning"], 31.0)
        self.assertEqual(after["origin"], "config")
        self.assertTrue(any("configuration reloaded: 1 change applied, 0 need a restart (SIGHUP)"
                            in m for m in config_events(self.d)), config_events(self.d))
        self.assertEqual(self.d.get("/healthz")[0], 200)  # the daemon runs on

    def test_invalid_file_is_refused_with_the_check_config_text(self):
        before = rule(self.d, "block.temperature_high")["warning"]
        self.append('\n[[alarms.rule]]\nid = "block.temperature_high"\nwarning = 31\n')
        self.edit(r"^hold_min = 5$", "hold_min = 700")
        check = subprocess.run([binary("equalisd"), "--check-config", self.config],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(check.returncode, 1)
        status, reply = self.d.request("POST", "/api/v1/system/reload", {})
        self.assertEqual(status, 400, reply)
        self.assertEqual(reply["error"]["message"].strip(), check.stderr.strip())
        self.assertIn("thermal_runaway.hold_min", reply["error"]["message"])
        self.assertEqual(rule(self.d, "block.temperature_high")["warning"], before)
        # By SIGHUP too: refused, in the event log.
        self.d.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and \
                sum("reload rejected" in m for m in config_events(self.d)) < 2:
            time.sleep(0.1)
        rejected = [m for m in config_events(self.d) if "reload rejected" in m]
        self.assertEqual(len(rejected), 2, config_events(self.d))
        self.assertIn("(SIGHUP)", rejected[-1])
        self.assertIn("hold_min: must be between 0 and 120 min, got 700", rejected[-1])
        self.assertEqual(rule(self.d, "block.temperature_high")["warning"], before)
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("configuration rejected", r.stderr)

    def test_equalisctl_reload_names_what_needs_a_restart(self):
        self.edit(r"^blocks = 32$", "blocks = 30")
        self.edit(r"^hold_min = 5$", "hold_min = 6")
        r = self.ctl("reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration reloaded: 1 change applied, 1 needs a restart", r.stdout)
        self.assertIn("restart needed for strings[1].blocks", r.stdout)
        self.assertIn("applied  thermal_runaway.hold_min: 5 → 6", r.stdout)
        blocks = self.d.get_json("/api/v1/strings/1/blocks")["blocks"]
        self.assertEqual(len(blocks), 32)  # the layout stays until a restart


class BackupRestore(unittest.TestCase):
    def test_backup_with_history_and_restore_offline_and_through_rest(self):
        work = tempfile.mkdtemp(prefix="equalis-backup-")
        try:
            config = os.path.join(work, "equalis.toml")
            shutil.copy(SAMPLE, config)
            data = os.path.join(work, "data")
            archive = os.path.join(work, "b.tar.gz")
            with Daemon("--config", config, data_dir=data, time_scale=600) as d:
                status, _ = d.request("PUT", "/api/v1/alarms/rules/block.temperature_high",
                                      {"warning": 31})
                self.assertEqual(status, 200)
                r = subprocess.run([binary("equalisctl"), "--url", d.url, "backup",
                                    "--with-history", archive], capture_output=True, text=True,
                                   timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                snapshots = d.get_json("/api/v1/system")["history"]["snapshots"]
                source_token = d.token  # in the backup's users.json
                # A running equalisd holds its data directory: no offline restore into it.
                r = subprocess.run([binary("equalisctl"), "restore", archive, "--data-dir", data],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 1)
                self.assertIn("another equalisd uses the data directory", r.stderr)
            # Offline into a fresh place, then a daemon there has the alarm-rule change.
            target = os.path.join(work, "restored")
            target_config = os.path.join(work, "restored.toml")
            r = subprocess.run([binary("equalisctl"), "restore", archive, "--data-dir", target,
                                "--config", target_config], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("restored the backup of 'Equalis demo site'", r.stdout)
            with Daemon("--config", target_config, data_dir=target, time_scale=60) as d:
                self.assertEqual(rule(d, "block.temperature_high")["warning"], 31.0)
                self.assertGreaterEqual(d.get_json("/api/v1/system")["history"]["snapshots"],
                                        snapshots)
                # Through REST: staged now, applied at the next start.
                status, _ = d.request("PUT", "/api/v1/alarms/rules/block.temperature_high",
                                      {"warning": 33})
                self.assertEqual(status, 200)
                r = subprocess.run([binary("equalisctl"), "--url", d.url, "restore", archive],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("restart equalisd to apply it", r.stdout)
                self.assertEqual(rule(d, "block.temperature_high")["warning"], 33.0)
                # A damaged archive is refused with the reason.
                with open(archive, "rb") as f:
                    content = f.read()
                status, reply = d.request("POST", "/api/v1/system/restore",
                                          content[:len(content) // 2],
                                          content_type="application/gzip")
                self.assertEqual(status, 400, reply)
                self.assertIn("not restored", reply["error"]["message"])
            # The restore brought back the accounts of the backup: its API token works again.
            with Daemon("--config", target_config, data_dir=target, time_scale=60,
                        token=source_token) as d:
                self.assertEqual(rule(d, "block.temperature_high")["warning"], 31.0)
                self.assertTrue(any("restore applied" in e["message"] for e in
                                    d.get_json("/api/v1/events?kind=system")["events"]))
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
