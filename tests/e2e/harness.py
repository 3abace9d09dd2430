"""Start the real ftpsgate daemon on free loopback ports with its own data
directory, and talk to its admin API. Used by every end-to-end test."""
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPENAPI = json.load(open(os.path.join(ROOT, "openapi", "openapi.json")))


def openapi_check(method, path, status, headers, doc):
    """Every response the tests receive must be one the OpenAPI document
    describes: a documented status, content type and schema. A field the
    code sends and the document lacks fails the test that saw it."""
    import re
    import jsonschema
    path = path.split("?", 1)[0]
    for template, item in OPENAPI["paths"].items():
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[1-9][0-9]*", re.escape(template)) + "$"
        pattern = pattern.replace("[1-9][0-9]*/drain", "[A-Za-z0-9._-]+/drain")  # {node}
        if re.match(pattern, path):
            break
    else:
        assert status == 404, "%s %s answered %d but is not in the OpenAPI document" % (method, path, status)
        return
    op = item.get(method.lower())
    if op is None:
        assert status == 405, "%s %s answered %d, undocumented" % (method, path, status)
        return
    assert str(status) in op["responses"], "%s %s answered %d, not documented" % (method, path, status)
    resp = op["responses"][str(status)]
    while "$ref" in resp:
        node = OPENAPI
        for part in resp["$ref"][2:].split("/"):
            node = node[part]
        resp = node
    ctype = headers.get("Content-Type")
    if "content" not in resp:  # e.g. 204: nothing at all
        assert ctype is None and not doc, "%s %s: %s sent where none is documented" % (method, path, ctype)
        return
    assert ctype in resp.get("content", {}), "%s %s: undocumented %s" % (method, path, ctype)
    if doc is not None and ctype.endswith("json"):
        schema = resp["content"][ctype]["schema"]
        resolver = jsonschema.RefResolver.from_schema(OPENAPI)
        jsonschema.Draft202012Validator(schema, resolver=resolver).validate(doc)
BIN = os.environ.get("FTPSGATE_BIN", os.path.join(ROOT, "build", "ftpsgate"))
TOKEN = "e2e-admin-token-0123456789abcdef"
# States of an upload whose bytes arrived whole (226): received, and what
# the import pipeline makes of it afterwards.
COMPLETE = ("received", "verifying", "verified", "importing", "imported")


def free_port():
    """A port free now, below the ephemeral range (so that no client's
    outgoing connection takes it before the daemon binds it) and below
    the passive ranges of free_range()."""
    for _ in range(200):
        port = random.randrange(10000, 20000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def free_range(n=20):
    """n consecutive ports that are free now, outside the ephemeral range."""
    for _ in range(200):
        base = random.randrange(20000, 32000 - n)
        socks = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return base, base + n - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


# The records backend the suite runs on: FTPSGATE_TEST_PG names a
# PostgreSQL server (a libpq URL of a role that may create databases,
# e.g. from scripts/pg-local.sh) and every gateway gets a database of its
# own there; unset, each gateway keeps SQLite in its data directory.
TEST_PG = os.environ.get("FTPSGATE_TEST_PG", "")
BACKEND = "postgresql" if TEST_PG else "sqlite"


def pg_admin(sql, dbname="postgres"):
    """Run SQL on the test PostgreSQL server as its administrator."""
    url = TEST_PG.rsplit("/", 1)[0] + "/" + dbname
    out = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         capture_output=True, text=True, timeout=60)
    if out.returncode:
        raise RuntimeError("psql %r: %s" % (sql, out.stderr))
    return out.stdout


def pg_url(dbname):
    return TEST_PG.rsplit("/", 1)[0] + "/" + dbname


def pg_database_for(data_dir):
    """The test database of a data directory: made at its first start,
    kept for its restarts."""
    name_file = os.path.join(data_dir, "pg-database")
    if os.path.exists(name_file):
        with open(name_file) as f:
            return f.read().strip()
    name = "t_" + os.urandom(8).hex()
    pg_admin("CREATE DATABASE %s" % name)
    with open(name_file, "w") as f:
        f.write(name)
    return name


