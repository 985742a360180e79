"""The HTTP server of equalisd against what hostile pages and clients send, and under load.

Each test reproduces a measured problem of the earlier server and checks that it is now refused
or survived: DNS rebinding (a foreign Host), cross-origin "simple" writes, OPTIONS/CORS, a request
with 1000 Range parts, a 200 MB body, invalid UTF-8 in the path (and the log line it makes), a
second daemon on the same port, and 500 idle sockets with 200 live-update clients while REST
requests keep being answered.
"""

import json
import os
import resource
import select
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from equalis_harness import Daemon, binary, wait_for  # noqa: E402

# 700+ sockets here and in the daemon (which inherits the limit).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 8192), _hard))


def host_port(d):
    host, port = d.url.rsplit("//", 1)[1].split(":")
    return host, int(port)


def raw(d, request, read_timeout=10.0, until=b"\r\n\r\n"):
    """Sends raw bytes; returns what came back until `until` (and the body of a
    Content-Length reply), the peer closed, or the time passed."""
    s = socket.create_connection(host_port(d), timeout=read_timeout)
    try:
        s.sendall(request)
        data = b""
        deadline = time.time() + read_timeout
        while time.time() < deadline:
            r, _, _ = select.select([s], [], [], 0.1)
            if not r:
                continue
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep and until == b"\r\n\r\n":
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(body) >= length:
                    break
            elif until != b"\r\n\r\n" and until in data:
                break
        return data
    finally:
        s.close()


def status_of(reply):
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else None


def body_json(reply):
    return json.loads(reply.partition(b"\r\n\r\n")[2])


def request(d, method, path, body=b"", headers=None):
    host, port = host_port(d)
    h = {"Host": f"{host}:{port}", "Content-Length": str(len(body))}
    h.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
    return raw(d, head.encode() + b"Connection: close\r\n\r\n" + body)


def rule(d, rule_id):
    rules = d.get_json("/api/v1/alarms/rules")["strings"][0]["rules"]
    return next(r for r in rules if r["id"] == rule_id)


class HttpServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(time_scale=60).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def test_foreign_host_is_refused(self):
        # A page on evil.example whose name was rebound to this controller's address.
        before = rule(self.d, "block.temperature_high")
        r = request(self.d, "PUT", "/api/v1/alarms/rules/block.temperature_high",
                    b'{"enabled": false}',
                    {"Host": "evil.example", "Content-Type": "application/json"})
        self.assertEqual(status_of(r), 403, r)
        self.assertIn("not a name of this controller", body_json(r)["error"]["message"])
        r = request(self.d, "GET", "/api/v1/system", headers={"Host": "evil.example:8080"})
        self.assertEqual(status_of(r), 403, r)
        self.assertEqual(rule(self.d, "block.temperature_high"), before)
        # IP literals and localhost are fine.
        _, port = host_port(self.d)
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
            self.assertEqual(status_of(request(self.d, "GET", "/api/v1/system",
                                               headers={"Host": host})), 200)

    def test_cross_origin_simple_writes_are_refused(self):
        def relay():
            devices = self.d.get_json("/api/v1/io")["devices"]
            return next(c for d in devices for c in d["channels"] if c["id"] == "aux1.relay1")

        before = relay()["value"]
        _, port = host_port(self.d)
        # What fetch(url, {method: "POST", mode: "no-cors", body: '{"on": true}'}) sends.
        r = request(self.d, "POST", "/api/v1/io/outputs/aux1.relay1", b'{"on": true}',
                    {"Origin": f"http://127.0.0.1:{port + 1}",
                     "Content-Type": "text/plain;charset=UTF-8",
                     "Sec-Fetch-Site": "same-site"})
        self.assertEqual(status_of(r), 403, r)
        # Without Origin (an old browser) the content type alone refuses it.
        r = request(self.d, "POST", "/api/v1/io/outputs/aux1.relay1", b'{"on": true}',
                    {"Content-Type": "text/plain"})
        self.assertEqual(status_of(r), 403, r)
        self.assertIn("Content-Type must be application/json", body_json(r)["error"]["message"])
        r = request(self.d, "POST", "/api/v1/alarms/ack?key=x")
        self.assertEqual(status_of(r), 403, r)
        self.assertEqual(relay()["value"], before)
        # The preflight a non-simple cross-origin request needs is refused.
        r = request(self.d, "OPTIONS", "/api/v1/io/outputs/aux1.relay1",
                    headers={"Origin": "http://evil.example",
                             "Access-Control-Request-Method": "POST"})
        self.assertEqual(status_of(r), 405, r)
        self.assertNotIn(b"Access-Control-Allow", r)
        # The same request from the page's own origin passes the checks.
        r = request(self.d, "POST", "/api/v1/io/outputs/aux1.relay1", b'{"pulse_ms": 100}',
                    {"Origin": f"http://127.0.0.1:{port}", "Content-Type": "application/json",
                     "Authorization": "Bearer " + self.d.token})
        self.assertEqual(status_of(r), 200, r)

    def test_security_headers(self):
        r = request(self.d, "GET", "/")
        self.assertEqual(status_of(r), 200)
        head = r.partition(b"\r\n\r\n")[0].decode()
        self.assertIn("Content-Security-Policy: default-src 'self'", head)
        self.assertIn("frame-ancestors 'none'", head)
        self.assertIn("X-Content-Type-Options: nosniff", head)
        self.assertIn("Referrer-Policy: no-referrer", head)

    def test_many_range_parts_get_the_plain_answer(self):
        _, _, page = self.d.get("/")
        ranges = "bytes=" + ",".join(f"{i}-{i + 10}" for i in range(1000))
        r = request(self.d, "GET", "/", headers={"Range": ranges})
        self.assertEqual(status_of(r), 200)
        self.assertEqual(len(r.partition(b"\r\n\r\n")[2]), len(page))

    def test_huge_body_is_refused_before_it_is_sent(self):
        host, port = host_port(self.d)
        start = time.time()
        r = raw(self.d, (f"PUT /api/v1/alarms/rules/block.temperature_high HTTP/1.1\r\n"
                         f"Host: {host}:{port}\r\nContent-Type: application/json\r\n"
                         f"Authorization: Bearer {self.d.token}\r\n"
                         f"Content-Length: {200 * 1024 * 1024}\r\n\r\n").encode())
        self.assertEqual(status_of(r), 413, r)
        self.assertLess(time.time() - start, 5.0)

    def test_invalid_utf8_is_400_and_not_logged_raw(self):
        r = request(self.d, "GET", "/api/v1/strings/%FF%0Aforged")
        self.assertEqual(status_of(r), 400, r)
        self.assertIn("UTF-8", body_json(r)["error"]["message"])
        r = request(self.d, "GET", "/api/v1/nothing%0D%0A2026-01-01 [error] forged")
        self.assertEqual(status_of(r), 400, r)

    def test_second_daemon_on_the_same_port_fails(self):
        host, port = host_port(self.d)
        p = subprocess.run([binary("equalisd"), "--http", f"{host}:{port}", "--data-dir",
                            self.d.data_dir + "-second", "--log-level", "warn"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("in use", p.stderr + p.stdout)

    def test_idle_sockets_and_live_clients_do_not_stop_rest(self):
        host, port = host_port(self.d)
        idle = []
        live = []
        try:
            for _ in range(500):
                idle.append(socket.create_connection((host, port), timeout=10))
            for _ in range(200):
                s = socket.create_connection((host, port), timeout=10)
                s.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
                live.append(s)
            # Every live client gets a snapshot.
            got, closed = set(), set()
            tails = {s.fileno(): b"" for s in live}
            deadline = time.time() + 30
            while len(got) + len(closed) < len(live) and time.time() < deadline:
                waiting = [s for s in live if s.fileno() not in got | closed]
                r, _, _ = select.select(waiting, [], [], 0.5)
                for s in r:
                    buf = s.recv(1 << 20)
                    if not buf:
                        closed.add(s.fileno())
                        continue
                    text = tails[s.fileno()] + buf  # a marker may span two reads
                    if b"event: snapshot" in text:
                        got.add(s.fileno())
                    tails[s.fileno()] = text[-32:]
            self.assertEqual((len(got), len(closed)), (len(live), 0))
            latencies = []
            for i in range(50):
                t = time.time()
                status, _, body = self.d.get("/api/v1/status" if i % 2 else "/api/v1/alarms",
                                             timeout=5)
                latencies.append(time.time() - t)
                self.assertEqual(status, 200)
                json.loads(body)
            latencies.sort()
            print(f"REST with 500 idle + 200 live clients: median {latencies[25] * 1000:.1f} ms, "
                  f"max {latencies[-1] * 1000:.1f} ms", file=sys.stderr)
        finally:
            for s in idle + live:
                s.close()
        # Memory of the connections is given back to the counters.
        wait_for(lambda: self.d.get("/api/v1/system")[0] == 200, "daemon answers")


if __name__ == "__main__":
    unittest.main(verbosity=2)
