"""`ftpsgate migrate-records`: a deployment that ran on SQLite moves its
records to PostgreSQL and goes on there: the same accounts, passwords,
keys, tokens, audit and uploads (ids and bytes exact, names that are not
UTF-8 included), new ids after the old ones, a refused second copy.
Only where the suite runs on PostgreSQL."""
import io
import os
import sqlite3
import subprocess
import unittest

import ftps
from harness import BACKEND, BIN, TOKEN, Gateway, pg_admin, pg_url


def age(*args, data):
    return subprocess.run(["age"] + list(args), input=data, capture_output=True, check=True,
                          timeout=60).stdout


@unittest.skipIf(BACKEND != "postgresql", "moves records into PostgreSQL (FTPSGATE_TEST_PG)")
class MigrateRecordsTest(unittest.TestCase):
    def test_sqlite_deployment_moves_to_postgresql(self):
        gw = Gateway(env={"FTPSGATE_DATABASE_URL": "sqlite:"})
        name = "t_" + os.urandom(8).hex()
        pg_admin("CREATE DATABASE %s" % name)
        url = pg_url(name)
        try:
            gw.start()
            acct = gw.create_account(username="mover", require_encryption=True)
            recipient = gw.api("GET", "/accounts/%d/keys/%d" % (acct["id"], acct["key"]["id"]))[1]
            plain = os.urandom(300000)
            enc = age("-r", recipient["recipient"], data=plain)
            viewer = gw.api("POST", "/tokens", {"name": "viewer", "scope": "read"})[1]
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "mover", acct["password"])
            self.assertEqual(ftp.storbinary("STOR mail.age", io.BytesIO(enc)),
                             "226 Transfer complete.")
            # a name in another encoding (Latin-1), and a partial upload
            ftp.encoding = "latin-1"
            self.assertEqual(ftp.storbinary("STOR caf\xe9.age", io.BytesIO(enc)),
                             "226 Transfer complete.")
            ftp.encoding = "utf-8"
            conn = ftp.transfercmd("STOR half.age")
            conn.sendall(enc[:100000])
            conn.close()  # no close_notify: partial
            try:
                ftp.voidresp()
            except Exception:  # noqa: BLE001 - a 426 is what it should say
                pass
            ftp.quit()
            mail = gw.wait_upload(lambda u: u["path"] == "/mail.age" and u["state"] == "imported")
            gw.wait_upload(lambda u: u["path"].startswith("/caf") and u["state"] == "imported")
            gw.wait_upload(lambda u: u["path"] == "/half.age" and u["state"] == "partial")
            gw.stop()
            gw.start()  # what the API shows of it at rest
            before = gw.api("GET", "/uploads?limit=1000")[1]["items"]
            audit = gw.api("GET", "/audit?limit=1000")[1]["items"]
            gw.stop()

            # an upload in object storage keeps its multipart upload and
            # its confirmed parts in the records: they move too
            half = [u for u in before if u["path"] == "/half.age"][0]
            db = sqlite3.connect(os.path.join(gw.data_dir, "var", "ftpsgate.db"))
            with db:
                db.execute("UPDATE uploads SET object_upload = 'mpu-1' WHERE id = ?", (half["id"],))
                db.execute("INSERT INTO upload_parts(upload_id, number, size, etag)"
                           " VALUES (?, 1, 5242880, '\"e1\"'), (?, 2, 5242880, '\"e2\"')",
                           (half["id"], half["id"]))
                db.execute("UPDATE upload_parts SET state = X'00ff01' WHERE upload_id = ? AND number = 2",
                           (half["id"],))
                # names kept as records (object storage), byte for byte
                db.execute("INSERT INTO names(account_id, parent, name, upload_id, mtime_ms)"
                           " VALUES (?, X'2f', X'68616c662e616765', ?, 1), (?, X'2f', X'64ff', NULL, 2)",
                           (half["account_id"], half["id"], half["account_id"]))
            db.close()
            env = gw.env()
            env["FTPSGATE_DATABASE_URL"] = "sqlite:"
            env["FTPSGATE_NODE_ID"] = "moved"
            out = subprocess.run([BIN, "migrate-records", "--from", "sqlite:", "--to", url],
                                 env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("1 accounts", out.stdout)
            self.assertIn("3 uploads", out.stdout)
            self.assertIn("2 upload_parts", out.stdout)
            self.assertIn("2 names", out.stdout)
            # a second copy into the same database is refused, changing nothing
            again = subprocess.run([BIN, "migrate-records", "--from", "sqlite:", "--to", url],
                                   env=env, capture_output=True, text=True, timeout=120)
            self.assertEqual(again.returncode, 1)
            self.assertIn("already holds", again.stderr)
            bad = subprocess.run([BIN, "migrate-records", "--from", "mysql:", "--to", url],
                                 env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual(bad.returncode, 2, bad.stderr)

            self.assertEqual(pg_admin("SELECT u.object_upload, p.number, p.size, p.etag FROM uploads u"
                                      " JOIN upload_parts p ON p.upload_id = u.id"
                                      " WHERE u.id = %d ORDER BY p.number" % half["id"],
                                      dbname=url.rsplit("/", 1)[1]),
                             'mpu-1|1|5242880|"e1"\nmpu-1|2|5242880|"e2"\n')
            self.assertEqual(pg_admin("SELECT encode(state, 'hex') FROM upload_parts WHERE number = 2",
                                      dbname=url.rsplit("/", 1)[1]), "00ff01\n")
            self.assertEqual(pg_admin("SELECT encode(name, 'hex'), upload_id FROM names ORDER BY name",
                                      dbname=url.rsplit("/", 1)[1]),
                             "64ff|\n68616c662e616765|%d\n" % half["id"])
            # the same data directory, now on PostgreSQL
            gw.extra_env["FTPSGATE_DATABASE_URL"] = url
            gw.extra_env["FTPSGATE_NODE_ID"] = "moved"
            gw.start()
            after = gw.api("GET", "/uploads?limit=1000")[1]["items"]
            strip = lambda items: [{k: v for k, v in u.items() if k not in ("node", "updated_at")}
                                   for u in items]
            self.assertEqual(strip(after), strip(before))
            self.assertEqual(gw.api("GET", "/audit?limit=1000")[1]["items"][-len(audit):], audit)
            self.assertEqual(gw.api("GET", "/uploads/%d" % mail["id"])[1]["sha256"], mail["sha256"])
            # the read token still reads, and only reads
            self.assertEqual(gw.api("GET", "/accounts", token=viewer["token"])[0], 200)
            self.assertEqual(gw.api("POST", "/accounts", {}, token=viewer["token"])[0], 403)
            # the password, the key and the partial upload work on
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "mover", acct["password"])
            have = ftp.size("half.age")
            self.assertEqual(have, [u for u in before if u["path"] == "/half.age"][0]["bytes_received"])
            self.assertEqual(ftp.storbinary("STOR half.age", io.BytesIO(enc[have:]), rest=have),
                             "226 Transfer complete.")
            ftp.encoding = "latin-1"
            self.assertEqual(ftp.size("caf\xe9.age"), len(enc))
            ftp.encoding = "utf-8"
            self.assertEqual(ftp.storbinary("STOR again.age", io.BytesIO(enc)),
                             "226 Transfer complete.")
            ftp.quit()
            half = gw.wait_upload(lambda u: u["path"] == "/half.age" and u["state"] == "imported")
            new = gw.wait_upload(lambda u: u["path"] == "/again.age" and u["state"] == "imported")
            self.assertEqual(half["sha256"], mail["sha256"])
            self.assertGreater(new["id"], max(u["id"] for u in before))
            self.assertEqual(new["node"], "moved")
            other = gw.create_account(username="fresh")
            self.assertGreater(other["id"], acct["id"])
            self.assertEqual(gw.api("GET", "/accounts", token=TOKEN)[0], 200)
        finally:
            gw.cleanup()
            pg_admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


if __name__ == "__main__":
    unittest.main()
