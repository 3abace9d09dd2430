"""Draining a node (POST /api/v1/nodes/{id}/drain, or SIGTERM): it stops
taking connections at once (refused, so a load balancer goes elsewhere),
/health answers 503 'draining', idle sessions end with a 421, a running
upload finishes whole, and the process ends. GET /api/v1/nodes shows the
node and what it is doing; logs and metrics name it."""
import ftplib
import io
import json
import os
import socket
import threading
import time
import unittest

import ftps
from harness import Gateway


class DrainTest(unittest.TestCase):
    def test_drain_through_the_api_lets_the_running_upload_finish(self):
        gw = Gateway(env={"FTPSGATE_NODE_ID": "gw-drain-1", "FTPSGATE_SHUTDOWN_GRACE_S": "60"})
        gw.start()
        try:
            a = gw.create_account(username="drained")
            nodes = gw.api("GET", "/nodes")[1]["items"]
            self.assertEqual([(n["id"], n["status"], n["self"]) for n in nodes],
                             [("gw-drain-1", "serving", True)])
            health = gw.api("GET", "/health", auth=False)
            self.assertEqual((health[0], health[1]["node"], health[1]["status"]),
                             (200, "gw-drain-1", "ok"))
            self.assertIn('ftpsgate_node_info{node="gw-drain-1"', gw.api("GET", "/metrics")[1])

            idle = ftps.login(gw.host, gw.ftps_port, "drained", a["password"])
            busy = ftps.login(gw.host, gw.ftps_port, "drained", a["password"])
            conn = busy.transfercmd("STOR running.bin")
            conn.sendall(b"r" * 300000)
            deadline = time.time() + 10  # (the upload's record comes after its first bytes)
            while time.time() < deadline:
                nodes = gw.api("GET", "/nodes")[1]["items"]
                if nodes[0]["uploads_receiving"]:
                    break
                time.sleep(0.1)
            self.assertEqual((nodes[0]["sessions"], nodes[0]["transfers"],
                              nodes[0]["uploads_receiving"]), (2, 1, 1))
            # a read-only token may look, not drain
            rtok = gw.api("POST", "/tokens", {"name": "looker", "scope": "read"})[1]["token"]
            self.assertEqual(gw.api("POST", "/nodes/gw-drain-1/drain", {}, token=rtok)[0], 403)
            status, doc, _ = gw.api("POST", "/nodes/gw-drain-1/drain", {})
            self.assertEqual((status, doc["status"]), (202, "draining"))

            health = gw.api("GET", "/health", auth=False)
            self.assertEqual((health[0], health[1]["status"]), (503, "draining"))
            self.assertEqual(gw.api("GET", "/nodes")[1]["items"][0]["status"], "draining")
            # new connections are refused at once, not left in a backlog
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection((gw.host, gw.ftps_port), timeout=5).close()
            # the idle session is told to go elsewhere
            with self.assertRaises((ftplib.error_temp, EOFError, OSError)) as e:
                deadline = time.time() + 5
                while time.time() < deadline:
                    idle.voidcmd("NOOP")
                    time.sleep(0.2)
            self.assertIn("421", str(e.exception))
            idle.close()
            # the running upload goes on and ends whole
            conn.sendall(b"r" * 300000)
            conn.unwrap().close()
            self.assertTrue(busy.voidresp().startswith("226"))
            busy.close()
            self.assertEqual(gw.proc.wait(20), 0)
            gw.proc = None
            lines = [json.loads(l) for l in gw.logs().splitlines() if l.startswith("{")]
            named = {l["event"] for l in lines if l.get("node") == "gw-drain-1"}
            self.assertLessEqual({"daemon.ready", "session.open", "daemon.stop", "daemon.stopped"},
                                 named)
            self.assertTrue(any("drain asked through the API" in l["msg"] for l in lines))
            # the upload was recorded whole: the next start shows it
            gw.start()
            rec = gw.wait_upload(lambda u: u["path"] == "/running.bin")
            self.assertEqual(rec["size"], 600000)
            self.assertNotEqual(rec["state"], "partial")
            self.assertEqual(gw.api("POST", "/nodes/elsewhere/drain", {})[0], 404)
        finally:
            gw.cleanup()

    def test_sigterm_drains_the_same_way(self):
        gw = Gateway(env={"FTPSGATE_SHUTDOWN_GRACE_S": "60"})
        gw.start()
        try:
            a = gw.create_account(username="termed")
            busy = ftps.login(gw.host, gw.ftps_port, "termed", a["password"])
            conn = busy.transfercmd("STOR t.bin")
            conn.sendall(b"t" * 100000)
            time.sleep(0.3)
            gw.proc.terminate()
            deadline = time.time() + 5
            while time.time() < deadline:
                status, doc, _ = gw.api("GET", "/health", auth=False)
                if status == 503:
                    break
                time.sleep(0.1)
            self.assertEqual(doc["status"], "draining")
            conn.sendall(b"t" * 100000)
            conn.unwrap().close()
            self.assertTrue(busy.voidresp().startswith("226"))
            busy.close()
            self.assertEqual(gw.proc.wait(20), 0)
            gw.proc = None
        finally:
            gw.cleanup()

    def test_bad_node_ids_stop_the_daemon(self):
        for bad in ("a/b", "has space", "x" * 65):
            gw = Gateway(env={"FTPSGATE_NODE_ID": bad})
            with self.assertRaises(RuntimeError) as e:
                gw.start(timeout=10)
            self.assertIn("invalid node_id", str(e.exception))
            gw.cleanup()


if __name__ == "__main__":
    unittest.main()
