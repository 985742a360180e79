"""Alarm rules and the event log end to end on a real equalisd: rules read and changed over REST
(validated, persisted across a restart, reverted), event-log filters and CSV export, a
digital-input alarm (the demo door contact opened by a scenario) raised and cleared, and alarm
shelving (a viewer may not, an operator may; audited, counted apart, logged, back when the shelf
time is over)."""
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

from equalis_harness import COMM_LOSS_SCENARIO, Daemon, admin_token, binary


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


def call(d, method, path, body, token):
    """A JSON request with the given API token; (status, parsed JSON), 4xx included."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(d.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json",
                                          "Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def audit_records(data_dir):
    with open(os.path.join(data_dir, "audit.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


class AlarmShelving(unittest.TestCase):
    """String 2's module 5 stops answering at once (block.comm_lost/2/5, an alarm that stays);
    60×, so a 1-minute shelf lasts a second."""
    KEY = "block.comm_lost/2/5"

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="equalis-shelve-it-")
        cls.viewer = admin_token(cls.dir, label="vera", role="viewer")
        cls.operator = admin_token(cls.dir, label="ada", role="operator")
        scenario = os.path.join(cls.dir, "comm-loss.toml")
        with open(scenario, "w") as f:
            f.write(COMM_LOSS_SCENARIO)
        config = os.path.join(cls.dir, "equalis.toml")
        with open(config, "w") as f:
            f.write("[[string]]\nblocks = 8\n\n[[string]]\nblocks = 8\n")
        cls.d = Daemon("--config", config, "--scenario", scenario, data_dir=cls.dir,
                       time_scale=60).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def alarm(self):
        return next((a for a in self.d.get_json("/api/v1/alarms")["alarms"]
                     if a["key"] == self.KEY), None)

    def counts_agree(self, shelved):
        """The system points against the alarm list (retried: the plant goes on meanwhile)."""
        def agree():
            alarms = self.d.get_json("/api/v1/alarms")["alarms"]
            system = self.d.get_json("/api/v1/system")
            shown = [a for a in alarms if not a["shelved"]]
            want = {"alarm_count": sum(a["level"] == "alarm" for a in shown),
                    "warning_count": sum(a["level"] == "warning" for a in shown),
                    "unacknowledged_count": sum(not a["acknowledged"] for a in shown),
                    "shelved_count": sum(a["shelved"] for a in alarms)}
            got = {k: system[k]["value"] for k in want}
            return (got, alarms) if got == want and got["shelved_count"] == shelved else None
        return wait_for(agree, timeout_s=20, what=f"counts with {shelved} shelved")

    def shelve(self, token, body, key=None):
        key = self.KEY if key is None else key
        return call(self.d, "POST", f"/api/v1/alarms/shelve?key={key}", body, token)

    def test_shelve_audit_counts_unshelve_and_expiry(self):
        first = wait_for(self.alarm, what=f"{self.KEY} raised")
        self.assertEqual(first["level"], "alarm")
        self.assertFalse(first["shelved"])
        self.assertIsNone(first["shelved_until"])
        (before, _) = self.counts_agree(0)

        # A viewer may not shelve (403, recorded as access.denied); nothing changes.
        status, body = self.shelve(self.viewer, {"minutes": 60, "reason": "nuisance"})
        self.assertEqual(status, 403, body)
        self.assertIn("'vera' is a viewer; this needs the operator role", body["error"]["message"])
        status, body = call(self.d, "POST", f"/api/v1/alarms/unshelve?key={self.KEY}", {},
                            self.viewer)
        self.assertEqual(status, 403, body)
        self.assertFalse(self.alarm()["shelved"])
        denied = [r for r in audit_records(self.dir) if r["action"] == "access.denied"]
        self.assertTrue(any(r["user"] == "vera" and "/api/v1/alarms/shelve" in r["target"]
                            for r in denied), denied)

        # Bad requests name the field.
        for body, param, text in (
                ({"minutes": 60}, "reason", "reason is required"),
                ({"minutes": 60, "reason": "   "}, "reason", "reason is required"),
                ({"minutes": 60, "reason": "x" * 201}, "reason", "at most 200"),
                ({"minutes": 60, "reason": "two\nlines"}, "reason", "one line"),
                ({"reason": "why"}, "minutes", "minutes is required"),
                ({"minutes": 0, "reason": "why"}, "minutes", "at least 1"),
                ({"minutes": 10081, "reason": "why"}, "minutes", "at most 10080 (7 d)"),
                ({"minutes": 1.5, "reason": "why"}, "minutes", "whole number"),
                ({"minutes": 60, "reason": "why", "until": 3}, "until", "unknown member"),
                (b"{not json", "body", "JSON object")):
            status, reply = self.shelve(self.operator, body)
            self.assertEqual(status, 400, (body, reply))
            self.assertEqual(reply["error"]["parameter"], param, reply)
            self.assertIn(text, reply["error"]["message"])
        status, reply = call(self.d, "POST", "/api/v1/alarms/shelve", {"minutes": 60,
                                                                       "reason": "why"},
                             self.operator)
        self.assertEqual((status, reply["error"]["parameter"]), (400, "key"), reply)
        status, reply = self.shelve(self.operator, {"minutes": 60, "reason": "why"},
                                    key="block.voltage_high/1/99")
        self.assertEqual(status, 404, reply)
        status, reply = call(self.d, "POST", "/api/v1/alarms/unshelve?key=" + self.KEY, {},
                             self.operator)
        self.assertEqual(status, 404, reply)  # not shelved
        self.assertFalse(self.alarm()["shelved"])

        # An operator shelves it for 5 min (5 s here): off the counts, listed as shelved.
        status, body = self.shelve(self.operator, {"minutes": 5, "reason": "module swap pending"})
        self.assertEqual(status, 200, body)
        shelved = body["shelved"]
        self.assertEqual((shelved["key"], shelved["shelved"], shelved["shelve_reason"],
                          shelved["shelved_by"]), (self.KEY, True, "module swap pending", "ada"))
        listed = self.alarm()
        self.assertTrue(listed["shelved"])
        self.assertEqual(listed["shelved_until"], shelved["shelved_until"])
        self.assertEqual(listed["level"], "alarm")  # still active in the engine
        (during, _) = self.counts_agree(1)
        self.assertEqual(during["shelved_count"], 1)
        r = ctl(self.d, "alarms")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("[shelved until ", r.stdout)
        self.assertIn("by ada: module swap pending]", r.stdout)
        record = [r for r in audit_records(self.dir) if r["action"] == "alarm.shelve"][-1]
        self.assertEqual((record["user"], record["via"], record["target"], record["outcome"],
                          record["old_value"], record["new_value"]),
                         ("ada", "rest", self.KEY, "ok", "not shelved",
                          "shelved for 5 min: module swap pending"))
        events = self.d.get_json("/api/v1/events?kind=alarm&from=0&q=shelved")["events"]
        self.assertTrue(any(f"[{self.KEY}] alarm shelved for 5 min by ada: module swap pending"
                            in e["message"] for e in events), events)

        # Unshelved by the operator: back at once, audited with the shelf it ended.
        status, body = call(self.d, "POST", f"/api/v1/alarms/unshelve?key={self.KEY}", {},
                            self.operator)
        self.assertEqual(status, 200, body)
        self.assertFalse(body["unshelved"]["shelved"])
        self.assertFalse(self.alarm()["shelved"])
        self.counts_agree(0)
        record = [r for r in audit_records(self.dir) if r["action"] == "alarm.unshelve"][-1]
        self.assertEqual((record["user"], record["target"], record["new_value"]),
                         ("ada", self.KEY, "not shelved"))
        self.assertTrue(record["old_value"].startswith("shelved until "), record)
        self.assertIn("by ada: module swap pending", record["old_value"])

        # Shelved for the shortest time, 1 min (1 s here): the shelf ends on the plant clock,
        # with an event, and the alarm is counted again.
        status, body = self.shelve(self.operator, {"minutes": 1, "reason": "short test"})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["shelved"]["shelved"])
        wait_for(lambda: not self.alarm()["shelved"], timeout_s=30, what="the shelf to end")
        self.counts_agree(0)
        # The event log is written at the end of the cycle that committed the change.
        wait_for(lambda: [e for e in self.d.get_json(
            "/api/v1/events?kind=alarm&from=0&q=shelf%20time%20over")["events"]
            if f"[{self.KEY}] alarm shelf time over: back on the display" in e["message"]],
            timeout_s=10, what="the shelf-time-over event")


if __name__ == "__main__":
    unittest.main()
