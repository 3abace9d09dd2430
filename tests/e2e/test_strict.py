"""Strictness and limits: hostile or sloppy input gets a clear reply and
the daemon keeps serving everyone else."""
import concurrent.futures
import ftplib
import io
import os
import random
import re
import socket
import ssl
import threading
import time
import unittest

import ftps
from harness import COMPLETE, Gateway, free_range, skip_unless_file_storage


def tls_connect(port, source=None, timeout=20):
    ctx = ftps.client_context()
    raw = socket.create_connection(("127.0.0.1", port), timeout,
                                   source_address=(source, 0) if source else None)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def read_reply(f):
    """One (possibly multi-line) reply: its last line."""
    line = f.readline()
    if not line:
        return ""
    if line[3:4] == "-":
        code = line[:3]
        while line and not (line.startswith(code) and line[3:4] == " "):
            line = f.readline()
    return line.rstrip("\r\n")


class LimitsTest(unittest.TestCase):
    def test_per_address_limit_with_200_sessions(self):
        with Gateway(env={"FTPSGATE_MAX_SESSIONS_PER_ADDRESS": "50"}) as gw:
            def one(_):
                try:
                    s = tls_connect(gw.ftps_port)
                except OSError:
                    return "error", None
                f = s.makefile("r", encoding="utf-8", newline="\r\n")
                return read_reply(f)[:3], s

            with concurrent.futures.ThreadPoolExecutor(50) as ex:
                results = list(ex.map(one, range(200), timeout=120))
            codes = [c for c, _ in results]
            self.assertEqual(codes.count("220"), 50, codes)
            self.assertEqual(codes.count("421"), 150, codes)
            # another address is still served, at once
            other = tls_connect(gw.ftps_port, source="127.0.0.2")
            self.assertTrue(read_reply(other.makefile("r", encoding="utf-8")).startswith("220"))
            other.close()
            for _, s in results:
                if s:
                    s.close()
            # the slots come back when sessions end
            deadline = time.time() + 10
            while time.time() < deadline:
                s = tls_connect(gw.ftps_port)
                code = read_reply(s.makefile("r", encoding="utf-8"))[:3]
                s.close()
                if code == "220":
                    break
                time.sleep(0.1)
            self.assertEqual(code, "220")

    def test_per_account_limit(self):
        with Gateway(env={"FTPSGATE_MAX_SESSIONS_PER_ACCOUNT": "2"}) as gw:
            a = gw.create_account(username="limited")
            first = ftps.login("127.0.0.1", gw.ftps_port, "limited", a["password"])
            second = ftps.login("127.0.0.1", gw.ftps_port, "limited", a["password"])
            third = ftps.ImplicitFTPS(context=ftps.client_context())
            third.connect("127.0.0.1", gw.ftps_port)
            with self.assertRaises(ftplib.error_temp) as e:
                third.login("limited", a["password"])
            self.assertTrue(str(e.exception).startswith("421"))
            first.quit()
            time.sleep(0.2)
            ftps.login("127.0.0.1", gw.ftps_port, "limited", a["password"]).quit()
            second.quit()

    def test_timeouts_and_server_limit(self):
        env = {"FTPSGATE_IDLE_TIMEOUT_S": "2", "FTPSGATE_DATA_TIMEOUT_S": "2",
               "FTPSGATE_MAX_SESSIONS": "3", "FTPSGATE_PASSIVE_ADDRESS": "localhost"}
        with Gateway(env=env) as gw:
            a = gw.create_account(username="timeouts")
            one = ftps.login("127.0.0.1", gw.ftps_port, "timeouts", a["password"])
            two = ftps.login("127.0.0.1", gw.ftps_port, "timeouts", a["password"])
            three = tls_connect(gw.ftps_port)
            self.assertTrue(read_reply(three.makefile("r", encoding="utf-8")).startswith("220"))
            # a fourth waits in the listen queue, not refused, until one ends
            greeted = []

            def fourth():
                four = tls_connect(gw.ftps_port, timeout=30)
                greeted.append(read_reply(four.makefile("r", encoding="utf-8")))
                four.close()

            waiter = threading.Thread(target=fourth)
            waiter.start()
            waiter.join(1.0)
            self.assertEqual(greeted, [])
            self.assertTrue(waiter.is_alive())
            three.close()
            waiter.join(30)
            self.assertEqual(len(greeted), 1)
            self.assertTrue(greeted[0].startswith("220"), greeted)
            self.assertIn("max_sessions (3) served: new connections wait in the listen queue", gw.logs())
            # a host name as passive address is resolved at start
            self.assertRegex(two.sendcmd("PASV"), r"^227 Entering Passive Mode \(127,0,0,1,")
            # nobody connects to the passive port: 425 once it times out
            two.putcmd("LIST")
            with self.assertRaises(ftplib.error_temp) as e:
                two.getresp()
            self.assertEqual(str(e.exception), "425 Failed to establish connection.")
            # an idle session is told and closed
            self.assertEqual(one.getline(), "421 Timeout.")
            one.close()
            two.close()

    def test_passive_range_exhausted(self):
        # one account may take the whole range here (by default a quarter)
        with Gateway(env={"FTPSGATE_MAX_PASSIVE_PER_ACCOUNT": "0",
                          "FTPSGATE_MAX_PASSIVE_PER_ADDRESS": "0"},
                     passive=free_range(20)) as gw:
            a = gw.create_account(username="ports")
            # another program holds one port of the range: never offered
            squatter = socket.socket()
            squatter.bind(("127.0.0.1", gw.passive[0] + 3))
            squatter.listen()
            n = gw.passive[1] - gw.passive[0]
            sessions = [ftps.login("127.0.0.1", gw.ftps_port, "ports", a["password"])
                        for _ in range(min(n + 1, 25))]
            replies = []
            for ftp in sessions:
                try:
                    replies.append(ftp.sendcmd("PASV"))
                except ftplib.Error as e:
                    replies.append(str(e))
            self.assertEqual(sum(r.startswith("227") for r in replies), n, replies)
            self.assertIn("425 No passive port is free; try again later.", replies)
            ports = [r for r in replies if r.startswith("227")]
            self.assertEqual(len(set(ports)), len(ports), "two sessions got one port")
            taken = gw.passive[0] + 3
            self.assertNotIn("%d,%d)" % (taken >> 8, taken & 255), " ".join(ports))
            for ftp in sessions:
                ftp.close()
            squatter.close()


