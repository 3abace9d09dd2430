"""What an attacker found, one named test per finding: an uploader with an
account, or anyone who can reach the ports, trying to alter confirmed
uploads, take another session's data connection, or keep honest users
out. Each test failed on the code before its fix."""
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import ftplib
import ftps
from harness import BACKEND, Gateway


def sha(data):
    return hashlib.sha256(data).hexdigest()


def age(*args, data):
    return subprocess.run(["age"] + list(args), input=data, capture_output=True,
                          check=True).stdout


def upload(gw, acct, name, data, ftp=None):
    own = ftp is None
    ftp = ftp or ftps.login("127.0.0.1", gw.ftps_port, acct["username"], acct["password"])
    ftp.storbinary("STOR " + name, io.BytesIO(data))
    if own:
        ftp.quit()


def wait_all(gw, account_id, states, n, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        items = [u for u in gw.uploads(account_id=account_id)]
        if len(items) >= n and all(u["state"] in states for u in items):
            return items
        time.sleep(0.05)
    raise AssertionError("uploads not all in %s: %r" % (states, gw.uploads(account_id=account_id)))


class DefaultImportTest(unittest.TestCase):
    """Finding 1: filing by the default import wrote through hard links
    into other uploads (a manifest into a user's `m.json`, a second `n`
    over the filing of `n.12`)."""

    def test_filing_never_writes_into_another_upload(self):
        with Gateway() as gw:
            a = gw.create_account(username="filer")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "filer", a["password"])
            ftp.mkd("d")
            sent = []
            # Names chosen to collide with whatever the filing could make:
            # manifests, numbered copies, ids, a directory and a file of
            # one name, and the longest name a component may have.
            first_id = None
            names = ["m.json", "m", "n"]
            for name in names:
                data = os.urandom(1000 + len(sent))
                upload(gw, a, name, data, ftp)
                sent.append((name, data))
            first_id = min(u["id"] for u in gw.uploads(account_id=a["id"]))
            nxt = first_id + len(sent)
            more = ["n.%d" % nxt, "n", "%d" % (nxt + 2), "%d.json" % (nxt + 3), "d/x",
                    "d/x.json", "x" * 251 + ".bin", "n"]
            for name in more:
                data = os.urandom(900 + len(sent))
                upload(gw, a, name, data, ftp)
                sent.append((name, data))
            items = wait_all(gw, a["id"], ("imported",), len(sent))
            self.assertEqual(len(items), len(sent))
            by_id = sorted(items, key=lambda u: u["id"])
            base = os.path.join(gw.data_dir, "var", "imported", str(a["id"]))
            filed = set()
            for (name, data), rec in zip(sent, by_id):
                self.assertEqual(rec["path"], "/" + name)
                self.assertEqual((rec["size"], rec["sha256"]), (len(data), sha(data)))
                path = os.path.join(base, str(rec["id"]), name)
                with open(path, "rb") as f:
                    self.assertEqual(sha(f.read()), rec["sha256"], name)
                self.assertEqual(os.stat(path).st_mode & 0o222, 0, "filed files are read-only")
                with open(os.path.join(base, "%d.json" % rec["id"])) as f:
                    m = json.load(f)
                self.assertEqual((m["upload_id"], m["size"], m["sha256"], m["path"]),
                                 (rec["id"], rec["size"], rec["sha256"], rec["path"]))
                filed.add(os.path.relpath(path, base))
                filed.add("%d.json" % rec["id"])
            # nothing else was filed
            found = set()
            for d, _, files in os.walk(base):
                for f in files:
                    found.add(os.path.relpath(os.path.join(d, f), base))
            self.assertEqual(found, filed)
            # and the account still reads back what it sent last under each name
            last = dict(sent)
            for name, data in last.items():
                got = io.BytesIO()
                ftp.retrbinary("RETR " + name, got.write)
                self.assertEqual(sha(got.getvalue()), sha(data), name)
            ftp.quit()


