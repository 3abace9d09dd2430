"""Faults of the environment: the data directory's disk fills up mid-upload
or turns read-only, the database is held locked by another process, the
import hook disappears or stops being executable, and the daemon is
SIGKILLed at random points of 100 uploads. Each is a clear reply or a
recorded error, nothing completed is lost, the daemon keeps serving, and
it recovers once the fault is gone.

The disk tests mount a small tmpfs and so need root (CI runs as root)."""
import ftplib
import hashlib
import io
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import ftps
from harness import COMPLETE, STORAGE, Gateway, skip_unless_file_storage

MiB = 1024 * 1024
GW_DATA_CHUNK = 1024 * 1024  # include/gw_limits.h: the most one write call can leave unwritten


def mount_tmpfs(path, size_mib):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm,mode=0755" % size_mib, "tmpfs", path],
                   check=True, capture_output=True, timeout=30)


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def sha(data):
    return hashlib.sha256(data).hexdigest()


def store_cut_short(ftp, name, data):
    """STOR that the server may end early: its final reply."""
    conn = ftp.transfercmd("STOR " + name)
    try:
        conn.sendall(data)
        conn.unwrap()
    except OSError:  # the server closed the data connection first
        pass
    conn.close()
    return final_reply(ftp)


def final_reply(ftp):
    """The next reply on the control connection, whatever its code."""
    try:
        return ftp.getresp()
    except ftplib.Error as e:
        return str(e)


@unittest.skipUnless(os.geteuid() == 0, "mounting a tmpfs needs root")
@skip_unless_file_storage("the data disk fills: the bytes are not there in object storage")
class DiskTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpsgate-faults-")
        self.mnt = os.path.join(self.tmp, "disk")
        os.mkdir(self.mnt)
        mount_tmpfs(self.mnt, 48)

    def tearDown(self):
        umount(self.mnt)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def gateway(self, env):
        """A gateway whose data are on the small disk, and its log not:
        the log's growth must not move what the test fills to the byte
        (a log line more made /health say the disk was full)."""
        gw = Gateway(data_dir=self.mnt, env=env)
        gw.log_path = os.path.join(self.tmp, "daemon.log")
        return gw

    def fill(self, leave_bytes):
        """A filler file that leaves about leave_bytes free."""
        path = os.path.join(self.mnt, "filler")
        size = free_bytes(self.mnt) - leave_bytes
        with open(path, "wb") as f:
            chunk = b"\0" * MiB
            while size > 0:
                n = min(size, MiB)
                f.write(chunk[:n])
                size -= n
        return path

    def test_disk_full_mid_upload_is_452_keeps_the_partial_and_recovers(self):
        # Uploads stop 4 MiB short of a full disk: room for the database.
        gw = self.gateway({"FTPSGATE_MIN_FREE_MIB": "4"})
        gw.start()
        try:
            a = gw.create_account(username="full")
            b = gw.create_account(username="bystander")
            filler = self.fill(12 * MiB)
            data = os.urandom(16 * MiB)
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "full", a["password"])
            self.assertEqual(store_cut_short(ftp, "big.bin", data)[:4], "452 ")
            # The session goes on; the partial upload is kept and resumable.
            size = int(ftp.sendcmd("SIZE big.bin").split()[1])
            self.assertGreater(size, 0)
            self.assertLess(size, len(data))
            rec = gw.wait_upload(lambda u: u["path"] == "/big.bin" and u["state"] == "partial")
            self.assertIn("no space", rec["error"])
            # Everyone else is served meanwhile: logins, listings, the API.
            other = ftps.login("127.0.0.1", gw.ftps_port, "bystander", b["password"])
            self.assertEqual(other.nlst(), [])
            health = gw.api("GET", "/health", auth=False)
            self.assertEqual(health[0], 200, health[1])
            # Space returns: the same client resumes where it stopped.
            os.unlink(filler)
            size = int(ftp.sendcmd("SIZE big.bin").split()[1])
            reply = ftp.storbinary("STOR big.bin", io.BytesIO(data[size:]), rest=size)
            self.assertEqual(reply, "226 Transfer complete.")
            rec = gw.wait_upload(lambda u: u["path"] == "/big.bin" and u["state"] in COMPLETE)
            self.assertEqual(rec["sha256"], sha(data))
            self.assertEqual(rec["size"], len(data))
            ftp.quit()
            self.assertEqual(other.storbinary("STOR small.bin", io.BytesIO(b"s" * 1000)),
                             "226 Transfer complete.")
            other.quit()
            self.assertIn("less than min_free_mib (4 MiB): upload 1 stopped", gw.logs())
        finally:
            gw.cleanup()

    def test_disk_full_to_the_last_byte_is_recorded_once_space_returns(self):
        # No reserve: the database cannot write either when the disk fills.
        gw = self.gateway({"FTPSGATE_MIN_FREE_MIB": "0"})
        gw.start()
        try:
            a = gw.create_account(username="brim")
            filler = self.fill(6 * MiB)
            data = os.urandom(16 * MiB)
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "brim", a["password"])
            self.assertEqual(store_cut_short(ftp, "big.bin", data)[:4], "452 ")
            self.assertLess(free_bytes(self.mnt), GW_DATA_CHUNK)
            os.unlink(filler)
            # The final state is recorded, at once or (when the database
            # refused it too) once it can be.
            rec = gw.wait_upload(lambda u: u["path"] == "/big.bin" and u["state"] == "partial")
            size = int(ftp.sendcmd("SIZE big.bin").split()[1])
            self.assertEqual(rec["bytes_received"], size)
            reply = ftp.storbinary("STOR big.bin", io.BytesIO(data[size:]), rest=size)
            self.assertEqual(reply, "226 Transfer complete.")
            rec = gw.wait_upload(lambda u: u["path"] == "/big.bin" and u["state"] in COMPLETE)
            self.assertEqual(rec["sha256"], sha(data))
            ftp.quit()
        finally:
            gw.cleanup()


