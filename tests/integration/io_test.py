"""I/O devices end to end: a pymodbus server (started here, loopback) acts as a SITEMANAGER-like
Modbus TCP device; equalisd reads its digital and analog inputs through /api/v1/io with the
configured scaling, a POST switches its relay (coil), and killing the server turns its channels
comm_lost. The simulated room sensors feed /api/v1/system."""
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import types
import unittest
import urllib.error
import urllib.request

from equalis_harness import Daemon, import_pymodbus

DIST = "/usr/lib/python3/dist-packages"




ModbusTcpClient = import_pymodbus()
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # connection attempts before start

# The device: discrete inputs 0 (on) and 1 (off, wired active-low), input registers in µA:
# 0 = 12 mA (mid-range), 1 = 3 mA (open loop), 2 = 455 (45.5 % RH, scale 0.1); coils 0–7 off.
SERVER = textwrap.dedent("""
    import sys, types
    sys.path.append("%s")
    for name in ("serial_asyncio", "serial"):
        try:
            __import__(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.create_serial_connection = None
            stub.Serial = object
            stub.SerialException = Exception
            sys.modules[name] = stub
    from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                    ModbusSlaveContext)
    from pymodbus.server import StartTcpServer
    store = ModbusSlaveContext(di=ModbusSequentialDataBlock(0, [1, 0] + [0] * 14),
                               co=ModbusSequentialDataBlock(0, [0] * 16),
                               hr=ModbusSequentialDataBlock(0, [0] * 16),
                               ir=ModbusSequentialDataBlock(0, [12000, 3000, 455] + [0] * 13),
                               zero_mode=True)
    StartTcpServer(context=ModbusServerContext(slaves=store, single=True),
                   address=("127.0.0.1", int(sys.argv[1])))
""" % DIST)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout_s=20.0):
    deadline = time.time() + timeout_s
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


CONFIG = """
[[string]]
name = "String 1"
blocks = 8

[[io.device]]
id = "site"
type = "sitemanager"
name = "Site manager"
transport = "modbus_tcp"
address = "127.0.0.1:{port}"
poll_interval_s = 0.5
timeout_ms = 200

[[io.device.channel]]
id = "di1"
name = "UPS on bypass"
table = "discrete"
register = 0

[[io.device.channel]]
id = "di2"
name = "Fire panel (active low)"
table = "discrete"
register = 1
active_low = true

[[io.device.channel]]
id = "ai1"
name = "Pressure"
table = "input"
register = 0
scale = 0.001
signal = "4-20mA"
range_min = 0
range_max = 4
unit = "bar"

[[io.device.channel]]
id = "ai2"
name = "Broken transmitter"
table = "input"
register = 1
scale = 0.001

[[io.device.channel]]
id = "relay1"
name = "Flash light"
table = "coil"
register = 0

[[io.device]]
id = "room"
type = "th_sensor"

[[io.device]]
id = "h2"
type = "hydrogen_sensor"
"""


class IoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.server = subprocess.Popen([sys.executable, "-c", SERVER, str(cls.port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cls.client = ModbusTcpClient("127.0.0.1", port=cls.port, timeout=2)
        wait_for("the pymodbus server", cls.client.connect)
        cls.tmp = tempfile.mkdtemp(prefix="equalis-io-")
        cls.config = os.path.join(cls.tmp, "plant.toml")
        with open(cls.config, "w") as f:
            f.write(CONFIG.format(port=cls.port))
        cls.daemon = Daemon("--config", cls.config, time_scale=10).start()

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        cls.daemon.cleanup()
        if cls.server.poll() is None:
            cls.server.kill()
        cls.server.wait()
        cls.server.stderr.close()

    def io(self):
        return self.daemon.get_json("/api/v1/io")

    def channels(self):
        return {c["id"]: c for d in self.io()["devices"] for c in d["channels"]}

    def device(self, id_):
        return next(d for d in self.io()["devices"] if d["id"] == id_)

    def post(self, path, body):
        return self.daemon.request("POST", path, body)

    def test_1_reads_inputs_with_scaling(self):
        ch = wait_for("site channels read", lambda: (c := self.channels())["site.di1"]["quality"]
                      == "ok" and c)
        self.assertEqual(self.device("site")["transport"], "modbus_tcp")
        self.assertEqual(self.device("site")["state"], "ok")
        self.assertIs(ch["site.di1"]["value"], True)
        self.assertIs(ch["site.di2"]["value"], True)  # 0 on the wire, active-low
        self.assertEqual(ch["site.ai1"]["quality"], "ok")
        self.assertAlmostEqual(ch["site.ai1"]["value"], 2.0, places=6)  # 12 mA on 0–4 bar
        self.assertEqual(ch["site.ai1"]["unit"], "bar")
        self.assertIsNotNone(ch["site.ai1"]["time"])
        self.assertGreaterEqual(ch["site.ai1"]["age_s"], 0)
        # 3 mA: open loop (NAMUR NE 43) — no value, quality invalid, the wire current shown.
        self.assertEqual(ch["site.ai2"]["quality"], "invalid")
        self.assertIsNone(ch["site.ai2"]["value"])
        self.assertAlmostEqual(ch["site.ai2"]["raw"], 3.0, places=6)
        self.assertIs(ch["site.relay1"]["value"], False)

    def test_2_post_switches_the_coil(self):
        wait_for("site ok", lambda: self.device("site")["state"] == "ok")
        status, body = self.post("/api/v1/io/outputs/site.relay1", {"on": True})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["output"]["id"], "site.relay1")
        self.assertIs(body["output"]["commanded"], True)

        def coil():
            rr = self.client.read_coils(0, 1, slave=1)
            return not rr.isError() and rr.bits[0]
        wait_for("coil 0 on in the pymodbus server", coil)
        wait_for("relay1 read back on", lambda: self.channels()["site.relay1"]["value"] is True)
        status, _ = self.post("/api/v1/io/outputs/site.relay1", {"on": False})
        self.assertEqual(status, 200)
        wait_for("coil 0 off again", lambda: not coil())

    def test_3_bad_requests_name_the_parameter(self):
        status, body = self.post("/api/v1/io/outputs/site.relay1", {"on": 1})
        self.assertEqual((status, body["error"]["parameter"]), (400, "on"))
        status, body = self.post("/api/v1/io/outputs/site.relay1", {"pulse_ms": 0})
        self.assertEqual((status, body["error"]["parameter"]), (400, "pulse_ms"))
        status, body = self.post("/api/v1/io/outputs/site.relay1", {"on": True, "pulse": 5})
        self.assertEqual((status, body["error"]["parameter"]), (400, "pulse"))
        status, body = self.post("/api/v1/io/outputs/site.relay1", b"not json")
        self.assertEqual((status, body["error"]["parameter"]), (400, "body"))
        status, body = self.post("/api/v1/io/outputs/site.di1", {"on": True})
        self.assertEqual((status, body["error"]["parameter"]), (400, "id"))
        self.assertIn("not an output", body["error"]["message"])
        status, body = self.post("/api/v1/io/outputs/site.relay9", {"on": True})
        self.assertEqual((status, body["error"]["parameter"]), (404, "id"))
        self.assertIn("site.relay1", body["error"]["message"])

    def test_4_simulated_room_sensors_feed_system_points(self):
        system = self.daemon.get_json("/api/v1/system")
        self.assertEqual(system["humidity_pct"]["quality"], "ok")
        self.assertTrue(20 < system["humidity_pct"]["value"] < 80, system["humidity_pct"])
        self.assertEqual(system["hydrogen_pct"]["quality"], "ok")
        self.assertGreaterEqual(system["hydrogen_pct"]["value"], 0)
        self.assertLess(system["hydrogen_pct"]["value"], 0.1)
        strings = self.daemon.get_json("/api/v1/strings/1")
        self.assertEqual(strings["electrolyte_level"]["quality"], "not_present")  # no ELS here

    def test_5_killing_the_device_makes_it_comm_lost(self):
        wait_for("site ok", lambda: self.device("site")["state"] == "ok")
        self.server.kill()
        self.server.wait()
        wait_for("site comm_lost", lambda: self.device("site")["state"] == "comm_lost")
        ch = self.channels()
        for id_ in ("site.di1", "site.ai1", "site.relay1"):
            self.assertEqual(ch[id_]["quality"], "comm_lost", ch[id_])
        self.assertIsNotNone(self.device("site")["error"])
        # The simulated sensors are unaffected.
        self.assertEqual(ch["room.humidity"]["quality"], "ok")


if __name__ == "__main__":
    unittest.main(verbosity=2)
