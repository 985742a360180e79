"""Accounts, roles, login sessions, CSRF and the audit trail on a running equalisd.

Users are made with `equalisctl user add` (password on standard input) in the daemon's data
directory while it runs; the daemon picks them up at the next login. Checks: a change without
a login is refused (401), a viewer may read but not acknowledge (403, recorded), an operator may
acknowledge but not edit rules, a session's writes need its CSRF token, logout ends the session,
repeated wrong passwords are throttled (429), every login and change is in the audit trail with
user and address, and `equalisctl audit verify` finds the trail intact — and finds a changed one.
"""

import http.cookiejar
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from equalis_harness import Daemon, binary, served_certificate  # noqa: E402


def add_user(data_dir, name, role, password):
    r = subprocess.run([binary("equalisctl"), "user", "add", name, "--role", role, "--data-dir",
                        data_dir], input=password + "\n", capture_output=True, text=True,
                       timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"user add {name}: {r.stderr}")


class Browser:
    """A client with a cookie jar, like a browser tab."""

    def __init__(self, d):
        self.d = d
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf = None

    def call(self, method, path, body=None, csrf=True):
        headers = {"Content-Type": "application/json"}
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.d.url + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, json.loads(r.read()), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read()), dict(e.headers)

    def login(self, user, password):
        status, body, headers = self.call("POST", "/api/v1/session",
                                          {"user": user, "password": password})
        if status == 200:
            self.csrf = body["csrf_token"]
        return status, body, headers


