"""Encrypted uploads end to end: the admin downloads an account's age
recipient, Debian's age encrypts to it, curl uploads; what is not an
authentic age file for the account is refused while it arrives."""
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import ftps
from harness import COMPLETE, TOKEN, Gateway


def age(*args, data):
    return subprocess.run(["age"] + list(args), input=data, capture_output=True, check=True,
                          timeout=60).stdout


@unittest.skipUnless(shutil.which("age"), "age is not installed")
class EncryptionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway().start()
        cls.tmp = tempfile.mkdtemp(prefix="ftpsgate-age-")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def account(self, name):
        a = self.gw.create_account(username=name, require_encryption=True)
        self.assertTrue(a["require_encryption"])
        return a

    def recipient(self, a, key_id=None):
        """The recipient file, as an admin downloads it."""
        key_id = key_id or a["key"]["id"]
        r = subprocess.run(["curl", "-sk", "-H", "Authorization: Bearer " + TOKEN,
                            "-H", "Accept: text/plain", "%s/accounts/%d/keys/%d"
                            % (self.gw.admin_url, a["id"], key_id)],
                           capture_output=True, check=True, timeout=30)
        text = r.stdout.decode()
        self.assertRegex(text, r"^age1[02-9ac-hj-np-z]{58}\n$")
        return text.strip()

    def curl_upload(self, a, name, data, *extra):
        src = os.path.join(self.tmp, name)
        with open(src, "wb") as f:
            f.write(data)
        return subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "60"] + list(extra) +
                              ["-T", src, "ftps://%s:%s@127.0.0.1:%d/%s" % (
                                  a["username"], a["password"], self.gw.ftps_port, name)],
                              capture_output=True, timeout=90)

    def final(self, a, name):
        return self.gw.wait_upload(lambda u: u["account_id"] == a["id"] and u["path"] == "/" + name
                                   and u["state"] not in ("receiving",))

    def test_age_file_is_received(self):
        a = self.account("enc-ok")
        plain = os.urandom(300000)
        for armor in ([], ["-a"]):
            name = "mail%s.age" % ("-armored" if armor else "")
            enc = age("-r", self.recipient(a), *armor, data=plain)
            r = self.curl_upload(a, name, enc)
            self.assertEqual(r.returncode, 0, r.stderr)
            rec = self.final(a, name)
            self.assertIn(rec["state"], COMPLETE)
            self.assertEqual(rec["sha256"], hashlib.sha256(enc).hexdigest())

    def test_refusals_name_the_reason(self):
        a = self.account("enc-strict")
        other = self.account("enc-other")
        plain = os.urandom(200000)
        enc = age("-r", self.recipient(a), data=plain)
        flipped = bytearray(enc)
        flipped[150000] ^= 0x40
        cases = [
            ("plain.nsf", plain, "not an age file"),
            # taken for armor by the first byte, still named for what it is
            ("dash.nsf", b"-" + plain, "not an age file"),
            ("space.nsf", b" " + plain, "not an age file"),
            ("other.age", age("-r", self.recipient(other), data=plain),
             "encrypted to none of this account's keys"),
            ("cut.age", enc[:120000], "truncated"),
            ("flipped.age", bytes(flipped), "corrupt at byte"),
        ]
        for name, data, why in cases:
            with self.subTest(name=name):
                r = self.curl_upload(a, name, data)
                self.assertNotEqual(r.returncode, 0)
                rec = self.final(a, name)
                self.assertEqual(rec["state"], "rejected")
                self.assertIn(why, rec["error"])
                self.assertIsNone(self.gw.stored(rec["id"]))
        ftp = ftps.login("127.0.0.1", self.gw.ftps_port, a["username"], a["password"])
        names = ftp.nlst()
        for name, _, _ in cases:
            self.assertNotIn(name, names)  # the bytes were dropped
        # the reply names the reason, during the transfer
        reply = ftps.stor_refused(ftp, "again.nsf", plain)
        self.assertRegex(reply, r"^553 Rejected: not an age file")
        ftp.quit()

    def test_revoked_key_and_a_second_key(self):
        a = self.account("enc-rotate")
        old = self.recipient(a)
        status, k2, _ = self.gw.api("POST", "/accounts/%d/keys" % a["id"])
        self.assertEqual(status, 201)
        new = self.recipient(a, k2["id"])
        plain = os.urandom(1000)
        self.assertEqual(self.curl_upload(a, "old.age", age("-r", old, data=plain)).returncode, 0)
        self.assertEqual(self.curl_upload(a, "new.age", age("-r", new, data=plain)).returncode, 0)
        self.assertEqual(self.gw.api("DELETE", "/accounts/%d/keys/%d" % (a["id"], a["key"]["id"]))[0], 200)
        self.assertNotEqual(self.curl_upload(a, "old2.age", age("-r", old, data=plain)).returncode, 0)
        self.assertEqual(self.final(a, "old2.age")["state"], "rejected")
        self.assertEqual(self.curl_upload(a, "new2.age", age("-r", new, data=plain)).returncode, 0)

    def test_encrypted_upload_resumes(self):
        a = self.account("enc-resume")
        enc = age("-r", self.recipient(a), data=os.urandom(8 * 1024 * 1024))
        src = os.path.join(self.tmp, "big.age")
        with open(src, "wb") as f:
            f.write(enc)
        url = "ftps://%s:%s@127.0.0.1:%d/big.age" % (a["username"], a["password"], self.gw.ftps_port)
        p = subprocess.Popen(["curl", "-sS", "--ssl-reqd", "-k", "--limit-rate", "1M", "-T", src, url],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            ups = [u for u in self.gw.uploads(account_id=a["id"]) if u["path"] == "/big.age"]
            if ups and ups[0]["bytes_received"] > 1024 * 1024:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
        self.gw.wait_upload(lambda u: u["path"] == "/big.age" and u["state"] == "partial")
        r = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "-C", "-", "-T", src, url],
                           capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = [u for u in self.gw.uploads(account_id=a["id"]) if u["path"] == "/big.age"]
        self.assertEqual(len(recs), 1)
        self.assertNotEqual(recs[0]["state"], "rejected")
        self.assertEqual(recs[0]["sha256"], hashlib.sha256(enc).hexdigest())

    def test_account_without_keys(self):
        a = self.account("enc-nokey")
        self.gw.api("DELETE", "/accounts/%d/keys/%d" % (a["id"], a["key"]["id"]))
        r = self.curl_upload(a, "x.age", b"anything")
        self.assertNotEqual(r.returncode, 0)


if __name__ == "__main__":
    unittest.main()