class DatabaseTest(unittest.TestCase):
    @skip_unless_file_storage("resumes at 1 MiB: object storage keeps whole parts of 5 MiB")
    def test_database_locked_by_another_process(self):
        """Another process holds the records' write lock (a backup tool,
        an admin's shell): reads go on, a write waits its busy
        timeout and fails cleanly, and what it could not record is
        written once the lock is gone."""
        with Gateway() as gw:
            a = gw.create_account(username="held")
            b = gw.create_account(username="other")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "held", a["password"])
            data = os.urandom(3 * MiB)
            conn = ftp.transfercmd("STOR held.bin")
            conn.sendall(data[:MiB])
            gw.wait_upload(lambda u: u["path"] == "/held.bin" and u["bytes_received"] == MiB)
            release = gw.hold_upload_writes()
            try:
                # The transfer breaks (no close_notify): its end cannot be
                # recorded while the lock is held.
                conn.close()
                self.assertEqual(final_reply(ftp)[:4], "426 ")
                # Reads are served meanwhile: a login, a listing, the API.
                other = ftps.login("127.0.0.1", gw.ftps_port, "other", b["password"])
                self.assertEqual(other.nlst(), [])
                rec = gw.wait_upload(lambda u: u["path"] == "/held.bin")
                self.assertEqual(rec["state"], "receiving")
                # A new upload needs a write: a temporary failure, 451.
                self.assertEqual(store_cut_short(other, "new.bin", b"n")[:4], "451 ")
            finally:
                release()
            rec = gw.wait_upload(lambda u: u["path"] == "/held.bin" and u["state"] == "partial")
            self.assertEqual(rec["bytes_received"], MiB)
            self.assertEqual(ftp.storbinary("STOR held.bin", io.BytesIO(data[MiB:]), rest=MiB),
                             "226 Transfer complete.")
            rec = gw.wait_upload(lambda u: u["path"] == "/held.bin" and u["state"] in COMPLETE)
            self.assertEqual(rec["sha256"], sha(data))
            self.assertEqual(other.storbinary("STOR new.bin", io.BytesIO(b"n")),
                             "226 Transfer complete.")
            ftp.quit()
            other.quit()
            logs = gw.logs()
            self.assertIn(gw.LOCKED_MESSAGE, logs)
            self.assertIn("upload 1 will be recorded as partial once the database takes writes",
                          logs)
            self.assertIn("upload 1 recorded as partial", logs)


class HookTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpsgate-hookfault-")
        self.hook = os.path.join(self.tmp, "import.sh")
        with open(self.hook, "w") as f:
            f.write("#!/bin/sh\necho imported \"$FTPSGATE_UPLOAD_PATH\"\n")
        os.chmod(self.hook, 0o755)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_a_hook_that_cannot_run_at_start_stops_the_start(self):
        os.chmod(self.hook, 0o644)
        gw = Gateway(env={"FTPSGATE_IMPORT_COMMAND": self.hook})
        with self.assertRaises(RuntimeError) as cm:
            gw.start(timeout=10)
        self.assertIn("cannot run import_command '%s': Permission denied" % self.hook,
                      str(cm.exception))
        gw.proc = None
        shutil.rmtree(gw.data_dir, ignore_errors=True)

    def test_a_hook_gone_or_not_executable_is_recorded_and_retried(self):
        env = {"FTPSGATE_IMPORT_COMMAND": self.hook, "FTPSGATE_IMPORT_BACKOFF_S": "0",
               "FTPSGATE_IMPORT_ATTEMPTS": "2"}
        with Gateway(env=env) as gw:
            a = gw.create_account(username="hooked")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "hooked", a["password"])
            # Someone breaks the hook while the gateway runs.
            os.chmod(self.hook, 0o644)
            ftp.storbinary("STOR one.bin", io.BytesIO(b"1" * 1000))
            rec = gw.wait_upload(lambda u: u["path"] == "/one.bin" and u["state"] == "failed")
            self.assertEqual(rec["error"], "cannot run '%s': Permission denied; gave up after 2 attempts" % self.hook)
            self.assertEqual(rec["import"]["attempts"], 2)
            os.rename(self.hook, self.hook + ".away")
            ftp.storbinary("STOR two.bin", io.BytesIO(b"2" * 1000))
            rec2 = gw.wait_upload(lambda u: u["path"] == "/two.bin" and u["state"] == "failed")
            self.assertEqual(rec2["error"], "cannot run '%s': No such file or directory; gave up after 2 attempts"
                             % self.hook)
            ftp.quit()
            # Mended: an admin's retry imports both, bytes as they arrived.
            os.rename(self.hook + ".away", self.hook)
            os.chmod(self.hook, 0o755)
            for r in (rec, rec2):
                self.assertEqual(gw.api("POST", "/uploads/%d/retry" % r["id"])[0], 200)
            for path in ("/one.bin", "/two.bin"):
                done = gw.wait_upload(lambda u: u["path"] == path and u["state"] == "imported")
                self.assertIn("imported " + path, done["import"]["hook_output"])
                self.assertEqual(done["import"]["hook_exit"], 0)


STATES = ("partial", "received", "verifying", "verified", "rejected", "importing", "imported",
          "failed")


