"""Every public age test vector (tests/data/age-testkit) through our age
reader (store/age.c, via age_tool): success exactly where the vector
expects it, with the right plaintext SHA-256, and a failure at the stage
it names everywhere else. Vectors for recipient types we do not implement
(scrypt passphrases, hybrid post-quantum keys) must fail cleanly."""
import os
import subprocess
import sys
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
KIT = os.path.join(HERE, "..", "data", "age-testkit")
TOOL = os.environ.get("AGE_TOOL", os.path.join(HERE, "..", "..", "build", "tests", "age_tool"))


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    head, _, body = raw.partition(b"\n\n")
    meta = {}
    for line in head.decode().splitlines():
        k, _, v = line.partition(": ")
        meta.setdefault(k, []).append(v)
    if meta.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return meta, body


class VectorsTest(unittest.TestCase):
    def test_every_vector(self):
        names = sorted(n for n in os.listdir(KIT) if n != "README.md")
        self.assertGreater(len(names), 140)
        checked = unsupported = 0
        for name in names:
            meta, body = load(os.path.join(KIT, name))
            expect = meta["expect"][0]
            identity = (meta.get("identity") or [None])[0]
            with self.subTest(vector=name):
                if identity is None or not identity.startswith("AGE-SECRET-KEY-1"):
                    # scrypt or hybrid: not ours; must fail, cleanly
                    r = subprocess.run([TOOL, "decrypt", identity or "none"], input=body,
                                       capture_output=True, timeout=30)
                    self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                    unsupported += 1
                    continue
                armored = ["--armored"] if meta.get("armored") == ["yes"] else []
                # decrypting, and only authenticating as uploads are verified
                for mode in ("decrypt", "verify"):
                    r = subprocess.run([TOOL, mode, identity] + armored, input=body,
                                       capture_output=True, timeout=30)
                    out = r.stdout.decode().strip()
                    if expect == "success":
                        self.assertEqual(out, "ok " + meta["payload"][0] if mode == "decrypt" else "ok",
                                         name)
                    else:
                        self.assertTrue(out.startswith("fail " + expect + ":"), "%s %s: %s, want %s"
                                        % (mode, name, out, expect))
                checked += 1
        print("%d vectors checked, %d of unsupported types failed cleanly" % (checked, unsupported),
              file=sys.stderr)
        self.assertGreater(checked, 90)


if __name__ == "__main__":
    unittest.main()


class InteropTest(unittest.TestCase):
    """Our keys, reader and writer against Debian's age."""

    def setUp(self):
        import shutil
        if not shutil.which("age"):
            self.skipTest("age is not installed")

    def keygen(self):
        identity, recipient = subprocess.run([TOOL, "keygen"], capture_output=True, check=True,
                                             timeout=30).stdout.decode().split()
        return identity, recipient

    def test_age_encrypts_we_verify(self):
        import hashlib
        identity, recipient = self.keygen()
        for size in (0, 1, 65536, 65537, 3 * 65536 + 100):
            for armor in ([], ["-a"]):
                with self.subTest(size=size, armor=armor):
                    plain = os.urandom(size)
                    enc = subprocess.run(["age", "-r", recipient] + armor, input=plain,
                                         capture_output=True, check=True, timeout=30).stdout
                    out = subprocess.run([TOOL, "decrypt", identity], input=enc,
                                         capture_output=True, timeout=30).stdout.decode().strip()
                    self.assertEqual(out, "ok " + hashlib.sha256(plain).hexdigest())

    def test_we_encrypt_age_decrypts(self):
        import tempfile
        identity, recipient = self.keygen()
        with tempfile.NamedTemporaryFile("w", suffix=".key") as key:
            key.write(identity + "\n")
            key.flush()
            for size in (0, 5, 65536, 200000):
                with self.subTest(size=size):
                    plain = os.urandom(size)
                    enc = subprocess.run([TOOL, "encrypt", recipient], input=plain,
                                         capture_output=True, check=True, timeout=30).stdout
                    dec = subprocess.run(["age", "-d", "-i", key.name], input=enc,
                                         capture_output=True, timeout=30)
                    self.assertEqual(dec.returncode, 0, dec.stderr)
                    self.assertEqual(dec.stdout, plain)

    def test_wrong_key_truncation_and_bitflips(self):
        identity, recipient = self.keygen()
        other, _ = self.keygen()
        plain = os.urandom(200000)
        enc = subprocess.run(["age", "-r", recipient], input=plain, capture_output=True,
                             check=True, timeout=30).stdout

        def verdict(data, ident=identity):
            """What decrypting says; verifying (only authenticating) must
            say the same of a file that fails."""
            said = [subprocess.run([TOOL, mode, ident], input=data, capture_output=True,
                                   timeout=30).stdout.decode().strip() for mode in ("decrypt", "verify")]
            if said[0].startswith("fail"):
                self.assertEqual(said[1], said[0])
            else:
                self.assertEqual(said[1], "ok")
            return said[0]

        self.assertTrue(verdict(enc, other).startswith("fail no match:"))
        self.assertTrue(verdict(b"plain mail, not encrypted\n" * 10).startswith(
            "fail header failure: not an age file"))
        cut = verdict(enc[:150000])
        self.assertTrue(cut.startswith("fail payload failure: truncated or corrupt at byte 131"), cut)
        flipped = bytearray(enc)
        flipped[100000] ^= 1
        bad = verdict(bytes(flipped))
        self.assertRegex(bad, r"^fail payload failure: corrupt at byte \d+: chunk 1 ")
        # chunk boundaries: a last chunk that is full, one of a byte, none
        full = 65536 + 16
        for size in (0, 1, 65536, 3 * 65536, 3 * 65536 + 1, 20 * 65536 + 7):
            data = subprocess.run(["age", "-r", recipient], input=os.urandom(size), capture_output=True,
                                  check=True, timeout=30).stdout
            self.assertTrue(verdict(data).startswith("ok"), size)
            payload = len(data) - (-(-max(size, 1) // 65536)) * 16 - size  # where the chunks begin
            if size >= 3 * 65536:
                cut = verdict(data[:payload + 2 * full])  # whole chunks, the final one missing
                self.assertIn("the file ends without its final chunk", cut)
                for at in (payload + full - 1, len(data) - 1, payload + 5):  # a tag, the last byte, a body
                    flipped = bytearray(data)
                    flipped[at] ^= 0x80
                    self.assertTrue(verdict(bytes(flipped)).startswith("fail payload failure"), (size, at))
