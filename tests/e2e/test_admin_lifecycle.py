"""The admin API's effects on the gateway: disabling, expiring and deleting
accounts ends their sessions; quotas; token scopes and revocation; the
audit log; the event stream; purging; slowing down token guessing; paging
through 100,000 uploads while more arrive."""
import concurrent.futures
import ftplib
import hashlib
import http.client
import io
import json
import os
import socket
import ssl
import threading
import time
import unittest

import ftps
from harness import BACKEND, COMPLETE, TOKEN, Gateway


def login(gw, acct, password=None):
    return ftps.login("127.0.0.1", gw.ftps_port, acct["username"], password or acct["password"])


def login_fails(gw, username, password):
    ftp = ftps.ImplicitFTPS(context=ftps.client_context())
    ftp.connect("127.0.0.1", gw.ftps_port)
    try:
        ftp.login(username, password)
    except ftplib.error_perm as e:
        return str(e).startswith("530")
    finally:
        ftp.close()
    return False


class LifecycleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway().start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def api(self, *a, **kw):
        return self.gw.api(*a, **kw)

    def test_disable_ends_sessions_and_logins(self):
        a = self.gw.create_account(username="to-disable")
        ftp = login(self.gw, a)
        status, doc, _ = self.api("PATCH", "/accounts/%d" % a["id"], {"status": "disabled"})
        self.assertEqual((status, doc["status"]), (200, "disabled"))
        self.assertEqual(ftp.getline(), "421 This account can no longer be used; the session ends.")
        ftp.close()
        self.assertTrue(login_fails(self.gw, "to-disable", a["password"]))
        self.api("PATCH", "/accounts/%d" % a["id"], {"status": "active"})
        login(self.gw, a).quit()

    def test_disable_during_upload_keeps_it_partial(self):
        a = self.gw.create_account(username="mid-upload")
        ftp = login(self.gw, a)
        conn = ftp.transfercmd("STOR going.bin")
        conn.sendall(b"g" * 200000)
        time.sleep(0.2)
        self.api("PATCH", "/accounts/%d" % a["id"], {"status": "disabled"})
        rec = self.gw.wait_upload(lambda u: u["path"] == "/going.bin" and u["state"] == "partial")
        self.assertEqual(rec["account_id"], a["id"])
        # why the session ended, also when a write job held the upload then
        self.assertIn("account disabled, deleted or expired", rec["error"])
        try:
            conn.close()
        except OSError:
            pass
        ftp.close()

    def test_expiry(self):
        a = self.gw.create_account(username="expiring", expires_at="2099-01-01T00:00:00Z")
        self.assertEqual(a["expires_at"], "2099-01-01T00:00:00.000Z")
        ftp = login(self.gw, a)
        status, doc, _ = self.api("PATCH", "/accounts/%d" % a["id"],
                                  {"expires_at": "2020-01-01T00:00:00+02:00"})
        self.assertEqual(doc["expires_at"], "2019-12-31T22:00:00.000Z")
        self.assertTrue(ftp.getline().startswith("421"))
        ftp.close()
        self.assertTrue(login_fails(self.gw, "expiring", a["password"]))
        # an expiry a second ahead ends a session when it comes
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        status, doc, _ = self.api("PATCH", "/accounts/%d" % a["id"], {"expires_at": soon})
        ftp = login(self.gw, a)
        ftp.sock.settimeout(10)
        self.assertEqual(ftp.getline(), "421 This account has expired; the session ends.")
        ftp.close()
        self.api("PATCH", "/accounts/%d" % a["id"], {"expires_at": None})
        login(self.gw, a).quit()
        for bad in ("tomorrow", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", 5):
            status, doc, _ = self.api("PATCH", "/accounts/%d" % a["id"], {"expires_at": bad})
            self.assertEqual(status, 400, bad)
            self.assertIn("expires_at", doc["detail"])

    def test_delete_account_keeps_uploads(self):
        a = self.gw.create_account(username="leaving")
        ftp = login(self.gw, a)
        ftp.storbinary("STOR kept.bin", io.BytesIO(b"kept"))
        status, doc, _ = self.api("DELETE", "/accounts/%d" % a["id"])
        self.assertEqual((status, doc["status"]), (200, "deleted"))
        self.assertTrue(ftp.getline().startswith("421"))
        ftp.close()
        self.assertTrue(login_fails(self.gw, "leaving", a["password"]))
        self.assertEqual(self.api("DELETE", "/accounts/%d" % a["id"])[0], 200)  # twice is fine
        ids = [x["id"] for x in self.api("GET", "/accounts?limit=1000")[1]["items"]]
        self.assertNotIn(a["id"], ids)
        deleted = [x["id"] for x in self.api("GET", "/accounts?status=deleted")[1]["items"]]
        self.assertIn(a["id"], deleted)
        self.assertEqual(self.api("POST", "/accounts", {"username": "leaving"})[0], 409)
        self.assertEqual(self.api("POST", "/accounts/%d/password" % a["id"])[0], 404)
        self.assertEqual(self.api("PATCH", "/accounts/%d" % a["id"], {"description": "x"})[0], 409)
        rec = [u for u in self.gw.uploads(account_id=a["id"])][0]
        self.assertIn(rec["state"], COMPLETE)
        self.assertEqual(rec["sha256"], hashlib.sha256(b"kept").hexdigest())
        self.assertEqual(self.gw.stored(rec["id"]), b"kept")

    def test_quota(self):
        a = self.gw.create_account(username="quota", quota_bytes=100000)
        self.assertEqual((a["quota_bytes"], a["used_bytes"]), (100000, 0))
        ftp = login(self.gw, a)
        ftp.storbinary("STOR first.bin", io.BytesIO(b"q" * 60000))
        reply = ftps.stor_refused(ftp, "second.bin", b"q" * 60000)
        self.assertTrue(reply.startswith("552"), reply)
        rec = self.gw.wait_upload(lambda u: u["path"] == "/second.bin")
        self.assertEqual(rec["state"], "partial")
        self.assertIn("quota", rec["error"])
        status, doc, _ = self.api("GET", "/accounts/%d" % a["id"])
        self.assertLessEqual(doc["used_bytes"], 100000)
        self.assertGreaterEqual(doc["used_bytes"], 60000)
        # purging frees room
        # an import still running cannot be purged (409); in object storage it copies for a while
        first = self.gw.wait_upload(lambda u: u["path"] == "/first.bin" and u["state"] == "imported")
        self.assertEqual(self.api("DELETE", "/uploads/%d" % first["id"])[0], 200)
        self.assertEqual(self.api("DELETE", "/uploads/%d" % rec["id"])[0], 200)
        ftp.storbinary("STOR third.bin", io.BytesIO(b"q" * 90000))
        ftp.quit()

    def test_purge(self):
        a = self.gw.create_account(username="purger")
        ftp = login(self.gw, a)
        ftp.storbinary("STOR p.bin", io.BytesIO(b"purge me"))
        rec = self.gw.wait_upload(lambda u: u["path"] == "/p.bin" and u["account_id"] == a["id"]
                                  and u["state"] == "imported")
        status, doc, _ = self.api("DELETE", "/uploads/%d" % rec["id"])
        self.assertEqual(status, 200)
        self.assertIsNotNone(doc["purged_at"])
        self.assertEqual(doc["sha256"], rec["sha256"])  # the tombstone keeps the facts
        self.assertNotIn("p.bin", ftp.nlst())
        self.assertIsNone(self.gw.stored(rec["id"]))
        self.assertEqual(self.api("DELETE", "/uploads/%d" % rec["id"])[0], 200)
        # a file stored again under the same name is not touched by purging the old record
        ftp.storbinary("STOR q.bin", io.BytesIO(b"old"))
        ftp.storbinary("STOR q.bin", io.BytesIO(b"new"))
        old = [u for u in self.gw.uploads(account_id=a["id"]) if u["path"] == "/q.bin"][-1]
        self.api("DELETE", "/uploads/%d" % old["id"])
        got = bytearray()
        ftp.retrbinary("RETR q.bin", got.extend)
        self.assertEqual(bytes(got), b"new")
        # an upload still arriving cannot be purged
        conn = ftp.transfercmd("STOR live.bin")
        conn.sendall(b"l" * 1000)
        live = self.gw.wait_upload(lambda u: u["path"] == "/live.bin" and u["state"] == "receiving")
        self.assertEqual(self.api("DELETE", "/uploads/%d" % live["id"])[0], 409)
        conn.unwrap().close()
        ftp.voidresp()
        ftp.quit()

    def test_tokens_scopes_and_audit(self):
        status, rtok, _ = self.api("POST", "/tokens", {"name": "viewer", "scope": "read"})
        self.assertEqual(status, 201)
        self.assertEqual(len(rtok["token"]), 40)
        status, atok, _ = self.api("POST", "/tokens", {"name": "operator", "scope": "admin"})
        # the read token reads, and nothing else
        self.assertEqual(self.api("GET", "/accounts", token=rtok["token"])[0], 200)
        for method, path, body in (("POST", "/accounts", {}), ("PATCH", "/accounts/1", {}),
                                   ("DELETE", "/tokens/1", None), ("POST", "/tokens", {"name": "x"})):
            status, doc, _ = self.api(method, path, body, token=rtok["token"])
            self.assertEqual(status, 403, (method, path))
        # the admin token changes things, and the audit log says who
        status, acct, _ = self.api("POST", "/accounts", {"username": "audited"}, token=atok["token"])
        self.assertEqual(status, 201)
        entries = self.api("GET", "/audit?limit=20")[1]["items"]
        mine = [e for e in entries if e["token_name"] == "operator"]
        self.assertEqual(mine[0]["method"], "POST")
        self.assertEqual(mine[0]["path"], "/api/v1/accounts")
        self.assertEqual(mine[0]["status"], 201)
        self.assertEqual(mine[0]["client_address"], "127.0.0.1")
        self.assertIn("audited", mine[0]["detail"])
        refused = [e for e in entries if e["token_name"] == "viewer"]
        self.assertTrue(all(e["status"] == 403 for e in refused) and refused)
        ids = [e["id"] for e in entries]
        self.assertEqual(ids, sorted(ids, reverse=True))
        # revoked: 401 at once; secrets never listed
        self.assertEqual(self.api("DELETE", "/tokens/%d" % atok["id"])[0], 200)
        self.assertEqual(self.api("GET", "/accounts", token=atok["token"])[0], 401)
        listed = self.api("GET", "/tokens")[1]["items"]
        self.assertTrue(all("token" not in t for t in listed))
        self.assertEqual({t["name"] for t in listed} >= {"bootstrap", "viewer", "operator"}, True)
        self.assertNotIn(rtok["token"].encode(), self.gw.records_bytes())
        for bad in ({"name": ""}, {"name": "a b"}, {"name": "x", "scope": "root"}, {"scope": "read"}):
            self.assertEqual(self.api("POST", "/tokens", bad)[0], 400, bad)

    def test_concurrent_patch_with_one_etag(self):
        a = self.gw.create_account(username="racy")
        etag = self.api("GET", "/accounts/%d" % a["id"])[2]["ETag"]

        def patch(i):
            import urllib.request, urllib.error
            req = urllib.request.Request(self.gw.admin_url + "/accounts/%d" % a["id"],
                                         data=json.dumps({"description": "writer %d" % i}).encode(),
                                         method="PATCH")
            req.add_header("Authorization", "Bearer " + TOKEN)
            req.add_header("Content-Type", "application/json")
            req.add_header("If-Match", etag)
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                    return r.status
            except urllib.error.HTTPError as e:
                return e.code

        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(patch, range(8)))
        self.assertEqual(codes.count(200), 1, codes)
        self.assertEqual(codes.count(412), 7, codes)

    def test_events_stream(self):
        a = self.gw.create_account(username="watched")
        other = self.gw.create_account(username="unwatched")
        resp, conn = self.gw.open_events("?account_id=%d" % a["id"])
        self.assertEqual(resp.status, 200)
        login(self.gw, other).storbinary("STOR noise.bin", io.BytesIO(b"n"))
        ftp = login(self.gw, a)
        ftp.storbinary("STOR watched.bin", io.BytesIO(b"w" * 1000))
        ftp.quit()
        seen = []
        while len(seen) < 2:
            eid, event, data = self.gw.read_event(resp)
            self.assertEqual(data["account_id"], a["id"])
            seen.append((event, data["state"], int(eid)))
        self.assertEqual([s[:2] for s in seen], [("upload", "receiving"), ("upload", "received")])
        conn.close()
        # resume from an id: the same events again, in order
        resp, conn = self.gw.open_events("?account_id=%d" % a["id"], last_event_id=seen[0][2] - 1)
        eid, event, data = self.gw.read_event(resp)
        self.assertEqual((int(eid), data["state"]), (seen[0][2], "receiving"))
        conn.close()
        # account changes are events too (once both imports have ended: in object
        # storage they copy for a while, and their events would come first)
        for path in ("/noise.bin", "/watched.bin"):
            self.gw.wait_upload(lambda u: u["path"] == path and u["state"] == "imported")
        resp, conn = self.gw.open_events()
        self.api("PATCH", "/accounts/%d" % a["id"], {"status": "disabled"})
        eid, event, data = self.gw.read_event(resp)
        self.assertEqual((event, data["id"], data["state"]), ("account", a["id"], "disabled"))
        conn.close()
        self.api("PATCH", "/accounts/%d" % a["id"], {"status": "active"})

    def test_upload_time_filters(self):
        a = self.gw.create_account(username="timed")
        ftp = login(self.gw, a)
        ftp.storbinary("STOR t1", io.BytesIO(b"1"))
        time.sleep(1.1)
        mid = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        time.sleep(1.1)
        ftp.storbinary("STOR t2", io.BytesIO(b"2"))
        ftp.quit()
        after = self.gw.uploads(account_id=a["id"], since=mid)
        before = self.gw.uploads(account_id=a["id"], until=mid)
        self.assertEqual([u["path"] for u in after], ["/t2"])
        self.assertEqual([u["path"] for u in before], ["/t1"])
        self.assertEqual(self.api("GET", "/uploads?since=yesterday")[0], 400)


