"""Upload bytes in S3-compatible object storage (FTPSGATE_TEST_S3: Swift's
S3 API from scripts/s3-local.sh): a resume goes on exactly where the
stored parts end, and verifies an encrypted upload as if it had never
broken; the store away for a while costs no upload; partial uploads
nobody resumes lose their parts; a node that dies mid-upload leaves it
resumable on another node (with PostgreSQL, FTPSGATE_TEST_PG). What is
stored is read back past the gateway, with rclone's S3 backend."""
import ftplib
import hashlib
import io
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

import ftps
from harness import BACKEND, S3, STORAGE, TOKEN, Gateway, pg_database_for, pg_url

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from relay import Relay  # noqa: E402

MiB = 1 << 20
needs_s3 = unittest.skipIf(STORAGE != "s3", "bytes in object storage (FTPSGATE_TEST_S3)")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def send_and_cut(ftp, name, data, rest=None):
    """STOR that sends data and then loses its connection (no TLS
    close_notify); the 426 is read. What the gateway had not written yet
    when the connection broke (at most 5 MiB) is not kept."""
    conn = ftp.transfercmd("STOR " + name, rest=rest)
    conn.sendall(data)
    # all of it arrives: FIN after the last byte, what the server sends
    # read (a close with unread bytes would be a reset, losing some)
    raw = socket.socket(fileno=conn.detach())
    raw.shutdown(socket.SHUT_WR)
    raw.settimeout(30)
    try:
        while raw.recv(65536):
            pass
    except OSError:
        pass
    raw.close()
    try:
        ftp.voidresp()
    except ftplib.Error:
        pass


def age_encrypt(recipient, plain):
    return subprocess.run(["age", "-r", recipient], input=plain, capture_output=True,
                          check=True, timeout=120).stdout


