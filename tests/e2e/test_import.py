"""The import pipeline: the default filing into data/imported, and import
hooks that succeed, fail and retry, hang, talk a lot, or read the
plaintext; and what survives SIGKILL of the daemon while a hook runs or
verification is pending."""
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import ftps
from harness import S3, STORAGE, Gateway, hook


def upload(gw, acct, name, data):
    ftp = ftps.login("127.0.0.1", gw.ftps_port, acct["username"], acct["password"])
    ftp.storbinary("STOR " + name, io.BytesIO(data))
    ftp.quit()


def wait_state(gw, path, states, timeout=30):
    return gw.wait_upload(lambda u: u["path"] == path and u["state"] in states, timeout=timeout)


class ImportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpsgate-hooks-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_default_files_into_the_local_tree(self):
        with Gateway() as gw:
            a = gw.create_account(username="filed")
            data = os.urandom(12345)
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "filed", a["password"])
            ftp.mkd("box")
            ftp.storbinary("STOR box/one.nsf", io.BytesIO(data))
            ftp.storbinary("STOR box/one.nsf", io.BytesIO(b"second"))  # same name again
            ftp.quit()
            rec = wait_state(gw, "/box/one.nsf", ("imported",))
            base = os.path.join(gw.data_dir, "var", "imported", str(a["id"]))
            deadline = time.time() + 10
            while len([n for n in os.listdir(base) if n.endswith(".json")]) < 2 and time.time() < deadline:
                time.sleep(0.05)
            manifests = sorted(n for n in os.listdir(base) if n.endswith(".json"))
            self.assertEqual(len(manifests), 2, manifests)
            digests = set()
            for n in manifests:
                with open(os.path.join(base, n)) as f:
                    m = json.load(f)
                self.assertEqual(n, "%d.json" % m["upload_id"])
                self.assertEqual(m["file"], "%d/box/one.nsf" % m["upload_id"])
                with open(os.path.join(base, m["file"]), "rb") as f:
                    self.assertEqual(hashlib.sha256(f.read()).hexdigest(), m["sha256"])
                digests.add(m["sha256"])
            self.assertIn(hashlib.sha256(data).hexdigest(), digests)
            self.assertEqual(rec["import"]["attempts"], 1)

    def test_hook_succeeds_with_the_facts(self):
        facts = os.path.join(self.tmp, "facts")
        # its bytes on stdin as they are, and (on disk) its file too
        h = hook(self.tmp, "ok.sh", 'env | grep ^FTPSGATE_UPLOAD_ | sort > "%s"\n'
                 'echo "imported $FTPSGATE_UPLOAD_PATH"\nsha256sum - | sed "s/-$/stdin/"\n'
                 '[ -z "$FTPSGATE_UPLOAD_FILE" ] || sha256sum "$FTPSGATE_UPLOAD_FILE"\n' % facts)
        with Gateway(env={"FTPSGATE_IMPORT_COMMAND": h, "FTPSGATE_IMPORT_STDIN": "as-is"}) as gw:
            a = gw.create_account(username="hooked")
            data = b"hook me" * 1000
            upload(gw, a, "h.bin", data)
            rec = wait_state(gw, "/h.bin", ("imported", "failed"))
            self.assertEqual(rec["state"], "imported")
            self.assertEqual(rec["import"]["hook_exit"], 0)
            self.assertIn("imported /h.bin", rec["import"]["hook_output"])
            self.assertIn(hashlib.sha256(data).hexdigest() + "  stdin", rec["import"]["hook_output"])
            with open(facts) as f:
                env = dict(line.strip().split("=", 1) for line in f)
            if STORAGE == "file":
                self.assertIn(hashlib.sha256(data).hexdigest() + "  " + env["FTPSGATE_UPLOAD_FILE"],
                              rec["import"]["hook_output"])
            else:
                self.assertNotIn("FTPSGATE_UPLOAD_FILE", env)
                self.assertEqual(env["FTPSGATE_UPLOAD_OBJECT"], "s3://%s/%s/%d" % (
                    S3["FTPSGATE_STORAGE_URL"][5:].split("/", 1)[0], gw.s3_prefix(), rec["id"]))
            self.assertEqual(env["FTPSGATE_UPLOAD_ID"], str(rec["id"]))
            self.assertEqual(env["FTPSGATE_UPLOAD_ACCOUNT"], str(a["id"]))
            self.assertEqual(env["FTPSGATE_UPLOAD_PATH"], "/h.bin")
            self.assertEqual(env["FTPSGATE_UPLOAD_SIZE"], str(len(data)))
            self.assertEqual(env["FTPSGATE_UPLOAD_SHA256"], hashlib.sha256(data).hexdigest())

    def test_the_list_shows_each_upload_as_its_own_page_does(self):
        """GET /uploads writes its items as text directly; each must equal
        GET /uploads/{id}: names with quotes and non-ASCII letters,
        hook output with control characters and bytes that are not UTF-8."""
        h = hook(self.tmp, "odd.sh", "printf 'tab\\there \"quoted\" back\\\\slash \\001 bad:\\377\\376 ok:\\303\\251\\n'\n")
        with Gateway(env={"FTPSGATE_IMPORT_COMMAND": h}) as gw:
            a = gw.create_account(username="lister")
            names = ['quote"d.bin', "caf\u00e9 \u65e5\u672c.bin", "plain.bin"]
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "lister", a["password"])
            ftp.encoding = "utf-8"
            for n in names:
                ftp.storbinary("STOR " + n, io.BytesIO(n.encode()))
            ftp.quit()
            for n in names:
                wait_state(gw, "/" + n, ("imported",))
            items = gw.uploads(limit=2)
            items += gw.uploads(limit=1000, cursor=items[-1]["id"])
            self.assertEqual(sorted(u["path"] for u in items), sorted("/" + n for n in names))
            for u in items:
                status, single, _ = gw.api("GET", "/uploads/%d" % u["id"])
                self.assertEqual(status, 200)
                self.assertEqual(u, single)
            out = items[0]["import"]["hook_output"]
            self.assertIn('"quoted"', out)
            self.assertIn("back\\slash", out)
            self.assertIn("\t", out)
            self.assertIn("ok:\u00e9", out)

    def test_hook_fails_twice_then_succeeds(self):
        count = os.path.join(self.tmp, "count")
        h = hook(self.tmp, "flaky.sh", 'n=$(cat "%s" 2>/dev/null || echo 0); n=$((n+1)); '
                 'echo $n > "%s"; echo "attempt $n"; [ $n -ge 3 ]\n' % (count, count))
        env = {"FTPSGATE_IMPORT_COMMAND": h, "FTPSGATE_IMPORT_BACKOFF_S": "0"}
        with Gateway(env=env) as gw:
            a = gw.create_account(username="flaky")
            upload(gw, a, "f.bin", b"f")
            rec = wait_state(gw, "/f.bin", ("imported", "failed"))
            self.assertEqual(rec["state"], "imported")
            self.assertEqual(rec["import"]["attempts"], 3)
            self.assertIn("attempt 3", rec["import"]["hook_output"])

    def test_hook_gives_up_then_retry(self):
        h = hook(self.tmp, "no.sh", 'echo "the mail store is down" >&2; exit 7\n')
        env = {"FTPSGATE_IMPORT_COMMAND": h, "FTPSGATE_IMPORT_BACKOFF_S": "0",
               "FTPSGATE_IMPORT_ATTEMPTS": "2"}
        with Gateway(env=env) as gw:
            a = gw.create_account(username="failing")
            upload(gw, a, "x.bin", b"x")
            rec = wait_state(gw, "/x.bin", ("failed",))
            self.assertEqual(rec["import"]["attempts"], 2)
            self.assertEqual(rec["import"]["hook_exit"], 7)
            self.assertIn("the mail store is down", rec["import"]["hook_output"])
            self.assertIn("exited with status 7", rec["error"])
            status, doc, _ = gw.api("POST", "/uploads/%d/retry" % rec["id"])
            self.assertEqual(status, 200)
            self.assertIn(doc["state"], ("verified", "importing", "failed"))
            rec = gw.wait_upload(lambda u: u["id"] == rec["id"] and u["state"] == "failed"
                                 and u["import"]["attempts"] == 2)

    def test_hook_that_hangs_is_killed_with_its_children(self):
        pidfile = os.path.join(self.tmp, "child.pid")
        h = hook(self.tmp, "hang.sh", 'sleep 300 & echo $! > "%s"; wait\n' % pidfile)
        env = {"FTPSGATE_IMPORT_COMMAND": h, "FTPSGATE_IMPORT_TIMEOUT_S": "1",
               "FTPSGATE_IMPORT_ATTEMPTS": "1"}
        with Gateway(env=env) as gw:
            a = gw.create_account(username="hanging")
            upload(gw, a, "slow.bin", b"s")
            rec = wait_state(gw, "/slow.bin", ("failed",))
            self.assertIn("killed", rec["error"])
            with open(pidfile) as f:
                child = int(f.read())
            time.sleep(0.2)
            self.assertFalse(os.path.exists("/proc/%d" % child) and
                             open("/proc/%d/stat" % child).read().split()[2] != "Z",
                             "the hook's child survived")

    def test_hook_output_is_bounded(self):
        h = hook(self.tmp, "loud.sh", 'head -c 5000000 /dev/zero | tr "\\0" "x"; echo; echo THE END\n')
        with Gateway(env={"FTPSGATE_IMPORT_COMMAND": h}) as gw:
            a = gw.create_account(username="loud")
            upload(gw, a, "l.bin", b"l")
            rec = wait_state(gw, "/l.bin", ("imported", "failed"))
            self.assertEqual(rec["state"], "imported")
            self.assertLessEqual(len(rec["import"]["hook_output"]), 4096)
            self.assertTrue(rec["import"]["hook_output"].endswith("THE END\n"))

    @unittest.skipUnless(shutil.which("age"), "age is not installed")
    def test_hook_reads_the_plaintext(self):
        out = os.path.join(self.tmp, "plain.sha256")
        h = hook(self.tmp, "plain.sh", 'sha256sum | cut -d" " -f1 > "%s"\n' % out)
        env = {"FTPSGATE_IMPORT_COMMAND": h, "FTPSGATE_IMPORT_STDIN": "plaintext"}
        with Gateway(env=env) as gw:
            a = gw.create_account(username="plain", require_encryption=True)
            plain = os.urandom(3 * 65536 + 7)
            enc = subprocess.run(["age", "-r", a["key"]["recipient"]], input=plain,
                                 capture_output=True, check=True, timeout=30).stdout
            upload(gw, a, "mail.age", enc)
            rec = wait_state(gw, "/mail.age", ("imported", "failed"))
            self.assertEqual(rec["state"], "imported", rec)
            self.assertEqual(rec["import"]["key_id"], a["key"]["id"])
            with open(out) as f:
                self.assertEqual(f.read().strip(), hashlib.sha256(plain).hexdigest())


