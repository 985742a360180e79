"""RADIUS logins against a real FreeRADIUS on loopback.

A private freeradius (a configuration of its own in a temporary directory: one client, a users
file, PAP, listening on 127.0.0.1 on a free port) checks the passwords of names that are not local
accounts. It requires a valid Message-Authenticator (RFC 3579) in every Access-Request, so every
login that works proves equalisd's RADIUS client signs its requests right. `radtest` first proves the server answers as set up. Then equalisd with [radius]
enabled: alice (Filter-Id "equalis-operator") is an operator who may acknowledge an alarm but not
change a rule or read the audit trail; bob (Filter-Id "Admin") is an admin; carol (accepted
without a role) and wrong passwords are refused with 401 and recorded; a name that is a local
account is never sent to RADIUS; with freeradius stopped a RADIUS login fails with 503 "RADIUS
server not reachable" while the daemon goes on serving (and local logins work); `equalisctl audit
list` shows the logins with their method.

freeradius and radtest must be installed (scripts/setup installs freeradius and
freeradius-utils): without them the test fails. The configuration is written from scratch (not a
copy of /etc/freeradius, which only root and freerad may read), so any user can run the test.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from equalis_harness import COMM_LOSS_SCENARIO, Daemon, binary, wait_for  # noqa: E402
from security_test import Browser, add_user  # noqa: E402

SECRET = "it-shared-secret-42"
NAS_IDENTIFIER = "equalis-it"

USERS = """\
alice\tCleartext-Password := "pw-alice"
\tFilter-Id := "equalis-operator"

bob\tCleartext-Password := "pw-bob"
\tFilter-Id := "Admin",
\tClass := 0x0102

carol\tCleartext-Password := "pw-carol"
\tReply-Message := "welcome"

lena\tCleartext-Password := "pw-lena-radius"
\tFilter-Id := "equalis-admin"
"""

# The server's whole configuration: modules and dictionaries come from the freeradius packages
# (/usr/lib/freeradius, /usr/share/freeradius), everything else is here.
RADIUSD_CONF = """\
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = %(tmp)s/log
raddbdir = %(raddb)s
radacctdir = ${logdir}/radacct
name = freeradius
confdir = ${raddbdir}
modconfdir = ${confdir}/mods-config
run_dir = %(tmp)s/run
db_dir = ${raddbdir}
libdir = /usr/lib/freeradius
pidfile = ${run_dir}/${name}.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
\tdestination = stdout
}
security {
\tallow_core_dumps = no
\tmax_attributes = 200
\treject_delay = 1
\tstatus_server = no
}
client localhost {
\tipaddr = 127.0.0.1
\tsecret = %(secret)s
\trequire_message_authenticator = yes
}
modules {
\tpap {
\t}
\tfiles {
\t\tfilename = ${confdir}/users
\t}
}
server default {
\tlisten {
\t\ttype = auth
\t\tipaddr = 127.0.0.1
\t\tport = %(port)d
\t}
\tauthorize {
\t\tfiles
\t\tpap
\t}
\tauthenticate {
\t\tAuth-Type PAP {
\t\t\tpap
\t\t}
\t}
\tpost-auth {
\t}
}
"""

PLANT = """\
[[string]]
blocks = 8

[[string]]
blocks = 8