def wait(gw, pred, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        items = gw.uploads(limit=100)
        found = [u for u in items if pred(u)]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError("no upload %s in %r" % (what, gw.uploads(limit=100)))


@needs_s3
class ResumeTest(unittest.TestCase):
    def setUp(self):
        self.gw = Gateway().start()

    def tearDown(self):
        self.gw.cleanup()

    def test_resume_only_where_the_stored_parts_end(self):
        a = self.gw.create_account(username="parts")
        data = os.urandom(13 * MiB + 5)
        ftp = ftps.login("127.0.0.1", self.gw.ftps_port, "parts", a["password"])
        send_and_cut(ftp, "mail.nsf", data[:12 * MiB])
        rec = wait(self.gw, lambda u: u["state"] == "partial", "partial")
        # whole parts of 5 MiB only (a part less than that is not kept)
        held = rec["bytes_received"]
        self.assertIn(held, (5 * MiB, 10 * MiB))
        self.assertEqual(ftp.sendcmd("SIZE mail.nsf"), "213 %d" % held)
        listing = []
        ftp.retrlines("LIST", listing.append)
        self.assertIn(" %d " % held, listing[0])
        # the SHA-256 of what is kept, from the state kept with the last part
        self.assertEqual(ftp.sendcmd("HASH mail.nsf"),
                         "213 SHA-256 0-%d %s /mail.nsf" % (held, sha(data[:held])))
        # not there, nor past the end
        for rest in (held - 3 * MiB, held + 1 * MiB):
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.storbinary("STOR mail.nsf", io.BytesIO(data[rest:]), rest=rest)
            self.assertTrue(str(e.exception).startswith("554 "), str(e.exception))
        # a partial upload cannot be read before it is complete
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.retrbinary("RETR mail.nsf", lambda b: None)
        self.assertTrue(str(e.exception).startswith("550 "), str(e.exception))
        self.assertEqual(ftp.storbinary("STOR mail.nsf", io.BytesIO(data[held:]), rest=held),
                         "226 Transfer complete.")
        recs = [u for u in self.gw.uploads() if u["path"] == "/mail.nsf"]
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["size"], len(data))
        self.assertEqual(recs[0]["sha256"], sha(data))
        self.assertEqual(self.gw.stored(recs[0]["id"]), data)
        # RETR streams the object, from an offset too
        got = io.BytesIO()
        ftp.retrbinary("RETR mail.nsf", got.write)
        self.assertEqual(got.getvalue(), data)
        got = io.BytesIO()
        ftp.retrbinary("RETR mail.nsf", got.write, rest=len(data) - 100)
        self.assertEqual(got.getvalue(), data[-100:])
        ftp.quit()

    def test_a_resumed_encrypted_upload_is_verified_whole(self):
        a = self.gw.create_account(username="sealed", require_encryption=True)
        plain = os.urandom(24 * MiB)
        enc = age_encrypt(a["key"]["recipient"], plain)
        ftp = ftps.login("127.0.0.1", self.gw.ftps_port, "sealed", a["password"])
        # cut twice, each time past a part
        send_and_cut(ftp, "good.age", enc[:11 * MiB])
        held = int(ftp.sendcmd("SIZE good.age").split()[1])
        self.assertIn(held, (5 * MiB, 10 * MiB))
        send_and_cut(ftp, "good.age", enc[held:held + 11 * MiB], rest=held)
        before, held = held, int(ftp.sendcmd("SIZE good.age").split()[1])
        self.assertIn(held - before, (5 * MiB, 10 * MiB))
        self.assertEqual(ftp.storbinary("STOR good.age", io.BytesIO(enc[held:]), rest=held),
                         "226 Transfer complete.")
        rec = wait(self.gw, lambda u: u["path"] == "/good.age" and u["state"] in ("verified", "imported"),
                   "verified")
        self.assertEqual(rec["sha256"], sha(enc))
        self.assertEqual(rec["import"]["key_id"], a["key"]["id"])
        # one flipped byte after the resume point: the verifier that went
        # on from the stored state finds it
        send_and_cut(ftp, "bad.age", enc[:11 * MiB])
        held = int(ftp.sendcmd("SIZE bad.age").split()[1])
        self.assertIn(held, (5 * MiB, 10 * MiB))
        bad = bytearray(enc[held:])
        bad[1 * MiB] ^= 1
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.storbinary("STOR bad.age", io.BytesIO(bytes(bad)), rest=held)
        self.assertTrue(str(e.exception).startswith("553 Rejected"), str(e.exception))
        rec = wait(self.gw, lambda u: u["path"] == "/bad.age", "bad.age")
        self.assertEqual(rec["state"], "rejected")
        self.assertIsNone(self.gw.stored(rec["id"]))
        self.assertNotIn("bad.age", ftp.nlst())
        ftp.quit()

    def test_names_are_records(self):
        a = self.gw.create_account(username="names")
        ftp = ftps.login("127.0.0.1", self.gw.ftps_port, "names", a["password"])
        ftp.mkd("box")
        ftp.mkd("box/sub")
        ftp.storbinary("STOR box/sub/a.nsf", io.BytesIO(b"a" * 1000))
        with self.assertRaises(ftplib.error_perm):
            ftp.rmd("box")  # not empty
        with self.assertRaises(ftplib.error_perm):
            ftp.rename("box", "box/sub/inside")  # into itself
        ftp.rename("box", "moved")
        self.assertEqual(ftp.nlst("moved/sub"), ["a.nsf"])
        self.assertEqual(ftp.sendcmd("SIZE moved/sub/a.nsf"), "213 1000")
        ftp.rename("moved/sub/a.nsf", "top.nsf")
        ftp.storbinary("STOR other.nsf", io.BytesIO(b"o" * 10))
        ftp.rename("other.nsf", "top.nsf")  # replaces; the first upload's bytes stay
        self.assertEqual(ftp.sendcmd("SIZE top.nsf"), "213 10")
        ftp.sendcmd("MFMT 20200102030405 top.nsf")
        self.assertEqual(ftp.sendcmd("MDTM top.nsf"), "213 20200102030405")
        ftp.delete("top.nsf")
        ftp.rmd("moved/sub")
        ftp.rmd("moved")
        self.assertEqual(ftp.nlst(), [])
        ftp.quit()
        recs = {u["sha256"]: u for u in self.gw.uploads()}
        self.assertEqual(self.gw.stored(recs[sha(b"a" * 1000)]["id"]), b"a" * 1000)
        self.assertEqual(recs[sha(b"o" * 10)]["client_modified_at"], "2020-01-02T03:04:05.000Z")


