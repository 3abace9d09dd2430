"""Per-account policy with real clients (curl, lftp, Python's ftplib):
allowed_addresses, max_file_bytes, allowed_names, rate_limit_bytes_per_s
and max_sessions, each allowed and refused, from 127.0.0.1 and 127.0.0.2;
the server-wide defaults; tls_max_version; and no TLS 1.3 ticket or
KeyUpdate on an upload's data connection through a 4 GiB upload."""
import ftplib
import io
import os
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import ftps
from harness import Gateway


def curl(*args, source=None, timeout=120):
    cmd = ["curl", "-sS", "--ssl-reqd", "-k", "--max-time", str(timeout)]
    if source:
        cmd += ["--interface", source]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout + 30)


def last_reply(stderr):
    """The last FTP reply curl -v printed."""
    lines = [l[2:] for l in stderr.splitlines() if l.startswith("< ") and l[2:3].isdigit()]
    return lines[-1] if lines else ""


def lftp(gw, acct, commands, source=None):
    bind = "set net:socket-bind-ipv4 %s; " % source if source else ""
    script = ("set ssl:verify-certificate no; set net:max-retries 1; set net:timeout 20; %s"
              "open -u %s,%s ftps://127.0.0.1:%d; %s"
              % (bind, acct["username"], acct["password"], gw.ftps_port, commands))
    return subprocess.run(["lftp", "-c", script], capture_output=True, text=True, timeout=120)


class PolicyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.small = os.path.join(cls.tmp.name, "small.bin")
        cls.big = os.path.join(cls.tmp.name, "big.bin")
        with open(cls.small, "wb") as f:
            f.write(os.urandom(200_000))
        with open(cls.big, "wb") as f:
            f.write(os.urandom(3_000_000))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def url(self, gw, acct, name=""):
        return "ftps://%s:%s@127.0.0.1:%d/%s" % (acct["username"], acct["password"],
                                                 gw.ftps_port, name)

    def patch(self, gw, acct, body):
        status, doc, _ = gw.api("PATCH", "/accounts/%d" % acct["id"], body)
        self.assertEqual(status, 200, doc)
        return doc

    # ------------------------------------------------------------ addresses

    def test_allowed_addresses(self):
        with Gateway() as gw:
            a = gw.create_account(allowed_addresses=["127.0.0.1/32", "2001:db8::/32"])
            self.assertEqual(a["allowed_addresses"], ["127.0.0.1", "2001:db8::/32"])
            failed = gw.metric('ftpsgate_logins_total{result="failed"}')
            # allowed: ftplib and curl from 127.0.0.1
            ftp = ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"])
            self.assertTrue(ftp.storbinary("STOR ok.bin", io.BytesIO(b"x" * 1000)).startswith("226"))
            # the data connection of this session from another address is refused
            host, port = ftp.makepasv()
            s = socket.create_connection((host, port), 5, source_address=("127.0.0.2", 0))
            s.settimeout(5)
            try:
                self.assertEqual(s.recv(1), b"")  # closed at once
            except ConnectionResetError:
                pass
            s.close()
            ftp.close()
            r = curl("-v", self.url(gw, a))
            self.assertEqual(r.returncode, 0, r.stderr)
            # refused, as a wrong password is: ftplib, curl, lftp from 127.0.0.2
            with self.assertRaises(ftplib.error_perm) as e:
                ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"],
                           source="127.0.0.2")
            self.assertTrue(str(e.exception).startswith("530"), e.exception)
            r = curl("-v", self.url(gw, a), source="127.0.0.2")
            self.assertNotEqual(r.returncode, 0)
            self.assertTrue(last_reply(r.stderr).startswith("530"), r.stderr)
            r = lftp(gw, a, "ls", source="127.0.0.2")
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn("530", r.stderr)
            self.assertGreaterEqual(gw.metric('ftpsgate_logins_total{result="failed"}'), failed + 3)
            self.assertIn("not in the account's allowed_addresses", gw.logs())
            # another account, with no list of its own, logs in from 127.0.0.2
            b = gw.create_account()
            self.assertIsNone(b["allowed_addresses"])
            ftps.login("127.0.0.1", gw.ftps_port, b["username"], b["password"],
                       source="127.0.0.2").close()
            # a session from an address the admin takes out of the list ends
            ftp = ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"])
            doc = self.patch(gw, a, {"allowed_addresses": ["127.0.0.2"]})
            self.assertEqual(doc["effective_policy"]["allowed_addresses"], ["127.0.0.2"])
            deadline = time.time() + 10
            ended = None
            while time.time() < deadline and ended is None:
                try:
                    ftp.voidcmd("NOOP")
                    time.sleep(0.1)
                except (ftplib.Error, OSError, EOFError) as err:
                    ended = str(err)
            self.assertIsNotNone(ended)
            ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"],
                       source="127.0.0.2").close()
            # back to the server's default (anywhere): null
            doc = self.patch(gw, a, {"allowed_addresses": None})
            self.assertIsNone(doc["allowed_addresses"])
            ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"]).close()

    def test_failed_logins_from_a_refused_address_earn_a_ban(self):
        with Gateway(env={"FTPSGATE_BAN_AFTER_FAILURES": "3"}) as gw:
            a = gw.create_account(allowed_addresses=["127.0.0.1"])
            for _ in range(2):
                with self.assertRaises(ftplib.error_perm):
                    ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"],
                               source="127.0.0.2")
            # the third failure bans the address: 421 instead of 530
            with self.assertRaises((ftplib.error_temp, EOFError, OSError)):
                ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"],
                           source="127.0.0.2")
            status, bans, _ = gw.api("GET", "/bans")
            self.assertEqual(status, 200)
            self.assertIn(("address", "127.0.0.2"), [(b["kind"], b["key"]) for b in bans["items"]])

    def test_default_allowed_addresses(self):
        with Gateway(env={"FTPSGATE_DEFAULT_ALLOWED_ADDRESSES": "127.0.0.2, 10.0.0.0/8"}) as gw:
            a = gw.create_account()
            self.assertEqual(a["effective_policy"]["allowed_addresses"],
                             ["127.0.0.2", "10.0.0.0/8"])
            with self.assertRaises(ftplib.error_perm):
                ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"])
            ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"],
                       source="127.0.0.2").close()
            # an account's own empty list means anywhere
            self.patch(gw, a, {"allowed_addresses": []})
            ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"]).close()

    # ------------------------------------------------------------ sizes

    def test_max_file_bytes(self):
        with Gateway() as gw:
            a = gw.create_account(max_file_bytes=1_000_000)
            # under the limit: stored
            r = curl("-T", self.small, self.url(gw, a, "small.bin"))
            self.assertEqual(r.returncode, 0, r.stderr)
            # over it: 552, and what arrived stays partial
            r = curl("-v", "-T", self.big, self.url(gw, a, "big.bin"))
            self.assertNotEqual(r.returncode, 0)
            self.assertTrue(last_reply(r.stderr).startswith("552"), r.stderr)
            self.assertIn("1000000", last_reply(r.stderr))
            up = gw.wait_upload(lambda u: u["path"] == "/big.bin" and u["state"] == "partial")
            self.assertLessEqual(up["bytes_received"], 1_000_000)
            self.assertIn("max_file_bytes", up["error"])
            # a resume that would cross it (curl: SIZE, then APPE) is refused the same way
            r = curl("-v", "-C", "-", "-T", self.big, self.url(gw, a, "big.bin"))
            self.assertTrue(last_reply(r.stderr).startswith("552"), r.stderr)
            up = gw.wait_upload(lambda u: u["path"] == "/big.bin")
            self.assertLessEqual(up["bytes_received"], 1_000_000)
            self.assertEqual(up["state"], "partial")
            # REST past the limit: refused before any byte moves (ftplib)
            ftp = ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"])
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.storbinary("STOR far.bin", io.BytesIO(b"x"), rest=2_000_000)
            self.assertTrue(str(e.exception).startswith("552"), e.exception)
            self.assertTrue(ftp.voidcmd("NOOP").startswith("200"))
            ftp.close()
            # raised: the same resume completes
            self.patch(gw, a, {"max_file_bytes": 10_000_000})
            r = curl("-C", "-", "-T", self.big, self.url(gw, a, "big.bin"))
            self.assertEqual(r.returncode, 0, r.stderr)
            up = gw.wait_upload(lambda u: u["path"] == "/big.bin" and u["state"] != "partial")
            self.assertEqual(up["size"], 3_000_000)

    def test_default_max_file_bytes_and_an_account_without_limit(self):
        with Gateway(env={"FTPSGATE_DEFAULT_MAX_FILE_BYTES": "100000"}) as gw:
            a = gw.create_account()
            self.assertIsNone(a["max_file_bytes"])
            self.assertEqual(a["effective_policy"]["max_file_bytes"], 100000)
            r = curl("-v", "-T", self.small, self.url(gw, a, "s.bin"))
            self.assertTrue(last_reply(r.stderr).startswith("552"), r.stderr)
            b = gw.create_account(max_file_bytes=0)  # its own: no limit
            r = curl("-T", self.small, self.url(gw, b, "s.bin"))
            self.assertEqual(r.returncode, 0, r.stderr)

    # ------------------------------------------------------------ names

    def test_allowed_names(self):
        with Gateway() as gw:
            a = gw.create_account(allowed_names=["*.nsf.age", "*.ntf.age"])
            self.assertEqual(a["allowed_names"], ["*.nsf.age", "*.ntf.age"])
            # STOR of another name: 553 with the patterns (curl)
            r = curl("-v", "-T", self.small, self.url(gw, a, "mail.zip"))
            self.assertNotEqual(r.returncode, 0)
            reply = last_reply(r.stderr)
            self.assertTrue(reply.startswith("553"), r.stderr)
            self.assertIn("*.nsf.age, *.ntf.age", reply)
            # allowed, in any case, also in a directory (lftp)
            r = lftp(gw, a, "mkdir sub; put %s -o sub/Mail.NSF.age" % self.small)
            self.assertEqual(r.returncode, 0, r.stderr)
            # APPE of another name (curl --append)
            r = curl("-v", "--append", "-T", self.small, self.url(gw, a, "notes.txt"))
            self.assertTrue(last_reply(r.stderr).startswith("553"), r.stderr)
            # RNTO to another name: 553 (ftplib); the file keeps its name
            ftp = ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"])
            self.assertTrue(ftp.storbinary("STOR a.nsf.age", io.BytesIO(b"y" * 100)).startswith("226"))
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.rename("a.nsf.age", "a.exe")
            self.assertTrue(str(e.exception).startswith("553"), e.exception)
            self.assertIn("*.nsf.age", str(e.exception))
            self.assertIn("a.nsf.age", ftp.nlst())
            self.assertTrue(ftp.rename("a.nsf.age", "b.ntf.age").startswith("250"))
            ftp.close()
            # lftp's mv to another name is refused too
            r = lftp(gw, a, "mv b.ntf.age b.txt")
            self.assertNotEqual(r.returncode, 0, r.stdout)
            self.assertIn("553", r.stderr)
            self.assertIn("name_refused", gw.logs())
            # an empty list: any name
            self.patch(gw, a, {"allowed_names": []})
            r = curl("-T", self.small, self.url(gw, a, "mail.zip"))
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_default_allowed_names(self):
        with Gateway(env={"FTPSGATE_DEFAULT_ALLOWED_NAMES": "*.age"}) as gw:
            a = gw.create_account()
            self.assertEqual(a["effective_policy"]["allowed_names"], ["*.age"])
            r = curl("-v", "-T", self.small, self.url(gw, a, "plain.bin"))
            self.assertTrue(last_reply(r.stderr).startswith("553"), r.stderr)
            r = curl("-T", self.small, self.url(gw, a, "x.age"))
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_policy_values_are_refused(self):
        with Gateway() as gw:
            a = gw.create_account()
            for body in ({"allowed_addresses": ["10.0.0.1/8"]},
                         {"allowed_addresses": ["example.com"]},
                         {"allowed_addresses": "127.0.0.1"},
                         {"allowed_addresses": ["127.0.0.1, 10.0.0.0/8"]},
                         {"allowed_addresses": ["10.0.0.%d" % i for i in range(33)]},
                         {"allowed_names": ["a/b"]},
                         {"allowed_names": [""]},
                         {"allowed_names": ["x\u0001"]},
                         {"allowed_names": [7]},
                         {"max_file_bytes": -1},
                         {"rate_limit_bytes_per_s": "fast"},
                         {"max_sessions": 1_000_001}):
                status, doc, _ = gw.api("PATCH", "/accounts/%d" % a["id"], body)
                self.assertEqual(status, 400, (body, doc))
                self.assertIn("detail", doc)
            status, doc, headers = gw.api("GET", "/accounts/%d" % a["id"])
            self.assertEqual(headers["ETag"], '"v1"')  # nothing changed
            self.assertIsNone(doc["allowed_addresses"])
            # changes are audited with the fields named
            self.patch(gw, a, {"max_sessions": 3, "allowed_names": ["*.age"]})
            status, audit, _ = gw.api("GET", "/audit?account_id=%d" % a["id"])
            self.assertIn("policy set: allowed_names, max_sessions", audit["items"][0]["detail"])

    # ------------------------------------------------------------ sessions

    def test_max_sessions(self):
        with Gateway(env={"FTPSGATE_MAX_SESSIONS_PER_ACCOUNT": "3"}) as gw:
            a = gw.create_account(max_sessions=2)
            held = [ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"]),
                    ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"],
                               source="127.0.0.2")]
            with self.assertRaises((ftplib.error_temp, EOFError, OSError)) as e:
                ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"])
            self.assertIn("421", str(e.exception))
            r = curl("-v", self.url(gw, a))
            self.assertIn("421", r.stderr)
            # another account has the server's 3
            b = gw.create_account()
            self.assertEqual(b["effective_policy"]["max_sessions"], 3)
            more = [ftps.login("127.0.0.1", gw.ftps_port, b["username"], b["password"])
                    for _ in range(3)]
            with self.assertRaises((ftplib.error_temp, EOFError, OSError)):
                ftps.login("127.0.0.1", gw.ftps_port, b["username"], b["password"])
            # a slot comes back when a session ends; a raised limit applies at once
            held.pop().quit()
            time.sleep(0.3)
            held.append(ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"]))
            self.patch(gw, a, {"max_sessions": 3})
            held.append(ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"]))
            for f in held + more:
                f.close()

    # ------------------------------------------------------------ rate

    def test_rate_limit_shared_fairly_by_two_sessions(self):
        rate = 1_000_000
        size = 3_000_000
        with Gateway() as gw:
            a = gw.create_account(rate_limit_bytes_per_s=rate)
            data = os.urandom(size)
            results = {}

            def upload(name, source):
                ftp = ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"],
                                 source=source)
                began = time.monotonic()
                reply = ftp.storbinary("STOR %s" % name, io.BytesIO(data), blocksize=65536)
                results[name] = (reply, time.monotonic() - began)
                ftp.close()

            threads = [threading.Thread(target=upload, args=("one.bin", None)),
                       threading.Thread(target=upload, args=("two.bin", "127.0.0.2"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            self.assertEqual(sorted(results), ["one.bin", "two.bin"])
            # together at the account's rate, each at half of it: 6 s each
            for name, (reply, secs) in results.items():
                self.assertTrue(reply.startswith("226"), reply)
                each = size / secs
                self.assertGreater(each, rate / 2 * 0.8, (name, secs))
                self.assertLess(each, rate / 2 * 1.2, (name, secs))
            # one session alone has the whole rate
            results.clear()
            upload("three.bin", None)
            reply, secs = results["three.bin"]
            self.assertGreater(size / secs, rate * 0.8, secs)
            self.assertLess(size / secs, rate * 1.2, secs)
            # null: back to the server's default (none here)
            self.patch(gw, a, {"rate_limit_bytes_per_s": None})
            results.clear()
            upload("four.bin", None)
            self.assertLess(results["four.bin"][1], size / rate * 0.5)


class TlsSettingsTest(unittest.TestCase):
    def test_tls_max_version_12(self):
        with Gateway(env={"FTPSGATE_TLS_MAX_VERSION": "1.2"}) as gw:
            a = gw.create_account()
            ftp = ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"],
                             tls_version="1.2")
            self.assertEqual(ftp.sock.version(), "TLSv1.2")
            self.assertTrue(ftp.storbinary("STOR a.bin", io.BytesIO(b"z" * 5000)).startswith("226"))
            ftp.close()
            with self.assertRaises(ssl.SSLError):
                ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"],
                           tls_version="1.3")
            r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % gw.ftps_port,
                                "-tls1_3"], input="", capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0, r.stdout)

    def test_bad_tls_max_version_is_refused_at_start(self):
        gw = Gateway(env={"FTPSGATE_TLS_MAX_VERSION": "1.1"})
        try:
            with self.assertRaises(Exception):
                gw.start(timeout=10)
            self.assertIn("tls_max_version", gw.logs())
        finally:
            gw.cleanup()

    def test_no_ticket_or_key_update_on_a_4_gib_upload(self):
        """The data connection of an upload carries no post-handshake
        message from the server: a client that never reads it (most do not
        while they send) must not find one waiting at the end."""
        total = 4 << 30
        block = os.urandom(1 << 20)
        with Gateway() as gw:
            a = gw.create_account()
            ctx = ftps.client_context("1.3")
            seen = []

            def on_message(conn, direction, version, content_type, msg_type, data):
                if direction == "read" and content_type == ssl._TLSContentType.HANDSHAKE:
                    seen.append((conn, msg_type))

            ctx._msg_callback = on_message
            ftp = ftps.ImplicitFTPS(context=ctx, timeout=120)
            ftp.connect("127.0.0.1", gw.ftps_port)
            ftp.login(a["username"], a["password"])
            ftp.prot_p()
            conn = ftp.transfercmd("STOR big.bin")
            self.assertTrue(conn.session_reused)
            handshake_done = len(seen)
            sent = 0
            while sent < total:
                conn.sendall(block)
                sent += len(block)
            conn.unwrap()
            conn.close()
            self.assertTrue(ftp.voidresp().startswith("226"))
            ftp.close()
            late = [m for c, m in seen[handshake_done:] if c is conn]
            self.assertFalse([m for m in late if m in (ssl._TLSMessageType.NEWSESSION_TICKET,
                                                       ssl._TLSMessageType.KEY_UPDATE)], late)
            up = gw.wait_upload(lambda u: u["path"] == "/big.bin" and u["state"] != "receiving")
            self.assertEqual(up["size"], total)


if __name__ == "__main__":
    unittest.main()