class GuessingTest(unittest.TestCase):
    def test_failed_authentications_are_slowed_down(self):
        with Gateway() as gw:
            codes = [gw.api("GET", "/accounts", token="guess-%d" % i)[0] for i in range(12)]
            self.assertEqual(codes[:10], [401] * 10)
            self.assertEqual(codes[10:], [429, 429])
            status, doc, headers = gw.api("GET", "/accounts", token="guess-again")
            self.assertEqual(status, 429)
            self.assertGreater(int(headers["Retry-After"]), 0)
            # another address is not affected
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection("127.0.0.1", gw.admin_port, context=ctx,
                                               source_address=("127.0.0.2", 0), timeout=10)
            conn.request("GET", "/api/v1/accounts", headers={"Authorization": "Bearer " + TOKEN})
            self.assertEqual(conn.getresponse().status, 200)
            conn.close()
            self.assertEqual(gw.api("GET", "/health", auth=False)[0], 200)


class PlainHTTPTest(unittest.TestCase):
    def test_plain_http_only_when_configured(self):
        with Gateway(env={"FTPSGATE_ADMIN_PLAIN_HTTP": "true"}) as gw:
            self.assertTrue(gw.admin_url.startswith("http://"))
            self.assertEqual(gw.api("GET", "/accounts")[0], 200)
            self.assertIn("plain HTTP", gw.logs())
        with Gateway() as gw:
            conn = http.client.HTTPConnection("127.0.0.1", gw.admin_port, timeout=10)
            try:
                conn.request("GET", "/api/v1/health")
                status = conn.getresponse().status
            except (OSError, http.client.HTTPException):
                status = None
            self.assertNotEqual(status, 200)  # HTTPS only by default


