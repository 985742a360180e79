#!/usr/bin/env python3
"""HTTP benchmark: equalisd's status document of a 600-block plant (10 strings × 60 blocks)
against nginx serving the same bytes as a static file, measured side by side with wrk at 32
connections in one run; then the same while 200 live-update clients are connected; peak RSS of
the daemon under that load and after it. Prints one JSON object per line:
{"bench": "http", "metric", "value", "unit", …conditions}.

    EQUALIS_BIN_DIR=build/bin python3 bench/http_bench.py [--seconds 10] [--connections 32]

Needs wrk and nginx (Debian packages wrk, nginx-light; scripts/setup installs them).
"""
import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/integration"))
from equalis_harness import Daemon  # noqa: E402

STRINGS, BLOCKS = 10, 60


def emit(metric, value, unit, **conditions):
    print(json.dumps({"bench": "http", "metric": metric, "value": round(value, 4), "unit": unit,
                      "strings": STRINGS, "blocks": STRINGS * BLOCKS, **conditions}), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid, key="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def to_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v = float(m.group(1))
    return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]


def wrk(url, seconds, connections):
    r = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                       capture_output=True, text=True, timeout=seconds + 60)
    out = r.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: to_ms(re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1)) for p in (50, 99)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat[50], lat[99], int(errors.group(1)) if errors else 0


def start_nginx(tmp, root, port):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
daemon off;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  server {{ listen 127.0.0.1:{port}; root {root}; default_type application/json; }}
}}
""")
    p = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nginx did not start: " + p.stderr.read().decode())


def live_clients(host, port, n, stop):
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port))
        s.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        s.setblocking(False)
        socks.append(s)
    while not stop.is_set():
        for s in socks:
            try:
                while s.recv(1 << 20):
                    pass
            except BlockingIOError:
                pass
        time.sleep(0.05)
    for s in socks:
        s.close()


def main():
    global STRINGS, BLOCKS
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--live", type=int, default=200)
    ap.add_argument("--strings", type=int, default=STRINGS)
    ap.add_argument("--blocks", type=int, default=BLOCKS, help="blocks per string")
    args = ap.parse_args()
    STRINGS, BLOCKS = args.strings, args.blocks
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    tmp = tempfile.mkdtemp(prefix="equalis-http-bench-")
    config = os.path.join(tmp, "plant.toml")
    with open(config, "w") as f:
        for i in range(STRINGS):
            f.write(f"[[string]]\nname = \"String {i + 1}\"\nblocks = {BLOCKS}\n\n")
    d = Daemon("--config", config, time_scale=1)
    nginx = None
    try:
        d.start(timeout_s=60)
        pid = d.proc.pid
        host, port = d.url.rsplit("//", 1)[1].split(":")
        port = int(port)
        _, _, doc = d.get("/api/v1/status")
        root = os.path.join(tmp, "www")
        os.makedirs(root)
        with open(os.path.join(root, "status.json"), "wb") as f:
            f.write(doc)
        # nginx's workers run as another user when started as root.
        for path in (tmp, root, os.path.join(root, "status.json")):
            os.chmod(path, 0o755)
        nginx_port = free_port()
        nginx = start_nginx(tmp, root, nginx_port)
        idle_rss = rss_kib(pid)
        cond = {"connections": args.connections, "seconds": args.seconds, "bytes": len(doc)}
        # Side by side, twice each, alternating, so a busy moment hits both.
        results = {"equalis": [], "nginx": []}
        for _ in range(2):
            results["nginx"].append(wrk(f"http://127.0.0.1:{nginx_port}/status.json",
                                        args.seconds, args.connections))
            results["equalis"].append(wrk(f"{d.url}/api/v1/status", args.seconds,
                                          args.connections))
        best = {k: max(v, key=lambda r: r[0]) for k, v in results.items()}
        if best["nginx"][3] or best["equalis"][3]:
            raise RuntimeError(f"non-2xx answers in the comparison: {best}")
        for name, (rps, p50, p99, errors) in best.items():
            emit("status_requests_per_s", rps, "1/s", server=name, **cond)
            emit("status_p50_ms", p50, "ms", server=name, **cond)
            emit("status_p99_ms", p99, "ms", server=name, non_2xx=errors, **cond)
        emit("status_throughput_ratio", best["equalis"][0] / best["nginx"][0], "x",
             goal=">= 0.5", **cond)
        # With live-update clients connected.
        stop = threading.Event()
        t = threading.Thread(target=live_clients, args=(host, port, args.live, stop), daemon=True)
        t.start()
        time.sleep(3)
        rps, p50, p99, errors = wrk(f"{d.url}/api/v1/status", args.seconds, args.connections)
        emit("status_requests_per_s", rps, "1/s", server="equalis", live_clients=args.live, **cond)
        emit("status_p99_ms", p99, "ms", server="equalis", live_clients=args.live,
             non_2xx=errors, goal="< 50", **cond)
        peak = rss_kib(pid, "VmHWM")
        stop.set()
        t.join()
        time.sleep(5)
        emit("daemon_rss_mib", idle_rss / 1024, "MiB", phase="idle")
        emit("daemon_rss_mib", peak / 1024, "MiB", phase="peak", goal="<= 48")
        emit("daemon_rss_mib", rss_kib(pid) / 1024, "MiB", phase="after")
    finally:
        if nginx:
            nginx.terminate()
            nginx.wait()
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
