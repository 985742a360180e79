"""User and API-token administration over REST, a user's own password, and account edits made
with equalisctl while equalisd runs — all in the audit trail (docs/security.md, "Accounts")."""

import json
import os
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from equalis_harness import Daemon, binary  # noqa: E402
from security_test import Browser, audit_records  # noqa: E402


def wait_for_record(data_dir, predicate, timeout_s=15):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        found = [r for r in audit_records(data_dir) if predicate(r)]
        if found:
            return found
        time.sleep(0.2)
    return []


class UserAdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(time_scale=60).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_1_admin_adds_a_user_who_logs_in(self):
        status, body = self.d.request("POST", "/api/v1/users",
                                      {"name": "nora", "password": "nora-pass-1",
                                       "role": "operator"})
        self.assertEqual(status, 201, body)
        self.assertEqual(body, {"name": "nora", "role": "operator"})
        status, body = self.d.request("POST", "/api/v1/users",
                                      {"name": "NORA", "password": "other-pass-1",
                                       "role": "viewer"})
        self.assertEqual(status, 400, body)
        self.assertIn("already exists", body["error"]["message"])
        status, body = self.d.request("POST", "/api/v1/users",
                                      {"name": "x", "password": "short", "role": "viewer"})
        self.assertEqual(status, 400, body)
        self.assertIn("too short", body["error"]["message"])
        status, body = self.d.request("POST", "/api/v1/users",
                                      {"name": "y", "password": "long-enough", "role": "root"})
        self.assertEqual(status, 400, body)
        self.assertIn("unknown role 'root'", body["error"]["message"])

        users = self.d.get_json("/api/v1/users")["users"]
        self.assertIn(("nora", "operator"), [(u["name"], u["role"]) for u in users])
        b = Browser(self.d)
        status, body, _ = b.login("nora", "nora-pass-1")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["role"], "operator")

        added = [r for r in audit_records(self.d.data_dir)
                 if r["action"] == "user.add" and r["target"] == "nora"]
        self.assertEqual(len(added), 1)
        self.assertEqual((added[0]["user"], added[0]["via"], added[0]["new_value"], added[0]["outcome"]),
                         ("tests", "rest", "operator", "ok"))
        refused = [r for r in audit_records(self.d.data_dir)
                   if r["action"] == "user.add" and r["outcome"] == "refused"]
        self.assertGreaterEqual(len(refused), 2)

    def test_2_only_admins_administer(self):
        b = Browser(self.d)
        self.assertEqual(b.call("GET", "/api/v1/users")[0], 401)
        self.d.request("POST", "/api/v1/users",
                       {"name": "olga", "password": "olga-pass-1", "role": "operator"})
        self.assertEqual(b.login("olga", "olga-pass-1")[0], 200)
        status, body, _ = b.call("GET", "/api/v1/users")
        self.assertEqual(status, 403, body)
        status, body, _ = b.call("POST", "/api/v1/users",
                                 {"name": "mallory", "password": "mallory-pass", "role": "admin"})
        self.assertEqual(status, 403, body)
        self.assertNotIn("mallory", [u["name"] for u in self.d.get_json("/api/v1/users")["users"]])
        denied = [r for r in audit_records(self.d.data_dir)
                  if r["action"] == "access.denied" and r["user"] == "olga"]
        self.assertGreaterEqual(len(denied), 2)

    def test_3_role_change_ends_sessions_and_records_old_and_new(self):
        self.d.request("POST", "/api/v1/users",
                       {"name": "paul", "password": "paul-pass-1", "role": "operator"})
        b = Browser(self.d)
        self.assertEqual(b.login("paul", "paul-pass-1")[0], 200)
        status, body = self.d.request("PUT", "/api/v1/users/paul", {"role": "viewer"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["role"], "viewer")
        status, body, _ = b.call("GET", "/api/v1/session")
        self.assertFalse(body["authenticated"], body)
        changes = [r for r in audit_records(self.d.data_dir)
                   if r["action"] == "user.role" and r["target"] == "paul"]
        self.assertEqual([(r["old_value"], r["new_value"]) for r in changes], [("operator", "viewer")])
        status, body = self.d.request("PUT", "/api/v1/users/nobody", {"role": "viewer"})
        self.assertEqual(status, 404, body)
        status, body = self.d.request("PUT", "/api/v1/users/paul", {})
        self.assertEqual(status, 400, body)

    def test_4_last_admin_stays_and_removal(self):
        self.d.request("POST", "/api/v1/users",
                       {"name": "root-ada", "password": "ada-pass-123", "role": "admin"})
        status, body = self.d.request("DELETE", "/api/v1/users/root-ada")
        self.assertEqual(status, 400, body)
        self.assertIn("last admin", body["error"]["message"])
        status, body = self.d.request("PUT", "/api/v1/users/root-ada", {"role": "viewer"})
        self.assertEqual(status, 400, body)
        self.d.request("POST", "/api/v1/users",
                       {"name": "quinn", "password": "quinn-pass-1", "role": "viewer"})
        status, body = self.d.request("DELETE", "/api/v1/users/quinn")
        self.assertEqual(status, 200, body)
        names = [u["name"] for u in self.d.get_json("/api/v1/users")["users"]]
        self.assertNotIn("quinn", names)
        self.assertIn("root-ada", names)
        removed = [r for r in audit_records(self.d.data_dir) if r["action"] == "user.remove"]
        self.assertEqual([(r["target"], r["old_value"], r["outcome"]) for r in removed],
                         [("root-ada", "admin", "refused"), ("quinn", "viewer", "ok")])

    def test_5_own_password(self):
        self.d.request("POST", "/api/v1/users",
                       {"name": "rita", "password": "rita-pass-1", "role": "viewer"})
        b = Browser(self.d)
        self.assertEqual(b.login("rita", "rita-pass-1")[0], 200)
        status, body, _ = b.call("PUT", "/api/v1/session/password",
                                 {"current": "wrong-one", "password": "rita-pass-2"})
        self.assertEqual(status, 403, body)
        status, body, _ = b.call("PUT", "/api/v1/session/password",
                                 {"current": "rita-pass-1", "password": "rita-pass-2"},
                                 csrf=False)
        self.assertEqual(status, 403, body)  # a session's write needs its CSRF token
        status, body, _ = b.call("PUT", "/api/v1/session/password",
                                 {"current": "rita-pass-1", "password": "rita-pass-2"})
        self.assertEqual(status, 200, body)
        self.assertFalse(b.call("GET", "/api/v1/session")[1]["authenticated"])
        self.assertEqual(b.login("rita", "rita-pass-1")[0], 401)
        self.assertEqual(b.login("rita", "rita-pass-2")[0], 200)
        # Anonymous callers and tokens cannot use it.
        status, _ = self.d.request("PUT", "/api/v1/session/password",
                                   {"current": "a", "password": "bbbbbbbb"}, auth=False)
        self.assertEqual(status, 401)
        status, _ = self.d.request("PUT", "/api/v1/session/password",
                                   {"current": "a", "password": "bbbbbbbb"})
        self.assertEqual(status, 403)
        records = [(r["user"], r["outcome"]) for r in audit_records(self.d.data_dir)
                   if r["action"] == "user.password" and r["target"] == "rita"]
        self.assertEqual(records, [("rita", "refused"), ("rita", "ok")])

    def test_6_tokens_over_rest(self):
        status, body = self.d.request("POST", "/api/v1/tokens",
                                      {"label": "grafana", "role": "viewer"})
        self.assertEqual(status, 201, body)
        secret, token_id = body["secret"], body["id"]
        self.assertTrue(secret.startswith("eqt_"))
        listed = self.d.get_json("/api/v1/tokens")["tokens"]
        self.assertIn(token_id, [t["id"] for t in listed])
        self.assertNotIn("secret", json.dumps(listed))

        def get_with(token):
            req = urllib.request.Request(self.d.url + "/api/v1/users",
                                         headers={"Authorization": "Bearer " + token})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code

        self.assertEqual(get_with(secret), 403)  # a viewer token may not list users
        status, body = self.d.request("DELETE", f"/api/v1/tokens/{token_id}")
        self.assertEqual(status, 200, body)
        self.assertEqual(get_with(secret), 401)
        status, body = self.d.request("DELETE", f"/api/v1/tokens/{token_id}")
        self.assertEqual(status, 404, body)
        actions = [(r["action"], r["target"], r["outcome"]) for r in audit_records(self.d.data_dir)
                   if r["target"] == "token:" + token_id]
        self.assertEqual(actions, [("token.create", "token:" + token_id, "ok"),
                                   ("token.revoke", "token:" + token_id, "ok"),
                                   ("token.revoke", "token:" + token_id, "refused")])

    def test_7_equalisctl_edits_while_running_are_audited(self):
        r = subprocess.run([binary("equalisctl"), "user", "add", "cli-carl", "--role", "viewer",
                            "--data-dir", self.d.data_dir], input="carl-pass-1\n",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        found = wait_for_record(self.d.data_dir,
                                lambda r: r["action"] == "user.add" and r["target"] == "cli-carl")
        self.assertEqual([(r["via"], r["new_value"]) for r in found], [("file", "viewer")])
        r = subprocess.run([binary("equalisctl"), "user", "role", "cli-carl", "admin",
                            "--data-dir", self.d.data_dir], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        found = wait_for_record(self.d.data_dir,
                                lambda r: r["action"] == "user.role" and r["target"] == "cli-carl")
        self.assertEqual([(r["old_value"], r["new_value"]) for r in found], [("viewer", "admin")])
        r = subprocess.run([binary("equalisctl"), "audit", "verify", "--data-dir",
                            self.d.data_dir], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
