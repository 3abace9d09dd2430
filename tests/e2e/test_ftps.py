"""Implicit FTPS end to end: real clients (curl, Python ftplib, lftp,
openssl s_client) against the built daemon, under TLS 1.2 and 1.3."""
import ftplib
import hashlib
import io
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import ftps
from harness import COMPLETE, Gateway, skip_unless_file_storage


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class FTPSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway().start()
        cls.acct = cls.gw.create_account(username="uploader")
        cls.other = cls.gw.create_account(username="neighbour")
        cls.tmp = tempfile.mkdtemp(prefix="ftpsgate-client-")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def login(self, tls=None, acct=None):
        a = acct or self.acct
        return ftps.login("127.0.0.1", self.gw.ftps_port, a["username"], a["password"], tls)

    def url(self, path="", acct=None):
        a = acct or self.acct
        return "ftps://%s:%s@127.0.0.1:%d/%s" % (a["username"], a["password"],
                                                   self.gw.ftps_port, path)

    def curl(self, *args, tls="1.3", check=True):
        tls_args = ["--tlsv1.2", "--tls-max", "1.2"] if tls == "1.2" else ["--tlsv1.3"]
        cmd = ["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "60"] + tls_args + list(args)
        return subprocess.run(cmd, capture_output=True, timeout=90, check=check)

    def record_for(self, path):
        return self.gw.wait_upload(lambda u: u["path"] == path and u["state"] != "receiving")

    def test_curl_upload_tls12_and_tls13(self):
        for tls in ("1.2", "1.3"):
            with self.subTest(tls=tls):
                data = os.urandom(3 * 1024 * 1024 + 17)
                src = os.path.join(self.tmp, "curl-%s.age" % tls)
                with open(src, "wb") as f:
                    f.write(data)
                r = self.curl("-T", src, self.url("curl-%s.age" % tls), tls=tls)
                self.assertEqual(r.returncode, 0, r.stderr)
                rec = self.record_for("/curl-%s.age" % tls)
                self.assertIn(rec["state"], COMPLETE)
                self.assertEqual(rec["size"], len(data))
                self.assertEqual(rec["bytes_received"], len(data))
                self.assertEqual(rec["sha256"], sha256(data))
                self.assertEqual(rec["client_address"], "127.0.0.1")
                self.assertEqual(rec["account_id"], self.acct["id"])
                self.assertIsNotNone(rec["completed_at"])
                listing = self.curl(self.url(""), tls=tls).stdout.decode()
                self.assertRegex(listing, r"(?m)^-rw-r-----\s+1 ftp\s+ftp\s+%d \w{3} [ \d]\d [\d:]{4,5} curl-%s\.age\r?$"
                                 % (len(data), re.escape(tls)))

    def test_ftplib_upload_with_session_reuse(self):
        for tls in ("1.2", "1.3"):
            with self.subTest(tls=tls):
                data = os.urandom(1024 * 1024 + 3)
                ftp = self.login(tls)
                self.assertEqual(ftp.sock.version(), "TLSv1.2" if tls == "1.2" else "TLSv1.3")
                self.assertEqual(ftp.pwd(), "/")
                self.assertTrue(ftp.sendcmd("TYPE I").startswith("200"))
                resp = ftp.storbinary("STOR py-%s.bin" % tls, io.BytesIO(data))
                self.assertEqual(resp, "226 Transfer complete.")
                self.assertEqual(ftp.sendcmd("SIZE py-%s.bin" % tls), "213 %d" % len(data))
                self.assertIn("py-%s.bin" % tls, ftp.nlst())
                lines = []
                ftp.retrlines("LIST", lines.append)
                self.assertTrue(any(l.endswith(" py-%s.bin" % tls) for l in lines), lines)
                ftp.quit()
                rec = self.record_for("/py-%s.bin" % tls)
                self.assertEqual(rec["sha256"], sha256(data))
                self.assertEqual(rec["size"], len(data))

    def _session_client(self, kind, acct, ctx, source=None):
        ftp = ftps.ImplicitFTPS(context=ctx, timeout=30)
        ftp.connect("127.0.0.1", self.gw.ftps_port,
                    source_address=(source, 0) if source else None)
        ftp.login(acct["username"], acct["password"])
        ftp.prot_p()
        return ftp

    def _store_with_session(self, b, name, session, ctx):
        """STOR on b's passive port over a data connection that resumes
        `session`: (whether it resumed, b's final reply)."""
        port = self._passive_port(b)
        b.putcmd("STOR " + name)
        raw = socket.create_connection(("127.0.0.1", port), 10)
        self.assertTrue(b.getresp().startswith("150"))
        reused = False
        try:
            conn = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session)
            reused = conn.session_reused
            conn.sendall(b"x" * 100)
            conn.unwrap()
            conn.close()
        except (ssl.SSLError, OSError):
            raw.close()
        try:
            return reused, b.getresp()
        except ftplib.Error as e:
            return reused, str(e)

    def test_sibling_sessions_same_account_and_address_only(self):
        # Clients with several control connections and one session cache
        # (rclone, Go) resume a sibling's session on a data connection:
        # taken when the sibling is logged in to the same account from the
        # same address; refused for another account or another address.
        # TLS 1.2 by ticket and by session id alone, and TLS 1.3.
        for kind in ("1.2", "1.2-ids", "1.3"):
            with self.subTest(tls=kind):
                ctx = ftps.client_context(kind[:3])
                if kind == "1.2-ids":
                    ctx.options |= ssl.OP_NO_TICKET
                a = self._session_client(kind, self.acct, ctx)
                self.assertEqual(a.storbinary("STOR sib-a-%s.bin" % kind, io.BytesIO(b"a")),
                                 "226 Transfer complete.")
                session = a.sock.session
                # the same account from the same address: a sibling
                b = self._session_client(kind, self.acct, ctx)
                reused, reply = self._store_with_session(b, "sib-%s.bin" % kind, session, ctx)
                self.assertTrue(reused)
                self.assertTrue(reply.startswith("226"), reply)
                # ...even once the connection that issued it is gone
                a.quit()
                reused, reply = self._store_with_session(b, "sib2-%s.bin" % kind, session, ctx)
                self.assertTrue(reused)
                self.assertTrue(reply.startswith("226"), reply)
                b.quit()
                # another account from the same address: refused
                a = self._session_client(kind, self.acct, ctx)
                session = a.sock.session
                c = self._session_client(kind, self.other, ctx)
                reused, reply = self._store_with_session(c, "stolen-%s.bin" % kind, session, ctx)
                # (a ticket is not even taken; a session id resumes in TLS,
                # and the data connection is refused all the same)
                self.assertTrue(kind == "1.2-ids" or not reused)
                self.assertTrue(reply.startswith("522"), reply)
                self.assertNotIn("stolen-%s.bin" % kind, c.nlst())
                c.quit()
                # the same account from another address: refused
                d = self._session_client(kind, self.acct, ctx, source="127.0.0.2")
                port = self._passive_port(a)
                a.putcmd("STOR far-%s.bin" % kind)
                raw = socket.create_connection(("127.0.0.1", port), 10)
                self.assertTrue(a.getresp().startswith("150"))
                reused = False
                try:
                    conn = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=d.sock.session)
                    reused = conn.session_reused
                    conn.close()
                except (ssl.SSLError, OSError):
                    raw.close()
                self.assertTrue(kind == "1.2-ids" or not reused)
                with self.assertRaises(ftplib.Error) as e:
                    a.getresp()
                self.assertTrue(str(e.exception).startswith("522"), str(e.exception))
                a.quit()
                d.quit()

    def test_pasv_reply_and_epsv(self):
        ftp = self.login()
        m = re.match(r"227 Entering Passive Mode \((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)\.",
                     ftp.sendcmd("PASV"))
        self.assertIsNotNone(m)
        self.assertEqual(".".join(m.groups()[:4]), "127.0.0.1")
        port = int(m.group(5)) * 256 + int(m.group(6))
        self.assertTrue(self.gw.passive[0] <= port <= self.gw.passive[1], port)
        m = re.match(r"229 Entering Extended Passive Mode \(\|\|\|(\d+)\|\)", ftp.sendcmd("EPSV"))
        self.assertIsNotNone(m)
        self.assertTrue(self.gw.passive[0] <= int(m.group(1)) <= self.gw.passive[1])
        ftp.quit()

    def test_lftp_upload(self):
        if not shutil.which("lftp"):
            self.skipTest("lftp not installed")
        data = os.urandom(700 * 1024)
        src = os.path.join(self.tmp, "lftp.bin")
        with open(src, "wb") as f:
            f.write(data)
        script = ("set ssl:verify-certificate no; set ftp:ssl-protect-data true; "
                  "set ftp:passive-mode true; set net:max-retries 1; set net:timeout 20; "
                  "open -u %s,%s ftps://127.0.0.1:%d; put %s -o lftp.bin; bye"
                  % (self.acct["username"], self.acct["password"], self.gw.ftps_port, src))
        r = subprocess.run(["lftp", "-c", script], capture_output=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)
        rec = self.record_for("/lftp.bin")
        self.assertIn(rec["state"], COMPLETE)
        self.assertEqual(rec["sha256"], sha256(data))

    def test_wrong_password(self):
        ftp = ftps.ImplicitFTPS(context=ftps.client_context())
        ftp.connect("127.0.0.1", self.gw.ftps_port)
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.login(self.acct["username"], "not-the-password")
        self.assertTrue(str(e.exception).startswith("530"))
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.login("nobody-has-this-name", "x")
        self.assertTrue(str(e.exception).startswith("530"))
        ftp.close()
        r = self.curl("-T", "/dev/null", "ftps://%s:bad@127.0.0.1:%d/x" % (
            self.acct["username"], self.gw.ftps_port), check=False)
        self.assertEqual(r.returncode, 67, r.stderr)  # curl: login denied

    def test_prot_c_and_active_mode_refused(self):
        ftp = self.login()
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.sendcmd("PROT C")
        self.assertTrue(str(e.exception).startswith("536"))
        for cmd in ("PORT 127,0,0,1,200,10", "EPRT |1|127.0.0.1|51210|"):
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.sendcmd(cmd)
            self.assertTrue(str(e.exception).startswith("502"), str(e.exception))
        # PROT P is still in force: a transfer works.
        self.assertIn("226", ftp.storbinary("STOR after-prot-c.bin", io.BytesIO(b"x" * 10)))
        ftp.quit()

    def test_transfer_needs_prot_p(self):
        ftp = ftps.ImplicitFTPS(context=ftps.client_context())
        ftp.connect("127.0.0.1", self.gw.ftps_port)
        ftp.login(self.acct["username"], self.acct["password"])
        ftp.sendcmd("PASV")
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.sendcmd("STOR plain.bin")
        self.assertTrue(str(e.exception).startswith("521"))
        ftp.quit()

    def _passive_port(self, ftp):
        m = re.search(r"\(\|\|\|(\d+)\|\)", ftp.sendcmd("EPSV"))
        return int(m.group(1))

    def test_data_connection_without_reuse_gets_522(self):
        for tls in ("1.2", "1.3"):
            with self.subTest(tls=tls):
                ftp = self.login(tls)
                ftp.reuse_session = False
                reply = ftps.stor_reply(ftp, "noreuse.bin", b"secret" * 100)
                self.assertTrue(reply.startswith("522"), reply)
                ftp.reuse_session = True
                self.assertNotIn("noreuse.bin", ftp.nlst())
                ftp.close()

    def test_openssl_s_client_without_sess_in_gets_522(self):
        ftp = self.login("1.3")
        port = self._passive_port(ftp)
        ftp.putcmd("STOR sclient.bin")
        s = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-quiet"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.assertTrue(ftp.getresp().startswith("150"))
        try:
            s.stdin.write(b"data that must not be stored\n")
            s.stdin.flush()
        except BrokenPipeError:
            pass
        with self.assertRaises(ftplib.Error) as e:
            ftp.getresp()
        self.assertTrue(str(e.exception).startswith("522"), str(e.exception))
        s.kill()
        s.wait()
        names = ftp.nlst()
        self.assertNotIn("sclient.bin", names)
        ftp.quit()

    def test_data_connection_from_another_address_refused(self):
        ftp = self.login()
        port = self._passive_port(ftp)
        intruder = socket.socket()
        intruder.bind(("127.0.0.2", 0))
        intruder.settimeout(5)
        intruder.connect(("127.0.0.1", port))
        # The server closes it without a byte; the real client still gets in.
        self.assertEqual(intruder.recv(10), b"")
        intruder.close()
        conn = ftp.transfercmd("NLST")
        conn.close()
        ftp.voidresp()
        ftp.quit()

    def test_paths_cannot_leave_the_account(self):
        ftp = self.login()
        # ".." at the root stays at the root
        self.assertTrue(ftp.cwd("../..").startswith("250"))
        self.assertEqual(ftp.pwd(), "/")
        for bad in ("/../../etc", "../" + str(self.other["id"]), "../../var"):
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.cwd(bad)
            self.assertTrue(str(e.exception).startswith("550"), bad)
            self.assertEqual(ftp.pwd(), "/")
        ftp.storbinary("STOR ../../../escape.bin", io.BytesIO(b"escape"))
        ftp.storbinary("STOR /..//../escape2.bin", io.BytesIO(b"escape"))
        self.assertIn("escape.bin", ftp.nlst())
        self.assertIn("escape2.bin", ftp.nlst())
        with self.assertRaises(ftplib.error_perm):
            ftp.sendcmd("SIZE ../%d/anything" % self.other["id"])
        with self.assertRaises(ftplib.error_perm):
            ftp.storbinary("STOR .ftpsgate-1", io.BytesIO(b"x"))
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.storbinary("STOR no-such-dir/file", io.BytesIO(b"x"))
        self.assertTrue(str(e.exception).startswith("553"), str(e.exception))
        ftp.quit()
        rec = self.record_for("/escape.bin")
        self.assertEqual(rec["account_id"], self.acct["id"])
        var = os.path.join(self.gw.data_dir, "var")
        for top in (var, os.path.dirname(var), os.path.join(var, "accounts")):
            self.assertNotIn("escape.bin", os.listdir(top))
        self.assertIn("escape.bin", self.gw.top_names(self.acct["id"]))
        # The neighbour sees nothing of it.
        other = self.login(acct=self.other)
        self.assertNotIn("escape.bin", other.nlst())
        other.quit()

    def test_utf8_names(self):
        ftp = self.login()
        name = "r\u00e9sum\u00e9-\u65e5\u672c\u8a9e.nsf.age"
        ftp.storbinary("STOR " + name, io.BytesIO(b"utf-8"))
        self.assertIn(name, ftp.nlst())
        self.assertEqual(ftp.sendcmd("SIZE " + name), "213 5")
        ftp.quit()
        self.assertEqual(self.record_for("/" + name)["path"], "/" + name)

    @skip_unless_file_storage("symbolic links placed in an account's directory on disk")
    def test_symlink_in_account_root_is_not_followed(self):
        root = os.path.join(self.gw.data_dir, "var", "accounts", str(self.acct["id"]))
        secret = os.path.join(self.gw.data_dir, "outside-secret")
        with open(secret, "w") as f:
            f.write("secret")
        os.symlink(secret, os.path.join(root, "link"))
        os.symlink("/", os.path.join(root, "rootlink"))
        ftp = self.login()
        with self.assertRaises(ftplib.error_perm):
            ftp.sendcmd("SIZE link")
        with self.assertRaises(ftplib.error_perm):
            ftp.cwd("rootlink")
        ftp.quit()

    def test_plain_client_on_implicit_port_is_dropped(self):
        s = socket.create_connection(("127.0.0.1", self.gw.ftps_port), 10)
        s.sendall(b"USER uploader\r\n")
        s.settimeout(10)
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        self.assertFalse(data.startswith(b"220"), data)
        self.assertFalse(b"331" in data, data)
        s.close()
        # Still serving others.
        ftp = self.login()
        ftp.quit()

    def test_unknown_and_malformed_commands(self):
        ftp = self.login()
        for cmd, code in (("SITE CHMOD 777 x", "502"), ("XYZ", "502"), ("A", "500"),
                          ("STOR", "501"), ("CWD", "501"), ("TYPE Z", "504")):
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.sendcmd(cmd)
            self.assertTrue(str(e.exception).startswith(code), (cmd, str(e.exception)))
        # an overlong line is answered and the session goes on
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.sendcmd("NOOP " + "x" * 3000)
        self.assertTrue(str(e.exception).startswith("500"))
        self.assertEqual(ftp.sendcmd("NOOP"), "200 NOOP ok.")
        # a very long line is answered once, not once per KiB
        ftp.sock.sendall(b"NOOP " + b"y" * 20000 + b"\r\n")
        self.assertTrue(ftp.getline().startswith("500"))
        self.assertEqual(ftp.sendcmd("NOOP"), "200 NOOP ok.")
        self.assertEqual(ftp.sendcmd("SYST"), "215 UNIX Type: L8")
        self.assertEqual(ftp.sendcmd("OPTS UTF8 ON"), "200 Always in UTF8 mode.")
        ftp.quit()

    def test_broken_upload_is_partial(self):
        ftp = self.login()
        conn = ftp.transfercmd("STOR broken.bin")
        conn.sendall(b"y" * 200000)
        # Close the TCP connection without TLS close_notify.
        conn.sock = None
        raw = socket.socket(fileno=conn.detach())
        raw.close()
        with self.assertRaises(ftplib.Error) as e:
            ftp.voidresp()
        self.assertTrue(str(e.exception).startswith("426"), str(e.exception))
        rec = self.gw.wait_upload(lambda u: u["path"] == "/broken.bin" and u["state"] == "partial")
        self.assertIsNone(rec["sha256"])
        self.assertIsNone(rec["size"])
        self.assertLessEqual(rec["bytes_received"], 200000)
        self.assertIn("close_notify", rec["error"])
        # the session is still usable
        self.assertIn("226", ftp.storbinary("STOR after-broken.bin", io.BytesIO(b"ok")))
        ftp.quit()
        # every transfer buffer is given back
        self.gw.wait_metric("ftpsgate_transfer_buffer_bytes", 0)

    def test_control_connection_lost_during_upload(self):
        ftp = self.login()
        conn = ftp.transfercmd("STOR orphan.bin")
        conn.sendall(b"o" * 50000)
        ftp.sock.close()  # the control connection goes away mid-transfer
        try:
            conn.sendall(b"o" * 50000)
            conn.unwrap()
        except OSError:
            pass
        conn.close()
        # The data connection ended with close_notify, so the bytes are
        # whole: either kept as received (the FIN on the control connection
        # is read after the transfer) or, had the control connection been
        # reset first, partial. Never anything in between.
        rec = self.gw.wait_upload(lambda u: u["path"] == "/orphan.bin"
                                  and u["state"] in COMPLETE + ("partial",))
        if rec["state"] != "partial":
            self.assertEqual(rec["sha256"], sha256(b"o" * 100000))
        else:
            self.assertIn("control connection closed", rec["error"])
        self.login().quit()  # still serving
        self.gw.wait_metric("ftpsgate_transfer_buffer_bytes", 0)

    def test_overwrite_keeps_first_upload_bytes(self):
        ftp = self.login()
        first, second = os.urandom(5000), os.urandom(7000)
        ftp.storbinary("STOR same.bin", io.BytesIO(first))
        ftp.storbinary("STOR same.bin", io.BytesIO(second))
        self.assertEqual(ftp.sendcmd("SIZE same.bin"), "213 7000")
        ftp.quit()
        recs = [u for u in self.gw.uploads() if u["path"] == "/same.bin"]
        self.assertEqual(sorted(u["sha256"] for u in recs), sorted([sha256(first), sha256(second)]))
        for u in recs:
            self.assertEqual(sha256(self.gw.stored(u["id"])), u["sha256"])

    def test_many_sessions_at_once(self):
        # A bounded burst: 40 clients log in and upload concurrently.
        import concurrent.futures

        def one(i):
            data = ("%d" % i).encode() * 1000
            ftp = self.login()
            ftp.storbinary("STOR burst-%d.bin" % i, io.BytesIO(data))
            ftp.quit()
            return sha256(data)

        with concurrent.futures.ThreadPoolExecutor(20) as ex:
            sums = list(ex.map(one, range(40), timeout=120))
        recs = {u["path"]: u for u in self.gw.uploads(limit=1000)}
        for i, s in enumerate(sums):
            self.assertEqual(recs["/burst-%d.bin" % i]["sha256"], s)


if __name__ == "__main__":
    unittest.main()
