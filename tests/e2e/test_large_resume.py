"""A large upload (2 GiB by default; FTPSGATE_LARGE_MIB to change)
interrupted three times and resumed each time from what the server holds
ends with the right SHA-256 and exactly one 'received' record."""
import ftplib
import hashlib
import os
import socket
import unittest

import ftps
from harness import COMPLETE, Gateway

MIB = int(os.environ.get("FTPSGATE_LARGE_MIB", "2048"))
SIZE = MIB * 1024 * 1024
BLOCK = 1024 * 1024


class Stream:
    """The upload's bytes, made on the fly: block i is a SHA-256 chain."""

    def __init__(self, start=0, stop=SIZE):
        self.pos, self.stop = start, stop

    @staticmethod
    def block(i):
        seed = hashlib.sha256(b"ftpsgate-%d" % i).digest()
        return (seed * (BLOCK // len(seed) + 1))[:BLOCK]

    def read(self, n=BLOCK):
        if self.pos >= self.stop:
            return b""
        i, off = divmod(self.pos, BLOCK)
        data = self.block(i)[off:off + min(n, BLOCK - off, self.stop - self.pos)]
        self.pos += len(data)
        return data


def whole_sha256():
    h = hashlib.sha256()
    s = Stream()
    while True:
        b = s.read()
        if not b:
            return h.hexdigest()
        h.update(b)


class LargeResumeTest(unittest.TestCase):
    def test_interrupted_three_times(self):
        with Gateway() as gw:
            a = gw.create_account(username="large")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "large", a["password"], timeout=120)
            held = 0
            for cut in (SIZE // 4, SIZE // 2, SIZE * 3 // 4):
                conn = ftp.transfercmd("STOR mail.nsf.age", rest=held or None)
                src = Stream(held, cut)
                while True:
                    b = src.read()
                    if not b:
                        break
                    conn.sendall(b)
                # the link drops: no TLS close_notify
                socket.socket(fileno=conn.detach()).close()
                with self.assertRaises(ftplib.Error):
                    ftp.voidresp()
                gw.wait_upload(lambda u: u["path"] == "/mail.nsf.age" and u["state"] == "partial",
                               timeout=60)
                held = int(ftp.sendcmd("SIZE mail.nsf.age").split()[1])
                self.assertLessEqual(held, cut)
                self.assertGreater(held, 0)
            resp = ftp.storbinary("STOR mail.nsf.age", Stream(held), blocksize=BLOCK, rest=held)
            self.assertEqual(resp, "226 Transfer complete.")
            ftp.quit()
            recs = [u for u in gw.uploads() if u["path"] == "/mail.nsf.age"]
            self.assertEqual(len(recs), 1, recs)
            self.assertIn(recs[0]["state"], COMPLETE)
            self.assertEqual(recs[0]["size"], SIZE)
            self.assertEqual(recs[0]["sha256"], whole_sha256())


if __name__ == "__main__":
    unittest.main()