[radius]
enabled = true
servers = ["127.0.0.1:%(port)d"]
secret_file = "%(secret_file)s"
timeout_ms = 2000
retries = 0
nas_identifier = "%(nas)s"
"""


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FreeRadius:
    """freeradius -X on 127.0.0.1:port with a configuration of its own."""

    def __init__(self, tmp, port):
        self.port = port
        self.dir = os.path.join(tmp, "raddb")
        self.log_path = os.path.join(tmp, "freeradius.log")
        self.proc = None
        for tool in ("freeradius", "radtest"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} is not installed (scripts/setup installs "
                                     "freeradius and freeradius-utils)")
        for d in (self.dir, os.path.join(tmp, "log"), os.path.join(tmp, "run")):
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(self.dir, "radiusd.conf"), "w") as f:
            f.write(RADIUSD_CONF % {"tmp": tmp, "raddb": self.dir, "secret": SECRET,
                                    "port": port})
        with open(os.path.join(self.dir, "users"), "w") as f:
            f.write(USERS)

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["freeradius", "-X", "-d", self.dir], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"freeradius exited ({self.proc.returncode}):\n"
                                     + self.log_tail())
            if "Ready to process requests" in self.read_log():
                return self
            time.sleep(0.1)
        raise AssertionError("freeradius did not start:\n" + self.log_tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def log_tail(self, n=40):
        return "\n".join(self.read_log().splitlines()[-n:])

    def radtest(self, user, password):
        r = subprocess.run(["radtest", user, password, f"127.0.0.1:{self.port}", "0", SECRET],
                           capture_output=True, text=True, timeout=60)
        return r.stdout + r.stderr


class RadiusLoginTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="equalis-radius-")
        cls.radius = None
        cls.d = None
        try:
            cls.radius = FreeRadius(cls.tmp, free_udp_port())
            cls.radius.start()
            secret_file = os.path.join(cls.tmp, "radius-secret")
            with open(os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(SECRET + "\n")
            config = os.path.join(cls.tmp, "plant.toml")
            with open(os.open(config, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write(PLANT % {"port": cls.radius.port, "secret_file": secret_file,
                                 "nas": NAS_IDENTIFIER})
            scenario = os.path.join(cls.tmp, "comm-loss.toml")
            with open(scenario, "w") as f:
                f.write(COMM_LOSS_SCENARIO)
            cls.d = Daemon("--config", config, "--scenario", scenario, time_scale=60).start()
            # A local account named like a RADIUS user: the local account wins.
            add_user(cls.d.data_dir, "lena", "viewer", "pw-lena-local")
            wait_for(lambda: any(a["key"] == "block.comm_lost/2/5"
                                 for a in cls.d.get_json("/api/v1/alarms")["alarms"]),
                     "the comm-loss alarm", 30)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.d:
            cls.d.cleanup()
        if cls.radius:
            cls.radius.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def audit(self, action):
        r = subprocess.run([binary("equalisctl"), "--json", "audit", "list", "--action", action,
                            "--data-dir", self.d.data_dir], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        data = json.loads(r.stdout)
        return data["records"] if isinstance(data, dict) else data

    def test_1_freeradius_answers_as_set_up(self):
        out = self.radius.radtest("alice", "pw-alice")
        self.assertIn("Received Access-Accept", out)
        self.assertIn('Filter-Id = "equalis-operator"', out)
        self.assertIn("Received Access-Accept", self.radius.radtest("carol", "pw-carol"))
        self.assertIn("Received Access-Reject", self.radius.radtest("alice", "wrong"))

    def test_2_an_operator_from_filter_id(self):
        b = Browser(self.d)
        status, body, _ = b.login("alice", "pw-alice")
        self.assertEqual(status, 200, body)
        self.assertEqual((body["user"], body["role"]), ("alice", "operator"))
        status, body, _ = b.call("GET", "/api/v1/session")
        self.assertEqual((body["user"], body["role"]), ("alice", "operator"))
        # An operator write: acknowledge the comm-loss alarm (with the session's CSRF token).
        status, body, _ = b.call("POST", "/api/v1/alarms/ack?key=block.comm_lost/2/5", {})
        self.assertEqual(status, 200, body)
        acks = [r for r in self.audit("alarm.acknowledge") if r["user"] == "alice"]
        self.assertTrue(acks)
        # Not an admin write, and not the audit trail.
        status, body, _ = b.call("PUT", "/api/v1/alarms/rules/block.temperature_high",
                                 {"warning": 33})
        self.assertEqual(status, 403, body)
        self.assertIn("this needs the admin role", body["error"]["message"])
        self.assertEqual(b.call("GET", "/api/v1/audit")[0], 403)
        # What freeradius received: the NAS-Identifier, the client's address, and a
        # Message-Authenticator (which freeradius checked: a wrong one is dropped).
        log = self.radius.read_log()
        self.assertIn(f'NAS-Identifier = "{NAS_IDENTIFIER}"', log)
        self.assertIn('Calling-Station-Id = "127.0.0.1"', log)
        ours = [r for r in log.split("Received Access-Request")[1:]
                if f'NAS-Identifier = "{NAS_IDENTIFIER}"' in r]
        self.assertTrue(ours)
        for request in ours:
            self.assertIn("Message-Authenticator = 0x", request)
        self.assertNotIn("invalid Message-Authenticator", log)

    def test_3_an_admin_reads_the_trail_over_rest(self):
        b = Browser(self.d)
        status, body, _ = b.login("bob", "pw-bob")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["role"], "admin")
        status, body, _ = b.call("GET", "/api/v1/audit?action=login.success")
        self.assertEqual(status, 200, body)
        radius_logins = [r for r in body["records"] if r["detail"].endswith("method radius")]
        self.assertIn("bob", {r["user"] for r in radius_logins})

    def test_4_no_role_and_wrong_passwords_are_refused_and_recorded(self):
        b = Browser(self.d)
        status, body, _ = b.login("carol", "pw-carol")
        self.assertEqual(status, 401, body)
        self.assertEqual(body["error"]["message"], "unknown user or wrong password")
        status, body, _ = b.login("alice", "not-her-password")
        self.assertEqual(status, 401, body)
        self.assertEqual(body["error"]["message"], "unknown user or wrong password")
        status, body, _ = b.login("nobody", "whatever-password")
        self.assertEqual(status, 401, body)
        failures = self.audit("login.failure")
        for user in ("carol", "alice", "nobody"):
            mine = [r for r in failures if r["user"] == user]
            self.assertTrue(mine, user)
            self.assertEqual(mine[-1]["outcome"], "refused")
            self.assertEqual(mine[-1]["detail"], "unknown user or wrong password, method radius")
            self.assertEqual(mine[-1]["address"], "127.0.0.1")

    def test_5_a_local_account_wins(self):
        b = Browser(self.d)
        status, body, _ = b.login("lena", "pw-lena-radius")
        self.assertEqual(status, 401, body)
        status, body, _ = b.login("lena", "pw-lena-local")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["role"], "viewer")
        lena = [r for r in self.radius.read_log().splitlines() if 'User-Name = "lena"' in r]
        self.assertEqual(lena, [], "a local account's name was sent to RADIUS")

    def test_6_radius_down_is_503_and_the_daemon_goes_on(self):
        self.radius.stop()
        b = Browser(self.d)
        start = time.time()
        status, body, _ = b.login("alice", "pw-alice")
        self.assertEqual(status, 503, body)
        self.assertEqual(body["error"]["message"], "RADIUS server not reachable")
        self.assertLess(time.time() - start, 15)
        # Not a failed password: more attempts are not throttled.
        for _ in range(5):
            self.assertEqual(b.login("alice", "pw-alice")[0], 503)
        self.assertEqual(self.d.get("/api/v1/system")[0], 200)
        self.assertEqual(Browser(self.d).login("lena", "pw-lena-local")[0], 200)
        failed = [r for r in self.audit("login.failure")
                  if r["user"] == "alice" and r["outcome"] == "failed"]
        self.assertTrue(failed)
        self.assertEqual(failed[-1]["detail"], "RADIUS server not reachable, method radius")

    def test_7_equalisctl_audit_lists_the_radius_logins(self):
        successes = self.audit("login.success")
        by_user = {r["user"]: r for r in successes}
        self.assertEqual(by_user["alice"]["detail"], "role operator, method radius")
        self.assertEqual(by_user["bob"]["detail"], "role admin, method radius")
        self.assertEqual(by_user["lena"]["detail"], "role viewer")
        verify = subprocess.run([binary("equalisctl"), "audit", "verify", "--data-dir",
                                 self.d.data_dir], capture_output=True, text=True, timeout=30)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)

    def test_8_the_reasons_are_logged(self):
        self.d.proc.terminate()
        _, err = self.d.proc.communicate(timeout=30)
        self.assertIn("RADIUS accepted 'carol' but the login is refused: the Access-Accept has "
                      "no Filter-Id attribute", err)
        self.assertIn(f"RADIUS login of 'alice': no answer from 127.0.0.1:{self.radius.port}",
                      err)
        self.assertNotIn(SECRET, err)
        self.assertNotIn("pw-alice", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
