"""Webhooks against an HTTPS receiver the test starts: signatures checked
with the secret the API showed once; a receiver failing three times then
answering gets one event four times with the same id; one down for the
whole retry time leaves the delivery dead, and it is replayed; a gateway
SIGKILLed with events not yet sent sends them after its restart; 1,000
uploads give 1,000 upload.imported deliveries, in order per upload;
receivers on private addresses only when allowed; no redirect followed."""
import hashlib
import hmac
import http.server
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import ftps
from harness import Gateway, hook


def make_cert(directory):
    """A certificate for 127.0.0.1 (its own CA: the gateway is given it)."""
    cert, key = os.path.join(directory, "receiver.pem"), os.path.join(directory, "receiver.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


class Receiver:
    """An HTTPS server that records what it is sent. fail: how many
    requests to answer 500 first; status: what to answer then."""

    def __init__(self, cert, key, port=0):
        self.requests = []
        self.fail = 0
        self.status = 200
        self.location = None
        self.lock = threading.Lock()
        self.cert, self.key = cert, key
        self.port = port
        self.server = None
        self.start()

    def start(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.requests.append((dict(self.headers), body))
                    failing = outer.fail > 0
                    if failing:
                        outer.fail -= 1
                status = 500 if failing else outer.status
                self.send_response(status)
                if outer.location:
                    self.send_header("Location", outer.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if status >= 300 else b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        return "https://127.0.0.1:%d/hook" % self.port

    def events(self, type_=None):
        with self.lock:
            got = [(h, json.loads(b)) for h, b in self.requests]
        return [(h, e) for h, e in got if type_ is None or e["type"] == type_]

    def wait(self, pred, timeout=30, what="the deliveries"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred():
                return
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s; got %d requests" % (what, len(self.requests)))


class WebhookTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ftpsgate-webhooks-")
        cls.cert, cls.key = make_cert(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def gateway(self, **env):
        e = {"FTPSGATE_WEBHOOK_ALLOW_PRIVATE": "1", "FTPSGATE_WEBHOOK_CA_FILE": self.cert,
             "FTPSGATE_WEBHOOK_BACKOFF_S": "1", "FTPSGATE_WEBHOOK_TIMEOUT_S": "5"}
        e.update(env)
        return Gateway(env=e)

    def receiver(self, port=0):
        r = Receiver(self.cert, self.key, port)
        self.addCleanup(r.stop)
        return r

    def webhook(self, gw, url, events):
        status, doc, _ = gw.api("POST", "/webhooks", {"url": url, "events": events})
        self.assertEqual(status, 201, doc)
        self.assertEqual(len(doc["secret"]), 64)
        return doc

    def wait_dead(self, gw, hook, timeout=30):
        """The webhook's dead deliveries, once there is one."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            dead = gw.api("GET", "/webhooks/%d/deliveries?state=dead" % hook["id"])[1]["items"]
            if dead:
                return dead
            time.sleep(0.2)
        self.fail("no delivery went dead: %r" % gw.api("GET", "/webhooks/%d/deliveries" % hook["id"])[1])

    def upload(self, gw, acct, name, data=b"x" * 1000):
        ftp = ftps.login("127.0.0.1", gw.ftps_port, acct["username"], acct["password"])
        reply = ftps.stor_reply(ftp, name, data)
        ftp.close()
        return reply

    def assert_signed(self, headers, body_bytes, secret):
        want = hmac.new(secret.encode(), body_bytes, hashlib.sha256).hexdigest()
        self.assertEqual(headers["X-Ftpsgate-Signature"], "sha256=" + want)
        event = json.loads(body_bytes)
        self.assertEqual(headers["X-Ftpsgate-Event-Id"], event["id"])
        self.assertEqual(headers["X-Ftpsgate-Event"], event["type"])
        self.assertEqual(int(headers["X-Ftpsgate-Timestamp"]), event["timestamp"])
        self.assertLess(abs(event["timestamp"] - time.time()), 60)

    # ------------------------------------------------------------ the basics

    def test_events_signed_and_described(self):
        r = self.receiver()
        with self.gateway() as gw:
            hook = self.webhook(gw, r.url, ["upload.*", "account.created"])
            self.assertEqual(hook["events"], ["upload.*", "account.created"])
            a = gw.create_account(username="hooked")
            self.assertTrue(self.upload(gw, a, "mail.bin").startswith("226"))
            r.wait(lambda: len(r.events("upload.imported")) == 1)
            types = [e["type"] for _, e in r.events()]
            self.assertEqual(types, ["account.created", "upload.received", "upload.imported"])
            with r.lock:
                raw = list(r.requests)
            for headers, body in raw:
                self.assert_signed(headers, body, hook["secret"])
            _, imported = r.events("upload.imported")[0]
            self.assertEqual(imported["upload"]["path"], "/mail.bin")
            self.assertEqual(imported["upload"]["size"], 1000)
            self.assertEqual(imported["upload"]["sha256"], hashlib.sha256(b"x" * 1000).hexdigest())
            self.assertEqual(imported["account_id"], a["id"])
            _, created = r.events("account.created")[0]
            self.assertEqual(created["account"]["username"], "hooked")
            # a body changed in transit no longer matches its signature
            headers, body = raw[0]
            forged = body.replace(b"hooked", b"hacked")
            self.assertNotEqual(hmac.new(hook["secret"].encode(), forged, hashlib.sha256).hexdigest(),
                                headers["X-Ftpsgate-Signature"][7:])
            # listed without the secret, with its deliveries
            status, doc, _ = gw.api("GET", "/webhooks/%d" % hook["id"])
            self.assertNotIn("secret", doc)
            status, page, _ = gw.api("GET", "/webhooks/%d/deliveries?state=delivered" % hook["id"])
            self.assertEqual(len(page["items"]), 3)
            self.assertTrue(all(d["attempts"] == 1 and d["last_status"] == 200 for d in page["items"]))
            # a rejected upload: its reason
            gw.api("PATCH", "/accounts/%d" % a["id"], {"require_encryption": True})
            gw.api("POST", "/accounts/%d/keys" % a["id"])
            self.assertTrue(self.upload(gw, a, "plain.bin").startswith("553"))
            r.wait(lambda: r.events("upload.rejected"))
            _, rejected = r.events("upload.rejected")[0]
            self.assertIn("age", rejected["upload"]["event_error"])
            # account.updated was not asked for
            self.assertEqual(r.events("account.updated"), [])
            # deleted: nothing more is sent
            status, _, _ = gw.api("DELETE", "/webhooks/%d" % hook["id"])
            self.assertEqual(status, 204)
            before = len(r.requests)
            self.upload(gw, a, "after.bin")
            time.sleep(1.5)
            self.assertEqual(len(r.requests), before)

    def test_bad_webhooks_are_refused(self):
        with Gateway() as gw:  # webhook_allow_private off
            for body in ({"url": "http://example.com/h", "events": ["*"]},
                         {"url": "https://127.0.0.1/h", "events": ["*"]},
                         {"url": "https://[::1]:8443/h", "events": ["*"]},
                         {"url": "https://10.1.2.3/h", "events": ["*"]},
                         {"url": "https://192.168.0.1/h", "events": ["*"]},
                         {"url": "not a url", "events": ["*"]},
                         {"url": "https://example.com/h", "events": []},
                         {"url": "https://example.com/h", "events": ["upload.exploded"]},
                         {"url": "https://example.com/h", "events": "upload.*"},
                         {"url": "https://example.com/h"},
                         {"url": "https://example.com/h", "events": ["*"], "secret": "mine"}):
                status, doc, _ = gw.api("POST", "/webhooks", body)
                self.assertEqual(status, 400, (body, doc))
            status, doc, _ = gw.api("GET", "/webhooks")
            self.assertEqual(doc["items"], [])

    def test_a_name_resolving_to_loopback_is_refused_at_connect(self):
        r = self.receiver()
        with Gateway(env={"FTPSGATE_WEBHOOK_CA_FILE": self.cert, "FTPSGATE_WEBHOOK_BACKOFF_S": "1",
                          "FTPSGATE_WEBHOOK_RETRY_FOR_S": "2"}) as gw:
            # "localhost" passes the URL check (a name); it resolves to loopback
            hook = self.webhook(gw, "https://localhost:%d/hook" % r.port, ["account.*"])
            gw.create_account()
            dead = self.wait_dead(gw, hook)
            self.assertIn("webhook_allow_private", dead[0]["last_error"])
            self.assertEqual(r.requests, [])

    def test_redirects_are_not_followed(self):
        r, target = self.receiver(), self.receiver()
        r.status, r.location = 302, target.url
        with self.gateway(FTPSGATE_WEBHOOK_RETRY_FOR_S="1") as gw:
            hook = self.webhook(gw, r.url, ["account.created"])
            gw.create_account()
            r.wait(lambda: len(r.requests) >= 1)
            time.sleep(2.5)
            self.assertEqual(target.requests, [])
            items = gw.api("GET", "/webhooks/%d/deliveries" % hook["id"])[1]["items"]
            self.assertEqual(items[0]["last_status"], 302)
            self.assertNotEqual(items[0]["state"], "delivered")

    # ------------------------------------------------------------ failures

    def test_three_failures_then_success_deliver_one_event_four_times(self):
        r = self.receiver()
        r.fail = 3
        with self.gateway() as gw:
            hook = self.webhook(gw, r.url, ["account.created"])
            gw.create_account()
            r.wait(lambda: len(r.requests) == 4, timeout=60)
            time.sleep(1.5)
            self.assertEqual(len(r.requests), 4)
            ids = {h["X-Ftpsgate-Event-Id"] for h, _ in r.requests}
            self.assertEqual(len(ids), 1)
            for headers, body in r.requests:
                self.assert_signed(headers, body, hook["secret"])
            items = gw.api("GET", "/webhooks/%d/deliveries" % hook["id"])[1]["items"]
            self.assertEqual(items[0]["state"], "delivered")
            self.assertEqual(items[0]["attempts"], 4)

    def test_down_receiver_dead_letters_then_replay(self):
        r = self.receiver()
        port = r.port
        r.stop()  # down for the whole retry time
        with self.gateway(FTPSGATE_WEBHOOK_RETRY_FOR_S="3") as gw:
            hook = self.webhook(gw, "https://127.0.0.1:%d/hook" % port, ["account.created"])
            gw.create_account()
            dead = self.wait_dead(gw, hook)
            self.assertEqual(len(dead), 1, gw.api("GET", "/webhooks/%d/deliveries" % hook["id"])[1])
            self.assertGreaterEqual(dead[0]["attempts"], 2)
            self.assertTrue(dead[0]["last_error"])
            self.assertEqual(gw.api("GET", "/webhooks/%d" % hook["id"])[1]["deliveries"]["dead"], 1)
            # back up: replayed by hand, delivered once
            back = Receiver(self.cert, self.key, port)
            self.addCleanup(back.stop)
            status, doc, _ = gw.api("POST", "/webhooks/%d/deliveries/%d/retry"
                                    % (hook["id"], dead[0]["number"]))
            self.assertEqual(status, 202, doc)
            back.wait(lambda: len(back.requests) == 1)
            self.assertEqual(back.events()[0][1]["id"], dead[0]["event_id"])
            status, doc, _ = gw.api("POST", "/webhooks/%d/deliveries/%d/retry"
                                    % (hook["id"], 999999))
            self.assertEqual(status, 404)

    def test_events_survive_sigkill(self):
        r = self.receiver()
        port = r.port
        r.stop()
        gw = self.gateway()
        gw.start()
        try:
            hook = self.webhook(gw, "https://127.0.0.1:%d/hook" % port, ["upload.received",
                                                                         "account.created"])
            a = gw.create_account()
            for i in range(5):
                self.upload(gw, a, "f%d.bin" % i)
            gw.kill9()
            back = Receiver(self.cert, self.key, port)
            self.addCleanup(back.stop)
            gw.start()
            back.wait(lambda: len({e["id"] for _, e in back.events()}) == 6, timeout=60)
            got = back.events()
            self.assertEqual(sorted({e["upload"]["path"] for _, e in got if e["type"] == "upload.received"}),
                             ["/f%d.bin" % i for i in range(5)])
            for headers, body in back.requests:
                self.assert_signed(headers, body, hook["secret"])
        finally:
            gw.cleanup()

    # ------------------------------------------------------------ volume

    def test_a_thousand_uploads_in_order_per_upload(self):
        r = self.receiver()
        with self.gateway() as gw:
            self.webhook(gw, r.url, ["upload.received", "upload.imported"])
            a = gw.create_account()
            ftp = ftps.login("127.0.0.1", gw.ftps_port, a["username"], a["password"])
            for i in range(1000):
                ftp.storbinary("STOR u%04d.bin" % i, io.BytesIO(b"%d" % i))
            ftp.close()
            r.wait(lambda: len({e["id"] for _, e in r.events("upload.imported")}) == 1000,
                   timeout=240, what="1,000 upload.imported")
            events = r.events()
            imported = {e["upload"]["id"] for _, e in events if e["type"] == "upload.imported"}
            self.assertEqual(len(imported), 1000)
            # per upload: received before imported
            seen = {}
            for _, e in events:
                seen.setdefault(e["upload"]["id"], []).append(e["type"])
            for uid, types in seen.items():
                self.assertEqual(types[0], "upload.received", (uid, types))
                self.assertEqual(types[-1], "upload.imported", (uid, types))


class AcceptHookTest(unittest.TestCase):
    """accept_command: asked before 226; it may refuse, and the client and
    the record get its reason; one that decides nothing leaves the upload
    partial, and a resume asks again."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ftpsgate-accept-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.log = os.path.join(self.tmp, "asked.log")
        self.cmd = hook(self.tmp, "accept.sh", """
echo "$FTPSGATE_UPLOAD_PATH $FTPSGATE_UPLOAD_SIZE $FTPSGATE_UPLOAD_SHA256 $FTPSGATE_UPLOAD_USERNAME" >> %s
test -f "$FTPSGATE_UPLOAD_FILE" || test -n "$FTPSGATE_UPLOAD_OBJECT" || { echo "no bytes to look at"; exit 3; }
case "$FTPSGATE_UPLOAD_PATH" in
  *bad*) echo "bad names are not taken here"; echo "second line"; exit 1 ;;
  *slow*) [ -e %s/fast ] || sleep 30 ;;
esac
exit 0
""" % (self.log, self.tmp))

    def test_accept_refuse_and_undecided(self):
        env = {"FTPSGATE_ACCEPT_COMMAND": self.cmd, "FTPSGATE_ACCEPT_TIMEOUT_S": "2"}
        with Gateway(env=env) as gw:
            a = gw.create_account(username="asked")
            ftp = ftps.login("127.0.0.1", gw.ftps_port, "asked", a["password"])
            data = os.urandom(100_000)
            self.assertTrue(ftps.stor_reply(ftp, "good.bin", data).startswith("226"))
            with open(self.log) as f:
                asked = f.read().split()
            self.assertEqual(asked, ["/good.bin", "100000", hashlib.sha256(data).hexdigest(), "asked"])
            # refused: 553 with its first line; the upload is rejected, its name gone
            reply = ftps.stor_reply(ftp, "bad.bin", data)
            self.assertEqual(reply, "553 Refused: bad names are not taken here.")
            up = gw.wait_upload(lambda u: u["path"] == "/bad.bin")
            self.assertEqual(up["state"], "rejected")
            self.assertEqual(up["error"], "bad names are not taken here")
            self.assertNotIn("bad.bin", ftp.nlst())
            # undecided (past its time): 451, kept partial, resumable
            reply = ftps.stor_reply(ftp, "slow.bin", data)
            self.assertTrue(reply.startswith("451"), reply)
            self.assertIn("resume", reply)
            up = gw.wait_upload(lambda u: u["path"] == "/slow.bin")
            self.assertEqual(up["state"], "partial")
            self.assertEqual(up["bytes_received"], len(data))
            self.assertIn("did not answer", up["error"])
            # the session goes on; the hook answers now, and a resume completes it
            open(os.path.join(self.tmp, "fast"), "w").close()
            r = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "-C", "-", "-T", "-",
                                "ftps://asked:%s@127.0.0.1:%d/slow.bin" % (a["password"], gw.ftps_port)],
                               input=data, capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            up = gw.wait_upload(lambda u: u["path"] == "/slow.bin" and u["state"] != "partial")
            self.assertEqual(up["sha256"], hashlib.sha256(data).hexdigest())
            self.assertTrue(ftp.voidcmd("NOOP").startswith("200"))
            ftp.close()


if __name__ == "__main__":
    unittest.main()
