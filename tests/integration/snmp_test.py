"""Integration tests of the SNMP agent: a real equalisd with --snmp, driven by the net-snmp
command-line tools (snmpget, snmpwalk, snmpbulkwalk, snmpset), a snmptrapd started here, and
smilint on mibs/EQUALIS-MIB.txt. Python stdlib only."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from equalis_harness import COMM_LOSS_SCENARIO, Daemon, binary

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
MIB_FILE = os.path.join(SOURCE_DIR, "mibs", "EQUALIS-MIB.txt")
EQ = ".1.3.6.1.4.1.8072.9999.9999.1"
BLOCK_ENTRY = EQ + ".1.3.1"
UPS_BATTERY = ".1.3.6.1.2.1.33.1.2"
V3 = ["-v3", "-l", "authPriv", "-u", "itops", "-a", "SHA", "-A", "auth-pass-123", "-x", "AES",
      "-X", "priv-pass-456"]
QUALITIES = ["ok", "stale", "comm_lost", "invalid", "not_present"]


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def camel(name):
    parts = re.split(r"[._]", name)
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def mib_columns():
    """{descriptor: (parent, number, {enum label: value})} of every OBJECT-TYPE in the MIB."""
    text = open(MIB_FILE, encoding="ascii").read()
    out = {}
    for m in re.finditer(r"\n([a-z]\w*) OBJECT-TYPE\s+SYNTAX\s+(.*?)\n[\s\S]*?::= \{ (\w+) (\d+) \}", text):
        enums = {k: int(v) for k, v in re.findall(r"(\w+)\((\d+)\)", m.group(2))}
        out[m.group(1)] = (m.group(3), int(m.group(4)), enums)
    return out


class SnmpAgent(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("snmpget", "snmpwalk", "snmpbulkwalk", "snmpset", "snmptrapd", "smilint"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is not installed (apt-get install snmp snmptrapd smitools)")
        cls.tmp = tempfile.mkdtemp(prefix="equalis-snmp-it-")
        # The client tools and snmptrapd keep their persistent files here, not in /var/lib/snmp.
        cls.env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=cls.tmp, SNMPCONFPATH=cls.tmp)
        cls.trap_port = free_udp_port()
        conf = os.path.join(cls.tmp, "snmptrapd.conf")
        with open(conf, "w") as f:
            f.write("disableAuthorization yes\n")
        cls.trap_log = open(os.path.join(cls.tmp, "traps.log"), "w+")
        cls.trapd = subprocess.Popen(
            ["snmptrapd", "-f", "-Lo", "-On", "-C", "-c", conf, "-p", os.path.join(cls.tmp, "trapd.pid"),
             f"udp:127.0.0.1:{cls.trap_port}"],
            stdout=cls.trap_log, stderr=subprocess.STDOUT, env=cls.env)
        cls.wait_for(lambda: "NET-SNMP version" in cls.read_traps(), "snmptrapd start")
        cls.port = free_udp_port()
        cls.target = f"udp:127.0.0.1:{cls.port}"
        spec = (f"127.0.0.1:{cls.port}?v3user=itops&auth=auth-pass-123&priv=priv-pass-456"
                f"&trap=127.0.0.1:{cls.trap_port}")
        # Real time: one sweep every 10 s, so a walk and two REST reads can see the same sweep.
        cls.d = Daemon("--snmp", spec, time_scale=1).start()
        cls.columns = mib_columns()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        if cls.trapd.poll() is None:
            cls.trapd.terminate()
            cls.trapd.wait(timeout=10)
        cls.trap_log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def read_traps(cls):
        cls.trap_log.flush()
        with open(cls.trap_log.name) as f:
            return f.read()

    @staticmethod
    def wait_for(predicate, what, timeout_s=15):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def snmp(self, tool, *args, check=True, timeout=60):
        r = subprocess.run([tool, "-On", "-Oe", "-t", "2", "-r", "1", *args], capture_output=True,
                           text=True, env=self.env, timeout=timeout)
        if check and r.returncode != 0:
            self.fail(f"{tool} {' '.join(args)} -> {r.returncode}: {r.stderr.strip()}")
        return r

    def v2c(self, tool, *args, **kw):
        return self.snmp(tool, "-v2c", "-c", "public", self.target, *args, **kw)

    @staticmethod
    def parse(output):
        """{oid: value} from -On output lines 'OID = TYPE: value'."""
        values = {}
        for line in output.splitlines():
            m = re.match(r"^(\.[\d.]+) = (?:([\w-]+): )?(.*)$", line)
            if m and not m.group(3).startswith("No more variables left"):
                values[m.group(1)] = m.group(3).strip('"')
        return values

    # --- standard objects ---------------------------------------------------------------
    def test_sys_object_id_and_descr(self):
        v = self.parse(self.v2c("snmpget", ".1.3.6.1.2.1.1.2.0", ".1.3.6.1.2.1.1.1.0").stdout)
        self.assertEqual(v[".1.3.6.1.2.1.1.2.0"], EQ + ".3.1")
        self.assertIn("Equalis", v[".1.3.6.1.2.1.1.1.0"])

    def test_ups_battery_group(self):
        strings = self.d.get_json("/api/v1/strings")["strings"]
        v = self.parse(self.v2c("snmpwalk", UPS_BATTERY).stdout)
        self.assertEqual(sorted(int(k.split(".")[-2]) for k in v), [1, 2, 4, 5, 6, 7])
        volts = [s["voltage_v"]["value"] for s in strings]
        self.assertAlmostEqual(int(v[UPS_BATTERY + ".5.0"]) / 10, sum(volts) / len(volts), delta=1.0)
        self.assertIn(int(v[UPS_BATTERY + ".1.0"]), (2, 3, 4))  # fresh data: not unknown
        charge = sum(s["charge_avg_pct"]["value"] for s in strings) / len(strings)
        self.assertAlmostEqual(int(v[UPS_BATTERY + ".4.0"]), charge, delta=2)
        got = self.parse(self.v2c("snmpget", UPS_BATTERY + ".5.0").stdout)
        self.assertIn(UPS_BATTERY + ".5.0", got)
        # upsEstimatedMinutesRemaining is not implemented: noSuchObject, not a made-up number.
        r = self.v2c("snmpget", UPS_BATTERY + ".3.0")
        self.assertIn("No Such Object", r.stdout)

    # --- the block table ------------------------------------------------------------------
    def rest_blocks(self):
        blocks = {}
        for s in (1, 2):
            for b in self.d.get_json(f"/api/v1/strings/{s}/blocks")["blocks"]:
                blocks[(s, b["block"])] = b
        return blocks

    def test_block_table_walk_matches_rest(self):
        points = {p["name"]: p for p in self.d.get_json("/api/v1/points")["points"]}
        block_points = [p for p in points.values() if p["scope"] == "block"]
        for attempt in range(5):
            before = self.rest_blocks()
            walk = self.parse(self.v2c("snmpwalk", BLOCK_ENTRY).stdout)
            after = self.rest_blocks()
            same = all(before[k]["voltage_v"]["time"] == after[k]["voltage_v"]["time"] for k in before)
            if same:
                break
        self.assertTrue(same, "no walk within one sweep in 5 attempts")
        self.assertEqual(len(before), 64)
        rows = {}
        for oid, value in walk.items():
            col, s, b = (int(x) for x in oid[len(BLOCK_ENTRY) + 1:].split("."))
            rows.setdefault(col, {})[(s, b)] = int(value)
        # Quality and age columns: one per block.
        self.assertEqual(len(rows[3]), 64)
        self.assertEqual(len(rows[4]), 64)
        for key, blk in before.items():
            self.assertEqual(QUALITIES[rows[3][key]], blk["voltage_v"]["quality"], key)
            self.assertGreaterEqual(rows[4][key], 0)
        for p in block_points:
            name = "eq" + camel(p["name"])[:1].upper() + camel(p["name"])[1:]
            self.assertIn(name, self.columns, f"{p['name']} missing from the MIB")
            parent, col, enums = self.columns[name]
            self.assertEqual(parent, "eqBlockEntry")
            present = {k: blk[p["field"]]["value"] for k, blk in before.items()
                       if blk[p["field"]]["value"] is not None}
            self.assertEqual(set(rows.get(col, {})), set(present), f"{name}: rows differ from REST")
            if len(present) == 64:
                self.assertEqual(len(rows[col]), 64, name)
            for key, rest in present.items():
                if isinstance(rest, str):
                    expected = enums[camel(rest)]
                else:
                    expected = round(rest * p["protocol_scale"])
                self.assertAlmostEqual(rows[col][key], expected, delta=1, msg=f"{name} {key}")
        # The measured columns have a row for every block of the demo plant (2 × 32).
        for col in (11, 12, 13, 17):  # voltage, temperature, Ri, status
            self.assertEqual(len(rows[col]), 64, col)

    def test_bulkwalk_equals_walk(self):
        bulk = self.v2c("snmpbulkwalk", "-Cr25", BLOCK_ENTRY + ".3").stdout
        walk = self.v2c("snmpwalk", BLOCK_ENTRY + ".3").stdout
        self.assertEqual(len(self.parse(bulk)), 64)
        self.assertEqual(set(self.parse(bulk)), set(self.parse(walk)))
        whole_bulk = self.parse(self.v2c("snmpbulkwalk", "-Cr50", EQ).stdout)
        whole_walk = self.parse(self.v2c("snmpwalk", EQ).stdout)
        self.assertGreater(len(whole_bulk), 64 * 4)
        # Rows of not-present values may come and go between the two walks (self-calibration).
        self.assertLessEqual(len(set(whole_bulk) ^ set(whole_walk)), 64)

    def test_string_table(self):
        v = self.parse(self.v2c("snmpwalk", EQ + ".1.2.1").stdout)
        self.assertEqual(v[EQ + ".1.2.1.2.1"], "String 1")
        self.assertEqual(v[EQ + ".1.2.1.3.2"], "32")

    def test_alarm_table_empty_and_count(self):
        v = self.parse(self.v2c("snmpget", EQ + ".1.4.1.0").stdout)
        self.assertEqual(v[EQ + ".1.4.1.0"], "0")
        walk = self.parse(self.v2c("snmpwalk", EQ + ".1.4.2").stdout)
        self.assertEqual([oid for oid in walk if oid.startswith(EQ + ".1.4.2.")], [])

    # --- security -------------------------------------------------------------------------
    def test_v3_auth_priv(self):
        r = self.snmp("snmpget", *V3, self.target, UPS_BATTERY + ".5.0")
        self.assertRegex(r.stdout, r"33\.1\.2\.5\.0 = INTEGER: \d+")

    def test_v3_wrong_password_fails(self):
        args = list(V3)
        args[args.index("auth-pass-123")] = "wrong-pass-123"
        r = self.snmp("snmpget", *args, self.target, UPS_BATTERY + ".5.0", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("INTEGER", r.stdout)

    def test_v3_without_privacy_is_denied(self):
        r = self.snmp("snmpget", "-v3", "-l", "authNoPriv", "-u", "itops", "-a", "SHA", "-A",
                      "auth-pass-123", self.target, UPS_BATTERY + ".5.0", check=False)
        self.assertNotIn("INTEGER", r.stdout)

    def test_wrong_community_gets_no_answer(self):
        r = self.snmp("snmpget", "-v2c", "-c", "private", self.target, ".1.3.6.1.2.1.1.2.0",
                      check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Timeout", r.stderr + r.stdout)

    def test_set_is_rejected(self):
        for oid, value in ((".1.3.6.1.2.1.1.5.0", ["s", "x"]), (BLOCK_ENTRY + ".11.1.1", ["i", "5"])):
            r = self.v2c("snmpset", oid, *value, check=False)
            self.assertNotEqual(r.returncode, 0, oid)
            self.assertIn("notWritable", r.stdout + r.stderr, oid)
            r = self.snmp("snmpset", *V3, self.target, oid, *value, check=False)
            self.assertNotEqual(r.returncode, 0, oid)

    # --- notifications --------------------------------------------------------------------
    def test_start_trap_reaches_snmptrapd(self):
        self.wait_for(lambda: EQ + ".0.1" in self.read_traps(), "equalisAgentStart at snmptrapd")
        traps = self.read_traps()
        self.assertIn(".1.3.6.1.6.3.1.1.4.1.0 = OID: " + EQ + ".0.1", traps)
        self.assertIn(EQ + ".1.1.3.0", traps)  # eqSoftwareVersion varbind


class SnmpStartErrors(unittest.TestCase):
    def run_daemon(self, spec):
        tmp = tempfile.mkdtemp(prefix="equalis-snmp-it-")
        try:
            return subprocess.run([binary("equalisd"), "--http", "127.0.0.1:0", "--data-dir", tmp,
                                   "--snmp", spec], capture_output=True, text=True, timeout=30)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_busy_port(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            r = self.run_daemon(f"127.0.0.1:{s.getsockname()[1]}")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("cannot listen", r.stderr)

    def test_bad_spec(self):
        r = self.run_daemon("127.0.0.1:1161?v3user=u&auth=short&priv=short")
        self.assertEqual(r.returncode, 2)
        self.assertIn("at least 8 characters", r.stderr)


class Mib(unittest.TestCase):
    def test_smilint_level_3_clean(self):
        self.assertIsNotNone(shutil.which("smilint"), "smilint is not installed (apt-get install smitools)")
        path = os.pathsep.join([os.path.join(SOURCE_DIR, "mibs", "base"), "/usr/share/snmp/mibs"])
        r = subprocess.run(["smilint", "-l", "3", "-s", MIB_FILE], capture_output=True, text=True,
                           env=dict(os.environ, SMIPATH=path))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "", "smilint -l 3 reports problems")

    def test_smilint_catches_a_broken_mib(self):
        """The check above can fail: a MIB with an undefined parent is reported."""
        with tempfile.TemporaryDirectory() as tmp:
            broken = os.path.join(tmp, "EQUALIS-MIB.txt")
            text = open(MIB_FILE).read().replace("::= { eqBlockEntry 11 }", "::= { eqNoSuchEntry 11 }")
            open(broken, "w").write(text)
            path = os.pathsep.join([os.path.join(SOURCE_DIR, "mibs", "base"), "/usr/share/snmp/mibs"])
            r = subprocess.run(["smilint", "-l", "3", "-s", broken], capture_output=True, text=True,
                               env=dict(os.environ, SMIPATH=path))
            self.assertIn("eqNoSuchEntry", r.stdout + r.stderr)


class AlarmTraps(unittest.TestCase):
    """Alarm raise/clear from the alarm engine reach snmptrapd as EQUALIS-MIB notifications."""

    def test_alarm_raised_trap_names_string_and_block(self):
        tmp = tempfile.mkdtemp(prefix="equalis-snmp-traps-")
        env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=tmp, SNMPCONFPATH=tmp)
        trap_port = free_udp_port()
        conf = os.path.join(tmp, "snmptrapd.conf")
        with open(conf, "w") as f:
            f.write("disableAuthorization yes\n")
        log_path = os.path.join(tmp, "traps.log")
        log = open(log_path, "w+")
        trapd = subprocess.Popen(
            ["snmptrapd", "-f", "-Lo", "-On", "-C", "-c", conf, "-p", os.path.join(tmp, "pid"),
             f"udp:127.0.0.1:{trap_port}"], stdout=log, stderr=subprocess.STDOUT, env=env)

        def traps():
            log.flush()
            with open(log_path) as f:
                return f.read()
        d = None
        try:
            SnmpAgent.wait_for(lambda: "NET-SNMP version" in traps(), "snmptrapd start")
            port = free_udp_port()
            # 3600×: the old demo string's over-voltage blocks pass their 60 s on-delay at once.
            d = Daemon("--snmp", f"127.0.0.1:{port}?trap=127.0.0.1:{trap_port}",
                       time_scale=3600).start()
            SnmpAgent.wait_for(lambda: EQ + ".0.2" in traps(), "equalisAlarmRaised", 30)
            alarms = d.get_json("/api/v1/alarms")["alarms"]
            self.assertTrue(alarms)
            text = traps()
            self.assertIn(".1.3.6.1.6.3.1.1.4.1.0 = OID: " + EQ + ".0.2", text)
            # eqAlarmText varbind carries the engine's message naming string and block.
            self.assertRegex(text, r"String \d+, block \d+: ")
        finally:
            if d:
                d.cleanup()
            trapd.terminate()
            trapd.wait(timeout=10)
            log.close()
            shutil.rmtree(tmp, ignore_errors=True)


ALARM_ENTRY = EQ + ".1.4.2.1"
ENGINE_ID = "0x8000000001020304"


class TrapReceiver:
    """snmptrapd on a free loopback port that accepts v2c (any community) and the v3 user itops
    (traps with the agent's engine id ENGINE_ID, informs with its own engine id)."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="equalis-snmptrapd-")
        self.env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=self.tmp, SNMPCONFPATH=self.tmp)
        self.port = free_udp_port()
        conf = os.path.join(self.tmp, "snmptrapd.conf")
        with open(conf, "w") as f:
            f.write(f"createUser -e {ENGINE_ID} itops SHA auth-pass-123 AES priv-pass-456\n"
                    "createUser itops SHA auth-pass-123 AES priv-pass-456\n"
                    "authUser log itops\n"
                    "disableAuthorization yes\n")
        self.log_path = os.path.join(self.tmp, "traps.log")
        self.log = open(self.log_path, "w+")
        self.proc = subprocess.Popen(
            ["snmptrapd", "-f", "-Lo", "-On", "-C", "-c", conf, "-p", os.path.join(self.tmp, "pid"),
             f"udp:127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        SnmpAgent.wait_for(lambda: "NET-SNMP version" in self.text(), "snmptrapd start")

    def text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class AlarmTableAndAcknowledge(unittest.TestCase):
    """eqAlarmTable while a comm-loss alarm is active, SET eqAlarmAcknowledged with the write
    community (refused with the read-only one), v3 traps to snmptrapd."""

    @classmethod
    def setUpClass(cls):
        cls.receiver = TrapReceiver()
        cls.env = cls.receiver.env
        cls.scenario = os.path.join(cls.receiver.tmp, "comm-loss.toml")
        with open(cls.scenario, "w") as f:
            f.write(COMM_LOSS_SCENARIO)
        port = free_udp_port()
        cls.target = f"udp:127.0.0.1:{port}"
        spec = (f"127.0.0.1:{port}?writecommunity=ops-write&v3user=itops&auth=auth-pass-123"
                f"&priv=priv-pass-456&v3write=true&engineid={ENGINE_ID}"
                f"&trap=127.0.0.1:{cls.receiver.port}&trapversion=3")
        try:
            cls.d = Daemon("--snmp", spec, "--scenario", cls.scenario, time_scale=60).start()
        except Exception:
            cls.receiver.close()
            raise
        SnmpAgent.wait_for(lambda: any(a["key"] == "block.comm_lost/2/5"
                                       for a in cls.d.get_json("/api/v1/alarms")["alarms"]),
                           "the comm-loss alarm", 30)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.receiver.close()

    def snmp(self, tool, *args, check=True):
        return SnmpAgent.snmp(self, tool, *args, check=check)

    def rows(self):
        walk = SnmpAgent.parse(self.snmp("snmpwalk", "-v2c", "-c", "public", self.target, ALARM_ENTRY).stdout)
        rows = {}
        for oid, value in walk.items():
            col, index = (int(x) for x in oid[len(ALARM_ENTRY) + 1:].split("."))
            rows.setdefault(index, {})[col] = value
        return rows

    def comm_row(self):
        for index, row in self.rows().items():
            if row.get(11) == "block.comm_lost/2/5":
                return index, row
        self.fail("no eqAlarmTable row for block.comm_lost/2/5")

    def test_1_table_matches_rest(self):
        rest = self.d.get_json("/api/v1/alarms")["alarms"]
        rows = self.rows()
        present = int(SnmpAgent.parse(self.snmp("snmpget", "-v2c", "-c", "public", self.target,
                                                EQ + ".1.4.1.0").stdout)[EQ + ".1.4.1.0"])
        self.assertGreaterEqual(present, 1)
        # Alarms of the demo's old string come and go; the comm-loss alarm stays.
        self.assertIn("block.comm_lost/2/5", {r.get(11) for r in rows.values()})
        index, row = self.comm_row()
        self.assertEqual(row[2], "block.comm_lost")
        self.assertEqual(int(row[3]), 3)  # critical = alarm level
        self.assertEqual((int(row[4]), int(row[5])), (2, 5))
        self.assertIn("String 2, block 5", row[6])
        self.assertEqual(int(row[10]), 2)  # not acknowledged (TruthValue false)
        rest_comm = [a for a in rest if a["key"] == "block.comm_lost/2/5"][0]
        self.assertEqual(rest_comm["acknowledged"], False)
        for r in rows.values():
            self.assertEqual(set(r), set(range(2, 12)))

    def test_2_set_refused_without_write_access(self):
        index, _ = self.comm_row()
        oid = f"{ALARM_ENTRY}.10.{index}"
        r = self.snmp("snmpset", "-v2c", "-c", "public", self.target, oid, "i", "1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("noAccess", r.stdout + r.stderr)
        r = self.snmp("snmpset", "-v2c", "-c", "ops-write", self.target, oid, "i", "2", check=False)
        self.assertIn("wrongValue", r.stdout + r.stderr)
        r = self.snmp("snmpset", "-v2c", "-c", "ops-write", self.target, f"{ALARM_ENTRY}.6.{index}",
                      "s", "x", check=False)
        self.assertIn("notWritable", r.stdout + r.stderr)
        r = self.snmp("snmpset", "-v2c", "-c", "ops-write", self.target, BLOCK_ENTRY + ".11.1.1",
                      "i", "5", check=False)
        self.assertIn("notWritable", r.stdout + r.stderr)
        self.assertFalse([a for a in self.d.get_json("/api/v1/alarms")["alarms"]
                          if a["key"] == "block.comm_lost/2/5"][0]["acknowledged"])

    def test_3_set_acknowledges_and_notifies(self):
        self.assertIn(".1.3.6.1.6.3.1.1.4.1.0 = OID: " + EQ + ".0.1", self.receiver.text())
        SnmpAgent.wait_for(lambda: EQ + ".0.2" in self.receiver.text(), "v3 equalisAlarmRaised")
        index, _ = self.comm_row()
        r = self.snmp("snmpset", *V3, self.target, f"{ALARM_ENTRY}.10.{index}", "i", "1")
        self.assertIn("INTEGER: 1", r.stdout)
        alarm = [a for a in self.d.get_json("/api/v1/alarms")["alarms"] if a["key"] == "block.comm_lost/2/5"][0]
        self.assertTrue(alarm["acknowledged"])
        _, row = self.comm_row()
        self.assertEqual(int(row[10]), 1)
        events = self.d.get_json("/api/v1/events")["events"]
        self.assertTrue(any("acknowledged" in e["message"] and "block.comm_lost/2/5" in e["message"]
                            for e in events), "the acknowledgement is not in the event log")
        SnmpAgent.wait_for(lambda: EQ + ".0.4" in self.receiver.text(), "v3 equalisAlarmAcknowledged")
        self.assertIn(f"{ALARM_ENTRY}.10.{index} = INTEGER: 1", self.receiver.text())


class Informs(unittest.TestCase):
    """Informs (v2c and v3) configured in the [snmp] section of a configuration file."""

    def run_with(self, snmp_keys):
        receiver = TrapReceiver()
        d = None
        try:
            config = os.path.join(receiver.tmp, "equalis.toml")
            port = free_udp_port()
            with open(config, "w") as f:
                f.write(f'[snmp]\nlisten = "127.0.0.1:{port}"\ntrap = "127.0.0.1:{receiver.port}"\n'
                        f"inform = true\n{snmp_keys}\n[[string]]\nblocks = 4\n")
            d = Daemon("--config", config, time_scale=60).start()
            self.assertIn("informs to 127.0.0.1", "\n".join(d.lines))
            SnmpAgent.wait_for(lambda: EQ + ".0.1" in receiver.text(), "equalisAgentStart inform")
            return receiver.text()
        finally:
            if d:
                d.cleanup()
            receiver.close()

    def test_v2c_inform(self):
        text = self.run_with('trap_community = "informs"')
        self.assertIn(EQ + ".1.1.3.0", text)

    def test_v3_inform(self):
        text = self.run_with('v3_user = "itops"\nv3_auth_pass = "auth-pass-123"\n'
                             'v3_priv_pass = "priv-pass-456"\ntrap_version = "3"')
        self.assertIn(EQ + ".1.1.3.0", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