class PlainStdinTest(unittest.TestCase):
    def test_an_unencrypted_upload_is_its_own_plaintext(self):
        tmp = tempfile.mkdtemp(prefix="ftpsgate-plain-")
        out = os.path.join(tmp, "sha")
        h = hook(tmp, "p.sh", 'sha256sum | cut -d" " -f1 > "%s"\n' % out)
        try:
            with Gateway(env={"FTPSGATE_IMPORT_COMMAND": h, "FTPSGATE_IMPORT_STDIN": "plaintext"}) as gw:
                a = gw.create_account(username="unencrypted")
                data = os.urandom(200000)
                upload(gw, a, "u.bin", data)
                rec = wait_state(gw, "/u.bin", ("imported", "failed"))
                self.assertEqual(rec["state"], "imported", rec)
                with open(out) as f:
                    self.assertEqual(f.read().strip(), hashlib.sha256(data).hexdigest())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class RetentionTest(unittest.TestCase):
    def test_imported_files_then_tombstones_go_after_retention(self):
        gw = Gateway(env={"FTPSGATE_RETENTION_DAYS": "1"})
        gw.start()
        try:
            a = gw.create_account(username="retained")
            upload(gw, a, "old.bin", b"old")
            upload(gw, a, "new.bin", b"new")
            old = wait_state(gw, "/old.bin", ("imported",))
            wait_state(gw, "/new.bin", ("imported",))
            gw.stop()
            two_days_ago = int((time.time() - 2 * 86400) * 1000)
            gw.records_sql("UPDATE uploads SET completed_at = ? WHERE id = ?", (two_days_ago, old["id"]))
            gw.start()
            rec = gw.wait_upload(lambda u: u["id"] == old["id"] and u["purged_at"])
            self.assertIsNone(gw.stored(rec["id"]))
            self.assertIsNone([u for u in gw.uploads() if u["path"] == "/new.bin"][0]["purged_at"])
            gw.stop()
            gw.records_sql("UPDATE uploads SET purged_at = ? WHERE id = ?", (two_days_ago, old["id"]))
            gw.start()
            deadline = time.time() + 10
            while any(u["id"] == old["id"] for u in gw.uploads()) and time.time() < deadline:
                time.sleep(0.1)
            self.assertFalse(any(u["id"] == old["id"] for u in gw.uploads()))
            self.assertEqual(len(gw.uploads()), 1)
        finally:
            gw.cleanup()


