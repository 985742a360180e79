"""Integration tests of the event manager: real equalisd processes raise alarms from a scenario
(charger over-voltage on a 4-block string) and deliver them to real receivers on loopback:
an aiosmtpd SMTP server with STARTTLS and AUTH required (throw-away certificate made with
openssl), RFC 5424 syslog collectors on UDP and TCP (octet counting), a webhook receiver
(http.server) and a command that appends to a file. The event log must name every delivery."""
import email
import email.policy
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from equalis_harness import Daemon

DEBIAN_PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
SITE = "Prüfstand Süd"
TIME_SCALE = 120
WAIT_S = 60

# RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]
SYSLOG_RE = re.compile(
    r'^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (\S+) (\S+) (\S+) '
    r'(-|\[(?:[^\]\\]|\\.)*\])(?: (.*))?$', re.S)
SD_PARAM_RE = re.compile(r'(\w+)="((?:[^"\\\]]|\\.)*)"')


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_syslog(frame):
    m = SYSLOG_RE.match(frame)
    if not m:
        raise AssertionError(f"not an RFC 5424 message: {frame!r}")
    pri, ts, host, app, procid, msgid, sd, msg = m.groups()
    params = {k: re.sub(r'\\(.)', r'\1', v) for k, v in SD_PARAM_RE.findall(sd)}
    return {"pri": int(pri), "facility": int(pri) // 8, "severity": int(pri) % 8, "time": ts,
            "host": host, "app": app, "procid": procid, "msgid": msgid, "sd": sd,
            "params": params, "msg": msg or ""}


def wait_for(what, predicate, timeout_s=WAIT_S):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class UdpCollector:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.frames = []
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                data, _ = self.sock.recvfrom(65535)
                self.frames.append(data.decode("utf-8"))
            except socket.timeout:
                continue
            except OSError:
                break

    def close(self):
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()


class TcpCollector:
    """Octet-counting syslog collector. Drops the first connection after its first frame (a
    collector restart), so the sender must reconnect."""

    def __init__(self):
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.frames = []  # (connection number, frame)
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            try:
                conn, _ = self.server.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.connections += 1
            threading.Thread(target=self.serve, args=(conn, self.connections),
                             daemon=True).start()

    def serve(self, conn, number):
        buf = b""
        conn.settimeout(0.2)
        with conn:
            while self.running:
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    return
                buf += chunk
                while True:  # RFC 6587 octet counting: "LEN SP MSG"
                    sp = buf.find(b" ")
                    if sp <= 0:
                        break
                    length = int(buf[:sp])
                    if len(buf) < sp + 1 + length:
                        break
                    self.frames.append((number, buf[sp + 1:sp + 1 + length].decode("utf-8")))
                    buf = buf[sp + 1 + length:]
                    if number == 1:
                        return  # drop the first connection after one frame

    def close(self):
        self.running = False
        self.thread.join(timeout=2)
        self.server.close()