class StatTest(unittest.TestCase):
    @skip_unless_file_storage("6,000 files made straight in the account's directory on disk")
    def test_stat_of_a_large_directory_says_where_it_was_cut(self):
        # STAT sends its listing over the control connection, which holds
        # at most 256 KiB of replies: a longer one is cut at a line, and
        # its last line says so (before, the body was dropped silently).
        with Gateway() as gw:
            a = gw.create_account(username="many")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "many", a["password"])
            root = os.path.join(gw.data_dir, "var", "accounts", str(a["id"]))
            for i in range(6000):
                open(os.path.join(root, "mail-%05d.nsf" % i), "w").close()
            ftp.putcmd("STAT /")
            lines = ftp.getmultiline().split("\n")
            self.assertTrue(lines[0].startswith("213-"), lines[:2])
            self.assertRegex(lines[-1], r"^213 End of status: cut after \d+ of \d+ bytes; LIST or MLSD")
            names = [l.split()[-1] for l in lines[1:-1]]
            self.assertGreater(len(names), 3000)
            self.assertTrue(all(n.startswith("mail-") and n.endswith(".nsf") for n in names))
            # a small one is whole
            ftp.mkd("few")
            ftp.storbinary("STOR few/one.nsf", io.BytesIO(b"1"))
            ftp.putcmd("STAT /few")
            text = ftp.getmultiline()
            self.assertTrue(text.endswith("213 End of status"), text)
            self.assertIn(" one.nsf", text)
            self.assertTrue(ftp.sendcmd("NOOP").startswith("200"))
            ftp.quit()


class ProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(env={"FTPSGATE_FTP_EXPLICIT_LISTEN": "127.0.0.1:%d" % _free()}).start()
        cls.explicit_port = int(cls.gw.env()["FTPSGATE_FTP_EXPLICIT_LISTEN"].rsplit(":", 1)[1])
        cls.acct = cls.gw.create_account(username="strict")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def login(self, tls=None):
        return ftps.login("127.0.0.1", self.gw.ftps_port, "strict", self.acct["password"], tls)

    def test_10000_random_and_oversized_lines(self):
        rnd = random.Random(1234)
        lines = []
        for i in range(10000):
            kind = i % 4
            if kind == 0:
                line = bytes(rnd.randrange(1, 256) for _ in range(rnd.randrange(1, 80)))
            elif kind == 1:
                line = ("".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) +
                        " " + "x" * rnd.randrange(0, 200)).encode()
            elif kind == 2:
                line = b"NOOP " + b"z" * rnd.randrange(1100, 4000)  # over the limit
            else:
                line = rnd.choice([b"SIZE ../../etc/passwd", b"CWD /\x01", b"RETR \xff\xfe",
                                   b"PORT 1,2,3,4,5,6", b"PROT C", b"REST -1", b"MODE Z"])
            line = line.replace(b"\n", b"").replace(b"\r", b"").replace(b"\xff", b"\xfe")
            verb = line[:4].upper()
            if verb in (b"QUIT", b"USER", b"PASS", b"FEAT", b"HELP", b"AUTH", b"STAT"):
                line = b"NOOP"
            lines.append(line + b"\r\n")
        s = tls_connect(self.gw.ftps_port)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220"))
        # Pipelined in batches: one TLS socket must not be written and read
        # from two threads at once, and a batch's replies fit the buffers.
        codes = []
        for start in range(0, len(lines), 50):
            batch = lines[start:start + 50]
            s.sendall(b"".join(batch))
            for _ in batch:
                line = f.readline()
                self.assertTrue(line, "connection closed after %d replies" % len(codes))
                codes.append(line[:3])
        self.assertEqual(len(codes), 10000)
        self.assertTrue(all(c[:1] in (b"2", b"4", b"5") for c in codes), set(codes))
        self.assertEqual(codes.count(b"500") >= 2500, True)
        # and the daemon keeps serving: this session and a new one
        s.sendall(b"NOOP\r\n")
        self.assertEqual(f.readline(), b"200 NOOP ok.\r\n")
        s.close()
        self.login().quit()

    def test_pipelined_commands_answered_in_order(self):
        ftp = self.login()
        ftp.sock.sendall(b"NOOP\r\nPWD\r\nTYPE I\r\nSYST\r\nMKD pipe\r\nCWD pipe\r\nPWD\r\n")
        got = [ftp.getline() for _ in range(7)]
        self.assertEqual(got, ["200 NOOP ok.", '257 "/"', "200 Switching to Binary mode.",
                               "215 UNIX Type: L8", '257 "/pipe" created',
                               "250 Directory successfully changed.", '257 "/pipe"'])
        ftp.quit()

    def test_abor_during_upload_keeps_partial(self):
        ftp = self.login()
        conn = ftp.transfercmd("STOR aborted.bin")
        conn.sendall(b"a" * 300000)
        time.sleep(0.2)
        # STAT while the transfer runs
        ftp.putcmd("STAT")
        self.assertRegex(ftp.getline(), r"^213 Transfer in progress: \d+ bytes so far\.$")
        # ABOR, with Telnet IP and Synch before it as RFC 959 clients send
        ftp.sock.sendall(b"\xff\xf4\xff\xf2ABOR\r\n")
        first, second = ftp.getline(), ftp.getline()
        self.assertEqual(first, "426 Transfer aborted; the upload is kept as partial.")
        self.assertEqual(second, "226 ABOR successful.")
        try:
            conn.close()
        except OSError:
            pass
        rec = self.gw.wait_upload(lambda u: u["path"] == "/aborted.bin" and u["state"] == "partial")
        self.assertIn("ABOR", rec["error"])
        self.assertEqual(ftp.sendcmd("NOOP"), "200 NOOP ok.")
        self.assertEqual(ftp.sendcmd("ABOR"), "225 No transfer to ABOR.")
        ftp.quit()

    def test_resume_rules(self):
        ftp = self.login()
        data = os.urandom(100000)
        ftp.storbinary("STOR done.bin", io.BytesIO(data))
        # REST past the end, and resuming what does not exist
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.storbinary("STOR done.bin", io.BytesIO(b"x"), rest=200000)
        self.assertTrue(str(e.exception).startswith("554"), str(e.exception))
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.storbinary("STOR nothing.bin", io.BytesIO(b"x"), rest=10)
        self.assertTrue(str(e.exception).startswith("550"), str(e.exception))
        # appending to a completed upload leaves that upload's bytes alone
        ftp.storbinary("APPE done.bin", io.BytesIO(b"tail"))
        self.assertEqual(ftp.sendcmd("SIZE done.bin"), "213 100004")
        recs = [u for u in self.gw.uploads() if u["path"] == "/done.bin"]
        self.assertEqual(len(recs), 2)
        import hashlib
        self.assertEqual(sorted(u["sha256"] for u in recs),
                         sorted([hashlib.sha256(data).hexdigest(),
                                 hashlib.sha256(data + b"tail").hexdigest()]))
        # APPE creates a missing file
        ftp.storbinary("APPE fresh.bin", io.BytesIO(b"new"))
        self.assertEqual(ftp.sendcmd("SIZE fresh.bin"), "213 3")
        ftp.quit()

    def test_download_and_listing_formats(self):
        ftp = self.login()
        data = os.urandom(300000)
        ftp.mkd("fmt")
        ftp.cwd("fmt")
        ftp.storbinary("STOR f.bin", io.BytesIO(data))
        got = bytearray()
        ftp.retrbinary("RETR f.bin", got.extend)
        self.assertEqual(bytes(got), data)
        got = bytearray()
        ftp.retrbinary("RETR f.bin", got.extend, rest=299990)
        self.assertEqual(bytes(got), data[299990:])
        facts = list(ftp.mlsd())
        self.assertEqual([n for n, _ in facts], ["f.bin"])
        self.assertEqual(facts[0][1]["type"], "file")
        self.assertEqual(facts[0][1]["size"], "300000")
        self.assertRegex(facts[0][1]["modify"], r"^\d{14}$")
        self.assertIn("unique", facts[0][1])
        mlst = ftp.sendcmd("MLST f.bin")
        self.assertRegex(mlst, r"^250-Listing /fmt/f\.bin\n type=file;size=300000;modify=\d{14};perm=adfrw;unique=\w+; /fmt/f\.bin\n250 End$")
        self.assertRegex(ftp.sendcmd("MDTM f.bin"), r"^213 \d{14}$")
        lines = []
        ftp.retrlines("LIST -la", lines.append)
        self.assertRegex(lines[0], r"^-rw-r-----\s+1 ftp\s+ftp\s+300000 \w{3} [ \d]\d [\d:]{4,5} f\.bin$")
        stat = ftp.sendcmd("STAT .")
        self.assertIn("f.bin", stat)
        self.assertTrue(stat.startswith("213-"))
        feat = ftp.sendcmd("FEAT")
        for f in ("EPSV", "HASH SHA-256*", "MDTM", "MLST type*;size*;modify*;perm*;unique*;", "PASV",
                  "PBSZ", "PROT", "REST STREAM", "SIZE", "TVFS", "UTF8"):
            self.assertIn("\n " + f + "\n", feat)
        self.assertNotIn("AUTH", feat)  # nothing to AUTH on the implicit port
        self.assertTrue(ftp.sendcmd("HELP").startswith("214-"))
        with self.assertRaises(ftplib.error_perm) as e:
            ftp.sendcmd("CCC")
        self.assertTrue(str(e.exception).startswith("534"))
        for cmd in ("MODE S", "STRU F", "ALLO 100", "TYPE A", "TYPE I", "OPTS MLST type;size;"):
            self.assertTrue(ftp.sendcmd(cmd).startswith("2"), cmd)
        ftp.quit()

    def test_rename_and_delete_rules(self):
        ftp = self.login()
        ftp.mkd("r")
        ftp.storbinary("STOR r/a", io.BytesIO(b"a"))
        with self.assertRaises(ftplib.error_perm):
            ftp.rename("missing", "x")
        with self.assertRaises(ftplib.error_perm):
            ftp.sendcmd("RNTO x")  # no RNFR
        with self.assertRaises(ftplib.error_perm):
            ftp.rename("r/a", ".ftpsgate-7")
        ftp.rename("r/a", "../../../r/b")  # stays inside: /r/b
        self.assertEqual(ftp.nlst("r"), ["b"])
        with self.assertRaises(ftplib.error_perm):
            ftp.rmd("r")  # not empty
        with self.assertRaises(ftplib.error_perm):
            ftp.delete("r")  # a directory
        ftp.delete("r/b")
        ftp.rmd("r")
        with self.assertRaises(ftplib.error_perm):
            ftp.rmd("/")
        ftp.quit()

    def test_explicit_listener(self):
        # plain FTP is refused: only FEAT, QUIT and AUTH TLS before TLS
        raw = socket.create_connection(("127.0.0.1", self.explicit_port), 10)
        f = raw.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220"))
        raw.sendall(b"USER strict\r\n")
        self.assertEqual(f.readline(), b"530 Non-anonymous sessions must use encryption.\r\n")
        raw.sendall(b"PASV\r\n")
        self.assertTrue(f.readline().startswith(b"530"))
        raw.sendall(b"FEAT\r\n")
        feat = b""
        while not feat.endswith(b"211 End\r\n"):
            feat += f.readline()
        self.assertIn(b" AUTH TLS\r\n", feat)
        # a command smuggled after AUTH TLS in the clear is never obeyed
        raw.sendall(b"AUTH TLS\r\nDELE victim\r\n")
        self.assertEqual(f.readline(), b"234 Proceed with negotiation.\r\n")
        s = ftps.client_context().wrap_socket(raw, server_hostname="127.0.0.1")
        tf = s.makefile("rb")
        s.sendall(b"NOOP\r\n")
        self.assertEqual(tf.readline(), b"200 NOOP ok.\r\n")
        s.close()
        # curl, explicit FTPS (ftp:// with --ssl-reqd)
        import subprocess
        src = io.BytesIO(os.urandom(500000)).getvalue()
        path = os.path.join(self.gw.data_dir, "explicit-src.bin")
        with open(path, "wb") as fh:
            fh.write(src)
        r = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "60", "-T", path,
                            "ftp://strict:%s@127.0.0.1:%d/explicit.bin"
                            % (self.acct["password"], self.explicit_port)],
                           capture_output=True, timeout=90)
        self.assertEqual(r.returncode, 0, r.stderr)
        import hashlib
        rec = self.gw.wait_upload(lambda u: u["path"] == "/explicit.bin" and u["state"] in COMPLETE)
        self.assertEqual(rec["sha256"], hashlib.sha256(src).hexdigest())
        # and curl without TLS gets nowhere
        r = subprocess.run(["curl", "-sS", "--max-time", "20",
                            "ftp://strict:%s@127.0.0.1:%d/" % (self.acct["password"], self.explicit_port)],
                           capture_output=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)


def _free():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    unittest.main()
