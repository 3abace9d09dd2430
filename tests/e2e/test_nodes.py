"""Several gateway nodes on one PostgreSQL records database (and, until
the object store, one shared data directory): what one node records,
every node sees; import work is leased, so no upload's hook runs twice at
once and a node that dies mid-import loses nothing; the schema is
migrated by one node only. Runs on PostgreSQL (FTPSGATE_TEST_PG) only:
SQLite is one node's own file."""
import ftplib
import io
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
import unittest

import ftps
from harness import BACKEND, S3, STORAGE, Gateway, hook, pg_admin, pg_database_for, pg_url

needs_pg = unittest.skipIf(BACKEND != "postgresql",
                           "nodes share records through PostgreSQL (FTPSGATE_TEST_PG)")


def two_nodes(env=None, share_data=True):
    """Node a on 127.0.0.1 and node b on 127.0.0.2: one database, one
    master key (as a secret store would give each node), ports of their
    own, and one data directory for the bytes unless not share_data."""
    env = dict(env or {}, FTPSGATE_MASTER_KEY=os.urandom(32).hex())
    a = Gateway(env=dict(env, FTPSGATE_NODE_ID="node-a"))
    url = pg_url(pg_database_for(a.data_dir))
    a.extra_env["FTPSGATE_DATABASE_URL"] = url
    b_env = dict(env, FTPSGATE_NODE_ID="node-b", FTPSGATE_DATABASE_URL=url)
    if share_data:
        b_env["FTPSGATE_DATA_DIR"] = os.path.join(a.data_dir, "var")
    if STORAGE == "s3":
        # the bytes in one bucket and prefix: node a's
        b_env["FTPSGATE_STORAGE_URL"] = "s3://%s/%s" % (S3["FTPSGATE_STORAGE_URL"][5:].split("/", 1)[0],
                                                        a.s3_prefix())
    return a, Gateway(host="127.0.0.2", env=b_env)


def upload(gw, account, name, data):
    ftp = ftps.login(gw.host, gw.ftps_port, account["username"], account["password"])
    try:
        return ftp.storbinary("STOR " + name, io.BytesIO(data))
    finally:
        ftp.quit()


def all_uploads(gw):
    status, doc, _ = gw.api("GET", "/uploads?limit=1000")
    assert status == 200 and not doc["next_cursor"], (status, doc)
    return doc["items"]


