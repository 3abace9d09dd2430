"""Running it: SIGHUP reloads the certificate without disturbing running
sessions, SIGTERM lets a running upload finish within the grace time,
/metrics moves, and the log is JSON lines that never hold a secret."""
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import ftps
from harness import COMPLETE, TOKEN, Gateway


def make_cert(directory, cn):
    cert, key = os.path.join(directory, cn + ".pem"), os.path.join(directory, cn + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + cn],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def served_cn(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), 10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            der = s.getpeercert(binary_form=True)
    text = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"], input=der,
                          capture_output=True, check=True, timeout=30).stdout.decode()
    return re.search(r"CN\s*=\s*(\S+)", text).group(1)


def tls_reply(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), 10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return s.makefile("r").readline().strip()


class OperationsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpsgate-ops-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_sighup_reloads_the_certificate(self):
        cert, key = make_cert(self.tmp, "first")
        live_cert, live_key = os.path.join(self.tmp, "live.pem"), os.path.join(self.tmp, "live.key")
        shutil.copy(cert, live_cert)
        shutil.copy(key, live_key)
        with Gateway(env={"FTPSGATE_TLS_CERT": live_cert, "FTPSGATE_TLS_KEY": live_key}) as gw:
            a = gw.create_account(username="reload")
            self.assertEqual(served_cn(gw.ftps_port), "first")
            running = ftps.login("127.0.0.1", gw.ftps_port, "reload", a["password"])
            cert2, key2 = make_cert(self.tmp, "second")
            shutil.copy(cert2, live_cert)
            shutil.copy(key2, live_key)
            gw.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while served_cn(gw.ftps_port) != "second" and time.time() < deadline:
                time.sleep(0.1)
            self.assertEqual(served_cn(gw.ftps_port), "second")
            self.assertEqual(served_cn(gw.admin_port), "second")
            # the session that began before goes on, data connections too
            self.assertEqual(running.storbinary("STOR after-reload.bin", io.BytesIO(b"r")),
                             "226 Transfer complete.")
            running.quit()
            self.assertEqual(gw.api("GET", "/health", auth=False)[0], 200)
            # a broken certificate is refused and the running one stays
            with open(live_cert, "w") as f:
                f.write("broken\n")
            gw.proc.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            self.assertEqual(served_cn(gw.ftps_port), "second")
            self.assertIn("the running certificate stays", gw.logs())

    def test_sighup_rereads_safe_settings(self):
        path = os.path.join(self.tmp, "config.json")
        with open(path, "w") as f:
            json.dump({"max_sessions_per_address": 50}, f)
        gw = Gateway(env={"FTPSGATE_CONFIG": path})
        gw.start()
        try:
            with open(path, "w") as f:
                json.dump({"max_sessions_per_address": 1, "log_level": "warn"}, f)
            gw.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while "settings read again" not in gw.logs() and time.time() < deadline:
                time.sleep(0.05)
            a = gw.create_account(username="reread")
            first = ftps.login("127.0.0.1", gw.ftps_port, "reread", a["password"])
            second = tls_reply(gw.ftps_port)
            self.assertTrue(second.startswith("421"), second)
            first.quit()
            with open(path, "w") as f:
                f.write("{broken")
            gw.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 10
            while "the running settings stay" not in gw.logs() and time.time() < deadline:
                time.sleep(0.05)
            self.assertIn("the running settings stay", gw.logs())
        finally:
            gw.cleanup()

    def test_sigterm_lets_a_running_upload_finish(self):
        gw = Gateway(env={"FTPSGATE_SHUTDOWN_GRACE_S": "30"})
        gw.start()
        try:
            a = gw.create_account(username="graceful")
            data = os.urandom(500 * 1024 * 1024)
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "graceful", a["password"])
            conn = ftp.transfercmd("STOR big.bin")
            conn.sendall(data[:100 * 1024 * 1024])
            proc = gw.proc
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            # no one new is let in...
            with self.assertRaises(OSError):
                s = socket.create_connection(("127.0.0.1", gw.ftps_port), 2)
                s.settimeout(2)
                ssl.create_default_context().wrap_socket(s, server_hostname="x")
            # ...but the running upload finishes and is kept
            conn.sendall(data[100 * 1024 * 1024:])
            conn.unwrap()
            conn.close()
            self.assertEqual(ftp.voidresp(), "226 Transfer complete.")
            self.assertEqual(proc.wait(30), 0)
            gw.proc = None
            gw.log.close()
            gw.start()
            rec = [u for u in gw.uploads() if u["path"] == "/big.bin"][0]
            self.assertIn(rec["state"], COMPLETE)
            self.assertEqual(rec["sha256"], hashlib.sha256(data).hexdigest())
        finally:
            gw.cleanup()

    @unittest.skipUnless(os.geteuid() == 0, "dropping privileges needs root")
    def test_runs_as_the_configured_user_once_ports_are_bound(self):
        import pwd
        nobody = pwd.getpwnam("nobody")
        gw = Gateway(env={"FTPSGATE_USER": "nobody"})
        os.chmod(gw.data_dir, 0o755)  # mkdtemp's 0700 would shut the user out
        gw.start()
        try:
            with open("/proc/%d/status" % gw.proc.pid) as f:
                ids = {l.split(":")[0]: l.split()[1:] for l in f if l.startswith(("Uid", "Gid"))}
            self.assertEqual(ids["Uid"], [str(nobody.pw_uid)] * 4)
            self.assertEqual(ids["Gid"], [str(nobody.pw_gid)] * 4)
            var = os.path.join(gw.data_dir, "var")
            for root, dirs, files in os.walk(var):
                for name in dirs + files:
                    self.assertEqual(os.lstat(os.path.join(root, name)).st_uid, nobody.pw_uid, name)
            a = gw.create_account(username="unprivileged")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "unprivileged", a["password"])
            ftp.storbinary("STOR kept.bin", io.BytesIO(b"x" * 70000))
            ftp.quit()
            rec = gw.wait_upload(lambda u: u["path"] == "/kept.bin" and u["state"] in COMPLETE)
            self.assertEqual(rec["size"], 70000)
            self.assertIn('"daemon.user"', gw.logs())
        finally:
            gw.cleanup()

    def test_an_unknown_user_stops_the_start_with_a_clear_error(self):
        gw = Gateway(env={"FTPSGATE_USER": "no-such-user-here"})
        try:
            with self.assertRaises(RuntimeError) as ctx:
                gw.start()
            self.assertIn("invalid user 'no-such-user-here'", str(ctx.exception))
        finally:
            gw.proc = None
            gw.log.close()
            gw.cleanup()

    def test_tls_policy_on_both_ports(self):
        def handshake(port, *opts):
            r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + list(opts),
                               input=b"", capture_output=True, timeout=30)
            m = re.search(rb"Cipher is (\S+)", r.stdout)
            return m.group(1).decode() if m and m.group(1) != b"(NONE)" else None

        with Gateway() as gw:
            for port in (gw.ftps_port, gw.admin_port):
                self.assertIsNone(handshake(port, "-tls1_1"))
                self.assertIsNone(handshake(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"))
                self.assertIsNone(handshake(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA256"))
                self.assertEqual(handshake(port, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"),
                                 "ECDHE-ECDSA-CHACHA20-POLY1305")
                self.assertEqual(handshake(port, "-tls1_3"), "TLS_AES_256_GCM_SHA384")
        with Gateway(env={"FTPSGATE_TLS_MIN_VERSION": "1.3"}) as gw:
            for port in (gw.ftps_port, gw.admin_port):
                self.assertIsNone(handshake(port, "-tls1_2"))
                self.assertEqual(handshake(port, "-tls1_3"), "TLS_AES_256_GCM_SHA384")
        for env, why in (({"FTPSGATE_TLS_CIPHERS": "ECDHE+AESGCM:AES128-SHA"},
                          "invalid tls_ciphers: AES128-SHA is not an ECDHE AEAD cipher"),
                         ({"FTPSGATE_TLS_CIPHERS": "NOPE"}, "invalid tls_ciphers 'NOPE'"),
                         ({"FTPSGATE_TLS_MIN_VERSION": "1.0"}, "invalid tls_min_version '1.0'")):
            gw = Gateway(env=env)
            try:
                with self.assertRaises(RuntimeError) as ctx:
                    gw.start()
                self.assertIn(why, str(ctx.exception))
            finally:
                gw.proc = None
                gw.log.close()
                gw.cleanup()

    def test_metrics_move_and_logs_hold_no_secrets(self):
        with Gateway() as gw:
            def metrics():
                text = gw.api("GET", "/metrics")[1]
                return {line.split(" ")[0]: float(line.split(" ")[1])
                        for line in text.splitlines() if line and not line.startswith("#")}

            before = metrics()
            a = gw.create_account(username="measured")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "measured", a["password"])
            self.assertEqual(metrics()["ftpsgate_sessions"], before["ftpsgate_sessions"] + 1)
            ftp.storbinary("STOR m.bin", io.BytesIO(b"m" * 100000))
            # large enough to queue chunks for the disk
            ftp.storbinary("STOR big.bin", io.BytesIO(os.urandom(24 * 1024 * 1024)))
            with self.assertRaises(Exception):
                ftps.login("127.0.0.1", gw.ftps_port, "measured", "wrong")
            ftp.quit()
            time.sleep(0.3)
            after = metrics()
            self.assertEqual(after['ftpsgate_logins_total{result="ok"}'],
                             before['ftpsgate_logins_total{result="ok"}'] + 1)
            self.assertEqual(after['ftpsgate_logins_total{result="failed"}'],
                             before['ftpsgate_logins_total{result="failed"}'] + 1)
            self.assertEqual(after["ftpsgate_received_bytes_total"],
                             before["ftpsgate_received_bytes_total"] + 100000 + 24 * 1024 * 1024)
            self.assertEqual(after["ftpsgate_uploads_received_total"], 2)
            self.assertEqual(after["ftpsgate_passive_ports_in_use"], 0)
            self.assertEqual(after["ftpsgate_transfers"], 0)
            self.assertEqual(after["ftpsgate_transfer_buffer_bytes"], 0)
            self.assertGreaterEqual(after['ftpsgate_uploads{state="imported"}'] +
                                    after['ftpsgate_uploads{state="received"}'] +
                                    after['ftpsgate_uploads{state="verified"}'], 1)
            status, tok, _ = gw.api("POST", "/tokens", {"name": "secret-check", "scope": "read"})
            gw.api("POST", "/accounts/%d/password" % a["id"])
            logs = gw.logs()
        for line in logs.splitlines():
            if line.startswith("{"):
                json.loads(line)  # every event line is JSON
        for secret in (a["password"], TOKEN, tok["token"]):
            self.assertNotIn(secret, logs)


if __name__ == "__main__":
    unittest.main()
