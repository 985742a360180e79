"""equalisd on a real module-bus line: equalis-sim answers the protocol on a pty (reached
through a stable link, as a USB adapter's /dev/serial/by-id path would be), equalisd sweeps it.
REST and Modbus show the plant; killing equalis-sim makes every block stale and raises comm-lost;
starting it again recovers (the web application on such a line, stale blocks greyed, is
tests/web/module_bus.test.mjs). With 1 % of
the replies corrupted and five modules silent, exactly those five go stale and comm-lost, and
every protocol equalisd speaks shows them (and only them) as not fresh: REST, Modbus, SNMP
(net-snmp tools), MQTT (a private mosquitto) and Prometheus /metrics."""
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from equalis_harness import Daemon, binary, wait_for  # noqa: E402
from mqtt_test import Broker, Subscriber, block_topic  # noqa: E402
from prometheus_test import parse as parse_metrics  # noqa: E402
from snmp_test import BLOCK_ENTRY, free_udp_port  # noqa: E402

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
SAMPLE = os.path.join(SOURCE_DIR, "config", "equalis.sample.toml")
TIME_SCALE = 10  # a sweep every second of real time; stale after 3 s
STALE = ("stale", "comm_lost")
# Block columns read from the module; the charge is the daemon's estimate (from the string
# current) and keeps its own quality.
MEASURED = ("voltage_v", "temperature_c", "ri_mohm", "equalization_pct")


