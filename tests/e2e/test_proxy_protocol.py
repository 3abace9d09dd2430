"""PROXY protocol (v1 and v2) from a trusted load balancer: bans, limits,
records and the same-address check of data connections see the client it
names; a header from anyone else, and a connection from the balancer
without one, are refused. Here the test itself is the balancer (127.0.0.1
is trusted) and clients come from 127.0.0.2-127.0.0.9; the cluster tests
run the same through a real HAProxy."""
import ftplib
import io
import socket
import ssl
import time
import unittest

import ftps
from harness import Gateway


def through_balancer(gw, client, header=ftps.proxy_v2, data_header=True, **kw):
    """A session as the balancer at 127.0.0.1 carries it for client."""
    ftp = ftps.ImplicitFTPS(context=ftps.client_context(), timeout=10)
    ftp.proxy_header = header(client, "127.0.0.10", **kw)
    if data_header:
        ftp.data_proxy_header = header(client, "127.0.0.10", dport=60000)
    ftp.connect("127.0.0.1", gw.ftps_port)
    return ftp


def refused(connect):
    """The connection ends before a greeting (TLS fails or the socket closes)."""
    try:
        ftp = connect()
    except (OSError, EOFError, ftplib.Error):
        return True
    ftp.close()
    return False


def closed_by_server(s):
    """The server closed s without a word (reset, if bytes were unread)."""
    try:
        got = s.recv(100)
    except ConnectionResetError:
        got = b""
    s.close()
    return got == b""


class ProxyProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway(env={
            "FTPSGATE_PROXY_PROTOCOL": "all",
            "FTPSGATE_PROXY_TRUSTED": "127.0.0.1/32",
            "FTPSGATE_BAN_AFTER_FAILURES": "3",
            "FTPSGATE_MAX_SESSIONS_PER_ADDRESS": "2",
        }).start()
        cls.account = cls.gw.create_account(username="proxied")

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def login(self, ftp):
        ftp.login("proxied", self.account["password"])
        ftp.prot_p()
        return ftp

    def test_upload_records_the_client_named_by_v1_and_v2(self):
        for client, header in (("127.0.0.2", ftps.proxy_v1), ("127.0.0.3", ftps.proxy_v2)):
            ftp = self.login(through_balancer(self.gw, client, header))
            name = "from-%s.bin" % client
            ftp.storbinary("STOR " + name, io.BytesIO(b"x" * 70000))
            got = bytearray()
            ftp.retrbinary("RETR " + name, got.extend)  # data both ways through it
            self.assertEqual(len(got), 70000)
            ftp.quit()
            rec = self.gw.wait_upload(lambda u: u["path"] == "/" + name)
            self.assertEqual(rec["client_address"], client)

    def test_v2_with_tlvs_and_a_local_health_check(self):
        ftp = self.login(through_balancer(self.gw, "127.0.0.4", tlv=b"\x05\x00\x03abc"))
        ftp.storbinary("STOR tlv.bin", io.BytesIO(b"t"))
        ftp.quit()
        self.assertEqual(self.gw.wait_upload(lambda u: u["path"] == "/tlv.bin")["client_address"],
                         "127.0.0.4")
        # LOCAL: the balancer's own connection, as itself
        ftp = ftps.ImplicitFTPS(context=ftps.client_context(), timeout=10)
        ftp.proxy_header = ftps.proxy_v2("0.0.0.0", "0.0.0.0", local=True)
        self.assertTrue(ftp.connect("127.0.0.1", self.gw.ftps_port).startswith("220"))
        ftp.close()

    def test_ban_and_limit_are_the_clients_not_the_balancers(self):
        ftp = through_balancer(self.gw, "127.0.0.5")
        for _ in range(3):  # 530, 530, then the ban's 421
            with self.assertRaises(ftplib.Error):
                ftp.login("proxied", "wrong")
        ftp.close()
        deadline = time.time() + 5
        while time.time() < deadline:
            bans = self.gw.api("GET", "/bans")[1]["items"]
            if any(b["key"] == "127.0.0.5" for b in bans):
                break
            time.sleep(0.1)
        keys = [b["key"] for b in bans]
        self.assertIn("127.0.0.5", keys)
        self.assertNotIn("127.0.0.1", keys)
        # the banned client is refused through the balancer, others are not
        self.assertTrue(refused(lambda: through_balancer(self.gw, "127.0.0.5")))
        self.login(through_balancer(self.gw, "127.0.0.6")).quit()
        # two sessions per address: the third from one client is told so,
        # while the balancer carries many more
        held = [self.login(through_balancer(self.gw, "127.0.0.7")) for _ in range(2)]
        with self.assertRaises(ftplib.error_temp) as e:
            through_balancer(self.gw, "127.0.0.7")
        self.assertIn("421 There are too many connections", str(e.exception))
        self.login(through_balancer(self.gw, "127.0.0.8")).quit()
        for ftp in held:
            ftp.quit()

    def test_a_data_connection_for_another_client_is_refused(self):
        ftp = self.login(through_balancer(self.gw, "127.0.0.9"))
        ftp.data_proxy_header = ftps.proxy_v2("127.0.0.66", "127.0.0.10")
        ftp.sendcmd("TYPE I")
        with self.assertRaises((ftplib.Error, OSError, EOFError)):
            ftp.storbinary("STOR stolen.bin", io.BytesIO(b"s"))
        ftp.close()
        time.sleep(0.5)
        self.assertFalse(any(u["path"] == "/stolen.bin" for u in self.gw.uploads()))
        self.assertIn("to the passive port of 127.0.0.9", self.gw.logs())

    def test_missing_and_untrusted_headers_are_refused(self):
        # from the balancer without a header: TLS bytes are no header
        self.assertTrue(refused(lambda: ftps.login("127.0.0.1", self.gw.ftps_port, "proxied",
                                                   self.account["password"], timeout=10)))
        # a header from a client that is no balancer, naming someone else
        def untrusted():
            ftp = ftps.ImplicitFTPS(context=ftps.client_context(), timeout=10)
            ftp.proxy_header = ftps.proxy_v1("127.0.0.1", "127.0.0.10")
            ftp.connect("127.0.0.1", self.gw.ftps_port, source_address=("127.0.0.20", 0))
            return ftp
        self.assertTrue(refused(untrusted))
        self.assertIn("refused a PROXY protocol header from 127.0.0.20", self.gw.logs())
        # but that client without one is served as itself
        ftp = ftps.login("127.0.0.1", self.gw.ftps_port, "proxied", self.account["password"],
                         timeout=10, source="127.0.0.20")
        ftp.storbinary("STOR direct.bin", io.BytesIO(b"d"))
        ftp.quit()
        self.assertEqual(self.gw.wait_upload(lambda u: u["path"] == "/direct.bin")["client_address"],
                         "127.0.0.20")
        # garbage, a header cut short and one never sent: closed, others served
        for junk in (b"PROXY TCP4 1.2.3.4\r\n", b"PROXY TCP4 127.0.0.2 ",
                     b"\r\n\r\n\x00\r\nQUIT\n\x21\x12\x00\x0c" + bytes(12)):
            s = socket.create_connection(("127.0.0.1", self.gw.ftps_port), timeout=10)
            s.sendall(junk)
            if junk.endswith(b" "):
                s.shutdown(socket.SHUT_WR)
            self.assertTrue(closed_by_server(s), junk)
        self.login(through_balancer(self.gw, "127.0.0.2")).quit()

    def test_a_silent_balancer_connection_times_out(self):
        s = socket.create_connection(("127.0.0.1", self.gw.ftps_port), timeout=15)
        started = time.time()
        self.assertTrue(closed_by_server(s))
        self.assertLess(time.time() - started, 12)


