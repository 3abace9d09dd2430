"""The admin REST API over HTTPS: auth, accounts, passwords, uploads, and
strict handling of bad requests."""
import hashlib
import socket
import json
import time
import subprocess
import unittest

import harness

import ftps
from harness import TOKEN, Gateway


class AdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway().start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def assertProblem(self, status, doc, headers, want):
        self.assertEqual(status, want, doc)
        self.assertEqual(headers["Content-Type"], "application/problem+json")
        self.assertEqual(doc["status"], want)
        self.assertTrue(doc["title"])
        self.assertTrue(doc["detail"])

    def test_health_needs_no_token(self):
        status, doc, _ = self.gw.api("GET", "/health", auth=False)
        self.assertEqual((status, doc["status"]), (200, "ok"))
        self.assertEqual(doc["dependencies"]["records"],
                         {"backend": harness.BACKEND, "status": "up"})
        self.assertTrue(doc["node"])

    def test_token_required(self):
        for token in (None, "wrong", TOKEN + "x", ""):
            status, doc, headers = self.gw.api("GET", "/accounts", auth=token is not None,
                                               token=token or "")
            self.assertProblem(status, doc, headers, 401)
            self.assertEqual(headers["WWW-Authenticate"], "Bearer")

    def test_create_account_with_curl(self):
        r = subprocess.run(
            ["curl", "-sS", "-k", "--fail-with-body", "-X", "POST",
             "-H", "Authorization: Bearer " + TOKEN, "-H", "Content-Type: application/json",
             "-d", '{"description": "mail migration, site A"}', self.gw.admin_url + "/accounts",
             "-w", "\n%{http_code}"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        body, code = r.stdout.decode().rsplit("\n", 1)
        self.assertEqual(code, "201")
        a = json.loads(body)
        self.assertRegex(a["username"], r"^ftp-[a-z0-9]{10}$")
        self.assertEqual(len(a["password"]), 24)
        self.assertEqual(a["description"], "mail migration, site A")
        self.assertEqual(a["status"], "active")
        self.assertEqual(a["ftps"], {"host": "127.0.0.1", "port": self.gw.ftps_port,
                                     "passive_ports": "%d-%d" % self.gw.passive})
        self.assertRegex(a["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        # The password is shown once: never again.
        status, got, _ = self.gw.api("GET", "/accounts/%d" % a["id"])
        self.assertEqual(status, 200)
        self.assertNotIn("password", got)
        self.assertEqual(got["username"], a["username"])
        # And it works.
        ftps.login("127.0.0.1", self.gw.ftps_port, a["username"], a["password"]).quit()

    def test_duplicate_and_invalid_usernames(self):
        self.gw.create_account(username="dup-user")
        status, doc, h = self.gw.api("POST", "/accounts", {"username": "dup-user"})
        self.assertProblem(status, doc, h, 409)
        for bad in ("", "-x", ".x", "a b", "a/b", "x" * 65, "é"):
            status, doc, h = self.gw.api("POST", "/accounts", {"username": bad})
            self.assertProblem(status, doc, h, 400)

    def test_strict_json(self):
        cases = [
            (b'{"username": "a", "extra": 1}', "extra"),
            (b'{"username": 5}', "username"),
            (b'{"username": "a"} trailing', None),
            (b'{"username": "a", "username": "b"}', None),
            (b'[1]', None),
            (b'{"description": "\xff\xfe"}', None),
            (b'{', None),
            # a field name cut in its problem's detail inside a character:
            # the 64th byte is the first of "\u01bf" (a 400 without a body before)
            (('{"requir%s\u01bfe": true}' % ("@" * 57)).encode(), "requir@"),
        ]
        for raw, field in cases:
            status, doc, h = self.gw.api("POST", "/accounts", raw=raw)
            self.assertProblem(status, doc, h, 400)
            if field:
                self.assertIn(field, doc["detail"])
        status, doc, h = self.gw.api("POST", "/accounts", raw=b'{}', content_type="text/plain")
        self.assertProblem(status, doc, h, 415)
        status, doc, h = self.gw.api("POST", "/accounts", raw=b'{"description": "' + b"x" * 70000 + b'"}')
        self.assertProblem(status, doc, h, 413)
        # still serving
        self.assertEqual(self.gw.api("GET", "/health", auth=False)[0], 200)

    def test_not_found_and_method_not_allowed(self):
        for path in ("/nothing", "/accounts/abc", "/accounts/0", "/accounts/999999",
                     "/uploads/999999", "/accounts/1/nothing", "/uploads/-1"):
            status, doc, h = self.gw.api("GET", path)
            self.assertProblem(status, doc, h, 404)
        status, doc, h = self.gw.api("DELETE", "/health")
        self.assertProblem(status, doc, h, 405)
        self.assertEqual(h["Allow"], "GET")
        status, doc, h = self.gw.api("PUT", "/accounts/1/password", raw=b"{}")
        self.assertProblem(status, doc, h, 405)
        self.assertEqual(h["Allow"], "POST")
        status, doc, h = self.gw.api("PUT", "/accounts/1", raw=b"{}")
        self.assertEqual(h["Allow"], "GET, PATCH, DELETE")

    def test_new_password_replaces_the_old(self):
        a = self.gw.create_account(username="rotating")
        status, doc, _ = self.gw.api("POST", "/accounts/%d/password" % a["id"])
        self.assertEqual(status, 200, doc)
        self.assertNotEqual(doc["password"], a["password"])
        self.assertEqual(doc["username"], "rotating")
        import ftplib
        with self.assertRaises(ftplib.error_perm):
            ftps.login("127.0.0.1", self.gw.ftps_port, "rotating", a["password"])
        ftps.login("127.0.0.1", self.gw.ftps_port, "rotating", doc["password"]).quit()
        status, doc, h = self.gw.api("POST", "/accounts/999999/password")
        self.assertProblem(status, doc, h, 404)

    def test_account_pagination(self):
        for i in range(7):
            self.gw.create_account(username="page-%d" % i)
        seen, cursor = [], None
        while True:
            q = "/accounts?limit=3" + ("&cursor=" + cursor if cursor else "")
            status, doc, _ = self.gw.api("GET", q)
            self.assertEqual(status, 200)
            self.assertLessEqual(len(doc["items"]), 3)
            seen += [a["id"] for a in doc["items"]]
            cursor = doc["next_cursor"]
            if not cursor:
                break
        self.assertEqual(seen, sorted(set(seen)))
        status, doc, _ = self.gw.api("GET", "/accounts?limit=1000")
        self.assertEqual([a["id"] for a in doc["items"]], seen)
        for bad in ("limit=0", "limit=1001", "limit=x", "cursor=-1", "cursor=abc"):
            status, doc, h = self.gw.api("GET", "/accounts?" + bad)
            self.assertProblem(status, doc, h, 400)

    def test_uploads_filters_and_record(self):
        import io
        a = self.gw.create_account(username="lister")
        ftp = ftps.login("127.0.0.1", self.gw.ftps_port, "lister", a["password"])
        for i in range(5):
            ftp.storbinary("STOR f%d" % i, io.BytesIO(b"z" * i))
        ftp.quit()
        items = self.gw.uploads(account_id=a["id"])
        self.assertEqual([u["path"] for u in items], ["/f4", "/f3", "/f2", "/f1", "/f0"])
        page = self.gw.api("GET", "/uploads?account_id=%d&limit=2" % a["id"])[1]
        self.assertEqual(len(page["items"]), 2)
        rest = self.gw.api("GET", "/uploads?account_id=%d&limit=10&cursor=%s"
                           % (a["id"], page["next_cursor"]))[1]
        self.assertEqual([u["path"] for u in rest["items"]], ["/f2", "/f1", "/f0"])
        self.assertIsNone(rest["next_cursor"])
        deadline = time.time() + 20
        while len(self.gw.uploads(account_id=a["id"], state="imported")) < 5 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.gw.uploads(account_id=a["id"], state="imported")), 5)
        self.assertEqual(self.gw.uploads(account_id=a["id"], state="partial"), [])
        status, doc, h = self.gw.api("GET", "/uploads?state=bogus")
        self.assertProblem(status, doc, h, 400)
        status, doc, _ = self.gw.api("GET", "/uploads/%d" % items[0]["id"])
        self.assertEqual(status, 200)
        self.assertEqual(set(doc), {"id", "account_id", "path", "state", "size", "bytes_received",
                                    "sha256", "client_address", "node", "started_at",
                                    "completed_at", "updated_at", "purged_at", "error",
                                    "client_modified_at", "import"})
        self.assertEqual(doc["node"], socket.gethostname())  # node_id's default
        self.assertEqual(doc["size"], 4)
        self.assertEqual(doc["sha256"], hashlib.sha256(b"zzzz").hexdigest())


if __name__ == "__main__":
    unittest.main()