def iso_s(text):
    """Seconds since the epoch of an ISO 8601 UTC time ('…Z')."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Sim:
    """equalis-sim on a pty, linked at `link`."""

    def __init__(self, config, link, faults=()):
        # stderr to a file: a full pipe would stall the simulator's lines.
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [binary("equalis-sim"), "--config", config, "--time-scale", str(TIME_SCALE),
             "--link", link, *[a for f in faults for a in ("--fault", f)]],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"equalis-sim: line 1 on (\S+)", line)
        if not m:
            self.kill()
            self.log.seek(0)
            raise AssertionError(f"equalis-sim did not print its line: {line!r} {self.log.read()}")
        self.pty = m.group(1)

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.log.close()


def mbpoll_block(port, string, block):
    """Block record (10 registers) of string 1–10, block b over Modbus TCP."""
    address = 4000 + 6000 * (string - 1) + 10 * (block - 1)
    p = subprocess.run(["mbpoll", "-m", "tcp", "-p", str(port), "-0", "-1", "-r", str(address),
                        "-c", "10", "-t", "4", "127.0.0.1"], capture_output=True, text=True,
                       timeout=20)
    values = {int(a): int(v) for a, v in re.findall(r"^\[(\d+)\]:\s+(-?\d+)", p.stdout, re.M)}
    return [values[address + i] for i in range(10)]


class ModuleBusDaemon(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="equalis-bus-it-")
        cls.link = os.path.join(cls.tmp, "ttyEQUALIS")
        # The demo plant (2 × 32 blocks) on one line at 115 200 baud.
        with open(SAMPLE) as f:
            sample = f.read()
        cls.config = os.path.join(cls.tmp, "plant.toml")
        with open(cls.config, "w") as f:
            f.write(sample + f'\n[[bus.line]]\nurl = "serial:{cls.link}:115200"\n'
                             'strings = [1, 2]\n')
        cls.snmp_port = free_udp_port()
        cls.broker = cls.sim = None
        try:
            cls.broker = Broker().start()
            cls.sim = Sim(cls.config, cls.link)
            cls.d = Daemon("--config", cls.config, "--modbus-tcp", "127.0.0.1:0",
                           "--snmp", f"127.0.0.1:{cls.snmp_port}",
                           "--mqtt", f"mqtt://127.0.0.1:{cls.broker.port}",
                           time_scale=TIME_SCALE).start()
        except Exception:
            if cls.sim:
                cls.sim.kill()
            if cls.broker:
                cls.broker.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        cls.modbus_port = int(next(re.search(r"Modbus TCP on [0-9.]+:(\d+)", l).group(1)
                                   for l in cls.d.lines if "Modbus TCP" in l))

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        if cls.sim.proc.poll() is None:
            cls.sim.kill()
        cls.broker.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def blocks(self, string):
        return self.d.get_json(f"/api/v1/strings/{string}/blocks")["blocks"]

    def all_ok(self):
        return all(b["voltage_v"]["quality"] == "ok" for s in (1, 2) for b in self.blocks(s))

    def test_1_plant_over_the_line(self):
        system = self.d.get_json("/api/v1/system")
        self.assertFalse(system["simulated"])
        wait_for(self.all_ok, "every block fresh over the line")
        bus = self.d.get_json("/api/v1/bus")
        self.assertFalse(bus["simulated"])
        self.assertEqual(len(bus["lines"]), 1)
        line = bus["lines"][0]
        self.assertEqual(line["line"], f"serial:{self.link}:115200")
        self.assertEqual(line["modules"], 64)
        self.assertIn(line["state"], ("up", "degraded"))
        self.assertGreater(line["counters"]["frames_ok"], 64)
        self.assertGreater(line["wire_limit_ms"], 0)
        # Float voltages of 12 V VRLA blocks, room-temperature blocks, milliohm Ri: the plant.
        for s in (1, 2):
            for b in self.blocks(s):
                self.assertGreater(b["voltage_v"]["value"], 12.5)
                self.assertLess(b["voltage_v"]["value"], 15.5)
                self.assertGreater(b["temperature_c"]["value"], 10)
                self.assertLess(b["temperature_c"]["value"], 45)
                self.assertGreater(b["ri_mohm"]["value"], 1)
        string = self.d.get_json("/api/v1/strings/1")
        self.assertEqual(string["voltage_v"]["quality"], "ok")
        self.assertEqual(string["current_a"]["quality"], "ok")
        # Modbus shows the same values as REST (one sweep may pass between the two reads).
        def same_over_modbus():
            rest = self.blocks(2)[6]
            regs = mbpoll_block(self.modbus_port, 2, 7)
            return abs(regs[0] / 1000 - rest["voltage_v"]["value"]) <= 0.02 and regs[7] == 0
        wait_for(same_over_modbus, "Modbus = REST for string 2, block 7", 15)

    def test_3_sim_killed_then_back(self):
        wait_for(self.all_ok, "every block fresh over the line")
        self.sim.kill()
        # Stale within the staleness limit (3 sweeps), comm-lost after 3 failed sweeps.
        def all_stale():
            return all(b["voltage_v"]["quality"] in ("stale", "comm_lost")
                       for s in (1, 2) for b in self.blocks(s))
        wait_for(all_stale, "every block stale after equalis-sim died", 20)
        def comm_lost_alarms():
            alarms = self.d.get_json("/api/v1/alarms")["alarms"]
            return len([a for a in alarms if a["rule"] == "block.comm_lost"]) == 64
        wait_for(comm_lost_alarms, "64 comm-lost alarms", 20)
        regs = mbpoll_block(self.modbus_port, 1, 1)
        self.assertNotEqual(regs[7] & 0x0003, 0, "Modbus must flag the block stale/comm_lost")
        line = self.d.get_json("/api/v1/bus")["lines"][0]
        self.assertEqual(line["state"], "down")
        # equalis-sim starts again on a new pty; the link follows it, the line reopens.
        type(self).sim = Sim(self.config, self.link)
        wait_for(self.all_ok, "every block fresh again after equalis-sim restarted", 30)
        def alarms_cleared():
            alarms = self.d.get_json("/api/v1/alarms")["alarms"]
            return not [a for a in alarms if a["rule"] == "block.comm_lost"]
        wait_for(alarms_cleared, "comm-lost alarms cleared", 30)
        self.assertGreaterEqual(
            self.d.get_json("/api/v1/bus")["lines"][0]["counters"]["reconnects"], 2)

    def test_4_corrupted_frames_and_silent_modules(self):
        # 1 % of the replies corrupted, five modules silent: only those five go stale and raise
        # comm-lost (within three sweeps); a corrupted frame never becomes a value.
        silent = [(1, 3), (1, 17), (2, 5), (2, 20), (2, 32)]
        self.sim.kill()
        type(self).sim = Sim(self.config, self.link, faults=(
            "crc=0.01", "seed=7", "silent=" + ",".join(f"{s}:{b}" for s, b in silent)))
        def settled():
            blocks = {(s, i + 1): b for s in (1, 2) for i, b in enumerate(self.blocks(s))}
            bad = {k for k, b in blocks.items() if b["voltage_v"]["quality"] != "ok"}
            return bad == set(silent)
        wait_for(settled, "exactly the silent modules stale", 30)
        def comm_lost():
            alarms = self.d.get_json("/api/v1/alarms")["alarms"]
            return {(a["string"], a["block"]) for a in alarms if a["rule"] == "block.comm_lost"}
        wait_for(lambda: comm_lost() == set(silent), "comm-lost for exactly the silent modules", 20)
        # Raised within three sweeps (plant time) of the module's last good reading.
        sweep_s = self.d.get_json("/api/v1/system")["sweep_interval_s"]
        for a in self.d.get_json("/api/v1/alarms")["alarms"]:
            if a["rule"] == "block.comm_lost":
                last = self.blocks(a["string"])[a["block"] - 1]["voltage_v"]["time"]
                late_s = iso_s(a["raised"]) - iso_s(last)
                self.assertLessEqual(late_s, 3 * sweep_s + 0.5,
                                     f"comm-lost of {(a['string'], a['block'])} raised {late_s} s "
                                     f"after its last reading ({last})")
        # Values of every answering block stay plausible despite the corrupted frames.
        for _ in range(5):
            for s in (1, 2):
                for i, b in enumerate(self.blocks(s)):
                    if (s, i + 1) in silent:
                        continue
                    self.assertEqual(b["voltage_v"]["quality"], "ok")
                    self.assertGreater(b["voltage_v"]["value"], 12.5)
                    self.assertLess(b["voltage_v"]["value"], 15.5)
            time.sleep(1)
        self.assertEqual(comm_lost(), set(silent))
        # No false block alarm: a silent module has only its comm-lost; an answering block only
        # the demo plant's own voltage alarms (its out-of-balance blocks, also raised without
        # faults), whose value is the block's real voltage, not a corrupted reading.
        volts = {(s, i + 1): b["voltage_v"]["value"] for s in (1, 2)
                 for i, b in enumerate(self.blocks(s))}
        false_alarms = []
        for a in self.d.get_json("/api/v1/alarms")["alarms"]:
            key = (a["string"], a["block"])
            if not a["block"] or (key in silent and a["rule"] == "block.comm_lost"):
                continue
            if (key in silent or not a["rule"].startswith("block.voltage_")
                    or abs(a["value"] - volts[key]) > 0.1):
                false_alarms.append(f"{a['rule']} on {key}: value {a['value']}, "
                                    f"REST voltage {volts[key]}")
        if false_alarms:
            self.fail("false block alarms:\n  " + "\n  ".join(false_alarms))
        regs = mbpoll_block(self.modbus_port, 2, 20)
        self.assertNotEqual(regs[7] & 0x0003, 0, "Modbus must flag the silent block")
        self.assertEqual(mbpoll_block(self.modbus_port, 2, 19)[7], 0)
        line = self.d.get_json("/api/v1/bus")["lines"][0]
        self.assertEqual(line["state"], "degraded")
        self.assertGreater(line["counters"]["crc_errors"], 0)
        # Every other protocol shows the same five blocks as not fresh, and only them.
        self.assert_everywhere("SNMP", self.snmp_freshness_errors, silent)
        self.assert_everywhere("MQTT", self.mqtt_freshness_errors, silent)
        self.assert_everywhere("Prometheus", self.metrics_freshness_errors, silent)

    def assert_everywhere(self, protocol, errors_of, silent, timeout_s=10):
        """Waits until errors_of(silent) reports no difference (a protocol may notice staleness
        up to a second after REST), then fails with the last differences."""
        deadline = time.time() + timeout_s
        while True:
            errors = errors_of(set(silent))
            if not errors or time.time() >= deadline:
                break
            time.sleep(0.5)
        if errors:
            self.fail(f"{protocol}: {len(errors)} block(s) with the wrong freshness "
                      f"(silent: {sorted(silent)}):\n  " + "\n  ".join(errors[:20]))

    def snmp_freshness_errors(self, silent):
        # eqBlockQuality (column 3, EqQuality ok(0) stale(1) commLost(2) …) of every row.
        column = BLOCK_ENTRY + ".3"
        r = subprocess.run(["snmpbulkwalk", "-On", "-Oe", "-t", "2", "-r", "1", "-v2c", "-c",
                            "public", "-Cr64", f"udp:127.0.0.1:{self.snmp_port}", column],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=self.tmp,
                                    SNMPCONFPATH=self.tmp))
        if r.returncode != 0:
            return [f"snmpbulkwalk -> {r.returncode}: {r.stderr.strip()}"]
        quality = {}
        for oid, value in re.findall(r"^(\.[\d.]+) = INTEGER: (-?\d+)", r.stdout, re.M):
            s, b = (int(x) for x in oid[len(column) + 1:].split("."))
            quality[(s, b)] = int(value)
        errors = []
        for key in ((s, b) for s in (1, 2) for b in range(1, 33)):
            q = quality.get(key)
            if key in silent and q not in (1, 2):
                errors.append(f"silent {key}: eqBlockQuality {q}, expected stale(1)/commLost(2)")
            elif key not in silent and q != 0:
                errors.append(f"answering {key}: eqBlockQuality {q}, expected ok(0)")
        return errors

    def mqtt_freshness_errors(self, silent):
        # The retained block states: the block's quality and every measured value's.
        sub = Subscriber(self.broker.port, block_topic("+", "+"))
        try:
            topics = {block_topic(s, b): (s, b) for s in (1, 2) for b in range(1, 33)}
            deadline = time.time() + 10
            while time.time() < deadline and not set(topics) <= set(sub.latest()):
                time.sleep(0.1)
            time.sleep(0.3)  # a publish racing the retained messages
            latest = sub.latest()
        finally:
            sub.stop()
        errors = []
        for topic, key in topics.items():
            if topic not in latest:
                errors.append(f"{key}: no retained state on {topic}")
                continue
            state = json.loads(latest[topic])
            qualities = {"quality": state["quality"],
                         **{f: state[f]["quality"] for f in MEASURED}}
            if key in silent:
                fresh = {f: q for f, q in qualities.items() if q not in STALE}
                if fresh:
                    errors.append(f"silent {key}: {fresh} on {topic}")
            elif qualities["quality"] != "ok" or qualities["voltage_v"] != "ok":
                errors.append(f"answering {key}: {qualities} on {topic}")
        return errors

    def metrics_freshness_errors(self, silent):
        # A value that is not fresh is left out; equalis_block_up says whether the module answers.
        status, _, body = self.d.get("/metrics")
        if status != 200:
            return [f"GET /metrics -> {status}"]
        samples = parse_metrics(body.decode())
        errors = []
        for s, b in ((s, b) for s in (1, 2) for b in range(1, 33)):
            labels = frozenset({("string", str(s)), ("block", str(b))})
            up = samples.get(("equalis_block_up", labels))
            present = [m for m in ("equalis_block_voltage_volts",
                                   "equalis_block_temperature_celsius", "equalis_block_ri_ohms")
                       if (m, labels) in samples]
            if (s, b) in silent and (up != 0 or present):
                errors.append(f"silent {(s, b)}: equalis_block_up {up}, samples {present}")
            elif (s, b) not in silent and (up != 1 or "equalis_block_voltage_volts" not in present):
                errors.append(f"answering {(s, b)}: equalis_block_up {up}, samples {present}")
        return errors


if __name__ == "__main__":
    unittest.main(verbosity=2)