class CrashTest(unittest.TestCase):
    UPLOADS = 100
    CLIENTS = 4

    def uploader(self, gw, acct, jobs, acked, stop):
        """Upload each (name, data) of jobs until it gets its 226, through
        every kill: reconnect, ask SIZE, resume from there."""
        ftp = None
        for name, data in jobs:
            while not stop.is_set():
                try:
                    if ftp is None:
                        ftp = ftps.login("127.0.0.1", gw.ftps_port, acct["username"],
                                         acct["password"], timeout=10)
                    try:
                        have = int(ftp.sendcmd("SIZE " + name).split()[1])
                    except ftplib.error_perm:
                        have = 0
                    # A file already whole but never confirmed is sent again
                    # from the start: the client cannot know it was stored.
                    rest = have if 0 < have < len(data) else None
                    reply = ftp.storbinary("STOR " + name, io.BytesIO(data[rest or 0:]), rest=rest)
                    if reply.startswith("226"):
                        acked[name] = data
                        break
                except (OSError, EOFError, ftplib.Error):
                    if ftp is not None:
                        ftp.close()
                    ftp = None
                    time.sleep(0.05)
        if ftp is not None:
            try:
                ftp.quit()
            except (OSError, EOFError, ftplib.Error):
                ftp.close()

    def test_sigkill_at_random_points_of_100_uploads(self):
        rng = random.Random(os.environ.get("FTPSGATE_SEED") or None)
        gw = Gateway()
        gw.start()
        try:
            accounts = [gw.create_account(username="crash%d" % i) for i in range(self.CLIENTS)]
            sent = {}
            jobs = [[] for _ in range(self.CLIENTS)]
            for i in range(self.UPLOADS):
                # sizes from empty to 3 MiB, a few on chunk boundaries
                size = rng.choice([0, GW_DATA_CHUNK, rng.randrange(1, 3 * MiB)])
                name = "f%03d.bin" % i
                sent[(i % self.CLIENTS, name)] = data = rng.randbytes(size)
                jobs[i % self.CLIENTS].append((name, data))
            acked = [dict() for _ in range(self.CLIENTS)]
            stop = threading.Event()
            threads = [threading.Thread(target=self.uploader,
                                        args=(gw, accounts[c], jobs[c], acked[c], stop))
                       for c in range(self.CLIENTS)]
            for t in threads:
                t.start()
            kills = 0
            deadline = time.time() + 120
            busy = lambda: any(t.is_alive() for t in threads) and time.time() < deadline
            while busy():
                # After every few confirmed uploads, a kill at a random
                # moment: in a login, an open, a write, a commit, an import.
                before = sum(len(a) for a in acked)
                while busy() and sum(len(a) for a in acked) < before + 1:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0, 0.03))
                if kills < 25 and busy():
                    gw.kill9()
                    kills += 1
                    gw.start()
            stop.set()
            for t in threads:
                t.join(30)
            self.assertEqual(sum(len(a) for a in acked), self.UPLOADS,
                             "not every upload was confirmed within the time bound")
            self.assertGreaterEqual(kills, 10)
            # One more kill with nothing running, then the records against the disk.
            gw.kill9()
            gw.start()
            self.check_records(gw, accounts, acked)
        finally:
            gw.cleanup()

    def check_records(self, gw, accounts, acked):
        deadline = time.time() + 60
        while time.time() < deadline:
            recs = gw.uploads(limit=1000)
            if all(r["state"] in ("partial", "imported") for r in recs):
                break
            time.sleep(0.2)
        by_account = {a["id"]: c for c, a in enumerate(accounts)}
        objects = os.path.join(gw.data_dir, "var", "uploads")
        on_disk = set(os.listdir(objects)) if STORAGE == "file" else set()
        confirmed = set()
        for r in recs:
            self.assertIn(r["state"], ("partial", "imported"), r)
            c = by_account[r["account_id"]]
            name = r["path"].lstrip("/")
            data = acked[c][name]
            if r["state"] == "partial" and STORAGE == "s3":
                # its parts cannot be read back before it completes: what
                # a resume continues from is what they hold
                self.assertEqual(r["bytes_received"], gw.kept_bytes(r["id"]), r)
                continue
            if r["state"] == "partial" and r["bytes_received"] == 0 and str(r["id"]) not in on_disk:
                # killed between recording the upload and creating its file
                self.assertIn("before its file was created", r["error"])
                continue
            got = gw.stored(r["id"])
            self.assertIsNotNone(got, "record without its bytes: %r" % r)
            if r["state"] == "partial":
                # what a resume would continue from: the bytes sent so far
                self.assertEqual(r["bytes_received"], len(got), r)
                self.assertEqual(got, data[:len(got)], r)
            else:
                self.assertEqual(r["size"], len(data), r)
                self.assertEqual(r["sha256"], sha(data), r)
                self.assertEqual(sha(got), sha(data), r)
                confirmed.add((c, name))
        self.assertEqual(confirmed, {(c, n) for c in range(len(acked)) for n in acked[c]})
        orphans = on_disk - {str(r["id"]) for r in recs}
        self.assertEqual(orphans, set(), "files without a record")


if __name__ == "__main__":
    unittest.main()
