"""Modbus adapter against real peers: mbpoll and pymodbus over TCP, mbpoll over RTU on a socat pty
pair. Starts and stops equalisd, socat and the clients itself."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import sys
import threading
import time
import types
import unittest

from equalis_harness import COMM_LOSS_SCENARIO, Daemon, binary, import_pymodbus




ModbusTcpClient = import_pymodbus()

BLOCK_BASE = 4000
STRING_STRIDE = 6000
BLOCK_STRIDE = 10
SENTINEL16 = 0x8000


def s16(v):
    return v - 0x10000 if v >= 0x8000 else v


def mbpoll(*args, timeout=20):
    """Runs mbpoll once; returns (exit code, {address: value}, output)."""
    p = subprocess.run(["mbpoll", *args], capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    values = {int(a): int(v) for a, v in re.findall(r"^\[(\d+)\]:\s+(-?\d+)", out, re.M)}
    return p.returncode, values, out


def modbus_port(daemon):
    for line in daemon.lines:
        m = re.search(r"Modbus TCP on [0-9.]+:(\d+)", line)
        if m:
            return int(m.group(1))
    raise AssertionError(f"equalisd did not print its Modbus TCP address: {daemon.lines}")


class ModbusTcpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon("--modbus-tcp", "127.0.0.1:0", time_scale=60).start()
        cls.port = modbus_port(cls.daemon)
        cls.client = ModbusTcpClient("127.0.0.1", port=cls.port, timeout=5)
        assert cls.client.connect()

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.cleanup()

    def read(self, address, count, fc=3):
        fn = self.client.read_holding_registers if fc == 3 else self.client.read_input_registers
        rr = fn(address, count, slave=1)
        self.assertFalse(rr.isError(), f"read {address}+{count}: {rr}")
        return rr.registers

    def sweep_count(self):
        hi, lo = self.read(1103, 2)
        return hi << 16 | lo

    def test_mbpoll_reads_string_and_module_count(self):
        for table in ("4", "3"):  # holding and input registers
            rc, values, out = mbpoll("-m", "tcp", "-p", str(self.port), "-a", "1", "-0", "-r",
                                     "1003", "-c", "2", "-t", table, "-1", "127.0.0.1")
            self.assertEqual(rc, 0, out)
            self.assertEqual(values, {1003: 2, 1004: 64}, out)
        # 1-based addressing (mbpoll without -0): reference 1004 = PDU address 1003.
        rc, values, out = mbpoll("-m", "tcp", "-p", str(self.port), "-a", "1", "-r", "1004",
                                 "-c", "1", "-t", "4", "-1", "127.0.0.1")
        self.assertEqual(rc, 0, out)
        self.assertEqual(values, {1004: 2}, out)

    def test_general_registers(self):
        flags, battery, quality, strings, modules = self.read(1000, 5)
        self.assertTrue(flags & 0x0001, f"running flag missing: {flags:#06x}")
        self.assertEqual((strings, modules), (2, 64))
        # Seed string section: string 1 voltage in 0.1 V matches REST.
        s1 = self.daemon.get_json("/api/v1/strings/1")
        regs = self.read(1010, 5)
        self.assertAlmostEqual(s16(regs[1]) / 10, s1["voltage_v"]["value"], delta=2.0)
        self.assertAlmostEqual(s16(regs[2]) / 1000, s1["voltage_v"]["value"] / 32, delta=0.1)
        self.assertEqual(regs[4], 0)
        # Strings 3..10 are not configured: sentinel.
        self.assertEqual(self.read(1020, 4), [SENTINEL16] * 4)

    def test_block_registers_match_rest(self):
        last_error = None
        for _ in range(20):
            before = self.sweep_count()
            regs = self.read(BLOCK_BASE, 12 * BLOCK_STRIDE, fc=4)
            rest = self.daemon.get_json("/api/v1/strings/1/blocks")["blocks"]
            after = self.sweep_count()
            if before != after:
                continue  # a sweep in between: try again
            try:
                for b in range(12):
                    rec = regs[b * BLOCK_STRIDE:(b + 1) * BLOCK_STRIDE]
                    block = rest[b]
                    self.assertEqual(block["block"], b + 1)
                    self.assertEqual(block["quality"], "ok")
                    self.assertEqual(rec[7], 0, f"block {b + 1} quality flags")
                    self.assertAlmostEqual(s16(rec[0]) / 1000, block["voltage_v"]["value"],
                                           delta=0.00056)
                    self.assertAlmostEqual(s16(rec[1]) / 10, block["temperature_c"]["value"],
                                           delta=0.056)
                    self.assertAlmostEqual(s16(rec[2]) / 100, block["ri_mohm"]["value"],
                                           delta=0.0056)
                    self.assertAlmostEqual(s16(rec[3]) / 10, block["charge_pct"]["value"],
                                           delta=0.056)
                    self.assertAlmostEqual(s16(rec[4]), block["equalization_pct"]["value"],
                                           delta=0.56)
                    levels = ["off", "eco_plus", "eco", "normal", "power", "boost"]
                    self.assertEqual(levels[rec[5]], block["equalization_level"]["value"])
                    statuses = ["ok", "warning", "alarm", "unknown"]
                    self.assertEqual(statuses[rec[6]], block["status"]["value"])
                    self.assertLessEqual(rec[8], 60, "age_s")
                return
            except AssertionError as e:
                last_error = e
        raise last_error or AssertionError("no quiet window between two sweeps")

    def test_string_record_32bit(self):
        regs = self.read(2000, 20)
        voltage = (regs[0] << 16 | regs[1])
        voltage = voltage - (1 << 32) if voltage >= 1 << 31 else voltage
        s1 = self.daemon.get_json("/api/v1/strings/1")
        self.assertAlmostEqual(voltage / 100, s1["voltage_v"]["value"], delta=2.0)
        self.assertEqual(regs[6], ["float", "charge", "discharge", "rest"].index(
            s1["mode"]["value"]) if s1["mode"]["value"] else 0xFFFF)

    def test_illegal_address_and_function(self):
        for address, count in ((1060, 1), (999, 2), (BLOCK_BASE + 32 * BLOCK_STRIDE, 1),
                               (BLOCK_BASE + 2 * STRING_STRIDE, 1), (65535, 1)):
            rr = self.client.read_holding_registers(address, count, slave=1)
            self.assertTrue(rr.isError(), f"{address}: {rr}")
            self.assertEqual(rr.exception_code, 2, f"{address}: {rr}")
        rr = self.client.write_register(1003, 5, slave=1)
        self.assertTrue(rr.isError())
        self.assertEqual(rr.exception_code, 1)
        # Writes are off by default: the acknowledge register refuses too (illegal function).
        rr = self.client.write_register(3010, 0xFFFF, slave=1)
        self.assertTrue(rr.isError())
        self.assertEqual(rr.exception_code, 1)
        rc, _, out = mbpoll("-m", "tcp", "-p", str(self.port), "-a", "1", "-0", "-r", "3010",
                            "-t", "4", "-1", "127.0.0.1", "1")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("Illegal function", out)
        rr = self.client.read_coils(0, 8, slave=1)
        self.assertTrue(rr.isError())
        self.assertEqual(rr.exception_code, 1)
        rc, _, out = mbpoll("-m", "tcp", "-p", str(self.port), "-a", "1", "-0", "-r", "1060",
                            "-c", "1", "-t", "4", "-1", "127.0.0.1")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("Illegal data address", out)
        self.assertEqual(self.read(1003, 2), [2, 64])

    def test_malformed_frames_do_not_crash(self):
        for junk in (b"\x00\x01\x00\x00\x00\x06\x01\x03\x03", b"\xff" * 300,
                     b"\x00\x01\x00\x00\xff\xff\x01\x2b\x0e\x01\x00", b"\x00" * 7):
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(junk)
                time.sleep(0.05)
        self.assertIsNone(self.daemon.proc.poll(), "equalisd died")
        self.assertEqual(self.read(1003, 2), [2, 64])

    def test_slow_client_does_not_stall_mbpoll(self):
        """A raw socket client sends two read requests one byte per 150 ms (3.3 s) while mbpoll
        reads five times with its 1 s timeout: every mbpoll run is answered, all of them before
        the slow client's requests are complete, and the slow client is answered too."""
        request = bytes([0x12, 0x34, 0, 0, 0, 6, 1, 0x03, 0x03, 0xEB, 0, 2])  # 1003, 2 registers
        reply = bytes([0x12, 0x34, 0, 0, 0, 7, 1, 0x03, 4, 0, 2, 0, 64])
        started = threading.Event()
        last_byte = threading.Event()  # set just before the last byte goes out
        errors = []

        def dribble(sock):
            try:
                stream = request * 2
                for i, b in enumerate(stream):
                    if i == len(stream) - 1:
                        last_byte.set()
                    sock.sendall(bytes([b]))
                    started.set()
                    time.sleep(0.15)
            except OSError as e:
                errors.append(e)
                started.set()

        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as slow:
            thread = threading.Thread(target=dribble, args=(slow,))
            thread.start()
            try:
                self.assertTrue(started.wait(5))
                t0 = time.monotonic()
                for _ in range(5):
                    rc, values, out = mbpoll("-m", "tcp", "-p", str(self.port), "-a", "1", "-0",
                                             "-r", "1003", "-c", "2", "-t", "4", "-o", "1", "-1",
                                             "127.0.0.1")
                    self.assertEqual(rc, 0, out)
                    self.assertEqual(values, {1003: 2, 1004: 64}, out)
                elapsed = time.monotonic() - t0
                before_slow_done = not last_byte.is_set()
            finally:
                thread.join()
            self.assertEqual(errors, [])
            self.assertTrue(before_slow_done,
                            f"five mbpoll reads took {elapsed:.2f} s, longer than the slow client")
            received = b""
            while len(received) < 2 * len(reply):
                chunk = slow.recv(64)
                if not chunk:
                    break
                received += chunk
            self.assertEqual(received, reply * 2)

    def test_several_clients(self):
        clients = [ModbusTcpClient("127.0.0.1", port=self.port, timeout=5) for _ in range(5)]
        try:
            for c in clients:
                self.assertTrue(c.connect())
            for c in clients:
                rr = c.read_input_registers(1003, 2, slave=1)
                self.assertFalse(rr.isError(), rr)
                self.assertEqual(rr.registers, [2, 64])
        finally:
            for c in clients:
                c.close()