class PagingTest(unittest.TestCase):
    def test_100000_uploads_paged_while_more_arrive(self):
        with Gateway() as gw:
            a = gw.create_account(username="bulk")
            now = int(time.time() * 1000)
            # 100,000 records in one statement, in each backend's words
            name = {"sqlite": "printf('/bulk/%06d', i)",
                    "postgresql": "convert_to('/bulk/' || lpad(i::text, 6, '0'), 'UTF8')"}[BACKEND]
            gw.records_sql(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)"
                " INSERT INTO uploads(account_id, path, state, size, bytes_received, sha256,"
                " client_address, started_at, completed_at, updated_at)"
                " SELECT ?, " + name + ", 'imported', 1, 1, ?, '127.0.0.1', ?, ?, ? FROM n",
                (a["id"], "0" * 64, now, now, now))
            top = int(gw.records_sql("SELECT max(id) FROM uploads")[0][0])
            stop = threading.Event()

            def keep_uploading():
                ftp = login(gw, a)
                i = 0
                while not stop.is_set() and i < 200:
                    ftp.storbinary("STOR during-%d" % i, io.BytesIO(b"d"))
                    i += 1
                ftp.quit()

            uploader = threading.Thread(target=keep_uploading)
            uploader.start()
            seen, cursor, pages = [], None, 0
            try:
                while True:
                    q = "/uploads?limit=1000" + ("&cursor=" + cursor if cursor else "")
                    status, doc, _ = gw.api("GET", q)
                    self.assertEqual(status, 200)
                    seen += [u["id"] for u in doc["items"]]
                    cursor = doc["next_cursor"]
                    pages += 1
                    if not cursor:
                        break
            finally:
                stop.set()
                uploader.join(120)
            first_page_top = seen[0]
            self.assertEqual(len(seen), len(set(seen)), "duplicates")
            self.assertEqual(seen, sorted(seen, reverse=True))
            self.assertGreaterEqual(first_page_top, top)
            self.assertEqual(set(seen), set(range(1, first_page_top + 1)), "gaps")
            self.assertGreaterEqual(len(seen), 100000)


if __name__ == "__main__":
    unittest.main()