class PurgeWhileImportingTest(unittest.TestCase):
    """Finding 2: DELETE /uploads/{id} while its hook ran was accepted; the
    hook found its file gone and the record stayed 'verified' for ever."""

    def test_purge_is_refused_while_importing(self):
        tmp = tempfile.mkdtemp(prefix="ftpsgate-hook-")
        try:
            gate = os.path.join(tmp, "go")
            hook = os.path.join(tmp, "slow.sh")
            with open(hook, "w") as f:
                f.write('#!/bin/sh\nwhile [ ! -e "%s" ]; do sleep 0.05; done\n'
                        'sha256sum -\n' % gate)
            os.chmod(hook, 0o755)
            with Gateway(env={"FTPSGATE_IMPORT_COMMAND": hook, "FTPSGATE_IMPORT_STDIN": "as-is"}) as gw:
                a = gw.create_account(username="purger")
                data = os.urandom(5000)
                upload(gw, a, "p.bin", data)
                rec = gw.wait_upload(lambda u: u["state"] == "importing")
                status, doc, _ = gw.api("DELETE", "/uploads/%d" % rec["id"])
                self.assertEqual(status, 409, doc)
                self.assertIn("importing", doc["detail"])
                open(gate, "w").close()
                done = gw.wait_upload(lambda u: u["state"] == "imported")
                self.assertIn(sha(data), done["import"]["hook_output"])
                self.assertIsNone(done["purged_at"])
                # once imported, it can be purged
                self.assertEqual(gw.api("DELETE", "/uploads/%d" % rec["id"])[0], 200)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class FailedResumeKeepsTheGoodFileTest(unittest.TestCase):
    """Finding 3: a rejected APPE (or REST + STOR) of a verified file
    removed the good file from the uploader's view."""

    def test_rejected_append_and_resume_leave_the_verified_file(self):
        with Gateway() as gw:
            a = gw.create_account(username="keeper", require_encryption=True)
            status, keys, _ = gw.api("GET", "/accounts/%d/keys" % a["id"])
            recipient = keys["items"][0]["recipient"]
            good = age("-r", recipient, data=os.urandom(200000))
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "keeper", a["password"])
            ftp.storbinary("STOR mail.age", io.BytesIO(good))
            # APPE of bytes that break the age file: rejected
            with self.assertRaises(ftplib.error_perm) as e:
                ftp.storbinary("APPE mail.age", io.BytesIO(b"junk" * 1000))
            self.assertTrue(str(e.exception).startswith("553"), str(e.exception))
            self.assertEqual(ftp.size("mail.age"), len(good))
            # REST + STOR that rewrites the tail with garbage: rejected
            with self.assertRaises(ftplib.error_perm):
                ftp.storbinary("STOR mail.age", io.BytesIO(os.urandom(5000)), rest=len(good) - 3000)
            self.assertEqual(ftp.size("mail.age"), len(good))
            self.assertIn("mail.age", ftp.nlst())
            got = io.BytesIO()
            ftp.retrbinary("RETR mail.age", got.write)
            self.assertEqual(got.getvalue(), good)
            # a rejected new STOR over it keeps it too
            reply = ftps.stor_refused(ftp, "mail.age", b"plaintext" * 100)
            self.assertTrue(reply.startswith("553"), reply)
            self.assertEqual(ftp.size("mail.age"), len(good))
            ftp.quit()


class ParallelQuotaTest(unittest.TestCase):
    """Finding 4: 8 sessions each storing 900,000 bytes at once on a
    1,000,000-byte quota all got 226."""

    def test_parallel_uploads_cannot_pass_the_quota(self):
        with Gateway() as gw:
            a = gw.create_account(username="quota8", quota_bytes=1000000)
            n = 8
            ready = threading.Barrier(n, timeout=30)
            sent = threading.Barrier(n, timeout=30)
            results = [None] * n

            def one(i):
                ftp = ftps.login("127.0.0.1", gw.ftps_port, "quota8", a["password"])
                try:
                    try:
                        conn = ftp.transfercmd("STOR q%d.bin" % i)
                    except ftplib.Error as e:
                        ready.wait()
                        sent.wait()
                        results[i] = str(e)
                        return
                    ready.wait()  # every transfer is open before any byte
                    try:
                        conn.sendall(b"q" * 900000)
                    except OSError:
                        pass  # refused: the server dropped it
                    sent.wait()  # every one has sent before any ends
                    try:
                        conn.unwrap()
                    except OSError:
                        pass
                    conn.close()
                    try:
                        results[i] = ftp.voidresp()
                    except ftplib.Error as e:
                        results[i] = str(e)
                finally:
                    ftp.close()

            threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            ok = [r for r in results if r and r.startswith("226")]
            self.assertLessEqual(len(ok), 1, results)
            for r in results:
                if not r.startswith("226"):
                    self.assertTrue(r.startswith("552"), results)
            status, doc, _ = gw.api("GET", "/accounts/%d" % a["id"])
            self.assertLessEqual(doc["used_bytes"], 1000000, doc)
            # the room the refused ones held is free again
            time.sleep(0.2)
            status, doc, _ = gw.api("GET", "/accounts/%d" % a["id"])
            self.assertEqual(doc["used_bytes"], 900000 * len(ok) + sum(
                u["bytes_received"] for u in gw.uploads(account_id=a["id"]) if u["state"] == "partial"))