class CrashTest(unittest.TestCase):
    def test_sigkill_while_a_hook_runs_and_with_verification_pending(self):
        tmp = tempfile.mkdtemp(prefix="ftpsgate-crash-")
        done = os.path.join(tmp, "done")
        os.mkdir(done)
        # An idempotent hook, as the docs ask: it imports an upload once,
        # keyed by its id, and is slow enough to be killed in the middle.
        h = hook(tmp, "idem.sh",
                 'm="%s/$FTPSGATE_UPLOAD_ID"; [ -e "$m" ] && { echo already; exit 0; }\n'
                 'echo started >> "%s/log.$FTPSGATE_UPLOAD_ID"; sleep 1\n'
                 'echo imported > "$m"\n' % (done, tmp))
        gw = Gateway(env={"FTPSGATE_IMPORT_COMMAND": h})
        gw.start()
        try:
            a = gw.create_account(username="crash")
            for i in range(3):
                upload(gw, a, "c%d.bin" % i, b"crash %d" % i)
            wait_state(gw, "/c0.bin", ("importing",))
            gw.kill9()
            # and one record left 'verifying' as if the kill came then
            gw.records_sql("UPDATE uploads SET state = 'verifying' WHERE path = '/c2.bin'"
                           " AND state != 'imported'")
            gw.start()
            for i in range(3):
                rec = wait_state(gw, "/c%d.bin" % i, ("imported", "failed"), timeout=60)
                self.assertEqual(rec["state"], "imported", rec)
                self.assertEqual(hashlib.sha256(gw.stored(rec["id"])).hexdigest(), rec["sha256"])
            self.assertEqual(sorted(os.listdir(done)),
                             sorted(str(u["id"]) for u in gw.uploads()))
            for name in os.listdir(done):
                with open(os.path.join(done, name)) as f:
                    self.assertEqual(f.read(), "imported\n")  # imported once each
        finally:
            gw.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
