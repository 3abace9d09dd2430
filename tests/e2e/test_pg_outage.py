"""PostgreSQL goes away for 10 s in the middle of 20 running uploads and
200 logins, and comes back: nothing crashes, logins answer 421, a new
STOR 451 and the API 503 while it is away; no upload a client was told
was complete is lost, the uploads that ended meanwhile are recorded once
it is back and resume to completion; everything recovers by itself.
Runs with a PostgreSQL server of its own (scripts/pg-local.sh), which it
stops and starts; only where the suite runs on PostgreSQL."""
import concurrent.futures
import ftplib
import hashlib
import io
import os
import subprocess
import time
import unittest

import ftps
from harness import BACKEND, ROOT, Gateway

MiB = 1 << 20
PG_LOCAL = os.path.join(ROOT, "scripts", "pg-local.sh")


def pg_local(*args):
    out = subprocess.run(["sh", PG_LOCAL] + list(args), capture_output=True, text=True,
                         timeout=120)
    if out.returncode:
        raise RuntimeError("pg-local.sh %s: %s" % (" ".join(args), out.stderr))
    return dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l)


def reply_of(ftp):
    try:
        return ftp.voidresp()
    except ftplib.all_errors as e:
        return str(e)


@unittest.skipIf(BACKEND != "postgresql", "an outage of the PostgreSQL records store")
class OutageTest(unittest.TestCase):
    def setUp(self):
        self.pg = pg_local("start")
        self.gw = Gateway(env={"FTPSGATE_DATABASE_URL": self.pg["FTPSGATE_DATABASE_URL"],
                               "FTPSGATE_DATABASE_TIMEOUT_MS": "2000",
                               "FTPSGATE_MAX_SESSIONS_PER_ADDRESS": "1000",
                               "FTPSGATE_MAX_SESSIONS_PER_ACCOUNT": "1000",
                               "FTPSGATE_MAX_PASSIVE_PER_ADDRESS": "0",
                               "FTPSGATE_MAX_PASSIVE_PER_ACCOUNT": "0"})
        self.gw.start()

    def tearDown(self):
        try:
            self.gw.cleanup()
        finally:
            pg_local("stop", self.pg["PG_DIR"])

    def test_ten_seconds_away_during_uploads_and_logins(self):
        gw = self.gw
        acct = gw.create_account(username="through")
        data = {i: os.urandom(2 * MiB) for i in range(20)}
        # 20 uploads, each with its first MiB in
        running = []
        for i in range(20):
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "through", acct["password"])
            conn = ftp.transfercmd("STOR run%02d.bin" % i)
            conn.sendall(data[i][:MiB])
            running.append((i, ftp, conn))
        for i in range(20):
            gw.wait_upload(lambda u, i=i: u["path"] == "/run%02d.bin" % i
                           and u["bytes_received"] == MiB, timeout=30)
        idle = ftps.login("127.0.0.1", gw.ftps_port, "through", acct["password"])

        pg_local("pause", self.pg["PG_DIR"])
        away_at = time.time()
        try:
            # the API says which dependency is down, and answers 503
            status, doc, _ = gw.api("GET", "/health", auth=False)
            self.assertEqual((status, doc["status"]), (503, "degraded"), doc)
            self.assertNotEqual(doc["dependencies"]["records"]["status"], "ok", doc)
            status, doc, headers = gw.api("GET", "/accounts")
            self.assertEqual(status, 503, doc)
            self.assertIn("Retry-After", headers)

            # 200 logins meanwhile: each a clear 421, none a crash or a hang
            def login(k):
                try:
                    ftp = ftps.login("127.0.0.1", gw.ftps_port, "through", acct["password"],
                                     timeout=30)
                    ftp.quit()
                    return "230"
                except ftplib.all_errors as e:
                    return str(e)[:3]
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                logins = list(pool.map(login, range(200)))
            self.assertEqual(set(logins) - {"421"}, set(), logins)

            # a new upload cannot be recorded: 451, and nothing kept
            with self.assertRaises(ftplib.error_temp) as cm:
                idle.storbinary("STOR new.bin", io.BytesIO(b"new"))
            self.assertTrue(str(cm.exception).startswith("451"), cm.exception)

            # the running uploads end while it is away: their bytes are
            # kept, and none is called complete without its record
            def finish(item):
                i, ftp, conn = item
                conn.sendall(data[i][MiB:])
                conn.unwrap()
                conn.close()
                return i, reply_of(ftp)
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                ended = dict(pool.map(finish, running))
            for i, reply in ended.items():
                self.assertTrue(reply.startswith("4"), (i, reply))
            # away for 10 s in all
            time.sleep(max(0.0, away_at + 10 - time.time()))
            self.assertTrue(gw.proc.poll() is None, "the gateway died")
        finally:
            pg_local("resume", self.pg["PG_DIR"])

        # back: it recovers by itself
        deadline = time.time() + 30
        while gw.api("GET", "/health", auth=False)[0] != 200 and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(gw.api("GET", "/health", auth=False)[0], 200)
        # what ended meanwhile is recorded: partial, with all its bytes
        for i in range(20):
            rec = gw.wait_upload(lambda u, i=i: u["path"] == "/run%02d.bin" % i
                                 and u["state"] == "partial", timeout=30)
            self.assertEqual(rec["bytes_received"], 2 * MiB, rec)
        # and each resumes to completion, its whole file's SHA-256 right
        for i, ftp, _ in running:
            self.assertEqual(ftp.storbinary("STOR run%02d.bin" % i, io.BytesIO(b""),
                                            rest=2 * MiB), "226 Transfer complete.")
            ftp.quit()
        for i in range(20):
            rec = gw.wait_upload(lambda u, i=i: u["path"] == "/run%02d.bin" % i
                                 and u["state"] == "imported", timeout=30)
            self.assertEqual(rec["sha256"], hashlib.sha256(data[i]).hexdigest())
        # logins and new uploads work again, on the session that waited too
        self.assertEqual(idle.storbinary("STOR new.bin", io.BytesIO(b"new")),
                         "226 Transfer complete.")
        idle.quit()
        ftp = ftps.login("127.0.0.1", gw.ftps_port, "through", acct["password"])
        ftp.quit()
        items = gw.api("GET", "/uploads?limit=1000")[1]["items"]
        self.assertEqual(sorted(u["path"] for u in items),
                         sorted(["/new.bin"] + ["/run%02d.bin" % i for i in range(20)]))
        # the records agree with the bytes: one file each, of its size
        for u in items:
            path = os.path.join(gw.data_dir, "var", "uploads", str(u["id"]))
            self.assertEqual(os.path.getsize(path), u["size"], u)


if __name__ == "__main__":
    unittest.main()
