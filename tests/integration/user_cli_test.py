"""equalisctl user / token: accounts edited in a data directory without equalisd, passwords piped
on standard input or read from a file (docs/security.md, "Accounts")."""
import json
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from equalis_harness import binary


class UserCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="equalis-users-")
        self.users = os.path.join(self.dir, "users.json")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args, stdin=""):
        return subprocess.run([binary("equalisctl"), *args, "--data-dir", self.dir], input=stdin,
                              capture_output=True, text=True, timeout=60)

    def test_add_and_list_with_a_piped_password(self):
        r = self.ctl("user", "add", "alice", "--role", "admin", stdin="alice's password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("user 'alice' added as admin", r.stdout)
        self.assertNotIn("alice's password", r.stdout + r.stderr)
        r = self.ctl("user", "add", "victor", "--role", "viewer", stdin="victor's password")
        self.assertEqual(r.returncode, 0, r.stderr)

        r = self.ctl("user", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["Name", "Role", "Created"])
        self.assertEqual([line.split()[:2] for line in lines[1:]],
                         [["alice", "admin"], ["victor", "viewer"]])
        listed = json.loads(self.ctl("--json", "user", "list").stdout)
        self.assertEqual([(u["name"], u["role"]) for u in listed["users"]],
                         [("alice", "admin"), ("victor", "viewer")])

        self.assertEqual(stat.S_IMODE(os.stat(self.users).st_mode), 0o600)
        with open(self.users) as f:
            text = f.read()
        self.assertIn("$argon2id$v=19$m=19456,t=2,p=1$", text)
        self.assertNotIn("alice's password", text)

    def test_changes_are_in_the_audit_trail(self):
        self.assertEqual(self.ctl("user", "add", "alice", "--role", "admin",
                                  stdin="alice-pass-1\n").returncode, 0)
        self.assertEqual(self.ctl("user", "add", "bob", "--role", "viewer",
                                  stdin="bob-pass-1\n").returncode, 0)
        self.assertEqual(self.ctl("user", "role", "bob", "operator").returncode, 0)
        self.assertEqual(self.ctl("user", "remove", "alice").returncode, 1)  # the last admin
        with open(os.path.join(self.dir, "audit.jsonl")) as f:
            records = [json.loads(line) for line in f]
        self.assertEqual([(r["action"], r["target"], r["old_value"], r["new_value"], r["outcome"],
                           r["via"]) for r in records],
                         [("user.add", "alice", "", "admin", "ok", "cli"),
                          ("user.add", "bob", "", "viewer", "ok", "cli"),
                          ("user.role", "bob", "viewer", "operator", "ok", "cli"),
                          ("user.remove", "alice", "admin", "", "refused", "cli")])
        self.assertTrue(all(r["user"].startswith("cli:") for r in records))
        r = self.ctl("audit", "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_passwords_from_a_file_and_refusals(self):
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w") as f:
            f.write("from a file 1\n")
        r = self.ctl("user", "add", "alice", "--role", "admin", "--password-file", pw)
        self.assertEqual(r.returncode, 0, r.stderr)

        r = self.ctl("user", "add", "bob", "--role", "viewer", stdin="short\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("password is too short: at least 8 bytes", r.stderr)
        r = self.ctl("user", "add", "bob", "--role", "viewer", stdin="")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no password on standard input", r.stderr)
        r = self.ctl("user", "add", "al ice", "--role", "viewer", stdin="long enough\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("user name 'al ice' has a character other than", r.stderr)
        r = self.ctl("user", "add", "alice", "--role", "viewer", stdin="long enough\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("user 'alice' already exists", r.stderr)
        r = self.ctl("user", "remove", "alice")
        self.assertEqual(r.returncode, 1)
        self.assertIn("it is the last admin", r.stderr)
        r = self.ctl("user", "role", "alice", "viewer")
        self.assertEqual(r.returncode, 1)
        r = self.ctl("user", "add", "bob", "--role", "root", stdin="long enough\n")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown role 'root'", r.stderr)
        r = self.ctl("user", "frobnicate")
        self.assertEqual(r.returncode, 2)

        r = self.ctl("user", "add", "bob", "--role", "viewer", stdin="bob's password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ctl("user", "role", "bob", "admin")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ctl("user", "passwd", "bob", stdin="bob's new password\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ctl("user", "remove", "alice")
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = json.loads(self.ctl("--json", "user", "list").stdout)
        self.assertEqual([(u["name"], u["role"]) for u in listed["users"]], [("bob", "admin")])

    def test_tokens(self):
        r = self.ctl("token", "create", "grafana", "--role", "viewer")
        self.assertEqual(r.returncode, 0, r.stderr)
        secret = r.stdout.splitlines()[1]
        self.assertRegex(secret, r"^eqt_[A-Za-z0-9_-]{43}$")
        self.assertIn("not shown again", r.stderr)
        with open(self.users) as f:
            self.assertNotIn(secret[4:], f.read())

        listed = json.loads(self.ctl("--json", "token", "list").stdout)["tokens"]
        self.assertEqual(len(listed), 1)
        self.assertEqual((listed[0]["label"], listed[0]["role"]), ("grafana", "viewer"))
        self.assertNotIn("secret", listed[0])
        r = self.ctl("token", "list")
        self.assertIn(listed[0]["id"], r.stdout)
        self.assertNotIn(secret, r.stdout)

        r = self.ctl("token", "revoke", listed[0]["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.ctl("token", "revoke", listed[0]["id"])
        self.assertEqual(r.returncode, 1)
        self.assertIn("no token", r.stderr)
        r = self.ctl("token", "create", "x", "--role", "boss")
        self.assertEqual(r.returncode, 2)

    def test_a_damaged_file_is_reported_and_kept(self):
        with open(self.users, "w") as f:
            f.write('{"format": 1, "users": [{"name": "alice", "role": "boss"}]}')
        r = self.ctl("user", "list")
        self.assertEqual(r.returncode, 1)
        self.assertIn("users[1].role: unknown role 'boss'", r.stderr)
        r = self.ctl("user", "add", "bob", "--role", "viewer", stdin="bob's password\n")
        self.assertEqual(r.returncode, 1)
        with open(self.users) as f:
            self.assertIn('"boss"', f.read())

    def test_missing_data_directory(self):
        r = subprocess.run([binary("equalisctl"), "user", "list", "--data-dir",
                            os.path.join(self.dir, "nope")], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not exist", r.stderr)


if __name__ == "__main__":
    unittest.main()
