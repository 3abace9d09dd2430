"""Compatibility suite: real FTPS clients from Debian (curl, lftp, Python
ftplib, wget) under TLS 1.2 and TLS 1.3. Each logs in, lists, uploads a
10 MiB file, is killed half-way and resumes, and the server's record must
hold the right SHA-256 in exactly one 'received' upload; then rename,
delete, make and remove a directory."""
import ftplib
import hashlib
import io
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import ftps
from harness import COMPLETE, STORAGE, Gateway

# Interrupted uploads go slowly enough to be caught halfway: in object
# storage what an upload holds shows only part by part (5 MiB).
RATE = 3000000 if STORAGE == "file" else 1000000

SIZE = 10 * 1024 * 1024
TLS = ("1.2", "1.3")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def kill_halfway(cmd, path_on_server, gw, timeout=30):
    """Run cmd, SIGKILL it once the server holds some but not all bytes."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    receiving_since = None
    try:
        while time.time() < deadline:
            ups = [u for u in gw.uploads() if u["path"] == path_on_server]
            if ups and 0 < ups[0]["bytes_received"] < SIZE // 2 + 1 and ups[0]["state"] == "receiving":
                if ups[0]["bytes_received"] >= SIZE // 10:
                    break
            if STORAGE == "s3" and ups and ups[0]["state"] == "receiving":
                # in object storage what it holds shows part by part (5 MiB):
                # receiving for 2 s is under way (what a resume finds may be 0)
                receiving_since = receiving_since or time.time()
                if time.time() - receiving_since >= 2:
                    break
            if p.poll() is not None:
                raise AssertionError("%s ended before it could be interrupted" % cmd[0])
            time.sleep(0.02)
        else:
            raise AssertionError("upload never got going")
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()


class ClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway().start()
        cls.acct = cls.gw.create_account(username="clients")
        cls.tmp = tempfile.mkdtemp(prefix="ftpsgate-clients-")
        cls.data = os.urandom(SIZE)
        cls.src = os.path.join(cls.tmp, "mail.bin")
        with open(cls.src, "wb") as f:
            f.write(cls.data)

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def url(self, path=""):
        return "ftps://%s:%s@127.0.0.1:%d/%s" % (self.acct["username"], self.acct["password"],
                                                 self.gw.ftps_port, path)

    def ftplib_login(self, tls="1.3"):
        return ftps.login("127.0.0.1", self.gw.ftps_port, self.acct["username"],
                          self.acct["password"], tls)

    def assertOneReceived(self, path):
        recs = [u for u in self.gw.uploads(limit=1000) if u["path"] == path]
        received = [u for u in recs if u["state"] in COMPLETE]
        self.assertEqual(len(received), 1, recs)
        self.assertEqual(received[0]["sha256"], sha256(self.data))
        self.assertEqual(received[0]["size"], SIZE)
        self.assertEqual(len(recs), 1, "the resume continued the same upload: %r" % recs)

    def assertNames(self, present=(), absent=()):
        ftp = self.ftplib_login()
        names = ftp.nlst()
        ftp.quit()
        for n in present:
            self.assertIn(n, names)
        for n in absent:
            self.assertNotIn(n, names)

    def sessions_in_log(self, version):
        return self.gw.logs().count(", TLSv%s" % version)

    # ------------------------------------------------------------ curl

    def curl(self, tls, *args, check=True):
        v = ["--tlsv1.2", "--tls-max", "1.2"] if tls == "1.2" else ["--tlsv1.3"]
        r = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "120"] + v + list(args),
                           capture_output=True, timeout=150)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_curl(self):
        for tls in TLS:
            with self.subTest(tls=tls):
                before = self.sessions_in_log(tls)
                name = "curl-%s.bin" % tls
                self.curl(tls, self.url(""))
                v = ["--tlsv1.2", "--tls-max", "1.2"] if tls == "1.2" else ["--tlsv1.3"]
                kill_halfway(["curl", "-sS", "--ssl-reqd", "-k", "--limit-rate", str(RATE)] + v +
                             ["-T", self.src, self.url(name)], "/" + name, self.gw)
                self.gw.wait_upload(lambda u: u["path"] == "/" + name and u["state"] == "partial",
                                   timeout=60)
                self.curl(tls, "-C", "-", "-T", self.src, self.url(name))  # SIZE + APPE
                self.assertOneReceived("/" + name)
                self.curl(tls, self.url(""), "-Q", "RNFR " + name, "-Q", "RNTO moved-" + name,
                          "-Q", "MKD dir-" + tls, "-Q", "RMD dir-" + tls)
                self.assertNames(present=["moved-" + name], absent=[name, "dir-" + tls])
                self.curl(tls, self.url(""), "-Q", "DELE moved-" + name)
                self.assertNames(absent=["moved-" + name])
                self.assertGreater(self.sessions_in_log(tls), before)

    # ------------------------------------------------------------ lftp

    def lftp(self, tls, commands, check=True):
        prio = "NORMAL:-VERS-ALL:+VERS-TLS%s" % tls
        script = ("set ssl:verify-certificate no; set ssl:priority '%s'; set net:max-retries 1; "
                  "set net:timeout 20; open -u %s,%s ftps://127.0.0.1:%d; %s"
                  % (prio, self.acct["username"], self.acct["password"], self.gw.ftps_port,
                     commands))
        return ["lftp", "-c", script]

    def test_lftp(self):
        for tls in TLS:
            with self.subTest(tls=tls):
                before = self.sessions_in_log(tls)
                name = "lftp-%s.bin" % tls
                r = subprocess.run(self.lftp(tls, "ls"), capture_output=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                kill_halfway(self.lftp(tls, "set net:limit-rate %d; put %s -o %s"
                                       % (RATE, self.src, name)), "/" + name, self.gw)
                self.gw.wait_upload(lambda u: u["path"] == "/" + name and u["state"] == "partial",
                                   timeout=60)
                r = subprocess.run(self.lftp(tls, "put -c %s -o %s" % (self.src, name)),
                                   capture_output=True, timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertOneReceived("/" + name)
                r = subprocess.run(self.lftp(tls, "mv %s moved-%s; mkdir d-%s; rmdir d-%s"
                                             % (name, name, tls, tls)), capture_output=True,
                                   timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertNames(present=["moved-" + name], absent=[name, "d-" + tls])
                r = subprocess.run(self.lftp(tls, "rm moved-" + name), capture_output=True,
                                   timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertNames(absent=["moved-" + name])
                self.assertGreater(self.sessions_in_log(tls), before)

    # ------------------------------------------------------------ ftplib

    def test_ftplib(self):
        for tls in TLS:
            with self.subTest(tls=tls):
                name = "py-%s.bin" % tls
                ftp = self.ftplib_login(tls)
                self.assertEqual(ftp.sock.version(), "TLSv" + tls)
                ftp.retrlines("LIST", lambda line: None)
                # interrupted: half the bytes, then the TCP connection drops
                conn = ftp.transfercmd("STOR " + name)
                conn.sendall(self.data[:SIZE // 2])
                socket.socket(fileno=conn.detach()).close()
                with self.assertRaises(ftplib.Error):
                    ftp.voidresp()
                rec = self.gw.wait_upload(lambda u: u["path"] == "/" + name and u["state"] == "partial",
                                   timeout=60)
                held = int(ftp.sendcmd("SIZE " + name).split()[1])
                self.assertEqual(held, rec["bytes_received"])
                self.assertLessEqual(held, SIZE // 2)
                # resumed with REST + STOR from what the server holds
                resp = ftp.storbinary("STOR " + name, io.BytesIO(self.data[held:]), rest=held)
                self.assertEqual(resp, "226 Transfer complete.")
                self.assertOneReceived("/" + name)
                # the server's own SHA-256 of the file, end to end
                self.assertEqual(ftp.sendcmd("HASH " + name),
                                 "213 SHA-256 0-%d %s /%s" % (SIZE, sha256(self.data), name))
                ftp.rename(name, "moved-" + name)
                self.assertEqual(ftp.mkd("d-" + tls), "/d-" + tls)
                ftp.rmd("d-" + tls)
                ftp.delete("moved-" + name)
                self.assertNotIn("moved-" + name, ftp.nlst())
                ftp.quit()

    # ------------------------------------------------------------ wget

    def test_wget_download_and_resume(self):
        ftp = self.ftplib_login()
        ftp.storbinary("STOR wget-src.bin", io.BytesIO(self.data))
        ftp.quit()
        for tls in TLS:
            with self.subTest(tls=tls):
                out = os.path.join(self.tmp, "wget-%s.bin" % tls)
                with open(out, "wb") as f:
                    f.write(self.data[:SIZE // 3])  # a download cut short earlier
                r = subprocess.run(["wget", "-q", "-c", "--ftps-implicit", "--no-check-certificate",
                                    "--secure-protocol=TLSv%s" % tls.replace(".", "_"),
                                    "-O", out, self.url("wget-src.bin")],
                                   capture_output=True, timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                with open(out, "rb") as f:
                    self.assertEqual(sha256(f.read()), sha256(self.data))


class DownloadsOffTest(unittest.TestCase):
    def test_retr_refused_when_downloads_are_off(self):
        with Gateway(env={"FTPSGATE_DOWNLOADS": "false"}) as gw:
            a = gw.create_account(username="noretr")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "noretr", a["password"])
            ftp.storbinary("STOR x", io.BytesIO(b"x"))
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.retrbinary("RETR x", lambda b: None)
            self.assertIn("550 Downloads are disabled", str(e.exception))
            ftp.quit()




class RcloneTest(unittest.TestCase):
    """rclone 1.60 (Go's crypto/tls) runs its transfers on parallel control
    connections that share one TLS session cache: a data connection
    resumes whichever sibling's session is newest. It also sets each
    file's time with MFMT after the upload."""

    def test_copy_with_parallel_transfers(self):
        src = tempfile.mkdtemp(prefix="ftpsgate-rclone-")
        try:
            files = {}
            for i in range(8):
                data = os.urandom((1 << 20) + i * 4099)
                path = os.path.join(src, "mail-%d.bin" % i)
                with open(path, "wb") as f:
                    f.write(data)
                os.utime(path, (1700000000 + i, 1700000000 + i))
                files["mail-%d.bin" % i] = data
            with Gateway() as gw:
                for tls, extra in (("1.3", []), ("1.2", ["--ftp-disable-tls13"])):
                    with self.subTest(tls=tls):
                        name = "rclone%s" % tls.replace(".", "")
                        a = gw.create_account(username=name)
                        secret = subprocess.run(["rclone", "obscure", a["password"]], check=True,
                                                capture_output=True, text=True).stdout.strip()
                        dest = (":ftp,host=127.0.0.1,port=%d,user=%s,pass=%s,tls=true,"
                                "no_check_certificate=true:" % (gw.ftps_port, name, secret))
                        r = subprocess.run(["rclone", "copy", src, dest, "--transfers", "4",
                                            "--checkers", "4", "-v", "--config", "/dev/null"] + extra,
                                           capture_output=True, text=True, timeout=180)
                        errors = [l for l in r.stderr.splitlines() if "ERROR" in l]
                        self.assertEqual((r.returncode, errors), (0, []), r.stderr[-3000:])
                        recs = {u["path"]: u for u in gw.uploads(account_id=a["id"])}
                        self.assertEqual(sorted(recs), sorted("/" + n for n in files))
                        for n, data in files.items():
                            rec = recs["/" + n]
                            self.assertIn(rec["state"], COMPLETE)
                            self.assertEqual(rec["sha256"], sha256(data))
                            i = int(n.split("-")[1].split(".")[0])
                            self.assertEqual(rec["client_modified_at"],
                                             time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                           time.gmtime(1700000000 + i)))
                        # a second run finds everything there (sizes and times match)
                        r = subprocess.run(["rclone", "copy", src, dest, "--transfers", "4", "-v",
                                            "--config", "/dev/null"] + extra,
                                           capture_output=True, text=True, timeout=180)
                        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
                        self.assertEqual(len(gw.uploads(account_id=a["id"])), len(files))
        finally:
            shutil.rmtree(src, ignore_errors=True)


