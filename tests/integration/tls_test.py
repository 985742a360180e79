"""HTTPS certificates installed over REST, and the HTTP → HTTPS redirect port, on a real equalisd.

An admin installs a certificate made with the openssl command line; a new TLS connection gets it
at once (its SHA-256 equals what openssl computes), an operator is refused (403), a key of another
certificate is refused (400) and changes nothing, the audit trail has every attempt, the
certificate is served again after a restart, and removing it goes back to the self-signed one.
With [http] redirect_port, plain HTTP on that port answers 308 to the same path on HTTPS. The
configuration's certificate_file comes first (409), a plain-HTTP server stores the files for
later, and a redirect port without HTTPS, or one in use, stops the start with a message naming
the key.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from equalis_harness import Daemon, admin_token, binary, served_certificate  # noqa: E402

PATH = "/api/v1/system/certificate"


def make_certificate(directory, name, cn="bms.example.org", days=90):
    """A self-signed EC P-256 certificate and its key, made by the openssl command line; returns
    (certificate PEM, key PEM, SHA-256 fingerprint as openssl prints it)."""
    cert = os.path.join(directory, name + "-cert.pem")
    key = os.path.join(directory, name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", str(days), "-subj", "/CN=" + cn,
                    "-addext", f"subjectAltName=DNS:{cn},IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    fingerprint = out.strip().split("=", 1)[1]
    with open(cert) as c, open(key) as k:
        return c.read(), k.read(), fingerprint


def served_fingerprint(url):
    """The SHA-256 fingerprint of the certificate a new TLS connection gets."""
    return served_certificate(url)[0]


def audit_records(data_dir, action):
    with open(os.path.join(data_dir, "audit.jsonl")) as f:
        return [r for r in (json.loads(line) for line in f if line.strip())
                if r["action"] == action]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(directory, http_lines):
    path = os.path.join(directory, "plant.toml")
    with open(path, "w") as f:
        f.write("[http]\n" + "".join(line + "\n" for line in http_lines) +
                '\n[[string]]\nname = "S1"\nblocks = 8\n')
    os.chmod(path, 0o600)
    return path


def start_fails(config, data_dir):
    """Runs equalisd expecting it to stop at start; returns its stderr."""
    r = subprocess.run([binary("equalisd"), "--config", config, "--http", "127.0.0.1:0",
                        "--data-dir", data_dir, "--log-level", "warn"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, r.stdout + r.stderr
    return r.stderr


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="equalis-tls-")
        cls.redirect_port = free_port()
        cls.config = write_config(cls.tmp, ['tls = "on"', f"redirect_port = {cls.redirect_port}"])
        cls.data_dir = os.path.join(cls.tmp, "data")
        cls.d = Daemon("--config", cls.config, data_dir=cls.data_dir, time_scale=60).start()
        cls.self_signed = served_fingerprint(cls.d.url)
        cls.cert, cls.key, cls.fingerprint = make_certificate(cls.tmp, "site")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_self_signed_at_first(self):
        status, body = self.d.request("GET", PATH)
        self.assertEqual(status, 200, body)
        self.assertTrue(body["https"])
        self.assertEqual(body["source"], "self-signed")
        self.assertEqual(body["fingerprint_sha256"], self.self_signed)
        self.assertIn("DNS:localhost", body["subject_alt_names"])

    def test_2_only_an_admin_installs(self):
        operator = admin_token(self.d.data_dir, label="op", role="operator")
        req = {"certificate": self.cert, "key": self.key}
        conn = http.client.HTTPSConnection("127.0.0.1", int(self.d.url.rsplit(":", 1)[1]),
                                           context=self.d.tls_context(), timeout=30)
        conn.request("PUT", PATH, body=json.dumps(req),
                     headers={"Content-Type": "application/json",
                              "Authorization": "Bearer " + operator})
        r = conn.getresponse()
        body = json.loads(r.read())
        conn.close()
        self.assertEqual(r.status, 403, body)
        self.assertIn("admin", body["error"]["message"])
        status, body = self.d.request("PUT", PATH, req, auth=False)
        self.assertEqual(status, 401, body)
        status, body = self.d.request("GET", PATH, auth=False)
        self.assertEqual(status, 401, body)
        self.assertEqual(served_fingerprint(self.d.url), self.self_signed)

    def test_3_a_bad_pair_changes_nothing(self):
        _, other_key, _ = make_certificate(self.tmp, "other")
        status, body = self.d.request("PUT", PATH, {"certificate": self.cert, "key": other_key})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"]["parameter"], "key")
        self.assertIn("does not belong to the certificate", body["error"]["message"])
        status, body = self.d.request("PUT", PATH, {"certificate": "garbage", "key": self.key})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"]["parameter"], "certificate")
        status, body = self.d.request("PUT", PATH, {"certificate": self.cert})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"]["parameter"], "body")
        self.assertEqual(served_fingerprint(self.d.url), self.self_signed)
        self.assertFalse(os.path.exists(os.path.join(self.data_dir, "tls", "site-cert.pem")))
        refused = [r for r in audit_records(self.data_dir, "certificate.install")
                   if r["outcome"] == "refused"]
        self.assertTrue(any("does not belong" in r["detail"] for r in refused), refused)
        # No key material in the trail.
        with open(os.path.join(self.data_dir, "audit.jsonl")) as f:
            self.assertNotIn("PRIVATE KEY", f.read())

    def test_4_install_serves_it_at_once(self):
        status, body = self.d.request("PUT", PATH, {"certificate": self.cert, "key": self.key})
        self.assertEqual(status, 200, body)
        self.assertTrue(body["applied"], body)
        self.assertEqual(body["source"], "installed")
        self.assertEqual(body["fingerprint_sha256"], self.fingerprint)
        # Made by openssl req -x509: self-signed, valid 90 days; nothing else to warn about.
        self.assertEqual(len(body["warnings"]), 1, body["warnings"])
        self.assertIn("self-signed", body["warnings"][0])
        self.assertEqual(served_fingerprint(self.d.url), self.fingerprint)
        for name in ("site-cert.pem", "site-key.pem"):
            mode = os.stat(os.path.join(self.data_dir, "tls", name)).st_mode & 0o777
            self.assertEqual(mode, 0o600, name)
        status, body = self.d.request("GET", PATH)
        self.assertEqual(status, 200, body)
        self.assertEqual((body["source"], body["fingerprint_sha256"]),
                         ("installed", self.fingerprint))
        self.assertEqual(body["subject"], "CN=bms.example.org")
        self.assertIn("DNS:bms.example.org", body["subject_alt_names"])
        self.assertIn("IP:127.0.0.1", body["subject_alt_names"])
        self.assertEqual(body["key_type"], "EC P-256")
        ok = [r for r in audit_records(self.data_dir, "certificate.install")
              if r["outcome"] == "ok"]
        self.assertEqual(len(ok), 1, ok)
        self.assertEqual((ok[0]["old_value"], ok[0]["new_value"]),
                         (self.self_signed, self.fingerprint))
        self.assertEqual(ok[0]["via"], "rest")
        self.assertTrue(ok[0]["target"].endswith("tls/site-cert.pem"), ok[0])

    def test_5_redirect(self):
        https_port = int(self.d.url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", self.redirect_port, timeout=10)
        conn.request("GET", "/api/v1/status?x=1")
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 308)
        self.assertEqual(r.getheader("Location"),
                         f"https://127.0.0.1:{https_port}/api/v1/status?x=1")
        self.assertIsNone(r.getheader("Strict-Transport-Security"))
        # Every path and method, the API included; nothing is served on this port.
        conn.request("POST", "/api/v1/alarms/ack?key=x", body=b"{}",
                     headers={"Content-Type": "application/json", "Host": "bms.example.org"})
        r = conn.getresponse()
        body = r.read()
        self.assertEqual(r.status, 308)
        self.assertEqual(r.getheader("Location"),
                         f"https://bms.example.org:{https_port}/api/v1/alarms/ack?key=x")
        self.assertTrue(body.startswith(b"This controller is served over HTTPS"), body)
        conn.close()
        with socket.create_connection(("127.0.0.1", self.redirect_port), timeout=10) as raw:
            raw.sendall(b"GET / HTTP/1.0\r\n\r\n")
            self.assertTrue(raw.recv(100).startswith(b"HTTP/1.1 400"))
        # The HTTPS port still serves.
        self.assertEqual(self.d.get("/api/v1/status")[0], 200)

    def test_6_survives_a_restart_then_removed(self):
        self.d.stop()
        self.__class__.d = Daemon("--config", self.config, data_dir=self.data_dir,
                                  time_scale=60, token=self.d.token).start()
        printed = [line for line in self.d.lines if "SHA-256 fingerprint" in line]
        self.assertTrue(printed, self.d.lines)
        self.assertIn("the installed certificate", printed[0])
        self.assertIn(self.fingerprint, printed[0])
        self.assertEqual(served_fingerprint(self.d.url), self.fingerprint)

        status, body = self.d.request("DELETE", PATH)
        self.assertEqual(status, 200, body)
        self.assertEqual((body["source"], body["fingerprint_sha256"]),
                         ("self-signed", self.self_signed))
        self.assertEqual(served_fingerprint(self.d.url), self.self_signed)
        self.assertFalse(os.path.exists(os.path.join(self.data_dir, "tls", "site-cert.pem")))
        status, body = self.d.request("DELETE", PATH)
        self.assertEqual(status, 404, body)
        removed = [r for r in audit_records(self.data_dir, "certificate.remove")
                   if r["outcome"] == "ok"]
        self.assertEqual([(r["old_value"], r["new_value"]) for r in removed],
                         [(self.fingerprint, self.self_signed)])
        r = subprocess.run([binary("equalisctl"), "audit", "verify", "--data-dir",
                            self.data_dir], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class LargeResponsesTest(unittest.TestCase):
    """Documents above the 16 kB of one TLS record arrive whole over HTTPS: the status document
    of a 2 × 64-block plant (≈ 250 kB), a block list, and the live stream's first snapshot."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="equalis-tls-large-")
        path = write_config(cls.tmp, ['tls = "on"'])
        with open(path) as f:
            text = f.read().replace("blocks = 8", "blocks = 64")
        with open(path, "w") as f:
            f.write(text + '\n[[string]]\nname = "S2"\nblocks = 64\n')
        cls.d = Daemon("--config", path, data_dir=os.path.join(cls.tmp, "data"),
                       time_scale=60).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_documents_above_one_tls_record(self):
        for path in ("/api/v1/status", "/api/v1/strings/1/blocks"):
            status, _, body = self.d.get(path)
            self.assertEqual(status, 200, path)
            self.assertGreater(len(body), 64 * 1024, path)
            doc = json.loads(body)
            blocks = doc["strings"][0]["blocks"] if "strings" in doc else doc["blocks"]
            self.assertEqual(len(blocks), 64, path)

    def test_live_stream_snapshot_over_https(self):
        port = int(self.d.url.rsplit(":", 1)[1])
        raw = socket.create_connection(("127.0.0.1", port), timeout=15)
        with self.d.tls_context().wrap_socket(raw, server_hostname="localhost") as sock:
            sock.sendall(b"GET /api/v1/stream HTTP/1.1\r\nHost: localhost\r\n"
                         b"Accept: text/event-stream\r\n\r\n")
            buf = b""
            while b"\n\n" not in buf.split(b"data: ", 1)[-1] or b"data: " not in buf:
                chunk = sock.recv(65536)
                self.assertTrue(chunk, "the stream closed before a whole snapshot")
                buf += chunk
        data = buf.split(b"data: ", 1)[1].split(b"\n\n", 1)[0]
        snap = json.loads(data)
        self.assertEqual(len(snap["strings"][1]["blocks"]), 64)


class PrecedenceTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="equalis-tls-")
        self.cert, self.key, self.fingerprint = make_certificate(self.tmp, "site")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_configured_files_come_first(self):
        config = write_config(self.tmp, ['tls = "on"',
                                         f'certificate_file = "{self.tmp}/site-cert.pem"',
                                         f'key_file = "{self.tmp}/site-key.pem"'])
        other_cert, other_key, other_fingerprint = make_certificate(self.tmp, "other")
        with Daemon("--config", config, data_dir=os.path.join(self.tmp, "data")) as d:
            self.assertEqual(served_fingerprint(d.url), self.fingerprint)
            status, body = d.request("GET", PATH)
            self.assertEqual((status, body["source"]), (200, "config"), body)
            status, body = d.request("PUT", PATH, {"certificate": other_cert, "key": other_key})
            self.assertEqual(status, 409, body)
            self.assertIn("certificate_file", body["error"]["message"])
            self.assertEqual(served_fingerprint(d.url), self.fingerprint)
            refused = audit_records(d.data_dir, "certificate.install")
            self.assertEqual([r["outcome"] for r in refused], ["refused"])
        self.assertNotEqual(other_fingerprint, self.fingerprint)

    def test_plain_http_stores_for_later(self):
        data_dir = os.path.join(self.tmp, "data")
        with Daemon(data_dir=data_dir) as d:
            self.assertTrue(d.url.startswith("http://"), d.url)
            status, body = d.request("PUT", PATH, {"certificate": self.cert, "key": self.key})
            self.assertEqual(status, 200, body)
            self.assertFalse(body["applied"])
            self.assertIn("when HTTPS is on", body["message"])
            status, body = d.request("GET", PATH)
            self.assertEqual((body["https"], body["source"], body["fingerprint_sha256"]),
                             (False, "installed", self.fingerprint), body)
        config = write_config(self.tmp, ['tls = "on"'])
        with Daemon("--config", config, data_dir=data_dir) as d:
            self.assertEqual(served_fingerprint(d.url), self.fingerprint)

    def test_equalisctl_installs_over_https(self):
        config = write_config(self.tmp, ['tls = "on"'])
        with Daemon("--config", config, data_dir=os.path.join(self.tmp, "data")) as d:
            ctl = [binary("equalisctl"), "--url", d.url]
            trust = ["--ca-file", os.path.join(d.data_dir, "tls", "cert.pem")]
            cert = os.path.join(self.tmp, "site-cert.pem")
            key = os.path.join(self.tmp, "site-key.pem")
            install = ["certificate", "install", "--cert", cert, "--key", key]
            # The self-signed certificate is not trusted unless equalisctl is told to.
            r = subprocess.run(ctl + install, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
            r = subprocess.run(ctl + trust + install, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("new HTTPS connections get it now", r.stdout)
            self.assertIn(self.fingerprint, r.stdout)
            self.assertEqual(served_fingerprint(d.url), self.fingerprint)
            r = subprocess.run(ctl + trust + ["certificate", "show"], capture_output=True,
                               text=True, timeout=60)
            self.assertNotEqual(r.returncode, 0, "the new certificate is not the one trusted")
            site_trust = ["--ca-file", cert]
            r = subprocess.run(ctl + site_trust + ["--json", "certificate", "show"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(json.loads(r.stdout)["source"], "installed")
            r = subprocess.run(ctl + site_trust + ["certificate", "remove"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("self-signed", r.stdout)
            r = subprocess.run(ctl + trust + ["certificate", "install", "--cert", cert],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)

    def test_redirect_needs_https_and_a_free_port(self):
        data_dir = os.path.join(self.tmp, "data")
        port = free_port()
        # tls = "auto" on loopback is plain HTTP.
        err = start_fails(write_config(self.tmp, [f"redirect_port = {port}"]), data_dir)
        self.assertIn("redirect_port", err)
        self.assertIn("plain HTTP", err)
        # tls = "off": a configuration error.
        config = write_config(self.tmp, ['tls = "off"', f"redirect_port = {port}"])
        r = subprocess.run([binary("equalisd"), "--check-config", config], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("redirect_port", r.stdout + r.stderr)
        # A port in use.
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            taken = busy.getsockname()[1]
            err = start_fails(write_config(self.tmp, ['tls = "on"', f"redirect_port = {taken}"]),
                              data_dir)
            self.assertIn("redirect_port", err)
            self.assertIn("in use", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