# Where upload bytes go: FTPSGATE_TEST_S3 names the settings file of an
# S3 server (scripts/s3-local.sh writes one: FTPSGATE_STORAGE_URL,
# FTPSGATE_S3_ENDPOINT, FTPSGATE_S3_REGION, AWS_* lines) and every gateway
# keeps its bytes under a key prefix of its own there; unset, in its data
# directory.
TEST_S3 = os.environ.get("FTPSGATE_TEST_S3", "")
S3 = {}
if TEST_S3:
    with open(TEST_S3) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                S3[k] = v
STORAGE = "s3" if TEST_S3 else "file"


def s3_prefix_for(data_dir):
    """The key prefix of a data directory's uploads: chosen at its first
    start, kept for its restarts."""
    name_file = os.path.join(data_dir, "s3-prefix")
    if os.path.exists(name_file):
        with open(name_file) as f:
            return f.read().strip()
    name = "t-" + os.urandom(8).hex()
    with open(name_file, "w") as f:
        f.write(name)
    return name


def s3_object(key):
    """An object's bytes, read from the S3 server by rclone's S3 backend
    (not the gateway's client); None when there is no such key."""
    env = dict(os.environ, RCLONE_CONFIG_T_TYPE="s3", RCLONE_CONFIG_T_PROVIDER="Other",
               RCLONE_CONFIG_T_ENDPOINT=S3["FTPSGATE_S3_ENDPOINT"],
               RCLONE_CONFIG_T_REGION=S3["FTPSGATE_S3_REGION"],
               RCLONE_CONFIG_T_ACCESS_KEY_ID=S3["AWS_ACCESS_KEY_ID"],
               RCLONE_CONFIG_T_SECRET_ACCESS_KEY=S3["AWS_SECRET_ACCESS_KEY"],
               RCLONE_CONFIG_T_FORCE_PATH_STYLE="true")
    env.pop("AWS_CA_BUNDLE", None)
    bucket = S3["FTPSGATE_STORAGE_URL"][5:].split("/", 1)[0]
    listed = subprocess.run(["rclone", "lsjson", "--config", "/dev/null", "t:%s/%s" % (bucket, key)],
                            env=env, capture_output=True, timeout=120)
    if listed.returncode:
        raise RuntimeError("rclone lsjson %s: %s" % (key, listed.stderr[-500:]))
    if not json.loads(listed.stdout):
        return None
    out = subprocess.run(["rclone", "cat", "--config", "/dev/null", "t:%s/%s" % (bucket, key)],
                         env=env, capture_output=True, timeout=300)
    if out.returncode:
        raise RuntimeError("rclone cat %s: %s" % (key, out.stderr[-500:]))
    return out.stdout


def skip_unless_file_storage(why):
    """For tests of what only bytes in the data directory have (its files,
    their links in the accounts' views)."""
    import unittest
    return unittest.skipIf(STORAGE != "file", why)


def skip_unless_sqlite(why):
    """For tests of what only the SQLite backend has (its file, its locks)."""
    import unittest
    return unittest.skipIf(BACKEND != "sqlite", why)


def hook(tmp, name, body):
    """An import hook: a shell script in tmp."""
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


class PortTaken(Exception):
    pass