class RefusalTest(unittest.TestCase):
    """A refused upload is explained to the client: the data connection
    ends with close_notify after what the client still sends was read, so
    that every client reads the reply (before, curl stopped at a send
    error, lftp re-sent in a loop, ftplib raised SSLEOFError)."""

    def test_clients_read_why_an_upload_was_refused(self):
        src = tempfile.mktemp(prefix="ftpsgate-refused-")
        data = os.urandom(5 << 20)
        with open(src, "wb") as f:
            f.write(data)
        try:
            with Gateway() as gw:
                enc = gw.create_account(username="strict", require_encryption=True)
                small = gw.create_account(username="small", quota_bytes=1000000)
                cases = [(enc, "553", "not an age file"), (small, "552", "Exceeded storage allocation")]
                for acct, code, text in cases:
                    user, pw = acct["username"], acct["password"]
                    with self.subTest(client="ftplib", case=code):
                        ftp = ftps.login("127.0.0.1", gw.ftps_port, user, pw)
                        with self.assertRaises(ftplib.error_perm) as e:
                            ftp.storbinary("STOR py.bin", io.BytesIO(data))
                        self.assertTrue(str(e.exception).startswith(code), str(e.exception))
                        self.assertIn(text, str(e.exception))
                        self.assertTrue(ftp.sendcmd("NOOP").startswith("200"))
                        ftp.quit()
                    with self.subTest(client="curl", case=code):
                        r = subprocess.run(["curl", "-sS", "-v", "-k", "--ssl-reqd", "-T", src,
                                            "ftps://%s:%s@127.0.0.1:%d/curl.bin" % (user, pw, gw.ftps_port)],
                                           capture_output=True, text=True, timeout=60)
                        self.assertNotEqual(r.returncode, 0)
                        self.assertIn("< " + code + " ", r.stderr)
                        self.assertNotIn("Send failure", r.stderr)
                    with self.subTest(client="lftp", case=code):
                        r = subprocess.run(["lftp", "-c", "set ssl:verify-certificate no; set ftp:ssl-force true;"
                                            " set ftp:ssl-protect-data true; set net:max-retries 2;"
                                            " set net:timeout 10; open -u %s,%s ftps://127.0.0.1:%d;"
                                            " put %s -o lftp.bin" % (user, pw, gw.ftps_port, src)],
                                           capture_output=True, text=True, timeout=120)
                        self.assertNotEqual(r.returncode, 0)
                        self.assertIn(code + " ", r.stderr)  # a permanent refusal, not retried
                        self.assertIn(text, r.stderr)
                # each attempt was one upload record, refused once
                for acct, code, _ in cases:
                    recs = gw.uploads(account_id=acct["id"])
                    self.assertEqual(len(recs), 3, recs)
                    self.assertEqual({u["state"] for u in recs},
                                     {"rejected"} if code == "553" else {"partial"})
        finally:
            os.unlink(src)


if __name__ == "__main__":
    unittest.main()