@unittest.skipUnless(shutil.which("socat"), "socat not installed")
class ModbusRtuTest(unittest.TestCase):
    def setUp(self):
        self.socat = subprocess.Popen(["socat", "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
                                      stderr=subprocess.PIPE, text=True)
        ptys = []
        deadline = time.time() + 10
        while len(ptys) < 2 and time.time() < deadline:
            line = self.socat.stderr.readline()
            if not line:
                break
            m = re.search(r"PTY is (\S+)", line)
            if m:
                ptys.append(m.group(1))
        if len(ptys) < 2:
            self.socat.kill()
            self.fail(f"socat did not report two ptys: {ptys}")
        self.server_pty, self.client_pty = ptys
        self.daemon = None

    def tearDown(self):
        if self.daemon:
            self.daemon.cleanup()
        self.socat.terminate()
        try:
            self.socat.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.socat.kill()
            self.socat.wait()
        self.socat.stderr.close()

    def rtu_read(self, address, count, slave="1"):
        return mbpoll("-m", "rtu", "-b", "19200", "-P", "none", "-a", slave, "-0", "-r",
                      str(address), "-c", str(count), "-t", "4", "-1", "-o", "2",
                      self.client_pty)

    def test_rtu_reads_counts(self):
        self.daemon = Daemon("--modbus-rtu", f"{self.server_pty}:19200:N:1", time_scale=60).start()
        self.assertTrue(any(f"Modbus RTU slave 1 on {self.server_pty}" in l
                            for l in self.daemon.lines), self.daemon.lines)
        rc, values, out = self.rtu_read(1003, 2)
        self.assertEqual(rc, 0, out)
        self.assertEqual(values, {1003: 2, 1004: 64}, out)
        # Block 1 of string 2: a plausible block voltage.
        rc, values, out = self.rtu_read(BLOCK_BASE + STRING_STRIDE, 10)
        self.assertEqual(rc, 0, out)
        self.assertTrue(10_000 < values[BLOCK_BASE + STRING_STRIDE] < 16_000, out)
        # Illegal address, another slave id (no answer), garbage: the slave keeps serving.
        rc, _, out = self.rtu_read(1060, 1)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("Illegal data address", out)
        rc, _, out = self.rtu_read(1003, 1, slave="7")
        self.assertNotEqual(rc, 0, out)
        with open(self.client_pty, "wb", buffering=0) as f:
            f.write(b"\x01\x03\x03\xe8\x00\x05\x00\x00" + b"\xff" * 64)
        time.sleep(0.5)
        rc, values, out = self.rtu_read(1003, 2)
        self.assertEqual(rc, 0, out)
        self.assertEqual(values, {1003: 2, 1004: 64}, out)
        self.assertIsNone(self.daemon.proc.poll(), "equalisd died")

    def test_rtu_large_plant_answers_the_extra_slave_ids(self):
        self.daemon = Daemon("--config", LARGE_PLANT, "--modbus-rtu",
                             f"{self.server_pty}:19200:N:3", time_scale=60).start(timeout_s=60)
        self.assertTrue(any("strings 11–64 under slave ids 4–9" in l for l in self.daemon.lines),
                        self.daemon.lines)
        for slave, first in (("3", 1), ("4", 11), ("9", 61)):
            rc, values, out = self.rtu_read(1112, 2, slave=slave)
            self.assertEqual(rc, 0, out)
            self.assertEqual(values, {1112: first, 1113: 7}, out)
        deadline = time.time() + 30
        while True:
            rc, values, out = self.rtu_read(LAST_BLOCK, 10, slave="9")
            self.assertEqual(rc, 0, out)
            if values[LAST_BLOCK] != SENTINEL16 or time.time() > deadline:
                break
            time.sleep(0.5)
        self.assertTrue(10_000 < values[LAST_BLOCK] < 16_000, out)
        # Slave ids outside 3–9 belong to other devices: no answer.
        for slave in ("2", "10"):
            rc, _, out = self.rtu_read(1003, 1, slave=slave)
            self.assertNotEqual(rc, 0, out)
        rc, values, out = self.rtu_read(1003, 2, slave="3")
        self.assertEqual(values, {1003: 64, 1004: 4096}, out)

    def test_rtu_slave_id_too_high_for_the_plant(self):
        d = Daemon("--config", LARGE_PLANT, "--modbus-rtu", f"{self.server_pty}:19200:N:242")
        with self.assertRaises(RuntimeError) as ctx:
            d.start(timeout_s=30)
        d.cleanup()
        self.assertIn("slave ids 242–248", str(ctx.exception))

    def test_missing_device_is_a_clear_error(self):
        d = Daemon("--modbus-rtu", "/dev/equalis-no-such-tty:19200:N:1")
        with self.assertRaises(RuntimeError) as ctx:
            d.start(timeout_s=10)
        d.cleanup()
        self.assertIn("equalis-no-such-tty", str(ctx.exception))


LARGE_PLANT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "config",
                           "large-plant.toml")
