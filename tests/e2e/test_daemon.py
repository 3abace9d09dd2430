"""The daemon as operators meet it: startup errors, the bootstrap token,
the config file, and what survives kill -9 and SIGTERM."""
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import ftps
from harness import BIN, COMPLETE, Gateway, free_port


class StartupTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ftpsgate-startup-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_daemon(self, env=None, args=(), timeout=15):
        gw = Gateway(data_dir=self.dir)
        e = gw.env()
        e.update(env or {})
        return subprocess.run([BIN] + list(args), env=e, capture_output=True, timeout=timeout)

    def assertOneLineError(self, r, *words):
        self.assertNotEqual(r.returncode, 0)
        err = r.stderr.decode().strip()
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith("ftpsgate: "), err)
        for w in words:
            self.assertIn(w, err)

    def test_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = self.run_daemon({"FTPSGATE_FTPS_LISTEN": "127.0.0.1:%d" % port})
        self.assertOneLineError(r, "127.0.0.1:%d" % port, "in use")

    def test_admin_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = self.run_daemon({"FTPSGATE_ADMIN_LISTEN": "127.0.0.1:%d" % port})
        self.assertOneLineError(r, "admin API", "127.0.0.1:%d" % port, "in use")

    def test_bad_settings(self):
        r = self.run_daemon({"FTPSGATE_PASSIVE_PORTS": "61000-60000"})
        self.assertOneLineError(r, "passive_ports", "61000-60000")
        r = self.run_daemon({"FTPSGATE_FTPS_LISTEN": "localhost"})
        self.assertOneLineError(r, "ftps_listen")
        r = self.run_daemon({"FTPSGATE_NO_SUCH_THING": "1"})
        self.assertOneLineError(r, "FTPSGATE_NO_SUCH_THING")

    def test_bad_config_file(self):
        path = os.path.join(self.dir, "config.json")
        with open(path, "w") as f:
            f.write('{"passive_ports": "60000-61000",\n "workers": "four"}')
        r = self.run_daemon(args=["--config", path])
        self.assertOneLineError(r, "workers", path)
        r = self.run_daemon(args=["--config", os.path.join(self.dir, "missing.json")])
        self.assertOneLineError(r, "missing.json")

    def test_unreadable_certificate(self):
        cert = os.path.join(self.dir, "cert.pem")
        with open(cert, "w") as f:
            f.write("not a certificate\n")
        r = self.run_daemon({"FTPSGATE_TLS_CERT": cert, "FTPSGATE_TLS_KEY": cert})
        self.assertOneLineError(r, cert)
        r = self.run_daemon({"FTPSGATE_TLS_CERT": "/nonexistent/c.pem",
                             "FTPSGATE_TLS_KEY": "/nonexistent/k.pem"})
        self.assertOneLineError(r, "/nonexistent/c.pem")

    def test_config_file_settings_are_used(self):
        gw = Gateway(data_dir=self.dir)
        path = os.path.join(self.dir, "config.json")
        with open(path, "w") as f:
            json.dump({"ftps_listen": "127.0.0.1:%d" % gw.ftps_port,
                       "admin_listen": "127.0.0.1:%d" % gw.admin_port,
                       "passive_ports": "%d-%d" % gw.passive,
                       "public_host": "ftps.example.test"}, f)
        env = gw.env()
        for k in ("FTPSGATE_FTPS_LISTEN", "FTPSGATE_ADMIN_LISTEN", "FTPSGATE_PASSIVE_PORTS"):
            del env[k]
        gw.extra_env = {}
        gw.env = lambda: env
        proc = subprocess.Popen([BIN, "--config", path], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.time() + 15
            while time.time() < deadline:
                try:
                    if gw.api("GET", "/health", auth=False)[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            a = gw.create_account()
            self.assertEqual(a["ftps"], {"host": "ftps.example.test", "port": gw.ftps_port,
                                     "passive_ports": "%d-%d" % gw.passive})
        finally:
            proc.terminate()
            proc.wait(10)
            proc.stderr.close()

    def test_generated_admin_token_is_shown_once(self):
        gw = Gateway(data_dir=self.dir, env={"FTPSGATE_ADMIN_TOKEN": ""})
        gw.start()
        gw.stop()
        first = gw.logs()
        m = re.search(r"bootstrap admin token \(shown once, stored hashed\): (\S+)", first)
        self.assertIsNotNone(m, first)
        token = m.group(1)
        self.assertGreaterEqual(len(token), 32)
        gw.start()
        try:
            self.assertEqual(gw.logs().count(token), 1)  # not printed again
            self.assertEqual(gw.api("GET", "/accounts", token=token)[0], 200)
            self.assertNotIn(token.encode(), gw.records_bytes())
        finally:
            gw.stop()


class DescriptorLimitTest(unittest.TestCase):
    """A default start does not warn when the descriptor limit is small:
    the default max_sessions fits itself to it. A max_sessions of one's
    own that does not fit is warned about."""

    def start_with_limit(self, env):
        import harness
        tmp = tempfile.mkdtemp(prefix="ftpsgate-fds-")
        wrapper = os.path.join(tmp, "ftpsgate")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec prlimit --nofile=4096:4096 %s \"$@\"\n" % BIN)
        os.chmod(wrapper, 0o755)
        old = harness.BIN
        harness.BIN = wrapper
        try:
            gw = Gateway(env=env).start()
        finally:
            harness.BIN = old
        return gw, tmp

    def test_defaults_fit_the_descriptors(self):
        gw, tmp = self.start_with_limit({})
        try:
            lines = [json.loads(l) for l in gw.logs().splitlines() if l.startswith("{")]
            fds = [l for l in lines if l["event"] == "daemon.fds"]
            self.assertEqual([l["level"] for l in fds], ["info"], fds)
            self.assertIn("max_sessions is %d" % ((4096 - 256) // 4), fds[0]["msg"])
        finally:
            gw.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)
        gw, tmp = self.start_with_limit({"FTPSGATE_MAX_SESSIONS": "5000"})
        try:
            lines = [json.loads(l) for l in gw.logs().splitlines() if l.startswith("{")]
            fds = [l for l in lines if l["event"] == "daemon.fds"]
            self.assertEqual([l["level"] for l in fds], ["warn"], fds)
        finally:
            gw.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)


class DurabilityTest(unittest.TestCase):
    def test_kill9_keeps_completed_and_partial_uploads(self):
        gw = Gateway()
        gw.start()
        try:
            a = gw.create_account(username="durable")
            done = os.urandom(2 * 1024 * 1024)
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "durable", a["password"])
            self.assertEqual(ftp.storbinary("STOR done.bin", io.BytesIO(done)),
                             "226 Transfer complete.")
            # Kill the daemon while a second upload is streaming.
            conn = ftp.transfercmd("STOR midway.bin")
            conn.sendall(b"m" * (1024 * 1024))
            time.sleep(0.3)
            gw.kill9()
            try:
                conn.close()
            except OSError:
                pass
            ftp.close()
            gw.start()
            ups = {u["path"]: u for u in gw.uploads()}
            self.assertIn(ups["/done.bin"]["state"], COMPLETE)
            self.assertEqual(ups["/done.bin"]["sha256"], hashlib.sha256(done).hexdigest())
            mid = ups["/midway.bin"]
            self.assertEqual(mid["state"], "partial")
            self.assertIn("gateway stopped", mid["error"])
            self.assertEqual(mid["bytes_received"], gw.kept_bytes(mid["id"]))
            # The completed upload's bytes are intact on disk and in the view.
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "durable", a["password"])
            self.assertEqual(ftp.sendcmd("SIZE done.bin"), "213 %d" % len(done))
            self.assertIn("midway.bin", ftp.nlst())
            ftp.quit()
        finally:
            gw.cleanup()

    def test_sigterm_during_upload_records_partial_and_exits_0(self):
        gw = Gateway()
        gw.start()
        try:
            a = gw.create_account(username="stopping")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "stopping", a["password"])
            conn = ftp.transfercmd("STOR cut.bin")
            conn.sendall(b"c" * 100000)
            time.sleep(0.3)
            proc = gw.proc
            gw.stop()
            self.assertEqual(proc.returncode, 0)
            try:
                conn.close()
            except OSError:
                pass
            ftp.close()
            gw.start()
            cut = [u for u in gw.uploads() if u["path"] == "/cut.bin"][0]
            self.assertEqual(cut["state"], "partial")
        finally:
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
