"""equalisd on a real module-bus line: equalis-sim answers the protocol on a pty (reached
through a stable link, as a USB adapter's /dev/serial/by-id path would be), equalisd sweeps it.
REST and Modbus show the plant; killing equalis-sim makes every block stale and raises comm-lost;
starting it again recovers."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from equalis_harness import Daemon, binary  # noqa: E402

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
SAMPLE = os.path.join(SOURCE_DIR, "config", "equalis.sample.toml")
TIME_SCALE = 10  # a sweep every second of real time; stale after 3 s


def wait_for(predicate, what, timeout_s=30):
    deadline = time.time() + timeout_s
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # the daemon may be between two states
            last = e
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


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
        cls.sim = Sim(cls.config, cls.link)
        try:
            cls.d = Daemon("--config", cls.config, "--modbus-tcp", "127.0.0.1:0",
                           time_scale=TIME_SCALE).start()
        except Exception:
            cls.sim.kill()
            raise
        cls.modbus_port = int(next(re.search(r"Modbus TCP on [0-9.]+:(\d+)", l).group(1)
                                   for l in cls.d.lines if "Modbus TCP" in l))

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        if cls.sim.proc.poll() is None:
            cls.sim.kill()
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

    def test_2_sim_killed_then_back(self):
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

    def test_3_corrupted_frames_and_silent_modules(self):
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
        regs = mbpoll_block(self.modbus_port, 2, 20)
        self.assertNotEqual(regs[7] & 0x0003, 0, "Modbus must flag the silent block")
        self.assertEqual(mbpoll_block(self.modbus_port, 2, 19)[7], 0)
        line = self.d.get_json("/api/v1/bus")["lines"][0]
        self.assertEqual(line["state"], "degraded")
        self.assertGreater(line["counters"]["crc_errors"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