@needs_s3
class OutageTest(unittest.TestCase):
    def test_store_away_for_10s_during_8_uploads(self):
        """Each upload ends 226 or with a 4xx that leaves it resumable;
        none is lost, none has wrong bytes."""
        host, port = S3["FTPSGATE_S3_ENDPOINT"].rsplit("//", 1)[1].split(":")
        relay = Relay((host, int(port))).start()
        gw = Gateway(env={"FTPSGATE_S3_ENDPOINT": "http://127.0.0.1:%d" % relay.port})
        try:
            gw.start()
            a = gw.create_account(username="outage")
            datas = [os.urandom(24 * MiB + i) for i in range(8)]
            replies = [None] * 8

            def one(i):
                ftp = ftps.login("127.0.0.1", gw.ftps_port, "outage", a["password"], timeout=120)
                try:
                    replies[i] = ftp.storbinary("STOR u%d.bin" % i, io.BytesIO(datas[i]),
                                                blocksize=256 * 1024)
                except ftplib.Error as e:
                    replies[i] = str(e)
                finally:
                    try:
                        ftp.quit()
                    except (OSError, ftplib.Error):
                        pass

            threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            relay.stop()
            time.sleep(10)
            relay.start()
            for t in threads:
                t.join(180)
            self.assertTrue(all(r for r in replies), replies)
            self.assertTrue(all(r.startswith(("226", "451", "426")) for r in replies), replies)
            # the unfinished ones resume from what the store kept
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "outage", a["password"], timeout=120)
            for i, r in enumerate(replies):
                if r.startswith("226"):
                    continue
                wait(gw, lambda u: u["path"] == "/u%d.bin" % i and u["state"] == "partial",
                     "partial u%d" % i)
                held = int(ftp.sendcmd("SIZE u%d.bin" % i).split()[1])
                self.assertEqual(held % (5 * MiB), 0)
                self.assertEqual(ftp.storbinary("STOR u%d.bin" % i, io.BytesIO(datas[i][held:]),
                                                rest=held), "226 Transfer complete.")
            ftp.quit()
            for i, data in enumerate(datas):
                recs = [u for u in gw.uploads(limit=100) if u["path"] == "/u%d.bin" % i]
                self.assertEqual(len(recs), 1, recs)
                self.assertEqual(recs[0]["sha256"], sha(data))
                self.assertEqual(gw.stored(recs[0]["id"]), data)
        finally:
            gw.cleanup()
            relay.stop()

    def test_refused_credentials_degrade_health(self):
        gw = Gateway(env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
        try:
            gw.start(healthy=False)
            status, doc, _ = gw.api("GET", "/health", auth=False)
            self.assertEqual(status, 503, doc)
            self.assertEqual(doc["dependencies"]["storage"]["status"], "down")
            self.assertIn("refused the credentials", doc["dependencies"]["storage"]["error"])
            a = gw.create_account(username="refused")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "refused", a["password"])
            with self.assertRaises(ftplib.error_temp) as e:
                ftp.storbinary("STOR x.bin", io.BytesIO(b"x" * 1000))
            self.assertTrue(str(e.exception).startswith("451 "), str(e.exception))
            ftp.quit()
            self.assertIn("cannot start the multipart upload", gw.logs())
        finally:
            gw.cleanup()
        with Gateway() as gw:
            status, doc, _ = gw.api("GET", "/health", auth=False)
            self.assertEqual(status, 200, doc)
            self.assertEqual(doc["dependencies"]["storage"], {"backend": "s3", "status": "up"})


