"""Alarm rules and the event log end to end on a real equalisd: rules read and changed over REST
(validated, persisted across a restart, reverted), event-log filters and CSV export, and a
digital-input alarm (the demo door contact opened by a scenario) raised and cleared."""
import csv
import io
import json
import os
import tempfile
import shutil
import time
import unittest
import urllib.error
import urllib.request

import subprocess

from equalis_harness import Daemon, binary


def ctl(d, *args):
    return subprocess.run([binary("equalisctl"), "--url", d.url, *args], capture_output=True,
                          text=True, timeout=30)


def request(d, method, path, body=None):
    return d.request(method, path, body)


def rule(rules, rule_id):
    return next(r for r in rules if r["id"] == rule_id)


def wait_for(predicate, timeout_s=60, what="condition"):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class AlarmRulesApi(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="equalis-alarms-it-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_read_change_persist_and_revert(self):
        with Daemon(data_dir=self.dir) as d:
            rules = d.get_json("/api/v1/alarms/rules")
            self.assertEqual(len(rules["strings"]), 2)
            s2 = rules["strings"][1]["rules"]
            self.assertEqual(rule(s2, "block.temperature_high")["warning"], 35.0)
            self.assertEqual(rule(s2, "block.temperature_high")["origin"], "default")
            ids = {r["id"] for r in rules["system"]}
            self.assertTrue({"system.hydrogen_high", "system.humidity_high"} <= ids, ids)

            status, body = request(d, "PUT", "/api/v1/alarms/rules/block.temperature_high?string=2",
                                   {"warning": 30, "on_delay_s": 120})
            self.assertEqual(status, 200, body)
            self.assertEqual(len(body["rules"]), 1)
            self.assertEqual(body["rules"][0]["warning"], 30)
            self.assertEqual(body["rules"][0]["on_delay_s"], 120)

            # Bad changes are refused with the reason and change nothing.
            status, body = request(d, "PUT", "/api/v1/alarms/rules/block.temperature_high",
                                   {"warning": 50})
            self.assertEqual(status, 400)
            self.assertIn("warning 50 must be ≤ alarm 45", body["error"]["message"])
            status, body = request(d, "PUT", "/api/v1/alarms/rules/block.temprature_high",
                                   {"warning": 30})
            self.assertEqual(status, 404)
            self.assertIn("did you mean 'block.temperature_high'", body["error"]["message"])
            status, body = request(d, "PUT", "/api/v1/alarms/rules/block.temperature_high",
                                   {"warnin": 30})
            self.assertEqual(status, 400)
            self.assertIn("warnin", body["error"]["message"])
            status, body = request(d, "PUT", "/api/v1/alarms/rules/block.temperature_high",
                                   b"{not json")
            self.assertEqual(status, 400)
            status, body = request(d, "PUT", "/api/v1/alarms/rules/block.temperature_high?string=7",
                                   {"warning": 30})
            self.assertEqual(status, 404)
            self.assertEqual(body["error"]["parameter"], "string")

            rules = d.get_json("/api/v1/alarms/rules")
            self.assertEqual(rule(rules["strings"][0]["rules"], "block.temperature_high")["warning"], 35)
            self.assertEqual(rule(rules["strings"][1]["rules"], "block.temperature_high")["origin"], "api")
            events = d.get_json("/api/v1/events?kind=config")["events"]
            self.assertEqual(len(events), 1, events)
            self.assertIn("block.temperature_high", events[0]["message"])

        # The change survives a restart.
        with Daemon(data_dir=self.dir) as d:
            rules = d.get_json("/api/v1/alarms/rules")
            self.assertEqual(rule(rules["strings"][1]["rules"], "block.temperature_high")["warning"], 30)
            self.assertEqual(rules["overrides"],
                             [{"rule": "block.temperature_high", "string": 2, "warning": 30.0,
                               "on_delay_s": 120.0}])
            status, body = request(d, "DELETE", "/api/v1/alarms/rules/block.temperature_high?string=2")
            self.assertEqual(status, 200, body)
            status, body = request(d, "DELETE", "/api/v1/alarms/rules/block.temperature_high?string=2")
            self.assertEqual(status, 404)
            rules = d.get_json("/api/v1/alarms/rules")
            self.assertEqual(rule(rules["strings"][1]["rules"], "block.temperature_high")["warning"], 35)
            self.assertEqual(rules["overrides"], [])


class InputAlarmAndEventLog(unittest.TestCase):
    def test_door_contact_alarm_and_event_filters(self):
        # battery-room: the door (aux1.di3) is open from 30 to 40 min; the demo plant raises a
        # warning after 30 s. 600× → 30 min in 3 s.
        with Daemon("--scenario", "battery-room", time_scale=600) as d:
            def door_alarm():
                alarms = d.get_json("/api/v1/alarms")["alarms"]
                return [a for a in alarms if a["rule"] == "input.aux1.di3"]
            active = wait_for(door_alarm, what="door alarm")
            self.assertEqual(active[0]["level"], "warning")
            self.assertIn("Door contact", active[0]["message"])
            r = ctl(d, "alarms")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("input aux1.di3 (Door contact) active", r.stdout)
            system = d.get_json("/api/v1/system")
            self.assertGreaterEqual(system["warning_count"]["value"], 1)
            wait_for(lambda: not door_alarm(), what="door alarm to clear")

            # One time window for the JSON and the CSV: alarms keep coming at 600×.
            until = d.get_json("/api/v1/system")["time_ms"]
            events = d.get_json(f"/api/v1/events?kind=alarm&from=0&to={until}&limit=1000")["events"]
            door = [e for e in events if "input.aux1.di3" in e["message"]]
            self.assertEqual([("raised" in e["message"], "cleared" in e["message"]) for e in door],
                             [(True, False), (False, True)], door)
            self.assertTrue(all(e["kind"] == "alarm" for e in events))
            inputs = d.get_json("/api/v1/events?kind=input&from=0")["events"]
            self.assertTrue(any("aux1.di3" in e["message"] for e in inputs), inputs)
            r = ctl(d, "events", "--from", "0", "--kind", "input")
            self.assertEqual(r.returncode, 0, r.stderr)
            lines = [l for l in r.stdout.splitlines() if l.strip()]
            self.assertEqual(len(lines), len(inputs), r.stdout)
            self.assertTrue(all(" input " in l for l in lines), r.stdout)
            r = ctl(d, "events", "--level", "loud")
            self.assertEqual(r.returncode, 1)
            self.assertIn("level", r.stderr)

            # Filters: level, string/block; a bad filter names itself.
            for e in d.get_json("/api/v1/events?level=warning&from=0")["events"]:
                self.assertEqual(e["level"], "warning")
            for e in d.get_json("/api/v1/events?string=1&from=0")["events"]:
                self.assertEqual(e["string"], 1)
            for q, param in (("level=loud", "level"), ("block=3", "block"), ("string=9", "string"),
                             ("kind=A%20B", "kind")):
                status, _, body = d.get("/api/v1/events?" + q)
                self.assertIn(status, (400, 404), q)
                self.assertEqual(json.loads(body)["error"]["parameter"], param)

            status, ctype, body = d.get(f"/api/v1/events/export.csv?kind=alarm&from=0&to={until}")
            self.assertEqual(status, 200)
            self.assertIn("text/csv", ctype)
            rows = list(csv.reader(io.StringIO(body.decode())))
            self.assertEqual(rows[0], ["time", "kind", "level", "string", "block", "message"])
            self.assertEqual(len(rows) - 1, len(events))
            self.assertTrue(all(r[1] == "alarm" for r in rows[1:]))


if __name__ == "__main__":
    unittest.main()