if __name__ == "__main__":
    unittest.main()


class DataSessionTheftTest(unittest.TestCase):
    """Finding 5: a TLS 1.2 session born on a data connection (an attacker
    from the victim's address taking the victim's passive port with a
    fresh handshake) could be resumed on the victim's next passive port,
    and was taken for the control connection's session."""

    def steal(self, gw, victim, session, results):
        """Connect to the victim's next passive port, with `session` or a
        fresh handshake; the attacker's TLS socket, or None."""
        import socket
        import ssl
        resp = victim.sendcmd("PASV")
        nums = resp[resp.index("(") + 1:resp.index(")")].split(",")
        port = int(nums[4]) * 256 + int(nums[5])
        raw = socket.create_connection(("127.0.0.1", port), 10)
        ctx = self.attacker_ctx  # a session resumes only in its own context

        def handshake():
            try:
                s = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session)
                data = b""
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except (OSError, ssl.SSLError):
                    pass
                results.append((s.session, s.session_reused, data))
            except (OSError, ssl.SSLError, ValueError) as e:
                results.append((None, False, repr(e).encode()))

        t = threading.Thread(target=handshake)
        t.start()
        victim.putcmd("NLST")
        replies = [victim.getline()]
        if replies[0].startswith("150"):
            replies.append(victim.getline())
        t.join(15)
        raw.close()
        return replies

    def test_a_session_born_on_a_data_connection_is_never_resumed(self):
        self.attacker_ctx = ftps.client_context("1.2")
        with Gateway() as gw:
            a = gw.create_account(username="victim")
            victim = ftps.login("127.0.0.1", gw.ftps_port, "victim", a["password"], tls_version="1.2")
            victim.storbinary("STOR secret-list.bin", io.BytesIO(b"s" * 100))
            results = []
            # 1: a fresh handshake on the victim's port: refused, as before
            replies = self.steal(gw, victim, None, results)
            self.assertTrue(replies[-1].startswith("522"), (replies, results, gw.logs()[-1200:]))
            born = results[-1][0]
            self.assertIsNotNone(born, results)
            # 2: the session that data connection was given, resumed on the
            # next port: refused too, and nothing is sent to it
            replies = self.steal(gw, victim, born, results)
            self.assertTrue(replies[-1].startswith("522"), replies)
            self.assertFalse(results[-1][1], "the server resumed a data connection's session")
            self.assertNotIn(b"secret-list.bin", results[-1][2])
            # the victim's own transfers still work
            self.assertEqual(victim.nlst(), ["secret-list.bin"])
            victim.quit()


class AdminLockoutTest(unittest.TestCase):
    """Finding 6: ten bad tokens from an address made the valid token from
    that address get 429 for a minute."""

    def test_bad_tokens_never_lock_out_a_valid_one(self):
        with Gateway() as gw:
            for i in range(30):
                status = gw.api("GET", "/accounts", token="guess-%d" % i)[0]
                self.assertIn(status, (401, 429))
            self.assertEqual(status, 429)  # the guessing is slowed down
            status, doc, _ = gw.api("GET", "/accounts")
            self.assertEqual(status, 200, doc)
            self.assertEqual(gw.api("POST", "/accounts", {"require_encryption": False})[0], 201)
            self.assertEqual(gw.api("GET", "/accounts", token="guess-x")[0], 429)


