"""Integration tests of the MQTT publisher: a real mosquitto broker and real equalisd processes on
loopback, checked with mosquitto_sub and against the REST API (Python stdlib + mosquitto tools)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from equalis_harness import COMM_LOSS_SCENARIO, Daemon, binary

PREFIX = "equalis/equalis-demo-site"  # default prefix of the built-in demo plant
BLOCK_SENSORS = {  # unique_id suffix -> (payload field, device_class, unit)
    "voltage": ("voltage_v", "voltage", "V"),
    "temperature": ("temperature_c", "temperature", "°C"),
    "ri": ("ri_mohm", None, "mΩ"),
    "charge": ("charge_pct", "battery", "%"),
    "equalization": ("equalization_pct", None, "%"),
}
STRING_SENSORS = {
    "voltage": ("voltage_v", "voltage", "V"),
    "current": ("current_a", "current", "A"),
    "power": ("power_kw", "power", "kW"),
    "mode": ("mode", "enum", None),
}
QUALITIES = {"ok", "stale", "comm_lost", "invalid", "not_present"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require(tool):
    if shutil.which(tool) is None:
        raise unittest.SkipTest(f"{tool} not installed")


class Broker:
    """mosquitto on 127.0.0.1 with a temp config; users = {name: password} turns on auth."""

    def __init__(self, users=None, tls=None):
        """tls: (cafile, certfile, keyfile) of the listener."""
        require("mosquitto")
        self.dir = tempfile.mkdtemp(prefix="equalis-mqtt-")
        os.chmod(self.dir, 0o755)  # mosquitto started as root drops to user "mosquitto"
        self.port = free_port()
        self.users = users or {}
        lines = [f"listener {self.port} 127.0.0.1", "log_dest stderr", "log_type all",
                 "persistence false"]
        if tls:
            lines += [f"cafile {tls[0]}", f"certfile {tls[1]}", f"keyfile {tls[2]}"]
        if self.users:
            pwfile = os.path.join(self.dir, "passwd")
            open(pwfile, "w").close()
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", pwfile, user, password], check=True,
                               capture_output=True)
            os.chmod(pwfile, 0o644)
            lines += ["allow_anonymous false", f"password_file {pwfile}"]
        else:
            lines += ["allow_anonymous true"]
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log_path = os.path.join(self.dir, "broker.log")
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        text = self.log_text()
        self.stop()
        raise RuntimeError(f"mosquitto did not start: {text}")

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Subscriber:
    """mosquitto_sub -v in the background; collects (topic, payload) lines."""

    def __init__(self, port, *topics, user=None, password=None, cafile=None):
        require("mosquitto_sub")
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-v", "-q", "1"]
        if cafile:
            args += ["--cafile", cafile]
        if user:
            args += ["-u", user, "-P", password]
        for t in topics:
            args += ["-t", t]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, encoding="utf-8")
        self.messages = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip("\n").partition(" ")
            with self.lock:
                self.messages.append((time.time(), topic, payload))

    def wait_for(self, predicate, timeout_s):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            with self.lock:
                if any(predicate(t, p) for _, t, p in self.messages):
                    return True
            time.sleep(0.05)
        return False

    def latest(self):
        with self.lock:
            out = {}
            for _, t, p in self.messages:
                out[t] = p
            return out

    def count(self, topic):
        with self.lock:
            return sum(1 for _, t, _ in self.messages if t == topic)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.thread.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()


def block_topic(s, b):
    return f"{PREFIX}/string/{s}/block/{b}/state"


class MqttAnonymous(unittest.TestCase):
    def test_discovery_state_rest_agreement_and_last_will(self):
        with Broker() as broker:
            daemon = Daemon("--mqtt", f"mqtt://127.0.0.1:{broker.port}", time_scale=60)
            sub = None
            try:
                daemon.start()
                sub = Subscriber(broker.port, "homeassistant/#", "equalis/#")
                window_start = time.time()
                all_blocks = [block_topic(s, b) for s in (1, 2) for b in range(1, 33)]
                self.assertTrue(sub.wait_for(lambda t, p: t == f"{PREFIX}/status" and p == "online", 15),
                                "no retained 'online' status")
                ok = sub.wait_for(lambda t, p: False, 4)  # collect a few seconds
                self.assertFalse(ok)
                msgs = sub.latest()
                self.assertEqual(msgs.get(f"{PREFIX}/status"), "online")

                # Home Assistant discovery: every block × quantity, and the string sensors.
                configs = {t: json.loads(p) for t, p in msgs.items() if t.startswith("homeassistant/")}
                site = "equalis_equalis_demo_site"
                for s in (1, 2):
                    for b in range(1, 33):
                        for key, (field, device_class, unit) in BLOCK_SENSORS.items():
                            uid = f"{site}_s{s}_b{b}_{key}"
                            topic = f"homeassistant/sensor/{uid}/config"
                            self.assertIn(topic, configs)
                            c = configs[topic]
                            self.assertEqual(c["unique_id"], uid)
                            self.assertEqual(c["state_topic"], block_topic(s, b))
                            self.assertEqual(c["value_template"], "{{ value_json.%s.value }}" % field)
                            self.assertEqual(c.get("device_class"), device_class, uid)
                            self.assertEqual(c["unit_of_measurement"], unit, uid)
                            self.assertEqual(c["state_class"], "measurement")
                            self.assertEqual(c["availability"][0]["topic"], f"{PREFIX}/status")
                            self.assertIn(f"value_json.{field}.quality == 'ok'",
                                          c["availability"][1]["value_template"])
                            self.assertEqual(c["device"]["identifiers"], [f"{site}_s{s}"])
                            self.assertEqual(c["device"]["manufacturer"], "Equalis")
                    for key, (field, device_class, unit) in STRING_SENSORS.items():
                        c = configs[f"homeassistant/sensor/{site}_s{s}_{key}/config"]
                        self.assertEqual(c["state_topic"], f"{PREFIX}/string/{s}/state")
                        self.assertEqual(c["device_class"], device_class)
                        self.assertEqual(c.get("unit_of_measurement"), unit)
                self.assertGreaterEqual(len(configs), 64 * 5 + 2 * 4)

                # State payloads: every block, every value with its quality.
                for topic in all_blocks:
                    self.assertIn(topic, msgs)
                    j = json.loads(msgs[topic])
                    for field in ("voltage_v", "temperature_c", "ri_mohm", "charge_pct",
                                  "equalization_pct"):
                        self.assertIn(j[field]["quality"], QUALITIES)
                        self.assertIn("time", j[field])
                system = json.loads(msgs[f"{PREFIX}/system"])
                self.assertEqual(system["module_count"]["value"], 64)

                # Rate limit: at most one publish per topic per 10 s (+ the retained copy).
                elapsed = time.time() - window_start
                for topic in all_blocks:
                    self.assertLessEqual(sub.count(topic), 2 + int(elapsed / 10), topic)

                # Values agree with REST (the MQTT copy is at most ~10 s real = 10 min simulated
                # older; a mains failure in between can move them, so retry a few times).
                problems = self.compare_with_rest(daemon, sub)
                for _ in range(3):
                    if not problems:
                        break
                    time.sleep(11)
                    problems = self.compare_with_rest(daemon, sub)
                self.assertEqual(problems, [])

                # SIGKILL: the broker publishes the last will.
                daemon.kill(signal.SIGKILL)
                self.assertTrue(sub.wait_for(lambda t, p: t == f"{PREFIX}/status" and p == "offline", 15),
                                "no last will 'offline' after SIGKILL")
            finally:
                if sub:
                    sub.stop()
                daemon.cleanup()

    def compare_with_rest(self, daemon, sub):
        msgs = sub.latest()
        problems = []
        tolerance = {"voltage_v": 0.1, "temperature_c": 1.0, "ri_mohm": 0.3, "charge_pct": 5.0}
        for s in (1, 2):
            rest = daemon.get_json(f"/api/v1/strings/{s}/blocks")["blocks"]
            for rb in rest:
                mb = json.loads(msgs[block_topic(s, rb["block"])])
                for field, tol in tolerance.items():
                    mv, rv = mb[field]["value"], rb[field]["value"]
                    if mv is None or rv is None:
                        if mv != rv:
                            problems.append((s, rb["block"], field, mv, rv))
                    elif abs(mv - rv) > tol:
                        problems.append((s, rb["block"], field, mv, rv))
        return problems

    def test_graceful_stop_publishes_offline(self):
        with Broker() as broker:
            sub = Subscriber(broker.port, f"{PREFIX}/status")
            daemon = Daemon("--mqtt", f"mqtt://127.0.0.1:{broker.port}/", time_scale=60)
            try:
                daemon.start()
                self.assertTrue(sub.wait_for(lambda t, p: p == "online", 15))
                daemon.proc.terminate()
                self.assertEqual(daemon.proc.wait(timeout=15), 0)
                self.assertTrue(sub.wait_for(lambda t, p: p == "offline", 5),
                                "no 'offline' after SIGTERM")
            finally:
                sub.stop()
                daemon.cleanup()

    def test_bad_url_is_rejected(self):
        data_dir = tempfile.mkdtemp(prefix="equalis-it-")
        try:
            for url, message in (("mqtt://127.0.0.1:99999", "port must be"),
                                 ("http://127.0.0.1", "unknown scheme"),
                                 ("mqtt://host?colour=blue", "unknown option 'colour'")):
                r = subprocess.run([binary("equalisd"), "--http", "127.0.0.1:0", "--data-dir",
                                    data_dir, "--mqtt", url], capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(message, r.stderr)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


class MqttAuthentication(unittest.TestCase):
    USERS = {"equalis": "right-pw", "reader": "read-pw"}

    def test_wrong_password_retries_right_password_connects(self):
        with Broker(self.USERS) as broker:
            sub = Subscriber(broker.port, "equalis/#", user="reader", password="read-pw")
            wrong = Daemon("--mqtt", f"mqtt://equalis:wrong-pw@127.0.0.1:{broker.port}", time_scale=60)
            right = Daemon("--mqtt", f"mqtt://equalis:right-pw@127.0.0.1:{broker.port}", time_scale=60)
            try:
                wrong.start()
                time.sleep(6)
                self.assertIsNone(wrong.proc.poll(), "equalisd exited after a refused login")
                self.assertEqual(wrong.get_json("/api/v1/system")["module_count"]["value"], 64)
                refusals = len(re.findall(r"not authori[sz]ed", broker.log_text()))
                self.assertGreaterEqual(refusals, 2, broker.log_text()[-2000:])
                self.assertLessEqual(refusals, 6, "no backoff between attempts")
                self.assertEqual(sub.latest(), {}, "published without a valid login")
                # The settings page's view says why it does not publish, password masked.
                mqtt = next(p for p in wrong.get_json("/api/v1/system/protocols")["protocols"]
                            if p["name"] == "mqtt")
                self.assertTrue(mqtt["running"], mqtt)
                self.assertRegex(mqtt["condition"], r"^not connected to the broker: .*authori[sz]ed",
                                 mqtt)
                self.assertEqual(mqtt["spec"], f"mqtt://equalis:********@127.0.0.1:{broker.port}")
                self.assertEqual(mqtt["source"], "command line")
                wrong.stop()

                right.start()
                self.assertTrue(sub.wait_for(lambda t, p: t == f"{PREFIX}/status" and p == "online", 15),
                                broker.log_text()[-2000:])
                self.assertTrue(sub.wait_for(lambda t, p: t == block_topic(2, 32), 15))
                mqtt = next(p for p in right.get_json("/api/v1/system/protocols")["protocols"]
                            if p["name"] == "mqtt")
                self.assertEqual(mqtt["condition"], "", mqtt)
            finally:
                sub.stop()
                wrong.cleanup()
                right.cleanup()




def make_ca(directory, name):
    """A throw-away CA (key + self-signed certificate) made with openssl; returns (cert, key)."""
    key = os.path.join(directory, f"{name}.key")
    cert = os.path.join(directory, f"{name}.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", f"/CN={name}"], check=True,
                   capture_output=True)
    return cert, key


def make_server_cert(directory, ca_cert, ca_key):
    """A server certificate for 127.0.0.1 (CN and IP SAN) signed by the CA."""
    key = os.path.join(directory, "server.key")
    csr = os.path.join(directory, "server.csr")
    cert = os.path.join(directory, "server.pem")
    ext = os.path.join(directory, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName = IP:127.0.0.1\n")
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                    "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
                    "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext], check=True,
                   capture_output=True)
    for path in (key, cert):
        os.chmod(path, 0o644)  # readable by the mosquitto user
    return cert, key


class MqttTlsAndAlarms(unittest.TestCase):
    """mqtts:// with a password and a CA file against a TLS listener; alarm topics and the
    problem binary sensors; a wrong CA is a clear error in the log, not a crash."""

    USERS = {"equalis": "tls-pw", "reader": "read-pw"}

    @classmethod
    def setUpClass(cls):
        require("openssl")
        cls.pki = tempfile.mkdtemp(prefix="equalis-mqtt-pki-")
        os.chmod(cls.pki, 0o755)
        cls.ca, ca_key = make_ca(cls.pki, "test-ca")
        cls.wrong_ca, _ = make_ca(cls.pki, "other-ca")
        for path in (cls.ca, cls.wrong_ca):
            os.chmod(path, 0o644)
        server_cert, server_key = make_server_cert(cls.pki, cls.ca, ca_key)
        cls.tls = (cls.ca, server_cert, server_key)
        cls.scenario = os.path.join(cls.pki, "comm-loss.toml")
        with open(cls.scenario, "w") as f:
            f.write(COMM_LOSS_SCENARIO)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki, ignore_errors=True)

    def test_tls_state_alarms_and_discovery(self):
        with Broker(self.USERS, tls=self.tls) as broker:
            url = f"mqtts://equalis:tls-pw@127.0.0.1:{broker.port}?cafile={self.ca}"
            daemon = Daemon("--mqtt", url, "--scenario", self.scenario, time_scale=60)
            sub = None
            try:
                daemon.start()
                self.assertIn("mqtts://equalis@127.0.0.1", "\n".join(daemon.lines))
                self.assertNotIn("tls-pw", "\n".join(daemon.lines))
                sub = Subscriber(broker.port, "equalis/#", "homeassistant/binary_sensor/#",
                                 user="reader", password="read-pw", cafile=self.ca)
                self.assertTrue(sub.wait_for(lambda t, p: t == f"{PREFIX}/status" and p == "online", 20),
                                broker.log_text()[-2000:])
                self.assertTrue(sub.wait_for(lambda t, p: t == block_topic(2, 32), 15))

                def has_comm_alarm(t, p):
                    return t == f"{PREFIX}/alarms" and any(
                        a["key"] == "block.comm_lost/2/5" for a in json.loads(p))
                self.assertTrue(sub.wait_for(has_comm_alarm, 30), "no comm_lost in <prefix>/alarms")
                msgs = sub.latest()
                alarms = json.loads(msgs[f"{PREFIX}/alarms"])
                rest = {a["key"]: a for a in daemon.get_json("/api/v1/alarms")["alarms"]}
                comm = [a for a in alarms if a["key"] == "block.comm_lost/2/5"][0]
                self.assertEqual((comm["rule"], comm["level"], comm["string"], comm["block"]),
                                 ("block.comm_lost", "alarm", 2, 5))
                self.assertGreater(comm["id"], 0)
                self.assertEqual(comm["acknowledged"], rest["block.comm_lost/2/5"]["acknowledged"])
                # A non-retained event for the raise.
                self.assertTrue(sub.wait_for(
                    lambda t, p: t == f"{PREFIX}/alarm/event" and json.loads(p)["event"] == "raised"
                    and json.loads(p)["alarm"]["key"] == "block.comm_lost/2/5", 10))
                state = json.loads(sub.latest()[f"{PREFIX}/alarm/state"])
                self.assertEqual(state["problem"], "ON")
                self.assertEqual(state["strings"]["2"], "ON")
                self.assertGreaterEqual(state["active"], 1)
                # Discovery: a problem binary sensor for the site and for each string.
                site = "equalis_equalis_demo_site"
                for uid in (f"{site}_alarm", f"{site}_s1_alarm", f"{site}_s2_alarm"):
                    topic = f"homeassistant/binary_sensor/{uid}/config"
                    self.assertIn(topic, msgs)
                    config = json.loads(msgs[topic])
                    self.assertEqual(config["device_class"], "problem")
                    self.assertEqual(config["state_topic"], f"{PREFIX}/alarm/state")
                # The retained alarm list is there for a late subscriber too.
                late = subprocess.run(
                    ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", self.ca,
                     "-u", "reader", "-P", "read-pw", "-t", f"{PREFIX}/alarms", "-C", "1", "-W", "10"],
                    capture_output=True, text=True, timeout=20)
                self.assertIn("block.comm_lost/2/5", late.stdout)
            finally:
                if sub:
                    sub.stop()
                daemon.cleanup()

    def test_wrong_ca_is_a_clear_error(self):
        with Broker(self.USERS, tls=self.tls) as broker:
            url = f"mqtts://equalis:tls-pw@127.0.0.1:{broker.port}?cafile={self.wrong_ca}"
            daemon = Daemon("--mqtt", url, time_scale=60)
            try:
                daemon.start()
                time.sleep(4)
                self.assertIsNone(daemon.proc.poll(), "equalisd exited on a TLS failure")
                self.assertEqual(daemon.get_json("/api/v1/system")["module_count"]["value"], 64)
                daemon.proc.terminate()
                daemon.proc.wait(timeout=15)
                log = daemon.proc.stderr.read()
                self.assertIn("certificate verify failed", log)
                self.assertIn("retrying", log)
            finally:
                daemon.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