class ProxyControlOnlyTest(unittest.TestCase):
    """proxy_protocol=control: data connections come from the balancer's
    address without a header, tied to the session by its TLS session."""

    def test_data_through_a_headerless_balancer(self):
        with Gateway(env={"FTPSGATE_PROXY_PROTOCOL": "control",
                          "FTPSGATE_PROXY_TRUSTED": "127.0.0.1"}) as gw:
            a = gw.create_account(username="ctl")
            ftp = through_balancer(gw, "127.0.0.2", data_header=False)
            ftp.login("ctl", a["password"])
            ftp.prot_p()
            ftp.storbinary("STOR c.bin", io.BytesIO(b"c" * 1000))
            # without the control connection's TLS session: refused
            ftp.reuse_session = False
            reply = ftps.stor_reply(ftp, "d.bin", b"d")
            self.assertTrue(reply.startswith("522"), reply)
            ftp.close()
            self.assertEqual(gw.wait_upload(lambda u: u["path"] == "/c.bin")["client_address"],
                             "127.0.0.2")

    def test_bad_settings_stop_the_daemon(self):
        for env, words in (({"FTPSGATE_PROXY_PROTOCOL": "yes"}, "invalid proxy_protocol 'yes'"),
                           ({"FTPSGATE_PROXY_PROTOCOL": "all"}, "proxy_trusted must list"),
                           ({"FTPSGATE_PROXY_PROTOCOL": "all",
                             "FTPSGATE_PROXY_TRUSTED": "10.0.0.1/8"}, "10.0.0.1/8")):
            gw = Gateway(env=env)
            with self.assertRaises(RuntimeError) as e:
                gw.start(timeout=10)
            self.assertIn(words, str(e.exception))
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