class TelnetTest(unittest.TestCase):
    """Finding 10: 0xFF 0xFE inside a file name was eaten as a Telnet
    command (`\\xff\\xfe.bin` stored as `.bin`)."""

    def test_iac_only_where_telnet_puts_it(self):
        with Gateway() as gw:
            a = gw.create_account(username="telnet")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "telnet", a["password"])
            ftp.encoding = "latin-1"  # bytes as they are
            ftp.storbinary("STOR a\xff\xfe.bin", io.BytesIO(b"1"))
            ftp.storbinary("STOR b\xff\xff.bin", io.BytesIO(b"22"))  # IAC IAC: one 0xFF
            names = sorted(ftp.nlst())
            self.assertEqual(names, ["a\xff\xfe.bin", "b\xff.bin"])
            self.assertEqual(ftp.size("a\xff\xfe.bin"), 1)
            # Telnet commands before the verb are still dropped (IAC IP, IAC DM)
            self.assertTrue(ftp.sendcmd("\xff\xf4\xff\xf2NOOP").startswith("200"))
            ftp.quit()
            # and the log stays JSON, one object a line, with the bytes shown
            lines = gw.logs().splitlines()
            for line in lines:
                json.loads(line)
            self.assertTrue(any("a\\xff\\xfe.bin" in json.loads(l)["msg"] for l in lines))


class SmallerFindingsTest(unittest.TestCase):
    """Finding 11: repeated refusals flooded the log; the database files
    were created group-readable. (A 255-byte name that could never be
    imported is in DefaultImportTest; log lines that were not JSON in
    TelnetTest.)"""

    def test_refused_data_connections_are_logged_in_bounds(self):
        import socket
        with Gateway() as gw:
            a = gw.create_account(username="flooded")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "flooded", a["password"])
            resp = ftp.sendcmd("PASV")
            nums = resp[resp.index("(") + 1:resp.index(")")].split(",")
            port = int(nums[4]) * 256 + int(nums[5])
            deadline = time.time() + 60
            import struct
            began = time.time()
            for _ in range(1000):
                self.assertLess(time.time(), deadline)
                s = socket.create_connection(("127.0.0.1", port), 5,
                                             source_address=("127.0.0.2", 0))
                # closed with a reset: no TIME_WAIT left behind by the thousand
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            self.assertTrue(ftp.sendcmd("NOOP").startswith("200"))
            ftp.close()
            time.sleep(0.2)
            refused = [l for l in gw.logs().splitlines() if '"ftpd.data_foreign"' in l]
            # 20 lines and a note per 10 s window (a slow build may take several)
            windows = int((time.time() - began) / 10) + 1
            self.assertLessEqual(len(refused), 22 * windows + 1, len(refused))
            self.assertTrue(any("counted, not logged" in l for l in refused), refused[-3:])

    def test_database_files_are_private(self):
        with Gateway() as gw:
            gw.create_account(username="private")
            var = os.path.join(gw.data_dir, "var")
            self.assertTrue(os.path.exists(os.path.join(var, "master.key")))
            for name in ("ftpsgate.db", "ftpsgate.db-wal", "ftpsgate.db-shm", "master.key"):
                path = os.path.join(var, name)
                if os.path.exists(path):
                    self.assertEqual(os.stat(path).st_mode & 0o077, 0, name)
            if BACKEND != "sqlite":
                return  # PostgreSQL keeps its files itself
            gw.stop()
            # one an older version made 0644 is made private at the next start
            os.chmod(os.path.join(var, "ftpsgate.db"), 0o644)
            gw.start()
            self.assertEqual(os.stat(os.path.join(var, "ftpsgate.db")).st_mode & 0o077, 0)