LAST_BLOCK = BLOCK_BASE + 3 * STRING_STRIDE + 63 * BLOCK_STRIDE  # string 64 = string 4 of unit 7


class ModbusLargePlantTest(unittest.TestCase):
    """config/large-plant.toml (64 strings × 64 blocks): strings 11–64 under unit ids 2–7, read
    with mbpoll; the REST API gives the values to compare with."""

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon("--config", LARGE_PLANT, "--modbus-tcp", "127.0.0.1:0",
                            time_scale=60).start(timeout_s=60)
        cls.port = modbus_port(cls.daemon)

    @classmethod
    def tearDownClass(cls):
        cls.daemon.cleanup()

    def poll(self, unit, address, count, kind="3"):
        return mbpoll("-m", "tcp", "-p", str(self.port), "-a", str(unit), "-0", "-r",
                      str(address), "-c", str(count), "-t", kind, "-1", "127.0.0.1")

    def test_startup_names_the_unit_ids(self):
        self.assertTrue(any("strings 11–64 under unit ids 2–7" in l for l in self.daemon.lines),
                        self.daemon.lines)

    def test_mbpoll_reads_the_last_block_of_string_64(self):
        deadline = time.time() + 30
        while True:
            rc, values, out = self.poll(7, LAST_BLOCK, 10)
            self.assertEqual(rc, 0, out)
            if values[LAST_BLOCK] != SENTINEL16 or time.time() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(sorted(values), list(range(LAST_BLOCK, LAST_BLOCK + 10)), out)
        self.assertTrue(10_000 < values[LAST_BLOCK] < 16_000, out)
        self.assertEqual(values[LAST_BLOCK + 7], 0, out)  # quality flags: fresh
        block = self.daemon.get_json("/api/v1/strings/64/blocks")["blocks"][63]
        self.assertEqual(block["block"], 64)
        # Within what one 10 s sweep of plant time (1/6 s at 60×) can change.
        self.assertAlmostEqual(values[LAST_BLOCK] / 1000.0, block["voltage_v"]["value"], delta=0.05)
        # Block 65 of string 64 and string 65 do not exist.
        rc, _, out = self.poll(7, LAST_BLOCK + BLOCK_STRIDE, 1)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("Illegal data address", out)
        rc, _, out = self.poll(7, BLOCK_BASE + 4 * STRING_STRIDE, 1)
        self.assertNotEqual(rc, 0, out)

    def test_every_unit_id_describes_itself(self):
        for unit in range(1, 8):
            rc, values, out = self.poll(unit, 1112, 2, kind="4")
            self.assertEqual(rc, 0, out)
            self.assertEqual(values, {1112: 10 * (unit - 1) + 1, 1113: 7}, out)
            # Block 1 of the unit's first string is there, and plant-wide counts are the same.
            rc, values, out = self.poll(unit, 1003, 2)
            self.assertEqual(values, {1003: 64, 1004: 4096}, out)
            rc, values, out = self.poll(unit, BLOCK_BASE, 10)
            self.assertEqual(rc, 0, out)
        # Unit ids without strings of their own read strings 1–10, as before.
        rc, values, out = self.poll(9, 1112, 1)
        self.assertEqual(values, {1112: 1}, out)

    def test_reading_every_block_over_the_wire(self):
        """All 4096 block records: 6 requests of up to 12 records per string (figure for
        docs/limits.md)."""
        client = ModbusTcpClient("127.0.0.1", port=self.port, timeout=5)
        self.assertTrue(client.connect())
        try:
            t0 = time.monotonic()
            records = 0
            for s in range(64):
                unit, n = s // 10 + 1, s % 10
                for first in range(0, 64, 12):
                    count = min(12, 64 - first)
                    rr = client.read_holding_registers(
                        BLOCK_BASE + n * STRING_STRIDE + first * BLOCK_STRIDE,
                        count * BLOCK_STRIDE, slave=unit)
                    self.assertFalse(rr.isError(), f"string {s + 1} block {first + 1}: {rr}")
                    records += count
            elapsed = time.monotonic() - t0
        finally:
            client.close()
        self.assertEqual(records, 4096)
        print(f"modbus: 4096 block records in 384 requests: {elapsed * 1000:.0f} ms",
              file=sys.stderr)