@needs_s3
class AbandonTest(unittest.TestCase):
    def test_partial_uploads_nobody_resumes_lose_their_parts(self):
        with Gateway(env={"FTPSGATE_S3_ABANDON_AFTER_S": "10"}) as gw:
            a = gw.create_account(username="gone")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "gone", a["password"])
            send_and_cut(ftp, "left.bin", os.urandom(11 * MiB))
            rec = wait(gw, lambda u: u["state"] == "partial", "partial")
            self.assertIn(rec["bytes_received"], (5 * MiB, 10 * MiB))
            rec = wait(gw, lambda u: u["purged_at"], "purged", timeout=60)
            self.assertEqual(rec["state"], "partial")  # the tombstone
            self.assertNotIn("left.bin", ftp.nlst())
            ftp.quit()
            deadline = time.time() + 10  # logged once the sweep is over
            while "aborted 1 multipart upload" not in gw.logs() and time.time() < deadline:
                time.sleep(0.1)
            self.assertIn("aborted 1 multipart upload(s) nobody will resume; 1 partial upload(s)"
                          " untouched for 10 s purged", gw.logs())


@unittest.skipIf(STORAGE != "s3" or BACKEND != "postgresql",
                 "nodes share bytes in object storage and records in PostgreSQL")
class CrossNodeTest(unittest.TestCase):
    SIZE = int(os.environ.get("FTPSGATE_CROSS_MIB", "256")) * MiB

    def test_node_killed_mid_upload_the_client_resumes_on_another(self):
        key = os.urandom(32).hex()
        a = Gateway(env={"FTPSGATE_NODE_ID": "node-a", "FTPSGATE_MASTER_KEY": key})
        url = pg_url(pg_database_for(a.data_dir))
        a.extra_env["FTPSGATE_DATABASE_URL"] = url
        b = Gateway(host="127.0.0.2", env={
            "FTPSGATE_NODE_ID": "node-b", "FTPSGATE_MASTER_KEY": key, "FTPSGATE_DATABASE_URL": url,
            "FTPSGATE_STORAGE_URL": "s3://%s/%s" % (S3["FTPSGATE_STORAGE_URL"][5:].split("/", 1)[0],
                                                    a.s3_prefix())})
        try:
            a.start()
            b.start()
            acct = a.create_account(username="mover", require_encryption=True)
            plain = os.urandom(self.SIZE - 4096)
            enc = age_encrypt(acct["key"]["recipient"], plain)
            ftp = ftps.login(a.host, a.ftps_port, "mover", acct["password"], timeout=120)
            conn = ftp.transfercmd("STOR mail.nsf.age")
            conn.sendall(enc[:len(enc) // 2])
            # node a holds some parts in the store, then dies
            deadline = time.time() + 60
            while time.time() < deadline and a.kept_bytes(1) < len(enc) // 4:
                time.sleep(0.1)
            a.kill9()
            conn.close()
            # node b: once a is gone, its SIZE is what the store kept
            deadline = time.time() + 60
            held, rec = 0, None
            ftp_b = ftps.login(b.host, b.ftps_port, "mover", acct["password"], timeout=120)
            while time.time() < deadline:
                try:
                    held = int(ftp_b.sendcmd("SIZE mail.nsf.age").split()[1])
                except ftplib.Error:
                    held = 0
                if held:
                    rec = b.uploads()[0]
                    if rec["state"] == "partial":
                        break
                time.sleep(0.5)
            self.assertEqual(rec["state"], "partial", rec)
            self.assertEqual(rec["error"], "the node receiving it stopped answering")
            self.assertGreaterEqual(held, len(enc) // 4)
            self.assertEqual(held, rec["bytes_received"])
            self.assertEqual(ftp_b.storbinary("STOR mail.nsf.age", io.BytesIO(enc[held:]), rest=held,
                                              blocksize=1 << 20), "226 Transfer complete.")
            ftp_b.quit()
            rec = wait(b, lambda u: u["state"] in ("imported", "failed"), "imported", timeout=180)
            recs = b.uploads()
            self.assertEqual(len(recs), 1, recs)
            self.assertEqual(rec["state"], "imported", rec)
            self.assertEqual(rec["node"], "node-b")
            self.assertEqual(rec["sha256"], sha(enc))
            self.assertEqual(rec["import"]["key_id"], acct["key"]["id"])
            self.assertEqual(sha(a.stored(rec["id"])), sha(enc))  # the shared prefix: a's
        finally:
            b.cleanup()
            a.cleanup()


if __name__ == "__main__":
    unittest.main()
