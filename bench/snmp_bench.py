#!/usr/bin/env python3
"""SNMP agent benchmark: time to snmpbulkwalk / snmpwalk the EQUALIS-MIB block table of a
600-block plant (10 strings × 60 blocks) or any other size (--strings, --blocks; 64 × 64 is the
4096-block plant of docs/limits.md). Prints one JSON object per line:
{"bench": "snmp", "metric", "value", "unit", …conditions}.

    EQUALIS_BIN_DIR=build/release/bin python3 bench/snmp_bench.py [--runs 5] [--strings 64 --blocks 64]
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/integration"))
from equalis_harness import Daemon  # noqa: E402

BLOCK_ENTRY = ".1.3.6.1.4.1.8072.9999.9999.1.1.3.1"
STRINGS, BLOCKS = 10, 60


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emit(metric, value, unit, **conditions):
    print(json.dumps({"bench": "snmp", "metric": metric, "value": round(value, 4), "unit": unit,
                      "strings": STRINGS, "blocks": STRINGS * BLOCKS, **conditions}), flush=True)


def timed(cmd, env):
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    varbinds = sum(1 for line in r.stdout.splitlines() if re.match(r"^\.[\d.]+ = ", line))
    return elapsed, varbinds


def main():
    global STRINGS, BLOCKS
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--strings", type=int, default=STRINGS)
    ap.add_argument("--blocks", type=int, default=BLOCKS, help="blocks per string")
    args = ap.parse_args()
    STRINGS, BLOCKS = args.strings, args.blocks
    tmp = tempfile.mkdtemp(prefix="equalis-snmp-bench-")
    env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=tmp, SNMPCONFPATH=tmp)
    config = os.path.join(tmp, "plant.toml")
    with open(config, "w") as f:
        for i in range(STRINGS):
            f.write(f"[[string]]\nname = \"String {i + 1}\"\nblocks = {BLOCKS}\n\n")
    port = free_udp_port()
    target = f"udp:127.0.0.1:{port}"
    spec = f"127.0.0.1:{port}?v3user=bench&auth=bench-auth-1&priv=bench-priv-1"
    d = Daemon("--config", config, "--snmp", spec, time_scale=1)
    try:
        d.start(timeout_s=60)
        v2c = ["-v2c", "-c", "public"]
        v3 = ["-v3", "-l", "authPriv", "-u", "bench", "-a", "SHA", "-A", "bench-auth-1", "-x",
              "AES", "-X", "bench-priv-1"]
        cases = [
            ("bulkwalk_block_table_s", "snmpbulkwalk", v2c, ["-Cr10"], "v2c", 10),
            ("bulkwalk_block_table_s", "snmpbulkwalk", v2c, ["-Cr50"], "v2c", 50),
            ("bulkwalk_block_table_s", "snmpbulkwalk", v3, ["-Cr50"], "v3-authPriv", 50),
            ("walk_block_table_s", "snmpwalk", v2c, [], "v2c", 1),
        ]
        for metric, tool, auth, extra, security, reps in cases:
            times, varbinds = [], 0
            for _ in range(args.runs if tool == "snmpbulkwalk" else max(1, args.runs // 2)):
                t, varbinds = timed([tool, "-On", "-t", "5", "-r", "1", *auth, *extra, target,
                                     BLOCK_ENTRY], env)
                times.append(t)
            med = statistics.median(times)
            emit(metric, med, "s", tool=tool, security=security, max_repetitions=reps,
                 varbinds=varbinds, runs=len(times), min_s=round(min(times), 4))
            emit(metric.replace("_s", "_varbinds_per_s"), varbinds / med, "1/s", tool=tool,
                 security=security, max_repetitions=reps)
    finally:
        d.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
