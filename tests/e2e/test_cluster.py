"""A cluster behind one name, as scripts/cluster.sh starts it: HAProxy
2.6 at 127.0.0.10 (TCP, PROXY protocol v2 to the nodes, health checks on
their APIs), three nodes on 127.0.0.11-13 with a slice of the passive
range each, PostgreSQL for the records and Swift's S3 API for the bytes.

Real clients (curl, lftp, rclone) upload through the public address; a
node is SIGKILLed under 20 uploads and the clients resume on the others
from SIZE; another is drained during uploads; bans are the clients' (the
PROXY header), and any node's API shows the whole cluster.

It starts its own cluster (its own PostgreSQL and S3 server), so it runs
once, with the SQLite pass of the suite."""
import concurrent.futures
import hashlib
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import ftplib
import ftps
from harness import BACKEND, BIN, COMPLETE, Gateway, ROOT

HERE = os.path.dirname(os.path.abspath(__file__))
MISSING = [b for b in ("haproxy", "/usr/lib/postgresql/15/bin/initdb", "/usr/bin/swift-proxy-server",
                       "curl", "lftp", "rclone", "age")
           if not shutil.which(b) and not os.path.exists(b)]
# the sanitizer runs set FTPSGATE_LARGE_MIB=256: sizes shrink alike
SCALE = min(int(os.environ.get("FTPSGATE_LARGE_MIB", "2048")), 2048) / 2048
MIB = 1 << 20


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def alive(pid):
    """The process runs (a zombie, ended but not reaped, does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class View(Gateway):
    """The admin API at one address (the balancer's, or a node's)."""

    def __init__(self, url, token):
        host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        self.host, self.admin_port, self.token = host, int(port), token
        self.proc = None

    @property
    def admin_url(self):
        return "https://%s:%d/api/v1" % (self.host, self.admin_port)

    def api(self, method, path, body=None, auth=True, token=None, **kw):
        return Gateway.api(self, method, path, body, auth, token or self.token, **kw)

    def open_events(self, query="", last_event_id=None, token=None):
        return Gateway.open_events(self, query, last_event_id, token or self.token)


@unittest.skipIf(BACKEND != "sqlite", "the cluster brings its own PostgreSQL: run once")
@unittest.skipIf(MISSING, "not installed: %s" % ", ".join(MISSING))
class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="ftpsgate-cluster-")
        cls.node_env = dict(os.environ, FTPSGATE_BIN=BIN, FTPSGATE_ARGON2_M_COST_KIB="4096",
                            FTPSGATE_ARGON2_T_COST="1", FTPSGATE_SHUTDOWN_GRACE_S="60",
                            FTPSGATE_S3_PART_MIB="5", FTPSGATE_BAN_AFTER_FAILURES="3",
                            FTPSGATE_BAN_DURATION_S="600", FTPSGATE_MAX_SESSIONS_PER_ADDRESS="0",
                            FTPSGATE_MAX_SESSIONS_PER_ACCOUNT="0",
                            FTPSGATE_MAX_PASSIVE_PER_ADDRESS="0",
                            FTPSGATE_MAX_PASSIVE_PER_ACCOUNT="0")
        out = subprocess.run(["sh", os.path.join(ROOT, "scripts", "cluster.sh"), "up", cls.dir],
                             env=cls.node_env, capture_output=True, text=True, timeout=300)
        if out.returncode:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise RuntimeError("cluster.sh up failed:\n%s\n%s" % (out.stdout, out.stderr))
        cls.env = dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l)
        cls.token = cls.env["ADMIN_TOKEN"]
        cls.api = View(cls.env["API"], cls.token)
        cls.host, port = cls.env["FTPS"].rsplit(":", 1)
        cls.port = int(port)
        cls.nodes = cls.env["NODES"].split(",")
        cls.files = tempfile.mkdtemp(prefix="ftpsgate-cluster-files-")

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "cluster.sh"), "down", cls.dir],
                       capture_output=True, timeout=120)
        shutil.rmtree(cls.files, ignore_errors=True)

    # ------------------------------------------------------------ helpers

    def node_api(self, node):
        return View(self.env["NODE_%s_API" % node], self.token)

    def node_log(self, node):
        with open(os.path.join(self.dir, node, "log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def account(self, name, **fields):
        fields.setdefault("require_encryption", False)
        status, doc, _ = self.api.api("POST", "/accounts", dict(fields, username=name))
        self.assertEqual(status, 201, doc)
        return doc

    def uploads(self, account_id):
        items, cursor = [], None
        while True:
            q = "/uploads?limit=1000&account_id=%d" % account_id + ("&cursor=" + cursor if cursor else "")
            status, doc, _ = self.api.api("GET", q)
            self.assertEqual(status, 200, doc)
            items += doc["items"]
            cursor = doc.get("next_cursor")
            if not cursor:
                return items

    def wait_states(self, account_id, n, states=("imported",), timeout=180):
        deadline = time.time() + timeout
        while time.time() < deadline:
            items = self.uploads(account_id)
            if len([u for u in items if u["state"] in states]) >= n:
                return items
            time.sleep(0.5)
        self.fail("not %d uploads %s: %r" % (n, states, [(u["path"], u["state"]) for u in items]))

    def make_file(self, name, size):
        path = os.path.join(self.files, name)
        with open(path, "wb") as f:
            left = size
            while left:
                n = min(left, 4 * MIB)
                f.write(random.randbytes(n))
                left -= n
        return path

    def curl(self, account, src, name, extra=(), source=None):
        url = "ftps://%s:%d/%s" % (self.host, self.port, name)
        cmd = ["curl", "-sS", "-k", "--ftp-pasv", "-u", "%s:%s" % (account["username"], account["password"]),
               "-T", src, url] + list(extra)
        if source:
            cmd[1:1] = ["--interface", source]
        return cmd

    def reached(self, upload):
        """The nodes whose logs show this upload starting (being received)."""
        mark = "upload %d '" % upload["id"]
        return [n for n in self.nodes
                if any('"upload.start"' in l and mark in l for l in self.node_log(n).splitlines())]

    # ------------------------------------------------------------ tests

    def test_1_clients_through_the_balancer(self):
        a = self.account("clients")
        srcs = {}
        for i in range(8):
            srcs["r%d.bin" % i] = self.make_file("r%d.bin" % i, 300000 + i)
        one = self.make_file("curl.bin", 2 * MIB + 7)
        lf = [self.make_file("lftp-%d.bin" % i, MIB + i) for i in range(3)]
        # curl, from 127.0.0.21
        r = subprocess.run(self.curl(a, one, "curl.bin", source="127.0.0.21"),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        # lftp, from 127.0.0.22
        script = ("set ssl:verify-certificate no; set net:max-retries 2; set net:timeout 20;"
                  " set net:socket-bind-ipv4 127.0.0.22; open -u clients,%s ftps://%s:%d; mput %s"
                  % (a["password"], self.host, self.port, " ".join(lf)))
        r = subprocess.run(["lftp", "-c", script], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        # rclone with 4 transfers (4 control connections, spread over the nodes)
        rdir = os.path.join(self.files, "rclone")
        os.makedirs(rdir)
        for n, p in srcs.items():
            os.rename(p, os.path.join(rdir, n))
        secret = subprocess.run(["rclone", "obscure", a["password"]], check=True,
                                capture_output=True, text=True).stdout.strip()
        dest = (":ftp,host=%s,port=%d,user=clients,pass=%s,tls=true,no_check_certificate=true:"
                % (self.host, self.port, secret))
        r = subprocess.run(["rclone", "copy", rdir, dest, "--transfers", "4", "--checkers", "4",
                            "--bind", "127.0.0.23", "-v", "--config", "/dev/null"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        want = {"curl.bin": one}
        want.update({os.path.basename(p): p for p in lf})
        want.update({n: os.path.join(rdir, n) for n in srcs})
        items = self.wait_states(a["id"], len(want))
        recs = {u["path"][1:]: u for u in items}
        self.assertEqual(sorted(recs), sorted(want))
        for name, path in want.items():
            rec = recs[name]
            self.assertEqual(rec["state"], "imported", rec)
            self.assertEqual(rec["sha256"], sha256_file(path), name)
            self.assertEqual(rec["size"], os.path.getsize(path))
            # the node on the record is the one that received it
            self.assertEqual(self.reached(rec), [rec["node"]], (name, rec["node"]))
        self.assertEqual(recs["curl.bin"]["client_address"], "127.0.0.21")
        self.assertTrue(all(recs[os.path.basename(p)]["client_address"] == "127.0.0.22" for p in lf))
        self.assertTrue(all(recs[n]["client_address"] == "127.0.0.23" for n in srcs))
        # one client, one node: rclone's sessions share TLS sessions
        self.assertEqual(len({recs[n]["node"] for n in srcs}), 1)

    def test_2_bans_are_the_clients_and_headers_come_from_the_balancer_only(self):
        a = self.account("guarded")
        # three wrong passwords in one session (one node counts them: each
        # node counts its own failures; the ban it makes holds on every node)
        ftp = ftps.ImplicitFTPS(context=ftps.client_context(), timeout=10)
        ftp.connect(self.host, self.port, source_address=("127.0.0.2", 0))
        for _ in range(3):
            with self.assertRaises((ftplib.Error, EOFError, OSError)):
                ftp.login("guarded", "wrong")
        ftp.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            keys = {b["key"]: b for b in self.api.api("GET", "/bans")[1]["items"]}
            if keys.get("127.0.0.2", {}).get("banned_until"):
                break
            time.sleep(0.2)
        self.assertIsNotNone(keys["127.0.0.2"]["banned_until"])
        self.assertNotIn("127.0.0.10", keys)
        # refused through the balancer (whichever node), others served
        for _ in range(3):
            with self.assertRaises((ftplib.Error, OSError, EOFError)):
                ftps.login(self.host, self.port, "guarded", a["password"], source="127.0.0.2",
                           timeout=10).quit()
        ftps.login(self.host, self.port, "guarded", a["password"], source="127.0.0.3").quit()
        self.assertEqual(self.api.api("DELETE", "/bans?address=127.0.0.2")[0], 204)
        # a PROXY header straight to a node from a client: refused
        node = self.env["NODE_n1_FTPS"].rsplit(":", 1)
        ftp = ftps.ImplicitFTPS(context=ftps.client_context(), timeout=10)
        ftp.proxy_header = ftps.proxy_v2("192.0.2.1", self.host)
        with self.assertRaises((OSError, EOFError, ftplib.Error)):
            ftp.connect(node[0], int(node[1]), source_address=("127.0.0.4", 0))
        ftp.close()
        self.assertIn("refused a PROXY protocol header from 127.0.0.4", self.node_log("n1"))
        # and no header from the balancer's own address: refused
        with self.assertRaises((OSError, EOFError, ftplib.Error)):
            ftps.login(node[0], int(node[1]), "guarded", a["password"], source=self.host,
                       timeout=10)
        # a client straight at a node (no balancer) is served as itself
        ftp = ftps.login(node[0], int(node[1]), "guarded", a["password"], source="127.0.0.5")
        ftp.storbinary("STOR direct.bin", io.BytesIO(b"d" * 1000))
        ftp.quit()
        rec = [u for u in self.wait_states(a["id"], 1) if u["path"] == "/direct.bin"][0]
        self.assertEqual((rec["node"], rec["client_address"]), ("n1", "127.0.0.5"))

    def test_3_any_nodes_api_shows_the_cluster(self):
        a = self.account("watched")
        # an event stream on node 1 sees an upload that node 3 receives
        n1 = self.node_api("n1")
        resp, conn = n1.open_events("?account_id=%d" % a["id"])
        n3 = self.env["NODE_n3_FTPS"].rsplit(":", 1)
        ftp = ftps.login(n3[0], int(n3[1]), "watched", a["password"])
        ftp.storbinary("STOR seen.bin", io.BytesIO(b"s" * 100000))
        ftp.quit()
        seen = []
        while "imported" not in seen:
            _, event, data = n1.read_event(resp)
            self.assertEqual(data["account_id"], a["id"])
            seen.append(data["state"])
        conn.close()
        self.assertEqual(seen[:2], ["receiving", "received"])
        for node in self.nodes:
            view = self.node_api(node)
            accounts = {x["username"] for x in view.api("GET", "/accounts?limit=1000")[1]["items"]}
            self.assertIn("watched", accounts)
            listed = {x["id"]: x for x in view.api("GET", "/nodes")[1]["items"]}
            self.assertEqual(sorted(listed), self.nodes)
            self.assertTrue(listed[node]["self"])
            self.assertEqual(view.api("GET", "/health", auth=False)[1]["node"], node)
            rec = [u for u in view.api("GET", "/uploads?account_id=%d" % a["id"])[1]["items"]]
            self.assertEqual([(u["path"], u["node"]) for u in rec], [("/seen.bin", "n3")])

    def test_4_a_node_lost_mid_upload_loses_nothing_and_a_drained_one_finishes(self):
        # half the uploads age-encrypted (an account that requires it),
        # half plain (one that does not)
        a = self.account("mover", require_encryption=True)
        b = self.account("plain-mover")
        recipient = a["key"]["recipient"]
        jobs, owner = {}, {}
        rnd = random.Random(17)
        for i in range(20):
            size = int(rnd.randint(64, 256) * MIB * SCALE) + rnd.randint(0, 4095)
            plain = self.make_file("p%02d" % i, size)
            if i % 2:
                name = "mail-%02d.bin" % i
                path = os.path.join(self.files, name)
                os.rename(plain, path)
                owner[name] = b
            else:
                name = "mail-%02d.nsf.age" % i
                path = os.path.join(self.files, name)
                subprocess.run(["age", "-r", recipient, "-o", path, plain], check=True, timeout=300)
                os.unlink(plain)
                owner[name] = a
            jobs[name] = path
        # each upload takes about 12 s unless cut: long enough to kill a node under them
        rate = {n: max(os.path.getsize(p) // 12, 256 * 1024) for n, p in jobs.items()}
        attempts = {n: 0 for n in jobs}
        procs = {}

        def start(name):
            # 20 uploaders, each from an address of its own
            attempts[name] += 1
            source = "127.0.0.%d" % (100 + int(name[5:7]))
            procs[name] = subprocess.Popen(
                self.curl(owner[name], jobs[name], name, ["-C", "-", "--limit-rate", str(rate[name])],
                          source=source),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        for name in jobs:
            start(name)
        # the node holding the most transfers, once all are running
        deadline = time.time() + 30
        while time.time() < deadline:
            nodes = {x["id"]: x for x in self.api.api("GET", "/nodes")[1]["items"]}
            if sum(x["transfers"] for x in nodes.values()) == len(jobs):
                break
            time.sleep(0.5)
        victim = max(nodes, key=lambda k: nodes[k]["transfers"])
        self.assertGreater(nodes[victim]["transfers"], 0)
        self.assertGreater(len([k for k in nodes if nodes[k]["transfers"]]), 1,
                           "the balancer spreads the uploaders")
        time.sleep(3)
        os.kill(int(self.status()["NODE_%s_PID" % victim]), signal.SIGKILL)
        killed_at = time.time()
        # clients whose upload broke go again (through the balancer, to the
        # survivors) from the remote SIZE: curl -C -
        done = set()
        deadline = time.time() + 600
        while len(done) < len(jobs) and time.time() < deadline:
            for name, p in list(procs.items()):
                if name in done or p.poll() is None:
                    continue
                why = p.stderr.read()[-500:]
                p.stderr.close()
                if p.returncode == 0:
                    done.add(name)
                    continue
                self.assertLess(attempts[name], 40, (name, why))
                time.sleep(1)
                start(name)
            time.sleep(0.2)
        self.assertEqual(done, set(jobs))
        cut = [n for n in jobs if attempts[n] > 1]
        self.assertTrue(cut, "the killed node held uploads")
        items = self.wait_states(a["id"], len(jobs) // 2, timeout=300) + \
            self.wait_states(b["id"], len(jobs) // 2, timeout=300)
        by_name = {}
        for u in items:
            by_name.setdefault(u["path"][1:], []).append(u)
        resumed = 0
        for name, path in jobs.items():
            recs = by_name[name]
            imported = [u for u in recs if u["state"] == "imported"]
            # imported once, bytes right; resumed where it broke, or (a
            # client that started again from byte 0 after a 450: curl does
            # when SIZE is refused) a new upload whose older one stays
            # partial, never imported
            self.assertEqual(len(imported), 1, (name, [(u["state"], u["node"]) for u in recs]))
            self.assertEqual(imported[0]["sha256"], sha256_file(path), name)
            self.assertEqual(imported[0]["size"], os.path.getsize(path))
            for u in recs:
                if u is not imported[0]:
                    self.assertEqual(u["state"], "partial", (name, u))
                    self.assertLess(u["id"], imported[0]["id"])
            if name in cut:
                self.assertNotEqual(imported[0]["node"], victim)
                resumed += len(recs) == 1
        # most cut uploads went on where they broke (their one record)
        self.assertGreater(resumed, 0, "no cut upload was resumed in place")
        # the killed node is listed as gone; start it again for the drain
        deadline = time.time() + 15
        while time.time() < deadline:
            if {x["id"]: x for x in self.api.api("GET", "/nodes")[1]["items"]}[victim]["status"] == "gone":
                break
            time.sleep(0.5)
        subprocess.run(["sh", os.path.join(ROOT, "scripts", "cluster.sh"), "start-node", self.dir, victim],
                       env=self.node_env, check=True, capture_output=True, timeout=120)
        self.drain_during_uploads(a, victim)

    def drain_during_uploads(self, a, spare):
        """Drain a node running transfers: they finish; no new session reaches it."""
        before = len([u for u in self.uploads(a["id"]) if u["state"] == "imported"])
        names = ["drain-%d.bin" % i for i in range(6)]
        paths = {n: self.make_file(n, int(48 * MIB * SCALE) + 1) for n in names}
        enc = {}
        for n, p in paths.items():
            enc[n] = p + ".age"
            subprocess.run(["age", "-r", a["key"]["recipient"], "-o", enc[n], p], check=True)
        rate = max(os.path.getsize(enc[names[0]]) // 8, 256 * 1024)
        procs = {n: subprocess.Popen(self.curl(a, enc[n], n, ["--limit-rate", str(rate)],
                                               source="127.0.0.%d" % (140 + i)),
                                     stderr=subprocess.PIPE) for i, n in enumerate(names)}
        deadline = time.time() + 30
        while time.time() < deadline:
            nodes = {x["id"]: x for x in self.api.api("GET", "/nodes")[1]["items"]}
            if sum(x["transfers"] for x in nodes.values() if x["status"] == "serving") == len(names):
                break
            time.sleep(0.3)
        busy = [k for k in nodes if nodes[k]["transfers"] and k != spare]
        self.assertTrue(busy, nodes)
        drained = max(busy, key=lambda k: nodes[k]["transfers"])
        status, doc, _ = self.api.api("POST", "/nodes/%s/drain" % drained, {})
        self.assertEqual(status, 202, doc)
        time.sleep(2.5)  # the balancer's check sees 'draining' (inter 1s, fall 1)
        # new sessions meanwhile reach the others only
        later = self.make_file("later.bin", 100000)
        subprocess.run(["age", "-r", a["key"]["recipient"], "-o", later + ".age", later], check=True)
        for i in range(6):
            r = subprocess.run(self.curl(a, later + ".age", "later-%d.bin" % i,
                                         source="127.0.0.%d" % (140 + i)),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
        for n, p in procs.items():
            code = p.wait(300)
            why = p.stderr.read()[-500:]
            p.stderr.close()
            self.assertEqual(code, 0, (n, why))
        pid = int(self.status()["NODE_%s_PID" % drained])
        deadline = time.time() + 60
        while alive(pid) and time.time() < deadline:
            time.sleep(0.2)
        self.assertFalse(alive(pid), "the drained node ended")
        items = {u["path"][1:]: u for u in self.wait_states(a["id"], before + 2 * len(names), timeout=300)}
        on_drained = 0
        for n in names:
            self.assertEqual(items[n]["sha256"], sha256_file(enc[n]))
            on_drained += items[n]["node"] == drained
        self.assertGreater(on_drained, 0)
        for i in range(6):
            self.assertNotEqual(items["later-%d.bin" % i]["node"], drained)

    def status(self):
        out = subprocess.run(["sh", os.path.join(ROOT, "scripts", "cluster.sh"), "status", self.dir],
                             capture_output=True, text=True, timeout=60, check=True)
        return dict(l.split("=", 1) for l in out.stdout.splitlines() if "=" in l)


if __name__ == "__main__":
    unittest.main()