def wait_all(gw, pred, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        items = all_uploads(gw)
        if len(items) == n and all(pred(u) for u in items):
            return items
        time.sleep(0.2)
    raise AssertionError("not all %d uploads as wanted: %r"
                         % (n, sorted((u["id"], u["state"]) for u in all_uploads(gw))))


def refused_at_connect(gw, source):
    """The gateway closes a connection from source before TLS (a ban)."""
    raw = socket.create_connection((gw.host, gw.ftps_port), 5, source_address=(source, 0))
    try:
        ftps.client_context().wrap_socket(raw, server_hostname="x").recv(1)
        return False
    except (ssl.SSLError, OSError):
        return True
    finally:
        raw.close()


@needs_pg
class SharedRecordsTest(unittest.TestCase):
    def test_made_on_one_node_seen_and_streamed_on_the_other(self):
        a, b = two_nodes()
        a.start()
        try:
            b.start()
            acct = a.create_account(username="shared")
            # b knows the account, and refuses a wrong password, at once
            ftp = ftps.login(b.host, b.ftps_port, "shared", acct["password"])
            ftp.quit()
            with self.assertRaises(ftplib.error_perm):  # 530
                ftps.login(b.host, b.ftps_port, "shared", "wrong" + acct["password"])
            # b streams what happens on a, in order, with ids to resume from
            resp, conn = b.open_events()
            self.assertEqual(resp.status, 200)
            data = b"across nodes" * 1000
            self.assertEqual(upload(a, acct, "across.bin", data), "226 Transfer complete.")
            states, ids, upload_id = [], [], None
            deadline = time.time() + 30
            while "imported" not in states and time.time() < deadline:
                eid, kind, ev = b.read_event(resp)
                if kind != "upload":
                    continue
                upload_id = upload_id or ev["id"]
                self.assertEqual(ev["id"], upload_id)
                states.append(ev["state"])
                ids.append(int(eid))
            conn.close()
            self.assertEqual(states[0], "receiving", states)
            self.assertEqual(states[-1], "imported", states)
            self.assertEqual(ids, sorted(ids))
            # the order of the lifecycle, as it was lived
            order = ["receiving", "received", "verifying", "verified", "importing", "imported"]
            self.assertEqual([s for s in order if s in states], states)
            # b lists and shows it, with the node that received it
            rec = b.api("GET", "/uploads/%d" % upload_id)[1]
            self.assertEqual((rec["node"], rec["size"], rec["state"]),
                             ("node-a", len(data), "imported"))
            # a resumes its own stream from an id b gave, and gets what followed
            resp, conn = a.open_events(last_event_id=ids[0])
            eid, kind, ev = a.read_event(resp)
            while kind != "upload":
                eid, kind, ev = a.read_event(resp)
            conn.close()
            self.assertEqual((int(eid), ev["state"]), (ids[1], states[1]))
            # an upload on b is a's to see as well
            self.assertEqual(upload(b, acct, "back.bin", b"back"), "226 Transfer complete.")
            rec = a.wait_upload(lambda u: u["path"] == "/back.bin" and u["state"] == "imported")
            self.assertEqual(rec["node"], "node-b")
            # disabled on a: b ends its session and refuses the next login
            ftp = ftps.login(b.host, b.ftps_port, "shared", acct["password"])
            status, _, _ = a.api("PATCH", "/accounts/%d" % acct["id"], {"status": "disabled"})
            self.assertEqual(status, 200)
            self.assertEqual(ftp.getline(),
                             "421 This account can no longer be used; the session ends.")
            ftp.close()
            with self.assertRaises(ftplib.error_perm):  # 530: disabled
                ftps.login(b.host, b.ftps_port, "shared", acct["password"])
        finally:
            b.cleanup()
            a.cleanup()

    def test_a_ban_made_on_one_node_holds_on_the_other_and_is_lifted_on_both(self):
        a, b = two_nodes({"FTPSGATE_BAN_AFTER_FAILURES": "3", "FTPSGATE_BAN_DURATION_S": "600"})
        a.start()
        try:
            b.start()
            acct = a.create_account(username="guarded")

            # three failed logins on a from 127.0.0.3
            for _ in range(3):
                with self.assertRaises(ftplib.Error):
                    ftps.login(a.host, a.ftps_port, "guarded", "wrong", source="127.0.0.3")
            self.assertTrue(refused_at_connect(a, "127.0.0.3"))
            # b refuses the address too, at once, and serves everyone else
            deadline = time.time() + 10
            while not refused_at_connect(b, "127.0.0.3") and time.time() < deadline:
                time.sleep(0.1)
            self.assertTrue(refused_at_connect(b, "127.0.0.3"))
            ftps.login(b.host, b.ftps_port, "guarded", acct["password"], source="127.0.0.4").quit()
            entry = [e for e in b.api("GET", "/bans")[1]["items"] if e["key"] == "127.0.0.3"][0]
            self.assertIsNotNone(entry["banned_until"])
            # lifted on b: a takes the address again as well
            self.assertEqual(b.api("DELETE", "/bans?address=127.0.0.3")[0], 204)
            deadline = time.time() + 10
            while refused_at_connect(a, "127.0.0.3") and time.time() < deadline:
                time.sleep(0.1)
            ftps.login(a.host, a.ftps_port, "guarded", acct["password"], source="127.0.0.3").quit()
        finally:
            b.cleanup()
            a.cleanup()

    def test_any_node_lists_the_cluster_and_drains_another(self):
        a, b = two_nodes({"FTPSGATE_SHUTDOWN_GRACE_S": "30"})
        a.start()
        try:
            b.start()
            acct = a.create_account(username="watcher")
            held = ftps.login(b.host, b.ftps_port, "watcher", acct["password"])

            def listed(gw):
                return {n["id"]: n for n in gw.api("GET", "/nodes")[1]["items"]}
            deadline = time.time() + 10
            while time.time() < deadline:
                nodes = listed(a)
                if nodes.get("node-b", {}).get("sessions") == 1:
                    break
                time.sleep(0.2)
            self.assertEqual({k: (n["status"], n["self"]) for k, n in nodes.items()},
                             {"node-a": ("serving", True), "node-b": ("serving", False)})
            self.assertEqual(nodes["node-b"]["sessions"], 1)
            self.assertEqual(listed(b)["node-b"]["self"], True)
            # a drains b through its own API: b says so, ends its session, stops
            status, doc, _ = a.api("POST", "/nodes/node-b/drain", {})
            self.assertEqual((status, doc["status"]), (202, "draining"))
            self.assertEqual(b.proc.wait(15), 0)
            b.proc = None
            with self.assertRaises((ftplib.error_temp, EOFError, OSError)):
                held.voidcmd("NOOP")
            held.close()
            self.assertIn("a drain of this node was asked through the API", b.logs())
            deadline = time.time() + 10
            while listed(a)["node-b"]["status"] != "gone" and time.time() < deadline:
                time.sleep(0.5)
            self.assertEqual(listed(a)["node-b"]["status"], "gone")
            self.assertEqual(a.api("POST", "/nodes/node-b/drain", {})[0], 404)
            # started again under the same id, it serves: the old drain is not its
            b.start()
            time.sleep(2.5)
            self.assertEqual(b.api("GET", "/health", auth=False)[1]["status"], "ok")
            self.assertEqual(listed(a)["node-b"]["status"], "serving")
        finally:
            b.cleanup()
            a.cleanup()

    def test_an_upload_taken_over_elsewhere_is_not_ended_here(self):
        # A node that lost the database long enough has its receiving
        # uploads taken over by another (made partial there, resumable):
        # when its own transfer then ends, that must not overwrite them.
        with Gateway(env={"FTPSGATE_NODE_ID": "node-zombie"}) as gw:
            acct = gw.create_account(username="zombie")
            ftp = ftps.login(gw.host, gw.ftps_port, "zombie", acct["password"])
            conn = ftp.transfercmd("STOR taken.bin")
            conn.sendall(b"z" * 200000)
            rec = gw.wait_upload(lambda u: u["path"] == "/taken.bin" and u["state"] == "receiving")
            gw.records_sql("UPDATE uploads SET state = 'partial', node = 'node-other', error = ?"
                           " WHERE id = ?", ("taken over: its node stopped answering", rec["id"]))
            conn.sendall(b"z" * 100000)
            conn.unwrap().close()
            with self.assertRaises(ftplib.error_temp) as e:
                ftp.voidresp()
            self.assertTrue(str(e.exception).startswith("451"), e.exception)
            ftp.quit()
            time.sleep(1)
            row = gw.records_sql("SELECT state, node FROM uploads WHERE id = ?", (rec["id"],))
            self.assertEqual(row, [("partial", "node-other")])
            self.assertIn("was taken over by another node", gw.logs())

    def test_a_node_that_starts_later_learns_the_bans_that_hold(self):
        a, b = two_nodes({"FTPSGATE_BAN_AFTER_FAILURES": "2", "FTPSGATE_BAN_DURATION_S": "600"})
        a.start()
        try:
            acct = a.create_account(username="late")
            # on a, before b starts: 127.0.0.3 banned; 127.0.0.5 banned, then lifted
            for source in ("127.0.0.3", "127.0.0.5"):
                for _ in range(2):  # 530, then 421 and the ban
                    with self.assertRaises(ftplib.Error):
                        ftps.login(a.host, a.ftps_port, "late", "wrong", source=source)
                self.assertTrue(refused_at_connect(a, source))
            self.assertEqual(a.api("DELETE", "/bans?address=127.0.0.5")[0], 204)
            b.start()
            self.assertTrue(refused_at_connect(b, "127.0.0.3"))
            ftps.login(b.host, b.ftps_port, "late", acct["password"], source="127.0.0.5").quit()
            ftps.login(b.host, b.ftps_port, "late", acct["password"], source="127.0.0.4").quit()
        finally:
            b.cleanup()
            a.cleanup()

    def test_session_limits_count_every_nodes_sessions(self):
        a, b = two_nodes({"FTPSGATE_MAX_SESSIONS_PER_ACCOUNT": "3",
                          "FTPSGATE_MAX_SESSIONS_PER_ADDRESS": "4"})
        a.start()
        try:
            b.start()
            acct = a.create_account(username="limited")
            other = a.create_account(username="other")

            def login(gw, user, password, source="127.0.0.1"):
                try:
                    return ftps.login(gw.host, gw.ftps_port, user, password, source=source)
                except ftplib.Error as e:
                    return str(e)

            def refused_soon(gw, user, password, source="127.0.0.1", timeout=10):
                """The login's refusal, once the other node's sessions
                reached gw (each node tells about once a second); a login
                taken meanwhile is ended again at once."""
                deadline = time.time() + timeout
                while True:
                    got = login(gw, user, password, source)
                    if isinstance(got, str) or time.time() > deadline:
                        return got
                    got.quit()
                    time.sleep(0.2)

            def eventually(what, timeout=10):
                deadline = time.time() + timeout
                while True:
                    got = what()
                    if not isinstance(got, str) or time.time() > deadline:
                        return got
                    time.sleep(0.2)
            # per account: two on a and one on b fill the limit of 3
            held = [login(a, "limited", acct["password"]) for _ in range(2)]
            held.append(login(b, "limited", acct["password"]))
            self.assertEqual([h for h in held if isinstance(h, str)], [])
            refused = refused_soon(b, "limited", acct["password"])
            self.assertEqual(refused, "421 Too many sessions for this account; try again later.")
            # (another account, from another address: served)
            self.assertIsInstance(login(b, "other", other["password"], "127.0.0.9"), ftplib.FTP)
            # one ends on a: b takes one more, within a second or two
            held.pop(0).quit()
            ftp = eventually(lambda: login(b, "limited", acct["password"]))
            self.assertIsInstance(ftp, ftplib.FTP, ftp)
            held.append(ftp)
            for h in held:
                h.quit()
            # per client address: two on each node fill the limit of 4
            # (accounts of their own, each far from its limit)
            accts = [a.create_account(username="p%d" % i) for i in range(6)]
            held = [login(g, accts[i]["username"], accts[i]["password"], "127.0.0.6")
                    for i, g in enumerate((a, a, b, b))]
            self.assertEqual([h for h in held if isinstance(h, str)], [])
            refused = refused_soon(b, "p4", accts[4]["password"], "127.0.0.6")
            self.assertTrue(isinstance(refused, str) and refused.startswith("421"), refused)
            self.assertIsInstance(login(b, "p5", accts[5]["password"], "127.0.0.7"), ftplib.FTP)
            for h in held:
                h.quit()
            # a node that stops no longer counts
            # (a may still count b's sessions just ended for a second)
            held = [eventually(lambda: login(a, "limited", acct["password"])) for _ in range(3)]
            self.assertEqual([h for h in held if isinstance(h, str)], [])
            refused = refused_soon(b, "limited", acct["password"])
            self.assertTrue(isinstance(refused, str) and refused.startswith("421"), refused)
            a.kill9()
            ftp = eventually(lambda: login(b, "limited", acct["password"]), timeout=15)
            self.assertIsInstance(ftp, ftplib.FTP, ftp)
            ftp.quit()
        finally:
            b.cleanup()
            a.cleanup()

    def test_a_token_revoked_on_one_node_is_refused_on_the_other(self):
        a, b = two_nodes()
        a.start()
        try:
            b.start()
            tok = a.api("POST", "/tokens", {"name": "roaming", "scope": "read"})[1]
            self.assertEqual(b.api("GET", "/accounts", token=tok["token"])[0], 200)
            self.assertEqual(a.api("DELETE", "/tokens/%d" % tok["id"])[0], 200)
            self.assertEqual(a.api("GET", "/accounts", token=tok["token"])[0], 401)  # at once
            time.sleep(1.2)  # b may have seen it valid within the last second
            self.assertEqual(b.api("GET", "/accounts", token=tok["token"])[0], 401)
        finally:
            b.cleanup()
            a.cleanup()

    def test_migration_run_by_two_nodes_at_once_applies_once(self):
        for _ in range(3):
            a, b = two_nodes(share_data=False)
            try:
                # both start at the same moment on an empty database
                failed = []

                def start(g):
                    try:
                        g.start()
                    except Exception as e:  # noqa: BLE001 - reported below
                        failed.append(repr(e))
                threads = [threading.Thread(target=start, args=(g,)) for g in (a, b)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(60)
                self.assertEqual(failed, [], "\n".join(failed))
                # one node applied each step, the other none
                migrated = [g.logs().count("database schema now at version") for g in (a, b)]
                self.assertEqual(min(migrated), 0, migrated)
                url = a.extra_env["FTPSGATE_DATABASE_URL"]
                version = pg_admin("SELECT version FROM ftpsgate_schema", url.rsplit("/", 1)[1])
                self.assertEqual(int(version.strip()), max(migrated))
                self.assertGreaterEqual(max(migrated), 2)
                acct = b.create_account(username="after")
                self.assertEqual(upload(a, acct, "m.bin", b"m"), "226 Transfer complete.")
            finally:
                b.cleanup()
                a.cleanup()


@needs_pg
class LeasedImportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpsgate-nodes-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_node_killed_during_a_hook_the_other_imports_after_the_lease(self):
        log = os.path.join(self.tmp, "runs")
        # the first run hangs (as if its node died in the middle); any later
        # one imports at once
        h = hook(self.tmp, "slow.sh",
                 'echo "start $FTPSGATE_UPLOAD_ID $FTPSGATE_NODE_ID $(date +%%s.%%N) $$" >> "%s"\n'
                 'if [ "$FTPSGATE_UPLOAD_ATTEMPT" = 1 ]; then sleep 60; fi\n'
                 'echo "done $FTPSGATE_UPLOAD_ID $FTPSGATE_NODE_ID $(date +%%s.%%N)" >> "%s"\n'
                 % (log, log))
        a, b = two_nodes({"FTPSGATE_IMPORT_COMMAND": h, "FTPSGATE_IMPORT_LEASE_S": "3"})
        a.start()
        try:
            acct = a.create_account(username="leased")
            self.assertEqual(upload(a, acct, "l.bin", b"lease me"), "226 Transfer complete.")
            rec = a.wait_upload(lambda u: u["state"] == "importing")
            deadline = time.time() + 10
            while not (os.path.exists(log) and "start" in open(log).read()) and time.time() < deadline:
                time.sleep(0.05)
            a.kill9()
            killed_at = time.time()
            with open(log) as f:
                hook_pid = int(f.readline().split()[-1])
            # the hook died with its node (a parent-death signal), so it
            # cannot run beside the one the other node starts
            deadline = time.time() + 5
            while os.path.exists("/proc/%d" % hook_pid) and time.time() < deadline:
                time.sleep(0.05)
            self.assertFalse(os.path.exists("/proc/%d" % hook_pid), "the hook outlived its node")
            b.start()
            rec = b.wait_upload(lambda u: u["id"] == rec["id"] and u["state"] == "imported",
                                timeout=30)
            with open(log) as f:
                runs = [l.split() for l in f.read().splitlines()]
            self.assertEqual([(r[0], r[2]) for r in runs],
                             [("start", "node-a"), ("start", "node-b"), ("done", "node-b")], runs)
            # b took it only after a's lease (3 s) ran out
            self.assertGreaterEqual(float(runs[1][3]), killed_at + 2.5, runs)
            self.assertEqual(rec["import"]["attempts"], 2)
            self.assertEqual(rec["import"]["hook_exit"], 0)
        finally:
            b.cleanup()
            a.cleanup()

    def test_200_imports_over_two_nodes_one_hook_per_upload_at_a_time(self):
        running = os.path.join(self.tmp, "running")
        os.mkdir(running)
        log = os.path.join(self.tmp, "runs")
        # mkdir is atomic: a second hook for the same upload at the same
        # time finds the directory and says so
        h = hook(self.tmp, "once.sh",
                 'd="%s/$FTPSGATE_UPLOAD_ID"\n'
                 'mkdir "$d" 2>/dev/null || { echo "twice $FTPSGATE_UPLOAD_ID" >> "%s"; exit 1; }\n'
                 'sleep 0.05\n'
                 'echo "ran $FTPSGATE_UPLOAD_ID $FTPSGATE_NODE_ID" >> "%s"\n'
                 'rmdir "$d"\n' % (running, log, log))
        env = {"FTPSGATE_IMPORT_COMMAND": h, "FTPSGATE_IMPORT_WORKERS": "4"}
        a, b = two_nodes(env)
        a.start()
        try:
            b.start()
            acct = a.create_account(username="many")
            errors = []

            def send(gw, first):
                try:
                    ftp = ftps.login(gw.host, gw.ftps_port, "many", acct["password"])
                    for i in range(first, first + 50):
                        ftp.storbinary("STOR f%03d.bin" % i, io.BytesIO(b"%d" % i))
                    ftp.quit()
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))

            threads = [threading.Thread(target=send, args=(g, k * 50))
                       for k, g in enumerate((a, b, a, b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            self.assertEqual(errors, [])
            items = wait_all(a, lambda u: u["state"] == "imported", 200, timeout=120)
            with open(log) as f:
                runs = [l.split() for l in f.read().splitlines()]
            self.assertEqual([r for r in runs if r[0] == "twice"], [])
            ran = [r for r in runs if r[0] == "ran"]
            # each exactly once: nothing failed, so nothing ran again
            self.assertEqual(sorted(int(r[1]) for r in ran), sorted(u["id"] for u in items))
            # and both nodes did their share
            self.assertEqual({r[2] for r in ran}, {"node-a", "node-b"})
            self.assertEqual({u["node"] for u in items}, {"node-a", "node-b"})
        finally:
            b.cleanup()
            a.cleanup()


if __name__ == "__main__":
    unittest.main()
