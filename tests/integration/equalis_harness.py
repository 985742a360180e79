"""Starts and stops real equalisd processes for the integration tests (Python stdlib only)."""
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import types
import tempfile
import time
import urllib.error
import urllib.request

BIN_DIR = os.environ.get("EQUALIS_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))


def wait_for(predicate, what, timeout_s=30):
    """Polls predicate() until it returns something true; raises AssertionError after timeout_s."""
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


def binary(name):
    path = os.path.join(BIN_DIR, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not built")
    return path


# A scenario that makes string 2's module 5 stop answering at once: a block.comm_lost alarm that
# stays (for tests of alarms over the protocols).
COMM_LOSS_SCENARIO = """name = "comm-loss-test"
description = "String 2 module 5 stops answering at once: a block.comm_lost alarm that stays"
[[event]]
at = "0s"
action = "fault"
string = 2
block = 5
kind = "module_comm_loss"
"""


def import_pymodbus():
    """pymodbus 3.0 from Debian (python3-pymodbus), also when python3 is not Debian's. Its client
    package imports the serial modules even for TCP; stub them when they are not installed."""
    if "/usr/lib/python3/dist-packages" not in sys.path:
        sys.path.append("/usr/lib/python3/dist-packages")
    for name in ("serial_asyncio", "serial"):
        try:
            __import__(name)
        except ImportError:
            stub = types.ModuleType(name)
            stub.create_serial_connection = None
            stub.Serial = object
            stub.SerialException = Exception
            sys.modules[name] = stub
    from pymodbus.client import ModbusTcpClient  # noqa: E402
    return ModbusTcpClient


def served_certificate(url):
    """(SHA-256 fingerprint as "AB:CD:…", TLS version) of the certificate a new TLS connection to
    an https:// URL gets, without verifying it."""
    host, port = url[len("https://"):].split(":")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
        version = tls.version()
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest()), version


def admin_token(data_dir, label="tests", role="admin"):
    """Creates an API token in a data directory (equalisctl token create) and returns its
    secret: writes need one (docs/security.md)."""
    os.makedirs(data_dir, exist_ok=True)
    r = subprocess.run([binary("equalisctl"), "token", "create", label, "--role", role,
                        "--data-dir", data_dir], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"equalisctl token create: {r.stderr.strip()}")
    secrets = [w for w in r.stdout.split() if w.startswith("eqt_")]
    if not secrets:
        raise RuntimeError(f"no token in: {r.stdout!r}")
    return secrets[0]


class Daemon:
    """equalisd on 127.0.0.1 with an OS-chosen port, its own data dir, killed on exit."""

    def __init__(self, *extra, data_dir=None, time_scale=60, token=None):
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="equalis-it-")
        self.args = [binary("equalisd"), "--http", "127.0.0.1:0", "--data-dir", self.data_dir,
                     "--time-scale", str(time_scale), "--log-level", "warn", *extra]
        self.proc = None
        self.url = None
        self.given_token = token  # an admin API token the data directory already has
        self.token = None  # the admin API token: given, or made by start()
        self.lines = []  # stdout lines printed before the URL (e.g. protocol adapters' describe())

    def start(self, timeout_s=30):
        self.token = self.given_token or admin_token(self.data_dir)
        # equalisctl run by the tests authenticates with it too.
        os.environ["EQUALIS_TOKEN"] = self.token
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"(https?://[0-9.]+:\d+)/", line)
            if m:
                self.url = m.group(1)
                break
        if self.url is None:
            # stdout closed: the daemon is exiting; wait for it so its stderr is complete.
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError(f"equalisd did not print its URL: {err}")
        # Wait until the first sweep is published.
        while time.time() < deadline:
            try:
                if self.get_json("/api/v1/system")["sweep_count"]["value"]:
                    return self
            except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
                pass
            time.sleep(0.05)
        raise RuntimeError("equalisd did not publish a sweep in time")

    def get(self, path, timeout=10, auth=True):
        """Returns (status, content-type, body bytes); 4xx/5xx are returned, not raised. With
        the daemon's API token (auth=False: as an anonymous reader)."""
        headers = {"Authorization": "Bearer " + self.token} if auth and self.token else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(self.url + path, headers=headers),
                                        timeout=timeout, context=self.tls_context()) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read()

    def get_json(self, path):
        status, _, body = self.get(path)
        if status != 200:
            raise AssertionError(f"GET {path} -> {status}: {body[:300]!r}")
        return json.loads(body)

    def request(self, method, path, body=None, timeout=10, content_type="application/json",
                auth=True):
        """A JSON request (body: a JSON-able value or raw bytes) with the daemon's admin API token
        (auth=False: without); returns (status, parsed JSON), 4xx/5xx included."""
        data = None if body is None else (body if isinstance(body, bytes) else
                                           json.dumps(body).encode())
        headers = {"Content-Type": content_type}
        if auth:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.tls_context()) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def tls_context(self):
        """For HTTPS with the daemon's self-signed certificate: no verification (the TLS tests
        check the certificate's fingerprint themselves)."""
        return ssl._create_unverified_context() if self.url.startswith("https") else None

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            for f in (self.proc.stdout, self.proc.stderr):
                if f:
                    f.close()

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
