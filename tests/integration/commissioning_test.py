"""Commissioning a module-bus line end to end: equalis-sim starts with unaddressed modules on a
pty; `equalisctl bus scan` sees only their serials (SEARCH), `equalisctl bus assign --chain`
addresses them, a second scan finds addresses 1 … N with the simulator's serials. equalisd on
that line then records the address ↔ serial map (modules.json, GET /api/v1/bus?modules=1).
After equalis-sim restarts with string 1, block 3 replaced, equalisd reports exactly one replaced
module and restarts that block's Ri baseline."""
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

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
SAMPLE = os.path.join(SOURCE_DIR, "config", "equalis.sample.toml")
TIME_SCALE = 10
MODULES = 64  # the sample plant: 2 strings of 32 blocks, on one line
SERIAL_BASE = 0x45510000  # equalis-sim: "EQ" + string index × 1000 + block


def sim_serial(string, block):
    return f"0x{SERIAL_BASE + (string - 1) * 1000 + block:08X}"


class Sim:
    """equalis-sim on a pty linked at `link`; its stdout lines up to the first line report."""

    def __init__(self, config, link, *extra):
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [binary("equalis-sim"), "--config", config, "--time-scale", str(TIME_SCALE),
             "--link", link, *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.lines = [self.proc.stdout.readline()]
        if not re.search(r"equalis-sim: line 1 on (\S+)", self.lines[0]):
            self.stop()
            raise AssertionError(f"equalis-sim did not print its line: {self.lines!r}")

    def read_line(self):
        line = self.proc.stdout.readline()
        self.lines.append(line)
        return line

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.log.close()


def ctl(*args, timeout=180):
    return subprocess.run([binary("equalisctl"), *args], capture_output=True, text=True,
                          timeout=timeout)


class Commissioning(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="equalis-commission-it-")
        cls.link = os.path.join(cls.tmp, "ttyCOMMISSION")
        cls.line = f"serial:{cls.link}:115200"
        cls.data_dir = os.path.join(cls.tmp, "data")
        with open(SAMPLE) as f:
            sample = f.read()
        cls.config = os.path.join(cls.tmp, "plant.toml")
        with open(cls.config, "w") as f:
            f.write(sample + f'\n[[bus.line]]\nurl = "{cls.line}"\nstrings = [1, 2]\n')
        cls.sim = None
        cls.daemon = None

    @classmethod
    def tearDownClass(cls):
        if cls.daemon:
            cls.daemon.stop()
        if cls.sim:
            cls.sim.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def scan(self):
        p = ctl("--json", "bus", "scan", "--line", self.line)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def start_daemon(self):
        type(self).daemon = Daemon("--config", self.config, data_dir=self.data_dir,
                                   time_scale=TIME_SCALE).start()
        return self.daemon

    def stop_daemon(self):
        self.daemon.stop()
        type(self).daemon = None

    def test_commission_then_replace(self):
        # ---- A new string: every module unaddressed.
        type(self).sim = Sim(self.config, self.link, "--unaddressed")
        self.assertIn("64 modules unaddressed", self.sim.lines[0])
        expected = [sim_serial(s, b) for s in (1, 2) for b in range(1, 33)]
        scan = self.scan()
        self.assertEqual(scan["modules"], [])
        self.assertEqual(sorted(scan["unaddressed"]), sorted(expected))

        # Arguments are checked before the line is touched.
        p = ctl("bus", "assign", "--line", self.line, "--serial", expected[0], "--address",
                "0xFFFE")
        self.assertEqual(p.returncode, 2)
        self.assertIn("out of range", p.stderr)
        p = ctl("bus", "scan", "--line", "serial:/dev/null/nope:115200")
        self.assertEqual(p.returncode, 3)
        self.assertIn("cannot open the line", p.stderr)

        p = ctl("--json", "bus", "assign", "--line", self.line, "--chain")
        self.assertEqual(p.returncode, 0, p.stderr)
        chain = json.loads(p.stdout)["modules"]
        self.assertEqual([m["address"] for m in chain], list(range(1, MODULES + 1)))
        self.assertEqual([m["serial"] for m in chain], expected)

        scan = self.scan()
        self.assertEqual(scan["unaddressed"], [])
        self.assertEqual([(m["address"], m["serial"]) for m in scan["modules"]],
                         list(zip(range(1, MODULES + 1), expected)))
        self.assertTrue(all(m["firmware"] == "1.0.0" for m in scan["modules"]))

        # ---- equalisd on the commissioned line records the map.
        d = self.start_daemon()
        # The line is equalisd's now: a second master is refused with a clear message.
        p = ctl("bus", "scan", "--line", self.line)
        self.assertEqual(p.returncode, 3)
        self.assertIn("in use", p.stderr)
        modules_json = os.path.join(self.data_dir, "modules.json")

        def map_complete():
            with open(modules_json) as f:
                entries = json.load(f)["modules"]
            return len(entries) == MODULES and entries
        entries = wait_for(map_complete, "modules.json with every module", timeout_s=60)
        self.assertEqual([(e["string"], e["block"], e["address"], e["serial"]) for e in entries],
                         [(s, b, (s - 1) * 32 + b, sim_serial(s, b))
                          for s in (1, 2) for b in range(1, 33)])
        bus = d.get_json("/api/v1/bus?modules=1")
        line = bus["lines"][0]
        self.assertEqual(line["modules_identified"], MODULES)
        self.assertEqual([(m["string"], m["block"], m["serial"], m["firmware"])
                          for m in line["module_list"]],
                         [(s, b, sim_serial(s, b), "1.0.0") for s in (1, 2) for b in range(1, 33)])
        self.assertNotIn("module_list", d.get_json("/api/v1/bus")["lines"][0])
        status, _, _ = d.get("/api/v1/bus?modules=yes")
        self.assertEqual(status, 400)
        self.assertEqual(d.get_json("/api/v1/events?kind=module")["events"], [])
        self.stop_daemon()
        self.sim.stop()

        # ---- String 1, block 3 swapped (the new module addressed at the bench).
        type(self).sim = Sim(self.config, self.link, "--replace", "1:3")
        note = self.sim.read_line()
        new_serial = f"0x{SERIAL_BASE + 0x10000 + 3:08X}"
        self.assertIn(f"string 1, block 3 replaced: serial {sim_serial(1, 3)} → {new_serial}",
                      note)
        d = self.start_daemon()

        def replaced_events():
            events = d.get_json("/api/v1/events?kind=module")["events"]
            return [e for e in events if "replaced" in e["message"]] or None
        wait_for(replaced_events, "a replaced-module event", timeout_s=60)
        # Every module read again, none other reported.
        def map_updated():
            with open(modules_json) as f:
                entries = json.load(f)["modules"]
            return [e for e in entries if e["serial"] == new_serial]
        wait_for(map_updated, "modules.json with the new serial", timeout_s=60)
        time.sleep(3)  # a few more sweeps: nothing else may be reported
        events = replaced_events()
        self.assertEqual(len(events), 1, events)
        e = events[0]
        self.assertEqual((e["string"], e["block"], e["level"]), (1, 3, "warning"))
        self.assertIn(sim_serial(1, 3), e["message"])
        self.assertIn(new_serial, e["message"])
        ri = d.get_json("/api/v1/events?kind=ri_baseline&string=1&block=3")["events"]
        self.assertEqual(len([r for r in ri if "module replaced" in r["message"]]), 1, ri)
        others = d.get_json("/api/v1/events?kind=ri_baseline")["events"]
        self.assertEqual([r for r in others if "module replaced" in r["message"] and
                          (r["string"], r["block"]) != (1, 3)], [])
        with open(modules_json) as f:
            entries = json.load(f)["modules"]
        self.assertEqual(len(entries), MODULES)
        self.assertEqual({(x["string"], x["block"]) for x in entries
                          if x["serial"] != sim_serial(x["string"], x["block"])}, {(1, 3)})
        self.assertEqual(
            [m["serial"] for m in d.get_json("/api/v1/bus?modules=1")["lines"][0]["module_list"]
             if (m["string"], m["block"]) == (1, 3)], [new_serial])


if __name__ == "__main__":
    unittest.main(verbosity=2)
