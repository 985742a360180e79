"""equalisctl audit verify / list / export on trails written by the audit library
(tests/unit/audit/audit_fixture.cpp): exit codes, messages, filters, CSV (docs/security.md).

Usage: audit_cli_test.py --fixture PATH_TO_audit_fixture [unittest options]"""
import csv
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

from equalis_harness import binary

SAMPLE = os.path.join(os.path.dirname(__file__), "../../config/equalis.sample.toml")
FIXTURE = None


def take_fixture_argument():
    global FIXTURE
    if "--fixture" in sys.argv:
        i = sys.argv.index("--fixture")
        FIXTURE = sys.argv[i + 1]
        del sys.argv[i:i + 2]


class AuditCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="equalis-audit-cli-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.data, "audit.jsonl")
        subprocess.run([FIXTURE, self.data, "12"], check=True, timeout=60)

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args):
        return subprocess.run([binary("equalisctl"), *args], capture_output=True, text=True,
                              timeout=30)

    def lines(self):
        with open(self.log) as f:
            return f.read().splitlines()

    def write_lines(self, lines):
        with open(self.log, "w") as f:
            f.write("".join(line + "\n" for line in lines))

    def test_verify_intact(self):
        r = self.ctl("audit", "verify", "--data-dir", self.data)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = re.fullmatch(r"audit trail intact: 12 records, head ([0-9a-f]{64})\n", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        with open(os.path.join(self.data, "audit.head")) as f:
            self.assertEqual(json.load(f), {"seq": 12, "hash": m.group(1)})
        self.assertEqual(json.loads(self.lines()[-1])["hash"], m.group(1))
        for name in ("audit.jsonl", "audit.head"):
            mode = stat.S_IMODE(os.stat(os.path.join(self.data, name)).st_mode)
            self.assertEqual(mode, 0o600, name)

        report = json.loads(self.ctl("--json", "audit", "verify", "--data-dir", self.data).stdout)
        self.assertEqual(report["ok"], True)
        self.assertEqual(report["records"], 12)
        self.assertEqual(report["head"], {"seq": 12, "hash": m.group(1)})

    def test_verify_reads_the_data_directory_from_the_configuration(self):
        config = os.path.join(self.dir, "equalis.toml")
        with open(SAMPLE) as f:
            sample = f.read()

        def write_config(data_dir):
            text, n = re.subn(r'^data_dir = ".*"$', f'data_dir = "{data_dir}"', sample, flags=re.M)
            self.assertEqual(n, 1)
            with open(config, "w") as f:
                f.write(text)

        write_config(self.data)
        r = self.ctl("audit", "verify", "--config", config)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("12 records", r.stdout)
        write_config("")
        r = self.ctl("audit", "verify", "--config", config)
        self.assertEqual(r.returncode, 1)
        self.assertIn("data_dir", r.stderr)

    def test_verify_finds_a_changed_record(self):
        lines = self.lines()
        record = json.loads(lines[4])
        record["user"] = "mallory"
        lines[4] = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        self.write_lines(lines)
        r = self.ctl("audit", "verify", "--data-dir", self.data)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("record 5: hash does not match its contents (changed after it was written)",
                      r.stdout)
        report = json.loads(self.ctl("--json", "audit", "verify", "--data-dir", self.data).stdout)
        self.assertEqual((report["ok"], report["first_bad_seq"]), (False, 5))

    def test_verify_finds_deleted_records(self):
        lines = self.lines()
        self.write_lines(lines[:-1])
        r = self.ctl("audit", "verify", "--data-dir", self.data)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("record 12 is missing (deleted at the end)", r.stdout)
        self.write_lines(lines[:6] + lines[7:])
        r = self.ctl("audit", "verify", "--data-dir", self.data)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("record 7 is missing (deleted): record 6 is followed by record 8", r.stdout)

    def test_verify_without_a_trail(self):
        r = self.ctl("audit", "verify", "--data-dir", os.path.join(self.dir, "none"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not exist", r.stderr)

    def test_list_filters(self):
        r = self.ctl("--json", "audit", "list", "--data-dir", self.data, "--user", "bob",
                     "--action", "login")
        self.assertEqual(r.returncode, 0, r.stderr)
        records = json.loads(r.stdout)["records"]
        self.assertEqual([x["seq"] for x in records], [6, 12])
        self.assertEqual(records[0]["action"], "login.failure")
        self.assertEqual(records[0]["outcome"], "refused")
        self.assertEqual(records[0]["time"], "2026-01-01T00:06:00.000Z")

        r = self.ctl("--json", "audit", "list", "--data-dir", self.data, "--limit", "3")
        self.assertEqual([x["seq"] for x in json.loads(r.stdout)["records"]], [10, 11, 12])
        r = self.ctl("--json", "audit", "list", "--data-dir", self.data,
                     "--from", "2026-01-01T00:02:00Z", "--to", "2026-01-01T00:04:00Z")
        self.assertEqual([x["seq"] for x in json.loads(r.stdout)["records"]], [2, 3, 4])

        r = self.ctl("audit", "list", "--data-dir", self.data, "--limit", "2")
        self.assertEqual(r.returncode, 0)
        table = r.stdout.splitlines()
        self.assertEqual(len(table), 3, r.stdout)  # header + 2
        self.assertIn("login.failure", table[2])
        # A line break inside a field stays on its row.
        r = self.ctl("audit", "list", "--data-dir", self.data, "--from", "2026-01-01T00:03:00Z",
                     "--to", "2026-01-01T00:03:00Z")
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)
        self.assertIn('(a, "quoted"\\nsecond line)', r.stdout)

    def test_export_csv(self):
        out = os.path.join(self.dir, "audit.csv")
        r = self.ctl("audit", "export", "--data-dir", self.data, "--output", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        with open(out, newline="") as f:
            text = f.read()
        self.assertTrue(text.startswith(
            "time,seq,user,address,via,action,target,old,new,outcome,detail,hash\r\n"))
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(len(rows), 13)
        self.assertEqual(rows[3][:3], ["2026-01-01T00:03:00.000Z", "3", "alice"])
        self.assertEqual(rows[3][10], 'a, "quoted"\nsecond line')
        self.assertEqual(rows[12][11], json.loads(self.lines()[-1])["hash"])

        r = self.ctl("audit", "export", "--data-dir", self.data, "--action", "output.")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.reader(io.StringIO(r.stdout)))
        self.assertEqual([row[1] for row in rows[1:]], ["2", "5", "8", "11"])

    def test_usage(self):
        for args in (["audit"], ["audit", "check"], ["audit", "list", "--limit", "0"],
                     ["audit", "list", "--from", "yesterday"], ["audit", "verify", "--user", "x"],
                     ["audit", "verify", "--data-dir", "a", "--config", "b"],
                     ["audit", "list", "--data-dir"]):
            r = self.ctl(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("equalisctl audit:", r.stderr)


if __name__ == "__main__":
    take_fixture_argument()
    if FIXTURE is None or not os.path.exists(FIXTURE):
        sys.exit("audit_cli_test.py: --fixture PATH_TO_audit_fixture is required")
    unittest.main()