class Gateway:
    """One daemon. Use as a context manager or call start()/stop()."""

    def __init__(self, data_dir=None, env=None, passive=None, host="127.0.0.1"):
        self.host = host  # the loopback address it listens on
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="ftpsgate-e2e-")
        self.ftps_port = free_port()
        self.admin_port = free_port()
        # 64 ports: a quarter (the default share of one account or one
        # address) leaves room for the tests' parallel sessions.
        self.passive = passive or free_range(64)
        self.extra_env = env or {}
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "daemon.log")

    def env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("FTPSGATE_")}
        e.update({
            "FTPSGATE_DATA_DIR": os.path.join(self.data_dir, "var"),
            "FTPSGATE_FTPS_LISTEN": "%s:%d" % (self.host, self.ftps_port),
            "FTPSGATE_PASSIVE_PORTS": "%d-%d" % self.passive,
            "FTPSGATE_ADMIN_LISTEN": "%s:%d" % (self.host, self.admin_port),
            "FTPSGATE_ADMIN_TOKEN": TOKEN,
            # Cheaper argon2id keeps the suite quick; production uses the default.
            "FTPSGATE_ARGON2_M_COST_KIB": "4096",
            "FTPSGATE_ARGON2_T_COST": "1",
            # A transfer a test left hanging must not hold its stop long.
            "FTPSGATE_SHUTDOWN_GRACE_S": "2",
        })
        if TEST_PG and "FTPSGATE_DATABASE_URL" not in self.extra_env:
            e["FTPSGATE_DATABASE_URL"] = pg_url(pg_database_for(self.data_dir))
        if TEST_S3:
            e.update({k: v for k, v in S3.items() if k.startswith(("FTPSGATE_", "AWS_"))})
            e["FTPSGATE_STORAGE_URL"] = "s3://%s/%s" % (S3["FTPSGATE_STORAGE_URL"][5:].split("/", 1)[0],
                                                        self.s3_prefix())
            # the smallest parts S3 takes: a test's uploads span several
            e.setdefault("FTPSGATE_S3_PART_MIB", "5")
        e.update(self.extra_env)
        return e

    def s3_prefix(self):
        return s3_prefix_for(self.data_dir)

    def object_bytes(self, upload_id):
        """The bytes of an upload in object storage, read independently."""
        return s3_object("%s/%d" % (self.s3_prefix(), upload_id))

    def stored(self, upload_id):
        """An upload's bytes where the gateway keeps them (its file in the
        data directory, or its object), read past the gateway; None when
        there are none (not yet, or no longer)."""
        if STORAGE == "s3":
            return self.object_bytes(upload_id)
        try:
            with open(os.path.join(self.data_dir, "var", "uploads", str(upload_id)), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def kept_bytes(self, upload_id):
        """How many bytes of a partial upload are kept for a resume: its
        file's size, or its confirmed parts from the first on."""
        if STORAGE == "file":
            return os.path.getsize(os.path.join(self.data_dir, "var", "uploads", str(upload_id)))
        kept, want = 0, 1
        for number, size in self.records_sql("SELECT number, size FROM upload_parts"
                                             " WHERE upload_id = ? ORDER BY number", (upload_id,)):
            if int(number) != want:
                break  # a gap: what follows is sent again on resume
            kept += int(size)
            want += 1
        return kept

    def top_names(self, account_id):
        """The names at the top of an account's files, past the gateway."""
        if STORAGE == "file":
            return os.listdir(os.path.join(self.data_dir, "var", "accounts", str(account_id)))
        if BACKEND == "sqlite":
            sql = "SELECT CAST(name AS TEXT) FROM names WHERE account_id = ? AND hex(parent) = '2F'"
        else:
            sql = "SELECT convert_from(name, 'UTF8') FROM names WHERE account_id = ? AND parent = '\\x2f'"
        return [r[0] for r in self.records_sql(sql, (account_id,))]

    def start(self, timeout=20, healthy=True):
        """Started once the API answers /health (with 200 unless not
        healthy: a dependency down is what the test is about)."""
        for attempt in range(3):
            try:
                return self._start(timeout, healthy)
            except PortTaken:
                # a port chosen free was taken before the daemon bound it
                # (tests run in parallel): choose again
                self.ftps_port, self.admin_port = free_port(), free_port()
        return self._start(timeout, healthy)

    def _start(self, timeout, healthy=True):
        self.log = open(self.log_path, "ab")
        since = self.log.tell()  # this start's lines, not an earlier one's
        self.proc = subprocess.Popen([BIN], env=self.env(), stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        # (daemon.ready is an info line: at a quieter log level, as the
        # benchmarks run it, the API's answer has to do)
        quiet = self.env().get("FTPSGATE_LOG_LEVEL", "info") not in ("info", "debug")
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                logs = self.logs()
                own_ports = not {"FTPSGATE_FTPS_LISTEN", "FTPSGATE_ADMIN_LISTEN"} & set(self.extra_env)
                last = logs.strip().splitlines()[-1] if logs.strip() else ""
                if own_ports and "Address already in use" in last:
                    self.proc = None
                    raise PortTaken()
                raise RuntimeError("ftpsgate exited %d:\n%s" % (self.proc.returncode, logs))
            try:
                # Started means ready: the API answers as soon as it is
                # up, before the daemon has become its user (daemon.ready
                # comes after that).
                if self.api("GET", "/health", auth=False)[0] in ((200,) if healthy else (200, 503)) \
                        and (quiet or self.ready(since)):
                    with socket.create_connection((self.host, self.ftps_port), 1):
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise RuntimeError("ftpsgate did not start:\n" + self.logs())

    def stop(self):
        if self.proc and self.proc.poll() is not None:
            # It died on its own: show why (sanitizer reports land here).
            import sys
            sys.stderr.write("ftpsgate exited by itself with %d; its log:\n%s\n"
                             % (self.proc.returncode, self.logs()[-20000:]))
        code = 0
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = "a hang on SIGTERM"
        if self.proc:
            self.log.close()
        self.proc = None
        if code != 0:
            # A clean stop exits 0; anything else (a sanitizer's leak
            # report, a crash at shutdown) fails the test that stopped it.
            raise AssertionError("ftpsgate stopped with %s; its log:\n%s"
                                 % (code, self.logs()[-20000:]))

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        self.proc = None

    def cleanup(self):
        self.stop()
        if self.own_dir and not os.environ.get("FTPSGATE_KEEP"):
            name_file = os.path.join(self.data_dir, "pg-database")
            if TEST_PG and os.path.exists(name_file):
                with open(name_file) as f:
                    pg_admin("DROP DATABASE IF EXISTS %s WITH (FORCE)" % f.read().strip())
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def records_sql(self, sql, params=()):
        """Run one statement on this gateway's records database, whichever
        backend holds them; `?` marks each parameter (int, str or None).
        Returns the rows as tuples of strings (None for NULL)."""
        if BACKEND == "sqlite":
            db = sqlite3.connect(os.path.join(self.data_dir, "var", "ftpsgate.db"), timeout=30)
            try:
                with db:
                    rows = db.execute(sql, params).fetchall()
            finally:
                db.close()
            return [tuple(None if v is None else str(v) for v in r) for r in rows]
        parts = sql.split("?")
        if len(parts) != len(params) + 1:
            raise ValueError("%d parameters for %r" % (len(params), sql))
        text = parts[0]
        for value, rest in zip(params, parts[1:]):
            if value is None:
                text += "NULL"
            elif isinstance(value, int):
                text += str(int(value))
            else:
                text += "'" + str(value).replace("'", "''") + "'"
            text += rest
        out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\x1f", "-v", "ON_ERROR_STOP=1",
                              "--pset=null=\x1e", pg_url(pg_database_for(self.data_dir)),
                              "-c", text], capture_output=True, timeout=60)
        if out.returncode:
            raise RuntimeError("psql %r: %s" % (text, out.stderr.decode(errors="replace")))
        rows = out.stdout.decode(errors="surrogateescape").splitlines()
        return [tuple(None if v == "\x1e" else v for v in r.split("\x1f")) for r in rows]

    def hold_upload_writes(self):
        """Another client holds the records' write lock on uploads (a
        backup tool, an admin's shell) until the returned function is
        called: reads go on, writes wait their timeout and fail."""
        if BACKEND == "sqlite":
            db = sqlite3.connect(os.path.join(self.data_dir, "var", "ftpsgate.db"), timeout=10,
                                 isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")

            def release():
                db.execute("COMMIT")
                db.close()
            return release
        proc = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                                 pg_url(pg_database_for(self.data_dir))],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        proc.stdin.write("BEGIN; LOCK TABLE uploads IN EXCLUSIVE MODE; SELECT 'held';\n")
        proc.stdin.flush()
        if proc.stdout.readline().strip() != "held":
            raise RuntimeError("psql could not lock the uploads table")

        def release_pg():
            proc.stdin.write("COMMIT;\n")
            proc.stdin.close()
            proc.wait(30)
        return release_pg

    # What the gateway logs when a write met the lock above.
    LOCKED_MESSAGE = {"sqlite": "database is locked",
                      "postgresql": "canceling statement due to"}[BACKEND]

    def records_bytes(self):
        """Everything the records database holds, as bytes: the SQLite file
        (and its log), or a dump of the PostgreSQL database."""
        if BACKEND == "sqlite":
            data = b""
            for name in ("ftpsgate.db", "ftpsgate.db-wal"):
                path = os.path.join(self.data_dir, "var", name)
                if os.path.exists(path):
                    with open(path, "rb") as f:
                        data += f.read()
            return data
        out = subprocess.run(["pg_dump", "--no-owner", pg_url(pg_database_for(self.data_dir))],
                             capture_output=True, timeout=120, check=True)
        return out.stdout

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def ready(self, since):
        with open(self.log_path, "rb") as f:
            f.seek(since)
            return b'"daemon.ready"' in f.read()

    def cpu_seconds(self):
        """User and system CPU time the daemon has spent so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def logs(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @property
    def admin_url(self):
        scheme = "http" if self.env().get("FTPSGATE_ADMIN_PLAIN_HTTP") == "true" else "https"
        return "%s://%s:%d/api/v1" % (scheme, self.host, self.admin_port)

    def api(self, method, path, body=None, auth=True, token=TOKEN, raw=None,
            content_type="application/json"):
        """(status, parsed JSON or None, headers)"""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.admin_url + path, data=data, method=method)
        if auth:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None and content_type:
            req.add_header("Content-Type", content_type)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                text = r.read()
                headers = r.headers
                is_json = "json" in (headers.get("Content-Type") or "")
                doc = (json.loads(text) if is_json else text.decode()) if text else None
                status = r.status
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                doc = json.loads(text)
            except ValueError:
                doc = None
            status, headers = e.code, e.headers
        openapi_check(method, path, status, headers, doc)
        return status, doc, headers

    def open_events(self, query="", last_event_id=None, token=TOKEN):
        """Start GET /events; returns (response, connection). Read events
        with read_event()."""
        import http.client
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(self.host, self.admin_port, context=ctx, timeout=30)
        headers = {"Authorization": "Bearer " + token}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        conn.request("GET", "/api/v1/events" + query, headers=headers)
        return conn.getresponse(), conn

    @staticmethod
    def read_event(resp):
        """The next event as (id, event, data dict); comments skipped."""
        ev = {}
        while True:
            line = resp.fp.readline().decode()
            if not line:
                raise EOFError("event stream ended")
            line = line.rstrip("\n")
            if line == "":
                if "event" in ev or "data" in ev:
                    data = json.loads(ev["data"]) if "data" in ev else None
                    return ev.get("id"), ev.get("event"), data
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            ev[key] = value

    def create_account(self, **fields):
        # Most tests upload plaintext; the encryption tests ask for it.
        fields.setdefault("require_encryption", False)
        status, doc, _ = self.api("POST", "/accounts", fields)
        assert status == 201, (status, doc)
        return doc

    def uploads(self, **query):
        q = "&".join("%s=%s" % kv for kv in query.items())
        status, doc, _ = self.api("GET", "/uploads" + ("?" + q if q else ""))
        assert status == 200, (status, doc)
        return doc["items"]

    def metric(self, name):
        text = self.api("GET", "/metrics")[1]
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split(" ")[1])
        raise AssertionError("no metric %s in:\n%s" % (name, text))

    def wait_metric(self, name, value, timeout=10):
        deadline = time.time() + timeout
        while self.metric(name) != value and time.time() < deadline:
            time.sleep(0.05)
        assert self.metric(name) == value, (name, self.metric(name), value)

    def wait_upload(self, pred, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for u in self.uploads():
                if pred(u):
                    return u
            time.sleep(0.05)
        raise AssertionError("no matching upload in %r" % self.uploads())