class PassivePortShareTest(unittest.TestCase):
    """Finding 9: 4 accounts x 32 sessions held every port of a 100-port
    range; an honest account then got `425 No passive port is free`."""

    def hold(self, gw, user, password, source, n, held):
        refused = 0
        for _ in range(n):
            ftp = ftps.login("127.0.0.1", gw.ftps_port, user, password, source=source)
            held.append(ftp)
            try:
                ftp.sendcmd("PASV")  # a port nobody connects to
            except ftplib.error_temp as e:
                self.assertRegex(str(e), r"^425 Too many passive ports are open for (this account|your address)")
                refused += 1
        return refused

    def honest_upload(self, gw, acct):
        ftp = ftps.login("127.0.0.1", gw.ftps_port, acct["username"], acct["password"])
        ftp.storbinary("STOR honest.bin", io.BytesIO(b"h" * 100000))
        ftp.quit()

    def test_one_tenant_or_address_cannot_take_the_range(self):
        import harness
        env = {"FTPSGATE_MAX_SESSIONS_PER_ADDRESS": "500", "FTPSGATE_MAX_SESSIONS_PER_ACCOUNT": "100"}
        with Gateway(env=env, passive=harness.free_range(100)) as gw:
            honest = gw.create_account(username="honest")
            held = []
            try:
                # four tenants from one address: the address's share
                refused = 0
                for i in range(4):
                    a = gw.create_account(username="hog%d" % i)
                    refused += self.hold(gw, a["username"], a["password"], "127.0.0.2", 32, held)
                self.assertEqual(refused, 4 * 32 - 25)
                self.honest_upload(gw, honest)
                # one tenant from many addresses: the account's share
                wide = gw.create_account(username="wide")
                refused = 0
                for i in range(40):
                    refused += self.hold(gw, "wide", wide["password"], "127.0.7.%d" % (10 + i), 1, held)
                self.assertEqual(refused, 40 - 25)
                self.honest_upload(gw, honest)
                self.assertEqual(gw.metric("ftpsgate_passive_ports_in_use"), 50)
            finally:
                for ftp in held:
                    ftp.close()
            gw.wait_metric("ftpsgate_passive_ports_in_use", 0)


class HashBudgetTest(unittest.TestCase):
    """Finding 8: 8 sessions looping HASH on a 400 MiB file read it again
    and again on the workers that write uploads, and another account's
    64 MiB upload took 12.2 s instead of 0.15 s. Now a completed upload is
    answered from its record; other files are read on a worker of their
    own, one HASH per account at a time."""

    def test_hash_of_a_completed_upload_reads_no_file(self):
        with Gateway() as gw:
            a = gw.create_account(username="hasher")
            b = gw.create_account(username="uploader")
            big = os.urandom(32 << 20)
            upload(gw, a, "big.bin", big)
            want = "213 SHA-256 0-%d %s /big.bin" % (len(big), sha(big))
            stop = threading.Event()
            answers = []

            def loop():
                ftp = ftps.login("127.0.0.1", gw.ftps_port, "hasher", a["password"])
                for _ in range(25):
                    if stop.is_set():
                        break
                    answers.append(ftp.sendcmd("HASH big.bin"))
                ftp.quit()

            threads = [threading.Thread(target=loop) for _ in range(8)]
            for t in threads:
                t.start()
            data = os.urandom(16 << 20)
            upload(gw, b, "other.bin", data)  # while they run
            for t in threads:
                t.join(120)
            stop.set()
            self.assertEqual(set(answers), {want})
            self.assertEqual(gw.metric('ftpsgate_hash_commands_total{source="record"}'), len(answers))
            self.assertEqual(gw.metric('ftpsgate_hash_commands_total{source="file"}'), 0)
            rec = gw.wait_upload(lambda u: u["path"] == "/other.bin")
            self.assertEqual(rec["sha256"], sha(data))
            # a partial upload has no recorded digest: its file is read
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "hasher", a["password"])
            conn = ftp.transfercmd("STOR part.bin")
            conn.sendall(big[:1 << 20])
            conn.close()  # no close_notify: partial
            with self.assertRaises(ftplib.Error):
                ftp.voidresp()
            gw.wait_upload(lambda u: u["path"] == "/part.bin" and u["state"] == "partial")
            got = ftp.sendcmd("HASH part.bin")
            size = ftp.size("part.bin")
            self.assertEqual(got, "213 SHA-256 0-%d %s /part.bin" % (size, sha(big[:size])))
            self.assertEqual(gw.metric('ftpsgate_hash_commands_total{source="file"}'), 1)
            ftp.quit()