class WebhookReceiver:
    def __init__(self):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "json": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """smtp_receiver.py (aiosmtpd) with STARTTLS and AUTH required."""

    def __init__(self, workdir, user, password):
        self.dir = os.path.join(workdir, "mail")
        os.makedirs(self.dir)
        self.cert = os.path.join(workdir, "cert.pem")
        key = os.path.join(workdir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", self.cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)
        self.proc = subprocess.Popen(
            [DEBIAN_PYTHON, os.path.join(HERE, "smtp_receiver.py"), "--cert", self.cert, "--key",
             key, "--user", user, "--password", password, self.dir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"READY (\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"SMTP receiver did not start: {line}{self.proc.stderr.read()}")
        self.port = int(m.group(1))

    def messages(self):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".eml"):
                with open(os.path.join(self.dir, name), "rb") as f:
                    msg = email.message_from_bytes(f.read(), policy=email.policy.default)
                with open(os.path.join(self.dir, name[:-4] + ".json")) as f:
                    out.append((msg, json.load(f)))
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


SCENARIO = """
name = "charger-overvoltage"
description = "String 1's charger rises 6 % above its set-point at 30 s, back at 6 min."
duration = "30min"

[[event]]
at = "30s"
action = "fault"
string = 1
kind = "charger_overvoltage"
factor = 1.06

[[event]]
at = "6min"
action = "clear_fault"
string = 1
kind = "charger_overvoltage"
"""

PLANT = f"""
[site]
name = "{SITE}"

[simulation.ups]
outages = false

[[string]]
name = "String A"
blocks = 4
"""


def events_of(daemon):
    return daemon.get_json("/api/v1/events?limit=1000")["events"]


def stop_cleanly(test, daemon):
    daemon.proc.terminate()
    code = daemon.proc.wait(timeout=30)
    test.assertEqual(code, 0, "equalisd did not exit cleanly on SIGTERM")


class EventManagerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("openssl not installed")
        probe = subprocess.run([DEBIAN_PYTHON, "-c", "import aiosmtpd"], capture_output=True)
        if probe.returncode != 0:
            raise unittest.SkipTest("python3-aiosmtpd not installed for /usr/bin/python3")
        cls.dir = tempfile.mkdtemp(prefix="equalis-events-")
        cls.smtp = SmtpReceiver(cls.dir, "equalis", "s3cret pass")
        cls.udp = UdpCollector()
        cls.tcp = TcpCollector()
        cls.hook = WebhookReceiver()
        cls.scenario = os.path.join(cls.dir, "overvoltage.toml")
        with open(cls.scenario, "w") as f:
            f.write(SCENARIO)

    @classmethod
    def tearDownClass(cls):
        for r in (cls.smtp, cls.udp, cls.tcp, cls.hook):
            r.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def write_config(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(PLANT + text)
        check = subprocess.run([Daemon().args[0], "--check-config", path], capture_output=True,
                               text=True)
        self.assertEqual(check.returncode, 0, check.stderr)
        return path

    def test_email_udp_syslog_webhook_command(self):
        closed_port = free_port()
        command_out = os.path.join(self.dir, "command.out")
        config = self.write_config("a.toml", f"""
[events]
retries = 1
retry_backoff_s = 0.2

[events.smtp]
url = "smtp://127.0.0.1:{self.smtp.port}"
username = "equalis"
password = "s3cret pass"
from = "Equalis <equalis@example.com>"
to = ["ops@example.com"]
starttls = "required"
ca_file = "{self.smtp.cert}"
timeout_s = 10

[events.syslog]
target = "udp://127.0.0.1:{self.udp.port}"
hostname = "bms-test"

[events.webhook]
url = "http://127.0.0.1:{self.hook.port}/hook"
bearer_token = "tok123"

[[events.rule]]
name = "voltage to ops"
trigger = ["alarm_raised", "alarm_escalated"]
rule = "block.voltage_high"
string = 1
block = 2

[[events.rule.action]]
type = "email"
subject = "[{{site}}] {{level}}: {{rule}} string {{string}} block {{block}} at {{value}} V (threshold {{threshold}} V)"

[[events.rule]]
name = "block alarms to syslog"
trigger = "alarm"
rule = "block.*"

[[events.rule.action]]
type = "syslog"
message = "{{level}}: {{message}}"

[[events.rule]]
name = "start hook"
trigger = "system_start"

[[events.rule.action]]
type = "webhook"

[[events.rule]]
name = "cleared hook"
trigger = "alarm_cleared"
rule = "block.voltage_high"
string = 1
block = 2

[[events.rule.action]]
type = "webhook"
message = "cleared: {{message}}"

[[events.rule]]
name = "script"
trigger = "alarm_raised"
rule = "block.voltage_high"
block = 2

[[events.rule.action]]
type = "command"
command = "printf '%s|%s|%s|%s|%s\\\\n' \\"$EQUALIS_EVENT\\" \\"$EQUALIS_STRING\\" \\"$EQUALIS_BLOCK\\" \\"$EQUALIS_LEVEL\\" \\"$EQUALIS_MESSAGE\\" >> '{command_out}'; echo done"

[[events.rule.action]]
type = "webhook"
url = "http://127.0.0.1:{closed_port}/nobody"
""")
        daemon = Daemon("--config", config, "--scenario", self.scenario, time_scale=TIME_SCALE)
        daemon.start()
        try:
            # Email: through STARTTLS with AUTH, naming string, block, value and threshold.
            mails = wait_for("an email", self.smtp.messages)
            msg, meta = mails[0]
            self.assertTrue(meta["tls"], "mail was not sent over STARTTLS")
            self.assertTrue(meta["authenticated"])
            self.assertEqual(meta["login"], "equalis")
            self.assertEqual(meta["mail_from"], "equalis@example.com")
            self.assertEqual(meta["rcpt_tos"], ["ops@example.com"])
            self.assertEqual(msg["From"], "Equalis <equalis@example.com>")
            self.assertEqual(msg["To"], "ops@example.com")
            self.assertTrue(msg["Message-ID"].endswith("@example.com>"), msg["Message-ID"])
            self.assertRegex(msg["Date"], r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$")
            with open(os.path.join(self.smtp.dir, "001.eml"), "rb") as f:
                raw = f.read()
            self.assertIn(b"\nSubject: =?UTF-8?B?", raw)  # RFC 2047: the site name is not ASCII
            subject = str(msg["Subject"])
            m = re.match(r"\[Prüfstand Süd\] (alarm|warning): block\.voltage_high string 1 "
                         r"block 2 at ([\d.]+) V \(threshold ([\d.]+) V\)$", subject)
            self.assertIsNotNone(m, subject)
            value, threshold = float(m.group(2)), float(m.group(3))
            self.assertGreater(value, threshold)
            self.assertIn(threshold, (14.1, 14.4))
            body = msg.get_content()
            self.assertEqual(msg.get_content_type(), "text/plain")
            self.assertEqual(msg.get_content_charset(), "utf-8")
            self.assertIn("String 1, block 2: voltage", body)
            self.assertRegex(body, r"String:\s+1\n")
            self.assertRegex(body, r"Block:\s+2\n")
            self.assertRegex(body, rf"Value:\s+{re.escape(m.group(2))}\n")
            self.assertRegex(body, rf"Threshold:\s+{re.escape(m.group(3))}\n")
            self.assertIn(f"Site:      {SITE}", body)

            # Syslog over UDP: RFC 5424 frames of block alarms only.
            frames = wait_for("a syslog frame", lambda: list(self.udp.frames))
            raised = None
            for frame in frames:
                p = parse_syslog(frame)
                self.assertEqual(p["facility"], 16)
                self.assertEqual(p["host"], "bms-test")
                self.assertEqual(p["app"], "equalisd")
                self.assertTrue(p["procid"].isdigit())
                self.assertTrue(p["sd"].startswith("[equalis@32473 "), p["sd"])
                self.assertTrue(p["params"]["rule"].startswith("block."), p)
                self.assertEqual(p["params"]["site"], SITE)
                if p["msgid"] == "alarm_raised" and raised is None:
                    raised = p
            self.assertIsNotNone(raised, frames)
            level = raised["params"]["level"]
            self.assertEqual(raised["severity"], {"alarm": 2, "warning": 4}[level])
            self.assertTrue(raised["msg"].startswith(f"{level}: String 1, block "), raised["msg"])
            self.assertGreater(float(raised["params"]["value"]),
                               float(raised["params"]["threshold"]))

            # Command: environment variables, first output line in the event log.
            wait_for("the command's file", lambda: os.path.exists(command_out))
            with open(command_out) as f:
                line = f.readline().rstrip("\n")
            self.assertRegex(line, r"^alarm_raised\|1\|2\|(alarm|warning)\|String 1, block 2: "
                                   r"voltage [\d.]+ V above")

            # Webhooks: the start, and the clear once the charger is back to normal.
            def cleared():
                return [r for r in self.hook.requests if r["json"]["event"] == "alarm_cleared"]
            clear = wait_for("the alarm_cleared webhook", cleared)[0]
            start = [r for r in self.hook.requests if r["json"]["event"] == "system_start"]
            self.assertEqual(len(start), 1)
            self.assertEqual(start[0]["path"], "/hook")
            self.assertIn("equalisd started", start[0]["json"]["message"])
            self.assertEqual(clear["headers"].get("Authorization"), "Bearer tok123")
            self.assertEqual(clear["headers"].get("Content-Type"), "application/json")
            j = clear["json"]
            self.assertEqual((j["site"], j["level"], j["rule"], j["string"], j["block"]),
                             (SITE, "cleared", "block.voltage_high", 1, 2))
            self.assertTrue(j["message"].startswith("cleared: String 1, block 2: voltage back"),
                            j["message"])
            self.assertRegex(j["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

            # The event log names every delivery, sent or failed.
            def log_has_all():
                msgs = [e["message"] for e in events_of(daemon) if e["kind"] == "action"]
                need = ["email to ops@example.com sent", f"syslog to udp://127.0.0.1:{self.udp.port} sent",
                        "webhook to http://127.0.0.1:", "command to printf",
                        f"webhook to http://127.0.0.1:{closed_port}/nobody failed after 2 attempts: "
                        "connection refused"]
                return msgs if all(any(n in m for m in msgs) for n in need) else None
            msgs = wait_for("deliveries in the event log", log_has_all)
            if os.environ.get("EQUALIS_IT_VERBOSE"):
                print("\n".join(["", "event log (action):"] + msgs))
            self.assertTrue(any("command to printf" in m and "sent (exit 0: done)" in m
                                for m in msgs), msgs)
            # The same outcomes over REST.
            rest = daemon.get_json("/api/v1/events/deliveries")
            self.assertEqual(rest["rules"], 5)
            self.assertGreaterEqual(rest["delivered"], 4)
            self.assertGreaterEqual(rest["failed"], 1)
            email_rows = [d for d in rest["deliveries"] if d["action"] == "email"]
            self.assertTrue(email_rows and email_rows[0]["ok"], rest)
            self.assertEqual(email_rows[0]["target"], "ops@example.com")
            bad = [d for d in rest["deliveries"] if d["target"].endswith("/nobody")]
            self.assertEqual((bad[0]["ok"], bad[0]["attempts"], bad[0]["error"]),
                             (False, 2, "connection refused"))
        finally:
            if daemon.proc.poll() is None:
                stop_cleanly(self, daemon)
            daemon.cleanup()

    def test_tcp_syslog_by_default_with_reconnect(self):
        closed_port = free_port()
        config = self.write_config("b.toml", f"""
[events]
retries = 1
retry_backoff_s = 0.2

[events.syslog]
target = "tcp://127.0.0.1:{self.tcp.port}"
facility = "local3"
app_name = "equalis-b"

# A wrong password: the failure must say so.
[events.smtp]
url = "smtp://127.0.0.1:{self.smtp.port}"
username = "equalis"
password = "wrong"
from = "equalis@example.com"
to = ["ops@example.com"]
ca_file = "{self.smtp.cert}"

# No rule uses syslog: every alarm goes there (all_alarms = true by default).
[[events.rule]]
name = "start hook"
trigger = "system_start"

[[events.rule.action]]
type = "webhook"
url = "http://127.0.0.1:{closed_port}/x"

[[events.rule.action]]
type = "email"
""")
        daemon = Daemon("--config", config, "--scenario", self.scenario, time_scale=TIME_SCALE)
        daemon.start()
        try:
            # Frames keep coming on a second connection after the collector dropped the first.
            wait_for("frames after a reconnect",
                     lambda: self.tcp.connections >= 2 and any(n >= 2 for n, _ in self.tcp.frames))
            wait_for("a cleared alarm",
                     lambda: any(parse_syslog(f)["msgid"] == "alarm_cleared"
                                 for _, f in self.tcp.frames))
            kinds = set()
            for _, frame in self.tcp.frames:
                p = parse_syslog(frame)
                self.assertEqual(p["facility"], 19)
                self.assertEqual(p["app"], "equalis-b")
                kinds.add(p["msgid"])
                if p["msgid"] == "alarm_cleared":
                    self.assertEqual(p["severity"], 5)
                    self.assertIn("back to normal", p["msg"])
            self.assertIn("alarm_raised", kinds)

            def logged():
                msgs = [e["message"] for e in events_of(daemon) if e["kind"] == "action"]
                ok = [m for m in msgs if f"syslog to tcp://127.0.0.1:{self.tcp.port} sent "
                      "[rule 'syslog (all alarms)'" in m]
                failed = [m for m in msgs if f"webhook to http://127.0.0.1:{closed_port}/x failed "
                          "after 2 attempts: connection refused" in m]
                login = [m for m in msgs if "email to ops@example.com failed after 2 attempts: "
                         "login denied" in m]
                return ok and failed and login
            wait_for("deliveries in the event log", logged)
        finally:
            if daemon.proc.poll() is None:
                stop_cleanly(self, daemon)
            daemon.cleanup()


if __name__ == "__main__":
    unittest.main()