def audit_records(data_dir):
    with open(os.path.join(data_dir, "audit.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


class SecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(time_scale=60).start()
        add_user(cls.d.data_dir, "vera", "viewer", "viewer-pass-1")
        add_user(cls.d.data_dir, "otto", "operator", "operator-pass-1")
        add_user(cls.d.data_dir, "ada", "admin", "admin-pass-12")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def alarm_key(self):
        alarms = self.d.get_json("/api/v1/alarms")["alarms"]
        return alarms[0]["key"] if alarms else "none"

    def test_1_changes_need_a_login(self):
        status, body = self.d.request("POST", "/api/v1/alarms/ack?key=x", {}, auth=False)
        self.assertEqual(status, 401, body)
        self.assertIn("log in first", body["error"]["message"])
        # Reading is open on loopback (anonymous_read = auto).
        self.assertEqual(self.d.get("/api/v1/system")[0], 200)
        b = Browser(self.d)
        status, body, _ = b.call("GET", "/api/v1/session")
        self.assertEqual(status, 200)
        self.assertFalse(body["authenticated"])
        self.assertTrue(body["anonymous_read"])
        self.assertTrue(body["accounts"])

    def test_2_viewer_reads_but_may_not_acknowledge(self):
        b = Browser(self.d)
        status, body, headers = b.login("vera", "viewer-pass-1")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["role"], "viewer")
        cookie = headers.get("Set-Cookie", "")
        for attribute in ("HttpOnly", "SameSite=Strict", "Path=/"):
            self.assertIn(attribute, cookie)
        status, body, _ = b.call("POST", f"/api/v1/alarms/ack?key={self.alarm_key()}", {})
        self.assertEqual(status, 403, body)
        self.assertIn("'vera' is a viewer; this needs the operator role", body["error"]["message"])
        denied = [r for r in audit_records(self.d.data_dir) if r["action"] == "access.denied"]
        self.assertTrue(any(r["user"] == "vera" and r["address"] == "127.0.0.1" for r in denied))

    def test_3_operator_acknowledges_with_the_csrf_token_only(self):
        b = Browser(self.d)
        self.assertEqual(b.login("otto", "operator-pass-1")[0], 200)
        status, body, _ = b.call("GET", "/api/v1/session")
        self.assertEqual((body["user"], body["role"]), ("otto", "operator"))
        self.assertEqual(body["csrf_token"], b.csrf)
        key = self.alarm_key()
        status, body, _ = b.call("POST", f"/api/v1/alarms/ack?key={key}", {}, csrf=False)
        self.assertEqual(status, 403, body)
        self.assertIn("X-CSRF-Token", body["error"]["message"])
        status, body, _ = b.call("POST", f"/api/v1/alarms/ack?key={key}", {})
        self.assertIn(status, (200, 404), body)  # 404: the alarm cleared meanwhile
        if status == 200:
            acks = [r for r in audit_records(self.d.data_dir)
                    if r["action"] == "alarm.acknowledge" and r["target"] == key]
            self.assertTrue(acks)
            self.assertEqual((acks[-1]["user"], acks[-1]["address"], acks[-1]["via"],
                              acks[-1]["outcome"]), ("otto", "127.0.0.1", "rest", "ok"))
        # Rules are settings: admins only.
        status, body, _ = b.call("PUT", "/api/v1/alarms/rules/block.temperature_high",
                                 {"warning": 33})
        self.assertEqual(status, 403, body)
        # Logout ends the session.
        status, _, headers = b.call("DELETE", "/api/v1/session", {})
        self.assertEqual(status, 200)
        status, body, _ = b.call("POST", f"/api/v1/alarms/ack?key={key}", {})
        self.assertEqual(status, 401, body)

    def test_4_admin_changes_a_rule_recorded_old_and_new(self):
        b = Browser(self.d)
        self.assertEqual(b.login("ada", "admin-pass-12")[0], 200)
        status, body, _ = b.call("PUT", "/api/v1/alarms/rules/block.temperature_high?string=1",
                                 {"warning": 33})
        self.assertEqual(status, 200, body)
        changes = [r for r in audit_records(self.d.data_dir) if r["action"] == "rule.change"]
        self.assertEqual(changes[-1]["user"], "ada")
        self.assertEqual(changes[-1]["target"], "block.temperature_high/1")
        self.assertIn("33", changes[-1]["new_value"])
        self.assertEqual(changes[-1]["old_value"], "(no run-time change)")
        # Admins read the trail over REST, filtered, and export it as CSV.
        status, body, _ = b.call("GET", "/api/v1/audit?action=access.denied&user=vera")
        self.assertEqual(status, 200, body)
        self.assertTrue(body["intact"])
        self.assertTrue(body["records"])
        self.assertTrue(all(r["user"] == "vera" and r["action"] == "access.denied"
                            for r in body["records"]))
        req = urllib.request.Request(self.d.url + "/api/v1/audit/export.csv")
        with b.opener.open(req, timeout=30) as r:
            csv_text = r.read().decode()
        self.assertTrue(csv_text.startswith("time,seq,user,"), csv_text[:100])
        self.assertIn("rule.change", csv_text)
        # Not for operators.
        o = Browser(self.d)
        self.assertEqual(o.login("otto", "operator-pass-1")[0], 200)
        self.assertEqual(o.call("GET", "/api/v1/audit")[0], 403)

    def test_5_wrong_passwords_are_throttled_and_recorded(self):
        b = Browser(self.d)
        statuses = [b.login("ada", "wrong-password")[0] for _ in range(7)]
        self.assertEqual(statuses[:5], [401] * 5)
        self.assertEqual(statuses[-1], 429)
        status, body, _ = b.login("nobody", "wrong-password")
        self.assertIn(status, (401, 429))
        failures = [r for r in audit_records(self.d.data_dir) if r["action"] == "login.failure"]
        self.assertGreaterEqual(len(failures), 6)
        self.assertTrue(all(r["address"] == "127.0.0.1" for r in failures))

    def test_6_token_roles_apply_too(self):
        r = subprocess.run([binary("equalisctl"), "token", "create", "scada", "--role", "viewer",
                            "--data-dir", self.d.data_dir], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        token = next(w for w in r.stdout.split() if w.startswith("eqt_"))
        req = urllib.request.Request(self.d.url + "/api/v1/system/reload", data=b"{}",
                                     method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer " + token})
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(ctx.exception.code, 403)
        req.headers["Authorization"] = "Bearer eqt_not-a-token"
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(ctx.exception.code, 401)

    def test_7_audit_trail_verifies_and_a_change_is_found(self):
        verify = [binary("equalisctl"), "audit", "verify", "--data-dir", self.d.data_dir]
        r = subprocess.run(verify, capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("intact", r.stdout)
        # A copy with one record changed is caught.
        copy = tempfile.mkdtemp(prefix="equalis-audit-copy-")
        for name in ("audit.jsonl", "audit.head"):
            with open(os.path.join(self.d.data_dir, name)) as src, \
                    open(os.path.join(copy, name), "w") as dst:
                dst.write(src.read().replace('"user":"vera"', '"user":"otto"', 1))
        r = subprocess.run([binary("equalisctl"), "audit", "verify", "--data-dir", copy],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)


class ClosedReadingTest(unittest.TestCase):
    def test_anonymous_reading_off(self):
        tmp = tempfile.mkdtemp(prefix="equalis-sec-")
        config = os.path.join(tmp, "plant.toml")
        with open(config, "w") as f:
            f.write('[http]\nanonymous_read = "off"\n\n[[string]]\nname = "S1"\nblocks = 8\n')
        # A configuration file readable by every user is reported (it may hold passwords).
        os.chmod(config, 0o644)
        r = subprocess.run([binary("equalisd"), "--check-config", config], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("readable by every user", r.stdout)
        os.chmod(config, 0o640)
        r = subprocess.run([binary("equalisd"), "--check-config", config], capture_output=True,
                           text=True, timeout=30)
        self.assertNotIn("readable by every user", r.stdout)
        d = Daemon("--config", config, time_scale=60).start()
        try:
            self.assertEqual(d.get("/healthz", auth=False)[0], 200)
            status, _, body = d.get("/api/v1/system", auth=False)
            self.assertEqual(status, 401, body)
            self.assertIn(b"anonymous reading is off", body)
            self.assertEqual(d.get("/api/v1/system")[0], 200)
            self.assertEqual(d.get("/", auth=False)[0], 200)  # the page itself, to log in
            # What the daemon writes is for its own user only.
            for name in ("history.sqlite", "audit.jsonl", "users.json"):
                mode = os.stat(os.path.join(d.data_dir, name)).st_mode & 0o777
                self.assertEqual(mode, 0o600, name)
        finally:
            d.cleanup()


class HttpsTest(unittest.TestCase):
    def test_https_with_a_self_signed_certificate(self):
        tmp = tempfile.mkdtemp(prefix="equalis-tls-")
        config = os.path.join(tmp, "plant.toml")
        with open(config, "w") as f:
            f.write('[http]\ntls = "on"\nhsts = true\n\n[[string]]\nname = "S1"\nblocks = 8\n')
        data_dir = os.path.join(tmp, "data")
        d = Daemon("--config", config, data_dir=data_dir, time_scale=60).start()
        try:
            self.assertTrue(d.url.startswith("https://"), d.url)
            printed = [line for line in d.lines if "SHA-256 fingerprint" in line]
            self.assertTrue(printed, d.lines)
            self.assertIn("a new self-signed certificate", printed[0])
            host, port = d.url[len("https://"):].split(":")
            # The certificate served is the one whose fingerprint was printed.
            fingerprint, version = served_certificate(d.url)
            self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
            self.assertIn(fingerprint, printed[0])
            # TLS 1.1 and older are refused.
            old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            old.check_hostname = False
            old.verify_mode = ssl.CERT_NONE
            old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            old.maximum_version = ssl.TLSVersion.TLSv1_1
            with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                with socket.create_connection((host, int(port)), timeout=10) as raw, \
                        old.wrap_socket(raw) as tls:
                    tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    tls.recv(100)
            # Plain HTTP on the HTTPS port gets no answer.
            with socket.create_connection((host, int(port)), timeout=10) as raw:
                raw.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                raw.settimeout(10)
                try:
                    answer = raw.recv(100)
                except OSError:
                    answer = b""
                self.assertFalse(answer.startswith(b"HTTP/1.1 200"), answer)
            # HSTS, and the session cookie is Secure.
            add_user(d.data_dir, "ada", "admin", "admin-pass-12")
            req = urllib.request.Request(d.url + "/api/v1/session", method="POST",
                                         data=json.dumps({"user": "ada",
                                                          "password": "admin-pass-12"}).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30, context=d.tls_context()) as r:
                self.assertEqual(r.headers["Strict-Transport-Security"], "max-age=31536000")
                self.assertIn("Secure", r.headers["Set-Cookie"])
            key = os.path.join(d.data_dir, "tls", "key.pem")
            self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        finally:
            d.cleanup()
        # The same certificate at the next start.
        d = Daemon("--config", config, data_dir=data_dir, time_scale=60).start()
        try:
            printed = [line for line in d.lines if "SHA-256 fingerprint" in line]
            self.assertIn("the self-signed certificate", printed[0])
            self.assertIn(fingerprint, printed[0])
        finally:
            d.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