RULE_COMM_LOST = 7  # docs/modbus.md "Rule codes"


class ModbusAlarmsTest(unittest.TestCase):
    """The alarm table while a comm-loss alarm is active, acknowledged by writing its id with
    mbpoll ([modbus] writes = true in the configuration file)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="equalis-modbus-alarms-")
        scenario = os.path.join(cls.tmp, "comm-loss.toml")
        with open(scenario, "w") as f:
            f.write(COMM_LOSS_SCENARIO)
        config = os.path.join(cls.tmp, "equalis.toml")
        with open(config, "w") as f:
            f.write('[modbus]\ntcp = "127.0.0.1:0"\nwrites = true\n\n'
                    "[[string]]\nblocks = 8\n\n[[string]]\nblocks = 8\n")
        cls.daemon = Daemon("--config", config, "--scenario", scenario, time_scale=60).start()
        cls.port = modbus_port(cls.daemon)
        cls.client = ModbusTcpClient("127.0.0.1", port=cls.port, timeout=5)
        assert cls.client.connect()

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def entries(self):
        regs = []
        for start in (3100, 3200, 3300):  # 256 registers in reads of at most 125
            count = min(100, 3356 - start)
            rr = self.client.read_holding_registers(start, count, slave=1)
            self.assertFalse(rr.isError(), f"{start}: {rr}")
            regs += rr.registers
        out = []
        for e in range(32):
            r = regs[e * 8:e * 8 + 8]
            if r[0] or r[1]:
                out.append({"id": r[0] << 16 | r[1], "rule": r[2], "level": r[3], "string": r[4],
                            "block": r[5], "acknowledged": r[6]})
        return out

    def comm_entry(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            found = [e for e in self.entries()
                     if (e["rule"], e["string"], e["block"]) == (RULE_COMM_LOST, 2, 5)]
            if found:
                return found[0]
            time.sleep(0.2)
        self.fail("no comm_lost entry for string 2 block 5 in the alarm table")

    def rest_alarm(self):
        return [a for a in self.daemon.get_json("/api/v1/alarms")["alarms"]
                if a["key"] == "block.comm_lost/2/5"][0]

    def test_table_summary_and_acknowledge(self):
        entry = self.comm_entry()
        self.assertEqual(entry["level"], 2)
        self.assertEqual(entry["acknowledged"], 0)
        self.assertFalse(self.rest_alarm()["acknowledged"])
        summary = self.client.read_holding_registers(3000, 6, slave=1).registers
        rest = self.daemon.get_json("/api/v1/alarms")["alarms"]
        self.assertGreaterEqual(summary[0], 1)
        self.assertLessEqual(abs(summary[0] - len(rest)), 2)  # the demo's old string may change
        self.assertEqual(summary[4], 2)  # highest level: alarm
        # mbpoll reads the first entry like any register block.
        rc, values, out = mbpoll("-m", "tcp", "-p", str(self.port), "-a", "1", "-0", "-r", "3100",
                                 "-c", "8", "-t", "4", "-1", "127.0.0.1")
        self.assertEqual(rc, 0, out)
        self.assertEqual(len(values), 8, out)
        # An id that is not active: illegal data value; another address: illegal data address.
        rr = self.client.write_register(3010, 65000, slave=1)
        self.assertTrue(rr.isError())
        self.assertEqual(rr.exception_code, 3)
        rr = self.client.write_register(1003, 1, slave=1)
        self.assertTrue(rr.isError())
        self.assertEqual(rr.exception_code, 2)
        self.assertFalse(self.rest_alarm()["acknowledged"])
        # Acknowledge with mbpoll (FC 06), as an operator's tool would.
        rc, _, out = mbpoll("-m", "tcp", "-p", str(self.port), "-a", "1", "-0", "-r", "3010",
                            "-t", "4", "-1", "127.0.0.1", str(entry["id"]))
        self.assertEqual(rc, 0, out)
        self.assertTrue(self.rest_alarm()["acknowledged"])
        self.assertEqual(self.comm_entry()["acknowledged"], 1)
        events = self.daemon.get_json("/api/v1/events")["events"]
        self.assertTrue(any("acknowledged" in e["message"] and "block.comm_lost/2/5" in e["message"]
                            for e in events), "the acknowledgement is not in the event log")
        # pymodbus, FC 16 with the 32-bit id: accepted again (already acknowledged).
        rr = self.client.write_registers(3010, [entry["id"] >> 16, entry["id"] & 0xFFFF], slave=1)
        self.assertFalse(rr.isError(), rr)


class ModbusWriteAllowlistTest(unittest.TestCase):
    """[modbus] write_allowlist: a write from an address that is not listed answers exception 01
    (illegal function) and is logged; reads are not affected; a listed address may write."""

    def setUp(self):
        self.daemon = None
        self.tmp = tempfile.mkdtemp(prefix="equalis-modbus-allowlist-")

    def start(self, allowlist):
        config = os.path.join(self.tmp, "equalis.toml")
        with open(config, "w") as f:
            f.write('[modbus]\ntcp = "127.0.0.1:0"\nwrites = true\n'
                    f"write_allowlist = {allowlist}\n\n"
                    "[[string]]\nblocks = 8\n\n[[string]]\nblocks = 8\n")
        self.daemon = Daemon("--config", config, time_scale=60).start()
        self.port = modbus_port(self.daemon)

    def tearDown(self):
        if self.daemon:
            self.daemon.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def poll(self, *args):
        return mbpoll("-m", "tcp", "-p", str(self.port), "-a", "1", "-0", *args)

    def stderr_after_stop(self):
        self.daemon.proc.terminate()
        self.daemon.proc.wait(timeout=15)
        return self.daemon.proc.stderr.read()

    def test_write_from_an_address_not_listed_is_refused(self):
        self.start('["10.0.0.0/8", "::1"]')  # mbpoll connects from 127.0.0.1
        self.assertTrue(any("writes on from 10.0.0.0/8, ::1 only" in l for l in self.daemon.lines),
                        self.daemon.lines)
        # Acknowledge all (0xFFFF): refused with exception 01.
        rc, _, out = self.poll("-r", "3010", "-t", "4", "-1", "127.0.0.1", "65535")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("Illegal function", out)
        # Reads work as before.
        rc, values, out = self.poll("-r", "1003", "-c", "2", "-t", "4", "-1", "127.0.0.1")
        self.assertEqual(rc, 0, out)
        self.assertEqual(values, {1003: 2, 1004: 16}, out)
        self.assertIn("write (function 0x06) from 127.0.0.1 refused", self.stderr_after_stop())

    def test_write_from_a_listed_address_is_accepted(self):
        self.start('["127.0.0.0/8"]')
        rc, _, out = self.poll("-r", "3010", "-t", "4", "-1", "127.0.0.1", "65535")
        self.assertEqual(rc, 0, out)

    def test_bad_entry_is_a_configuration_error(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write('[modbus]\nwrite_allowlist = ["10.0.0.0/8", "10.0.0.1/8", "bms.local"]\n'
                    "[[string]]\n")
            path = f.name
        try:
            r = subprocess.run([binary("equalisd"), "--check-config", path], capture_output=True,
                               text=True, timeout=30)
        finally:
            os.unlink(path)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        out = r.stdout + r.stderr
        self.assertIn("modbus.write_allowlist: entry 2: \"10.0.0.1/8\"", out)
        self.assertIn("modbus.write_allowlist: entry 3: \"bms.local\"", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