class AdminStalledHandshakeTest(unittest.TestCase):
    """Found while measuring a cluster: HAProxy's health checks, slow to
    send their TLS Finished, kept an admin API worker spinning (libmicro-
    httpd's epoll loop polled the socket with no wait until the handshake
    went on). One client that stops after the server's first flight held
    a core until the connection timed out (about 5 s of CPU in 5 s)."""

    def test_a_stalled_tls_handshake_costs_no_cpu(self):
        import socket
        import ssl
        ctx = ftps.client_context()
        with Gateway() as gw:
            held = []
            try:
                for _ in range(2):
                    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
                    tls = ctx.wrap_bio(inc, out, server_side=False)
                    s = socket.create_connection(("127.0.0.1", gw.admin_port), 10)
                    with self.assertRaises(ssl.SSLWantReadError):
                        tls.do_handshake()
                    s.sendall(out.read())      # the ClientHello ...
                    inc.write(s.recv(65536))   # ... the server's flight; then silence
                    held.append(s)
                time.sleep(0.5)
                before = gw.cpu_seconds()
                time.sleep(4)
                spent = gw.cpu_seconds() - before
                # idle, the daemon spends a few hundredths of a second here
                self.assertLess(spent, 1.0, "%.2f s of CPU in 4 s with two handshakes stalled" % spent)
                self.assertEqual(gw.api("GET", "/health", auth=False)[0], 200)
            finally:
                for s in held:
                    s.close()


class AdminHeldTest(unittest.TestCase):
    """Finding 7: 390 TLS connections from 8 addresses sending a header
    line every 5 s, or 300 event streams from 6 addresses, held every
    connection of the admin API: /health and an admin's GET timed out."""

    def setUp(self):
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 4096 and (hard == resource.RLIM_INFINITY or hard > soft):
            resource.setrlimit(resource.RLIMIT_NOFILE, (4096 if hard == resource.RLIM_INFINITY
                                                        else min(4096, hard), hard))

    def answered(self, gw):
        """/health and an admin's GET answer (within the client's timeout)."""
        self.assertEqual(gw.api("GET", "/health", auth=False)[0], 200)
        self.assertEqual(gw.api("GET", "/accounts")[0], 200)

    def test_slow_headers_and_event_streams_leave_room(self):
        import http.client
        import socket
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with Gateway() as gw:
            slow = []
            try:
                for i in range(390):
                    raw = socket.create_connection(("127.0.0.1", gw.admin_port), 10,
                                                   source_address=("127.0.9.%d" % (10 + i % 8), 0))
                    try:
                        s = ctx.wrap_socket(raw)
                        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
                        slow.append(s)
                    except OSError:
                        raw.close()  # refused: over the address's share
                self.answered(gw)
                # a header line every 2 s: the request never ends, and the
                # server closes it once its headers are overdue
                deadline = time.time() + 30
                alive = list(slow)
                while alive and time.time() < deadline:
                    time.sleep(2)
                    still = []
                    for s in alive:
                        try:
                            s.sendall(b"X-Slow: 1\r\n")
                            s.settimeout(0.01)
                            if s.recv(1) == b"":
                                continue
                            still.append(s)
                        except socket.timeout:
                            still.append(s)
                        except OSError:
                            pass
                    alive = still
                    self.answered(gw)
                self.assertEqual(alive, [], "slow requests were never closed")
            finally:
                for s in slow:
                    s.close()
            # event streams: capped per address and in all, apart from requests
            status, tok, _ = gw.api("POST", "/tokens", {"name": "watcher", "scope": "read"})
            self.assertEqual(status, 201, tok)
            streams, refused = [], 0
            try:
                for i in range(300):
                    conn = http.client.HTTPSConnection("127.0.0.1", gw.admin_port, context=ctx,
                                                       timeout=10,
                                                       source_address=("127.0.10.%d" % (10 + i % 6), 0))
                    conn.request("GET", "/api/v1/events",
                                 headers={"Authorization": "Bearer " + tok["token"]})
                    resp = conn.getresponse()
                    if resp.status == 200:
                        streams.append((conn, resp))
                    else:
                        self.assertIn(resp.status, (429, 503))
                        refused += 1
                        conn.close()
                self.assertEqual(len(streams), 6 * 8)
                self.answered(gw)
                # and the streams that are open still get the news
                gw.create_account(username="news")
                for _, resp in streams[:5]:
                    _, event, data = Gateway.read_event(resp)
                    self.assertEqual((event, data["state"]), ("account", "created"))
            finally:
                for conn, _ in streams:
                    conn.close()
